/* fp_objstore.h — where objects come from: an interface returning a byte stream for an
 * object ref. Backends: local directory (LOCAL_S3_ROOT); S3 slots in behind the same
 * interface later.
 *
 * Local backend: the object is LOCAL_S3_ROOT/<bucket>/<key> when that exists, else
 * LOCAL_S3_ROOT/<key>. Keys that would leave the root (absolute, "..", or symlinks that
 * resolve outside the root) are refused with FP_ERR_FORBIDDEN; a missing object is
 * FP_ERR_NOT_FOUND naming the path. Bytes are pushed raw (compressed as stored):
 * decompression is the caller's choice (fp_stream.h). */
#ifndef FP_OBJSTORE_H
#define FP_OBJSTORE_H

#include <stdint.h>

#include "fp/fp_config.h"
#include "fp/fp_err.h"
#include "fp/fp_event.h"
#include "fp/fp_stream.h"

typedef struct fp_objstore fp_objstore; /* opaque */

typedef struct fp_object_info {
  int64_t size;      /* bytes stored, -1 unknown */
  char location[1024]; /* human-readable: resolved path or s3://bucket/key */
  char etag[128];    /* "" when unknown */
} fp_object_info;

/* Owned: free with fp_objstore_free. root must be an existing directory. */
fp_err fp_objstore_local_new(const char *root, fp_objstore **out, fp_diag *d);

/* The S3 backend (see fp_aws.h for region, endpoints and credentials). cfg borrowed, must
 * outlive the store. Reads stream through libcurl's write callback (bounded memory); 5xx,
 * SlowDown/throttling, timeouts and resets are retried with exponential backoff and jitter
 * (FP_S3_MAX_ATTEMPTS, default 5), a body broken mid-way resumes with Range from the last
 * byte received under If-Match on the first response's ETag. 404 → FP_ERR_NOT_FOUND and
 * 403 → FP_ERR_FORBIDDEN naming bucket and key (no retry); retries exhausted →
 * FP_ERR_TRANSIENT. versionId is honoured. Path-style addressing for custom endpoints,
 * virtual-hosted style on AWS. */
fp_err fp_objstore_s3_new(const fp_config *cfg, fp_objstore **out, fp_diag *d);

/* Uploads a small object (the JSON report) with PUT; same signing, retries and errors.
 * Only for the S3 backend (FP_ERR_INVAL otherwise). */
fp_err fp_objstore_put(fp_objstore *s, const char *bucket, const char *key, const char *body,
                       size_t len, const char *content_type, fp_diag *d);
/* Streams the object's stored bytes to sink in chunks of at most 1 MiB; fills info first
 * (info may be NULL). Errors from the sink are returned unchanged. */
fp_err fp_objstore_stream(fp_objstore *s, const fp_object_ref *ref, fp_sink_fn sink, void *ud,
                          fp_object_info *info, fp_diag *d);
const char *fp_objstore_kind(const fp_objstore *s); /* "local" | "s3" */
void fp_objstore_free(fp_objstore *s);              /* NULL-safe */

#endif
