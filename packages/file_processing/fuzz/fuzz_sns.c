/* fuzz_sns.c — libFuzzer harness for SNS message parsing, the string to sign, the URL
 * rules and signature verification against a fixed test certificate. Built by CMake
 * (FP_FUZZ=ON; the replay binary in every build); run with `make fuzz` (fuzz/README.md).
 *
 * At start-up it makes an RSA key and a self-signed CN=sns.amazonaws.com certificate
 * (a temp file, mapped by basename in a test-mode verifier that never fetches). For every
 * input it checks the contract, beyond memory safety:
 *   - parse fails with d.code == the result and a zeroed message, or yields the fields
 *     its Type requires;
 *   - the string to sign starts with "Message\n", ends with "Type\n<Type>\n" and is longer
 *     than the values it holds;
 *   - an accepted SigningCertURL / SubscribeURL really is https on an SNS host;
 *   - verify never succeeds for the input as given unless its signature is genuine (it
 *     cannot be: the key is fresh), and always succeeds once the harness re-signs the
 *     string to sign with the test key; a one-byte change to Message then fails. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fp/fp_log.h"
#include "fp/fp_sns.h"

#define FUZZ_CERT "SimpleNotificationService-fuzz.pem"
#define FUZZ_URL "https://sns.us-east-1.amazonaws.com/" FUZZ_CERT

static fp_sns_verifier *V;
static EVP_PKEY *K;
static char cert_path[512];

static void remove_cert_file(void) {
  unlink(cert_path);
}

static void die(const char *what) {
  fprintf(stderr, "fuzz_sns: %s\n", what);
  abort();
}

static void make_cert_file(const char *path) {
  K = EVP_RSA_gen(2048);
  X509 *x = X509_new();
  if (!K || !x) die("keygen");
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -86400);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 3650);
  X509_set_pubkey(x, K);
  X509_NAME *nm = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"sns.amazonaws.com", -1,
                             -1, 0);
  X509_set_issuer_name(x, nm);
  if (X509_sign(x, K, EVP_sha256()) <= 0) die("X509_sign");
  FILE *f = fopen(path, "wb");
  if (!f || PEM_write_X509(f, x) != 1) die("write cert");
  fclose(f);
  X509_free(x);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fp_log_set_level(FP_LOG_OFF);
  const char *tmp = getenv("TMPDIR");
  snprintf(cert_path, sizeof cert_path, "%s/fuzz-sns-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  int fd = mkstemp(cert_path);
  if (fd < 0) die("mkstemp");
  close(fd);
  make_cert_file(cert_path);
  fp_sns_verifier_opts o = {.test_mode = true};
  fp_diag d;
  fp_diag_clear(&d);
  if (fp_sns_verifier_new(&o, &V, &d) ||
      fp_sns_verifier_test_map_cert(V, FUZZ_CERT, cert_path, &d) ||
      fp_sns_verifier_test_disable_fetch(V, &d))
    die(d.msg);
  atexit(remove_cert_file);
  return 0;
}

static char *sign_b64(const char *alg, const char *data, size_t n) {
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  const EVP_MD *md = strcmp(alg, "2") == 0 ? EVP_sha256() : EVP_sha1();
  size_t sl = 0;
  unsigned char sig[1024];
  if (!c || EVP_DigestSignInit(c, NULL, md, NULL, K) != 1 ||
      EVP_DigestSign(c, NULL, &sl, (const unsigned char *)data, n) != 1 || sl > sizeof sig ||
      EVP_DigestSign(c, sig, &sl, (const unsigned char *)data, n) != 1)
    die("sign");
  EVP_MD_CTX_free(c);
  char *out = malloc(4 * ((sl + 2) / 3) + 1);
  if (!out) die("oom");
  EVP_EncodeBlock((unsigned char *)out, sig, (int)sl);
  return out;
}

static int starts(const char *s, const char *p) {
  return strncmp(s, p, strlen(p)) == 0;
}

/* The authority of an https URL (up to the first '/', '?' or '#') must be an SNS host:
 * no userinfo, no port, sns. ... .amazonaws.com[.cn]. */
static int sns_authority(const char *u) {
  if (!starts(u, "https://sns.")) return 0;
  const char *a = u + 8;
  size_t n = strcspn(a, "/?#");
  if (memchr(a, '@', n) || memchr(a, ':', n) || a[n] != '/') return 0;
  const char *c1 = ".amazonaws.com", *c2 = ".amazonaws.com.cn";
  size_t l1 = strlen(c1), l2 = strlen(c2);
  return (n > l1 && memcmp(a + n - l1, c1, l1) == 0) || (n > l2 && memcmp(a + n - l2, c2, l2) == 0);
}

/* An accepted URL must be https on an SNS host, whatever else it holds. */
static void check_urls(const char *u) {
  fp_diag d;
  fp_diag_clear(&d);
  fp_err e = fp_sns_check_cert_url(NULL, u, &d);
  if (e && (e != FP_ERR_FORBIDDEN || d.code != e)) die("cert url: bad error");
  if (!e) {
    size_t n = strlen(u);
    if (!sns_authority(u) || n < 4 || strcmp(u + n - 4, ".pem") != 0 || strpbrk(u, "?#@\\ "))
      die("cert url accepted");
  }
  fp_diag_clear(&d);
  e = fp_sns_check_subscribe_url(NULL, u, &d);
  if (e && (e != FP_ERR_FORBIDDEN || d.code != e)) die("subscribe url: bad error");
  if (!e) {
    int action =
        strstr(u, "?Action=ConfirmSubscription") || strstr(u, "&Action=ConfirmSubscription");
    if (!sns_authority(u) || !action || strpbrk(u, "#\\ ")) die("subscribe url accepted");
  }
}

static void check_sts(const fp_sns_message *m) {
  char *sts = NULL;
  size_t n = 0;
  fp_diag d;
  fp_diag_clear(&d);
  if (fp_sns_string_to_sign(m, &sts, &n, &d)) die("string to sign failed on a parsed message");
  char tail[64];
  snprintf(tail, sizeof tail, "Type\n%s\n", fp_sns_type_name(m->type));
  size_t tl = strlen(tail);
  if (!starts(sts, "Message\n") || n < tl || memcmp(sts + n - tl, tail, tl) != 0 ||
      n < m->message_len + strlen(m->message_id) + strlen(m->topic_arn) ||
      memcmp(sts + 8, m->message, m->message_len) != 0)
    die("string to sign shape");
  free(sts);
}

/* Re-signed with the test key and pointed at the test certificate: must verify; then a
 * changed Message byte must not. */
static void check_resigned(fp_sns_message *m) {
  if (strcmp(m->signature_version, "1") != 0 && strcmp(m->signature_version, "2") != 0) return;
  char *sts = NULL;
  size_t n = 0;
  fp_diag d;
  fp_diag_clear(&d);
  if (fp_sns_string_to_sign(m, &sts, &n, &d)) die("sts");
  free(m->signature);
  m->signature = sign_b64(m->signature_version, sts, n);
  free(sts);
  free(m->signing_cert_url);
  m->signing_cert_url = strdup(FUZZ_URL);
  if (!m->signing_cert_url) die("oom");
  fp_diag_clear(&d);
  if (fp_sns_verify(V, m, &d) != FP_OK) {
    fprintf(stderr, "resigned message refused: %s\n", d.msg);
    abort();
  }
  if (m->message_len) {
    m->message[m->message_len / 2] ^= 0x01;
    fp_diag_clear(&d);
    if (fp_sns_verify(V, m, &d) != FP_ERR_FORBIDDEN) die("tampered message accepted");
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* 1. The input as a URL. */
  if (size < 4096) {
    char *u = malloc(size + 1);
    if (!u) return 0;
    memcpy(u, data, size);
    u[size] = '\0';
    check_urls(u);
    free(u);
  }
  /* 2. The input as an SNS body. */
  fp_sns_message m;
  fp_diag d;
  fp_diag_clear(&d);
  fp_err e = fp_sns_message_parse((const char *)data, size, &m, &d);
  if (e) {
    if (d.code != e || m.message || m.message_id || m.type) die("parse error contract");
    return 0;
  }
  int conf = m.type != FP_SNS_NOTIFICATION;
  if (!m.message_id || !m.topic_arn || !m.message || !m.timestamp || !m.signature_version ||
      !m.signature || !m.signing_cert_url || (conf && (!m.subscribe_url || !m.token)) ||
      (!conf && (m.subscribe_url || m.token)) || strlen(m.message) != m.message_len)
    die("parsed message misses a required field");
  check_sts(&m);
  check_urls(m.signing_cert_url);
  if (m.subscribe_url) check_urls(m.subscribe_url);
  fp_diag_clear(&d);
  fp_err fe = fp_sns_check_format(V, &m, &d);
  fp_diag_clear(&d);
  e = fp_sns_verify(V, &m, &d);
  if (e == FP_OK) die("a fuzzed signature verified against a fresh key");
  if (e != FP_ERR_FORBIDDEN || d.code != e) die("verify: unexpected error kind");
  if (fe != FP_OK && fe != FP_ERR_FORBIDDEN) die("check_format: unexpected error kind");
  check_resigned(&m);
  fp_sns_message_clear(&m);
  return 0;
}
