/* test_typeinfer.c — cell classification into the type lattice, joins, parsed values and
 * number rendering. */
#include "fp_test.h"

#include <math.h>

#include "quality/quality_int.h"

static fp_type type_of(const char *s) {
  return fp__type_of_mask(fp__classify(s, strlen(s), NULL));
}

#define ASSERT_TYPE(str, want)                                                                 \
  do {                                                                                         \
    fp_type got_ = type_of(str);                                                               \
    if (got_ != (want))                                                                        \
      fail_msg("classify(\"%s\") = %s, want %s", str, fp_type_name(got_), fp_type_name(want)); \
  } while (0)

static void test_booleans(void **state) {
  (void)state;
  const char *yes[] = {"true", "True", "TRUE", "false", "False", "FALSE"};
  for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) ASSERT_TYPE(yes[i], FP_TYPE_BOOLEAN);
  /* 0/1 are integers, and other spellings are strings. */
  ASSERT_TYPE("0", FP_TYPE_INTEGER);
  ASSERT_TYPE("1", FP_TYPE_INTEGER);
  const char *no[] = {"t", "f", "yes", "no", "YES", "tRUE", "fAlse", "truee", "true ", " true"};
  for (size_t i = 0; i < sizeof no / sizeof *no; i++) ASSERT_TYPE(no[i], FP_TYPE_STRING);
  fp__cellval v = {0, 0, true};
  fp__classify("FALSE", 5, &v);
  assert_false(v.b);
  fp__classify("True", 4, &v);
  assert_true(v.b);
}

static void test_integers(void **state) {
  (void)state;
  const char *ints[] = {"0",
                        "7",
                        "-7",
                        "+5",
                        "000835",
                        "00",
                        "-0",
                        "9223372036854775807",
                        "-9223372036854775808",
                        "1234567890"};
  for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) ASSERT_TYPE(ints[i], FP_TYPE_INTEGER);
  fp__cellval v;
  assert_int_equal(fp__type_of_mask(fp__classify("+5", 2, &v)), FP_TYPE_INTEGER);
  assert_int_equal(v.i, 5);
  fp__classify("-9223372036854775808", 20, &v);
  assert_true(v.i == INT64_MIN);
  fp__classify("9223372036854775807", 19, &v);
  assert_true(v.i == INT64_MAX);
  fp__classify("000835", 6, &v);
  assert_int_equal(v.i, 835);
  /* int64 overflow: still a number. */
  ASSERT_TYPE("9223372036854775808", FP_TYPE_NUMBER);
  ASSERT_TYPE("-9223372036854775809", FP_TYPE_NUMBER);
  ASSERT_TYPE("123456789012345678901234567890", FP_TYPE_NUMBER);
  fp__classify("9223372036854775808", 19, &v);
  assert_true(v.d == 9223372036854775808.0);
  /* Not integers at all. */
  const char *strs[] = {"", "-", "+", " 1", "1 ", "1,000", "1_000", "0x10", "--1", "+-1", "12a"};
  for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) ASSERT_TYPE(strs[i], FP_TYPE_STRING);
}

static void test_numbers(void **state) {
  (void)state;
  const char *nums[] = {"1.5",
                        "-0.003",
                        "+2.25",
                        "1e5",
                        "1E+05",
                        "2.5e-3",
                        ".5",
                        "5.",
                        "-.5",
                        "10.00",
                        "NaN",
                        "nan",
                        "INF",
                        "-INF",
                        "+inf",
                        "Infinity",
                        "-infinity",
                        "0.1",
                        "123456789.123456789123"};
  for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) ASSERT_TYPE(nums[i], FP_TYPE_NUMBER);
  const char *strs[] = {".",    "-.",   "1e",   "1e+", "e5",   "1.2.3", "1..2",
                        "1.5x", "inf5", "nana", "- 1", "1 .5", "1,5"};
  for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) ASSERT_TYPE(strs[i], FP_TYPE_STRING);

  /* Parsed values agree with strtod (fast path and slow path). */
  const char *vals[] = {"1.5",   "-0.003",   "2.5e-3",
                        "1e5",   "0.1",      "123456789.123456789123",
                        "1e300", "4.9e-324", "3.141592653589793238462643",
                        ".5",    "5."};
  for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
    fp__cellval v;
    fp__classify(vals[i], strlen(vals[i]), &v);
    double want = strtod(vals[i], NULL);
    if (v.d != want) fail_msg("%s parsed as %.17g, want %.17g", vals[i], v.d, want);
  }
  fp__cellval v;
  fp__classify("NaN", 3, &v);
  assert_true(isnan(v.d));
  fp__classify("-INF", 4, &v);
  assert_true(isinf(v.d) && v.d < 0);
}

static void test_dates(void **state) {
  (void)state;
  const char *dates[] = {"2024-02-29", "2000-02-29", "2023-12-31",
                         "0001-01-01", "1999-01-31", "2024-04-30"};
  for (size_t i = 0; i < sizeof dates / sizeof *dates; i++) ASSERT_TYPE(dates[i], FP_TYPE_DATE);
  const char *bad[] = {"2024-02-30", "2023-02-29",  "1900-02-29",  "2100-02-29", "2024-13-01",
                       "2024-00-10", "2024-01-00",  "2024-04-31",  "0000-01-01", "2024-1-01",
                       "2024/01/01", "2024-01-01x", " 2024-01-01", "2024-01-0a"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) ASSERT_TYPE(bad[i], FP_TYPE_STRING);
  ASSERT_TYPE("20240101", FP_TYPE_INTEGER); /* basic ISO format is not a date here */
  /* Leap years by the Gregorian rule, checked against an independent loop. */
  for (int y = 1896; y <= 2404; y++) {
    char s[32];
    snprintf(s, sizeof s, "%04d-02-29", y);
    bool is_leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    ASSERT_TYPE(s, is_leap ? FP_TYPE_DATE : FP_TYPE_STRING);
  }
}

static void test_datetimes(void **state) {
  (void)state;
  const char *ok[] = {"2014-01-01T06:00:00",       "2014-01-01T06:00:00Z",
                      "2014-01-01T06:00:00+01:00", "2014-01-01T06:00:00-05:30",
                      "2014-01-01 06:00:00",       "2014-01-01T23:59:59.123",
                      "2014-01-01T00:00:00.5Z",    "2014-01-01T00:00:00.123456789+00:00",
                      "2024-02-29T12:00:00"};
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) ASSERT_TYPE(ok[i], FP_TYPE_DATETIME);
  const char *bad[] = {
      "2014-01-01T06:00:00+1:00", "2014-01-01T24:00:00",      "2014-01-01T06:60:00",
      "2014-01-01T06:00:60",      "2014-01-01T06:00",         "2014-01-01T06:00:00.",
      "2014-01-01T06:00:00z",     "2014-01-01T06:00:00+0100", "2014-02-30T06:00:00",
      "2014-01-01X06:00:00",      "2014-01-01T06:00:00 ",     "2014-01-01T06:00:00.1234567890"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) ASSERT_TYPE(bad[i], FP_TYPE_STRING);
}

static void test_lattice(void **state) {
  (void)state;
  assert_int_equal(fp__type_join(FP_TYPE_EMPTY, FP_TYPE_INTEGER), FP_TYPE_INTEGER);
  assert_int_equal(fp__type_join(FP_TYPE_EMPTY, FP_TYPE_EMPTY), FP_TYPE_EMPTY);
  assert_int_equal(fp__type_join(FP_TYPE_INTEGER, FP_TYPE_NUMBER), FP_TYPE_NUMBER);
  assert_int_equal(fp__type_join(FP_TYPE_NUMBER, FP_TYPE_INTEGER), FP_TYPE_NUMBER);
  assert_int_equal(fp__type_join(FP_TYPE_BOOLEAN, FP_TYPE_BOOLEAN), FP_TYPE_BOOLEAN);
  assert_int_equal(fp__type_join(FP_TYPE_BOOLEAN, FP_TYPE_INTEGER), FP_TYPE_STRING);
  assert_int_equal(fp__type_join(FP_TYPE_DATE, FP_TYPE_DATETIME), FP_TYPE_STRING);
  assert_int_equal(fp__type_join(FP_TYPE_DATE, FP_TYPE_DATE), FP_TYPE_DATE);
  assert_int_equal(fp__type_join(FP_TYPE_INTEGER, FP_TYPE_DATE), FP_TYPE_STRING);
  assert_int_equal(fp__type_join(FP_TYPE_STRING, FP_TYPE_EMPTY), FP_TYPE_STRING);
  /* A column fed a sequence of values: AND of the masks. */
  const char *col[] = {"1", "2", "-3", "4.5", "1e3"};
  uint32_t m = FP__TM_ALL;
  for (size_t i = 0; i < 5; i++) {
    m &= fp__classify(col[i], strlen(col[i]), NULL);
    fp_type want = i < 3 ? FP_TYPE_INTEGER : FP_TYPE_NUMBER;
    assert_int_equal(fp__type_of_mask(m), want);
  }
  m &= fp__classify("x", 1, NULL);
  assert_int_equal(fp__type_of_mask(m), FP_TYPE_STRING);
  assert_string_equal(fp_type_name(FP_TYPE_DATETIME), "datetime");
  assert_string_equal(fp_type_name(FP_TYPE_EMPTY), "empty");
}

static void test_format_double(void **state) {
  (void)state;
  char b[40];
  fp__format_double(0.1, b, sizeof b);
  assert_string_equal(b, "0.1");
  fp__format_double(10.0, b, sizeof b);
  assert_string_equal(b, "10");
  fp__format_double(-2.5, b, sizeof b);
  assert_string_equal(b, "-2.5");
  fp__format_double(1.0 / 3.0, b, sizeof b);
  assert_true(strtod(b, NULL) == 1.0 / 3.0);
  fp__format_double(0.1 + 0.2, b, sizeof b); /* needs 17 digits */
  assert_string_equal(b, "0.30000000000000004");
  fp__format_double(NAN, b, sizeof b);
  assert_string_equal(b, "NaN");
  fp__format_double(-INFINITY, b, sizeof b);
  assert_string_equal(b, "-INF");
  fp__format_double(1e300, b, sizeof b);
  assert_string_equal(b, "1e+300");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_booleans),      cmocka_unit_test(test_integers),
      cmocka_unit_test(test_numbers),       cmocka_unit_test(test_dates),
      cmocka_unit_test(test_datetimes),     cmocka_unit_test(test_lattice),
      cmocka_unit_test(test_format_double),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
