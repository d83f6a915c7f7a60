/*
 * bench_h5write.c -- the parallel-HDF5 pattern of the sampling service's
 * rows, bare (issue 15; docs/scaling.md): ranks 1..N-1 own the batches of
 * B rows dealt round-robin and write them into /configs [n, V] (float64)
 * of one shared file, one strided hyperslab per rank and round, every
 * round ending with H5Fflush as the service's does. Run once with
 * collective transfers (H5FD_MPIO_COLLECTIVE, what src/io/ensemble.c
 * uses) and once with independent ones, into two files, so the two
 * transfer modes are timed on the same ranks, sizes and disk.
 *
 * Usage: mpirun -n N bench_h5write DIR [rows V B ROWS_PER_ROUND]
 *   defaults: rows 65536, V 256 (a 16x16 lattice), B 64, 16384 per round
 * Prints one JSON line per mode (rank 0): bytes, seconds in H5Dwrite and
 * in H5Fflush (the slowest rank's), MB/s, and whether HDF5 kept every
 * transfer collective. The files are removed.
 */
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flowgen/util.h"

typedef struct {
  hsize_t rows, width, batch, per_round;
  int rank, nranks;
} shape;

/* This rank's rows of round [r0, r0 + per_round) as a file selection;
 * *n: how many. Workers w = rank - 1 own batches b with b % (N-1) == w. */
static hid_t round_selection(const shape *s, hid_t space, hsize_t r0, hsize_t *n)
{
  H5Sselect_none(space);
  *n = 0;
  hsize_t workers = (hsize_t)(s->nranks > 1 ? s->nranks - 1 : 1);
  hsize_t w = (hsize_t)(s->nranks > 1 ? s->rank - 1 : 0);
  if (s->nranks > 1 && s->rank == 0)
    return space;
  hsize_t end = r0 + s->per_round < s->rows ? r0 + s->per_round : s->rows;
  for (hsize_t b = r0 / s->batch + w; b * s->batch < end; b += workers) {
    hsize_t start[2] = {b * s->batch, 0}, count[2] = {s->batch, s->width};
    if (start[0] + count[0] > end)
      count[0] = end - start[0];
    H5Sselect_hyperslab(space, H5S_SELECT_OR, start, NULL, count, NULL);
    *n += count[0];
  }
  return space;
}

/* One file written in `mode`; seconds of writes and flushes (max over ranks). */
static int write_file(const shape *s, const char *path, H5FD_mpio_xfer_t mode, double *t_write,
                      double *t_flush, int *all_collective)
{
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL);
  hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (file < 0)
    return 1;
  hsize_t dims[2] = {s->rows, s->width};
  hid_t space = H5Screate_simple(2, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
  H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
  hid_t dset = H5Dcreate2(file, "configs", H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  H5Pset_dxpl_mpio(dxpl, mode);
  double *buf = malloc(sizeof(double) * (size_t)(s->per_round * s->width));
  for (hsize_t i = 0; buf && i < s->per_round * s->width; ++i)
    buf[i] = (double)i;
  double tw = 0.0, tf = 0.0;
  int collective = 1;
  for (hsize_t r0 = 0; buf && r0 < s->rows; r0 += s->per_round) {
    hsize_t n;
    round_selection(s, space, r0, &n);
    hsize_t mdims[1] = {n * s->width};
    hid_t mspace = H5Screate_simple(1, mdims, NULL);
    if (n == 0)
      H5Sselect_none(mspace);
    double t0 = fg_wall_time();
    H5Dwrite(dset, H5T_NATIVE_DOUBLE, mspace, space, dxpl, buf);
    double t1 = fg_wall_time();
    H5Fflush(file, H5F_SCOPE_GLOBAL);
    tw += t1 - t0, tf += fg_wall_time() - t1;
    H5D_mpio_actual_io_mode_t io;
    if (H5Pget_mpio_actual_io_mode(dxpl, &io) >= 0 && io == H5D_MPIO_NO_COLLECTIVE)
      collective = 0;
    H5Sclose(mspace);
  }
  free(buf);
  H5Pclose(dxpl), H5Pclose(dcpl), H5Dclose(dset), H5Sclose(space), H5Fclose(file);
  MPI_Allreduce(&tw, t_write, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  MPI_Allreduce(&tf, t_flush, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  MPI_Allreduce(&collective, all_collective, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return 0;
}

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  shape s = {65536, 256, 64, 16384, 0, 0};
  MPI_Comm_rank(MPI_COMM_WORLD, &s.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &s.nranks);
  if (argc < 2) {
    if (s.rank == 0)
      fprintf(stderr, "usage: bench_h5write DIR [rows V B ROWS_PER_ROUND]\n");
    MPI_Finalize();
    return 1;
  }
  hsize_t *opt[4] = {&s.rows, &s.width, &s.batch, &s.per_round};
  for (int k = 0; k < 4 && k + 2 < argc; ++k)
    *opt[k] = (hsize_t)atoll(argv[k + 2]);
  static const char *names[2] = {"collective", "independent"};
  H5FD_mpio_xfer_t modes[2] = {H5FD_MPIO_COLLECTIVE, H5FD_MPIO_INDEPENDENT};
  int rc = 0;
  for (int m = 0; m < 2 && rc == 0; ++m) {
    char path[4096];
    snprintf(path, sizeof path, "%s/bench_h5write_%s.h5", argv[1], names[m]);
    double tw, tf;
    int coll;
    rc = write_file(&s, path, modes[m], &tw, &tf, &coll);
    double bytes = 8.0 * (double)(s.rows * s.width);
    if (rc == 0 && s.rank == 0) {
      printf("{\"ranks\": %d, \"mode\": \"%s\", \"bytes\": %.0f, \"rows_per_round\": %llu, "
             "\"write_s\": %.4f, \"flush_s\": %.4f, \"MB_per_s\": %.4g, \"kept_collective\": %s}\n",
             s.nranks, names[m], bytes, (unsigned long long)s.per_round, tw, tf,
             bytes / (tw + tf) / 1e6, coll ? "true" : "false");
      unlink(path);
    }
  }
  MPI_Finalize();
  return rc;
}
