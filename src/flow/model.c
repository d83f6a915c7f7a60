/*
 * model.c -- sampling and reverse-KL gradients of a flow on a theory, one
 * block of FG_VLEN samples at a time (see model.h). Fields are the flow's
 * [ndof][FG_VLEN] blocks, the theory's ndof (fg_flow_check_theory checks
 * that the two agree). Local.
 */
#include <string.h>

#include "flowgen/model.h"

enum { L = FG_VLEN };

int fg_model_block_init(fg_model_block *b, const fg_flow *f, fg_error *err)
{
  static const char where[] = "fg_model_block_init [model.c]";
  memset(b, 0, sizeof *b);
  size_t field = sizeof(double) * (size_t)fg_flow_ndof(f) * L;
  b->work = fg_flow_work_create(f, err);
  b->z = fg_alloc(field, err, where);
  b->phi = fg_alloc(field, err, where);
  b->force = fg_alloc(field, err, where);
  if (!b->work || !b->z || !b->phi || !b->force) {
    fg_model_block_free(b);
    return FG_ERR_RUNTIME;
  }
  return FG_OK;
}

void fg_model_block_free(fg_model_block *b)
{
  fg_flow_work_destroy(b->work);
  fg_free(b->z);
  fg_free(b->phi);
  fg_free(b->force);
  memset(b, 0, sizeof *b);
}

static void draw_and_flow(const fg_theory *th, const fg_flow *f, fg_model_block *b,
                          uint64_t seed, uint32_t purpose, uint64_t first, int nvalid, int save)
{
  fg_flow_draw(f, seed, purpose, first, nvalid, b->z);
  fg_flow_forward(f, b->work, b->z, b->phi, b->logq, save);
  fg_theory_action(th, b->phi, L, b->action);
  for (int l = 0; l < L; ++l)
    b->logw[l] = -b->action[l] - b->logq[l];
}

void fg_model_sample_block(const fg_theory *th, const fg_flow *f, fg_model_block *b,
                           uint64_t seed, uint32_t purpose, uint64_t first, int nvalid)
{
  draw_and_flow(th, f, b, seed, purpose, first, nvalid, 0);
}

double fg_model_kl_gradient_block(const fg_theory *th, const fg_flow *f, fg_model_block *b,
                                  uint64_t seed, uint32_t purpose, uint64_t first, int nvalid,
                                  double c, double *grad)
{
  const int V = fg_flow_ndof(f);
  draw_and_flow(th, f, b, seed, purpose, first, nvalid, 1);
  fg_theory_force(th, b->phi, L, b->force);
  double glogq[L], loss = 0.0;
  for (int l = 0; l < L; ++l) {
    double cl = l < nvalid ? c : 0.0; /* padding lanes contribute nothing */
    glogq[l] = cl;
    if (l < nvalid)
      loss += b->logq[l] + b->action[l];
    for (int y = 0; y < V; ++y)
      b->force[y * L + l] *= cl;
  }
  fg_flow_backward(f, b->work, b->force, glogq, grad);
  return loss;
}

double fg_model_score_gradient_block(const fg_theory *th, const fg_flow *f, fg_model_block *b,
                                     uint64_t seed, uint32_t purpose, uint64_t first, int nvalid,
                                     double c, double *grad1, double *grad0)
{
  draw_and_flow(th, f, b, seed, purpose, first, nvalid, 1);
  double c1[L], c0[L], loss = 0.0;
  for (int l = 0; l < L; ++l) {
    int valid = l < nvalid;  /* padding lanes contribute nothing */
    double w = valid ? b->logq[l] + b->action[l] : 0.0;
    c0[l] = valid ? c : 0.0;
    c1[l] = c0[l] * w;
    loss += w;
  }
  fg_flow_score_prepare(f, b->work, b->z);
  fg_flow_score_apply(f, b->work, c1, grad1);
  fg_flow_score_apply(f, b->work, c0, grad0);
  return loss;
}
