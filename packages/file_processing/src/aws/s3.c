/* s3.c — placeholder: the S3 backend lands with the S3 work. */
#include "fp/fp_objstore.h"

fp_err fp_objstore_s3_new(const fp_config *cfg, fp_objstore **out, fp_diag *d) {
  (void)cfg, (void)out;
  return fp_diag_set(d, FP_ERR_NOT_IMPLEMENTED,
                     "the S3 backend is not implemented yet; set LOCAL_S3_ROOT (or "
                     "--local-s3-root) to read objects from a local directory laid out like the bucket");
}
fp_err fp_objstore_put(fp_objstore *s, const char *bucket, const char *key, const char *body,
                       size_t len, const char *content_type, fp_diag *d) {
  (void)s, (void)bucket, (void)key, (void)body, (void)len, (void)content_type;
  return fp_diag_set(d, FP_ERR_NOT_IMPLEMENTED, "S3 uploads are not implemented yet");
}
