/*
 * agree.c -- every rank of a communicator ends with the same status (see
 * util.h). The one place flowgen agrees a status across ranks.
 *
 *   int fg_agree(MPI_Comm comm, int rc, fg_error *err)
 *     Collective. Returns FG_OK if rc == FG_OK on every rank; otherwise the
 *     worst (lowest) code of any rank, on every rank, and every rank's err
 *     holds the code and the message of the lowest rank that had it (err
 *     may be NULL). The same message everywhere: whichever rank reports
 *     names the real cause, and agreeing twice changes nothing. One rank:
 *     rc as it is, no MPI call. FG_ERR_RUNTIME if MPI itself fails.
 */
#include <string.h>

#include "flowgen/util.h"

int fg_agree(MPI_Comm comm, int rc, fg_error *err)
{
  static const char where[] = "fg_agree [agree.c]";
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  if (size == 1)
    return rc;
  int mine[2] = {rc, rank}, worst[2];
  if (MPI_Allreduce(mine, worst, 1, MPI_2INT, MPI_MINLOC, comm) != MPI_SUCCESS)
    return fg_fail(err, FG_ERR_RUNTIME, where, "MPI_Allreduce failed");
  if (worst[0] == FG_OK)
    return FG_OK;
  char msg[sizeof err->msg] = "";
  if (rank == worst[1] && err != NULL)
    memcpy(msg, err->msg, sizeof msg);
  if (MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, worst[1], comm) != MPI_SUCCESS)
    return fg_fail(err, FG_ERR_RUNTIME, where, "MPI_Bcast failed");
  msg[sizeof msg - 1] = '\0';
  if (err != NULL) {
    err->code = worst[0];
    memcpy(err->msg, msg, sizeof msg);
  }
  return worst[0];
}
