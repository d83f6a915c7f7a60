/*
 * cmd_hmc.c -- `flowgen hmc CONFIG [--resume | --overwrite] [--json]`: the
 * serial HMC baseline (SPEC sections 1, 3 and 4). One rank runs one chain;
 * R ranks run R independent chains (stream_id = rank), one file each. Each
 * rank holds the lock "<its file>.lock" for the whole run (a second writer
 * is refused, exit 2); --overwrite discards an interrupted "<file>.tmp" and
 * starts over (without it, an interrupted run is refused: --resume it).
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "flowgen/hmc.h"
#include "flowgen/util.h"

/* The figures of one rank's chain, as rank 0 collects them. */
enum { F_TRAJ, F_THERM, F_COMPLETE, F_ACC, F_EXP_MDH, F_WALL, F_CPU, F_THERM_WALL, F_FORCES,
       F_SOLVER, F_CG_SOLVES, F_CG_ITS, F_CG_MOST, F_LEN };

static void figures(const fg_hmc_result *r, double *f)
{
  f[F_TRAJ] = (double)r->trajectories;
  f[F_THERM] = (double)r->thermalized;
  f[F_COMPLETE] = r->complete;
  f[F_ACC] = r->acceptance;
  f[F_EXP_MDH] = r->exp_minus_dH;
  f[F_WALL] = r->wall_seconds;
  f[F_CPU] = r->cpu_seconds;
  f[F_THERM_WALL] = r->thermalization_seconds;
  f[F_FORCES] = (double)r->force_evaluations;
  f[F_SOLVER] = r->has_solver;
  f[F_CG_SOLVES] = (double)r->cg_solves;
  f[F_CG_ITS] = (double)r->cg_iterations;
  f[F_CG_MOST] = r->cg_most;
}

static double per_solve(const double *f)
{
  return f[F_CG_SOLVES] > 0 ? f[F_CG_ITS] / f[F_CG_SOLVES] : 0.0;
}

static void print_json(const fg_config *cfg, const double *all, int nranks)
{
  fg_json j;
  fg_json_begin(&j, stdout);
  fg_json_object(&j, NULL);
  fg_json_string(&j, "integrator", fg_integrator_name(cfg->hmc.integrator));
  fg_json_numberf(&j, "trajectory_length", "%.6g", cfg->hmc.trajectory_length);
  fg_json_int(&j, "md_steps", cfg->hmc.md_steps);
  fg_json_int(&j, "ranks", nranks);
  fg_json_array(&j, "streams");
  for (int k = 0; k < nranks; ++k) {
    const double *f = all + k * F_LEN;
    char out[FG_PATH_MAX];
    fg_hmc_output_path(cfg->hmc.output, k, nranks, out, sizeof out);
    fg_json_object(&j, NULL);
    fg_json_int(&j, "stream_id", k);
    fg_json_numberf(&j, "trajectories", "%.0f", f[F_TRAJ]);
    fg_json_numberf(&j, "thermalized", "%.0f", f[F_THERM]);
    fg_json_bool(&j, "complete", f[F_COMPLETE] != 0);
    fg_json_numberf(&j, "acceptance", "%.6f", f[F_ACC]);
    fg_json_numberf(&j, "exp_minus_dH", "%.6f", f[F_EXP_MDH]);
    fg_json_numberf(&j, "wall_s", "%.3f", f[F_WALL]);
    fg_json_numberf(&j, "cpu_s", "%.3f", f[F_CPU]);
    fg_json_numberf(&j, "thermalization_s", "%.3f", f[F_THERM_WALL]);
    fg_json_numberf(&j, "force_evaluations", "%.0f", f[F_FORCES]);
    if (f[F_SOLVER] != 0) {
      fg_json_numberf(&j, "cg_solves", "%.0f", f[F_CG_SOLVES]);
      fg_json_numberf(&j, "cg_iterations", "%.0f", f[F_CG_ITS]);
      fg_json_numberf(&j, "cg_iterations_per_solve", "%.2f", per_solve(f));
      fg_json_numberf(&j, "cg_max_iterations", "%.0f", f[F_CG_MOST]);
    }
    fg_json_string(&j, "output", out);
    fg_json_end(&j);
  }
  fg_json_end(&j);
  fg_json_end(&j);
}

static void print_table(const fg_config *cfg, const double *all, int nranks)
{
  const fg_hmc_config *h = &cfg->hmc;
  printf("flowgen hmc: %s (%d independent stream%s)\n", cfg->path, nranks, nranks > 1 ? "s" : "");
  printf("  integrator         %s, tau %.4g in %d steps (eps %.4g)\n",
         fg_integrator_name(h->integrator), h->trajectory_length, h->md_steps,
         h->trajectory_length / h->md_steps);
  if (cfg->theory.name == FG_THEORY_SCHWINGER && cfg->theory.kappa > 0.0) {
    if (h->fermions == FG_FERMIONS_PSEUDOFERMION)
      printf("  fermions           one pseudofermion field, CG to %.3g (at most %d iterations)\n",
             h->cg_tolerance, h->cg_max_iterations);
    else
      printf("  fermions           exact determinant (LU of D at every force)\n");
  }
  for (int k = 0; k < nranks; ++k) {
    const double *f = all + k * F_LEN;
    char out[FG_PATH_MAX];
    fg_hmc_output_path(h->output, k, nranks, out, sizeof out);
    if (nranks > 1)
      printf("  stream %d\n", k);
    printf("  trajectories       %.0f of %lld stored after %.0f of %lld thermalising%s\n",
           f[F_TRAJ], (long long)h->trajectories, f[F_THERM], (long long)h->thermalization,
           f[F_COMPLETE] != 0 ? "" : " (stopped; continue with --resume)");
    printf("  acceptance         %.4f   <exp(-dH)> %.4f\n", f[F_ACC], f[F_EXP_MDH]);
    printf("  wall               %.2f s stored (%.3g s per trajectory), %.2f s thermalising\n",
           f[F_WALL], f[F_TRAJ] > 0 ? f[F_WALL] / f[F_TRAJ] : 0.0, f[F_THERM_WALL]);
    printf("  CPU                %.2f s stored; %.0f force evaluations\n", f[F_CPU],
           f[F_FORCES]);
    if (f[F_SOLVER] != 0)
      printf("  CG                 %.0f solves, %.1f iterations per solve (at most %.0f)\n",
             f[F_CG_SOLVES], per_solve(f), f[F_CG_MOST]);
    printf("  output             %s%s\n", out, f[F_COMPLETE] != 0 ? "" : ".tmp");
  }
}

int cmd_hmc(int argc, char **argv, volatile sig_atomic_t *stop_flag)
{
  fg_config cfg;
  command_flags flags;
  int rc = load_command_config_flags("hmc", argc, argv, &cfg, &flags);
  if (rc != FG_OK)
    return rc;
  int rank, nranks;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  fg_output_lock *lock = NULL;
  char mine_path[FG_PATH_MAX];
  fg_hmc_output_path(cfg.hmc.output, rank, nranks, mine_path, sizeof mine_path);
  rc = lock_outputs("hmc", mine_path, flags.overwrite, &lock);
  if (rc != FG_OK) {
    fg_config_free(&cfg);
    return rc;
  }
  fg_hmc_options opt = {.comm = MPI_COMM_WORLD, .resume = flags.resume, .stop_flag = stop_flag,
                        .progress = rank == 0 ? stderr : NULL};
  fg_hmc_result res;
  fg_error err = {0};
  rc = fg_hmc_run(&cfg, &opt, &res, &err);
  if (rc != FG_OK) {
    if (err.msg[0])
      report_error(err.msg, 0); /* the same message on every rank (fg_agree) */
    fg_unlock_output(lock);
    fg_config_free(&cfg);
    return rc;
  }
  double mine[F_LEN];
  figures(&res, mine);
  /* rank 0 reports every stream; with no memory for that, its own */
  double *all = rank == 0 ? malloc(sizeof(double) * F_LEN * (size_t)nranks) : NULL;
  int gathered = rank != 0 || all != NULL;
  MPI_Bcast(&gathered, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (gathered)
    MPI_Gather(mine, F_LEN, MPI_DOUBLE, all, F_LEN, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  if (rank == 0) {
    int shown = gathered ? nranks : 1;
    const double *f = gathered ? all : mine;
    if (flags.json)
      print_json(&cfg, f, shown);
    else
      print_table(&cfg, f, shown);
    int stopped = 0;
    for (int k = 0; k < shown; ++k)
      stopped |= f[k * F_LEN + F_COMPLETE] == 0.0;
    if (stopped)
      fprintf(stderr, "flowgen: hmc stopped by signal; state flushed, continue with --resume\n");
  }
  free(all);
  fg_unlock_output(lock);
  fg_config_free(&cfg);
  return rc;
}
