/* tschema_int.h — private pieces shared by the Table Schema field modules (tschema*.c):
 * Python-compatible text helpers, the numeric, temporal, text/JSON cast back-ends and the
 * compiled constraint state. Not part of libfp's public API; test_tschema.c includes it to
 * reach the strptime-lite parser and the number formatter directly. */
#ifndef FP_TSCHEMA_INT_H
#define FP_TSCHEMA_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fp/fp_tschema.h"

/* ---- formats -------------------------------------------------------------------------- */

/* What a field's "format" means for its type, resolved once (at compile, or per call for a
 * field that was never compiled). */
typedef enum fp__fmt {
  FP__FMT_DEFAULT = 0,
  FP__FMT_ANY,      /* date/time/datetime "any" (dateutil-style parsing) */
  FP__FMT_PATTERN,  /* date/time/datetime strptime-style pattern */
  FP__FMT_EMAIL,    /* string formats */
  FP__FMT_URI,
  FP__FMT_UUID,
  FP__FMT_BINARY,
  FP__FMT_ARRAY,    /* geopoint formats */
  FP__FMT_OBJECT,
  FP__FMT_TOPOJSON, /* geojson */
  FP__FMT_BAD       /* not a format of this type */
} fp__fmt;

/* Resolves format for type t; *pattern receives the strptime pattern for FP__FMT_PATTERN
 * (the text after an optional "fmt:" prefix, borrowed from format). */
fp__fmt fp__ts_fmt_kind(fp_ftype t, const char *format, const char **pattern);

/* ---- compiled field state (fp_field.compiled) -------------------------------------------- */

typedef struct fp__tsc {
  fp__fmt fmt;
  const char *pattern_fmt; /* strptime pattern (borrowed from the field's format) */
  void *re;                /* pcre2_code * or NULL */
  bool jit;                /* re has JIT code: match with pcre2_jit_match */
  void *mctx;              /* pcre2_match_context * with the match limits, when re */
  bool has_min, has_max, has_xmin, has_xmax;
  fp_value min, max, xmin, xmax;
  fp_value *enums;
  size_t nenum;
} fp__tsc;

/* ---- Python-compatible text helpers (tschema_num.c) ------------------------------------- */

/* Byte length of one character Python's str.isspace() accepts at s[0..n) (ASCII controls
 * 0x09-0x0D, 0x1C-0x1F, space, and the Unicode spaces in UTF-8), 0 when none. */
size_t fp__ts_ws_at(const char *s, size_t n);
/* Same for the character that ends at s + n. */
size_t fp__ts_ws_before(const char *s, size_t n);
/* str.strip(): removes leading and trailing whitespace in place. */
void fp__ts_strip(const char **s, size_t *n);

/* Python int(text) in base 10 within int64: whitespace around, one sign, ASCII digits with
 * single underscores between digits. False when Python would raise or the value does not
 * fit int64. */
bool fp__ts_py_int(const char *s, size_t n, int64_t *out);
/* Python decimal.Decimal(text) read as a double: whitespace around, every '_' ignored, sign,
 * digits[.digits][e[sign]digits], Inf/Infinity/NaN[digits]/sNaN[digits] in any case. */
bool fp__ts_py_decimal(const char *s, size_t n, double *out);

bool fp__ts_cast_integer(const fp_field *f, const char *s, size_t n, int64_t *out);
bool fp__ts_cast_number(const fp_field *f, const char *s, size_t n, double *out);

/* Shortest text that reads back as d ("%.15g", then 16, then 17 digits), locale-free;
 * NaN -> "NaN", infinities -> "Infinity"/"-Infinity", -0 -> "0". snprintf-style return. */
size_t fp__ts_fmt_double(double d, char *out, size_t outsz);

/* ---- temporal (tschema_time.c, tschema_any.c) ------------------------------------------ */

/* Broken-down time as the parsers produce it. */
typedef struct fp__tm {
  int32_t year, month, day;
  int32_t hour, minute, second, usec;
  bool has_tz;
  int32_t tz_sec; /* UTC offset in seconds */
} fp__tm;

int64_t fp__ts_days_from_civil(int64_t y, int32_t m, int32_t d);
void fp__ts_civil_from_days(int64_t z, int32_t *y, int32_t *m, int32_t *d);
int32_t fp__ts_days_in_month(int64_t y, int32_t m);

/* strptime-lite: parses s with a Python datetime.strptime pattern (C locale names); the
 * pattern must have passed fp__ts_pattern_problem. Returns false on mismatch. */
bool fp__ts_strptime(const char *pattern, const char *s, size_t n, fp__tm *out);
/* Checks a pattern the way Python compiles it: unknown directive, stray '%', a directive
 * used twice. Returns NULL when usable, else a static reason. */
const char *fp__ts_pattern_problem(const char *pattern);

/* dateutil.parser.parse subset (see tschema_any.c). need_date: the caller needs year,
 * month and day from the text (date/datetime fields). */
bool fp__ts_parse_any(const char *s, size_t n, bool need_date, fp__tm *out);

bool fp__ts_cast_temporal(fp_ftype t, fp__fmt fmt, const char *pattern, const char *s,
                          size_t n, fp_value *out);
bool fp__ts_cast_year(const char *s, size_t n, int64_t *out);
bool fp__ts_cast_yearmonth(const char *s, size_t n, int32_t *y, int32_t *m);
bool fp__ts_cast_duration(const char *s, size_t n, int64_t *months, double *seconds);

/* ---- text and JSON (tschema_text.c) ------------------------------------------------------ */

bool fp__ts_cast_string(fp__fmt fmt, const char *s, size_t n);

typedef enum fp__jtype { FP__J_NONE = 0, FP__J_OBJECT, FP__J_ARRAY, FP__J_OTHER } fp__jtype;
/* Validates s as one JSON text as Python's json.loads reads it (NaN/Infinity allowed,
 * nesting bounded); *type is the top-level kind and *count its number of members/items. */
bool fp__ts_json_check(const char *s, size_t n, fp__jtype *type, size_t *count);
bool fp__ts_cast_geojson(fp__fmt fmt, const char *s, size_t n);
bool fp__ts_cast_geopoint(fp__fmt fmt, const char *s, size_t n, double *lon, double *lat);

/* Number of UTF-8 characters (bytes that are not continuation bytes). */
size_t fp__ts_utf8_len(const char *s, size_t n);

#endif
