/*
 * h5.h -- internal to src/io/: the HDF5 helpers that checkpoint.c,
 * ensemble.c and the file probe (h5.c) share, so that both file kinds
 * read and write strings, open files and describe shapes one way. Local.
 * Failures are returned, never printed: the caller names the object.
 *
 *   void fg_h5_quiet_begin(fg_h5_quiet *q)   saves HDF5's error printer, installs none
 *   void fg_h5_quiet_end(const fg_h5_quiet *q) restores it
 *   hid_t fg_h5_text_type(void)
 *     Scalar variable-length UTF-8 string type (h5py reads it as str);
 *     close with H5Tclose. -1 on failure.
 *   hid_t fg_h5_read_access(void)
 *     File access for serial reading: the sec2 driver, no flock (Lustre
 *     and NFS mounts often refuse it; flowgen files are never modified in
 *     place, only renamed). Close with H5Pclose. -1 on failure.
 *   int fg_h5_read_string(hid_t obj, int is_attr, hid_t ftype, char **out)
 *     One string, variable- or fixed-length (h5py writes either), of the
 *     open attribute (is_attr) or dataset obj whose file type is ftype,
 *     into a fresh fg_alloc'd *out. 0; -1 when HDF5 cannot read it; -2
 *     out of memory. *out is NULL unless 0.
 *   void fg_h5_format_shape(char *buf, size_t size, int rank, const hsize_t *dims)
 *     "[d0, d1, ...]", or "scalar" for rank 0 (for messages).
 */
#ifndef FLOWGEN_IO_H5_H
#define FLOWGEN_IO_H5_H

#include <hdf5.h>
#include <stddef.h>

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

hid_t fg_h5_text_type(void);
hid_t fg_h5_read_access(void);
int fg_h5_read_string(hid_t obj, int is_attr, hid_t ftype, char **out);
void fg_h5_format_shape(char *buf, size_t size, int rank, const hsize_t *dims);

#endif
