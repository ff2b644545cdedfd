/* creds.c — the AWS credential chain in the SDKs' order (environment, web identity,
 * shared files, container, IMDSv2) and the provider's cache.
 *
 * Cache: one mutex-protected copy. A caller finding it missing or within 5 minutes of
 * expiry becomes the single refresher (the lock is not held during I/O); callers arriving
 * meanwhile wait on a condition variable and take the refresher's result, so a burst of
 * threads costs one STS call. If a refresh fails while the cached credentials have not yet
 * expired, those are returned (with a warning) rather than failing the caller.
 *
 * A source that is configured and fails stops the chain with its error (as the SDKs do);
 * a source that is not configured is noted and skipped, and when none had credentials the
 * FP_ERR_FORBIDDEN message lists what was tried. Messages name sources and endpoints,
 * never a secret, session token or web identity token. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "aws/aws_int.h"
#include "fp/fp_log.h"

#define REFRESH_BEFORE_S 300  /* refresh 5 minutes before expiry */
#define CRED_CONNECT_MS 1000L /* container / IMDS */
#define CRED_TOTAL_MS 2000L
#define TOKEN_FILE_MAX ((size_t)64 << 10)
#define MAX_PROFILE_DEPTH 5
#define ECS_HOST "http://169.254.170.2"
#define IMDS_V4 "http://169.254.169.254"
#define IMDS_V6 "http://[fd00:ec2::254]"

struct fp_aws_cred_provider {
  const fp_config *cfg; /* borrowed */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool refreshing;   /* a thread is resolving the chain */
  unsigned long gen; /* bumped after every refresh */
  bool have;
  fp_aws_creds cached; /* valid when have */
  fp_err last_err;     /* outcome of the last refresh, for waiters */
  fp_diag last_diag;
};

/* What the chain tried, for the final "no credentials" message. */
typedef struct tried {
  char text[FP_DIAG_MSG_MAX - 64];
  size_t len;
} tried;

static void note(tried *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(tried *t, const char *fmt, ...) {
  if (t->len + 3 >= sizeof t->text) return;
  if (t->len) t->len += (size_t)snprintf(t->text + t->len, sizeof t->text - t->len, "; ");
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(t->text + t->len, sizeof t->text - t->len, fmt, ap);
  va_end(ap);
  if (n > 0) t->len += (size_t)n;
  if (t->len >= sizeof t->text) t->len = sizeof t->text - 1;
}

/* ---- small helpers ----------------------------------------------------------------------- */

static fp_err set_static(fp_aws_creds *out, const char *source, const char *ak, const char *sk,
                         const char *tok) {
  memset(out, 0, sizeof *out);
  snprintf(out->source, sizeof out->source, "%s", source);
  out->access_key_id = strdup(ak);
  out->secret_access_key = strdup(sk);
  out->session_token = tok && *tok ? strdup(tok) : NULL;
  if (!out->access_key_id || !out->secret_access_key || (tok && *tok && !out->session_token)) {
    fp_aws_creds_clear(out);
    return FP_ERR_NOMEM;
  }
  return FP_OK;
}

/* Reads a small secret file (token), trimmed; owned into *out (wipe + free). */
static fp_err read_token_file(const char *path, const char *what, char **out, fp_diag *d) {
  *out = NULL;
  fp_buf b;
  fp_buf_init(&b, TOKEN_FILE_MAX);
  int err = 0;
  fp_err e = fp_buf_read_file(&b, path, &err);
  if (e || !b.data) {
    if (b.data) OPENSSL_cleanse(b.data, b.cap);
    fp_buf_free(&b);
    if (e == FP_ERR_LIMIT)
      return fp_diag_set(d, e, "%s: %s is larger than %zu bytes", what, path, TOKEN_FILE_MAX);
    if (e == FP_ERR_NOMEM) return fp_diag_set(d, e, "%s: reading %s", what, path);
    if (e)
      return fp_diag_set(d, FP_ERR_CONFIG, "%s: cannot read %s: %s", what, path,
                         err ? strerror(err) : fp_strerror(e));
    return fp_diag_set(d, FP_ERR_CONFIG, "%s: %s is empty", what, path);
  }
  size_t s = 0, n = b.len;
  while (s < n && isspace((unsigned char)b.data[s])) s++;
  while (n > s && isspace((unsigned char)b.data[n - 1])) n--;
  if (n == s) {
    OPENSSL_cleanse(b.data, b.cap);
    fp_buf_free(&b);
    return fp_diag_set(d, FP_ERR_CONFIG, "%s: %s is empty", what, path);
  }
  memmove(b.data, b.data + s, n - s);
  b.data[n - s] = '\0';
  OPENSSL_cleanse(b.data + (n - s), b.cap - (n - s));
  *out = fp_buf_take(&b);
  return FP_OK;
}

static void free_secret(char *s) {
  if (!s) return;
  OPENSSL_cleanse(s, strlen(s));
  free(s);
}

static bool env_true(const fp_config *cfg, const char *key) {
  int v = 0;
  return fp_config_bool(cfg, key, 0, &v, NULL) == FP_OK && v;
}

/* ---- JSON credentials (container and IMDS) ---------------------------------------------- */

static const char *jstr(json_t *o, const char *k) {
  json_t *v = json_object_get(o, k);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

static fp_err parse_json_creds(const char *body, size_t n, const char *source, const char *what,
                               const char *url, fp_aws_creds *out, fp_diag *d) {
  json_error_t je;
  json_t *root = json_loadb(body, n, 0, &je);
  if (!json_is_object(root)) {
    json_decref(root);
    return fp_diag_set(d, FP_ERR_IO, "%s at %s: response is not a JSON object", what, url);
  }
  const char *code = jstr(root, "Code");
  const char *ak = jstr(root, "AccessKeyId"), *sk = jstr(root, "SecretAccessKey");
  const char *tok = jstr(root, "Token"), *exp = jstr(root, "Expiration");
  fp_err e = FP_OK;
  if (code && strcmp(code, "Success") != 0) {
    const char *m = jstr(root, "Message");
    e = fp_diag_set(d, FP_ERR_FORBIDDEN, "%s at %s: Code %.64s%s%.200s", what, url, code,
                    m ? ": " : "", m ? m : "");
  } else if (!ak || !sk || !*ak || !*sk) {
    e = fp_diag_set(d, FP_ERR_IO, "%s at %s: response lacks AccessKeyId or SecretAccessKey", what,
                    url);
  } else if ((e = set_static(out, source, ak, sk, tok)) != FP_OK) {
    fp_diag_set(d, e, "%s", what);
  } else if (exp && fp__parse_iso8601(exp, &out->expiration) != FP_OK) {
    fp_aws_creds_clear(out);
    e = fp_diag_set(d, FP_ERR_IO, "%s at %s: malformed Expiration", what, url);
  }
  json_decref(root);
  return e;
}

/* HTTP status → error for credential endpoints. */
static fp_err status_err(long status, const char *what, const char *url, fp_diag *d) {
  fp_err e = (status >= 500 || status == 429) ? FP_ERR_TRANSIENT : FP_ERR_FORBIDDEN;
  return fp_diag_set(d, e, "%s at %s answered HTTP %ld", what, url, status);
}

static void wipe_resp(fp__http_resp *r) {
  if (r->body.data) OPENSSL_cleanse(r->body.data, r->body.cap);
  fp__http_resp_free(r);
}

/* GET/PUT against a link-local or loopback credential endpoint with short timeouts. */
static fp_err cred_http(const fp_config *cfg, const char *method, const char *url,
                        const fp_http_header *h, size_t nh, const char *what, fp__http_resp *resp,
                        fp_diag *d) {
  fp__http_req rq = {.method = method,
                     .url = url,
                     .headers = h,
                     .nheaders = nh,
                     .connect_timeout_ms = CRED_CONNECT_MS,
                     .timeout_ms = CRED_TOTAL_MS,
                     .max_body = FP__HTTP_DEF_MAX_BODY,
                     .no_proxy = true,
                     .ca_bundle = fp_config_get(cfg, "AWS_CA_BUNDLE"),
                     .what = what};
  return fp__http_do(&rq, resp, d);
}

/* ---- container credentials -------------------------------------------------------------- */

static bool container_host_allowed(const char *host, bool https) {
  /* As the SDKs: https anywhere; plain http only to loopback or the ECS / EKS Pod Identity
   * link-local agents. */
  return https || fp__host_is_loopback(host) || strcmp(host, "169.254.170.2") == 0 ||
         strcmp(host, "169.254.170.23") == 0 || strcasecmp(host, "fd00:ec2::23") == 0;
}

static fp_err from_container(const fp_config *cfg, tried *t, fp_aws_creds *out, fp_diag *d,
                             bool *found) {
  const char *what = "container credentials";
  const char *rel = fp_config_str(cfg, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", NULL);
  const char *full = fp_config_str(cfg, "AWS_CONTAINER_CREDENTIALS_FULL_URI", NULL);
  *found = false;
  if (!rel && !full) {
    note(t, "container (AWS_CONTAINER_CREDENTIALS_FULL_URI / _RELATIVE_URI not set)");
    return FP_OK;
  }
  *found = true;
  char url[1024], masked[512], host[256];
  if (rel)
    snprintf(url, sizeof url, "%s%s%s", ECS_HOST, rel[0] == '/' ? "" : "/", rel);
  else
    snprintf(url, sizeof url, "%s", full);
  fp_mask_url(url, masked, sizeof masked);
  bool https = false;
  if (fp__url_parts(url, NULL, 0, host, sizeof host, &https))
    return fp_diag_set(d, FP_ERR_CONFIG, "%s: not an http(s) URL: %s", what, masked);
  if (!rel && !container_host_allowed(host, https))
    return fp_diag_set(d, FP_ERR_CONFIG,
                       "%s: AWS_CONTAINER_CREDENTIALS_FULL_URI host '%s' is not allowed: use "
                       "https, a loopback address or the ECS/EKS agent address",
                       what, host);
  char *token = NULL;
  const char *tf = fp_config_str(cfg, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", NULL);
  fp_err e = FP_OK;
  if (tf)
    e = read_token_file(tf, what, &token, d);
  else if (fp_config_str(cfg, "AWS_CONTAINER_AUTHORIZATION_TOKEN", NULL) &&
           !(token = strdup(fp_config_get(cfg, "AWS_CONTAINER_AUTHORIZATION_TOKEN"))))
    e = fp_diag_set(d, FP_ERR_NOMEM, "%s", what);
  if (e) return e;
  if (token && strpbrk(token, "\r\n")) {
    free_secret(token);
    return fp_diag_set(d, FP_ERR_CONFIG, "%s: the authorization token holds a line break", what);
  }
  fp_http_header h[2] = {{"Accept", "application/json"}, {"Authorization", token ? token : ""}};
  fp__http_resp resp;
  fp__http_resp_init(&resp);
  for (int attempt = 1; attempt <= 2; attempt++) {
    fp_diag td;
    fp_diag_clear(&td);
    e = cred_http(cfg, "GET", url, h, token ? 2 : 1, what, &resp, &td);
    if (!e && resp.status != 200) e = status_err(resp.status, what, masked, &td);
    if (!e)
      e = parse_json_creds(resp.body.data ? resp.body.data : "", resp.body.len, "container", what,
                           masked, out, &td);
    if (e != FP_ERR_TRANSIENT || attempt == 2) {
      if (e) fp_diag_set(d, e, "%s", td.msg);
      break;
    }
  }
  wipe_resp(&resp);
  free_secret(token);
  return e;
}

/* ---- IMDSv2 ------------------------------------------------------------------------------ */

static fp_err from_imds(const fp_config *cfg, tried *t, fp_aws_creds *out, fp_diag *d,
                        bool *found) {
  const char *what = "IMDS";
  *found = false;
  if (env_true(cfg, "AWS_EC2_METADATA_DISABLED")) {
    note(t, "imds (disabled by AWS_EC2_METADATA_DISABLED)");
    return FP_OK;
  }
  const char *mode = fp_config_str(cfg, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv4");
  const char *base = fp_config_str(cfg, "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                                   strcasecmp(mode, "IPv6") == 0 ? IMDS_V6 : IMDS_V4);
  char b[512], url[1024], masked[512];
  size_t bl = strlen(base);
  while (bl && base[bl - 1] == '/') bl--;
  if (bl >= sizeof b) return fp_diag_set(d, FP_ERR_CONFIG, "IMDS endpoint too long");
  memcpy(b, base, bl);
  b[bl] = '\0';
  fp_mask_url(b, masked, sizeof masked);

  fp__http_resp resp;
  fp__http_resp_init(&resp);
  fp_diag td;
  fp_diag_clear(&td);
  /* 1. session token (IMDSv2); 403/404/405 → fall back to IMDSv1 unless disabled. */
  snprintf(url, sizeof url, "%s/latest/api/token", b);
  fp_http_header th[1] = {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}};
  fp_err e = cred_http(cfg, "PUT", url, th, 1, what, &resp, &td);
  if (e) {
    wipe_resp(&resp);
    note(t, "imds (no answer at %s)", masked);
    return FP_OK; /* not on EC2: not an error, the chain just ends */
  }
  char *tok = NULL;
  if (resp.status == 200 && resp.body.len > 0 && resp.body.len < 4096 &&
      !memchr(resp.body.data, '\n', resp.body.len)) {
    tok = strdup(resp.body.data);
  } else if (!(resp.status == 403 || resp.status == 404 || resp.status == 405) ||
             env_true(cfg, "AWS_EC2_METADATA_V1_DISABLED")) {
    long st = resp.status;
    wipe_resp(&resp);
    return fp_diag_set(d, st >= 500 ? FP_ERR_TRANSIENT : FP_ERR_FORBIDDEN,
                       "IMDS at %s: token request answered HTTP %ld", masked, st);
  }
  wipe_resp(&resp);
  *found = true;
  fp_http_header h[1] = {{"X-aws-ec2-metadata-token", tok ? tok : ""}};
  size_t nh = tok ? 1 : 0;
  /* 2. role name */
  snprintf(url, sizeof url, "%s/latest/meta-data/iam/security-credentials/", b);
  fp__http_resp_init(&resp);
  e = cred_http(cfg, "GET", url, h, nh, what, &resp, d);
  char role[256] = "";
  if (!e && resp.status == 404) {
    *found = false;
    note(t, "imds (%s has no IAM role attached)", masked);
  } else if (!e && resp.status != 200) {
    e = status_err(resp.status, what, masked, d);
  } else if (!e) {
    const char *body = resp.body.data ? resp.body.data : "";
    size_t rl = strcspn(body, "\r\n");
    while (rl && isspace((unsigned char)body[rl - 1])) rl--;
    if (rl == 0 || rl >= sizeof role || memchr(body, '/', rl))
      e = fp_diag_set(d, FP_ERR_IO, "IMDS at %s: bad role name", masked);
    else
      memcpy(role, body, rl), role[rl] = '\0';
  }
  fp__http_resp_free(&resp);
  /* 3. the role's credentials */
  if (!e && role[0]) {
    char *enc = fp_aws_uri_encode(role, strlen(role), false);
    if (!enc)
      e = fp_diag_set(d, FP_ERR_NOMEM, "IMDS");
    else
      snprintf(url, sizeof url, "%s/latest/meta-data/iam/security-credentials/%s", b, enc);
    free(enc);
    fp__http_resp_init(&resp);
    if (!e) e = cred_http(cfg, "GET", url, h, nh, what, &resp, d);
    if (!e && resp.status != 200) e = status_err(resp.status, what, masked, d);
    if (!e)
      e = parse_json_creds(resp.body.data ? resp.body.data : "", resp.body.len, "imds", what,
                           masked, out, d);
    wipe_resp(&resp);
  }
  free_secret(tok);
  return e;
}

/* ---- environment and web identity ------------------------------------------------------ */

static fp_err from_env(const fp_config *cfg, tried *t, fp_aws_creds *out, fp_diag *d, bool *found) {
  const char *ak = fp_config_str(cfg, "AWS_ACCESS_KEY_ID", NULL);
  const char *sk = fp_config_str(cfg, "AWS_SECRET_ACCESS_KEY", NULL);
  const char *tok = fp_config_str(cfg, "AWS_SESSION_TOKEN", NULL);
  if (!tok) tok = fp_config_str(cfg, "AWS_SECURITY_TOKEN", NULL);
  *found = false;
  if (!ak && !sk) {
    note(t, "env (AWS_ACCESS_KEY_ID not set)");
    return FP_OK;
  }
  if (!ak || !sk)
    return fp_diag_set(d, FP_ERR_CONFIG, "env: %s is set but %s is not",
                       ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                       ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
  *found = true;
  fp_err e = set_static(out, "env", ak, sk, tok);
  if (e) return fp_diag_set(d, e, "env credentials");
  const char *exp = fp_config_str(cfg, "AWS_CREDENTIAL_EXPIRATION", NULL);
  if (exp && fp__parse_iso8601(exp, &out->expiration) != FP_OK) {
    fp_aws_creds_clear(out);
    return fp_diag_set(d, FP_ERR_CONFIG, "env: AWS_CREDENTIAL_EXPIRATION is not ISO-8601");
  }
  return FP_OK;
}

static fp_err web_identity(const fp_config *cfg, const char *region, const char *role,
                           const char *token_file, const char *session, const char *source,
                           fp_aws_creds *out, fp_diag *d) {
  char *jwt = NULL;
  fp_err e = read_token_file(token_file, "web identity", &jwt, d);
  if (e) return e;
  e = fp__sts_assume_role_web_identity(cfg, region, role, session, jwt, out, d);
  free_secret(jwt);
  if (!e) snprintf(out->source, sizeof out->source, "%s", source);
  return e;
}

static fp_err from_web_identity(const fp_config *cfg, tried *t, fp_aws_creds *out, fp_diag *d,
                                bool *found) {
  const char *role = fp_config_str(cfg, "AWS_ROLE_ARN", NULL);
  const char *tf = fp_config_str(cfg, "AWS_WEB_IDENTITY_TOKEN_FILE", NULL);
  *found = false;
  if (!tf) {
    note(t, "web-identity (AWS_WEB_IDENTITY_TOKEN_FILE not set)");
    return FP_OK;
  }
  if (!role)
    return fp_diag_set(d, FP_ERR_CONFIG,
                       "web-identity: AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
  *found = true;
  char region[64];
  fp_aws_region(cfg, region, sizeof region);
  return web_identity(cfg, region, role, tf, fp_config_str(cfg, "AWS_ROLE_SESSION_NAME", NULL),
                      "web-identity", out, d);
}

/* ---- shared files ------------------------------------------------------------------------ */

static fp_err resolve_profile(const fp_config *cfg, const fp__aws_files *f, const char *name,
                              int depth, fp_aws_creds *out, fp_diag *d, bool *found);

static fp_err profile_role(const fp_config *cfg, const fp__aws_files *f, const char *name,
                           const char *role, int depth, fp_aws_creds *out, fp_diag *d) {
  const char *src = fp__aws_files_get(f, name, "source_profile");
  const char *csrc = fp__aws_files_get(f, name, "credential_source");
  const char *wit = fp__aws_files_get(f, name, "web_identity_token_file");
  const char *sess = fp__aws_files_get(f, name, "role_session_name");
  char region[64];
  const char *pr = fp__aws_files_get(f, name, "region");
  if (pr && *pr && !fp_config_str(cfg, "AWS_REGION", NULL) &&
      !fp_config_str(cfg, "AWS_DEFAULT_REGION", NULL))
    snprintf(region, sizeof region, "%s", pr);
  else
    fp_aws_region(cfg, region, sizeof region);
  if (wit) return web_identity(cfg, region, role, wit, sess, "profile", out, d);

  fp_aws_creds base;
  memset(&base, 0, sizeof base);
  fp_err e;
  bool found = false;
  if (src && strcmp(src, name) == 0) {
    /* a profile sourcing itself uses its own static keys */
    const char *ak = fp__aws_files_get(f, name, "aws_access_key_id");
    const char *sk = fp__aws_files_get(f, name, "aws_secret_access_key");
    if (!ak || !sk)
      return fp_diag_set(d, FP_ERR_CONFIG,
                         "profile '%s': source_profile is itself but it has "
                         "no static keys",
                         name);
    e = set_static(&base, "profile", ak, sk, fp__aws_files_get(f, name, "aws_session_token"));
    found = !e;
  } else if (src) {
    if (!fp__aws_files_has(f, src))
      return fp_diag_set(d, FP_ERR_CONFIG, "profile '%s': source_profile '%s' not found", name,
                         src);
    e = resolve_profile(cfg, f, src, depth + 1, &base, d, &found);
    if (!e && !found)
      e = fp_diag_set(d, FP_ERR_FORBIDDEN,
                      "profile '%s': source_profile '%s' has no "
                      "credentials",
                      name, src);
  } else if (csrc) {
    tried t = {{0}, 0};
    if (strcmp(csrc, "Environment") == 0)
      e = from_env(cfg, &t, &base, d, &found);
    else if (strcmp(csrc, "EcsContainer") == 0)
      e = from_container(cfg, &t, &base, d, &found);
    else if (strcmp(csrc, "Ec2InstanceMetadata") == 0)
      e = from_imds(cfg, &t, &base, d, &found);
    else
      return fp_diag_set(d, FP_ERR_CONFIG, "profile '%s': unknown credential_source '%s'", name,
                         csrc);
    if (!e && !found)
      e = fp_diag_set(d, FP_ERR_FORBIDDEN,
                      "profile '%s': credential_source %s has no "
                      "credentials: %s",
                      name, csrc, t.text);
  } else {
    return fp_diag_set(d, FP_ERR_CONFIG,
                       "profile '%s' has role_arn but no source_profile, "
                       "credential_source or web_identity_token_file",
                       name);
  }
  if (e) return e == FP_ERR_NOMEM ? fp_diag_set(d, e, "profile '%s'", name) : e;
  const char *dur = fp__aws_files_get(f, name, "duration_seconds");
  long duration = 0;
  if (dur) {
    char *end;
    duration = strtol(dur, &end, 10);
    if (*end || duration < 900 || duration > 43200) {
      fp_aws_creds_clear(&base);
      return fp_diag_set(d, FP_ERR_CONFIG, "profile '%s': duration_seconds must be 900..43200",
                         name);
    }
  }
  e = fp__sts_assume_role(cfg, region, &base, role, sess, fp__aws_files_get(f, name, "external_id"),
                          duration, out, d);
  fp_aws_creds_clear(&base);
  if (!e) snprintf(out->source, sizeof out->source, "profile");
  return e;
}

/* Credentials of profile name: role chaining or static keys; *found = false when the
 * profile has none (the chain goes on). */
static fp_err resolve_profile(const fp_config *cfg, const fp__aws_files *f, const char *name,
                              int depth, fp_aws_creds *out, fp_diag *d, bool *found) {
  *found = false;
  if (depth > MAX_PROFILE_DEPTH)
    return fp_diag_set(d, FP_ERR_CONFIG,
                       "profile '%s': source_profile chain longer than %d "
                       "(a cycle?)",
                       name, MAX_PROFILE_DEPTH);
  const char *role = fp__aws_files_get(f, name, "role_arn");
  if (role && *role) {
    *found = true;
    return profile_role(cfg, f, name, role, depth, out, d);
  }
  const char *ak = fp__aws_files_get(f, name, "aws_access_key_id");
  const char *sk = fp__aws_files_get(f, name, "aws_secret_access_key");
  if (ak && sk && *ak && *sk) {
    *found = true;
    const char *tok = fp__aws_files_get(f, name, "aws_session_token");
    if (!tok) tok = fp__aws_files_get(f, name, "aws_security_token");
    fp_err e = set_static(out, "profile", ak, sk, tok);
    return e ? fp_diag_set(d, e, "profile '%s'", name) : FP_OK;
  }
  if ((ak && *ak) || (sk && *sk))
    return fp_diag_set(d, FP_ERR_CONFIG,
                       "profile '%s' has only one of aws_access_key_id and "
                       "aws_secret_access_key",
                       name);
  if (fp__aws_files_get(f, name, "credential_process"))
    return fp_diag_set(d, FP_ERR_NOT_IMPLEMENTED,
                       "profile '%s': credential_process is not "
                       "supported; use static keys or role_arn",
                       name);
  return FP_OK;
}

static fp_err from_profile(const fp_config *cfg, tried *t, fp_aws_creds *out, fp_diag *d,
                           bool *found) {
  fp__aws_files f;
  *found = false;
  fp_err e = fp__aws_files_load(cfg, &f, d);
  if (e) return e;
  if (!fp__aws_files_has(&f, f.profile)) {
    if (f.profile_explicit)
      e = fp_diag_set(d, FP_ERR_CONFIG, "profile '%s' (AWS_PROFILE) not found in %s or %s",
                      f.profile, f.creds_path[0] ? f.creds_path : "(no credentials file)",
                      f.config_path[0] ? f.config_path : "(no config file)");
    else
      note(t, "profile '%s' (not in %s or %s)", f.profile, f.creds_path[0] ? f.creds_path : "-",
           f.config_path[0] ? f.config_path : "-");
    fp__aws_files_free(&f);
    return e;
  }
  e = resolve_profile(cfg, &f, f.profile, 0, out, d, found);
  if (!e && !*found) note(t, "profile '%s' (no credentials in it)", f.profile);
  fp__aws_files_free(&f);
  return e;
}

/* ---- the chain --------------------------------------------------------------------------- */

typedef fp_err (*source_fn)(const fp_config *, tried *, fp_aws_creds *, fp_diag *, bool *);

static fp_err resolve_chain(const fp_config *cfg, fp_aws_creds *out, fp_diag *d) {
  static const source_fn chain[] = {from_env, from_web_identity, from_profile, from_container,
                                    from_imds};
  tried t = {{0}, 0};
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < sizeof chain / sizeof chain[0]; i++) {
    bool found = false;
    fp_err e = chain[i](cfg, &t, out, d, &found);
    if (e) {
      fp_aws_creds_clear(out);
      return e;
    }
    if (found) return FP_OK;
  }
  return fp_diag_set(d, FP_ERR_FORBIDDEN, "no AWS credentials found; tried: %s", t.text);
}

/* ---- provider and cache ------------------------------------------------------------------ */

fp_err fp_aws_cred_provider_new(const fp_config *cfg, fp_aws_cred_provider **out, fp_diag *d) {
  if (!out) return fp_diag_set(d, FP_ERR_INVAL, "fp_aws_cred_provider_new: NULL out");
  *out = NULL;
  fp_aws_cred_provider *p = calloc(1, sizeof *p);
  if (!p) return fp_diag_set(d, FP_ERR_NOMEM, "credential provider");
  p->cfg = cfg;
  if (pthread_mutex_init(&p->mu, NULL)) {
    free(p);
    return fp_diag_set(d, FP_ERR_INTERNAL, "credential provider: mutex");
  }
  if (pthread_cond_init(&p->cv, NULL)) {
    pthread_mutex_destroy(&p->mu);
    free(p);
    return fp_diag_set(d, FP_ERR_INTERNAL, "credential provider: condition variable");
  }
  fp__curl_global_init();
  *out = p;
  return FP_OK;
}

void fp_aws_cred_provider_free(fp_aws_cred_provider *p) {
  if (!p) return;
  fp_aws_creds_clear(&p->cached);
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  free(p);
}

static bool fresh(const fp_aws_cred_provider *p, time_t now) {
  return p->have && (p->cached.expiration == 0 || now < p->cached.expiration - REFRESH_BEFORE_S);
}

static void log_creds(const fp_aws_creds *c) {
  const char *ak = c->access_key_id ? c->access_key_id : "";
  size_t n = strlen(ak);
  char exp[32] = "never";
  if (c->expiration) {
    struct tm tm;
    if (gmtime_r(&c->expiration, &tm)) strftime(exp, sizeof exp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  }
  fp_debug("AWS credentials from %s (key id ...%s, expires %s)", c->source, n > 4 ? ak + n - 4 : ak,
           exp);
}

fp_err fp_aws_cred_get(fp_aws_cred_provider *p, fp_aws_creds *out, fp_diag *d) {
  if (!p || !out) return fp_diag_set(d, FP_ERR_INVAL, "fp_aws_cred_get: NULL argument");
  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&p->mu);
  for (;;) {
    if (fresh(p, time(NULL))) {
      fp_err e = fp_aws_creds_copy(out, &p->cached);
      pthread_mutex_unlock(&p->mu);
      return e ? fp_diag_set(d, e, "copying credentials") : FP_OK;
    }
    if (!p->refreshing) break;
    unsigned long gen = p->gen;
    while (p->refreshing && p->gen == gen) pthread_cond_wait(&p->cv, &p->mu);
    if (p->gen == gen) continue;
    /* A refresh finished while we waited: take its answer, even credentials that are
     * already inside the refresh window (short-lived ones), rather than refetch. */
    if (p->last_err) {
      fp_err e = p->last_err;
      if (d && !d->code) *d = p->last_diag;
      pthread_mutex_unlock(&p->mu);
      return e;
    }
    if (p->have && (p->cached.expiration == 0 || time(NULL) < p->cached.expiration)) {
      fp_err e = fp_aws_creds_copy(out, &p->cached);
      pthread_mutex_unlock(&p->mu);
      return e ? fp_diag_set(d, e, "copying credentials") : FP_OK;
    }
  }
  p->refreshing = true;
  pthread_mutex_unlock(&p->mu);

  fp_aws_creds fresh_creds;
  fp_diag rd;
  fp_diag_clear(&rd);
  fp_err e = resolve_chain(p->cfg, &fresh_creds, &rd);

  pthread_mutex_lock(&p->mu);
  p->refreshing = false;
  p->gen++;
  if (!e) {
    fp_aws_creds_clear(&p->cached);
    p->cached = fresh_creds; /* moved */
    p->have = true;
    log_creds(&p->cached);
  } else if (p->have && time(NULL) < p->cached.expiration) {
    fp_warn("AWS credential refresh failed, using the cached ones until they expire: %s", rd.msg);
    e = FP_OK;
  }
  p->last_err = e;
  p->last_diag = rd;
  if (!e) e = fp_aws_creds_copy(out, &p->cached);
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  if (e && rd.code && d && !d->code) *d = rd;
  return e ? fp_diag_set(d, e, "AWS credentials") : FP_OK;
}
