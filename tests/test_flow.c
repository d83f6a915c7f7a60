/* test_flow.c -- the flow inverts, its log q agrees both ways and with a double-precision reference, its log det, parameter gradients, score and grad_phi log q (normal and free-field base) match finite differences; the layer types' declared parameter layout gives the flat order, the checkpoint groups, the initialisation and the FLOP count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "flowgen/checkpoint.h"
#include "flowgen/flow.h"
#include "flowgen/nn.h"
#include "flowgen/model.h"
#include "flowgen/rng.h"
#include "flowgen/theory.h"
#include "../src/util/simd.h"
#include "testutil.h"

enum { L = FG_VLEN };

void dgetrf_(const int *m, const int *n, double *a, const int *lda, int *ipiv, int *info);

typedef struct {
  fg_theory *th;
  fg_flow *flow;
  fg_model_block blk;
} setup;

static void make(setup *s, int L0, int L1, int layers, int k, int nh, const int *hidden,
                 uint64_t seed)
{
  fg_theory_config tc = {.name = FG_THEORY_PHI4, .nd = 2, .extent = {L0, L1}, .m2 = -1.0,
                         .lambda = 0.5};
  fg_model_config mc = {.base = FG_BASE_NORMAL, .coupling_layers = layers, .kernel_size = k,
                        .n_hidden = nh, .activation = FG_ACT_LEAKY_RELU,
                        .init_scheme = FG_INIT_KAIMING, .init_scale = 1.0};
  for (int i = 0; i < nh; ++i)
    mc.hidden_channels[i] = hidden[i];
  fg_error err;
  ck_assert_int_eq(fg_theory_create(&tc, &s->th, &err), FG_OK);
  ck_assert_int_eq(fg_flow_create(&mc, fg_theory_lattice(s->th), &s->flow, &err), FG_OK);
  ck_assert_int_eq(fg_model_block_init(&s->blk, s->flow, &err), FG_OK);
  fg_flow_init_params(s->flow, seed);
}

static void unmake(setup *s)
{
  fg_model_block_free(&s->blk);
  fg_flow_destroy(s->flow);
  fg_theory_destroy(s->th);
}

START_TEST(inverse_undoes_forward_and_logq_agrees)
{
  setup s;
  int hidden[2] = {8, 8};
  make(&s, 8, 8, 6, 3, 2, hidden, 17);
  fg_test_scale_params(s.flow, 2.0f);
  int V = 64;
  double *z = malloc(sizeof(double) * V * L), *phi = malloc(sizeof(double) * V * L),
         *z2 = malloc(sizeof(double) * V * L);
  double logq[L], logq2[L];
  fg_flow_draw(s.flow, 5, FG_RNG_TEST, 0, L, z);
  fg_flow_forward(s.flow, s.blk.work, z, phi, logq, 0);
  fg_flow_inverse(s.flow, s.blk.work, phi, z2, logq2);
  double moved = 0;
  for (int i = 0; i < V * L; ++i) {
    ck_assert_double_eq_tol(z2[i], z[i], 1e-10 * (1 + fabs(z[i])));
    moved += fabs(phi[i] - z[i]);
  }
  ck_assert_double_gt(moved / (V * L), 1e-2); /* the flow is not the identity */
  for (int l = 0; l < L; ++l)
    ck_assert_double_eq_tol(logq2[l], logq[l], 1e-10 * fabs(logq[l]));
  free(z), free(phi), free(z2);
  unmake(&s);
}
END_TEST

START_TEST(zero_parameters_give_the_identity)
{
  setup s;
  int hidden[1] = {4};
  make(&s, 4, 6, 3, 3, 1, hidden, 3);
  size_t n = fg_flow_nparams(s.flow);
  float *zero = calloc(n, sizeof(float));
  fg_flow_set_params(s.flow, zero);
  int V = 24;
  double *z = malloc(sizeof(double) * V * L), *phi = malloc(sizeof(double) * V * L);
  double logq[L];
  fg_flow_draw(s.flow, 1, FG_RNG_TEST, 0, L, z);
  fg_flow_forward(s.flow, s.blk.work, z, phi, logq, 0);
  for (int l = 0; l < L; ++l) {
    double lr = -0.5 * V * log(2 * M_PI);
    for (int y = 0; y < V; ++y) {
      ck_assert_double_eq(phi[y * L + l], z[y * L + l]);
      lr -= 0.5 * z[y * L + l] * z[y * L + l];
    }
    ck_assert_double_eq_tol(logq[l], lr, 1e-12 * fabs(lr));
  }
  free(zero), free(z), free(phi);
  unmake(&s);
}
END_TEST

/* ---- double-precision reference flow, straight from SPEC section 5 ---- */

static double ref_act(double x, int last) { return last ? tanh(x) : (x > 0 ? x : 0.01 * x); }

/* One sample (lane) through the whole flow; returns log q. */
static double ref_flow(const fg_model_config *m, int L0, int L1, const float *params, double *phi)
{
  int V = L0 * L1, K = m->kernel_size, p = K / 2;
  double logdet = 0, logr = -0.5 * V * log(2 * M_PI);
  for (int x = 0; x < V; ++x)
    logr -= 0.5 * phi[x] * phi[x];
  double *a = malloc(sizeof(double) * 64 * V), *b = malloc(sizeof(double) * 64 * V);
  const float *w = params;
  for (int i = 0; i < m->coupling_layers; ++i) {
    for (int x = 0; x < V; ++x)
      a[x] = ((x / L1 + x % L1 + i) & 1) ? phi[x] : 0.0; /* frozen sites kept */
    int cin = 1;
    for (int c = 0; c <= m->n_hidden; ++c) {
      int cout = c < m->n_hidden ? m->hidden_channels[c] : 2;
      const float *bias = w + cout * cin * K * K;
      for (int o = 0; o < cout; ++o)
        for (int y0 = 0; y0 < L0; ++y0)
          for (int y1 = 0; y1 < L1; ++y1) {
            double acc = bias[o];
            for (int j = 0; j < cin; ++j)
              for (int k0 = 0; k0 < K; ++k0)
                for (int k1 = 0; k1 < K; ++k1) {
                  int x0 = (y0 + k0 - p + L0) % L0, x1 = (y1 + k1 - p + L1) % L1;
                  acc += w[((o * cin + j) * K + k0) * K + k1] * a[j * V + x0 * L1 + x1];
                }
            b[o * V + y0 * L1 + y1] = ref_act(acc, c == m->n_hidden);
          }
      w = bias + cout;
      cin = cout;
      double *tmp = a;
      a = b;
      b = tmp;
    }
    for (int x = 0; x < V; ++x)
      if (!((x / L1 + x % L1 + i) & 1)) {
        phi[x] = exp(a[x]) * phi[x] + a[V + x];
        logdet += a[x];
      }
  }
  free(a), free(b);
  return logr - logdet;
}

START_TEST(logq_matches_double_reference)
{
  setup s;
  int hidden[2] = {8, 8};
  make(&s, 8, 6, 8, 3, 2, hidden, 23);
  fg_test_scale_params(s.flow, 1.5f);
  fg_model_config mc = {.coupling_layers = 8, .kernel_size = 3, .n_hidden = 2,
                        .hidden_channels = {8, 8}};
  int V = 48;
  double *z = malloc(sizeof(double) * V * L), *phi = malloc(sizeof(double) * V * L);
  double one[48], logq[L];
  fg_flow_draw(s.flow, 9, FG_RNG_TEST, 0, L, z);
  fg_flow_forward(s.flow, s.blk.work, z, phi, logq, 0);
  for (int l = 0; l < L; ++l) {
    for (int x = 0; x < V; ++x)
      one[x] = z[x * L + l];
    double ref = ref_flow(&mc, 8, 6, fg_flow_params(s.flow), one);
    ck_assert_double_eq_tol(logq[l], ref, 1e-4 * fabs(ref));
    for (int x = 0; x < V; ++x)
      ck_assert_double_eq_tol(phi[x * L + l], one[x], 1e-4 * (1 + fabs(one[x])));
  }
  free(z), free(phi);
  unmake(&s);
}
END_TEST

START_TEST(logdet_matches_lapack_determinant)
{
  /* log q(phi) = log r(z) - log|det dphi/dz|: compare with LU of a finite-difference Jacobian. */
  setup s;
  int hidden[1] = {6};
  make(&s, 4, 4, 4, 3, 1, hidden, 31);
  fg_test_scale_params(s.flow, 2.0f);
  enum { V = 16 };
  double z[V * L], zp[V * L], phip[V * L], phim[V * L], phi[V * L], logq[L], tmp[L];
  fg_flow_draw(s.flow, 2, FG_RNG_TEST, 0, L, z);
  fg_flow_forward(s.flow, s.blk.work, z, phi, logq, 0);
  const double h = 1e-3;
  double *jac = malloc(sizeof(double) * V * V * L);
  for (int j = 0; j < V; ++j) {
    memcpy(zp, z, sizeof z);
    for (int l = 0; l < L; ++l)
      zp[j * L + l] += h;
    fg_flow_forward(s.flow, s.blk.work, zp, phip, tmp, 0);
    for (int l = 0; l < L; ++l)
      zp[j * L + l] -= 2 * h;
    fg_flow_forward(s.flow, s.blk.work, zp, phim, tmp, 0);
    for (int i = 0; i < V; ++i)
      for (int l = 0; l < L; ++l)
        jac[(l * V + j) * V + i] = (phip[i * L + l] - phim[i * L + l]) / (2 * h); /* column-major */
  }
  for (int l = 0; l < L; ++l) {
    int n = V, info, ipiv[V];
    double *a = jac + l * V * V;
    dgetrf_(&n, &n, a, &n, ipiv, &info);
    ck_assert_int_eq(info, 0);
    double logdet = 0, logr = -0.5 * V * log(2 * M_PI);
    for (int i = 0; i < V; ++i) {
      logdet += log(fabs(a[i * V + i]));
      logr -= 0.5 * z[i * L + l] * z[i * L + l];
    }
    ck_assert_double_gt(fabs(logdet), 0.5); /* a non-trivial Jacobian */
    ck_assert_double_eq_tol(logr - logdet, logq[l], 2e-3);
  }
  free(jac);
  unmake(&s);
}
END_TEST

static double block_loss(setup *s) { return fg_test_block_loss(s->th, s->flow, &s->blk, 77); }

START_TEST(every_parameter_gradient_matches_finite_difference)
{
  setup s;
  int hidden[2] = {3, 2};
  make(&s, 4, 4, 2, 3, 2, hidden, 41);
  int bad;
  double gmax;
  fg_test_kl_gradient_fd(s.th, s.flow, &s.blk, 77, &bad, &gmax, NULL);
  ck_assert_int_eq(bad, 0);
  ck_assert_double_gt(gmax, 0.1); /* the gradient is not trivially zero */
  unmake(&s);
}
END_TEST

/* A free-field base (mu_init 1.5) with `layers` phi^4 couplings on 4x4
 * (tanh: no kinks for the finite differences to straddle). */
static void make_free_field(setup *s, int layers, uint64_t seed)
{
  fg_theory_config tc = {.name = FG_THEORY_PHI4, .nd = 2, .extent = {4, 4}, .m2 = -1.0,
                         .lambda = 0.5};
  fg_model_config mc = {.base = FG_BASE_FREE_FIELD, .coupling_layers = layers, .kernel_size = 3,
                        .n_hidden = 1, .hidden_channels = {3}, .activation = FG_ACT_TANH,
                        .init_scheme = FG_INIT_KAIMING, .init_scale = 1.0, .mu_init = 1.5};
  fg_error err;
  ck_assert_int_eq(fg_theory_create(&tc, &s->th, &err), FG_OK);
  ck_assert_int_eq(fg_flow_create(&mc, fg_theory_lattice(s->th), &s->flow, &err), FG_OK);
  ck_assert_int_eq(fg_model_block_init(&s->blk, s->flow, &err), FG_OK);
  fg_flow_init_params(s->flow, seed);
}

/* The score d log q(phi)/d theta at fixed phi (fg_flow_score_backward)
 * against central differences of log q(phi) through the inverse,
 * lane-weighted, every parameter: normal base (grad log r = -z) and the
 * free-field base (its own transpose solve, M^-1; the mass mu included). */
START_TEST(score_matches_finite_differences_of_logq_at_fixed_phi)
{
  setup s;
  int hidden[1] = {3};
  make(&s, 4, 4, 3, 3, 1, hidden, 29);
  fg_test_scale_params(s.flow, 1.5f);
  ck_assert_int_eq(fg_flow_has_score(s.flow), 1);
  int bad;
  double gmax;
  fg_test_score_fd(s.flow, s.blk.work, 9, &bad, &gmax, NULL);
  ck_assert_int_eq(bad, 0);
  ck_assert_double_gt(gmax, 0.1);
  unmake(&s);

  make_free_field(&s, 2, 29);
  fg_test_scale_params(s.flow, 1.5f);
  ck_assert_int_eq(fg_flow_has_score(s.flow), 1);
  fg_test_score_fd(s.flow, s.blk.work, 9, &bad, &gmax, NULL);
  ck_assert_int_eq(bad, 0);
  ck_assert_double_gt(gmax, 0.1);
  unmake(&s);
}
END_TEST

/* grad_phi log q (fg_flow_grad_logq; the affine layers' diagonal exp(s)
 * from active_diag, the free-field base's M^-1) against central differences
 * of log q(phi) through the inverse (fg_test_grad_logq_fd), every site and
 * lane, for a normal base, the free-field base alone and with couplings. */
static void check_grad_logq(setup *s, double tol)
{
  fg_test_scale_params(s->flow, 1.5f);
  size_t nd = (size_t)fg_flow_ndof(s->flow);
  double *z = malloc(sizeof(double) * nd * L), *phi = malloc(sizeof(double) * nd * L),
         *g = malloc(sizeof(double) * nd * L), logq[L], worst, gmax;
  int skipped;
  ck_assert(z && phi && g);
  fg_flow_draw(s->flow, 10, FG_RNG_TEST, 0, L, z);
  fg_flow_forward(s->flow, s->blk.work, z, phi, logq, 1);
  fg_flow_grad_logq(s->flow, s->blk.work, z, g);
  fg_test_grad_logq_fd(s->flow, s->blk.work, phi, g, &worst, &gmax, &skipped);
  ck_assert_msg(skipped <= (int)(nd * L / 10), "%d of %zu points straddle a kink", skipped, nd * L);
  ck_assert_msg(gmax > 0.5, "grad log q too small to test (%g)", gmax);
  ck_assert_msg(worst < tol, "largest relative |analytic - finite difference| = %g", worst);
  free(z), free(phi), free(g);
}

START_TEST(grad_logq_matches_finite_differences_in_phi)
{
  setup s;
  int hidden[1] = {3};
  make(&s, 4, 4, 4, 3, 1, hidden, 31);
  check_grad_logq(&s, 2e-3);
  unmake(&s);
  make_free_field(&s, 0, 31); /* the base alone: -M^-2 phi, all in double */
  check_grad_logq(&s, 1e-9);
  unmake(&s);
  make_free_field(&s, 2, 31);
  check_grad_logq(&s, 2e-3);
  unmake(&s);
}
END_TEST

START_TEST(gradient_matches_directional_derivative_on_bigger_model)
{
  setup s;
  int hidden[2] = {8, 8};
  make(&s, 8, 8, 6, 3, 2, hidden, 43);
  size_t n = fg_flow_nparams(s.flow);
  double *grad = calloc(n, sizeof(double)), dot = 0;
  float *p0 = malloc(sizeof(float) * n), *p = malloc(sizeof(float) * n);
  float *dir = malloc(sizeof(float) * n);
  fg_model_kl_gradient_block(s.th, s.flow, &s.blk, 77, FG_RNG_TEST, 0, L, 1.0 / L, grad);
  memcpy(p0, fg_flow_params(s.flow), sizeof(float) * n);
  fg_rng r;
  fg_rng_init(&r, 8, FG_RNG_TEST, 0, 0);
  for (size_t k = 0; k < n; ++k) {
    dir[k] = (float)fg_rng_normal(&r);
    dot += grad[k] * dir[k];
  }
  const double h = 1e-4;
  double l[2];
  for (int sgn = 0; sgn < 2; ++sgn) {
    for (size_t k = 0; k < n; ++k)
      p[k] = (float)(p0[k] + (sgn ? -h : h) * dir[k]);
    fg_flow_set_params(s.flow, p);
    l[sgn] = block_loss(&s);
  }
  double fd = (l[0] - l[1]) / (2 * h);
  ck_assert_double_eq_tol(dot, fd, 1e-2 * fabs(fd) + 1e-3);
  free(grad), free(p0), free(p), free(dir);
  unmake(&s);
}
END_TEST

START_TEST(free_field_base_alone_samples_the_free_theory_exactly)
{
  /* No coupling layers, mu = m2, lambda = 0: log w = -S - log q is the same for all samples. */
  fg_theory_config tc = {.name = FG_THEORY_PHI4, .nd = 2, .extent = {8, 8}, .m2 = 0.5,
                         .lambda = 0.0};
  fg_model_config mc = {.base = FG_BASE_FREE_FIELD, .coupling_layers = 0, .kernel_size = 3,
                        .mu_init = 0.5, .init_scale = 1.0};
  setup s;
  fg_error err;
  ck_assert_int_eq(fg_theory_create(&tc, &s.th, &err), FG_OK);
  ck_assert_int_eq(fg_flow_create(&mc, fg_theory_lattice(s.th), &s.flow, &err), FG_OK);
  ck_assert_int_eq(fg_model_block_init(&s.blk, s.flow, &err), FG_OK);
  fg_flow_init_params(s.flow, 1);
  ck_assert_uint_eq(fg_flow_nparams(s.flow), 1);
  ck_assert_float_eq(fg_flow_params(s.flow)[0], 0.5f);
  double logw[4 * L];
  for (int b = 0; b < 4; ++b) {
    fg_model_sample_block(s.th, s.flow, &s.blk, 3, FG_RNG_TEST, (uint64_t)b * L, L);
    memcpy(logw + b * L, s.blk.logw, sizeof s.blk.logw);
  }
  for (int i = 1; i < 4 * L; ++i)
    ck_assert_double_eq_tol(logw[i], logw[0], 1e-9 * fabs(logw[0]));
  unmake(&s);
}
END_TEST

START_TEST(free_field_base_with_couplings_inverts)
{
  fg_theory_config tc = {.name = FG_THEORY_PHI4, .nd = 2, .extent = {6, 8}, .m2 = -1.0,
                         .lambda = 0.5};
  fg_model_config mc = {.base = FG_BASE_FREE_FIELD, .coupling_layers = 4, .kernel_size = 3,
                        .n_hidden = 1, .hidden_channels = {4}, .mu_init = 0.7,
                        .activation = FG_ACT_LEAKY_RELU, .init_scale = 1.0};
  setup s;
  fg_error err;
  ck_assert_int_eq(fg_theory_create(&tc, &s.th, &err), FG_OK);
  ck_assert_int_eq(fg_flow_create(&mc, fg_theory_lattice(s.th), &s.flow, &err), FG_OK);
  ck_assert_int_eq(fg_model_block_init(&s.blk, s.flow, &err), FG_OK);
  fg_flow_init_params(s.flow, 5);
  size_t n = fg_flow_nparams(s.flow);
  ck_assert_float_eq(fg_flow_params(s.flow)[n - 1], 0.7f); /* mu comes last */
  enum { V = 48 };
  double z[V * L], phi[V * L], z2[V * L], logq[L], logq2[L];
  fg_flow_draw(s.flow, 5, FG_RNG_TEST, 0, L, z);
  fg_flow_forward(s.flow, s.blk.work, z, phi, logq, 0);
  fg_flow_inverse(s.flow, s.blk.work, phi, z2, logq2);
  for (int i = 0; i < V * L; ++i)
    ck_assert_double_eq_tol(z2[i], z[i], 1e-10 * (1 + fabs(z[i])));
  for (int l = 0; l < L; ++l)
    ck_assert_double_eq_tol(logq2[l], logq[l], 1e-10 * fabs(logq[l]));
  /* The gradient reaches mu: compare with a central difference of the loss. */
  double *grad = calloc(n, sizeof(double));
  fg_model_kl_gradient_block(s.th, s.flow, &s.blk, 77, FG_RNG_TEST, 0, L, 1.0 / L, grad);
  float *p = malloc(sizeof(float) * n);
  memcpy(p, fg_flow_params(s.flow), sizeof(float) * n);
  const float h = 1.0f / 4096;
  p[n - 1] = 0.7f + h;
  fg_flow_set_params(s.flow, p);
  double lp = block_loss(&s);
  p[n - 1] = 0.7f - h;
  fg_flow_set_params(s.flow, p);
  double lm = block_loss(&s);
  double fd = (lp - lm) / (2.0 * h);
  ck_assert_double_eq_tol(grad[n - 1], fd, 3e-2 * (1 + fabs(fd)));
  free(grad), free(p);
  unmake(&s);
}
END_TEST

START_TEST(vector_exp_and_tanh_are_accurate)
{
  double worst_exp = 0, worst_tanh = 0;
  for (int i = -200000; i <= 200000; ++i) {
    double x = 2.0 * i / 200000.0;
    worst_exp = fmax(worst_exp, fabs(fg_exp_small(x) / exp(x) - 1.0));
    float xf = (float)(6.0 * i / 200000.0);
    double ref = tanh((double)xf);
    if (ref != 0.0)
      worst_tanh = fmax(worst_tanh, fabs(fg_tanhf_lane(xf) / ref - 1.0));
  }
  ck_assert_msg(worst_exp < 5e-16, "exp relative error %g", worst_exp);
  float v[16];
  for (int i = 0; i < 16; ++i)
    v[i] = (float)(i - 8) * 0.37f;
  v[3] = 30.0f;
  v[4] = -1e-4f;
  float w[16];
  memcpy(w, v, sizeof w);
  fg_tanhf_16(w);
  for (int i = 0; i < 16; ++i)
    ck_assert_float_eq_tol(w[i], fg_tanhf_lane(v[i]), 1e-7f * (1 + fabsf(w[i])));
  ck_assert_msg(worst_tanh < 3e-7, "tanh relative error %g", worst_tanh);
  ck_assert_float_eq(fg_tanhf_lane(40.0f), 1.0f);
  ck_assert_float_eq(fg_tanhf_lane(-40.0f), -1.0f);
}
END_TEST

/* ---- the declared parameter layout ------------------------------------- */

static fg_model_config layout_model(fg_base_kind base, int layers, fg_init_scheme scheme)
{
  fg_model_config mc = {.base = base, .coupling_layers = layers, .kernel_size = 3,
                        .n_hidden = 2, .hidden_channels = {5, 4},
                        .activation = FG_ACT_LEAKY_RELU, .init_scheme = scheme,
                        .init_scale = 0.7, .mu_init = 0.375};
  return mc;
}

/* The canonical order of checkpoint.h, written out by hand. */
START_TEST(layout_follows_the_canonical_order)
{
  fg_model_config mc = layout_model(FG_BASE_FREE_FIELD, 3, FG_INIT_KAIMING);
  fg_param_layout lay;
  fg_error err;
  ck_assert_int_eq(fg_param_layout_build(&mc, &lay, &err), FG_OK);
  ck_assert_uint_eq(lay.n, 3 * 3 * 2 + 1);
  ck_assert_uint_eq(lay.nparams, fg_checkpoint_nparams(&mc));
  const int cin[3] = {1, 5, 4}, cout[3] = {5, 4, 2};
  size_t off = 0, k = 0;
  for (int l = 0; l < 3; ++l)
    for (int c = 0; c < 3; ++c)
      for (int b = 0; b < 2; ++b, ++k) {
        const fg_param_tensor *t = &lay.t[k];
        char group[32], conv[32];
        snprintf(group, sizeof group, "layer_%02d", l);
        snprintf(conv, sizeof conv, "conv_%d", c);
        ck_assert_int_eq(t->depth, 2);
        ck_assert_str_eq(t->group[0], group);
        ck_assert_str_eq(t->group[1], conv);
        ck_assert_str_eq(t->name, b ? "bias" : "weight");
        ck_assert_int_eq(t->rank, b ? 1 : 4);
        ck_assert_uint_eq(t->dims[0], (size_t)cout[c]);
        if (!b)
          ck_assert(t->dims[1] == (size_t)cin[c] && t->dims[2] == 3 && t->dims[3] == 3);
        ck_assert_uint_eq(t->offset, off);
        off += t->count;
      }
  const fg_param_tensor *mu = &lay.t[k];
  ck_assert(mu->depth == 1 && strcmp(mu->group[0], "base") == 0 && strcmp(mu->name, "mu") == 0);
  ck_assert(mu->rank == 0 && mu->count == 1 && mu->offset == off);
  ck_assert(mu->init == FG_PARAM_CONSTANT && mu->value == 0.375);
  ck_assert_uint_eq(off + 1, lay.nparams);
  fg_param_layout_free(&lay);

  /* group names widen with the layer count, so they sort */
  char name[32];
  fg_layer_group_name(name, sizeof name, 7, 101);
  ck_assert_str_eq(name, "layer_007");
  fg_layer_group_name(name, sizeof name, 7, 100);
  ck_assert_str_eq(name, "layer_07");
  /* invalid architectures are refused, counting and building alike */
  size_t nt, np;
  mc.hidden_channels[1] = 0;
  ck_assert_int_eq(fg_param_layout_count(&mc, &nt, &np), -1);
  ck_assert_int_eq(fg_param_layout_build(&mc, &lay, &err), FG_ERR_INPUT);
  fg_param_layout_free(&lay);
  mc = layout_model(FG_BASE_NORMAL, 0, FG_INIT_KAIMING);
  ck_assert_int_eq(fg_param_layout_count(&mc, &nt, &np), 0);
  ck_assert(nt == 0 && np == 0);
}
END_TEST

/* flowgen 0.1's initialisation, written out: per layer and conv, the
 * weights then the biases from one stream, mu set without a draw. */
static void reference_init(const fg_model_config *m, uint64_t seed, float *p)
{
  const int kk = m->kernel_size * m->kernel_size;
  fg_rng r;
  fg_rng_init(&r, seed, FG_RNG_INIT, 0, 0);
  for (int i = 0; i < m->coupling_layers; ++i)
    for (int c = 0; c <= m->n_hidden; ++c) {
      int cin = c > 0 ? m->hidden_channels[c - 1] : 1;
      int cout = c < m->n_hidden ? m->hidden_channels[c] : 2;
      double fan_in = (double)cin * kk, fan_out = (double)cout * kk;
      double wb = m->init_scheme == FG_INIT_XAVIER ? m->init_scale * sqrt(6.0 / (fan_in + fan_out))
                                                   : m->init_scale / sqrt(fan_in);
      double bb = (m->init_scheme == FG_INIT_XAVIER ? 1.0 : m->init_scale) / sqrt(fan_in);
      size_t nw = (size_t)cout * cin * kk;
      for (size_t j = 0; j < nw; ++j)
        *p++ = (float)((2.0 * fg_rng_uniform(&r) - 1.0) * wb);
      for (int j = 0; j < cout; ++j)
        *p++ = (float)((2.0 * fg_rng_uniform(&r) - 1.0) * bb);
    }
  if (m->base == FG_BASE_FREE_FIELD)
    *p = (float)m->mu_init;
}

START_TEST(init_and_flops_come_from_the_layout)
{
  fg_theory_config tc = {.name = FG_THEORY_PHI4, .nd = 2, .extent = {6, 4}, .m2 = 1.0};
  fg_theory *th;
  fg_error err;
  ck_assert_int_eq(fg_theory_create(&tc, &th, &err), FG_OK);
  for (int variant = 0; variant < 2; ++variant) {
    fg_model_config mc = layout_model(variant ? FG_BASE_FREE_FIELD : FG_BASE_NORMAL, 4,
                                      variant ? FG_INIT_XAVIER : FG_INIT_KAIMING);
    fg_flow *f;
    ck_assert_int_eq(fg_flow_create(&mc, fg_theory_lattice(th), &f, &err), FG_OK);
    const size_t n = fg_flow_nparams(f);
    ck_assert_uint_eq(n, fg_checkpoint_nparams(&mc));
    if (variant)
      ck_assert(fg_flow_params(f)[n - 1] == (float)0.375); /* mu before any init */
    fg_flow_init_params(f, 4242);
    float *want = calloc(n, sizeof(float));
    ck_assert_ptr_nonnull(want);
    reference_init(&mc, 4242, want);
    ck_assert(memcmp(want, fg_flow_params(f), sizeof(float) * n) == 0);
    double flops = 0.0;
    for (int c = 0; c <= mc.n_hidden; ++c) {
      int cin = c > 0 ? mc.hidden_channels[c - 1] : 1, cout = c < mc.n_hidden ? mc.hidden_channels[c] : 2;
      flops += fg_conv_flops(24, cin, cout, 3);
    }
    ck_assert(fg_flow_flops(f) == flops * mc.coupling_layers);
    free(want);
    fg_flow_destroy(f);
  }
  fg_theory_destroy(th);
}
END_TEST

/* Every declared tensor is a dataset of the checkpoint, at its group path,
 * of its shape, holding its slice of the flat vector. */
START_TEST(checkpoint_groups_are_the_declared_tensors)
{
  fg_model_config mc = layout_model(FG_BASE_FREE_FIELD, 2, FG_INIT_KAIMING);
  fg_checkpoint ck = {0};
  ck.theory = (fg_theory_config){.name = FG_THEORY_PHI4, .nd = 2, .extent = {4, 4}, .m2 = 1.0};
  ck.model = mc;
  ck.nparams = fg_checkpoint_nparams(&mc);
  ck.params = calloc(ck.nparams, sizeof(float));
  ck_assert_ptr_nonnull(ck.params);
  for (size_t i = 0; i < ck.nparams; ++i)
    ck.params[i] = (float)i * 0.25f;
  snprintf(ck.stop_reason, sizeof ck.stop_reason, "steps");
  char *dir = fg_test_tmpdir();
  char path[512];
  snprintf(path, sizeof path, "%s/model.h5", dir);
  fg_error err;
  ck_assert_msg(fg_checkpoint_write(path, &ck, &err) == FG_OK, "%s", err.msg);
  fg_param_layout lay;
  ck_assert_int_eq(fg_param_layout_build(&mc, &lay, &err), FG_OK);
  hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  ck_assert(file >= 0);
  for (size_t k = 0; k < lay.n; ++k) {
    const fg_param_tensor *t = &lay.t[k];
    char name[128];
    if (t->depth == 2)
      snprintf(name, sizeof name, "/model/%s/%s/%s", t->group[0], t->group[1], t->name);
    else
      snprintf(name, sizeof name, "/model/%s/%s", t->group[0], t->name);
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    ck_assert_msg(d >= 0, "%s missing", name);
    hid_t sp = H5Dget_space(d);
    hsize_t dims[8];
    ck_assert_int_eq(H5Sget_simple_extent_dims(sp, dims, NULL), t->rank);
    for (int i = 0; i < t->rank; ++i)
      ck_assert_uint_eq(dims[i], t->dims[i]);
    float *buf = malloc(sizeof(float) * t->count);
    ck_assert(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    ck_assert(memcmp(buf, ck.params + t->offset, sizeof(float) * t->count) == 0);
    free(buf);
    H5Sclose(sp);
    H5Dclose(d);
  }
  H5Fclose(file);
  fg_checkpoint back;
  ck_assert_msg(fg_checkpoint_read(path, &back, &err) == FG_OK, "%s", err.msg);
  ck_assert_uint_eq(back.nparams, lay.nparams);
  ck_assert(memcmp(back.params, ck.params, sizeof(float) * lay.nparams) == 0);
  fg_checkpoint_free(&back);
  fg_param_layout_free(&lay);
  free(ck.params);
  fg_test_remove_dir(dir);
  free(dir);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("flow");
  TCase *tc = tcase_create("coupling");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, inverse_undoes_forward_and_logq_agrees);
  tcase_add_test(tc, zero_parameters_give_the_identity);
  tcase_add_test(tc, logq_matches_double_reference);
  tcase_add_test(tc, logdet_matches_lapack_determinant);
  tcase_add_test(tc, every_parameter_gradient_matches_finite_difference);
  tcase_add_test(tc, score_matches_finite_differences_of_logq_at_fixed_phi);
  tcase_add_test(tc, grad_logq_matches_finite_differences_in_phi);
  tcase_add_test(tc, gradient_matches_directional_derivative_on_bigger_model);
  tcase_add_test(tc, free_field_base_alone_samples_the_free_theory_exactly);
  tcase_add_test(tc, free_field_base_with_couplings_inverts);
  tcase_add_test(tc, vector_exp_and_tanh_are_accurate);
  tcase_add_test(tc, layout_follows_the_canonical_order);
  tcase_add_test(tc, init_and_flops_come_from_the_layout);
  tcase_add_test(tc, checkpoint_groups_are_the_declared_tensors);
  suite_add_tcase(s, tc);
  return fg_test_run(s);
}
