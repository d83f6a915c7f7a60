/*
 * bench_hmc.c -- throughput of the HMC baseline on 2D phi^4 (hmc.h).
 *
 * For L x L lattices (L = 8, 16, 64, and 1024 to leave the caches) prints
 * the force rate in lattice sites per second (fg_hmc_force_rate), the
 * memory bandwidth that rate implies, and whole default trajectories per
 * second (leapfrog, tau = 1, n = 10: 11 forces, 2 actions, the MD updates).
 *
 * Bytes per site per force evaluation (the compulsory traffic of the
 * single-configuration phi^4 force, neighbours' values assumed to hit the
 * cache): phi(x) read 8 + dS(x) written 8 + the up and down neighbour
 * tables 2 d x 4 (int) = 32 B in 2D. Write-allocate of dS would add 8 more.
 * For L <= 64 the working set (<= 160 KB) sits in L1/L2, so the "bandwidth"
 * there is cache bandwidth; L = 1024 (40 MB) is the DRAM-bound case.
 *
 * Usage: bench_hmc [seconds per measurement, default 0.3]
 * Build (from the project root), e.g.:
 *   gcc -std=gnu11 -O2 -D_GNU_SOURCE -Iinclude bench/bench_hmc.c src/hmc/hmc.c \
 *       src/hmc/force_rate.c src/theory/theory.c src/theory/phi4.c \
 *       src/lattice/lattice.c src/rng/rng.c src/util/error.c \
 *       src/util/timer.c src/config/names.c -lm -o bench_hmc
 * Run on one core: taskset -c 0 ./bench_hmc
 */
#include <stdio.h>
#include <stdlib.h>

#include "flowgen/hmc.h"
#include "flowgen/theory.h"
#include "flowgen/util.h"

static double force_bytes_per_site(const fg_theory *t)
{
  return 2.0 * sizeof(double) + 2.0 * fg_theory_lattice(t)->nd * sizeof(int);
}

/* Default trajectories per second, timed for at least `seconds`. */
static int trajectory_rate(const fg_theory *t, double seconds, double *rate, fg_error *err)
{
  fg_hmc_params p = {.trajectory_length = 1.0, .md_steps = 10,
                     .integrator = FG_INTEGRATOR_LEAPFROG};
  fg_hmc *h;
  int rc = fg_hmc_create(t, &p, &h, err);
  if (rc != FG_OK)
    return rc;
  double *phi = fg_alloc(sizeof(double) * (size_t)fg_theory_ndof(t), err, "trajectory_rate");
  if (phi == NULL) {
    fg_hmc_destroy(h);
    return FG_ERR_RUNTIME;
  }
  fg_hmc_outcome o;
  int64_t k = 0;
  double t0 = fg_wall_time(), el;
  do {
    fg_hmc_trajectory(h, phi, 1, 0, k++, &o);
    el = fg_wall_time() - t0;
  } while (el < seconds);
  *rate = (double)k / el;
  fg_free(phi);
  fg_hmc_destroy(h);
  return FG_OK;
}

int main(int argc, char **argv)
{
  double seconds = argc > 1 ? atof(argv[1]) : 0.3;
  if (!(seconds > 0)) {
    fprintf(stderr, "usage: bench_hmc [seconds per measurement > 0]\n");
    return 2;
  }
  static const int sizes[] = {8, 16, 64, 1024};
  printf("# 2D phi^4 force (lanes = 1, double), %.2f s per measurement\n", seconds);
  printf("%6s %10s %12s %9s %8s %10s %12s\n", "L", "sites", "force_site/s", "ns/site", "B/site",
         "GB/s", "traj/s(n=10)");
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; ++i) {
    fg_theory_config c = {.name = FG_THEORY_PHI4, .nd = 2, .extent = {sizes[i], sizes[i]},
                          .m2 = -4.0, .lambda = 2.0};
    fg_theory *t;
    fg_error err;
    double rate, traj;
    if (fg_theory_create(&c, &t, &err) != FG_OK ||
        fg_hmc_force_rate(t, seconds, &rate, &err) != FG_OK ||
        trajectory_rate(t, seconds, &traj, &err) != FG_OK) {
      fprintf(stderr, "bench_hmc: %s\n", err.msg);
      return 1;
    }
    double bps = force_bytes_per_site(t);
    printf("%6d %10d %12.4g %9.3f %8.0f %10.2f %12.4g\n", sizes[i], fg_theory_ndof(t), rate, 1e9 / rate,
           bps, bps * rate * 1e-9, traj);
    fg_theory_destroy(t);
  }
  return 0;
}
