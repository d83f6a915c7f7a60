/*
 * provenance.c -- what the files record about the software that wrote them.
 *
 *   void fg_library_versions(char *buf, size_t n)
 *     One line: flowgen's version, HDF5's and the MPI library's (first line
 *     of MPI_Get_library_version). Local; MPI must be initialised.
 */
#include <H5public.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "flowgen/ensemble.h"
#include "flowgen_build.h"

void fg_library_versions(char *buf, size_t n)
{
  unsigned maj, min, rel;
  H5get_libversion(&maj, &min, &rel);
  char mpi[MPI_MAX_LIBRARY_VERSION_STRING];
  int len;
  MPI_Get_library_version(mpi, &len);
  mpi[strcspn(mpi, ",\n")] = '\0';
  snprintf(buf, n, "flowgen %s; HDF5 %u.%u.%u; %s", FLOWGEN_VERSION, maj, min, rel, mpi);
}
