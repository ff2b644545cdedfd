/* tool_s3put.c — test tool: uploads a local file with fp_objstore_put through the S3
 * backend (same configuration as the job: AWS_* and FP_S3_* from the environment), so the
 * integration tests exercise PUT signing, retries and errors against s3rver.
 *
 *   tool_s3put BUCKET KEY FILE [CONTENT-TYPE]
 *
 * Exit status: 0 uploaded; otherwise the job's exit codes (2 bad input, 3 transient). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp/fp_buf.h"
#include "fp/fp_config.h"
#include "fp/fp_log.h"
#include "fp/fp_objstore.h"

static int fail(const fp_diag *d) {
  char buf[2048];
  fp_diag_format(d, buf, sizeof buf);
  fprintf(stderr, "tool_s3put: %s\n", buf);
  int code = fp_err_exit_code(d->code);
  return code ? code : 2;
}

static fp_err slurp(const char *path, fp_buf *b, fp_diag *d) {
  FILE *f = fopen(path, "rb");
  if (!f) return fp_diag_set(d, FP_ERR_NOT_FOUND, "cannot open %s", path);
  char chunk[65536];
  size_t n;
  fp_err e = FP_OK;
  while (!e && (n = fread(chunk, 1, sizeof chunk, f)) > 0) e = fp_buf_append(b, chunk, n);
  if (!e && ferror(f)) e = fp_diag_set(d, FP_ERR_IO, "reading %s", path);
  fclose(f);
  if (e == FP_ERR_LIMIT) e = fp_diag_set(d, e, "%s is larger than 64 MiB", path);
  return e;
}

int main(int argc, char **argv) {
  if (argc < 4 || argc > 5) {
    fputs("usage: tool_s3put BUCKET KEY FILE [CONTENT-TYPE]\n", stderr);
    return 2;
  }
  fp_diag d;
  fp_diag_clear(&d);
  fp_config *cfg = NULL;
  if (fp_config_load(NULL, 0, &cfg, &d)) return fail(&d);
  fp_log_setup(fp_config_str(cfg, "FP_LOG_LEVEL", "info"), 0);
  fp_buf body;
  fp_buf_init(&body, (size_t)64 << 20);
  fp_objstore *os = NULL;
  fp_err e = slurp(argv[3], &body, &d);
  if (!e) e = fp_objstore_s3_new(cfg, &os, &d);
  if (!e)
    e = fp_objstore_put(os, argv[1], argv[2], body.data ? body.data : "", body.len,
                        argc == 5 ? argv[4] : "text/csv", &d);
  int rc = e ? fail(&d) : 0;
  if (!e)
    fprintf(stderr, "tool_s3put: uploaded %zu bytes to s3://%s/%s\n", body.len, argv[1], argv[2]);
  fp_objstore_free(os);
  fp_buf_free(&body);
  fp_config_free(cfg);
  return rc;
}
