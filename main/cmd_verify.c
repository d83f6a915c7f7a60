/*
 * cmd_verify.c -- `flowgen verify FILE.h5 [--json]`: checks that an
 * ensemble is intact: every row against its checksum (/proposals/checksum,
 * format_version >= 2) and every stored action against the action
 * recomputed from the configuration with the file's theory. Prints one
 * line (or one JSON object) on success. FG_ERR_INPUT (exit 2) naming the
 * file and the first damaged row, or a file that cannot be read as a
 * complete ensemble. Only rank 0 reads. Local.
 */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "flowgen/ensemble.h"
#include "flowgen/util.h"

static void print_json(const char *path, const fg_ensemble_check *c)
{
  fg_json j;
  fg_json_begin(&j, stdout);
  fg_json_object(&j, NULL);
  fg_json_string(&j, "file", path);
  fg_json_bool(&j, "ok", 1);
  fg_json_int(&j, "rows", (long long)c->rows);
  fg_json_bool(&j, "checksums", c->checksums);
  fg_json_int(&j, "actions_checked", (long long)c->actions_checked);
  fg_json_numberf(&j, "max_action_deviation", "%.3g", c->max_deviation);
  fg_json_end(&j);
}

int cmd_verify(int argc, char **argv)
{
  const char *path = NULL;
  int json = 0, rank = 0;
  for (int i = 0; i < argc; ++i) {
    if (strcmp(argv[i], "--json") == 0) {
      json = 1;
    } else if (argv[i][0] == '-' || path != NULL) {
      char msg[256];
      snprintf(msg, sizeof msg, "verify: unexpected argument '%s'", argv[i]);
      report_error(msg, 0);
      return FG_ERR_INPUT;
    } else {
      path = argv[i];
    }
  }
  if (path == NULL) {
    report_error("usage: flowgen verify FILE.h5 [--json]", 0);
    return FG_ERR_INPUT;
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0)
    return FG_OK;
  fg_error err = {0};
  fg_ensemble_data d;
  fg_ensemble_check c;
  int rc = fg_ensemble_load(path, &d, &err);
  if (rc == FG_OK)
    rc = fg_ensemble_verify(path, &d, &c, &err);
  if (rc == FG_OK && json)
    print_json(path, &c);
  else if (rc == FG_OK)
    printf("%s: ok: %lld rows; checksums %s; actions recomputed, largest relative deviation "
           "%.3g (tolerance %.0e)\n", path, (long long)c.rows,
           c.checksums ? "all match" : "none (format_version 1 file)", c.max_deviation,
           FG_ENSEMBLE_ACTION_TOL);
  else
    report_error(err.msg, 0);
  fg_ensemble_data_free(&d);
  return rc;
}
