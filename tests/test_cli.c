/* test_cli.c -- the built flowgen program: bad input exits 2 naming file, key and value; train/info/sample/analyze/bench work end to end; after SIGTERM, --resume equals an uninterrupted run bit for bit. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw's FTW_DEPTH and FTW_PHYS */
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <hdf5.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "flowgen/checkpoint.h"
#include "flowgen/ensemble.h"
#include "testutil.h"

enum { PATH_LEN = 4096 };

/* ------------------------------------------------------------ helpers */

/* The program under test: meson sets FLOWGEN_BIN to the built executable. */
static const char *flowgen_bin(void)
{
  const char *bin = getenv("FLOWGEN_BIN");
  ck_assert_msg(bin != NULL && access(bin, X_OK) == 0,
                "FLOWGEN_BIN must name the built flowgen executable (is '%s')",
                bin ? bin : "(unset)");
  return bin;
}

static void join(char *buf, const char *dir, const char *name)
{
  int n = snprintf(buf, PATH_LEN, "%s/%s", dir, name);
  ck_assert(n > 0 && n < PATH_LEN);
}

static int exists(const char *dir, const char *name)
{
  char p[PATH_LEN];
  join(p, dir, name);
  return access(p, F_OK) == 0;
}

/* The whole file as a NUL-terminated string ("" when unreadable). */
static char *slurp(const char *path)
{
  FILE *f = fopen(path, "rb");
  size_t cap = 4096, n = 0;
  char *s = malloc(cap);
  ck_assert(s != NULL);
  while (f != NULL) {
    if (n + 1 >= cap) {
      cap *= 2;
      s = realloc(s, cap);
      ck_assert(s != NULL);
    }
    size_t got = fread(s + n, 1, cap - 1 - n, f);
    if (got == 0)
      break;
    n += got;
  }
  if (f != NULL)
    fclose(f);
  s[n] = '\0';
  return s;
}

/* Starts flowgen with args (NULL-terminated), stdin from /dev/null, stdout
 * and stderr to dir/tag.out and dir/tag.err. */
static pid_t spawn(const char *dir, const char *tag, const char *const *args)
{
  const char *argv[32] = {flowgen_bin()};
  int n = 1;
  for (; args[n - 1] != NULL; ++n) {
    ck_assert(n < 31);
    argv[n] = args[n - 1];
  }
  argv[n] = NULL;
  char out[PATH_LEN], err[PATH_LEN], name[256];
  snprintf(name, sizeof name, "%s.out", tag);
  join(out, dir, name);
  snprintf(name, sizeof name, "%s.err", tag);
  join(err, dir, name);
  fflush(NULL);
  pid_t pid = fork();
  ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
  if (pid == 0) {
    int in = open("/dev/null", O_RDONLY);
    int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || fo < 0 || fe < 0 || dup2(in, 0) < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
      _exit(127);
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  return pid;
}

/* The exit status, or 128 + the signal that ended it. */
static int wait_exit(pid_t pid)
{
  int st;
  while (waitpid(pid, &st, 0) < 0)
    ck_assert_msg(errno == EINTR, "waitpid: %s", strerror(errno));
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

typedef struct {
  int status;
  char *out, *err;
} outcome;

static outcome run_in(const char *dir, const char *const *args)
{
  outcome o;
  o.status = wait_exit(spawn(dir, "run", args));
  char p[PATH_LEN];
  join(p, dir, "run.out");
  o.out = slurp(p);
  join(p, dir, "run.err");
  o.err = slurp(p);
  return o;
}

#define RUN(dir, ...) run_in(dir, (const char *const[]){__VA_ARGS__, NULL})

static void outcome_free(outcome *o)
{
  free(o->out);
  free(o->err);
}

/* Asserts the exit status and that stderr holds every given string. */
static void expect(const outcome *o, int status, const char *what, ...)
{
  ck_assert_msg(o->status == status, "%s: exit status %d, expected %d; stderr:\n%s", what,
                o->status, status, o->err);
  va_list ap;
  va_start(ap, what);
  for (const char *s = va_arg(ap, const char *); s != NULL; s = va_arg(ap, const char *))
    ck_assert_msg(strstr(o->err, s) != NULL, "%s: stderr lacks '%s':\n%s", what, s, o->err);
  va_end(ap);
}

static double json_value(const char *text, const char *key)
{
  char pat[128];
  snprintf(pat, sizeof pat, "\"%s\": ", key);
  const char *p = strstr(text, pat);
  return p != NULL ? strtod(p + strlen(pat), NULL) : NAN;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

static void remove_tree(char *dir)
{
  nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  free(dir);
}

static void sleep_s(double s)
{
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* ------------------------------------------------------------ configs */

/* A phi^4 config on 6x6 whose relative paths lie beside it; names without
 * an extension: model -> model.h5 and model.csv. */
typedef struct {
  long long steps;
  const char *model;
  long long proposals;
  int batch, flush_every;
  const char *output;
  const char *hidden;
} tiny;

static const tiny TINY = {30, "model", 600, 64, 200, "ens.h5", "[4]"};

static char *tiny_text(const tiny *t)
{
  enum { CAP = 2048 };
  char *text = malloc(CAP);
  ck_assert(text != NULL);
  int n = snprintf(text, CAP,
                   "seed: 7\n"
                   "theory:\n  name: phi4\n  lattice: [6, 6]\n  m2: -4.0\n  lambda: 2.0\n"
                   "model:\n  coupling_layers: 2\n  kernel_size: 3\n  hidden_channels: %s\n"
                   "train:\n  steps: %lld\n  batch_size: 32\n  checkpoint: %s.h5\n"
                   "  log: %s.csv\n  eval_samples: 256\n"
                   "sample:\n  model: %s.h5\n  proposals: %lld\n  batch_size: %d\n"
                   "  flush_every: %d\n  output: %s\n",
                   t->hidden, t->steps, t->model, t->model, t->model, t->proposals, t->batch,
                   t->flush_every, t->output);
  ck_assert(n > 0 && n < CAP);
  return text;
}

/* Writes text to dir/name; path gets the full name. */
static void write_config(const char *dir, const char *name, const char *text, char *path)
{
  join(path, dir, name);
  ck_assert_int_eq(fg_test_write_file(path, text), 0);
}

static void write_tiny(const char *dir, const char *name, const tiny *t, char *path)
{
  char *text = tiny_text(t);
  write_config(dir, name, text, path);
  free(text);
}

/* text with [from, to) replaced by repl (malloc'd). */
static char *text_splice(const char *text, size_t from, size_t to, const char *repl)
{
  size_t n = strlen(text), r = strlen(repl);
  char *s = malloc(n - (to - from) + r + 1);
  ck_assert(s != NULL && from <= to && to <= n);
  memcpy(s, text, from);
  memcpy(s + from, repl, r);
  memcpy(s + from + r, text + to, n - to + 1);
  return s;
}

static size_t offset_of(const char *text, const char *find)
{
  const char *at = strstr(text, find);
  if (at == NULL)
    ck_abort_msg("'%s' not in the config", find);
  return (size_t)(at - text);
}

/* text with the first `find` replaced by `repl` (malloc'd). */
static char *replace(const char *text, const char *find, const char *repl)
{
  size_t at = offset_of(text, find);
  return text_splice(text, at, at + strlen(find), repl);
}

/* -------------------------------------------------- (a) bad input */

typedef struct {
  const char *what, *find, *repl;
  int line;
  const char *key, *value, *why;
} bad_config;

/* Lines of the tiny config: 4 lattice, 5 m2, 6 lambda, 9 kernel_size, 13 batch_size. */
static const bad_config BAD_CONFIGS[] = {
    {"unknown key", "  m2: -4.0\n", "  m2: -4.0\n  mass: 1\n", 6, "theory.mass", "value 1",
     "unknown key"},
    {"duplicate key", "  m2: -4.0\n", "  m2: -4.0\n  m2: 3\n", 6, "theory.m2", "'m2'",
     "duplicate key"},
    {"missing required key", "  m2: -4.0\n", "", 2, "theory.m2", NULL, "missing required key"},
    {"wrong type", "m2: -4.0", "m2: heavy", 5, "theory.m2", "value heavy", "number"},
    {"odd lattice extent", "[6, 6]", "[6, 7]", 4, "theory.lattice[1]", "value 7", "even"},
    {"even kernel", "kernel_size: 3", "kernel_size: 4", 9, "model.kernel_size", "value 4", "odd"},
    {"kernel larger than the lattice", "kernel_size: 3", "kernel_size: 7", 9,
     "model.kernel_size", "value 7", "theory.lattice"},
    {"negative batch size", "batch_size: 32", "batch_size: -5", 13, "train.batch_size",
     "value -5", ">= 1"},
    {"lambda < 0", "lambda: 2.0", "lambda: -1.0", 6, "theory.lambda", "value -1.0", ">= 0"},
    {"YAML syntax error", "lattice: [6, 6]", "lattice: [6, 6", 5, NULL, NULL, "YAML syntax error"},
};

START_TEST(bad_configs_exit_2_naming_file_line_key_and_value)
{
  char *dir = fg_test_tmpdir();
  ck_assert(dir != NULL);
  char *good = tiny_text(&TINY);
  for (size_t i = 0; i < sizeof BAD_CONFIGS / sizeof BAD_CONFIGS[0]; ++i) {
    const bad_config *b = &BAD_CONFIGS[i];
    char *text = replace(good, b->find, b->repl), path[PATH_LEN], at[PATH_LEN + 32];
    write_config(dir, "bad.yaml", text, path);
    snprintf(at, sizeof at, "%s:%d:", path, b->line);
    outcome o = RUN(dir, "train", path);
    expect(&o, 2, b->what, "flowgen: ", at, b->why, b->key ? b->key : "", b->value ? b->value : "",
           NULL);
    ck_assert_msg(o.out[0] == '\0', "%s: printed a result:\n%s", b->what, o.out);
    /* validated before any work: nothing was written */
    ck_assert_msg(!exists(dir, "model.h5") && !exists(dir, "model.csv"), "%s: wrote files",
                  b->what);
    outcome_free(&o);
    free(text);
  }
  free(good);
  remove_tree(dir);
}
END_TEST

/* An HDF5 file of somebody else's format: no `format` attribute. */
static void write_foreign_hdf5(const char *path)
{
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ck_assert(f >= 0);
  hid_t g = H5Gcreate2(f, "data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ck_assert(g >= 0);
  H5Gclose(g);
  H5Fclose(f);
}

START_TEST(bad_arguments_and_files_exit_2_naming_them)
{
  char *dir = fg_test_tmpdir();
  ck_assert(dir != NULL);
  char cfg[PATH_LEN], missing[PATH_LEN], text[PATH_LEN], foreign[PATH_LEN], none[PATH_LEN];
  write_tiny(dir, "tiny.yaml", &TINY, cfg);
  join(missing, dir, "nothere.yaml");
  join(text, dir, "notes.txt");
  ck_assert_int_eq(fg_test_write_file(text, "not HDF5\n"), 0);
  join(foreign, dir, "foreign.h5");
  write_foreign_hdf5(foreign);
  join(none, dir, "none.h5");
  char *good = tiny_text(&TINY);
  size_t train_at = offset_of(good, "train:"), sample_at = offset_of(good, "sample:");
  char no_train[PATH_LEN], no_sample[PATH_LEN];
  char *t = text_splice(good, train_at, sample_at, "");
  write_config(dir, "notrain.yaml", t, no_train);
  free(t);
  t = text_splice(good, sample_at, strlen(good), "");
  write_config(dir, "nosample.yaml", t, no_sample);
  free(t);
  free(good);

  outcome o = RUN(dir, "train", missing);
  expect(&o, 2, "missing config", missing, "cannot open", NULL);
  outcome_free(&o);
  o = RUN(dir, "frobnicate");
  expect(&o, 2, "unknown command", "unknown command 'frobnicate'", NULL);
  outcome_free(&o);
  o = RUN(dir, "train", cfg, "--fast");
  expect(&o, 2, "unknown option", "'--fast'", NULL);
  outcome_free(&o);
  o = RUN(dir, "info", text, "--verbose");
  expect(&o, 2, "unknown info option", "'--verbose'", NULL);
  outcome_free(&o);
  o = RUN(dir, "info", text);
  expect(&o, 2, "info on a text file", text, "not an HDF5 file", NULL);
  outcome_free(&o);
  o = RUN(dir, "info", none);
  expect(&o, 2, "info on a missing file", none, "No such file", NULL);
  outcome_free(&o);
  o = RUN(dir, "info", foreign, "--json");
  expect(&o, 2, "info on a foreign HDF5 file", foreign, "neither", NULL);
  ck_assert_msg(o.out[0] == '\0', "printed for a foreign file:\n%s", o.out);
  outcome_free(&o);
  o = RUN(dir, "analyze", foreign);
  expect(&o, 2, "analyze on a foreign HDF5 file", foreign, "not a flowgen ensemble", NULL);
  outcome_free(&o);
  o = RUN(dir, "train", no_train);
  expect(&o, 2, "train without a train section", no_train, "train: section missing", NULL);
  outcome_free(&o);
  o = RUN(dir, "sample", no_sample);
  expect(&o, 2, "sample without a sample section", no_sample, "sample: section missing", NULL);
  outcome_free(&o);
  remove_tree(dir);
}
END_TEST

/* ------------------------------------------------- (b) end to end */

static int count_lines(const char *text)
{
  int n = 0;
  for (; *text; ++text)
    n += *text == '\n';
  return n;
}

static void check_train_outputs(const char *dir, const char *cfg)
{
  outcome o = RUN(dir, "train", cfg);
  expect(&o, 0, "train", NULL);
  outcome_free(&o);
  ck_assert(exists(dir, "model.h5"));
  char p[PATH_LEN];
  join(p, dir, "model.csv");
  char *log = slurp(p);
  ck_assert_int_eq(count_lines(log), 31); /* header and one row per step */
  ck_assert_msg(strstr(log, "\n30,32,32,") != NULL, "no row for step 30:\n%s", log);
  free(log);
  join(p, dir, "model.h5");
  o = RUN(dir, "info", p, "--json");
  expect(&o, 0, "info on the checkpoint", NULL);
  ck_assert_msg(strstr(o.out, "\"format\": \"flowgen-checkpoint\"") &&
                    strstr(o.out, "\"step\": 30,") && strstr(o.out, "\"n_train\": 960,") &&
                    strstr(o.out, "\"stop_reason\": \"steps\""),
                "info --json:\n%s", o.out);
  outcome_free(&o);
}

static double chain_acceptance(const char *path)
{
  fg_ensemble_data d;
  fg_error err = {0};
  ck_assert_msg(fg_ensemble_load(path, &d, &err) == FG_OK, "%s", err.msg);
  ck_assert_int_eq(d.layout.n_chain, 600);
  int64_t moved = 0;
  for (int64_t t = 0; t < d.layout.n_chain; ++t)
    moved += d.chain_accepted[t];
  fg_ensemble_data_free(&d);
  return (double)moved / 600.0;
}

static void check_ensemble_outputs(const char *dir, const char *ens)
{
  outcome o = RUN(dir, "analyze", ens, "--json");
  expect(&o, 0, "analyze --json", NULL);
  ck_assert_msg(json_value(o.out, "n_chain") == 600 && strstr(o.out, "\"observables\": {") &&
                    strstr(o.out, "\"phi2\": {\"mean\": "),
                "analyze --json:\n%s", o.out);
  ck_assert_double_eq_tol(json_value(o.out, "acceptance"), chain_acceptance(ens), 1e-9);
  outcome_free(&o);
  o = RUN(dir, "info", ens);
  expect(&o, 0, "info on the ensemble", NULL);
  ck_assert_msg(strstr(o.out, "flowgen-ensemble") && strstr(o.out, "flow ensemble, complete") &&
                    strstr(o.out, "6 x 6") && strstr(o.out, "model_sha256") &&
                    strstr(o.out, "      proposals: 600\n"),
                "info:\n%s", o.out);
  outcome_free(&o);
  o = RUN(dir, "info", ens, "--json");
  expect(&o, 0, "info --json on the ensemble", NULL);
  ck_assert_msg(json_value(o.out, "rows") == 600 && json_value(o.out, "chain_length") == 600 &&
                    strstr(o.out, "\"kind\": \"flow\"") &&
                    strstr(o.out, "\"config\": \"seed: 7\\n"),
                "info --json:\n%s", o.out);
  ck_assert_double_eq_tol(json_value(o.out, "acceptance"), chain_acceptance(ens), 1e-12);
  outcome_free(&o);
}

START_TEST(train_info_sample_analyze_end_to_end)
{
  char *dir = fg_test_tmpdir();
  ck_assert(dir != NULL);
  char cfg[PATH_LEN], ens[PATH_LEN], model[PATH_LEN];
  write_tiny(dir, "tiny.yaml", &TINY, cfg);
  check_train_outputs(dir, cfg);
  outcome o = RUN(dir, "sample", cfg);
  expect(&o, 0, "sample", NULL);
  outcome_free(&o);
  ck_assert(exists(dir, "ens.h5") && !exists(dir, "ens.h5.tmp"));
  join(ens, dir, "ens.h5");
  check_ensemble_outputs(dir, ens);
  o = RUN(dir, "sample", cfg);
  expect(&o, 2, "sample over a finished output", ens, "exists", NULL);
  outcome_free(&o);
  join(model, dir, "model.h5");
  o = RUN(dir, "analyze", model);
  expect(&o, 2, "analyze on a checkpoint", model, "not a flowgen ensemble", NULL);
  outcome_free(&o);
  remove_tree(dir);
}
END_TEST

/* --------------------------------------------------- (c) signals */

/* What a signal test waits for before it sends SIGTERM; t: seconds waited. */
typedef struct {
  const char *dir;
  double seen; /* when the run's file first appeared; < 0 before */
  int (*ready)(void *self, double t);
} waiter;

/* Waits until w->ready holds, the child still running; fails (killing the
 * child) if it exits first or nothing happens within a minute. */
static void wait_until(pid_t pid, waiter *w, const char *what)
{
  int i = 0;
  for (; i < 6000 && !w->ready(w, 0.01 * i); ++i) {
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid)
      ck_abort_msg("flowgen exited before %s", what);
    sleep_s(0.01);
  }
  if (i == 6000) {
    kill(pid, SIGKILL);
    wait_exit(pid);
    ck_abort_msg("no %s within a minute", what);
  }
}

/* sig.h5.tmp exists and one round of rows reached the disk: the file is
 * sparse but for its 1-D datasets (33 bytes a row, zeroed at creation)
 * until rows are written. Where the file system is not sparse, half a
 * second after the file appeared does. */
static int sample_running(void *self, double t)
{
  waiter *w = self;
  char p[PATH_LEN];
  join(p, w->dir, "sig.h5.tmp");
  struct stat st;
  if (stat(p, &st) != 0)
    return 0;
  if (w->seen < 0)
    w->seen = t;
  const double wanted = 200000.0 * 33 + 8192.0 * 36 * 8;
  return (double)st.st_blocks * 512.0 >= wanted || t - w->seen >= 0.5;
}

static void stop_and_check(pid_t pid, const char *dir, const char *tag, const char *what)
{
  kill(pid, SIGTERM);
  int status = wait_exit(pid);
  char p[PATH_LEN], name[64];
  snprintf(name, sizeof name, "%s.err", tag);
  join(p, dir, name);
  char *err = slurp(p);
  ck_assert_msg(status == 0, "%s: exit status %d after SIGTERM; stderr:\n%s", what, status, err);
  ck_assert_msg(strstr(err, "stopped by signal") && strstr(err, "--resume"),
                "%s: no stop message on stderr:\n%s", what, err);
  free(err);
}

static void ensembles_equal(const char *a, const char *b)
{
  fg_ensemble_data x, y;
  fg_error err = {0};
  ck_assert_msg(fg_ensemble_load(a, &x, &err) == FG_OK, "%s", err.msg);
  ck_assert_msg(fg_ensemble_load(b, &y, &err) == FG_OK, "%s", err.msg);
  ck_assert(memcmp(&x.layout, &y.layout, sizeof x.layout) == 0);
  size_t n = (size_t)x.layout.n_configs, c = (size_t)x.layout.n_chain;
  ck_assert_msg(memcmp(x.chain_index, y.chain_index, c * sizeof(int64_t)) == 0,
                "/chain/index differs");
  ck_assert_msg(memcmp(x.chain_accepted, y.chain_accepted, c) == 0, "/chain/accepted differs");
  ck_assert_msg(memcmp(x.logw, y.logw, n * sizeof(double)) == 0, "/proposals/logw differs");
  ck_assert_msg(memcmp(x.configs, y.configs, n * (size_t)x.volume * sizeof(double)) == 0,
                "/configs differs");
  fg_ensemble_data_free(&x);
  fg_ensemble_data_free(&y);
}

/* "proposals  X of N (stopped; ...)" from the stopped run's table. */
static long long stopped_proposals(const char *dir)
{
  char p[PATH_LEN];
  join(p, dir, "sig.out");
  char *out = slurp(p);
  const char *line = strstr(out, "proposals ");
  long long done = -1, all = -1;
  ck_assert_msg(line && sscanf(line, "proposals %lld of %lld", &done, &all) == 2 &&
                    strstr(line, "(stopped"),
                "no stopped proposal count in:\n%s", out);
  free(out);
  return done;
}

START_TEST(sigterm_stops_sample_and_resume_matches_an_uninterrupted_run)
{
  char *dir = fg_test_tmpdir();
  ck_assert(dir != NULL);
  char cfg[PATH_LEN], ref[PATH_LEN], a[PATH_LEN], b[PATH_LEN];
  write_tiny(dir, "tiny.yaml", &TINY, cfg);
  outcome o = RUN(dir, "train", cfg);
  expect(&o, 0, "train", NULL);
  outcome_free(&o);
  tiny t = TINY;
  t.proposals = 200000; /* about a second of sampling: long enough to stop it midway */
  t.batch = 256;
  t.flush_every = 8192;
  t.output = "sig.h5";
  write_tiny(dir, "sig.yaml", &t, cfg);
  t.output = "ref.h5";
  write_tiny(dir, "ref.yaml", &t, ref);

  pid_t pid = spawn(dir, "sig", (const char *const[]){"sample", cfg, NULL});
  waiter w = {dir, -1.0, sample_running};
  wait_until(pid, &w, "a flushed round in sig.h5.tmp");
  stop_and_check(pid, dir, "sig", "sample");
  ck_assert_msg(!exists(dir, "sig.h5") && exists(dir, "sig.h5.tmp"),
                "the run finished before SIGTERM reached it (raise proposals) or left no .tmp");
  long long done = stopped_proposals(dir);
  ck_assert_msg(done > 0 && done < 200000 && done % 256 == 0, "stopped after %lld", done);
  join(a, dir, "sig.h5.tmp");
  o = RUN(dir, "info", a, "--json");
  expect(&o, 0, "info on the stopped run", NULL);
  ck_assert_msg(strstr(o.out, "\"complete\": false") && json_value(o.out, "rows_done") == done &&
                    json_value(o.out, "rows") == 200000,
                "info --json on the .tmp:\n%s", o.out);
  outcome_free(&o);

  o = RUN(dir, "sample", cfg, "--resume");
  expect(&o, 0, "sample --resume", NULL);
  outcome_free(&o);
  ck_assert(exists(dir, "sig.h5") && !exists(dir, "sig.h5.tmp"));
  o = RUN(dir, "sample", ref);
  expect(&o, 0, "uninterrupted sample", NULL);
  outcome_free(&o);
  join(a, dir, "sig.h5");
  join(b, dir, "ref.h5");
  ensembles_equal(a, b);
  remove_tree(dir);
}
END_TEST

static int train_running(void *self, double t)
{
  (void)t;
  char p[PATH_LEN];
  join(p, ((waiter *)self)->dir, "long.csv");
  struct stat st;
  return stat(p, &st) == 0 && st.st_size > 4000; /* a few dozen steps logged */
}

static void read_checkpoint(const char *dir, const char *name, fg_checkpoint *ck)
{
  char p[PATH_LEN];
  join(p, dir, name);
  fg_error err = {0};
  ck_assert_msg(fg_checkpoint_read(p, ck, &err) == FG_OK, "%s", err.msg);
}

START_TEST(sigterm_stops_train_and_resume_matches_an_uninterrupted_run)
{
  char *dir = fg_test_tmpdir();
  ck_assert(dir != NULL);
  char cfg[PATH_LEN], ref[PATH_LEN];
  tiny t = TINY;
  t.steps = 10000; /* about two seconds */
  t.model = "long";
  write_tiny(dir, "long.yaml", &t, cfg);
  t.model = "ref";
  write_tiny(dir, "ref.yaml", &t, ref);

  pid_t pid = spawn(dir, "long", (const char *const[]){"train", cfg, NULL});
  waiter w = {dir, -1.0, train_running};
  wait_until(pid, &w, "logged training steps");
  stop_and_check(pid, dir, "long", "train");
  fg_checkpoint a, b;
  read_checkpoint(dir, "long.h5", &a);
  ck_assert_str_eq(a.stop_reason, "signal");
  ck_assert_msg(a.step > 0 && a.step < 10000, "stopped at step %lld", (long long)a.step);
  fg_checkpoint_free(&a);

  outcome o = RUN(dir, "train", cfg, "--resume");
  expect(&o, 0, "train --resume", NULL);
  outcome_free(&o);
  o = RUN(dir, "train", ref);
  expect(&o, 0, "uninterrupted train", NULL);
  outcome_free(&o);
  read_checkpoint(dir, "long.h5", &a);
  read_checkpoint(dir, "ref.h5", &b);
  ck_assert_str_eq(a.stop_reason, "steps");
  ck_assert_int_eq(a.step, 10000);
  ck_assert_int_eq(a.n_train, b.n_train);
  ck_assert(a.nparams == b.nparams && a.opt_state_len == b.opt_state_len);
  ck_assert_msg(memcmp(a.params, b.params, a.nparams * sizeof(float)) == 0,
                "resumed parameters differ from the uninterrupted run's");
  ck_assert_msg(memcmp(a.opt_state, b.opt_state, a.opt_state_len * sizeof(double)) == 0,
                "resumed optimizer state differs");
  fg_checkpoint_free(&a);
  fg_checkpoint_free(&b);
  remove_tree(dir);
}
END_TEST

/* ---------------------------------------------------- (d) bench */

/* 2 x sum over coupling layers and convs of V cin cout K^2. */
static double dense_flops(int volume, int layers, int kernel, int nhidden, const int *hidden)
{
  double per_layer = 0;
  for (int c = 0; c <= nhidden; ++c) {
    int cin = c ? hidden[c - 1] : 1, cout = c < nhidden ? hidden[c] : 2;
    per_layer += (double)volume * cin * cout * kernel * kernel;
  }
  return 2.0 * layers * per_layer;
}

START_TEST(bench_json_reports_positive_rates_and_the_dense_flop_count)
{
  char *dir = fg_test_tmpdir();
  ck_assert(dir != NULL);
  char cfg[PATH_LEN];
  tiny t = TINY;
  t.hidden = "[4, 3]";
  write_tiny(dir, "bench.yaml", &t, cfg);
  outcome o = RUN(dir, "bench", cfg, "--json", "--batch", "32", "--seconds", "0.2");
  expect(&o, 0, "bench", NULL);
  const char *keys[] = {"sample_per_s", "train_samples_per_s", "flop_per_sample",
                        "sgemm_gflops"};
  for (int k = 0; k < 4; ++k)
    ck_assert_msg(json_value(o.out, keys[k]) > 0, "%s not > 0:\n%s", keys[k], o.out);
  ck_assert_msg(o.out[0] == '{' && strchr(o.out, '}') != NULL, "not one JSON object:\n%s", o.out);
  const int hidden[] = {4, 3};
  ck_assert_double_eq(json_value(o.out, "flop_per_sample"), dense_flops(36, 2, 3, 2, hidden));
  outcome_free(&o);
  remove_tree(dir);
}
END_TEST

static Suite *cli_suite(void)
{
  Suite *s = suite_create("cli");
  TCase *tc = tcase_create("program");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, bad_configs_exit_2_naming_file_line_key_and_value);
  tcase_add_test(tc, bad_arguments_and_files_exit_2_naming_them);
  tcase_add_test(tc, train_info_sample_analyze_end_to_end);
  tcase_add_test(tc, sigterm_stops_sample_and_resume_matches_an_uninterrupted_run);
  tcase_add_test(tc, sigterm_stops_train_and_resume_matches_an_uninterrupted_run);
  tcase_add_test(tc, bench_json_reports_positive_rates_and_the_dense_flop_count);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  /* What meson's test environment sets, for runs by hand. */
  setenv("OPENBLAS_NUM_THREADS", "1", 0);
  if (geteuid() == 0) {
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
  }
  return fg_test_run(cli_suite());
}
