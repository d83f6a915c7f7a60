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
 *   void fg_model_logq(const fg_flow *f, fg_model_block *b, const double *phi,
 *                      double *logq)
 *     log q of a given block of fields (through the inverse; b's buffers as
 *     scratch): what `analyze --validate` needs of target configurations.
 *
 * Symmetry (model.symmetry z2, fg_flow_z2): the model's density is
 *   q(phi) = (q_f(phi) + q_f(-phi)) / 2
 * with q_f the bare flow's, so q(phi) = q(-phi) exactly. Sampling draws
 * phi = f(z) and flips its sign with probability 1/2 (a bit of stream
 * (seed, purpose, sample, 1), so any split of the work gives the same
 * samples); log q needs log q_f(-phi), one inverse pass more (the mirror
 * branch: b->mwork, b->mz, b->mphi, b->mg, b->mlogq). The loss is
 * E[log q + S] over the symmetric q; since log q and S are even, the sign
 * does not enter the gradients, which differentiate
 *   log q(f(z)) = log q_f(phi) + log((1 + q_f(-phi)/q_f(phi)) / 2)
 * through both branches: with wm = q_f(-phi) / (q_f(phi) + q_f(-phi)), the
 * direct branch gets weight 1 - wm and the mirror wm, its score (at -phi
 * fixed) and its grad log q_f(-phi) . d(-phi)/dtheta. Each gradient costs
 * one inverse, one saving forward and a score preparation more than
 * without symmetry (about 2x); sampling costs one inverse more (2x).
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
 *
 *   double fg_model_path_gradient_block(const fg_theory *th, const fg_flow *f,
 *                                       fg_model_block *b, uint64_t seed, uint32_t purpose,
 *                                       uint64_t first, int nvalid, double c, double *grad)
 *     As fg_model_kl_gradient_block with the path gradient
 *     (fg_flow_path_backward): grad += c sum_lanes (grad S + grad_phi log q)
 *     . dphi/dtheta, log q's explicit parameter dependence held fixed. Same
 *     expectation as the reparameterised gradient, zero variance at q = p.
 *     Needs fg_flow_has_score(f).
 *
 *   double fg_model_data_gradient_block(const fg_theory *th, const fg_flow *f,
 *                                       fg_model_block *b, const double *phi, int nvalid,
 *                                       double c, double *grad)
 *     For a block of given configurations phi (train.data: e.g. HMC's):
 *     grad -= c sum_lanes d log q(phi_l)/d theta at phi_l fixed (the
 *     gradient of the forward KL's -log q, through the score: one inverse,
 *     one saving forward and fg_flow_score_backward's passes; with z2 both
 *     branches, weighted as above). Leaves b->phi = phi, b->logq, b->action
 *     and b->logw = -S - log q; returns sum_lanes log w over the valid lanes.
 *     Lanes >= nvalid must hold finite fields (they get weight 0). Needs
 *     fg_flow_has_score(f).
 */
#ifndef FLOWGEN_MODEL_H
#define FLOWGEN_MODEL_H

#include "flowgen/flow.h"
#include "flowgen/theory.h"

typedef struct {
  fg_flow_work *work;
  double *z, *phi, *force;
  double logq[FG_VLEN], action[FG_VLEN], logw[FG_VLEN];
  /* model.symmetry z2 only (NULL otherwise): the mirror branch at -phi */
  fg_flow_work *mwork;
  double *mz, *mphi, *mg;
  double mlogq[FG_VLEN];
} fg_model_block;

int fg_model_block_init(fg_model_block *b, const fg_flow *f, fg_error *err);
void fg_model_block_free(fg_model_block *b);
void fg_model_sample_block(const fg_theory *th, const fg_flow *f, fg_model_block *b,
                           uint64_t seed, uint32_t purpose, uint64_t first, int nvalid);
void fg_model_logq(const fg_flow *f, fg_model_block *b, const double *phi, double *logq);
double fg_model_kl_gradient_block(const fg_theory *th, const fg_flow *f, fg_model_block *b,
                                  uint64_t seed, uint32_t purpose, uint64_t first, int nvalid,
                                  double c, double *grad);

double fg_model_score_gradient_block(const fg_theory *th, const fg_flow *f, fg_model_block *b,
                                     uint64_t seed, uint32_t purpose, uint64_t first, int nvalid,
                                     double c, double *grad1, double *grad0);
double fg_model_path_gradient_block(const fg_theory *th, const fg_flow *f, fg_model_block *b,
                                    uint64_t seed, uint32_t purpose, uint64_t first, int nvalid,
                                    double c, double *grad);
double fg_model_data_gradient_block(const fg_theory *th, const fg_flow *f, fg_model_block *b,
                                    const double *phi, int nvalid, double c, double *grad);

#endif
