/* drift.c — drift findings between a new delivery's profile and a baseline report
 * (fp_drift.h).
 *
 * Both sides are read from the same JSON shape: the new profile's columns are rendered
 * with fp_report_column_json, the baseline's come from its stored report, so a baseline
 * written by an older build (no histogram yet) is read by the same code and simply skips
 * what it lacks. Columns are matched by name; a removed and an added column whose profiles
 * agree are taken as one renamed column. Distribution shift is the Kolmogorov-Smirnov
 * distance of the two histograms' CDFs, taken at the edges both bin grids share, where the
 * counts are exact (see ks_distance). */
#include "fp/fp_drift.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fp/fp_buf.h"
#include "fp/fp_report.h"

#define NOTE_MAX 1024
#define REORDER_SHOWN 8

static const char *const CODES[FP_DRIFT__COUNT] = {"schema-drift", "volume-drift", "missing-drift",
                                                   "distribution-drift", "category-drift"};
static const char *const NAMES[FP_DRIFT__COUNT] = {"schema", "volume", "missing", "distribution",
                                                   "category"};

const char *fp_drift_code(fp_drift_kind k) {
  return (unsigned)k < FP_DRIFT__COUNT ? CODES[k] : "drift";
}

const char *fp_drift_kind_name(fp_drift_kind k) {
  return (unsigned)k < FP_DRIFT__COUNT ? NAMES[k] : "";
}

void fp_drift_opts_default(fp_drift_opts *o) {
  memset(o, 0, sizeof *o);
  for (int k = 0; k < FP_DRIFT__COUNT; k++) o->rule[k].severity = FP_SEV_WARNING;
  o->rule[FP_DRIFT_VOLUME].max_change = 0.2;
  o->rule[FP_DRIFT_MISSING].max_change = 0.05;
  o->rule[FP_DRIFT_DISTRIBUTION].max_change = 0.2;
  o->rule[FP_DRIFT_DISTRIBUTION].max_distinct_change = 0.5;
  o->rule[FP_DRIFT_CATEGORY].max_change = 0.05;
}

/* ---- one side's columns, read from report JSON (borrowed from the json_t trees) ---------- */

typedef struct dcol {
  uint32_t index; /* 1-based position in its file */
  const char *name, *type, *min, *max;
  uint64_t count, missing, distinct;
  bool distinct_approx;
  const json_t *top, *hist, *quant;
  int match; /* index of the matched column on the other side, -1 none */
  bool renamed;
} dcol;

typedef struct side {
  json_t *root; /* owned */
  dcol *cols;
  size_t n;
  uint64_t rows;
} side;

static const char *jstr(const json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

static uint64_t ju64(const json_t *o, const char *k) {
  json_int_t v = json_integer_value(json_object_get(o, k));
  return v < 0 ? 0 : (uint64_t)v;
}

static double jnum(const json_t *o, const char *k, bool *ok) {
  const json_t *v = json_object_get(o, k);
  if (!json_is_number(v)) {
    *ok = false;
    return 0;
  }
  return json_number_value(v);
}

static fp_err side_read(side *s, fp_diag *d, const char *what) {
  const json_t *cols = json_object_get(s->root, "columns");
  if (!json_is_array(cols))
    return fp_diag_set(d, FP_ERR_JSON, "drift: %s has no columns array", what);
  s->n = json_array_size(cols);
  s->cols = calloc(s->n ? s->n : 1, sizeof *s->cols);
  if (!s->cols) return fp_diag_set(d, FP_ERR_NOMEM, "drift: out of memory");
  s->rows = ju64(json_object_get(s->root, "table"), "rows");
  for (size_t i = 0; i < s->n; i++) {
    const json_t *c = json_array_get(cols, i);
    dcol *x = &s->cols[i];
    x->name = jstr(c, "name");
    x->type = jstr(c, "type");
    if (!x->name || !x->type)
      return fp_diag_set(d, FP_ERR_JSON, "drift: %s column %zu has no name or type", what, i + 1);
    x->index = (uint32_t)(i + 1);
    x->min = jstr(c, "min");
    x->max = jstr(c, "max");
    x->count = ju64(c, "count");
    x->missing = ju64(c, "missing");
    x->distinct = ju64(c, "distinct");
    x->distinct_approx = json_is_true(json_object_get(c, "distinct_approx"));
    x->top = json_object_get(c, "top");
    x->hist = json_object_get(c, "histogram");
    x->quant = json_object_get(c, "quantiles");
    x->match = -1;
  }
  return FP_OK;
}

/* The new profile as the same JSON shape: {"table":{"rows":N},"columns":[...]}. */
static fp_err side_from_profile(side *s, const fp_profiler *p, fp_diag *d) {
  uint64_t rows = fp_profiler_table(p)->rows;
  json_t *root = json_object(), *cols = json_array(), *table = json_object();
  s->root = root;
  if (!root || !cols || !table) {
    json_decref(cols);
    json_decref(table);
    return fp_diag_set(d, FP_ERR_NOMEM, "drift: out of memory");
  }
  json_object_set_new(table, "rows", json_integer((json_int_t)rows));
  json_object_set_new(root, "table", table);
  json_object_set_new(root, "columns", cols);
  for (size_t i = 0; i < fp_profiler_ncolumns(p); i++) {
    char *text = NULL;
    fp_err e = fp_report_column_json(fp_profiler_column(p, i), rows, &text, d);
    if (e) return e;
    json_t *c = json_loads(text, 0, NULL);
    free(text);
    if (!c || json_array_append_new(cols, c))
      return fp_diag_set(d, FP_ERR_NOMEM, "drift: out of memory");
  }
  return side_read(s, d, "the new profile");
}

static void side_free(side *s) {
  json_decref(s->root);
  free(s->cols);
}

/* ---- emitting ------------------------------------------------------------------------------ */

typedef struct ctx {
  const fp_drift_opts *o;
  fp_findings *f;
  size_t added;
  fp_diag *d;
} ctx;

static fp_err emit(ctx *x, fp_drift_kind k, uint32_t field, const char *name, const char *cell,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* One finding: cell is the short "old -> new", the note the whole sentence. */
static fp_err emit(ctx *x, fp_drift_kind k, uint32_t field, const char *name, const char *cell,
                   const char *fmt, ...) {
  char note[NOTE_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(note, sizeof note, fmt, ap);
  va_end(ap);
  fp_err e = fp_findings_add(x->f, CODES[k], x->o->rule[k].severity, 0, field, field ? name : NULL,
                             cell, cell ? strlen(cell) : 0, note);
  if (e) return fp_diag_set(x->d, e, "drift: cannot record %s", CODES[k]);
  x->added++;
  return FP_OK;
}

static bool on(const ctx *x, fp_drift_kind k) {
  return !x->o->rule[k].ignore;
}

/* ---- schema ----------------------------------------------------------------------------- */

static bool same_str(const char *a, const char *b) {
  return (!a && !b) || (a && b && !strcmp(a, b));
}

static double miss_rate(const dcol *c) {
  return c->count ? (double)c->missing / (double)c->count : 0.0;
}

/* Share of a's top values that b's top values also hold. */
static double top_overlap(const dcol *a, const dcol *b) {
  size_t na = json_array_size(a->top), nb = json_array_size(b->top), hit = 0;
  if (!na || !nb) return 0;
  for (size_t i = 0; i < na; i++) {
    const char *v = jstr(json_array_get(a->top, i), "value");
    for (size_t j = 0; v && j < nb; j++)
      if (same_str(v, jstr(json_array_get(b->top, j), "value"))) {
        hit++;
        break;
      }
  }
  return (double)hit / (double)(na > nb ? na : nb);
}

/* "Same profile": the same type and at least three of five signs agree (missing share,
 * distinct count, min, max, top values), so a renamed column of a new month with slightly
 * different values is still recognised while two unrelated columns of one type are not. */
static bool same_profile(const dcol *a, const dcol *b) {
  if (strcmp(a->type, b->type) || !strcmp(a->type, "empty")) return false;
  int signs = 0;
  signs += fabs(miss_rate(a) - miss_rate(b)) <= 0.02;
  double dd = fabs((double)a->distinct - (double)b->distinct);
  signs += dd <= 0.1 * (double)(a->distinct > b->distinct ? a->distinct : b->distinct);
  signs += a->min && same_str(a->min, b->min);
  signs += a->max && same_str(a->max, b->max);
  signs += top_overlap(a, b) >= 0.6;
  return signs >= 3;
}

static int find_name(const side *s, const char *name) {
  for (size_t i = 0; i < s->n; i++)
    if (!strcmp(s->cols[i].name, name)) return (int)i;
  return -1;
}

static void match_columns(side *old, side *new) {
  for (size_t i = 0; i < new->n; i++) {
    int j = find_name(old, new->cols[i].name);
    if (j >= 0 && old->cols[j].match < 0) {
      new->cols[i].match = j;
      old->cols[j].match = (int)i;
    }
  }
  for (size_t i = 0; i < new->n; i++) { /* renames among the unmatched */
    if (new->cols[i].match >= 0) continue;
    for (size_t j = 0; j < old->n; j++) {
      if (old->cols[j].match >= 0 || !same_profile(&old->cols[j], &new->cols[i])) continue;
      new->cols[i].match = (int)j;
      old->cols[j].match = (int)i;
      new->cols[i].renamed = true;
      break;
    }
  }
}

/* Columns present on both sides whose order among themselves changed. */
static fp_err reorder(ctx *x, const side *old, const side *new) {
  fp_buf b;
  fp_buf_init(&b, NOTE_MAX / 2);
  size_t rank_new = 0, moved = 0;
  for (size_t i = 0; i < new->n; i++) {
    if (new->cols[i].match < 0) continue;
    size_t rank_old = 0; /* rank of its old column among the old matched columns */
    for (int j = 0; j < new->cols[i].match; j++) rank_old += old->cols[j].match >= 0;
    if (rank_old != rank_new) {
      if (moved < REORDER_SHOWN)
        (void)fp_buf_appendf(&b, "%s'%s' %u -> %u", moved ? ", " : "", new->cols[i].name,
                             old->cols[new->cols[i].match].index, new->cols[i].index);
      moved++;
    }
    rank_new++;
  }
  fp_err e = FP_OK;
  if (moved)
    e = emit(x, FP_DRIFT_SCHEMA, 0, NULL, "reordered", "%zu columns changed position: %s%s", moved,
             b.data ? b.data : "", moved > REORDER_SHOWN ? ", ..." : "");
  fp_buf_free(&b);
  return e;
}

static fp_err schema_drift(ctx *x, const side *old, const side *new) {
  fp_err e = FP_OK;
  char cell[600];
  for (size_t i = 0; i < new->n && !e; i++) {
    const dcol *c = &new->cols[i];
    if (c->match < 0) {
      e = emit(x, FP_DRIFT_SCHEMA, c->index, c->name, "(absent) -> added",
               "column '%s' added at position %u (%s)", c->name, c->index, c->type);
      continue;
    }
    const dcol *o = &old->cols[c->match];
    if (c->renamed) {
      snprintf(cell, sizeof cell, "%s -> %s", o->name, c->name);
      e = emit(x, FP_DRIFT_SCHEMA, c->index, c->name, cell,
               "column '%s' renamed to '%s' (same profile; was position %u, now %u)", o->name,
               c->name, o->index, c->index);
    }
    if (!e && strcmp(o->type, c->type) && strcmp(o->type, "empty") && strcmp(c->type, "empty")) {
      snprintf(cell, sizeof cell, "%s -> %s", o->type, c->type);
      e = emit(x, FP_DRIFT_SCHEMA, c->index, c->name, cell, "type of '%s' changed: %s -> %s",
               c->name, o->type, c->type);
    }
  }
  for (size_t j = 0; j < old->n && !e; j++) {
    const dcol *o = &old->cols[j];
    if (o->match >= 0) continue;
    snprintf(cell, sizeof cell, "%s -> (absent)", o->name);
    e = emit(x, FP_DRIFT_SCHEMA, 0, NULL, cell, "column '%s' removed (was position %u, %s)",
             o->name, o->index, o->type);
  }
  return e ? e : reorder(x, old, new);
}

/* ---- volume and missing values ------------------------------------------------------------ */

static double rel_change(double old, double new) {
  if (old == new) return 0;
  return fabs(new - old) / (old > 0 ? old : 1);
}

static fp_err volume_drift(ctx *x, const side *old, const side *new) {
  double ch = rel_change((double)old->rows, (double)new->rows);
  if (ch <= x->o->rule[FP_DRIFT_VOLUME].max_change) return FP_OK;
  char cell[64];
  snprintf(cell, sizeof cell, "%" PRIu64 " -> %" PRIu64, old->rows, new->rows);
  return emit(x, FP_DRIFT_VOLUME, 0, NULL, cell,
              "row count changed from %" PRIu64 " to %" PRIu64 " (%+.1f%%, more than %.1f%%)",
              old->rows, new->rows,
              100.0 * ((double)new->rows - (double)old->rows) / (old->rows ? (double)old->rows : 1),
              100.0 * x->o->rule[FP_DRIFT_VOLUME].max_change);
}

static fp_err missing_drift(ctx *x, const dcol *o, const dcol *c) {
  double a = miss_rate(o), b = miss_rate(c);
  if (!o->count || !c->count || fabs(b - a) <= x->o->rule[FP_DRIFT_MISSING].max_change)
    return FP_OK;
  char cell[64];
  snprintf(cell, sizeof cell, "%.1f%% -> %.1f%%", 100 * a, 100 * b);
  return emit(x, FP_DRIFT_MISSING, c->index, c->name, cell,
              "missing values in '%s': %.1f%% -> %.1f%% of rows (%" PRIu64 " -> %" PRIu64
              "; change above %.1f points)",
              c->name, 100 * a, 100 * b, o->missing, c->missing,
              100 * x->o->rule[FP_DRIFT_MISSING].max_change);
}

/* ---- distributions ------------------------------------------------------------------------ */

typedef struct hview {
  const char *unit;
  double lo, hi, total;
  size_t n;
  const json_t *counts;
} hview;

static bool hview_of(const json_t *h, hview *v) {
  bool ok = true;
  v->unit = jstr(h, "unit");
  v->lo = jnum(h, "lo", &ok);
  v->hi = jnum(h, "hi", &ok);
  v->counts = json_object_get(h, "counts");
  v->n = json_array_size(v->counts);
  v->total = 0;
  for (size_t i = 0; i < v->n; i++)
    v->total += (double)json_integer_value(json_array_get(v->counts, i));
  return ok && v->unit && v->n && v->total > 0 && v->hi >= v->lo;
}

/* CDF at x; right (limit from the right) matters only for a single-point histogram. */
static double cdf(const hview *h, double x, bool right) {
  if (h->hi == h->lo) return x > h->lo || (right && x == h->lo) ? 1.0 : 0.0;
  if (x <= h->lo) return 0;
  if (x >= h->hi) return 1;
  double w = (h->hi - h->lo) / (double)h->n, acc = 0;
  for (size_t i = 0; i < h->n; i++) {
    double c = (double)json_integer_value(json_array_get(h->counts, i));
    double b0 = h->lo + (double)i * w;
    if (x >= b0 + w) {
      acc += c;
      continue;
    }
    acc += c * (x - b0) / w;
    break;
  }
  return acc / h->total;
}

static double ks_at(const hview *a, const hview *b, double x) {
  double l = fabs(cdf(a, x, false) - cdf(b, x, false));
  double r = fabs(cdf(a, x, true) - cdf(b, x, true));
  return l > r ? l : r;
}

/* Evaluated at the bin edges of the coarser histogram only: widths are powers of two on
 * aligned grids, so those are edges of the finer one too, and at a common edge both CDFs
 * are exact counts. Between edges the even-spread assumption would invent differences
 * (a column of small integers binned at widths 0.5 and 1 looks shifted by half a bin). A
 * single-value histogram is a step: both sides of it are looked at. */
static double ks_distance(const hview *a, const hview *b) {
  double best = 0;
  const hview *pts = a;
  if (a->hi == a->lo)
    pts = b;
  else if (b->hi != b->lo && (b->hi - b->lo) / (double)b->n > (a->hi - a->lo) / (double)a->n)
    pts = b;
  size_t edges = pts->hi == pts->lo ? 1 : pts->n + 1;
  for (size_t i = 0; i < edges; i++) {
    double x =
        pts->hi == pts->lo ? pts->lo : pts->lo + (double)i * (pts->hi - pts->lo) / (double)pts->n;
    double v = ks_at(a, b, x);
    if (v > best) best = v;
  }
  const hview *point = a->hi == a->lo ? a : b->hi == b->lo ? b : NULL;
  if (point) {
    double v = ks_at(a, b, point->lo);
    if (v > best) best = v;
  }
  return best;
}

/* A quantile in its unit, readable: dates as YYYY-MM-DD, datetimes as ISO UTC. */
static void fmt_value(const char *unit, double v, char *out, size_t n) {
  if (!strcmp(unit, "day") || !strcmp(unit, "second")) {
    bool day = unit[0] == 'd';
    time_t t = (time_t)floor(day ? v * 86400.0 : v);
    struct tm tm;
    if (gmtime_r(&t, &tm) && strftime(out, n, day ? "%Y-%m-%d" : "%Y-%m-%dT%H:%M:%SZ", &tm)) return;
  }
  snprintf(out, n, "%.6g", v);
}

static void fmt_quant(const char *unit, const json_t *q, const char *k, char *out, size_t n) {
  bool ok = true;
  double v = jnum(q, k, &ok);
  if (ok)
    fmt_value(unit, v, out, n);
  else
    snprintf(out, n, "?");
}

/* Every value distinct on both sides: an identifier, whose "distribution" is only the
 * range of numbers handed out, not something the data says. */
static bool identifier(const dcol *o, const dcol *c) {
  return !strcmp(o->type, "integer") && !o->distinct_approx && !c->distinct_approx &&
         o->distinct == o->count - o->missing && c->distinct == c->count - c->missing;
}

static fp_err shape_drift(ctx *x, const dcol *o, const dcol *c) {
  hview a, b;
  if (identifier(o, c)) return FP_OK;
  if (!o->hist || !c->hist || !hview_of(o->hist, &a) || !hview_of(c->hist, &b) ||
      strcmp(a.unit, b.unit))
    return FP_OK;
  double ks = ks_distance(&a, &b);
  if (ks <= x->o->rule[FP_DRIFT_DISTRIBUTION].max_change) return FP_OK;
  char q[6][48], cell[160];
  static const char *const keys[3] = {"p05", "p50", "p95"};
  for (int i = 0; i < 3; i++) {
    fmt_quant(a.unit, o->quant, keys[i], q[i], sizeof q[i]);
    fmt_quant(a.unit, c->quant, keys[i], q[3 + i], sizeof q[3 + i]);
  }
  snprintf(cell, sizeof cell, "median %s -> %s", q[1], q[4]);
  return emit(x, FP_DRIFT_DISTRIBUTION, c->index, c->name, cell,
              "distribution of '%s' shifted: KS distance %.2f (above %.2f); p05 %s -> %s, "
              "median %s -> %s, p95 %s -> %s",
              c->name, ks, x->o->rule[FP_DRIFT_DISTRIBUTION].max_change, q[0], q[3], q[1], q[4],
              q[2], q[5]);
}

/* Distinct values: for mostly-unique columns the distinct share of values is compared (a
 * smaller delivery of an ID column is no drift), for the others the count itself. */
static fp_err distinct_drift(ctx *x, const dcol *o, const dcol *c) {
  double on = (double)(o->count - o->missing), nn = (double)(c->count - c->missing);
  if (on <= 0 || nn <= 0) return FP_OK;
  double ro = (double)o->distinct / on, rn = (double)c->distinct / nn;
  double ch = ro >= 0.5 ? rel_change(ro, rn) : rel_change((double)o->distinct, (double)c->distinct);
  if (ch <= x->o->rule[FP_DRIFT_DISTRIBUTION].max_distinct_change) return FP_OK;
  char cell[64];
  snprintf(cell, sizeof cell, "%" PRIu64 " -> %" PRIu64 " distinct", o->distinct, c->distinct);
  return emit(x, FP_DRIFT_DISTRIBUTION, c->index, c->name, cell,
              "distinct values of '%s': %" PRIu64 "%s -> %" PRIu64
              "%s (%.0f%% of values -> "
              "%.0f%%; change above %.0f%%)",
              c->name, o->distinct, o->distinct_approx ? " (approx.)" : "", c->distinct,
              c->distinct_approx ? " (approx.)" : "", 100 * ro, 100 * rn,
              100 * x->o->rule[FP_DRIFT_DISTRIBUTION].max_distinct_change);
}

/* ---- categories --------------------------------------------------------------------------- */

static bool in_top(const dcol *c, const char *v) {
  for (size_t j = 0; j < json_array_size(c->top); j++)
    if (same_str(v, jstr(json_array_get(c->top, j), "value"))) return true;
  return false;
}

/* Only for a baseline whose top list held every value it had (a categorical column);
 * the new values found are those of the new top list, so their share is a lower bound. */
static fp_err category_drift(ctx *x, const dcol *o, const dcol *c) {
  size_t nt = json_array_size(o->top);
  if (!nt || o->distinct_approx || o->distinct > nt || strcmp(c->type, "string")) return FP_OK;
  double values = (double)(c->count - c->missing), fresh = 0;
  if (values <= 0) return FP_OK;
  fp_buf names;
  fp_buf_init(&names, NOTE_MAX / 2);
  size_t nnew = 0;
  for (size_t i = 0; i < json_array_size(c->top); i++) {
    const json_t *t = json_array_get(c->top, i);
    const char *v = jstr(t, "value");
    if (!v || in_top(o, v)) continue;
    uint64_t n = ju64(t, "count");
    fresh += (double)n;
    (void)fp_buf_appendf(&names, "%s'%.60s' (%" PRIu64 ")", nnew++ ? ", " : "", v, n);
  }
  fp_err e = FP_OK;
  double share = fresh / values;
  if (nnew && share > x->o->rule[FP_DRIFT_CATEGORY].max_change) {
    char cell[64];
    snprintf(cell, sizeof cell, "%zu -> %zu values", nt, nt + nnew);
    e = emit(x, FP_DRIFT_CATEGORY, c->index, c->name, cell,
             "new values in '%s' (%.1f%% of its values, above %.1f%%): %s; before: %zu values",
             c->name, 100 * share, 100 * x->o->rule[FP_DRIFT_CATEGORY].max_change,
             names.data ? names.data : "", nt);
  }
  fp_buf_free(&names);
  return e;
}

/* ---- the comparison --------------------------------------------------------------------- */

static fp_err compare(ctx *x, side *old, side *new) {
  match_columns(old, new);
  fp_err e = on(x, FP_DRIFT_SCHEMA) ? schema_drift(x, old, new) : FP_OK;
  if (!e && on(x, FP_DRIFT_VOLUME)) e = volume_drift(x, old, new);
  for (size_t i = 0; i < new->n && !e; i++) {
    const dcol *c = &new->cols[i];
    if (c->match < 0) continue;
    const dcol *o = &old->cols[c->match];
    if (on(x, FP_DRIFT_MISSING)) e = missing_drift(x, o, c);
    if (!e && on(x, FP_DRIFT_DISTRIBUTION)) e = shape_drift(x, o, c);
    if (!e && on(x, FP_DRIFT_DISTRIBUTION)) e = distinct_drift(x, o, c);
    if (!e && on(x, FP_DRIFT_CATEGORY)) e = category_drift(x, o, c);
  }
  return e;
}

fp_err fp_drift_compare(const fp_profiler *p, const char *baseline_report, const fp_drift_opts *o,
                        fp_findings *f, size_t *nfound, fp_diag *d) {
  if (nfound) *nfound = 0;
  if (!p || !baseline_report || !f) return fp_diag_set(d, FP_ERR_INVAL, "drift: missing argument");
  fp_drift_opts def;
  if (!o) {
    fp_drift_opts_default(&def);
    o = &def;
  }
  side old = {0}, new = {0};
  json_error_t je;
  old.root = json_loads(baseline_report, 0, &je);
  fp_err e = old.root ? side_read(&old, d, "the baseline report")
                      : fp_diag_set(d, FP_ERR_JSON, "drift: baseline report: %s (line %d)", je.text,
                                    je.line);
  if (!e) e = side_from_profile(&new, p, d);
  ctx x = {o, f, 0, d};
  if (!e) e = compare(&x, &old, &new);
  if (nfound) *nfound = x.added;
  side_free(&old);
  side_free(&new);
  return e;
}
