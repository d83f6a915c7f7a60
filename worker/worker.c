/*
 * worker.c -- a worker rank of the sampling service (see service/roles.h;
 * the messages and their order: service/protocol.h).
 *
 *   int fg_worker_run(fg_sample_session *s, const fg_sample_options *opt,
 *                     const fg_service_hooks *hooks, fg_error *err)
 *     The worker loop: receive an order from the coordinator (rank 0) --
 *     draw a batch (fg_sample_draw, or hooks->draw), flush, or stop -- and
 *     obey; its parts timed into hooks->stats when given (hooks.h). After each
 *     batch only (batch, stop request, log-weights) travels to the
 *     coordinator; the configurations wait in this rank's buffer for the
 *     next collective flush. Collective (with the coordinator) over
 *     opt->comm.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../service/protocol.h"
#include "../service/roles.h"
#include "flowgen/util.h"

/* Sends (batch, stop request, log-weights) without waiting for delivery:
 * the next batch is drawn meanwhile; req guards msg until then. */
static int send_result(const fg_sample_options *opt, const fg_row_buffer *buf, int64_t batch,
                       double *msg, MPI_Request *req)
{
  if (MPI_Wait(req, MPI_STATUS_IGNORE) != MPI_SUCCESS)
    return FG_ERR_RUNTIME;
  int64_t n = buf->count[buf->nruns - 1];
  msg[FG_RESULT_BATCH] = (double)batch;
  msg[FG_RESULT_STOP] = (opt->stop_flag && *opt->stop_flag) ? 1.0 : 0.0;
  msg[FG_RESULT_SENT] = fg_wall_time();
  memcpy(msg + FG_RESULT_LOGW, buf->logw + buf->rows - n, sizeof(double) * (size_t)n);
  return MPI_Isend(msg, (int)n + FG_RESULT_LOGW, MPI_DOUBLE, 0, FG_TAG_RESULT, opt->comm, req) ==
                 MPI_SUCCESS
             ? FG_OK
             : FG_ERR_RUNTIME;
}

int fg_worker_run(fg_sample_session *s, const fg_sample_options *opt,
                  const fg_service_hooks *hooks, fg_error *err)
{
  static const char where[] = "fg_worker_run [worker.c]";
  fg_sample_plan plan;
  fg_sample_session_plan(s, &plan);
  int rank;
  MPI_Comm_rank(opt->comm, &rank);
  fg_row_buffer buf;
  memset(&buf, 0, sizeof buf);
  double *msg = malloc(sizeof(double) * (size_t)(FG_RESULT_LOGW + plan.batch));
  MPI_Request req = MPI_REQUEST_NULL;
  int rc = msg != NULL ? FG_OK : fg_fail(err, FG_ERR_RUNTIME, where, "out of memory");
  fg_service_stats stats = {0};
  double t_begin = fg_wall_time(), t0;
  while (rc == FG_OK) {
    double order[FG_ORDER_LEN];
    t0 = fg_wall_time();
    MPI_Recv(order, FG_ORDER_LEN, MPI_DOUBLE, 0, FG_TAG_ORDER, opt->comm, MPI_STATUS_IGNORE);
    stats.recv_wait_s += fg_wall_time() - t0;
    int what = (int)order[FG_ORDER_WHAT];
    if (what == FG_ORDER_STOP)
      break;
    if (what == FG_ORDER_BATCH) {
      int64_t batch = (int64_t)order[FG_ORDER_INDEX];
      t0 = fg_wall_time();
      rc = fg_service_draw(hooks, s, batch, &buf, err);
      stats.draw_s += fg_wall_time() - t0;
      if (rc == FG_OK)
        rc = send_result(opt, &buf, batch, msg, &req);
      stats.batches++;
      stats.logw += rc == FG_OK ? buf.count[buf.nruns - 1] : 0;
      if (rc != FG_OK) { /* the coordinator waits for this batch: end every rank */
        fprintf(stderr, "flowgen: rank %d: %s\n", rank, err->msg);
        MPI_Abort(opt->comm, 1);
      }
    } else if (what == FG_ORDER_FLUSH) {
      t0 = fg_wall_time();
      rc = fg_sample_flush(s, &buf, 0, 0, NULL, NULL, NULL, err);
      stats.flush_s += fg_wall_time() - t0;
      stats.flushes++;
    }
  }
  MPI_Wait(&req, MPI_STATUS_IGNORE);
  free(msg);
  fg_row_buffer_free(&buf);
  stats.loop_s = fg_wall_time() - t_begin;
  if (hooks->stats != NULL)
    *hooks->stats = stats;
  return rc;
}
