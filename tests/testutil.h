/*
 * testutil.h -- helpers shared by the Check tests.
 *
 *   int fg_test_run(Suite *s)  runs a suite, prints Check's summary, returns
 *                              the process exit status (0 if all passed).
 *   char *fg_test_tmpdir(void) a fresh temporary folder (malloc'd path).
 *   int fg_test_write_file(const char *path, const char *text)  0 on success.
 *   int fg_test_remove_dir(const char *dir)  rm -rf of a test's folder; 0 on success.
 *   void fg_test_grad_logq_fd(const fg_flow *f, fg_flow_work *w, double *phi, const double *g,
 *                             double *worst, double *gmax, int *skipped)
 *     Compares g (grad_phi log q of the block phi, fg_flow_grad_logq) with
 *     central differences of log q(phi) through the inverse, every dof and
 *     lane: worst = largest |g - fd| / (1 + |fd|), gmax = largest |fd|.
 *     Conditioners with kinks (leaky ReLU): a point whose differences with
 *     h = 1e-3 and h/4 disagree (1e-3 relative) straddles one and is counted
 *     in skipped, not compared. phi is restored.
 *   void fg_test_score_fd(fg_flow *f, fg_flow_work *w, uint64_t seed, int *bad, double *gmax,
 *                         int *skipped)
 *     Draws a block (stream (seed, FG_RNG_TEST)), takes the lane-weighted
 *     score sum_l c_l d log q(phi_l)/d theta at fixed phi
 *     (fg_flow_score_backward, c_l = +-(l + 1)/FG_VLEN) and compares every
 *     parameter's entry with central differences (h = 1/4096 in the
 *     float32 parameters) of the same sum of log q(phi) through the
 *     inverse: bad = entries off by more than 3e-2 (1 + |fd|), gmax =
 *     largest |fd|. With skipped non-NULL, an entry that is off and whose
 *     difference with h/4 is as far from the first straddles a kink (a knot
 *     of the spline circle map moving across a point) and is counted in
 *     *skipped, not in bad. The parameters are restored.
 *   void fg_test_scale_params(fg_flow *f, float factor)
 *     Multiplies every parameter by factor (moves the layers away from
 *     where initialisation puts them).
 *   double fg_test_block_loss(const fg_theory *th, const fg_flow *f, fg_model_block *b,
 *                             uint64_t seed)
 *     (1/FG_VLEN) sum_lanes (log q + S) of the block of samples 0 ..
 *     FG_VLEN-1 of stream (seed, FG_RNG_TEST): the loss whose gradient
 *     fg_model_kl_gradient_block(..., c = 1/FG_VLEN) is.
 *   void fg_test_kl_gradient_fd(const fg_theory *th, fg_flow *f, fg_model_block *b,
 *                               uint64_t seed, int *bad, double *gmax, int *skipped)
 *     That gradient against central differences (h = 1/4096 in the float32
 *     parameters) of fg_test_block_loss, every parameter: bad = entries off
 *     by more than 3e-2 (1 + |fd|), gmax = largest |fd|; skipped as for
 *     fg_test_score_fd. The parameters are restored.
 *   void fg_test_data_gradient_fd(const fg_theory *th, fg_flow *f, fg_model_block *b,
 *                                 const double *phi, int *bad, double *gmax)
 *     fg_model_data_gradient_block(..., phi, L, c = 1/FG_VLEN) against
 *     central differences of -(1/FG_VLEN) sum_lanes log q(phi_l) (through
 *     fg_model_logq), every parameter; bad and gmax as above, nothing
 *     skipped. The parameters are restored.
 *   void fg_test_path_plus_score(const fg_theory *th, const fg_flow *f, fg_model_block *b,
 *                                uint64_t seed, double *worst, double *scale, double *score)
 *     On one block (stream (seed, FG_RNG_TEST), c = 1/FG_VLEN): the
 *     reparameterised gradient minus the path gradient minus the score
 *     (grad0 of fg_model_score_gradient_block), which is zero up to
 *     rounding: worst = its largest entry, scale = the largest entry of the
 *     reparameterised gradient, score = the largest of the score.
 */
#ifndef FLOWGEN_TESTUTIL_H
#define FLOWGEN_TESTUTIL_H
#include <check.h>

#include <stdint.h>

#include "flowgen/flow.h"
#include "flowgen/model.h"

int fg_test_run(Suite *s);
char *fg_test_tmpdir(void);
int fg_test_write_file(const char *path, const char *text);
int fg_test_remove_dir(const char *dir);
void fg_test_grad_logq_fd(const fg_flow *f, fg_flow_work *w, double *phi, const double *g,
                          double *worst, double *gmax, int *skipped);
void fg_test_score_fd(fg_flow *f, fg_flow_work *w, uint64_t seed, int *bad, double *gmax,
                      int *skipped);
void fg_test_scale_params(fg_flow *f, float factor);
double fg_test_block_loss(const fg_theory *th, const fg_flow *f, fg_model_block *b,
                          uint64_t seed);
void fg_test_kl_gradient_fd(const fg_theory *th, fg_flow *f, fg_model_block *b, uint64_t seed,
                            int *bad, double *gmax, int *skipped);
void fg_test_data_gradient_fd(const fg_theory *th, fg_flow *f, fg_model_block *b,
                              const double *phi, int *bad, double *gmax);
void fg_test_path_plus_score(const fg_theory *th, const fg_flow *f, fg_model_block *b,
                             uint64_t seed, double *worst, double *scale, double *score);

#endif
