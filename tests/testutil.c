/* testutil.c -- helpers shared by the Check tests (see testutil.h). */
#include "testutil.h"

#include "flowgen/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fg_test_run(Suite *s)
{
  SRunner *sr = srunner_create(s);
  /* In-process: MPI tests need it, and the sanitizers then see every test. */
  srunner_set_fork_status(sr, CK_NOFORK);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

char *fg_test_tmpdir(void)
{
  const char *base = getenv("TMPDIR");
  char templ[4096];
  snprintf(templ, sizeof templ, "%s/flowgen-test-XXXXXX", base ? base : "/tmp");
  char *d = mkdtemp(templ);
  return d ? strdup(d) : NULL;
}

int fg_test_write_file(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  size_t n = strlen(text);
  int rc = fwrite(text, 1, n, f) == n ? 0 : -1;
  if (fclose(f) != 0)
    rc = -1;
  return rc;
}

int fg_test_remove_dir(const char *dir)
{
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

void fg_test_grad_logq_fd(const fg_flow *f, fg_flow_work *w, double *phi, const double *g,
                          double *worst, double *gmax, int *skipped)
{
  enum { L = FG_VLEN };
  const size_t nd = (size_t)fg_flow_ndof(f);
  double *z2 = malloc(sizeof(double) * nd * L);
  ck_assert_ptr_nonnull(z2);
  *worst = *gmax = 0;
  *skipped = 0;
  for (size_t j = 0; j < nd; ++j) {
    double keep[L], fd[2][L];
    memcpy(keep, phi + j * L, sizeof keep);
    for (int k = 0; k < 2; ++k) {
      const double h = k ? 2.5e-4 : 1e-3;
      double lp[L], lm[L];
      for (int sgn = 0; sgn < 2; ++sgn) {
        for (int l = 0; l < L; ++l)
          phi[j * L + l] = keep[l] + (sgn ? -h : h);
        fg_flow_inverse(f, w, phi, z2, sgn ? lm : lp);
      }
      for (int l = 0; l < L; ++l)
        fd[k][l] = (lp[l] - lm[l]) / (2 * h);
    }
    memcpy(phi + j * L, keep, sizeof keep);
    for (int l = 0; l < L; ++l) {
      if (fabs(fd[0][l] - fd[1][l]) > 1e-3 * (1 + fabs(fd[0][l]))) {
        ++*skipped;
        continue;
      }
      *worst = fmax(*worst, fabs(fd[0][l] - g[j * L + l]) / (1 + fabs(fd[0][l])));
      *gmax = fmax(*gmax, fabs(fd[0][l]));
    }
  }
  free(z2);
}

/* The central difference of loss(f, ctx) in parameter k, step h; the
 * parameters are restored (p holds them, p0 the originals). */
static double central_difference(fg_flow *f, double (*loss)(fg_flow *f, void *ctx), void *ctx,
                                 float *p, const float *p0, size_t k, float h)
{
  p[k] = p0[k] + h;
  fg_flow_set_params(f, p);
  double lp = loss(f, ctx);
  p[k] = p0[k] - h;
  fg_flow_set_params(f, p);
  double lm = loss(f, ctx);
  p[k] = p0[k];
  fg_flow_set_params(f, p);
  return (lp - lm) / (2.0 * h);
}

/* Central differences (step h, exact in float32) in every parameter of
 * loss(f, ctx) against grad: bad = entries off by more than 3e-2 (1 + |fd|),
 * gmax = largest |fd|. With skipped non-NULL, an entry that is off and
 * whose difference with h / 4 is as far from the first straddles a kink
 * and is counted in skipped instead. */
static void parameter_fd(fg_flow *f, double (*loss)(fg_flow *f, void *ctx), void *ctx,
                         const double *grad, int *bad, double *gmax, int *skipped)
{
  size_t n = fg_flow_nparams(f);
  float *p0 = malloc(sizeof(float) * n), *p = malloc(sizeof(float) * n);
  ck_assert(p0 && p);
  memcpy(p0, fg_flow_params(f), sizeof(float) * n);
  memcpy(p, p0, sizeof(float) * n);
  const float h = 1.0f / 4096; /* exact in float; small, so few kinks are crossed */
  *bad = 0;
  *gmax = 0;
  if (skipped != NULL)
    *skipped = 0;
  for (size_t k = 0; k < n; ++k) {
    const double fd = central_difference(f, loss, ctx, p, p0, k, h);
    *gmax = fmax(*gmax, fabs(fd));
    if (fabs(fd - grad[k]) <= 3e-2 * (1.0 + fabs(fd)))
      continue;
    if (skipped != NULL &&
        fabs(fd - central_difference(f, loss, ctx, p, p0, k, h / 4)) > 3e-2 * (1.0 + fabs(fd)))
      ++*skipped;
    else
      ++*bad;
  }
  free(p0), free(p);
}

typedef struct {
  fg_flow_work *w;
  const double *phi, *coef;
  double *z2;
} score_point;

/* sum_l coef_l log q(phi_l), through the inverse. */
static double weighted_logq(fg_flow *f, void *ctx)
{
  enum { L = FG_VLEN };
  score_point *s = ctx;
  double logq[L], sum = 0;
  fg_flow_inverse(f, s->w, s->phi, s->z2, logq);
  for (int l = 0; l < L; ++l)
    sum += s->coef[l] * logq[l];
  return sum;
}

void fg_test_score_fd(fg_flow *f, fg_flow_work *w, uint64_t seed, int *bad, double *gmax,
                      int *skipped)
{
  enum { L = FG_VLEN };
  size_t n = fg_flow_nparams(f), nd = (size_t)fg_flow_ndof(f) * L;
  double *grad = calloc(n, sizeof(double)), *z = malloc(sizeof(double) * nd),
         *phi = malloc(sizeof(double) * nd), *z2 = malloc(sizeof(double) * nd);
  ck_assert(grad && z && phi && z2);
  double logq[L], coef[L];
  for (int l = 0; l < L; ++l)
    coef[l] = (l + 1.0) / L * (l % 2 ? 1 : -1);
  fg_flow_draw(f, seed, FG_RNG_TEST, 0, L, z);
  fg_flow_forward(f, w, z, phi, logq, 1);
  fg_flow_score_backward(f, w, z, coef, grad);
  score_point s = {.w = w, .phi = phi, .coef = coef, .z2 = z2};
  parameter_fd(f, weighted_logq, &s, grad, bad, gmax, skipped);
  free(grad), free(z), free(phi), free(z2);
}

void fg_test_scale_params(fg_flow *f, float factor)
{
  size_t n = fg_flow_nparams(f);
  float *p = malloc(sizeof(float) * n);
  ck_assert_ptr_nonnull(p);
  memcpy(p, fg_flow_params(f), sizeof(float) * n);
  for (size_t i = 0; i < n; ++i)
    p[i] *= factor;
  fg_flow_set_params(f, p);
  free(p);
}

double fg_test_block_loss(const fg_theory *th, const fg_flow *f, fg_model_block *b, uint64_t seed)
{
  enum { L = FG_VLEN };
  double loss = 0;
  fg_model_sample_block(th, f, b, seed, FG_RNG_TEST, 0, L);
  for (int l = 0; l < L; ++l)
    loss += (b->logq[l] + b->action[l]) / L;
  return loss;
}

typedef struct {
  const fg_theory *th;
  fg_model_block *b;
  uint64_t seed;
} kl_point;

static double kl_loss(fg_flow *f, void *ctx)
{
  kl_point *k = ctx;
  return fg_test_block_loss(k->th, f, k->b, k->seed);
}

void fg_test_kl_gradient_fd(const fg_theory *th, fg_flow *f, fg_model_block *b, uint64_t seed,
                            int *bad, double *gmax, int *skipped)
{
  enum { L = FG_VLEN };
  size_t n = fg_flow_nparams(f);
  double *grad = calloc(n, sizeof(double));
  ck_assert_ptr_nonnull(grad);
  fg_model_kl_gradient_block(th, f, b, seed, FG_RNG_TEST, 0, L, 1.0 / L, grad);
  kl_point k = {.th = th, .b = b, .seed = seed};
  parameter_fd(f, kl_loss, &k, grad, bad, gmax, skipped);
  free(grad);
}

typedef struct {
  fg_model_block *b;
  const double *phi;
} data_point;

/* -(1/L) sum_lanes log q(phi_l) at the given configurations. */
static double data_loss(fg_flow *f, void *ctx)
{
  enum { L = FG_VLEN };
  data_point *d = ctx;
  double lq[L], s = 0;
  fg_model_logq(f, d->b, d->phi, lq);
  for (int l = 0; l < L; ++l)
    s -= lq[l] / L;
  return s;
}

void fg_test_data_gradient_fd(const fg_theory *th, fg_flow *f, fg_model_block *b,
                              const double *phi, int *bad, double *gmax)
{
  enum { L = FG_VLEN };
  size_t n = fg_flow_nparams(f);
  double *grad = calloc(n, sizeof(double));
  ck_assert_ptr_nonnull(grad);
  fg_model_data_gradient_block(th, f, b, phi, L, 1.0 / L, grad);
  data_point d = {.b = b, .phi = phi};
  parameter_fd(f, data_loss, &d, grad, bad, gmax, NULL);
  free(grad);
}

void fg_test_path_plus_score(const fg_theory *th, const fg_flow *f, fg_model_block *b,
                             uint64_t seed, double *worst, double *scale, double *score)
{
  enum { L = FG_VLEN };
  size_t n = fg_flow_nparams(f);
  double *rep = calloc(n, sizeof(double)), *path = calloc(n, sizeof(double)),
         *g1 = calloc(n, sizeof(double)), *sc = calloc(n, sizeof(double));
  ck_assert(rep && path && g1 && sc);
  fg_model_kl_gradient_block(th, f, b, seed, FG_RNG_TEST, 0, L, 1.0 / L, rep);
  fg_model_path_gradient_block(th, f, b, seed, FG_RNG_TEST, 0, L, 1.0 / L, path);
  fg_model_score_gradient_block(th, f, b, seed, FG_RNG_TEST, 0, L, 1.0 / L, g1, sc);
  *worst = *scale = *score = 0;
  for (size_t k = 0; k < n; ++k) {
    *worst = fmax(*worst, fabs(rep[k] - path[k] - sc[k]));
    *scale = fmax(*scale, fabs(rep[k]));
    *score = fmax(*score, fabs(sc[k]));
  }
  free(rep), free(path), free(g1), free(sc);
}
