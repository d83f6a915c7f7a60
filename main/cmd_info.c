/*
 * cmd_info.c -- `flowgen info FILE.h5 [--json]`: what a checkpoint holds,
 * with its provenance (SPEC section 3). One rank.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "flowgen/checkpoint.h"

int cmd_info(int argc, char **argv)
{
  const char *path = NULL;
  int json = 0;
  for (int i = 0; i < argc; ++i) {
    if (strcmp(argv[i], "--json") == 0)
      json = 1;
    else if (argv[i][0] == '-' || path != NULL) {
      char msg[256];
      snprintf(msg, sizeof msg, "info: unexpected argument '%s'", argv[i]);
      report_error(msg, 0);
      return FG_ERR_INPUT;
    } else
      path = argv[i];
  }
  if (path == NULL) {
    report_error("usage: flowgen info FILE.h5 [--json]", 0);
    return FG_ERR_INPUT;
  }
  fg_checkpoint ck;
  fg_error err = {0};
  int rc = fg_checkpoint_read(path, &ck, &err);
  if (rc == FG_OK)
    rc = fg_checkpoint_print(stdout, &ck, json, &err);
  if (rc != FG_OK)
    report_error(err.msg, 0);
  fg_checkpoint_free(&ck);
  return rc;
}
