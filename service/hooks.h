/*
 * hooks.h -- what a measurement may change in the role loops of the
 * sampling service, and what they measure. Private to the role layer and
 * to bench/bench_service.c (the benchmark mode of issue 15); a normal run
 * (fg_sample_run) passes none and behaves exactly as without this file.
 *
 *   int fg_sample_run_hooked(const fg_config *cfg, const fg_sample_options *opt,
 *                            const fg_service_hooks *hooks, fg_sample_result *res,
 *                            fg_error *err)
 *     fg_sample_run (service.h) with hooks (NULL: none). Collective over
 *     opt->comm; hooks must describe the same window on every rank.
 *
 * fg_service_hooks:
 *   draw, draw_ctx   replaces fg_sample_draw on every rank (NULL: the flow).
 *                    Must append the rows of `batch` to buf as one run, as
 *                    fg_sample_draw does; the coordinator's work stays the
 *                    real one (chain, ESS sums, orders, flushes).
 *   in_flight        batches handed out ahead per worker (0: FG_IN_FLIGHT).
 *   stats            when not NULL, this rank's figures of the run (below).
 *
 * fg_service_stats (seconds are wall seconds of this rank, CLOCK_MONOTONIC):
 *   batches, logw          results taken (coordinator) or sent (worker)
 *   loop_s                 the whole role loop
 *   recv_wait_s            coordinator: blocked in MPI_Recv for a result;
 *                          worker: blocked in MPI_Recv for an order
 *   chain_s                coordinator: copying log-weights, the chain and
 *                          the ESS sums (record)
 *   order_s                coordinator: sending orders
 *   draw_s                 worker (and a one-rank coordinator): drawing
 *   flush_s, flushes       the collective writes of the rounds (fg_sample_flush)
 *   latency_sum_s, latency_max_s
 *                          coordinator: arrival minus the send stamp of each
 *                          result (FG_RESULT_SENT); meaningful where the
 *                          ranks share one monotonic clock (one host)
 *   chain_hash             coordinator: fg_service_chain_hash over every
 *                          chain entry in chain order, to compare runs
 *
 *   uint64_t fg_service_chain_hash(uint64_t h, const int64_t *index,
 *                                  const uint8_t *accepted, int64_t n)
 *     FNV-1a of h (FG_CHAIN_HASH_START at first) continued over n chain
 *     entries (index, accepted). Local, pure.
 */
#ifndef FLOWGEN_SERVICE_HOOKS_H
#define FLOWGEN_SERVICE_HOOKS_H

#include "flowgen/sample.h"

typedef struct {
  int64_t batches, logw, flushes;
  double loop_s, recv_wait_s, chain_s, order_s, draw_s, flush_s;
  double latency_sum_s, latency_max_s;
  uint64_t chain_hash;
} fg_service_stats;

typedef int (*fg_draw_fn)(void *ctx, fg_sample_session *s, int64_t batch, fg_row_buffer *buf,
                          fg_error *err);

typedef struct {
  fg_draw_fn draw;
  void *draw_ctx;
  int in_flight;
  fg_service_stats *stats;
} fg_service_hooks;

#define FG_CHAIN_HASH_START 1469598103934665603ULL

static inline uint64_t fg_service_chain_hash(uint64_t h, const int64_t *index,
                                             const uint8_t *accepted, int64_t n)
{
  for (int64_t i = 0; i < n; ++i) {
    uint64_t v = (uint64_t)index[i] * 2u + accepted[i];
    for (int k = 0; k < 8; ++k)
      h = (h ^ ((v >> (8 * k)) & 0xffu)) * 1099511628211ULL;
  }
  return h;
}

/* The draw of a batch as the hooks say: theirs, or the flow's. */
static inline int fg_service_draw(const fg_service_hooks *h, fg_sample_session *s, int64_t batch,
                                  fg_row_buffer *buf, fg_error *err)
{
  return h->draw != NULL ? h->draw(h->draw_ctx, s, batch, buf, err)
                         : fg_sample_draw(s, batch, buf, err);
}

int fg_sample_run_hooked(const fg_config *cfg, const fg_sample_options *opt,
                         const fg_service_hooks *hooks, fg_sample_result *res, fg_error *err);

#endif
