/* listener.c — the SNS HTTP listener on libmicrohttpd: routing, the POST / SNS flow
 * (verify, enqueue, answer), health/readiness, options from config, lifecycle. The one
 * adapter between MHD and libfp lives here (MHD log lines go to fp_log). */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "fp/fp_event.h"
#include "fp/fp_log.h"
#include "server_int.h"

#define SUB_HDR "x-amz-sns-message-type"
#define RAW_HDR "x-amz-sns-rawdelivery"

/* ---- store handle stack ------------------------------------------------------------- */

fp_store *fp__store_acquire(fp__store_stack *s, fp_diag *d) {
  fp_store *st = NULL;
  pthread_mutex_lock(&s->mu);
  if (s->n) st = s->items[--s->n];
  pthread_mutex_unlock(&s->mu);
  if (st) return st;
  if (fp_store_open(s->url, &st, d)) return NULL;
  return st;
}

void fp__store_release(fp__store_stack *s, fp_store *st, bool broken) {
  if (!st) return;
  if (!broken) {
    pthread_mutex_lock(&s->mu);
    if (s->n == s->cap) {
      size_t cap = s->cap ? s->cap * 2 : 8;
      fp_store **items = realloc(s->items, cap * sizeof *items);
      if (items) s->items = items, s->cap = cap;
    }
    bool kept = s->n < s->cap;
    if (kept) s->items[s->n++] = st;
    pthread_mutex_unlock(&s->mu);
    if (kept) return;
  }
  fp_store_close(st);
}

static void store_stack_free(fp__store_stack *s) {
  for (size_t i = 0; i < s->n; i++) fp_store_close(s->items[i]);
  free(s->items);
  free(s->url);
  pthread_mutex_destroy(&s->mu);
}

/* ---- options ------------------------------------------------------------------------ */

void fp_listener_opts_default(fp_listener_opts *o) {
  memset(o, 0, sizeof *o);
  o->port = FP_LISTENER_DEFAULT_PORT;
  o->verify = true;
  o->auto_confirm = true;
}

static fp_err cfg_ll(const fp_config *c, const char *key, long long lo, long long hi,
                     long long *out, fp_diag *d) {
  const char *v = fp_config_get(c, key);
  if (!v || !*v) return FP_OK;
  char *end = NULL;
  errno = 0;
  long long n = strtoll(v, &end, 10);
  if (errno || *end || end == v || n < lo || n > hi)
    return fp_diag_set(d, FP_ERR_CONFIG, "%s=%s: expected an integer in [%lld, %lld]", key, v,
                       lo, hi);
  *out = n;
  return FP_OK;
}

static fp_err cfg_flag(const fp_config *c, const char *key, bool *inout, fp_diag *d) {
  int v = *inout;
  fp_err e = fp_config_bool(c, key, v, &v, d);
  if (!e) *inout = v != 0;
  return e;
}


fp_err fp_listener_opts_from_config(const fp_config *c, fp_listener_opts *o, fp_diag *d) {
  long long port = o->port, threads = o->http_threads, timeout = o->conn_timeout_s;
  long long req_timeout = o->request_timeout_s, max_conns = o->max_connections;
  long long qmax = o->queue_max ? o->queue_max : FP_LISTENER_DEFAULT_QUEUE_MAX;
  o->store_url = fp_config_str(c, "DATABASE_URL", "sqlite:///file_processing.db");
  o->bind = fp_config_str(c, "FP_BIND", o->bind);
  o->topic_arns = fp_config_str(c, "FP_SNS_TOPIC_ARNS", o->topic_arns);
  fp_err e = cfg_ll(c, "PORT", 0, 65535, &port, d);
  if (!e) e = cfg_ll(c, "FP_HTTP_THREADS", 1, 1024, &threads, d);
  if (!e) e = cfg_ll(c, "FP_HTTP_TIMEOUT_S", 1, 3600, &timeout, d);
  if (!e) e = cfg_ll(c, "FP_HTTP_REQUEST_TIMEOUT_S", 1, 3600, &req_timeout, d);
  if (!e) e = cfg_ll(c, "FP_HTTP_MAX_CONNECTIONS", 1, 100000, &max_conns, d);
  if (!e) e = cfg_ll(c, "FP_QUEUE_MAX", 1, 1000000000LL, &qmax, d);
  size_t body = o->max_body ? o->max_body : FP_LISTENER_DEFAULT_MAX_BODY;
  if (!e) e = fp_config_size(c, "FP_MAX_BODY", body, &body, d);
  if (!e && (body == 0 || body > FP_SNS_MAX_BODY))
    e = fp_diag_set(d, FP_ERR_CONFIG, "FP_MAX_BODY must be between 1 and %u bytes", FP_SNS_MAX_BODY);
  if (!e) e = cfg_flag(c, "FP_SNS_VERIFY", &o->verify, d);
  if (!e) e = cfg_flag(c, "FP_SNS_ALLOW_RAW", &o->allow_raw, d);
  if (!e) e = cfg_flag(c, "FP_SNS_AUTO_CONFIRM", &o->auto_confirm, d);
  if (!e) e = fp_sns_test_settings_from_config(c, &o->sns_test, d);
  if (e) return e;
  o->port = (unsigned)port;
  o->http_threads = (unsigned)threads;
  o->conn_timeout_s = (unsigned)timeout;
  o->request_timeout_s = (unsigned)req_timeout;
  o->max_connections = (unsigned)max_conns;
  o->queue_max = qmax;
  o->max_body = body;
  return FP_OK;
}

/* ---- responses ---------------------------------------------------------------------- */

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *ctype,
                               const char *body, size_t len) {
  struct MHD_Response *r =
      MHD_create_response_from_buffer(len, (void *)(body ? body : ""), MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
  MHD_add_response_header(r, "Cache-Control", "no-store");
  if (status == 405) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
  enum MHD_Result ok = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ok;
}

static enum MHD_Result respond_text(fp_listener *l, struct MHD_Connection *c, fp__req_type t,
                                    unsigned status, const char *text) {
  fp__metrics_count(&l->m, t, status);
  return respond(c, status, "text/plain; charset=utf-8", text, strlen(text));
}

/* An answer of the SNS flow: status and a small JSON body. */
typedef struct answer {
  unsigned status;
  fp__req_type type;
  fp_buf *body; /* the caller's */
} answer;

static unsigned fail(answer *a, unsigned status, const char *error, const char *detail) {
  fp_buf_reset(a->body);
  fp_err e = fp_buf_puts(a->body, "{\"error\":");
  if (!e) e = fp__json_str(a->body, error);
  if (!e && detail && *detail) e = fp_buf_puts(a->body, ",\"detail\":");
  if (!e && detail && *detail) e = fp__json_str(a->body, detail);
  if (!e) fp_buf_putc(a->body, '}');
  return a->status = status;
}

static unsigned okay(answer *a, const char *json) {
  fp_buf_reset(a->body);
  fp_buf_puts(a->body, json);
  return a->status = 200;
}

/* ---- the SNS flow ------------------------------------------------------------------- */

typedef struct post_req {
  fp_buf body;
  size_t seen;
  bool too_large, responded;
} post_req;

static unsigned enqueue_refs(fp_listener *l, const fp_event_list *ev, const char *what,
                             answer *a) {
  atomic_fetch_add(&l->m.events_skipped, ev->skipped);
  if (ev->n == 0) {
    fp_info("%s: %zu test/non-ObjectCreated event(s) skipped, no job", what, ev->skipped);
    fp_buf_reset(a->body);
    fp_buf_appendf(a->body, "{\"jobs\":0,\"created\":0,\"skipped\":%zu}", ev->skipped);
    return a->status = 200;
  }
  fp_diag d;
  fp_diag_clear(&d);
  fp_store *st = fp__store_acquire(&l->stores, &d);
  int64_t depth = 0;
  fp_err e = st ? fp_store_queue_depth(st, &depth, &d) : FP_ERR_DB;
  if (!e && depth >= l->o.queue_max) {
    fp__store_release(&l->stores, st, false);
    atomic_fetch_add(&l->m.queue_full, 1);
    fp_warn("%s: queue full (%lld >= FP_QUEUE_MAX %lld): 503", what, (long long)depth,
            (long long)l->o.queue_max);
    return fail(a, 503, "queue full", NULL);
  }
  bool *created = e ? NULL : calloc(ev->n, sizeof *created);
  int64_t *ids = e ? NULL : calloc(ev->n, sizeof *ids);
  size_t ncreated = 0;
  if (!e && (!created || !ids)) e = fp_diag_set(&d, FP_ERR_NOMEM, "out of memory");
  if (!e) e = fp_store_enqueue_many(st, ev->items, ev->n, ids, created, &ncreated, &d);
  if (st) fp__store_release(&l->stores, st, e != FP_OK);
  if (e) {
    free(created);
    free(ids);
    atomic_fetch_add(&l->m.db_errors, 1);
    fp_error("%s: could not record jobs: %s: 503", what, d.msg);
    return fail(a, 503, "database unavailable", NULL);
  }
  for (size_t i = 0; i < ev->n; i++)
    fp_info("%s: job %lld %s for s3://%s/%s", what, (long long)ids[i],
            created[i] ? "queued" : "already recorded (duplicate)", ev->items[i].bucket,
            ev->items[i].key);
  free(created);
  free(ids);
  atomic_fetch_add(&l->m.jobs_created, ncreated);
  atomic_fetch_add(&l->m.jobs_duplicate, ev->n - ncreated);
  if (ncreated && l->hooks.jobs_enqueued) l->hooks.jobs_enqueued(l->hooks.ud, ncreated);
  fp_buf_reset(a->body);
  fp_buf_appendf(a->body, "{\"jobs\":%zu,\"created\":%zu}", ev->n, ncreated);
  return a->status = 200;
}

static unsigned on_notification(fp_listener *l, const fp_sns_message *m, answer *a) {
  fp_event_list ev = {0};
  fp_diag d;
  fp_diag_clear(&d);
  if (fp_events_parse_sns_message(m->message, m->message_len, &ev, &d)) {
    fp_warn("SNS Notification %s: Message is not an S3 event: %s", m->message_id, d.msg);
    return fail(a, 400, "Message is not an S3 event notification", d.msg);
  }
  char what[160];
  snprintf(what, sizeof what, "SNS Notification %.100s", m->message_id);
  unsigned status = enqueue_refs(l, &ev, what, a);
  fp_event_list_free(&ev);
  return status;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static unsigned on_confirmation(fp_listener *l, const fp_sns_message *m, answer *a) {
  fp_diag d;
  fp_diag_clear(&d);
  if (fp_sns_check_subscribe_url(l->verifier, m->subscribe_url, &d)) {
    fp_warn("SNS SubscriptionConfirmation %s for %s: SubscribeURL refused: %s", m->message_id,
            m->topic_arn, d.msg);
    return fail(a, 403, "SubscribeURL refused", d.msg);
  }
  if (!l->o.auto_confirm) {
    fp_warn("SNS SubscriptionConfirmation for %s not confirmed (FP_SNS_AUTO_CONFIRM=0); "
            "confirm it by visiting: %s", m->topic_arn, m->subscribe_url);
    return okay(a, "{\"confirmed\":false}");
  }
  int attempts = l->o.confirm_attempts > 0 ? l->o.confirm_attempts : 3;
  fp_err e = FP_OK;
  char *arn = NULL;
  for (int i = 1; i <= attempts; i++) {
    fp_diag_clear(&d);
    e = fp_sns_confirm_subscription(l->verifier, m, &arn, &d);
    if (e != FP_ERR_TRANSIENT || i == attempts) break;
    fp_warn("SNS subscription to %s: confirmation attempt %d failed: %s; retrying", m->topic_arn,
            i, d.msg);
    sleep_ms(250L * i);
  }
  if (e) {
    fp_error("SNS subscription to %s NOT confirmed: %s", m->topic_arn, d.msg);
    return fail(a, e == FP_ERR_TRANSIENT ? 503 : 502, "subscription confirmation failed", d.msg);
  }
  fp_info("SNS subscription confirmed: topic %s, SubscriptionArn %s", m->topic_arn,
          arn ? arn : "(none in the answer)");
  free(arn);
  return okay(a, "{\"confirmed\":true}");
}

static bool topic_ok(const fp_listener *l, const char *arn) {
  return fp_sns_topic_allowed(arn, l->topics, l->ntopics);
}

static unsigned verify(fp_listener *l, const fp_sns_message *m, answer *a) {
  if (!l->o.verify) {
    atomic_fetch_add(&l->m.unverified, 1);
    fp_warn("SNS signature verification is DISABLED (FP_SNS_VERIFY=0): %s %s from %s accepted "
            "UNVERIFIED", fp_sns_type_name(m->type), m->message_id, m->topic_arn);
    return 0;
  }
  fp_diag d;
  fp_diag_clear(&d);
  fp_err e = fp_sns_verify(l->verifier, m, &d);
  if (!e) return 0;
  if (e == FP_ERR_TRANSIENT || e == FP_ERR_NOMEM) {
    fp_warn("SNS %s: signing certificate unavailable: %s: 503", m->message_id, d.msg);
    return fail(a, 503, "signing certificate unavailable", NULL);
  }
  atomic_fetch_add(&l->m.sig_failures, 1);
  fp_warn("SNS %s claiming topic %s: signature check failed: %s: 403", m->message_id,
          m->topic_arn, d.msg);
  return fail(a, 403, "signature verification failed", d.msg);
}

static unsigned raw_delivery(fp_listener *l, const char *body, size_t len, answer *a) {
  a->type = FP__T_RAW;
  if (!l->o.allow_raw) return fail(a, 403, "raw message delivery is not accepted", NULL);
  fp_warn("raw SNS delivery accepted UNSIGNED (FP_SNS_ALLOW_RAW=1)");
  fp_event_list ev = {0};
  fp_diag d;
  fp_diag_clear(&d);
  if (fp_events_parse_json(body, len, &ev, &d))
    return fail(a, 400, "body is not an S3 event notification", d.msg);
  unsigned status = enqueue_refs(l, &ev, "raw SNS delivery", a);
  fp_event_list_free(&ev);
  return status;
}

static unsigned sns_flow(fp_listener *l, const char *raw, const char *hdr, const char *body,
                         size_t len, answer *a) {
  a->type = FP__T_INVALID;
  if (atomic_load(&l->shutting_down)) return fail(a, 503, "shutting down", NULL);
  if (raw && strcasecmp(raw, "true") == 0) return raw_delivery(l, body, len, a);
  fp_sns_message m = {0};
  fp_diag d;
  fp_diag_clear(&d);
  fp_err e = fp_sns_message_parse(body, len, &m, &d);
  if (e == FP_ERR_LIMIT) return fail(a, 413, "body too large", NULL);
  if (e == FP_ERR_NOMEM) return fail(a, 503, "out of memory", NULL);
  if (e) return fail(a, 400, "malformed SNS message", d.msg);
  unsigned st = 0;
  if (hdr && strcmp(hdr, fp_sns_type_name(m.type)) != 0)
    st = fail(a, 400, "x-amz-sns-message-type does not match the body's Type", NULL);
  if (!st) st = verify(l, &m, a);
  a->type = m.type == FP_SNS_NOTIFICATION                ? FP__T_NOTIFICATION
            : m.type == FP_SNS_SUBSCRIPTION_CONFIRMATION ? FP__T_SUB_CONFIRM
                                                         : FP__T_UNSUB_CONFIRM;
  if (!st && !topic_ok(l, m.topic_arn)) {
    fp_warn("SNS %s: topic %s is not in FP_SNS_TOPIC_ARNS: 403", m.message_id, m.topic_arn);
    st = fail(a, 403, "topic not allowed", NULL);
  }
  if (!st && m.type == FP_SNS_NOTIFICATION) st = on_notification(l, &m, a);
  if (!st && m.type == FP_SNS_SUBSCRIPTION_CONFIRMATION) st = on_confirmation(l, &m, a);
  if (!st) {
    fp_info("SNS UnsubscribeConfirmation for %s (not re-subscribing)", m.topic_arn);
    st = okay(a, "{\"unsubscribed\":true}");
  }
  fp_sns_message_clear(&m);
  return st;
}

/* ---- request deadline (slowloris) ---------------------------------------------------- */

struct fp__conn {
  struct fp__conn *prev, *next;
  int fd;
  int64_t since_ms;  /* connection opened or previous request answered (monotonic) */
  bool received;     /* the current request arrived completely: no deadline while handled */
  bool cut;          /* already shut down by the reaper */
};

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct fp__conn *conn_of(struct MHD_Connection *c) {
  const union MHD_ConnectionInfo *i =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return i ? (struct fp__conn *)i->socket_context : NULL;
}

/* received = true: the request is complete (the handler runs, no deadline);
 * false: the next request on this connection starts its clock now. */
static void conn_mark(fp_listener *l, struct MHD_Connection *c, bool received) {
  struct fp__conn *k = conn_of(c);
  if (!k) return;
  pthread_mutex_lock(&l->conn_mu);
  k->received = received;
  if (!received) k->since_ms = mono_ms();
  pthread_mutex_unlock(&l->conn_mu);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
  fp_listener *l = cls;
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct fp__conn *k = i ? calloc(1, sizeof *k) : NULL;
    if (!k) return; /* untracked: MHD's idle timeout still applies */
    k->fd = i->connect_fd;
    k->since_ms = mono_ms();
    pthread_mutex_lock(&l->conn_mu);
    k->next = l->conns;
    if (l->conns) l->conns->prev = k;
    l->conns = k;
    pthread_mutex_unlock(&l->conn_mu);
    *socket_context = k;
    return;
  }
  struct fp__conn *k = *socket_context;
  if (!k) return;
  /* unlinked before MHD closes the socket, so the reaper never shuts down a reused fd */
  pthread_mutex_lock(&l->conn_mu);
  if (k->prev) k->prev->next = k->next;
  else l->conns = k->next;
  if (k->next) k->next->prev = k->prev;
  pthread_mutex_unlock(&l->conn_mu);
  free(k);
  *socket_context = NULL;
}

static void *reaper_main(void *arg) {
  fp_listener *l = arg;
  int64_t limit = (int64_t)l->o.request_timeout_s * 1000;
  pthread_mutex_lock(&l->conn_mu);
  while (!l->reaper_stop) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 250 * 1000000L;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_cond_timedwait(&l->reaper_cv, &l->conn_mu, &until);
    int64_t now = mono_ms();
    unsigned cut = 0;
    for (struct fp__conn *k = l->conns; k && !l->reaper_stop; k = k->next) {
      if (k->received || k->cut || now - k->since_ms <= limit) continue;
      /* shutdown, not close: MHD sees end of file and frees the connection itself */
      shutdown(k->fd, SHUT_RDWR);
      k->cut = true;
      cut++;
    }
    if (cut) { /* one line per pass: a flood of slow clients must not flood the log */
      atomic_fetch_add(&l->m.slow_requests, cut);
      fp_warn("http: %u connection(s) closed: request not complete within %u s "
              "(FP_HTTP_REQUEST_TIMEOUT_S)", cut, l->o.request_timeout_s);
    }
  }
  pthread_mutex_unlock(&l->conn_mu);
  return NULL;
}

/* ---- routing ------------------------------------------------------------------------ */

static unsigned readiness(fp_listener *l, const char **why) {
  if (atomic_load(&l->shutting_down)) return *why = "shutting down\n", 503;
  fp_diag d;
  fp_diag_clear(&d);
  fp_store *st = fp__store_acquire(&l->stores, &d);
  int64_t depth = 0;
  fp_err e = st ? fp_store_queue_depth(st, &depth, &d) : FP_ERR_DB;
  if (st) fp__store_release(&l->stores, st, e != FP_OK);
  if (e) {
    fp_warn("readyz: results database: %s", d.msg);
    return *why = "database unavailable\n", 503;
  }
  if (depth >= l->o.queue_max) return *why = "queue full\n", 503;
  return *why = "ready\n", 200;
}

static enum MHD_Result route_get(fp_listener *l, struct MHD_Connection *c, const char *url,
                                 const char *method) {
  bool get = strcmp(method, "GET") == 0, head = strcmp(method, "HEAD") == 0;
  if (strcmp(url, "/") == 0)
    return respond_text(l, c, FP__T_HEALTH, head ? 200 : 405, head ? "ok\n" : "use POST\n");
  if (strcmp(url, "/healthz") == 0)
    return respond_text(l, c, FP__T_HEALTH, get || head ? 200 : 405, "ok\n");
  if (strcmp(url, "/readyz") == 0) {
    const char *why = "method not allowed\n";
    unsigned st = get || head ? readiness(l, &why) : 405;
    return respond_text(l, c, FP__T_READY, st, why);
  }
  if (strcmp(url, "/metrics") == 0) {
    if (!get && !head) return respond_text(l, c, FP__T_METRICS, 405, "method not allowed\n");
    fp__metrics_count(&l->m, FP__T_METRICS, 200);
    fp_buf b;
    fp_buf_init(&b, 1u << 20);
    fp_err e = fp__metrics_render(l, &b);
    enum MHD_Result ok = e ? respond(c, 500, "text/plain", "metrics failed\n", 15)
                           : respond(c, 200, "text/plain; version=0.0.4; charset=utf-8",
                                     b.data, b.len);
    fp_buf_free(&b);
    return ok;
  }
  return respond_text(l, c, FP__T_OTHER, 404, "not found\n");
}

static bool content_length_over(const char *v, size_t max) {
  char *end = NULL;
  errno = 0;
  unsigned long long n = strtoull(v, &end, 10);
  return errno != 0 || (unsigned long long)n > (unsigned long long)max;
}

unsigned fp__listener_post(fp_listener *l, const char *raw_hdr, const char *type_hdr,
                           const char *body, size_t len, bool too_large, fp_buf *out) {
  answer a = {0, FP__T_INVALID, out};
  fp_buf_reset(out);
  if (too_large) fail(&a, 413, "body too large", NULL);
  else sns_flow(l, raw_hdr, type_hdr, body ? body : "", body ? len : 0, &a);
  fp__metrics_count(&l->m, a.type, a.status);
  return a.status;
}

static enum MHD_Result finish_post(fp_listener *l, struct MHD_Connection *c, post_req *r) {
  fp_buf out;
  fp_buf_init(&out, 64 * 1024);
  conn_mark(l, c, true);
  unsigned status = fp__listener_post(l, MHD_lookup_connection_value(c, MHD_HEADER_KIND, RAW_HDR),
                                      MHD_lookup_connection_value(c, MHD_HEADER_KIND, SUB_HDR),
                                      r->body.data, r->body.len, r->too_large, &out);
  enum MHD_Result ok = respond(c, status, "application/json", out.data, out.len);
  fp_buf_free(&out);
  r->responded = true;
  return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls) {
  fp_listener *l = cls;
  (void)version;
  if (strcmp(method, "POST") != 0) {
    conn_mark(l, c, true);
    return route_get(l, c, url, method);
  }
  if (strcmp(url, "/") != 0) return respond_text(l, c, FP__T_OTHER, 404, "not found\n");
  post_req *r = *con_cls;
  if (!r) {
    if (!(r = calloc(1, sizeof *r))) return MHD_NO;
    fp_buf_init(&r->body, l->o.max_body);
    *con_cls = r;
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && content_length_over(cl, l->o.max_body)) {
      r->too_large = true;
      return finish_post(l, c, r);
    }
    return MHD_YES;
  }
  if (r->responded) {
    *upload_size = 0;
    return MHD_YES;
  }
  if (*upload_size) {
    r->seen += *upload_size;
    if (!r->too_large && fp_buf_append(&r->body, upload, *upload_size)) {
      r->too_large = true; /* over the cap (or out of memory): keep discarding, then 413 */
      fp_buf_free(&r->body);
    }
    *upload_size = 0;
    /* a body far over the cap is not worth reading to its end: drop the connection */
    return r->seen > 4 * l->o.max_body ? MHD_NO : MHD_YES;
  }
  return finish_post(l, c, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)toe;
  conn_mark(cls, c, false);
  post_req *r = *con_cls;
  if (!r) return;
  fp_buf_free(&r->body);
  free(r);
  *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char line[512];
  vsnprintf(line, sizeof line, fmt, ap);
  size_t n = strlen(line);
  while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
  fp_warn("http: %s", line);
}

/* ---- lifecycle ---------------------------------------------------------------------- */

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* "a,b,,c" → topics (pointers into the owned copy); blanks around names are trimmed. */
static fp_err split_topics(fp_listener *l, fp_diag *d) {
  const char *src = l->o.topic_arns;
  if (!src || !*src) return FP_OK;
  size_t n = 1;
  for (const char *p = src; *p; p++) n += *p == ',';
  l->topic_copy = strdup(src);
  l->topics = calloc(n, sizeof *l->topics);
  if (!l->topic_copy || !l->topics) return fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  char *s = l->topic_copy;
  for (;;) {
    char *comma = strchr(s, ',');
    if (comma) *comma = '\0';
    while (*s == ' ' || *s == '\t') s++;
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) s[--len] = '\0';
    if (*s) l->topics[l->ntopics++] = s;
    if (!comma) break;
    s = comma + 1;
  }
  if (!l->ntopics) return fp_diag_set(d, FP_ERR_CONFIG, "FP_SNS_TOPIC_ARNS holds no topic ARN");
  return FP_OK;
}


static fp_err start_mhd(fp_listener *l, fp_diag *d) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
  const char *bind = l->o.bind && *l->o.bind ? l->o.bind : NULL;
  struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
  if (bind && inet_pton(AF_INET, bind, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)l->o.port);
  } else if (bind && inet_pton(AF_INET6, bind, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)l->o.port);
    flags |= MHD_USE_IPv6;
    if (IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr)) flags |= MHD_USE_DUAL_STACK;
  } else if (bind) {
    return fp_diag_set(d, FP_ERR_CONFIG, "FP_BIND=%s is not an IPv4 or IPv6 address", bind);
  }
  unsigned threads = l->o.http_threads ? l->o.http_threads : 8;
  unsigned timeout = l->o.conn_timeout_s ? l->o.conn_timeout_s : 30;
  unsigned max_conns = l->o.max_connections;
  for (int attempt = 0; attempt < 2 && !l->mhd; attempt++) {
    unsigned f = flags;
    if (!bind && attempt == 0) f |= MHD_USE_DUAL_STACK; /* all interfaces, v6 and v4 */
    if (!bind && attempt == 1) fp_warn("IPv6 unavailable: listening on 0.0.0.0 only");
    struct MHD_OptionItem sockopt[] = {
        {bind ? MHD_OPTION_SOCK_ADDR : MHD_OPTION_ARRAY, 0, bind ? (void *)&ss : NULL},
        {MHD_OPTION_END, 0, NULL}};
    l->mhd = MHD_start_daemon(
        f, (uint16_t)l->o.port, NULL, NULL, on_request, l, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, (void *)NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed, (void *)l,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, (void *)l,
        MHD_OPTION_CONNECTION_LIMIT, max_conns,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_TIMEOUT, timeout,
        MHD_OPTION_ARRAY, bind ? sockopt : sockopt + 1, MHD_OPTION_END);
    if (bind) break;
  }
  if (!l->mhd)
    return fp_diag_set(d, FP_ERR_IO, "cannot listen on %s port %u (in use or not permitted)",
                       bind ? bind : "all interfaces", l->o.port);
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_BIND_PORT);
  l->port = info && info->port ? info->port : l->o.port;
  return FP_OK;
}

fp_err fp__listener_new(const fp_listener_opts *o, const fp_listener_hooks *hooks,
                        fp_listener **out, fp_diag *d) {
  *out = NULL;
  if (!o || !o->store_url) return fp_diag_set(d, FP_ERR_INVAL, "fp_listener_start: no store URL");
  fp_listener *l = calloc(1, sizeof *l);
  if (!l) return fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  l->o = *o;
  if (!l->o.max_body || l->o.max_body > FP_SNS_MAX_BODY) l->o.max_body = FP_LISTENER_DEFAULT_MAX_BODY;
  if (l->o.queue_max <= 0) l->o.queue_max = FP_LISTENER_DEFAULT_QUEUE_MAX;
  if (hooks) l->hooks = *hooks;
  if (!l->o.request_timeout_s) l->o.request_timeout_s = 10;
  if (!l->o.max_connections) l->o.max_connections = 512;
  pthread_mutex_init(&l->stores.mu, NULL);
  pthread_mutex_init(&l->conn_mu, NULL);
  pthread_cond_init(&l->reaper_cv, NULL);
  l->conn_mu_ok = true;
  l->store_url = strdup(o->store_url);
  l->stores.url = strdup(o->store_url);
  l->bind = dup_or_null(o->bind);
  fp_err e = (!l->store_url || !l->stores.url || (o->bind && !l->bind))
                 ? fp_diag_set(d, FP_ERR_NOMEM, "out of memory")
                 : FP_OK;
  l->o.store_url = l->store_url;
  l->o.bind = l->bind;
  if (!e) e = split_topics(l, d);
  l->o.topic_arns = NULL; /* only the split copy is kept */
  /* the test strings are used while building the verifier only, before start returns */
  if (!e) e = fp_sns_verifier_new_from_settings(&l->o.sns_test, &l->verifier, d);
  l->o.sns_test.cert_map = l->o.sns_test.ca_file = l->o.sns_test.allow_host = NULL;
  fp_store *st = NULL;
  if (!e && fp_store_open(l->store_url, &st, d)) e = d ? d->code : FP_ERR_DB;
  if (st) fp__store_release(&l->stores, st, false);
  if (e) {
    fp_listener_free(l);
    return e;
  }
  *out = l;
  return FP_OK;
}

fp_err fp_listener_start(const fp_listener_opts *o, const fp_listener_hooks *hooks, fp_listener **out,
                         fp_diag *d) {
  *out = NULL;
  fp_listener *l;
  fp_err e = fp__listener_new(o, hooks, &l, d);
  if (e) return e;
  e = start_mhd(l, d);
  if (!e && pthread_create(&l->reaper, NULL, reaper_main, l) != 0)
    e = fp_diag_set(d, FP_ERR_NOMEM, "cannot start the request deadline thread");
  if (!e) l->reaper_running = true;
  if (e) {
    fp_listener_free(l);
    return e;
  }
  if (!l->o.verify)
    fp_warn("SNS signature verification is DISABLED (FP_SNS_VERIFY=0): anyone who can reach "
            "this port can enqueue jobs. Local development (LocalStack) only!");
  if (l->o.allow_raw)
    fp_warn("raw SNS message delivery is ACCEPTED (FP_SNS_ALLOW_RAW=1): raw deliveries carry "
            "no signature; only safe on a private network");
  fp_info("SNS listener on %s port %u (%u HTTP threads, max body %zu, queue max %lld, "
          "topics %s, request timeout %u s, max connections %u)",
          l->bind ? l->bind : "all interfaces", l->port,
          l->o.http_threads ? l->o.http_threads : 8, l->o.max_body, (long long)l->o.queue_max,
          l->ntopics ? "restricted" : "any", l->o.request_timeout_s, l->o.max_connections);
  *out = l;
  return FP_OK;
}

unsigned fp_listener_port(const fp_listener *l) { return l ? l->port : 0; }

void fp_listener_begin_shutdown(fp_listener *l) {
  if (l && !atomic_exchange(&l->shutting_down, true))
    fp_info("listener: shutdown began (readyz and POST / answer 503)");
}

static void stop_reaper(fp_listener *l) {
  if (!l->reaper_running) return;
  pthread_mutex_lock(&l->conn_mu);
  l->reaper_stop = true;
  pthread_cond_signal(&l->reaper_cv);
  pthread_mutex_unlock(&l->conn_mu);
  pthread_join(l->reaper, NULL);
  l->reaper_running = false;
}

void fp_listener_stop(fp_listener *l) {
  if (!l) return;
  stop_reaper(l);
  if (!l->mhd) return;
  atomic_store(&l->shutting_down, true);
  MHD_stop_daemon(l->mhd);
  l->mhd = NULL;
  fp_info("listener: stopped");
}

void fp_listener_free(fp_listener *l) {
  if (!l) return;
  fp_listener_stop(l);
  store_stack_free(&l->stores);
  if (l->conn_mu_ok) {
    pthread_mutex_destroy(&l->conn_mu);
    pthread_cond_destroy(&l->reaper_cv);
  }
  fp_sns_verifier_free(l->verifier);
  free(l->store_url);
  free(l->bind);
  free(l->topic_copy);
  free(l->topics);
  free(l);
}

fp_err fp_listener_metrics_text(fp_listener *l, char **out, fp_diag *d) {
  *out = NULL;
  fp_buf b;
  fp_buf_init(&b, 1u << 20);
  fp_err e = fp__metrics_render(l, &b);
  if (!e && !(*out = fp_buf_take(&b))) e = FP_ERR_NOMEM;
  fp_buf_free(&b);
  return e ? fp_diag_set(d, e, "rendering metrics failed") : FP_OK;
}
