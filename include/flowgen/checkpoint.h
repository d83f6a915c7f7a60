/*
 * checkpoint.h -- the HDF5 checkpoint of a trained flow (SPEC section 5;
 * the full layout is in docs/checkpoint-format.md).
 *
 * In memory a checkpoint is one fg_checkpoint. The flow's parameters are one
 * flat float32 vector in canonical order:
 *   for layer l = 0 .. coupling_layers-1:
 *     for conv c = 0 .. n_hidden (in = c ? hidden[c-1] : 1,
 *                                 out = c < n_hidden ? hidden[c] : 2):
 *       weight [out][in][K][K], then bias [out]
 *   then the base's parameters: free_field one value (mu), normal none.
 * The optimizer state is a flat float64 vector `opt_state` of
 * opt_state_len values (Adam: m then v, each nparams long).
 *
 *   size_t fg_checkpoint_nparams(const fg_model_config *m)
 *     Length of the flat parameter vector for an architecture.
 *
 *   int fg_checkpoint_write(const char *path, const fg_checkpoint *ck, fg_error *err)
 *     Writes the checkpoint atomically: to "<path>.tmp.<pid>", closed, then
 *     renamed over path. Creates the parent folder if missing. On failure
 *     the temporary file is removed and path is left as it was.
 *     Local: call on one rank only. FG_ERR_RUNTIME on I/O failure.
 *
 *   int fg_checkpoint_read(const char *path, fg_checkpoint *ck, fg_error *err)
 *     Reads a checkpoint written by fg_checkpoint_write into *ck (which it
 *     initialises; release with fg_checkpoint_free even on failure).
 *     FG_ERR_INPUT for a missing, unreadable or foreign file (naming it),
 *     or a file whose datasets disagree with its architecture.
 *
 *   void fg_checkpoint_free(fg_checkpoint *ck)
 *
 *   int fg_checkpoint_print(FILE *out, const fg_checkpoint *ck, int json, fg_error *err)
 *     What `flowgen info` prints: architecture, lattice, parameter count,
 *     step, N_train, batch size, learning rate, last ESS, stop reason, costs,
 *     provenance and the config text (a readable table, or one JSON object).
 */
#ifndef FLOWGEN_CHECKPOINT_H
#define FLOWGEN_CHECKPOINT_H

#include <stdint.h>
#include <stdio.h>

#include "flowgen/config.h"
#include "flowgen/error.h"

#define FG_CHECKPOINT_FORMAT "flowgen-checkpoint"
/* The newest format_version read and written; a file is written as the
 * lowest version whose readers evaluate its model, 3 for most (checkpoint.c,
 * docs/checkpoint-format.md). */
#define FG_CHECKPOINT_VERSION 5

typedef struct {
  /* what the model is */
  fg_theory_config theory;     /* lattice the model was trained on, couplings */
  fg_model_config model;       /* architecture */
  uint64_t seed;
  char *config_text;           /* owned, NUL-terminated: the training config */

  /* parameters */
  size_t nparams;
  float *params;               /* owned (fg_alloc), canonical order */

  /* optimizer state */
  fg_optimizer_kind optimizer;
  int64_t opt_t;               /* optimizer step count */
  size_t opt_state_len;
  double *opt_state;           /* owned (fg_alloc) */

  /* schedule and progress */
  int64_t step;                /* optimizer steps done */
  int64_t n_train;             /* samples drawn for training so far (all ranks) */
  int batch_size;              /* current per-rank batch size */
  int ranks;                   /* ranks that trained it */
  double lr;                   /* current learning rate */
  double ess_window[4096];     /* last batch ESS values, oldest first (rolling stop) */
  int ess_window_len;

  /* figures */
  double ess;                  /* model-sample ESS (eq. A7) at the end; -1 if not measured */
  int64_t ess_samples;         /* how many fresh samples it was measured on */
  double loss;                 /* last training loss */
  double wall_seconds;         /* C_setup: cumulative training wall time */
  double allreduce_seconds;    /* time in MPI_Allreduce */
  char stop_reason[64];        /* "steps", "target_ess", "signal", "running" */

  /* provenance */
  char flowgen_version[32];
  char git_revision[64];
  char created[32];            /* ISO 8601 UTC time of writing */
} fg_checkpoint;

size_t fg_checkpoint_nparams(const fg_model_config *m);
int fg_checkpoint_write(const char *path, const fg_checkpoint *ck, fg_error *err);
int fg_checkpoint_read(const char *path, fg_checkpoint *ck, fg_error *err);
void fg_checkpoint_free(fg_checkpoint *ck);
int fg_checkpoint_print(FILE *out, const fg_checkpoint *ck, int json, fg_error *err);

#endif
