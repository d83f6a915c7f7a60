/* test_schedule.c -- batch-size and learning-rate schedules, the rolling-ESS stop, Kaiming and Xavier bounds, and that SGD (momentum) and Adadelta train, as the user guide states. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowgen/checkpoint.h"
#include "flowgen/train.h"
#include "testutil.h"

static char *dir;

enum { MAX_ROWS = 512 };

typedef struct {
  long long step, batch_rank, batch_global, n_train;
  double lr, loss, ess;
} log_row;

/* A small model on a 6x6 lattice; `model_extra` goes inside model: (a
 * flow-map entry, e.g. "init: {...}"), `train_extra` inside train:. */
static void make_config(fg_config *cfg, const char *name, int64_t steps, int batch,
                        const char *optimizer, const char *model_extra, const char *train_extra)
{
  char text[8192], path[4200];
  snprintf(text, sizeof text,
           "seed: 31\n"
           "theory: {name: phi4, lattice: [6, 6], m2: -1.0, lambda: 0.5}\n"
           "model: {coupling_layers: 4, kernel_size: 3, hidden_channels: [8, 8]%s%s}\n"
           "train:\n"
           "  steps: %lld\n"
           "  batch_size: %d\n"
           "  optimizer: %s\n"
           "  grad_clip_norm: 100\n"
           "  checkpoint: %s.h5\n"
           "  checkpoint_every: 0\n"
           "  eval_samples: 512\n"
           "%s",
           model_extra ? ", " : "", model_extra ? model_extra : "", (long long)steps, batch,
           optimizer ? optimizer : "{name: adam, lr: 3.0e-3}", name,
           train_extra ? train_extra : "");
  snprintf(path, sizeof path, "%s/%s.yaml", dir, name);
  ck_assert_int_eq(fg_test_write_file(path, text), 0);
  fg_error err = {0};
  int rc = fg_config_load(path, cfg, &err);
  ck_assert_msg(rc == FG_OK, "%s", err.msg);
}

static void run(const fg_config *cfg, fg_train_result *res)
{
  fg_train_options opt = {.comm = MPI_COMM_WORLD, .progress = NULL};
  fg_error err = {0};
  int rc = fg_train_run(cfg, &opt, res, &err);
  ck_assert_msg(rc == FG_OK, "rc %d: %s", rc, err.msg);
}

static void read_ck(const char *name, fg_checkpoint *ck)
{
  char path[4200];
  snprintf(path, sizeof path, "%s/%s.h5", dir, name);
  fg_error err = {0};
  ck_assert_msg(fg_checkpoint_read(path, ck, &err) == FG_OK, "%s", err.msg);
}

/* Reads the first columns of `name`.csv; returns the number of rows. */
static int read_log(const char *name, log_row *rows, int max)
{
  char path[4200], line[1024];
  snprintf(path, sizeof path, "%s/%s.csv", dir, name);
  FILE *f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
  int n = 0;
  while (n < max && fgets(line, sizeof line, f)) {
    log_row *r = &rows[n++];
    ck_assert_int_eq(sscanf(line, "%lld,%lld,%lld,%lf,%lf,%lf,%lld", &r->step, &r->batch_rank,
                            &r->batch_global, &r->lr, &r->loss, &r->ess, &r->n_train),
                     7);
  }
  fclose(f);
  return n;
}

START_TEST(batch_size_schedule_grows_the_batch_up_to_its_cap)
{
  fg_config c;
  fg_train_result r;
  log_row rows[MAX_ROWS];
  /* 5, 15, 45, then 135 capped at 100: the factor need not be 2 and the
   * cap need not be on the geometric sequence. */
  make_config(&c, "batch_schedule", 14, 5, NULL, NULL,
              "  schedule: {kind: batch_size, every: 3, factor: 3, max_batch_size: 100}\n");
  run(&c, &r);
  int n = read_log("batch_schedule", rows, MAX_ROWS);
  ck_assert_int_eq(n, 14);
  static const long long expect[14] = {5, 5, 5, 15, 15, 15, 45, 45, 45, 100, 100, 100, 100, 100};
  long long n_train = 0;
  for (int i = 0; i < n; ++i) {
    n_train += expect[i];
    ck_assert_int_eq(rows[i].step, i + 1);
    ck_assert_int_eq(rows[i].batch_rank, expect[i]);
    ck_assert_int_eq(rows[i].batch_global, expect[i]);
    ck_assert_int_eq(rows[i].n_train, n_train);
    ck_assert_double_eq(rows[i].lr, 3.0e-3);
  }
  ck_assert_int_eq(r.n_train, n_train);
  fg_checkpoint ck;
  read_ck("batch_schedule", &ck);
  ck_assert_int_eq(ck.n_train, n_train);
  ck_assert_int_eq(ck.batch_size, 100); /* the batch of the next step */
  ck_assert_double_eq(ck.lr, 3.0e-3);
  fg_checkpoint_free(&ck);
  fg_config_free(&c);
}
END_TEST

START_TEST(learning_rate_schedule_decays_the_rate_down_to_min_lr)
{
  fg_config c;
  fg_train_result r;
  log_row rows[MAX_ROWS];
  make_config(&c, "lr_schedule", 13, 8, "{name: adam, lr: 0.01}", NULL,
              "  schedule: {kind: learning_rate, every: 4, factor: 0.5, min_lr: 0.002}\n");
  run(&c, &r);
  int n = read_log("lr_schedule", rows, MAX_ROWS);
  ck_assert_int_eq(n, 13);
  for (int i = 0; i < n; ++i) {
    double lr = fmax(0.01 * pow(0.5, i / 4), 0.002); /* 0.01, 0.005, 0.0025, then 0.002 */
    ck_assert_double_eq_tol(rows[i].lr, lr, 1e-12);
    ck_assert_int_eq(rows[i].batch_rank, 8);
    ck_assert_int_eq(rows[i].n_train, 8 * (i + 1));
  }
  ck_assert_double_eq_tol(rows[12].lr, 0.002, 1e-12);
  fg_checkpoint ck;
  read_ck("lr_schedule", &ck);
  ck_assert_double_eq_tol(ck.lr, 0.002, 1e-12);
  ck_assert_int_eq(ck.batch_size, 8);
  fg_checkpoint_free(&ck);
  fg_config_free(&c);

  /* kind none keeps both, whatever every and factor say. */
  make_config(&c, "no_schedule", 7, 8, "{name: adam, lr: 0.01}", NULL,
              "  schedule: {kind: none, every: 1, factor: 0.5}\n");
  run(&c, &r);
  n = read_log("no_schedule", rows, MAX_ROWS);
  ck_assert_int_eq(n, 7);
  for (int i = 0; i < n; ++i) {
    ck_assert_double_eq(rows[i].lr, 0.01);
    ck_assert_int_eq(rows[i].batch_rank, 8);
  }
  fg_config_free(&c);
}
END_TEST

/* Mean of the logged batch ESS over rows end-window .. end-1. */
static double rolling_mean(const log_row *rows, int end, int window)
{
  double s = 0;
  for (int i = end - window; i < end; ++i)
    s += rows[i].ess;
  return s / window;
}

/* Runs `name` with the stop rule and checks that it stopped at `step`. */
static void expect_stop(const char *name, double target, int window, int at_step, int batch)
{
  char extra[256];
  snprintf(extra, sizeof extra, "  stop: {target_ess: %.9f, window: %d}\n", target, window);
  fg_config c;
  fg_train_result r;
  make_config(&c, name, 60, batch, NULL, NULL, extra);
  run(&c, &r);
  ck_assert_int_eq(r.step, at_step);
  ck_assert_int_eq(r.n_train, (long long)at_step * batch);
  ck_assert_str_eq(r.stop_reason, "target_ess");
  fg_checkpoint ck;
  read_ck(name, &ck);
  ck_assert_str_eq(ck.stop_reason, "target_ess");
  ck_assert_int_eq(ck.step, at_step);
  ck_assert_int_eq(ck.n_train, (long long)at_step * batch);
  ck_assert_int_eq(ck.ess_window_len, at_step);
  ck_assert(ck.ess > 0); /* the final ESS is still measured */
  fg_checkpoint_free(&ck);
  fg_config_free(&c);
}

START_TEST(rolling_ess_stop_stops_at_the_first_step_reaching_the_target)
{
  const int window = 5, batch = 24;
  fg_config c;
  fg_train_result r;
  log_row rows[MAX_ROWS];
  make_config(&c, "no_stop", 60, batch, NULL, NULL, NULL);
  run(&c, &r);
  ck_assert_str_eq(r.stop_reason, "steps");
  int n = read_log("no_stop", rows, MAX_ROWS);
  ck_assert_int_eq(n, 60);
  /* The rolling mean first exists after `window` steps: a target any
   * batch reaches stops there, not earlier. */
  expect_stop("stop_at_window", 1e-9, window, window, batch);
  /* The step where the rolling mean beats every earlier one by the widest
   * margin; a target between the two stops exactly there. */
  int best = -1;
  double best_gap = 0, target = 0;
  for (int end = window + 1; end <= n; ++end) {
    double before = -1;
    for (int e = window; e < end; ++e)
      before = fmax(before, rolling_mean(rows, e, window));
    double gap = rolling_mean(rows, end, window) - before;
    if (gap > best_gap) {
      best_gap = gap;
      best = end;
      target = before + gap / 2;
    }
  }
  ck_assert_msg(best > window && best_gap > 1e-4, "no step raises the rolling ESS");
  expect_stop("stop_midway", target, window, best, batch);
  fg_config_free(&c);
}
END_TEST

/* max |x| over n floats. */
static double max_abs(const float *x, size_t n)
{
  double m = 0;
  for (size_t i = 0; i < n; ++i)
    m = fmax(m, fabs(x[i]));
  return m;
}

/* Checks the initial weights of `name` (K = 3, hidden [8, 8]) against the
 * documented bounds: per weight tensor, max |w| <= bound and above 0.9 x
 * bound (72 to 576 draws); biases, too few per tensor, pooled. */
static void check_init(const char *name, int xavier, double scale)
{
  static const int chans[] = {1, 8, 8, 2};
  fg_checkpoint ck;
  read_ck(name, &ck);
  const float *p = ck.params;
  double bias_ratio = 0;
  for (int l = 0; l < 4; ++l) {
    for (int c = 0; c < 3; ++c) {
      int cin = chans[c], cout = chans[c + 1];
      double fan_in = 9.0 * cin, fan_out = 9.0 * cout;
      double wb = xavier ? scale * sqrt(6.0 / (fan_in + fan_out)) : scale / sqrt(fan_in);
      double bb = (xavier ? 1.0 : scale) / sqrt(fan_in);
      size_t nw = (size_t)cout * cin * 9;
      double mw = max_abs(p, nw), mb = max_abs(p + nw, (size_t)cout);
      ck_assert_msg(mw <= wb * (1 + 1e-6) && mw > 0.9 * wb, "%s layer %d conv %d: max |w| %g, bound %g",
                    name, l, c, mw, wb);
      ck_assert_msg(mb <= bb * (1 + 1e-6), "%s: max |b| %g above %g", name, mb, bb);
      bias_ratio = fmax(bias_ratio, mb / bb);
      p += nw + (size_t)cout;
    }
  }
  ck_assert_msg(bias_ratio > 0.9, "%s: biases reach only %g of their bound", name, bias_ratio);
  ck_assert_uint_eq((size_t)(p - ck.params), ck.nparams);
  fg_checkpoint_free(&ck);
}

START_TEST(kaiming_and_xavier_follow_their_bounds)
{
  fg_config c;
  fg_train_result r;
  make_config(&c, "kaiming", 0, 8, NULL, "init: {scheme: kaiming, scale: 0.5}", NULL);
  run(&c, &r);
  fg_config_free(&c);
  check_init("kaiming", 0, 0.5);
  make_config(&c, "xavier", 0, 8, NULL, "init: {scheme: xavier, scale: 2.0}", NULL);
  run(&c, &r);
  fg_config_free(&c);
  check_init("xavier", 1, 2.0);
}
END_TEST

static int by_value(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median training loss of log rows [lo, hi) (at most 64): the first
 * batches of an untrained flow have heavy-tailed losses, and a median is
 * not thrown by one of them. */
static double median_loss(const log_row *rows, int lo, int hi)
{
  double v[64];
  int n = hi - lo;
  for (int i = 0; i < n; ++i)
    v[i] = rows[lo + i].loss;
  qsort(v, (size_t)n, sizeof v[0], by_value);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Mean training loss of log rows [lo, hi) and its standard error. */
static double mean_loss(const log_row *rows, int lo, int hi, double *err)
{
  double s = 0, s2 = 0;
  for (int i = lo; i < hi; ++i) {
    s += rows[i].loss;
    s2 += rows[i].loss * rows[i].loss;
  }
  int n = hi - lo;
  double m = s / n;
  *err = sqrt(fmax(s2 / n - m * m, 0) / (n - 1));
  return m;
}

/* Trains with `optimizer` and asserts that the mean loss of the last 20
 * steps is below the median of the first 20 by more than 1 (a factor e in
 * the density ratio) and by 5 of its standard errors. */
static void loss_decreases(const char *name, const char *optimizer, size_t state_per_param)
{
  fg_config c;
  fg_train_result r;
  log_row rows[MAX_ROWS];
  make_config(&c, name, 150, 32, optimizer, NULL, NULL);
  run(&c, &r);
  int n = read_log(name, rows, MAX_ROWS);
  ck_assert_int_eq(n, 150);
  double e1, first = median_loss(rows, 0, 20), last = mean_loss(rows, n - 20, n, &e1);
  ck_assert_msg(last < first - 1 && last + 5 * e1 < first, "%s: loss (median) %g -> %g +- %g",
                name, first, last, e1);
  fg_checkpoint ck;
  read_ck(name, &ck);
  ck_assert_uint_eq(ck.opt_state_len, state_per_param * ck.nparams);
  ck_assert_int_eq(ck.opt_t, 150);
  double state = 0;
  for (size_t i = 0; i < ck.opt_state_len; ++i)
    state = fmax(state, fabs(ck.opt_state[i]));
  ck_assert_msg(state > 0, "%s: the optimizer state stayed zero", name);
  fg_checkpoint_free(&ck);
  fg_config_free(&c);
}

START_TEST(sgd_with_momentum_and_adadelta_train)
{
  loss_decreases("sgd", "{name: sgd, lr: 1.0e-3, momentum: 0.9}", 1);
  loss_decreases("adadelta", "{name: adadelta}", 2);
}
END_TEST

START_TEST(gradient_clipping_bounds_the_sgd_step)
{
  /* Plain SGD, one step: the parameters move by exactly lr x clip norm
   * when the gradient's norm is above it (it is ~10 here). */
  fg_config c0, c1;
  fg_train_result r;
  make_config(&c0, "clip0", 0, 32, "{name: sgd, lr: 1.0}", NULL, NULL);
  run(&c0, &r);
  make_config(&c1, "clip1", 1, 32, "{name: sgd, lr: 1.0}", NULL, NULL);
  /* grad_clip_norm is set in make_config; override it here. */
  c1.train.grad_clip_norm = 1e-3;
  run(&c1, &r);
  fg_checkpoint a, b;
  read_ck("clip0", &a);
  read_ck("clip1", &b);
  double s = 0;
  for (size_t i = 0; i < a.nparams; ++i)
    s += ((double)b.params[i] - a.params[i]) * ((double)b.params[i] - a.params[i]);
  ck_assert_msg(fabs(sqrt(s) - 1e-3) < 1e-5, "step norm %g", sqrt(s));
  fg_checkpoint_free(&a);
  fg_checkpoint_free(&b);
  fg_config_free(&c0);
  fg_config_free(&c1);
}
END_TEST

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  dir = fg_test_tmpdir();
  Suite *s = suite_create("schedule");
  TCase *tc = tcase_create("one rank");
  tcase_add_test(tc, batch_size_schedule_grows_the_batch_up_to_its_cap);
  tcase_add_test(tc, learning_rate_schedule_decays_the_rate_down_to_min_lr);
  tcase_add_test(tc, rolling_ess_stop_stops_at_the_first_step_reaching_the_target);
  tcase_add_test(tc, kaiming_and_xavier_follow_their_bounds);
  tcase_add_test(tc, sgd_with_momentum_and_adadelta_train);
  tcase_add_test(tc, gradient_clipping_bounds_the_sgd_step);
  suite_add_tcase(s, tc);
  int rc = fg_test_run(s);
  if (fg_test_remove_dir(dir) != 0)
    rc = 1;
  free(dir);
  MPI_Finalize();
  return rc;
}
