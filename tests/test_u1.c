/* test_u1.c -- U(1) gauge fields: gauge force against finite differences, integer topological charge, gauge invariance, angle wrapping. */
#include "flowgen/u1.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>

static void random_angles(double *theta, int n, unsigned seed, double scale)
{
  unsigned long s = seed * 2654435761ul + 1;
  for (int i = 0; i < n; ++i) {
    s = s * 6364136223846793005ul + 1442695040888963407ul;
    theta[i] = scale * M_PI * (2.0 * (double)(s >> 11) / 9007199254740992.0 - 1.0);
  }
}

static void lattice(int l0, int l1, fg_lattice *lat)
{
  fg_error err = {0};
  int ext[2] = {l0, l1};
  ck_assert_int_eq(fg_lattice_init(lat, 2, ext, &err), FG_OK);
}

START_TEST(gauge_force_matches_finite_differences)
{
  fg_lattice lat;
  lattice(4, 6, &lat);
  int n = 2 * lat.volume;
  double *theta = malloc(sizeof(double) * 3 * n), *f = malloc(sizeof(double) * 3 * n);
  random_angles(theta, 3 * n, 1, 1.0);
  const double beta = 1.7, h = 1e-6;
  fg_u1_gauge_force(&lat, theta + 2, 3, beta, f + 2, 3); /* lane 2 of a 3-lane block */
  for (int i = 0; i < n; ++i) {
    double t = theta[3 * i + 2];
    theta[3 * i + 2] = t + h;
    double sp = fg_u1_gauge_action(&lat, theta + 2, 3, beta);
    theta[3 * i + 2] = t - h;
    double sm = fg_u1_gauge_action(&lat, theta + 2, 3, beta);
    theta[3 * i + 2] = t;
    ck_assert_msg(fabs((sp - sm) / (2 * h) - f[3 * i + 2]) < 1e-7, "dof %d", i);
  }
  free(theta), free(f);
  fg_lattice_free(&lat);
}
END_TEST

START_TEST(charge_is_an_integer_and_gauge_invariant)
{
  fg_lattice lat;
  lattice(6, 6, &lat);
  int v = lat.volume, nonzero = 0;
  double *theta = malloc(sizeof(double) * 2 * v), *alpha = malloc(sizeof(double) * v);
  for (unsigned seed = 0; seed < 40; ++seed) {
    random_angles(theta, 2 * v, seed, 1.0);
    double q = fg_u1_topological_charge(&lat, theta, 1);
    double plaq = fg_u1_mean_plaquette(&lat, theta, 1);
    ck_assert_msg(fabs(q - nearbyint(q)) < 1e-10, "Q = %.15g", q);
    nonzero += nearbyint(q) != 0;
    random_angles(alpha, v, 100 + seed, 1.0);
    fg_u1_gauge_transform(&lat, theta, 1, alpha);
    ck_assert(fabs(fg_u1_topological_charge(&lat, theta, 1) - q) < 1e-10);
    ck_assert(fabs(fg_u1_mean_plaquette(&lat, theta, 1) - plaq) < 1e-12);
    for (int i = 0; i < 2 * v; ++i)
      ck_assert(theta[i] > -M_PI && theta[i] <= M_PI);
  }
  ck_assert_msg(nonzero > 5, "random fields should carry charge (%d of 40 did)", nonzero);
  free(theta), free(alpha);
  fg_lattice_free(&lat);
}
END_TEST

START_TEST(a_unit_instanton_has_charge_one)
{
  /* theta_1(x) = c x0 with c = 2 pi / V, and theta_0 = -c L0 x1 on the last
   * time slice: every plaquette angle is c (mod 2 pi), so Q = 1 exactly and
   * <Re P> = cos(2 pi / V). */
  fg_lattice lat;
  lattice(4, 6, &lat);
  int v = lat.volume, l0 = 4, l1 = 6;
  double *theta = calloc(2 * (size_t)v, sizeof *theta);
  for (int x0 = 0; x0 < l0; ++x0)
    for (int x1 = 0; x1 < l1; ++x1) {
      int x = x0 * l1 + x1;
      theta[v + x] = 2 * M_PI / v * x0;
      if (x0 == l0 - 1)
        theta[x] = fg_angle_wrap(-2 * M_PI / v * l0 * x1);
    }
  /* check every plaquette directly */
  double *p = malloc(sizeof(double) * v);
  fg_u1_plaquettes(&lat, theta, 1, p);
  for (int x = 0; x < v; ++x)
    ck_assert_msg(fabs(fg_angle_wrap(p[x]) - 2 * M_PI / v) < 1e-12, "site %d: %g", x, p[x]);
  ck_assert(fabs(fg_u1_topological_charge(&lat, theta, 1) - 1.0) < 1e-12);
  ck_assert(fabs(fg_u1_mean_plaquette(&lat, theta, 1) - cos(2 * M_PI / v)) < 1e-12);
  free(theta), free(p);
  fg_lattice_free(&lat);
}
END_TEST

START_TEST(angles_wrap_into_the_half_open_interval)
{
  ck_assert(fg_angle_wrap(M_PI) == M_PI);
  ck_assert(fg_angle_wrap(-M_PI) == M_PI);
  ck_assert(fabs(fg_angle_wrap(3 * M_PI / 2) + M_PI / 2) < 1e-15);
  ck_assert(fabs(fg_angle_wrap(-7.0) - (-7.0 + 2 * M_PI)) < 1e-15);
  ck_assert(fg_angle_wrap(0.25) == 0.25);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("u1");
  TCase *tc = tcase_create("gauge");
  tcase_add_test(tc, gauge_force_matches_finite_differences);
  tcase_add_test(tc, charge_is_an_integer_and_gauge_invariant);
  tcase_add_test(tc, a_unit_instanton_has_charge_one);
  tcase_add_test(tc, angles_wrap_into_the_half_open_interval);
  suite_add_tcase(s, tc);
  return fg_test_run(s);
}
