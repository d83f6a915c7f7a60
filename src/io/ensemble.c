/*
 * ensemble.c -- the ensemble file of a sampling or HMC run (see ensemble.h;
 * the layout, readable with h5py alone, is in docs/file-formats.md).
 *
 * Writing side. Every call below that takes an fg_ensemble is COLLECTIVE
 * over the communicator given to create or reopen: all its ranks call it,
 * in the same order, with the same metadata arguments (names, first/count of
 * chain and read calls, layouts). The status is agreed: a failure on any
 * rank makes the call fail on every rank, with the code and message of the
 * lowest failing rank, so no rank is ever left waiting in a collective.
 * Arguments are checked before any collective HDF5 call is entered. Data
 * move with collective MPI-IO transfers (H5FD_MPIO_COLLECTIVE).
 *
 *   int fg_ensemble_create(MPI_Comm comm, const char *path, const fg_ensemble_layout *lay,
 *                          fg_ensemble **out, fg_error *err)
 *     Checks that lay is valid (kind flow or hmc, 1 <= nd <= FG_MAXDIM,
 *     extents >= 1, a volume that fits an int, counts >= 0) and the same on
 *     every rank; rank 0 makes path's parent folders; creates "<path>.tmp"
 *     (truncating a stale one) with every dataset at its final size, the
 *     root attributes format, format_version, kind, and the progress
 *     attributes rows_done = 0 and complete = 0. Rows of /configs not yet
 *     written read as undefined values (no fill is written: on a large file
 *     it would double the cost); the 1-D datasets start zeroed. Before HDF5
 *     makes the file, rank 0 checks that the file system takes a file of
 *     the full size (FG_ERR_INPUT otherwise: HDF5 cannot recover from a
 *     failed allocation). On failure *out is NULL and the .tmp file is
 *     removed. FG_ERR_RUNTIME.
 *
 *   int fg_ensemble_reopen(MPI_Comm comm, const char *path, const fg_ensemble_layout *lay,
 *                          fg_ensemble **out, fg_error *err)
 *     Opens "<path>.tmp" read-write to resume. FG_ERR_INPUT, naming the
 *     file, when it is missing, not HDF5, foreign, of a newer format_version,
 *     complete, or when its kind or dataset shapes differ from lay;
 *     FG_ERR_RUNTIME for an invalid lay or an I/O failure.
 *
 *   int fg_ensemble_write_rows(fg_ensemble *e, int nruns, const int64_t *first,
 *                              const int64_t *count, const double *configs,
 *                              const double *logq, const double *action,
 *                              const double *logw, fg_error *err)
 *     This rank's rows, runs [first[k], first[k] + count[k]) in any order,
 *     their data concatenated in the order the runs are given (configs: V
 *     values per row, C order). Runs may be empty and nruns may be 0; runs of
 *     one rank must not overlap (ranks' runs must not overlap either: that is
 *     not checked). logq and logw are ignored for HMC layouts and may then be
 *     NULL. Runs given out of file order cost one copy of this rank's rows
 *     (HDF5 maps a selection to memory in file order); runs of equal length
 *     at a constant stride (rows dealt round-robin) are one strided
 *     selection, so even 10^4 runs per rank write in well under a second.
 *     FG_ERR_RUNTIME for a run outside /configs, overlapping runs, a NULL
 *     array with rows to write, or an I/O failure.
 *
 *   int fg_ensemble_write_chain(fg_ensemble *e, int64_t first, int64_t count,
 *                               const int64_t *index, const uint8_t *accepted,
 *                               int root, fg_error *err)
 *     Chain steps [first, first + count) from rank root; other ranks' index
 *     and accepted are unused (may be NULL). first, count and root must be
 *     the same on every rank (checked). FG_ERR_RUNTIME.
 *
 *   int fg_ensemble_set_progress(fg_ensemble *e, const char *name, double value, fg_error *err)
 *   int fg_ensemble_set_attr_double(fg_ensemble *e, const char *name, double value, fg_error *err)
 *   int fg_ensemble_set_attr_int64(fg_ensemble *e, const char *name, int64_t value, fg_error *err)
 *   int fg_ensemble_set_attr_string(fg_ensemble *e, const char *name, const char *value,
 *                                   fg_error *err)
 *     A scalar root attribute: float64 (progress and double), int64, or a
 *     variable-length UTF-8 string (not size-limited: HDF5 keeps it outside
 *     the object header). An attribute of that name is replaced. Rank 0's
 *     name and value are the ones written (the file's metadata must be
 *     identical on every rank; a wall-clock figure that differs between ranks
 *     then cannot corrupt it). The names format, format_version, kind and
 *     complete are reserved (complete is set by fg_ensemble_close).
 *     FG_ERR_RUNTIME.
 *
 *   int fg_ensemble_get_progress(fg_ensemble *e, const char *name, double *value, fg_error *err)
 *     A numeric root attribute (any integer or float type) as a double.
 *     FG_ERR_INPUT, naming the file, when it is missing or not one number.
 *
 *   int fg_ensemble_flush(fg_ensemble *e, fg_error *err)
 *     H5Fflush (global): data and metadata written so far are on disk and
 *     the file is consistent, so rows_done set before it can be trusted.
 *
 *   int fg_ensemble_read_rows(fg_ensemble *e, int64_t first, int64_t count,
 *                             double *configs, fg_error *err)
 *     Rows [first, first + count) of /configs into configs on every rank
 *     (count * V values). first and count the same on every rank (checked).
 *
 *   int fg_ensemble_close(fg_ensemble *e, int complete, fg_error *err)
 *     Closes the file; with complete != 0 it first sets complete = 1, and
 *     after the close rank 0 fsyncs "<path>.tmp" and renames it to path
 *     (replacing an older file there), so path only ever holds a complete
 *     file. Frees e in every case (e NULL: nothing to do).
 *
 *   void fg_ensemble_io_counts(const fg_ensemble *e, int64_t *collective,
 *                              int64_t *independent)
 *     Local. How many of this rank's dataset transfers HDF5 reports
 *     (H5Pget_mpio_actual_io_mode) as done collectively, and how many fell
 *     back to independent I/O: a fallback is a performance bug, not an error.
 *
 * Reading side (local: one rank, serial HDF5 driver; MPI need not be used):
 *
 *   int fg_ensemble_load(const char *path, fg_ensemble_data *d, fg_error *err)
 *     Zeroes *d and reads the whole file into it (arrays fg_alloc'd; logq and
 *     logw NULL for HMC). FG_ERR_INPUT, naming path, for a missing file (the
 *     message points at "<path>.tmp" when an unfinished run left one), a
 *     folder, a file that is not HDF5, a foreign HDF5 file (format other
 *     than "flowgen-ensemble"), a newer format_version, an unknown kind, an
 *     incomplete file (complete != 1), datasets whose shapes disagree, or a
 *     chain index outside /configs; FG_ERR_RUNTIME when memory runs out. On
 *     failure *d is left zeroed. Root attributes are listed in creation
 *     order (name order for files that do not track it): scalar strings as
 *     text, numbers of one value as doubles; others are skipped.
 *
 *   void fg_ensemble_data_free(fg_ensemble_data *d)
 *     Frees what d owns and zeroes it; safe on a zeroed struct.
 *
 *   const fg_ensemble_attr *fg_ensemble_attr_find(const fg_ensemble_data *d, const char *name)
 *     The root attribute called name, or NULL. Local, pure.
 *
 * HDF5's automatic error-stack printing is off during each call (and
 * restored after): every failure is reported once, through fg_fail, naming
 * the file. Every HDF5 id opened is closed on every path.
 */
#include "h5.h"
#include "flowgen/ensemble.h"
#include "flowgen/theory.h"
#include "flowgen/util.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#if !H5_VERSION_GE(1, 10, 6)
#error "flowgen needs HDF5 1.10.6 or newer (H5Smodify_select, parallel build)"
#endif
#ifndef H5_HAVE_PARALLEL
#error "flowgen needs the parallel (MPI) build of HDF5, e.g. Debian's libhdf5-openmpi-dev"
#endif

/* The datasets, in the order of the layout table; logq and logw exist for
 * flow ensembles only. */
enum { DS_CONFIGS, DS_LOGQ, DS_ACTION, DS_LOGW, DS_INDEX, DS_ACCEPTED, DS_CHECKSUM, DS_COUNT };

static const char *const ds_path[DS_COUNT] = {
    "configs", "proposals/logq", "proposals/action", "proposals/logw", "chain/index",
    "chain/accepted", "proposals/checksum",
};

/* Whether dataset k exists in a file of this kind and format_version
 * (format_version 1 files have no checksums). */
static int ds_present_v(int k, fg_ensemble_kind kind, int version)
{
  if (k == DS_CHECKSUM)
    return version >= 2;
  return kind == FG_ENSEMBLE_FLOW || (k != DS_LOGQ && k != DS_LOGW);
}

/* What this flowgen writes (and resumes). */
static int ds_present(int k, fg_ensemble_kind kind)
{
  return ds_present_v(k, kind, FG_ENSEMBLE_VERSION);
}

/* The row checksum (see ensemble.h): one bijective mixing step per 64-bit
 * word, so a change of any single value always changes the result. */
static uint64_t mix_word(uint64_t h, uint64_t w)
{
  w *= 0x9E3779B97F4A7C15ULL;
  h ^= w;
  h = (h << 31) | (h >> 33);
  return h * 0xBF58476D1CE4E5B9ULL;
}

uint64_t fg_ensemble_row_checksum(const double *values, size_t n, double action)
{
  uint64_t h = 0x666C6F7767656E31ULL ^ (uint64_t)n, w;
  for (size_t i = 0; i < n; ++i) {
    memcpy(&w, &values[i], sizeof w);
    h = mix_word(h, w);
  }
  memcpy(&w, &action, sizeof w);
  h = mix_word(h, w);
  return h ^ (h >> 29);
}

/* File types are fixed little-endian so files are the same on every machine. */
static void ds_types(int k, hid_t *ftype, hid_t *mtype)
{
  if (k == DS_INDEX) {
    *ftype = H5T_STD_I64LE;
    *mtype = H5T_NATIVE_INT64;
  } else if (k == DS_CHECKSUM) {
    *ftype = H5T_STD_U64LE;
    *mtype = H5T_NATIVE_UINT64;
  } else if (k == DS_ACCEPTED) {
    *ftype = H5T_STD_U8LE;
    *mtype = H5T_NATIVE_UINT8;
  } else {
    *ftype = H5T_IEEE_F64LE;
    *mtype = H5T_NATIVE_DOUBLE;
  }
}

struct fg_ensemble {
  MPI_Comm comm; /* our duplicate: agreement traffic never meets the caller's */
  int rank, size;
  fg_ensemble_layout lay;
  size_t volume;
  char *path, *tmp;
  hid_t file, dxpl;
  hid_t dset[DS_COUNT]; /* -1 where absent */
  int64_t io_collective, io_independent;
};

/* Who is failing on which file, and which status a failure maps to. */
typedef struct {
  const char *where;
  const char *path;
  int code;
  fg_error *err;
  int rank, size; /* size > 1: messages say which rank failed */
} en_site;

/* Records "ensemble 'path' (rank r): /object: what" and returns s->code;
 * loc < 0 leaves the object out. */
__attribute__((format(printf, 3, 4)))
static int site_fail(const en_site *s, hid_t loc, const char *fmt, ...)
{
  char what[640], obj[256] = "", who[32] = "";
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  if (loc >= 0 && H5Iget_name(loc, obj, sizeof obj) < 0)
    obj[0] = '\0';
  if (s->size > 1)
    snprintf(who, sizeof who, " (rank %d)", s->rank);
  return fg_fail(s->err, s->code, s->where, "ensemble '%s'%s: %s%s%s", s->path, who, obj,
                 obj[0] ? ": " : "", what);
}

static en_site site_of(const fg_ensemble *e, const char *where, fg_error *err)
{
  en_site s = {where, e->tmp, FG_ERR_RUNTIME, err, e->rank, e->size};
  return s;
}

/* ------------------------------------------------------------ agreement */

static int agree_e(const fg_ensemble *e, int rc, fg_error *err)
{
  return fg_agree(e->comm, rc, err);
}

/* kind, nd, the extents, components, n_configs, n_chain */
#define LAYOUT_WORDS (5 + FG_MAXDIM)

/* Components per site: 0 in a layout means 1 (phi^4's one real number). */
static int layout_components(const fg_ensemble_layout *lay)
{
  return lay->components == 0 ? 1 : lay->components;
}

/* Whether the n values v are the same on every rank (one MAX reduction of v
 * and -v). Values must not be INT64_MIN. */
static int same_on_all(MPI_Comm comm, const int64_t *v, int n, int *same)
{
  int64_t buf[2 * LAYOUT_WORDS] = {0}, out[2 * LAYOUT_WORDS];
  if (n > (int)(sizeof buf / sizeof buf[0]) / 2)
    return -1;
  for (int i = 0; i < n; ++i) {
    buf[i] = v[i];
    buf[n + i] = -v[i];
  }
  if (MPI_Allreduce(buf, out, 2 * n, MPI_INT64_T, MPI_MAX, comm) != MPI_SUCCESS)
    return -1;
  *same = 1;
  for (int i = 0; i < n; ++i)
    if (out[i] != -out[n + i])
      *same = 0;
  return 0;
}

/* --------------------------------------------------------------- layout */

static int layout_check(const en_site *s, const fg_ensemble_layout *lay, size_t *volume)
{
  if (lay == NULL)
    return site_fail(s, -1, "no layout given");
  if (lay->kind != FG_ENSEMBLE_FLOW && lay->kind != FG_ENSEMBLE_HMC)
    return site_fail(s, -1, "unknown ensemble kind %d", (int)lay->kind);
  if (lay->nd < 1 || lay->nd > FG_MAXDIM)
    return site_fail(s, -1, "lattice dimension %d is outside 1..%d", lay->nd, FG_MAXDIM);
  if (layout_components(lay) < 1)
    return site_fail(s, -1, "%d components per site", lay->components);
  size_t v = (size_t)layout_components(lay);
  for (int mu = 0; mu < lay->nd; ++mu) {
    if (lay->extent[mu] < 1)
      return site_fail(s, -1, "lattice extent %d of direction %d", lay->extent[mu], mu);
    v *= (size_t)lay->extent[mu];
    if (v > INT_MAX)
      return site_fail(s, -1, "lattice volume exceeds %d sites", INT_MAX);
  }
  if (lay->n_configs < 0 || lay->n_chain < 0)
    return site_fail(s, -1, "negative size (%" PRId64 " configurations, %" PRId64 " chain steps)",
                     lay->n_configs, lay->n_chain);
  if ((uint64_t)lay->n_configs > SIZE_MAX / sizeof(double) / v)
    return site_fail(s, -1, "%" PRId64 " configurations of %zu sites do not fit in memory",
                     lay->n_configs, v);
  *volume = v;
  return FG_OK;
}

/* Valid and identical on every rank (identity first: then validity is the
 * same everywhere too). */
static int layout_agreed(const en_site *s, MPI_Comm comm, const fg_ensemble_layout *lay,
                         size_t *volume)
{
  int64_t v[LAYOUT_WORDS] = {0};
  int n = 0, same = 1;
  if (lay != NULL) {
    v[n++] = 1 + (int64_t)lay->kind;
    v[n++] = lay->nd;
    for (int mu = 0; mu < FG_MAXDIM; ++mu)
      v[n++] = mu < lay->nd && mu >= 0 ? lay->extent[mu] : 0;
    v[n++] = layout_components(lay);
    v[n++] = lay->n_configs;
    v[n++] = lay->n_chain;
  }
  n = LAYOUT_WORDS;
  for (int i = 0; i < n; ++i)
    if (v[i] == INT64_MIN)
      v[i] = INT64_MIN + 1;
  if (same_on_all(comm, v, n, &same) != 0)
    return site_fail(s, -1, "MPI_Allreduce failed");
  if (!same)
    return site_fail(s, -1, "the ranks passed different layouts");
  return layout_check(s, lay, volume);
}

static void layout_dims(const fg_ensemble_layout *lay, int k, int *rank, hsize_t *dims)
{
  if (k == DS_CONFIGS) { /* [n, C, L0, L1, ...]: the component axis since format_version 2 */
    *rank = 2 + lay->nd;
    dims[0] = (hsize_t)lay->n_configs;
    dims[1] = (hsize_t)layout_components(lay);
    for (int mu = 0; mu < lay->nd; ++mu)
      dims[2 + mu] = (hsize_t)lay->extent[mu];
  } else {
    *rank = 1;
    dims[0] = (hsize_t)(k == DS_INDEX || k == DS_ACCEPTED ? lay->n_chain : lay->n_configs);
  }
}

static const char *kind_name(fg_ensemble_kind k) { return k == FG_ENSEMBLE_HMC ? "hmc" : "flow"; }

/* ------------------------------------------------------- HDF5 helpers */

/* Whether the existing attribute can be overwritten in place: same file
 * type, scalar. 1 yes, 0 no, -1 on failure. */
static int attr_fits(hid_t attr, hid_t ftype)
{
  hid_t type = H5Aget_type(attr), space = H5Aget_space(attr);
  int fits = -1;
  if (type >= 0 && space >= 0) {
    htri_t eq = H5Tequal(type, ftype);
    fits = eq < 0 ? -1 : eq > 0 && H5Sget_simple_extent_type(space) == H5S_SCALAR;
  }
  if (space >= 0)
    H5Sclose(space);
  if (type >= 0)
    H5Tclose(type);
  return fits;
}

/* Writes the scalar attribute name of loc, replacing one of another type.
 * Collective in parallel files (identical arguments on every rank). */
static int attr_put(const en_site *s, hid_t loc, const char *name, hid_t ftype, hid_t mtype,
                    const void *buf)
{
  htri_t there = H5Aexists(loc, name);
  if (there > 0) {
    hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
    int fits = attr < 0 ? -1 : attr_fits(attr, ftype);
    herr_t st = fits > 0 ? H5Awrite(attr, mtype, buf) : 0;
    if (attr >= 0 && H5Aclose(attr) < 0)
      st = -1;
    if (fits < 0 || st < 0)
      return site_fail(s, loc, "cannot write attribute '%s'", name);
    if (fits > 0)
      return FG_OK;
    if (H5Adelete(loc, name) < 0)
      return site_fail(s, loc, "cannot replace attribute '%s'", name);
  } else if (there < 0) {
    return site_fail(s, loc, "cannot look up attribute '%s'", name);
  }
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t attr = space < 0 ? -1 : H5Acreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t st = attr < 0 ? -1 : H5Awrite(attr, mtype, buf);
  if (attr >= 0 && H5Aclose(attr) < 0)
    st = -1;
  if (space >= 0)
    H5Sclose(space);
  return st < 0 ? site_fail(s, loc, "cannot write attribute '%s'", name) : FG_OK;
}

static int attr_put_text(const en_site *s, hid_t loc, const char *name, const char *text)
{
  hid_t type = fg_h5_text_type();
  if (type < 0)
    return site_fail(s, loc, "cannot make a string type for '%s'", name);
  int rc = attr_put(s, loc, name, type, type, &text);
  H5Tclose(type);
  return rc;
}

static int attr_put_double(const en_site *s, hid_t loc, const char *name, double value)
{
  return attr_put(s, loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

/* Reads one string (variable- or fixed-length: h5py writes either) of the
 * open attribute into a fresh fg_alloc'd buffer. */
static int attr_text(const en_site *s, hid_t loc, const char *name, hid_t attr, hid_t ftype,
                     char **out)
{
  int got = fg_h5_read_string(attr, 1, ftype, out);
  if (got == -2)
    return fg_fail(s->err, FG_ERR_RUNTIME, s->where, "out of memory reading attribute '%s'",
                   name);
  return got == 0 ? FG_OK : site_fail(s, loc, "cannot read string attribute '%s'", name);
}

/* The class of an open attribute and whether it holds one value. */
static int attr_shape(hid_t attr, H5T_class_t *cls, hid_t *type)
{
  *type = H5Aget_type(attr);
  hid_t space = H5Aget_space(attr);
  hssize_t n = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
  *cls = *type < 0 ? H5T_NO_CLASS : H5Tget_class(*type);
  if (space >= 0)
    H5Sclose(space);
  return n == 1 && *cls != H5T_NO_CLASS;
}

/* Root attribute name as text (is_text) or a number; FG_ERR-coded site
 * failure when missing or of the wrong kind. */
static int attr_get(const en_site *s, hid_t loc, const char *name, int is_text, char **text,
                    double *value)
{
  htri_t there = H5Aexists(loc, name);
  if (there <= 0)
    return site_fail(s, loc, "missing attribute '%s'", name);
  hid_t attr = H5Aopen(loc, name, H5P_DEFAULT), type = -1;
  H5T_class_t cls = H5T_NO_CLASS;
  int one = attr < 0 ? 0 : attr_shape(attr, &cls, &type), rc;
  int numeric = cls == H5T_INTEGER || cls == H5T_FLOAT;
  if (attr < 0)
    rc = site_fail(s, loc, "cannot open attribute '%s'", name);
  else if (!one || (is_text ? cls != H5T_STRING : !numeric))
    rc = site_fail(s, loc, "attribute '%s' is not one %s", name, is_text ? "string" : "number");
  else if (is_text)
    rc = attr_text(s, loc, name, attr, type, text);
  else
    rc = H5Aread(attr, H5T_NATIVE_DOUBLE, value) < 0
             ? site_fail(s, loc, "attribute '%s' cannot be read as a number", name)
             : FG_OK;
  if (type >= 0)
    H5Tclose(type);
  if (attr >= 0)
    H5Aclose(attr);
  return rc;
}

/* Format, version, kind and completion: what tells an ensemble file from a
 * foreign one, each with its own message. */
static int check_identity(const en_site *s, hid_t file, fg_ensemble_kind *kind, double *complete,
                          int *format_version)
{
  if (H5Aexists(file, "format") <= 0)
    return site_fail(s, -1, "an HDF5 file but not a flowgen ensemble (no 'format' attribute)");
  char *text = NULL;
  double version = 0;
  int rc = attr_get(s, file, "format", 1, &text, NULL);
  if (rc == FG_OK && strcmp(text, FG_ENSEMBLE_FORMAT) != 0)
    rc = site_fail(s, -1, "not a flowgen ensemble (format '%s', expected '%s')", text,
                   FG_ENSEMBLE_FORMAT);
  fg_free(text);
  text = NULL;
  if (rc == FG_OK)
    rc = attr_get(s, file, "format_version", 0, NULL, &version);
  if (rc == FG_OK && version > FG_ENSEMBLE_VERSION)
    rc = site_fail(s, -1, "format_version %g is newer than this flowgen reads (%d)", version,
                   FG_ENSEMBLE_VERSION);
  if (rc == FG_OK && (!(version >= 1) || version != (int)version))
    rc = site_fail(s, -1, "invalid format_version %g", version);
  if (rc == FG_OK)
    *format_version = (int)version;
  if (rc == FG_OK)
    rc = attr_get(s, file, "kind", 1, &text, NULL);
  if (rc == FG_OK && strcmp(text, "flow") != 0 && strcmp(text, "hmc") != 0)
    rc = site_fail(s, -1, "unknown kind '%s' (expected 'flow' or 'hmc')", text);
  if (rc == FG_OK)
    *kind = strcmp(text, "hmc") == 0 ? FG_ENSEMBLE_HMC : FG_ENSEMBLE_FLOW;
  fg_free(text);
  if (rc == FG_OK)
    rc = attr_get(s, file, "complete", 0, NULL, complete);
  return rc;
}

/* The shape of dataset k (rank and dims), or a site failure when missing. */
static int dset_shape(const en_site *s, hid_t file, int k, int *rank, hsize_t *dims)
{
  /* H5Lexists fails, rather than answering no, below a missing group */
  const char *slash = strchr(ds_path[k], '/');
  if (slash != NULL) {
    char group[16];
    snprintf(group, sizeof group, "%.*s", (int)(slash - ds_path[k]), ds_path[k]);
    if (H5Lexists(file, group, H5P_DEFAULT) <= 0)
      return site_fail(s, -1, "missing group '/%s'", group);
  }
  if (H5Lexists(file, ds_path[k], H5P_DEFAULT) <= 0)
    return site_fail(s, -1, "missing dataset '/%s'", ds_path[k]);
  hid_t d = H5Dopen2(file, ds_path[k], H5P_DEFAULT);
  hid_t space = d < 0 ? -1 : H5Dget_space(d);
  *rank = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
  int rc = FG_OK;
  if (*rank < 1 || *rank > 1 + FG_MAXDIM || H5Sget_simple_extent_dims(space, dims, NULL) < 0)
    rc = site_fail(s, -1, "dataset '/%s' cannot be opened or has rank %d", ds_path[k], *rank);
  if (space >= 0)
    H5Sclose(space);
  if (d >= 0)
    H5Dclose(d);
  return rc;
}

/* The layout the file's datasets describe (kind already known); shapes
 * that disagree among datasets are refused. */
static int file_layout(const en_site *s, hid_t file, int version, fg_ensemble_layout *lay)
{
  int rank;
  hsize_t dims[H5S_MAX_RANK];
  int rc = dset_shape(s, file, DS_CONFIGS, &rank, dims);
  if (rc != FG_OK)
    return rc;
  /* format_version 1: [n, L0, L1, ...]; 2: [n, C, L0, L1, ...] */
  int axes = version >= 2 ? 2 : 1;
  if (rank < axes + 1 || rank > axes + FG_MAXDIM || dims[0] > INT64_MAX ||
      (axes == 2 && (dims[1] < 1 || dims[1] > INT_MAX)))
    return site_fail(s, -1, "dataset '/configs' has rank %d, expected %d..%d (format_version %d)",
                     rank, axes + 1, axes + FG_MAXDIM, version);
  lay->nd = rank - axes;
  lay->components = axes == 2 ? (int)dims[1] : 1;
  lay->n_configs = (int64_t)dims[0];
  for (int mu = 0; mu < lay->nd; ++mu)
    lay->extent[mu] = dims[axes + mu] > INT_MAX ? -1 : (int)dims[axes + mu];
  for (int k = DS_LOGQ; k < DS_COUNT && rc == FG_OK; ++k) {
    if (!ds_present_v(k, lay->kind, version))
      continue;
    if ((rc = dset_shape(s, file, k, &rank, dims)) != FG_OK)
      return rc;
    if (k == DS_INDEX)
      lay->n_chain = (int64_t)dims[0];
    int want_rank;
    hsize_t want[H5S_MAX_RANK];
    layout_dims(lay, k, &want_rank, want);
    if (rank != 1 || dims[0] != want[0]) {
      char have[96];
      fg_h5_format_shape(have, sizeof have, rank, dims);
      rc = site_fail(s, -1, "dataset '/%s' has shape %s, expected [%llu]", ds_path[k], have,
                     (unsigned long long)want[0]);
    }
  }
  return rc;
}

/* ------------------------------------------------------ opening (all ranks) */

/* FNV-1a of the path, so that ranks naming different files are caught
 * before HDF5 sees inconsistent collective calls. */
static int64_t path_hash(const char *path)
{
  uint64_t h = 1469598103934665603ULL;
  for (const char *p = path ? path : ""; *p != '\0'; ++p)
    h = (h ^ (unsigned char)*p) * 1099511628211ULL;
  return (int64_t)(h >> 2);
}

static hid_t parallel_access(MPI_Comm comm)
{
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0)
    return -1;
  /* metadata leaves from rank 0 in one collective write, not from every rank */
  herr_t st = H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
  if (st >= 0)
    st = H5Pset_coll_metadata_write(fapl, 1);
#if H5_VERSION_GE(1, 10, 7)
  /* Lustre and NFS mounts often refuse flock; one run owns its .tmp file */
  if (st >= 0)
    st = H5Pset_file_locking(fapl, 0, 1);
#endif
  if (st < 0) {
    H5Pclose(fapl);
    return -1;
  }
  return fapl;
}

static void ensemble_free(fg_ensemble *e)
{
  if (e->comm != MPI_COMM_NULL)
    MPI_Comm_free(&e->comm);
  fg_free(e->path);
  fg_free(e->tmp);
  fg_free(e);
}

/* What create and reopen share: the layout and the path agreed on every
 * rank, the handle allocated with its own communicator. */
static int ensemble_begin(MPI_Comm comm, const char *path, const fg_ensemble_layout *lay,
                          const char *where, fg_ensemble **out, fg_error *err)
{
  int rank, size, same = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  en_site s = {where, path ? path : "(null)", FG_ERR_RUNTIME, err, rank, size};
  size_t volume = 0;
  int64_t h = path_hash(path);
  int rc = layout_agreed(&s, comm, lay, &volume);
  int named_alike = same_on_all(comm, &h, 1, &same) == 0 && same;
  if (rc == FG_OK && !named_alike)
    rc = site_fail(&s, -1, "the ranks passed different file names");
  if (rc == FG_OK && (path == NULL || path[0] == '\0' || out == NULL))
    rc = site_fail(&s, -1, "no file name or no place for the handle given");
  MPI_Comm dup = MPI_COMM_NULL;
  if (MPI_Comm_dup(comm, &dup) != MPI_SUCCESS && rc == FG_OK)
    rc = site_fail(&s, -1, "MPI_Comm_dup failed");
  fg_ensemble *e = rc == FG_OK ? fg_alloc(sizeof *e, err, where) : NULL;
  size_t n = path ? strlen(path) : 0;
  if (e != NULL) {
    e->comm = dup;
    dup = MPI_COMM_NULL;
    e->path = fg_alloc(n + 1, err, where);
    e->tmp = fg_alloc(n + 5, err, where);
  }
  if (rc == FG_OK && (e == NULL || e->path == NULL || e->tmp == NULL))
    rc = FG_ERR_RUNTIME;
  if ((rc = fg_agree(comm, rc, err)) != FG_OK) {
    if (dup != MPI_COMM_NULL)
      MPI_Comm_free(&dup);
    if (e != NULL)
      ensemble_free(e);
    return rc;
  }
  memcpy(e->path, path, n + 1);
  snprintf(e->tmp, n + 5, "%s.tmp", path);
  e->rank = rank;
  e->size = size;
  e->lay = *lay;
  e->volume = volume;
  e->file = e->dxpl = -1;
  for (int k = 0; k < DS_COUNT; ++k)
    e->dset[k] = -1;
  *out = e;
  return FG_OK;
}

/* Closes every id (the file collectively). */
static int close_ids(const en_site *s, fg_ensemble *e)
{
  herr_t st = 0;
  for (int k = 0; k < DS_COUNT; ++k)
    if (e->dset[k] >= 0 && H5Dclose(e->dset[k]) < 0)
      st = -1;
  if (e->dxpl >= 0 && H5Pclose(e->dxpl) < 0)
    st = -1;
  if (e->file >= 0 && H5Fclose(e->file) < 0)
    st = -1;
  e->file = e->dxpl = -1;
  for (int k = 0; k < DS_COUNT; ++k)
    e->dset[k] = -1;
  return st < 0 ? site_fail(s, -1, "cannot close") : FG_OK;
}

/* Undoes a failed create or reopen (status already agreed); with
 * remove_tmp, rank 0 deletes the half-made file once all ranks closed it. */
static void ensemble_abandon(const en_site *s, fg_ensemble *e, int remove_tmp)
{
  fg_error scratch;
  en_site quiet = *s;
  quiet.err = &scratch;
  close_ids(&quiet, e);
  MPI_Barrier(e->comm);
  if (remove_tmp && e->rank == 0)
    unlink(e->tmp);
  ensemble_free(e);
}

static int open_ids(const en_site *s, fg_ensemble *e, hid_t file)
{
  en_site r = *s;
  r.code = FG_ERR_RUNTIME;
  e->file = file;
  e->dxpl = H5Pcreate(H5P_DATASET_XFER);
  if (e->dxpl < 0 || H5Pset_dxpl_mpio(e->dxpl, H5FD_MPIO_COLLECTIVE) < 0)
    return site_fail(&r, -1, "cannot make a collective transfer property list");
  return FG_OK;
}

/* ------------------------------------------------------------ create */

static int file_create(const en_site *s, fg_ensemble *e)
{
  hid_t fapl = parallel_access(e->comm);
  hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
  /* readers list the root attributes in the order they were written */
  herr_t st = fapl < 0 || fcpl < 0 ? -1
              : H5Pset_attr_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  hid_t file = st < 0 ? -1 : H5Fcreate(e->tmp, H5F_ACC_TRUNC, fcpl, fapl);
  if (fcpl >= 0)
    H5Pclose(fcpl);
  if (fapl >= 0)
    H5Pclose(fapl);
  if (file < 0)
    return site_fail(s, -1, "cannot create the file (parallel HDF5, MPI-IO driver)");
  return open_ids(s, e, file);
}

static int root_attrs(const en_site *s, const fg_ensemble *e)
{
  int version = FG_ENSEMBLE_VERSION;
  int rc = attr_put_text(s, e->file, "format", FG_ENSEMBLE_FORMAT);
  if (rc == FG_OK)
    rc = attr_put(s, e->file, "format_version", H5T_STD_I32LE, H5T_NATIVE_INT, &version);
  if (rc == FG_OK)
    rc = attr_put_text(s, e->file, "kind", kind_name(e->lay.kind));
  if (rc == FG_OK)
    rc = attr_put_double(s, e->file, "rows_done", 0.0);
  if (rc == FG_OK)
    rc = attr_put_double(s, e->file, "complete", 0.0);
  return rc;
}

static int group_make(const en_site *s, hid_t file, const char *name)
{
  hid_t g = H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0 || H5Gclose(g) < 0)
    return site_fail(s, -1, "cannot create group '/%s'", name);
  return FG_OK;
}

/* Dataset k at its final size, storage allocated now (parallel HDF5 needs
 * it): /configs without fill (it would write the whole file twice), the
 * 1-D datasets filled with zeros. */
static int dataset_make(const en_site *s, fg_ensemble *e, int k)
{
  int rank;
  hsize_t dims[H5S_MAX_RANK];
  hid_t ftype, mtype;
  layout_dims(&e->lay, k, &rank, dims);
  ds_types(k, &ftype, &mtype);
  hid_t space = H5Screate_simple(rank, dims, NULL);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  uint64_t zero = 0;
  herr_t st = space < 0 || dcpl < 0 ? -1 : H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
  if (st >= 0 && k == DS_CONFIGS)
    st = H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
  else if (st >= 0 && (st = H5Pset_fill_value(dcpl, mtype, &zero)) >= 0)
    st = H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC);
  if (st >= 0)
    e->dset[k] = H5Dcreate2(e->file, ds_path[k], ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (dcpl >= 0)
    H5Pclose(dcpl);
  if (space >= 0)
    H5Sclose(space);
  if (e->dset[k] < 0) {
    char shape[96];
    fg_h5_format_shape(shape, sizeof shape, rank, dims);
    return site_fail(s, -1, "cannot create dataset '/%s' of shape %s", ds_path[k], shape);
  }
  return FG_OK;
}

/* Step i of building the file: root attributes, the two groups, then each
 * dataset. Each step's status is agreed before the next collective one. */
static int create_step(const en_site *s, fg_ensemble *e, int i)
{
  if (i == 0)
    return root_attrs(s, e);
  if (i == 1)
    return group_make(s, e->file, "proposals");
  if (i == 2)
    return group_make(s, e->file, "chain");
  return ds_present(i - 3, e->lay.kind) ? dataset_make(s, e, i - 3) : FG_OK;
}

/* Rank 0, before HDF5 sees the file: whether the file system takes a file
 * of the full size at all (a sparse ftruncate costs no space). HDF5 1.10
 * cannot close a file whose allocation failed ("File too large"): the id
 * stays half-closed and MPI_Finalize then crashes in H5F__close_cb (D10),
 * so such a size must never reach H5Dcreate. */
static int size_preflight(const en_site *s, const fg_ensemble *e)
{
  double need = fg_ensemble_bytes(&e->lay);
  int fd = open(e->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return site_fail(s, -1, "cannot create the file: %s", strerror(errno));
  int rc = FG_OK;
  if (need >= 0x1p63 || ftruncate(fd, (off_t)need) != 0) {
    int saved = need >= 0x1p63 ? EFBIG : errno;
    en_site input = *s;
    input.code = FG_ERR_INPUT;
    rc = site_fail(&input, -1, "a file of %.3g bytes (%" PRId64 " rows of %zu values) is more "
                   "than the file system takes: %s", need, e->lay.n_configs, e->volume,
                   strerror(saved));
  } else if (ftruncate(fd, 0) != 0) {
    rc = site_fail(s, -1, "cannot truncate the file: %s", strerror(errno));
  }
  close(fd);
  if (rc != FG_OK)
    unlink(e->tmp);
  return rc;
}

int fg_ensemble_create(MPI_Comm comm, const char *path, const fg_ensemble_layout *lay,
                       fg_ensemble **out, fg_error *err)
{
  static const char where[] = "fg_ensemble_create [ensemble.c]";
  fg_ensemble *e;
  if (out != NULL)
    *out = NULL;
  int rc = ensemble_begin(comm, path, lay, where, &e, err);
  if (rc != FG_OK)
    return rc;
  en_site s = site_of(e, where, err);
  fg_h5_quiet q;
  fg_h5_quiet_begin(&q);
  rc = agree_e(e, e->rank == 0 ? fg_make_parent_dir(e->path, err) : FG_OK, err);
  if (rc == FG_OK)
    rc = agree_e(e, e->rank == 0 ? size_preflight(&s, e) : FG_OK, err);
  if (rc == FG_OK)
    rc = agree_e(e, file_create(&s, e), err);
  int made = rc == FG_OK;
  for (int i = 0; i < 3 + DS_COUNT && rc == FG_OK; ++i)
    rc = agree_e(e, create_step(&s, e, i), err);
  /* the structure is on disk before any row is: a crash leaves a readable file */
  if (rc == FG_OK)
    rc = agree_e(e, H5Fflush(e->file, H5F_SCOPE_GLOBAL) < 0 ? site_fail(&s, -1, "cannot flush")
                                                            : FG_OK, err);
  if (rc == FG_OK)
    *out = e;
  else
    ensemble_abandon(&s, e, made);
  fg_h5_quiet_end(&q);
  return rc;
}

/* ------------------------------------------------------------ reopen */

static void layout_text(char *buf, size_t size, const fg_ensemble_layout *lay)
{
  int n = snprintf(buf, size, "%s, /configs [%" PRId64 ", %d", kind_name(lay->kind),
                   lay->n_configs, layout_components(lay));
  for (int mu = 0; mu < lay->nd && mu < FG_MAXDIM && n > 0 && (size_t)n < size; ++mu)
    n += snprintf(buf + n, size - (size_t)n, ", %d", lay->extent[mu]);
  if (n > 0 && (size_t)n < size)
    snprintf(buf + n, size - (size_t)n, "], %" PRId64 " chain steps", lay->n_chain);
}

static int layout_equal(const fg_ensemble_layout *a, const fg_ensemble_layout *b)
{
  if (a->kind != b->kind || a->nd != b->nd || a->n_configs != b->n_configs ||
      a->n_chain != b->n_chain || layout_components(a) != layout_components(b))
    return 0;
  for (int mu = 0; mu < a->nd; ++mu)
    if (a->extent[mu] != b->extent[mu])
      return 0;
  return 1;
}

/* Rank 0's look at the file before HDF5 opens it, for plain messages. */
static int reopen_preflight(const en_site *s, const fg_ensemble *e)
{
  struct stat st;
  if (stat(e->tmp, &st) != 0) {
    if (errno != ENOENT)
      return site_fail(s, -1, "%s", strerror(errno));
    if (stat(e->path, &st) == 0)
      return site_fail(s, -1, "no such file: no unfinished run to resume ('%s' is there: "
                              "that run completed)", e->path);
    return site_fail(s, -1, "no such file: no unfinished run to resume");
  }
  if (S_ISDIR(st.st_mode))
    return site_fail(s, -1, "is a folder, not a file");
  if (access(e->tmp, R_OK | W_OK) != 0)
    return site_fail(s, -1, "cannot open for reading and writing: %s", strerror(errno));
  if (H5Fis_hdf5(e->tmp) <= 0)
    return site_fail(s, -1, "not an HDF5 file");
  return FG_OK;
}

static int reopen_check(const en_site *s, fg_ensemble *e)
{
  fg_ensemble_layout have;
  memset(&have, 0, sizeof have);
  double complete = 0;
  int version = 0;
  int rc = check_identity(s, e->file, &have.kind, &complete, &version);
  if (rc == FG_OK && complete != 0)
    rc = site_fail(s, -1, "is marked complete: the run finished but was not renamed to '%s'; "
                          "rename it instead of resuming", e->path);
  if (rc == FG_OK && version != FG_ENSEMBLE_VERSION)
    rc = site_fail(s, -1, "was written by an older flowgen (format_version %d): finish it with "
                          "that version, or start over with --overwrite", version);
  if (rc == FG_OK)
    rc = file_layout(s, e->file, version, &have);
  if (rc == FG_OK && !layout_equal(&have, &e->lay)) {
    char a[160], b[160];
    layout_text(a, sizeof a, &have);
    layout_text(b, sizeof b, &e->lay);
    rc = site_fail(s, -1, "holds (%s), this run needs (%s)", a, b);
  }
  for (int k = 0; k < DS_COUNT && rc == FG_OK; ++k)
    if (ds_present(k, e->lay.kind) && (e->dset[k] = H5Dopen2(e->file, ds_path[k], H5P_DEFAULT)) < 0)
      rc = site_fail(s, -1, "cannot open dataset '/%s'", ds_path[k]);
  return rc;
}

int fg_ensemble_reopen(MPI_Comm comm, const char *path, const fg_ensemble_layout *lay,
                       fg_ensemble **out, fg_error *err)
{
  static const char where[] = "fg_ensemble_reopen [ensemble.c]";
  fg_ensemble *e;
  if (out != NULL)
    *out = NULL;
  int rc = ensemble_begin(comm, path, lay, where, &e, err);
  if (rc != FG_OK)
    return rc;
  en_site s = site_of(e, where, err);
  s.code = FG_ERR_INPUT;
  fg_h5_quiet q;
  fg_h5_quiet_begin(&q);
  rc = agree_e(e, e->rank == 0 ? reopen_preflight(&s, e) : FG_OK, err);
  hid_t fapl = rc == FG_OK ? parallel_access(e->comm) : -1;
  hid_t file = fapl < 0 ? -1 : H5Fopen(e->tmp, H5F_ACC_RDWR, fapl);
  if (fapl >= 0)
    H5Pclose(fapl);
  if (rc == FG_OK && file < 0)
    rc = site_fail(&s, -1, "has an HDF5 signature but cannot be opened read-write "
                           "(truncated or damaged)");
  if (file >= 0)
    rc = open_ids(&s, e, file);
  rc = agree_e(e, rc, err);
  if (rc == FG_OK)
    rc = agree_e(e, reopen_check(&s, e), err);
  if (rc == FG_OK)
    *out = e;
  else
    ensemble_abandon(&s, e, 0);
  fg_h5_quiet_end(&q);
  return rc;
}

/* ----------------------------------------------------------- transfers */

/* One run of rows of this rank, and where its data start in the caller's
 * arrays (in rows). */
typedef struct row_run_s {
  int64_t first, count;
  size_t src;
} row_run;

static int run_cmp(const void *a, const void *b)
{
  int64_t x = ((const row_run *)a)->first, y = ((const row_run *)b)->first;
  return (x > y) - (x < y);
}

/* Checks this rank's runs and sorts the non-empty ones by first row: HDF5
 * maps a union of hyperslabs to memory in file order, so data given in
 * another order must be gathered first (*inorder = 0). */
static int plan_runs(const en_site *s, const fg_ensemble *e, int nruns, const int64_t *first,
                     const int64_t *count, row_run **runs, int *nr, size_t *rows, int *inorder)
{
  int64_t n = e->lay.n_configs;
  *runs = NULL;
  *nr = 0;
  *rows = 0;
  *inorder = 1;
  if (nruns < 0 || (nruns > 0 && (first == NULL || count == NULL)))
    return site_fail(s, -1, "write_rows: %d runs with%s first/count arrays", nruns,
                     nruns > 0 ? "out" : "");
  for (int k = 0; k < nruns; ++k)
    if (first[k] < 0 || count[k] < 0 || first[k] > n - count[k])
      return site_fail(s, -1, "write_rows: run %d, rows [%" PRId64 ", %" PRId64 " + %" PRId64
                       "), is outside /configs [0, %" PRId64 ")", k, first[k], first[k],
                       count[k], n);
  if ((*runs = fg_alloc((size_t)nruns * sizeof **runs, s->err, s->where)) == NULL)
    return FG_ERR_RUNTIME;
  for (int k = 0; k < nruns; ++k) {
    if (count[k] == 0)
      continue;
    row_run r = {first[k], count[k], *rows};
    (*runs)[(*nr)++] = r;
    *rows += (size_t)count[k]; /* no overflow: each count <= n, and n rows fit in memory */
    if (*rows > (size_t)n)
      return site_fail(s, -1, "write_rows: the runs hold more rows than /configs");
  }
  qsort(*runs, (size_t)*nr, sizeof **runs, run_cmp);
  for (int k = 1; k < *nr; ++k) {
    const row_run *a = &(*runs)[k - 1], *b = &(*runs)[k];
    if (a->first + a->count > b->first)
      return site_fail(s, -1, "write_rows: runs [%" PRId64 ", +%" PRId64 ") and [%" PRId64
                       ", +%" PRId64 ") overlap", a->first, a->count, b->first, b->count);
    if (a->src > b->src)
      *inorder = 0;
  }
  return FG_OK;
}

/* The checksums of the rows as given (row r: configs + r * V, action[r]). */
static void row_checksums(const fg_ensemble *e, const double *configs, const double *action,
                          size_t rows, uint64_t *out)
{
  for (size_t r = 0; r < rows; ++r)
    out[r] = fg_ensemble_row_checksum(configs + r * e->volume, e->volume, action[r]);
}

/* gather (below) for one uint64 per row. */
static void gather_u64(const uint64_t *src, const struct row_run_s *runs, int nr, uint64_t *dst);

/* Copies the runs' data, width values per row, into dst in file order. */
static void gather(const double *src, size_t width, const row_run *runs, int nr, double *dst)
{
  for (int k = 0; k < nr; ++k) {
    size_t n = (size_t)runs[k].count * width;
    memcpy(dst, src + runs[k].src * width, n * sizeof *dst);
    dst += n;
  }
}

static void gather_u64(const uint64_t *src, const row_run *runs, int nr, uint64_t *dst)
{
  for (int k = 0; k < nr; ++k) {
    memcpy(dst, src + runs[k].src, (size_t)runs[k].count * sizeof *dst);
    dst += runs[k].count;
  }
}

/* The runs (sorted, disjoint) as regular patterns: adjacent runs merged,
 * then equal runs at a constant stride folded into one strided hyperslab.
 * Rows interleaved over ranks, or batches dealt round-robin, become one
 * pattern per rank, which HDF5 and MPI-IO handle as one vector type. */
typedef struct {
  hsize_t start, stride, count, block;
} row_pattern;

static int runs_to_patterns(const row_run *runs, int nr, row_pattern *out)
{
  int np = 0;
  for (int k = 0; k < nr;) {
    hsize_t a = (hsize_t)runs[k].first, len = (hsize_t)runs[k].count;
    for (++k; k < nr && (hsize_t)runs[k].first == a + len; ++k)
      len += (hsize_t)runs[k].count;
    row_pattern *p = np > 0 ? &out[np - 1] : NULL;
    if (p != NULL && p->block == len && (p->count == 1 || a == p->start + p->count * p->stride)) {
      if (p->count == 1)
        p->stride = a - p->start; /* > block: adjacent runs were merged above */
      ++p->count;
    } else {
      row_pattern q = {a, 1, 1, len};
      out[np++] = q;
    }
  }
  return np;
}

/* A copy of base with the union of patterns [lo, hi) selected. Halves are
 * joined pairwise: HDF5 1.10's H5S_SELECT_OR costs the size of what is
 * already selected, so adding thousands of pieces one by one is quadratic
 * (minutes for 20000 rows), joining halves n log n. */
static hid_t select_patterns(hid_t base, int rank, const hsize_t *dims, const row_pattern *p,
                             int lo, int hi)
{
  if (hi - lo == 1) {
    hsize_t start[H5S_MAX_RANK] = {0}, stride[H5S_MAX_RANK], count[H5S_MAX_RANK],
            block[H5S_MAX_RANK];
    for (int i = 0; i < rank; ++i) {
      stride[i] = count[i] = 1;
      block[i] = dims[i];
    }
    start[0] = p[lo].start;
    stride[0] = p[lo].stride;
    count[0] = p[lo].count;
    block[0] = p[lo].block;
    hid_t s = H5Scopy(base);
    if (s >= 0 && H5Sselect_hyperslab(s, H5S_SELECT_SET, start, stride, count, block) < 0) {
      H5Sclose(s);
      return -1;
    }
    return s;
  }
  int mid = lo + (hi - lo) / 2;
  hid_t a = select_patterns(base, rank, dims, p, lo, mid);
  hid_t b = a < 0 ? -1 : select_patterns(base, rank, dims, p, mid, hi);
  herr_t st = b < 0 ? -1 : H5Smodify_select(a, H5S_SELECT_OR, b);
  if (b >= 0)
    H5Sclose(b);
  if (st < 0 && a >= 0) {
    H5Sclose(a);
    return -1;
  }
  return a;
}

/* The file dataspace of dataset k with the patterns' rows selected (none
 * when np == 0: the rank still takes part in the collective call). */
static hid_t select_rows(const fg_ensemble *e, int k, const row_pattern *p, int np)
{
  int rank;
  hsize_t dims[H5S_MAX_RANK];
  layout_dims(&e->lay, k, &rank, dims);
  hid_t space = H5Dget_space(e->dset[k]);
  if (space < 0 || np == 0) {
    if (space >= 0 && H5Sselect_none(space) < 0) {
      H5Sclose(space);
      return -1;
    }
    return space;
  }
  hid_t sel = select_patterns(space, rank, dims, p, 0, np);
  H5Sclose(space);
  return sel;
}

/* A 1-D memory dataspace of n values (nothing selected when n == 0). */
static hid_t memory_space(size_t n)
{
  hsize_t dim = n > 0 ? (hsize_t)n : 1;
  hid_t space = H5Screate_simple(1, &dim, NULL);
  if (space >= 0 && n == 0 && H5Sselect_none(space) < 0) {
    H5Sclose(space);
    return -1;
  }
  return space;
}

/* One collective transfer of dataset k; records whether HDF5 kept it
 * collective. buf is written from, or read into when reading. */
static int transfer(const en_site *s, fg_ensemble *e, int k, int reading, hid_t mspace,
                    hid_t fspace, const void *buf)
{
  hid_t ftype, mtype;
  ds_types(k, &ftype, &mtype);
  int rank;
  hsize_t dims[H5S_MAX_RANK];
  layout_dims(&e->lay, k, &rank, dims);
  /* an empty dataset has no storage to transfer to (every rank knows) */
  if (dims[0] == 0)
    return FG_OK;
  uint64_t dummy = 0;
  if (buf == NULL) /* an empty selection still needs a buffer */
    buf = &dummy;
  herr_t st = reading ? H5Dread(e->dset[k], mtype, mspace, fspace, e->dxpl, (void *)buf)
                      : H5Dwrite(e->dset[k], mtype, mspace, fspace, e->dxpl, buf);
  H5D_mpio_actual_io_mode_t mode;
  if (st >= 0 && H5Pget_mpio_actual_io_mode(e->dxpl, &mode) >= 0) {
    if (mode == H5D_MPIO_NO_COLLECTIVE)
      ++e->io_independent;
    else
      ++e->io_collective;
  }
  return st < 0 ? site_fail(s, -1, "cannot %s dataset '/%s'", reading ? "read" : "write",
                            ds_path[k])
                : FG_OK;
}

static int rows_arrays_given(const en_site *s, const fg_ensemble *e, size_t rows,
                             const double *const *data)
{
  for (int k = DS_CONFIGS; k <= DS_LOGW; ++k)
    if (rows > 0 && ds_present(k, e->lay.kind) && data[k] == NULL)
      return site_fail(s, -1, "write_rows: %zu rows but no data for '/%s'", rows, ds_path[k]);
  return FG_OK;
}

/* Selections for /configs ([0]) and the 1-D proposal sets ([1], which share
 * their extent), file and memory side. */
static int rows_selections(const en_site *s, const fg_ensemble *e, const row_run *runs, int nr,
                           size_t rows, hid_t *fspace, hid_t *mspace)
{
  row_pattern *p = fg_alloc((size_t)nr * sizeof *p, s->err, s->where);
  if (p == NULL)
    return FG_ERR_RUNTIME;
  int np = runs_to_patterns(runs, nr, p);
  fspace[0] = select_rows(e, DS_CONFIGS, p, np);
  fspace[1] = select_rows(e, DS_ACTION, p, np);
  fg_free(p);
  mspace[0] = memory_space(rows * e->volume);
  mspace[1] = memory_space(rows);
  for (int j = 0; j < 2; ++j)
    if (fspace[j] < 0 || mspace[j] < 0)
      return site_fail(s, -1, "cannot select the rows to write");
  return FG_OK;
}

static void spaces_close(hid_t *spaces, int n)
{
  for (int j = 0; j < n; ++j)
    if (spaces[j] >= 0)
      H5Sclose(spaces[j]);
}

int fg_ensemble_write_rows(fg_ensemble *e, int nruns, const int64_t *first, const int64_t *count,
                           const double *configs, const double *logq, const double *action,
                           const double *logw, fg_error *err)
{
  static const char where[] = "fg_ensemble_write_rows [ensemble.c]";
  if (e == NULL)
    return fg_fail(err, FG_ERR_RUNTIME, where, "no ensemble");
  en_site s = site_of(e, where, err);
  fg_h5_quiet q;
  fg_h5_quiet_begin(&q);
  const double *data[DS_LOGW + 1] = {configs, logq, action, logw};
  row_run *runs = NULL;
  double *stage = NULL;
  uint64_t *sums = NULL, *sums_stage = NULL;
  hid_t fspace[2] = {-1, -1}, mspace[2] = {-1, -1};
  int nr = 0, inorder = 1;
  size_t rows = 0;
  int rc = plan_runs(&s, e, nruns, first, count, &runs, &nr, &rows, &inorder);
  if (rc == FG_OK)
    rc = rows_arrays_given(&s, e, rows, data);
  if (rc == FG_OK && !inorder &&
      (stage = fg_alloc(rows * e->volume * sizeof *stage, err, where)) == NULL)
    rc = FG_ERR_RUNTIME;
  /* each row's checksum is made here, by the rank that holds the row */
  if (rc == FG_OK && rows > 0 && (sums = fg_alloc(rows * sizeof *sums, err, where)) == NULL)
    rc = FG_ERR_RUNTIME;
  if (rc == FG_OK && rows > 0)
    row_checksums(e, configs, action, rows, sums);
  if (rc == FG_OK && !inorder && rows > 0) {
    if ((sums_stage = fg_alloc(rows * sizeof *sums_stage, err, where)) == NULL)
      rc = FG_ERR_RUNTIME;
    else
      gather_u64(sums, runs, nr, sums_stage);
  }
  if (rc == FG_OK)
    rc = rows_selections(&s, e, runs, nr, rows, fspace, mspace);
  rc = agree_e(e, rc, err);
  for (int k = DS_CONFIGS; k <= DS_LOGW && rc == FG_OK; ++k) {
    if (!ds_present(k, e->lay.kind))
      continue;
    const double *buf = data[k];
    if (stage != NULL) {
      gather(buf, k == DS_CONFIGS ? e->volume : 1, runs, nr, stage);
      buf = stage;
    }
    int j = k == DS_CONFIGS ? 0 : 1;
    rc = agree_e(e, transfer(&s, e, k, 0, mspace[j], fspace[j], buf), err);
  }
  if (rc == FG_OK) /* the 1-D proposal sets share their selections */
    rc = agree_e(e, transfer(&s, e, DS_CHECKSUM, 0, mspace[1], fspace[1],
                             sums_stage != NULL ? sums_stage : sums), err);
  spaces_close(fspace, 2);
  spaces_close(mspace, 2);
  fg_free(sums);
  fg_free(sums_stage);
  fg_free(stage);
  fg_free(runs);
  fg_h5_quiet_end(&q);
  return rc;
}

/* Checks first/count (and root) are the same on every rank and inside
 * [0, n); what: the dataset named in messages. */
static int range_agreed(const en_site *s, const fg_ensemble *e, int64_t first, int64_t count,
                        int root, int64_t n, const char *what)
{
  int64_t v[3] = {first, count, root};
  int same = 1;
  for (int i = 0; i < 3; ++i)
    if (v[i] == INT64_MIN)
      v[i] = INT64_MIN + 1;
  if (same_on_all(e->comm, v, 3, &same) != 0)
    return site_fail(s, -1, "MPI_Allreduce failed");
  if (!same)
    return site_fail(s, -1, "the ranks passed different first, count or root for '/%s'", what);
  if (root < 0 || root >= e->size)
    return site_fail(s, -1, "root rank %d is outside 0..%d", root, e->size - 1);
  if (first < 0 || count < 0 || first > n - count)
    return site_fail(s, -1, "[%" PRId64 ", %" PRId64 " + %" PRId64 ") is outside '/%s' [0, %"
                     PRId64 ")", first, first, count, what, n);
  return FG_OK;
}

int fg_ensemble_write_chain(fg_ensemble *e, int64_t first, int64_t count, const int64_t *index,
                            const uint8_t *accepted, int root, fg_error *err)
{
  static const char where[] = "fg_ensemble_write_chain [ensemble.c]";
  if (e == NULL)
    return fg_fail(err, FG_ERR_RUNTIME, where, "no ensemble");
  en_site s = site_of(e, where, err);
  fg_h5_quiet q;
  fg_h5_quiet_begin(&q);
  int mine = e->rank == root;
  row_pattern run = {(hsize_t)first, 1, 1, (hsize_t)count};
  hid_t fspace = -1, mspace = -1;
  int rc = range_agreed(&s, e, first, count, root, e->lay.n_chain, "chain");
  if (rc == FG_OK && mine && count > 0 && (index == NULL || accepted == NULL))
    rc = site_fail(&s, -1, "write_chain: %" PRId64 " steps but no index or accepted array", count);
  if (rc == FG_OK) {
    /* the 1-D chain sets share their extent */
    fspace = select_rows(e, DS_INDEX, &run, mine && count > 0);
    mspace = memory_space(mine ? (size_t)count : 0);
    if (fspace < 0 || mspace < 0)
      rc = site_fail(&s, -1, "cannot select the chain steps to write");
  }
  rc = agree_e(e, rc, err);
  if (rc == FG_OK)
    rc = agree_e(e, transfer(&s, e, DS_INDEX, 0, mspace, fspace, mine ? index : NULL), err);
  if (rc == FG_OK)
    rc = agree_e(e, transfer(&s, e, DS_ACCEPTED, 0, mspace, fspace, mine ? accepted : NULL), err);
  spaces_close(&fspace, 1);
  spaces_close(&mspace, 1);
  fg_h5_quiet_end(&q);
  return rc;
}

int fg_ensemble_read_rows(fg_ensemble *e, int64_t first, int64_t count, double *configs,
                          fg_error *err)
{
  static const char where[] = "fg_ensemble_read_rows [ensemble.c]";
  if (e == NULL)
    return fg_fail(err, FG_ERR_RUNTIME, where, "no ensemble");
  en_site s = site_of(e, where, err);
  fg_h5_quiet q;
  fg_h5_quiet_begin(&q);
  row_pattern run = {(hsize_t)first, 1, 1, (hsize_t)count};
  hid_t fspace = -1, mspace = -1;
  int rc = range_agreed(&s, e, first, count, 0, e->lay.n_configs, "configs");
  if (rc == FG_OK && count > 0 && configs == NULL)
    rc = site_fail(&s, -1, "read_rows: no buffer for %" PRId64 " rows", count);
  if (rc == FG_OK) {
    fspace = select_rows(e, DS_CONFIGS, &run, count > 0);
    mspace = memory_space((size_t)count * e->volume);
    if (fspace < 0 || mspace < 0)
      rc = site_fail(&s, -1, "cannot select the rows to read");
  }
  rc = agree_e(e, rc, err);
  if (rc == FG_OK)
    rc = agree_e(e, transfer(&s, e, DS_CONFIGS, 1, mspace, fspace, configs), err);
  spaces_close(&fspace, 1);
  spaces_close(&mspace, 1);
  fg_h5_quiet_end(&q);
  return rc;
}

/* ---------------------------------------------------------- attributes */

enum { VALUE_DOUBLE, VALUE_INT64, VALUE_TEXT };

static int name_reserved(const char *name)
{
  static const char *const reserved[] = {"format", "format_version", "kind", "complete"};
  for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; ++i)
    if (strcmp(name, reserved[i]) == 0)
      return 1;
  return 0;
}

/* What rank 0 sends to all: the name and the value (text: its length). */
typedef struct {
  char name[256];
  double number;
  int64_t integer;
  int64_t text_len; /* -1: rank 0's arguments are unusable */
} attr_message;

static void attr_message_fill(attr_message *m, const char *name, int kind, const void *value)
{
  memset(m, 0, sizeof *m);
  m->text_len = -1;
  if (name == NULL || name[0] == '\0' || strlen(name) >= sizeof m->name ||
      (kind == VALUE_TEXT && value == NULL))
    return;
  memcpy(m->name, name, strlen(name) + 1);
  if (kind == VALUE_DOUBLE)
    m->number = *(const double *)value;
  else if (kind == VALUE_INT64)
    m->integer = *(const int64_t *)value;
  m->text_len = kind == VALUE_TEXT ? (int64_t)strlen(value) : 0;
}

/* Rank 0's text of length len on every rank (*text: rank 0's own pointer,
 * elsewhere a fresh buffer in *owned). */
static int text_broadcast(const en_site *s, fg_ensemble *e, int64_t len, const char **text,
                          char **owned)
{
  *owned = NULL;
  int rc = FG_OK;
  if (e->rank != 0 && (*owned = fg_alloc((size_t)len + 1, s->err, s->where)) == NULL)
    rc = FG_ERR_RUNTIME;
  if ((rc = agree_e(e, rc, s->err)) != FG_OK)
    return rc;
  if (e->rank != 0)
    *text = *owned;
  /* a string longer than INT_MAX bytes is no attribute anyone wants */
  if (len > INT_MAX)
    return site_fail(s, -1, "a string attribute of %" PRId64 " bytes is too long", len);
  if (MPI_Bcast((void *)*text, (int)len + 1, MPI_CHAR, 0, e->comm) != MPI_SUCCESS)
    return site_fail(s, -1, "MPI_Bcast failed");
  return FG_OK;
}

/* Writes rank 0's name and value as a scalar root attribute on every rank. */
static int root_attr_set(fg_ensemble *e, const char *where, const char *name, int kind,
                         const void *value, fg_error *err)
{
  if (e == NULL)
    return fg_fail(err, FG_ERR_RUNTIME, where, "no ensemble");
  en_site s = site_of(e, where, err);
  attr_message m;
  attr_message_fill(&m, name, kind, value);
  if (MPI_Bcast(&m, (int)sizeof m, MPI_BYTE, 0, e->comm) != MPI_SUCCESS)
    return agree_e(e, site_fail(&s, -1, "MPI_Bcast failed"), err);
  if (m.text_len < 0)
    return site_fail(&s, -1, "attribute name (1..%zu bytes) or value missing", sizeof m.name - 1);
  if (name_reserved(m.name))
    return site_fail(&s, -1, "attribute '%s' is reserved", m.name);
  fg_h5_quiet q;
  fg_h5_quiet_begin(&q);
  int rc;
  if (kind == VALUE_TEXT) {
    const char *text = value;
    char *owned;
    rc = text_broadcast(&s, e, m.text_len, &text, &owned);
    if (rc == FG_OK)
      rc = agree_e(e, attr_put_text(&s, e->file, m.name, text), err);
    fg_free(owned);
  } else if (kind == VALUE_INT64) {
    rc = agree_e(e, attr_put(&s, e->file, m.name, H5T_STD_I64LE, H5T_NATIVE_INT64, &m.integer),
                 err);
  } else {
    rc = agree_e(e, attr_put_double(&s, e->file, m.name, m.number), err);
  }
  fg_h5_quiet_end(&q);
  return rc;
}

int fg_ensemble_set_progress(fg_ensemble *e, const char *name, double value, fg_error *err)
{
  return root_attr_set(e, "fg_ensemble_set_progress [ensemble.c]", name, VALUE_DOUBLE, &value,
                       err);
}

int fg_ensemble_set_attr_double(fg_ensemble *e, const char *name, double value, fg_error *err)
{
  return root_attr_set(e, "fg_ensemble_set_attr_double [ensemble.c]", name, VALUE_DOUBLE, &value,
                       err);
}

int fg_ensemble_set_attr_int64(fg_ensemble *e, const char *name, int64_t value, fg_error *err)
{
  return root_attr_set(e, "fg_ensemble_set_attr_int64 [ensemble.c]", name, VALUE_INT64, &value,
                       err);
}

int fg_ensemble_set_attr_string(fg_ensemble *e, const char *name, const char *value,
                                fg_error *err)
{
  return root_attr_set(e, "fg_ensemble_set_attr_string [ensemble.c]", name, VALUE_TEXT, value,
                       err);
}

/* One root attribute read on every rank (a number, or with is_text a string
 * the caller frees); the ranks agree on the status. */
static int root_attr_get(fg_ensemble *e, const char *where, const char *name, int is_text,
                         char **text, double *value, fg_error *err)
{
  if (e == NULL)
    return fg_fail(err, FG_ERR_RUNTIME, where, "no ensemble");
  en_site s = site_of(e, where, err);
  s.code = FG_ERR_INPUT;
  fg_h5_quiet q;
  fg_h5_quiet_begin(&q);
  int rc = name == NULL || (is_text ? text == NULL : value == NULL)
               ? site_fail(&s, -1, is_text ? "no name or no place for the text"
                                           : "no name or no place for the value")
               : attr_get(&s, e->file, name, is_text, text, value);
  rc = agree_e(e, rc, err);
  if (rc != FG_OK && text != NULL) {
    fg_free(*text);
    *text = NULL;
  }
  fg_h5_quiet_end(&q);
  return rc;
}

int fg_ensemble_get_progress(fg_ensemble *e, const char *name, double *value, fg_error *err)
{
  return root_attr_get(e, "fg_ensemble_get_progress [ensemble.c]", name, 0, NULL, value, err);
}

int fg_ensemble_get_attr_string(fg_ensemble *e, const char *name, char **text, fg_error *err)
{
  if (text != NULL)
    *text = NULL;
  return root_attr_get(e, "fg_ensemble_get_attr_string [ensemble.c]", name, 1, text, NULL, err);
}

/* The theory's name and named couplings, as root attributes. */
int fg_ensemble_set_theory(fg_ensemble *e, const fg_theory *t, fg_error *err)
{
  int rc = fg_ensemble_set_attr_string(e, "theory", fg_theory_label(t), err);
  fg_coupling g[FG_MAX_COUPLINGS];
  int ng = fg_theory_named_couplings(t, g);
  for (int k = 0; k < ng && rc == FG_OK; ++k)
    rc = fg_ensemble_set_attr_double(e, g[k].name, g[k].value, err);
  return rc;
}

/* The run identity a resume must keep: the config the interrupted run
 * stored, against the one given, over the sections `what`. */
int fg_ensemble_check_identity(fg_ensemble *e, const fg_config *cfg, unsigned what,
                               fg_error *err)
{
  char *text = NULL;
  int rc = fg_ensemble_get_attr_string(e, "config", &text, err);
  if (rc == FG_OK) {
    fg_config stored;
    memset(&stored, 0, sizeof stored);
    fg_error perr = {0};
    if (fg_config_parse(text, strlen(text), NULL, &stored, &perr) != FG_OK)
      rc = fg_fail(err, FG_ERR_INPUT, "fg_ensemble_check_identity [ensemble.c]",
                   "%s: cannot resume: its 'config' attribute does not parse: %s", e->tmp,
                   perr.msg);
    else
      rc = fg_config_check_resume(&stored, cfg, what, e->tmp, err);
    fg_config_free(&stored);
  }
  fg_free(text);
  return rc;
}

/* ------------------------------------------------------------ sizes */

double fg_ensemble_bytes(const fg_ensemble_layout *lay)
{
  double values = (double)layout_components(lay);
  for (int mu = 0; mu < lay->nd && mu < FG_MAXDIM; ++mu)
    values *= (double)lay->extent[mu];
  /* /configs, then logq, action, logw and checksum per row, index and accepted per step */
  double per_row = 8.0 * values + 8.0 * (lay->kind == FG_ENSEMBLE_FLOW ? 4 : 2);
  return (double)lay->n_configs * per_row + 9.0 * (double)lay->n_chain + 65536.0;
}

int fg_ensemble_check_space(const char *path, const fg_ensemble_layout *lay, const char *what,
                            fg_error *err)
{
  static const char where[] = "fg_ensemble_check_space [ensemble.c]";
  double need = fg_ensemble_bytes(lay);
  /* the nearest folder that exists: the run makes the rest */
  size_t n = strlen(path);
  char *dir = fg_alloc(n + 2, err, where);
  if (dir == NULL)
    return FG_ERR_RUNTIME;
  memcpy(dir, path, n + 1);
  struct statvfs fs;
  int ok = -1;
  for (;;) {
    char *slash = strrchr(dir, '/');
    if (slash == NULL) {
      snprintf(dir, n + 2, ".");
    } else if (slash == dir) {
      dir[1] = '\0';
    } else {
      *slash = '\0';
    }
    if ((ok = statvfs(dir, &fs)) == 0 || (errno != ENOENT && errno != ENOTDIR) ||
        strcmp(dir, ".") == 0 || strcmp(dir, "/") == 0)
      break;
  }
  int rc = FG_OK;
  if (ok == 0) {
    double avail = (double)fs.f_bavail * (double)fs.f_frsize;
    /* 2^62 bytes: beyond any file system; the real per-file limit is the
     * ensemble layer's sparse-ftruncate check at creation */
    if (need > avail || need > 0x1p62)
      rc = fg_fail(err, FG_ERR_INPUT, where,
                   "%s: the ensemble '%s' would need about %.3g bytes (%.3g GiB), but the file "
                   "system of '%s' has %.3g bytes free: lower it or choose another output",
                   what, path, need, need / 0x1p30, dir, avail);
  }
  fg_free(dir);
  return rc;
}

/* ------------------------------------------------------- flush, close */

int fg_ensemble_flush(fg_ensemble *e, fg_error *err)
{
  static const char where[] = "fg_ensemble_flush [ensemble.c]";
  if (e == NULL)
    return fg_fail(err, FG_ERR_RUNTIME, where, "no ensemble");
  en_site s = site_of(e, where, err);
  fg_h5_quiet q;
  fg_h5_quiet_begin(&q);
  int rc = H5Fflush(e->file, H5F_SCOPE_GLOBAL) < 0 ? site_fail(&s, -1, "cannot flush") : FG_OK;
  rc = agree_e(e, rc, err);
  fg_h5_quiet_end(&q);
  return rc;
}

/* Rank 0, after every rank closed the file: makes it durable, then gives
 * it its final name (a crash leaves the .tmp or the complete file, never a
 * torn file under path), then makes the rename durable (best effort). */
static int commit_file(const en_site *s, const fg_ensemble *e)
{
  int fd = open(e->tmp, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fsync(fd) != 0) {
    int saved = errno;
    if (fd >= 0)
      close(fd);
    return site_fail(s, -1, "cannot sync it to disk: %s", strerror(saved));
  }
  close(fd);
  if (rename(e->tmp, e->path) != 0)
    return site_fail(s, -1, "cannot rename it to '%s': %s", e->path, strerror(errno));
  const char *slash = strrchr(e->path, '/');
  char dir[FG_PATH_MAX];
  snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - e->path) + 1 : 1, slash ? e->path : ".");
  if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
    (void)fsync(fd);
    close(fd);
  }
  return FG_OK;
}

int fg_ensemble_close(fg_ensemble *e, int complete, fg_error *err)
{
  static const char where[] = "fg_ensemble_close [ensemble.c]";
  if (e == NULL)
    return FG_OK;
  en_site s = site_of(e, where, err);
  fg_h5_quiet q;
  fg_h5_quiet_begin(&q);
  int rc = FG_OK;
  if (complete)
    rc = agree_e(e, attr_put_double(&s, e->file, "complete", 1.0), err);
  /* the first failure is the one reported: later ones go to scratch */
  fg_error scratch;
  en_site later = s;
  if (rc != FG_OK)
    later.err = &scratch;
  int rc2 = agree_e(e, close_ids(&later, e), later.err);
  if (rc == FG_OK)
    rc = rc2;
  if (rc == FG_OK && complete)
    rc = agree_e(e, e->rank == 0 ? commit_file(&s, e) : FG_OK, err);
  fg_h5_quiet_end(&q);
  ensemble_free(e);
  return rc;
}

void fg_ensemble_io_counts(const fg_ensemble *e, int64_t *collective, int64_t *independent)
{
  *collective = e ? e->io_collective : 0;
  *independent = e ? e->io_independent : 0;
}

/* ------------------------------------------------------------- reading */

/* Existence and signature, then HDF5's serial driver: what tells a missing,
 * unreadable or non-HDF5 file apart, each with its own message. */
static int open_for_reading(const en_site *s, hid_t *file)
{
  struct stat st;
  *file = -1;
  if (stat(s->path, &st) != 0) {
    int missing = errno == ENOENT;
    char tmp[FG_PATH_MAX + 8];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp", s->path);
    if (missing && n > 0 && (size_t)n < sizeof tmp && stat(tmp, &st) == 0)
      return site_fail(s, -1, "no such file (an unfinished run left '%s': resume that run "
                              "with --resume)", tmp);
    return site_fail(s, -1, "%s", missing ? "no such file" : strerror(errno));
  }
  if (S_ISDIR(st.st_mode))
    return site_fail(s, -1, "is a folder, not a file");
  if (access(s->path, R_OK) != 0)
    return site_fail(s, -1, "cannot read: %s", strerror(errno));
  if (H5Fis_hdf5(s->path) <= 0)
    return site_fail(s, -1, "not an HDF5 file");
  hid_t fapl = fg_h5_read_access();
  *file = fapl < 0 ? -1 : H5Fopen(s->path, H5F_ACC_RDONLY, fapl);
  if (fapl >= 0)
    H5Pclose(fapl);
  if (*file < 0)
    return site_fail(s, -1, "has an HDF5 signature but cannot be opened (truncated or damaged)");
  return FG_OK;
}

/* Reads every present dataset whole into fresh buffers. */
static int read_arrays(const en_site *s, hid_t file, fg_ensemble_data *d)
{
  void **dst[DS_COUNT] = {(void **)&d->configs, (void **)&d->logq, (void **)&d->action,
                          (void **)&d->logw, (void **)&d->chain_index,
                          (void **)&d->chain_accepted, (void **)&d->checksum};
  for (int k = 0; k < DS_COUNT; ++k) {
    if (!ds_present_v(k, d->layout.kind, d->format_version))
      continue;
    int rank;
    hsize_t dims[H5S_MAX_RANK];
    hid_t ftype, mtype;
    layout_dims(&d->layout, k, &rank, dims);
    ds_types(k, &ftype, &mtype);
    size_t n = k == DS_CONFIGS ? (size_t)dims[0] * (size_t)d->volume : (size_t)dims[0];
    if ((*dst[k] = fg_alloc(n * H5Tget_size(mtype), s->err, s->where)) == NULL)
      return FG_ERR_RUNTIME;
    hid_t dset = H5Dopen2(file, ds_path[k], H5P_DEFAULT);
    herr_t st = dset < 0 ? -1 : H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, *dst[k]);
    if (dset >= 0)
      H5Dclose(dset);
    if (st < 0)
      return site_fail(s, -1, "cannot read dataset '/%s' as numbers", ds_path[k]);
  }
  return FG_OK;
}

static int check_chain(const en_site *s, const fg_ensemble_data *d)
{
  for (int64_t i = 0; i < d->layout.n_chain; ++i)
    if (d->chain_index[i] < 0 || d->chain_index[i] >= d->layout.n_configs)
      return site_fail(s, -1, "chain step %" PRId64 " holds row %" PRId64
                       ", outside /configs [0, %" PRId64 ")", i, d->chain_index[i],
                       d->layout.n_configs);
  return FG_OK;
}

/* H5Aiterate2's walk over the root attributes: counts them when list is
 * NULL, else stores the strings and numbers of one value. */
typedef struct {
  const en_site *s;
  fg_ensemble_attr *list;
  int n, cap, rc;
} attr_walk;

static herr_t attr_visit(hid_t loc, const char *name, const H5A_info_t *info, void *op)
{
  (void)info;
  attr_walk *w = op;
  if (w->list == NULL || w->n >= w->cap) {
    w->n += w->list == NULL;
    return 0;
  }
  hid_t attr = H5Aopen(loc, name, H5P_DEFAULT), type = -1;
  H5T_class_t cls = H5T_NO_CLASS;
  int one = attr < 0 ? 0 : attr_shape(attr, &cls, &type);
  fg_ensemble_attr *a = &w->list[w->n];
  if (attr < 0)
    w->rc = site_fail(w->s, -1, "cannot open attribute '%s'", name);
  else if (one && (cls == H5T_STRING || cls == H5T_INTEGER || cls == H5T_FLOAT)) {
    if ((a->name = fg_alloc(strlen(name) + 1, w->s->err, w->s->where)) == NULL)
      w->rc = FG_ERR_RUNTIME;
    else
      memcpy(a->name, name, strlen(name) + 1);
    a->is_string = cls == H5T_STRING;
    if (w->rc == FG_OK && a->is_string)
      w->rc = attr_text(w->s, loc, name, attr, type, &a->text);
    else if (w->rc == FG_OK && H5Aread(attr, H5T_NATIVE_DOUBLE, &a->value) < 0)
      w->rc = site_fail(w->s, -1, "attribute '%s' cannot be read as a number", name);
    w->n += a->name != NULL; /* counted even on failure: its name must be freed */
  }
  if (type >= 0)
    H5Tclose(type);
  if (attr >= 0)
    H5Aclose(attr);
  return w->rc == FG_OK ? 0 : -1;
}

/* Creation order where the file tracks it (flowgen's do), else name order. */
static H5_index_t attr_order(hid_t file)
{
  hid_t root = H5Gopen2(file, "/", H5P_DEFAULT);
  hid_t gcpl = root < 0 ? -1 : H5Gget_create_plist(root);
  unsigned flags = 0;
  if (gcpl < 0 || H5Pget_attr_creation_order(gcpl, &flags) < 0)
    flags = 0;
  if (gcpl >= 0)
    H5Pclose(gcpl);
  if (root >= 0)
    H5Gclose(root);
  return flags & H5P_CRT_ORDER_TRACKED ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
}

static int read_attrs(const en_site *s, hid_t file, fg_ensemble_data *d)
{
  H5_index_t order = attr_order(file);
  attr_walk w = {s, NULL, 0, 0, FG_OK};
  if (H5Aiterate2(file, order, H5_ITER_INC, NULL, attr_visit, &w) < 0)
    return site_fail(s, -1, "cannot list the root attributes");
  w.cap = w.n;
  w.n = 0;
  if ((w.list = fg_alloc((size_t)w.cap * sizeof *w.list, s->err, s->where)) == NULL)
    return FG_ERR_RUNTIME;
  herr_t st = H5Aiterate2(file, order, H5_ITER_INC, NULL, attr_visit, &w);
  d->attrs = w.list;
  d->nattrs = w.n;
  if (w.rc != FG_OK)
    return w.rc;
  return st < 0 ? site_fail(s, -1, "cannot list the root attributes") : FG_OK;
}

/* Every row's stored checksum against the one its bytes give now; the
 * first bad row is named, with the number of bad rows. */
static int check_checksums(const en_site *s, const fg_ensemble_data *d)
{
  int64_t bad = 0, first_bad = -1;
  for (int64_t r = 0; r < d->layout.n_configs; ++r) {
    uint64_t c = fg_ensemble_row_checksum(d->configs + (size_t)r * (size_t)d->volume,
                                          (size_t)d->volume, d->action[r]);
    if (c != d->checksum[r] && bad++ == 0)
      first_bad = r;
  }
  if (bad == 0)
    return FG_OK;
  return site_fail(s, -1, "row %" PRId64 " is damaged: its checksum (/proposals/checksum) does "
                   "not match its configuration and action (%" PRId64 " of %" PRId64 " rows "
                   "fail)", first_bad, bad, d->layout.n_configs);
}

static int load_file(const en_site *s, hid_t file, fg_ensemble_data *d)
{
  double complete = 0;
  size_t volume = 0;
  int rc = check_identity(s, file, &d->layout.kind, &complete, &d->format_version);
  if (rc == FG_OK && complete != 1)
    rc = site_fail(s, -1, "is incomplete (complete = %g): the run that wrote it did not finish",
                   complete);
  if (rc == FG_OK)
    rc = file_layout(s, file, d->format_version, &d->layout);
  if (rc == FG_OK)
    rc = layout_check(s, &d->layout, &volume);
  d->volume = (int)volume;
  if (rc == FG_OK)
    rc = read_arrays(s, file, d);
  if (rc == FG_OK && d->checksum != NULL)
    rc = check_checksums(s, d);
  if (rc == FG_OK)
    rc = check_chain(s, d);
  if (rc == FG_OK)
    rc = read_attrs(s, file, d);
  return rc;
}

int fg_ensemble_load(const char *path, fg_ensemble_data *d, fg_error *err)
{
  static const char where[] = "fg_ensemble_load [ensemble.c]";
  memset(d, 0, sizeof *d);
  en_site s = {where, path ? path : "(null)", FG_ERR_INPUT, err, 0, 1};
  if (path == NULL)
    return site_fail(&s, -1, "no file name given");
  fg_h5_quiet q;
  fg_h5_quiet_begin(&q);
  hid_t file;
  int rc = open_for_reading(&s, &file);
  if (rc == FG_OK)
    rc = load_file(&s, file, d);
  if (file >= 0 && H5Fclose(file) < 0 && rc == FG_OK)
    rc = site_fail(&s, -1, "cannot close");
  fg_h5_quiet_end(&q);
  if (rc != FG_OK)
    fg_ensemble_data_free(d);
  return rc;
}

void fg_ensemble_data_free(fg_ensemble_data *d)
{
  fg_free(d->configs);
  fg_free(d->logq);
  fg_free(d->action);
  fg_free(d->logw);
  fg_free(d->chain_index);
  fg_free(d->chain_accepted);
  fg_free(d->checksum);
  for (int i = 0; i < d->nattrs; ++i) {
    fg_free(d->attrs[i].name);
    fg_free(d->attrs[i].text);
  }
  fg_free(d->attrs);
  memset(d, 0, sizeof *d);
}

const fg_ensemble_attr *fg_ensemble_attr_find(const fg_ensemble_data *d, const char *name)
{
  for (int i = 0; d != NULL && name != NULL && i < d->nattrs; ++i)
    if (strcmp(d->attrs[i].name, name) == 0)
      return &d->attrs[i];
  return NULL;
}
