/* fp_server.h — the SNS HTTP listener (libmicrohttpd): verifies SNS messages, records one
 * durable job per object version in the queue (fp_store.h), answers within SNS's budget.
 *
 * Routes:
 *   HEAD /, GET|HEAD /healthz  200 while the process runs (liveness)
 *   GET|HEAD /readyz           200 when the DB answers and the queue depth is below
 *                              queue_max; 503 otherwise and once shutdown began
 *   GET /metrics               Prometheus text format (version 0.0.4)
 *   POST /                     the SNS flow below
 *   other paths 404, other methods on a known path 405.
 *
 * POST / in order: body over max_body → 413 (Content-Length checked up front, chunked
 * bodies while they arrive); x-amz-sns-rawdelivery: true → 403 unless allow_raw (the body
 * is then an S3 event, parsed directly: raw delivery carries NO signature, so anyone who
 * can reach the port can enqueue jobs — only for private networks); message parse
 * (malformed → 400 with a JSON error body); x-amz-sns-message-type, when sent, must equal
 * the body's Type (else 400); fp_sns_verify (FP_ERR_FORBIDDEN → 403, counted; transient
 * certificate fetch → 503 so SNS retries); TopicArn in topic_arns when that is non-empty
 * (else 403); then by Type:
 *   SubscriptionConfirmation → GET SubscribeURL (up to confirm_attempts tries on transient
 *     failures), SubscriptionArn logged, 200; SubscribeURL rules broken → 403; confirmation
 *     failed → 503 (transient) / 502 (refused) so SNS retries. With auto_confirm off the
 *     SubscribeURL is only logged (an operator confirms) and the answer is 200.
 *   UnsubscribeConfirmation → logged, 200, never re-subscribed.
 *   Notification → Message parsed as S3 event(s) (bad → 400; only s3:TestEvent → 200, no
 *     job); queue depth >= queue_max → 503; else all refs enqueued in one transaction
 *     (a duplicate object version adds no job), the worker pool (if any) notified, 200
 *     with {"jobs":n,"created":m}. Any DB error → 503. Handlers never run a job.
 *
 * Store handles: a store handle is single-threaded, so the listener keeps a
 * mutex-protected stack of handles; a handler pops one (opening a new handle when the
 * stack is empty, so there are at most as many as concurrent handlers) and pushes it back
 * afterwards. A handle that saw a DB error is closed instead of being reused.
 *
 * Threads: libmicrohttpd's internal polling thread with a pool of http_threads. The
 * listener only logs (fp_log.h); it never prints and never exits. */
#ifndef FP_SERVER_H
#define FP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fp/fp_config.h"
#include "fp/fp_err.h"
#include "fp/fp_sns.h"
#include "fp/fp_buf.h"

#define FP_LISTENER_DEFAULT_PORT 8080u
#define FP_LISTENER_DEFAULT_MAX_BODY (256u * 1024u)
#define FP_LISTENER_DEFAULT_QUEUE_MAX 10000

typedef struct fp_listener_opts {
  const char *store_url; /* DATABASE_URL (required); copied */
  const char *bind;      /* FP_BIND: IPv4/IPv6 literal; NULL = all interfaces (:: dual
                            stack, falling back to 0.0.0.0); copied */
  unsigned port;         /* PORT (default 8080); 0 = any free port (fp_listener_port) */
  unsigned http_threads; /* FP_HTTP_THREADS; 0 = 8 */
  unsigned conn_timeout_s; /* FP_HTTP_TIMEOUT_S, idle connection timeout; 0 = 30 */
  unsigned request_timeout_s; /* FP_HTTP_REQUEST_TIMEOUT_S: a request (headers and body)
                                 must arrive completely within this many seconds of the
                                 connection opening or the previous answer, however
                                 steadily it trickles in (slowloris); 0 = 10 */
  unsigned max_connections; /* FP_HTTP_MAX_CONNECTIONS: open connections at most; further
                               ones are accepted and closed at once; 0 = 512 */
  size_t max_body;       /* FP_MAX_BODY (K/M suffixes); 0 = 256 KiB; at most FP_SNS_MAX_BODY */
  int64_t queue_max;     /* FP_QUEUE_MAX: queued + running jobs limit; 0 = 10000 */
  bool verify;           /* FP_SNS_VERIFY (default 1); false: signatures NOT checked (local
                            dev with LocalStack), warned at start and on every message */
  bool allow_raw;        /* FP_SNS_ALLOW_RAW (default 0): accept raw message delivery */
  bool auto_confirm;     /* FP_SNS_AUTO_CONFIRM (default 1): GET SubscribeURL ourselves */
  int confirm_attempts;  /* SubscribeURL tries on transient failures; 0 = 3 */
  const char *topic_arns; /* FP_SNS_TOPIC_ARNS: comma-separated allow-list; NULL/"" = any;
                             copied */
  /* Test-only (refused by fp_listener_opts_from_config unless FP_SNS_TEST_MODE=1); all
   * strings copied. */
  fp_sns_test_settings sns_test; /* FP_SNS_TEST_* (test-only; see fp_sns.h) */
} fp_listener_opts;

/* Zeroes o, then: port 8080, verify and auto_confirm on. */
void fp_listener_opts_default(fp_listener_opts *o);
/* Fills o from DATABASE_URL (default sqlite:///file_processing.db), PORT, FP_BIND,
 * FP_HTTP_THREADS, FP_HTTP_TIMEOUT_S, FP_HTTP_REQUEST_TIMEOUT_S, FP_HTTP_MAX_CONNECTIONS,
 * FP_MAX_BODY, FP_QUEUE_MAX, FP_SNS_VERIFY,
 * FP_SNS_ALLOW_RAW, FP_SNS_AUTO_CONFIRM, FP_SNS_TOPIC_ARNS and the FP_SNS_TEST_* settings.
 * Strings stay borrowed from c. FP_ERR_CONFIG names a malformed value, or a test-only
 * setting given without FP_SNS_TEST_MODE=1. */
fp_err fp_listener_opts_from_config(const fp_config *c, fp_listener_opts *o, fp_diag *d);

typedef struct fp_listener fp_listener; /* opaque */

/* What the listener calls back into: the server never calls the jobs layer itself
 * (apps wires a worker pool in here). All optional; ud must outlive the listener. */
typedef struct fp_listener_hooks {
  void (*jobs_enqueued)(void *ud, size_t created); /* after a commit that created jobs */
  fp_err (*metrics)(void *ud, fp_buf *out);        /* extra Prometheus text for /metrics */
  void *ud;
} fp_listener_hooks;

/* Opens the store (running migrations), builds the SNS verifier (applying the test
 * settings), binds and starts serving. hooks (copied; may be NULL) wake workers after each
 * enqueue and add their stats to /metrics. Nothing runs on error (FP_ERR_IO: cannot bind;
 * FP_ERR_CONFIG: bad option). Owned: fp_listener_free. */
fp_err fp_listener_start(const fp_listener_opts *o, const fp_listener_hooks *hooks,
                         fp_listener **out, fp_diag *d);
/* The bound port (useful with port 0). */
unsigned fp_listener_port(const fp_listener *l);
/* Shutdown began: /readyz and POST / answer 503 from now on (SNS retries elsewhere);
 * liveness stays 200. Thread-safe, idempotent, async-signal-unsafe. */
void fp_listener_begin_shutdown(fp_listener *l);
/* Stops accepting and closes the socket; returns after running handlers finished (their
 * jobs are committed). Idempotent. */
void fp_listener_stop(fp_listener *l);
void fp_listener_free(fp_listener *l); /* stops if needed; NULL-safe */

/* Renders the /metrics text into *out (owned, free) — also used by tests. */
fp_err fp_listener_metrics_text(fp_listener *l, char **out, fp_diag *d);

#endif
