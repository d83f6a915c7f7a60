/*
 * theory.h -- the interface every lattice theory implements: everything a
 * command needs to know about a theory comes through these functions, and
 * nothing outside src/theory/ names a particular theory or its couplings.
 * docs/design.md says how to add one.
 *
 * Fields. A configuration has ndof = C V real numbers: C components per
 * site (phi^4: 1; U(1) gauge links in 2D: 2 link angles), stored component
 * by component, dof = c V + x (x in the site order of lattice.h), so
 * component c is one plane like a channel of nn.h and /configs can hold
 * [n, C, L0, L1]. Blocks of configurations are stored as [dof][lanes]:
 * `lanes` configurations side by side (lanes = 1 for one configuration,
 * FG_VLEN for a block of flow samples), lane innermost. A component is
 * either a real number or an angle (periodic: after an update it is
 * wrapped back into (-pi, pi] by fg_theory_wrap).
 *
 * ---- Creation and description (theory.c) ------------------------------
 *
 *   int fg_theory_create(const fg_theory_config *cfg, fg_theory **out, fg_error *err)
 *     Builds the theory of a config section (its lattice included). Local.
 *     FG_ERR_INPUT for a theory this build does not implement, or one
 *     whose lattice it cannot take (named); *out = NULL on failure.
 *   int fg_theory_of_file(const char *config_text, int nd, const int *extent,
 *                         fg_theory **out, fg_error *err)
 *     The theory of a file: its "config" attribute parsed (its theory
 *     section), or, when config_text is NULL or does not parse (files
 *     written by tests without a full config), the default theory (the
 *     first one implemented, phi^4, couplings NaN) on the lattice nd,
 *     extent. FG_ERR_INPUT when the parsed lattice differs from extent.
 *   void fg_theory_destroy(fg_theory *t)              NULL is allowed.
 *
 *   const char *fg_theory_label(const fg_theory *t)   its name as in configs
 *   const fg_theory_config *fg_theory_config_of(const fg_theory *t)
 *   const fg_lattice *fg_theory_lattice(const fg_theory *t)
 *   int fg_theory_ndof(const fg_theory *t)            C V
 *   int fg_theory_components(const fg_theory *t)      C
 *   fg_component_kind fg_theory_component_kind(const fg_theory *t, int c)
 *   int fg_theory_has_angles(const fg_theory *t)      1 if any component is an angle
 *   void fg_theory_wrap(const fg_theory *t, double *phi, int lanes)
 *     Brings every angle component of a [ndof][lanes] block into (-pi, pi];
 *     real components are untouched (and a theory without angles returns
 *     at once, so phi^4 is bit for bit as before).
 *
 *   int fg_theory_couplings(const fg_theory_config *cfg, fg_coupling out[FG_MAX_COUPLINGS])
 *     The theory's named couplings in their fixed order (phi^4: m2, lambda;
 *     schwinger: beta, kappa), read from the config section alone: what
 *     files record as provenance and what a resume compares. Returns their
 *     number. Local, pure.
 *   int fg_theory_named_couplings(const fg_theory *t, fg_coupling out[FG_MAX_COUPLINGS])
 *     The same for a built theory.
 *
 *   fg_base_kind fg_theory_default_base(const fg_theory *t)
 *     The base distribution a flow for this theory starts from by default.
 *   int fg_theory_z2_symmetric(const fg_theory *t)
 *     1 if the action is even, S(-phi) = S(phi) for every configuration
 *     (phi^4: phi -> -phi; Schwinger: charge conjugation theta -> -theta),
 *     which model.symmetry z2 needs.
 *   int fg_theory_allows_layer(const fg_theory *t, const char *layer_type)
 *     1 if flow layers of that type (flow.h's layer type names:
 *     "affine_coupling", "free_field") apply to the theory's fields.
 *
 * ---- Action and force ---------------------------------------------------
 *
 *   void fg_theory_action(const fg_theory *t, const double *phi, int lanes, double *S)
 *     S[l] = S(phi[.][l]) for each lane.
 *   void fg_theory_force(const fg_theory *t, const double *phi, int lanes, double *dS)
 *     dS[i][l] = dS/dphi_i of lane l (overwrites).
 *
 * ---- HMC hooks ----------------------------------------------------------
 *
 * A trajectory draws from one counter-based stream (hmc.h). At its start
 * the theory refreshes the momenta and its auxiliary fields (pseudofermions)
 * from that stream, in the order fg_theory_hmc_stream states; the aux
 * fields are then held fixed for the whole trajectory, and the molecular
 * dynamics and the Metropolis test use the action and force with them.
 * After the refresh HMC itself draws one uniform (the accept test).
 *
 *   const char *fg_theory_hmc_stream(const fg_theory *t)
 *     The stream order of the refresh, in words (phi^4: "ndof normals").
 *   size_t fg_theory_hmc_aux_size(const fg_theory *t)
 *     Doubles of auxiliary fields per configuration (phi^4: 0).
 *   void fg_theory_hmc_refresh(const fg_theory *t, const double *phi, fg_rng *r,
 *                              double *mom, double *aux)
 *     Draws mom[ndof] and aux[aux_size] (given the field phi) from r.
 *   void fg_theory_hmc_action(const fg_theory *t, const double *phi, const double *aux,
 *                             double *S)
 *   void fg_theory_hmc_force(const fg_theory *t, const double *phi, const double *aux,
 *                            double *dS)
 *     The MD action and force of one configuration (lanes = 1) at fixed aux;
 *     a theory without aux fields uses its action and force.
 *
 * A theory whose MD action solves a linear system (the Schwinger model's
 * pseudofermions: CG on D^dagger D) exposes its solver (desc.solver):
 *
 *   int fg_theory_set_solver(fg_theory *t, double tolerance, int max_iterations)
 *     The relative residual and iteration cap of its solves (hmc.cg_tolerance,
 *     hmc.cg_max_iterations); 0, or -1 when the theory solves nothing.
 *   int fg_theory_solver_stats(const fg_theory *t, fg_solver *out)
 *     Copies the settings and the running counts (solves, iterations, the
 *     most iterations of one solve, failures) since creation; 1 when the
 *     theory has a solver, 0 (and zeros) when not.
 *
 * ---- Observables ----------------------------------------------------------
 *
 * A theory measures nprim primary numbers on each configuration; its
 * observables are either the ensemble mean of one primary or a derived
 * quantity F(primary means), analysed by the Gamma method (analysis.h).
 * Names and counts may depend on the lattice (fixed at creation; at most
 * FG_MAX_OBSERVABLES).
 *
 *   int fg_theory_nprimaries(const fg_theory *t)
 *   int fg_theory_observables(const fg_theory *t, const fg_observable **obs)
 *     Sets *obs to the declared observables, in report order; returns their
 *     number. A derived F is called with ctx = (void *)t.
 *   int fg_theory_obs_create(const fg_theory *t, fg_theory_obs **out, fg_error *err)
 *     A measuring context (FFT plans, buffers); the theory must outlive it.
 *     FG_ERR_INPUT for a lattice the observables cannot take; FG_ERR_RUNTIME
 *     for memory or planning. FFTW's planner is not thread-safe: create and
 *     destroy from one thread at a time.
 *   void fg_theory_obs_destroy(fg_theory_obs *o)      NULL is allowed.
 *   void fg_theory_obs_primaries(fg_theory_obs *o, const double *phi, size_t stride,
 *                                double *prim)
 *     prim[nprim] of the configuration whose dof i is phi[i * stride]
 *     (stride 1: one configuration; stride = lanes: lane l of a block
 *     starting at phi + l).
 *
 * ---- Implementing a theory ------------------------------------------------
 *
 * An implementation (src/theory/<name>.c) fills one fg_theory_ops and adds
 * it to the table in theory.c. Its setup hook states the field shape, the
 * observables and the rest in the fg_theory_desc it is given; hooks left
 * NULL take the defaults named below.
 *
 * fg_theory is opaque: its definition is src/theory/theory_internal.h,
 * which only the implementations include.
 *
 * phi^4 (SPEC sections 4 and 6; seed eq. A1), with d = lattice dimension:
 *   S = sum_x [ -sum_mu phi(x) phi(x+mu) + (d + m2/2) phi(x)^2 + lambda phi(x)^4 ]
 *     = sum_x [ 1/2 sum_mu (phi(x+mu) - phi(x))^2 + m2/2 phi(x)^2 + lambda phi(x)^4 ].
 *   One real component; no aux fields; observables m, abs_m, m2, phi2, chi2,
 *   e_ising, xi2 (analysis of include/flowgen/phi4.h); base normal; layers
 *   affine_coupling and free_field.
 */
#ifndef FLOWGEN_THEORY_H
#define FLOWGEN_THEORY_H

#include <stddef.h>

#include "flowgen/config.h"
#include "flowgen/error.h"
#include "flowgen/lattice.h"
#include "flowgen/rng.h"

typedef struct fg_theory fg_theory;
typedef struct fg_theory_obs fg_theory_obs;

#define FG_MAX_COUPLINGS 8
#define FG_MAX_COMPONENTS 8
#define FG_MAX_OBSERVABLES 128

typedef struct {
  const char *name;   /* static string */
  double value;
} fg_coupling;

typedef enum {
  FG_COMPONENT_REAL = 0,   /* a real number */
  FG_COMPONENT_ANGLE = 1   /* an angle in (-pi, pi] */
} fg_component_kind;

/* F(abar, ctx) of the primary means; the same type as fg_gamma_func. */
typedef double (*fg_derived_func)(const double *abar, void *ctx);

typedef struct {
  const char *name;         /* static string */
  int primary;              /* >= 0: the mean of this primary; -1: derived */
  fg_derived_func derived;  /* F for primary = -1 (ctx = the theory) */
} fg_observable;

/* A theory's linear solver: settings and running counts. */
typedef struct {
  double tolerance;        /* relative residual */
  int max_iterations;
  int64_t solves, iterations, failures;
  int most;                /* iterations of the longest solve */
} fg_solver;

/* What an implementation's setup hook fills in. */
typedef struct {
  int components;                                /* C >= 1 */
  fg_component_kind kind[FG_MAX_COMPONENTS];
  size_t hmc_aux;                                /* aux doubles per configuration */
  const char *hmc_stream;                        /* the refresh's stream order, in words */
  int nprimaries;
  int nobservables;
  const fg_observable *observables;              /* static or in priv */
  fg_base_kind default_base;
  int z2_symmetric;                              /* 1: S(-phi) = S(phi) exactly */
  const char *const *layers;                     /* NULL-terminated layer type names */
  fg_solver *solver;                             /* in priv; NULL: solves nothing */
  void *priv;                                    /* the implementation's own data */
} fg_theory_desc;

typedef struct {
  const char *name;
  /* Fills d (zeroed on entry) for t's config and lattice; may set d->priv. */
  int (*setup)(const fg_theory *t, fg_theory_desc *d, fg_error *err);
  void (*teardown)(void *priv);                  /* NULL: nothing to free */
  void (*action)(const fg_theory *t, const double *phi, int lanes, double *S);
  void (*force)(const fg_theory *t, const double *phi, int lanes, double *dS);
  /* HMC; NULL: ndof normals into mom, and action / force without aux. */
  void (*hmc_refresh)(const fg_theory *t, const double *phi, fg_rng *r, double *mom,
                      double *aux);
  void (*hmc_action)(const fg_theory *t, const double *phi, const double *aux, double *S);
  void (*hmc_force)(const fg_theory *t, const double *phi, const double *aux, double *dS);
  /* Observables: a measuring context and the primaries of one configuration. */
  int (*obs_create)(const fg_theory *t, void **ctx, fg_error *err);
  void (*obs_destroy)(void *ctx);
  void (*obs_primaries)(void *ctx, const double *phi, size_t stride, double *prim);
} fg_theory_ops;

int fg_theory_create(const fg_theory_config *cfg, fg_theory **out, fg_error *err);
int fg_theory_of_file(const char *config_text, int nd, const int *extent, fg_theory **out,
                      fg_error *err);
void fg_theory_destroy(fg_theory *t);

const char *fg_theory_label(const fg_theory *t);
const fg_theory_config *fg_theory_config_of(const fg_theory *t);
const fg_lattice *fg_theory_lattice(const fg_theory *t);
int fg_theory_ndof(const fg_theory *t);
int fg_theory_components(const fg_theory *t);
fg_component_kind fg_theory_component_kind(const fg_theory *t, int c);
int fg_theory_has_angles(const fg_theory *t);
void fg_theory_wrap(const fg_theory *t, double *phi, int lanes);

int fg_theory_couplings(const fg_theory_config *cfg, fg_coupling out[FG_MAX_COUPLINGS]);
int fg_theory_named_couplings(const fg_theory *t, fg_coupling out[FG_MAX_COUPLINGS]);

fg_base_kind fg_theory_default_base(const fg_theory *t);
int fg_theory_z2_symmetric(const fg_theory *t);
int fg_theory_allows_layer(const fg_theory *t, const char *layer_type);

void fg_theory_action(const fg_theory *t, const double *phi, int lanes, double *S);
void fg_theory_force(const fg_theory *t, const double *phi, int lanes, double *dS);

const char *fg_theory_hmc_stream(const fg_theory *t);
size_t fg_theory_hmc_aux_size(const fg_theory *t);
int fg_theory_set_solver(fg_theory *t, double tolerance, int max_iterations);
int fg_theory_solver_stats(const fg_theory *t, fg_solver *out);
void fg_theory_hmc_refresh(const fg_theory *t, const double *phi, fg_rng *r, double *mom,
                           double *aux);
void fg_theory_hmc_action(const fg_theory *t, const double *phi, const double *aux, double *S);
void fg_theory_hmc_force(const fg_theory *t, const double *phi, const double *aux, double *dS);

int fg_theory_nprimaries(const fg_theory *t);
int fg_theory_observables(const fg_theory *t, const fg_observable **obs);
int fg_theory_obs_create(const fg_theory *t, fg_theory_obs **out, fg_error *err);
void fg_theory_obs_destroy(fg_theory_obs *o);
void fg_theory_obs_primaries(fg_theory_obs *o, const double *phi, size_t stride, double *prim);

/* Implementations (theory/<name>.c), listed in theory.c. */
extern const fg_theory_ops fg_phi4_ops;
extern const fg_theory_ops fg_schwinger_ops;

#endif
