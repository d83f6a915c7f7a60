/*
 * cmd_sample.c -- `flowgen sample CONFIG [--resume | --overwrite] [--json]`:
 * the sampling service (SPEC sections 1 and 3): rank 0 coordinates, ranks
 * 1..N-1 draw proposals; with one rank one process does both. Rank 0 holds
 * the lock "<sample.output>.lock" for the whole run (a second writer is
 * refused, exit 2); --overwrite discards an interrupted "<output>.tmp" and
 * starts over (without it, an interrupted run is refused: --resume it).
 */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "flowgen/service.h"
#include "flowgen/util.h"

static void print_result(const fg_config *cfg, const fg_sample_result *r, int nranks, int json)
{
  const fg_sample_config *sc = &cfg->sample;
  double per = r->proposals > 0 ? r->wall_seconds / (double)r->proposals : 0.0;
  if (json) {
    fg_json j;
    fg_json_begin(&j, stdout);
    fg_json_object(&j, NULL);
    fg_json_int(&j, "proposals", (long long)r->proposals);
    fg_json_bool(&j, "complete", r->complete);
    fg_json_numberf(&j, "acceptance", "%.6f", r->acceptance);
    fg_json_numberf(&j, "ess_model", "%.6f", r->ess_model);
    fg_json_numberf(&j, "wall_s", "%.3f", r->wall_seconds);
    fg_json_numberf(&j, "cpu_s", "%.3f", r->cpu_seconds);
    fg_json_numberf(&j, "samp_s_per_config", "%.6g", per);
    fg_json_int(&j, "ranks", nranks);
    fg_json_string(&j, "output", sc->output);
    fg_json_end(&j);
    return;
  }
  printf("flowgen sample: %s (%d rank%s: %s)\n", cfg->path, nranks, nranks > 1 ? "s" : "",
         nranks > 1 ? "1 coordinator + workers" : "coordinator and worker in one");
  printf("  proposals          %lld of %lld%s\n", (long long)r->proposals,
         (long long)sc->proposals, r->complete ? "" : " (stopped; continue with --resume)");
  printf("  acceptance         %.4f\n", r->acceptance);
  printf("  ESS (model, A7)    %.4f over all proposals\n", r->ess_model);
  printf("  wall               %.2f s (%.3g s per proposal)\n", r->wall_seconds, per);
  printf("  CPU                %.2f s, all ranks\n", r->cpu_seconds);
  printf("  output             %s%s\n", sc->output, r->complete ? "" : ".tmp");
}

int cmd_sample(int argc, char **argv, volatile sig_atomic_t *stop_flag)
{
  fg_config cfg;
  command_flags flags;
  int rc = load_command_config_flags("sample", argc, argv, &cfg, &flags);
  if (rc != FG_OK)
    return rc;
  int rank, nranks;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  fg_output_lock *lock = NULL;
  rc = lock_outputs("sample", rank == 0 ? cfg.sample.output : NULL, flags.overwrite, &lock);
  if (rc != FG_OK) {
    fg_config_free(&cfg);
    return rc;
  }
  fg_sample_options opt = {.comm = MPI_COMM_WORLD, .resume = flags.resume, .stop_flag = stop_flag,
                           .progress = rank == 0 ? stderr : NULL};
  fg_sample_result res;
  fg_error err = {0};
  rc = fg_sample_run(&cfg, &opt, &res, &err);
  if (rc != FG_OK) {
    if (err.msg[0])
      report_error(err.msg, 0); /* the same message on every rank (fg_agree) */
  } else if (rank == 0) {
    print_result(&cfg, &res, nranks, flags.json);
    if (!res.complete)
      fprintf(stderr, "flowgen: stopped by signal after %lld proposals; state flushed, "
                      "continue with --resume\n", (long long)res.proposals);
  }
  fg_unlock_output(lock);
  fg_config_free(&cfg);
  return rc;
}
