/*
 * gamma.c -- Wolff's Gamma method with automatic windowing, one replicum
 * (see analysis.h for the algorithm and the flags). All functions are local.
 *
 *   int fg_gamma_analyze(const double *a, int nobs, size_t n, fg_gamma_func f,
 *                        void *ctx, double S, fg_gamma_result *out, fg_error *err)
 *     Value, error, error of the error, tau_int and its error, window and
 *     flags of F(abar) for the primary series a [nobs][n].
 *
 *   int fg_gamma_mean(const double *x, size_t n, double S, fg_gamma_result *out,
 *                     fg_error *err)
 *     The same for the mean of one series.
 *
 *   int fg_gamma_autocov(const double *d, size_t n, size_t tmax, double *gamma,
 *                        fg_error *err)
 *     gamma[t] = 1/(n-t) sum_i d(i) d(i+t), t = 0..tmax: direct for short
 *     series, by a zero-padded FFT otherwise.
 */
#include <fftw3.h>
#include <math.h>
#include <string.h>

#include "flowgen/analysis.h"

/* Below this length the O(n tmax) sum is cheaper than planning an FFT. */
enum { DIRECT_MAX_N = 512 };

/* The smallest 2^a 3^b 5^c >= m: sizes FFTW transforms fastest. */
static size_t fft_size(size_t m)
{
  for (size_t s = m;; ++s) {
    size_t r = s;
    while (r % 2 == 0)
      r /= 2;
    while (r % 3 == 0)
      r /= 3;
    while (r % 5 == 0)
      r /= 5;
    if (r == 1)
      return s;
  }
}

static void autocov_direct(const double *d, size_t n, size_t tmax, double *gamma)
{
  for (size_t t = 0; t <= tmax; ++t) {
    double s = 0.0;
    for (size_t i = 0; i + t < n; ++i)
      s += d[i] * d[i + t];
    gamma[t] = s / (double)(n - t);
  }
}

/* Padding to >= 2n makes the circular correlation of the FFT equal the
 * linear one for every lag up to n - 1. */
static int autocov_fft(const double *d, size_t n, size_t tmax, double *gamma, fg_error *err)
{
  static const char where[] = "fg_gamma_autocov [gamma.c]";
  size_t m = fft_size(2 * n);
  double *x = fg_alloc(sizeof(double) * m, err, where);
  fftw_complex *c = fg_alloc(sizeof(fftw_complex) * (m / 2 + 1), err, where);
  if (x == NULL || c == NULL) {
    fg_free(x), fg_free(c);
    return FG_ERR_RUNTIME;
  }
  fftw_plan fwd = fftw_plan_dft_r2c_1d((int)m, x, c, FFTW_ESTIMATE);
  fftw_plan bwd = fftw_plan_dft_c2r_1d((int)m, c, x, FFTW_ESTIMATE);
  int rc = FG_OK;
  if (fwd == NULL || bwd == NULL) {
    rc = fg_fail(err, FG_ERR_RUNTIME, where, "FFTW could not plan a transform of size %zu", m);
  } else {
    memcpy(x, d, sizeof(double) * n);  /* the rest of x is zero (fg_alloc) */
    fftw_execute(fwd);
    for (size_t k = 0; k < m / 2 + 1; ++k) {
      c[k][0] = c[k][0] * c[k][0] + c[k][1] * c[k][1];
      c[k][1] = 0.0;
    }
    fftw_execute(bwd);
    for (size_t t = 0; t <= tmax; ++t)
      gamma[t] = x[t] / ((double)m * (double)(n - t));
  }
  if (fwd != NULL)
    fftw_destroy_plan(fwd);
  if (bwd != NULL)
    fftw_destroy_plan(bwd);
  fg_free(x), fg_free(c);
  return rc;
}

int fg_gamma_autocov(const double *d, size_t n, size_t tmax, double *gamma, fg_error *err)
{
  static const char where[] = "fg_gamma_autocov [gamma.c]";
  if (n == 0 || tmax >= n)
    return fg_fail(err, FG_ERR_INPUT, where, "lag %zu outside a series of length %zu", tmax, n);
  if (n > (size_t)1 << 29)
    return fg_fail(err, FG_ERR_INPUT, where, "series of length %zu too long for one FFT", n);
  if (n <= DIRECT_MAX_N) {
    autocov_direct(d, n, tmax, gamma);
    return FG_OK;
  }
  return autocov_fft(d, n, tmax, gamma, err);
}

/* Mean of each primary, and the finite-difference step: half its naive
 * error. A series of identical values gets its value as mean, so that
 * constant data give exactly zero fluctuations rather than rounding noise. */
static void means_and_steps(const double *a, int nobs, size_t n, double *abar, double *h)
{
  for (int al = 0; al < nobs; ++al) {
    const double *x = a + (size_t)al * n;
    double s = 0.0;
    int constant = 1;
    for (size_t t = 0; t < n; ++t) {
      s += x[t];
      constant &= x[t] == x[0];
    }
    if (constant) {
      abar[al] = x[0];
      h[al] = 0.0;
      continue;
    }
    abar[al] = s / (double)n;
    double v = 0.0;
    for (size_t t = 0; t < n; ++t)
      v += (x[t] - abar[al]) * (x[t] - abar[al]);
    h[al] = 0.5 * sqrt(v / (double)n / (double)n);
  }
}

/* Central-difference gradient of f at abar; 0 if it is not finite. */
static int gradient(fg_gamma_func f, void *ctx, int nobs, const double *abar, const double *h,
                    double *work, double *grad)
{
  memcpy(work, abar, sizeof(double) * (size_t)nobs);
  for (int al = 0; al < nobs; ++al) {
    if (h[al] == 0.0) {
      grad[al] = 0.0;
      continue;
    }
    /* Divide by the step actually taken, not 2h: abar +- h is rounded. */
    double up = abar[al] + h[al], down = abar[al] - h[al];
    work[al] = up;
    double fp = f(work, ctx);
    work[al] = down;
    double fm = f(work, ctx);
    work[al] = abar[al];
    grad[al] = (fp - fm) / (up - down);
    if (!isfinite(grad[al]))
      return 0;
  }
  return 1;
}

/* d(t) = sum_alpha grad_alpha (a_alpha(t) - abar_alpha). */
static void project(const double *a, int nobs, size_t n, const double *abar, const double *grad,
                    double *d)
{
  memset(d, 0, sizeof(double) * n);
  for (int al = 0; al < nobs; ++al) {
    if (grad[al] == 0.0)
      continue;
    const double *x = a + (size_t)al * n;
    for (size_t t = 0; t < n; ++t)
      d[t] += grad[al] * (x[t] - abar[al]);
  }
}

/* Wolff's automatic window: the first W where g(W) < 0, balancing the
 * systematic error exp(-W/tau) of truncation against the statistical error
 * tau sqrt(W/n) of the summed autocorrelations. */
static size_t auto_window(const double *gamma, size_t n, size_t wmax, double S, int *hit_max)
{
  double gint = 0.0;  /* tau_int(W) - 1/2 */
  for (size_t w = 1; w <= wmax; ++w) {
    gint += gamma[w] / gamma[0];
    double tau = gint > 0.0 ? S / log1p(1.0 / gint) : 1e-300;
    double g = exp(-(double)w / tau) - tau / sqrt((double)w * (double)n);
    if (g < 0.0) {
      *hit_max = 0;
      return w;
    }
  }
  *hit_max = 1;
  return wmax;
}

/* Errors from Gamma(0..W), after removing the bias of Gamma(t) that the
 * estimated mean causes (Wolff eq. 31): every Gamma(t) is too small by about
 * C(W)/n. */
static void summarize(double *gamma, size_t n, size_t w, fg_gamma_result *out)
{
  double c = gamma[0];
  for (size_t t = 1; t <= w; ++t)
    c += 2.0 * gamma[t];
  for (size_t t = 0; t <= w; ++t)
    gamma[t] += c / (double)n;
  c = gamma[0];
  for (size_t t = 1; t <= w; ++t)
    c += 2.0 * gamma[t];
  double dn = (double)n, dw = (double)w;
  out->tau_int = c / (2.0 * gamma[0]);
  if (c <= 0.0) {
    out->flags |= FG_GAMMA_NEGATIVE_VARIANCE;
    out->err = out->err_err = out->tau_int_err = 0.0;
    return;
  }
  out->err = sqrt(c / dn);
  out->err_err = out->err * sqrt((dw + 0.5) / dn);
  double ms = dw - out->tau_int + 0.5;
  out->tau_int_err = 2.0 * out->tau_int * sqrt((ms > 0.0 ? ms : 0.0) / dn);
  if (dn < FG_GAMMA_SHORT_FACTOR * out->tau_int)
    out->flags |= FG_GAMMA_SHORT;
}

static int check_input(const double *a, int nobs, size_t n, fg_gamma_func f, double S,
                       fg_error *err)
{
  static const char where[] = "fg_gamma_analyze [gamma.c]";
  if (a == NULL || nobs < 1)
    return fg_fail(err, FG_ERR_INPUT, where, "no primary series (nobs = %d)", nobs);
  if (n < 2)
    return fg_fail(err, FG_ERR_INPUT, where, "need at least 2 measurements, got %zu", n);
  if (f == NULL && nobs != 1)
    return fg_fail(err, FG_ERR_INPUT, where, "no derived function for %d primaries", nobs);
  if (!(S > 0.0) || !isfinite(S))
    return fg_fail(err, FG_ERR_INPUT, where, "window parameter S = %g must be positive", S);
  for (int al = 0; al < nobs; ++al)
    for (size_t t = 0; t < n; ++t)
      if (!isfinite(a[(size_t)al * n + t]))
        return fg_fail(err, FG_ERR_INPUT, where, "primary %d, measurement %zu is %g", al, t,
                       a[(size_t)al * n + t]);
  return FG_OK;
}

static double identity(const double *abar, void *ctx)
{
  (void)ctx;
  return abar[0];
}

/* Steps 3 to 6 on the projected fluctuations d, with F(abar) in out->value. */
static int analyze_projection(const double *d, size_t n, double S, fg_gamma_result *out,
                              fg_error *err)
{
  static const char where[] = "fg_gamma_analyze [gamma.c]";
  size_t wmax = n / 2;
  double *gamma = fg_alloc(sizeof(double) * (wmax + 1), err, where);
  if (gamma == NULL)
    return FG_ERR_RUNTIME;
  int rc = fg_gamma_autocov(d, n, wmax, gamma, err);
  if (rc == FG_OK && !(gamma[0] > 0.0)) {
    out->flags |= FG_GAMMA_ZERO_VARIANCE;
    out->tau_int = 0.5;
  } else if (rc == FG_OK) {
    int hit_max;
    out->window = auto_window(gamma, n, wmax, S, &hit_max);
    if (hit_max)
      out->flags |= FG_GAMMA_WINDOW_MAX;
    summarize(gamma, n, out->window, out);
  }
  fg_free(gamma);
  return rc;
}

int fg_gamma_analyze(const double *a, int nobs, size_t n, fg_gamma_func f, void *ctx,
                     double S, fg_gamma_result *out, fg_error *err)
{
  static const char where[] = "fg_gamma_analyze [gamma.c]";
  int rc = check_input(a, nobs, n, f, S, err);
  if (rc != FG_OK)
    return rc;
  if (f == NULL)
    f = identity;
  double *par = fg_alloc(sizeof(double) * 4 * (size_t)nobs, err, where);
  double *d = fg_alloc(sizeof(double) * n, err, where);
  if (par == NULL || d == NULL) {
    fg_free(par), fg_free(d);
    return FG_ERR_RUNTIME;
  }
  double *abar = par, *h = par + nobs, *grad = par + 2 * nobs, *work = par + 3 * nobs;
  fg_gamma_result r = {.n = n};
  means_and_steps(a, nobs, n, abar, h);
  r.value = f(abar, ctx);
  if (!isfinite(r.value) || !gradient(f, ctx, nobs, abar, h, work, grad)) {
    r.err = r.err_err = r.tau_int = r.tau_int_err = NAN;
    r.flags = FG_GAMMA_UNDEFINED;
  } else {
    if (f == identity)
      grad[0] = 1.0;  /* exact, whatever the rounding of the difference */
    project(a, nobs, n, abar, grad, d);
    rc = analyze_projection(d, n, S, &r, err);
  }
  fg_free(par), fg_free(d);
  if (rc == FG_OK)
    *out = r;
  return rc;
}

int fg_gamma_mean(const double *x, size_t n, double S, fg_gamma_result *out, fg_error *err)
{
  return fg_gamma_analyze(x, 1, n, NULL, NULL, S, out, err);
}
