/*
 * phi4_observables.c -- phi^4 observables (SPEC section 6): per-configuration
 * primaries by FFT (contracts in phi4.h), and the declared observables with
 * their derived quantities (phi4_internal.h). All functions are local.
 *
 *   int fg_phi4_obs_create(const fg_lattice *lat, fg_phi4_obs **out, fg_error *err)
 *   void fg_phi4_obs_destroy(fg_phi4_obs *o)
 *     A context with the r2c/c2r plans (FFTW_ESTIMATE, so identical runs give
 *     identical bits) and buffers for one lattice geometry.
 *
 *   void fg_phi4_obs_primaries(fg_phi4_obs *o, const double *phi, size_t stride,
 *                              double *prim)
 *     prim[FG_PHI4_NPRIM] of the configuration phi[x * stride].
 *
 *   void fg_phi4_obs_two_point(fg_phi4_obs *o, const double *phi, size_t stride,
 *                              double *G)
 *     G[x] = (1/V) sum_y phi(y) phi(y+x), from |phi~(k)|^2 by r2c then c2r.
 *
 *   int fg_phi4_primaries(const fg_lattice *lat, const double *phi, double *prim,
 *                         fg_error *err)
 *     The primaries of one configuration with a temporary context.
 *
 *   const fg_observable phi4_observables[FG_PHI4_NOBS]   (phi4_internal.h)
 *     m, abs_m, m2, phi2 (means of primaries), chi2, e_ising, xi2 (derived;
 *     ctx = the theory, whose lattice gives V, d and the extents).
 */
#include <fftw3.h>
#include <math.h>
#include <string.h>

#include "flowgen/phi4.h"
#include "phi4_internal.h"

struct fg_phi4_obs {
  int nd, extent[FG_MAXDIM], volume;
  size_t nspec;             /* complex entries of the r2c output */
  double *field;            /* [V]     r2c input */
  fftw_complex *spec;       /* [nspec] phi~(k), last dimension halved */
  fftw_complex *power;      /* [nspec] c2r input (destroyed by it) */
  double *corr;             /* [V]     c2r output */
  double *link_weight;      /* [nspec] see link_weights() */
  size_t gp_index[FG_MAXDIM]; /* position of p_mu in spec */
  fftw_plan r2c, c2r;
};

/* The link primary (1/d) sum_mu G(mu-hat) read off the power spectrum:
 * G(mu-hat) = V^-2 sum_k |phi~(k)|^2 cos(k_mu). The r2c output holds only
 * k_last <= L_last/2, so every other entry stands for itself and its
 * mirror image -k and counts twice. */
static void link_weights(fg_phi4_obs *o)
{
  int d = o->nd, lh = o->extent[d - 1] / 2 + 1;
  double v2 = (double)o->volume * (double)o->volume;
  for (size_t j = 0; j < o->nspec; ++j) {
    int k[FG_MAXDIM];
    size_t r = j;
    k[d - 1] = (int)(r % (size_t)lh);
    r /= (size_t)lh;
    for (int mu = d - 2; mu >= 0; --mu) {
      k[mu] = (int)(r % (size_t)o->extent[mu]);
      r /= (size_t)o->extent[mu];
    }
    int last = k[d - 1];
    double mult = (last == 0 || 2 * last == o->extent[d - 1]) ? 1.0 : 2.0;
    double c = 0.0;
    for (int mu = 0; mu < d; ++mu)
      c += cos(2.0 * M_PI * k[mu] / o->extent[mu]);
    o->link_weight[j] = mult * c / (d * v2);
  }
}

/* Where p_mu = (2 pi / L_mu) mu-hat sits in the r2c output. */
static void momentum_positions(fg_phi4_obs *o)
{
  int d = o->nd;
  size_t stride = (size_t)(o->extent[d - 1] / 2 + 1);
  o->gp_index[d - 1] = 1;
  for (int mu = d - 2; mu >= 0; --mu) {
    o->gp_index[mu] = stride;
    stride *= (size_t)o->extent[mu];
  }
}

static int check_lattice(const fg_lattice *lat, fg_error *err, const char *where)
{
  if (lat == NULL || lat->nd < 1 || lat->nd > FG_MAXDIM)
    return fg_fail(err, FG_ERR_INPUT, where, "no lattice or a dimension outside 1..%d",
                   FG_MAXDIM);
  for (int mu = 0; mu < lat->nd; ++mu)
    if (lat->extent[mu] < 2)
      return fg_fail(err, FG_ERR_INPUT, where, "extent %d of direction %d: need >= 2",
                     lat->extent[mu], mu);
  return FG_OK;
}

int fg_phi4_obs_create(const fg_lattice *lat, fg_phi4_obs **out, fg_error *err)
{
  static const char where[] = "fg_phi4_obs_create [phi4_observables.c]";
  *out = NULL;
  int rc = check_lattice(lat, err, where);
  if (rc != FG_OK)
    return rc;
  fg_phi4_obs *o = fg_alloc(sizeof *o, err, where);
  if (o == NULL)
    return FG_ERR_RUNTIME;
  o->nd = lat->nd;
  o->volume = lat->volume;
  memcpy(o->extent, lat->extent, sizeof o->extent);
  size_t v = (size_t)lat->volume;
  o->nspec = v / (size_t)o->extent[o->nd - 1] * (size_t)(o->extent[o->nd - 1] / 2 + 1);
  o->field = fg_alloc(sizeof(double) * v, err, where);
  o->corr = fg_alloc(sizeof(double) * v, err, where);
  o->spec = fg_alloc(sizeof(fftw_complex) * o->nspec, err, where);
  o->power = fg_alloc(sizeof(fftw_complex) * o->nspec, err, where);
  o->link_weight = fg_alloc(sizeof(double) * o->nspec, err, where);
  if (!o->field || !o->corr || !o->spec || !o->power || !o->link_weight) {
    fg_phi4_obs_destroy(o);
    return FG_ERR_RUNTIME;
  }
  o->r2c = fftw_plan_dft_r2c(o->nd, o->extent, o->field, o->spec, FFTW_ESTIMATE);
  o->c2r = fftw_plan_dft_c2r(o->nd, o->extent, o->power, o->corr, FFTW_ESTIMATE);
  if (o->r2c == NULL || o->c2r == NULL) {
    fg_phi4_obs_destroy(o);
    return fg_fail(err, FG_ERR_RUNTIME, where, "FFTW could not plan the %dD transforms", lat->nd);
  }
  link_weights(o);
  momentum_positions(o);
  *out = o;
  return FG_OK;
}

void fg_phi4_obs_destroy(fg_phi4_obs *o)
{
  if (o == NULL)
    return;
  if (o->r2c != NULL)
    fftw_destroy_plan(o->r2c);
  if (o->c2r != NULL)
    fftw_destroy_plan(o->c2r);
  fg_free(o->field), fg_free(o->corr), fg_free(o->spec), fg_free(o->power);
  fg_free(o->link_weight);
  fg_free(o);
}

/* Copies the configuration into the planned input buffer and transforms it. */
static void transform(fg_phi4_obs *o, const double *phi, size_t stride)
{
  for (int x = 0; x < o->volume; ++x)
    o->field[x] = phi[(size_t)x * stride];
  fftw_execute(o->r2c);
}

void fg_phi4_obs_primaries(fg_phi4_obs *o, const double *phi, size_t stride, double *prim)
{
  double v = (double)o->volume, m = 0.0, p2 = 0.0;
  transform(o, phi, stride);
  for (int x = 0; x < o->volume; ++x) {
    m += o->field[x];
    p2 += o->field[x] * o->field[x];
  }
  m /= v;
  double link = 0.0;
  for (size_t j = 0; j < o->nspec; ++j)
    link += o->link_weight[j] * (o->spec[j][0] * o->spec[j][0] + o->spec[j][1] * o->spec[j][1]);
  memset(prim, 0, sizeof(double) * FG_PHI4_NPRIM);
  prim[FG_PHI4_P_M] = m;
  prim[FG_PHI4_P_ABS_M] = fabs(m);
  prim[FG_PHI4_P_M2] = m * m;
  prim[FG_PHI4_P_PHI2] = p2 / v;
  prim[FG_PHI4_P_LINK] = link;
  for (int mu = 0; mu < o->nd; ++mu) {
    const double *c = o->spec[o->gp_index[mu]];
    prim[FG_PHI4_P_GP + mu] = (c[0] * c[0] + c[1] * c[1]) / v;
  }
}

void fg_phi4_obs_two_point(fg_phi4_obs *o, const double *phi, size_t stride, double *G)
{
  transform(o, phi, stride);
  for (size_t j = 0; j < o->nspec; ++j) {
    o->power[j][0] = o->spec[j][0] * o->spec[j][0] + o->spec[j][1] * o->spec[j][1];
    o->power[j][1] = 0.0;
  }
  fftw_execute(o->c2r);
  /* c2r is unnormalised: sum_k |phi~(k)|^2 e^{ikx} = V sum_y phi(y) phi(y+x). */
  double v2 = (double)o->volume * (double)o->volume;
  for (int x = 0; x < o->volume; ++x)
    G[x] = o->corr[x] / v2;
}

int fg_phi4_primaries(const fg_lattice *lat, const double *phi, double *prim, fg_error *err)
{
  fg_phi4_obs *o;
  int rc = fg_phi4_obs_create(lat, &o, err);
  if (rc != FG_OK)
    return rc;
  fg_phi4_obs_primaries(o, phi, 1, prim);
  fg_phi4_obs_destroy(o);
  return FG_OK;
}

/* ---- derived observables ------------------------------------------------ */

static double chi2_of(const double *a, void *ctx)
{
  const fg_lattice *lat = fg_theory_lattice(ctx);
  return (double)lat->volume * (a[FG_PHI4_P_M2] - a[FG_PHI4_P_M] * a[FG_PHI4_P_M]);
}

static double e_ising_of(const double *a, void *ctx)
{
  (void)ctx;
  return a[FG_PHI4_P_LINK] - a[FG_PHI4_P_M] * a[FG_PHI4_P_M];
}

/* Directions of equal extent share one Gt(p_min), the mean over the group,
 * so an L^d lattice gets the usual direction-averaged definition. */
static double xi2_of(const double *a, void *ctx)
{
  const fg_lattice *lat = fg_theory_lattice(ctx);
  double chi2 = chi2_of(a, ctx), sum = 0.0;
  for (int mu = 0; mu < lat->nd; ++mu) {
    double gp = 0.0;
    int count = 0;
    for (int nu = 0; nu < lat->nd; ++nu)
      if (lat->extent[nu] == lat->extent[mu]) {
        gp += a[FG_PHI4_P_GP + nu];
        ++count;
      }
    gp /= count;
    double s = sin(M_PI / lat->extent[mu]);
    sum += (chi2 / gp - 1.0) / (4.0 * s * s);
  }
  return sum / lat->nd;
}

const fg_observable phi4_observables[FG_PHI4_NOBS] = {
    [FG_PHI4_M] = {"m", FG_PHI4_P_M, NULL},
    [FG_PHI4_ABS_M] = {"abs_m", FG_PHI4_P_ABS_M, NULL},
    [FG_PHI4_M2] = {"m2", FG_PHI4_P_M2, NULL},
    [FG_PHI4_PHI2] = {"phi2", FG_PHI4_P_PHI2, NULL},
    [FG_PHI4_CHI2] = {"chi2", -1, chi2_of},
    [FG_PHI4_E_ISING] = {"e_ising", -1, e_ising_of},
    [FG_PHI4_XI2] = {"xi2", -1, xi2_of},
};
