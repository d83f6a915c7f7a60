/*
 * schwinger.c -- the two-flavour Schwinger model (seed eqs. A4-A6, SPEC
 * section 9) behind theory.h. Exports fg_schwinger_ops.
 *
 * Field: two angle components per site, theta_mu(x) at dof mu V + x
 * (u1.h, dirac.h). Action, exact in the determinant (what flows train on):
 *   S = -beta sum_x cos p(x) - log det D^dagger D            (kappa > 0)
 * and the pure gauge theory at kappa = 0 (D = 1). A configuration on which D
 * is singular has S = +inf (weight 0) and a zero fermion force.
 *
 * HMC (hmc.h) with two flavours: one pseudofermion field phi = D^dagger eta,
 * S_pf = phi^dagger (D^dagger D)^-1 phi, solved by conjugate gradient to the
 * relative residual of the theory's solver (fg_theory_set_solver; default
 * 1e-10 in at most 10000 iterations, counted in its stats). The trajectory's stream: ndof
 * normals (the momenta), then 2N normals (eta's real and imaginary parts,
 * each scaled by 1/sqrt 2 so that eta has density exp(-eta^dagger eta)),
 * N = 2V; then HMC's one uniform. At kappa = 0 there are no pseudofermions.
 *
 * Observables (primaries per configuration, all from one LU and inverse of
 * D when kappa > 0): plaq = <cos p>, q = Q, q2 = Q^2, and with fermions the
 * pion correlator C_t, t = 0..L0-1 (dirac.h: all-to-all), and the derived
 * effective mass m_pi = arccosh((C(t-1) + C(t+1)) / (2 C(t))) at t = L0/2.
 *
 * Not thread-safe on one theory object (its Dirac workspace is shared by
 * the action, force and HMC hooks); measuring contexts have their own.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "flowgen/dirac.h"
#include "flowgen/theory.h"
#include "flowgen/u1.h"
#include "theory_internal.h"

#define FG_SCHWINGER_CG_TOL 1e-10  /* hmc.cg_tolerance's default */
#define FG_SCHWINGER_CG_MAX 10000  /* hmc.cg_max_iterations's default */

enum { P_PLAQ = 0, P_Q = 1, P_Q2 = 2, P_CORR = 3 };

typedef struct {
  fg_dirac *dirac;           /* NULL at kappa = 0 */
  double *grad;              /* ndof */
  double complex *chi;       /* N: (D^dagger D)^-1 phi */
  fg_observable obs[FG_MAX_OBSERVABLES];
  char names[FG_MAX_OBSERVABLES][16];
  fg_solver cg;              /* settings and counts of the pseudofermion solves */
} schwinger;

static schwinger *priv(const fg_theory *t) { return t->desc.priv; }

/* theory.fermion_bc as the Dirac operator's signs: -1 antiperiodic, +1
 * periodic; without the key (n_fermion_bc = 0), antiperiodic in time and
 * periodic in space. */
static void fermion_signs(const fg_theory_config *c, int bc[2])
{
  for (int mu = 0; mu < 2; ++mu) {
    int kind = mu < c->n_fermion_bc ? c->fermion_bc[mu]
                                    : (mu == 0 ? FG_BC_ANTIPERIODIC : FG_BC_PERIODIC);
    bc[mu] = kind == FG_BC_PERIODIC ? 1 : -1;
  }
}

static void schwinger_teardown(void *p)
{
  schwinger *s = p;
  if (s == NULL)
    return;
  fg_dirac_destroy(s->dirac);
  fg_free(s->grad);
  fg_free(s->chi);
  fg_free(s);
}

/* The determinant of all lanes at once (fg_dirac_logdet_lanes: FG_VLEN
 * configurations per LU); a singular configuration has log det = -inf,
 * so S = +inf, and a zero fermion force. */
static void schwinger_action(const fg_theory *t, const double *phi, int lanes, double *S)
{
  schwinger *s = priv(t);
  if (s->dirac != NULL)
    fg_dirac_logdet_lanes(s->dirac, phi, lanes, S, NULL, NULL); /* S[l] = log det, for now */
  for (int l = 0; l < lanes; ++l) {
    double gauge = fg_u1_gauge_action(&t->lat, phi + l, (size_t)lanes, t->cfg.beta);
    S[l] = s->dirac != NULL ? gauge - S[l] : gauge;
  }
}

static void schwinger_force(const fg_theory *t, const double *phi, int lanes, double *dS)
{
  schwinger *s = priv(t);
  const int ndof = 2 * t->lat.volume;
  if (s->dirac != NULL)
    fg_dirac_logdet_lanes(s->dirac, phi, lanes, NULL, dS, NULL); /* d log det, for now */
  for (int l = 0; l < lanes; ++l) {
    fg_u1_gauge_force(&t->lat, phi + l, (size_t)lanes, t->cfg.beta, s->grad, 1);
    for (int i = 0; i < ndof; ++i) {
      double *f = dS + (size_t)i * (size_t)lanes + l;
      *f = s->dirac != NULL ? s->grad[i] - *f : s->grad[i];
    }
  }
}

/* ------------------------------------------------------------- HMC hooks */

static void schwinger_hmc_refresh(const fg_theory *t, const double *phi, fg_rng *r, double *mom,
                                  double *aux)
{
  schwinger *s = priv(t);
  fg_rng_normals(r, mom, (size_t)(2 * t->lat.volume));
  if (s->dirac == NULL)
    return;
  const int n = fg_dirac_size(s->dirac);
  double complex *eta = s->chi; /* scratch until the first solve */
  fg_rng_normals(r, (double *)eta, 2 * (size_t)n);
  for (int i = 0; i < n; ++i)
    eta[i] *= M_SQRT1_2;
  fg_dirac_apply(s->dirac, phi, 1, eta, (double complex *)aux, 1);
}

/* chi = (D^dagger D)^-1 phi_pf; 0 on success. */
static int solve(const fg_theory *t, const double *phi, const double *aux)
{
  schwinger *s = priv(t);
  fg_error err = {0};
  int its = 0;
  int rc = fg_dirac_cg(s->dirac, phi, 1, (const double complex *)aux, s->chi, s->cg.tolerance,
                       s->cg.max_iterations, &its, &err);
  s->cg.solves++;
  s->cg.iterations += its;
  s->cg.failures += rc != FG_OK;
  s->cg.most = its > s->cg.most ? its : s->cg.most;
  return rc;
}

static void schwinger_hmc_action(const fg_theory *t, const double *phi, const double *aux,
                                 double *S)
{
  schwinger *s = priv(t);
  *S = fg_u1_gauge_action(&t->lat, phi, 1, t->cfg.beta);
  if (s->dirac == NULL)
    return;
  if (solve(t, phi, aux) != FG_OK) {
    *S = HUGE_VAL; /* rejected */
    return;
  }
  const double complex *p = (const double complex *)aux;
  double complex e = 0;
  for (int i = 0; i < fg_dirac_size(s->dirac); ++i)
    e += conj(p[i]) * s->chi[i];
  *S += creal(e);
}

static void schwinger_hmc_force(const fg_theory *t, const double *phi, const double *aux,
                                double *dS)
{
  schwinger *s = priv(t);
  fg_u1_gauge_force(&t->lat, phi, 1, t->cfg.beta, dS, 1);
  if (s->dirac == NULL)
    return;
  if (solve(t, phi, aux) != FG_OK) { /* a blown-up trajectory: its dH is not finite */
    for (int i = 0; i < 2 * t->lat.volume; ++i)
      dS[i] = NAN;
    return;
  }
  fg_dirac_pseudofermion_force(s->dirac, phi, 1, s->chi, dS, 1);
}

/* ------------------------------------------------------------ observables */

typedef struct {
  const fg_theory *t;
  fg_dirac *dirac; /* its own workspace; NULL at kappa = 0 */
} measure;

static int schwinger_obs_create(const fg_theory *t, void **ctx, fg_error *err)
{
  static const char where[] = "schwinger_obs_create [schwinger.c]";
  measure *m = fg_alloc(sizeof *m, err, where);
  if (m == NULL)
    return FG_ERR_RUNTIME;
  m->t = t;
  if (t->cfg.kappa > 0.0) {
    int bc[2];
    fermion_signs(&t->cfg, bc);
    int rc = fg_dirac_create(&t->lat, t->cfg.kappa, bc, &m->dirac, err);
    if (rc != FG_OK) {
      fg_free(m);
      return rc;
    }
  }
  *ctx = m;
  return FG_OK;
}

static void schwinger_obs_destroy(void *ctx)
{
  measure *m = ctx;
  if (m == NULL)
    return;
  fg_dirac_destroy(m->dirac);
  fg_free(m);
}

static void schwinger_obs_primaries(void *ctx, const double *phi, size_t stride, double *prim)
{
  measure *m = ctx;
  const fg_lattice *lat = &m->t->lat;
  prim[P_PLAQ] = fg_u1_mean_plaquette(lat, phi, stride);
  prim[P_Q] = fg_u1_topological_charge(lat, phi, stride);
  prim[P_Q2] = prim[P_Q] * prim[P_Q];
  if (m->dirac == NULL)
    return;
  fg_error err = {0};
  if (fg_dirac_pion_correlator(m->dirac, phi, stride, prim + P_CORR, &err) != FG_OK)
    for (int t = 0; t < lat->extent[0]; ++t)
      prim[P_CORR + t] = NAN;
}

static double pion_mass(const double *abar, void *ctx)
{
  const fg_theory *t = ctx;
  const int mid = t->lat.extent[0] / 2;
  const double *c = abar + P_CORR;
  return acosh((c[mid - 1] + c[mid + 1]) / (2.0 * c[mid]));
}

/* ------------------------------------------------------------------ setup */

static const char *const schwinger_layers[] = {"gauge_coupling", NULL};

static int declare_observables(const fg_theory *t, schwinger *s, fg_theory_desc *d)
{
  static const char *const simple[] = {"plaq", "q", "q2"};
  int k = 0;
  for (; k < 3; ++k)
    s->obs[k] = (fg_observable){.name = simple[k], .primary = k};
  d->nprimaries = 3;
  if (s->dirac != NULL) {
    const int l0 = t->lat.extent[0];
    for (int c = 0; c < l0 && k < FG_MAX_OBSERVABLES - 1; ++c, ++k) {
      snprintf(s->names[k], sizeof s->names[k], "C_%d", c);
      s->obs[k] = (fg_observable){.name = s->names[k], .primary = P_CORR + c};
    }
    s->obs[k++] = (fg_observable){.name = "m_pi", .primary = -1, .derived = pion_mass};
    d->nprimaries = 3 + l0;
  }
  d->nobservables = k;
  d->observables = s->obs;
  return FG_OK;
}

static int schwinger_setup(const fg_theory *t, fg_theory_desc *d, fg_error *err)
{
  static const char where[] = "schwinger_setup [schwinger.c]";
  const fg_theory_config *c = &t->cfg;
  if (t->lat.nd != 2 || t->lat.extent[0] < 4 || t->lat.extent[1] < 2)
    return fg_fail(err, FG_ERR_INPUT, where,
                   "theory schwinger needs a 2D lattice with L0 >= 4 and L1 >= 2");
  if (!(c->beta >= 0.0) || !isfinite(c->beta) || !(c->kappa >= 0.0) || !isfinite(c->kappa))
    return fg_fail(err, FG_ERR_INPUT, where, "theory schwinger: beta %g and kappa %g must be >= 0",
                   c->beta, c->kappa);
  if (t->lat.extent[0] + 4 > FG_MAX_OBSERVABLES)
    return fg_fail(err, FG_ERR_INPUT, where,
                   "theory schwinger: L0 = %d: the pion correlator is measured for L0 <= %d",
                   t->lat.extent[0], FG_MAX_OBSERVABLES - 4);
  schwinger *s = fg_alloc(sizeof *s, err, where);
  if (s == NULL)
    return FG_ERR_RUNTIME;
  d->priv = s;
  d->components = 2;
  d->kind[0] = d->kind[1] = FG_COMPONENT_ANGLE;
  d->default_base = FG_BASE_HAAR;
  d->z2_symmetric = 1; /* charge conjugation: theta -> -theta, Q -> -Q */
  d->layers = schwinger_layers;
  s->grad = fg_alloc(sizeof(double) * 2 * (size_t)t->lat.volume, err, where);
  s->chi = fg_alloc(sizeof(double complex) * 2 * (size_t)t->lat.volume, err, where);
  if (s->grad == NULL || s->chi == NULL)
    return FG_ERR_RUNTIME; /* the caller tears down d->priv */
  if (c->kappa > 0.0) {
    int bc[2];
    fermion_signs(c, bc);
    int rc = fg_dirac_create(&t->lat, c->kappa, bc, &s->dirac, err);
    if (rc != FG_OK)
      return rc;
    s->cg = (fg_solver){.tolerance = FG_SCHWINGER_CG_TOL, .max_iterations = FG_SCHWINGER_CG_MAX};
    d->solver = &s->cg;
    d->hmc_aux = 4 * (size_t)t->lat.volume; /* phi: N = 2V complex numbers */
    d->hmc_stream = "ndof normals (the momenta), then 4V normals (the pseudofermion source "
                    "eta, real and imaginary parts, each times 1/sqrt 2; phi = D^dagger eta)";
  } else {
    d->hmc_stream = "ndof normals (the momenta)";
  }
  return declare_observables(t, s, d);
}

const fg_theory_ops fg_schwinger_ops = {
    .name = "schwinger",
    .setup = schwinger_setup,
    .teardown = schwinger_teardown,
    .action = schwinger_action,
    .force = schwinger_force,
    .hmc_refresh = schwinger_hmc_refresh,
    .hmc_action = schwinger_hmc_action,
    .hmc_force = schwinger_hmc_force,
    .obs_create = schwinger_obs_create,
    .obs_destroy = schwinger_obs_destroy,
    .obs_primaries = schwinger_obs_primaries,
};
