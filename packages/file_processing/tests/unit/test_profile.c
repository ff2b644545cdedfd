/* test_profile.c — the streaming profiler fed hand-built records: header and row findings
 * with Frictionless row/field numbers, column statistics checked against values computed
 * here by plain loops, HLL switch-over, duplicate rows, missing values, bounded memory. */
#include "fp_test.h"

#include <inttypes.h>
#include <math.h>

#include "fp/fp_profile.h"
#include "quality/quality_int.h"

/* ---- helpers -------------------------------------------------------------------------- */

static fp_err feed_n(fp_profiler *p, uint64_t idx, uint32_t flags, const char *const *v,
                     uint32_t n) {
  fp_cell c[64];
  assert_true(n <= 64);
  for (uint32_t i = 0; i < n; i++) c[i] = (fp_cell){v[i], (uint32_t)strlen(v[i]), 0};
  fp_csv_record r = {c, n, flags, idx, 0, 0, 0};
  r.bad_offset = flags ? 1000 + idx : 0;
  return fp_profiler_record(p, &r, NULL);
}

static fp_err feed_row(fp_profiler *p, uint64_t idx, const char *const *v) {
  uint32_t n = 0;
  while (v[n]) n++;
  return feed_n(p, idx, 0, v, n);
}

#define ROW(p, idx, ...) \
  assert_int_equal(feed_row(p, idx, (const char *[]){__VA_ARGS__, NULL}), FP_OK)

typedef struct fx {
  fp_findings *f;
  fp_profiler *p;
} fx;

static fx mk(const fp_profile_opts *o, bool header) {
  fx x = {NULL, NULL};
  assert_int_equal(fp_findings_new(0, &x.f), FP_OK);
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_profiler_new(o, header, x.f, &x.p, &d), FP_OK);
  return x;
}

static void done(fx *x) {
  fp_profiler_free(x->p);
  fp_findings_free(x->f);
}

static void finish(fx *x) {
  assert_int_equal(fp_profiler_finish(x->p, 12345, NULL), FP_OK);
}

static const fp_finding_group *group(const fp_findings *f, const char *code, uint32_t field) {
  for (size_t i = 0; i < fp_findings_count_groups(f); i++) {
    const fp_finding_group *g = fp_findings_group(f, i);
    if (!strcmp(g->code, code) && g->field == field) return g;
  }
  return NULL;
}

static uint64_t code_total(const fp_findings *f, const char *code) {
  uint64_t n = 0;
  for (size_t i = 0; i < fp_findings_count_groups(f); i++)
    if (!strcmp(fp_findings_group(f, i)->code, code)) n += fp_findings_group(f, i)->count;
  return n;
}

/* ---- header --------------------------------------------------------------------------- */

static void test_header_findings(void **state) {
  (void)state;
  fx x = mk(NULL, true);
  ROW(x.p, 1, "id", "", "name", "id", " ", "name", "id");
  ROW(x.p, 2, "1", "a", "b", "c", "d", "e", "f");
  finish(&x);
  const fp_finding_group *g;
  /* blank-label: fields 2 and 5 (whitespace only counts as blank), row 1. */
  for (uint32_t fld = 2; fld <= 5; fld += 3) {
    assert_non_null(g = group(x.f, "blank-label", fld));
    assert_int_equal(g->count, 1);
    assert_int_equal(g->samples[0].row, 1);
    assert_int_equal(g->samples[0].field, fld);
    assert_int_equal(g->severity, FP_SEV_ERROR);
  }
  assert_int_equal(code_total(x.f, "blank-label"), 2);
  /* duplicate-label: 4 (= 1), 6 (= 3), 7 (= 1 and 4), notes as Frictionless words them. */
  struct {
    uint32_t field;
    const char *note, *label;
  } dups[] = {{4, "at position \"1\"", "id"},
              {6, "at position \"3\"", "name"},
              {7, "at position \"1, 4\"", "id"}};
  for (size_t i = 0; i < 3; i++) {
    assert_non_null(g = group(x.f, "duplicate-label", dups[i].field));
    assert_int_equal(g->samples[0].row, 1);
    assert_string_equal(g->samples[0].note, dups[i].note);
    assert_string_equal(g->samples[0].cell, dups[i].label);
    assert_string_equal(g->field_name, dups[i].label);
  }
  assert_int_equal(code_total(x.f, "duplicate-label"), 3);
  /* Columns: header width, blank labels named field<N>. */
  assert_int_equal(fp_profiler_ncolumns(x.p), 7);
  assert_int_equal(fp_profiler_table(x.p)->columns, 7);
  assert_string_equal(fp_profiler_column(x.p, 0)->name, "id");
  assert_string_equal(fp_profiler_column(x.p, 1)->name, "field2");
  assert_string_equal(fp_profiler_column(x.p, 4)->name, "field5");
  assert_int_equal(fp_profiler_column(x.p, 6)->index, 7);
  assert_int_equal(fp_profiler_table(x.p)->rows, 1);
  assert_int_equal(fp_profiler_table(x.p)->bytes, 12345);
  done(&x);
}

/* ---- row structure -------------------------------------------------------------------- */

static void test_row_structure(void **state) {
  (void)state;
  fx x = mk(NULL, true);
  ROW(x.p, 1, "id", "name", "age");
  ROW(x.p, 2, "1", "alice", "30");
  ROW(x.p, 3, "");                           /* blank line */
  ROW(x.p, 4, "2", "bob");                   /* one cell short */
  ROW(x.p, 5, "3", "carol", "40", "x", "y"); /* two extra */
  ROW(x.p, 6, "", "", "");                   /* blank */
  ROW(x.p, 7, "1", "alice", "30");           /* duplicate of row 2 */
  ROW(x.p, 8, "", "");                       /* short and blank: blank only */
  finish(&x);

  const fp_table_stats *t = fp_profiler_table(x.p);
  assert_int_equal(t->rows, 7);
  assert_int_equal(t->columns, 3);
  assert_int_equal(t->blank_rows, 3);
  assert_int_equal(t->rows_too_few, 1);
  assert_int_equal(t->rows_too_many, 1);
  assert_int_equal(t->duplicate_rows, 1);
  assert_true(t->duplicate_rows_exact);
  assert_int_equal(t->encoding_errors, 0);

  const fp_finding_group *g = group(x.f, "blank-row", 0);
  assert_non_null(g);
  assert_int_equal(g->count, 3);
  assert_int_equal(g->samples[0].row, 3);
  assert_int_equal(g->samples[1].row, 6);
  assert_int_equal(g->samples[2].row, 8);

  assert_non_null(g = group(x.f, "missing-cell", 3));
  assert_int_equal(g->count, 1);
  assert_int_equal(g->samples[0].row, 4);
  assert_string_equal(g->field_name, "age");
  assert_int_equal(code_total(x.f, "missing-cell"), 1); /* none for blank rows */

  assert_non_null(g = group(x.f, "extra-cell", 4));
  assert_int_equal(g->samples[0].row, 5);
  assert_string_equal(g->samples[0].cell, "x");
  assert_non_null(g = group(x.f, "extra-cell", 5));
  assert_int_equal(g->samples[0].row, 5);
  assert_string_equal(g->samples[0].cell, "y");
  assert_string_equal(g->samples[0].note, "row has 5 cells, header has 3");
  assert_int_equal(code_total(x.f, "extra-cell"), 2);

  assert_non_null(g = group(x.f, "duplicate-row", 0));
  assert_int_equal(g->severity, FP_SEV_WARNING);
  assert_int_equal(g->count, 1);
  assert_int_equal(g->samples[0].row, 7);
  assert_string_equal(g->samples[0].note, "the same as row at position \"2\"");

  /* Column counts: cells present in non-blank rows; the absent "age" of row 4 is neither
   * counted nor missing. */
  assert_int_equal(fp_profiler_column(x.p, 0)->count, 4);
  assert_int_equal(fp_profiler_column(x.p, 2)->count, 3);
  assert_int_equal(fp_profiler_column(x.p, 2)->missing, 0);
  assert_int_equal(fp_profiler_column(x.p, 2)->type, FP_TYPE_INTEGER);
  assert_int_equal(fp_findings_total(x.f, FP_SEV_ERROR), 3 + 1 + 2);
  assert_int_equal(fp_findings_total(x.f, FP_SEV_WARNING), 1);
  done(&x);
}

static void test_structural_severity_option(void **state) {
  (void)state;
  fp_profile_opts o;
  fp_profile_opts_default(&o);
  o.structural_severity = FP_SEV_WARNING;
  fx x = mk(&o, true);
  ROW(x.p, 1, "a", "b");
  ROW(x.p, 2, "1");
  finish(&x);
  assert_int_equal(group(x.f, "missing-cell", 2)->severity, FP_SEV_WARNING);
  done(&x);
}

static void test_row_hash_is_cell_exact(void **state) {
  (void)state;
  fx x = mk(NULL, true);
  ROW(x.p, 1, "a", "b");
  ROW(x.p, 2, "a,b");
  ROW(x.p, 3, "a", "b");
  ROW(x.p, 4, "ab", "");
  ROW(x.p, 5, "", "ab");
  ROW(x.p, 6, "a", "b", "");
  ROW(x.p, 7, "a", "b");
  finish(&x);
  assert_int_equal(fp_profiler_table(x.p)->duplicate_rows, 1);
  const fp_finding_group *g = group(x.f, "duplicate-row", 0);
  assert_int_equal(g->samples[0].row, 7);
  assert_string_equal(g->samples[0].note, "the same as row at position \"3\"");
  done(&x);
}

static void test_encoding_and_source_errors(void **state) {
  (void)state;
  fx x = mk(NULL, true);
  ROW(x.p, 1, "name", "n");
  ROW(x.p, 2, "ok", "1");
  const char bad[] = "caf\xe9";
  const char *v[] = {bad, "2"};
  assert_int_equal(feed_n(x.p, 3, FP_REC_INVALID_UTF8, v, 2), FP_OK);
  const char *v2[] = {"z", "3"};
  assert_int_equal(feed_n(x.p, 4, FP_REC_HAS_NUL, v2, 2), FP_OK);
  const char *v3[] = {"unterminated\n", "4"};
  assert_int_equal(feed_n(x.p, 5, FP_REC_UNTERMINATED, v3, 2), FP_OK);
  finish(&x);
  const fp_table_stats *t = fp_profiler_table(x.p);
  assert_int_equal(t->encoding_errors, 2);
  const fp_finding_group *g = group(x.f, "encoding-error", 0);
  assert_int_equal(g->count, 2);
  assert_int_equal(g->samples[0].row, 3);
  assert_non_null(strstr(g->samples[0].note, "1003")); /* byte offset from bad_offset */
  assert_non_null(strstr(g->samples[0].note, "UTF-8"));
  assert_int_equal(g->samples[1].row, 4);
  assert_non_null(strstr(g->samples[1].note, "NUL"));
  g = group(x.f, "source-error", 0);
  assert_int_equal(g->count, 1);
  assert_int_equal(g->samples[0].row, 5);
  assert_non_null(strstr(g->samples[0].note, "unterminated"));
  /* The rows are still profiled; stored texts are valid UTF-8 (Latin-1 byte replaced). */
  const fp_column_profile *c = fp_profiler_column(x.p, 0);
  assert_int_equal(c->count, 4);
  assert_int_equal(fp_profiler_column(x.p, 1)->count, 4);
  assert_string_equal(c->min, "caf\xef\xbf\xbd");
  assert_string_equal(c->max, "z");
  done(&x);
}

/* ---- column statistics ---------------------------------------------------------------- */

#define NR 10
static const char *const T[NR][8] = {
    /* int, num, bool, date, datetime, str, empty, mixed (dates + one datetime) */
    {"3", "1.5", "true", "2024-02-29", "2024-01-01T10:00:00Z", "pear", "", "2024-01-01"},
    {"-1", "2", "false", "2023-01-15", "2023-06-30 08:15:00", "apple", "", "2024-01-02T00:00:00"},
    {"", "", "True", "", "", "", "", ""},
    {"7", "-0.25", "", "2024-12-31", "2024-12-31T23:59:59.5+01:00",
     "\xc3\x9cn\xc3\xaf"
     "code",
     "", "2024-03-01"},
    {"3", "1e2", "FALSE", "2023-01-15", "2022-02-28T00:00:00", "apple", "", "2024-01-05"},
    {"10", "2", "true", "2000-01-01", "2024-01-01T10:00:00Z", "zebra", "", "2024-02-01"},
    {"3", "3.75", "true", "2024-02-29", "1999-12-31T23:59:59", "\xc3\xa1pple", "", "2023-01-01"},
    {"-1", "0.5", "false", "1999-12-31", "2000-01-01T00:00:00-05:00", "apple", "", "2024-01-01"},
    {"42", "7", "true", "2010-10-10", "2010-10-10T10:10:10", "kiwi", "", "2022-05-05"},
    {"3", "-3", "false", "2010-10-10", "2010-10-10T10:10:10", "pear", "", "2021-01-01"},
};
static const char *const NAMES[8] = {"int", "num", "bool", "date", "dt", "str", "empty", "mixed"};

static size_t utf8_len(const char *s) {
  size_t n = 0;
  for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
  return n;
}

typedef struct vc {
  const char *v;
  uint64_t n;
} vc;

static int vc_cmp(const void *a, const void *b) {
  const vc *x = a, *y = b;
  if (x->n != y->n) return x->n > y->n ? -1 : 1;
  return strcmp(x->v, y->v);
}

/* Expected count/missing/distinct/top/lengths/text min-max of column j, by plain loops. */
static void check_generic(const fp_column_profile *c, int j, bool check_text_minmax) {
  uint64_t count = 0, missing = 0;
  vc u[NR];
  size_t nu = 0;
  size_t minl = SIZE_MAX, maxl = 0, suml = 0, nv = 0;
  const char *mn = NULL, *mx = NULL;
  for (int r = 0; r < NR; r++) {
    const char *v = T[r][j];
    count++;
    if (!*v) {
      missing++;
      continue;
    }
    nv++;
    size_t l = utf8_len(v);
    minl = l < minl ? l : minl;
    maxl = l > maxl ? l : maxl;
    suml += l;
    if (!mn || strcmp(v, mn) < 0) mn = v;
    if (!mx || strcmp(v, mx) > 0) mx = v;
    size_t k = 0;
    while (k < nu && strcmp(u[k].v, v)) k++;
    if (k == nu) u[nu++] = (vc){v, 0};
    u[k].n++;
  }
  qsort(u, nu, sizeof *u, vc_cmp);
  assert_int_equal(c->count, count);
  assert_int_equal(c->missing, missing);
  assert_int_equal(c->distinct, nu);
  assert_false(c->distinct_approx);
  assert_false(c->top_approx);
  size_t ntop = nu < 5 ? nu : 5;
  assert_int_equal(c->ntop, ntop);
  for (size_t k = 0; k < ntop; k++) {
    assert_string_equal(c->top[k].value, u[k].v);
    assert_int_equal(c->top[k].count, u[k].n);
  }
  if (nv) {
    assert_int_equal(c->min_len, minl);
    assert_int_equal(c->max_len, maxl);
    assert_true(fabs(c->mean_len - (double)suml / (double)nv) < 1e-12);
  }
  if (check_text_minmax) {
    assert_string_equal(c->min, mn);
    assert_string_equal(c->max, mx);
  }
}

static void test_column_stats(void **state) {
  (void)state;
  fx x = mk(NULL, true);
  assert_int_equal(feed_row(x.p, 1,
                            (const char *[]){NAMES[0], NAMES[1], NAMES[2], NAMES[3], NAMES[4],
                                             NAMES[5], NAMES[6], NAMES[7], NULL}),
                   FP_OK);
  for (int r = 0; r < NR; r++) assert_int_equal(feed_n(x.p, 2 + (uint64_t)r, 0, T[r], 8), FP_OK);
  assert_null(fp_profiler_column(x.p, 0)); /* not before finish */
  finish(&x);
  assert_int_equal(fp_profiler_table(x.p)->rows, NR);
  assert_int_equal(fp_profiler_table(x.p)->blank_rows, 0);

  fp_type want[8] = {FP_TYPE_INTEGER,  FP_TYPE_NUMBER, FP_TYPE_BOOLEAN, FP_TYPE_DATE,
                     FP_TYPE_DATETIME, FP_TYPE_STRING, FP_TYPE_EMPTY,   FP_TYPE_STRING};
  for (int j = 0; j < 8; j++) {
    const fp_column_profile *c = fp_profiler_column(x.p, (size_t)j);
    assert_string_equal(c->name, NAMES[j]);
    if (c->type != want[j])
      fail_msg("column %s: type %s, want %s", NAMES[j], fp_type_name(c->type),
               fp_type_name(want[j]));
    bool textual = j >= 3 && j != 6;
    check_generic(c, j, textual);
  }

  /* Numeric columns: min/max/mean/stddev computed here in two passes. */
  for (int j = 0; j < 2; j++) {
    const fp_column_profile *c = fp_profiler_column(x.p, (size_t)j);
    double s = 0, mn = INFINITY, mx = -INFINITY;
    int n = 0;
    for (int r = 0; r < NR; r++) {
      if (!*T[r][j]) continue;
      double v = strtod(T[r][j], NULL);
      s += v;
      mn = v < mn ? v : mn;
      mx = v > mx ? v : mx;
      n++;
    }
    double mean = s / n, ss = 0;
    for (int r = 0; r < NR; r++)
      if (*T[r][j]) ss += (strtod(T[r][j], NULL) - mean) * (strtod(T[r][j], NULL) - mean);
    double sd = sqrt(ss / (n - 1));
    assert_true(c->has_mean);
    if (fabs(c->mean - mean) > 1e-12 || fabs(c->stddev - sd) > 1e-12)
      fail_msg("%s: mean %.17g sd %.17g, want %.17g %.17g", NAMES[j], c->mean, c->stddev, mean, sd);
    assert_true(strtod(c->min, NULL) == mn);
    assert_true(strtod(c->max, NULL) == mx);
  }
  /* Rendering: integers as integers, numbers in shortest round-trip form. */
  assert_string_equal(fp_profiler_column(x.p, 0)->min, "-1");
  assert_string_equal(fp_profiler_column(x.p, 0)->max, "42");
  assert_string_equal(fp_profiler_column(x.p, 1)->min, "-3");
  assert_string_equal(fp_profiler_column(x.p, 1)->max, "100");
  /* Boolean. */
  const fp_column_profile *b = fp_profiler_column(x.p, 2);
  assert_string_equal(b->min, "false");
  assert_string_equal(b->max, "true");
  assert_false(b->has_mean);
  /* Dates: lexicographic = chronological. */
  assert_string_equal(fp_profiler_column(x.p, 3)->min, "1999-12-31");
  assert_string_equal(fp_profiler_column(x.p, 3)->max, "2024-12-31");
  assert_false(fp_profiler_column(x.p, 5)->has_mean);
  /* Empty column. */
  const fp_column_profile *e = fp_profiler_column(x.p, 6);
  assert_null(e->min);
  assert_null(e->max);
  assert_int_equal(e->distinct, 0);
  assert_int_equal(e->ntop, 0);
  assert_int_equal(e->missing, NR);
  assert_int_equal(e->min_len, 0);
  assert_int_equal(e->max_len, 0);
  done(&x);
}

static void test_boolean_minmax_one_sided(void **state) {
  (void)state;
  fx x = mk(NULL, true);
  ROW(x.p, 1, "t", "f", "n");
  ROW(x.p, 2, "true", "false", "NaN");
  ROW(x.p, 3, "TRUE", "False", "nan");
  finish(&x);
  assert_string_equal(fp_profiler_column(x.p, 0)->min, "true");
  assert_string_equal(fp_profiler_column(x.p, 0)->max, "true");
  assert_string_equal(fp_profiler_column(x.p, 1)->min, "false");
  assert_string_equal(fp_profiler_column(x.p, 1)->max, "false");
  const fp_column_profile *n = fp_profiler_column(x.p, 2);
  assert_int_equal(n->type, FP_TYPE_NUMBER);
  assert_string_equal(n->min, "NaN");
  assert_false(n->has_mean);
  done(&x);
}

static void test_single_value_stddev_zero(void **state) {
  (void)state;
  fx x = mk(NULL, true);
  ROW(x.p, 1, "a");
  ROW(x.p, 2, "5");
  finish(&x);
  const fp_column_profile *c = fp_profiler_column(x.p, 0);
  assert_true(c->has_mean);
  assert_true(c->mean == 5.0);
  assert_true(c->stddev == 0.0);
  done(&x);
}

/* ---- distinct and top values past the exact bound ------------------------------------- */

static void test_distinct_switches_to_hll(void **state) {
  (void)state;
  fp_profile_opts o;
  fp_profile_opts_default(&o);
  o.dup_rows_memory = 1 << 20;
  fx x = mk(&o, true);
  ROW(x.p, 1, "id", "hot", "exact", "over");
  const uint32_t N = 100000;
  uint64_t hot_true = 0;
  for (uint32_t i = 0; i < N; i++) {
    char id[24], hot[24], ex[24], ov[24];
    snprintf(id, sizeof id, "v%u", i);
    /* "hot" every third row, otherwise unique values. */
    if (i % 3 == 0) {
      snprintf(hot, sizeof hot, "hot");
      hot_true++;
    } else {
      snprintf(hot, sizeof hot, "u%u", i);
    }
    snprintf(ex, sizeof ex, "e%u", i % 10000); /* exactly 10000 distinct */
    snprintf(ov, sizeof ov, "o%u", i % 10001); /* one more than the bound */
    const char *v[] = {id, hot, ex, ov};
    assert_int_equal(feed_n(x.p, 2 + i, 0, v, 4), FP_OK);
  }
  finish(&x);
  const fp_column_profile *c = fp_profiler_column(x.p, 0);
  assert_true(c->distinct_approx);
  double err = fabs((double)c->distinct - N) / N;
  if (err > 0.02) fail_msg("HLL estimate %" PRIu64 " for %u distinct", c->distinct, N);
  assert_true(c->top_approx);

  c = fp_profiler_column(x.p, 1);
  assert_true(c->distinct_approx);
  uint64_t want_distinct = 1 + (N - hot_true);
  assert_true(fabs((double)c->distinct - (double)want_distinct) / (double)want_distinct < 0.02);
  assert_string_equal(c->top[0].value, "hot");
  /* Space-saving lower bound: <= true count and within N/64 of it. */
  assert_true(c->top[0].count <= hot_true);
  assert_true(c->top[0].count + N / 64 >= hot_true);

  c = fp_profiler_column(x.p, 2);
  assert_false(c->distinct_approx);
  assert_int_equal(c->distinct, 10000);
  assert_false(c->top_approx);
  assert_int_equal(c->top[0].count, 10); /* every value 10 times; ties by text asc */
  assert_string_equal(c->top[0].value, "e0");
  assert_string_equal(c->top[1].value, "e1");
  assert_string_equal(c->top[2].value, "e10");

  c = fp_profiler_column(x.p, 3);
  assert_true(c->distinct_approx);
  assert_true(fabs((double)c->distinct - 10001.0) / 10001.0 < 0.02);
  assert_int_equal(c->count, N);
  done(&x);
}

/* Top values of a column that is mostly unique values with frequent ones mixed in (a free
 * text column with a few boilerplate answers): once the sketch takes over, the filtered
 * space-saving sketch still names the five most frequent values, in order, with lower
 * bounds within 1% of their true counts. On this stream the unfiltered sketch got the
 * ranking wrong, with lower bounds down to 6% of the truth: unique values kept evicting
 * the frequent ones. */
static void test_top_values_among_unique_values(void **state) {
  (void)state;
  fp_profile_opts o;
  fp_profile_opts_default(&o);
  o.distinct_exact_limit = 1000;
  o.dup_rows_memory = 1 << 20;
  fx x = mk(&o, true);
  ROW(x.p, 1, "answer");
  /* 300,000 values from a fixed LCG: 70% unique, 30% one of 30 values with weights
   * 40..11, so value j is 0.3 (40 - j)/765 of all: 1.6% down to 0.4%. */
  uint64_t truth[30] = {0}, row = 2, uniq = 0, lcg = 42;
  for (uint32_t i = 0; i < 300000; i++) {
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    uint32_t r = (uint32_t)(lcg >> 33) % 1000;
    char v[24];
    if (r < 700) {
      snprintf(v, sizeof v, "u%" PRIu64, uniq++);
    } else {
      uint32_t w = (uint32_t)(lcg >> 17) % 765, j = 0;
      while (w >= 40 - j) w -= 40 - j++;
      snprintf(v, sizeof v, "f%02u", j);
      truth[j]++;
    }
    const char *cell[] = {v};
    assert_int_equal(feed_n(x.p, row++, 0, cell, 1), FP_OK);
  }
  finish(&x);
  const fp_column_profile *c = fp_profiler_column(x.p, 0);
  assert_true(c->top_approx);
  assert_int_equal(c->ntop, FP_TOPK);
  uint32_t order[30]; /* the true ranking: count desc, then name asc */
  for (uint32_t j = 0; j < 30; j++) {
    uint32_t k = j;
    for (; k > 0 && truth[order[k - 1]] < truth[j]; k--) order[k] = order[k - 1];
    order[k] = j;
  }
  for (uint32_t t = 0; t < FP_TOPK; t++) {
    uint32_t j = order[t];
    char want[24];
    snprintf(want, sizeof want, "f%02u", j);
    if (strcmp(c->top[t].value, want) != 0)
      fail_msg("top[%u] is %s, expected %s", t, c->top[t].value, want);
    if (c->top[t].count > truth[j] || c->top[t].count * 100 < truth[j] * 99)
      fail_msg("top[%u] %s: lower bound %" PRIu64 ", true count %" PRIu64, t, want,
               c->top[t].count, truth[j]);
  }
  done(&x);
}

/* Long values: texts kept for min/max and top values are cut to 256 bytes on a character
 * boundary, and more than 1 MiB of distinct texts hands top values to the sketch while the
 * distinct count stays exact. */
static bool valid_utf8_simple(const char *s) {
  const unsigned char *u = (const unsigned char *)s;
  while (*u) {
    int k = *u < 0x80             ? 0
            : (*u & 0xE0) == 0xC0 ? 1
            : (*u & 0xF0) == 0xE0 ? 2
            : (*u & 0xF8) == 0xF0 ? 3
                                  : -1;
    if (k < 0) return false;
    u++;
    for (int i = 0; i < k; i++, u++)
      if ((*u & 0xC0) != 0x80) return false;
  }
  return true;
}

static void test_long_values(void **state) {
  (void)state;
  fx x = mk(NULL, true);
  ROW(x.p, 1, "long");
  const int N = 5000; /* 5000 x 256 bytes > 1 MiB of texts */
  static char v[400], heavy[400];
  uint64_t idx = 2, heavy_true = 0;
  for (int i = 0; i < N; i++) {
    int k = snprintf(v, sizeof v, "%05d", i);
    while (k + 2 < 300) { /* then 2-byte characters: 256 falls inside one when k is odd */
      v[k++] = (char)0xC3;
      v[k++] = (char)0xA9;
    }
    v[k] = '\0';
    if (i == 7) memcpy(heavy, v, sizeof v);
    const char *vv[] = {v};
    assert_int_equal(feed_n(x.p, idx++, 0, vv, 1), FP_OK);
    heavy_true += i == 7;
    if (i >= 7 && i % 10 == 0) { /* value 7 recurs: a heavy hitter */
      const char *hv[] = {heavy};
      assert_int_equal(feed_n(x.p, idx++, 0, hv, 1), FP_OK);
      heavy_true++;
    }
  }
  uint64_t total = idx - 2;
  finish(&x);
  const fp_column_profile *c = fp_profiler_column(x.p, 0);
  assert_int_equal(c->type, FP_TYPE_STRING);
  assert_false(c->distinct_approx);
  assert_int_equal(c->distinct, (uint64_t)N);
  assert_true(c->top_approx);
  assert_int_equal(c->ntop, 5);
  /* The heavy hitter leads; every reported count is a lower bound of the true count and
   * the heavy one is within total/64 of it (space-saving's guarantee). */
  assert_true(strncmp(c->top[0].value, "00007", 5) == 0);
  assert_true(c->top[0].count <= heavy_true);
  assert_true(c->top[0].count + total / 64 >= heavy_true);
  for (size_t k = 1; k < c->ntop; k++) assert_int_equal(c->top[k].count, 1);
  assert_true(strlen(c->min) <= 256 && strlen(c->max) <= 256);
  assert_true(strlen(c->min) >= 254);
  assert_true(valid_utf8_simple(c->min) && valid_utf8_simple(c->max));
  assert_true(strncmp(c->min, "00000", 5) == 0);
  assert_true(strncmp(c->max, "04999", 5) == 0);
  for (size_t k = 0; k < c->ntop; k++) {
    assert_true(strlen(c->top[k].value) <= 256);
    assert_true(valid_utf8_simple(c->top[k].value));
  }
  /* 5 ASCII digits + 147 two-byte characters. */
  assert_int_equal(c->min_len, 5 + 147);
  assert_int_equal(c->max_len, 5 + 147);
  done(&x);
}

/* ---- duplicates bound, no header, missing values -------------------------------------- */

static void test_duplicate_set_bounded(void **state) {
  (void)state;
  fp_profile_opts o;
  fp_profile_opts_default(&o);
  o.dup_rows_memory = 1024; /* room for ~85 row hashes */
  fx x = mk(&o, true);
  ROW(x.p, 1, "k");
  uint64_t idx = 2;
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < 200; i++) {
      char v[16];
      snprintf(v, sizeof v, "%d", i);
      const char *vv[] = {v};
      assert_int_equal(feed_n(x.p, idx++, 0, vv, 1), FP_OK);
    }
  finish(&x);
  const fp_table_stats *t = fp_profiler_table(x.p);
  assert_false(t->duplicate_rows_exact);
  assert_true(t->duplicate_rows > 0 && t->duplicate_rows < 200);
  assert_int_equal(code_total(x.f, "duplicate-row"), t->duplicate_rows);
  done(&x);
}

static void test_no_header(void **state) {
  (void)state;
  fx x = mk(NULL, false);
  ROW(x.p, 1, "1", "a", "x");
  ROW(x.p, 2, "2", "b");
  ROW(x.p, 3, "3", "c", "z");
  finish(&x);
  assert_int_equal(fp_profiler_ncolumns(x.p), 3);
  assert_string_equal(fp_profiler_column(x.p, 0)->name, "field1");
  assert_string_equal(fp_profiler_column(x.p, 2)->name, "field3");
  const fp_table_stats *t = fp_profiler_table(x.p);
  assert_int_equal(t->rows, 3);
  assert_int_equal(fp_profiler_column(x.p, 0)->count, 3);
  assert_string_equal(fp_profiler_column(x.p, 0)->min, "1");
  assert_string_equal(fp_profiler_column(x.p, 0)->max, "3");
  const fp_finding_group *g = group(x.f, "missing-cell", 3);
  assert_non_null(g);
  assert_int_equal(g->samples[0].row, 2);
  assert_string_equal(g->field_name, "field3");
  assert_null(group(x.f, "blank-label", 1));
  done(&x);
}

static void test_custom_missing_values(void **state) {
  (void)state;
  static const char *const mv[] = {"NA", "-"};
  fp_profile_opts o;
  fp_profile_opts_default(&o);
  o.missing_values = mv;
  o.nmissing = 2;
  fx x = mk(&o, true);
  ROW(x.p, 1, "n", "s");
  ROW(x.p, 2, "5", "a");
  ROW(x.p, 3, "NA", ""); /* "" is a value now, not missing */
  ROW(x.p, 4, "-", "b");
  ROW(x.p, 5, "7", "NA");
  ROW(x.p, 6, "NA", "-"); /* every cell missing: blank row */
  finish(&x);
  const fp_column_profile *n = fp_profiler_column(x.p, 0);
  assert_int_equal(n->type, FP_TYPE_INTEGER);
  assert_int_equal(n->count, 4);
  assert_int_equal(n->missing, 2);
  assert_int_equal(n->distinct, 2);
  assert_string_equal(n->min, "5");
  assert_string_equal(n->max, "7");
  const fp_column_profile *s = fp_profiler_column(x.p, 1);
  assert_int_equal(s->type, FP_TYPE_STRING);
  assert_int_equal(s->missing, 1);
  assert_int_equal(s->distinct, 3); /* "a", "", "b" */
  assert_string_equal(s->min, "");
  assert_int_equal(s->min_len, 0);
  assert_int_equal(fp_profiler_table(x.p)->blank_rows, 1);
  assert_int_equal(group(x.f, "blank-row", 0)->samples[0].row, 6);
  done(&x);
}

static void test_misuse(void **state) {
  (void)state;
  fx x = mk(NULL, true);
  ROW(x.p, 1, "a");
  finish(&x);
  const char *v[] = {"1"};
  assert_int_equal(feed_n(x.p, 2, 0, v, 1), FP_ERR_INVAL);
  assert_int_equal(fp_profiler_finish(x.p, 0, NULL), FP_ERR_INVAL);
  assert_null(fp_profiler_column(x.p, 1));
  done(&x);
  fp_profiler_free(NULL);
  fp_profiler *p = NULL;
  assert_int_equal(fp_profiler_new(NULL, true, NULL, &p, NULL), FP_ERR_INVAL);
  /* An empty input: no columns, no rows. */
  fx y = mk(NULL, true);
  finish(&y);
  assert_int_equal(fp_profiler_ncolumns(y.p), 0);
  assert_int_equal(fp_profiler_table(y.p)->rows, 0);
  done(&y);
}

/* ---- bounded memory ------------------------------------------------------------------- */

/* Resident set size from /proc/self/statm (second field, in pages). */
static long rss_kib(void) {
  char buf[128];
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return -1;
  char *ok = fgets(buf, sizeof buf, f);
  fclose(f);
  if (!ok) return -1;
  char *end;
  (void)strtol(buf, &end, 10);
  long res = strtol(end, NULL, 10);
  return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static uint64_t rng(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* Under ASan the quarantine and shadow memory make RSS meaningless: the workload still
 * runs (shorter), the RSS assertion does not. */
#if defined(__SANITIZE_ADDRESS__)
#define FP_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FP_TEST_ASAN 1
#endif
#endif
#ifndef FP_TEST_ASAN
#define FP_TEST_ASAN 0
#endif

static void test_memory_bounded(void **state) {
  (void)state;
  const uint64_t nrows = FP_TEST_ASAN ? 300000 : 2000000;
  fp_profile_opts o;
  fp_profile_opts_default(&o);
  o.dup_rows_memory = 1 << 20;
  fx x = mk(&o, true);
  ROW(x.p, 1, "a", "b", "c", "d", "e", "f");
  uint64_t seed = 88172645463325252ull;
  long base = 0;
  for (uint64_t i = 0; i < nrows; i++) {
    char a[24], b[24], c[24], d[40], e[24];
    uint64_t r = rng(&seed);
    snprintf(a, sizeof a, "%" PRIu64, r % 1000000007);
    snprintf(b, sizeof b, "%.6f", (double)(r >> 11) / 9007199254740992.0);
    snprintf(c, sizeof c, "name-%" PRIx64, rng(&seed));
    snprintf(d, sizeof d, "2024-%02d-%02dT10:00:00Z", (int)(r % 12) + 1, (int)(r % 28) + 1);
    snprintf(e, sizeof e, "%s", (r & 1) ? "true" : "false");
    const char *v[] = {a, b, c, d, e, "const"};
    fp_cell cells[6];
    for (int k = 0; k < 6; k++) cells[k] = (fp_cell){v[k], (uint32_t)strlen(v[k]), 0};
    fp_csv_record rec = {cells, 6, 0, 2 + i, 0, 0, 0};
    if (fp_profiler_record(x.p, &rec, NULL) != FP_OK) fail_msg("record %" PRIu64, i);
    if (i == 100000) base = rss_kib();
  }
  long end = rss_kib();
  finish(&x);
  long growth = end - base;
  fprintf(stderr, "RSS after 100k rows %ld KiB, after %" PRIu64 " rows %ld KiB (growth %ld KiB)\n",
          base, nrows, end, growth);
  if (!FP_TEST_ASAN) {
    assert_true(base > 0);
    assert_true(growth < 4096);
  }
  assert_int_equal(fp_profiler_table(x.p)->rows, nrows);
  assert_false(fp_profiler_table(x.p)->duplicate_rows_exact); /* the 1 MiB set filled up */
  assert_true(fp_profiler_column(x.p, 0)->distinct_approx);
  assert_int_equal(fp_profiler_column(x.p, 4)->type, FP_TYPE_BOOLEAN);
  assert_int_equal(fp_profiler_column(x.p, 5)->distinct, 1);
  assert_int_equal(fp_profiler_column(x.p, 5)->top[0].count, nrows);
  done(&x);
}

/* ---- histogram ------------------------------------------------------------------------ */

/* Deterministic pseudo-random doubles (xorshift), spread over [lo, lo + span). */
static double rnd(uint64_t *st, double lo, double span) {
  *st ^= *st << 13;
  *st ^= *st >> 7;
  *st ^= *st << 17;
  return lo + span * (double)(*st >> 11) / 9007199254740992.0;
}

static void check_bins_exact(const fp__hist *h, const double *v, size_t n) {
  uint64_t want[FP_HIST_BINS] = {0};
  for (size_t i = 0; i < n; i++) {
    double b = floor((v[i] - h->lo) / h->w);
    assert_true(b >= 0 && b < FP_HIST_BINS);
    want[(size_t)b]++;
  }
  for (size_t i = 0; i < FP_HIST_BINS; i++) assert_int_equal(h->c[i], want[i]);
}

static void test_hist_widens_and_merges_exactly(void **state) {
  (void)state;
  enum { N = 4000 };
  static double v[N];
  uint64_t st = 88172645463325252ull;
  fp__hist all, a, b;
  fp__hist_init(&all);
  fp__hist_init(&a);
  fp__hist_init(&b);
  /* a narrow start, then values far below and above force several widenings */
  for (size_t i = 0; i < N; i++) {
    v[i] = i < 100 ? rnd(&st, 10, 1) : i < 2000 ? rnd(&st, -500, 400) : rnd(&st, 0, 9000);
    fp__hist_add(&all, v[i]);
    fp__hist_add(i % 2 ? &a : &b, v[i]);
  }
  assert_int_equal(all.n, N);
  check_bins_exact(&all, v, N);
  fp__hist_merge(&a, &b);
  assert_int_equal(a.n, N);
  check_bins_exact(&a, v, N);
  assert_true(a.vmin == all.vmin && a.vmax == all.vmax);
  /* a single point merged into a binned histogram, and the other way round */
  fp__hist p1, p2;
  fp__hist_init(&p1);
  fp__hist_add(&p1, 7.0);
  fp__hist_add(&p1, 7.0);
  p2 = p1;
  fp__hist_merge(&p2, &all);
  assert_int_equal(p2.n, N + 2);
  fp__hist_merge(&all, &p1);
  assert_int_equal(all.n, N + 2);
  for (size_t i = 0; i < FP_HIST_BINS; i++) assert_int_equal(all.c[i], p2.c[i]);
}

static void test_hist_export_quantiles(void **state) {
  (void)state;
  fp__hist h;
  fp__hist_init(&h);
  for (int i = 1; i <= 1000; i++) fp__hist_add(&h, i);
  fp__hist_add(&h, NAN); /* ignored */
  fp_column_histogram out;
  fp__hist_export(&h, FP_HIST_NUMBER, &out);
  assert_true(out.present);
  double w = (out.hi - out.lo) / out.nbins;
  uint64_t total = 0;
  for (uint32_t i = 0; i < out.nbins; i++) total += out.counts[i];
  assert_int_equal(total, 1000);
  assert_true(out.counts[0] > 0 && out.counts[out.nbins - 1] > 0);
  /* exact linear-interpolation quantiles of 1..1000: 1 + p * 999 */
  assert_true(fabs(out.p05 - 50.95) <= w);
  assert_true(fabs(out.p50 - 500.5) <= w);
  assert_true(fabs(out.p95 - 950.05) <= w);
  fp__hist_init(&h);
  fp__hist_add(&h, 3.5);
  fp__hist_export(&h, FP_HIST_DAY, &out);
  assert_true(out.present && out.nbins == 1 && out.lo == 3.5 && out.hi == 3.5);
  assert_true(out.p25 == 3.5 && out.counts[0] == 1);
  fp__hist_init(&h);
  fp__hist_export(&h, FP_HIST_NUMBER, &out);
  assert_false(out.present);
}

/* Many high-cardinality columns: the exact tables of all columns together stay within
 * exact_memory; columns past it go approximate (and say so), counts stay close, and with
 * room for everything nothing goes approximate. */
static void test_exact_memory_budget_over_columns(void **state) {
  (void)state;
  enum { NCOLS = 40, NROWS = 3000 };
  for (int tight = 0; tight < 2; tight++) {
    fp_profile_opts o;
    fp_profile_opts_default(&o);
    o.dup_rows_memory = 1 << 20;
    o.exact_memory = tight ? (size_t)256 << 10 : (size_t)64 << 20;
    fx x = mk(&o, true);
    char names[NCOLS][8], vals[NCOLS][24];
    const char *v[NCOLS];
    for (int k = 0; k < NCOLS; k++) snprintf(names[k], sizeof names[k], "c%d", k), v[k] = names[k];
    assert_int_equal(feed_n(x.p, 1, 0, v, NCOLS), FP_OK);
    for (uint32_t i = 0; i < NROWS; i++) {
      for (int k = 0; k < NCOLS; k++) snprintf(vals[k], sizeof vals[k], "%d-%u", k, i), v[k] = vals[k];
      assert_int_equal(feed_n(x.p, 2 + i, 0, v, NCOLS), FP_OK);
    }
    finish(&x);
    int approx = 0;
    for (int k = 0; k < NCOLS; k++) {
      const fp_column_profile *c = fp_profiler_column(x.p, (uint32_t)k);
      approx += c->distinct_approx;
      double err = fabs((double)c->distinct - NROWS) / NROWS;
      if (err > 0.03) fail_msg("column %d: distinct %" PRIu64 " for %d", k, c->distinct, NROWS);
    }
    if (tight) assert_true(approx > NCOLS / 2); /* 40 x 3000 values need ~4 MiB exact */
    else assert_int_equal(approx, 0);
    done(&x);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_exact_memory_budget_over_columns),
      cmocka_unit_test(test_header_findings),
      cmocka_unit_test(test_row_structure),
      cmocka_unit_test(test_structural_severity_option),
      cmocka_unit_test(test_row_hash_is_cell_exact),
      cmocka_unit_test(test_encoding_and_source_errors),
      cmocka_unit_test(test_column_stats),
      cmocka_unit_test(test_boolean_minmax_one_sided),
      cmocka_unit_test(test_single_value_stddev_zero),
      cmocka_unit_test(test_distinct_switches_to_hll),
      cmocka_unit_test(test_top_values_among_unique_values),
      cmocka_unit_test(test_long_values),
      cmocka_unit_test(test_duplicate_set_bounded),
      cmocka_unit_test(test_no_header),
      cmocka_unit_test(test_custom_missing_values),
      cmocka_unit_test(test_misuse),
      cmocka_unit_test(test_memory_bounded),
      cmocka_unit_test(test_hist_widens_and_merges_exactly),
      cmocka_unit_test(test_hist_export_quantiles),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
