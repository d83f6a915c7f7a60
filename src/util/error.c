/*
 * error.c -- status codes and checked allocation (see error.h).
 * All functions are local (no MPI) and keep no state.
 */
#include "flowgen/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fg_fail(fg_error *err, int code, const char *where, const char *fmt, ...)
{
  if (err == NULL)
    return code;
  err->code = code;
  int n = 0;
  if (where != NULL && where[0] != '\0')
    n = snprintf(err->msg, sizeof err->msg, "%s: ", where);
  if (n < 0 || (size_t)n >= sizeof err->msg)
    n = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg + n, sizeof err->msg - (size_t)n, fmt, ap);
  va_end(ap);
  return code;
}

int fg_exit_status(int code)
{
  if (code == FG_OK)
    return 0;
  return code == FG_ERR_INPUT ? 2 : 1;
}

void *fg_alloc(size_t nbytes, fg_error *err, const char *where)
{
  size_t n = (nbytes + 63) & ~(size_t)63;
  if (n == 0)
    n = 64;
  if (n < nbytes) {
    fg_fail(err, FG_ERR_RUNTIME, where, "allocation of %zu bytes overflows", nbytes);
    return NULL;
  }
  void *p = aligned_alloc(64, n);
  if (p == NULL) {
    fg_fail(err, FG_ERR_RUNTIME, where, "out of memory allocating %zu bytes", nbytes);
    return NULL;
  }
  memset(p, 0, n);
  return p;
}

void fg_free(void *p) { free(p); }
