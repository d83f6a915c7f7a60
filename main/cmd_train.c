/*
 * cmd_train.c -- `flowgen train CONFIG [--resume | --overwrite] [--json]`: trains the
 * flow of the config's model and train sections on all ranks, and prints
 * what it reached (SPEC sections 3, 4 and 8).
 */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "flowgen/train.h"
#include "flowgen/util.h"

static void print_result(const fg_config *cfg, const fg_train_result *r, int json)
{
  const fg_train_config *tc = &cfg->train;
  if (json) {
    printf("{\"step\": %lld, \"stop_reason\": \"%s\", \"n_train\": %lld, \"loss\": %.9g, "
           "\"ess_model\": %.6f, \"ess_err\": %.6f, \"ess_samples\": %lld, "
           "\"cost\": {\"setup_s\": %.3f, \"train_s_per_sample\": %.6g, \"allreduce_s\": %.4f}, "
           "\"checkpoint\": ",
           (long long)r->step, r->stop_reason, (long long)r->n_train, r->loss, r->ess,
           r->ess_err, (long long)r->ess_samples, r->wall_seconds, r->seconds_per_sample,
           r->allreduce_seconds);
    fg_json_string(stdout, tc->checkpoint);
    fputs(", \"log\": ", stdout);
    fg_json_string(stdout, tc->log);
    fputs("}\n", stdout);
    return;
  }
  printf("flowgen train: %s\n", cfg->path);
  printf("  steps              %lld (stopped: %s)\n", (long long)r->step, r->stop_reason);
  printf("  N_train            %lld samples\n", (long long)r->n_train);
  printf("  final loss         %.6g\n", r->loss);
  if (r->ess >= 0)
    printf("  ESS (model, A7)    %.4f +- %.4f on %lld fresh samples\n", r->ess, r->ess_err,
           (long long)r->ess_samples);
  else
    printf("  ESS (model, A7)    not measured (stopped by signal; resume to finish)\n");
  printf("  C_setup            %.2f s\n", r->wall_seconds);
  printf("  Delta C_train      %.3g s per trained sample\n", r->seconds_per_sample);
  printf("  allreduce          %.3f s\n", r->allreduce_seconds);
  printf("  checkpoint         %s\n", tc->checkpoint);
  printf("  log                %s\n", tc->log);
}

int cmd_train(int argc, char **argv, volatile sig_atomic_t *stop_flag)
{
  fg_config cfg;
  command_flags fl;
  int rc = load_command_config_flags("train", argc, argv, &cfg, &fl);
  if (rc != FG_OK)
    return rc;
  const int resume = fl.resume, json = fl.json;
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  fg_output_lock *lock = NULL; /* one run per checkpoint (rank 0 holds it) */
  if ((rc = lock_outputs("train", rank == 0 ? cfg.train.checkpoint : NULL, 0, &lock)) != FG_OK) {
    fg_config_free(&cfg);
    return rc;
  }
  fg_train_options opt = {.comm = MPI_COMM_WORLD, .resume = resume, .stop_flag = stop_flag,
                          .progress = stderr};
  fg_train_result res;
  fg_error err = {0};
  rc = fg_train_run(&cfg, &opt, &res, &err);
  if (rc != FG_OK && err.msg[0])
    report_error(err.msg, 0); /* the same message on every rank (fg_agree) */
  else if (rank == 0) {
    print_result(&cfg, &res, json);
    if (strcmp(res.stop_reason, "signal") == 0)
      fprintf(stderr, "flowgen: stopped by signal at step %lld; checkpoint written, continue "
                      "with --resume\n", (long long)res.step);
  }
  fg_unlock_output(lock);
  fg_config_free(&cfg);
  return rc;
}
