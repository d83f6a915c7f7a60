/*
 * rng.c -- Philox4x64-10 streams and the distributions drawn from them
 * (see rng.h). All functions are local and keep no state beyond *r.
 */
#include "flowgen/rng.h"

#include <math.h>

#include <Random123/philox.h>

void fg_rng_philox(const uint64_t ctr[4], const uint64_t key[2], uint64_t out[4])
{
  philox4x64_ctr_t c = {{ctr[0], ctr[1], ctr[2], ctr[3]}};
  philox4x64_key_t k = {{key[0], key[1]}};
  philox4x64_ctr_t o = philox4x64(c, k);
  for (int i = 0; i < 4; ++i)
    out[i] = o.v[i];
}

void fg_rng_init(fg_rng *r, uint64_t seed, uint32_t purpose, uint64_t index, uint32_t sub)
{
  r->key[0] = seed;
  r->key[1] = purpose;
  r->ctr[0] = index;
  r->ctr[1] = 0;
  r->ctr[2] = sub;
  r->ctr[3] = 0;
  r->avail = 0;
  r->has_spare = 0;
  r->spare = 0.0;
}

uint64_t fg_rng_u64(fg_rng *r)
{
  if (r->avail == 0) {
    fg_rng_philox(r->ctr, r->key, r->buf);
    r->ctr[1]++;
    r->avail = 4;
  }
  return r->buf[4 - r->avail--];
}

double fg_rng_uniform(fg_rng *r)
{
  /* (k + 1/2) 2^-53 with k < 2^53: never 0 or 1, so log(u) is finite. */
  return ((double)(fg_rng_u64(r) >> 11) + 0.5) * 0x1p-53;
}

double fg_rng_normal(fg_rng *r)
{
  if (r->has_spare) {
    r->has_spare = 0;
    return r->spare;
  }
  double u1 = fg_rng_uniform(r), u2 = fg_rng_uniform(r);
  double rad = sqrt(-2.0 * log(u1)), ang = 2.0 * M_PI * u2;
  r->spare = rad * sin(ang);
  r->has_spare = 1;
  return rad * cos(ang);
}

void fg_rng_normals(fg_rng *r, double *out, size_t n)
{
  for (size_t i = 0; i < n; ++i)
    out[i] = fg_rng_normal(r);
}
