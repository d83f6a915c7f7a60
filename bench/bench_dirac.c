/*
 * bench_dirac.c -- cost of the exact fermion determinant of the Schwinger
 * model (dirac.h): log det D^dagger D alone and with its gradient, per
 * configuration, on L x L lattices (L = 8, 16, 24), against the machine's
 * ZGEMM rate measured in the same run.
 *
 * FLOP counts (real floating-point operations, a complex multiply-add = 8):
 * LU (zgetrf) 8/3 N^3, inverse (zgetri) 16/3 N^3, N = 2 L^2; building D and
 * the gradient's trace are O(N) and O(N^2) and left out. ZGEMM of n x n:
 * 8 n^3.
 *
 * Usage: bench_dirac [seconds per measurement, default 0.5]; one core:
 *   OPENBLAS_NUM_THREADS=1 taskset -c 0 build/bench/bench_dirac
 */
#include <complex.h>
#include <stdio.h>
#include <stdlib.h>

#include "flowgen/dirac.h"
#include "flowgen/util.h"

void zgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k,
            const double complex *alpha, const double complex *a, const int *lda,
            const double complex *b, const int *ldb, const double complex *beta,
            double complex *c, const int *ldc);

static double zgemm_gflops(int n, double seconds)
{
  double complex *a = calloc((size_t)n * n, sizeof *a), *b = calloc((size_t)n * n, sizeof *b),
                 *c = calloc((size_t)n * n, sizeof *c), one = 1, zero = 0;
  for (size_t i = 0; i < (size_t)n * n; ++i)
    a[i] = b[i] = 1e-3 * (double)(i % 17);
  long reps = 0;
  double t0 = fg_wall_time(), t;
  do {
    zgemm_("N", "N", &n, &n, &n, &one, a, &n, b, &n, &zero, c, &n);
    ++reps;
  } while ((t = fg_wall_time() - t0) < seconds);
  free(a), free(b), free(c);
  return 8.0 * n * (double)n * n * (double)reps / t * 1e-9;
}

int main(int argc, char **argv)
{
  double seconds = argc > 1 ? atof(argv[1]) : 0.5;
  printf("%-6s %-6s %-16s %-10s %-18s %-10s\n", "L", "N", "logdet ms", "GFLOP/s",
         "logdet+grad ms", "GFLOP/s");
  for (int L = 8; L <= 24; L += 8) {
    fg_lattice lat;
    fg_dirac *d;
    fg_error err = {0};
    int ext[2] = {L, L}, bc[2] = {-1, 1};
    if (fg_lattice_init(&lat, 2, ext, &err) != FG_OK ||
        fg_dirac_create(&lat, 0.25, bc, &d, &err) != FG_OK) {
      fprintf(stderr, "%s\n", err.msg);
      return 1;
    }
    int v = lat.volume, n = 2 * v;
    double *theta = malloc(sizeof(double) * 2 * v), *grad = malloc(sizeof(double) * 2 * v);
    for (int i = 0; i < 2 * v; ++i)
      theta[i] = 0.3 * ((i * 7919) % 13 - 6) / 6.0;
    double ms[2], ld;
    for (int with_grad = 0; with_grad < 2; ++with_grad) {
      long reps = 0;
      double t0 = fg_wall_time(), t;
      do {
        if (fg_dirac_logdet(d, theta, 1, &ld, with_grad ? grad : NULL, 1, &err) != FG_OK) {
          fprintf(stderr, "%s\n", err.msg);
          return 1;
        }
        ++reps;
      } while ((t = fg_wall_time() - t0) < seconds);
      ms[with_grad] = 1e3 * t / (double)reps;
    }
    double n3 = (double)n * n * n;
    printf("%-6d %-6d %-16.3f %-10.1f %-18.3f %-10.1f\n", L, n, ms[0], 8.0 / 3 * n3 / ms[0] * 1e-6,
           ms[1], 8.0 * n3 / ms[1] * 1e-6);
    free(theta), free(grad);
    fg_dirac_destroy(d);
    fg_lattice_free(&lat);
  }
  printf("ZGEMM %d x %d: %.1f GFLOP/s\n", 512, 512, zgemm_gflops(512, seconds));
  return 0;
}
