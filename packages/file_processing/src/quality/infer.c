/* infer.c — drafts a dataset contract (YAML) from a finished profile: one field per column
 * with the profile's type, required where no cell was missing or absent, enum for text
 * columns with a handful of exactly known values, the dialect used, and a match glob made
 * from the object key. The draft is meant to validate the file it came from with zero
 * type/constraint errors: every value the profiler accepted for a type is one the Table
 * Schema type accepts too (profile booleans are true/false in three spellings, all in
 * Frictionless' default trueValues/falseValues; integers fit int64; dates are ISO days;
 * datetimes are ISO with 'T' or a space, which the default format reads). All text is
 * emitted as double-quoted YAML scalars, so no label or value can change the document's
 * structure. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp/fp_buf.h"
#include "fp/fp_contract.h"
#include "quality/quality_int.h"

#define YAML_MAX ((size_t)64 << 20)
#define ENUM_MIN_VALUES 20

/* The output buffer with a sticky error: the first failed append (cap or allocation) is
 * kept and every later append is skipped, so a draft is either whole or an error. */
typedef struct yb {
  fp_buf b;
  fp_err e;
} yb;

static void y_app(yb *y, const char *s, size_t n) {
  if (!y->e) y->e = fp_buf_append(&y->b, s, n);
}

static void y_puts(yb *y, const char *s) {
  y_app(y, s, strlen(s));
}

static void y_putc(yb *y, char c) {
  y_app(y, &c, 1);
}

static void y_printf(yb *y, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void y_printf(yb *y, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof buf) {
    if (!y->e) y->e = FP_ERR_INTERNAL;
    return;
  }
  y_app(y, buf, (size_t)n);
}

/* ---- YAML scalars ------------------------------------------------------------------ */

/* A double-quoted YAML scalar: backslash escapes for quote, backslash and controls; UTF-8
 * passes through (the profile's texts are valid UTF-8). */
static void put_quoted(yb *b, const char *s, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  y_putc(b, '"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      y_putc(b, '\\');
      y_putc(b, (char)c);
    } else if (c == '\n') {
      y_puts(b, "\\n");
    } else if (c == '\t') {
      y_puts(b, "\\t");
    } else if (c == '\r') {
      y_puts(b, "\\r");
    } else if (c < 0x20 || c == 0x7F) {
      char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
      y_app(b, esc, sizeof esc);
    } else {
      y_putc(b, (char)c);
    }
  }
  y_putc(b, '"');
}

static void put_qstr(yb *b, const char *s) {
  put_quoted(b, s, strlen(s));
}

static void put_char(yb *b, char c) {
  put_quoted(b, &c, c ? 1 : 0);
}

/* Text for a comment: one line, controls shown as spaces, cut on a character boundary. */
static void put_comment_text(yb *b, const char *s, size_t max) {
  size_t n = fp__utf8_cut(s, strlen(s), max);
  for (size_t i = 0; i < n; i++) y_putc(b, (unsigned char)s[i] < 0x20 ? ' ' : s[i]);
  if (n < strlen(s)) y_puts(b, "...");
}

/* ---- match glob ---------------------------------------------------------------------- */

static bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

static bool is_sep(char c) {
  return c == '-' || c == '_' || c == '.';
}

/* Length of a date-like run at s: digit groups joined by single - _ . separators, with at
 * least 6 digits in all (20240131, 2024-01-31, 2024_01_31_1200) or one 4-digit year
 * 19xx/20xx. 0 when s does not start one. */
static size_t date_run(const char *s) {
  size_t i = 0, digits = 0, groups = 0;
  while (is_digit(s[i])) {
    size_t g = 0;
    while (is_digit(s[i])) i++, g++, digits++;
    groups++;
    if (is_sep(s[i]) && is_digit(s[i + 1]))
      i++;
    else
      break;
  }
  if (digits >= 6) return i;
  if (groups == 1 && digits == 4 && (s[0] == '1' || s[0] == '2') && (s[1] == '9' || s[1] == '0'))
    return i;
  return 0;
}

/* The key with glob characters escaped and, in the file name, date-like runs as '*'. */
static void put_match(yb *b, const char *key) {
  const char *base = strrchr(key, '/');
  base = base ? base + 1 : key;
  yb out = {{NULL, 0, 0, 0}, FP_OK};
  fp_buf_init(&out.b, 8192);
  for (const char *p = key; *p;) {
    size_t r = p >= base && (p == base || !is_digit(p[-1])) ? date_run(p) : 0;
    if (r) {
      if (!out.b.len || out.b.data[out.b.len - 1] != '*') y_putc(&out, '*');
      p += r;
      continue;
    }
    if (*p == '*' || *p == '?' || *p == '[' || *p == ']' || *p == '\\') y_putc(&out, '\\');
    y_putc(&out, *p++);
  }
  y_puts(b, "match:\n  - ");
  if (out.e && !b->e) b->e = out.e;
  put_quoted(b, out.b.data ? out.b.data : "", out.b.len);
  y_putc(b, '\n');
  fp_buf_free(&out.b);
}

/* ---- fields ---------------------------------------------------------------------------- */

static const char *ftype_of(fp_type t) {
  switch (t) {
    case FP_TYPE_BOOLEAN: return "boolean";
    case FP_TYPE_INTEGER: return "integer";
    case FP_TYPE_NUMBER: return "number";
    case FP_TYPE_DATE: return "date";
    case FP_TYPE_DATETIME: return "datetime";
    case FP_TYPE_STRING: return "string";
    default: return "any";
  }
}

/* Frictionless compares labels after replace("\n", " ").strip(): the field name is the
 * label in that form. Owned (free). */
static char *label_name(const char *label) {
  size_t n = strlen(label);
  const char *s = label;
  while (n && (*s == ' ' || (*s >= '\t' && *s <= '\r'))) s++, n--;
  while (n && (s[n - 1] == ' ' || (s[n - 1] >= '\t' && s[n - 1] <= '\r'))) n--;
  char *out = malloc(n + 1);
  if (!out) return NULL;
  for (size_t i = 0; i < n; i++) out[i] = s[i] == '\n' ? ' ' : s[i];
  out[n] = '\0';
  return out;
}

/* Field names, deduplicated as Frictionless does ("name", "name2", "name3"). Owned array
 * of owned strings; NULL on allocation failure. */
static char **field_names(const fp_profiler *p, size_t nc) {
  char **names = calloc(nc ? nc : 1, sizeof *names);
  if (!names) return NULL;
  for (size_t i = 0; i < nc; i++) {
    char *base = label_name(fp_profiler_column(p, i)->name);
    if (!base) goto fail;
    if (!*base) { /* a label of spaces only: the profiler's fieldN naming */
      free(base);
      char buf[32];
      snprintf(buf, sizeof buf, "field%zu", i + 1);
      if (!(base = strdup(buf))) goto fail;
    }
    for (unsigned k = 1;; k++) {
      char *cand = base;
      if (k > 1) {
        size_t n = strlen(base) + 16;
        if (!(cand = malloc(n))) {
          free(base);
          goto fail;
        }
        snprintf(cand, n, "%s%u", base, k);
      }
      bool taken = false;
      for (size_t j = 0; j < i && !taken; j++) taken = !strcmp(names[j], cand);
      if (!taken) {
        names[i] = cand;
        if (cand != base) free(base);
        break;
      }
      if (cand != base) free(cand);
    }
  }
  return names;
fail:
  for (size_t i = 0; i < nc; i++) free(names[i]);
  free(names);
  return NULL;
}

/* enum for text columns whose every value is known exactly and whole. */
static bool enum_ok(const fp_column_profile *cp) {
  if (cp->type != FP_TYPE_STRING || cp->distinct_approx || cp->top_approx) return false;
  if (!cp->distinct || cp->distinct > FP_TOPK || cp->ntop != cp->distinct) return false;
  if (cp->count - cp->missing < ENUM_MIN_VALUES) return false;
  for (size_t i = 0; i < cp->ntop; i++) {
    const char *v = cp->top[i].value;
    /* top values are cut at FP__TEXT_MAX bytes and invalid bytes become U+FFFD: such a
     * text may not be the value itself */
    if (strlen(v) + 4 >= FP__TEXT_MAX || strstr(v, "\xEF\xBF\xBD")) return false;
  }
  return true;
}

static void put_field(yb *b, const fp_column_profile *cp, const char *name,
                      const fp_table_stats *st) {
  y_puts(b, "    - name: ");
  put_qstr(b, name);
  y_printf(b, "\n      type: %s\n", ftype_of(cp->type));
  y_printf(b, "      # %" PRIu64 " values, %" PRIu64 " missing, %s%" PRIu64 " distinct", cp->count,
           cp->missing, cp->distinct_approx ? "~" : "", cp->distinct);
  if (cp->min && cp->max) {
    y_puts(b, ", min ");
    put_comment_text(b, cp->min, 40);
    y_puts(b, ", max ");
    put_comment_text(b, cp->max, 40);
  }
  y_putc(b, '\n');
  uint64_t present = st->rows - st->blank_rows; /* rows the checker reads cells of */
  bool required = cp->count && !cp->missing && cp->count == present;
  bool en = enum_ok(cp);
  if (!required && !en) return;
  y_puts(b, "      constraints:\n");
  if (required) y_puts(b, "        required: true\n");
  if (en) {
    y_puts(b, "        enum: [");
    for (size_t i = 0; i < cp->ntop; i++) {
      if (i) y_puts(b, ", ");
      put_qstr(b, cp->top[i].value);
    }
    y_puts(b, "]\n");
  }
}

static void put_dialect(yb *b, const fp_csv_dialect *dl) {
  y_puts(b, "dialect:\n  delimiter: ");
  put_char(b, dl->delimiter);
  y_puts(b, "\n  quoteChar: ");
  put_char(b, dl->quote_char);
  y_printf(b, "\n  doubleQuote: %s\n", dl->double_quote ? "true" : "false");
  if (dl->escape_char) {
    y_puts(b, "  escapeChar: ");
    put_char(b, dl->escape_char);
    y_putc(b, '\n');
  }
  if (dl->skip_initial_space) y_puts(b, "  skipInitialSpace: true\n");
  y_printf(b, "  header: %s\n", dl->header ? "true" : "false");
}

fp_err fp_contract_infer(const fp_profiler *p, const fp_csv_dialect *dl, const char *name,
                         const char *key, char **yaml, fp_diag *d) {
  if (!p || !yaml) return fp_diag_set(d, FP_ERR_INVAL, "infer: missing argument");
  *yaml = NULL;
  size_t nc = fp_profiler_ncolumns(p);
  const fp_table_stats *st = fp_profiler_table(p);
  if (!nc || !fp_profiler_column(p, 0))
    return fp_diag_set(d, FP_ERR_INVAL, "infer: the file has no columns (or was not profiled)");
  char **names = field_names(p, nc);
  if (!names) return fp_diag_set(d, FP_ERR_NOMEM, "infer: out of memory");
  yb y = {{NULL, 0, 0, 0}, FP_OK};
  fp_buf_init(&y.b, YAML_MAX);
  yb *b = &y;
  y_printf(b,
           "# Draft dataset contract drafted by file-processing from %" PRIu64
           " data rows.\n# Review types, required and enum before use "
           "(docs/contracts.md).\n",
           st->rows);
  y_puts(b, "name: ");
  put_qstr(b, name && *name ? name : "dataset");
  y_putc(b, '\n');
  if (key && *key) put_match(b, key);
  if (dl) put_dialect(b, dl);
  y_puts(b, "schema:\n  missingValues: [\"\"]\n  fields:\n");
  for (size_t i = 0; i < nc; i++) put_field(b, fp_profiler_column(p, i), names[i], st);
  for (size_t i = 0; i < nc; i++) free(names[i]);
  free(names);
  if (y.e) {
    fp_buf_free(&y.b);
    return y.e == FP_ERR_NOMEM
               ? fp_diag_set(d, FP_ERR_NOMEM, "infer: out of memory")
               : fp_diag_set(d, FP_ERR_LIMIT, "infer: the draft contract is too large");
  }
  *yaml = fp_buf_take(&y.b);
  return *yaml ? FP_OK : fp_diag_set(d, FP_ERR_NOMEM, "infer: out of memory");
}
