/*
 * bench_allreduce.c -- the cost of one training step's gradient sum (SPEC
 * section 1: one MPI_Allreduce of every parameter per step) against the
 * rank count, for given gradient sizes (issue 15; docs/scaling.md).
 *
 * Usage: mpirun -n N bench_allreduce [--seconds S] PARAMS...
 *   PARAMS   gradient sizes in doubles (e.g. the parameter counts of the
 *            shipped architectures, as `flowgen info` prints them)
 * Prints one JSON line per size (rank 0): ranks, params, bytes, the mean
 * and the best microseconds per call over about S seconds (default 0.5),
 * after a warm-up. MPI_SUM on MPI_IN_PLACE, as src/train does.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowgen/util.h"

/* Calls of n doubles for about `seconds` (rank 0 decides when to stop). */
static void time_allreduce(double *buf, int n, double seconds, double *mean_us, double *best_us)
{
  for (int w = 0; w < 5; ++w)
    MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  double t_begin = fg_wall_time(), best = 1e30;
  long calls = 0;
  int more = 1;
  while (more) {
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = fg_wall_time();
    for (int k = 0; k < 10; ++k)
      MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    double dt = (fg_wall_time() - t0) / 10.0;
    best = dt < best ? dt : best;
    calls += 10;
    more = fg_wall_time() - t_begin < seconds;
    MPI_Bcast(&more, 1, MPI_INT, 0, MPI_COMM_WORLD);
  }
  *mean_us = 1e6 * (fg_wall_time() - t_begin) / (double)calls;
  *best_us = 1e6 * best;
}

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  int rank, nranks;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  double seconds = 0.5;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
      seconds = atof(argv[++i]);
      continue;
    }
    int n = atoi(argv[i]);
    double *buf = n > 0 ? calloc((size_t)n, sizeof(double)) : NULL;
    if (buf == NULL) {
      if (rank == 0)
        fprintf(stderr, "bench_allreduce: '%s': want a positive size\n", argv[i]);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    double mean, best;
    time_allreduce(buf, n, seconds, &mean, &best);
    if (rank == 0)
      printf("{\"ranks\": %d, \"params\": %d, \"bytes\": %zu, \"mean_us\": %.4g, \"best_us\": %.4g}\n",
             nranks, n, sizeof(double) * (size_t)n, mean, best);
    free(buf);
  }
  MPI_Finalize();
  return 0;
}
