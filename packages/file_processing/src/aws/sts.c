/* sts.c — STS AssumeRoleWithWebIdentity (unsigned form POST, IRSA) and AssumeRole (signed,
 * for role_arn + source_profile), their XML responses, and the small text helpers they
 * need: a bounded XML tag extractor (no XML library: STS answers a fixed, flat shape) and
 * an ISO-8601 parser. Request bodies and responses carry secrets: wiped after use. */
#include <ctype.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aws/aws_int.h"
#include "fp/fp_log.h"

#define STS_ATTEMPTS 3
#define STS_MSG_MAX 300

/* ---- XML ---------------------------------------------------------------------------------- */

/* Position of needle in hay[0, n), or NULL; never reads past n. */
static const char *find_bounded(const char *hay, size_t n, const char *needle, size_t nl) {
  if (nl == 0 || nl > n) return NULL;
  for (size_t i = 0; i + nl <= n; i++)
    if (hay[i] == needle[0] && memcmp(hay + i, needle, nl) == 0) return hay + i;
  return NULL;
}

bool fp__xml_find(const char *xml, size_t n, const char *tag, const char **inner,
                  size_t *inner_len) {
  size_t tl = strlen(tag);
  if (!xml || tl == 0 || tl > 64) return false;
  char open[70], close[70];
  open[0] = '<';
  memcpy(open + 1, tag, tl);
  close[0] = '<', close[1] = '/';
  memcpy(close + 2, tag, tl);
  close[tl + 2] = '>';
  const char *p = xml, *end = xml + n;
  while (p < end) {
    const char *o = find_bounded(p, (size_t)(end - p), open, tl + 1);
    if (!o) return false;
    const char *after = o + tl + 1;
    if (after >= end) return false;
    char c = *after;
    if (c != '>' && c != '/' && !isspace((unsigned char)c)) { /* <TagLonger> */
      p = after;
      continue;
    }
    const char *gt = memchr(after, '>', (size_t)(end - after));
    if (!gt) return false;
    if (gt[-1] == '/') { /* <Tag/> */
      *inner = gt + 1;
      *inner_len = 0;
      return true;
    }
    const char *cl = find_bounded(gt + 1, (size_t)(end - gt - 1), close, tl + 3);
    if (!cl) return false;
    *inner = gt + 1;
    *inner_len = (size_t)(cl - gt - 1);
    return true;
  }
  return false;
}

/* Encodes code point cp as UTF-8 into out; returns bytes written (0 if invalid). */
static size_t utf8_put(unsigned long cp, char *out) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  if (cp < 0x80) return out[0] = (char)cp, 1;
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Decodes one entity at s[0, n) (s[0] == '&'); *used = bytes consumed, 0 if none. */
static size_t entity(const char *s, size_t n, char out[4], size_t *used) {
  static const struct {
    const char *name;
    char c;
  } named[] = {{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&apos;", '\''}};
  *used = 0;
  for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
    size_t l = strlen(named[i].name);
    if (n >= l && memcmp(s, named[i].name, l) == 0) return *used = l, out[0] = named[i].c, 1;
  }
  if (n < 4 || s[1] != '#') return 0;
  bool hex = s[2] == 'x' || s[2] == 'X';
  size_t i = hex ? 3 : 2;
  unsigned long cp = 0;
  size_t digits = 0;
  for (; i < n && i < 12 && s[i] != ';'; i++, digits++) {
    int v = isdigit((unsigned char)s[i])           ? s[i] - '0'
            : hex && isxdigit((unsigned char)s[i]) ? (tolower((unsigned char)s[i]) - 'a' + 10)
                                                   : -1;
    if (v < 0) return 0;
    cp = cp * (hex ? 16 : 10) + (unsigned long)v;
  }
  if (i >= n || s[i] != ';' || digits == 0) return 0;
  size_t w = utf8_put(cp, out);
  if (w) *used = i + 1;
  return w;
}

static fp_err unescape(const char *s, size_t n, fp_buf *b) {
  fp_err e = FP_OK;
  for (size_t i = 0; i < n && !e;) {
    if (s[i] == '&') {
      char u[4];
      size_t used;
      size_t w = entity(s + i, n - i, u, &used);
      if (w) {
        e = fp_buf_append(b, u, w);
        i += used;
        continue;
      }
    }
    e = fp_buf_putc(b, s[i++]);
  }
  return e;
}

fp_err fp__xml_text(const char *xml, size_t n, const char *tag, char *out, size_t outsz) {
  const char *in;
  size_t il;
  if (!outsz) return FP_ERR_LIMIT;
  out[0] = '\0';
  if (!fp__xml_find(xml, n, tag, &in, &il)) return FP_ERR_NOT_FOUND;
  /* Room for the NUL only: fp_buf_init(0) would mean "no cap", not "nothing fits" (and
   * unescaping never turns non-empty text into empty). */
  if (outsz == 1) return il ? FP_ERR_LIMIT : FP_OK;
  fp_buf b;
  fp_buf_init(&b, outsz - 1);
  fp_err e = fp_buf_append(&b, "", 0); /* NUL-terminated even when empty */
  if (!e) e = unescape(in, il, &b);
  if (!e) memcpy(out, b.data, b.len + 1);
  if (b.data) OPENSSL_cleanse(b.data, b.cap);
  fp_buf_free(&b);
  return e;
}

char *fp__xml_text_dup(const char *xml, size_t n, const char *tag) {
  const char *in;
  size_t il;
  if (!fp__xml_find(xml, n, tag, &in, &il)) return NULL;
  fp_buf b;
  fp_buf_init(&b, il);
  if (fp_buf_append(&b, "", 0) || unescape(in, il, &b)) {
    fp_buf_free(&b);
    return NULL;
  }
  return fp_buf_take(&b);
}

/* ---- ISO-8601 ----------------------------------------------------------------------------- */

static bool digits(const char *s, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)s[i])) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

fp_err fp__parse_iso8601(const char *s, time_t *out) {
  int Y, M, D, h, m, sec;
  if (!s || strlen(s) < 19) return FP_ERR_INVAL;
  if (!digits(s, 4, &Y) || s[4] != '-' || !digits(s + 5, 2, &M) || s[7] != '-' ||
      !digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &m) || s[16] != ':' ||
      !digits(s + 17, 2, &sec))
    return FP_ERR_INVAL;
  if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60) return FP_ERR_INVAL;
  const char *p = s + 19;
  if (*p == '.')
    for (p++; isdigit((unsigned char)*p); p++) {
    }
  long off = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int oh, om;
    int sign = *p == '-' ? -1 : 1;
    p++;
    if (!digits(p, 2, &oh)) return FP_ERR_INVAL;
    p += 2;
    if (*p == ':') p++;
    if (!digits(p, 2, &om)) return FP_ERR_INVAL;
    p += 2;
    off = sign * (oh * 3600L + om * 60L);
  } else if (*p) {
    return FP_ERR_INVAL;
  }
  if (*p) return FP_ERR_INVAL;
  struct tm tm = {0};
  tm.tm_year = Y - 1900, tm.tm_mon = M - 1, tm.tm_mday = D;
  tm.tm_hour = h, tm.tm_min = m, tm.tm_sec = sec;
  time_t t = timegm(&tm);
  if (t == (time_t)-1) return FP_ERR_INVAL;
  *out = t - off;
  return FP_OK;
}

/* ---- response parsing ----------------------------------------------------------------------- */

static bool code_is(const char *code, const char *const *list) {
  for (; *list; list++)
    if (strcmp(code, *list) == 0) return true;
  return false;
}

static fp_err sts_error(long status, const char *xml, size_t n, const char *action,
                        const char *endpoint, fp_diag *d) {
  static const char *const forbidden[] = {"AccessDenied",
                                          "InvalidIdentityToken",
                                          "ExpiredToken",
                                          "ExpiredTokenException",
                                          "IDPRejectedClaim",
                                          "InvalidClientTokenId",
                                          "SignatureDoesNotMatch",
                                          "RegionDisabledException",
                                          "UnrecognizedClientException",
                                          NULL};
  static const char *const transient[] = {
      "Throttling",         "ThrottlingException", "RequestLimitExceeded", "IDPCommunicationError",
      "ServiceUnavailable", "InternalFailure",     "RequestTimeout",       NULL};
  char code[128], msg[STS_MSG_MAX];
  if (fp__xml_text(xml, n, "Code", code, sizeof code) != FP_OK) code[0] = '\0';
  if (fp__xml_text(xml, n, "Message", msg, sizeof msg) != FP_OK) msg[0] = '\0';
  for (char *p = msg; *p; p++)
    if ((unsigned char)*p < 0x20) *p = ' ';
  fp_err e;
  if (code[0] && code_is(code, forbidden))
    e = FP_ERR_FORBIDDEN;
  else if ((code[0] && code_is(code, transient)) || status >= 500 || status == 429)
    e = FP_ERR_TRANSIENT;
  else if (status == 401 || status == 403)
    e = FP_ERR_FORBIDDEN;
  else if (status >= 400)
    e = FP_ERR_CONFIG;
  else
    e = FP_ERR_IO;
  return fp_diag_set(d, e, "STS %s at %s failed: HTTP %ld%s%s%s%s", action, endpoint, status,
                     code[0] ? " " : "", code, msg[0] ? ": " : "", msg);
}

fp_err fp__sts_parse(long status, const char *xml, size_t n, const char *action,
                     const char *endpoint, fp_aws_creds *out, fp_diag *d) {
  memset(out, 0, sizeof *out);
  const char *cr;
  size_t cl;
  if (status != 200 || !fp__xml_find(xml, n, "Credentials", &cr, &cl))
    return sts_error(status, xml, n, action, endpoint, d);
  out->access_key_id = fp__xml_text_dup(cr, cl, "AccessKeyId");
  out->secret_access_key = fp__xml_text_dup(cr, cl, "SecretAccessKey");
  out->session_token = fp__xml_text_dup(cr, cl, "SessionToken");
  char exp[64];
  fp_err e = FP_OK;
  if (!out->access_key_id || !out->secret_access_key || !out->session_token ||
      !*out->access_key_id || !*out->secret_access_key)
    e = fp_diag_set(d, FP_ERR_IO,
                    "STS %s at %s: response lacks AccessKeyId, SecretAccessKey "
                    "or SessionToken",
                    action, endpoint);
  else if (fp__xml_text(cr, cl, "Expiration", exp, sizeof exp) != FP_OK ||
           fp__parse_iso8601(exp, &out->expiration) != FP_OK)
    e = fp_diag_set(d, FP_ERR_IO, "STS %s at %s: missing or malformed Expiration", action,
                    endpoint);
  if (e) fp_aws_creds_clear(out);
  return e;
}

/* ---- the calls ---------------------------------------------------------------------------- */

/* "&Name=<encoded value>" */
static fp_err form_add(fp_buf *b, const char *name, const char *value) {
  char *enc = fp_aws_uri_encode(value, strlen(value), false);
  if (!enc) return FP_ERR_NOMEM;
  fp_err e = fp_buf_appendf(b, "%s%s=%s", b->len ? "&" : "", name, enc);
  OPENSSL_cleanse(enc, strlen(enc));
  free(enc);
  return e;
}

static void wipe_buf(fp_buf *b) {
  if (b->data) OPENSSL_cleanse(b->data, b->cap);
  fp_buf_free(b);
}

/* One POST of form to STS, signed with signer when not NULL; retries transient failures. */
static fp_err sts_post(const fp_config *cfg, const char *region, const char *action,
                       const fp_buf *form, const fp_aws_creds *signer, fp_aws_creds *out,
                       fp_diag *d) {
  char ep[512], url[520], hostport[300];
  bool custom;
  fp_aws_endpoint(cfg, "sts", region, ep, sizeof ep, &custom);
  if (!ep[0]) return fp_diag_set(d, FP_ERR_CONFIG, "STS: no endpoint for region '%s'", region);
  size_t el = strlen(ep);
  snprintf(url, sizeof url, "%s%s", ep, el && ep[el - 1] == '/' ? "" : "/");
  if (fp__url_parts(url, hostport, sizeof hostport, NULL, 0, NULL))
    return fp_diag_set(d, FP_ERR_CONFIG, "STS: bad endpoint URL %s", ep);
  char masked[512];
  fp_mask_url(ep, masked, sizeof masked);
  char body_hash[65];
  fp_sha256_hex(form->data, form->len, body_hash);
  char what[96]; /* transport errors name the call, not just "STS" */
  snprintf(what, sizeof what, "STS %s", action);
  fp_err e = FP_ERR_TRANSIENT;
  for (int attempt = 1; attempt <= STS_ATTEMPTS; attempt++) {
    fp_http_header h[6] = {{"Host", hostport},
                           {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                           {"Accept", "application/xml"}};
    size_t nh = 3;
    fp_sigv4_result sig;
    memset(&sig, 0, sizeof sig);
    char amz[17]; /* referenced by h until the request is done */
    if (signer) {
      time_t now = time(NULL);
      fp__amz_date(now, amz);
      h[nh++] = (fp_http_header){"X-Amz-Date", amz};
      if (signer->session_token)
        h[nh++] = (fp_http_header){"X-Amz-Security-Token", signer->session_token};
      /* Accept is not signed: sign host, content-type, x-amz-*. */
      fp_http_header sh[4] = {h[0], h[1], h[3]};
      size_t nsh = 3;
      if (signer->session_token) sh[nsh++] = h[4];
      fp_sigv4_request rq = {"POST", "/", NULL, sh, nsh, body_hash};
      fp_sigv4_opts o = {region, "sts", now, true, false};
      e = fp_sigv4_sign(&rq, signer, &o, &sig, d);
      if (e) return e;
      h[nh++] = (fp_http_header){"Authorization", sig.authorization};
    }
    fp__http_req rq = {.method = "POST",
                       .url = url,
                       .headers = h,
                       .nheaders = nh,
                       .body = form->data,
                       .body_len = form->len,
                       .connect_timeout_ms = FP__STS_TIMEOUT_MS,
                       .timeout_ms = FP__STS_TIMEOUT_MS,
                       .max_body = FP__HTTP_DEF_MAX_BODY,
                       .ca_bundle = fp_config_get(cfg, "AWS_CA_BUNDLE"),
                       .what = what};
    fp__http_resp resp;
    fp__http_resp_init(&resp);
    fp_diag td;
    fp_diag_clear(&td);
    e = fp__http_do(&rq, &resp, &td);
    fp_sigv4_result_clear(&sig);
    if (!e) e = fp__sts_parse(resp.status, resp.body.data, resp.body.len, action, masked, out, &td);
    wipe_buf(&resp.body);
    fp__http_resp_free(&resp);
    if (e != FP_ERR_TRANSIENT || attempt == STS_ATTEMPTS) {
      if (e) fp_diag_set(d, e, "%s", td.msg);
      return e;
    }
    fp_warn("STS %s attempt %d failed, retrying: %s", action, attempt, td.msg);
    usleep((useconds_t)(100000u << (attempt - 1)));
  }
  return e;
}

static void default_session_name(char *out, size_t outsz) {
  snprintf(out, outsz, "file-processing-%lld", (long long)time(NULL));
}

fp_err fp__sts_assume_role_web_identity(const fp_config *cfg, const char *region,
                                        const char *role_arn, const char *session_name,
                                        const char *token, fp_aws_creds *out, fp_diag *d) {
  char sess[80];
  if (!session_name || !*session_name) default_session_name(sess, sizeof sess), session_name = sess;
  fp_buf form;
  fp_buf_init(&form, (size_t)64 << 10);
  fp_err e = form_add(&form, "Action", "AssumeRoleWithWebIdentity");
  if (!e) e = form_add(&form, "Version", "2011-06-15");
  if (!e) e = form_add(&form, "RoleArn", role_arn);
  if (!e) e = form_add(&form, "RoleSessionName", session_name);
  if (!e) e = form_add(&form, "WebIdentityToken", token);
  if (e) {
    wipe_buf(&form);
    return fp_diag_set(d, e, "STS: web identity request too large");
  }
  e = sts_post(cfg, region, "AssumeRoleWithWebIdentity", &form, NULL, out, d);
  wipe_buf(&form);
  return e;
}

fp_err fp__sts_assume_role(const fp_config *cfg, const char *region, const fp_aws_creds *src,
                           const char *role_arn, const char *session_name, const char *external_id,
                           long duration_s, fp_aws_creds *out, fp_diag *d) {
  char sess[80], dur[24];
  if (!session_name || !*session_name) default_session_name(sess, sizeof sess), session_name = sess;
  fp_buf form;
  fp_buf_init(&form, (size_t)16 << 10);
  fp_err e = form_add(&form, "Action", "AssumeRole");
  if (!e) e = form_add(&form, "Version", "2011-06-15");
  if (!e) e = form_add(&form, "RoleArn", role_arn);
  if (!e) e = form_add(&form, "RoleSessionName", session_name);
  if (!e && external_id && *external_id) e = form_add(&form, "ExternalId", external_id);
  if (!e && duration_s > 0) {
    snprintf(dur, sizeof dur, "%ld", duration_s);
    e = form_add(&form, "DurationSeconds", dur);
  }
  if (e) {
    wipe_buf(&form);
    return fp_diag_set(d, e, "STS: AssumeRole request too large");
  }
  e = sts_post(cfg, region, "AssumeRole", &form, src, out, d);
  wipe_buf(&form);
  return e;
}
