/*
 * theory.c -- creation and destruction of theories (see theory.h). Local.
 */
#include "flowgen/theory.h"

#include <stdlib.h>

int fg_theory_create(const fg_theory_config *cfg, fg_theory **out, fg_error *err)
{
  static const char where[] = "fg_theory_create [theory.c]";
  *out = NULL;
  if (cfg->name != FG_THEORY_PHI4)
    return fg_fail(err, FG_ERR_INPUT, where, "theory '%s' is not implemented in this version",
                   fg_theory_name(cfg->name));
  fg_theory *t = fg_alloc(sizeof *t, err, where);
  if (t == NULL)
    return FG_ERR_RUNTIME;
  int rc = fg_lattice_init(&t->lat, cfg->nd, cfg->extent, err);
  if (rc != FG_OK) {
    fg_free(t);
    return rc;
  }
  t->cfg = *cfg;
  t->ops = &fg_phi4_ops;
  t->ndof = t->lat.volume;
  *out = t;
  return FG_OK;
}

void fg_theory_destroy(fg_theory *t)
{
  if (t == NULL)
    return;
  fg_lattice_free(&t->lat);
  fg_free(t);
}

int fg_theory_couplings(const fg_theory_config *cfg, fg_coupling out[FG_MAX_COUPLINGS])
{
  if (cfg->name == FG_THEORY_SCHWINGER) {
    out[0] = (fg_coupling){"beta", cfg->beta};
    out[1] = (fg_coupling){"kappa", cfg->kappa};
    return 2;
  }
  out[0] = (fg_coupling){"m2", cfg->m2};
  out[1] = (fg_coupling){"lambda", cfg->lambda};
  return 2;
}
