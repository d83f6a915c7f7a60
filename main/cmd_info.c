/*
 * cmd_info.c -- `flowgen info FILE.h5 [--json]`: what a checkpoint or an
 * ensemble file holds, with its provenance (SPEC sections 3 and 6).
 *
 *   int cmd_info(int argc, char **argv)
 *     argv: the arguments after "info". Reads the root attribute `format`
 *     to tell the two kinds apart, then prints on stdout a readable table
 *     or, with --json, one JSON object:
 *       - "flowgen-checkpoint": what fg_checkpoint_print prints;
 *       - "flowgen-ensemble", complete: kind, lattice, components per
 *         site, rows of /configs, chain length, acceptance counted on
 *         /chain/accepted, the integrity check (row checksums, or "no
 *         checksums" for a format_version 1 file; actions recomputed, see
 *         fg_ensemble_verify), and every root attribute in file order (the
 *         config text last). A damaged row is refused (FG_ERR_INPUT,
 *         naming the row);
 *       - "flowgen-ensemble", not complete (the "<output>.tmp" of a run
 *         that was stopped or is still running): kind, rows_done of the
 *         rows in all, and how to continue it. Status FG_OK.
 *     FG_ERR_INPUT, with a message naming the file, for a bad argument, a
 *     missing file (pointing at "<file>.tmp" when an unfinished run left
 *     one), a folder, a file that is not HDF5, an HDF5 file of another
 *     format, or a file the readers refuse. Only rank 0 reads and prints
 *     (the file needs one reader); other ranks return FG_OK. Local.
 */
#include <errno.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "flowgen/checkpoint.h"
#include "flowgen/ensemble.h"
#include "flowgen/io.h"
#include "flowgen/util.h"

static const char WHERE[] = "cmd_info [cmd_info.c]";

/* ------------------------------------------------------------- printing */

/* Integers exactly, other numbers with 8 digits (JSON: fg_json_exact). */
static void number_text(char *buf, size_t n, double x)
{
  if (!isfinite(x))
    snprintf(buf, n, "%s", isnan(x) ? "nan" : x > 0 ? "inf" : "-inf");
  else if (x == floor(x) && fabs(x) < 0x1p53)
    snprintf(buf, n, "%.0f", x);
  else
    snprintf(buf, n, "%.8g", x);
}

static double chain_acceptance(const fg_ensemble_data *d)
{
  int64_t moved = 0;
  for (int64_t t = 0; t < d->layout.n_chain; ++t)
    moved += d->chain_accepted[t] != 0;
  return d->layout.n_chain > 0 ? (double)moved / (double)d->layout.n_chain : NAN;
}

static void lattice_text(char *buf, size_t n, const fg_ensemble_layout *lay)
{
  size_t k = 0;
  buf[0] = '\0';
  for (int mu = 0; mu < lay->nd && k < n; ++mu)
    k += (size_t)snprintf(buf + k, n - k, "%s%d", mu ? " x " : "", lay->extent[mu]);
}

/* Multi-line text, every line indented. */
static void print_indented(FILE *out, const char *text, const char *indent)
{
  while (*text != '\0') {
    size_t n = strcspn(text, "\n");
    fprintf(out, "%s%.*s\n", indent, (int)n, text);
    text += n + (text[n] == '\n');
  }
}

static void table_attr(FILE *out, const fg_ensemble_attr *a)
{
  char num[48];
  if (!a->is_string) {
    number_text(num, sizeof num, a->value);
    fprintf(out, "  %-22s %s\n", a->name, num);
  } else if (strchr(a->text, '\n') == NULL) {
    fprintf(out, "  %-22s %s\n", a->name, a->text);
  } else {
    fprintf(out, "  %s:\n", a->name);
    print_indented(out, a->text, "      ");
  }
}

static const char *checksum_text(const fg_ensemble_data *d)
{
  return d->checksum != NULL ? "all rows match" : "no checksums (format_version 1 file)";
}

static void ensemble_table(FILE *out, const char *path, const fg_ensemble_data *d,
                           const fg_ensemble_check *c)
{
  char lat[96], num[48];
  lattice_text(lat, sizeof lat, &d->layout);
  number_text(num, sizeof num, chain_acceptance(d));
  fprintf(out, "%-24s %s, %s ensemble, complete\n", path, FG_ENSEMBLE_FORMAT,
          d->layout.kind == FG_ENSEMBLE_HMC ? "hmc" : "flow");
  fprintf(out, "%-24s %s (%d sites, %d component%s per site)\n", "lattice", lat,
          d->volume / (d->layout.components > 0 ? d->layout.components : 1),
          d->layout.components, d->layout.components == 1 ? "" : "s");
  fprintf(out, "%-24s %lld\n", "rows (/configs)", (long long)d->layout.n_configs);
  fprintf(out, "%-24s %lld steps\n", "chain (/chain/index)", (long long)d->layout.n_chain);
  fprintf(out, "%-24s %s (counted on /chain/accepted)\n", "acceptance", num);
  fprintf(out, "%-24s %s\n", "checksums", checksum_text(d));
  fprintf(out, "%-24s recomputed for %lld rows, largest relative deviation %.3g\n", "actions",
          (long long)c->actions_checked, c->max_deviation);
  fprintf(out, "root attributes:\n");
  const fg_ensemble_attr *config = fg_ensemble_attr_find(d, "config");
  for (int i = 0; i < d->nattrs; ++i)
    if (&d->attrs[i] != config)
      table_attr(out, &d->attrs[i]);
  if (config != NULL)
    table_attr(out, config);
}

static void json_attr(fg_json *j, const fg_ensemble_attr *a)
{
  if (a->is_string)
    fg_json_string(j, a->name, a->text);
  else
    fg_json_exact(j, a->name, a->value);
}

/* Opens the ensemble's object with what complete and interrupted runs share. */
static void json_head(fg_json *j, FILE *out, const char *path, int complete, const char *kind)
{
  fg_json_begin(j, out);
  fg_json_object(j, NULL);
  fg_json_string(j, "format", FG_ENSEMBLE_FORMAT);
  fg_json_string(j, "file", path);
  fg_json_bool(j, "complete", complete);
  fg_json_string(j, "kind", kind);
}

static void ensemble_json(FILE *out, const char *path, const fg_ensemble_data *d,
                          const fg_ensemble_check *c)
{
  fg_json j;
  json_head(&j, out, path, 1, d->layout.kind == FG_ENSEMBLE_HMC ? "hmc" : "flow");
  fg_json_array(&j, "lattice");
  for (int mu = 0; mu < d->layout.nd; ++mu)
    fg_json_int(&j, NULL, d->layout.extent[mu]);
  fg_json_end(&j);
  fg_json_int(&j, "rows", (long long)d->layout.n_configs);
  fg_json_int(&j, "chain_length", (long long)d->layout.n_chain);
  fg_json_exact(&j, "acceptance", chain_acceptance(d));
  fg_json_int(&j, "format_version", d->format_version);
  fg_json_int(&j, "components", d->layout.components);
  fg_json_bool(&j, "checksums", d->checksum != NULL);
  fg_json_int(&j, "actions_checked", (long long)c->actions_checked);
  fg_json_break(&j);
  fg_json_object(&j, "attributes");
  const fg_ensemble_attr *config = fg_ensemble_attr_find(d, "config");
  for (int i = 0; i < d->nattrs; ++i)
    if (&d->attrs[i] != config)
      json_attr(&j, &d->attrs[i]);
  if (config != NULL)
    json_attr(&j, config);
  fg_json_end(&j);
  fg_json_end(&j);
}

/* The .tmp of a stopped or running run: fg_ensemble_load refuses it, but
 * its progress attributes say how far it got. */
static void interrupted(FILE *out, const char *path, const fg_file_head *h, int json)
{
  const char *kind = h->kind[0] ? h->kind : "unknown";
  if (json) {
    fg_json j;
    json_head(&j, out, path, 0, kind);
    fg_json_exact(&j, "rows_done", h->rows_done);
    if (h->rows >= 0)
      fg_json_int(&j, "rows", h->rows);
    else
      fg_json_null(&j, "rows");
    fg_json_end(&j);
    return;
  }
  char done[48], rows[48];
  number_text(done, sizeof done, h->rows_done);
  snprintf(rows, sizeof rows, "%lld", h->rows);
  fprintf(out, "%-24s %s, %s ensemble, NOT complete: an interrupted (or still running) run\n",
          path, FG_ENSEMBLE_FORMAT, kind);
  fprintf(out, "%-24s %s of %s rows written and flushed\n", "rows_done",
          isfinite(h->rows_done) ? done : "unknown", h->rows >= 0 ? rows : "unknown");
  fprintf(out, "%-24s run the same command on the same config with --resume\n", "to continue");
}

/* ------------------------------------------------------------- commands */

static int info_checkpoint(const char *path, int json, fg_error *err)
{
  fg_checkpoint ck;
  int rc = fg_checkpoint_read(path, &ck, err);
  if (rc == FG_OK)
    rc = fg_checkpoint_print(stdout, &ck, json, err);
  fg_checkpoint_free(&ck);
  return rc;
}

static int info_ensemble(const char *path, const fg_file_head *h, int json, fg_error *err)
{
  if (h->complete != 1.0) {
    interrupted(stdout, path, h, json);
    return FG_OK;
  }
  fg_ensemble_data d;
  fg_ensemble_check c;
  int rc = fg_ensemble_load(path, &d, err);
  if (rc == FG_OK)
    rc = fg_ensemble_verify(path, &d, &c, err);
  if (rc == FG_OK && json)
    ensemble_json(stdout, path, &d, &c);
  else if (rc == FG_OK)
    ensemble_table(stdout, path, &d, &c);
  fg_ensemble_data_free(&d);
  if (rc == FG_OK && (ferror(stdout) || fflush(stdout) != 0))
    rc = fg_fail(err, FG_ERR_RUNTIME, WHERE, "cannot write to stdout: %s", strerror(errno));
  return rc;
}

static int parse_args(int argc, char **argv, const char **path, int *json)
{
  for (int i = 0; i < argc; ++i) {
    if (strcmp(argv[i], "--json") == 0) {
      *json = 1;
    } else if (argv[i][0] == '-' || *path != NULL) {
      char msg[256];
      snprintf(msg, sizeof msg, "info: unexpected argument '%s'", argv[i]);
      report_error(msg, 0);
      return FG_ERR_INPUT;
    } else {
      *path = argv[i];
    }
  }
  if (*path == NULL) {
    report_error("usage: flowgen info FILE.h5 [--json]", 0);
    return FG_ERR_INPUT;
  }
  return FG_OK;
}

int cmd_info(int argc, char **argv)
{
  const char *path = NULL;
  int json = 0, rank = 0;
  int rc = parse_args(argc, argv, &path, &json);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rc != FG_OK || rank != 0)
    return rc;
  fg_error err = {0};
  fg_file_head h;
  rc = fg_file_probe(path, &h, &err);
  if (rc == FG_OK && strcmp(h.format, FG_CHECKPOINT_FORMAT) == 0)
    rc = info_checkpoint(path, json, &err);
  else if (rc == FG_OK && strcmp(h.format, FG_ENSEMBLE_FORMAT) == 0)
    rc = info_ensemble(path, &h, json, &err);
  else if (rc == FG_OK)
    rc = fg_fail(&err, FG_ERR_INPUT, WHERE, "'%s': neither a flowgen checkpoint nor an ensemble "
                 "(format '%s')", path, h.format);
  if (rc != FG_OK)
    report_error(err.msg, 0);
  return rc;
}
