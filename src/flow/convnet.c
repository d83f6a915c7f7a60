/*
 * convnet.c -- the conditioner network that coupling layers share: a stack
 * of convolutions conv_0 .. conv_n (nn.h: circular padding K/2 and bias)
 * with the model's hidden activation after every convolution but the last,
 * whose raw output the layer turns into its own parameters. Contracts in
 * flow_internal.h. All functions are local.
 *
 *   int fg_convnet_valid(const fg_model_config *m)
 *     1 if the architecture's numbers can build a stack (coupling_layers >= 0,
 *     kernel_size >= 1, 0 <= n_hidden <= FG_MAXHIDDEN, every hidden width >= 1).
 *   int fg_convnet_declare(const fg_model_config *m, const char *group, int cin, int cout,
 *                          fg_param_layout *lay)
 *     Appends the tensors group/conv_c/{weight, bias} of the stack (cin
 *     input and cout output channels, hidden channels as configured), with
 *     PyTorch's Conv2d default initialisation (flow.h). -1 for an invalid
 *     architecture or an overflow.
 *   int fg_convnet_create(fg_convnet *n, const fg_stencil *st, fg_activation act,
 *                         const fg_param_tensor *decl, int ntensors, fg_error *err)
 *     Plans the stack from the weight/bias pairs fg_convnet_declare made
 *     (their shapes and offsets within the layer's slice). n must be zeroed
 *     before; release with fg_convnet_destroy, also after a failure.
 *   void fg_convnet_destroy(fg_convnet *n)
 *   void fg_convnet_set_params(const fg_convnet *n, const float *params)
 *     Packs the weights from the layer's slice of the flat vector.
 *   void fg_convnet_forward(const fg_convnet *n, float *ws, const int *sites, int nsites)
 *     Runs the stack on the input at ws + act_off[0]; the raw output lands at
 *     ws + act_off[nconv], computed at `sites` only (NULL: all sites).
 *   float *fg_convnet_backward(const fg_convnet *n, const float *ws, float *ga, float *gb,
 *                              double *gparams, const int *out_sites, int nout,
 *                              const int *in_sites, int nin)
 *     After fg_convnet_forward on ws: given in ga the gradient of the raw
 *     output (set at every site, zero where unused), adds the weight and
 *     bias gradients over out_sites to gparams (the layer's slice) and
 *     returns the buffer (ga or gb) holding the input gradient, computed at
 *     in_sites only. ga and gb are scratch of fg_convnet_scratch_floats(n)
 *     floats each.
 *   size_t fg_convnet_scratch_floats(const fg_convnet *n)
 *     cmax planes of [V][FG_VLEN]: the largest gradient a pass holds.
 *   void fg_convnet_activate(fg_activation a, float *x, size_t n)
 *     x <- a(x) in place, n a multiple of FG_VLEN. Compiled per instruction
 *     set (FG_MULTIVERSION): call it rather than fg_tanhf_16 from code that
 *     is not, so that the numbers (FMA or not) are the same everywhere.
 *
 * Activations are [channel][site][FG_VLEN] float32; every loop below runs
 * over whole lane vectors, branch-free, so it vectorises.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "flow_internal.h"
#include "../util/simd.h"

enum { L = FG_VLEN };

typedef float vlane __attribute__((vector_size(sizeof(float) * L)));
typedef int vmask __attribute__((vector_size(sizeof(int) * L)));

static inline vlane select_lane(vmask m, vlane a, vlane b)
{
  return (vlane)((m & (vmask)a) | (~m & (vmask)b));
}

/* LeakyReLU(x) = max(x, 0.01 x) for a slope below one. */
FG_MULTIVERSION void fg_convnet_activate(fg_activation a, float *x, size_t n)
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

int fg_convnet_valid(const fg_model_config *m)
{
  if (m->coupling_layers < 0 || m->kernel_size < 1 || m->n_hidden < 0 ||
      m->n_hidden > FG_MAXHIDDEN)
    return 0;
  for (int c = 0; c < m->n_hidden; ++c)
    if (m->hidden_channels[c] < 1)
      return 0;
  return 1;
}

int fg_convnet_declare(const fg_model_config *m, const char *group, int cin, int cout,
                       fg_param_layout *lay)
{
  if (m->kernel_size < 1 || m->n_hidden < 0 || m->n_hidden > FG_MAXHIDDEN)
    return -1;
  const size_t k = (size_t)m->kernel_size;
  const int kk = m->kernel_size * m->kernel_size;
  fg_param_tensor t = {.depth = 2};
  snprintf(t.group[0], sizeof t.group[0], "%s", group);
  for (int c = 0; c <= m->n_hidden; ++c) {
    int ci = c > 0 ? m->hidden_channels[c - 1] : cin;
    int co = c < m->n_hidden ? m->hidden_channels[c] : cout;
    if (ci < 1 || co < 1)
      return -1;
    double fan_in = (double)ci * kk, fan_out = (double)co * kk;
    snprintf(t.group[1], sizeof t.group[1], "conv_%d", c);
    snprintf(t.name, sizeof t.name, "weight");
    t.rank = 4;
    t.dims[0] = (size_t)co, t.dims[1] = (size_t)ci, t.dims[2] = k, t.dims[3] = k;
    t.init = FG_PARAM_UNIFORM;
    t.value = m->init_scheme == FG_INIT_XAVIER ? m->init_scale * sqrt(6.0 / (fan_in + fan_out))
                                               : m->init_scale / sqrt(fan_in);
    t.flops_per_site = 2.0 * (double)co * (double)ci * (double)kk;
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

int fg_convnet_create(fg_convnet *n, const fg_stencil *st, fg_activation act,
                      const fg_param_tensor *decl, int ntensors, fg_error *err)
{
  n->volume = st->volume;
  n->nconv = ntensors / 2;
  n->act = act;
  n->cmax = 0;
  size_t a = (size_t)st->volume * L * decl[0].dims[1]; /* the input x comes first */
  n->act_off[0] = 0;
  for (int k = 0; k < n->nconv; ++k) {
    n->cout[k] = (int)decl[2 * k].dims[0];
    n->cin[k] = (int)decl[2 * k].dims[1];
    n->woff[k] = decl[2 * k].offset;
    n->boff[k] = decl[2 * k + 1].offset;
    n->act_off[k + 1] = a;
    a += (size_t)n->cout[k] * (size_t)st->volume * L;
    n->cmax = n->cout[k] > n->cmax ? n->cout[k] : n->cmax;
    n->cmax = n->cin[k] > n->cmax ? n->cin[k] : n->cmax;
    n->plan[k] = fg_conv_plan_create(st, n->cin[k], n->cout[k], err);
    if (n->plan[k] == NULL)
      return FG_ERR_RUNTIME;
  }
  n->floats = a;
  return FG_OK;
}

void fg_convnet_destroy(fg_convnet *n)
{
  for (int k = 0; k < n->nconv; ++k)
    fg_conv_plan_destroy(n->plan[k]);
  memset(n, 0, sizeof *n);
}

void fg_convnet_set_params(const fg_convnet *n, const float *params)
{
  for (int k = 0; k < n->nconv; ++k)
    fg_conv_set_weights(n->plan[k], params + n->woff[k], params + n->boff[k]);
}

size_t fg_convnet_scratch_floats(const fg_convnet *n)
{
  return (size_t)n->cmax * (size_t)n->volume * L;
}

void fg_convnet_forward(const fg_convnet *n, float *ws, const int *sites, int nsites)
{
  const size_t plane = (size_t)n->volume * L;
  for (int k = 0; k < n->nconv; ++k) {
    float *in = ws + n->act_off[k], *out = ws + n->act_off[k + 1];
    if (k < n->nconv - 1) {
      fg_conv_forward(n->plan[k], in, out, NULL, 0);
      fg_convnet_activate(n->act, out, (size_t)n->cout[k] * plane);
    } else {
      fg_conv_forward(n->plan[k], in, out, sites, nsites);
    }
  }
}

float *fg_convnet_backward(const fg_convnet *n, const float *ws, float *ga, float *gb,
                           double *gparams, const int *out_sites, int nout,
                           const int *in_sites, int nin)
{
  const size_t plane = (size_t)n->volume * L;
  for (int k = n->nconv - 1; k >= 0; --k) {
    const float *in = ws + n->act_off[k];
    int last = k == n->nconv - 1;
    fg_conv_backward_weight(n->plan[k], in, ga, gparams + n->woff[k], gparams + n->boff[k],
                            last ? out_sites : NULL, last ? nout : 0);
    if (k > 0) {
      fg_conv_backward_input(n->plan[k], ga, gb, NULL, 0);
      activate_backward(n->act, in, gb, (size_t)n->cin[k] * plane);
    } else {
      fg_conv_backward_input(n->plan[0], ga, gb, in_sites, nin);
    }
    float *tmp = ga;
    ga = gb;
    gb = tmp;
  }
  return ga;
}
