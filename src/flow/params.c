/*
 * params.c -- the parameter layout of a model, built from what each layer
 * type declares (contracts in flow.h), and the table of layer types.
 * All functions local and pure (no global mutable state).
 *
 *   const fg_layer_type *const fg_layer_types[]; const int fg_nlayer_types
 *     (flow_internal.h) Every layer type, in canonical parameter order. A
 *     new type is one file that defines its fg_layer_type, plus its line
 *     here and in src/meson.build.
 *
 *   int fg_param_layout_build(const fg_model_config *m, fg_param_layout *lay,
 *                             fg_error *err)
 *   int fg_param_layout_count(const fg_model_config *m, size_t *ntensors, size_t *nparams)
 *   void fg_param_layout_free(fg_param_layout *lay)
 *   int fg_param_layout_add(fg_param_layout *lay, const fg_param_tensor *t)
 *   void fg_param_layout_init(const fg_param_layout *lay, uint64_t seed, float *params)
 *   void fg_layer_group_name(char *buf, size_t n, int index, int count)
 */
#include <stdio.h>
#include <string.h>

#include "flow_internal.h"
#include "flowgen/rng.h"

const fg_layer_type *const fg_layer_types[] = {
    &fg_affine_coupling_type,
    &fg_free_field_type,
    &fg_gauge_coupling_type,
};
const int fg_nlayer_types = (int)(sizeof fg_layer_types / sizeof fg_layer_types[0]);

void fg_layer_group_name(char *buf, size_t n, int index, int count)
{
  int width = 2;
  for (int last = count - 1; last >= 100 && width < 10; last /= 10)
    ++width;
  snprintf(buf, n, "layer_%0*d", width, index);
}

int fg_param_layout_add(fg_param_layout *lay, const fg_param_tensor *t)
{
  size_t count = 1;
  for (int i = 0; i < t->rank; ++i)
    if (__builtin_mul_overflow(count, t->dims[i], &count))
      lay->overflow = 1;
  size_t end;
  if (lay->overflow || __builtin_add_overflow(lay->nparams, count, &end)) {
    lay->overflow = 1;
    return -1;
  }
  if (lay->t != NULL) {
    if (lay->n >= lay->cap) {
      lay->overflow = 1;
      return -1;
    }
    lay->t[lay->n] = *t;
    lay->t[lay->n].offset = lay->nparams;
    lay->t[lay->n].count = count;
  }
  lay->n++;
  lay->nparams = end;
  return 0;
}

/* Every type's instances in canonical order, into lay (counting when lay->t is NULL). */
static int declare_all(const fg_model_config *m, fg_param_layout *lay)
{
  for (int k = 0; k < fg_nlayer_types; ++k) {
    const fg_layer_type *type = fg_layer_types[k];
    int count = type->instances(m);
    if (count < 0)
      return -1;
    for (int i = 0; i < count; ++i)
      if (type->declare(m, i, count, lay) != 0 || lay->overflow)
        return -1;
  }
  return 0;
}

int fg_param_layout_count(const fg_model_config *m, size_t *ntensors, size_t *nparams)
{
  fg_param_layout lay = {0};
  int rc = declare_all(m, &lay);
  *ntensors = rc == 0 ? lay.n : 0;
  *nparams = rc == 0 ? lay.nparams : 0;
  return rc;
}

int fg_param_layout_build(const fg_model_config *m, fg_param_layout *lay, fg_error *err)
{
  static const char where[] = "fg_param_layout_build [params.c]";
  memset(lay, 0, sizeof *lay);
  size_t n, np;
  if (fg_param_layout_count(m, &n, &np) != 0)
    return fg_fail(err, FG_ERR_INPUT, where,
                   "invalid architecture (%d coupling layers, kernel %d, %d hidden) or its "
                   "parameter count overflows", m->coupling_layers, m->kernel_size, m->n_hidden);
  if (n > 0 && (lay->t = fg_alloc(sizeof(fg_param_tensor) * n, err, where)) == NULL)
    return FG_ERR_RUNTIME;
  lay->cap = n;
  if (n > 0 && declare_all(m, lay) != 0)
    return fg_fail(err, FG_ERR_RUNTIME, where, "the layer types declared inconsistently");
  return FG_OK;
}

void fg_param_layout_free(fg_param_layout *lay)
{
  fg_free(lay->t);
  memset(lay, 0, sizeof *lay);
}

static void fill_uniform(fg_rng *r, float *x, size_t n, double bound)
{
  for (size_t i = 0; i < n; ++i)
    x[i] = (float)((2.0 * fg_rng_uniform(r) - 1.0) * bound);
}

void fg_param_layout_init(const fg_param_layout *lay, uint64_t seed, float *params)
{
  fg_rng r;
  fg_rng_init(&r, seed, FG_RNG_INIT, 0, 0);
  for (size_t k = 0; k < lay->n; ++k) {
    const fg_param_tensor *t = &lay->t[k];
    float *p = params + t->offset;
    if (t->init == FG_PARAM_UNIFORM)
      fill_uniform(&r, p, t->count, t->value);
    else
      for (size_t i = 0; i < t->count; ++i)
        p[i] = (float)t->value;
  }
}
