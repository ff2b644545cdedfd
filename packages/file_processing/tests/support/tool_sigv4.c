/* tool_sigv4.c — signs one request described as JSON on stdin with libfp's SigV4 signer and
 * prints the result as JSON, so integration tests can compare with botocore.
 *
 * stdin:  {"method","path","query","headers":[[name,value],...],"payload_hash","region",
 *          "service","time" (ISO-8601 or epoch seconds),"access_key","secret_key",
 *          "session_token","normalize" (default false: S3),"omit_session_token"}
 *         Instead of "path", "key" (+ optional "bucket" for path-style) builds the S3 wire
 *         path with fp_aws_uri_encode: "/" [bucket "/"] encode(key, keep '/').
 * stdout: {"canonical_request","string_to_sign","signature","authorization","amz_date",
 *          "signed_headers"}; exit 2 with {"error","message"} when signing fails. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws_int.h"
#include "fp/fp_aws.h"

#define MAX_HDRS 128

static const char *str(json_t *o, const char *k, const char *def) {
  json_t *v = json_object_get(o, k);
  return json_is_string(v) ? json_string_value(v) : def;
}

static int fail(const char *code, const char *msg) {
  json_t *o = json_pack("{s:s, s:s}", "error", code, "message", msg);
  json_dumpf(o, stdout, JSON_COMPACT);
  fputc('\n', stdout);
  json_decref(o);
  return 2;
}

int main(void) {
  json_error_t je;
  json_t *in = json_loadf(stdin, 0, &je);
  if (!json_is_object(in)) return fail("JSON", je.text);
  fp_http_header h[MAX_HDRS];
  size_t nh = 0;
  json_t *hs = json_object_get(in, "headers"), *pair;
  size_t i;
  json_array_foreach(hs, i, pair) {
    if (nh == MAX_HDRS || !json_is_string(json_array_get(pair, 0)) ||
        !json_is_string(json_array_get(pair, 1))) {
      json_decref(in);
      return fail("USAGE", "headers must be [[name, value], ...] (at most 128)");
    }
    h[nh++] = (fp_http_header){json_string_value(json_array_get(pair, 0)),
                               json_string_value(json_array_get(pair, 1))};
  }
  time_t when = 0;
  json_t *t = json_object_get(in, "time");
  if (json_is_integer(t))
    when = (time_t)json_integer_value(t);
  else if (!json_is_string(t) || fp__parse_iso8601(json_string_value(t), &when) != FP_OK) {
    json_decref(in);
    return fail("USAGE", "time must be ISO-8601 or epoch seconds");
  }
  fp_aws_creds c = {.access_key_id = (char *)str(in, "access_key", NULL),
                    .secret_access_key = (char *)str(in, "secret_key", NULL),
                    .session_token = (char *)str(in, "session_token", NULL)};
  const char *path = str(in, "path", "/");
  char *built = NULL;
  const char *key = str(in, "key", NULL), *bucket = str(in, "bucket", NULL);
  if (key) {
    char *ek = fp_aws_uri_encode(key, strlen(key), true);
    size_t n = (bucket ? strlen(bucket) : 0) + (ek ? strlen(ek) : 0) + 3;
    built = malloc(n);
    if (!ek || !built) {
      free(ek);
      free(built);
      json_decref(in);
      return fail("NOMEM", "out of memory");
    }
    snprintf(built, n, "/%s%s%s", bucket ? bucket : "", bucket ? "/" : "", ek);
    free(ek);
    path = built;
  }
  fp_sigv4_request req = {str(in, "method", "GET"),     path, str(in, "query", NULL), h, nh,
                          str(in, "payload_hash", NULL)};
  fp_sigv4_opts o = {str(in, "region", "us-gov-west-1"), str(in, "service", "s3"), when,
                     json_is_true(json_object_get(in, "normalize")),
                     json_is_true(json_object_get(in, "omit_session_token"))};
  fp_sigv4_result res;
  fp_diag d;
  fp_diag_clear(&d);
  fp_err e = fp_sigv4_sign(&req, &c, &o, &res, &d);
  if (e) {
    int rc = fail(fp_err_name(e), d.msg);
    free(built);
    json_decref(in);
    return rc;
  }
  json_t *out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "canonical_request",
                          res.canonical_request, "string_to_sign", res.string_to_sign, "signature",
                          res.signature, "authorization", res.authorization, "amz_date",
                          res.amz_date, "signed_headers", res.signed_headers, "path", path);
  free(built);
  json_dumpf(out, stdout, JSON_COMPACT | JSON_ENSURE_ASCII);
  fputc('\n', stdout);
  json_decref(out);
  fp_sigv4_result_clear(&res);
  json_decref(in);
  return 0;
}
