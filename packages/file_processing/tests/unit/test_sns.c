/* test_sns.c — SNS message parsing, string to sign, URL rules and signature verification:
 * every real AWS-signed message in ../shared/conformance/sns_real verifies (test clock,
 * certificate URL mapped to the PEM there) and fails under each tampering; messages signed
 * here with a fresh key and self-signed certificate; the certificate cache under 8
 * threads; the HTTPS fetch path against a local Python TLS server on 127.0.0.1 that
 * trusts a CA generated here. */
#include "fp_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "fp/fp_log.h"
#include "fp/fp_sns.h"

#define CERT_NEW "SimpleNotificationService-7506a1e35b36ef5a444dd1a8e7cc3ed8.pem"
#define CERT_OLD "SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem"
#define TEST_CERT_NAME "SimpleNotificationService-fptest.pem"
#define TEST_CERT_URL "https://sns.us-east-1.amazonaws.com/" TEST_CERT_NAME

/* ---- helpers ---------------------------------------------------------------------- */

static void assert_contains(const char *hay, const char *needle) {
  if (!hay || !strstr(hay, needle)) {
    print_error("expected \"%s\" to contain \"%s\"\n", hay ? hay : "(null)", needle);
    fail();
  }
}

static void assert_not_contains(const char *hay, const char *needle) {
  if (hay && strstr(hay, needle)) {
    print_error("expected \"%s\" NOT to contain \"%s\"\n", hay, needle);
    fail();
  }
}

/* Replaces *slot with a copy of s. */
static void set_field(char **slot, const char *s) {
  free(*slot);
  *slot = s ? strdup(s) : NULL;
  if (s) assert_non_null(*slot);
}

static void sns_dir(const char *conf, char *out, size_t outsz) {
  snprintf(out, outsz, "%s/sns_real", conf);
}

static char *path_in(const char *dir, const char *name) {
  static __thread char buf[1024];
  if (snprintf(buf, sizeof buf, "%s/%s", dir, name) >= (int)sizeof buf) fail_msg("path too long");
  return buf;
}

static void parse_ok(const char *body, size_t len, fp_sns_message *m) {
  fp_diag d;
  fp_diag_clear(&d);
  fp_err e = fp_sns_message_parse(body, len, m, &d);
  if (e) print_error("parse: %s (key %s)\n", d.msg, d.key);
  assert_int_equal(e, FP_OK);
}

static void parse_file(const char *path, fp_sns_message *m) {
  size_t len = 0;
  char *body = fp_test_read_file(path, &len);
  if (!body) print_error("cannot read %s\n", path);
  assert_non_null(body);
  parse_ok(body, len, m);
  free(body);
}

static time_t asn1_time(const ASN1_TIME *a) {
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  assert_int_equal(ASN1_TIME_to_tm(a, &tm), 1);
  return timegm(&tm);
}

/* notBefore / notAfter of a PEM certificate, read with OpenSSL (not hard-coded). */
static void pem_validity(const char *path, time_t *nb, time_t *na) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
  fclose(f);
  assert_non_null(x);
  *nb = asn1_time(X509_get0_notBefore(x));
  *na = asn1_time(X509_get0_notAfter(x));
  X509_free(x);
}

/* The *.json files of dir, sorted; names owned (free each, then the array). */
static int is_json(const struct dirent *e) {
  size_t n = strlen(e->d_name);
  return n > 5 && strcmp(e->d_name + n - 5, ".json") == 0;
}

static size_t list_json(const char *dir, struct dirent ***out) {
  int n = scandir(dir, out, is_json, alphasort);
  assert_true(n > 0);
  return (size_t)n;
}

static void free_list(struct dirent **l, size_t n) {
  for (size_t i = 0; i < n; i++) free(l[i]);
  free(l);
}

static fp_sns_verifier *new_verifier(bool test_mode) {
  fp_sns_verifier_opts o = {.test_mode = test_mode};
  fp_sns_verifier *v = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_verifier_new(&o, &v, &d), FP_OK);
  assert_non_null(v);
  return v;
}

/* Test-mode verifier with both real certificates mapped by basename; never fetches. */
static fp_sns_verifier *real_verifier(const char *dir) {
  fp_sns_verifier *v = new_verifier(true);
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_verifier_test_map_cert(v, CERT_NEW, path_in(dir, CERT_NEW), &d), FP_OK);
  assert_int_equal(fp_sns_verifier_test_map_cert(v, CERT_OLD, path_in(dir, CERT_OLD), &d), FP_OK);
  assert_int_equal(fp_sns_verifier_test_disable_fetch(v, &d), FP_OK);
  return v;
}

/* Sets the clock to the middle of the validity of the certificate m names. */
static void clock_inside(fp_sns_verifier *v, const char *dir, const fp_sns_message *m, time_t *nb,
                         time_t *na) {
  const char *base = strrchr(m->signing_cert_url, '/') + 1;
  pem_validity(path_in(dir, base), nb, na);
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_verifier_test_set_clock(v, *nb + (*na - *nb) / 2, &d), FP_OK);
}

static fp_err verify(fp_sns_verifier *v, const fp_sns_message *m, fp_diag *d) {
  fp_diag_clear(d);
  return fp_sns_verify(v, m, d);
}

static void verify_ok(fp_sns_verifier *v, const fp_sns_message *m, const char *what) {
  fp_diag d;
  fp_err e = verify(v, m, &d);
  if (e) print_error("%s: %s: %s\n", what, fp_err_name(e), d.msg);
  assert_int_equal(e, FP_OK);
}

static void verify_fails(fp_sns_verifier *v, const fp_sns_message *m, fp_err want,
                         const char *needle, const char *what) {
  fp_diag d;
  fp_err e = verify(v, m, &d);
  if (e != want) print_error("%s: got %s (%s)\n", what, fp_err_name(e), d.msg);
  assert_int_equal(e, want);
  assert_int_equal(d.code, want);
  assert_contains(d.msg, needle);
}

/* ---- keys, certificates and signatures made here ------------------------------------ */

static void add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value) {
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
  assert_non_null(ext);
  assert_int_equal(X509_add_ext(x, ext, -1), 1);
  X509_EXTENSION_free(ext);
}

/* A certificate for key: self-signed when issuer is NULL. Validity from now+from_s to
 * now+to_s. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                       long from_s, long to_s, int ca, const char *san) {
  static long serial = 1000;
  X509 *x = X509_new();
  assert_non_null(x);
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++ + (long)(time(NULL) % 100000) * 100);
  X509_gmtime_adj(X509_getm_notBefore(x), from_s);
  X509_gmtime_adj(X509_getm_notAfter(x), to_s);
  assert_int_equal(X509_set_pubkey(x, key), 1);
  X509_NAME *nm = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : nm);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
  add_ext(x, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
  add_ext(x, &ctx, NID_subject_key_identifier, "hash");
  if (ca) add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  if (san) add_ext(x, &ctx, NID_subject_alt_name, san);
  assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
  return x;
}

static void write_cert(const char *path, X509 *x) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(PEM_write_X509(f, x), 1);
  fclose(f);
}

static void write_key(const char *path, EVP_PKEY *k) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
  fclose(f);
}

/* base64(sign(key, md, data)); owned. */
static char *sign_b64(EVP_PKEY *key, const EVP_MD *md, const char *data, size_t n) {
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  assert_non_null(c);
  assert_int_equal(EVP_DigestSignInit(c, NULL, md, NULL, key), 1);
  size_t sl = 0;
  assert_int_equal(EVP_DigestSign(c, NULL, &sl, (const unsigned char *)data, n), 1);
  unsigned char *sig = malloc(sl);
  assert_non_null(sig);
  assert_int_equal(EVP_DigestSign(c, sig, &sl, (const unsigned char *)data, n), 1);
  EVP_MD_CTX_free(c);
  char *out = malloc(4 * ((sl + 2) / 3) + 1);
  assert_non_null(out);
  EVP_EncodeBlock((unsigned char *)out, sig, (int)sl);
  free(sig);
  return out;
}

typedef struct body_spec {
  fp_sns_type type;
  const char *cert_url;
  const char *subject;       /* NULL: absent */
  const char *version;       /* "1" or "2" */
  const char *subscribe_url; /* confirmations; NULL: a real-looking SNS URL */
  const char *message;       /* NULL: a message with escapes and a trailing newline */
  EVP_PKEY *key;
} body_spec;

/* A JSON body signed with s->key over the string to sign the module builds; the
 * expected string is also checked independently for the Notification case. Owned. */
static char *signed_body(const body_spec *s) {
  json_t *o = json_object();
  int conf = s->type != FP_SNS_NOTIFICATION;
  json_object_set_new(o, "Type", json_string(fp_sns_type_name(s->type)));
  json_object_set_new(o, "MessageId", json_string("6b6e1b1e-0000-4000-8000-fp0000000001"));
  json_object_set_new(o, "TopicArn", json_string("arn:aws:sns:us-east-1:123456789012:fp-test"));
  json_object_set_new(o, "Message",
                      json_string(s->message ? s->message : "{\"Records\":[]} caf\xc3\xa9\n"));
  json_object_set_new(o, "Timestamp", json_string("2025-01-02T03:04:05.678Z"));
  json_object_set_new(o, "SignatureVersion", json_string(s->version));
  json_object_set_new(o, "Signature", json_string("AAAA"));
  json_object_set_new(o, "SigningCertURL", json_string(s->cert_url));
  if (s->subject) json_object_set_new(o, "Subject", json_string(s->subject));
  if (conf) {
    const char *su = s->subscribe_url ? s->subscribe_url
                                      : "https://sns.us-east-1.amazonaws.com/?Action="
                                        "ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:"
                                        "123456789012:fp-test&Token=abc123";
    json_object_set_new(o, "SubscribeURL", json_string(su));
    json_object_set_new(o, "Token", json_string("abc123"));
  } else {
    json_object_set_new(o, "UnsubscribeURL",
                        json_string("https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"));
  }
  char *tmp = json_dumps(o, JSON_COMPACT);
  assert_non_null(tmp);
  fp_sns_message m;
  parse_ok(tmp, strlen(tmp), &m);
  free(tmp);
  char *sts = NULL;
  size_t stslen = 0;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_string_to_sign(&m, &sts, &stslen, &d), FP_OK);
  const EVP_MD *md = strcmp(s->version, "2") == 0 ? EVP_sha256() : EVP_sha1();
  char *sig = sign_b64(s->key, md, sts, stslen);
  json_object_set_new(o, "Signature", json_string(sig));
  free(sig);
  free(sts);
  fp_sns_message_clear(&m);
  char *body = json_dumps(o, JSON_COMPACT | JSON_INDENT(1));
  json_decref(o);
  assert_non_null(body);
  return body;
}

/* A fresh RSA key and a self-signed CN=sns.amazonaws.com certificate in a temp dir. */
typedef struct signer {
  char dir[64];
  char pem[128];
  EVP_PKEY *key;
  X509 *cert;
} signer;

static void signer_make(signer *s, const char *cn, EVP_PKEY *key, long from_s, long to_s) {
  memset(s, 0, sizeof *s);
  fp_test_tmpdir(s->dir, sizeof s->dir);
  assert_true(s->dir[0] != '\0');
  snprintf(s->pem, sizeof s->pem, "%s/%s", s->dir, TEST_CERT_NAME);
  s->key = key ? key : EVP_RSA_gen(2048);
  assert_non_null(s->key);
  s->cert = make_cert(s->key, cn, NULL, NULL, from_s, to_s, 0, NULL);
  write_cert(s->pem, s->cert);
}

static void signer_free(signer *s) {
  unlink(s->pem);
  rmdir(s->dir);
  X509_free(s->cert);
  EVP_PKEY_free(s->key);
}

/* ---- parsing and the string to sign ------------------------------------------------- */

static void test_parse_real_messages(void **state) {
  (void)state;
  FP_TEST_NEED_CONFORMANCE(conf);
  char dir[1024];
  sns_dir(conf, dir, sizeof dir);
  struct dirent **l;
  size_t n = list_json(dir, &l);
  assert_int_equal(n, 11); /* the README's table */
  size_t notif = 0, subj = 0, conf_n = 0;
  for (size_t i = 0; i < n; i++) {
    fp_sns_message m;
    parse_file(path_in(dir, l[i]->d_name), &m);
    assert_non_null(m.message_id);
    assert_non_null(m.topic_arn);
    assert_non_null(m.signing_cert_url);
    assert_int_equal(m.message_len, strlen(m.message));
    if (m.type == FP_SNS_NOTIFICATION) {
      notif++;
      subj += m.subject != NULL;
      assert_null(m.subscribe_url);
      assert_null(m.token);
      assert_non_null(m.unsubscribe_url);
    } else {
      conf_n++;
      assert_non_null(m.subscribe_url);
      assert_non_null(m.token);
    }
    if (strstr(l[i]->d_name, "trailing_newline")) {
      assert_true(m.message_len > 0);
      assert_int_equal(m.message[m.message_len - 1], '\n');
      assert_non_null(strstr(m.message, "boundary=\\\"----=_Part")); /* \" kept as sent */
    }
    fp_sns_message_clear(&m);
  }
  assert_int_equal(notif, 9);
  assert_int_equal(subj, 5);
  assert_int_equal(conf_n, 2);
  free_list(l, n);
}

static void test_string_to_sign_exact(void **state) {
  (void)state;
  fp_sns_message m;
  const char *b1 =
      "{\"Type\":\"Notification\",\"MessageId\":\"id-1\",\"TopicArn\":\"arn:t\","
      "\"Subject\":\"S \\u00e9\",\"Message\":\"line1\\nline2\\n\",\"Timestamp\":\"T\","
      "\"SignatureVersion\":\"1\",\"Signature\":\"AAAA\",\"SigningCertURL\":\"u\","
      "\"UnsubscribeURL\":\"x\",\"SubscribeURL\":\"ignored\",\"Token\":\"ignored\","
      "\"MessageAttributes\":{\"a\":{\"Type\":\"String\",\"Value\":\"1\"}}}";
  parse_ok(b1, strlen(b1), &m);
  char *s = NULL;
  size_t n = 0;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_string_to_sign(&m, &s, &n, &d), FP_OK);
  const char *want1 =
      "Message\nline1\nline2\n\nMessageId\nid-1\nSubject\nS \xc3\xa9\nTimestamp\nT\n"
      "TopicArn\narn:t\nType\nNotification\n";
  assert_string_equal(s, want1);
  assert_int_equal(n, strlen(want1));
  assert_null(m.subscribe_url); /* not part of a Notification */
  free(s);
  /* Without Subject (and with "Subject": null) the pair is left out entirely. */
  set_field(&m.subject, NULL);
  assert_int_equal(fp_sns_string_to_sign(&m, &s, &n, &d), FP_OK);
  assert_string_equal(s,
                      "Message\nline1\nline2\n\nMessageId\nid-1\nTimestamp\nT\n"
                      "TopicArn\narn:t\nType\nNotification\n");
  free(s);
  fp_sns_message_clear(&m);
  const char *b1n =
      "{\"Type\":\"Notification\",\"MessageId\":\"i\",\"TopicArn\":\"a\","
      "\"Subject\":null,\"Message\":\"\",\"Timestamp\":\"T\","
      "\"SignatureVersion\":\"2\",\"Signature\":\"AAAA\",\"SigningCertURL\":\"u\"}";
  parse_ok(b1n, strlen(b1n), &m);
  assert_null(m.subject);
  assert_null(m.unsubscribe_url);
  assert_int_equal(fp_sns_string_to_sign(&m, &s, &n, &d), FP_OK);
  assert_string_equal(s,
                      "Message\n\nMessageId\ni\nTimestamp\nT\nTopicArn\na\nType\nNotification\n");
  free(s);
  fp_sns_message_clear(&m);

  const char *b2 =
      "{\"Type\":\"SubscriptionConfirmation\",\"MessageId\":\"id-2\",\"Token\":\"tok\","
      "\"TopicArn\":\"arn:t\",\"Message\":\"m\",\"SubscribeURL\":\"https://s/?a=b\","
      "\"Timestamp\":\"T\",\"SignatureVersion\":\"1\",\"Signature\":\"AAAA\","
      "\"SigningCertURL\":\"u\",\"Subject\":\"not signed for confirmations\"}";
  parse_ok(b2, strlen(b2), &m);
  assert_null(m.subject);
  assert_int_equal(fp_sns_string_to_sign(&m, &s, &n, &d), FP_OK);
  assert_string_equal(s,
                      "Message\nm\nMessageId\nid-2\nSubscribeURL\nhttps://s/?a=b\n"
                      "Timestamp\nT\nToken\ntok\nTopicArn\narn:t\nType\n"
                      "SubscriptionConfirmation\n");
  free(s);
  m.type = FP_SNS_UNSUBSCRIBE_CONFIRMATION;
  assert_int_equal(fp_sns_string_to_sign(&m, &s, &n, &d), FP_OK);
  assert_contains(s, "Type\nUnsubscribeConfirmation\n");
  free(s);
  fp_sns_message_clear(&m);
}

static void expect_parse_error(const char *body, fp_err want, const char *needle, const char *key) {
  fp_sns_message m;
  memset(&m, 0x5a, sizeof m); /* garbage in: must be left zeroed */
  fp_diag d;
  fp_diag_clear(&d);
  fp_err e = fp_sns_message_parse(body, strlen(body), &m, &d);
  if (e != want) print_error("body %.200s: got %s (%s)\n", body, fp_err_name(e), d.msg);
  assert_int_equal(e, want);
  assert_int_equal(d.code, want);
  if (needle) assert_contains(d.msg, needle);
  if (key) assert_string_equal(d.key, key);
  assert_null(m.message_id);
  assert_null(m.message);
  assert_int_equal(m.type, 0);
}

static void test_parse_errors(void **state) {
  (void)state;
  static const char *types[] = {"Notification", "SubscriptionConfirmation",
                                "UnsubscribeConfirmation"};
  static const char *fields[] = {"MessageId",      "TopicArn",         "Message",
                                 "Timestamp",      "SignatureVersion", "Signature",
                                 "SigningCertURL", "SubscribeURL",     "Token"};
  for (size_t t = 0; t < 3; t++) {
    json_t *o =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "Type", types[t], "MessageId", "i",
                  "TopicArn", "a", "Message", "m", "Timestamp", "T", "SignatureVersion", "1",
                  "Signature", "AAAA", "SigningCertURL", "u", "SubscribeURL", "s", "Token", "k");
    assert_non_null(o);
    char *full = json_dumps(o, 0);
    fp_sns_message m;
    parse_ok(full, strlen(full), &m);
    fp_sns_message_clear(&m);
    free(full);
    size_t nf = t == 0 ? 7 : 9; /* SubscribeURL and Token only for confirmations */
    for (size_t f = 0; f < 9; f++) {
      json_t *c = json_deep_copy(o);
      json_object_del(c, fields[f]);
      char *body = json_dumps(c, 0);
      char key[64], want[128];
      snprintf(key, sizeof key, "$.%s", fields[f]);
      snprintf(want, sizeof want, "missing required field \"%s\"", fields[f]);
      if (f < nf) {
        expect_parse_error(body, FP_ERR_EVENT, want, key);
      } else {
        parse_ok(body, strlen(body), &m);
        fp_sns_message_clear(&m);
      }
      free(body);
      /* null counts as missing; a number is not a string */
      json_object_set_new(c, fields[f], json_null());
      body = json_dumps(c, 0);
      if (f < nf) expect_parse_error(body, FP_ERR_EVENT, want, key);
      free(body);
      json_object_set_new(c, fields[f], json_integer(1));
      body = json_dumps(c, 0);
      snprintf(want, sizeof want, "field \"%s\" must be a string", fields[f]);
      if (f < nf) expect_parse_error(body, FP_ERR_EVENT, want, key);
      free(body);
      json_decref(c);
    }
    json_decref(o);
  }
  const char *tail =
      ",\"MessageId\":\"i\",\"TopicArn\":\"a\",\"Message\":\"m\",\"Timestamp\":"
      "\"T\",\"SignatureVersion\":\"1\",\"Signature\":\"AAAA\","
      "\"SigningCertURL\":\"u\"}";
  char body[1024];
  expect_parse_error("{\"MessageId\":\"i\"}", FP_ERR_EVENT, "missing required field \"Type\"",
                     "$.Type");
  snprintf(body, sizeof body, "{\"Type\":\"Notificatiom\"%s", tail);
  expect_parse_error(body, FP_ERR_EVENT, "unknown Type \"Notificatiom\"", "$.Type");
  snprintf(body, sizeof body, "{\"Type\":\"notification\"%s", tail);
  expect_parse_error(body, FP_ERR_EVENT, "unknown Type", "$.Type");
  snprintf(body, sizeof body, "{\"Type\":[\"Notification\"]%s", tail);
  expect_parse_error(body, FP_ERR_EVENT, "\"Type\" must be a string", "$.Type");
  snprintf(body, sizeof body, "{\"Type\":\"Notification\",\"MessageId\":\"\"%s", tail + 16);
  expect_parse_error(body, FP_ERR_EVENT, "\"MessageId\" must not be empty", "$.MessageId");
  /* Duplicate keys could make us verify one value and act on another: refused. */
  snprintf(body, sizeof body, "{\"Type\":\"Notification\",\"Message\":\"x\"%s", tail);
  expect_parse_error(body, FP_ERR_JSON, "duplicate", NULL);
  snprintf(body, sizeof body, "{\"Type\":\"Notification\",\"Message\":\"a\\u0000b\"%s", tail);
  expect_parse_error(body, FP_ERR_JSON, NULL, NULL); /* \u0000 refused by the parser */
  expect_parse_error("[1,2]", FP_ERR_EVENT, "expected a JSON object", "$");
  expect_parse_error("\"Notification\"", FP_ERR_JSON, NULL, NULL);
  expect_parse_error("{\"Type\":", FP_ERR_JSON, "malformed JSON", NULL);
  expect_parse_error("", FP_ERR_JSON, NULL, NULL);
  expect_parse_error("{\"Type\":\"Notification\"} trailing", FP_ERR_JSON, NULL, NULL);

  /* Size cap: FP_SNS_MAX_BODY accepted (when otherwise valid), one more byte refused. */
  size_t cap = FP_SNS_MAX_BODY;
  char *big = malloc(cap + 2);
  assert_non_null(big);
  int head = snprintf(big, cap + 2, "{\"Type\":\"Notification\"%s", tail);
  memmove(big + cap - (size_t)head, big, (size_t)head);
  memset(big, ' ', cap - (size_t)head);
  big[cap] = ' ';
  big[cap + 1] = '\0';
  fp_sns_message m;
  parse_ok(big, cap, &m);
  fp_sns_message_clear(&m);
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_message_parse(big, cap + 1, &m, &d), FP_ERR_LIMIT);
  assert_contains(d.msg, "limit");
  free(big);
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_message_parse(NULL, 0, NULL, &d), FP_ERR_INVAL);
  fp_sns_message_clear(NULL);
}

/* ---- URL rules ---------------------------------------------------------------------- */

typedef struct url_case {
  const char *url;
  const char *rule; /* NULL: accepted */
} url_case;

static const url_case cert_urls[] = {
    {"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem", NULL},
    {"https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem", NULL},
    {"https://sns.us-gov-west-1.amazonaws.com/a/b_c~d.pem", NULL},
    {"http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
     "scheme must be https"},
    {"HTTPS://sns.us-east-1.amazonaws.com/x.pem", "scheme must be https"},
    {"ftp://sns.us-east-1.amazonaws.com/x.pem", "scheme must be https"},
    {"https://sns.us-east-1.amazonaws.com.evil.com/x.pem", "not an SNS host"},
    {"https://evil.example.com/SimpleNotificationService-abc.pem", "not an SNS host"},
    {"https://sns.amazonaws.com/x.pem", "not an SNS host"},
    {"https://sns.ab.amazonaws.com/x.pem", "not an SNS host"},
    {"https://sns.us_east.amazonaws.com/x.pem", "not an SNS host"},
    {"https://sns.us.east.amazonaws.com/x.pem", "not an SNS host"},
    {"https://sns.us-east-1.amazonaws.co/x.pem", "not an SNS host"},
    {"https://xsns.us-east-1.amazonaws.com/x.pem", "not an SNS host"},
    {"https://SNS.us-east-1.amazonaws.com/x.pem", "not an SNS host"},
    {"https://sns.us-east-1.amazonaws.com./x.pem", "not an SNS host"},
    {"https://[::1]/x.pem", "not an SNS host"},
    {"https://127.0.0.1/x.pem", "not an SNS host"},
    {"https://sns.us-east-1.amazonaws.com:443/x.pem", "explicit port"},
    {"https://sns.us-east-1.amazonaws.com:/x.pem", "explicit port"},
    {"https://user@sns.us-east-1.amazonaws.com/x.pem", "userinfo"},
    {"https://u:p@sns.us-east-1.amazonaws.com/x.pem", "userinfo"},
    {"https://evil.com@sns.us-east-1.amazonaws.com/x.pem", "userinfo"},
    {"https://sns.us-east-1.amazonaws.com/x.pem?a=b", "query"},
    {"https://sns.us-east-1.amazonaws.com/x.pem?", "query"},
    {"https://sns.us-east-1.amazonaws.com?x.pem", "no path"},
    {"https://sns.us-east-1.amazonaws.com/x.pem#frag", "fragment"},
    {"https://sns.us-east-1.amazonaws.com/x.txt", "must end in .pem"},
    {"https://sns.us-east-1.amazonaws.com/x.pem.txt", "must end in .pem"},
    {"https://sns.us-east-1.amazonaws.com/x.PEM", "must end in .pem"},
    {"https://sns.us-east-1.amazonaws.com", "no path"},
    {"https:///x.pem", "no host"},
    {"https://sns.us-east-1.amazonaws.com/a b.pem", "space, control"},
    {"https://sns.us-east-1.amazonaws.com/a\tb.pem", "space, control"},
    {"https://sns.us-east-1.amazonaws.com\\@evil.com/x.pem", "backslash"},
    {"https://sns.us-east-1.amazonaws.com/caf\xc3\xa9.pem", "non-ASCII"},
    {"https://sns.us-east-1.amazonaws.com/%2e%2e.pem", "path holds a byte"},
    {"https://sns.us-east-1.amazonaws.com/a;b.pem", "path holds a byte"},
    {"", "empty"},
};

static void test_cert_url_rules(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof cert_urls / sizeof cert_urls[0]; i++) {
    fp_diag d;
    fp_diag_clear(&d);
    fp_err e = fp_sns_check_cert_url(NULL, cert_urls[i].url, &d);
    if ((e == FP_OK) != (cert_urls[i].rule == NULL))
      print_error("%s: got %s (%s)\n", cert_urls[i].url, fp_err_name(e), d.msg);
    if (!cert_urls[i].rule) {
      assert_int_equal(e, FP_OK);
      continue;
    }
    assert_int_equal(e, FP_ERR_FORBIDDEN);
    assert_contains(d.msg, "SigningCertURL rejected");
    assert_contains(d.msg, cert_urls[i].rule);
  }
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_check_cert_url(NULL, NULL, &d), FP_ERR_FORBIDDEN);
  char longurl[2200];
  memset(longurl, 'a', sizeof longurl);
  memcpy(longurl, "https://sns.us-east-1.amazonaws.com/", 36);
  memcpy(longurl + sizeof longurl - 5, ".pem", 5);
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_check_cert_url(NULL, longurl, &d), FP_ERR_FORBIDDEN);
  assert_contains(d.msg, "longer than");
  /* A test authority is refused by a production verifier and by a test verifier that
   * did not allow it; only the exact host:port is relaxed, nothing else. */
  fp_sns_verifier *v = new_verifier(true);
  const char *u = "https://127.0.0.1:8443/x.pem";
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_check_cert_url(v, u, &d), FP_ERR_FORBIDDEN);
  assert_int_equal(fp_sns_verifier_test_allow_host(v, "127.0.0.1:8443", &d), FP_OK);
  assert_int_equal(fp_sns_check_cert_url(v, u, &d), FP_OK);
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_check_cert_url(v, "https://127.0.0.1:8444/x.pem", &d), FP_ERR_FORBIDDEN);
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_check_cert_url(v, "http://127.0.0.1:8443/x.pem", &d), FP_ERR_FORBIDDEN);
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_check_cert_url(v, "https://127.0.0.1:8443/x.pem?q", &d),
                   FP_ERR_FORBIDDEN);
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_check_cert_url(v, "https://127.0.0.1:8443/x.txt", &d), FP_ERR_FORBIDDEN);
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_check_cert_url(v, "https://a@127.0.0.1:8443/x.pem", &d),
                   FP_ERR_FORBIDDEN);
  assert_int_equal(fp_sns_verifier_test_allow_host(v, "a/b", &d), FP_ERR_INVAL);
  fp_sns_verifier_free(v);
}

static void test_subscribe_url_rules(void **state) {
  (void)state;
  static const url_case cases[] = {
      {"https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:"
       "us-west-2:131990247566:t&Token=2336",
       NULL},
      {"https://sns.us-west-2.amazonaws.com/?TopicArn=x&Action=ConfirmSubscription", NULL},
      {"https://sns.cn-north-1.amazonaws.com.cn/?Action=ConfirmSubscription", NULL},
      {"https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x",
       "exactly one Action=ConfirmSubscription"},
      {"https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscriptionX",
       "exactly one Action=ConfirmSubscription"},
      {"https://sns.us-west-2.amazonaws.com/?XAction=ConfirmSubscription",
       "exactly one Action=ConfirmSubscription"},
      {"https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Action=Unsubscribe",
       "exactly one Action=ConfirmSubscription"},
      {"https://sns.us-west-2.amazonaws.com/?", "exactly one Action=ConfirmSubscription"},
      {"https://sns.us-west-2.amazonaws.com/", "has no query"},
      {"http://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription", "scheme must be https"},
      {"https://evil.com/?Action=ConfirmSubscription", "not an SNS host"},
      {"https://sns.us-west-2.amazonaws.com:8443/?Action=ConfirmSubscription", "explicit port"},
      {"https://x@sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription", "userinfo"},
      {"https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription#x", "fragment"},
      {"https://sns.us-west-2.amazonaws.com/?Action=Confirm Subscription", "space"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fp_diag d;
    fp_diag_clear(&d);
    fp_err e = fp_sns_check_subscribe_url(NULL, cases[i].url, &d);
    if ((e == FP_OK) != (cases[i].rule == NULL))
      print_error("%s: got %s (%s)\n", cases[i].url, fp_err_name(e), d.msg);
    if (!cases[i].rule) {
      assert_int_equal(e, FP_OK);
      continue;
    }
    assert_int_equal(e, FP_ERR_FORBIDDEN);
    assert_contains(d.msg, "SubscribeURL rejected");
    assert_contains(d.msg, cases[i].rule);
  }
  const char *allow[] = {"arn:aws:sns:us-east-1:1:a", "arn:aws:sns:us-east-1:1:b"};
  assert_true(fp_sns_topic_allowed("arn:aws:sns:us-east-1:1:a", NULL, 0));
  assert_true(fp_sns_topic_allowed("anything", allow, 0));
  assert_true(fp_sns_topic_allowed("arn:aws:sns:us-east-1:1:b", allow, 2));
  assert_false(fp_sns_topic_allowed("arn:aws:sns:us-east-1:1:c", allow, 2));
  assert_false(fp_sns_topic_allowed("arn:aws:sns:us-east-1:1:a ", allow, 2));
  assert_false(fp_sns_topic_allowed("arn:aws:sns:us-east-1:1:", allow, 2));
  assert_false(fp_sns_topic_allowed(NULL, allow, 2));
}

/* ---- real AWS-signed messages ------------------------------------------------------- */

static void test_real_messages_verify(void **state) {
  (void)state;
  FP_TEST_NEED_CONFORMANCE(conf);
  char dir[1024];
  sns_dir(conf, dir, sizeof dir);
  fp_sns_verifier *v = real_verifier(dir);
  struct dirent **l;
  size_t n = list_json(dir, &l);
  for (size_t i = 0; i < n; i++) {
    fp_sns_message m;
    parse_file(path_in(dir, l[i]->d_name), &m);
    time_t nb, na;
    clock_inside(v, dir, &m, &nb, &na);
    verify_ok(v, &m, l[i]->d_name);
    /* and at the edges of the validity period */
    fp_diag d;
    fp_diag_clear(&d);
    assert_int_equal(fp_sns_verifier_test_set_clock(v, nb, &d), FP_OK);
    verify_ok(v, &m, l[i]->d_name);
    assert_int_equal(fp_sns_verifier_test_set_clock(v, na, &d), FP_OK);
    verify_ok(v, &m, l[i]->d_name);
    /* check_format agrees */
    assert_int_equal(fp_sns_check_format(v, &m, &d), FP_OK);
    fp_sns_message_clear(&m);
  }
  fp_sns_verifier_stats st;
  fp_sns_verifier_stats_get(v, &st);
  assert_int_equal(st.verified, 3 * n);
  assert_int_equal(st.rejected, 0);
  free_list(l, n);
  fp_sns_verifier_free(v);
}

static void test_real_messages_expired(void **state) {
  (void)state;
  FP_TEST_NEED_CONFORMANCE(conf);
  char dir[1024];
  sns_dir(conf, dir, sizeof dir);
  fp_sns_verifier *v = real_verifier(dir);
  struct dirent **l;
  size_t n = list_json(dir, &l);
  for (size_t i = 0; i < n; i++) {
    fp_sns_message m;
    parse_file(path_in(dir, l[i]->d_name), &m);
    time_t nb, na;
    clock_inside(v, dir, &m, &nb, &na);
    fp_diag d;
    fp_diag_clear(&d);
    assert_int_equal(fp_sns_verifier_test_set_clock(v, na + 1, &d), FP_OK);
    verify_fails(v, &m, FP_ERR_FORBIDDEN, "expired at", l[i]->d_name);
    assert_int_equal(fp_sns_verifier_test_set_clock(v, nb - 1, &d), FP_OK);
    verify_fails(v, &m, FP_ERR_FORBIDDEN, "is not valid before", l[i]->d_name);
    fp_sns_message_clear(&m);
  }
  /* Without a test clock the wall clock is used: the 7ff5... certificate expired in 2022. */
  fp_sns_verifier *w = real_verifier(dir);
  fp_sns_message m;
  parse_file(path_in(dir, "php_validator_notification_1_sigv1.json"), &m);
  verify_fails(w, &m, FP_ERR_FORBIDDEN, "expired at 2022-08-17T23:59:59Z", "wall clock");
  fp_sns_message_clear(&m);
  fp_sns_verifier_free(w);
  free_list(l, n);
  fp_sns_verifier_free(v);
}

/* Flips the last byte of *field, checks verify fails on the signature, restores it and
 * checks it verifies again (so the byte was the cause). */
static void tamper(fp_sns_verifier *v, fp_sns_message *m, char **field, const char *name,
                   const char *file) {
  if (!*field || !**field) return;
  size_t n = strlen(*field);
  char what[512];
  snprintf(what, sizeof what, "%s: %s tampered", file, name);
  (*field)[n - 1] ^= 0x01;
  verify_fails(v, m, FP_ERR_FORBIDDEN, "signature does not verify", what);
  (*field)[n - 1] ^= 0x01;
  verify_ok(v, m, file);
}

static void test_real_messages_tampered(void **state) {
  (void)state;
  FP_TEST_NEED_CONFORMANCE(conf);
  char dir[1024];
  sns_dir(conf, dir, sizeof dir);
  fp_sns_verifier *v = real_verifier(dir);
  struct dirent **l;
  size_t n = list_json(dir, &l);
  for (size_t i = 0; i < n; i++) {
    const char *f = l[i]->d_name;
    fp_sns_message m;
    parse_file(path_in(dir, f), &m);
    time_t nb, na;
    clock_inside(v, dir, &m, &nb, &na);
    verify_ok(v, &m, f);
    tamper(v, &m, &m.message, "Message", f);
    tamper(v, &m, &m.message_id, "MessageId", f);
    tamper(v, &m, &m.subject, "Subject", f);
    tamper(v, &m, &m.timestamp, "Timestamp", f);
    tamper(v, &m, &m.topic_arn, "TopicArn", f);
    tamper(v, &m, &m.token, "Token", f);
    tamper(v, &m, &m.subscribe_url, "SubscribeURL", f);
    /* the first byte too, for the Message */
    m.message[0] ^= 0x20;
    verify_fails(v, &m, FP_ERR_FORBIDDEN, "signature does not verify", f);
    m.message[0] ^= 0x20;
    /* Type: a confirmation presented as the other kind of confirmation */
    if (m.type != FP_SNS_NOTIFICATION) {
      fp_sns_type t = m.type;
      m.type = t == FP_SNS_SUBSCRIPTION_CONFIRMATION ? FP_SNS_UNSUBSCRIBE_CONFIRMATION
                                                     : FP_SNS_SUBSCRIPTION_CONFIRMATION;
      verify_fails(v, &m, FP_ERR_FORBIDDEN, "signature does not verify", f);
      m.type = t;
    } else {
      /* Subject removed or added changes the string to sign */
      char *subj = m.subject;
      m.subject = subj ? NULL : strdup("added");
      verify_fails(v, &m, FP_ERR_FORBIDDEN, "signature does not verify", f);
      free(m.subject);
      m.subject = subj;
    }
    /* The unsigned UnsubscribeURL may change without affecting the signature. */
    if (m.unsubscribe_url) {
      set_field(&m.unsubscribe_url, "https://example.com/");
      verify_ok(v, &m, f);
    }
    /* A message that ends with "\n" must keep it. */
    if (m.message_len && m.message[m.message_len - 1] == '\n') {
      m.message[--m.message_len] = '\0';
      verify_fails(v, &m, FP_ERR_FORBIDDEN, "signature does not verify", f);
    }
    fp_sns_message_clear(&m);

    /* Type changed by one byte in the body: not an SNS type any more. */
    size_t len = 0;
    char *body = fp_test_read_file(path_in(dir, f), &len);
    assert_non_null(body);
    char *t = strstr(body, "Notification\"");
    if (!t) t = strstr(body, "Confirmation\"");
    assert_non_null(t);
    t[0] ^= 0x01;
    fp_diag d;
    fp_diag_clear(&d);
    assert_int_equal(fp_sns_message_parse(body, len, &m, &d), FP_ERR_EVENT);
    assert_contains(d.msg, "unknown Type");
    /* A byte of the Signature changed (still valid base64). */
    t[0] ^= 0x01;
    char *sig = strstr(body, "\"Signature\"");
    assert_non_null(sig);
    sig = strchr(sig + 11, '"') + 1;
    sig[5] = sig[5] == 'A' ? 'B' : 'A';
    parse_ok(body, len, &m);
    verify_fails(v, &m, FP_ERR_FORBIDDEN, "signature does not verify", f);
    fp_sns_message_clear(&m);
    free(body);
  }
  free_list(l, n);
  fp_sns_verifier_free(v);
}

static void test_signature_version(void **state) {
  (void)state;
  FP_TEST_NEED_CONFORMANCE(conf);
  char dir[1024];
  sns_dir(conf, dir, sizeof dir);
  fp_sns_verifier *v = real_verifier(dir);
  struct dirent **l;
  size_t n = list_json(dir, &l);
  size_t v1 = 0, v2 = 0;
  for (size_t i = 0; i < n; i++) {
    const char *f = l[i]->d_name;
    fp_sns_message m;
    parse_file(path_in(dir, f), &m);
    time_t nb, na;
    clock_inside(v, dir, &m, &nb, &na);
    int was1 = strcmp(m.signature_version, "1") == 0;
    v1 += was1;
    v2 += !was1;
    /* v1 presented as v2 and v2 as v1: the digest differs, the signature fails */
    set_field(&m.signature_version, was1 ? "2" : "1");
    verify_fails(v, &m, FP_ERR_FORBIDDEN, "signature does not verify", f);
    static const char *bad[] = {"3", "0", "", "1.0", "01", " 1", "2 ", "SHA256"};
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
      set_field(&m.signature_version, bad[b]);
      verify_fails(v, &m, FP_ERR_FORBIDDEN, "SignatureVersion", f);
      fp_diag d;
      fp_diag_clear(&d);
      assert_int_equal(fp_sns_check_format(NULL, &m, &d), FP_ERR_FORBIDDEN);
    }
    fp_sns_message_clear(&m);
  }
  assert_int_equal(v1, 7);
  assert_int_equal(v2, 4);
  free_list(l, n);
  fp_sns_verifier_free(v);
}

static void test_bad_cert_url_on_real_message(void **state) {
  (void)state;
  FP_TEST_NEED_CONFORMANCE(conf);
  char dir[1024];
  sns_dir(conf, dir, sizeof dir);
  fp_sns_verifier *v = real_verifier(dir);
  fp_sns_message m;
  parse_file(path_in(dir, "javav2_notification_sigv2.json"), &m);
  time_t nb, na;
  clock_inside(v, dir, &m, &nb, &na);
  verify_ok(v, &m, "baseline");
  /* The basename is still mapped, so these would verify if the URL rules were skipped. */
  static const url_case cases[] = {
      {"https://evil.example.com/" CERT_NEW, "not an SNS host"},
      {"http://sns.us-west-2.amazonaws.com/" CERT_NEW, "scheme must be https"},
      {"https://sns.us-west-2.amazonaws.com:443/" CERT_NEW, "explicit port"},
      {"https://a@sns.us-west-2.amazonaws.com/" CERT_NEW, "userinfo"},
      {"https://sns.us-west-2.amazonaws.com/" CERT_NEW "?x=1", "query"},
      {"https://sns.us-west-2.amazonaws.com/SimpleNotificationService-x.crt", "must end in .pem"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    set_field(&m.signing_cert_url, cases[i].url);
    verify_fails(v, &m, FP_ERR_FORBIDDEN, cases[i].rule, cases[i].url);
    fp_diag d;
    verify(v, &m, &d);
    assert_contains(d.msg, "SigningCertURL rejected");
    assert_not_contains(d.msg, "signature");
  }
  /* Another legitimate region serving the same certificate: fine (signature is not over
   * the URL). An unmapped certificate is not fetched in this verifier. */
  set_field(&m.signing_cert_url, "https://sns.eu-west-1.amazonaws.com/" CERT_NEW);
  verify_ok(v, &m, "other region");
  set_field(&m.signing_cert_url,
            "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0.pem");
  verify_fails(v, &m, FP_ERR_FORBIDDEN, "fetching is disabled", "unmapped");
  fp_sns_message_clear(&m);
  fp_sns_verifier_free(v);
}

static void test_mismatched_cert(void **state) {
  (void)state;
  FP_TEST_NEED_CONFORMANCE(conf);
  char dir[1024];
  sns_dir(conf, dir, sizeof dir);
  /* Each certificate mapped in place of the other, clock inside the substitute's
   * validity so only the signature check can fail. */
  fp_sns_verifier *v = new_verifier(true);
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_verifier_test_map_cert(v, CERT_NEW, path_in(dir, CERT_OLD), &d), FP_OK);
  assert_int_equal(fp_sns_verifier_test_map_cert(v, CERT_OLD, path_in(dir, CERT_NEW), &d), FP_OK);
  assert_int_equal(fp_sns_verifier_test_disable_fetch(v, &d), FP_OK);
  struct dirent **l;
  size_t n = list_json(dir, &l);
  for (size_t i = 0; i < n; i++) {
    fp_sns_message m;
    parse_file(path_in(dir, l[i]->d_name), &m);
    time_t nb, na;
    const char *other = strstr(m.signing_cert_url, CERT_NEW) ? CERT_OLD : CERT_NEW;
    pem_validity(path_in(dir, other), &nb, &na);
    assert_int_equal(fp_sns_verifier_test_set_clock(v, nb + (na - nb) / 2, &d), FP_OK);
    verify_fails(v, &m, FP_ERR_FORBIDDEN, "signature does not verify", l[i]->d_name);
    fp_sns_message_clear(&m);
  }
  free_list(l, n);
  /* A real AWS certificate does not verify a signature made with our key. */
  EVP_PKEY *k = EVP_RSA_gen(2048);
  assert_non_null(k);
  body_spec sp = {FP_SNS_NOTIFICATION,
                  "https://sns.us-east-1.amazonaws.com/" CERT_NEW,
                  NULL,
                  "2",
                  NULL,
                  NULL,
                  k};
  assert_int_equal(fp_sns_verifier_test_map_cert(v, CERT_NEW, path_in(dir, CERT_NEW), &d), FP_OK);
  char *body = signed_body(&sp);
  fp_sns_message m;
  parse_ok(body, strlen(body), &m);
  time_t nb, na;
  clock_inside(v, dir, &m, &nb, &na);
  verify_fails(v, &m, FP_ERR_FORBIDDEN, "signature does not verify", "our key, AWS cert");
  fp_sns_message_clear(&m);
  free(body);
  EVP_PKEY_free(k);
  fp_sns_verifier_free(v);
}

/* ---- messages signed here ----------------------------------------------------------- */

static void test_self_signed(void **state) {
  (void)state;
  signer s;
  signer_make(&s, "sns.amazonaws.com", NULL, -3600, 86400);
  fp_sns_verifier *v = new_verifier(true);
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_verifier_test_map_cert(v, TEST_CERT_NAME, s.pem, &d), FP_OK);
  assert_int_equal(fp_sns_verifier_test_disable_fetch(v, &d), FP_OK);
  static const fp_sns_type types[] = {FP_SNS_NOTIFICATION, FP_SNS_SUBSCRIPTION_CONFIRMATION,
                                      FP_SNS_UNSUBSCRIBE_CONFIRMATION};
  for (size_t t = 0; t < 3; t++) {
    for (int ver = 1; ver <= 2; ver++) {
      for (int subj = 0; subj < 2; subj++) {
        body_spec sp = {types[t],
                        TEST_CERT_URL,
                        subj ? "Subject \xe2\x9c\x93" : NULL,
                        ver == 1 ? "1" : "2",
                        NULL,
                        NULL,
                        s.key};
        char *body = signed_body(&sp);
        fp_sns_message m;
        parse_ok(body, strlen(body), &m);
        verify_ok(v, &m, body); /* wall clock: the certificate is valid now */
        tamper(v, &m, &m.message, "Message", "self-signed");
        tamper(v, &m, &m.topic_arn, "TopicArn", "self-signed");
        tamper(v, &m, &m.token, "Token", "self-signed");
        fp_sns_message_clear(&m);
        free(body);
      }
    }
  }
  fp_sns_verifier_free(v);
  signer_free(&s);
}

/* Certificates the verifier must refuse even with a matching signature. */
static void test_bad_certificates(void **state) {
  (void)state;
  typedef struct bad_cert {
    const char *cn;
    int key_kind; /* 0 RSA-2048, 1 RSA-1024, 2 EC P-256 */
    long from_s, to_s;
    const char *needle;
  } bad_cert;
  static const bad_cert cases[] = {
      {"sns.amazonaws.com.evil.com", 0, -60, 3600, "subject CN is not sns.amazonaws.com"},
      {"evil.com", 0, -60, 3600, "subject CN"},
      {"sns.amazonaws.com", 1, -60, 3600, "not RSA of at least 2048"},
      {"sns.amazonaws.com", 2, -60, 3600, "not RSA of at least 2048"},
      {"sns.amazonaws.com", 0, -7200, -3600, "expired at"},
      {"sns.amazonaws.com", 0, 3600, 7200, "is not valid before"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    EVP_PKEY *k = cases[i].key_kind == 0   ? EVP_RSA_gen(2048)
                  : cases[i].key_kind == 1 ? EVP_RSA_gen(1024)
                                           : EVP_EC_gen("P-256");
    assert_non_null(k);
    signer s;
    signer_make(&s, cases[i].cn, k, cases[i].from_s, cases[i].to_s);
    fp_sns_verifier *v = new_verifier(true);
    fp_diag d;
    fp_diag_clear(&d);
    assert_int_equal(fp_sns_verifier_test_map_cert(v, TEST_CERT_NAME, s.pem, &d), FP_OK);
    body_spec sp = {FP_SNS_NOTIFICATION, TEST_CERT_URL, NULL, "2", NULL, "hi", s.key};
    char *body = signed_body(&sp);
    fp_sns_message m;
    parse_ok(body, strlen(body), &m);
    verify_fails(v, &m, FP_ERR_FORBIDDEN, cases[i].needle, cases[i].cn);
    fp_sns_message_clear(&m);
    free(body);
    fp_sns_verifier_free(v);
    signer_free(&s);
  }
  /* A mapped file that is not a certificate, and one that does not exist. */
  char dir[64];
  fp_test_tmpdir(dir, sizeof dir);
  char junk[128];
  snprintf(junk, sizeof junk, "%s/junk.pem", dir);
  FILE *f = fopen(junk, "wb");
  assert_non_null(f);
  fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n", f);
  fclose(f);
  EVP_PKEY *k = EVP_RSA_gen(2048);
  body_spec sp = {FP_SNS_NOTIFICATION, TEST_CERT_URL, NULL, "1", NULL, "hi", k};
  char *body = signed_body(&sp);
  fp_sns_message m;
  parse_ok(body, strlen(body), &m);
  fp_sns_verifier *v = new_verifier(true);
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_verifier_test_map_cert(v, TEST_CERT_URL, junk, &d), FP_OK);
  verify_fails(v, &m, FP_ERR_FORBIDDEN, "not a PEM X.509 certificate", "junk");
  snprintf(junk + strlen(junk), sizeof junk - strlen(junk), ".missing");
  assert_int_equal(fp_sns_verifier_test_map_cert(v, TEST_CERT_URL, junk, &d), FP_OK);
  verify_fails(v, &m, FP_ERR_FORBIDDEN, "cannot open mapped test file", "missing");
  /* the refusal is remembered (no second load attempt) */
  verify_fails(v, &m, FP_ERR_FORBIDDEN, "cannot open mapped test file", "missing again");
  fp_sns_verifier_stats st;
  fp_sns_verifier_stats_get(v, &st);
  assert_int_equal(st.cert_failures, 2);
  assert_int_equal(st.cert_loads, 0);
  assert_int_equal(st.cache_hits, 1);
  assert_int_equal(st.rejected, 3);
  junk[strlen(junk) - 8] = '\0';
  unlink(junk);
  rmdir(dir);
  fp_sns_message_clear(&m);
  free(body);
  fp_sns_verifier_free(v);
  EVP_PKEY_free(k);
}

static void test_signature_base64(void **state) {
  (void)state;
  signer s;
  signer_make(&s, "sns.amazonaws.com", NULL, -60, 3600);
  fp_sns_verifier *v = new_verifier(true);
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_verifier_test_map_cert(v, TEST_CERT_NAME, s.pem, &d), FP_OK);
  body_spec sp = {FP_SNS_NOTIFICATION, TEST_CERT_URL, NULL, "2", NULL, "x", s.key};
  char *body = signed_body(&sp);
  fp_sns_message m;
  parse_ok(body, strlen(body), &m);
  verify_ok(v, &m, "base64 baseline");
  char *good = strdup(m.signature);
  size_t n = strlen(good);
  char buf[2048];
  /* whitespace, missing padding, bad alphabet, padding in the middle, URL-safe alphabet */
  snprintf(buf, sizeof buf, " %s", good);
  set_field(&m.signature, buf);
  verify_fails(v, &m, FP_ERR_FORBIDDEN, "base64", "leading space");
  snprintf(buf, sizeof buf, "%.*s\n%s", 20, good, good + 20);
  set_field(&m.signature, buf);
  verify_fails(v, &m, FP_ERR_FORBIDDEN, "base64", "newline");
  snprintf(buf, sizeof buf, "%.*s", (int)(n - 1), good);
  set_field(&m.signature, buf);
  verify_fails(v, &m, FP_ERR_FORBIDDEN, "base64", "short");
  snprintf(buf, sizeof buf, "%s", good);
  buf[10] = '-';
  set_field(&m.signature, buf);
  verify_fails(v, &m, FP_ERR_FORBIDDEN, "base64", "url-safe");
  buf[10] = '=';
  set_field(&m.signature, buf);
  verify_fails(v, &m, FP_ERR_FORBIDDEN, "base64", "inner padding");
  set_field(&m.signature, "====");
  verify_fails(v, &m, FP_ERR_FORBIDDEN, "base64", "all padding");
  memset(buf, 'A', 1400);
  buf[1400] = '\0';
  set_field(&m.signature, buf);
  verify_fails(v, &m, FP_ERR_FORBIDDEN, "base64", "too long");
  set_field(&m.signature, "AAAA");
  verify_fails(v, &m, FP_ERR_FORBIDDEN, "signature does not verify", "short signature");
  set_field(&m.signature, good);
  verify_ok(v, &m, "restored");
  free(good);
  fp_sns_message_clear(&m);
  free(body);
  fp_sns_verifier_free(v);
  signer_free(&s);
}

/* ---- test mode ---------------------------------------------------------------------- */

static void test_test_settings_refused(void **state) {
  (void)state;
  fp_sns_verifier *v = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_verifier_new(NULL, &v, &d), FP_OK); /* production defaults */
  assert_int_equal(fp_sns_verifier_test_map_cert(v, CERT_NEW, "/tmp/x.pem", &d), FP_ERR_CONFIG);
  assert_contains(d.msg, "not in test mode");
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_verifier_test_set_clock(v, 1, &d), FP_ERR_CONFIG);
  assert_contains(d.msg, "test-only");
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_verifier_test_set_ca_file(v, "/tmp/ca.pem", &d), FP_ERR_CONFIG);
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_verifier_test_allow_host(v, "127.0.0.1:1", &d), FP_ERR_CONFIG);
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_verifier_test_disable_fetch(v, &d), FP_ERR_CONFIG);
  /* nothing changed: the 127.0.0.1 authority is still refused */
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_check_cert_url(v, "https://127.0.0.1:1/x.pem", &d), FP_ERR_FORBIDDEN);
  fp_sns_verifier_free(v);
  fp_sns_verifier_free(NULL);
  fp_diag_clear(&d);
  fp_sns_verifier_opts bad = {.cache_ttl_s = -1};
  assert_int_equal(fp_sns_verifier_new(&bad, &v, &d), FP_ERR_CONFIG);
  assert_null(v);
}

/* Captures what fn writes to stderr (fd 2) into out. */
static void capture_stderr(void (*fn)(void *), void *arg, char *out, size_t outsz) {
  char path[] = "/tmp/fp-sns-stderr-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  fflush(stderr);
  int saved = dup(2);
  dup2(fd, 2);
  fn(arg);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  lseek(fd, 0, SEEK_SET);
  ssize_t n = read(fd, out, outsz - 1);
  out[n > 0 ? n : 0] = '\0';
  close(fd);
  unlink(path);
}

static void make_test_verifier(void *arg) {
  fp_sns_verifier_opts o = {.test_mode = true};
  fp_sns_verifier_new(&o, (fp_sns_verifier **)arg, NULL);
}

static void make_prod_verifier(void *arg) {
  fp_sns_verifier_new(NULL, (fp_sns_verifier **)arg, NULL);
}

static void test_test_mode_is_logged(void **state) {
  (void)state;
  fp_log_level saved = fp_log_get_level();
  fp_log_set_level(FP_LOG_WARN);
  char out[4096];
  fp_sns_verifier *v = NULL;
  capture_stderr(make_test_verifier, &v, out, sizeof out);
  assert_non_null(v);
  assert_contains(out, "warn");
  assert_contains(out, "TEST MODE");
  fp_sns_verifier_free(v);
  v = NULL;
  capture_stderr(make_prod_verifier, &v, out, sizeof out);
  assert_non_null(v);
  assert_string_equal(out, "");
  fp_sns_verifier_free(v);
  fp_log_set_level(saved);
}

/* ---- the cache ---------------------------------------------------------------------- */

typedef struct verify_job {
  fp_sns_verifier *v;
  const fp_sns_message *m;
  pthread_barrier_t *start;
  int rounds;
  int failures;
} verify_job;

static void *verify_thread(void *arg) {
  verify_job *j = arg;
  pthread_barrier_wait(j->start);
  for (int i = 0; i < j->rounds; i++) {
    fp_diag d;
    fp_diag_clear(&d);
    if (fp_sns_verify(j->v, j->m, &d) != FP_OK) j->failures++;
  }
  return NULL;
}

static void start_threads(pthread_t *th, verify_job *jobs, int nth, fp_sns_verifier *v,
                          const fp_sns_message *m, pthread_barrier_t *start, int rounds) {
  pthread_barrier_init(start, NULL, (unsigned)nth);
  for (int i = 0; i < nth; i++) {
    jobs[i] = (verify_job){v, m, start, rounds, 0};
    assert_int_equal(pthread_create(&th[i], NULL, verify_thread, &jobs[i]), 0);
  }
}

static void join_threads(pthread_t *th, int nth, pthread_barrier_t *start) {
  for (int i = 0; i < nth; i++) pthread_join(th[i], NULL);
  pthread_barrier_destroy(start);
}

/* The certificate is mapped to a FIFO, so its load blocks until this thread writes the
 * PEM: all 8 threads are inside fp_sns_verify while the one load is pending. A second
 * load would open the FIFO again and read EOF (a failure), so "one load, no failures"
 * proves the others waited for the first. */
static void test_cache_concurrent(void **state) {
  (void)state;
  signer s;
  signer_make(&s, "sns.amazonaws.com", NULL, -60, 3600);
  size_t pem_len = 0;
  char *pem = fp_test_read_file(s.pem, &pem_len);
  assert_non_null(pem);
  char fifo[160];
  snprintf(fifo, sizeof fifo, "%s/cert.fifo", s.dir);
  assert_int_equal(mkfifo(fifo, 0600), 0);
  fp_sns_verifier *v = new_verifier(true);
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_verifier_test_map_cert(v, TEST_CERT_NAME, fifo, &d), FP_OK);
  body_spec sp = {FP_SNS_NOTIFICATION, TEST_CERT_URL, "s", "1", NULL, NULL, s.key};
  char *body = signed_body(&sp);
  fp_sns_message m;
  parse_ok(body, strlen(body), &m);
  enum { THREADS = 8, ROUNDS = 50 };
  pthread_barrier_t start;
  pthread_t th[THREADS];
  verify_job jobs[THREADS];
  start_threads(th, jobs, THREADS, v, &m, &start, ROUNDS);
  struct timespec ts = {0, 300 * 1000 * 1000};
  nanosleep(&ts, NULL); /* every thread is now blocked in its first verify */
  fp_sns_verifier_stats st;
  fp_sns_verifier_stats_get(v, &st);
  assert_int_equal(st.verified + st.rejected, 0);
  assert_int_equal(st.cached, 1); /* the entry being loaded */
  int w = open(fifo, O_WRONLY);
  assert_true(w >= 0);
  assert_int_equal(write(w, pem, pem_len), (ssize_t)pem_len);
  close(w);
  join_threads(th, THREADS, &start);
  for (int i = 0; i < THREADS; i++) assert_int_equal(jobs[i].failures, 0);
  fp_sns_verifier_stats_get(v, &st);
  assert_int_equal(st.cert_loads, 1);
  assert_int_equal(st.cert_failures, 0);
  assert_int_equal(st.cache_hits, THREADS * ROUNDS - 1);
  assert_int_equal(st.verified, THREADS * ROUNDS);
  assert_int_equal(st.cached, 1);
  /* A tampered message fails in every thread; the certificate stays cached. */
  m.message[0] ^= 1;
  start_threads(th, jobs, THREADS, v, &m, &start, 10);
  join_threads(th, THREADS, &start);
  for (int i = 0; i < THREADS; i++) assert_int_equal(jobs[i].failures, 10);
  fp_sns_verifier_stats_get(v, &st);
  assert_int_equal(st.cert_loads, 1);
  assert_int_equal(st.rejected, THREADS * 10);
  fp_sns_message_clear(&m);
  free(body);
  free(pem);
  fp_sns_verifier_free(v);
  unlink(fifo);
  signer_free(&s);
}

static void test_cache_lru_and_ttl(void **state) {
  (void)state;
  signer s;
  signer_make(&s, "sns.amazonaws.com", NULL, -60, 3600);
  fp_sns_verifier_opts o = {.test_mode = true, .cache_max = 2, .cache_ttl_s = 1};
  fp_sns_verifier *v = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_verifier_new(&o, &v, &d), FP_OK);
  assert_int_equal(fp_sns_verifier_test_map_cert(v, TEST_CERT_NAME, s.pem, &d), FP_OK);
  body_spec sp = {FP_SNS_NOTIFICATION, TEST_CERT_URL, NULL, "2", NULL, NULL, s.key};
  char *body = signed_body(&sp);
  fp_sns_message m;
  parse_ok(body, strlen(body), &m);
  /* The URL is the cache key; three regions serving the same file are three entries. */
  static const char *urls[] = {"https://sns.us-east-1.amazonaws.com/" TEST_CERT_NAME,
                               "https://sns.us-east-2.amazonaws.com/" TEST_CERT_NAME,
                               "https://sns.eu-west-1.amazonaws.com/" TEST_CERT_NAME};
  fp_sns_verifier_stats st;
  for (int i = 0; i < 3; i++) {
    set_field(&m.signing_cert_url, urls[i]);
    verify_ok(v, &m, urls[i]);
  }
  fp_sns_verifier_stats_get(v, &st);
  assert_int_equal(st.cert_loads, 3);
  assert_int_equal(st.cached, 2);
  set_field(&m.signing_cert_url, urls[2]); /* most recent: hit */
  verify_ok(v, &m, "hit");
  set_field(&m.signing_cert_url, urls[1]); /* still cached: hit, becomes most recent */
  verify_ok(v, &m, "hit");
  fp_sns_verifier_stats_get(v, &st);
  assert_int_equal(st.cert_loads, 3);
  assert_int_equal(st.cache_hits, 2);
  set_field(&m.signing_cert_url, urls[0]); /* evicted first: reloaded, evicts urls[2] */
  verify_ok(v, &m, "reload");
  set_field(&m.signing_cert_url, urls[1]);
  verify_ok(v, &m, "kept");
  fp_sns_verifier_stats_get(v, &st);
  assert_int_equal(st.cert_loads, 4);
  assert_int_equal(st.cache_hits, 3);
  assert_int_equal(st.cached, 2);
  /* TTL 1 s: after it, the same URL is loaded again. */
  struct timespec ts = {1, 200 * 1000 * 1000};
  nanosleep(&ts, NULL);
  verify_ok(v, &m, "after ttl");
  fp_sns_verifier_stats_get(v, &st);
  assert_int_equal(st.cert_loads, 5);
  /* Test settings empty the cache. */
  assert_int_equal(fp_sns_verifier_test_set_clock(v, time(NULL), &d), FP_OK);
  fp_sns_verifier_stats_get(v, &st);
  assert_int_equal(st.cached, 0);
  fp_sns_message_clear(&m);
  free(body);
  fp_sns_verifier_free(v);
  signer_free(&s);
}

/* ---- the HTTPS fetch path against a local TLS server -------------------------------- */

static const char *server_py =
    "import http.server, ssl, sys, os, time, threading\n"
    "d = sys.argv[1]\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def log_message(self, *a): pass\n"
    "    def reply(self, code, body, extra=()):\n"
    "        self.send_response(code)\n"
    "        for k, v in extra: self.send_header(k, v)\n"
    "        self.send_header('Content-Length', str(len(body)))\n"
    "        self.end_headers()\n"
    "        self.wfile.write(body)\n"
    "    def do_GET(self):\n"
    "        p, _, q = self.path.partition('?')\n"
    "        if p == '/" TEST_CERT_NAME
    "':\n"
    "            self.reply(200, open(os.path.join(d, 'signer.pem'), 'rb').read())\n"
    "        elif p == '/big.pem': self.reply(200, b'A' * (100 * 1024))\n"
    "        elif p == '/redirect.pem':\n"
    "            self.reply(302, b'', [('Location', '/" TEST_CERT_NAME
    "')])\n"
    "        elif p == '/err500.pem': self.reply(500, b'oops')\n"
    "        elif p == '/err503.pem': self.reply(503, b'busy')\n"
    "        elif p == '/slow.pem':\n"
    "            time.sleep(3 * float(os.environ.get('FP_TEST_TIME_SCALE', '1')))\n"
    "            self.reply(200, b'late')\n"
    "        elif p == '/' and 'fail=500' in q: self.reply(500, b'no')\n"
    "        elif p == '/' and 'Action=ConfirmSubscription' in q:\n"
    "            self.reply(200, b'<ConfirmSubscriptionResponse xmlns=\"http://sns.amazonaws."
    "com/doc/2010-03-31/\"><ConfirmSubscriptionResult><SubscriptionArn>\\n arn:aws:sns:"
    "us-east-1:123456789012:fp-test:0001 </SubscriptionArn></ConfirmSubscriptionResult>"
    "</ConfirmSubscriptionResponse>')\n"
    "        else: self.reply(404, b'not found')\n"
    "srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)\n"
    "srv.daemon_threads = True\n"
    "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
    "ctx.load_cert_chain(os.path.join(d, 'server.pem'), os.path.join(d, 'server.key'))\n"
    "srv.socket = ctx.wrap_socket(srv.socket, server_side=True)\n"
    "def watch():\n"
    "    sys.stdin.read()\n"
    "    os._exit(0)\n"
    "threading.Thread(target=watch, daemon=True).start()\n"
    "print(srv.server_address[1], flush=True)\n"
    "srv.serve_forever()\n";

typedef struct tls_fixture {
  char dir[64];
  char ca[128], files[5][128];
  int nfiles;
  signer s;
  pid_t pid;
  int stdin_fd; /* closing it makes the server exit even if we die first */
  int port;
  char host[64];
} tls_fixture;

static const char *python_path(void) {
  static const char *cands[] = {"/usr/bin/python3", "/usr/local/bin/python3"};
  for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++)
    if (access(cands[i], X_OK) == 0) return cands[i];
  return NULL;
}

static const char *fx_file(tls_fixture *fx, const char *name) {
  char tmp[sizeof fx->files[0]];
  if (snprintf(tmp, sizeof tmp, "%s/%s", fx->dir, name) >= (int)sizeof tmp) fail_msg("path");
  char *p = fx->files[fx->nfiles++];
  memcpy(p, tmp, sizeof tmp);
  return p;
}

static int tls_setup(void **state) {
  tls_fixture *fx = calloc(1, sizeof *fx);
  if (!fx) return -1;
  fx->pid = -1;
  fx->stdin_fd = -1;
  *state = fx;
  const char *py = python_path();
  if (!py) return 0; /* the test skips visibly */
  fp_test_tmpdir(fx->dir, sizeof fx->dir);
  if (!fx->dir[0]) return -1;
  /* CA and server certificate for 127.0.0.1; the signing certificate the server hands out. */
  EVP_PKEY *cak = EVP_EC_gen("P-256"), *srvk = EVP_EC_gen("P-256");
  X509 *ca = make_cert(cak, "fp test CA", NULL, NULL, -60, 3600, 1, NULL);
  X509 *srv = make_cert(srvk, "127.0.0.1", ca, cak, -60, 3600, 0, "IP:127.0.0.1");
  const char *ca_path = fx_file(fx, "ca.pem");
  memcpy(fx->ca, ca_path, strlen(ca_path) + 1); /* both are 128-byte buffers */
  write_cert(fx->ca, ca);
  write_cert(fx_file(fx, "server.pem"), srv);
  write_key(fx_file(fx, "server.key"), srvk);
  X509_free(ca);
  X509_free(srv);
  EVP_PKEY_free(cak);
  EVP_PKEY_free(srvk);
  signer_make(&fx->s, "sns.amazonaws.com", NULL, -60, 3600);
  write_cert(fx_file(fx, "signer.pem"), fx->s.cert);

  int in[2], out[2];
  if (pipe(in) || pipe(out)) return -1;
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[0]), close(in[1]), close(out[0]), close(out[1]);
    execl(py, py, "-c", server_py, fx->dir, (char *)NULL);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  fx->pid = pid;
  fx->stdin_fd = in[1];
  char line[32] = {0};
  size_t got = 0;
  struct pollfd pfd = {out[0], POLLIN, 0};
  while (got < sizeof line - 1 && !strchr(line, '\n') && poll(&pfd, 1, 15000) > 0) {
    ssize_t r = read(out[0], line + got, sizeof line - 1 - got);
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(out[0]);
  fx->port = (int)strtol(line, NULL, 10);
  if (fx->port <= 0) return -1;
  snprintf(fx->host, sizeof fx->host, "127.0.0.1:%d", fx->port);
  return 0;
}

static int tls_teardown(void **state) {
  tls_fixture *fx = *state;
  if (!fx) return 0;
  if (fx->stdin_fd >= 0) close(fx->stdin_fd);
  if (fx->pid > 0) {
    kill(fx->pid, SIGTERM);
    waitpid(fx->pid, NULL, 0);
  }
  if (fx->dir[0]) {
    for (int i = 0; i < fx->nfiles; i++) unlink(fx->files[i]);
    signer_free(&fx->s);
    rmdir(fx->dir);
  }
  free(fx);
  return 0;
}

static fp_sns_verifier *tls_verifier(tls_fixture *fx, long timeout_ms, int with_ca,
                                     const char *allow) {
  fp_sns_verifier_opts o = {.test_mode = true,
                            .fetch_timeout_ms = timeout_ms * fp_test_time_scale()};
  fp_sns_verifier *v = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_verifier_new(&o, &v, &d), FP_OK);
  if (with_ca) assert_int_equal(fp_sns_verifier_test_set_ca_file(v, fx->ca, &d), FP_OK);
  if (allow) assert_int_equal(fp_sns_verifier_test_allow_host(v, allow, &d), FP_OK);
  return v;
}

static void url_on(tls_fixture *fx, const char *path, char *out, size_t outsz) {
  snprintf(out, outsz, "https://%s%s", fx->host, path);
}

static int closed_port(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(s >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
  socklen_t al = sizeof a;
  getsockname(s, (struct sockaddr *)&a, &al);
  close(s);
  return ntohs(a.sin_port);
}

static void test_https_fetch(void **state) {
  tls_fixture *fx = *state;
  if (fx->pid <= 0) {
    fprintf(stderr, "SKIP: no python3 for the local HTTPS server; fetch test skipped\n");
    skip();
  }
  char url[256];
  url_on(fx, "/" TEST_CERT_NAME, url, sizeof url);
  body_spec sp = {FP_SNS_NOTIFICATION, url, NULL, "2", NULL, NULL, fx->s.key};
  char *body = signed_body(&sp);
  fp_sns_message m;
  parse_ok(body, strlen(body), &m);
  free(body);

  /* Fetched over TLS from the local server, verified, cached. */
  fp_sns_verifier *v = tls_verifier(fx, 2000, 1, fx->host);
  verify_ok(v, &m, "fetched");
  verify_ok(v, &m, "cached");
  fp_sns_verifier_stats st;
  fp_sns_verifier_stats_get(v, &st);
  assert_int_equal(st.cert_loads, 1);
  assert_int_equal(st.cache_hits, 1);

  /* Status codes and sizes. */
  static const struct {
    const char *path;
    fp_err want;
    const char *needle;
  } cases[] = {
      {"/missing.pem", FP_ERR_FORBIDDEN, "HTTP 404"},
      {"/redirect.pem", FP_ERR_FORBIDDEN, "redirect"},
      {"/big.pem", FP_ERR_FORBIDDEN, "larger than 65536 bytes"},
      {"/err500.pem", FP_ERR_TRANSIENT, "HTTP 500"},
      {"/err503.pem", FP_ERR_TRANSIENT, "HTTP 503"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    url_on(fx, cases[i].path, url, sizeof url);
    set_field(&m.signing_cert_url, url);
    verify_fails(v, &m, cases[i].want, cases[i].needle, cases[i].path);
  }
  /* Transient failures are not remembered: the 503 is fetched again. */
  fp_sns_verifier_stats_get(v, &st);
  uint64_t failures = st.cert_failures;
  verify_fails(v, &m, FP_ERR_TRANSIENT, "HTTP 503", "again");
  fp_sns_verifier_stats_get(v, &st);
  assert_int_equal(st.cert_failures, failures + 1);
  fp_sns_verifier_free(v);

  /* Timeout → transient. */
  v = tls_verifier(fx, 700, 1, fx->host);
  url_on(fx, "/slow.pem", url, sizeof url);
  set_field(&m.signing_cert_url, url);
  verify_fails(v, &m, FP_ERR_TRANSIENT, "Timeout", "slow");
  fp_sns_verifier_free(v);

  /* The server's CA is not trusted without the test CA bundle → transient TLS failure. */
  url_on(fx, "/" TEST_CERT_NAME, url, sizeof url);
  set_field(&m.signing_cert_url, url);
  v = tls_verifier(fx, 2000, 0, fx->host);
  verify_fails(v, &m, FP_ERR_TRANSIENT, "SSL", "untrusted");
  fp_sns_verifier_free(v);

  /* Without the allowed test host the URL rules refuse 127.0.0.1 before any fetch. */
  v = tls_verifier(fx, 2000, 1, NULL);
  verify_fails(v, &m, FP_ERR_FORBIDDEN, "SigningCertURL rejected", "no allow-host");
  fp_sns_verifier_stats_get(v, &st);
  assert_int_equal(st.cert_loads + st.cert_failures, 0);
  fp_sns_verifier_free(v);

  /* Nothing listening → transient. */
  char host[64];
  snprintf(host, sizeof host, "127.0.0.1:%d", closed_port());
  v = tls_verifier(fx, 2000, 1, host);
  snprintf(url, sizeof url, "https://%s/" TEST_CERT_NAME, host);
  set_field(&m.signing_cert_url, url);
  verify_fails(v, &m, FP_ERR_TRANSIENT, "connect", "closed port");
  fp_sns_verifier_free(v);
  fp_sns_message_clear(&m);
}

static void test_confirm_subscription(void **state) {
  tls_fixture *fx = *state;
  if (fx->pid <= 0) {
    fprintf(stderr, "SKIP: no python3 for the local HTTPS server; confirm test skipped\n");
    skip();
  }
  char cert_url[256], sub_url[256];
  url_on(fx, "/" TEST_CERT_NAME, cert_url, sizeof cert_url);
  url_on(fx,
         "/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:123456789012:fp-test"
         "&Token=abc123",
         sub_url, sizeof sub_url);
  body_spec sp = {
      FP_SNS_SUBSCRIPTION_CONFIRMATION, cert_url, NULL, "1", sub_url, "confirm me", fx->s.key};
  char *body = signed_body(&sp);
  fp_sns_message m;
  parse_ok(body, strlen(body), &m);
  free(body);
  fp_sns_verifier *v = tls_verifier(fx, 2000, 1, fx->host);
  verify_ok(v, &m, "confirmation");
  const char *allowed[] = {"arn:aws:sns:us-east-1:123456789012:fp-test"};
  assert_true(fp_sns_topic_allowed(m.topic_arn, allowed, 1));
  char *arn = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  fp_err e = fp_sns_confirm_subscription(v, &m, &arn, &d);
  if (e) print_error("confirm: %s\n", d.msg);
  assert_int_equal(e, FP_OK);
  assert_non_null(arn);
  assert_string_equal(arn, "arn:aws:sns:us-east-1:123456789012:fp-test:0001");
  free(arn);
  /* server error → transient; URL rules → forbidden; wrong type → event */
  url_on(fx, "/?Action=ConfirmSubscription&fail=500", sub_url, sizeof sub_url);
  set_field(&m.subscribe_url, sub_url);
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_confirm_subscription(v, &m, &arn, &d), FP_ERR_TRANSIENT);
  assert_null(arn);
  url_on(fx, "/?Action=Unsubscribe", sub_url, sizeof sub_url);
  set_field(&m.subscribe_url, sub_url);
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_confirm_subscription(v, &m, &arn, &d), FP_ERR_FORBIDDEN);
  assert_contains(d.msg, "Action=ConfirmSubscription");
  m.type = FP_SNS_UNSUBSCRIBE_CONFIRMATION;
  fp_diag_clear(&d);
  assert_int_equal(fp_sns_confirm_subscription(v, &m, &arn, &d), FP_ERR_EVENT);
  fp_sns_verifier_free(v);
  fp_sns_message_clear(&m);
}

int main(void) {
  fp_log_set_level(FP_LOG_ERROR); /* test-mode warnings are checked in one test */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_real_messages),
      cmocka_unit_test(test_string_to_sign_exact),
      cmocka_unit_test(test_parse_errors),
      cmocka_unit_test(test_cert_url_rules),
      cmocka_unit_test(test_subscribe_url_rules),
      cmocka_unit_test(test_real_messages_verify),
      cmocka_unit_test(test_real_messages_expired),
      cmocka_unit_test(test_real_messages_tampered),
      cmocka_unit_test(test_signature_version),
      cmocka_unit_test(test_bad_cert_url_on_real_message),
      cmocka_unit_test(test_mismatched_cert),
      cmocka_unit_test(test_self_signed),
      cmocka_unit_test(test_bad_certificates),
      cmocka_unit_test(test_signature_base64),
      cmocka_unit_test(test_test_settings_refused),
      cmocka_unit_test(test_test_mode_is_logged),
      cmocka_unit_test(test_cache_concurrent),
      cmocka_unit_test(test_cache_lru_and_ttl),
      cmocka_unit_test_setup_teardown(test_https_fetch, tls_setup, tls_teardown),
      cmocka_unit_test_setup_teardown(test_confirm_subscription, tls_setup, tls_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
