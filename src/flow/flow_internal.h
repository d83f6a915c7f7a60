/*
 * flow_internal.h -- what the flow and its layer types share (not public).
 *
 *   extern const fg_layer_type *const fg_layer_types[]; extern const int fg_nlayer_types
 *     Every layer type, in canonical parameter order (params.c).
 *
 *   fg_convnet: the conditioner network of the coupling layers (convnet.c,
 *   where each function's contract stands): conv_0 .. conv_{nconv-1}, the
 *   hidden activation after all but the last. In a layer's workspace its
 *   activations are floats at act_off[0] (the input x, cin[0] channels),
 *   act_off[1..nconv-1] (hidden) and act_off[nconv] (the raw output,
 *   cout[nconv-1] channels), floats of them in all.
 *
 *   fg_circle_spline: the circle map of the gauge layers with
 *   model.gauge_map spline (circle_spline.c, where each function's contract
 *   stands); fg_circle_map_grad: what the gauge layer's backward needs of
 *   a circle map at one point (either map).
 *
 *   double fg_softplus(double a, double *sigmoid)
 *     log(1 + e^a), and its derivative into *sigmoid, without overflow.
 */
#ifndef FLOWGEN_FLOW_INTERNAL_H
#define FLOWGEN_FLOW_INTERNAL_H

#include <math.h>

#include "flowgen/flow.h"

extern const fg_layer_type *const fg_layer_types[];
extern const int fg_nlayer_types;

typedef struct {
  int volume, nconv, cmax;  /* cmax: the widest input or output */
  int cin[FG_MAXHIDDEN + 1], cout[FG_MAXHIDDEN + 1];
  size_t woff[FG_MAXHIDDEN + 1], boff[FG_MAXHIDDEN + 1]; /* within the layer's slice */
  fg_conv_plan *plan[FG_MAXHIDDEN + 1];
  fg_activation act;
  size_t act_off[FG_MAXHIDDEN + 2];
  size_t floats;
} fg_convnet;

int fg_convnet_valid(const fg_model_config *m);
int fg_convnet_declare(const fg_model_config *m, const char *group, int cin, int cout,
                       fg_param_layout *lay);
int fg_convnet_create(fg_convnet *n, const fg_stencil *st, fg_activation act,
                      const fg_param_tensor *decl, int ntensors, fg_error *err);
void fg_convnet_destroy(fg_convnet *n);
void fg_convnet_set_params(const fg_convnet *n, const float *params);
size_t fg_convnet_scratch_floats(const fg_convnet *n);
void fg_convnet_activate(fg_activation a, float *x, size_t n);
void fg_convnet_forward(const fg_convnet *n, float *ws, const int *sites, int nsites);
float *fg_convnet_backward(const fg_convnet *n, const float *ws, float *ga, float *gb,
                           double *gparams, const int *out_sites, int nout,
                           const int *in_sites, int nin);

static inline double fg_softplus(double a, double *sigmoid)
{
  const double e = exp(-fabs(a));
  *sigmoid = a > 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
  return a > 0 ? a + log1p(e) : log1p(e);
}

typedef struct {
  double dh;                            /* h'(x) */
  double dlog_dh_dx;                    /* h''(x) / h'(x) */
  double dh_draw[FG_GAUGE_NRAW_MAX];    /* d h / d raw, per raw channel */
  double dlogdh_draw[FG_GAUGE_NRAW_MAX]; /* d log h' / d raw */
} fg_circle_map_grad;

typedef struct {
  int bins;                             /* K */
  double x[FG_SPLINE_BINS_MAX + 1];     /* knots x_0 = -pi < ... < x_K = pi */
  double y[FG_SPLINE_BINS_MAX + 1];     /* their images */
  double pw[FG_SPLINE_BINS_MAX];        /* softmax of the width channels */
  double ph[FG_SPLINE_BINS_MAX];        /* softmax of the height channels */
  double a[FG_SPLINE_BINS_MAX];         /* derivative channels + offset: d_k =
                                           min + softplus(a[k]), d_K = d_0 */
  double shift;
} fg_circle_spline;

void fg_circle_spline_params(const float *raw, size_t stride, int bins, fg_circle_spline *s);
double fg_circle_spline_value(const fg_circle_spline *s, double x, double *dh);
double fg_circle_spline_invert(const fg_circle_spline *s, double t);
void fg_circle_spline_gradient(const fg_circle_spline *s, double x, fg_circle_map_grad *r);

#endif
