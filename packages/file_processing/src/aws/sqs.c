/* sqs.c — Amazon SQS over the AWS JSON 1.0 protocol: request bodies built and answers read
 * with jansson, signed with our SigV4 signer, sent with fp__http_do (the libcurl adapter).
 * Errors of the service are translated here (fp_sqs_error_kind). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "aws_int.h"
#include "fp/fp_sqs.h"

#define SQS_CONNECT_MS 5000L
#define SQS_CALL_MS 15000L               /* every call but a long poll */
#define SQS_POLL_SLACK_MS 15000L         /* on top of WaitTimeSeconds */
#define SQS_MAX_ANSWER ((size_t)4 << 20) /* 10 messages of 256 KiB plus JSON escaping */

struct fp_sqs_client {
  char *queue_url; /* as given */
  char queue_masked[1024];
  char endpoint[512]; /* scheme://host[:port][/base], no trailing '/' */
  char url[600];      /* endpoint + "/" : where every POST goes */
  char hostport[256]; /* Host header */
  char region[64];
  char ca_bundle[512];
  bool loopback;
  fp_aws_cred_provider *creds;
};

static void copy_str(char *dst, size_t dsz, const char *src, size_t n) {
  if (!dsz) return;
  if (n >= dsz) n = dsz - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

/* ---- errors -------------------------------------------------------------------------- */

static bool code_in(const char *code, const char *const *list) {
  for (; *list; list++)
    if (strcmp(code, *list) == 0) return true;
  return false;
}

fp_err fp_sqs_error_kind(long status, const char *code) {
  static const char *const transient[] = {"Throttling",
                                          "ThrottlingException",
                                          "RequestThrottled",
                                          "ServiceUnavailable",
                                          "InternalFailure",
                                          "InternalError",
                                          "KmsThrottled",
                                          "KMS.ThrottlingException",
                                          "RequestTimeout",
                                          "RequestTimeoutException",
                                          NULL};
  static const char *const forbidden[] = {"AccessDenied",
                                          "AccessDeniedException",
                                          "InvalidClientTokenId",
                                          "UnrecognizedClientException",
                                          "SignatureDoesNotMatch",
                                          "IncompleteSignature",
                                          "MissingAuthenticationToken",
                                          "InvalidSecurity",
                                          "ExpiredToken",
                                          "ExpiredTokenException",
                                          "KmsAccessDenied",
                                          "KMS.AccessDeniedException",
                                          "AWS.SimpleQueueService.InvalidSecurity",
                                          "OptInRequired",
                                          NULL};
  static const char *const not_found[] = {"QueueDoesNotExist",
                                          "AWS.SimpleQueueService.NonExistentQueue", NULL};
  if (status >= 200 && status < 300) return FP_OK;
  if (code && *code) {
    if (code_in(code, transient)) return FP_ERR_TRANSIENT;
    if (code_in(code, forbidden)) return FP_ERR_FORBIDDEN;
    if (code_in(code, not_found)) return FP_ERR_NOT_FOUND;
  }
  if (status >= 500 || status == 429 || status == 0) return FP_ERR_TRANSIENT;
  if (status == 401 || status == 403) return FP_ERR_FORBIDDEN;
  return FP_ERR_INVAL;
}

/* The AWS error code of a failed answer: "__type" of the JSON body without its
 * "namespace#" prefix, else the x-amzn-query-error header up to ';'. */
static void error_code(const fp__http_resp *r, json_t *body, char *code, size_t csz, char *msg,
                       size_t msz) {
  code[0] = msg[0] = '\0';
  const char *t = body ? json_string_value(json_object_get(body, "__type")) : NULL;
  if (t) {
    const char *hash = strrchr(t, '#');
    t = hash ? hash + 1 : t;
    copy_str(code, csz, t, strlen(t));
  }
  const char *m = body ? json_string_value(json_object_get(body, "message")) : NULL;
  if (!m && body) m = json_string_value(json_object_get(body, "Message"));
  if (m) copy_str(msg, msz, m, strlen(m));
  char q[256];
  if (!code[0] && fp__http_header_get(r, "x-amzn-query-error", q, sizeof q))
    copy_str(code, csz, q, strcspn(q, ";"));
}

/* ---- one call ------------------------------------------------------------------------ */

static fp_err sign_headers(fp_sqs_client *c, const char *target, const char *body, size_t len,
                           fp_http_header *h, size_t *nh, fp_aws_creds *cr, fp_sigv4_result *res,
                           char date[17], fp_diag *d) {
  fp_diag cd;
  fp_diag_clear(&cd);
  fp_err e = fp_aws_cred_get(c->creds, cr, &cd);
  if (e)
    return fp_diag_set(d, e, "%s on %s: no usable AWS credentials: %s", target, c->queue_masked,
                       cd.msg);
  time_t now = time(NULL);
  fp__amz_date(now, date);
  char hash[65];
  fp_sha256_hex(body, len, hash);
  size_t n = 0;
  h[n++] = (fp_http_header){"content-type", "application/x-amz-json-1.0"};
  h[n++] = (fp_http_header){"host", c->hostport};
  h[n++] = (fp_http_header){"x-amz-date", date};
  if (cr->session_token && *cr->session_token)
    h[n++] = (fp_http_header){"x-amz-security-token", cr->session_token};
  h[n++] = (fp_http_header){"x-amz-target", target};
  fp_sigv4_request rq = {.method = "POST",
                         .path = "/",
                         .query = NULL,
                         .headers = h,
                         .nheaders = n,
                         .payload_hash = hash};
  fp_sigv4_opts o = {.region = c->region, .service = "sqs", .when = now, .normalize_path = true};
  fp_diag sd;
  fp_diag_clear(&sd);
  e = fp_sigv4_sign(&rq, cr, &o, res, &sd);
  if (e) return fp_diag_set(d, e, "%s on %s: cannot sign: %s", target, c->queue_masked, sd.msg);
  h[n++] = (fp_http_header){"authorization", res->authorization};
  *nh = n;
  return FP_OK;
}

/* POSTs req (consumed) as AmazonSQS.<action>; *answer (owned, json_decref) is the parsed
 * 2xx body ({} when empty). timeout_ms bounds the whole call. */
static fp_err call(fp_sqs_client *c, const char *action, json_t *req, long timeout_ms,
                   json_t **answer, fp_diag *d) {
  *answer = NULL;
  char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
  json_decref(req);
  if (!body) return fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  char target[64];
  snprintf(target, sizeof target, "AmazonSQS.%s", action);
  size_t len = strlen(body);
  fp_http_header h[8];
  size_t nh = 0;
  fp_aws_creds cr;
  memset(&cr, 0, sizeof cr);
  fp_sigv4_result res;
  memset(&res, 0, sizeof res);
  char date[17];
  fp_err e = sign_headers(c, target, body, len, h, &nh, &cr, &res, date, d);
  fp__http_resp resp;
  fp__http_resp_init(&resp);
  if (!e) {
    fp__http_req rq = {.method = "POST",
                       .url = c->url,
                       .headers = h,
                       .nheaders = nh,
                       .body = body,
                       .body_len = len,
                       .connect_timeout_ms = SQS_CONNECT_MS,
                       .timeout_ms = timeout_ms,
                       .max_body = SQS_MAX_ANSWER,
                       .no_proxy = c->loopback,
                       .ca_bundle = c->ca_bundle[0] ? c->ca_bundle : NULL,
                       .what = "SQS"};
    fp_diag hd;
    fp_diag_clear(&hd);
    e = fp__http_do(&rq, &resp, &hd);
    if (e) fp_diag_set(d, e, "SQS %s on %s: %s", action, c->queue_masked, hd.msg);
  }
  fp_sigv4_result_clear(&res);
  fp_aws_creds_clear(&cr);
  free(body);
  json_t *j = NULL;
  if (!e && resp.body.len) {
    json_error_t je;
    j = json_loadb(resp.body.data, resp.body.len, 0, &je);
  }
  if (!e && (resp.status < 200 || resp.status >= 300)) {
    char code[128], msg[300];
    error_code(&resp, j, code, sizeof code, msg, sizeof msg);
    e = fp_sqs_error_kind(resp.status, code);
    fp_diag_set(d, e, "SQS %s on %s: HTTP %ld %s%s%s", action, c->queue_masked, resp.status,
                code[0] ? code : "(no error code)", msg[0] ? ": " : "", msg);
  } else if (!e && resp.body.len && !json_is_object(j)) {
    e = fp_diag_set(d, FP_ERR_TRANSIENT, "SQS %s on %s: HTTP %ld answer is not a JSON object",
                    action, c->queue_masked, resp.status);
  }
  fp__http_resp_free(&resp);
  if (e) {
    json_decref(j);
    return e;
  }
  *answer = j ? j : json_object();
  return *answer ? FP_OK : fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
}

static json_t *queue_req(const fp_sqs_client *c) {
  return json_pack("{s:s}", "QueueUrl", c->queue_url);
}

/* ---- actions -------------------------------------------------------------------------- */

void fp_sqs_message_list_free(fp_sqs_message_list *l) {
  if (!l) return;
  for (size_t i = 0; i < l->n; i++) {
    free(l->items[i].message_id);
    free(l->items[i].receipt_handle);
    free(l->items[i].body);
  }
  free(l->items);
  memset(l, 0, sizeof *l);
}

static char *dup_str(json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  return s ? strdup(s) : NULL;
}

static fp_err take_message(json_t *m, fp_sqs_message *out) {
  memset(out, 0, sizeof *out);
  json_t *b = json_object_get(m, "Body");
  out->message_id = dup_str(m, "MessageId");
  out->receipt_handle = dup_str(m, "ReceiptHandle");
  if (json_is_string(b)) {
    out->body_len = json_string_length(b);
    out->body = malloc(out->body_len + 1);
    if (out->body)
      memcpy(out->body, json_string_value(b), out->body_len), out->body[out->body_len] = '\0';
  } else {
    out->body = strdup("");
  }
  const char *rc = json_string_value(
      json_object_get(json_object_get(m, "Attributes"), "ApproximateReceiveCount"));
  if (rc) {
    char *end = NULL;
    long v = strtol(rc, &end, 10);
    if (end != rc && *end == '\0' && v >= 0) out->receive_count = v;
  }
  if (!out->message_id || !out->receipt_handle || !out->body) return FP_ERR_NOMEM;
  return FP_OK;
}

fp_err fp_sqs_receive(fp_sqs_client *c, int wait_s, int max, int visibility_s,
                      fp_sqs_message_list *out, fp_diag *d) {
  if (!c || !out) return fp_diag_set(d, FP_ERR_INVAL, "fp_sqs_receive: NULL argument");
  if (wait_s < 0 || wait_s > FP_SQS_MAX_WAIT_S || max < 1 || max > FP_SQS_MAX_BATCH ||
      visibility_s < 0 || visibility_s > FP_SQS_MAX_VISIBILITY_S)
    return fp_diag_set(d, FP_ERR_INVAL, "fp_sqs_receive: wait %d s / %d messages out of range",
                       wait_s, max);
  json_t *req =
      json_pack("{s:s,s:i,s:i,s:[s],s:[s]}", "QueueUrl", c->queue_url, "WaitTimeSeconds", wait_s,
                "MaxNumberOfMessages", max, "AttributeNames", "ApproximateReceiveCount",
                "MessageSystemAttributeNames", "ApproximateReceiveCount");
  if (req && visibility_s > 0)
    json_object_set_new(req, "VisibilityTimeout", json_integer(visibility_s));
  json_t *a = NULL;
  fp_err e = call(c, "ReceiveMessage", req, wait_s * 1000L + SQS_POLL_SLACK_MS, &a, d);
  if (e) return e;
  json_t *msgs = json_object_get(a, "Messages");
  size_t n = json_is_array(msgs) ? json_array_size(msgs) : 0;
  if (n) {
    out->items = calloc(n, sizeof *out->items);
    if (!out->items) e = fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  }
  for (size_t i = 0; !e && i < n; i++) {
    json_t *m = json_array_get(msgs, i);
    out->n = i + 1;
    if (!json_is_object(m) || take_message(m, &out->items[i]))
      e = fp_diag_set(d, json_is_object(m) ? FP_ERR_NOMEM : FP_ERR_TRANSIENT,
                      "SQS ReceiveMessage on %s: message %zu lacks MessageId/ReceiptHandle",
                      c->queue_masked, i);
  }
  json_decref(a);
  if (e) fp_sqs_message_list_free(out);
  return e;
}

fp_err fp_sqs_delete(fp_sqs_client *c, const char *receipt_handle, fp_diag *d) {
  if (!c || !receipt_handle) return fp_diag_set(d, FP_ERR_INVAL, "fp_sqs_delete: NULL argument");
  json_t *req = queue_req(c);
  if (req) json_object_set_new(req, "ReceiptHandle", json_string(receipt_handle));
  json_t *a = NULL;
  fp_err e = call(c, "DeleteMessage", req, SQS_CALL_MS, &a, d);
  json_decref(a);
  return e;
}

fp_err fp_sqs_change_visibility(fp_sqs_client *c, const char *receipt_handle, int visibility_s,
                                fp_diag *d) {
  if (!c || !receipt_handle)
    return fp_diag_set(d, FP_ERR_INVAL, "fp_sqs_change_visibility: NULL argument");
  if (visibility_s < 0 || visibility_s > FP_SQS_MAX_VISIBILITY_S)
    return fp_diag_set(d, FP_ERR_INVAL, "visibility timeout %d s out of range", visibility_s);
  json_t *req = queue_req(c);
  if (req) {
    json_object_set_new(req, "ReceiptHandle", json_string(receipt_handle));
    json_object_set_new(req, "VisibilityTimeout", json_integer(visibility_s));
  }
  json_t *a = NULL;
  fp_err e = call(c, "ChangeMessageVisibility", req, SQS_CALL_MS, &a, d);
  json_decref(a);
  return e;
}

fp_err fp_sqs_get_attribute(fp_sqs_client *c, const char *name, char **value, fp_diag *d) {
  if (!c || !name || !value)
    return fp_diag_set(d, FP_ERR_INVAL, "fp_sqs_get_attribute: NULL argument");
  *value = NULL;
  json_t *req = json_pack("{s:s,s:[s]}", "QueueUrl", c->queue_url, "AttributeNames", name);
  json_t *a = NULL;
  fp_err e = call(c, "GetQueueAttributes", req, SQS_CALL_MS, &a, d);
  if (e) return e;
  json_t *v = json_object_get(json_object_get(a, "Attributes"), name);
  if (json_is_string(v) && !(*value = strdup(json_string_value(v))))
    e = fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  json_decref(a);
  return e;
}

fp_err fp_sqs_send(fp_sqs_client *c, const char *body, char **message_id, fp_diag *d) {
  if (!c || !body) return fp_diag_set(d, FP_ERR_INVAL, "fp_sqs_send: NULL argument");
  if (message_id) *message_id = NULL;
  json_t *req = queue_req(c);
  if (req) json_object_set_new(req, "MessageBody", json_string(body));
  json_t *a = NULL;
  fp_err e = call(c, "SendMessage", req, SQS_CALL_MS, &a, d);
  if (!e && message_id && !(*message_id = dup_str(a, "MessageId")))
    e = fp_diag_set(d, FP_ERR_TRANSIENT, "SQS SendMessage on %s: no MessageId in the answer",
                    c->queue_masked);
  json_decref(a);
  return e;
}

fp_err fp_sqs_create_queue(fp_sqs_client *c, const char *name, int visibility_s, char **queue_url,
                           fp_diag *d) {
  if (!c || !name || !queue_url)
    return fp_diag_set(d, FP_ERR_INVAL, "fp_sqs_create_queue: NULL argument");
  *queue_url = NULL;
  json_t *req = json_pack("{s:s}", "QueueName", name);
  if (req && visibility_s > 0) {
    char v[16];
    snprintf(v, sizeof v, "%d", visibility_s);
    json_object_set_new(req, "Attributes", json_pack("{s:s}", "VisibilityTimeout", v));
  }
  json_t *a = NULL;
  fp_err e = call(c, "CreateQueue", req, SQS_CALL_MS, &a, d);
  if (!e && !(*queue_url = dup_str(a, "QueueUrl")))
    e = fp_diag_set(d, FP_ERR_TRANSIENT, "SQS CreateQueue %s: no QueueUrl in the answer", name);
  json_decref(a);
  return e;
}

/* ---- construction --------------------------------------------------------------------- */

/* "sqs.<region>.amazonaws.com[.cn]" → region into out. */
static bool region_of_host(const char *host, char *out, size_t outsz) {
  if (strncasecmp(host, "sqs.", 4) != 0) return false;
  const char *r = host + 4;
  const char *dot = strchr(r, '.');
  if (!dot || dot == r) return false;
  if (strcasecmp(dot, ".amazonaws.com") != 0 && strcasecmp(dot, ".amazonaws.com.cn") != 0)
    return false;
  if ((size_t)(dot - r) >= outsz) return false;
  copy_str(out, outsz, r, (size_t)(dot - r));
  return true;
}

static fp_err set_endpoint(fp_sqs_client *c, const char *endpoint, fp_diag *d) {
  char host[256];
  bool https;
  if (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0)
    return fp_diag_set(d, FP_ERR_CONFIG, "SQS endpoint %s: expected http:// or https://", endpoint);
  const char *p = strstr(endpoint, "://") + 3;
  size_t auth = strcspn(p, "/?#");
  if (memchr(p, '@', auth))
    return fp_diag_set(d, FP_ERR_CONFIG, "SQS endpoint must not carry user information");
  if (fp__url_parts(endpoint, c->hostport, sizeof c->hostport, host, sizeof host, &https))
    return fp_diag_set(d, FP_ERR_CONFIG, "SQS endpoint %s is not a usable URL", endpoint);
  size_t n = strlen(endpoint);
  while (n && endpoint[n - 1] == '/') n--;
  if (n + 2 > sizeof c->url) return fp_diag_set(d, FP_ERR_CONFIG, "SQS endpoint too long");
  copy_str(c->endpoint, sizeof c->endpoint, endpoint, n);
  snprintf(c->url, sizeof c->url, "%s/", c->endpoint);
  c->loopback = fp__host_is_loopback(host);
  return FP_OK;
}

fp_err fp_sqs_client_new(const fp_config *cfg, const char *queue_url, fp_sqs_client **out,
                         fp_diag *d) {
  if (!cfg || !queue_url || !out)
    return fp_diag_set(d, FP_ERR_INVAL, "fp_sqs_client_new: NULL argument");
  *out = NULL;
  char qhostport[256], qhost[256];
  bool https;
  if ((strncmp(queue_url, "http://", 7) != 0 && strncmp(queue_url, "https://", 8) != 0) ||
      fp__url_parts(queue_url, qhostport, sizeof qhostport, qhost, sizeof qhost, &https))
    return fp_diag_set(d, FP_ERR_CONFIG, "SQS queue URL '%.300s' is not an http(s) URL", queue_url);
  fp_sqs_client *c = calloc(1, sizeof *c);
  if (!c || !(c->queue_url = strdup(queue_url))) {
    free(c);
    return fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  }
  fp_mask_url(queue_url, c->queue_masked, sizeof c->queue_masked);
  fp__curl_global_init();
  fp_aws_region(cfg, c->region, sizeof c->region);
  char endpoint[512];
  bool custom = false;
  fp_aws_endpoint(cfg, "sqs", c->region, endpoint, sizeof endpoint, &custom);
  if (!custom && region_of_host(qhost, c->region, sizeof c->region))
    snprintf(endpoint, sizeof endpoint, "https://%s", qhostport);
  const char *ca = fp_config_str(cfg, "AWS_CA_BUNDLE", "");
  fp_err e = FP_OK;
  if (!endpoint[0]) e = fp_diag_set(d, FP_ERR_CONFIG, "no SQS endpoint for region '%s'", c->region);
  if (!e && strlen(ca) >= sizeof c->ca_bundle)
    e = fp_diag_set(d, FP_ERR_CONFIG, "AWS_CA_BUNDLE path too long");
  if (!e) copy_str(c->ca_bundle, sizeof c->ca_bundle, ca, strlen(ca));
  if (!e) e = set_endpoint(c, endpoint, d);
  if (!e) e = fp_aws_cred_provider_new(cfg, &c->creds, d);
  if (e) {
    fp_sqs_client_free(c);
    return e;
  }
  *out = c;
  return FP_OK;
}

void fp_sqs_client_free(fp_sqs_client *c) {
  if (!c) return;
  fp_aws_cred_provider_free(c->creds);
  free(c->queue_url);
  free(c);
}

const char *fp_sqs_client_queue(const fp_sqs_client *c) {
  return c ? c->queue_masked : "";
}
const char *fp_sqs_client_endpoint(const fp_sqs_client *c) {
  return c ? c->endpoint : "";
}
