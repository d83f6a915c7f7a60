/*
 * compare.c -- a flow ensemble against an HMC ensemble of the same theory,
 * measured the same way (`flowgen compare`, see report.h). Local.
 *
 *   int fg_compare_ensembles(const char *flow_path, const char *hmc_path, double S,
 *                            fg_comparison *c, fg_error *err)
 *     fg_report_ensemble of both files (kinds checked), their theories
 *     compared (config attributes), the setup costs (flow: the model's
 *     training seconds; HMC: its "thermalization_seconds"), and
 *       ESS per chain step = 1 / (2 tau_int_max)   (SPEC section 8),
 *       ratio = effective_per_s(flow) / effective_per_s(HMC),
 *       breakeven = the number of effective samples N above which
 *         setup_flow + N / rate_flow < setup_HMC + N / rate_HMC
 *         (0 if the flow is ahead from the start, +inf if never).
 *     Both effective rates use the slowest observable of their own chain.
 *
 *   void fg_compare_print(FILE *out, const fg_comparison *c, int json)
 *     Side-by-side table with the ratio column, or one JSON object.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flowgen/io.h"
#include "flowgen/report.h"
#include "flowgen/util.h"

static const char WHERE[] = "fg_compare_ensembles [compare.c]";

static int theory_of(const char *path, fg_theory_config *th, fg_error *err)
{
  char *text = NULL;
  int rc = fg_file_attr_text(path, "config", &text, err);
  if (rc == FG_ERR_INPUT)
    return fg_fail(err, FG_ERR_INPUT, WHERE, "%s: no readable config attribute", path);
  if (rc != FG_OK)
    return rc;
  fg_config cfg;
  fg_error perr = {0};
  rc = fg_config_parse(text, strlen(text), NULL, &cfg, &perr);
  if (rc == FG_OK)
    *th = cfg.theory;
  else
    rc = fg_fail(err, FG_ERR_INPUT, WHERE, "%s: its config attribute does not parse: %s", path,
                 perr.msg);
  fg_config_free(&cfg);
  fg_free(text);
  return rc;
}

static double breakeven(double setup_f, double rate_f, double setup_h, double rate_h)
{
  if (!(rate_f > 0) || !(rate_h > 0))
    return NAN;
  double dsetup = setup_f - setup_h, dcost = 1.0 / rate_h - 1.0 / rate_f;
  if (dcost > 0)
    return dsetup > 0 ? dsetup / dcost : 0.0;
  return dcost == 0 && dsetup <= 0 ? 0.0 : INFINITY;
}

static int check_kinds(const fg_comparison *c, const char *flow_path, const char *hmc_path,
                       fg_error *err)
{
  if (c->flow.kind != FG_ENSEMBLE_FLOW)
    return fg_fail(err, FG_ERR_INPUT, WHERE, "%s: not a flow ensemble (give the flow first)",
                   flow_path);
  if (c->hmc.kind != FG_ENSEMBLE_HMC)
    return fg_fail(err, FG_ERR_INPUT, WHERE, "%s: not an HMC ensemble", hmc_path);
  fg_theory_config a, b;
  char why[256];
  int rc = theory_of(flow_path, &a, err);
  if (rc == FG_OK)
    rc = theory_of(hmc_path, &b, err);
  if (rc == FG_OK && !fg_report_same_theory(&a, &b, why, sizeof why))
    rc = fg_fail(err, FG_ERR_INPUT, WHERE, "%s and %s sample different theories (%s)", flow_path,
                 hmc_path, why);
  return rc;
}

int fg_compare_ensembles(const char *flow_path, const char *hmc_path, double S, fg_comparison *c,
                         fg_error *err)
{
  memset(c, 0, sizeof *c);
  int rc = fg_report_ensemble(flow_path, S, &c->flow, err);
  if (rc == FG_OK)
    rc = fg_report_ensemble(hmc_path, S, &c->hmc, err);
  if (rc == FG_OK)
    rc = check_kinds(c, flow_path, hmc_path, err);
  if (rc != FG_OK)
    return rc;
  c->flow_setup_s = c->flow.setup_s;
  if (fg_file_attr_number(hmc_path, "thermalization_seconds", &c->hmc_setup_s, NULL) != FG_OK)
    c->hmc_setup_s = 0.0; /* an HMC file of another writer: no thermalisation recorded */
  c->flow_ess = 1.0 / (2.0 * c->flow.tau_int_max);
  c->hmc_ess = 1.0 / (2.0 * c->hmc.tau_int_max);
  c->ratio = c->flow.effective_per_s / c->hmc.effective_per_s;
  c->breakeven = breakeven(c->flow_setup_s, c->flow.effective_per_s, c->hmc_setup_s,
                           c->hmc.effective_per_s);
  return FG_OK;
}

/* ---------------------------------------------------------------- print */

/* Numbers in compare's JSON carry 10 significant digits. */
static void json_num(fg_json *j, const char *key, double x) { fg_json_numberf(j, key, "%.10g", x); }

static void json_side(fg_json *j, const char *name, const fg_report *r, double setup, double ess)
{
  fg_json_object(j, name);
  fg_json_string(j, "file", r->path);
  fg_json_int(j, "n_chain", (long long)r->n_chain);
  json_num(j, "acceptance", r->acceptance);
  json_num(j, "ess_model", r->ess_model);
  json_num(j, "ess_per_step", ess);
  json_num(j, "samp_s_per_config", r->samp_s_per_config);
  json_num(j, "setup_s", setup);
  json_num(j, "effective_per_s", r->effective_per_s);
  fg_json_string(j, "slowest", r->slowest);
  fg_json_object(j, "tau_int");
  for (int k = 0; k < r->nobs; ++k)
    json_num(j, r->obs[k].name, r->obs[k].tau_int);
  fg_json_end(j);
  fg_json_end(j);
}

static void print_json(FILE *out, const fg_comparison *c)
{
  fg_json j;
  fg_json_begin(&j, out);
  fg_json_object(&j, NULL);
  json_side(&j, "flow", &c->flow, c->flow_setup_s, c->flow_ess);
  json_side(&j, "hmc", &c->hmc, c->hmc_setup_s, c->hmc_ess);
  fg_json_object(&j, "ratio");
  json_num(&j, "effective_per_s", c->ratio);
  json_num(&j, "ess_per_step", c->flow_ess / c->hmc_ess);
  json_num(&j, "samp_s_per_config", c->flow.samp_s_per_config / c->hmc.samp_s_per_config);
  fg_json_end(&j);
  json_num(&j, "breakeven_effective_samples", c->breakeven);
  fg_json_end(&j);
}

static void cell(char *buf, size_t n, double x, const char *fmt)
{
  if (isfinite(x))
    snprintf(buf, n, fmt, x);
  else
    snprintf(buf, n, "-");
}

/* One line of the table: flow, HMC and their ratio. */
static void row(FILE *out, const char *label, double f, double h, const char *fmt)
{
  char a[32], b[32], r[32];
  cell(a, sizeof a, f, fmt);
  cell(b, sizeof b, h, fmt);
  cell(r, sizeof r, f / h, "%.3g");
  fprintf(out, "  %-22s %14s %14s %10s\n", label, a, b, r);
}

static void print_table(FILE *out, const fg_comparison *c)
{
  const fg_report *f = &c->flow, *h = &c->hmc;
  fprintf(out, "flowgen compare: flow %s\n                 HMC  %s\n\n", f->path, h->path);
  fprintf(out, "  %-22s %14s %14s %10s\n", "", "flow", "HMC", "flow/HMC");
  row(out, "chain steps", (double)f->n_chain, (double)h->n_chain, "%.0f");
  row(out, "acceptance", f->acceptance, h->acceptance, "%.4f");
  row(out, "ESS model (A7)", f->ess_model, NAN, "%.4f");
  row(out, "ESS per step 1/2tau", c->flow_ess, c->hmc_ess, "%.4f");
  for (int k = 0; k < f->nobs && k < h->nobs; ++k) {
    char label[40];
    snprintf(label, sizeof label, "tau_int %s", f->obs[k].name);
    row(out, label, f->obs[k].tau_int, h->obs[k].tau_int, "%.3f");
  }
  row(out, "s per configuration", f->samp_s_per_config, h->samp_s_per_config, "%.4g");
  row(out, "setup s", c->flow_setup_s, c->hmc_setup_s, "%.4g");
  row(out, "effective per s", f->effective_per_s, h->effective_per_s, "%.4g");
  fprintf(out, "\n  slowest observable: %s (flow), %s (HMC)\n", f->slowest, h->slowest);
  if (c->breakeven == 0.0)
    fprintf(out, "  the flow is ahead from the first effective sample, setup included\n");
  else if (isfinite(c->breakeven))
    fprintf(out, "  the flow's setup pays off after %.3g effective samples\n", c->breakeven);
  else
    fprintf(out, "  the flow does not catch up with HMC at these rates\n");
}

void fg_compare_print(FILE *out, const fg_comparison *c, int json)
{
  if (json)
    print_json(out, c);
  else
    print_table(out, c);
}
