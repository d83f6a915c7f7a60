/*
 * phi4.c -- real scalar phi^4 theory on a periodic lattice (see theory.h
 * for the action). Exports fg_phi4_ops: one real component per site, no
 * HMC aux fields (the trajectory's stream: ndof normals, the momenta, then
 * HMC's one uniform), the observables of phi4.h, base normal, layers
 * affine_coupling and free_field. All functions local, double precision;
 * the lane loop is innermost so blocks of FG_VLEN vectorise.
 */
#include <string.h>

#include "phi4_internal.h"

enum { LANES_MAX = 64 };

static void phi4_action(const fg_theory *t, const double *phi, int lanes, double *S)
{
  const fg_lattice *lat = &t->lat;
  const int nd = lat->nd;
  const double c2 = nd + 0.5 * t->cfg.m2, lam = t->cfg.lambda;
  for (int l0 = 0; l0 < lanes; l0 += LANES_MAX) {
    int nl = lanes - l0 < LANES_MAX ? lanes - l0 : LANES_MAX;
    double acc[LANES_MAX] = {0};
    for (int x = 0; x < lat->volume; ++x) {
      const double *p = phi + (size_t)x * lanes + l0;
      for (int l = 0; l < nl; ++l) {
        double p2 = p[l] * p[l];
        acc[l] += (c2 + lam * p2) * p2;
      }
      for (int mu = 0; mu < nd; ++mu) {
        const double *q = phi + (size_t)lat->up[x * nd + mu] * lanes + l0;
        for (int l = 0; l < nl; ++l)
          acc[l] -= p[l] * q[l];
      }
    }
    memcpy(S + l0, acc, sizeof(double) * (size_t)nl);
  }
}

static void phi4_force(const fg_theory *t, const double *phi, int lanes, double *dS)
{
  const fg_lattice *lat = &t->lat;
  const int nd = lat->nd;
  const double c2 = 2.0 * nd + t->cfg.m2, lam4 = 4.0 * t->cfg.lambda;
  for (int x = 0; x < lat->volume; ++x) {
    const double *p = phi + (size_t)x * lanes;
    double *f = dS + (size_t)x * lanes;
    for (int l = 0; l < lanes; ++l)
      f[l] = (c2 + lam4 * p[l] * p[l]) * p[l];
    for (int mu = 0; mu < nd; ++mu) {
      const double *qu = phi + (size_t)lat->up[x * nd + mu] * lanes;
      const double *qd = phi + (size_t)lat->down[x * nd + mu] * lanes;
      for (int l = 0; l < lanes; ++l)
        f[l] -= qu[l] + qd[l];
    }
  }
}

static const char *const phi4_layers[] = {"affine_coupling", "free_field", NULL};

static int phi4_setup(const fg_theory *t, fg_theory_desc *d, fg_error *err)
{
  (void)t;
  (void)err;
  d->components = 1;
  d->kind[0] = FG_COMPONENT_REAL;
  d->hmc_aux = 0;
  d->hmc_stream = "ndof normals (the momenta)";
  d->nprimaries = FG_PHI4_NPRIM;
  d->nobservables = FG_PHI4_NOBS;
  d->observables = phi4_observables;
  d->default_base = FG_BASE_NORMAL;
  d->z2_symmetric = 1;
  d->layers = phi4_layers;
  return FG_OK;
}

static int phi4_obs_create(const fg_theory *t, void **ctx, fg_error *err)
{
  fg_phi4_obs *o = NULL;
  int rc = fg_phi4_obs_create(fg_theory_lattice(t), &o, err);
  *ctx = o;
  return rc;
}

static void phi4_obs_destroy(void *ctx) { fg_phi4_obs_destroy(ctx); }

static void phi4_obs_primaries(void *ctx, const double *phi, size_t stride, double *prim)
{
  fg_phi4_obs_primaries(ctx, phi, stride, prim);
}

/* No aux fields: HMC's refresh, action and force are the defaults
 * (ndof normals; action and force at lanes = 1). */
const fg_theory_ops fg_phi4_ops = {
    .name = "phi4",
    .setup = phi4_setup,
    .action = phi4_action,
    .force = phi4_force,
    .obs_create = phi4_obs_create,
    .obs_destroy = phi4_obs_destroy,
    .obs_primaries = phi4_obs_primaries,
};
