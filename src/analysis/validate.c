/*
 * validate.c -- the target-sample ESS (seed eq. A8) of a flow, measured on
 * configurations drawn from the target itself (an HMC ensemble), for
 * `flowgen analyze FLOW.h5 --validate HMC.h5` (see report.h). Local.
 *
 *   int fg_report_validate(const char *flow_path, const char *target_path,
 *                          const char *model_path, double S, fg_validation *v,
 *                          fg_error *err)
 *     Loads both ensembles, checks that they sample the same theory (name,
 *     lattice, couplings, from their config attributes), reads the flow's
 *     checkpoint (model_path, or the flow file's "model" attribute when
 *     NULL; refused when its SHA-256 differs from the file's
 *     "model_sha256"), builds the flow on the target's lattice and
 *     evaluates log q of every target configuration through the inverse
 *     pass (fg_model_logq, FG_VLEN configurations per block; with
 *     model.symmetry z2 the symmetrised log q).
 *     With log w = -S - log q on the target's chain (N steps):
 *       ESS_target = N^2 / (sum w  sum 1/w)           (eq. A8, log space),
 *       ESS_model  = (sum w)^2 / (n sum w^2)          (eq. A7, flow file's
 *                                                      proposals, n of them).
 *     Both estimate 1 / integral(p^2 / q); they differ when q misses part of
 *     p (mode collapse: the flow's own samples never see what it misses, so
 *     ESS_model stays high while ESS_target drops). Errors: the Gamma method
 *     on the derived quantities F(a, b) = 1 / (a b) of the target chain's
 *     series a = w e^-c, b = e^c / w (c centres log w; the chain's
 *     autocorrelation is taken into account) and F = a^2 / b of the
 *     proposals' series a = w, b = w^2. z = (ESS_model - ESS_target) /
 *     (combined error + 1e-9, a floor for rounding); |z| > 3 sets
 *     disagree, z > 3 mode_collapse. Where the weight is: the
 *     FG_HEAVY_FRACTION (1%) of the target's configurations of largest
 *     log w, their median log w above the target's median and the means
 *     of the theory's primary observables over them and over all (a flow
 *     that misses a region, e.g. phi^4's interface configurations, shows
 *     it there: abs_m far below its mean). FG_ERR_INPUT for unreadable or
 *     mismatched files (named), FG_ERR_RUNTIME for memory.
 *
 *   int fg_report_same_theory(const fg_theory_config *a, const fg_theory_config *b,
 *                             char *why, size_t n)
 *     1 if a and b are the same theory on the same lattice with the same
 *     couplings; otherwise 0 and a description of the first difference in why.
 *
 *   void fg_report_print_validated(FILE *out, const fg_report *rep, const fg_validation *v,
 *                                  int json)
 *     fg_report_print, followed in the table by the validation lines, and in
 *     JSON by a "validation" member inside the same object.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flowgen/checkpoint.h"
#include "flowgen/flow.h"
#include "flowgen/model.h"
#include "flowgen/report.h"
#include "flowgen/theory.h"
#include "flowgen/util.h"

enum { L = FG_VLEN };

static const char WHERE[] = "fg_report_validate [validate.c]";

int fg_report_same_theory(const fg_theory_config *a, const fg_theory_config *b, char *why,
                          size_t n)
{
  if (a->name != b->name) {
    snprintf(why, n, "theory %s vs %s", fg_theory_name(a->name), fg_theory_name(b->name));
    return 0;
  }
  int same_lattice = a->nd == b->nd;
  for (int mu = 0; mu < a->nd && same_lattice; ++mu)
    same_lattice = a->extent[mu] == b->extent[mu];
  if (!same_lattice) {
    snprintf(why, n, "different lattices");
    return 0;
  }
  fg_coupling x[FG_MAX_COUPLINGS], y[FG_MAX_COUPLINGS];
  int nc = fg_theory_couplings(a, x);
  fg_theory_couplings(b, y);
  for (int k = 0; k < nc; ++k)
    if (x[k].value != y[k].value) {
      snprintf(why, n, "%s %.17g vs %.17g", x[k].name, x[k].value, y[k].value);
      return 0;
    }
  return 1;
}

/* The theory section of the config an ensemble was made with. */
int fg_report_ensemble_theory(const fg_ensemble_data *d, const char *path, fg_theory_config *th,
                              fg_error *err)
{
  const fg_ensemble_attr *a = fg_ensemble_attr_find(d, "config");
  if (a == NULL || !a->is_string)
    return fg_fail(err, FG_ERR_INPUT, WHERE, "%s: no config attribute", path);
  fg_config cfg;
  fg_error perr = {0};
  int rc = fg_config_parse(a->text, strlen(a->text), NULL, &cfg, &perr);
  if (rc == FG_OK)
    *th = cfg.theory;
  else
    rc = fg_fail(err, FG_ERR_INPUT, WHERE, "%s: its config attribute does not parse: %s", path,
                 perr.msg);
  fg_config_free(&cfg);
  return rc;
}

/* Both files, the same theory, the target of kind hmc or flow. */
static int load_pair(const char *flow_path, const char *target_path, fg_ensemble_data *f,
                     fg_ensemble_data *t, fg_theory_config *th, fg_error *err)
{
  fg_theory_config tf, tt;
  char why[256];
  int rc = fg_ensemble_load(flow_path, f, err);
  if (rc == FG_OK && (f->layout.kind != FG_ENSEMBLE_FLOW || f->logw == NULL))
    rc = fg_fail(err, FG_ERR_INPUT, WHERE, "%s: not a flow ensemble", flow_path);
  if (rc == FG_OK)
    rc = fg_ensemble_load(target_path, t, err);
  if (rc == FG_OK && t->layout.n_chain < 2)
    rc = fg_fail(err, FG_ERR_INPUT, WHERE, "%s: fewer than 2 configurations", target_path);
  if (rc == FG_OK)
    rc = fg_report_ensemble_theory(f, flow_path, &tf, err);
  if (rc == FG_OK)
    rc = fg_report_ensemble_theory(t, target_path, &tt, err);
  if (rc == FG_OK && !fg_report_same_theory(&tf, &tt, why, sizeof why))
    rc = fg_fail(err, FG_ERR_INPUT, WHERE, "%s and %s sample different theories (%s)", flow_path,
                 target_path, why);
  *th = tt;
  return rc;
}

/* The checkpoint, refused if it is not the one the flow ensemble used. */
static int read_model(const fg_ensemble_data *f, const char *flow_path, const char *model_path,
                      fg_validation *v, fg_checkpoint *ck, fg_error *err)
{
  const fg_ensemble_attr *m = fg_ensemble_attr_find(f, "model");
  if (model_path == NULL && (m == NULL || !m->is_string))
    return fg_fail(err, FG_ERR_INPUT, WHERE, "%s: no model attribute; name the checkpoint",
                   flow_path);
  snprintf(v->model_path, sizeof v->model_path, "%s", model_path ? model_path : m->text);
  const fg_ensemble_attr *sha = fg_ensemble_attr_find(f, "model_sha256");
  if (sha != NULL && sha->is_string && sha->text[0] != '\0') {
    char hex[65];
    int rc = fg_sha256_file(v->model_path, hex, err);
    if (rc != FG_OK)
      return rc;
    if (strcmp(hex, sha->text) != 0)
      return fg_fail(err, FG_ERR_INPUT, WHERE, "%s: SHA-256 %s, but %s was sampled from a "
                     "checkpoint with SHA-256 %s", v->model_path, hex, flow_path, sha->text);
  }
  return fg_checkpoint_read(v->model_path, ck, err);
}

static int by_logw_descending(const void *a, const void *b, void *lw)
{
  double x = ((const double *)lw)[*(const int64_t *)a], y = ((const double *)lw)[*(const int64_t *)b];
  return x < y ? 1 : x > y ? -1 : 0;
}

/* v->heavy_*: the FG_HEAVY_FRACTION of the n rows with the largest log w,
 * given every row's primaries prim[n][np], against all rows. */
static int heaviest(const fg_theory *th, const double *lw, const double *prim, int64_t n,
                    fg_validation *v, fg_error *err)
{
  int64_t *idx = fg_alloc(sizeof(int64_t) * (size_t)n, err, WHERE);
  if (idx == NULL)
    return FG_ERR_RUNTIME;
  for (int64_t i = 0; i < n; ++i)
    idx[i] = i;
  qsort_r(idx, (size_t)n, sizeof *idx, by_logw_descending, (void *)lw);
  int64_t k = (int64_t)ceil(FG_HEAVY_FRACTION * (double)n);
  v->heavy_n = k = k < 1 ? 1 : k;
  v->heavy_logw = lw[idx[k / 2]] - lw[idx[n / 2]];
  const fg_observable *obs;
  int nobs = fg_theory_observables(th, &obs), np = fg_theory_nprimaries(th);
  v->nheavy = 0;
  for (int o = 0; o < nobs; ++o) {
    if (obs[o].primary < 0)
      continue;
    int q = v->nheavy++;
    snprintf(v->heavy_name[q], sizeof v->heavy_name[q], "%s", obs[o].name);
    double top = 0, all = 0;
    for (int64_t i = 0; i < n; ++i) {
      double x = prim[(size_t)idx[i] * (size_t)np + (size_t)obs[o].primary];
      all += x / (double)n;
      top += i < k ? x / (double)k : 0.0;
    }
    v->heavy_mean[q] = top;
    v->all_mean[q] = all;
  }
  fg_free(idx);
  return FG_OK;
}

/* log w = -S - log q of every row of the target, FG_VLEN rows at a time
 * (unused lanes repeat the block's first row, so they hold a valid field),
 * and v->heavy_* (heaviest). */
static int target_logw(const fg_checkpoint *ck, const fg_theory_config *thc,
                       const fg_ensemble_data *t, double *logw, fg_validation *v, fg_error *err)
{
  fg_theory *th = NULL;
  fg_flow *flow = NULL;
  fg_model_block blk = {0};
  int have_blk = 0;
  const size_t V = (size_t)t->volume;
  double *phi = fg_alloc(sizeof(double) * V * L, err, WHERE);
  int rc = phi ? fg_theory_create(thc, &th, err) : FG_ERR_RUNTIME;
  if (rc == FG_OK && (size_t)fg_theory_ndof(th) != V)
    rc = fg_fail(err, FG_ERR_INPUT, WHERE, "the target's rows have %zu values, its theory %d",
                 V, fg_theory_ndof(th));
  fg_theory_obs *obs = NULL;
  double *prim = NULL;
  const size_t np = rc == FG_OK ? (size_t)fg_theory_nprimaries(th) : 0;
  if (rc == FG_OK)
    rc = fg_theory_obs_create(th, &obs, err);
  if (rc == FG_OK) {
    prim = fg_alloc(sizeof(double) * np * (size_t)t->layout.n_configs + 1, err, WHERE);
    rc = prim != NULL ? FG_OK : FG_ERR_RUNTIME;
  }
  if (rc == FG_OK)
    rc = fg_flow_check_theory(&ck->model, th, err);
  if (rc == FG_OK)
    rc = fg_flow_create(&ck->model, fg_theory_lattice(th), &flow, err);
  if (rc == FG_OK) {
    fg_flow_set_params(flow, ck->params);
    rc = fg_model_block_init(&blk, flow, err);
    have_blk = rc == FG_OK;
  }
  for (int64_t r0 = 0; rc == FG_OK && r0 < t->layout.n_configs; r0 += L) {
    int nv = t->layout.n_configs - r0 < L ? (int)(t->layout.n_configs - r0) : L;
    for (int l = 0; l < L; ++l) {
      const double *row = t->configs + (size_t)(r0 + (l < nv ? l : 0)) * V;
      for (size_t y = 0; y < V; ++y)
        phi[y * L + l] = row[y];
    }
    double logq[L], S[L];
    fg_model_logq(flow, &blk, phi, logq);
    fg_theory_action(th, phi, L, S);
    for (int l = 0; l < nv; ++l) {
      logw[r0 + l] = -S[l] - logq[l];
      fg_theory_obs_primaries(obs, phi + l, L, prim + (size_t)(r0 + l) * np);
    }
  }
  if (rc == FG_OK)
    rc = heaviest(th, logw, prim, t->layout.n_configs, v, err);
  fg_free(prim);
  fg_theory_obs_destroy(obs);
  if (have_blk)
    fg_model_block_free(&blk);
  fg_flow_destroy(flow);
  fg_theory_destroy(th);
  fg_free(phi);
  return rc;
}

static double log_sum_exp(const double *x, size_t n, double sign)
{
  double mx = -INFINITY, s = 0.0;
  for (size_t i = 0; i < n; ++i)
    mx = sign * x[i] > mx ? sign * x[i] : mx;
  if (!isfinite(mx))
    return mx;
  for (size_t i = 0; i < n; ++i)
    s += exp(sign * x[i] - mx);
  return mx + log(s);
}

static double inverse_product(const double *abar, void *ctx)
{
  (void)ctx;
  return 1.0 / (abar[0] * abar[1]);
}

static double square_over(const double *abar, void *ctx)
{
  (void)ctx;
  return abar[0] * abar[0] / abar[1];
}

/* ESS_target of the chain's log-weights, with its Gamma-method error. */
static int ess_target(const double *lw, size_t n, double S, fg_validation *v, fg_error *err)
{
  double lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < n; ++i) {
    if (!isfinite(lw[i]))
      return fg_fail(err, FG_ERR_INPUT, WHERE, "log w of target configuration %zu is %g: the "
                     "flow gives it no finite density", i, lw[i]);
    lo = lw[i] < lo ? lw[i] : lo;
    hi = lw[i] > hi ? lw[i] : hi;
  }
  v->ess_target = exp(2.0 * log((double)n) - log_sum_exp(lw, n, 1.0) - log_sum_exp(lw, n, -1.0));
  v->ess_target_err = v->ess_target_tau_int = NAN;
  const double c = 0.5 * (hi + lo);
  if (hi - lo <= 1e-12 * fmax(1.0, fabs(c))) { /* an exact model: w constant up to rounding */
    v->ess_target_err = 0.0;
    v->ess_target_tau_int = 0.5;
    v->flags = FG_GAMMA_ZERO_VARIANCE;
    return FG_OK;
  }
  if ((hi - lo) / 2 > 700) /* w e^-c or e^c / w would overflow: value only */
    return FG_OK;
  double *a = fg_alloc(sizeof(double) * 2 * n, err, WHERE);
  if (a == NULL)
    return FG_ERR_RUNTIME;
  for (size_t i = 0; i < n; ++i) {
    a[i] = exp(lw[i] - c);
    a[n + i] = exp(c - lw[i]);
  }
  fg_gamma_result g;
  int rc = fg_gamma_analyze(a, 2, n, inverse_product, NULL, S, &g, err);
  if (rc == FG_OK) {
    v->ess_target_err = g.err;
    v->ess_target_tau_int = g.tau_int;
    v->flags = g.flags;
  }
  fg_free(a);
  return rc;
}

/* ESS_model of the flow's proposals (independent draws): fg_ess, with the
 * Gamma-method error of F = a^2 / b (its F(abar) is the same number). */
static int ess_model(const double *lw, size_t n, double S, fg_validation *v, fg_error *err)
{
  double mx = -INFINITY, mn = INFINITY;
  for (size_t i = 0; i < n; ++i) {
    mx = lw[i] > mx ? lw[i] : mx;
    mn = lw[i] < mn ? lw[i] : mn;
  }
  v->ess_model = v->ess_model_err = NAN;
  if (!isfinite(mx) || n < 2)
    return FG_OK;
  if (mx - mn <= 1e-12 * fmax(1.0, fabs(mx))) { /* an exact model, as in ess_target */
    v->ess_model = 1.0;
    v->ess_model_err = 0.0;
    return FG_OK;
  }
  v->ess_model = fg_ess(lw, n);
  if (!isfinite(v->ess_model)) /* a NaN log-weight: undefined (analysis.h) */
    return FG_OK;
  double *a = fg_alloc(sizeof(double) * 2 * n, err, WHERE);
  if (a == NULL)
    return FG_ERR_RUNTIME;
  for (size_t i = 0; i < n; ++i) {
    double w = exp(lw[i] - mx);
    a[i] = w;
    a[n + i] = w * w;
  }
  fg_gamma_result g;
  int rc = fg_gamma_analyze(a, 2, n, square_over, NULL, S, &g, err);
  if (rc == FG_OK)
    v->ess_model_err = g.err;
  fg_free(a);
  return rc;
}

static void verdict(fg_validation *v)
{
  double sigma = 1e-9;
  if (isfinite(v->ess_model_err) && isfinite(v->ess_target_err))
    sigma += sqrt(v->ess_model_err * v->ess_model_err + v->ess_target_err * v->ess_target_err);
  else
    sigma = NAN;
  v->z = (v->ess_model - v->ess_target) / sigma;
  v->disagree = isfinite(v->z) && fabs(v->z) > FG_ESS_DISAGREE_SIGMA;
  v->mode_collapse = isfinite(v->z) && v->z > FG_ESS_DISAGREE_SIGMA;
}

static int measure(const fg_ensemble_data *f, const fg_ensemble_data *t, const fg_checkpoint *ck,
                   const fg_theory_config *th, double S, fg_validation *v, fg_error *err)
{
  size_t nrow = (size_t)t->layout.n_configs, nchain = (size_t)t->layout.n_chain;
  double *lw = fg_alloc(sizeof(double) * nrow, err, WHERE);
  double *series = fg_alloc(sizeof(double) * nchain, err, WHERE);
  int rc = lw && series ? target_logw(ck, th, t, lw, v, err) : FG_ERR_RUNTIME;
  if (rc == FG_OK)
    rc = fg_chain_series(lw, nrow, 1, t->chain_index, nchain, series, err);
  if (rc == FG_OK)
    rc = ess_target(series, nchain, S, v, err);
  if (rc == FG_OK)
    rc = ess_model(f->logw, (size_t)f->layout.n_configs, S, v, err);
  if (rc == FG_OK)
    verdict(v);
  fg_free(lw);
  fg_free(series);
  return rc;
}

int fg_report_validate(const char *flow_path, const char *target_path, const char *model_path,
                       double S, fg_validation *v, fg_error *err)
{
  memset(v, 0, sizeof *v);
  snprintf(v->flow_path, sizeof v->flow_path, "%s", flow_path);
  snprintf(v->target_path, sizeof v->target_path, "%s", target_path);
  fg_ensemble_data f, t;
  memset(&f, 0, sizeof f);
  memset(&t, 0, sizeof t);
  fg_checkpoint ck;
  memset(&ck, 0, sizeof ck);
  fg_theory_config th;
  int rc = load_pair(flow_path, target_path, &f, &t, &th, err);
  if (rc == FG_OK)
    rc = read_model(&f, flow_path, model_path, v, &ck, err);
  if (rc == FG_OK) {
    v->n_target = t.layout.n_chain;
    v->n_model = f.layout.n_configs;
    rc = measure(&f, &t, &ck, &th, S, v, err);
  }
  fg_checkpoint_free(&ck);
  fg_ensemble_data_free(&f);
  fg_ensemble_data_free(&t);
  return rc;
}

static void validation_json(fg_json *j, const fg_validation *v)
{
  fg_json_object(j, "validation");
  fg_json_string(j, "target", v->target_path);
  fg_json_string(j, "model", v->model_path);
  fg_json_int(j, "n_target", (long long)v->n_target);
  fg_json_int(j, "n_model", (long long)v->n_model);
  fg_json_numberf(j, "ess_model", "%.10g", v->ess_model);
  fg_json_numberf(j, "ess_model_err", "%.10g", v->ess_model_err);
  fg_json_numberf(j, "ess_target", "%.10g", v->ess_target);
  fg_json_numberf(j, "ess_target_err", "%.10g", v->ess_target_err);
  fg_json_numberf(j, "ess_target_tau_int", "%.10g", v->ess_target_tau_int);
  fg_json_numberf(j, "z", "%.10g", v->z);
  fg_json_bool(j, "disagree", v->disagree);
  fg_json_bool(j, "mode_collapse", v->mode_collapse);
  fg_json_object(j, "heaviest");
  fg_json_numberf(j, "fraction", "%.10g", FG_HEAVY_FRACTION);
  fg_json_int(j, "n", (long long)v->heavy_n);
  fg_json_numberf(j, "logw_above_median", "%.10g", v->heavy_logw);
  fg_json_object(j, "means");
  for (int q = 0; q < v->nheavy; ++q) {
    fg_json_object(j, v->heavy_name[q]);
    fg_json_numberf(j, "heaviest", "%.10g", v->heavy_mean[q]);
    fg_json_numberf(j, "all", "%.10g", v->all_mean[q]);
    fg_json_end(j);
  }
  fg_json_end(j);
  fg_json_end(j);
  fg_json_end(j);
}

static void print_validation_table(FILE *out, const fg_validation *v)
{
  fprintf(out, "\n  validation         %lld configurations of %s\n", (long long)v->n_target,
          v->target_path);
  fprintf(out, "  model              %s\n", v->model_path);
  fprintf(out, "  ESS (model, A7)    %.4f +- %.4f  (%lld proposals)\n", v->ess_model,
          v->ess_model_err, (long long)v->n_model);
  fprintf(out, "  ESS (target, A8)   %.4f +- %.4f  (tau_int %.2f)\n", v->ess_target,
          v->ess_target_err, v->ess_target_tau_int);
  if (v->mode_collapse)
    fprintf(out, "  verdict            MODE COLLAPSE suspected: ESS_model exceeds ESS_target by "
                 "%.1f sigma (the flow misses part of the target)\n", v->z);
  else if (v->disagree)
    fprintf(out, "  verdict            ESS_target exceeds ESS_model by %.1f sigma (is the target "
                 "ensemble equilibrated, and of the same theory?)\n", -v->z);
  else if (isfinite(v->z))
    fprintf(out, "  verdict            consistent (%.1f sigma)\n", v->z);
  else
    fprintf(out, "  verdict            no error estimate (log-weights spread over more than "
                 "1400 units, or too few configurations)\n");
  fprintf(out, "  heaviest %g%%        %lld target configurations of largest w (their median log w "
               "%+.2f above all):\n", 100 * FG_HEAVY_FRACTION, (long long)v->heavy_n,
          v->heavy_logw);
  for (int q = 0; q < v->nheavy; ++q)
    fprintf(out, "    %-16s %14.8g  (all: %.8g)\n", v->heavy_name[q], v->heavy_mean[q],
            v->all_mean[q]);
}

void fg_report_print_validated(FILE *out, const fg_report *rep, const fg_validation *v, int json)
{
  if (!json) {
    fg_report_print(out, rep, 0);
    print_validation_table(out, v);
    return;
  }
  fg_json j; /* the report's object, with one more member */
  fg_json_begin(&j, out);
  fg_json_object(&j, NULL);
  fg_report_json_members(&j, rep);
  validation_json(&j, v);
  fg_json_end(&j);
}
