/*
 * rows.c -- a worker's buffer of proposal rows between two flushes (see
 * sample.h: fg_row_buffer). Local.
 */
#include <string.h>

#include "flowgen/sample.h"

static void *grow(void *old, size_t old_bytes, size_t new_bytes, fg_error *err)
{
  void *p = fg_alloc(new_bytes, err, "fg_row_buffer_reserve [rows.c]");
  if (p != NULL && old != NULL)
    memcpy(p, old, old_bytes);
  if (p != NULL)
    fg_free(old);
  return p;
}

/* Room for `rows` more rows in `runs` more runs; existing contents kept. */
int fg_row_buffer_reserve(fg_row_buffer *b, int64_t rows, int runs, int width, fg_error *err)
{
  if (b->nruns + runs > b->cap_runs) {
    int cap = (b->nruns + runs) * 2;
    int64_t *f = grow(b->first, sizeof(int64_t) * (size_t)b->nruns, sizeof(int64_t) * (size_t)cap, err);
    if (f == NULL)
      return FG_ERR_RUNTIME;
    b->first = f;
    int64_t *c = grow(b->count, sizeof(int64_t) * (size_t)b->nruns, sizeof(int64_t) * (size_t)cap, err);
    if (c == NULL)
      return FG_ERR_RUNTIME;
    b->count = c;
    b->cap_runs = cap;
  }
  if (b->rows + rows > b->cap_rows) {
    int64_t cap = (b->rows + rows) * 2;
    size_t old = (size_t)b->rows, nw = (size_t)cap;
    double *cf = grow(b->configs, sizeof(double) * old * (size_t)width,
                      sizeof(double) * nw * (size_t)width, err);
    if (cf == NULL)
      return FG_ERR_RUNTIME;
    b->configs = cf;
    double **cols[3] = {&b->logq, &b->action, &b->logw};
    for (int k = 0; k < 3; ++k) {
      double *p = grow(*cols[k], sizeof(double) * old, sizeof(double) * nw, err);
      if (p == NULL)
        return FG_ERR_RUNTIME;
      *cols[k] = p;
    }
    b->cap_rows = cap;
  }
  return FG_OK;
}

void fg_row_buffer_free(fg_row_buffer *b)
{
  fg_free(b->first);
  fg_free(b->count);
  fg_free(b->configs);
  fg_free(b->logq);
  fg_free(b->action);
  fg_free(b->logw);
  memset(b, 0, sizeof *b);
}
