/*
 * observables.c -- the observables a theory declares, measured on
 * configurations and analysed by the Gamma method (contracts in
 * analysis.h). Nothing here knows a particular theory. All local.
 *
 *   int fg_measure_primaries(const fg_theory *t, const double *configs, size_t nrow,
 *                            double *table, fg_error *err)
 *   int fg_analyze_observables(const fg_theory *t, const double *prim_series, size_t n,
 *                              double S, fg_obs_result *results, fg_error *err)
 *   int fg_chain_series(const double *table, size_t nrow, size_t ncol,
 *                       const int64_t *index, size_t nchain, double *series,
 *                       fg_error *err)
 */
#include "flowgen/analysis.h"

#include <stdio.h>

int fg_measure_primaries(const fg_theory *t, const double *configs, size_t nrow, double *table,
                         fg_error *err)
{
  fg_theory_obs *o = NULL;
  int rc = fg_theory_obs_create(t, &o, err);
  const size_t ndof = (size_t)fg_theory_ndof(t), nprim = (size_t)fg_theory_nprimaries(t);
  for (size_t r = 0; r < nrow && rc == FG_OK; ++r)
    fg_theory_obs_primaries(o, configs + r * ndof, 1, table + r * nprim);
  fg_theory_obs_destroy(o);
  return rc;
}

static void store(fg_obs_result *r, const char *name, const fg_gamma_result *g)
{
  snprintf(r->name, sizeof r->name, "%s", name);
  r->mean = g->value;
  r->err = g->err;
  r->err_err = g->err_err;
  r->tau_int = g->tau_int;
  r->tau_int_err = g->tau_int_err;
  r->window = g->window;
  r->flags = g->flags;
}

int fg_analyze_observables(const fg_theory *t, const double *prim_series, size_t n, double S,
                           fg_obs_result *results, fg_error *err)
{
  const fg_observable *obs;
  const int nobs = fg_theory_observables(t, &obs), nprim = fg_theory_nprimaries(t);
  for (int i = 0; i < nobs; ++i) {
    fg_gamma_result r;
    int rc = obs[i].primary >= 0
                 ? fg_gamma_mean(prim_series + (size_t)obs[i].primary * n, n, S, &r, err)
                 : fg_gamma_analyze(prim_series, nprim, n, obs[i].derived, (void *)t, S, &r, err);
    if (rc != FG_OK)
      return rc;
    store(&results[i], obs[i].name, &r);
  }
  return FG_OK;
}

int fg_chain_series(const double *table, size_t nrow, size_t ncol, const int64_t *index,
                    size_t nchain, double *series, fg_error *err)
{
  static const char where[] = "fg_chain_series [observables.c]";
  if (index == NULL && nchain > nrow)
    return fg_fail(err, FG_ERR_INPUT, where, "%zu chain steps but only %zu rows", nchain, nrow);
  for (size_t s = 0; s < nchain; ++s)
    if (index != NULL && (index[s] < 0 || (uint64_t)index[s] >= nrow))
      return fg_fail(err, FG_ERR_INPUT, where, "chain step %zu holds row %lld of %zu", s,
                     (long long)index[s], nrow);
  for (size_t s = 0; s < nchain; ++s) {
    size_t row = index != NULL ? (size_t)index[s] : s;
    for (size_t c = 0; c < ncol; ++c)
      series[c * nchain + s] = table[row * ncol + c];
  }
  return FG_OK;
}
