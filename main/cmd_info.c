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

/* Integers exactly; other numbers with 8 digits in tables, and in JSON with
 * the digits that read back the same (JSON has no NaN or infinity: null). */
static void number_text(char *buf, size_t n, double x, int json)
{
  if (!isfinite(x)) {
    snprintf(buf, n, "%s", json ? "null" : (isnan(x) ? "nan" : x > 0 ? "inf" : "-inf"));
    return;
  }
  if (x == floor(x) && fabs(x) < 0x1p53) {
    snprintf(buf, n, "%.0f", x);
    return;
  }
  if (!json) { /* a reader wants a few digits; the JSON reader all of them */
    snprintf(buf, n, "%.8g", x);
    return;
  }
  for (int digits = 6; digits <= 17; ++digits) {
    snprintf(buf, n, "%.*g", digits, x);
    if (strtod(buf, NULL) == x)
      break;
  }
}

static double chain_acceptance(const fg_ensemble_data *d)
{
  int64_t moved = 0;
  for (int64_t t = 0; t < d->layout.n_chain; ++t)
    moved += d->chain_accepted[t] != 0;
  return d->layout.n_chain > 0 ? (double)moved / (double)d->layout.n_chain : NAN;
}

static void lattice_text(char *buf, size_t n, const fg_ensemble_layout *lay, const char *sep)
{
  size_t k = 0;
  buf[0] = '\0';
  for (int mu = 0; mu < lay->nd && k < n; ++mu)
    k += (size_t)snprintf(buf + k, n - k, "%s%d", mu ? sep : "", lay->extent[mu]);
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
    number_text(num, sizeof num, a->value, 0);
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
  lattice_text(lat, sizeof lat, &d->layout, " x ");
  number_text(num, sizeof num, chain_acceptance(d), 0);
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

static void json_attr(FILE *out, const fg_ensemble_attr *a, int first)
{
  char num[48];
  fputs(first ? "" : ", ", out);
  fg_json_string(out, a->name);
  fputs(": ", out);
  if (a->is_string) {
    fg_json_string(out, a->text);
  } else {
    number_text(num, sizeof num, a->value, 1);
    fputs(num, out);
  }
}

static void ensemble_json(FILE *out, const char *path, const fg_ensemble_data *d,
                          const fg_ensemble_check *c)
{
  char lat[96], num[48];
  lattice_text(lat, sizeof lat, &d->layout, ", ");
  number_text(num, sizeof num, chain_acceptance(d), 1);
  fprintf(out, "{\"format\": \"%s\", \"file\": ", FG_ENSEMBLE_FORMAT);
  fg_json_string(out, path);
  fprintf(out, ", \"complete\": true, \"kind\": \"%s\", \"lattice\": [%s], \"rows\": %lld, "
               "\"chain_length\": %lld, \"acceptance\": %s, \"format_version\": %d, "
               "\"components\": %d, \"checksums\": %s, \"actions_checked\": %lld,\n "
               "\"attributes\": {",
          d->layout.kind == FG_ENSEMBLE_HMC ? "hmc" : "flow", lat,
          (long long)d->layout.n_configs, (long long)d->layout.n_chain, num, d->format_version,
          d->layout.components, d->checksum != NULL ? "true" : "false",
          (long long)c->actions_checked);
  const fg_ensemble_attr *config = fg_ensemble_attr_find(d, "config");
  int n = 0;
  for (int i = 0; i < d->nattrs; ++i)
    if (&d->attrs[i] != config)
      json_attr(out, &d->attrs[i], n++ == 0);
  if (config != NULL)
    json_attr(out, config, n == 0);
  fputs("}}\n", out);
}

/* The .tmp of a stopped or running run: fg_ensemble_load refuses it, but
 * its progress attributes say how far it got. */
static void interrupted(FILE *out, const char *path, const fg_file_head *h, int json)
{
  char done[48], rows[48];
  number_text(done, sizeof done, h->rows_done, json);
  snprintf(rows, sizeof rows, "%lld", h->rows);
  if (json) {
    fprintf(out, "{\"format\": \"%s\", \"file\": ", FG_ENSEMBLE_FORMAT);
    fg_json_string(out, path);
    fprintf(out, ", \"complete\": false, \"kind\": \"%s\", \"rows_done\": %s, \"rows\": %s}\n",
            h->kind[0] ? h->kind : "unknown", done, h->rows >= 0 ? rows : "null");
    return;
  }
  fprintf(out, "%-24s %s, %s ensemble, NOT complete: an interrupted (or still running) run\n",
          path, FG_ENSEMBLE_FORMAT, h->kind[0] ? h->kind : "unknown");
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
