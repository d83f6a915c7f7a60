/*
 * sample.h -- what sampling is made of (SPEC sections 1, 3 and 6): the
 * independence-Metropolis chain and the sampling session that the
 * coordinator and the workers of the sampling service (service.h) share.
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
 * The sampling session (session.c): what the two roles of the sampling
 * service share, as a library. The service itself -- which rank runs which
 * role, and the role loops -- is not part of the library: service.h
 * (fg_sample_run) and the folders coordinator/, worker/ and service/.
 *
 *   int fg_sample_open(const fg_config *cfg, const fg_sample_options *opt,
 *                      fg_sample_session **out, fg_error *err)
 *     Collective over opt->comm. Reads the model checkpoint
 *     (cfg->sample.model) and builds the theory and the flow on the
 *     config's lattice; creates the output's "<output>.tmp" with its
 *     provenance and the resume state of "nothing done" (so a stop at any
 *     moment can be resumed), or with opt->resume reopens it, checks the
 *     run identity (fg_config_check_resume over seed, theory, model and
 *     sample sections, and the checkpoint's SHA-256 against the file's
 *     model_sha256: FG_ERR_INPUT naming the field, the stored and the new
 *     value) and reads its resume state. Without opt->resume an existing
 *     output or "<output>.tmp" is refused (FG_ERR_INPUT), as is a size the
 *     output's file system cannot hold (naming sample.proposals). The same
 *     status on every rank; *out is NULL on failure.
 *   void fg_sample_session_plan(const fg_sample_session *s, fg_sample_plan *plan)
 *   void fg_sample_session_state(const fg_sample_session *s, fg_sample_state *st)
 *     The plan of the run, and the state it starts from. Local.
 *   int fg_sample_draw(fg_sample_session *s, int64_t batch, fg_row_buffer *buf,
 *                      fg_error *err)
 *     Draws the proposals of `batch` (rows batch * plan.batch onwards, the
 *     last batch possibly short; proposal j from stream (seed,
 *     FG_RNG_SAMPLE, j), whichever rank draws it): configurations, log q,
 *     S and log w = -S - log q appended to buf as one run. Local.
 *   int fg_sample_flush(fg_sample_session *s, fg_row_buffer *rows,
 *                       int64_t chain_first, int64_t chain_count,
 *                       const int64_t *index, const uint8_t *accepted,
 *                       const fg_sample_state *st, fg_error *err)
 *     Collective: every rank's rows (then emptied), rank 0's chain entries
 *     [chain_first, chain_first + chain_count) and rank 0's state st as the
 *     file's resume state, then a flush to disk: a consistent file. Other
 *     ranks' chain arguments and st are not used (NULL is fine).
 *   int fg_sample_close(fg_sample_session *s, int rc, const fg_sample_state *st,
 *                       fg_sample_result *res, fg_error *err)
 *     Collective. Agrees rc over the ranks; with FG_OK writes the final
 *     figures from rank 0's state st (acceptance, ess_model over all
 *     proposals, wall and CPU seconds of all runs and ranks) into the file
 *     and res, and renames "<output>.tmp" to the output when every proposal
 *     is done. Frees s in every case; returns the agreed status.
 *
 * Row buffers (rows.c, local): a rank's proposal rows between two flushes.
 *   int fg_row_buffer_reserve(fg_row_buffer *b, int64_t rows, int runs, int width,
 *                             fg_error *err)
 *     Room for `rows` more rows of `width` values in `runs` more runs.
 *   void fg_row_buffer_free(fg_row_buffer *b)
 */
#ifndef FLOWGEN_SAMPLE_H
#define FLOWGEN_SAMPLE_H

#include <mpi.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "flowgen/analysis.h"
#include "flowgen/config.h"
#include "flowgen/error.h"

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

/* Where a run stands: the chain over the proposals consumed so far and the
 * model-sample ESS sums of those proposals. Rank 0's is the file's resume
 * state (with the seconds the session keeps). */
typedef struct {
  fg_imh_chain chain;                /* chain.steps: proposals consumed = rows done */
  double ess[FG_ESS_LEN];            /* analysis.h's sums, in proposal order */
} fg_sample_state;

typedef struct {
  int64_t proposals;                 /* sample.proposals */
  int batch;                         /* proposals per batch (sample.batch_size) */
  int64_t round_batches;             /* batches per flush round (sample.flush_every) */
  int64_t first_batch;               /* the first batch this run draws (resume) */
} fg_sample_plan;

typedef struct {
  int nruns, cap_runs;
  int64_t *first, *count;            /* run k: rows [first[k], first[k] + count[k]) */
  double *configs, *logq, *action, *logw;
  int64_t rows, cap_rows;
} fg_row_buffer;

typedef struct fg_sample_session fg_sample_session;

int fg_sample_open(const fg_config *cfg, const fg_sample_options *opt, fg_sample_session **out,
                   fg_error *err);
void fg_sample_session_plan(const fg_sample_session *s, fg_sample_plan *plan);
void fg_sample_session_state(const fg_sample_session *s, fg_sample_state *st);
int fg_sample_draw(fg_sample_session *s, int64_t batch, fg_row_buffer *buf, fg_error *err);
int fg_sample_flush(fg_sample_session *s, fg_row_buffer *rows, int64_t chain_first,
                    int64_t chain_count, const int64_t *index, const uint8_t *accepted,
                    const fg_sample_state *st, fg_error *err);
int fg_sample_close(fg_sample_session *s, int rc, const fg_sample_state *st,
                    fg_sample_result *res, fg_error *err);

int fg_row_buffer_reserve(fg_row_buffer *b, int64_t rows, int runs, int width, fg_error *err);
void fg_row_buffer_free(fg_row_buffer *b);

#endif
