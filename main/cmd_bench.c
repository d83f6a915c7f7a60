/*
 * cmd_bench.c -- `flowgen bench CONFIG [--json] [--batch N] [--seconds T]`:
 * throughput of the config's model on one core (SPEC section 3, issue 2):
 * samples/s of sampling (flow + log q + action) and of training (forward,
 * backward, optimizer), FLOPs per sample, and OpenBLAS's single-core SGEMM
 * (n = 1024) measured in the same run.
 */
#include <cblas.h>
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
} bench_ctx;

/* One batch of sampling. */
static void sample_batch(bench_ctx *c)
{
  for (int b0 = 0; b0 < c->batch; b0 += FG_VLEN)
    fg_model_sample_block(c->th, c->flow, c->blk, c->seed, FG_RNG_EVAL, (uint64_t)b0,
                          c->batch - b0 < FG_VLEN ? c->batch - b0 : FG_VLEN);
}

/* One training step on one batch, the optimizer included. */
static void train_batch(bench_ctx *c)
{
  memset(c->grad, 0, sizeof(double) * fg_flow_nparams(c->flow));
  for (int b0 = 0; b0 < c->batch; b0 += FG_VLEN)
    fg_model_kl_gradient_block(c->th, c->flow, c->blk, c->seed, FG_RNG_TRAIN, (uint64_t)b0,
                               c->batch - b0 < FG_VLEN ? c->batch - b0 : FG_VLEN,
                               1.0 / c->batch, c->grad);
  float *p = (float *)fg_flow_params(c->flow);
  fg_optimizer_step(c->opt, p, c->grad, 0.0); /* lr 0: the cost without changing the model */
  fg_flow_set_params((fg_flow *)c->flow, p);
}

/* Repeats fn for at least `seconds`; returns batches per second. */
static double rate(void (*fn)(bench_ctx *), bench_ctx *c, double seconds)
{
  fn(c); /* warm-up */
  int n = 0;
  double t0 = fg_wall_time(), el;
  do {
    fn(c);
    ++n;
    el = fg_wall_time() - t0;
  } while (el < seconds || n < 3);
  return n / el;
}

static double sgemm_gflops(double seconds)
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
  } while (++reps < 3 || fg_wall_time() < t_end);
  free(a), free(b), free(cc);
  return best;
}

static int parse_args(int argc, char **argv, const char **path, int *json, int *batch,
                      double *seconds)
{
  for (int i = 0; i < argc; ++i) {
    if (strcmp(argv[i], "--json") == 0)
      *json = 1;
    else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
      *batch = atoi(argv[++i]);
    else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
      *seconds = atof(argv[++i]);
    else if (argv[i][0] != '-' && *path == NULL)
      *path = argv[i];
    else {
      char msg[256];
      snprintf(msg, sizeof msg, "bench: unexpected argument '%s'", argv[i]);
      report_error(msg, 0);
      return FG_ERR_INPUT;
    }
  }
  if (*path == NULL || *batch <= 0 || *seconds <= 0) {
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
    fputs("{\"config\": ", stdout);
    fg_json_string(stdout, cfg->path);
    printf(", \"isa\": \"%s\", \"batch\": %d, \"nparams\": %zu, "
           "\"sample_per_s\": %.6g, \"train_samples_per_s\": %.6g, \"flop_per_sample\": %.0f, "
           "\"sgemm_gflops\": %.4g, \"sample_gflops\": %.4g, \"train_gflops\": %.4g, "
           "\"sample_fraction_of_sgemm\": %.4f, \"train_fraction_of_sgemm\": %.4f}\n",
           fg_conv_isa(), batch, fg_flow_nparams(flow), sps, tps, flop, sgemm,
           samp_gf, train_gf, samp_gf / sgemm, train_gf / sgemm);
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

int cmd_bench(int argc, char **argv)
{
  const char *path = NULL;
  int json = 0, batch = 1024;
  double seconds = 2.0;
  int rc = parse_args(argc, argv, &path, &json, &batch, &seconds);
  fg_config cfg;
  memset(&cfg, 0, sizeof cfg);
  if (rc == FG_OK)
    rc = load_config_all(path, &cfg);
  fg_theory *th = NULL;
  fg_flow *flow = NULL;
  fg_model_block blk;
  fg_optimizer opt;
  memset(&blk, 0, sizeof blk);
  memset(&opt, 0, sizeof opt);
  double *grad = NULL;
  fg_error err = {0};
  if (rc == FG_OK && (rc = fg_theory_create(&cfg.theory, &th, &err)) == FG_OK &&
      (rc = fg_flow_create(&cfg.model, &th->lat, &flow, &err)) == FG_OK &&
      (rc = fg_model_block_init(&blk, flow, &err)) == FG_OK &&
      (rc = fg_optimizer_init(&opt, &cfg.train.optimizer, fg_flow_nparams(flow), &err)) == FG_OK) {
    grad = fg_alloc(sizeof(double) * fg_flow_nparams(flow), &err, "cmd_bench [cmd_bench.c]");
    rc = grad ? FG_OK : FG_ERR_RUNTIME;
  }
  if (rc == FG_OK) {
    fg_flow_init_params(flow, cfg.seed);
    bench_ctx c = {th, flow, &blk, &opt, grad, cfg.seed, batch};
    double sps = rate(sample_batch, &c, seconds) * batch;
    double tps = rate(train_batch, &c, seconds) * batch;
    double sg = sgemm_gflops(seconds);
    print_bench(&cfg, flow, batch, sps, tps, sg, json);
  } else if (err.msg[0]) {
    report_error(err.msg, 0);
  }
  fg_free(grad);
  fg_optimizer_free(&opt);
  fg_model_block_free(&blk);
  fg_flow_destroy(flow);
  fg_theory_destroy(th);
  fg_config_free(&cfg);
  return rc;
}
