/*
 * config_load.c -- reading a config once on rank 0 and parsing it on every
 * rank, and the checks a command makes of its config before any work (see
 * commands.h).
 */
#include <errno.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "flowgen/config.h"
#include "flowgen/flow.h"
#include "flowgen/theory.h"
#include "flowgen/util.h"

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
  rc = fg_agree(MPI_COMM_WORLD, rc, &err);
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
  rc = fg_agree(MPI_COMM_WORLD, rc, &err);
  if (rc != FG_OK)
    report_error(err.msg[0] ? err.msg : "config differs between ranks", 0);
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

/* "flowgen: <where>: " prefixes are kept out of the reasons quoted at a key. */
static const char *reason_of(const fg_error *e)
{
  const char *p = strstr(e->msg, "]: ");
  return p != NULL ? p + 3 : e->msg;
}

/* Wilson fermions are massless at kappa = 1/4 in the free theory and at a
 * kappa_c(beta) somewhat above it in the interacting one: near and beyond
 * it D has (nearly) zero modes on some configurations. Allowed (the seed
 * runs kappa = 0.263 at beta = 2), but said once, by rank 0. */
static void warn_massless(const fg_config *cfg)
{
  const fg_theory_config *t = &cfg->theory;
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (t->name != FG_THEORY_SCHWINGER || t->kappa < 0.25 || rank != 0)
    return;
  fprintf(stderr,
          "flowgen: warning: %s: theory.kappa = %g is %s the free massless point 1/4 "
          "(kappa_c(beta) lies a little above it): D can be nearly singular on some "
          "configurations, CG needs more iterations, and a configuration with det D = 0 has "
          "weight 0 (docs/schwinger.md)\n",
          cfg->path ? cfg->path : "config", t->kappa, t->kappa == 0.25 ? "at" : "beyond");
}

/* The theory must be one this build implements, flows need a 2D lattice,
 * and the model's layer types must apply to the theory's fields. */
static int check_theory(const char *command, const fg_config *cfg, fg_error *err)
{
  fg_theory *th = NULL;
  fg_error e = {0};
  int rc = fg_theory_create(&cfg->theory, &th, &e);
  if (rc != FG_OK) {
    fg_theory_destroy(th);
    return fg_config_report(cfg, "theory.name", rc, err, "%s", reason_of(&e));
  }
  int flow = strcmp(command, "train") == 0 || strcmp(command, "sample") == 0 ||
             strcmp(command, "bench") == 0;
  if (flow && cfg->theory.nd != 2)
    rc = fg_config_report(cfg, "theory.lattice", FG_ERR_INPUT, err,
                          "the flow's convolutions need a 2D lattice, this is %dD "
                          "(other dimensions run only with 'flowgen hmc')",
                          cfg->theory.nd);
  else if (flow && fg_flow_check_theory(&cfg->model, th, &e) != FG_OK)
    rc = fg_config_report(cfg, "theory.name", FG_ERR_INPUT, err,
                          "%s; flows for theory %s use model.base %s (its default)",
                          reason_of(&e), fg_theory_label(th),
                          fg_base_name(fg_theory_default_base(th)));
  fg_theory_destroy(th);
  if (rc == FG_OK)
    warn_massless(cfg);
  return rc;
}

/* An output path must be writable before any work is done (SPEC 7: no work lost). */
static int check_output(const fg_config *cfg, const char *key, const char *path, fg_error *err)
{
  fg_error e = {0};
  int rc = fg_check_writable_output(path, &e);
  return rc == FG_OK ? FG_OK : fg_config_report(cfg, key, rc, err, "%s", reason_of(&e));
}

/* Without --resume, train refuses to replace an earlier run's files. */
static int check_fresh(const fg_config *cfg, const char *key, const char *path, fg_error *err)
{
  struct stat st;
  if (stat(path, &st) != 0)
    return FG_OK;
  return fg_config_report(cfg, key, FG_ERR_INPUT, err,
                          "'%s' exists (an earlier training): continue it with 'flowgen train "
                          "%s --resume', or start over, replacing it, with --overwrite",
                          path, cfg->path ? cfg->path : "CONFIG");
}

static int check_input(const fg_config *cfg, const char *key, const char *path, fg_error *err)
{
  struct stat st;
  if (stat(path, &st) != 0)
    return fg_config_report(cfg, key, FG_ERR_INPUT, err, "cannot read '%s': %s", path,
                            strerror(errno));
  if (!S_ISREG(st.st_mode))
    return fg_config_report(cfg, key, FG_ERR_INPUT, err, "'%s' is not a regular file", path);
  if (access(path, R_OK) != 0)
    return fg_config_report(cfg, key, FG_ERR_INPUT, err, "cannot read '%s': %s", path,
                            strerror(errno));
  return FG_OK;
}

/* What a command needs of its config beyond the schema, checked before any
 * work on rank 0: an implemented theory, the model file to read, outputs
 * that can be written, and (train) no earlier run overwritten by accident. */
static int check_command(const char *command, const fg_config *cfg, const command_flags *fl,
                         fg_error *err)
{
  int rc = check_theory(command, cfg, err);
  if (strcmp(command, "train") == 0) {
    const fg_train_config *t = &cfg->train;
    if (rc == FG_OK && t->init_from != NULL)
      rc = check_input(cfg, "train.init_from", t->init_from, err);
    if (rc == FG_OK)
      rc = check_output(cfg, "train.checkpoint", t->checkpoint, err);
    if (rc == FG_OK)
      rc = check_output(cfg, "train.log", t->log, err);
    if (rc == FG_OK && !fl->resume && !fl->overwrite)
      rc = check_fresh(cfg, "train.checkpoint", t->checkpoint, err);
    if (rc == FG_OK && !fl->resume && !fl->overwrite)
      rc = check_fresh(cfg, "train.log", t->log, err);
  } else if (strcmp(command, "sample") == 0) {
    if (rc == FG_OK)
      rc = check_input(cfg, "sample.model", cfg->sample.model, err);
    if (rc == FG_OK)
      rc = check_output(cfg, "sample.output", cfg->sample.output, err);
  } else if (strcmp(command, "hmc") == 0) {
    if (rc == FG_OK)
      rc = check_output(cfg, "hmc.output", cfg->hmc.output, err);
  }
  return rc;
}

/* Runs check_command on rank 0 and gives every rank its verdict. */
int check_command_config(const char *command, const fg_config *cfg, const command_flags *fl)
{
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  fg_error err = {0};
  int rc = fg_agree(MPI_COMM_WORLD, rank == 0 ? check_command(command, cfg, fl, &err) : FG_OK,
                    &err);
  if (rc != FG_OK)
    report_error(err.msg, 0);
  return rc;
}

int load_command_config_flags(const char *command, int argc, char **argv, fg_config *cfg,
                              command_flags *fl)
{
  const char *path = NULL;
  char msg[FG_PATH_MAX + 128];
  memset(cfg, 0, sizeof *cfg);
  memset(fl, 0, sizeof *fl);
  for (int i = 0; i < argc; ++i) {
    if (strcmp(argv[i], "--resume") == 0)
      fl->resume = 1;
    else if (strcmp(argv[i], "--overwrite") == 0)
      fl->overwrite = 1;
    else if (strcmp(argv[i], "--json") == 0)
      fl->json = 1;
    else if (argv[i][0] == '-' || path != NULL) {
      snprintf(msg, sizeof msg, "%s: unexpected argument '%s'", command, argv[i]);
      report_error(msg, 0);
      return FG_ERR_INPUT;
    } else
      path = argv[i];
  }
  if (path == NULL) {
    snprintf(msg, sizeof msg, "usage: flowgen %s CONFIG [--resume | --overwrite] [--json]",
             command);
    report_error(msg, 0);
    return FG_ERR_INPUT;
  }
  if (fl->resume && fl->overwrite) {
    snprintf(msg, sizeof msg, "%s: --resume continues the earlier run, --overwrite replaces it: "
                              "give one of them", command);
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
  if (rc == FG_OK)
    rc = check_command_config(command, cfg, fl);
  if (rc != FG_OK)
    fg_config_free(cfg);
  return rc;
}
