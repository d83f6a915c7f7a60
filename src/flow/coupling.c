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
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "flowgen/flow.h"
#include "../util/simd.h"

enum { L = FG_VLEN };

typedef struct {
  fg_layer base;
  int volume, nconv, cmax;
  int cin[FG_MAXHIDDEN + 1], cout[FG_MAXHIDDEN + 1];
  size_t woff[FG_MAXHIDDEN + 1], boff[FG_MAXHIDDEN + 1]; /* within the layer's slice */
  fg_conv_plan *plan[FG_MAXHIDDEN + 1];
  fg_activation act;
  int nupd, nfrz;
  int *upd, *frz;           /* updated and frozen sites */
  unsigned char *frozen;    /* frozen[y] = 1 for frozen sites */
  size_t act_off[FG_MAXHIDDEN + 2]; /* float offsets of x, h_0 .. h_{n-1}, out in ws */
  size_t act_floats;        /* all activations */
  size_t phi_off, g_off;    /* byte offsets of saved phi and gradient scratch */
} coupling;

static size_t coupling_work_bytes(const fg_layer *layer)
{
  const coupling *c = (const coupling *)layer;
  return c->g_off + 2 * sizeof(float) * (size_t)c->cmax * (size_t)c->volume * L;
}

static void coupling_set_params(fg_layer *layer, const float *params)
{
  coupling *c = (coupling *)layer;
  for (int k = 0; k < c->nconv; ++k)
    fg_conv_set_weights(c->plan[k], params + c->woff[k], params + c->boff[k]);
}

/* One block-lane vector: activations are [channel][site][FG_VLEN] and every
 * loop below runs over whole vectors, branch-free, so it vectorises. */
typedef float vlane __attribute__((vector_size(sizeof(float) * L)));
typedef int vmask __attribute__((vector_size(sizeof(int) * L)));

static inline vlane select_lane(vmask m, vlane a, vlane b)
{
  return (vlane)((m & (vmask)a) | (~m & (vmask)b));
}

/* LeakyReLU(x) = max(x, 0.01 x) for a slope below one. */
FG_MULTIVERSION static void activate(fg_activation a, float *x, size_t n)
{
  if (a == FG_ACT_LEAKY_RELU) {
    for (size_t i = 0; i < n; i += L) {
      vlane v, w;
      memcpy(&v, x + i, sizeof v);
      w = 0.01f * v;
      v = select_lane(v > w, v, w);
      memcpy(x + i, &v, sizeof v);
    }
  } else {
    for (size_t i = 0; i < n; i += L) /* n is a multiple of FG_VLEN = 16 */
      fg_tanhf_16(x + i);
  }
}

/* g *= act'(y) where y = act(x) is the saved output (same sign as x). */
FG_MULTIVERSION static void activate_backward(fg_activation a, const float *y, float *g, size_t n)
{
  if (a == FG_ACT_LEAKY_RELU) {
    const vlane one = (vlane){0} + 1.0f, slope = (vlane){0} + 0.01f, zero = {0};
    for (size_t i = 0; i < n; i += L) {
      vlane vy, vg;
      memcpy(&vy, y + i, sizeof vy);
      memcpy(&vg, g + i, sizeof vg);
      vg *= select_lane(vy > zero, one, slope);
      memcpy(g + i, &vg, sizeof vg);
    }
  } else {
    for (size_t i = 0; i < n; ++i)
      g[i] *= 1.0f - y[i] * y[i];
  }
}

/* Runs the conditioner on the frozen part of phi; s and t land in the last
 * activation tensor at the updated sites. */
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
  load_frozen(c, ws + c->act_off[0], phi);
  const size_t plane = (size_t)c->volume * L;
  for (int k = 0; k < c->nconv; ++k) {
    float *in = ws + c->act_off[k], *out = ws + c->act_off[k + 1];
    if (k < c->nconv - 1) {
      fg_conv_forward(c->plan[k], in, out, NULL, 0);
      activate(c->act, out, (size_t)c->cout[k] * plane);
    } else {
      fg_conv_forward(c->plan[k], in, out, c->upd, c->nupd);
      for (int ch = 0; ch < 2; ++ch)
        for (int i = 0; i < c->nupd; ++i)
          activate(FG_ACT_TANH, out + ch * plane + (size_t)c->upd[i] * L, L);
    }
  }
}

/* phi <- exp(s) phi + t on the updated sites (or the inverse), logdet += s. */
FG_MULTIVERSION static void apply_affine(const coupling *c, const float *w, double *phi,
                                         double *logdet, int inverse)
{
  const float *s = w + c->act_off[c->nconv], *t = s + (size_t)c->volume * L;
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
  const float *s = w + c->act_off[c->nconv], *t = s + plane;
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
  const size_t plane = (size_t)c->volume * L;
  float *ga = (float *)((char *)ws + c->g_off), *gb = ga + (size_t)c->cmax * plane;
  seed_output_gradient(c, w, phi_in, gphi, glogdet, ga);
  for (int k = c->nconv - 1; k >= 0; --k) {
    const float *in = w + c->act_off[k];
    int last = k == c->nconv - 1;
    fg_conv_backward_weight(c->plan[k], in, ga, gparams + c->woff[k], gparams + c->boff[k],
                            last ? c->upd : NULL, last ? c->nupd : 0);
    if (k > 0) {
      fg_conv_backward_input(c->plan[k], ga, gb, NULL, 0);
      activate_backward(c->act, in, gb, (size_t)c->cin[k] * plane);
    } else {
      fg_conv_backward_input(c->plan[0], ga, gb, c->frz, c->nfrz);
      for (int i = 0; i < c->nfrz; ++i) {
        size_t y = (size_t)c->frz[i] * L;
        for (int l = 0; l < L; ++l)
          gphi[y + l] += gb[y + l];
      }
    }
    float *tmp = ga;
    ga = gb;
    gb = tmp;
  }
}

static void coupling_destroy(fg_layer *layer)
{
  coupling *c = (coupling *)layer;
  if (c == NULL)
    return;
  for (int k = 0; k < c->nconv; ++k)
    fg_conv_plan_destroy(c->plan[k]);
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

/* Channels of conv c (0 .. n_hidden) of the conditioner. */
static void conv_shape(const fg_model_config *m, int c, int *cin, int *cout)
{
  *cin = c > 0 ? m->hidden_channels[c - 1] : 1;
  *cout = c < m->n_hidden ? m->hidden_channels[c] : 2;
}

static int coupling_instances(const fg_model_config *m)
{
  if (m->coupling_layers < 0 || m->kernel_size < 1 || m->n_hidden < 0 ||
      m->n_hidden > FG_MAXHIDDEN)
    return -1;
  for (int c = 0; c < m->n_hidden; ++c)
    if (m->hidden_channels[c] < 1)
      return -1;
  return m->coupling_layers;
}

static int coupling_declare(const fg_model_config *m, int index, int count, fg_param_layout *lay)
{
  if (coupling_instances(m) < 0)
    return -1;
  const size_t k = (size_t)m->kernel_size;
  const int kk = m->kernel_size * m->kernel_size;
  fg_param_tensor t = {.depth = 2};
  fg_layer_group_name(t.group[0], sizeof t.group[0], index, count);
  for (int c = 0; c <= m->n_hidden; ++c) {
    int cin, cout;
    conv_shape(m, c, &cin, &cout);
    double fan_in = (double)cin * kk, fan_out = (double)cout * kk;
    snprintf(t.group[1], sizeof t.group[1], "conv_%d", c);
    snprintf(t.name, sizeof t.name, "weight");
    t.rank = 4;
    t.dims[0] = (size_t)cout, t.dims[1] = (size_t)cin, t.dims[2] = k, t.dims[3] = k;
    t.init = FG_PARAM_UNIFORM;
    t.value = m->init_scheme == FG_INIT_XAVIER ? m->init_scale * sqrt(6.0 / (fan_in + fan_out))
                                               : m->init_scale / sqrt(fan_in);
    t.flops_per_site = 2.0 * (double)cout * (double)cin * (double)kk;
    if (fg_param_layout_add(lay, &t) != 0)
      return -1;
    snprintf(t.name, sizeof t.name, "bias");
    t.rank = 1;
    t.dims[1] = t.dims[2] = t.dims[3] = 0;
    t.value = (m->init_scheme == FG_INIT_XAVIER ? 1.0 : m->init_scale) / sqrt(fan_in);
    t.flops_per_site = 0.0;
    if (fg_param_layout_add(lay, &t) != 0)
      return -1;
  }
  return 0;
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
  c->nconv = m->n_hidden + 1;
  c->act = m->activation;
  c->cmax = 2;
  size_t a = (size_t)lat->volume * L; /* x comes first */
  c->act_off[0] = 0;
  /* The slices as the type declares them: weight then bias of each conv. */
  fg_param_tensor decl[2 * (FG_MAXHIDDEN + 1)];
  fg_param_layout own = {.cap = 2 * (size_t)c->nconv, .t = decl};
  int rc = coupling_declare(m, index, 1, &own) == 0 && own.n == 2 * (size_t)c->nconv
               ? split_sites(c, lat, index, err)
               : fg_fail(err, FG_ERR_INPUT, where, "invalid conditioner architecture");
  for (int k = 0; k < c->nconv && rc == FG_OK; ++k) {
    c->cout[k] = (int)decl[2 * k].dims[0];
    c->cin[k] = (int)decl[2 * k].dims[1];
    c->woff[k] = decl[2 * k].offset;
    c->boff[k] = decl[2 * k + 1].offset;
    c->act_off[k + 1] = a;
    a += (size_t)c->cout[k] * lat->volume * L;
    c->cmax = c->cout[k] > c->cmax ? c->cout[k] : c->cmax;
    c->plan[k] = fg_conv_plan_create(st, c->cin[k], c->cout[k], err);
    if (c->plan[k] == NULL)
      rc = FG_ERR_RUNTIME;
  }
  if (rc != FG_OK) {
    coupling_destroy(&c->base);
    return rc;
  }
  c->base.nparams = own.nparams;
  c->act_floats = a;
  c->phi_off = (a * sizeof(float) + 63) & ~(size_t)63;
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
