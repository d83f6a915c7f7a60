/*
 * report.h -- the analysis of an ensemble file (`flowgen analyze`, SPEC
 * sections 6 and 8). Local (one rank).
 *
 *   int fg_report_ensemble(const char *path, double S, fg_report *rep, fg_error *err)
 *     Loads the ensemble, builds its theory from the file's config
 *     attribute (fg_theory_of_file), measures the primaries the theory
 *     declares on every row of /configs, and runs the Gamma method (Wolff
 *     2004, window parameter S, 1.5 by default) on the chain as recorded
 *     (/chain/index) for each declared observable: for flow ensembles the
 *     series repeats the configuration a rejected step holds. rep->obs
 *     holds rep->nobs results, the theory's observables in its order. Also: acceptance, model-sample ESS (eq. A7) of all proposals,
 *     the rejection runs (longest, mean), and the cost figures:
 *     setup_s (the model's training seconds), samp_s_per_config (wall
 *     seconds / rows), effective_per_s = n_chain / (2 max tau_int) / wall.
 *     FG_ERR_INPUT for a missing, foreign or incomplete file.
 *
 *   void fg_report_print(FILE *out, const fg_report *rep, int json)
 *     A readable table, or the JSON object of SPEC section 6.
 *   void fg_report_json_members(fg_json *j, const fg_report *rep)
 *     That object's members, into an object open in j (util.h), so that a
 *     caller can add its own (the validation of analyze --validate).
 *
 *   const fg_obs_result *fg_report_find(const fg_report *rep, const char *name)
 *     The result of the observable called name, or NULL.
 *
 * ---- Target-sample ESS (validate.c) ------------------------------------
 *
 *   int fg_report_validate(const char *flow_path, const char *target_path,
 *                          const char *model_path, double S, fg_validation *v,
 *                          fg_error *err)
 *     ESS_target (seed eq. A8) of the flow that made flow_path, measured on
 *     the configurations of target_path (an HMC ensemble of the same theory:
 *     checked), beside ESS_model (eq. A7) of flow_path's proposals, both
 *     with Gamma-method errors, and the verdict: mode_collapse when
 *     ESS_model exceeds ESS_target by more than FG_ESS_DISAGREE_SIGMA
 *     combined errors. The model is the checkpoint model_path, or (NULL)
 *     the flow file's "model" attribute; a checkpoint whose SHA-256 differs
 *     from the file's "model_sha256" is refused. Loads both files whole.
 *     FG_ERR_INPUT for missing, foreign, incomplete or mismatched files.
 *   int fg_report_same_theory(const fg_theory_config *a, const fg_theory_config *b,
 *                             char *why, size_t n)
 *     1 for the same theory, lattice and couplings; else 0 and why.
 *   int fg_report_ensemble_theory(const fg_ensemble_data *d, const char *path,
 *                                 fg_theory_config *th, fg_error *err)
 *     The theory section of the config a loaded ensemble was made with (its
 *     "config" attribute); FG_ERR_INPUT naming path if it has none.
 *   void fg_report_print_validated(FILE *out, const fg_report *rep, const fg_validation *v,
 *                                  int json)
 *     The report followed by the validation (JSON: one object, with a
 *     "validation" member).
 *
 * ---- Flow against HMC (compare.c) --------------------------------------
 *
 *   int fg_compare_ensembles(const char *flow_path, const char *hmc_path, double S,
 *                            fg_comparison *c, fg_error *err)
 *     fg_report_ensemble of both (a flow and an HMC ensemble of the same
 *     theory: checked), their setup costs (training seconds of the flow's
 *     model; thermalisation seconds of HMC), ESS per chain step
 *     1 / (2 tau_int_max) of each, ratio = effective samples per second
 *     flow / HMC, and the break-even count of effective samples above which
 *     the flow's setup is paid back (0: always ahead; +inf: never).
 *     FG_ERR_INPUT for missing, foreign, incomplete or mismatched files.
 *   void fg_compare_print(FILE *out, const fg_comparison *c, int json)
 *     A side-by-side table, or one JSON object with the same numbers.
 */
#ifndef FLOWGEN_REPORT_H
#define FLOWGEN_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "flowgen/analysis.h"
#include "flowgen/ensemble.h"
#include "flowgen/util.h"

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
  char theory[32];             /* the theory's name (fg_theory_label) */
  int nobs;                    /* entries of obs: what the theory declares */
  fg_obs_result obs[FG_MAX_OBSERVABLES];
} fg_report;

int fg_report_ensemble(const char *path, double S, fg_report *rep, fg_error *err);
void fg_report_print(FILE *out, const fg_report *rep, int json);
void fg_report_json_members(fg_json *j, const fg_report *rep);
const fg_obs_result *fg_report_find(const fg_report *rep, const char *name);

/* The share of the target's configurations whose means the validation shows. */
#define FG_HEAVY_FRACTION 0.01

/* ESS_model and ESS_target disagree beyond this many combined errors. */
#define FG_ESS_DISAGREE_SIGMA 3.0

typedef struct {
  char flow_path[FG_PATH_MAX], target_path[FG_PATH_MAX], model_path[FG_PATH_MAX];
  int64_t n_target;            /* chain steps of the target ensemble */
  int64_t n_model;             /* proposals of the flow ensemble */
  double ess_model, ess_model_err;    /* eq. A7 on the flow's proposals */
  double ess_target, ess_target_err;  /* eq. A8 on the target's chain */
  double ess_target_tau_int;   /* of the derived quantity on the target's chain */
  int flags;                   /* FG_GAMMA_* of ess_target */
  double z;                    /* (ess_model - ess_target) / combined error */
  int disagree;                /* |z| > FG_ESS_DISAGREE_SIGMA */
  int mode_collapse;           /* z > FG_ESS_DISAGREE_SIGMA */
  /* Where the weight is: the FG_HEAVY_FRACTION of the target's
   * configurations with the largest log w (at least one), against all. */
  int64_t heavy_n;
  double heavy_logw;           /* their median log w minus the target's median */
  int nheavy;                  /* the theory's observables that are means of one primary */
  char heavy_name[FG_MAX_OBSERVABLES][32];
  double heavy_mean[FG_MAX_OBSERVABLES], all_mean[FG_MAX_OBSERVABLES];
} fg_validation;

int fg_report_validate(const char *flow_path, const char *target_path, const char *model_path,
                       double S, fg_validation *v, fg_error *err);
int fg_report_same_theory(const fg_theory_config *a, const fg_theory_config *b, char *why,
                          size_t n);
int fg_report_ensemble_theory(const fg_ensemble_data *d, const char *path, fg_theory_config *th,
                              fg_error *err);
void fg_report_print_validated(FILE *out, const fg_report *rep, const fg_validation *v, int json);

typedef struct {
  fg_report flow, hmc;         /* fg_report_ensemble of each */
  double flow_setup_s;         /* training seconds of the flow's model */
  double hmc_setup_s;          /* HMC thermalisation seconds */
  double flow_ess, hmc_ess;    /* effective samples per chain step: 1 / (2 tau_int_max) */
  double ratio;                /* effective samples per second, flow / HMC */
  double breakeven;            /* effective samples from which the flow's total cost is lower */
} fg_comparison;

int fg_compare_ensembles(const char *flow_path, const char *hmc_path, double S, fg_comparison *c,
                         fg_error *err);
void fg_compare_print(FILE *out, const fg_comparison *c, int json);

#endif
