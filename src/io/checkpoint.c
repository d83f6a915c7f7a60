/*
 * checkpoint.c -- the HDF5 checkpoint of a trained flow (see checkpoint.h;
 * the layout, readable with h5py alone, is in docs/checkpoint-format.md).
 *
 *   size_t fg_checkpoint_nparams(const fg_model_config *m)
 *     Length of the flat parameter vector of architecture m in the canonical
 *     order of checkpoint.h. 0 when m is invalid (negative counts, n_hidden
 *     outside 0..FG_MAXHIDDEN, a width < 1) or the count overflows size_t.
 *     Local, pure.
 *
 *   int fg_checkpoint_write(const char *path, const fg_checkpoint *ck, fg_error *err)
 *     Builds the file in memory (HDF5 core driver), writes it to
 *     "<path>.tmp.<pid>", fsyncs it and renames it over path, creating
 *     path's parent folders first, with /model/params_sha256, the SHA-256
 *     of the parameters (float32 little-endian, canonical order); refuses
 *     (FG_ERR_RUNTIME) what the reader would refuse: non-finite parameters
 *     or optimizer state, a state of the wrong length, negative counts, odd
 *     extents. The file's format_version is FG_CHECKPOINT_VERSION (5) for a
 *     model with model.gauge_order blocked, 4 for one with model.gauge_map
 *     spline (and the alternating order), which older readers must refuse
 *     (they would build the alternating masks, or evaluate the NCP map), and
 *     3 otherwise, so that files of
 *     other models stay what they were. ck->created is written as given,
 *     or as the current UTC time (ISO 8601) when empty. A NULL config_text is written as "".
 *     FG_ERR_RUNTIME, naming path, when ck is inconsistent (nparams not the
 *     architecture's, missing buffers, unknown enum values) or any I/O step
 *     fails; then the temporary file is removed and path is untouched.
 *     Local: call on one rank only.
 *
 *   int fg_checkpoint_read(const char *path, fg_checkpoint *ck, fg_error *err)
 *     Zeroes *ck and fills it from path; params, opt_state and config_text
 *     are fg_alloc'd. FG_ERR_INPUT, naming path and the object at fault, for
 *     a missing or unreadable file, a file that is not HDF5, a format other
 *     than "flowgen-checkpoint", a newer format_version, a missing or
 *     ill-typed attribute, an invalid architecture, a dataset whose shape
 *     disagrees with the architecture, a non-finite parameter or optimizer
 *     state value (naming the dataset and the index), an optimizer state
 *     whose length is not the optimizer's (Adam, Adadelta: 2 x nparams;
 *     SGD: nparams; none only when t = 0), a negative step, n_train, t,
 *     ess_samples, batch_size or ranks, a lattice extent that is not
 *     positive and even, a /model attribute gauge_loops other than
 *     plaquette, gauge_map other than ncp or gauge_order other than
 *     alternating without base haar (absent: plaquette, ncp, alternating,
 *     as files before the keys), a gauge_map spline without
 *     an int spline_bins in FG_SPLINE_BINS_MIN..MAX, or
 *     /model/params_sha256 that does not match the
 *     parameters (required from format_version 2, checked when present in
 *     version 1); FG_ERR_RUNTIME when memory runs out.
 *     Release *ck with fg_checkpoint_free whatever the result. Local.
 *
 *   void fg_checkpoint_free(fg_checkpoint *ck)
 *     Frees what ck owns (fg_free, so malloc'd config_text is fine) and
 *     zeroes it. Safe on a zeroed struct.
 *
 *   int fg_checkpoint_print(FILE *out, const fg_checkpoint *ck, int json, fg_error *err)
 *     Prints an aligned table, or with json != 0 one JSON object (keys in
 *     docs/checkpoint-format.md), of what ck holds. FG_ERR_RUNTIME when out
 *     cannot be written. Local.
 *
 * HDF5's automatic error-stack printing is switched off during each call
 * (and restored after), so every failure is reported once, through fg_fail.
 * Every HDF5 id opened is closed on every path, failures included.
 */
#include "h5.h"
#include "flowgen/checkpoint.h"
#include "flowgen/flow.h"
#include "flowgen/util.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ESS_WINDOW_CAP (sizeof(((fg_checkpoint *)0)->ess_window) / sizeof(double))

/* Who is failing on which file, and which status a failure maps to
 * (FG_ERR_RUNTIME when writing, FG_ERR_INPUT when reading). */
typedef struct {
  const char *where;
  const char *path;
  int code;
  fg_error *err;
  int version;      /* reading: the file's format_version */
} ck_site;

/* Records a failure "checkpoint 'path': /hdf5/object: what" and returns s->code.
 * loc < 0 leaves the object out. */
__attribute__((format(printf, 3, 4)))
static int site_fail(const ck_site *s, hid_t loc, const char *fmt, ...)
{
  char what[640];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  char obj[256] = "";
  if (loc >= 0 && H5Iget_name(loc, obj, sizeof obj) < 0)
    obj[0] = '\0';
  return fg_fail(s->err, s->code, s->where, "checkpoint '%s': %s%s%s", s->path, obj,
                 obj[0] ? ": " : "", what);
}

/* ---------------------------------------------------------------- shapes */

/* The canonical count of checkpoint.h, from the layer types' declarations
 * (flow.h); -1 when m is invalid or it overflows. */
static int count_params(const fg_model_config *m, size_t *n)
{
  size_t ntensors;
  return fg_param_layout_count(m, &ntensors, n);
}

size_t fg_checkpoint_nparams(const fg_model_config *m)
{
  size_t n;
  return count_params(m, &n) == 0 ? n : 0;
}

/* The groups of one parameter tensor's path, opened (or created) as the
 * walk over the layout moves from tensor to tensor: levels that stay the
 * same stay open, so groups are made in canonical order, once each. */
typedef struct {
  hid_t g[2];
  char name[2][32];
  int depth;
} group_walk;
/* The optimizer state's length: Adam and Adadelta keep two values per
 * parameter, SGD one (its momentum buffer). */
static size_t state_length(fg_optimizer_kind k, size_t nparams)
{
  return k == FG_OPT_SGD ? nparams : 2 * nparams;
}

/* The index of the first non-finite value of p[0..n), or n. */
static size_t first_nonfinite_f(const float *p, size_t n)
{
  size_t i = 0;
  while (i < n && isfinite(p[i]))
    ++i;
  return i;
}

static size_t first_nonfinite_d(const double *p, size_t n)
{
  size_t i = 0;
  while (i < n && isfinite(p[i]))
    ++i;
  return i;
}

/* Lowercase hex SHA-256 of the parameters as float32 little-endian bytes in
 * canonical order (what /model/params_sha256 holds); NULL-free: hex has 65
 * bytes. FG_ERR_RUNTIME when memory runs out. */
static int params_digest(const ck_site *s, const float *p, size_t n, char hex[65])
{
  unsigned char *bytes = fg_alloc(n * sizeof(float), s->err, s->where);
  if (bytes == NULL)
    return FG_ERR_RUNTIME;
  for (size_t i = 0; i < n; ++i) {
    uint32_t u;
    memcpy(&u, &p[i], sizeof u);
    for (int b = 0; b < 4; ++b)
      bytes[4 * i + (size_t)b] = (unsigned char)(u >> (8 * b));
  }
  uint8_t digest[32];
  fg_sha256(bytes, n * sizeof(float), digest);
  fg_free(bytes);
  for (int i = 0; i < 32; ++i)
    snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  return FG_OK;
}


static const char *theory_name_of(int k) { return fg_theory_name((fg_theory_kind)k); }
static const char *base_name_of(int k) { return fg_base_name((fg_base_kind)k); }
static const char *activation_name_of(int k) { return fg_activation_name((fg_activation)k); }
static const char *init_name_of(int k) { return fg_init_name((fg_init_scheme)k); }
static const char *gauge_loops_name_of(int k) { return fg_gauge_loops_name((fg_gauge_loops)k); }
static const char *gauge_map_name_of(int k) { return fg_gauge_map_name((fg_gauge_map)k); }
static const char *gauge_order_name_of(int k) { return fg_gauge_order_name((fg_gauge_order)k); }
static const char *symmetry_name_of(int k) { return fg_symmetry_name((fg_symmetry_kind)k); }
static const char *optimizer_name_of(int k) { return fg_optimizer_name((fg_optimizer_kind)k); }

/* The enum value whose name is text, or -1 (names.c answers "?" past the end). */
static int enum_of_name(const char *(*namer)(int), const char *text)
{
  for (int k = 0; k < 64 && strcmp(namer(k), "?") != 0; ++k)
    if (strcmp(namer(k), text) == 0)
      return k;
  return -1;
}

/* The format_version of the file of model m: the lowest whose readers
 * evaluate it: 5 for the blocked mask order (version 4 readers would build
 * the alternating masks), 4 for the spline circle map (version 3 readers
 * would evaluate the NCP map), 3 otherwise. */
static int format_version_of(const fg_model_config *m)
{
  if (m->base != FG_BASE_HAAR)
    return 3;
  if (m->gauge_order != FG_ORDER_ALTERNATING)
    return 5;
  return m->gauge_map == FG_MAP_SPLINE ? 4 : 3;
}

/* --------------------------------------------- scalar attribute tables */

typedef enum { FIELD_INT, FIELD_INT64, FIELD_UINT64, FIELD_DOUBLE, FIELD_TEXT } field_kind;

/* One attribute stored from / loaded into a struct member. */
typedef struct {
  const char *name;
  field_kind kind;
  size_t offset;
  size_t size;
} field;

#define FIELD(type, member, kind) \
  { #member, kind, offsetof(type, member), sizeof(((type *)0)->member) }

static const field root_fields[] = {
    FIELD(fg_checkpoint, seed, FIELD_UINT64),
    FIELD(fg_checkpoint, step, FIELD_INT64),
    FIELD(fg_checkpoint, n_train, FIELD_INT64),
    FIELD(fg_checkpoint, batch_size, FIELD_INT),
    FIELD(fg_checkpoint, ranks, FIELD_INT),
    FIELD(fg_checkpoint, lr, FIELD_DOUBLE),
    FIELD(fg_checkpoint, ess, FIELD_DOUBLE),
    FIELD(fg_checkpoint, ess_samples, FIELD_INT64),
    FIELD(fg_checkpoint, loss, FIELD_DOUBLE),
    FIELD(fg_checkpoint, wall_seconds, FIELD_DOUBLE),
    FIELD(fg_checkpoint, allreduce_seconds, FIELD_DOUBLE),
    FIELD(fg_checkpoint, stop_reason, FIELD_TEXT),
    FIELD(fg_checkpoint, flowgen_version, FIELD_TEXT),
    FIELD(fg_checkpoint, git_revision, FIELD_TEXT),
};

static const field theory_fields[] = {
    FIELD(fg_theory_config, m2, FIELD_DOUBLE),
    FIELD(fg_theory_config, lambda, FIELD_DOUBLE),
    FIELD(fg_theory_config, beta, FIELD_DOUBLE),
    FIELD(fg_theory_config, kappa, FIELD_DOUBLE),
};

static const field model_fields[] = {
    FIELD(fg_model_config, coupling_layers, FIELD_INT),
    FIELD(fg_model_config, kernel_size, FIELD_INT),
    FIELD(fg_model_config, init_scale, FIELD_DOUBLE),
    FIELD(fg_model_config, mu_init, FIELD_DOUBLE),
};

#define NFIELDS(t) ((int)(sizeof(t) / sizeof(t[0])))

/* File types are fixed little-endian so files are the same on every machine. */
static void field_types(field_kind kind, hid_t *ftype, hid_t *mtype)
{
  switch (kind) {
  case FIELD_INT: *ftype = H5T_STD_I32LE; *mtype = H5T_NATIVE_INT; break;
  case FIELD_INT64: *ftype = H5T_STD_I64LE; *mtype = H5T_NATIVE_INT64; break;
  case FIELD_UINT64: *ftype = H5T_STD_U64LE; *mtype = H5T_NATIVE_UINT64; break;
  default: *ftype = H5T_IEEE_F64LE; *mtype = H5T_NATIVE_DOUBLE; break;
  }
}

/* ------------------------------------------------------------- writing */

static hid_t space_create(int rank, const hsize_t *dims)
{
  return rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, NULL);
}

/* An attribute of rank 0 (scalar) or 1 ([n]) holding buf. */
static int attr_write(const ck_site *s, hid_t loc, const char *name, hid_t ftype, hid_t mtype,
                      int rank, hsize_t n, const void *buf)
{
  hid_t space = space_create(rank, &n);
  hid_t attr = space < 0 ? -1 : H5Acreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t st = attr < 0 ? -1 : H5Awrite(attr, mtype, buf);
  if (attr >= 0 && H5Aclose(attr) < 0)
    st = -1;
  if (space >= 0 && H5Sclose(space) < 0)
    st = -1;
  return st < 0 ? site_fail(s, loc, "cannot write attribute '%s'", name) : FG_OK;
}

static int attr_write_text(const ck_site *s, hid_t loc, const char *name, const char *text)
{
  hid_t type = fg_h5_text_type();
  if (type < 0)
    return site_fail(s, loc, "cannot make a string type for '%s'", name);
  int rc = attr_write(s, loc, name, type, type, 0, 1, &text);
  H5Tclose(type);
  return rc;
}

static int attr_write_ints(const ck_site *s, hid_t loc, const char *name, int n, const int *v)
{
  return attr_write(s, loc, name, H5T_STD_I32LE, H5T_NATIVE_INT, 1, (hsize_t)n, v);
}

static int write_fields(const ck_site *s, hid_t loc, const void *base, const field *f, int n)
{
  for (int i = 0; i < n; ++i) {
    const char *p = (const char *)base + f[i].offset;
    hid_t ftype, mtype;
    field_types(f[i].kind, &ftype, &mtype);
    int rc = f[i].kind == FIELD_TEXT ? attr_write_text(s, loc, f[i].name, p)
                                     : attr_write(s, loc, f[i].name, ftype, mtype, 0, 1, p);
    if (rc != FG_OK)
      return rc;
  }
  return FG_OK;
}

/* A dataset of the given rank (0: scalar); contiguous, uncompressed. */
static int dset_write(const ck_site *s, hid_t loc, const char *name, hid_t ftype, hid_t mtype,
                      int rank, const hsize_t *dims, const void *buf)
{
  hid_t space = space_create(rank, dims);
  hid_t d = space < 0 ? -1
                      : H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  herr_t st = d < 0 ? -1 : H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  if (d >= 0 && H5Dclose(d) < 0)
    st = -1;
  if (space >= 0 && H5Sclose(space) < 0)
    st = -1;
  return st < 0 ? site_fail(s, loc, "cannot write dataset '%s'", name) : FG_OK;
}

static hid_t group_create(const ck_site *s, hid_t loc, const char *name)
{
  hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0)
    site_fail(s, loc, "cannot create group '%s'", name);
  return g;
}

/* Closes g and returns rc, or a failure if rc was fine but closing was not. */
static int group_close(const ck_site *s, hid_t g, int rc)
{
  if (H5Gclose(g) < 0 && rc == FG_OK)
    return site_fail(s, -1, "cannot close a group");
  return rc;
}

/* ISO 8601 UTC time of now. */
static void stamp_now(char *buf, size_t size)
{
  time_t now = time(NULL);
  struct tm utc;
  if (gmtime_r(&now, &utc) == NULL || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &utc) == 0)
    snprintf(buf, size, "unknown");
}

static int write_root(const ck_site *s, hid_t file, const fg_checkpoint *ck)
{
  int version = format_version_of(&ck->model);
  int rc = attr_write_text(s, file, "format", FG_CHECKPOINT_FORMAT);
  if (rc == FG_OK)
    rc = attr_write(s, file, "format_version", H5T_STD_I32LE, H5T_NATIVE_INT, 0, 1, &version);
  if (rc == FG_OK)
    rc = write_fields(s, file, ck, root_fields, NFIELDS(root_fields));
  char created[sizeof ck->created];
  memcpy(created, ck->created, sizeof created);
  if (created[0] == '\0')
    stamp_now(created, sizeof created);
  if (rc == FG_OK)
    rc = attr_write_text(s, file, "created", created);
  hid_t type = rc == FG_OK ? fg_h5_text_type() : -1;
  if (rc == FG_OK && type < 0)
    rc = site_fail(s, file, "cannot make a string type for 'config'");
  const char *text = ck->config_text ? ck->config_text : "";
  /* a dataset, not an attribute: attributes are capped at 64 KiB */
  if (rc == FG_OK)
    rc = dset_write(s, file, "config", type, type, 0, NULL, &text);
  if (type >= 0)
    H5Tclose(type);
  return rc;
}

static int write_theory(const ck_site *s, hid_t file, const fg_theory_config *t)
{
  hid_t g = group_create(s, file, "theory");
  if (g < 0)
    return s->code;
  int rc = attr_write_text(s, g, "name", fg_theory_name(t->name));
  if (rc == FG_OK)
    rc = attr_write_ints(s, g, "lattice", t->nd, t->extent);
  if (rc == FG_OK)
    rc = write_fields(s, g, t, theory_fields, NFIELDS(theory_fields));
  return group_close(s, g, rc);
}

static hid_t group_create(const ck_site *s, hid_t loc, const char *name);
static hid_t group_open(const ck_site *s, hid_t loc, const char *name);
static int group_close(const ck_site *s, hid_t g, int rc);

/* Closes the open levels from `level` down; rc passes through (or the close's failure). */
static int walk_close(const ck_site *s, group_walk *w, int level, int rc)
{
  while (w->depth > level) {
    --w->depth;
    rc = group_close(s, w->g[w->depth], rc);
  }
  return rc;
}

/* Makes w's open path t's group path; creating (write) or opening (read). */
static int walk_to(const ck_site *s, hid_t model, group_walk *w, const fg_param_tensor *t,
                   int create)
{
  int level = 0;
  while (level < w->depth && level < t->depth && strcmp(w->name[level], t->group[level]) == 0)
    ++level;
  int rc = walk_close(s, w, level, FG_OK);
  for (; rc == FG_OK && w->depth < t->depth; ++w->depth) {
    hid_t parent = w->depth > 0 ? w->g[w->depth - 1] : model;
    const char *name = t->group[w->depth];
    hid_t g = create ? group_create(s, parent, name) : group_open(s, parent, name);
    if (g < 0)
      return s->code;
    w->g[w->depth] = g;
    snprintf(w->name[w->depth], sizeof w->name[w->depth], "%s", name);
  }
  return rc;
}

static void tensor_dims(const fg_param_tensor *t, hsize_t *dims)
{
  for (int i = 0; i < t->rank; ++i)
    dims[i] = (hsize_t)t->dims[i];
}

/* Every parameter tensor the layer types declare, at its group path under
 * /model, in canonical order: layer_NN/conv_K/{weight, bias}, base/mu. */
static int write_layers(const ck_site *s, hid_t model, const fg_checkpoint *ck)
{
  fg_param_layout lay; /* check_writable has validated the architecture: only memory fails */
  int rc = fg_param_layout_build(&ck->model, &lay, s->err) == FG_OK ? FG_OK : FG_ERR_RUNTIME;
  group_walk w = {.depth = 0};
  for (size_t k = 0; k < lay.n && rc == FG_OK; ++k) {
    const fg_param_tensor *t = &lay.t[k];
    hsize_t dims[4];
    tensor_dims(t, dims);
    rc = walk_to(s, model, &w, t, 1);
    if (rc == FG_OK)
      rc = dset_write(s, w.g[w.depth - 1], t->name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, t->rank,
                      t->rank > 0 ? dims : NULL, ck->params + t->offset);
  }
  rc = walk_close(s, &w, 0, rc);
  fg_param_layout_free(&lay);
  return rc;
}

static int write_model(const ck_site *s, hid_t file, const fg_checkpoint *ck)
{
  const fg_model_config *m = &ck->model;
  hid_t g = group_create(s, file, "model");
  if (g < 0)
    return s->code;
  int rc = attr_write_text(s, g, "base", fg_base_name(m->base));
  if (rc == FG_OK)
    rc = write_fields(s, g, m, model_fields, NFIELDS(model_fields));
  if (rc == FG_OK)
    rc = attr_write_ints(s, g, "hidden_channels", m->n_hidden, m->hidden_channels);
  if (rc == FG_OK)
    rc = attr_write_text(s, g, "activation", fg_activation_name(m->activation));
  if (rc == FG_OK)
    rc = attr_write_text(s, g, "init_scheme", fg_init_name(m->init_scheme));
  if (rc == FG_OK && m->base == FG_BASE_HAAR)
    rc = attr_write_text(s, g, "gauge_loops", fg_gauge_loops_name(m->gauge_loops));
  if (rc == FG_OK && m->base == FG_BASE_HAAR && m->gauge_map != FG_MAP_NCP)
    rc = attr_write_text(s, g, "gauge_map", fg_gauge_map_name(m->gauge_map));
  if (rc == FG_OK && m->base == FG_BASE_HAAR && m->gauge_order != FG_ORDER_ALTERNATING)
    rc = attr_write_text(s, g, "gauge_order", fg_gauge_order_name(m->gauge_order));
  if (rc == FG_OK && m->base == FG_BASE_HAAR && m->gauge_map == FG_MAP_SPLINE)
    rc = attr_write(s, g, "spline_bins", H5T_STD_I32LE, H5T_NATIVE_INT, 0, 1, &m->spline_bins);
  if (rc == FG_OK)
    rc = attr_write_text(s, g, "symmetry", fg_symmetry_name(m->symmetry));
  char hex[65];
  if (rc == FG_OK)
    rc = params_digest(s, ck->params, ck->nparams, hex);
  if (rc == FG_OK)
    rc = attr_write_text(s, g, "params_sha256", hex);
  if (rc == FG_OK)
    rc = write_layers(s, g, ck);
  return group_close(s, g, rc);
}

static int write_state(const ck_site *s, hid_t file, const fg_checkpoint *ck)
{
  hid_t g = group_create(s, file, "optimizer");
  if (g < 0)
    return s->code;
  int rc = attr_write_text(s, g, "name", fg_optimizer_name(ck->optimizer));
  if (rc == FG_OK)
    rc = attr_write(s, g, "t", H5T_STD_I64LE, H5T_NATIVE_INT64, 0, 1, &ck->opt_t);
  hsize_t n = (hsize_t)ck->opt_state_len;
  if (rc == FG_OK && n > 0)
    rc = dset_write(s, g, "state", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &n, ck->opt_state);
  if ((rc = group_close(s, g, rc)) != FG_OK)
    return rc;
  if ((g = group_create(s, file, "schedule")) < 0)
    return s->code;
  n = (hsize_t)ck->ess_window_len;
  rc = dset_write(s, g, "ess_window", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &n, ck->ess_window);
  return group_close(s, g, rc);
}

/* Refuses to write a checkpoint that could not be read back. */
static int check_writable(const ck_site *s, const fg_checkpoint *ck)
{
  size_t n;
  const fg_model_config *m = &ck->model;
  if (m->gauge_map == FG_MAP_SPLINE &&
      (m->spline_bins < FG_SPLINE_BINS_MIN || m->spline_bins > FG_SPLINE_BINS_MAX))
    return site_fail(s, -1, "spline_bins %d outside %d..%d", m->spline_bins, FG_SPLINE_BINS_MIN,
                     FG_SPLINE_BINS_MAX);
  if (count_params(m, &n) != 0 || m->kernel_size % 2 == 0)
    return site_fail(s, -1, "invalid architecture (%d layers, kernel %d, %d hidden)",
                     m->coupling_layers, m->kernel_size, m->n_hidden);
  if (n != ck->nparams || (n > 0 && ck->params == NULL))
    return site_fail(s, -1, "holds %zu parameters, the architecture has %zu", ck->nparams, n);
  if (ck->opt_state_len > 0 && ck->opt_state == NULL)
    return site_fail(s, -1, "optimizer state of %zu values is missing", ck->opt_state_len);
  size_t bad = first_nonfinite_f(ck->params, n);
  if (bad < n)
    return site_fail(s, -1, "refusing to write non-finite parameter %zu (%g)", bad,
                     (double)ck->params[bad]);
  if ((bad = first_nonfinite_d(ck->opt_state, ck->opt_state_len)) < ck->opt_state_len)
    return site_fail(s, -1, "refusing to write non-finite optimizer state value %zu (%g)", bad,
                     ck->opt_state[bad]);
  size_t want = state_length(ck->optimizer, n);
  if (ck->opt_state_len != want && !(ck->opt_state_len == 0 && ck->opt_t == 0))
    return site_fail(s, -1, "optimizer state of %zu values, %s needs %zu", ck->opt_state_len,
                     fg_optimizer_name(ck->optimizer), want);
  if (ck->step < 0 || ck->n_train < 0 || ck->opt_t < 0)
    return site_fail(s, -1, "negative step (%lld), n_train (%lld) or optimizer t (%lld)",
                     (long long)ck->step, (long long)ck->n_train, (long long)ck->opt_t);
  if (ck->ess_window_len < 0 || (size_t)ck->ess_window_len > ESS_WINDOW_CAP)
    return site_fail(s, -1, "ESS window length %d", ck->ess_window_len);
  if (ck->theory.nd < 1 || ck->theory.nd > FG_MAXDIM)
    return site_fail(s, -1, "lattice dimension %d", ck->theory.nd);
  for (int mu = 0; mu < ck->theory.nd; ++mu)
    if (ck->theory.extent[mu] < 2 || ck->theory.extent[mu] % 2 != 0)
      return site_fail(s, -1, "lattice extent %d (must be positive and even)",
                       ck->theory.extent[mu]);
  if (!strcmp(fg_theory_name(ck->theory.name), "?") || !strcmp(fg_base_name(m->base), "?") ||
      !strcmp(fg_activation_name(m->activation), "?") ||
      !strcmp(fg_init_name(m->init_scheme), "?") || !strcmp(fg_optimizer_name(ck->optimizer), "?") ||
      !strcmp(fg_gauge_loops_name(m->gauge_loops), "?") ||
      !strcmp(fg_gauge_map_name(m->gauge_map), "?") ||
      !strcmp(fg_gauge_order_name(m->gauge_order), "?") || !strcmp(fg_symmetry_name(m->symmetry), "?"))
    return site_fail(s, -1, "unknown theory, base, activation, init, gauge_loops, gauge_map, "
                     "gauge_order, symmetry or optimizer value");
  if (m->gauge_loops != FG_LOOPS_PLAQUETTE && m->base != FG_BASE_HAAR)
    return site_fail(s, -1, "gauge_loops %s needs base haar", fg_gauge_loops_name(m->gauge_loops));
  if (m->gauge_map != FG_MAP_NCP && m->base != FG_BASE_HAAR)
    return site_fail(s, -1, "gauge_map %s needs base haar", fg_gauge_map_name(m->gauge_map));
  if (m->gauge_order != FG_ORDER_ALTERNATING && m->base != FG_BASE_HAAR)
    return site_fail(s, -1, "gauge_order %s needs base haar", fg_gauge_order_name(m->gauge_order));
  for (int i = 0; i < NFIELDS(root_fields); ++i)
    if (root_fields[i].kind == FIELD_TEXT &&
        !memchr((const char *)ck + root_fields[i].offset, '\0', root_fields[i].size))
      return site_fail(s, -1, "field '%s' is not NUL-terminated", root_fields[i].name);
  if (!memchr(ck->created, '\0', sizeof ck->created))
    return site_fail(s, -1, "field 'created' is not NUL-terminated");
  return FG_OK;
}

/* The file is built with the core (memory) driver and stored by store_image:
 * a full disk or a quota then fails our own write(), cleanly, where HDF5
 * failing to flush on H5Fclose would keep the file id open for good. */
static int build_image(const ck_site *s, const char *tmp, const fg_checkpoint *ck, void **image,
                       size_t *size)
{
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl >= 0 && H5Pset_fapl_core(fapl, (size_t)1 << 20, 0) < 0) {
    H5Pclose(fapl);
    fapl = -1;
  }
  hid_t file = fapl < 0 ? -1 : H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (fapl >= 0)
    H5Pclose(fapl);
  if (file < 0)
    return site_fail(s, -1, "cannot create an HDF5 file in memory");
  int rc = write_root(s, file, ck);
  if (rc == FG_OK)
    rc = write_theory(s, file, &ck->theory);
  if (rc == FG_OK)
    rc = write_model(s, file, ck);
  if (rc == FG_OK)
    rc = write_state(s, file, ck);
  /* the image is the driver's buffer: the metadata cache must be in it */
  if (rc == FG_OK && H5Fflush(file, H5F_SCOPE_LOCAL) < 0)
    rc = site_fail(s, -1, "cannot flush the file in memory");
  ssize_t n = rc == FG_OK ? H5Fget_file_image(file, NULL, 0) : -1;
  if (rc == FG_OK && n <= 0)
    rc = site_fail(s, -1, "cannot get the file image");
  if (rc == FG_OK && (*image = fg_alloc((size_t)n, s->err, s->where)) == NULL)
    rc = FG_ERR_RUNTIME;
  if (rc == FG_OK && H5Fget_file_image(file, *image, (size_t)n) != n)
    rc = site_fail(s, -1, "cannot get the file image");
  *size = rc == FG_OK ? (size_t)n : 0;
  if (H5Fclose(file) < 0 && rc == FG_OK)
    rc = site_fail(s, -1, "cannot close the file in memory");
  return rc;
}

/* Writes the image to tmp and makes it durable before anyone renames it. */
static int store_image(const ck_site *s, const char *tmp, const void *image, size_t size)
{
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0)
    return site_fail(s, -1, "cannot create the temporary file '%s': %s", tmp, strerror(errno));
  const char *p = image;
  size_t left = size;
  int e = 0;
  while (left > 0 && e == 0) {
    ssize_t w = write(fd, p, left);
    if (w > 0) {
      p += w;
      left -= (size_t)w;
    } else if (w == 0 || errno != EINTR) {
      e = w == 0 ? EIO : errno;
    }
  }
  if (e == 0 && fsync(fd) != 0)
    e = errno;
  if (close(fd) != 0 && e == 0)
    e = errno;
  if (e != 0)
    return site_fail(s, -1, "cannot write the temporary file '%s': %s", tmp, strerror(e));
  return FG_OK;
}

/* Gives tmp its final name: a crash leaves either the old file or the new one
 * under path, never a torn one. */
static int commit_file(const ck_site *s, const char *tmp)
{
  if (rename(tmp, s->path) != 0)
    return site_fail(s, -1, "cannot rename '%s' to it: %s", tmp, strerror(errno));
  /* the rename itself is durable once the folder is synced; best effort */
  const char *slash = strrchr(s->path, '/');
  char dir[FG_PATH_MAX];
  snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - s->path) + 1 : 1, slash ? s->path : ".");
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
  return FG_OK;
}

int fg_checkpoint_write(const char *path, const fg_checkpoint *ck, fg_error *err)
{
  static const char where[] = "fg_checkpoint_write [checkpoint.c]";
  ck_site s = {where, path, FG_ERR_RUNTIME, err, FG_CHECKPOINT_VERSION};
  int rc = check_writable(&s, ck);
  if (rc != FG_OK)
    return rc;
  size_t n = strlen(path) + 32;
  char *tmp = fg_alloc(n, err, where);
  if (tmp == NULL)
    return FG_ERR_RUNTIME;
  snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
  void *image = NULL;
  size_t size = 0;
  fg_h5_quiet q;
  fg_h5_quiet_begin(&q);
  rc = build_image(&s, tmp, ck, &image, &size);
  fg_h5_quiet_end(&q);
  if (rc == FG_OK)
    rc = fg_make_parent_dir(s.path, s.err);
  if (rc == FG_OK)
    rc = store_image(&s, tmp, image, size);
  if (rc == FG_OK)
    rc = commit_file(&s, tmp);
  fg_free(image);
  if (rc != FG_OK)
    unlink(tmp);
  fg_free(tmp);
  return rc;
}

/* ------------------------------------------------------------- reading */

/* Reads one string, variable- or fixed-length (h5py writes either), into a
 * fresh fg_alloc'd buffer. */
static int text_fetch(const ck_site *s, hid_t loc, const char *name, hid_t obj, int is_attr,
                      hid_t ftype, char **out)
{
  int got = fg_h5_read_string(obj, is_attr, ftype, out);
  if (got == -2)
    return fg_fail(s->err, FG_ERR_RUNTIME, s->where, "out of memory reading '%s'", name);
  return got == 0 ? FG_OK : site_fail(s, loc, "cannot read string '%s'", name);
}

/* Reads the scalar string attribute (is_attr) or dataset `name` of loc. */
static int text_read(const ck_site *s, hid_t loc, const char *name, int is_attr, char **out)
{
  *out = NULL;
  const char *what = is_attr ? "attribute" : "dataset";
  htri_t there = is_attr ? H5Aexists(loc, name) : H5Lexists(loc, name, H5P_DEFAULT);
  if (there <= 0)
    return site_fail(s, loc, "missing %s '%s'", what, name);
  hid_t obj = is_attr ? H5Aopen(loc, name, H5P_DEFAULT) : H5Dopen2(loc, name, H5P_DEFAULT);
  hid_t type = obj < 0 ? -1 : is_attr ? H5Aget_type(obj) : H5Dget_type(obj);
  hid_t space = obj < 0 ? -1 : is_attr ? H5Aget_space(obj) : H5Dget_space(obj);
  int rc;
  if (type < 0 || space < 0)
    rc = site_fail(s, loc, "cannot open %s '%s'", what, name);
  else if (H5Tget_class(type) != H5T_STRING || H5Sget_simple_extent_npoints(space) != 1)
    rc = site_fail(s, loc, "%s '%s' is not one string", what, name);
  else
    rc = text_fetch(s, loc, name, obj, is_attr, type, out);
  if (space >= 0)
    H5Sclose(space);
  if (type >= 0)
    H5Tclose(type);
  if (obj >= 0)
    is_attr ? H5Aclose(obj) : H5Dclose(obj);
  return rc;
}

/* Reads a string attribute into a fixed char array of `size` bytes. */
static int text_read_into(const ck_site *s, hid_t loc, const char *name, char *dst, size_t size)
{
  char *text;
  int rc = text_read(s, loc, name, 1, &text);
  if (rc == FG_OK && strlen(text) >= size)
    rc = site_fail(s, loc, "attribute '%s' is %zu bytes long, at most %zu fit", name,
                   strlen(text), size - 1);
  if (rc == FG_OK)
    memcpy(dst, text, strlen(text) + 1);
  fg_free(text);
  return rc;
}

/* A numeric attribute of 1..cap values, converted to mtype; *n gets the count
 * (n NULL: exactly one value wanted). */
static int attr_read(const ck_site *s, hid_t loc, const char *name, hid_t mtype, hssize_t cap,
                     void *buf, int *n)
{
  htri_t there = H5Aexists(loc, name);
  if (there <= 0)
    return site_fail(s, loc, "missing attribute '%s'", name);
  hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
  hid_t space = attr < 0 ? -1 : H5Aget_space(attr);
  hssize_t count = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
  int rc = FG_OK;
  if (count < 0)
    rc = site_fail(s, loc, "cannot open attribute '%s'", name);
  else if (count > cap || (n == NULL && count != 1))
    rc = site_fail(s, loc, "attribute '%s' holds %lld values, expected %s%lld", name,
                   (long long)count, n ? "at most " : "", (long long)cap);
  else if (count > 0 && H5Aread(attr, mtype, buf) < 0)
    rc = site_fail(s, loc, "attribute '%s' cannot be read as a number", name);
  if (n != NULL)
    *n = (int)count;
  if (space >= 0)
    H5Sclose(space);
  if (attr >= 0)
    H5Aclose(attr);
  return rc;
}

static int read_fields(const ck_site *s, hid_t loc, void *base, const field *f, int n)
{
  for (int i = 0; i < n; ++i) {
    char *p = (char *)base + f[i].offset;
    hid_t ftype, mtype;
    field_types(f[i].kind, &ftype, &mtype);
    int rc = f[i].kind == FIELD_TEXT ? text_read_into(s, loc, f[i].name, p, f[i].size)
                                     : attr_read(s, loc, f[i].name, mtype, 1, p, NULL);
    if (rc != FG_OK)
      return rc;
  }
  return FG_OK;
}

static int enum_read(const ck_site *s, hid_t loc, const char *name, const char *(*namer)(int),
                     int *value)
{
  char text[64];
  int rc = text_read_into(s, loc, name, text, sizeof text);
  if (rc == FG_OK && (*value = enum_of_name(namer, text)) < 0)
    rc = site_fail(s, loc, "attribute '%s' has the unknown value '%s'", name, text);
  return rc;
}

static int shape_matches(int frank, const hsize_t *fdims, int rank, const hsize_t *dims)
{
  if (rank == 0) /* a scalar may also be stored as [1] */
    return frank == 0 || (frank == 1 && fdims[0] == 1);
  if (frank != rank)
    return 0;
  for (int i = 0; i < rank; ++i)
    if (fdims[i] != dims[i])
      return 0;
  return 1;
}

/* Opens dataset `name`, checks its shape is `dims` (rank 0: one value), and
 * reads it as mtype into buf (buf NULL: only the check). */
static int dset_read(const ck_site *s, hid_t loc, const char *name, hid_t mtype, int rank,
                     const hsize_t *dims, void *buf)
{
  if (H5Lexists(loc, name, H5P_DEFAULT) <= 0)
    return site_fail(s, loc, "missing dataset '%s'", name);
  hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
  hid_t space = d < 0 ? -1 : H5Dget_space(d);
  hsize_t fdims[H5S_MAX_RANK];
  int frank = space < 0 ? -1 : H5Sget_simple_extent_dims(space, fdims, NULL);
  int rc = FG_OK;
  if (frank < 0) {
    rc = site_fail(s, loc, "cannot open dataset '%s'", name);
  } else if (!shape_matches(frank, fdims, rank, dims)) {
    char have[128], want[128];
    fg_h5_format_shape(have, sizeof have, frank, fdims);
    fg_h5_format_shape(want, sizeof want, rank, dims);
    rc = site_fail(s, loc, "dataset '%s' has shape %s, the architecture needs %s", name, have,
                   want);
  } else if (buf != NULL && H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
    rc = site_fail(s, loc, "cannot read dataset '%s' as numbers", name);
  }
  if (space >= 0)
    H5Sclose(space);
  if (d >= 0)
    H5Dclose(d);
  return rc;
}

/* The length of a one-dimensional dataset (0 when absent). */
static int dset_length(const ck_site *s, hid_t loc, const char *name, size_t *len)
{
  *len = 0;
  if (H5Lexists(loc, name, H5P_DEFAULT) <= 0)
    return FG_OK;
  hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
  hid_t space = d < 0 ? -1 : H5Dget_space(d);
  hsize_t dims[H5S_MAX_RANK];
  int rank = space < 0 ? -1 : H5Sget_simple_extent_dims(space, dims, NULL);
  int rc = FG_OK;
  if (rank != 1)
    rc = site_fail(s, loc, "dataset '%s' is not one-dimensional", name);
  else
    *len = (size_t)dims[0];
  if (space >= 0)
    H5Sclose(space);
  if (d >= 0)
    H5Dclose(d);
  return rc;
}

static hid_t group_open(const ck_site *s, hid_t loc, const char *name)
{
  hid_t g = H5Lexists(loc, name, H5P_DEFAULT) > 0 ? H5Gopen2(loc, name, H5P_DEFAULT) : -1;
  if (g < 0)
    site_fail(s, loc, "missing group '%s'", name);
  return g;
}

/* Existence, then format name and version: the checks that tell a foreign
 * file from a checkpoint, each with its own message. */
static int open_checkpoint(ck_site *s, hid_t *file)
{
  struct stat st;
  *file = -1;
  if (stat(s->path, &st) != 0)
    return site_fail(s, -1, "%s", errno == ENOENT ? "no such file" : strerror(errno));
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
  if (H5Aexists(*file, "format") <= 0)
    return site_fail(s, -1, "an HDF5 file but not a flowgen checkpoint (no 'format' attribute)");
  char format[64];
  int version = 0;
  int rc = text_read_into(s, *file, "format", format, sizeof format);
  if (rc == FG_OK && strcmp(format, FG_CHECKPOINT_FORMAT) != 0)
    rc = site_fail(s, -1, "not a flowgen checkpoint (format '%s', expected '%s')", format,
                   FG_CHECKPOINT_FORMAT);
  if (rc == FG_OK)
    rc = attr_read(s, *file, "format_version", H5T_NATIVE_INT, 1, &version, NULL);
  if (rc == FG_OK && version > FG_CHECKPOINT_VERSION)
    rc = site_fail(s, -1, "format_version %d is newer than this flowgen reads (%d)", version,
                   FG_CHECKPOINT_VERSION);
  if (rc == FG_OK && version < 1)
    rc = site_fail(s, -1, "invalid format_version %d", version);
  s->version = version;
  return rc;
}

static int read_theory(const ck_site *s, hid_t file, fg_theory_config *t)
{
  hid_t g = group_open(s, file, "theory");
  if (g < 0)
    return s->code;
  int kind = 0, rc = enum_read(s, g, "name", theory_name_of, &kind);
  t->name = (fg_theory_kind)kind;
  if (rc == FG_OK)
    rc = attr_read(s, g, "lattice", H5T_NATIVE_INT, FG_MAXDIM, t->extent, &t->nd);
  if (rc == FG_OK && t->nd < 1)
    rc = site_fail(s, g, "attribute 'lattice' is empty");
  for (int mu = 0; rc == FG_OK && mu < t->nd; ++mu)
    if (t->extent[mu] < 2 || t->extent[mu] % 2 != 0)
      rc = site_fail(s, g, "attribute 'lattice': extent %d of direction %d is not positive and "
                     "even (as every flowgen lattice is)", t->extent[mu], mu);
  if (rc == FG_OK)
    rc = read_fields(s, g, t, theory_fields, NFIELDS(theory_fields));
  return group_close(s, g, rc);
}

/* An attribute of the gauge layers that files before its key lack: *value
 * = absent then; another value needs base haar. */
static int gauge_attr_read(const ck_site *s, hid_t g, const char *name, const char *(*namer)(int),
                           int absent, fg_base_kind base, int *value)
{
  *value = absent;
  if (H5Aexists(g, name) <= 0)
    return FG_OK;
  int rc = enum_read(s, g, name, namer, value);
  if (rc == FG_OK && *value != absent && base != FG_BASE_HAAR)
    rc = site_fail(s, g, "attribute '%s' is %s, which needs base haar", name, namer(*value));
  return rc;
}

/* model.gauge_loops, gauge_map and gauge_order, with spline_bins for the spline. */
static int read_gauge_attrs(const ck_site *s, hid_t g, fg_model_config *m)
{
  int loops = FG_LOOPS_PLAQUETTE, map = FG_MAP_NCP, order = FG_ORDER_ALTERNATING;
  int rc = gauge_attr_read(s, g, "gauge_loops", gauge_loops_name_of, FG_LOOPS_PLAQUETTE, m->base,
                           &loops);
  if (rc == FG_OK)
    rc = gauge_attr_read(s, g, "gauge_map", gauge_map_name_of, FG_MAP_NCP, m->base, &map);
  if (rc == FG_OK)
    rc = gauge_attr_read(s, g, "gauge_order", gauge_order_name_of, FG_ORDER_ALTERNATING, m->base,
                         &order);
  m->gauge_loops = (fg_gauge_loops)loops;
  m->gauge_map = (fg_gauge_map)map;
  m->gauge_order = (fg_gauge_order)order;
  m->spline_bins = FG_SPLINE_BINS_DEFAULT;
  if (rc == FG_OK && m->gauge_map == FG_MAP_SPLINE)
    rc = attr_read(s, g, "spline_bins", H5T_NATIVE_INT, 1, &m->spline_bins, NULL);
  if (rc == FG_OK && m->gauge_map == FG_MAP_SPLINE &&
      (m->spline_bins < FG_SPLINE_BINS_MIN || m->spline_bins > FG_SPLINE_BINS_MAX))
    rc = site_fail(s, g, "attribute 'spline_bins' is %d, outside %d..%d", m->spline_bins,
                   FG_SPLINE_BINS_MIN, FG_SPLINE_BINS_MAX);
  return rc;
}

static int read_model_attrs(const ck_site *s, hid_t g, fg_model_config *m)
{
  int base = 0, act = 0, init = 0;
  int rc = enum_read(s, g, "base", base_name_of, &base);
  if (rc == FG_OK)
    rc = enum_read(s, g, "activation", activation_name_of, &act);
  if (rc == FG_OK)
    rc = enum_read(s, g, "init_scheme", init_name_of, &init);
  /* model.symmetry: from format_version 3; older files have none. */
  int sym = FG_SYM_NONE;
  if (rc == FG_OK && s->version >= 3)
    rc = enum_read(s, g, "symmetry", symmetry_name_of, &sym);
  m->base = (fg_base_kind)base;
  m->activation = (fg_activation)act;
  m->init_scheme = (fg_init_scheme)init;
  if (rc == FG_OK) /* files before the keys hold plaquettes and the NCP map */
    rc = read_gauge_attrs(s, g, m);
  m->symmetry = (fg_symmetry_kind)sym;
  if (rc == FG_OK)
    rc = read_fields(s, g, m, model_fields, NFIELDS(model_fields));
  if (rc == FG_OK)
    rc = attr_read(s, g, "hidden_channels", H5T_NATIVE_INT, FG_MAXHIDDEN, m->hidden_channels,
                   &m->n_hidden);
  if (rc != FG_OK)
    return rc;
  if (m->coupling_layers < 0)
    return site_fail(s, g, "coupling_layers %d is negative", m->coupling_layers);
  if (m->kernel_size < 1 || m->kernel_size % 2 == 0)
    return site_fail(s, g, "kernel_size %d is not a positive odd number", m->kernel_size);
  for (int c = 0; c < m->n_hidden; ++c)
    if (m->hidden_channels[c] < 1)
      return site_fail(s, g, "hidden_channels[%d] = %d is not positive", c, m->hidden_channels[c]);
  return FG_OK;
}

/* A trained flow never holds NaN or infinity: such a value means a
 * diverged training or a damaged file, and would make every sample NaN. */
static int finite_floats(const ck_site *s, hid_t loc, const char *name, const float *p, size_t n)
{
  size_t bad = first_nonfinite_f(p, n);
  if (bad < n)
    return site_fail(s, loc, "dataset '%s' holds a non-finite value (%g) at flat index %zu",
                     name, (double)p[bad], bad);
  return FG_OK;
}

/* A group directly under /model that the layout does not name: a file
 * whose architecture attributes were changed, or a foreign model. */
static int no_extra_groups(const ck_site *s, hid_t model, const fg_param_layout *lay)
{
  H5G_info_t info;
  if (H5Gget_info(model, &info) < 0)
    return site_fail(s, model, "cannot list the group");
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    char name[64];
    if (H5Lget_name_by_idx(model, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name,
                           H5P_DEFAULT) < 0)
      return site_fail(s, model, "cannot list the group");
    hid_t o = H5Oopen(model, name, H5P_DEFAULT);
    int known = o < 0 || H5Iget_type(o) != H5I_GROUP; /* only groups are layers */
    if (o >= 0)
      H5Oclose(o);
    for (size_t k = 0; k < lay->n && !known; ++k)
      known = strcmp(lay->t[k].group[0], name) == 0;
    if (!known)
      return site_fail(s, model, "holds group '%s', which the architecture does not have", name);
  }
  return FG_OK;
}

/* Every declared tensor, shapes checked, read into p + offset unless p is
 * NULL (shapes only, so a file that disagrees with its architecture is
 * refused before allocating). */
static int read_layers(const ck_site *s, hid_t model, const fg_param_layout *lay, float *p)
{
  group_walk w = {.depth = 0};
  int rc = FG_OK;
  for (size_t k = 0; k < lay->n && rc == FG_OK; ++k) {
    const fg_param_tensor *t = &lay->t[k];
    hsize_t dims[4];
    tensor_dims(t, dims);
    rc = walk_to(s, model, &w, t, 0);
    if (rc == FG_OK)
      rc = dset_read(s, w.g[w.depth - 1], t->name, H5T_NATIVE_FLOAT, t->rank, dims,
                     p ? p + t->offset : NULL);
    if (rc == FG_OK && p != NULL)
      rc = finite_floats(s, w.g[w.depth - 1], t->name, p + t->offset, t->count);
  }
  return walk_close(s, &w, 0, rc);
}

/* /model/params_sha256 against the parameters read: required from
 * format_version 2 on, checked when present in a version 1 file. */
static int verify_digest(const ck_site *s, hid_t model, const fg_checkpoint *ck)
{
  if (H5Aexists(model, "params_sha256") <= 0)
    return s->version >= 2 ? site_fail(s, model, "missing attribute 'params_sha256' "
                                                 "(required from format_version 2)")
                           : FG_OK;
  char stored[80], hex[65];
  int rc = text_read_into(s, model, "params_sha256", stored, sizeof stored);
  if (rc == FG_OK)
    rc = params_digest(s, ck->params, ck->nparams, hex);
  if (rc == FG_OK && strcmp(stored, hex) != 0)
    rc = site_fail(s, model, "attribute 'params_sha256' %.16s... does not match the parameters "
                   "(%.16s...): the file is damaged", stored, hex);
  return rc;
}

static int read_model(const ck_site *s, hid_t file, fg_checkpoint *ck)
{
  hid_t g = group_open(s, file, "model");
  if (g < 0)
    return s->code;
  fg_model_config *m = &ck->model;
  fg_param_layout lay = {0};
  size_t ntensors = 0;
  int rc = read_model_attrs(s, g, m);
  if (rc == FG_OK &&
      (fg_param_layout_count(m, &ntensors, &ck->nparams) != 0 ||
       ck->nparams > SIZE_MAX / sizeof(double) || ntensors > ((size_t)1 << 24)))
    rc = site_fail(s, g, "the architecture's parameter count overflows");
  if (rc == FG_OK && fg_param_layout_build(m, &lay, s->err) != FG_OK)
    rc = FG_ERR_RUNTIME;
  if (rc == FG_OK)
    rc = no_extra_groups(s, g, &lay);
  if (rc == FG_OK)
    rc = read_layers(s, g, &lay, NULL);
  if (rc == FG_OK && (ck->params = fg_alloc(ck->nparams * sizeof(float), s->err, s->where)) == NULL)
    rc = FG_ERR_RUNTIME;
  if (rc == FG_OK)
    rc = read_layers(s, g, &lay, ck->params);
  fg_param_layout_free(&lay);
  if (rc == FG_OK)
    rc = verify_digest(s, g, ck);
  return group_close(s, g, rc);
}

static int read_state(const ck_site *s, hid_t file, fg_checkpoint *ck)
{
  hid_t g = group_open(s, file, "optimizer");
  if (g < 0)
    return s->code;
  int kind = 0, rc = enum_read(s, g, "name", optimizer_name_of, &kind);
  ck->optimizer = (fg_optimizer_kind)kind;
  if (rc == FG_OK)
    rc = attr_read(s, g, "t", H5T_NATIVE_INT64, 1, &ck->opt_t, NULL);
  if (rc == FG_OK)
    rc = dset_length(s, g, "state", &ck->opt_state_len);
  if (rc == FG_OK && ck->opt_state_len > SIZE_MAX / sizeof(double))
    rc = site_fail(s, g, "dataset 'state' is too long");
  hsize_t n = (hsize_t)ck->opt_state_len;
  if (rc == FG_OK &&
      (ck->opt_state = fg_alloc(ck->opt_state_len * sizeof(double), s->err, s->where)) == NULL)
    rc = FG_ERR_RUNTIME;
  if (rc == FG_OK && n > 0)
    rc = dset_read(s, g, "state", H5T_NATIVE_DOUBLE, 1, &n, ck->opt_state);
  size_t want = state_length(ck->optimizer, ck->nparams), bad;
  if (rc == FG_OK && ck->opt_t < 0)
    rc = site_fail(s, g, "attribute 't' is %lld, negative", (long long)ck->opt_t);
  /* no state is right only for an optimizer that never stepped */
  if (rc == FG_OK && ck->opt_state_len != want && !(ck->opt_state_len == 0 && ck->opt_t == 0))
    rc = site_fail(s, g, "dataset 'state' holds %zu values, optimizer %s of %zu parameters "
                   "needs %zu", ck->opt_state_len, fg_optimizer_name(ck->optimizer),
                   ck->nparams, want);
  if (rc == FG_OK && (bad = first_nonfinite_d(ck->opt_state, ck->opt_state_len)) < ck->opt_state_len)
    rc = site_fail(s, g, "dataset 'state' holds a non-finite value (%g) at index %zu",
                   ck->opt_state[bad], bad);
  if ((rc = group_close(s, g, rc)) != FG_OK)
    return rc;
  if ((g = group_open(s, file, "schedule")) < 0)
    return s->code;
  size_t len = 0;
  rc = dset_length(s, g, "ess_window", &len);
  if (rc == FG_OK && len > ESS_WINDOW_CAP)
    rc = site_fail(s, g, "ess_window holds %zu values, at most %zu fit", len, ESS_WINDOW_CAP);
  ck->ess_window_len = rc == FG_OK ? (int)len : 0;
  n = (hsize_t)len;
  if (rc == FG_OK && n > 0)
    rc = dset_read(s, g, "ess_window", H5T_NATIVE_DOUBLE, 1, &n, ck->ess_window);
  return group_close(s, g, rc);
}

/* Counts that cannot be negative (a damaged or hand-edited file). */
static int check_counts(const ck_site *s, hid_t file, const fg_checkpoint *ck)
{
  if (ck->step < 0)
    return site_fail(s, file, "attribute 'step' is %lld, negative", (long long)ck->step);
  if (ck->n_train < 0)
    return site_fail(s, file, "attribute 'n_train' is %lld, negative", (long long)ck->n_train);
  if (ck->ess_samples < 0)
    return site_fail(s, file, "attribute 'ess_samples' is %lld, negative",
                     (long long)ck->ess_samples);
  if (ck->batch_size < 0 || ck->ranks < 0)
    return site_fail(s, file, "attribute 'batch_size' (%d) or 'ranks' (%d) is negative",
                     ck->batch_size, ck->ranks);
  return FG_OK;
}

static int read_file(const ck_site *s, hid_t file, fg_checkpoint *ck)
{
  int rc = read_fields(s, file, ck, root_fields, NFIELDS(root_fields));
  if (rc == FG_OK)
    rc = check_counts(s, file, ck);
  if (rc == FG_OK)
    rc = text_read_into(s, file, "created", ck->created, sizeof ck->created);
  if (rc == FG_OK)
    rc = text_read(s, file, "config", 0, &ck->config_text);
  if (rc == FG_OK)
    rc = read_theory(s, file, &ck->theory);
  if (rc == FG_OK)
    rc = read_model(s, file, ck);
  if (rc == FG_OK)
    rc = read_state(s, file, ck);
  return rc;
}

int fg_checkpoint_read(const char *path, fg_checkpoint *ck, fg_error *err)
{
  static const char where[] = "fg_checkpoint_read [checkpoint.c]";
  memset(ck, 0, sizeof *ck);
  ck_site s = {where, path, FG_ERR_INPUT, err, 0};
  fg_h5_quiet q;
  fg_h5_quiet_begin(&q);
  hid_t file;
  int rc = open_checkpoint(&s, &file);
  if (rc == FG_OK)
    rc = read_file(&s, file, ck);
  if (file >= 0 && H5Fclose(file) < 0 && rc == FG_OK)
    rc = site_fail(&s, -1, "cannot close");
  fg_h5_quiet_end(&q);
  return rc;
}

void fg_checkpoint_free(fg_checkpoint *ck)
{
  fg_free(ck->params);
  fg_free(ck->opt_state);
  fg_free(ck->config_text);
  memset(ck, 0, sizeof *ck);
}

/* ------------------------------------------------------------ printing */

/* Six digits, for the table (JSON: the shortest text that reads back). */
static void number_text(char *buf, size_t size, double x)
{
  snprintf(buf, size, "%.6g", x);
}

static double window_mean(const fg_checkpoint *ck)
{
  double sum = 0;
  for (int i = 0; i < ck->ess_window_len; ++i)
    sum += ck->ess_window[i];
  return ck->ess_window_len > 0 ? sum / ck->ess_window_len : NAN;
}

static double mu_of(const fg_checkpoint *ck)
{
  if (ck->model.base != FG_BASE_FREE_FIELD || ck->params == NULL || ck->nparams == 0)
    return NAN;
  return ck->params[ck->nparams - 1];
}

static void json_ints(fg_json *j, const char *key, int n, const int *v)
{
  fg_json_array(j, key);
  for (int i = 0; i < n; ++i)
    fg_json_int(j, NULL, v[i]);
  fg_json_end(j);
}

static void json_theory_model(fg_json *j, const fg_checkpoint *ck)
{
  const fg_theory_config *t = &ck->theory;
  const fg_model_config *m = &ck->model;
  fg_json_object(j, "theory");
  fg_json_string(j, "name", fg_theory_name(t->name));
  json_ints(j, "lattice", t->nd, t->extent);
  fg_coupling g[FG_MAX_COUPLINGS];
  int ng = fg_theory_couplings(t, g);
  for (int k = 0; k < ng; ++k)
    fg_json_exact(j, g[k].name, g[k].value);
  fg_json_end(j);
  fg_json_break(j);
  fg_json_object(j, "model");
  fg_json_string(j, "base", fg_base_name(m->base));
  fg_json_int(j, "coupling_layers", m->coupling_layers);
  fg_json_int(j, "kernel_size", m->kernel_size);
  json_ints(j, "hidden_channels", m->n_hidden, m->hidden_channels);
  fg_json_string(j, "activation", fg_activation_name(m->activation));
  if (m->base == FG_BASE_HAAR)
    fg_json_string(j, "gauge_loops", fg_gauge_loops_name(m->gauge_loops));
  if (m->base == FG_BASE_HAAR)
    fg_json_string(j, "gauge_map", fg_gauge_map_name(m->gauge_map));
  if (m->base == FG_BASE_HAAR && m->gauge_map == FG_MAP_SPLINE)
    fg_json_int(j, "spline_bins", m->spline_bins);
  if (m->base == FG_BASE_HAAR)
    fg_json_string(j, "gauge_order", fg_gauge_order_name(m->gauge_order));
  fg_json_string(j, "init_scheme", fg_init_name(m->init_scheme));
  fg_json_exact(j, "init_scale", m->init_scale);
  fg_json_exact(j, "mu_init", m->mu_init);
  fg_json_string(j, "symmetry", fg_symmetry_name(m->symmetry));
  fg_json_float(j, "mu", mu_of(ck));
  fg_json_end(j);
}

static void json_training(fg_json *j, const fg_checkpoint *ck)
{
  fg_json_break(j);
  fg_json_unsigned(j, "parameters", ck->nparams);
  fg_json_unsigned(j, "seed", ck->seed);
  fg_json_break(j);
  fg_json_object(j, "optimizer");
  fg_json_string(j, "name", fg_optimizer_name(ck->optimizer));
  fg_json_int(j, "t", ck->opt_t);
  fg_json_unsigned(j, "state_len", ck->opt_state_len);
  fg_json_end(j);
  fg_json_break(j);
  fg_json_int(j, "step", ck->step);
  fg_json_int(j, "n_train", ck->n_train);
  fg_json_int(j, "batch_size", ck->batch_size);
  fg_json_int(j, "ranks", ck->ranks);
  fg_json_exact(j, "lr", ck->lr);
  fg_json_break(j);
  fg_json_exact(j, "ess", ck->ess < 0 ? NAN : ck->ess);
  fg_json_int(j, "ess_samples", ck->ess_samples);
  fg_json_object(j, "ess_window");
  fg_json_int(j, "len", ck->ess_window_len);
  fg_json_exact(j, "mean", window_mean(ck));
  fg_json_end(j);
  fg_json_exact(j, "loss", ck->loss);
  fg_json_string(j, "stop_reason", ck->stop_reason);
  fg_json_break(j);
  fg_json_object(j, "cost");
  fg_json_exact(j, "setup_s", ck->wall_seconds);
  fg_json_exact(j, "train_s_per_sample",
                ck->n_train > 0 ? ck->wall_seconds / (double)ck->n_train : NAN);
  fg_json_exact(j, "allreduce_s", ck->allreduce_seconds);
  fg_json_end(j);
}

static void print_json(FILE *out, const fg_checkpoint *ck)
{
  fg_json j;
  fg_json_begin(&j, out);
  fg_json_object(&j, NULL);
  fg_json_string(&j, "format", FG_CHECKPOINT_FORMAT);
  fg_json_int(&j, "format_version", format_version_of(&ck->model));
  fg_json_break(&j);
  json_theory_model(&j, ck);
  json_training(&j, ck);
  fg_json_break(&j);
  fg_json_object(&j, "provenance");
  fg_json_string(&j, "flowgen_version", ck->flowgen_version);
  fg_json_string(&j, "git_revision", ck->git_revision);
  fg_json_string(&j, "created", ck->created);
  fg_json_end(&j);
  fg_json_break(&j);
  fg_json_string(&j, "config", ck->config_text);
  fg_json_end(&j);
}

__attribute__((format(printf, 3, 4)))
static void row(FILE *out, const char *label, const char *fmt, ...)
{
  fprintf(out, "%-20s ", label);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(out, fmt, ap);
  va_end(ap);
  fputc('\n', out);
}

static void table_model(FILE *out, const fg_checkpoint *ck)
{
  const fg_theory_config *t = &ck->theory;
  const fg_model_config *m = &ck->model;
  char a[40], list[160] = "", couplings[256] = "";
  fg_coupling g[FG_MAX_COUPLINGS];
  int ng = fg_theory_couplings(t, g);
  for (int k = 0, used = 0; k < ng && used < (int)sizeof couplings; ++k) {
    number_text(a, sizeof a, g[k].value);
    used += snprintf(couplings + used, sizeof couplings - (size_t)used, "  %s = %s", g[k].name, a);
  }
  row(out, "theory", "%s%s", fg_theory_name(t->name), couplings);
  size_t n = 0;
  for (int mu = 0; mu < t->nd && n < sizeof list; ++mu)
    n += (size_t)snprintf(list + n, sizeof list - n, "%s%d", mu ? " x " : "", t->extent[mu]);
  row(out, "lattice", "%s", list);
  n = 0;
  list[0] = '\0';
  for (int c = 0; c < m->n_hidden && n < sizeof list; ++c)
    n += (size_t)snprintf(list + n, sizeof list - n, "%s%d", c ? ", " : "", m->hidden_channels[c]);
  char map[80] = "";
  if (m->base == FG_BASE_HAAR && m->gauge_map == FG_MAP_SPLINE)
    snprintf(map, sizeof map, ", circle map spline of %d bins", m->spline_bins);
  if (m->base == FG_BASE_HAAR && m->gauge_order == FG_ORDER_BLOCKED)
    snprintf(map + strlen(map), sizeof map - strlen(map), ", masks blocked");
  row(out, "architecture", "%d %s layers, kernel %dx%d, hidden [%s], %s (output %s)%s%s",
      m->coupling_layers, m->base == FG_BASE_HAAR ? "gauge_coupling" : "affine coupling",
      m->kernel_size, m->kernel_size, list, fg_activation_name(m->activation),
      m->base == FG_BASE_HAAR ? "linear" : "tanh",
      m->gauge_loops == FG_LOOPS_RECTANGLE ? ", inputs plaquettes and rectangles" : "", map);
  number_text(a, sizeof a, mu_of(ck));
  row(out, "base", "%s%s%s", fg_base_name(m->base), m->base == FG_BASE_FREE_FIELD ? ", mu = " : "",
      m->base == FG_BASE_FREE_FIELD ? a : "");
  number_text(a, sizeof a, m->init_scale);
  row(out, "init", "%s, scale %s", fg_init_name(m->init_scheme), a);
  row(out, "symmetry", "%s", m->symmetry == FG_SYM_Z2
                                 ? "z2: q(phi) = (q_flow(phi) + q_flow(-phi)) / 2"
                                 : "none");
  row(out, "parameters", "%zu", ck->nparams);
  row(out, "seed", "%" PRIu64, ck->seed);
}

static void table_training(FILE *out, const fg_checkpoint *ck)
{
  char a[40], b[40];
  row(out, "optimizer", "%s, t = %" PRId64 ", %zu state values", fg_optimizer_name(ck->optimizer),
      ck->opt_t, ck->opt_state_len);
  row(out, "step", "%" PRId64, ck->step);
  row(out, "N_train", "%" PRId64, ck->n_train);
  row(out, "batch size", "%d per rank x %d ranks", ck->batch_size, ck->ranks);
  number_text(a, sizeof a, ck->lr);
  row(out, "learning rate", "%s", a);
  number_text(a, sizeof a, ck->ess);
  if (ck->ess < 0 || !isfinite(ck->ess))
    row(out, "ESS", "not measured");
  else
    row(out, "ESS", "%s (%" PRId64 " samples)", a, ck->ess_samples);
  number_text(a, sizeof a, window_mean(ck));
  row(out, "rolling ESS", "%s (mean of the last %d batches)",
      ck->ess_window_len > 0 ? a : "-", ck->ess_window_len);
  number_text(a, sizeof a, ck->loss);
  row(out, "loss", "%s", a);
  row(out, "stop reason", "%.*s", (int)strnlen(ck->stop_reason, sizeof ck->stop_reason),
      ck->stop_reason);
  row(out, "C_setup", "%.3f s", ck->wall_seconds);
  number_text(b, sizeof b, ck->n_train > 0 ? ck->wall_seconds / (double)ck->n_train : NAN);
  row(out, "Delta C_train", "%s s per trained sample", ck->n_train > 0 ? b : "-");
  row(out, "allreduce", "%.3f s", ck->allreduce_seconds);
}

static void print_table(FILE *out, const fg_checkpoint *ck)
{
  row(out, "checkpoint", "%s, version %d", FG_CHECKPOINT_FORMAT, format_version_of(&ck->model));
  table_model(out, ck);
  table_training(out, ck);
  row(out, "flowgen version", "%.*s", (int)strnlen(ck->flowgen_version, sizeof ck->flowgen_version),
      ck->flowgen_version);
  row(out, "git revision", "%.*s", (int)strnlen(ck->git_revision, sizeof ck->git_revision),
      ck->git_revision);
  row(out, "created", "%.*s", (int)strnlen(ck->created, sizeof ck->created), ck->created);
  fprintf(out, "config:\n");
  const char *p = ck->config_text ? ck->config_text : "";
  while (*p != '\0') {
    size_t n = strcspn(p, "\n");
    fprintf(out, "    %.*s\n", (int)n, p);
    p += n + (p[n] == '\n');
  }
}

int fg_checkpoint_print(FILE *out, const fg_checkpoint *ck, int json, fg_error *err)
{
  static const char where[] = "fg_checkpoint_print [checkpoint.c]";
  if (json)
    print_json(out, ck);
  else
    print_table(out, ck);
  if (ferror(out) || fflush(out) != 0)
    return fg_fail(err, FG_ERR_RUNTIME, where, "cannot write the checkpoint summary: %s",
                   strerror(errno));
  return FG_OK;
}
