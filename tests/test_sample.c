/* test_sample.c -- the sampling service on one rank: free-theory observables match the exact propagator, a stopped and resumed run equals an uninterrupted one bit for bit (also when stopped before its first flush), a continuation with another seed, coupling or model is refused, an existing output is refused. */
#include <hdf5.h>
#include <math.h>
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowgen/ensemble.h"
#include "flowgen/report.h"
#include "flowgen/service.h"
#include "flowgen/train.h"
#include "testutil.h"

static char *dir;

/* Free theory on 8x8, a small flow trained briefly, then sampled. */
static void load(fg_config *cfg, const char *name, const char *output, int64_t proposals)
{
  char text[4096], path[4200];
  snprintf(text, sizeof text,
           "seed: 4321\n"
           "theory: {name: phi4, lattice: [8, 8], m2: 0.5, lambda: 0.0}\n"
           "model: {coupling_layers: 2, kernel_size: 3, hidden_channels: [8, 8]}\n"
           "train: {steps: 300, batch_size: 64, optimizer: {name: adam, lr: 0.01},\n"
           "        checkpoint: model.h5, eval_samples: 512}\n"
           "sample: {model: model.h5, proposals: %lld, batch_size: 96, flush_every: 1000,\n"
           "         output: %s}\n",
           (long long)proposals, output);
  snprintf(path, sizeof path, "%s/%s.yaml", dir, name);
  ck_assert_int_eq(fg_test_write_file(path, text), 0);
  fg_error err = {0};
  ck_assert_msg(fg_config_load(path, cfg, &err) == FG_OK, "%s", err.msg);
}

static int sample(const fg_config *cfg, int resume, int64_t stop_after, fg_sample_result *res,
                  fg_error *err)
{
  fg_sample_options opt = {.comm = MPI_COMM_WORLD, .resume = resume, .stop_after = stop_after};
  return fg_sample_run(cfg, &opt, res, err);
}

static void train_model(void)
{
  static int done;
  if (done++)
    return;
  fg_config cfg;
  load(&cfg, "train", "unused.h5", 10);
  fg_train_options opt = {.comm = MPI_COMM_WORLD};
  fg_train_result res;
  fg_error err = {0};
  ck_assert_msg(fg_train_run(&cfg, &opt, &res, &err) == FG_OK, "%s", err.msg);
  fg_config_free(&cfg);
}

START_TEST(free_theory_matches_the_exact_propagator)
{
  train_model();
  fg_config cfg;
  load(&cfg, "free", "free.h5", 12000);
  fg_sample_result res;
  fg_error err = {0};
  ck_assert_msg(sample(&cfg, 0, 0, &res, &err) == FG_OK, "%s", err.msg);
  ck_assert(res.complete);
  ck_assert_int_eq(res.proposals, 12000);
  ck_assert(res.acceptance > 0.05 && res.acceptance < 1.0);
  fg_report rep;
  char path[4200];
  snprintf(path, sizeof path, "%s/free.h5", dir);
  ck_assert_msg(fg_report_ensemble(path, 1.5, &rep, &err) == FG_OK, "%s", err.msg);
  ck_assert_double_eq_tol(rep.acceptance, res.acceptance, 1e-12);
  /* Exact: phi2 = (1/V) sum_k 1/(m2 + khat^2), chi2 = 1/m2. */
  double phi2 = 0, m2 = 0.5;
  for (int a = 0; a < 8; ++a)
    for (int b = 0; b < 8; ++b)
      phi2 += 1.0 / (m2 + 4 * pow(sin(M_PI * a / 8), 2) + 4 * pow(sin(M_PI * b / 8), 2)) / 64;
  const fg_obs_result *p = fg_report_find(&rep, "phi2"), *c = fg_report_find(&rep, "chi2");
  ck_assert(p != NULL && c != NULL);
  ck_assert_msg(fabs(p->mean - phi2) < 4 * p->err, "phi2 %g +- %g vs %g", p->mean, p->err, phi2);
  ck_assert_msg(fabs(c->mean - 1 / m2) < 4 * c->err, "chi2 %g +- %g vs %g", c->mean, c->err, 2.0);
  ck_assert_msg(p->err > 0 && p->err < 0.05 * phi2, "phi2 %g err %g tau %g acc %g", p->mean, p->err, p->tau_int, rep.acceptance); /* a real measurement */
  fg_config_free(&cfg);
}
END_TEST

static void same_files(const char *a, const char *b)
{
  fg_ensemble_data x, y;
  fg_error err = {0};
  ck_assert_msg(fg_ensemble_load(a, &x, &err) == FG_OK, "%s", err.msg);
  ck_assert_msg(fg_ensemble_load(b, &y, &err) == FG_OK, "%s", err.msg);
  size_t n = (size_t)x.layout.n_configs;
  ck_assert_int_eq(x.layout.n_configs, y.layout.n_configs);
  ck_assert(memcmp(x.configs, y.configs, sizeof(double) * n * (size_t)x.volume) == 0);
  ck_assert(memcmp(x.logw, y.logw, sizeof(double) * n) == 0);
  ck_assert(memcmp(x.logq, y.logq, sizeof(double) * n) == 0);
  ck_assert(memcmp(x.action, y.action, sizeof(double) * n) == 0);
  ck_assert(memcmp(x.chain_index, y.chain_index, sizeof(int64_t) * n) == 0);
  ck_assert(memcmp(x.chain_accepted, y.chain_accepted, n) == 0);
  fg_ensemble_data_free(&x);
  fg_ensemble_data_free(&y);
}

START_TEST(stop_and_resume_equals_uninterrupted)
{
  train_model();
  fg_config whole, split;
  load(&whole, "whole", "whole.h5", 3000);
  load(&split, "split", "split.h5", 3000);
  fg_sample_result r;
  fg_error err = {0};
  ck_assert_msg(sample(&whole, 0, 0, &r, &err) == FG_OK, "%s", err.msg);
  ck_assert_msg(sample(&split, 0, 1500, &r, &err) == FG_OK, "%s", err.msg);
  ck_assert(!r.complete);
  ck_assert(r.proposals > 0 && r.proposals < 3000);
  char a[4200], b[4200];
  snprintf(b, sizeof b, "%s/split.h5.tmp", dir);
  FILE *f = fopen(b, "rb");
  ck_assert_ptr_nonnull(f); /* in progress under the temporary name */
  fclose(f);
  ck_assert_msg(sample(&split, 1, 0, &r, &err) == FG_OK, "%s", err.msg);
  ck_assert(r.complete);
  snprintf(a, sizeof a, "%s/whole.h5", dir);
  snprintf(b, sizeof b, "%s/split.h5", dir);
  same_files(a, b);
  /* Running again over a finished output is refused; so is resuming it. */
  ck_assert_int_eq(sample(&whole, 0, 0, &r, &err), FG_ERR_INPUT);
  ck_assert(strstr(err.msg, "whole.h5") != NULL);
  ck_assert_int_eq(sample(&whole, 1, 0, &r, &err), FG_ERR_INPUT);
  fg_config_free(&whole);
  fg_config_free(&split);
}
END_TEST

static void copy_file(const char *from, const char *to)
{
  FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
  ck_assert(a != NULL && b != NULL);
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, a)) > 0)
    ck_assert(fwrite(buf, 1, n, b) == n);
  fclose(a);
  ck_assert(fclose(b) == 0);
}

/* A still valid checkpoint with other bytes: one more root attribute. */
static void touch_checkpoint(const char *path)
{
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = f < 0 ? -1 : H5Acreate2(f, "retrained", H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT);
  int one = 1;
  ck_assert(a >= 0 && H5Awrite(a, H5T_NATIVE_INT, &one) >= 0);
  H5Aclose(a);
  H5Sclose(sp);
  ck_assert(H5Fclose(f) >= 0);
}

/* D07: a stop before the first flush leaves a resumable file; D01: a
 * continuation with another seed, coupling or model checkpoint is refused,
 * naming what changed; the unchanged continuation equals one run. */
START_TEST(a_continuation_is_the_same_run_or_refused)
{
  train_model();
  fg_config ref, cont;
  load(&ref, "ref", "ref.h5", 2000);
  load(&cont, "cont", "cont.h5", 2000);
  fg_sample_result r;
  fg_error err = {0};
  ck_assert_msg(sample(&ref, 0, 0, &r, &err) == FG_OK, "%s", err.msg);
  volatile sig_atomic_t stop = 1; /* signalled before anything was drawn */
  fg_sample_options opt = {.comm = MPI_COMM_WORLD, .stop_flag = &stop};
  ck_assert_msg(fg_sample_run(&cont, &opt, &r, &err) == FG_OK, "%s", err.msg);
  ck_assert(!r.complete && r.proposals == 0);
  cont.seed = 99;
  ck_assert_int_eq(sample(&cont, 1, 0, &r, &err), FG_ERR_INPUT);
  ck_assert_msg(strstr(err.msg, "seed") && strstr(err.msg, "4321") && strstr(err.msg, "99"),
                "%s", err.msg);
  cont.seed = 4321;
  cont.theory.m2 = 0.75;
  ck_assert_int_eq(sample(&cont, 1, 0, &r, &err), FG_ERR_INPUT);
  ck_assert_msg(strstr(err.msg, "m2") && strstr(err.msg, "0.75"), "%s", err.msg);
  cont.theory.m2 = 0.5;
  char model[4200], keep[4200];
  snprintf(model, sizeof model, "%s/model.h5", dir);
  snprintf(keep, sizeof keep, "%s/model.kept.h5", dir);
  copy_file(model, keep);
  touch_checkpoint(model);
  ck_assert_int_eq(sample(&cont, 1, 0, &r, &err), FG_ERR_INPUT);
  ck_assert_msg(strstr(err.msg, "SHA-256") && strstr(err.msg, "model.h5"), "%s", err.msg);
  copy_file(keep, model);
  ck_assert_msg(sample(&cont, 1, 0, &r, &err) == FG_OK, "%s", err.msg);
  ck_assert(r.complete);
  char a[4200], b[4200];
  snprintf(a, sizeof a, "%s/ref.h5", dir);
  snprintf(b, sizeof b, "%s/cont.h5", dir);
  same_files(a, b);
  fg_config_free(&ref);
  fg_config_free(&cont);
}
END_TEST

START_TEST(volume_transfer_samples_a_bigger_lattice)
{
  /* The model trained on 8x8 proposes on 12x12 directly: its conv weights do
   * not depend on the lattice. The chain is valid and the flow still helps. */
  train_model();
  char text[4096], path[4200];
  snprintf(text, sizeof text,
           "seed: 4321\n"
           "theory: {name: phi4, lattice: [12, 12], m2: 0.5, lambda: 0.0}\n"
           "model: {coupling_layers: 2, kernel_size: 3, hidden_channels: [8, 8]}\n"
           "sample: {model: model.h5, proposals: 2000, batch_size: 96, output: big.h5}\n");
  snprintf(path, sizeof path, "%s/big.yaml", dir);
  ck_assert_int_eq(fg_test_write_file(path, text), 0);
  fg_config cfg;
  fg_error err = {0};
  ck_assert_msg(fg_config_load(path, &cfg, &err) == FG_OK, "%s", err.msg);
  fg_sample_result res;
  ck_assert_msg(sample(&cfg, 0, 0, &res, &err) == FG_OK, "%s", err.msg);
  ck_assert(res.complete && res.acceptance > 0.0);
  fg_ensemble_data d;
  snprintf(path, sizeof path, "%s/big.h5", dir);
  ck_assert_msg(fg_ensemble_load(path, &d, &err) == FG_OK, "%s", err.msg);
  ck_assert_int_eq(d.layout.extent[0], 12);
  ck_assert_int_eq(d.volume, 144);
  fg_ensemble_data_free(&d);
  fg_config_free(&cfg);
}
END_TEST

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  dir = fg_test_tmpdir();
  Suite *s = suite_create("sample");
  TCase *tc = tcase_create("one rank");
  tcase_add_test(tc, free_theory_matches_the_exact_propagator);
  tcase_add_test(tc, stop_and_resume_equals_uninterrupted);
  tcase_add_test(tc, a_continuation_is_the_same_run_or_refused);
  tcase_add_test(tc, volume_transfer_samples_a_bigger_lattice);
  suite_add_tcase(s, tc);
  int rc = fg_test_run(s);
  if (fg_test_remove_dir(dir) != 0)
    rc = 1;
  free(dir);
  MPI_Finalize();
  return rc;
}
