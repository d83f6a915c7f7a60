/*
 * h5.c -- the HDF5 helpers the io files share (h5.h, internal) and the look
 * at any flowgen file without loading it (io.h). Local.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "flowgen/config.h"
#include "flowgen/io.h"
#include "h5.h"

/* ------------------------------------------------------- shared helpers */

hid_t fg_h5_text_type(void)
{
  hid_t t = H5Tcopy(H5T_C_S1);
  if (t >= 0 && (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0)) {
    H5Tclose(t);
    return -1;
  }
  return t;
}

hid_t fg_h5_read_access(void)
{
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  herr_t ok = fapl < 0 ? -1 : H5Pset_fapl_sec2(fapl);
#if H5_VERSION_GE(1, 10, 7)
  if (ok >= 0)
    ok = H5Pset_file_locking(fapl, 0, 1);
#endif
  if (ok < 0 && fapl >= 0) {
    H5Pclose(fapl);
    return -1;
  }
  return fapl;
}

static herr_t obj_read(hid_t obj, int is_attr, hid_t mtype, void *buf)
{
  return is_attr ? H5Aread(obj, mtype, buf) : H5Dread(obj, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
}

int fg_h5_read_string(hid_t obj, int is_attr, hid_t ftype, char **out)
{
  *out = NULL;
  htri_t var = H5Tis_variable_str(ftype);
  char *vtext = NULL;
  herr_t st = -1;
  size_t len = 0;
  if (var > 0) {
    hid_t mtype = H5Tcopy(H5T_C_S1);
    if (mtype >= 0 && H5Tset_size(mtype, H5T_VARIABLE) >= 0 &&
        H5Tset_cset(mtype, H5Tget_cset(ftype)) >= 0) /* HDF5 converts no ASCII <-> UTF-8 */
      st = obj_read(obj, is_attr, mtype, &vtext);
    if (mtype >= 0)
      H5Tclose(mtype);
    len = st >= 0 && vtext != NULL ? strlen(vtext) : 0;
  } else if (var == 0) {
    len = H5Tget_size(ftype);
    st = len > 0 ? 0 : -1;
  }
  if (st < 0) {
    H5free_memory(vtext);
    return -1;
  }
  *out = fg_alloc(len + 1, NULL, NULL);
  if (*out != NULL && var > 0 && len > 0)
    memcpy(*out, vtext, len);
  H5free_memory(vtext);
  if (*out == NULL)
    return -2;
  /* fixed length: the file type doubles as memory type; fg_alloc zeroed the NUL */
  if (var == 0 && obj_read(obj, is_attr, ftype, *out) < 0) {
    fg_free(*out);
    *out = NULL;
    return -1;
  }
  return 0;
}

void fg_h5_format_shape(char *buf, size_t size, int rank, const hsize_t *dims)
{
  if (rank == 0) {
    snprintf(buf, size, "scalar");
    return;
  }
  size_t n = 0;
  for (int i = 0; i < rank && n < size; ++i)
    n += (size_t)snprintf(buf + n, size - n, "%s%llu", i ? ", " : "[",
                          (unsigned long long)dims[i]);
  if (n < size)
    snprintf(buf + n, size - n, "]");
}

/* ------------------------------------------------------ one root attribute */

static const char WHERE_PROBE[] = "fg_file_probe [h5.c]";
static const char WHERE_ATTR[] = "fg_file_attr [h5.c]";

/* Missing (pointing at an unfinished run's .tmp), folder, not HDF5: each
 * its own message. */
static int check_path(const char *path, fg_error *err)
{
  struct stat st;
  if (stat(path, &st) != 0) {
    int saved = errno;
    char tmp[FG_PATH_MAX + 8];
    int there = saved == ENOENT && snprintf(tmp, sizeof tmp, "%s.tmp", path) < (int)sizeof tmp &&
                stat(tmp, &st) == 0;
    if (there)
      return fg_fail(err, FG_ERR_INPUT, WHERE_PROBE, "'%s': no such file (an unfinished run "
                     "left '%s': 'flowgen info %s' shows its progress)", path, tmp, tmp);
    return fg_fail(err, FG_ERR_INPUT, WHERE_PROBE, "'%s': %s", path, strerror(saved));
  }
  if (S_ISDIR(st.st_mode))
    return fg_fail(err, FG_ERR_INPUT, WHERE_PROBE, "'%s': is a folder, not a file", path);
  if (H5Fis_hdf5(path) <= 0)
    return fg_fail(err, FG_ERR_INPUT, WHERE_PROBE, "'%s': not an HDF5 file (neither a flowgen "
                   "checkpoint nor an ensemble)", path);
  return FG_OK;
}

static hid_t open_read(const char *path)
{
  hid_t fapl = fg_h5_read_access();
  hid_t file = fapl < 0 ? -1 : H5Fopen(path, H5F_ACC_RDONLY, fapl);
  if (fapl >= 0)
    H5Pclose(fapl);
  return file;
}

/* The open root attribute name of file if it holds one value of class cls
 * (H5T_STRING, or H5T_FLOAT for any number); -1 otherwise. */
static hid_t attr_open_one(hid_t file, const char *name, H5T_class_t cls, hid_t *type)
{
  *type = -1;
  hid_t attr = H5Aexists(file, name) > 0 ? H5Aopen(file, name, H5P_DEFAULT) : -1;
  hid_t space = attr < 0 ? -1 : H5Aget_space(attr);
  *type = attr < 0 ? -1 : H5Aget_type(attr);
  H5T_class_t have = *type < 0 ? H5T_NO_CLASS : H5Tget_class(*type);
  int ok = space >= 0 && H5Sget_simple_extent_npoints(space) == 1 &&
           (have == cls || (cls == H5T_FLOAT && have == H5T_INTEGER));
  if (space >= 0)
    H5Sclose(space);
  if (!ok) {
    if (*type >= 0)
      H5Tclose(*type);
    if (attr >= 0)
      H5Aclose(attr);
    *type = -1;
    return -1;
  }
  return attr;
}

/* 0, or -1 (absent, not one string, unreadable), -2 (memory). */
static int attr_text(hid_t file, const char *name, char **text)
{
  hid_t type;
  hid_t attr = attr_open_one(file, name, H5T_STRING, &type);
  int rc = attr < 0 ? -1 : fg_h5_read_string(attr, 1, type, text);
  if (attr >= 0) {
    H5Tclose(type);
    H5Aclose(attr);
  }
  return rc;
}

static int attr_number(hid_t file, const char *name, double *value)
{
  hid_t type;
  hid_t attr = attr_open_one(file, name, H5T_FLOAT, &type);
  int rc = attr < 0 || H5Aread(attr, H5T_NATIVE_DOUBLE, value) < 0 ? -1 : 0;
  if (attr >= 0) {
    H5Tclose(type);
    H5Aclose(attr);
  }
  return rc;
}

static long long configs_rows(hid_t file)
{
  hsize_t dims[H5S_MAX_RANK];
  hid_t d = H5Lexists(file, "configs", H5P_DEFAULT) > 0 ? H5Dopen2(file, "configs", H5P_DEFAULT)
                                                        : -1;
  hid_t space = d < 0 ? -1 : H5Dget_space(d);
  long long n = space >= 0 && H5Sget_simple_extent_dims(space, dims, NULL) >= 1
                    ? (long long)dims[0]
                    : -1;
  if (space >= 0)
    H5Sclose(space);
  if (d >= 0)
    H5Dclose(d);
  return n;
}

static void text_into(hid_t file, const char *name, char *buf, size_t size)
{
  char *text = NULL;
  buf[0] = '\0';
  if (attr_text(file, name, &text) == 0)
    snprintf(buf, size, "%s", text); /* a long value is cut */
  fg_free(text);
}

static int probe_file(const char *path, fg_file_head *h, fg_error *err)
{
  int rc = check_path(path, err);
  hid_t file = rc == FG_OK ? open_read(path) : -1;
  if (rc == FG_OK && file < 0)
    rc = fg_fail(err, FG_ERR_INPUT, WHERE_PROBE, "'%s': has an HDF5 signature but cannot be "
                 "opened (truncated, damaged, or being written)", path);
  if (rc != FG_OK)
    return rc;
  char *format = NULL;
  if (attr_text(file, "format", &format) != 0)
    rc = fg_fail(err, FG_ERR_INPUT, WHERE_PROBE, "'%s': an HDF5 file but neither a flowgen "
                 "checkpoint nor an ensemble (no 'format' attribute)", path);
  else
    snprintf(h->format, sizeof h->format, "%s", format);
  fg_free(format);
  text_into(file, "kind", h->kind, sizeof h->kind);
  if (attr_number(file, "complete", &h->complete) != 0)
    h->complete = NAN;
  if (attr_number(file, "rows_done", &h->rows_done) != 0)
    h->rows_done = NAN;
  h->rows = configs_rows(file);
  H5Fclose(file);
  return rc;
}

int fg_file_probe(const char *path, fg_file_head *h, fg_error *err)
{
  memset(h, 0, sizeof *h);
  h->complete = h->rows_done = NAN;
  h->rows = -1;
  fg_h5_quiet q; /* failures are reported once, by us */
  fg_h5_quiet_begin(&q);
  int rc = probe_file(path, h, err);
  fg_h5_quiet_end(&q);
  return rc;
}

/* One root attribute as text (text != NULL) or a number. */
static int file_attr(const char *path, const char *name, char **text, double *value,
                     fg_error *err)
{
  fg_h5_quiet q; /* an absent attribute is the caller's to judge */
  fg_h5_quiet_begin(&q);
  hid_t file = open_read(path);
  int got = file < 0 ? -1 : text != NULL ? attr_text(file, name, text) : attr_number(file, name, value);
  if (file >= 0)
    H5Fclose(file);
  fg_h5_quiet_end(&q);
  if (got == -2)
    return fg_fail(err, FG_ERR_RUNTIME, WHERE_ATTR, "%s: out of memory reading attribute '%s'",
                   path, name);
  if (file < 0)
    return fg_fail(err, FG_ERR_INPUT, WHERE_ATTR, "%s: cannot be opened as an HDF5 file", path);
  if (got != 0)
    return fg_fail(err, FG_ERR_INPUT, WHERE_ATTR, "%s: no readable %s attribute '%s'", path,
                   text != NULL ? "string" : "numeric", name);
  return FG_OK;
}

int fg_file_attr_text(const char *path, const char *name, char **text, fg_error *err)
{
  *text = NULL;
  return file_attr(path, name, text, NULL, err);
}

int fg_file_attr_number(const char *path, const char *name, double *value, fg_error *err)
{
  return file_attr(path, name, NULL, value, err);
}
