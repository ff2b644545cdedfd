/* aws_int.h — private plumbing shared by the src/aws sources and their unit tests: the
 * libcurl adapter (aws_http.c), a bounded XML tag extractor and the STS calls (sts.c), ISO-8601
 * times, the shared config/credentials file reader (inifile.c) and the SigV4 key chain
 * (sigv4.c). Nothing here is part of the public contract in fp/fp_aws.h. */
#ifndef FP_AWS_INT_H
#define FP_AWS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "fp/fp_aws.h"
#include "fp/fp_buf.h"
#include "fp/fp_config.h"
#include "fp/fp_err.h"
#include "fp/fp_stream.h"

/* ---- HTTP over libcurl (aws_http.c) ---------------------------------------------------- */

#define FP__HTTP_DEF_MAX_BODY ((size_t)1 << 20) /* buffered response cap when max_body = 0 */
#define FP__HTTP_MAX_HEADERS_BYTES ((size_t)64 << 10)

typedef struct fp__http_req {
  const char *method;            /* "GET" | "HEAD" | "POST" | "PUT" | "DELETE" */
  const char *url;               /* http:// or https:// only */
  const fp_http_header *headers; /* sent as given (a "Host" here replaces curl's) */
  size_t nheaders;
  const void *body; /* request body for POST/PUT (NULL with body_len 0 = empty) */
  size_t body_len;
  long connect_timeout_ms; /* 0 = 10 s */
  long timeout_ms;         /* whole transfer; 0 = no limit (then set low_speed_secs) */
  long low_speed_secs;     /* abort when under 1 byte/s for this long; 0 = off */
  size_t max_body;         /* cap on the buffered response body; 0 = 1 MiB */
  bool follow_redirects;   /* false: a 3xx is returned as is */
  bool no_proxy;           /* bypass any proxy (link-local / loopback endpoints) */
  const char *ca_bundle;   /* CURLOPT_CAINFO (AWS_CA_BUNDLE); NULL = system default */
  /* Optional streaming: bytes of a 2xx response body go to sink instead of resp->body (a
   * non-2xx body, e.g. an S3 <Error>, is still buffered). A sink error aborts the transfer
   * and is returned unchanged. */
  fp_sink_fn sink;
  void *sink_ud;
  const char *what; /* names the peer in messages: "STS", "container credentials" */
} fp__http_req;

typedef struct fp__http_resp {
  long status;         /* HTTP status of the final response; 0 when none arrived */
  fp_buf body;         /* owned; buffered body (capped at max_body) */
  fp_buf headers;      /* owned; raw header lines of the last response ("Name: v\r\n"...) */
  uint64_t body_bytes; /* body bytes received, streamed or buffered */
} fp__http_resp;

void fp__http_resp_init(fp__http_resp *r);
void fp__http_resp_free(fp__http_resp *r); /* NULL-safe; r reusable after init */
/* Performs one request; resp must have been initialised (it is reset here, so one resp can
 * serve several requests in turn). Returns FP_OK whenever an HTTP response arrived, whatever its
 * status (the caller interprets resp->status). Transport failures are translated here, the
 * one libcurl adapter: timeouts, refused/reset connections, DNS → FP_ERR_TRANSIENT; body
 * over max_body → FP_ERR_LIMIT; bad URL / TLS verification → FP_ERR_CONFIG; others
 * FP_ERR_IO. Messages name req->what and the URL (userinfo masked), never header values. */
fp_err fp__http_do(const fp__http_req *req, fp__http_resp *resp, fp_diag *d);
/* Value of the last response's header name (case-insensitive), trimmed, into out. */
bool fp__http_header_get(const fp__http_resp *r, const char *name, char *out, size_t outsz);
/* curl_global_init exactly once per process (pthread_once); fp__http_do calls it. */
void fp__curl_global_init(void);
/* Splits an http(s) URL: host[:port] as curl sends it in Host (default port dropped),
 * bare host (IPv6 without brackets), and whether it is https. */
fp_err fp__url_parts(const char *url, char *hostport, size_t hpsz, char *host, size_t hsz,
                     bool *https);
/* true for 127.0.0.0/8, ::1 and "localhost". */
bool fp__host_is_loopback(const char *host);

/* ---- small text helpers (sts.c) -------------------------------------------------------- */

/* The inner text of the first <tag ...>…</tag> element in xml[0, n) (not unescaped).
 * Bounded: never reads outside the range. */
bool fp__xml_find(const char *xml, size_t n, const char *tag, const char **inner,
                  size_t *inner_len);
/* Unescaped text of the first <tag> into out (the five entities and &#N; / &#xH;).
 * FP_ERR_NOT_FOUND when absent, FP_ERR_LIMIT when it does not fit. */
fp_err fp__xml_text(const char *xml, size_t n, const char *tag, char *out, size_t outsz);
/* Owned (free) unescaped text of the first <tag>, NULL when absent or out of memory. */
char *fp__xml_text_dup(const char *xml, size_t n, const char *tag);
/* "2024-01-02T03:04:05Z", fractions and "+hh:mm"/"-hh:mm" offsets accepted; UTC seconds. */
fp_err fp__parse_iso8601(const char *s, time_t *out);
/* "YYYYMMDDTHHMMSSZ" for t (UTC). */
void fp__amz_date(time_t t, char out[17]);

/* ---- STS (sts.c) ----------------------------------------------------------------------- */

#define FP__STS_TIMEOUT_MS 10000L

/* Parses an STS response (status + XML body) of action ("AssumeRoleWithWebIdentity",
 * "AssumeRole") into out (source left for the caller). <ErrorResponse>: AccessDenied,
 * InvalidIdentityToken, ExpiredToken*, IDPRejectedClaim → FP_ERR_FORBIDDEN; Throttling,
 * IDPCommunicationError and 5xx → FP_ERR_TRANSIENT; the message carries Code and Message
 * and the endpoint. */
fp_err fp__sts_parse(long status, const char *xml, size_t n, const char *action,
                     const char *endpoint, fp_aws_creds *out, fp_diag *d);
/* AssumeRoleWithWebIdentity: an unsigned form POST to the STS endpoint of region
 * (AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL override). token is the JWT (never logged). */
fp_err fp__sts_assume_role_web_identity(const fp_config *cfg, const char *region,
                                        const char *role_arn, const char *session_name,
                                        const char *token, fp_aws_creds *out, fp_diag *d);
/* AssumeRole signed with src (role_arn + source_profile chaining). duration_s 0 = default. */
fp_err fp__sts_assume_role(const fp_config *cfg, const char *region, const fp_aws_creds *src,
                           const char *role_arn, const char *session_name, const char *external_id,
                           long duration_s, fp_aws_creds *out, fp_diag *d);

/* ---- S3 <Error> bodies (s3.c) ------------------------------------------------------------ */

/* Text of <tag> in an S3 <Error> body xml[0, len) (xml may be NULL), unescaped, cut to fit
 * outsz; the raw inner text, cut, when unescaping it whole does not fit; "" when absent.
 * Control bytes become '?' so the result is safe to log. */
void fp__s3_error_field(const char *xml, size_t len, const char *tag, char *out, size_t outsz);
/* S3/AWS error codes worth a retry (SlowDown, InternalError, RequestTimeout...). */
bool fp__s3_code_is_retryable(const char *code);

/* ---- shared config files (inifile.c) --------------------------------------------------- */

#define FP__INI_MAX_BYTES ((size_t)1 << 20)

typedef struct fp__ini fp__ini; /* opaque: profile → key → value */

/* Parses the text of ~/.aws/config (config_file: "[profile x]" and "[default]" are
 * profiles, other sections ignored) or ~/.aws/credentials ("[x]" is profile x). '#' and
 * ';' start comment lines; "key = value" with keys lower-cased and values trimmed;
 * indented sub-keys (s3 =\n  max_concurrent_requests = 20) are stored as "s3.key". */
fp_err fp__ini_parse(const char *text, size_t n, bool config_file, fp__ini **out, fp_diag *d);
/* Loads a file; a missing file gives *out = NULL and FP_OK. */
fp_err fp__ini_load(const char *path, bool config_file, fp__ini **out, fp_diag *d);
const char *fp__ini_get(const fp__ini *ini, const char *profile, const char *key); /* borrowed */
bool fp__ini_has_profile(const fp__ini *ini, const char *profile);
void fp__ini_free(fp__ini *ini); /* NULL-safe */

/* Both shared files as a config snapshot names them (AWS_SHARED_CREDENTIALS_FILE,
 * AWS_CONFIG_FILE, else $HOME/.aws/{credentials,config}) and the selected profile
 * (AWS_PROFILE, AWS_DEFAULT_PROFILE, else "default"). */
typedef struct fp__aws_files {
  fp__ini *creds, *config; /* owned; NULL when the file is absent */
  char creds_path[512], config_path[512];
  char profile[128];
  bool profile_explicit; /* named by AWS_PROFILE / AWS_DEFAULT_PROFILE */
} fp__aws_files;

fp_err fp__aws_files_load(const fp_config *cfg, fp__aws_files *f, fp_diag *d);
void fp__aws_files_free(fp__aws_files *f);
/* key of profile: the credentials file first, then the config file. Borrowed. */
const char *fp__aws_files_get(const fp__aws_files *f, const char *profile, const char *key);
bool fp__aws_files_has(const fp__aws_files *f, const char *profile);

/* ---- SigV4 internals (sigv4.c) --------------------------------------------------------- */

/* hex(HMAC(signing key(secret, date8, region, service), sts)); the key is wiped after. */
fp_err fp__sigv4_signature(const char *secret, const char *date8, const char *region,
                           const char *service, const char *sts, size_t sts_len, char out[65]);

#endif
