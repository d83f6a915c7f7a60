/*
 * roles.h -- the two role loops of the sampling service, as service.c
 * starts them. Private to the role layer; they speak protocol.h. hooks
 * (hooks.h) is never NULL here: service.c passes an empty one for a
 * normal run.
 *
 *   int fg_coordinator_run(fg_sample_session *s, const fg_sample_options *opt,
 *                          const fg_service_hooks *hooks, fg_sample_state *st,
 *                          fg_error *err)
 *     Rank 0 (coordinator/coordinator.c). Runs the chain and the ESS sums
 *     in st from the state the session starts at; st ends as the run's
 *     final state, for fg_sample_close.
 *   int fg_worker_run(fg_sample_session *s, const fg_sample_options *opt,
 *                     const fg_service_hooks *hooks, fg_error *err)
 *     Ranks 1..N-1 (worker/worker.c): draw the batches ordered, until STOP.
 */
#ifndef FLOWGEN_SERVICE_ROLES_H
#define FLOWGEN_SERVICE_ROLES_H

#include "flowgen/sample.h"
#include "hooks.h"

int fg_coordinator_run(fg_sample_session *s, const fg_sample_options *opt,
                       const fg_service_hooks *hooks, fg_sample_state *st, fg_error *err);
int fg_worker_run(fg_sample_session *s, const fg_sample_options *opt,
                  const fg_service_hooks *hooks, fg_error *err);

#endif
