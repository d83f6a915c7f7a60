/* test_chain.c -- the independence-Metropolis chain: exact acceptance for lognormal weights, an exact flow accepts all, chunking never changes the chain. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flowgen/analysis.h"
#include "flowgen/rng.h"
#include "flowgen/sample.h"
#include "testutil.h"

START_TEST(acceptance_matches_the_exact_formula)
{
  /* log w ~ N(0, sigma^2) under the proposal: the stationary current state
   * is N(sigma^2, sigma^2), and the acceptance is 2 Phi(-sigma/sqrt 2) = erfc(sigma/2). */
  const double sigmas[3] = {0.5, 1.0, 2.0};
  enum { N = 400000 };
  double *logw = malloc(sizeof(double) * N), *acc = malloc(sizeof(double) * N);
  int64_t *index = malloc(sizeof(int64_t) * N);
  uint8_t *moved = malloc(N);
  for (int k = 0; k < 3; ++k) {
    fg_rng r;
    fg_rng_init(&r, 10 + k, FG_RNG_TEST, 0, 0);
    for (int i = 0; i < N; ++i)
      logw[i] = sigmas[k] * fg_rng_normal(&r);
    fg_imh_chain c;
    fg_imh_init(&c, 77);
    fg_imh_chain_run(&c, logw, N, index, moved);
    for (int i = 0; i < N; ++i)
      acc[i] = moved[i];
    fg_gamma_result g;
    fg_error err;
    ck_assert_int_eq(fg_gamma_mean(acc + 1, N - 1, 1.5, &g, &err), FG_OK);
    double exact = erfc(sigmas[k] / 2.0);
    ck_assert_msg(fabs(g.value - exact) < 4 * g.err, "sigma %g: %g +- %g, exact %g", sigmas[k],
                  g.value, g.err, exact);
    ck_assert_int_eq(c.steps, N);
  }
  free(logw), free(acc), free(index), free(moved);
}
END_TEST

START_TEST(exact_flow_accepts_everything)
{
  enum { N = 1000 };
  double logw[N];
  int64_t index[N];
  uint8_t moved[N];
  for (int i = 0; i < N; ++i)
    logw[i] = -12.25;
  fg_imh_chain c;
  fg_imh_init(&c, 5);
  fg_imh_chain_run(&c, logw, N, index, moved);
  for (int i = 0; i < N; ++i) {
    ck_assert_int_eq(moved[i], 1);
    ck_assert_int_eq(index[i], i);
  }
  ck_assert_int_eq(c.accepted, N);
}
END_TEST

START_TEST(chunking_and_order_of_calls_do_not_matter)
{
  enum { N = 5000 };
  double logw[N];
  int64_t i1[N], i2[N];
  uint8_t a1[N], a2[N];
  fg_rng r;
  fg_rng_init(&r, 3, FG_RNG_TEST, 0, 0);
  for (int i = 0; i < N; ++i)
    logw[i] = 1.5 * fg_rng_normal(&r);
  logw[17] = NAN; /* a broken proposal is never accepted */
  logw[18] = -INFINITY;
  fg_imh_chain c1, c2;
  fg_imh_init(&c1, 9);
  fg_imh_init(&c2, 9);
  fg_imh_chain_run(&c1, logw, N, i1, a1);
  for (int s = 0; s < N;) {
    int n = 1 + (s * 7919) % 333;
    if (s + n > N)
      n = N - s;
    fg_imh_chain_run(&c2, logw + s, n, i2 + s, a2 + s);
    s += n;
  }
  ck_assert(memcmp(i1, i2, sizeof i1) == 0 && memcmp(a1, a2, sizeof a1) == 0);
  ck_assert_int_eq(a1[17], 0);
  ck_assert_int_eq(a1[18], 0);
  ck_assert_int_eq(i1[0], 0);
  ck_assert_int_eq(a1[0], 1);
  /* A resumed chain (state copied) continues identically. */
  fg_imh_chain c3;
  fg_imh_init(&c3, 9);
  fg_imh_chain_run(&c3, logw, 2500, i2, a2);
  fg_imh_chain saved = c3;
  fg_imh_chain_run(&saved, logw + 2500, N - 2500, i2 + 2500, a2 + 2500);
  ck_assert(memcmp(i1, i2, sizeof i1) == 0);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("chain");
  TCase *tc = tcase_create("imh");
  tcase_add_test(tc, acceptance_matches_the_exact_formula);
  tcase_add_test(tc, exact_flow_accepts_everything);
  tcase_add_test(tc, chunking_and_order_of_calls_do_not_matter);
  suite_add_tcase(s, tc);
  return fg_test_run(s);
}
