/*
 * names.c -- the config's enum names, as written in YAML (see config.h).
 * Local, pure functions; unknown values give "?".
 */
#include "flowgen/config.h"

#define NAME_OF(table, k) \
  (((unsigned)(k) < sizeof(table) / sizeof(table[0])) ? table[(unsigned)(k)] : "?")

const char *fg_theory_name(fg_theory_kind k)
{
  static const char *t[] = {"phi4", "schwinger"};
  return NAME_OF(t, k);
}

const char *fg_base_name(fg_base_kind k)
{
  static const char *t[] = {"normal", "free_field", "haar"};
  return NAME_OF(t, k);
}

const char *fg_activation_name(fg_activation a)
{
  static const char *t[] = {"leaky_relu", "tanh"};
  return NAME_OF(t, a);
}

const char *fg_gauge_loops_name(fg_gauge_loops k)
{
  static const char *t[] = {"plaquette", "rectangle"};
  return NAME_OF(t, k);
}

const char *fg_gauge_map_name(fg_gauge_map k)
{
  static const char *t[] = {"ncp", "spline"};
  return NAME_OF(t, k);
}

const char *fg_gauge_order_name(fg_gauge_order k)
{
  static const char *t[] = {"alternating", "blocked"};
  return NAME_OF(t, k);
}

const char *fg_init_name(fg_init_scheme s)
{
  static const char *t[] = {"kaiming", "xavier"};
  return NAME_OF(t, s);
}

const char *fg_optimizer_name(fg_optimizer_kind k)
{
  static const char *t[] = {"adam", "adadelta", "sgd"};
  return NAME_OF(t, k);
}

const char *fg_schedule_name(fg_schedule_kind k)
{
  static const char *t[] = {"none", "batch_size", "learning_rate"};
  return NAME_OF(t, k);
}

const char *fg_integrator_name(fg_integrator_kind k)
{
  static const char *t[] = {"leapfrog", "omelyan"};
  return NAME_OF(t, k);
}

const char *fg_fermion_bc_name(fg_fermion_bc k)
{
  static const char *t[] = {"antiperiodic", "periodic"};
  return NAME_OF(t, k);
}

const char *fg_symmetry_name(fg_symmetry_kind k)
{
  static const char *t[] = {"none", "z2"};
  return NAME_OF(t, k);
}

const char *fg_gradient_name(fg_gradient_kind k)
{
  static const char *t[] = {"reparameterization", "score_function", "path"};
  return NAME_OF(t, k);
}

const char *fg_hmc_fermions_name(fg_hmc_fermions k)
{
  static const char *t[] = {"pseudofermion", "exact_determinant"};
  return NAME_OF(t, k);
}
