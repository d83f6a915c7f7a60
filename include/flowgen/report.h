/*
 * report.h -- the analysis of an ensemble file (`flowgen analyze`, SPEC
 * sections 6 and 8). Local (one rank).
 *
 *   int fg_report_ensemble(const char *path, double S, fg_report *rep, fg_error *err)
 *     Loads the ensemble, measures the phi^4 observables on every row of
 *     /configs, and runs the Gamma method (Wolff 2004, window parameter S,
 *     1.5 by default) on the chain as recorded (/chain/index): for flow
 *     ensembles the series repeats the configuration a rejected step
 *     holds. Also: acceptance, model-sample ESS (eq. A7) of all proposals,
 *     the rejection runs (longest, mean), and the cost figures:
 *     setup_s (the model's training seconds), samp_s_per_config (wall
 *     seconds / rows), effective_per_s = n_chain / (2 max tau_int) / wall.
 *     FG_ERR_INPUT for a missing, foreign or incomplete file.
 *
 *   void fg_report_print(FILE *out, const fg_report *rep, int json)
 *     A readable table, or the JSON object of SPEC section 6.
 */
#ifndef FLOWGEN_REPORT_H
#define FLOWGEN_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "flowgen/analysis.h"
#include "flowgen/ensemble.h"

typedef struct {
  char path[FG_PATH_MAX];
  fg_ensemble_kind kind;
  int64_t n_configs, n_chain;
  double acceptance;
  double ess_model;            /* NaN for HMC ensembles */
  double ess_target;           /* NaN unless a validation ensemble was given */
  int64_t longest_rejection_run;
  double mean_rejection_run;
  double setup_s, wall_s, samp_s_per_config, effective_per_s;
  double tau_int_max;
  const char *slowest;         /* the observable with the largest tau_int */
  fg_obs_result obs[FG_PHI4_NOBS];
} fg_report;

int fg_report_ensemble(const char *path, double S, fg_report *rep, fg_error *err);
void fg_report_print(FILE *out, const fg_report *rep, int json);

#endif
