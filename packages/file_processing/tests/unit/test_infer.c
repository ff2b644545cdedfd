/* test_infer.c — contract inference (fp_contract_infer): profile generated files, draft a
 * contract, load it back with the contract loader and validate the same file with it: the
 * draft must hold (zero type and constraint errors, no label findings). Also the YAML
 * details: types, required, enum, quoting of awkward labels and values, dialect, and the
 * match glob made from the key. */
#include "fp_test.h"

#include <inttypes.h>

#include "fp/fp_buf.h"
#include "fp/fp_contract.h"
#include "fp/fp_csv.h"
#include "fp/fp_profile.h"

/* ---- harness -------------------------------------------------------------------------- */

typedef struct pass {
  fp_profiler *p;
  fp_checker *k;
} pass;

static fp_err on_rec(void *ud, const fp_csv_record *rec, fp_diag *d) {
  pass *x = ud;
  fp_err e = fp_profiler_record(x->p, rec, d);
  if (!e && x->k) e = fp_checker_record(x->k, rec, d);
  return e;
}

/* Reads text with dialect dl into the profiler p (and the checker k when not NULL). */
static void run_csv(const char *text, const fp_csv_dialect *dl, fp_profiler *p, fp_checker *k) {
  fp_csv_opts o;
  fp_csv_opts_default(&o);
  o.dialect = *dl;
  o.sniff = false;
  pass x = {p, k};
  o.on_record = on_rec;
  o.ud = &x;
  fp_csv_reader *r = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_csv_reader_new(&o, &r, &d), FP_OK);
  /* odd chunk sizes: the reader does not care */
  size_t n = strlen(text);
  for (size_t i = 0; i < n; i += 777)
    assert_int_equal(fp_csv_reader_feed(r, text + i, n - i < 777 ? n - i : 777, &d), FP_OK);
  fp_err e = fp_csv_reader_finish(r, &d);
  if (e) fprintf(stderr, "csv: %s\n", d.msg);
  assert_int_equal(e, FP_OK);
  fp_csv_reader_free(r);
  assert_int_equal(fp_profiler_finish(p, n, &d), FP_OK);
  if (k) {
    e = fp_checker_finish(k, &d);
    if (e) fprintf(stderr, "checker: %s\n", d.msg);
    assert_int_equal(e, FP_OK);
  }
}

/* Profiles text, drafts a contract (owned YAML). */
static char *draft(const char *text, const fp_csv_dialect *dl, const char *key) {
  fp_findings *f;
  assert_int_equal(fp_findings_new(0, &f), FP_OK);
  fp_profiler *p;
  assert_int_equal(fp_profiler_new(NULL, dl->header, f, &p, NULL), FP_OK);
  run_csv(text, dl, p, NULL);
  char *yaml = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  fp_err e = fp_contract_infer(p, dl, "drafted", key, &yaml, &d);
  if (e) fprintf(stderr, "infer: %s\n", d.msg);
  assert_int_equal(e, FP_OK);
  fp_profiler_free(p);
  fp_findings_free(f);
  return yaml;
}

/* Loads yaml and validates text with it; returns the number of findings the checker is
 * responsible for (everything but the profiler's structural codes). */
static uint64_t validate(const char *yaml, const char *text, const fp_csv_dialect *dl) {
  fp_contract *c = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  fp_err e = fp_contract_load_text(yaml, strlen(yaml), "drafted", &c, &d);
  if (e) fprintf(stderr, "load: %s\n---\n%s---\n", d.msg, yaml);
  assert_int_equal(e, FP_OK);
  fp_findings *f;
  assert_int_equal(fp_findings_new(0, &f), FP_OK);
  fp_profile_opts po;
  fp_profile_opts_default(&po);
  po.missing_values = (const char *const *)c->missing_values;
  po.nmissing = c->nmissing;
  fp_profiler *p;
  fp_checker *k;
  bool header = c->has_dialect ? c->dialect.header : dl->header;
  assert_int_equal(fp_profiler_new(&po, header, f, &p, &d), FP_OK);
  assert_int_equal(fp_checker_new(c, NULL, header, f, &k, &d), FP_OK);
  run_csv(text, c->has_dialect ? &c->dialect : dl, p, k);
  static const char *const structural[] = {
      "blank-label",  "duplicate-label", "blank-row",     "extra-cell",
      "missing-cell", "encoding-error",  "duplicate-row", NULL};
  uint64_t n = 0;
  for (size_t i = 0; i < fp_findings_count_groups(f); i++) {
    const fp_finding_group *g = fp_findings_group(f, i);
    bool s = false;
    for (size_t j = 0; structural[j]; j++) s |= !strcmp(structural[j], g->code);
    if (s) continue;
    fprintf(stderr, "unexpected: %s field %u (%s) x%" PRIu64 ": %s\n", g->code, g->field,
            g->field_name ? g->field_name : "-", g->count,
            g->nsamples && g->samples[0].note ? g->samples[0].note : "");
    if (g->nsamples && g->samples[0].cell) fprintf(stderr, "  cell: %s\n", g->samples[0].cell);
    n += g->count;
  }
  fp_checker_free(k);
  fp_profiler_free(p);
  fp_findings_free(f);
  fp_contract_free(c);
  return n;
}

static fp_csv_dialect dialect(char delim, bool header) {
  fp_csv_dialect dl;
  fp_csv_dialect_default(&dl);
  dl.delimiter = delim;
  dl.header = header;
  return dl;
}

/* The YAML of one field, from its "- name:" line to the next field (owned). */
static char *field_block(const char *yaml, const char *name) {
  char head[256];
  snprintf(head, sizeof head, "    - name: \"%s\"\n", name);
  const char *s = strstr(yaml, head);
  assert_non_null(s);
  const char *e = strstr(s + 1, "    - name: ");
  size_t n = e ? (size_t)(e - s) : strlen(s);
  char *out = malloc(n + 1);
  assert_non_null(out);
  memcpy(out, s, n);
  out[n] = '\0';
  return out;
}

static bool field_has(const char *yaml, const char *name, const char *what) {
  char *b = field_block(yaml, name);
  bool has = strstr(b, what) != NULL;
  free(b);
  return has;
}

/* ---- generated data ---------------------------------------------------------------------- */

/* A file with one column per profile type, awkward labels, missing values and an enum. */
static char *gen_mixed(size_t rows) {
  fp_buf b;
  fp_buf_init(&b, 64 << 20);
  fp_buf_puts(&b,
              "id,amount,flag,day,stamp,stamp_t,name,\"sta\"\"tus\",\" padded \",note,empty,"
              "\"multi\nline\",dup,dup,\n");
  static const char *const status[] = {"Active", "Inactive", "On leave"};
  static const char *const flags[] = {"true", "False", "TRUE", "false"};
  for (size_t i = 0; i < rows; i++) {
    fp_buf_appendf(&b, "%zu,", 1000 + i);
    if (i % 7 == 0)
      fp_buf_puts(&b, ",");
    else
      fp_buf_appendf(&b, "%s%zu.%02zu,", i % 2 ? "-" : "", i * 13, i % 100);
    fp_buf_appendf(&b, "%s,", flags[i % 4]);
    fp_buf_appendf(&b, "20%02zu-%02zu-%02zu,", i % 30, 1 + i % 12, 1 + i % 28);
    fp_buf_appendf(&b, "2024-02-%02zu %02zu:%02zu:%02zu,", 1 + i % 29, i % 24, i % 60, i % 60);
    fp_buf_appendf(&b, "2024-03-%02zuT%02zu:00:00%s,", 1 + i % 31, i % 24,
                   i % 3 == 0   ? "Z"
                   : i % 3 == 1 ? ".123456+02:00"
                                : "");
    fp_buf_appendf(&b, "\"Name \"\"%zu\"\", \\ é\",", i);
    fp_buf_appendf(&b, "%s,", status[i % 3]);
    fp_buf_appendf(&b, "p%zu,", i % 9);
    fp_buf_puts(&b, i % 5 ? "text with: colon # hash," : ",");
    fp_buf_puts(&b, ",");
    fp_buf_appendf(&b, "\"l1\nl2 %zu\",", i);
    fp_buf_appendf(&b, "%zu,%zu,x\n", i % 3, i % 4);
  }
  return fp_buf_take(&b);
}

static void test_roundtrip_mixed(void **state) {
  (void)state;
  char *text = gen_mixed(200);
  fp_csv_dialect dl = dialect(',', true);
  char *yaml = draft(text, &dl, "from_client/nm_albuquerque/Officer_Detail_2024-01-31.csv");
  /* the types the profile found */
  assert_non_null(strstr(yaml, "- name: \"id\"\n      type: integer"));
  assert_non_null(strstr(yaml, "- name: \"amount\"\n      type: number"));
  assert_non_null(strstr(yaml, "- name: \"flag\"\n      type: boolean"));
  assert_non_null(strstr(yaml, "- name: \"day\"\n      type: date"));
  assert_non_null(strstr(yaml, "- name: \"stamp\"\n      type: datetime"));
  assert_non_null(strstr(yaml, "- name: \"stamp_t\"\n      type: datetime"));
  assert_non_null(strstr(yaml, "- name: \"name\"\n      type: string"));
  assert_non_null(strstr(yaml, "- name: \"empty\"\n      type: any"));
  /* awkward labels: quotes escaped, padding stripped, newline as space, repeats renamed,
   * a blank label named as the profiler names it */
  assert_non_null(strstr(yaml, "- name: \"sta\\\"tus\""));
  assert_non_null(strstr(yaml, "- name: \"padded\""));
  assert_non_null(strstr(yaml, "- name: \"multi line\""));
  assert_non_null(strstr(yaml, "- name: \"dup\"\n"));
  assert_non_null(strstr(yaml, "- name: \"dup2\"\n"));
  assert_non_null(strstr(yaml, "- name: \"field15\"\n"));
  /* enum only for the small exact text column; required where nothing was missing */
  assert_non_null(strstr(yaml, "enum: [\"Active\", \"Inactive\", \"On leave\"]"));
  assert_null(strstr(yaml, "enum: [\"p"));
  assert_non_null(
      strstr(yaml,
             "type: integer\n      # 200 values, 0 missing, 200 distinct, min 1000, max 1199\n"
             "      constraints:\n        required: true\n"));
  assert_non_null(strstr(yaml, "type: number\n      # 200 values, 29 missing"));
  assert_false(field_has(yaml, "amount", "required"));
  assert_false(field_has(yaml, "empty", "required"));
  assert_true(field_has(yaml, "flag", "required: true"));
  assert_true(field_has(yaml, "stamp_t", "required: true"));
  /* match and dialect */
  assert_non_null(
      strstr(yaml, "match:\n  - \"from_client/nm_albuquerque/Officer_Detail_*.csv\"\n"));
  assert_non_null(strstr(yaml, "dialect:\n  delimiter: \",\"\n  quoteChar: \"\\\"\"\n"));
  assert_non_null(strstr(yaml, "  header: true\n"));
  assert_int_equal(validate(yaml, text, &dl), 0);
  free(yaml);
  free(text);
}

/* Small files: no enum below 20 values; a header-only file drafts fields without
 * required. */
static void test_small_files(void **state) {
  (void)state;
  fp_csv_dialect dl = dialect(',', true);
  const char *text = "kind,n\na,1\nb,2\na,3\n";
  char *yaml = draft(text, &dl, NULL);
  assert_null(strstr(yaml, "enum: ["));
  assert_null(strstr(yaml, "match:"));
  assert_int_equal(validate(yaml, text, &dl), 0);
  free(yaml);

  text = "kind,n\n";
  yaml = draft(text, &dl, NULL);
  assert_null(strstr(yaml, "required: true"));
  assert_non_null(strstr(yaml, "type: any"));
  assert_int_equal(validate(yaml, text, &dl), 0);
  free(yaml);
}

/* Short rows and blank rows: a column with absent cells is not required (the checker
 * would report required on an absent cell). */
static void test_ragged_rows(void **state) {
  (void)state;
  fp_csv_dialect dl = dialect(';', true);
  const char *text = "a;b;c\n1;x;2024-01-01\n2;y\n\n3;z;2024-01-03;extra\n";
  char *yaml = draft(text, &dl, NULL);
  assert_non_null(strstr(yaml, "delimiter: \";\""));
  assert_non_null(strstr(yaml,
                         "- name: \"a\"\n      type: integer\n      # 3 values, 0 missing, 3 "
                         "distinct, min 1, max 3\n      constraints:\n        required: true\n"));
  assert_true(field_has(yaml, "c", "type: date"));
  assert_false(field_has(yaml, "c", "required"));
  assert_true(field_has(yaml, "b", "required: true"));
  assert_int_equal(validate(yaml, text, &dl), 0);
  free(yaml);
}

static void test_no_header(void **state) {
  (void)state;
  fp_csv_dialect dl = dialect('\t', false);
  const char *text = "1\tx\n2\ty\n";
  char *yaml = draft(text, &dl, "drop/data.tsv");
  assert_non_null(strstr(yaml, "- name: \"field1\"\n      type: integer"));
  assert_non_null(strstr(yaml, "- name: \"field2\"\n      type: string"));
  assert_non_null(strstr(yaml, "  header: false\n"));
  assert_non_null(strstr(yaml, "delimiter: \"\\t\""));
  assert_non_null(strstr(yaml, "- \"drop/data.tsv\""));
  assert_int_equal(validate(yaml, text, &dl), 0);
  free(yaml);
}

/* Date-like parts of the file name become '*'; glob characters in the key are escaped so
 * the pattern still matches the key it came from. */
static void check_match(const char *key, const char *want_glob) {
  fp_csv_dialect dl = dialect(',', true);
  char *yaml = draft("a\n1\n", &dl, key);
  const char *m = strstr(yaml, "match:\n  - \"");
  assert_non_null(m);
  m += strlen("match:\n  - \"");
  const char *end = strstr(m, "\"\n");
  assert_non_null(end);
  char glob[512];
  snprintf(glob, sizeof glob, "%.*s", (int)(end - m), m);
  /* un-escape the YAML backslashes for the glob itself */
  char g[512];
  size_t j = 0;
  for (size_t i = 0; glob[i] && j + 1 < sizeof g; i++) {
    if (glob[i] == '\\' && glob[i + 1]) i++;
    g[j++] = glob[i];
  }
  g[j] = '\0';
  if (strcmp(g, want_glob)) fprintf(stderr, "glob %s, want %s\n", g, want_glob);
  assert_string_equal(g, want_glob);
  assert_true(fp_glob_match(g, key));
  free(yaml);
}

static void test_match_glob(void **state) {
  (void)state;
  check_match("from_client/nm_albuquerque/Officer_Detail.csv",
              "from_client/nm_albuquerque/Officer_Detail.csv");
  check_match("from_client/x/Officer_Detail_2024-01-31.csv", "from_client/x/Officer_Detail_*.csv");
  check_match("from_client/x/export_20240131_120000.csv.gz", "from_client/x/export_*.csv.gz");
  check_match("from_client/2024/report_2023.csv", "from_client/2024/report_*.csv");
  check_match("a/v2/file12.csv", "a/v2/file12.csv");
  check_match("a/odd[1]*?.csv", "a/odd\\[1\\]\\*\\?.csv");
}

static void test_bad_arguments(void **state) {
  (void)state;
  char *yaml = (char *)"x";
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_contract_infer(NULL, NULL, "n", NULL, &yaml, &d), FP_ERR_INVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_mixed), cmocka_unit_test(test_small_files),
      cmocka_unit_test(test_ragged_rows),     cmocka_unit_test(test_no_header),
      cmocka_unit_test(test_match_glob),      cmocka_unit_test(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
