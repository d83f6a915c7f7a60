/*
 * phi4.h -- what phi^4 exposes beyond the theory interface (theory.h): the
 * layout of its primaries and observables, and its measuring context, for
 * tests and for code that studies phi^4 itself. Generic code (analysis,
 * HMC, flows) goes through theory.h and must not include this header.
 *
 * A configuration phi is V = lat->volume doubles in the site order of
 * lattice.h (last coordinate fastest); phi(x) is read at phi[x * stride]
 * (stride 1 for one configuration, stride = lanes for lane l of a
 * [V][lanes] block starting at phi + l; stride >= 1). M = sum_x phi(x).
 * Every direction must have extent >= 2.
 *
 * Per configuration, FG_PHI4_NPRIM primary values (prim[FG_PHI4_P_*]):
 *   FG_PHI4_P_M      M / V
 *   FG_PHI4_P_ABS_M  |M| / V
 *   FG_PHI4_P_M2     (M / V)^2
 *   FG_PHI4_P_PHI2   (1/V) sum_x phi(x)^2
 *   FG_PHI4_P_LINK   (1/d) sum_mu G(mu-hat), G(x) = (1/V) sum_y phi(y) phi(y+x)
 *   FG_PHI4_P_GP+mu  Gt(p_mu) = |phi~(p_mu)|^2 / V, p_mu = (2 pi / L_mu) mu-hat,
 *                    phi~(k) = sum_x exp(-i k x) phi(x); 0 for mu >= d.
 * Both two-point primaries come from one FFTW r2c transform of the
 * configuration: P_LINK = V^-2 sum_k |phi~(k)|^2 (1/d) sum_mu cos(k_mu), and
 * P_GP+mu read off at p_mu; M and sum phi^2 are summed directly.
 *
 * The FG_PHI4_NOBS observables the theory declares (report order, index
 * FG_PHI4_*; Gamma method on the series of primaries; <.> the ensemble mean):
 *   m       <M>/V                       = <P_M>
 *   abs_m   <|M|>/V                     = <P_ABS_M>
 *   m2      <M^2>/V^2                   = <P_M2>
 *   phi2    <phi(x)^2>                  = <P_PHI2>
 *   chi2    sum_x G_c(x) = <M^2>/V - V <M/V>^2 = V (<P_M2> - <P_M>^2),
 *           with G_c(x) = (1/V) sum_y <phi(y) phi(y+x)> - <M/V>^2
 *   e_ising (1/d) sum_mu G_c(mu-hat)    = <P_LINK> - <P_M>^2
 *   xi2     second-moment correlation length squared,
 *           (Gt_c(0) / Gt(p_min) - 1) / (4 sin^2(pi/L)) with Gt_c(0) = chi2.
 *           Directions of equal extent L are grouped: Gt(p_min) is the mean of
 *           <P_GP+mu> over the group, and xi2 is the average over the d
 *           directions of their group's value. On an L^d lattice this is the
 *           usual definition with Gt(p_min) averaged over the d directions;
 *           on L0 != L1 each direction uses its own L and the two xi2 are
 *           averaged. A derived quantity, so F(abar) carries an O(1/n) bias.
 *
 *   int fg_phi4_obs_create(const fg_lattice *lat, fg_phi4_obs **out, fg_error *err)
 *     A context holding the FFT plans and buffers for lat (lat is copied, not
 *     kept). FG_ERR_INPUT for an extent < 2; FG_ERR_RUNTIME for allocation or
 *     planning. *out is NULL on failure. Release with fg_phi4_obs_destroy.
 *     Calls FFTW's planner (not thread-safe).
 *   void fg_phi4_obs_destroy(fg_phi4_obs *o)       NULL is allowed.
 *   void fg_phi4_obs_primaries(fg_phi4_obs *o, const double *phi, size_t stride,
 *                              double *prim)
 *     Fills prim[FG_PHI4_NPRIM] for one configuration.
 *   void fg_phi4_obs_two_point(fg_phi4_obs *o, const double *phi, size_t stride,
 *                              double *G)
 *     G[x] = (1/V) sum_y phi(y) phi(y+x) for every site x (by FFT).
 *   int fg_phi4_primaries(const fg_lattice *lat, const double *phi, double *prim,
 *                         fg_error *err)
 *     One-shot fg_phi4_obs_primaries (stride 1) with a temporary context.
 */
#ifndef FLOWGEN_PHI4_H
#define FLOWGEN_PHI4_H

#include <stddef.h>

#include "flowgen/error.h"
#include "flowgen/lattice.h"

/* Per-configuration primaries of phi^4. */
enum {
  FG_PHI4_P_M,
  FG_PHI4_P_ABS_M,
  FG_PHI4_P_M2,
  FG_PHI4_P_PHI2,
  FG_PHI4_P_LINK,
  FG_PHI4_P_GP,
  FG_PHI4_NPRIM = FG_PHI4_P_GP + FG_MAXDIM
};

/* The observables, in the order the theory declares them. */
enum {
  FG_PHI4_M,
  FG_PHI4_ABS_M,
  FG_PHI4_M2,
  FG_PHI4_PHI2,
  FG_PHI4_CHI2,
  FG_PHI4_E_ISING,
  FG_PHI4_XI2,
  FG_PHI4_NOBS
};

typedef struct fg_phi4_obs fg_phi4_obs;

int fg_phi4_obs_create(const fg_lattice *lat, fg_phi4_obs **out, fg_error *err);
void fg_phi4_obs_destroy(fg_phi4_obs *o);
void fg_phi4_obs_primaries(fg_phi4_obs *o, const double *phi, size_t stride, double *prim);
void fg_phi4_obs_two_point(fg_phi4_obs *o, const double *phi, size_t stride, double *G);
int fg_phi4_primaries(const fg_lattice *lat, const double *phi, double *prim, fg_error *err);

#endif
