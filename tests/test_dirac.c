/* test_dirac.c -- the Wilson-Dirac operator: free-field determinant exact, log det D^dagger D against a dense determinant, its gradient against finite differences, gamma5-hermiticity, gauge invariance; the lane-batched determinant against LAPACK one configuration at a time, its pivots per lane, the error at the massless point. */
#include "flowgen/dirac.h"
#include "flowgen/nn.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/theory/lane_lu.h"

void zgetrf_(const int *m, const int *n, double complex *a, const int *lda, int *ipiv,
             int *info);
void zgetri_(const int *n, double complex *a, const int *lda, const int *ipiv,
             double complex *work, const int *lwork, int *info);

static const int antiperiodic_time[2] = {-1, 1};

/* Reproducible angles in (-pi, pi] (a simple LCG: the test needs no statistics). */
static void random_angles(double *theta, int n, unsigned seed)
{
  unsigned long s = seed * 2654435761ul + 1;
  for (int i = 0; i < n; ++i) {
    s = s * 6364136223846793005ul + 1442695040888963407ul;
    theta[i] = M_PI * (2.0 * (double)(s >> 11) / 9007199254740992.0 - 1.0);
  }
}

static void make_bc(int l0, int l1, double kappa, const int bc[2], fg_lattice *lat, fg_dirac **d)
{
  fg_error err = {0};
  int ext[2] = {l0, l1};
  ck_assert_int_eq(fg_lattice_init(lat, 2, ext, &err), FG_OK);
  ck_assert_msg(fg_dirac_create(lat, kappa, bc, d, &err) == FG_OK, "%s", err.msg);
}

static void make(int l0, int l1, double kappa, fg_lattice *lat, fg_dirac **d)
{
  make_bc(l0, l1, kappa, antiperiodic_time, lat, d);
}

START_TEST(free_field_determinant_is_exact)
{
  /* At U = 1, D is diagonal in momentum: per k the 2x2 block
   * (1 - 2 kappa sum cos k) + 2 i kappa sum sigma_mu sin k_mu, whose
   * determinant is a^2 + |b|^2; time momenta are odd multiples of pi/L0. */
  const int shapes[][2] = {{4, 4}, {6, 4}, {2, 8}};
  for (int s = 0; s < 3; ++s) {
    fg_lattice lat;
    fg_dirac *d;
    const double kappa = 0.21;
    make(shapes[s][0], shapes[s][1], kappa, &lat, &d);
    double *theta = calloc(2 * (size_t)lat.volume, sizeof *theta);
    double got, exact = 0.0;
    fg_error err = {0};
    ck_assert_int_eq(fg_dirac_logdet(d, theta, 1, &got, NULL, 1, &err), FG_OK);
    for (int n0 = 0; n0 < lat.extent[0]; ++n0)
      for (int n1 = 0; n1 < lat.extent[1]; ++n1) {
        double k0 = M_PI * (2 * n0 + 1) / lat.extent[0], k1 = 2 * M_PI * n1 / lat.extent[1];
        double a = 1 - 2 * kappa * (cos(k0) + cos(k1));
        double b2 = 4 * kappa * kappa * (sin(k0) * sin(k0) + sin(k1) * sin(k1));
        exact += 2.0 * log(a * a + b2); /* log det D^dagger D = 2 log det D */
      }
    ck_assert_msg(fabs(got - exact) < 1e-10 * fabs(exact), "%dx%d: %.15g vs %.15g",
                  lat.extent[0], lat.extent[1], got, exact);
    free(theta);
    fg_dirac_destroy(d);
    fg_lattice_free(&lat);
  }
}
END_TEST

START_TEST(logdet_matches_dense_determinant_of_ddagger_d)
{
  fg_lattice lat;
  fg_dirac *d;
  make(4, 6, 0.26, &lat, &d);
  int n = fg_dirac_size(d), v = lat.volume;
  double *theta = malloc(sizeof(double) * 2 * (size_t)v);
  double complex *D = malloc(sizeof(double complex) * (size_t)n * n);
  double complex *M = calloc((size_t)n * n, sizeof(double complex));
  int *piv = malloc(sizeof(int) * (size_t)n);
  random_angles(theta, 2 * v, 3);
  fg_dirac_matrix(d, theta, 1, D);
  for (int i = 0; i < n; ++i) /* M = D^dagger D */
    for (int j = 0; j < n; ++j) {
      double complex s = 0;
      for (int k = 0; k < n; ++k)
        s += conj(D[k + (size_t)n * i]) * D[k + (size_t)n * j];
      M[i + (size_t)n * j] = s;
    }
  int info;
  zgetrf_(&n, &n, M, &n, piv, &info);
  ck_assert_int_eq(info, 0);
  double dense = 0;
  for (int i = 0; i < n; ++i)
    dense += log(cabs(M[i + (size_t)n * i]));
  double got;
  fg_error err = {0};
  ck_assert_int_eq(fg_dirac_logdet(d, theta, 1, &got, NULL, 1, &err), FG_OK);
  ck_assert_msg(fabs(got - dense) < 1e-9 * (1 + fabs(dense)), "%.15g vs %.15g", got, dense);
  free(theta), free(D), free(M), free(piv);
  fg_dirac_destroy(d);
  fg_lattice_free(&lat);
}
END_TEST

START_TEST(gradient_matches_finite_differences)
{
  fg_lattice lat;
  fg_dirac *d;
  make(4, 4, 0.24, &lat, &d);
  int nd = 2 * lat.volume;
  double *theta = malloc(sizeof(double) * 2 * nd), *grad = malloc(sizeof(double) * 2 * nd);
  random_angles(theta, 2 * nd, 7);
  double ld, lp, lm;
  fg_error err = {0};
  /* A two-lane block: lane 1 of the [2V][2] layout, gradient strided the same way. */
  ck_assert_int_eq(fg_dirac_logdet(d, theta + 1, 2, &ld, grad + 1, 2, &err), FG_OK);
  const double h = 1e-5;
  double worst = 0;
  for (int i = 0; i < nd; ++i) {
    double t = theta[2 * i + 1];
    theta[2 * i + 1] = t + h;
    fg_dirac_logdet(d, theta + 1, 2, &lp, NULL, 1, &err);
    theta[2 * i + 1] = t - h;
    fg_dirac_logdet(d, theta + 1, 2, &lm, NULL, 1, &err);
    theta[2 * i + 1] = t;
    double fd = (lp - lm) / (2 * h), e = fabs(fd - grad[2 * i + 1]);
    worst = e > worst ? e : worst;
  }
  ck_assert_msg(worst < 1e-7, "largest |analytic - finite difference| = %g", worst);
  free(theta), free(grad);
  fg_dirac_destroy(d);
  fg_lattice_free(&lat);
}
END_TEST

/* The even-odd reduction against the full LU: log det, gradient and pion
 * correlator on 6x4 and 8x8 at kappa 0.26, and the finite-difference gradient of the
 * full path on a lattice without the reduction (odd extent). */
START_TEST(even_odd_matches_full_lu)
{
  const int shapes[][2] = {{6, 4}, {8, 8}};
  for (int sh = 0; sh < 2; ++sh) {
    fg_lattice lat;
    fg_dirac *d;
    make(shapes[sh][0], shapes[sh][1], 0.26, &lat, &d);
    int nd = 2 * lat.volume;
    double *theta = malloc(sizeof(double) * nd), *g_eo = malloc(sizeof(double) * nd),
           *g_full = malloc(sizeof(double) * nd);
    random_angles(theta, nd, 11 + sh);
    double ld_eo, ld_full;
    fg_error err = {0};
    ck_assert_int_eq(fg_dirac_set_even_odd(d, 1), 1);
    ck_assert_int_eq(fg_dirac_logdet(d, theta, 1, &ld_eo, g_eo, 1, &err), FG_OK);
    ck_assert_int_eq(fg_dirac_set_even_odd(d, 0), 0);
    ck_assert_int_eq(fg_dirac_logdet(d, theta, 1, &ld_full, g_full, 1, &err), FG_OK);
    ck_assert_msg(fabs(ld_eo - ld_full) < 1e-10 * (1 + fabs(ld_full)), "%.15g vs %.15g", ld_eo,
                  ld_full);
    double worst = 0, scale = 0;
    for (int i = 0; i < nd; ++i) {
      worst = fmax(worst, fabs(g_eo[i] - g_full[i]));
      scale = fmax(scale, fabs(g_full[i]));
    }
    ck_assert_msg(scale > 1e-3 && worst < 1e-10 * scale, "%dx%d: gradient differs by %g (scale %g)",
                  lat.extent[0], lat.extent[1], worst, scale);
    double c_eo[8], c_full[8];
    ck_assert_int_eq(fg_dirac_pion_correlator(d, theta, 1, c_full, &err), FG_OK);
    fg_dirac_set_even_odd(d, 1);
    ck_assert_int_eq(fg_dirac_pion_correlator(d, theta, 1, c_eo, &err), FG_OK);
    for (int t = 0; t < lat.extent[0]; ++t)
      ck_assert_msg(fabs(c_eo[t] - c_full[t]) < 1e-11 * c_full[0], "C(%d): %.15g vs %.15g", t,
                    c_eo[t], c_full[t]);
    free(theta), free(g_eo), free(g_full);
    fg_dirac_destroy(d);
    fg_lattice_free(&lat);
  }
  fg_lattice lat;
  fg_dirac *d;
  make(4, 5, 0.24, &lat, &d);
  ck_assert_int_eq(fg_dirac_set_even_odd(d, 1), 0); /* odd extent: the full LU */
  int nd = 2 * lat.volume;
  double *theta = malloc(sizeof(double) * nd), *grad = malloc(sizeof(double) * nd);
  random_angles(theta, nd, 5);
  double ld, lp, lm, worst = 0;
  fg_error err = {0};
  ck_assert_int_eq(fg_dirac_logdet(d, theta, 1, &ld, grad, 1, &err), FG_OK);
  for (int i = 0; i < nd; ++i) {
    double t = theta[i], h = 1e-5;
    theta[i] = t + h;
    fg_dirac_logdet(d, theta, 1, &lp, NULL, 1, &err);
    theta[i] = t - h;
    fg_dirac_logdet(d, theta, 1, &lm, NULL, 1, &err);
    theta[i] = t;
    worst = fmax(worst, fabs((lp - lm) / (2 * h) - grad[i]));
  }
  ck_assert_msg(worst < 1e-7, "4x5: largest |analytic - finite difference| = %g", worst);
  free(theta), free(grad);
  fg_dirac_destroy(d);
  fg_lattice_free(&lat);
}
END_TEST

START_TEST(gamma5_hermitian_and_apply_matches_matrix)
{
  fg_lattice lat;
  fg_dirac *d;
  make(4, 2, 0.3, &lat, &d); /* L1 = 2: forward and backward hops meet the same site */
  int n = fg_dirac_size(d), v = lat.volume;
  double *theta = malloc(sizeof(double) * 2 * (size_t)v);
  random_angles(theta, 2 * v, 11);
  double complex *D = malloc(sizeof(double complex) * (size_t)n * n);
  double complex *psi = malloc(sizeof(double complex) * n), *out = malloc(sizeof(double complex) * n);
  fg_dirac_matrix(d, theta, 1, D);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      double s = (i % 2 == j % 2) ? 1.0 : -1.0;
      ck_assert(cabs(conj(D[j + (size_t)n * i]) - s * D[i + (size_t)n * j]) < 1e-14);
    }
  for (int dagger = 0; dagger < 2; ++dagger)
    for (int col = 0; col < n; ++col) { /* D e_col is column col of D (or of D^dagger) */
      memset(psi, 0, sizeof(double complex) * n);
      psi[col] = 1;
      fg_dirac_apply(d, theta, 1, psi, out, dagger);
      for (int row = 0; row < n; ++row) {
        double complex want = dagger ? conj(D[col + (size_t)n * row]) : D[row + (size_t)n * col];
        ck_assert(cabs(out[row] - want) < 1e-14);
      }
    }
  free(theta), free(D), free(psi), free(out);
  fg_dirac_destroy(d);
  fg_lattice_free(&lat);
}
END_TEST

START_TEST(logdet_is_gauge_invariant)
{
  fg_lattice lat;
  fg_dirac *d;
  make(6, 4, 0.25, &lat, &d);
  int v = lat.volume;
  double *theta = malloc(sizeof(double) * 2 * (size_t)v), *alpha = malloc(sizeof(double) * v);
  random_angles(theta, 2 * v, 5);
  random_angles(alpha, v, 6);
  double before, after;
  fg_error err = {0};
  ck_assert_int_eq(fg_dirac_logdet(d, theta, 1, &before, NULL, 1, &err), FG_OK);
  for (int mu = 0; mu < 2; ++mu) /* U_mu(x) -> g(x) U_mu(x) g(x + mu)^* */
    for (int x = 0; x < v; ++x)
      theta[mu * v + x] += alpha[x] - alpha[lat.up[x * 2 + mu]];
  ck_assert_int_eq(fg_dirac_logdet(d, theta, 1, &after, NULL, 1, &err), FG_OK);
  ck_assert_msg(fabs(after - before) < 1e-10 * fabs(before), "%.15g vs %.15g", before, after);
  free(theta), free(alpha);
  fg_dirac_destroy(d);
  fg_lattice_free(&lat);
}
END_TEST

START_TEST(free_pion_correlator_is_exact)
{
  /* At U = 1: D^-1(y, x) = (1/V) sum_k e^{ik(y-x)} (a - i b.sigma) / (a^2 + |b|^2),
   * a = 1 - 2 kappa sum cos k, b_mu = 2 kappa sin k_mu; C(t) = sum_{y1} |G(t, y1)|^2. */
  fg_lattice lat;
  fg_dirac *d;
  const double kappa = 0.2;
  make(8, 4, kappa, &lat, &d);
  const int l0 = lat.extent[0], l1 = lat.extent[1];
  double *theta = calloc(2 * (size_t)lat.volume, sizeof *theta), C[8];
  fg_error err = {0};
  ck_assert_int_eq(fg_dirac_pion_correlator(d, theta, 1, C, &err), FG_OK);
  for (int t = 0; t < l0; ++t) {
    double exact = 0;
    for (int y1 = 0; y1 < l1; ++y1) {
      double complex g[2][2] = {{0}};
      for (int n0 = 0; n0 < l0; ++n0)
        for (int n1 = 0; n1 < l1; ++n1) {
          double k0 = M_PI * (2 * n0 + 1) / l0, k1 = 2 * M_PI * n1 / l1;
          double a = 1 - 2 * kappa * (cos(k0) + cos(k1));
          double b0 = 2 * kappa * sin(k0), b1 = 2 * kappa * sin(k1);
          double complex ph = cexp(I * (k0 * t + k1 * y1)) / ((a * a + b0 * b0 + b1 * b1) * lat.volume);
          /* a - i (b0 sigma_x + b1 sigma_y) */
          g[0][0] += ph * a;
          g[1][1] += ph * a;
          g[0][1] += ph * (-I * b0 - b1);
          g[1][0] += ph * (-I * b0 + b1);
        }
      for (int i = 0; i < 4; ++i)
        exact += creal(g[i / 2][i % 2] * conj(g[i / 2][i % 2]));
    }
    ck_assert_msg(fabs(C[t] - exact) < 1e-12 * exact + 1e-15, "t = %d: %.15g vs %.15g", t, C[t], exact);
  }
  ck_assert(C[1] < C[0] && fabs(C[1] - C[l0 - 1]) < 1e-12 * C[1]); /* decays, symmetric */
  free(theta);
  fg_dirac_destroy(d);
  fg_lattice_free(&lat);
}
END_TEST

/* S_pf = phi^dagger (D^dagger D)^-1 phi by CG. */
static double pseudofermion_action(fg_dirac *d, const double *theta, const double complex *phi,
                                   double complex *chi)
{
  int it;
  fg_error err = {0};
  ck_assert_msg(fg_dirac_cg(d, theta, 1, phi, chi, 1e-13, 1000, &it, &err) == FG_OK, "%s", err.msg);
  double complex s = 0;
  for (int i = 0; i < fg_dirac_size(d); ++i)
    s += conj(phi[i]) * chi[i];
  return creal(s);
}

START_TEST(cg_solves_and_pseudofermion_force_matches_finite_differences)
{
  fg_lattice lat;
  fg_dirac *d;
  make(4, 4, 0.24, &lat, &d);
  int n = fg_dirac_size(d), nd = 2 * lat.volume;
  double *theta = malloc(sizeof(double) * nd), *f = calloc(nd, sizeof(double));
  double *re = malloc(sizeof(double) * 2 * n);
  double complex *phi = malloc(sizeof(double complex) * n), *chi = malloc(sizeof(double complex) * n);
  double complex *t1 = malloc(sizeof(double complex) * n), *t2 = malloc(sizeof(double complex) * n);
  random_angles(theta, nd, 21);
  random_angles(re, 2 * n, 22);
  for (int i = 0; i < n; ++i)
    phi[i] = re[2 * i] + I * re[2 * i + 1];
  double s0 = pseudofermion_action(d, theta, phi, chi);
  ck_assert(s0 > 0);
  fg_dirac_apply(d, theta, 1, chi, t1, 0); /* D^dagger D chi = phi */
  fg_dirac_apply(d, theta, 1, t1, t2, 1);
  for (int i = 0; i < n; ++i)
    ck_assert(cabs(t2[i] - phi[i]) < 1e-10 * cabs(phi[i]) + 1e-12);
  fg_dirac_pseudofermion_force(d, theta, 1, chi, f, 1);
  const double h = 1e-5;
  for (int i = 0; i < nd; ++i) {
    double t = theta[i];
    theta[i] = t + h;
    double sp = pseudofermion_action(d, theta, phi, t1);
    theta[i] = t - h;
    double sm = pseudofermion_action(d, theta, phi, t1);
    theta[i] = t;
    ck_assert_msg(fabs((sp - sm) / (2 * h) - f[i]) < 1e-6 * (1 + fabs(f[i])), "dof %d: %g vs %g",
                  i, (sp - sm) / (2 * h), f[i]);
  }
  free(theta), free(f), free(re), free(phi), free(chi), free(t1), free(t2);
  fg_dirac_destroy(d);
  fg_lattice_free(&lat);
}
END_TEST

START_TEST(bad_arguments_are_refused)
{
  fg_lattice lat;
  fg_dirac *d;
  fg_error err = {0};
  int ext3[3] = {4, 4, 4}, ext2[2] = {4, 4}, bad_bc[2] = {0, 1};
  ck_assert_int_eq(fg_lattice_init(&lat, 3, ext3, &err), FG_OK);
  ck_assert_int_eq(fg_dirac_create(&lat, 0.2, antiperiodic_time, &d, &err), FG_ERR_INPUT);
  ck_assert_ptr_null(d);
  fg_lattice_free(&lat);
  ck_assert_int_eq(fg_lattice_init(&lat, 2, ext2, &err), FG_OK);
  ck_assert_int_eq(fg_dirac_create(&lat, -0.1, antiperiodic_time, &d, &err), FG_ERR_INPUT);
  ck_assert_int_eq(fg_dirac_create(&lat, NAN, antiperiodic_time, &d, &err), FG_ERR_INPUT);
  ck_assert_int_eq(fg_dirac_create(&lat, 0.2, bad_bc, &d, &err), FG_ERR_INPUT);
  ck_assert(strstr(err.msg, "boundary") != NULL);
  fg_lattice_free(&lat);
}
END_TEST

/* ---- The lane-batched determinant (fg_dirac_logdet_lanes, lane_lu.h) ---- */

enum { NL = FG_VLEN };

/* A [nd][lanes] block of different configurations: lane l from seed + l,
 * every third one near the free field (angles times 0.3), the others hot. */
static double *lane_block(int nd, int lanes, unsigned seed)
{
  double *theta = malloc(sizeof(double) * (size_t)nd * lanes), *one = malloc(sizeof(double) * nd);
  for (int l = 0; l < lanes; ++l) {
    random_angles(one, nd, seed + (unsigned)l);
    for (int i = 0; i < nd; ++i)
      theta[(size_t)i * lanes + l] = (l % 3 == 0 ? 0.3 : 1.0) * one[i];
  }
  free(one);
  return theta;
}

/* The Schur complements S = 1 - D_oe D_eo of FG_VLEN lanes of a block, from
 * the dense D (the odd sites in dirac.c's order: increasing site index,
 * row 2 i + a): column-major per lane in S[l m^2 ..], and into w. */
static void schur_complements(const fg_lattice *lat, const fg_dirac *d, const double *theta,
                              int lanes, fg_lane_lu *w, double complex *S)
{
  const int n = fg_dirac_size(d), m = lat->volume;
  double complex *D = malloc(sizeof(double complex) * (size_t)n * n);
  int *odd = malloc(sizeof(int) * m / 2), *even = malloc(sizeof(int) * m / 2), no = 0, ne = 0;
  for (int y = 0; y < lat->volume; ++y) {
    int x[FG_MAXDIM];
    fg_lattice_coords(lat, y, x);
    if ((x[0] + x[1]) % 2)
      odd[no++] = y;
    else
      even[ne++] = y;
  }
  for (int l = 0; l < NL; ++l) {
    fg_dirac_matrix(d, theta + l, (size_t)lanes, D);
    for (int r = 0; r < m; ++r)
      for (int c = 0; c < m; ++c) {
        size_t row = 2 * (size_t)odd[r / 2] + r % 2, col = 2 * (size_t)odd[c / 2] + c % 2;
        double complex sum = r == c ? 1.0 : 0.0;
        for (int e = 0; e < 2 * ne; ++e) {
          size_t k = 2 * (size_t)even[e / 2] + e % 2;
          sum -= D[row + n * k] * D[k + n * col];
        }
        S[(size_t)l * m * m + r + (size_t)m * c] = sum;
        size_t at = ((size_t)r * w->ld + c) * NL + l;
        w->re[at] = creal(sum);
        w->im[at] = cimag(sum);
      }
  }
  free(D), free(odd), free(even);
}

/* The kernel on the Schur complements of 16 different 8x8 configurations,
 * one of them made exactly singular: per lane the pivots of zgetrf, its
 * info, its factors, log |det| and zgetri's inverse. Up to kappa ~ 0.3 the
 * unit diagonal of S dominates and zgetrf never swaps rows; at kappa 0.4
 * (past the massless point, D still regular on these configurations) it
 * swaps, and differently in each lane, which the test asserts. */
START_TEST(lane_lu_pivots_per_lane_like_zgetrf)
{
  fg_lattice lat;
  fg_dirac *d;
  make(8, 8, 0.4, &lat, &d);
  const int m = lat.volume, singular = NL - 1;
  double *theta = lane_block(2 * m, NL, 41);
  fg_lane_lu w;
  fg_error err = {0};
  ck_assert_int_eq(fg_lane_lu_init(&w, m, &err, "test"), FG_OK);
  double complex *S = malloc(sizeof(double complex) * (size_t)m * m * NL);
  schur_complements(&lat, d, theta, NL, &w, S);
  for (int r = 0; r < m; ++r) { /* column 5 of the last lane zero: zgetrf's info 6 */
    S[(size_t)singular * m * m + r + (size_t)m * 5] = 0;
    w.re[((size_t)r * w.ld + 5) * NL + singular] = w.im[((size_t)r * w.ld + 5) * NL + singular] = 0;
  }
  fg_lane_lu_factor(&w);
  double lad[NL];
  fg_lane_lu_log_abs_det(&w, lad);
  fg_lane_lu_invert(&w);
  int *ipiv = malloc(sizeof(int) * m), lwork = 64 * m, info, swaps = 0, differ = 0;
  double complex *work = malloc(sizeof(double complex) * lwork);
  for (int l = 0; l < NL; ++l) {
    double complex *a = S + (size_t)l * m * m;
    zgetrf_(&m, &m, a, &m, ipiv, &info);
    ck_assert_int_eq(info, l == singular ? 6 : 0);
    ck_assert_int_eq(w.singular[l], info);
    int same = 1;
    for (int k = 0; k < m; ++k) {
      ck_assert_msg(w.pivot[k * NL + l] == ipiv[k] - 1, "lane %d step %d: pivot %d, zgetrf %d", l, k,
                    w.pivot[k * NL + l], ipiv[k] - 1);
      swaps += ipiv[k] - 1 != k;
      same &= w.pivot[k * NL + l] == w.pivot[k * NL];
    }
    differ += !same;
    double worst = 0, sum = 0;
    for (int r = 0; r < m; ++r)
      for (int c = 0; c < m; ++c) {
        size_t at = ((size_t)r * w.ld + c) * NL + l;
        worst = fmax(worst, cabs(a[r + (size_t)m * c] - CMPLX(w.re[at], w.im[at])));
      }
    ck_assert_msg(worst < 1e-12, "lane %d: LU factors differ by %g", l, worst);
    if (l == singular) {
      ck_assert(isinf(lad[l]) && lad[l] < 0);
      continue;
    }
    for (int k = 0; k < m; ++k)
      sum += log(cabs(a[k + (size_t)m * k]));
    ck_assert_msg(fabs(lad[l] - sum) < 1e-12 * (1 + fabs(sum)), "lane %d: %.15g vs %.15g", l, lad[l],
                  sum);
    zgetri_(&m, a, &m, ipiv, work, &lwork, &info);
    double scale = 0;
    worst = 0;
    for (int r = 0; r < m; ++r)
      for (int c = 0; c < m; ++c) {
        size_t at = ((size_t)r * w.ld + c) * NL + l;
        scale = fmax(scale, cabs(a[r + (size_t)m * c]));
        worst = fmax(worst, cabs(a[r + (size_t)m * c] - CMPLX(w.inv_re[at], w.inv_im[at])));
      }
    ck_assert_msg(worst < 1e-12 * scale, "lane %d: inverse differs by %g (scale %g)", l, worst, scale);
  }
  fprintf(stderr, "lane_lu: %d row swaps over %d lanes, %d lanes pivot unlike lane 0\n", swaps, NL,
          differ);
  ck_assert_msg(swaps > 0 && differ > 0, "no test of per-lane pivoting: %d swaps, %d lanes differ",
                swaps, differ);
  free(theta), free(S), free(ipiv), free(work);
  fg_lane_lu_free(&w);
  fg_dirac_destroy(d);
  fg_lattice_free(&lat);
}
END_TEST

/* Largest |a - b| over the first n entries of a lane of two [n][lanes] blocks, and of |b|. */
static void lane_difference(const double *a, const double *b, int n, int lanes, int l,
                            double *worst, double *scale)
{
  for (int i = 0; i < n; ++i) {
    *worst = fmax(*worst, fabs(a[(size_t)i * lanes + l] - b[(size_t)i * lanes + l]));
    *scale = fmax(*scale, fabs(b[(size_t)i * lanes + l]));
  }
}

/* fg_dirac_logdet_lanes against fg_dirac_logdet one configuration at a
 * time, on 4x4 and 8x8 at kappa 0.1, 0.25, 0.263 and 0.4 (where the lanes
 * pivot differently: lane_lu_pivots_per_lane_like_zgetrf), on 3/2 FG_VLEN
 * different configurations: a full block and a chunk of FG_VLEN / 2 padded
 * to a block (dirac.h: smaller chunks go one by one). The factors kept from
 * one call are reused only for the same angles: one angle moved changes its
 * lane, and only that lane. */
START_TEST(lanes_match_one_configuration_at_a_time)
{
  const int shapes[][2] = {{4, 4}, {8, 8}};
  const double kappas[] = {0.1, 0.25, 0.263, 0.4};
  enum { lanes = NL + NL / 2 };
  for (int sh = 0; sh < 2; ++sh)
    for (int k = 0; k < 4; ++k) {
      fg_lattice lat;
      fg_dirac *d;
      make(shapes[sh][0], shapes[sh][1], kappas[k], &lat, &d);
      const int nd = 2 * lat.volume;
      double *theta = lane_block(nd, lanes, 100 + 10 * sh + k);
      double *g = malloc(sizeof(double) * nd * lanes), *g1 = malloc(sizeof(double) * nd * lanes);
      double ld[lanes], ld_only[lanes], ld1;
      fg_error err = {0};
      ck_assert_msg(fg_dirac_logdet_lanes(d, theta, lanes, ld, g, &err) == FG_OK, "%s", err.msg);
      ck_assert_int_eq(fg_dirac_logdet_lanes(d, theta, lanes, ld_only, NULL, &err), FG_OK);
      for (int l = 0; l < lanes; ++l) {
        ck_assert_int_eq(fg_dirac_logdet(d, theta + l, lanes, &ld1, g1 + l, lanes, &err), FG_OK);
        ck_assert_msg(fabs(ld[l] - ld1) < 1e-12 * (1 + fabs(ld1)) && ld_only[l] == ld[l],
                      "%dx%d kappa %g lane %d: %.15g (%.15g without gradient) vs %.15g",
                      lat.extent[0], lat.extent[1], kappas[k], l, ld[l], ld_only[l], ld1);
        double worst = 0, scale = 0;
        lane_difference(g, g1, nd, lanes, l, &worst, &scale);
        ck_assert_msg(scale > 1e-3 && worst < 1e-12 * scale,
                      "%dx%d kappa %g lane %d: gradient differs by %g (scale %g)", lat.extent[0],
                      lat.extent[1], kappas[k], l, worst, scale);
      }
      ck_assert(fabs(ld[0] - ld[1]) > 1e-3); /* the lanes hold different configurations */
      theta[(size_t)7 * lanes + 5] += 0.1;
      ck_assert_int_eq(fg_dirac_logdet_lanes(d, theta, lanes, ld_only, NULL, &err), FG_OK);
      ck_assert_int_eq(fg_dirac_logdet(d, theta + 5, lanes, &ld1, NULL, 1, &err), FG_OK);
      for (int l = 0; l < lanes; ++l)
        ck_assert(l == 5 ? ld_only[l] != ld[l] && fabs(ld_only[l] - ld1) < 1e-12 * (1 + fabs(ld1))
                         : ld_only[l] == ld[l]);
      free(theta), free(g), free(g1);
      fg_dirac_destroy(d);
      fg_lattice_free(&lat);
    }
}
END_TEST

/* At the massless point the error names the configuration, kappa and the
 * massless point: the free field with periodic boundary conditions at kappa
 * = 1/4 has a constant zero mode, which rounding leaves as pivots of 1e-16
 * or less. That lane gets log det -inf and a zero gradient; the other lanes
 * are computed as one at a time. */
START_TEST(massless_point_is_an_error)
{
  static const int periodic[2] = {1, 1};
  const int shapes[][2] = {{4, 4}, {8, 8}};
  for (int sh = 0; sh < 2; ++sh) {
    fg_lattice lat;
    fg_dirac *d;
    make_bc(shapes[sh][0], shapes[sh][1], 0.25, periodic, &lat, &d);
    const int nd = 2 * lat.volume, free_lane = 3;
    double *theta = lane_block(nd, NL, 7), *g = malloc(sizeof(double) * nd * NL), ld[NL], ld1;
    double *g1 = malloc(sizeof(double) * nd * NL);
    for (int i = 0; i < nd; ++i)
      theta[(size_t)i * NL + free_lane] = 0.0;
    fg_error err = {0};
    ck_assert_int_eq(fg_dirac_logdet_lanes(d, theta, NL, ld, g, &err), FG_ERR_RUNTIME);
    ck_assert_msg(strstr(err.msg, "singular on configuration 3 of the block") != NULL &&
                      strstr(err.msg, "kappa 0.25 ") != NULL &&
                      strstr(err.msg, "massless point") != NULL,
                  "%s", err.msg);
    ck_assert(isinf(ld[free_lane]) && ld[free_lane] < 0);
    for (int l = 0; l < NL; ++l) {
      fg_error e1 = {0};
      int rc = fg_dirac_logdet(d, theta + l, NL, &ld1, g1 + l, NL, &e1);
      double worst = 0, scale = 0;
      lane_difference(g, g1, nd, NL, l, &worst, &scale);
      if (l == free_lane) {
        ck_assert_int_eq(rc, FG_ERR_RUNTIME);
        ck_assert_msg(strstr(e1.msg, "kappa 0.25 is at or past the massless point"), "%s", e1.msg);
        for (int i = 0; i < nd; ++i)
          ck_assert(g[(size_t)i * NL + l] == 0.0);
        continue;
      }
      ck_assert_int_eq(rc, FG_OK);
      ck_assert(fabs(ld[l] - ld1) < 1e-12 * (1 + fabs(ld1)) && worst < 1e-12 * scale);
    }
    free(theta), free(g), free(g1);
    fg_dirac_destroy(d);
    fg_lattice_free(&lat);
  }
}
END_TEST

int main(void)
{
  Suite *s = suite_create("dirac");
  TCase *tc = tcase_create("wilson");
  tcase_add_test(tc, free_field_determinant_is_exact);
  tcase_add_test(tc, logdet_matches_dense_determinant_of_ddagger_d);
  tcase_add_test(tc, gradient_matches_finite_differences);
  tcase_add_test(tc, gamma5_hermitian_and_apply_matches_matrix);
  tcase_add_test(tc, logdet_is_gauge_invariant);
  tcase_add_test(tc, even_odd_matches_full_lu);
  tcase_add_test(tc, free_pion_correlator_is_exact);
  tcase_add_test(tc, cg_solves_and_pseudofermion_force_matches_finite_differences);
  tcase_add_test(tc, bad_arguments_are_refused);
  tcase_add_test(tc, lane_lu_pivots_per_lane_like_zgetrf);
  tcase_add_test(tc, lanes_match_one_configuration_at_a_time);
  tcase_add_test(tc, massless_point_is_an_error);
  suite_add_tcase(s, tc);
  return fg_test_run(s);
}
