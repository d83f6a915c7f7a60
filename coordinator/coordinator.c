/*
 * coordinator.c -- the coordinator rank of the sampling service (see
 * sample.h).
 *
 *   int fg_coordinator_run(fg_sample_ctx *s, fg_error *err)
 *     Rank 0. Hands out batches in index order, two in flight per worker so
 *     no worker waits for an order; receives (batch, log-weights) in any
 *     order, keeps them in a buffer of one round, and advances the global
 *     Metropolis chain and the ESS sums (logw_max, logw_sum_w, _w2) over the
 *     batches that are complete in index order, so every number of the file
 *     but the timings is the same bits for any number of workers.
 *     At the end of each round (sample.flush_every proposals) every rank
 *     writes its rows collectively and the coordinator the chain and the
 *     resume state. A stop (signal on any rank, or opt->stop_after) hands
 *     out nothing new, finishes the batches in flight, flushes and stops
 *     the workers. With one rank it draws the batches itself.
 *     Memory: one round of log-weights and chain entries, whatever the run
 *     length. Collective (with the workers) over s->opt->comm.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flowgen/analysis.h"
#include "flowgen/model.h"
#include "flowgen/sample.h"
#include "flowgen/util.h"

enum { TAG_ORDER = 11, TAG_RESULT = 12 };
enum { ORDER_BATCH = 1, ORDER_FLUSH = 2, ORDER_STOP = 3 };
enum { IN_FLIGHT = 2 };

typedef struct {
  fg_sample_ctx *s;
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

static int64_t batch_rows(const fg_sample_ctx *s, int64_t b)
{
  int64_t first = b * s->batch;
  return s->n - first < s->batch ? s->n - first : s->batch;
}

static int stop_wanted(const fg_sample_ctx *s, int64_t next_assign)
{
  if (s->opt->stop_flag && *s->opt->stop_flag)
    return 1;
  return s->opt->stop_after > 0 && next_assign * s->batch >= s->opt->stop_after;
}

/* The model-sample ESS sums, fed one log-weight at a time in proposal
 * order: the running sums of a stream, the same bits as flowgen 0.1 kept. */
static void add_weights(fg_sample_ctx *s, const double *logw, int64_t n)
{
  for (int64_t i = 0; i < n; ++i)
    fg_ess_add(s->ess, logw + i, 1);
}

/* Runs the chain over the batches that are now complete in index order. */
static void advance_chain(coord *c)
{
  fg_sample_ctx *s = c->s;
  while (c->next_chain < c->r1 && c->done[c->next_chain - c->r0]) {
    int64_t off = (c->next_chain - c->r0) * s->batch;
    fg_imh_chain_run(&s->chain, c->logw + off, batch_rows(s, c->next_chain), c->index + off,
                     c->accepted + off);
    /* in proposal order, whichever worker drew the batch: the ESS sums are
     * the same bits for any rank count and any arrival order */
    add_weights(s, c->logw + off, batch_rows(s, c->next_chain));
    c->next_chain++;
  }
}

static void record(coord *c, int64_t b, const double *logw)
{
  memcpy(c->logw + (b - c->r0) * c->s->batch, logw, sizeof(double) * (size_t)batch_rows(c->s, b));
  c->done[b - c->r0] = 1;
  advance_chain(c);
}

static int send_order(fg_sample_ctx *s, int rank, int what, int64_t batch, const double *prog)
{
  double order[2 + FG_PROG_LEN] = {what, (double)batch};
  if (prog)
    memcpy(order + 2, prog, sizeof(double) * FG_PROG_LEN);
  return MPI_Send(order, 2 + FG_PROG_LEN, MPI_DOUBLE, rank, TAG_ORDER, s->opt->comm) ==
                 MPI_SUCCESS ? FG_OK : FG_ERR_RUNTIME;
}

/* Hands out the next batch to `rank`, or returns 0 if there is none to give. */
static int assign(coord *c, int rank)
{
  if (!c->stopping && stop_wanted(c->s, c->next_assign))
    c->stopping = 1;
  if (c->stopping || c->next_assign >= c->r1)
    return 0;
  send_order(c->s, rank, ORDER_BATCH, c->next_assign++, NULL);
  return 1;
}

/* One round with worker ranks: returns when every batch handed out is back. */
static int run_round_distributed(coord *c, double *msg, fg_error *err)
{
  fg_sample_ctx *s = c->s;
  int outstanding = 0;
  for (int d = 0; d < IN_FLIGHT; ++d)
    for (int w = 1; w < s->nranks; ++w)
      outstanding += assign(c, w);
  while (outstanding > 0) {
    MPI_Status st;
    if (MPI_Recv(msg, s->batch + 2, MPI_DOUBLE, MPI_ANY_SOURCE, TAG_RESULT, s->opt->comm, &st) !=
        MPI_SUCCESS)
      return fg_fail(err, FG_ERR_RUNTIME, "fg_coordinator_run [coordinator.c]", "MPI_Recv failed");
    record(c, (int64_t)msg[0], msg + 2);
    if (msg[1] != 0.0)
      c->stopping = 1; /* a worker was signalled */
    if (!assign(c, st.MPI_SOURCE))
      outstanding--;
    fg_progress_update(&c->prog, (double)(s->chain.steps), NULL);
  }
  return FG_OK;
}

/* One round on a single rank: the coordinator draws its own batches. */
static int run_round_alone(coord *c, fg_model_block *blk, fg_row_buffer *buf, fg_error *err)
{
  fg_sample_ctx *s = c->s;
  while (!(c->stopping = c->stopping || stop_wanted(s, c->next_assign)) &&
         c->next_assign < c->r1) {
    int64_t b = c->next_assign++;
    int rc = fg_worker_compute_batch(s, blk, b, buf, err);
    if (rc != FG_OK)
      return rc;
    record(c, b, buf->logw + buf->rows - batch_rows(s, b));
    fg_progress_update(&c->prog, (double)(s->chain.steps), NULL);
  }
  return FG_OK;
}

static void progress_values(const fg_sample_ctx *s, double *prog)
{
  prog[FG_PROG_ROWS] = (double)s->chain.steps;
  prog[FG_PROG_CURRENT] = (double)s->chain.current;
  prog[FG_PROG_CURRENT_LOGW] = s->chain.current_logw;
  prog[FG_PROG_ACCEPTED] = (double)s->chain.accepted;
  prog[FG_PROG_WALL] = s->wall_prev + fg_wall_time() - s->t_start;
  prog[FG_PROG_CPU] = s->cpu_prev + fg_cpu_time() - s->cpu_start;
  prog[FG_PROG_W_MAX] = s->ess[FG_ESS_MAX];
  prog[FG_PROG_W_S1] = s->ess[FG_ESS_S1];
  prog[FG_PROG_W_S2] = s->ess[FG_ESS_S2];
}

/* Ends a round: every rank writes what it holds, the coordinator the chain. */
static int end_round(coord *c, fg_row_buffer *buf, fg_error *err)
{
  fg_sample_ctx *s = c->s;
  double prog[FG_PROG_LEN];
  progress_values(s, prog);
  for (int w = 1; w < s->nranks; ++w)
    send_order(s, w, ORDER_FLUSH, 0, prog);
  int64_t first = c->r0 * s->batch, count = s->chain.steps - first;
  int rc = fg_sample_flush(s, buf, first, count, c->index, c->accepted, prog, err);
  buf->nruns = 0;
  buf->rows = 0;
  return rc;
}

static int alloc_round(coord *c, fg_error *err)
{
  static const char where[] = "fg_coordinator_run [coordinator.c]";
  size_t rows = (size_t)(c->s->round_batches * c->s->batch);
  c->done = fg_alloc((size_t)c->s->round_batches, err, where);
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

int fg_coordinator_run(fg_sample_ctx *s, fg_error *err)
{
  coord c;
  memset(&c, 0, sizeof c);
  c.s = s;
  fg_model_block blk;
  fg_row_buffer buf;
  memset(&blk, 0, sizeof blk);
  memset(&buf, 0, sizeof buf);
  double *msg = malloc(sizeof(double) * (size_t)(s->batch + 2));
  int rc = alloc_round(&c, err);
  if (rc == FG_OK && msg == NULL)
    rc = fg_fail(err, FG_ERR_RUNTIME, "fg_coordinator_run [coordinator.c]", "out of memory");
  if (rc == FG_OK && s->nranks == 1)
    rc = fg_model_block_init(&blk, s->flow, err);
  int64_t nbatches = (s->n + s->batch - 1) / s->batch;
  fg_progress_init(&c.prog, s->opt->progress, "proposals", (double)s->n);
  for (c.r0 = s->first_batch; rc == FG_OK && c.r0 < nbatches && !c.stopping; c.r0 = c.r1) {
    c.r1 = c.r0 + s->round_batches < nbatches ? c.r0 + s->round_batches : nbatches;
    c.next_assign = c.next_chain = c.r0;
    memset(c.done, 0, (size_t)s->round_batches);
    rc = s->nranks == 1 ? run_round_alone(&c, &blk, &buf, err)
                        : run_round_distributed(&c, msg, err);
    if (rc == FG_OK && c.next_assign > c.r0)
      rc = end_round(&c, &buf, err);
  }
  for (int w = 1; w < s->nranks; ++w)
    send_order(s, w, ORDER_STOP, 0, NULL);
  fg_progress_done(&c.prog, (double)s->chain.steps, NULL);
  free(msg);
  fg_row_buffer_free(&buf);
  fg_model_block_free(&blk);
  free_round(&c);
  return rc;
}
