/* test_symmetry.c -- model.symmetry z2: q(phi) = q(-phi) exactly for phi^4 (normal and free-field base) and Schwinger flows, sampled fields and their log q agree with the evaluation through the inverse, the global sign is keyed by sample, the three gradient estimators match finite differences and each other (reparameterised = path + score per block), training (normal and free-field base) raises the ESS and the trained z2 flow's importance weights reproduce the exact free-field <phi^2>, the checkpoint records z2 and a resume without it is refused. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowgen/checkpoint.h"
#include "flowgen/config.h"
#include "flowgen/flow.h"
#include "flowgen/model.h"
#include "flowgen/rng.h"
#include "flowgen/theory.h"
#include "flowgen/train.h"
#include "testutil.h"

enum { L = FG_VLEN };

typedef struct {
  fg_theory *th;
  fg_flow *flow;
  fg_model_block blk;
  int n; /* dofs */
} setup;

/* The flow: Haar base for Schwinger; for phi^4 a normal base, or with ff the
 * free-field base (mu_init 1.5, its own transpose solve in the mirror's
 * score). */
static void make_base(setup *s, const fg_theory_config *tc, int ff, int layers, int hidden,
                      int sym, uint64_t seed, float boost)
{
  fg_model_config mc = {.base = tc->name == FG_THEORY_SCHWINGER ? FG_BASE_HAAR
                                : ff                             ? FG_BASE_FREE_FIELD
                                                                 : FG_BASE_NORMAL,
                        .mu_init = ff ? 1.5 : 0.0,
                        .coupling_layers = layers, .kernel_size = 3, .n_hidden = 1,
                        .hidden_channels = {hidden}, .activation = FG_ACT_TANH, /* smooth: no kinks */
                        .init_scheme = FG_INIT_KAIMING, .init_scale = 1.0,
                        .symmetry = sym ? FG_SYM_Z2 : FG_SYM_NONE};
  fg_error err = {0};
  ck_assert_int_eq(fg_theory_create(tc, &s->th, &err), FG_OK);
  ck_assert_msg(fg_flow_check_theory(&mc, s->th, &err) == FG_OK, "%s", err.msg);
  ck_assert_int_eq(fg_flow_create(&mc, fg_theory_lattice(s->th), &s->flow, &err), FG_OK);
  ck_assert_int_eq(fg_model_block_init(&s->blk, s->flow, &err), FG_OK);
  ck_assert_int_eq(fg_flow_z2(s->flow), sym);
  fg_flow_init_params(s->flow, seed);
  fg_test_scale_params(s->flow, boost); /* far from the identity: q_f(phi) != q_f(-phi) */
  s->n = fg_flow_ndof(s->flow);
}

static void make(setup *s, const fg_theory_config *tc, int layers, int hidden, int sym,
                 uint64_t seed, float boost)
{
  make_base(s, tc, 0, layers, hidden, sym, seed, boost);
}

static void unmake(setup *s)
{
  fg_model_block_free(&s->blk);
  fg_flow_destroy(s->flow);
  fg_theory_destroy(s->th);
}

static const fg_theory_config phi4_4x4 = {.name = FG_THEORY_PHI4, .nd = 2, .extent = {4, 4},
                                          .m2 = -2.0, .lambda = 0.5};
static const fg_theory_config schwinger_4x4 = {.name = FG_THEORY_SCHWINGER, .nd = 2,
                                               .extent = {4, 4}, .beta = 2.0, .kappa = 0.2};

static double *field(int n)
{
  double *x = malloc(sizeof(double) * (size_t)n * L);
  ck_assert_ptr_nonnull(x);
  return x;
}

/* -phi, angles kept in (-pi, pi]. */
static void negate(const setup *s, const double *phi, double *out)
{
  int angles = fg_theory_has_angles(s->th);
  for (int j = 0; j < s->n * L; ++j)
    out[j] = angles && phi[j] == M_PI ? M_PI : -phi[j];
}

/* ---- the density ---------------------------------------------------------- */

static void check_even_density(const fg_theory_config *tc, int ff)
{
  setup s, bare;
  make_base(&s, tc, ff, 4, 4, 1, 17, 1.5f);
  make_base(&bare, tc, ff, 4, 4, 0, 17, 1.5f);
  double *phi = field(s.n), *mphi = field(s.n), *z = field(s.n);
  double lq[L], lqm[L], lf[L], lfm[L], Sm[L];
  double asym = 0;
  int flipped = 0;
  for (int b = 0; b < 8; ++b) {
    fg_model_sample_block(s.th, s.flow, &s.blk, 3, FG_RNG_TEST, (uint64_t)b * L, L);
    memcpy(phi, s.blk.phi, sizeof(double) * (size_t)s.n * L);
    negate(&s, phi, mphi);
    fg_model_logq(s.flow, &s.blk, phi, lq);
    fg_model_logq(s.flow, &s.blk, mphi, lqm);
    fg_flow_inverse(bare.flow, bare.blk.work, phi, z, lf);
    fg_flow_inverse(bare.flow, bare.blk.work, mphi, z, lfm);
    fg_theory_action(s.th, mphi, L, Sm);
    /* which sign the sample got: the bare flow of the same noise */
    fg_flow_draw(bare.flow, 3, FG_RNG_TEST, (uint64_t)b * L, L, z);
    double *fz = field(s.n), lz[L];
    fg_flow_forward(bare.flow, bare.blk.work, z, fz, lz, 0);
    for (int l = 0; l < L; ++l) {
      ck_assert_msg(lq[l] == lqm[l], "log q(phi) %.17g != log q(-phi) %.17g", lq[l], lqm[l]);
      ck_assert_double_eq_tol(s.blk.logq[l], lq[l], 1e-5 * (1 + fabs(lq[l])));
      double want = fmax(lf[l], lfm[l]) + log1p(exp(-fabs(lf[l] - lfm[l]))) - M_LN2;
      ck_assert_double_eq_tol(lq[l], want, 1e-12 * (1 + fabs(want)));
      ck_assert_double_eq_tol(Sm[l], s.blk.action[l], 1e-9 * (1 + fabs(Sm[l])));
      ck_assert_double_eq_tol(s.blk.logw[l], -s.blk.action[l] - s.blk.logq[l], 1e-12);
      asym = fmax(asym, fabs(lf[l] - lfm[l]));
      int same = 1, opposite = 1;
      for (int y = 0; y < s.n; ++y) {
        double a = s.blk.phi[y * L + l], f = fz[y * L + l];
        same &= fabs(a - f) < 1e-6;
        opposite &= fabs(a + f) < 1e-6 || (fg_theory_has_angles(s.th) && fabs(fabs(a) - M_PI) < 1e-6);
      }
      ck_assert_msg(same || opposite, "sample %d lane %d is neither f(z) nor -f(z)", b, l);
      flipped += !same;
    }
    free(fz);
  }
  ck_assert_msg(asym > 0.1, "the bare flow is nearly even already (%g): nothing tested", asym);
  /* 8 L fair signs: within 4 sigma of one half */
  double n = 8.0 * L;
  ck_assert_msg(fabs(flipped - n / 2) < 4 * sqrt(n / 4), "%d of %g samples flipped", flipped, n);
  free(phi), free(mphi), free(z);
  unmake(&s);
  unmake(&bare);
}

START_TEST(phi4_density_is_even_and_sampling_agrees_with_evaluation)
{
  check_even_density(&phi4_4x4, 0);
  check_even_density(&phi4_4x4, 1);
}
END_TEST

START_TEST(schwinger_density_is_even_and_sampling_agrees_with_evaluation)
{
  check_even_density(&schwinger_4x4, 0);
}
END_TEST

/* The sign, like the noise, belongs to the sample: blocks that split the
 * samples differently give the same fields. */
START_TEST(signs_are_keyed_by_sample)
{
  setup s;
  make(&s, &phi4_4x4, 2, 3, 1, 5, 1.0f);
  double *a = field(s.n * 2);
  fg_model_sample_block(s.th, s.flow, &s.blk, 11, FG_RNG_SAMPLE, 0, L);
  memcpy(a, s.blk.phi, sizeof(double) * (size_t)s.n * L);
  fg_model_sample_block(s.th, s.flow, &s.blk, 11, FG_RNG_SAMPLE, 3, L - 3);
  for (int l = 0; l < L - 3; ++l)
    for (int y = 0; y < s.n; ++y)
      ck_assert(s.blk.phi[y * L + l] == a[y * L + l + 3]);
  free(a);
  unmake(&s);
}
END_TEST

/* ---- gradients ------------------------------------------------------------- */

/* Every parameter of the reparameterised z2 gradient against central
 * differences of the block's loss (noise fixed); the loss the gradient
 * block returns is that block's. */
static void check_fd(const fg_theory_config *tc, int ff)
{
  setup s;
  make_base(&s, tc, ff, 3, 3, 1, 41, 1.0f);
  size_t n = fg_flow_nparams(s.flow);
  double *grad = calloc(n, sizeof(double));
  ck_assert_ptr_nonnull(grad);
  double loss = fg_model_kl_gradient_block(s.th, s.flow, &s.blk, 77, FG_RNG_TEST, 0, L, 1.0 / L, grad);
  double mean = fg_test_block_loss(s.th, s.flow, &s.blk, 77);
  ck_assert_double_eq_tol(loss / L, mean, 1e-5 * (1 + fabs(mean)));
  free(grad);
  int bad;
  double gmax;
  fg_test_kl_gradient_fd(s.th, s.flow, &s.blk, 77, &bad, &gmax, NULL);
  ck_assert_msg(bad == 0, "%d of %zu parameters off", bad, n);
  ck_assert_double_gt(gmax, 0.1);
  unmake(&s);
}

START_TEST(phi4_gradient_matches_finite_differences)
{
  check_fd(&phi4_4x4, 0);
  check_fd(&phi4_4x4, 1);
}
END_TEST

START_TEST(schwinger_gradient_matches_finite_differences)
{
  fg_theory_config pure = schwinger_4x4;
  pure.kappa = 0.0;
  check_fd(&pure, 0);
}
END_TEST

/* Per block: reparameterised = path + score, with the score of the
 * symmetrised log q (grad0 of the score-function block, c = 1/L). */
static void check_path_plus_score(const fg_theory_config *tc, int ff)
{
  setup s;
  make_base(&s, tc, ff, 3, 3, 1, 53, 1.0f);
  double worst, scale, diff;
  fg_test_path_plus_score(s.th, s.flow, &s.blk, 6, &worst, &scale, &diff);
  /* the action's part dominates rep and path; the score must still be
   * resolved, far above the rounding left over */
  ck_assert_msg(scale > 0.1 && diff > 0.03, "gradients too small (%g, %g)", scale, diff);
  ck_assert_msg(worst < 1e-3 * diff, "reparameterised - path - score = %g (score %g, scale %g)",
                worst, diff, scale);
  unmake(&s);
}

START_TEST(phi4_path_plus_score_is_the_reparameterised_gradient)
{
  check_path_plus_score(&phi4_4x4, 0);
  check_path_plus_score(&phi4_4x4, 1);
}
END_TEST

START_TEST(schwinger_path_plus_score_is_the_reparameterised_gradient)
{
  check_path_plus_score(&schwinger_4x4, 0);
}
END_TEST

/* ---- training and sampling ----------------------------------------------------- */

static char *dir;

/* base: "normal" or "free_field" (then mu_init 1.5, three times m2). */
static void load_base(fg_config *cfg, const char *name, int64_t steps, const char *sym,
                      const char *base)
{
  char text[4096], path[4200];
  snprintf(text, sizeof text,
           "seed: 7\n"
           "theory: {name: phi4, lattice: [4, 4], m2: 0.5, lambda: 0.0}\n"
           "model: {coupling_layers: 4, kernel_size: 3, hidden_channels: [6], symmetry: %s,\n"
           "        base: %s%s}\n"
           "train: {steps: %lld, batch_size: 32, optimizer: {name: adam, lr: 3.0e-3},\n"
           "        grad_clip_norm: 100, checkpoint: %s/%s.h5, eval_samples: 1024}\n",
           sym, base, strcmp(base, "free_field") == 0 ? ", mu_init: 1.5" : "", (long long)steps,
           dir, name);
  snprintf(path, sizeof path, "%s/%s.yaml", dir, name);
  ck_assert_int_eq(fg_test_write_file(path, text), 0);
  fg_error err = {0};
  ck_assert_msg(fg_config_load(path, cfg, &err) == FG_OK, "%s", err.msg);
}

static void load(fg_config *cfg, const char *name, int64_t steps, const char *sym)
{
  load_base(cfg, name, steps, sym, "normal");
}

/* Self-normalised importance sampling with the z2 flow of checkpoint
 * `path` on the free field (4x4, m2 = 0.5, lambda = 0): <phi^2> within 4
 * standard errors (delta method) of (1/V) sum_k 1/(m2 + khat^2). A log q
 * that is not the density of the samples would bias it. */
static void check_importance(const fg_config *cfg, const char *path)
{
  fg_checkpoint ck;
  fg_error err = {0};
  ck_assert_msg(fg_checkpoint_read(path, &ck, &err) == FG_OK, "%s", err.msg);
  setup s;
  ck_assert_int_eq(fg_theory_create(&cfg->theory, &s.th, &err), FG_OK);
  ck_assert_int_eq(fg_flow_create(&ck.model, fg_theory_lattice(s.th), &s.flow, &err), FG_OK);
  ck_assert_int_eq(fg_flow_z2(s.flow), 1);
  fg_flow_set_params(s.flow, ck.params);
  ck_assert_int_eq(fg_model_block_init(&s.blk, s.flow, &err), FG_OK);
  s.n = fg_flow_ndof(s.flow);
  fg_checkpoint_free(&ck);
  enum { B = 1500 };
  double *lw = malloc(sizeof(double) * B * L), *x = malloc(sizeof(double) * B * L);
  ck_assert(lw && x);
  for (int b = 0; b < B; ++b) {
    fg_model_sample_block(s.th, s.flow, &s.blk, 31, FG_RNG_TEST, (uint64_t)b * L, L);
    for (int l = 0; l < L; ++l) {
      double p2 = 0;
      for (int y = 0; y < s.n; ++y)
        p2 += s.blk.phi[y * L + l] * s.blk.phi[y * L + l];
      lw[b * L + l] = s.blk.logw[l];
      x[b * L + l] = p2 / s.n;
    }
  }
  double mx = -INFINITY, sw = 0, sw2 = 0, sx = 0;
  for (int i = 0; i < B * L; ++i)
    mx = fmax(mx, lw[i]);
  for (int i = 0; i < B * L; ++i) {
    double w = exp(lw[i] - mx);
    sw += w, sw2 += w * w, sx += w * x[i];
  }
  double est = sx / sw, var = 0;
  for (int i = 0; i < B * L; ++i) {
    double w = exp(lw[i] - mx);
    var += w * w * (x[i] - est) * (x[i] - est);
  }
  double e = sqrt(var) / sw, ess = sw * sw / sw2 / (B * L);
  double exact = 0;
  for (int a = 0; a < 4; ++a)
    for (int c = 0; c < 4; ++c)
      exact += 1.0 / (0.5 + 4 * pow(sin(M_PI * a / 4), 2) + 4 * pow(sin(M_PI * c / 4), 2)) / 16;
  ck_assert_msg(ess > 0.05, "ESS %g: too low to test", ess);
  ck_assert_msg(fabs(est - exact) < 4 * e, "<phi^2> %g +- %g, exact %g", est, e, exact);
  ck_assert_msg(e < 0.03 * exact, "error %g: not a measurement", e);
  free(lw), free(x);
  unmake(&s);
}

/* A z2 flow on `base` ("normal" or "free_field") trained 150 steps on the
 * free field raises its ESS by 4 errors over the untrained one and its
 * importance weights give the exact <phi^2>; c1 is left with the trained
 * run's config (checkpoint dir/trained.h5). */
static void train_and_check(const char *base, fg_config *c1)
{
  fg_config c0;
  fg_train_result r0, r1;
  fg_error err = {0};
  fg_train_options opt = {.comm = MPI_COMM_WORLD};
  load_base(&c0, "untrained", 0, "z2", base);
  ck_assert_msg(fg_train_run(&c0, &opt, &r0, &err) == FG_OK, "%s", err.msg);
  load_base(c1, "trained", 150, "z2", base);
  ck_assert_msg(fg_train_run(c1, &opt, &r1, &err) == FG_OK, "%s", err.msg);
  ck_assert_msg(r1.ess > r0.ess + 4 * (r0.ess_err + r1.ess_err), "%s: ESS %g +- %g -> %g +- %g",
                base, r0.ess, r0.ess_err, r1.ess, r1.ess_err);
  char path[4200];
  snprintf(path, sizeof path, "%s/trained.h5", dir);
  check_importance(c1, path);
  fg_config_free(&c0);
}

/* The normal base; its checkpoint records z2, and a resume from it with
 * model.symmetry none is refused by name. */
START_TEST(training_raises_the_ess_and_weights_are_exact)
{
  dir = fg_test_tmpdir();
  fg_config c1, c2;
  fg_train_result r2;
  fg_error err = {0};
  fg_train_options opt = {.comm = MPI_COMM_WORLD, .resume = 1};
  train_and_check("normal", &c1);
  load(&c2, "trained", 160, "none");
  ck_assert_int_eq(fg_train_run(&c2, &opt, &r2, &err), FG_ERR_INPUT);
  ck_assert_msg(strstr(err.msg, "model.symmetry") != NULL, "%s", err.msg);
  fg_config_free(&c1);
  fg_config_free(&c2);
  fg_test_remove_dir(dir);
  free(dir);
}
END_TEST

/* The free-field base (mu_init 1.5 against m2 = 0.5): z2 training through
 * the mirror's score, mu's included (its transpose solve, M^-1). */
START_TEST(free_field_base_trains_with_z2)
{
  dir = fg_test_tmpdir();
  fg_config c1;
  train_and_check("free_field", &c1);
  fg_config_free(&c1);
  fg_test_remove_dir(dir);
  free(dir);
}
END_TEST

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  Suite *s = suite_create("symmetry");
  TCase *tc = tcase_create("z2");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, phi4_density_is_even_and_sampling_agrees_with_evaluation);
  tcase_add_test(tc, schwinger_density_is_even_and_sampling_agrees_with_evaluation);
  tcase_add_test(tc, signs_are_keyed_by_sample);
  tcase_add_test(tc, phi4_gradient_matches_finite_differences);
  tcase_add_test(tc, schwinger_gradient_matches_finite_differences);
  tcase_add_test(tc, phi4_path_plus_score_is_the_reparameterised_gradient);
  tcase_add_test(tc, schwinger_path_plus_score_is_the_reparameterised_gradient);
  tcase_add_test(tc, training_raises_the_ess_and_weights_are_exact);
  tcase_add_test(tc, free_field_base_trains_with_z2);
  suite_add_tcase(s, tc);
  int rc = fg_test_run(s);
  MPI_Finalize();
  return rc;
}
