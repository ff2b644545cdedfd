/* objstore_int.h — private layout of the object store: the backend vtable that
 * fp_objstore_* dispatch through.
 *
 * A backend embeds `fp_objstore` as the first member of its own struct and points `ops`
 * at a static table; objstore.c checks arguments and calls through it. Adding S3 means
 * one more ops table and one more constructor (fp_objstore_s3_new), nothing else in the
 * public layer. */
#ifndef FP_OBJSTORE_INT_H
#define FP_OBJSTORE_INT_H

#include "fp/fp_objstore.h"

/* Largest chunk any backend hands to the sink (the public contract says 1 MiB). */
#define FP__OBJSTORE_CHUNK ((size_t)1024 * 1024)

typedef struct fp__objstore_ops {
  const char *kind; /* "local", "s3" */
  /* ref, sink and info already checked non-NULL (info zeroed, size -1) by objstore.c. */
  fp_err (*stream)(fp_objstore *s, const fp_object_ref *ref, fp_sink_fn sink, void *ud,
                   fp_object_info *info, fp_diag *d);
  void (*destroy)(fp_objstore *s); /* frees the backend struct itself */
  /* Optional (NULL: the backend cannot upload). bucket and key checked non-NULL, body
   * non-NULL unless len is 0. */
  fp_err (*put)(fp_objstore *s, const char *bucket, const char *key, const char *body,
                size_t len, const char *content_type, fp_diag *d);
} fp__objstore_ops;

struct fp_objstore {
  const fp__objstore_ops *ops;
};

#endif
