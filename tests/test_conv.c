/* test_conv.c -- the conv kernels (both ISA paths) match a direct double-precision convolution, are adjoint, and give the weight gradient. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flowgen/lattice.h"
#include "flowgen/nn.h"
#include "testutil.h"

/* A layer shape on an L0 x L1 lattice. */
typedef struct {
  int L0, L1, ksize, cin, cout;
} shape;

static const shape shapes[] = {
  {8, 8, 3, 1, 8},  {8, 8, 3, 8, 8},   {8, 8, 3, 8, 2},   {10, 10, 5, 1, 12},
  {10, 10, 5, 12, 12}, {10, 10, 5, 12, 2}, {6, 10, 3, 5, 7}, {6, 10, 5, 3, 13},
  {5, 7, 1, 4, 3},  {5, 5, 5, 2, 17},  {7, 3, 3, 9, 1},   {3, 3, 3, 1, 1},
  {4, 6, 3, 11, 20}, {9, 5, 5, 1, 2},  {6, 6, 1, 1, 1},   {10, 6, 3, 16, 5},
  {24, 12, 3, 2, 3}, /* more than 256 sites: the weight gradient sums in chunks */
};
#define NSHAPES ((int)(sizeof shapes / sizeof shapes[0]))

/* The two paths; "avx512" falls back to portable on a CPU without it. */
static const char *const isas[] = {"portable", "avx512"};

static void use_isa(const char *isa)
{
  if (strcmp(isa, "portable") == 0)
    setenv("FLOWGEN_ISA", "portable", 1);
  else
    unsetenv("FLOWGEN_ISA");
}

/* Deterministic uniform numbers in [-1, 1). */
static double uniform(uint64_t *state)
{
  *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(*state >> 11) / (double)(1ULL << 52) - 1.0;
}

static float *random_floats(size_t n, uint64_t *state)
{
  float *a = fg_alloc(sizeof(float) * n, NULL, "test");
  ck_assert_ptr_nonnull(a);
  for (size_t j = 0; j < n; ++j)
    a[j] = (float)uniform(state);
  return a;
}

/* Everything one shape needs: lattice, stencil, parameters, fields. */
typedef struct {
  shape s;
  fg_lattice lat;
  fg_stencil st;
  int V, ntaps;
  size_t nin, nout, nw; /* floats of input, output, weight */
  float *w, *b, *in, *gout;
} layer;

static void layer_init(layer *l, const shape *s, uint64_t seed)
{
  memset(l, 0, sizeof *l);
  l->s = *s;
  fg_error err;
  int ext[2] = {s->L0, s->L1};
  ck_assert_int_eq(fg_lattice_init(&l->lat, 2, ext, &err), FG_OK);
  ck_assert_int_eq(fg_stencil_init(&l->st, &l->lat, s->ksize, &err), FG_OK);
  l->V = l->lat.volume;
  l->ntaps = s->ksize * s->ksize;
  l->nin = (size_t)s->cin * l->V * FG_VLEN;
  l->nout = (size_t)s->cout * l->V * FG_VLEN;
  l->nw = (size_t)s->cout * s->cin * l->ntaps;
  uint64_t state = seed;
  l->w = random_floats(l->nw, &state);
  l->b = random_floats((size_t)s->cout, &state);
  l->in = random_floats(l->nin, &state);
  l->gout = random_floats(l->nout, &state);
}

static void layer_free(layer *l)
{
  fg_free(l->w);
  fg_free(l->b);
  fg_free(l->in);
  fg_free(l->gout);
  fg_stencil_free(&l->st);
  fg_lattice_free(&l->lat);
}

static fg_conv_plan *make_plan(const layer *l, const char *isa)
{
  use_isa(isa);
  fg_error err;
  fg_conv_plan *p = fg_conv_plan_create(&l->st, l->s.cin, l->s.cout, &err);
  ck_assert_ptr_nonnull(p);
  fg_conv_set_weights(p, l->w, l->b);
  return p;
}

static size_t at(const layer *l, int c, int y, int lane)
{
  return ((size_t)c * l->V + (size_t)y) * FG_VLEN + (size_t)lane;
}

/* Element checks call Check only on failure: every passing ck_assert
 * writes a mark to a file, which for millions of entries takes seconds. */

/* |got - want| within 1e-5 of the sum of the magnitudes of the terms. */
static void assert_close(double got, double want, double scale, const char *what, int j)
{
  if (!(fabs(got - want) <= 1e-5 * scale + 1e-30))
    ck_abort_msg("%s[%d]: got %.9g, want %.9g (scale %g)", what, j, got, want, scale);
}

/* Site subsets: all (NULL), both checkerboard halves, a scattered list in
 * a scrambled order, and a single site. */
enum { SUB_ALL, SUB_EVEN, SUB_ODD, SUB_SCATTER, SUB_ONE, NSUBSETS };

static int make_subset(const layer *l, int kind, int *sites)
{
  int n = 0;
  for (int y = 0; y < l->V; ++y) {
    int keep = kind == SUB_ALL || (kind == SUB_EVEN && l->lat.parity[y] == 0) ||
               (kind == SUB_ODD && l->lat.parity[y] == 1) || (kind == SUB_SCATTER && y % 3 != 1) ||
               (kind == SUB_ONE && y == l->V / 2);
    if (keep)
      sites[n++] = y;
  }
  if (kind == SUB_SCATTER) /* reverse: kernels must not assume ascending order */
    for (int a = 0, z = n - 1; a < z; ++a, --z) {
      int t = sites[a];
      sites[a] = sites[z];
      sites[z] = t;
    }
  return n;
}

static void membership(const layer *l, const int *sites, int n, unsigned char *in_set)
{
  memset(in_set, 0, (size_t)l->V);
  for (int j = 0; j < n; ++j)
    in_set[sites[j]] = 1;
}

#define SENTINEL 12345.5f

/* The references, from the definitions in double precision, with the sum of
 * the magnitudes of the terms of each entry (the scale of its rounding). */
static void reference_forward(const layer *l, double *want, double *scale)
{
  const int cin = l->s.cin, ntaps = l->ntaps;
  for (int o = 0; o < l->s.cout; ++o)
    for (int y = 0; y < l->V; ++y)
      for (int lane = 0; lane < FG_VLEN; ++lane) {
        size_t j = at(l, o, y, lane);
        want[j] = l->b[o];
        scale[j] = fabs(l->b[o]);
        for (int i = 0; i < cin; ++i)
          for (int k = 0; k < ntaps; ++k) {
            double t = (double)l->w[(o * cin + i) * ntaps + k] *
                       l->in[at(l, i, l->st.index[y * ntaps + k], lane)];
            want[j] += t;
            scale[j] += fabs(t);
          }
      }
}

/* gin by scattering: gin[i][stencil(y, k)] += W[o][i][k] gout[o][y]. */
static void reference_backward_input(const layer *l, double *want, double *scale)
{
  const int cin = l->s.cin, ntaps = l->ntaps;
  memset(want, 0, sizeof(double) * l->nin);
  memset(scale, 0, sizeof(double) * l->nin);
  for (int y = 0; y < l->V; ++y)
    for (int k = 0; k < ntaps; ++k)
      for (int o = 0; o < l->s.cout; ++o)
        for (int i = 0; i < cin; ++i)
          for (int lane = 0; lane < FG_VLEN; ++lane) {
            size_t x = at(l, i, l->st.index[y * ntaps + k], lane);
            double t = (double)l->w[(o * cin + i) * ntaps + k] * l->gout[at(l, o, y, lane)];
            want[x] += t;
            scale[x] += fabs(t);
          }
}

/* The weight and bias gradients summed over the n sites; want and scale
 * hold nw weight entries, then cout bias entries. */
static void reference_backward_weight(const layer *l, const int *sites, int n, double *want,
                                      double *scale)
{
  const int cin = l->s.cin, ntaps = l->ntaps;
  memset(want, 0, sizeof(double) * (l->nw + (size_t)l->s.cout));
  memset(scale, 0, sizeof(double) * (l->nw + (size_t)l->s.cout));
  for (int j = 0; j < n; ++j)
    for (int o = 0; o < l->s.cout; ++o)
      for (int lane = 0; lane < FG_VLEN; ++lane) {
        int y = sites[j];
        double g = l->gout[at(l, o, y, lane)];
        want[l->nw + o] += g;
        scale[l->nw + o] += fabs(g);
        for (int i = 0; i < cin; ++i)
          for (int k = 0; k < ntaps; ++k) {
            double t = g * l->in[at(l, i, l->st.index[y * ntaps + k], lane)];
            want[(o * cin + i) * ntaps + k] += t;
            scale[(o * cin + i) * ntaps + k] += fabs(t);
          }
      }
}

/* Checks an output of `channels` channels against the reference at the
 * sites of the subset, and that it kept the sentinel everywhere else. */
static void compare_subset(const layer *l, const float *got, int channels, const double *want,
                           const double *scale, const unsigned char *in_set, const char *what)
{
  for (int c = 0; c < channels; ++c)
    for (int y = 0; y < l->V; ++y)
      for (int lane = 0; lane < FG_VLEN; ++lane) {
        size_t j = at(l, c, y, lane);
        if (in_set[y])
          assert_close(got[j], want[j], scale[j], what, (int)j);
        else if (got[j] != SENTINEL)
          ck_abort_msg("%s wrote outside the subset (site %d)", what, y);
      }
}

/* forward and backward_input on every subset and both paths against the
 * references; `backward` picks the operation. */
static void check_operation(const layer *l, int backward)
{
  size_t nres = backward ? l->nin : l->nout;
  int channels = backward ? l->s.cin : l->s.cout;
  double *want = malloc(sizeof(double) * nres), *scale = malloc(sizeof(double) * nres);
  float *res = fg_alloc(sizeof(float) * nres, NULL, "test");
  int *sites = malloc(sizeof(int) * (size_t)l->V);
  unsigned char *in_set = malloc((size_t)l->V);
  ck_assert(want && scale && res && sites && in_set);
  if (backward)
    reference_backward_input(l, want, scale);
  else
    reference_forward(l, want, scale);
  for (int a = 0; a < 2; ++a)
    for (int kind = 0; kind < NSUBSETS; ++kind) {
      fg_conv_plan *p = make_plan(l, isas[a]);
      int n = make_subset(l, kind, sites);
      membership(l, sites, n, in_set);
      for (size_t j = 0; j < nres; ++j)
        res[j] = SENTINEL;
      const int *list = kind == SUB_ALL ? NULL : sites;
      if (backward)
        fg_conv_backward_input(p, l->gout, res, list, n);
      else
        fg_conv_forward(p, l->in, res, list, n);
      compare_subset(l, res, channels, want, scale, in_set, backward ? "backward_input" : "forward");
      fg_conv_plan_destroy(p);
    }
  free(want);
  free(scale);
  fg_free(res);
  free(sites);
  free(in_set);
}

START_TEST(test_forward_matches_definition)
{
  layer l;
  layer_init(&l, &shapes[_i], 1000 + (uint64_t)_i);
  check_operation(&l, 0);
  layer_free(&l);
}
END_TEST

START_TEST(test_backward_input_matches_definition)
{
  layer l;
  layer_init(&l, &shapes[_i], 2000 + (uint64_t)_i);
  check_operation(&l, 1);
  layer_free(&l);
}
END_TEST

/* backward_weight on every subset and both paths against the reference;
 * it must add to what the arrays hold. */
START_TEST(test_backward_weight_matches_definition)
{
  layer l;
  layer_init(&l, &shapes[_i], 3000 + (uint64_t)_i);
  size_t nr = l.nw + (size_t)l.s.cout;
  double *want = malloc(sizeof(double) * nr), *scale = malloc(sizeof(double) * nr);
  double *got = malloc(sizeof(double) * nr);
  int *sites = malloc(sizeof(int) * (size_t)l.V);
  ck_assert(want && scale && got && sites);
  for (int kind = 0; kind < NSUBSETS; ++kind) {
    int n = make_subset(&l, kind, sites);
    reference_backward_weight(&l, sites, n, want, scale);
    for (int a = 0; a < 2; ++a) {
      fg_conv_plan *p = make_plan(&l, isas[a]);
      for (size_t j = 0; j < nr; ++j)
        got[j] = 0.5 * (double)j;
      fg_conv_backward_weight(p, l.in, l.gout, got, got + l.nw, kind == SUB_ALL ? NULL : sites,
                              n);
      for (size_t j = 0; j < nr; ++j)
        assert_close(got[j] - 0.5 * (double)j, want[j], scale[j],
                     j < l.nw ? "gweight" : "gbias", (int)j);
      fg_conv_plan_destroy(p);
    }
  }
  free(want);
  free(scale);
  free(got);
  free(sites);
  layer_free(&l);
}
END_TEST

static double dot(const float *a, const float *b, size_t n)
{
  double s = 0;
  for (size_t j = 0; j < n; ++j)
    s += (double)a[j] * b[j];
  return s;
}

/* <gout, W in> = <W^T gout, in> with zero bias, over all sites. */
START_TEST(test_backward_input_is_adjoint)
{
  layer l;
  layer_init(&l, &shapes[_i], 4000 + (uint64_t)_i);
  for (int a = 0; a < 2; ++a) {
    use_isa(isas[a]);
    fg_error err;
    fg_conv_plan *p = fg_conv_plan_create(&l.st, l.s.cin, l.s.cout, &err);
    ck_assert_ptr_nonnull(p);
    fg_conv_set_weights(p, l.w, NULL);
    float *out = fg_alloc(sizeof(float) * l.nout, NULL, "test");
    float *gin = fg_alloc(sizeof(float) * l.nin, NULL, "test");
    fg_conv_forward(p, l.in, out, NULL, 0);
    fg_conv_backward_input(p, l.gout, gin, NULL, 0);
    double lhs = dot(l.gout, out, l.nout), rhs = dot(gin, l.in, l.nin);
    double scale = sqrt((double)l.nout * l.s.cin * l.ntaps);
    ck_assert_msg(fabs(lhs - rhs) <= 1e-5 * scale, "%s: <g, W x> = %.9g, <W^T g, x> = %.9g",
                  isas[a], lhs, rhs);
    fg_free(out);
    fg_free(gin);
    fg_conv_plan_destroy(p);
  }
  layer_free(&l);
}
END_TEST

/* L(W, b) = sum_{y in subset} <gout[y], forward(in)[y]>, forward on the subset. */
static double subset_objective(const layer *l, const float *w, const float *b, const int *sites,
                               int n)
{
  fg_error err;
  fg_conv_plan *p = fg_conv_plan_create(&l->st, l->s.cin, l->s.cout, &err);
  ck_assert_ptr_nonnull(p);
  fg_conv_set_weights(p, w, b);
  float *out = fg_alloc(sizeof(float) * l->nout, NULL, "test");
  fg_conv_forward(p, l->in, out, sites, n);
  double s = 0;
  for (int o = 0; o < l->s.cout; ++o)
    for (int j = 0; j < n; ++j)
      for (int lane = 0; lane < FG_VLEN; ++lane)
        s += (double)l->gout[at(l, o, sites[j], lane)] * out[at(l, o, sites[j], lane)];
  fg_free(out);
  fg_conv_plan_destroy(p);
  return s;
}

/* backward_weight is the gradient of L: central differences (exact up to
 * rounding, L being linear in the parameters) on a few weights and a bias. */
START_TEST(test_backward_weight_is_gradient)
{
  layer l;
  layer_init(&l, &shapes[_i], 5000 + (uint64_t)_i);
  int *sites = malloc(sizeof(int) * (size_t)l.V);
  int n = make_subset(&l, SUB_ODD, sites);
  double *gw = calloc(l.nw, sizeof(double)), *gb = calloc((size_t)l.s.cout, sizeof(double));
  ck_assert(gw != NULL && gb != NULL);
  for (int a = 0; a < 2; ++a) {
    fg_conv_plan *p = make_plan(&l, isas[a]);
    memset(gw, 0, sizeof(double) * l.nw);
    memset(gb, 0, sizeof(double) * (size_t)l.s.cout);
    fg_conv_backward_weight(p, l.in, l.gout, gw, gb, sites, n);
    fg_conv_plan_destroy(p);
    const double h = 0.25, scale = (double)n * FG_VLEN * l.s.cin * l.ntaps;
    size_t probes[3] = {0, l.nw / 2, l.nw - 1};
    for (int q = 0; q < 3; ++q) {
      float keep = l.w[probes[q]];
      l.w[probes[q]] = keep + (float)h;
      double up = subset_objective(&l, l.w, l.b, sites, n);
      l.w[probes[q]] = keep - (float)h;
      double down = subset_objective(&l, l.w, l.b, sites, n);
      l.w[probes[q]] = keep;
      double fd = (up - down) / (2 * h);
      ck_assert_msg(fabs(fd - gw[probes[q]]) <= 1e-5 * scale, "%s: dL/dw[%zu] %.9g vs %.9g",
                    isas[a], probes[q], gw[probes[q]], fd);
    }
    int o = l.s.cout - 1;
    float keep = l.b[o];
    l.b[o] = keep + (float)h;
    double up = subset_objective(&l, l.w, l.b, sites, n);
    l.b[o] = keep - (float)h;
    double down = subset_objective(&l, l.w, l.b, sites, n);
    l.b[o] = keep;
    ck_assert_msg(fabs((up - down) / (2 * h) - gb[o]) <= 1e-5 * scale, "%s: dL/db", isas[a]);
  }
  free(gw);
  free(gb);
  free(sites);
  layer_free(&l);
}
END_TEST

/* Both paths agree on every output, and sites == NULL equals the full list. */
START_TEST(test_paths_agree)
{
  layer l;
  layer_init(&l, &shapes[_i], 6000 + (uint64_t)_i);
  float *out[2], *gin[2];
  double *gw[2], *gb[2];
  int *all = malloc(sizeof(int) * (size_t)l.V);
  for (int y = 0; y < l.V; ++y)
    all[y] = y;
  for (int a = 0; a < 2; ++a) {
    fg_conv_plan *p = make_plan(&l, isas[a]);
    out[a] = fg_alloc(sizeof(float) * l.nout, NULL, "test");
    gin[a] = fg_alloc(sizeof(float) * l.nin, NULL, "test");
    gw[a] = calloc(l.nw, sizeof(double));
    gb[a] = calloc((size_t)l.s.cout, sizeof(double));
    ck_assert(gw[a] != NULL && gb[a] != NULL);
    fg_conv_forward(p, l.in, out[a], NULL, 0);
    fg_conv_backward_input(p, l.gout, gin[a], NULL, 0);
    fg_conv_backward_weight(p, l.in, l.gout, gw[a], gb[a], NULL, 0);
    float *again = fg_alloc(sizeof(float) * l.nout, NULL, "test");
    fg_conv_forward(p, l.in, again, all, l.V);
    ck_assert(memcmp(again, out[a], sizeof(float) * l.nout) == 0);
    fg_free(again);
    fg_conv_plan_destroy(p);
  }
  double tol = 1e-5 * l.s.cin * l.ntaps, tolw = 1e-5 * l.V * FG_VLEN;
  for (size_t j = 0; j < l.nout; ++j)
    if (!(fabs(out[0][j] - out[1][j]) <= tol))
      ck_abort_msg("forward paths differ at %zu", j);
  for (size_t j = 0; j < l.nin; ++j)
    if (!(fabs(gin[0][j] - gin[1][j]) <= tol * l.s.cout))
      ck_abort_msg("backward_input paths differ at %zu", j);
  for (size_t j = 0; j < l.nw; ++j)
    if (!(fabs(gw[0][j] - gw[1][j]) <= tolw))
      ck_abort_msg("weight gradients differ at %zu", j);
  for (int o = 0; o < l.s.cout; ++o)
    if (!(fabs(gb[0][o] - gb[1][o]) <= tolw))
      ck_abort_msg("bias gradients differ at %d", o);
  for (int a = 0; a < 2; ++a) {
    fg_free(out[a]);
    fg_free(gin[a]);
    free(gw[a]);
    free(gb[a]);
  }
  free(all);
  layer_free(&l);
}
END_TEST

START_TEST(test_bad_arguments)
{
  fg_lattice lat;
  fg_stencil st;
  fg_error err;
  int ext[2] = {4, 4};
  ck_assert_int_eq(fg_lattice_init(&lat, 2, ext, &err), FG_OK);
  ck_assert_int_eq(fg_stencil_init(&st, &lat, 3, &err), FG_OK);
  err.code = FG_OK;
  ck_assert_ptr_null(fg_conv_plan_create(&st, 0, 2, &err));
  ck_assert_int_eq(err.code, FG_ERR_INPUT);
  ck_assert_ptr_nonnull(strstr(err.msg, "fg_conv_plan_create [conv.c]"));
  ck_assert_ptr_null(fg_conv_plan_create(&st, 3, -1, &err));
  fg_stencil empty = {0};
  ck_assert_ptr_null(fg_conv_plan_create(&empty, 1, 1, &err));
  fg_conv_plan_destroy(NULL);
  ck_assert_double_eq(fg_conv_flops(100, 12, 2, 5), 2.0 * 100 * 12 * 2 * 25);
  setenv("FLOWGEN_ISA", "portable", 1);
  ck_assert_str_eq(fg_conv_isa(), "portable");
  unsetenv("FLOWGEN_ISA");
  const char *isa = fg_conv_isa();
  ck_assert(strcmp(isa, "portable") == 0 || strcmp(isa, "avx512") == 0);
  fg_stencil_free(&st);
  fg_lattice_free(&lat);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("conv");
  TCase *tc = tcase_create("conv");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, test_forward_matches_definition, 0, NSHAPES);
  tcase_add_loop_test(tc, test_backward_input_matches_definition, 0, NSHAPES);
  tcase_add_loop_test(tc, test_backward_weight_matches_definition, 0, NSHAPES);
  tcase_add_loop_test(tc, test_backward_input_is_adjoint, 0, NSHAPES);
  tcase_add_loop_test(tc, test_backward_weight_is_gradient, 0, NSHAPES);
  tcase_add_loop_test(tc, test_paths_agree, 0, NSHAPES);
  tcase_add_test(tc, test_bad_arguments);
  suite_add_tcase(s, tc);
  return fg_test_run(s);
}
