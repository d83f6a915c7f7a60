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

#endif
