/*
 * service.c -- the sampling service (see service.h): the session from the
 * library, and on it rank 0's coordinator loop and the other ranks' worker
 * loop. The top of the role layer: it depends on the library, the library
 * never on it. fg_sample_run_hooked (hooks.h) is the benchmark mode's
 * door: the same loops with another draw, window or statistics.
 */
#include <string.h>

#include "flowgen/service.h"
#include "roles.h"

int fg_sample_run_hooked(const fg_config *cfg, const fg_sample_options *opt,
                         const fg_service_hooks *hooks, fg_sample_result *res, fg_error *err)
{
  static const fg_service_hooks none = {0};
  if (hooks == NULL)
    hooks = &none;
  memset(res, 0, sizeof *res);
  fg_sample_session *s = NULL;
  int rc = fg_sample_open(cfg, opt, &s, err);
  if (rc != FG_OK)
    return rc;
  int rank;
  MPI_Comm_rank(opt->comm, &rank);
  fg_sample_state st;
  fg_sample_session_state(s, &st);
  rc = rank == 0 ? fg_coordinator_run(s, opt, hooks, &st, err)
                 : fg_worker_run(s, opt, hooks, err);
  return fg_sample_close(s, rc, &st, res, err);
}

int fg_sample_run(const fg_config *cfg, const fg_sample_options *opt, fg_sample_result *res,
                  fg_error *err)
{
  return fg_sample_run_hooked(cfg, opt, NULL, res, err);
}
