/*
 * circle_spline.c -- the circular rational-quadratic spline, the circle map
 * of the gauge coupling layer with model.gauge_map spline (Durkan et al.
 * 2019, arXiv:1906.04032; on the circle Rezende et al. 2020,
 * arXiv:2002.02428). docs/model.md states it in full. Local, pure.
 *
 *   void fg_circle_spline_params(const float *raw, size_t stride, int bins,
 *                                fg_circle_spline *s)
 *     The spline of one raw output (channel c at raw[c * stride]; K = bins
 *     in FG_SPLINE_BINS_MIN..MAX): channels 0..K-1 the bin widths, K..2K-1
 *     the heights, 2K..3K-1 the knot derivatives d_0..d_{K-1} (d_K = d_0),
 *     3K the shift:
 *       widths w = 2 pi (m + (1 - K m) softmax),  heights the same,
 *       m = FG_GAUGE_SPLINE_MIN_BIN,
 *       d_k = FG_GAUGE_SPLINE_MIN_DERIVATIVE + softplus(raw + d_offset),
 *       d_offset = log(exp(1 - FG_GAUGE_SPLINE_MIN_DERIVATIVE) - 1),
 *     knots x_0 = -pi, x_{k+1} = x_k + w_k, x_K = pi (the same for y):
 *     zero raw outputs give the identity.
 *   double fg_circle_spline_value(const fg_circle_spline *s, double x, double *dh)
 *     h(x) (without the shift) for x in [-pi, pi], h'(x) into dh: an
 *     increasing map of [-pi, pi] onto itself, C^1 also across the seam.
 *   double fg_circle_spline_invert(const fg_circle_spline *s, double t)
 *     x with h(x) = t, t in [-pi, pi]: the root of the bin's quadratic in
 *     the form that does not cancel.
 *   void fg_circle_spline_gradient(const fg_circle_spline *s, double x,
 *                                  fg_circle_map_grad *r)
 *     h'(x), h''(x) / h'(x), and d h / d raw, d log h' / d raw for the
 *     3K + 1 raw channels (d h / d shift = 1).
 */
#include <math.h>

#include "flow_internal.h"

enum { KMAX = FG_SPLINE_BINS_MAX };

/* 2 pi (m + (1 - K m) softmax(raw)) for K channels stride apart, cumulated
 * into knots from -pi; p gets the softmax. The last knot is pi exactly. */
static void knots(const float *raw, size_t stride, int bins, double *p, double *knot)
{
  const double m = FG_GAUGE_SPLINE_MIN_BIN, scale = 2.0 * M_PI * (1.0 - bins * m);
  double rmax = -HUGE_VAL, sum = 0.0;
  for (int k = 0; k < bins; ++k)
    rmax = fmax(rmax, (double)raw[(size_t)k * stride]);
  for (int k = 0; k < bins; ++k)
    sum += p[k] = exp(raw[(size_t)k * stride] - rmax);
  knot[0] = -M_PI;
  for (int k = 0; k < bins; ++k) {
    p[k] /= sum;
    knot[k + 1] = knot[k] + 2.0 * M_PI * m + scale * p[k];
  }
  knot[bins] = M_PI;
}

void fg_circle_spline_params(const float *raw, size_t stride, int bins, fg_circle_spline *s)
{
  const double offset = log(expm1(1.0 - FG_GAUGE_SPLINE_MIN_DERIVATIVE));
  s->bins = bins;
  knots(raw, stride, bins, s->pw, s->x);
  knots(raw + (size_t)bins * stride, stride, bins, s->ph, s->y);
  for (int k = 0; k < bins; ++k) /* softplus of the two a bin needs only, there */
    s->a[k] = raw[(size_t)(2 * bins + k) * stride] + offset;
  s->shift = raw[(size_t)(3 * bins) * stride];
}

/* The bin k of knots[0..bins] with knots[k] <= v < knots[k + 1] (the last
 * bin also holds v = pi; v below -pi falls in the first). */
static int bin_of(const double *knot, int bins, double v)
{
  int lo = 0, hi = bins;
  while (hi - lo > 1) {
    int mid = (lo + hi) / 2;
    if (v >= knot[mid])
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

/* The derivative d_k at knot k (k = K: d_0), and d d_k / d raw into *dd. */
static double knot_derivative(const fg_circle_spline *s, int k, double *dd)
{
  return FG_GAUGE_SPLINE_MIN_DERIVATIVE + fg_softplus(s->a[k % s->bins], dd);
}

/* One bin's spline at xi in [0, 1]: width w, height h, slope s = h / w,
 * derivatives d0, d1 at its ends (dd0, dd1: by their raw channels), and the
 * pieces the formulas share. */
typedef struct {
  int k;
  double w, h, s, d0, d1, dd0, dd1, xi, u; /* u = xi (1 - xi) */
  double a, den, b;              /* a = s xi^2 + d0 u, den = s + (d0 + d1 - 2 s) u,
                                    b = d1 xi^2 + 2 s u + d0 (1 - xi)^2 */
} bin;

static void bin_at(const fg_circle_spline *s, double x, bin *q)
{
  const int k = bin_of(s->x, s->bins, x);
  q->k = k;
  q->w = s->x[k + 1] - s->x[k];
  q->h = s->y[k + 1] - s->y[k];
  q->s = q->h / q->w;
  q->d0 = knot_derivative(s, k, &q->dd0);
  q->d1 = knot_derivative(s, k + 1, &q->dd1);
  q->xi = fmin(fmax((x - s->x[k]) / q->w, 0.0), 1.0);
  q->u = q->xi * (1.0 - q->xi);
  q->a = q->s * q->xi * q->xi + q->d0 * q->u;
  q->den = q->s + (q->d0 + q->d1 - 2.0 * q->s) * q->u;
  q->b = q->d1 * q->xi * q->xi + 2.0 * q->s * q->u + q->d0 * (1.0 - q->xi) * (1.0 - q->xi);
}

double fg_circle_spline_value(const fg_circle_spline *s, double x, double *dh)
{
  bin q;
  bin_at(s, x, &q);
  *dh = q.s * q.s * q.b / (q.den * q.den);
  return s->y[q.k] + q.h * q.a / q.den;
}

double fg_circle_spline_invert(const fg_circle_spline *s, double t)
{
  const int k = bin_of(s->y, s->bins, t);
  const double w = s->x[k + 1] - s->x[k], h = s->y[k + 1] - s->y[k], sl = h / w;
  double dd;
  const double d0 = knot_derivative(s, k, &dd), d1 = knot_derivative(s, k + 1, &dd);
  const double dy = fmin(fmax(t - s->y[k], 0.0), h), e = d0 + d1 - 2.0 * sl;
  /* a xi^2 + b xi + c = 0 with c <= 0 <= b^2 - 4ac: xi = 2c / (-b - sqrt(b^2 - 4ac)) */
  const double a = h * (sl - d0) + dy * e, b = h * d0 - dy * e, c = -sl * dy;
  const double root = -b - sqrt(fmax(b * b - 4.0 * a * c, 0.0));
  const double xi = root < 0.0 ? fmin(2.0 * c / root, 1.0) : 0.0;
  return s->x[k] + xi * w;
}

/* d F / d raw of one softmax block (K channels) from F's gradient with
 * respect to the bin's own size (g_size) and its lower knot (g_knot, which
 * is -pi plus the sizes of the bins below): with size_j = c p_j (+ const),
 * d F / d raw_m = c p_m (g_m - sum_j p_j g_j), g_j = d F / d size_j. */
static void softmax_gradient(const double *p, int bins, int k, double g_size, double g_knot,
                             double *out)
{
  const double c = 2.0 * M_PI * (1.0 - bins * FG_GAUGE_SPLINE_MIN_BIN);
  double below = 0.0;
  for (int j = 0; j < k; ++j)
    below += p[j];
  const double mean = g_knot * below + g_size * p[k];
  for (int j = 0; j < bins; ++j)
    out[j] = c * p[j] * ((j < k ? g_knot : j == k ? g_size : 0.0) - mean);
}

/* Gradient of one function F of the bin's (w, h, lower knots x_k, y_k, d0,
 * d1), given through xi and s: F_xi, F_s, F_h (at fixed s, xi), F_yk, F_d0,
 * F_d1; out[0..3K) its raw gradient (the shift's channel is left alone). */
static void chain(const fg_circle_spline *s, const bin *q, double f_xi, double f_s, double f_h,
                  double f_yk, double f_d0, double f_d1, double *out)
{
  const int n = s->bins;
  /* s = h / w, xi = (x - x_k) / w */
  softmax_gradient(s->pw, n, q->k, -(f_s * q->s + f_xi * q->xi) / q->w, -f_xi / q->w, out);
  softmax_gradient(s->ph, n, q->k, f_h + f_s / q->w, f_yk, out + n);
  for (int j = 0; j < n; ++j)
    out[2 * n + j] = 0.0;
  out[2 * n + q->k] += f_d0 * q->dd0;
  out[2 * n + (q->k + 1) % n] += f_d1 * q->dd1;
}

void fg_circle_spline_gradient(const fg_circle_spline *s, double x, fg_circle_map_grad *r)
{
  bin q;
  bin_at(s, x, &q);
  const double xi = q.xi, u = q.u, den = q.den, den2 = den * den, e = q.d0 + q.d1 - 2.0 * q.s;
  const double den_xi = e * (1.0 - 2.0 * xi), den_s = 1.0 - 2.0 * u;
  const double b_xi = 2.0 * q.d1 * xi + 2.0 * q.s * (1.0 - 2.0 * xi) - 2.0 * q.d0 * (1.0 - xi);
  /* h = y_k + h a / den */
  chain(s, &q, q.h * q.s * q.b / den2, q.h * (xi * xi * den - q.a * den_s) / den2, q.a / den,
        1.0, q.h * u * (den - q.a) / den2, -q.h * q.a * u / den2, r->dh_draw);
  /* log h' = 2 log s + log b - 2 log den */
  const double l_xi = b_xi / q.b - 2.0 * den_xi / den;
  chain(s, &q, l_xi, 2.0 / q.s + 2.0 * u / q.b - 2.0 * den_s / den, 0.0, 0.0,
        (1.0 - xi) * (1.0 - xi) / q.b - 2.0 * u / den, xi * xi / q.b - 2.0 * u / den,
        r->dlogdh_draw);
  r->dh_draw[3 * s->bins] = 1.0;
  r->dlogdh_draw[3 * s->bins] = 0.0;
  r->dh = q.s * q.s * q.b / den2;
  r->dlog_dh_dx = l_xi / q.w;
}
