/*
 * util.h -- timing, progress reporting, files, SHA-256, JSON, ranks agreeing
 * on a status, and output locks.
 *
 *   double fg_wall_time(void)   seconds since an arbitrary origin (monotonic)
 *   double fg_cpu_time(void)    CPU seconds of this process
 *
 *   void fg_progress_init(fg_progress *p, FILE *out, const char *what, double total)
 *     A progress reporter for `total` units of work. When out is a terminal
 *     it redraws one line (rate and ETA); otherwise it prints a plain line at
 *     most every 5 seconds. out == NULL silences it.
 *   void fg_progress_update(fg_progress *p, double done, const char *extra)
 *     Reports `done` units finished; extra (may be NULL) is appended.
 *   void fg_progress_done(fg_progress *p, double done, const char *extra)
 *     Final line (always printed, newline-terminated).
 *
 *   int fg_make_parent_dir(const char *path, fg_error *err)
 *     mkdir -p of the folder holding path (nothing for a bare file name).
 *     FG_ERR_RUNTIME naming the folder on failure.
 *
 *   int fg_check_writable_output(const char *path, fg_error *err)
 *     Checks up front, before any work, that an output can be written at
 *     path: makes its folder, refuses a folder or a non-regular file at
 *     path, and creates (then removes) a probe file in the folder.
 *     FG_ERR_INPUT "cannot write 'path': <OS reason>" otherwise. An
 *     existing file at path is left as it is (whether it may be replaced
 *     is the command's decision). Local.
 *
 *   void fg_sha256(const void *data, size_t n, uint8_t digest[32])
 *   int fg_sha256_file(const char *path, char hex[65], fg_error *err)
 *     SHA-256 of bytes, or the lowercase hex digest of a file's bytes
 *     (FG_ERR_INPUT if unreadable).
 *
 * JSON (json.c): the one writer of every JSON output. Values are written
 * as they come, members separated by ", " (or ",\n " after fg_json_break)
 * and keys followed by ": "; strings are escaped; a number that is not
 * finite is written null, whatever its format. key is NULL for an array
 * element or the outermost value. Local; nesting up to FG_JSON_DEPTH.
 *   void fg_json_begin(fg_json *j, FILE *out)
 *   void fg_json_object(fg_json *j, const char *key)   opens {
 *   void fg_json_array(fg_json *j, const char *key)    opens [
 *   void fg_json_end(fg_json *j)                       closes the innermost; "\n" after the outermost
 *   void fg_json_break(fg_json *j)                     the next member starts a new line
 *   void fg_json_string(fg_json *j, const char *key, const char *s)   (NULL: "")
 *   void fg_json_number(fg_json *j, const char *key, double x)        %.17g
 *   void fg_json_numberf(fg_json *j, const char *key, const char *fmt, double x)
 *     x in the printf conversion fmt (one double, e.g. "%.6f").
 *   void fg_json_exact(fg_json *j, const char *key, double x)
 *     The shortest text that reads back to x: integers below 2^53 in full,
 *     else the fewest of 6..17 significant digits.
 *   void fg_json_exact_text(char *buf, size_t n, double x)   the same text into buf ("null")
 *   void fg_json_float(fg_json *j, const char *key, double x)
 *     The shortest text that reads back to the same float32 (6..9 digits).
 *   void fg_json_int / fg_json_unsigned (j, key, long long / unsigned long long)
 *   void fg_json_bool(fg_json *j, const char *key, int v)
 *   void fg_json_null(fg_json *j, const char *key)
 *
 * All ranks agree (agree.c), the one call for it:
 *   int fg_agree(MPI_Comm comm, int rc, fg_error *err)
 *     Collective over comm. FG_OK if every rank passed FG_OK; otherwise the
 *     worst (lowest) code on every rank, and every rank's err (may be NULL)
 *     holds the code and message of the lowest rank that had that code, so
 *     that whichever rank reports names the real cause and no rank goes on
 *     to a collective the others have left. Idempotent; with one rank, rc
 *     as it is. A status only rank 0 knows (the others pass FG_OK) reaches
 *     every rank the same way.
 */
#ifndef FLOWGEN_UTIL_H
#define FLOWGEN_UTIL_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "flowgen/error.h"

typedef struct {
  FILE *out;
  int tty;
  char what[32];
  double total, t0, last;
} fg_progress;

double fg_wall_time(void);
double fg_cpu_time(void);
void fg_progress_init(fg_progress *p, FILE *out, const char *what, double total);
void fg_progress_update(fg_progress *p, double done, const char *extra);
void fg_progress_done(fg_progress *p, double done, const char *extra);
int fg_make_parent_dir(const char *path, fg_error *err);
int fg_check_writable_output(const char *path, fg_error *err);
void fg_sha256(const void *data, size_t n, uint8_t digest[32]);
int fg_sha256_file(const char *path, char hex[65], fg_error *err);

enum { FG_JSON_DEPTH = 8 };
typedef struct {
  FILE *out;
  int depth;
  int count[FG_JSON_DEPTH];     /* values written at each open level */
  char closing[FG_JSON_DEPTH];  /* '}' or ']' */
  int newline;                  /* fg_json_break: the next separator ends the line */
} fg_json;

void fg_json_begin(fg_json *j, FILE *out);
void fg_json_object(fg_json *j, const char *key);
void fg_json_array(fg_json *j, const char *key);
void fg_json_end(fg_json *j);
void fg_json_break(fg_json *j);
void fg_json_string(fg_json *j, const char *key, const char *s);
void fg_json_number(fg_json *j, const char *key, double x);
void fg_json_numberf(fg_json *j, const char *key, const char *fmt, double x);
void fg_json_exact(fg_json *j, const char *key, double x);
void fg_json_exact_text(char *buf, size_t n, double x);
void fg_json_float(fg_json *j, const char *key, double x);
void fg_json_int(fg_json *j, const char *key, long long v);
void fg_json_unsigned(fg_json *j, const char *key, unsigned long long v);
void fg_json_bool(fg_json *j, const char *key, int v);
void fg_json_null(fg_json *j, const char *key);
int fg_agree(MPI_Comm comm, int rc, fg_error *err);

/* ---- Output ownership (lock.c): one run per output ---------------------
 *
 *   int fg_lock_output(const char *output, fg_output_lock **out, char *note, size_t n,
 *                      fg_error *err)
 *     Exclusive fcntl lock on "<output>.lock" (holding "host pid") for the
 *     whole run; FG_ERR_INPUT naming the holder when another process has it.
 *     A lock file left by a process that ended is taken over and note says
 *     so. Local: one rank locks, the caller agrees the status over ranks.
 *   void fg_unlock_output(fg_output_lock *l)
 *     Removes the lock file and releases it (NULL: nothing). */
typedef struct fg_output_lock fg_output_lock;
int fg_lock_output(const char *output, fg_output_lock **out, char *note, size_t n,
                   fg_error *err);
void fg_unlock_output(fg_output_lock *l);

#endif
