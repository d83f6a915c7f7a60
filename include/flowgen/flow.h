/*
 * flow.h -- normalizing flows: a base distribution followed by layers
 * (SPEC section 5).
 *
 * A flow maps noise z ~ r(z) to a field phi = f(z) through layers
 * f = f_{n-1} o ... o f_0 and gives
 *   log q(phi) = log r(z) - sum_i log J_i,  log J_i = log |det df_i/dphi|.
 * The base (model.base) fixes the field's shape: normal and free_field give
 * one real component per site, r(z) = prod N(0, 1), and affine_coupling
 * layers; haar gives U(1) link angles on a 2D lattice (C = 2 components,
 * theta_mu(x) at dof mu V + x, as u1.h), each uniform in (-pi, pi],
 * log r = -C V log(2 pi), and gauge_coupling layers (gauge_coupling.c,
 * docs/model.md). Everything works on blocks of FG_VLEN samples: fields are
 * double [ndof][FG_VLEN] with ndof = C V (lane innermost), as for theory.h.
 *
 * The layer interface (every layer implements it):
 *   forward(layer, ws, phi, logdet, save)   phi <- f(phi) in place, logdet[l] += log J;
 *                                           save = keep what backward needs in ws.
 *   inverse(layer, ws, phi, logdet)         phi <- f^-1(phi) in place, logdet[l] += log J
 *                                           (log J of the forward map at the result).
 *   backward(layer, ws, gphi, glogdet, gparams)
 *                                           after a saving forward: given gphi = dL/dphi_out
 *                                           and glogdet[l] = dL/dlogdet, gphi <- dL/dphi_in,
 *                                           gparams[k] += dL/dtheta_k (this layer's slice).
 *   set_params(layer, params)               load this layer's slice of the flat vector.
 *   work_bytes(layer)                       size of the per-block workspace it needs.
 *
 * Parameters of the whole flow are one flat float32 vector in the canonical
 * order of checkpoint.h; gradients one flat double vector of the same length.
 *
 * ---- Layer types and their parameter tensors (params.c) -------------------
 *
 * Each layer type (one file, flow/<type>.c) declares itself once in an
 * fg_layer_type: how many instances a model config has, the parameter
 * tensors of each instance (name, shape, initialisation, FLOPs), and its
 * constructor. The flat parameter order, the checkpoint's /model groups,
 * fg_flow_init_params and fg_flow_flops all come from these declarations,
 * through the parameter layout below. The types are listed, in canonical
 * parameter order, in params.c's table (affine_coupling, free_field, then
 * gauge_coupling);
 * a type with acts_first runs before the others (the base layers).
 *
 * A parameter tensor is one dataset of the checkpoint,
 * /model/<group[0]>[/<group[1]>]/<name>, of shape dims[0..rank-1]
 * (PyTorch's layout; rank 0 is a scalar), stored at [offset, offset +
 * count) of the flat vector. Its initialisation is FG_PARAM_UNIFORM
 * (uniform in (-value, value), drawn in canonical order from the stream
 * (seed, FG_RNG_INIT, 0)) or FG_PARAM_CONSTANT (every entry = value, no
 * draw). flops_per_site is the forward pass's FLOPs per lattice site and
 * sample that the tensor costs (a conv weight: 2 x its entries).
 *
 *   int fg_param_layout_build(const fg_model_config *m, fg_param_layout *lay,
 *                             fg_error *err)
 *     The whole model's tensors in canonical order (lay->t, lay->n) and the
 *     total lay->nparams. FG_ERR_INPUT for an invalid architecture (layers
 *     < 0, kernel < 1, hidden channels out of range) or a parameter count
 *     that overflows; FG_ERR_RUNTIME for memory. Release with
 *     fg_param_layout_free (also after a failure). Local, pure.
 *   int fg_param_layout_count(const fg_model_config *m, size_t *ntensors, size_t *nparams)
 *     The same counts without building the list: 0, or -1 for an invalid
 *     architecture or an overflow.
 *   void fg_param_layout_free(fg_param_layout *lay)
 *   int fg_param_layout_add(fg_param_layout *lay, const fg_param_tensor *t)
 *     For a type's declare hook: appends t (its offset is assigned here,
 *     count = product of dims); -1 on overflow. With lay->t == NULL (a
 *     counting pass) only the counts advance.
 *   void fg_param_layout_init(const fg_param_layout *lay, uint64_t seed, float *params)
 *     Initialises params[nparams] tensor by tensor as declared.
 *   void fg_layer_group_name(char *buf, size_t n, int index, int count)
 *     "layer_NN": index zero-padded to the width of count - 1 (at least 2),
 *     so that groups sort in canonical order.
 *
 *   int fg_flow_create(const fg_model_config *m, const fg_lattice *lat,
 *                      fg_flow **out, fg_error *err)
 *     Builds the architecture; parameters are zero until fg_flow_init_params
 *     or fg_flow_set_params. The lattice must outlive the flow. Local.
 *     FG_ERR_INPUT for model.base haar on a lattice that is not 2D.
 *   int fg_flow_check_theory(const fg_model_config *m, const fg_theory *t, fg_error *err)
 *     FG_ERR_INPUT, naming the base and the theory, if the flow's field shape
 *     (components and their kinds) is not the theory's, or naming the layer
 *     type and the theory, if m has layers of a type the theory does not
 *     list as applying to its fields (fg_theory_allows_layer). Local, pure.
 *   int fg_flow_field_components(const fg_model_config *m)
 *   fg_component_kind fg_flow_field_kind(const fg_model_config *m)
 *     The field shape a model's flows produce: C components per site, all
 *     of this kind (normal, free_field: 1 real; haar: 2 angles).
 *   int fg_flow_ndof(const fg_flow *f)   C V: doubles per sample and lane
 *   const fg_model_config *fg_flow_model(const fg_flow *f)  its model section
 *   int fg_flow_z2(const fg_flow *f)
 *     1 with model.symmetry z2. The functions here are then those of the
 *     bare flow q_f; the model's density is the symmetrised
 *     q(phi) = (q_f(phi) + q_f(-phi)) / 2, which model.h evaluates,
 *     samples and differentiates.
 *   void fg_flow_destroy(fg_flow *f)
 *   size_t fg_flow_nparams(const fg_flow *f)
 *   const float *fg_flow_params(const fg_flow *f)  the flat vector (read only)
 *   void fg_flow_set_params(fg_flow *f, const float *params)
 *     Copies params in and repacks the kernels' weights.
 *   With model.base = free_field the first layer is the free-field layer;
 *   its parameter mu is the last entry of the flat vector.
 *
 *   void fg_flow_init_params(fg_flow *f, uint64_t seed)
 *     PyTorch Conv2d default (Kaiming uniform: bound = scale / sqrt(fan_in)
 *     for weights and biases) or Xavier uniform (bound = gain
 *     sqrt(6 / (fan_in + fan_out)), biases as Kaiming), drawn from the stream
 *     (seed, FG_RNG_INIT, 0) in canonical order: identical on every rank.
 *   double fg_flow_flops(const fg_flow *f)
 *     2 x multiply-adds of the convolutions of one forward sample, dense.
 *
 *   fg_flow_work *fg_flow_work_create(const fg_flow *f, fg_error *err)
 *   void fg_flow_work_destroy(fg_flow_work *w)
 *     Scratch and saved activations for one block (one per caller).
 *
 *   void fg_flow_draw(const fg_flow *f, uint64_t seed, uint32_t purpose,
 *                     uint64_t first, int nvalid, double *z)
 *     Base noise of samples first .. first+nvalid-1 (lane l = sample first+l,
 *     from stream (seed, purpose, first+l)), dof by dof: a normal each, or
 *     (haar) pi (1 - 2u) for a uniform u in (0, 1); lanes >= nvalid get zeros.
 *   void fg_flow_forward(const fg_flow *f, fg_flow_work *w, const double *z,
 *                        double *phi, double *logq, int save)
 *     phi = f(z), logq[l] = log q(phi_l).
 *   void fg_flow_inverse(const fg_flow *f, fg_flow_work *w, const double *phi,
 *                        double *z, double *logq)
 *     z = f^-1(phi), logq[l] = log q(phi_l) evaluated through the inverse.
 *   void fg_flow_backward(const fg_flow *f, fg_flow_work *w, const double *gphi,
 *                         const double *glogq, double *gparams)
 *     After fg_flow_forward(..., save = 1): for a loss L with dL/dphi = gphi
 *     and dL/dlogq = glogq (z held fixed: the reparameterisation gradient),
 *     gparams += dL/dtheta.
 *   int fg_flow_has_score(const fg_flow *f)
 *     1 if every layer is a coupling layer (fg_layer.active set) or solves
 *     with its own transposed Jacobian (ops->transpose_solve: the free-field
 *     base, J = M symmetric, J^-T = M^-1), which fg_flow_score_backward
 *     needs. Every layer type of flowgen has one or the other.
 *   void fg_flow_score_backward(const fg_flow *f, fg_flow_work *w, const double *z,
 *                               const double *coef, double *gparams)
 *     After fg_flow_forward(f, w, z, phi, logq, save = 1): gparams +=
 *     sum_l coef[l] d log q_theta(phi_l) / d theta at phi_l held fixed (the
 *     score, for score-function gradient estimators). From the identity
 *       d/dtheta log q(phi)|phi = d/dtheta log q(f(z))|z - grad_phi log q . df/dtheta|z
 *     it runs one backward pass with dL/dphi = -coef grad_phi log q and
 *     dL/dlogq = coef, where grad_phi log q = J^-T grad_z log q(f(z)) comes
 *     from one backward pass of log q through the flow and, layer by layer
 *     from the base up, J_i^-T applied with one of the layer's backward
 *     passes (J_i^T = [[D, 0], [B^T, 1]] on (active, other) dofs, D
 *     diagonal from the layer's active_diag, or one more backward without
 *     it: v_A = u_A / D, v_R = u_R - B^T v_A), or with the layer's own
 *     transpose_solve. About three backward passes in all; the theory's
 *     force is not needed.
 *   void fg_flow_score_prepare(const fg_flow *f, fg_flow_work *w, const double *z)
 *   void fg_flow_score_apply(const fg_flow *f, fg_flow_work *w, const double *coef,
 *                            double *gparams)
 *     fg_flow_score_backward in two parts: prepare computes grad_phi log q
 *     (kept in w), apply adds one weighted score (one backward pass) and may
 *     be called several times with other weights.
 *   void fg_flow_grad_logq(const fg_flow *f, fg_flow_work *w, const double *z, double *g)
 *     After a saving forward from z: g = grad_phi log q(phi), [ndof][FG_VLEN]
 *     (the model's force; prepare's result).
 *   void fg_flow_path_backward(const fg_flow *f, fg_flow_work *w, const double *z,
 *                              const double *gphi, const double *coef, double *gparams)
 *     After a saving forward: gparams += (gphi + coef grad_phi log q) . df/dtheta|z,
 *     log q's own parameter dependence held fixed: with gphi = coef grad S,
 *     the path (sticking-the-landing) gradient of the reverse KL (Vaitl et
 *     al., arXiv:2207.08219), which drops the score term of zero mean. Same
 *     layer requirement as the score.
 */
#ifndef FLOWGEN_FLOW_H
#define FLOWGEN_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "flowgen/config.h"
#include "flowgen/error.h"
#include "flowgen/lattice.h"
#include "flowgen/nn.h"
#include "flowgen/theory.h"

typedef struct fg_layer fg_layer;

typedef struct {
  const char *name;
  void (*forward)(const fg_layer *layer, void *ws, double *phi, double *logdet, int save);
  void (*inverse)(const fg_layer *layer, void *ws, double *phi, double *logdet);
  void (*backward)(const fg_layer *layer, void *ws, double *gphi, const double *glogdet,
                   double *gparams);
  void (*set_params)(fg_layer *layer, const float *params);
  size_t (*work_bytes)(const fg_layer *layer);
  void (*destroy)(fg_layer *layer);
  /* Optional, for a coupling layer after a saving forward: d[a][l] = the
   * diagonal Jacobian entry d phi_out / d phi_in at each active dof a (what
   * fg_flow_score_backward would otherwise get from one more backward). */
  void (*active_diag)(const fg_layer *layer, const void *ws, double *d);
  /* Optional, for a layer that is not a coupling layer (active == NULL),
   * after a saving forward: u <- J^-T u on the [ndof][FG_VLEN] block, the
   * layer's own transpose solve (fg_flow_score_backward needs either this or
   * active of every layer). It must leave the saved forward state intact. */
  void (*transpose_solve)(const fg_layer *layer, void *ws, double *u);
} fg_layer_ops;

struct fg_layer {
  const fg_layer_ops *ops;
  size_t param_offset;  /* this layer's slice of the flat parameter vector */
  size_t nparams;
  /* A coupling layer: the dofs it updates (the others pass unchanged and its
   * Jacobian is triangular with a diagonal block there); NULL otherwise.
   * fg_flow_score_backward needs it, or ops->transpose_solve, of every layer. */
  const int *active;
  int nactive;
};

typedef struct fg_flow fg_flow;
typedef struct fg_flow_work fg_flow_work;

typedef enum { FG_PARAM_UNIFORM = 0, FG_PARAM_CONSTANT = 1 } fg_param_init;

typedef struct {
  char group[2][32];     /* group path under /model ("" for unused levels) */
  int depth;             /* 1 or 2 levels used */
  char name[16];         /* dataset name */
  int rank;              /* 0 (scalar) .. 4 */
  size_t dims[4];
  size_t offset, count;  /* slice of the flat vector (set by fg_param_layout_add) */
  fg_param_init init;
  double value;          /* the uniform bound, or the constant */
  double flops_per_site; /* forward FLOPs per site and sample */
} fg_param_tensor;

typedef struct {
  size_t n, cap;         /* tensors held, and room (cap 0 with t NULL: counting) */
  size_t nparams;        /* sum of their counts */
  fg_param_tensor *t;    /* owned (fg_alloc) */
  int overflow;          /* set by fg_param_layout_add on overflow */
} fg_param_layout;

typedef struct {
  const char *name;      /* "affine_coupling", "free_field" (theory.h's layer names) */
  int acts_first;        /* a base layer: applied before the others */
  int uses_stencil;      /* needs the flow's convolution stencil */
  /* How many instances of this type the model has (< 0: invalid config). */
  int (*instances)(const fg_model_config *m);
  /* Appends instance `index` (of `count`)'s tensors; -1 for an invalid config. */
  int (*declare)(const fg_model_config *m, int index, int count, fg_param_layout *lay);
  /* Builds instance `index`, its parameters at param_offset of the flat vector. */
  int (*create)(const fg_model_config *m, const fg_lattice *lat, const fg_stencil *st,
                int index, size_t param_offset, fg_layer **out, fg_error *err);
} fg_layer_type;

extern const fg_layer_type fg_affine_coupling_type; /* coupling.c */
extern const fg_layer_type fg_free_field_type;      /* free_field.c */
extern const fg_layer_type fg_gauge_coupling_type;  /* gauge_coupling.c */

/* The gauge coupling's circle map (gauge_coupling.c, docs/model.md). With
 * model.gauge_map ncp: a mixture of FG_GAUGE_NCP non-compact projections and
 * a shift, from FG_GAUGE_NRAW raw outputs per active plaquette; alpha >=
 * FG_GAUGE_ALPHA_MIN. With spline: a circular rational-quadratic spline of
 * K = model.spline_bins bins and a shift, from FG_GAUGE_SPLINE_NRAW(K) raw
 * outputs; every bin at least 2 pi FG_GAUGE_SPLINE_MIN_BIN wide and high,
 * knot derivatives >= FG_GAUGE_SPLINE_MIN_DERIVATIVE (circle_spline.c). */
#define FG_GAUGE_NCP 6
#define FG_GAUGE_NRAW (2 * FG_GAUGE_NCP + 1)
#define FG_GAUGE_ALPHA_MIN 1e-3
#define FG_GAUGE_SPLINE_NRAW(bins) (3 * (bins) + 1)
#define FG_GAUGE_SPLINE_MIN_BIN 1e-3
#define FG_GAUGE_SPLINE_MIN_DERIVATIVE 1e-3
#define FG_GAUGE_NRAW_MAX FG_GAUGE_SPLINE_NRAW(FG_SPLINE_BINS_MAX)

int fg_param_layout_build(const fg_model_config *m, fg_param_layout *lay, fg_error *err);
int fg_param_layout_count(const fg_model_config *m, size_t *ntensors, size_t *nparams);
void fg_param_layout_free(fg_param_layout *lay);
int fg_param_layout_add(fg_param_layout *lay, const fg_param_tensor *t);
void fg_param_layout_init(const fg_param_layout *lay, uint64_t seed, float *params);
void fg_layer_group_name(char *buf, size_t n, int index, int count);

int fg_flow_create(const fg_model_config *m, const fg_lattice *lat, fg_flow **out,
                   fg_error *err);
int fg_flow_check_theory(const fg_model_config *m, const fg_theory *t, fg_error *err);
void fg_flow_destroy(fg_flow *f);
size_t fg_flow_nparams(const fg_flow *f);
const float *fg_flow_params(const fg_flow *f);
void fg_flow_set_params(fg_flow *f, const float *params);
void fg_flow_init_params(fg_flow *f, uint64_t seed);
double fg_flow_flops(const fg_flow *f);
int fg_flow_volume(const fg_flow *f);
int fg_flow_ndof(const fg_flow *f);
int fg_flow_z2(const fg_flow *f);
const fg_model_config *fg_flow_model(const fg_flow *f);
int fg_flow_field_components(const fg_model_config *m);
fg_component_kind fg_flow_field_kind(const fg_model_config *m);

fg_flow_work *fg_flow_work_create(const fg_flow *f, fg_error *err);
void fg_flow_work_destroy(fg_flow_work *w);

void fg_flow_draw(const fg_flow *f, uint64_t seed, uint32_t purpose, uint64_t first,
                  int nvalid, double *z);
void fg_flow_forward(const fg_flow *f, fg_flow_work *w, const double *z, double *phi,
                     double *logq, int save);
void fg_flow_inverse(const fg_flow *f, fg_flow_work *w, const double *phi, double *z,
                     double *logq);
void fg_flow_backward(const fg_flow *f, fg_flow_work *w, const double *gphi,
                      const double *glogq, double *gparams);
int fg_flow_has_score(const fg_flow *f);
void fg_flow_path_backward(const fg_flow *f, fg_flow_work *w, const double *z,
                           const double *gphi, const double *coef, double *gparams);
void fg_flow_score_prepare(const fg_flow *f, fg_flow_work *w, const double *z);
void fg_flow_grad_logq(const fg_flow *f, fg_flow_work *w, const double *z, double *g);
void fg_flow_score_apply(const fg_flow *f, fg_flow_work *w, const double *coef, double *gparams);
void fg_flow_score_backward(const fg_flow *f, fg_flow_work *w, const double *z,
                            const double *coef, double *gparams);

/* Layer constructors (flow/<layer>.c). The free-field layer (seed eq. A2):
 * phi(k) -> sigma_k phi(k), sigma_k^-2 = |mu| + sum_nu (2 - 2 cos k_nu),
 * one parameter (mu), FFTW plans made once with FFTW_ESTIMATE. */
int fg_free_field_create(const fg_model_config *m, const fg_lattice *lat, size_t param_offset,
                         fg_layer **out, fg_error *err);
int fg_coupling_create(const fg_model_config *m, const fg_lattice *lat, const fg_stencil *st,
                       int index, size_t param_offset, fg_layer **out, fg_error *err);

#endif
