/*
 * report.c -- what `flowgen analyze` measures on an ensemble file (see
 * report.h). Local.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flowgen/report.h"
#include "flowgen/util.h"

static double attr_number(const fg_ensemble_data *d, const char *name, double dflt)
{
  const fg_ensemble_attr *a = fg_ensemble_attr_find(d, name);
  return a != NULL && !a->is_string ? a->value : dflt;
}

/* Rejection runs: maximal stretches of steps that did not move. */
static void rejection_runs(const fg_ensemble_data *d, fg_report *rep)
{
  int64_t runs = 0, total = 0, cur = 0, longest = 0, moved = 0;
  for (int64_t t = 0; t < d->layout.n_chain; ++t) {
    if (d->chain_accepted[t]) {
      ++moved;
      if (cur > 0) {
        ++runs;
        total += cur;
      }
      cur = 0;
    } else {
      ++cur;
      longest = cur > longest ? cur : longest;
    }
  }
  if (cur > 0) {
    ++runs;
    total += cur;
  }
  rep->longest_rejection_run = longest;
  rep->mean_rejection_run = runs > 0 ? (double)total / (double)runs : 0.0;
  rep->acceptance = d->layout.n_chain > 0 ? (double)moved / (double)d->layout.n_chain : 0.0;
}

static int observables(const fg_ensemble_data *d, double S, fg_report *rep, fg_error *err)
{
  static const char where[] = "fg_report_ensemble [report.c]";
  const fg_ensemble_attr *config = fg_ensemble_attr_find(d, "config");
  fg_theory *t = NULL;
  int rc = fg_theory_of_file(config != NULL && config->is_string ? config->text : NULL,
                             d->layout.nd, d->layout.extent, &t, err);
  if (rc == FG_OK && fg_theory_ndof(t) != d->volume)
    rc = fg_fail(err, FG_ERR_INPUT, where, "%s: rows of %d values, but theory %s has %d",
                 rep->path, d->volume, fg_theory_label(t), fg_theory_ndof(t));
  if (rc != FG_OK) {
    fg_theory_destroy(t);
    return rc;
  }
  const size_t nrow = (size_t)d->layout.n_configs, nchain = (size_t)d->layout.n_chain;
  const size_t nprim = (size_t)fg_theory_nprimaries(t);
  double *table = fg_alloc(sizeof(double) * nrow * nprim, err, where);
  double *series = fg_alloc(sizeof(double) * nchain * nprim, err, where);
  if (table == NULL || series == NULL)
    rc = FG_ERR_RUNTIME;
  if (rc == FG_OK)
    rc = fg_measure_primaries(t, d->configs, nrow, table, err);
  if (rc == FG_OK)
    rc = fg_chain_series(table, nrow, nprim, d->chain_index, nchain, series, err);
  if (rc == FG_OK)
    rc = fg_analyze_observables(t, series, nchain, S, rep->obs, err);
  if (rc == FG_OK) {
    const fg_observable *obs;
    rep->nobs = fg_theory_observables(t, &obs);
    snprintf(rep->theory, sizeof rep->theory, "%s", fg_theory_label(t));
  }
  fg_free(table);
  fg_free(series);
  fg_theory_destroy(t);
  return rc;
}

int fg_report_ensemble(const char *path, double S, fg_report *rep, fg_error *err)
{
  memset(rep, 0, sizeof *rep);
  snprintf(rep->path, sizeof rep->path, "%s", path);
  fg_ensemble_data d;
  int rc = fg_ensemble_load(path, &d, err);
  if (rc == FG_OK && d.layout.n_chain < 2)
    rc = fg_fail(err, FG_ERR_INPUT, "fg_report_ensemble [report.c]",
                 "%s: a chain of %lld steps is too short to analyse", path,
                 (long long)d.layout.n_chain);
  if (rc == FG_OK) {
    rep->kind = d.layout.kind;
    rep->n_configs = d.layout.n_configs;
    rep->n_chain = d.layout.n_chain;
    rep->ess_model = d.logw ? fg_ess(d.logw, (size_t)d.layout.n_configs) : NAN;
    rep->ess_target = NAN;
    rejection_runs(&d, rep);
    rc = observables(&d, S, rep, err);
  }
  if (rc == FG_OK) {
    rep->setup_s = attr_number(&d, "model_setup_seconds", 0.0);
    rep->wall_s = attr_number(&d, "wall_seconds", NAN);
    rep->samp_s_per_config = rep->wall_s / (double)rep->n_configs;
    rep->tau_int_max = 0.5;
    rep->slowest = rep->nobs > 0 ? rep->obs[0].name : "none";
    for (int k = 0; k < rep->nobs; ++k)
      if (isfinite(rep->obs[k].tau_int) && rep->obs[k].tau_int > rep->tau_int_max) {
        rep->tau_int_max = rep->obs[k].tau_int;
        rep->slowest = rep->obs[k].name;
      }
    rep->effective_per_s = (double)rep->n_chain / (2.0 * rep->tau_int_max) / rep->wall_s;
  }
  fg_ensemble_data_free(&d);
  return rc;
}

void fg_report_json_members(fg_json *j, const fg_report *r)
{
  fg_json_string(j, "file", r->path);
  fg_json_string(j, "kind", r->kind == FG_ENSEMBLE_HMC ? "hmc" : "flow");
  fg_json_int(j, "n_configs", (long long)r->n_configs);
  fg_json_int(j, "n_chain", (long long)r->n_chain);
  fg_json_number(j, "acceptance", r->acceptance);
  fg_json_number(j, "ess_model", r->ess_model);
  fg_json_number(j, "ess_target", r->ess_target);
  fg_json_object(j, "rejection_runs");
  fg_json_int(j, "longest", (long long)r->longest_rejection_run);
  fg_json_number(j, "mean", r->mean_rejection_run);
  fg_json_end(j);
  fg_json_object(j, "cost");
  fg_json_number(j, "setup_s", r->setup_s);
  fg_json_number(j, "wall_s", r->wall_s);
  fg_json_number(j, "samp_s_per_config", r->samp_s_per_config);
  fg_json_number(j, "effective_per_s", r->effective_per_s);
  fg_json_string(j, "slowest", r->slowest);
  fg_json_end(j);
  fg_json_object(j, "observables");
  for (int k = 0; k < r->nobs; ++k) {
    const fg_obs_result *o = &r->obs[k];
    fg_json_object(j, o->name);
    fg_json_number(j, "mean", o->mean);
    fg_json_number(j, "err", o->err);
    fg_json_number(j, "tau_int", o->tau_int);
    fg_json_number(j, "tau_int_err", o->tau_int_err);
    fg_json_end(j);
  }
  fg_json_end(j);
}

static void print_json(FILE *out, const fg_report *r)
{
  fg_json j;
  fg_json_begin(&j, out);
  fg_json_object(&j, NULL);
  fg_report_json_members(&j, r);
  fg_json_end(&j);
}

static void print_table(FILE *out, const fg_report *r)
{
  fprintf(out, "flowgen analyze: %s (%s ensemble)\n", r->path,
          r->kind == FG_ENSEMBLE_HMC ? "HMC" : "flow");
  fprintf(out, "  chain              %lld steps over %lld configurations\n",
          (long long)r->n_chain, (long long)r->n_configs);
  fprintf(out, "  acceptance         %.4f\n", r->acceptance);
  if (isfinite(r->ess_model))
    fprintf(out, "  ESS (model, A7)    %.4f\n", r->ess_model);
  if (isfinite(r->ess_target))
    fprintf(out, "  ESS (target, A8)   %.4f\n", r->ess_target);
  fprintf(out, "  rejection runs     longest %lld, mean %.2f\n",
          (long long)r->longest_rejection_run, r->mean_rejection_run);
  fprintf(out, "  C_setup            %.2f s\n", r->setup_s);
  fprintf(out, "  Delta C_samp       %.3g s per configuration (wall %.2f s)\n",
          r->samp_s_per_config, r->wall_s);
  fprintf(out, "  effective/s        %.4g (tau_int %.2f of %s)\n", r->effective_per_s,
          r->tau_int_max, r->slowest);
  fprintf(out, "\n  %-8s %14s %12s %9s %8s\n", "obs", "mean", "err", "tau_int", "+-");
  for (int k = 0; k < r->nobs; ++k) {
    const fg_obs_result *o = &r->obs[k];
    fprintf(out, "  %-8s %14.8g %12.3g %9.3f %8.3f%s\n", o->name, o->mean, o->err, o->tau_int,
            o->tau_int_err, (o->flags & FG_GAMMA_SHORT) ? "  (chain short for its tau_int)" : "");
  }
}

const fg_obs_result *fg_report_find(const fg_report *rep, const char *name)
{
  for (int k = 0; k < rep->nobs; ++k)
    if (strcmp(rep->obs[k].name, name) == 0)
      return &rep->obs[k];
  return NULL;
}

void fg_report_print(FILE *out, const fg_report *rep, int json)
{
  if (json)
    print_json(out, rep);
  else
    print_table(out, rep);
}
