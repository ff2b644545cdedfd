/* fp_config.h — the configuration snapshot: environment over .env files over defaults.
 *
 * Built once at start-up (fp_config_load) and read-only afterwards, so threads share it
 * freely. Command-line flags are applied by the apps on top (flags > env > .env > default).
 * .env syntax: KEY=VALUE lines, optional `export `, '#' comments, single or double quotes
 * around the value (double quotes understand \n \" \\). */
#ifndef FP_CONFIG_H
#define FP_CONFIG_H

#include <stddef.h>

#include "fp/fp_err.h"

typedef struct fp_config fp_config; /* opaque */

/* Loads the given .env files in order (earlier files win over later ones; missing files
 * are skipped), then the process environment on top. paths may be NULL. Owned: free with
 * fp_config_free. A malformed .env line is an FP_ERR_CONFIG naming file and line. */
fp_err fp_config_load(const char *const *paths, size_t npaths, fp_config **out, fp_diag *d);
/* The default search: packages/file_processing/.env then ./.env. */
fp_err fp_config_load_default(fp_config **out, fp_diag *d);
void fp_config_free(fp_config *c); /* NULL-safe */

/* Borrowed, valid while c lives; NULL when unset. Empty values count as set. */
const char *fp_config_get(const fp_config *c, const char *key);
/* Returns def when unset or empty. */
const char *fp_config_str(const fp_config *c, const char *key, const char *def);
/* Parses an unsigned integer with optional K/M/G (binary) suffix; FP_ERR_CONFIG on junk. */
fp_err fp_config_size(const fp_config *c, const char *key, size_t def, size_t *out, fp_diag *d);
/* "1,true,yes,on" / "0,false,no,off"; FP_ERR_CONFIG on anything else. */
fp_err fp_config_bool(const fp_config *c, const char *key, int def, int *out, fp_diag *d);
/* Sets or overrides a key (used for flags). Copies both strings. */
fp_err fp_config_set(fp_config *c, const char *key, const char *value);

/* Copies url into out with any password replaced by "***" (scheme://user:***@host/...),
 * and the values of query parameters named like a secret (password, sslpassword,
 * X-Amz-Security-Token, X-Amz-Signature, ...: "?password=***"). Truncated to outsz. */
void fp_mask_url(const char *url, char *out, size_t outsz);

#endif
