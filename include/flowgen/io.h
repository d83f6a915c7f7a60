/*
 * io.h -- what every flowgen HDF5 file shares (checkpoints and ensembles
 * alike): a look at a file without loading it, and one root attribute.
 * With checkpoint.h and ensemble.h the only way into HDF5: no code outside
 * src/io/ calls the HDF5 library. All functions are local (one rank) and
 * open the file read-only without a lock (a running writer may hold it).
 *
 *   int fg_file_probe(const char *path, fg_file_head *h, fg_error *err)
 *     Reads the root attributes format, kind, complete and rows_done and
 *     the row count of /configs (absent ones: "", NaN, -1). FG_ERR_INPUT,
 *     naming the file, for a missing file (pointing at "<path>.tmp" when an
 *     unfinished run left one), a folder, a file that is not HDF5, one
 *     that cannot be opened, or one without a 'format' attribute.
 *   int fg_file_attr_text(const char *path, const char *name, char **text, fg_error *err)
 *     The root string attribute name (fixed or variable length) in a fresh
 *     fg_alloc'd *text. FG_ERR_INPUT when the file cannot be opened or the
 *     attribute is absent or not one string; FG_ERR_RUNTIME for memory.
 *   int fg_file_attr_number(const char *path, const char *name, double *value,
 *                           fg_error *err)
 *     The root numeric attribute name (one value) as a double; FG_ERR_INPUT
 *     as above.
 */
#ifndef FLOWGEN_IO_H
#define FLOWGEN_IO_H

#include "flowgen/error.h"

typedef struct {
  char format[64];      /* root 'format' ("" when absent) */
  char kind[16];        /* root 'kind' ("" when absent) */
  double complete;      /* root 'complete', NaN when absent */
  double rows_done;     /* root 'rows_done', NaN when absent */
  long long rows;       /* rows of /configs, -1 when absent */
} fg_file_head;

int fg_file_probe(const char *path, fg_file_head *h, fg_error *err);
int fg_file_attr_text(const char *path, const char *name, char **text, fg_error *err);
int fg_file_attr_number(const char *path, const char *name, double *value, fg_error *err);

#endif
