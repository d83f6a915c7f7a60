/*
 * session.c -- the sampling session: what the coordinator and the workers
 * of the sampling service share, as a library (see sample.h). The role
 * loops themselves live in coordinator/ and worker/, on top of this.
 *
 * The file's resume state is the progress attributes below, in this order
 * (docs/sampling.md): rows_done (= chain steps), the chain's current
 * proposal, its log-weight and accepted count, wall and CPU seconds, and
 * the ESS sums logw_max, logw_sum_w, logw_sum_w2 (analysis.h's FG_ESS_MAX,
 * _S1, _S2; the sums of w^3 and w^4 are not kept, so a resumed run has no
 * ESS error, which the sampler does not report anyway).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "flowgen/analysis.h"
#include "flowgen/checkpoint.h"
#include "flowgen/ensemble.h"
#include "flowgen/flow.h"
#include "flowgen/model.h"
#include "flowgen/rng.h"
#include "flowgen/sample.h"
#include "flowgen/util.h"
#include "flowgen_build.h"

enum { L = FG_VLEN };

enum { PROG_ROWS, PROG_CURRENT, PROG_CURRENT_LOGW, PROG_ACCEPTED, PROG_WALL, PROG_CPU, PROG_W_MAX,
       PROG_W_S1, PROG_W_S2, PROG_LEN };

static const char *const PROG_NAMES[PROG_LEN] = {
    "rows_done", "chain_current", "chain_current_logw", "chain_accepted", "wall_seconds",
    "cpu_seconds", "logw_max", "logw_sum_w", "logw_sum_w2"};

struct fg_sample_session {
  const fg_config *cfg;
  const fg_sample_options *opt;
  int rank, nranks;
  fg_theory *theory;
  fg_flow *flow;
  fg_model_block blk;     /* this rank's block for drawing (made at the first draw) */
  int blk_ready;
  fg_ensemble *ens;
  fg_sample_plan plan;
  fg_sample_state start;  /* where this run starts: nothing done, or the file's state */
  double wall_prev, cpu_prev, t_start, cpu_start;
};

/* ------------------------------------------------------------ the state */

/* The progress values of state st, with the seconds of earlier runs plus,
 * when `running`, this run's so far (rank 0's clocks). */
static void state_values(const fg_sample_session *s, const fg_sample_state *st, int running,
                         double *v)
{
  v[PROG_ROWS] = (double)st->chain.steps;
  v[PROG_CURRENT] = (double)st->chain.current;
  v[PROG_CURRENT_LOGW] = st->chain.current_logw;
  v[PROG_ACCEPTED] = (double)st->chain.accepted;
  v[PROG_WALL] = s->wall_prev + (running ? fg_wall_time() - s->t_start : 0.0);
  v[PROG_CPU] = s->cpu_prev + (running ? fg_cpu_time() - s->cpu_start : 0.0);
  v[PROG_W_MAX] = st->ess[FG_ESS_MAX];
  v[PROG_W_S1] = st->ess[FG_ESS_S1];
  v[PROG_W_S2] = st->ess[FG_ESS_S2];
}

static int save_state(fg_sample_session *s, const double *v, fg_error *err)
{
  int rc = FG_OK;
  for (int k = 0; k < PROG_LEN && rc == FG_OK; ++k)
    rc = fg_ensemble_set_progress(s->ens, PROG_NAMES[k], v[k], err);
  return rc == FG_OK ? fg_ensemble_flush(s->ens, err) : rc;
}

/* The state an interrupted run left in the file (every rank reads it). */
static int load_state(fg_sample_session *s, fg_error *err)
{
  double v[PROG_LEN];
  fg_sample_state *st = &s->start;
  int rc = FG_OK;
  for (int k = 0; k < PROG_LEN && rc == FG_OK; ++k)
    rc = fg_ensemble_get_progress(s->ens, PROG_NAMES[k], &v[k], err);
  if (rc != FG_OK)
    return rc;
  st->chain.steps = (int64_t)v[PROG_ROWS];
  st->chain.current = (int64_t)v[PROG_CURRENT];
  st->chain.current_logw = v[PROG_CURRENT_LOGW];
  st->chain.accepted = (int64_t)v[PROG_ACCEPTED];
  s->wall_prev = v[PROG_WALL];
  s->cpu_prev = v[PROG_CPU];
  st->ess[FG_ESS_MAX] = v[PROG_W_MAX];
  st->ess[FG_ESS_S1] = v[PROG_W_S1];
  st->ess[FG_ESS_S2] = v[PROG_W_S2];
  st->ess[FG_ESS_S3] = st->ess[FG_ESS_S4] = NAN; /* not stored: no error estimate */
  st->ess[FG_ESS_N] = (double)st->chain.steps;
  const int batch = s->plan.batch;
  if (st->chain.steps % batch != 0 && st->chain.steps != s->plan.proposals)
    return fg_fail(err, FG_ERR_INPUT, "fg_sample_open [session.c]",
                   "%s.tmp: %lld proposals done is not a multiple of sample.batch_size %d: "
                   "resume with the batch size of the interrupted run",
                   s->cfg->sample.output, (long long)st->chain.steps, batch);
  s->plan.first_batch = st->chain.steps / batch;
  return FG_OK;
}

/* ------------------------------------------------------------- set-up */

/* The model: the checkpoint's architecture on the config's lattice (volume
 * transfer needs nothing more: the conv weights are geometry-free). */
static int load_model(fg_sample_session *s, fg_checkpoint *ck, fg_error *err)
{
  int rc = fg_checkpoint_read(s->cfg->sample.model, ck, err);
  if (rc == FG_OK)
    rc = fg_theory_create(&s->cfg->theory, &s->theory, err);
  if (rc == FG_OK)
    rc = fg_flow_create(&ck->model, fg_theory_lattice(s->theory), &s->flow, err);
  if (rc == FG_OK)
    fg_flow_set_params(s->flow, ck->params);
  return rc;
}

/* SHA-256 of the model checkpoint, the same on every rank. */
static int model_sha(const fg_sample_session *s, char sha[65], fg_error *err)
{
  int rc = s->rank == 0 ? fg_sha256_file(s->cfg->sample.model, sha, err) : FG_OK;
  MPI_Bcast(sha, 65, MPI_CHAR, 0, s->opt->comm);
  return fg_agree(s->opt->comm, rc, err);
}

/* The run identity (issue 9, item 5): seed, theory and couplings, lattice,
 * model and sample settings as the interrupted run recorded them, and the
 * model checkpoint's bytes. Every rank reads the same attributes. */
static int check_identity(fg_sample_session *s, fg_error *err)
{
  char tmp[FG_PATH_MAX + 8];
  snprintf(tmp, sizeof tmp, "%s.tmp", s->cfg->sample.output);
  char *stored_sha = NULL, sha[65] = "";
  int rc = fg_ensemble_check_identity(s->ens, s->cfg, FG_IDENT_SEED | FG_IDENT_THEORY |
                                      FG_IDENT_MODEL | FG_IDENT_SAMPLE, err);
  if (rc == FG_OK)
    rc = fg_ensemble_get_attr_string(s->ens, "model_sha256", &stored_sha, err);
  if (rc == FG_OK)
    rc = model_sha(s, sha, err);
  if (rc == FG_OK && strcmp(sha, stored_sha) != 0)
    rc = fg_fail(err, FG_ERR_INPUT, "fg_sample_open [session.c]", "%s: cannot resume: "
                 "sample.model '%s' has SHA-256 %.16s... in the file (model_sha256) but "
                 "%.16s... now: a different or retrained model; sample it into a new output",
                 tmp, s->cfg->sample.model, stored_sha, sha);
  fg_free(stored_sha);
  return rc;
}

static int open_file(fg_sample_session *s, fg_error *err)
{
  const fg_config *cfg = s->cfg;
  fg_ensemble_layout lay = {.kind = FG_ENSEMBLE_FLOW, .nd = cfg->theory.nd,
                            .n_configs = cfg->sample.proposals, .n_chain = cfg->sample.proposals,
                            .components = fg_theory_components(s->theory)};
  memcpy(lay.extent, cfg->theory.extent, sizeof lay.extent);
  if (!s->opt->resume) {
    /* Never overwrite finished or interrupted work (rank 0 looks). */
    char tmp[FG_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", cfg->sample.output);
    int rc = FG_OK;
    if (s->rank == 0 && access(cfg->sample.output, F_OK) == 0)
      rc = fg_fail(err, FG_ERR_INPUT, "fg_sample_open [session.c]",
                   "%s: sample.output exists; remove it or choose another name",
                   cfg->sample.output);
    else if (s->rank == 0 && access(tmp, F_OK) == 0)
      rc = fg_fail(err, FG_ERR_INPUT, "fg_sample_open [session.c]",
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
  if (rc == FG_OK)
    rc = load_state(s, err); /* a file stopped before its first save holds "nothing done" */
  return rc;
}

/* Provenance attributes, identical on every rank (collective). */
static int write_provenance(fg_sample_session *s, const fg_checkpoint *ck, fg_error *err)
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
    rc = fg_ensemble_set_attr_int64(s->ens, "batch_size", s->plan.batch, err);
  if (rc == FG_OK)
    rc = fg_ensemble_set_attr_double(s->ens, "model_setup_seconds", ck->wall_seconds, err);
  if (rc == FG_OK)
    rc = fg_ensemble_set_attr_int64(s->ens, "model_n_train", ck->n_train, err);
  if (rc == FG_OK)
    rc = fg_ensemble_set_attr_double(s->ens, "model_ess", ck->ess, err);
  if (rc == FG_OK)
    rc = fg_ensemble_set_theory(s->ens, s->theory, err);
  /* the resume state of "nothing done": a stop from here on can be resumed */
  double v[PROG_LEN];
  state_values(s, &s->start, 0, v);
  if (rc == FG_OK)
    rc = save_state(s, v, err);
  return rc;
}

/* ------------------------------------------------------ the public calls */

static int64_t round_batches(const fg_config *cfg)
{
  int64_t r = (cfg->sample.flush_every + cfg->sample.batch_size - 1) / cfg->sample.batch_size;
  return r > 0 ? r : 1;
}

static void session_free(fg_sample_session *s)
{
  if (s->blk_ready)
    fg_model_block_free(&s->blk);
  fg_flow_destroy(s->flow);
  fg_theory_destroy(s->theory);
  fg_free(s);
}

int fg_sample_open(const fg_config *cfg, const fg_sample_options *opt, fg_sample_session **out,
                   fg_error *err)
{
  *out = NULL;
  fg_sample_session *s = fg_alloc(sizeof *s, err, "fg_sample_open [session.c]");
  int rc = fg_agree(opt->comm, s != NULL ? FG_OK : FG_ERR_RUNTIME, err);
  if (rc != FG_OK) {
    fg_free(s);
    return rc;
  }
  s->cfg = cfg;
  s->opt = opt;
  s->t_start = fg_wall_time();
  s->cpu_start = fg_cpu_time();
  MPI_Comm_rank(opt->comm, &s->rank);
  MPI_Comm_size(opt->comm, &s->nranks);
  s->plan.proposals = cfg->sample.proposals;
  s->plan.batch = cfg->sample.batch_size;
  s->plan.round_batches = round_batches(cfg);
  fg_ess_reset(s->start.ess);
  fg_imh_init(&s->start.chain, cfg->seed);
  fg_checkpoint ck;
  memset(&ck, 0, sizeof ck);
  rc = fg_agree(opt->comm, load_model(s, &ck, err), err);
  if (rc == FG_OK)
    rc = open_file(s, err);
  if (rc == FG_OK && !opt->resume)
    rc = write_provenance(s, &ck, err);
  rc = fg_agree(opt->comm, rc, err);
  fg_checkpoint_free(&ck);
  if (rc != FG_OK) {
    if (s->ens != NULL)
      fg_ensemble_close(s->ens, 0, NULL); /* an interrupted file stays for --resume */
    session_free(s);
    return rc;
  }
  *out = s;
  return FG_OK;
}

void fg_sample_session_plan(const fg_sample_session *s, fg_sample_plan *plan)
{
  *plan = s->plan;
}

void fg_sample_session_state(const fg_sample_session *s, fg_sample_state *st)
{
  *st = s->start;
}

int fg_sample_draw(fg_sample_session *s, int64_t batch, fg_row_buffer *buf, fg_error *err)
{
  if (!s->blk_ready) {
    int rc = fg_model_block_init(&s->blk, s->flow, err);
    if (rc != FG_OK)
      return rc;
    s->blk_ready = 1;
  }
  fg_model_block *b = &s->blk;
  const int ndof = fg_theory_ndof(s->theory);
  const int64_t first = batch * s->plan.batch;
  const int64_t n = s->plan.proposals - first < s->plan.batch ? s->plan.proposals - first
                                                              : s->plan.batch;
  int rc = fg_row_buffer_reserve(buf, n, 1, ndof, err);
  if (rc != FG_OK)
    return rc;
  buf->first[buf->nruns] = first;
  buf->count[buf->nruns] = n;
  buf->nruns++;
  for (int64_t j0 = 0; j0 < n; j0 += L) {
    int nv = n - j0 < L ? (int)(n - j0) : L;
    fg_model_sample_block(s->theory, s->flow, b, s->cfg->seed, FG_RNG_SAMPLE,
                          (uint64_t)(first + j0), nv);
    for (int l = 0; l < nv; ++l) {
      int64_t r = buf->rows + j0 + l;
      double *row = buf->configs + (size_t)r * (size_t)ndof;
      for (int y = 0; y < ndof; ++y)
        row[y] = b->phi[y * L + l];
      buf->logq[r] = b->logq[l];
      buf->action[r] = b->action[l];
      buf->logw[r] = b->logw[l];
    }
  }
  buf->rows += n;
  return FG_OK;
}

int fg_sample_flush(fg_sample_session *s, fg_row_buffer *rows, int64_t chain_first,
                    int64_t chain_count, const int64_t *index, const uint8_t *accepted,
                    const fg_sample_state *st, fg_error *err)
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
  double v[PROG_LEN];
  state_values(s, st != NULL ? st : &s->start, 1, v); /* the file takes rank 0's values */
  if (rc == FG_OK)
    rc = save_state(s, v, err);
  rows->nruns = 0;
  rows->rows = 0;
  return rc;
}

/* Final figures, agreed by all ranks, as root attributes and in res. */
static int finish(fg_sample_session *s, const fg_sample_state *st, fg_sample_result *res,
                  fg_error *err)
{
  double fig[5] = {(double)st->chain.steps, (double)st->chain.accepted,
                   s->wall_prev + fg_wall_time() - s->t_start, 0.0, 0.0};
  double cpu = fg_cpu_time() - s->cpu_start;
  MPI_Allreduce(MPI_IN_PLACE, &cpu, 1, MPI_DOUBLE, MPI_SUM, s->opt->comm);
  fig[3] = s->cpu_prev + cpu;
  fig[4] = fg_ess_value(st->ess, NULL);
  MPI_Bcast(fig, 5, MPI_DOUBLE, 0, s->opt->comm);
  res->proposals = (int64_t)fig[0];
  res->complete = res->proposals == s->plan.proposals;
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

int fg_sample_close(fg_sample_session *s, int rc, const fg_sample_state *st,
                    fg_sample_result *res, fg_error *err)
{
  memset(res, 0, sizeof *res);
  rc = fg_agree(s->opt->comm, rc, err);
  if (rc == FG_OK)
    rc = finish(s, st != NULL ? st : &s->start, res, err);
  int rc2 = fg_ensemble_close(s->ens, rc == FG_OK && res->complete, rc == FG_OK ? err : NULL);
  if (rc == FG_OK)
    rc = rc2;
  session_free(s);
  return rc;
}
