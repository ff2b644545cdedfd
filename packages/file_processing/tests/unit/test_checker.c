/* test_checker.c — the contract checker fed hand-built records next to the profiler, as the
 * pipeline feeds them: header labels per fieldsMatch, the profiler/checker split of
 * extra-cell and missing-cell, type and constraint errors with Frictionless notes,
 * required on missing values and absent cells, unique and primary key (in memory and
 * spilled under a tiny budget), column policies, severity overrides, row count, error
 * rate, rows with errors and capped samples with exact totals. */
#include "fp_test.h"

#include <inttypes.h>

#include "fp/fp_contract.h"
#include "fp/fp_profile.h"

/* ---- harness: findings + profiler + checker over the same records --------------------- */

typedef struct fx {
  fp_contract *c;
  fp_findings *f;
  fp_profiler *p;
  fp_checker *k;
  uint64_t row;
} fx;

static fx mk_opts(const char *yaml, bool header, size_t sample_cap, const fp_checker_opts *o) {
  fx x = {0};
  fp_diag d;
  fp_diag_clear(&d);
  fp_err e = fp_contract_load_text(yaml, strlen(yaml), "test", &x.c, &d);
  if (e) fprintf(stderr, "contract: %s\n", d.msg);
  assert_int_equal(e, FP_OK);
  assert_int_equal(fp_findings_new(sample_cap, &x.f), FP_OK);
  assert_int_equal(fp_contract_apply_overrides(x.c, x.f), FP_OK);
  fp_profile_opts po;
  fp_profile_opts_default(&po);
  po.missing_values = (const char *const *)x.c->missing_values;
  po.nmissing = x.c->nmissing;
  assert_int_equal(fp_profiler_new(&po, header, x.f, &x.p, &d), FP_OK);
  e = fp_checker_new(x.c, o, header, x.f, &x.k, &d);
  if (e) fprintf(stderr, "checker: %s\n", d.msg);
  assert_int_equal(e, FP_OK);
  return x;
}

static fx mk(const char *yaml, bool header) {
  return mk_opts(yaml, header, 0, NULL);
}

static void feed_cells(fx *x, const char *const *v, uint32_t n) {
  fp_cell c[64];
  assert_true(n <= 64);
  for (uint32_t i = 0; i < n; i++) c[i] = (fp_cell){v[i], (uint32_t)strlen(v[i]), 0};
  fp_csv_record r = {c, n, 0, ++x->row, 0, 0, 0};
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_profiler_record(x->p, &r, &d), FP_OK);
  fp_err e = fp_checker_record(x->k, &r, &d);
  if (e) fprintf(stderr, "record: %s\n", d.msg);
  assert_int_equal(e, FP_OK);
}

#define ROW(x, ...)                                          \
  do {                                                       \
    const char *v_[] = {__VA_ARGS__};                        \
    feed_cells(x, v_, (uint32_t)(sizeof v_ / sizeof v_[0])); \
  } while (0)

static void finish(fx *x) {
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_profiler_finish(x->p, 0, &d), FP_OK);
  fp_err e = fp_checker_finish(x->k, &d);
  if (e) fprintf(stderr, "finish: %s\n", d.msg);
  assert_int_equal(e, FP_OK);
}

static void done(fx *x) {
  fp_checker_free(x->k);
  fp_profiler_free(x->p);
  fp_findings_free(x->f);
  fp_contract_free(x->c);
}

/* Every sample as "code row field", sorted, joined by "; " (duplicate-row left out: the
 * profiler's warning is not what these tests are about). */
static char *flat(const fx *x, const char *only) {
  size_t cap = 1 << 16, n = 0;
  char **items = calloc(cap, sizeof *items);
  assert_non_null(items);
  for (size_t i = 0; i < fp_findings_count_groups(x->f); i++) {
    const fp_finding_group *g = fp_findings_group(x->f, i);
    if (!strcmp(g->code, "duplicate-row") || (only && strcmp(g->code, only))) continue;
    for (size_t j = 0; j < g->nsamples && n < cap; j++) {
      char buf[128];
      snprintf(buf, sizeof buf, "%s %" PRIu64 " %" PRIu32, g->code, g->samples[j].row,
               g->samples[j].field);
      items[n++] = strdup(buf);
    }
  }
  for (size_t i = 1; i < n; i++) /* insertion sort: small lists */
    for (size_t j = i; j > 0 && strcmp(items[j - 1], items[j]) > 0; j--) {
      char *t = items[j];
      items[j] = items[j - 1];
      items[j - 1] = t;
    }
  size_t len = 1;
  for (size_t i = 0; i < n; i++) len += strlen(items[i]) + 2;
  char *out = calloc(len, 1);
  assert_non_null(out);
  size_t at = 0;
  for (size_t i = 0; i < n; i++) {
    at += (size_t)snprintf(out + at, len - at, "%s%s", i ? "; " : "", items[i]);
    free(items[i]);
  }
  free(items);
  return out;
}

static void expect(const fx *x, const char *only, const char *want) {
  char *got = flat(x, only);
  if (strcmp(got, want)) fprintf(stderr, "got:  %s\nwant: %s\n", got, want);
  assert_string_equal(got, want);
  free(got);
}

static const fp_finding_group *group(const fx *x, const char *code, uint32_t field) {
  for (size_t i = 0; i < fp_findings_count_groups(x->f); i++) {
    const fp_finding_group *g = fp_findings_group(x->f, i);
    if (!strcmp(g->code, code) && g->field == field) return g;
  }
  return NULL;
}

static const char *note_of(const fx *x, const char *code, uint32_t field, uint64_t row) {
  const fp_finding_group *g = group(x, code, field);
  if (!g) return NULL;
  for (size_t j = 0; j < g->nsamples; j++)
    if (g->samples[j].row == row) return g->samples[j].note;
  return NULL;
}

/* ---- header and shape ------------------------------------------------------------------ */

/* Frictionless: schema [id] on a 2-column file gives extra-label 2 and extra-cell on every
 * row; the profiler sees rows as wide as the header, so the extra-cells come from here. */
static void test_extra_label_and_cells(void **state) {
  (void)state;
  fx x = mk("schema: {fields: [{name: id, type: integer}]}", true);
  ROW(&x, "id", "name");
  ROW(&x, "1", "english");
  ROW(&x, "2", "chinese");
  ROW(&x, "3"); /* shorter than the header: the profiler's missing-cell, nothing from here */
  finish(&x);
  expect(&x, NULL, "extra-cell 2 2; extra-cell 3 2; extra-label 1 2; missing-cell 4 2");
  assert_int_equal(fp_checker_rows_with_errors(x.k), 3);
  done(&x);
}

/* A required field without a column: missing-label, and per row a required
 * constraint-error plus the missing-cell the profiler cannot see. */
static void test_missing_label_required(void **state) {
  (void)state;
  fx x =
      mk("schema:\n"
         "  fields:\n"
         "    - {name: id, type: integer}\n"
         "    - {name: name, type: string}\n"
         "    - {name: bad, type: any, constraints: {required: true}}\n",
         true);
  ROW(&x, "id", "name");
  ROW(&x, "1", "english");
  ROW(&x, "2", "chinese");
  finish(&x);
  expect(&x, NULL,
         "constraint-error 2 3; constraint-error 3 3; missing-cell 2 3; missing-cell 3 3; "
         "missing-label 1 3");
  assert_string_equal(note_of(&x, "constraint-error", 3, 2), "constraint \"required\" is \"True\"");
  done(&x);
}

static void test_incorrect_label(void **state) {
  (void)state;
  fx x = mk("schema: {fields: [{name: bad, type: integer}, {name: name, type: string}]}", true);
  ROW(&x, "id", "name");
  ROW(&x, "1", "english");
  finish(&x);
  expect(&x, NULL, "incorrect-label 1 1");
  const fp_finding_group *g = group(&x, "incorrect-label", 1);
  assert_string_equal(g->field_name, "bad");
  assert_string_equal(g->samples[0].cell, "id");
  done(&x);
}

/* Labels are compared after strip() and newline-to-space; blank and repeated labels are
 * the profiler's (blank-label, duplicate-label), never also incorrect-label. */
static void test_label_normalisation(void **state) {
  (void)state;
  fx x = mk("schema: {fields: [{name: a b}, {name: x}, {name: y}, {name: z}]}", true);
  ROW(&x, " a\nb ", "", "q", "q");
  ROW(&x, "1", "2", "3", "4");
  finish(&x);
  expect(&x, NULL, "blank-label 1 2; duplicate-label 1 4; incorrect-label 1 3");
  done(&x);
}

/* reordered.csv: name,id — each fieldsMatch mode (frictionless-py test_validate_schema). */
static void run_reordered(const char *fields, const char *mode, const char *want) {
  char yaml[512];
  snprintf(yaml, sizeof yaml, "schema: {fieldsMatch: %s, fields: [%s]}", mode, fields);
  fx x = mk(yaml, true);
  ROW(&x, "name", "id");
  ROW(&x, "english", "1");
  finish(&x);
  expect(&x, NULL, want);
  done(&x);
}

static void test_fields_match(void **state) {
  (void)state;
  const char *id_name = "{name: id}, {name: name}";
  run_reordered(id_name, "exact", "incorrect-label 1 1; incorrect-label 1 2");
  run_reordered(id_name, "equal", "");
  run_reordered(id_name, "subset", "");
  run_reordered(id_name, "superset", "");
  run_reordered(id_name, "partial", "");
  const char *name = "{name: name}";
  run_reordered(name, "exact", "extra-cell 2 2; extra-label 1 2");
  run_reordered(name, "equal", "extra-label 1 2");
  run_reordered(name, "superset", "extra-label 1 2");
  run_reordered(name, "subset", "");
  run_reordered(name, "partial", "");
  const char *extra = "{name: name}, {name: id}, {name: extra}";
  run_reordered(extra, "exact", "missing-cell 2 3; missing-label 1 3");
  run_reordered(extra, "equal", "missing-label 1 3");
  run_reordered(extra, "subset", "missing-label 1 3");
  run_reordered(extra, "superset", "");
  run_reordered(extra, "partial", "");
  const char *extra_req = "{name: name}, {name: id}, {name: extra, constraints: {required: true}}";
  run_reordered(extra_req, "superset", "missing-label 1 3");
  run_reordered("{name: zz}", "partial", "unmatched-header 1 0");
}

/* Matched by name, cells are checked against the field of their label. */
static void test_by_name_types(void **state) {
  (void)state;
  fx x =
      mk("schema: {fieldsMatch: equal, fields: [{name: id, type: integer}, {name: name}]}", true);
  ROW(&x, "name", "id");
  ROW(&x, "english", "1");
  ROW(&x, "german", "x");
  finish(&x);
  expect(&x, NULL, "type-error 3 2");
  assert_string_equal(group(&x, "type-error", 2)->field_name, "id");
  done(&x);
}

static void test_no_header(void **state) {
  (void)state;
  fx x = mk("schema: {fields: [{name: id, type: integer}, {name: name}]}", false);
  ROW(&x, "1", "english");
  ROW(&x, "x", "german", "extra");
  ROW(&x, "3");
  finish(&x);
  expect(&x, NULL, "extra-cell 2 3; missing-cell 3 2; type-error 2 1");
  done(&x);
}

/* ---- cells ------------------------------------------------------------------------------ */

/* schema-errors.csv with schema-valid.json. */
static void test_types_and_required(void **state) {
  (void)state;
  fx x =
      mk("schema:\n"
         "  primaryKey: id\n"
         "  fields:\n"
         "    - {name: id, type: integer, constraints: {required: true}}\n"
         "    - {name: name, type: string, constraints: {required: true}}\n"
         "    - {name: age, type: integer, constraints: {required: true}}\n",
         true);
  ROW(&x, "id", "name", "age");
  ROW(&x, "1101", "John", "30");
  ROW(&x, "1102", "Julie", "26");
  ROW(&x, "i_should_be_a_number", "", "");
  ROW(&x, "", "2", "3", "4", "5", "6");
  finish(&x);
  expect(&x, NULL,
         "constraint-error 4 2; constraint-error 4 3; constraint-error 5 1; extra-cell 5 4; "
         "extra-cell 5 5; extra-cell 5 6; primary-key 4 0; primary-key 5 0; type-error 4 1");
  assert_string_equal(note_of(&x, "type-error", 1, 4), "type is \"integer/default\"");
  assert_string_equal(note_of(&x, "primary-key", 0, 4),
                      "cells composing the primary keys are all \"None\"");
  assert_int_equal(fp_checker_rows_with_errors(x.k), 2);
  done(&x);
}

static void test_constraints(void **state) {
  (void)state;
  fx x =
      mk("schema:\n"
         "  fields:\n"
         "    - {name: row, type: integer}\n"
         "    - {name: score, type: integer, constraints: {minimum: 2, maximum: 3}}\n"
         "    - {name: word, constraints: {minLength: 2, maxLength: 3}}\n"
         "    - {name: kind, constraints: {enum: [a, b]}}\n",
         true);
  ROW(&x, "row", "score", "word", "kind");
  ROW(&x, "2", "1", "ab", "a");
  ROW(&x, "3", "2", "a", "b");
  ROW(&x, "4", "4", "abcd", "c");
  ROW(&x, "5", "3", "abc", "");
  finish(&x);
  expect(&x, NULL,
         "constraint-error 2 2; constraint-error 3 3; constraint-error 4 2; constraint-error 4 3; "
         "constraint-error 4 4");
  assert_non_null(strstr(note_of(&x, "constraint-error", 2, 2), "minimum"));
  assert_non_null(strstr(note_of(&x, "constraint-error", 2, 4), "maximum"));
  assert_non_null(strstr(note_of(&x, "constraint-error", 3, 4), "maxLength"));
  done(&x);
}

/* Field-level missingValues replace the schema's; a missing value is never a type-error. */
static void test_missing_values(void **state) {
  (void)state;
  fx x =
      mk("schema:\n"
         "  missingValues: ['', NA]\n"
         "  fields:\n"
         "    - {name: a, type: integer}\n"
         "    - {name: b, type: integer, missingValues: ['-']}\n"
         "    - {name: c, type: integer, constraints: {required: true}}\n",
         true);
  ROW(&x, "a", "b", "c");
  ROW(&x, "NA", "-", "1");
  ROW(&x, "5", "NA", "NA"); /* b: NA is not missing for b; c: required */
  ROW(&x, "1", "", "2");    /* b: "" is not missing for b either */
  finish(&x);
  expect(&x, NULL, "constraint-error 3 3; type-error 3 2; type-error 4 2");
  done(&x);
}

/* A row blank over the schema's fields but not over the header is Frictionless' blank-row;
 * the profiler does not see it, so it comes from here (and its extra-cell is dropped). */
static void test_schema_blank_row(void **state) {
  (void)state;
  fx x = mk("schema: {fields: [{name: a, type: integer}, {name: b, type: integer}]}", true);
  ROW(&x, "a", "b", "c");
  ROW(&x, "", "", "hello");
  ROW(&x, "", "", "");
  finish(&x);
  expect(&x, NULL, "blank-row 2 0; blank-row 3 0; extra-label 1 3");
  done(&x);
}

/* ---- uniqueness ------------------------------------------------------------------------ */

/* unique-type.csv: a type-error cell takes no part; numbers compare as values. */
static void test_unique(void **state) {
  (void)state;
  fx x = mk("schema: {fields: [{name: id}, {name: n, type: number, constraints: {unique: true}}]}",
            true);
  ROW(&x, "id", "n");
  ROW(&x, "a1", "100");
  ROW(&x, "a2", "bad");
  ROW(&x, "a3", "100");
  ROW(&x, "a4", "0");
  ROW(&x, "a5", "0");
  ROW(&x, "a6", "");
  ROW(&x, "a7", "");
  ROW(&x, "a8", "100.0");
  finish(&x);
  expect(&x, NULL, "type-error 3 2; unique-error 4 2; unique-error 6 2; unique-error 9 2");
  assert_string_equal(note_of(&x, "unique-error", 2, 9), "the same as in the row at position 2");
  done(&x);
}

/* composite-pk.csv: (None, "Paul") is a key like any other; the blank row is blank-row
 * plus primary-key ("all None"). */
static void test_primary_key_composite(void **state) {
  (void)state;
  fx x = mk("schema: {primaryKey: [id, name], fields: [{name: id, type: integer}, {name: name}]}",
            true);
  ROW(&x, "id", "name");
  ROW(&x, "1", "Alex");
  ROW(&x, "1", "John");
  ROW(&x, "", "Paul");
  ROW(&x, "1", "John");
  ROW(&x, "", "");
  ROW(&x, "", "Paul");
  finish(&x);
  expect(&x, NULL, "blank-row 6 0; primary-key 5 0; primary-key 6 0; primary-key 7 0");
  assert_string_equal(note_of(&x, "primary-key", 0, 7), "the same as in the row at position 4");
  done(&x);
}

/* unique-field.csv: unique-error and primary-key on the same row. */
static void test_unique_and_pk(void **state) {
  (void)state;
  fx x = mk(
      "schema: {primaryKey: id, fields: [{name: id, constraints: {unique: true}}, {name: name}]}",
      true);
  ROW(&x, "id", "name");
  ROW(&x, "ao", "Angola");
  ROW(&x, "ag", "Antigua");
  ROW(&x, "ao", "Belgium");
  finish(&x);
  expect(&x, NULL, "primary-key 4 0; unique-error 4 1");
  assert_int_equal(fp_checker_rows_with_errors(x.k), 1);
  done(&x);
}

/* The same file through a tiny uniqueness budget: the set spills, the late duplicates come
 * at finish in row order, and everything (findings, rows with errors) matches the
 * in-memory run. */
static const char MANY_COMPOSITE[] =
    "schema:\n"
    "  primaryKey: [k, id]\n"
    "  fields:\n"
    "    - {name: id, type: integer, constraints: {unique: true}}\n"
    "    - {name: k, type: integer}\n"
    "    - {name: t, type: integer}\n";
/* a one-field primary key on a unique field: one uniqueness set answers both */
static const char MANY_SHARED[] =
    "schema:\n"
    "  primaryKey: id\n"
    "  fields:\n"
    "    - {name: id, type: integer, constraints: {unique: true}}\n"
    "    - {name: k, type: integer}\n"
    "    - {name: t, type: integer}\n";

static void run_many(const char *yaml, size_t memory, char **out, uint64_t *rows_err, bool *spilled,
                     size_t *peak, const char *dir) {
  fp_checker_opts o;
  fp_checker_opts_default(&o);
  o.unique_memory = memory;
  o.spill_dir = dir;
  fx x = mk_opts(yaml, true, 1000000, &o);
  ROW(&x, "id", "k", "t");
  char a[32], b[32], c[32];
  for (uint64_t r = 2; r < 200002; r++) {
    /* rows r % 997 == 3 repeat the id (and the key) of row r - 4000 */
    uint64_t id = r % 997 == 3 && r >= 4002 ? r - 3000 : r + 1000;
    snprintf(a, sizeof a, "%" PRIu64, id);
    snprintf(b, sizeof b, "%" PRIu64, r % 5);
    snprintf(c, sizeof c, r % 1991 == 0 ? "x" : "1"); /* some rows also have a type-error */
    if (r % 1499 == 0) a[0] = b[0] = '\0';            /* and some have no key at all */
    ROW(&x, a, b, c);
  }
  finish(&x);
  const fp_finding_group *g = group(&x, "unique-error", 1);
  assert_non_null(g);
  for (size_t j = 1; j < g->nsamples; j++) assert_true(g->samples[j - 1].row < g->samples[j].row);
  /* all findings, and the key groups' samples in their stored order */
  char *all = flat(&x, NULL);
  size_t cap = strlen(all) + ((size_t)1 << 20), at = 0;
  *out = malloc(cap);
  assert_non_null(*out);
  at += (size_t)snprintf(*out, cap, "%s |", all);
  free(all);
  static const char *const keyed[] = {"primary-key", "unique-error"};
  for (size_t i = 0; i < 2; i++) {
    const fp_finding_group *kg = group(&x, keyed[i], i ? 1 : 0);
    for (size_t j = 0; kg && j < kg->nsamples && at < cap; j++)
      at += (size_t)snprintf(*out + at, cap - at, " %s@%" PRIu64 ":%s", keyed[i],
                             kg->samples[j].row, kg->samples[j].note ? kg->samples[j].note : "");
  }
  *rows_err = fp_checker_rows_with_errors(x.k);
  *peak = fp_checker_unique_peak(x.k, spilled);
  done(&x);
}

static void spilled_same_as_memory(const char *yaml) {
  char dir[64];
  fp_test_tmpdir(dir, sizeof dir);
  char *big, *tiny;
  uint64_t eb, et;
  bool sb, st;
  size_t pb, pt;
  run_many(yaml, 256u << 20, &big, &eb, &sb, &pb, dir);
  run_many(yaml, 64u << 10, &tiny, &et, &st, &pt, dir);
  assert_false(sb);
  assert_true(st);
  assert_true(pt <= (size_t)64 << 10);
  assert_true(pb > pt);
  assert_true(strstr(big, "unique-error") != NULL);
  assert_true(strstr(big, "primary-key") != NULL);
  assert_string_equal(big, tiny);
  assert_int_equal(eb, et);
  /* rows with a unique-error (and primary-key) and a type-error count once */
  uint64_t want = 0;
  for (uint64_t r = 2; r < 200002; r++)
    want += (r % 997 == 3 && r >= 4002) || r % 1991 == 0 || r % 1499 == 0;
  assert_int_equal(eb, want);
  free(big);
  free(tiny);
  rmdir(dir); /* fails if a spill file was left behind */
  struct stat sst;
  assert_int_not_equal(stat(dir, &sst), 0);
}

static void test_unique_spilled_same_as_memory(void **state) {
  (void)state;
  spilled_same_as_memory(MANY_COMPOSITE);
  spilled_same_as_memory(MANY_SHARED);
}

/* ---- on a thread of its own ------------------------------------------------------------ */

/* Every group in collector order with its severity, count and samples in stored order. */
static char *ordered(const fx *x) {
  size_t cap = (size_t)8 << 20, at = 0;
  char *out = malloc(cap);
  assert_non_null(out);
  out[0] = '\0';
  for (size_t i = 0; i < fp_findings_count_groups(x->f) && at < cap; i++) {
    const fp_finding_group *g = fp_findings_group(x->f, i);
    at += (size_t)snprintf(out + at, cap - at, "\n%s/%" PRIu32 " %s %" PRIu64 "%s:", g->code,
                           g->field, fp_severity_name(g->severity), g->count,
                           g->capped ? " capped" : "");
    for (size_t j = 0; j < g->nsamples && at < cap; j++)
      at += (size_t)snprintf(out + at, cap - at, " %" PRIu64 "[%s|%s]", g->samples[j].row,
                             g->samples[j].cell ? g->samples[j].cell : "-",
                             g->samples[j].note ? g->samples[j].note : "-");
  }
  assert_true(at < cap);
  return out;
}

/* A header wider than the schema, rows blank over the schema's fields only or over the
 * whole header (blank-row from the checker and from the profiler: one group fed from two
 * collectors), duplicates, type errors, absent keys; sample cap 7 so merged groups cut. */
static const char THREADED[] =
    "schema:\n"
    "  primaryKey: [id, k]\n"
    "  fields:\n"
    "    - {name: id, type: integer, constraints: {unique: true}}\n"
    "    - {name: k, type: integer, constraints: {required: true}}\n"
    "    - {name: t, type: integer, constraints: {maximum: 5}}\n";

static void run_threaded(bool threaded, size_t memory, const char *dir, char **out,
                         uint64_t *rows_err) {
  fp_checker_opts o;
  fp_checker_opts_default(&o);
  o.unique_memory = memory;
  o.spill_dir = dir;
  o.threaded = threaded;
  fx x = mk_opts(THREADED, true, 7, &o);
  ROW(&x, "id", "k", "t", "extra");
  char a[32], b[32], c[32];
  for (uint64_t r = 2; r < 60002; r++) {
    uint64_t id = r % 997 == 3 && r >= 4002 ? r - 3000 : r + 1000;
    snprintf(a, sizeof a, "%" PRIu64, id);
    snprintf(b, sizeof b, "%" PRIu64, r % 5);
    snprintf(c, sizeof c, r % 1991 == 0 ? "x" : r % 777 == 0 ? "9" : "1");
    if (r % 1499 == 0) a[0] = b[0] = '\0';
    if (r % 2003 == 0) {
      ROW(&x, "", "", "", "not blank"); /* blank over the schema only: the checker's */
    } else if (r % 2503 == 0) {
      ROW(&x, "", "", "", "");           /* blank over the header: the profiler's */
    } else if (r % 3001 == 0) {
      ROW(&x, a, b);                     /* short: missing-cell from the profiler */
    } else {
      ROW(&x, a, b, c, "e");
    }
  }
  finish(&x);
  *out = ordered(&x);
  *rows_err = fp_checker_rows_with_errors(x.k);
  done(&x);
}

static void test_threaded_same_as_inline(void **state) {
  (void)state;
  char dir[64];
  fp_test_tmpdir(dir, sizeof dir);
  static const size_t memory[] = {(size_t)256 << 20, (size_t)64 << 10}; /* in memory, spilled */
  for (size_t m = 0; m < 2; m++) {
    char *inline_out, *threaded_out;
    uint64_t ei, et;
    run_threaded(false, memory[m], dir, &inline_out, &ei);
    run_threaded(true, memory[m], dir, &threaded_out, &et);
    assert_non_null(strstr(inline_out, "blank-row/0"));
    assert_non_null(strstr(inline_out, "unique-error/1"));
    if (strcmp(inline_out, threaded_out)) {
      fprintf(stderr, "inline:%s\n\nthreaded:%s\n", inline_out, threaded_out);
      fail_msg("threaded checker differs (unique memory %zu)", memory[m]);
    }
    assert_int_equal(ei, et);
    free(inline_out);
    free(threaded_out);
  }
  rmdir(dir);
}

/* ---- policies, severities, dataset checks --------------------------------------------- */

static void test_column_policies(void **state) {
  (void)state;
  fx x =
      mk("schema: {fields: [{name: id, type: integer}, {name: more}]}\n"
         "checks: {extraColumns: warn, missingColumns: ignore}\n",
         true);
  ROW(&x, "id", "x", "y");
  ROW(&x, "1", "a", "b");
  finish(&x);
  expect(&x, NULL, "extra-cell 2 3; extra-label 1 3; incorrect-label 1 2");
  assert_int_equal(group(&x, "extra-label", 3)->severity, FP_SEV_WARNING);
  assert_int_equal(group(&x, "extra-cell", 3)->severity, FP_SEV_WARNING);
  assert_int_equal(fp_checker_rows_with_errors(x.k), 0);
  done(&x);

  x =
      mk("schema: {fields: [{name: id, type: integer}, {name: more}, {name: gone}]}\n"
         "checks: {extraColumns: ignore, missingColumns: warn}\n",
         true);
  ROW(&x, "id", "more");
  ROW(&x, "1", "a");
  finish(&x);
  expect(&x, NULL, "missing-cell 2 3; missing-label 1 3");
  assert_int_equal(group(&x, "missing-cell", 3)->severity, FP_SEV_WARNING);
  done(&x);
}

/* columnOrder other than error: the columns are found by name, a reordering is reported
 * at that severity and the cells are still checked against the right fields. */
static void test_column_order_warn(void **state) {
  (void)state;
  fx x =
      mk("schema: {fields: [{name: id, type: integer}, {name: name}]}\n"
         "checks: {columnOrder: warn}\n",
         true);
  ROW(&x, "name", "id");
  ROW(&x, "english", "1");
  ROW(&x, "german", "x");
  finish(&x);
  expect(&x, NULL, "incorrect-label 1 2; type-error 3 2");
  assert_int_equal(group(&x, "incorrect-label", 2)->severity, FP_SEV_WARNING);
  done(&x);

  x =
      mk("schema: {fields: [{name: id, type: integer}, {name: name}]}\n"
         "checks: {columnOrder: ignore}\n",
         true);
  ROW(&x, "name", "id");
  ROW(&x, "english", "1");
  finish(&x);
  expect(&x, NULL, "");
  done(&x);
}

static void test_severity_overrides(void **state) {
  (void)state;
  fx x = mk(
      "schema: {fields: [{name: id, type: integer}, {name: name, constraints: {required: true}}]}\n"
      "checks: {severity: {type-error: warning, constraint-error: ignore}}\n",
      true);
  ROW(&x, "id", "name");
  ROW(&x, "x", "a");
  ROW(&x, "1", "");
  ROW(&x, "2", "b", "extra");
  finish(&x);
  expect(&x, NULL, "extra-cell 4 3; type-error 2 1");
  assert_int_equal(group(&x, "type-error", 1)->severity, FP_SEV_WARNING);
  assert_int_equal(fp_checker_rows_with_errors(x.k), 1); /* only the structural one */
  done(&x);
}

static void test_row_count(void **state) {
  (void)state;
  fx x = mk("schema: {fields: [{name: id}]}\nchecks: {rows: {min: 3, max: 5}}\n", true);
  ROW(&x, "id");
  ROW(&x, "1");
  ROW(&x, "2");
  finish(&x);
  expect(&x, NULL, "row-count 0 0");
  assert_string_equal(note_of(&x, "row-count", 0, 0), "expected between 3 and 5 rows, got 2");
  done(&x);

  x = mk("schema: {fields: [{name: id}]}\nchecks: {rows: {max: 1}}\n", true);
  ROW(&x, "id");
  ROW(&x, "1");
  ROW(&x, "");
  finish(&x);
  expect(&x, NULL, "blank-row 3 0; row-count 0 0");
  assert_string_equal(note_of(&x, "row-count", 0, 0), "expected at most 1 rows, got 2");
  done(&x);

  x = mk("schema: {fields: [{name: id}]}\nchecks: {rows: {min: 1}}\n", true);
  ROW(&x, "id");
  ROW(&x, "1");
  finish(&x);
  expect(&x, NULL, "");
  done(&x);
}

static void test_error_rate(void **state) {
  (void)state;
  fx x = mk("schema: {fields: [{name: id, type: integer}]}\nchecks: {maxErrorRate: 0.25}\n", true);
  ROW(&x, "id");
  ROW(&x, "1");
  ROW(&x, "x");
  ROW(&x, "3");
  ROW(&x, "4", "extra"); /* structural errors count too */
  finish(&x);
  expect(&x, NULL, "error-rate 0 0; extra-cell 5 2; type-error 3 1");
  assert_int_equal(fp_checker_rows_with_errors(x.k), 2);
  assert_non_null(strstr(note_of(&x, "error-rate", 0, 0), "2 of 4 data rows"));
  done(&x);

  x = mk("schema: {fields: [{name: id, type: integer}]}\nchecks: {maxErrorRate: 0.25}\n", true);
  ROW(&x, "id");
  ROW(&x, "1");
  ROW(&x, "x");
  ROW(&x, "3");
  ROW(&x, "4");
  finish(&x);
  expect(&x, NULL, "type-error 3 1");
  done(&x);
}

/* Counts are exact beyond the sample cap. */
static void test_capped_samples(void **state) {
  (void)state;
  fx x = mk_opts("schema: {fields: [{name: id, type: integer}]}", true, 10, NULL);
  ROW(&x, "id");
  for (int i = 0; i < 1000; i++) ROW(&x, "nope");
  finish(&x);
  const fp_finding_group *g = group(&x, "type-error", 1);
  assert_int_equal(g->count, 1000);
  assert_int_equal(g->nsamples, 10);
  assert_true(g->capped);
  assert_int_equal(fp_checker_rows_with_errors(x.k), 1000);
  done(&x);
}

static void test_misuse(void **state) {
  (void)state;
  fx x = mk("schema: {fields: [{name: id}]}", true);
  ROW(&x, "id");
  finish(&x);
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_checker_finish(x.k, &d), FP_ERR_INVAL);
  fp_cell c = {"1", 1, 0};
  fp_csv_record r = {&c, 1, 0, 9, 0, 0, 0};
  assert_int_equal(fp_checker_record(x.k, &r, &d), FP_ERR_INVAL);
  done(&x);
  fp_checker_free(NULL);
  assert_int_equal(fp_checker_new(NULL, NULL, true, NULL, NULL, &d), FP_ERR_INVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_extra_label_and_cells),
      cmocka_unit_test(test_missing_label_required),
      cmocka_unit_test(test_incorrect_label),
      cmocka_unit_test(test_label_normalisation),
      cmocka_unit_test(test_fields_match),
      cmocka_unit_test(test_by_name_types),
      cmocka_unit_test(test_no_header),
      cmocka_unit_test(test_types_and_required),
      cmocka_unit_test(test_constraints),
      cmocka_unit_test(test_missing_values),
      cmocka_unit_test(test_schema_blank_row),
      cmocka_unit_test(test_unique),
      cmocka_unit_test(test_primary_key_composite),
      cmocka_unit_test(test_unique_and_pk),
      cmocka_unit_test(test_unique_spilled_same_as_memory),
      cmocka_unit_test(test_threaded_same_as_inline),
      cmocka_unit_test(test_column_policies),
      cmocka_unit_test(test_column_order_warn),
      cmocka_unit_test(test_severity_overrides),
      cmocka_unit_test(test_row_count),
      cmocka_unit_test(test_error_rate),
      cmocka_unit_test(test_capped_samples),
      cmocka_unit_test(test_misuse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
