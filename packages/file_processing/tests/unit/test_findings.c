/* test_findings.c — the findings collector: exact counts past the sample cap, grouping by
 * (code, field), first-seen order, severity fixed by the first add, UTF-8-safe copies. */
#include "fp_test.h"

#include "fp/fp_findings.h"
#include "quality/quality_int.h"

/* Independent UTF-8 validator for the assertions (not the library's). */
static bool valid_utf8(const char *s) {
  const unsigned char *u = (const unsigned char *)s;
  while (*u) {
    int n;
    uint32_t cp;
    if (*u < 0x80) {
      u++;
      continue;
    } else if ((*u & 0xE0) == 0xC0) {
      n = 1;
      cp = *u & 0x1F;
    } else if ((*u & 0xF0) == 0xE0) {
      n = 2;
      cp = *u & 0x0F;
    } else if ((*u & 0xF8) == 0xF0) {
      n = 3;
      cp = *u & 0x07;
    } else {
      return false;
    }
    u++;
    for (int i = 0; i < n; i++, u++) {
      if ((*u & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (*u & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
  }
  return true;
}

static fp_findings *mk(size_t cap) {
  fp_findings *f = NULL;
  assert_int_equal(fp_findings_new(cap, &f), FP_OK);
  assert_non_null(f);
  return f;
}

static void test_counts_exact_beyond_cap(void **state) {
  (void)state;
  fp_findings *f = mk(0); /* default cap 100 */
  for (uint64_t r = 2; r < 2 + 1000; r++)
    assert_int_equal(fp_findings_add(f, "missing-cell", FP_SEV_ERROR, r, 3, "age", NULL, 0,
                                     "row has 2 cells, header has 3"),
                     FP_OK);
  assert_int_equal(fp_findings_count_groups(f), 1);
  const fp_finding_group *g = fp_findings_group(f, 0);
  assert_string_equal(g->code, "missing-cell");
  assert_string_equal(g->message, "Missing Cell");
  assert_string_equal(g->field_name, "age");
  assert_int_equal(g->field, 3);
  assert_int_equal(g->count, 1000);
  assert_int_equal(g->nsamples, 100);
  assert_true(g->capped);
  /* The first 100 are kept, in order. */
  for (size_t i = 0; i < g->nsamples; i++) {
    assert_int_equal(g->samples[i].row, 2 + i);
    assert_int_equal(g->samples[i].field, 3);
    assert_null(g->samples[i].cell);
    assert_string_equal(g->samples[i].note, "row has 2 cells, header has 3");
  }
  assert_int_equal(fp_findings_total(f, FP_SEV_ERROR), 1000);
  fp_findings_free(f);
}

static void test_small_cap_and_not_capped(void **state) {
  (void)state;
  fp_findings *f = mk(3);
  for (int i = 0; i < 3; i++)
    fp_findings_add(f, "blank-row", FP_SEV_ERROR, (uint64_t)(10 + i), 0, NULL, NULL, 0, NULL);
  const fp_finding_group *g = fp_findings_group(f, 0);
  assert_int_equal(g->count, 3);
  assert_int_equal(g->nsamples, 3);
  assert_false(g->capped);
  assert_null(g->field_name);
  fp_findings_add(f, "blank-row", FP_SEV_ERROR, 13, 0, NULL, NULL, 0, NULL);
  g = fp_findings_group(f, 0);
  assert_int_equal(g->count, 4);
  assert_int_equal(g->nsamples, 3);
  assert_true(g->capped);
  assert_false(fp__findings_wants_sample(f, "blank-row", 0));
  assert_true(fp__findings_wants_sample(f, "blank-row", 1)); /* another group */
  assert_true(fp__findings_wants_sample(f, "extra-cell", 0));
  fp_findings_free(f);
}

static void test_grouping_and_order(void **state) {
  (void)state;
  fp_findings *f = mk(5);
  /* Interleave codes and fields; expected groups in first-seen order. */
  struct {
    const char *code;
    uint32_t field;
  } adds[] = {{"extra-cell", 5}, {"missing-cell", 3}, {"extra-cell", 5},
              {"extra-cell", 6}, {"missing-cell", 4}, {"missing-cell", 3},
              {"blank-row", 0},  {"extra-cell", 5},   {"missing-cell", 3}};
  size_t nadds = sizeof adds / sizeof *adds;
  for (size_t i = 0; i < nadds; i++)
    fp_findings_add(f, adds[i].code, FP_SEV_ERROR, i + 2, adds[i].field, NULL, "x", 1, NULL);
  const char *want_code[] = {"extra-cell", "missing-cell", "extra-cell", "missing-cell",
                             "blank-row"};
  uint32_t want_field[] = {5, 3, 6, 4, 0};
  assert_int_equal(fp_findings_count_groups(f), 5);
  for (size_t gi = 0; gi < 5; gi++) {
    const fp_finding_group *g = fp_findings_group(f, gi);
    assert_string_equal(g->code, want_code[gi]);
    assert_int_equal(g->field, want_field[gi]);
    uint64_t n = 0;
    for (size_t i = 0; i < nadds; i++)
      n += !strcmp(adds[i].code, want_code[gi]) && adds[i].field == want_field[gi];
    assert_int_equal(g->count, n);
    assert_int_equal(g->nsamples, n);
  }
  assert_null(fp_findings_group(f, 5));
  /* Many groups: the index must keep working after it grows. */
  for (uint32_t fld = 1; fld <= 500; fld++)
    for (int k = 0; k < 3; k++)
      fp_findings_add(f, "type-error", FP_SEV_ERROR, 100 + (uint64_t)k, fld, "c", "v", 1, NULL);
  assert_int_equal(fp_findings_count_groups(f), 505);
  for (uint32_t fld = 1; fld <= 500; fld++) {
    const fp_finding_group *g = fp_findings_group(f, 4 + fld);
    assert_string_equal(g->code, "type-error");
    assert_int_equal(g->field, fld);
    assert_int_equal(g->count, 3);
  }
  fp_findings_free(f);
}

static void test_severity_and_totals(void **state) {
  (void)state;
  fp_findings *f = mk(10);
  fp_findings_add(f, "duplicate-row", FP_SEV_WARNING, 4, 0, NULL, NULL, 0, NULL);
  fp_findings_add(f, "duplicate-row", FP_SEV_ERROR, 5, 0, NULL, NULL, 0, NULL); /* keeps warning */
  fp_findings_add(f, "type-error", FP_SEV_ERROR, 2, 1, "a", "x", 1, NULL);
  fp_findings_add(f, "type-error", FP_SEV_INFO, 3, 1, "a", "y", 1, NULL);
  fp_findings_add(f, "type-error", FP_SEV_INFO, 3, 2, "b", "y", 1, NULL); /* new group: info */
  fp_findings_add(f, "blank-row", FP_SEV_ERROR, 9, 0, NULL, NULL, 0, NULL);
  assert_int_equal(fp_findings_group(f, 0)->severity, FP_SEV_WARNING);
  assert_int_equal(fp_findings_group(f, 1)->severity, FP_SEV_ERROR);
  assert_int_equal(fp_findings_group(f, 2)->severity, FP_SEV_INFO);
  assert_int_equal(fp_findings_total(f, FP_SEV_WARNING), 2);
  assert_int_equal(fp_findings_total(f, FP_SEV_ERROR), 3);
  assert_int_equal(fp_findings_total(f, FP_SEV_INFO), 1);
  assert_string_equal(fp_severity_name(FP_SEV_INFO), "info");
  assert_string_equal(fp_severity_name(FP_SEV_WARNING), "warning");
  assert_string_equal(fp_severity_name(FP_SEV_ERROR), "error");
  fp_findings_free(f);
}

static void test_cell_truncation_utf8(void **state) {
  (void)state;
  fp_findings *f = mk(10);
  /* 150 two-byte characters = 300 bytes: 200 bytes hold exactly 100 characters. */
  char cell[300];
  for (int i = 0; i < 150; i++) {
    cell[2 * i] = (char)0xC3;
    cell[2 * i + 1] = (char)0xA9; /* é */
  }
  fp_findings_add(f, "type-error", FP_SEV_ERROR, 2, 1, "a", cell, sizeof cell, NULL);
  /* 199 ASCII bytes then a 3-byte character: must not be split, so 199 bytes remain. */
  char cell2[202];
  memset(cell2, 'a', 199);
  cell2[199] = (char)0xE2;
  cell2[200] = (char)0x82;
  cell2[201] = (char)0xAC; /* € */
  fp_findings_add(f, "type-error", FP_SEV_ERROR, 3, 1, "a", cell2, sizeof cell2, NULL);
  /* Exactly 200 bytes: kept whole. */
  char cell3[200];
  memset(cell3, 'b', sizeof cell3);
  fp_findings_add(f, "type-error", FP_SEV_ERROR, 4, 1, "a", cell3, sizeof cell3, NULL);
  const fp_finding_group *g = fp_findings_group(f, 0);
  assert_int_equal(g->nsamples, 3);
  assert_int_equal(strlen(g->samples[0].cell), 200);
  assert_true(valid_utf8(g->samples[0].cell));
  assert_memory_equal(g->samples[0].cell, cell, 200);
  assert_int_equal(strlen(g->samples[1].cell), 199);
  assert_true(valid_utf8(g->samples[1].cell));
  assert_int_equal(strlen(g->samples[2].cell), 200);
  fp_findings_free(f);
}

static void test_invalid_utf8_replaced(void **state) {
  (void)state;
  fp_findings *f = mk(10);
  /* Latin-1 "caf\xe9", an overlong "/", a lone continuation byte, a surrogate, a NUL, and a
   * truncated sequence at the end. */
  const char raw[] = "caf\xe9|\xc0\xaf|\x80|\xed\xa0\x80|\0|ok\xe2\x82";
  size_t n = sizeof raw - 1;
  fp_findings_add(f, "encoding-error", FP_SEV_ERROR, 7, 0, NULL, raw, n, "bad \xff note");
  const fp_finding_sample *s = &fp_findings_group(f, 0)->samples[0];
  assert_true(valid_utf8(s->cell));
  assert_true(valid_utf8(s->note));
  /* Each bad byte becomes U+FFFD; good text survives in place. */
  assert_non_null(strstr(s->cell, "caf\xef\xbf\xbd|"));
  assert_non_null(strstr(s->cell, "|ok\xef\xbf\xbd\xef\xbf\xbd"));
  assert_string_equal(s->note, "bad \xef\xbf\xbd note");
  /* Valid multi-byte text is untouched. */
  const char good[] = "Zoë – 東京 😀";
  fp_findings_add(f, "encoding-error", FP_SEV_ERROR, 8, 0, NULL, good, sizeof good - 1, NULL);
  assert_string_equal(fp_findings_group(f, 0)->samples[1].cell, good);
  assert_null(fp_findings_group(f, 0)->samples[1].note);
  fp_findings_free(f);
}

static void test_titles(void **state) {
  (void)state;
  const char *pairs[][2] = {
      {"blank-label", "Blank Label"},
      {"duplicate-label", "Duplicate Label"},
      {"incorrect-label", "Incorrect Label"},
      {"missing-label", "Missing Label"},
      {"extra-label", "Extra Label"},
      {"blank-row", "Blank Row"},
      {"primary-key", "Primary Key Error"},
      {"foreign-key", "Foreign Key Error"},
      {"duplicate-row", "Duplicate Row"},
      {"missing-cell", "Missing Cell"},
      {"extra-cell", "Extra Cell"},
      {"type-error", "Type Error"},
      {"constraint-error", "Constraint Error"},
      {"unique-error", "Unique Error"},
      {"encoding-error", "Encoding Error"},
      {"source-error", "Source Error"},
      {"scheme-error", "Scheme Error"},
      {"format-error", "Format Error"},
      {"hash-count", "Hash Count Error"},
      {"byte-count", "Byte Count Error"},
      {"field-count", "Field Count Error"},
      {"row-count", "Row Count Error"},
  };
  for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++)
    assert_string_equal(fp_finding_title(pairs[i][0]), pairs[i][1]);
  assert_string_equal(fp_finding_title("my-custom-check"), "my-custom-check");
}

static void test_null_safety(void **state) {
  (void)state;
  fp_findings_free(NULL);
  assert_int_equal(fp_findings_count_groups(NULL), 0);
  assert_null(fp_findings_group(NULL, 0));
  assert_int_equal(fp_findings_total(NULL, FP_SEV_ERROR), 0);
  fp_findings *f = mk(1);
  assert_int_equal(fp_findings_add(f, NULL, FP_SEV_ERROR, 1, 0, NULL, NULL, 0, NULL), FP_ERR_INVAL);
  assert_int_equal(fp_findings_add(NULL, "x", FP_SEV_ERROR, 1, 0, NULL, NULL, 0, NULL),
                   FP_ERR_INVAL);
  assert_int_equal(fp_findings_count_groups(f), 0);
  fp_findings_free(f);
}

static void test_overrides(void **state) {
  (void)state;
  fp_findings *f = NULL;
  assert_int_equal(fp_findings_new(0, &f), FP_OK);
  assert_int_equal(fp_findings_override(f, "type-error", FP_SEV_WARNING, false), FP_OK);
  assert_int_equal(fp_findings_override(f, "blank-row", FP_SEV_ERROR, true), FP_OK);
  assert_int_equal(fp_findings_add(f, "type-error", FP_SEV_ERROR, 2, 1, "a", "x", 1, NULL), FP_OK);
  assert_int_equal(fp_findings_add(f, "blank-row", FP_SEV_ERROR, 3, 0, NULL, NULL, 0, NULL), FP_OK);
  assert_int_equal(fp_findings_add(f, "extra-cell", FP_SEV_ERROR, 4, 3, NULL, "y", 1, NULL), FP_OK);
  assert_int_equal(fp_findings_count_groups(f), 2); /* blank-row ignored entirely */
  assert_int_equal(fp_findings_group(f, 0)->severity, FP_SEV_WARNING);
  assert_int_equal(fp_findings_total(f, FP_SEV_WARNING), 1);
  assert_int_equal(fp_findings_total(f, FP_SEV_ERROR), 1);
  fp_findings_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_counts_exact_beyond_cap),
      cmocka_unit_test(test_small_cap_and_not_capped),
      cmocka_unit_test(test_grouping_and_order),
      cmocka_unit_test(test_severity_and_totals),
      cmocka_unit_test(test_cell_truncation_utf8),
      cmocka_unit_test(test_invalid_utf8_replaced),
      cmocka_unit_test(test_titles),
      cmocka_unit_test(test_null_safety),
      cmocka_unit_test(test_overrides),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
