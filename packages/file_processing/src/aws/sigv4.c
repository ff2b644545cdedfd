/* sigv4.c — AWS Signature Version 4 over OpenSSL: canonical request, string to sign,
 * signing key chain and the Authorization header; also the creds value helpers, SHA-256
 * hex and the SigV4/S3 URI encoder.
 *
 * Canonical URI: with normalize_path (most services) dot segments are removed, empty
 * segments collapsed and the wire path URI-encoded once more ('%' becomes %25: the
 * "double encoding" the spec asks for); without it (S3) the wire path is used as given.
 * Canonical query: every name and value is percent-decoded and re-encoded (RFC 3986
 * unreserved kept, upper-case hex), so an already-encoded query is not encoded twice;
 * pairs sorted by name then value. Canonical headers: names lower-cased, values trimmed
 * and whitespace runs (including obs-fold newlines, and inside quotes as botocore and the
 * aws-c-auth suite do) folded to one space; repeated names joined with ',' in the order
 * given; sorted by name. */
#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws_int.h"
#include "fp/fp_buf.h"

/* Limits: a request beyond these is not something we would ever send. */
#define MAX_PATH_BYTES ((size_t)16 << 10)
#define MAX_QUERY_BYTES ((size_t)32 << 10)
#define MAX_HEADERS 128
#define MAX_HEADER_NAME 128
#define MAX_HEADER_VALUE ((size_t)16 << 10)
#define MAX_CANONICAL ((size_t)256 << 10)
#define MAX_QUERY_PAIRS 256
#define MAX_SCOPE_PART 64

/* ---- creds value helpers -------------------------------------------------------------- */

static void wipe_free(char *s) {
  if (!s) return;
  OPENSSL_cleanse(s, strlen(s));
  free(s);
}

void fp_aws_creds_clear(fp_aws_creds *c) {
  if (!c) return;
  free(c->access_key_id);
  wipe_free(c->secret_access_key);
  wipe_free(c->session_token);
  memset(c, 0, sizeof *c);
}

fp_err fp_aws_creds_copy(fp_aws_creds *dst, const fp_aws_creds *src) {
  if (!dst || !src) return FP_ERR_INVAL;
  memset(dst, 0, sizeof *dst);
  dst->expiration = src->expiration;
  memcpy(dst->source, src->source, sizeof dst->source);
  dst->source[sizeof dst->source - 1] = '\0';
  dst->access_key_id = src->access_key_id ? strdup(src->access_key_id) : NULL;
  dst->secret_access_key = src->secret_access_key ? strdup(src->secret_access_key) : NULL;
  dst->session_token = src->session_token ? strdup(src->session_token) : NULL;
  if ((src->access_key_id && !dst->access_key_id) ||
      (src->secret_access_key && !dst->secret_access_key) ||
      (src->session_token && !dst->session_token)) {
    fp_aws_creds_clear(dst);
    return FP_ERR_NOMEM;
  }
  return FP_OK;
}

/* ---- hashing and encoding ------------------------------------------------------------- */

static const char HEX_LOWER[] = "0123456789abcdef";
static const char HEX_UPPER[] = "0123456789ABCDEF";

static void hex_lower(const unsigned char *p, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = HEX_LOWER[p[i] >> 4];
    out[2 * i + 1] = HEX_LOWER[p[i] & 15];
  }
  out[2 * n] = '\0';
}

void fp_sha256_hex(const void *data, size_t n, char out[65]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (!EVP_Digest(data ? data : "", n, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
    out[0] = '\0'; /* only on OpenSSL failure; callers compare against 64 hex digits */
    return;
  }
  hex_lower(md, 32, out);
}

static bool unreserved(unsigned char c) {
  return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

/* Appends the encoding of s[0, n) to b. */
static fp_err encode_into(fp_buf *b, const char *s, size_t n, bool keep_slash) {
  fp_err e = fp_buf_reserve(b, n);
  for (size_t i = 0; !e && i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (unreserved(c) || (keep_slash && c == '/')) {
      e = fp_buf_putc(b, (char)c);
    } else {
      char t[3] = {'%', HEX_UPPER[c >> 4], HEX_UPPER[c & 15]};
      e = fp_buf_append(b, t, 3);
    }
  }
  return e;
}

char *fp_aws_uri_encode(const char *s, size_t n, bool keep_slash) {
  if (!s || n > ((size_t)64 << 20)) return NULL;
  fp_buf b;
  fp_buf_init(&b, 3 * n + 1);
  /* appending "" NUL-terminates even an empty result */
  if (fp_buf_append(&b, "", 0) || encode_into(&b, s, n, keep_slash)) {
    fp_buf_free(&b);
    return NULL;
  }
  return fp_buf_take(&b);
}

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Percent-decodes s[0, n) into b ('+' stays '+'; a stray '%' stays literal). */
static fp_err decode_into(fp_buf *b, const char *s, size_t n) {
  fp_err e = FP_OK;
  for (size_t i = 0; !e && i < n; i++) {
    int hi, lo;
    if (s[i] == '%' && i + 2 < n && (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
        (lo = hexval((unsigned char)s[i + 2])) >= 0) {
      e = fp_buf_putc(b, (char)(hi * 16 + lo));
      i += 2;
    } else {
      e = fp_buf_putc(b, s[i]);
    }
  }
  return e;
}

/* ---- canonical URI -------------------------------------------------------------------- */

/* Removes dot segments and empty segments (botocore's remove_dot_segments): the result
 * starts with '/' when path does and keeps a trailing '/' when something is left. */
static fp_err normalize_path(const char *path, size_t n, fp_buf *out) {
  /* out holds "/a/b": every kept segment is preceded by '/', so ".." cuts back to the last
   * '/'. depth counts the kept segments. */
  size_t depth = 0;
  fp_err e = FP_OK;
  for (size_t i = 0; i < n && !e;) {
    size_t j = i;
    while (j < n && path[j] != '/') j++;
    size_t len = j - i;
    const char *seg = path + i;
    if (len == 2 && seg[0] == '.' && seg[1] == '.') {
      if (depth) {
        while (out->len && out->data[--out->len] != '/') {
        }
        out->data[out->len] = '\0';
        depth--;
      }
    } else if (len > 0 && !(len == 1 && seg[0] == '.')) {
      depth++;
      e = fp_buf_putc(out, '/');
      if (!e) e = fp_buf_append(out, seg, len);
    }
    i = j + 1;
  }
  if (e) return e;
  bool lead = n && path[0] == '/';
  bool trail = n && path[n - 1] == '/' && depth > 0;
  if (depth == 0) return lead ? fp_buf_putc(out, '/') : FP_OK;
  if (!lead) memmove(out->data, out->data + 1, out->len--); /* drop the leading '/' */
  return trail ? fp_buf_putc(out, '/') : FP_OK;
}

static fp_err append_canonical_uri(fp_buf *cr, const char *path, bool normalize) {
  size_t n = strlen(path);
  if (n == 0) return fp_buf_putc(cr, '/');
  if (!normalize) return fp_buf_append(cr, path, n);
  fp_buf norm;
  fp_buf_init(&norm, MAX_PATH_BYTES);
  fp_err e = fp_buf_reserve(&norm, n);
  if (!e) e = normalize_path(path, n, &norm);
  if (!e && norm.len == 0) e = fp_buf_putc(&norm, '/');
  if (!e) e = encode_into(cr, norm.data, norm.len, true);
  fp_buf_free(&norm);
  return e;
}

/* ---- canonical query ------------------------------------------------------------------ */

typedef struct qpair {
  char *name, *value; /* encoded, owned */
} qpair;

static int qpair_cmp(const void *a, const void *b) {
  const qpair *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : strcmp(x->value, y->value);
}

/* decode-then-encode of s[0, n); owned result in *out. */
static fp_err reencode(const char *s, size_t n, char **out) {
  fp_buf raw, enc;
  fp_buf_init(&raw, MAX_QUERY_BYTES);
  fp_buf_init(&enc, 3 * MAX_QUERY_BYTES);
  fp_err e = fp_buf_append(&raw, "", 0); /* NUL-terminated even when empty */
  if (!e) e = decode_into(&raw, s, n);
  if (!e) e = fp_buf_append(&enc, "", 0);
  if (!e) e = encode_into(&enc, raw.data, raw.len, false);
  fp_buf_free(&raw);
  if (e) {
    fp_buf_free(&enc);
    return e;
  }
  *out = fp_buf_take(&enc);
  return *out ? FP_OK : FP_ERR_NOMEM;
}

static fp_err append_canonical_query(fp_buf *cr, const char *query) {
  if (!query || !*query) return FP_OK;
  qpair pairs[MAX_QUERY_PAIRS];
  size_t np = 0;
  fp_err e = FP_OK;
  const char *p = query;
  while (!e && *p) {
    size_t len = strcspn(p, "&");
    if (len) {
      const char *eq = memchr(p, '=', len);
      size_t nlen = eq ? (size_t)(eq - p) : len;
      if (np == MAX_QUERY_PAIRS) {
        e = FP_ERR_LIMIT;
        break;
      }
      pairs[np].name = pairs[np].value = NULL;
      e = reencode(p, nlen, &pairs[np].name);
      if (!e) e = reencode(eq ? eq + 1 : p + len, eq ? len - nlen - 1 : 0, &pairs[np].value);
      np++;
    }
    p += len;
    if (*p == '&') p++;
  }
  if (!e) {
    qsort(pairs, np, sizeof pairs[0], qpair_cmp);
    for (size_t i = 0; !e && i < np; i++)
      e = fp_buf_appendf(cr, "%s%s=%s", i ? "&" : "", pairs[i].name, pairs[i].value);
  }
  for (size_t i = 0; i < np; i++) {
    free(pairs[i].name);
    free(pairs[i].value);
  }
  return e;
}

/* ---- canonical headers ---------------------------------------------------------------- */

typedef struct hdr {
  char name[MAX_HEADER_NAME + 1]; /* lower-cased */
  const char *value;
  size_t index; /* original position: same-name values keep their order */
} hdr;

static int hdr_cmp(const void *a, const void *b) {
  const hdr *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  if (c) return c;
  return x->index < y->index ? -1 : x->index > y->index;
}

static bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Trimmed value with whitespace runs folded to one space. */
static fp_err append_trimmed(fp_buf *b, const char *v) {
  while (is_ws(*v)) v++;
  bool pending = false;
  fp_err e = FP_OK;
  for (; *v && !e; v++) {
    if (is_ws(*v)) {
      pending = true;
      continue;
    }
    if (pending) e = fp_buf_putc(b, ' ');
    pending = false;
    if (!e) e = fp_buf_putc(b, *v);
  }
  return e;
}

static bool token_char(unsigned char c) {
  return c > 0x20 && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", c);
}

/* Validates and lower-cases the headers into hs (sorted); *nh is the count kept. */
static fp_err collect_headers(const fp_sigv4_request *req, bool omit_token, hdr *hs, size_t *nh,
                              fp_diag *d) {
  size_t k = 0;
  for (size_t i = 0; i < req->nheaders; i++) {
    const fp_http_header *h = &req->headers[i];
    if (!h->name || !h->value)
      return fp_diag_set(d, FP_ERR_INVAL, "SigV4: header %zu has no name or value", i);
    size_t nl = strlen(h->name);
    if (nl == 0 || nl > MAX_HEADER_NAME)
      return fp_diag_set(d, nl ? FP_ERR_LIMIT : FP_ERR_INVAL, "SigV4: header name length %zu", nl);
    if (strlen(h->value) > MAX_HEADER_VALUE)
      return fp_diag_set(d, FP_ERR_LIMIT, "SigV4: value of header %s exceeds %zu bytes", h->name,
                         MAX_HEADER_VALUE);
    for (size_t j = 0; j < nl; j++) {
      unsigned char c = (unsigned char)h->name[j];
      if (!token_char(c))
        return fp_diag_set(d, FP_ERR_INVAL, "SigV4: invalid character in header name '%s'",
                           h->name);
      hs[k].name[j] = (char)tolower(c);
    }
    hs[k].name[nl] = '\0';
    if (omit_token && strcmp(hs[k].name, "x-amz-security-token") == 0) continue;
    hs[k].value = h->value;
    hs[k].index = i;
    k++;
  }
  qsort(hs, k, sizeof hs[0], hdr_cmp);
  *nh = k;
  return FP_OK;
}

/* Appends "name:v1,v2\n" lines to cr and "a;b" to signed. */
static fp_err append_canonical_headers(fp_buf *cr, fp_buf *signed_hdrs, const hdr *hs, size_t nh) {
  fp_err e = FP_OK;
  for (size_t i = 0; i < nh && !e; i++) {
    bool first = i == 0 || strcmp(hs[i].name, hs[i - 1].name) != 0;
    bool last = i + 1 == nh || strcmp(hs[i].name, hs[i + 1].name) != 0;
    if (first) {
      e = fp_buf_appendf(cr, "%s:", hs[i].name);
      if (!e && signed_hdrs->len) e = fp_buf_putc(signed_hdrs, ';');
      if (!e) e = fp_buf_puts(signed_hdrs, hs[i].name);
    } else {
      e = fp_buf_putc(cr, ',');
    }
    if (!e) e = append_trimmed(cr, hs[i].value);
    if (!e && last) e = fp_buf_putc(cr, '\n');
  }
  return e;
}

/* ---- signing key and signature -------------------------------------------------------- */

static bool hmac(const void *key, size_t klen, const void *msg, size_t mlen,
                 unsigned char out[32]) {
  unsigned int olen = 0;
  return HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &olen) && olen == 32;
}

fp_err fp__sigv4_signature(const char *secret, const char *date8, const char *region,
                           const char *service, const char *sts, size_t sts_len, char out[65]) {
  size_t sl = strlen(secret);
  if (sl > 256) return FP_ERR_LIMIT;
  char k0[4 + 257];
  memcpy(k0, "AWS4", 4);
  memcpy(k0 + 4, secret, sl);
  unsigned char k1[32], k2[32], k3[32], k4[32], sig[32];
  bool ok = hmac(k0, 4 + sl, date8, strlen(date8), k1) &&
            hmac(k1, 32, region, strlen(region), k2) &&
            hmac(k2, 32, service, strlen(service), k3) && hmac(k3, 32, "aws4_request", 12, k4) &&
            hmac(k4, 32, sts, sts_len, sig);
  OPENSSL_cleanse(k0, sizeof k0);
  OPENSSL_cleanse(k1, sizeof k1);
  OPENSSL_cleanse(k2, sizeof k2);
  OPENSSL_cleanse(k3, sizeof k3);
  OPENSSL_cleanse(k4, sizeof k4);
  if (!ok) return FP_ERR_INTERNAL;
  hex_lower(sig, 32, out);
  return FP_OK;
}

void fp__amz_date(time_t t, char out[17]) {
  struct tm tm;
  if (!gmtime_r(&t, &tm) || strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16) out[0] = '\0';
}

/* ---- fp_sigv4_sign -------------------------------------------------------------------- */

static bool scope_part_ok(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > MAX_SCOPE_PART) return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.') return false;
  return true;
}

static bool payload_hash_ok(const char *h) {
  if (!h) return false;
  size_t n = strlen(h);
  if (n == 64) {
    for (size_t i = 0; i < n; i++)
      if (!strchr(HEX_LOWER, h[i])) return false;
    return true;
  }
  /* UNSIGNED-PAYLOAD, STREAMING-* and other documented literals. */
  if (n > 64) return false;
  for (size_t i = 0; i < n; i++)
    if (!isupper((unsigned char)h[i]) && !isdigit((unsigned char)h[i]) && h[i] != '-') return false;
  return n > 0;
}

static fp_err check_inputs(const fp_sigv4_request *req, const fp_aws_creds *creds,
                           const fp_sigv4_opts *o, fp_diag *d) {
  if (!req || !creds || !o || !req->method || !req->path || (req->nheaders && !req->headers))
    return fp_diag_set(d, FP_ERR_INVAL, "SigV4: NULL argument");
  if (!creds->access_key_id || !*creds->access_key_id || !creds->secret_access_key ||
      !*creds->secret_access_key)
    return fp_diag_set(d, FP_ERR_INVAL, "SigV4: credentials without key id or secret");
  if (strlen(creds->access_key_id) > 128 || strlen(creds->secret_access_key) > 256)
    return fp_diag_set(d, FP_ERR_LIMIT, "SigV4: credentials longer than AWS issues");
  for (const char *p = creds->access_key_id; *p; p++)
    if (!isalnum((unsigned char)*p))
      return fp_diag_set(d, FP_ERR_INVAL, "SigV4: access key id is not alphanumeric");
  if (!scope_part_ok(o->region) || !scope_part_ok(o->service))
    return fp_diag_set(d, FP_ERR_INVAL, "SigV4: bad region or service name");
  size_t ml = strlen(req->method);
  if (ml == 0 || ml > 16) return fp_diag_set(d, FP_ERR_INVAL, "SigV4: bad method");
  for (const char *p = req->method; *p; p++)
    if (!isupper((unsigned char)*p)) return fp_diag_set(d, FP_ERR_INVAL, "SigV4: bad method");
  if (strlen(req->path) > MAX_PATH_BYTES)
    return fp_diag_set(d, FP_ERR_LIMIT, "SigV4: path longer than %zu bytes", MAX_PATH_BYTES);
  if (req->query && strlen(req->query) > MAX_QUERY_BYTES)
    return fp_diag_set(d, FP_ERR_LIMIT, "SigV4: query longer than %zu bytes", MAX_QUERY_BYTES);
  if (req->nheaders > MAX_HEADERS)
    return fp_diag_set(d, FP_ERR_LIMIT, "SigV4: more than %d headers", MAX_HEADERS);
  if (!payload_hash_ok(req->payload_hash))
    return fp_diag_set(d, FP_ERR_INVAL,
                       "SigV4: payload_hash must be lowercase hex SHA-256 or "
                       "a literal such as UNSIGNED-PAYLOAD");
  for (const char *p = req->path; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      return fp_diag_set(d, FP_ERR_INVAL, "SigV4: control character in path");
  return FP_OK;
}

static fp_err build_canonical(const fp_sigv4_request *req, const fp_sigv4_opts *o, fp_buf *cr,
                              fp_buf *sh, fp_diag *d) {
  hdr hs[MAX_HEADERS];
  size_t nh = 0;
  fp_err e = collect_headers(req, o->omit_session_token, hs, &nh, d);
  if (e) return e;
  e = fp_buf_appendf(cr, "%s\n", req->method);
  if (!e) e = append_canonical_uri(cr, req->path, o->normalize_path);
  if (!e) e = fp_buf_putc(cr, '\n');
  if (!e) e = append_canonical_query(cr, req->query);
  if (!e) e = fp_buf_putc(cr, '\n');
  if (!e) e = append_canonical_headers(cr, sh, hs, nh);
  if (!e) e = fp_buf_appendf(cr, "\n%s\n%s", sh->data ? sh->data : "", req->payload_hash);
  if (e == FP_ERR_LIMIT)
    return fp_diag_set(d, e,
                       "SigV4: canonical request (%zu bytes max) or signed header list "
                       "(%zu max) too long",
                       cr->max, sh->max);
  return e ? fp_diag_set(d, e, "SigV4: building the canonical request") : FP_OK;
}

fp_err fp_sigv4_sign(const fp_sigv4_request *req, const fp_aws_creds *creds, const fp_sigv4_opts *o,
                     fp_sigv4_result *res, fp_diag *d) {
  if (!res) return fp_diag_set(d, FP_ERR_INVAL, "SigV4: NULL result");
  memset(res, 0, sizeof *res);
  fp_err e = check_inputs(req, creds, o, d);
  if (e) return e;
  fp__amz_date(o->when, res->amz_date);
  if (!res->amz_date[0]) return fp_diag_set(d, FP_ERR_INVAL, "SigV4: bad signing time");
  char date8[9];
  memcpy(date8, res->amz_date, 8);
  date8[8] = '\0';

  fp_buf cr, sh, sts;
  fp_buf_init(&cr, MAX_CANONICAL);
  fp_buf_init(&sh, sizeof res->signed_headers - 1);
  fp_buf_init(&sts, 1024);
  e = build_canonical(req, o, &cr, &sh, d);
  if (e == FP_OK && sh.len == 0)
    e = fp_diag_set(d, FP_ERR_INVAL, "SigV4: no headers to sign (host is required)");
  char crhash[65];
  if (!e) {
    fp_sha256_hex(cr.data, cr.len, crhash);
    e = fp_buf_appendf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", res->amz_date,
                       date8, o->region, o->service, crhash);
    if (e) fp_diag_set(d, e, "SigV4: building the string to sign");
  }
  if (!e) {
    e = fp__sigv4_signature(creds->secret_access_key, date8, o->region, o->service, sts.data,
                            sts.len, res->signature);
    if (e) fp_diag_set(d, e, "SigV4: HMAC failed");
  }
  if (!e) {
    int n = snprintf(res->authorization, sizeof res->authorization,
                     "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
                     "Signature=%s",
                     creds->access_key_id, date8, o->region, o->service, sh.data, res->signature);
    if (n < 0 || (size_t)n >= sizeof res->authorization)
      e = fp_diag_set(d, FP_ERR_LIMIT, "SigV4: Authorization header too long");
  }
  if (!e) {
    memcpy(res->signed_headers, sh.data, sh.len + 1);
    res->canonical_request = fp_buf_take(&cr);
    res->string_to_sign = fp_buf_take(&sts);
    if (!res->canonical_request || !res->string_to_sign) e = fp_diag_set(d, FP_ERR_NOMEM, "SigV4");
  }
  fp_buf_free(&cr);
  fp_buf_free(&sh);
  fp_buf_free(&sts);
  if (e) fp_sigv4_result_clear(res);
  return e;
}

void fp_sigv4_result_clear(fp_sigv4_result *res) {
  if (!res) return;
  free(res->canonical_request);
  free(res->string_to_sign);
  OPENSSL_cleanse(res, sizeof *res);
}
