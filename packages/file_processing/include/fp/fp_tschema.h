/* fp_tschema.h — Frictionless Table Schema fields: the field model, cell casting and
 * constraint checks, with Frictionless semantics (frictionless-py 5.x, Table Schema v1
 * plus the v2 additions we honour: fieldsMatch, field-level missingValues).
 *
 * Casting is pure and allocation-free: a cell (bytes, not NUL-terminated) becomes an
 * fp_value or is rejected (a type-error). Constraints are checked on cast values.
 * Compiled state (PCRE2 patterns, parsed bounds) lives in the field after
 * fp_field_compile; a compiled field is immutable and safe to share between threads. */
#ifndef FP_TSCHEMA_H
#define FP_TSCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fp/fp_err.h"

typedef enum fp_ftype {
  FP_FT_ANY = 0,
  FP_FT_STRING,
  FP_FT_INTEGER,
  FP_FT_NUMBER,
  FP_FT_BOOLEAN,
  FP_FT_DATE,
  FP_FT_TIME,
  FP_FT_DATETIME,
  FP_FT_YEAR,
  FP_FT_YEARMONTH,
  FP_FT_DURATION,
  FP_FT_OBJECT,   /* JSON object text */
  FP_FT_ARRAY,    /* JSON array text */
  FP_FT_GEOPOINT, /* "lon, lat" | [lon, lat] | {"lon":..,"lat":..} per format */
  FP_FT_GEOJSON,
  FP_FT__COUNT
} fp_ftype;

const char *fp_ftype_name(fp_ftype t);           /* "integer" ... */
bool fp_ftype_parse(const char *name, fp_ftype *out); /* false for unknown names */

/* A cast value. Text-like types keep a view of the cell. */
typedef struct fp_value {
  fp_ftype type;
  union {
    int64_t i;     /* integer, year */
    double n;      /* number */
    bool b;        /* boolean */
    struct { int32_t y, m, d; } date;              /* date, yearmonth (d = 1) */
    struct { int64_t secs; int32_t nanos; int32_t tz_offset_min; bool has_tz; } dt; /* datetime: secs since epoch (UTC when has_tz, else naive); time: secs since midnight */
    struct { int64_t months; double seconds; } dur; /* duration */
    struct { double lon, lat; } geo;
  } u;
  const char *text; /* the cell's bytes (borrowed; string/any/object/array/geojson) */
  size_t text_len;
} fp_value;

/* A schema field. Strings are owned by the field (free with fp_field_clear). */
typedef struct fp_field {
  char *name;
  fp_ftype type;
  char *format;        /* NULL = "default"; strings: email|uri|uuid|binary; dates: "any" or an
                          strptime-style pattern ("%d/%m/%Y") */
  char *title, *description; /* informational, may be NULL */
  /* number/integer options */
  char decimal_char;   /* default '.' */
  char group_char;     /* 0 = none */
  bool bare_number;    /* default true; false allows leading/trailing non-digits like "$" / "%" */
  /* boolean options: NULL = Frictionless defaults ("true","True","TRUE","1" / "false",...) */
  char **true_values; size_t ntrue;
  char **false_values; size_t nfalse;
  /* field-level missing values; NULL = inherit the schema's */
  char **missing_values; size_t nmissing; bool has_missing_values;
  /* constraints (Table Schema "constraints") */
  bool required, unique;
  char *minimum, *maximum; /* as written in the schema (NULL = none), cast at compile */
  char *exclusive_minimum, *exclusive_maximum;
  int64_t min_length, max_length; /* -1 = none */
  char *pattern;        /* PCRE2, anchored at both ends as Table Schema requires */
  char **enum_values; size_t nenum; /* as text; each cast with the field's type at compile */
  void *compiled;       /* private; set by fp_field_compile */
} fp_field;

void fp_field_init(fp_field *f);   /* zero + defaults (decimal '.', bare_number, -1 lengths) */
void fp_field_clear(fp_field *f);  /* frees owned members; NULL-safe */

/* Validates options and compiles constraints (pattern, bounds, enum cast with the field's
 * type). A bad pattern or a bound that is not a valid value of the type is
 * FP_ERR_CONTRACT naming the field and the constraint. */
fp_err fp_field_compile(fp_field *f, fp_diag *d);

/* Casts one non-missing cell. Returns true and fills out when the cell is a valid value of
 * the field's type and format; false means a type-error. Does not allocate. */
bool fp_field_cast(const fp_field *f, const char *cell, size_t len, fp_value *out);

/* Which constraint failed, for the finding's note. */
typedef enum fp_constraint {
  FP_CONSTRAINT_NONE = 0,
  FP_CONSTRAINT_REQUIRED,
  FP_CONSTRAINT_MINIMUM,
  FP_CONSTRAINT_MAXIMUM,
  FP_CONSTRAINT_EXCLUSIVE_MINIMUM,
  FP_CONSTRAINT_EXCLUSIVE_MAXIMUM,
  FP_CONSTRAINT_MIN_LENGTH,
  FP_CONSTRAINT_MAX_LENGTH,
  FP_CONSTRAINT_PATTERN,
  FP_CONSTRAINT_ENUM,
  /* The pattern could not be decided within FP_PATTERN_MATCH_LIMIT backtracking steps (a
   * catastrophic pattern such as "(a+)+$" on a long cell): reported as a constraint-error
   * whose note says so, never silently as pass or plain mismatch. */
  FP_CONSTRAINT_PATTERN_LIMIT,
} fp_constraint;

/* PCRE2 match and depth limits for "pattern" constraints. PCRE2's own defaults (10 million
 * steps) let one cell of a catastrophic pattern burn ~20 ms of CPU, so a file of such cells
 * stalls a worker for hours; these bound one cell to well under a millisecond. */
#define FP_PATTERN_MATCH_LIMIT 100000u
#define FP_PATTERN_DEPTH_LIMIT 10000u

/* Checks value constraints (not required/unique, which need the missing/row context) on a
 * value fp_field_cast produced from cell. Returns FP_CONSTRAINT_NONE when all hold. Writes a
 * Frictionless-style note ("constraint \"maximum\" is \"100\"") into note when not NULL. */
fp_constraint fp_field_check(const fp_field *f, const fp_value *v, const char *cell, size_t len,
                             char *note, size_t notesz);
/* Every failing value constraint as bits (1u << fp_constraint), for callers that report one
 * finding per failed constraint as Frictionless does (fp_field_check returns the first, in
 * the order minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength,
 * pattern, enum, pattern limit). Allocation-free like fp_field_check (once
 * fp_field_thread_ready said yes). */
uint32_t fp_field_check_all(const fp_field *f, const fp_value *v, const char *cell, size_t len);
/* Pattern constraints match with a PCRE2 match data of the calling thread, created on its
 * first use. Call this on the checking thread before checking values of f: FP_OK when f
 * has no pattern or the thread's match data exists (one thread-local load), FP_ERR_NOMEM
 * when it cannot be created. Without it, a thread that could not get its match data would
 * report every value as failing the pattern. */
fp_err fp_field_thread_ready(const fp_field *f, fp_diag *d);
/* The Frictionless note for constraint k of f ("constraint \"enum\" is \"['M', 'F']\"");
 * snprintf-style: returns the full length, writes at most notesz - 1 bytes plus a NUL. */
size_t fp_constraint_note(const fp_field *f, fp_constraint k, char *note, size_t notesz);

/* Canonical text of a value (ISO dates, shortest round-trip numbers, "true"/"false");
 * used by tests and by the uniqueness check so "1.0" and "1" collide for numbers. */
size_t fp_value_format(const fp_value *v, char *out, size_t outsz);
/* Total order within one type; -2 when the types are not comparable. */
int fp_value_cmp(const fp_value *a, const fp_value *b);

#endif
