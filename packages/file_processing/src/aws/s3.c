/* s3.c — the S3 object store backend: SigV4-signed GET streamed through libcurl's write
 * callback straight into the caller's sink (memory does not grow with the object), and a
 * small PUT for reports.
 *
 * Addressing: a custom endpoint (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL: s3rver, MinIO,
 * LocalStack) is path-style, http://host:port[/prefix]/bucket/key; AWS is virtual-hosted,
 * https://bucket.s3.REGION.amazonaws.com/key, except for bucket names that are not one DNS
 * label (dots break the wildcard certificate), which go path-style. Keys are encoded per S3
 * (unreserved kept, '/' kept, upper-case hex) and sent as is (CURLOPT_PATH_AS_IS), so the
 * signed path is the path on the wire.
 *
 * Reliability: 500/502/503/504/429, SlowDown/Throttling/RequestTimeout, timeouts (stalls:
 * under 1 byte/s for FP_S3_STALL_SECONDS) and broken connections are retried with capped
 * exponential backoff and full jitter. Bytes already given to the sink are never given
 * again (the CSV reader cannot rewind): after the first byte, a retry is a resume with
 * `Range: bytes=<received>-` under `If-Match: <first ETag>`, and the answer is checked
 * (206 at the right offset, same ETag and size; a 200 that ignored Range is skipped up to
 * the offset). 412 or a changed ETag means the object was overwritten while we read it: a
 * clear FP_ERR_TRANSIENT, the job's retry reads the new version. A failed attempt that
 * delivered new bytes does not use up the attempt budget (it counts stalls in a row).
 * 403/404 are not retried. Nothing here logs a secret or the Authorization header. */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "aws/aws_int.h"
#include "fp/fp_aws.h"
#include "fp/fp_buf.h"
#include "fp/fp_log.h"
#include "store/objstore_int.h"

#define S3_RETRY_CAP_MS 5000u
#define S3_MAX_RESUMES 1000u              /* resumes after progress, per object */
#define S3_ERRBODY_MAX ((size_t)16 << 10) /* bounded copy of an <Error> body */
#define S3_CURL_BUFFER (256L * 1024)      /* largest write-callback chunk (< 1 MiB) */
#define S3_URL_MAX ((size_t)16 << 10)

typedef struct s3_store {
  fp_objstore base; /* first member */
  fp_aws_cred_provider *creds;
  char region[64];
  char hostport[256];  /* endpoint authority as sent in Host (default port dropped) */
  char base_path[256]; /* endpoint path prefix, no trailing '/', usually "" */
  bool https;
  bool custom;         /* custom endpoint: path-style addressing */
  char ca_bundle[512]; /* AWS_CA_BUNDLE, "" = system default */
  unsigned max_attempts, base_ms, stall_s, connect_ms;
} s3_store;

/* One object's address: what goes on the wire and what is signed. */
typedef struct s3_target {
  char *url;        /* owned */
  char *path;       /* owned; encoded, as sent and signed */
  char *query;      /* owned or NULL; "versionId=..." */
  char host[320];   /* Host header */
  char where[1024]; /* "s3://bucket/key[?versionId=v]" for messages */
} s3_target;

/* One request (GET or PUT) with its retries; the response fields are per attempt. */
typedef struct s3_xfer {
  const s3_store *s;
  const s3_target *t;
  const char *method; /* "GET" | "PUT" */
  /* GET: the sink and what it has been given so far */
  fp_sink_fn sink;
  void *ud;
  fp_object_info *info;
  fp_diag *d;        /* the caller's: the sink writes into it */
  uint64_t received; /* bytes given to the sink, over all attempts */
  int64_t total;     /* object size from the accepted response, -1 unknown */
  char etag[128];    /* ETag of the accepted response, as sent (quoted) */
  bool pinned;       /* a versionId: the bytes cannot change */
  /* PUT */
  const char *body, *content_type;
  size_t body_len, body_off;
  char body_hash[65];
  /* the current response */
  long status;
  int64_t clen;                       /* Content-Length, -1 absent */
  int64_t crange_start, crange_total; /* Content-Range, -1 absent */
  char resp_etag[128], request_id[128], bucket_region[64];
  uint64_t skip;     /* bytes to drop: a 200 answered our Range request */
  bool accepted;     /* headers of a 2xx checked and found usable */
  fp_buf errbody;    /* non-2xx body, capped */
  fp_err fatal;      /* the final error of an ATT_FATAL attempt (d holds its text) */
  fp_err abort_code; /* set when a callback stopped the transfer */
  char abort_msg[512];
  bool sink_failed; /* abort_code came from the sink, d already set */
  char curl_err[CURL_ERROR_SIZE];
} s3_xfer;

typedef enum { ATT_DONE, ATT_RETRY, ATT_FATAL } att_result;

/* Records the final error of this request (first error wins in d, as everywhere). */
static att_result fail(s3_xfer *x, fp_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static att_result fail(s3_xfer *x, fp_err code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fp_diag_vset(x->d, code, fmt, ap);
  va_end(ap);
  x->fatal = code;
  return ATT_FATAL;
}

/* ---- small helpers ------------------------------------------------------------------ */

static void copy_bounded(char *dst, size_t dstsz, const char *src, size_t n) {
  if (!dstsz) return;
  if (n >= dstsz) n = dstsz - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

/* Untrusted text (headers, XML) made safe to print: control bytes become '?'. */
static void sanitize(char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = '?';
}

static void strip_quotes(const char *in, char *out, size_t outsz) {
  size_t n = strlen(in);
  if (n >= 2 && in[0] == '"' && in[n - 1] == '"') in++, n -= 2;
  copy_bounded(out, outsz, in, n);
}

static bool etag_equal(const char *a, const char *b) {
  char x[128], y[128];
  strip_quotes(a, x, sizeof x);
  strip_quotes(b, y, sizeof y);
  return strcmp(x, y) == 0;
}

static bool parse_i64(const char *s, const char *end, int64_t *out) {
  if (s == end) return false;
  int64_t v = 0;
  for (; s < end; s++) {
    if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10) return false;
    v = v * 10 + (*s - '0');
  }
  *out = v;
  return true;
}

/* "bytes START-END/TOTAL" (TOTAL may be '*'). */
static void parse_content_range(const char *v, int64_t *start, int64_t *total) {
  *start = *total = -1;
  if (strncasecmp(v, "bytes ", 6) != 0) return;
  const char *p = v + 6, *dash = strchr(p, '-'), *slash = strchr(p, '/');
  if (!dash || !slash || slash < dash) return;
  if (!parse_i64(p, dash, start)) *start = -1;
  if (!parse_i64(slash + 1, slash + 1 + strlen(slash + 1), total)) *total = -1;
}

/* A bucket usable as one DNS label in bucket.s3.region.amazonaws.com. */
static bool bucket_is_dns_label(const char *b) {
  size_t n = strlen(b);
  if (n < 3 || n > 63 || b[0] == '-' || b[n - 1] == '-') return false;
  for (const char *p = b; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) return false;
  return true;
}

/* Full jitter over min(cap, base * 2^(failures-1)). */
static unsigned backoff_ms(const s3_store *s, unsigned failures, uint64_t *rng) {
  uint64_t ceil = s->base_ms;
  for (unsigned i = 1; i < failures && ceil < S3_RETRY_CAP_MS; i++) ceil *= 2;
  if (ceil > S3_RETRY_CAP_MS) ceil = S3_RETRY_CAP_MS;
  *rng ^= *rng << 13, *rng ^= *rng >> 7, *rng ^= *rng << 17; /* xorshift64 */
  return ceil ? (unsigned)(*rng % (ceil + 1)) : 0;
}

static uint64_t rng_seed(const void *salt) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)(uintptr_t)salt ^
               ((uint64_t)getpid() << 40);
  return x ? x : 0x9e3779b97f4a7c15ull;
}

static void sleep_ms(unsigned ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* ---- addressing --------------------------------------------------------------------- */

static void target_free(s3_target *t) { /* keeps `where` for messages */
  free(t->url);
  free(t->path);
  free(t->query);
  t->url = t->path = t->query = NULL;
}

static fp_err target_paths(const s3_store *s, const char *bucket, const char *key, bool vhost,
                           fp_buf *path, fp_diag *d) {
  char *ekey = fp_aws_uri_encode(key, strlen(key), true);
  char *ebucket = vhost ? NULL : fp_aws_uri_encode(bucket, strlen(bucket), false);
  fp_err e = !ekey || (!vhost && !ebucket) ? FP_ERR_NOMEM : FP_OK;
  if (!e) e = fp_buf_puts(path, s->base_path);
  if (!e && !vhost) e = fp_buf_appendf(path, "/%s", ebucket);
  if (!e) e = fp_buf_appendf(path, "/%s", ekey);
  free(ekey);
  free(ebucket);
  if (e) return fp_diag_set(d, e, "s3://%s/%.200s: cannot build the request URL", bucket, key);
  return FP_OK;
}

static fp_err target_make(const s3_store *s, const char *bucket, const char *key,
                          const char *version_id, s3_target *t, fp_diag *d) {
  memset(t, 0, sizeof *t);
  snprintf(t->where, sizeof t->where, "s3://%s/%s%s%s", bucket, key,
           version_id ? "?versionId=" : "", version_id ? version_id : "");
  if (!*bucket || !*key) return fp_diag_set(d, FP_ERR_INVAL, "%s: empty bucket or key", t->where);
  bool vhost = !s->custom && bucket_is_dns_label(bucket);
  int n = vhost ? snprintf(t->host, sizeof t->host, "%s.%s", bucket, s->hostport)
                : snprintf(t->host, sizeof t->host, "%s", s->hostport);
  if (n < 0 || (size_t)n >= sizeof t->host)
    return fp_diag_set(d, FP_ERR_INVAL, "%s: host name too long", t->where);
  fp_buf path, url;
  fp_buf_init(&path, S3_URL_MAX);
  fp_buf_init(&url, S3_URL_MAX);
  fp_err e = target_paths(s, bucket, key, vhost, &path, d);
  if (!e && version_id) {
    char *ev = fp_aws_uri_encode(version_id, strlen(version_id), false);
    if (ev) {
      size_t qn = strlen(ev) + sizeof "versionId=";
      t->query = malloc(qn);
      if (t->query) snprintf(t->query, qn, "versionId=%s", ev);
    }
    free(ev);
    if (!t->query) e = fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  }
  if (!e && fp_buf_appendf(&url, "%s://%s%s%s%s", s->https ? "https" : "http", t->host, path.data,
                           t->query ? "?" : "", t->query ? t->query : ""))
    e = fp_diag_set(d, FP_ERR_INVAL, "%s: request URL too long", t->where);
  if (!e) {
    t->path = fp_buf_take(&path);
    t->url = fp_buf_take(&url);
    if (!t->path || !t->url) e = fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  }
  fp_buf_free(&path);
  fp_buf_free(&url);
  if (e) target_free(t);
  return e;
}

/* ---- signing ------------------------------------------------------------------------ */

static fp_err slist_add(struct curl_slist **l, const char *name, const char *value) {
  fp_buf b;
  fp_buf_init(&b, 16384);
  fp_err e = fp_buf_appendf(&b, "%s: %s", name, value);
  struct curl_slist *n = e ? NULL : curl_slist_append(*l, b.data);
  if (b.data) memset(b.data, 0, b.len); /* may hold the session token */
  fp_buf_free(&b);
  if (!n) return FP_ERR_NOMEM;
  *l = n;
  return FP_OK;
}

/* Credentials, then the signed header list for this attempt (headers sorted by name). */
static att_result sign_request(s3_xfer *x, const char *range, const char *if_match,
                               struct curl_slist **out, char *cause, size_t causesz) {
  fp_aws_creds c;
  memset(&c, 0, sizeof c);
  fp_diag cd;
  fp_diag_clear(&cd);
  fp_err e = fp_aws_cred_get(x->s->creds, &c, &cd);
  if (e) {
    snprintf(cause, causesz, "AWS credentials: %s", cd.msg);
    if (e == FP_ERR_TRANSIENT) return ATT_RETRY;
    return fail(x, e, "no usable AWS credentials to %s %s: %s", x->method, x->t->where, cd.msg);
  }
  char date[17];
  time_t now = time(NULL);
  fp__amz_date(now, date);
  const char *hash = x->body ? x->body_hash : NULL;
  char empty_hash[65];
  if (!hash) fp_sha256_hex("", 0, empty_hash), hash = empty_hash;
  fp_http_header h[8];
  size_t n = 0;
  if (x->content_type) h[n++] = (fp_http_header){"content-type", x->content_type};
  h[n++] = (fp_http_header){"host", x->t->host};
  if (if_match && *if_match) h[n++] = (fp_http_header){"if-match", if_match};
  if (range && *range) h[n++] = (fp_http_header){"range", range};
  h[n++] = (fp_http_header){"x-amz-content-sha256", hash};
  h[n++] = (fp_http_header){"x-amz-date", date};
  if (c.session_token && *c.session_token)
    h[n++] = (fp_http_header){"x-amz-security-token", c.session_token};
  fp_sigv4_request req = {.method = x->method,
                          .path = x->t->path,
                          .query = x->t->query,
                          .headers = h,
                          .nheaders = n,
                          .payload_hash = hash};
  fp_sigv4_opts o = {.region = x->s->region, .service = "s3", .when = now, .normalize_path = false};
  fp_sigv4_result res;
  memset(&res, 0, sizeof res);
  fp_diag sd;
  fp_diag_clear(&sd);
  e = fp_sigv4_sign(&req, &c, &o, &res, &sd);
  struct curl_slist *l = NULL;
  for (size_t i = 0; !e && i < n; i++) e = slist_add(&l, h[i].name, h[i].value);
  if (!e) e = slist_add(&l, "authorization", res.authorization);
  if (!e && x->body) { /* "Expect:" with no value: no 100-continue round trip */
    struct curl_slist *nl = curl_slist_append(l, "Expect:");
    if (nl)
      l = nl;
    else
      e = FP_ERR_NOMEM;
  }
  fp_sigv4_result_clear(&res);
  fp_aws_creds_clear(&c);
  if (e) {
    curl_slist_free_all(l);
    return fail(x, e, "cannot sign the request for %s: %s", x->t->where,
                sd.code ? sd.msg : "out of memory");
  }
  *out = l;
  return ATT_DONE;
}

/* ---- libcurl callbacks ---------------------------------------------------------------- */

static size_t abort_with(s3_xfer *x, fp_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static size_t abort_with(s3_xfer *x, fp_err code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(x->abort_msg, sizeof x->abort_msg, fmt, ap);
  va_end(ap);
  x->abort_code = code;
  return 0; /* any count but the one given aborts the transfer */
}

static void reset_response(s3_xfer *x) {
  x->status = 0;
  x->clen = x->crange_start = x->crange_total = -1;
  x->resp_etag[0] = x->request_id[0] = x->bucket_region[0] = '\0';
  x->skip = 0;
  x->accepted = false;
  fp_buf_reset(&x->errbody);
}

/* A 2xx for a GET: the first one fixes size and ETag; after bytes were delivered, the
 * answer must continue the same object at the offset we asked for. */
static size_t accept_get(s3_xfer *x) {
  if (x->received == 0) {
    x->total = x->status == 206 ? x->crange_total : x->clen;
    copy_bounded(x->etag, sizeof x->etag, x->resp_etag, strlen(x->resp_etag));
    x->info->size = x->total;
    strip_quotes(x->etag, x->info->etag, sizeof x->info->etag);
    if (x->status == 206 && x->crange_start > 0)
      return abort_with(x, FP_ERR_TRANSIENT, "unexpected partial answer at byte %" PRId64,
                        x->crange_start);
    return 1;
  }
  int64_t total = x->status == 206 ? x->crange_total : x->clen;
  bool changed = (x->resp_etag[0] && x->etag[0] && !etag_equal(x->resp_etag, x->etag)) ||
                 (total >= 0 && x->total >= 0 && total != x->total);
  if (changed)
    return abort_with(x, FP_ERR_TRANSIENT,
                      "%s changed while it was being read (ETag %s, %" PRId64
                      " bytes, now ETag %s, %" PRId64 " bytes) after %" PRIu64
                      " bytes; a new run reads the new version",
                      x->t->where, x->etag, x->total, x->resp_etag, total, x->received);
  if (x->status == 206 && x->crange_start != (int64_t)x->received)
    return abort_with(x, FP_ERR_TRANSIENT,
                      "resume of %s at byte %" PRIu64 " answered from byte %" PRId64, x->t->where,
                      x->received, x->crange_start);
  if (x->status == 200) x->skip = x->received; /* Range ignored: drop what we have */
  return 1;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t outsz) {
  size_t nl = strlen(name);
  if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':') return;
  const char *v = line + nl + 1, *end = line + n;
  while (v < end && (*v == ' ' || *v == '\t')) v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
  copy_bounded(out, outsz, v, (size_t)(end - v));
  sanitize(out);
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud) {
  s3_xfer *x = ud;
  size_t n = size * nitems;
  if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) { /* a new response (after 1xx, too) */
    reset_response(x);
    const char *sp = memchr(buf, ' ', n);
    int64_t code;
    if (sp && sp + 4 <= buf + n && parse_i64(sp + 1, sp + 4, &code)) x->status = (long)code;
    return n;
  }
  if (n <= 2 && (buf[0] == '\r' || buf[0] == '\n')) { /* end of this response's headers */
    if (x->status >= 200 && x->status < 300 && x->sink && !x->accepted) {
      if (!accept_get(x)) return 0;
      x->accepted = true;
    }
    return n;
  }
  char v[160];
  v[0] = '\0';
  header_value(buf, n, "content-length", v, sizeof v);
  if (v[0] && !parse_i64(v, v + strlen(v), &x->clen)) x->clen = -1;
  v[0] = '\0';
  header_value(buf, n, "content-range", v, sizeof v);
  if (v[0]) parse_content_range(v, &x->crange_start, &x->crange_total);
  header_value(buf, n, "etag", x->resp_etag, sizeof x->resp_etag);
  header_value(buf, n, "x-amz-request-id", x->request_id, sizeof x->request_id);
  header_value(buf, n, "x-amz-bucket-region", x->bucket_region, sizeof x->bucket_region);
  return n;
}

static size_t on_body(char *buf, size_t size, size_t nmemb, void *ud) {
  s3_xfer *x = ud;
  size_t n = size * nmemb;
  if (!(x->status >= 200 && x->status < 300)) {
    size_t room = S3_ERRBODY_MAX - x->errbody.len;
    if (room) (void)fp_buf_append(&x->errbody, buf, n < room ? n : room);
    return n;
  }
  if (!x->sink) return n; /* PUT answer */
  if (!x->accepted) return abort_with(x, FP_ERR_INTERNAL, "body before headers");
  size_t drop = x->skip < n ? (size_t)x->skip : n;
  x->skip -= drop;
  if (drop == n) return n;
  if (x->total >= 0 && x->received + (n - drop) > (uint64_t)x->total)
    return abort_with(x, FP_ERR_TRANSIENT, "%s: more bytes than its size %" PRId64, x->t->where,
                      x->total);
  fp_err e = x->sink(x->ud, buf + drop, n - drop, x->d);
  if (e) {
    x->sink_failed = true;
    return abort_with(x, e, "sink");
  }
  x->received += n - drop;
  return n;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud) {
  s3_xfer *x = ud;
  size_t room = size * nitems, left = x->body_len - x->body_off;
  size_t n = left < room ? left : room;
  if (n) memcpy(buf, x->body + x->body_off, n);
  x->body_off += n;
  return n;
}

/* ---- one attempt ---------------------------------------------------------------------- */

bool fp__s3_code_is_retryable(const char *code) {
  static const char *const codes[] = {"SlowDown",
                                      "Throttling",
                                      "ThrottlingException",
                                      "ThrottledException",
                                      "RequestThrottled",
                                      "RequestThrottledException",
                                      "TooManyRequestsException",
                                      "RequestLimitExceeded",
                                      "RequestTimeout",
                                      "RequestTimeoutException",
                                      "InternalError",
                                      "ServiceUnavailable",
                                      "PriorRequestNotComplete",
                                      "BandwidthLimitExceeded",
                                      "EC2ThrottledException",
                                      "TransactionInProgressException"};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
    if (strcmp(code, codes[i]) == 0) return true;
  return false;
}

/* Text of <tag> in an <Error> body (declared in aws_int.h for the fuzz harness). */
void fp__s3_error_field(const char *xml, size_t len, const char *tag, char *out, size_t outsz) {
  const char *inner;
  size_t n;
  if (!xml) xml = "", len = 0;
  out[0] = '\0';
  fp_err e = fp__xml_text(xml, len, tag, out, outsz);
  if (e == FP_ERR_LIMIT && fp__xml_find(xml, len, tag, &inner, &n))
    copy_bounded(out, outsz, inner, n); /* too long to unescape whole: raw and cut */
  else if (e)
    out[0] = '\0';
  sanitize(out);
}

/* An HTTP error answer: retry, or the final error naming the object and S3's words. */
static att_result http_error(s3_xfer *x, char *cause, size_t causesz) {
  char code[128], msg[384];
  fp__s3_error_field(x->errbody.data, x->errbody.len, "Code", code, sizeof code);
  fp__s3_error_field(x->errbody.data, x->errbody.len, "Message", msg, sizeof msg);
  char detail[640];
  snprintf(detail, sizeof detail, "HTTP %ld%s%.100s%s%.300s%s%.64s%s", x->status,
           code[0] ? " " : "", code, msg[0] ? ": " : "", msg,
           x->request_id[0] ? " (request id " : "", x->request_id, x->request_id[0] ? ")" : "");
  snprintf(cause, causesz, "%s", detail);
  long st = x->status;
  if (fp__s3_code_is_retryable(code) || st == 429 || st == 500 || st == 502 || st == 503 || st == 504)
    return ATT_RETRY;
  if (st == 404) return fail(x, FP_ERR_NOT_FOUND, "%s not found: %s", x->t->where, detail);
  if (st == 403) return fail(x, FP_ERR_FORBIDDEN, "access to %s refused: %s", x->t->where, detail);
  if (st == 412 || (st == 416 && x->received > 0))
    return fail(x, FP_ERR_TRANSIENT,
                "%s changed while it was being read (resume at byte %" PRIu64
                " under If-Match %s refused: %s); a new run reads the new version",
                x->t->where, x->received, x->etag, detail);
  if (st == 301 || st == 307 || (x->bucket_region[0] && st == 400))
    return fail(x, FP_ERR_CONFIG,
                "%s: the bucket is not served at this endpoint and region (%s)%s%s%s: %s",
                x->t->where, x->s->region, x->bucket_region[0] ? "; it lives in " : "",
                x->bucket_region, x->bucket_region[0] ? ", set AWS_REGION" : "", detail);
  return fail(x, st >= 500 ? FP_ERR_TRANSIENT : FP_ERR_INVAL, "S3 refused %s %s: %s", x->method,
              x->t->where, detail);
}

static att_result transport_error(s3_xfer *x, CURLcode rc, char *cause, size_t causesz) {
  const char *why = x->curl_err[0] ? x->curl_err : curl_easy_strerror(rc);
  if (x->status >= 300) /* an error answer cut short: judge by its status */
    return http_error(x, cause, causesz);
  bool stalled = rc == CURLE_OPERATION_TIMEDOUT && strstr(why, "too slow");
  snprintf(cause, causesz, "%s%s%s", stalled ? "stalled: " : "", why,
           x->status ? "" : " (no answer)");
  switch (rc) {
    case CURLE_OUT_OF_MEMORY:
      return fail(x, FP_ERR_NOMEM, "%s %s: %s", x->method, x->t->where, why);
    /* CURLE_UNSUPPORTED_PROTOCOL is not here: the endpoint's scheme is checked up front
     * (http/https), so it can only be curl refusing an answer that is not HTTP
     * ("Received HTTP/0.9"), a misbehaving peer that a retry may get past. */
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      return fail(x, FP_ERR_CONFIG, "%s %s: %s", x->method, x->t->where, why);
    default: return ATT_RETRY; /* refused, reset, partial, timed out, DNS: a retry may help */
  }
}

static void set_options(CURL *c, s3_xfer *x, struct curl_slist *headers) {
  curl_easy_reset(c); /* keeps the connection cache */
  curl_easy_setopt(c, CURLOPT_URL, x->t->url);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(c, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L); /* a proxy's answer is not S3's */
  curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "file-processing/0.1 s3");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
  curl_easy_setopt(c, CURLOPT_BUFFERSIZE, S3_CURL_BUFFER);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->curl_err);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)x->s->connect_ms);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)x->s->stall_s);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  if (x->s->ca_bundle[0]) curl_easy_setopt(c, CURLOPT_CAINFO, x->s->ca_bundle);
  if (x->body) {
    x->body_off = 0;
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, x);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->body_len);
  } else {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  }
}

static att_result attempt(CURL *c, s3_xfer *x, char *cause, size_t causesz) {
  char range[48] = "", if_match[160] = "";
  if (x->sink && x->received > 0) {
    if (!x->etag[0] && !x->pinned)
      return fail(x, FP_ERR_TRANSIENT,
                  "%s: transfer broke after %" PRIu64
                  " bytes and cannot be resumed safely "
                  "(no ETag and no versionId to pin the object)",
                  x->t->where, x->received);
    snprintf(range, sizeof range, "bytes=%" PRIu64 "-", x->received);
    if (x->etag[0]) snprintf(if_match, sizeof if_match, "%s", x->etag);
  }
  struct curl_slist *headers = NULL;
  att_result r = sign_request(x, range, if_match, &headers, cause, causesz);
  if (r != ATT_DONE) return r;
  reset_response(x);
  x->abort_code = FP_OK;
  x->curl_err[0] = '\0';
  set_options(c, x, headers);
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  if (x->abort_code) {
    if (x->sink_failed) return x->fatal = x->abort_code, ATT_FATAL; /* d set by the sink */
    return fail(x, x->abort_code, "%s", x->abort_msg);
  }
  if (rc != CURLE_OK) return transport_error(x, rc, cause, causesz);
  if (x->status < 200 || x->status >= 300) return http_error(x, cause, causesz);
  if (x->sink && x->total >= 0 && x->received < (uint64_t)x->total) {
    snprintf(cause, causesz, "connection closed after %" PRIu64 " of %" PRId64 " bytes",
             x->received, x->total);
    return ATT_RETRY;
  }
  return ATT_DONE;
}

/* Attempts until done, a final error, or the budget is spent (failures in a row without
 * new bytes; resumes after progress are capped separately). */
static fp_err run_with_retries(s3_xfer *x) {
  CURL *c = curl_easy_init();
  if (!c) return fp_diag_set(x->d, FP_ERR_NOMEM, "cannot create a libcurl handle");
  fp_buf_init(&x->errbody, S3_ERRBODY_MAX);
  uint64_t rng = rng_seed(x);
  unsigned failures = 0, resumes = 0, attempts = 0;
  char cause[1024];
  fp_err e = FP_OK;
  for (;;) {
    uint64_t before = x->received;
    cause[0] = '\0';
    att_result r = attempt(c, x, cause, sizeof cause);
    attempts++;
    if (r == ATT_DONE) break;
    if (r == ATT_FATAL) {
      e = x->fatal ? x->fatal : FP_ERR_INTERNAL;
      break;
    }
    if (x->received > before) failures = 0, resumes++;
    failures++;
    if (failures >= x->s->max_attempts || resumes > S3_MAX_RESUMES) {
      e = fp_diag_set(x->d, FP_ERR_TRANSIENT, "giving up on %s %s after %u attempt%s: %s",
                      x->method, x->t->where, attempts, attempts == 1 ? "" : "s", cause);
      break;
    }
    unsigned delay = backoff_ms(x->s, failures, &rng);
    if (x->sink && x->received > 0)
      fp_warn("s3: %s %s attempt %u failed: %s; resuming at byte %" PRIu64 " in %u ms", x->method,
              x->t->where, attempts, cause, x->received, delay);
    else
      fp_warn("s3: %s %s attempt %u failed: %s; retrying in %u ms", x->method, x->t->where,
              attempts, cause, delay);
    sleep_ms(delay);
  }
  fp_buf_free(&x->errbody);
  curl_easy_cleanup(c);
  return e;
}

/* ---- the backend ---------------------------------------------------------------------- */

static fp_err s3_stream(fp_objstore *os, const fp_object_ref *ref, fp_sink_fn sink, void *ud,
                        fp_object_info *info, fp_diag *d) {
  s3_store *s = (s3_store *)os;
  s3_target t;
  fp_err e = target_make(s, ref->bucket, ref->key, ref->version_id, &t, d);
  copy_bounded(info->location, sizeof info->location, t.where, strlen(t.where));
  if (e) {
    fp_diag_key(d, ref->key);
    return e;
  }
  fp_debug("s3: GET %s (%s)", t.url, t.where);
  s3_xfer x = {.s = s,
               .t = &t,
               .method = "GET",
               .sink = sink,
               .ud = ud,
               .info = info,
               .d = d,
               .total = -1,
               .pinned = ref->version_id != NULL};
  e = run_with_retries(&x);
  if (!e) fp_debug("s3: read %" PRIu64 " bytes of %s (ETag %s)", x.received, t.where, info->etag);
  if (e) fp_diag_key(d, ref->key);
  target_free(&t);
  return e;
}

static fp_err s3_put(fp_objstore *os, const char *bucket, const char *key, const char *body,
                     size_t len, const char *content_type, fp_diag *d) {
  s3_store *s = (s3_store *)os;
  s3_target t;
  fp_err e = target_make(s, bucket, key, NULL, &t, d);
  if (e) return e;
  s3_xfer x = {
      .s = s,
      .t = &t,
      .method = "PUT",
      .d = d,
      .total = -1,
      .body = body ? body : "",
      .body_len = len,
      .content_type = content_type && *content_type ? content_type : "application/octet-stream"};
  fp_sha256_hex(x.body, len, x.body_hash);
  fp_debug("s3: PUT %s (%zu bytes)", t.where, len);
  e = run_with_retries(&x);
  if (e) fp_diag_key(d, key);
  target_free(&t);
  return e;
}

static void s3_destroy(fp_objstore *os) {
  s3_store *s = (s3_store *)os;
  fp_aws_cred_provider_free(s->creds);
  free(s);
}

static const fp__objstore_ops s3_ops = {"s3", s3_stream, s3_destroy, s3_put};

static fp_err read_knob(const fp_config *cfg, const char *key, size_t def, size_t lo, size_t hi,
                        unsigned *out, fp_diag *d) {
  size_t v;
  fp_err e = fp_config_size(cfg, key, def, &v, d);
  if (e) return e;
  if (v < lo || v > hi)
    return fp_diag_set(d, FP_ERR_CONFIG, "%s=%zu is out of range (%zu..%zu)", key, v, lo, hi);
  *out = (unsigned)v;
  return FP_OK;
}

/* The endpoint URL split into what the requests need. */
static fp_err parse_endpoint(s3_store *s, const char *url, fp_diag *d) {
  char host[256];
  if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
    return fp_diag_set(d, FP_ERR_CONFIG, "S3 endpoint %s: expected http:// or https://", url);
  if (fp__url_parts(url, s->hostport, sizeof s->hostport, host, sizeof host, &s->https))
    return fp_diag_set(d, FP_ERR_CONFIG, "S3 endpoint %s is not a usable URL", url);
  const char *p = strstr(url, "://") + 3;
  size_t auth = strcspn(p, "/?#");
  if (memchr(p, '@', auth))
    return fp_diag_set(d, FP_ERR_CONFIG, "S3 endpoint must not carry user information");
  p += auth;
  size_t n = strcspn(p, "?#");
  while (n && p[n - 1] == '/') n--;
  if (n >= sizeof s->base_path) return fp_diag_set(d, FP_ERR_CONFIG, "S3 endpoint path too long");
  copy_bounded(s->base_path, sizeof s->base_path, p, n);
  return FP_OK;
}

static fp_err configure(s3_store *s, const fp_config *cfg, fp_diag *d) {
  fp_err e = read_knob(cfg, "FP_S3_MAX_ATTEMPTS", 5, 1, 100, &s->max_attempts, d);
  if (!e) e = read_knob(cfg, "FP_S3_RETRY_BASE_MS", 200, 0, 60000, &s->base_ms, d);
  if (!e) e = read_knob(cfg, "FP_S3_STALL_SECONDS", 30, 1, 3600, &s->stall_s, d);
  if (!e) e = read_knob(cfg, "FP_S3_CONNECT_TIMEOUT_MS", 5000, 100, 600000, &s->connect_ms, d);
  if (e) return e;
  const char *ca = fp_config_str(cfg, "AWS_CA_BUNDLE", "");
  if (strlen(ca) >= sizeof s->ca_bundle)
    return fp_diag_set(d, FP_ERR_CONFIG, "AWS_CA_BUNDLE path too long");
  copy_bounded(s->ca_bundle, sizeof s->ca_bundle, ca, strlen(ca));
  fp_aws_region(cfg, s->region, sizeof s->region);
  char endpoint[512];
  fp_aws_endpoint(cfg, "s3", s->region, endpoint, sizeof endpoint, &s->custom);
  e = parse_endpoint(s, endpoint, d);
  if (e) return e;
  fp_debug("s3: endpoint %s://%s%s, region %s (partition %s), %s addressing",
           s->https ? "https" : "http", s->hostport, s->base_path, s->region,
           fp_aws_partition(s->region), s->custom ? "path-style" : "virtual-hosted");
  return FP_OK;
}

fp_err fp_objstore_s3_new(const fp_config *cfg, fp_objstore **out, fp_diag *d) {
  if (!out || !cfg) return fp_diag_set(d, FP_ERR_INVAL, "fp_objstore_s3_new: NULL argument");
  *out = NULL;
  s3_store *s = calloc(1, sizeof *s);
  if (!s) return fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  s->base.ops = &s3_ops;
  fp__curl_global_init();
  fp_err e = configure(s, cfg, d);
  if (!e) e = fp_aws_cred_provider_new(cfg, &s->creds, d);
  if (e) {
    s3_destroy(&s->base);
    return e;
  }
  *out = &s->base;
  return FP_OK;
}
