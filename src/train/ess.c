/*
 * ess.c -- the model-sample effective sample size (seed eq. A7). Local.
 */
#include <math.h>

#include "flowgen/train.h"

double fg_ess(const double *logw, size_t n)
{
  if (n == 0)
    return 0.0;
  double mx = -INFINITY;
  for (size_t i = 0; i < n; ++i)
    mx = logw[i] > mx ? logw[i] : mx;
  if (!isfinite(mx))
    return 0.0;
  double s1 = 0.0, s2 = 0.0;
  for (size_t i = 0; i < n; ++i) {
    double w = exp(logw[i] - mx);
    s1 += w;
    s2 += w * w;
  }
  return s1 * s1 / ((double)n * s2);
}
