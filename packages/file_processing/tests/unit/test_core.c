/* test_core.c — errors and diagnostics, bounded buffers, .env configuration, URL masking. */
#include "fp_test.h"

#include <errno.h>

#include "fp/fp_buf.h"
#include "fp/fp_config.h"
#include "fp/fp_err.h"

static void test_err_names_and_exit_codes(void **state) {
  (void)state;
  assert_string_equal(fp_err_name(FP_ERR_NOT_FOUND), "NOT_FOUND");
  assert_string_equal(fp_strerror(FP_ERR_NOT_FOUND), "not found");
  assert_int_equal(fp_err_exit_code(FP_OK), 0);
  assert_int_equal(fp_err_exit_code(FP_ERR_EVENT), 2);
  assert_int_equal(fp_err_exit_code(FP_ERR_CSV), 2);
  assert_int_equal(fp_err_exit_code(FP_ERR_DB), 3);
  assert_int_equal(fp_err_exit_code(FP_ERR_TRANSIENT), 3);
  assert_string_equal(fp_err_name((fp_err)9999), "UNKNOWN");
}

static void test_diag_first_error_wins_and_formats(void **state) {
  (void)state;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_diag_set(&d, FP_ERR_CSV, "row too long (%d bytes)", 42), FP_ERR_CSV);
  assert_int_equal(fp_diag_set(&d, FP_ERR_IO, "later"), FP_ERR_IO);
  assert_int_equal(d.code, FP_ERR_CSV);
  assert_string_equal(d.msg, "row too long (42 bytes)");
  fp_diag_at(&d, 7, 3, 0);
  fp_diag_at(&d, 99, 99, 99); /* innermost location wins */
  fp_diag_key(&d, "from_client/x.csv");
  char out[512];
  fp_diag_format(&d, out, sizeof out);
  assert_string_equal(out, "CSV: row too long (42 bytes) ('from_client/x.csv', row 7, field 3, byte 0)");
  assert_int_equal(fp_diag_set(NULL, FP_ERR_IO, "no diag"), FP_ERR_IO);
  char tiny[8];
  fp_diag_format(&d, tiny, sizeof tiny);
  assert_int_equal(strlen(tiny), 7);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void test_buf_read_file(void **state) {
  (void)state;
  char dir[64], path[128];
  fp_test_tmpdir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/f.txt", dir);
  char big[200001];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  write_file(path, big); /* larger than one 64 KiB read */
  fp_buf b;
  fp_buf_init(&b, 200000);
  int err = -1;
  assert_int_equal(fp_buf_read_file(&b, path, &err), FP_OK); /* exactly at the cap */
  assert_int_equal(b.len, 200000);
  assert_int_equal(err, 0);
  fp_buf_free(&b);
  fp_buf_init(&b, 199999);
  assert_int_equal(fp_buf_read_file(&b, path, NULL), FP_ERR_LIMIT);
  fp_buf_free(&b);
  fp_buf_init(&b, 0);
  char missing[160];
  snprintf(missing, sizeof missing, "%s/missing", dir);
  assert_int_equal(fp_buf_read_file(&b, missing, &err), FP_ERR_NOT_FOUND);
  assert_int_equal(err, ENOENT);
  assert_int_equal(fp_buf_read_file(&b, dir, &err), FP_ERR_IO); /* a directory */
  fp_buf_free(&b);
  remove(path);
  rmdir(dir);
}

static void test_buf_bounded(void **state) {
  (void)state;
  fp_buf b;
  fp_buf_init(&b, 10);
  assert_int_equal(fp_buf_puts(&b, "hello"), FP_OK);
  assert_int_equal(fp_buf_appendf(&b, "%d", 1234), FP_OK);
  assert_string_equal(b.data, "hello1234");
  assert_int_equal(fp_buf_puts(&b, "xy"), FP_ERR_LIMIT); /* would exceed 10 */
  assert_string_equal(b.data, "hello1234");               /* unchanged */
  assert_int_equal(fp_buf_putc(&b, '!'), FP_OK);
  assert_int_equal(b.len, 10);
  char *s = fp_buf_take(&b);
  assert_string_equal(s, "hello1234!");
  assert_null(b.data);
  free(s);
  fp_buf_init(&b, 0);
  for (int i = 0; i < 100000; i++) assert_int_equal(fp_buf_putc(&b, 'a'), FP_OK);
  assert_int_equal(b.len, 100000);
  fp_buf_free(&b);
  s = fp_buf_take(&b);
  assert_string_equal(s, "");
  free(s);
}


static void test_config_layers(void **state) {
  (void)state;
  char dir[64], a[128], b[128];
  fp_test_tmpdir(dir, sizeof dir);
  snprintf(a, sizeof a, "%s/a.env", dir);
  snprintf(b, sizeof b, "%s/b.env", dir);
  write_file(a, "# comment\nexport FP_T_ONE=from-a\nFP_T_QUOTED=\"x y\\n#z\"  # trailing\n"
                "FP_T_SINGLE='lit $HOME'\nFP_T_BARE=v # c\nFP_T_SIZE=64M\nFP_T_BOOL=yes\n");
  write_file(b, "FP_T_ONE=from-b\nFP_T_TWO=from-b\n");
  setenv("FP_T_TWO", "from-env", 1);
  const char *paths[] = {a, b, "/nonexistent/.env"};
  fp_config *c = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_config_load(paths, 3, &c, &d), FP_OK);
  assert_string_equal(fp_config_get(c, "FP_T_ONE"), "from-a");  /* earlier file wins */
  assert_string_equal(fp_config_get(c, "FP_T_TWO"), "from-env"); /* environment wins */
  assert_string_equal(fp_config_get(c, "FP_T_QUOTED"), "x y\n#z");
  assert_string_equal(fp_config_get(c, "FP_T_SINGLE"), "lit $HOME");
  assert_string_equal(fp_config_get(c, "FP_T_BARE"), "v");
  assert_null(fp_config_get(c, "FP_T_ABSENT"));
  assert_string_equal(fp_config_str(c, "FP_T_ABSENT", "dflt"), "dflt");
  size_t sz;
  assert_int_equal(fp_config_size(c, "FP_T_SIZE", 0, &sz, &d), FP_OK);
  assert_int_equal(sz, 64u << 20);
  int flag;
  assert_int_equal(fp_config_bool(c, "FP_T_BOOL", 0, &flag, &d), FP_OK);
  assert_int_equal(flag, 1);
  assert_int_equal(fp_config_size(c, "FP_T_BARE", 0, &sz, &d), FP_ERR_CONFIG);
  assert_non_null(strstr(d.msg, "FP_T_BARE"));
  assert_int_equal(fp_config_set(c, "FP_T_ONE", "flag"), FP_OK);
  assert_string_equal(fp_config_get(c, "FP_T_ONE"), "flag");
  fp_config_free(c);
  unsetenv("FP_T_TWO");
  remove(a);
  remove(b);
  rmdir(dir);
}

static void test_config_malformed_line_named(void **state) {
  (void)state;
  char dir[64], a[128];
  fp_test_tmpdir(dir, sizeof dir);
  snprintf(a, sizeof a, "%s/bad.env", dir);
  write_file(a, "GOOD=1\nthis is not an assignment\n");
  const char *paths[] = {a};
  fp_config *c = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_config_load(paths, 1, &c, &d), FP_ERR_CONFIG);
  assert_null(c);
  assert_non_null(strstr(d.msg, "bad.env:2"));
  write_file(a, "K=\"unterminated\n");
  fp_diag_clear(&d);
  assert_int_equal(fp_config_load(paths, 1, &c, &d), FP_ERR_CONFIG);
  assert_non_null(strstr(d.msg, "bad.env:1"));
  remove(a);
  rmdir(dir);
}

static void test_mask_url(void **state) {
  (void)state;
  char out[256];
  fp_mask_url("postgresql://fp:s3cret@db.example:5432/results?sslmode=require", out, sizeof out);
  assert_string_equal(out, "postgresql://fp:***@db.example:5432/results?sslmode=require");
  assert_null(strstr(out, "s3cret"));
  fp_mask_url("sqlite:///file_processing.db", out, sizeof out);
  assert_string_equal(out, "sqlite:///file_processing.db");
  fp_mask_url("postgresql://fp:p@ss@db/x?u=a@b", out, sizeof out);
  assert_string_equal(out, "postgresql://fp:***@db/x?u=a@b");
  fp_mask_url("postgresql://fp@db/x", out, sizeof out);
  assert_string_equal(out, "postgresql://fp@db/x");
  /* libpq also takes the password from the query string */
  fp_mask_url("postgresql://db:5432/x?user=fp&password=s3cret&sslmode=require", out, sizeof out);
  assert_string_equal(out, "postgresql://db:5432/x?user=fp&password=***&sslmode=require");
  fp_mask_url("postgresql://u:a@db/x?SSLPassword=k3y#frag", out, sizeof out);
  assert_string_equal(out, "postgresql://u:***@db/x?SSLPassword=***#frag");
  fp_mask_url("https://b.s3.amazonaws.com/k?X-Amz-Security-Token=t0k&X-Amz-Signature=abc&a=1",
              out, sizeof out);
  assert_string_equal(out, "https://b.s3.amazonaws.com/k?X-Amz-Security-Token=***&"
                           "X-Amz-Signature=***&a=1");
  fp_mask_url("http://h/p#x?password=notaquery", out, sizeof out);
  assert_string_equal(out, "http://h/p#x?password=notaquery");
  char small[12];
  fp_mask_url("postgresql://u:secret@h/x", small, sizeof small);
  assert_string_equal(small, "postgresql:");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_err_names_and_exit_codes),
      cmocka_unit_test(test_diag_first_error_wins_and_formats),
      cmocka_unit_test(test_buf_bounded),
      cmocka_unit_test(test_buf_read_file),
      cmocka_unit_test(test_config_layers),
      cmocka_unit_test(test_config_malformed_line_named),
      cmocka_unit_test(test_mask_url),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
