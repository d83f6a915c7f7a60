/*
 * service.c -- the sampling service (see service.h): the session from the
 * library, and on it rank 0's coordinator loop and the other ranks' worker
 * loop. The top of the role layer: it depends on the library, the library
 * never on it.
 */
#include <string.h>

#include "flowgen/service.h"
#include "roles.h"

int fg_sample_run(const fg_config *cfg, const fg_sample_options *opt, fg_sample_result *res,
                  fg_error *err)
{
  memset(res, 0, sizeof *res);
  fg_sample_session *s = NULL;
  int rc = fg_sample_open(cfg, opt, &s, err);
  if (rc != FG_OK)
    return rc;
  int rank;
  MPI_Comm_rank(opt->comm, &rank);
  fg_sample_state st;
  fg_sample_session_state(s, &st);
  rc = rank == 0 ? fg_coordinator_run(s, opt, &st, err) : fg_worker_run(s, opt, err);
  return fg_sample_close(s, rc, &st, res, err);
}
