/* test_phi4.c -- the phi^4 action against its two textbook forms, and its force against a finite difference. */
#include <math.h>
#include <stdlib.h>

#include "flowgen/rng.h"
#include "flowgen/theory.h"
#include "testutil.h"

static fg_theory *make(int L0, int L1, double m2, double lambda)
{
  fg_theory_config c = {.name = FG_THEORY_PHI4, .nd = 2, .extent = {L0, L1}, .m2 = m2,
                        .lambda = lambda};
  fg_theory *t;
  fg_error err;
  ck_assert_int_eq(fg_theory_create(&c, &t, &err), FG_OK);
  return t;
}

START_TEST(action_equals_gradient_form)
{
  fg_theory *t = make(6, 4, -1.3, 0.7);
  int V = fg_theory_lattice(t)->volume;
  double *phi = malloc(sizeof(double) * V);
  fg_rng r;
  fg_rng_init(&r, 3, FG_RNG_TEST, 0, 0);
  fg_rng_normals(&r, phi, V);
  double S;
  fg_theory_action(t, phi, 1, &S);
  double ref = 0;
  for (int x = 0; x < V; ++x) {
    for (int mu = 0; mu < 2; ++mu) {
      double d = phi[fg_theory_lattice(t)->up[x * 2 + mu]] - phi[x];
      ref += 0.5 * d * d;
    }
    ref += 0.5 * -1.3 * phi[x] * phi[x] + 0.7 * pow(phi[x], 4);
  }
  ck_assert_double_eq_tol(S, ref, 1e-12 * fabs(ref));
  /* A constant field c: S = V (m2/2 c^2 + lambda c^4). */
  for (int x = 0; x < V; ++x)
    phi[x] = 0.8;
  fg_theory_action(t, phi, 1, &S);
  ck_assert_double_eq_tol(S, V * (-0.65 * 0.64 + 0.7 * 0.4096), 1e-12);
  free(phi);
  fg_theory_destroy(t);
}
END_TEST

START_TEST(lanes_agree_with_single_configurations)
{
  enum { LANES = 16 };
  fg_theory *t = make(8, 8, -4.0, 2.0);
  int V = fg_theory_lattice(t)->volume;
  double *blk = malloc(sizeof(double) * V * LANES), *one = malloc(sizeof(double) * V);
  double *fblk = malloc(sizeof(double) * V * LANES), *fone = malloc(sizeof(double) * V);
  fg_rng r;
  fg_rng_init(&r, 5, FG_RNG_TEST, 0, 0);
  fg_rng_normals(&r, blk, (size_t)V * LANES);
  double S[LANES];
  fg_theory_action(t, blk, LANES, S);
  fg_theory_force(t, blk, LANES, fblk);
  for (int l = 0; l < LANES; ++l) {
    for (int x = 0; x < V; ++x)
      one[x] = blk[x * LANES + l];
    double s1;
    fg_theory_action(t, one, 1, &s1);
    fg_theory_force(t, one, 1, fone);
    ck_assert_double_eq_tol(S[l], s1, 1e-12 * fabs(s1));
    for (int x = 0; x < V; ++x)
      ck_assert_double_eq_tol(fblk[x * LANES + l], fone[x], 1e-12);
  }
  free(blk), free(one), free(fblk), free(fone);
  fg_theory_destroy(t);
}
END_TEST

START_TEST(force_matches_finite_difference)
{
  fg_theory *t = make(4, 6, 0.5, 1.1);
  int V = fg_theory_lattice(t)->volume;
  double *phi = malloc(sizeof(double) * V), *f = malloc(sizeof(double) * V);
  fg_rng r;
  fg_rng_init(&r, 11, FG_RNG_TEST, 0, 0);
  fg_rng_normals(&r, phi, V);
  fg_theory_force(t, phi, 1, f);
  const double h = 1e-5;
  for (int x = 0; x < V; ++x) {
    double keep = phi[x], sp, sm;
    phi[x] = keep + h;
    fg_theory_action(t, phi, 1, &sp);
    phi[x] = keep - h;
    fg_theory_action(t, phi, 1, &sm);
    phi[x] = keep;
    double fd = (sp - sm) / (2 * h);
    ck_assert_double_eq_tol(f[x], fd, 1e-6 * (1 + fabs(fd)));
  }
  free(phi), free(f);
  fg_theory_destroy(t);
}
END_TEST

START_TEST(unimplemented_theory_is_input_error)
{
  fg_theory_config c = {.name = (fg_theory_kind)7, .nd = 2, .extent = {4, 4}};
  fg_theory *t;
  fg_error err;
  ck_assert_int_eq(fg_theory_create(&c, &t, &err), FG_ERR_INPUT);
  ck_assert_ptr_null(t);
  c = (fg_theory_config){.name = FG_THEORY_SCHWINGER, .nd = 3, .extent = {4, 4, 4},
                         .beta = 1, .kappa = 0.2};
  ck_assert_int_eq(fg_theory_create(&c, &t, &err), FG_ERR_INPUT); /* a 2D theory */
  ck_assert_ptr_null(t);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("phi4");
  TCase *tc = tcase_create("action");
  tcase_add_test(tc, action_equals_gradient_form);
  tcase_add_test(tc, lanes_agree_with_single_configurations);
  tcase_add_test(tc, force_matches_finite_difference);
  tcase_add_test(tc, unimplemented_theory_is_input_error);
  suite_add_tcase(s, tc);
  return fg_test_run(s);
}
