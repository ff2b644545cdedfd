/* tschema.c — Table Schema fields: type names, field lifecycle, compiling constraints
 * (bounds and enum cast in the field's type, PCRE2 patterns), the per-cell cast dispatch,
 * constraint checks with Frictionless notes, and the canonical text / total order of cast
 * values. Casting back-ends live in tschema_num.c, tschema_time.c, tschema_any.c and
 * tschema_text.c.
 *
 * Threads: a compiled field is immutable. Pattern matching needs a pcre2_match_data; each
 * thread keeps one (created on its first match, freed by a pthread key destructor when the
 * thread exits), so fp_field_check neither locks nor allocates per call (a match data per
 * call cost ~30 ns more per match, measured). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quality/tschema_int.h"

/* ---- type names ------------------------------------------------------------------------- */

static const char *const TYPE_NAMES[FP_FT__COUNT] = {
    "any",  "string",    "integer",  "number", "boolean", "date",    "time",    "datetime",
    "year", "yearmonth", "duration", "object", "array",   "geopoint", "geojson"};

const char *fp_ftype_name(fp_ftype t) {
  return (unsigned)t < FP_FT__COUNT ? TYPE_NAMES[t] : "unknown";
}

bool fp_ftype_parse(const char *name, fp_ftype *out) {
  if (!name) return false;
  for (int t = 0; t < FP_FT__COUNT; t++)
    if (!strcmp(name, TYPE_NAMES[t])) {
      *out = (fp_ftype)t;
      return true;
    }
  return false;
}

/* ---- lifecycle --------------------------------------------------------------------------- */

void fp_field_init(fp_field *f) {
  memset(f, 0, sizeof *f);
  f->type = FP_FT_STRING;
  f->decimal_char = '.';
  f->bare_number = true;
  f->min_length = f->max_length = -1;
}

static void free_strv(char **v, size_t n) {
  if (!v) return;
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

static void compiled_free(fp__tsc *c) {
  if (!c) return;
  if (c->re) pcre2_code_free((pcre2_code *)c->re);
  if (c->mctx) pcre2_match_context_free((pcre2_match_context *)c->mctx);
  free(c->enums);
  free(c);
}

void fp_field_clear(fp_field *f) {
  if (!f) return;
  free(f->name);
  free(f->format);
  free(f->title);
  free(f->description);
  free_strv(f->true_values, f->ntrue);
  free_strv(f->false_values, f->nfalse);
  free_strv(f->missing_values, f->nmissing);
  free(f->minimum);
  free(f->maximum);
  free(f->exclusive_minimum);
  free(f->exclusive_maximum);
  free(f->pattern);
  free_strv(f->enum_values, f->nenum);
  compiled_free(f->compiled);
  fp_field_init(f);
}

/* ---- formats ----------------------------------------------------------------------------- */

fp__fmt fp__ts_fmt_kind(fp_ftype t, const char *format, const char **pattern) {
  *pattern = NULL;
  if (format && !strncmp(format, "fmt:", 4)) format += 4; /* Table Schema v1 prefix */
  bool dflt = !format || !strcmp(format, "default");
  switch (t) {
    case FP_FT_STRING:
      if (dflt) return FP__FMT_DEFAULT;
      if (!strcmp(format, "email")) return FP__FMT_EMAIL;
      if (!strcmp(format, "uri")) return FP__FMT_URI;
      if (!strcmp(format, "uuid")) return FP__FMT_UUID;
      if (!strcmp(format, "binary")) return FP__FMT_BINARY;
      return FP__FMT_BAD;
    case FP_FT_DATE:
    case FP_FT_TIME:
    case FP_FT_DATETIME:
      if (dflt) return FP__FMT_DEFAULT;
      if (!strcmp(format, "any")) return FP__FMT_ANY;
      *pattern = format;
      return FP__FMT_PATTERN;
    case FP_FT_GEOPOINT:
      if (dflt) return FP__FMT_DEFAULT;
      if (!strcmp(format, "array")) return FP__FMT_ARRAY;
      if (!strcmp(format, "object")) return FP__FMT_OBJECT;
      return FP__FMT_BAD;
    case FP_FT_GEOJSON:
      if (dflt) return FP__FMT_DEFAULT;
      if (!strcmp(format, "topojson")) return FP__FMT_TOPOJSON;
      return FP__FMT_BAD;
    default: return FP__FMT_DEFAULT; /* Frictionless ignores other types' formats */
  }
}

/* ---- casting ------------------------------------------------------------------------------- */

static const char *const DEFAULT_TRUE[] = {"true", "True", "TRUE", "1"};
static const char *const DEFAULT_FALSE[] = {"false", "False", "FALSE", "0"};

static bool in_values(char *const *v, size_t nv, const char *const *dflt, const char *s,
                      size_t n) {
  if (!v) {
    for (int i = 0; i < 4; i++)
      if (strlen(dflt[i]) == n && !memcmp(dflt[i], s, n)) return true;
    return false;
  }
  for (size_t i = 0; i < nv; i++)
    if (v[i] && strlen(v[i]) == n && !memcmp(v[i], s, n)) return true;
  return false;
}

static bool cast_boolean(const fp_field *f, const char *s, size_t n, bool *out) {
  if (in_values(f->true_values, f->ntrue, DEFAULT_TRUE, s, n)) return *out = true, true;
  if (in_values(f->false_values, f->nfalse, DEFAULT_FALSE, s, n)) return *out = false, true;
  return false;
}

static bool cast_with(const fp_field *f, fp__fmt fmt, const char *pattern, const char *s,
                      size_t n, fp_value *out) {
  memset(&out->u, 0, sizeof out->u);
  out->type = f->type;
  out->text = s;
  out->text_len = n;
  switch (f->type) {
    /* hot paths first: each back-end starts with its own fast path */
    case FP_FT_INTEGER: return fp__ts_cast_integer(f, s, n, &out->u.i);
    case FP_FT_NUMBER: return fp__ts_cast_number(f, s, n, &out->u.n);
    case FP_FT_STRING: return fp__ts_cast_string(fmt, s, n);
    case FP_FT_DATE:
    case FP_FT_TIME:
    case FP_FT_DATETIME: return fp__ts_cast_temporal(f->type, fmt, pattern, s, n, out);
    case FP_FT_BOOLEAN: return cast_boolean(f, s, n, &out->u.b);
    case FP_FT_ANY: return true;
    case FP_FT_YEAR: return fp__ts_cast_year(s, n, &out->u.i);
    case FP_FT_YEARMONTH:
      out->u.date.d = 1;
      return fp__ts_cast_yearmonth(s, n, &out->u.date.y, &out->u.date.m);
    case FP_FT_DURATION: return fp__ts_cast_duration(s, n, &out->u.dur.months, &out->u.dur.seconds);
    case FP_FT_OBJECT:
    case FP_FT_ARRAY: {
      fp__jtype jt;
      size_t cnt;
      if (!fp__ts_json_check(s, n, &jt, &cnt)) return false;
      return jt == (f->type == FP_FT_OBJECT ? FP__J_OBJECT : FP__J_ARRAY);
    }
    case FP_FT_GEOPOINT: return fp__ts_cast_geopoint(fmt, s, n, &out->u.geo.lon, &out->u.geo.lat);
    case FP_FT_GEOJSON: return fp__ts_cast_geojson(fmt, s, n);
    default: return false;
  }
}

bool fp_field_cast(const fp_field *f, const char *cell, size_t len, fp_value *out) {
  const fp__tsc *c = f->compiled;
  if (c) return cast_with(f, c->fmt, c->pattern_fmt, cell, len, out);
  const char *pattern;
  fp__fmt fmt = fp__ts_fmt_kind(f->type, f->format, &pattern);
  if (fmt == FP__FMT_PATTERN && fp__ts_pattern_problem(pattern)) return false;
  return cast_with(f, fmt, pattern, cell, len, out);
}

/* ---- compile -------------------------------------------------------------------------------- */

static bool orderable(fp_ftype t) {
  switch (t) {
    case FP_FT_INTEGER:
    case FP_FT_NUMBER:
    case FP_FT_DATE:
    case FP_FT_TIME:
    case FP_FT_DATETIME:
    case FP_FT_YEAR:
    case FP_FT_YEARMONTH:
    case FP_FT_DURATION: return true;
    default: return false;
  }
}

static bool has_length(fp_ftype t) {
  return t == FP_FT_STRING || t == FP_FT_ARRAY || t == FP_FT_OBJECT;
}

/* A constraint value from the schema as a value of the field's type. The loader turns JSON
 * numbers and booleans into text, so besides the field's own syntax we take plain JSON
 * numbers for numeric types (Frictionless reads those natively, ignoring decimalChar and
 * friends), true/false for booleans, and ISO text for temporal fields with another format. */
static bool cast_bound(const fp_field *f, const fp__tsc *c, const char *text, fp_value *v) {
  size_t n = strlen(text);
  if (cast_with(f, c->fmt, c->pattern_fmt, text, n, v)) return true;
  memset(&v->u, 0, sizeof v->u);
  double d;
  switch (f->type) {
    case FP_FT_INTEGER:
    case FP_FT_YEAR:
      if (!fp__ts_py_decimal(text, n, &d) || !isfinite(d) || d != floor(d) || fabs(d) > 9.2e18)
        return false;
      if (f->type == FP_FT_YEAR && (d < 0 || d > 9999)) return false;
      v->u.i = (int64_t)d;
      return true;
    case FP_FT_NUMBER:
      if (!fp__ts_py_decimal(text, n, &d)) return false;
      v->u.n = d;
      return true;
    case FP_FT_BOOLEAN:
      if (!strcmp(text, "true") || !strcmp(text, "false")) return v->u.b = text[0] == 't', true;
      return false;
    case FP_FT_DATE:
    case FP_FT_TIME:
    case FP_FT_DATETIME:
      return c->fmt != FP__FMT_DEFAULT &&
             fp__ts_cast_temporal(f->type, FP__FMT_DEFAULT, NULL, text, n, v);
    default: return false;
  }
}

static const char *const CONSTRAINT_NAME[] = {
    "",          "required",  "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minLength", "maxLength", "pattern", "enum", "pattern"};

static fp_err unsupported(fp_diag *d, const fp_field *f, const char *fname, fp_constraint k) {
  return fp_diag_set(d, FP_ERR_CONTRACT,
                     "field \"%s\": constraint \"%s\" is not supported by type \"%s\"", fname,
                     CONSTRAINT_NAME[k], fp_ftype_name(f->type));
}

static fp_err compile_bound(fp_diag *d, const fp_field *f, const char *fname, fp__tsc *c,
                            fp_constraint k, const char *text, bool *has, fp_value *v) {
  if (!text) return FP_OK;
  if (!orderable(f->type)) return unsupported(d, f, fname, k);
  if (!cast_bound(f, c, text, v))
    return fp_diag_set(d, FP_ERR_CONTRACT,
                       "field \"%s\": constraint \"%s\" value \"%s\" is not a valid %s", fname,
                       CONSTRAINT_NAME[k], text, fp_ftype_name(f->type));
  *has = true;
  return FP_OK;
}

static fp_err compile_pattern(fp_diag *d, const fp_field *f, const char *fname, fp__tsc *c) {
  if (!f->pattern) return FP_OK;
  if (f->type != FP_FT_STRING) return unsupported(d, f, fname, FP_CONSTRAINT_PATTERN);
  int ec;
  PCRE2_SIZE off;
  /* Table Schema patterns match the whole value; UCP gives \d \w \s Python's Unicode sense */
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)f->pattern, PCRE2_ZERO_TERMINATED,
                                 PCRE2_UTF | PCRE2_UCP | PCRE2_ANCHORED | PCRE2_ENDANCHORED, &ec,
                                 &off, NULL);
  if (!re) {
    PCRE2_UCHAR msg[256];
    if (pcre2_get_error_message(ec, msg, sizeof msg) < 0) msg[0] = 0;
    if (ec == PCRE2_ERROR_NOMEMORY || ec == PCRE2_ERROR_HEAP_FAILED)
      return fp_diag_set(d, FP_ERR_NOMEM, "field \"%s\": compiling its pattern: out of memory",
                         fname);
    return fp_diag_set(d, FP_ERR_CONTRACT,
                       "field \"%s\": constraint \"pattern\" \"%s\" does not compile: %s at "
                       "offset %zu",
                       fname, f->pattern, (const char *)msg, (size_t)off);
  }
  c->jit = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0; /* else the interpreter */
  c->re = re;
  /* The match limits live in a context of the field's own, made here so that running out
   * of memory is a compile error and not a lasting state of the process; every checking
   * thread shares it (PCRE2 only reads a context during a match). */
  pcre2_match_context *mc = pcre2_match_context_create(NULL);
  if (!mc) return fp_diag_set(d, FP_ERR_NOMEM, "field \"%s\": compiling its pattern: out of memory", fname);
  pcre2_set_match_limit(mc, FP_PATTERN_MATCH_LIMIT);
  pcre2_set_depth_limit(mc, FP_PATTERN_DEPTH_LIMIT);
  c->mctx = mc;
  return FP_OK;
}

static fp_err compile_all(fp_field *f, fp_diag *d, const char *fname, fp__tsc *c) {
  fp_err e;
  if ((unsigned)f->type >= FP_FT__COUNT)
    return fp_diag_set(d, FP_ERR_CONTRACT, "field \"%s\": unknown type %d", fname, (int)f->type);
  c->fmt = fp__ts_fmt_kind(f->type, f->format, &c->pattern_fmt);
  if (c->fmt == FP__FMT_BAD)
    return fp_diag_set(d, FP_ERR_CONTRACT, "field \"%s\": format \"%s\" is not supported for type \"%s\"",
                       fname, f->format, fp_ftype_name(f->type));
  if (c->fmt == FP__FMT_PATTERN) {
    const char *why = fp__ts_pattern_problem(c->pattern_fmt);
    if (why)
      return fp_diag_set(d, FP_ERR_CONTRACT, "field \"%s\": format \"%s\": %s", fname, f->format,
                         why);
  }
  if (!f->decimal_char)
    return fp_diag_set(d, FP_ERR_CONTRACT, "field \"%s\": decimalChar must be one character",
                       fname);
  if (f->min_length < -1 || f->max_length < -1)
    return fp_diag_set(d, FP_ERR_CONTRACT, "field \"%s\": minLength/maxLength must be >= 0",
                       fname);
  if (f->min_length >= 0 && !has_length(f->type))
    return unsupported(d, f, fname, FP_CONSTRAINT_MIN_LENGTH);
  if (f->max_length >= 0 && !has_length(f->type))
    return unsupported(d, f, fname, FP_CONSTRAINT_MAX_LENGTH);
  if ((e = compile_bound(d, f, fname, c, FP_CONSTRAINT_MINIMUM, f->minimum, &c->has_min, &c->min)) ||
      (e = compile_bound(d, f, fname, c, FP_CONSTRAINT_MAXIMUM, f->maximum, &c->has_max, &c->max)) ||
      (e = compile_bound(d, f, fname, c, FP_CONSTRAINT_EXCLUSIVE_MINIMUM, f->exclusive_minimum,
                         &c->has_xmin, &c->xmin)) ||
      (e = compile_bound(d, f, fname, c, FP_CONSTRAINT_EXCLUSIVE_MAXIMUM, f->exclusive_maximum,
                         &c->has_xmax, &c->xmax)))
    return e;
  if ((e = compile_pattern(d, f, fname, c))) return e;
  if (f->enum_values && f->nenum) {
    c->enums = calloc(f->nenum, sizeof *c->enums);
    if (!c->enums) return fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < f->nenum; i++) {
      const char *t = f->enum_values[i] ? f->enum_values[i] : "";
      if (!cast_bound(f, c, t, &c->enums[i]))
        return fp_diag_set(d, FP_ERR_CONTRACT,
                           "field \"%s\": constraint \"enum\" value \"%s\" is not a valid %s",
                           fname, t, fp_ftype_name(f->type));
      c->nenum++;
    }
  }
  return FP_OK;
}

fp_err fp_field_compile(fp_field *f, fp_diag *d) {
  compiled_free(f->compiled);
  f->compiled = NULL;
  fp__tsc *c = calloc(1, sizeof *c);
  if (!c) return fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  const char *fname = f->name ? f->name : "";
  fp_err e = compile_all(f, d, fname, c);
  if (e) {
    compiled_free(c);
    return e;
  }
  f->compiled = c;
  return FP_OK;
}

/* ---- pattern matching ------------------------------------------------------------------------ */

static pthread_once_t g_md_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_md_key;
static bool g_md_key_ok;
static _Thread_local pcre2_match_data *t_md;

static void md_free(void *p) { pcre2_match_data_free((pcre2_match_data *)p); }
static void md_key_init(void) { g_md_key_ok = pthread_key_create(&g_md_key, md_free) == 0; }

/* This thread's match data (one ovector pair: we only ask whether the pattern matches). */
static pcre2_match_data *thread_match_data(void) {
  if (t_md) return t_md;
  pthread_once(&g_md_once, md_key_init);
  t_md = pcre2_match_data_create(1, NULL);
  if (t_md && g_md_key_ok) pthread_setspecific(g_md_key, t_md);
  return t_md;
}

fp_err fp_field_thread_ready(const fp_field *f, fp_diag *d) {
  const fp__tsc *c = f ? f->compiled : NULL;
  if (!c || !c->re || thread_match_data()) return FP_OK;
  return fp_diag_set(d, FP_ERR_NOMEM, "field \"%s\": out of memory for pattern matching",
                     f->name);
}

/* Well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF); ASCII runs are
 * skipped 8 bytes at a time. */
static bool utf8_valid(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    if (i + 8 <= n) {
      uint64_t x;
      memcpy(&x, s + i, 8);
      if (!(x & 0x8080808080808080ull)) {
        i += 8;
        continue;
      }
    }
    unsigned char c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t k;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) k = 1, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) k = 2, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) k = 3, cp = c & 0x07;
    else return false;
    if (n - i <= k) return false;
    for (size_t j = 1; j <= k; j++) {
      if ((s[i + j] & 0xC0) != 0x80) return false;
      cp = cp << 6 | (s[i + j] & 0x3F);
    }
    if ((k == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
      return false;
    i += k + 1;
  }
  return true;
}

/* 1 the whole cell matches, 0 it does not, -1 PCRE2 gave up (match/depth/heap limit). */
static int pattern_matches(const fp__tsc *c, const char *s, size_t n) {
  /* Python matched decoded text; bytes that are not UTF-8 never match. Checking here lets
   * the match skip PCRE2's own check: pcre2_jit_match is about twice as fast as
   * pcre2_match (measured 46 vs 105 ns on a 10-byte cell). */
  if (!utf8_valid((const unsigned char *)s, n)) return 0;
  pcre2_match_data *md = thread_match_data();
  if (!md) return false; /* callers ran fp_field_thread_ready on this thread, which failed */
  const pcre2_code *re = (const pcre2_code *)c->re;
  pcre2_match_context *mc = (pcre2_match_context *)c->mctx;
  int rc = c->jit ? pcre2_jit_match(re, (PCRE2_SPTR)s, n, 0, 0, md, mc)
                  : pcre2_match(re, (PCRE2_SPTR)s, n, 0, PCRE2_NO_UTF_CHECK, md, mc);
  if (rc >= 0) return 1;
  return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

/* ---- checks --------------------------------------------------------------------------------- */

static bool value_is_nan(const fp_value *v) { return v->type == FP_FT_NUMBER && isnan(v->u.n); }

static int64_t value_length(const fp_field *f, const fp_value *v, const char *s, size_t n) {
  if (f->type == FP_FT_STRING) return (int64_t)fp__ts_utf8_len(s, n);
  fp__jtype jt;
  size_t cnt = 0;
  (void)v;
  if (!fp__ts_json_check(s, n, &jt, &cnt)) return 0;
  return (int64_t)cnt;
}

static bool enum_has(const fp__tsc *c, const fp_value *v) {
  if (value_is_nan(v)) return false; /* Decimal NaN equals nothing */
  for (size_t i = 0; i < c->nenum; i++) {
    const fp_value *e = &c->enums[i];
    switch (v->type) {
      case FP_FT_STRING:
      case FP_FT_ANY:
      case FP_FT_OBJECT:
      case FP_FT_ARRAY:
      case FP_FT_GEOJSON:
        if (e->text_len == v->text_len && !memcmp(e->text, v->text, v->text_len)) return true;
        break;
      default:
        if (fp_value_cmp(v, e) == 0) return true;
    }
  }
  return false;
}

/* Bit (1 << fp_constraint) for every failing value constraint. */
uint32_t fp_field_check_all(const fp_field *f, const fp_value *v, const char *cell, size_t len) {
  const fp__tsc *c = f->compiled;
  uint32_t m = 0;
  bool nan = value_is_nan(v);
  if (c && (c->has_min || c->has_max || c->has_xmin || c->has_xmax)) {
    int r;
    if (c->has_min && (nan || (r = fp_value_cmp(v, &c->min)) == -2 || r < 0))
      m |= 1u << FP_CONSTRAINT_MINIMUM;
    if (c->has_max && (nan || (r = fp_value_cmp(v, &c->max)) == -2 || r > 0))
      m |= 1u << FP_CONSTRAINT_MAXIMUM;
    if (c->has_xmin && (nan || (r = fp_value_cmp(v, &c->xmin)) == -2 || r <= 0))
      m |= 1u << FP_CONSTRAINT_EXCLUSIVE_MINIMUM;
    if (c->has_xmax && (nan || (r = fp_value_cmp(v, &c->xmax)) == -2 || r >= 0))
      m |= 1u << FP_CONSTRAINT_EXCLUSIVE_MAXIMUM;
  }
  if ((f->min_length >= 0 || f->max_length >= 0) && has_length(f->type)) {
    int64_t l = value_length(f, v, cell, len);
    if (f->min_length >= 0 && l < f->min_length) m |= 1u << FP_CONSTRAINT_MIN_LENGTH;
    if (f->max_length >= 0 && l > f->max_length) m |= 1u << FP_CONSTRAINT_MAX_LENGTH;
  }
  if (c && c->re) {
    int r = pattern_matches(c, cell, len);
    if (r == 0) m |= 1u << FP_CONSTRAINT_PATTERN;
    if (r < 0) m |= 1u << FP_CONSTRAINT_PATTERN_LIMIT;
  }
  if (c && c->enums && !enum_has(c, v)) m |= 1u << FP_CONSTRAINT_ENUM;
  return m;
}

/* ---- notes ---------------------------------------------------------------------------------- */

typedef struct wbuf {
  char *p;
  size_t cap, len; /* len counts everything, written or not */
} wbuf;

static void wput(wbuf *w, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++, w->len++)
    if (w->cap && w->len < w->cap - 1) w->p[w->len] = s[i];
}
static void wstr(wbuf *w, const char *s) { wput(w, s, strlen(s)); }
static void wend(wbuf *w) {
  if (w->cap) w->p[w->len < w->cap - 1 ? w->len : w->cap - 1] = '\0';
}

/* Python repr() of a str: single quotes unless it holds ' and no ". */
static void wrepr(wbuf *w, const char *s) {
  bool sq = strchr(s, '\''), dq = strchr(s, '"');
  char q = sq && !dq ? '"' : '\'';
  wput(w, &q, 1);
  for (const char *p = s; *p; p++) {
    unsigned char c = (unsigned char)*p;
    char esc[8];
    if (c == '\\') wstr(w, "\\\\");
    else if (c == (unsigned char)q) wput(w, "\\", 1), wput(w, p, 1);
    else if (c == '\n') wstr(w, "\\n");
    else if (c == '\r') wstr(w, "\\r");
    else if (c == '\t') wstr(w, "\\t");
    else if (c < 0x20 || c == 0x7F) snprintf(esc, sizeof esc, "\\x%02x", c), wstr(w, esc);
    else wput(w, p, 1);
  }
  wput(w, &q, 1);
}

static bool json_number_text(const char *s) {
  double d;
  if (!*s || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9'))) return false;
  for (const char *p = s; *p; p++)
    if (!strchr("0123456789.eE+-", *p)) return false;
  return fp__ts_py_decimal(s, strlen(s), &d);
}

/* The constraint's value as Frictionless prints it: str() of the descriptor value. */
static void write_constraint_value(wbuf *w, const fp_field *f, fp_constraint k) {
  char num[32];
  switch (k) {
    case FP_CONSTRAINT_MINIMUM: wstr(w, f->minimum ? f->minimum : ""); break;
    case FP_CONSTRAINT_MAXIMUM: wstr(w, f->maximum ? f->maximum : ""); break;
    case FP_CONSTRAINT_EXCLUSIVE_MINIMUM:
      wstr(w, f->exclusive_minimum ? f->exclusive_minimum : "");
      break;
    case FP_CONSTRAINT_EXCLUSIVE_MAXIMUM:
      wstr(w, f->exclusive_maximum ? f->exclusive_maximum : "");
      break;
    case FP_CONSTRAINT_MIN_LENGTH:
      snprintf(num, sizeof num, "%lld", (long long)f->min_length);
      wstr(w, num);
      break;
    case FP_CONSTRAINT_MAX_LENGTH:
      snprintf(num, sizeof num, "%lld", (long long)f->max_length);
      wstr(w, num);
      break;
    case FP_CONSTRAINT_PATTERN:
    case FP_CONSTRAINT_PATTERN_LIMIT: wstr(w, f->pattern ? f->pattern : ""); break;
    case FP_CONSTRAINT_ENUM: /* a Python list */
      wstr(w, "[");
      for (size_t i = 0; i < f->nenum; i++) {
        const char *t = f->enum_values[i] ? f->enum_values[i] : "";
        if (i) wstr(w, ", ");
        bool numeric = f->type == FP_FT_INTEGER || f->type == FP_FT_NUMBER || f->type == FP_FT_YEAR;
        if (numeric && json_number_text(t)) wstr(w, t);
        else if (f->type == FP_FT_BOOLEAN && !strcmp(t, "true")) wstr(w, "True");
        else if (f->type == FP_FT_BOOLEAN && !strcmp(t, "false")) wstr(w, "False");
        else wrepr(w, t);
      }
      wstr(w, "]");
      break;
    default: break;
  }
}

size_t fp_constraint_note(const fp_field *f, fp_constraint k, char *note, size_t notesz) {
  wbuf w = {note, notesz, 0};
  if ((unsigned)k > FP_CONSTRAINT_PATTERN_LIMIT || k == FP_CONSTRAINT_NONE) {
    wend(&w);
    return 0;
  }
  wstr(&w, "constraint \"");
  wstr(&w, CONSTRAINT_NAME[k]);
  wstr(&w, "\" is \"");
  if (k == FP_CONSTRAINT_REQUIRED) wstr(&w, f->required ? "True" : "False");
  else write_constraint_value(&w, f, k);
  wstr(&w, "\"");
  if (k == FP_CONSTRAINT_PATTERN_LIMIT) {
    char num[32];
    snprintf(num, sizeof num, "%u", FP_PATTERN_MATCH_LIMIT);
    wstr(&w, " but the value could not be checked: PCRE2 match limit (");
    wstr(&w, num);
    wstr(&w, " steps) exceeded");
  }
  wend(&w);
  return w.len;
}

fp_constraint fp_field_check(const fp_field *f, const fp_value *v, const char *cell, size_t len,
                             char *note, size_t notesz) {
  uint32_t m = fp_field_check_all(f, v, cell, len);
  if (!m) {
    if (note && notesz) note[0] = '\0';
    return FP_CONSTRAINT_NONE;
  }
  fp_constraint k = FP_CONSTRAINT_MINIMUM;
  while (!(m & (1u << k))) k++;
  if (note) fp_constraint_note(f, k, note, notesz);
  return k;
}

/* ---- canonical text ------------------------------------------------------------------------- */

static void wfmt(wbuf *w, const char *fmt, long long a, long long b, long long c) {
  char tmp[64];
  snprintf(tmp, sizeof tmp, fmt, a, b, c);
  wstr(w, tmp);
}

static void wdouble(wbuf *w, double d) {
  char tmp[40];
  fp__ts_fmt_double(d, tmp, sizeof tmp);
  wstr(w, tmp);
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

static void wclock(wbuf *w, int64_t secs_of_day, int32_t nanos) {
  wfmt(w, "%02lld:%02lld:%02lld", secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60);
  if (nanos) {
    if (nanos % 1000 == 0) wfmt(w, ".%06lld", nanos / 1000, 0, 0);
    else wfmt(w, ".%09lld", nanos, 0, 0);
  }
}

static void wtz(wbuf *w, int32_t off_min) {
  int32_t a = off_min < 0 ? -off_min : off_min;
  wstr(w, off_min < 0 ? "-" : "+");
  wfmt(w, "%02lld:%02lld", a / 60, a % 60, 0);
}

static void wduration(wbuf *w, int64_t months, double seconds) {
  if (months == 0 && seconds == 0) {
    wstr(w, "PT0S");
    return;
  }
  if (months < 0 || seconds < 0) {
    wstr(w, "-");
    months = months < 0 ? -months : months;
    seconds = fabs(seconds);
  }
  wstr(w, "P");
  if (months / 12) wfmt(w, "%lldY", months / 12, 0, 0);
  if (months % 12) wfmt(w, "%lldM", months % 12, 0, 0);
  double whole = floor(seconds);
  int64_t s = (int64_t)whole;
  double frac = seconds - whole;
  int64_t days = s / 86400, h = s / 3600 % 24, mi = s / 60 % 60, ss = s % 60;
  if (days) wfmt(w, "%lldD", days, 0, 0);
  if (h || mi || ss || frac > 0) {
    wstr(w, "T");
    if (h) wfmt(w, "%lldH", h, 0, 0);
    if (mi) wfmt(w, "%lldM", mi, 0, 0);
    if (ss || frac > 0) {
      wdouble(w, (double)ss + frac);
      wstr(w, "S");
    }
  }
}

size_t fp_value_format(const fp_value *v, char *out, size_t outsz) {
  wbuf w = {out, outsz, 0};
  switch (v->type) {
    case FP_FT_INTEGER:
    case FP_FT_YEAR: wfmt(&w, "%lld", (long long)v->u.i, 0, 0); break;
    case FP_FT_NUMBER: wdouble(&w, v->u.n); break;
    case FP_FT_BOOLEAN: wstr(&w, v->u.b ? "true" : "false"); break;
    case FP_FT_DATE:
      wfmt(&w, v->u.date.y < 0 ? "-%04lld-%02lld-%02lld" : "%04lld-%02lld-%02lld",
           v->u.date.y < 0 ? -(long long)v->u.date.y : v->u.date.y, v->u.date.m, v->u.date.d);
      break;
    case FP_FT_YEARMONTH:
      wfmt(&w, v->u.date.y < 0 ? "-%04lld-%02lld" : "%04lld-%02lld",
           v->u.date.y < 0 ? -(long long)v->u.date.y : v->u.date.y, v->u.date.m, 0);
      break;
    case FP_FT_TIME:
      wclock(&w, v->u.dt.secs, v->u.dt.nanos);
      if (v->u.dt.has_tz) wtz(&w, v->u.dt.tz_offset_min);
      break;
    case FP_FT_DATETIME: {
      int64_t local = v->u.dt.secs + (v->u.dt.has_tz ? (int64_t)v->u.dt.tz_offset_min * 60 : 0);
      int64_t days = floor_div(local, 86400);
      int32_t y, m, d;
      fp__ts_civil_from_days(days, &y, &m, &d);
      wfmt(&w, "%04lld-%02lld-%02lld", y, m, d);
      wstr(&w, "T");
      wclock(&w, local - days * 86400, v->u.dt.nanos);
      if (v->u.dt.has_tz) wtz(&w, v->u.dt.tz_offset_min);
      break;
    }
    case FP_FT_DURATION: wduration(&w, v->u.dur.months, v->u.dur.seconds); break;
    case FP_FT_GEOPOINT:
      wdouble(&w, v->u.geo.lon);
      wstr(&w, ",");
      wdouble(&w, v->u.geo.lat);
      break;
    default: wput(&w, v->text ? v->text : "", v->text ? v->text_len : 0); break;
  }
  wend(&w);
  return w.len;
}

/* ---- order ------------------------------------------------------------------------------------ */

#define CMP(a, b) ((a) < (b) ? -1 : (a) > (b) ? 1 : 0)

static int cmp_double(double a, double b) {
  if (isnan(a) || isnan(b)) return isnan(a) && isnan(b) ? 0 : isnan(a) ? 1 : -1;
  return CMP(a, b);
}

int fp_value_cmp(const fp_value *a, const fp_value *b) {
  if (a->type != b->type) return -2;
  int r;
  switch (a->type) {
    case FP_FT_INTEGER:
    case FP_FT_YEAR: return CMP(a->u.i, b->u.i);
    case FP_FT_NUMBER: return cmp_double(a->u.n, b->u.n);
    case FP_FT_BOOLEAN: return CMP(a->u.b, b->u.b);
    case FP_FT_DATE:
    case FP_FT_YEARMONTH:
      if ((r = CMP(a->u.date.y, b->u.date.y))) return r;
      if ((r = CMP(a->u.date.m, b->u.date.m))) return r;
      return CMP(a->u.date.d, b->u.date.d);
    case FP_FT_TIME:
    case FP_FT_DATETIME: {
      if (a->u.dt.has_tz != b->u.dt.has_tz) return -2; /* naive vs aware: Python refuses */
      int64_t x = a->u.dt.secs, y = b->u.dt.secs;
      if (a->type == FP_FT_TIME && a->u.dt.has_tz)
        x -= (int64_t)a->u.dt.tz_offset_min * 60, y -= (int64_t)b->u.dt.tz_offset_min * 60;
      if ((r = CMP(x, y))) return r;
      return CMP(a->u.dt.nanos, b->u.dt.nanos);
    }
    case FP_FT_DURATION:
      if ((r = CMP(a->u.dur.months, b->u.dur.months))) return r;
      return cmp_double(a->u.dur.seconds, b->u.dur.seconds);
    case FP_FT_GEOPOINT:
      if ((r = cmp_double(a->u.geo.lon, b->u.geo.lon))) return r;
      return cmp_double(a->u.geo.lat, b->u.geo.lat);
    default: {
      size_t n = a->text_len < b->text_len ? a->text_len : b->text_len;
      r = n ? memcmp(a->text, b->text, n) : 0;
      if (r) return r < 0 ? -1 : 1;
      return CMP(a->text_len, b->text_len);
    }
  }
}
