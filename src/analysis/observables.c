/*
 * observables.c -- phi^4 observables (SPEC section 6): per-configuration
 * primaries by FFT, and the seven named observables by the Gamma method
 * (see analysis.h for the definitions). All functions are local.
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
 *   int fg_phi4_analyze(const fg_lattice *lat, const double *prim_series, size_t n,
 *                       double S, fg_obs_result results[FG_PHI4_NOBS], fg_error *err)
 *     m, abs_m, m2, phi2, chi2, e_ising, xi2 with Gamma-method errors.
 *
 *   int fg_chain_series(const double *table, size_t nrow, size_t ncol,
 *                       const int64_t *index, size_t nchain, double *series,
 *                       fg_error *err)
 *     The chain's series [ncol][nchain] from a per-configuration table.
 */
#include <fftw3.h>
#include <math.h>
#include <string.h>

#include "flowgen/analysis.h"

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
  static const char where[] = "fg_phi4_obs_create [observables.c]";
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

typedef struct {
  int nd, extent[FG_MAXDIM];
  double volume;
} geometry;

static double chi2_of(const double *a, void *ctx)
{
  const geometry *g = ctx;
  return g->volume * (a[FG_PHI4_P_M2] - a[FG_PHI4_P_M] * a[FG_PHI4_P_M]);
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
  const geometry *g = ctx;
  double chi2 = chi2_of(a, ctx), sum = 0.0;
  for (int mu = 0; mu < g->nd; ++mu) {
    double gp = 0.0;
    int count = 0;
    for (int nu = 0; nu < g->nd; ++nu)
      if (g->extent[nu] == g->extent[mu]) {
        gp += a[FG_PHI4_P_GP + nu];
        ++count;
      }
    gp /= count;
    double s = sin(M_PI / g->extent[mu]);
    sum += (chi2 / gp - 1.0) / (4.0 * s * s);
  }
  return sum / g->nd;
}

static void store(fg_obs_result *r, const char *name, const fg_gamma_result *g)
{
  r->name = name;
  r->mean = g->value;
  r->err = g->err;
  r->err_err = g->err_err;
  r->tau_int = g->tau_int;
  r->tau_int_err = g->tau_int_err;
  r->window = g->window;
  r->flags = g->flags;
}

int fg_phi4_analyze(const fg_lattice *lat, const double *prim_series, size_t n, double S,
                    fg_obs_result results[FG_PHI4_NOBS], fg_error *err)
{
  static const char where[] = "fg_phi4_analyze [observables.c]";
  static const struct {
    const char *name;
    int primary;          /* the mean of this primary, or -1: derived */
    fg_gamma_func f;
  } obs[FG_PHI4_NOBS] = {
    [FG_PHI4_M] = {"m", FG_PHI4_P_M, NULL},
    [FG_PHI4_ABS_M] = {"abs_m", FG_PHI4_P_ABS_M, NULL},
    [FG_PHI4_M2] = {"m2", FG_PHI4_P_M2, NULL},
    [FG_PHI4_PHI2] = {"phi2", FG_PHI4_P_PHI2, NULL},
    [FG_PHI4_CHI2] = {"chi2", -1, chi2_of},
    [FG_PHI4_E_ISING] = {"e_ising", -1, e_ising_of},
    [FG_PHI4_XI2] = {"xi2", -1, xi2_of},
  };
  int rc = check_lattice(lat, err, where);
  if (rc != FG_OK)
    return rc;
  geometry g = {.nd = lat->nd, .volume = (double)lat->volume};
  memcpy(g.extent, lat->extent, sizeof g.extent);
  for (int i = 0; i < FG_PHI4_NOBS; ++i) {
    fg_gamma_result r;
    if (obs[i].primary >= 0)
      rc = fg_gamma_mean(prim_series + (size_t)obs[i].primary * n, n, S, &r, err);
    else
      rc = fg_gamma_analyze(prim_series, FG_PHI4_NPRIM, n, obs[i].f, &g, S, &r, err);
    if (rc != FG_OK)
      return rc;
    store(&results[i], obs[i].name, &r);
  }
  return FG_OK;
}

int fg_chain_series(const double *table, size_t nrow, size_t ncol, const int64_t *index,
                    size_t nchain, double *series, fg_error *err)
{
  static const char where[] = "fg_chain_series [observables.c]";
  if (index == NULL && nchain > nrow)
    return fg_fail(err, FG_ERR_INPUT, where, "%zu chain steps but only %zu rows", nchain, nrow);
  for (size_t s = 0; s < nchain; ++s)
    if (index != NULL && (index[s] < 0 || (uint64_t)index[s] >= nrow))
      return fg_fail(err, FG_ERR_INPUT, where, "chain step %zu holds row %lld of %zu", s,
                     (long long)index[s], nrow);
  for (size_t s = 0; s < nchain; ++s) {
    size_t row = index != NULL ? (size_t)index[s] : s;
    for (size_t c = 0; c < ncol; ++c)
      series[c * nchain + s] = table[row * ncol + c];
  }
  return FG_OK;
}
