/*
 * flow.c -- the flow: base distribution, layer list, flat parameters, and
 * forward / inverse / backward over blocks of FG_VLEN samples (see flow.h).
 * All functions are local.
 */
#include <math.h>
#include <string.h>

#include "flow_internal.h"
#include "flowgen/flow.h"
#include "flowgen/rng.h"

enum { L = FG_VLEN };

struct fg_flow {
  fg_model_config m;
  const fg_lattice *lat;
  fg_stencil st;
  int nlayers;
  int alloc_layers;   /* slots in layers (some may be NULL after a failure) */
  fg_layer **layers;
  size_t nparams;
  float *params;
  double flops;
};

struct fg_flow_work {
  int nlayers;
  void **ws;        /* per-layer workspaces, inside mem */
  char *mem;
  double *gphi;     /* [V][L] gradient being propagated */
};

static const double LOG_2PI = 1.8378770664093454836;

void fg_flow_destroy(fg_flow *f)
{
  if (f == NULL)
    return;
  for (int i = 0; i < f->alloc_layers; ++i)
    if (f->layers[i] != NULL)
      f->layers[i]->ops->destroy(f->layers[i]);
  fg_free(f->layers);
  fg_free(f->params);
  fg_stencil_free(&f->st);
  fg_free(f);
}

int fg_flow_create(const fg_model_config *m, const fg_lattice *lat, fg_flow **out,
                   fg_error *err)
{
  static const char where[] = "fg_flow_create [flow.c]";
  *out = NULL;
  fg_flow *f = fg_alloc(sizeof *f, err, where);
  if (f == NULL)
    return FG_ERR_RUNTIME;
  f->m = *m;
  f->lat = lat;
  /* The free-field layer acts first but its parameter (mu) comes last in the
   * canonical order, after every coupling layer's. */
  const int nbase = m->base == FG_BASE_FREE_FIELD ? 1 : 0;
  int rc = m->coupling_layers > 0 ? fg_stencil_init(&f->st, lat, m->kernel_size, err) : FG_OK;
  if (rc == FG_OK) {
    f->layers = fg_alloc(sizeof(fg_layer *) * (size_t)(m->coupling_layers + nbase), err, where);
    rc = f->layers ? FG_OK : FG_ERR_RUNTIME;
    f->alloc_layers = f->layers ? m->coupling_layers + nbase : 0;
  }
  size_t coupling_params = 0;
  for (int i = 0; i < m->coupling_layers && rc == FG_OK; ++i) {
    rc = fg_coupling_create(m, lat, &f->st, i, coupling_params, &f->layers[nbase + i], err);
    if (rc == FG_OK)
      coupling_params += f->layers[nbase + i]->nparams;
  }
  if (rc == FG_OK && nbase)
    rc = fg_free_field_create(m, lat, coupling_params, &f->layers[0], err);
  if (rc == FG_OK) {
    f->nlayers = m->coupling_layers + nbase;
    for (int i = 0; i < f->nlayers; ++i)
      f->nparams += f->layers[i]->nparams;
  }
  if (rc == FG_OK) {
    f->params = fg_alloc(sizeof(float) * f->nparams, err, where);
    rc = f->params ? FG_OK : FG_ERR_RUNTIME;
  }
  if (rc != FG_OK) {
    fg_flow_destroy(f);
    return rc;
  }
  for (int c = 0; c <= m->n_hidden; ++c) {
    int cin, cout;
    fg_conv_shape(m, c, &cin, &cout);
    f->flops += fg_conv_flops(lat->volume, cin, cout, m->kernel_size);
  }
  f->flops *= m->coupling_layers;
  if (nbase)
    f->params[f->nparams - 1] = (float)m->mu_init; /* mu = 0 would be singular */
  fg_flow_set_params(f, f->params);
  *out = f;
  return FG_OK;
}

size_t fg_flow_nparams(const fg_flow *f) { return f->nparams; }
const float *fg_flow_params(const fg_flow *f) { return f->params; }
double fg_flow_flops(const fg_flow *f) { return f->flops; }
int fg_flow_volume(const fg_flow *f) { return f->lat->volume; }

void fg_flow_set_params(fg_flow *f, const float *params)
{
  if (params != f->params)
    memcpy(f->params, params, sizeof(float) * f->nparams);
  for (int i = 0; i < f->nlayers; ++i)
    f->layers[i]->ops->set_params(f->layers[i], f->params + f->layers[i]->param_offset);
}

static void fill_uniform(fg_rng *r, float *x, size_t n, double bound)
{
  for (size_t i = 0; i < n; ++i)
    x[i] = (float)((2.0 * fg_rng_uniform(r) - 1.0) * bound);
}

void fg_flow_init_params(fg_flow *f, uint64_t seed)
{
  const fg_model_config *m = &f->m;
  const int kk = m->kernel_size * m->kernel_size;
  fg_rng r;
  fg_rng_init(&r, seed, FG_RNG_INIT, 0, 0);
  float *p = f->params;
  for (int i = 0; i < m->coupling_layers; ++i) {
    for (int c = 0; c <= m->n_hidden; ++c) {
      int cin, cout;
      fg_conv_shape(m, c, &cin, &cout);
      double fan_in = (double)cin * kk, fan_out = (double)cout * kk;
      double wb = m->init_scheme == FG_INIT_XAVIER
                      ? m->init_scale * sqrt(6.0 / (fan_in + fan_out))
                      : m->init_scale / sqrt(fan_in);
      double bb = (m->init_scheme == FG_INIT_XAVIER ? 1.0 : m->init_scale) / sqrt(fan_in);
      size_t nw = (size_t)cout * cin * kk;
      fill_uniform(&r, p, nw, wb);
      fill_uniform(&r, p + nw, (size_t)cout, bb);
      p += nw + (size_t)cout;
    }
  }
  if (m->base == FG_BASE_FREE_FIELD)
    *p = (float)m->mu_init;
  fg_flow_set_params(f, f->params);
}

void fg_flow_work_destroy(fg_flow_work *w)
{
  if (w == NULL)
    return;
  fg_free(w->ws);
  fg_free(w->mem);
  fg_free(w->gphi);
  fg_free(w);
}

fg_flow_work *fg_flow_work_create(const fg_flow *f, fg_error *err)
{
  static const char where[] = "fg_flow_work_create [flow.c]";
  fg_flow_work *w = fg_alloc(sizeof *w, err, where);
  if (w == NULL)
    return NULL;
  size_t total = 0;
  for (int i = 0; i < f->nlayers; ++i)
    total += (f->layers[i]->ops->work_bytes(f->layers[i]) + 63) & ~(size_t)63;
  w->nlayers = f->nlayers;
  w->ws = fg_alloc(sizeof(void *) * (size_t)(f->nlayers + 1), err, where);
  w->mem = fg_alloc(total, err, where);
  w->gphi = fg_alloc(sizeof(double) * (size_t)f->lat->volume * L, err, where);
  if (!w->ws || !w->mem || !w->gphi) {
    fg_flow_work_destroy(w);
    return NULL;
  }
  size_t off = 0;
  for (int i = 0; i < f->nlayers; ++i) {
    w->ws[i] = w->mem + off;
    off += (f->layers[i]->ops->work_bytes(f->layers[i]) + 63) & ~(size_t)63;
  }
  return w;
}

void fg_flow_draw(const fg_flow *f, uint64_t seed, uint32_t purpose, uint64_t first, int nvalid,
                  double *z)
{
  const int V = f->lat->volume;
  for (int l = 0; l < L; ++l) {
    if (l >= nvalid) {
      for (int y = 0; y < V; ++y)
        z[y * L + l] = 0.0;
      continue;
    }
    fg_rng r;
    fg_rng_init(&r, seed, purpose, first + (uint64_t)l, 0);
    for (int y = 0; y < V; ++y)
      z[y * L + l] = fg_rng_normal(&r);
  }
}

static void base_logpdf(int V, const double *z, double *logr)
{
  for (int l = 0; l < L; ++l)
    logr[l] = 0.0;
  for (int y = 0; y < V; ++y)
    for (int l = 0; l < L; ++l)
      logr[l] += z[y * L + l] * z[y * L + l];
  for (int l = 0; l < L; ++l)
    logr[l] = -0.5 * logr[l] - 0.5 * V * LOG_2PI;
}

void fg_flow_forward(const fg_flow *f, fg_flow_work *w, const double *z, double *phi,
                     double *logq, int save)
{
  const int V = f->lat->volume;
  double logdet[L] = {0};
  base_logpdf(V, z, logq);
  if (phi != z)
    memcpy(phi, z, sizeof(double) * (size_t)V * L);
  for (int i = 0; i < f->nlayers; ++i)
    f->layers[i]->ops->forward(f->layers[i], w->ws[i], phi, logdet, save);
  for (int l = 0; l < L; ++l)
    logq[l] -= logdet[l];
}

void fg_flow_inverse(const fg_flow *f, fg_flow_work *w, const double *phi, double *z,
                     double *logq)
{
  const int V = f->lat->volume;
  double logdet[L] = {0};
  if (z != phi)
    memcpy(z, phi, sizeof(double) * (size_t)V * L);
  for (int i = f->nlayers - 1; i >= 0; --i)
    f->layers[i]->ops->inverse(f->layers[i], w->ws[i], z, logdet);
  base_logpdf(V, z, logq);
  for (int l = 0; l < L; ++l)
    logq[l] -= logdet[l];
}

void fg_flow_backward(const fg_flow *f, fg_flow_work *w, const double *gphi,
                      const double *glogq, double *gparams)
{
  double glogdet[L];
  for (int l = 0; l < L; ++l)
    glogdet[l] = -glogq[l]; /* log q = log r(z) - logdet, and z is held fixed */
  memcpy(w->gphi, gphi, sizeof(double) * (size_t)f->lat->volume * L);
  for (int i = f->nlayers - 1; i >= 0; --i)
    f->layers[i]->ops->backward(f->layers[i], w->ws[i], w->gphi, glogdet,
                                gparams + f->layers[i]->param_offset);
}
