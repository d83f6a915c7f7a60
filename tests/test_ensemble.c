/* test_ensemble.c -- ensemble files hold bit for bit what any number of ranks wrote in any order, resume, appear under their name only when complete, refuse bad files (a changed value by its row checksum), read flowgen 0.1's format, store a component axis, refuse sizes no file system holds, agree on errors, and keep parallel I/O collective. */
#include "flowgen/ensemble.h"

#include <hdf5.h>
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

/* The folder all ranks share (made by rank 0 in main). */
static char dir[4096];

/* ------------------------------------------------------------ helpers */

static int world_rank(void)
{
  int r;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

static int world_size(void)
{
  int s;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

/* Whether ok holds on every rank: assertions on it fail on all ranks at
 * once, so no rank is left waiting in a collective call. */
static int all_ranks(int ok)
{
  int all;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return all;
}

/* Rank 0's verdict, on every rank. */
static int from_root(int ok)
{
  MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return ok;
}

static void path_in_dir(char *buf, size_t size, const char *name)
{
  snprintf(buf, size, "%s/%s", dir, name);
}

static int exists(const char *path)
{
  struct stat st;
  return stat(path, &st) == 0;
}

static fg_ensemble_layout flow_layout(int64_t n)
{
  fg_ensemble_layout lay = {FG_ENSEMBLE_FLOW, 2, {4, 6}, n, n, 1};
  return lay;
}

static size_t volume_of(const fg_ensemble_layout *lay)
{
  size_t v = 1;
  for (int mu = 0; mu < lay->nd; ++mu)
    v *= (size_t)lay->extent[mu];
  return v;
}

/* Row j's data; values a lossy path would change (-0, a subnormal, a NaN
 * payload) sit in the first rows. */
static double site_value(int64_t j, size_t x)
{
  if (j == 0 && x == 0)
    return -0.0;
  if (j == 1 && x == 1)
    return 4.9e-324;
  if (j == 2 && x == 2) {
    uint64_t bits = 0x7ff8000000012345ULL;
    double nan_payload;
    memcpy(&nan_payload, &bits, sizeof nan_payload);
    return nan_payload;
  }
  return (double)j * 1000.0 + (double)x / 7.0;
}

static double logq_of(int64_t j) { return -0.5 * (double)j - 1.0 / 3.0; }
static double action_of(int64_t j) { return (double)(j * j) / 7.0 + 0.1; }
static double logw_of(int64_t j) { return -action_of(j) - logq_of(j); }
static int64_t chain_index_of(int64_t i, int64_t n) { return (i * 5 + 3) % n; }
static uint8_t accepted_of(int64_t i) { return (uint8_t)(i % 3 != 0); }

/* The arrays write_rows wants for runs (first[k], count[k]) in the given order. */
typedef struct {
  double *configs, *logq, *action, *logw;
} row_data;

static row_data rows_make(size_t volume, int nruns, const int64_t *first, const int64_t *count)
{
  size_t rows = 0;
  for (int k = 0; k < nruns; ++k)
    rows += (size_t)count[k];
  row_data r = {malloc((rows * volume + 1) * sizeof(double)), malloc((rows + 1) * sizeof(double)),
                malloc((rows + 1) * sizeof(double)), malloc((rows + 1) * sizeof(double))};
  ck_assert(r.configs && r.logq && r.action && r.logw);
  size_t at = 0;
  for (int k = 0; k < nruns; ++k)
    for (int64_t j = first[k]; j < first[k] + count[k]; ++j, ++at) {
      for (size_t x = 0; x < volume; ++x)
        r.configs[at * volume + x] = site_value(j, x);
      r.logq[at] = logq_of(j);
      r.action[at] = action_of(j);
      r.logw[at] = logw_of(j);
    }
  return r;
}

static void rows_free(row_data *r)
{
  free(r->configs);
  free(r->logq);
  free(r->action);
  free(r->logw);
}

static int write_runs(fg_ensemble *e, size_t volume, int nruns, const int64_t *first,
                      const int64_t *count, int with_flow, fg_error *err)
{
  row_data r = rows_make(volume, nruns, first, count);
  int rc = fg_ensemble_write_rows(e, nruns, first, count, r.configs, with_flow ? r.logq : NULL,
                                  r.action, with_flow ? r.logw : NULL, err);
  rows_free(&r);
  return rc;
}

/* This rank's share of rows [lo, hi) in blocks of 3 rows (block b belongs
 * to rank b % size), listed last block first, written in two calls: odd
 * list positions, then even ones plus an empty run. */
static int write_blocks(fg_ensemble *e, size_t volume, int64_t lo, int64_t hi, MPI_Comm comm,
                        int with_flow, fg_error *err)
{
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  int64_t first[2][64], count[2][64];
  int n[2] = {0, 0}, listed = 0;
  for (int64_t b = (hi - 1) / 3; b >= lo / 3; --b) {
    int64_t a = b * 3 > lo ? b * 3 : lo, z = b * 3 + 3 < hi ? b * 3 + 3 : hi;
    if (b % size != rank || a >= z)
      continue;
    int call = listed++ % 2;
    ck_assert(n[call] < 63);
    first[call][n[call]] = a;
    count[call][n[call]++] = z - a;
  }
  first[1][n[1]] = lo;
  count[1][n[1]++] = 0;
  int rc = write_runs(e, volume, n[0], first[0], count[0], with_flow, err);
  if (rc == FG_OK)
    rc = write_runs(e, volume, n[1], first[1], count[1], with_flow, err);
  return rc;
}

/* Chain steps [lo, hi) written by rank root. */
static int write_chain_part(fg_ensemble *e, int64_t lo, int64_t hi, int64_t n, int root,
                            fg_error *err)
{
  int64_t index[64];
  uint8_t accepted[64];
  ck_assert(hi - lo <= 64);
  for (int64_t i = lo; i < hi; ++i) {
    index[i - lo] = chain_index_of(i, n);
    accepted[i - lo] = accepted_of(i);
  }
  return fg_ensemble_write_chain(e, lo, hi - lo, index, accepted, root, err);
}

static int bits_equal(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* Whether d holds exactly rows [0, n) and chain steps [0, n) of the pattern. */
static int data_matches(const fg_ensemble_data *d, const fg_ensemble_layout *lay)
{
  size_t v = volume_of(lay);
  int flow = lay->kind == FG_ENSEMBLE_FLOW;
  if (d->layout.kind != lay->kind || d->layout.nd != lay->nd ||
      d->layout.n_configs != lay->n_configs || d->layout.n_chain != lay->n_chain ||
      (size_t)d->volume != v || (flow ? !d->logq || !d->logw : d->logq || d->logw))
    return 0;
  for (int mu = 0; mu < lay->nd; ++mu)
    if (d->layout.extent[mu] != lay->extent[mu])
      return 0;
  for (int64_t j = 0; j < lay->n_configs; ++j) {
    for (size_t x = 0; x < v; ++x)
      if (!bits_equal(d->configs[(size_t)j * v + x], site_value(j, x)))
        return 0;
    if (!bits_equal(d->action[j], action_of(j)) ||
        (flow && (!bits_equal(d->logq[j], logq_of(j)) || !bits_equal(d->logw[j], logw_of(j)))))
      return 0;
  }
  for (int64_t i = 0; i < lay->n_chain; ++i)
    if (d->chain_index[i] != chain_index_of(i, lay->n_configs) ||
        d->chain_accepted[i] != accepted_of(i))
      return 0;
  return 1;
}

static double attr_number(const fg_ensemble_data *d, const char *name)
{
  const fg_ensemble_attr *a = fg_ensemble_attr_find(d, name);
  return a != NULL && !a->is_string ? a->value : NAN;
}

static const char *attr_text(const fg_ensemble_data *d, const char *name)
{
  const fg_ensemble_attr *a = fg_ensemble_attr_find(d, name);
  return a != NULL && a->is_string ? a->text : "";
}

/* Whether path loads and holds lay and the pattern. Local. */
static int loads_pattern(const char *path, const fg_ensemble_layout *lay)
{
  fg_ensemble_data d;
  fg_error err = {0};
  int ok = fg_ensemble_load(path, &d, &err) == FG_OK;
  if (!ok)
    fprintf(stderr, "load: %s\n", err.msg);
  ok = ok && data_matches(&d, lay);
  fg_ensemble_data_free(&d);
  return ok;
}

/* Rank 0's loads_pattern, on every rank (collective). */
static int root_loads_pattern(const char *path, const fg_ensemble_layout *lay)
{
  return from_root(world_rank() == 0 ? loads_pattern(path, lay) : 1);
}

/* ------------------------------------------------------------- tests */

START_TEST(rows_written_by_runs_in_any_order_round_trip_bit_for_bit)
{
  char path[4200], tmp[4210];
  path_in_dir(path, sizeof path, "new/sub/roundtrip.h5");
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  fg_ensemble_layout lay = flow_layout(23);
  size_t v = volume_of(&lay);
  fg_ensemble *e = NULL;
  fg_error err = {0};
  int last = world_size() - 1;
  ck_assert_msg(all_ranks(fg_ensemble_create(MPI_COMM_WORLD, path, &lay, &e, &err) == FG_OK),
                "%s", err.msg);
  ck_assert(all_ranks(write_blocks(e, v, 0, 23, MPI_COMM_WORLD, 1, &err) == FG_OK));
  /* the chain from the last rank, in two pieces, the later one first */
  ck_assert(all_ranks(write_chain_part(e, 10, 23, 23, last, &err) == FG_OK));
  ck_assert(all_ranks(write_chain_part(e, 0, 10, 23, last, &err) == FG_OK));
  /* a collective read sees what every rank wrote */
  double back[4 * 24];
  ck_assert(all_ranks(fg_ensemble_read_rows(e, 5, 4, back, &err) == FG_OK));
  int same = 1;
  for (size_t i = 0; i < 4 * v; ++i)
    same &= bits_equal(back[i], site_value(5 + (int64_t)(i / v), i % v));
  ck_assert(all_ranks(same));
  const char *text = "seed: 1\ntheory: {name: phi4, lambda: 0.5}  # \xce\xbb\n";
  ck_assert(all_ranks(fg_ensemble_set_attr_string(e, "config", text, &err) == FG_OK));
  ck_assert(all_ranks(fg_ensemble_set_attr_int64(e, "seed", 1234567890123LL, &err) == FG_OK));
  ck_assert(all_ranks(fg_ensemble_set_attr_double(e, "acceptance", 0.41, &err) == FG_OK));
  ck_assert(all_ranks(fg_ensemble_set_attr_double(e, "acceptance", 0.42, &err) == FG_OK));
  /* a name reused with another type takes the new one */
  ck_assert(all_ranks(fg_ensemble_set_attr_string(e, "x", "text", &err) == FG_OK));
  ck_assert(all_ranks(fg_ensemble_set_attr_double(e, "x", 2.5, &err) == FG_OK));
  /* enough attributes that HDF5 moves them to dense storage */
  for (int i = 0; i < 6; ++i) {
    char name[32];
    snprintf(name, sizeof name, "extra_%d", i);
    ck_assert(all_ranks(fg_ensemble_set_attr_int64(e, name, i, &err) == FG_OK));
  }
  ck_assert(all_ranks(fg_ensemble_set_progress(e, "rows_done", 23, &err) == FG_OK));
  ck_assert(all_ranks(fg_ensemble_set_progress(e, "chain_current", 7.5, &err) == FG_OK));
  double got = 0;
  ck_assert(all_ranks(fg_ensemble_get_progress(e, "chain_current", &got, &err) == FG_OK));
  ck_assert(all_ranks(got == 7.5));
  ck_assert(all_ranks(fg_ensemble_flush(e, &err) == FG_OK));
  ck_assert(from_root(exists(tmp) && !exists(path)));
  ck_assert(all_ranks(fg_ensemble_close(e, 1, &err) == FG_OK));
  /* renamed, nothing left open */
  ck_assert(from_root(exists(path) && !exists(tmp)));
  ck_assert(all_ranks(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) == 0));
  ck_assert(root_loads_pattern(path, &lay));

  int ok = 1;
  if (world_rank() == 0) {
    fg_ensemble_data d;
    ok = fg_ensemble_load(path, &d, &err) == FG_OK && d.nattrs >= 14;
    /* creation order: the identity first, then what the writer set */
    ok = ok && strcmp(d.attrs[0].name, "format") == 0 &&
         strcmp(d.attrs[1].name, "format_version") == 0;
    ok = ok && strcmp(attr_text(&d, "format"), FG_ENSEMBLE_FORMAT) == 0;
    ok = ok && attr_number(&d, "format_version") == FG_ENSEMBLE_VERSION;
    ok = ok && strcmp(attr_text(&d, "kind"), "flow") == 0;
    ok = ok && strcmp(attr_text(&d, "config"), text) == 0;
    ok = ok && attr_number(&d, "seed") == 1234567890123.0;
    ok = ok && attr_number(&d, "acceptance") == 0.42 && attr_number(&d, "x") == 2.5;
    ok = ok && attr_number(&d, "extra_5") == 5 && attr_number(&d, "rows_done") == 23;
    ok = ok && attr_number(&d, "complete") == 1 && attr_number(&d, "chain_current") == 7.5;
    ok = ok && fg_ensemble_attr_find(&d, "absent") == NULL;
    fg_ensemble_data_free(&d);
    ok = ok && d.configs == NULL && d.attrs == NULL;
  }
  ck_assert(from_root(ok));
}
END_TEST

enum { ROWS_DEALT = 40 };

/* Whether the files at a and b hold identical datasets (n rows and steps). */
static int same_datasets(const char *a, const char *b, int64_t n, size_t v)
{
  fg_ensemble_data x, y;
  fg_error err = {0};
  int ok = fg_ensemble_load(a, &x, &err) == FG_OK && fg_ensemble_load(b, &y, &err) == FG_OK;
  size_t nv = (size_t)n * v * sizeof(double), nr = (size_t)n * sizeof(double);
  ok = ok && memcmp(x.configs, y.configs, nv) == 0 && memcmp(x.logq, y.logq, nr) == 0 &&
       memcmp(x.action, y.action, nr) == 0 && memcmp(x.logw, y.logw, nr) == 0 &&
       memcmp(x.chain_index, y.chain_index, (size_t)n * sizeof(int64_t)) == 0 &&
       memcmp(x.chain_accepted, y.chain_accepted, (size_t)n) == 0;
  fg_ensemble_data_free(&x);
  fg_ensemble_data_free(&y);
  return ok;
}

/* All ranks write rows [0, n): row j belongs to rank owner(j), one run per
 * row, listed in the scrambled order (j * 7) % n (n prime to 7). */
static int write_dealt(const char *path, const fg_ensemble_layout *lay, int scattered,
                       fg_error *err)
{
  int rank = world_rank(), size = world_size(), n = 0;
  int64_t first[64], count[64];
  ck_assert(lay->n_configs <= 64 && lay->n_configs % 7 != 0);
  for (int64_t i = 0; i < lay->n_configs; ++i) {
    int64_t j = scattered ? (i * 7) % lay->n_configs : lay->n_configs - 1 - i;
    /* scattered: owners follow no stride, so each rank's rows form many patterns */
    int owner = scattered ? (int)((j * j + j / 3) % 5 % size) : (int)(j % size);
    if (owner == rank) {
      first[n] = j;
      count[n++] = 1;
    }
  }
  fg_ensemble *e = NULL;
  int rc = fg_ensemble_create(MPI_COMM_WORLD, path, lay, &e, err);
  if (rc == FG_OK)
    rc = write_runs(e, volume_of(lay), n, first, count, 1, err);
  if (rc == FG_OK)
    rc = write_chain_part(e, 0, lay->n_chain, lay->n_configs, 0, err);
  int rc2 = e != NULL ? fg_ensemble_close(e, rc == FG_OK, err) : FG_OK;
  return rc == FG_OK ? rc2 : rc;
}

START_TEST(one_rank_and_all_ranks_write_the_same_file)
{
  char many[4200], scattered[4200], one[4200];
  path_in_dir(many, sizeof many, "many.h5");
  path_in_dir(scattered, sizeof scattered, "scattered.h5");
  path_in_dir(one, sizeof one, "one.h5");
  fg_ensemble_layout lay = flow_layout(ROWS_DEALT);
  size_t v = volume_of(&lay);
  fg_error err = {0};
  /* all ranks: interleaved (row j from rank j % size, last row first), then scattered */
  ck_assert(all_ranks(write_dealt(many, &lay, 0, &err) == FG_OK));
  ck_assert(all_ranks(write_dealt(scattered, &lay, 1, &err) == FG_OK));
  /* rank 0 alone, in order, in two calls */
  int ok = 1;
  if (world_rank() == 0) {
    fg_ensemble *e = NULL;
    ok = fg_ensemble_create(MPI_COMM_SELF, one, &lay, &e, &err) == FG_OK;
    int64_t f1[1] = {0}, c1[1] = {12}, f2[1] = {12}, c2[1] = {ROWS_DEALT - 12};
    ok = ok && write_runs(e, v, 1, f1, c1, 1, &err) == FG_OK;
    ok = ok && write_runs(e, v, 1, f2, c2, 1, &err) == FG_OK;
    ok = ok && write_chain_part(e, 0, ROWS_DEALT, ROWS_DEALT, 0, &err) == FG_OK;
    ok = ok && fg_ensemble_close(e, 1, &err) == FG_OK;
    ok = ok && same_datasets(many, one, ROWS_DEALT, v) &&
         same_datasets(scattered, one, ROWS_DEALT, v);
    ok = ok && loads_pattern(one, &lay);
  }
  ck_assert_msg(from_root(ok), "%s", err.msg);
}
END_TEST

START_TEST(an_interrupted_run_resumes_where_its_progress_says)
{
  char path[4200], tmp[4210];
  path_in_dir(path, sizeof path, "resume.h5");
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  fg_ensemble_layout lay = flow_layout(23);
  size_t v = volume_of(&lay);
  fg_error err = {0};
  fg_ensemble *e = NULL;
  ck_assert(all_ranks(fg_ensemble_create(MPI_COMM_WORLD, path, &lay, &e, &err) == FG_OK));
  ck_assert(all_ranks(write_blocks(e, v, 0, 12, MPI_COMM_WORLD, 1, &err) == FG_OK));
  ck_assert(all_ranks(write_chain_part(e, 0, 12, 23, 0, &err) == FG_OK));
  ck_assert(all_ranks(fg_ensemble_set_progress(e, "rows_done", 12, &err) == FG_OK));
  ck_assert(all_ranks(fg_ensemble_set_progress(e, "chain_current_logw", -3.25, &err) == FG_OK));
  ck_assert(all_ranks(fg_ensemble_flush(e, &err) == FG_OK));
  ck_assert(all_ranks(fg_ensemble_close(e, 0, &err) == FG_OK));
  ck_assert(from_root(exists(tmp) && !exists(path)));

  /* the unfinished file is not offered to readers, and says how to go on */
  int ok = 1;
  if (world_rank() == 0) {
    fg_ensemble_data d;
    ok = fg_ensemble_load(path, &d, &err) == FG_ERR_INPUT && strstr(err.msg, tmp) != NULL &&
         strstr(err.msg, "--resume") != NULL && d.configs == NULL;
  }
  ck_assert_msg(from_root(ok), "%s", err.msg);

  /* another layout or kind is refused on every rank, naming the file */
  fg_ensemble_layout other = flow_layout(24), hmc = lay;
  hmc.kind = FG_ENSEMBLE_HMC;
  ck_assert(all_ranks(fg_ensemble_reopen(MPI_COMM_WORLD, path, &other, &e, &err) == FG_ERR_INPUT));
  ck_assert(all_ranks(e == NULL && strstr(err.msg, tmp) != NULL && strstr(err.msg, "24") != NULL));
  ck_assert(all_ranks(fg_ensemble_reopen(MPI_COMM_WORLD, path, &hmc, &e, &err) == FG_ERR_INPUT));

  ck_assert(all_ranks(fg_ensemble_reopen(MPI_COMM_WORLD, path, &lay, &e, &err) == FG_OK));
  double rows = 0, logw = 0;
  ck_assert(all_ranks(fg_ensemble_get_progress(e, "rows_done", &rows, &err) == FG_OK));
  ck_assert(all_ranks(fg_ensemble_get_progress(e, "chain_current_logw", &logw, &err) == FG_OK));
  ck_assert(all_ranks(rows == 12 && logw == -3.25));
  ck_assert(all_ranks(fg_ensemble_get_progress(e, "never_set", &rows, &err) == FG_ERR_INPUT));
  ck_assert(all_ranks(strstr(err.msg, "never_set") != NULL));
  /* HMC resumes from its last configuration */
  double last[24];
  ck_assert(all_ranks(fg_ensemble_read_rows(e, 11, 1, last, &err) == FG_OK));
  ck_assert(all_ranks(bits_equal(last[23], site_value(11, 23))));
  ck_assert(all_ranks(write_blocks(e, v, 12, 23, MPI_COMM_WORLD, 1, &err) == FG_OK));
  ck_assert(all_ranks(write_chain_part(e, 12, 23, 23, 0, &err) == FG_OK));
  ck_assert(all_ranks(fg_ensemble_set_progress(e, "rows_done", 23, &err) == FG_OK));
  ck_assert(all_ranks(fg_ensemble_close(e, 1, &err) == FG_OK));
  ck_assert(from_root(exists(path) && !exists(tmp)));
  ck_assert(root_loads_pattern(path, &lay));

  /* a finished run has nothing to resume */
  ck_assert(all_ranks(fg_ensemble_reopen(MPI_COMM_WORLD, path, &lay, &e, &err) == FG_ERR_INPUT));
  ck_assert(all_ranks(strstr(err.msg, "completed") != NULL));
}
END_TEST

START_TEST(an_hmc_file_has_no_logq_or_logw)
{
  char path[4200];
  path_in_dir(path, sizeof path, "hmc.h5");
  fg_ensemble_layout lay = {FG_ENSEMBLE_HMC, 3, {2, 3, 4}, 10, 10, 1};
  size_t v = volume_of(&lay);
  fg_error err = {0};
  fg_ensemble *e = NULL;
  ck_assert(all_ranks(fg_ensemble_create(MPI_COMM_WORLD, path, &lay, &e, &err) == FG_OK));
  ck_assert(all_ranks(write_blocks(e, v, 0, 10, MPI_COMM_WORLD, 0, &err) == FG_OK));
  ck_assert(all_ranks(write_chain_part(e, 0, 10, 10, 0, &err) == FG_OK));
  ck_assert(all_ranks(fg_ensemble_close(e, 1, &err) == FG_OK));
  ck_assert(root_loads_pattern(path, &lay));
  int ok = 1;
  if (world_rank() == 0) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ok = f >= 0 && H5Lexists(f, "proposals/logq", H5P_DEFAULT) == 0 &&
         H5Lexists(f, "proposals/logw", H5P_DEFAULT) == 0 &&
         H5Lexists(f, "proposals/action", H5P_DEFAULT) > 0;
    hid_t d = ok ? H5Dopen2(f, "configs", H5P_DEFAULT) : -1;
    hid_t s = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t dims[8] = {0};
    /* format_version 2: the component axis after the row */
    ok = ok && s >= 0 && H5Sget_simple_extent_dims(s, dims, NULL) == 5 && dims[0] == 10 &&
         dims[1] == 1 && dims[2] == 2 && dims[3] == 3 && dims[4] == 4;
    if (s >= 0)
      H5Sclose(s);
    if (d >= 0)
      H5Dclose(d);
    if (f >= 0)
      H5Fclose(f);
    fg_ensemble_data data;
    memset(&data, 0, sizeof data);
    ok = ok && fg_ensemble_load(path, &data, &err) == FG_OK;
    const fg_ensemble_attr *kind = fg_ensemble_attr_find(&data, "kind");
    ok = ok && data.layout.kind == FG_ENSEMBLE_HMC && data.logq == NULL && data.logw == NULL &&
         kind != NULL && kind->is_string && strcmp(kind->text, "hmc") == 0;
    fg_ensemble_data_free(&data);
  }
  ck_assert_msg(from_root(ok), "%s", err.msg);
}
END_TEST

START_TEST(empty_ensembles_and_empty_writes_work)
{
  char path[4200];
  path_in_dir(path, sizeof path, "empty.h5");
  fg_ensemble_layout lay = {FG_ENSEMBLE_HMC, 1, {5}, 0, 0, 1};
  fg_error err = {0};
  fg_ensemble *e = NULL;
  ck_assert(all_ranks(fg_ensemble_create(MPI_COMM_WORLD, path, &lay, &e, &err) == FG_OK));
  ck_assert(all_ranks(fg_ensemble_write_rows(e, 0, NULL, NULL, NULL, NULL, NULL, NULL, &err) ==
                      FG_OK));
  ck_assert(all_ranks(fg_ensemble_write_chain(e, 0, 0, NULL, NULL, 0, &err) == FG_OK));
  ck_assert(all_ranks(fg_ensemble_read_rows(e, 0, 0, NULL, &err) == FG_OK));
  ck_assert_msg(all_ranks(fg_ensemble_close(e, 1, &err) == FG_OK), "%s", err.msg);
  ck_assert(root_loads_pattern(path, &lay));
  /* a round in which no rank has anything to write, then the real rows */
  path_in_dir(path, sizeof path, "idle.h5");
  lay = flow_layout(7);
  ck_assert(all_ranks(fg_ensemble_create(MPI_COMM_WORLD, path, &lay, &e, &err) == FG_OK));
  ck_assert(all_ranks(fg_ensemble_write_rows(e, 0, NULL, NULL, NULL, NULL, NULL, NULL, &err) ==
                      FG_OK));
  ck_assert(all_ranks(fg_ensemble_write_chain(e, 3, 0, NULL, NULL, 0, &err) == FG_OK));
  ck_assert(all_ranks(write_blocks(e, volume_of(&lay), 0, 7, MPI_COMM_WORLD, 1, &err) == FG_OK));
  ck_assert(all_ranks(write_chain_part(e, 0, 7, 7, 0, &err) == FG_OK));
  ck_assert(all_ranks(fg_ensemble_close(e, 1, &err) == FG_OK));
  ck_assert(root_loads_pattern(path, &lay));
}
END_TEST

START_TEST(transfers_stay_collective)
{
  char path[4200];
  path_in_dir(path, sizeof path, "collective.h5");
  fg_ensemble_layout lay = flow_layout(23);
  size_t v = volume_of(&lay);
  fg_error err = {0};
  fg_ensemble *e = NULL;
  ck_assert(all_ranks(fg_ensemble_create(MPI_COMM_WORLD, path, &lay, &e, &err) == FG_OK));
  ck_assert(all_ranks(write_blocks(e, v, 0, 23, MPI_COMM_WORLD, 1, &err) == FG_OK));
  ck_assert(all_ranks(write_chain_part(e, 0, 23, 23, 0, &err) == FG_OK));
  double back[24];
  ck_assert(all_ranks(fg_ensemble_read_rows(e, 3, 1, back, &err) == FG_OK));
  int64_t coll = -1, indep = -1;
  fg_ensemble_io_counts(e, &coll, &indep);
  /* two write_rows calls of 5 datasets (checksums too), 2 chain sets, 1 read */
  ck_assert_msg(all_ranks(coll == 13 && indep == 0), "rank %d: %lld collective, %lld independent",
                world_rank(), (long long)coll, (long long)indep);
  ck_assert(all_ranks(fg_ensemble_close(e, 0, &err) == FG_OK));
}
END_TEST

START_TEST(an_error_on_one_rank_is_an_error_on_all)
{
  char path[4200], tmp[4210];
  path_in_dir(path, sizeof path, "errors.h5");
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  fg_ensemble_layout lay = flow_layout(9);
  size_t v = volume_of(&lay);
  int rank = world_rank(), last = world_size() - 1;
  fg_error err = {0};
  fg_ensemble *e = NULL;
  /* ranks that disagree on the layout make no file */
  fg_ensemble_layout mine = flow_layout(rank == last ? 10 : 9);
  int rc = fg_ensemble_create(MPI_COMM_WORLD, path, &mine, &e, &err);
  ck_assert(all_ranks(world_size() == 1 ? rc == FG_OK : rc == FG_ERR_RUNTIME && e == NULL));
  if (e != NULL)
    ck_assert(all_ranks(fg_ensemble_close(e, 0, &err) == FG_OK));
  ck_assert(all_ranks(fg_ensemble_create(MPI_COMM_WORLD, path, &lay, &e, &err) == FG_OK));
  /* the last rank alone passes a run past the end: all fail with its message */
  int64_t first[2] = {rank == last ? 8 : 0, 0}, count[2] = {rank == last ? 2 : 0, 0};
  ck_assert(all_ranks(write_runs(e, v, 1, first, count, 1, &err) == FG_ERR_RUNTIME));
  char expect[64];
  snprintf(expect, sizeof expect, "(rank %d)", last);
  ck_assert_msg(all_ranks(world_size() == 1 || strstr(err.msg, expect) != NULL), "%s", err.msg);
  ck_assert(all_ranks(strstr(err.msg, tmp) != NULL && strstr(err.msg, "outside") != NULL));
  /* overlapping runs of one rank */
  first[0] = 2, count[0] = 3, first[1] = 4, count[1] = 1;
  rc = write_runs(e, v, rank == 0 ? 2 : 0, first, count, 1, &err);
  ck_assert(all_ranks(rc == FG_ERR_RUNTIME && strstr(err.msg, "overlap") != NULL));
  /* rows but no data */
  first[0] = 0, count[0] = 1;
  rc = fg_ensemble_write_rows(e, rank == 0, first, count, NULL, NULL, NULL, NULL, &err);
  ck_assert(all_ranks(rc == FG_ERR_RUNTIME));
  /* chain arguments that differ between ranks, a chain past its end, a bad root */
  ck_assert(all_ranks(write_chain_part(e, 0, rank == last ? 2 : 3, 9, 0, &err) ==
                      (world_size() == 1 ? FG_OK : FG_ERR_RUNTIME)));
  ck_assert(all_ranks(write_chain_part(e, 5, 10, 9, 0, &err) == FG_ERR_RUNTIME));
  ck_assert(all_ranks(write_chain_part(e, 0, 1, 9, world_size(), &err) == FG_ERR_RUNTIME));
  /* names the format owns */
  ck_assert(all_ranks(fg_ensemble_set_attr_string(e, "kind", "hmc", &err) == FG_ERR_RUNTIME));
  ck_assert(all_ranks(fg_ensemble_set_progress(e, "complete", 1, &err) == FG_ERR_RUNTIME));
  ck_assert(all_ranks(fg_ensemble_set_attr_double(e, NULL, 1, &err) == FG_ERR_RUNTIME));
  /* the file is still usable after all that */
  ck_assert(all_ranks(write_blocks(e, v, 0, 9, MPI_COMM_WORLD, 1, &err) == FG_OK));
  ck_assert(all_ranks(write_chain_part(e, 0, 9, 9, 0, &err) == FG_OK));
  ck_assert(all_ranks(fg_ensemble_close(e, 1, &err) == FG_OK));
  ck_assert(root_loads_pattern(path, &lay));
  /* nothing to resume */
  char missing[4200];
  path_in_dir(missing, sizeof missing, "never.h5");
  ck_assert(all_ranks(fg_ensemble_reopen(MPI_COMM_WORLD, missing, &lay, &e, &err) == FG_ERR_INPUT));
  ck_assert(all_ranks(e == NULL && strstr(err.msg, "never.h5.tmp") != NULL));
}
END_TEST

/* Writes a small complete (or incomplete) ensemble on rank 0 alone. */
static int make_file(const char *path, int complete)
{
  fg_ensemble_layout lay = flow_layout(3);
  fg_ensemble *e;
  fg_error err = {0};
  int64_t first[1] = {0}, count[1] = {3};
  int ok = fg_ensemble_create(MPI_COMM_SELF, path, &lay, &e, &err) == FG_OK;
  ok = ok && write_runs(e, volume_of(&lay), 1, first, count, 1, &err) == FG_OK;
  ok = ok && write_chain_part(e, 0, 3, 3, 0, &err) == FG_OK;
  ok = ok && fg_ensemble_close(e, complete, &err) == FG_OK;
  if (ok && !complete) {
    char tmp[4210];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ok = rename(tmp, path) == 0;
  }
  return ok;
}

/* A serial HDF5 file with a string root attribute "format" (NULL: none). */
static int make_foreign(const char *path, const char *format)
{
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0)
    return 0;
  int ok = 1;
  if (format != NULL) {
    hid_t t = H5Tcopy(H5T_C_S1), s = H5Screate(H5S_SCALAR);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t a = H5Acreate2(f, "format", t, s, H5P_DEFAULT, H5P_DEFAULT);
    ok = a >= 0 && H5Awrite(a, t, &format) >= 0;
    H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
  }
  return H5Fclose(f) >= 0 && ok;
}

static int set_version(const char *path, int version)
{
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t a = f < 0 ? -1 : H5Aopen(f, "format_version", H5P_DEFAULT);
  int ok = a >= 0 && H5Awrite(a, H5T_NATIVE_INT, &version) >= 0;
  if (a >= 0)
    H5Aclose(a);
  return f >= 0 && H5Fclose(f) >= 0 && ok;
}

/* Whether load refuses path with FG_ERR_INPUT, naming it and saying why. */
static int refused(const char *path, const char *why)
{
  fg_ensemble_data d;
  fg_error err = {0};
  int rc = fg_ensemble_load(path, &d, &err);
  int ok = rc == FG_ERR_INPUT && strstr(err.msg, path) != NULL && strstr(err.msg, why) != NULL &&
           d.configs == NULL && d.attrs == NULL && d.nattrs == 0;
  if (!ok)
    fprintf(stderr, "load '%s' (%d): %s (wanted '%s')\n", path, rc, err.msg, why);
  fg_ensemble_data_free(&d);
  return ok;
}

START_TEST(load_refuses_missing_foreign_newer_and_incomplete_files)
{
  if (world_rank() != 0)
    return;
  char p[4200];
  path_in_dir(p, sizeof p, "absent.h5");
  ck_assert(refused(p, "no such file"));
  ck_assert(refused(dir, "folder"));
  path_in_dir(p, sizeof p, "text.h5");
  ck_assert(fg_test_write_file(p, "seed: 1\n") == 0);
  ck_assert(refused(p, "not an HDF5 file"));
  path_in_dir(p, sizeof p, "bare.h5");
  ck_assert(make_foreign(p, NULL));
  ck_assert(refused(p, "not a flowgen ensemble"));
  path_in_dir(p, sizeof p, "checkpoint.h5");
  ck_assert(make_foreign(p, "flowgen-checkpoint"));
  ck_assert(refused(p, "format 'flowgen-checkpoint'"));
  path_in_dir(p, sizeof p, "newer.h5");
  ck_assert(make_file(p, 1) && set_version(p, FG_ENSEMBLE_VERSION + 1));
  ck_assert(refused(p, "newer"));
  path_in_dir(p, sizeof p, "incomplete.h5");
  ck_assert(make_file(p, 0));
  ck_assert(refused(p, "incomplete"));
  /* a torn file: the first kilobyte of a good one */
  path_in_dir(p, sizeof p, "good.h5");
  ck_assert(make_file(p, 1));
  char torn[4200];
  path_in_dir(torn, sizeof torn, "torn.h5");
  FILE *in = fopen(p, "rb"), *out = fopen(torn, "wb");
  char buf[1024];
  ck_assert(in && out && fread(buf, 1, sizeof buf, in) == sizeof buf);
  ck_assert(fwrite(buf, 1, sizeof buf, out) == sizeof buf);
  fclose(in);
  ck_assert(fclose(out) == 0);
  fg_ensemble_data d;
  fg_error err = {0};
  ck_assert_int_eq(fg_ensemble_load(torn, &d, &err), FG_ERR_INPUT);
  ck_assert(strstr(err.msg, torn) != NULL);
  fg_ensemble_data_free(&d);
  ck_assert_int_eq(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
}
END_TEST

/* A flowgen 0.1 (format_version 1) file, by hand: /configs [n, L0, L1],
 * no component axis, no checksums. */
static int make_version1(const char *path)
{
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0)
    return 0;
  int ok = 1, one = 1;
  double done = 1.0;
  hid_t t = H5Tcopy(H5T_C_S1), sc = H5Screate(H5S_SCALAR);
  H5Tset_size(t, H5T_VARIABLE);
  const char *texts[2][2] = {{"format", FG_ENSEMBLE_FORMAT}, {"kind", "flow"}};
  for (int k = 0; k < 2; ++k) {
    hid_t a = H5Acreate2(f, texts[k][0], t, sc, H5P_DEFAULT, H5P_DEFAULT);
    ok = ok && a >= 0 && H5Awrite(a, t, &texts[k][1]) >= 0;
    H5Aclose(a);
  }
  hid_t a = H5Acreate2(f, "format_version", H5T_STD_I32LE, sc, H5P_DEFAULT, H5P_DEFAULT);
  ok = ok && a >= 0 && H5Awrite(a, H5T_NATIVE_INT, &one) >= 0;
  H5Aclose(a);
  a = H5Acreate2(f, "complete", H5T_IEEE_F64LE, sc, H5P_DEFAULT, H5P_DEFAULT);
  ok = ok && a >= 0 && H5Awrite(a, H5T_NATIVE_DOUBLE, &done) >= 0;
  H5Aclose(a);
  H5Sclose(sc);
  H5Tclose(t);
  hid_t g1 = H5Gcreate2(f, "proposals", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hid_t g2 = H5Gcreate2(f, "chain", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Gclose(g1);
  H5Gclose(g2);
  hsize_t dims[3] = {3, 4, 6};
  double configs[3 * 24], col[4][3];
  int64_t index[3];
  uint8_t acc[3];
  for (int j = 0; j < 3; ++j) {
    for (int x = 0; x < 24; ++x)
      configs[j * 24 + x] = site_value(j, (size_t)x);
    col[0][j] = logq_of(j);
    col[1][j] = action_of(j);
    col[2][j] = logw_of(j);
    index[j] = chain_index_of(j, 3);
    acc[j] = accepted_of(j);
  }
  const char *names[3] = {"proposals/logq", "proposals/action", "proposals/logw"};
  hid_t s3 = H5Screate_simple(3, dims, NULL), s1 = H5Screate_simple(1, dims, NULL);
  hid_t d = H5Dcreate2(f, "configs", H5T_IEEE_F64LE, s3, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ok = ok && d >= 0 && H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, configs) >= 0;
  H5Dclose(d);
  for (int k = 0; k < 3; ++k) {
    d = H5Dcreate2(f, names[k], H5T_IEEE_F64LE, s1, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ok = ok && d >= 0 && H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, col[k]) >= 0;
    H5Dclose(d);
  }
  d = H5Dcreate2(f, "chain/index", H5T_STD_I64LE, s1, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ok = ok && d >= 0 && H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, index) >= 0;
  H5Dclose(d);
  d = H5Dcreate2(f, "chain/accepted", H5T_STD_U8LE, s1, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ok = ok && d >= 0 && H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, acc) >= 0;
  H5Dclose(d);
  H5Sclose(s3);
  H5Sclose(s1);
  return H5Fclose(f) >= 0 && ok;
}

/* One value of /configs changed in place, as a flipped byte would. */
static int change_value(const char *path, hsize_t row, hsize_t site, double value)
{
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t d = f < 0 ? -1 : H5Dopen2(f, "configs", H5P_DEFAULT);
  hid_t sp = d < 0 ? -1 : H5Dget_space(d);
  hsize_t start[4] = {row, 0, site / 6, site % 6}, count[4] = {1, 1, 1, 1};
  hid_t mem = H5Screate_simple(4, count, NULL);
  int ok = sp >= 0 && H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
           H5Dwrite(d, H5T_NATIVE_DOUBLE, mem, sp, H5P_DEFAULT, &value) >= 0;
  H5Sclose(mem);
  if (sp >= 0)
    H5Sclose(sp);
  if (d >= 0)
    H5Dclose(d);
  return f >= 0 && H5Fclose(f) >= 0 && ok;
}

/* Format 2's checks and axis, format 1 still read, huge sizes refused. */
START_TEST(rows_carry_checksums_a_component_axis_and_old_files_stay_readable)
{
  if (world_rank() != 0)
    return;
  char p[4200];
  fg_ensemble_data d;
  fg_error err = {0};
  /* a changed value is found on load, its row named */
  path_in_dir(p, sizeof p, "flip.h5");
  ck_assert(make_file(p, 1) && loads_pattern(p, &(fg_ensemble_layout){FG_ENSEMBLE_FLOW, 2,
                                                  {4, 6}, 3, 3, 1}));
  ck_assert(change_value(p, 1, 5, site_value(1, 5) * (1 + 1e-15)));
  ck_assert(refused(p, "row 1 is damaged"));
  /* flowgen 0.1's layout loads, with no checksums */
  path_in_dir(p, sizeof p, "version1.h5");
  ck_assert(make_version1(p));
  ck_assert_msg(fg_ensemble_load(p, &d, &err) == FG_OK, "%s", err.msg);
  ck_assert(d.format_version == 1 && d.checksum == NULL && d.layout.components == 1 &&
            d.layout.nd == 2 && d.volume == 24 && d.layout.n_configs == 3);
  ck_assert(data_matches(&d, &(fg_ensemble_layout){FG_ENSEMBLE_FLOW, 2, {4, 6}, 3, 3, 1}));
  fg_ensemble_data_free(&d);
  /* two components per site: [n, 2, L0, L1], read back whole */
  path_in_dir(p, sizeof p, "two.h5");
  fg_ensemble_layout two = {FG_ENSEMBLE_HMC, 2, {2, 3}, 4, 4, 2};
  fg_ensemble *e;
  int64_t first[1] = {0}, count[1] = {4};
  ck_assert(fg_ensemble_create(MPI_COMM_SELF, p, &two, &e, &err) == FG_OK);
  ck_assert(write_runs(e, 12, 1, first, count, 0, &err) == FG_OK);
  ck_assert(write_chain_part(e, 0, 4, 4, 0, &err) == FG_OK);
  ck_assert(fg_ensemble_close(e, 1, &err) == FG_OK);
  ck_assert_msg(fg_ensemble_load(p, &d, &err) == FG_OK, "%s", err.msg);
  ck_assert(d.format_version == 2 && d.layout.components == 2 && d.volume == 12);
  ck_assert(bits_equal(d.configs[3 * 12 + 11], site_value(3, 11)));
  fg_ensemble_data_free(&d);
  /* D10: a size no file system takes is a clean error, no file, no crash at MPI_Finalize */
  path_in_dir(p, sizeof p, "huge.h5");
  fg_ensemble_layout huge = {FG_ENSEMBLE_FLOW, 2, {8, 8}, INT64_C(1000000000000000),
                             INT64_C(1000000000000000), 1};
  ck_assert_int_eq(fg_ensemble_create(MPI_COMM_SELF, p, &huge, &e, &err), FG_ERR_INPUT);
  ck_assert(e == NULL && !exists(p));
  char tmp[4210];
  snprintf(tmp, sizeof tmp, "%s.tmp", p);
  ck_assert(!exists(tmp));
  ck_assert_int_eq(fg_ensemble_check_space(p, &huge, "x.yaml: sample.proposals", &err),
                   FG_ERR_INPUT);
  ck_assert_msg(strstr(err.msg, "sample.proposals") != NULL, "%s", err.msg);
  ck_assert_int_eq(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
}
END_TEST

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) {
    char *d = fg_test_tmpdir();
    snprintf(dir, sizeof dir, "%s", d ? d : "");
    free(d);
  }
  MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  if (dir[0] == '\0')
    MPI_Abort(MPI_COMM_WORLD, 1);
  Suite *s = suite_create("ensemble");
  TCase *tc = tcase_create("any rank count");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, rows_written_by_runs_in_any_order_round_trip_bit_for_bit);
  tcase_add_test(tc, one_rank_and_all_ranks_write_the_same_file);
  tcase_add_test(tc, an_interrupted_run_resumes_where_its_progress_says);
  tcase_add_test(tc, an_hmc_file_has_no_logq_or_logw);
  tcase_add_test(tc, empty_ensembles_and_empty_writes_work);
  tcase_add_test(tc, transfers_stay_collective);
  tcase_add_test(tc, an_error_on_one_rank_is_an_error_on_all);
  tcase_add_test(tc, load_refuses_missing_foreign_newer_and_incomplete_files);
  tcase_add_test(tc, rows_carry_checksums_a_component_axis_and_old_files_stay_readable);
  suite_add_tcase(s, tc);
  int rc = fg_test_run(s);
  /* every rank's verdict counts; rank 0 removes the shared folder */
  MPI_Allreduce(MPI_IN_PLACE, &rc, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (rank == 0) {
    if (fg_test_remove_dir(dir) != 0)
      rc = EXIT_FAILURE;
  }
  MPI_Finalize();
  return rc;
}
