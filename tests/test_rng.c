/* test_rng.c -- Philox known answers, stream keying, and the statistics of the normals. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flowgen/rng.h"
#include "testutil.h"

START_TEST(philox_known_answers)
{
  /* Random123's published known-answer vectors for philox4x64-10. */
  const uint64_t c0[4] = {0, 0, 0, 0}, k0[2] = {0, 0};
  const uint64_t e0[4] = {0x16554d9eca36314cULL, 0xdb20fe9d672d0fdcULL,
                          0xd7e772cee186176bULL, 0x7e68b68aec7ba23bULL};
  const uint64_t c1[4] = {0x243f6a8885a308d3ULL, 0x13198a2e03707344ULL,
                          0xa4093822299f31d0ULL, 0x082efa98ec4e6c89ULL};
  const uint64_t k1[2] = {0x452821e638d01377ULL, 0xbe5466cf34e90c6cULL};
  const uint64_t e1[4] = {0xa528f45403e61d95ULL, 0x38c72dbd566e9788ULL,
                          0xa5a1610e72fd18b5ULL, 0x57bd43b5e52b7fe6ULL};
  uint64_t out[4];
  fg_rng_philox(c0, k0, out);
  for (int i = 0; i < 4; ++i)
    ck_assert_uint_eq(out[i], e0[i]);
  fg_rng_philox(c1, k1, out);
  for (int i = 0; i < 4; ++i)
    ck_assert_uint_eq(out[i], e1[i]);
}
END_TEST

START_TEST(stream_is_keyed_by_index_not_by_order)
{
  /* Draw the streams of samples 0..9 in two orders: each sample's numbers agree. */
  double fwd[10][7], bwd[10][7];
  for (int j = 0; j < 10; ++j) {
    fg_rng r;
    fg_rng_init(&r, 1234, FG_RNG_TRAIN, (uint64_t)j, 0);
    fg_rng_normals(&r, fwd[j], 7);
  }
  for (int j = 9; j >= 0; --j) {
    fg_rng r;
    fg_rng_init(&r, 1234, FG_RNG_TRAIN, (uint64_t)j, 0);
    fg_rng_normals(&r, bwd[j], 7);
  }
  ck_assert(memcmp(fwd, bwd, sizeof fwd) == 0);
  /* Different index, purpose or seed gives different numbers. */
  fg_rng a, b, c, d;
  fg_rng_init(&a, 1234, FG_RNG_TRAIN, 3, 0);
  fg_rng_init(&b, 1234, FG_RNG_TRAIN, 4, 0);
  fg_rng_init(&c, 1234, FG_RNG_EVAL, 3, 0);
  fg_rng_init(&d, 1235, FG_RNG_TRAIN, 3, 0);
  uint64_t xa = fg_rng_u64(&a);
  ck_assert_uint_ne(xa, fg_rng_u64(&b));
  ck_assert_uint_ne(xa, fg_rng_u64(&c));
  ck_assert_uint_ne(xa, fg_rng_u64(&d));
}
END_TEST

START_TEST(state_copy_restores_position)
{
  fg_rng r, saved;
  fg_rng_init(&r, 7, FG_RNG_TEST, 0, 0);
  for (int i = 0; i < 13; ++i)
    fg_rng_normal(&r);
  saved = r;
  double x[9], y[9];
  fg_rng_normals(&r, x, 9);
  fg_rng_normals(&saved, y, 9);
  ck_assert(memcmp(x, y, sizeof x) == 0);
}
END_TEST

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

START_TEST(normals_have_normal_statistics)
{
  enum { N = 200000 };
  double *x = malloc(sizeof(double) * N);
  ck_assert_ptr_nonnull(x);
  fg_rng r;
  fg_rng_init(&r, 42, FG_RNG_TEST, 0, 0);
  fg_rng_normals(&r, x, N);
  double m1 = 0, m2 = 0, m4 = 0;
  for (int i = 0; i < N; ++i) {
    m1 += x[i];
    m2 += x[i] * x[i];
    m4 += x[i] * x[i] * x[i] * x[i];
  }
  m1 /= N;
  m2 /= N;
  m4 /= N;
  /* 4 sigma bounds: var(x) = 1, var(x^2) = 2, var(x^4) = 96. */
  ck_assert_double_lt(fabs(m1), 4.0 * sqrt(1.0 / N));
  ck_assert_double_lt(fabs(m2 - 1.0), 4.0 * sqrt(2.0 / N));
  ck_assert_double_lt(fabs(m4 - 3.0), 4.0 * sqrt(96.0 / N));
  /* Kolmogorov-Smirnov against the normal CDF; 1.95/sqrt(N) is the 0.1% level. */
  qsort(x, N, sizeof(double), cmp_double);
  double dmax = 0;
  for (int i = 0; i < N; ++i) {
    double F = 0.5 * erfc(-x[i] / sqrt(2.0));
    double d = fmax(fabs(F - (double)i / N), fabs(F - (double)(i + 1) / N));
    dmax = fmax(dmax, d);
  }
  ck_assert_double_lt(dmax, 1.95 / sqrt((double)N));
  free(x);
}
END_TEST

START_TEST(uniforms_open_interval_and_flat)
{
  enum { N = 100000, BINS = 20 };
  int hist[BINS] = {0};
  fg_rng r;
  fg_rng_init(&r, 99, FG_RNG_TEST, 5, 1);
  for (int i = 0; i < N; ++i) {
    double u = fg_rng_uniform(&r);
    ck_assert(u > 0.0 && u < 1.0);
    hist[(int)(u * BINS)]++;
  }
  /* chi^2 with 19 degrees of freedom: 43.8 is the 0.1% critical value. */
  double chi2 = 0, e = (double)N / BINS;
  for (int b = 0; b < BINS; ++b)
    chi2 += (hist[b] - e) * (hist[b] - e) / e;
  ck_assert_double_lt(chi2, 43.8);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("rng");
  TCase *tc = tcase_create("philox");
  tcase_add_test(tc, philox_known_answers);
  tcase_add_test(tc, stream_is_keyed_by_index_not_by_order);
  tcase_add_test(tc, state_copy_restores_position);
  tcase_add_test(tc, normals_have_normal_statistics);
  tcase_add_test(tc, uniforms_open_interval_and_flat);
  suite_add_tcase(s, tc);
  return fg_test_run(s);
}
