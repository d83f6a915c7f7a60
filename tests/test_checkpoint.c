/* test_checkpoint.c -- checkpoints round-trip bit for bit, are written atomically, refuse foreign, inconsistent or non-finite files, carry a parameter checksum, print valid JSON, and leak no HDF5 ids. */
#include "flowgen/checkpoint.h"

#include <dirent.h>
#include <ftw.h>
#include <hdf5.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "testutil.h"

/* ------------------------------------------------------------ fixtures */

/* HDF5 numbers the ids of each type consecutively, so an id of a type made
 * before a call and one made after bracket every id of that type the call
 * made: none of them may still be valid. Files, groups, datasets and
 * attributes are also counted by H5Fget_obj_count. */
enum { ID_SPACE, ID_TYPE, ID_PLIST, ID_KINDS };

typedef struct {
  hid_t mark[ID_KINDS];
} id_snapshot;

static hid_t fresh_id(int kind)
{
  hid_t id = kind == ID_SPACE ? H5Screate(H5S_SCALAR)
           : kind == ID_TYPE  ? H5Tcopy(H5T_NATIVE_INT)
                              : H5Pcreate(H5P_FILE_ACCESS);
  ck_assert(id >= 0);
  ck_assert(H5Idec_ref(id) >= 0);
  return id;
}

static id_snapshot ids_now(void)
{
  id_snapshot s;
  for (int k = 0; k < ID_KINDS; ++k)
    s.mark[k] = fresh_id(k);
  ck_assert_int_eq(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
  return s;
}

static void ids_unchanged(const id_snapshot *before)
{
  ck_assert_int_eq(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
  for (int k = 0; k < ID_KINDS; ++k) {
    hid_t end = fresh_id(k);
    ck_assert(end > before->mark[k]);
    for (hid_t id = before->mark[k] + 1; id < end; ++id)
      ck_assert_msg(H5Iis_valid(id) <= 0, "HDF5 id %lld (kind %d) left open", (long long)id, k);
  }
}

static uint64_t next(uint64_t *state)
{
  *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
  return *state >> 11;
}

/* Values that a lossy path would change: -0, subnormals, wide exponents
 * (no NaN: checkpoints refuse non-finite parameters). */
static void fill_floats(float *p, size_t n, uint64_t seed)
{
  for (size_t i = 0; i < n; ++i)
    p[i] = (float)((double)(next(&seed) % 2000001) / 1e6 - 1.0) * (float)(i % 7 + 1);
  uint32_t subnormal_bits = 0x00401234u;
  if (n > 3) {
    p[0] = -0.0f;
    p[1] = 1e-45f;
    memcpy(&p[2], &subnormal_bits, sizeof subnormal_bits);
    p[3] = 3.4e38f;
  }
}

static void fill_doubles(double *p, size_t n, uint64_t seed)
{
  for (size_t i = 0; i < n; ++i)
    p[i] = (double)next(&seed) / 3.0e12 * ((i & 1) ? -1.0 : 1e-300);
  if (n > 1) {
    p[0] = -0.0;
    p[1] = 4.9e-324;
  }
}

static char *dup_text(const char *t)
{
  char *p = fg_alloc(strlen(t) + 1, NULL, "test");
  ck_assert_ptr_nonnull(p);
  memcpy(p, t, strlen(t) + 1);
  return p;
}

static const char config_a[] = "seed: 1234\ntheory:\n  name: \"phi4\"\n  lattice: [8, 8]\n"
                               "\tm2: -4.0 # tab, quote \" and backslash \\ \x01\n";

/* Architecture A: phi4 8x8, normal base, K = 3, hidden [8, 8], Adam. */
static void make_normal(fg_checkpoint *ck)
{
  memset(ck, 0, sizeof *ck);
  ck->theory = (fg_theory_config){.name = FG_THEORY_PHI4, .nd = 2, .extent = {8, 8},
                                  .m2 = -4.0, .lambda = 2.0 / 3.0, .beta = 1.0, .kappa = 0.25};
  ck->model = (fg_model_config){.base = FG_BASE_NORMAL, .coupling_layers = 3, .kernel_size = 3,
                                .n_hidden = 2, .hidden_channels = {8, 8},
                                .activation = FG_ACT_LEAKY_RELU, .init_scheme = FG_INIT_KAIMING,
                                .init_scale = 1.0, .mu_init = 1.0};
  ck->seed = 18446744073709551557ULL;
  ck->config_text = dup_text(config_a);
  ck->nparams = fg_checkpoint_nparams(&ck->model);
  ck->params = fg_alloc(ck->nparams * sizeof(float), NULL, "test");
  fill_floats(ck->params, ck->nparams, 1);
  ck->optimizer = FG_OPT_ADAM;
  ck->opt_t = 2000;
  ck->opt_state_len = 2 * ck->nparams;
  ck->opt_state = fg_alloc(ck->opt_state_len * sizeof(double), NULL, "test");
  fill_doubles(ck->opt_state, ck->opt_state_len, 2);
  ck->step = 2000;
  ck->n_train = 1024000;
  ck->batch_size = 128;
  ck->ranks = 4;
  ck->lr = 1e-3 / 3.0;
  ck->ess_window_len = 100;
  fill_doubles(ck->ess_window, 100, 3);
  ck->ess = 0.4123456789012345;
  ck->ess_samples = 8192;
  ck->loss = -12.345678901234567;
  ck->wall_seconds = 512.25;
  ck->allreduce_seconds = 12.125;
  snprintf(ck->stop_reason, sizeof ck->stop_reason, "steps");
  snprintf(ck->flowgen_version, sizeof ck->flowgen_version, "0.1.0");
  snprintf(ck->git_revision, sizeof ck->git_revision, "0123456789ab");
  snprintf(ck->created, sizeof ck->created, "2024-05-01T12:34:56Z");
}

/* Architecture B: Schwinger 6x4, free_field base, K = 5, hidden [4], SGD without
 * state, empty ESS window, unmeasured ESS, a config text beyond the 64 KiB
 * attribute limit, and `created` left for the writer to stamp. */
static void make_free_field(fg_checkpoint *ck)
{
  memset(ck, 0, sizeof *ck);
  ck->theory = (fg_theory_config){.name = FG_THEORY_SCHWINGER, .nd = 2, .extent = {6, 4},
                                  .m2 = 0, .lambda = 0, .beta = 2.5, .kappa = 0.2};
  ck->model = (fg_model_config){.base = FG_BASE_FREE_FIELD, .coupling_layers = 2,
                                .kernel_size = 5, .n_hidden = 1, .hidden_channels = {4},
                                .activation = FG_ACT_TANH, .init_scheme = FG_INIT_XAVIER,
                                .init_scale = 0.5, .mu_init = 2.0};
  ck->seed = 7;
  size_t n = 100000;
  ck->config_text = fg_alloc(n + 1, NULL, "test");
  for (size_t i = 0; i < n; ++i)
    ck->config_text[i] = (i % 61 == 60) ? '\n' : (char)('a' + i % 26);
  ck->nparams = fg_checkpoint_nparams(&ck->model);
  ck->params = fg_alloc(ck->nparams * sizeof(float), NULL, "test");
  fill_floats(ck->params, ck->nparams, 4);
  ck->params[ck->nparams - 1] = 1.75f; /* mu */
  ck->optimizer = FG_OPT_SGD;
  ck->opt_t = 0;
  ck->opt_state = NULL;
  ck->ess = -1;
  ck->ranks = 1;
  ck->batch_size = 64;
  ck->lr = 0.01;
  snprintf(ck->stop_reason, sizeof ck->stop_reason, "running");
  snprintf(ck->flowgen_version, sizeof ck->flowgen_version, "0.1.0");
  snprintf(ck->git_revision, sizeof ck->git_revision, "unknown");
}

#define SAME_BITS(a, b) ck_assert_msg(memcmp(&(a), &(b), sizeof(a)) == 0, "%s differs", #a)

static void assert_same(const fg_checkpoint *a, const fg_checkpoint *b, int with_created)
{
  ck_assert_int_eq(a->theory.name, b->theory.name);
  ck_assert_int_eq(a->theory.nd, b->theory.nd);
  ck_assert_mem_eq(a->theory.extent, b->theory.extent, sizeof(int) * (size_t)a->theory.nd);
  SAME_BITS(a->theory.m2, b->theory.m2);
  SAME_BITS(a->theory.lambda, b->theory.lambda);
  SAME_BITS(a->theory.beta, b->theory.beta);
  SAME_BITS(a->theory.kappa, b->theory.kappa);
  const fg_model_config *ma = &a->model, *mb = &b->model;
  ck_assert_int_eq(ma->base, mb->base);
  ck_assert_int_eq(ma->coupling_layers, mb->coupling_layers);
  ck_assert_int_eq(ma->kernel_size, mb->kernel_size);
  ck_assert_int_eq(ma->n_hidden, mb->n_hidden);
  ck_assert_mem_eq(ma->hidden_channels, mb->hidden_channels, sizeof(int) * (size_t)ma->n_hidden);
  ck_assert_int_eq(ma->activation, mb->activation);
  ck_assert_int_eq(ma->init_scheme, mb->init_scheme);
  ck_assert_int_eq(ma->gauge_loops, mb->gauge_loops);
  ck_assert_int_eq(ma->gauge_map, mb->gauge_map);
  if (ma->gauge_map == FG_MAP_SPLINE)
    ck_assert_int_eq(ma->spline_bins, mb->spline_bins);
  ck_assert_int_eq(ma->gauge_order, mb->gauge_order);
  SAME_BITS(ma->init_scale, mb->init_scale);
  SAME_BITS(ma->mu_init, mb->mu_init);
  ck_assert(a->seed == b->seed);
  ck_assert_str_eq(a->config_text, b->config_text);
  ck_assert_uint_eq(a->nparams, b->nparams);
  ck_assert_mem_eq(a->params, b->params, a->nparams * sizeof(float));
  ck_assert_int_eq(a->optimizer, b->optimizer);
  ck_assert(a->opt_t == b->opt_t);
  ck_assert_uint_eq(a->opt_state_len, b->opt_state_len);
  if (a->opt_state_len > 0)
    ck_assert_mem_eq(a->opt_state, b->opt_state, a->opt_state_len * sizeof(double));
  ck_assert(a->step == b->step && a->n_train == b->n_train && a->ess_samples == b->ess_samples);
  ck_assert_int_eq(a->batch_size, b->batch_size);
  ck_assert_int_eq(a->ranks, b->ranks);
  SAME_BITS(a->lr, b->lr);
  ck_assert_int_eq(a->ess_window_len, b->ess_window_len);
  ck_assert_mem_eq(a->ess_window, b->ess_window, sizeof(double) * (size_t)a->ess_window_len);
  SAME_BITS(a->ess, b->ess);
  SAME_BITS(a->loss, b->loss);
  SAME_BITS(a->wall_seconds, b->wall_seconds);
  SAME_BITS(a->allreduce_seconds, b->allreduce_seconds);
  ck_assert_str_eq(a->stop_reason, b->stop_reason);
  ck_assert_str_eq(a->flowgen_version, b->flowgen_version);
  ck_assert_str_eq(a->git_revision, b->git_revision);
  if (with_created)
    ck_assert_str_eq(a->created, b->created);
}

static char *path_in(const char *dir, const char *name)
{
  static char buf[4][4096];
  static int slot;
  char *p = buf[slot++ % 4];
  snprintf(p, 4096, "%s/%s", dir, name);
  return p;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

/* Removes a test's temporary folder and frees its name. */
static void remove_tree(char *dir)
{
  ck_assert_int_eq(nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
  free(dir);
}

/* Number of entries in dir whose name contains ".tmp.". */
static int temp_files_in(const char *dir)
{
  DIR *d = opendir(dir);
  ck_assert_ptr_nonnull(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    n += strstr(e->d_name, ".tmp.") != NULL;
  closedir(d);
  return n;
}

static void write_ok(const char *path, const fg_checkpoint *ck)
{
  fg_error err = {0};
  int rc = fg_checkpoint_write(path, ck, &err);
  ck_assert_msg(rc == FG_OK, "write: %s", err.msg);
}

/* Reads path expecting failure with `code`; the message must name the file and contain `what`. */
static void read_fails(const char *path, int code, const char *what)
{
  fg_checkpoint ck;
  fg_error err = {0};
  int rc = fg_checkpoint_read(path, &ck, &err);
  fg_checkpoint_free(&ck);
  ck_assert_msg(rc == code, "read of %s gave %d (%s), expected %d", path, rc, err.msg, code);
  ck_assert_msg(strstr(err.msg, path) != NULL, "message does not name the file: %s", err.msg);
  ck_assert_msg(strstr(err.msg, what) != NULL, "message lacks '%s': %s", what, err.msg);
}

/* --------------------------------------------------------------- tests */

START_TEST(test_nparams)
{
  fg_model_config m = {.base = FG_BASE_NORMAL, .coupling_layers = 16, .kernel_size = 3,
                       .n_hidden = 2, .hidden_channels = {8, 8}};
  /* per layer: (8*1*9 + 8) + (8*8*9 + 8) + (2*8*9 + 2) = 80 + 584 + 146 */
  ck_assert_uint_eq(fg_checkpoint_nparams(&m), 16 * 810);
  m.base = FG_BASE_FREE_FIELD;
  ck_assert_uint_eq(fg_checkpoint_nparams(&m), 16 * 810 + 1);
  m = (fg_model_config){.base = FG_BASE_NORMAL, .coupling_layers = 1, .kernel_size = 1};
  ck_assert_uint_eq(fg_checkpoint_nparams(&m), 4);
  m.n_hidden = FG_MAXHIDDEN + 1;
  ck_assert_uint_eq(fg_checkpoint_nparams(&m), 0);
  m.n_hidden = 0;
  m.coupling_layers = -1;
  ck_assert_uint_eq(fg_checkpoint_nparams(&m), 0);
}
END_TEST

/* The canonical order is the file's: conv_0's weight opens the flat vector,
 * the last layer's output bias closes it. */
static void assert_layout_a(const char *path, const fg_checkpoint *ck)
{
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  ck_assert(f >= 0);
  hid_t d = H5Dopen2(f, "/model/layer_00/conv_0/weight", H5P_DEFAULT);
  ck_assert(d >= 0);
  hid_t sp = H5Dget_space(d);
  hsize_t dims[4];
  ck_assert_int_eq(H5Sget_simple_extent_dims(sp, dims, NULL), 4);
  ck_assert(dims[0] == 8 && dims[1] == 1 && dims[2] == 3 && dims[3] == 3);
  float w[72], b[2];
  ck_assert(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w) >= 0);
  ck_assert_mem_eq(w, ck->params, sizeof w);
  H5Sclose(sp);
  H5Dclose(d);
  d = H5Dopen2(f, "/model/layer_02/conv_2/bias", H5P_DEFAULT);
  ck_assert(d >= 0);
  ck_assert(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, b) >= 0);
  ck_assert_mem_eq(b, ck->params + ck->nparams - 2, sizeof b);
  H5Dclose(d);
  ck_assert_int_eq(H5Lexists(f, "/model/base", H5P_DEFAULT), 0);
  H5Fclose(f);
}

START_TEST(test_roundtrip_normal)
{
  id_snapshot before = ids_now();
  H5E_auto2_t func0;
  void *data0;
  H5Eget_auto2(H5E_DEFAULT, &func0, &data0);
  char *dir = fg_test_tmpdir();
  const char *path = path_in(dir, "a.h5");
  fg_checkpoint a, b;
  make_normal(&a);
  ck_assert_uint_eq(a.nparams, 3 * 810);
  write_ok(path, &a);
  fg_error err = {0};
  ck_assert_msg(fg_checkpoint_read(path, &b, &err) == FG_OK, "%s", err.msg);
  assert_same(&a, &b, 1);
  assert_layout_a(path, &a);
  /* the caller's error-printing setting is back in place */
  H5E_auto2_t func1;
  void *data1;
  H5Eget_auto2(H5E_DEFAULT, &func1, &data1);
  ck_assert(func1 == func0 && data1 == data0);
  fg_checkpoint_free(&a);
  fg_checkpoint_free(&b);
  ck_assert_ptr_null(b.params);
  ids_unchanged(&before);
  remove_tree(dir);
}
END_TEST

START_TEST(test_roundtrip_free_field)
{
  id_snapshot before = ids_now();
  char *dir = fg_test_tmpdir();
  const char *path = path_in(dir, "b.h5");
  fg_checkpoint a, b;
  make_free_field(&a);
  /* (4*1*25 + 4) + (2*4*25 + 2) per layer, two layers, then mu */
  ck_assert_uint_eq(a.nparams, 2 * 306 + 1);
  write_ok(path, &a);
  fg_error err = {0};
  ck_assert_msg(fg_checkpoint_read(path, &b, &err) == FG_OK, "%s", err.msg);
  assert_same(&a, &b, 0);
  /* stamped by the writer: YYYY-MM-DDTHH:MM:SSZ */
  ck_assert_uint_eq(strlen(b.created), 20);
  ck_assert(b.created[10] == 'T' && b.created[19] == 'Z');
  ck_assert(b.params[b.nparams - 1] == 1.75f);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  ck_assert_int_gt(H5Lexists(f, "/model/base", H5P_DEFAULT), 0);
  ck_assert_int_gt(H5Lexists(f, "/model/base/mu", H5P_DEFAULT), 0);
  ck_assert_int_eq(H5Lexists(f, "/optimizer/state", H5P_DEFAULT), 0);
  ck_assert_int_gt(H5Lexists(f, "/config", H5P_DEFAULT), 0);
  H5Fclose(f);
  fg_checkpoint_free(&a);
  fg_checkpoint_free(&b);
  ids_unchanged(&before);
  remove_tree(dir);
}
END_TEST

/* Over 100 layers the group names widen so that they still sort in order;
 * zero layers (a pure free-field model) hold only mu. */
START_TEST(test_layer_names)
{
  id_snapshot before = ids_now();
  char *dir = fg_test_tmpdir();
  const char *path = path_in(dir, "wide.h5");
  fg_checkpoint a, b;
  make_free_field(&a);
  a.model.coupling_layers = 101;
  a.model.kernel_size = 1;
  a.model.n_hidden = 0;
  fg_free(a.params);
  a.nparams = fg_checkpoint_nparams(&a.model);
  ck_assert_uint_eq(a.nparams, 101 * 4 + 1);
  a.params = fg_alloc(a.nparams * sizeof(float), NULL, "test");
  fill_floats(a.params, a.nparams, 9);
  write_ok(path, &a);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  ck_assert_int_gt(H5Lexists(f, "/model/layer_000", H5P_DEFAULT), 0);
  ck_assert_int_gt(H5Lexists(f, "/model/layer_100", H5P_DEFAULT), 0);
  ck_assert_int_eq(H5Lexists(f, "/model/layer_00", H5P_DEFAULT), 0);
  H5Fclose(f);
  fg_error err = {0};
  ck_assert_msg(fg_checkpoint_read(path, &b, &err) == FG_OK, "%s", err.msg);
  assert_same(&a, &b, 0);
  fg_checkpoint_free(&b);
  a.model.coupling_layers = 0;
  a.nparams = 1;
  write_ok(path, &a);
  ck_assert_msg(fg_checkpoint_read(path, &b, &err) == FG_OK, "%s", err.msg);
  assert_same(&a, &b, 0);
  fg_checkpoint_free(&a);
  fg_checkpoint_free(&b);
  ids_unchanged(&before);
  remove_tree(dir);
}
END_TEST

START_TEST(test_atomic_replace)
{
  id_snapshot before = ids_now();
  char *dir = fg_test_tmpdir();
  const char *sub = path_in(dir, "run/out");
  const char *path = path_in(dir, "run/out/model.h5");
  fg_checkpoint a, b;
  make_normal(&a);
  write_ok(path, &a); /* creates run/out */
  ck_assert_int_eq(temp_files_in(sub), 0);
  a.step = 4000;
  a.params[10] = 42.0f;
  write_ok(path, &a); /* replaces */
  ck_assert_int_eq(temp_files_in(sub), 0);
  fg_error err = {0};
  ck_assert_msg(fg_checkpoint_read(path, &b, &err) == FG_OK, "%s", err.msg);
  ck_assert(b.step == 4000 && b.params[10] == 42.0f);
  assert_same(&a, &b, 1);
  fg_checkpoint_free(&a);
  fg_checkpoint_free(&b);
  ids_unchanged(&before);
  remove_tree(dir);
}
END_TEST

/* Writes `big` under an RLIMIT_FSIZE too small for it: the write must fail
 * half-way through the temporary file (a full disk, in effect). */
static int write_with_file_limit(const char *path, const fg_checkpoint *big, fg_error *err)
{
  struct rlimit old, small;
  ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
  small = old;
  small.rlim_cur = 64 * 1024;
  void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
  ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
  int rc = fg_checkpoint_write(path, big, err);
  ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, old_handler);
  return rc;
}

START_TEST(test_write_failures)
{
  id_snapshot before = ids_now();
  char *dir = fg_test_tmpdir();
  const char *regular = path_in(dir, "regular");
  const char *under = path_in(dir, "regular/model.h5");
  const char *path = path_in(dir, "model.h5");
  ck_assert_int_eq(fg_test_write_file(regular, "not a folder\n"), 0);
  fg_checkpoint a, big, b;
  make_normal(&a);
  fg_error err = {0};
  ck_assert_int_eq(fg_checkpoint_write(under, &a, &err), FG_ERR_RUNTIME);
  ck_assert_msg(strstr(err.msg, under) != NULL, "%s", err.msg);

  write_ok(path, &a);
  make_normal(&big);
  big.model.hidden_channels[0] = big.model.hidden_channels[1] = 64;
  big.nparams = fg_checkpoint_nparams(&big.model);
  fg_free(big.params);
  big.params = fg_alloc(big.nparams * sizeof(float), NULL, "test");
  fill_floats(big.params, big.nparams, 5);
  big.opt_state_len = 0;
  ck_assert_int_gt(big.nparams * sizeof(float), 64 * 1024);
  err.msg[0] = '\0';
  ck_assert_int_eq(write_with_file_limit(path, &big, &err), FG_ERR_RUNTIME);
  ck_assert_msg(strstr(err.msg, path) != NULL, "%s", err.msg);
  ck_assert_int_eq(temp_files_in(dir), 0);

  /* an inconsistent struct is refused before anything is created */
  big.nparams -= 1;
  ck_assert_int_eq(fg_checkpoint_write(path, &big, &err), FG_ERR_RUNTIME);
  ck_assert_int_eq(temp_files_in(dir), 0);

  ck_assert_msg(fg_checkpoint_read(path, &b, &err) == FG_OK, "%s", err.msg);
  assert_same(&a, &b, 1);
  fg_checkpoint_free(&a);
  fg_checkpoint_free(&big);
  fg_checkpoint_free(&b);
  ids_unchanged(&before);
  remove_tree(dir);
}
END_TEST

static void set_root_attr(const char *path, const char *name, hid_t type, const void *value)
{
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  ck_assert(f >= 0);
  ck_assert(H5Adelete(f, name) >= 0);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t at = H5Acreate2(f, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
  ck_assert(at >= 0);
  ck_assert(H5Awrite(at, type, value) >= 0);
  H5Aclose(at);
  H5Sclose(sp);
  ck_assert(H5Fclose(f) >= 0);
}

START_TEST(test_foreign_files)
{
  id_snapshot before = ids_now();
  char *dir = fg_test_tmpdir();
  read_fails(path_in(dir, "missing.h5"), FG_ERR_INPUT, "no such file");
  read_fails(dir, FG_ERR_INPUT, "folder");
  const char *text = path_in(dir, "text.h5");
  ck_assert_int_eq(fg_test_write_file(text, "seed: 1\n"), 0);
  read_fails(text, FG_ERR_INPUT, "not an HDF5 file");

  const char *other = path_in(dir, "other.h5");
  hid_t f = H5Fcreate(other, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t n = 4;
  hid_t sp = H5Screate_simple(1, &n, NULL);
  hid_t d = H5Dcreate2(f, "configs", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ck_assert(d >= 0);
  H5Dclose(d);
  H5Sclose(sp);
  H5Fclose(f);
  read_fails(other, FG_ERR_INPUT, "not a flowgen checkpoint");

  const char *path = path_in(dir, "model.h5");
  fg_checkpoint a;
  make_normal(&a);
  write_ok(path, &a);
  int version = FG_CHECKPOINT_VERSION + 1;
  set_root_attr(path, "format_version", H5T_NATIVE_INT, &version);
  read_fails(path, FG_ERR_INPUT, "newer");
  write_ok(path, &a);
  hid_t str = H5Tcopy(H5T_C_S1);
  H5Tset_size(str, 14);
  H5Tset_strpad(str, H5T_STR_NULLPAD); /* as h5py writes numpy bytes */
  set_root_attr(path, "format", str, "flowgen-sample");
  H5Tclose(str);
  read_fails(path, FG_ERR_INPUT, "format 'flowgen-sample'");

  /* a torn copy: the HDF5 signature is there, half of the file is not */
  write_ok(path, &a);
  const char *torn = path_in(dir, "torn.h5");
  FILE *in = fopen(path, "rb"), *out = fopen(torn, "wb");
  ck_assert(in != NULL && out != NULL);
  static char bytes[1 << 16];
  size_t n_read = fread(bytes, 1, sizeof bytes, in);
  ck_assert_uint_gt(n_read, 4096);
  ck_assert_uint_eq(fwrite(bytes, 1, n_read / 2, out), n_read / 2);
  fclose(in);
  ck_assert_int_eq(fclose(out), 0);
  read_fails(torn, FG_ERR_INPUT, torn);
  fg_checkpoint_free(&a);
  ids_unchanged(&before);
  remove_tree(dir);
}
END_TEST

static void set_model_int(const char *path, const char *name, int value)
{
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t g = H5Gopen2(f, "/model", H5P_DEFAULT);
  /* H5Aopen_by_name + H5Awrite fails in HDF5 1.10.8; open the group first */
  hid_t at = H5Aopen(g, name, H5P_DEFAULT);
  ck_assert(at >= 0);
  ck_assert(H5Awrite(at, H5T_NATIVE_INT, &value) >= 0);
  H5Aclose(at);
  H5Gclose(g);
  ck_assert(H5Fclose(f) >= 0);
}

/* Replaces a dataset by one of another shape. */
static void reshape(const char *path, const char *name, int rank, const hsize_t *dims)
{
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  ck_assert(H5Ldelete(f, name, H5P_DEFAULT) >= 0);
  hid_t sp = H5Screate_simple(rank, dims, NULL);
  hid_t d = H5Dcreate2(f, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ck_assert(d >= 0);
  H5Dclose(d);
  H5Sclose(sp);
  ck_assert(H5Fclose(f) >= 0);
}

START_TEST(test_shape_mismatch)
{
  id_snapshot before = ids_now();
  char *dir = fg_test_tmpdir();
  const char *path = path_in(dir, "model.h5");
  fg_checkpoint a;
  make_normal(&a);
  write_ok(path, &a);
  hsize_t wrong[4] = {8, 8, 3, 1};
  reshape(path, "/model/layer_01/conv_1/weight", 4, wrong);
  read_fails(path, FG_ERR_INPUT, "/model/layer_01/conv_1: dataset 'weight' has shape [8, 8, 3, 1]");

  write_ok(path, &a);
  set_model_int(path, "kernel_size", 5);
  read_fails(path, FG_ERR_INPUT, "needs [8, 1, 5, 5]");
  write_ok(path, &a);
  set_model_int(path, "coupling_layers", 4);
  read_fails(path, FG_ERR_INPUT, "missing group 'layer_03'");
  write_ok(path, &a);
  set_model_int(path, "coupling_layers", 2);
  read_fails(path, FG_ERR_INPUT, "layer_02");
  write_ok(path, &a);
  hsize_t window = 5000;
  reshape(path, "/schedule/ess_window", 1, &window);
  read_fails(path, FG_ERR_INPUT, "ess_window");
  fg_checkpoint_free(&a);
  ids_unchanged(&before);
  remove_tree(dir);
}
END_TEST

/* Minimal JSON well-formedness: balanced brackets outside strings, valid escapes,
 * no raw control characters inside strings, one top-level value. */
static int json_balanced(const char *s)
{
  int depth = 0, in_string = 0, closed = 0;
  for (; *s; ++s) {
    if (in_string) {
      if ((unsigned char)*s < 0x20)
        return 0;
      if (*s == '\\') {
        if (!strchr("\"\\/bfnrtu", s[1]))
          return 0;
        ++s;
      } else if (*s == '"') {
        in_string = 0;
      }
      continue;
    }
    if (closed && !strchr(" \n", *s))
      return 0;
    if (*s == '"')
      in_string = 1;
    else if (*s == '{' || *s == '[')
      ++depth;
    else if ((*s == '}' || *s == ']') && --depth == 0)
      closed = 1;
    if (depth < 0)
      return 0;
  }
  return closed && depth == 0 && !in_string;
}

static char *print_to_string(const fg_checkpoint *ck, int json)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  ck_assert_ptr_nonnull(out);
  fg_error err = {0};
  ck_assert_msg(fg_checkpoint_print(out, ck, json, &err) == FG_OK, "%s", err.msg);
  fclose(out);
  return buf;
}

START_TEST(test_print)
{
  fg_checkpoint a;
  make_normal(&a);
  char *json = print_to_string(&a, 1);
  ck_assert_msg(json_balanced(json), "malformed JSON:\n%s", json);
  static const char *keys[] = {
      "\"format\": \"flowgen-checkpoint\"", "\"lattice\": [8, 8]", "\"m2\": -4",
      "\"hidden_channels\": [8, 8]", "\"parameters\": 2430", "\"seed\": 18446744073709551557",
      "\"optimizer\": {\"name\": \"adam\", \"t\": 2000, \"state_len\": 4860}",
      "\"n_train\": 1024000", "\"batch_size\": 128", "\"ess\": 0.4123456789012345",
      "\"ess_samples\": 8192", "\"stop_reason\": \"steps\"", "\"setup_s\": 512.25",
      "\"train_s_per_sample\": 0.000500244140625", "\"git_revision\": \"0123456789ab\"",
      "\"mu\": null",
      "\"config\": \"seed: 1234\\ntheory:\\n  name: \\\"phi4\\\"\\n",
      "\\tm2: -4.0 # tab, quote \\\" and backslash \\\\ \\u0001\\n\"}"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; ++i)
    ck_assert_msg(strstr(json, keys[i]) != NULL, "JSON lacks %s:\n%s", keys[i], json);
  free(json);

  char *table = print_to_string(&a, 0);
  static const char *rows[] = {"theory               phi4  m2 = -4  lambda = 0.666667",
                               "lattice              8 x 8\n", "parameters           2430\n",
                               "ESS                  0.412346 (8192 samples)",
                               "Delta C_train        0.000500244 s per trained sample",
                               "stop reason          steps\n", "config:\n    seed: 1234\n",
                               "\n    theory:\n"};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; ++i)
    ck_assert_msg(strstr(table, rows[i]) != NULL, "table lacks '%s':\n%s", rows[i], table);
  free(table);

  fg_checkpoint_free(&a);
  make_free_field(&a);
  json = print_to_string(&a, 1);
  ck_assert_msg(json_balanced(json), "malformed JSON");
  ck_assert_ptr_nonnull(strstr(json, "\"ess\": null"));
  ck_assert_ptr_nonnull(strstr(json, "\"train_s_per_sample\": null"));
  ck_assert_ptr_nonnull(strstr(json, "\"mu\": 1.75"));
  ck_assert_ptr_nonnull(strstr(json, "\"beta\": 2.5, \"kappa\": 0.2}"));
  free(json);
  fg_checkpoint_free(&a);
}
END_TEST


/* ------------------------------------------ numerical health (issue 13) */

/* Overwrites element `index` of a numeric dataset in place (through double). */
static void poke(const char *path, const char *name, size_t index, double value)
{
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t d = f < 0 ? -1 : H5Dopen2(f, name, H5P_DEFAULT);
  ck_assert(d >= 0);
  hid_t fs = H5Dget_space(d);
  hsize_t n = (hsize_t)H5Sget_simple_extent_npoints(fs);
  ck_assert_uint_gt(n, index);
  double *buf = malloc(n * sizeof(double));
  ck_assert_ptr_nonnull(buf);
  ck_assert(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
  buf[index] = value;
  ck_assert(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
  free(buf);
  H5Sclose(fs);
  H5Dclose(d);
  ck_assert(H5Fclose(f) >= 0);
}

static void set_attr_int64(const char *path, const char *group, const char *name, int64_t v)
{
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
  hid_t at = H5Aopen(g, name, H5P_DEFAULT);
  ck_assert(at >= 0);
  ck_assert(H5Awrite(at, H5T_NATIVE_INT64, &v) >= 0);
  H5Aclose(at);
  H5Gclose(g);
  ck_assert(H5Fclose(f) >= 0);
}

/* D13: non-finite parameters or optimizer state, a state of the wrong
 * length, negative counts and odd extents are refused by name (exit 2). */
START_TEST(test_reader_refuses_unhealthy_files)
{
  id_snapshot before = ids_now();
  char *dir = fg_test_tmpdir();
  const char *path = path_in(dir, "model.h5");
  fg_checkpoint a;
  make_normal(&a);
  write_ok(path, &a);
  poke(path, "/model/layer_01/conv_1/weight", 5, NAN);
  read_fails(path, FG_ERR_INPUT, "/model/layer_01/conv_1: dataset 'weight' holds a non-finite "
                                 "value (nan) at flat index 5");
  write_ok(path, &a);
  poke(path, "/model/layer_02/conv_2/bias", 1, INFINITY);
  read_fails(path, FG_ERR_INPUT, "dataset 'bias' holds a non-finite value (inf)");
  write_ok(path, &a);
  poke(path, "/optimizer/state", 7, NAN);
  read_fails(path, FG_ERR_INPUT, "/optimizer: dataset 'state' holds a non-finite value");

  /* a 10-value Adam state (the optimizer would silently restart) */
  fg_checkpoint short_state = a;
  short_state.opt_state_len = 10;
  fg_error err = {0};
  ck_assert_int_eq(fg_checkpoint_write(path, &short_state, &err), FG_ERR_RUNTIME);
  write_ok(path, &a);
  hsize_t ten = 10;
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  ck_assert(H5Ldelete(f, "/optimizer/state", H5P_DEFAULT) >= 0);
  hid_t sp = H5Screate_simple(1, &ten, NULL);
  hid_t d = H5Dcreate2(f, "/optimizer/state", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT,
                       H5P_DEFAULT);
  double zeros[10] = {0};
  ck_assert(d >= 0 && H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros) >= 0);
  H5Dclose(d);
  H5Sclose(sp);
  H5Fclose(f);
  read_fails(path, FG_ERR_INPUT, "dataset 'state' holds 10 values, optimizer adam");

  write_ok(path, &a);
  set_attr_int64(path, "/", "step", -5);
  read_fails(path, FG_ERR_INPUT, "attribute 'step' is -5, negative");
  write_ok(path, &a);
  set_attr_int64(path, "/optimizer", "t", -1);
  read_fails(path, FG_ERR_INPUT, "attribute 't' is -1, negative");
  write_ok(path, &a);
  f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t g = H5Gopen2(f, "/theory", H5P_DEFAULT);
  hid_t at = H5Aopen(g, "lattice", H5P_DEFAULT);
  int odd[2] = {7, 8};
  ck_assert(at >= 0 && H5Awrite(at, H5T_NATIVE_INT, odd) >= 0);
  H5Aclose(at);
  H5Gclose(g);
  H5Fclose(f);
  read_fails(path, FG_ERR_INPUT, "/theory: attribute 'lattice': extent 7 of direction 0");

  /* the writer never writes what the reader refuses */
  a.params[3] = NAN;
  ck_assert_int_eq(fg_checkpoint_write(path, &a, &err), FG_ERR_RUNTIME);
  ck_assert_msg(strstr(err.msg, "non-finite parameter 3"), "%s", err.msg);
  fg_checkpoint_free(&a);
  ids_unchanged(&before);
  remove_tree(dir);
}
END_TEST

/* D13: /model/params_sha256 catches a changed parameter that is still a
 * valid number; a version 1 file without it is still read, a version 2 file
 * without it is not. */
START_TEST(test_parameter_checksum)
{
  id_snapshot before = ids_now();
  char *dir = fg_test_tmpdir();
  const char *path = path_in(dir, "model.h5");
  fg_checkpoint a, b;
  make_normal(&a);
  write_ok(path, &a);
  poke(path, "/model/layer_00/conv_0/weight", 0, 0.5);
  read_fails(path, FG_ERR_INPUT, "/model: attribute 'params_sha256'");

  /* an old (version 1) file: no checksum, still readable */
  write_ok(path, &a);
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  ck_assert(H5Adelete_by_name(f, "/model", "params_sha256", H5P_DEFAULT) >= 0);
  ck_assert(H5Fclose(f) >= 0);
  read_fails(path, FG_ERR_INPUT, "missing attribute 'params_sha256'");
  int one = 1;
  set_root_attr(path, "format_version", H5T_NATIVE_INT, &one);
  fg_error err = {0};
  ck_assert_msg(fg_checkpoint_read(path, &b, &err) == FG_OK, "%s", err.msg);
  ck_assert(memcmp(a.params, b.params, sizeof(float) * a.nparams) == 0);
  fg_checkpoint_free(&b);
  fg_checkpoint_free(&a);
  ids_unchanged(&before);
  remove_tree(dir);
}
END_TEST

/* Removes the /model attribute `name` (a file as flowgen wrote it before
 * the key existed). */
static void delete_model_attr(const char *path, const char *name)
{
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  ck_assert(H5Adelete_by_name(f, "/model", name, H5P_DEFAULT) >= 0);
  ck_assert(H5Fclose(f) >= 0);
}

/* Adds the string attribute `name` = text to /model. */
static void add_model_text(const char *path, const char *name, const char *text)
{
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t g = H5Gopen2(f, "/model", H5P_DEFAULT);
  hid_t t = H5Tcopy(H5T_C_S1);
  ck_assert(H5Tset_size(t, strlen(text) + 1) >= 0);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t at = H5Acreate2(g, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
  ck_assert(at >= 0 && H5Awrite(at, t, text) >= 0);
  H5Aclose(at), H5Sclose(sp), H5Tclose(t), H5Gclose(g);
  ck_assert(H5Fclose(f) >= 0);
}

/* The int attribute `name` of group `group`. */
static int attr_int(const char *path, const char *group, const char *name)
{
  int v = -1;
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t at = H5Aopen_by_name(f, group, name, H5P_DEFAULT, H5P_DEFAULT);
  ck_assert(at >= 0 && H5Aread(at, H5T_NATIVE_INT, &v) >= 0);
  H5Aclose(at);
  ck_assert(H5Fclose(f) >= 0);
  return v;
}

/* bad, an affine model with the gauge layers' attribute `name` = value, is
 * refused by the writer, and a file with that attribute by the reader. */
static void refused_without_haar(const char *path, const fg_checkpoint *bad, const char *name,
                                 const char *value)
{
  fg_error err = {0};
  char want[128];
  ck_assert_int_eq(fg_checkpoint_write(path, bad, &err), FG_ERR_RUNTIME);
  snprintf(want, sizeof want, "%s %s needs base haar", name, value);
  ck_assert_msg(strstr(err.msg, want) != NULL, "'%s' not in '%s'", want, err.msg);
  fg_checkpoint plain;
  make_normal(&plain);
  write_ok(path, &plain);
  add_model_text(path, name, value);
  snprintf(want, sizeof want, "attribute '%s' is %s, which needs base haar", name, value);
  read_fails(path, FG_ERR_INPUT, want);
  fg_checkpoint_free(&plain);
}

/* Resizes a's parameters and optimizer state to its architecture. */
static void resize_params(fg_checkpoint *a)
{
  a->nparams = fg_checkpoint_nparams(&a->model);
  ck_assert_uint_gt(a->nparams, 0);
  fg_free(a->params);
  fg_free(a->opt_state);
  a->params = fg_alloc(a->nparams * sizeof(float), NULL, "test");
  a->opt_state_len = 2 * a->nparams;
  a->opt_state = fg_alloc(a->opt_state_len * sizeof(double), NULL, "test");
  ck_assert(a->params && a->opt_state);
  fill_floats(a->params, a->nparams, 5);
  fill_doubles(a->opt_state, a->opt_state_len, 6);
}

/* model.gauge_loops: a gauge flow with rectangles round-trips (conv_0 has 6
 * input channels); a gauge checkpoint without the attribute (written before
 * the key) reads as plaquette; rectangles without base haar are refused
 * both ways. */
START_TEST(test_gauge_loops)
{
  id_snapshot before = ids_now();
  char *dir = fg_test_tmpdir();
  const char *path = path_in(dir, "gauge.h5");
  fg_checkpoint a, b;
  make_normal(&a);
  a.theory.name = FG_THEORY_SCHWINGER;
  a.model.base = FG_BASE_HAAR;
  a.model.gauge_loops = FG_LOOPS_RECTANGLE;
  /* per layer against the affine 1 -> 8 -> 8 -> 2 stack: 5 more input
   * channels of conv_0, 11 more outputs of the last conv */
  const size_t affine = a.nparams;
  resize_params(&a);
  ck_assert_uint_eq(a.nparams, affine + 3 * ((6 - 1) * 8 * 9 + (13 - 2) * (8 * 9 + 1)));
  write_ok(path, &a);
  fg_error err = {0};
  ck_assert_msg(fg_checkpoint_read(path, &b, &err) == FG_OK, "%s", err.msg);
  assert_same(&a, &b, 1);
  fg_checkpoint_free(&b);

  /* without the attribute the file is a plaquette flow, whose conv_0 is [8, 2, 3, 3] */
  delete_model_attr(path, "gauge_loops");
  read_fails(path, FG_ERR_INPUT, "has shape [8, 6, 3, 3], the architecture needs [8, 2, 3, 3]");
  a.model.gauge_loops = FG_LOOPS_PLAQUETTE;
  a.nparams = fg_checkpoint_nparams(&a.model);
  a.opt_state_len = 2 * a.nparams;
  write_ok(path, &a);
  delete_model_attr(path, "gauge_loops");
  ck_assert_msg(fg_checkpoint_read(path, &b, &err) == FG_OK, "%s", err.msg);
  assert_same(&a, &b, 1);
  fg_checkpoint_free(&b);

  /* rectangles belong to gauge layers only */
  a.model.base = FG_BASE_NORMAL;
  a.model.gauge_loops = FG_LOOPS_RECTANGLE;
  a.nparams = fg_checkpoint_nparams(&a.model);
  a.opt_state_len = 2 * a.nparams;
  refused_without_haar(path, &a, "gauge_loops", "rectangle");
  fg_checkpoint_free(&a);
  ids_unchanged(&before);
  remove_tree(dir);
}
END_TEST

/* A gauge flow (base haar) with the default map and mask order in a, and
 * written to path: format_version 3, read back with ncp and alternating
 * (no attributes for either). */
static void make_default_gauge(const char *path, fg_checkpoint *a)
{
  fg_checkpoint b;
  fg_error err = {0};
  make_normal(a);
  a->theory.name = FG_THEORY_SCHWINGER;
  a->model.base = FG_BASE_HAAR;
  resize_params(a);
  write_ok(path, a);
  ck_assert_int_eq(attr_int(path, "/", "format_version"), 3);
  ck_assert_msg(fg_checkpoint_read(path, &b, &err) == FG_OK, "%s", err.msg);
  ck_assert_int_eq(b.model.gauge_map, FG_MAP_NCP);
  ck_assert_int_eq(b.model.gauge_order, FG_ORDER_ALTERNATING);
  fg_checkpoint_free(&b);
}

/* model.gauge_map spline: a spline gauge flow (5 bins: the last conv has
 * 16 outputs) round-trips with attributes gauge_map and spline_bins, in a
 * format_version 4 file, which older readers refuse; an NCP gauge flow's
 * file stays version 3 without the attributes (absent: ncp); a spline
 * without base haar, without spline_bins or with spline_bins out of range
 * is refused; info and JSON name the map. */
START_TEST(test_gauge_map)
{
  id_snapshot before = ids_now();
  char *dir = fg_test_tmpdir();
  const char *path = path_in(dir, "spline.h5");
  fg_checkpoint a, b;
  fg_error err = {0};
  make_default_gauge(path, &a);
  const size_t ncp = a.nparams;

  a.model.gauge_map = FG_MAP_SPLINE;
  a.model.spline_bins = 5;
  resize_params(&a);
  /* per layer: the last conv (8 -> 13 for ncp) has 3 more outputs */
  ck_assert_uint_eq(a.nparams, ncp + 3 * (16 - 13) * (8 * 9 + 1));
  write_ok(path, &a);
  ck_assert_int_eq(attr_int(path, "/", "format_version"), 4); /* a version 3 reader refuses it */
  ck_assert_int_eq(attr_int(path, "/model", "spline_bins"), 5);
  ck_assert_msg(fg_checkpoint_read(path, &b, &err) == FG_OK, "%s", err.msg);
  assert_same(&a, &b, 1);
  ck_assert(b.model.gauge_map == FG_MAP_SPLINE && b.model.spline_bins == 5);
  fg_checkpoint_free(&b);
  char *json = print_to_string(&a, 1), *table = print_to_string(&a, 0);
  ck_assert_ptr_nonnull(strstr(json, "\"format_version\": 4"));
  ck_assert_ptr_nonnull(strstr(json, "\"gauge_map\": \"spline\", \"spline_bins\": 5"));
  ck_assert_ptr_nonnull(strstr(table, "circle map spline of 5 bins"));
  free(json), free(table);

  /* without the attribute the file is an NCP flow, whose last conv has 13 outputs */
  write_ok(path, &a);
  delete_model_attr(path, "gauge_map");
  read_fails(path, FG_ERR_INPUT, "has shape [16, 8, 3, 3], the architecture needs [13, 8, 3, 3]");
  write_ok(path, &a);
  delete_model_attr(path, "spline_bins");
  read_fails(path, FG_ERR_INPUT, "/model: missing attribute 'spline_bins'");
  write_ok(path, &a);
  set_attr_int64(path, "/model", "spline_bins", 40);
  read_fails(path, FG_ERR_INPUT, "attribute 'spline_bins' is 40, outside 2..32");
  a.model.spline_bins = 1;
  ck_assert_int_eq(fg_checkpoint_write(path, &a, &err), FG_ERR_RUNTIME);
  ck_assert_ptr_nonnull(strstr(err.msg, "spline_bins 1 outside 2..32"));

  /* the spline belongs to gauge layers only */
  a.model.base = FG_BASE_NORMAL;
  a.model.spline_bins = 5;
  resize_params(&a);
  refused_without_haar(path, &a, "gauge_map", "spline");
  fg_checkpoint_free(&a);
  ids_unchanged(&before);
  remove_tree(dir);
}
END_TEST

/* model.gauge_order blocked: the file holds attribute gauge_order and is
 * format_version 5, which older readers refuse (a version 4 reader would
 * build the alternating masks); the default stays version 3 without the attribute
 * (absent: alternating); a blocked order without base haar is refused; info
 * and JSON name the order. */
START_TEST(test_gauge_order)
{
  id_snapshot before = ids_now();
  char *dir = fg_test_tmpdir();
  const char *path = path_in(dir, "blocked.h5");
  fg_checkpoint a, b;
  fg_error err = {0};
  make_default_gauge(path, &a);
  const size_t n = a.nparams;

  a.model.gauge_order = FG_ORDER_BLOCKED;
  resize_params(&a);
  ck_assert_uint_eq(a.nparams, n); /* the same parameters, other masks */
  write_ok(path, &a);
  ck_assert_int_eq(attr_int(path, "/", "format_version"), 5);
  ck_assert_msg(fg_checkpoint_read(path, &b, &err) == FG_OK, "%s", err.msg);
  assert_same(&a, &b, 1);
  ck_assert_int_eq(b.model.gauge_order, FG_ORDER_BLOCKED);
  fg_checkpoint_free(&b);
  a.model.gauge_map = FG_MAP_SPLINE; /* with the spline too: still 5 */
  a.model.spline_bins = 4;
  resize_params(&a);
  write_ok(path, &a);
  ck_assert_int_eq(attr_int(path, "/", "format_version"), 5);
  ck_assert_msg(fg_checkpoint_read(path, &b, &err) == FG_OK, "%s", err.msg);
  assert_same(&a, &b, 1);
  a.model.gauge_map = FG_MAP_NCP;
  resize_params(&a);
  write_ok(path, &a);
  fg_checkpoint_free(&b);
  char *json = print_to_string(&a, 1), *table = print_to_string(&a, 0);
  ck_assert_ptr_nonnull(strstr(json, "\"gauge_order\": \"blocked\""));
  ck_assert_ptr_nonnull(strstr(table, "masks blocked"));
  free(json), free(table);
  /* without the attribute the file reads as the alternating order */
  delete_model_attr(path, "gauge_order");
  ck_assert_msg(fg_checkpoint_read(path, &b, &err) == FG_OK, "%s", err.msg);
  ck_assert_int_eq(b.model.gauge_order, FG_ORDER_ALTERNATING);
  fg_checkpoint_free(&b);

  a.model.base = FG_BASE_NORMAL;
  resize_params(&a);
  refused_without_haar(path, &a, "gauge_order", "blocked");
  fg_checkpoint_free(&a);
  ids_unchanged(&before);
  remove_tree(dir);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("checkpoint");
  TCase *tc = tcase_create("checkpoint");
  tcase_add_test(tc, test_nparams);
  tcase_add_test(tc, test_roundtrip_normal);
  tcase_add_test(tc, test_roundtrip_free_field);
  tcase_add_test(tc, test_layer_names);
  tcase_add_test(tc, test_atomic_replace);
  tcase_add_test(tc, test_write_failures);
  tcase_add_test(tc, test_foreign_files);
  tcase_add_test(tc, test_shape_mismatch);
  tcase_add_test(tc, test_print);
  tcase_add_test(tc, test_reader_refuses_unhealthy_files);
  tcase_add_test(tc, test_parameter_checksum);
  tcase_add_test(tc, test_gauge_loops);
  tcase_add_test(tc, test_gauge_map);
  tcase_add_test(tc, test_gauge_order);
  suite_add_tcase(s, tc);
  return fg_test_run(s);
}
