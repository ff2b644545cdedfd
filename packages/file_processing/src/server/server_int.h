/* server_int.h — private layout of the listener: the object, its store-handle stack and
 * the request counters behind /metrics. */
#ifndef FP_SERVER_INT_H
#define FP_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "fp/fp_buf.h"
#include "fp/fp_server.h"
#include "fp/fp_sns.h"
#include "fp/fp_store.h"

/* Request kinds (metric label "type"). */
typedef enum fp__req_type {
  FP__T_NOTIFICATION = 0,
  FP__T_SUB_CONFIRM,
  FP__T_UNSUB_CONFIRM,
  FP__T_RAW,
  FP__T_INVALID, /* POST / that never got as far as a known Type */
  FP__T_HEALTH,
  FP__T_READY,
  FP__T_METRICS,
  FP__T_OTHER,
  FP__T_COUNT
} fp__req_type;

#define FP__NCODES 10 /* 200 400 403 404 405 413 500 502 503, other */

typedef struct fp__metrics {
  atomic_ullong requests[FP__T_COUNT][FP__NCODES];
  atomic_ullong sig_failures;   /* fp_sns_verify refused */
  atomic_ullong unverified;     /* messages accepted with FP_SNS_VERIFY=0 */
  atomic_ullong jobs_created;   /* rows added by POST / */
  atomic_ullong jobs_duplicate; /* object versions that already had a job */
  atomic_ullong events_skipped; /* s3:TestEvent and non-ObjectCreated records */
  atomic_ullong queue_full;     /* 503 because of FP_QUEUE_MAX */
  atomic_ullong db_errors;      /* 503 because of the DB */
  atomic_ullong slow_requests;  /* connections cut by FP_HTTP_REQUEST_TIMEOUT_S */
} fp__metrics;

typedef struct fp__store_stack {
  pthread_mutex_t mu;
  fp_store **items;
  size_t n, cap;
  char *url;
} fp__store_stack;

struct fp_listener {
  fp_listener_opts o; /* strings point at the copies below */
  char *store_url, *bind, *topic_copy;
  const char **topics;
  size_t ntopics;
  fp_sns_verifier *verifier;
  fp_listener_hooks hooks;
  struct MHD_Daemon *mhd;
  unsigned port;
  atomic_bool shutting_down;
  fp__store_stack stores;
  fp__metrics m;
  /* Open connections and the reaper that cuts requests over request_timeout_s: MHD's own
   * timeout only measures idleness, so a client sending one byte a second kept a
   * connection (and its memory) forever. conn_mu guards the list, reaper_stop and the
   * sockets' lifetime (MHD closes a socket only after its CLOSED notification). */
  pthread_mutex_t conn_mu;
  pthread_cond_t reaper_cv;
  pthread_t reaper;
  bool reaper_running, reaper_stop, conn_mu_ok;
  struct fp__conn *conns;
};

/* fp_listener_start without the socket: options copied, topics split, verifier built,
 * store opened once (migrations). fp_listener_start calls it and then binds; the fuzz
 * harness drives fp__listener_post on such a listener. Owned: fp_listener_free. */
fp_err fp__listener_new(const fp_listener_opts *o, const fp_listener_hooks *hooks,
                        fp_listener **out, fp_diag *d);
/* The POST / flow of fp_server.h without a socket: the x-amz-sns-rawdelivery and
 * x-amz-sns-message-type header values (NULL when absent) and the body (too_large: it
 * went over max_body, body not read) → the HTTP status; out (initialised by the caller)
 * is reset and receives the JSON answer. Counted in the metrics like any request. The MHD
 * handler calls exactly this. */
unsigned fp__listener_post(fp_listener *l, const char *raw_hdr, const char *type_hdr,
                           const char *body, size_t len, bool too_large, fp_buf *out);

/* Store handles (see fp_server.h). acquire → NULL with d set on failure. release with
 * broken = true closes the handle instead of keeping it. */
fp_store *fp__store_acquire(fp__store_stack *s, fp_diag *d);
void fp__store_release(fp__store_stack *s, fp_store *st, bool broken);

void fp__metrics_count(fp__metrics *m, fp__req_type t, unsigned status);
fp_err fp__metrics_render(fp_listener *l, fp_buf *out);

/* Appends s as a JSON string (quotes included); bytes outside printable ASCII become '?'. */
fp_err fp__json_str(fp_buf *b, const char *s);

#endif
