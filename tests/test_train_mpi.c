/* test_train_mpi.c -- training on R ranks (run under mpirun -n 1, 2 or 3): equal to one rank with R x the batch, same initial weights, bit-identical resume, one rank's error or signal ends every rank alike. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowgen/checkpoint.h"
#include "flowgen/flow.h"
#include "flowgen/theory.h"
#include "flowgen/train.h"
#include "testutil.h"

static char *dir;        /* shared by all ranks: rank 0 made it */
static int rank, nranks;

static const char ADAM[] = "{name: adam, lr: 3.0e-3}";
/* Unlike Adam, SGD feels the scale of the gradient (a wrong 1/batch factor). */
static const char SGD[] = "{name: sgd, lr: 1.0e-3, momentum: 0.9}";

enum { BATCH = 13, MAX_ROWS = 64 }; /* not a multiple of FG_VLEN: blocks split differently */

/* True on every rank iff cond holds on every rank. Every assertion goes
 * through it, so that a failure ends the test on all ranks at the same
 * point instead of leaving the others waiting in a collective. */
static int everywhere(int cond)
{
  int all = cond != 0;
  MPI_Allreduce(MPI_IN_PLACE, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
  return all;
}

#define ASSERT_ALL(cond, ...) ck_assert_msg(everywhere(cond), __VA_ARGS__)

/* Whether v has the same value on every rank. */
static int same_everywhere(int v)
{
  int lo, hi;
  MPI_Allreduce(&v, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&v, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return lo == hi;
}

static void path_of(char *out, size_t n, const char *name, const char *suffix)
{
  snprintf(out, n, "%s/%s%s", dir, name, suffix);
}

/* A small model on a 6x6 lattice, `batch` samples per rank, a batch-size
 * schedule (x2 every 2 steps up to 4 x batch) so that the per-rank batch
 * changes during the test. The config file is `name`.yaml (with per_rank,
 * `name`.rankN.yaml: each rank writes and reads its own, for errors that
 * only one rank sees; otherwise rank 0 writes it and every rank reads it),
 * the checkpoint `checkpoint`.h5, the log beside it unless `extra` (appended
 * inside train:) sets train.log; make_config uses Adam. */
static void make_config_at(fg_config *cfg, const char *name, const char *checkpoint,
                           const char *optimizer, int64_t steps, int batch, const char *extra,
                           int per_rank)
{
  char text[8192], path[4700], file[512];
  snprintf(text, sizeof text,
           "seed: 4242\n"
           "theory: {name: phi4, lattice: [6, 6], m2: -1.0, lambda: 0.5}\n"
           "model: {coupling_layers: 4, kernel_size: 3, hidden_channels: [6]}\n"
           "train:\n"
           "  steps: %lld\n"
           "  batch_size: %d\n"
           "  optimizer: %s\n"
           "  schedule: {kind: batch_size, every: 2, factor: 2, max_batch_size: %d}\n"
           "  grad_clip_norm: 100\n"
           "  checkpoint: %s.h5\n"
           "  checkpoint_every: 0\n"
           "  eval_samples: 600\n"
           "%s",
           (long long)steps, batch, optimizer, 4 * batch, checkpoint, extra ? extra : "");
  if (per_rank)
    snprintf(file, sizeof file, "%s.rank%d.yaml", name, rank);
  else
    snprintf(file, sizeof file, "%s.yaml", name);
  path_of(path, sizeof path, file, "");
  int ok = 1;
  if (per_rank || rank == 0)
    ok = fg_test_write_file(path, text) == 0;
  ASSERT_ALL(ok, "cannot write %s", path);
  fg_error err = {0};
  int rc = fg_config_load(path, cfg, &err);
  ASSERT_ALL(rc == FG_OK, "%s", err.msg);
}

static void make_config(fg_config *cfg, const char *name, int64_t steps, int batch,
                        const char *extra, int per_rank)
{
  make_config_at(cfg, name, name, ADAM, steps, batch, extra, per_rank);
}

static int train(const fg_config *cfg, MPI_Comm comm, int resume, int64_t max_steps,
                 volatile sig_atomic_t *flag, fg_train_result *res, fg_error *err)
{
  fg_train_options opt = {.comm = comm, .resume = resume, .stop_flag = flag, .progress = NULL,
                          .max_steps_override = max_steps};
  memset(err, 0, sizeof *err);
  return fg_train_run(cfg, &opt, res, err);
}

/* Trains on all ranks and asserts success everywhere. */
static void train_all(const fg_config *cfg, int resume, int64_t max_steps,
                      volatile sig_atomic_t *flag, fg_train_result *res)
{
  fg_error err;
  int rc = train(cfg, MPI_COMM_WORLD, resume, max_steps, flag, res, &err);
  ASSERT_ALL(rc == FG_OK, "rank %d: rc %d: %s", rank, rc, err.msg);
}

static int read_ck(const char *name, fg_checkpoint *ck)
{
  char path[4096];
  path_of(path, sizeof path, name, ".h5");
  fg_error err = {0};
  int rc = fg_checkpoint_read(path, ck, &err);
  if (rc != FG_OK)
    fprintf(stderr, "rank %d: %s\n", rank, err.msg);
  return rc == FG_OK;
}

typedef struct {
  long long step, batch_rank, batch_global, n_train;
  double lr, loss, ess, wall, grad_norm, allreduce;
} log_row;

/* Reads the CSV log `name`.csv; returns the number of rows, -1 if unreadable. */
static int read_log(const char *name, log_row *rows, int max)
{
  char path[4096], line[1024];
  path_of(path, sizeof path, name, ".csv");
  FILE *f = fopen(path, "r");
  if (f == NULL || fgets(line, sizeof line, f) == NULL) {
    if (f)
      fclose(f);
    return -1;
  }
  int n = 0;
  while (n < max && fgets(line, sizeof line, f)) {
    log_row *r = &rows[n];
    if (sscanf(line, "%lld,%lld,%lld,%lf,%lf,%lf,%lld,%lf,%lf,%lf", &r->step, &r->batch_rank,
               &r->batch_global, &r->lr, &r->loss, &r->ess, &r->n_train, &r->wall, &r->grad_norm,
               &r->allreduce) != 10)
      break;
    ++n;
  }
  fclose(f);
  return n;
}

/* The batch of step s (1-based, as logged) under the configs' schedule. */
static long long scheduled_batch(long long s, long long b)
{
  long long k = (s - 1) / 2;
  long long v = b << (k < 2 ? k : 2);
  return v > 4 * b ? 4 * b : v;
}

/* max |a - b| / max(|a|, |b|, floor) over the vectors. */
static double max_rel_diff(const float *a, const float *b, size_t n, double floor_)
{
  double worst = 0.0;
  for (size_t i = 0; i < n; ++i) {
    double s = fmax(fmax(fabs(a[i]), fabs(b[i])), floor_);
    worst = fmax(worst, fabs((double)a[i] - b[i]) / s);
  }
  return worst;
}

START_TEST(ranks_equal_one_rank_with_the_whole_batch)
{
  const int steps = 6;
  fg_config par, ref;
  fg_train_result rp, rr;
  make_config_at(&par, "parallel", "parallel", SGD, steps, BATCH, NULL, 0);
  make_config_at(&ref, "reference", "reference", SGD, steps, nranks * BATCH, NULL, 0);
  train_all(&par, 0, 0, NULL, &rp);
  /* The one-rank reference runs on rank 0 alone; the others wait. */
  int rc = FG_OK;
  fg_error err = {0};
  if (rank == 0)
    rc = train(&ref, MPI_COMM_SELF, 0, 0, NULL, &rr, &err);
  MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
  ASSERT_ALL(rc == FG_OK, "reference run: %s", err.msg);

  int ok = 1;
  double diff = 0.0, loss_diff = 0.0, ess_diff = 0.0;
  if (rank == 0) {
    fg_checkpoint a, b;
    ok = read_ck("parallel", &a) && read_ck("reference", &b) && a.nparams == b.nparams;
    if (ok) {
      /* They differ only in the order of summation of the gradient. */
      diff = max_rel_diff(a.params, b.params, a.nparams, 1e-3);
      ok = diff < 1e-4 && a.n_train == b.n_train && a.step == steps && a.ranks == nranks &&
           b.ranks == 1 && a.batch_size == scheduled_batch(steps + 1, BATCH) &&
           b.batch_size == nranks * a.batch_size;
      ess_diff = fabs(a.ess - b.ess) / b.ess;
      ok = ok && ess_diff < 1e-3;
    }
    fg_checkpoint_free(&a);
    fg_checkpoint_free(&b);
  }
  ASSERT_ALL(ok, "parameters differ by %g (relative), final ESS by %g", diff, ess_diff);

  /* The logs: per-rank and global batch, N_train, and the same loss and
   * batch ESS step by step (the ESS of the global batch, merged over ranks). */
  if (rank == 0) {
    log_row lp[MAX_ROWS], lr[MAX_ROWS];
    int np = read_log("parallel", lp, MAX_ROWS), nr = read_log("reference", lr, MAX_ROWS);
    long long n_train = 0;
    ok = np == steps && nr == steps;
    for (int i = 0; ok && i < steps; ++i) {
      long long b = scheduled_batch(i + 1, BATCH);
      n_train += b * nranks;
      ok = lp[i].step == i + 1 && lp[i].batch_rank == b && lp[i].batch_global == b * nranks &&
           lp[i].n_train == n_train && lr[i].batch_rank == b * nranks &&
           lr[i].batch_global == b * nranks && lr[i].n_train == n_train;
      loss_diff = fmax(loss_diff, fabs(lp[i].loss - lr[i].loss) / fabs(lr[i].loss));
      /* The ESS column has 6 decimals. */
      ess_diff = fmax(ess_diff, fabs(lp[i].ess - lr[i].ess));
    }
    ok = ok && loss_diff < 1e-5 && ess_diff < 2e-5;
    if (!ok)
      fprintf(stderr, "logs: %d and %d rows, loss differs by %g, ESS by %g\n", np, nr, loss_diff,
              ess_diff);
  }
  ASSERT_ALL(ok, "the logs disagree");

  /* Cost figures: N_train, Delta C_train = C_setup / N_train, and the
   * allreduce clock runs only where there is something to reduce with. */
  ASSERT_ALL(rp.n_train == (long long)nranks * BATCH * (2 + 4 + 8), "N_train %lld",
             (long long)rp.n_train);
  ASSERT_ALL(rp.wall_seconds > 0 && fabs(rp.seconds_per_sample * rp.n_train - rp.wall_seconds) <
                                        1e-9 * rp.wall_seconds,
             "C_setup %g, Delta C_train %g", rp.wall_seconds, rp.seconds_per_sample);
  ASSERT_ALL(rp.allreduce_seconds >= 0 && rp.allreduce_seconds < rp.wall_seconds,
             "allreduce %g s of %g s", rp.allreduce_seconds, rp.wall_seconds);
  ASSERT_ALL(strcmp(rp.stop_reason, "steps") == 0, "stop reason %s", rp.stop_reason);
  fg_config_free(&par);
  fg_config_free(&ref);
}
END_TEST

START_TEST(initial_weights_do_not_depend_on_the_rank_count)
{
  fg_config par, ref;
  fg_train_result r;
  make_config(&par, "init_parallel", 0, BATCH, NULL, 0);
  make_config(&ref, "init_reference", 0, BATCH, NULL, 0);
  train_all(&par, 0, 0, NULL, &r);
  int rc = FG_OK;
  fg_error err = {0};
  if (rank == 0)
    rc = train(&ref, MPI_COMM_SELF, 0, 0, NULL, &r, &err);
  MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
  ASSERT_ALL(rc == FG_OK, "reference run: %s", err.msg);

  /* Every rank builds the model itself and compares with both files. */
  fg_checkpoint a, b;
  int ok = read_ck("init_parallel", &a) & read_ck("init_reference", &b);
  fg_theory *th = NULL;
  fg_flow *flow = NULL;
  ok = ok && fg_theory_create(&par.theory, &th, &err) == FG_OK &&
       fg_flow_create(&par.model, fg_theory_lattice(th), &flow, &err) == FG_OK;
  if (ok) {
    fg_flow_init_params(flow, par.seed);
    size_t n = fg_flow_nparams(flow);
    ok = a.nparams == n && b.nparams == n &&
         memcmp(a.params, fg_flow_params(flow), sizeof(float) * n) == 0 &&
         memcmp(b.params, a.params, sizeof(float) * n) == 0 && a.step == 0 && a.n_train == 0;
  }
  fg_flow_destroy(flow);
  fg_theory_destroy(th);
  fg_checkpoint_free(&a);
  fg_checkpoint_free(&b);
  ASSERT_ALL(ok, "rank %d: initial weights differ (%s)", rank, err.msg);
  fg_config_free(&par);
  fg_config_free(&ref);
}
END_TEST

/* Whether two logs agree bit for bit in every column but the clocks. */
static int same_log(const char *x, const char *y)
{
  log_row a[MAX_ROWS], b[MAX_ROWS];
  int na = read_log(x, a, MAX_ROWS), nb = read_log(y, b, MAX_ROWS);
  if (na <= 0 || na != nb)
    return 0;
  for (int i = 0; i < na; ++i)
    if (a[i].step != b[i].step || a[i].batch_rank != b[i].batch_rank ||
        a[i].batch_global != b[i].batch_global || a[i].n_train != b[i].n_train ||
        a[i].lr != b[i].lr || a[i].loss != b[i].loss || a[i].ess != b[i].ess ||
        a[i].grad_norm != b[i].grad_norm)
      return 0;
  return 1;
}

/* Whether two checkpoints hold the same weights and optimizer state, bit for bit. */
static int same_state(const char *x, const char *y)
{
  fg_checkpoint a, b;
  int ok = read_ck(x, &a) & read_ck(y, &b);
  ok = ok && a.nparams == b.nparams && a.opt_state_len == b.opt_state_len &&
       memcmp(a.params, b.params, sizeof(float) * a.nparams) == 0 &&
       memcmp(a.opt_state, b.opt_state, sizeof(double) * a.opt_state_len) == 0 &&
       a.opt_t == b.opt_t && a.step == b.step && a.n_train == b.n_train && a.ess == b.ess &&
       a.ess_window_len == b.ess_window_len &&
       memcmp(a.ess_window, b.ess_window, sizeof(double) * (size_t)a.ess_window_len) == 0;
  fg_checkpoint_free(&a);
  fg_checkpoint_free(&b);
  return ok;
}

START_TEST(resume_on_the_same_ranks_is_bit_identical)
{
  const int steps = 9;
  fg_config straight, split;
  fg_train_result r;
  make_config(&straight, "straight", steps, BATCH, NULL, 0);
  make_config(&split, "split", steps, BATCH, NULL, 0);
  train_all(&straight, 0, 0, NULL, &r);
  train_all(&split, 0, 3, NULL, &r); /* stops after step 3, mid-schedule */
  ASSERT_ALL(r.step == 3, "stopped at %lld", (long long)r.step);
  train_all(&split, 1, 0, NULL, &r);
  ASSERT_ALL(r.step == steps, "resumed to %lld", (long long)r.step);
  int ok = rank != 0 || (same_state("straight", "split") && same_log("straight", "split"));
  ASSERT_ALL(ok, "a resumed run differs from the uninterrupted one");

  /* A signal seen by the last rank only stops every rank after the step
   * it arrived in, and the run resumes to the same end. */
  fg_config sig;
  make_config(&sig, "signalled", steps, BATCH, NULL, 0);
  volatile sig_atomic_t flag = rank == nranks - 1;
  train_all(&sig, 0, 0, &flag, &r);
  ASSERT_ALL(r.step == 1 && strcmp(r.stop_reason, "signal") == 0, "rank %d: step %lld, %s",
             rank, (long long)r.step, r.stop_reason);
  flag = 0;
  train_all(&sig, 1, 0, &flag, &r);
  ASSERT_ALL(r.step == steps, "resumed to %lld", (long long)r.step);
  ok = rank != 0 || (same_state("straight", "signalled") && same_log("straight", "signalled"));
  ASSERT_ALL(ok, "a run resumed after a signal differs from the uninterrupted one");
  fg_config_free(&straight);
  fg_config_free(&split);
  fg_config_free(&sig);
}
END_TEST

/* Runs cfg on all ranks and asserts that it fails with the same code
 * everywhere, with a message on every rank that contains `needle`. */
static void fails_alike(const fg_config *cfg, const char *what, const char *needle)
{
  fg_train_result r;
  fg_error err;
  int rc = train(cfg, MPI_COMM_WORLD, 0, 0, NULL, &r, &err);
  ASSERT_ALL(rc != FG_OK, "%s: rank %d succeeded", what, rank);
  ASSERT_ALL(same_everywhere(rc), "%s: ranks returned different codes", what);
  ASSERT_ALL(strstr(err.msg, needle) != NULL, "%s: rank %d says '%s'", what, rank, err.msg);
}

START_TEST(one_rank_failing_ends_every_rank_alike)
{
  fg_config c;
  char extra[256], blocker[4200];
  /* Seen by all: a missing init_from is bad input on every rank. */
  make_config(&c, "from_nowhere", 5, BATCH, "  init_from: missing.h5\n", 0);
  fails_alike(&c, "missing init_from", "missing.h5");
  fg_config_free(&c);

  /* Seen by the last rank only (its own config). */
  snprintf(extra, sizeof extra, "  init_from: %s\n",
           rank == nranks - 1 ? "missing_too.h5" : "null");
  make_config(&c, "one_bad_rank", 5, BATCH, extra, 1);
  fails_alike(&c, "init_from missing on the last rank", "missing_too.h5");
  fg_config_free(&c);

  /* Only rank 0 opens the log: make its folder a regular file. */
  path_of(blocker, sizeof blocker, "not_a_folder", "");
  int ok = rank != 0 || fg_test_write_file(blocker, "x") == 0;
  ASSERT_ALL(ok, "cannot write %s", blocker);
  make_config(&c, "bad_log", 5, BATCH, "  log: not_a_folder/train.csv\n", 0);
  fails_alike(&c, "unwritable log", "not_a_folder");
  fg_config_free(&c);

  /* Only rank 0 writes the checkpoint, after training. */
  make_config_at(&c, "bad_checkpoint", "not_a_folder/model", ADAM, 3, BATCH,
                 "  log: bad_checkpoint.csv\n", 0);
  fails_alike(&c, "unwritable checkpoint", "not_a_folder");
  fg_config_free(&c);
}
END_TEST

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  char path[4096] = "";
  if (rank == 0) {
    char *d = fg_test_tmpdir();
    if (d)
      snprintf(path, sizeof path, "%s", d);
    free(d);
  }
  MPI_Bcast(path, (int)sizeof path, MPI_CHAR, 0, MPI_COMM_WORLD);
  if (path[0] == '\0') {
    MPI_Finalize();
    return 1;
  }
  dir = path;
  Suite *s = suite_create("train_mpi");
  TCase *tc = tcase_create("ranks");
  tcase_add_test(tc, ranks_equal_one_rank_with_the_whole_batch);
  tcase_add_test(tc, initial_weights_do_not_depend_on_the_rank_count);
  tcase_add_test(tc, resume_on_the_same_ranks_is_bit_identical);
  tcase_add_test(tc, one_rank_failing_ends_every_rank_alike);
  suite_add_tcase(s, tc);
  int rc = fg_test_run(s);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) {
    if (fg_test_remove_dir(dir) != 0)
      rc = 1;
  }
  MPI_Finalize();
  return rc;
}
