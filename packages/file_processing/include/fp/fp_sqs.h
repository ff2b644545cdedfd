/* fp_sqs.h — a small Amazon SQS client over the AWS JSON protocol (1.0): POST / with
 * X-Amz-Target: AmazonSQS.<Action>, Content-Type application/x-amz-json-1.0, SigV4-signed
 * (service "sqs") with the credential chain of fp_aws.h.
 *
 * Endpoint: AWS_ENDPOINT_URL_SQS, then AWS_ENDPOINT_URL (local peers such as
 * local-aws-sqs); otherwise the queue URL's own https://sqs.<region>.amazonaws.com[.cn]
 * host (its region is used for signing), else https://sqs.<AWS_REGION>.amazonaws.com.
 * The queue is always named by its URL in the request body.
 *
 * Errors: HTTP 5xx, throttling codes (Throttling, RequestThrottled, ThrottlingException,
 * ServiceUnavailable, InternalFailure, KmsThrottled), timeouts and connection failures →
 * FP_ERR_TRANSIENT; AccessDenied / signature / token / KMS access codes →
 * FP_ERR_FORBIDDEN; QueueDoesNotExist / NonExistentQueue → FP_ERR_NOT_FOUND; any other
 * 4xx → FP_ERR_INVAL. Messages name the action, the queue URL (userinfo masked), the
 * HTTP status and the AWS error code and message; never credentials or receipt handles.
 *
 * A client is used by one thread at a time (no shared mutable state except the
 * credential provider, which is thread-safe). Library code never prints. */
#ifndef FP_SQS_H
#define FP_SQS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fp/fp_config.h"
#include "fp/fp_err.h"

#define FP_SQS_MAX_WAIT_S 20 /* ReceiveMessage WaitTimeSeconds upper bound */
#define FP_SQS_MAX_BATCH 10  /* ReceiveMessage MaxNumberOfMessages upper bound */
#define FP_SQS_MAX_VISIBILITY_S 43200

typedef struct fp_sqs_client fp_sqs_client; /* opaque */

/* queue_url copied; cfg borrowed for the call and, through the credential provider, for
 * the client's life (it must outlive the client). Checks the URL (http/https, no
 * userinfo) and resolves the endpoint; no request is made. Owned: fp_sqs_client_free. */
fp_err fp_sqs_client_new(const fp_config *cfg, const char *queue_url, fp_sqs_client **out,
                         fp_diag *d);
void fp_sqs_client_free(fp_sqs_client *c); /* NULL-safe */
/* The queue URL with any userinfo masked (borrowed, for log lines). */
const char *fp_sqs_client_queue(const fp_sqs_client *c);
/* The endpoint requests go to (borrowed). */
const char *fp_sqs_client_endpoint(const fp_sqs_client *c);

typedef struct fp_sqs_message {
  char *message_id;     /* owned */
  char *receipt_handle; /* owned; a secret of sorts: never logged */
  char *body;           /* owned, NUL-terminated (bodies hold no NUL) */
  size_t body_len;
  long receive_count; /* ApproximateReceiveCount; 0 when not reported */
} fp_sqs_message;

typedef struct fp_sqs_message_list {
  fp_sqs_message *items; /* owned */
  size_t n;
} fp_sqs_message_list;

void fp_sqs_message_list_free(fp_sqs_message_list *l); /* frees, zeroes; NULL-safe */

/* ReceiveMessage: waits up to wait_s (0..20) for up to max (1..10) messages, asking for
 * ApproximateReceiveCount. visibility_s > 0 overrides the queue's VisibilityTimeout for
 * these messages (0 = the queue's). out must be zeroed; it receives 0..max messages. */
fp_err fp_sqs_receive(fp_sqs_client *c, int wait_s, int max, int visibility_s,
                      fp_sqs_message_list *out, fp_diag *d);
/* DeleteMessage. */
fp_err fp_sqs_delete(fp_sqs_client *c, const char *receipt_handle, fp_diag *d);
/* ChangeMessageVisibility: the message becomes visible again visibility_s (0..43200)
 * seconds from now (0 = at once). */
fp_err fp_sqs_change_visibility(fp_sqs_client *c, const char *receipt_handle, int visibility_s,
                                fp_diag *d);
/* GetQueueAttributes for one attribute name (e.g. "VisibilityTimeout",
 * "ApproximateNumberOfMessages"); *value owned (free), NULL when the queue has none. */
fp_err fp_sqs_get_attribute(fp_sqs_client *c, const char *name, char **value, fp_diag *d);
/* SendMessage (tests and tools); *message_id (may be NULL) owned (free). */
fp_err fp_sqs_send(fp_sqs_client *c, const char *body, char **message_id, fp_diag *d);
/* CreateQueue on the client's endpoint (tests and tools); the client's own queue URL is
 * not used. visibility_s 0 = the service default. *queue_url owned (free). */
fp_err fp_sqs_create_queue(fp_sqs_client *c, const char *name, int visibility_s, char **queue_url,
                           fp_diag *d);

/* Maps an SQS error answer to an fp_err (see the top); code is the bare AWS error code
 * ("AccessDenied", "AWS.SimpleQueueService.NonExistentQueue"), may be NULL or "". */
fp_err fp_sqs_error_kind(long status, const char *code);

#endif
