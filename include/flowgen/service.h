/*
 * service.h -- the sampling service (SPEC sections 1, 3 and 6): workers
 * draw flow proposals, the coordinator runs one independence-Metropolis
 * chain. The role layer, on top of the library (sample.h); its loops live
 * in coordinator/ and worker/, started by service/service.c, speaking the
 * wire protocol of service/protocol.h.
 *
 *   int fg_sample_run(const fg_config *cfg, const fg_sample_options *opt,
 *                     fg_sample_result *res, fg_error *err)
 *     Collective over opt->comm: fg_sample_open, then rank 0 runs the
 *     coordinator loop and ranks 1..N-1 the worker loop (with one rank one
 *     process does both), then fg_sample_close. Proposal j is drawn from
 *     stream (seed, FG_RNG_SAMPLE, j) whichever worker draws it and goes to
 *     row j of /configs, so the file and the chain are the same bit for
 *     bit for any number of workers. Workers send only (batch, log-weights)
 *     to the coordinator; configurations go from each worker to its own
 *     rows of the file in collective parallel-HDF5 writes every
 *     sample.flush_every proposals (a "round"). The ESS sums are
 *     accumulated in proposal order, so every number of the file but the
 *     timings is the same for any rank count. Refusals and the resume
 *     checks are fg_sample_open's; the same status on every rank. The
 *     output lock (one run per output) and --overwrite are the caller's
 *     (main/outputs.c).
 */
#ifndef FLOWGEN_SERVICE_H
#define FLOWGEN_SERVICE_H

#include "flowgen/sample.h"

int fg_sample_run(const fg_config *cfg, const fg_sample_options *opt, fg_sample_result *res,
                  fg_error *err);

#endif
