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
/* Streams the object's stored bytes to sink in chunks of at most 1 MiB; fills info first
 * (info may be NULL). Errors from the sink are returned unchanged. */
fp_err fp_objstore_stream(fp_objstore *s, const fp_object_ref *ref, fp_sink_fn sink, void *ud,
                          fp_object_info *info, fp_diag *d);
const char *fp_objstore_kind(const fp_objstore *s); /* "local" */
void fp_objstore_free(fp_objstore *s);              /* NULL-safe */

#endif
