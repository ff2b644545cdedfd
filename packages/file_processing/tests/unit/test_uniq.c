/* test_uniq.c — exact uniqueness within a memory budget (src/quality/uniq.c): duplicates
 * reported with their first row, forced 64-bit collisions that must not invent or hide a
 * duplicate, a tiny budget that spills to sorted runs and must give the same duplicates as
 * a large one, peak memory under the budget, and no spill file left behind. */
#include "fp_test.h"

#include <dirent.h>
#include <inttypes.h>

#include "quality/uniq.h"

/* ---- helpers -------------------------------------------------------------------------- */

typedef struct dupe {
  uint64_t row, first;
} dupe;

typedef struct dups {
  dupe *v;
  size_t n, cap;
  uint64_t late_last_row; /* finish must report rows in increasing order */
  bool late_ordered;
  size_t late;
} dups;

static void dups_push(dups *s, uint64_t row, uint64_t first) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 256;
    s->v = realloc(s->v, s->cap * sizeof *s->v);
    assert_non_null(s->v);
  }
  s->v[s->n++] = (dupe){row, first};
}

static fp_err on_dup(void *ud, uint64_t row, uint64_t first, const char *key, size_t len,
                     fp_diag *d) {
  (void)key, (void)len, (void)d;
  dups *s = ud;
  if (s->late && row < s->late_last_row) s->late_ordered = false;
  s->late_last_row = row;
  s->late++;
  dups_push(s, row, first);
  return FP_OK;
}

static int dup_cmp(const void *a, const void *b) {
  const dupe *x = a, *y = b;
  if (x->row != y->row) return x->row < y->row ? -1 : 1;
  return x->first < y->first ? -1 : x->first > y->first;
}

static uint64_t hash4(const void *key, size_t len) { /* 16 distinct hashes: collisions galore */
  const unsigned char *p = key;
  uint64_t h = 0;
  for (size_t i = 0; i < len; i++) h = h * 31 + p[i];
  return h & 0xF;
}

static uint64_t hash0(const void *key, size_t len) { /* every key collides */
  (void)key, (void)len;
  return 42;
}

static size_t count_fds(void) {
  DIR *dir = opendir("/proc/self/fd");
  if (!dir) return 0;
  size_t n = 0;
  for (struct dirent *e; (e = readdir(dir));) n += e->d_name[0] != '.';
  closedir(dir);
  return n;
}

static size_t count_files(const char *path) {
  DIR *dir = opendir(path);
  assert_non_null(dir);
  size_t n = 0;
  for (struct dirent *e; (e = readdir(dir));) n += e->d_name[0] != '.';
  closedir(dir);
  return n;
}

static fp__uniq *mk(size_t memory, const char *dir, fp__uniq_hash_fn h) {
  fp__uniq_opts o = {memory, dir, h};
  fp__uniq *u = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp__uniq_new(&o, &u, &d), FP_OK);
  return u;
}

static void add(fp__uniq *u, const char *key, uint64_t row, dups *out) {
  uint64_t first = 99;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp__uniq_add(u, key, strlen(key), row, &first, &d), FP_OK);
  if (first) dups_push(out, row, first);
}

static void finish(fp__uniq *u, dups *out) {
  fp_diag d;
  fp_diag_clear(&d);
  out->late_ordered = true;
  assert_int_equal(fp__uniq_finish(u, on_dup, out, &d), FP_OK);
  assert_true(out->late_ordered);
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_in_memory(void **state) {
  (void)state;
  fp__uniq *u = mk(0, NULL, NULL);
  dups got = {0};
  add(u, "a", 2, &got);
  add(u, "b", 3, &got);
  add(u, "a", 4, &got);
  add(u, "", 5, &got);
  add(u, "", 6, &got);
  add(u, "a", 7, &got);
  add(u, "ab", 8, &got);
  finish(u, &got);
  assert_false(fp__uniq_spilled(u));
  assert_int_equal(got.late, 0);
  assert_int_equal(got.n, 3);
  assert_int_equal(got.v[0].row, 4);
  assert_int_equal(got.v[0].first, 2);
  assert_int_equal(got.v[1].row, 6);
  assert_int_equal(got.v[1].first, 5);
  assert_int_equal(got.v[2].row, 7);
  assert_int_equal(got.v[2].first, 2); /* the first occurrence, not the latest */
  assert_true(fp__uniq_peak(u) > 0);
  fp__uniq_free(u);
  free(got.v);
}

/* Binary keys: embedded NULs and keys that are prefixes of each other stay distinct. */
static void test_binary_keys(void **state) {
  (void)state;
  fp__uniq *u = mk(0, NULL, NULL);
  fp_diag d;
  fp_diag_clear(&d);
  uint64_t first;
  assert_int_equal(fp__uniq_add(u, "a\0b", 3, 2, &first, &d), FP_OK);
  assert_int_equal(first, 0);
  assert_int_equal(fp__uniq_add(u, "a\0c", 3, 3, &first, &d), FP_OK);
  assert_int_equal(first, 0);
  assert_int_equal(fp__uniq_add(u, "a", 1, 4, &first, &d), FP_OK);
  assert_int_equal(first, 0);
  assert_int_equal(fp__uniq_add(u, "a\0b", 3, 5, &first, &d), FP_OK);
  assert_int_equal(first, 2);
  fp__uniq_free(u);
}

/* Reference duplicates for keys k(i) = "v<i mod m>" at rows 2.. : the first occurrence of
 * value j is row j + 2. */
static void mod_keys(fp__uniq *u, size_t n, size_t m, dups *got, dups *want) {
  char key[32];
  for (size_t i = 0; i < n; i++) {
    snprintf(key, sizeof key, "v%zu", i % m);
    add(u, key, i + 2, got);
    if (i >= m) dups_push(want, i + 2, i % m + 2);
  }
}

static void same_dups(dups *got, dups *want) {
  qsort(got->v, got->n, sizeof *got->v, dup_cmp);
  qsort(want->v, want->n, sizeof *want->v, dup_cmp);
  assert_int_equal(got->n, want->n);
  for (size_t i = 0; i < got->n; i++) {
    assert_int_equal(got->v[i].row, want->v[i].row);
    assert_int_equal(got->v[i].first, want->v[i].first);
  }
}

/* A 4-bit hash: every key shares its hash with thousands of others; only verified hits
 * count, so the duplicates are exactly the true ones. */
static void test_collisions_in_memory(void **state) {
  (void)state;
  fp__uniq *u = mk(0, NULL, hash4);
  dups got = {0}, want = {0};
  mod_keys(u, 3000, 1000, &got, &want);
  finish(u, &got);
  assert_false(fp__uniq_spilled(u));
  same_dups(&got, &want);
  fp__uniq_free(u);
  free(got.v);
  free(want.v);
}

static void test_all_collide(void **state) {
  (void)state;
  fp__uniq *u = mk(0, NULL, hash0);
  dups got = {0}, want = {0};
  mod_keys(u, 600, 200, &got, &want);
  finish(u, &got);
  same_dups(&got, &want);
  fp__uniq_free(u);
  free(got.v);
  free(want.v);
}

/* Collisions with a budget so small the set spills: the sorted runs group keys by (hash,
 * bytes), so colliding keys still form separate groups. */
static void test_collisions_spilled(void **state) {
  (void)state;
  char dir[64];
  fp_test_tmpdir(dir, sizeof dir);
  fp__uniq *u = mk(64 << 10, dir, hash4);
  dups got = {0}, want = {0};
  mod_keys(u, 30000, 7000, &got, &want);
  finish(u, &got);
  assert_true(fp__uniq_spilled(u));
  assert_true(got.late > 0);
  same_dups(&got, &want);
  fp__uniq_free(u);
  assert_int_equal(count_files(dir), 0);
  rmdir(dir);
  free(got.v);
  free(want.v);
}

/* Every key shares one hash and the set spills: the sorted runs order the keys by their
 * bytes alone (the in-place sort must stay correct when all sort keys tie). */
static void test_all_collide_spilled(void **state) {
  (void)state;
  char dir[64];
  fp_test_tmpdir(dir, sizeof dir);
  fp__uniq *u = mk(64 << 10, dir, hash0);
  dups got = {0}, want = {0};
  mod_keys(u, 20000, 4000, &got, &want);
  finish(u, &got);
  assert_true(fp__uniq_spilled(u));
  same_dups(&got, &want);
  fp__uniq_free(u);
  rmdir(dir);
  free(got.v);
  free(want.v);
}

/* 1 M keys: unique "u<row>" keys, plus rows r % 1000 == 7 with "d<(r / 1000) mod 50>"
 * (first seen at row 1000 * j + 7) and rows r % 1000 == 500 repeating the key of row
 * r - 1001 (so the first occurrence lies before or after any spill point). */
static void big_keys(fp__uniq *u, dups *got, dups *want) {
  char key[32];
  for (uint64_t r = 2; r < 1000002; r++) {
    if (r % 1000 == 7) {
      uint64_t q = r / 1000;
      snprintf(key, sizeof key, "d%" PRIu64, q % 50);
      if (q >= 50) dups_push(want, r, 1000 * (q % 50) + 7);
    } else if (r % 1000 == 500 && r >= 1501) {
      snprintf(key, sizeof key, "u%" PRIu64, r - 1001);
      dups_push(want, r, r - 1001);
    } else {
      snprintf(key, sizeof key, "u%" PRIu64, r);
    }
    add(u, key, r, got);
  }
}

static void test_tiny_budget_same_as_big(void **state) {
  (void)state;
  char dir[64];
  fp_test_tmpdir(dir, sizeof dir);
  size_t fds0 = count_fds();

  fp__uniq *big = mk(256u << 20, dir, NULL);
  dups gb = {0}, wb = {0};
  big_keys(big, &gb, &wb);
  finish(big, &gb);
  assert_false(fp__uniq_spilled(big));
  assert_int_equal(gb.late, 0);
  fp__uniq_free(big);

  fp__uniq *tiny = mk(64 << 10, dir, NULL);
  dups gt = {0}, wt = {0};
  big_keys(tiny, &gt, &wt);
  assert_true(fp__uniq_spilled(tiny));
  assert_int_equal(count_files(dir), 0); /* spill files are unlinked while in use */
  assert_true(count_fds() > fds0);
  finish(tiny, &gt);
  assert_true(gt.late > 0);
  assert_true(fp__uniq_spill_bytes(tiny) > 0);
  size_t peak = fp__uniq_peak(tiny);
  fprintf(stderr, "tiny budget: peak %zu bytes, %" PRIu64 " bytes spilled, %zu late duplicates\n",
          peak, fp__uniq_spill_bytes(tiny), gt.late);
  assert_true(peak <= (size_t)64 << 10);
  fp__uniq_free(tiny);
  assert_int_equal(count_fds(), fds0);
  assert_int_equal(count_files(dir), 0);
  rmdir(dir);

  assert_int_equal(wb.n, 950 + 998);
  same_dups(&gb, &wb);
  same_dups(&gt, &wt);
  same_dups(&gt, &gb);
  free(gb.v);
  free(wb.v);
  free(gt.v);
  free(wt.v);
}

/* Keys longer than the I/O buffers survive the runs and merges intact. */
static void test_long_keys_spilled(void **state) {
  (void)state;
  char dir[64];
  fp_test_tmpdir(dir, sizeof dir);
  fp__uniq *u = mk(64 << 10, dir, NULL);
  size_t len = 20000;
  char *key = malloc(len + 1);
  assert_non_null(key);
  dups got = {0}, want = {0};
  fp_diag d;
  fp_diag_clear(&d);
  for (uint64_t r = 2; r < 202; r++) {
    memset(key, 'a' + (int)(r % 26), len);
    uint64_t first;
    /* rows >= 28 repeat the key of row r - 26 */
    assert_int_equal(fp__uniq_add(u, key, len - (r % 3 == 0 ? 0 : 1), r, &first, &d), FP_OK);
    if (first) dups_push(&got, r, first);
  }
  finish(u, &got);
  assert_true(fp__uniq_spilled(u));
  /* reference: same letter and same length class */
  for (uint64_t r = 2; r < 202; r++)
    for (uint64_t q = 2; q < r; q++)
      if (q % 26 == r % 26 && (q % 3 == 0) == (r % 3 == 0)) {
        dups_push(&want, r, q);
        break;
      }
  same_dups(&got, &want);
  fp__uniq_free(u);
  rmdir(dir);
  free(key);
  free(got.v);
  free(want.v);
}

static void test_bad_spill_dir(void **state) {
  (void)state;
  fp__uniq *u = mk(64 << 10, "/nonexistent/fp-uniq-test", NULL);
  fp_diag d;
  fp_diag_clear(&d);
  char key[32];
  fp_err e = FP_OK;
  for (uint64_t r = 2; r < 100000 && !e; r++) {
    snprintf(key, sizeof key, "k%" PRIu64, r);
    uint64_t first;
    e = fp__uniq_add(u, key, strlen(key), r, &first, &d);
  }
  assert_int_equal(e, FP_ERR_IO);
  assert_non_null(strstr(d.msg, "spill file"));
  fp__uniq_free(u);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_in_memory),
      cmocka_unit_test(test_binary_keys),
      cmocka_unit_test(test_collisions_in_memory),
      cmocka_unit_test(test_all_collide),
      cmocka_unit_test(test_collisions_spilled),
      cmocka_unit_test(test_all_collide_spilled),
      cmocka_unit_test(test_tiny_budget_same_as_big),
      cmocka_unit_test(test_long_keys_spilled),
      cmocka_unit_test(test_bad_spill_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
