/* fuzz_http.c — libFuzzer harness for the listener's POST / flow (fp_server.h) without a
 * socket: fp__listener_post, the function the libmicrohttpd handler calls with the two SNS
 * headers and the body (src/server/listener.c).
 *
 * Each input gets a fresh listener on a fresh SQLite store (a copy of a migrated template
 * in a scratch directory under $TMPDIR, removed at exit: migrating per input would cost
 * ~100 ms), so runs are deterministic; it never auto-confirms subscriptions and never
 * fetches certificates (test-mode verifier with fetching disabled): no network at all.
 * Input layout: byte 0 = switches (verify off, raw delivery allowed, topic allow-list,
 * shutting down, max_body small, queue_max 1), byte 1 = the headers sent
 * (x-amz-sns-rawdelivery: true/TRUE/false/absent, x-amz-sns-message-type: a Type name, a
 * wrong one or absent); the rest is the body.
 *
 * Checked beyond memory safety: the status is one the routes document (200, 400, 403,
 * 413, 503); the answer is a JSON object; 200 is only given when verification is off (no
 * fuzzed signature can verify against an unmapped certificate) or for raw delivery when it
 * is allowed; a job count is only reported with status 200; /metrics still renders. */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fp/fp_log.h"
#include "server/server_int.h"

static char dir[256], template_db[300], work_db[300], url[320];
static char *template_bytes;
static size_t template_len;

static void die(const char *what) {
  fprintf(stderr, "fuzz_http: %s: %s\n", what, strerror(errno));
  abort();
}

static void remove_db(const char *path) {
  char p[320];
  unlink(path);
  snprintf(p, sizeof p, "%s-wal", path);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", path);
  unlink(p);
  snprintf(p, sizeof p, "%s-journal", path);
  unlink(p);
}

static void cleanup(void) {
  remove_db(template_db);
  remove_db(work_db);
  rmdir(dir);
  free(template_bytes);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fp_log_set_level(FP_LOG_OFF);
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/fuzz-http-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) die("mkdtemp");
  atexit(cleanup);
  snprintf(template_db, sizeof template_db, "%s/template.db", dir);
  snprintf(work_db, sizeof work_db, "%s/work.db", dir);
  snprintf(url, sizeof url, "sqlite:///%s", template_db);
  fp_store *st = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  if (fp_store_open(url, &st, &d)) {
    fprintf(stderr, "fuzz_http: template store: %s\n", d.msg);
    abort();
  }
  fp_store_close(st);
  fp_buf b;
  fp_buf_init(&b, (size_t)64 << 20);
  fp_diag_clear(&d);
  if (fp_buf_read_file(&b, template_db, NULL)) die("reading the template store");
  template_len = b.len;
  template_bytes = fp_buf_take(&b);
  fp_buf_free(&b);
  snprintf(url, sizeof url, "sqlite:///%s", work_db);
  return 0;
}

/* work.db := the migrated template (no journal left from the previous input). */
static void fresh_store(void) {
  remove_db(work_db);
  FILE *f = fopen(work_db, "wb");
  if (!f || fwrite(template_bytes, 1, template_len, f) != template_len || fclose(f) != 0)
    die("writing the store");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  uint8_t sw = data[0], hd = data[1];
  const char *body = (const char *)data + 2;
  size_t len = size - 2;

  fp_listener_opts o;
  fp_listener_opts_default(&o);
  fresh_store();
  o.store_url = url;
  o.port = 0;
  o.auto_confirm = false; /* a confirmation would GET the SubscribeURL */
  o.verify = !(sw & 1);
  o.allow_raw = (sw & 2) != 0;
  if (sw & 4) o.topic_arns = " arn:aws:sns:us-east-1:123456789012:t, ,arn:aws:sns:eu-west-1:1:x";
  o.max_body = (sw & 16) ? 512 : 0;
  o.queue_max = (sw & 32) ? 1 : 0;
  o.sns_test.test_mode = true;
  o.sns_test.disable_fetch = true;
  fp_listener *l = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  if (fp__listener_new(&o, NULL, &l, &d)) {
    fprintf(stderr, "fuzz_http: listener: %s\n", d.msg);
    abort();
  }
  if (sw & 8) fp_listener_begin_shutdown(l);

  static const char *const raws[] = {NULL, "true", "TRUE", "false"};
  static const char *const types[] = {
      NULL, "Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation", "notification",
      ""};
  const char *raw = raws[hd & 3];
  const char *type = types[(hd >> 2) % 6];
  size_t max_body = o.max_body ? o.max_body : FP_LISTENER_DEFAULT_MAX_BODY;
  bool too_large = len > max_body; /* the MHD handler's rule, Content-Length or chunked */

  fp_buf out;
  fp_buf_init(&out, 64 * 1024);
  unsigned st = fp__listener_post(l, raw, type, body, len, too_large, &out);
  if (st != 200 && st != 400 && st != 403 && st != 413 && st != 503) {
    fprintf(stderr, "unexpected status %u\n", st);
    __builtin_trap();
  }
  bool raw_path = raw && (raw[0] == 't' || raw[0] == 'T');
  if (st == 200 && o.verify && !(raw_path && o.allow_raw)) __builtin_trap();
  if (too_large && st != 413) __builtin_trap();
  json_error_t je;
  json_t *j = json_loadb(out.data ? out.data : "", out.len, 0, &je);
  if (!json_is_object(j)) {
    fprintf(stderr, "answer is not a JSON object: %.*s\n", (int)out.len, out.data);
    __builtin_trap();
  }
  if (json_object_get(j, "jobs") && st != 200) __builtin_trap();
  if (st != 200 && !json_is_string(json_object_get(j, "error"))) __builtin_trap();
  json_decref(j);
  fp_buf_free(&out);

  char *metrics = NULL;
  fp_diag_clear(&d);
  if (fp_listener_metrics_text(l, &metrics, &d) || !strstr(metrics, "\n")) __builtin_trap();
  free(metrics);
  fp_listener_free(l);
  return 0;
}
