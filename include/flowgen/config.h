/*
 * config.h -- the run configuration (SPEC section 4), read from YAML.
 *
 *   int fg_config_load(const char *path, fg_config *cfg, fg_error *err)
 *     Reads and validates the YAML file at path into *cfg (which it
 *     initialises; release with fg_config_free even on failure). Unknown
 *     keys, duplicate keys, missing required keys, wrong types and
 *     out-of-range values give FG_ERR_INPUT with a message naming the file,
 *     the line, the dotted key and the offending value, e.g.
 *       "configs/x.yaml:4: theory.lattice[1]: value 7: extents must be even".
 *     Relative paths (train.checkpoint, train.log, train.init_from,
 *     sample.model, sample.output, hmc.output) are resolved against the
 *     folder of the config file. Local (call on one rank, then broadcast the
 *     text and parse it again, or parse on every rank: it is deterministic).
 *
 *   int fg_config_parse(const char *text, size_t len, const char *path,
 *                       fg_config *cfg, fg_error *err)
 *     The same from text already in memory; path is used in messages and to
 *     resolve relative paths (may be NULL: then paths stay as written).
 *
 *   void fg_config_defaults(fg_config *cfg)
 *     Fills every field with its default (required fields get sentinels).
 *
 *   void fg_config_free(fg_config *cfg)
 *     Releases what the config owns (text, paths); safe on a zeroed struct.
 *
 *   int fg_config_report(const fg_config *cfg, const char *key, int code,
 *                        fg_error *err, const char *fmt, ...)
 *     For checks made after parsing (by a command: a file that must exist,
 *     an output that must be writable, a lattice a flow cannot handle):
 *     records code and "file:line: key: value V: reason" in *err, finding
 *     the line and the value of the dotted key (e.g. "sample.model") in
 *     cfg->text; "file: key: reason" when the key is not in the text.
 *     Returns code. Local.
 *
 *   int fg_config_check_resume(const fg_config *stored, const fg_config *now,
 *                              unsigned what, const char *file, fg_error *err)
 *     The run identity checked by every --resume: compares, key by key, the
 *     config a file recorded (stored, parsed from its config text) with the
 *     config of the continuation (now) over the sections selected by what
 *     (FG_IDENT_SEED | FG_IDENT_THEORY | ...). Keys that only say how long a
 *     run goes, how often it saves, where its files are, or what it measures
 *     at its end may change (train.steps, train.stop.*, train.checkpoint_every,
 *     train.eval_samples, train.reset_optimizer, sample.proposals,
 *     sample.flush_every, hmc.trajectories, hmc.checkpoint_every; paths are
 *     never compared); every other key must match exactly (reals bit for
 *     bit), ignoring keys that do not apply to now's choices (e.g. beta for
 *     phi4). FG_ERR_INPUT names the first difference: "FILE: cannot resume:
 *     theory.lambda is 2 in the file, 2.5 in the config". Local, pure.
 *
 * Sections: seed, theory and model are required in every config. train,
 * sample and hmc are optional; their `present` flag tells whether the file
 * had them, and each command checks that its section is present.
 */
#ifndef FLOWGEN_CONFIG_H
#define FLOWGEN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "flowgen/error.h"

#define FG_MAXDIM 4
#define FG_MAXHIDDEN 8
#define FG_PATH_MAX 4096
#define FG_MAX_VOLUME (1L << 28) /* lattice sites, as fg_lattice_init allows */

typedef enum { FG_THEORY_PHI4 = 0, FG_THEORY_SCHWINGER = 1 } fg_theory_kind;
/* normal and free_field: real fields, affine coupling layers; haar: U(1)
 * link angles (uniform on the circle), gauge coupling layers (flow.h). */
typedef enum { FG_BASE_NORMAL = 0, FG_BASE_FREE_FIELD = 1, FG_BASE_HAAR = 2 } fg_base_kind;
typedef enum { FG_SYM_NONE = 0, FG_SYM_Z2 = 1 } fg_symmetry_kind;
typedef enum { FG_ACT_LEAKY_RELU = 0, FG_ACT_TANH = 1 } fg_activation;
/* The closed loops a gauge layer's conditioner sees (docs/model.md):
 * the frozen plaquettes, or those and the frozen 2x1 and 1x2 rectangles. */
typedef enum { FG_LOOPS_PLAQUETTE = 0, FG_LOOPS_RECTANGLE = 1 } fg_gauge_loops;
/* A gauge layer's circle map (docs/model.md): a mixture of non-compact
 * projections, or a circular rational-quadratic spline of spline_bins bins. */
typedef enum { FG_MAP_NCP = 0, FG_MAP_SPLINE = 1 } fg_gauge_map;
/* The order of a gauge flow's masks (docs/model.md): directions
 * alternating layer by layer with ascending offsets (Kanwar et al.), or in
 * blocks of four layers per direction with descending offsets. */
typedef enum { FG_ORDER_ALTERNATING = 0, FG_ORDER_BLOCKED = 1 } fg_gauge_order;
#define FG_SPLINE_BINS_MIN 2
#define FG_SPLINE_BINS_MAX 32
#define FG_SPLINE_BINS_DEFAULT 8
typedef enum { FG_INIT_KAIMING = 0, FG_INIT_XAVIER = 1 } fg_init_scheme;
typedef enum { FG_OPT_ADAM = 0, FG_OPT_ADADELTA = 1, FG_OPT_SGD = 2 } fg_optimizer_kind;
typedef enum { FG_SCHED_NONE = 0, FG_SCHED_BATCH_SIZE = 1, FG_SCHED_LEARNING_RATE = 2 } fg_schedule_kind;
typedef enum { FG_INTEGRATOR_LEAPFROG = 0, FG_INTEGRATOR_OMELYAN = 1 } fg_integrator_kind;
typedef enum { FG_BC_ANTIPERIODIC = 0, FG_BC_PERIODIC = 1 } fg_fermion_bc;
typedef enum { FG_FERMIONS_PSEUDOFERMION = 0, FG_FERMIONS_EXACT = 1 } fg_hmc_fermions;
typedef enum { FG_GRAD_REPARAM = 0, FG_GRAD_SCORE = 1, FG_GRAD_PATH = 2 } fg_gradient_kind;

typedef struct {
  fg_theory_kind name;        /* theory.name: phi4 | schwinger (required) */
  int nd;                     /* number of extents in theory.lattice */
  int extent[FG_MAXDIM];      /* theory.lattice: positive, even (required) */
  double m2;                  /* theory.m2 (phi4, required) */
  double lambda;              /* theory.lambda >= 0 (phi4, required) */
  double beta;                /* theory.beta > 0 (schwinger; default 1) */
  double kappa;               /* theory.kappa >= 0 (schwinger; 0 = pure gauge; default 0.25) */
  int n_fermion_bc;           /* length of fermion_bc (= nd once read) */
  int fermion_bc[FG_MAXDIM];  /* theory.fermion_bc, fg_fermion_bc per direction (schwinger;
                                 default [antiperiodic, periodic]) */
} fg_theory_config;

typedef struct {
  fg_base_kind base;          /* model.base, default normal (schwinger: haar) */
  int coupling_layers;        /* >= 1, required (0 allowed only with free_field) */
  int kernel_size;            /* odd, >= 1, <= every lattice extent; required */
  int n_hidden;               /* length of hidden_channels (0..FG_MAXHIDDEN) */
  int hidden_channels[FG_MAXHIDDEN]; /* each >= 1; required key (may be []) */
  fg_activation activation;   /* model.activation, default leaky_relu */
  fg_gauge_loops gauge_loops; /* model.gauge_loops, default plaquette (gauge layers only) */
  fg_gauge_map gauge_map;     /* model.gauge_map, default ncp (gauge layers only) */
  fg_gauge_order gauge_order; /* model.gauge_order, default blocked with base haar (gauge
                                 layers only; alternating otherwise) */
  int spline_bins;            /* model.spline_bins, FG_SPLINE_BINS_MIN..MAX, default 8
                                 (gauge_map spline only; ignored otherwise) */
  fg_init_scheme init_scheme; /* model.init.scheme, default kaiming */
  double init_scale;          /* model.init.scale > 0, default 1.0 */
  double mu_init;             /* model.mu_init > 0 (free_field), default 1.0 */
  fg_symmetry_kind symmetry;  /* model.symmetry: none (default) | z2 */
} fg_model_config;

typedef struct {
  fg_optimizer_kind name;     /* train.optimizer.name, default adam */
  double lr;                  /* > 0; default 1e-3 (adam), 1.0 (adadelta), 1e-2 (sgd) */
  double beta1, beta2, eps;   /* adam: 0.9, 0.999, 1e-8 */
  double rho;                 /* adadelta: 0.9 (eps default 1e-6 for adadelta) */
  double momentum;            /* sgd: 0.0, in [0, 1) */
  double weight_decay;        /* >= 0, default 0 */
} fg_optimizer_config;

typedef struct {
  fg_schedule_kind kind;      /* train.schedule.kind, default none */
  int every;                  /* > 0, default 500 */
  double factor;              /* > 0, default 2 (batch_size) or 0.5 (learning_rate) */
  int max_batch_size;         /* >= batch_size, default 1 << 20 */
  double min_lr;              /* >= 0, default 0 */
} fg_schedule_config;

typedef struct {
  int present;
  int64_t steps;              /* >= 0, required */
  int batch_size;             /* > 0, required */
  fg_optimizer_config optimizer;
  fg_schedule_config schedule;
  double grad_clip_norm;      /* > 0, or 0 = no clipping; default 0 */
  double stop_target_ess;     /* train.stop.target_ess in [0, 1], default 0 (off) */
  int stop_window;            /* train.stop.window in 1..4096, default 100 */
  char *init_from;            /* train.init_from (null/absent -> NULL); resolved */
  int reset_optimizer;        /* train.reset_optimizer, default false */
  fg_gradient_kind gradient;  /* train.gradient: reparameterization (default) | score_function | path */
  char *data;                 /* train.data: an ensemble of the theory (null/absent -> NULL); resolved */
  double data_weight;         /* train.data_weight > 0, default 1 (with train.data only) */
  char *checkpoint;           /* train.checkpoint, required; resolved */
  char *log;                  /* train.log, default: checkpoint with .csv; resolved */
  int64_t checkpoint_every;   /* >= 0 (0 = only at the end), default 500 */
  int64_t eval_samples;       /* > 0, default 8192 */
} fg_train_config;

typedef struct {
  int present;
  char *model;                /* sample.model, required; resolved */
  int64_t proposals;          /* > 0, required */
  int batch_size;             /* > 0, default 256 */
  int64_t flush_every;        /* > 0 proposals between flushes, default 65536 */
  char *output;               /* required; resolved */
} fg_sample_config;

typedef struct {
  int present;
  int64_t trajectories;       /* > 0, required */
  int64_t thermalization;     /* >= 0, default 0 */
  double trajectory_length;   /* > 0, default 1.0 */
  int md_steps;               /* > 0, default 10 */
  fg_integrator_kind integrator; /* default leapfrog */
  fg_hmc_fermions fermions;   /* hmc.fermions (schwinger, kappa > 0): pseudofermion (default)
                                 or exact_determinant (MD on the exact action; small lattices) */
  double cg_tolerance;        /* hmc.cg_tolerance in (0, 1e-3]: CG's relative residual,
                                 default 1e-10 */
  int cg_max_iterations;      /* hmc.cg_max_iterations >= 1, default 10000 */
  int64_t checkpoint_every;   /* trajectories, > 0, default 1000 */
  char *output;               /* required; resolved */
} fg_hmc_config;

typedef struct {
  char *path;                 /* the file it was read from (owned; may be NULL) */
  char *text;                 /* the verbatim YAML text (owned) */
  size_t text_len;
  uint64_t seed;              /* seed: non-negative integer, required */
  fg_theory_config theory;
  fg_model_config model;
  fg_train_config train;
  fg_sample_config sample;
  fg_hmc_config hmc;
} fg_config;

/* Sections of the run identity (fg_config_check_resume). */
enum {
  FG_IDENT_SEED = 1,
  FG_IDENT_THEORY = 2,
  FG_IDENT_MODEL = 4,
  FG_IDENT_TRAIN = 8,
  FG_IDENT_SAMPLE = 16,
  FG_IDENT_HMC = 32
};

void fg_config_defaults(fg_config *cfg);
int fg_config_load(const char *path, fg_config *cfg, fg_error *err);
int fg_config_parse(const char *text, size_t len, const char *path, fg_config *cfg,
                    fg_error *err);
void fg_config_free(fg_config *cfg);
int fg_config_check_resume(const fg_config *stored, const fg_config *now, unsigned what,
                           const char *file, fg_error *err);
int fg_config_report(const fg_config *cfg, const char *key, int code, fg_error *err,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Names for enums (for messages, logs and `flowgen info`). */
const char *fg_theory_name(fg_theory_kind k);
const char *fg_base_name(fg_base_kind k);
const char *fg_symmetry_name(fg_symmetry_kind k);
const char *fg_activation_name(fg_activation a);
const char *fg_gauge_loops_name(fg_gauge_loops k);
const char *fg_gauge_map_name(fg_gauge_map k);
const char *fg_gauge_order_name(fg_gauge_order k);
const char *fg_init_name(fg_init_scheme s);
const char *fg_optimizer_name(fg_optimizer_kind k);
const char *fg_schedule_name(fg_schedule_kind k);
const char *fg_integrator_name(fg_integrator_kind k);
const char *fg_fermion_bc_name(fg_fermion_bc k);
const char *fg_hmc_fermions_name(fg_hmc_fermions k);
const char *fg_gradient_name(fg_gradient_kind k);

#endif
