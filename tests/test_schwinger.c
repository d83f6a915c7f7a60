/* test_schwinger.c -- the two-flavour Schwinger model: forces against finite differences (exact determinant and pseudofermions), HMC reversibility, dH ~ dt^2 and <exp(-dH)> = 1, pure gauge plaquette and <Q^2> against the exact finite-volume results. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowgen/analysis.h"
#include "flowgen/dirac.h"
#include "flowgen/hmc.h"
#include "flowgen/nn.h"
#include "flowgen/rng.h"
#include "flowgen/theory.h"
#include "flowgen/u1.h"
#include "testutil.h"

static fg_theory *make_theory(int l0, int l1, double beta, double kappa)
{
  fg_theory_config c = {.name = FG_THEORY_SCHWINGER, .nd = 2, .extent = {l0, l1},
                        .beta = beta, .kappa = kappa};
  fg_theory *t;
  fg_error err = {0};
  ck_assert_msg(fg_theory_create(&c, &t, &err) == FG_OK, "%s", err.msg);
  return t;
}

static fg_hmc *make_hmc(const fg_theory *t, double tau, int n, fg_integrator_kind integrator)
{
  fg_hmc_params p = {.trajectory_length = tau, .md_steps = n, .integrator = integrator};
  fg_hmc *h;
  fg_error err = {0};
  ck_assert_int_eq(fg_hmc_create(t, &p, &h, &err), FG_OK);
  return h;
}

static void random_field(double *phi, int n, uint64_t draw, double scale)
{
  fg_rng r;
  fg_rng_init(&r, 99, FG_RNG_TEST, draw, 0);
  for (int i = 0; i < n; ++i)
    phi[i] = scale * M_PI * (2 * fg_rng_uniform(&r) - 1);
}

START_TEST(field_shape_and_observables_are_declared)
{
  fg_theory *t = make_theory(8, 4, 2.0, 0.25);
  ck_assert_int_eq(fg_theory_components(t), 2);
  ck_assert_int_eq(fg_theory_ndof(t), 64);
  ck_assert_int_eq(fg_theory_component_kind(t, 0), FG_COMPONENT_ANGLE);
  ck_assert_int_eq(fg_theory_component_kind(t, 1), FG_COMPONENT_ANGLE);
  const fg_observable *obs;
  int n = fg_theory_observables(t, &obs);
  ck_assert_int_eq(n, 3 + 8 + 1);
  ck_assert_str_eq(obs[0].name, "plaq");
  ck_assert_str_eq(obs[2].name, "q2");
  ck_assert_str_eq(obs[3].name, "C_0");
  ck_assert_str_eq(obs[10].name, "C_7");
  ck_assert_str_eq(obs[11].name, "m_pi");
  fg_coupling c[FG_MAX_COUPLINGS];
  ck_assert_int_eq(fg_theory_named_couplings(t, c), 2);
  ck_assert(strcmp(c[0].name, "beta") == 0 && c[0].value == 2.0);
  ck_assert(strcmp(c[1].name, "kappa") == 0 && c[1].value == 0.25);
  fg_theory_destroy(t);
  t = make_theory(4, 4, 1.0, 0.0); /* pure gauge: no pion */
  ck_assert_int_eq(fg_theory_observables(t, &obs), 3);
  ck_assert_uint_eq(fg_theory_hmc_aux_size(t), 0);
  fg_theory_destroy(t);
}
END_TEST

/* theory.fermion_bc reaches the Dirac operator: the action is the gauge
 * action minus log det D^dagger D with those boundary signs. */
START_TEST(fermion_boundary_conditions_reach_the_action)
{
  const int bcs[3][2] = {{FG_BC_ANTIPERIODIC, FG_BC_PERIODIC},
                         {FG_BC_PERIODIC, FG_BC_PERIODIC},
                         {FG_BC_ANTIPERIODIC, FG_BC_ANTIPERIODIC}};
  double S[3];
  double phi[32];
  random_field(phi, 32, 5, 0.4);
  for (int k = 0; k < 3; ++k) {
    fg_theory_config c = {.name = FG_THEORY_SCHWINGER, .nd = 2, .extent = {4, 4}, .beta = 1.5,
                          .kappa = 0.2, .n_fermion_bc = 2,
                          .fermion_bc = {bcs[k][0], bcs[k][1]}};
    fg_theory *t;
    fg_error err = {0};
    ck_assert_msg(fg_theory_create(&c, &t, &err) == FG_OK, "%s", err.msg);
    fg_theory_action(t, phi, 1, &S[k]);
    int sign[2] = {bcs[k][0] == FG_BC_PERIODIC ? 1 : -1, bcs[k][1] == FG_BC_PERIODIC ? 1 : -1};
    fg_dirac *d;
    double logdet;
    ck_assert_int_eq(fg_dirac_create(fg_theory_lattice(t), 0.2, sign, &d, &err), FG_OK);
    ck_assert_int_eq(fg_dirac_logdet(d, phi, 1, &logdet, NULL, 1, &err), FG_OK);
    double want = fg_u1_gauge_action(fg_theory_lattice(t), phi, 1, 1.5) - logdet;
    ck_assert_msg(fabs(S[k] - want) < 1e-12 * fabs(want), "bc %d: %.15g vs %.15g", k, S[k], want);
    fg_dirac_destroy(d);
    fg_theory_destroy(t);
  }
  ck_assert(fabs(S[0] - S[1]) > 1e-6 && fabs(S[0] - S[2]) > 1e-6); /* the test has power */
}
END_TEST

/* hmc.cg_tolerance and hmc.cg_max_iterations reach the pseudofermion solves,
 * which are counted; pure gauge has no solver. */
START_TEST(solver_settings_are_applied_and_counted)
{
  fg_theory *t = make_theory(4, 4, 2.0, 0.24), *g = make_theory(4, 4, 2.0, 0.0);
  fg_solver st;
  ck_assert_int_eq(fg_theory_solver_stats(g, &st), 0);
  ck_assert_int_eq(fg_theory_set_solver(g, 1e-6, 10), -1);
  ck_assert_int_eq(fg_theory_solver_stats(t, &st), 1);
  ck_assert(st.tolerance == 1e-10 && st.max_iterations == 10000 && st.solves == 0);
  double phi[32], mom[32], aux[64], S;
  random_field(phi, 32, 6, 0.3);
  fg_rng r;
  fg_rng_init(&r, 3, FG_RNG_TEST, 0, 0);
  fg_theory_hmc_refresh(t, phi, &r, mom, aux);
  int64_t its[2];
  const double tol[2] = {1e-4, 1e-12};
  for (int k = 0; k < 2; ++k) {
    fg_solver before;
    fg_theory_solver_stats(t, &before);
    ck_assert_int_eq(fg_theory_set_solver(t, tol[k], 10000), 0);
    fg_theory_hmc_action(t, phi, aux, &S);
    fg_theory_solver_stats(t, &st);
    ck_assert(st.tolerance == tol[k] && st.solves == before.solves + 1 && st.failures == 0);
    its[k] = st.iterations - before.iterations;
    ck_assert(isfinite(S));
  }
  ck_assert_msg(its[1] > its[0] && its[0] > 0, "iterations %lld at 1e-4, %lld at 1e-12",
                (long long)its[0], (long long)its[1]);
  ck_assert_int_eq(st.most, (int)its[1]);
  /* A cap below what the solve needs: a failure, and an action of +inf (rejected). */
  fg_theory_set_solver(t, 1e-12, 2);
  fg_theory_hmc_action(t, phi, aux, &S);
  fg_theory_solver_stats(t, &st);
  ck_assert(st.failures == 1 && isinf(S) && S > 0);
  fg_theory_destroy(t);
  fg_theory_destroy(g);
}
END_TEST

/* dS/dphi against central differences on a block of `lanes` configurations,
 * all lanes moved at once (they are independent). */
static void check_exact_force(fg_theory *t, int lanes, uint64_t draw)
{
  const int nd = fg_theory_ndof(t);
  double *phi = malloc(sizeof(double) * nd * lanes), *f = malloc(sizeof(double) * nd * lanes);
  double *Sp = malloc(sizeof(double) * lanes), *Sm = malloc(sizeof(double) * lanes);
  random_field(phi, nd * lanes, draw, 1.0);
  fg_theory_force(t, phi, lanes, f);
  const double h = 1e-5;
  for (int i = 0; i < nd; ++i) {
    double *p = phi + (size_t)i * lanes;
    for (int l = 0; l < lanes; ++l)
      p[l] += h;
    fg_theory_action(t, phi, lanes, Sp);
    for (int l = 0; l < lanes; ++l)
      p[l] -= 2 * h;
    fg_theory_action(t, phi, lanes, Sm);
    for (int l = 0; l < lanes; ++l) {
      p[l] += h;
      double fd = (Sp[l] - Sm[l]) / (2 * h), an = f[(size_t)i * lanes + l];
      ck_assert_msg(fabs(fd - an) < 1e-6 * (1 + fabs(fd)), "%d lanes: dof %d lane %d: %g vs %g",
                    lanes, i, l, fd, an);
    }
  }
  free(phi), free(f), free(Sp), free(Sm);
}

/* The exact force of blocks of 3 configurations (one LAPACK LU each) and of
 * 3/2 FG_VLEN (a batched block and a padded chunk of FG_VLEN / 2: dirac.h),
 * 4x4 and 8x8. */
START_TEST(exact_force_matches_finite_differences)
{
  fg_theory *t = make_theory(4, 4, 1.3, 0.24);
  check_exact_force(t, 3, 1);
  check_exact_force(t, FG_VLEN + FG_VLEN / 2, 2);
  fg_theory_destroy(t);
  t = make_theory(8, 8, 2.0, 0.263);
  check_exact_force(t, FG_VLEN, 3);
  fg_theory_destroy(t);
}
END_TEST

START_TEST(pseudofermion_force_matches_finite_differences)
{
  fg_theory *t = make_theory(4, 4, 1.1, 0.22);
  const int nd = fg_theory_ndof(t);
  size_t na = fg_theory_hmc_aux_size(t);
  ck_assert_uint_eq(na, 4 * 16);
  double *phi = malloc(sizeof(double) * nd), *mom = malloc(sizeof(double) * nd);
  double *aux = malloc(sizeof(double) * na), *f = malloc(sizeof(double) * nd);
  random_field(phi, nd, 2, 1.0);
  fg_rng r;
  fg_rng_init(&r, 5, FG_RNG_TEST, 0, 0);
  fg_theory_hmc_refresh(t, phi, &r, mom, aux);
  /* At the refresh, S_pf = eta^dagger eta: positive, O(N). */
  double S0, Sg = fg_u1_gauge_action(fg_theory_lattice(t), phi, 1, 1.1);
  fg_theory_hmc_action(t, phi, aux, &S0);
  ck_assert(S0 - Sg > 0.3 * 32 && S0 - Sg < 3.0 * 32);
  fg_theory_hmc_force(t, phi, aux, f);
  const double h = 1e-5;
  for (int i = 0; i < nd; ++i) {
    double Sp, Sm, keep = phi[i];
    phi[i] = keep + h;
    fg_theory_hmc_action(t, phi, aux, &Sp);
    phi[i] = keep - h;
    fg_theory_hmc_action(t, phi, aux, &Sm);
    phi[i] = keep;
    double fd = (Sp - Sm) / (2 * h);
    ck_assert_msg(fabs(fd - f[i]) < 1e-5 * (1 + fabs(fd)), "dof %d: %g vs %g", i, fd, f[i]);
  }
  free(phi), free(mom), free(aux), free(f);
  fg_theory_destroy(t);
}
END_TEST

/* A field after ntraj trajectories from the cold start (and h's aux fields set). */
static double *thermalised(fg_hmc *h, const fg_theory *t, int ntraj)
{
  double *phi = calloc((size_t)fg_theory_ndof(t), sizeof(double));
  fg_hmc_outcome o;
  for (int k = 0; k < ntraj; ++k)
    fg_hmc_trajectory(h, phi, 17, 0, k, &o);
  return phi;
}

START_TEST(md_is_reversible_with_pseudofermions)
{
  fg_theory *t = make_theory(4, 4, 2.0, 0.2);
  fg_hmc *h = make_hmc(t, 1.0, 10, FG_INTEGRATOR_OMELYAN);
  const int nd = fg_theory_ndof(t);
  double *phi = thermalised(h, t, 10), *phi0 = malloc(sizeof(double) * nd);
  double *pi = malloc(sizeof(double) * nd);
  memcpy(phi0, phi, sizeof(double) * nd);
  random_field(pi, nd, 3, 0.5);
  double H0 = fg_hmc_hamiltonian(h, phi, pi);
  fg_hmc_md(h, phi, pi);
  for (int i = 0; i < nd; ++i) {
    pi[i] = -pi[i];
    ck_assert(phi[i] > -M_PI && phi[i] <= M_PI); /* angles stay wrapped */
  }
  fg_hmc_md(h, phi, pi);
  for (int i = 0; i < nd; ++i)
    ck_assert_msg(fabs(fg_angle_wrap(phi[i] - phi0[i])) < 1e-9, "dof %d", i);
  ck_assert(fabs(fg_hmc_hamiltonian(h, phi, pi) - H0) < 1e-8 * fabs(H0));
  free(phi), free(phi0), free(pi);
  fg_hmc_destroy(h);
  fg_theory_destroy(t);
}
END_TEST

START_TEST(dH_is_second_order_in_the_step)
{
  fg_theory *t = make_theory(4, 4, 2.0, 0.2);
  const int nd = fg_theory_ndof(t);
  fg_hmc *h0 = make_hmc(t, 1.0, 10, FG_INTEGRATOR_LEAPFROG);
  double *start = thermalised(h0, t, 10), *phi = malloc(sizeof(double) * nd);
  double *pi = malloc(sizeof(double) * nd), dH[2];
  for (int k = 0; k < 2; ++k) { /* n = 10 and 20 steps, same aux fields */
    fg_hmc *h = make_hmc(t, 0.5, 10 << k, FG_INTEGRATOR_LEAPFROG);
    fg_hmc_outcome o;
    double *tmp = calloc(nd, sizeof(double));
    fg_hmc_trajectory(h, tmp, 17, 0, 9, &o); /* the same refresh as h0's last */
    free(tmp);
    memcpy(phi, start, sizeof(double) * nd);
    random_field(pi, nd, 4, 0.5);
    double H0 = fg_hmc_hamiltonian(h, phi, pi);
    fg_hmc_md(h, phi, pi);
    dH[k] = fabs(fg_hmc_hamiltonian(h, phi, pi) - H0);
    fg_hmc_destroy(h);
  }
  double ratio = dH[0] / dH[1];
  ck_assert_msg(ratio > 3.0 && ratio < 5.5, "dH(eps)/dH(eps/2) = %g (%g, %g), want ~4", ratio,
                dH[0], dH[1]);
  free(start), free(phi), free(pi);
  fg_hmc_destroy(h0);
  fg_theory_destroy(t);
}
END_TEST

START_TEST(exp_minus_dH_averages_to_one)
{
  fg_theory *t = make_theory(4, 4, 2.0, 0.2);
  fg_hmc *h = make_hmc(t, 1.0, 6, FG_INTEGRATOR_LEAPFROG);
  double *phi = thermalised(h, t, 20);
  enum { N = 400 };
  double *x = malloc(sizeof(double) * N);
  fg_hmc_outcome o;
  int acc = 0;
  for (int k = 0; k < N; ++k) {
    fg_hmc_trajectory(h, phi, 17, 0, 20 + k, &o);
    x[k] = exp(-o.dH);
    acc += o.accepted;
  }
  fg_gamma_result g;
  fg_error err = {0};
  ck_assert_int_eq(fg_gamma_mean(x, N, FG_GAMMA_S_DEFAULT, &g, &err), FG_OK);
  ck_assert_msg(fabs(g.value - 1.0) < 4 * g.err, "<exp(-dH)> = %g +- %g", g.value, g.err);
  ck_assert(acc > N / 2);
  free(x), free(phi);
  fg_hmc_destroy(h);
  fg_theory_destroy(t);
}
END_TEST

/* I_n(beta) = (1/pi) int_0^pi exp(beta cos t) cos(n t) dt (Simpson, 2000 panels). */
static double bessel_i(int n, double beta)
{
  const int m = 2000;
  double s = 0;
  for (int k = 0; k <= m; ++k) {
    double t = M_PI * k / m, w = (k == 0 || k == m) ? 1 : (k % 2 ? 4 : 2);
    s += w * exp(beta * cos(t)) * cos(n * t);
  }
  return s * (M_PI / m) / 3 / M_PI;
}

/* J_n^(k) = (1/2pi) int_-pi^pi exp(beta cos p) (p/2pi)^k cos(n p) dp, k = 0, 2: the
 * theta-derivatives of the charge-weighted single-plaquette integral at theta = 0. */
static double moment(int n, double beta, int k)
{
  const int m = 4000;
  double s = 0;
  for (int j = 0; j <= m; ++j) {
    double p = -M_PI + 2 * M_PI * j / m, w = (j == 0 || j == m) ? 1 : (j % 2 ? 4 : 2);
    s += w * exp(beta * cos(p)) * pow(p / (2 * M_PI), k) * cos(n * p);
  }
  return s * (2 * M_PI / m) / 3 / (2 * M_PI);
}

/* HMC on L x L pure U(1) at beta: plaquette, <Q^2> and Q's tau_int (g[2]) after
 * 200 thermalising trajectories. */
static void pure_gauge_series(double beta, int L, int N, fg_gamma_result g[3])
{
  fg_theory *t = make_theory(L, L, beta, 0.0);
  fg_hmc *h = make_hmc(t, 1.0, 10, FG_INTEGRATOR_OMELYAN);
  double *phi = thermalised(h, t, 200);
  double *series = malloc(sizeof(double) * 3 * (size_t)N);
  fg_hmc_outcome o;
  for (int k = 0; k < N; ++k) {
    fg_hmc_trajectory(h, phi, 17, 0, 200 + k, &o);
    series[k] = fg_u1_mean_plaquette(fg_theory_lattice(t), phi, 1);
    double q = fg_u1_topological_charge(fg_theory_lattice(t), phi, 1);
    series[N + k] = q * q;
    series[2 * N + k] = q;
  }
  fg_error err = {0};
  for (int k = 0; k < 3; ++k)
    ck_assert_int_eq(fg_gamma_mean(series + (size_t)k * N, N, FG_GAMMA_S_DEFAULT, &g[k], &err),
                     FG_OK);
  free(series), free(phi);
  fg_hmc_destroy(h);
  fg_theory_destroy(t);
}

/* Periodic V-site U(1): Z = sum_n I_n(beta)^V, <cos p> = sum_n I_n^(V-1) I_n' / Z;
 * with the charge, Z(theta) = sum_n J_n(theta)^V and <Q^2> = -Z''(0)/Z(0). */
static void pure_gauge_exact(double beta, int V, double *plaq, double *q2)
{
  double z = 0, dz = 0, z0 = 0, z2 = 0;
  for (int n = -30; n <= 30; ++n) {
    double in = bessel_i(n, beta), dn = 0.5 * (bessel_i(n - 1, beta) + bessel_i(n + 1, beta));
    z += pow(in, V);
    dz += pow(in, V - 1) * dn;
    double j0 = moment(n, beta, 0), j2 = -moment(n, beta, 2);
    z0 += pow(j0, V);
    z2 += V * pow(j0, V - 1) * j2;
  }
  *plaq = dz / z;
  *q2 = -z2 / z0;
}

/* Seed/issue validation: 8x8 at beta = 2 and 4 against the exact finite-volume
 * results, within 4 sigma; and HMC's topological freezing: Q decorrelates
 * many times more slowly at beta = 4 than at beta = 2. */
START_TEST(pure_gauge_matches_exact_finite_volume_results)
{
  const double betas[2] = {2.0, 4.0};
  const int N[2] = {20000, 30000};
  fg_gamma_result g[2][3];
  for (int b = 0; b < 2; ++b) {
    double plaq_exact, q2_exact;
    pure_gauge_exact(betas[b], 64, &plaq_exact, &q2_exact);
    pure_gauge_series(betas[b], 8, N[b], g[b]);
    fprintf(stderr, "beta %g: plaq %g +- %g (exact %g), q2 %g +- %g (exact %g), tau_int(Q) %g\n",
            betas[b], g[b][0].value, g[b][0].err, plaq_exact, g[b][1].value, g[b][1].err,
            q2_exact, g[b][2].tau_int);
    ck_assert_msg(fabs(g[b][0].value - plaq_exact) < 4 * g[b][0].err,
                  "beta %g: plaq %g +- %g, exact %g", betas[b], g[b][0].value, g[b][0].err,
                  plaq_exact);
    ck_assert_msg(fabs(g[b][1].value - q2_exact) < 4 * g[b][1].err,
                  "beta %g: <Q^2> %g +- %g, exact %g", betas[b], g[b][1].value, g[b][1].err,
                  q2_exact);
    ck_assert(g[b][0].err < 0.002 && g[b][1].err < 0.1 * q2_exact); /* the test has power */
  }
  ck_assert_msg(g[1][2].tau_int > 5 * g[0][2].tau_int, "tau_int(Q): %g at beta 2, %g at beta 4",
                g[0][2].tau_int, g[1][2].tau_int);
}
END_TEST

/* Series of the plaquette, Q^2 and C(1) (primaries 0, 2, 4) over N trajectories
 * after 50 thermalising ones: out[k * N + i]. */
static void hmc_series(const fg_theory *t, int exact, int N, double *out)
{
  static const int pick[3] = {0, 2, 4};
  fg_hmc_params p = {.trajectory_length = 1.0, .md_steps = 8,
                     .integrator = FG_INTEGRATOR_OMELYAN, .exact_action = exact};
  fg_hmc *h;
  fg_theory_obs *o;
  fg_error err = {0};
  ck_assert_int_eq(fg_hmc_create(t, &p, &h, &err), FG_OK);
  ck_assert_int_eq(fg_theory_obs_create(t, &o, &err), FG_OK);
  ck_assert_int_le(fg_theory_nprimaries(t), 16);
  double *phi = calloc((size_t)fg_theory_ndof(t), sizeof(double));
  double prim[16];
  fg_hmc_outcome res;
  for (int k = 0; k < 50 + N; ++k) {
    fg_hmc_trajectory(h, phi, 23 + exact, 0, k, &res);
    if (k < 50)
      continue;
    fg_theory_obs_primaries(o, phi, 1, prim);
    for (int j = 0; j < 3; ++j)
      out[j * N + k - 50] = prim[pick[j]];
  }
  free(phi);
  fg_theory_obs_destroy(o);
  fg_hmc_destroy(h);
}

START_TEST(pseudofermion_hmc_agrees_with_exact_determinant_hmc)
{
  /* Two independent samplers of the same two-flavour distribution, at the
   * seed's most critical point: 8x8, beta = 2, kappa = 0.263. */
  static const char *const name[3] = {"plaq", "Q^2", "C(1)"};
  static const double power[3] = {0.02, 0.25, 0.05}; /* largest relative sigma allowed */
  fg_theory *t = make_theory(8, 8, 2.0, 0.263);
  enum { NPF = 2000, NEX = 700 };
  double *x = malloc(sizeof(double) * 3 * NPF), *y = malloc(sizeof(double) * 3 * NEX);
  hmc_series(t, 0, NPF, x);
  hmc_series(t, 1, NEX, y);
  fg_error err = {0};
  for (int k = 0; k < 3; ++k) {
    fg_gamma_result a, b;
    ck_assert_int_eq(fg_gamma_mean(x + k * NPF, NPF, FG_GAMMA_S_DEFAULT, &a, &err), FG_OK);
    ck_assert_int_eq(fg_gamma_mean(y + k * NEX, NEX, FG_GAMMA_S_DEFAULT, &b, &err), FG_OK);
    double diff = a.value - b.value, sigma = hypot(a.err, b.err);
    fprintf(stderr, "%s: pseudofermion %g +- %g, exact %g +- %g\n", name[k], a.value, a.err,
            b.value, b.err);
    ck_assert_msg(fabs(diff) < 4 * sigma, "%s: %g +- %g vs %g +- %g", name[k], a.value, a.err,
                  b.value, b.err);
    ck_assert_msg(sigma < power[k] * fabs(a.value), "%s: no power (sigma %g)", name[k], sigma);
  }
  free(x), free(y);
  fg_theory_destroy(t);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("schwinger");
  TCase *tc = tcase_create("theory");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, field_shape_and_observables_are_declared);
  tcase_add_test(tc, fermion_boundary_conditions_reach_the_action);
  tcase_add_test(tc, solver_settings_are_applied_and_counted);
  tcase_add_test(tc, exact_force_matches_finite_differences);
  tcase_add_test(tc, pseudofermion_force_matches_finite_differences);
  tcase_add_test(tc, md_is_reversible_with_pseudofermions);
  tcase_add_test(tc, dH_is_second_order_in_the_step);
  tcase_add_test(tc, exp_minus_dH_averages_to_one);
  tcase_add_test(tc, pure_gauge_matches_exact_finite_volume_results);
  tcase_add_test(tc, pseudofermion_hmc_agrees_with_exact_determinant_hmc);
  suite_add_tcase(s, tc);
  return fg_test_run(s);
}
