/*
 * model.c -- sampling and reverse-KL gradients of a flow on a theory, one
 * block of FG_VLEN samples at a time (see model.h). Fields are the flow's
 * [ndof][FG_VLEN] blocks, the theory's ndof (fg_flow_check_theory checks
 * that the two agree). Local.
 */
#include <math.h>
#include <string.h>

#include "flowgen/model.h"
#include "flowgen/rng.h"

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
  int mirror_ok = 1;
  if (fg_flow_z2(f)) {
    b->mwork = fg_flow_work_create(f, err);
    b->mz = fg_alloc(field, err, where);
    b->mphi = fg_alloc(field, err, where);
    b->mg = fg_alloc(field, err, where);
    mirror_ok = b->mwork && b->mz && b->mphi && b->mg;
  }
  if (!b->work || !b->z || !b->phi || !b->force || !mirror_ok) {
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
  fg_flow_work_destroy(b->mwork);
  fg_free(b->mz);
  fg_free(b->mphi);
  fg_free(b->mg);
  memset(b, 0, sizeof *b);
}

/* ---- model.symmetry z2: q(phi) = (q_f(phi) + q_f(-phi)) / 2 -------------- */

/* b->mphi = -phi (angles kept in (-pi, pi]), b->mz = f^-1(-phi) and
 * b->mlogq = log q_f(-phi). */
static void mirror(const fg_flow *f, fg_model_block *b, const double *phi)
{
  const size_t field = (size_t)fg_flow_ndof(f) * L;
  const int angles = fg_flow_field_kind(fg_flow_model(f)) == FG_COMPONENT_ANGLE;
  for (size_t j = 0; j < field; ++j) {
    double v = -phi[j];
    b->mphi[j] = angles && v <= -M_PI ? v + 2.0 * M_PI : v;
  }
  fg_flow_inverse(f, b->mwork, b->mphi, b->mz, b->mlogq);
}

/* After mirror: a saving forward from b->mz in b->mwork and b->mg = grad
 * log q_f at -phi (fg_flow_score_prepare's, so that fg_flow_score_apply on
 * b->mwork adds the score at -phi). */
static void mirror_gradient(const fg_flow *f, fg_model_block *b)
{
  double tmp[L];
  fg_flow_forward(f, b->mwork, b->mz, b->mg, tmp, 1); /* mg: scratch until the next line */
  fg_flow_grad_logq(f, b->mwork, b->mz, b->mg);
}

/* log((exp(a) + exp(c)) / 2) without overflow. */
static double log_mean_exp2(double a, double c)
{
  double hi = a > c ? a : c;
  return hi + log1p(exp(-fabs(a - c))) - M_LN2;
}

/* Below this weight the mirror branch is dropped from the gradients: its
 * share is under 2^-60 of the lane's, and products with tiny weights would
 * otherwise fill the backward passes with subnormal numbers (slow). */
#define FG_MIRROR_MIN_WEIGHT 8.7e-19

/* Replaces b->logq (log q_f(phi)) by the symmetrised log q and puts in wm[l]
 * the weight of the mirror branch, q_f(-phi) / (q_f(phi) + q_f(-phi)) (0
 * below FG_MIRROR_MIN_WEIGHT); returns how many lanes keep a weight. */
static int symmetrise(fg_model_block *b, double *wm)
{
  int kept = 0;
  for (int l = 0; l < L; ++l) {
    double a = b->logq[l], c = b->mlogq[l];
    wm[l] = 1.0 / (1.0 + exp(a - c));
    if (!(wm[l] >= FG_MIRROR_MIN_WEIGHT))
      wm[l] = 0.0;
    kept += wm[l] > 0.0;
    b->logq[l] = log_mean_exp2(a, c);
  }
  return kept;
}

/* The global sign of each sample (z2): stream (seed, purpose, sample, 1),
 * apart from the base noise's sub-stream 0. */
static void random_signs(const fg_flow *f, fg_model_block *b, uint64_t seed, uint32_t purpose,
                         uint64_t first, int nvalid)
{
  const int V = fg_flow_ndof(f);
  for (int l = 0; l < nvalid; ++l) {
    fg_rng r;
    fg_rng_init(&r, seed, purpose, first + (uint64_t)l, 1);
    if (fg_rng_u64(&r) >> 63)
      for (int y = 0; y < V; ++y)
        b->phi[y * L + l] = b->mphi[y * L + l];
  }
}

/* Draws and flows a block: b->phi, b->logq (the model's), b->action. With
 * z2, the mirror branch is evaluated and wm gets its weights; with grad, and
 * a lane of weight > 0, also its gradient (mirror_gradient); returns
 * whether it was (a block without it contributes exactly nothing through
 * the mirror). b->phi is still f(z), unsigned. */
static int draw_and_flow(const fg_theory *th, const fg_flow *f, fg_model_block *b,
                         uint64_t seed, uint32_t purpose, uint64_t first, int nvalid, int save,
                         int grad, double *wm)
{
  int mirrored = 0;
  fg_flow_draw(f, seed, purpose, first, nvalid, b->z);
  fg_flow_forward(f, b->work, b->z, b->phi, b->logq, save);
  if (fg_flow_z2(f)) {
    mirror(f, b, b->phi);
    if (symmetrise(b, wm) > 0 && grad) {
      mirror_gradient(f, b);
      mirrored = 1;
    }
  }
  fg_theory_action(th, b->phi, L, b->action);
  for (int l = 0; l < L; ++l)
    b->logw[l] = -b->action[l] - b->logq[l];
  return mirrored;
}

void fg_model_sample_block(const fg_theory *th, const fg_flow *f, fg_model_block *b,
                           uint64_t seed, uint32_t purpose, uint64_t first, int nvalid)
{
  double wm[L];
  draw_and_flow(th, f, b, seed, purpose, first, nvalid, 0, 0, wm);
  if (fg_flow_z2(f)) /* the action and log q are even: only phi changes */
    random_signs(f, b, seed, purpose, first, nvalid);
}

void fg_model_logq(const fg_flow *f, fg_model_block *b, const double *phi, double *logq)
{
  fg_flow_inverse(f, b->work, phi, b->z, logq);
  if (fg_flow_z2(f)) {
    mirror(f, b, phi);
    for (int l = 0; l < L; ++l)
      logq[l] = log_mean_exp2(logq[l], b->mlogq[l]);
  }
}

/* Draws and flows a block with the activations saved, puts in b->force the
 * cotangent on phi = f(z) of c (log q + S) per valid lane (0 in padding
 * lanes, which then contribute nothing) less the part through the flow's own
 * log q_f(phi), and in coef that part's weight: c grad S and c without
 * symmetry; with z2, log q = log q_f(phi) (1 - wm) + log q_f(-phi) wm to
 * first order, so c (grad S - wm grad log q_f(-phi)) and c (1 - wm), and
 * cm = c wm weighs the mirror branch's score. Returns sum_lanes (log q + S);
 * *mirrored says whether the mirror's gradient was prepared (else cm = 0). */
static double flow_with_force(const fg_theory *th, const fg_flow *f, fg_model_block *b,
                              uint64_t seed, uint32_t purpose, uint64_t first, int nvalid,
                              double c, double *coef, double *cm, int *mirrored)
{
  const int V = fg_flow_ndof(f);
  double wm[L] = {0};
  const int z2 = *mirrored = draw_and_flow(th, f, b, seed, purpose, first, nvalid, 1, 1, wm);
  fg_theory_force(th, b->phi, L, b->force);
  double loss = 0.0;
  for (int l = 0; l < L; ++l) {
    double cl = l < nvalid ? c : 0.0;
    coef[l] = cl * (1.0 - wm[l]);
    cm[l] = cl * wm[l];
    if (l < nvalid)
      loss += b->logq[l] + b->action[l];
    for (int y = 0; y < V; ++y) {
      double *g = &b->force[y * L + l];
      *g = z2 ? cl * (*g - wm[l] * b->mg[y * L + l]) : *g * cl;
    }
  }
  return loss;
}

double fg_model_kl_gradient_block(const fg_theory *th, const fg_flow *f, fg_model_block *b,
                                  uint64_t seed, uint32_t purpose, uint64_t first, int nvalid,
                                  double c, double *grad)
{
  double glogq[L], cm[L];
  int mirrored;
  double loss = flow_with_force(th, f, b, seed, purpose, first, nvalid, c, glogq, cm, &mirrored);
  fg_flow_backward(f, b->work, b->force, glogq, grad);
  if (mirrored) /* log q_f(-phi)'s own parameter dependence */
    fg_flow_score_apply(f, b->mwork, cm, grad);
  return loss;
}

double fg_model_path_gradient_block(const fg_theory *th, const fg_flow *f, fg_model_block *b,
                                    uint64_t seed, uint32_t purpose, uint64_t first, int nvalid,
                                    double c, double *grad)
{
  double coef[L], cm[L];
  int mirrored;
  double loss = flow_with_force(th, f, b, seed, purpose, first, nvalid, c, coef, cm, &mirrored);
  fg_flow_path_backward(f, b->work, b->z, b->force, coef, grad);
  return loss;
}

double fg_model_score_gradient_block(const fg_theory *th, const fg_flow *f, fg_model_block *b,
                                     uint64_t seed, uint32_t purpose, uint64_t first, int nvalid,
                                     double c, double *grad1, double *grad0)
{
  double wm[L] = {0};
  const int mirrored = draw_and_flow(th, f, b, seed, purpose, first, nvalid, 1, 1, wm);
  /* With z2 the score of log q is (1 - wm) s_f(phi) + wm s_f(-phi). */
  double c1[L], c0[L], m1[L], m0[L], loss = 0.0;
  for (int l = 0; l < L; ++l) {
    int valid = l < nvalid;  /* padding lanes contribute nothing */
    double w = valid ? b->logq[l] + b->action[l] : 0.0;
    double cl = valid ? c : 0.0;
    c0[l] = cl * (1.0 - wm[l]);
    c1[l] = c0[l] * w;
    m0[l] = cl * wm[l];
    m1[l] = m0[l] * w;
    loss += w;
  }
  fg_flow_score_prepare(f, b->work, b->z);
  fg_flow_score_apply(f, b->work, c1, grad1);
  fg_flow_score_apply(f, b->work, c0, grad0);
  if (mirrored) {
    fg_flow_score_apply(f, b->mwork, m1, grad1);
    fg_flow_score_apply(f, b->mwork, m0, grad0);
  }
  return loss;
}

double fg_model_data_gradient_block(const fg_theory *th, const fg_flow *f, fg_model_block *b,
                                    const double *phi, int nvalid, double c, double *grad)
{
  const size_t field = (size_t)fg_flow_ndof(f) * L;
  double wm[L] = {0}, coef[L], cm[L], tmp[L];
  memcpy(b->phi, phi, sizeof(double) * field);
  fg_flow_inverse(f, b->work, b->phi, b->z, b->logq);
  fg_flow_forward(f, b->work, b->z, b->force, tmp, 1); /* the activations at z; force: scratch */
  int mirrored = 0;
  if (fg_flow_z2(f)) {
    mirror(f, b, b->phi);
    if (symmetrise(b, wm) > 0) {
      mirror_gradient(f, b);
      mirrored = 1;
    }
  }
  fg_theory_action(th, b->phi, L, b->action);
  double loss = 0.0;
  for (int l = 0; l < L; ++l) {
    double cl = l < nvalid ? -c : 0.0;
    coef[l] = cl * (1.0 - wm[l]);
    cm[l] = cl * wm[l];
    b->logw[l] = -b->action[l] - b->logq[l];
    if (l < nvalid)
      loss += b->logw[l];
  }
  fg_flow_score_prepare(f, b->work, b->z);
  fg_flow_score_apply(f, b->work, coef, grad);
  if (mirrored)
    fg_flow_score_apply(f, b->mwork, cm, grad);
  return loss;
}
