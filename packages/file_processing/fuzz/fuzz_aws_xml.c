/* fuzz_aws_xml.c — libFuzzer harness for the XML that AWS answers with: STS
 * AssumeRole[WithWebIdentity] responses and errors (fp__sts_parse), S3 <Error> bodies
 * (fp__s3_error_field, fp__s3_code_is_retryable), the bounded tag extractor under both
 * (fp__xml_find / _text / _text_dup) and ISO-8601 times (fp__parse_iso8601). Private API
 * from src/aws/aws_int.h; no network.
 *
 * Input layout: byte 0 picks the HTTP status, byte 1 the STS action and a tag; the rest is
 * the response body. Checked beyond memory safety: a found element's inner text lies
 * inside the input; fp__xml_text and fp__xml_text_dup agree; STS success yields non-empty
 * keys and an error leaves the credentials zeroed with d.code set; S3 error fields are
 * printable (no control bytes) and fit their buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/aws_int.h"
#include "fp/fp_log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fp_log_set_level(FP_LOG_OFF);
  return 0;
}

static const char *const TAGS[] = {
    "Credentials", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration",
    "Code",        "Message",     "Error",           "RequestId",    "x"};

static void check_tag(const char *xml, size_t n, const char *tag) {
  const char *inner = NULL;
  size_t il = 0;
  bool found = fp__xml_find(xml, n, tag, &inner, &il);
  if (found && (inner < xml || inner + il > xml + n)) __builtin_trap();
  char out[64];
  fp_err e = fp__xml_text(xml, n, tag, out, sizeof out);
  if (e != FP_OK && e != FP_ERR_NOT_FOUND && e != FP_ERR_LIMIT) __builtin_trap();
  if ((e == FP_ERR_NOT_FOUND) != !found) __builtin_trap();
  char *dup = fp__xml_text_dup(xml, n, tag);
  if (!found && dup) __builtin_trap();
  if (e == FP_OK && (!dup || strcmp(dup, out) != 0)) __builtin_trap();
  free(dup);
}

static void check_s3_field(const char *xml, size_t n, const char *tag, size_t outsz) {
  char out[400];
  memset(out, 'Z', sizeof out);
  fp__s3_error_field(xml, n, tag, out, outsz);
  size_t l = strnlen(out, outsz);
  if (l >= outsz) __builtin_trap(); /* not terminated inside the buffer */
  for (size_t i = 0; i < l; i++)
    if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f) __builtin_trap();
  (void)fp__s3_code_is_retryable(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  static const long statuses[] = {200, 200, 200, 400, 403, 404, 500, 503};
  long status = statuses[data[0] & 7];
  if (data[0] & 8) status = 100 + data[0];
  const char *action = data[1] & 1 ? "AssumeRole" : "AssumeRoleWithWebIdentity";
  /* an exact-size copy of the body, so any read past it is caught */
  size_t n = size - 2;
  char *xml = malloc(n ? n : 1);
  if (!xml) return 0;
  memcpy(xml, data + 2, n);

  fp_aws_creds c;
  fp_diag d;
  fp_diag_clear(&d);
  fp_err e = fp__sts_parse(status, xml, n, action, "https://sts.example.test", &c, &d);
  if (e) {
    if (d.code != e || c.access_key_id || c.secret_access_key || c.session_token) __builtin_trap();
  } else {
    if (status != 200 || !c.access_key_id || !*c.access_key_id || !c.secret_access_key ||
        !*c.secret_access_key || !c.session_token)
      __builtin_trap();
    fp_aws_creds_clear(&c);
  }

  for (size_t i = 0; i < sizeof TAGS / sizeof TAGS[0]; i++) check_tag(xml, n, TAGS[i]);
  check_s3_field(xml, n, "Code", 1 + (data[1] >> 1) % 128);
  check_s3_field(xml, n, "Message", 384);
  check_s3_field(NULL, 0, "Code", 16);

  /* The body as a timestamp. */
  char ts[80];
  size_t tl = n < sizeof ts - 1 ? n : sizeof ts - 1;
  memcpy(ts, xml, tl);
  ts[tl] = '\0';
  time_t t;
  (void)fp__parse_iso8601(ts, &t);
  free(xml);
  return 0;
}
