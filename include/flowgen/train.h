/*
 * train.h -- optimizers and reverse-KL training.
 *
 * Optimizers (PyTorch's update rules and defaults; state in double, the
 * parameters themselves float32):
 *   int fg_optimizer_init(fg_optimizer *o, const fg_optimizer_config *cfg,
 *                         size_t nparams, fg_error *err)
 *   void fg_optimizer_free(fg_optimizer *o)
 *   void fg_optimizer_step(fg_optimizer *o, float *params, const double *grad, double lr)
 *     One update with learning rate lr (the schedule's current rate).
 *     Adam: m, v with bias correction; Adadelta: square_avg, acc_delta;
 *     SGD: momentum buffer (heavy ball, no dampening). state holds them
 *     back to back (state_len values); t counts steps.
 *   double fg_clip_grad_norm(double *grad, size_t n, double max_norm)
 *     As torch.nn.utils.clip_grad_norm_: scales grad by
 *     max_norm / (norm + 1e-6) when that is < 1; max_norm <= 0 disables.
 *     Returns the norm before clipping.
 *
 * The ESS (batch and final) is analysis.h's fg_ess_* (one implementation).
 *
 * Training (one or many ranks; every rank calls it with the same config):
 *   int fg_train_run(const fg_config *cfg, const fg_train_options *opt,
 *                    fg_train_result *res, fg_error *err)
 *     Reverse-KL self-training (loss = mean(log q - log p), p ~ exp(-S)),
 *     writing the CSV log and checkpoints from rank 0 (SPEC section 4),
 *     then measuring the model-sample ESS on train.eval_samples fresh
 *     samples. Collective over opt->comm. Returns FG_OK, FG_ERR_INPUT for a
 *     bad config or checkpoint, FG_ERR_RUNTIME otherwise; the same code on
 *     every rank.
 *     Numerical health: a non-finite loss, gradient norm or parameter ends
 *     training at once with FG_ERR_RUNTIME naming the step and what turned
 *     non-finite; no checkpoint is written then (the last good one stays on
 *     disk). A collapsed flow (over 50 steps: mean batch ESS below
 *     1.5/batch and no fall of the loss) is warned about once on
 *     opt->progress and recorded in res->collapse_step; training goes on.
 *     The log: every write is checked; a failed one (full disk) stops
 *     training at the next step, the checkpoint is still written, and the
 *     result is FG_ERR_RUNTIME naming the log, the step and the OS reason.
 */
#ifndef FLOWGEN_TRAIN_H
#define FLOWGEN_TRAIN_H

#include <mpi.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "flowgen/config.h"
#include "flowgen/error.h"

typedef struct {
  fg_optimizer_config cfg;
  size_t n;
  int64_t t;
  size_t state_len;
  double *state;
} fg_optimizer;

int fg_optimizer_init(fg_optimizer *o, const fg_optimizer_config *cfg, size_t nparams,
                      fg_error *err);
void fg_optimizer_free(fg_optimizer *o);
void fg_optimizer_step(fg_optimizer *o, float *params, const double *grad, double lr);
double fg_clip_grad_norm(double *grad, size_t n, double max_norm);

typedef struct {
  MPI_Comm comm;
  int resume;                          /* continue from train.checkpoint */
  volatile sig_atomic_t *stop_flag;    /* set by SIGTERM/SIGUSR1; may be NULL */
  FILE *progress;                      /* stderr, or NULL for silence */
  int64_t max_steps_override;          /* > 0: stop after this many steps (tests) */
} fg_train_options;

typedef struct {
  int64_t step, n_train;
  double loss, ess, ess_err;           /* final ESS on eval_samples, its error */
  int64_t ess_samples;
  double wall_seconds, allreduce_seconds; /* C_setup excludes the final ESS evaluation */
  double seconds_per_sample;           /* Delta C_train */
  int64_t collapse_step;               /* > 0: step the collapse warning was given at */
  char stop_reason[64];
} fg_train_result;

int fg_train_run(const fg_config *cfg, const fg_train_options *opt, fg_train_result *res,
                 fg_error *err);

#endif
