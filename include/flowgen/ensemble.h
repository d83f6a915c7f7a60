/*
 * ensemble.h -- the ensemble file (SPEC section 6), written with parallel
 * HDF5 by all ranks together, read by one.
 *
 * Layout (one file per run, the same for flow and HMC ensembles):
 *   /configs            [n, C, L0, L1, ...] float64  row j = configuration j,
 *                       C components per site (phi^4: 1); format_version 1
 *                       files (flowgen 0.1) have [n, L0, L1, ...] and are read
 *   /proposals/logq     [n] float64   (flow ensembles only)
 *   /proposals/action   [n] float64
 *   /proposals/logw     [n] float64   (flow ensembles only) -S - log q
 *   /proposals/checksum [n] uint64    fg_ensemble_row_checksum of row j's
 *                       configuration and action, made by the rank that
 *                       wrote the row (format_version >= 2)
 *   /chain/index        [n_chain] int64   row of /configs each chain step holds
 *   /chain/accepted     [n_chain] uint8
 *   root attributes     format = "flowgen-ensemble", format_version, kind
 *                       ("flow" | "hmc"), and whatever the writer sets
 *                       (config text, seed, ranks, versions, git revision,
 *                       wall and CPU seconds, acceptance, model SHA-256, ...)
 *   progress attributes rows_done (rows of /configs and /chain written and
 *                       flushed), complete (0 or 1), and the writer's own
 *                       resume state (chain_current, chain_current_logw, ...).
 *
 * Writing. While a run is in progress the file lives at "<path>.tmp"; it is
 * renamed to path when the run completes, so a final name always holds a
 * complete file. All writing calls are COLLECTIVE over the communicator
 * given at creation: every rank calls them in the same order with the same
 * metadata arguments (ranks with nothing to write pass empty runs); data
 * transfers are collective (MPI-IO). Datasets are created at their final
 * size.
 *
 *   int fg_ensemble_create(MPI_Comm comm, const char *path, const fg_ensemble_layout *lay,
 *                          fg_ensemble **out, fg_error *err)
 *     Creates "<path>.tmp" (replacing a stale one) and the parent folder.
 *   int fg_ensemble_reopen(MPI_Comm comm, const char *path, const fg_ensemble_layout *lay,
 *                          fg_ensemble **out, fg_error *err)
 *     Reopens "<path>.tmp" of an interrupted run for --resume; FG_ERR_INPUT
 *     if it is missing, foreign, complete, or its layout differs from lay.
 *   int fg_ensemble_write_rows(fg_ensemble *e, int nruns, const int64_t *first,
 *                              const int64_t *count, const double *configs,
 *                              const double *logq, const double *action,
 *                              const double *logw, fg_error *err)
 *     This rank's rows: runs [first[k], first[k] + count[k]) with the data of
 *     all runs concatenated in order (configs: V values per row). logq and
 *     logw are ignored for HMC layouts. nruns may be 0.
 *   int fg_ensemble_write_chain(fg_ensemble *e, int64_t first, int64_t count,
 *                               const int64_t *index, const uint8_t *accepted,
 *                               int root, fg_error *err)
 *     Chain steps [first, first + count) from rank `root` (others' data unused).
 *   int fg_ensemble_set_progress(fg_ensemble *e, const char *name, double value, fg_error *err)
 *   int fg_ensemble_get_progress(fg_ensemble *e, const char *name, double *value, fg_error *err)
 *     A numeric progress attribute (resume state); rows_done among them.
 *   int fg_ensemble_set_attr_string / _double / _int64 (e, name, value, err)
 *     Root attributes (collective; rank 0's value is written).
 *   int fg_ensemble_flush(fg_ensemble *e, fg_error *err)
 *     H5Fflush: what was written is on disk and the file is consistent.
 *   int fg_ensemble_read_rows(fg_ensemble *e, int64_t first, int64_t count,
 *                             double *configs, fg_error *err)
 *     Collective read (for resuming HMC from its last configuration).
 *   int fg_ensemble_close(fg_ensemble *e, int complete, fg_error *err)
 *     Closes; with complete = 1 sets complete = 1 and renames "<path>.tmp"
 *     to path. Frees e in every case.
 *
 * Reading (one rank, serial HDF5; for analyze, info, compare):
 *   int fg_ensemble_load(const char *path, fg_ensemble_data *d, fg_error *err)
 *     Reads the whole file into memory; FG_ERR_INPUT for a missing,
 *     foreign or incomplete file (naming it), or a row whose checksum does
 *     not match (naming the row). fg_ensemble_data_free releases.
 *
 * Row checksums, sizes (local, pure or local):
 *   uint64_t fg_ensemble_row_checksum(const double *values, size_t n, double action)
 *     64-bit checksum of a row's n values and its action (bit patterns, so
 *     the same on every machine and for every rank count). Any change of a
 *     single value changes it.
 *   double fg_ensemble_bytes(const fg_ensemble_layout *lay)
 *     About how many bytes the file of lay takes.
 *   int fg_ensemble_check_space(const char *path, const fg_ensemble_layout *lay,
 *                               const char *what, fg_error *err)
 *     FG_ERR_INPUT (naming what, e.g. "cfg.yaml: sample.proposals: value N",
 *     and the sizes) when the file would not fit in the free space of the
 *     file system that will hold path. Local (call on the writing rank).
 *   int fg_ensemble_get_attr_string(fg_ensemble *e, const char *name, char **text,
 *                                   fg_error *err)
 *     A string root attribute (fg_alloc'd in *text); FG_ERR_INPUT if missing.
 *     Collective.
 *   int fg_ensemble_set_theory(fg_ensemble *e, const fg_theory *t, fg_error *err)
 *     Root attributes "theory" (fg_theory_label) and one per named coupling
 *     (fg_theory_named_couplings), for provenance. Collective.
 *   int fg_ensemble_set_theory(fg_ensemble *e, const fg_theory *t, fg_error *err);
int fg_ensemble_check_identity(fg_ensemble *e, const fg_config *cfg, unsigned what,
 *                                  fg_error *err)
 *     The run identity of a resume: the config the interrupted run stored
 *     in the "config" attribute against cfg, over the sections `what`
 *     (FG_IDENT_*, fg_config_check_resume). FG_ERR_INPUT naming
 *     "<path>.tmp" and the first field that differs with both values, or
 *     an attribute that does not parse. Collective.
 */
#ifndef FLOWGEN_ENSEMBLE_H
#define FLOWGEN_ENSEMBLE_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "flowgen/config.h"
#include "flowgen/error.h"
#include "flowgen/theory.h"

#define FG_ENSEMBLE_FORMAT "flowgen-ensemble"
#define FG_ENSEMBLE_VERSION 2

typedef enum { FG_ENSEMBLE_FLOW = 0, FG_ENSEMBLE_HMC = 1 } fg_ensemble_kind;

typedef struct {
  fg_ensemble_kind kind;
  int nd;
  int extent[FG_MAXDIM];
  int64_t n_configs;   /* rows of /configs */
  int64_t n_chain;     /* steps of /chain */
  int components;      /* per site (0 means 1): the axis after n in /configs */
} fg_ensemble_layout;

typedef struct fg_ensemble fg_ensemble;

int fg_ensemble_create(MPI_Comm comm, const char *path, const fg_ensemble_layout *lay,
                       fg_ensemble **out, fg_error *err);
int fg_ensemble_reopen(MPI_Comm comm, const char *path, const fg_ensemble_layout *lay,
                       fg_ensemble **out, fg_error *err);
int fg_ensemble_write_rows(fg_ensemble *e, int nruns, const int64_t *first, const int64_t *count,
                           const double *configs, const double *logq, const double *action,
                           const double *logw, fg_error *err);
int fg_ensemble_write_chain(fg_ensemble *e, int64_t first, int64_t count, const int64_t *index,
                            const uint8_t *accepted, int root, fg_error *err);
int fg_ensemble_set_progress(fg_ensemble *e, const char *name, double value, fg_error *err);
int fg_ensemble_get_progress(fg_ensemble *e, const char *name, double *value, fg_error *err);
int fg_ensemble_set_attr_string(fg_ensemble *e, const char *name, const char *value,
                                fg_error *err);
int fg_ensemble_set_attr_double(fg_ensemble *e, const char *name, double value, fg_error *err);
int fg_ensemble_set_attr_int64(fg_ensemble *e, const char *name, int64_t value, fg_error *err);
int fg_ensemble_flush(fg_ensemble *e, fg_error *err);
int fg_ensemble_read_rows(fg_ensemble *e, int64_t first, int64_t count, double *configs,
                          fg_error *err);
int fg_ensemble_close(fg_ensemble *e, int complete, fg_error *err);
int fg_ensemble_get_attr_string(fg_ensemble *e, const char *name, char **text, fg_error *err);
int fg_ensemble_set_theory(fg_ensemble *e, const fg_theory *t, fg_error *err);
int fg_ensemble_check_identity(fg_ensemble *e, const fg_config *cfg, unsigned what,
                               fg_error *err);
uint64_t fg_ensemble_row_checksum(const double *values, size_t n, double action);
double fg_ensemble_bytes(const fg_ensemble_layout *lay);
int fg_ensemble_check_space(const char *path, const fg_ensemble_layout *lay, const char *what,
                            fg_error *err);
/* Local: how many of this rank's transfers HDF5 reported as collective, and
 * how many fell back to independent I/O (a check that I/O stayed collective). */
void fg_ensemble_io_counts(const fg_ensemble *e, int64_t *collective, int64_t *independent);

/* The whole file in memory (reading side). Attributes: strings and numbers
 * by name, in the order the file lists them. */
typedef struct {
  char *name;
  int is_string;
  char *text;          /* is_string */
  double value;        /* numeric (integers converted) */
} fg_ensemble_attr;

typedef struct {
  fg_ensemble_layout layout;
  int volume;          /* values per row: sites x components */
  int format_version;  /* 1: no component axis, no checksums */
  double *configs;     /* [n_configs][V] */
  double *logq, *action, *logw;   /* [n_configs]; logq/logw NULL for HMC */
  int64_t *chain_index;           /* [n_chain] */
  uint8_t *chain_accepted;        /* [n_chain] */
  uint64_t *checksum;             /* [n_configs], verified on load; NULL in format_version 1 */
  int nattrs;
  fg_ensemble_attr *attrs;
} fg_ensemble_data;

int fg_ensemble_load(const char *path, fg_ensemble_data *d, fg_error *err);
void fg_ensemble_data_free(fg_ensemble_data *d);
const fg_ensemble_attr *fg_ensemble_attr_find(const fg_ensemble_data *d, const char *name);

/* Recomputed actions (io/verify.c): every row's stored action against
 * fg_theory_action of its configuration, within FG_ENSEMBLE_ACTION_TOL *
 * (|S| + V); FG_ERR_INPUT naming the first damaged row. Local. */
#define FG_ENSEMBLE_ACTION_TOL 1e-12
typedef struct {
  int64_t rows;            /* rows of /configs */
  int checksums;           /* 1: the file has row checksums, and they matched on load */
  int64_t actions_checked; /* rows whose action was recomputed */
  double max_deviation;    /* largest |S_stored - S| / (|S_stored| + V) */
} fg_ensemble_check;
int fg_ensemble_verify(const char *path, const fg_ensemble_data *d, fg_ensemble_check *c,
                       fg_error *err);

/* One line naming flowgen's, HDF5's and the MPI library's versions
 * (io/provenance.c), for the files' provenance attributes. Local. */
void fg_library_versions(char *buf, size_t n);

#endif
