/*
 * rng.h -- counter-based random numbers (Philox4x64-10 of Random123).
 *
 * A stream is keyed by (seed, purpose) and positioned by (index, sub): the
 * numbers of sample `index` are the same whichever rank or batch draws it,
 * so results never depend on how work is split. Within a stream the
 * counter's second word advances; 2^64 blocks of 4 words each.
 *
 *   void fg_rng_init(fg_rng *r, uint64_t seed, uint32_t purpose,
 *                    uint64_t index, uint32_t sub)
 *     Positions r at the start of stream (seed, purpose, index, sub).
 *     key = {seed, purpose}, counter = {index, 0, sub, 0}. Local.
 *
 *   uint64_t fg_rng_u64(fg_rng *r)   next 64 random bits
 *   double fg_rng_uniform(fg_rng *r) uniform in the open interval (0, 1),
 *                                    53 random bits
 *   double fg_rng_normal(fg_rng *r)  standard normal (Box-Muller, both
 *                                    values of each pair are used)
 *   void fg_rng_normals(fg_rng *r, double *out, size_t n)
 *                                    n standard normals, the same values as n
 *                                    calls of fg_rng_normal
 *   void fg_rng_philox(const uint64_t ctr[4], const uint64_t key[2], uint64_t out[4])
 *     The bare block function (for known-answer tests).
 *
 * The full state is the struct itself (plain data): copying it saves and
 * restores the position exactly.
 */
#ifndef FLOWGEN_RNG_H
#define FLOWGEN_RNG_H

#include <stddef.h>
#include <stdint.h>

/* Purposes: distinct streams for distinct uses of the same seed. */
enum {
  FG_RNG_INIT = 1,   /* network initialisation */
  FG_RNG_TRAIN = 2,  /* training samples, index = global sample number */
  FG_RNG_EVAL = 3,   /* ESS evaluation samples */
  FG_RNG_SAMPLE = 4, /* proposals of the sampling service */
  FG_RNG_HMC = 5,    /* HMC momenta and accept/reject */
  FG_RNG_CHAIN = 6,  /* the coordinator's Metropolis decisions */
  FG_RNG_DATA = 7,   /* which train.data configuration each training sample pairs with */
  FG_RNG_TEST = 99
};

typedef struct {
  uint64_t key[2];
  uint64_t ctr[4];
  uint64_t buf[4];
  int avail;          /* unused words left in buf */
  int has_spare;      /* a second Box-Muller normal is waiting */
  double spare;
} fg_rng;

void fg_rng_init(fg_rng *r, uint64_t seed, uint32_t purpose, uint64_t index, uint32_t sub);
uint64_t fg_rng_u64(fg_rng *r);
double fg_rng_uniform(fg_rng *r);
double fg_rng_normal(fg_rng *r);
void fg_rng_normals(fg_rng *r, double *out, size_t n);
void fg_rng_philox(const uint64_t ctr[4], const uint64_t key[2], uint64_t out[4]);

#endif
