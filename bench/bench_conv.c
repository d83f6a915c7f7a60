/*
 * bench_conv.c -- microbenchmark of the convolution kernels (nn.h).
 *
 * For the layer shapes of the tutorial model (K=3 on 8x8: 1->8, 8->8, 8->2)
 * and of the paper model (K=5 on 10x10: 1->12, 12->12, 12->2), and for each
 * kernel path (portable, avx512 where the CPU runs it), times forward,
 * backward_input and backward_weight on 64 blocks of 16 samples, cycling
 * through the blocks so that the working set is a realistic batch, and
 * prints GFLOP/s. "dense" counts the FLOPs of a full convolution
 * (fg_conv_flops) whatever the site subset; "exec" counts those of the
 * sites actually computed. Then the same for a whole net 1->h->h->2 as a
 * coupling layer runs it (output layer on one checkerboard half; in the
 * backward pass the first layer's input gradient on the other half), and
 * the single-core peak of a register-only AVX-512 FMA loop for reference.
 * The net's layers keep separate arrays per block, a larger working set
 * than the flow's (which takes one block through all layers): with 64
 * blocks it spills from L2 to L3; a few blocks (argument 2) show the
 * in-cache speed.
 *
 * Usage: bench_conv [seconds per measurement, default 0.3] [blocks, default 64]
 * Each figure is the best of five trials (the minimum time: the machine may
 * be shared). Built by meson as build/bench/bench_conv; run it on one core,
 * e.g. taskset -c 1 build/bench/bench_conv 1.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flowgen/lattice.h"
#include "flowgen/nn.h"

/* Blocks of 16 samples cycled through (argument 2; 64 = a batch of 1024). */
static int NBLOCKS = 64;

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *checked(void *p)
{
  if (p == NULL) {
    fprintf(stderr, "bench_conv: out of memory\n");
    exit(1);
  }
  return p;
}

static float *random_floats(size_t n, uint64_t *state)
{
  float *a = checked(fg_alloc(sizeof(float) * n, NULL, "bench"));
  for (size_t j = 0; j < n; ++j) {
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    a[j] = (float)((double)(*state >> 11) / (double)(1ULL << 52) - 1.0);
  }
  return a;
}

/* One layer with NBLOCKS blocks of input, output and their gradients. */
typedef struct {
  int cin, cout, volume;
  fg_conv_plan *plan;
  float *in, *out, *gin, *gout; /* [NBLOCKS][channels][volume][FG_VLEN] */
  double *gw, *gb;
} layer;

static void layer_init(layer *l, const fg_stencil *st, int cin, int cout, uint64_t *state)
{
  fg_error err;
  l->cin = cin;
  l->cout = cout;
  l->volume = st->volume;
  l->plan = fg_conv_plan_create(st, cin, cout, &err);
  if (l->plan == NULL) {
    fprintf(stderr, "bench_conv: %s\n", err.msg);
    exit(1);
  }
  size_t nw = (size_t)cout * cin * st->ntaps, bin = (size_t)cin * st->volume * FG_VLEN;
  size_t bout = (size_t)cout * st->volume * FG_VLEN;
  float *w = random_floats(nw, state), *b = random_floats((size_t)cout, state);
  fg_conv_set_weights(l->plan, w, b);
  fg_free(w);
  fg_free(b);
  l->in = random_floats(bin * (size_t)NBLOCKS, state);
  l->gin = random_floats(bin * (size_t)NBLOCKS, state);
  l->out = random_floats(bout * (size_t)NBLOCKS, state);
  l->gout = random_floats(bout * (size_t)NBLOCKS, state);
  l->gw = checked(calloc(nw, sizeof(double)));
  l->gb = checked(calloc((size_t)cout, sizeof(double)));
}

static void layer_free(layer *l)
{
  fg_conv_plan_destroy(l->plan);
  fg_free(l->in);
  fg_free(l->gin);
  fg_free(l->out);
  fg_free(l->gout);
  free(l->gw);
  free(l->gb);
}

enum { OP_FORWARD, OP_BACKWARD_INPUT, OP_BACKWARD_WEIGHT };

/* One operation on block b of layer l. */
static void run_op(layer *l, int op, int b, const int *sites, int nsites)
{
  size_t bin = (size_t)l->cin * l->volume * FG_VLEN, bout = (size_t)l->cout * l->volume * FG_VLEN;
  float *in = l->in + (size_t)b * bin, *gin = l->gin + (size_t)b * bin;
  float *out = l->out + (size_t)b * bout, *gout = l->gout + (size_t)b * bout;
  if (op == OP_FORWARD)
    fg_conv_forward(l->plan, in, out, sites, nsites);
  else if (op == OP_BACKWARD_INPUT)
    fg_conv_backward_input(l->plan, gout, gin, sites, nsites);
  else
    fg_conv_backward_weight(l->plan, in, gout, l->gw, l->gb, sites, nsites);
}

/* Seconds per call of one operation, cycling over the blocks: the best of
 * five trials (the machine is shared; the minimum is the kernel's speed). */
static double time_op(layer *l, int op, const int *sites, int nsites, double seconds)
{
  for (int b = 0; b < NBLOCKS; ++b) /* warm up */
    run_op(l, op, b, sites, nsites);
  double best = 1e30;
  for (int trial = 0; trial < 5; ++trial) {
    long calls = 0;
    double t0 = now(), t;
    do {
      for (int b = 0; b < NBLOCKS; ++b)
        run_op(l, op, b, sites, nsites);
      calls += NBLOCKS;
      t = now() - t0;
    } while (t < seconds / 5);
    if (t / (double)calls < best)
      best = t / (double)calls;
  }
  return best;
}

typedef struct {
  const char *model;
  int L, ksize, hidden;
} model;

static const model models[] = {{"tutorial", 8, 3, 8}, {"paper", 10, 5, 12}};

static void bench_layer(const fg_stencil *st, const int *half, int nhalf, int cin, int cout,
                        const char *model_name, double seconds)
{
  static const char *const opname[] = {"forward", "backward_input", "backward_weight"};
  uint64_t state = 12345;
  layer l;
  layer_init(&l, st, cin, cout, &state);
  double dense = fg_conv_flops(st->volume, cin, cout, st->ksize) * FG_VLEN;
  for (int op = 0; op < 3; ++op)
    for (int sub = 0; sub < 2; ++sub) {
      /* subsets where the flow uses them: output layer forward and weight
       * gradient, first layer input gradient */
      int use_half = sub == 1 && ((op != OP_BACKWARD_INPUT && cout == 2) ||
                                  (op == OP_BACKWARD_INPUT && cin == 1));
      if (sub == 1 && !use_half)
        continue;
      int n = use_half ? nhalf : st->volume;
      double t = time_op(&l, op, use_half ? half : NULL, n, seconds);
      printf("%-8s %-6s K=%d %2d->%-2d %-16s %-5s %8.2f us %7.1f GFLOP/s dense %7.1f exec\n",
             model_name, fg_conv_isa(), st->ksize, cin, cout, opname[op], use_half ? "half" : "all",
             1e6 * t, 1e-9 * dense / t, 1e-9 * dense * n / st->volume / t);
    }
  layer_free(&l);
}

/* The net of one coupling layer: forward (output layer on half the sites)
 * and backward (input gradients down to the first layer's input on the
 * other half, weight gradients of all layers). Activations not included. */
static void bench_net(const fg_stencil *st, const int *half, const int *other, int nhalf, int h,
                      const char *model_name, double seconds)
{
  uint64_t state = 777;
  layer l[3];
  layer_init(&l[0], st, 1, h, &state);
  layer_init(&l[1], st, h, h, &state);
  layer_init(&l[2], st, h, 2, &state);
  double f[3], dense = 0, fwd_exec = 0, bwd_exec = 0;
  for (int j = 0; j < 3; ++j) {
    f[j] = fg_conv_flops(st->volume, l[j].cin, l[j].cout, st->ksize) * FG_VLEN;
    dense += f[j];
  }
  fwd_exec = f[0] + f[1] + f[2] * nhalf / st->volume;
  bwd_exec = f[0] * nhalf / st->volume + f[1] + f[2] /* input grads */
             + f[0] + f[1] + f[2] * nhalf / st->volume; /* weight grads */
  double tf = 1e30, tb = 1e30;
  for (int trial = 0; trial < 10; ++trial) {
    int pass = trial % 2;
    long calls = 0;
    double t0 = now(), t;
    do {
      for (int b = 0; b < NBLOCKS; ++b) {
        if (pass == 0) {
          run_op(&l[0], OP_FORWARD, b, NULL, 0);
          run_op(&l[1], OP_FORWARD, b, NULL, 0);
          run_op(&l[2], OP_FORWARD, b, half, nhalf);
        } else {
          run_op(&l[2], OP_BACKWARD_WEIGHT, b, half, nhalf);
          run_op(&l[2], OP_BACKWARD_INPUT, b, NULL, 0);
          run_op(&l[1], OP_BACKWARD_WEIGHT, b, NULL, 0);
          run_op(&l[1], OP_BACKWARD_INPUT, b, NULL, 0);
          run_op(&l[0], OP_BACKWARD_WEIGHT, b, NULL, 0);
          run_op(&l[0], OP_BACKWARD_INPUT, b, other, nhalf);
        }
      }
      calls += NBLOCKS;
      t = now() - t0;
    } while (t < seconds / 5);
    double *best = pass == 0 ? &tf : &tb;
    if (t / (double)calls < *best)
      *best = t / (double)calls;
  }
  printf("%-8s %-6s net 1->%d->%d->2 forward  %8.2f us %7.1f GFLOP/s dense %7.1f exec\n",
         model_name, fg_conv_isa(), h, h, 1e6 * tf, 1e-9 * dense / tf, 1e-9 * fwd_exec / tf);
  printf("%-8s %-6s net 1->%d->%d->2 backward %8.2f us %7.1f GFLOP/s dense %7.1f exec\n",
         model_name, fg_conv_isa(), h, h, 1e6 * tb, 1e-9 * 2 * dense / tb, 1e-9 * bwd_exec / tb);
  for (int j = 0; j < 3; ++j)
    layer_free(&l[j]);
}

#if defined(__x86_64__)
/* Single-core FMA peak: 12 independent register chains, 16 lanes each. */
__attribute__((target("avx512f"))) static double fma_peak(double seconds)
{
  typedef float v16 __attribute__((vector_size(64)));
  v16 m = (v16){0} + 0.999999f, a = (v16){0} + 1e-7f;
  v16 a0 = m, a1 = a0 + a, a2 = a1 + a, a3 = a2 + a, a4 = a3 + a, a5 = a4 + a;
  v16 a6 = a5 + a, a7 = a6 + a, a8 = a7 + a, a9 = a8 + a, a10 = a9 + a, a11 = a10 + a;
  long iters = 0;
  double t0 = now(), t;
  do {
    for (int r = 0; r < 100000; ++r) {
#define FMA_STEP(x) __asm__("vfmadd132ps %1, %2, %0" : "+v"(x) : "v"(m), "v"(a))
      FMA_STEP(a0); FMA_STEP(a1); FMA_STEP(a2); FMA_STEP(a3); FMA_STEP(a4); FMA_STEP(a5);
      FMA_STEP(a6); FMA_STEP(a7); FMA_STEP(a8); FMA_STEP(a9); FMA_STEP(a10); FMA_STEP(a11);
#undef FMA_STEP
    }
    iters += 100000;
    t = now() - t0;
  } while (t < seconds);
  v16 sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
  if (sum[0] == 12345.0f)
    printf(" ");
  return 1e-9 * (double)iters * 12 * 32 / t;
}
#endif

int main(int argc, char **argv)
{
  double seconds = argc > 1 ? atof(argv[1]) : 0.3;
  if (argc > 2)
    NBLOCKS = atoi(argv[2]) > 0 ? atoi(argv[2]) : 1;
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f"))
    printf("AVX-512 FMA peak (one core, register-only): %.1f GFLOP/s\n", fma_peak(seconds));
#endif
  for (int m = 0; m < 2; ++m) {
    fg_lattice lat;
    fg_stencil st;
    fg_error err;
    int ext[2] = {models[m].L, models[m].L};
    if (fg_lattice_init(&lat, 2, ext, &err) || fg_stencil_init(&st, &lat, models[m].ksize, &err)) {
      fprintf(stderr, "bench_conv: %s\n", err.msg);
      return 1;
    }
    int *half = checked(malloc(sizeof(int) * (size_t)lat.volume));
    int *other = checked(malloc(sizeof(int) * (size_t)lat.volume));
    int nhalf = 0, nother = 0;
    for (int y = 0; y < lat.volume; ++y) {
      if (lat.parity[y] == 0)
        half[nhalf++] = y;
      else
        other[nother++] = y;
    }
    for (int path = 0; path < 2; ++path) {
      if (path == 0)
        setenv("FLOWGEN_ISA", "portable", 1);
      else
        unsetenv("FLOWGEN_ISA");
      if (path == 1 && strcmp(fg_conv_isa(), "portable") == 0)
        continue;
      int h = models[m].hidden;
      bench_layer(&st, half, nhalf, 1, h, models[m].model, seconds);
      bench_layer(&st, half, nhalf, h, h, models[m].model, seconds);
      bench_layer(&st, half, nhalf, h, 2, models[m].model, seconds);
      bench_net(&st, half, other, nhalf, h, models[m].model, seconds);
    }
    free(half);
    free(other);
    fg_stencil_free(&st);
    fg_lattice_free(&lat);
  }
  return 0;
}
