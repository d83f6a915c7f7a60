/*
 * bench_chain.c -- how many log-weights per second the coordinator's
 * independence-Metropolis chain consumes (issue target: >= 1e7/s, so one
 * coordinator can serve thousands of workers).
 *
 * Usage: bench_chain [proposals, default 2e7] [sigma of log w, default 1]
 * Built by meson as build/bench/bench_chain.
 */
#include <stdio.h>
#include <stdlib.h>

#include "flowgen/rng.h"
#include "flowgen/sample.h"
#include "flowgen/util.h"

enum { ROUND = 65536 };

int main(int argc, char **argv)
{
  long long n = argc > 1 ? atoll(argv[1]) : 20000000LL;
  double sigma = argc > 2 ? atof(argv[2]) : 1.0;
  double *logw = malloc(sizeof(double) * ROUND);
  int64_t *index = malloc(sizeof(int64_t) * ROUND);
  uint8_t *acc = malloc(ROUND);
  if (!logw || !index || !acc || n <= 0)
    return 1;
  fg_rng r;
  fg_rng_init(&r, 1, FG_RNG_TEST, 0, 0);
  for (int i = 0; i < ROUND; ++i)
    logw[i] = sigma * fg_rng_normal(&r);
  fg_imh_chain c;
  fg_imh_init(&c, 42);
  double t0 = fg_wall_time();
  for (long long done = 0; done < n; done += ROUND)
    fg_imh_chain_run(&c, logw, n - done < ROUND ? n - done : ROUND, index, acc);
  double el = fg_wall_time() - t0;
  fg_json j;
  fg_json_begin(&j, stdout);
  fg_json_object(&j, NULL);
  fg_json_int(&j, "proposals", n);
  fg_json_numberf(&j, "seconds", "%.4f", el);
  fg_json_numberf(&j, "logw_per_s", "%.4g", (double)n / el);
  fg_json_numberf(&j, "acceptance", "%.4f", (double)c.accepted / (double)c.steps);
  fg_json_end(&j);
  free(logw), free(index), free(acc);
  return 0;
}
