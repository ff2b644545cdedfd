/* test_objstore.c — the local object store: ROOT/<bucket>/<key> before ROOT/<key>,
 * missing objects named in the error, keys and symlinks that would leave the root refused,
 * symlinks that stay inside allowed, bounded chunks, sink errors passed through. */
#include "fp_test.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>

#include "fp/fp_objstore.h"

static char tmp[512];          /* the test's temp dir */
static char root[PATH_MAX];    /* tmp/root (realpath) */
static char outside[PATH_MAX]; /* tmp/outside */

/* ---- fixture ------------------------------------------------------------------------ */

static void write_file(const char *rel_to_tmp, const char *content) {
  char path[PATH_MAX * 2];
  snprintf(path, sizeof path, "%s/%s", tmp, rel_to_tmp);
  FILE *f = fopen(path, "wb");
  if (!f) {
    print_error("cannot create %s: %s\n", path, strerror(errno));
    fail();
  }
  fputs(content, f);
  fclose(f);
}

static void mkdir_tmp(const char *rel) {
  char path[PATH_MAX * 2];
  snprintf(path, sizeof path, "%s/%s", tmp, rel);
  assert_int_equal(mkdir(path, 0755), 0);
}

static void symlink_tmp(const char *target, const char *rel_link) {
  char path[PATH_MAX * 2];
  snprintf(path, sizeof path, "%s/%s", tmp, rel_link);
  assert_int_equal(symlink(target, path), 0);
}

static int setup(void **state) {
  (void)state;
  fp_test_tmpdir(tmp, sizeof tmp);
  if (!tmp[0]) return -1;
  char *real = realpath(tmp, NULL); /* /tmp may itself be a symlink */
  if (!real) return -1;
  if (strlen(real) >= sizeof tmp) return -1;
  memcpy(tmp, real, strlen(real) + 1);
  free(real);
  snprintf(root, sizeof root, "%s/root", tmp);
  snprintf(outside, sizeof outside, "%s/outside", tmp);
  mkdir_tmp("root");
  mkdir_tmp("outside");
  mkdir_tmp("root/data");
  mkdir_tmp("root/bkt");
  mkdir_tmp("root/bkt/data");
  mkdir_tmp("root/sub");
  write_file("outside/secret.txt", "secret\n");
  write_file("root/data/k.csv", "plain\n");
  write_file("root/bkt/data/k.csv", "bucketed\n");
  write_file("root/only-plain.csv", "only plain\n");
  write_file("root/\xE4\xBD\xA0\xE5\xAE\xB6\xE5\xA8\x83\xF0\x9F\x90\xB1.csv", "unicode\n");
  write_file("root/my file+1.csv", "spaces\n");
  char abs_target[PATH_MAX * 2];
  /* Escapes: absolute and relative file links, a directory link. */
  snprintf(abs_target, sizeof abs_target, "%s/secret.txt", outside);
  symlink_tmp(abs_target, "root/escape-abs.csv");
  symlink_tmp("../outside/secret.txt", "root/escape-rel.csv");
  symlink_tmp(outside, "root/outdir");
  /* Bucket directory that is a link outside: ROOT/evil/<key> must not be served. */
  symlink_tmp(outside, "root/evil");
  /* Links that stay inside: relative, absolute, via a linked directory. */
  symlink_tmp("data/k.csv", "root/alias-rel.csv");
  snprintf(abs_target, sizeof abs_target, "%s/data/k.csv", root);
  symlink_tmp(abs_target, "root/alias-abs.csv");
  symlink_tmp("../data", "root/sub/datalink");
  symlink_tmp("loop-b", "root/loop-a");
  symlink_tmp("loop-a", "root/loop-b");
  return 0;
}

static int teardown(void **state) {
  (void)state;
  fp_test_rmtree(tmp);
  return 0;
}

/* ---- a sink that keeps bytes ---------------------------------------------------------- */

typedef struct collect {
  char *data;
  size_t len, calls, max_chunk;
  const fp_object_info *info; /* checked on the first call: filled before streaming */
  int64_t size_seen_first;
  fp_err fail_with;
} collect;

static fp_err collect_sink(void *ud, const char *buf, size_t n, fp_diag *d) {
  collect *c = ud;
  if (c->calls++ == 0 && c->info) c->size_seen_first = c->info->size;
  if (n > c->max_chunk) c->max_chunk = n;
  if (c->fail_with) return fp_diag_set(d, c->fail_with, "sink refused the bytes");
  c->data = realloc(c->data, c->len + n + 1);
  assert_non_null(c->data);
  memcpy(c->data + c->len, buf, n);
  c->len += n;
  c->data[c->len] = '\0';
  return FP_OK;
}

static fp_objstore *open_store(void) {
  fp_objstore *s = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  fp_err e = fp_objstore_local_new(root, &s, &d);
  if (e) print_error("%s\n", d.msg);
  assert_int_equal(e, FP_OK);
  assert_string_equal(fp_objstore_kind(s), "local");
  return s;
}

static fp_err stream(const char *bucket, const char *key, collect *c, fp_object_info *info,
                     fp_diag *d) {
  fp_objstore *s = open_store();
  fp_object_ref ref = {.bucket = (char *)bucket, .key = (char *)key, .size = -1};
  memset(c, 0, sizeof *c);
  c->info = info;
  c->size_seen_first = -2;
  fp_diag_clear(d);
  fp_err e = fp_objstore_stream(s, &ref, collect_sink, c, info, d);
  fp_objstore_free(s);
  return e;
}

static void expect_content(const char *bucket, const char *key, const char *want,
                           const char *want_rel_location) {
  collect c;
  fp_object_info info;
  fp_diag d;
  fp_err e = stream(bucket, key, &c, &info, &d);
  if (e) print_error("%s/%s: %s\n", bucket, key, d.msg);
  assert_int_equal(e, FP_OK);
  assert_non_null(c.data);
  assert_string_equal(c.data, want);
  assert_int_equal(info.size, (int64_t)strlen(want));
  assert_int_equal(c.size_seen_first, (int64_t)strlen(want));
  assert_string_equal(info.etag, "");
  char loc[PATH_MAX * 2];
  snprintf(loc, sizeof loc, "%s/%s", root, want_rel_location);
  assert_string_equal(info.location, loc);
  free(c.data);
}

static void expect_refused(const char *bucket, const char *key, fp_err code, const char *msg) {
  collect c;
  fp_diag d;
  fp_err e = stream(bucket, key, &c, NULL, &d);
  if (e != code) print_error("%s/%s: got %s: %s\n", bucket, key, fp_err_name(e), d.msg);
  assert_int_equal(e, code);
  assert_int_equal(c.calls, 0);
  if (msg && !strstr(d.msg, msg)) {
    print_error("message \"%s\" lacks \"%s\"\n", d.msg, msg);
    fail();
  }
  free(c.data);
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_plain_and_bucket_layouts(void **state) {
  (void)state;
  expect_content("bkt", "data/k.csv", "bucketed\n", "bkt/data/k.csv"); /* preferred */
  expect_content("other", "data/k.csv", "plain\n", "data/k.csv");
  expect_content("bkt", "only-plain.csv", "only plain\n", "only-plain.csv"); /* fallback */
  expect_content("b", "my file+1.csv", "spaces\n", "my file+1.csv");
  expect_content("b", "\xE4\xBD\xA0\xE5\xAE\xB6\xE5\xA8\x83\xF0\x9F\x90\xB1.csv", "unicode\n",
                 "\xE4\xBD\xA0\xE5\xAE\xB6\xE5\xA8\x83\xF0\x9F\x90\xB1.csv");
  expect_content("b", "./data//k.csv", "plain\n", "data/k.csv");
}

static void test_missing_and_directories(void **state) {
  (void)state;
  char want[PATH_MAX * 2];
  snprintf(want, sizeof want, "object not found: %s/nope.csv", root);
  expect_refused("b", "nope.csv", FP_ERR_NOT_FOUND, want);
  snprintf(want, sizeof want, "object not found: %s/data/nope/deeper.csv", root);
  expect_refused("b", "data/nope/deeper.csv", FP_ERR_NOT_FOUND, want);
  expect_refused("b", "data/k.csv/x", FP_ERR_NOT_FOUND, "object not found");
  expect_refused("b", "data", FP_ERR_NOT_FOUND, "not a regular file");
  expect_refused("b", "data/", FP_ERR_NOT_FOUND, "object not found");
  /* The key is in diag.key. */
  collect c;
  fp_diag d;
  assert_int_equal(stream("b", "nope.csv", &c, NULL, &d), FP_ERR_NOT_FOUND);
  assert_string_equal(d.key, "nope.csv");
}

static void test_traversal_refused(void **state) {
  (void)state;
  expect_refused("b", "../outside/secret.txt", FP_ERR_FORBIDDEN, "../outside/secret.txt");
  expect_refused("b", "../etc/passwd", FP_ERR_FORBIDDEN, "\"../etc/passwd\"");
  expect_refused("b", "/etc/passwd", FP_ERR_FORBIDDEN, "\"/etc/passwd\"");
  expect_refused("b", "a/../../x", FP_ERR_FORBIDDEN, "a/../../x");
  expect_refused("b", "data/../data/k.csv", FP_ERR_FORBIDDEN, "..");
  expect_refused("b", "..", FP_ERR_FORBIDDEN, NULL);
  expect_refused("b", "data/..", FP_ERR_FORBIDDEN, NULL);
  expect_refused("b", "..\\..\\etc\\passwd", FP_ERR_FORBIDDEN, NULL);
  expect_refused("b", "\\etc\\passwd", FP_ERR_FORBIDDEN, NULL);
  /* The bucket is a path component too. */
  expect_refused("..", "outside/secret.txt", FP_ERR_FORBIDDEN, "bucket");
  expect_refused("a/b", "k.csv", FP_ERR_FORBIDDEN, "bucket");
  expect_refused(".", "k.csv", FP_ERR_FORBIDDEN, "bucket");
  /* Names that merely contain dots are fine. */
  write_file("root/..hidden..csv", "dots\n");
  expect_content("b", "..hidden..csv", "dots\n", "..hidden..csv");
}

static void test_symlink_escape_refused(void **state) {
  (void)state;
  expect_refused("b", "escape-abs.csv", FP_ERR_FORBIDDEN, "outside the local store root");
  expect_refused("b", "escape-rel.csv", FP_ERR_FORBIDDEN, "escape-rel.csv");
  expect_refused("b", "outdir/secret.txt", FP_ERR_FORBIDDEN, "outside");
  /* ROOT/evil -> outside: the bucket candidate escapes, and we must not serve it. */
  expect_refused("evil", "secret.txt", FP_ERR_FORBIDDEN, "outside");
  expect_refused("b", "loop-a", FP_ERR_FORBIDDEN, NULL);
}

static void test_symlink_inside_allowed(void **state) {
  (void)state;
  /* location is where the bytes really come from. */
  expect_content("b", "alias-rel.csv", "plain\n", "data/k.csv");
  expect_content("b", "alias-abs.csv", "plain\n", "data/k.csv");
  expect_content("b", "sub/datalink/k.csv", "plain\n", "data/k.csv");
}

static void test_fifo_is_not_an_object(void **state) {
  (void)state;
  char path[PATH_MAX * 2];
  snprintf(path, sizeof path, "%s/pipe.csv", root);
  assert_int_equal(mkfifo(path, 0600), 0);
  expect_refused("b", "pipe.csv", FP_ERR_NOT_FOUND, "not a regular file"); /* no hang */
}

static void test_unreadable_file(void **state) {
  (void)state;
  if (geteuid() == 0) {
    fprintf(stderr, "SKIP: running as root, permissions are not enforced\n");
    skip();
  }
  write_file("root/locked.csv", "x\n");
  char path[PATH_MAX * 2];
  snprintf(path, sizeof path, "%s/locked.csv", root);
  assert_int_equal(chmod(path, 0), 0);
  collect c;
  fp_diag d;
  assert_int_equal(stream("b", "locked.csv", &c, NULL, &d), FP_ERR_FORBIDDEN);
  assert_int_equal(d.sys_errno, EACCES);
  chmod(path, 0600);
}

static void test_big_file_chunks(void **state) {
  (void)state;
  size_t n = 3u * 1024 * 1024 + 12345;
  char path[PATH_MAX * 2];
  snprintf(path, sizeof path, "%s/big.csv", root);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  for (size_t i = 0; i < n; i++) fputc('a' + (int)(i % 26), f);
  fclose(f);
  collect c;
  fp_object_info info;
  fp_diag d;
  assert_int_equal(stream("b", "big.csv", &c, &info, &d), FP_OK);
  assert_int_equal(c.len, n);
  assert_int_equal(info.size, (int64_t)n);
  assert_true(c.max_chunk <= 1024 * 1024);
  assert_true(c.calls >= 4);
  for (size_t i = 0; i < n; i++)
    if (c.data[i] != 'a' + (int)(i % 26)) fail_msg("byte %zu differs", i);
  free(c.data);
}

static void test_sink_error_propagates(void **state) {
  (void)state;
  fp_objstore *s = open_store();
  fp_object_ref ref = {.bucket = (char *)"b", .key = (char *)"data/k.csv", .size = -1};
  collect c;
  memset(&c, 0, sizeof c);
  c.fail_with = FP_ERR_CSV;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_objstore_stream(s, &ref, collect_sink, &c, NULL, &d), FP_ERR_CSV);
  assert_string_equal(d.msg, "sink refused the bytes");
  assert_int_equal(c.calls, 1);
  /* The store is still usable afterwards. */
  c.fail_with = FP_OK;
  c.calls = 0;
  fp_diag_clear(&d);
  assert_int_equal(fp_objstore_stream(s, &ref, collect_sink, &c, NULL, &d), FP_OK);
  assert_string_equal(c.data, "plain\n");
  free(c.data);
  fp_objstore_free(s);
}

static void test_empty_file(void **state) {
  (void)state;
  write_file("root/empty.csv", "");
  collect c;
  fp_object_info info;
  fp_diag d;
  assert_int_equal(stream("b", "empty.csv", &c, &info, &d), FP_OK);
  assert_int_equal(c.calls, 0);
  assert_int_equal(info.size, 0);
}

static void test_new_checks_root(void **state) {
  (void)state;
  fp_objstore *s = (fp_objstore *)&s;
  fp_diag d;
  char path[PATH_MAX * 2];
  snprintf(path, sizeof path, "%s/does-not-exist", tmp);
  fp_diag_clear(&d);
  assert_int_equal(fp_objstore_local_new(path, &s, &d), FP_ERR_NOT_FOUND);
  assert_null(s);
  assert_non_null(strstr(d.msg, path));
  snprintf(path, sizeof path, "%s/data/k.csv", root);
  fp_diag_clear(&d);
  assert_int_equal(fp_objstore_local_new(path, &s, &d), FP_ERR_INVAL);
  assert_non_null(strstr(d.msg, "not a directory"));
  fp_diag_clear(&d);
  assert_int_equal(fp_objstore_local_new("", &s, &d), FP_ERR_INVAL);
  /* A root given through a symlink or with a trailing slash works. */
  snprintf(path, sizeof path, "%s/rootlink", tmp);
  assert_int_equal(symlink(root, path), 0);
  fp_diag_clear(&d);
  assert_int_equal(fp_objstore_local_new(path, &s, &d), FP_OK);
  fp_object_ref ref = {.bucket = (char *)"b", .key = (char *)"alias-rel.csv", .size = -1};
  collect c;
  memset(&c, 0, sizeof c);
  assert_int_equal(fp_objstore_stream(s, &ref, collect_sink, &c, NULL, &d), FP_OK);
  assert_string_equal(c.data, "plain\n");
  free(c.data);
  fp_objstore_free(s);
  fp_objstore_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain_and_bucket_layouts),
      cmocka_unit_test(test_missing_and_directories),
      cmocka_unit_test(test_traversal_refused),
      cmocka_unit_test(test_symlink_escape_refused),
      cmocka_unit_test(test_symlink_inside_allowed),
      cmocka_unit_test(test_fifo_is_not_an_object),
      cmocka_unit_test(test_unreadable_file),
      cmocka_unit_test(test_big_file_chunks),
      cmocka_unit_test(test_sink_error_propagates),
      cmocka_unit_test(test_empty_file),
      cmocka_unit_test(test_new_checks_root),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
