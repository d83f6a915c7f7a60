/*
 * conv_kernels.c -- the convolution loops behind conv.c (see conv_internal.h
 * for the contract). This file is compiled twice: with FG_KSUFFIX=_portable
 * and no ISA flags, and with FG_KSUFFIX=_avx512 and the AVX-512 flags; each
 * build exports one constant table, fg_conv_kernels<FG_KSUFFIX>. Compiled
 * with FG_KERNELS_UNAVAILABLE it exports a table marked unavailable (for a
 * compiler that cannot target AVX-512).
 *
 * A sample block is FG_VLEN = 16 floats per site and channel, one AVX-512
 * vector, so the loops work on whole vectors and the lanes never mix (except
 * in the final sums of the weight gradient). Narrower targets split a block
 * into 16 / VW vectors ("pieces") and treat each piece like a site of its
 * own. The speed comes from register blocking:
 *
 *  - forward: a tile of OB output channels x SB columns (a column: one
 *    piece of one site) keeps OB*SB vector accumulators in registers while
 *    it runs over the taps and input channels; each input vector loaded
 *    serves OB FMAs, each weight (broadcast) serves SB FMAs.
 *  - weight gradient: a tile of OB output x IB input channels x KB taps
 *    keeps OB*IB*KB accumulators while it runs over the sites.
 *
 * The tile shapes are compile-time constants (one function per shape,
 * generated from the lists below, picked per layer by a cost estimate) so
 * that the accumulators stay in registers. Tails need no code of their own:
 * a last channel or tap tile that would run past the end is shifted back to
 * end at the end (it overlaps the tile before; the overlap is recomputed
 * and, for accumulations, not stored twice), and a last column tile repeats
 * its last column (the same value stored twice).
 */
#include "conv_internal.h"

#include <stddef.h>

#ifndef FG_KSUFFIX
#error "compile conv_kernels.c with -DFG_KSUFFIX=_<variant>"
#endif
#define FG_KPASTE2(a, b) a##b
#define FG_KPASTE(a, b) FG_KPASTE2(a, b)
#define FG_KNAME(x) FG_KPASTE(x, FG_KSUFFIX)
#define FG_KSTR2(x) #x
#define FG_KSTR(x) FG_KSTR2(x)

/* The variant's name is the suffix without its underscore. */
#define FG_KISA (&FG_KSTR(FG_KSUFFIX)[1])

#ifdef FG_KERNELS_UNAVAILABLE

const fg_conv_kernels FG_KNAME(fg_conv_kernels) = {FG_KISA, 0, NULL, NULL, NULL, NULL};

#else

/* Every vector helper is inlined (and takes vectors by pointer), so the
 * warning about returning wide vectors without the ISA that holds them in
 * registers (an ABI concern of real calls) never applies. */
#pragma GCC diagnostic ignored "-Wpsabi"

#if FG_VLEN != 16
#error "the kernels assume 16 lanes per sample block"
#endif

/* The kernels work on vectors of VW lanes, the widest the target holds in
 * registers: a sample block is PIECES = 16 / VW of them. With AVX-512 a
 * piece is the whole block; elsewhere (GCC would otherwise emulate 64-byte
 * vectors through memory) a tile "column" is one piece of one site. */
#if defined(__AVX512F__)
#define VW 16
#elif defined(__AVX__)
#define VW 8
#else
#define VW 4
#endif
#define PIECES (FG_VLEN / VW)

typedef float vf __attribute__((vector_size(VW * sizeof(float)), aligned(VW * sizeof(float))));

#define ALWAYS_INLINE static inline __attribute__((always_inline))

ALWAYS_INLINE vf load_vf(const float *p) { return *(const vf *)p; }
ALWAYS_INLINE void store_vf(float *p, const vf *v) { *(vf *)p = *v; }
/* Not built lane by lane: GCC then keeps the accumulator arrays that start
 * from a splat in memory instead of registers. */
ALWAYS_INLINE vf splat_vf(float x) { return (vf){0} + x; }

typedef float v8f __attribute__((vector_size(32)));
typedef float v4f __attribute__((vector_size(16)));

/* The sum of the lanes, pairwise (short dependency chains). Shuffles, not
 * a copy to memory: that, too, made GCC spill the weight tiles' pointers. */
ALWAYS_INLINE float sum_vf(const vf *pv)
{
  vf v = *pv;
#if VW == 16
  v8f a = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
          __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
#elif VW == 8
  v8f a = v;
#endif
#if VW >= 8
  v4f b = __builtin_shufflevector(a, a, 0, 1, 2, 3) + __builtin_shufflevector(a, a, 4, 5, 6, 7);
#else
  v4f b = v;
#endif
  return (b[0] + b[2]) + (b[1] + b[3]);
}

/* A loaded vector feeding several FMAs must be loaded once: left alone, GCC
 * folds the load into every FMA that uses it, doubling the loads of the
 * tiles with two output channels. The empty asm pins it in a register. */
#if defined(__AVX512F__)
#define PIN(v) __asm__("" : "+v"(v))
#elif defined(__x86_64__) || defined(__i386__)
#define PIN(v) __asm__("" : "+x"(v))
#else
#define PIN(v) ((void)0)
#endif

/* Tile shapes per register file. (OB, SB) for the forward: OB*SB
 * accumulators plus SB operands; (OB, IB, KB) for the weight gradient:
 * OB*IB*KB accumulators plus OB + 1 operands. The larger a tile, the fewer
 * loads per FMA, up to the 32 (AVX-512) or 16 registers. */
#if defined(__AVX512F__)
#define FORWARD_SHAPES(X)                                                                    \
  X(1, 8) X(2, 8) X(3, 6) X(4, 5) X(5, 4) X(6, 4) X(7, 3) X(8, 3) X(9, 2) X(10, 2) X(11, 2) \
  X(12, 2) X(16, 1)
#define WEIGHT_SHAPES(X)                                                                     \
  X(1, 1, 1) X(1, 1, 9) X(1, 4, 3) X(2, 1, 3) X(2, 1, 9) X(2, 2, 5) X(2, 4, 3) X(2, 8, 1)    \
  X(3, 1, 6) X(4, 1, 3) X(4, 1, 5) X(4, 2, 3) X(4, 4, 1) X(6, 1, 3) X(6, 3, 1)
#define MAXOB 16
#define MAXSB 8
#define MAXIB 8
#define MAXKB 9
#else
#define FORWARD_SHAPES(X) X(1, 4) X(2, 4) X(3, 3) X(4, 2) X(6, 2) X(8, 1)
#define WEIGHT_SHAPES(X) X(1, 1, 1) X(1, 1, 9) X(1, 2, 5) X(1, 4, 3)
#define MAXOB 8
#define MAXSB 4
#define MAXIB 4
#define MAXKB 9
#endif

/* ---- forward ---------------------------------------------------------- */

/* One tile: OB output channels (weights w, bias b, outputs out, all already
 * offset to the tile's first channel) at SB columns, column s being lanes
 * lo[s] .. lo[s] + VW - 1 of site ys[s]. */
ALWAYS_INLINE void forward_tile(const int OB, const int SB, const int cin,
                                const fg_conv_geometry *g, const float *restrict w,
                                const float *restrict b, const float *restrict in,
                                float *restrict out, const int *ys, const int *lo)
{
  const int ntaps = g->ntaps;
  const ptrdiff_t cs = (ptrdiff_t)g->volume * FG_VLEN;
  const int *tap[MAXSB];
  vf acc[MAXOB][MAXSB];
  for (int s = 0; s < SB; ++s)
    tap[s] = g->index + (ptrdiff_t)ys[s] * ntaps;
  for (int o = 0; o < OB; ++o)
    for (int s = 0; s < SB; ++s)
      acc[o][s] = splat_vf(b[o]);
  for (int k = 0; k < ntaps; ++k) {
    const float *p[MAXSB];
    for (int s = 0; s < SB; ++s)
      p[s] = in + (ptrdiff_t)tap[s][k] * FG_VLEN + lo[s];
    const float *wk = w + (ptrdiff_t)k * cin * OB;
    for (int i = 0; i < cin; ++i) {
      vf x[MAXSB];
      for (int s = 0; s < SB; ++s) {
        x[s] = load_vf(p[s] + i * cs);
        if (OB > 1)
          PIN(x[s]);
      }
      for (int o = 0; o < OB; ++o)
        for (int s = 0; s < SB; ++s)
          acc[o][s] += wk[i * OB + o] * x[s];
    }
  }
  for (int o = 0; o < OB; ++o)
    for (int s = 0; s < SB; ++s)
      store_vf(out + o * cs + (ptrdiff_t)ys[s] * FG_VLEN + lo[s], &acc[o][s]);
}

/* All tiles of one shape: column tiles outside (their input neighbourhood
 * stays in cache), channel tiles inside. Column j is piece j % PIECES of
 * site number j / PIECES; a last partial tile repeats the last column. */
ALWAYS_INLINE void forward_all(const int OB, const int SB, const int cin,
                               const fg_conv_geometry *g, const float *wpack, const float *bias,
                               const float *in, float *out, const int *sites, int nsites)
{
  const int nob = (g->cout + OB - 1) / OB, ncols = nsites * PIECES;
  const ptrdiff_t cs = (ptrdiff_t)g->volume * FG_VLEN;
  for (int j0 = 0; j0 < ncols; j0 += SB) {
    int ys[MAXSB], lo[MAXSB];
    for (int s = 0; s < SB; ++s) {
      int j = j0 + s < ncols ? j0 + s : ncols - 1;
      ys[s] = sites[j / PIECES];
      lo[s] = j % PIECES * VW;
    }
    for (int blk = 0; blk < nob; ++blk) {
      int o0 = blk * OB < g->cout - OB ? blk * OB : g->cout - OB;
      forward_tile(OB, SB, cin, g, wpack + (ptrdiff_t)blk * g->ntaps * cin * OB, bias + o0,
                   in, out + o0 * cs, ys, lo);
    }
  }
}

#define DEFINE_FORWARD(OB, SB)                                                              \
  static void forward_##OB##_##SB(const fg_conv_geometry *g, const float *wpack,            \
                                  const float *bias, const float *in, float *out,           \
                                  const int *sites, int nsites)                             \
  {                                                                                         \
    if (g->cin == 1) /* the first layer: no loop over input channels */                   \
      forward_all(OB, SB, 1, g, wpack, bias, in, out, sites, nsites);                       \
    else                                                                                    \
      forward_all(OB, SB, g->cin, g, wpack, bias, in, out, sites, nsites);                  \
  }
FORWARD_SHAPES(DEFINE_FORWARD)

typedef void forward_fn(const fg_conv_geometry *, const float *, const float *, const float *,
                        float *, const int *, int);
typedef struct {
  int ob, sb;
  forward_fn *fn;
} forward_shape;

#define LIST_FORWARD(OB, SB) {OB, SB, forward_##OB##_##SB},
static const forward_shape forward_shapes[] = {FORWARD_SHAPES(LIST_FORWARD)};
#define NFORWARD ((int)(sizeof forward_shapes / sizeof forward_shapes[0]))

/* Estimated cycles per site and (input channel, tap): the FMAs, or the
 * vector loads (one per site, a third for each broadcast weight) when they
 * dominate, plus the tile's stores; over all channel tiles. */
static double forward_cost(const forward_shape *f, int cout)
{
  int nob = (cout + f->ob - 1) / f->ob;
  double fma = f->ob * f->sb, loads = f->sb + f->ob / 3.0;
  double per_tile = (fma > loads ? fma : loads) + 0.05 * f->ob * f->sb;
  return nob * per_tile / f->sb;
}

/* Among equal estimates the widest tile wins (the list is by ob): fewer
 * index loads and tile set-ups, measurably a few percent faster. */
static int forward_oblock(int cout)
{
  int best = -1;
  double best_cost = 0;
  for (int j = 0; j < NFORWARD; ++j) {
    double c = forward_cost(&forward_shapes[j], cout);
    if (forward_shapes[j].ob <= cout && (best < 0 || c <= best_cost * (1 + 1e-9))) {
      best = j;
      best_cost = c;
    }
  }
  return forward_shapes[best].ob;
}

static void forward(const fg_conv_geometry *g, int ob, const float *wpack, const float *bias,
                    const float *in, float *out, const int *sites, int nsites)
{
  for (int j = 0; j < NFORWARD; ++j)
    if (forward_shapes[j].ob == ob) {
      forward_shapes[j].fn(g, wpack, bias, in, out, sites, nsites);
      return;
    }
}

/* ---- weight gradient ---------------------------------------------------- */

/* Sites summed in float before the partial sums go into the doubles: keeps
 * the float rounding error at the level of a few hundred terms. */
#define WEIGHT_CHUNK 256

/* One tile: output channels o0.., input channels i0.., taps k0.. (OB, IB, KB
 * of each); entries below (os, is, ks) belong to the tile before. */
ALWAYS_INLINE void weight_tile(const int OB, const int IB, const int KB,
                               const fg_conv_geometry *g, const float *restrict in,
                               const float *restrict gout, double *restrict gw, int o0, int i0,
                               int k0, int os, int is, int ks, const int *sites, int nsites)
{
  const int ntaps = g->ntaps;
  const ptrdiff_t cs = (ptrdiff_t)g->volume * FG_VLEN;
  const float *in0 = in + i0 * cs, *g0 = gout + o0 * cs;
  const int *index0 = g->index + k0;
  for (int c0 = 0; c0 < nsites; c0 += WEIGHT_CHUNK) {
    int c1 = c0 + WEIGHT_CHUNK < nsites ? c0 + WEIGHT_CHUNK : nsites;
    vf acc[MAXOB][MAXIB][MAXKB];
    for (int o = 0; o < OB; ++o)
      for (int i = 0; i < IB; ++i)
        for (int k = 0; k < KB; ++k)
          acc[o][i][k] = (vf){0};
    for (int n = c0; n < c1; ++n) {
      const ptrdiff_t y = sites[n];
      const int *t = index0 + y * ntaps;
      for (int q = 0; q < FG_VLEN; q += VW) {
        vf gv[MAXOB];
        for (int o = 0; o < OB; ++o)
          gv[o] = load_vf(g0 + o * cs + y * FG_VLEN + q);
        for (int k = 0; k < KB; ++k) {
          const float *p = in0 + (ptrdiff_t)t[k] * FG_VLEN + q;
          for (int i = 0; i < IB; ++i) {
            vf x = load_vf(p + i * cs);
            if (OB > 1)
              PIN(x);
            for (int o = 0; o < OB; ++o)
              acc[o][i][k] += gv[o] * x;
          }
        }
      }
    }
    for (int o = os; o < OB; ++o)
      for (int i = is; i < IB; ++i)
        for (int k = ks; k < KB; ++k)
          gw[((ptrdiff_t)(o0 + o) * g->cin + i0 + i) * ntaps + k0 + k] += sum_vf(&acc[o][i][k]);
  }
}

/* The start of tile number `blk` of size `size` along an extent `n` >= size,
 * and how many of its leading entries the tile before already covered. */
ALWAYS_INLINE int tile_start(int blk, int size, int n, int *skip)
{
  int nominal = blk * size, start = nominal + size > n ? n - size : nominal;
  *skip = nominal - start;
  return start;
}

ALWAYS_INLINE void weight_all(const int OB, const int IB, const int KB,
                              const fg_conv_geometry *g, const float *in, const float *gout,
                              double *gw, const int *sites, int nsites)
{
  for (int ob = 0; ob * OB < g->cout; ++ob)
    for (int ib = 0; ib * IB < g->cin; ++ib)
      for (int kb = 0; kb * KB < g->ntaps; ++kb) {
        int os, is, ks;
        int o0 = tile_start(ob, OB, g->cout, &os), i0 = tile_start(ib, IB, g->cin, &is);
        int k0 = tile_start(kb, KB, g->ntaps, &ks);
        weight_tile(OB, IB, KB, g, in, gout, gw, o0, i0, k0, os, is, ks, sites, nsites);
      }
}

#define DEFINE_WEIGHT(OB, IB, KB)                                                           \
  static void weight_##OB##_##IB##_##KB(const fg_conv_geometry *g, const float *in,         \
                                        const float *gout, double *gw, const int *sites,    \
                                        int nsites)                                         \
  {                                                                                         \
    weight_all(OB, IB, KB, g, in, gout, gw, sites, nsites);                                 \
  }
WEIGHT_SHAPES(DEFINE_WEIGHT)

typedef void weight_fn(const fg_conv_geometry *, const float *, const float *, double *,
                       const int *, int);
typedef struct {
  int ob, ib, kb;
  weight_fn *fn;
} weight_shape;

#define LIST_WEIGHT(OB, IB, KB) {OB, IB, KB, weight_##OB##_##IB##_##KB},
static const weight_shape weight_shapes[] = {WEIGHT_SHAPES(LIST_WEIGHT)};
#define NWEIGHT ((int)(sizeof weight_shapes / sizeof weight_shapes[0]))

/* Estimated cycles per site over all tiles: per tile the FMAs, or the loads
 * (OB + IB*KB vectors, KB indices) when they dominate, plus loop overhead. */
static double weight_cost(const weight_shape *w, const fg_conv_geometry *g)
{
  double ntiles = (double)((g->cout + w->ob - 1) / w->ob) * ((g->cin + w->ib - 1) / w->ib) *
                  ((g->ntaps + w->kb - 1) / w->kb);
  double fma = w->ob * w->ib * w->kb, loads = w->ob + w->ib * w->kb + w->kb / 3.0;
  return ntiles * ((fma > loads ? fma : loads) + 0.1 * loads + 2.0);
}

static int weight_tiling(const fg_conv_geometry *g)
{
  int best = -1;
  for (int j = 0; j < NWEIGHT; ++j) {
    const weight_shape *w = &weight_shapes[j];
    if (w->ob <= g->cout && w->ib <= g->cin && w->kb <= g->ntaps &&
        (best < 0 || weight_cost(w, g) < weight_cost(&weight_shapes[best], g)))
      best = j;
  }
  return best;
}

static void weight_grad(const fg_conv_geometry *g, int tiling, const float *in,
                        const float *gout, double *gweight, double *gbias, const int *sites,
                        int nsites)
{
  const ptrdiff_t cs = (ptrdiff_t)g->volume * FG_VLEN;
  for (int o = 0; o < g->cout; ++o) {
    for (int c0 = 0; c0 < nsites; c0 += WEIGHT_CHUNK) {
      int c1 = c0 + WEIGHT_CHUNK < nsites ? c0 + WEIGHT_CHUNK : nsites;
      vf s = {0};
      for (int n = c0; n < c1; ++n)
        for (int q = 0; q < FG_VLEN; q += VW)
          s += load_vf(gout + o * cs + (ptrdiff_t)sites[n] * FG_VLEN + q);
      gbias[o] += sum_vf(&s);
    }
  }
  weight_shapes[tiling].fn(g, in, gout, gweight, sites, nsites);
}

const fg_conv_kernels FG_KNAME(fg_conv_kernels) = {
  FG_KISA, 1, forward_oblock, forward, weight_tiling, weight_grad,
};

#endif
