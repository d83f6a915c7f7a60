/*
 * analysis.h -- errors of Monte Carlo averages by the Gamma method, the
 * observables a theory declares, and the model-sample ESS (SPEC sections 6
 * and 8). All functions are local (no MPI) and keep no global state of
 * their own.
 *
 * Thread safety: the functions that plan FFTs (fg_gamma_*, fg_measure_primaries,
 * fg_analyze_observables) call FFTW's planner, which is not thread-safe:
 * call them from one thread at a time.
 *
 * ---- Gamma method (gamma.c) ----------------------------------------------
 *
 * U. Wolff, "Monte Carlo errors with less errors", Comput. Phys. Commun. 156
 * (2004) 143, hep-lat/0306017, for one replicum. Input: nobs primary series
 * a_alpha(t), t = 0..n-1, stored as a[alpha * n + t] (layout [nobs][n], each
 * series contiguous), and a derived quantity F(abar) of their means.
 *
 *   1. abar_alpha = mean of series alpha (exactly a_alpha(0) for a series
 *      whose values are all equal, so constant data have no rounding noise).
 *   2. Gradient of F by central differences with steps
 *      h_alpha = sqrt(Gamma_alpha alpha(0) / n) / 2, half the naive error of
 *      abar_alpha; a primary without fluctuations gets derivative 0.
 *   3. Projected fluctuations d(t) = sum_alpha dF/dabar_alpha
 *      (a_alpha(t) - abar_alpha), and their autocovariance
 *      Gamma(t) = 1/(n - t) sum_{i < n-t} d(i) d(i+t), t = 0..n/2, by an
 *      FFT (FFTW r2c/c2r, FFTW_ESTIMATE, zero padding to >= 2n so there is
 *      no wrap-around) or, for n <= 512, directly.
 *   4. Automatic window: with tau_int(W) = 1/2 + sum_{t=1}^W Gamma(t)/Gamma(0),
 *      tau(W) = S / ln((2 tau_int(W) + 1) / (2 tau_int(W) - 1)) (a tiny
 *      number when tau_int(W) <= 1/2) and
 *      g(W) = exp(-W / tau(W)) - tau(W) / sqrt(W n);
 *      W is the first W = 1, 2, ... with g(W) < 0, or n/2 (then the flag
 *      FG_GAMMA_WINDOW_MAX).
 *   5. Bias of Gamma from the estimated mean (Wolff eq. 31): with
 *      C(W) = Gamma(0) + 2 sum_{t=1}^W Gamma(t), every Gamma(t) is raised by
 *      C(W)/n and C(W) recomputed.
 *   6. err = sqrt(C(W)/n), err_err = err sqrt((W + 1/2)/n),
 *      tau_int = C(W) / (2 Gamma(0)),
 *      tau_int_err = 2 tau_int sqrt((W - tau_int + 1/2)/n) (Madras-Sokal).
 *
 * The effective number of independent measurements is n / (2 tau_int)
 * (SPEC section 8: ESS of HMC = 1 / (2 tau_int) per trajectory).
 *
 * value is the plain F(abar). Its bias is O(1/n), a factor ~1/sqrt(n)
 * smaller than err, so no correction is applied (Wolff's replica-based
 * correction needs more than one replicum).
 *
 * Flags (bits of fg_gamma_result.flags):
 *   FG_GAMMA_WINDOW_MAX        the window reached n/2 without g(W) < 0 (a
 *                              guard: g(n/2) < 0 holds for every S > 0 and
 *                              n >= 2, so a too short series shows up as
 *                              FG_GAMMA_SHORT instead, with W near n/10);
 *   FG_GAMMA_SHORT             n < 100 tau_int: the series is too short for
 *                              its autocorrelation, err and tau_int are biased
 *                              low and their quoted errors unreliable;
 *   FG_GAMMA_ZERO_VARIANCE     Gamma(0) = 0: err = err_err = 0, tau_int = 0.5,
 *                              tau_int_err = 0, window = 0;
 *   FG_GAMMA_NEGATIVE_VARIANCE C(W) <= 0 (strongly anticorrelated or very
 *                              short data): err = err_err = tau_int_err = 0,
 *                              tau_int = C(W) / (2 Gamma(0)) as computed;
 *   FG_GAMMA_UNDEFINED         F or its gradient is not finite at abar: value
 *                              = F(abar) and every other number NaN (a JSON
 *                              writer should print null).
 *
 *   typedef double (*fg_gamma_func)(const double *abar, void *ctx)
 *     A derived quantity F of the nobs primary means; ctx is passed through.
 *
 *   int fg_gamma_analyze(const double *a, int nobs, size_t n, fg_gamma_func f,
 *                        void *ctx, double S, fg_gamma_result *out, fg_error *err)
 *     Analyses F(abar) of the series a [nobs][n]. f == NULL means the mean
 *     of a single primary (nobs must be 1). S > 0 (FG_GAMMA_S_DEFAULT = 1.5).
 *     FG_ERR_INPUT for nobs < 1, n < 2, S <= 0, f == NULL with nobs > 1, or a
 *     non-finite entry of a (named); FG_ERR_RUNTIME for allocation or FFTW
 *     planning failure. out is filled only on FG_OK.
 *
 *   int fg_gamma_mean(const double *x, size_t n, double S, fg_gamma_result *out,
 *                     fg_error *err)
 *     The mean of one series: fg_gamma_analyze(x, 1, n, NULL, NULL, S, ...).
 *
 *   int fg_gamma_autocov(const double *d, size_t n, size_t tmax, double *gamma,
 *                        fg_error *err)
 *     gamma[t] = 1/(n - t) sum_{i < n-t} d(i) d(i+t) for t = 0..tmax
 *     (tmax < n), as step 3 computes it (the caller removes the mean).
 *     FG_ERR_INPUT for tmax >= n; FG_ERR_RUNTIME for allocation or planning.
 *
 * ---- Observables of any theory (observables.c) ---------------------------
 *
 * A theory (theory.h) declares nprim primaries per configuration and its
 * observables: the mean of one primary, or a derived F(primary means).
 *
 *   int fg_measure_primaries(const fg_theory *t, const double *configs, size_t nrow,
 *                            double *table, fg_error *err)
 *     table[r * nprim + i] = primary i of configuration r, where
 *     configuration r is configs + r * ndof (the rows of /configs).
 *     FG_ERR_INPUT for a lattice the theory's observables cannot take;
 *     FG_ERR_RUNTIME for memory or FFT planning.
 *
 *   int fg_analyze_observables(const fg_theory *t, const double *prim_series, size_t n,
 *                              double S, fg_obs_result *results, fg_error *err)
 *     prim_series is [nprim][n] (series of primary i at prim_series + i * n,
 *     e.g. from fg_chain_series). Fills results[k] for each of the theory's
 *     nobs declared observables, in its order (name, mean, errors, tau_int,
 *     window, flags): fg_gamma_mean of the primary, or fg_gamma_analyze of
 *     the derived F with ctx = the theory. Errors as fg_gamma_analyze.
 *
 *   int fg_chain_series(const double *table, size_t nrow, size_t ncol,
 *                       const int64_t *index, size_t nchain, double *series,
 *                       fg_error *err)
 *     Turns a per-configuration table [nrow][ncol] (row r: the ncol primaries
 *     of configuration r, e.g. of row r of /configs) and a chain index
 *     (/chain/index: for step s, the row it holds) into the chain's series
 *     [ncol][nchain]: series[c * nchain + s] = table[index[s] * ncol + c].
 *     index == NULL means step s holds row s (HMC; nchain <= nrow).
 *     FG_ERR_INPUT naming the first step whose row is outside 0..nrow-1.
 *
 * ---- Model-sample ESS (ess.c) ----------------------------------------------
 *
 * Seed eq. A7: ESS = (sum w)^2 / (n sum w^2) = (mean w)^2 / mean w^2 per
 * sample, w = exp(log w), log w = -S - log q. The one implementation that
 * training (batch and final ESS), sampling (the ensemble's ess_model),
 * `analyze` and `--validate` use. Sums are kept in a double[FG_ESS_LEN]:
 * the largest finite log-weight seen (FG_ESS_MAX), sum w^k for k = 1..4
 * with w shifted by it (so no weight overflows), and the number of samples.
 * Partial sums merge exactly like whole ones, so a chunk of any size, a
 * rank's share or an MPI reduction all use the same two calls.
 *
 * Non-finite log-weights, one policy: -inf is a weight of exactly zero
 * (the target gives the sample no weight) and counts as a sample; NaN or
 * +inf leaves the estimate undefined: the sums turn NaN, stay NaN through
 * every later add and merge, and the value and its error are NaN (a JSON
 * writer prints null), never a plausible number.
 *
 *   void fg_ess_reset(double sums[FG_ESS_LEN])
 *   void fg_ess_add(double sums[FG_ESS_LEN], const double *logw, size_t n)
 *     Adds n log-weights as one chunk (shifted by the chunk's largest,
 *     summed in order, merged in). Feeding one at a time gives the running
 *     sums of a stream.
 *   void fg_ess_merge(const double in[FG_ESS_LEN], double io[FG_ESS_LEN])
 *     io = sums of both; commutative (usable as an MPI reduction).
 *   double fg_ess_value(const double sums[FG_ESS_LEN], double *err)
 *     The ESS and, when err != NULL, its delta-method standard error (from
 *     the sums of w^3 and w^4). 0 (err 0) without samples or without a
 *     positive weight; NaN (err NaN) when undefined.
 *   double fg_ess(const double *logw, size_t n)
 *     The ESS of one array of log-weights (reset, add, value).
 */
#ifndef FLOWGEN_ANALYSIS_H
#define FLOWGEN_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "flowgen/config.h"
#include "flowgen/error.h"
#include "flowgen/lattice.h"
#include "flowgen/theory.h"

#define FG_GAMMA_S_DEFAULT 1.5

enum {
  FG_GAMMA_WINDOW_MAX = 1,
  FG_GAMMA_ZERO_VARIANCE = 2,
  FG_GAMMA_NEGATIVE_VARIANCE = 4,
  FG_GAMMA_UNDEFINED = 8,
  FG_GAMMA_SHORT = 16
};

/* FG_GAMMA_SHORT is set when n < FG_GAMMA_SHORT_FACTOR * tau_int. */
#define FG_GAMMA_SHORT_FACTOR 100.0

typedef struct {
  double value;        /* F(abar) */
  double err;          /* its statistical error */
  double err_err;      /* the error of err */
  double tau_int;      /* integrated autocorrelation time of F */
  double tau_int_err;  /* its error (Madras-Sokal) */
  size_t n;            /* length of the series */
  size_t window;       /* the summation window W */
  int flags;           /* FG_GAMMA_* bits */
} fg_gamma_result;

typedef double (*fg_gamma_func)(const double *abar, void *ctx);

int fg_gamma_analyze(const double *a, int nobs, size_t n, fg_gamma_func f, void *ctx,
                     double S, fg_gamma_result *out, fg_error *err);
int fg_gamma_mean(const double *x, size_t n, double S, fg_gamma_result *out, fg_error *err);
int fg_gamma_autocov(const double *d, size_t n, size_t tmax, double *gamma, fg_error *err);

typedef struct {
  char name[32];       /* the theory's name for it (copied: a result outlives its theory) */
  double mean, err, err_err, tau_int, tau_int_err;
  size_t window;
  int flags;           /* FG_GAMMA_* bits */
} fg_obs_result;

int fg_measure_primaries(const fg_theory *t, const double *configs, size_t nrow, double *table,
                         fg_error *err);
int fg_analyze_observables(const fg_theory *t, const double *prim_series, size_t n, double S,
                           fg_obs_result *results, fg_error *err);
int fg_chain_series(const double *table, size_t nrow, size_t ncol, const int64_t *index,
                    size_t nchain, double *series, fg_error *err);

enum { FG_ESS_MAX, FG_ESS_S1, FG_ESS_S2, FG_ESS_S3, FG_ESS_S4, FG_ESS_N, FG_ESS_LEN };

void fg_ess_reset(double sums[FG_ESS_LEN]);
void fg_ess_add(double sums[FG_ESS_LEN], const double *logw, size_t n);
void fg_ess_merge(const double in[FG_ESS_LEN], double io[FG_ESS_LEN]);
double fg_ess_value(const double sums[FG_ESS_LEN], double *err);
double fg_ess(const double *logw, size_t n);

#endif
