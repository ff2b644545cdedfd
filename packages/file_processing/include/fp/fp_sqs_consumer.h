/* fp_sqs_consumer.h — the SQS consumer: one thread that long-polls an SQS queue fed by S3
 * (directly, or through SNS, or through EventBridge) and turns every message into durable
 * job(s) in the results DB queue (fp_store.h), which the worker pool (fp_worker.h) runs.
 *
 * Per message, in order:
 *   1. Body form. An SNS envelope ({"Type":"Notification",...,"Signature":...}: SNS → SQS
 *      without raw delivery) is parsed with fp_sns_message_parse and its signature checked
 *      with fp_sns_verify (unless sns_verify is off), then its TopicArn against topic_arns;
 *      the S3 event is its Message. Any other body (a raw S3 notification, an EventBridge
 *      event, s3:TestEvent, SNS raw delivery) is parsed as it is: SQS itself authenticates
 *      who may send to the queue.
 *   2. fp_events_parse_json. Only s3:TestEvent / non-ObjectCreated records → deleted, no
 *      job (info).
 *   3. fp_store_enqueue_many (one transaction, committed; a duplicate object version adds
 *      no job) → the on_enqueued hook (wakes the pool) → DeleteMessage.
 * A message that cannot be used (not JSON, not an S3 event, signature or topic refused)
 * is a poison message: it is NOT deleted, only logged (warn, with MessageId and
 * ApproximateReceiveCount); it becomes visible again after the visibility timeout, and the
 * queue's redrive policy moves it to the DLQ after maxReceiveCount receives. A transient
 * failure (DB down, certificate fetch failed) leaves the message too: it comes back. So a
 * message is deleted only after its job is durably recorded ("at least once in").
 *
 * Visibility: the consumer reads the queue's VisibilityTimeout at start (which also checks
 * the queue exists and is reachable with our credentials). While a received batch is being
 * handled, messages whose visibility would run out within a third of the timeout get a
 * ChangeMessageVisibility heartbeat (only slow DBs make that happen: enqueueing is short).
 * Stopping (SIGTERM) never deletes what was not recorded: messages received but not handled
 * yet are made visible again at once (ChangeMessageVisibility 0).
 *
 * Only the "enqueue" mode exists: jobs run later from the DB queue. A "direct" mode (run
 * the job inside the visibility window, heartbeat while it runs, delete when finished) is
 * not implemented; FP_SQS_MODE=direct is refused with FP_ERR_NOT_IMPLEMENTED.
 *
 * Library code: logs (fp_log.h), never prints or exits. */
#ifndef FP_SQS_CONSUMER_H
#define FP_SQS_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fp/fp_buf.h"
#include "fp/fp_config.h"
#include "fp/fp_err.h"
#include "fp/fp_sns.h"

typedef struct fp_sqs_consumer_opts {
  const char *queue_url;  /* FP_SQS_QUEUE_URL (or --sqs-queue-url); required; copied */
  const char *store_url;  /* DATABASE_URL; required; copied */
  int wait_s;             /* FP_SQS_WAIT_S: long-poll seconds 0..20; default 20 */
  int max_messages;       /* FP_SQS_MAX_MESSAGES: 1..10; default 10 */
  int visibility_s;       /* FP_SQS_VISIBILITY_S: >0 overrides the queue's timeout for our
                             receives; 0 = the queue's */
  bool sns_verify;        /* FP_SQS_SNS_VERIFY (default 1): verify SNS envelopes */
  const char *topic_arns; /* FP_SNS_TOPIC_ARNS: comma-separated allow-list for SNS
                             envelopes; NULL/"" = any; copied */
  /* Test-only verifier settings, as the listener reads them (FP_SNS_TEST_MODE=1 required:
   * FP_SNS_TEST_CERT_MAP, FP_SNS_TEST_CLOCK, FP_SNS_TEST_CA_FILE,
   * FP_SNS_TEST_ALLOW_HOST, FP_SNS_TEST_DISABLE_FETCH); strings copied. */
  fp_sns_test_settings sns_test; /* FP_SNS_TEST_* (test-only; see fp_sns.h) */
  /* Called on the consumer thread after jobs were recorded (created = new rows), e.g. to
   * wake the worker pool. May be NULL. */
  void (*on_enqueued)(void *ud, size_t created);
  void *ud;
} fp_sqs_consumer_opts;

/* Zeroes o, then wait_s 20, max_messages 10, sns_verify on. */
void fp_sqs_consumer_opts_default(fp_sqs_consumer_opts *o);
/* Reads the settings named above (strings stay borrowed from c) into o; FP_SQS_QUEUE_URL
 * only when o->queue_url is unset. FP_ERR_CONFIG names a malformed value;
 * FP_SQS_MODE other than "enqueue" → FP_ERR_NOT_IMPLEMENTED. */
fp_err fp_sqs_consumer_opts_from_config(const fp_config *c, fp_sqs_consumer_opts *o, fp_diag *d);

typedef struct fp_sqs_consumer fp_sqs_consumer; /* opaque */

/* Opens the store (migrations), makes the SQS client (cfg must outlive the consumer) and
 * the SNS verifier, reads the queue's VisibilityTimeout (FP_ERR_FORBIDDEN /
 * FP_ERR_NOT_FOUND / FP_ERR_TRANSIENT from SQS as fp_sqs.h maps them), then starts the
 * thread. Nothing runs on error. Owned: fp_sqs_consumer_free. */
fp_err fp_sqs_consumer_start(const fp_config *cfg, const fp_sqs_consumer_opts *o,
                             fp_sqs_consumer **out, fp_diag *d);

/* Stops receiving (SIGTERM). A batch being handled is finished message by message up to
 * grace_seconds; messages not handled by then are made visible again. A long poll in
 * progress cannot be interrupted: the thread is abandoned in it (whatever that poll
 * returns stays invisible until its visibility timeout, then is received again by another
 * consumer). Returns true when the thread ended (fp_sqs_consumer_free may then be
 * called); false when it was abandoned: the caller should exit the process without
 * freeing the consumer (nothing is lost). Thread-safe. */
bool fp_sqs_consumer_stop(fp_sqs_consumer *c, double grace_seconds);

/* A snapshot of the counters since start. */
#define FP_SQS_LATENCY_BUCKETS 8
typedef struct fp_sqs_consumer_stats {
  uint64_t receives;            /* ReceiveMessage calls that answered */
  uint64_t receive_errors;      /* ReceiveMessage calls that failed (retried with backoff) */
  uint64_t received;            /* messages received */
  uint64_t deleted;             /* messages deleted (recorded or test events) */
  uint64_t failed;              /* messages left in the queue: poison or transient failure */
  uint64_t poison;              /* of failed: unparseable / refused (the DLQ's business) */
  uint64_t skipped;             /* s3:TestEvent and non-ObjectCreated messages (deleted) */
  uint64_t jobs_created;        /* new job rows */
  uint64_t jobs_duplicate;      /* events whose object version already had a job */
  uint64_t delete_errors;       /* DeleteMessage failures (the message comes back; no new job) */
  uint64_t visibility_extended; /* ChangeMessageVisibility heartbeats */
  uint64_t released;            /* made visible again at stop */
  /* ReceiveMessage latency (long polls included), seconds. */
  uint64_t latency_count;
  double latency_sum_s, latency_max_s;
  uint64_t latency_bucket[FP_SQS_LATENCY_BUCKETS]; /* not cumulative */
} fp_sqs_consumer_stats;

/* Upper bounds in seconds of the latency buckets: 0.05 0.1 0.5 1 5 10 21 +Inf. Borrowed. */
const double *fp_sqs_latency_bounds(void);
void fp_sqs_consumer_stats_get(fp_sqs_consumer *c, fp_sqs_consumer_stats *out);
/* Appends Prometheus text (fp_sqs_messages_total{outcome=...}, fp_sqs_receive_seconds
 * histogram, ...) to b. */
fp_err fp_sqs_consumer_metrics(fp_sqs_consumer *c, fp_buf *b);
/* Stops (waiting without limit) and frees. Must not be called after a stop that returned
 * false. NULL-safe. */
void fp_sqs_consumer_free(fp_sqs_consumer *c);

#endif
