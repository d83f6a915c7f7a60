/*
 * u1.h -- U(1) gauge fields on a periodic 2D lattice: plaquettes, the
 * Wilson gauge action and its force, the topological charge, gauge
 * transformations (the gauge part of the Schwinger model, seed eqs. A4-A5).
 *
 * Link angles theta_mu(x) are stored component-major, theta_mu(x) at
 * theta[(mu V + x) stride] (as in dirac.h and the ensemble files). The
 * plaquette angle at x is
 *   p(x) = theta_0(x) + theta_1(x + 0) - theta_0(x + 1) - theta_1(x),
 * P(x) = exp(i p(x)) = U_0(x) U_1(x+0) U_0(x+1)^* U_1(x)^*.
 *
 *   void fg_u1_plaquettes(const fg_lattice *lat, const double *theta, size_t stride, double *p)
 *     p[x] = p(x), unwrapped (a sum of four angles), for x = 0..V-1.
 *   double fg_u1_gauge_action(const fg_lattice *lat, const double *theta, size_t stride,
 *                             double beta)
 *     S_g = -beta sum_x cos p(x).
 *   void fg_u1_gauge_force(const fg_lattice *lat, const double *theta, size_t stride,
 *                          double beta, double *force, size_t force_stride)
 *     force[(mu V + x) force_stride] = dS_g / dtheta_mu(x) (overwrites):
 *       mu = 0: beta (sin p(x) - sin p(x - 1))
 *       mu = 1: beta (sin p(x - 0) - sin p(x)).
 *   double fg_u1_mean_plaquette(const fg_lattice *lat, const double *theta, size_t stride)
 *     (1/V) sum_x cos p(x) = <Re P>.
 *   double fg_u1_topological_charge(const fg_lattice *lat, const double *theta, size_t stride)
 *     Q = (1/2 pi) sum_x arg P(x) with arg in (-pi, pi]; on a periodic
 *     lattice an integer up to rounding (returned as computed, not rounded).
 *   double fg_angle_wrap(double t)
 *     t mapped into (-pi, pi] (t - 2 pi k).
 *   void fg_u1_gauge_transform(const fg_lattice *lat, double *theta, size_t stride,
 *                              const double *alpha)
 *     U_mu(x) -> exp(i alpha(x)) U_mu(x) exp(-i alpha(x + mu)), angles wrapped.
 * All local and pure (no allocation). lat must be 2D.
 */
#ifndef FLOWGEN_U1_H
#define FLOWGEN_U1_H

#include <stddef.h>

#include "flowgen/lattice.h"

void fg_u1_plaquettes(const fg_lattice *lat, const double *theta, size_t stride, double *p);
double fg_u1_gauge_action(const fg_lattice *lat, const double *theta, size_t stride, double beta);
void fg_u1_gauge_force(const fg_lattice *lat, const double *theta, size_t stride, double beta,
                       double *force, size_t force_stride);
double fg_u1_mean_plaquette(const fg_lattice *lat, const double *theta, size_t stride);
double fg_u1_topological_charge(const fg_lattice *lat, const double *theta, size_t stride);
double fg_angle_wrap(double t);
void fg_u1_gauge_transform(const fg_lattice *lat, double *theta, size_t stride,
                           const double *alpha);

#endif
