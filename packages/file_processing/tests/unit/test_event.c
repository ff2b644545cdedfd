/* test_event.c — S3 event parsing: the public samples in ../shared/conformance parse to
 * the objects they describe; every envelope (SNS, EventBridge, arrays, JSON lines); each
 * class of bad event fails with the JSON path users need; key decoding edge cases. */
#include "fp_test.h"

#include <dirent.h>
#include <jansson.h>

#include "fp/fp_event.h"

/* ---- helpers ---------------------------------------------------------------------- */

static void assert_contains(const char *hay, const char *needle) {
  if (!hay || !strstr(hay, needle)) {
    print_error("expected \"%s\" to contain \"%s\"\n", hay ? hay : "(null)", needle);
    fail();
  }
}

/* Compares an optional string field; want NULL means the field must be NULL. */
static void assert_opt_str(const char *got, const char *want) {
  if (!want) {
    if (got) {
      print_error("expected NULL, got \"%s\"\n", got);
      fail();
    }
    return;
  }
  assert_non_null(got);
  assert_string_equal(got, want);
}

typedef struct want_ref {
  const char *bucket, *key, *version, *etag;
  int64_t size;
  const char *sequencer, *time, *name;
} want_ref;

static void assert_ref(const fp_object_ref *r, const want_ref *w) {
  assert_string_equal(r->bucket, w->bucket);
  assert_string_equal(r->key, w->key);
  assert_opt_str(r->version_id, w->version);
  assert_opt_str(r->etag, w->etag);
  assert_int_equal(r->size, w->size);
  assert_opt_str(r->sequencer, w->sequencer);
  assert_opt_str(r->event_time, w->time);
  assert_opt_str(r->event_name, w->name);
}

static char *read_conf(const char *dir, const char *rel, size_t *len) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  char *buf = fp_test_read_file(path, len);
  if (!buf) {
    print_error("cannot read %s\n", path);
    fail();
  }
  return buf;
}

/* Parses a conformance file both as a JSON document and as an events file; both must
 * succeed with the same result. Returns the parse_text result in out. */
static void parse_conf(const char *dir, const char *rel, fp_event_list *out) {
  size_t len = 0;
  char *buf = read_conf(dir, rel, &len);
  fp_diag d;
  fp_diag_clear(&d);
  fp_event_list a = {0};
  fp_err e = fp_events_parse_json(buf, len, &a, &d);
  if (e) print_error("%s: %s (key %s)\n", rel, d.msg, d.key);
  assert_int_equal(e, FP_OK);
  fp_diag_clear(&d);
  e = fp_events_parse_text(buf, len, out, &d);
  if (e) print_error("%s: %s (key %s)\n", rel, d.msg, d.key);
  assert_int_equal(e, FP_OK);
  assert_int_equal(a.n, out->n);
  assert_int_equal(a.skipped, out->skipped);
  for (size_t i = 0; i < a.n; i++) {
    assert_string_equal(a.items[i].bucket, out->items[i].bucket);
    assert_string_equal(a.items[i].key, out->items[i].key);
  }
  fp_event_list_free(&a);
  free(buf);
}

static fp_err parse_str(const char *json, fp_event_list *out, fp_diag *d) {
  fp_diag_clear(d);
  return fp_events_parse_json(json, strlen(json), out, d);
}

/* json must fail with code, diag.key == key and a message containing msg. */
static void expect_fail(const char *json, fp_err code, const char *key, const char *msg) {
  fp_event_list l = {0};
  fp_diag d;
  fp_err e = parse_str(json, &l, &d);
  if (e != code) print_error("input %s: got %s (%s)\n", json, fp_err_name(e), d.msg);
  assert_int_equal(e, code);
  assert_int_equal(d.code, code);
  assert_string_equal(d.key, key);
  if (msg) assert_contains(d.msg, msg);
  assert_int_equal(l.n, 0);
  assert_null(l.items);
  fp_event_list_free(&l);
}

/* A record with the given eventVersion (NULL: absent) and key JSON value. */
static void record_json(char *out, size_t outsz, const char *version_member,
                        const char *key_value) {
  snprintf(out, outsz,
           "{\"Records\":[{%s\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Put\","
           "\"s3\":{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":%s,\"size\":3}}}]}",
           version_member, key_value);
}

/* ---- conformance samples ---------------------------------------------------------- */

static void test_sample_aws_doc_put(void **state) {
  (void)state;
  FP_TEST_NEED_CONFORMANCE(dir);
  fp_event_list l = {0};
  parse_conf(dir, "s3_events/aws_doc_s3_ObjectCreated_Put_v2.1.json", &l);
  assert_int_equal(l.n, 1);
  assert_int_equal(l.skipped, 0);
  want_ref w = {"mybucket",
                "HappyFace.jpg",
                "096fKKXTRTtl3on89fVO.nfljtsv6qko",
                "d41d8cd98f00b204e9800998ecf8427e",
                1024,
                "0055AED6DCD90281E5",
                "1970-01-01T00:00:00.000Z",
                "ObjectCreated:Put"};
  assert_ref(&l.items[0], &w);
  fp_event_list_free(&l);
}

static void test_sample_powertools_s3(void **state) {
  (void)state;
  FP_TEST_NEED_CONFORMANCE(dir);
  fp_event_list l = {0};
  parse_conf(dir, "s3_events/powertools_s3Event.json", &l);
  assert_int_equal(l.n, 1);
  want_ref w = {"lambda-artifacts-deafc19498e3f2df",
                "b21b84d653bb07b05b1e6b33684dc11b",
                NULL,
                "b21b84d653bb07b05b1e6b33684dc11b",
                1305107,
                "0C0F6F405D6ED209E1",
                "2019-09-03T19:37:27.192Z",
                "ObjectCreated:Put"};
  assert_ref(&l.items[0], &w);
  fp_event_list_free(&l);
}

static void test_sample_test_event_skipped(void **state) {
  (void)state;
  FP_TEST_NEED_CONFORMANCE(dir);
  fp_event_list l = {0};
  parse_conf(dir, "s3_events/aws_doc_s3_TestEvent.json", &l);
  assert_int_equal(l.n, 0);
  assert_int_equal(l.skipped, 1);
  fp_event_list_free(&l);
}

static void test_sample_eventbridge_aws_doc(void **state) {
  (void)state;
  FP_TEST_NEED_CONFORMANCE(dir);
  fp_event_list l = {0};
  parse_conf(dir, "s3_events/aws_doc_eventbridge_Object_Created.json", &l);
  assert_int_equal(l.n, 1);
  want_ref w = {"amzn-s3-demo-bucket1",
                "example-key",
                "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
                "b1946ac92492d2347c6235b4d2611184",
                5,
                "617f08299329d189",
                "2021-11-12T00:00:00Z",
                "Object Created"};
  assert_ref(&l.items[0], &w);
  fp_event_list_free(&l);
}

static void test_sample_eventbridge_powertools(void **state) {
  (void)state;
  FP_TEST_NEED_CONFORMANCE(dir);
  fp_event_list l = {0};
  parse_conf(dir, "s3_events/powertools_s3EventBridgeNotificationObjectCreatedEvent.json", &l);
  assert_int_equal(l.n, 1);
  want_ref w = {"example-bucket",
                "IMG_m7fzo3.jpg",
                NULL,
                "4e68adba0abe2dc8653dc3354e14c01d",
                184662,
                "006408CAD69598B05E",
                "2023-03-08T17:50:14Z",
                "Object Created"};
  assert_ref(&l.items[0], &w);
  fp_event_list_free(&l);
}

static void test_sample_unicode_key(void **state) {
  (void)state;
  FP_TEST_NEED_CONFORMANCE(dir);
  fp_event_list l = {0};
  /* An array of bare records (as aws-lambda-go re-marshals them); "versionId": "". */
  parse_conf(dir, "s3_events/e2u_lambda-s3-logrotate_unicode_key_event.json", &l);
  assert_int_equal(l.n, 1);
  /* 你家娃🐱.png: three 3-byte CJK characters, a 4-byte emoji, ".png". */
  want_ref w = {"xxxx",
                "\xE4\xBD\xA0\xE5\xAE\xB6\xE5\xA8\x83\xF0\x9F\x90\xB1.png",
                NULL,
                "xxxx",
                1603233,
                "xxxxx",
                "2020-04-21T02:05:27.824Z",
                "ObjectCreated:Put"};
  assert_ref(&l.items[0], &w);
  fp_event_list_free(&l);
}

static const want_ref real_put = {"image-resizer-images",
                                  "images/1194786_527386_635904744488623840.jpg",
                                  NULL,
                                  "580560d0d6d70bacfa331380530d2f73",
                                  85922,
                                  "006189330DB73C3508",
                                  "2021-11-08T14:24:13.786Z",
                                  "ObjectCreated:Put"};

static void test_sample_real_put(void **state) {
  (void)state;
  FP_TEST_NEED_CONFORMANCE(dir);
  fp_event_list l = {0};
  parse_conf(dir, "s3_events/real_s3_put_from_signed_sns_euwest1.json", &l);
  assert_int_equal(l.n, 1);
  assert_ref(&l.items[0], &real_put);
  fp_event_list_free(&l);
}

static void test_sample_real_sns_envelope(void **state) {
  (void)state;
  FP_TEST_NEED_CONFORMANCE(dir);
  fp_event_list l = {0};
  parse_conf(dir, "sns_real/github_s3_put_over_sns_euwest1_sigv1.json", &l);
  assert_int_equal(l.n, 1);
  assert_ref(&l.items[0], &real_put);
  fp_event_list_free(&l);
}

/* Every *.json sample in s3_events parses (new samples are covered automatically). */
static void test_every_sample_parses(void **state) {
  (void)state;
  FP_TEST_NEED_CONFORMANCE(dir);
  char sub[1024];
  snprintf(sub, sizeof sub, "%s/s3_events", dir);
  DIR *dh = opendir(sub);
  assert_non_null(dh);
  int count = 0;
  struct dirent *de;
  while ((de = readdir(dh))) {
    size_t n = strlen(de->d_name);
    if (n < 5 || strcmp(de->d_name + n - 5, ".json") != 0) continue;
    char rel[512];
    snprintf(rel, sizeof rel, "s3_events/%s", de->d_name);
    fp_event_list l = {0};
    parse_conf(dir, rel, &l);
    assert_int_equal(l.n + l.skipped, 1);
    fp_event_list_free(&l);
    count++;
  }
  closedir(dh);
  assert_true(count >= 7);
}

/* A notification wrapped by us in an SNS envelope: Message is the sample as a string. */
static void test_sns_wrapped_sample(void **state) {
  (void)state;
  FP_TEST_NEED_CONFORMANCE(dir);
  size_t len;
  char *sample = read_conf(dir, "s3_events/aws_doc_s3_ObjectCreated_Put_v2.1.json", &len);
  json_t *env =
      json_pack("{s:s, s:s, s:s, s:s#}", "Type", "Notification", "MessageId", "m-1", "TopicArn",
                "arn:aws:sns:us-west-2:123456789012:t", "Message", sample, (int)len);
  assert_non_null(env);
  char *text = json_dumps(env, JSON_INDENT(2));
  assert_non_null(text);
  fp_event_list l = {0};
  fp_diag d;
  assert_int_equal(parse_str(text, &l, &d), FP_OK);
  assert_int_equal(l.n, 1);
  assert_string_equal(l.items[0].bucket, "mybucket");
  assert_string_equal(l.items[0].key, "HappyFace.jpg");
  assert_int_equal(l.items[0].size, 1024);
  fp_event_list_free(&l);
  free(text);
  json_decref(env);
  free(sample);
}

static void test_sns_subscription_confirmation_real(void **state) {
  (void)state;
  FP_TEST_NEED_CONFORMANCE(dir);
  const char *files[] = {"sns_real/javav2_subscription_confirmation_sigv1.json",
                         "sns_real/javav2_unsubscribe_confirmation_sigv2.json"};
  const char *types[] = {"SubscriptionConfirmation", "UnsubscribeConfirmation"};
  for (int i = 0; i < 2; i++) {
    size_t len;
    char *buf = read_conf(dir, files[i], &len);
    fp_event_list l = {0};
    fp_diag d;
    fp_diag_clear(&d);
    assert_int_equal(fp_events_parse_text(buf, len, &l, &d), FP_ERR_EVENT);
    char want[128];
    snprintf(want, sizeof want, "not an S3 notification (SNS %s)", types[i]);
    assert_contains(d.msg, want);
    assert_string_equal(d.key, "$.Type");
    assert_int_equal(l.n, 0);
    free(buf);
  }
}

/* ---- shapes built inline ------------------------------------------------------------ */

static void test_minimal_operator_event(void **state) {
  (void)state;
  fp_event_list l = {0};
  fp_diag d;
  assert_int_equal(
      parse_str("{\"Records\":[{\"s3\":{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\"k\"}}}]}",
                &l, &d),
      FP_OK);
  assert_int_equal(l.n, 1);
  want_ref w = {"b", "k", NULL, NULL, -1, NULL, NULL, NULL};
  assert_ref(&l.items[0], &w);
  fp_event_list_free(&l);
}

static void test_multiple_records_and_skips(void **state) {
  (void)state;
  const char *json =
      "{\"Records\":["
      "{\"eventVersion\":\"2.1\",\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":"
      "{\"name\":\"b1\"},\"object\":{\"key\":\"in/a+b.csv\",\"size\":10,\"eTag\":\"\\\"q\\\"\","
      "\"versionId\":\"\"}}},"
      "{\"eventVersion\":\"2.2\",\"eventName\":\"ObjectRemoved:Delete\",\"s3\":{\"bucket\":"
      "{\"name\":\"b1\"},\"object\":{\"key\":\"gone.csv\"}}},"
      "{\"eventVersion\":\"2.0\",\"eventName\":\"ObjectCreated:CompleteMultipartUpload\","
      "\"s3\":{\"bucket\":{\"name\":\"b2\"},\"object\":{\"key\":\"c%2Fd.csv\",\"size\":0,"
      "\"versionId\":null}}}]}";
  fp_event_list l = {0};
  fp_diag d;
  assert_int_equal(parse_str(json, &l, &d), FP_OK);
  assert_int_equal(l.n, 2);
  assert_int_equal(l.skipped, 1);
  want_ref w0 = {"b1", "in/a b.csv", NULL, "q", 10, NULL, NULL, "ObjectCreated:Put"};
  want_ref w1 = {"b2", "c/d.csv", NULL, NULL,
                 0,    NULL,      NULL, "ObjectCreated:CompleteMultipartUpload"};
  assert_ref(&l.items[0], &w0);
  assert_ref(&l.items[1], &w1);
  fp_event_list_free(&l);
}

static void test_eventbridge_inline(void **state) {
  (void)state;
  /* EventBridge keys are decoded exactly like notification keys (form encoding). */
  const char *json =
      "{\"version\":\"0\",\"detail-type\":\"Object Created\",\"source\":\"aws.s3\","
      "\"time\":\"2024-01-01T00:00:00Z\",\"detail\":{\"bucket\":{\"name\":\"eb\"},"
      "\"object\":{\"key\":\"my+file%2B1.csv\",\"size\":7,\"etag\":\"e\","
      "\"version-id\":\"v1\",\"sequencer\":\"s1\"}}}";
  fp_event_list l = {0};
  fp_diag d;
  assert_int_equal(parse_str(json, &l, &d), FP_OK);
  assert_int_equal(l.n, 1);
  want_ref w = {
      "eb", "my file+1.csv", "v1", "e", 7, "s1", "2024-01-01T00:00:00Z", "Object Created"};
  assert_ref(&l.items[0], &w);
  fp_event_list_free(&l);

  /* Other detail-types are skipped, not errors. */
  assert_int_equal(
      parse_str("{\"detail-type\":\"Object Deleted\",\"source\":\"aws.s3\",\"detail\":{}}", &l, &d),
      FP_OK);
  assert_int_equal(l.n, 0);
  assert_int_equal(l.skipped, 1);
  fp_event_list_free(&l);

  expect_fail(
      "{\"detail-type\":\"Object Created\",\"source\":\"aws.s3\",\"detail\":"
      "{\"bucket\":{\"name\":\"eb\"},\"object\":{}}}",
      FP_ERR_EVENT, "$.detail.object.key", "expected a non-empty string");
}

static void test_array_of_events(void **state) {
  (void)state;
  const char *json =
      "[{\"Records\":[{\"s3\":{\"bucket\":{\"name\":\"a\"},\"object\":{\"key\":\"1\"}}}]},"
      " {\"Service\":\"Amazon S3\",\"Event\":\"s3:TestEvent\"},"
      " {\"Type\":\"Notification\",\"Message\":\"{\\\"Records\\\":[{\\\"s3\\\":{\\\"bucket\\\":"
      "{\\\"name\\\":\\\"c\\\"},\\\"object\\\":{\\\"key\\\":\\\"3\\\"}}}]}\"},"
      " {\"source\":\"aws.s3\",\"detail-type\":\"Object Created\",\"detail\":{\"bucket\":"
      "{\"name\":\"d\"},\"object\":{\"key\":\"4\"}}}]";
  fp_event_list l = {0};
  fp_diag d;
  assert_int_equal(parse_str(json, &l, &d), FP_OK);
  assert_int_equal(l.n, 3);
  assert_int_equal(l.skipped, 1);
  assert_string_equal(l.items[0].bucket, "a");
  assert_string_equal(l.items[1].bucket, "c");
  assert_string_equal(l.items[2].bucket, "d");
  fp_event_list_free(&l);

  /* Paths inside arrays and SNS messages. */
  expect_fail(
      "[{\"Event\":\"s3:TestEvent\"},{\"Records\":[{\"s3\":{\"bucket\":{\"name\":\"a\"},"
      "\"object\":{\"key\":5}}}]}]",
      FP_ERR_EVENT, "$[1].Records[0].s3.object.key", "expected a non-empty string");
  expect_fail(
      "{\"Type\":\"Notification\",\"Message\":\"{\\\"Records\\\":[{\\\"s3\\\":"
      "{\\\"bucket\\\":{\\\"name\\\":\\\"c\\\"},\\\"object\\\":{\\\"key\\\":\\\"\\\"}}}]}\"}",
      FP_ERR_EVENT, "$.Message.Records[0].s3.object.key", "expected a non-empty string");
  expect_fail("[1]", FP_ERR_EVENT, "$[0]", "expected an event object");
  expect_fail("[]", FP_ERR_EVENT, "$", "non-empty array");
}

static void test_appends_and_keeps_out_on_error(void **state) {
  (void)state;
  const char *good =
      "{\"Records\":[{\"s3\":{\"bucket\":{\"name\":\"a\"},\"object\":{\"key\":\"1\"}}}]}";
  const char *bad =
      "{\"Records\":[{\"s3\":{\"bucket\":{\"name\":\"a\"},\"object\":{\"key\":\"2\"}}},"
      "{\"s3\":{\"bucket\":{\"name\":\"\"},\"object\":{\"key\":\"3\"}}}]}";
  fp_event_list l = {0};
  fp_diag d;
  assert_int_equal(parse_str(good, &l, &d), FP_OK);
  assert_int_equal(parse_str(good, &l, &d), FP_OK);
  assert_int_equal(l.n, 2);
  fp_object_ref *items = l.items;
  assert_int_equal(parse_str(bad, &l, &d), FP_ERR_EVENT);
  assert_string_equal(d.key, "$.Records[1].s3.bucket.name");
  assert_int_equal(l.n, 2);
  assert_ptr_equal(l.items, items);
  assert_int_equal(l.skipped, 0);
  fp_event_list_free(&l);
  assert_null(l.items);
  assert_int_equal(l.n, 0);
}

/* ---- JSON lines ------------------------------------------------------------------- */

static void test_json_lines(void **state) {
  (void)state;
  const char *text =
      "{\"Records\":[{\"s3\":{\"bucket\":{\"name\":\"a\"},\"object\":{\"key\":\"1\"}}}]}\r\n"
      "\n"
      "   \n"
      "{\"Event\":\"s3:TestEvent\"}\n"
      "{\"Records\":[{\"s3\":{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\"2\"}}}]}";
  fp_event_list l = {0};
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_events_parse_text(text, strlen(text), &l, &d), FP_OK);
  assert_int_equal(l.n, 2);
  assert_int_equal(l.skipped, 1);
  assert_string_equal(l.items[1].bucket, "b");

  /* A malformed line: FP_ERR_JSON naming line 4 (blank lines count); out unchanged. */
  const char *bad_json =
      "{\"Records\":[{\"s3\":{\"bucket\":{\"name\":\"a\"},\"object\":{\"key\":\"1\"}}}]}\n"
      "\n"
      "{\"Event\":\"s3:TestEvent\"}\n"
      "{\"Records\":[{\"s3\":\n"
      "{\"Event\":\"s3:TestEvent\"}\n";
  fp_diag_clear(&d);
  assert_int_equal(fp_events_parse_text(bad_json, strlen(bad_json), &l, &d), FP_ERR_JSON);
  assert_int_equal(d.row, 4);
  assert_true(d.has_offset);
  assert_true(d.byte_offset >= (uint64_t)(strstr(bad_json, "{\"Records\":[{\"s3\":\n") - bad_json));
  assert_int_equal(l.n, 2);
  assert_int_equal(l.skipped, 1);

  /* A well-formed line that is a bad event: FP_ERR_EVENT with row and path. */
  const char *bad_event =
      "{\"Event\":\"s3:TestEvent\"}\n"
      "{\"Records\":[{\"s3\":{\"bucket\":{\"name\":\"a\"},\"object\":{\"key\":\"1\"}}}]}\n"
      "{\"Records\":[{\"eventVersion\":\"1.0\",\"s3\":{}}]}\n";
  fp_diag_clear(&d);
  assert_int_equal(fp_events_parse_text(bad_event, strlen(bad_event), &l, &d), FP_ERR_EVENT);
  assert_int_equal(d.row, 3);
  assert_string_equal(d.key, "$.Records[0].eventVersion");
  assert_int_equal(l.n, 2);
  fp_event_list_free(&l);
}

static void test_text_single_document_forms(void **state) {
  (void)state;
  fp_event_list l = {0};
  fp_diag d;
  /* Pretty-printed single document with a BOM and surrounding blank lines. */
  const char *pretty =
      "\xEF\xBB\xBF\n\n{\n  \"Records\": [\n    {\"s3\": {\"bucket\": {\"name\": \"p\"},"
      "\n \"object\": {\"key\": \"x%20y\"}}}\n  ]\n}\n\n";
  fp_diag_clear(&d);
  assert_int_equal(fp_events_parse_text(pretty, strlen(pretty), &l, &d), FP_OK);
  assert_int_equal(l.n, 1);
  assert_string_equal(l.items[0].key, "x y");
  /* A pretty-printed array. */
  const char *arr = "  [\n {\"Event\": \"s3:TestEvent\"},\n {\"Event\": \"s3:TestEvent\"}\n]\n";
  fp_diag_clear(&d);
  assert_int_equal(fp_events_parse_text(arr, strlen(arr), &l, &d), FP_OK);
  assert_int_equal(l.skipped, 2);
  /* A broken pretty-printed document reports its own line. */
  const char *broken = "{\n  \"Records\": [\n    {\"s3\": }\n  ]\n}\n";
  fp_diag_clear(&d);
  assert_int_equal(fp_events_parse_text(broken, strlen(broken), &l, &d), FP_ERR_JSON);
  assert_int_equal(d.row, 3);
  assert_contains(d.msg, "line 3");
  /* Empty text. */
  fp_diag_clear(&d);
  assert_int_equal(fp_events_parse_text(" \n\t\n", 4, &l, &d), FP_ERR_EVENT);
  assert_contains(d.msg, "empty");
  assert_int_equal(l.n, 1);
  fp_event_list_free(&l);
}

/* ---- bad events ------------------------------------------------------------------- */

static void test_malformed_json(void **state) {
  (void)state;
  fp_event_list l = {0};
  fp_diag d;
  assert_int_equal(parse_str("{\"Records\":[", &l, &d), FP_ERR_JSON);
  assert_string_equal(d.key, "$");
  assert_true(d.has_offset);
  assert_int_equal(d.byte_offset, 12);
  assert_contains(d.msg, "line 1");
  expect_fail("{\"Records\":[],\"Records\":[]}", FP_ERR_JSON, "$", "duplicate");
  expect_fail("\"just a string\"", FP_ERR_JSON, "$", NULL);
  expect_fail("{\"Type\":\"Notification\",\"Message\":\"hello, not JSON\"}", FP_ERR_JSON,
              "$.Message", "SNS Message");
  assert_int_equal(l.n, 0);
}

static void test_event_version(void **state) {
  (void)state;
  char json[512];
  const char *bad[] = {"\"1.0\"", "\"3.0\"", "\"20.1\"", "\"2x\"", "\"\"", "\"2.\""};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char member[64];
    snprintf(member, sizeof member, "\"eventVersion\":%s,", bad[i]);
    record_json(json, sizeof json, member, "\"k\"");
    expect_fail(json, FP_ERR_EVENT, "$.Records[0].eventVersion", "major version 2");
  }
  record_json(json, sizeof json, "\"eventVersion\":2.1,", "\"k\"");
  expect_fail(json, FP_ERR_EVENT, "$.Records[0].eventVersion", "expected a string");
  const char *good[] = {"\"2.1\"", "\"2.2\"", "\"2.0\"", "\"2\"", "\"2.10\""};
  for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
    char member[64];
    snprintf(member, sizeof member, "\"eventVersion\":%s,", good[i]);
    record_json(json, sizeof json, member, "\"k\"");
    fp_event_list l = {0};
    fp_diag d;
    assert_int_equal(parse_str(json, &l, &d), FP_OK);
    assert_int_equal(l.n, 1);
    fp_event_list_free(&l);
  }
}

static void test_bad_fields(void **state) {
  (void)state;
  char json[512];
  /* Missing bucket object, empty bucket name. */
  expect_fail("{\"Records\":[{\"s3\":{\"object\":{\"key\":\"k\"}}}]}", FP_ERR_EVENT,
              "$.Records[0].s3.bucket", "expected an object");
  expect_fail("{\"Records\":[{\"s3\":{\"bucket\":{},\"object\":{\"key\":\"k\"}}}]}", FP_ERR_EVENT,
              "$.Records[0].s3.bucket.name", "expected a non-empty string");
  /* Key not a string, empty, missing; object missing; s3 missing. */
  record_json(json, sizeof json, "", "123");
  expect_fail(json, FP_ERR_EVENT, "$.Records[0].s3.object.key", "expected a non-empty string");
  record_json(json, sizeof json, "", "\"\"");
  expect_fail(json, FP_ERR_EVENT, "$.Records[0].s3.object.key", "expected a non-empty string");
  record_json(json, sizeof json, "", "null");
  expect_fail(json, FP_ERR_EVENT, "$.Records[0].s3.object.key", "expected a non-empty string");
  expect_fail("{\"Records\":[{\"s3\":{\"bucket\":{\"name\":\"b\"}}}]}", FP_ERR_EVENT,
              "$.Records[0].s3.object", "expected an object");
  expect_fail("{\"Records\":[{\"eventName\":\"ObjectCreated:Put\"}]}", FP_ERR_EVENT,
              "$.Records[0].s3", "expected an object");
  /* Bad percent escape, invalid UTF-8 after decoding, NUL. */
  record_json(json, sizeof json, "", "\"a%zzb\"");
  expect_fail(json, FP_ERR_EVENT, "$.Records[0].s3.object.key", "percent escape");
  record_json(json, sizeof json, "", "\"a%FFb\"");
  expect_fail(json, FP_ERR_EVENT, "$.Records[0].s3.object.key", "invalid UTF-8");
  record_json(json, sizeof json, "", "\"a%00b\"");
  expect_fail(json, FP_ERR_EVENT, "$.Records[0].s3.object.key", "NUL");
  /* Size. */
  expect_fail(
      "{\"Records\":[{\"s3\":{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\"k\","
      "\"size\":\"12\"}}}]}",
      FP_ERR_EVENT, "$.Records[0].s3.object.size", "non-negative integer");
  expect_fail(
      "{\"Records\":[{\"s3\":{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\"k\","
      "\"size\":-1}}}]}",
      FP_ERR_EVENT, "$.Records[0].s3.object.size", "non-negative integer");
  expect_fail(
      "{\"Records\":[{\"s3\":{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\"k\","
      "\"eTag\":5}}}]}",
      FP_ERR_EVENT, "$.Records[0].s3.object.eTag", "expected a string");
  /* eventSource other than aws:s3. */
  expect_fail("{\"Records\":[{\"eventSource\":\"aws:sqs\",\"body\":\"{}\"}]}", FP_ERR_EVENT,
              "$.Records[0].eventSource", "aws:s3");
  /* Records not a non-empty array; record not an object. */
  expect_fail("{\"Records\":{}}", FP_ERR_EVENT, "$.Records", "non-empty array");
  expect_fail("{\"Records\":[]}", FP_ERR_EVENT, "$.Records", "non-empty array");
  expect_fail("{\"Records\":[\"x\"]}", FP_ERR_EVENT, "$.Records[0]", "expected an object");
}

static void test_unknown_shapes(void **state) {
  (void)state;
  const char *msg =
      "not an S3 event: expected Records[], an SNS Notification, or an EventBridge Object "
      "Created event";
  expect_fail("{\"foo\":1}", FP_ERR_EVENT, "$", msg);
  expect_fail("{}", FP_ERR_EVENT, "$", msg);
  expect_fail("{\"source\":\"aws.ec2\",\"detail-type\":\"Object Created\"}", FP_ERR_EVENT, "$",
              msg);
  expect_fail("[{\"Event\":\"s3:TestEvent\"},{\"hello\":\"world\"}]", FP_ERR_EVENT, "$[1]", msg);
  expect_fail("{\"Type\":\"Weird\"}", FP_ERR_EVENT, "$.Type", msg);
  expect_fail("{\"Type\":\"Notification\"}", FP_ERR_EVENT, "$.Message", "expected a string");
}

static void test_sns_confirmations_inline(void **state) {
  (void)state;
  expect_fail(
      "{\"Type\":\"SubscriptionConfirmation\",\"Message\":\"You have chosen...\","
      "\"SubscribeURL\":\"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription\"}",
      FP_ERR_EVENT, "$.Type", "not an S3 notification (SNS SubscriptionConfirmation)");
  expect_fail("{\"Type\":\"UnsubscribeConfirmation\",\"Message\":\"x\"}", FP_ERR_EVENT, "$.Type",
              "not an S3 notification (SNS UnsubscribeConfirmation)");
  /* SNS inside SNS inside ... is bounded. */
  json_t *v = json_pack("{s:s}", "Event", "s3:TestEvent");
  for (int i = 0; i < 6; i++) {
    char *s = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    v = json_pack("{s:s, s:s}", "Type", "Notification", "Message", s);
    free(s);
  }
  char *text = json_dumps(v, JSON_COMPACT);
  json_decref(v);
  fp_event_list l = {0};
  fp_diag d;
  assert_int_equal(parse_str(text, &l, &d), FP_ERR_EVENT);
  assert_contains(d.msg, "nested too deeply");
  free(text);
}

/* ---- key decoding --------------------------------------------------------------------- */

static void expect_key(const char *in, const char *want) {
  char *out = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  fp_err e = fp_s3_key_decode(in, strlen(in), &out, &d);
  if (e) print_error("decoding \"%s\": %s\n", in, d.msg);
  assert_int_equal(e, FP_OK);
  assert_string_equal(out, want);
  free(out);
}

static void expect_key_error(const char *in, size_t n, const char *msg) {
  char *out = (char *)"sentinel";
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_s3_key_decode(in, n, &out, &d), FP_ERR_EVENT);
  assert_null(out);
  assert_int_equal(d.code, FP_ERR_EVENT);
  assert_contains(d.msg, msg);
}

static void test_key_decode(void **state) {
  (void)state;
  expect_key("a+b%2Bc", "a b+c");
  expect_key("%E4%BD%A0", "\xE4\xBD\xA0");
  expect_key("%e4%bd%a0", "\xE4\xBD\xA0");
  expect_key("%F0%9F%90%B1.png", "\xF0\x9F\x90\xB1.png");
  expect_key("\xE4\xBD\xA0/raw", "\xE4\xBD\xA0/raw"); /* raw UTF-8 passes through */
  expect_key("dt%3D2018-05-04/_SUCCESS", "dt=2018-05-04/_SUCCESS");
  expect_key("%25", "%");
  expect_key("+", " ");
  expect_key("%EF%BF%BF", "\xEF\xBF\xBF");        /* U+FFFF */
  expect_key("%F4%8F%BF%BF", "\xF4\x8F\xBF\xBF"); /* U+10FFFF */
  expect_key_error("%zz", 3, "percent escape");
  expect_key_error("%", 1, "percent escape");
  expect_key_error("ab%4", 4, "percent escape");
  expect_key_error("%4g", 3, "percent escape");
  expect_key_error("%00", 3, "NUL");
  expect_key_error("%C0%AF", 6, "invalid UTF-8");        /* overlong '/' */
  expect_key_error("%E0%80%AF", 9, "invalid UTF-8");     /* overlong, 3 bytes */
  expect_key_error("%F0%80%80%AF", 12, "invalid UTF-8"); /* overlong, 4 bytes */
  expect_key_error("%ED%A0%80", 9, "invalid UTF-8");     /* surrogate U+D800 */
  expect_key_error("%F4%90%80%80", 12, "invalid UTF-8"); /* U+110000 */
  expect_key_error("%F5%80%80%80", 12, "invalid UTF-8");
  expect_key_error("%80", 3, "invalid UTF-8");    /* lone continuation */
  expect_key_error("%E4%BD", 6, "invalid UTF-8"); /* truncated sequence */
  expect_key_error("", 0, "empty");
  /* n is honoured: the NUL terminator is not part of the key. */
  expect_key_error("a\0b", 3, "NUL");
  /* S3's 1024-byte key limit. */
  char big[1100];
  memset(big, 'a', sizeof big);
  expect_key_error(big, 1025, "1024");
  char *out = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_s3_key_decode(big, 1024, &out, &d), FP_OK);
  assert_int_equal(strlen(out), 1024);
  free(out);
}

/* Error messages quote the key but stay valid UTF-8 (they end up in JSON reports and
 * logs): long keys are cut on a character boundary, control and stray bytes become '?'. */
static void test_key_error_message_is_clean_utf8(void **state) {
  (void)state;
  char key[1200];
  size_t n = 0;
  for (int i = 0; i < 300; i++) memcpy(key + n, "\xE4\xBD\xA0", 3), n += 3; /* 你 x300 */
  memcpy(key + n, "\x01\xFF%zz", 6), n += 6;
  char *out = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_s3_key_decode(key, n, &out, &d), FP_ERR_EVENT);
  json_t *js = json_string(d.msg); /* NULL if d.msg is not valid UTF-8 */
  if (!js) fail_msg("message is not valid UTF-8: %s", d.msg);
  json_decref(js);
  assert_contains(d.msg, "\xE4\xBD\xA0\xE4\xBD\xA0");
  assert_contains(d.msg, "...");
  assert_contains(d.msg, "percent escape");
  /* Short key with control and invalid bytes. */
  fp_diag_clear(&d);
  assert_int_equal(fp_s3_key_decode("a\x01\xC3" "b%", 5, &out, &d), FP_ERR_EVENT);
  assert_contains(d.msg, "\"a??b%\"");
}

static void test_object_ref_copy(void **state) {
  (void)state;
  fp_object_ref src = {.bucket = (char *)"b",
                       .key = (char *)"k",
                       .version_id = NULL,
                       .etag = (char *)"e",
                       .size = 9,
                       .sequencer = (char *)"s",
                       .event_time = NULL,
                       .event_name = (char *)"ObjectCreated:Put"};
  fp_object_ref dst;
  assert_int_equal(fp_object_ref_copy(&dst, &src), FP_OK);
  assert_ptr_not_equal(dst.bucket, src.bucket);
  want_ref w = {"b", "k", NULL, "e", 9, "s", NULL, "ObjectCreated:Put"};
  assert_ref(&dst, &w);
  fp_object_ref_clear(&dst);
  assert_null(dst.bucket);
  fp_object_ref_clear(NULL);
  fp_event_list_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sample_aws_doc_put),
      cmocka_unit_test(test_sample_powertools_s3),
      cmocka_unit_test(test_sample_test_event_skipped),
      cmocka_unit_test(test_sample_eventbridge_aws_doc),
      cmocka_unit_test(test_sample_eventbridge_powertools),
      cmocka_unit_test(test_sample_unicode_key),
      cmocka_unit_test(test_sample_real_put),
      cmocka_unit_test(test_sample_real_sns_envelope),
      cmocka_unit_test(test_every_sample_parses),
      cmocka_unit_test(test_sns_wrapped_sample),
      cmocka_unit_test(test_sns_subscription_confirmation_real),
      cmocka_unit_test(test_minimal_operator_event),
      cmocka_unit_test(test_multiple_records_and_skips),
      cmocka_unit_test(test_eventbridge_inline),
      cmocka_unit_test(test_array_of_events),
      cmocka_unit_test(test_appends_and_keeps_out_on_error),
      cmocka_unit_test(test_json_lines),
      cmocka_unit_test(test_text_single_document_forms),
      cmocka_unit_test(test_malformed_json),
      cmocka_unit_test(test_event_version),
      cmocka_unit_test(test_bad_fields),
      cmocka_unit_test(test_unknown_shapes),
      cmocka_unit_test(test_sns_confirmations_inline),
      cmocka_unit_test(test_key_decode),
      cmocka_unit_test(test_key_error_message_is_clean_utf8),
      cmocka_unit_test(test_object_ref_copy),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
