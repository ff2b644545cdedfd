/* test_tschema.c — Table Schema fields: every frictionless field_cast_cases.tsv row, constraint
 * checks and notes, the strptime-lite and "any" date parsers, value format/compare. */
#include "fp_test.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>

#include "fp/fp_tschema.h"
#include "quality/tschema_int.h"

/* ---- helpers --------------------------------------------------------------------------------- */

static char *xstrdup(const char *s) {
  char *p = strdup(s);
  assert_non_null(p);
  return p;
}

static char **strv(json_t *arr, size_t *n) {
  *n = json_array_size(arr);
  char **v = calloc(*n ? *n : 1, sizeof *v);
  assert_non_null(v);
  for (size_t i = 0; i < *n; i++) v[i] = xstrdup(json_string_value(json_array_get(arr, i)));
  return v;
}

/* A compiled field of type t with format fmt (NULL = default). */
static void field_make(fp_field *f, fp_ftype t, const char *fmt) {
  fp_field_init(f);
  f->name = xstrdup("f");
  f->type = t;
  if (fmt) f->format = xstrdup(fmt);
}

static void field_ok(fp_field *f) {
  fp_diag d;
  fp_diag_clear(&d);
  fp_err e = fp_field_compile(f, &d);
  if (e) fail_msg("compile failed: %s", d.msg);
}

static bool cast_s(const fp_field *f, const char *s, fp_value *v) {
  return fp_field_cast(f, s, strlen(s), v);
}

static const char *fmt_v(const fp_value *v, char *buf, size_t n) {
  fp_value_format(v, buf, n);
  return buf;
}

/* ---- the conformance table --------------------------------------------------------------------- */

/* Rows out of scope, by 1-based line number of field_cast_cases.tsv (header = line 1), with
 * the reason printed when skipped. None today. */
static const struct {
  int line;
  const char *why;
} CASE_SKIPS[] = {{0, NULL}};

static const char *skip_reason(int line) {
  for (size_t i = 0; CASE_SKIPS[i].why; i++)
    if (CASE_SKIPS[i].line == line) return CASE_SKIPS[i].why;
  return NULL;
}

/* "(a, b)" -> a and b */
static bool parse_pair(const char *s, double *a, double *b) {
  if (*s != '(') return false;
  char *end;
  *a = strtod(s + 1, &end);
  if (*end != ',') return false;
  *b = strtod(end + 1, &end);
  return *end == ')';
}

static bool json_text_equal(const char *a, size_t an, const char *b) {
  json_error_t err;
  json_t *x = json_loadb(a, an, JSON_DECODE_ANY, &err), *y = json_loads(b, JSON_DECODE_ANY, &err);
  bool eq = x && y && json_equal(x, y);
  json_decref(x);
  json_decref(y);
  return eq;
}

/* Compares a cast value with the table's expected text; *why gets the mismatch. */
static bool expected_matches(const fp_value *v, const char *exp, char *why, size_t whysz) {
  char got[1024];
  fp_value_format(v, got, sizeof got);
  bool ok;
  switch (v->type) {
    case FP_FT_STRING:
    case FP_FT_ANY: {
      json_error_t err;
      json_t *j = json_loads(exp, JSON_DECODE_ANY, &err);
      ok = j && json_is_string(j) && json_string_length(j) == v->text_len &&
           !memcmp(json_string_value(j), v->text, v->text_len);
      json_decref(j);
      break;
    }
    case FP_FT_NUMBER: ok = strtod(exp, NULL) == v->u.n; break;
    case FP_FT_GEOPOINT: {
      double a, b;
      ok = parse_pair(exp, &a, &b) && a == v->u.geo.lon && b == v->u.geo.lat;
      break;
    }
    case FP_FT_YEARMONTH: {
      double a, b;
      char want[64];
      if (parse_pair(exp, &a, &b)) snprintf(want, sizeof want, "%04d-%02d", (int)a, (int)b);
      else snprintf(want, sizeof want, "%s", exp);
      ok = !strcmp(got, want);
      break;
    }
    case FP_FT_OBJECT:
    case FP_FT_ARRAY:
    case FP_FT_GEOJSON: ok = json_text_equal(v->text, v->text_len, exp); break;
    default: ok = !strcmp(got, exp); break;
  }
  if (!ok) snprintf(why, whysz, "got %s, expected %s", got, exp);
  return ok;
}

static void apply_options(fp_field *f, const char *opts_json) {
  if (!*opts_json) return;
  json_error_t err;
  json_t *o = json_loads(opts_json, 0, &err);
  assert_non_null(o);
  json_t *x;
  if ((x = json_object_get(o, "trueValues"))) f->true_values = strv(x, &f->ntrue);
  if ((x = json_object_get(o, "falseValues"))) f->false_values = strv(x, &f->nfalse);
  if ((x = json_object_get(o, "bareNumber"))) f->bare_number = json_is_true(x);
  if ((x = json_object_get(o, "groupChar"))) f->group_char = json_string_value(x)[0];
  if ((x = json_object_get(o, "decimalChar"))) f->decimal_char = json_string_value(x)[0];
  json_decref(o);
}

static void test_field_cast_cases(void **state) {
  (void)state;
  FP_TEST_NEED_CONFORMANCE(dir);
  char path[1024];
  snprintf(path, sizeof path, "%s/frictionless/field_cast_cases.tsv", dir);
  char *text = fp_test_read_file(path, NULL);
  assert_non_null(text);
  int line = 0, cases = 0, passed = 0, skipped = 0, failed = 0;
  for (char *ln = text, *next; ln && *ln; ln = next) {
    next = strchr(ln, '\n');
    if (next) *next++ = '\0';
    if (++line == 1) continue; /* header */
    char *col[8] = {0};
    int nc = 0;
    for (char *p = ln; nc < 8;) {
      col[nc++] = p;
      char *tab = strchr(p, '\t');
      if (!tab) break;
      *tab = '\0';
      p = tab + 1;
    }
    assert_true(nc >= 5);
    cases++;
    const char *type = col[0], *format = col[1], *opts = col[2], *src = col[3], *exp = col[4];
    const char *why_skip = skip_reason(line);
    if (why_skip) {
      fprintf(stderr, "SKIP field_cast_cases.tsv:%d (%s %s %s): %s\n", line, type, format, src,
              why_skip);
      skipped++;
      continue;
    }
    fp_field f;
    fp_field_init(&f);
    f.name = xstrdup("field");
    if (!fp_ftype_parse(type, &f.type)) fail_msg("line %d: unknown type %s", line, type);
    if (strcmp(format, "default")) f.format = xstrdup(format);
    apply_options(&f, opts);
    fp_diag d;
    fp_diag_clear(&d);
    json_error_t err;
    json_t *cellj = json_loads(src, JSON_DECODE_ANY, &err);
    assert_non_null(cellj);
    const char *cell = json_string_value(cellj);
    size_t cell_len = json_string_length(cellj);
    char why[1200] = "";
    bool ok;
    if (fp_field_compile(&f, &d) != FP_OK) {
      ok = false;
      snprintf(why, sizeof why, "compile: %s", d.msg);
    } else if (!strcmp(exp, "NULL")) {
      /* missing values are the checker's job: the cell must be one of the defaults ("") */
      ok = cell_len == 0;
      if (!ok) snprintf(why, sizeof why, "expected a missing value");
    } else {
      fp_value v;
      bool cast = fp_field_cast(&f, cell, cell_len, &v);
      if (!strcmp(exp, "ERROR")) {
        ok = !cast;
        if (!ok) {
          char got[256];
          snprintf(why, sizeof why, "expected a type-error, got %s", fmt_v(&v, got, sizeof got));
        }
      } else {
        ok = cast && expected_matches(&v, exp, why, sizeof why);
        if (!cast) snprintf(why, sizeof why, "type-error, expected %s", exp);
      }
    }
    if (ok) passed++;
    else {
      failed++;
      fprintf(stderr, "FAIL field_cast_cases.tsv:%d type=%s format=%s options=%s cell=%s: %s\n",
              line, type, format, opts, src, why);
    }
    json_decref(cellj);
    fp_field_clear(&f);
  }
  free(text);
  fprintf(stderr, "field_cast_cases.tsv: %d cases, %d passed, %d skipped, %d failed\n", cases,
          passed, skipped, failed);
  assert_int_equal(cases, 235);
  assert_int_equal(failed, 0);
}

/* ---- casting details --------------------------------------------------------------------------- */

static void expect_cast(fp_ftype t, const char *fmt, const char *cell, const char *want) {
  fp_field f;
  field_make(&f, t, fmt);
  field_ok(&f);
  fp_value v;
  bool ok = cast_s(&f, cell, &v);
  char got[256];
  if (!want) {
    if (ok) fail_msg("%s/%s '%s': expected a type-error, got %s", fp_ftype_name(t),
                     fmt ? fmt : "default", cell, fmt_v(&v, got, sizeof got));
  } else {
    if (!ok) fail_msg("%s/%s '%s': type-error, expected %s", fp_ftype_name(t),
                      fmt ? fmt : "default", cell, want);
    fmt_v(&v, got, sizeof got);
    if (strcmp(got, want))
      fail_msg("%s/%s '%s': got %s, expected %s", fp_ftype_name(t), fmt ? fmt : "default", cell,
               got, want);
  }
  fp_field_clear(&f);
}

static void test_integer_and_number(void **state) {
  (void)state;
  expect_cast(FP_FT_INTEGER, NULL, "9223372036854775807", "9223372036854775807");
  expect_cast(FP_FT_INTEGER, NULL, "-9223372036854775808", "-9223372036854775808");
  expect_cast(FP_FT_INTEGER, NULL, "9223372036854775808", NULL); /* beyond int64 */
  expect_cast(FP_FT_INTEGER, NULL, "+7", "7");
  expect_cast(FP_FT_INTEGER, NULL, "1_000", "1000"); /* Python int() */
  expect_cast(FP_FT_INTEGER, NULL, "1__0", NULL);
  expect_cast(FP_FT_INTEGER, NULL, "1.0", NULL);
  expect_cast(FP_FT_INTEGER, NULL, "-", NULL);
  expect_cast(FP_FT_INTEGER, NULL, "1e3", NULL);
  expect_cast(FP_FT_NUMBER, NULL, "1e3", "1000");
  expect_cast(FP_FT_NUMBER, NULL, "NaN", "NaN");
  expect_cast(FP_FT_NUMBER, NULL, "-inf", "-Infinity");
  expect_cast(FP_FT_NUMBER, NULL, "INF", "Infinity");
  expect_cast(FP_FT_NUMBER, NULL, ".5", "0.5");
  expect_cast(FP_FT_NUMBER, NULL, "5.", "5");
  expect_cast(FP_FT_NUMBER, NULL, "-0", "0");
  expect_cast(FP_FT_NUMBER, NULL, "0.1", "0.1");
  expect_cast(FP_FT_NUMBER, NULL, "123456789012345678901234567890", "1.2345678901234568e+29");
  expect_cast(FP_FT_NUMBER, NULL, "1,000", NULL);
  expect_cast(FP_FT_NUMBER, NULL, "1 0", NULL);
  expect_cast(FP_FT_NUMBER, NULL, "e5", NULL);
  /* groupChar on integers (Table Schema v2) */
  fp_field f;
  field_make(&f, FP_FT_INTEGER, NULL);
  f.group_char = ',';
  field_ok(&f);
  fp_value v;
  assert_true(cast_s(&f, "1,234,567", &v));
  assert_int_equal(v.u.i, 1234567);
  fp_field_clear(&f);
}

static void test_temporal_defaults(void **state) {
  (void)state;
  expect_cast(FP_FT_DATE, NULL, "2020-02-29", "2020-02-29");
  expect_cast(FP_FT_DATE, NULL, "2019-02-29", NULL);
  expect_cast(FP_FT_DATE, NULL, "2019-1-5", "2019-01-05"); /* strptime("%Y-%m-%d") */
  expect_cast(FP_FT_DATE, NULL, "0000-01-01", NULL);
  expect_cast(FP_FT_DATE, NULL, "2019-01-01T00:00:00", NULL);
  expect_cast(FP_FT_DATETIME, NULL, "2014-01-01 06:00:00.5", "2014-01-01T06:00:00.500000");
  expect_cast(FP_FT_DATETIME, NULL, "2014-01-01T24:00:00", "2014-01-02T00:00:00");
  expect_cast(FP_FT_DATETIME, NULL, "2014-01-01T06:00:00-05:30", "2014-01-01T06:00:00-05:30");
  expect_cast(FP_FT_DATETIME, NULL, "2014-01-01T06:00", NULL); /* cell[16] != ':' */
  expect_cast(FP_FT_TIME, NULL, "23:59:59.123456789", "23:59:59.123456");
  expect_cast(FP_FT_TIME, NULL, "24:00:00", "00:00:00");
  expect_cast(FP_FT_TIME, NULL, "24:00:01", NULL);
  expect_cast(FP_FT_YEAR, NULL, "0999", "999");
  expect_cast(FP_FT_YEAR, NULL, "-999", NULL);
  expect_cast(FP_FT_YEARMONTH, NULL, "2000-1", "2000-01");
  expect_cast(FP_FT_DURATION, NULL, "P2W", "P14D");
  expect_cast(FP_FT_DURATION, NULL, "PT36H", "P1DT12H");
  expect_cast(FP_FT_DURATION, NULL, "-P1Y", "-P1Y");
  expect_cast(FP_FT_DURATION, NULL, "PT0.5S", "PT0.5S");
  expect_cast(FP_FT_DURATION, NULL, "P", NULL);
  expect_cast(FP_FT_DURATION, NULL, "PT", "PT0S"); /* isodate accepts it */
}

static void test_strptime_lite(void **state) {
  (void)state;
  expect_cast(FP_FT_DATE, "%d %b %Y", "05 jan 2020", "2020-01-05");
  expect_cast(FP_FT_DATE, "%d %B %Y", "5 SEPTEMBER 2020", "2020-09-05");
  expect_cast(FP_FT_DATE, "%A %d/%m/%Y", "Monday 01/02/2021", "2021-02-01");
  expect_cast(FP_FT_DATE, "%m%d", "112", "1900-11-02");  /* first regex match wins */
  expect_cast(FP_FT_DATE, "%d", "123", NULL);            /* ... and must consume all */
  expect_cast(FP_FT_DATE, "%Y %j", "2020 060", "2020-02-29");
  expect_cast(FP_FT_DATE, "%Y %j", "1900 366", "1901-01-01");
  expect_cast(FP_FT_DATE, "%m %d", "02 29", NULL); /* year 1900 */
  expect_cast(FP_FT_DATE, "%Y %U %w", "2021 10 3", "2021-03-10");
  expect_cast(FP_FT_DATE, "%G %V %u", "2021 01 1", "2021-01-04");
  expect_cast(FP_FT_DATE, "%d.%m.%Y", "1.2.2003", "2003-02-01");
  expect_cast(FP_FT_DATE, "%Y  %m", "2020 \t 03", "2020-03-01"); /* whitespace is \s+ */
  expect_cast(FP_FT_DATE, "%Y %m", "202003", NULL);
  expect_cast(FP_FT_DATE, "%x", "03/17/99", "1999-03-17");
  expect_cast(FP_FT_DATETIME, "%Y-%m-%dT%H:%M:%S%z", "2020-01-01t10:00:00+0130",
              "2020-01-01T10:00:00+01:30");
  expect_cast(FP_FT_DATETIME, "%Y-%m-%d %H:%M:%S %z", "2020-01-01 10:00:00 Z",
              "2020-01-01T10:00:00+00:00");
  expect_cast(FP_FT_DATETIME, "%Y-%m-%d %I:%M %p", "2020-01-01 12:30 am", "2020-01-01T00:30:00");
  expect_cast(FP_FT_DATETIME, "%Y-%m-%d %I:%M %p", "2020-01-01 1:30 PM", "2020-01-01T13:30:00");
  expect_cast(FP_FT_DATETIME, "%c", "Wed Mar 17 22:44:55 1999", "1999-03-17T22:44:55");
  expect_cast(FP_FT_TIME, "%H:%M:%S.%f", "10:11:12.5", "10:11:12.500000");
  expect_cast(FP_FT_TIME, "%H%%", "10%", "10:00:00");
  expect_cast(FP_FT_TIME, "%H:%M", "25:00", NULL);
  /* bad patterns are contract errors */
  const char *bad[] = {"%Q", "%Y-%m-%", "%d %d", "%c %Y"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    fp_field f;
    field_make(&f, FP_FT_DATE, bad[i]);
    fp_diag d;
    fp_diag_clear(&d);
    assert_int_equal(fp_field_compile(&f, &d), FP_ERR_CONTRACT);
    assert_non_null(strstr(d.msg, "field \"f\""));
    fp_field_clear(&f);
  }
}

static void test_any_format(void **state) {
  (void)state;
  expect_cast(FP_FT_DATE, "any", "2019/01/31", "2019-01-31");
  expect_cast(FP_FT_DATE, "any", "01/02/2003", "2003-01-02"); /* month first */
  expect_cast(FP_FT_DATE, "any", "31/12/2003", "2003-12-31");
  expect_cast(FP_FT_DATE, "any", "Jan 5, 2020", "2020-01-05");
  expect_cast(FP_FT_DATE, "any", "5-Jan-2020", "2020-01-05");
  expect_cast(FP_FT_DATE, "any", "20200105", "2020-01-05");
  expect_cast(FP_FT_DATE, "any", "Sept.20.2009", "2009-09-20");
  expect_cast(FP_FT_DATE, "any", "Jan 2020", NULL); /* no day: dateutil would use today's */
  expect_cast(FP_FT_DATE, "any", "2020-02-30", NULL);
  expect_cast(FP_FT_DATETIME, "any", "2014-01-01 06:00:00 +05:30", "2014-01-01T06:00:00+05:30");
  expect_cast(FP_FT_DATETIME, "any", "Thu, 01 Jan 2015 10:00:00 GMT",
              "2015-01-01T10:00:00+00:00");
  expect_cast(FP_FT_DATETIME, "any", "2015-01-01 10h30", "2015-01-01T10:30:00");
  expect_cast(FP_FT_DATETIME, "any", "2003-09-25T10:49:41.5-03:00",
              "2003-09-25T10:49:41.500000-03:00");
  expect_cast(FP_FT_TIME, "any", "10:49 pm", "22:49:00");
  expect_cast(FP_FT_TIME, "any", "13 pm", "13:00:00");
  expect_cast(FP_FT_TIME, "any", "13:00 pm", NULL);
  expect_cast(FP_FT_TIME, "any", "noon", NULL);
}

static void test_strings_and_json(void **state) {
  (void)state;
  expect_cast(FP_FT_STRING, "email", "first.last+tag@sub.example.org", "first.last+tag@sub.example.org");
  expect_cast(FP_FT_STRING, "email", "a@b@c.com", NULL);
  expect_cast(FP_FT_STRING, "email", "a..b@c.com", NULL);
  expect_cast(FP_FT_STRING, "email", "a@c.c0", NULL);
  expect_cast(FP_FT_STRING, "email", "\"a\\ b\"@example.com", "\"a\\ b\"@example.com");
  expect_cast(FP_FT_STRING, "email", "\"a b\"@example.com", NULL); /* space must be escaped */
  expect_cast(FP_FT_STRING, "uri", "mailto:x@y.z", "mailto:x@y.z");
  expect_cast(FP_FT_STRING, "uri", "1http://x", NULL);
  expect_cast(FP_FT_STRING, "uuid", "2bc1c94f-0deb-43e9-92a1-4775189ec9f8",
              "2bc1c94f-0deb-43e9-92a1-4775189ec9f8");
  expect_cast(FP_FT_STRING, "uuid", "{2BC1C94F0DEB43E992A14775189EC9F8}",
              "{2BC1C94F0DEB43E992A14775189EC9F8}");
  expect_cast(FP_FT_STRING, "uuid", "2bc1c94f-0deb-43e9-92a1-4775189ec9fg", NULL);
  expect_cast(FP_FT_STRING, "binary", "dGVz dA==", "dGVz dA==");
  expect_cast(FP_FT_STRING, "binary", "dGVzdA", NULL);
  expect_cast(FP_FT_OBJECT, NULL, " {\"a\": [1, 2.5e3, NaN, null]} ", " {\"a\": [1, 2.5e3, NaN, null]} ");
  expect_cast(FP_FT_OBJECT, NULL, "{\"a\": 01}", NULL);
  expect_cast(FP_FT_OBJECT, NULL, "{\"a\": 1} x", NULL);
  expect_cast(FP_FT_ARRAY, NULL, "[\"\\u00e9\", {}]", "[\"\\u00e9\", {}]");
  expect_cast(FP_FT_ARRAY, NULL, "[1,]", NULL);
  expect_cast(FP_FT_GEOJSON, NULL, "{\"type\": \"Point\", \"coordinates\": [1, 2]}",
              "{\"type\": \"Point\", \"coordinates\": [1, 2]}");
  expect_cast(FP_FT_GEOJSON, NULL, "{\"type\": \"Planet\"}", NULL);
  expect_cast(FP_FT_GEOJSON, "topojson", "{\"type\": \"Topology\", \"objects\": {}, \"arcs\": []}",
              "{\"type\": \"Topology\", \"objects\": {}, \"arcs\": []}");
  expect_cast(FP_FT_GEOPOINT, NULL, " 12.5 , -45 ", "12.5,-45");
  expect_cast(FP_FT_GEOPOINT, NULL, "nan,0", NULL);
  expect_cast(FP_FT_GEOPOINT, "array", "[\"12.5\", true]", "12.5,1");
  expect_cast(FP_FT_GEOPOINT, "array", "[1, 2, 3]", NULL);
  expect_cast(FP_FT_GEOPOINT, "object", "{\"lat\": 1, \"lon\": 2}", "2,1");
  expect_cast(FP_FT_GEOPOINT, "object", "{\"lat\": 1, \"lon\": 2, \"x\": 3}", NULL);
  expect_cast(FP_FT_BOOLEAN, NULL, " true", NULL);
  expect_cast(FP_FT_ANY, NULL, "whatever", "whatever");
  /* unsupported formats are contract errors */
  fp_field f;
  field_make(&f, FP_FT_STRING, "wkt");
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_field_compile(&f, &d), FP_ERR_CONTRACT);
  fp_field_clear(&f);
}

/* ---- constraints -------------------------------------------------------------------------------- */

static fp_constraint check_s(const fp_field *f, const char *cell, char *note, size_t nn) {
  fp_value v;
  if (!cast_s(f, cell, &v)) fail_msg("'%s' does not cast", cell);
  return fp_field_check(f, &v, cell, strlen(cell), note, nn);
}

static void test_constraint_bounds(void **state) {
  (void)state;
  char note[256];
  fp_field f;
  field_make(&f, FP_FT_INTEGER, NULL);
  f.minimum = xstrdup("2");
  f.maximum = xstrdup("100");
  field_ok(&f);
  assert_int_equal(check_s(&f, "2", note, sizeof note), FP_CONSTRAINT_NONE);
  assert_string_equal(note, "");
  assert_int_equal(check_s(&f, "100", note, sizeof note), FP_CONSTRAINT_NONE);
  assert_int_equal(check_s(&f, "1", note, sizeof note), FP_CONSTRAINT_MINIMUM);
  assert_string_equal(note, "constraint \"minimum\" is \"2\"");
  assert_int_equal(check_s(&f, "101", note, sizeof note), FP_CONSTRAINT_MAXIMUM);
  assert_string_equal(note, "constraint \"maximum\" is \"100\"");
  fp_field_clear(&f);

  field_make(&f, FP_FT_NUMBER, NULL);
  f.exclusive_minimum = xstrdup("0");
  f.exclusive_maximum = xstrdup("1.5");
  f.decimal_char = ','; /* the bounds are JSON numbers: read without decimalChar */
  field_ok(&f);
  assert_int_equal(check_s(&f, "0,5", note, sizeof note), FP_CONSTRAINT_NONE);
  assert_int_equal(check_s(&f, "0", note, sizeof note), FP_CONSTRAINT_EXCLUSIVE_MINIMUM);
  assert_string_equal(note, "constraint \"exclusiveMinimum\" is \"0\"");
  assert_int_equal(check_s(&f, "1,5", note, sizeof note), FP_CONSTRAINT_EXCLUSIVE_MAXIMUM);
  assert_int_equal(check_s(&f, "1,4999", note, sizeof note), FP_CONSTRAINT_NONE);
  assert_int_equal(check_s(&f, "NaN", note, sizeof note), FP_CONSTRAINT_EXCLUSIVE_MINIMUM);
  fp_value v;
  assert_true(cast_s(&f, "NaN", &v));
  assert_int_equal(fp_field_check_all(&f, &v, "NaN", 3),
                   (1u << FP_CONSTRAINT_EXCLUSIVE_MINIMUM) | (1u << FP_CONSTRAINT_EXCLUSIVE_MAXIMUM));
  fp_field_clear(&f);

  field_make(&f, FP_FT_DATE, "%d/%m/%Y");
  f.minimum = xstrdup("01/01/2020"); /* in the field's format ... */
  f.maximum = xstrdup("2020-12-31"); /* ... or ISO */
  field_ok(&f);
  assert_int_equal(check_s(&f, "15/06/2020", note, sizeof note), FP_CONSTRAINT_NONE);
  assert_int_equal(check_s(&f, "31/12/2019", note, sizeof note), FP_CONSTRAINT_MINIMUM);
  assert_int_equal(check_s(&f, "01/01/2021", note, sizeof note), FP_CONSTRAINT_MAXIMUM);
  fp_field_clear(&f);

  field_make(&f, FP_FT_DATETIME, NULL);
  f.maximum = xstrdup("2020-01-01T00:00:00Z");
  field_ok(&f);
  assert_int_equal(check_s(&f, "2020-01-01T01:00:00+01:00", note, sizeof note), FP_CONSTRAINT_NONE);
  assert_int_equal(check_s(&f, "2020-01-01T01:00:00+00:30", note, sizeof note), FP_CONSTRAINT_MAXIMUM);
  /* naive vs aware: not comparable, the constraint fails */
  assert_int_equal(check_s(&f, "2019-01-01T00:00:00", note, sizeof note), FP_CONSTRAINT_MAXIMUM);
  fp_field_clear(&f);

  field_make(&f, FP_FT_TIME, NULL);
  f.minimum = xstrdup("08:00:00");
  field_ok(&f);
  assert_int_equal(check_s(&f, "08:00:00", note, sizeof note), FP_CONSTRAINT_NONE);
  assert_int_equal(check_s(&f, "07:59:59.999", note, sizeof note), FP_CONSTRAINT_MINIMUM);
  fp_field_clear(&f);

  field_make(&f, FP_FT_YEARMONTH, NULL);
  f.minimum = xstrdup("2000-02");
  field_ok(&f);
  assert_int_equal(check_s(&f, "2000-01", note, sizeof note), FP_CONSTRAINT_MINIMUM);
  assert_int_equal(check_s(&f, "2000-02", note, sizeof note), FP_CONSTRAINT_NONE);
  fp_field_clear(&f);

  field_make(&f, FP_FT_DURATION, NULL);
  f.maximum = xstrdup("P1M");
  field_ok(&f);
  assert_int_equal(check_s(&f, "P30D", note, sizeof note), FP_CONSTRAINT_NONE); /* months first */
  assert_int_equal(check_s(&f, "P1MT1S", note, sizeof note), FP_CONSTRAINT_MAXIMUM);
  fp_field_clear(&f);

  field_make(&f, FP_FT_YEAR, NULL);
  f.minimum = xstrdup("1990");
  field_ok(&f);
  assert_int_equal(check_s(&f, "1989", note, sizeof note), FP_CONSTRAINT_MINIMUM);
  fp_field_clear(&f);
}

static void expect_compile_error(fp_field *f, const char *needle) {
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_field_compile(f, &d), FP_ERR_CONTRACT);
  if (!strstr(d.msg, needle)) fail_msg("message '%s' lacks '%s'", d.msg, needle);
  assert_non_null(strstr(d.msg, "field \"f\""));
  assert_null(f->compiled);
  fp_field_clear(f);
}

static void test_constraint_compile_errors(void **state) {
  (void)state;
  fp_field f;
  field_make(&f, FP_FT_INTEGER, NULL);
  f.maximum = xstrdup("ten");
  expect_compile_error(&f, "constraint \"maximum\" value \"ten\"");
  field_make(&f, FP_FT_INTEGER, NULL);
  f.minimum = xstrdup("1.5");
  expect_compile_error(&f, "\"minimum\"");
  field_make(&f, FP_FT_DATE, NULL);
  f.exclusive_minimum = xstrdup("2020-13-01");
  expect_compile_error(&f, "\"exclusiveMinimum\"");
  field_make(&f, FP_FT_STRING, NULL);
  f.pattern = xstrdup("([a-z");
  expect_compile_error(&f, "constraint \"pattern\"");
  field_make(&f, FP_FT_NUMBER, NULL);
  f.enum_values = calloc(2, sizeof *f.enum_values);
  f.enum_values[0] = xstrdup("1");
  f.enum_values[1] = xstrdup("x");
  f.nenum = 2;
  expect_compile_error(&f, "constraint \"enum\" value \"x\"");
  field_make(&f, FP_FT_STRING, NULL);
  f.minimum = xstrdup("a");
  expect_compile_error(&f, "constraint \"minimum\" is not supported by type \"string\"");
  field_make(&f, FP_FT_INTEGER, NULL);
  f.pattern = xstrdup("[0-9]+");
  expect_compile_error(&f, "constraint \"pattern\" is not supported by type \"integer\"");
  field_make(&f, FP_FT_BOOLEAN, NULL);
  f.max_length = 3;
  expect_compile_error(&f, "constraint \"maxLength\" is not supported");
  /* an integral JSON number is fine for an integer bound (Python reads 2.0 as 2) */
  field_make(&f, FP_FT_INTEGER, NULL);
  f.minimum = xstrdup("2.0");
  field_ok(&f);
  fp_field_clear(&f);
}

static void test_constraint_length_pattern_enum(void **state) {
  (void)state;
  char note[256];
  fp_field f;
  field_make(&f, FP_FT_STRING, NULL);
  f.min_length = 3;
  f.max_length = 4;
  field_ok(&f);
  assert_int_equal(check_s(&f, "\xc3\xa9\xc3\xa9\xc3\xa9", note, sizeof note), FP_CONSTRAINT_NONE);
  assert_int_equal(check_s(&f, "\xc3\xa9\xc3\xa9", note, sizeof note), FP_CONSTRAINT_MIN_LENGTH);
  assert_string_equal(note, "constraint \"minLength\" is \"3\"");
  assert_int_equal(check_s(&f, "abcde", note, sizeof note), FP_CONSTRAINT_MAX_LENGTH);
  assert_string_equal(note, "constraint \"maxLength\" is \"4\"");
  fp_field_clear(&f);

  field_make(&f, FP_FT_ARRAY, NULL);
  f.max_length = 2;
  field_ok(&f);
  assert_int_equal(check_s(&f, "[1, [2, 3]]", note, sizeof note), FP_CONSTRAINT_NONE);
  assert_int_equal(check_s(&f, "[1, 2, 3]", note, sizeof note), FP_CONSTRAINT_MAX_LENGTH);
  fp_field_clear(&f);

  field_make(&f, FP_FT_STRING, NULL);
  f.pattern = xstrdup("b");
  field_ok(&f);
  assert_int_equal(check_s(&f, "b", note, sizeof note), FP_CONSTRAINT_NONE);
  assert_int_equal(check_s(&f, "abc", note, sizeof note), FP_CONSTRAINT_PATTERN); /* anchored */
  assert_int_equal(check_s(&f, "bb", note, sizeof note), FP_CONSTRAINT_PATTERN);
  assert_string_equal(note, "constraint \"pattern\" is \"b\"");
  fp_field_clear(&f);

  field_make(&f, FP_FT_STRING, NULL);
  f.pattern = xstrdup("^[A-Z]+$");
  field_ok(&f);
  assert_int_equal(check_s(&f, "ABC", note, sizeof note), FP_CONSTRAINT_NONE);
  assert_int_equal(check_s(&f, "ABc", note, sizeof note), FP_CONSTRAINT_PATTERN);
  assert_string_equal(note, "constraint \"pattern\" is \"^[A-Z]+$\"");
  fp_value v;
  assert_true(cast_s(&f, "\xff", &v)); /* invalid UTF-8 never matches */
  assert_int_equal(fp_field_check(&f, &v, "\xff", 1, NULL, 0), FP_CONSTRAINT_PATTERN);
  fp_field_clear(&f);

  field_make(&f, FP_FT_STRING, NULL);
  f.pattern = xstrdup(".{2}");
  field_ok(&f);
  assert_int_equal(check_s(&f, "\xf0\x9f\x98\x80\xc3\xa9", note, sizeof note), FP_CONSTRAINT_NONE);
  assert_int_equal(check_s(&f, "\xed\xa0\x80" "a", note, sizeof note), FP_CONSTRAINT_PATTERN); /* surrogate */
  assert_int_equal(check_s(&f, "\xc0\xaf" "a", note, sizeof note), FP_CONSTRAINT_PATTERN);     /* overlong */
  assert_int_equal(check_s(&f, "a\xc3", note, sizeof note), FP_CONSTRAINT_PATTERN);         /* truncated */
  fp_field_clear(&f);

  field_make(&f, FP_FT_STRING, NULL);
  f.pattern = xstrdup("\\d+");
  field_ok(&f);
  assert_int_equal(check_s(&f, "\xd9\xa1\xd9\xa2", note, sizeof note), FP_CONSTRAINT_NONE); /* UCP */
  fp_field_clear(&f);

  field_make(&f, FP_FT_STRING, NULL);
  f.enum_values = calloc(2, sizeof *f.enum_values);
  f.enum_values[0] = xstrdup("M");
  f.enum_values[1] = xstrdup("F");
  f.nenum = 2;
  f.min_length = 2;
  field_ok(&f);
  assert_int_equal(check_s(&f, "M", note, sizeof note), FP_CONSTRAINT_MIN_LENGTH);
  assert_true(cast_s(&f, "m", &v));
  assert_int_equal(fp_field_check_all(&f, &v, "m", 1),
                   (1u << FP_CONSTRAINT_MIN_LENGTH) | (1u << FP_CONSTRAINT_ENUM));
  fp_constraint_note(&f, FP_CONSTRAINT_ENUM, note, sizeof note);
  assert_string_equal(note, "constraint \"enum\" is \"['M', 'F']\"");
  fp_field_clear(&f);

  field_make(&f, FP_FT_NUMBER, NULL);
  f.enum_values = calloc(2, sizeof *f.enum_values);
  f.enum_values[0] = xstrdup("1");
  f.enum_values[1] = xstrdup("2.5");
  f.nenum = 2;
  field_ok(&f);
  assert_int_equal(check_s(&f, "1.0", note, sizeof note), FP_CONSTRAINT_NONE);
  assert_int_equal(check_s(&f, "2.50", note, sizeof note), FP_CONSTRAINT_NONE);
  assert_int_equal(check_s(&f, "3", note, sizeof note), FP_CONSTRAINT_ENUM);
  assert_string_equal(note, "constraint \"enum\" is \"[1, 2.5]\"");
  fp_field_clear(&f);

  field_make(&f, FP_FT_BOOLEAN, NULL);
  f.true_values = calloc(1, sizeof *f.true_values);
  f.true_values[0] = xstrdup("yes");
  f.ntrue = 1;
  f.enum_values = calloc(1, sizeof *f.enum_values);
  f.enum_values[0] = xstrdup("true");
  f.nenum = 1;
  field_ok(&f);
  assert_int_equal(check_s(&f, "yes", note, sizeof note), FP_CONSTRAINT_NONE);
  assert_int_equal(check_s(&f, "0", note, sizeof note), FP_CONSTRAINT_ENUM);
  assert_string_equal(note, "constraint \"enum\" is \"[True]\"");
  fp_field_clear(&f);

  /* truncated note: snprintf semantics */
  field_make(&f, FP_FT_INTEGER, NULL);
  f.maximum = xstrdup("100");
  field_ok(&f);
  char tiny[8];
  assert_int_equal(fp_constraint_note(&f, FP_CONSTRAINT_MAXIMUM, tiny, sizeof tiny),
                   strlen("constraint \"maximum\" is \"100\""));
  assert_string_equal(tiny, "constra");
  fp_field_clear(&f);
}

/* Pattern checks from several threads share one compiled field. */
typedef struct thr_arg {
  const fp_field *f;
  int bad;
} thr_arg;

static void *thr_main(void *p) {
  thr_arg *a = p;
  for (int i = 0; i < 2000; i++) {
    fp_value v;
    const char *s = (i & 1) ? "ABC" : "abc";
    if (!fp_field_cast(a->f, s, 3, &v)) a->bad++;
    fp_constraint k = fp_field_check(a->f, &v, s, 3, NULL, 0);
    if (k != ((i & 1) ? FP_CONSTRAINT_NONE : FP_CONSTRAINT_PATTERN)) a->bad++;
  }
  return NULL;
}

static void test_pattern_threads(void **state) {
  (void)state;
  fp_field f;
  field_make(&f, FP_FT_STRING, NULL);
  f.pattern = xstrdup("[A-Z]+");
  field_ok(&f);
  pthread_t t[4];
  thr_arg a[4];
  for (int i = 0; i < 4; i++) {
    a[i].f = &f;
    a[i].bad = 0;
    assert_int_equal(pthread_create(&t[i], NULL, thr_main, &a[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(a[i].bad, 0);
  }
  fp_field_clear(&f);
}

/* ---- values ---------------------------------------------------------------------------------- */

static void test_value_format_and_cmp(void **state) {
  (void)state;
  /* numbers: shortest round trip, and 1 == 1.0 */
  double samples[] = {0.1, 1.0 / 3, 1e21, 123456.789, -2.5e-300, 5e-324, 1.7976931348623157e308};
  for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
    char buf[64];
    fp__ts_fmt_double(samples[i], buf, sizeof buf);
    double back;
    assert_true(fp__ts_py_decimal(buf, strlen(buf), &back));
    if (back != samples[i]) fail_msg("%s does not read back as %.17g", buf, samples[i]);
  }
  char buf[64];
  fp__ts_fmt_double(0.1, buf, sizeof buf);
  assert_string_equal(buf, "0.1");
  fp_field f;
  field_make(&f, FP_FT_NUMBER, NULL);
  field_ok(&f);
  fp_value a, b;
  assert_true(cast_s(&f, "1.0", &a));
  assert_true(cast_s(&f, "1", &b));
  assert_int_equal(fp_value_cmp(&a, &b), 0);
  assert_string_equal(fmt_v(&a, buf, sizeof buf), fmt_v(&b, buf + 32, 32));
  assert_true(cast_s(&f, "NaN", &b));
  assert_int_equal(fp_value_cmp(&a, &b), -1);
  assert_int_equal(fp_value_cmp(&b, &b), 0);
  fp_field_clear(&f);

  /* different types do not compare */
  fp_value i = {.type = FP_FT_INTEGER, .u.i = 1};
  assert_int_equal(fp_value_cmp(&a, &i), -2);

  /* datetimes: round trip through the canonical text, equal instants compare equal */
  const char *dts[] = {"1970-01-01T00:00:00", "0001-01-01T00:00:00", "9999-12-31T23:59:59.999999",
                       "2014-01-01T06:00:00+01:00", "1969-12-31T23:59:59-00:30"};
  field_make(&f, FP_FT_DATETIME, NULL);
  field_ok(&f);
  for (size_t k = 0; k < sizeof dts / sizeof *dts; k++) {
    assert_true(cast_s(&f, dts[k], &a));
    assert_string_equal(fmt_v(&a, buf, sizeof buf), dts[k]);
    assert_true(cast_s(&f, buf, &b));
    assert_int_equal(fp_value_cmp(&a, &b), 0);
  }
  assert_true(cast_s(&f, "2014-01-01T06:00:00+01:00", &a));
  assert_true(cast_s(&f, "2014-01-01T05:00:00Z", &b));
  assert_int_equal(fp_value_cmp(&a, &b), 0);
  assert_true(cast_s(&f, "2014-01-01T05:00:01Z", &b));
  assert_int_equal(fp_value_cmp(&a, &b), -1);
  fp_field_clear(&f);

  /* strings: bytes */
  field_make(&f, FP_FT_STRING, NULL);
  field_ok(&f);
  assert_true(cast_s(&f, "ab", &a));
  assert_true(cast_s(&f, "abc", &b));
  assert_int_equal(fp_value_cmp(&a, &b), -1);
  assert_int_equal(fp_value_cmp(&b, &a), 1);
  assert_int_equal(fp_value_format(&b, buf, 3), 3);
  assert_string_equal(buf, "ab");
  fp_field_clear(&f);

  /* calendar helpers agree over the whole date range */
  for (int64_t day = -719162; day <= 2932896; day += 997) {
    int32_t y, m, d;
    fp__ts_civil_from_days(day, &y, &m, &d);
    assert_int_equal(fp__ts_days_from_civil(y, m, d), day);
  }
}

static void test_names_and_lifecycle(void **state) {
  (void)state;
  for (int t = 0; t < FP_FT__COUNT; t++) {
    fp_ftype back;
    assert_true(fp_ftype_parse(fp_ftype_name((fp_ftype)t), &back));
    assert_int_equal(back, t);
  }
  fp_ftype x;
  assert_false(fp_ftype_parse("decimal", &x));
  assert_false(fp_ftype_parse(NULL, &x));
  assert_string_equal(fp_ftype_name(FP_FT__COUNT), "unknown");
  fp_field f;
  fp_field_init(&f);
  assert_int_equal(f.decimal_char, '.');
  assert_true(f.bare_number);
  assert_int_equal(f.min_length, -1);
  fp_field_clear(NULL);
  fp_field_clear(&f);
  fp_field_clear(&f); /* twice is fine */
  /* an uncompiled field still casts */
  field_make(&f, FP_FT_DATE, "fmt:%d/%m/%y");
  fp_value v;
  assert_true(cast_s(&f, "21/11/06", &v));
  assert_int_equal(v.u.date.y, 2006);
  /* recompiling replaces the compiled state */
  field_ok(&f);
  field_ok(&f);
  fp_field_clear(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_field_cast_cases),
      cmocka_unit_test(test_integer_and_number),
      cmocka_unit_test(test_temporal_defaults),
      cmocka_unit_test(test_strptime_lite),
      cmocka_unit_test(test_any_format),
      cmocka_unit_test(test_strings_and_json),
      cmocka_unit_test(test_constraint_bounds),
      cmocka_unit_test(test_constraint_compile_errors),
      cmocka_unit_test(test_constraint_length_pattern_enum),
      cmocka_unit_test(test_pattern_threads),
      cmocka_unit_test(test_value_format_and_cmp),
      cmocka_unit_test(test_names_and_lifecycle),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
