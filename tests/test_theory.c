/* test_theory.c -- every implemented theory honours theory.h: force = finite differences of its action, lanes agree, angles wrap into (-pi, pi], declared observables are well formed and measurable, HMC hooks follow their stated stream. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flowgen/analysis.h"
#include "flowgen/flow.h"
#include "flowgen/theory.h"
#include "testutil.h"

/* One config section per theory kind, on a non-square lattice so that a
 * mixed-up direction shows. Kinds this build does not implement are skipped. */
static fg_theory_config section(int kind)
{
  fg_theory_config c = {.name = (fg_theory_kind)kind, .nd = 2, .extent = {4, 6},
                        .m2 = -1.0, .lambda = 0.8, .beta = 2.0, .kappa = 0.2};
  return c;
}

static fg_theory *build(int kind)
{
  fg_theory_config c = section(kind);
  fg_theory *t = NULL;
  fg_error err = {0};
  int rc = fg_theory_create(&c, &t, &err);
  if (rc == FG_ERR_INPUT && strstr(err.msg, "not implemented") != NULL)
    return NULL;
  ck_assert_msg(rc == FG_OK, "%s: %s", fg_theory_name(c.name), err.msg);
  return t;
}

/* A field of O(1) values, inside (-pi, pi] for angle components. */
static double *random_field(const fg_theory *t, int lanes, uint64_t seed)
{
  const size_t n = (size_t)fg_theory_ndof(t) * (size_t)lanes;
  double *phi = malloc(sizeof(double) * n);
  ck_assert_ptr_nonnull(phi);
  fg_rng r;
  fg_rng_init(&r, seed, FG_RNG_TEST, 0, 0);
  for (size_t i = 0; i < n; ++i)
    phi[i] = 0.9 * (2.0 * fg_rng_uniform(&r) - 1.0);
  return phi;
}

static const int NKINDS = 2;

START_TEST(description_is_consistent)
{
  fg_theory *t = build(_i);
  if (t == NULL)
    return;
  const fg_lattice *lat = fg_theory_lattice(t);
  ck_assert_int_eq(lat->volume, 24);
  ck_assert_int_ge(fg_theory_components(t), 1);
  ck_assert_int_le(fg_theory_components(t), FG_MAX_COMPONENTS);
  ck_assert_int_eq(fg_theory_ndof(t), fg_theory_components(t) * lat->volume);
  ck_assert_str_eq(fg_theory_label(t), fg_theory_name((fg_theory_kind)_i));
  fg_coupling c[FG_MAX_COUPLINGS];
  int nc = fg_theory_named_couplings(t, c);
  ck_assert_int_ge(nc, 1);
  for (int k = 0; k < nc; ++k)
    ck_assert(c[k].name != NULL && c[k].name[0] != '\0');
  ck_assert(fg_theory_allows_layer(t, "affine_coupling") == 0 ||
            fg_theory_allows_layer(t, "affine_coupling") == 1);
  ck_assert(!fg_theory_allows_layer(t, "no_such_layer"));
  /* a model of the theory's default base with couplings is accepted when it
   * lists both; a layer it does not list is refused by name */
  fg_model_config m = {.base = fg_theory_default_base(t), .coupling_layers = 2,
                       .kernel_size = 3, .n_hidden = 0};
  fg_error err = {0};
  int ok = fg_theory_allows_layer(t, m.base == FG_BASE_HAAR ? "gauge_coupling" : "affine_coupling");
  ck_assert_int_eq(fg_flow_check_theory(&m, t, &err), ok ? FG_OK : FG_ERR_INPUT);
  m.base = FG_BASE_FREE_FIELD;
  m.coupling_layers = 0; /* the free-field layer alone, so the message is about it */
  if (!fg_theory_allows_layer(t, "free_field")) {
    ck_assert_int_eq(fg_flow_check_theory(&m, t, &err), FG_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "free_field"));
  }
  ck_assert_ptr_nonnull(fg_theory_hmc_stream(t));
  fg_theory_destroy(t);
}
END_TEST

START_TEST(force_matches_finite_differences_of_action)
{
  fg_theory *t = build(_i);
  if (t == NULL)
    return;
  const int n = fg_theory_ndof(t);
  double *phi = random_field(t, 1, 11), *f = malloc(sizeof(double) * (size_t)n);
  ck_assert_ptr_nonnull(f);
  fg_theory_force(t, phi, 1, f);
  const double h = 1e-5;
  for (int i = 0; i < n; ++i) {
    double keep = phi[i], sp, sm;
    phi[i] = keep + h;
    fg_theory_action(t, phi, 1, &sp);
    phi[i] = keep - h;
    fg_theory_action(t, phi, 1, &sm);
    phi[i] = keep;
    double fd = (sp - sm) / (2 * h);
    ck_assert_msg(fabs(f[i] - fd) < 1e-6 * (1 + fabs(fd)), "%s dof %d: force %.12g, fd %.12g",
                  fg_theory_label(t), i, f[i], fd);
  }
  free(phi), free(f);
  fg_theory_destroy(t);
}
END_TEST

START_TEST(lanes_agree_with_single_configurations)
{
  fg_theory *t = build(_i);
  if (t == NULL)
    return;
  enum { LANES = 5 };
  const size_t n = (size_t)fg_theory_ndof(t);
  double *blk = random_field(t, LANES, 12), *one = malloc(sizeof(double) * n);
  double *fblk = malloc(sizeof(double) * n * LANES), *fone = malloc(sizeof(double) * n);
  ck_assert(one && fblk && fone);
  double S[LANES], s1;
  fg_theory_action(t, blk, LANES, S);
  fg_theory_force(t, blk, LANES, fblk);
  for (int l = 0; l < LANES; ++l) {
    for (size_t i = 0; i < n; ++i)
      one[i] = blk[i * LANES + l];
    fg_theory_action(t, one, 1, &s1);
    fg_theory_force(t, one, 1, fone);
    ck_assert_double_eq_tol(S[l], s1, 1e-12 * (1 + fabs(s1)));
    for (size_t i = 0; i < n; ++i)
      ck_assert_double_eq_tol(fblk[i * LANES + l], fone[i], 1e-12 * (1 + fabs(fone[i])));
  }
  free(blk), free(one), free(fblk), free(fone);
  fg_theory_destroy(t);
}
END_TEST

START_TEST(angles_wrap_and_reals_do_not)
{
  fg_theory *t = build(_i);
  if (t == NULL)
    return;
  enum { LANES = 3 };
  const size_t plane = (size_t)fg_theory_lattice(t)->volume * LANES;
  const size_t n = (size_t)fg_theory_ndof(t) * LANES;
  double *phi = malloc(sizeof(double) * n), *before = malloc(sizeof(double) * n);
  ck_assert(phi && before);
  for (size_t i = 0; i < n; ++i)
    phi[i] = before[i] = 7.3 * sin(1.7 * (double)i) + (i % 5 == 0 ? -M_PI : 0.0);
  phi[0] = before[0] = -M_PI;
  phi[1] = before[1] = 3 * M_PI;
  fg_theory_wrap(t, phi, LANES);
  int angles = 0;
  for (int c = 0; c < fg_theory_components(t); ++c) {
    int angle = fg_theory_component_kind(t, c) == FG_COMPONENT_ANGLE;
    angles |= angle;
    for (size_t i = c * plane; i < (c + 1) * plane; ++i) {
      if (!angle) {
        ck_assert(memcmp(&phi[i], &before[i], sizeof(double)) == 0);
        continue;
      }
      ck_assert_msg(phi[i] > -M_PI && phi[i] <= M_PI, "%.17g -> %.17g", before[i], phi[i]);
      double k = (before[i] - phi[i]) / (2 * M_PI);
      ck_assert_double_eq_tol(k, round(k), 1e-9);
    }
  }
  ck_assert_int_eq(angles, fg_theory_has_angles(t));
  free(phi), free(before);
  fg_theory_destroy(t);
}
END_TEST

START_TEST(declared_observables_are_well_formed_and_measurable)
{
  fg_theory *t = build(_i);
  if (t == NULL)
    return;
  const fg_observable *obs;
  const int nobs = fg_theory_observables(t, &obs), nprim = fg_theory_nprimaries(t);
  ck_assert_int_ge(nobs, 1);
  ck_assert_int_le(nobs, FG_MAX_OBSERVABLES);
  ck_assert_int_ge(nprim, 1);
  for (int k = 0; k < nobs; ++k) {
    ck_assert(obs[k].name != NULL && obs[k].name[0] != '\0');
    for (int j = 0; j < k; ++j)
      ck_assert_str_ne(obs[k].name, obs[j].name);
    if (obs[k].primary >= 0)
      ck_assert_int_lt(obs[k].primary, nprim);
    else
      ck_assert_ptr_nonnull(obs[k].derived);
  }
  /* A short series of random configurations: every result finite and named. */
  enum { N = 40 };
  const size_t ndof = (size_t)fg_theory_ndof(t);
  double *configs = random_field(t, N, 13); /* N rows of ndof values */
  double *table = malloc(sizeof(double) * N * (size_t)nprim);
  double *series = malloc(sizeof(double) * N * (size_t)nprim);
  fg_obs_result *res = malloc(sizeof(fg_obs_result) * (size_t)nobs);
  ck_assert(table && series && res);
  /* a strongly ordered field in every row, so derived ratios stay away from 0/0 */
  for (size_t r = 0; r < N; ++r)
    for (size_t i = 0; i < ndof; ++i)
      configs[r * ndof + i] = 0.5 + 0.3 * configs[r * ndof + i];
  fg_error err = {0};
  ck_assert_msg(fg_measure_primaries(t, configs, N, table, &err) == FG_OK, "%s", err.msg);
  for (size_t i = 0; i < N * (size_t)nprim; ++i)
    ck_assert(isfinite(table[i]));
  ck_assert_int_eq(fg_chain_series(table, N, (size_t)nprim, NULL, N, series, &err), FG_OK);
  ck_assert_msg(fg_analyze_observables(t, series, N, 1.5, res, &err) == FG_OK, "%s", err.msg);
  for (int k = 0; k < nobs; ++k) {
    ck_assert_str_eq(res[k].name, obs[k].name);
    ck_assert_msg(isfinite(res[k].mean), "%s = %g", res[k].name, res[k].mean);
  }
  /* stride: lane 2 of a block gives row 2's primaries */
  enum { LANES = 4 };
  double *blk = malloc(sizeof(double) * ndof * LANES), *prim = malloc(sizeof(double) * nprim);
  ck_assert(blk && prim);
  for (size_t i = 0; i < ndof; ++i)
    for (int l = 0; l < LANES; ++l)
      blk[i * LANES + l] = configs[(size_t)l * ndof + i];
  fg_theory_obs *o;
  ck_assert_int_eq(fg_theory_obs_create(t, &o, &err), FG_OK);
  fg_theory_obs_primaries(o, blk + 2, LANES, prim);
  for (int i = 0; i < nprim; ++i)
    ck_assert_double_eq_tol(prim[i], table[2 * (size_t)nprim + i], 1e-12 * (1 + fabs(prim[i])));
  fg_theory_obs_destroy(o);
  free(configs), free(table), free(series), free(res), free(blk), free(prim);
  fg_theory_destroy(t);
}
END_TEST

/* The refresh is a function of the stream alone, and a theory without aux
 * fields states and draws "ndof normals" (then HMC's one uniform), which
 * keeps phi^4's HMC bit for bit; its MD action and force are the plain ones. */
START_TEST(hmc_hooks_follow_their_stream)
{
  fg_theory *t = build(_i);
  if (t == NULL)
    return;
  const size_t n = (size_t)fg_theory_ndof(t), naux = fg_theory_hmc_aux_size(t);
  double *phi = random_field(t, 1, 14);
  double *m1 = malloc(sizeof(double) * n), *m2 = malloc(sizeof(double) * n);
  double *a1 = malloc(sizeof(double) * (naux + 1)), *a2 = malloc(sizeof(double) * (naux + 1));
  ck_assert(m1 && m2 && a1 && a2);
  fg_rng r1, r2;
  fg_rng_init(&r1, 99, FG_RNG_HMC, 5, 1);
  fg_rng_init(&r2, 99, FG_RNG_HMC, 5, 1);
  fg_theory_hmc_refresh(t, phi, &r1, m1, a1);
  fg_theory_hmc_refresh(t, phi, &r2, m2, a2);
  ck_assert(memcmp(m1, m2, sizeof(double) * n) == 0);
  ck_assert(naux == 0 || memcmp(a1, a2, sizeof(double) * naux) == 0);
  ck_assert(fg_rng_uniform(&r1) == fg_rng_uniform(&r2));
  if (naux == 0) {
    ck_assert(strncmp(fg_theory_hmc_stream(t), "ndof normals", 12) == 0);
    fg_rng_init(&r2, 99, FG_RNG_HMC, 5, 1);
    fg_rng_normals(&r2, m2, n);
    ck_assert(memcmp(m1, m2, sizeof(double) * n) == 0);
    fg_rng_init(&r1, 99, FG_RNG_HMC, 5, 1);
    fg_theory_hmc_refresh(t, phi, &r1, m1, a1);
    ck_assert(fg_rng_uniform(&r1) == fg_rng_uniform(&r2));
    double s1, s2;
    fg_theory_action(t, phi, 1, &s1);
    fg_theory_hmc_action(t, phi, a1, &s2);
    ck_assert(s1 == s2);
    fg_theory_force(t, phi, 1, m1);
    fg_theory_hmc_force(t, phi, a1, m2);
    ck_assert(memcmp(m1, m2, sizeof(double) * n) == 0);
  }
  free(phi), free(m1), free(m2), free(a1), free(a2);
  fg_theory_destroy(t);
}
END_TEST

START_TEST(file_theory_defaults_and_checks_the_lattice)
{
  const int ext[2] = {4, 6};
  fg_theory *t;
  fg_error err = {0};
  ck_assert_int_eq(fg_theory_of_file(NULL, 2, ext, &t, &err), FG_OK);
  ck_assert_int_eq(fg_theory_lattice(t)->volume, 24);
  fg_theory_destroy(t);
  ck_assert_int_eq(fg_theory_of_file("not: [a, config", 2, ext, &t, &err), FG_OK);
  fg_theory_destroy(t);
  const char *text = "seed: 1\ntheory: {name: phi4, lattice: [4, 6], m2: -1.5, lambda: 0.25}\n"
                     "model: {coupling_layers: 2, kernel_size: 3, hidden_channels: [4]}\n";
  ck_assert_msg(fg_theory_of_file(text, 2, ext, &t, &err) == FG_OK, "%s", err.msg);
  fg_coupling c[FG_MAX_COUPLINGS];
  ck_assert_int_eq(fg_theory_named_couplings(t, c), 2);
  ck_assert(c[0].value == -1.5 && c[1].value == 0.25);
  fg_theory_destroy(t);
  const int other[2] = {6, 4};
  ck_assert_int_eq(fg_theory_of_file(text, 2, other, &t, &err), FG_ERR_INPUT);
  ck_assert_ptr_null(t);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("theory");
  TCase *tc = tcase_create("interface");
  tcase_add_loop_test(tc, description_is_consistent, 0, NKINDS);
  tcase_add_loop_test(tc, force_matches_finite_differences_of_action, 0, NKINDS);
  tcase_add_loop_test(tc, lanes_agree_with_single_configurations, 0, NKINDS);
  tcase_add_loop_test(tc, angles_wrap_and_reals_do_not, 0, NKINDS);
  tcase_add_loop_test(tc, declared_observables_are_well_formed_and_measurable, 0, NKINDS);
  tcase_add_loop_test(tc, hmc_hooks_follow_their_stream, 0, NKINDS);
  tcase_add_test(tc, file_theory_defaults_and_checks_the_lattice);
  suite_add_tcase(s, tc);
  return fg_test_run(s);
}
