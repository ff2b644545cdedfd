/* sqs_consumer.c — the SQS consumer thread: receive → (verify SNS envelope) → parse S3
 * event → enqueue durably → delete. See fp/fp_sqs_consumer.h for the contract. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fp/fp_event.h"
#include "fp/fp_log.h"
#include "fp/fp_sns.h"
#include "fp/fp_sqs.h"
#include "fp/fp_sqs_consumer.h"
#include "fp/fp_store.h"

#define BACKOFF_MIN_MS 500L
#define BACKOFF_MAX_MS 30000L

struct fp_sqs_consumer {
  fp_sqs_consumer_opts o; /* strings below are owned copies */
  char *queue_url, *store_url, *topic_copy;
  const char **topics;
  size_t ntopics;
  fp_sqs_client *sqs;
  fp_sns_verifier *verifier;
  fp_store *store;  /* the thread's; NULL after a DB error until reopened */
  int visibility_s; /* effective visibility timeout of our receives */
  pthread_t thread;
  bool started;
  atomic_bool stop;
  pthread_mutex_t mu; /* guards st, done, in_poll, and the stop wait */
  pthread_cond_t cv;
  bool done, in_poll;
  fp_sqs_consumer_stats st;
};

/* ---- options ------------------------------------------------------------------------- */

void fp_sqs_consumer_opts_default(fp_sqs_consumer_opts *o) {
  memset(o, 0, sizeof *o);
  o->wait_s = FP_SQS_MAX_WAIT_S;
  o->max_messages = FP_SQS_MAX_BATCH;
  o->sns_verify = true;
}

static fp_err cfg_ll(const fp_config *c, const char *key, long long lo, long long hi,
                     long long *out, fp_diag *d) {
  const char *v = fp_config_get(c, key);
  if (!v || !*v) return FP_OK;
  char *end = NULL;
  errno = 0;
  long long n = strtoll(v, &end, 10);
  if (errno || *end || end == v || n < lo || n > hi)
    return fp_diag_set(d, FP_ERR_CONFIG, "%s=%s: expected an integer in [%lld, %lld]", key, v, lo,
                       hi);
  *out = n;
  return FP_OK;
}

static fp_err cfg_flag(const fp_config *c, const char *key, bool *inout, fp_diag *d) {
  int v = *inout;
  fp_err e = fp_config_bool(c, key, v, &v, d);
  if (!e) *inout = v != 0;
  return e;
}


fp_err fp_sqs_consumer_opts_from_config(const fp_config *c, fp_sqs_consumer_opts *o, fp_diag *d) {
  if (!o->queue_url) o->queue_url = fp_config_str(c, "FP_SQS_QUEUE_URL", NULL);
  o->store_url = fp_config_str(c, "DATABASE_URL", "sqlite:///file_processing.db");
  o->topic_arns = fp_config_str(c, "FP_SNS_TOPIC_ARNS", o->topic_arns);
  long long wait = o->wait_s, max = o->max_messages, vis = o->visibility_s;
  fp_err e = cfg_ll(c, "FP_SQS_WAIT_S", 0, FP_SQS_MAX_WAIT_S, &wait, d);
  if (!e) e = cfg_ll(c, "FP_SQS_MAX_MESSAGES", 1, FP_SQS_MAX_BATCH, &max, d);
  if (!e) e = cfg_ll(c, "FP_SQS_VISIBILITY_S", 0, FP_SQS_MAX_VISIBILITY_S, &vis, d);
  if (!e) e = cfg_flag(c, "FP_SQS_SNS_VERIFY", &o->sns_verify, d);
  const char *mode = fp_config_str(c, "FP_SQS_MODE", "enqueue");
  if (!e && strcmp(mode, "enqueue") != 0)
    e = fp_diag_set(d, strcmp(mode, "direct") == 0 ? FP_ERR_NOT_IMPLEMENTED : FP_ERR_CONFIG,
                    "FP_SQS_MODE=%s: only \"enqueue\" is available", mode);
  if (!e) e = fp_sns_test_settings_from_config(c, &o->sns_test, d);
  if (e) return e;
  o->wait_s = (int)wait;
  o->max_messages = (int)max;
  o->visibility_s = (int)vis;
  return FP_OK;
}

/* ---- counters ------------------------------------------------------------------------ */

static const double LATENCY_BOUNDS[FP_SQS_LATENCY_BUCKETS] = {0.05, 0.1, 0.5, 1,
                                                              5,    10,  21,  INFINITY};

const double *fp_sqs_latency_bounds(void) {
  return LATENCY_BOUNDS;
}

#define COUNT(c, field, n)          \
  do {                              \
    pthread_mutex_lock(&(c)->mu);   \
    (c)->st.field += (n);           \
    pthread_mutex_unlock(&(c)->mu); \
  } while (0)

static void count_latency(fp_sqs_consumer *c, double s) {
  pthread_mutex_lock(&c->mu);
  c->st.latency_count++;
  c->st.latency_sum_s += s;
  if (s > c->st.latency_max_s) c->st.latency_max_s = s;
  size_t i = 0;
  while (i + 1 < FP_SQS_LATENCY_BUCKETS && s > LATENCY_BOUNDS[i]) i++;
  c->st.latency_bucket[i]++;
  pthread_mutex_unlock(&c->mu);
}

void fp_sqs_consumer_stats_get(fp_sqs_consumer *c, fp_sqs_consumer_stats *out) {
  memset(out, 0, sizeof *out);
  if (!c) return;
  pthread_mutex_lock(&c->mu);
  *out = c->st;
  pthread_mutex_unlock(&c->mu);
}

fp_err fp_sqs_consumer_metrics(fp_sqs_consumer *c, fp_buf *b) {
  fp_sqs_consumer_stats s;
  fp_sqs_consumer_stats_get(c, &s);
  fp_err e = fp_buf_appendf(
      b,
      "# HELP fp_sqs_messages_total SQS messages by outcome.\n"
      "# TYPE fp_sqs_messages_total counter\n"
      "fp_sqs_messages_total{outcome=\"received\"} %llu\n"
      "fp_sqs_messages_total{outcome=\"deleted\"} %llu\n"
      "fp_sqs_messages_total{outcome=\"failed\"} %llu\n"
      "fp_sqs_messages_total{outcome=\"poison\"} %llu\n"
      "fp_sqs_messages_total{outcome=\"skipped\"} %llu\n"
      "fp_sqs_messages_total{outcome=\"released\"} %llu\n"
      "# HELP fp_sqs_jobs_total Jobs recorded from SQS messages.\n"
      "# TYPE fp_sqs_jobs_total counter\n"
      "fp_sqs_jobs_total{result=\"created\"} %llu\n"
      "fp_sqs_jobs_total{result=\"duplicate\"} %llu\n"
      "# TYPE fp_sqs_errors_total counter\n"
      "fp_sqs_errors_total{call=\"ReceiveMessage\"} %llu\n"
      "fp_sqs_errors_total{call=\"DeleteMessage\"} %llu\n"
      "# TYPE fp_sqs_visibility_extended_total counter\n"
      "fp_sqs_visibility_extended_total %llu\n"
      "# HELP fp_sqs_receive_seconds ReceiveMessage latency (long polls included).\n"
      "# TYPE fp_sqs_receive_seconds histogram\n",
      (unsigned long long)s.received, (unsigned long long)s.deleted, (unsigned long long)s.failed,
      (unsigned long long)s.poison, (unsigned long long)s.skipped, (unsigned long long)s.released,
      (unsigned long long)s.jobs_created, (unsigned long long)s.jobs_duplicate,
      (unsigned long long)s.receive_errors, (unsigned long long)s.delete_errors,
      (unsigned long long)s.visibility_extended);
  unsigned long long cum = 0;
  for (size_t i = 0; !e && i < FP_SQS_LATENCY_BUCKETS; i++) {
    cum += s.latency_bucket[i];
    if (isinf(LATENCY_BOUNDS[i]))
      e = fp_buf_appendf(b, "fp_sqs_receive_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
    else
      e = fp_buf_appendf(b, "fp_sqs_receive_seconds_bucket{le=\"%g\"} %llu\n", LATENCY_BOUNDS[i],
                         cum);
  }
  if (!e)
    e = fp_buf_appendf(b, "fp_sqs_receive_seconds_sum %.6f\nfp_sqs_receive_seconds_count %llu\n",
                       s.latency_sum_s, (unsigned long long)s.latency_count);
  return e;
}

/* ---- one message ----------------------------------------------------------------------- */

typedef enum outcome { OUT_DELETE, OUT_POISON, OUT_RETRY } outcome;

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Is body an SNS envelope ({"Type": one of SNS's three, "TopicArn": "..."})? */
static bool sns_envelope(const fp_sqs_message *m) {
  json_t *j = json_loadb(m->body, m->body_len, 0, NULL);
  bool yes = false;
  if (json_is_object(j)) {
    const char *t = json_string_value(json_object_get(j, "Type"));
    yes = t && json_is_string(json_object_get(j, "TopicArn")) &&
          (strcmp(t, "Notification") == 0 || strcmp(t, "SubscriptionConfirmation") == 0 ||
           strcmp(t, "UnsubscribeConfirmation") == 0);
  }
  json_decref(j);
  return yes;
}

static outcome poison(fp_sqs_consumer *c, const fp_sqs_message *m, const char *why,
                      const char *detail) {
  COUNT(c, poison, 1);
  fp_warn(
      "SQS message %s (receive %ld) on %s: %s: %s; NOT deleted (the queue's redrive policy "
      "moves it to the DLQ)",
      m->message_id, m->receive_count, fp_sqs_client_queue(c->sqs), why, detail);
  return OUT_POISON;
}

/* The SNS path: verify, check topic, then hand the inner Message to the event parser.
 * *inner owned (points into nothing else); OUT_DELETE with *inner NULL = confirmation. */
static outcome sns_unwrap(fp_sqs_consumer *c, const fp_sqs_message *m, char **inner,
                          size_t *inner_len) {
  *inner = NULL;
  fp_sns_message sm;
  memset(&sm, 0, sizeof sm);
  fp_diag d;
  fp_diag_clear(&d);
  if (fp_sns_message_parse(m->body, m->body_len, &sm, &d))
    return poison(c, m, "malformed SNS envelope", d.msg);
  outcome out = OUT_DELETE;
  if (c->o.sns_verify) {
    fp_err e = fp_sns_verify(c->verifier, &sm, &d);
    if (e == FP_ERR_TRANSIENT || e == FP_ERR_NOMEM) {
      fp_warn("SQS message %s: SNS signing certificate unavailable: %s; left for a retry",
              m->message_id, d.msg);
      out = OUT_RETRY;
    } else if (e) {
      out = poison(c, m, "SNS signature check failed", d.msg);
    }
  } else {
    fp_warn("SQS message %s: SNS signature NOT verified (FP_SQS_SNS_VERIFY=0), topic %s",
            m->message_id, sm.topic_arn);
  }
  if (out == OUT_DELETE && !fp_sns_topic_allowed(sm.topic_arn, c->topics, c->ntopics))
    out = poison(c, m, "SNS topic not in FP_SNS_TOPIC_ARNS", sm.topic_arn);
  if (out == OUT_DELETE && sm.type != FP_SNS_NOTIFICATION) {
    fp_warn(
        "SQS message %s: SNS %s for topic %s is not an event; deleted. Confirm a "
        "subscription with: aws sns confirm-subscription (SubscribeURL %s)",
        m->message_id, fp_sns_type_name(sm.type), sm.topic_arn,
        sm.subscribe_url ? sm.subscribe_url : "-");
  } else if (out == OUT_DELETE) {
    *inner = sm.message, *inner_len = sm.message_len;
    sm.message = NULL;
  }
  fp_sns_message_clear(&sm);
  return out;
}

static fp_err ensure_store(fp_sqs_consumer *c, fp_diag *d) {
  if (c->store) return FP_OK;
  return fp_store_open(c->store_url, &c->store, d);
}

static outcome enqueue(fp_sqs_consumer *c, const fp_sqs_message *m, const fp_event_list *ev) {
  fp_diag d;
  fp_diag_clear(&d);
  bool *created = calloc(ev->n, sizeof *created);
  int64_t *ids = calloc(ev->n, sizeof *ids);
  size_t ncreated = 0;
  fp_err e = (!created || !ids) ? fp_diag_set(&d, FP_ERR_NOMEM, "out of memory") : FP_OK;
  if (!e) e = ensure_store(c, &d);
  if (!e) e = fp_store_enqueue_many(c->store, ev->items, ev->n, ids, created, &ncreated, &d);
  if (e && e != FP_ERR_NOMEM && c->store) {
    fp_store_close(c->store); /* reopened for the next message */
    c->store = NULL;
  }
  if (e) {
    fp_error(
        "SQS message %s (receive %ld): could not record jobs: %s; NOT deleted (it "
        "becomes visible again)",
        m->message_id, m->receive_count, d.msg);
  } else {
    for (size_t i = 0; i < ev->n; i++)
      fp_info("SQS message %s (receive %ld): job %lld %s for s3://%s/%s", m->message_id,
              m->receive_count, (long long)ids[i],
              created[i] ? "queued" : "already recorded (duplicate)", ev->items[i].bucket,
              ev->items[i].key);
    COUNT(c, jobs_created, ncreated);
    COUNT(c, jobs_duplicate, ev->n - ncreated);
    if (ncreated && c->o.on_enqueued) c->o.on_enqueued(c->o.ud, ncreated);
  }
  free(created);
  free(ids);
  return e ? OUT_RETRY : OUT_DELETE;
}

static outcome handle(fp_sqs_consumer *c, const fp_sqs_message *m) {
  char *inner = NULL;
  size_t inner_len = 0;
  outcome out = OUT_DELETE;
  bool sns = sns_envelope(m);
  if (sns) {
    out = sns_unwrap(c, m, &inner, &inner_len);
    if (out != OUT_DELETE || !inner) return out;
  }
  fp_event_list ev = {0};
  fp_diag d;
  fp_diag_clear(&d);
  /* a verified envelope's Message holds events, never another (unverified) envelope */
  fp_err e = sns ? fp_events_parse_sns_message(inner, inner_len, &ev, &d)
                 : fp_events_parse_json(m->body, m->body_len, &ev, &d);
  free(inner);
  if (e) {
    char detail[FP_DIAG_MSG_MAX + FP_DIAG_KEY_MAX + 16];
    snprintf(detail, sizeof detail, "%s%s%s", d.msg, d.key[0] ? " at " : "", d.key);
    return poison(c, m, "body is not an S3 event", detail);
  }
  if (ev.n == 0) {
    COUNT(c, skipped, 1);
    fp_info("SQS message %s: %zu test/non-ObjectCreated event(s) skipped, no job; deleted",
            m->message_id, ev.skipped);
  } else {
    out = enqueue(c, m, &ev);
  }
  fp_event_list_free(&ev);
  return out;
}

/* ---- the loop ---------------------------------------------------------------------------- */

static void sleep_interruptible(fp_sqs_consumer *c, long ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += ms / 1000;
  until.tv_nsec += (ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
  pthread_mutex_lock(&c->mu);
  while (!atomic_load(&c->stop) && pthread_cond_timedwait(&c->cv, &c->mu, &until) != ETIMEDOUT) {
  }
  pthread_mutex_unlock(&c->mu);
}

static void set_visibility(fp_sqs_consumer *c, const fp_sqs_message *m, int s, const char *why) {
  fp_diag d;
  fp_diag_clear(&d);
  if (fp_sqs_change_visibility(c->sqs, m->receipt_handle, s, &d))
    fp_warn("SQS message %s: ChangeMessageVisibility(%d) for %s failed: %s", m->message_id, s, why,
            d.msg);
}

/* Heartbeat: messages not handled yet whose visibility runs out within a third of the
 * timeout get a fresh full timeout. */
static void heartbeat(fp_sqs_consumer *c, fp_sqs_message_list *l, size_t from, double *granted,
                      double now) {
  if (now - *granted < (double)c->visibility_s * 2.0 / 3.0) return;
  for (size_t i = from; i < l->n; i++)
    set_visibility(c, &l->items[i], c->visibility_s, "heartbeat");
  COUNT(c, visibility_extended, l->n - from);
  fp_info("SQS: visibility of %zu message(s) not handled yet extended to %d s (heartbeat)",
          l->n - from, c->visibility_s);
  *granted = now;
}

static void handle_batch(fp_sqs_consumer *c, fp_sqs_message_list *l, double received_at) {
  double granted = received_at;
  for (size_t i = 0; i < l->n; i++) {
    const fp_sqs_message *m = &l->items[i];
    if (atomic_load(&c->stop)) {
      for (size_t k = i; k < l->n; k++) set_visibility(c, &l->items[k], 0, "shutdown");
      COUNT(c, released, l->n - i);
      fp_info("stopping: %zu received SQS message(s) made visible again", l->n - i);
      return;
    }
    if (c->visibility_s > 0) heartbeat(c, l, i, &granted, mono_s());
    outcome out = handle(c, m);
    if (out != OUT_DELETE) {
      COUNT(c, failed, 1);
      continue;
    }
    fp_diag d;
    fp_diag_clear(&d);
    if (fp_sqs_delete(c->sqs, m->receipt_handle, &d)) {
      COUNT(c, delete_errors, 1);
      fp_warn(
          "SQS message %s: DeleteMessage failed (its job is recorded; a redelivery adds "
          "none): %s",
          m->message_id, d.msg);
    } else {
      COUNT(c, deleted, 1);
      fp_debug("SQS message %s deleted", m->message_id);
    }
  }
}

static void set_in_poll(fp_sqs_consumer *c, bool v) {
  pthread_mutex_lock(&c->mu);
  c->in_poll = v;
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

static void *consumer_main(void *arg) {
  fp_sqs_consumer *c = arg;
  long backoff = 0;
  while (!atomic_load(&c->stop)) {
    fp_sqs_message_list l = {0};
    fp_diag d;
    fp_diag_clear(&d);
    set_in_poll(c, true);
    double t0 = mono_s();
    fp_err e = fp_sqs_receive(c->sqs, c->o.wait_s, c->o.max_messages, c->o.visibility_s, &l, &d);
    double t1 = mono_s();
    set_in_poll(c, false);
    if (e) {
      COUNT(c, receive_errors, 1);
      backoff = backoff ? backoff * 2 : BACKOFF_MIN_MS;
      if (backoff > BACKOFF_MAX_MS) backoff = BACKOFF_MAX_MS;
      fp_warn("SQS ReceiveMessage failed: %s; retrying in %ld ms", d.msg, backoff);
      sleep_interruptible(c, backoff);
      continue;
    }
    backoff = 0;
    COUNT(c, receives, 1);
    count_latency(c, t1 - t0);
    if (l.n) {
      COUNT(c, received, l.n);
      fp_info("SQS: received %zu message(s) from %s", l.n, fp_sqs_client_queue(c->sqs));
      handle_batch(c, &l, t0);
    }
    fp_sqs_message_list_free(&l);
  }
  pthread_mutex_lock(&c->mu);
  c->done = true;
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
  return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------------- */

static char *dup_or_null(const char *s) {
  return s ? strdup(s) : NULL;
}

static fp_err split_topics(fp_sqs_consumer *c, const char *src, fp_diag *d) {
  if (!src || !*src) return FP_OK;
  size_t n = 1;
  for (const char *p = src; *p; p++) n += *p == ',';
  c->topic_copy = strdup(src);
  c->topics = calloc(n, sizeof *c->topics);
  if (!c->topic_copy || !c->topics) return fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  for (char *s = c->topic_copy; s;) {
    char *comma = strchr(s, ',');
    if (comma) *comma = '\0';
    while (*s == ' ' || *s == '\t') s++;
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) s[--len] = '\0';
    if (*s) c->topics[c->ntopics++] = s;
    s = comma ? comma + 1 : NULL;
  }
  if (!c->ntopics) return fp_diag_set(d, FP_ERR_CONFIG, "FP_SNS_TOPIC_ARNS holds no topic ARN");
  return FP_OK;
}


/* The queue's VisibilityTimeout (also proves the queue is there and reachable). */
static fp_err read_visibility(fp_sqs_consumer *c, fp_diag *d) {
  char *v = NULL;
  fp_err e = fp_sqs_get_attribute(c->sqs, "VisibilityTimeout", &v, d);
  if (e) return e;
  long n = 30;
  if (v) {
    char *end = NULL;
    long x = strtol(v, &end, 10);
    if (end != v && *end == '\0' && x >= 0 && x <= FP_SQS_MAX_VISIBILITY_S) n = x;
  }
  free(v);
  c->visibility_s = c->o.visibility_s > 0 ? c->o.visibility_s : (int)n;
  return FP_OK;
}

fp_err fp_sqs_consumer_start(const fp_config *cfg, const fp_sqs_consumer_opts *o,
                             fp_sqs_consumer **out, fp_diag *d) {
  if (!cfg || !o || !out)
    return fp_diag_set(d, FP_ERR_INVAL, "fp_sqs_consumer_start: NULL argument");
  *out = NULL;
  if (!o->queue_url || !*o->queue_url)
    return fp_diag_set(d, FP_ERR_CONFIG, "no SQS queue URL (--sqs-queue-url or FP_SQS_QUEUE_URL)");
  if (!o->store_url || !*o->store_url) return fp_diag_set(d, FP_ERR_CONFIG, "no DATABASE_URL");
  if (o->wait_s < 0 || o->wait_s > FP_SQS_MAX_WAIT_S || o->max_messages < 1 ||
      o->max_messages > FP_SQS_MAX_BATCH || o->visibility_s < 0)
    return fp_diag_set(d, FP_ERR_CONFIG, "SQS wait/batch/visibility settings out of range");
  fp_sqs_consumer *c = calloc(1, sizeof *c);
  if (!c) return fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cv, NULL);
  atomic_init(&c->stop, false);
  c->o = *o;
  c->queue_url = dup_or_null(o->queue_url);
  c->store_url = dup_or_null(o->store_url);
  fp_err e =
      (!c->queue_url || !c->store_url) ? fp_diag_set(d, FP_ERR_NOMEM, "out of memory") : FP_OK;
  if (!e) e = split_topics(c, o->topic_arns, d);
  if (!e) e = fp_sns_verifier_new_from_settings(&o->sns_test, &c->verifier, d);
  if (!e) e = fp_store_open(c->store_url, &c->store, d);
  if (!e) e = fp_sqs_client_new(cfg, c->queue_url, &c->sqs, d);
  if (!e) e = read_visibility(c, d);
  if (!e && pthread_create(&c->thread, NULL, consumer_main, c) != 0)
    e = fp_diag_set(d, FP_ERR_NOMEM, "cannot start the SQS consumer thread");
  if (e) {
    fp_sqs_consumer_free(c);
    return e;
  }
  c->started = true;
  if (!o->sns_verify)
    fp_warn(
        "SNS signature verification of SQS messages is DISABLED (FP_SQS_SNS_VERIFY=0): "
        "anyone allowed to send to the queue can make jobs claiming any topic");
  fp_info(
      "SQS consumer on %s (endpoint %s): long poll %d s, up to %d message(s), visibility "
      "%d s, SNS envelopes %s",
      fp_sqs_client_queue(c->sqs), fp_sqs_client_endpoint(c->sqs), o->wait_s, o->max_messages,
      c->visibility_s, o->sns_verify ? "verified" : "NOT verified");
  *out = c;
  return FP_OK;
}

bool fp_sqs_consumer_stop(fp_sqs_consumer *c, double grace_seconds) {
  if (!c || !c->started) return true;
  atomic_store(&c->stop, true);
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  if (grace_seconds < 0) grace_seconds = 0;
  double whole = floor(grace_seconds);
  until.tv_sec += (time_t)whole;
  until.tv_nsec += (long)((grace_seconds - whole) * 1e9);
  if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
  pthread_mutex_lock(&c->mu);
  pthread_cond_broadcast(&c->cv); /* ends a backoff sleep */
  int rc = 0;
  while (!c->done && !c->in_poll && rc != ETIMEDOUT)
    rc = pthread_cond_timedwait(&c->cv, &c->mu, &until);
  bool done = c->done;
  pthread_mutex_unlock(&c->mu);
  if (!done)
    fp_info("SQS consumer stopped while %s: not waiting for it (nothing received is lost)",
            c->in_poll ? "long-polling" : "handling a batch");
  return done;
}

void fp_sqs_consumer_free(fp_sqs_consumer *c) {
  if (!c) return;
  if (c->started) {
    atomic_store(&c->stop, true);
    pthread_mutex_lock(&c->mu);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
  }
  fp_sqs_client_free(c->sqs);
  fp_sns_verifier_free(c->verifier);
  fp_store_close(c->store);
  free(c->queue_url);
  free(c->store_url);
  free(c->topic_copy);
  free(c->topics);
  pthread_cond_destroy(&c->cv);
  pthread_mutex_destroy(&c->mu);
  free(c);
}
