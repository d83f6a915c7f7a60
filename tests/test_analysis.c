/* test_analysis.c -- Gamma-method errors and tau_int match exact AR(1) and replica values; phi^4 observables match known fields and the free propagator; the model-sample ESS (eq. A7) of known weights, in any grouping, with its non-finite policy. */
#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flowgen/analysis.h"
#include "flowgen/phi4.h"
#include "flowgen/rng.h"
#include "testutil.h"

/* ---- synthetic series ---------------------------------------------------- */

/* AR(1) with unit stationary variance: x_t = rho x_{t-1} + sqrt(1-rho^2) eta_t,
 * x_0 drawn from the stationary distribution. eta may be NULL (drawn here). */
static void ar1(fg_rng *r, double rho, const double *eta, size_t n, double *x)
{
  double s = sqrt(1.0 - rho * rho);
  x[0] = eta ? eta[0] : fg_rng_normal(r);
  for (size_t t = 1; t < n; ++t)
    x[t] = rho * x[t - 1] + s * (eta ? eta[t] : fg_rng_normal(r));
}

static double *series(size_t n)
{
  double *x = malloc(sizeof(double) * n);
  ck_assert_ptr_nonnull(x);
  return x;
}

/* ---- Gamma method ------------------------------------------------------- */

START_TEST(autocov_fft_matches_direct_sum)
{
  size_t lens[2] = {300, 1500};  /* the direct and the FFT path */
  for (int k = 0; k < 2; ++k) {
    size_t n = lens[k], tmax = n - 1;
    double *x = series(n), *g = series(n);
    fg_rng r;
    fg_rng_init(&r, 11, FG_RNG_TEST, (uint64_t)k, 0);
    ar1(&r, 0.7, NULL, n, x);
    fg_error err;
    ck_assert_int_eq(fg_gamma_autocov(x, n, tmax, g, &err), FG_OK);
    for (size_t t = 0; t <= tmax; ++t) {
      double s = 0.0;
      for (size_t i = 0; i + t < n; ++i)
        s += x[i] * x[i + t];
      s /= (double)(n - t);
      ck_assert_double_eq_tol(g[t], s, 1e-12 * (1.0 + fabs(g[0])));
    }
    ck_assert_int_eq(fg_gamma_autocov(x, n, n, g, &err), FG_ERR_INPUT);
    free(x), free(g);
  }
}
END_TEST

START_TEST(ar1_tau_int_and_error_are_exact)
{
  const double rhos[3] = {0.5, 0.8, 0.9};
  const size_t n = 100000;
  double *x = series(n);
  for (int k = 0; k < 3; ++k) {
    fg_rng r;
    fg_rng_init(&r, 2024, FG_RNG_TEST, (uint64_t)k, 0);
    ar1(&r, rhos[k], NULL, n, x);
    fg_gamma_result g;
    fg_error err;
    ck_assert_int_eq(fg_gamma_mean(x, n, FG_GAMMA_S_DEFAULT, &g, &err), FG_OK);
    double tau = (1.0 + rhos[k]) / (2.0 * (1.0 - rhos[k]));
    double exact_err = sqrt(2.0 * tau / (double)n);
    ck_assert_int_eq(g.flags, 0);
    ck_assert_msg(fabs(g.tau_int - tau) < 4.0 * g.tau_int_err, "rho %g: tau_int %g +- %g, exact %g",
                  rhos[k], g.tau_int, g.tau_int_err, tau);
    ck_assert_msg(fabs(g.err / exact_err - 1.0) < 0.1, "rho %g: err %g, exact %g", rhos[k], g.err,
                  exact_err);
    ck_assert(fabs(g.value) < 4.0 * exact_err);
    ck_assert(g.window > 2 * tau && g.window < 20 * tau);
    ck_assert(g.err_err > 0.0 && g.err_err < 0.1 * g.err);
  }
  free(x);
}
END_TEST

START_TEST(iid_data_have_tau_one_half)
{
  const size_t n = 100000;
  double *x = series(n);
  fg_rng r;
  fg_rng_init(&r, 7, FG_RNG_TEST, 0, 0);
  fg_rng_normals(&r, x, n);
  fg_gamma_result g;
  fg_error err;
  ck_assert_int_eq(fg_gamma_mean(x, n, FG_GAMMA_S_DEFAULT, &g, &err), FG_OK);
  ck_assert_msg(fabs(g.tau_int - 0.5) < 4.0 * g.tau_int_err, "tau_int %g +- %g", g.tau_int,
                g.tau_int_err);
  ck_assert(fabs(g.err * sqrt((double)n) - 1.0) < 0.05);
  ck_assert(g.window >= 1 && g.window < 10);
  free(x);
}
END_TEST

static double ratio(const double *a, void *ctx)
{
  (void)ctx;
  return a[0] / a[1];
}

START_TEST(constant_data_have_zero_error)
{
  const size_t n = 1000;
  double *x = series(2 * n);
  for (size_t t = 0; t < 2 * n; ++t)
    x[t] = t < n ? 0.1 : 0.3;
  fg_gamma_result g;
  fg_error err;
  ck_assert_int_eq(fg_gamma_mean(x, n, FG_GAMMA_S_DEFAULT, &g, &err), FG_OK);
  ck_assert(g.value == 0.1 && g.err == 0.0 && g.err_err == 0.0);
  ck_assert(g.tau_int == 0.5 && g.tau_int_err == 0.0 && g.window == 0);
  ck_assert_int_eq(g.flags, FG_GAMMA_ZERO_VARIANCE);
  ck_assert_int_eq(fg_gamma_analyze(x, 2, n, ratio, NULL, 1.5, &g, &err), FG_OK);
  ck_assert_double_eq_tol(g.value, 1.0 / 3.0, 1e-15);
  ck_assert(g.err == 0.0 && g.tau_int == 0.5);
  ck_assert_int_eq(g.flags, FG_GAMMA_ZERO_VARIANCE);
  free(x);
}
END_TEST

/* Two AR(1) series with correlated innovations, shifted to means 2 and 3. */
static void correlated_pair(uint64_t replica, size_t n, double *a)
{
  double *eta = series(2 * n);
  fg_rng r;
  fg_rng_init(&r, 99, FG_RNG_TEST, replica, 0);
  fg_rng_normals(&r, eta, 2 * n);
  for (size_t t = 0; t < n; ++t)
    eta[n + t] = 0.6 * eta[t] + 0.8 * eta[n + t];
  ar1(NULL, 0.8, eta, n, a);
  ar1(NULL, 0.8, eta + n, n, a + n);
  for (size_t t = 0; t < n; ++t)
    a[t] += 2.0, a[n + t] += 3.0;
  free(eta);
}

START_TEST(derived_error_matches_replica_spread)
{
  enum { NREP = 200 };
  const size_t n = 2000;
  double *a = series(2 * n), f[NREP], e[NREP];
  for (int k = 0; k < NREP; ++k) {
    correlated_pair((uint64_t)k, n, a);
    fg_gamma_result g;
    fg_error err;
    ck_assert_int_eq(fg_gamma_analyze(a, 2, n, ratio, NULL, 1.5, &g, &err), FG_OK);
    f[k] = g.value;
    e[k] = g.err;
  }
  double fm = 0.0, em = 0.0, fv = 0.0;
  for (int k = 0; k < NREP; ++k)
    fm += f[k] / NREP, em += e[k] / NREP;
  for (int k = 0; k < NREP; ++k)
    fv += (f[k] - fm) * (f[k] - fm) / (NREP - 1);
  ck_assert_msg(fabs(em / sqrt(fv) - 1.0) < 0.2, "mean reported err %g, replica spread %g", em,
                sqrt(fv));
  ck_assert(fabs(fm - 2.0 / 3.0) < 4.0 * sqrt(fv / NREP));
  free(a);
}
END_TEST

static double first(const double *a, void *ctx)
{
  (void)ctx;
  return a[0];
}

START_TEST(derived_identity_equals_mean)
{
  const size_t n = 5000;
  double *a = series(2 * n);
  correlated_pair(1, n, a);
  fg_gamma_result g1, g2;
  fg_error err;
  ck_assert_int_eq(fg_gamma_mean(a, n, 1.5, &g1, &err), FG_OK);
  ck_assert_int_eq(fg_gamma_analyze(a, 2, n, first, NULL, 1.5, &g2, &err), FG_OK);
  ck_assert(g1.value == g2.value && g1.window == g2.window);
  ck_assert_double_eq_tol(g1.err, g2.err, 1e-9 * g1.err);
  ck_assert_double_eq_tol(g1.tau_int, g2.tau_int, 1e-9 * g1.tau_int);
  free(a);
}
END_TEST

START_TEST(degenerate_series_are_flagged)
{
  enum { N = 100 };
  double x[N];
  fg_gamma_result g;
  fg_error err;
  /* Alternating signs: Gamma(1) = -Gamma(0), the summed variance is negative. */
  for (int t = 0; t < N; ++t)
    x[t] = t % 2 ? 1.0 : -1.0;
  ck_assert_int_eq(fg_gamma_mean(x, N, 1.5, &g, &err), FG_OK);
  ck_assert(g.flags & FG_GAMMA_NEGATIVE_VARIANCE);
  ck_assert(g.err == 0.0 && g.window == 1);
  /* A slow drift: the autocorrelation never decays; the window stops near
   * n/10, where the statistical noise of the sum wins, and tau_int ~ W. */
  for (int t = 0; t < N; ++t)
    x[t] = sin(2.0 * M_PI * t / (8.0 * N));
  ck_assert_int_eq(fg_gamma_mean(x, N, 1.5, &g, &err), FG_OK);
  ck_assert_int_eq(g.flags, FG_GAMMA_SHORT);
  ck_assert(g.window > 5 && g.window < N / 4 && g.tau_int > 5.0);
  /* F(abar) not finite: NaN errors, flagged, but no failure. */
  double y[2 * N];
  for (int t = 0; t < N; ++t)
    y[t] = 1.0, y[N + t] = t % 2 ? 1.0 : -1.0;
  ck_assert_int_eq(fg_gamma_analyze(y, 2, N, ratio, NULL, 1.5, &g, &err), FG_OK);
  ck_assert_int_eq(g.flags, FG_GAMMA_UNDEFINED);
  ck_assert(isinf(g.value) && isnan(g.err) && isnan(g.tau_int));
}
END_TEST

START_TEST(bad_input_is_refused)
{
  double x[4] = {1, 2, NAN, 4};
  fg_gamma_result g;
  fg_error err;
  ck_assert_int_eq(fg_gamma_mean(x, 4, 1.5, &g, &err), FG_ERR_INPUT);
  ck_assert_ptr_nonnull(strstr(err.msg, "measurement 2"));
  ck_assert_ptr_nonnull(strstr(err.msg, "[gamma.c]"));
  x[2] = 3;
  ck_assert_int_eq(fg_gamma_mean(x, 1, 1.5, &g, &err), FG_ERR_INPUT);
  ck_assert_int_eq(fg_gamma_mean(x, 4, 0.0, &g, &err), FG_ERR_INPUT);
  ck_assert_int_eq(fg_gamma_analyze(x, 2, 2, NULL, NULL, 1.5, &g, &err), FG_ERR_INPUT);
  ck_assert_int_eq(fg_gamma_mean(x, 4, 1.5, &g, &err), FG_OK);
  ck_assert_double_eq(g.value, 2.5);
}
END_TEST

/* ---- phi^4 observables ---------------------------------------------------- */

/* The observables phi^4 declares, analysed through the generic interface
 * (fg_analyze_observables) on a theory built for lat. */
static int phi4_analyze(const fg_lattice *lat, const double *prim, size_t n, double S,
                        fg_obs_result *res, fg_error *err)
{
  fg_theory_config c = {.name = FG_THEORY_PHI4, .nd = lat->nd, .m2 = 1.0, .lambda = 0.0};
  memcpy(c.extent, lat->extent, sizeof(int) * (size_t)lat->nd);
  fg_theory *t;
  int rc = fg_theory_create(&c, &t, err);
  if (rc != FG_OK)
    return rc;
  ck_assert_int_eq(fg_theory_nprimaries(t), FG_PHI4_NPRIM);
  rc = fg_analyze_observables(t, prim, n, S, res, err);
  fg_theory_destroy(t);
  return rc;
}

static void lattice(fg_lattice *lat, int nd, const int *ext)
{
  fg_error err;
  ck_assert_int_eq(fg_lattice_init(lat, nd, ext, &err), FG_OK);
}

/* n identical configurations' primaries as a [NPRIM][n] series. */
static double *repeated_primaries(const fg_lattice *lat, const double *phi, size_t n)
{
  double prim[FG_PHI4_NPRIM];
  fg_error err;
  ck_assert_int_eq(fg_phi4_primaries(lat, phi, prim, &err), FG_OK);
  double *s = series(FG_PHI4_NPRIM * n);
  for (int i = 0; i < FG_PHI4_NPRIM; ++i)
    for (size_t t = 0; t < n; ++t)
      s[i * n + t] = prim[i];
  return s;
}

START_TEST(constant_field_observables)
{
  int ext[2] = {6, 4};
  fg_lattice lat;
  lattice(&lat, 2, ext);
  const double c = -0.7;
  double phi[24];
  for (int x = 0; x < 24; ++x)
    phi[x] = c;
  double *s = repeated_primaries(&lat, phi, 20);
  fg_obs_result res[FG_PHI4_NOBS];
  fg_error err;
  ck_assert_int_eq(phi4_analyze(&lat, s, 20, 1.5, res, &err), FG_OK);
  const double want[FG_PHI4_XI2] = {c, -c, c * c, c * c, 0.0, 0.0};
  const char *names[FG_PHI4_NOBS] = {"m", "abs_m", "m2", "phi2", "chi2", "e_ising", "xi2"};
  for (int i = 0; i < FG_PHI4_NOBS; ++i)
    ck_assert_str_eq(res[i].name, names[i]);
  for (int i = 0; i < FG_PHI4_XI2; ++i) {
    ck_assert_double_eq_tol(res[i].mean, want[i], 1e-12);
    ck_assert(res[i].err == 0.0 && res[i].tau_int == 0.5);
    ck_assert(res[i].flags & FG_GAMMA_ZERO_VARIANCE);
  }
  free(s);
  fg_lattice_free(&lat);
}
END_TEST

START_TEST(checkerboard_two_point)
{
  int ext[2] = {6, 4};
  fg_lattice lat;
  lattice(&lat, 2, ext);
  double phi[24], G[24], prim[FG_PHI4_NPRIM];
  for (int x = 0; x < 24; ++x)
    phi[x] = lat.parity[x] ? -1.5 : 1.5;
  fg_phi4_obs *o;
  fg_error err;
  ck_assert_int_eq(fg_phi4_obs_create(&lat, &o, &err), FG_OK);
  fg_phi4_obs_two_point(o, phi, 1, G);
  for (int x = 0; x < 24; ++x)
    ck_assert_double_eq_tol(G[x], lat.parity[x] ? -2.25 : 2.25, 1e-12);
  fg_phi4_obs_primaries(o, phi, 1, prim);
  ck_assert_double_eq_tol(prim[FG_PHI4_P_LINK], -2.25, 1e-12);
  ck_assert_double_eq_tol(prim[FG_PHI4_P_GP + 0], 0.0, 1e-12);
  ck_assert_double_eq_tol(prim[FG_PHI4_P_GP + 1], 0.0, 1e-12);
  ck_assert_double_eq_tol(prim[FG_PHI4_P_M], 0.0, 1e-15);
  fg_phi4_obs_destroy(o);
  double *s = repeated_primaries(&lat, phi, 10);
  fg_obs_result res[FG_PHI4_NOBS];
  ck_assert_int_eq(phi4_analyze(&lat, s, 10, 1.5, res, &err), FG_OK);
  ck_assert_double_eq_tol(res[FG_PHI4_E_ISING].mean, -2.25, 1e-12);
  ck_assert_double_eq_tol(res[FG_PHI4_PHI2].mean, 2.25, 1e-12);
  free(s);
  fg_lattice_free(&lat);
}
END_TEST

/* FFT results against O(V^2) sums on random fields, in 1, 2 and 3 dimensions,
 * read with a lane stride. */
static void check_against_direct_sums(int nd, const int *ext)
{
  enum { LANES = 3 };
  fg_lattice lat;
  lattice(&lat, nd, ext);
  int v = lat.volume;
  double *blk = series((size_t)v * LANES), *G = series((size_t)v), prim[FG_PHI4_NPRIM];
  fg_rng r;
  fg_rng_init(&r, 5, FG_RNG_TEST, (uint64_t)nd, 0);
  fg_rng_normals(&r, blk, (size_t)v * LANES);
  const double *phi = blk + 1;  /* lane 1 of a [V][LANES] block */
  fg_phi4_obs *o;
  fg_error err;
  ck_assert_int_eq(fg_phi4_obs_create(&lat, &o, &err), FG_OK);
  fg_phi4_obs_two_point(o, phi, LANES, G);
  fg_phi4_obs_primaries(o, phi, LANES, prim);
  int x[FG_MAXDIM], y[FG_MAXDIM], z[FG_MAXDIM];
  double link = 0.0, m = 0.0;
  for (int a = 0; a < v; ++a) {
    fg_lattice_coords(&lat, a, x);
    double s = 0.0;
    for (int b = 0; b < v; ++b) {
      fg_lattice_coords(&lat, b, y);
      int c = 0;
      for (int mu = 0; mu < nd; ++mu)
        c = c * ext[mu] + (y[mu] + x[mu]) % ext[mu];
      s += phi[b * LANES] * phi[c * LANES];
    }
    ck_assert_double_eq_tol(G[a], s / v, 1e-12);
    m += phi[a * LANES] / v;
    for (int mu = 0; mu < nd; ++mu)
      link += phi[a * LANES] * phi[lat.up[a * nd + mu] * LANES] / (nd * v);
  }
  ck_assert_double_eq_tol(prim[FG_PHI4_P_LINK], link, 1e-12);
  ck_assert_double_eq_tol(prim[FG_PHI4_P_M], m, 1e-13);
  ck_assert_double_eq_tol(prim[FG_PHI4_P_M2], m * m, 1e-13);
  for (int mu = 0; mu < nd; ++mu) {
    double re = 0.0, im = 0.0;
    for (int a = 0; a < v; ++a) {
      fg_lattice_coords(&lat, a, z);
      re += phi[a * LANES] * cos(2.0 * M_PI * z[mu] / ext[mu]);
      im -= phi[a * LANES] * sin(2.0 * M_PI * z[mu] / ext[mu]);
    }
    ck_assert_double_eq_tol(prim[FG_PHI4_P_GP + mu], (re * re + im * im) / v, 1e-12);
  }
  for (int mu = nd; mu < FG_MAXDIM; ++mu)
    ck_assert(prim[FG_PHI4_P_GP + mu] == 0.0);
  fg_phi4_obs_destroy(o);
  free(blk), free(G);
  fg_lattice_free(&lat);
}

START_TEST(fft_two_point_matches_direct_sum)
{
  int e1[1] = {10}, e2[2] = {6, 4}, e3[3] = {4, 6, 3};
  check_against_direct_sums(1, e1);
  check_against_direct_sums(2, e2);
  check_against_direct_sums(3, e3);
}
END_TEST

/* Exact independent samples of the free field S = (1/2) sum phi (-Lap + m2) phi:
 * white noise, scaled in momentum space by (m2 + khat^2)^(-1/2). */
static double *free_field_primaries(const fg_lattice *lat, double m2, size_t n)
{
  int L0 = lat->extent[0], L1 = lat->extent[1], V = lat->volume, nc = L0 * (L1 / 2 + 1);
  double *phi = fftw_malloc(sizeof(double) * V);
  fftw_complex *c = fftw_malloc(sizeof(fftw_complex) * nc);
  ck_assert(phi && c);
  fftw_plan fwd = fftw_plan_dft_r2c_2d(L0, L1, phi, c, FFTW_ESTIMATE);
  fftw_plan bwd = fftw_plan_dft_c2r_2d(L0, L1, c, phi, FFTW_ESTIMATE);
  double *s = series(FG_PHI4_NPRIM * n), prim[FG_PHI4_NPRIM];
  fg_phi4_obs *o;
  fg_error err;
  ck_assert_int_eq(fg_phi4_obs_create(lat, &o, &err), FG_OK);
  for (size_t t = 0; t < n; ++t) {
    fg_rng r;
    fg_rng_init(&r, 31, FG_RNG_TEST, t, 0);
    fg_rng_normals(&r, phi, (size_t)V);
    fftw_execute(fwd);
    for (int k0 = 0; k0 < L0; ++k0)
      for (int k1 = 0; k1 <= L1 / 2; ++k1) {
        double s0 = sin(M_PI * k0 / L0), s1 = sin(M_PI * k1 / L1);
        double f = 1.0 / (V * sqrt(m2 + 4.0 * (s0 * s0 + s1 * s1)));
        c[k0 * (L1 / 2 + 1) + k1][0] *= f;
        c[k0 * (L1 / 2 + 1) + k1][1] *= f;
      }
    fftw_execute(bwd);
    fg_phi4_obs_primaries(o, phi, 1, prim);
    for (int i = 0; i < FG_PHI4_NPRIM; ++i)
      s[i * n + t] = prim[i];
  }
  fg_phi4_obs_destroy(o);
  fftw_destroy_plan(fwd), fftw_destroy_plan(bwd);
  fftw_free(phi), fftw_free(c);
  return s;
}

/* G(x) = (1/V) sum_k cos(k x) / (m2 + khat^2) at x = (x0, 0). */
static double free_propagator(int L, double m2, int x0)
{
  double g = 0.0;
  for (int k0 = 0; k0 < L; ++k0)
    for (int k1 = 0; k1 < L; ++k1) {
      double s0 = sin(M_PI * k0 / L), s1 = sin(M_PI * k1 / L);
      g += cos(2.0 * M_PI * k0 * x0 / L) / (m2 + 4.0 * (s0 * s0 + s1 * s1));
    }
  return g / (L * L);
}

START_TEST(free_field_matches_exact_propagator)
{
  const int L = 8;
  const double m2 = 0.5;
  const size_t n = 4000;
  int ext[2] = {L, L};
  fg_lattice lat;
  lattice(&lat, 2, ext);
  double *s = free_field_primaries(&lat, m2, n);
  fg_obs_result res[FG_PHI4_NOBS];
  fg_error err;
  ck_assert_int_eq(phi4_analyze(&lat, s, n, 1.5, res, &err), FG_OK);
  double exact[FG_PHI4_NOBS] = {
    [FG_PHI4_M] = 0.0,
    [FG_PHI4_M2] = 1.0 / (m2 * L * L),
    [FG_PHI4_PHI2] = free_propagator(L, m2, 0),
    [FG_PHI4_CHI2] = 1.0 / m2,
    [FG_PHI4_E_ISING] = free_propagator(L, m2, 1),
    [FG_PHI4_XI2] = 1.0 / m2,  /* Gt(p) = 1/(m2 + phat^2) exactly */
  };
  for (int i = 0; i < FG_PHI4_NOBS; ++i) {
    if (i == FG_PHI4_ABS_M)
      continue;
    ck_assert_msg(fabs(res[i].mean - exact[i]) < 4.0 * res[i].err, "%s: %g +- %g, exact %g",
                  res[i].name, res[i].mean, res[i].err, exact[i]);
    ck_assert_msg(fabs(res[i].tau_int - 0.5) < 4.0 * res[i].tau_int_err + 0.05,
                  "%s: tau_int %g +- %g for independent samples", res[i].name, res[i].tau_int,
                  res[i].tau_int_err);
    ck_assert(res[i].err < 0.1 * fabs(exact[i]) || i == FG_PHI4_M);
  }
  /* |M|/V of a Gaussian M: sqrt(2 var / pi), var = 1/(m2 V). */
  double absm = sqrt(2.0 / (M_PI * m2 * L * L));
  ck_assert(fabs(res[FG_PHI4_ABS_M].mean - absm) < 4.0 * res[FG_PHI4_ABS_M].err);
  free(s);
  fg_lattice_free(&lat);
}
END_TEST

START_TEST(non_square_xi2_averages_directions)
{
  /* Primaries built by hand: chi2 = 2, Gt(p_0) = 1, Gt(p_1) = 0.5 on 8 x 4. */
  int ext[2] = {8, 4};
  fg_lattice lat;
  lattice(&lat, 2, ext);
  enum { N = 4 };
  double s[FG_PHI4_NPRIM * N] = {0};
  for (int t = 0; t < N; ++t) {
    s[FG_PHI4_P_M2 * N + t] = 2.0 / 32.0;
    s[(FG_PHI4_P_GP + 0) * N + t] = 1.0;
    s[(FG_PHI4_P_GP + 1) * N + t] = 0.5;
  }
  fg_obs_result res[FG_PHI4_NOBS];
  fg_error err;
  ck_assert_int_eq(phi4_analyze(&lat, s, N, 1.5, res, &err), FG_OK);
  double s8 = sin(M_PI / 8), s4 = sin(M_PI / 4);
  double want = 0.5 * ((2.0 / 1.0 - 1.0) / (4 * s8 * s8) + (2.0 / 0.5 - 1.0) / (4 * s4 * s4));
  ck_assert_double_eq_tol(res[FG_PHI4_CHI2].mean, 2.0, 1e-14);
  ck_assert_double_eq_tol(res[FG_PHI4_XI2].mean, want, 1e-12);
  fg_lattice_free(&lat);
}
END_TEST

START_TEST(chain_series_follows_index)
{
  const double table[5 * 2] = {0, 10, 1, 11, 2, 12, 3, 13, 4, 14};
  const int64_t index[4] = {2, 2, 0, 4};
  double out[8];
  fg_error err;
  ck_assert_int_eq(fg_chain_series(table, 5, 2, index, 4, out, &err), FG_OK);
  const double want[8] = {2, 2, 0, 4, 12, 12, 10, 14};
  for (int i = 0; i < 8; ++i)
    ck_assert_double_eq(out[i], want[i]);
  ck_assert_int_eq(fg_chain_series(table, 5, 2, NULL, 3, out, &err), FG_OK);
  ck_assert(out[0] == 0 && out[2] == 2 && out[3] == 10 && out[5] == 12);
  const int64_t bad[2] = {1, 5};
  ck_assert_int_eq(fg_chain_series(table, 5, 2, bad, 2, out, &err), FG_ERR_INPUT);
  ck_assert_ptr_nonnull(strstr(err.msg, "step 1"));
  ck_assert_int_eq(fg_chain_series(table, 5, 2, NULL, 6, out, &err), FG_ERR_INPUT);
}
END_TEST

START_TEST(unit_extent_is_refused)
{
  int ext[2] = {4, 1};
  fg_lattice lat;
  lattice(&lat, 2, ext);
  fg_phi4_obs *o;
  fg_error err;
  ck_assert_int_eq(fg_phi4_obs_create(&lat, &o, &err), FG_ERR_INPUT);
  ck_assert_ptr_null(o);
  fg_lattice_free(&lat);
}
END_TEST

/* ---- model-sample ESS (eq. A7) ---- */

START_TEST(ess_of_known_weights)
{
  double equal[4] = {-3.0, -3.0, -3.0, -3.0};
  ck_assert_double_eq(fg_ess(equal, 4), 1.0);
  /* w = (1, 0, 0, 0) up to 1e-300: ESS = 1/n. Large log-weights must not overflow. */
  double spiky[4] = {900.0, -1e3, -1e3, -1e3};
  ck_assert_double_eq_tol(fg_ess(spiky, 4), 0.25, 1e-12);
  double two[2] = {0.0, log(3.0)}; /* w = 1, 3: (4)^2 / (2 * 10) = 0.8 */
  ck_assert_double_eq_tol(fg_ess(two, 2), 0.8, 1e-12);
  ck_assert_double_eq(fg_ess(two, 0), 0.0);
  /* the delta-method error: zero for equal weights, positive otherwise */
  double sums[FG_ESS_LEN], e;
  fg_ess_reset(sums);
  fg_ess_add(sums, equal, 4);
  ck_assert_double_eq(fg_ess_value(sums, &e), 1.0);
  ck_assert_double_eq(e, 0.0);
  fg_ess_add(sums, two, 2);
  ck_assert(fg_ess_value(sums, &e) < 1.0 && e > 0.0);
}
END_TEST

/* Chunks of any size, a stream fed one at a time, and merged partial sums
 * (as ranks reduce them) give the ESS of the whole array, and its error. */
START_TEST(ess_any_grouping_gives_the_same)
{
  enum { N = 1000 };
  double lw[N];
  fg_rng r;
  fg_rng_init(&r, 11, 0, 0, 0);
  for (int i = 0; i < N; ++i)
    lw[i] = 40.0 * fg_rng_uniform(&r) - 500.0;
  double whole[FG_ESS_LEN], stream[FG_ESS_LEN], merged[FG_ESS_LEN], part[FG_ESS_LEN];
  fg_ess_reset(whole);
  fg_ess_add(whole, lw, N);
  double e_whole, e;
  double ess = fg_ess_value(whole, &e_whole);
  ck_assert(ess > 0.0 && ess < 1.0 && e_whole > 0.0);
  ck_assert_double_eq(ess, fg_ess(lw, N));
  fg_ess_reset(stream);
  for (int i = 0; i < N; ++i)
    fg_ess_add(stream, lw + i, 1);
  ck_assert_double_eq_tol(fg_ess_value(stream, &e), ess, 1e-13);
  ck_assert_double_eq_tol(e, e_whole, 1e-12);
  fg_ess_reset(merged);
  for (int i0 = N; i0 > 0; i0 -= 137) { /* chunks from the end, merged in */
    int i = i0 - 137 > 0 ? i0 - 137 : 0;
    fg_ess_reset(part);
    fg_ess_add(part, lw + i, (size_t)(i0 - i));
    fg_ess_merge(part, merged);
  }
  ck_assert_double_eq(merged[FG_ESS_N], N);
  ck_assert_double_eq_tol(fg_ess_value(merged, &e), ess, 1e-13);
  ck_assert_double_eq_tol(e, e_whole, 1e-12);
}
END_TEST

/* -inf is a zero weight that counts as a sample; NaN or +inf make the ESS
 * undefined (NaN, error NaN) however the sums are grouped afterwards. */
START_TEST(ess_non_finite_policy)
{
  double zero[3] = {0.0, -INFINITY, log(3.0)}; /* w = 1, 0, 3: 16 / (3 * 10) */
  ck_assert_double_eq_tol(fg_ess(zero, 3), 16.0 / 30.0, 1e-15);
  double none[2] = {-INFINITY, -INFINITY};
  ck_assert_double_eq(fg_ess(none, 2), 0.0);
  double sums[FG_ESS_LEN], e;
  fg_ess_reset(sums);
  fg_ess_add(sums, none, 2);
  ck_assert_double_eq(fg_ess_value(sums, &e), 0.0);
  ck_assert_double_eq(e, 0.0);
  fg_ess_add(sums, zero, 3); /* zero weights first, then a positive one */
  ck_assert_double_eq_tol(fg_ess_value(sums, NULL), 16.0 / 50.0, 1e-15);

  const double bad[2] = {NAN, INFINITY};
  for (int k = 0; k < 2; ++k) {
    double lw[3] = {0.0, bad[k], 1.0};
    ck_assert_msg(isnan(fg_ess(lw, 3)), "log w = %g", bad[k]);
    double alone[FG_ESS_LEN], good[FG_ESS_LEN];
    fg_ess_reset(alone);
    fg_ess_add(alone, lw + 1, 1);       /* the bad one alone (max still -inf) */
    ck_assert(isnan(fg_ess_value(alone, &e)) && isnan(e));
    fg_ess_reset(good);
    fg_ess_add(good, zero, 3);
    fg_ess_merge(alone, good);          /* bad merged into good sums */
    ck_assert(isnan(fg_ess_value(good, NULL)));
    fg_ess_reset(good);
    fg_ess_add(good, zero, 3);
    fg_ess_merge(good, alone);          /* good merged into bad sums */
    fg_ess_add(alone, zero, 3);         /* and more samples after it */
    ck_assert(isnan(fg_ess_value(alone, &e)) && isnan(e));
    ck_assert_double_eq(alone[FG_ESS_N], 7.0);
  }
}
END_TEST

int main(void)
{
  Suite *s = suite_create("analysis");
  TCase *tg = tcase_create("gamma");
  tcase_add_test(tg, autocov_fft_matches_direct_sum);
  tcase_add_test(tg, ar1_tau_int_and_error_are_exact);
  tcase_add_test(tg, iid_data_have_tau_one_half);
  tcase_add_test(tg, constant_data_have_zero_error);
  tcase_add_test(tg, derived_error_matches_replica_spread);
  tcase_add_test(tg, derived_identity_equals_mean);
  tcase_add_test(tg, degenerate_series_are_flagged);
  tcase_add_test(tg, bad_input_is_refused);
  suite_add_tcase(s, tg);
  TCase *to = tcase_create("phi4");
  tcase_add_test(to, constant_field_observables);
  tcase_add_test(to, checkerboard_two_point);
  tcase_add_test(to, fft_two_point_matches_direct_sum);
  tcase_add_test(to, free_field_matches_exact_propagator);
  tcase_add_test(to, non_square_xi2_averages_directions);
  tcase_add_test(to, chain_series_follows_index);
  tcase_add_test(to, unit_extent_is_refused);
  suite_add_tcase(s, to);
  TCase *te = tcase_create("ess");
  tcase_add_test(te, ess_of_known_weights);
  tcase_add_test(te, ess_any_grouping_gives_the_same);
  tcase_add_test(te, ess_non_finite_policy);
  suite_add_tcase(s, te);
  return fg_test_run(s);
}
