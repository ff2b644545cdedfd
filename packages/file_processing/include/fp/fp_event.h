/* fp_event.h — S3 object-created events in every envelope we accept, as object refs.
 *
 * Accepted documents: an S3 notification ({"Records":[...]}, eventVersion major 2, one or
 * more records, eventSource aws:s3); the same wrapped in an SNS envelope (Type
 * "Notification", Message a JSON string holding the notification); an EventBridge
 * "Object Created" event (source aws.s3); a JSON array of any of these. The s3:TestEvent
 * ({"Event":"s3:TestEvent",...}) is recognised and counted as skipped, not an error.
 * Keys arrive form-encoded: '+' becomes a space, then %XX is decoded; the result must be
 * non-empty valid UTF-8 without NUL. Anything else is FP_ERR_EVENT (FP_ERR_JSON for
 * malformed JSON) with the JSON path of the offending value in diag.key, e.g.
 * "$.Records[0].s3.object.key". No signature checking happens here (see the SNS module). */
#ifndef FP_EVENT_H
#define FP_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "fp/fp_err.h"

typedef struct fp_object_ref {
  char *bucket;     /* owned, never NULL */
  char *key;        /* owned, decoded, never NULL */
  char *version_id; /* owned, NULL when absent or empty */
  char *etag;       /* owned, NULL when absent (quotes stripped) */
  int64_t size;     /* -1 when absent */
  char *sequencer;  /* owned, NULL when absent */
  char *event_time; /* owned, ISO 8601 as sent, NULL when absent */
  char *event_name; /* owned, e.g. "ObjectCreated:Put", NULL when absent */
} fp_object_ref;

typedef struct fp_event_list {
  fp_object_ref *items; /* owned array */
  size_t n;
  size_t skipped; /* s3:TestEvent and non-ObjectCreated records skipped */
} fp_event_list;

/* Parses one JSON document (object or array). Appends to out, which must be zeroed or
 * hold earlier results. On error out is left as it was before the call. */
fp_err fp_events_parse_json(const char *json, size_t len, fp_event_list *out, fp_diag *d);
/* The Message of a verified SNS Notification: as fp_events_parse_json, except that an SNS
 * envelope inside it is refused (FP_ERR_EVENT): nobody checked that inner envelope's
 * signature or topic, and S3, EventBridge and SQS never nest one there. */
fp_err fp_events_parse_sns_message(const char *json, size_t len, fp_event_list *out,
                                   fp_diag *d);
/* Parses the contents of an --events-file: one JSON document (object or array), or JSON
 * lines (one document per non-blank line). Errors name the line number in diag.row. */
fp_err fp_events_parse_text(const char *text, size_t len, fp_event_list *out, fp_diag *d);
void fp_event_list_free(fp_event_list *l); /* frees items, zeroes l; NULL-safe */

/* Form-decodes an S3 event key: '+' -> ' ', %XX -> byte; rejects bad escapes, empty
 * results, NUL and invalid UTF-8 (FP_ERR_EVENT). *out owned: free(). */
fp_err fp_s3_key_decode(const char *in, size_t n, char **out, fp_diag *d);

/* Deep copy (owned members); dst must be unused. */
fp_err fp_object_ref_copy(fp_object_ref *dst, const fp_object_ref *src);
void fp_object_ref_clear(fp_object_ref *r); /* frees members; NULL-safe */

#endif
