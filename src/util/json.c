/*
 * json.c -- the one JSON writer of flowgen's outputs (see util.h). Local.
 *
 * Every --json output and every JSON object a library function prints goes
 * through it: strings escaped, non-finite numbers written as null (JSON
 * has neither NaN nor infinity), members separated by ", " and keys
 * followed by ": " (flowgen's outputs have always looked so), and each
 * number in the format its command has always used.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "flowgen/util.h"

void fg_json_begin(fg_json *j, FILE *out)
{
  memset(j, 0, sizeof *j);
  j->out = out;
}

static void put_string(FILE *out, const char *s)
{
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)s; *p; ++p) {
    switch (*p) {
    case '"': fputs("\\\"", out); break;
    case '\\': fputs("\\\\", out); break;
    case '\n': fputs("\\n", out); break;
    case '\r': fputs("\\r", out); break;
    case '\t': fputs("\\t", out); break;
    case '\b': fputs("\\b", out); break;
    case '\f': fputs("\\f", out); break;
    default:
      if (*p < 0x20)
        fprintf(out, "\\u%04x", *p);
      else
        fputc(*p, out); /* UTF-8 passes through */
    }
  }
  fputc('"', out);
}

/* The separator before a value at the current level, and its key. */
static void member(fg_json *j, const char *key)
{
  int level = j->depth < FG_JSON_DEPTH ? j->depth : FG_JSON_DEPTH;
  if (level > 0 && j->count[level - 1]++ > 0)
    fputs(j->newline ? ",\n " : ", ", j->out);
  j->newline = 0;
  if (key != NULL) {
    put_string(j->out, key);
    fputs(": ", j->out);
  }
}

static void open_level(fg_json *j, const char *key, char bracket, char closing)
{
  member(j, key);
  fputc(bracket, j->out);
  if (j->depth < FG_JSON_DEPTH) {
    j->count[j->depth] = 0;
    j->closing[j->depth] = closing;
  }
  j->depth++;
}

void fg_json_object(fg_json *j, const char *key) { open_level(j, key, '{', '}'); }
void fg_json_array(fg_json *j, const char *key) { open_level(j, key, '[', ']'); }

void fg_json_end(fg_json *j)
{
  if (j->depth == 0)
    return;
  j->depth--;
  fputc(j->depth < FG_JSON_DEPTH ? j->closing[j->depth] : '}', j->out);
  if (j->depth == 0)
    fputc('\n', j->out);
}

void fg_json_break(fg_json *j) { j->newline = 1; }

void fg_json_string(fg_json *j, const char *key, const char *s)
{
  member(j, key);
  put_string(j->out, s != NULL ? s : "");
}

void fg_json_numberf(fg_json *j, const char *key, const char *fmt, double x)
{
  member(j, key);
  if (isfinite(x))
    fprintf(j->out, fmt, x);
  else
    fputs("null", j->out);
}

void fg_json_number(fg_json *j, const char *key, double x) { fg_json_numberf(j, key, "%.17g", x); }

void fg_json_exact(fg_json *j, const char *key, double x)
{
  char buf[40];
  fg_json_exact_text(buf, sizeof buf, x);
  member(j, key);
  fputs(buf, j->out);
}

void fg_json_exact_text(char *buf, size_t n, double x)
{
  if (!isfinite(x)) {
    snprintf(buf, n, "null");
    return;
  }
  if (x == floor(x) && fabs(x) < 0x1p53) {
    snprintf(buf, n, "%.0f", x);
    return;
  }
  for (int digits = 6; digits <= 17; ++digits) {
    snprintf(buf, n, "%.*g", digits, x);
    if (strtod(buf, NULL) == x)
      return;
  }
}

void fg_json_float(fg_json *j, const char *key, double x)
{
  char buf[40] = "null";
  for (int digits = 6; digits <= 9 && isfinite(x); ++digits) {
    snprintf(buf, sizeof buf, "%.*g", digits, x);
    if ((float)strtod(buf, NULL) == (float)x)
      break;
  }
  member(j, key);
  fputs(buf, j->out);
}

void fg_json_int(fg_json *j, const char *key, long long v)
{
  member(j, key);
  fprintf(j->out, "%lld", v);
}

void fg_json_unsigned(fg_json *j, const char *key, unsigned long long v)
{
  member(j, key);
  fprintf(j->out, "%llu", v);
}

void fg_json_bool(fg_json *j, const char *key, int v)
{
  member(j, key);
  fputs(v ? "true" : "false", j->out);
}

void fg_json_null(fg_json *j, const char *key)
{
  member(j, key);
  fputs("null", j->out);
}
