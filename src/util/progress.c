/*
 * progress.c -- one updating progress line on a terminal, plain lines
 * every few seconds otherwise (see util.h). Local.
 */
#include <string.h>
#include <unistd.h>

#include "flowgen/util.h"

enum { PLAIN_EVERY_S = 5 };

void fg_progress_init(fg_progress *p, FILE *out, const char *what, double total)
{
  memset(p, 0, sizeof *p);
  p->out = out;
  p->tty = out != NULL && isatty(fileno(out));
  strncpy(p->what, what, sizeof p->what - 1);
  p->total = total;
  p->t0 = p->last = fg_wall_time();
}

static void emit(fg_progress *p, double done, const char *extra, int final)
{
  double el = fg_wall_time() - p->t0;
  double rate = el > 0 ? done / el : 0.0;
  double eta = rate > 0 && p->total > done ? (p->total - done) / rate : 0.0;
  double pct = p->total > 0 ? 100.0 * done / p->total : 100.0;
  fprintf(p->out, "%s%s %.0f/%.0f (%5.1f%%) %.3g/s elapsed %.1fs ETA %.1fs%s%s%s",
          p->tty ? "\r\033[K" : "", p->what, done, p->total, pct, rate, el, eta,
          extra ? "  " : "", extra ? extra : "", (p->tty && !final) ? "" : "\n");
  fflush(p->out);
}

void fg_progress_update(fg_progress *p, double done, const char *extra)
{
  if (p->out == NULL)
    return;
  double now = fg_wall_time();
  if (now - p->last < (p->tty ? 0.2 : PLAIN_EVERY_S))
    return;
  p->last = now;
  emit(p, done, extra, 0);
}

void fg_progress_done(fg_progress *p, double done, const char *extra)
{
  if (p->out != NULL)
    emit(p, done, extra, 1);
}
