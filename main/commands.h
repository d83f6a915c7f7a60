/*
 * commands.h -- the subcommands of the flowgen program. Each takes the
 * arguments after its name, runs on MPI_COMM_WORLD (MPI is initialised by
 * main) and returns a library status (FG_OK, FG_ERR_INPUT, FG_ERR_RUNTIME),
 * having printed any error itself.
 */
#ifndef FLOWGEN_COMMANDS_H
#define FLOWGEN_COMMANDS_H

#include <signal.h>

int cmd_train(int argc, char **argv, volatile sig_atomic_t *stop_flag);
int cmd_sample(int argc, char **argv, volatile sig_atomic_t *stop_flag);
int cmd_hmc(int argc, char **argv, volatile sig_atomic_t *stop_flag);
int cmd_compare(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_bench(int argc, char **argv, volatile sig_atomic_t *stop_flag);
int cmd_verify(int argc, char **argv);

/* Prints "flowgen: <message>" on rank 0's stderr (every rank's for rank-local
 * failures when all_ranks is set). */
void report_error(const char *message, int all_ranks);

#endif

/* Reads the config file on rank 0, broadcasts its text, parses it on every
 * rank; prints the error and returns its status on failure. Collective. */
#include "flowgen/config.h"
int load_config_all(const char *path, fg_config *cfg);

typedef struct {
  int resume;    /* --resume: continue the run in the config's files */
  int overwrite; /* --overwrite: replace an earlier run's files (train) */
  int json;      /* --json */
} command_flags;

/* Parses "CONFIG [--resume | --overwrite] [--json]" for `command` (train,
 * sample, hmc; --resume with --overwrite is refused), loads the config on every rank, checks that it has the
 * command's section, and, on rank 0 before any work, what the command needs
 * beyond the schema (FG_ERR_INPUT, "file:line: key: value V: reason"): a
 * theory this build implements; a 2D lattice for the flow commands; sample:
 * a readable sample.model; every output (train.checkpoint, train.log,
 * sample.output, hmc.output) writable (fg_check_writable_output); train
 * without --resume or --overwrite: no existing checkpoint or log. Collective.
 * On failure prints the error, frees cfg and returns the status. */
int load_command_config_flags(const char *command, int argc, char **argv, fg_config *cfg,
                              command_flags *flags);

/* The checks of load_command_config_flags after the config is loaded, for
 * commands that parse their own arguments (bench: theory and lattice only).
 * Collective; prints the error. */
int check_command_config(const char *command, const fg_config *cfg, const command_flags *flags);

/* Output ownership (outputs.c): the run's lock on each rank's output
 * (NULL: none), --overwrite discarding an interrupted .tmp; collective,
 * errors printed. */
#include "flowgen/util.h"
int lock_outputs(const char *command, const char *output, int overwrite, fg_output_lock **lock);
