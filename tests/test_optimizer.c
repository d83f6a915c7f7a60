/* test_optimizer.c -- Adam, Adadelta, SGD with momentum and norm clipping reproduce PyTorch's update rules step by step. */
#include <math.h>

#include "flowgen/train.h"
#include "testutil.h"

/* Two parameters, gradients fixed per step: compare with the update rules
 * written out by hand (PyTorch's documentation). */
static const double G[3][2] = {{0.5, -2.0}, {0.1, 0.3}, {-1.0, 4.0}};

START_TEST(adam_matches_hand_computation)
{
  fg_optimizer_config c = {.name = FG_OPT_ADAM, .lr = 1e-2, .beta1 = 0.9, .beta2 = 0.999,
                           .eps = 1e-8};
  fg_optimizer o;
  ck_assert_int_eq(fg_optimizer_init(&o, &c, 2, NULL), FG_OK);
  float p[2] = {1.0f, -0.5f};
  double ref[2] = {1.0, -0.5}, m[2] = {0}, v[2] = {0};
  for (int t = 1; t <= 3; ++t) {
    fg_optimizer_step(&o, p, G[t - 1], c.lr);
    for (int i = 0; i < 2; ++i) {
      m[i] = 0.9 * m[i] + 0.1 * G[t - 1][i];
      v[i] = 0.999 * v[i] + 0.001 * G[t - 1][i] * G[t - 1][i];
      double mh = m[i] / (1 - pow(0.9, t)), vh = v[i] / (1 - pow(0.999, t));
      ref[i] = (float)(ref[i] - c.lr * mh / (sqrt(vh) + c.eps));
      ck_assert_float_eq_tol(p[i], ref[i], 1e-6);
    }
  }
  /* First Adam step moves each parameter by lr, whatever the gradient scale. */
  ck_assert_int_eq(o.t, 3);
  fg_optimizer_free(&o);
}
END_TEST

START_TEST(adadelta_matches_hand_computation)
{
  fg_optimizer_config c = {.name = FG_OPT_ADADELTA, .lr = 1.0, .rho = 0.9, .eps = 1e-6};
  fg_optimizer o;
  ck_assert_int_eq(fg_optimizer_init(&o, &c, 2, NULL), FG_OK);
  float p[2] = {1.0f, -0.5f};
  double ref[2] = {1.0, -0.5}, sq[2] = {0}, acc[2] = {0};
  for (int t = 0; t < 3; ++t) {
    fg_optimizer_step(&o, p, G[t], c.lr);
    for (int i = 0; i < 2; ++i) {
      sq[i] = 0.9 * sq[i] + 0.1 * G[t][i] * G[t][i];
      double d = sqrt(acc[i] + 1e-6) / sqrt(sq[i] + 1e-6) * G[t][i];
      acc[i] = 0.9 * acc[i] + 0.1 * d * d;
      ref[i] = (float)(ref[i] - d);
      ck_assert_float_eq_tol(p[i], ref[i], 1e-6);
    }
  }
  fg_optimizer_free(&o);
}
END_TEST

START_TEST(sgd_momentum_matches_hand_computation)
{
  fg_optimizer_config c = {.name = FG_OPT_SGD, .lr = 0.1, .momentum = 0.9};
  fg_optimizer o;
  ck_assert_int_eq(fg_optimizer_init(&o, &c, 2, NULL), FG_OK);
  float p[2] = {1.0f, -0.5f};
  double ref[2] = {1.0, -0.5}, buf[2] = {0};
  for (int t = 0; t < 3; ++t) {
    fg_optimizer_step(&o, p, G[t], c.lr);
    for (int i = 0; i < 2; ++i) {
      buf[i] = t == 0 ? G[t][i] : 0.9 * buf[i] + G[t][i];
      ref[i] = (float)(ref[i] - 0.1 * buf[i]);
      ck_assert_float_eq_tol(p[i], ref[i], 1e-6);
    }
  }
  fg_optimizer_free(&o);
}
END_TEST

START_TEST(clipping_scales_to_the_max_norm)
{
  double g[3] = {3.0, 4.0, 0.0};
  ck_assert_double_eq_tol(fg_clip_grad_norm(g, 3, 1.0), 5.0, 1e-12);
  ck_assert_double_eq_tol(sqrt(g[0] * g[0] + g[1] * g[1]), 5.0 / (5.0 + 1e-6), 1e-12);
  double h[2] = {0.3, 0.4};
  fg_clip_grad_norm(h, 2, 1.0); /* below the limit: untouched */
  ck_assert_double_eq(h[0], 0.3);
  fg_clip_grad_norm(g, 3, 0.0); /* 0 disables */
  ck_assert_double_eq_tol(g[0], 3.0 / (5.0 + 1e-6), 1e-12);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("optimizer");
  TCase *tc = tcase_create("rules");
  tcase_add_test(tc, adam_matches_hand_computation);
  tcase_add_test(tc, adadelta_matches_hand_computation);
  tcase_add_test(tc, sgd_momentum_matches_hand_computation);
  tcase_add_test(tc, clipping_scales_to_the_max_norm);
  suite_add_tcase(s, tc);
  return fg_test_run(s);
}
