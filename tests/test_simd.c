/* test_simd.c -- fg_exp_small (src/util/simd.h) is exp within 2 ulp on its range, and is defined behaviour (no UBSan report) on NaN and far outside it, as a diverging training feeds it. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../src/util/simd.h"
#include "testutil.h"

/* The scale 2^n built as before the fix, for the n where that was defined. */
static double old_scale(int n)
{
  int64_t bits = (int64_t)(n + 1023) << 52;
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}

START_TEST(exp_small_is_exp_on_its_range)
{
  for (int i = -2000; i <= 2000; ++i) {
    double x = i / 1000.0, got = fg_exp_small(x), want = exp(x);
    ck_assert_msg(fabs(got - want) <= 2.0 * (nextafter(want, INFINITY) - want), "x = %g: %.17g vs %.17g",
                  x, got, want);
  }
  for (int n = -1022; n <= 1023; n += 7) /* the unsigned shift gives the same bits */
    ck_assert(old_scale(n) == ldexp(1.0, n));
}
END_TEST

/* Before the fix, NaN and x < -709 shifted a negative int left: undefined,
 * reported by UBSan (halt_on_error in the sanitizer build). */
START_TEST(exp_small_is_defined_on_nan_and_far_outside)
{
  volatile double inputs[] = {NAN, -NAN, -709.0, -750.0, -1000.0, -1.0e6};
  for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; ++i) {
    volatile double r = fg_exp_small(inputs[i]);
    (void)r;
  }
  ck_assert(isnan(fg_exp_small(NAN)));
}
END_TEST

int main(void)
{
  Suite *s = suite_create("simd");
  TCase *tc = tcase_create("exp_small");
  tcase_add_test(tc, exp_small_is_exp_on_its_range);
  tcase_add_test(tc, exp_small_is_defined_on_nan_and_far_outside);
  suite_add_tcase(s, tc);
  return fg_test_run(s);
}
