/*
 * coupling.c -- the affine coupling layer on a checkerboard (SPEC section 5).
 *
 *   int fg_coupling_create(const fg_model_config *m, const fg_lattice *lat,
 *                          const fg_stencil *st, int index, size_t param_offset,
 *                          fg_layer **out, fg_error *err)
 *     Coupling layer `index` (0-based): it freezes the sites where
 *     (x0 + x1 + index) is odd and updates the others,
 *       phi'(y) = exp(s(y)) phi(y) + t(y),  log J = sum_updated s(y),
 *     with (s, t) = tanh(conv_n(act(... act(conv_0(frozen field))))).
 *     The conditioner sees the frozen field (updated sites zeroed) as one
 *     float32 channel. Local; the lattice and stencil must outlive it.
 *
 *   const fg_layer_type fg_affine_coupling_type
 *     coupling_layers instances, group layer_NN each; instance i declares,
 *     for conv c = 0 .. n_hidden (in = c ? hidden[c-1] : 1,
 *     out = c < n_hidden ? hidden[c] : 2), the tensors
 *       conv_c/weight [out][in][K][K]  uniform, bound = scale / sqrt(fan_in)
 *                                      (kaiming) or gain sqrt(6 / (fan_in +
 *                                      fan_out)) (xavier), fan = channels K^2
 *       conv_c/bias   [out]            uniform, bound = scale / sqrt(fan_in)
 *                                      (xavier: 1 / sqrt(fan_in))
 *     (PyTorch's Conv2d default initialisation, SPEC section 5); a weight
 *     costs 2 x its entries FLOPs per site. The layer reads its slices from
 *     the same declaration.
 *
 * Only the updated sites of the output convolution are computed, and the
 * input gradient of the first convolution only at the frozen sites: the
 * other halves are never read.
 */
#include <stdio.h>
#include <string.h>

#include "flow_internal.h"
#include "../util/simd.h"

enum { L = FG_VLEN };

typedef struct {
  fg_layer base;
  int volume;
  fg_convnet net;
  int nupd, nfrz;
  int *upd, *frz;           /* updated and frozen sites */
  unsigned char *frozen;    /* frozen[y] = 1 for frozen sites */
  size_t phi_off, g_off;    /* byte offsets of saved phi and gradient scratch */
} coupling;

static size_t coupling_work_bytes(const fg_layer *layer)
{
  const coupling *c = (const coupling *)layer;
  return c->g_off + 2 * sizeof(float) * fg_convnet_scratch_floats(&c->net);
}

static void coupling_set_params(fg_layer *layer, const float *params)
{
  fg_convnet_set_params(&((coupling *)layer)->net, params);
}

/* The conditioner sees the frozen part of phi; s and t land in the raw
 * output at the updated sites, through tanh. */
FG_MULTIVERSION static void load_frozen(const coupling *c, float *x, const double *phi)
{
  for (int y = 0; y < c->volume; ++y) {
    float keep = c->frozen[y] ? 1.0f : 0.0f;
    for (int l = 0; l < L; ++l)
      x[y * L + l] = keep * (float)phi[y * L + l];
  }
}

static void conditioner(const coupling *c, float *ws, const double *phi)
{
  load_frozen(c, ws + c->net.act_off[0], phi);
  fg_convnet_forward(&c->net, ws, c->upd, c->nupd);
  const size_t plane = (size_t)c->volume * L;
  float *out = ws + c->net.act_off[c->net.nconv];
  for (int ch = 0; ch < 2; ++ch)
    for (int i = 0; i < c->nupd; ++i)
      fg_convnet_activate(FG_ACT_TANH, out + ch * plane + (size_t)c->upd[i] * L, L);
}

/* phi <- exp(s) phi + t on the updated sites (or the inverse), logdet += s. */
FG_MULTIVERSION static void apply_affine(const coupling *c, const float *w, double *phi,
                                         double *logdet, int inverse)
{
  const float *s = w + c->net.act_off[c->net.nconv], *t = s + (size_t)c->volume * L;
  const double sign = inverse ? -1.0 : 1.0;
  for (int i = 0; i < c->nupd; ++i) {
    size_t y = (size_t)c->upd[i] * L;
    for (int l = 0; l < L; ++l) {
      double e = fg_exp_small(sign * s[y + l]);
      phi[y + l] = inverse ? (phi[y + l] - t[y + l]) * e : e * phi[y + l] + t[y + l];
      logdet[l] += s[y + l];
    }
  }
}

static void coupling_forward(const fg_layer *layer, void *ws, double *phi, double *logdet,
                             int save)
{
  const coupling *c = (const coupling *)layer;
  conditioner(c, ws, phi);
  if (save)
    memcpy((char *)ws + c->phi_off, phi, sizeof(double) * (size_t)c->volume * L);
  apply_affine(c, ws, phi, logdet, 0);
}

static void coupling_inverse(const fg_layer *layer, void *ws, double *phi, double *logdet)
{
  const coupling *c = (const coupling *)layer;
  conditioner(c, ws, phi); /* the frozen sites are the same before and after */
  apply_affine(c, ws, phi, logdet, 1);
}

/* Seeds the gradient of the conditioner's output from dL/dphi' and dL/dlogdet,
 * and turns gphi at the updated sites into dL/dphi. */
FG_MULTIVERSION static void seed_output_gradient(const coupling *c, const float *w, const double *phi_in,
                                 double *gphi, const double *glogdet, float *gout)
{
  const size_t plane = (size_t)c->volume * L;
  const float *s = w + c->net.act_off[c->net.nconv], *t = s + plane;
  for (int i = 0; i < c->nfrz; ++i) {
    size_t y = (size_t)c->frz[i] * L;
    memset(gout + y, 0, sizeof(float) * L);
    memset(gout + plane + y, 0, sizeof(float) * L);
  }
  for (int i = 0; i < c->nupd; ++i) {
    size_t y = (size_t)c->upd[i] * L;
    for (int l = 0; l < L; ++l) {
      double es = fg_exp_small(s[y + l]), g = gphi[y + l];
      double gs = g * es * phi_in[y + l] + glogdet[l];
      gout[y + l] = (float)(gs * (1.0 - (double)s[y + l] * s[y + l]));
      gout[plane + y + l] = (float)(g * (1.0 - (double)t[y + l] * t[y + l]));
      gphi[y + l] = g * es;
    }
  }
}

static void coupling_backward(const fg_layer *layer, void *ws, double *gphi,
                              const double *glogdet, double *gparams)
{
  const coupling *c = (const coupling *)layer;
  const float *w = ws;
  const double *phi_in = (const double *)((const char *)ws + c->phi_off);
  float *ga = (float *)((char *)ws + c->g_off), *gb = ga + fg_convnet_scratch_floats(&c->net);
  seed_output_gradient(c, w, phi_in, gphi, glogdet, ga);
  const float *gin = fg_convnet_backward(&c->net, w, ga, gb, gparams, c->upd, c->nupd, c->frz,
                                         c->nfrz);
  for (int i = 0; i < c->nfrz; ++i) {
    size_t y = (size_t)c->frz[i] * L;
    for (int l = 0; l < L; ++l)
      gphi[y + l] += gin[y + l];
  }
}

/* d phi'/d phi = exp(s) at the updated sites. */
static void coupling_active_diag(const fg_layer *layer, const void *ws, double *d)
{
  const coupling *c = (const coupling *)layer;
  const float *s = (const float *)ws + c->net.act_off[c->net.nconv];
  for (int i = 0; i < c->nupd; ++i) {
    size_t y = (size_t)c->upd[i] * L;
    for (int l = 0; l < L; ++l)
      d[y + l] = fg_exp_small(s[y + l]);
  }
}

static void coupling_destroy(fg_layer *layer)
{
  coupling *c = (coupling *)layer;
  if (c == NULL)
    return;
  fg_convnet_destroy(&c->net);
  fg_free(c->upd);
  fg_free(c->frz);
  fg_free(c->frozen);
  fg_free(c);
}

static const fg_layer_ops coupling_ops = {
    .name = "affine_coupling",
    .forward = coupling_forward,
    .inverse = coupling_inverse,
    .backward = coupling_backward,
    .active_diag = coupling_active_diag,
    .set_params = coupling_set_params,
    .work_bytes = coupling_work_bytes,
    .destroy = coupling_destroy,
};

static int split_sites(coupling *c, const fg_lattice *lat, int index, fg_error *err)
{
  static const char where[] = "fg_coupling_create [coupling.c]";
  c->upd = fg_alloc(sizeof(int) * (size_t)lat->volume, err, where);
  c->frz = fg_alloc(sizeof(int) * (size_t)lat->volume, err, where);
  c->frozen = fg_alloc((size_t)lat->volume, err, where);
  if (!c->upd || !c->frz || !c->frozen)
    return FG_ERR_RUNTIME;
  for (int y = 0; y < lat->volume; ++y) {
    c->frozen[y] = (unsigned char)((lat->parity[y] + index) & 1);
    if (c->frozen[y])
      c->frz[c->nfrz++] = y;
    else
      c->upd[c->nupd++] = y;
  }
  return FG_OK;
}

static int coupling_instances(const fg_model_config *m)
{
  if (!fg_convnet_valid(m))
    return -1;
  return m->base == FG_BASE_HAAR ? 0 : m->coupling_layers; /* Haar: gauge_coupling's */
}

static int coupling_declare(const fg_model_config *m, int index, int count, fg_param_layout *lay)
{
  if (coupling_instances(m) < 0)
    return -1;
  char group[32];
  fg_layer_group_name(group, sizeof group, index, count);
  return fg_convnet_declare(m, group, 1, 2, lay);
}

int fg_coupling_create(const fg_model_config *m, const fg_lattice *lat, const fg_stencil *st,
                       int index, size_t param_offset, fg_layer **out, fg_error *err)
{
  static const char where[] = "fg_coupling_create [coupling.c]";
  *out = NULL;
  coupling *c = fg_alloc(sizeof *c, err, where);
  if (c == NULL)
    return FG_ERR_RUNTIME;
  c->base.ops = &coupling_ops;
  c->base.param_offset = param_offset;
  c->volume = lat->volume;
  /* The slices as the type declares them: weight then bias of each conv. */
  fg_param_tensor decl[2 * (FG_MAXHIDDEN + 1)];
  fg_param_layout own = {.cap = 2 * (FG_MAXHIDDEN + 1), .t = decl};
  int rc = coupling_declare(m, index, 1, &own) == 0 && own.n == 2 * (size_t)(m->n_hidden + 1)
               ? split_sites(c, lat, index, err)
               : fg_fail(err, FG_ERR_INPUT, where, "invalid conditioner architecture");
  if (rc == FG_OK)
    rc = fg_convnet_create(&c->net, st, m->activation, decl, (int)own.n, err);
  if (rc != FG_OK) {
    coupling_destroy(&c->base);
    return rc;
  }
  c->base.nparams = own.nparams;
  c->base.active = c->upd;
  c->base.nactive = c->nupd;
  c->phi_off = (c->net.floats * sizeof(float) + 63) & ~(size_t)63;
  c->g_off = c->phi_off + sizeof(double) * (size_t)lat->volume * L;
  *out = &c->base;
  return FG_OK;
}

const fg_layer_type fg_affine_coupling_type = {
    .name = "affine_coupling",
    .acts_first = 0,
    .uses_stencil = 1,
    .instances = coupling_instances,
    .declare = coupling_declare,
    .create = fg_coupling_create,
};
