/*
 * config.c -- the run configuration read from YAML (SPEC section 4; see
 * config.h for the fields, their defaults and their valid ranges).
 *
 *   void fg_config_defaults(fg_config *cfg)
 *     Every field to its default; required fields get sentinels (NULL
 *     paths, steps -1, zero counts, NaN couplings). Owns nothing afterwards.
 *
 *   int fg_config_load(const char *path, fg_config *cfg, fg_error *err)
 *     Reads the file (FG_ERR_INPUT naming path and strerror when it cannot)
 *     and hands its text to fg_config_parse.
 *
 *   int fg_config_parse(const char *text, size_t len, const char *path,
 *                       fg_config *cfg, fg_error *err)
 *     Initialises *cfg, keeps a copy of text and path, parses and validates.
 *     Every bad input is FG_ERR_INPUT with "path:line: dotted.key: value V:
 *     reason"; FG_ERR_RUNTIME only when memory runs out. Relative paths are
 *     joined to the folder of path (kept as written when path is NULL or has
 *     no folder). Call fg_config_free afterwards, success or not.
 *
 *   void fg_config_free(fg_config *cfg)
 *     Releases the owned strings and resets *cfg to defaults; safe on a
 *     zeroed struct and when called twice.
 *
 *   int fg_config_check_resume(const fg_config *stored, const fg_config *now,
 *                              unsigned what, const char *file, fg_error *err)
 *     The run identity: compares every key of the sections selected by what
 *     (FG_IDENT_* bits) that shapes the numbers; see config.h.
 *
 * All functions are local and deterministic. The schema is one table per
 * YAML mapping, walked by one reader: a key's type, range, whether it is
 * required and when it applies are all on its table line, so the rules are
 * read in one place and every key gets the same checks and messages. Rules
 * that tie keys together run as `after` hooks; the tables are ordered so
 * that what a hook looks at (the theory's name, the optimizer's name, the
 * lattice) has been read before it.
 */
#include "flowgen/config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yaml_tree.h"

static const char where[] = "fg_config_parse [config.c]";
static const char load_where[] = "fg_config_load [config.c]";

#define KEY_MAX 256
#define CONFIG_MAX_BYTES (16u << 20)

typedef struct {
  const char *file;       /* for messages */
  char dir[FG_PATH_MAX];  /* folder relative paths are joined to; "" keeps them */
  fg_config *cfg;
  fg_error *err;
} reader;

/* ---------------------------------------------------------------- messages */

static void append(char *buf, size_t cap, const char *s)
{
  size_t n = strlen(buf);
  if (n + 1 < cap)
    snprintf(buf + n, cap - n, "%s", s);
}

/* A node as the user wrote it, in flow style: 7, "x", [8, 7], {name: adamw}. */
static void render_into(const fg_ynode *n, char *buf, size_t cap)
{
  if (n->kind == FG_YNODE_SCALAR) {
    int quote = !n->plain;
    append(buf, cap, quote ? "\"" : "");
    append(buf, cap, fg_yaml_is_null(n) && n->text[0] == '\0' ? "null" : n->text);
    append(buf, cap, quote ? "\"" : "");
    return;
  }
  int is_map = n->kind == FG_YNODE_MAPPING;
  append(buf, cap, is_map ? "{" : "[");
  for (const fg_ynode *c = n->first; c != NULL; c = c->next) {
    if (is_map) {
      append(buf, cap, c->key);
      append(buf, cap, ": ");
    }
    render_into(c, buf, cap);
    append(buf, cap, c->next ? ", " : "");
  }
  append(buf, cap, is_map ? "}" : "]");
}

static void render(const fg_ynode *n, char *buf, size_t cap)
{
  buf[0] = '\0';
  render_into(n, buf, cap);
  size_t len = strlen(buf);
  if (len + 1 == cap && cap > 4) /* cut short: say so */
    memcpy(buf + len - 3, "...", 3);
}

/* "file:line: key: value V: reason", or without the value when value is NULL. */
static int report(reader *r, int line, const char *key, const fg_ynode *value,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int report(reader *r, int line, const char *key, const fg_ynode *value,
                  const char *fmt, ...)
{
  char reason[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  va_end(ap);
  if (value == NULL)
    return fg_fail(r->err, FG_ERR_INPUT, where, "%s:%d: %s: %s", r->file, line, key, reason);
  char shown[200];
  render(value, shown, sizeof shown);
  return fg_fail(r->err, FG_ERR_INPUT, where, "%s:%d: %s: value %s: %s", r->file, line, key,
                 shown, reason);
}

/* ----------------------------------------------------------------- schema */

typedef enum {
  T_INT,     /* int */
  T_INT64,   /* int64_t */
  T_SEED,    /* uint64_t, the whole range */
  T_REAL,    /* double, finite */
  T_BOOL,    /* int, 0 or 1 */
  T_PATH,    /* char *, owned, resolved against the config's folder */
  T_NAME,    /* an enum, by the names of names.c */
  T_INTLIST, /* int[], with its length stored apart */
  T_NAMELIST, /* an enum per entry (int[]), with its length stored apart */
  T_MAP      /* a nested table */
} field_type;

enum { REQUIRED = 1, NULLABLE = 2, PRESENT_FLAG = 4 }; /* field.flags */
enum { LO_OPEN = 1, HI_OPEN = 2 };                     /* field.open */

typedef struct field field;
struct field {
  const char *key;
  field_type type;
  size_t off;        /* where the value goes in fg_config (T_MAP: its `present`) */
  unsigned flags;
  double lo, hi;     /* valid range of numbers and list entries */
  unsigned open;     /* which ends of the range are excluded */
  size_t count_off;  /* T_INTLIST, T_NAMELIST: where the number of entries goes */
  int min_count, max_count;
  const field *sub;  /* T_MAP: the nested mapping's table, ended by a NULL key */
  const char *(*name_of)(int k);               /* T_NAME, T_NAMELIST: "?" past the last */
  const char *(*bad_int)(int64_t v);           /* extra integer rule: why not, or NULL */
  const char *(*unused)(const fg_config *cfg); /* why the key does not apply, or NULL */
  int (*after)(reader *r, const fg_ynode *node, const char *key);
};

#define AT(member) .off = offsetof(fg_config, member)
#define ANY_REAL .lo = -HUGE_VAL, .hi = HUGE_VAL
#define AT_LEAST(x) .lo = (x), .hi = HUGE_VAL
#define ABOVE(x) .lo = (x), .hi = HUGE_VAL, .open = LO_OPEN
#define FRACTION .lo = 0, .hi = 1, .open = HI_OPEN /* [0, 1) */

static void *slot(const reader *r, size_t off) { return (char *)r->cfg + off; }

/* ------------------------------------------------------------ scalar values */

static int need_scalar(reader *r, const fg_ynode *n, const char *key, const char *what)
{
  if (n->kind != FG_YNODE_SCALAR || fg_yaml_is_null(n))
    return report(r, n->line, key, n, "expected %s, got %s", what, fg_yaml_describe(n));
  return FG_OK;
}

/* Numbers must be plain: YAML reads "2" (quoted) as a string. */
static int need_number(reader *r, const fg_ynode *n, const char *key, const char *what)
{
  int rc = need_scalar(r, n, key, what);
  if (rc == FG_OK && !n->plain)
    rc = report(r, n->line, key, n, "expected %s, got a quoted string", what);
  return rc;
}

static int all_digits(const char *s)
{
  return s[0] != '\0' && strspn(s, "0123456789") == strlen(s);
}

/* YAML's decimal forms only: strtod alone would also take hex, inf and nan. */
static int looks_real(const char *s)
{
  s += (*s == '+' || *s == '-');
  size_t whole = strspn(s, "0123456789");
  s += whole;
  size_t frac = 0;
  if (*s == '.') {
    frac = strspn(s + 1, "0123456789");
    s += 1 + frac;
  }
  if (whole + frac == 0)
    return 0;
  if (*s == 'e' || *s == 'E') {
    s += 1 + (s[1] == '+' || s[1] == '-');
    if (!all_digits(s))
      return 0;
    s += strlen(s);
  }
  return *s == '\0';
}

static int parse_integer(reader *r, const fg_ynode *n, const char *key, int64_t *v)
{
  int rc = need_number(r, n, key, "an integer");
  if (rc != FG_OK)
    return rc;
  const char *s = n->text;
  if (!all_digits(s + (*s == '+' || *s == '-')))
    return report(r, n->line, key, n, "expected an integer%s",
                  looks_real(s) ? " (digits only, no fraction or exponent)" : "");
  errno = 0;
  long long x = strtoll(s, NULL, 10);
  if (errno == ERANGE)
    return report(r, n->line, key, n, "integer out of range");
  *v = x;
  return FG_OK;
}

static int parse_real(reader *r, const fg_ynode *n, const char *key, double *v)
{
  int rc = need_number(r, n, key, "a number");
  if (rc != FG_OK)
    return rc;
  if (!looks_real(n->text))
    return report(r, n->line, key, n, "expected a number");
  *v = strtod(n->text, NULL);
  if (!isfinite(*v))
    return report(r, n->line, key, n, "number out of range");
  return FG_OK;
}

static int check_range(reader *r, const field *f, const fg_ynode *n, const char *key, double v)
{
  int lo_open = (f->open & LO_OPEN) != 0, hi_open = (f->open & HI_OPEN) != 0;
  if (v < f->lo || (lo_open && v == f->lo))
    return report(r, n->line, key, n, "must be %s %.15g", lo_open ? ">" : ">=", f->lo);
  if (v > f->hi || (hi_open && v == f->hi))
    return report(r, n->line, key, n, "must be %s %.15g", hi_open ? "<" : "<=", f->hi);
  return FG_OK;
}

/* An integer with its field's rules; as_int caps it to what an int holds. */
static int read_integer(reader *r, const field *f, const fg_ynode *n, const char *key,
                        int as_int, int64_t *v)
{
  int rc = parse_integer(r, n, key, v);
  if (rc != FG_OK)
    return rc;
  const char *why = f->bad_int != NULL ? f->bad_int(*v) : NULL;
  if (why != NULL)
    return report(r, n->line, key, n, "%s", why);
  rc = check_range(r, f, n, key, (double)*v);
  if (rc == FG_OK && as_int && *v > INT_MAX)
    rc = report(r, n->line, key, n, "must be <= %d", INT_MAX);
  return rc;
}

static int read_seed(reader *r, const fg_ynode *n, const char *key, uint64_t *v)
{
  int rc = need_number(r, n, key, "a non-negative integer");
  if (rc != FG_OK)
    return rc;
  const char *s = n->text;
  if (!all_digits(s + (*s == '+')))
    return report(r, n->line, key, n, "expected a non-negative integer");
  errno = 0;
  unsigned long long x = strtoull(s, NULL, 10);
  if (errno == ERANGE)
    return report(r, n->line, key, n, "must be <= %llu", (unsigned long long)UINT64_MAX);
  *v = x;
  return FG_OK;
}

static int read_bool(reader *r, const fg_ynode *n, const char *key, int *v)
{
  static const char *const yes[] = {"true", "True", "TRUE"};
  static const char *const no[] = {"false", "False", "FALSE"};
  int rc = need_number(r, n, key, "true or false");
  for (int i = 0; rc == FG_OK && i < 3; ++i) {
    if (strcmp(n->text, yes[i]) == 0 || strcmp(n->text, no[i]) == 0) {
      *v = strcmp(n->text, yes[i]) == 0;
      return FG_OK;
    }
  }
  return rc != FG_OK ? rc : report(r, n->line, key, n, "expected true or false");
}

static int read_name(reader *r, const field *f, const fg_ynode *n, const char *key, int *v)
{
  int rc = need_scalar(r, n, key, "a name");
  if (rc != FG_OK)
    return rc;
  char known[256] = "";
  for (int k = 0; strcmp(f->name_of(k), "?") != 0; ++k) {
    if (strcmp(n->text, f->name_of(k)) == 0) {
      *v = k;
      return FG_OK;
    }
    append(known, sizeof known, k ? ", " : "");
    append(known, sizeof known, f->name_of(k));
  }
  return report(r, n->line, key, n, "unknown name (expected one of: %s)", known);
}

/* ------------------------------------------------------------------ paths */

/* Joins a relative path to the config's folder; absolute paths stay. */
static int resolve_path(reader *r, const fg_ynode *n, const char *key, char **out)
{
  const char *v = n->text;
  size_t vlen = strlen(v), dlen = v[0] == '/' ? 0 : strlen(r->dir);
  int slash = dlen > 0 && r->dir[dlen - 1] != '/';
  if (vlen == 0)
    return report(r, n->line, key, n, "a path must not be empty");
  if (dlen + (size_t)slash + vlen + 1 > FG_PATH_MAX)
    return report(r, n->line, key, n, "path longer than %d bytes once joined to %s",
                  FG_PATH_MAX - 1, r->dir);
  char *p = fg_alloc(dlen + (size_t)slash + vlen + 1, r->err, where);
  if (p == NULL)
    return FG_ERR_RUNTIME;
  memcpy(p, r->dir, dlen);
  if (slash)
    p[dlen] = '/';
  memcpy(p + dlen + (size_t)slash, v, vlen + 1);
  *out = p;
  return FG_OK;
}

static int read_path(reader *r, const field *f, const fg_ynode *n, const char *key)
{
  char **dst = slot(r, f->off);
  fg_free(*dst);
  *dst = NULL;
  if ((f->flags & NULLABLE) && fg_yaml_is_null(n))
    return FG_OK;
  int rc = need_scalar(r, n, key, "a path");
  return rc != FG_OK ? rc : resolve_path(r, n, key, dst);
}

/* ------------------------------------------------------ lists and mappings */

/* A sequence of integers (T_INTLIST) or of names (T_NAMELIST), each entry
 * with the field's rules and named key[i]. */
static int read_list(reader *r, const field *f, const fg_ynode *n, const char *key)
{
  if (n->kind != FG_YNODE_SEQUENCE)
    return report(r, n->line, key, n, "expected a sequence, got %s", fg_yaml_describe(n));
  if ((int)n->n_children < f->min_count || n->n_children > (size_t)f->max_count)
    return report(r, n->line, key, n, "needs %d to %d entries, got %zu", f->min_count,
                  f->max_count, n->n_children);
  int *dst = slot(r, f->off);
  int i = 0;
  for (const fg_ynode *c = n->first; c != NULL; c = c->next, ++i) {
    char item[KEY_MAX + 16];
    snprintf(item, sizeof item, "%s[%d]", key, i);
    int64_t v = 0;
    int rc = f->type == T_NAMELIST ? read_name(r, f, c, item, &dst[i])
                                   : read_integer(r, f, c, item, 1, &v);
    if (rc != FG_OK)
      return rc;
    if (f->type == T_INTLIST)
      dst[i] = (int)v;
  }
  *(int *)slot(r, f->count_off) = i;
  return FG_OK;
}

static int read_map(reader *r, const fg_ynode *map, const field *table, const char *prefix);

static int read_submap(reader *r, const field *f, const fg_ynode *n, const char *key)
{
  if (n->kind != FG_YNODE_MAPPING)
    return report(r, n->line, key, n, "expected a mapping, got %s", fg_yaml_describe(n));
  if (f->flags & PRESENT_FLAG)
    *(int *)slot(r, f->off) = 1;
  return read_map(r, n, f->sub, key);
}

static int read_field(reader *r, const field *f, const fg_ynode *n, const char *key)
{
  int64_t i = 0;
  int rc;
  switch (f->type) {
  case T_INT:
  case T_INT64:
    rc = read_integer(r, f, n, key, f->type == T_INT, &i);
    if (rc == FG_OK && f->type == T_INT)
      *(int *)slot(r, f->off) = (int)i;
    else if (rc == FG_OK)
      *(int64_t *)slot(r, f->off) = i;
    return rc;
  case T_SEED:
    return read_seed(r, n, key, slot(r, f->off));
  case T_REAL:
    rc = parse_real(r, n, key, slot(r, f->off));
    return rc != FG_OK ? rc : check_range(r, f, n, key, *(double *)slot(r, f->off));
  case T_BOOL:
    return read_bool(r, n, key, slot(r, f->off));
  case T_PATH:
    return read_path(r, f, n, key);
  case T_NAME: /* the enums of config.h are int-sized with values 0, 1, ... */
    return read_name(r, f, n, key, slot(r, f->off));
  case T_INTLIST:
  case T_NAMELIST:
    return read_list(r, f, n, key);
  case T_MAP:
    return read_submap(r, f, n, key);
  }
  return fg_fail(r->err, FG_ERR_RUNTIME, where, "%s: bad schema entry", key);
}

static void join_key(char *out, const char *prefix, const char *key)
{
  snprintf(out, KEY_MAX, "%s%s%s", prefix, prefix[0] ? "." : "", key);
}

/* Unknown keys first, in file order, so a typo is named before what it hides. */
static int check_unknown(reader *r, const fg_ynode *map, const field *table, const char *prefix)
{
  for (const fg_ynode *c = map->first; c != NULL; c = c->next) {
    const field *f = table;
    while (f->key != NULL && strcmp(f->key, c->key) != 0)
      ++f;
    if (f->key != NULL)
      continue;
    char key[KEY_MAX], known[512] = "";
    join_key(key, prefix, c->key);
    for (f = table; f->key != NULL; ++f) {
      append(known, sizeof known, f == table ? "" : ", ");
      append(known, sizeof known, f->key);
    }
    return report(r, c->key_line, key, c, "unknown key (known here: %s)", known);
  }
  return FG_OK;
}

static int read_map(reader *r, const fg_ynode *map, const field *table, const char *prefix)
{
  int rc = check_unknown(r, map, table, prefix);
  for (const field *f = table; rc == FG_OK && f->key != NULL; ++f) {
    char key[KEY_MAX];
    join_key(key, prefix, f->key);
    const fg_ynode *n = fg_yaml_get(map, f->key);
    const char *why = f->unused != NULL ? f->unused(r->cfg) : NULL;
    int line = map->key_line > 0 ? map->key_line : map->line;
    if (n == NULL && (f->flags & REQUIRED) && why == NULL)
      rc = report(r, line, key, NULL, "missing required key");
    else if (n != NULL && why != NULL)
      rc = report(r, n->line, key, n, "%s", why);
    else if (n != NULL)
      rc = read_field(r, f, n, key);
    if (rc == FG_OK && n != NULL && f->after != NULL)
      rc = f->after(r, n, key);
  }
  return rc;
}

/* ------------------------------------------------------------ enum names */

static const char *theory_name(int k) { return fg_theory_name((fg_theory_kind)k); }
static const char *base_name(int k) { return fg_base_name((fg_base_kind)k); }
static const char *activation_name(int k) { return fg_activation_name((fg_activation)k); }
static const char *gauge_loops_name(int k) { return fg_gauge_loops_name((fg_gauge_loops)k); }
static const char *gauge_map_name(int k) { return fg_gauge_map_name((fg_gauge_map)k); }
static const char *gauge_order_name(int k) { return fg_gauge_order_name((fg_gauge_order)k); }
static const char *init_name(int k) { return fg_init_name((fg_init_scheme)k); }
static const char *optimizer_name(int k) { return fg_optimizer_name((fg_optimizer_kind)k); }
static const char *schedule_name(int k) { return fg_schedule_name((fg_schedule_kind)k); }
static const char *integrator_name(int k) { return fg_integrator_name((fg_integrator_kind)k); }
static const char *fermion_bc_name(int k) { return fg_fermion_bc_name((fg_fermion_bc)k); }
static const char *fermions_name(int k) { return fg_hmc_fermions_name((fg_hmc_fermions)k); }
static const char *gradient_name(int k) { return fg_gradient_name((fg_gradient_kind)k); }
static const char *symmetry_name(int k) { return fg_symmetry_name((fg_symmetry_kind)k); }

/* ------------------------------------------------------------ theory rules */

static const char *phi4_only(const fg_config *c)
{
  return c->theory.name == FG_THEORY_PHI4 ? NULL : "used only by theory phi4";
}

static const char *schwinger_only(const fg_config *c)
{
  return c->theory.name == FG_THEORY_SCHWINGER ? NULL : "used only by theory schwinger";
}

static const char *bad_extent(int64_t v)
{
  return v >= 1 && v % 2 == 0 ? NULL : "lattice extents must be positive and even";
}

/* The gauge field and its Dirac operator are written for two dimensions;
 * the volume is bounded by what a lattice's int site indices hold with room
 * for the neighbour tables (FG_MAX_VOLUME, the limit of fg_lattice_init). */
static int after_lattice(reader *r, const fg_ynode *n, const char *key)
{
  const fg_theory_config *t = &r->cfg->theory;
  if (t->name == FG_THEORY_SCHWINGER && t->nd != 2)
    return report(r, n->line, key, n, "theory schwinger needs a 2D lattice");
  /* the pion's effective mass at t = L0/2 needs C(t - 1) and C(t + 1) */
  if (t->name == FG_THEORY_SCHWINGER && t->extent[0] < 4)
    return report(r, n->line, key, n, "theory schwinger needs L0 >= 4 (time direction)");
  double volume = 1.0;
  for (int mu = 0; mu < t->nd; ++mu)
    volume *= t->extent[mu];
  if (volume > (double)FG_MAX_VOLUME)
    return report(r, n->line, key, n, "%.0f sites, more than the limit of %ld (2^28) sites",
                  volume, (long)FG_MAX_VOLUME);
  return FG_OK;
}

/* One boundary condition per direction of the lattice (read before it). */
static int after_fermion_bc(reader *r, const fg_ynode *n, const char *key)
{
  const fg_theory_config *t = &r->cfg->theory;
  if (t->n_fermion_bc != t->nd)
    return report(r, n->line, key, n, "needs one entry per direction of theory.lattice (%d)",
                  t->nd);
  return FG_OK;
}

static const field theory_fields[] = {
    {.key = "name", .type = T_NAME, AT(theory.name), .flags = REQUIRED, .name_of = theory_name},
    {.key = "lattice", .type = T_INTLIST, AT(theory.extent), .flags = REQUIRED, AT_LEAST(1),
     .count_off = offsetof(fg_config, theory.nd), .min_count = 1, .max_count = FG_MAXDIM,
     .bad_int = bad_extent, .after = after_lattice},
    {.key = "m2", .type = T_REAL, AT(theory.m2), .flags = REQUIRED, ANY_REAL, .unused = phi4_only},
    {.key = "lambda", .type = T_REAL, AT(theory.lambda), .flags = REQUIRED, AT_LEAST(0),
     .unused = phi4_only},
    {.key = "beta", .type = T_REAL, AT(theory.beta), ABOVE(0), .unused = schwinger_only},
    {.key = "kappa", .type = T_REAL, AT(theory.kappa), AT_LEAST(0), .unused = schwinger_only},
    {.key = "fermion_bc", .type = T_NAMELIST, AT(theory.fermion_bc), .name_of = fermion_bc_name,
     .count_off = offsetof(fg_config, theory.n_fermion_bc), .min_count = 1,
     .max_count = FG_MAXDIM, .unused = schwinger_only, .after = after_fermion_bc},
    {.key = NULL}};

/* ------------------------------------------------------------- model rules */

static const char *free_field_only(const fg_config *c)
{
  return c->model.base == FG_BASE_FREE_FIELD ? NULL : "used only with model.base free_field";
}

/* model.base is defaulted to haar for the Schwinger model only after the
 * model section is read, hence the theory's name as well. */
static const char *gauge_only(const fg_config *c)
{
  return c->model.base == FG_BASE_HAAR || c->theory.name == FG_THEORY_SCHWINGER
             ? NULL
             : "used only with the gauge layers (model.base haar)";
}

/* gauge_map is read before spline_bins (model_fields' order). */
static const char *spline_only(const fg_config *c)
{
  return c->model.gauge_map == FG_MAP_SPLINE ? NULL : "used only with model.gauge_map spline";
}

static const char *bad_kernel(int64_t v)
{
  return v >= 1 && v % 2 == 1 ? NULL : "kernel size must be odd and >= 1";
}

/* Without a learned free-field base, zero coupling layers would be no model at all. */
static int after_coupling_layers(reader *r, const fg_ynode *n, const char *key)
{
  if (r->cfg->model.coupling_layers == 0 && r->cfg->model.base != FG_BASE_FREE_FIELD)
    return report(r, n->line, key, n, "must be >= 1 unless model.base is free_field");
  return FG_OK;
}

/* Circular padding K/2 wraps a kernel around the lattice once at most. */
static int after_kernel_size(reader *r, const fg_ynode *n, const char *key)
{
  const fg_theory_config *t = &r->cfg->theory;
  for (int mu = 0; mu < t->nd; ++mu)
    if (r->cfg->model.kernel_size > t->extent[mu])
      return report(r, n->line, key, n, "larger than theory.lattice[%d] = %d", mu,
                    t->extent[mu]);
  return FG_OK;
}

/* The Schwinger model's fields are link angles: unless model.base is
 * written, its flows start from the Haar base (gauge coupling layers). The
 * base then written is checked against the theory by the commands
 * (fg_flow_check_theory). Gauge layers take the blocked mask order unless
 * model.gauge_order is written (a checkpoint without the attribute is
 * alternating: files from before the key keep their meaning). */
static int after_model(reader *r, const fg_ynode *n, const char *key)
{
  (void)key;
  if (fg_yaml_get(n, "base") == NULL && r->cfg->theory.name == FG_THEORY_SCHWINGER)
    r->cfg->model.base = FG_BASE_HAAR;
  if (fg_yaml_get(n, "gauge_order") == NULL && r->cfg->model.base == FG_BASE_HAAR)
    r->cfg->model.gauge_order = FG_ORDER_BLOCKED;
  return FG_OK;
}

static const field init_fields[] = {
    {.key = "scheme", .type = T_NAME, AT(model.init_scheme), .name_of = init_name},
    {.key = "scale", .type = T_REAL, AT(model.init_scale), ABOVE(0)},
    {.key = NULL}};

static const field model_fields[] = {
    {.key = "base", .type = T_NAME, AT(model.base), .name_of = base_name},
    {.key = "coupling_layers", .type = T_INT, AT(model.coupling_layers), .flags = REQUIRED,
     AT_LEAST(0), .after = after_coupling_layers},
    {.key = "kernel_size", .type = T_INT, AT(model.kernel_size), .flags = REQUIRED,
     AT_LEAST(1), .bad_int = bad_kernel, .after = after_kernel_size},
    {.key = "hidden_channels", .type = T_INTLIST, AT(model.hidden_channels),
     .flags = REQUIRED, AT_LEAST(1), .count_off = offsetof(fg_config, model.n_hidden),
     .min_count = 0, .max_count = FG_MAXHIDDEN},
    {.key = "activation", .type = T_NAME, AT(model.activation), .name_of = activation_name},
    {.key = "gauge_loops", .type = T_NAME, AT(model.gauge_loops), .name_of = gauge_loops_name,
     .unused = gauge_only},
    {.key = "gauge_map", .type = T_NAME, AT(model.gauge_map), .name_of = gauge_map_name,
     .unused = gauge_only},
    {.key = "gauge_order", .type = T_NAME, AT(model.gauge_order), .name_of = gauge_order_name,
     .unused = gauge_only},
    {.key = "spline_bins", .type = T_INT, AT(model.spline_bins), .lo = FG_SPLINE_BINS_MIN,
     .hi = FG_SPLINE_BINS_MAX, .unused = spline_only},
    {.key = "init", .type = T_MAP, .sub = init_fields},
    {.key = "mu_init", .type = T_REAL, AT(model.mu_init), ABOVE(0), .unused = free_field_only},
    {.key = "symmetry", .type = T_NAME, AT(model.symmetry), .name_of = symmetry_name},
    {.key = NULL}};

/* -------------------------------------------------------------- train rules */

static void optimizer_defaults(fg_optimizer_config *o, fg_optimizer_kind name)
{
  static const double lr[] = {1e-3, 1.0, 1e-2}; /* adam, adadelta, sgd */
  o->name = name;
  o->lr = lr[name];
  o->beta1 = 0.9;
  o->beta2 = 0.999;
  o->eps = name == FG_OPT_ADADELTA ? 1e-6 : 1e-8;
  o->rho = 0.9;
  o->momentum = 0.0;
  o->weight_decay = 0.0;
}

/* The name picks the defaults of the other keys, which the table reads next. */
static int after_optimizer_name(reader *r, const fg_ynode *n, const char *key)
{
  (void)n, (void)key;
  optimizer_defaults(&r->cfg->train.optimizer, r->cfg->train.optimizer.name);
  return FG_OK;
}

static const char *adam_only(const fg_config *c)
{
  return c->train.optimizer.name == FG_OPT_ADAM ? NULL : "used only by optimizer adam";
}

static const char *adam_or_adadelta_only(const fg_config *c)
{
  return c->train.optimizer.name != FG_OPT_SGD ? NULL : "used only by optimizers adam and adadelta";
}

static const char *adadelta_only(const fg_config *c)
{
  return c->train.optimizer.name == FG_OPT_ADADELTA ? NULL : "used only by optimizer adadelta";
}

static const char *sgd_only(const fg_config *c)
{
  return c->train.optimizer.name == FG_OPT_SGD ? NULL : "used only by optimizer sgd";
}

static const field optimizer_fields[] = {
    {.key = "name", .type = T_NAME, AT(train.optimizer.name), .name_of = optimizer_name,
     .after = after_optimizer_name},
    {.key = "lr", .type = T_REAL, AT(train.optimizer.lr), ABOVE(0)},
    {.key = "beta1", .type = T_REAL, AT(train.optimizer.beta1), FRACTION, .unused = adam_only},
    {.key = "beta2", .type = T_REAL, AT(train.optimizer.beta2), FRACTION, .unused = adam_only},
    {.key = "eps", .type = T_REAL, AT(train.optimizer.eps), ABOVE(0),
     .unused = adam_or_adadelta_only},
    {.key = "rho", .type = T_REAL, AT(train.optimizer.rho), FRACTION, .unused = adadelta_only},
    {.key = "momentum", .type = T_REAL, AT(train.optimizer.momentum), FRACTION,
     .unused = sgd_only},
    {.key = "weight_decay", .type = T_REAL, AT(train.optimizer.weight_decay), AT_LEAST(0)},
    {.key = NULL}};

/* Growing a batch multiplies it; decaying a learning rate shrinks it. */
static int after_schedule_kind(reader *r, const fg_ynode *n, const char *key)
{
  (void)n, (void)key;
  fg_schedule_config *s = &r->cfg->train.schedule;
  s->factor = s->kind == FG_SCHED_LEARNING_RATE ? 0.5 : 2.0;
  return FG_OK;
}

static int after_schedule(reader *r, const fg_ynode *n, const char *key)
{
  const fg_train_config *t = &r->cfg->train;
  const fg_ynode *factor = fg_yaml_get(n, "factor");
  if (t->schedule.kind == FG_SCHED_BATCH_SIZE && factor != NULL && !(t->schedule.factor > 1.0)) {
    char full[KEY_MAX];
    join_key(full, key, "factor");
    return report(r, factor->line, full, factor, "must be > 1 for kind batch_size (it grows the batch)");
  }
  if (t->schedule.kind != FG_SCHED_BATCH_SIZE || t->schedule.max_batch_size >= t->batch_size)
    return FG_OK;
  const fg_ynode *max = fg_yaml_get(n, "max_batch_size");
  char full[KEY_MAX];
  join_key(full, key, "max_batch_size");
  if (max != NULL)
    return report(r, max->line, full, max, "must be >= train.batch_size (%d)", t->batch_size);
  return report(r, n->key_line, full, NULL, "default %d is below train.batch_size (%d)",
                t->schedule.max_batch_size, t->batch_size);
}

static const field schedule_fields[] = {
    {.key = "kind", .type = T_NAME, AT(train.schedule.kind), .name_of = schedule_name,
     .after = after_schedule_kind},
    {.key = "every", .type = T_INT, AT(train.schedule.every), AT_LEAST(1)},
    {.key = "factor", .type = T_REAL, AT(train.schedule.factor), ABOVE(0)},
    {.key = "max_batch_size", .type = T_INT, AT(train.schedule.max_batch_size), AT_LEAST(1)},
    {.key = "min_lr", .type = T_REAL, AT(train.schedule.min_lr), AT_LEAST(0)},
    {.key = NULL}};

static const field stop_fields[] = {
    {.key = "target_ess", .type = T_REAL, AT(train.stop_target_ess), .lo = 0, .hi = 1},
    {.key = "window", .type = T_INT, AT(train.stop_window), .lo = 1, .hi = 4096 /* the window kept in a checkpoint */},
    {.key = NULL}};

/* The log defaults to the checkpoint's name with .csv for its extension. */
static int default_log(reader *r)
{
  fg_train_config *t = &r->cfg->train;
  const char *base = strrchr(t->checkpoint, '/');
  base = base != NULL ? base + 1 : t->checkpoint;
  const char *dot = strrchr(base, '.');
  size_t stem = dot != NULL && dot != base ? (size_t)(dot - t->checkpoint) : strlen(t->checkpoint);
  if (strcmp(t->checkpoint + stem, ".csv") == 0) /* never the checkpoint's own name */
    stem = strlen(t->checkpoint);
  t->log = fg_alloc(stem + 5, r->err, where);
  if (t->log == NULL)
    return FG_ERR_RUNTIME;
  memcpy(t->log, t->checkpoint, stem);
  memcpy(t->log + stem, ".csv", 5);
  return FG_OK;
}

static int after_train(reader *r, const fg_ynode *n, const char *key)
{
  (void)key;
  fg_train_config *t = &r->cfg->train;
  if (t->log == NULL)
    return default_log(r);
  const fg_ynode *log = fg_yaml_get(n, "log");
  if (strcmp(t->log, t->checkpoint) == 0)
    return report(r, log->line, "train.log", log, "the same file as train.checkpoint");
  return FG_OK;
}

static const char *data_only(const fg_config *c)
{
  return c->train.data != NULL ? NULL : "used only with train.data";
}

static const field train_fields[] = {
    {.key = "steps", .type = T_INT64, AT(train.steps), .flags = REQUIRED, AT_LEAST(0)},
    {.key = "batch_size", .type = T_INT, AT(train.batch_size), .flags = REQUIRED, AT_LEAST(1)},
    {.key = "optimizer", .type = T_MAP, .sub = optimizer_fields},
    {.key = "schedule", .type = T_MAP, .sub = schedule_fields, .after = after_schedule},
    {.key = "grad_clip_norm", .type = T_REAL, AT(train.grad_clip_norm), AT_LEAST(0)},
    {.key = "stop", .type = T_MAP, .sub = stop_fields},
    {.key = "init_from", .type = T_PATH, AT(train.init_from), .flags = NULLABLE},
    {.key = "reset_optimizer", .type = T_BOOL, AT(train.reset_optimizer)},
    {.key = "gradient", .type = T_NAME, AT(train.gradient), .name_of = gradient_name},
    {.key = "data", .type = T_PATH, AT(train.data), .flags = NULLABLE},
    {.key = "data_weight", .type = T_REAL, AT(train.data_weight), ABOVE(0),
     .unused = data_only},
    {.key = "checkpoint", .type = T_PATH, AT(train.checkpoint), .flags = REQUIRED},
    {.key = "log", .type = T_PATH, AT(train.log)},
    {.key = "checkpoint_every", .type = T_INT64, AT(train.checkpoint_every), AT_LEAST(0)},
    {.key = "eval_samples", .type = T_INT64, AT(train.eval_samples), AT_LEAST(1)},
    {.key = NULL}};

/* ------------------------------------------------------ sample, hmc, top */

/* Writing the ensemble over the model it was drawn from would lose the model. */
static int after_sample(reader *r, const fg_ynode *n, const char *key)
{
  (void)key;
  const fg_ynode *out = fg_yaml_get(n, "output");
  if (strcmp(r->cfg->sample.output, r->cfg->sample.model) == 0)
    return report(r, out->line, "sample.output", out, "the same file as sample.model");
  return FG_OK;
}

static const field sample_fields[] = {
    {.key = "model", .type = T_PATH, AT(sample.model), .flags = REQUIRED},
    {.key = "proposals", .type = T_INT64, AT(sample.proposals), .flags = REQUIRED, AT_LEAST(1)},
    {.key = "batch_size", .type = T_INT, AT(sample.batch_size), AT_LEAST(1)},
    {.key = "flush_every", .type = T_INT64, AT(sample.flush_every), AT_LEAST(1)},
    {.key = "output", .type = T_PATH, AT(sample.output), .flags = REQUIRED},
    {.key = NULL}};

static const field hmc_fields[] = {
    {.key = "trajectories", .type = T_INT64, AT(hmc.trajectories), .flags = REQUIRED,
     AT_LEAST(1)},
    {.key = "thermalization", .type = T_INT64, AT(hmc.thermalization), AT_LEAST(0)},
    {.key = "trajectory_length", .type = T_REAL, AT(hmc.trajectory_length), ABOVE(0)},
    {.key = "md_steps", .type = T_INT, AT(hmc.md_steps), AT_LEAST(1)},
    {.key = "integrator", .type = T_NAME, AT(hmc.integrator), .name_of = integrator_name},
    {.key = "fermions", .type = T_NAME, AT(hmc.fermions), .name_of = fermions_name,
     .unused = schwinger_only},
    {.key = "cg_tolerance", .type = T_REAL, AT(hmc.cg_tolerance), .lo = 0, .hi = 1e-3,
     .open = LO_OPEN, .unused = schwinger_only},
    {.key = "cg_max_iterations", .type = T_INT, AT(hmc.cg_max_iterations), AT_LEAST(1),
     .unused = schwinger_only},
    {.key = "checkpoint_every", .type = T_INT64, AT(hmc.checkpoint_every), AT_LEAST(1)},
    {.key = "output", .type = T_PATH, AT(hmc.output), .flags = REQUIRED},
    {.key = NULL}};

static const field top_fields[] = {
    {.key = "seed", .type = T_SEED, AT(seed), .flags = REQUIRED},
    {.key = "theory", .type = T_MAP, .flags = REQUIRED, .sub = theory_fields},
    {.key = "model", .type = T_MAP, .flags = REQUIRED, .sub = model_fields,
     .after = after_model},
    {.key = "train", .type = T_MAP, AT(train.present), .flags = PRESENT_FLAG,
     .sub = train_fields, .after = after_train},
    {.key = "sample", .type = T_MAP, AT(sample.present), .flags = PRESENT_FLAG,
     .sub = sample_fields, .after = after_sample},
    {.key = "hmc", .type = T_MAP, AT(hmc.present), .flags = PRESENT_FLAG, .sub = hmc_fields},
    {.key = NULL}};

/* ------------------------------------------------------------- entry points */

void fg_config_defaults(fg_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  cfg->theory = (fg_theory_config){.name = FG_THEORY_PHI4, .m2 = NAN, .lambda = NAN,
                                   .beta = 1.0, .kappa = 0.25, .n_fermion_bc = 2,
                                   .fermion_bc = {FG_BC_ANTIPERIODIC, FG_BC_PERIODIC}};
  cfg->model = (fg_model_config){.base = FG_BASE_NORMAL, .coupling_layers = -1,
                                 .activation = FG_ACT_LEAKY_RELU, .init_scheme = FG_INIT_KAIMING,
                                 .init_scale = 1.0, .mu_init = 1.0,
                                 .spline_bins = FG_SPLINE_BINS_DEFAULT};
  fg_train_config *t = &cfg->train;
  t->steps = -1;
  optimizer_defaults(&t->optimizer, FG_OPT_ADAM);
  t->schedule = (fg_schedule_config){.kind = FG_SCHED_NONE, .every = 500, .factor = 2.0,
                                     .max_batch_size = 1 << 20, .min_lr = 0.0};
  t->stop_window = 100;
  t->checkpoint_every = 500;
  t->eval_samples = 8192;
  t->data_weight = 1.0;
  cfg->sample.batch_size = 256;
  cfg->sample.flush_every = 65536;
  cfg->hmc = (fg_hmc_config){.trajectory_length = 1.0, .md_steps = 10,
                             .integrator = FG_INTEGRATOR_LEAPFROG, .checkpoint_every = 1000,
                             .fermions = FG_FERMIONS_PSEUDOFERMION, .cg_tolerance = 1e-10,
                             .cg_max_iterations = 10000};
}

void fg_config_free(fg_config *cfg)
{
  char *owned[] = {cfg->path,       cfg->text,          cfg->train.init_from,  cfg->train.data,
                   cfg->train.log,  cfg->train.checkpoint, cfg->sample.model,
                   cfg->sample.output, cfg->hmc.output};
  for (size_t i = 0; i < sizeof owned / sizeof owned[0]; ++i)
    fg_free(owned[i]);
  fg_config_defaults(cfg);
}

static char *copy_bytes(const char *s, size_t len, fg_error *err)
{
  char *c = fg_alloc(len + 1, err, where);
  if (c != NULL && len > 0)
    memcpy(c, s, len);
  return c;
}

/* The folder part of path ("" when there is none: paths then stay as written). */
static int set_dir(reader *r, const char *path)
{
  const char *slash = path != NULL ? strrchr(path, '/') : NULL;
  size_t n = slash == NULL ? 0 : slash == path ? 1 : (size_t)(slash - path);
  if (n >= sizeof r->dir)
    return fg_fail(r->err, FG_ERR_INPUT, where, "%s: config path longer than %d bytes", path,
                   FG_PATH_MAX - 1);
  if (n > 0) /* memcpy from NULL is undefined even for 0 bytes */
    memcpy(r->dir, path, n);
  r->dir[n] = '\0';
  return FG_OK;
}

static int read_root(reader *r, const fg_ynode *root)
{
  if (root == NULL)
    return fg_fail(r->err, FG_ERR_INPUT, where, "%s:1: the config is empty", r->file);
  if (root->kind != FG_YNODE_MAPPING)
    return report(r, root->line, "(top level)", root,
                  "expected a mapping of sections (seed, theory, model, ...), got %s",
                  fg_yaml_describe(root));
  return read_map(r, root, top_fields, "");
}

int fg_config_parse(const char *text, size_t len, const char *path, fg_config *cfg,
                    fg_error *err)
{
  fg_config_defaults(cfg);
  reader r = {.file = path != NULL ? path : FG_YAML_NO_FILE, .cfg = cfg, .err = err};
  int rc = set_dir(&r, path);
  if (rc != FG_OK)
    return rc;
  cfg->text = copy_bytes(text, len, err);
  cfg->path = path != NULL ? copy_bytes(path, strlen(path), err) : NULL;
  if (cfg->text == NULL || (path != NULL && cfg->path == NULL))
    return FG_ERR_RUNTIME;
  cfg->text_len = len;
  fg_ynode *root = NULL;
  rc = fg_yaml_parse(text, len, r.file, &root, err);
  if (rc == FG_OK)
    rc = read_root(&r, root);
  fg_yaml_free(root);
  return rc;
}

/* The whole file into a NUL-terminated buffer; grows by doubling (pipes have no size). */
static int read_file(const char *path, FILE *f, char **text, size_t *len, fg_error *err)
{
  size_t cap = 1 << 12, n = 0;
  char *buf = fg_alloc(cap, err, load_where);
  for (;;) {
    if (buf == NULL)
      return FG_ERR_RUNTIME;
    n += fread(buf + n, 1, cap - 1 - n, f);
    if (ferror(f)) {
      int code = errno;
      fg_free(buf);
      return fg_fail(err, FG_ERR_INPUT, load_where, "%s: cannot read config: %s", path,
                     strerror(code));
    }
    if (feof(f))
      break;
    if (cap >= CONFIG_MAX_BYTES) {
      fg_free(buf);
      return fg_fail(err, FG_ERR_INPUT, load_where, "%s: larger than %u bytes: not a config",
                     path, CONFIG_MAX_BYTES);
    }
    char *bigger = fg_alloc(2 * cap, err, load_where);
    if (bigger != NULL)
      memcpy(bigger, buf, n);
    fg_free(buf);
    buf = bigger;
    cap *= 2;
  }
  buf[n] = '\0';
  *text = buf;
  *len = n;
  return FG_OK;
}

int fg_config_load(const char *path, fg_config *cfg, fg_error *err)
{
  fg_config_defaults(cfg);
  if (path == NULL)
    return fg_fail(err, FG_ERR_INPUT, load_where, "no config file given");
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return fg_fail(err, FG_ERR_INPUT, load_where, "%s: cannot open config: %s", path,
                   strerror(errno));
  char *text = NULL;
  size_t len = 0;
  int rc = read_file(path, f, &text, &len, err);
  fclose(f);
  if (rc == FG_OK)
    rc = fg_config_parse(text, len, path, cfg, err);
  fg_free(text);
  return rc;
}

/* ------------------------------------------------- messages after parsing */

/* The node at a dotted key ("theory.lattice") of a parsed tree, or NULL. */
static const fg_ynode *node_at(const fg_ynode *root, const char *key)
{
  char part[KEY_MAX];
  const fg_ynode *n = root;
  while (n != NULL && *key) {
    size_t len = strcspn(key, ".");
    if (len >= sizeof part)
      return NULL;
    memcpy(part, key, len);
    part[len] = '\0';
    n = fg_yaml_get(n, part);
    key += len + (key[len] == '.');
  }
  return n;
}

int fg_config_report(const fg_config *cfg, const char *key, int code, fg_error *err,
                     const char *fmt, ...)
{
  static const char report_where[] = "fg_config_report [config.c]";
  char reason[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  va_end(ap);
  const char *file = cfg->path != NULL ? cfg->path : FG_YAML_NO_FILE;
  fg_ynode *root = NULL;
  fg_error ignored = {0};
  const fg_ynode *n = NULL;
  if (cfg->text != NULL && fg_yaml_parse(cfg->text, cfg->text_len, file, &root, &ignored) == FG_OK)
    n = node_at(root, key);
  int rc;
  if (n == NULL) {
    rc = fg_fail(err, code, report_where, "%s: %s: %s", file, key, reason);
  } else {
    char shown[200];
    render(n, shown, sizeof shown);
    rc = fg_fail(err, code, report_where, "%s:%d: %s: value %s: %s", file, n->line, key, shown, reason);
  }
  fg_yaml_free(root);
  return rc;
}

/* ------------------------------------------------------------ run identity */

/* Keys a continuation may change: how long the run goes, how often it
 * saves, where its files are, and what it measures at the end. Everything
 * else in the checked sections shapes the numbers and must match. */
static const char *const resume_may_change[] = {
    "train.steps", "train.stop.target_ess", "train.stop.window", "train.checkpoint_every",
    "train.eval_samples", "train.reset_optimizer", "sample.proposals", "sample.flush_every",
    "hmc.trajectories", "hmc.checkpoint_every", NULL};

static const char resume_where[] = "fg_config_check_resume [config.c]";

static int may_change(const char *key)
{
  for (int i = 0; resume_may_change[i] != NULL; ++i)
    if (strcmp(key, resume_may_change[i]) == 0)
      return 1;
  return 0;
}

/* A field's value as a user would write it. */
static void show_value(const field *f, const fg_config *c, char *buf, size_t cap)
{
  const void *p = (const char *)c + f->off;
  switch (f->type) {
  case T_INT:
  case T_BOOL:
    snprintf(buf, cap, "%d", *(const int *)p);
    break;
  case T_INT64:
    snprintf(buf, cap, "%lld", (long long)*(const int64_t *)p);
    break;
  case T_SEED:
    snprintf(buf, cap, "%llu", (unsigned long long)*(const uint64_t *)p);
    break;
  case T_REAL:
    snprintf(buf, cap, "%.17g", *(const double *)p);
    break;
  case T_NAME:
    snprintf(buf, cap, "%s", f->name_of(*(const int *)p));
    break;
  case T_INTLIST: {
    int n = *(const int *)((const char *)c + f->count_off);
    buf[0] = '\0';
    append(buf, cap, "[");
    for (int i = 0; i < n; ++i) {
      char one[24];
      snprintf(one, sizeof one, "%s%d", i > 0 ? ", " : "", ((const int *)p)[i]);
      append(buf, cap, one);
    }
    append(buf, cap, "]");
    break;
  }
  case T_NAMELIST: {
    int n = *(const int *)((const char *)c + f->count_off);
    buf[0] = '\0';
    append(buf, cap, "[");
    for (int i = 0; i < n; ++i) {
      append(buf, cap, i > 0 ? ", " : "");
      append(buf, cap, f->name_of(((const int *)p)[i]));
    }
    append(buf, cap, "]");
    break;
  }
  default:
    snprintf(buf, cap, "?");
  }
}

static int same_value(const field *f, const fg_config *a, const fg_config *b)
{
  const char *pa = (const char *)a + f->off, *pb = (const char *)b + f->off;
  switch (f->type) {
  case T_INT:
  case T_BOOL:
  case T_NAME:
    return *(const int *)pa == *(const int *)pb;
  case T_INT64:
  case T_SEED:
    return memcmp(pa, pb, sizeof(int64_t)) == 0;
  case T_REAL: /* bit for bit: a coupling rounded differently is another run */
    return memcmp(pa, pb, sizeof(double)) == 0;
  case T_INTLIST:
  case T_NAMELIST: {
    int na = *(const int *)((const char *)a + f->count_off);
    int nb = *(const int *)((const char *)b + f->count_off);
    return na == nb && memcmp(pa, pb, sizeof(int) * (size_t)na) == 0;
  }
  default: /* paths name files, not the run */
    return 1;
  }
}

static int compare_fields(const field *table, const char *prefix, const fg_config *stored,
                          const fg_config *now, const char *file, fg_error *err)
{
  for (const field *f = table; f->key != NULL; ++f) {
    char key[KEY_MAX];
    join_key(key, prefix, f->key);
    int rc = FG_OK;
    if (f->type == T_MAP)
      rc = compare_fields(f->sub, key, stored, now, file, err);
    else if (!may_change(key) && (f->unused == NULL || f->unused(now) == NULL) &&
             !same_value(f, stored, now)) {
      char was[160], is[160];
      show_value(f, stored, was, sizeof was);
      show_value(f, now, is, sizeof is);
      rc = fg_fail(err, FG_ERR_INPUT, resume_where,
                   "%s: cannot resume: %s is %s in the file, %s in the config", file, key, was,
                   is);
    }
    if (rc != FG_OK)
      return rc;
  }
  return FG_OK;
}

int fg_config_check_resume(const fg_config *stored, const fg_config *now, unsigned what,
                           const char *file, fg_error *err)
{
  static const struct {
    const char *key;
    unsigned bit;
  } section[] = {{"seed", FG_IDENT_SEED},   {"theory", FG_IDENT_THEORY},
                 {"model", FG_IDENT_MODEL}, {"train", FG_IDENT_TRAIN},
                 {"sample", FG_IDENT_SAMPLE}, {"hmc", FG_IDENT_HMC}};
  for (const field *f = top_fields; f->key != NULL; ++f) {
    unsigned bit = 0;
    for (size_t k = 0; k < sizeof section / sizeof section[0]; ++k)
      if (strcmp(f->key, section[k].key) == 0)
        bit = section[k].bit;
    if (!(what & bit))
      continue;
    field one[2] = {*f, {.key = NULL}};
    int rc = compare_fields(one, "", stored, now, file, err);
    if (rc != FG_OK)
      return rc;
  }
  return FG_OK;
}
