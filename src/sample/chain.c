/*
 * chain.c -- the global independence-Metropolis chain (see sample.h).
 * Local and pure: the decisions depend only on the seed and the log-weights
 * in proposal order, so any number of workers gives the same chain.
 */
#include <math.h>

#include "flowgen/rng.h"
#include "flowgen/sample.h"

void fg_imh_init(fg_imh_chain *c, uint64_t seed)
{
  c->seed = seed;
  c->steps = 0;
  c->accepted = 0;
  c->current = -1;
  c->current_logw = NAN;
}

/* The uniform of proposal j: word j mod 4 of Philox block j / 4, in (0, 1). */
static double chain_uniform(const uint64_t key[2], int64_t j, uint64_t block[4], int64_t *cached)
{
  if (*cached != j / 4) {
    uint64_t ctr[4] = {(uint64_t)j / 4, 0, 0, 0};
    fg_rng_philox(ctr, key, block);
    *cached = j / 4;
  }
  return ((double)(block[j % 4] >> 11) + 0.5) * 0x1p-53;
}

static int accept(double cur, double prop, double u)
{
  if (!isfinite(cur))
    return isfinite(prop);
  if (!isfinite(prop))
    return 0;
  double d = prop - cur;
  return d >= 0.0 || log(u) < d;
}

void fg_imh_chain_run(fg_imh_chain *c, const double *logw, int64_t n, int64_t *index,
                      uint8_t *accepted)
{
  const uint64_t key[2] = {c->seed, FG_RNG_CHAIN};
  uint64_t block[4];
  int64_t cached = -1;
  for (int64_t i = 0; i < n; ++i) {
    int64_t j = c->steps + i;
    int moved = j == 0 || accept(c->current_logw, logw[i], chain_uniform(key, j, block, &cached));
    if (moved) {
      c->current = j;
      c->current_logw = logw[i];
      c->accepted++;
    }
    index[i] = c->current;
    accepted[i] = (uint8_t)moved;
  }
  c->steps += n;
}
