/* aws_http.c — the small libcurl helper the AWS code shares (STS, container credentials,
 * IMDS; usable by the S3 client): one request, bounded response, and the only place that
 * translates CURLcode into fp_err. One easy handle per request, so threads share nothing;
 * curl_global_init runs once under pthread_once. */
#include <ctype.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/aws_int.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

static void curl_init_once(void) {
  curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void fp__curl_global_init(void) {
  pthread_once(&curl_once, curl_init_once);
}

void fp__http_resp_init(fp__http_resp *r) {
  memset(r, 0, sizeof *r);
  fp_buf_init(&r->body, FP__HTTP_DEF_MAX_BODY);
  fp_buf_init(&r->headers, FP__HTTP_MAX_HEADERS_BYTES);
}

void fp__http_resp_free(fp__http_resp *r) {
  if (!r) return;
  fp_buf_free(&r->body);
  fp_buf_free(&r->headers);
  r->status = 0;
  r->body_bytes = 0;
}

/* ---- URL helpers ------------------------------------------------------------------------ */

static void copy_bounded(char *out, size_t outsz, const char *s, size_t n) {
  if (!outsz) return;
  if (n >= outsz) n = outsz - 1;
  memcpy(out, s, n);
  out[n] = '\0';
}

fp_err fp__url_parts(const char *url, char *hostport, size_t hpsz, char *host, size_t hsz,
                     bool *https) {
  bool tls;
  const char *p;
  if (strncasecmp(url, "https://", 8) == 0) {
    tls = true, p = url + 8;
  } else if (strncasecmp(url, "http://", 7) == 0) {
    tls = false, p = url + 7;
  } else {
    return FP_ERR_CONFIG;
  }
  size_t alen = strcspn(p, "/?#");
  const char *at = NULL;
  for (const char *q = p; q < p + alen; q++)
    if (*q == '@') at = q;
  if (at) alen -= (size_t)(at + 1 - p), p = at + 1; /* drop userinfo */
  if (alen == 0) return FP_ERR_CONFIG;
  const char *hend, *port = NULL;
  size_t hstart = 0;
  if (p[0] == '[') {
    const char *rb = memchr(p, ']', alen);
    if (!rb) return FP_ERR_CONFIG;
    hstart = 1, hend = rb;
    if (rb + 1 < p + alen) {
      if (rb[1] != ':') return FP_ERR_CONFIG;
      port = rb + 2;
    }
  } else {
    const char *colon = memchr(p, ':', alen);
    hend = colon ? colon : p + alen;
    if (colon) port = colon + 1;
  }
  size_t plen = port ? (size_t)(p + alen - port) : 0;
  for (size_t i = 0; i < plen; i++)
    if (!isdigit((unsigned char)port[i])) return FP_ERR_CONFIG;
  if (plen > 5 || (port && plen == 0)) return FP_ERR_CONFIG;
  bool default_port = !port || (tls && plen == 3 && memcmp(port, "443", 3) == 0) ||
                      (!tls && plen == 2 && memcmp(port, "80", 2) == 0);
  size_t hl = (size_t)(hend - p) - hstart;
  if (hl == 0) return FP_ERR_CONFIG;
  if (host) {
    if (hl >= hsz) return FP_ERR_LIMIT;
    copy_bounded(host, hsz, p + hstart, hl);
  }
  if (hostport) {
    size_t n = default_port ? (size_t)(hend - p) + (hstart ? 1 : 0) : alen;
    if (n >= hpsz) return FP_ERR_LIMIT;
    copy_bounded(hostport, hpsz, p, n);
  }
  if (https) *https = tls;
  return FP_OK;
}

bool fp__host_is_loopback(const char *host) {
  if (strcasecmp(host, "localhost") == 0 || strcmp(host, "::1") == 0) return true;
  if (strncmp(host, "127.", 4) != 0) return false;
  /* 127.a.b.c with decimal octets */
  int dots = 0;
  for (const char *p = host + 4; *p; p++) {
    if (*p == '.')
      dots++;
    else if (!isdigit((unsigned char)*p))
      return false;
  }
  return dots == 2;
}

/* ---- transfer --------------------------------------------------------------------------- */

typedef struct xfer {
  CURL *h;
  const fp__http_req *req;
  fp__http_resp *resp;
  fp_diag *d;
  fp_err sink_err;
  bool over_limit;
} xfer;

static size_t on_body(char *p, size_t sz, size_t nm, void *ud) {
  xfer *x = ud;
  size_t n = sz * nm;
  x->resp->body_bytes += n;
  if (x->req->sink) {
    long status = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
      fp_err e = x->req->sink(x->req->sink_ud, p, n, x->d);
      if (e) {
        x->sink_err = e;
        return 0;
      }
      return n;
    }
  }
  if (fp_buf_append(&x->resp->body, p, n)) {
    x->over_limit = true;
    return 0;
  }
  return n;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud) {
  xfer *x = ud;
  size_t n = sz * nm;
  /* A new status line starts a new response (100 Continue, redirects): keep the last. */
  if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) fp_buf_reset(&x->resp->headers);
  if (fp_buf_append(&x->resp->headers, p, n)) {
    x->over_limit = true;
    return 0;
  }
  return n;
}

bool fp__http_header_get(const fp__http_resp *r, const char *name, char *out, size_t outsz) {
  size_t nl = strlen(name);
  const char *p = r->headers.data, *end = p ? p + r->headers.len : NULL;
  while (p && p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *le = eol ? eol : end;
    if ((size_t)(le - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
      const char *v = p + nl + 1;
      while (v < le && (*v == ' ' || *v == '\t')) v++;
      const char *ve = le;
      while (ve > v && isspace((unsigned char)ve[-1])) ve--;
      copy_bounded(out, outsz, v, (size_t)(ve - v));
      return true;
    }
    p = eol ? eol + 1 : end;
  }
  return false;
}

/* The one CURLcode → fp_err translation. */
static fp_err curl_err(const xfer *x, CURLcode rc, const char *errbuf) {
  const fp__http_req *req = x->req;
  char url[512];
  fp_mask_url(req->url, url, sizeof url);
  const char *what = req->what ? req->what : "HTTP";
  if (rc == CURLE_WRITE_ERROR && x->sink_err) return x->sink_err; /* diag already set */
  if (rc == CURLE_WRITE_ERROR && x->over_limit)
    return fp_diag_set(x->d, FP_ERR_LIMIT, "%s: response from %s exceeds %zu bytes", what, url,
                       x->resp->body.max);
  fp_err e;
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM: e = FP_ERR_TRANSIENT; break;
    case CURLE_UNSUPPORTED_PROTOCOL:
      /* The scheme was checked before the request (http/https only), so this is curl
       * refusing an answer that is not HTTP ("Received HTTP/0.9"): the peer misbehaved,
       * nothing in our configuration is wrong. Like any other garbage answer: I/O. */
      e = FP_ERR_IO;
      break;
    case CURLE_URL_MALFORMAT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM: e = FP_ERR_CONFIG; break;
    case CURLE_OUT_OF_MEMORY: e = FP_ERR_NOMEM; break;
    default: e = FP_ERR_IO;
  }
  return fp_diag_set(x->d, e, "%s: %s contacting %s%s%s", what, curl_easy_strerror(rc), url,
                     errbuf[0] ? ": " : "", errbuf);
}

static bool has_body(const fp__http_req *req) {
  const char *m = req->method ? req->method : "GET";
  return strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0;
}

/* Wipes (tokens travel in headers) and frees a header list. */
static void free_headers(struct curl_slist *l) {
  for (struct curl_slist *p = l; p; p = p->next)
    if (p->data) OPENSSL_cleanse(p->data, strlen(p->data));
  curl_slist_free_all(l);
}

/* Builds the header list; also suppresses Expect and, for bodies, curl's default type. */
static fp_err build_headers(const fp__http_req *req, struct curl_slist **out) {
  struct curl_slist *l = NULL, *t;
  bool has_type = false;
  fp_buf line;
  fp_buf_init(&line, 32 << 10);
  fp_err e = FP_OK;
  for (size_t i = 0; i < req->nheaders && !e; i++) {
    const fp_http_header *h = &req->headers[i];
    if (strpbrk(h->name, "\r\n:") || strpbrk(h->value, "\r\n")) {
      e = FP_ERR_INVAL;
      break;
    }
    if (strcasecmp(h->name, "Content-Type") == 0) has_type = true;
    fp_buf_reset(&line);
    /* "Name;" sends an empty header; "Name: v" a value. */
    e = *h->value ? fp_buf_appendf(&line, "%s: %s", h->name, h->value)
                  : fp_buf_appendf(&line, "%s;", h->name);
    if (!e && !(t = curl_slist_append(l, line.data))) e = FP_ERR_NOMEM;
    if (!e) l = t;
  }
  if (!e && !(t = curl_slist_append(l, "Expect:"))) e = FP_ERR_NOMEM;
  if (!e) l = t;
  if (!e && has_body(req) && !has_type && !(t = curl_slist_append(l, "Content-Type:")))
    e = FP_ERR_NOMEM;
  if (!e) l = t;
  if (line.data) OPENSSL_cleanse(line.data, line.cap); /* values may carry tokens */
  fp_buf_free(&line);
  if (e) {
    free_headers(l);
    return e;
  }
  *out = l;
  return FP_OK;
}

static void set_method(CURL *h, const fp__http_req *req) {
  const char *m = req->method ? req->method : "GET";
  if (strcmp(m, "GET") == 0) {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else if (strcmp(m, "HEAD") == 0) {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else {
    /* POST/PUT/DELETE: POSTFIELDS carries the body (empty allowed), the method is set
     * explicitly so PUT stays PUT. */
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
    if (strcmp(m, "POST") != 0) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
  }
}

fp_err fp__http_do(const fp__http_req *req, fp__http_resp *resp, fp_diag *d) {
  if (!req || !req->url || !resp) return fp_diag_set(d, FP_ERR_INVAL, "HTTP: NULL argument");
  const char *what = req->what ? req->what : "HTTP";
  bool https;
  if (fp__url_parts(req->url, NULL, 0, NULL, 0, &https)) {
    char url[512];
    fp_mask_url(req->url, url, sizeof url);
    return fp_diag_set(d, FP_ERR_CONFIG, "%s: not an http(s) URL: %s", what, url);
  }
  fp__curl_global_init();
  if (curl_init_rc != CURLE_OK)
    return fp_diag_set(d, FP_ERR_INTERNAL, "%s: curl_global_init failed", what);
  fp_buf_free(&resp->body);
  fp_buf_free(&resp->headers);
  fp_buf_init(&resp->body, req->max_body ? req->max_body : FP__HTTP_DEF_MAX_BODY);
  fp_buf_init(&resp->headers, FP__HTTP_MAX_HEADERS_BYTES);
  resp->status = 0;
  resp->body_bytes = 0;

  xfer x = {.req = req, .resp = resp, .d = d};
  struct curl_slist *hdrs = NULL;
  if (build_headers(req, &hdrs))
    return fp_diag_set(d, FP_ERR_INVAL, "%s: a request header holds CR/LF or ':' in its name",
                       what);
  x.h = curl_easy_init();
  if (!x.h) {
    free_headers(hdrs);
    return fp_diag_set(d, FP_ERR_NOMEM, "%s: curl_easy_init failed", what);
  }
  char errbuf[CURL_ERROR_SIZE];
  errbuf[0] = '\0';
  CURL *h = x.h;
  curl_easy_setopt(h, CURLOPT_URL, req->url);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, req->follow_redirects ? 1L : 0L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 10000L);
  if (req->timeout_ms > 0) curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms);
  if (req->low_speed_secs > 0) {
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, req->low_speed_secs);
  }
  if (req->no_proxy) curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  if (req->ca_bundle && *req->ca_bundle) curl_easy_setopt(h, CURLOPT_CAINFO, req->ca_bundle);
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, NULL);
  set_method(h, req);

  CURLcode rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
  fp_err e = rc == CURLE_OK ? FP_OK : curl_err(&x, rc, errbuf);
  curl_easy_cleanup(h);
  free_headers(hdrs);
  return e;
}
