/*
 * model.h -- a flow paired with a theory: blocks of FG_VLEN samples with
 * their log-densities and actions, and the reverse-KL gradient. These are
 * the kernels that training, evaluation, benchmarks and the sampling
 * service share. All local.
 *
 * The flow's field shape must be the theory's (fg_flow_check_theory).
 * fg_model_block holds the per-caller buffers ([ndof][FG_VLEN] doubles each,
 * ndof = fg_flow_ndof):
 *   int fg_model_block_init(fg_model_block *b, const fg_flow *f, fg_error *err)
 *   void fg_model_block_free(fg_model_block *b)
 *
 *   void fg_model_sample_block(const fg_theory *th, const fg_flow *f, fg_model_block *b,
 *                              uint64_t seed, uint32_t purpose, uint64_t first, int nvalid)
 *     Draws samples first .. first+nvalid-1 of stream (seed, purpose) into
 *     b->phi, with b->logq, b->action and b->logw = -S - log q per lane
 *     (lanes >= nvalid hold unused values).
 *
 *   double fg_model_kl_gradient_block(const fg_theory *th, const fg_flow *f,
 *                                     fg_model_block *b, uint64_t seed, uint32_t purpose,
 *                                     uint64_t first, int nvalid, double c, double *grad)
 *     As fg_model_sample_block, then grad += c * sum_lanes d(log q + S)/dtheta
 *     (the reparameterised gradient of the reverse KL). Returns
 *     sum_lanes (log q + S) over the valid lanes.
 *
 *   double fg_model_score_gradient_block(const fg_theory *th, const fg_flow *f,
 *                                        fg_model_block *b, uint64_t seed, uint32_t purpose,
 *                                        uint64_t first, int nvalid, double c,
 *                                        double *grad1, double *grad0)
 *     As fg_model_sample_block (the action only, no force), then with the
 *     score s_l = d log q(phi_l)/d theta at phi_l fixed (fg_flow_score_backward):
 *     grad1 += c sum_lanes (log q + S) s_l and grad0 += c sum_lanes s_l, from
 *     which the score-function gradient of the reverse KL with the batch
 *     mean b of log q + S as baseline is N/(N-1) (grad1 - b grad0) (train.c).
 *     Needs fg_flow_has_score(f). Returns sum_lanes (log q + S).
 */
#ifndef FLOWGEN_MODEL_H
#define FLOWGEN_MODEL_H

#include "flowgen/flow.h"
#include "flowgen/theory.h"

typedef struct {
  fg_flow_work *work;
  double *z, *phi, *force;
  double logq[FG_VLEN], action[FG_VLEN], logw[FG_VLEN];
} fg_model_block;

int fg_model_block_init(fg_model_block *b, const fg_flow *f, fg_error *err);
void fg_model_block_free(fg_model_block *b);
void fg_model_sample_block(const fg_theory *th, const fg_flow *f, fg_model_block *b,
                           uint64_t seed, uint32_t purpose, uint64_t first, int nvalid);
double fg_model_kl_gradient_block(const fg_theory *th, const fg_flow *f, fg_model_block *b,
                                  uint64_t seed, uint32_t purpose, uint64_t first, int nvalid,
                                  double c, double *grad);

double fg_model_score_gradient_block(const fg_theory *th, const fg_flow *f, fg_model_block *b,
                                     uint64_t seed, uint32_t purpose, uint64_t first, int nvalid,
                                     double c, double *grad1, double *grad0);

#endif
