/*
 * ess.c -- the model-sample effective sample size (seed eq. A7), the one
 * place flowgen computes it (see analysis.h). Local and pure.
 *
 *   void fg_ess_reset(double sums[FG_ESS_LEN])
 *     Empty sums (no samples).
 *   void fg_ess_add(double sums[FG_ESS_LEN], const double *logw, size_t n)
 *     Adds n log-weights as one chunk: shifted by the chunk's own largest
 *     log-weight, summed in order, then merged into sums.
 *   void fg_ess_merge(const double in[FG_ESS_LEN], double io[FG_ESS_LEN])
 *     io = the sums of both (commutative: an MPI reduction may use it).
 *   double fg_ess_value(const double sums[FG_ESS_LEN], double *err)
 *     (mean w)^2 / mean w^2 and, when err != NULL, its delta-method error;
 *     0 (err 0) without samples or without a positive weight.
 *   double fg_ess(const double *logw, size_t n)
 *     The ESS of one array: reset, add, value.
 *
 * Non-finite log-weights: -inf is a weight of exactly zero (a sample the
 * target does not allow) and counts as a sample. NaN or +inf leaves the
 * estimate undefined: the sums turn NaN, stay NaN through every add and
 * merge, and the value and its error are NaN.
 */
#include <math.h>

#include "flowgen/analysis.h"

void fg_ess_reset(double sums[FG_ESS_LEN])
{
  for (int k = 0; k < FG_ESS_LEN; ++k)
    sums[k] = 0.0;
  sums[FG_ESS_MAX] = -INFINITY;
}

void fg_ess_merge(const double in[FG_ESS_LEN], double io[FG_ESS_LEN])
{
  io[FG_ESS_N] += in[FG_ESS_N];
  double m = in[FG_ESS_MAX] > io[FG_ESS_MAX] ? in[FG_ESS_MAX] : io[FG_ESS_MAX];
  if (m == -INFINITY) { /* no positive weight on either side: nothing to rescale */
    for (int k = FG_ESS_S1; k <= FG_ESS_S4; ++k)
      io[k] += in[k]; /* 0 + 0, or a NaN passed on */
    return;
  }
  double a = exp(in[FG_ESS_MAX] - m), b = exp(io[FG_ESS_MAX] - m);
  double ap = a, bp = b;
  for (int k = FG_ESS_S1; k <= FG_ESS_S4; ++k) {
    io[k] = in[k] * ap + io[k] * bp;
    ap *= a;
    bp *= b;
  }
  io[FG_ESS_MAX] = m;
}

void fg_ess_add(double sums[FG_ESS_LEN], const double *logw, size_t n)
{
  double part[FG_ESS_LEN];
  fg_ess_reset(part);
  int undefined = 0;
  for (size_t i = 0; i < n; ++i) {
    undefined |= isnan(logw[i]) || logw[i] == INFINITY;
    part[FG_ESS_MAX] = logw[i] > part[FG_ESS_MAX] && logw[i] < INFINITY ? logw[i]
                                                                        : part[FG_ESS_MAX];
  }
  part[FG_ESS_N] = (double)n;
  if (undefined) {
    for (int k = FG_ESS_S1; k <= FG_ESS_S4; ++k)
      part[k] = NAN;
  } else if (part[FG_ESS_MAX] > -INFINITY) { /* else every weight is zero */
    for (size_t i = 0; i < n; ++i) {
      double w = exp(logw[i] - part[FG_ESS_MAX]);
      part[FG_ESS_S1] += w;
      part[FG_ESS_S2] += w * w;
      part[FG_ESS_S3] += w * w * w;
      part[FG_ESS_S4] += w * w * w * w;
    }
  }
  fg_ess_merge(part, sums);
}

double fg_ess_value(const double sums[FG_ESS_LEN], double *err)
{
  double n = sums[FG_ESS_N];
  if (isnan(sums[FG_ESS_S1]) || isnan(sums[FG_ESS_S2])) {
    if (err)
      *err = NAN;
    return NAN;
  }
  if (n <= 0 || sums[FG_ESS_S2] <= 0) {
    if (err)
      *err = 0.0;
    return 0.0;
  }
  double a = sums[FG_ESS_S1] / n, b = sums[FG_ESS_S2] / n;
  double m3 = sums[FG_ESS_S3] / n, m4 = sums[FG_ESS_S4] / n;
  double ess = a * a / b;
  if (err) {
    double ga = 2 * a / b, gb = -a * a / (b * b);
    double var = (ga * ga * (b - a * a) + 2 * ga * gb * (m3 - a * b) + gb * gb * (m4 - b * b)) / n;
    *err = var > 0 ? sqrt(var) : isnan(var) ? NAN : 0.0;
  }
  return ess;
}

double fg_ess(const double *logw, size_t n)
{
  double sums[FG_ESS_LEN];
  fg_ess_reset(sums);
  fg_ess_add(sums, logw, n);
  return fg_ess_value(sums, NULL);
}
