/*
 * simd.h -- internal: run-time instruction-set dispatch for element-wise
 * loops, and branch-free float functions that vectorise.
 *
 * FG_MULTIVERSION marks a function that GCC compiles twice (x86-64-v4, i.e.
 * AVX-512, and the baseline) and picks at load time by the CPU: the portable
 * path stays, and AVX-512 machines get 16-wide loops. Elsewhere it is empty.
 *
 *   float fg_tanhf_lane(float x)
 *     tanh(x) with a relative error below 3e-7, branch-free, so loops of it
 *     vectorise; tanh(x) = expm1(2|x|) / (expm1(2|x|) + 2) with the sign of x,
 *     expm1 by Cody-Waite reduction and a degree-7 polynomial.
 *
 *   void fg_tanhf_16(float *x)
 *     The same function on 16 consecutive floats in place, written with
 *     GCC vector types so that it is vector code whatever the compiler
 *     decides about loops (AVX-512: one instruction per step).
 *
 *   double fg_exp_small(double x)
 *     exp(x) for |x| <= 2 (the scale of a coupling layer, s = tanh(...)),
 *     within 2 ulp, branch-free: x = n ln2 + r with n in {-3..3}, |r| <= ln2/2,
 *     a degree-13 Taylor polynomial (truncation below 1e-17), times 2^n.
 */
#ifndef FLOWGEN_SIMD_H
#define FLOWGEN_SIMD_H

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define FG_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "default")))
#else
#define FG_MULTIVERSION
#endif

static inline float fg_tanhf_lane(float x)
{
  float ax = x < 0.0f ? -x : x;
  float y = 2.0f * (ax < 9.0f ? ax : 9.0f);
  float n = (float)(int)(y * 1.44269504f + 0.5f);  /* y >= 0: round to nearest */
  float r = (y - n * 0.693145752f) - n * 1.42860677e-06f; /* |r| <= ln2 / 2 */
  float p = r * (1.0f + r * (0.5f + r * (1.66666672e-1f + r * (4.16666679e-2f +
            r * (8.33333377e-3f + r * (1.38888892e-3f + r * 1.98412701e-4f))))));
  int32_t bits = ((int32_t)n + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  float em1 = scale * p + (scale - 1.0f);  /* 2^n (e^r - 1) + (2^n - 1) */
  float t = em1 / (em1 + 2.0f);
  return x < 0.0f ? -t : t;
}

typedef float fg_v16f __attribute__((vector_size(64)));
typedef int32_t fg_v16i __attribute__((vector_size(64)));

static inline __attribute__((always_inline)) void fg_tanhf_16(float *x)
{
  fg_v16f v, sign_mask, ax, y, n, r, p, scale, em1, t;
  memcpy(&v, x, sizeof v);
  const fg_v16i abs_bits = (fg_v16i){0} + 0x7fffffff;
  ax = (fg_v16f)((fg_v16i)v & abs_bits);
  sign_mask = (fg_v16f)((fg_v16i)v & ~abs_bits);
  fg_v16i big = ax > 9.0f;
  y = 2.0f * (fg_v16f)((big & (fg_v16i)((fg_v16f){0} + 9.0f)) | (~big & (fg_v16i)ax));
  fg_v16i ni = __builtin_convertvector(y * 1.44269504f + 0.5f, fg_v16i);
  n = __builtin_convertvector(ni, fg_v16f);
  r = (y - n * 0.693145752f) - n * 1.42860677e-06f;
  p = r * (1.0f + r * (0.5f + r * (1.66666672e-1f + r * (4.16666679e-2f +
      r * (8.33333377e-3f + r * (1.38888892e-3f + r * 1.98412701e-4f))))));
  scale = (fg_v16f)((ni + 127) << 23);
  em1 = scale * p + (scale - 1.0f);
  t = em1 / (em1 + 2.0f);
  v = (fg_v16f)((fg_v16i)t | (fg_v16i)sign_mask);
  memcpy(x, &v, sizeof v);
}

static inline __attribute__((always_inline)) double fg_exp_small(double x)
{
  double n = (double)(int)(x * 1.4426950408889634 + (x < 0 ? -0.5 : 0.5));
  double r = (x - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10;
  double p = 1.0 / 6227020800.0;                       /* 1/13! */
  static const double inv_fact[13] = {1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
                                      1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0,
                                      1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0};
  for (int k = 0; k < 13; ++k)
    p = p * r + inv_fact[k];
  /* shifted as unsigned: the same bits, without the undefined left shift of a
   * negative biased exponent (x = NaN or x < -708 give (int)n + 1023 < 0) */
  uint64_t bits = (uint64_t)(int64_t)((int)n + 1023) << 52;
  double scale;
  memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

#endif
