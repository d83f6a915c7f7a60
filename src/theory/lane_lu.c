/*
 * lane_lu.c -- LU with partial pivoting, log |det| and inverse of FG_VLEN
 * complex matrices at once, the lanes innermost (see lane_lu.h for the
 * layout and every function's contract). All functions are local.
 *
 * The arithmetic runs on vectors of VW = 8 lanes (one AVX-512 register; a
 * block of FG_VLEN lanes is FG_VLEN / VW of them). The hot loops are
 * compiled for AVX-512 and for the baseline and picked at load time
 * (FG_MULTIVERSION, util/simd.h).
 */
#include "lane_lu.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../util/simd.h"

/* NB: the columns per panel of the LU; NBI: the rows per block of the
 * inverse's substitutions (their triangular parts inside a block run on
 * single rows, so smaller blocks there); TI x TJ: the entries of a tile of
 * the kernel (2 TI TJ accumulators, 2 (TI + TJ) loads per 4 TI TJ FMA). */
enum { L = FG_VLEN, VW = 8, NB = 8, NBI = 4, TI = 4, TJ = 3 };

#if FG_VLEN % 8 != 0
#error "lane_lu.c works on vectors of 8 lanes"
#endif

typedef double v8d __attribute__((vector_size(VW * sizeof(double))));
typedef int64_t v8l __attribute__((vector_size(VW * sizeof(int64_t))));

typedef struct {
  double *re, *im;
} block;

#define ALWAYS_INLINE static inline __attribute__((always_inline))

ALWAYS_INLINE v8d load(const double *p)
{
  v8d v;
  memcpy(&v, p, sizeof v);
  return v;
}

ALWAYS_INLINE void store(double *p, v8d v) { memcpy(p, &v, sizeof v); }

ALWAYS_INLINE v8d abs8(v8d x) { return (v8d)((v8l)x & ((v8l){0} + INT64_MAX)); }

ALWAYS_INLINE v8d select8(v8l mask, v8d yes, v8d no)
{
  return (v8d)((mask & (v8l)yes) | (~mask & (v8l)no));
}

/* Offset of entry (i, j), lane 0, with rows ld entries apart. */
ALWAYS_INLINE size_t at(int ld, int i, int j) { return ((size_t)i * (size_t)ld + (size_t)j) * L; }

int fg_lane_lu_init(fg_lane_lu *w, int m, fg_error *err, const char *where)
{
  memset(w, 0, sizeof *w);
  /* Rows of an odd number of entries: a column's entries then fall into
   * different cache sets (rows of 2^k entries put them all in one). */
  const int ld = m % 2 ? m : m + 1;
  const size_t n = (size_t)m * (size_t)ld * L * sizeof(double);
  w->m = m;
  w->ld = ld;
  w->re = fg_alloc(n, err, where);
  w->im = fg_alloc(n, err, where);
  w->inv_re = fg_alloc(n, err, where);
  w->inv_im = fg_alloc(n, err, where);
  w->pivot = fg_alloc(sizeof(int) * (size_t)m * L, err, where);
  w->swaps = fg_alloc(sizeof(int) * 2 * (size_t)m * L, err, where);
  if (w->re == NULL || w->im == NULL || w->inv_re == NULL || w->inv_im == NULL ||
      w->pivot == NULL || w->swaps == NULL) {
    fg_lane_lu_free(w);
    return FG_ERR_RUNTIME;
  }
  return FG_OK;
}

void fg_lane_lu_free(fg_lane_lu *w)
{
  fg_free(w->re);
  fg_free(w->im);
  fg_free(w->inv_re);
  fg_free(w->inv_im);
  fg_free(w->pivot);
  fg_free(w->swaps);
  memset(w, 0, sizeof *w);
}

/* C(i + r, j + s) -= sum_{p0 <= p < p1} A(i + r, p) B(p, j + s), r < ri, s < rj,
 * on the lanes h .. h + VW - 1: ri rj accumulators in registers, each A and
 * B vector loaded once per p. */
ALWAYS_INLINE void tile(int ld, block c, block a, block b, int i, int j, int p0, int p1, int h,
                        const int ri, const int rj)
{
  v8d cr[TI][TJ], ci[TI][TJ];
#pragma GCC unroll 8
  for (int r = 0; r < ri; ++r)
#pragma GCC unroll 8
    for (int s = 0; s < rj; ++s) {
      cr[r][s] = load(c.re + at(ld, i + r, j + s) + h);
      ci[r][s] = load(c.im + at(ld, i + r, j + s) + h);
    }
  for (int p = p0; p < p1; ++p) {
    v8d br[TJ], bi[TJ];
#pragma GCC unroll 8
    for (int s = 0; s < rj; ++s) {
      br[s] = load(b.re + at(ld, p, j + s) + h);
      bi[s] = load(b.im + at(ld, p, j + s) + h);
    }
#pragma GCC unroll 8
    for (int r = 0; r < ri; ++r) {
      v8d xr = load(a.re + at(ld, i + r, p) + h), xi = load(a.im + at(ld, i + r, p) + h);
#pragma GCC unroll 8
      for (int s = 0; s < rj; ++s) {
        cr[r][s] = cr[r][s] - xr * br[s] + xi * bi[s];
        ci[r][s] = ci[r][s] - xr * bi[s] - xi * br[s];
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < ri; ++r)
#pragma GCC unroll 8
    for (int s = 0; s < rj; ++s) {
      store(c.re + at(ld, i + r, j + s) + h, cr[r][s]);
      store(c.im + at(ld, i + r, j + s) + h, ci[r][s]);
    }
}

/* Rows i .. i + ri - 1 of multiply_subtract, pairs of columns. */
ALWAYS_INLINE void tile_row(int ld, block c, block a, block b, int i, int j0, int j1, int p0,
                            int p1, int lower_b, int h, const int ri)
{
  int j = j0;
  for (; j + TJ <= j1; j += TJ)
    tile(ld, c, a, b, i, j, lower_b && j > p0 ? j : p0, p1, h, ri, TJ);
  for (; j < j1; ++j)
    tile(ld, c, a, b, i, j, lower_b && j > p0 ? j : p0, p1, h, ri, 1);
}

/* C(i, j) -= sum_{p0 <= p < p1} A(i, p) B(p, j) for i0 <= i < i1, j0 <= j < j1,
 * lanes h .. h + VW - 1. With lower_b, B(p, j) = 0 for p < j is known and skipped (each
 * pair of columns starts at p = max(p0, j)). The C range must not overlap
 * the A and B ranges read (they may lie in the same arrays). Rows outer:
 * the A rows of a tile stay in L1 while B streams past them. */
FG_MULTIVERSION static void multiply_subtract(int ld, block c, block a, block b, int i0, int i1,
                                              int j0, int j1, int p0, int p1, int lower_b, int h)
{
  int i = i0;
  for (; i + TI <= i1; i += TI)
    tile_row(ld, c, a, b, i, j0, j1, p0, p1, lower_b, h, TI);
  for (; i < i1; ++i)
    tile_row(ld, c, a, b, i, j0, j1, p0, p1, lower_b, h, 1);
}

/* 1 / z on VW lanes, scaled against overflow and underflow (a zero z gives NaN). */
ALWAYS_INLINE void reciprocal(v8d zr, v8d zi, v8d *rr, v8d *ri)
{
  v8d s = abs8(zr) + abs8(zi);
  s = select8(s == 0.0, (v8d){0} + 1.0, s); /* then q = 0 and t = inf */
  v8d qr = zr / s, qi = zi / s, t = 1.0 / (s * (qr * qr + qi * qi));
  *rr = qr * t;
  *ri = -qi * t;
}

/* Rows k and p swapped on the lanes h + l of mask (l < VW). */
ALWAYS_INLINE void swap_rows(fg_lane_lu *w, int k, int p, v8l sel, int h)
{
  const int ld = w->ld;
  for (int j = 0; j < w->m; ++j) {
    double *kre = w->re + at(ld, k, j) + h, *pre = w->re + at(ld, p, j) + h;
    double *kim = w->im + at(ld, k, j) + h, *pim = w->im + at(ld, p, j) + h;
    v8d kr = load(kre), pr = load(pre), ki = load(kim), pi = load(pim);
    store(kre, select8(sel, pr, kr));
    store(pre, select8(sel, kr, pr));
    store(kim, select8(sel, pi, ki));
    store(pim, select8(sel, ki, pi));
  }
}

/* Step k's pivot per lane: the first largest |Re| + |Im| in column k, rows
 * k .. m-1 (zgetrf's izamax); records it, marks a zero pivot and swaps the
 * lane's rows: one pass over the row pair per distinct pivot row, on the
 * lanes that chose it. */
FG_MULTIVERSION static void choose_pivot(fg_lane_lu *w, int k, int h)
{
  const int m = w->m, ld = w->ld;
  int *piv = w->pivot + (size_t)k * L + h;
  v8d best = abs8(load(w->re + at(ld, k, k) + h)) + abs8(load(w->im + at(ld, k, k) + h));
  v8l row = (v8l){0} + k;
  for (int i = k + 1; i < m; ++i) {
    v8d v = abs8(load(w->re + at(ld, i, k) + h)) + abs8(load(w->im + at(ld, i, k) + h));
    v8l more = v > best;
    best = select8(more, v, best);
    row = (more & ((v8l){0} + i)) | (~more & row);
  }
  for (int l = 0; l < VW; ++l) {
    piv[l] = (int)row[l];
    if (best[l] == 0.0 && w->singular[h + l] == 0)
      w->singular[h + l] = k + 1;
  }
  for (int l = 0; l < VW; ++l) {
    int p = piv[l], first = p != k;
    for (int e = 0; e < l && first; ++e)
      first = piv[e] != p;
    if (first)
      swap_rows(w, k, p, row == p, h);
  }
}

/* The multipliers: column k below the diagonal times 1 / A(k, k). A zero
 * pivot leaves its column (all zero) as it is. */
FG_MULTIVERSION static void scale_column(fg_lane_lu *w, int k, int h)
{
  const int m = w->m, ld = w->ld;
  {
    v8d pr = load(w->re + at(ld, k, k) + h), pi = load(w->im + at(ld, k, k) + h), rr, ri;
    reciprocal(pr, pi, &rr, &ri);
    v8l zero = (abs8(pr) + abs8(pi)) == 0.0;
    rr = select8(zero, (v8d){0}, rr);
    ri = select8(zero, (v8d){0}, ri);
    for (int i = k + 1; i < m; ++i) {
      double *xre = w->re + at(ld, i, k) + h, *xim = w->im + at(ld, i, k) + h;
      v8d xr = load(xre), xi = load(xim);
      store(xre, xr * rr - xi * ri);
      store(xim, xr * ri + xi * rr);
    }
  }
}

/* P A = L U on the lanes h .. h + VW - 1. */
static void factor_piece(fg_lane_lu *w, int h)
{
  const int m = w->m, ld = w->ld;
  block a = {w->re, w->im};
  for (int k0 = 0; k0 < m; k0 += NB) {
    int k1 = k0 + NB < m ? k0 + NB : m;
    for (int k = k0; k < k1; ++k) { /* the panel, columns k0 .. k1-1, left-looking: */
      for (int r = k0 + 1; r < k; ++r) /* column k's rows of U inside the panel, */
        multiply_subtract(ld, a, a, a, r, r + 1, k, k + 1, k0, r, 0, h);
      multiply_subtract(ld, a, a, a, k, m, k, k + 1, k0, k, 0, h); /* the rest of it, */
      choose_pivot(w, k, h);                                     /* its pivot */
      scale_column(w, k, h);                                     /* and multipliers */
    }
    for (int p = k0 + 1; p < k1; ++p) /* U's rows k0 .. k1-1 right of the panel: L11^-1 A12 */
      multiply_subtract(ld, a, a, a, p, p + 1, k1, m, k0, p, 0, h);
    multiply_subtract(ld, a, a, a, k1, m, k1, m, k0, k1, 0, h); /* the trailing matrix */
  }
}

/* The pieces of VW lanes are independent: one after the other. */
void fg_lane_lu_factor(fg_lane_lu *w)
{
  for (int l = 0; l < L; ++l)
    w->singular[l] = 0;
  for (int h = 0; h < L; h += VW)
    factor_piece(w, h);
}

void fg_lane_lu_log_abs_det(const fg_lane_lu *w, double out[FG_VLEN])
{
  for (int l = 0; l < L; ++l)
    out[l] = 0.0;
  for (int k = 0; k < w->m; ++k)
    for (int l = 0; l < L; ++l) {
      size_t a = at(w->ld, k, k) + (size_t)l;
      out[l] += log(hypot(w->re[a], w->im[a]));
    }
}

/* Row i of X times 1 / U(i, i). */
FG_MULTIVERSION static void scale_row(fg_lane_lu *w, int i, int h)
{
  const int m = w->m, ld = w->ld;
  {
    v8d rr, ri;
    reciprocal(load(w->re + at(ld, i, i) + h), load(w->im + at(ld, i, i) + h), &rr, &ri);
    for (int j = 0; j < m; ++j) {
      double *xre = w->inv_re + at(ld, i, j) + h, *xim = w->inv_im + at(ld, i, j) + h;
      v8d xr = load(xre), xi = load(xim);
      store(xre, xr * rr - xi * ri);
      store(xim, xr * ri + xi * rr);
    }
  }
}

/* X P: zgetri's column swaps, last step first, per lane; row by row, so
 * that each row is read once (a column is m cache lines). */
static void swap_columns(fg_lane_lu *w)
{
  const int m = w->m, ld = w->ld;
  int *list = w->swaps, count[L];
  for (int l = 0; l < L; ++l) { /* lane l's swaps (k, pivot k), k descending */
    count[l] = 0;
    for (int k = m - 1; k >= 0; --k) {
      int jp = w->pivot[(size_t)k * L + (size_t)l];
      if (jp != k) {
        list[(size_t)l * 2 * m + 2 * count[l]] = k;
        list[(size_t)l * 2 * m + 2 * count[l]++ + 1] = jp;
      }
    }
  }
  for (int r = 0; r < m; ++r)
    for (int l = 0; l < L; ++l)
      for (int s = 0; s < count[l]; ++s) {
        const int *pair = list + (size_t)l * 2 * m + 2 * s;
        size_t a = at(ld, r, pair[0]) + (size_t)l, b = at(ld, r, pair[1]) + (size_t)l;
        double t = w->inv_re[a];
        w->inv_re[a] = w->inv_re[b];
        w->inv_re[b] = t;
        t = w->inv_im[a];
        w->inv_im[a] = w->inv_im[b];
        w->inv_im[b] = t;
      }
}

/* X = U^-1 L^-1 on the lanes h .. h + VW - 1, X = 1 on entry. */
static void invert_piece(fg_lane_lu *w, int h)
{
  const int m = w->m, ld = w->ld;
  block a = {w->re, w->im}, x = {w->inv_re, w->inv_im};
  /* X = L^-1, lower triangular: row i = e_i - sum_{k < i} L(i, k) X(k, .). */
  for (int i0 = 0; i0 < m; i0 += NBI) {
    int i1 = i0 + NBI < m ? i0 + NBI : m;
    multiply_subtract(ld, x, a, x, i0, i1, 0, i0, 0, i0, 1, h);
    for (int i = i0 + 1; i < i1; ++i)
      multiply_subtract(ld, x, a, x, i, i + 1, 0, i, i0, i, 1, h);
  }
  /* X = U^-1 X, bottom up: row i = (X(i, .) - sum_{k > i} U(i, k) X(k, .)) / U(i, i). */
  for (int i1 = m; i1 > 0;) {
    int i0 = (i1 - 1) / NBI * NBI;
    multiply_subtract(ld, x, a, x, i0, i1, 0, m, i1, m, 0, h);
    for (int i = i1 - 1; i >= i0; --i) {
      multiply_subtract(ld, x, a, x, i, i + 1, 0, m, i + 1, i1, 0, h);
      scale_row(w, i, h);
    }
    i1 = i0;
  }
}

void fg_lane_lu_invert(fg_lane_lu *w)
{
  const int m = w->m, ld = w->ld;
  const size_t n = (size_t)m * (size_t)ld * L;
  memset(w->inv_re, 0, sizeof(double) * n);
  memset(w->inv_im, 0, sizeof(double) * n);
  for (int i = 0; i < m; ++i)
    for (int l = 0; l < L; ++l)
      w->inv_re[at(ld, i, i) + (size_t)l] = 1.0;
  for (int h = 0; h < L; h += VW)
    invert_piece(w, h);
  swap_columns(w);
}
