/* test_json.c -- the JSON writer: separators and nesting as flowgen's outputs have them, escaped strings and keys, null for every non-finite number, numbers in the given format, shortest texts that read back exactly. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowgen/util.h"
#include "testutil.h"

/* What the writer calls in `body` wrote, as a fresh string. */
#define WRITE(text, body)                                                                      \
  do {                                                                                         \
    size_t len_ = 0;                                                                           \
    FILE *mem_ = open_memstream(&(text), &len_);                                               \
    ck_assert_ptr_nonnull(mem_);                                                               \
    fg_json j;                                                                                 \
    fg_json_begin(&j, mem_);                                                                   \
    body;                                                                                      \
    fclose(mem_);                                                                              \
  } while (0)

START_TEST(separators_and_nesting)
{
  char *t = NULL;
  WRITE(t, {
    fg_json_object(&j, NULL);
    fg_json_int(&j, "a", -3);
    fg_json_array(&j, "l");
    fg_json_int(&j, NULL, 8);
    fg_json_int(&j, NULL, 4);
    fg_json_end(&j);
    fg_json_object(&j, "o");
    fg_json_end(&j);
    fg_json_break(&j);
    fg_json_bool(&j, "t", 1);
    fg_json_bool(&j, "f", 0);
    fg_json_null(&j, "n");
    fg_json_unsigned(&j, "u", 18446744073709551615ULL);
    fg_json_end(&j);
  });
  ck_assert_str_eq(t, "{\"a\": -3, \"l\": [8, 4], \"o\": {},\n \"t\": true, \"f\": false, "
                      "\"n\": null, \"u\": 18446744073709551615}\n");
  free(t);
}
END_TEST

START_TEST(strings_and_keys_are_escaped)
{
  char *t = NULL;
  WRITE(t, {
    fg_json_object(&j, NULL);
    fg_json_string(&j, "q\"k", "a\"b\\c\nd\te\x01 \xc3\xa9");
    fg_json_string(&j, "none", NULL);
    fg_json_end(&j);
  });
  ck_assert_str_eq(t, "{\"q\\\"k\": \"a\\\"b\\\\c\\nd\\te\\u0001 \xc3\xa9\", \"none\": \"\"}\n");
  free(t);
}
END_TEST

START_TEST(non_finite_numbers_are_null)
{
  char *t = NULL;
  WRITE(t, {
    fg_json_array(&j, NULL);
    fg_json_number(&j, NULL, NAN);
    fg_json_numberf(&j, NULL, "%.6f", INFINITY);
    fg_json_exact(&j, NULL, -INFINITY);
    fg_json_float(&j, NULL, NAN);
    fg_json_number(&j, NULL, 0.1);
    fg_json_numberf(&j, NULL, "%.3f", 2.0 / 3.0);
    fg_json_end(&j);
  });
  ck_assert_str_eq(t, "[null, null, null, null, 0.10000000000000001, 0.667]\n");
  free(t);
}
END_TEST

START_TEST(exact_numbers_read_back)
{
  const double x[] = {0.1, 1.0 / 3.0, -4.0, 1e6, 1e300, 5e-324, 0.04159733777038269,
                      9007199254740993.0, -0.0};
  for (size_t i = 0; i < sizeof x / sizeof x[0]; ++i) {
    char buf[40];
    fg_json_exact_text(buf, sizeof buf, x[i]);
    ck_assert_msg(strtod(buf, NULL) == x[i], "%s for %.17g", buf, x[i]);
  }
  char buf[40];
  fg_json_exact_text(buf, sizeof buf, 1e6);
  ck_assert_str_eq(buf, "1000000");
  fg_json_exact_text(buf, sizeof buf, 0.1);
  ck_assert_str_eq(buf, "0.1");
  char *t = NULL;
  WRITE(t, { fg_json_float(&j, NULL, (double)0.1f); });
  ck_assert_str_eq(t, "0.1");
  free(t);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("json");
  TCase *tc = tcase_create("writer");
  tcase_add_test(tc, separators_and_nesting);
  tcase_add_test(tc, strings_and_keys_are_escaped);
  tcase_add_test(tc, non_finite_numbers_are_null);
  tcase_add_test(tc, exact_numbers_read_back);
  suite_add_tcase(s, tc);
  return fg_test_run(s);
}
