/*
 * sample.h -- the sampling service (SPEC sections 1, 3 and 6): workers draw
 * flow proposals, the coordinator runs one independence-Metropolis chain.
 *
 * Independence Metropolis (local, pure):
 *   void fg_imh_init(fg_imh_chain *c, uint64_t seed)
 *   void fg_imh_chain_run(fg_imh_chain *c, const double *logw, int64_t n,
 *                         int64_t *index, uint8_t *accepted)
 *     Feeds proposals j = c->steps .. c->steps + n - 1 in order: proposal j
 *     with log-weight logw[j - c->steps] replaces the current state with
 *     probability min(1, exp(logw_j - logw_current)), decided in log space
 *     by the uniform number j of stream (seed, FG_RNG_CHAIN) (Philox word
 *     j mod 4 of counter j / 4). The first proposal starts the chain.
 *     index[i] = the proposal the chain holds after step i, accepted[i] =
 *     whether step i moved. A non-finite log-weight is never accepted
 *     (unless the current one is not finite either).
 *
 * The service:
 *   int fg_sample_run(const fg_config *cfg, const fg_sample_options *opt,
 *                     fg_sample_result *res, fg_error *err)
 *     Collective over opt->comm: rank 0 runs the coordinator loop
 *     (coordinator/), ranks 1..N-1 the worker loop (worker/); with one rank
 *     one process does both. Proposal j is drawn from stream
 *     (seed, FG_RNG_SAMPLE, j) whichever worker draws it and goes to row j
 *     of /configs, so the file and the chain are the same bit for bit for
 *     any number of workers. Workers send only (batch, log-weights) to the
 *     coordinator; configurations go from each worker to its own rows of the
 *     file in collective parallel-HDF5 writes every sample.flush_every
 *     proposals (a "round"). The same status on every rank.
 *     The file is created with the resume state of "nothing done", so a
 *     stop at any moment can be resumed. Without opt->resume an existing
 *     output or "<output>.tmp" is refused (FG_ERR_INPUT), as is a size the
 *     output's file system cannot hold (naming sample.proposals). With
 *     opt->resume the run identity is checked (fg_config_check_resume over
 *     seed, theory, model and sample sections, and the model checkpoint's
 *     SHA-256 against the file's model_sha256): FG_ERR_INPUT naming the
 *     field, the stored and the new value. The ESS sums are accumulated in
 *     proposal order, so every number of the file but the timings is the
 *     same for any rank count. The output lock (one run per output) and
 *     --overwrite are the caller's (main/outputs.c).
 */
#ifndef FLOWGEN_SAMPLE_H
#define FLOWGEN_SAMPLE_H

#include <mpi.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "flowgen/analysis.h"
#include "flowgen/config.h"
#include "flowgen/ensemble.h"
#include "flowgen/error.h"
#include "flowgen/flow.h"
#include "flowgen/theory.h"

typedef struct {
  uint64_t seed;
  int64_t steps;          /* proposals consumed */
  int64_t accepted;       /* steps that moved (the first counts) */
  int64_t current;        /* proposal held */
  double current_logw;
} fg_imh_chain;

void fg_imh_init(fg_imh_chain *c, uint64_t seed);
void fg_imh_chain_run(fg_imh_chain *c, const double *logw, int64_t n, int64_t *index,
                      uint8_t *accepted);

typedef struct {
  MPI_Comm comm;
  int resume;                        /* continue "<output>.tmp" */
  volatile sig_atomic_t *stop_flag;  /* SIGTERM/SIGUSR1; may be NULL */
  FILE *progress;                    /* stderr or NULL */
  int64_t stop_after;                /* > 0: stop cleanly after this many proposals (tests) */
} fg_sample_options;

typedef struct {
  int64_t proposals;                 /* rows written (all, including earlier runs) */
  int complete;                      /* 0 when stopped by a signal */
  double acceptance;
  double ess_model;                  /* eq. A7 over all proposals */
  double wall_seconds, cpu_seconds;  /* this run and earlier ones */
} fg_sample_result;

int fg_sample_run(const fg_config *cfg, const fg_sample_options *opt, fg_sample_result *res,
                  fg_error *err);

/* ---- shared by the coordinator and worker loops (not for other users) ---- */

typedef struct {
  const fg_config *cfg;
  const fg_sample_options *opt;
  int rank, nranks;
  fg_theory *theory;
  fg_flow *flow;
  fg_ensemble *ens;
  int64_t n;              /* proposals in all */
  int batch;              /* proposals per batch */
  int64_t round_batches;  /* batches per flush round */
  int64_t first_batch;    /* where this run starts (resume) */
  fg_imh_chain chain;
  double ess[FG_ESS_LEN]; /* the model-sample ESS sums (analysis.h) */
  double wall_prev, cpu_prev, t_start, cpu_start;
} fg_sample_ctx;

/* Progress values carried by a flush, identical on every rank. */
enum { FG_PROG_ROWS, FG_PROG_CURRENT, FG_PROG_CURRENT_LOGW, FG_PROG_ACCEPTED, FG_PROG_WALL,
       FG_PROG_CPU, FG_PROG_W_MAX, FG_PROG_W_S1, FG_PROG_W_S2, FG_PROG_LEN };

typedef struct {
  int nruns, cap_runs;
  int64_t *first, *count;
  double *configs, *logq, *action, *logw;
  int64_t rows, cap_rows;
} fg_row_buffer;

int fg_row_buffer_reserve(fg_row_buffer *b, int64_t rows, int runs, int volume, fg_error *err);
void fg_row_buffer_free(fg_row_buffer *b);
int fg_worker_compute_batch(fg_sample_ctx *s, void *block, int64_t batch, fg_row_buffer *buf,
                            fg_error *err);
int fg_sample_flush(fg_sample_ctx *s, fg_row_buffer *rows, int64_t chain_first,
                    int64_t chain_count, const int64_t *index, const uint8_t *accepted,
                    const double *progress, fg_error *err);
int fg_coordinator_run(fg_sample_ctx *s, fg_error *err);
int fg_worker_run(fg_sample_ctx *s, fg_error *err);

#endif
