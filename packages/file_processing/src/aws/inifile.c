/* inifile.c — the AWS shared files (~/.aws/config and ~/.aws/credentials) as botocore reads
 * them: "[profile x]" / "[default]" in config, "[x]" in credentials; '#' and ';' comment
 * lines; "key = value" (keys lower-cased, values trimmed); indented continuation lines
 * under an empty "key =" are sub-keys ("s3.max_concurrent_requests"). A pure parser over a
 * bounded text, plus the file loading and profile selection the chain uses. */
#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws_int.h"

#define INI_MAX_ENTRIES 4096
#define INI_MAX_LINE 8192

typedef struct ini_kv {
  char *profile, *key, *value; /* owned */
} ini_kv;

struct fp__ini {
  ini_kv *items;
  size_t n, cap;
};

void fp__ini_free(fp__ini *ini) {
  if (!ini) return;
  for (size_t i = 0; i < ini->n; i++) {
    free(ini->items[i].profile);
    free(ini->items[i].key);
    if (ini->items[i].value) OPENSSL_cleanse(ini->items[i].value, strlen(ini->items[i].value));
    free(ini->items[i].value);
  }
  free(ini->items);
  free(ini);
}

static ini_kv *ini_find(const fp__ini *ini, const char *profile, const char *key) {
  for (size_t i = 0; ini && i < ini->n; i++)
    if (strcmp(ini->items[i].profile, profile) == 0 &&
        (key ? ini->items[i].key && strcmp(ini->items[i].key, key) == 0 : true))
      return &ini->items[i];
  return NULL;
}

const char *fp__ini_get(const fp__ini *ini, const char *profile, const char *key) {
  const ini_kv *kv = ini_find(ini, profile, key);
  return kv ? kv->value : NULL;
}

bool fp__ini_has_profile(const fp__ini *ini, const char *profile) {
  return ini_find(ini, profile, NULL) != NULL;
}

/* Sets profile.key = value (later lines win, as configparser); key NULL records the
 * section so an empty profile still exists. */
static fp_err ini_put(fp__ini *ini, const char *profile, const char *key, size_t klen,
                      const char *val, size_t vlen) {
  char *k = key ? strndup(key, klen) : NULL;
  if (key && !k) return FP_ERR_NOMEM;
  for (char *p = k; p && *p; p++) *p = (char)tolower((unsigned char)*p);
  ini_kv *old = k ? ini_find(ini, profile, k) : NULL;
  if (!k && ini_find(ini, profile, NULL)) return FP_OK;
  char *v = key ? strndup(val, vlen) : NULL;
  if (key && !v) {
    free(k);
    return FP_ERR_NOMEM;
  }
  if (old) {
    OPENSSL_cleanse(old->value, strlen(old->value));
    free(old->value);
    old->value = v;
    free(k);
    return FP_OK;
  }
  if (ini->n == INI_MAX_ENTRIES) {
    free(k);
    free(v);
    return FP_ERR_LIMIT;
  }
  if (ini->n == ini->cap) {
    size_t nc = ini->cap ? ini->cap * 2 : 16;
    ini_kv *p = realloc(ini->items, nc * sizeof *p);
    if (!p) {
      free(k);
      free(v);
      return FP_ERR_NOMEM;
    }
    ini->items = p, ini->cap = nc;
  }
  char *pr = strdup(profile);
  if (!pr) {
    free(k);
    free(v);
    return FP_ERR_NOMEM;
  }
  ini->items[ini->n++] = (ini_kv){pr, k, v};
  return FP_OK;
}

static void trim(const char **s, const char **e) {
  while (*s < *e && isspace((unsigned char)**s)) (*s)++;
  while (*e > *s && isspace((unsigned char)(*e)[-1])) (*e)--;
}

/* Section header "[...]" → profile name into out ("" = not a profile section). */
static bool section_name(const char *s, const char *e, bool config_file, char *out, size_t outsz) {
  out[0] = '\0';
  if (e - s < 2 || s[0] != '[' || e[-1] != ']') return false;
  s++, e--;
  trim(&s, &e);
  if (config_file) {
    if (e - s >= 8 && memcmp(s, "profile", 7) == 0 && isspace((unsigned char)s[7])) {
      s += 8;
      trim(&s, &e);
    } else if (!(e - s == 7 && memcmp(s, "default", 7) == 0)) {
      return true; /* sso-session, services, or a bare name: not a profile */
    }
  }
  size_t n = (size_t)(e - s);
  if (n >= 2 && (s[0] == '"' || s[0] == '\'') && e[-1] == s[0]) s++, n -= 2;
  if (n == 0 || n >= outsz) return true;
  memcpy(out, s, n);
  out[n] = '\0';
  return true;
}

fp_err fp__ini_parse(const char *text, size_t n, bool config_file, fp__ini **out, fp_diag *d) {
  *out = NULL;
  if (n > FP__INI_MAX_BYTES)
    return fp_diag_set(d, FP_ERR_LIMIT, "AWS shared file larger than %zu bytes", FP__INI_MAX_BYTES);
  fp__ini *ini = calloc(1, sizeof *ini);
  if (!ini) return fp_diag_set(d, FP_ERR_NOMEM, "AWS shared file");
  char profile[256] = "", parent[128] = "";
  fp_err e = FP_OK;
  unsigned lineno = 0;
  for (size_t pos = 0; pos < n && !e;) {
    const char *ls = text + pos;
    const char *nl = memchr(ls, '\n', n - pos);
    const char *le = nl ? nl : text + n;
    pos = (size_t)(le - text) + 1;
    lineno++;
    bool indented = ls < le && (*ls == ' ' || *ls == '\t');
    const char *s = ls, *t = le;
    trim(&s, &t);
    if (s == t || *s == '#' || *s == ';') continue;
    if (*s == '[' && !indented) {
      section_name(s, t, config_file, profile, sizeof profile);
      parent[0] = '\0';
      if (profile[0]) e = ini_put(ini, profile, NULL, 0, NULL, 0);
      continue;
    }
    if (!profile[0]) continue; /* outside a profile: ignored */
    const char *eq = memchr(s, '=', (size_t)(t - s));
    if (!eq) {
      e = fp_diag_set(d, FP_ERR_CONFIG, "line %u: expected 'key = value'", lineno);
      break;
    }
    const char *ks = s, *ke = eq, *vs = eq + 1, *ve = t;
    trim(&ks, &ke);
    trim(&vs, &ve);
    if (ks == ke) {
      e = fp_diag_set(d, FP_ERR_CONFIG, "line %u: empty key", lineno);
      break;
    }
    if (indented && parent[0]) { /* sub-key of the last "key =" */
      char full[256];
      int fl = snprintf(full, sizeof full, "%s.%.*s", parent, (int)(ke - ks), ks);
      if (fl > 0 && (size_t)fl < sizeof full)
        e = ini_put(ini, profile, full, (size_t)fl, vs, (size_t)(ve - vs));
      continue;
    }
    size_t kl = (size_t)(ke - ks);
    if (vs == ve && kl < sizeof parent) {
      memcpy(parent, ks, kl);
      parent[kl] = '\0';
    } else {
      parent[0] = '\0';
    }
    e = ini_put(ini, profile, ks, kl, vs, (size_t)(ve - vs));
  }
  if (e) {
    fp__ini_free(ini);
    return e == FP_ERR_NOMEM || e == FP_ERR_LIMIT ? fp_diag_set(d, e, "AWS shared file") : e;
  }
  *out = ini;
  return FP_OK;
}

fp_err fp__ini_load(const char *path, bool config_file, fp__ini **out, fp_diag *d) {
  *out = NULL;
  fp_buf b;
  fp_buf_init(&b, FP__INI_MAX_BYTES);
  int err = 0;
  fp_err e = fp_buf_read_file(&b, path, &err);
  if (e == FP_ERR_NOT_FOUND) { /* an absent shared file is simply not configured */
    fp_buf_free(&b);
    return FP_OK;
  }
  if (e) {
    if (b.data) OPENSSL_cleanse(b.data, b.cap);
    fp_buf_free(&b);
    if (e == FP_ERR_LIMIT) return fp_diag_set(d, e, "%s: larger than 1 MiB", path);
    return fp_diag_set(d, e == FP_ERR_NOMEM ? e : FP_ERR_CONFIG, "cannot read %s: %s", path,
                       err ? strerror(err) : fp_strerror(e));
  }
  fp_diag td;
  fp_diag_clear(&td);
  e = fp__ini_parse(b.data ? b.data : "", b.len, config_file, out, &td);
  if (b.data) OPENSSL_cleanse(b.data, b.cap);
  fp_buf_free(&b);
  if (e) return fp_diag_set(d, e, "%s: %s", path, td.msg);
  return FP_OK;
}

/* ---- the two shared files of a config snapshot ------------------------------------------ */

/* path from var, "~/"-expanded, else $HOME/.aws/<leaf>; "" when neither is known. */
static void shared_path(const fp_config *cfg, const char *var, const char *leaf, char *out,
                        size_t outsz) {
  const char *v = fp_config_str(cfg, var, NULL);
  const char *home = fp_config_str(cfg, "HOME", NULL);
  out[0] = '\0';
  if (v && v[0] == '~' && v[1] == '/' && home)
    snprintf(out, outsz, "%s%s", home, v + 1);
  else if (v)
    snprintf(out, outsz, "%s", v);
  else if (home)
    snprintf(out, outsz, "%s/.aws/%s", home, leaf);
}

fp_err fp__aws_files_load(const fp_config *cfg, fp__aws_files *f, fp_diag *d) {
  memset(f, 0, sizeof *f);
  const char *prof = fp_config_str(cfg, "AWS_PROFILE", NULL);
  if (!prof) prof = fp_config_str(cfg, "AWS_DEFAULT_PROFILE", NULL);
  f->profile_explicit = prof != NULL;
  snprintf(f->profile, sizeof f->profile, "%s", prof ? prof : "default");
  shared_path(cfg, "AWS_SHARED_CREDENTIALS_FILE", "credentials", f->creds_path,
              sizeof f->creds_path);
  shared_path(cfg, "AWS_CONFIG_FILE", "config", f->config_path, sizeof f->config_path);
  fp_err e = FP_OK;
  if (f->creds_path[0]) e = fp__ini_load(f->creds_path, false, &f->creds, d);
  if (!e && f->config_path[0]) e = fp__ini_load(f->config_path, true, &f->config, d);
  if (e) fp__aws_files_free(f);
  return e;
}

void fp__aws_files_free(fp__aws_files *f) {
  if (!f) return;
  fp__ini_free(f->creds);
  fp__ini_free(f->config);
  f->creds = f->config = NULL;
}

const char *fp__aws_files_get(const fp__aws_files *f, const char *profile, const char *key) {
  const char *v = fp__ini_get(f->creds, profile, key);
  return v ? v : fp__ini_get(f->config, profile, key);
}

bool fp__aws_files_has(const fp__aws_files *f, const char *profile) {
  return fp__ini_has_profile(f->creds, profile) || fp__ini_has_profile(f->config, profile);
}
