/*
 * cmd_compare.c -- `flowgen compare FLOW.h5 HMC.h5 [--json] [--window-s S]`:
 * a flow ensemble against an HMC ensemble of the same theory, side by side:
 * acceptance, tau_int per observable, ESS, seconds per configuration, setup
 * cost, effective samples per second and their ratio (SPEC sections 1 and
 * 8). One rank reads; the others return at once.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "flowgen/report.h"

int cmd_compare(int argc, char **argv)
{
  const char *path[2] = {NULL, NULL};
  int json = 0, n = 0;
  double S = 1.5;
  for (int i = 0; i < argc; ++i) {
    if (strcmp(argv[i], "--json") == 0)
      json = 1;
    else if (strcmp(argv[i], "--window-s") == 0 && i + 1 < argc)
      S = atof(argv[++i]);
    else if (argv[i][0] == '-' || n == 2) {
      char msg[256];
      snprintf(msg, sizeof msg, "compare: unexpected argument '%s'", argv[i]);
      report_error(msg, 0);
      return FG_ERR_INPUT;
    } else
      path[n++] = argv[i];
  }
  if (n != 2 || !(S > 0)) {
    report_error("usage: flowgen compare FLOW.h5 HMC.h5 [--json] [--window-s S>0]", 0);
    return FG_ERR_INPUT;
  }
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0)
    return FG_OK;
  fg_comparison *c = malloc(sizeof *c);
  if (c == NULL) {
    report_error("compare: out of memory", 0);
    return FG_ERR_RUNTIME;
  }
  fg_error err = {0};
  int rc = fg_compare_ensembles(path[0], path[1], S, c, &err);
  if (rc == FG_OK)
    fg_compare_print(stdout, c, json);
  else
    report_error(err.msg, 0);
  free(c);
  return rc;
}
