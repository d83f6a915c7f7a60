/*
 * bench_service.c -- the sampling service under many workers (issue 15):
 * the real coordinator, the real wire protocol and the real parallel-HDF5
 * write path, with workers that do not run the flow. Each worker makes
 * the rows of its batches from a fixed distribution -- log w of proposal
 * j = sigma z_j - sigma^2 / 2 with z_j the first normal of stream (seed,
 * FG_RNG_SAMPLE, j), so the weights are the same whichever rank draws
 * them -- and paces itself to a given rate, sleeping (not spinning) so
 * that oversubscribed ranks leave the CPU to the coordinator.
 *
 * Usage: mpirun -n N bench_service CONFIG [--rate R] [--sigma S] [--window W]
 *                                       [--flow] [--verify]
 *   CONFIG     a phi^4 or Schwinger config with a sample section (its
 *              sample.model must exist: an untrained checkpoint will do;
 *              the lattice sets the bytes per row written)
 *   --rate R   proposals per second per worker (0, the default: as fast
 *              as the rows can be made)
 *   --sigma S  spread of log w (default 1: acceptance about 0.5)
 *   --window W batches in flight per worker (default: the service's)
 *   --flow     draw with the flow instead (the service as it ships)
 *   --verify   rank 0 recomputes the chain serially from the same
 *              log-weights and compares its hash with the coordinator's,
 *              and reads the file back: every row where proposal j
 *              belongs, the file's chain the serial chain
 * Prints one JSON object (rank 0): the coordinator's throughput (overall
 * and between the collective flushes), busy share, cost per log-weight
 * and per message, result latency, the workers' waits, the write rate,
 * and chain_hash (the same for any N).
 * Exit status 0, or 1 on failure or a failed --verify.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flowgen/config.h"
#include "flowgen/ensemble.h"
#include "flowgen/rng.h"
#include "flowgen/util.h"
#include "service/hooks.h"
#include "service/protocol.h"

typedef struct {
  uint64_t seed;
  int64_t proposals;
  int batch, width;       /* proposals per batch, values per row */
  double rate, sigma;     /* per worker */
  double due;             /* when this rank's next batch is due (rate > 0) */
} synthetic;

static double synthetic_logw(const synthetic *g, int64_t j, double *logq)
{
  fg_rng r;
  fg_rng_init(&r, g->seed, FG_RNG_SAMPLE, (uint64_t)j, 0);
  double z = fg_rng_normal(&r), y = fg_rng_normal(&r);
  *logq = y - (double)g->width;
  return g->sigma * z - 0.5 * g->sigma * g->sigma;
}

/* Row j's configuration: cheap, distinct per proposal, checkable. */
static double synthetic_site(int64_t j, int y)
{
  return (double)j + 1e-4 * (double)y;
}

static void sleep_until(double t)
{
  double left = t - fg_wall_time();
  if (left <= 0.0)
    return;
  struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
  nanosleep(&ts, NULL);
}

/* fg_draw_fn: the rows of `batch`, then a sleep to the rate's pace. */
static int synthetic_draw(void *ctx, fg_sample_session *s, int64_t batch, fg_row_buffer *buf,
                          fg_error *err)
{
  (void)s;
  synthetic *g = ctx;
  double t0 = fg_wall_time();
  int64_t first = batch * g->batch;
  int64_t n = g->proposals - first < g->batch ? g->proposals - first : g->batch;
  int rc = fg_row_buffer_reserve(buf, n, 1, g->width, err);
  if (rc != FG_OK)
    return rc;
  buf->first[buf->nruns] = first;
  buf->count[buf->nruns++] = n;
  for (int64_t i = 0; i < n; ++i) {
    int64_t r = buf->rows + i, j = first + i;
    double *row = buf->configs + (size_t)r * (size_t)g->width;
    for (int y = 0; y < g->width; ++y)
      row[y] = synthetic_site(j, y);
    buf->logw[r] = synthetic_logw(g, j, &buf->logq[r]);
    buf->action[r] = -buf->logw[r] - buf->logq[r];
  }
  buf->rows += n;
  if (g->rate > 0.0) {
    g->due = (g->due > t0 ? g->due : t0) + (double)n / g->rate;
    sleep_until(g->due);
  }
  return FG_OK;
}

/* ------------------------------------------------------------ checking */

/* The chain of the same log-weights on one process, as its hash. */
static uint64_t serial_chain_hash(const synthetic *g, int64_t **index_out)
{
  int64_t n = g->proposals;
  double *logw = malloc(sizeof(double) * (size_t)n), logq;
  int64_t *index = malloc(sizeof(int64_t) * (size_t)n);
  uint8_t *acc = malloc((size_t)n);
  if (!logw || !index || !acc) {
    free(logw), free(index), free(acc);
    return 0;
  }
  for (int64_t j = 0; j < n; ++j)
    logw[j] = synthetic_logw(g, j, &logq);
  fg_imh_chain c;
  fg_imh_init(&c, g->seed);
  fg_imh_chain_run(&c, logw, n, index, acc);
  uint64_t h = fg_service_chain_hash(FG_CHAIN_HASH_START, index, acc, n);
  free(logw), free(acc);
  *index_out = index;
  return h;
}

/* The finished file: row j holds proposal j, the chain is the serial one. */
static int file_matches(const char *path, const synthetic *g, const int64_t *index)
{
  fg_ensemble_data d;
  fg_error err = {0};
  if (fg_ensemble_load(path, &d, &err) != FG_OK) {
    fprintf(stderr, "bench_service: %s\n", err.msg);
    return 0;
  }
  int ok = d.layout.n_configs == g->proposals && d.layout.n_chain == g->proposals && d.volume == g->width;
  for (int64_t j = 0; ok && j < g->proposals; ++j) {
    double logq, logw = synthetic_logw(g, j, &logq);
    ok = d.logw[j] == logw && d.logq[j] == logq && d.chain_index[j] == index[j];
    for (int y = 0; ok && y < g->width; ++y)
      ok = d.configs[(size_t)j * (size_t)g->width + (size_t)y] == synthetic_site(j, y);
  }
  fg_ensemble_data_free(&d);
  return ok;
}

/* ------------------------------------------------------------ reporting */

enum { W_DRAW, W_WAIT, W_FLUSH, W_LOOP, W_LEN };

/* Mean and max over the workers of their figures (rank 0 gets them). */
static void worker_figures(MPI_Comm comm, const fg_service_stats *st, double mean[W_LEN],
                           double max[W_LEN])
{
  int rank, n;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &n);
  double v[W_LEN] = {0};
  if (rank > 0) {
    v[W_DRAW] = st->draw_s, v[W_WAIT] = st->recv_wait_s;
    v[W_FLUSH] = st->flush_s, v[W_LOOP] = st->loop_s;
  }
  MPI_Reduce(v, mean, W_LEN, MPI_DOUBLE, MPI_SUM, 0, comm);
  MPI_Reduce(v, max, W_LEN, MPI_DOUBLE, MPI_MAX, 0, comm);
  for (int k = 0; k < W_LEN; ++k)
    mean[k] /= n > 1 ? n - 1 : 1;
}

/* verified: -1 not checked, else whether the chain and the file matched */
static void print_report(const fg_config *cfg, const synthetic *g, int nranks, int window,
                         int flow, const fg_service_stats *c, const double *wmean,
                         const double *wmax, const fg_sample_result *res, int verified)
{
  double row_bytes = 8.0 * (g->width + 4), bytes = row_bytes * (double)g->proposals;
  double flush = c->flush_s > wmax[W_FLUSH] ? c->flush_s : wmax[W_FLUSH];
  fg_json j;
  fg_json_begin(&j, stdout);
  fg_json_object(&j, NULL);
  fg_json_int(&j, "ranks", nranks);
  fg_json_int(&j, "workers", nranks > 1 ? nranks - 1 : 1);
  fg_json_string(&j, "draw", flow ? "flow" : "synthetic");
  fg_json_int(&j, "proposals", (long long)g->proposals);
  fg_json_int(&j, "batch", g->batch);
  fg_json_int(&j, "window", window);
  fg_json_int(&j, "row_values", g->width);
  fg_json_numberf(&j, "rate_per_worker", "%.6g", g->rate);
  fg_json_numberf(&j, "wall_s", "%.4f", c->loop_s);
  fg_json_numberf(&j, "logw_per_s", "%.6g", (double)c->logw / c->loop_s);
  /* the coordinator's pace while no collective write holds every rank */
  fg_json_numberf(&j, "between_flushes_logw_per_s", "%.6g",
                  (double)c->logw / (c->loop_s - c->flush_s));
  fg_json_numberf(&j, "acceptance", "%.4f", res->acceptance);
  fg_json_break(&j);
  fg_json_object(&j, "coordinator");
  fg_json_numberf(&j, "busy_share", "%.4f", (c->chain_s + c->order_s) / c->loop_s);
  fg_json_numberf(&j, "chain_ns_per_logw", "%.4g", 1e9 * c->chain_s / (double)c->logw);
  fg_json_numberf(&j, "order_us_per_msg", "%.4g",
                  c->batches ? 1e6 * c->order_s / (double)c->batches : 0.0);
  fg_json_numberf(&j, "recv_wait_s", "%.4f", c->recv_wait_s);
  fg_json_numberf(&j, "latency_mean_us", "%.4g",
                  nranks > 1 ? 1e6 * c->latency_sum_s / (double)c->batches : 0.0);
  fg_json_numberf(&j, "latency_max_us", "%.4g", 1e6 * c->latency_max_s);
  fg_json_int(&j, "flushes", (long long)c->flushes);
  fg_json_end(&j);
  fg_json_break(&j);
  fg_json_object(&j, "workers");
  fg_json_numberf(&j, "draw_s_mean", "%.4f", wmean[W_DRAW]);
  fg_json_numberf(&j, "order_wait_s_mean", "%.4f", wmean[W_WAIT]);
  fg_json_numberf(&j, "order_wait_s_max", "%.4f", wmax[W_WAIT]);
  fg_json_numberf(&j, "flush_s_max", "%.4f", wmax[W_FLUSH]);
  fg_json_end(&j);
  fg_json_break(&j);
  fg_json_object(&j, "file");
  fg_json_numberf(&j, "bytes", "%.0f", bytes);
  fg_json_numberf(&j, "flush_s", "%.4f", flush);
  fg_json_numberf(&j, "write_MB_per_s", "%.4g", flush > 0 ? bytes / flush / 1e6 : 0.0);
  fg_json_string(&j, "path", cfg->sample.output);
  fg_json_end(&j);
  fg_json_break(&j);
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", (unsigned long long)c->chain_hash);
  fg_json_string(&j, "chain_hash", hex);
  if (verified >= 0)
    fg_json_bool(&j, "verified_against_serial_chain_and_file", verified);
  fg_json_end(&j);
}

/* ---------------------------------------------------------------- main */

typedef struct {
  const char *config;
  double rate, sigma;
  int window, flow, verify;
} bench_args;

static int parse_args(int argc, char **argv, bench_args *a)
{
  *a = (bench_args){.sigma = 1.0};
  for (int i = 1; i < argc; ++i) {
    int more = i + 1 < argc;
    if (!strcmp(argv[i], "--rate") && more)
      a->rate = atof(argv[++i]);
    else if (!strcmp(argv[i], "--sigma") && more)
      a->sigma = atof(argv[++i]);
    else if (!strcmp(argv[i], "--window") && more)
      a->window = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--flow"))
      a->flow = 1;
    else if (!strcmp(argv[i], "--verify"))
      a->verify = 1;
    else if (argv[i][0] != '-' && a->config == NULL)
      a->config = argv[i];
    else
      return 0;
  }
  return a->config != NULL && a->rate >= 0.0 && a->window >= 0;
}

/* Rank 0: the serial chain and the file against the run. */
static int verify_run(const fg_config *cfg, const synthetic *g, uint64_t hash)
{
  int64_t *index = NULL;
  uint64_t serial = serial_chain_hash(g, &index);
  int same = index != NULL && serial == hash;
  if (!same)
    fprintf(stderr, "bench_service: the chain differs from the serial chain\n");
  int file = same && file_matches(cfg->sample.output, g, index);
  if (same && !file)
    fprintf(stderr, "bench_service: %s does not hold the rows and chain expected\n",
            cfg->sample.output);
  free(index);
  return same && file;
}

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  int rank, nranks;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  bench_args a;
  fg_config cfg;
  fg_error err = {0};
  if (!parse_args(argc, argv, &a)) {
    if (rank == 0)
      fprintf(stderr, "usage: bench_service CONFIG [--rate R] [--sigma S] [--window W] "
                      "[--flow] [--verify]\n");
    MPI_Finalize();
    return 1;
  }
  int rc = fg_agree(MPI_COMM_WORLD, fg_config_load(a.config, &cfg, &err), &err);
  if (rc != FG_OK) {
    if (rank == 0)
      fprintf(stderr, "bench_service: %s\n", err.msg);
    MPI_Finalize();
    return 1;
  }
  int width = cfg.theory.name == FG_THEORY_SCHWINGER ? 2 : 1;
  for (int d = 0; d < cfg.theory.nd; ++d)
    width *= cfg.theory.extent[d];
  synthetic g = {cfg.seed, cfg.sample.proposals, cfg.sample.batch_size, width, a.rate, a.sigma,
                 0.0};
  fg_service_stats st;
  fg_service_hooks hooks = {a.flow ? NULL : synthetic_draw, &g, a.window, &st};
  fg_sample_options opt = {.comm = MPI_COMM_WORLD};
  fg_sample_result res;
  rc = fg_sample_run_hooked(&cfg, &opt, &hooks, &res, &err);
  double wmean[W_LEN], wmax[W_LEN];
  if (rc == FG_OK)
    worker_figures(MPI_COMM_WORLD, &st, wmean, wmax);
  if (rc != FG_OK && rank == 0)
    fprintf(stderr, "bench_service: %s\n", err.msg);
  int ok = rc == FG_OK;
  if (ok && rank == 0) {
    int verified = a.verify && !a.flow ? verify_run(&cfg, &g, st.chain_hash) : -1;
    print_report(&cfg, &g, nranks, a.window > 0 ? a.window : FG_IN_FLIGHT, a.flow, &st, wmean,
                 wmax, &res, verified);
    ok = verified != 0;
  }
  fg_config_free(&cfg);
  MPI_Finalize();
  return ok ? 0 : 1;
}
