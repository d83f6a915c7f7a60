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
    fg_json j;
    fg_json_begin(&j, stdout);
    fg_json_object(&j, NULL);
    fg_json_int(&j, "step", (long long)r->step);
    fg_json_string(&j, "stop_reason", r->stop_reason);
    fg_json_int(&j, "n_train", (long long)r->n_train);
    fg_json_numberf(&j, "loss", "%.9g", r->loss);
    fg_json_numberf(&j, "ess_model", "%.6f", r->ess);
    fg_json_numberf(&j, "ess_err", "%.6f", r->ess_err);
    fg_json_int(&j, "ess_samples", (long long)r->ess_samples);
    fg_json_object(&j, "cost");
    fg_json_numberf(&j, "setup_s", "%.3f", r->wall_seconds);
    fg_json_numberf(&j, "train_s_per_sample", "%.6g", r->seconds_per_sample);
    fg_json_numberf(&j, "allreduce_s", "%.4f", r->allreduce_seconds);
    fg_json_end(&j);
    fg_json_string(&j, "checkpoint", tc->checkpoint);
    fg_json_string(&j, "log", tc->log);
    fg_json_end(&j);
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
