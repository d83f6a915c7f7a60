/*
 * free_field.c -- the free-field base layer (model.base: free_field; SPEC
 * section 5, seed eq. A2).
 *
 *   int fg_free_field_create(const fg_model_config *m, const fg_lattice *lat,
 *                            size_t param_offset, fg_layer **out, fg_error *err)
 *     The linear layer phi -> M phi with M = F^-1 diag(sigma_k) F, i.e. in
 *     momentum space phi(k) -> sigma_k phi(k), where
 *       sigma_k^-2 = |mu| + khat^2,  khat^2 = sum_nu (2 - 2 cos k_nu),
 *       k_nu = 2 pi n_nu / L_nu,
 *     over every direction of the lattice (any dimension). Its log-Jacobian
 *     is the constant log J = sum_k log sigma_k = -1/2 sum_k log(|mu| + khat^2).
 *     With mu = m2 it maps standard normal noise to the free theory
 *     S = 1/2 phi (-Laplacian + m2) phi exactly (docs/model.md convention).
 *     One parameter, mu itself, at param_offset of the flat vector; until
 *     set_params it is m->mu_init. The layer uses |mu| so that an optimizer
 *     step that takes mu below zero still gives a well-defined map (the
 *     gradient carries the sign); mu = 0 exactly leaves the zero mode with
 *     infinite width (inf/NaN results), so the flow must start from mu_init.
 *     Local. The FFTW plans are made here (FFTW_ESTIMATE: identical runs give
 *     identical bits); FFTW's planner is not thread-safe, so create layers
 *     from one thread at a time. Once made, the layer may be used by several
 *     threads at once, each with its own workspace.
 *
 *   const fg_layer_type fg_free_field_type
 *     One instance when model.base = free_field (none otherwise), acting
 *     first; it declares one tensor, base/mu, a scalar initialised to the
 *     constant model.mu_init (no random draw), costing no FLOPs in the
 *     convolution count.
 *
 * M is real and symmetric (sigma_k is even in k), so backward applies M to
 * gphi and the score's transpose solve (fg_flow_score_backward) M^-1. The
 * workspace holds a real and a complex block buffer and, after a saving
 * forward, the spectrum Z of the input, from which
 *   d phi / d|mu| = F^-1 diag(-1/2 sigma_k^3) Z
 * is contracted with gphi in momentum space (Parseval), at no extra
 * transform. Workspaces must be 64-byte aligned (fg_alloc), as the plans'
 * arrays are, so that FFTW's new-array execute may use them.
 */
#include <fftw3.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "flowgen/flow.h"

enum { L = FG_VLEN };

typedef struct {
  fg_layer base;
  int volume;
  int ncomplex;          /* modes of the half spectrum FFTW's r2c stores */
  fftw_plan r2c, c2r;    /* howmany = L lanes, stride L, distance 1 */
  double *khat2;         /* [ncomplex] */
  double *weight;        /* [ncomplex]: 1 or 2, how many k of the full spectrum */
  double *sigma;         /* [ncomplex]: sigma_k / V (FFTW does not normalise) */
  double *isigma;        /* [ncomplex]: 1 / (sigma_k V) */
  double *dsigma;        /* [ncomplex]: weight * d sigma_k / d|mu| / V */
  double mu;             /* the parameter as stored (signed) */
  double logdet;         /* sum_k log sigma_k */
  double dlogdet;        /* d logdet / d|mu| */
  size_t cbuf_off, zsave_off, bytes; /* workspace layout */
} free_field;

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

static size_t free_field_work_bytes(const fg_layer *layer)
{
  return ((const free_field *)layer)->bytes;
}

/* Tabulates everything that depends on mu, so the passes only multiply. */
static void free_field_set_mu(free_field *f, double mu)
{
  const double a = fabs(mu), inv_v = 1.0 / f->volume;
  double logdet = 0.0, dlogdet = 0.0;
  f->mu = mu;
  for (int c = 0; c < f->ncomplex; ++c) {
    double p = a + f->khat2[c], s = 1.0 / sqrt(p);
    f->sigma[c] = s * inv_v;
    f->isigma[c] = sqrt(p) * inv_v;
    f->dsigma[c] = f->weight[c] * (-0.5 * s * s * s) * inv_v;
    logdet += f->weight[c] * -0.5 * log(p);
    dlogdet += f->weight[c] * -0.5 / p;
  }
  f->logdet = logdet;
  f->dlogdet = dlogdet;
}

static void free_field_set_params(fg_layer *layer, const float *params)
{
  free_field_set_mu((free_field *)layer, (double)params[0]);
}

/* phi <- F^-1 diag(mult) F phi for the L lanes; if zsave != NULL the
 * spectrum of the input is left there. phi goes through the workspace's
 * buffer because the caller's array need not have the plans' alignment. */
static void apply_diagonal(const free_field *f, void *ws, double *phi, const double *mult,
                           fftw_complex *zsave)
{
  double *rbuf = ws;
  fftw_complex *cbuf = (fftw_complex *)((char *)ws + f->cbuf_off);
  fftw_complex *spec = zsave ? zsave : cbuf;
  memcpy(rbuf, phi, sizeof(double) * (size_t)f->volume * L);
  fftw_execute_dft_r2c(f->r2c, rbuf, spec);
  for (int c = 0; c < f->ncomplex; ++c)
    for (int l = 0; l < L; ++l) {
      size_t i = (size_t)c * L + l;
      cbuf[i][0] = mult[c] * spec[i][0];
      cbuf[i][1] = mult[c] * spec[i][1];
    }
  fftw_execute_dft_c2r(f->c2r, cbuf, rbuf); /* destroys cbuf, not spec */
  memcpy(phi, rbuf, sizeof(double) * (size_t)f->volume * L);
}

static void free_field_forward(const fg_layer *layer, void *ws, double *phi, double *logdet,
                               int save)
{
  const free_field *f = (const free_field *)layer;
  fftw_complex *zsave = save ? (fftw_complex *)((char *)ws + f->zsave_off) : NULL;
  apply_diagonal(f, ws, phi, f->sigma, zsave);
  for (int l = 0; l < L; ++l)
    logdet[l] += f->logdet;
}

static void free_field_inverse(const fg_layer *layer, void *ws, double *phi, double *logdet)
{
  const free_field *f = (const free_field *)layer;
  apply_diagonal(f, ws, phi, f->isigma, NULL);
  for (int l = 0; l < L; ++l)
    logdet[l] += f->logdet;
}

/* J = M is symmetric: J^-T u = M^-1 u. apply_diagonal uses the workspace's
 * buffers only, not the saved spectrum, which backward still needs. */
static void free_field_transpose_solve(const fg_layer *layer, void *ws, double *u)
{
  const free_field *f = (const free_field *)layer;
  apply_diagonal(f, ws, u, f->isigma, NULL);
}

static void free_field_backward(const fg_layer *layer, void *ws, double *gphi,
                                const double *glogdet, double *gparams)
{
  const free_field *f = (const free_field *)layer;
  double *rbuf = ws;
  fftw_complex *cbuf = (fftw_complex *)((char *)ws + f->cbuf_off);
  const fftw_complex *z = (const fftw_complex *)((const char *)ws + f->zsave_off);
  memcpy(rbuf, gphi, sizeof(double) * (size_t)f->volume * L);
  fftw_execute_dft_r2c(f->r2c, rbuf, cbuf);
  /* <gphi, dphi/d|mu|> = (1/V) sum_k Re(conj G_k Z_k) dsigma_k/d|mu|, the
   * half spectrum counted with its weights (folded into dsigma). */
  double gmu = 0.0;
  for (int c = 0; c < f->ncomplex; ++c) {
    double acc = 0.0;
    for (int l = 0; l < L; ++l) {
      size_t i = (size_t)c * L + l;
      acc += cbuf[i][0] * z[i][0] + cbuf[i][1] * z[i][1];
      cbuf[i][0] *= f->sigma[c];
      cbuf[i][1] *= f->sigma[c];
    }
    gmu += f->dsigma[c] * acc;
  }
  fftw_execute_dft_c2r(f->c2r, cbuf, rbuf);
  memcpy(gphi, rbuf, sizeof(double) * (size_t)f->volume * L);
  for (int l = 0; l < L; ++l)
    gmu += glogdet[l] * f->dlogdet;
  gparams[0] += f->mu < 0.0 ? -gmu : gmu; /* d|mu|/dmu */
}

static void free_field_destroy(fg_layer *layer)
{
  free_field *f = (free_field *)layer;
  if (f == NULL)
    return;
  if (f->r2c)
    fftw_destroy_plan(f->r2c);
  if (f->c2r)
    fftw_destroy_plan(f->c2r);
  fg_free(f->khat2);
  fg_free(f->weight);
  fg_free(f->sigma);
  fg_free(f->isigma);
  fg_free(f->dsigma);
  fg_free(f);
}

static const fg_layer_ops free_field_ops = {
    .name = "free_field",
    .forward = free_field_forward,
    .inverse = free_field_inverse,
    .backward = free_field_backward,
    .set_params = free_field_set_params,
    .work_bytes = free_field_work_bytes,
    .destroy = free_field_destroy,
    .transpose_solve = free_field_transpose_solve,
};

/* khat^2 and the multiplicity of each mode of the half spectrum, stored
 * [L0]...[L_{d-2}][L_{d-1}/2 + 1] in C order. A mode with last index n
 * stands for itself and -k unless n = 0 or 2n = L_{d-1}. */
static void tabulate_modes(free_field *f, const fg_lattice *lat)
{
  const int d = lat->nd, last = lat->extent[d - 1], nlast = last / 2 + 1;
  for (int c = 0; c < f->ncomplex; ++c) {
    int rest = c, n = rest % nlast;
    double k2 = 2.0 - 2.0 * cos(2.0 * M_PI * n / last);
    f->weight[c] = (n == 0 || 2 * n == last) ? 1.0 : 2.0;
    rest /= nlast;
    for (int nu = d - 2; nu >= 0; --nu) {
      int m = rest % lat->extent[nu];
      rest /= lat->extent[nu];
      k2 += 2.0 - 2.0 * cos(2.0 * M_PI * m / lat->extent[nu]);
    }
    f->khat2[c] = k2;
  }
}

/* Plans on scratch arrays of the workspace's alignment; they are not needed
 * afterwards since only the new-array execute functions are used. */
static int make_plans(free_field *f, const fg_lattice *lat, fg_error *err)
{
  static const char where[] = "fg_free_field_create [free_field.c]";
  double *r = fftw_malloc(sizeof(double) * (size_t)f->volume * L);
  fftw_complex *c = fftw_malloc(sizeof(fftw_complex) * (size_t)f->ncomplex * L);
  int rc = FG_OK;
  if (r == NULL || c == NULL) {
    rc = fg_fail(err, FG_ERR_RUNTIME, where, "out of memory for the FFT buffers");
  } else {
    f->r2c = fftw_plan_many_dft_r2c(lat->nd, lat->extent, L, r, NULL, L, 1, c, NULL, L, 1,
                                    FFTW_ESTIMATE);
    f->c2r = fftw_plan_many_dft_c2r(lat->nd, lat->extent, L, c, NULL, L, 1, r, NULL, L, 1,
                                    FFTW_ESTIMATE);
    if (f->r2c == NULL || f->c2r == NULL)
      rc = fg_fail(err, FG_ERR_RUNTIME, where, "FFTW could not plan a %d-dimensional transform",
                   lat->nd);
  }
  fftw_free(r);
  fftw_free(c);
  return rc;
}

int fg_free_field_create(const fg_model_config *m, const fg_lattice *lat, size_t param_offset,
                         fg_layer **out, fg_error *err)
{
  static const char where[] = "fg_free_field_create [free_field.c]";
  *out = NULL;
  free_field *f = fg_alloc(sizeof *f, err, where);
  if (f == NULL)
    return FG_ERR_RUNTIME;
  f->base.ops = &free_field_ops;
  f->base.param_offset = param_offset;
  f->base.nparams = 1;
  f->volume = lat->volume;
  f->ncomplex = lat->volume / lat->extent[lat->nd - 1] * (lat->extent[lat->nd - 1] / 2 + 1);
  const size_t nc = (size_t)f->ncomplex;
  f->khat2 = fg_alloc(sizeof(double) * nc, err, where);
  f->weight = fg_alloc(sizeof(double) * nc, err, where);
  f->sigma = fg_alloc(sizeof(double) * nc, err, where);
  f->isigma = fg_alloc(sizeof(double) * nc, err, where);
  f->dsigma = fg_alloc(sizeof(double) * nc, err, where);
  int rc = f->khat2 && f->weight && f->sigma && f->isigma && f->dsigma ? FG_OK : FG_ERR_RUNTIME;
  if (rc == FG_OK)
    rc = make_plans(f, lat, err);
  if (rc != FG_OK) {
    free_field_destroy(&f->base);
    return rc;
  }
  tabulate_modes(f, lat);
  free_field_set_mu(f, m->mu_init);
  f->cbuf_off = align64(sizeof(double) * (size_t)f->volume * L);
  f->zsave_off = f->cbuf_off + align64(sizeof(fftw_complex) * nc * L);
  f->bytes = f->zsave_off + sizeof(fftw_complex) * nc * L;
  *out = &f->base;
  return FG_OK;
}

static int free_field_instances(const fg_model_config *m)
{
  return m->base == FG_BASE_FREE_FIELD ? 1 : 0;
}

static int free_field_declare(const fg_model_config *m, int index, int count,
                              fg_param_layout *lay)
{
  (void)index;
  (void)count;
  fg_param_tensor t = {.depth = 1, .rank = 0, .init = FG_PARAM_CONSTANT, .value = m->mu_init};
  snprintf(t.group[0], sizeof t.group[0], "base");
  snprintf(t.name, sizeof t.name, "mu");
  return fg_param_layout_add(lay, &t);
}

static int free_field_create_instance(const fg_model_config *m, const fg_lattice *lat,
                                      const fg_stencil *st, int index, size_t param_offset,
                                      fg_layer **out, fg_error *err)
{
  (void)st;
  (void)index;
  return fg_free_field_create(m, lat, param_offset, out, err);
}

const fg_layer_type fg_free_field_type = {
    .name = "free_field",
    .acts_first = 1,
    .uses_stencil = 0,
    .instances = free_field_instances,
    .declare = free_field_declare,
    .create = free_field_create_instance,
};
