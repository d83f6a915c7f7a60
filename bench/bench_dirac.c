/*
 * bench_dirac.c -- cost of the exact fermion determinant of the Schwinger
 * model (dirac.h): log det D^dagger D alone, with its gradient, and both
 * on the same configurations (a training step's action, then its force),
 * ms of CPU time per configuration over blocks of FG_VLEN different
 * configurations, on L x L lattices (L = 8, 12, 16, 24), against the
 * machine's ZGEMM rate measured in the same run.
 *
 * Three methods: fg_dirac_logdet one configuration at a time with the
 * even-odd reduction (the default on even lattices: LAPACK's LU and
 * inverse of the V x V Schur complement) and with the full N x N LU, and
 * fg_dirac_logdet_lanes, the even-odd reduction of FG_VLEN configurations
 * at once (lane_lu; up to 12x12, one by one beyond). FLOP counts (real
 * floating-point operations, a complex multiply-add = 8): LU (zgetrf)
 * 8/3 M^3, inverse (zgetri) 16/3 M^3, M = N = 2 L^2 (full) or V = L^2
 * (even-odd); building the matrix and the gradient's trace are lower order
 * and left out. ZGEMM of n x n: 8 n^3.
 *
 * Then the matrix-free operator (what pseudofermion HMC runs on):
 *  - fg_dirac_apply (links to hopping factors included) and one CG
 *    iteration (two hopping kernels and the vector updates) per site, for L
 *    = 8 to 512, with the bandwidth the CG rate implies: 672 bytes per site
 *    and iteration are compulsory (each kernel reads psi 32, the hopping
 *    factors 64, the neighbour tables 16 and writes 32; the vector updates
 *    move 384: <p, Ap>, x += a p, r -= a Ap, |r|^2, p = r + b p);
 *  - CG iterations per solve (relative residual 1e-10) against kappa on 8x8
 *    and 16x16 gauge fields thermalised by pure-gauge HMC at beta = 2;
 *  - pseudofermion HMC trajectories per second at 8x8, beta = 2, kappa =
 *    0.25 (Omelyan, tau = 1, 8 steps; the stored exact action included).
 *
 * Usage: bench_dirac [seconds per measurement, default 0.5]; one core:
 *   OPENBLAS_NUM_THREADS=1 taskset -c 0 build/bench/bench_dirac
 */
#include <complex.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "flowgen/dirac.h"
#include "flowgen/hmc.h"
#include "flowgen/nn.h"
#include "flowgen/rng.h"
#include "flowgen/theory.h"
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

static fg_theory *schwinger(int L, double beta, double kappa)
{
  fg_theory_config c = {.name = FG_THEORY_SCHWINGER, .nd = 2, .extent = {L, L}, .beta = beta,
                        .kappa = kappa};
  fg_theory *t = NULL;
  fg_error err = {0};
  if (fg_theory_create(&c, &t, &err) != FG_OK) {
    fprintf(stderr, "%s\n", err.msg);
    exit(1);
  }
  return t;
}

/* The operator at kappa on an L x L lattice (lat filled; default boundary
 * conditions); exits on failure. */
static fg_dirac *dirac_on(int L, double kappa, fg_lattice *lat)
{
  fg_dirac *d;
  fg_error err = {0};
  int ext[2] = {L, L}, bc[2] = {-1, 1};
  if (fg_lattice_init(lat, 2, ext, &err) != FG_OK ||
      fg_dirac_create(lat, kappa, bc, &d, &err) != FG_OK) {
    fprintf(stderr, "%s\n", err.msg);
    exit(1);
  }
  return d;
}

/* Omelyan HMC with tau = 1 in md_steps steps. */
static fg_hmc *omelyan(const fg_theory *t, int md_steps)
{
  fg_hmc_params p = {.trajectory_length = 1.0, .md_steps = md_steps,
                     .integrator = FG_INTEGRATOR_OMELYAN};
  fg_hmc *h;
  fg_error err = {0};
  if (fg_hmc_create(t, &p, &h, &err) != FG_OK) {
    fprintf(stderr, "%s\n", err.msg);
    exit(1);
  }
  return h;
}

/* A pure-gauge field at beta after ntraj HMC trajectories from the cold start. */
static double *gauge_field(int L, double beta, int ntraj, uint64_t seed)
{
  fg_theory *t = schwinger(L, beta, 0.0);
  fg_hmc *h = omelyan(t, 10);
  double *phi = calloc((size_t)fg_theory_ndof(t), sizeof(double));
  fg_hmc_outcome o;
  for (int k = 0; k < ntraj; ++k)
    fg_hmc_trajectory(h, phi, seed, 0, (uint64_t)k, &o);
  fg_hmc_destroy(h);
  fg_theory_destroy(t);
  return phi;
}

/* One core's memory bandwidth for reference: a STREAM-like triad a = b + s c
 * on 3 x 64 MB (24 bytes per element; write-allocate not counted). */
static double triad_gbs(double seconds)
{
  const size_t n = (size_t)1 << 23;
  double *a = malloc(sizeof(double) * n), *b = malloc(sizeof(double) * n),
         *c = malloc(sizeof(double) * n);
  for (size_t i = 0; i < n; ++i)
    a[i] = 0.0, b[i] = 1.0, c[i] = 2.0;
  long reps = 0;
  double t0 = fg_wall_time(), t;
  do {
    for (size_t i = 0; i < n; ++i)
      a[i] = b[i] + 0.5 * c[i];
    ++reps;
  } while ((t = fg_wall_time() - t0) < seconds);
  double sink = a[n / 2];
  free(a), free(b), free(c);
  return 24.0 * (double)n * (double)reps / t * 1e-9 + 0.0 * sink;
}

static void apply_rates(double seconds)
{
  printf("\nmatrix-free operator, one core (kappa 0.25, random links); memory triad %.1f GB/s\n",
         triad_gbs(seconds));
  printf("%-6s %-16s %-16s %-12s\n", "L", "apply ns/site", "CG iter ns/site", "CG GB/s");
  for (int L = 8; L <= 512; L *= 2) {
    fg_lattice lat;
    fg_dirac *d = dirac_on(L, 0.25, &lat);
    fg_error err = {0};
    size_t v = (size_t)lat.volume, n = 2 * v;
    double *theta = malloc(sizeof(double) * 2 * v);
    double complex *psi = malloc(sizeof(double complex) * n), *out = malloc(sizeof *out * n);
    fg_rng r;
    fg_rng_init(&r, 5, FG_RNG_TEST, (uint64_t)L, 0);
    for (size_t i = 0; i < 2 * v; ++i)
      theta[i] = 3.0 * (fg_rng_uniform(&r) - 0.5);
    for (size_t i = 0; i < n; ++i)
      psi[i] = CMPLX(fg_rng_uniform(&r) - 0.5, fg_rng_uniform(&r) - 0.5);
    long reps = 0;
    double t0 = fg_wall_time(), t;
    do {
      fg_dirac_apply(d, theta, 1, psi, out, (int)(reps & 1));
      ++reps;
    } while ((t = fg_wall_time() - t0) < seconds);
    double apply_ns = 1e9 * t / (double)reps / (double)v;
    /* CG with a fixed iteration count: the cost per iteration */
    long iters = 0;
    t0 = fg_wall_time();
    do {
      int its = 0;
      fg_dirac_cg(d, theta, 1, psi, out, 1e-30, 20, &its, &err); /* never converges: 20 */
      iters += its;
    } while ((t = fg_wall_time() - t0) < seconds);
    double cg_ns = 1e9 * t / (double)iters / (double)v;
    printf("%-6d %-16.2f %-16.2f %-12.1f\n", L, apply_ns, cg_ns, 672.0 / cg_ns);
    free(theta), free(psi), free(out);
    fg_dirac_destroy(d);
    fg_lattice_free(&lat);
  }
}

static void cg_iterations_against_kappa(void)
{
  static const double kappas[] = {0.1, 0.2, 0.24, 0.25, 0.26, 0.263, 0.27};
  const int nk = (int)(sizeof kappas / sizeof kappas[0]), nfield = 8;
  printf("\nCG iterations per solve (relative residual 1e-10), beta = 2 gauge fields, "
         "mean over %d fields [min, max]\n", nfield);
  printf("%-8s %-22s %-22s\n", "kappa", "8x8", "16x16");
  double *fields[2][8];
  for (int s = 0; s < 2; ++s)
    for (int f = 0; f < nfield; ++f)
      fields[s][f] = gauge_field(8 << s, 2.0, 50 + 10 * f, 100 + (uint64_t)f);
  for (int k = 0; k < nk; ++k) {
    printf("%-8.3f", kappas[k]);
    for (int s = 0; s < 2; ++s) {
      int L = 8 << s;
      fg_lattice lat;
      fg_dirac *d = dirac_on(L, kappas[k], &lat);
      fg_error err = {0};
      size_t n = 2 * (size_t)lat.volume;
      double complex *b = malloc(sizeof *b * n), *x = malloc(sizeof *x * n);
      fg_rng r;
      fg_rng_init(&r, 9, FG_RNG_TEST, 0, 0);
      int lo = 1 << 30, hi = 0, failed = 0;
      double sum = 0;
      for (int f = 0; f < nfield; ++f) {
        for (size_t i = 0; i < n; ++i)
          b[i] = CMPLX(fg_rng_uniform(&r) - 0.5, fg_rng_uniform(&r) - 0.5);
        int its = 0;
        failed += fg_dirac_cg(d, fields[s][f], 1, b, x, 1e-10, 100000, &its, &err) != FG_OK;
        sum += its;
        lo = its < lo ? its : lo;
        hi = its > hi ? its : hi;
      }
      char cell[64];
      snprintf(cell, sizeof cell, "%.0f [%d, %d]%s", sum / nfield, lo, hi,
               failed ? " (failed)" : "");
      printf(" %-22s", cell);
      free(b), free(x);
      fg_dirac_destroy(d);
      fg_lattice_free(&lat);
    }
    printf("\n");
  }
  for (int s = 0; s < 2; ++s)
    for (int f = 0; f < nfield; ++f)
      free(fields[s][f]);
}

static void hmc_rate(double seconds)
{
  fg_theory *t = schwinger(8, 2.0, 0.25);
  fg_hmc *h = omelyan(t, 8);
  double *phi = calloc((size_t)fg_theory_ndof(t), sizeof(double));
  fg_hmc_outcome o;
  int k = 0, acc = 0;
  for (; k < 50; ++k)
    fg_hmc_trajectory(h, phi, 7, 0, (uint64_t)k, &o);
  long reps = 0;
  double t0 = fg_wall_time(), el;
  do {
    fg_hmc_trajectory(h, phi, 7, 0, (uint64_t)k++, &o);
    acc += o.accepted;
    ++reps;
  } while ((el = fg_wall_time() - t0) < 4 * seconds);
  fg_solver cg;
  fg_theory_solver_stats(t, &cg);
  printf("\npseudofermion HMC, 8x8, beta 2, kappa 0.25, Omelyan tau 1 in 8 steps: "
         "%.0f trajectories/s (acceptance %.3f, %.1f CG iterations per solve)\n",
         (double)reps / el, (double)acc / (double)reps, (double)cg.iterations / (double)cg.solves);
  free(phi);
  fg_hmc_destroy(h);
  fg_theory_destroy(t);
}

/* This thread's CPU time in seconds (the machine may be shared). */
static double cpu_time(void)
{
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ms (CPU time) per configuration of log det alone (kind 0), with the
 * gradient (1), and of both on the same block one after the other (2: a
 * training step's action, then its force), over blocks of FG_VLEN
 * different configurations, theta[2][2V][FG_VLEN], the two blocks taken in
 * turn (so that no call finds the factors of the one before). method 0:
 * the even-odd LU per configuration (LAPACK), 1: the full LU per
 * configuration, 2: the even-odd LU of all lanes at once. */
static void logdet_ms(fg_dirac *d, const double *theta, int method, double seconds, double ms[3])
{
  enum { NL = FG_VLEN };
  const int nd = fg_dirac_size(d);
  double *grad = malloc(sizeof(double) * (size_t)nd * NL), ld[NL];
  fg_error err = {0};
  fg_dirac_set_even_odd(d, method != 1);
  for (int kind = 0; kind < 3; ++kind) {
    long reps = 0;
    double t0 = cpu_time(), t;
    do {
      const double *block = theta + (size_t)(reps / NL % 2) * (size_t)nd * NL;
      int rc = FG_OK;
      for (int call = kind == 2 ? 0 : kind; call <= (kind == 2 ? 1 : kind) && rc == FG_OK; ++call) {
        double *g = call ? grad : NULL;
        if (method == 2)
          rc = fg_dirac_logdet_lanes(d, block, NL, ld, g, &err);
        for (int l = 0; method != 2 && l < NL && rc == FG_OK; ++l)
          rc = fg_dirac_logdet(d, block + l, NL, &ld[l], g != NULL ? g + l : NULL, NL, &err);
      }
      if (rc != FG_OK) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
      }
      reps += NL;
    } while ((t = cpu_time() - t0) < seconds);
    ms[kind] = 1e3 * t / (double)reps;
  }
  free(grad);
}

int main(int argc, char **argv)
{
  static const char *const method_name[3] = {"even-odd", "full", "eo-lanes"};
  double seconds = argc > 1 ? atof(argv[1]) : 0.5;
  printf("ms (CPU time) per configuration, blocks of %d different configurations; GFLOP/s of "
         "the dense work (M = N/2 even-odd, N full); 'action+force': log det, then log det and "
         "gradient of the same block\n", FG_VLEN);
  printf("%-6s %-6s %-10s %-12s %-10s %-16s %-10s %-12s\n", "L", "N", "method", "logdet ms",
         "GFLOP/s", "logdet+grad ms", "GFLOP/s", "action+force");
  static const int sizes[] = {8, 12, 16, 24};
  for (int size = 0; size < 4; ++size) {
    const int L = sizes[size];
    fg_lattice lat;
    fg_dirac *d = dirac_on(L, 0.25, &lat);
    int v = lat.volume, n = 2 * v;
    double *theta = malloc(sizeof(double) * 2 * 2 * (size_t)v * FG_VLEN);
    for (int i = 0; i < 2 * 2 * v; ++i)
      for (int l = 0; l < FG_VLEN; ++l)
        theta[(size_t)i * FG_VLEN + l] = 0.3 * ((i * 7919 + 31 * l) % 13 - 6) / 6.0;
    for (int method = 0; method < 3; ++method) {
      if (method == 2 && L > 12)
        continue; /* one by one there (dirac.h) */
      double ms[3];
      logdet_ms(d, theta, method, seconds, ms);
      /* The dense work: a matrix of size N (full) or N / 2 (even-odd). */
      double m = method == 1 ? n : n / 2.0, m3 = m * m * m;
      printf("%-6d %-6d %-10s %-12.4f %-10.1f %-16.4f %-10.1f %-12.4f\n", L, n,
             method_name[method], ms[0], 8.0 / 3 * m3 / ms[0] * 1e-6, ms[1],
             8.0 * m3 / ms[1] * 1e-6, ms[2]);
    }
    free(theta);
    fg_dirac_destroy(d);
    fg_lattice_free(&lat);
  }
  printf("ZGEMM %d x %d: %.1f GFLOP/s\n", 512, 512, zgemm_gflops(512, seconds));
  apply_rates(seconds);
  cg_iterations_against_kappa();
  hmc_rate(seconds);
  return 0;
}
