/* test_report_html.c — the HTML report: sections present, data escaped (a hostile value
 * comes out inert), charts on the right columns, drift in its own section, optional parts
 * absent without harm, clear errors for malformed input; and the FP_REPORT_HTML_DIR
 * writer refusing keys that would leave its directory. */
#include "fp_test.h"

#include <errno.h>
#include <fcntl.h>

#include "fp/fp_report_html.h"
#include "jobs/jobs_int.h"

static char *fixture(void) {
  const char *pkg = getenv("FP_PKG_DIR");
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/fixtures/report_full.json", pkg ? pkg : "packages/file_processing");
  char *s = fp_test_read_file(path, NULL);
  if (!s) fail_msg("cannot read %s", path);
  return s;
}

static char *render_ok(const char *json) {
  char *html = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  fp_err e = fp_report_html_render(json, &html, &d);
  if (e) fail_msg("render failed: %s: %s", fp_err_name(e), d.msg);
  assert_non_null(html);
  return html;
}

static size_t count(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

/* The text of the element that starts with open_tag and runs to the next end_marker;
 * owned. Used to look inside one section or one table row. */
static char *slice(const char *html, const char *open_tag, const char *end_marker) {
  const char *a = strstr(html, open_tag);
  if (!a) return NULL;
  const char *b = strstr(a + strlen(open_tag), end_marker);
  size_t n = b ? (size_t)(b - a) : strlen(a);
  char *s = malloc(n + 1);
  memcpy(s, a, n);
  s[n] = '\0';
  return s;
}

static void test_sections_present(void **state) {
  (void)state;
  char *json = fixture();
  char *html = render_ok(json);
  assert_true(strncmp(html, "<!DOCTYPE html>", 15) == 0);
  const char *ids[] = {"id=\"verdict\"", "id=\"stats\"", "id=\"columns\"", "id=\"findings\"",
                       "id=\"drift\"", "id=\"contract\""};
  for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
    if (count(html, ids[i]) != 1) fail_msg("%s appears %zu times", ids[i], count(html, ids[i]));
  }
  /* verdict: word and icon, not colour alone */
  char *v = slice(html, "<header id=\"verdict\"", "</header>");
  assert_non_null(strstr(v, "v-failed"));
  assert_non_null(strstr(v, ">Failed<"));
  assert_non_null(strstr(v, "<b>18</b> errors"));
  assert_non_null(strstr(v, "<b>3</b> warnings"));
  /* stats: rows, columns, bytes, duplicates (not exact), dialect, source, version, timings */
  char *st = slice(html, "<section id=\"stats\"", "</section>");
  assert_non_null(strstr(st, "2,000"));
  assert_non_null(strstr(st, "443,088 bytes"));
  assert_non_null(strstr(st, "at least"));
  assert_non_null(strstr(st, "comma"));
  assert_non_null(strstr(st, "s3://demo-bucket/from_client/nm_albuquerque/Officer_Detail.csv"));
  assert_non_null(strstr(st, "version 3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"));
  assert_non_null(strstr(st, "1.25 s"));
  assert_non_null(strstr(st, "compared with run 41"));
  assert_non_null(strstr(st, "Officer_Detail_2026-10.csv"));
  /* no external anything: no script, no link, no src/href leaving the page */
  assert_null(strstr(html, "<script"));
  assert_null(strstr(html, "<link"));
  assert_null(strstr(html, " src=\""));
  assert_int_equal(count(html, "href=\""), count(html, "href=\"#"));
  free(st);
  free(v);
  free(html);
  free(json);
}

static void test_hostile_values_inert(void **state) {
  (void)state;
  char *json = fixture();
  char *html = render_ok(json);
  /* The fixture puts <script>, <img onerror>, quotes and &amp; into a column name, top
   * values, min/max, a sample cell, a note and the contract name. None may become markup. */
  assert_null(strstr(html, "<script"));
  assert_null(strstr(html, "<img"));
  assert_null(strstr(html, "<b>v2"));
  assert_null(strstr(html, "<tagged>"));
  assert_non_null(strstr(html, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;amp;&lt;img src=x onerror=alert(1)&gt;"));
  assert_non_null(strstr(html, "notes &quot;quoted&quot; &amp; &lt;tagged&gt;"));
  assert_non_null(strstr(html, "officer_detail &lt;b&gt;v2&lt;/b&gt;"));
  assert_non_null(strstr(html, "type is &quot;string&quot; &lt;b&gt;"));
  /* a tab and a BEL in a value are shown as their control pictures */
  assert_non_null(strstr(html, "tab\xE2\x90\x89here\xE2\x90\x87" "bell"));
  free(html);
  free(json);
}

/* The <tr> of the column named name (first occurrence after the columns section). */
static char *column_row(const char *html, const char *name) {
  const char *cols = strstr(html, "<section id=\"columns\"");
  assert_non_null(cols);
  char key[256];
  snprintf(key, sizeof key, "<th scope=\"row\">%s</th>", name);
  const char *th = strstr(cols, key);
  if (!th) fail_msg("no row for column %s", name);
  const char *tr = th;
  while (tr > cols && strncmp(tr, "<tr>", 4) != 0) tr--;
  return slice(tr, "<tr>", "</tr>");
}

static void test_charts_on_the_right_columns(void **state) {
  (void)state;
  char *json = fixture();
  char *html = render_ok(json);
  char *salary = column_row(html, "salary"), *hire = column_row(html, "hire_date"),
       *upd = column_row(html, "last_updated"), *notes = column_row(html, "notes &quot;quoted&quot; &amp; &lt;tagged&gt;"),
       *grade = column_row(html, "grade");
  /* number: histogram with 20 bins (18 non-empty bars), quantile box, plain axis ends */
  assert_non_null(strstr(salary, "<svg class=\"hist\""));
  assert_int_equal(count(salary, "<rect class=\"b\""), 17);
  assert_non_null(strstr(salary, "class=\"q\""));
  assert_non_null(strstr(salary, "<span>21,000.5</span>"));
  assert_non_null(strstr(salary, ">68,123.5</td>")); /* mean, grouped */
  assert_non_null(strstr(salary, "\xE2\x89\x88</span>1,843")); /* approximate distinct marked */
  /* date: axis ends as dates (days since 1970-01-01) */
  assert_non_null(strstr(hire, "<svg class=\"hist\""));
  assert_non_null(strstr(hire, "<span>1990-01-02</span>"));
  assert_non_null(strstr(hire, ">2026-06-30</span>"));
  /* datetime: seconds since the epoch, UTC */
  assert_non_null(strstr(upd, "<svg class=\"hist\""));
  assert_non_null(strstr(upd, "2026-01-01<br>00:00:00"));
  assert_non_null(strstr(upd, "2026-11-28<br>23:59:59"));
  assert_null(strstr(upd, "class=\"q\"")); /* no quantiles in the fixture for this one */
  /* text: top values as bars, five of them, the empty value labelled */
  assert_null(strstr(notes, "class=\"hist\""));
  assert_non_null(strstr(notes, "<svg class=\"topv\""));
  assert_int_equal(count(notes, "<rect class=\"b\""), 5);
  assert_non_null(strstr(notes, "(empty)"));
  /* integer without a histogram in the JSON: no chart at all */
  assert_null(strstr(grade, "<svg"));
  free(salary);
  free(hire);
  free(upd);
  free(notes);
  free(grade);
  free(html);
  free(json);
}

static void test_findings_grouped_drift_apart(void **state) {
  (void)state;
  char *json = fixture();
  char *html = render_ok(json);
  char *f = slice(html, "<section id=\"findings\"", "</section>");
  char *dr = slice(html, "<section id=\"drift\"", "</section>");
  /* two type-error groups (two columns) under one code header, total 16 */
  assert_int_equal(count(f, "id=\"finding-type-error\""), 1);
  assert_non_null(strstr(f, "16 in total"));
  assert_int_equal(count(f, "class=\"fgroup\""), 4);
  assert_non_null(strstr(f, "id=\"finding-extra-cell\""));
  assert_non_null(strstr(f, "id=\"finding-duplicate-row\""));
  assert_non_null(strstr(f, "sev-warning"));
  /* samples: row numbers; 12 samples = 10 shown + 2 behind a details element */
  assert_non_null(strstr(f, "<td class=\"num\">1606</td>"));
  assert_non_null(strstr(f, "<summary>2 more samples</summary>"));
  assert_non_null(strstr(f, "(first 12 kept)"));
  assert_null(strstr(f, "drift"));
  assert_non_null(strstr(dr, "id=\"finding-volume-drift\""));
  assert_non_null(strstr(dr, "id=\"finding-distribution-drift\""));
  assert_non_null(strstr(dr, "2000 rows, baseline 4100"));
  assert_non_null(strstr(dr, "Compared with run 41"));
  free(dr);
  free(f);
  free(html);
  free(json);
}

static void test_minimal_report_renders(void **state) {
  (void)state;
  char *html = render_ok("{\"report_version\":1,\"verdict\":\"passed\"}");
  assert_non_null(strstr(html, "v-passed"));
  assert_non_null(strstr(html, ">Passed<"));
  assert_non_null(strstr(html, "No findings"));
  assert_non_null(strstr(html, "No dataset contract applied"));
  assert_non_null(strstr(html, "No columns"));
  assert_null(strstr(html, "id=\"drift\""));
  free(html);
  /* warned, with a drift baseline but no drift findings: the drift section says so */
  html = render_ok("{\"report_version\":1,\"verdict\":\"warned\",\"drift\":{\"baseline_run_id\":7,"
                   "\"baseline_key\":\"k\",\"baseline_finished_at\":null},\"contract\":null}");
  assert_non_null(strstr(html, "v-warned"));
  assert_non_null(strstr(html, "id=\"drift\""));
  assert_non_null(strstr(html, "No drift from the baseline"));
  assert_non_null(strstr(html, "compared with run 7"));
  free(html);
}

static void test_array_of_reports(void **state) {
  (void)state;
  char *html = render_ok("[{\"report_version\":1,\"verdict\":\"passed\",\"source\":{\"key\":\"a.csv\"}},"
                         "{\"report_version\":1,\"verdict\":\"failed\",\"source\":{\"key\":\"b.csv\"}}]");
  assert_int_equal(count(html, "id=\"verdict\""), 1);
  assert_int_equal(count(html, "id=\"verdict-2\""), 1);
  assert_int_equal(count(html, "id=\"columns-2\""), 1);
  assert_non_null(strstr(html, "<title>Passed \xE2\x80\x94 a.csv and 1 more</title>"));
  free(html);
}

static void expect_error(const char *json, const char *msg_part) {
  char *html = (char *)"untouched";
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_report_html_render(json, &html, &d), FP_ERR_JSON);
  assert_null(html);
  if (!strstr(d.msg, msg_part)) fail_msg("message '%s' lacks '%s'", d.msg, msg_part);
}

static void test_malformed_json_clear_error(void **state) {
  (void)state;
  expect_error("{\"report_version\": 1,\n \"verdict\": }", "line 2");
  expect_error("", "line 1");
  expect_error("{\"columns\": []}", "not a data-quality report");
  expect_error("[]", "empty");
  expect_error("[{\"report_version\":1,\"verdict\":\"passed\"}, 3]", "report 2 is not a JSON object");
}

static void test_long_multibyte_value_cut_on_a_boundary(void **state) {
  (void)state;
  /* 60 x "é" (2 bytes each) as a max: shown cut to 40 characters + an ellipsis */
  char json[1024], val[200];
  for (int i = 0; i < 60; i++) memcpy(val + 2 * i, "\xC3\xA9", 2);
  val[120] = '\0';
  snprintf(json, sizeof json,
           "{\"report_version\":1,\"verdict\":\"passed\",\"columns\":[{\"index\":1,\"name\":\"c\","
           "\"type\":\"string\",\"max\":\"%s\"}]}", val);
  char *html = render_ok(json);
  char want[200] = ">";
  for (int i = 0; i < 40; i++) memcpy(want + 1 + 2 * i, "\xC3\xA9", 2);
  snprintf(want + 81, sizeof want - 81, "\xE2\x80\xA6</td>");
  assert_non_null(strstr(html, want));
  free(html);
}

/* ---- FP_REPORT_HTML_DIR writer ------------------------------------------------------ */

static void test_dir_writer_nests_and_refuses_escapes(void **state) {
  (void)state;
  char dir[128], path[512];
  fp_test_tmpdir(dir, sizeof dir);
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp__report_html_write(dir, "bkt", "from client/a/b.csv", "<p>x</p>", &d), FP_OK);
  snprintf(path, sizeof path, "%s/bkt/from client/a/b.csv.report.html", dir);
  char *got = fp_test_read_file(path, NULL);
  assert_non_null(got);
  assert_string_equal(got, "<p>x</p>");
  free(got);
  /* rewriting replaces the file */
  assert_int_equal(fp__report_html_write(dir, "bkt", "from client/a/b.csv", "<p>y</p>", &d), FP_OK);
  got = fp_test_read_file(path, NULL);
  assert_string_equal(got, "<p>y</p>");
  free(got);
  const char *bad_keys[] = {"../escape.csv", "a/../../escape.csv", "a//b.csv", "/abs.csv",
                            "a/./b.csv", "a/", "..", ""};
  for (size_t i = 0; i < sizeof bad_keys / sizeof *bad_keys; i++) {
    fp_diag_clear(&d);
    if (fp__report_html_write(dir, "bkt", bad_keys[i], "x", &d) != FP_ERR_INVAL)
      fail_msg("key '%s' was not refused", bad_keys[i]);
    assert_non_null(strstr(d.msg, "refusing"));
  }
  fp_diag_clear(&d);
  assert_int_equal(fp__report_html_write(dir, "..", "k.csv", "x", &d), FP_ERR_INVAL);
  fp_diag_clear(&d);
  assert_int_equal(fp__report_html_write(dir, "a/b", "k.csv", "x", &d), FP_ERR_INVAL);
  /* nothing landed next to dir */
  snprintf(path, sizeof path, "%s/../escape.csv.report.html", dir);
  assert_int_equal(access(path, F_OK), -1);
  fp_test_rmtree(dir);
}

static void test_dir_writer_does_not_follow_symlinks(void **state) {
  (void)state;
  char dir[128], outside[128], link[512], path[512];
  fp_test_tmpdir(dir, sizeof dir);
  fp_test_tmpdir(outside, sizeof outside);
  snprintf(link, sizeof link, "%s/bkt", dir);
  assert_int_equal(symlink(outside, link), 0);
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp__report_html_write(dir, "bkt", "k.csv", "x", &d), FP_ERR_IO);
  snprintf(path, sizeof path, "%s/k.csv.report.html", outside);
  assert_int_equal(access(path, F_OK), -1);
  fp_test_rmtree(dir);
  fp_test_rmtree(outside);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sections_present),
      cmocka_unit_test(test_hostile_values_inert),
      cmocka_unit_test(test_charts_on_the_right_columns),
      cmocka_unit_test(test_findings_grouped_drift_apart),
      cmocka_unit_test(test_minimal_report_renders),
      cmocka_unit_test(test_array_of_reports),
      cmocka_unit_test(test_malformed_json_clear_error),
      cmocka_unit_test(test_long_multibyte_value_cut_on_a_boundary),
      cmocka_unit_test(test_dir_writer_nests_and_refuses_escapes),
      cmocka_unit_test(test_dir_writer_does_not_follow_symlinks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
