/*
 * outputs.c -- ownership of a command's outputs (see commands.h).
 *
 *   int lock_outputs(const char *command, const char *output, int overwrite,
 *                    fg_output_lock **lock)
 *     Every rank that passes an output (others pass NULL) takes the lock of
 *     "<output>.lock" (fg_lock_output) before anything is written; with
 *     overwrite it then discards an interrupted "<output>.tmp" (saying so).
 *     A stale lock taken over is reported on stderr. Collective over
 *     MPI_COMM_WORLD: the worst status of all ranks is returned everywhere,
 *     and a rank that holds a lock releases it when the status is not FG_OK.
 *     Errors are printed by the rank that met them.
 */
#include <errno.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "flowgen/util.h"

int lock_outputs(const char *command, const char *output, int overwrite, fg_output_lock **lock)
{
  fg_error err = {0};
  char note[FG_PATH_MAX + 128];
  int rc = FG_OK;
  *lock = NULL;
  if (output != NULL) {
    rc = fg_lock_output(output, lock, note, sizeof note, &err);
    if (rc == FG_OK && note[0] != '\0')
      fprintf(stderr, "flowgen: %s: %s\n", command, note);
    if (rc != FG_OK)
      fprintf(stderr, "flowgen: %s\n", err.msg);
  }
  if (rc == FG_OK && output != NULL && overwrite) {
    char tmp[FG_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", output);
    if (unlink(tmp) == 0)
      fprintf(stderr, "flowgen: %s: --overwrite: discarded the interrupted '%s'\n", command, tmp);
    else if (errno != ENOENT) {
      fprintf(stderr, "flowgen: %s: --overwrite: cannot remove '%s': %s\n", command, tmp,
              strerror(errno));
      rc = FG_ERR_RUNTIME;
    }
  }
  int worst = fg_agree(MPI_COMM_WORLD, rc, NULL); /* each rank printed its own */
  if (worst != FG_OK) {
    fg_unlock_output(*lock);
    *lock = NULL;
  }
  return worst;
}

/* "--overwrite" taken out of argv (the rest keeps its order); returns the
 * new argc and sets *overwrite. */
