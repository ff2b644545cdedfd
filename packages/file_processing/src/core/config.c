/* config.c — .env + environment snapshot. A small array of owned key/value pairs: the
 * number of settings is tens, so linear lookup beats a hash table in code and time. */
#include "fp/fp_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <strings.h>

#include "fp/fp_buf.h"

extern char **environ;

typedef struct kv {
  char *key, *val;
} kv;

struct fp_config {
  kv *items;
  size_t n, cap;
};

static kv *find(const fp_config *c, const char *key) {
  for (size_t i = 0; i < c->n; i++)
    if (strcmp(c->items[i].key, key) == 0) return &c->items[i];
  return NULL;
}

static fp_err put(fp_config *c, const char *key, size_t klen, const char *val, size_t vlen) {
  char *k = strndup(key, klen), *v = strndup(val, vlen);
  if (!k || !v) goto nomem;
  kv *old = find(c, k);
  if (old) {
    free(old->val);
    old->val = v;
    free(k);
    return FP_OK;
  }
  if (c->n == c->cap) {
    size_t ncap = c->cap ? c->cap * 2 : 32;
    kv *p = realloc(c->items, ncap * sizeof *p);
    if (!p) goto nomem;
    c->items = p;
    c->cap = ncap;
  }
  c->items[c->n++] = (kv){k, v};
  return FP_OK;
nomem:
  free(k);
  free(v);
  return FP_ERR_NOMEM;
}

fp_err fp_config_set(fp_config *c, const char *key, const char *value) {
  return put(c, key, strlen(key), value, strlen(value));
}

/* Parses one value (after '='): quoted or bare; bare values end at " #". */
static fp_err parse_value(const char *s, fp_buf *out) {
  while (*s == ' ' || *s == '\t') s++;
  if (*s == '"' || *s == '\'') {
    char q = *s++;
    for (; *s && *s != q; s++) {
      char ch = *s;
      if (q == '"' && ch == '\\' && s[1]) {
        s++;
        ch = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s;
      }
      if (fp_buf_putc(out, ch)) return FP_ERR_NOMEM;
    }
    if (*s != q) return FP_ERR_CONFIG;
    s++;
    while (*s == ' ' || *s == '\t') s++;
    return (*s == '\0' || *s == '#') ? FP_OK : FP_ERR_CONFIG;
  }
  const char *end = s + strlen(s);
  for (const char *h = s; *h; h++)
    if (*h == '#' && (h == s || h[-1] == ' ' || h[-1] == '\t')) {
      end = h;
      break;
    }
  while (end > s && isspace((unsigned char)end[-1])) end--;
  return fp_buf_append(out, s, (size_t)(end - s)) ? FP_ERR_NOMEM : FP_OK;
}

#define FP__ENV_MAX_LINE 65536u

/* Loads one .env file; keys already present (from an earlier file) are kept. */
static fp_err load_file(fp_config *c, const char *path, fp_diag *d) {
  FILE *f = fopen(path, "r");
  if (!f) return errno == ENOENT ? FP_OK : fp_diag_set(d, FP_ERR_CONFIG, "cannot read %s: %s", path, strerror(errno));
  /* getline, not a fixed buffer: fgets split a long line and parsed its tail as a line of
   * its own, so text deep inside one value could set another key. */
  char *line = NULL;
  size_t linecap = 0;
  ssize_t got;
  unsigned lineno = 0;
  fp_err e = FP_OK;
  fp_buf val;
  fp_buf_init(&val, FP__ENV_MAX_LINE);
  while (!e && (got = getline(&line, &linecap, f)) >= 0) {
    lineno++;
    if ((size_t)got > FP__ENV_MAX_LINE) {
      e = fp_diag_set(d, FP_ERR_CONFIG, "%s:%u: line longer than %u bytes", path, lineno,
                      FP__ENV_MAX_LINE);
      break;
    }
    if (memchr(line, '\0', (size_t)got)) { /* C strings would silently cut the value */
      e = fp_diag_set(d, FP_ERR_CONFIG, "%s:%u: NUL byte in line", path, lineno);
      break;
    }
    line[strcspn(line, "\r\n")] = '\0';
    char *s = line;
    while (isspace((unsigned char)*s)) s++;
    if (*s == '#' || *s == '\0') continue;
    if (strncmp(s, "export ", 7) == 0) s += 7;
    char *eq = strchr(s, '=');
    size_t klen = eq ? (size_t)(eq - s) : 0;
    while (klen && isspace((unsigned char)s[klen - 1])) klen--;
    int ok = klen > 0;
    for (size_t i = 0; ok && i < klen; i++)
      ok = isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.';
    if (!ok) {
      e = fp_diag_set(d, FP_ERR_CONFIG, "%s:%u: expected KEY=VALUE", path, lineno);
      break;
    }
    fp_buf_reset(&val);
    if (parse_value(eq + 1, &val)) {
      e = fp_diag_set(d, FP_ERR_CONFIG, "%s:%u: malformed value for %.*s", path, lineno, (int)klen, s);
      break;
    }
    char key[256];
    if (klen >= sizeof key) {
      e = fp_diag_set(d, FP_ERR_CONFIG, "%s:%u: key too long", path, lineno);
      break;
    }
    memcpy(key, s, klen);
    key[klen] = '\0';
    if (!find(c, key)) e = put(c, key, klen, val.data ? val.data : "", val.len);
  }
  fp_buf_free(&val);
  free(line);
  if (!e && ferror(f)) e = fp_diag_set(d, FP_ERR_CONFIG, "cannot read %s", path);
  fclose(f);
  return e;
}

fp_err fp_config_load(const char *const *paths, size_t npaths, fp_config **out, fp_diag *d) {
  fp_config *c = calloc(1, sizeof *c);
  if (!c) return fp_diag_set(d, FP_ERR_NOMEM, "config");
  fp_err e = FP_OK;
  /* Environment first so it wins: later loads never override existing keys. */
  for (char **env = environ; env && *env && !e; env++) {
    const char *eq = strchr(*env, '=');
    if (eq) e = put(c, *env, (size_t)(eq - *env), eq + 1, strlen(eq + 1));
  }
  for (size_t i = 0; i < npaths && !e; i++) e = load_file(c, paths[i], d);
  if (e) {
    fp_config_free(c);
    return fp_diag_set(d, e, "loading configuration");
  }
  *out = c;
  return FP_OK;
}

fp_err fp_config_load_default(fp_config **out, fp_diag *d) {
  const char *paths[] = {"packages/file_processing/.env", ".env"};
  return fp_config_load(paths, 2, out, d);
}

void fp_config_free(fp_config *c) {
  if (!c) return;
  for (size_t i = 0; i < c->n; i++) {
    free(c->items[i].key);
    free(c->items[i].val);
  }
  free(c->items);
  free(c);
}

const char *fp_config_get(const fp_config *c, const char *key) {
  const kv *p = c ? find(c, key) : NULL;
  return p ? p->val : NULL;
}

const char *fp_config_str(const fp_config *c, const char *key, const char *def) {
  const char *v = fp_config_get(c, key);
  return v && *v ? v : def;
}

fp_err fp_config_size(const fp_config *c, const char *key, size_t def, size_t *out, fp_diag *d) {
  const char *v = fp_config_get(c, key);
  if (!v || !*v) {
    *out = def;
    return FP_OK;
  }
  char *end;
  errno = 0;
  unsigned long long n = strtoull(v, &end, 10);
  unsigned long long mul = 1;
  if (*end == 'K' || *end == 'k') mul = 1ULL << 10, end++;
  else if (*end == 'M' || *end == 'm') mul = 1ULL << 20, end++;
  else if (*end == 'G' || *end == 'g') mul = 1ULL << 30, end++;
  if (*end == 'i' || *end == 'B') end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
  if (errno || end == v || *end || v[0] == '-' || n > (unsigned long long)SIZE_MAX / mul)
    return fp_diag_set(d, FP_ERR_CONFIG, "%s=%s: expected a non-negative number (K/M/G suffix allowed)", key, v);
  *out = (size_t)(n * mul);
  return FP_OK;
}

fp_err fp_config_bool(const fp_config *c, const char *key, int def, int *out, fp_diag *d) {
  const char *v = fp_config_get(c, key);
  if (!v || !*v) {
    *out = def;
    return FP_OK;
  }
  static const char *const yes[] = {"1", "true", "yes", "on"}, *const no[] = {"0", "false", "no", "off"};
  for (int i = 0; i < 4; i++) {
    if (strcasecmp(v, yes[i]) == 0) return *out = 1, FP_OK;
    if (strcasecmp(v, no[i]) == 0) return *out = 0, FP_OK;
  }
  return fp_diag_set(d, FP_ERR_CONFIG, "%s=%s: expected true or false", key, v);
}

/* Query parameters whose value is a secret: libpq takes password= (and sslpassword=) in a
 * URL's query as well as in its userinfo; presigned AWS URLs carry X-Amz-Security-Token
 * and X-Amz-Signature. Matched as substrings of the name, case-insensitively. */
static bool secret_param(const char *name, size_t n) {
  static const char *const words[] = {"password", "passwd", "secret", "token", "signature"};
  for (size_t w = 0; w < sizeof words / sizeof *words; w++) {
    size_t k = strlen(words[w]);
    for (size_t i = 0; i + k <= n; i++)
      if (strncasecmp(name + i, words[w], k) == 0) return true;
  }
  return false;
}

typedef struct mask_out {
  char *p;
  size_t cap, len;
} mask_out;

static void mput(mask_out *o, const char *s, size_t n) {
  for (size_t i = 0; i < n && o->len + 1 < o->cap; i++) o->p[o->len++] = s[i];
  o->p[o->len] = '\0';
}

void fp_mask_url(const char *url, char *out, size_t outsz) {
  if (!outsz) return;
  mask_out o = {out, outsz, 0};
  out[0] = '\0';
  const char *scheme = strstr(url, "://");
  const char *auth = scheme ? scheme + 3 : url;
  size_t alen = strcspn(auth, "/?#");
  /* The last '@' of the authority ends the userinfo: an unencoded '@' inside a password
   * must not leak the password's tail. */
  const char *at = NULL;
  for (const char *p = auth; p < auth + alen; p++)
    if (*p == '@') at = p;
  const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
  const char *rest = auth; /* copied verbatim up to the query */
  mput(&o, url, (size_t)(auth - url));
  if (colon) {
    mput(&o, auth, (size_t)(colon + 1 - auth));
    mput(&o, "***", 3);
    rest = at;
  }
  const char *q = strchr(auth + alen, '?');
  const char *hash = strchr(auth + alen, '#');
  if (q && hash && hash < q) q = NULL;
  if (!q) {
    mput(&o, rest, strlen(rest));
    return;
  }
  mput(&o, rest, (size_t)(q + 1 - rest));
  const char *p = q + 1;
  while (*p && *p != '#') {
    size_t plen = strcspn(p, "&;#");
    const char *eq = memchr(p, '=', plen);
    if (eq && secret_param(p, (size_t)(eq - p))) {
      mput(&o, p, (size_t)(eq + 1 - p));
      mput(&o, "***", 3);
    } else {
      mput(&o, p, plen);
    }
    p += plen;
    if (*p == '&' || *p == ';') mput(&o, p++, 1);
  }
  mput(&o, p, strlen(p));
}
