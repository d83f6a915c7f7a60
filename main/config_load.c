/*
 * config_load.c -- reading a config once on rank 0 and parsing it on every
 * rank (see commands.h: load_config_all).
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "flowgen/config.h"

int load_config_all(const char *path, fg_config *cfg)
{
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  fg_error err = {0};
  long len = 0;
  int rc = FG_OK;
  if (rank == 0) {
    rc = fg_config_load(path, cfg, &err);
    len = rc == FG_OK ? (long)cfg->text_len : -1;
  }
  MPI_Bcast(&len, 1, MPI_LONG, 0, MPI_COMM_WORLD);
  MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (rc != FG_OK) {
    report_error(err.msg, 0);
    return rc;
  }
  if (rank != 0) {
    char *text = malloc((size_t)len + 1);
    if (text == NULL) {
      report_error("out of memory reading the config", 1);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Bcast(text, (int)len, MPI_CHAR, 0, MPI_COMM_WORLD);
    text[len] = '\0';
    rc = fg_config_parse(text, (size_t)len, path, cfg, &err);
    free(text);
  } else {
    MPI_Bcast(cfg->text, (int)len, MPI_CHAR, 0, MPI_COMM_WORLD);
  }
  MPI_Allreduce(MPI_IN_PLACE, &rc, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (rc != FG_OK)
    report_error(err.msg[0] ? err.msg : "config differs between ranks", 1);
  return rc;
}

static int section_present(const fg_config *cfg, const char *command)
{
  if (strcmp(command, "train") == 0)
    return cfg->train.present;
  if (strcmp(command, "sample") == 0)
    return cfg->sample.present;
  if (strcmp(command, "hmc") == 0)
    return cfg->hmc.present;
  return 1;
}

int load_command_config(const char *command, int argc, char **argv, fg_config *cfg, int *resume,
                        int *json)
{
  const char *path = NULL;
  char msg[FG_PATH_MAX + 128];
  memset(cfg, 0, sizeof *cfg);
  *resume = *json = 0;
  for (int i = 0; i < argc; ++i) {
    if (strcmp(argv[i], "--resume") == 0)
      *resume = 1;
    else if (strcmp(argv[i], "--json") == 0)
      *json = 1;
    else if (argv[i][0] == '-' || path != NULL) {
      snprintf(msg, sizeof msg, "%s: unexpected argument '%s'", command, argv[i]);
      report_error(msg, 0);
      return FG_ERR_INPUT;
    } else
      path = argv[i];
  }
  if (path == NULL) {
    snprintf(msg, sizeof msg, "usage: flowgen %s CONFIG [--resume] [--json]", command);
    report_error(msg, 0);
    return FG_ERR_INPUT;
  }
  int rc = load_config_all(path, cfg);
  if (rc == FG_OK && !section_present(cfg, command)) {
    snprintf(msg, sizeof msg, "%s: %s: section missing (needed by 'flowgen %s')", path, command,
             command);
    report_error(msg, 0);
    rc = FG_ERR_INPUT;
  }
  if (rc != FG_OK)
    fg_config_free(cfg);
  return rc;
}
