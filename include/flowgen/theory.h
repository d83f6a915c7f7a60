/*
 * theory.h -- the interface every lattice theory implements.
 *
 * Fields are stored as [dof][lanes] in double precision: `lanes`
 * configurations side by side (lanes = 1 for a single configuration,
 * FG_VLEN for a block of flow samples), dof = theory->ndof real degrees
 * of freedom per configuration (phi^4: one per site).
 *
 *   int fg_theory_create(const fg_theory_config *cfg, fg_theory **out, fg_error *err)
 *     Builds the theory of a config section (its lattice included). Local.
 *     FG_ERR_INPUT for a theory this build does not implement.
 *
 *   void fg_theory_destroy(fg_theory *t)
 *
 *   void fg_theory_action(const fg_theory *t, const double *phi, int lanes, double *S)
 *     S[l] = S(phi[.][l]) for each lane.
 *
 *   void fg_theory_force(const fg_theory *t, const double *phi, int lanes, double *dS)
 *     dS[i][l] = dS/dphi_i of lane l (overwrites).
 *
 *   int fg_theory_couplings(const fg_theory_config *cfg, fg_coupling out[FG_MAX_COUPLINGS])
 *     The theory's named couplings in their fixed order (phi^4: m2, lambda;
 *     schwinger: beta, kappa), read from the config section alone: what
 *     files record as provenance and what a resume compares. Returns their
 *     number. Local, pure.
 *
 * phi^4 (SPEC sections 4 and 6; seed eq. A1), with d = lattice dimension:
 *   S = sum_x [ -sum_mu phi(x) phi(x+mu) + (d + m2/2) phi(x)^2 + lambda phi(x)^4 ]
 *     = sum_x [ 1/2 sum_mu (phi(x+mu) - phi(x))^2 + m2/2 phi(x)^2 + lambda phi(x)^4 ].
 */
#ifndef FLOWGEN_THEORY_H
#define FLOWGEN_THEORY_H

#include "flowgen/config.h"
#include "flowgen/error.h"
#include "flowgen/lattice.h"

typedef struct fg_theory fg_theory;

#define FG_MAX_COUPLINGS 8

typedef struct {
  const char *name;   /* static string */
  double value;
} fg_coupling;

int fg_theory_couplings(const fg_theory_config *cfg, fg_coupling out[FG_MAX_COUPLINGS]);

typedef struct {
  const char *name;
  void (*action)(const fg_theory *t, const double *phi, int lanes, double *S);
  void (*force)(const fg_theory *t, const double *phi, int lanes, double *dS);
} fg_theory_ops;

struct fg_theory {
  const fg_theory_ops *ops;
  fg_theory_config cfg;
  fg_lattice lat;
  int ndof;
};

int fg_theory_create(const fg_theory_config *cfg, fg_theory **out, fg_error *err);
void fg_theory_destroy(fg_theory *t);

static inline void fg_theory_action(const fg_theory *t, const double *phi, int lanes, double *S)
{
  t->ops->action(t, phi, lanes, S);
}

static inline void fg_theory_force(const fg_theory *t, const double *phi, int lanes, double *dS)
{
  t->ops->force(t, phi, lanes, dS);
}

/* Implementations (theory/<name>.c). */
extern const fg_theory_ops fg_phi4_ops;

#endif
