/*
 * optimizer.c -- Adam, Adadelta and SGD as PyTorch defines them, and
 * gradient clipping by the global norm (see train.h). Local.
 */
#include <math.h>
#include <string.h>

#include "flowgen/train.h"

int fg_optimizer_init(fg_optimizer *o, const fg_optimizer_config *cfg, size_t nparams,
                      fg_error *err)
{
  memset(o, 0, sizeof *o);
  o->cfg = *cfg;
  o->n = nparams;
  o->state_len = cfg->name == FG_OPT_SGD ? nparams : 2 * nparams;
  o->state = fg_alloc(sizeof(double) * o->state_len, err, "fg_optimizer_init [optimizer.c]");
  return o->state ? FG_OK : FG_ERR_RUNTIME;
}

void fg_optimizer_free(fg_optimizer *o)
{
  fg_free(o->state);
  memset(o, 0, sizeof *o);
}

static void adam_step(fg_optimizer *o, float *p, const double *grad, double lr)
{
  const fg_optimizer_config *c = &o->cfg;
  double *m = o->state, *v = o->state + o->n;
  double bc1 = 1.0 - pow(c->beta1, (double)o->t), bc2 = 1.0 - pow(c->beta2, (double)o->t);
  double step = lr / bc1, rbc2 = 1.0 / sqrt(bc2);
  for (size_t i = 0; i < o->n; ++i) {
    double g = grad[i] + c->weight_decay * p[i];
    m[i] = c->beta1 * m[i] + (1.0 - c->beta1) * g;
    v[i] = c->beta2 * v[i] + (1.0 - c->beta2) * g * g;
    p[i] = (float)(p[i] - step * m[i] / (sqrt(v[i]) * rbc2 + c->eps));
  }
}

static void adadelta_step(fg_optimizer *o, float *p, const double *grad, double lr)
{
  const fg_optimizer_config *c = &o->cfg;
  double *sq = o->state, *acc = o->state + o->n;
  for (size_t i = 0; i < o->n; ++i) {
    double g = grad[i] + c->weight_decay * p[i];
    sq[i] = c->rho * sq[i] + (1.0 - c->rho) * g * g;
    double delta = sqrt(acc[i] + c->eps) / sqrt(sq[i] + c->eps) * g;
    acc[i] = c->rho * acc[i] + (1.0 - c->rho) * delta * delta;
    p[i] = (float)(p[i] - lr * delta);
  }
}

static void sgd_step(fg_optimizer *o, float *p, const double *grad, double lr)
{
  const fg_optimizer_config *c = &o->cfg;
  double *buf = o->state;
  for (size_t i = 0; i < o->n; ++i) {
    double g = grad[i] + c->weight_decay * p[i];
    if (c->momentum > 0.0) {
      buf[i] = o->t == 1 ? g : c->momentum * buf[i] + g;
      g = buf[i];
    }
    p[i] = (float)(p[i] - lr * g);
  }
}

void fg_optimizer_step(fg_optimizer *o, float *params, const double *grad, double lr)
{
  o->t++;
  switch (o->cfg.name) {
  case FG_OPT_ADAM:
    adam_step(o, params, grad, lr);
    break;
  case FG_OPT_ADADELTA:
    adadelta_step(o, params, grad, lr);
    break;
  case FG_OPT_SGD:
    sgd_step(o, params, grad, lr);
    break;
  }
}

double fg_clip_grad_norm(double *grad, size_t n, double max_norm)
{
  double s = 0.0;
  for (size_t i = 0; i < n; ++i)
    s += grad[i] * grad[i];
  double norm = sqrt(s);
  if (max_norm > 0.0) {
    double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0)
      for (size_t i = 0; i < n; ++i)
        grad[i] *= coef;
  }
  return norm;
}
