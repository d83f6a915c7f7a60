/*
 * h5_quiet.h -- internal: silence HDF5's automatic error-stack printing
 * around calls whose failures flowgen reports itself, and restore the
 * caller's setting afterwards. Local.
 *
 *   void fg_h5_quiet_begin(fg_h5_quiet *q)   saves the handler, installs none
 *   void fg_h5_quiet_end(const fg_h5_quiet *q) restores it
 */
#ifndef FLOWGEN_H5_QUIET_H
#define FLOWGEN_H5_QUIET_H

#include <hdf5.h>

typedef struct {
  H5E_auto2_t func;
  void *data;
} fg_h5_quiet;

static inline void fg_h5_quiet_begin(fg_h5_quiet *q)
{
  if (H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data) < 0) {
    q->func = NULL;
    q->data = NULL;
  }
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static inline void fg_h5_quiet_end(const fg_h5_quiet *q)
{
  H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

#endif
