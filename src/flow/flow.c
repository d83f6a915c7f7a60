/*
 * flow.c -- the flow: base distribution, layer list, flat parameters, and
 * forward / inverse / backward over blocks of FG_VLEN samples (see flow.h).
 * The layers are the instances of every layer type (params.c's table),
 * created in canonical parameter order and run with the acts_first types
 * (the base layers) ahead of the others; the parameter layout they declare
 * gives the flat vector, the initialisation and the FLOP count.
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
  int ndof;           /* components x volume */
  fg_stencil st;
  int have_stencil;
  int nlayers;
  int alloc_layers;   /* slots in layers (some may be NULL after a failure) */
  fg_layer **layers;  /* in the order they act */
  fg_param_layout layout;
  size_t nparams;
  float *params;
  double flops;
};

struct fg_flow_work {
  int nlayers;
  void **ws;        /* per-layer workspaces, inside mem */
  char *mem;
  double *gphi;     /* [ndof][L] gradient being propagated */
  double *u, *t;    /* [ndof][L] each: fg_flow_score_backward's vectors */
  double *gscratch; /* [nparams]: parameter gradients it discards */
};

static const double LOG_2PI = 1.8378770664093454836;

int fg_flow_field_components(const fg_model_config *m)
{
  return m->base == FG_BASE_HAAR ? 2 : 1;
}

fg_component_kind fg_flow_field_kind(const fg_model_config *m)
{
  return m->base == FG_BASE_HAAR ? FG_COMPONENT_ANGLE : FG_COMPONENT_REAL;
}

void fg_flow_destroy(fg_flow *f)
{
  if (f == NULL)
    return;
  for (int i = 0; i < f->alloc_layers; ++i)
    if (f->layers[i] != NULL)
      f->layers[i]->ops->destroy(f->layers[i]);
  fg_free(f->layers);
  fg_free(f->params);
  fg_param_layout_free(&f->layout);
  if (f->have_stencil)
    fg_stencil_free(&f->st);
  fg_free(f);
}

/* Creates every instance of every type in canonical parameter order into
 * canon[], checking each against the parameters its type declared. */
static int create_layers(fg_flow *f, fg_layer **canon, int *acts_first, fg_error *err)
{
  static const char where[] = "fg_flow_create [flow.c]";
  size_t offset = 0;
  int n = 0;
  for (int k = 0; k < fg_nlayer_types; ++k) {
    const fg_layer_type *type = fg_layer_types[k];
    const int count = type->instances(&f->m);
    for (int i = 0; i < count; ++i) {
      fg_param_layout own = {0};
      type->declare(&f->m, i, count, &own);
      int rc = type->create(&f->m, f->lat, &f->st, i, offset, &canon[n], err);
      if (rc != FG_OK)
        return rc;
      acts_first[n] = type->acts_first;
      if (canon[n]->nparams != own.nparams)
        return fg_fail(err, FG_ERR_RUNTIME, where, "layer %s %d holds %zu parameters, declares %zu",
                       type->name, i, canon[n]->nparams, own.nparams);
      offset += canon[n++]->nparams;
    }
  }
  return FG_OK;
}

int fg_flow_create(const fg_model_config *m, const fg_lattice *lat, fg_flow **out,
                   fg_error *err)
{
  static const char where[] = "fg_flow_create [flow.c]";
  *out = NULL;
  if (m->base == FG_BASE_HAAR && lat->nd != 2)
    return fg_fail(err, FG_ERR_INPUT, where, "model.base haar (U(1) links) needs a 2D lattice, "
                   "not %dD", lat->nd);
  fg_flow *f = fg_alloc(sizeof *f, err, where);
  if (f == NULL)
    return FG_ERR_RUNTIME;
  f->m = *m;
  f->lat = lat;
  f->ndof = fg_flow_field_components(m) * lat->volume;
  int rc = fg_param_layout_build(m, &f->layout, err);
  int total = 0, stencil = 0;
  for (int k = 0; k < fg_nlayer_types && rc == FG_OK; ++k) {
    int count = fg_layer_types[k]->instances(m);
    total += count;
    stencil |= count > 0 && fg_layer_types[k]->uses_stencil;
  }
  if (rc == FG_OK && stencil) {
    rc = fg_stencil_init(&f->st, lat, m->kernel_size, err);
    f->have_stencil = rc == FG_OK;
  }
  fg_layer **canon = NULL;
  int *first = NULL;
  if (rc == FG_OK) {
    f->layers = fg_alloc(sizeof(fg_layer *) * (size_t)(total + 1), err, where);
    canon = fg_alloc(sizeof(fg_layer *) * (size_t)(total + 1), err, where);
    first = fg_alloc(sizeof(int) * (size_t)(total + 1), err, where);
    rc = f->layers && canon && first ? FG_OK : FG_ERR_RUNTIME;
  }
  if (rc == FG_OK) {
    rc = create_layers(f, canon, first, err);
    /* The acting order: base layers first; every created layer is owned by f. */
    for (int pass = 1; pass >= 0; --pass)
      for (int i = 0; i < total; ++i)
        if (canon[i] != NULL && first[i] == pass)
          f->layers[f->alloc_layers++] = canon[i];
  }
  fg_free(canon);
  fg_free(first);
  if (rc == FG_OK) {
    f->nlayers = total;
    f->nparams = f->layout.nparams;
    f->params = fg_alloc(sizeof(float) * (f->nparams + 1), err, where);
    rc = f->params ? FG_OK : FG_ERR_RUNTIME;
  }
  if (rc != FG_OK) {
    fg_flow_destroy(f);
    return rc;
  }
  for (size_t k = 0; k < f->layout.n; ++k) {
    const fg_param_tensor *t = &f->layout.t[k];
    f->flops += (double)lat->volume * t->flops_per_site;
    /* Constant tensors hold their value from the start (mu = 0 would be singular). */
    for (size_t i = 0; i < t->count && t->init == FG_PARAM_CONSTANT; ++i)
      f->params[t->offset + i] = (float)t->value;
  }
  fg_flow_set_params(f, f->params);
  *out = f;
  return FG_OK;
}

int fg_flow_check_theory(const fg_model_config *m, const fg_theory *t, fg_error *err)
{
  int same = fg_theory_components(t) == fg_flow_field_components(m);
  for (int c = 0; same && c < fg_theory_components(t); ++c)
    same = fg_theory_component_kind(t, c) == fg_flow_field_kind(m);
  if (!same)
    return fg_fail(err, FG_ERR_INPUT, "fg_flow_check_theory [flow.c]",
                   "model.base %s draws %d %s per site, theory %s has %d %s components",
                   fg_base_name(m->base), fg_flow_field_components(m),
                   fg_flow_field_kind(m) == FG_COMPONENT_ANGLE ? "angles" : "reals",
                   fg_theory_label(t), fg_theory_components(t),
                   fg_theory_has_angles(t) ? "angle" : "real");
  if (m->symmetry == FG_SYM_Z2 && !fg_theory_z2_symmetric(t))
    return fg_fail(err, FG_ERR_INPUT, "fg_flow_check_theory [flow.c]",
                   "model.symmetry z2: the action of theory %s is not even in the field",
                   fg_theory_label(t));
  for (int k = 0; k < fg_nlayer_types; ++k)
    if (fg_layer_types[k]->instances(m) > 0 && !fg_theory_allows_layer(t, fg_layer_types[k]->name))
      return fg_fail(err, FG_ERR_INPUT, "fg_flow_check_theory [flow.c]",
                     "layer type %s does not apply to the fields of theory %s",
                     fg_layer_types[k]->name, fg_theory_label(t));
  return FG_OK;
}

size_t fg_flow_nparams(const fg_flow *f) { return f->nparams; }
const float *fg_flow_params(const fg_flow *f) { return f->params; }
double fg_flow_flops(const fg_flow *f) { return f->flops; }
int fg_flow_volume(const fg_flow *f) { return f->lat->volume; }
int fg_flow_ndof(const fg_flow *f) { return f->ndof; }
int fg_flow_z2(const fg_flow *f) { return f->m.symmetry == FG_SYM_Z2; }
const fg_model_config *fg_flow_model(const fg_flow *f) { return &f->m; }

void fg_flow_set_params(fg_flow *f, const float *params)
{
  if (params != f->params)
    memcpy(f->params, params, sizeof(float) * f->nparams);
  for (int i = 0; i < f->nlayers; ++i)
    f->layers[i]->ops->set_params(f->layers[i], f->params + f->layers[i]->param_offset);
}

void fg_flow_init_params(fg_flow *f, uint64_t seed)
{
  fg_param_layout_init(&f->layout, seed, f->params);
  fg_flow_set_params(f, f->params);
}

void fg_flow_work_destroy(fg_flow_work *w)
{
  if (w == NULL)
    return;
  fg_free(w->ws);
  fg_free(w->mem);
  fg_free(w->gphi);
  fg_free(w->u);
  fg_free(w->t);
  fg_free(w->gscratch);
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
  w->gphi = fg_alloc(sizeof(double) * (size_t)f->ndof * L, err, where);
  w->u = fg_alloc(sizeof(double) * (size_t)f->ndof * L, err, where);
  w->t = fg_alloc(sizeof(double) * (size_t)f->ndof * L, err, where);
  w->gscratch = fg_alloc(sizeof(double) * (f->nparams ? f->nparams : 1), err, where);
  if (!w->ws || !w->mem || !w->gphi || !w->u || !w->t || !w->gscratch) {
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
  const int V = f->ndof;
  const int haar = f->m.base == FG_BASE_HAAR;
  for (int l = 0; l < L; ++l) {
    if (l >= nvalid) {
      for (int y = 0; y < V; ++y)
        z[y * L + l] = 0.0;
      continue;
    }
    fg_rng r;
    fg_rng_init(&r, seed, purpose, first + (uint64_t)l, 0);
    if (haar)
      for (int y = 0; y < V; ++y) /* u in (0, 1): an angle in (-pi, pi) */
        z[y * L + l] = M_PI * (1.0 - 2.0 * fg_rng_uniform(&r));
    else
      for (int y = 0; y < V; ++y)
        z[y * L + l] = fg_rng_normal(&r);
  }
}

static void base_logpdf(const fg_flow *f, const double *z, double *logr)
{
  const int V = f->ndof;
  if (f->m.base == FG_BASE_HAAR) {
    for (int l = 0; l < L; ++l)
      logr[l] = -V * LOG_2PI;
    return;
  }
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
  const int V = f->ndof;
  double logdet[L] = {0};
  base_logpdf(f, z, logq);
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
  const int V = f->ndof;
  double logdet[L] = {0};
  if (z != phi)
    memcpy(z, phi, sizeof(double) * (size_t)V * L);
  for (int i = f->nlayers - 1; i >= 0; --i)
    f->layers[i]->ops->inverse(f->layers[i], w->ws[i], z, logdet);
  base_logpdf(f, z, logq);
  for (int l = 0; l < L; ++l)
    logq[l] -= logdet[l];
}

void fg_flow_backward(const fg_flow *f, fg_flow_work *w, const double *gphi,
                      const double *glogq, double *gparams)
{
  double glogdet[L];
  for (int l = 0; l < L; ++l)
    glogdet[l] = -glogq[l]; /* log q = log r(z) - logdet, and z is held fixed */
  memcpy(w->gphi, gphi, sizeof(double) * (size_t)f->ndof * L);
  for (int i = f->nlayers - 1; i >= 0; --i)
    f->layers[i]->ops->backward(f->layers[i], w->ws[i], w->gphi, glogdet,
                                gparams + f->layers[i]->param_offset);
}

int fg_flow_has_score(const fg_flow *f)
{
  for (int i = 0; i < f->nlayers; ++i)
    if (f->layers[i]->active == NULL && f->layers[i]->ops->transpose_solve == NULL)
      return 0;
  return 1;
}

/* u <- J^-T u for layer i (see flow.h), with t as scratch. */
static void layer_transpose_solve(const fg_flow *f, fg_flow_work *w, int i)
{
  const fg_layer *ly = f->layers[i];
  const size_t field = (size_t)f->ndof * L;
  const double zero[L] = {0};
  double *u = w->u, *t = w->t;
  if (ly->active == NULL) { /* not a coupling layer: its own solve */
    ly->ops->transpose_solve(ly, w->ws[i], u);
    return;
  }
  /* D: from the layer, or J^T applied to the indicator of the active dofs,
   * read there. */
  memset(t, 0, sizeof(double) * field);
  if (ly->ops->active_diag != NULL) {
    ly->ops->active_diag(ly, w->ws[i], t);
  } else {
    for (int k = 0; k < ly->nactive; ++k)
      for (int l = 0; l < L; ++l)
        t[(size_t)ly->active[k] * L + l] = 1.0;
    ly->ops->backward(ly, w->ws[i], t, zero, w->gscratch + ly->param_offset);
  }
  for (int k = 0; k < ly->nactive; ++k) { /* v_A = u_A / D, kept in u */
    size_t a = (size_t)ly->active[k] * L;
    for (int l = 0; l < L; ++l)
      u[a + l] /= t[a + l];
  }
  /* B^T v_A: J^T applied to (v_A, 0), read at the other dofs. */
  memset(t, 0, sizeof(double) * field);
  for (int k = 0; k < ly->nactive; ++k) {
    size_t a = (size_t)ly->active[k] * L;
    memcpy(t + a, u + a, sizeof(double) * L);
  }
  ly->ops->backward(ly, w->ws[i], t, zero, w->gscratch + ly->param_offset);
  for (int k = 0; k < ly->nactive; ++k) { /* the active dofs keep v_A */
    size_t a = (size_t)ly->active[k] * L;
    memset(t + a, 0, sizeof(double) * L);
  }
  for (size_t j = 0; j < field; ++j)
    u[j] -= t[j];
}

void fg_flow_score_prepare(const fg_flow *f, fg_flow_work *w, const double *z)
{
  const size_t field = (size_t)f->ndof * L;
  double glogdet[L];
  /* grad_z log q(f(z)) = grad_z log r - grad_z sum log J_i. */
  for (int l = 0; l < L; ++l)
    glogdet[l] = -1.0;
  memset(w->u, 0, sizeof(double) * field);
  for (int i = f->nlayers - 1; i >= 0; --i)
    f->layers[i]->ops->backward(f->layers[i], w->ws[i], w->u, glogdet,
                                w->gscratch + f->layers[i]->param_offset);
  if (f->m.base != FG_BASE_HAAR) /* normal base: grad log r = -z */
    for (size_t j = 0; j < field; ++j)
      w->u[j] -= z[j];
  /* grad_phi log q = J_(n-1)^-T ... J_0^-T grad_z log q. */
  for (int i = 0; i < f->nlayers; ++i)
    layer_transpose_solve(f, w, i);
}

void fg_flow_grad_logq(const fg_flow *f, fg_flow_work *w, const double *z, double *g)
{
  fg_flow_score_prepare(f, w, z);
  memcpy(g, w->u, sizeof(double) * (size_t)f->ndof * L);
}

void fg_flow_score_apply(const fg_flow *f, fg_flow_work *w, const double *coef, double *gparams)
{
  /* The score, weighted: dL/dphi = -coef grad_phi log q, dL/dlogq = coef. */
  const size_t field = (size_t)f->ndof * L;
  for (size_t j = 0; j < field; ++j)
    w->t[j] = -coef[j % L] * w->u[j];
  fg_flow_backward(f, w, w->t, coef, gparams);
}

void fg_flow_path_backward(const fg_flow *f, fg_flow_work *w, const double *z,
                           const double *gphi, const double *coef, double *gparams)
{
  static const double zero[L] = {0};
  fg_flow_score_prepare(f, w, z);
  const size_t field = (size_t)f->ndof * L;
  for (size_t j = 0; j < field; ++j)
    w->t[j] = gphi[j] + coef[j % L] * w->u[j];
  fg_flow_backward(f, w, w->t, zero, gparams);
}

void fg_flow_score_backward(const fg_flow *f, fg_flow_work *w, const double *z,
                            const double *coef, double *gparams)
{
  fg_flow_score_prepare(f, w, z);
  fg_flow_score_apply(f, w, coef, gparams);
}
