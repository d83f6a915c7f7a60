/*
 * coordinator.c -- the coordinator rank of the sampling service (see
 * service/roles.h; the messages and their order: service/protocol.h).
 *
 *   int fg_coordinator_run(fg_sample_session *s, const fg_sample_options *opt,
 *                          const fg_service_hooks *hooks, fg_sample_state *st,
 *                          fg_error *err)
 *     Rank 0. Hands out batches in index order, FG_IN_FLIGHT per worker (or
 *     hooks->in_flight) so no worker waits for an order; receives (batch, log-weights) in any
 *     order, keeps them in a buffer of one round, and advances the global
 *     Metropolis chain and the ESS sums of st over the batches that are
 *     complete in index order, so every number of the file but the timings
 *     is the same bits for any number of workers. At the end of each round
 *     (sample.flush_every proposals) every rank writes its rows
 *     collectively and the coordinator the chain and the resume state. A
 *     stop (signal on any rank, or opt->stop_after) hands out nothing new,
 *     finishes the batches in flight, flushes and stops the workers. With
 *     one rank it draws the batches itself (hooks->draw when given). It
 *     times its parts into hooks->stats when given (hooks.h).
 *     Memory: one round of log-weights and chain entries, whatever the run
 *     length. Collective (with the workers) over opt->comm.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../service/protocol.h"
#include "../service/roles.h"
#include "flowgen/analysis.h"
#include "flowgen/util.h"

typedef struct {
  fg_sample_session *s;
  const fg_sample_options *opt;
  fg_sample_state *st;
  const fg_service_hooks *hooks;
  fg_service_stats stats;  /* copied to hooks->stats at the end */
  fg_sample_plan plan;
  int nranks, window;      /* window: batches in flight per worker */
  int64_t r0, r1;          /* batches of this round: [r0, r1) */
  int64_t next_assign;     /* next batch to hand out */
  int64_t next_chain;      /* next batch the chain needs */
  unsigned char *done;     /* per batch of the round */
  double *logw;            /* [round proposals] */
  int64_t *index;          /* chain entries of the round */
  uint8_t *accepted;
  int stopping;
  fg_progress prog;
} coord;

static int64_t batch_rows(const coord *c, int64_t b)
{
  int64_t first = b * c->plan.batch;
  return c->plan.proposals - first < c->plan.batch ? c->plan.proposals - first : c->plan.batch;
}

static int stop_wanted(const coord *c, int64_t next_assign)
{
  if (c->opt->stop_flag && *c->opt->stop_flag)
    return 1;
  return c->opt->stop_after > 0 && next_assign * c->plan.batch >= c->opt->stop_after;
}

/* The model-sample ESS sums, fed one log-weight at a time in proposal
 * order: the running sums of a stream, the same bits as flowgen 0.1 kept. */
static void add_weights(fg_sample_state *st, const double *logw, int64_t n)
{
  for (int64_t i = 0; i < n; ++i)
    fg_ess_add(st->ess, logw + i, 1);
}

/* Runs the chain over the batches that are now complete in index order. */
static void advance_chain(coord *c)
{
  while (c->next_chain < c->r1 && c->done[c->next_chain - c->r0]) {
    int64_t off = (c->next_chain - c->r0) * c->plan.batch, n = batch_rows(c, c->next_chain);
    fg_imh_chain_run(&c->st->chain, c->logw + off, n, c->index + off, c->accepted + off);
    /* in proposal order, whichever worker drew the batch: the ESS sums are
     * the same bits for any rank count and any arrival order */
    add_weights(c->st, c->logw + off, n);
    if (c->hooks->stats != NULL)
      c->stats.chain_hash =
          fg_service_chain_hash(c->stats.chain_hash, c->index + off, c->accepted + off, n);
    c->next_chain++;
  }
}

static void record(coord *c, int64_t b, const double *logw)
{
  double t0 = fg_wall_time();
  memcpy(c->logw + (b - c->r0) * c->plan.batch, logw, sizeof(double) * (size_t)batch_rows(c, b));
  c->done[b - c->r0] = 1;
  advance_chain(c);
  c->stats.batches++;
  c->stats.logw += batch_rows(c, b);
  c->stats.chain_s += fg_wall_time() - t0;
}

static int send_order(coord *c, int rank, int what, int64_t batch)
{
  double order[FG_ORDER_LEN] = {0}, t0 = fg_wall_time();
  order[FG_ORDER_WHAT] = what;
  order[FG_ORDER_INDEX] = (double)batch;
  int rc = MPI_Send(order, FG_ORDER_LEN, MPI_DOUBLE, rank, FG_TAG_ORDER, c->opt->comm);
  c->stats.order_s += fg_wall_time() - t0;
  return rc == MPI_SUCCESS ? FG_OK : FG_ERR_RUNTIME;
}

/* Hands out the next batch to `rank`, or returns 0 if there is none to give. */
static int assign(coord *c, int rank)
{
  if (!c->stopping && stop_wanted(c, c->next_assign))
    c->stopping = 1;
  if (c->stopping || c->next_assign >= c->r1)
    return 0;
  send_order(c, rank, FG_ORDER_BATCH, c->next_assign++);
  return 1;
}

/* One round with worker ranks: returns when every batch handed out is back. */
static int run_round_distributed(coord *c, double *msg, fg_error *err)
{
  int outstanding = 0;
  for (int d = 0; d < c->window; ++d)
    for (int w = 1; w < c->nranks; ++w)
      outstanding += assign(c, w);
  while (outstanding > 0) {
    MPI_Status st;
    double t0 = fg_wall_time();
    if (MPI_Recv(msg, FG_RESULT_LOGW + c->plan.batch, MPI_DOUBLE, MPI_ANY_SOURCE, FG_TAG_RESULT,
                 c->opt->comm, &st) != MPI_SUCCESS)
      return fg_fail(err, FG_ERR_RUNTIME, "fg_coordinator_run [coordinator.c]", "MPI_Recv failed");
    double t1 = fg_wall_time(), latency = t1 - msg[FG_RESULT_SENT];
    c->stats.recv_wait_s += t1 - t0;
    c->stats.latency_sum_s += latency;
    if (latency > c->stats.latency_max_s)
      c->stats.latency_max_s = latency;
    record(c, (int64_t)msg[FG_RESULT_BATCH], msg + FG_RESULT_LOGW);
    if (msg[FG_RESULT_STOP] != 0.0)
      c->stopping = 1; /* a worker was signalled */
    if (!assign(c, st.MPI_SOURCE))
      outstanding--;
    fg_progress_update(&c->prog, (double)c->st->chain.steps, NULL);
  }
  return FG_OK;
}

/* One round on a single rank: the coordinator draws its own batches. */
static int run_round_alone(coord *c, fg_row_buffer *buf, fg_error *err)
{
  while (!(c->stopping = c->stopping || stop_wanted(c, c->next_assign)) &&
         c->next_assign < c->r1) {
    int64_t b = c->next_assign++;
    double t0 = fg_wall_time();
    int rc = fg_service_draw(c->hooks, c->s, b, buf, err);
    c->stats.draw_s += fg_wall_time() - t0;
    if (rc != FG_OK)
      return rc;
    record(c, b, buf->logw + buf->rows - batch_rows(c, b));
    fg_progress_update(&c->prog, (double)c->st->chain.steps, NULL);
  }
  return FG_OK;
}

/* Ends a round: every rank writes what it holds, the coordinator the chain. */
static int end_round(coord *c, fg_row_buffer *buf, fg_error *err)
{
  for (int w = 1; w < c->nranks; ++w)
    send_order(c, w, FG_ORDER_FLUSH, 0);
  int64_t first = c->r0 * c->plan.batch, count = c->st->chain.steps - first;
  double t0 = fg_wall_time();
  int rc = fg_sample_flush(c->s, buf, first, count, c->index, c->accepted, c->st, err);
  c->stats.flush_s += fg_wall_time() - t0;
  c->stats.flushes++;
  return rc;
}

static int alloc_round(coord *c, fg_error *err)
{
  static const char where[] = "fg_coordinator_run [coordinator.c]";
  size_t rows = (size_t)(c->plan.round_batches * c->plan.batch);
  c->done = fg_alloc((size_t)c->plan.round_batches, err, where);
  c->logw = fg_alloc(sizeof(double) * rows, err, where);
  c->index = fg_alloc(sizeof(int64_t) * rows, err, where);
  c->accepted = fg_alloc(rows, err, where);
  return c->done && c->logw && c->index && c->accepted ? FG_OK : FG_ERR_RUNTIME;
}

static void free_round(coord *c)
{
  fg_free(c->done);
  fg_free(c->logw);
  fg_free(c->index);
  fg_free(c->accepted);
}

int fg_coordinator_run(fg_sample_session *s, const fg_sample_options *opt,
                       const fg_service_hooks *hooks, fg_sample_state *st, fg_error *err)
{
  coord c;
  memset(&c, 0, sizeof c);
  double t_begin = fg_wall_time();
  c.hooks = hooks;
  c.window = hooks->in_flight > 0 ? hooks->in_flight : FG_IN_FLIGHT;
  c.stats.chain_hash = FG_CHAIN_HASH_START;
  c.s = s;
  c.opt = opt;
  c.st = st;
  fg_sample_session_plan(s, &c.plan);
  MPI_Comm_size(opt->comm, &c.nranks);
  fg_row_buffer buf;
  memset(&buf, 0, sizeof buf);
  double *msg = malloc(sizeof(double) * (size_t)(FG_RESULT_LOGW + c.plan.batch));
  int rc = alloc_round(&c, err);
  if (rc == FG_OK && msg == NULL)
    rc = fg_fail(err, FG_ERR_RUNTIME, "fg_coordinator_run [coordinator.c]", "out of memory");
  int64_t nbatches = (c.plan.proposals + c.plan.batch - 1) / c.plan.batch;
  fg_progress_init(&c.prog, opt->progress, "proposals", (double)c.plan.proposals);
  for (c.r0 = c.plan.first_batch; rc == FG_OK && c.r0 < nbatches && !c.stopping; c.r0 = c.r1) {
    c.r1 = c.r0 + c.plan.round_batches < nbatches ? c.r0 + c.plan.round_batches : nbatches;
    c.next_assign = c.next_chain = c.r0;
    memset(c.done, 0, (size_t)c.plan.round_batches);
    rc = c.nranks == 1 ? run_round_alone(&c, &buf, err) : run_round_distributed(&c, msg, err);
    if (rc == FG_OK && c.next_assign > c.r0)
      rc = end_round(&c, &buf, err);
  }
  for (int w = 1; w < c.nranks; ++w)
    send_order(&c, w, FG_ORDER_STOP, 0);
  fg_progress_done(&c.prog, (double)st->chain.steps, NULL);
  free(msg);
  fg_row_buffer_free(&buf);
  free_round(&c);
  c.stats.loop_s = fg_wall_time() - t_begin;
  if (hooks->stats != NULL)
    *hooks->stats = c.stats;
  return rc;
}
