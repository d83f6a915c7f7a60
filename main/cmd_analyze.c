/*
 * cmd_analyze.c -- `flowgen analyze FILE.h5 [--json] [--window-s S]
 * [--validate HMC.h5 [--model CKPT]]`: observables with Gamma-method
 * errors, autocorrelation, ESS, acceptance and cost figures of an ensemble
 * (SPEC section 6); with --validate, the target-sample ESS (eq. A8) of the
 * flow on HMC.h5's configurations beside ESS_model. One rank. The
 * ensemble is verified first (row checksums and recomputed actions,
 * fg_ensemble_verify): a damaged row is refused with exit 2, naming it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "flowgen/ensemble.h"
#include "flowgen/report.h"

int cmd_analyze(int argc, char **argv)
{
  const char *path = NULL, *validate = NULL, *model = NULL;
  int json = 0;
  double S = 1.5;
  for (int i = 0; i < argc; ++i) {
    if (strcmp(argv[i], "--json") == 0)
      json = 1;
    else if (strcmp(argv[i], "--window-s") == 0 && i + 1 < argc)
      S = atof(argv[++i]);
    else if (strcmp(argv[i], "--validate") == 0 && i + 1 < argc)
      validate = argv[++i];
    else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc)
      model = argv[++i];
    else if (argv[i][0] == '-' || path != NULL) {
      char msg[256];
      snprintf(msg, sizeof msg, "analyze: unexpected argument '%s'", argv[i]);
      report_error(msg, 0);
      return FG_ERR_INPUT;
    } else
      path = argv[i];
  }
  if (path == NULL || !(S > 0)) {
    report_error("usage: flowgen analyze FILE.h5 [--json] [--window-s S>0] "
                 "[--validate HMC.h5 [--model CKPT]]", 0);
    return FG_ERR_INPUT;
  }
  fg_report *rep = malloc(sizeof *rep);
  if (rep == NULL) {
    report_error("analyze: out of memory", 0);
    return FG_ERR_RUNTIME;
  }
  fg_error err = {0};
  fg_ensemble_data d;
  fg_ensemble_check c;
  int rc = fg_ensemble_load(path, &d, &err);
  if (rc == FG_OK)
    rc = fg_ensemble_verify(path, &d, &c, &err);
  fg_ensemble_data_free(&d);
  if (rc == FG_OK)
    rc = fg_report_ensemble(path, S, rep, &err);
  fg_validation *v = validate != NULL ? malloc(sizeof *v) : NULL;
  if (rc == FG_OK && validate != NULL)
    rc = v != NULL ? fg_report_validate(path, validate, model, S, v, &err)
                   : fg_fail(&err, FG_ERR_RUNTIME, "cmd_analyze", "out of memory");
  if (rc == FG_OK && v != NULL) {
    rep->ess_target = v->ess_target;
    fg_report_print_validated(stdout, rep, v, json);
  } else if (rc == FG_OK)
    fg_report_print(stdout, rep, json);
  else
    report_error(err.msg, 0);
  free(v);
  free(rep);
  return rc;
}
