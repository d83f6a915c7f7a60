/* test_hmc.c -- HMC: MD reversibility, integrator order, <exp(-dH)> = 1, the free propagator, acceptance, bitwise restarts, and a trajectory's stream order (theory refresh, then one uniform). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flowgen/hmc.h"
#include "flowgen/rng.h"
#include "flowgen/theory.h"
#include "testutil.h"

static fg_theory *make_theory(int nd, int L, double m2, double lambda)
{
  fg_theory_config c = {.name = FG_THEORY_PHI4, .nd = nd, .m2 = m2, .lambda = lambda};
  for (int mu = 0; mu < nd; ++mu)
    c.extent[mu] = L;
  fg_theory *t;
  fg_error err;
  ck_assert_int_eq(fg_theory_create(&c, &t, &err), FG_OK);
  return t;
}

static fg_hmc *make_hmc(const fg_theory *t, double tau, int n, fg_integrator_kind integrator)
{
  fg_hmc_params p = {.trajectory_length = tau, .md_steps = n, .integrator = integrator};
  fg_hmc *h;
  fg_error err;
  ck_assert_int_eq(fg_hmc_create(t, &p, &h, &err), FG_OK);
  return h;
}

static double *alloc_field(const fg_theory *t)
{
  double *f = calloc((size_t)fg_theory_ndof(t), sizeof(double));
  ck_assert_ptr_nonnull(f);
  return f;
}

/* A field after ntraj default trajectories from zero: typical of the ensemble. */
static double *thermalised(const fg_theory *t, int ntraj, uint64_t seed)
{
  fg_hmc *h = make_hmc(t, 1.0, 10, FG_INTEGRATOR_LEAPFROG);
  double *phi = alloc_field(t);
  fg_hmc_outcome o;
  for (int k = 0; k < ntraj; ++k)
    fg_hmc_trajectory(h, phi, seed, 0, k, &o);
  fg_hmc_destroy(h);
  return phi;
}

static void test_momenta(const fg_theory *t, uint64_t draw, double *pi)
{
  fg_rng r;
  fg_rng_init(&r, 77, FG_RNG_TEST, draw, 0);
  fg_rng_normals(&r, pi, (size_t)fg_theory_ndof(t));
}

static double max_abs(const double *a, int n)
{
  double m = 0;
  for (int i = 0; i < n; ++i)
    m = fmax(m, fabs(a[i]));
  return m;
}

static void check_reversible(const fg_theory *t, fg_integrator_kind integrator)
{
  const int V = fg_theory_ndof(t);
  fg_hmc *h = make_hmc(t, 1.0, 10, integrator);
  double *phi0 = thermalised(t, 50, 5), *phi = alloc_field(t), *pi = alloc_field(t);
  test_momenta(t, 0, pi);
  memcpy(phi, phi0, sizeof(double) * V);
  double H0 = fg_hmc_hamiltonian(h, phi, pi);
  fg_hmc_md(h, phi, pi);
  double moved = 0;
  for (int i = 0; i < V; ++i)
    moved = fmax(moved, fabs(phi[i] - phi0[i]));
  ck_assert_msg(moved > 0.1, "the trajectory hardly moved the field (%g)", moved);
  for (int i = 0; i < V; ++i)
    pi[i] = -pi[i];
  fg_hmc_md(h, phi, pi);
  double dev = 0;
  for (int i = 0; i < V; ++i)
    dev = fmax(dev, fabs(phi[i] - phi0[i]));
  double H1 = fg_hmc_hamiltonian(h, phi, pi);
  ck_assert_msg(dev <= 1e-12 * max_abs(phi0, V), "field off by %g after reversal", dev);
  ck_assert_msg(fabs(H1 - H0) <= 1e-12 * fabs(H0), "H %.17g -> %.17g", H0, H1);
  free(phi0), free(phi), free(pi);
  fg_hmc_destroy(h);
}

START_TEST(md_is_reversible)
{
  fg_theory *t2 = make_theory(2, 8, -4.0, 2.0), *t3 = make_theory(3, 4, -1.0, 0.5);
  check_reversible(t2, FG_INTEGRATOR_LEAPFROG);
  check_reversible(t2, FG_INTEGRATOR_OMELYAN);
  check_reversible(t3, FG_INTEGRATOR_LEAPFROG);
  check_reversible(t3, FG_INTEGRATOR_OMELYAN);
  fg_theory_destroy(t2);
  fg_theory_destroy(t3);
}
END_TEST

/* rms of H(end) - H(start) over `draws` momenta from the same field. */
static double rms_dH(const fg_theory *t, const double *phi0, int n, fg_integrator_kind integ,
                     int draws)
{
  const int V = fg_theory_ndof(t);
  fg_hmc *h = make_hmc(t, 1.0, n, integ);
  double *phi = alloc_field(t), *pi = alloc_field(t), sum = 0;
  for (int d = 0; d < draws; ++d) {
    memcpy(phi, phi0, sizeof(double) * V);
    test_momenta(t, (uint64_t)d, pi);
    double H0 = fg_hmc_hamiltonian(h, phi, pi);
    fg_hmc_md(h, phi, pi);
    double dH = fg_hmc_hamiltonian(h, phi, pi) - H0;
    sum += dH * dH;
  }
  free(phi), free(pi);
  fg_hmc_destroy(h);
  return sqrt(sum / draws);
}

START_TEST(dH_is_second_order_in_the_step)
{
  fg_theory *t = make_theory(2, 8, -4.0, 2.0);
  double *phi0 = thermalised(t, 100, 9);
  const fg_integrator_kind kinds[2] = {FG_INTEGRATOR_LEAPFROG, FG_INTEGRATOR_OMELYAN};
  for (int k = 0; k < 2; ++k) {
    double r = rms_dH(t, phi0, 10, kinds[k], 8) / rms_dH(t, phi0, 20, kinds[k], 8);
    ck_assert_msg(r > 3.2 && r < 4.8, "%s: dH ratio %g under step halving",
                  fg_integrator_name(kinds[k]), r);
  }
  free(phi0);
  fg_theory_destroy(t);
}
END_TEST

START_TEST(omelyan_beats_leapfrog_at_equal_cost)
{
  enum { FIELDS = 8, SPACING = 25 };
  fg_theory *t = make_theory(2, 8, -4.0, 2.0);
  /* Leapfrog with 2n steps and Omelyan with n both cost 2n + 1 forces. */
  fg_hmc *lf = make_hmc(t, 1.0, 20, FG_INTEGRATOR_LEAPFROG);
  fg_hmc *om = make_hmc(t, 1.0, 10, FG_INTEGRATOR_OMELYAN);
  ck_assert_int_eq(fg_hmc_forces_per_trajectory(lf), fg_hmc_forces_per_trajectory(om));
  /* The ratio varies from field to field (1.2 to 5 seen): average dH^2
   * over fields spread along a chain. */
  double *phi = thermalised(t, 100, 9);
  double lf2 = 0, om2 = 0, r;
  fg_hmc_outcome o;
  for (int f = 0; f < FIELDS; ++f) {
    for (int k = 0; k < SPACING; ++k)
      fg_hmc_trajectory(lf, phi, 9, 1, f * SPACING + k, &o);
    r = rms_dH(t, phi, 20, FG_INTEGRATOR_LEAPFROG, 4);
    lf2 += r * r;
    r = rms_dH(t, phi, 10, FG_INTEGRATOR_OMELYAN, 4);
    om2 += r * r;
  }
  r = sqrt(lf2 / om2);
  /* Measured 2.6 here (2.3 over 29 fields of another chain). */
  ck_assert_msg(r > 1.4, "rms dH leapfrog(20) / omelyan(10) = %g", r);
  free(phi);
  fg_hmc_destroy(lf);
  fg_hmc_destroy(om);
  fg_theory_destroy(t);
}
END_TEST

START_TEST(exp_minus_dH_averages_to_one)
{
  enum { N = 1000, BIN = 10 };
  fg_theory *t = make_theory(2, 8, -4.0, 2.0);
  double *phi = thermalised(t, 200, 21);
  fg_hmc *h = make_hmc(t, 1.0, 10, FG_INTEGRATOR_LEAPFROG);
  fg_hmc_outcome o;
  double bins[N / BIN] = {0}, mean_dH = 0;
  for (int k = 0; k < N; ++k) {
    fg_hmc_trajectory(h, phi, 21, 0, 200 + k, &o);
    bins[k / BIN] += exp(-o.dH) / BIN;
    mean_dH += o.dH / N;
  }
  double m = 0, s2 = 0;
  for (int b = 0; b < N / BIN; ++b)
    m += bins[b] / (N / BIN);
  for (int b = 0; b < N / BIN; ++b)
    s2 += (bins[b] - m) * (bins[b] - m);
  double err = sqrt(s2 / ((N / BIN) * (N / BIN - 1.0)));
  ck_assert_msg(fabs(m - 1.0) < 4 * err, "<exp(-dH)> = %g +- %g", m, err);
  /* <dH> > 0 at this step size: the test is not passing on dH = 0. */
  ck_assert_msg(mean_dH > 0.001 && err > 1e-4, "<dH> = %g, err %g", mean_dH, err);
  free(phi);
  fg_hmc_destroy(h);
  fg_theory_destroy(t);
}
END_TEST

/* The exact <phi(x)^2> of the free field: (1/V) sum_k 1/(m2 + sum_mu 4 sin^2(k_mu/2)). */
static double free_phi2(int L, double m2)
{
  double s = 0;
  for (int a = 0; a < L; ++a)
    for (int b = 0; b < L; ++b) {
      double sa = sin(M_PI * a / L), sb = sin(M_PI * b / L);
      s += 1.0 / (m2 + 4 * sa * sa + 4 * sb * sb);
    }
  return s / (L * L);
}

static void check_free_phi2(fg_integrator_kind integrator, uint64_t seed)
{
  enum { THERM = 200, N = 12800, BIN = 64, NB = N / BIN };
  fg_theory *t = make_theory(2, 8, 0.5, 0.0);
  const int V = fg_theory_ndof(t);
  fg_hmc *h = make_hmc(t, 1.0, 10, integrator);
  double *phi = alloc_field(t), bins[NB] = {0};
  fg_hmc_outcome o;
  for (int k = 0; k < THERM + N; ++k) {
    fg_hmc_trajectory(h, phi, seed, 0, k, &o);
    if (k < THERM)
      continue;
    double p2 = 0;
    for (int x = 0; x < V; ++x)
      p2 += phi[x] * phi[x];
    bins[(k - THERM) / BIN] += p2 / V / BIN;
  }
  double m = 0, s2 = 0;
  for (int b = 0; b < NB; ++b)
    m += bins[b] / NB;
  for (int b = 0; b < NB; ++b)
    s2 += (bins[b] - m) * (bins[b] - m);
  double err = sqrt(s2 / (NB * (NB - 1.0))), exact = free_phi2(8, 0.5);
  ck_assert_msg(fabs(m - exact) < 4 * err && err < 0.01 * exact, "%s: phi2 = %g +- %g, exact %g",
                fg_integrator_name(integrator), m, err, exact);
  free(phi);
  fg_hmc_destroy(h);
  fg_theory_destroy(t);
}

START_TEST(free_field_phi2_matches_propagator)
{
  check_free_phi2(FG_INTEGRATOR_LEAPFROG, 3);
  check_free_phi2(FG_INTEGRATOR_OMELYAN, 4);
}
END_TEST

START_TEST(acceptance_and_rejection_on_tutorial_point)
{
  enum { N = 500 };
  fg_theory *t = make_theory(2, 8, -4.0, 2.0);
  const int V = fg_theory_ndof(t);
  double *phi = thermalised(t, 100, 31), *before = alloc_field(t);
  fg_hmc *h = make_hmc(t, 1.0, 10, FG_INTEGRATOR_LEAPFROG);
  fg_hmc_outcome o;
  int accepted = 0, rejected_checked = 0;
  for (int k = 0; k < N; ++k) {
    memcpy(before, phi, sizeof(double) * V);
    fg_hmc_trajectory(h, phi, 31, 0, 100 + k, &o);
    ck_assert_int_eq(o.force_evals, 11);
    double S;
    fg_theory_action(t, phi, 1, &S);
    ck_assert(S == o.action);
    ck_assert_int_eq(memcmp(before, phi, sizeof(double) * V) == 0, !o.accepted);
    accepted += o.accepted;
    rejected_checked += !o.accepted;
  }
  double acc = (double)accepted / N;
  /* Measured 0.93; rms dH ~ 0.14 at eps = 0.1. */
  ck_assert_msg(acc > 0.8 && acc < 0.99, "acceptance %g", acc);
  ck_assert_int_gt(rejected_checked, 0);
  ck_assert_int_eq(fg_hmc_force_evaluations(h), 11 * N);
  free(phi), free(before);
  fg_hmc_destroy(h);
  fg_theory_destroy(t);
}
END_TEST

START_TEST(blown_up_trajectory_is_rejected)
{
  fg_theory *t = make_theory(2, 8, -4.0, 2.0);
  const int V = fg_theory_ndof(t);
  double *phi = thermalised(t, 20, 41), *before = alloc_field(t);
  memcpy(before, phi, sizeof(double) * V);
  /* eps = 5 on a quartic potential: the field grows like a power tower and
   * overflows to inf/NaN within 8 steps. */
  fg_hmc *h = make_hmc(t, 40.0, 8, FG_INTEGRATOR_LEAPFROG);
  fg_hmc_outcome o;
  fg_hmc_trajectory(h, phi, 41, 0, 0, &o);
  ck_assert(!isfinite(o.dH));
  ck_assert_int_eq(o.accepted, 0);
  ck_assert_int_eq(memcmp(before, phi, sizeof(double) * V), 0);
  ck_assert(o.action == o.action_old && isfinite(o.action));
  free(phi), free(before);
  fg_hmc_destroy(h);
  fg_theory_destroy(t);
}
END_TEST

/* Runs trajectories [from, to) of stream (seed, stream_id), recording dH. */
static void run_chain(fg_hmc *h, double *phi, uint32_t stream_id, int from, int to, double *dH)
{
  fg_hmc_outcome o;
  for (int k = from; k < to; ++k) {
    fg_hmc_trajectory(h, phi, 1234, stream_id, k, &o);
    dH[k] = o.dH;
  }
}

START_TEST(restart_reproduces_the_chain_bitwise)
{
  enum { K = 25, N = 60 };
  fg_theory *t = make_theory(2, 8, -4.0, 2.0);
  const int V = fg_theory_ndof(t);
  fg_hmc *h = make_hmc(t, 1.0, 10, FG_INTEGRATOR_OMELYAN);
  double *a = alloc_field(t), *b = alloc_field(t), *c = alloc_field(t);
  double dHa[N], dHb[N], dHc[N];
  run_chain(h, a, 0, 0, N, dHa);
  /* The interrupted run: its checkpoint is the field after K trajectories. */
  run_chain(h, b, 0, 0, K, dHb);
  fg_hmc_destroy(h);
  h = make_hmc(t, 1.0, 10, FG_INTEGRATOR_OMELYAN); /* a fresh process */
  run_chain(h, b, 0, K, N, dHb);
  ck_assert_int_eq(memcmp(a, b, sizeof(double) * V), 0);
  ck_assert_int_eq(memcmp(dHa, dHb, sizeof dHa), 0);
  /* Another stream id is another chain. */
  run_chain(h, c, 1, 0, N, dHc);
  ck_assert_int_ne(memcmp(a, c, sizeof(double) * V), 0);
  free(a), free(b), free(c);
  fg_hmc_destroy(h);
  fg_theory_destroy(t);
}
END_TEST

START_TEST(bad_parameters_are_input_errors)
{
  fg_theory *t = make_theory(2, 4, 1.0, 0.0);
  fg_hmc_params good = {.trajectory_length = 1.0, .md_steps = 4,
                        .integrator = FG_INTEGRATOR_OMELYAN};
  fg_hmc_params bad[4] = {good, good, good, good};
  bad[0].trajectory_length = 0.0;
  bad[1].trajectory_length = NAN;
  bad[2].md_steps = 0;
  bad[3].integrator = (fg_integrator_kind)7;
  fg_hmc *h;
  fg_error err;
  for (int i = 0; i < 4; ++i) {
    ck_assert_int_eq(fg_hmc_create(t, &bad[i], &h, &err), FG_ERR_INPUT);
    ck_assert_ptr_null(h);
    ck_assert_ptr_nonnull(strstr(err.msg, "[hmc.c]"));
  }
  fg_hmc_config cfg = {.trajectory_length = 0.5, .md_steps = 7,
                       .integrator = FG_INTEGRATOR_OMELYAN};
  fg_hmc_params p;
  fg_hmc_params_from_config(&cfg, &p);
  ck_assert_int_eq(fg_hmc_create(t, &p, &h, &err), FG_OK);
  ck_assert_int_eq(fg_hmc_forces_per_trajectory(h), 15);
  fg_hmc_destroy(h);
  double rate = 0;
  ck_assert_int_eq(fg_hmc_force_rate(t, 1e-3, &rate, &err), FG_OK);
  ck_assert(rate > 0 && isfinite(rate));
  fg_theory_destroy(t);
}
END_TEST

/* phi^4's trajectory, rebuilt by hand from its stated stream: ndof normals
 * (the momenta), then one uniform for log u < -dH; field and outcome must
 * equal fg_hmc_trajectory's bit for bit. */
START_TEST(trajectory_follows_the_stated_stream)
{
  fg_theory *t = make_theory(2, 6, -1.0, 0.8);
  ck_assert_uint_eq(fg_theory_hmc_aux_size(t), 0);
  const int n = fg_theory_ndof(t);
  fg_hmc *h = make_hmc(t, 1.0, 8, FG_INTEGRATOR_OMELYAN);
  double *phi = thermalised(t, 30, 9), *mine = alloc_field(t), *pi = alloc_field(t);
  int accepted = 0, rejected = 0;
  for (int traj = 100; traj < 140; ++traj) {
    memcpy(mine, phi, sizeof(double) * (size_t)n);
    fg_rng r;
    fg_rng_init(&r, 31, FG_RNG_HMC, (uint64_t)traj, 2);
    fg_rng_normals(&r, pi, (size_t)n);
    const double u = fg_rng_uniform(&r);
    const double H0 = fg_hmc_hamiltonian(h, mine, pi);
    fg_hmc_md(h, mine, pi);
    const double dH = fg_hmc_hamiltonian(h, mine, pi) - H0;
    const int accept = log(u) < -dH;
    fg_hmc_outcome o;
    double *before = alloc_field(t);
    memcpy(before, phi, sizeof(double) * (size_t)n);
    fg_hmc_trajectory(h, phi, 31, 2, traj, &o);
    ck_assert_int_eq(o.accepted, accept);
    ck_assert(memcmp(phi, accept ? mine : before, sizeof(double) * (size_t)n) == 0);
    ck_assert_double_eq_tol(o.dH, dH, 1e-9 * (1 + fabs(dH)));
    accepted += accept;
    rejected += !accept;
    free(before);
  }
  ck_assert(accepted > 0);
  free(phi), free(mine), free(pi);
  fg_hmc_destroy(h);
  fg_theory_destroy(t);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("hmc");
  TCase *md = tcase_create("md");
  tcase_add_test(md, md_is_reversible);
  tcase_add_test(md, dH_is_second_order_in_the_step);
  tcase_add_test(md, omelyan_beats_leapfrog_at_equal_cost);
  suite_add_tcase(s, md);
  TCase *mc = tcase_create("markov");
  tcase_add_test(mc, exp_minus_dH_averages_to_one);
  tcase_add_test(mc, free_field_phi2_matches_propagator);
  tcase_add_test(mc, acceptance_and_rejection_on_tutorial_point);
  tcase_add_test(mc, blown_up_trajectory_is_rejected);
  tcase_add_test(mc, restart_reproduces_the_chain_bitwise);
  tcase_add_test(mc, trajectory_follows_the_stated_stream);
  tcase_add_test(mc, bad_parameters_are_input_errors);
  suite_add_tcase(s, mc);
  return fg_test_run(s);
}
