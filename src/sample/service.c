/*
 * service.c -- set-up and tear-down of the sampling service, and the
 * collective flush shared by the coordinator and the workers (see sample.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "flowgen/analysis.h"
#include "flowgen/checkpoint.h"
#include "flowgen/sample.h"
#include "flowgen/train.h"
#include "flowgen/util.h"
#include "flowgen_build.h"

static const char *const PROG_NAMES[FG_PROG_LEN] = {
    "rows_done", "chain_current", "chain_current_logw", "chain_accepted", "wall_seconds",
    "cpu_seconds", "logw_max", "logw_sum_w", "logw_sum_w2"};

/* Collective: rows of every rank, the chain from rank 0, the resume state. */
int fg_sample_flush(fg_sample_ctx *s, fg_row_buffer *rows, int64_t chain_first,
                    int64_t chain_count, const int64_t *index, const uint8_t *accepted,
                    const double *progress, fg_error *err)
{
  int rc = fg_ensemble_write_rows(s->ens, rows->nruns, rows->first, rows->count, rows->configs,
                                  rows->logq, rows->action, rows->logw, err);
  if (rc == FG_OK) {
    /* Every rank passes the coordinator's extent; only rank 0's data is used. */
    double ext[2] = {(double)chain_first, (double)chain_count};
    MPI_Bcast(ext, 2, MPI_DOUBLE, 0, s->opt->comm);
    rc = fg_ensemble_write_chain(s->ens, (int64_t)ext[0], (int64_t)ext[1], index, accepted, 0,
                                 err);
  }
  for (int k = 0; k < FG_PROG_LEN && rc == FG_OK; ++k)
    rc = fg_ensemble_set_progress(s->ens, PROG_NAMES[k], progress[k], err);
  if (rc == FG_OK)
    rc = fg_ensemble_flush(s->ens, err);
  return rc;
}

/* The model: the checkpoint's architecture on the config's lattice (volume
 * transfer needs nothing more: the conv weights are geometry-free). */
static int load_model(fg_sample_ctx *s, fg_checkpoint *ck, fg_error *err)
{
  const char *path = s->cfg->sample.model;
  int rc = fg_checkpoint_read(path, ck, err);
  if (rc == FG_OK)
    rc = fg_theory_create(&s->cfg->theory, &s->theory, err);
  if (rc == FG_OK)
    rc = fg_flow_create(&ck->model, &s->theory->lat, &s->flow, err);
  if (rc == FG_OK)
    fg_flow_set_params(s->flow, ck->params);
  return rc;
}

/* The resume state as it stands (at creation: nothing done), so that a
 * stop at any point after the file exists leaves a resumable file. */
static void state_values(const fg_sample_ctx *s, double *v)
{
  v[FG_PROG_ROWS] = (double)s->chain.steps;
  v[FG_PROG_CURRENT] = (double)s->chain.current;
  v[FG_PROG_CURRENT_LOGW] = s->chain.current_logw;
  v[FG_PROG_ACCEPTED] = (double)s->chain.accepted;
  v[FG_PROG_WALL] = s->wall_prev;
  v[FG_PROG_CPU] = s->cpu_prev;
  v[FG_PROG_W_MAX] = s->ess[FG_ESS_MAX];
  v[FG_PROG_W_S1] = s->ess[FG_ESS_S1];
  v[FG_PROG_W_S2] = s->ess[FG_ESS_S2];
}

static int save_start_state(fg_sample_ctx *s, fg_error *err)
{
  double v[FG_PROG_LEN];
  state_values(s, v);
  int rc = FG_OK;
  for (int k = 0; k < FG_PROG_LEN && rc == FG_OK; ++k)
    rc = fg_ensemble_set_progress(s->ens, PROG_NAMES[k], v[k], err);
  return rc == FG_OK ? fg_ensemble_flush(s->ens, err) : rc;
}

/* SHA-256 of the model checkpoint, the same on every rank. */
static int model_sha(const fg_sample_ctx *s, char sha[65], fg_error *err)
{
  int rc = s->rank == 0 ? fg_sha256_file(s->cfg->sample.model, sha, err) : FG_OK;
  MPI_Bcast(sha, 65, MPI_CHAR, 0, s->opt->comm);
  return fg_agree(s->opt->comm, rc, err);
}

/* The run identity (issue 9, item 5): seed, theory and couplings, lattice,
 * model and sample settings as the interrupted run recorded them, and the
 * model checkpoint's bytes. Every rank reads the same attributes. */
static int check_identity(fg_sample_ctx *s, fg_error *err)
{
  static const char where[] = "fg_sample_run [service.c]";
  char tmp[FG_PATH_MAX + 8];
  snprintf(tmp, sizeof tmp, "%s.tmp", s->cfg->sample.output);
  char *text = NULL, *stored_sha = NULL, sha[65] = "";
  int rc = fg_ensemble_get_attr_string(s->ens, "config", &text, err);
  if (rc == FG_OK) {
    fg_config stored;
    memset(&stored, 0, sizeof stored);
    fg_error perr = {0};
    if (fg_config_parse(text, strlen(text), NULL, &stored, &perr) != FG_OK)
      rc = fg_fail(err, FG_ERR_INPUT, where, "%s: cannot resume: its 'config' attribute does "
                   "not parse: %s", tmp, perr.msg);
    else
      rc = fg_config_check_resume(&stored, s->cfg, FG_IDENT_SEED | FG_IDENT_THEORY |
                                  FG_IDENT_MODEL | FG_IDENT_SAMPLE, tmp, err);
    fg_config_free(&stored);
  }
  if (rc == FG_OK)
    rc = fg_ensemble_get_attr_string(s->ens, "model_sha256", &stored_sha, err);
  if (rc == FG_OK)
    rc = model_sha(s, sha, err);
  if (rc == FG_OK && strcmp(sha, stored_sha) != 0)
    rc = fg_fail(err, FG_ERR_INPUT, where, "%s: cannot resume: sample.model '%s' has SHA-256 "
                 "%.16s... in the file (model_sha256) but %.16s... now: a different or "
                 "retrained model; sample it into a new output", tmp, s->cfg->sample.model,
                 stored_sha, sha);
  fg_free(text);
  fg_free(stored_sha);
  return rc;
}

static int open_file(fg_sample_ctx *s, fg_error *err)
{
  const fg_config *cfg = s->cfg;
  fg_ensemble_layout lay = {.kind = FG_ENSEMBLE_FLOW, .nd = cfg->theory.nd,
                            .n_configs = cfg->sample.proposals, .n_chain = cfg->sample.proposals,
                            .components = s->theory->ndof / s->theory->lat.volume};
  memcpy(lay.extent, cfg->theory.extent, sizeof lay.extent);
  if (!s->opt->resume) {
    /* Never overwrite finished or interrupted work (rank 0 looks). */
    char tmp[FG_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", cfg->sample.output);
    int rc = FG_OK;
    if (s->rank == 0 && access(cfg->sample.output, F_OK) == 0)
      rc = fg_fail(err, FG_ERR_INPUT, "fg_sample_run [service.c]",
                   "%s: sample.output exists; remove it or choose another name",
                   cfg->sample.output);
    else if (s->rank == 0 && access(tmp, F_OK) == 0)
      rc = fg_fail(err, FG_ERR_INPUT, "fg_sample_run [service.c]",
                   "%s: an interrupted run left it: continue it with --resume, or "
                   "discard it and start over with --overwrite", tmp);
    if ((rc = fg_agree(s->opt->comm, rc, err)) != FG_OK)
      return rc;
    /* refuse what the file system cannot hold before anything is made */
    char what[FG_PATH_MAX + 64];
    snprintf(what, sizeof what, "%s: sample.proposals: value %lld",
             cfg->path ? cfg->path : "config", (long long)cfg->sample.proposals);
    rc = s->rank == 0 ? fg_ensemble_check_space(cfg->sample.output, &lay, what, err) : FG_OK;
    if ((rc = fg_agree(s->opt->comm, rc, err)) != FG_OK)
      return rc;
    return fg_ensemble_create(s->opt->comm, cfg->sample.output, &lay, &s->ens, err);
  }
  int rc = fg_ensemble_reopen(s->opt->comm, cfg->sample.output, &lay, &s->ens, err);
  if (rc == FG_OK)
    rc = check_identity(s, err);
  double v[FG_PROG_LEN];
  state_values(s, v); /* a file stopped before its first save holds no more than these */
  for (int k = 0; k < FG_PROG_LEN && rc == FG_OK; ++k)
    rc = fg_ensemble_get_progress(s->ens, PROG_NAMES[k], &v[k], err);
  if (rc == FG_OK) {
    s->chain.steps = (int64_t)v[FG_PROG_ROWS];
    s->chain.current = (int64_t)v[FG_PROG_CURRENT];
    s->chain.current_logw = v[FG_PROG_CURRENT_LOGW];
    s->chain.accepted = (int64_t)v[FG_PROG_ACCEPTED];
    s->wall_prev = v[FG_PROG_WALL];
    s->cpu_prev = v[FG_PROG_CPU];
    s->ess[FG_ESS_MAX] = v[FG_PROG_W_MAX];
    s->ess[FG_ESS_S1] = v[FG_PROG_W_S1];
    s->ess[FG_ESS_S2] = v[FG_PROG_W_S2];
    s->ess[FG_ESS_S3] = s->ess[FG_ESS_S4] = NAN; /* not stored: no error estimate */
    s->ess[FG_ESS_N] = (double)s->chain.steps;
    if (s->chain.steps % s->batch != 0 && s->chain.steps != s->n)
      rc = fg_fail(err, FG_ERR_INPUT, "fg_sample_run [service.c]",
                   "%s.tmp: %lld proposals done is not a multiple of sample.batch_size %d: "
                   "resume with the batch size of the interrupted run",
                   cfg->sample.output, (long long)s->chain.steps, s->batch);
    s->first_batch = s->chain.steps / s->batch;
  }
  return rc;
}

/* Provenance attributes, identical on every rank (collective). */
static int write_provenance(fg_sample_ctx *s, const fg_checkpoint *ck, fg_error *err)
{
  char sha[65] = "";
  int rc = model_sha(s, sha, err);
  char versions[512];
  fg_library_versions(versions, sizeof versions);
  if (rc == FG_OK)
    rc = fg_ensemble_set_attr_string(s->ens, "config", s->cfg->text, err);
  if (rc == FG_OK)
    rc = fg_ensemble_set_attr_string(s->ens, "model", s->cfg->sample.model, err);
  if (rc == FG_OK)
    rc = fg_ensemble_set_attr_string(s->ens, "model_sha256", sha, err);
  if (rc == FG_OK)
    rc = fg_ensemble_set_attr_string(s->ens, "library_versions", versions, err);
  if (rc == FG_OK)
    rc = fg_ensemble_set_attr_string(s->ens, "git_revision", FLOWGEN_GIT_REVISION, err);
  if (rc == FG_OK)
    rc = fg_ensemble_set_attr_int64(s->ens, "seed", (int64_t)s->cfg->seed, err);
  if (rc == FG_OK)
    rc = fg_ensemble_set_attr_int64(s->ens, "ranks", s->nranks, err);
  if (rc == FG_OK)
    rc = fg_ensemble_set_attr_int64(s->ens, "batch_size", s->batch, err);
  if (rc == FG_OK)
    rc = fg_ensemble_set_attr_double(s->ens, "model_setup_seconds", ck->wall_seconds, err);
  if (rc == FG_OK)
    rc = fg_ensemble_set_attr_int64(s->ens, "model_n_train", ck->n_train, err);
  if (rc == FG_OK)
    rc = fg_ensemble_set_attr_double(s->ens, "model_ess", ck->ess, err);
  if (rc == FG_OK)
    rc = fg_ensemble_set_attr_string(s->ens, "theory", fg_theory_name(s->cfg->theory.name), err);
  fg_coupling g[FG_MAX_COUPLINGS];
  int ng = fg_theory_couplings(&s->cfg->theory, g);
  for (int k = 0; k < ng && rc == FG_OK; ++k)
    rc = fg_ensemble_set_attr_double(s->ens, g[k].name, g[k].value, err);
  /* the resume state of "nothing done": a stop from here on can be resumed */
  if (rc == FG_OK)
    rc = save_start_state(s, err);
  return rc;
}

/* Final figures, agreed by all ranks, as root attributes and in res. */
static int finish(fg_sample_ctx *s, fg_sample_result *res, fg_error *err)
{
  double fig[5] = {(double)s->chain.steps, (double)s->chain.accepted,
                   s->wall_prev + fg_wall_time() - s->t_start, 0.0, 0.0};
  double cpu = fg_cpu_time() - s->cpu_start;
  MPI_Allreduce(MPI_IN_PLACE, &cpu, 1, MPI_DOUBLE, MPI_SUM, s->opt->comm);
  fig[3] = s->cpu_prev + cpu;
  fig[4] = fg_ess_value(s->ess, NULL);
  MPI_Bcast(fig, 5, MPI_DOUBLE, 0, s->opt->comm);
  res->proposals = (int64_t)fig[0];
  res->complete = res->proposals == s->n;
  res->acceptance = fig[0] > 0 ? fig[1] / fig[0] : 0.0;
  res->wall_seconds = fig[2];
  res->cpu_seconds = fig[3];
  res->ess_model = fig[4];
  int rc = fg_ensemble_set_attr_double(s->ens, "acceptance", res->acceptance, err);
  if (rc == FG_OK)
    rc = fg_ensemble_set_attr_double(s->ens, "wall_seconds", res->wall_seconds, err);
  if (rc == FG_OK)
    rc = fg_ensemble_set_attr_double(s->ens, "cpu_seconds", res->cpu_seconds, err);
  if (rc == FG_OK)
    rc = fg_ensemble_set_attr_double(s->ens, "ess_model", res->ess_model, err);
  return rc;
}

static int64_t round_batches(const fg_config *cfg)
{
  int64_t r = (cfg->sample.flush_every + cfg->sample.batch_size - 1) / cfg->sample.batch_size;
  return r > 0 ? r : 1;
}

int fg_sample_run(const fg_config *cfg, const fg_sample_options *opt, fg_sample_result *res,
                  fg_error *err)
{
  fg_sample_ctx s;
  memset(&s, 0, sizeof s);
  memset(res, 0, sizeof *res);
  s.cfg = cfg;
  s.opt = opt;
  s.t_start = fg_wall_time();
  s.cpu_start = fg_cpu_time();
  MPI_Comm_rank(opt->comm, &s.rank);
  MPI_Comm_size(opt->comm, &s.nranks);
  s.n = cfg->sample.proposals;
  s.batch = cfg->sample.batch_size;
  s.round_batches = round_batches(cfg);
  fg_ess_reset(s.ess);
  fg_imh_init(&s.chain, cfg->seed);
  fg_checkpoint ck;
  int rc = fg_agree(opt->comm, load_model(&s, &ck, err), err);
  if (rc == FG_OK)
    rc = open_file(&s, err);
  if (rc == FG_OK && !opt->resume)
    rc = write_provenance(&s, &ck, err);
  if (rc == FG_OK)
    rc = s.rank == 0 ? fg_coordinator_run(&s, err) : fg_worker_run(&s, err);
  rc = fg_agree(opt->comm, rc, err);
  if (rc == FG_OK)
    rc = finish(&s, res, err);
  if (s.ens != NULL) {
    int rc2 = fg_ensemble_close(s.ens, rc == FG_OK && res->complete, rc == FG_OK ? err : NULL);
    if (rc == FG_OK)
      rc = rc2;
  }
  fg_checkpoint_free(&ck);
  fg_flow_destroy(s.flow);
  fg_theory_destroy(s.theory);
  return rc;
}
