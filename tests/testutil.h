/*
 * testutil.h -- helpers shared by the Check tests.
 *
 *   int fg_test_run(Suite *s)  runs a suite, prints Check's summary, returns
 *                              the process exit status (0 if all passed).
 *   char *fg_test_tmpdir(void) a fresh temporary folder (malloc'd path).
 *   int fg_test_write_file(const char *path, const char *text)  0 on success.
 *   int fg_test_remove_dir(const char *dir)  rm -rf of a test's folder; 0 on success.
 */
#ifndef FLOWGEN_TESTUTIL_H
#define FLOWGEN_TESTUTIL_H
#include <check.h>

int fg_test_run(Suite *s);
char *fg_test_tmpdir(void);
int fg_test_write_file(const char *path, const char *text);
int fg_test_remove_dir(const char *dir);

#endif
