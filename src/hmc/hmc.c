/*
 * hmc.c -- Hybrid Monte Carlo updater (full contracts in hmc.h). All
 * functions are local; the updater keeps no state beyond its scratch and a
 * force counter, so a trajectory depends only on its arguments.
 *
 *   fg_hmc_params_from_config(c, p)   integrator parameters of a config
 *   fg_hmc_create(t, p, &h, err)      updater for theory t (0 or FG_ERR_*)
 *   fg_hmc_destroy(h)
 *   fg_hmc_md(h, phi, pi)             MD for tau in md_steps steps, in place
 *   fg_hmc_hamiltonian(h, phi, pi)    1/2 pi^2 + S(phi) (at the held aux fields)
 *   fg_hmc_trajectory(h, phi, seed, stream_id, traj, &out)
 *                                     one Metropolis-corrected trajectory; the
 *                                     randomness is stream (seed, FG_RNG_HMC,
 *                                     traj, stream_id): the theory's refresh
 *                                     (momenta, aux fields), then one uniform
 *   fg_hmc_forces_per_trajectory(h)   n + 1 or 2n + 1
 *   fg_hmc_force_evaluations(h)       running count
 */
#include "flowgen/hmc.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#include "flowgen/rng.h"

struct fg_hmc {
  const fg_theory *theory;
  fg_hmc_params params;
  size_t ndof;
  size_t naux;     /* the theory's auxiliary fields (pseudofermions) */
  int wrap;        /* the field has angle components: wrap after each drift */
  double *aux;     /* held fixed during a trajectory; zero before the first */
  double *saved;   /* the field at the start of a trajectory (restored on rejection) */
  double *mom;     /* momenta of fg_hmc_trajectory */
  double *force;   /* dS/dphi */
  int64_t force_evals;
};

void fg_hmc_params_from_config(const fg_hmc_config *c, fg_hmc_params *p)
{
  *p = (fg_hmc_params){.trajectory_length = c->trajectory_length,
                       .md_steps = c->md_steps,
                       .integrator = c->integrator,
                       .exact_action = c->fermions == FG_FERMIONS_EXACT};
}

static int check_params(const fg_hmc_params *p, fg_error *err, const char *where)
{
  if (!isfinite(p->trajectory_length) || p->trajectory_length <= 0.0)
    return fg_fail(err, FG_ERR_INPUT, where, "trajectory length %g must be finite and > 0",
                   p->trajectory_length);
  /* The bound keeps 2n + 1 force evaluations within an int. */
  if (p->md_steps < 1 || p->md_steps > INT_MAX / 2 - 1)
    return fg_fail(err, FG_ERR_INPUT, where, "md_steps %d must be in 1..%d", p->md_steps,
                   INT_MAX / 2 - 1);
  if (p->integrator != FG_INTEGRATOR_LEAPFROG && p->integrator != FG_INTEGRATOR_OMELYAN)
    return fg_fail(err, FG_ERR_INPUT, where, "unknown integrator %d", (int)p->integrator);
  return FG_OK;
}

int fg_hmc_create(const fg_theory *t, const fg_hmc_params *p, fg_hmc **out, fg_error *err)
{
  static const char where[] = "fg_hmc_create [hmc.c]";
  *out = NULL;
  if (t == NULL || fg_theory_ndof(t) < 1)
    return fg_fail(err, FG_ERR_INPUT, where, "no theory, or a theory without degrees of freedom");
  int rc = check_params(p, err, where);
  if (rc != FG_OK)
    return rc;
  fg_hmc *h = fg_alloc(sizeof *h, err, where);
  if (h == NULL)
    return FG_ERR_RUNTIME;
  h->theory = t;
  h->params = *p;
  h->ndof = (size_t)fg_theory_ndof(t);
  h->naux = fg_theory_hmc_aux_size(t);
  h->wrap = fg_theory_has_angles(t);
  h->aux = h->naux > 0 ? fg_alloc(sizeof(double) * h->naux, err, where) : NULL;
  h->saved = fg_alloc(sizeof(double) * h->ndof, err, where);
  h->mom = fg_alloc(sizeof(double) * h->ndof, err, where);
  h->force = fg_alloc(sizeof(double) * h->ndof, err, where);
  if (h->saved == NULL || h->mom == NULL || h->force == NULL || (h->naux > 0 && h->aux == NULL)) {
    fg_hmc_destroy(h);
    return FG_ERR_RUNTIME;
  }
  *out = h;
  return FG_OK;
}

void fg_hmc_destroy(fg_hmc *h)
{
  if (h == NULL)
    return;
  fg_free(h->aux);
  fg_free(h->saved);
  fg_free(h->mom);
  fg_free(h->force);
  fg_free(h);
}

/* The MD action and force: the theory's HMC hooks with the held aux fields,
 * or, with exact_action, the theory's own action and force. */
static double md_action(const fg_hmc *h, const double *phi)
{
  double S;
  if (h->params.exact_action)
    fg_theory_action(h->theory, phi, 1, &S);
  else
    fg_theory_hmc_action(h->theory, phi, h->aux, &S);
  return S;
}

/* P(eps): pi -= eps dS/dphi at the current field (and the held aux fields). */
static void kick(fg_hmc *h, const double *phi, double *pi, double eps)
{
  if (h->params.exact_action)
    fg_theory_force(h->theory, phi, 1, h->force);
  else
    fg_theory_hmc_force(h->theory, phi, h->aux, h->force);
  h->force_evals++;
  const double *f = h->force;
  for (size_t i = 0; i < h->ndof; ++i)
    pi[i] -= eps * f[i];
}

/* X(eps): phi += eps pi, angles wrapped back into (-pi, pi]. */
static void drift(const fg_hmc *h, double *phi, const double *pi, double eps)
{
  for (size_t i = 0; i < h->ndof; ++i)
    phi[i] += eps * pi[i];
  if (h->wrap)
    fg_theory_wrap(h->theory, phi, 1);
}

static void leapfrog(fg_hmc *h, double *phi, double *pi, double eps, int n)
{
  kick(h, phi, pi, 0.5 * eps);
  for (int k = 0; k < n; ++k) {
    drift(h, phi, pi, eps);
    kick(h, phi, pi, k == n - 1 ? 0.5 * eps : eps);
  }
}

/* The outer kicks of consecutive steps act on the same field: merged, they
 * save n - 1 force evaluations and the scheme stays symmetric. */
static void omelyan(fg_hmc *h, double *phi, double *pi, double eps, int n)
{
  const double lam = FG_OMELYAN_LAMBDA;
  kick(h, phi, pi, lam * eps);
  for (int k = 0; k < n; ++k) {
    drift(h, phi, pi, 0.5 * eps);
    kick(h, phi, pi, (1.0 - 2.0 * lam) * eps);
    drift(h, phi, pi, 0.5 * eps);
    kick(h, phi, pi, k == n - 1 ? lam * eps : 2.0 * lam * eps);
  }
}

void fg_hmc_md(fg_hmc *h, double *phi, double *pi)
{
  const int n = h->params.md_steps;
  const double eps = h->params.trajectory_length / n;
  if (h->params.integrator == FG_INTEGRATOR_OMELYAN)
    omelyan(h, phi, pi, eps, n);
  else
    leapfrog(h, phi, pi, eps, n);
}

static double kinetic(size_t n, const double *pi)
{
  double k = 0.0;
  for (size_t i = 0; i < n; ++i)
    k += pi[i] * pi[i];
  return 0.5 * k;
}

double fg_hmc_hamiltonian(const fg_hmc *h, const double *phi, const double *pi)
{
  return kinetic(h->ndof, pi) + md_action(h, phi);
}

void fg_hmc_trajectory(fg_hmc *h, double *phi, uint64_t seed, uint32_t stream_id, int64_t traj,
                       fg_hmc_outcome *out)
{
  fg_rng r;
  fg_rng_init(&r, seed, FG_RNG_HMC, (uint64_t)traj, stream_id);
  if (h->params.exact_action)
    fg_rng_normals(&r, h->mom, h->ndof);
  else
    fg_theory_hmc_refresh(h->theory, phi, &r, h->mom, h->aux);
  /* Drawn whatever dH is, so the stream's use never depends on dH. */
  const double u = fg_rng_uniform(&r);

  const int64_t evals0 = h->force_evals;
  const double S0 = md_action(h, phi);
  const double K0 = kinetic(h->ndof, h->mom);
  memcpy(h->saved, phi, sizeof(double) * h->ndof);
  fg_hmc_md(h, phi, h->mom);
  const double S1 = md_action(h, phi);
  const double dH = (S1 - S0) + (kinetic(h->ndof, h->mom) - K0);

  /* u is in (0, 1), so log u is finite; a NaN dH fails the comparison. */
  const int accept = isfinite(dH) && log(u) < -dH;
  if (!accept)
    memcpy(phi, h->saved, sizeof(double) * h->ndof);
  out->dH = dH;
  out->action_old = S0;
  out->action = accept ? S1 : S0;
  if (h->naux > 0 && !h->params.exact_action) /* S_pf is not the theory's action */
    fg_theory_action(h->theory, phi, 1, &out->action);
  out->accepted = accept;
  out->force_evals = (int)(h->force_evals - evals0);
}

int fg_hmc_forces_per_trajectory(const fg_hmc *h)
{
  const int n = h->params.md_steps;
  return h->params.integrator == FG_INTEGRATOR_OMELYAN ? 2 * n + 1 : n + 1;
}

int64_t fg_hmc_force_evaluations(const fg_hmc *h) { return h->force_evals; }
