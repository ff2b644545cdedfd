/* contract_parse.c — the meaning of a contract: the document tree of contract_yaml.c /
 * contract_json.c is checked key by key into an fp_contract (docs/contracts.md), and every
 * field is compiled with fp_field_compile. Anything unexpected — an unknown key, a value of
 * the wrong type, a bad glob, a field that does not compile — is FP_ERR_CONTRACT with
 * "line N: key.path: what was expected, got what". Key paths count fields from 0. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp/fp_contract.h"
#include "quality/contract_int.h"

#define PATH_MAX_TEXT 256
#define PK_MAX 64              /* fields in a primaryKey */
#define SAMPLE_CAP_MAX 1000000 /* checks.sampleCap */

typedef struct lctx {
  fp_diag *d;
} lctx;

/* ---- errors -------------------------------------------------------------------------- */

static fp_err bad(lctx *x, uint32_t line, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static fp_err bad(lctx *x, uint32_t line, const char *path, const char *fmt, ...) {
  char what[FP_DIAG_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  if (line) return fp_diag_set(x->d, FP_ERR_CONTRACT, "line %u: %s: %s", line, path, what);
  return fp_diag_set(x->d, FP_ERR_CONTRACT, "%s: %s", path, what);
}

static fp_err nomem(lctx *x) {
  return fp_diag_set(x->d, FP_ERR_NOMEM, "out of memory");
}

/* "a string (\"abc\")", "an integer (3)", "a list", ... for "got ..." in messages. */
static const char *describe(const fp__cnode *n, char *buf, size_t sz) {
  switch (n->kind) {
    case FP__CN_NULL: return "null (an empty value)";
    case FP__CN_BOOL: return n->b ? "a boolean (true)" : "a boolean (false)";
    case FP__CN_INT: snprintf(buf, sz, "an integer (%lld)", (long long)n->i); return buf;
    case FP__CN_FLOAT: snprintf(buf, sz, "a number (%g)", n->f); return buf;
    case FP__CN_STR:
      snprintf(buf, sz, "a string (\"%.60s%s\")", n->str, n->len > 60 ? "..." : "");
      return buf;
    case FP__CN_SEQ: return "a list";
    default: return "a mapping";
  }
}

static fp_err wrong_type(lctx *x, uint32_t line, const char *path, const fp__cnode *n,
                         const char *expected) {
  char buf[128];
  const char *hint = (n->kind == FP__CN_INT || n->kind == FP__CN_FLOAT || n->kind == FP__CN_BOOL) &&
                             !strncmp(expected, "a string", 8)
                         ? " (quote it to make it a string)"
                         : "";
  return bad(x, line, path, "expected %s, got %s%s", expected, describe(n, buf, sizeof buf), hint);
}

/* ---- paths --------------------------------------------------------------------------- */

/* Key paths are cut at PATH_MAX_TEXT - 1 bytes; they name a location, nothing relies on
 * them being whole. */
static void path_cat(char *out, size_t used, const char *s) {
  while (*s && used + 1 < PATH_MAX_TEXT) out[used++] = *s++;
  out[used] = '\0';
}

static void path_key(char *out, const char *parent, const char *key) {
  char tmp[PATH_MAX_TEXT];
  path_cat(tmp, 0, parent);
  if (*parent) path_cat(tmp, strlen(tmp), ".");
  path_cat(tmp, strlen(tmp), key);
  memcpy(out, tmp, strlen(tmp) + 1);
}

static void path_idx(char *out, const char *parent, size_t i) {
  char tmp[PATH_MAX_TEXT], num[24];
  int w = snprintf(num, sizeof num, "[%zu]", i);
  if (w < 0) num[0] = '\0';
  path_cat(tmp, 0, parent);
  path_cat(tmp, strlen(tmp), num);
  memcpy(out, tmp, strlen(tmp) + 1);
}

/* ---- typed getters ------------------------------------------------------------------- */

static fp_err get_string(lctx *x, const fp__cnode *n, uint32_t line, const char *path,
                         bool allow_empty, char **out) {
  if (n->kind != FP__CN_STR) return wrong_type(x, line, path, n, "a string");
  if (!allow_empty && !n->len) return bad(x, line, path, "expected a non-empty string");
  *out = strdup(n->str);
  return *out ? FP_OK : nomem(x);
}

static fp_err get_bool(lctx *x, const fp__cnode *n, uint32_t line, const char *path, bool *out) {
  if (n->kind != FP__CN_BOOL) return wrong_type(x, line, path, n, "a boolean (true or false)");
  *out = n->b;
  return FP_OK;
}

static fp_err get_int(lctx *x, const fp__cnode *n, uint32_t line, const char *path, int64_t lo,
                      int64_t hi, int64_t *out) {
  if (n->kind != FP__CN_INT) {
    char what[96];
    snprintf(what, sizeof what, "an integer from %lld to %lld", (long long)lo, (long long)hi);
    return wrong_type(x, line, path, n, what);
  }
  if (n->i < lo || n->i > hi)
    return bad(x, line, path, "expected an integer from %lld to %lld, got %lld", (long long)lo,
               (long long)hi, (long long)n->i);
  *out = n->i;
  return FP_OK;
}

/* A one-byte character. allow_none: "" and null mean "none" (0). */
static fp_err get_char(lctx *x, const fp__cnode *n, uint32_t line, const char *path,
                       bool allow_none, char *out) {
  if (allow_none && (n->kind == FP__CN_NULL || (n->kind == FP__CN_STR && !n->len))) {
    *out = 0;
    return FP_OK;
  }
  const char *want =
      allow_none ? "a one-character string (or \"\" / null for none)" : "a one-character string";
  if (n->kind != FP__CN_STR) return wrong_type(x, line, path, n, want);
  if (n->len != 1 || (unsigned char)n->str[0] >= 0x80) {
    char buf[128];
    return bad(x, line, path, "expected %s (a single ASCII character), got %s", want,
               describe(n, buf, sizeof buf));
  }
  *out = n->str[0];
  return FP_OK;
}

static fp_err get_choice(lctx *x, const fp__cnode *n, uint32_t line, const char *path,
                         const char *const *names, int *out) {
  char list[256] = "";
  size_t used = 0;
  for (int i = 0; names[i]; i++) {
    if (n->kind == FP__CN_STR && !strcmp(n->str, names[i])) {
      *out = i;
      return FP_OK;
    }
    int w = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", names[i]);
    if (w > 0 && (size_t)w < sizeof list - used) used += (size_t)w;
  }
  char buf[128];
  return bad(x, line, path, "expected one of %s, got %s", list, describe(n, buf, sizeof buf));
}

void fp__strv_free(char **v, size_t n) {
  if (!v) return;
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

/* A list of strings ("" allowed). */
static fp_err get_string_list(lctx *x, const fp__cnode *n, uint32_t line, const char *path,
                              char ***out, size_t *count) {
  if (n->kind != FP__CN_SEQ) return wrong_type(x, line, path, n, "a list of strings");
  char **v = calloc(n->n ? n->n : 1, sizeof *v);
  if (!v) return nomem(x);
  fp_err e = FP_OK;
  for (size_t i = 0; i < n->n && !e; i++) {
    char p[PATH_MAX_TEXT];
    path_idx(p, path, i);
    e = get_string(x, n->items[i], n->items[i]->line, p, true, &v[i]);
  }
  if (e) {
    fp__strv_free(v, n->n);
    return e;
  }
  *out = v;
  *count = n->n;
  return FP_OK;
}

/* Shortest text that reads back as the same double; integral values without exponent. */
static void format_double(double v, char *out, size_t sz) {
  if (isnan(v)) {
    snprintf(out, sz, "NaN");
  } else if (isinf(v)) {
    snprintf(out, sz, v < 0 ? "-INF" : "INF");
  } else if (v == floor(v) && fabs(v) < 9007199254740992.0) {
    snprintf(out, sz, "%.0f", v == 0 ? 0.0 : v);
  } else {
    for (int prec = 1; prec <= 17; prec++) {
      snprintf(out, sz, "%.*g", prec, v);
      if (strtod(out, NULL) == v) break;
    }
  }
}

/* A bound or enum value as text: numbers as their shortest text, strings as written,
 * booleans as true/false. */
static fp_err get_value_text(lctx *x, const fp__cnode *n, uint32_t line, const char *path,
                             char **out) {
  char buf[64];
  const char *s;
  switch (n->kind) {
    case FP__CN_INT:
      snprintf(buf, sizeof buf, "%lld", (long long)n->i);
      s = buf;
      break;
    case FP__CN_FLOAT:
      format_double(n->f, buf, sizeof buf);
      s = buf;
      break;
    case FP__CN_BOOL: s = n->b ? "true" : "false"; break;
    case FP__CN_STR: s = n->str; break;
    default: return wrong_type(x, line, path, n, "a number or a string");
  }
  *out = strdup(s);
  return *out ? FP_OK : nomem(x);
}

static bool in_list(const char *s, const char *const *list) {
  for (; *list; list++)
    if (!strcmp(s, *list)) return true;
  return false;
}

/* Edit distance (Levenshtein) of the first 63 bytes of a and b; for "did you mean". */
static size_t edit_distance(const char *a, const char *b) {
  size_t na = strnlen(a, 63), nb = strnlen(b, 63), row[64];
  for (size_t j = 0; j <= nb; j++) row[j] = j;
  for (size_t i = 1; i <= na; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= nb; j++) {
      size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      diag = up;
      row[j] = best;
    }
  }
  return row[nb];
}

/* The allowed key closest to key when it is a plausible typo (distance <= 2), else NULL. */
static const char *closest(const char *key, const char *const *allowed) {
  const char *best = NULL;
  size_t bd = 3;
  for (; *allowed; allowed++) {
    size_t dist = edit_distance(key, *allowed);
    if (dist < bd) bd = dist, best = *allowed;
  }
  return best;
}

/* Every key of map must be in allowed; keys in unsupported get a clearer message. */
static fp_err check_keys(lctx *x, const fp__cnode *map, const char *path,
                         const char *const *allowed, const char *const *unsupported,
                         const char *what) {
  for (size_t i = 0; i < map->n; i++) {
    if (in_list(map->keys[i], allowed)) continue;
    char p[PATH_MAX_TEXT], list[512] = "";
    path_key(p, path, map->keys[i]);
    if (unsupported && in_list(map->keys[i], unsupported))
      return bad(x, map->key_lines[i], p, "%s \"%s\" is not supported", what, map->keys[i]);
    size_t used = 0;
    for (size_t k = 0; allowed[k]; k++) {
      int w = snprintf(list + used, sizeof list - used, "%s%s", k ? ", " : "", allowed[k]);
      if (w > 0 && (size_t)w < sizeof list - used) used += (size_t)w;
    }
    const char *guess = closest(map->keys[i], allowed);
    if (guess)
      return bad(x, map->key_lines[i], p, "unknown key; did you mean \"%s\"? (allowed %s keys: %s)",
                 guess, what, list);
    return bad(x, map->key_lines[i], p, "unknown key (allowed %s keys: %s)", what, list);
  }
  return FP_OK;
}

static fp_err want_map(lctx *x, const fp__cnode *n, uint32_t line, const char *path) {
  return n->kind == FP__CN_MAP ? FP_OK : wrong_type(x, line, path, n, "a mapping");
}

/* ---- dialect ------------------------------------------------------------------------- */

static const char *const DIALECT_KEYS[] = {"delimiter",      "quoteChar", "doubleQuote",
                                           "escapeChar",     "header",    "skipInitialSpace",
                                           "lineTerminator", NULL};
static const char *const DIALECT_UNSUPPORTED[] = {
    "commentChar",    "nullSequence", "caseSensitiveHeader", "csvddfVersion",
    "headerRowCount", "headerJoin",   "commentRows",         NULL};

static fp_err parse_dialect(lctx *x, const fp__cnode *n, uint32_t line, fp_csv_dialect *dl) {
  fp_err e = want_map(x, n, line, "dialect");
  if (!e) e = check_keys(x, n, "dialect", DIALECT_KEYS, DIALECT_UNSUPPORTED, "CSV Dialect");
  if (e) return e;
  fp_csv_dialect_default(dl);
  for (size_t i = 0; i < n->n && !e; i++) {
    const char *k = n->keys[i];
    const fp__cnode *v = n->items[i];
    uint32_t kl = n->key_lines[i];
    char p[PATH_MAX_TEXT];
    path_key(p, "dialect", k);
    if (!strcmp(k, "delimiter"))
      e = get_char(x, v, kl, p, false, &dl->delimiter);
    else if (!strcmp(k, "quoteChar"))
      e = get_char(x, v, kl, p, true, &dl->quote_char);
    else if (!strcmp(k, "escapeChar"))
      e = get_char(x, v, kl, p, true, &dl->escape_char);
    else if (!strcmp(k, "doubleQuote"))
      e = get_bool(x, v, kl, p, &dl->double_quote);
    else if (!strcmp(k, "header"))
      e = get_bool(x, v, kl, p, &dl->header);
    else if (!strcmp(k, "skipInitialSpace"))
      e = get_bool(x, v, kl, p, &dl->skip_initial_space);
    else if (v->kind != FP__CN_STR)
      e = wrong_type(x, kl, p, v, "a string (it is ignored)");
  }
  if (e) return e;
  const char *clash = NULL;
  if (dl->delimiter == '\n' || dl->delimiter == '\r')
    clash = "delimiter must not be a line break";
  else if (dl->quote_char == '\n' || dl->quote_char == '\r')
    clash = "quoteChar must not be a line break";
  else if (dl->escape_char == '\n' || dl->escape_char == '\r')
    clash = "escapeChar must not be a line break";
  else if (dl->delimiter == dl->quote_char)
    clash = "delimiter and quoteChar must differ";
  else if (dl->delimiter == dl->escape_char)
    clash = "delimiter and escapeChar must differ";
  return clash ? bad(x, line, "dialect", "%s", clash) : FP_OK;
}

/* ---- fields -------------------------------------------------------------------------- */

static const char *const FIELD_KEYS[] = {
    "name",        "type",          "format",      "title",       "description",
    "constraints", "trueValues",    "falseValues", "decimalChar", "groupChar",
    "bareNumber",  "missingValues", "rdfType",     "example",     NULL};
static const char *const CONSTRAINT_KEYS[] = {"required",
                                              "unique",
                                              "minimum",
                                              "maximum",
                                              "exclusiveMinimum",
                                              "exclusiveMaximum",
                                              "minLength",
                                              "maxLength",
                                              "pattern",
                                              "enum",
                                              NULL};
static const char *const CONSTRAINT_UNSUPPORTED[] = {"jsonSchema", NULL};

static fp_err parse_constraints(lctx *x, const fp__cnode *n, uint32_t line, const char *path,
                                fp_field *f) {
  fp_err e = want_map(x, n, line, path);
  if (!e) e = check_keys(x, n, path, CONSTRAINT_KEYS, CONSTRAINT_UNSUPPORTED, "constraint");
  for (size_t i = 0; i < n->n && !e; i++) {
    const char *k = n->keys[i];
    const fp__cnode *v = n->items[i];
    uint32_t kl = n->key_lines[i];
    char p[PATH_MAX_TEXT];
    path_key(p, path, k);
    if (!strcmp(k, "required"))
      e = get_bool(x, v, kl, p, &f->required);
    else if (!strcmp(k, "unique"))
      e = get_bool(x, v, kl, p, &f->unique);
    else if (!strcmp(k, "minimum"))
      e = get_value_text(x, v, kl, p, &f->minimum);
    else if (!strcmp(k, "maximum"))
      e = get_value_text(x, v, kl, p, &f->maximum);
    else if (!strcmp(k, "exclusiveMinimum"))
      e = get_value_text(x, v, kl, p, &f->exclusive_minimum);
    else if (!strcmp(k, "exclusiveMaximum"))
      e = get_value_text(x, v, kl, p, &f->exclusive_maximum);
    else if (!strcmp(k, "minLength"))
      e = get_int(x, v, kl, p, 0, INT32_MAX, &f->min_length);
    else if (!strcmp(k, "maxLength"))
      e = get_int(x, v, kl, p, 0, INT32_MAX, &f->max_length);
    else if (!strcmp(k, "pattern"))
      e = get_string(x, v, kl, p, true, &f->pattern);
    else if (!strcmp(k, "enum")) {
      if (v->kind != FP__CN_SEQ || !v->n) {
        e = v->kind == FP__CN_SEQ ? bad(x, kl, p, "expected a non-empty list of values")
                                  : wrong_type(x, kl, p, v, "a list of values");
        break;
      }
      f->enum_values = calloc(v->n, sizeof *f->enum_values);
      if (!f->enum_values) return nomem(x);
      for (size_t j = 0; j < v->n && !e; j++) {
        char pj[PATH_MAX_TEXT];
        path_idx(pj, p, j);
        e = get_value_text(x, v->items[j], v->items[j]->line, pj, &f->enum_values[j]);
        if (!e) f->nenum = j + 1;
      }
    }
  }
  if (!e && f->min_length >= 0 && f->max_length >= 0 && f->min_length > f->max_length) {
    uint32_t kl = 0;
    fp__cnode_get(n, "maxLength", &kl);
    char p[PATH_MAX_TEXT];
    path_key(p, path, "maxLength");
    e = bad(x, kl, p, "maxLength %lld is less than minLength %lld", (long long)f->max_length,
            (long long)f->min_length);
  }
  return e;
}

static fp_err dup_strv(char *const *src, size_t n, char ***out) {
  *out = NULL;
  if (!src) return FP_OK;
  char **v = calloc(n ? n : 1, sizeof *v);
  if (!v) return FP_ERR_NOMEM;
  for (size_t i = 0; i < n; i++)
    if (!(v[i] = strdup(src[i]))) {
      fp__strv_free(v, n);
      return FP_ERR_NOMEM;
    }
  *out = v;
  return FP_OK;
}

static fp_err dup_str(const char *s, char **out) {
  *out = s ? strdup(s) : NULL;
  return s && !*out ? FP_ERR_NOMEM : FP_OK;
}

/* Parts of a field tried one at a time to find which key a compile error is about. */
enum probe_part {
  PROBE_BASE,
  PROBE_MIN,
  PROBE_MAX,
  PROBE_XMIN,
  PROBE_XMAX,
  PROBE_LEN,
  PROBE_PATTERN,
  PROBE_ENUM,
  PROBE__COUNT
};
static const char *const PROBE_KEY[PROBE__COUNT] = {
    NULL,        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minLength", "pattern", "enum"};

/* Compiles a copy of f's type and options plus one constraint; *fails = compile refused. */
static fp_err probe(const fp_field *f, int part, bool *fails) {
  fp_field p;
  fp_field_init(&p);
  p.type = f->type;
  p.decimal_char = f->decimal_char;
  p.group_char = f->group_char;
  p.bare_number = f->bare_number;
  p.has_missing_values = f->has_missing_values;
  fp_err e = dup_str(f->name, &p.name);
  if (!e) e = dup_str(f->format, &p.format);
  if (!e && !(e = dup_strv(f->true_values, f->ntrue, &p.true_values))) p.ntrue = f->ntrue;
  if (!e && !(e = dup_strv(f->false_values, f->nfalse, &p.false_values))) p.nfalse = f->nfalse;
  if (!e && !(e = dup_strv(f->missing_values, f->nmissing, &p.missing_values)))
    p.nmissing = f->nmissing;
  if (!e && part == PROBE_MIN) e = dup_str(f->minimum, &p.minimum);
  if (!e && part == PROBE_MAX) e = dup_str(f->maximum, &p.maximum);
  if (!e && part == PROBE_XMIN) e = dup_str(f->exclusive_minimum, &p.exclusive_minimum);
  if (!e && part == PROBE_XMAX) e = dup_str(f->exclusive_maximum, &p.exclusive_maximum);
  if (!e && part == PROBE_PATTERN) e = dup_str(f->pattern, &p.pattern);
  if (!e && part == PROBE_LEN) p.min_length = f->min_length, p.max_length = f->max_length;
  if (!e && part == PROBE_ENUM && !(e = dup_strv(f->enum_values, f->nenum, &p.enum_values)))
    p.nenum = f->nenum;
  if (!e) {
    fp_diag pd;
    fp_diag_clear(&pd);
    fp_err ce = fp_field_compile(&p, &pd);
    if (ce == FP_ERR_NOMEM) e = ce;
    *fails = ce != FP_OK;
  }
  fp_field_clear(&p);
  return e;
}

static bool probe_present(const fp_field *f, int part) {
  switch (part) {
    case PROBE_MIN: return f->minimum;
    case PROBE_MAX: return f->maximum;
    case PROBE_XMIN: return f->exclusive_minimum;
    case PROBE_XMAX: return f->exclusive_maximum;
    case PROBE_LEN: return f->min_length >= 0 || f->max_length >= 0;
    case PROBE_PATTERN: return f->pattern;
    case PROBE_ENUM: return f->enum_values;
    default: return true;
  }
}

/* fp_field_compile refused f: repeat its message under the key path it is about. */
static fp_err compile_failed(lctx *x, const fp_field *f, const fp__cnode *fn, const char *path,
                             const fp_diag *cd) {
  char p[PATH_MAX_TEXT];
  uint32_t line = fn->line; /* the field itself when no single part explains the error */
  const fp__cnode *cons = fp__cnode_get(fn, "constraints", NULL);
  path_cat(p, 0, path);
  for (int part = PROBE_BASE; part < PROBE__COUNT; part++) {
    if (!probe_present(f, part)) continue;
    bool fails = false;
    if (probe(f, part, &fails)) return nomem(x);
    if (!fails) continue;
    const char *key = PROBE_KEY[part];
    if (part == PROBE_BASE) { /* the type's options: blame the format when there is one */
      uint32_t kl = 0;
      if (f->format && fp__cnode_get(fn, "format", &kl)) {
        path_key(p, path, "format");
        line = kl;
      }
    } else {
      uint32_t kl = 0;
      if (part == PROBE_LEN && !fp__cnode_get(cons, "minLength", NULL)) key = "maxLength";
      char cp[PATH_MAX_TEXT];
      path_key(cp, path, "constraints");
      path_key(p, cp, key);
      if (fp__cnode_get(cons, key, &kl)) line = kl;
    }
    break;
  }
  return bad(x, line, p, "%s", cd->msg[0] ? cd->msg : "the field does not compile");
}

static fp_err parse_field(lctx *x, const fp__cnode *n, const char *path, fp_field *f) {
  fp_err e = want_map(x, n, n->line, path);
  if (!e) e = check_keys(x, n, path, FIELD_KEYS, NULL, "field");
  if (e) return e;
  if (!fp__cnode_get(n, "name", NULL))
    return bad(x, n->line, path, "missing required key \"name\"");
  f->type = FP_FT_STRING;
  for (size_t i = 0; i < n->n && !e; i++) {
    const char *k = n->keys[i];
    const fp__cnode *v = n->items[i];
    uint32_t kl = n->key_lines[i];
    char p[PATH_MAX_TEXT];
    path_key(p, path, k);
    if (!strcmp(k, "name"))
      e = get_string(x, v, kl, p, false, &f->name);
    else if (!strcmp(k, "title"))
      e = get_string(x, v, kl, p, true, &f->title);
    else if (!strcmp(k, "description"))
      e = get_string(x, v, kl, p, true, &f->description);
    else if (!strcmp(k, "constraints"))
      e = parse_constraints(x, v, kl, p, f);
    else if (!strcmp(k, "trueValues"))
      e = get_string_list(x, v, kl, p, &f->true_values, &f->ntrue);
    else if (!strcmp(k, "falseValues"))
      e = get_string_list(x, v, kl, p, &f->false_values, &f->nfalse);
    else if (!strcmp(k, "decimalChar"))
      e = get_char(x, v, kl, p, false, &f->decimal_char);
    else if (!strcmp(k, "groupChar"))
      e = get_char(x, v, kl, p, true, &f->group_char);
    else if (!strcmp(k, "bareNumber"))
      e = get_bool(x, v, kl, p, &f->bare_number);
    else if (!strcmp(k, "missingValues")) {
      e = get_string_list(x, v, kl, p, &f->missing_values, &f->nmissing);
      f->has_missing_values = !e;
    } else if (!strcmp(k, "format")) {
      e = get_string(x, v, kl, p, false, &f->format);
      if (!e && !strcmp(f->format, "default")) {
        free(f->format);
        f->format = NULL;
      }
    } else if (!strcmp(k, "type")) {
      if (v->kind != FP__CN_STR || !fp_ftype_parse(v->str, &f->type)) {
        char list[256] = "", buf[128];
        size_t used = 0;
        for (int t = 0; t < FP_FT__COUNT; t++) {
          int w = snprintf(list + used, sizeof list - used, "%s%s", t ? ", " : "",
                           fp_ftype_name((fp_ftype)t));
          if (w > 0 && (size_t)w < sizeof list - used) used += (size_t)w;
        }
        e = bad(x, kl, p, "expected a type (%s), got %s", list, describe(v, buf, sizeof buf));
      }
    }
    /* rdfType, example: informational, ignored */
  }
  if (e) return e;
  fp_diag cd;
  fp_diag_clear(&cd);
  e = fp_field_compile(f, &cd);
  if (e == FP_ERR_NOMEM) return nomem(x);
  if (e) return compile_failed(x, f, n, path, &cd);
  return FP_OK;
}

/* ---- schema -------------------------------------------------------------------------- */

static const char *const SCHEMA_KEYS[] = {"fields",      "missingValues", "primaryKey",
                                          "fieldsMatch", "$schema",       NULL};
static const char *const SCHEMA_UNSUPPORTED[] = {"foreignKeys", "uniqueKeys", NULL};
static const char *const FIELDS_MATCH[] = {"exact", "equal", "subset", "superset", "partial", NULL};

typedef struct name_ref {
  const char *name;
  size_t pos;
} name_ref;

static int name_ref_cmp(const void *a, const void *b) {
  const name_ref *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

/* Field names must be unique; reports the first repeat in document order. */
static fp_err check_unique_names(lctx *x, const fp_contract *c, const fp__cnode *fields) {
  name_ref *r = malloc(c->nfields * sizeof *r);
  if (!r) return nomem(x);
  for (size_t i = 0; i < c->nfields; i++) r[i] = (name_ref){c->fields[i].name, i};
  qsort(r, c->nfields, sizeof *r, name_ref_cmp);
  size_t dup = c->nfields, first = 0;
  for (size_t i = 1; i < c->nfields; i++) {
    /* sorted by (name, position): r[i] is the first repeat of r[i-1] when it is the
     * second of its group */
    if (strcmp(r[i - 1].name, r[i].name)) continue;
    if (i >= 2 && !strcmp(r[i - 2].name, r[i].name)) continue;
    if (r[i].pos < dup) {
      dup = r[i].pos;
      first = r[i - 1].pos;
    }
  }
  free(r);
  if (dup == c->nfields) return FP_OK;
  char p[PATH_MAX_TEXT], pn[PATH_MAX_TEXT];
  path_idx(p, "schema.fields", dup);
  path_key(pn, p, "name");
  uint32_t kl = fields->items[dup]->line;
  fp__cnode_get(fields->items[dup], "name", &kl);
  return bad(x, kl, pn, "duplicate field name \"%.100s\" (also schema.fields[%zu])",
             c->fields[dup].name, first);
}

static fp_err parse_fields(lctx *x, const fp__cnode *n, uint32_t line, fp_contract *c) {
  if (n->kind != FP__CN_SEQ) return wrong_type(x, line, "schema.fields", n, "a list of fields");
  if (!n->n) return bad(x, line, "schema.fields", "expected at least one field");
  c->fields = calloc(n->n, sizeof *c->fields);
  if (!c->fields) return nomem(x);
  for (size_t i = 0; i < n->n; i++) fp_field_init(&c->fields[i]);
  c->nfields = n->n;
  for (size_t i = 0; i < n->n; i++) {
    char p[PATH_MAX_TEXT];
    path_idx(p, "schema.fields", i);
    fp_err e = parse_field(x, n->items[i], p, &c->fields[i]);
    if (e) return e;
  }
  return check_unique_names(x, c, n);
}

static fp_err pk_add(lctx *x, fp_contract *c, const fp__cnode *v, uint32_t line, const char *path) {
  if (v->kind != FP__CN_STR) return wrong_type(x, line, path, v, "a field name");
  size_t k = 0;
  while (k < c->nfields && strcmp(c->fields[k].name, v->str)) k++;
  if (k == c->nfields)
    return bad(x, line, path, "primary key field \"%.100s\" is not in schema.fields", v->str);
  for (size_t j = 0; j < c->npk; j++)
    if (c->primary_key[j] == k)
      return bad(x, line, path, "field \"%.100s\" appears twice in the primary key", v->str);
  c->primary_key[c->npk++] = k;
  return FP_OK;
}

static fp_err parse_primary_key(lctx *x, const fp__cnode *n, uint32_t line, fp_contract *c) {
  const char *path = "schema.primaryKey";
  if (n->kind == FP__CN_SEQ && (!n->n || n->n > PK_MAX))
    return bad(x, line, path, "expected 1 to %d field names, got %zu", PK_MAX, n->n);
  if (n->kind != FP__CN_SEQ && n->kind != FP__CN_STR)
    return wrong_type(x, line, path, n, "a field name or a list of field names");
  c->primary_key = calloc(n->kind == FP__CN_SEQ ? n->n : 1, sizeof *c->primary_key);
  if (!c->primary_key) return nomem(x);
  if (n->kind == FP__CN_STR) return pk_add(x, c, n, line, path);
  fp_err e = FP_OK;
  for (size_t i = 0; i < n->n && !e; i++) {
    char p[PATH_MAX_TEXT];
    path_idx(p, path, i);
    e = pk_add(x, c, n->items[i], n->items[i]->line, p);
  }
  return e;
}

static fp_err parse_schema(lctx *x, const fp__cnode *n, uint32_t line, fp_contract *c) {
  fp_err e = want_map(x, n, line, "schema");
  if (!e) e = check_keys(x, n, "schema", SCHEMA_KEYS, SCHEMA_UNSUPPORTED, "Table Schema");
  if (e) return e;
  uint32_t kl = line;
  const fp__cnode *v = fp__cnode_get(n, "fields", &kl);
  if (!v) return bad(x, n->line, "schema", "missing required key \"fields\" (a list of fields)");
  if ((e = parse_fields(x, v, kl, c))) return e;
  if ((v = fp__cnode_get(n, "missingValues", &kl))) {
    fp__strv_free(c->missing_values, c->nmissing);
    c->missing_values = NULL;
    c->nmissing = 0;
    if ((e = get_string_list(x, v, kl, "schema.missingValues", &c->missing_values, &c->nmissing)))
      return e;
  }
  if ((v = fp__cnode_get(n, "primaryKey", &kl)) && (e = parse_primary_key(x, v, kl, c))) return e;
  if ((v = fp__cnode_get(n, "fieldsMatch", &kl))) {
    int m = 0;
    if ((e = get_choice(x, v, kl, "schema.fieldsMatch", FIELDS_MATCH, &m))) return e;
    c->fields_match = (fp_fields_match)m;
  }
  if ((v = fp__cnode_get(n, "$schema", &kl)) && v->kind != FP__CN_STR)
    return wrong_type(x, kl, "schema.$schema", v, "a string (it is ignored)");
  return FP_OK;
}

/* ---- checks -------------------------------------------------------------------------- */

static const char *const CHECK_KEYS[] = {
    "rows",         "extraColumns", "missingColumns", "columnOrder",
    "maxErrorRate", "severity",     "sampleCap",      NULL};
static const char *const POLICIES[] = {"error", "warn", "ignore", NULL};
static const char *const SEVERITIES[] = {"error", "warning", "info", "ignore", NULL};
/* Codes the checker emits that fp_finding_title does not know (yet). */
static const char *const EXTRA_CODES[] = {"error-rate", NULL};

static bool known_code(const char *code) {
  return fp_finding_title(code) != code || in_list(code, EXTRA_CODES);
}

static fp_err parse_rows(lctx *x, const fp__cnode *n, uint32_t line, fp_contract *c) {
  static const char *const ROW_KEYS[] = {"min", "max", NULL};
  fp_err e = want_map(x, n, line, "checks.rows");
  if (!e) e = check_keys(x, n, "checks.rows", ROW_KEYS, NULL, "checks.rows");
  uint32_t kl = line;
  const fp__cnode *v;
  if (!e && (v = fp__cnode_get(n, "min", &kl)))
    e = get_int(x, v, kl, "checks.rows.min", 0, INT64_MAX, &c->rows_min);
  if (!e && (v = fp__cnode_get(n, "max", &kl)))
    e = get_int(x, v, kl, "checks.rows.max", 0, INT64_MAX, &c->rows_max);
  if (!e && c->rows_min >= 0 && c->rows_max >= 0 && c->rows_max < c->rows_min)
    e = bad(x, kl, "checks.rows.max", "max %lld is less than min %lld", (long long)c->rows_max,
            (long long)c->rows_min);
  return e;
}

static fp_err parse_severity(lctx *x, const fp__cnode *n, uint32_t line, fp_contract *c) {
  fp_err e = want_map(x, n, line, "checks.severity");
  if (e) return e;
  c->overrides = calloc(n->n ? n->n : 1, sizeof *c->overrides);
  if (!c->overrides) return nomem(x);
  for (size_t i = 0; i < n->n; i++) {
    char p[PATH_MAX_TEXT];
    path_key(p, "checks.severity", n->keys[i]);
    if (!known_code(n->keys[i]))
      return bad(x, n->key_lines[i], p,
                 "unknown finding code \"%.100s\" (Frictionless error codes such as type-error, "
                 "constraint-error, unique-error, missing-cell; see docs/contracts.md)",
                 n->keys[i]);
    int s = 0;
    if ((e = get_choice(x, n->items[i], n->key_lines[i], p, SEVERITIES, &s))) return e;
    fp_severity_override *o = &c->overrides[c->noverrides];
    if (!(o->code = strdup(n->keys[i]))) return nomem(x);
    c->noverrides++;
    o->ignore = s == 3;
    o->severity = s == 0 ? FP_SEV_ERROR : s == 1 ? FP_SEV_WARNING : FP_SEV_INFO;
  }
  return FP_OK;
}

static fp_err parse_checks(lctx *x, const fp__cnode *n, uint32_t line, fp_contract *c) {
  fp_err e = want_map(x, n, line, "checks");
  if (!e) e = check_keys(x, n, "checks", CHECK_KEYS, NULL, "checks");
  for (size_t i = 0; i < n->n && !e; i++) {
    const char *k = n->keys[i];
    const fp__cnode *v = n->items[i];
    uint32_t kl = n->key_lines[i];
    char p[PATH_MAX_TEXT];
    path_key(p, "checks", k);
    int pol = 0;
    if (!strcmp(k, "rows")) {
      e = parse_rows(x, v, kl, c);
    } else if (!strcmp(k, "extraColumns") || !strcmp(k, "missingColumns") ||
               !strcmp(k, "columnOrder")) {
      e = get_choice(x, v, kl, p, POLICIES, &pol);
      fp_policy *dst = k[0] == 'e'   ? &c->extra_columns
                       : k[0] == 'm' ? &c->missing_columns
                                     : &c->column_order;
      if (!e) *dst = (fp_policy)pol;
    } else if (!strcmp(k, "maxErrorRate")) {
      double r = v->kind == FP__CN_INT ? (double)v->i : v->f;
      if ((v->kind != FP__CN_INT && v->kind != FP__CN_FLOAT) || !(r >= 0 && r <= 1)) {
        char buf[128];
        e = bad(x, kl, p, "expected a number from 0 to 1 (a fraction of data rows), got %s",
                describe(v, buf, sizeof buf));
      }
      c->max_error_rate = r;
    } else if (!strcmp(k, "severity")) {
      e = parse_severity(x, v, kl, c);
    } else if (!strcmp(k, "sampleCap")) {
      int64_t cap = 0;
      e = get_int(x, v, kl, p, 1, SAMPLE_CAP_MAX, &cap);
      c->sample_cap = (size_t)cap;
    }
  }
  return e;
}

/* ---- drift --------------------------------------------------------------------------- */

/* The keys each kind of drift takes; "severity" everywhere, thresholds where they apply. */
static const char *const DRIFT_KEYS[FP_DRIFT__COUNT][4] = {
    [FP_DRIFT_SCHEMA] = {"severity", NULL},
    [FP_DRIFT_VOLUME] = {"severity", "maxChange", NULL},
    [FP_DRIFT_MISSING] = {"severity", "maxChange", NULL},
    [FP_DRIFT_DISTRIBUTION] = {"severity", "maxShift", "maxDistinctChange", NULL},
    [FP_DRIFT_CATEGORY] = {"severity", "maxNewShare", NULL},
};
static const char *const DRIFT_TOP_KEYS[] = {"schema", "volume", "missing", "distribution",
                                             "category", NULL};

static fp_err drift_severity(lctx *x, const fp__cnode *v, uint32_t line, const char *path,
                             fp_drift_rule *r) {
  int s = 0;
  fp_err e = get_choice(x, v, line, path, SEVERITIES, &s);
  r->ignore = s == 3;
  r->severity = s == 0 ? FP_SEV_ERROR : s == 1 ? FP_SEV_WARNING : FP_SEV_INFO;
  return e;
}

/* A threshold: a number from 0 to hi (fractions; a row count may grow by more than 100%). */
static fp_err drift_number(lctx *x, const fp__cnode *v, uint32_t line, const char *path,
                           double hi, double *out) {
  double r = v->kind == FP__CN_INT ? (double)v->i : v->f;
  if ((v->kind != FP__CN_INT && v->kind != FP__CN_FLOAT) || !(r >= 0 && r <= hi)) {
    char buf[128];
    return bad(x, line, path, "expected a number from 0 to %g (a fraction), got %s", hi,
               describe(v, buf, sizeof buf));
  }
  *out = r;
  return FP_OK;
}

/* drift.<kind>: a severity alone ("warning"), or a mapping of severity and thresholds. */
static fp_err parse_drift_kind(lctx *x, const fp__cnode *n, uint32_t line, fp_drift_kind k,
                               fp_drift_rule *r) {
  char path[PATH_MAX_TEXT];
  path_key(path, "drift", fp_drift_kind_name(k));
  if (n->kind == FP__CN_STR) return drift_severity(x, n, line, path, r);
  if (n->kind != FP__CN_MAP)
    return wrong_type(x, line, path, n, "a severity (error, warning, info, ignore) or a mapping");
  fp_err e = check_keys(x, n, path, DRIFT_KEYS[k], NULL, path);
  for (size_t i = 0; i < n->n && !e; i++) {
    const char *key = n->keys[i];
    char p[PATH_MAX_TEXT];
    path_key(p, path, key);
    if (!strcmp(key, "severity"))
      e = drift_severity(x, n->items[i], n->key_lines[i], p, r);
    else if (!strcmp(key, "maxDistinctChange"))
      e = drift_number(x, n->items[i], n->key_lines[i], p, 1000, &r->max_distinct_change);
    else /* maxChange, maxShift, maxNewShare: the kind's main threshold */
      e = drift_number(x, n->items[i], n->key_lines[i], p, k == FP_DRIFT_VOLUME ? 1000 : 1,
                       &r->max_change);
  }
  return e;
}

static fp_err parse_drift(lctx *x, const fp__cnode *n, uint32_t line, fp_contract *c) {
  fp_err e = want_map(x, n, line, "drift");
  if (!e) e = check_keys(x, n, "drift", DRIFT_TOP_KEYS, NULL, "drift");
  for (size_t i = 0; i < n->n && !e; i++)
    for (int k = 0; k < FP_DRIFT__COUNT; k++)
      if (!strcmp(n->keys[i], fp_drift_kind_name((fp_drift_kind)k)))
        e = parse_drift_kind(x, n->items[i], n->key_lines[i], (fp_drift_kind)k, &c->drift.rule[k]);
  return e;
}

/* ---- the whole document -------------------------------------------------------------- */

static const char *const TOP_KEYS[] = {"name",   "description", "match", "dialect",
                                       "schema", "checks",      "drift", NULL};

static fp_err parse_match(lctx *x, const fp__cnode *n, uint32_t line, fp_contract *c) {
  const fp__cnode *one = n;
  size_t count = 1;
  if (n->kind == FP__CN_SEQ)
    count = n->n;
  else if (n->kind != FP__CN_STR)
    return wrong_type(x, line, "match", n, "a glob or a list of globs");
  c->match = calloc(count ? count : 1, sizeof *c->match);
  if (!c->match) return nomem(x);
  for (size_t i = 0; i < count; i++) {
    char p[PATH_MAX_TEXT] = "match";
    if (n->kind == FP__CN_SEQ) {
      one = n->items[i];
      line = one->line;
      path_idx(p, "match", i);
    }
    fp_err e = get_string(x, one, line, p, false, &c->match[i]);
    if (e) return e;
    c->nmatch = i + 1;
    const char *problem = fp__glob_check(c->match[i]);
    if (problem) return bad(x, line, p, "%s: \"%.200s\"", problem, c->match[i]);
  }
  return FP_OK;
}

fp_err fp__contract_parse(const fp__cnode *root, fp_contract *c, fp_diag *d) {
  lctx xs = {d}, *x = &xs;
  if (root->kind != FP__CN_MAP)
    return wrong_type(x, root->line, "(document)", root,
                      "a mapping with the keys name, match, dialect, schema, checks, drift");
  fp_err e = check_keys(x, root, "", TOP_KEYS, NULL, "contract");
  uint32_t kl = root->line;
  const fp__cnode *v;
  char *ignored = NULL;
  if (!e && (v = fp__cnode_get(root, "name", &kl))) {
    free(c->name);
    c->name = NULL;
    e = get_string(x, v, kl, "name", false, &c->name);
  }
  if (!e && (v = fp__cnode_get(root, "description", &kl))) {
    e = get_string(x, v, kl, "description", true, &ignored);
    free(ignored);
  }
  if (!e && (v = fp__cnode_get(root, "match", &kl))) e = parse_match(x, v, kl, c);
  if (!e && (v = fp__cnode_get(root, "dialect", &kl))) {
    e = parse_dialect(x, v, kl, &c->dialect);
    c->has_dialect = !e;
  }
  if (!e && !(v = fp__cnode_get(root, "schema", &kl)))
    e = bad(x, root->line, "schema",
            "missing required key \"schema\" (a Table Schema with fields)");
  if (!e) e = parse_schema(x, v, kl, c);
  if (!e && (v = fp__cnode_get(root, "checks", &kl))) e = parse_checks(x, v, kl, c);
  if (!e && (v = fp__cnode_get(root, "drift", &kl))) e = parse_drift(x, v, kl, c);
  return e;
}
