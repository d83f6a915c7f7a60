/*
 * dirac.c -- the 2D Wilson-Dirac operator and its exact determinant (see
 * dirac.h for the conventions and every function's contract). All
 * functions are local; the dense matrix and LU live in the workspace, as do
 * the lane-batched Schur complements of fg_dirac_logdet_lanes (lane_lu.h)
 * and the angles of the last block factorised, so a workspace serves one
 * thread at a time.
 */
#include "flowgen/dirac.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../util/simd.h"
#include "lane_lu.h"

/* LAPACK (OpenBLAS provides it). */
void zgetrf_(const int *m, const int *n, double complex *a, const int *lda, int *ipiv,
             int *info);
void zgetri_(const int *n, double complex *a, const int *lda, const int *ipiv,
             double complex *work, const int *lwork, int *info);

struct fg_dirac {
  const fg_lattice *lat;
  double kappa;
  int n;                 /* 2V */
  double *phase;         /* phase[y * 2 + mu]: bc[mu] if the hop y -> y + mu wraps, else 1 */
  double *phase_back;    /* the same for the hop y -> y - mu */
  double complex *a;     /* N x N: the matrix, then its LU factors, then its inverse;
                            allocated at the first dense use (with work and pivot) */
  double complex *work;
  int lwork;
  int *pivot;
  double complex *hop;   /* hop[4 y + 2 mu + 0] = -kappa phase U_mu(y) (to y + mu),
                            hop[4 y + 2 mu + 1] = -kappa phase_back U_mu(y - mu)^* (to y - mu),
                            of the links the last apply or solve was given */
  double complex *v[4];  /* CG's vectors r, p, D p, D^dagger D p; N each */
  /* Even-odd reduction of the dense determinant (see fg_dirac_logdet). */
  int eo;                /* use it (both extents even and >= 4, unless switched off) */
  int eo_possible;
  int *odd;              /* odd[i]: the i-th odd site, i < V/2 */
  int *oidx;             /* oidx[y]: i with odd[i] = y, or -1 for an even site */
  double complex *s;     /* V x V: the Schur complement S, its LU, then S^-1
                            (lazy, like a); its pivots and zgetri work below */
  int *spivot;
  double complex *swork;
  int slwork;
  /* The lane-batched even-odd path (fg_dirac_logdet_lanes), made at its first use. */
  fg_lane_lu *lanes;     /* S of FG_VLEN configurations, its LU and S^-1 */
  double *lane_hop;      /* lane_hop[((4 y + j) 2 + part) FG_VLEN + l]: hop[4 y + j] of lane l,
                            part 0 real, 1 imaginary */
  double *lane_theta[2]; /* [2V][FG_VLEN] each: the angles of the factorised block, and of the
                            block asked for */
  int lane_factored;     /* lanes holds the LU of lane_theta[0]'s S, lane_logdet its log |det| */
  double lane_logdet[FG_VLEN];
};

/* (1 - sigma_mu) and (1 + sigma_mu), sigma_0 = sigma_x, sigma_1 = sigma_y. */
static const double complex minus_sigma[2][2][2] = {{{1, -1}, {-1, 1}}, {{1, I}, {-I, 1}}};
static const double complex plus_sigma[2][2][2] = {{{1, 1}, {1, 1}}, {{1, -I}, {I, 1}}};

static const char where[] = "fg_dirac_create [dirac.c]";

void fg_dirac_destroy(fg_dirac *d)
{
  if (d == NULL)
    return;
  fg_free(d->phase);
  fg_free(d->phase_back);
  fg_free(d->a);
  fg_free(d->work);
  fg_free(d->pivot);
  fg_free(d->hop);
  for (int i = 0; i < 4; ++i)
    fg_free(d->v[i]);
  fg_free(d->odd);
  fg_free(d->oidx);
  fg_free(d->s);
  fg_free(d->spivot);
  fg_free(d->swork);
  if (d->lanes != NULL)
    fg_lane_lu_free(d->lanes);
  fg_free(d->lanes);
  fg_free(d->lane_hop);
  fg_free(d->lane_theta[0]);
  fg_free(d->lane_theta[1]);
  fg_free(d);
}

static void boundary_phases(fg_dirac *d, const int bc[2])
{
  const fg_lattice *lat = d->lat;
  for (int y = 0; y < lat->volume; ++y) {
    int x[FG_MAXDIM];
    fg_lattice_coords(lat, y, x);
    for (int mu = 0; mu < 2; ++mu) {
      d->phase[y * 2 + mu] = x[mu] == lat->extent[mu] - 1 ? bc[mu] : 1.0;
      d->phase_back[y * 2 + mu] = x[mu] == 0 ? bc[mu] : 1.0;
    }
  }
}

int fg_dirac_create(const fg_lattice *lat, double kappa, const int bc[2], fg_dirac **out,
                    fg_error *err)
{
  *out = NULL;
  if (lat->nd != 2)
    return fg_fail(err, FG_ERR_INPUT, where, "the Wilson-Dirac operator needs a 2D lattice, got %dD",
                   lat->nd);
  if (!(kappa >= 0.0) || !isfinite(kappa))
    return fg_fail(err, FG_ERR_INPUT, where, "kappa = %g: must be finite and >= 0", kappa);
  for (int mu = 0; mu < 2; ++mu)
    if (bc[mu] != 1 && bc[mu] != -1)
      return fg_fail(err, FG_ERR_INPUT, where, "boundary phase %d of direction %d: must be +1 or -1",
                     bc[mu], mu);
  fg_dirac *d = fg_alloc(sizeof *d, err, where);
  if (d == NULL)
    return FG_ERR_RUNTIME;
  d->lat = lat;
  d->kappa = kappa;
  d->n = 2 * lat->volume;
  d->phase = fg_alloc(sizeof(double) * 2 * (size_t)lat->volume, err, where);
  d->phase_back = fg_alloc(sizeof(double) * 2 * (size_t)lat->volume, err, where);
  d->hop = fg_alloc(sizeof(double complex) * 4 * (size_t)lat->volume, err, where);
  int vectors_ok = 1;
  for (int i = 0; i < 4; ++i)
    vectors_ok &= (d->v[i] = fg_alloc(sizeof(double complex) * (size_t)d->n, err, where)) != NULL;
  if (d->phase == NULL || d->phase_back == NULL || d->hop == NULL || !vectors_ok) {
    fg_dirac_destroy(d);
    return FG_ERR_RUNTIME;
  }
  boundary_phases(d, bc);
  if (lat->extent[0] % 2 == 0 && lat->extent[1] % 2 == 0 && lat->extent[0] >= 4 &&
      lat->extent[1] >= 4) {
    d->odd = fg_alloc(sizeof(int) * (size_t)(lat->volume / 2), err, where);
    d->oidx = fg_alloc(sizeof(int) * (size_t)lat->volume, err, where);
    if (d->odd == NULL || d->oidx == NULL) {
      fg_dirac_destroy(d);
      return FG_ERR_RUNTIME;
    }
    int nodd = 0;
    for (int y = 0; y < lat->volume; ++y) {
      int x[FG_MAXDIM];
      fg_lattice_coords(lat, y, x);
      d->oidx[y] = (x[0] + x[1]) % 2 ? nodd : -1;
      if (d->oidx[y] >= 0)
        d->odd[nodd++] = y;
    }
    d->eo = d->eo_possible = 1;
  }
  *out = d;
  return FG_OK;
}

int fg_dirac_set_even_odd(fg_dirac *d, int on)
{
  d->eo = on && d->eo_possible;
  return d->eo;
}

/* The dense matrix, pivots and zgetri's work, made at the first dense use:
 * an operator used only matrix-free (CG on a large lattice) never holds
 * the N^2 matrix. */
static int dense_workspace(fg_dirac *d, const char *here, fg_error *err)
{
  if (d->a != NULL)
    return FG_OK;
  size_t nn = (size_t)d->n * (size_t)d->n;
  d->a = fg_alloc(sizeof(double complex) * nn, err, here);
  d->pivot = fg_alloc(sizeof(int) * (size_t)d->n, err, here);
  if (d->a == NULL || d->pivot == NULL)
    return FG_ERR_RUNTIME;
  /* zgetri's optimal work size, asked once. */
  double complex query = 0;
  int lwork = -1, info = 0;
  zgetri_(&d->n, d->a, &d->n, d->pivot, &query, &lwork, &info);
  d->lwork = info == 0 && creal(query) >= d->n ? (int)creal(query) : d->n;
  d->work = fg_alloc(sizeof(double complex) * (size_t)d->lwork, err, here);
  if (d->work == NULL) {
    fg_free(d->a);
    d->a = NULL; /* tried again at the next use */
    return FG_ERR_RUNTIME;
  }
  return FG_OK;
}

int fg_dirac_size(const fg_dirac *d) { return d->n; }

static inline double complex link(const double *theta, size_t stride, int volume, int mu, int x)
{
  double t = theta[((size_t)mu * (size_t)volume + (size_t)x) * stride];
  return CMPLX(cos(t), sin(t));
}

void fg_dirac_matrix(const fg_dirac *d, const double *theta, size_t stride, double complex *D)
{
  const fg_lattice *lat = d->lat;
  const size_t n = (size_t)d->n;
  const double k = d->kappa;
  memset(D, 0, sizeof(double complex) * n * n);
  for (size_t i = 0; i < n; ++i)
    D[i + n * i] = 1.0;
  for (int y = 0; y < lat->volume; ++y)
    for (int mu = 0; mu < 2; ++mu) {
      int yf = lat->up[y * 2 + mu], yb = lat->down[y * 2 + mu];
      double complex hf = -k * d->phase[y * 2 + mu] * link(theta, stride, lat->volume, mu, y);
      double complex hb =
          -k * d->phase_back[y * 2 + mu] * conj(link(theta, stride, lat->volume, mu, yb));
      for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 2; ++b) {
          size_t row = 2 * (size_t)y + a;
          D[row + n * (2 * (size_t)yf + b)] += minus_sigma[mu][a][b] * hf;
          D[row + n * (2 * (size_t)yb + b)] += plus_sigma[mu][a][b] * hb;
        }
    }
}

/* D^dagger = sigma_z D sigma_z: the (a, b) entry of every block gets s_a s_b, s = (1, -1). */
/* The hopping factors of the links theta (d->hop); O(V) sines and cosines. */
static void set_hops(const fg_dirac *d, const double *theta, size_t stride)
{
  const fg_lattice *lat = d->lat;
  const double k = d->kappa;
  for (int y = 0; y < lat->volume; ++y)
    for (int mu = 0; mu < 2; ++mu) {
      int yb = lat->down[y * 2 + mu];
      d->hop[4 * y + 2 * mu] = -k * d->phase[y * 2 + mu] * link(theta, stride, lat->volume, mu, y);
      d->hop[4 * y + 2 * mu + 1] =
          -k * d->phase_back[y * 2 + mu] * conj(link(theta, stride, lat->volume, mu, yb));
    }
}

/* out = D psi or D^dagger psi with the hops of set_hops. The projectors
 * (1 -+ sigma_mu) have rank one, so each hop is one complex product:
 *   mu = 0, to y + 0: t = h (psi_0 - s psi_1), adds (t, -s t);
 *   mu = 0, to y - 0: t = h (psi_0 + s psi_1), adds (t, s t);
 *   mu = 1, to y + 1: t = h (psi_0 + i s psi_1), adds (t, -i s t);
 *   mu = 1, to y - 1: t = h (psi_0 - i s psi_1), adds (t, i s t);
 * s = 1 for D, -1 for D^dagger = sigma_z D sigma_z (off-diagonals negated). */
static void apply_hops(const fg_dirac *d, const double complex *restrict psi,
                       double complex *restrict out, int dagger)
{
  const fg_lattice *lat = d->lat;
  const double s = dagger ? -1.0 : 1.0;
  const double *restrict hop = (const double *)d->hop; /* re, im pairs */
  const double *restrict in = (const double *)psi;
  double *restrict o = (double *)out;
  const int *restrict up = lat->up, *restrict down = lat->down;
  for (int y = 0; y < lat->volume; ++y) {
    const double *h = hop + 8 * y;
    const double *f0 = in + 4 * up[2 * y], *b0 = in + 4 * down[2 * y];
    const double *f1 = in + 4 * up[2 * y + 1], *b1 = in + 4 * down[2 * y + 1];
    /* u = psi_0 -+ s psi_1 (mu = 0); psi_0 +- i s psi_1 (mu = 1), then t = h u */
    double u0fr = f0[0] - s * f0[2], u0fi = f0[1] - s * f0[3];
    double u0br = b0[0] + s * b0[2], u0bi = b0[1] + s * b0[3];
    double u1fr = f1[0] - s * f1[3], u1fi = f1[1] + s * f1[2];
    double u1br = b1[0] + s * b1[3], u1bi = b1[1] - s * b1[2];
    double t0fr = h[0] * u0fr - h[1] * u0fi, t0fi = h[0] * u0fi + h[1] * u0fr;
    double t0br = h[2] * u0br - h[3] * u0bi, t0bi = h[2] * u0bi + h[3] * u0br;
    double t1fr = h[4] * u1fr - h[5] * u1fi, t1fi = h[4] * u1fi + h[5] * u1fr;
    double t1br = h[6] * u1br - h[7] * u1bi, t1bi = h[6] * u1bi + h[7] * u1br;
    const double *p = in + 4 * y;
    o[4 * y] = p[0] + t0fr + t0br + t1fr + t1br;
    o[4 * y + 1] = p[1] + t0fi + t0bi + t1fi + t1bi;
    /* s (t0b - t0f) + i s (t1b - t1f) */
    o[4 * y + 2] = p[2] + s * (t0br - t0fr) - s * (t1bi - t1fi);
    o[4 * y + 3] = p[3] + s * (t0bi - t0fi) + s * (t1br - t1fr);
  }
}

void fg_dirac_apply(const fg_dirac *d, const double *theta, size_t stride,
                    const double complex *psi, double complex *out, int dagger)
{
  set_hops(d, theta, stride);
  apply_hops(d, psi, out, dagger);
}

/* 2 Re tr(D^-1 dD/dtheta_mu(x)): the link enters the hop x -> x + mu
 * (entries [(x,a), (x+mu,b)], factor i) and the hop x + mu -> x (entries
 * [(x+mu,a), (x,b)], factor -i), both with the same boundary phase. */
static void logdet_gradient(const fg_dirac *d, const double *theta, size_t stride, double *grad,
                            size_t grad_stride)
{
  const fg_lattice *lat = d->lat;
  const size_t n = (size_t)d->n;
  const double complex *g = d->a; /* the inverse, column-major */
  for (int mu = 0; mu < 2; ++mu)
    for (int x = 0; x < lat->volume; ++x) {
      int xf = lat->up[x * 2 + mu];
      double complex u = d->phase[x * 2 + mu] * link(theta, stride, lat->volume, mu, x);
      double complex df = -d->kappa * I * u, db = d->kappa * I * conj(u);
      double complex tr = 0;
      for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 2; ++b) {
          size_t xa = 2 * (size_t)x + a, xb = 2 * (size_t)x + b;
          size_t fa = 2 * (size_t)xf + a, fb = 2 * (size_t)xf + b;
          tr += g[fb + n * xa] * minus_sigma[mu][a][b] * df;
          tr += g[xb + n * fa] * plus_sigma[mu][a][b] * db;
        }
      grad[((size_t)mu * (size_t)lat->volume + (size_t)x) * grad_stride] = 2.0 * creal(tr);
    }
}

/* The first of n pivots (from 1) that is zero to working precision, or 0:
 * |Re| + |Im| at most n eps times the largest pivot's. zgetrf stops only at
 * an exact zero, which rounding all but rules out at the massless point
 * itself (the free field there leaves pivots of 1e-16 or less in place of
 * the zero mode's 0); below this bound log |det| is rounding noise and the
 * inverse, hence the force, meaningless. Pivot k at re[k step], im[k step]. */
static int zero_pivot(const double *re, const double *im, size_t step, int n)
{
  double largest = 0.0;
  for (int k = 0; k < n; ++k)
    largest = fmax(largest, fabs(re[(size_t)k * step]) + fabs(im[(size_t)k * step]));
  for (int k = 0; k < n; ++k)
    if (fabs(re[(size_t)k * step]) + fabs(im[(size_t)k * step]) <= n * DBL_EPSILON * largest)
      return k + 1;
  return 0;
}

/* The error of a singular D: pivot (from 1) of the n x n LU, of D itself
 * (n = N) or of its Schur complement; lane >= 0 names the configuration. */
static int singular_error(const fg_dirac *d, int pivot, int n, int lane, const char *here,
                          fg_error *err)
{
  char which[64] = "";
  if (lane >= 0)
    snprintf(which, sizeof which, " on configuration %d of the block", lane);
  return fg_fail(err, FG_ERR_RUNTIME, here,
                 "the Dirac operator is singular%s (pivot %d of %d%s is zero to working "
                 "precision): kappa %g is at or past the massless point for this configuration",
                 which, pivot, n, n == d->n ? "" : " of its even-odd Schur complement", d->kappa);
}

/* LU factors of D in d->a; FG_ERR_RUNTIME naming a zero pivot. */
static int factorise(fg_dirac *d, const double *theta, size_t stride, const char *here,
                     fg_error *err)
{
  int rc = dense_workspace(d, here, err);
  if (rc != FG_OK)
    return rc;
  fg_dirac_matrix(d, theta, stride, d->a);
  int info = 0;
  zgetrf_(&d->n, &d->n, d->a, &d->n, d->pivot, &info);
  if (info < 0)
    return fg_fail(err, FG_ERR_RUNTIME, here, "zgetrf: argument %d is invalid", -info);
  const double *diag = (const double *)d->a;
  int zero = info > 0 ? info : zero_pivot(diag, diag + 1, 2 * ((size_t)d->n + 1), d->n);
  return zero > 0 ? singular_error(d, zero, d->n, -1, here, err) : FG_OK;
}

static int invert(fg_dirac *d, const char *here, fg_error *err)
{
  int info = 0;
  zgetri_(&d->n, d->a, &d->n, d->pivot, d->work, &d->lwork, &info);
  if (info != 0)
    return fg_fail(err, FG_ERR_RUNTIME, here, "zgetri failed (info %d)", info);
  return FG_OK;
}

/* ---- Even-odd reduction ----------------------------------------------------
 * With both extents even the lattice is bipartite and D = 1 + K hops only
 * between even (e) and odd (o) sites: D = [[1, K_eo], [K_oe, 1]]. Then
 *   det D = det S,  S = 1 - K_oe K_eo  (on the odd sites, V x V),
 *   D^-1_oo = S^-1,  D^-1_oe = -S^-1 K_oe,  D^-1_eo = -K_eo S^-1,
 * and a link always joins an even and an odd site, so the gradient needs
 * only the blocks D^-1_oe and D^-1_eo at neighbours: O(V) from S^-1. The
 * dense work is that of a matrix of half the size, 1/8 of the full LU and
 * inverse. K's block from y to its neighbour n_j(y) (j = 2 mu: y + mu,
 * j = 2 mu + 1: y - mu) is hop[4 y + j] P_j, P_2mu = 1 - sigma_mu,
 * P_2mu+1 = 1 + sigma_mu (fg_dirac_matrix); n_(j^1)(n_j(y)) = y. */

static inline const double complex (*projector(int j))[2]
{
  return (j & 1) ? plus_sigma[j >> 1] : minus_sigma[j >> 1];
}

static inline int neighbour(const fg_lattice *lat, int y, int j)
{
  return (j & 1) ? lat->down[2 * y + (j >> 1)] : lat->up[2 * y + (j >> 1)];
}

static int schur_workspace(fg_dirac *d, const char *here, fg_error *err)
{
  if (d->s != NULL)
    return FG_OK;
  int m = d->lat->volume;
  d->s = fg_alloc(sizeof(double complex) * (size_t)m * (size_t)m, err, here);
  d->spivot = fg_alloc(sizeof(int) * (size_t)m, err, here);
  if (d->s == NULL || d->spivot == NULL)
    return FG_ERR_RUNTIME;
  double complex query = 0;
  int lwork = -1, info = 0;
  zgetri_(&m, d->s, &m, d->spivot, &query, &lwork, &info);
  d->slwork = info == 0 && creal(query) >= m ? (int)creal(query) : m;
  d->swork = fg_alloc(sizeof(double complex) * (size_t)d->slwork, err, here);
  if (d->swork == NULL) {
    fg_free(d->s);
    d->s = NULL;
    return FG_ERR_RUNTIME;
  }
  return FG_OK;
}

/* S = 1 - K_oe K_eo at the hops of set_hops, column-major in d->s: the odd
 * site odd[i], spin a, is row and column 2 i + a. */
static void schur_matrix(fg_dirac *d)
{
  const fg_lattice *lat = d->lat;
  const size_t m = (size_t)lat->volume;
  double complex *s = d->s;
  memset(s, 0, sizeof(double complex) * m * m);
  for (size_t i = 0; i < m; ++i)
    s[i + m * i] = 1.0;
  for (int i = 0; i < lat->volume / 2; ++i) {
    int o = d->odd[i];
    for (int j = 0; j < 4; ++j) {
      int e = neighbour(lat, o, j);
      const double complex(*pj)[2] = projector(j);
      for (int k = 0; k < 4; ++k) {
        size_t col = 2 * (size_t)d->oidx[neighbour(lat, e, k)];
        const double complex(*pk)[2] = projector(k);
        double complex h = d->hop[4 * o + j] * d->hop[4 * e + k];
        for (int a = 0; a < 2; ++a)
          for (int c = 0; c < 2; ++c)
            s[2 * (size_t)i + a + m * (col + c)] -= h * (pj[a][0] * pk[0][c] + pj[a][1] * pk[1][c]);
      }
    }
  }
}

/* tr(D^-1(r, c) M) between neighbours r and c from S^-1, M a 2 x 2 matrix:
 * with o_j = n_j(c) (r odd) or n_j(r) (r even),
 *   r odd, c even: D^-1(r, c) = -sum_j S^-1(r, o_j) hop[4 o_j + (j ^ 1)] P_(j^1),
 *   r even, c odd: D^-1(r, c) = -sum_j hop[4 r + j] P_j S^-1(o_j, c),
 * so the trace is -sum_j hop[t.hop] sum_ab S^-1(t.row + a, t.col + b) t.c[b][a]
 * over the terms t = terms[j], t.c = P_(j^1) M or M P_j (the trace is
 * cyclic). The gradient needs only these traces, not the blocks themselves. */
typedef struct {
  int hop, row, col;
  double complex c[2][2];
} trace_term;

static void trace_terms(const fg_dirac *d, int r, int c, const double complex (*M)[2],
                        trace_term terms[4])
{
  const fg_lattice *lat = d->lat;
  const int odd = d->oidx[r] >= 0;
  for (int j = 0; j < 4; ++j) {
    int o = neighbour(lat, odd ? c : r, j);
    const double complex(*p)[2] = projector(odd ? j ^ 1 : j);
    trace_term *t = &terms[j];
    t->hop = odd ? 4 * o + (j ^ 1) : 4 * r + j;
    t->row = 2 * d->oidx[odd ? r : o];
    t->col = 2 * d->oidx[odd ? o : c];
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 2; ++b)
        t->c[a][b] = odd ? p[a][0] * M[0][b] + p[a][1] * M[1][b]
                         : M[a][0] * p[0][b] + M[a][1] * p[1][b];
  }
}

/* tr(D^-1(r, c) M) from S^-1 in d->s (trace_terms). */
static double complex trace_inverse(const fg_dirac *d, int r, int c, const double complex (*M)[2])
{
  const size_t m = (size_t)d->lat->volume;
  trace_term terms[4];
  trace_terms(d, r, c, M, terms);
  double complex tr = 0;
  for (int j = 0; j < 4; ++j) {
    const trace_term *t = &terms[j];
    double complex sum = 0;
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 2; ++b)
        sum += d->s[(size_t)(t->row + a) + m * (size_t)(t->col + b)] * t->c[b][a];
    tr -= d->hop[t->hop] * sum;
  }
  return tr;
}

/* As logdet_gradient, with the traces against D^-1's neighbour blocks from S^-1. */
static void logdet_gradient_eo(const fg_dirac *d, const double *theta, size_t stride,
                               double *grad, size_t grad_stride)
{
  const fg_lattice *lat = d->lat;
  for (int mu = 0; mu < 2; ++mu)
    for (int x = 0; x < lat->volume; ++x) {
      int xf = lat->up[x * 2 + mu];
      double complex u = d->phase[x * 2 + mu] * link(theta, stride, lat->volume, mu, x);
      double complex df = -d->kappa * I * u, db = d->kappa * I * conj(u);
      double complex tr = trace_inverse(d, xf, x, minus_sigma[mu]) * df + /* D^-1(x + mu, x) */
                          trace_inverse(d, x, xf, plus_sigma[mu]) * db;   /* D^-1(x, x + mu) */
      grad[((size_t)mu * (size_t)lat->volume + (size_t)x) * grad_stride] = 2.0 * creal(tr);
    }
}

/* S's LU in d->s and logdet = log det D^dagger D; then, if inverse, S^-1 in d->s. */
static int schur_solve(fg_dirac *d, const double *theta, size_t stride, double *logdet,
                       int inverse, const char *here, fg_error *err)
{
  int rc = schur_workspace(d, here, err);
  if (rc != FG_OK)
    return rc;
  set_hops(d, theta, stride);
  schur_matrix(d);
  int m = d->lat->volume, info = 0;
  zgetrf_(&m, &m, d->s, &m, d->spivot, &info);
  if (info < 0)
    return fg_fail(err, FG_ERR_RUNTIME, here, "zgetrf: argument %d is invalid", -info);
  const double *diag = (const double *)d->s;
  int zero = info > 0 ? info : zero_pivot(diag, diag + 1, 2 * ((size_t)m + 1), m);
  if (zero > 0)
    return singular_error(d, zero, m, -1, here, err);
  double sum = 0.0;
  for (size_t i = 0; i < (size_t)m; ++i)
    sum += log(cabs(d->s[i + (size_t)m * i]));
  *logdet = 2.0 * sum;
  if (!inverse)
    return FG_OK;
  zgetri_(&m, d->s, &m, d->spivot, d->swork, &d->slwork, &info);
  if (info != 0)
    return fg_fail(err, FG_ERR_RUNTIME, here, "zgetri failed (info %d)", info);
  return FG_OK;
}

int fg_dirac_logdet(fg_dirac *d, const double *theta, size_t stride, double *logdet,
                    double *grad, size_t grad_stride, fg_error *err)
{
  static const char here[] = "fg_dirac_logdet [dirac.c]";
  if (d->eo) {
    int rc = schur_solve(d, theta, stride, logdet, grad != NULL, here, err);
    if (rc == FG_OK && grad != NULL)
      logdet_gradient_eo(d, theta, stride, grad, grad_stride);
    return rc;
  }
  const size_t n = (size_t)d->n;
  int rc = factorise(d, theta, stride, here, err);
  if (rc != FG_OK)
    return rc;
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i)
    sum += log(cabs(d->a[i + n * i]));
  *logdet = 2.0 * sum;
  if (grad == NULL)
    return FG_OK;
  rc = invert(d, here, err);
  if (rc == FG_OK)
    logdet_gradient(d, theta, stride, grad, grad_stride);
  return rc;
}

/* ---- Lane-batched even-odd determinant ----------------------------------
 * fg_dirac_logdet_lanes on FG_VLEN configurations at a time: their Schur
 * complements S side by side ([row][column][lane], lane_lu.h), one LU with
 * pivots chosen per lane, S^-1 for the gradient; every step below is the
 * per-configuration code above with a loop over the lanes innermost. */

enum { NL = FG_VLEN };

/* A chunk of fewer configurations goes through fg_dirac_logdet one by one:
 * the block costs about as much as 6 (log det and force) to 8 (log det
 * alone) LAPACK calls at 8x8 (bench_dirac, docs/performance.md). */
#define LANES_BATCHED_MIN (FG_VLEN / 2)
/* Above this volume (V x V Schur complements) the block of 4 V^2 FG_VLEN
 * doubles falls out of cache: from 16x16 on LAPACK's blocked LU of one
 * configuration at a time is faster; 12x12 breaks even (bench_dirac). */
#define LANES_BATCHED_MAX_VOLUME 144

static int lanes_workspace(fg_dirac *d, const char *here, fg_error *err)
{
  if (d->lanes != NULL)
    return FG_OK;
  const int v = d->lat->volume;
  d->lane_hop = fg_alloc(sizeof(double) * 8 * (size_t)v * NL, err, here);
  for (int k = 0; k < 2; ++k)
    d->lane_theta[k] = fg_alloc(sizeof(double) * 2 * (size_t)v * NL, err, here);
  fg_lane_lu *w = fg_alloc(sizeof *w, err, here);
  if (d->lane_hop == NULL || d->lane_theta[0] == NULL || d->lane_theta[1] == NULL || w == NULL ||
      fg_lane_lu_init(w, v, err, here) != FG_OK) {
    fg_free(w);
    for (int k = 0; k < 2; ++k) {
      fg_free(d->lane_theta[k]);
      d->lane_theta[k] = NULL;
    }
    fg_free(d->lane_hop);
    d->lane_hop = NULL;
    return FG_ERR_RUNTIME;
  }
  d->lanes = w;
  d->lane_factored = 0;
  return FG_OK;
}

/* Whether lanes l0 .. l0 + nl - 1 of a [2V][lanes] block (the lanes from nl
 * on repeating lane l0: a chunk of fewer than FG_VLEN) are, bit for bit, the
 * angles whose Schur complements are factorised; if not, they become
 * lane_theta[0]. Training asks for the action and then the force of the
 * same block: the force then reuses the action's LU. */
static int same_block(fg_dirac *d, const double *theta, int lanes, int l0, int nl)
{
  const size_t nd = 2 * (size_t)d->lat->volume;
  double *t = d->lane_theta[1];
  for (size_t i = 0; i < nd; ++i)
    for (int l = 0; l < NL; ++l)
      t[i * NL + l] = theta[i * (size_t)lanes + (size_t)(l0 + (l < nl ? l : 0))];
  if (d->lane_factored && memcmp(t, d->lane_theta[0], sizeof(double) * nd * NL) == 0)
    return 1;
  d->lane_theta[1] = d->lane_theta[0];
  d->lane_theta[0] = t;
  return 0;
}

/* set_hops for every lane of lane_theta[0] into lane_hop. */
static void set_lane_hops(fg_dirac *d)
{
  const fg_lattice *lat = d->lat;
  const double k = d->kappa;
  for (int l = 0; l < NL; ++l) {
    const double *t = d->lane_theta[0] + l;
    for (int y = 0; y < lat->volume; ++y)
      for (int mu = 0; mu < 2; ++mu) {
        int yb = lat->down[y * 2 + mu];
        double complex f = -k * d->phase[y * 2 + mu] * link(t, NL, lat->volume, mu, y);
        double complex b = -k * d->phase_back[y * 2 + mu] * conj(link(t, NL, lat->volume, mu, yb));
        double *h = d->lane_hop + (size_t)(4 * y + 2 * mu) * 2 * NL + l;
        h[0] = creal(f);
        h[NL] = cimag(f);
        h[2 * NL] = creal(b);
        h[3 * NL] = cimag(b);
      }
  }
}

/* The lanes of hop[i]: real parts, then imaginary parts. */
static inline const double *lane_hop(const fg_dirac *d, int i)
{
  return d->lane_hop + (size_t)i * 2 * NL;
}

/* S = 1 - K_oe K_eo of every lane (schur_matrix) into the lane workspace. */
FG_MULTIVERSION static void lane_schur_matrix(fg_dirac *d)
{
  const fg_lattice *lat = d->lat;
  fg_lane_lu *w = d->lanes;
  const size_t m = (size_t)lat->volume, ld = (size_t)w->ld;
  memset(w->re, 0, sizeof(double) * m * ld * NL);
  memset(w->im, 0, sizeof(double) * m * ld * NL);
  for (size_t i = 0; i < m; ++i)
    for (int l = 0; l < NL; ++l)
      w->re[(i * ld + i) * NL + l] = 1.0;
  for (int i = 0; i < lat->volume / 2; ++i) {
    int o = d->odd[i];
    for (int j = 0; j < 4; ++j) {
      int e = neighbour(lat, o, j);
      const double complex(*pj)[2] = projector(j);
      const double *fr = lane_hop(d, 4 * o + j), *fi = fr + NL;
      for (int k = 0; k < 4; ++k) {
        size_t col = 2 * (size_t)d->oidx[neighbour(lat, e, k)];
        const double complex(*pk)[2] = projector(k);
        const double *gr = lane_hop(d, 4 * e + k), *gi = gr + NL;
        double hr[NL], hi[NL];
        for (int l = 0; l < NL; ++l) {
          hr[l] = fr[l] * gr[l] - fi[l] * gi[l];
          hi[l] = fr[l] * gi[l] + fi[l] * gr[l];
        }
        for (int a = 0; a < 2; ++a)
          for (int c = 0; c < 2; ++c) {
            double complex p = pj[a][0] * pk[0][c] + pj[a][1] * pk[1][c];
            double pr = creal(p), pi = cimag(p);
            if (pr == 0.0 && pi == 0.0)
              continue;
            size_t at = ((2 * (size_t)i + a) * ld + col + c) * NL;
            double *sr = w->re + at, *si = w->im + at;
            for (int l = 0; l < NL; ++l) {
              sr[l] -= hr[l] * pr - hi[l] * pi;
              si[l] -= hr[l] * pi + hi[l] * pr;
            }
          }
      }
    }
  }
}

/* trace_inverse for every lane: tr_re[l] + i tr_im[l], from S^-1 in the lane workspace. */
static inline __attribute__((always_inline)) void lane_trace_inverse(
    const fg_dirac *d, int r, int c, const double complex (*M)[2], double *restrict tr_re,
    double *restrict tr_im)
{
  const fg_lane_lu *w = d->lanes;
  trace_term terms[4];
  trace_terms(d, r, c, M, terms);
  for (int l = 0; l < NL; ++l)
    tr_re[l] = tr_im[l] = 0.0;
  for (int j = 0; j < 4; ++j) {
    const trace_term *t = &terms[j];
    double sr[NL] = {0}, si[NL] = {0};
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 2; ++b) {
        const double cr = creal(t->c[b][a]), ci = cimag(t->c[b][a]);
        if (cr == 0.0 && ci == 0.0) /* P M has rank one at most, and can be 0 */
          continue;
        size_t at = ((size_t)(t->row + a) * (size_t)w->ld + (size_t)(t->col + b)) * NL;
        const double *restrict xr = w->inv_re + at, *restrict xi = w->inv_im + at;
        for (int l = 0; l < NL; ++l) {
          sr[l] += xr[l] * cr - xi[l] * ci;
          si[l] += xr[l] * ci + xi[l] * cr;
        }
      }
    const double *restrict hr = lane_hop(d, t->hop), *restrict hi = hr + NL;
    for (int l = 0; l < NL; ++l) {
      tr_re[l] -= hr[l] * sr[l] - hi[l] * si[l];
      tr_im[l] -= hr[l] * si[l] + hi[l] * sr[l];
    }
  }
}

/* logdet_gradient_eo for lanes l0 .. l0 + nl - 1 of a [2V][lanes] block. The
 * derivatives of the two hops of link (x, mu) are those hops times i and -i:
 * dD/dtheta = i hop[4 x + 2 mu] (x -> x + mu) and -i hop[4 (x + mu) + 2 mu + 1]. */
FG_MULTIVERSION static void lane_gradient(const fg_dirac *d, int lanes, int l0, int nl,
                                          double *grad)
{
  const fg_lattice *lat = d->lat;
  double fr[NL], fi[NL], br[NL], bi[NL];
  for (int mu = 0; mu < 2; ++mu)
    for (int x = 0; x < lat->volume; ++x) {
      int xf = lat->up[x * 2 + mu];
      lane_trace_inverse(d, xf, x, minus_sigma[mu], fr, fi); /* D^-1(x + mu, x) */
      lane_trace_inverse(d, x, xf, plus_sigma[mu], br, bi);  /* D^-1(x, x + mu) */
      const double *hf = lane_hop(d, 4 * x + 2 * mu), *hb = lane_hop(d, 4 * xf + 2 * mu + 1);
      double *g = grad + ((size_t)mu * (size_t)lat->volume + (size_t)x) * (size_t)lanes + l0;
      for (int l = 0; l < nl; ++l) /* 2 Re[(fr + i fi) i hf - (br + i bi) i hb] */
        g[l] = 2.0 * (-fr[l] * hf[NL + l] - fi[l] * hf[l] + br[l] * hb[NL + l] + bi[l] * hb[l]);
    }
}

/* A configuration without a determinant: logdet -inf, gradient 0. */
static void no_determinant(int v, int lanes, int l, double *logdet, double *grad)
{
  if (logdet != NULL)
    logdet[l] = -HUGE_VAL;
  for (int i = 0; grad != NULL && i < 2 * v; ++i)
    grad[(size_t)i * (size_t)lanes + (size_t)l] = 0.0;
}

/* Configurations l0 .. l0 + nl - 1 through fg_dirac_logdet, one at a time. */
static int one_by_one(fg_dirac *d, const double *theta, int lanes, int l0, int nl,
                      double *logdet, double *grad, fg_error *err)
{
  int rc = FG_OK;
  for (int l = l0; l < l0 + nl; ++l) {
    double ld;
    int r = fg_dirac_logdet(d, theta + l, (size_t)lanes, &ld, grad != NULL ? grad + l : NULL,
                            (size_t)lanes, rc == FG_OK ? err : NULL);
    if (logdet != NULL)
      logdet[l] = ld;
    if (r != FG_OK) {
      no_determinant(d->lat->volume, lanes, l, logdet, grad);
      rc = rc == FG_OK ? r : rc;
    }
  }
  return rc;
}

/* Configurations l0 .. l0 + nl - 1 together. */
static int together(fg_dirac *d, const double *theta, int lanes, int l0, int nl, double *logdet,
                    double *grad, const char *here, fg_error *err)
{
  fg_lane_lu *w = d->lanes;
  if (!same_block(d, theta, lanes, l0, nl)) {
    d->lane_factored = 0;
    set_lane_hops(d);
    lane_schur_matrix(d);
    fg_lane_lu_factor(w);
    fg_lane_lu_log_abs_det(w, d->lane_logdet);
    d->lane_factored = 1;
  }
  const double *sum = d->lane_logdet;
  if (grad != NULL) {
    fg_lane_lu_invert(w);
    lane_gradient(d, lanes, l0, nl, grad);
  }
  int rc = FG_OK;
  const size_t step = ((size_t)w->ld + 1) * NL;
  for (int l = 0; l < nl; ++l) {
    if (logdet != NULL)
      logdet[l0 + l] = 2.0 * sum[l];
    int zero = w->singular[l] > 0 ? w->singular[l] : zero_pivot(w->re + l, w->im + l, step, w->m);
    if (zero == 0)
      continue;
    no_determinant(d->lat->volume, lanes, l0 + l, logdet, grad);
    if (rc == FG_OK)
      rc = singular_error(d, zero, w->m, l0 + l, here, err);
  }
  return rc;
}

int fg_dirac_logdet_lanes(fg_dirac *d, const double *theta, int lanes, double *logdet,
                          double *grad, fg_error *err)
{
  static const char here[] = "fg_dirac_logdet_lanes [dirac.c]";
  fg_error ignored = {0}; /* without the batched workspace: one by one */
  const int batched = d->eo && d->lat->volume <= LANES_BATCHED_MAX_VOLUME &&
                      lanes >= LANES_BATCHED_MIN && lanes_workspace(d, here, &ignored) == FG_OK;
  int rc = FG_OK;
  for (int l0 = 0; l0 < lanes; l0 += NL) {
    int nl = lanes - l0 < NL ? lanes - l0 : NL;
    fg_error *e = rc == FG_OK ? err : NULL; /* the first failure's message */
    int r = batched && nl >= LANES_BATCHED_MIN
                ? together(d, theta, lanes, l0, nl, logdet, grad, here, e)
                : one_by_one(d, theta, lanes, l0, nl, logdet, grad, e);
    rc = rc == FG_OK ? r : rc;
  }
  return rc;
}

/* C(t) (unnormalised) += sum_y |col(y)|^2 at t = y0 - x0 of one column x of D^-1. */
static void correlator_add(const fg_lattice *lat, const double complex *col, int x0, double *C)
{
  const int l0 = lat->extent[0], l1 = lat->extent[1];
  for (size_t row = 0; row < 2 * (size_t)lat->volume; ++row) {
    int t = ((int)(row / 2) / l1 - x0 + l0) % l0;
    C[t] += creal(col[row]) * creal(col[row]) + cimag(col[row]) * cimag(col[row]);
  }
}

/* The pion correlator column by column from S^-1 (d->s after schur_solve
 * with the inverse): for an odd source c, D^-1(o, c) = S^-1(o, c) and
 * D^-1(e, c) = -sum_j K(e, n_j(e)) D^-1(n_j(e), c); for an even source,
 * D^-1(o, c) = -sum_j S^-1(o, n_j(c)) K(n_j(c), c) and D^-1(e, c) =
 * delta(e, c) - sum_j K(e, n_j(e)) D^-1(n_j(e), c). O(V) per column. */
static void correlator_eo(fg_dirac *d, double *C)
{
  const fg_lattice *lat = d->lat;
  const size_t m = (size_t)lat->volume;
  double complex *col = d->v[0]; /* N entries: one column of D^-1 */
  for (int c = 0; c < lat->volume; ++c)
    for (int b = 0; b < 2; ++b) {
      for (int i = 0; i < lat->volume / 2; ++i) /* the odd rows */
        for (int a = 0; a < 2; ++a) {
          size_t r = 2 * (size_t)i + a;
          double complex g = 0;
          if (d->oidx[c] >= 0) {
            g = d->s[r + m * (2 * (size_t)d->oidx[c] + b)];
          } else {
            for (int j = 0; j < 4; ++j) {
              int o = neighbour(lat, c, j);
              const double complex(*p)[2] = projector(j ^ 1);
              size_t oc = 2 * (size_t)d->oidx[o];
              g -= d->hop[4 * o + (j ^ 1)] * (d->s[r + m * oc] * p[0][b] + d->s[r + m * (oc + 1)] * p[1][b]);
            }
          }
          col[2 * (size_t)d->odd[i] + a] = g;
        }
      for (int e = 0; e < lat->volume; ++e) { /* the even rows, from the odd ones */
        if (d->oidx[e] >= 0)
          continue;
        for (int a = 0; a < 2; ++a) {
          double complex g = (e == c && a == b) ? 1.0 : 0.0;
          for (int j = 0; j < 4; ++j) {
            int o = neighbour(lat, e, j);
            const double complex(*p)[2] = projector(j);
            g -= d->hop[4 * e + j] * (p[a][0] * col[2 * (size_t)o] + p[a][1] * col[2 * (size_t)o + 1]);
          }
          col[2 * (size_t)e + a] = g;
        }
      }
      correlator_add(lat, col, c / lat->extent[1], C);
    }
}

int fg_dirac_pion_correlator(fg_dirac *d, const double *theta, size_t stride, double *C,
                             fg_error *err)
{
  static const char here[] = "fg_dirac_pion_correlator [dirac.c]";
  const fg_lattice *lat = d->lat;
  const size_t n = (size_t)d->n;
  if (d->eo) {
    double logdet;
    int rc = schur_solve(d, theta, stride, &logdet, 1, here, err);
    if (rc != FG_OK)
      return rc;
    for (int t = 0; t < lat->extent[0]; ++t)
      C[t] = 0.0;
    correlator_eo(d, C);
    for (int t = 0; t < lat->extent[0]; ++t)
      C[t] /= lat->volume;
    return FG_OK;
  }
  int rc = factorise(d, theta, stride, here, err);
  if (rc == FG_OK)
    rc = invert(d, here, err);
  if (rc != FG_OK)
    return rc;
  const int l0 = lat->extent[0], l1 = lat->extent[1];
  for (int t = 0; t < l0; ++t)
    C[t] = 0.0;
  /* Sites are x0 * L1 + x1 (lattice.h): the time of column block x is x / L1. */
  for (size_t col = 0; col < n; ++col)
    correlator_add(lat, d->a + n * col, (int)(col / 2) / l1, C);
  for (int t = 0; t < l0; ++t)
    C[t] /= lat->volume;
  return FG_OK;
}

static double norm2(const double complex *x, int n)
{
  double s = 0.0;
  for (int i = 0; i < n; ++i)
    s += creal(x[i]) * creal(x[i]) + cimag(x[i]) * cimag(x[i]);
  return s;
}

/* out = D^dagger D in at the hops set last (tmp: N scratch). */
static void normal_apply(const fg_dirac *d, const double complex *in, double complex *tmp,
                         double complex *out)
{
  apply_hops(d, in, tmp, 0);
  apply_hops(d, tmp, out, 1);
}

int fg_dirac_cg(fg_dirac *d, const double *theta, size_t stride, const double complex *b,
                double complex *x, double tol, int max_iter, int *iterations, fg_error *err)
{
  static const char here[] = "fg_dirac_cg [dirac.c]";
  const int n = d->n;
  double complex *r = d->v[0], *p = d->v[1], *tmp = d->v[2], *ap = d->v[3];
  const double bb = norm2(b, n), stop = tol * tol * bb;
  for (int i = 0; i < n; ++i) {
    x[i] = 0;
    r[i] = p[i] = b[i];
  }
  double rr = bb;
  int k = 0;
  set_hops(d, theta, stride);
  while (rr > stop && k < max_iter) {
    normal_apply(d, p, tmp, ap);
    /* real arithmetic on (re, im) pairs: Re <p, Ap>, and real scalings */
    const double *pr = (const double *)p, *apr = (const double *)ap;
    double *xr = (double *)x, *rrr = (double *)r, *prw = (double *)p;
    double pap = 0.0;
    for (int i = 0; i < 2 * n; ++i)
      pap += pr[i] * apr[i];
    double alpha = rr / pap, rr_new = 0.0;
    for (int i = 0; i < 2 * n; ++i) {
      xr[i] += alpha * pr[i];
      rrr[i] -= alpha * apr[i];
      rr_new += rrr[i] * rrr[i];
    }
    double beta = rr_new / rr;
    rr = rr_new;
    for (int i = 0; i < 2 * n; ++i)
      prw[i] = rrr[i] + beta * prw[i];
    ++k;
  }
  *iterations = k;
  /* The recursive residual drifts from the true one: check the true one. */
  normal_apply(d, x, tmp, ap);
  for (int i = 0; i < n; ++i)
    r[i] = b[i] - ap[i];
  double true_rr = norm2(r, n);
  if (true_rr > 4.0 * stop && true_rr > 0.0)
    return fg_fail(err, FG_ERR_RUNTIME, here,
                   "no convergence: relative residual %.3g after %d iterations (tolerance %.3g)",
                   sqrt(true_rr / bb), k, tol);
  return FG_OK;
}

void fg_dirac_pseudofermion_force(fg_dirac *d, const double *theta, size_t stride,
                                  const double complex *chi, double *force, size_t force_stride)
{
  const fg_lattice *lat = d->lat;
  double complex *psi = d->v[2];
  fg_dirac_apply(d, theta, stride, chi, psi, 0);
  for (int mu = 0; mu < 2; ++mu)
    for (int x = 0; x < lat->volume; ++x) {
      int xf = lat->up[x * 2 + mu];
      double complex u = d->phase[x * 2 + mu] * link(theta, stride, lat->volume, mu, x);
      double complex df = -d->kappa * I * u, db = d->kappa * I * conj(u), s = 0;
      for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 2; ++b) {
          s += conj(psi[2 * x + a]) * minus_sigma[mu][a][b] * df * chi[2 * xf + b];
          s += conj(psi[2 * xf + a]) * plus_sigma[mu][a][b] * db * chi[2 * x + b];
        }
      force[((size_t)mu * (size_t)lat->volume + (size_t)x) * force_stride] += -2.0 * creal(s);
    }
}
