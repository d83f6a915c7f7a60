/*
 * cmd_bench.c -- `flowgen bench CONFIG [--json] [--batch N] [--seconds T]`:
 * throughput of the config's model on one core (SPEC section 3, issue 2):
 * samples/s of sampling (flow + log q + action) and of training (forward,
 * backward, optimizer), FLOPs per sample, and OpenBLAS's single-core SGEMM
 * (n = 1024) measured in the same run. --batch is 1..2^20 and --seconds a
 * finite number in (0, 3600] (exit 2 otherwise); SIGTERM, SIGUSR1 and
 * SIGINT stop it within one block of FG_VLEN samples, with exit 1 and no
 * figures.
 */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "flowgen/model.h"
#include "flowgen/rng.h"
#include "flowgen/train.h"
#include "flowgen/util.h"

typedef struct {
  const fg_theory *th;
  const fg_flow *flow;
  fg_model_block *blk;
  fg_optimizer *opt;
  double *grad;
  uint64_t seed;
  int batch;
  volatile sig_atomic_t *stop; /* SIGTERM/SIGINT/SIGUSR1 */
} bench_ctx;

/* The largest --batch: the largest batch train.schedule allows (a batch is
 * worked through in blocks of FG_VLEN, so memory does not grow with it, but
 * time does, and one batch must end in reasonable time). */
#define BENCH_MAX_BATCH (1 << 20)
#define BENCH_MAX_SECONDS 3600.0

/* One batch of sampling. */
static void sample_batch(bench_ctx *c)
{
  for (int b0 = 0; b0 < c->batch && !*c->stop; b0 += FG_VLEN)
    fg_model_sample_block(c->th, c->flow, c->blk, c->seed, FG_RNG_EVAL, (uint64_t)b0,
                          c->batch - b0 < FG_VLEN ? c->batch - b0 : FG_VLEN);
}

/* One training step on one batch, the optimizer included. */
static void train_batch(bench_ctx *c)
{
  memset(c->grad, 0, sizeof(double) * fg_flow_nparams(c->flow));
  for (int b0 = 0; b0 < c->batch && !*c->stop; b0 += FG_VLEN)
    fg_model_kl_gradient_block(c->th, c->flow, c->blk, c->seed, FG_RNG_TRAIN, (uint64_t)b0,
                               c->batch - b0 < FG_VLEN ? c->batch - b0 : FG_VLEN,
                               1.0 / c->batch, c->grad);
  float *p = (float *)fg_flow_params(c->flow);
  fg_optimizer_step(c->opt, p, c->grad, 0.0); /* lr 0: the cost without changing the model */
  fg_flow_set_params((fg_flow *)c->flow, p);
}

/* Repeats fn for at least `seconds`; returns batches per second (0 when a
 * stop was requested: the figure would be wrong). */
static double rate(void (*fn)(bench_ctx *), bench_ctx *c, double seconds)
{
  fn(c); /* warm-up */
  int n = 0;
  double t0 = fg_wall_time(), el;
  do {
    fn(c);
    ++n;
    el = fg_wall_time() - t0;
  } while ((el < seconds || n < 3) && !*c->stop);
  return *c->stop ? 0.0 : n / el;
}

static double sgemm_gflops(double seconds, volatile sig_atomic_t *stop)
{
  const int n = 1024;
  float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n),
        *cc = malloc(sizeof(float) * n * n);
  if (!a || !b || !cc) {
    free(a), free(b), free(cc);
    return 0.0;
  }
  fg_rng r;
  fg_rng_init(&r, 1, FG_RNG_TEST, 0, 0);
  for (int i = 0; i < n * n; ++i) {
    a[i] = (float)fg_rng_uniform(&r);
    b[i] = (float)fg_rng_uniform(&r);
    cc[i] = 0.0f;
  }
  openblas_set_num_threads(1);
  double best = 0.0, t_end = fg_wall_time() + seconds;
  int reps = 0;
  do {
    double t0 = fg_wall_time();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, cc, n);
    double g = 2.0 * n * (double)n * n / (fg_wall_time() - t0) / 1e9;
    best = g > best ? g : best;
  } while ((++reps < 3 || fg_wall_time() < t_end) && !*stop);
  free(a), free(b), free(cc);
  return best;
}

static int bad_argument(const char *option, const char *value, const char *why)
{
  char msg[512];
  snprintf(msg, sizeof msg, "bench: %s %s: %s", option, value, why);
  report_error(msg, 0);
  return FG_ERR_INPUT;
}

/* --batch: a whole decimal number in 1..BENCH_MAX_BATCH. */
static int parse_batch(const char *text, int *batch)
{
  char *end;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (end == text || *end != '\0')
    return bad_argument("--batch", text, "not a whole number");
  if (errno == ERANGE || v < 1 || v > BENCH_MAX_BATCH) {
    char why[128];
    snprintf(why, sizeof why, "must be between 1 and %d", BENCH_MAX_BATCH);
    return bad_argument("--batch", text, why);
  }
  *batch = (int)v;
  return FG_OK;
}

/* --seconds: a finite number in (0, BENCH_MAX_SECONDS]. */
static int parse_seconds(const char *text, double *seconds)
{
  char *end;
  errno = 0;
  double v = strtod(text, &end);
  if (end == text || *end != '\0')
    return bad_argument("--seconds", text, "not a number");
  if (!isfinite(v) || !(v > 0.0) || v > BENCH_MAX_SECONDS) {
    char why[128];
    snprintf(why, sizeof why, "must be a finite number of seconds > 0 and <= %g",
             BENCH_MAX_SECONDS);
    return bad_argument("--seconds", text, why);
  }
  *seconds = v;
  return FG_OK;
}

static int parse_args(int argc, char **argv, const char **path, int *json, int *batch,
                      double *seconds)
{
  for (int i = 0; i < argc; ++i) {
    int rc = FG_OK;
    if (strcmp(argv[i], "--json") == 0)
      *json = 1;
    else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
      rc = parse_batch(argv[++i], batch);
    else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
      rc = parse_seconds(argv[++i], seconds);
    else if (argv[i][0] != '-' && *path == NULL)
      *path = argv[i];
    else {
      char msg[256];
      snprintf(msg, sizeof msg, "bench: unexpected argument '%s'", argv[i]);
      report_error(msg, 0);
      return FG_ERR_INPUT;
    }
    if (rc != FG_OK)
      return rc;
  }
  if (*path == NULL) {
    report_error("usage: flowgen bench CONFIG [--json] [--batch N>0] [--seconds T>0]", 0);
    return FG_ERR_INPUT;
  }
  return FG_OK;
}

static void print_bench(const fg_config *cfg, const fg_flow *flow, int batch, double sps,
                        double tps, double sgemm, int json)
{
  double flop = fg_flow_flops(flow);
  double samp_gf = sps * flop / 1e9, train_gf = 3.0 * tps * flop / 1e9;
  if (json) {
    fg_json j;
    fg_json_begin(&j, stdout);
    fg_json_object(&j, NULL);
    fg_json_string(&j, "config", cfg->path);
    fg_json_string(&j, "isa", fg_conv_isa());
    fg_json_int(&j, "batch", batch);
    fg_json_unsigned(&j, "nparams", fg_flow_nparams(flow));
    fg_json_numberf(&j, "sample_per_s", "%.6g", sps);
    fg_json_numberf(&j, "train_samples_per_s", "%.6g", tps);
    fg_json_numberf(&j, "flop_per_sample", "%.0f", flop);
    fg_json_numberf(&j, "sgemm_gflops", "%.4g", sgemm);
    fg_json_numberf(&j, "sample_gflops", "%.4g", samp_gf);
    fg_json_numberf(&j, "train_gflops", "%.4g", train_gf);
    fg_json_numberf(&j, "sample_fraction_of_sgemm", "%.4f", samp_gf / sgemm);
    fg_json_numberf(&j, "train_fraction_of_sgemm", "%.4f", train_gf / sgemm);
    fg_json_end(&j);
    return;
  }
  printf("flowgen bench: %s (one core, kernels: %s, batch %d)\n", cfg->path, fg_conv_isa(),
         batch);
  printf("  parameters           %zu\n", fg_flow_nparams(flow));
  printf("  flop per sample      %.4g (2 x conv multiply-adds, dense)\n", flop);
  printf("  sampling             %.4g samples/s = %.1f GFLOP/s (%.0f%% of SGEMM)\n", sps, samp_gf,
         100 * samp_gf / sgemm);
  printf("  training             %.4g samples/s = %.1f GFLOP/s at 3 x flop (%.0f%% of SGEMM)\n",
         tps, train_gf, 100 * train_gf / sgemm);
  printf("  SGEMM n=1024         %.1f GFLOP/s (OpenBLAS, 1 thread)\n", sgemm);
}

int cmd_bench(int argc, char **argv, volatile sig_atomic_t *stop_flag)
{
  const char *path = NULL;
  int json = 0, batch = 1024;
  double seconds = 2.0;
  int rc = parse_args(argc, argv, &path, &json, &batch, &seconds);
  fg_config cfg;
  memset(&cfg, 0, sizeof cfg);
  if (rc == FG_OK)
    rc = load_config_all(path, &cfg);
  command_flags none = {0};
  if (rc == FG_OK)
    rc = check_command_config("bench", &cfg, &none);
  /* bench has no checkpoint to write: an interrupt (Ctrl-C too) just stops it */
  struct sigaction sa, old_int;
  memset(&sa, 0, sizeof sa);
  sigaction(SIGTERM, NULL, &sa); /* the stop handler main installed */
  sigaction(SIGINT, &sa, &old_int);
  fg_theory *th = NULL;
  fg_flow *flow = NULL;
  fg_model_block blk;
  fg_optimizer opt;
  memset(&blk, 0, sizeof blk);
  memset(&opt, 0, sizeof opt);
  double *grad = NULL;
  fg_error err = {0};
  if (rc == FG_OK && (rc = fg_theory_create(&cfg.theory, &th, &err)) == FG_OK &&
      (rc = fg_flow_create(&cfg.model, fg_theory_lattice(th), &flow, &err)) == FG_OK &&
      (rc = fg_model_block_init(&blk, flow, &err)) == FG_OK &&
      (rc = fg_optimizer_init(&opt, &cfg.train.optimizer, fg_flow_nparams(flow), &err)) == FG_OK) {
    grad = fg_alloc(sizeof(double) * fg_flow_nparams(flow), &err, "cmd_bench [cmd_bench.c]");
    rc = grad ? FG_OK : FG_ERR_RUNTIME;
  }
  if (rc == FG_OK) {
    fg_flow_init_params(flow, cfg.seed);
    bench_ctx c = {th, flow, &blk, &opt, grad, cfg.seed, batch, stop_flag};
    double sps = rate(sample_batch, &c, seconds) * batch;
    double tps = *stop_flag ? 0.0 : rate(train_batch, &c, seconds) * batch;
    double sg = *stop_flag ? 0.0 : sgemm_gflops(seconds, stop_flag);
    if (*stop_flag) {
      report_error("bench: stopped by a signal before its figures were complete; none printed",
                   0);
      rc = FG_ERR_RUNTIME;
    } else {
      print_bench(&cfg, flow, batch, sps, tps, sg, json);
    }
  } else if (err.msg[0]) {
    report_error(err.msg, 0);
  }
  sigaction(SIGINT, &old_int, NULL);
  fg_free(grad);
  fg_optimizer_free(&opt);
  fg_model_block_free(&blk);
  fg_flow_destroy(flow);
  fg_theory_destroy(th);
  fg_config_free(&cfg);
  return rc;
}
