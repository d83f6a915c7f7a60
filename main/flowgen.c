/*
 * flowgen.c -- the flowgen program: MPI set-up, signal flags, and dispatch
 * to the subcommands (SPEC section 3). Exit status: 0 success, 2 bad input,
 * 1 runtime failure.
 */
#include <cblas.h>
#include <errno.h>
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "flowgen/error.h"
#include "flowgen_build.h"

static volatile sig_atomic_t stop_requested; /* written only by the signal handler */

static void on_stop_signal(int sig)
{
  (void)sig;
  stop_requested = 1;
}

static void usage(FILE *out)
{
  fprintf(out,
          "usage: flowgen COMMAND [ARGS]\n"
          "\n"
          "commands:\n"
          "  train CONFIG [--resume | --overwrite] [--json]\n"
          "                                     train a flow (any number of MPI ranks)\n"
          "  sample CONFIG [--resume] [--json]  ensemble from a trained flow (rank 0 coordinates)\n"
          "  hmc CONFIG [--resume] [--json]     HMC ensemble (more ranks: one stream and file each)\n"
          "                                     sample, hmc: --overwrite discards an interrupted .tmp\n"
          "  compare FLOW.h5 HMC.h5 [--json]    flow against HMC: effective samples per second\n"
          "  analyze FILE.h5 [--json] [--window-s S] [--validate HMC.h5 [--model CKPT]]\n"
          "                                     observables, errors, tau_int, ESS, costs\n"
          "  info FILE.h5 [--json]              what a checkpoint or ensemble holds, with provenance\n"
          "  verify FILE.h5 [--json]            check an ensemble's row checksums and actions\n"
          "  bench CONFIG [--json] [--batch N] [--seconds T]\n"
          "                                     kernel and throughput figures on one core\n"
          "  version                            print the version\n"
          "\n"
          "Exit status: 0 success, 2 bad input, 1 runtime failure. See docs/user-guide.md.\n");
}

void report_error(const char *message, int all_ranks)
{
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0 || all_ranks)
    fprintf(stderr, "flowgen: %s\n", message);
}

static int dispatch(int argc, char **argv)
{
  const char *cmd = argv[1];
  if (strcmp(cmd, "train") == 0)
    return cmd_train(argc - 2, argv + 2, &stop_requested);
  if (strcmp(cmd, "sample") == 0)
    return cmd_sample(argc - 2, argv + 2, &stop_requested);
  if (strcmp(cmd, "hmc") == 0)
    return cmd_hmc(argc - 2, argv + 2, &stop_requested);
  if (strcmp(cmd, "compare") == 0)
    return cmd_compare(argc - 2, argv + 2);
  if (strcmp(cmd, "analyze") == 0)
    return cmd_analyze(argc - 2, argv + 2);
  if (strcmp(cmd, "info") == 0)
    return cmd_info(argc - 2, argv + 2);
  if (strcmp(cmd, "verify") == 0)
    return cmd_verify(argc - 2, argv + 2);
  if (strcmp(cmd, "bench") == 0)
    return cmd_bench(argc - 2, argv + 2, &stop_requested);
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
    printf("flowgen %s (git %s)\n", FLOWGEN_VERSION, FLOWGEN_GIT_REVISION);
    return FG_OK;
  }
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
    usage(stdout);
    return FG_OK;
  }
  char msg[256];
  snprintf(msg, sizeof msg, "unknown command '%s' (try 'flowgen help')", cmd);
  report_error(msg, 0);
  return FG_ERR_INPUT;
}

/* SIGTERM and SIGUSR1 only set the stop flag. Installed first thing in main,
 * before MPI_Init (which takes a few tenths of a second), so that a signal
 * at any moment is a stop request, never the default action that kills the
 * process; installed again after MPI_Init in case the MPI library replaced
 * them. */
static void install_stop_handlers(void)
{
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sa.sa_flags = SA_RESTART; /* slow I/O calls resume instead of failing with EINTR */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
}

/* Results go to stdout (tables, CSV, JSON); a full disk or a closed pipe
 * there must not pass as success. */
static int stdout_written(int rc)
{
  if (fflush(stdout) == 0 && !ferror(stdout))
    return rc;
  int e = errno;
  fprintf(stderr, "flowgen: cannot write the results to standard output: %s\n", strerror(e));
  return rc != FG_OK ? rc : FG_ERR_RUNTIME;
}

int main(int argc, char **argv)
{
  install_stop_handlers();
  if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
    fprintf(stderr, "flowgen: MPI_Init failed\n");
    return 1;
  }
  install_stop_handlers();
  openblas_set_num_threads(1); /* one thread per rank: ranks are the parallelism */
  int rc;
  if (argc < 2) {
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0)
      usage(stderr);
    rc = FG_ERR_INPUT;
  } else {
    rc = dispatch(argc, argv);
  }
  rc = stdout_written(rc);
  MPI_Finalize();
  return fg_exit_status(rc);
}
