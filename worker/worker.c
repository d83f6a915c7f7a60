/*
 * worker.c -- a worker rank of the sampling service (see sample.h).
 *
 *   int fg_worker_compute_batch(fg_sample_ctx *s, void *block, int64_t batch,
 *                               fg_row_buffer *buf, fg_error *err)
 *     Draws the proposals of `batch` (rows batch * s->batch .. , the last batch
 *     possibly short) with the flow: configurations, log q, S and
 *     log w = -S - log q appended to buf as one run. `block` is an
 *     fg_model_block of this rank. Local.
 *
 *   int fg_worker_run(fg_sample_ctx *s, fg_error *err)
 *     The worker loop: receive an order from the coordinator (rank 0) --
 *     compute a batch, flush, or stop -- and obey. After each batch only
 *     (batch, stop request, log-weights) travels to the coordinator; the
 *     configurations wait in this rank's buffer for the next collective
 *     flush. Collective (with the coordinator) over s->opt->comm.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowgen/model.h"
#include "flowgen/rng.h"
#include "flowgen/sample.h"

enum { L = FG_VLEN };
enum { TAG_ORDER = 11, TAG_RESULT = 12 };
enum { ORDER_BATCH = 1, ORDER_FLUSH = 2, ORDER_STOP = 3 };

int fg_worker_compute_batch(fg_sample_ctx *s, void *block, int64_t batch, fg_row_buffer *buf,
                            fg_error *err)
{
  fg_model_block *b = block;
  const int V = fg_theory_ndof(s->theory); /* doubles per configuration: C x volume */
  int64_t first = batch * s->batch;
  int64_t n = s->n - first < s->batch ? s->n - first : s->batch;
  int rc = fg_row_buffer_reserve(buf, n, 1, V, err);
  if (rc != FG_OK)
    return rc;
  buf->first[buf->nruns] = first;
  buf->count[buf->nruns] = n;
  buf->nruns++;
  for (int64_t j0 = 0; j0 < n; j0 += L) {
    int nv = n - j0 < L ? (int)(n - j0) : L;
    fg_model_sample_block(s->theory, s->flow, b, s->cfg->seed, FG_RNG_SAMPLE,
                          (uint64_t)(first + j0), nv);
    for (int l = 0; l < nv; ++l) {
      int64_t r = buf->rows + j0 + l;
      double *row = buf->configs + (size_t)r * (size_t)V;
      for (int y = 0; y < V; ++y)
        row[y] = b->phi[y * L + l];
      buf->logq[r] = b->logq[l];
      buf->action[r] = b->action[l];
      buf->logw[r] = b->logw[l];
    }
  }
  buf->rows += n;
  return FG_OK;
}

/* Sends (batch, stop request, log-weights) without waiting for delivery:
 * the next batch is computed meanwhile; req guards msg until then. */
static int send_result(fg_sample_ctx *s, const fg_row_buffer *buf, int64_t batch, double *msg,
                       MPI_Request *req)
{
  if (MPI_Wait(req, MPI_STATUS_IGNORE) != MPI_SUCCESS)
    return FG_ERR_RUNTIME;
  int64_t n = buf->count[buf->nruns - 1];
  msg[0] = (double)batch;
  msg[1] = (s->opt->stop_flag && *s->opt->stop_flag) ? 1.0 : 0.0;
  memcpy(msg + 2, buf->logw + buf->rows - n, sizeof(double) * (size_t)n);
  return MPI_Isend(msg, (int)n + 2, MPI_DOUBLE, 0, TAG_RESULT, s->opt->comm, req) == MPI_SUCCESS
             ? FG_OK
             : FG_ERR_RUNTIME;
}

int fg_worker_run(fg_sample_ctx *s, fg_error *err)
{
  static const char where[] = "fg_worker_run [worker.c]";
  fg_model_block blk;
  fg_row_buffer buf;
  memset(&buf, 0, sizeof buf);
  double *msg = malloc(sizeof(double) * (size_t)(s->batch + 2));
  MPI_Request req = MPI_REQUEST_NULL;
  int rc = fg_model_block_init(&blk, s->flow, err);
  if (msg == NULL && rc == FG_OK)
    rc = fg_fail(err, FG_ERR_RUNTIME, where, "out of memory");
  while (rc == FG_OK) {
    double order[2 + FG_PROG_LEN];
    MPI_Recv(order, 2 + FG_PROG_LEN, MPI_DOUBLE, 0, TAG_ORDER, s->opt->comm, MPI_STATUS_IGNORE);
    int what = (int)order[0];
    if (what == ORDER_STOP)
      break;
    if (what == ORDER_BATCH) {
      int64_t batch = (int64_t)order[1];
      rc = fg_worker_compute_batch(s, &blk, batch, &buf, err);
      if (rc == FG_OK)
        rc = send_result(s, &buf, batch, msg, &req);
      if (rc != FG_OK) { /* the coordinator waits for this batch: end every rank */
        fprintf(stderr, "flowgen: rank %d: %s\n", s->rank, err->msg);
        MPI_Abort(s->opt->comm, 1);
      }
    } else if (what == ORDER_FLUSH) {
      rc = fg_sample_flush(s, &buf, 0, 0, NULL, NULL, order + 2, err);
      buf.nruns = 0;
      buf.rows = 0;
    }
  }
  MPI_Wait(&req, MPI_STATUS_IGNORE);
  free(msg);
  fg_row_buffer_free(&buf);
  fg_model_block_free(&blk);
  return rc;
}
