/*
 * theory.c -- creation, description and the generic parts of the theory
 * interface (contracts in theory.h). All functions local.
 *
 * The table `implemented` lists every theory this build has, indexed by
 * fg_theory_kind (NULL: named in configs but not implemented yet); its
 * first entry is the default of fg_theory_of_file.
 */
#include "theory_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const fg_theory_ops *const implemented[] = {
    [FG_THEORY_PHI4] = &fg_phi4_ops,
    [FG_THEORY_SCHWINGER] = &fg_schwinger_ops,
};

struct fg_theory_obs {
  const fg_theory *t;
  void *ctx;
};

int fg_theory_create(const fg_theory_config *cfg, fg_theory **out, fg_error *err)
{
  static const char where[] = "fg_theory_create [theory.c]";
  *out = NULL;
  const int n = (int)(sizeof implemented / sizeof implemented[0]);
  if ((int)cfg->name < 0 || (int)cfg->name >= n || implemented[cfg->name] == NULL)
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
  t->ops = implemented[cfg->name];
  rc = t->ops->setup(t, &t->desc, err);
  if (rc == FG_OK && (t->desc.components < 1 || t->desc.components > FG_MAX_COMPONENTS ||
                      t->desc.nobservables < 0 || t->desc.nobservables > FG_MAX_OBSERVABLES ||
                      t->desc.nprimaries < 1))
    rc = fg_fail(err, FG_ERR_INPUT, where,
                 "theory '%s' declares %d components and %d observables (at most %d and %d)",
                 t->ops->name, t->desc.components, t->desc.nobservables, FG_MAX_COMPONENTS,
                 FG_MAX_OBSERVABLES);
  if (rc != FG_OK) {
    fg_theory_destroy(t);
    return rc;
  }
  t->ndof = t->desc.components * t->lat.volume;
  *out = t;
  return FG_OK;
}

int fg_theory_of_file(const char *config_text, int nd, const int *extent, fg_theory **out,
                      fg_error *err)
{
  static const char where[] = "fg_theory_of_file [theory.c]";
  *out = NULL;
  fg_theory_config th = {.name = FG_THEORY_PHI4, .nd = nd, .m2 = NAN, .lambda = NAN,
                         .beta = NAN, .kappa = NAN};
  if (nd < 1 || nd > FG_MAXDIM)
    return fg_fail(err, FG_ERR_INPUT, where, "lattice dimension %d", nd);
  memcpy(th.extent, extent, sizeof(int) * (size_t)nd);
  if (config_text != NULL) {
    fg_config cfg;
    fg_error perr = {0};
    if (fg_config_parse(config_text, strlen(config_text), NULL, &cfg, &perr) == FG_OK) {
      int same = cfg.theory.nd == nd;
      for (int mu = 0; mu < nd && same; ++mu)
        same = cfg.theory.extent[mu] == extent[mu];
      th = cfg.theory;
      fg_config_free(&cfg);
      if (!same)
        return fg_fail(err, FG_ERR_INPUT, where,
                       "the file's config names another lattice than its configurations have");
    } else {
      fg_config_free(&cfg);
    }
  }
  return fg_theory_create(&th, out, err);
}

void fg_theory_destroy(fg_theory *t)
{
  if (t == NULL)
    return;
  if (t->ops != NULL && t->ops->teardown != NULL && t->desc.priv != NULL)
    t->ops->teardown(t->desc.priv);
  fg_lattice_free(&t->lat);
  fg_free(t);
}

/* ---- description ---------------------------------------------------------- */

const char *fg_theory_label(const fg_theory *t) { return t->ops->name; }

void fg_theory_action(const fg_theory *t, const double *phi, int lanes, double *S)
{
  t->ops->action(t, phi, lanes, S);
}

void fg_theory_force(const fg_theory *t, const double *phi, int lanes, double *dS)
{
  t->ops->force(t, phi, lanes, dS);
}

const fg_theory_config *fg_theory_config_of(const fg_theory *t) { return &t->cfg; }
const fg_lattice *fg_theory_lattice(const fg_theory *t) { return &t->lat; }
int fg_theory_ndof(const fg_theory *t) { return t->ndof; }
int fg_theory_components(const fg_theory *t) { return t->desc.components; }

fg_component_kind fg_theory_component_kind(const fg_theory *t, int c)
{
  return t->desc.kind[c];
}

int fg_theory_has_angles(const fg_theory *t)
{
  for (int c = 0; c < t->desc.components; ++c)
    if (t->desc.kind[c] == FG_COMPONENT_ANGLE)
      return 1;
  return 0;
}

/* x - 2 pi round(x / 2 pi), with -pi itself taken to +pi. */
static double wrap_angle(double x)
{
  if (x > -M_PI && x <= M_PI)
    return x;
  double y = x - 2.0 * M_PI * floor((x + M_PI) / (2.0 * M_PI));
  return y <= -M_PI ? y + 2.0 * M_PI : (y > M_PI ? y - 2.0 * M_PI : y);
}

void fg_theory_wrap(const fg_theory *t, double *phi, int lanes)
{
  const size_t plane = (size_t)t->lat.volume * (size_t)lanes;
  for (int c = 0; c < t->desc.components; ++c) {
    if (t->desc.kind[c] != FG_COMPONENT_ANGLE)
      continue;
    double *p = phi + (size_t)c * plane;
    for (size_t i = 0; i < plane; ++i)
      p[i] = wrap_angle(p[i]);
  }
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

int fg_theory_named_couplings(const fg_theory *t, fg_coupling out[FG_MAX_COUPLINGS])
{
  return fg_theory_couplings(&t->cfg, out);
}

fg_base_kind fg_theory_default_base(const fg_theory *t) { return t->desc.default_base; }
int fg_theory_z2_symmetric(const fg_theory *t) { return t->desc.z2_symmetric; }

int fg_theory_allows_layer(const fg_theory *t, const char *layer_type)
{
  for (const char *const *l = t->desc.layers; l != NULL && *l != NULL; ++l)
    if (strcmp(*l, layer_type) == 0)
      return 1;
  return 0;
}

/* ---- HMC hooks -------------------------------------------------------------- */

const char *fg_theory_hmc_stream(const fg_theory *t)
{
  return t->desc.hmc_stream != NULL ? t->desc.hmc_stream : "ndof normals";
}

size_t fg_theory_hmc_aux_size(const fg_theory *t) { return t->desc.hmc_aux; }

int fg_theory_set_solver(fg_theory *t, double tolerance, int max_iterations)
{
  if (t->desc.solver == NULL)
    return -1;
  t->desc.solver->tolerance = tolerance;
  t->desc.solver->max_iterations = max_iterations;
  return 0;
}

int fg_theory_solver_stats(const fg_theory *t, fg_solver *out)
{
  if (t->desc.solver == NULL) {
    *out = (fg_solver){0};
    return 0;
  }
  *out = *t->desc.solver;
  return 1;
}

void fg_theory_hmc_refresh(const fg_theory *t, const double *phi, fg_rng *r, double *mom,
                           double *aux)
{
  if (t->ops->hmc_refresh != NULL)
    t->ops->hmc_refresh(t, phi, r, mom, aux);
  else
    fg_rng_normals(r, mom, (size_t)t->ndof);
}

void fg_theory_hmc_action(const fg_theory *t, const double *phi, const double *aux, double *S)
{
  if (t->ops->hmc_action != NULL)
    t->ops->hmc_action(t, phi, aux, S);
  else
    t->ops->action(t, phi, 1, S);
}

void fg_theory_hmc_force(const fg_theory *t, const double *phi, const double *aux, double *dS)
{
  if (t->ops->hmc_force != NULL)
    t->ops->hmc_force(t, phi, aux, dS);
  else
    t->ops->force(t, phi, 1, dS);
}

/* ---- observables ------------------------------------------------------------ */

int fg_theory_nprimaries(const fg_theory *t) { return t->desc.nprimaries; }

int fg_theory_observables(const fg_theory *t, const fg_observable **obs)
{
  *obs = t->desc.observables;
  return t->desc.nobservables;
}

int fg_theory_obs_create(const fg_theory *t, fg_theory_obs **out, fg_error *err)
{
  static const char where[] = "fg_theory_obs_create [theory.c]";
  *out = NULL;
  fg_theory_obs *o = fg_alloc(sizeof *o, err, where);
  if (o == NULL)
    return FG_ERR_RUNTIME;
  o->t = t;
  int rc = t->ops->obs_create(t, &o->ctx, err);
  if (rc != FG_OK) {
    fg_free(o);
    return rc;
  }
  *out = o;
  return FG_OK;
}

void fg_theory_obs_destroy(fg_theory_obs *o)
{
  if (o == NULL)
    return;
  o->t->ops->obs_destroy(o->ctx);
  fg_free(o);
}

void fg_theory_obs_primaries(fg_theory_obs *o, const double *phi, size_t stride, double *prim)
{
  o->t->ops->obs_primaries(o->ctx, phi, stride, prim);
}
