/*
 * error.h -- error reporting for the flowgen library.
 *
 * Fallible library functions return an int status (FG_OK or a negative
 * code) and, on failure, fill a caller-provided fg_error with a message
 * tagged "function [file.c]". There is no global error state.
 *
 *   int fg_fail(fg_error *err, int code, const char *where, const char *fmt, ...)
 *     Records code and a formatted message (prefixed by `where`) in *err
 *     (err may be NULL) and returns code. Local; never aborts.
 *
 *   int fg_exit_status(int code)
 *     Maps a status to the process exit status of the CLI:
 *     FG_OK -> 0, FG_ERR_INPUT -> 2, anything else -> 1.
 *
 *   void *fg_alloc(size_t nbytes, fg_error *err, const char *where)
 *     64-byte aligned, zero-filled allocation (free with fg_free). Returns
 *     NULL and fills err on failure. nbytes == 0 yields a valid 64-byte block.
 *
 *   void fg_free(void *p)
 *     Frees memory from fg_alloc; NULL is allowed.
 */
#ifndef FLOWGEN_ERROR_H
#define FLOWGEN_ERROR_H

#include <stddef.h>

enum {
  FG_OK = 0,
  FG_ERR_RUNTIME = -1, /* I/O failure, allocation failure, MPI failure */
  FG_ERR_INPUT = -2    /* bad config, bad argument, unreadable/foreign file */
};

typedef struct {
  int code;
  char msg[1024];
} fg_error;


int fg_fail(fg_error *err, int code, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int fg_exit_status(int code);
void *fg_alloc(size_t nbytes, fg_error *err, const char *where);
void fg_free(void *p);

#endif
