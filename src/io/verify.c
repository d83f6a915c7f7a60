/*
 * verify.c -- stored data checks itself: the actions of an ensemble's rows
 * recomputed from their configurations (see ensemble.h). Local.
 *
 *   int fg_ensemble_verify(const char *path, const fg_ensemble_data *d,
 *                          fg_ensemble_check *c, fg_error *err)
 *     d as fg_ensemble_load returned it (which has already compared every
 *     row with its checksum, when the file has checksums). Rebuilds the
 *     theory from the config text the file recorded (root attribute
 *     "config") and recomputes the action of every row with
 *     fg_theory_action; a row whose stored action differs from it by more
 *     than FG_ENSEMBLE_ACTION_TOL * (|S| + V) (V values per row) is
 *     damaged: FG_ERR_INPUT naming path, the row, both actions and how many
 *     rows fail. The tolerance is relative, not exact, because the sampler
 *     evaluates S on blocks of FG_VLEN configurations whose sums may round
 *     differently; a damaged byte in the sign, exponent or leading mantissa
 *     bits moves S far beyond it (the checksum catches every other change).
 *     FG_ERR_INPUT also when the config attribute is missing or does not
 *     parse, or its lattice does not match /configs. c receives the counts.
 */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "flowgen/config.h"
#include "flowgen/ensemble.h"
#include "flowgen/theory.h"

static const char WHERE[] = "fg_ensemble_verify [verify.c]";

/* The theory the file's config text describes, checked against its shape. */
static int file_theory(const char *path, const fg_ensemble_data *d, fg_theory **t, fg_error *err)
{
  const fg_ensemble_attr *a = fg_ensemble_attr_find(d, "config");
  if (a == NULL || !a->is_string)
    return fg_fail(err, FG_ERR_INPUT, WHERE, "ensemble '%s': no 'config' attribute: the "
                   "actions cannot be recomputed", path);
  fg_config cfg;
  memset(&cfg, 0, sizeof cfg);
  fg_error perr = {0};
  int rc = fg_config_parse(a->text, strlen(a->text), NULL, &cfg, &perr);
  if (rc != FG_OK)
    rc = fg_fail(err, FG_ERR_INPUT, WHERE, "ensemble '%s': its 'config' attribute does not "
                 "parse: %s", path, perr.msg);
  if (rc == FG_OK)
    rc = fg_theory_create(&cfg.theory, t, err);
  const fg_lattice *lat = rc == FG_OK ? fg_theory_lattice(*t) : NULL;
  int same = rc == FG_OK && fg_theory_ndof(*t) == d->volume && lat->nd == d->layout.nd;
  for (int mu = 0; same && mu < d->layout.nd; ++mu)
    same = lat->extent[mu] == d->layout.extent[mu];
  if (rc == FG_OK && !same)
    rc = fg_fail(err, FG_ERR_INPUT, WHERE, "ensemble '%s': the lattice of its 'config' "
                 "attribute does not match /configs", path);
  fg_config_free(&cfg);
  return rc;
}

int fg_ensemble_verify(const char *path, const fg_ensemble_data *d, fg_ensemble_check *c,
                       fg_error *err)
{
  memset(c, 0, sizeof *c);
  c->rows = d->layout.n_configs;
  c->checksums = d->checksum != NULL;
  fg_theory *t = NULL;
  int rc = file_theory(path, d, &t, err);
  int64_t bad = 0, first = -1;
  double first_s = 0, first_r = 0;
  for (int64_t r = 0; rc == FG_OK && r < d->layout.n_configs; ++r) {
    double S;
    fg_theory_action(t, d->configs + (size_t)r * (size_t)d->volume, 1, &S);
    double dev = fabs(S - d->action[r]) / (fabs(d->action[r]) + d->volume);
    if (!(dev <= FG_ENSEMBLE_ACTION_TOL) && bad++ == 0) {
      first = r;
      first_s = d->action[r];
      first_r = S;
    }
    if (dev > c->max_deviation)
      c->max_deviation = dev;
    c->actions_checked++;
  }
  fg_theory_destroy(t);
  if (rc == FG_OK && bad > 0)
    rc = fg_fail(err, FG_ERR_INPUT, WHERE, "ensemble '%s': row %" PRId64 " is damaged: its "
                 "stored action %.17g differs from the action %.17g of its configuration "
                 "(%" PRId64 " of %" PRId64 " rows fail)", path, first, first_s, first_r, bad,
                 d->layout.n_configs);
  return rc;
}
