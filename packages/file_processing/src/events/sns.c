/* sns.c — SNS HTTP messages: parse (jansson), string to sign, URL rules, and signature
 * verification (OpenSSL) with a locked LRU cache of signing certificates fetched over
 * HTTPS (a tiny libcurl GET, this module's own adapter: errors become FP_ERR_TRANSIENT or
 * FP_ERR_FORBIDDEN here). See include/fp/fp_sns.h for the contract.
 *
 * Cache protocol: one mutex guards the list, the stats and the test settings. A miss
 * inserts a LOADING entry and loads outside the lock; other threads asking for the same
 * URL take a reference and wait on the condition variable, so a URL is loaded once. An
 * entry unlinked while referenced is freed by its last holder. */
#include "fp/fp_sns.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp/fp_buf.h"
#include "fp/fp_log.h"

#define SNS_URL_MAX 2048     /* longer SigningCertURL / SubscribeURL: refused */
#define SNS_SIG_B64_MAX 1368 /* base64 of an 8192-bit RSA signature */
#define SNS_STS_MAX (FP_SNS_MAX_BODY + 4096)
#define SNS_NEG_TTL_S 60.0 /* refused certificates are remembered this long */
#define SNS_MIN_RSA_BITS 2048
#define SNS_CERT_CN "sns.amazonaws.com"
#define SNS_SHOW_MAX 160 /* bytes of a URL quoted in a message */

/* ---- small helpers ------------------------------------------------------------------ */

static char *dupn(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (!p) return NULL;
  if (n) memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

static char *dups(const char *s) {
  return s ? dupn(s, strlen(s)) : NULL;
}

/* Copies s for a diag message: printable ASCII kept, other bytes '?', cut with "...". */
static void shown(const char *s, char *out, size_t outsz) {
  size_t j = 0, i = 0;
  if (!s) s = "(null)";
  for (; s[i] && j + 4 < outsz && i < SNS_SHOW_MAX; i++) {
    unsigned char c = (unsigned char)s[i];
    out[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
  }
  if (s[i] && j + 4 <= outsz) out[j++] = '.', out[j++] = '.', out[j++] = '.';
  out[j] = '\0';
}

static double mono_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fmt_time(time_t t, char *out, size_t outsz) {
  struct tm tm;
  if (!gmtime_r(&t, &tm) || !strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm))
    snprintf(out, outsz, "%lld", (long long)t);
}

const char *fp_sns_type_name(fp_sns_type t) {
  switch (t) {
    case FP_SNS_NOTIFICATION: return "Notification";
    case FP_SNS_SUBSCRIPTION_CONFIRMATION: return "SubscriptionConfirmation";
    case FP_SNS_UNSUBSCRIBE_CONFIRMATION: return "UnsubscribeConfirmation";
  }
  return "?";
}

/* ---- parsing ------------------------------------------------------------------------ */

enum { F_ALL = 1, F_CONF = 2, F_NOTIF_OPT = 3 }; /* when a field is required / kept */

typedef struct sns_field {
  const char *name;
  size_t off; /* of the char * in fp_sns_message */
  int when;
  int may_be_empty;
} sns_field;

#define SF(n, member, when, empty) \
  { n, offsetof(fp_sns_message, member), when, empty }
static const sns_field sns_fields[] = {
    SF("MessageId", message_id, F_ALL, 0),
    SF("TopicArn", topic_arn, F_ALL, 0),
    SF("Message", message, F_ALL, 1),
    SF("Timestamp", timestamp, F_ALL, 0),
    SF("SignatureVersion", signature_version, F_ALL, 0),
    SF("Signature", signature, F_ALL, 0),
    SF("SigningCertURL", signing_cert_url, F_ALL, 0),
    SF("SubscribeURL", subscribe_url, F_CONF, 0),
    SF("Token", token, F_CONF, 0),
    SF("Subject", subject, F_NOTIF_OPT, 1),
    SF("UnsubscribeURL", unsubscribe_url, F_NOTIF_OPT, 0),
};
#undef SF

static fp_err field_fail(fp_diag *d, fp_err code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static fp_err field_fail(fp_diag *d, fp_err code, const char *field, const char *fmt, ...) {
  if (!d || d->code != FP_OK) return code;
  va_list ap;
  va_start(ap, fmt);
  fp_diag_vset(d, code, fmt, ap);
  va_end(ap);
  char key[FP_DIAG_KEY_MAX];
  snprintf(key, sizeof key, "$%s%s", field ? "." : "", field ? field : "");
  fp_diag_key(d, key);
  return code;
}

static fp_err parse_type(json_t *root, fp_sns_type *t, fp_diag *d) {
  json_t *v = json_object_get(root, "Type");
  if (!v || json_is_null(v))
    return field_fail(d, FP_ERR_EVENT, "Type", "SNS message: missing required field \"Type\"");
  if (!json_is_string(v))
    return field_fail(d, FP_ERR_EVENT, "Type", "SNS message: field \"Type\" must be a string");
  static const fp_sns_type all[] = {FP_SNS_NOTIFICATION, FP_SNS_SUBSCRIPTION_CONFIRMATION,
                                    FP_SNS_UNSUBSCRIBE_CONFIRMATION};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
    if (strcmp(json_string_value(v), fp_sns_type_name(all[i])) == 0) {
      *t = all[i];
      return FP_OK;
    }
  }
  char s[96];
  shown(json_string_value(v), s, sizeof s);
  return field_fail(d, FP_ERR_EVENT, "Type",
                    "SNS message: unknown Type \"%s\" (expected Notification, "
                    "SubscriptionConfirmation or UnsubscribeConfirmation)",
                    s);
}

static fp_err parse_field(json_t *root, const sns_field *f, fp_sns_message *m, fp_diag *d) {
  int conf = m->type != FP_SNS_NOTIFICATION;
  int keep = f->when == F_ALL || (f->when == F_CONF && conf) || (f->when == F_NOTIF_OPT && !conf);
  if (!keep) return FP_OK;
  int required = f->when != F_NOTIF_OPT;
  const char *tn = fp_sns_type_name(m->type);
  json_t *v = json_object_get(root, f->name);
  if (!v || json_is_null(v)) {
    if (!required) return FP_OK;
    return field_fail(d, FP_ERR_EVENT, f->name, "SNS %s: missing required field \"%s\"", tn,
                      f->name);
  }
  if (!json_is_string(v))
    return field_fail(d, FP_ERR_EVENT, f->name, "SNS %s: field \"%s\" must be a string", tn,
                      f->name);
  size_t n = json_string_length(v);
  if (n == 0 && !f->may_be_empty)
    return field_fail(d, FP_ERR_EVENT, f->name, "SNS %s: field \"%s\" must not be empty", tn,
                      f->name);
  const char *s = json_string_value(v);
  if (memchr(s, '\0', n)) /* jansson refuses \u0000 without JSON_ALLOW_NUL; be sure */
    return field_fail(d, FP_ERR_EVENT, f->name, "SNS %s: field \"%s\" contains a NUL byte", tn,
                      f->name);
  char *copy = dupn(s, n);
  if (!copy) return fp_diag_set(d, FP_ERR_NOMEM, "out of memory parsing an SNS message");
  *(char **)((char *)m + f->off) = copy;
  if (f->off == offsetof(fp_sns_message, message)) m->message_len = n;
  return FP_OK;
}

fp_err fp_sns_message_parse(const char *body, size_t len, fp_sns_message *out, fp_diag *d) {
  if (!out || (!body && len)) return fp_diag_set(d, FP_ERR_INVAL, "fp_sns_message_parse: NULL");
  memset(out, 0, sizeof *out);
  if (len > FP_SNS_MAX_BODY)
    return fp_diag_set(d, FP_ERR_LIMIT, "SNS message body of %zu bytes exceeds the %u-byte limit",
                       len, FP_SNS_MAX_BODY);
  json_error_t je;
  json_t *root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &je);
  if (!root) {
    fp_diag_set(d, FP_ERR_JSON, "SNS message: malformed JSON at line %d, column %d: %s", je.line,
                je.column, je.text);
    if (d && d->code == FP_ERR_JSON && je.position >= 0) {
      d->byte_offset = (uint64_t)je.position;
      d->has_offset = 1;
    }
    return FP_ERR_JSON;
  }
  fp_err e = FP_OK;
  if (!json_is_object(root))
    e = field_fail(d, FP_ERR_EVENT, NULL, "SNS message: expected a JSON object");
  if (!e) e = parse_type(root, &out->type, d);
  for (size_t i = 0; !e && i < sizeof sns_fields / sizeof sns_fields[0]; i++)
    e = parse_field(root, &sns_fields[i], out, d);
  json_decref(root);
  if (e) fp_sns_message_clear(out);
  return e;
}

void fp_sns_message_clear(fp_sns_message *m) {
  if (!m) return;
  for (size_t i = 0; i < sizeof sns_fields / sizeof sns_fields[0]; i++)
    free(*(char **)((char *)m + sns_fields[i].off));
  memset(m, 0, sizeof *m);
}

/* ---- string to sign ----------------------------------------------------------------- */

static fp_err put_pair(fp_buf *b, const char *k, const char *v, size_t vlen) {
  fp_err e = fp_buf_puts(b, k);
  if (!e) e = fp_buf_putc(b, '\n');
  if (!e) e = fp_buf_append(b, v, vlen);
  if (!e) e = fp_buf_putc(b, '\n');
  return e;
}

#define PUT(k, s) (e ? e : (!(s) ? FP_ERR_INVAL : put_pair(&b, k, s, strlen(s))))

fp_err fp_sns_string_to_sign(const fp_sns_message *m, char **out, size_t *outlen, fp_diag *d) {
  if (!m || !out) return fp_diag_set(d, FP_ERR_INVAL, "fp_sns_string_to_sign: NULL");
  *out = NULL;
  if (outlen) *outlen = 0;
  if (!m->message) return fp_diag_set(d, FP_ERR_INVAL, "SNS string to sign: no Message");
  fp_buf b;
  fp_buf_init(&b, SNS_STS_MAX);
  fp_err e = FP_OK;
  e = PUT("Message", m->message); /* strlen: the value holds no NUL (message_len is a hint) */
  e = PUT("MessageId", m->message_id);
  if (m->type == FP_SNS_NOTIFICATION) {
    if (m->subject) e = PUT("Subject", m->subject);
    e = PUT("Timestamp", m->timestamp);
  } else if (m->type == FP_SNS_SUBSCRIPTION_CONFIRMATION ||
             m->type == FP_SNS_UNSUBSCRIBE_CONFIRMATION) {
    e = PUT("SubscribeURL", m->subscribe_url);
    e = PUT("Timestamp", m->timestamp);
    e = PUT("Token", m->token);
  } else if (!e) {
    e = FP_ERR_INVAL;
  }
  e = PUT("TopicArn", m->topic_arn);
  e = PUT("Type", fp_sns_type_name(m->type));
  if (e) {
    fp_buf_free(&b);
    if (e == FP_ERR_INVAL)
      return fp_diag_set(d, FP_ERR_INVAL, "SNS string to sign: a signed field is missing");
    return fp_diag_set(d, e, "SNS string to sign: %s", fp_strerror(e));
  }
  size_t n = b.len;
  *out = fp_buf_take(&b);
  if (!*out) return fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  if (outlen) *outlen = n;
  return FP_OK;
}
#undef PUT

/* ---- URL rules ---------------------------------------------------------------------- */

typedef struct url_parts {
  const char *auth, *path, *query;
  size_t auth_len, path_len, query_len;
  int has_query;
} url_parts;

static int ends_with(const char *s, size_t n, const char *suf) {
  size_t k = strlen(suf);
  return n >= k && memcmp(s + n - k, suf, k) == 0;
}

/* ^sns\.[a-zA-Z0-9-]{3,}\.amazonaws\.com(\.cn)?$ */
static int sns_host_ok(const char *h, size_t n) {
  if (n < 4 || memcmp(h, "sns.", 4) != 0) return 0;
  h += 4, n -= 4;
  size_t mid;
  if (ends_with(h, n, ".amazonaws.com.cn"))
    mid = n - strlen(".amazonaws.com.cn");
  else if (ends_with(h, n, ".amazonaws.com"))
    mid = n - strlen(".amazonaws.com");
  else
    return 0;
  if (mid < 3) return 0;
  for (size_t i = 0; i < mid; i++) {
    char c = h[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
      return 0;
  }
  return 1;
}

static int path_char_ok(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '~' || c == '/' || c == '-';
}

/* Splits an https URL and applies the rules shared by both kinds. Returns NULL when they
 * hold, else the rule that failed (static text). allow: test authority or NULL. */
static const char *url_common(const char *url, const char *allow, url_parts *p) {
  memset(p, 0, sizeof *p);
  if (!url || !*url) return "is empty";
  size_t n = strlen(url);
  if (n > SNS_URL_MAX) return "is longer than 2048 bytes";
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)url[i];
    if (c <= 0x20 || c >= 0x7f || c == '\\')
      return "contains a space, control, backslash or non-ASCII byte";
  }
  if (strncmp(url, "https://", 8) != 0) return "scheme must be https";
  if (strchr(url, '#')) return "must not have a fragment (#)";
  const char *a = url + 8;
  size_t alen = strcspn(a, "/?");
  p->auth = a, p->auth_len = alen;
  if (alen == 0) return "has no host";
  if (memchr(a, '@', alen)) return "must not contain userinfo (user@)";
  int allowed = allow && strlen(allow) == alen && memcmp(a, allow, alen) == 0;
  if (!allowed) {
    const char *colon = memchr(a, ':', alen);
    size_t hlen = colon ? (size_t)(colon - a) : alen;
    if (!sns_host_ok(a, hlen)) return "host is not an SNS host (sns.<region>.amazonaws.com[.cn])";
    if (colon) return "must not carry an explicit port";
  }
  const char *rest = a + alen;
  p->path = rest;
  p->path_len = strcspn(rest, "?");
  if (rest[p->path_len] == '?') {
    p->has_query = 1;
    p->query = rest + p->path_len + 1;
    p->query_len = strlen(p->query);
  }
  if (p->path_len == 0 || p->path[0] != '/') return "has no path";
  for (size_t i = 0; i < p->path_len; i++)
    if (!path_char_ok(p->path[i])) return "path holds a byte outside [A-Za-z0-9._~/-]";
  return NULL;
}

static const char *cert_url_rule(const char *url, const char *allow) {
  url_parts p;
  const char *why = url_common(url, allow, &p);
  if (why) return why;
  if (p.has_query) return "must not have a query (?)";
  if (!ends_with(p.path, p.path_len, ".pem")) return "path must end in .pem";
  return NULL;
}

static const char *subscribe_url_rule(const char *url, const char *allow) {
  url_parts p;
  const char *why = url_common(url, allow, &p);
  if (why) return why;
  if (!p.has_query) return "has no query (Action=ConfirmSubscription expected)";
  int actions = 0, confirm = 0;
  const char *q = p.query, *end = p.query + p.query_len;
  while (q <= end) {
    size_t k = strcspn(q, "&");
    if (k >= 7 && memcmp(q, "Action=", 7) == 0) {
      actions++;
      if (k == strlen("Action=ConfirmSubscription") &&
          memcmp(q, "Action=ConfirmSubscription", k) == 0)
        confirm = 1;
    }
    q += k + 1;
  }
  if (actions != 1 || !confirm) return "query must hold exactly one Action=ConfirmSubscription";
  return NULL;
}

/* The test authority, copied under the lock (v may be NULL). */
static void allow_host_copy(const fp_sns_verifier *v, char *out, size_t outsz);

static fp_err url_check(const fp_sns_verifier *v, const char *url, int cert, fp_diag *d) {
  char allow[256];
  allow_host_copy(v, allow, sizeof allow);
  const char *why = cert ? cert_url_rule(url, allow[0] ? allow : NULL)
                         : subscribe_url_rule(url, allow[0] ? allow : NULL);
  if (!why) return FP_OK;
  char s[SNS_SHOW_MAX + 8];
  shown(url, s, sizeof s);
  return fp_diag_set(d, FP_ERR_FORBIDDEN, "SNS %s rejected: %s (\"%s\")",
                     cert ? "SigningCertURL" : "SubscribeURL", why, s);
}

fp_err fp_sns_check_cert_url(const fp_sns_verifier *v, const char *url, fp_diag *d) {
  return url_check(v, url, 1, d);
}

fp_err fp_sns_check_subscribe_url(const fp_sns_verifier *v, const char *url, fp_diag *d) {
  return url_check(v, url, 0, d);
}

bool fp_sns_topic_allowed(const char *topic_arn, const char *const *allowed, size_t n) {
  if (n == 0) return true;
  if (!topic_arn || !allowed) return false;
  for (size_t i = 0; i < n; i++)
    if (allowed[i] && strcmp(allowed[i], topic_arn) == 0) return true;
  return false;
}

/* ---- signature format --------------------------------------------------------------- */

static const EVP_MD *sig_md(const char *ver, const char **name) {
  if (ver && strcmp(ver, "1") == 0) return *name = "RSA-SHA1", EVP_sha1();
  if (ver && strcmp(ver, "2") == 0) return *name = "RSA-SHA256", EVP_sha256();
  return NULL;
}

static int b64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

/* Strict base64 (RFC 4648 alphabet, padded, no whitespace). *out owned (free). */
static fp_err b64_decode(const char *s, unsigned char **out, size_t *outlen, fp_diag *d) {
  *out = NULL;
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n % 4 != 0 || n > SNS_SIG_B64_MAX)
    return fp_diag_set(d, FP_ERR_FORBIDDEN,
                       "SNS Signature rejected: not strict base64 (length %zu is not a "
                       "non-zero multiple of 4 up to %d)",
                       n, SNS_SIG_B64_MAX);
  size_t pad = s[n - 1] == '=' ? (s[n - 2] == '=' ? 2 : 1) : 0;
  for (size_t i = 0; i < n - pad; i++)
    if (!b64_char(s[i]))
      return fp_diag_set(d, FP_ERR_FORBIDDEN,
                         "SNS Signature rejected: not strict base64 (byte %zu)", i);
  unsigned char *buf = malloc(n / 4 * 3 + 1);
  if (!buf) return fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  int r = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)n);
  if (r < 0 || (size_t)r < pad) {
    free(buf);
    ERR_clear_error();
    return fp_diag_set(d, FP_ERR_FORBIDDEN, "SNS Signature rejected: not strict base64");
  }
  *out = buf;
  *outlen = (size_t)r - pad;
  return FP_OK;
}

fp_err fp_sns_check_format(const fp_sns_verifier *v, const fp_sns_message *m, fp_diag *d) {
  if (!m) return fp_diag_set(d, FP_ERR_INVAL, "fp_sns_check_format: NULL");
  const char *alg;
  if (!sig_md(m->signature_version, &alg)) {
    char s[40];
    shown(m->signature_version, s, sizeof s);
    return fp_diag_set(d, FP_ERR_FORBIDDEN,
                       "SNS SignatureVersion \"%s\" rejected: only 1 (RSA-SHA1) and 2 "
                       "(RSA-SHA256) are accepted",
                       s);
  }
  fp_err e = fp_sns_check_cert_url(v, m->signing_cert_url, d);
  if (e) return e;
  unsigned char *sig;
  size_t siglen;
  if ((e = b64_decode(m->signature, &sig, &siglen, d))) return e;
  free(sig);
  return FP_OK;
}

/* ---- HTTPS GET (this module's libcurl adapter) -------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;
static void curl_init_once(void) {
  curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

typedef struct get_opts {
  const char *ca_file; /* NULL = system store */
  int no_proxy;        /* test authority in use: never go through a proxy */
  long timeout_ms;
  size_t max;
} get_opts;

typedef struct get_sink {
  fp_buf *body;
  int too_big, nomem;
} get_sink;

static size_t on_body(char *p, size_t sz, size_t nm, void *ud) {
  get_sink *s = ud;
  size_t n = sz * nm;
  fp_err e = fp_buf_append(s->body, p, n);
  if (e == FP_ERR_LIMIT) s->too_big = 1;
  if (e == FP_ERR_NOMEM) s->nomem = 1;
  return e ? 0 : n;
}

static fp_err curl_fail(CURLcode rc, const get_sink *s, const char *errbuf, const char *what,
                        const char *url, size_t max, fp_diag *d) {
  if (rc == CURLE_FILESIZE_EXCEEDED || s->too_big)
    return fp_diag_set(d, FP_ERR_FORBIDDEN, "SNS %s %s rejected: larger than %zu bytes", what, url,
                       max);
  if (rc == CURLE_OUT_OF_MEMORY || s->nomem) return fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT)
    return fp_diag_set(d, FP_ERR_FORBIDDEN, "SNS %s %s rejected by libcurl: %s", what, url,
                       curl_easy_strerror(rc));
  return fp_diag_set(d, FP_ERR_TRANSIENT, "SNS %s fetch from %s failed: %s%s%s", what, url,
                     curl_easy_strerror(rc), errbuf[0] ? ": " : "", errbuf);
}

/* GET url into body (capped at o->max). 200 → FP_OK; see the header for the mapping. */
static fp_err https_get(const char *url, const get_opts *o, const char *what, fp_buf *body,
                        fp_diag *d) {
  pthread_once(&curl_once, curl_init_once);
  if (curl_init_rc != CURLE_OK)
    return fp_diag_set(d, FP_ERR_INTERNAL, "libcurl initialisation failed: %s",
                       curl_easy_strerror(curl_init_rc));
  CURL *h = curl_easy_init();
  if (!h) return fp_diag_set(d, FP_ERR_NOMEM, "out of memory (curl_easy_init)");
  char s[SNS_SHOW_MAX + 8], errbuf[CURL_ERROR_SIZE];
  shown(url, s, sizeof s);
  errbuf[0] = '\0';
  get_sink sink = {.body = body};
  int ok = curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK &&
#if LIBCURL_VERSION_NUM >= 0x075500
           curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https") == CURLE_OK &&
#endif
           curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_USERAGENT, "file-processing-sns") == CURLE_OK &&
           (!o->ca_file || curl_easy_setopt(h, CURLOPT_CAINFO, o->ca_file) == CURLE_OK) &&
           (!o->no_proxy || curl_easy_setopt(h, CURLOPT_NOPROXY, "*") == CURLE_OK);
  if (!ok) {
    curl_easy_cleanup(h);
    return fp_diag_set(d, FP_ERR_INTERNAL, "libcurl refused an option for the SNS %s fetch", what);
  }
  fp_debug("SNS: GET %s (%s)", s, what);
  CURLcode rc = curl_easy_perform(h);
  long status = 0;
  if (rc == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(h);
  if (rc != CURLE_OK) return curl_fail(rc, &sink, errbuf, what, s, o->max, d);
  if (status == 200) return FP_OK;
  if (status == 429 || status >= 500)
    return fp_diag_set(d, FP_ERR_TRANSIENT, "SNS %s fetch from %s failed: HTTP %ld", what, s,
                       status);
  if (status >= 300 && status < 400)
    return fp_diag_set(d, FP_ERR_FORBIDDEN,
                       "SNS %s fetch from %s refused: HTTP %ld redirect "
                       "(redirects are not followed)",
                       what, s, status);
  return fp_diag_set(d, FP_ERR_FORBIDDEN, "SNS %s fetch from %s refused: HTTP %ld", what, s,
                     status);
}

/* ---- certificates ------------------------------------------------------------------- */

typedef struct cert_key {
  EVP_PKEY *pkey; /* owned reference */
  time_t not_before, not_after;
} cert_key;

static int asn1_to_time(const ASN1_TIME *a, time_t *out) {
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  if (!a || ASN1_TIME_to_tm(a, &tm) != 1) return 0;
  *out = timegm(&tm);
  return 1;
}

/* Every subject CN must be sns.amazonaws.com, and there must be one. */
static int cn_ok(X509 *x) {
  X509_NAME *nm = X509_get_subject_name(x);
  int idx = -1, seen = 0;
  while ((idx = X509_NAME_get_index_by_NID(nm, NID_commonName, idx)) >= 0) {
    const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, idx));
    size_t want = strlen(SNS_CERT_CN);
    if (!s || (size_t)ASN1_STRING_length(s) != want ||
        memcmp(ASN1_STRING_get0_data(s), SNS_CERT_CN, want) != 0)
      return 0;
    seen = 1;
  }
  return seen;
}

/* PEM bytes → public key and validity period. src names the origin in messages. */
static fp_err cert_parse(const char *pem, size_t n, const char *src, cert_key *out, fp_diag *d) {
  memset(out, 0, sizeof *out);
  if (n > (size_t)0x7fffffff) return fp_diag_set(d, FP_ERR_FORBIDDEN, "certificate too large");
  BIO *b = BIO_new_mem_buf(pem, (int)n);
  if (!b) return fp_diag_set(d, FP_ERR_NOMEM, "out of memory (BIO)");
  X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
  BIO_free(b);
  fp_err e = FP_OK;
  if (!x) {
    e = fp_diag_set(d, FP_ERR_FORBIDDEN,
                    "SNS signing certificate from %s rejected: not a PEM X.509 certificate", src);
  } else if (!cn_ok(x)) {
    e = fp_diag_set(d, FP_ERR_FORBIDDEN,
                    "SNS signing certificate from %s rejected: subject CN is not " SNS_CERT_CN,
                    src);
  } else if (!asn1_to_time(X509_get0_notBefore(x), &out->not_before) ||
             !asn1_to_time(X509_get0_notAfter(x), &out->not_after)) {
    e = fp_diag_set(d, FP_ERR_FORBIDDEN,
                    "SNS signing certificate from %s rejected: unreadable validity period", src);
  } else {
    out->pkey = X509_get_pubkey(x);
    if (!out->pkey || EVP_PKEY_get_base_id(out->pkey) != EVP_PKEY_RSA ||
        EVP_PKEY_get_bits(out->pkey) < SNS_MIN_RSA_BITS) {
      EVP_PKEY_free(out->pkey);
      out->pkey = NULL;
      e = fp_diag_set(d, FP_ERR_FORBIDDEN,
                      "SNS signing certificate from %s rejected: key is not RSA of at least %d "
                      "bits",
                      src, SNS_MIN_RSA_BITS);
    }
  }
  X509_free(x);
  ERR_clear_error();
  return e;
}

static fp_err read_mapped(const char *path, size_t max, fp_buf *body, fp_diag *d) {
  int err = 0;
  fp_err e = fp_buf_read_file(body, path, &err);
  if (e == FP_ERR_LIMIT)
    return fp_diag_set(d, FP_ERR_FORBIDDEN, "SNS signing certificate %s larger than %zu bytes",
                       path, max);
  if (e == FP_ERR_NOMEM) return fp_diag_set(d, e, "reading %s: %s", path, fp_strerror(e));
  if (e)
    return fp_diag_set(d, FP_ERR_FORBIDDEN,
                       "SNS signing certificate: cannot open mapped test file %s: %s", path,
                       err ? strerror(err) : fp_strerror(e));
  return FP_OK;
}

/* ---- the verifier ------------------------------------------------------------------- */

typedef enum { CE_LOADING, CE_READY, CE_FAILED } ce_state;

typedef struct cert_entry {
  struct cert_entry *prev, *next;
  char *url;
  ce_state state;
  int linked;
  unsigned refs; /* loader + waiting threads */
  cert_key key;  /* READY */
  double stamp;  /* mono_now() when loaded or failed */
  fp_err err;    /* FAILED */
  char msg[FP_DIAG_MSG_MAX];
} cert_entry;

typedef struct map_item {
  char *key; /* full URL or basename */
  char *path;
  int full;
} map_item;

struct fp_sns_verifier {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  fp_sns_verifier_opts o; /* defaults resolved */
  cert_entry *head, *tail;
  size_t n;
  fp_sns_verifier_stats st;
  /* test-only settings */
  map_item *map;
  size_t nmap;
  int clock_set;
  time_t clock;
  char *ca_file;
  char *allow_host;
  int no_fetch;
};

/* The mutex is logically mutable: readers with a const verifier still lock it. */
static void lock(const fp_sns_verifier *v) {
  pthread_mutex_lock((pthread_mutex_t *)&v->mu);
}
static void unlock(const fp_sns_verifier *v) {
  pthread_mutex_unlock((pthread_mutex_t *)&v->mu);
}

static void allow_host_copy(const fp_sns_verifier *v, char *out, size_t outsz) {
  out[0] = '\0';
  if (!v) return;
  lock(v);
  if (v->allow_host) snprintf(out, outsz, "%s", v->allow_host);
  unlock(v);
}

fp_err fp_sns_verifier_new(const fp_sns_verifier_opts *o, fp_sns_verifier **out, fp_diag *d) {
  if (!out) return fp_diag_set(d, FP_ERR_INVAL, "fp_sns_verifier_new: out is NULL");
  *out = NULL;
  if (o && (o->cache_ttl_s < 0 || o->fetch_timeout_ms < 0))
    return fp_diag_set(d, FP_ERR_CONFIG, "SNS verifier: negative cache TTL or fetch timeout");
  fp_sns_verifier *v = calloc(1, sizeof *v);
  if (!v) return fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  if (o) v->o = *o;
  if (!v->o.cache_max) v->o.cache_max = 16;
  if (!v->o.cache_ttl_s) v->o.cache_ttl_s = 3600;
  if (!v->o.fetch_timeout_ms) v->o.fetch_timeout_ms = 5000;
  if (!v->o.cert_max_bytes) v->o.cert_max_bytes = 64 * 1024;
  if (pthread_mutex_init(&v->mu, NULL) != 0) {
    free(v);
    return fp_diag_set(d, FP_ERR_INTERNAL, "SNS verifier: pthread_mutex_init failed");
  }
  if (pthread_cond_init(&v->cv, NULL) != 0) {
    pthread_mutex_destroy(&v->mu);
    free(v);
    return fp_diag_set(d, FP_ERR_INTERNAL, "SNS verifier: pthread_cond_init failed");
  }
  if (v->o.test_mode)
    fp_warn(
        "SNS verifier in TEST MODE: test-only certificate, clock and TLS settings are "
        "accepted; never run this in production");
  *out = v;
  return FP_OK;
}

static void entry_free(cert_entry *e) {
  EVP_PKEY_free(e->key.pkey);
  free(e->url);
  free(e);
}

/* Under the lock: takes e out of the list without freeing it. */
static void entry_detach(fp_sns_verifier *v, cert_entry *e) {
  if (!e->linked) return;
  if (e->prev)
    e->prev->next = e->next;
  else
    v->head = e->next;
  if (e->next)
    e->next->prev = e->prev;
  else
    v->tail = e->prev;
  e->prev = e->next = NULL;
  e->linked = 0;
  v->n--;
}

/* Under the lock. The entry is freed now, or by its last holder. */
static void entry_unlink(fp_sns_verifier *v, cert_entry *e) {
  entry_detach(v, e);
  if (e->refs == 0) entry_free(e);
}

static void entry_push_front(fp_sns_verifier *v, cert_entry *e) {
  e->prev = NULL;
  e->next = v->head;
  if (v->head) v->head->prev = e;
  v->head = e;
  if (!v->tail) v->tail = e;
  e->linked = 1;
  v->n++;
}

/* Under the lock: drops least recently used entries beyond cache_max (never one that is
 * still loading: its loader and waiters hold it). */
static void cache_evict(fp_sns_verifier *v) {
  cert_entry *e = v->tail;
  while (v->n > v->o.cache_max && e) {
    cert_entry *prev = e->prev;
    if (e->state != CE_LOADING) entry_unlink(v, e);
    e = prev;
  }
}

static void cache_clear(fp_sns_verifier *v) {
  cert_entry *e = v->head;
  while (e) {
    cert_entry *next = e->next;
    if (e->state != CE_LOADING) entry_unlink(v, e);
    e = next;
  }
}

void fp_sns_verifier_free(fp_sns_verifier *v) {
  if (!v) return;
  while (v->head) entry_unlink(v, v->head);
  for (size_t i = 0; i < v->nmap; i++) {
    free(v->map[i].key);
    free(v->map[i].path);
  }
  free(v->map);
  free(v->ca_file);
  free(v->allow_host);
  pthread_cond_destroy(&v->cv);
  pthread_mutex_destroy(&v->mu);
  free(v);
}

void fp_sns_verifier_stats_get(fp_sns_verifier *v, fp_sns_verifier_stats *out) {
  if (!out) return;
  memset(out, 0, sizeof *out);
  if (!v) return;
  lock(v);
  *out = v->st;
  out->cached = v->n;
  unlock(v);
}

/* ---- loading a certificate ---------------------------------------------------------- */

/* What a load needs, copied under the lock so it runs without it. */
typedef struct load_plan {
  char *url, *mapped, *ca_file; /* owned; mapped and ca_file may be NULL */
  int no_fetch, no_proxy;
  long timeout_ms;
  size_t max;
} load_plan;

static void plan_free(load_plan *p) {
  free(p->url);
  free(p->mapped);
  free(p->ca_file);
}

/* Under the lock: the mapped file for url (full URL first, then basename) or NULL. */
static const char *map_find(const fp_sns_verifier *v, const char *url) {
  const char *slash = strrchr(url, '/');
  const char *base = slash ? slash + 1 : url;
  for (size_t i = 0; i < v->nmap; i++)
    if (v->map[i].full && strcmp(v->map[i].key, url) == 0) return v->map[i].path;
  for (size_t i = 0; i < v->nmap; i++)
    if (!v->map[i].full && strcmp(v->map[i].key, base) == 0) return v->map[i].path;
  return NULL;
}

static int plan_make(const fp_sns_verifier *v, const char *url, load_plan *p) {
  memset(p, 0, sizeof *p);
  const char *mapped = url ? map_find(v, url) : NULL;
  p->no_fetch = v->no_fetch;
  p->no_proxy = v->allow_host != NULL;
  p->timeout_ms = v->o.fetch_timeout_ms;
  p->max = v->o.cert_max_bytes;
  p->url = dups(url);
  p->mapped = dups(mapped);
  p->ca_file = dups(v->ca_file);
  return (!url || p->url) && (!mapped || p->mapped) && (!v->ca_file || p->ca_file);
}

static fp_err cert_load(const load_plan *p, cert_key *out, fp_diag *d) {
  fp_buf body;
  fp_buf_init(&body, p->max);
  char src[SNS_SHOW_MAX + 8];
  shown(p->mapped ? p->mapped : p->url, src, sizeof src);
  fp_err e;
  if (p->mapped) {
    e = read_mapped(p->mapped, p->max, &body, d);
  } else if (p->no_fetch) {
    e = fp_diag_set(d, FP_ERR_FORBIDDEN,
                    "SNS signing certificate %s is not mapped and fetching is disabled (test "
                    "mode)",
                    src);
  } else {
    get_opts o = {p->ca_file, p->no_proxy, p->timeout_ms, p->max};
    e = https_get(p->url, &o, "signing certificate", &body, d);
  }
  if (!e) e = cert_parse(body.data ? body.data : "", body.len, src, out, d);
  fp_buf_free(&body);
  return e;
}

/* Under the lock: the outcome of a finished entry for one caller. */
static fp_err entry_result(const cert_entry *e, cert_key *out, fp_diag *d) {
  if (e->state == CE_READY) {
    if (EVP_PKEY_up_ref(e->key.pkey) != 1)
      return fp_diag_set(d, FP_ERR_INTERNAL, "EVP_PKEY_up_ref");
    *out = e->key;
    return FP_OK;
  }
  return fp_diag_set(d, e->err, "%s", e->msg);
}

/* The key for url from the cache, loading it (once, whoever asks) on a miss. out->pkey
 * is an owned reference on success. */
static fp_err cert_get(fp_sns_verifier *v, const char *url, cert_key *out, fp_diag *d) {
  memset(out, 0, sizeof *out);
  lock(v);
  double now = mono_now();
  cert_entry *e = v->head;
  while (e && strcmp(e->url, url) != 0) e = e->next;
  if (e && ((e->state == CE_READY && now - e->stamp > (double)v->o.cache_ttl_s) ||
            (e->state == CE_FAILED && now - e->stamp > SNS_NEG_TTL_S))) {
    entry_unlink(v, e);
    e = NULL;
  }
  if (e) {
    e->refs++;
    while (e->state == CE_LOADING) pthread_cond_wait(&v->cv, &v->mu);
    e->refs--;
    v->st.cache_hits++;
    fp_err r = entry_result(e, out, d);
    if (e->linked && v->head != e) {
      entry_detach(v, e);
      entry_push_front(v, e);
    } else if (!e->linked && e->refs == 0) {
      entry_free(e);
    }
    unlock(v);
    return r;
  }

  cert_entry *ne = calloc(1, sizeof *ne);
  if (ne) ne->url = dups(url);
  if (!ne || !ne->url) {
    free(ne);
    unlock(v);
    return fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  }
  ne->state = CE_LOADING;
  ne->refs = 1;
  entry_push_front(v, ne);
  cache_evict(v);
  load_plan plan;
  int planned = plan_make(v, url, &plan);
  unlock(v);

  fp_diag ld;
  fp_diag_clear(&ld);
  cert_key k;
  memset(&k, 0, sizeof k);
  fp_err r = planned ? cert_load(&plan, &k, &ld) : fp_diag_set(&ld, FP_ERR_NOMEM, "out of memory");
  plan_free(&plan);

  lock(v);
  ne->stamp = mono_now();
  if (!r) {
    ne->state = CE_READY;
    ne->key = k;
    v->st.cert_loads++;
  } else {
    ne->state = CE_FAILED;
    ne->err = r;
    snprintf(ne->msg, sizeof ne->msg, "%s", ld.msg);
    v->st.cert_failures++;
    if (r != FP_ERR_FORBIDDEN) entry_detach(v, ne); /* transient: not remembered */
  }
  pthread_cond_broadcast(&v->cv);
  r = entry_result(ne, out, d);
  ne->refs--;
  if (!ne->linked && ne->refs == 0) entry_free(ne);
  unlock(v);
  return r;
}

/* ---- verify ------------------------------------------------------------------------- */

static fp_err verify_impl(fp_sns_verifier *v, const fp_sns_message *m, fp_diag *d) {
  fp_err e = fp_sns_check_format(v, m, d);
  if (e) return e;
  const char *alg = "";
  const EVP_MD *md = sig_md(m->signature_version, &alg);
  unsigned char *sig = NULL;
  size_t siglen = 0;
  char *sts = NULL;
  size_t stslen = 0;
  cert_key k = {0};
  EVP_MD_CTX *ctx = NULL;
  char url[SNS_SHOW_MAX + 8];
  shown(m->signing_cert_url, url, sizeof url);
  if ((e = b64_decode(m->signature, &sig, &siglen, d))) goto out;
  if ((e = fp_sns_string_to_sign(m, &sts, &stslen, d))) goto out;
  if ((e = cert_get(v, m->signing_cert_url, &k, d))) goto out;

  lock(v);
  time_t now = v->clock_set ? v->clock : time(NULL);
  unlock(v);
  char t1[32], t2[32];
  fmt_time(now, t2, sizeof t2);
  if (now < k.not_before || now > k.not_after) {
    int early = now < k.not_before;
    fmt_time(early ? k.not_before : k.not_after, t1, sizeof t1);
    e = fp_diag_set(d, FP_ERR_FORBIDDEN, "SNS signing certificate %s %s %s (now %s)", url,
                    early ? "is not valid before" : "expired at", t1, t2);
    goto out;
  }
  ctx = EVP_MD_CTX_new();
  if (!ctx) {
    e = fp_diag_set(d, FP_ERR_NOMEM, "out of memory (EVP_MD_CTX)");
    goto out;
  }
  if (EVP_DigestVerifyInit(ctx, NULL, md, NULL, k.pkey) != 1 ||
      EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)sts, stslen) != 1)
    e = fp_diag_set(d, FP_ERR_FORBIDDEN,
                    "SNS signature does not verify (SignatureVersion %s, %s, certificate %s)",
                    m->signature_version, alg, url);
out:
  ERR_clear_error();
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(k.pkey);
  free(sig);
  free(sts);
  return e;
}

fp_err fp_sns_verify(fp_sns_verifier *v, const fp_sns_message *m, fp_diag *d) {
  if (!v || !m) return fp_diag_set(d, FP_ERR_INVAL, "fp_sns_verify: NULL");
  fp_err e = verify_impl(v, m, d);
  lock(v);
  if (e)
    v->st.rejected++;
  else
    v->st.verified++;
  unlock(v);
  return e;
}

/* ---- subscription confirmation ------------------------------------------------------ */

/* Text of the first <tag>...</tag> in body, trimmed; owned, NULL when absent. */
static char *xml_text(const char *body, const char *tag) {
  char open[64], close[64];
  snprintf(open, sizeof open, "<%s>", tag);
  snprintf(close, sizeof close, "</%s>", tag);
  const char *s = strstr(body, open);
  if (!s) return NULL;
  s += strlen(open);
  const char *end = strstr(s, close);
  if (!end) return NULL;
  while (s < end && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')) s++;
  while (end > s && (end[-1] == ' ' || end[-1] == '\n' || end[-1] == '\r' || end[-1] == '\t'))
    end--;
  return end > s ? dupn(s, (size_t)(end - s)) : NULL;
}

fp_err fp_sns_confirm_subscription(fp_sns_verifier *v, const fp_sns_message *m,
                                   char **subscription_arn, fp_diag *d) {
  if (subscription_arn) *subscription_arn = NULL;
  if (!v || !m) return fp_diag_set(d, FP_ERR_INVAL, "fp_sns_confirm_subscription: NULL");
  if (m->type != FP_SNS_SUBSCRIPTION_CONFIRMATION)
    return fp_diag_set(d, FP_ERR_EVENT, "SNS %s is not a SubscriptionConfirmation",
                       fp_sns_type_name(m->type));
  fp_err e = fp_sns_check_subscribe_url(v, m->subscribe_url, d);
  if (e) return e;
  lock(v);
  load_plan plan;
  int planned = plan_make(v, NULL, &plan);
  unlock(v);
  if (!planned) {
    plan_free(&plan);
    return fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  }
  fp_buf body;
  fp_buf_init(&body, plan.max);
  get_opts o = {plan.ca_file, plan.no_proxy, plan.timeout_ms, plan.max};
  e = https_get(m->subscribe_url, &o, "SubscribeURL", &body, d);
  plan_free(&plan);
  if (!e && subscription_arn && body.data)
    *subscription_arn = xml_text(body.data, "SubscriptionArn");
  fp_buf_free(&body);
  return e;
}

/* ---- test-only settings ------------------------------------------------------------- */

static fp_err test_guard(fp_sns_verifier *v, const char *what, fp_diag *d) {
  if (!v) return fp_diag_set(d, FP_ERR_INVAL, "SNS verifier: NULL");
  if (!v->o.test_mode)
    return fp_diag_set(d, FP_ERR_CONFIG,
                       "SNS verifier: %s is a test-only setting; refused because the verifier "
                       "is not in test mode",
                       what);
  return FP_OK;
}

fp_err fp_sns_verifier_test_map_cert(fp_sns_verifier *v, const char *url_or_basename,
                                     const char *pem_path, fp_diag *d) {
  fp_err e = test_guard(v, "mapping a SigningCertURL to a file", d);
  if (e) return e;
  if (!url_or_basename || !*url_or_basename || !pem_path || !*pem_path)
    return fp_diag_set(d, FP_ERR_INVAL, "SNS test certificate mapping: empty URL or path");
  char *k = dups(url_or_basename), *p = dups(pem_path);
  map_item *nm = NULL;
  lock(v);
  size_t i = 0;
  while (i < v->nmap && strcmp(v->map[i].key, url_or_basename) != 0) i++;
  if (i == v->nmap) nm = realloc(v->map, (v->nmap + 1) * sizeof *nm);
  if (!k || !p || (i == v->nmap && !nm)) {
    unlock(v);
    free(k);
    free(p);
    return fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  }
  if (i == v->nmap) {
    v->map = nm;
    v->nmap++;
  } else {
    free(v->map[i].key);
    free(v->map[i].path);
  }
  v->map[i] = (map_item){k, p, strstr(k, "://") != NULL};
  cache_clear(v);
  unlock(v);
  fp_warn("SNS verifier (test mode): SigningCertURL %s is read from %s", url_or_basename, pem_path);
  return FP_OK;
}

fp_err fp_sns_verifier_test_set_clock(fp_sns_verifier *v, time_t now, fp_diag *d) {
  fp_err e = test_guard(v, "a fixed clock", d);
  if (e) return e;
  lock(v);
  v->clock_set = 1;
  v->clock = now;
  cache_clear(v);
  unlock(v);
  char t[32];
  fmt_time(now, t, sizeof t);
  fp_warn("SNS verifier (test mode): certificate validity is checked at %s", t);
  return FP_OK;
}

static fp_err set_str(fp_sns_verifier *v, char **slot, const char *val, fp_diag *d) {
  char *copy = dups(val);
  if (!copy) return fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  lock(v);
  free(*slot);
  *slot = copy;
  cache_clear(v);
  unlock(v);
  return FP_OK;
}

fp_err fp_sns_verifier_test_set_ca_file(fp_sns_verifier *v, const char *ca_pem_path, fp_diag *d) {
  fp_err e = test_guard(v, "a CA bundle", d);
  if (e) return e;
  if (!ca_pem_path || !*ca_pem_path)
    return fp_diag_set(d, FP_ERR_INVAL, "SNS test CA bundle: empty path");
  if ((e = set_str(v, &v->ca_file, ca_pem_path, d))) return e;
  fp_warn("SNS verifier (test mode): HTTPS fetches trust only the CA bundle %s", ca_pem_path);
  return FP_OK;
}

fp_err fp_sns_verifier_test_allow_host(fp_sns_verifier *v, const char *host_port, fp_diag *d) {
  fp_err e = test_guard(v, "an extra allowed host", d);
  if (e) return e;
  size_t n = host_port ? strlen(host_port) : 0;
  if (n == 0 || n > 255 || strcspn(host_port, "/?#@\\ \t\r\n") != n)
    return fp_diag_set(d, FP_ERR_INVAL, "SNS test host: expected host[:port]");
  if ((e = set_str(v, &v->allow_host, host_port, d))) return e;
  fp_warn("SNS verifier (test mode): URLs on %s are accepted as SNS URLs", host_port);
  return FP_OK;
}

fp_err fp_sns_verifier_test_disable_fetch(fp_sns_verifier *v, fp_diag *d) {
  fp_err e = test_guard(v, "disabling certificate fetches", d);
  if (e) return e;
  lock(v);
  v->no_fetch = 1;
  cache_clear(v);
  unlock(v);
  fp_warn("SNS verifier (test mode): unmapped certificates are refused, never fetched");
  return FP_OK;
}

/* ---- test settings from the environment (listener and SQS consumer) ------------------- */

static const char *const TEST_KEYS[] = {"FP_SNS_TEST_CERT_MAP", "FP_SNS_TEST_CLOCK",
                                        "FP_SNS_TEST_CA_FILE", "FP_SNS_TEST_ALLOW_HOST",
                                        "FP_SNS_TEST_DISABLE_FETCH"};

static fp_err cfg_flag(const fp_config *c, const char *key, bool *inout, fp_diag *d) {
  int v = *inout;
  fp_err e = fp_config_bool(c, key, v, &v, d);
  if (!e) *inout = v != 0;
  return e;
}

fp_err fp_sns_test_settings_from_config(const fp_config *c, fp_sns_test_settings *out,
                                        fp_diag *d) {
  memset(out, 0, sizeof *out);
  fp_err e = cfg_flag(c, "FP_SNS_TEST_MODE", &out->test_mode, d);
  for (size_t i = 0; !e && i < sizeof TEST_KEYS / sizeof *TEST_KEYS; i++)
    if (fp_config_get(c, TEST_KEYS[i]) && !out->test_mode)
      e = fp_diag_set(d, FP_ERR_CONFIG,
                      "%s is a test-only setting and is refused unless FP_SNS_TEST_MODE=1",
                      TEST_KEYS[i]);
  if (e || !out->test_mode) return e;
  out->cert_map = fp_config_str(c, "FP_SNS_TEST_CERT_MAP", NULL);
  out->ca_file = fp_config_str(c, "FP_SNS_TEST_CA_FILE", NULL);
  out->allow_host = fp_config_str(c, "FP_SNS_TEST_ALLOW_HOST", NULL);
  e = cfg_flag(c, "FP_SNS_TEST_DISABLE_FETCH", &out->disable_fetch, d);
  const char *v = fp_config_str(c, "FP_SNS_TEST_CLOCK", NULL);
  if (!e && v) {
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end || n < 0 || n > 253402300799LL)
      return fp_diag_set(d, FP_ERR_CONFIG, "FP_SNS_TEST_CLOCK=%s: expected unix seconds", v);
    out->has_clock = true;
    out->clock = n;
  }
  return e;
}

/* FP_SNS_TEST_CERT_MAP: "name=path,name=path". */
static fp_err map_certs(fp_sns_verifier *v, const char *spec, fp_diag *d) {
  char *copy = strdup(spec);
  if (!copy) return fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  fp_err e = FP_OK;
  for (char *s = copy; !e && s;) {
    char *comma = strchr(s, ',');
    if (comma) *comma = '\0';
    char *eq = strrchr(s, '=');
    if (*s && (!eq || eq == s || !eq[1]))
      e = fp_diag_set(d, FP_ERR_CONFIG, "FP_SNS_TEST_CERT_MAP entry '%s' is not NAME=PATH", s);
    else if (*s) {
      *eq = '\0';
      e = fp_sns_verifier_test_map_cert(v, s, eq + 1, d);
    }
    s = comma ? comma + 1 : NULL;
  }
  free(copy);
  return e;
}

fp_err fp_sns_verifier_new_from_settings(const fp_sns_test_settings *t, fp_sns_verifier **out,
                                         fp_diag *d) {
  fp_sns_verifier_opts vo = {.test_mode = t && t->test_mode};
  fp_sns_verifier *v = NULL;
  fp_err e = fp_sns_verifier_new(&vo, &v, d);
  if (!e && t && t->test_mode) {
    if (t->cert_map && *t->cert_map) e = map_certs(v, t->cert_map, d);
    if (!e && t->has_clock) e = fp_sns_verifier_test_set_clock(v, (time_t)t->clock, d);
    if (!e && t->ca_file && *t->ca_file) e = fp_sns_verifier_test_set_ca_file(v, t->ca_file, d);
    if (!e && t->allow_host && *t->allow_host) e = fp_sns_verifier_test_allow_host(v, t->allow_host, d);
    if (!e && t->disable_fetch) e = fp_sns_verifier_test_disable_fetch(v, d);
  }
  if (e) {
    fp_sns_verifier_free(v);
    v = NULL;
  }
  *out = v;
  return e;
}
