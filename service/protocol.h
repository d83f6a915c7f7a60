/*
 * protocol.h -- the wire protocol of the sampling service: the one place
 * its tags, its messages and their order are defined. Private to the role
 * layer (service/, coordinator/, worker/); the library does not know it.
 *
 * Every message is a vector of MPI_DOUBLE on the service's communicator
 * (fg_sample_options.comm); rank 0 is the coordinator, ranks 1..N-1 the
 * workers.
 *
 *   order    coordinator -> worker, tag FG_TAG_ORDER, FG_ORDER_LEN doubles:
 *              [FG_ORDER_WHAT]   FG_ORDER_BATCH, FG_ORDER_FLUSH or FG_ORDER_STOP
 *              [FG_ORDER_INDEX]  the batch to draw (FG_ORDER_BATCH; else 0)
 *   result   worker -> coordinator, tag FG_TAG_RESULT, FG_RESULT_LOGW + n doubles
 *            (n: the rows of the batch, plan.batch but for a short last one):
 *              [FG_RESULT_BATCH] the batch drawn
 *              [FG_RESULT_STOP]  1 if the worker was signalled (a stop request)
 *              [FG_RESULT_SENT]  the worker's fg_wall_time() at sending (for
 *                                the latency figure of hooks.h; never used
 *                                for anything the run computes)
 *              [FG_RESULT_LOGW]  its n log-weights, in proposal order
 *
 * Order of a run, round by round (a round: plan.round_batches batches):
 *   1. The coordinator hands out the round's batches in index order, up to
 *      FG_IN_FLIGHT ahead per worker (the window; hooks.h may change it for
 *      a measurement), so no worker waits for an order.
 *   2. A worker answers each BATCH order with one result, in the order the
 *      orders came (its rows stay in its own buffer); the coordinator
 *      takes results in any order and gives the sender the next batch.
 *   3. When every batch handed out is back, the coordinator sends FLUSH to
 *      every worker, and all ranks call fg_sample_flush (collective).
 *   After the last round, or a stop (a signal on any rank, or
 *   opt->stop_after: nothing new is handed out, the batches in flight are
 *   finished and flushed), the coordinator sends STOP to every worker once
 *   and each leaves its loop. A worker that cannot draw a batch ends the
 *   job (MPI_Abort): the coordinator would wait for that batch forever.
 */
#ifndef FLOWGEN_SERVICE_PROTOCOL_H
#define FLOWGEN_SERVICE_PROTOCOL_H

enum { FG_TAG_ORDER = 11, FG_TAG_RESULT = 12 };

enum { FG_ORDER_BATCH = 1, FG_ORDER_FLUSH = 2, FG_ORDER_STOP = 3 };

enum { FG_ORDER_WHAT, FG_ORDER_INDEX, FG_ORDER_LEN };

enum { FG_RESULT_BATCH, FG_RESULT_STOP, FG_RESULT_SENT, FG_RESULT_LOGW };

enum { FG_IN_FLIGHT = 2 };

#endif
