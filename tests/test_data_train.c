/* test_data_train.c -- train.data (the forward KL on given configurations mixed into reverse-KL training): the data gradient -d log q(phi)/d theta at phi fixed against finite differences of log q for phi^4 and Schwinger flows, with and without z2; a phi^4 flow trained with an HMC ensemble of the free field raises its ESS and its log q on the data, and the data term alone moves log q up on the data; the log's data_logw column; a resumed run equals one run bit for bit; refusals of bad data keys by name. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowgen/checkpoint.h"
#include "flowgen/config.h"
#include "flowgen/flow.h"
#include "flowgen/hmc.h"
#include "flowgen/model.h"
#include "flowgen/rng.h"
#include "flowgen/theory.h"
#include "flowgen/train.h"
#include "testutil.h"

enum { L = FG_VLEN };

/* ---- the gradient ------------------------------------------------------- */

/* On a block of configurations drawn from another flow of the same shape
 * (not from f itself: the score's mean over f's own samples is zero), the
 * data gradient with c = 1/L against central differences of data_loss in
 * every float32 parameter (fg_test_data_gradient_fd); and its return value against log w evaluated
 * through fg_model_logq and the action. */
static void check_data_fd(const fg_theory_config *tc, int sym)
{
  fg_model_config mc = {.base = tc->name == FG_THEORY_SCHWINGER ? FG_BASE_HAAR : FG_BASE_NORMAL,
                        .coupling_layers = 3, .kernel_size = 3, .n_hidden = 1,
                        .hidden_channels = {3}, .activation = FG_ACT_TANH, /* no kinks */
                        .init_scheme = FG_INIT_KAIMING, .init_scale = 1.0,
                        .symmetry = sym ? FG_SYM_Z2 : FG_SYM_NONE};
  fg_error err = {0};
  fg_theory *th;
  fg_flow *f, *src;
  fg_model_block b, bs;
  ck_assert_int_eq(fg_theory_create(tc, &th, &err), FG_OK);
  ck_assert_int_eq(fg_flow_create(&mc, fg_theory_lattice(th), &f, &err), FG_OK);
  ck_assert_int_eq(fg_flow_create(&mc, fg_theory_lattice(th), &src, &err), FG_OK);
  ck_assert_int_eq(fg_model_block_init(&b, f, &err), FG_OK);
  ck_assert_int_eq(fg_model_block_init(&bs, src, &err), FG_OK);
  fg_flow_init_params(f, 41);
  fg_test_scale_params(f, 1.5f);
  fg_flow_init_params(src, 42);
  fg_test_scale_params(src, 2.0f);
  const size_t field = (size_t)fg_flow_ndof(f) * L, n = fg_flow_nparams(f);
  double *phi = malloc(sizeof(double) * field), *grad = calloc(n, sizeof(double));
  ck_assert(phi && grad);
  fg_model_sample_block(th, src, &bs, 9, FG_RNG_TEST, 0, L);
  memcpy(phi, bs.phi, sizeof(double) * field);

  double sum = fg_model_data_gradient_block(th, f, &b, phi, L, 1.0 / L, grad);
  double lq[L], S[L], want = 0;
  fg_model_logq(f, &b, phi, lq);
  fg_theory_action(th, phi, L, S);
  for (int l = 0; l < L; ++l)
    want += -S[l] - lq[l];
  ck_assert_double_eq_tol(sum, want, 1e-9 * (1 + fabs(want)));

  int bad;
  double gmax;
  fg_test_data_gradient_fd(th, f, &b, phi, &bad, &gmax);
  ck_assert_msg(bad == 0, "%d of %zu parameters off", bad, n);
  ck_assert_msg(gmax > 0.1, "largest gradient %g: nothing tested", gmax);
  free(phi), free(grad);
  fg_model_block_free(&b);
  fg_model_block_free(&bs);
  fg_flow_destroy(f);
  fg_flow_destroy(src);
  fg_theory_destroy(th);
}

static const fg_theory_config phi4_4x4 = {.name = FG_THEORY_PHI4, .nd = 2, .extent = {4, 4},
                                          .m2 = -2.0, .lambda = 0.5};
static const fg_theory_config schwinger_4x4 = {.name = FG_THEORY_SCHWINGER, .nd = 2,
                                               .extent = {4, 4}, .beta = 2.0, .kappa = 0.2};

START_TEST(phi4_data_gradient_matches_finite_differences)
{
  check_data_fd(&phi4_4x4, 0);
  check_data_fd(&phi4_4x4, 1);
}
END_TEST

START_TEST(schwinger_data_gradient_matches_finite_differences)
{
  check_data_fd(&schwinger_4x4, 0);
  check_data_fd(&schwinger_4x4, 1);
}
END_TEST

/* ---- training ------------------------------------------------------------ */

static char *dir;

/* The free field on 4x4 (m2 = 0.5, lambda = 0); `data` a YAML fragment of
 * train keys (may be empty). */
static int load_lr(fg_config *cfg, const char *name, int64_t steps, const char *data, double lr,
                   fg_error *err)
{
  char text[4096], path[4200];
  snprintf(text, sizeof text,
           "seed: 7\n"
           "theory: {name: phi4, lattice: [4, 4], m2: 0.5, lambda: 0.0}\n"
           "model: {coupling_layers: 4, kernel_size: 3, hidden_channels: [6]}\n"
           "hmc: {trajectories: 3000, thermalization: 100, md_steps: 8, output: hmc.h5}\n"
           "train: {steps: %lld, batch_size: 32, optimizer: {name: adam, lr: %g},\n"
           "        grad_clip_norm: 100, checkpoint: %s.h5, eval_samples: 1024%s}\n",
           (long long)steps, lr, name, data);
  snprintf(path, sizeof path, "%s/%s.yaml", dir, name);
  ck_assert_int_eq(fg_test_write_file(path, text), 0);
  return fg_config_load(path, cfg, err);
}

static int load(fg_config *cfg, const char *name, int64_t steps, const char *data, fg_error *err)
{
  return load_lr(cfg, name, steps, data, 3e-3, err);
}

static void train_lr(const char *name, int64_t steps, const char *data, double lr, int resume,
                     fg_train_result *r)
{
  fg_config c;
  fg_error err = {0};
  ck_assert_msg(load_lr(&c, name, steps, data, lr, &err) == FG_OK, "%s", err.msg);
  fg_train_options opt = {.comm = MPI_COMM_WORLD, .resume = resume};
  ck_assert_msg(fg_train_run(&c, &opt, r, &err) == FG_OK, "%s", err.msg);
  fg_config_free(&c);
}

static void train(const char *name, int64_t steps, const char *data, int resume,
                  fg_train_result *r)
{
  train_lr(name, steps, data, 3e-3, resume, r);
}

/* Column data_logw of rows [from, to) of the log of run `name`, averaged. */
static double mean_data_logw(const char *name, int from, int to)
{
  char path[4200], line[1024];
  snprintf(path, sizeof path, "%s/%s.csv", dir, name);
  FILE *in = fopen(path, "r");
  ck_assert_ptr_nonnull(in);
  ck_assert_ptr_nonnull(fgets(line, sizeof line, in));
  ck_assert_msg(strstr(line, ",data_logw\n") != NULL, "header %s", line);
  double s = 0;
  int row = 0, n = 0;
  while (fgets(line, sizeof line, in) != NULL) {
    if (row >= from && row < to) {
      const char *c = strrchr(line, ',');
      s += strtod(c + 1, NULL);
      ++n;
    }
    ++row;
  }
  fclose(in);
  ck_assert_int_eq(n, to - from);
  return s / n;
}

static void read_params(const char *name, float **p, size_t *n)
{
  char path[4200];
  snprintf(path, sizeof path, "%s/%s.h5", dir, name);
  fg_checkpoint ck;
  fg_error err = {0};
  ck_assert_msg(fg_checkpoint_read(path, &ck, &err) == FG_OK, "%s", err.msg);
  *n = ck.nparams;
  *p = malloc(sizeof(float) * *n);
  ck_assert_ptr_nonnull(*p);
  memcpy(*p, ck.params, sizeof(float) * *n);
  fg_checkpoint_free(&ck);
}

/* An HMC ensemble of the free field as train.data: a flow trained 150
 * steps with it raises its ESS over the untrained flow by 4 errors and its
 * mean log w on the data falls (log q rises there); with the data term
 * weighted 1000 times the reverse KL, the data's log w falls too (the
 * data gradient alone points the right way); 40 steps then 40 more after a
 * resume give the parameters of 80 steps in one run, bit for bit. */
START_TEST(training_with_hmc_data)
{
  dir = fg_test_tmpdir();
  fg_config c;
  fg_error err = {0};
  ck_assert_msg(load(&c, "hmc", 0, "", &err) == FG_OK, "%s", err.msg);
  fg_hmc_options hopt = {.comm = MPI_COMM_WORLD};
  fg_hmc_result hres;
  ck_assert_msg(fg_hmc_run(&c, &hopt, &hres, &err) == FG_OK, "%s", err.msg);
  fg_config_free(&c);

  fg_train_result r0, r1, r2;
  train("untrained", 0, "", 0, &r0);
  train("mixed", 150, ", data: hmc.h5", 0, &r1);
  ck_assert_msg(r1.ess > r0.ess + 4 * (r0.ess_err + r1.ess_err), "ESS %g +- %g -> %g +- %g",
                r0.ess, r0.ess_err, r1.ess, r1.ess_err);
  double first = mean_data_logw("mixed", 0, 10), last = mean_data_logw("mixed", 140, 150);
  ck_assert_msg(last < first - 0.5, "data log w %g -> %g", first, last);

  train_lr("forward", 60, ", data: hmc.h5, data_weight: 1000", 1e-3, 0, &r2);
  first = mean_data_logw("forward", 0, 5), last = mean_data_logw("forward", 55, 60);
  ck_assert_msg(last < first - 0.5, "forward only: data log w %g -> %g", first, last);

  fg_train_result a, b1, b2;
  train("straight", 80, ", data: hmc.h5", 0, &a);
  train("legs", 40, ", data: hmc.h5", 0, &b1);
  train("legs", 80, ", data: hmc.h5", 1, &b2);
  float *pa, *pb;
  size_t na, nb;
  read_params("straight", &pa, &na);
  read_params("legs", &pb, &nb);
  ck_assert_uint_eq(na, nb);
  ck_assert_msg(memcmp(pa, pb, sizeof(float) * na) == 0, "a resumed run differs from one run");
  ck_assert_double_eq(a.loss, b2.loss);
  free(pa), free(pb);
  fg_test_remove_dir(dir);
  free(dir);
}
END_TEST

/* Bad data keys are refused by name before any work. */
START_TEST(bad_data_keys_are_refused)
{
  dir = fg_test_tmpdir();
  fg_config c;
  fg_error err = {0};
  ck_assert_int_eq(load(&c, "weight", 10, ", data_weight: 2.0", &err), FG_ERR_INPUT);
  ck_assert_msg(strstr(err.msg, "train.data_weight") && strstr(err.msg, "used only with train.data"),
                "%s", err.msg);
  fg_config_free(&c);
  ck_assert_int_eq(load(&c, "negative", 10, ", data: x.h5, data_weight: 0", &err), FG_ERR_INPUT);
  ck_assert_msg(strstr(err.msg, "train.data_weight") != NULL, "%s", err.msg);
  fg_config_free(&c);

  fg_train_result r;
  fg_train_options opt = {.comm = MPI_COMM_WORLD};
  ck_assert_msg(load(&c, "missing", 10, ", data: nothing.h5", &err) == FG_OK, "%s", err.msg);
  ck_assert_int_eq(fg_train_run(&c, &opt, &r, &err), FG_ERR_INPUT);
  ck_assert_msg(strstr(err.msg, "train.data") && strstr(err.msg, "nothing.h5"), "%s", err.msg);
  fg_config_free(&c);

  /* an ensemble of another theory: a trained model's own sibling config, m2 changed */
  ck_assert_msg(load(&c, "hmc", 0, "", &err) == FG_OK, "%s", err.msg);
  c.hmc.trajectories = 20;
  fg_hmc_options hopt = {.comm = MPI_COMM_WORLD};
  fg_hmc_result hres;
  ck_assert_msg(fg_hmc_run(&c, &hopt, &hres, &err) == FG_OK, "%s", err.msg);
  fg_config_free(&c);
  ck_assert_msg(load(&c, "other", 10, ", data: hmc.h5", &err) == FG_OK, "%s", err.msg);
  c.theory.m2 = 0.7;
  ck_assert_int_eq(fg_train_run(&c, &opt, &r, &err), FG_ERR_INPUT);
  ck_assert_msg(strstr(err.msg, "train.data") && strstr(err.msg, "another theory"), "%s", err.msg);
  fg_config_free(&c);

  ck_assert_msg(load(&c, "score", 10, ", data: hmc.h5, gradient: score_function", &err) == FG_OK,
                "%s", err.msg);
  ck_assert_int_eq(fg_train_run(&c, &opt, &r, &err), FG_ERR_INPUT);
  ck_assert_msg(strstr(err.msg, "train.data") && strstr(err.msg, "score"), "%s", err.msg);
  fg_config_free(&c);
  fg_test_remove_dir(dir);
  free(dir);
}
END_TEST

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  Suite *s = suite_create("data_train");
  TCase *tc = tcase_create("data");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, phi4_data_gradient_matches_finite_differences);
  tcase_add_test(tc, schwinger_data_gradient_matches_finite_differences);
  tcase_add_test(tc, training_with_hmc_data);
  tcase_add_test(tc, bad_data_keys_are_refused);
  suite_add_tcase(s, tc);
  int rc = fg_test_run(s);
  MPI_Finalize();
  return rc;
}
