/* test_drift.c — fp_drift_compare on small hand-built tables: the baseline is the report of
 * one profile, the new side another profile, so both go through the real report shape.
 * Checks what each kind reports (and that an unchanged table reports nothing), rules
 * switched off or re-severitied, and baselines that are not reports. */
#include "fp_test.h"

#include "fp/fp_drift.h"
#include "fp/fp_report.h"

typedef struct tbl {
  fp_findings *f;
  fp_profiler *p;
} tbl;

/* Profiles a header plus n generated rows: row(i, cells) fills the cells of row i. */
static tbl profile(const char *const *header, uint32_t ncols, size_t n,
                   void (*row)(size_t i, char cells[][32])) {
  tbl t = {NULL, NULL};
  assert_int_equal(fp_findings_new(0, &t.f), FP_OK);
  assert_int_equal(fp_profiler_new(NULL, true, t.f, &t.p, NULL), FP_OK);
  fp_cell c[8];
  char cells[8][32];
  for (uint32_t j = 0; j < ncols; j++) c[j] = (fp_cell){header[j], (uint32_t)strlen(header[j]), 0};
  fp_csv_record r = {c, ncols, 0, 1, 0, 0, 0};
  assert_int_equal(fp_profiler_record(t.p, &r, NULL), FP_OK);
  for (size_t i = 0; i < n; i++) {
    row(i, cells);
    for (uint32_t j = 0; j < ncols; j++) c[j] = (fp_cell){cells[j], (uint32_t)strlen(cells[j]), 0};
    r.index = i + 2;
    assert_int_equal(fp_profiler_record(t.p, &r, NULL), FP_OK);
  }
  assert_int_equal(fp_profiler_finish(t.p, 0, NULL), FP_OK);
  return t;
}

static char *report_of(const tbl *t) {
  fp_report_input in = {.job_name = "profile", .size = -1, .profiler = t->p, .findings = t->f};
  char *json = NULL;
  assert_int_equal(fp_report_render(&in, 0, &json, NULL), FP_OK);
  return json;
}

static void tbl_free(tbl *t) {
  fp_profiler_free(t->p);
  fp_findings_free(t->f);
}

static const char *const HDR[] = {"id", "amount", "kind", "note"};

static void base_row(size_t i, char c[][32]) {
  snprintf(c[0], 32, "%zu", 1000 + i);
  snprintf(c[1], 32, "%zu.5", 100 + (i * 37) % 200);
  snprintf(c[2], 32, "%s", i % 3 == 0 ? "a" : i % 3 == 1 ? "b" : "c");
  snprintf(c[3], 32, "%s", i % 4 ? "x" : "");
}

static void drifted_row(size_t i, char c[][32]) {
  base_row(i, c);
  snprintf(c[1], 32, "%zu.5", 400 + (i * 37) % 200); /* amounts moved up */
  if (i % 5 == 0) snprintf(c[2], 32, "z");           /* a new kind, 20% */
  if (i % 2 == 0) c[3][0] = '\0';                    /* notes missing more */
}

/* The findings of a comparison of new against base, as a fresh collector; owned. */
static fp_findings *compare(const tbl *base, const tbl *new, const fp_drift_opts *o, size_t *n) {
  char *json = report_of(base);
  fp_findings *f = NULL;
  assert_int_equal(fp_findings_new(0, &f), FP_OK);
  fp_diag d;
  fp_diag_clear(&d);
  fp_err e = fp_drift_compare(new->p, json, o, f, n, &d);
  if (e) fail_msg("fp_drift_compare: %s", d.msg);
  free(json);
  return f;
}

static const fp_finding_group *group(const fp_findings *f, const char *code, uint32_t field) {
  for (size_t i = 0; i < fp_findings_count_groups(f); i++) {
    const fp_finding_group *g = fp_findings_group(f, i);
    if (!strcmp(g->code, code) && g->field == field) return g;
  }
  return NULL;
}

static void test_unchanged_table_has_no_drift(void **state) {
  (void)state;
  tbl a = profile(HDR, 4, 600, base_row), b = profile(HDR, 4, 600, base_row);
  size_t n = 99;
  fp_findings *f = compare(&a, &b, NULL, &n);
  assert_int_equal(n, 0);
  assert_int_equal(fp_findings_count_groups(f), 0);
  fp_findings_free(f);
  tbl_free(&a);
  tbl_free(&b);
}

static void test_each_kind(void **state) {
  (void)state;
  tbl a = profile(HDR, 4, 600, base_row), b = profile(HDR, 4, 300, drifted_row);
  size_t n = 0;
  fp_findings *f = compare(&a, &b, NULL, &n);
  const fp_finding_group *g = group(f, "volume-drift", 0);
  assert_non_null(g);
  assert_string_equal(g->samples[0].cell, "600 -> 300");
  assert_int_equal(g->severity, FP_SEV_WARNING);
  g = group(f, "distribution-drift", 2);
  assert_non_null(g);
  assert_string_equal(g->field_name, "amount");
  assert_non_null(strstr(g->samples[0].note, "KS distance 1.00"));
  g = group(f, "category-drift", 3);
  assert_non_null(g);
  assert_non_null(strstr(g->samples[0].note, "'z' (60)"));
  g = group(f, "missing-drift", 4);
  assert_non_null(g);
  assert_string_equal(g->samples[0].cell, "25.0% -> 50.0%");
  assert_null(group(f, "distribution-drift", 1)); /* id: an identifier, only fewer rows */
  assert_null(group(f, "schema-drift", 0));
  assert_int_equal(n, 4);
  fp_findings_free(f);

  /* rules: a kind switched off, another made an error */
  fp_drift_opts o;
  fp_drift_opts_default(&o);
  o.rule[FP_DRIFT_CATEGORY].ignore = true;
  o.rule[FP_DRIFT_VOLUME].severity = FP_SEV_ERROR;
  o.rule[FP_DRIFT_MISSING].max_change = 0.3;
  f = compare(&a, &b, &o, &n);
  assert_null(group(f, "category-drift", 3));
  assert_null(group(f, "missing-drift", 4));
  assert_int_equal(group(f, "volume-drift", 0)->severity, FP_SEV_ERROR);
  fp_findings_free(f);
  tbl_free(&a);
  tbl_free(&b);
}

static const char *const HDR_RENAMED[] = {"amount", "id", "category", "extra"};

static void renamed_row(size_t i, char c[][32]) {
  char b[8][32];
  base_row(i, b);
  snprintf(c[0], 32, "%s", b[1]);
  snprintf(c[1], 32, "%s", b[0]);
  snprintf(c[2], 32, "%s", b[2]);
  snprintf(c[3], 32, "%zu", i % 7);
}

static void test_schema(void **state) {
  (void)state;
  tbl a = profile(HDR, 4, 600, base_row), b = profile(HDR_RENAMED, 4, 600, renamed_row);
  fp_findings *f = compare(&a, &b, NULL, NULL);
  const fp_finding_group *g = group(f, "schema-drift", 3);
  assert_non_null(g);
  assert_string_equal(g->samples[0].cell, "kind -> category");
  g = group(f, "schema-drift", 4);
  assert_non_null(g);
  assert_non_null(strstr(g->samples[0].note, "column 'extra' added at position 4"));
  g = group(f, "schema-drift", 0); /* table level: removed and reordered */
  assert_non_null(g);
  assert_int_equal(g->count, 2);
  assert_non_null(strstr(g->samples[0].note, "column 'note' removed (was position 4"));
  assert_non_null(strstr(g->samples[1].note, "'amount' 2 -> 1"));
  assert_non_null(strstr(g->samples[1].note, "'id' 1 -> 2"));
  fp_findings_free(f);
  tbl_free(&a);
  tbl_free(&b);
}

static void test_bad_baselines(void **state) {
  (void)state;
  tbl b = profile(HDR, 4, 10, base_row);
  fp_findings *f = NULL;
  assert_int_equal(fp_findings_new(0, &f), FP_OK);
  static const char *const bad[] = {"not json", "{\"columns\": 3}", "[]",
                                    "{\"columns\": [{\"name\": \"a\"}]}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    fp_diag d;
    fp_diag_clear(&d);
    size_t n = 9;
    assert_int_equal(fp_drift_compare(b.p, bad[i], NULL, f, &n, &d), FP_ERR_JSON);
    assert_int_equal(n, 0);
  }
  assert_int_equal(fp_findings_count_groups(f), 0);
  /* a report of an older build (no histograms) is still compared, minus distributions */
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(
      fp_drift_compare(b.p, "{\"table\":{\"rows\":100},\"columns\":[]}", NULL, f, NULL, &d), FP_OK);
  assert_non_null(group(f, "volume-drift", 0));
  fp_findings_free(f);
  tbl_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unchanged_table_has_no_drift),
      cmocka_unit_test(test_each_kind),
      cmocka_unit_test(test_schema),
      cmocka_unit_test(test_bad_baselines),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
