/* metrics.c — the listener's counters and their Prometheus text rendering (/metrics):
 * requests by type and status, signature failures, jobs by state and queue depth from the
 * DB, and, when workers run in this process, their outcomes, job durations, rows, bytes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp/fp_log.h"
#include "server_int.h"

static const unsigned CODES[FP__NCODES] = {200, 400, 403, 404, 405, 413, 500, 502, 503, 0};
static const char *const TYPES[FP__T_COUNT] = {
    "Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation", "raw",
    "invalid", "healthz", "readyz", "metrics", "other"};

static unsigned code_index(unsigned status) {
  for (unsigned i = 0; i + 1 < FP__NCODES; i++)
    if (CODES[i] == status) return i;
  return FP__NCODES - 1;
}

void fp__metrics_count(fp__metrics *m, fp__req_type t, unsigned status) {
  if ((unsigned)t >= FP__T_COUNT) t = FP__T_OTHER;
  atomic_fetch_add_explicit(&m->requests[t][code_index(status)], 1, memory_order_relaxed);
}

static unsigned long long ld(atomic_ullong *a) {
  return atomic_load_explicit(a, memory_order_relaxed);
}

static fp_err counter(fp_buf *b, const char *name, const char *help, unsigned long long v) {
  return fp_buf_appendf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, v);
}

static fp_err render_requests(fp__metrics *m, fp_buf *b) {
  fp_err e = fp_buf_puts(b,
                         "# HELP fp_http_requests_total HTTP requests by type and status code.\n"
                         "# TYPE fp_http_requests_total counter\n");
  for (unsigned t = 0; !e && t < FP__T_COUNT; t++)
    for (unsigned c = 0; !e && c < FP__NCODES; c++) {
      unsigned long long v = ld(&m->requests[t][c]);
      if (!v) continue;
      char code[16];
      if (CODES[c]) snprintf(code, sizeof code, "%u", CODES[c]);
      else snprintf(code, sizeof code, "other");
      e = fp_buf_appendf(b, "fp_http_requests_total{type=\"%s\",code=\"%s\"} %llu\n", TYPES[t],
                         code, v);
    }
  if (!e) e = counter(b, "fp_sns_signature_failures_total", "SNS messages whose signature check failed.", ld(&m->sig_failures));
  if (!e) e = counter(b, "fp_sns_unverified_total", "SNS messages accepted with verification disabled (FP_SNS_VERIFY=0).", ld(&m->unverified));
  if (!e) e = counter(b, "fp_sns_jobs_created_total", "Jobs recorded by the listener.", ld(&m->jobs_created));
  if (!e) e = counter(b, "fp_sns_jobs_duplicate_total", "Object versions that already had a job (redeliveries).", ld(&m->jobs_duplicate));
  if (!e) e = counter(b, "fp_sns_events_skipped_total", "s3:TestEvent and non-ObjectCreated records skipped.", ld(&m->events_skipped));
  if (!e) e = counter(b, "fp_http_slow_requests_closed_total", "Connections closed because a request did not arrive within FP_HTTP_REQUEST_TIMEOUT_S.", ld(&m->slow_requests));
  if (!e) e = counter(b, "fp_sns_queue_full_total", "Notifications refused with 503 because the queue was full.", ld(&m->queue_full));
  if (!e) e = counter(b, "fp_sns_db_errors_total", "Requests answered 503 because of a database error.", ld(&m->db_errors));
  return e;
}

static fp_err render_db(fp_listener *l, fp_buf *b) {
  fp_diag d;
  fp_diag_clear(&d);
  int64_t counts[FP_JOB__STATE_COUNT] = {0}, depth = 0;
  fp_store *st = fp__store_acquire(&l->stores, &d);
  fp_err q = st ? fp_store_job_counts(st, counts, &d) : FP_ERR_DB;
  if (!q) q = fp_store_queue_depth(st, &depth, &d);
  if (st) fp__store_release(&l->stores, st, q != FP_OK);
  if (q) fp_warn("metrics: results database: %s", d.msg);
  fp_err e = fp_buf_appendf(b, "# HELP fp_db_up Whether the results database answered.\n"
                               "# TYPE fp_db_up gauge\nfp_db_up %d\n", q ? 0 : 1);
  if (e || q) return e;
  e = fp_buf_puts(b, "# HELP fp_jobs Jobs in the queue table by state.\n# TYPE fp_jobs gauge\n");
  for (int s = 0; !e && s < FP_JOB__STATE_COUNT; s++)
    e = fp_buf_appendf(b, "fp_jobs{state=\"%s\"} %lld\n", fp_job_state_name((fp_job_state)s),
                       (long long)counts[s]);
  if (!e)
    e = fp_buf_appendf(b, "# HELP fp_queue_depth Jobs not finished (queued + running).\n"
                          "# TYPE fp_queue_depth gauge\nfp_queue_depth %lld\n"
                          "# HELP fp_queue_max The queue limit (FP_QUEUE_MAX).\n"
                          "# TYPE fp_queue_max gauge\nfp_queue_max %lld\n",
                       (long long)depth, (long long)l->o.queue_max);
  return e;
}

fp_err fp__metrics_render(fp_listener *l, fp_buf *out) {
  fp_err e = render_requests(&l->m, out);
  fp_sns_verifier_stats vs = {0};
  if (!e && l->verifier) {
    fp_sns_verifier_stats_get(l->verifier, &vs);
    e = counter(out, "fp_sns_cert_loads_total", "SNS signing certificates loaded.", vs.cert_loads);
    if (!e) e = counter(out, "fp_sns_cert_failures_total", "SNS signing certificate loads that failed.", vs.cert_failures);
  }
  if (!e)
    e = fp_buf_appendf(out, "# HELP fp_listener_ready 1 unless shutdown began.\n"
                            "# TYPE fp_listener_ready gauge\nfp_listener_ready %d\n",
                       atomic_load(&l->shutting_down) ? 0 : 1);
  if (!e) e = render_db(l, out);
  if (!e && l->hooks.metrics) e = l->hooks.metrics(l->hooks.ud, out);
  return e;
}

fp_err fp__json_str(fp_buf *b, const char *s) {
  fp_err e = fp_buf_putc(b, '"');
  for (; !e && s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') e = fp_buf_putc(b, '\\');
    if (!e) e = fp_buf_putc(b, (c < 0x20 || c > 0x7e) ? '?' : (char)c);
  }
  return e ? e : fp_buf_putc(b, '"');
}
