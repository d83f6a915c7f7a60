/*
 * hmc.h -- Hybrid Monte Carlo on any theory (theory.h), one configuration
 * at a time (lanes = 1), double precision: the serial baseline that flow
 * ensembles are compared against (SPEC sections 1 and 8).
 *
 * H(phi, pi) = 1/2 sum_i pi_i^2 + S(phi) over the theory's ndof degrees of
 * freedom, S at the theory's auxiliary fields (pseudofermions; none for
 * phi^4), which are refreshed at the start of each trajectory and held
 * fixed during it. Molecular dynamics integrates dphi/dt = pi,
 * dpi/dt = -dS/dphi for a time tau in n steps of eps = tau / n with a
 * symmetric, reversible, area-preserving integrator; kicks of consecutive
 * steps are merged, so a trajectory costs n + 1 force evaluations
 * (leapfrog) or 2n + 1 (Omelyan):
 *   leapfrog  P(eps/2) [X(eps) P(eps)]^(n-1) X(eps) P(eps/2)
 *   omelyan   per step P(l eps) X(eps/2) P((1-2l) eps) X(eps/2) P(l eps),
 *             l = 0.1931833275037836 (second-order minimum norm)
 * with P(h): pi -= h dS/dphi and X(h): phi += h pi (angle components of
 * the field wrapped back into (-pi, pi] after each X).
 *
 * With exact_action (the exact-determinant cross-check of theories with
 * auxiliary fields) the MD uses the theory's own action and force, draws
 * only the ndof momenta, and holds no aux fields.
 * Reproducibility and restarts: the randomness of trajectory `traj` comes
 * from the counter-based stream (seed, FG_RNG_HMC, traj, stream_id) of
 * rng.h, in this order: the theory's refresh (fg_theory_hmc_refresh, in
 * the order fg_theory_hmc_stream states; phi^4: ndof normals, the
 * momenta), then one uniform. A trajectory therefore depends only on
 * (field, seed, stream_id, traj, parameters); the state to checkpoint is
 * the field and the next trajectory number.
 *
 *   void fg_hmc_params_from_config(const fg_hmc_config *c, fg_hmc_params *p)
 *     The integrator parameters of a config's hmc section.
 *
 *   int fg_hmc_create(const fg_theory *t, const fg_hmc_params *p, fg_hmc **out,
 *                     fg_error *err)
 *     An HMC updater for theory t (borrowed: it must outlive the updater),
 *     owning its scratch (saved field, momenta, force: 3 ndof doubles, and
 *     the theory's aux fields).
 *     FG_ERR_INPUT for tau not finite and > 0, md_steps < 1 or an unknown
 *     integrator; FG_ERR_RUNTIME if out of memory (*out = NULL on failure).
 *     Local.
 *
 *   void fg_hmc_destroy(fg_hmc *h)      NULL is allowed.
 *
 *   void fg_hmc_md(fg_hmc *h, double *phi, double *pi)
 *     Integrates Hamilton's equations for tau, in place (phi, pi: ndof
 *     doubles each, not aliasing each other or h's scratch), at the aux
 *     fields of h's last trajectory (zero before the first). Flipping pi
 *     and integrating again returns to the start up to rounding.
 *
 *   double fg_hmc_hamiltonian(const fg_hmc *h, const double *phi, const double *pi)
 *     H(phi, pi) as above (at the same aux fields).
 *
 *   void fg_hmc_trajectory(fg_hmc *h, double *phi, uint64_t seed, uint32_t stream_id,
 *                          int64_t traj, fg_hmc_outcome *out)
 *     One HMC update of phi (in place): refreshes momenta and aux fields,
 *     integrates, and
 *     accepts with probability min(1, exp(-dH)) (decided in log space:
 *     accept iff log u < -dH). On rejection phi is restored bit for bit;
 *     a non-finite dH (an integration that blew up) is always rejected.
 *     Fills *out (see fg_hmc_outcome). traj >= 0.
 *
 *   int fg_hmc_forces_per_trajectory(const fg_hmc *h)
 *     n + 1 (leapfrog) or 2n + 1 (omelyan): the cost figure of one
 *     trajectory in force evaluations.
 *
 *   int64_t fg_hmc_force_evaluations(const fg_hmc *h)
 *     Force evaluations made by h since creation (md and trajectories).
 *
 *   int fg_hmc_force_rate(const fg_theory *t, double min_seconds, double *sites_per_second,
 *                         fg_error *err)
 *     Benchmark: times repeated single-configuration force evaluations of t
 *     for at least min_seconds of wall time and stores lattice sites (ndof)
 *     processed per second. FG_ERR_RUNTIME if out of memory. Local.
 *
 * ---- The run (run.c): `flowgen hmc CONFIG` as a library call ----------
 *
 *   int fg_hmc_run(const fg_config *cfg, const fg_hmc_options *opt, fg_hmc_result *res,
 *                  fg_error *err)
 *     Generates the HMC ensemble of cfg's theory and hmc section. Every rank
 *     of opt->comm runs its own chain, stream_id = its rank, into its own
 *     file fg_hmc_output_path(hmc.output, rank, size) written through
 *     MPI_COMM_SELF; the ranks meet only to agree on the returned status.
 *     A chain starts from the zero field (a cold start), runs
 *     hmc.thermalization trajectories that are not stored, then
 *     hmc.trajectories stored ones: trajectory t (0-based over both phases)
 *     draws from stream (seed, FG_RNG_HMC, t, stream_id), so a chain is a
 *     function of (config, seed, rank) alone. The file is an ensemble of kind
 *     hmc (ensemble.h) with n_configs = n_chain = hmc.trajectories: row i of
 *     /configs and /proposals/action is the field after stored trajectory i,
 *     /chain/index[i] = i and /chain/accepted[i] the Metropolis decision. It
 *     lives at "<file>.tmp" until complete and is flushed with its resume
 *     state at least every hmc.checkpoint_every trajectories (thermalisation
 *     included) and on a stop; a stop (*opt->stop_flag set, or
 *     opt->stop_after trajectories reached) flushes and returns FG_OK with
 *     res->complete = 0. With opt->resume the chain continues from
 *     "<file>.tmp" and the finished file equals an uninterrupted run's bit
 *     for bit (configurations, actions, chain); a resume whose seed, rank,
 *     couplings or hmc parameters differ from the file's is refused.
 *     FG_ERR_INPUT: hmc section missing, an existing output (without
 *     resume), a missing or mismatched .tmp (with resume); FG_ERR_RUNTIME
 *     otherwise. res describes this rank's file. The same status on every
 *     rank; err is filled on each rank that failed (on the others it names
 *     the failure as another rank's). Collective over opt->comm.
 *
 *   void fg_hmc_output_path(const char *output, int rank, int nranks, char *buf, size_t n)
 *     The file of rank `rank`: output itself when nranks == 1, otherwise
 *     "_rank<k>" inserted before the extension ("out/hmc.h5" ->
 *     "out/hmc_rank1.h5"; appended when the name has none). Local, pure.
 */
#ifndef FLOWGEN_HMC_H
#define FLOWGEN_HMC_H

#include <mpi.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "flowgen/config.h"
#include "flowgen/error.h"
#include "flowgen/theory.h"

/* The Omelyan (2MN) parameter that minimises the norm of the leading error. */
#define FG_OMELYAN_LAMBDA 0.1931833275037836

typedef struct {
  double trajectory_length;      /* tau > 0 */
  int md_steps;                  /* n >= 1 */
  fg_integrator_kind integrator; /* leapfrog | omelyan */
  int exact_action;              /* 1: MD on the theory's own action and force, no aux
                                    fields (the exact-determinant cross-check) */
} fg_hmc_params;

typedef struct {
  double dH;            /* H(end of MD) - H(start) of the proposal */
  double action;        /* S of the field the call leaves (new or restored): the
                           theory's action (fg_theory_action), also with aux fields */
  double action_old;    /* the MD action (with the aux fields) of the start field */
  int accepted;         /* 1 if the proposal was accepted */
  int force_evals;      /* force evaluations of this trajectory */
} fg_hmc_outcome;

typedef struct fg_hmc fg_hmc;

void fg_hmc_params_from_config(const fg_hmc_config *c, fg_hmc_params *p);
int fg_hmc_create(const fg_theory *t, const fg_hmc_params *p, fg_hmc **out, fg_error *err);
void fg_hmc_destroy(fg_hmc *h);
void fg_hmc_md(fg_hmc *h, double *phi, double *pi);
double fg_hmc_hamiltonian(const fg_hmc *h, const double *phi, const double *pi);
void fg_hmc_trajectory(fg_hmc *h, double *phi, uint64_t seed, uint32_t stream_id, int64_t traj,
                       fg_hmc_outcome *out);
int fg_hmc_forces_per_trajectory(const fg_hmc *h);
int64_t fg_hmc_force_evaluations(const fg_hmc *h);
int fg_hmc_force_rate(const fg_theory *t, double min_seconds, double *sites_per_second,
                      fg_error *err);

typedef struct {
  MPI_Comm comm;                     /* one chain and one file per rank */
  int resume;                        /* continue "<file>.tmp" */
  volatile sig_atomic_t *stop_flag;  /* SIGTERM/SIGUSR1; may be NULL */
  FILE *progress;                    /* stderr or NULL */
  int64_t stop_after;                /* > 0: stop cleanly once this many trajectories
                                        (thermalisation included) are done (tests) */
} fg_hmc_options;

typedef struct {
  char output[FG_PATH_MAX];          /* this rank's file (final name) */
  int stream_id;                     /* this rank */
  int64_t trajectories;              /* stored trajectories in the file (all runs) */
  int64_t thermalized;               /* thermalisation trajectories done (all runs) */
  int complete;                      /* 0 when stopped */
  double acceptance;                 /* over the stored trajectories */
  double exp_minus_dH;               /* <exp(-dH)> over the stored trajectories (1 + noise) */
  double wall_seconds, cpu_seconds;  /* stored trajectories only, all runs */
  double thermalization_seconds;     /* wall seconds of thermalisation, all runs */
  int64_t force_evaluations;         /* all trajectories of all runs */
  int has_solver;                    /* MD solved linear systems (pseudofermions) */
  int64_t cg_solves, cg_iterations;  /* CG solves and their iterations, all runs */
  int cg_most;                       /* iterations of the longest solve */
} fg_hmc_result;

int fg_hmc_run(const fg_config *cfg, const fg_hmc_options *opt, fg_hmc_result *res,
               fg_error *err);
void fg_hmc_output_path(const char *output, int rank, int nranks, char *buf, size_t n);

#endif
