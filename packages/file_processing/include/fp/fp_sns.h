/* fp_sns.h — SNS HTTP(S) messages: parsing, the string to sign, and signature
 * verification against the SNS signing certificate (fetched over TLS and cached).
 *
 * Contract, in order of use by the listener:
 *   1. fp_sns_message_parse(body) → fp_sns_message (owned strings; fp_sns_message_clear).
 *      Bodies over FP_SNS_MAX_BODY → FP_ERR_LIMIT; bad JSON or duplicate keys →
 *      FP_ERR_JSON; an unknown Type or a missing/non-string field → FP_ERR_EVENT with the
 *      field named in diag.msg and "$.<Field>" in diag.key.
 *   2. fp_sns_verify(verifier, msg): FP_OK only when SignatureVersion is "1" (RSA-SHA1) or
 *      "2" (RSA-SHA256), SigningCertURL passes the URL rules, the certificate is an RSA
 *      (>= 2048 bits) certificate with CN=sns.amazonaws.com valid at the verifier's clock,
 *      and the signature over fp_sns_string_to_sign() verifies with its public key.
 *      Every failed check → FP_ERR_FORBIDDEN, diag.msg naming the check; a certificate
 *      fetch that failed for network reasons (DNS, connect, TLS, timeout, HTTP 429/5xx) →
 *      FP_ERR_TRANSIENT (answer 5xx so SNS retries). Nothing in msg is trusted before this.
 *   3. For a verified confirmation: fp_sns_topic_allowed, then fp_sns_confirm_subscription.
 *
 * SigningCertURL rules (checked before any fetch): "https://" only; no userinfo; no
 * explicit port; host ^sns\.[a-zA-Z0-9-]{3,}\.amazonaws\.com(\.cn)?$; path of
 * [A-Za-z0-9._~/-] ending in ".pem"; no query, no fragment. SubscribeURL: https, no
 * userinfo or port, the same host rule, no fragment, query holding exactly one Action
 * parameter, Action=ConfirmSubscription.
 *
 * The verifier is opaque and thread-safe: one per process, shared by the listener's
 * threads. It caches certificates by URL (LRU, cache_max entries, dropped after
 * cache_ttl_s; one load per URL even under concurrent verifies, other threads wait for
 * it; refused certificates are remembered for 60 s, transient failures are not). The
 * validity period is checked against the verifier's clock on every verify, cached or not.
 * The chain of a fetched certificate is not validated (as in the AWS SDKs): trust comes
 * from the TLS-verified fetch from an SNS host. Library code never prints; test mode is
 * announced with fp_warn. */
#ifndef FP_SNS_H
#define FP_SNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "fp/fp_config.h"
#include "fp/fp_err.h"

#define FP_SNS_MAX_BODY (256u * 1024u) /* bigger bodies → FP_ERR_LIMIT */

typedef enum fp_sns_type {
  FP_SNS_NOTIFICATION = 1,
  FP_SNS_SUBSCRIPTION_CONFIRMATION = 2,
  FP_SNS_UNSUBSCRIBE_CONFIRMATION = 3
} fp_sns_type;

/* "Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"; borrowed static,
 * "?" for other values. */
const char *fp_sns_type_name(fp_sns_type t);

/* One parsed SNS message. Every string is owned by the struct (fp_sns_message_clear),
 * NUL-terminated, holds the JSON-unescaped value byte for byte and contains no NUL. */
typedef struct fp_sns_message {
  fp_sns_type type;
  char *message_id;
  char *topic_arn;
  char *subject;      /* NULL when absent or null (Notification only) */
  char *message;      /* may be empty; kept exactly (e.g. a trailing "\n") */
  size_t message_len; /* strlen(message), for convenience */
  char *timestamp;
  char *signature_version; /* as sent: "1", "2", anything else fails verification */
  char *signature;         /* base64, as sent */
  char *signing_cert_url;
  char *subscribe_url;   /* confirmations: required; NULL for Notification */
  char *token;           /* confirmations: required; NULL for Notification */
  char *unsubscribe_url; /* optional (Notification); NULL when absent. Not signed. */
} fp_sns_message;

/* Parses one SNS HTTP body (a JSON object). out must be unused or cleared; on error it is
 * left zeroed. Unknown members are ignored. Required for every Type: Type, MessageId,
 * TopicArn, Message, Timestamp, SignatureVersion, Signature, SigningCertURL; also
 * SubscribeURL and Token for the two confirmations. */
fp_err fp_sns_message_parse(const char *body, size_t len, fp_sns_message *out, fp_diag *d);
void fp_sns_message_clear(fp_sns_message *m); /* frees members, zeroes m; NULL-safe */

/* The canonical string to sign ("Key\nvalue\n" pairs, AWS's fixed order; Subject only
 * when present). *out owned (free), NUL-terminated, *outlen its length. */
fp_err fp_sns_string_to_sign(const fp_sns_message *m, char **out, size_t *outlen, fp_diag *d);

/* ---- rules that need no certificate ------------------------------------------------ */

typedef struct fp_sns_verifier fp_sns_verifier; /* opaque */

/* The SigningCertURL / SubscribeURL rules above. v may be NULL (strict rules); a
 * test-mode verifier with fp_sns_verifier_test_allow_host also accepts that exact
 * "host:port" authority. FP_ERR_FORBIDDEN with the rule that failed. */
fp_err fp_sns_check_cert_url(const fp_sns_verifier *v, const char *url, fp_diag *d);
fp_err fp_sns_check_subscribe_url(const fp_sns_verifier *v, const char *url, fp_diag *d);
/* What fp_sns_verify checks before it needs the certificate: SignatureVersion,
 * SigningCertURL rules, Signature is strict base64 of a plausible length. For a
 * "verification off" local-dev mode; it proves nothing about the sender. v may be NULL.
 * (SubscribeURL is checked by fp_sns_check_subscribe_url / fp_sns_confirm_subscription.) */
fp_err fp_sns_check_format(const fp_sns_verifier *v, const fp_sns_message *m, fp_diag *d);
/* true when allowed is empty (n == 0) or holds topic_arn exactly. */
bool fp_sns_topic_allowed(const char *topic_arn, const char *const *allowed, size_t n);

/* ---- the verifier ------------------------------------------------------------------- */

typedef struct fp_sns_verifier_opts {
  bool test_mode;        /* allows the fp_sns_verifier_test_* settings; logged (warn) */
  size_t cache_max;      /* certificates kept; 0 → 16 */
  int cache_ttl_s;       /* seconds a cached certificate is reused; 0 → 3600 */
  long fetch_timeout_ms; /* whole HTTPS GET, certificate or SubscribeURL; 0 → 5000 */
  size_t cert_max_bytes; /* largest PEM (and SubscribeURL answer) accepted; 0 → 64 KiB */
} fp_sns_verifier_opts;

/* o may be NULL (defaults, production mode). Owned: fp_sns_verifier_free. */
fp_err fp_sns_verifier_new(const fp_sns_verifier_opts *o, fp_sns_verifier **out, fp_diag *d);
void fp_sns_verifier_free(fp_sns_verifier *v); /* NULL-safe; no verify may be running */

/* Verifies m's signature (see the contract at the top). Thread-safe. */
fp_err fp_sns_verify(fp_sns_verifier *v, const fp_sns_message *m, fp_diag *d);

/* GETs m->subscribe_url (m must be a SubscriptionConfirmation that fp_sns_verify
 * accepted; the URL rules are checked again) with the certificate fetch's TLS settings,
 * no redirects, the same size cap. HTTP 200 → FP_OK and *subscription_arn = the
 * <SubscriptionArn> of the answer (owned, free; NULL when the answer has none).
 * Network failures, 429 and 5xx → FP_ERR_TRANSIENT; other statuses → FP_ERR_FORBIDDEN.
 * No retries here. subscription_arn may be NULL. */
fp_err fp_sns_confirm_subscription(fp_sns_verifier *v, const fp_sns_message *m,
                                   char **subscription_arn, fp_diag *d);

typedef struct fp_sns_verifier_stats {
  uint64_t cert_loads;    /* certificates fetched or read from a mapped file, successfully */
  uint64_t cert_failures; /* loads that failed (fetch, size, PEM, CN, key type) */
  uint64_t cache_hits;    /* verifies served from the cache (incl. remembered refusals) */
  uint64_t verified;      /* fp_sns_verify calls that returned FP_OK */
  uint64_t rejected;      /* fp_sns_verify calls that returned an error */
  size_t cached;          /* entries in the cache now */
} fp_sns_verifier_stats;

void fp_sns_verifier_stats_get(fp_sns_verifier *v, fp_sns_verifier_stats *out);

/* ---- test-only settings -------------------------------------------------------------
 * Each returns FP_ERR_CONFIG and changes nothing unless the verifier was created with
 * test_mode = true; each logs a warning and empties the certificate cache. Thread-safe,
 * but meant to be set before the verifier is shared. Paths and strings are copied. */

/* SigningCertURLs equal to url_or_basename (when it holds "://"), or whose last path
 * segment equals it, are read from pem_path instead of being fetched. The URL rules still
 * apply first. */
fp_err fp_sns_verifier_test_map_cert(fp_sns_verifier *v, const char *url_or_basename,
                                     const char *pem_path, fp_diag *d);
/* The clock for certificate validity checks (UTC seconds) instead of time(NULL). */
fp_err fp_sns_verifier_test_set_clock(fp_sns_verifier *v, time_t now, fp_diag *d);
/* CA bundle (PEM file) the HTTPS fetches trust instead of the system store. */
fp_err fp_sns_verifier_test_set_ca_file(fp_sns_verifier *v, const char *ca_pem_path, fp_diag *d);
/* Also accept URLs whose authority is exactly host_port (e.g. "127.0.0.1:8443") in the
 * cert URL and SubscribeURL rules; every other rule still applies. */
fp_err fp_sns_verifier_test_allow_host(fp_sns_verifier *v, const char *host_port, fp_diag *d);
/* Unmapped certificate URLs fail (FP_ERR_FORBIDDEN) instead of being fetched. */
fp_err fp_sns_verifier_test_disable_fetch(fp_sns_verifier *v, fp_diag *d);

/* The test-only verifier settings as the environment gives them: FP_SNS_TEST_MODE,
 * FP_SNS_TEST_CERT_MAP ("url_or_basename=/path.pem,..."), FP_SNS_TEST_CLOCK (unix s),
 * FP_SNS_TEST_CA_FILE, FP_SNS_TEST_ALLOW_HOST ("host:port"), FP_SNS_TEST_DISABLE_FETCH.
 * Shared by the listener and the SQS consumer. Strings are borrowed from the config. */
typedef struct fp_sns_test_settings {
  bool test_mode;
  const char *cert_map;
  bool has_clock;
  int64_t clock;
  const char *ca_file;
  const char *allow_host;
  bool disable_fetch;
} fp_sns_test_settings;

/* Reads the settings; any of them without FP_SNS_TEST_MODE=1 is FP_ERR_CONFIG naming it. */
fp_err fp_sns_test_settings_from_config(const fp_config *c, fp_sns_test_settings *out,
                                        fp_diag *d);
/* A verifier in test mode exactly when t->test_mode, with t's settings applied (t may be
 * NULL: production). Owned: fp_sns_verifier_free. */
fp_err fp_sns_verifier_new_from_settings(const fp_sns_test_settings *t, fp_sns_verifier **out,
                                         fp_diag *d);

#endif
