/*
 * json.c -- writing JSON values (see util.h). Local.
 */
#include <math.h>

#include "flowgen/util.h"

void fg_json_string(FILE *out, const char *s)
{
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)s; *p; ++p) {
    if (*p == '"' || *p == '\\')
      fprintf(out, "\\%c", *p);
    else if (*p == '\n')
      fputs("\\n", out);
    else if (*p < 0x20)
      fprintf(out, "\\u%04x", *p);
    else
      fputc(*p, out);
  }
  fputc('"', out);
}

void fg_json_number(FILE *out, double x)
{
  if (isfinite(x))
    fprintf(out, "%.17g", x);
  else
    fputs("null", out);
}
