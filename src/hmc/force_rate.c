/*
 * force_rate.c -- throughput of a theory's force, the kernel that HMC's
 * cost is made of (contract in hmc.h). Local.
 *
 *   int fg_hmc_force_rate(const fg_theory *t, double min_seconds,
 *                         double *sites_per_second, fg_error *err)
 *     Lattice sites (ndof) per second of single-configuration force
 *     evaluations, timed over at least min_seconds of wall time.
 */
#include "flowgen/hmc.h"
#include "flowgen/util.h"

int fg_hmc_force_rate(const fg_theory *t, double min_seconds, double *sites_per_second,
                      fg_error *err)
{
  static const char where[] = "fg_hmc_force_rate [force_rate.c]";
  const size_t n = (size_t)fg_theory_ndof(t);
  double *phi = fg_alloc(sizeof(double) * n, err, where);
  double *force = fg_alloc(sizeof(double) * n, err, where);
  if (phi == NULL || force == NULL) {
    fg_free(phi);
    fg_free(force);
    return FG_ERR_RUNTIME;
  }
  /* The force's cost does not depend on the values; these are O(1) and
   * varied so that nothing is constant-folded or denormal. */
  for (size_t i = 0; i < n; ++i)
    phi[i] = 0.1 * (double)(i % 13) - 0.6;
  fg_theory_force(t, phi, 1, force); /* warm the caches and the page tables */

  /* Double the repetitions until one batch lasts long enough to time. */
  long reps = 1;
  double elapsed;
  for (;;) {
    double t0 = fg_wall_time();
    for (long k = 0; k < reps; ++k)
      fg_theory_force(t, phi, 1, force);
    elapsed = fg_wall_time() - t0;
    if (elapsed >= min_seconds || reps > (1L << 40))
      break;
    reps *= 2;
  }
  *sites_per_second = elapsed > 0.0 ? (double)reps * (double)n / elapsed : 0.0;
  fg_free(phi);
  fg_free(force);
  return FG_OK;
}
