/*
 * lane_lu.h -- internal to src/theory/: LU factorisation with partial
 * pivoting, log |det| and inverse of FG_VLEN complex m x m matrices at once,
 * one per lane (the exact fermion determinant of a block of configurations,
 * dirac.c). All functions are local; a workspace serves one thread at a time.
 *
 * Layout: entry (i, j) of lane l is at
 *   re[(i ld + j) FG_VLEN + l],  im[(i ld + j) FG_VLEN + l],  ld = w->ld
 * (row-major, lanes innermost, real and imaginary parts apart; ld = m or
 * m + 1, odd, against cache-set conflicts down a column), so every
 * arithmetic step is the same on all lanes and runs in vector registers
 * across them; lanes never mix. Only the pivoting differs per lane: each
 * lane picks its own pivot row, and the rows are swapped under a mask of
 * the lanes that picked it (O(m) per column and distinct pivot row); the
 * updates then run over all lanes together.
 *
 *   int fg_lane_lu_init(fg_lane_lu *w, int m, fg_error *err, const char *where)
 *     Allocates w's arrays for m x m matrices (m >= 1); FG_ERR_RUNTIME
 *     (tagged where) if out of memory, w then holds nothing to free.
 *   void fg_lane_lu_free(fg_lane_lu *w)
 *     Frees w's arrays (a zeroed w is allowed).
 *   void fg_lane_lu_factor(fg_lane_lu *w)
 *     P A = L U of every lane of (w->re, w->im), in place (L unit lower
 *     triangular below the diagonal, U upper), with LAPACK zgetrf's choice
 *     of pivots: the largest |Re| + |Im| in the column, the first on a tie.
 *     w->pivot[k FG_VLEN + l] = the row that step k swapped with row k
 *     (zgetrf's ipiv, counted from 0); w->singular[l] = 0, or 1 + the first
 *     step whose pivot was exactly zero (zgetrf's info). Such a lane goes on
 *     with zero multipliers, as zgetrf does; the other lanes are unaffected.
 *   void fg_lane_lu_log_abs_det(const fg_lane_lu *w, double out[FG_VLEN])
 *     out[l] = sum_k log |U_kk| = log |det A| of lane l after the
 *     factorisation (-inf for a singular lane).
 *   void fg_lane_lu_invert(fg_lane_lu *w)
 *     (w->inv_re, w->inv_im) = A^-1 of every lane from the factors (left in
 *     place): A^-1 = U^-1 L^-1 P, with L^-1 by forward substitution on the
 *     identity (lower triangular, (1/6) m^3 complex multiply-adds) and U^-1
 *     times it by back substitution ((1/2) m^3), then P as column swaps
 *     lane by lane; the (2/3) m^3 of zgetri. A singular lane's inverse holds
 *     infinities or NaN: not to be used.
 *
 * The updates are blocked (panels of columns in the LU, blocks of rows in
 * the substitutions) and done by one register-tiled kernel C -= A B with
 * the lanes innermost, so the trailing matrix is swept once per panel
 * rather than once per column.
 */
#ifndef FLOWGEN_LANE_LU_H
#define FLOWGEN_LANE_LU_H

#include "flowgen/error.h"
#include "flowgen/nn.h" /* FG_VLEN */

typedef struct {
  int m, ld;               /* matrix size, row length (ld >= m) */
  double *re, *im;         /* the matrices, then their LU factors: m m FG_VLEN each */
  double *inv_re, *inv_im; /* their inverses (fg_lane_lu_invert) */
  int *pivot;              /* m FG_VLEN */
  int *swaps;              /* 2 m FG_VLEN: scratch of fg_lane_lu_invert */
  int singular[FG_VLEN];
} fg_lane_lu;

int fg_lane_lu_init(fg_lane_lu *w, int m, fg_error *err, const char *where);
void fg_lane_lu_free(fg_lane_lu *w);
void fg_lane_lu_factor(fg_lane_lu *w);
void fg_lane_lu_log_abs_det(const fg_lane_lu *w, double out[FG_VLEN]);
void fg_lane_lu_invert(fg_lane_lu *w);

#endif
