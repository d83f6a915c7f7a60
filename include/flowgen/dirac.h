/*
 * dirac.h -- the Wilson-Dirac operator of the two-flavour Schwinger model in
 * two dimensions (seed eq. A6, SPEC section 9) and its exact determinant.
 *
 * Conventions. Link angles theta_mu(x), U_mu(x) = exp(i theta_mu(x)), stored
 * component-major as in the ensemble files: theta_mu(x) at
 * theta[(mu * V + x) * stride] (stride 1 for one configuration, stride =
 * lanes for lane l of a [2V][lanes] block starting at theta + l). Spinors
 * psi(x)_a, a = 0, 1, at index 2 x + a (N = 2V complex entries).
 *   (D psi)(y) = psi(y) - kappa sum_mu [ (1 - sigma_mu) U_mu(y) psi(y + mu)
 *                                      + (1 + sigma_mu) U_mu(y - mu)^* psi(y - mu) ]
 * with sigma_0 = sigma_x, sigma_1 = sigma_y. A hop across the boundary of
 * direction mu is multiplied by bc[mu] (+1 periodic, -1 antiperiodic; the
 * default fermion_bc is antiperiodic in time, periodic in space).
 * D is gamma5-hermitian with gamma5 = sigma_z: D^dagger = sigma_z D sigma_z,
 * so det D is real.
 *
 *   int fg_dirac_create(const fg_lattice *lat, double kappa, const int bc[2],
 *                       fg_dirac **out, fg_error *err)
 *     Workspace for lat (2D, borrowed: it must outlive the operator): the
 *     dense N x N matrix, its LU factors, pivots and inverse. FG_ERR_INPUT for
 *     a lattice that is not 2D, kappa < 0 or not finite, or bc[mu] not +-1;
 *     FG_ERR_RUNTIME if out of memory. Local.
 *   void fg_dirac_destroy(fg_dirac *d)       NULL is allowed.
 *   int fg_dirac_size(const fg_dirac *d)     N = 2V.
 *   void fg_dirac_matrix(const fg_dirac *d, const double *theta, size_t stride,
 *                        double complex *D)
 *     The dense operator, column-major (LAPACK): D[row + N col].
 *   void fg_dirac_apply(const fg_dirac *d, const double *theta, size_t stride,
 *                       const double complex *psi, double complex *out, int dagger)
 *     out = D psi (dagger = 0) or D^dagger psi (dagger = 1), matrix-free,
 *     O(V) (for conjugate gradient). psi and out must not alias.
 *   int fg_dirac_logdet(fg_dirac *d, const double *theta, size_t stride,
 *                       double *logdet, double *grad, size_t grad_stride, fg_error *err)
 *     logdet = log det D^dagger D = 2 log |det D| from a complex LU
 *     factorisation (LAPACK zgetrf), and, if grad != NULL,
 *     grad[(mu V + x) grad_stride] = d logdet / d theta_mu(x)
 *                                  = 2 Re tr(D^-1 dD/dtheta_mu(x))
 *     from the inverse (zgetri). FG_ERR_RUNTIME when D is singular (a
 *     pivot zero to working precision, |Re| + |Im| <= n eps times the
 *     largest: the massless point reached) or LAPACK fails. When both extents
 *     are even and >= 4 (a bipartite lattice) it uses the even-odd
 *     reduction det D = det S, S = 1 - K_oe K_eo the V x V Schur complement
 *     on the odd sites (D = 1 + K), and takes the gradient's neighbour
 *     blocks of D^-1 from S^-1: cost (1/3) N^3 real multiply-adds for the
 *     factorisation, (2/3) N^3 more with grad. Otherwise the full N x N LU:
 *     (8/3) N^3, and (16/3) N^3 more with grad.
 *     Not thread-safe on one d (it uses d's buffers).
 *   int fg_dirac_logdet_lanes(fg_dirac *d, const double *theta, int lanes,
 *                             double *logdet, double *grad, fg_error *err)
 *     fg_dirac_logdet of every configuration of a [2V][lanes] block (lane l
 *     at theta + l, stride lanes): logdet[l], and if grad != NULL,
 *     grad[(mu V + x) lanes + l]; logdet may be NULL (gradient only). With
 *     the even-odd reduction on and V <= 144 (12x12) it takes FG_VLEN
 *     configurations at a time (fewer than FG_VLEN / 2 left over: one by
 *     one) and factorises their Schur complements together, lanes
 *     innermost (src/theory/lane_lu.h): the pivots are chosen per
 *     configuration as zgetrf chooses them, the updates run over all lanes
 *     in vector registers, S^-1 comes from the same factors; results agree
 *     with fg_dirac_logdet to rounding. The factors of the last block are
 *     kept: a call on the same angles (bit for bit; the force after the
 *     action of a training step) only inverts. Otherwise one by one
 *     through fg_dirac_logdet. A configuration on
 *     which D is singular gets logdet = -inf and a zero gradient, the
 *     others are computed, and the return is FG_ERR_RUNTIME with the
 *     message of the first (naming it, kappa and the massless point).
 *     Not thread-safe on one d.
 *   int fg_dirac_set_even_odd(fg_dirac *d, int on)
 *     Switches the even-odd reduction of fg_dirac_logdet off (on = 0) or
 *     back on where the lattice allows it (the default); returns whether it
 *     is used. For tests and benchmarks that compare the two.
 *   int fg_dirac_pion_correlator(fg_dirac *d, const double *theta, size_t stride,
 *                                double *C, fg_error *err)
 *     C[t] = (1/V) sum_x sum_{y : y0 = x0 + t} sum_ab |D^-1(y, x)_ab|^2 for
 *     t = 0..L0-1: the pion correlator of seed/SPEC section 9, averaged over
 *     every source x (all-to-all from the full inverse; its expectation is
 *     that of a single point source, by translation invariance, with less
 *     noise). Errors as fg_dirac_logdet.
 *
 * Pseudofermions (HMC with two flavours): S_pf = phi^dagger (D^dagger D)^-1 phi.
 *   int fg_dirac_cg(fg_dirac *d, const double *theta, size_t stride,
 *                   const double complex *b, double complex *x, double tol, int max_iter,
 *                   int *iterations, fg_error *err)
 *     Solves D^dagger D x = b by conjugate gradient from the start x = 0,
 *     until |r| <= tol |b| (true residual checked at the end). *iterations
 *     = iterations made. FG_ERR_RUNTIME if max_iter is reached first.
 *   void fg_dirac_pseudofermion_force(fg_dirac *d, const double *theta, size_t stride,
 *                                     const double complex *chi, double *force,
 *                                     size_t force_stride)
 *     Given chi = (D^dagger D)^-1 phi, ADDS dS_pf/dtheta_mu(x)
 *     = -2 Re[(D chi)^dagger dD/dtheta_mu(x) chi] to force[(mu V + x) force_stride].
 */
#ifndef FLOWGEN_DIRAC_H
#define FLOWGEN_DIRAC_H

#include <complex.h>
#include <stddef.h>

#include "flowgen/error.h"
#include "flowgen/lattice.h"

typedef struct fg_dirac fg_dirac;

int fg_dirac_create(const fg_lattice *lat, double kappa, const int bc[2], fg_dirac **out,
                    fg_error *err);
void fg_dirac_destroy(fg_dirac *d);
int fg_dirac_size(const fg_dirac *d);
int fg_dirac_set_even_odd(fg_dirac *d, int on);
void fg_dirac_matrix(const fg_dirac *d, const double *theta, size_t stride, double complex *D);
void fg_dirac_apply(const fg_dirac *d, const double *theta, size_t stride,
                    const double complex *psi, double complex *out, int dagger);
int fg_dirac_logdet(fg_dirac *d, const double *theta, size_t stride, double *logdet,
                    double *grad, size_t grad_stride, fg_error *err);
int fg_dirac_logdet_lanes(fg_dirac *d, const double *theta, int lanes, double *logdet,
                          double *grad, fg_error *err);

int fg_dirac_pion_correlator(fg_dirac *d, const double *theta, size_t stride, double *C,
                             fg_error *err);

int fg_dirac_cg(fg_dirac *d, const double *theta, size_t stride, const double complex *b,
                double complex *x, double tol, int max_iter, int *iterations, fg_error *err);
void fg_dirac_pseudofermion_force(fg_dirac *d, const double *theta, size_t stride,
                                  const double complex *chi, double *force, size_t force_stride);

#endif
