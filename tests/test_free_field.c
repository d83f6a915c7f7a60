/* test_free_field.c -- the free-field base layer inverts, its log det is the dense determinant's, M^2 is the free propagator, its gradients match finite differences, and it samples the free theory exactly (constant log weight). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flowgen/flow.h"
#include "flowgen/rng.h"
#include "flowgen/theory.h"
#include "testutil.h"

enum { L = FG_VLEN };

int fg_free_field_create(const fg_model_config *m, const fg_lattice *lat, size_t param_offset,
                         fg_layer **out, fg_error *err);
void dgetrf_(const int *m, const int *n, double *a, const int *lda, int *ipiv, int *info);

typedef struct {
  fg_theory *th;   /* phi^4 with lambda = 0 and m2 = |mu|: the free theory */
  fg_layer *layer;
  void *ws;
  int V;
} setup;

static void make(setup *s, int nd, const int *extent, double mu)
{
  fg_theory_config tc = {.name = FG_THEORY_PHI4, .nd = nd, .m2 = fabs(mu), .lambda = 0.0};
  for (int i = 0; i < nd; ++i)
    tc.extent[i] = extent[i];
  fg_model_config mc = {.base = FG_BASE_FREE_FIELD, .coupling_layers = 0, .mu_init = 1.0};
  fg_error err;
  ck_assert_int_eq(fg_theory_create(&tc, &s->th, &err), FG_OK);
  ck_assert_int_eq(fg_free_field_create(&mc, fg_theory_lattice(s->th), 7, &s->layer, &err), FG_OK);
  ck_assert_uint_eq(s->layer->nparams, 1);
  ck_assert_uint_eq(s->layer->param_offset, 7);
  s->ws = fg_alloc(s->layer->ops->work_bytes(s->layer), &err, "make");
  ck_assert_ptr_nonnull(s->ws);
  s->V = fg_theory_lattice(s->th)->volume;
  float p = (float)mu;
  s->layer->ops->set_params(s->layer, &p);
}

static void unmake(setup *s)
{
  fg_free(s->ws);
  s->layer->ops->destroy(s->layer);
  fg_theory_destroy(s->th);
}

static double *normals(int V, uint64_t index)
{
  double *z = fg_alloc(sizeof(double) * (size_t)V * L, NULL, "normals");
  ck_assert_ptr_nonnull(z);
  fg_rng r;
  fg_rng_init(&r, 2024, FG_RNG_TEST, index, 0);
  fg_rng_normals(&r, z, (size_t)V * L);
  return z;
}

static void forward(const setup *s, double *phi, double *logdet, int save)
{
  for (int l = 0; l < L; ++l)
    logdet[l] = 0.0;
  s->layer->ops->forward(s->layer, s->ws, phi, logdet, save);
}

static const int lat_4x6[] = {4, 6}, lat_5x3[] = {5, 3}, lat_2x3x4[] = {2, 3, 4};
static const struct { int nd; const int *extent; } lattices[] = {
    {2, lat_4x6}, {2, lat_5x3}, {3, lat_2x3x4}};

START_TEST(inverse_undoes_forward)
{
  setup s;
  make(&s, lattices[_i].nd, lattices[_i].extent, 0.37);
  double *z = normals(s.V, 1), *phi = normals(s.V, 1), ldf[L], ldi[L] = {0};
  forward(&s, phi, ldf, 0);
  double moved = 0.0;
  for (int i = 0; i < s.V * L; ++i)
    moved = fmax(moved, fabs(phi[i] - z[i]));
  ck_assert_double_gt(moved, 0.1); /* the map is not the identity */
  s.layer->ops->inverse(s.layer, s.ws, phi, ldi);
  for (int i = 0; i < s.V * L; ++i)
    ck_assert_double_eq_tol(phi[i], z[i], 1e-12);
  for (int l = 0; l < L; ++l)
    ck_assert_double_eq_tol(ldi[l], ldf[l], 1e-12 * fabs(ldf[l]));
  fg_free(z);
  fg_free(phi);
  unmake(&s);
}
END_TEST

/* The dense V x V matrix of the map, column j = M e_j, 16 columns per block. */
static double *dense_matrix(const setup *s, double *logdet)
{
  const int V = s->V;
  double *a = malloc(sizeof(double) * (size_t)V * V);
  double *blk = fg_alloc(sizeof(double) * (size_t)V * L, NULL, "dense");
  for (int j0 = 0; j0 < V; j0 += L) {
    memset(blk, 0, sizeof(double) * (size_t)V * L);
    for (int l = 0; l < L && j0 + l < V; ++l)
      blk[(size_t)(j0 + l) * L + l] = 1.0;
    forward(s, blk, logdet, 0);
    for (int l = 0; l < L && j0 + l < V; ++l)
      for (int i = 0; i < V; ++i)
        a[(size_t)(j0 + l) * V + i] = blk[(size_t)i * L + l]; /* column-major */
  }
  fg_free(blk);
  return a;
}

START_TEST(logdet_is_log_abs_det_of_dense_matrix)
{
  setup s;
  make(&s, lattices[_i].nd, lattices[_i].extent, 0.61);
  const int V = s.V;
  double logdet[L];
  double *a = dense_matrix(&s, logdet);
  for (int i = 0; i < V; ++i) /* M is symmetric: backward relies on it */
    for (int j = 0; j < i; ++j)
      ck_assert_double_eq_tol(a[i * V + j], a[j * V + i], 1e-14);
  int *ipiv = malloc(sizeof(int) * (size_t)V), info;
  dgetrf_(&V, &V, a, &V, ipiv, &info);
  ck_assert_int_eq(info, 0);
  double ref = 0.0;
  for (int i = 0; i < V; ++i)
    ref += log(fabs(a[(size_t)i * V + i]));
  for (int l = 0; l < L; ++l)
    ck_assert_double_eq_tol(logdet[l], ref, 1e-11 * fabs(ref));
  /* and the closed form -1/2 sum_k log(mu + khat^2) is not zero here */
  ck_assert_double_gt(fabs(ref), 1.0);
  free(ipiv);
  free(a);
  unmake(&s);
}
END_TEST

/* (-Laplacian + |mu|) M^2 e_x = e_x: M^2 is the free propagator, whichever
 * sign mu is stored with. */
START_TEST(square_is_free_propagator)
{
  setup s;
  const double mu = _i ? -0.5 : 0.5;
  make(&s, 2, lat_4x6, mu);
  const fg_lattice *lat = fg_theory_lattice(s.th);
  const int V = s.V, nd = lat->nd;
  double *phi = fg_alloc(sizeof(double) * (size_t)V * L, NULL, "t"), ld[L];
  for (int l = 0; l < L; ++l)
    phi[(size_t)((5 * l + 3) % V) * L + l] = 1.0; /* a delta at a different site per lane */
  forward(&s, phi, ld, 0);
  forward(&s, phi, ld, 0);
  for (int y = 0; y < V; ++y)
    for (int l = 0; l < L; ++l) {
      double r = (2.0 * nd + fabs(mu)) * phi[(size_t)y * L + l];
      for (int m = 0; m < nd; ++m)
        r -= phi[(size_t)lat->up[y * nd + m] * L + l] + phi[(size_t)lat->down[y * nd + m] * L + l];
      ck_assert_double_eq_tol(r, y == (5 * l + 3) % V ? 1.0 : 0.0, 1e-12);
    }
  fg_free(phi);
  unmake(&s);
}
END_TEST

/* L = sum a phi + 1/2 b phi^2 + sum_l h_l logdet_l, a nonlinear test loss. */
typedef struct {
  double *a, *b, h[L];
} loss_coef;

static double loss(const setup *s, const loss_coef *c, const double *z, double *gphi,
                   double *glogdet, int save)
{
  const size_t n = (size_t)s->V * L;
  double *phi = fg_alloc(sizeof(double) * n, NULL, "loss"), ld[L], total = 0.0;
  memcpy(phi, z, sizeof(double) * n);
  forward(s, phi, ld, save);
  for (size_t i = 0; i < n; ++i) {
    total += c->a[i] * phi[i] + 0.5 * c->b[i] * phi[i] * phi[i];
    if (gphi)
      gphi[i] = c->a[i] + c->b[i] * phi[i];
  }
  for (int l = 0; l < L; ++l) {
    total += c->h[l] * ld[l];
    if (glogdet)
      glogdet[l] = c->h[l];
  }
  fg_free(phi);
  return total;
}

static double loss_at_mu(setup *s, const loss_coef *c, const double *z, float mu)
{
  s->layer->ops->set_params(s->layer, &mu);
  return loss(s, c, z, NULL, NULL, 0);
}

START_TEST(gradients_match_finite_differences)
{
  setup s;
  const float mu = _i % 2 ? -0.75f : 0.75f; /* 0.75 +- 2^-10, 2^-9: exact in float32 */
  make(&s, lattices[_i].nd, lattices[_i].extent, mu);
  const size_t n = (size_t)s.V * L;
  double *z = normals(s.V, 2);
  loss_coef c = {.a = normals(s.V, 3), .b = normals(s.V, 4)};
  for (int l = 0; l < L; ++l)
    c.h[l] = 0.3 + 0.1 * l;
  double *g = fg_alloc(sizeof(double) * n, NULL, "t"), glogdet[L], gparams[2] = {1.0, 5.0};
  loss(&s, &c, z, g, glogdet, 1);
  s.layer->ops->backward(s.layer, s.ws, g, glogdet, gparams);
  ck_assert_double_eq(gparams[1], 5.0); /* only its own slot */
  const double hz = 1e-5;
  for (size_t i = 0; i < n; ++i) {
    double z0 = z[i];
    z[i] = z0 + hz;
    double lp = loss(&s, &c, z, NULL, NULL, 0);
    z[i] = z0 - hz;
    double lm = loss(&s, &c, z, NULL, NULL, 0);
    z[i] = z0;
    ck_assert_double_eq_tol(g[i], (lp - lm) / (2 * hz), 1e-7);
  }
  /* Richardson-extrapolated central difference in mu: error O(h^4) */
  const float h = 1.0f / 1024;
  double d1 = (loss_at_mu(&s, &c, z, mu + h) - loss_at_mu(&s, &c, z, mu - h)) / (2.0 * h);
  double d2 = (loss_at_mu(&s, &c, z, mu + 2 * h) - loss_at_mu(&s, &c, z, mu - 2 * h)) / (4.0 * h);
  double fd = (4.0 * d1 - d2) / 3.0, gmu = gparams[0] - 1.0;
  ck_assert_double_gt(fabs(fd), 1.0);
  ck_assert_double_eq_tol(gmu, fd, 1e-8 * fabs(fd));
  fg_free(z);
  fg_free(c.a);
  fg_free(c.b);
  fg_free(g);
  unmake(&s);
}
END_TEST

/* With mu = m2 the layer samples the free theory exactly: log q + S is the
 * same constant -log Z for every sample (ESS = 1), and <phi^2> is the free
 * propagator at zero distance. */
START_TEST(free_theory_is_sampled_exactly)
{
  const double m2 = 0.5;
  setup s;
  make(&s, 2, (const int[]){8, 8}, m2);
  const int V = s.V, nblocks = 64;
  const double log2pi = log(2.0 * M_PI);
  double logz = 0.5 * V * log2pi, prop = 0.0, prop2 = 0.0;
  for (int k0 = 0; k0 < 8; ++k0)
    for (int k1 = 0; k1 < 8; ++k1) {
      double p = m2 + 4.0 - 2.0 * cos(2 * M_PI * k0 / 8) - 2.0 * cos(2 * M_PI * k1 / 8);
      logz -= 0.5 * log(p);
      prop += 1.0 / p / V;
      prop2 += 1.0 / (p * p) / (V * V);
    }
  double sum_w = 0.0, sum_w2 = 0.0, phi2 = 0.0, lw_min = INFINITY, lw_max = -INFINITY;
  for (int b = 0; b < nblocks; ++b) {
    double *phi = normals(V, 100 + (uint64_t)b), ld[L], S[L], logq[L];
    for (int l = 0; l < L; ++l) {
      logq[l] = -0.5 * V * log2pi;
      for (int y = 0; y < V; ++y)
        logq[l] -= 0.5 * phi[y * L + l] * phi[y * L + l];
    }
    forward(&s, phi, ld, 0);
    fg_theory_action(s.th, phi, L, S);
    for (int l = 0; l < L; ++l) {
      double lw = -(logq[l] - ld[l]) - S[l]; /* log w = -log q - S */
      lw_min = fmin(lw_min, lw);
      lw_max = fmax(lw_max, lw);
      sum_w += exp(lw - logz);
      sum_w2 += exp(2 * (lw - logz));
      for (int y = 0; y < V; ++y)
        phi2 += phi[y * L + l] * phi[y * L + l] / V;
    }
    fg_free(phi);
  }
  const int N = nblocks * L;
  ck_assert_double_eq_tol(lw_max - lw_min, 0.0, 1e-10);
  ck_assert_double_eq_tol(lw_min, logz, 1e-10 * fabs(logz)); /* log w = log Z */
  ck_assert_double_eq_tol(sum_w * sum_w / (N * sum_w2), 1.0, 1e-12);
  /* var(phi.phi / V) = 2 tr C^2 / V^2 for a Gaussian of covariance C */
  double sigma = sqrt(2.0 * prop2 / N);
  ck_assert_double_eq_tol(phi2 / N, prop, 4.0 * sigma);
  unmake(&s);
}
END_TEST

static Suite *free_field_suite(void)
{
  Suite *s = suite_create("free_field");
  TCase *tc = tcase_create("core");
  tcase_add_loop_test(tc, inverse_undoes_forward, 0, 3);
  tcase_add_loop_test(tc, logdet_is_log_abs_det_of_dense_matrix, 0, 3);
  tcase_add_loop_test(tc, square_is_free_propagator, 0, 2);
  tcase_add_loop_test(tc, gradients_match_finite_differences, 0, 3);
  tcase_add_test(tc, free_theory_is_sampled_exactly);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return fg_test_run(free_field_suite());
}
