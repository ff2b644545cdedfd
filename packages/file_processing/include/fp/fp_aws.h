/* fp_aws.h — AWS plumbing written against the wire protocols: SigV4 signing (OpenSSL
 * HMAC-SHA256), the SDKs' credential chain, and region/endpoint resolution.
 *
 * Debian's libcurl does not canonicalise query strings nor add x-amz-content-sha256, so we
 * sign ourselves; CURLOPT_AWS_SIGV4 is not used. No secret is ever logged or put in a
 * diag message. */
#ifndef FP_AWS_H
#define FP_AWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "fp/fp_config.h"
#include "fp/fp_err.h"

/* ---- credentials ------------------------------------------------------------------ */

typedef struct fp_aws_creds {
  char *access_key_id;     /* owned */
  char *secret_access_key; /* owned; never logged */
  char *session_token;     /* owned, NULL when none */
  time_t expiration;       /* 0 = does not expire */
  char source[32];         /* "env" | "web-identity" | "profile" | "container" | "imds" */
} fp_aws_creds;

void fp_aws_creds_clear(fp_aws_creds *c); /* frees and wipes the secret; NULL-safe */
fp_err fp_aws_creds_copy(fp_aws_creds *dst, const fp_aws_creds *src);

/* The chain, in the SDKs' order: environment (AWS_ACCESS_KEY_ID/SECRET/SESSION_TOKEN);
 * web identity (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE [+ AWS_ROLE_SESSION_NAME] →
 * STS AssumeRoleWithWebIdentity, an unsigned form POST; AWS_ENDPOINT_URL_STS overrides the
 * regional endpoint); shared files (~/.aws/credentials and ~/.aws/config, AWS_PROFILE,
 * AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE; role_arn + source_profile chaining);
 * container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI / _RELATIVE_URI +
 * AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]); IMDSv2 last (AWS_EC2_METADATA_DISABLED=true
 * skips it; 1 s timeouts so a laptop does not hang). Temporary credentials are cached and
 * refreshed 5 minutes before expiry; thread-safe. */
typedef struct fp_aws_cred_provider fp_aws_cred_provider; /* opaque */

/* cfg borrowed, must outlive the provider. Owned: free with fp_aws_cred_provider_free. */
fp_err fp_aws_cred_provider_new(const fp_config *cfg, fp_aws_cred_provider **out, fp_diag *d);
/* Current credentials, copied into out (owned: fp_aws_creds_clear). FP_ERR_FORBIDDEN when
 * no source has any (message lists what was tried); FP_ERR_TRANSIENT when a source failed
 * in a way a retry may fix (STS 5xx, timeouts). */
fp_err fp_aws_cred_get(fp_aws_cred_provider *p, fp_aws_creds *out, fp_diag *d);
void fp_aws_cred_provider_free(fp_aws_cred_provider *p); /* NULL-safe */

/* ---- region and endpoints ------------------------------------------------------------ */

/* AWS_REGION, then AWS_DEFAULT_REGION, then the profile's region, then "us-gov-west-1"
 * (this deployment's default). Copied into out. */
void fp_aws_region(const fp_config *cfg, char *out, size_t outsz);
/* "aws" | "aws-us-gov" | "aws-cn" for a region. Borrowed static. */
const char *fp_aws_partition(const char *region);
/* Endpoint for service ("s3", "sts", "sqs") in region: AWS_ENDPOINT_URL_<SERVICE> then
 * AWS_ENDPOINT_URL (custom, *custom = true), else the AWS default
 * ("https://s3.us-gov-west-1.amazonaws.com", ".amazonaws.com.cn" for cn-*). */
void fp_aws_endpoint(const fp_config *cfg, const char *service, const char *region, char *out,
                     size_t outsz, bool *custom);

/* ---- SigV4 -------------------------------------------------------------------------- */

typedef struct fp_http_header {
  const char *name;
  const char *value;
} fp_http_header;

typedef struct fp_sigv4_request {
  const char *method;      /* "GET" */
  const char *path;        /* the path exactly as sent on the wire (already URI-encoded) */
  const char *query;       /* the raw query string as sent, without '?'; NULL = none */
  const fp_http_header *headers; /* all headers to sign, including host */
  size_t nheaders;
  const char *payload_hash; /* lowercase hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
} fp_sigv4_request;

typedef struct fp_sigv4_opts {
  const char *region;
  const char *service;
  time_t when;             /* signing time (UTC seconds) */
  bool normalize_path;     /* true for most services; false for S3 (no dot-segment removal,
                              no double encoding) */
  bool omit_session_token; /* sign without x-amz-security-token (rare services) */
} fp_sigv4_opts;

typedef struct fp_sigv4_result {
  char authorization[1024]; /* the Authorization header value */
  char amz_date[17];        /* X-Amz-Date value, "YYYYMMDDTHHMMSSZ" */
  char signed_headers[512];
  char signature[65];
  char *canonical_request;  /* owned (free), for tests and debug logs */
  char *string_to_sign;     /* owned (free) */
} fp_sigv4_result;

/* Signs req. The caller must send X-Amz-Date (res->amz_date) and, with a session token,
 * X-Amz-Security-Token, and must include them in req->headers when it wants them signed
 * (the S3 client does). Header names are lower-cased and values trimmed and their inner
 * whitespace runs folded, as the spec says. */
fp_err fp_sigv4_sign(const fp_sigv4_request *req, const fp_aws_creds *creds,
                     const fp_sigv4_opts *o, fp_sigv4_result *res, fp_diag *d);
void fp_sigv4_result_clear(fp_sigv4_result *res);

/* Lowercase hex SHA-256 of data into out (65 bytes). */
void fp_sha256_hex(const void *data, size_t n, char out[65]);
/* URI-encodes per SigV4/S3: unreserved kept, upper-case hex; keep_slash keeps '/'. Owned. */
char *fp_aws_uri_encode(const char *s, size_t n, bool keep_slash);

#endif
