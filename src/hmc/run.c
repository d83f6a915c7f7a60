/*
 * run.c -- the HMC run behind `flowgen hmc` (full contracts in hmc.h).
 *
 *   int fg_hmc_run(const fg_config *cfg, const fg_hmc_options *opt, fg_hmc_result *res,
 *                  fg_error *err)
 *     One chain per rank (stream_id = rank) into its own ensemble file of
 *     kind hmc, thermalisation then hmc.trajectories stored trajectories,
 *     flushed with its resume state every hmc.checkpoint_every trajectories
 *     and on a stop; --resume continues bit for bit. Collective over
 *     opt->comm only for the agreed status.
 *
 *   void fg_hmc_output_path(const char *output, int rank, int nranks, char *buf, size_t n)
 *     The file of one rank ("_rank<k>" before the extension when nranks > 1).
 *
 * Resume state (progress attributes of "<file>.tmp", all numbers):
 *   rows_done              stored trajectories written and flushed
 *   trajectory_next        the next trajectory number (thermalisation included)
 *   thermalization_done    thermalisation trajectories done
 *   thermalization_field   1 when row 0 of /configs holds the field after
 *                          thermalization_done trajectories (rows_done = 0)
 *   accepted, sum_exp_minus_dH, force_evaluations, wall_seconds,
 *   cpu_seconds, thermalization_seconds, cg_solves, cg_iterations,
 *   cg_most                running figures (the CG counts: a theory with a
 *                          solver; read as 0 from files written without them)
 *   thermalization_field_checksum   fg_ensemble_row_checksum (top 52 bits)
 *                          of the field thermalization_done refers to
 * While no stored row exists, row 0 of /configs is the natural place for the
 * thermalising field: it is overwritten by the first stored trajectory. The
 * first production flush clears thermalization_field (and flushes) before
 * it writes row 0, so a crash inside that write cannot hand a production
 * row to a resume as the thermalising field. A kill -9 between writing a
 * newer thermalising field into row 0 and writing its attributes leaves a
 * row 0 that is not the field thermalization_done counts (D04): the
 * checksum attribute, written with the count, tells. Such a resume (and any
 * resume without a saved field) restarts thermalisation from the zero
 * field, which reproduces the same field bit for bit because trajectory t
 * depends only on (field, seed, stream, t); the force count restarts with
 * it, so the finished file equals an uninterrupted run's.
 *
 * The file is created with this whole state (nothing done) already in it,
 * so a stop at any moment after "<file>.tmp" appears can be resumed (D07).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "flowgen/ensemble.h"
#include "flowgen/hmc.h"
#include "flowgen/util.h"
#include "flowgen_build.h"

/* Rows buffered between flushes are capped at this many doubles (32 MiB). */
#define BUFFER_DOUBLES ((int64_t)1 << 22)

enum { P_ROWS, P_NEXT, P_THERM_DONE, P_THERM_FIELD, P_ACCEPTED, P_EXP_MDH, P_FORCES, P_WALL,
       P_CPU, P_THERM_WALL, P_CG_SOLVES, P_CG_ITS, P_CG_MOST, P_LEN };

/* Progress attributes from P_OPTIONAL on may be absent from older files. */
#define P_OPTIONAL P_CG_SOLVES

static const char *const PROG_NAMES[P_LEN] = {
    "rows_done", "trajectory_next", "thermalization_done", "thermalization_field", "accepted",
    "sum_exp_minus_dH", "force_evaluations", "wall_seconds", "cpu_seconds",
    "thermalization_seconds", "cg_solves", "cg_iterations", "cg_most"};

typedef struct {
  const fg_config *cfg;
  const fg_hmc_options *opt;
  int rank, nranks;
  char path[FG_PATH_MAX];
  fg_theory *theory;
  fg_hmc *hmc;
  fg_ensemble *ens;
  int V;
  int64_t ntherm, ntraj;
  double *phi;               /* the chain's field */
  int64_t therm_done;        /* thermalisation trajectories done */
  int64_t rows_done;         /* stored rows written */
  int therm_field;           /* row 0 holds the thermalising field */
  int64_t accepted;          /* stored trajectories accepted (buffered included) */
  double sum_exp_mdh;
  int64_t forces_prev;       /* force evaluations of earlier runs */
  fg_solver cg_prev;         /* CG counts of earlier runs */
  double wall, cpu, therm_wall;   /* all runs, charged as time passes */
  double mark_wall, mark_cpu;     /* when time was last charged */
  int64_t cap, nbuf;         /* the buffer of stored rows not yet written */
  double *rows, *action;
  int64_t *index;
  uint8_t *acc;
} hmc_run;

void fg_hmc_output_path(const char *output, int rank, int nranks, char *buf, size_t n)
{
  if (nranks <= 1) {
    snprintf(buf, n, "%s", output);
    return;
  }
  const char *slash = strrchr(output, '/');
  const char *dot = strrchr(output, '.');
  if (dot == NULL || (slash != NULL && dot < slash) || dot == (slash ? slash + 1 : output))
    dot = output + strlen(output); /* no extension (a leading dot names a hidden file) */
  snprintf(buf, n, "%.*s_rank%d%s", (int)(dot - output), output, rank, dot);
}

/* Adds the time since the last charge to thermalisation or production. */
static void charge(hmc_run *s, int thermalizing)
{
  double w = fg_wall_time(), c = fg_cpu_time();
  if (thermalizing)
    s->therm_wall += w - s->mark_wall;
  else {
    s->wall += w - s->mark_wall;
    s->cpu += c - s->mark_cpu;
  }
  s->mark_wall = w;
  s->mark_cpu = c;
}

static void progress_values(const hmc_run *s, double *v)
{
  v[P_ROWS] = (double)s->rows_done;
  v[P_NEXT] = (double)(s->therm_done + s->rows_done);
  v[P_THERM_DONE] = (double)s->therm_done;
  v[P_THERM_FIELD] = s->therm_field;
  v[P_ACCEPTED] = (double)s->accepted;
  v[P_EXP_MDH] = s->sum_exp_mdh;
  v[P_FORCES] = (double)(s->forces_prev + fg_hmc_force_evaluations(s->hmc));
  v[P_WALL] = s->wall;
  v[P_CPU] = s->cpu;
  v[P_THERM_WALL] = s->therm_wall;
  fg_solver cg;
  fg_theory_solver_stats(s->theory, &cg);
  v[P_CG_SOLVES] = (double)(s->cg_prev.solves + cg.solves);
  v[P_CG_ITS] = (double)(s->cg_prev.iterations + cg.iterations);
  v[P_CG_MOST] = cg.most > s->cg_prev.most ? cg.most : s->cg_prev.most;
}

static int set_progress(hmc_run *s, fg_error *err)
{
  double v[P_LEN];
  progress_values(s, v);
  int rc = FG_OK;
  for (int k = 0; k < P_LEN && rc == FG_OK; ++k)
    rc = fg_ensemble_set_progress(s->ens, PROG_NAMES[k], v[k], err);
  return rc;
}

/* The buffered stored rows and their chain steps go to the file. */
static int write_buffer(hmc_run *s, fg_error *err)
{
  int64_t first = s->rows_done, count = s->nbuf;
  int rc = FG_OK;
  if (first == 0 && s->therm_field) { /* row 0 is about to lose the thermalising field */
    s->therm_field = 0;
    rc = fg_ensemble_set_progress(s->ens, PROG_NAMES[P_THERM_FIELD], 0.0, err);
    if (rc == FG_OK)
      rc = fg_ensemble_flush(s->ens, err);
  }
  if (rc == FG_OK)
    rc = fg_ensemble_write_rows(s->ens, 1, &first, &count, s->rows, NULL, s->action, NULL, err);
  if (rc == FG_OK)
    rc = fg_ensemble_write_chain(s->ens, first, count, s->index, s->acc, 0, err);
  if (rc == FG_OK) {
    s->rows_done += count;
    s->nbuf = 0;
  }
  return rc;
}

/* The thermalising field's checksum as an exact double (52 bits). */
static double field_checksum(const hmc_run *s, double S)
{
  return (double)(fg_ensemble_row_checksum(s->phi, (size_t)s->V, S) >> 12);
}

/* During thermalisation: the field goes to row 0, to be resumed from, and
 * its checksum to an attribute written with thermalization_done. */
static int write_thermal_field(hmc_run *s, fg_error *err)
{
  int64_t first = 0, count = 1;
  double S;
  fg_theory_action(s->theory, s->phi, 1, &S);
  int rc = fg_ensemble_write_rows(s->ens, 1, &first, &count, s->phi, NULL, &S, NULL, err);
  if (rc == FG_OK)
    s->therm_field = 1;
  if (rc == FG_OK)
    rc = fg_ensemble_set_progress(s->ens, "thermalization_field_checksum",
                                  field_checksum(s, S), err);
  return rc;
}

/* A consistent state on disk: rows, chain and resume state, then a flush to disk. */
static int checkpoint(hmc_run *s, fg_error *err)
{
  int rc = FG_OK;
  if (s->nbuf > 0)
    rc = write_buffer(s, err);
  else if (s->rows_done == 0 && s->therm_done > 0)
    rc = write_thermal_field(s, err);
  if (rc == FG_OK)
    rc = set_progress(s, err);
  if (rc == FG_OK)
    rc = fg_ensemble_flush(s->ens, err);
  return rc;
}

/* Appends the field after a stored trajectory to the buffer. */
static void record(hmc_run *s, const fg_hmc_outcome *o)
{
  int64_t i = s->nbuf++;
  memcpy(s->rows + i * s->V, s->phi, sizeof(double) * (size_t)s->V);
  s->action[i] = o->action;
  s->index[i] = s->rows_done + i;
  s->acc[i] = (uint8_t)o->accepted;
  s->accepted += o->accepted;
  s->sum_exp_mdh += isnan(o->dH) ? 0.0 : exp(-o->dH); /* a blown-up trajectory weighs 0 */
}

static int stop_wanted(const hmc_run *s, int64_t t)
{
  if (s->opt->stop_flag && *s->opt->stop_flag)
    return 1;
  return s->opt->stop_after > 0 && t >= s->opt->stop_after;
}

/* The progress line's figures: acceptance so far and CG iterations per solve. */
static void progress_extra(const hmc_run *s, int thermalizing, int stopped, char *buf, size_t n)
{
  int64_t stored = s->rows_done + s->nbuf;
  int len = snprintf(buf, n, "%s acc %.3f", thermalizing ? "thermalizing" : "stored",
                     stored > 0 ? (double)s->accepted / (double)stored : 0.0);
  fg_solver cg;
  if (len > 0 && (size_t)len < n && fg_theory_solver_stats(s->theory, &cg) && cg.solves > 0)
    len += snprintf(buf + len, n - (size_t)len, " cg %.1f it/solve",
                    (double)cg.iterations / (double)cg.solves);
  if (stopped && len > 0 && (size_t)len < n)
    snprintf(buf + len, n - (size_t)len, " stopped");
}

/* The chain from where it stands to the end or a stop. */
static int run_chain(hmc_run *s, fg_error *err)
{
  const int64_t total = s->ntherm + s->ntraj, every = s->cfg->hmc.checkpoint_every;
  int64_t t = s->therm_done + s->rows_done;
  fg_progress prog;
  fg_progress_init(&prog, s->opt->progress, "trajectories", (double)total);
  int rc = FG_OK, stopped = 0;
  char extra[96];
  while (rc == FG_OK && t < total && !(stopped = stop_wanted(s, t))) {
    fg_hmc_outcome o;
    fg_hmc_trajectory(s->hmc, s->phi, s->cfg->seed, (uint32_t)s->rank, t, &o);
    const int thermalizing = t < s->ntherm;
    if (thermalizing)
      s->therm_done++;
    else
      record(s, &o);
    ++t;
    if (t % every == 0 || t == s->ntherm || t == total || s->nbuf == s->cap)
      rc = checkpoint(s, err);
    charge(s, thermalizing);
    progress_extra(s, thermalizing, 0, extra, sizeof extra);
    fg_progress_update(&prog, (double)t, extra);
  }
  if (rc == FG_OK && stopped) {
    rc = checkpoint(s, err);
    charge(s, t < s->ntherm);
  }
  progress_extra(s, t <= s->ntherm, stopped, extra, sizeof extra);
  fg_progress_done(&prog, (double)t, extra);
  return rc;
}

/* The numeric attributes a resume must find unchanged (and provenance):
 * seed, stream, the theory's named couplings, the HMC settings. */
typedef struct {
  const char *name;
  double value;
} key_value;

enum { RESUME_KEYS_MAX = 6 + FG_MAX_COUPLINGS };

static int resume_keys(const hmc_run *s, key_value *kv)
{
  const fg_config *c = s->cfg;
  int n = 0;
  kv[n++] = (key_value){"seed", (double)(int64_t)c->seed}; /* as the int64 attribute */
  kv[n++] = (key_value){"stream_id", s->rank};
  fg_coupling g[FG_MAX_COUPLINGS];
  int ng = fg_theory_named_couplings(s->theory, g);
  for (int k = 0; k < ng; ++k)
    kv[n++] = (key_value){g[k].name, g[k].value};
  kv[n++] = (key_value){"thermalization", (double)c->hmc.thermalization};
  kv[n++] = (key_value){"trajectory_length", c->hmc.trajectory_length};
  kv[n++] = (key_value){"md_steps", c->hmc.md_steps};
  /* n + 1 or 2n + 1: tells the integrators apart as well */
  kv[n++] = (key_value){"force_evaluations_per_trajectory", fg_hmc_forces_per_trajectory(s->hmc)};
  return n;
}

static int write_provenance(hmc_run *s, fg_error *err)
{
  char versions[512];
  fg_library_versions(versions, sizeof versions);
  const char *text[][2] = {{"config", s->cfg->text},
                           {"library_versions", versions},
                           {"git_revision", FLOWGEN_GIT_REVISION},
                           {"integrator", fg_integrator_name(s->cfg->hmc.integrator)},
                           {"initial_field", "zero (cold start)"}};
  int rc = FG_OK;
  for (size_t k = 0; k < sizeof text / sizeof text[0] && rc == FG_OK; ++k)
    rc = fg_ensemble_set_attr_string(s->ens, text[k][0], text[k][1], err);
  if (rc == FG_OK)
    rc = fg_ensemble_set_attr_int64(s->ens, "ranks", s->nranks, err);
  if (rc == FG_OK)
    rc = fg_ensemble_set_attr_int64(s->ens, "checkpoint_every", s->cfg->hmc.checkpoint_every, err);
  if (rc == FG_OK)
    rc = fg_ensemble_set_theory(s->ens, s->theory, err);
  key_value kv[RESUME_KEYS_MAX];
  int n = resume_keys(s, kv);
  for (int k = 0; k < n && rc == FG_OK; ++k)
    rc = strcmp(kv[k].name, "seed") == 0
             ? fg_ensemble_set_attr_int64(s->ens, "seed", (int64_t)s->cfg->seed, err)
             : fg_ensemble_set_attr_double(s->ens, kv[k].name, kv[k].value, err);
  return rc;
}

static int check_resume_keys(hmc_run *s, fg_error *err)
{
  /* the run identity: seed, theory, couplings, lattice, hmc settings */
  int rc = fg_ensemble_check_identity(s->ens, s->cfg, FG_IDENT_SEED | FG_IDENT_THEORY |
                                      FG_IDENT_HMC, err);
  key_value kv[RESUME_KEYS_MAX];
  int n = resume_keys(s, kv);
  for (int k = 0; k < n && rc == FG_OK; ++k) {
    double v;
    rc = fg_ensemble_get_progress(s->ens, kv[k].name, &v, err);
    if (rc == FG_OK && v != kv[k].value)
      rc = fg_fail(err, FG_ERR_INPUT, "fg_hmc_run [run.c]",
                   "%s.tmp: %s is %.17g in the interrupted run but %.17g now: resume with "
                   "the config (and rank count) of the interrupted run",
                   s->path, kv[k].name, v, kv[k].value);
  }
  return rc;
}

/* Where the interrupted run stood, and its field. */
static int load_resume_state(hmc_run *s, fg_error *err)
{
  double v[P_LEN];
  int rc = FG_OK;
  for (int k = 0; k < P_OPTIONAL && rc == FG_OK; ++k)
    rc = fg_ensemble_get_progress(s->ens, PROG_NAMES[k], &v[k], err);
  if (rc != FG_OK)
    return rc;
  for (int k = P_OPTIONAL; k < P_LEN; ++k) {
    fg_error scratch;
    if (fg_ensemble_get_progress(s->ens, PROG_NAMES[k], &v[k], &scratch) != FG_OK)
      v[k] = 0.0;
  }
  s->cg_prev = (fg_solver){.solves = (int64_t)v[P_CG_SOLVES],
                           .iterations = (int64_t)v[P_CG_ITS], .most = (int)v[P_CG_MOST]};
  s->rows_done = (int64_t)v[P_ROWS];
  s->therm_done = (int64_t)v[P_THERM_DONE];
  s->therm_field = v[P_THERM_FIELD] != 0.0;
  s->accepted = (int64_t)v[P_ACCEPTED];
  s->sum_exp_mdh = v[P_EXP_MDH];
  s->forces_prev = (int64_t)v[P_FORCES];
  s->wall = v[P_WALL];
  s->cpu = v[P_CPU];
  s->therm_wall = v[P_THERM_WALL];
  if (s->rows_done < 0 || s->rows_done > s->ntraj || s->therm_done < 0 ||
      s->therm_done > s->ntherm || (s->rows_done > 0 && s->therm_done != s->ntherm))
    return fg_fail(err, FG_ERR_INPUT, "fg_hmc_run [run.c]",
                   "%s.tmp: inconsistent resume state (rows_done %lld, thermalization_done "
                   "%lld of %lld)", s->path, (long long)s->rows_done,
                   (long long)s->therm_done, (long long)s->ntherm);
  if (s->rows_done > 0)
    return fg_ensemble_read_rows(s->ens, s->rows_done - 1, 1, s->phi, err);
  if (s->therm_field && s->therm_done > 0) {
    rc = fg_ensemble_read_rows(s->ens, 0, 1, s->phi, err);
    double want = -1, S;
    fg_error scratch;
    if (rc == FG_OK && fg_ensemble_get_progress(s->ens, "thermalization_field_checksum", &want,
                                                &scratch) != FG_OK)
      want = -1; /* not recorded: the field cannot be trusted */
    if (rc != FG_OK)
      return rc;
    fg_theory_action(s->theory, s->phi, 1, &S);
    if (field_checksum(s, S) == want)
      return FG_OK;
    /* row 0 is a later field than the count says (a kill between the two) */
  }
  /* No saved field: thermalise again from zero (the same bits; see above). */
  s->therm_done = 0;
  s->therm_field = 0;
  s->forces_prev = 0;
  s->cg_prev = (fg_solver){0};
  memset(s->phi, 0, sizeof(double) * (size_t)s->V);
  return FG_OK;
}

static int open_file(hmc_run *s, fg_error *err)
{
  fg_ensemble_layout lay = {.kind = FG_ENSEMBLE_HMC, .nd = s->cfg->theory.nd,
                            .n_configs = s->ntraj, .n_chain = s->ntraj,
                            .components = fg_theory_components(s->theory)};
  memcpy(lay.extent, s->cfg->theory.extent, sizeof lay.extent);
  if (!s->opt->resume) {
    char tmp[FG_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", s->path);
    if (access(s->path, F_OK) == 0)
      return fg_fail(err, FG_ERR_INPUT, "fg_hmc_run [run.c]",
                     "%s: the output exists; remove it or choose another hmc.output", s->path);
    /* never throw away an interrupted run's trajectories */
    if (access(tmp, F_OK) == 0)
      return fg_fail(err, FG_ERR_INPUT, "fg_hmc_run [run.c]",
                     "%s: an interrupted run left it: continue it with --resume, or discard "
                     "it and start over with --overwrite", tmp);
    char what[FG_PATH_MAX + 64];
    snprintf(what, sizeof what, "%s: hmc.trajectories: value %lld",
             s->cfg->path ? s->cfg->path : "config", (long long)s->ntraj);
    int rc = fg_ensemble_check_space(s->path, &lay, what, err);
    if (rc == FG_OK)
      rc = fg_ensemble_create(MPI_COMM_SELF, s->path, &lay, &s->ens, err);
    if (rc == FG_OK)
      rc = write_provenance(s, err);
    if (rc == FG_OK)
      rc = set_progress(s, err); /* the resume state of "nothing done" */
    return rc == FG_OK ? fg_ensemble_flush(s->ens, err) : rc;
  }
  int rc = fg_ensemble_reopen(MPI_COMM_SELF, s->path, &lay, &s->ens, err);
  if (rc == FG_OK)
    rc = check_resume_keys(s, err);
  if (rc == FG_OK)
    rc = load_resume_state(s, err);
  return rc;
}

static int setup(hmc_run *s, fg_error *err)
{
  static const char where[] = "fg_hmc_run [run.c]";
  const fg_config *cfg = s->cfg;
  if (!cfg->hmc.present)
    return fg_fail(err, FG_ERR_INPUT, where, "%s: hmc: section missing",
                   cfg->path ? cfg->path : "config");
  fg_hmc_output_path(cfg->hmc.output, s->rank, s->nranks, s->path, sizeof s->path);
  s->ntherm = cfg->hmc.thermalization;
  s->ntraj = cfg->hmc.trajectories;
  fg_hmc_params p;
  fg_hmc_params_from_config(&cfg->hmc, &p);
  int rc = fg_theory_create(&cfg->theory, &s->theory, err);
  if (rc == FG_OK) {
    (void)fg_theory_set_solver(s->theory, cfg->hmc.cg_tolerance, cfg->hmc.cg_max_iterations);
    rc = fg_hmc_create(s->theory, &p, &s->hmc, err);
  }
  if (rc != FG_OK)
    return rc;
  s->V = fg_theory_ndof(s->theory);
  int64_t cap = BUFFER_DOUBLES / s->V;
  cap = cap < cfg->hmc.checkpoint_every ? cap : cfg->hmc.checkpoint_every;
  s->cap = cap < 1 ? 1 : cap;
  s->phi = fg_alloc(sizeof(double) * (size_t)s->V, err, where);
  s->rows = fg_alloc(sizeof(double) * (size_t)(s->cap * s->V), err, where);
  s->action = fg_alloc(sizeof(double) * (size_t)s->cap, err, where);
  s->index = fg_alloc(sizeof(int64_t) * (size_t)s->cap, err, where);
  s->acc = fg_alloc((size_t)s->cap, err, where);
  if (!s->phi || !s->rows || !s->action || !s->index || !s->acc)
    return FG_ERR_RUNTIME;
  return open_file(s, err);
}

/* Final figures: root attributes and res. */
static int finish(hmc_run *s, fg_hmc_result *res, fg_error *err)
{
  snprintf(res->output, sizeof res->output, "%s", s->path);
  res->stream_id = s->rank;
  res->trajectories = s->rows_done;
  res->thermalized = s->therm_done;
  res->complete = s->rows_done == s->ntraj;
  res->acceptance = s->rows_done > 0 ? (double)s->accepted / (double)s->rows_done : 0.0;
  res->exp_minus_dH = s->rows_done > 0 ? s->sum_exp_mdh / (double)s->rows_done : NAN;
  res->wall_seconds = s->wall;
  res->cpu_seconds = s->cpu;
  res->thermalization_seconds = s->therm_wall;
  res->force_evaluations = s->forces_prev + fg_hmc_force_evaluations(s->hmc);
  fg_solver cg;
  res->has_solver = fg_theory_solver_stats(s->theory, &cg) &&
                   s->cfg->hmc.fermions == FG_FERMIONS_PSEUDOFERMION;
  res->cg_solves = s->cg_prev.solves + cg.solves;
  res->cg_iterations = s->cg_prev.iterations + cg.iterations;
  res->cg_most = cg.most > s->cg_prev.most ? cg.most : s->cg_prev.most;
  int rc = fg_ensemble_set_attr_double(s->ens, "acceptance", res->acceptance, err);
  if (rc == FG_OK)
    rc = fg_ensemble_set_attr_double(s->ens, "exp_minus_dH", res->exp_minus_dH, err);
  if (rc == FG_OK)
    rc = set_progress(s, err); /* wall, CPU and force figures, as of now */
  return rc;
}

static void teardown(hmc_run *s)
{
  fg_free(s->phi);
  fg_free(s->rows);
  fg_free(s->action);
  fg_free(s->index);
  fg_free(s->acc);
  fg_hmc_destroy(s->hmc);
  fg_theory_destroy(s->theory);
}

int fg_hmc_run(const fg_config *cfg, const fg_hmc_options *opt, fg_hmc_result *res,
               fg_error *err)
{
  hmc_run s;
  memset(&s, 0, sizeof s);
  memset(res, 0, sizeof *res);
  s.cfg = cfg;
  s.opt = opt;
  MPI_Comm_rank(opt->comm, &s.rank);
  MPI_Comm_size(opt->comm, &s.nranks);
  int rc = fg_agree(opt->comm, setup(&s, err), err);
  s.mark_wall = fg_wall_time();
  s.mark_cpu = fg_cpu_time();
  if (rc == FG_OK)
    rc = run_chain(&s, err);
  if (rc == FG_OK)
    rc = finish(&s, res, err);
  if (s.ens != NULL) {
    int rc2 = fg_ensemble_close(s.ens, rc == FG_OK && res->complete, rc == FG_OK ? err : NULL);
    rc = rc == FG_OK ? rc2 : rc;
  }
  teardown(&s);
  return fg_agree(opt->comm, rc, err);
}
