/*
 * train.c -- reverse-KL self-training of a flow, data-parallel over MPI
 * ranks (see train.h for the contract of fg_train_run).
 *
 * Every rank draws batch_size samples per step from the counter-based
 * streams (seed, FG_RNG_TRAIN, j), j = N_train + rank * batch_size + i, so
 * R ranks with batch b draw exactly the samples one rank with batch R b
 * draws. The gradient, the loss, the batch ESS and the stop flags travel in
 * one buffer through one MPI_Allreduce per step, with a reduction operator
 * that sums the gradient and merges the log-sum-exp accumulators.
 *
 * Every rank applies the same update to the same reduced gradient, so all
 * hold the same parameters; each checkpoint verifies that (a hash compared
 * across ranks) before rank 0 writes its copy. Set-up is local and its
 * status is agreed on by all ranks (the worst code, the failing rank's
 * message), so an error on one rank never leaves the others waiting.
 * Cost figures: C_setup (wall_seconds) is set-up plus the training loop,
 * cumulative over resumes, without the final ESS evaluation; the allreduce
 * clock counts the training reductions, including the wait for the slowest
 * rank.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "flowgen/analysis.h"
#include "flowgen/checkpoint.h"
#include "flowgen/ensemble.h"
#include "flowgen/flow.h"
#include "flowgen/model.h"
#include "flowgen/report.h"
#include "flowgen/rng.h"
#include "flowgen/theory.h"
#include "flowgen/train.h"
#include "flowgen/util.h"
#include "flowgen_build.h"

enum { L = FG_VLEN };

/* Tail of the reduction buffer, after the nparams gradient values: the
 * loss, the flags, then the ESS sums (analysis.h) of the batch. */
enum { T_LOSS, T_STOP, T_LOGFAIL, T_DATA, T_ESS, T_LEN = T_ESS + FG_ESS_LEN };

/* Steps a collapse is judged over (watch_collapse). */
enum { COLLAPSE_STEPS = 50 };

typedef struct {
  const fg_config *cfg;
  const fg_train_options *opt;
  int rank, nranks;
  fg_theory *theory;
  fg_flow *flow;
  fg_model_block blk;
  fg_optimizer optim;
  size_t np;
  size_t nred;              /* gradient values reduced: np, or 2 np (score function) */
  double *buf;              /* [nred + T_LEN] reduction buffer: gradient(s), then tail */
  MPI_Datatype dtype;
  MPI_Op op;
  int64_t step, n_train;
  double wall0, wall_prev, allreduce_s, loss, last_ess;
  double wall_end;          /* when training ended (0: still training) */
  fg_ensemble_data data;    /* train.data, loaded on every rank (have_data) */
  int have_data;
  double *dphi;             /* [ndof][FG_VLEN] a block of data configurations */
  double data_loss;         /* the last step's mean log w = -S - log q on the data */
  double window[4096];
  int window_len;
  FILE *log;
  int log_errno;            /* rank 0: the first failed write of the log (0: none) */
  int64_t log_fail_step;    /* the step whose row could not be written */
  int64_t saved_step;       /* step of the last checkpoint on disk (-1: none) */
  const char *nonfinite;    /* what turned non-finite ("loss", ...), or NULL */
  double bad_loss, bad_gnorm;
  int log_failed;           /* every rank: rank 0 reported a failed log write */
  double collapse_ess[COLLAPSE_STEPS], collapse_loss[COLLAPSE_STEPS]; /* ring of the last steps */
  int64_t collapse_seen;    /* steps entered into the ring */
  int64_t collapse_step;    /* step the collapse warning was given at (0: never) */
  char stop_reason[64];
} trainer;

/* ---- the reduction operator ------------------------------------------- */

static void reduce_op(void *invec, void *inoutvec, int *len, MPI_Datatype *dt)
{
  int size;
  MPI_Type_size(*dt, &size);
  size_t n = (size_t)size / sizeof(double) - T_LEN;
  for (int e = 0; e < *len; ++e) {
    const double *in = (const double *)invec + (size_t)e * (n + T_LEN);
    double *io = (double *)inoutvec + (size_t)e * (n + T_LEN);
    for (size_t i = 0; i < n; ++i)
      io[i] += in[i];
    io[n + T_LOSS] += in[n + T_LOSS];
    io[n + T_STOP] += in[n + T_STOP];
    io[n + T_LOGFAIL] += in[n + T_LOGFAIL];
    io[n + T_DATA] += in[n + T_DATA];
    fg_ess_merge(in + n + T_ESS, io + n + T_ESS);
  }
}

static void tail_reset(double *t)
{
  memset(t, 0, sizeof(double) * T_LEN);
  fg_ess_reset(t + T_ESS);
}

/* Seconds of training (C_setup): this run's since set-up began, plus the
 * runs before a resume; the final evaluation is not training and is left
 * out, so that resuming a finished run does not count it twice. */
static double train_seconds(const trainer *t)
{
  return t->wall_prev + (t->wall_end > 0 ? t->wall_end : fg_wall_time()) - t->wall0;
}

static int allreduce(trainer *t, double *buf)
{
  double t0 = fg_wall_time();
  int rc = MPI_Allreduce(MPI_IN_PLACE, buf, 1, t->dtype, t->op, t->opt->comm);
  t->allreduce_s += fg_wall_time() - t0;
  return rc == MPI_SUCCESS ? FG_OK : FG_ERR_RUNTIME;
}

/* ---- schedule ---------------------------------------------------------- */

/* The per-rank batch of step `step` (0-based): batch_size x factor^k,
 * k = step / every, rounded, within [1, max_batch_size]. The loop stops
 * at the bound the factor moves towards (the config allows factor <= 1),
 * so it never runs step / every times for nothing. */
static int batch_at(const fg_train_config *tc, int64_t step)
{
  const fg_schedule_config *s = &tc->schedule;
  if (s->kind != FG_SCHED_BATCH_SIZE || s->factor == 1.0)
    return tc->batch_size;
  const int grows = s->factor > 1.0;
  double b = tc->batch_size;
  for (int64_t k = step / s->every; k > 0 && (grows ? b < s->max_batch_size : b > 1.0); --k)
    b *= s->factor;
  b = floor(b + 0.5);
  if (b < 1.0)
    return 1;
  return b > s->max_batch_size ? s->max_batch_size : (int)b;
}

static double lr_at(const fg_train_config *tc, int64_t step)
{
  double lr = tc->optimizer.lr;
  if (tc->schedule.kind == FG_SCHED_LEARNING_RATE) {
    lr *= pow(tc->schedule.factor, (double)(step / tc->schedule.every));
    if (lr < tc->schedule.min_lr)
      lr = tc->schedule.min_lr;
  }
  return lr;
}

/* ---- train.data: the forward KL on given configurations ---------------- */

/* Which data configuration (a step of its chain) global training sample g
 * pairs with: stream (seed, FG_RNG_DATA, g), so any rank count picks the
 * same ones. */
static const double *data_row(const trainer *t, uint64_t g)
{
  fg_rng r;
  fg_rng_init(&r, t->cfg->seed, FG_RNG_DATA, g, 0);
  int64_t k = (int64_t)(fg_rng_u64(&r) % (uint64_t)t->data.layout.n_chain);
  return t->data.configs + (size_t)t->data.chain_index[k] * (size_t)t->data.volume;
}

/* grad += c sum over this rank's `batch` data configurations of
 * -d log q / d theta (the forward KL's gradient, weight c); returns the sum
 * of their log w. Padding lanes repeat the block's first configuration. */
static double data_gradient(trainer *t, int batch, uint64_t first, double c, double *grad)
{
  const size_t V = (size_t)t->data.volume;
  double sum = 0.0;
  for (int b0 = 0; b0 < batch; b0 += L) {
    int nv = batch - b0 < L ? batch - b0 : L;
    for (int l = 0; l < L; ++l) {
      const double *row = data_row(t, first + (uint64_t)(b0 + (l < nv ? l : 0)));
      for (size_t y = 0; y < V; ++y)
        t->dphi[y * L + l] = row[y];
    }
    sum += fg_model_data_gradient_block(t->theory, t->flow, &t->blk, t->dphi, nv, c, grad);
  }
  return sum;
}

/* Loads train.data on this rank: an ensemble of the config's theory. */
static int load_data(trainer *t, fg_error *err)
{
  const fg_config *cfg = t->cfg;
  const char *path = cfg->train.data;
  if (path == NULL)
    return FG_OK;
  if (cfg->train.gradient == FG_GRAD_SCORE)
    return fg_config_report(cfg, "train.data", FG_ERR_INPUT, err,
                            "needs train.gradient reparameterization or path (the score "
                            "function's baseline does not cover the data term)");
  if (!fg_flow_has_score(t->flow))
    return fg_config_report(cfg, "train.data", FG_ERR_INPUT, err,
                            "log q of given configurations is differentiated through the "
                            "flow's inverse, which needs every layer's transposed Jacobian "
                            "solve (model.base %s has a layer without it)",
                            fg_base_name(cfg->model.base));
  fg_error lerr = {0};
  int rc = fg_ensemble_load(path, &t->data, &lerr);
  if (rc != FG_OK)
    return fg_config_report(cfg, "train.data", rc, err, "%s", lerr.msg);
  t->have_data = 1;
  fg_theory_config th;
  char why[256];
  rc = fg_report_ensemble_theory(&t->data, path, &th, &lerr);
  if (rc != FG_OK)
    return fg_config_report(cfg, "train.data", rc, err, "%s", lerr.msg);
  if (!fg_report_same_theory(&th, &cfg->theory, why, sizeof why))
    return fg_config_report(cfg, "train.data", FG_ERR_INPUT, err,
                            "the ensemble samples another theory than this config (%s)", why);
  if (t->data.volume != fg_theory_ndof(t->theory) || t->data.layout.n_chain < 1)
    return fg_config_report(cfg, "train.data", FG_ERR_INPUT, err,
                            "%lld configurations of %d values; this theory needs at least one "
                            "of %d", (long long)t->data.layout.n_chain, (int)t->data.volume,
                            fg_theory_ndof(t->theory));
  t->dphi = fg_alloc(sizeof(double) * (size_t)t->data.volume * L, err, "load_data [train.c]");
  return t->dphi != NULL ? FG_OK : FG_ERR_RUNTIME;
}

/* ---- one step ------------------------------------------------------------ */

/* Draws this rank's `batch` samples of the step, accumulates the gradient of
 * the global mean loss (global batch `gbatch`) and the tail statistics. */
static void local_gradient(trainer *t, int batch, int64_t gbatch)
{
  const uint64_t first = (uint64_t)t->n_train + (uint64_t)t->rank * (uint64_t)batch;
  double *grad = t->buf, *tail = t->buf + t->nred;
  memset(grad, 0, sizeof(double) * t->nred);
  tail_reset(tail);
  const int score = t->cfg->train.gradient == FG_GRAD_SCORE;
  for (int b0 = 0; b0 < batch; b0 += L) {
    int nv = batch - b0 < L ? batch - b0 : L;
    if (t->cfg->train.gradient == FG_GRAD_PATH)
      tail[T_LOSS] += fg_model_path_gradient_block(t->theory, t->flow, &t->blk, t->cfg->seed,
                                                   FG_RNG_TRAIN, first + (uint64_t)b0, nv,
                                                   1.0 / (double)gbatch, grad);
    else if (score)
      tail[T_LOSS] += fg_model_score_gradient_block(t->theory, t->flow, &t->blk, t->cfg->seed,
                                                    FG_RNG_TRAIN, first + (uint64_t)b0, nv,
                                                    1.0 / (double)gbatch, grad, grad + t->np);
    else
      tail[T_LOSS] += fg_model_kl_gradient_block(t->theory, t->flow, &t->blk, t->cfg->seed,
                                                 FG_RNG_TRAIN, first + (uint64_t)b0, nv,
                                                 1.0 / (double)gbatch, grad);
    fg_ess_add(tail + T_ESS, t->blk.logw, (size_t)nv);
  }
  if (t->have_data)
    tail[T_DATA] = data_gradient(t, batch, first, t->cfg->train.data_weight / (double)gbatch, grad);
}

static double window_mean(const trainer *t, int window)
{
  if (t->window_len < window)
    return -1.0;
  double s = 0;
  for (int i = t->window_len - window; i < t->window_len; ++i)
    s += t->window[i];
  return s / window;
}

static void window_push(trainer *t, double ess)
{
  const int cap = (int)(sizeof t->window / sizeof t->window[0]);
  if (t->window_len == cap) {
    memmove(t->window, t->window + 1, sizeof(double) * (size_t)(cap - 1));
    t->window_len--;
  }
  t->window[t->window_len++] = ess;
}

/* Whether every parameter is a finite number. */
static int params_finite(const float *p, size_t n)
{
  for (size_t i = 0; i < n; ++i)
    if (!isfinite(p[i]))
      return 0;
  return 1;
}

/* Rank 0 writes the step's row; a failed write (full disk, quota) is kept
 * in log_errno and travels to all ranks with the next step's reduction. */
static void log_row(trainer *t, int batch, int64_t gbatch, double lr, double gnorm)
{
  if (t->log == NULL || t->log_errno != 0)
    return;
  errno = 0;
  char data[32] = "";
  if (t->have_data)
    snprintf(data, sizeof data, ",%.9g", t->data_loss);
  if (fprintf(t->log, "%lld,%d,%lld,%.9g,%.9g,%.6f,%lld,%.3f,%.6g,%.4f%s\n", (long long)t->step,
              batch, (long long)gbatch, lr, t->loss, t->last_ess, (long long)t->n_train,
              train_seconds(t), gnorm, t->allreduce_s, data) < 0 ||
      fflush(t->log) != 0 || ferror(t->log)) {
    t->log_errno = errno != 0 ? errno : EIO;
    t->log_fail_step = t->step;
  }
}

/* A collapsed flow (seen at learning rates of 10 and above): one sample
 * carries all the weight of every batch, so the batch ESS sits at 1/batch,
 * and the loss no longer falls. Over the last COLLAPSE_STEPS steps: mean
 * ESS x batch below 1.5, and the mean loss of the last tenth not below that
 * of the first tenth by more than 1%. A slow but healthy start (low ESS,
 * falling loss) does not qualify. Training goes on; the user is told once. */
static void watch_collapse(trainer *t, int64_t gbatch)
{
  const int W = COLLAPSE_STEPS, tenth = COLLAPSE_STEPS / 10;
  int slot = t->collapse_seen % W;
  t->collapse_ess[slot] = t->last_ess * (double)gbatch;
  t->collapse_loss[slot] = t->loss;
  if (++t->collapse_seen < W || t->collapse_step > 0)
    return;
  double ess = 0, first = 0, last = 0, mean = 0;
  for (int k = 0; k < W; ++k) { /* k = 0: the oldest */
    int i = (t->collapse_seen + k) % W;
    ess += t->collapse_ess[i] / W;
    mean += t->collapse_loss[i] / W;
    first += k < tenth ? t->collapse_loss[i] / tenth : 0.0;
    last += k >= W - tenth ? t->collapse_loss[i] / tenth : 0.0;
  }
  if (!(ess < 1.5) || first - last > 0.01 * fabs(mean))
    return;
  t->collapse_step = t->step;
  if (t->rank == 0 && t->opt->progress != NULL)
    fprintf(t->opt->progress,
            "\nflowgen: warning: step %lld: the flow has collapsed: batch ESS about 1/batch "
            "(mean ESS x batch %.3f) and no fall of the loss (%.6g) over the last %d steps; "
            "lower train.optimizer.lr or set train.grad_clip_norm\n",
            (long long)t->step, ess, t->loss, W);
}

/* One optimizer step; returns 1 when training must stop: a rank asked to
 * (signal), rank 0 could not write the log, or the loss, the gradient or
 * the parameters turned non-finite (t->nonfinite; the parameters are then
 * not those of any checkpoint, and no checkpoint is written). All ranks
 * hold the same reduced buffer and parameters, so all decide alike. */
static int train_step(trainer *t, int *rc)
{
  const fg_train_config *tc = &t->cfg->train;
  int batch = batch_at(tc, t->step);
  int64_t gbatch = (int64_t)batch * t->nranks;
  double lr = lr_at(tc, t->step);
  local_gradient(t, batch, gbatch);
  double *tail = t->buf + t->nred;
  tail[T_STOP] = (t->opt->stop_flag && *t->opt->stop_flag) ? 1.0 : 0.0;
  tail[T_LOGFAIL] = t->log_errno != 0 ? 1.0 : 0.0;
  if ((*rc = allreduce(t, t->buf)) != FG_OK)
    return 1;
  double loss = tail[T_LOSS] / (double)gbatch;
  if (t->nred > t->np) {
    /* Score function: (N/(N-1)) sum_l (w_l - mean w) s_l / N, w = log q + S:
     * the batch mean as baseline, unbiased with the N/(N-1) (leave-one-out). */
    double f = gbatch > 1 ? (double)gbatch / (double)(gbatch - 1) : 1.0;
    for (size_t i = 0; i < t->np; ++i)
      t->buf[i] = f * (t->buf[i] - loss * t->buf[t->np + i]);
  }
  double gnorm = fg_clip_grad_norm(t->buf, t->np, tc->grad_clip_norm);
  t->bad_loss = loss;
  t->bad_gnorm = gnorm;
  if (!isfinite(loss)) {
    t->nonfinite = "loss";
    return 1;
  }
  if (!isfinite(gnorm)) {
    t->nonfinite = "gradient";
    return 1;
  }
  float *params = (float *)fg_flow_params(t->flow);
  fg_optimizer_step(&t->optim, params, t->buf, lr);
  if (!params_finite(params, t->np)) {
    t->nonfinite = "parameters (after the optimizer step)";
    return 1;
  }
  fg_flow_set_params(t->flow, params);
  t->step++;
  t->n_train += gbatch;
  t->loss = loss;
  t->data_loss = tail[T_DATA] / (double)gbatch;
  t->last_ess = fg_ess_value(tail + T_ESS, NULL);
  window_push(t, t->last_ess);
  watch_collapse(t, gbatch);
  log_row(t, batch, gbatch, lr, gnorm);
  t->log_failed = tail[T_LOGFAIL] > 0.0;
  return tail[T_STOP] > 0.0 || t->log_failed;
}

/* ---- checkpoints ------------------------------------------------------- */

static void iso_time(char *buf, size_t n)
{
  time_t now = time(NULL);
  struct tm tmv;
  gmtime_r(&now, &tmv);
  strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tmv);
}

/* FNV-1a over the parameters' bytes. */
static uint64_t params_hash(const float *p, size_t n)
{
  const unsigned char *b = (const unsigned char *)p;
  uint64_t h = 14695981039346656037ULL;
  for (size_t i = 0; i < n * sizeof(float); ++i)
    h = (h ^ b[i]) * 1099511628211ULL;
  return h;
}

/* Whether every rank holds the same parameters. They must, since all apply
 * the same update to the same reduced gradient; a reduction that gave ranks
 * different bits would make them drift apart silently, and only rank 0's
 * copy reaches the checkpoint. Checked where a checkpoint is written, not
 * every step, so a step keeps its single collective. */
static int ranks_in_step(trainer *t, fg_error *err)
{
  uint64_t h = params_hash(fg_flow_params(t->flow), t->np);
  uint64_t mine[2] = {h, ~h}, most[2];
  MPI_Allreduce(mine, most, 2, MPI_UINT64_T, MPI_MAX, t->opt->comm);
  if (most[0] == ~most[1])
    return FG_OK;
  return fg_fail(err, FG_ERR_RUNTIME, "save_checkpoint [train.c]",
                 "the ranks hold different parameters at step %lld (the gradient reduction "
                 "did not give every rank the same bits)",
                 (long long)t->step);
}

/* Writes the checkpoint from rank 0; the status is broadcast so that all
 * ranks agree. */
static int save_checkpoint(trainer *t, double ess, int64_t ess_samples, fg_error *err)
{
  int rc = ranks_in_step(t, err);
  if (rc != FG_OK)
    return rc;
  if (t->rank == 0) {
    fg_checkpoint ck;
    memset(&ck, 0, sizeof ck);
    ck.theory = t->cfg->theory;
    ck.model = t->cfg->model;
    ck.seed = t->cfg->seed;
    ck.config_text = t->cfg->text;
    ck.nparams = t->np;
    ck.params = (float *)fg_flow_params(t->flow);
    ck.optimizer = t->optim.cfg.name;
    ck.opt_t = t->optim.t;
    ck.opt_state_len = t->optim.state_len;
    ck.opt_state = t->optim.state;
    ck.step = t->step;
    ck.n_train = t->n_train;
    ck.batch_size = batch_at(&t->cfg->train, t->step);
    ck.ranks = t->nranks;
    ck.lr = lr_at(&t->cfg->train, t->step);
    memcpy(ck.ess_window, t->window, sizeof(double) * (size_t)t->window_len);
    ck.ess_window_len = t->window_len;
    ck.ess = ess;
    ck.ess_samples = ess_samples;
    ck.loss = t->loss;
    ck.wall_seconds = train_seconds(t);
    ck.allreduce_seconds = t->allreduce_s;
    snprintf(ck.stop_reason, sizeof ck.stop_reason, "%s", t->stop_reason);
    snprintf(ck.flowgen_version, sizeof ck.flowgen_version, "%s", FLOWGEN_VERSION);
    snprintf(ck.git_revision, sizeof ck.git_revision, "%s", FLOWGEN_GIT_REVISION);
    iso_time(ck.created, sizeof ck.created);
    rc = fg_checkpoint_write(t->cfg->train.checkpoint, &ck, err);
  }
  rc = fg_agree(t->opt->comm, rc, err);
  if (rc == FG_OK)
    t->saved_step = t->step;
  return rc;
}

/* The first key of the model section where the checkpoint's architecture
 * (a) and the config's (b) differ, written "model.KEY is A in the file, B in
 * the config" into why; 0 when they agree. */
static int architecture_differs(const fg_model_config *a, const fg_model_config *b, char *why,
                                size_t cap)
{
  if (a->base != b->base)
    return snprintf(why, cap, "model.base is %s in the file, %s in the config",
                    fg_base_name(a->base), fg_base_name(b->base)), 1;
  if (a->coupling_layers != b->coupling_layers)
    return snprintf(why, cap, "model.coupling_layers is %d in the file, %d in the config",
                    a->coupling_layers, b->coupling_layers), 1;
  if (a->kernel_size != b->kernel_size)
    return snprintf(why, cap, "model.kernel_size is %d in the file, %d in the config",
                    a->kernel_size, b->kernel_size), 1;
  if (a->activation != b->activation)
    return snprintf(why, cap, "model.activation is %s in the file, %s in the config",
                    fg_activation_name(a->activation), fg_activation_name(b->activation)), 1;
  if (a->gauge_loops != b->gauge_loops)
    return snprintf(why, cap, "model.gauge_loops is %s in the file, %s in the config",
                    fg_gauge_loops_name(a->gauge_loops), fg_gauge_loops_name(b->gauge_loops)), 1;
  if (a->gauge_map != b->gauge_map)
    return snprintf(why, cap, "model.gauge_map is %s in the file, %s in the config",
                    fg_gauge_map_name(a->gauge_map), fg_gauge_map_name(b->gauge_map)), 1;
  if (a->gauge_order != b->gauge_order)
    return snprintf(why, cap, "model.gauge_order is %s in the file, %s in the config",
                    fg_gauge_order_name(a->gauge_order), fg_gauge_order_name(b->gauge_order)), 1;
  if (a->gauge_map == FG_MAP_SPLINE && a->spline_bins != b->spline_bins)
    return snprintf(why, cap, "model.spline_bins is %d in the file, %d in the config",
                    a->spline_bins, b->spline_bins), 1;
  int n = a->n_hidden > b->n_hidden ? a->n_hidden : b->n_hidden;
  for (int i = 0; i < n; ++i)
    if (i >= a->n_hidden || i >= b->n_hidden || a->hidden_channels[i] != b->hidden_channels[i]) {
      char fa[16] = "absent", fb[16] = "absent";
      if (i < a->n_hidden)
        snprintf(fa, sizeof fa, "%d", a->hidden_channels[i]);
      if (i < b->n_hidden)
        snprintf(fb, sizeof fb, "%d", b->hidden_channels[i]);
      return snprintf(why, cap, "model.hidden_channels[%d] is %s in the file, %s in the config",
                      i, fa, fb), 1;
    }
  return 0;
}

/* A resume continues the run the checkpoint holds: the config stored in it
 * must agree with cfg in seed, theory, model and train, but for the keys
 * fg_config_check_resume lets change (more steps, the stop rule,
 * checkpoint_every, eval_samples, reset_optimizer; paths are not compared).
 * FG_ERR_INPUT naming the first key that differs. */
static int same_run(const trainer *t, const fg_checkpoint *ck, const char *path, fg_error *err)
{
  fg_config stored;
  fg_error perr = {0};
  const char *text = ck->config_text ? ck->config_text : "";
  int rc = fg_config_parse(text, strlen(text), t->cfg->path, &stored, &perr);
  if (rc != FG_OK || !stored.train.present) {
    const char *why = strstr(perr.msg, "]: ");
    rc = fg_fail(err, FG_ERR_INPUT, "fg_train_run [train.c]",
                 "%s: cannot resume: the config stored in it cannot be compared (%s)", path,
                 rc != FG_OK ? (why ? why + 3 : perr.msg) : "it has no train section");
  } else {
    rc = fg_config_check_resume(&stored, t->cfg,
                                FG_IDENT_SEED | FG_IDENT_THEORY | FG_IDENT_MODEL | FG_IDENT_TRAIN,
                                path, err);
  }
  fg_config_free(&stored);
  return rc;
}

/* Loads parameters (and, for resume, the whole state) from a checkpoint.
 * Every rank reads the file: it is small and this keeps ranks symmetric. */
static int load_state(trainer *t, const char *path, int resume, fg_error *err)
{
  static const char where[] = "fg_train_run [train.c]";
  fg_checkpoint ck;
  int rc = fg_checkpoint_read(path, &ck, err);
  char why[256];
  if (rc == FG_OK && architecture_differs(&ck.model, &t->cfg->model, why, sizeof why))
    rc = fg_fail(err, FG_ERR_INPUT, where, "%s: another architecture: %s", path, why);
  if (rc == FG_OK && ck.nparams != t->np)
    rc = fg_fail(err, FG_ERR_INPUT, where, "%s: %zu parameters, the model needs %zu", path,
                 ck.nparams, t->np);
  if (rc == FG_OK && resume && ck.seed != t->cfg->seed)
    rc = fg_fail(err, FG_ERR_INPUT, where,
                 "%s was trained with seed %llu, the config says %llu: refusing to resume", path,
                 (unsigned long long)ck.seed, (unsigned long long)t->cfg->seed);
  if (rc == FG_OK && resume)
    rc = same_run(t, &ck, path, err);
  if (rc == FG_OK) {
    fg_flow_set_params(t->flow, ck.params);
    int keep_opt = resume || !t->cfg->train.reset_optimizer;
    if (keep_opt && ck.optimizer == t->optim.cfg.name && ck.opt_state_len == t->optim.state_len) {
      memcpy(t->optim.state, ck.opt_state, sizeof(double) * ck.opt_state_len);
      t->optim.t = ck.opt_t;
    }
    if (resume) {
      t->saved_step = ck.step;
      t->step = ck.step;
      t->n_train = ck.n_train;
      t->wall_prev = ck.wall_seconds;
      t->allreduce_s = ck.allreduce_seconds;
      t->loss = ck.loss;
      t->window_len = ck.ess_window_len;
      memcpy(t->window, ck.ess_window, sizeof(double) * (size_t)ck.ess_window_len);
    }
  }
  fg_checkpoint_free(&ck);
  return rc;
}

/* ---- the training log ---------------------------------------------------- */

/* With train.data a last column data_logw: the step's mean log w = -S -
 * log q over its data configurations (loss + data_logw estimates the sum
 * of the reverse and the forward KL). */
static const char LOG_HEADER[] =
    "step,batch_per_rank,batch_global,lr,loss,ess,n_train,wall_s,grad_norm,allreduce_s";

/* Opens the CSV log on rank 0. On resume, keeps the header and the rows up
 * to the checkpoint's step (later rows belong to work that was lost). */
static int open_log(trainer *t, fg_error *err)
{
  static const char where[] = "open_log [train.c]";
  const char *path = t->cfg->train.log;
  if (t->rank != 0)
    return FG_OK;
  char *kept = NULL;
  size_t kept_len = 0;
  if (t->opt->resume) {
    FILE *in = fopen(path, "r");
    FILE *mem = open_memstream(&kept, &kept_len);
    if (mem == NULL) {
      if (in)
        fclose(in);
      return fg_fail(err, FG_ERR_RUNTIME, where, "out of memory");
    }
    char line[1024];
    while (in != NULL && fgets(line, sizeof line, in) != NULL) {
      char *end;
      long long s = strtoll(line, &end, 10);
      size_t n = strlen(line);
      if (end != line && *end == ',' && s <= t->step && n > 0 && line[n - 1] == '\n')
        fputs(line, mem);
    }
    if (in)
      fclose(in);
    fclose(mem);
  }
  int rc = fg_make_parent_dir(path, err);
  if (rc != FG_OK) {
    free(kept);
    return rc;
  }
  t->log = fopen(path, "w");
  if (t->log == NULL) {
    free(kept);
    return fg_fail(err, FG_ERR_RUNTIME, where, "cannot write the training log %s: %s", path,
                   strerror(errno));
  }
  errno = 0;
  int bad = fprintf(t->log, "%s%s\n", LOG_HEADER, t->have_data ? ",data_logw" : "") < 0 ||
            (kept != NULL && fwrite(kept, 1, kept_len, t->log) != kept_len) ||
            fflush(t->log) != 0;
  free(kept);
  if (bad)
    return fg_fail(err, FG_ERR_RUNTIME, where, "cannot write the training log %s: %s", path,
                   strerror(errno != 0 ? errno : EIO));
  return FG_OK;
}

/* Closes the log on rank 0 (the close flushes what is buffered and may be
 * the write that fails) and makes every rank agree on the result: a row that
 * could not be written is FG_ERR_RUNTIME naming the log, the step and the
 * OS reason. Collective. */
static int close_log(trainer *t, fg_error *err)
{
  int rc = FG_OK;
  if (t->log != NULL) {
    errno = 0;
    if (fclose(t->log) != 0 && t->log_errno == 0) {
      t->log_errno = errno != 0 ? errno : EIO;
      t->log_fail_step = t->step;
    }
    t->log = NULL;
  }
  if (t->log_errno != 0)
    rc = fg_fail(err, FG_ERR_RUNTIME, "fg_train_run [train.c]",
                 "cannot write the training log %s (row of step %lld): %s",
                 t->cfg->train.log, (long long)t->log_fail_step, strerror(t->log_errno));
  return fg_agree(t->opt->comm, rc, err);
}

/* ---- final ESS ----------------------------------------------------------- */

/* Model-sample ESS on n fresh samples (stream FG_RNG_EVAL), split over ranks. */
static int eval_ess(trainer *t, int64_t n, double *ess, double *ess_err)
{
  int64_t lo = n * t->rank / t->nranks, hi = n * (t->rank + 1) / t->nranks;
  double *tail = t->buf + t->nred;
  memset(t->buf, 0, sizeof(double) * t->nred);
  tail_reset(tail);
  for (int64_t j = lo; j < hi; j += L) {
    int nv = hi - j < L ? (int)(hi - j) : L;
    fg_model_sample_block(t->theory, t->flow, &t->blk, t->cfg->seed, FG_RNG_EVAL, (uint64_t)j,
                          nv);
    fg_ess_add(tail + T_ESS, t->blk.logw, (size_t)nv);
  }
  /* Not through allreduce(): its clock counts training communication only. */
  int rc = MPI_Allreduce(MPI_IN_PLACE, t->buf, 1, t->dtype, t->op, t->opt->comm) == MPI_SUCCESS
               ? FG_OK
               : FG_ERR_RUNTIME;
  *ess = fg_ess_value(tail + T_ESS, ess_err);
  return rc;
}

/* ---- set-up and the loop ------------------------------------------------- */

static void trainer_free(trainer *t)
{
  if (t->log)
    fclose(t->log);
  if (t->op != MPI_OP_NULL)
    MPI_Op_free(&t->op);
  if (t->dtype != MPI_DATATYPE_NULL)
    MPI_Type_free(&t->dtype);
  fg_free(t->buf);
  fg_free(t->dphi);
  if (t->have_data)
    fg_ensemble_data_free(&t->data);
  fg_optimizer_free(&t->optim);
  fg_model_block_free(&t->blk);
  fg_flow_destroy(t->flow);
  fg_theory_destroy(t->theory);
}

static int trainer_setup(trainer *t, const fg_config *cfg, const fg_train_options *opt,
                         fg_error *err)
{
  static const char where[] = "fg_train_run [train.c]";
  memset(t, 0, sizeof *t);
  t->cfg = cfg;
  t->opt = opt;
  t->op = MPI_OP_NULL;
  t->dtype = MPI_DATATYPE_NULL;
  MPI_Comm_rank(opt->comm, &t->rank);
  MPI_Comm_size(opt->comm, &t->nranks);
  if (!cfg->train.present)
    return fg_fail(err, FG_ERR_INPUT, where, "%s: no train section", cfg->path ? cfg->path : "config");
  int rc = fg_theory_create(&cfg->theory, &t->theory, err);
  if (rc == FG_OK)
    rc = fg_flow_create(&cfg->model, fg_theory_lattice(t->theory), &t->flow, err);
  if (rc != FG_OK)
    return rc;
  t->np = fg_flow_nparams(t->flow);
  if ((rc = fg_model_block_init(&t->blk, t->flow, err)) != FG_OK)
    return rc;
  t->nred = t->np;
  if (cfg->train.gradient != FG_GRAD_REPARAM && !fg_flow_has_score(t->flow))
    return fg_config_report(cfg, "train.gradient", FG_ERR_INPUT, err,
                            "%s needs every layer's transposed Jacobian solve (model.base %s "
                            "has a layer without it)",
                            fg_gradient_name(cfg->train.gradient), fg_base_name(cfg->model.base));
  if (cfg->model.symmetry == FG_SYM_Z2 && !fg_flow_has_score(t->flow))
    return fg_config_report(cfg, "model.symmetry", FG_ERR_INPUT, err,
                            "z2 is trained through log q at -phi, which needs every layer's "
                            "transposed Jacobian solve (model.base %s has a layer without it)",
                            fg_base_name(cfg->model.base));
  if ((rc = load_data(t, err)) != FG_OK)
    return rc;
  if (cfg->train.gradient == FG_GRAD_SCORE)
    t->nred = 2 * t->np;
  t->buf = fg_alloc(sizeof(double) * (t->nred + T_LEN), err, where);
  if (t->buf == NULL)
    return FG_ERR_RUNTIME;
  if ((rc = fg_optimizer_init(&t->optim, &cfg->train.optimizer, t->np, err)) != FG_OK)
    return rc;
  if (MPI_Type_contiguous((int)(t->nred + T_LEN), MPI_DOUBLE, &t->dtype) != MPI_SUCCESS ||
      MPI_Type_commit(&t->dtype) != MPI_SUCCESS || MPI_Op_create(reduce_op, 1, &t->op) != MPI_SUCCESS)
    return fg_fail(err, FG_ERR_RUNTIME, where, "cannot create the MPI reduction");
  snprintf(t->stop_reason, sizeof t->stop_reason, "running");
  t->saved_step = -1;
  fg_flow_init_params(t->flow, cfg->seed);
  if (opt->resume)
    rc = load_state(t, cfg->train.checkpoint, 1, err);
  else if (cfg->train.init_from != NULL)
    rc = load_state(t, cfg->train.init_from, 0, err);
  if (rc == FG_OK)
    rc = open_log(t, err);
  return rc;
}

static int64_t steps_target(const trainer *t)
{
  int64_t target = t->cfg->train.steps;
  if (t->opt->max_steps_override > 0 && t->opt->max_steps_override < target)
    target = t->opt->max_steps_override;
  return target;
}

/* The error of a training that went non-finite at step t->step + 1. */
static int nonfinite_failure(const trainer *t, fg_error *err)
{
  char kept[FG_PATH_MAX + 96];
  if (t->saved_step >= 0)
    snprintf(kept, sizeof kept, "the last good checkpoint, step %lld, is kept in %s",
             (long long)t->saved_step, t->cfg->train.checkpoint);
  else
    snprintf(kept, sizeof kept, "no checkpoint had been written yet, and none is");
  return fg_fail(err, FG_ERR_RUNTIME, "train_loop [train.c]",
                 "non-finite %s at step %lld (loss %g, gradient norm %g): training stopped; %s; "
                 "lower train.optimizer.lr or set train.grad_clip_norm",
                 t->nonfinite, (long long)t->step + 1, t->bad_loss, t->bad_gnorm, kept);
}

static int train_loop(trainer *t, fg_error *err)
{
  const fg_train_config *tc = &t->cfg->train;
  const int64_t target = steps_target(t);
  fg_progress prog;
  fg_progress_init(&prog, t->rank == 0 ? t->opt->progress : NULL, "train step",
                   (double)target);
  int rc = FG_OK;
  while (t->step < target) {
    int stop = train_step(t, &rc);
    if (rc != FG_OK)
      return fg_fail(err, rc, "train_loop [train.c]", "MPI_Allreduce failed");
    if (t->nonfinite != NULL) {
      fg_progress_done(&prog, (double)t->step, NULL);
      return nonfinite_failure(t, err);
    }
    char extra[160];
    int n = snprintf(extra, sizeof extra, "loss %.4g ess %.3f N_train %lld", t->loss,
                     t->last_ess, (long long)t->n_train);
    if (t->have_data)
      snprintf(extra + n, sizeof extra - (size_t)n, " data log w %.4g", t->data_loss);
    fg_progress_update(&prog, (double)t->step, extra);
    double mean = window_mean(t, tc->stop_window);
    if (tc->stop_target_ess > 0 && mean >= tc->stop_target_ess) {
      snprintf(t->stop_reason, sizeof t->stop_reason, "target_ess");
      break;
    }
    if (stop) { /* a failed log write stops like a signal: checkpoint, then the error */
      snprintf(t->stop_reason, sizeof t->stop_reason, "%s", t->log_failed ? "log_error" : "signal");
      break;
    }
    if (tc->checkpoint_every > 0 && t->step % tc->checkpoint_every == 0 && t->step < target &&
        (rc = save_checkpoint(t, -1.0, 0, err)) != FG_OK)
      return rc;
  }
  if (t->step >= target && strcmp(t->stop_reason, "running") == 0)
    snprintf(t->stop_reason, sizeof t->stop_reason, "steps");
  fg_progress_done(&prog, (double)t->step, NULL);
  return FG_OK;
}

int fg_train_run(const fg_config *cfg, const fg_train_options *opt, fg_train_result *res,
                 fg_error *err)
{
  memset(res, 0, sizeof *res);
  double wall0 = fg_wall_time();
  trainer *t = fg_alloc(sizeof *t, err, "fg_train_run [train.c]");
  int rc = t != NULL ? trainer_setup(t, cfg, opt, err) : FG_ERR_RUNTIME;
  /* Set-up is local (config, model, files); one rank's failure ends all. */
  rc = fg_agree(opt->comm, rc, err);
  if (t == NULL)
    return rc;
  t->wall0 = wall0;
  if (rc == FG_OK)
    rc = train_loop(t, err);
  t->wall_end = fg_wall_time();
  /* A log that could not be written stops training; the work is still
   * saved in the checkpoint, and the run then fails naming the log. */
  fg_error log_err = {0};
  int log_rc = rc == FG_OK ? close_log(t, &log_err) : FG_OK;
  double ess = -1.0, ess_err = 0.0;
  int64_t nev = 0;
  if (rc == FG_OK && log_rc == FG_OK && strcmp(t->stop_reason, "signal") != 0) {
    nev = cfg->train.eval_samples;
    rc = eval_ess(t, nev, &ess, &ess_err);
  }
  if (rc == FG_OK)
    rc = save_checkpoint(t, ess, nev, err);
  if (rc == FG_OK && log_rc != FG_OK)
    rc = fg_fail(err, log_rc, "fg_train_run [train.c]",
                 "%s; training stopped at step %lld, whose checkpoint %s was written: make "
                 "room and continue with --resume",
                 strstr(log_err.msg, "]: ") ? strstr(log_err.msg, "]: ") + 3 : log_err.msg,
                 (long long)t->step, cfg->train.checkpoint);
  if (rc == FG_OK) {
    res->step = t->step;
    res->n_train = t->n_train;
    res->loss = t->loss;
    res->ess = ess;
    res->ess_err = ess_err;
    res->ess_samples = nev;
    res->wall_seconds = train_seconds(t);
    res->allreduce_seconds = t->allreduce_s;
    res->seconds_per_sample = t->n_train > 0 ? res->wall_seconds / (double)t->n_train : 0.0;
    res->collapse_step = t->collapse_step;
    snprintf(res->stop_reason, sizeof res->stop_reason, "%s", t->stop_reason);
  }
  trainer_free(t);
  fg_free(t);
  return rc;
}
