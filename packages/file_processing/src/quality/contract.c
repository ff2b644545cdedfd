/* contract.c — dataset contracts from files and text (the document is parsed by
 * contract_yaml.c / contract_json.c and given its meaning by contract_parse.c), the lookup
 * of the contract for an object key, and the hand-over of a contract's severity overrides
 * to a findings collector. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fp/fp_contract.h"
#include "quality/contract_int.h"

/* ---- loading ------------------------------------------------------------------------- */

typedef enum doc_format { DOC_SNIFF, DOC_YAML, DOC_JSON } doc_format;

static doc_format format_of(const char *path) {
  const char *slash = path ? strrchr(path, '/') : NULL;
  const char *dot = path ? strrchr(slash ? slash : path, '.') : NULL;
  if (!dot) return DOC_SNIFF;
  if (!strcasecmp(dot, ".json")) return DOC_JSON;
  if (!strcasecmp(dot, ".yaml") || !strcasecmp(dot, ".yml")) return DOC_YAML;
  return DOC_SNIFF;
}

/* The base name of path without its extension. Owned. */
static char *stem(const char *path) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  const char *dot = strrchr(base, '.');
  size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
  return strndup(base, n);
}

void fp_contract_free(fp_contract *c) {
  if (!c) return;
  free(c->name);
  free(c->path);
  fp__strv_free(c->match, c->nmatch);
  for (size_t i = 0; i < c->nfields; i++) fp_field_clear(&c->fields[i]);
  free(c->fields);
  fp__strv_free(c->missing_values, c->nmissing);
  free(c->primary_key);
  for (size_t i = 0; i < c->noverrides; i++) free(c->overrides[i].code);
  free(c->overrides);
  free(c);
}

static fp_contract *contract_new(const char *path, const char *name) {
  fp_contract *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->path = strdup(path);
  c->name = strdup(name);
  c->missing_values = calloc(1, sizeof *c->missing_values);
  if (c->missing_values) c->missing_values[0] = strdup("");
  c->nmissing = 1;
  fp_csv_dialect_default(&c->dialect);
  c->rows_min = c->rows_max = -1;
  c->max_error_rate = -1;
  fp_drift_opts_default(&c->drift);
  if (!c->path || !c->name || !c->missing_values || !c->missing_values[0]) {
    fp_contract_free(c);
    return NULL;
  }
  return c;
}

/* text (len bytes) -> contract. path: stored in the contract; where: names the source in
 * errors (diag key); name: the default name. */
static fp_err load(const char *text, size_t len, const char *path, const char *where,
                   const char *name, doc_format fmt, fp_contract **out, fp_diag *d) {
  if (len > FP__CONTRACT_MAX_BYTES) {
    fp_diag_key(d, where);
    return fp_diag_set(d, FP_ERR_CONTRACT,
                       "the contract is %zu bytes; contracts are limited to %zu", len,
                       FP__CONTRACT_MAX_BYTES);
  }
  if (fmt == DOC_SNIFF) {
    size_t i = len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3) ? 3 : 0;
    while (i < len && strchr(" \t\r\n", text[i])) i++;
    fmt = i < len && text[i] == '{' ? DOC_JSON : DOC_YAML;
  }
  fp__cnode *root = NULL;
  fp_err e = fmt == DOC_JSON ? fp__cdoc_parse_json(text, len, &root, d)
                             : fp__cdoc_parse_yaml(text, len, &root, d);
  fp_contract *c = NULL;
  if (!e && !(c = contract_new(path, name))) e = fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  if (!e) e = fp__contract_parse(root, c, d);
  fp__cnode_free(root);
  if (e) {
    fp_contract_free(c);
    fp_diag_key(d, where);
    return e;
  }
  *out = c;
  return FP_OK;
}

fp_err fp_contract_load_text(const char *text, size_t len, const char *name_hint, fp_contract **out,
                             fp_diag *d) {
  if (!out || (!text && len)) return fp_diag_set(d, FP_ERR_INVAL, "fp_contract_load_text: no text");
  *out = NULL;
  const char *where = name_hint ? name_hint : "<text>";
  char *name = stem(name_hint ? name_hint : "contract");
  if (!name) return fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  fp_err e = load(text ? text : "", len, "<text>", where, name, format_of(name_hint), out, d);
  free(name);
  return e;
}

/* Reads a regular file of at most FP__CONTRACT_MAX_BYTES. *buf owned. */
static fp_err read_contract_file(const char *path, char **buf, size_t *len, fp_diag *d) {
  *buf = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    fp_err code = err == ENOENT || err == ENOTDIR ? FP_ERR_NOT_FOUND
                  : err == EACCES || err == EPERM ? FP_ERR_FORBIDDEN
                                                  : FP_ERR_IO;
    fp_diag_set(d, code, "cannot open contract: %s", strerror(err));
    if (d && d->code == code) d->sys_errno = err;
    return code;
  }
  struct stat st;
  fp_err e = FP_OK;
  if (fstat(fd, &st) != 0)
    e = fp_diag_set(d, FP_ERR_IO, "cannot stat contract: %s", strerror(errno));
  else if (!S_ISREG(st.st_mode))
    e = fp_diag_set(d, FP_ERR_CONTRACT, "the contract is not a regular file");
  else if ((uint64_t)st.st_size > FP__CONTRACT_MAX_BYTES)
    e = fp_diag_set(d, FP_ERR_CONTRACT, "the contract is %lld bytes; contracts are limited to %zu",
                    (long long)st.st_size, FP__CONTRACT_MAX_BYTES);
  char *b = e ? NULL : malloc(FP__CONTRACT_MAX_BYTES + 2);
  if (!e && !b) e = fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  size_t n = 0;
  while (!e && n <= FP__CONTRACT_MAX_BYTES) { /* read one byte past the cap: it grew */
    ssize_t r = read(fd, b + n, FP__CONTRACT_MAX_BYTES + 1 - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) e = fp_diag_set(d, FP_ERR_IO, "cannot read contract: %s", strerror(errno));
    if (r <= 0) break;
    n += (size_t)r;
  }
  close(fd);
  if (!e && n > FP__CONTRACT_MAX_BYTES)
    e = fp_diag_set(d, FP_ERR_CONTRACT, "the contract is larger than %zu bytes",
                    FP__CONTRACT_MAX_BYTES);
  if (e) {
    free(b);
    return e;
  }
  b[n] = '\0';
  *buf = b;
  *len = n;
  return FP_OK;
}

fp_err fp_contract_load_file(const char *path, fp_contract **out, fp_diag *d) {
  if (!out || !path) return fp_diag_set(d, FP_ERR_INVAL, "fp_contract_load_file: no path");
  *out = NULL;
  char *text = NULL;
  size_t len = 0;
  fp_err e = read_contract_file(path, &text, &len, d);
  if (e) {
    fp_diag_key(d, path);
    return e;
  }
  char *name = stem(path);
  if (!name) e = fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  if (!e) e = load(text, len, path, path, name, format_of(path), out, d);
  free(name);
  free(text);
  return e;
}

/* ---- lookup by key ------------------------------------------------------------------- */

static bool contract_ext(const char *name) {
  if (name[0] == '.') return false; /* hidden files, editor locks */
  const char *dot = strrchr(name, '.');
  return dot && dot != name &&
         (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml") || !strcmp(dot, ".json"));
}

static int str_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the contract files in dir. */
static fp_err list_contracts(const char *dir, char ***names, size_t *count, fp_diag *d) {
  *names = NULL;
  *count = 0;
  DIR *dh = opendir(dir);
  if (!dh) {
    int err = errno;
    fp_diag_set(d, FP_ERR_CONFIG, "cannot open the contracts directory: %s", strerror(err));
    fp_diag_key(d, dir);
    return FP_ERR_CONFIG;
  }
  char **v = NULL;
  size_t n = 0, cap = 0;
  fp_err e = FP_OK;
  struct dirent *de;
  while (!e && (de = readdir(dh))) {
    if (!contract_ext(de->d_name)) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      char **nv = realloc(v, cap * sizeof *nv);
      if (!nv) {
        e = fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
        break;
      }
      v = nv;
    }
    if (!(v[n] = strdup(de->d_name)))
      e = fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
    else
      n++;
  }
  closedir(dh);
  if (e) {
    fp__strv_free(v, n);
    return e;
  }
  if (n) qsort(v, n, sizeof *v, str_cmp);
  *names = v;
  *count = n;
  return FP_OK;
}

/* Specificity of the best glob of c matching key; -1 when none matches. */
static long best_match(const fp_contract *c, const char *key) {
  long best = -1;
  for (size_t i = 0; i < c->nmatch; i++)
    if (fp_glob_match(c->match[i], key)) {
      long lits = (long)fp__glob_literals(c->match[i]);
      if (lits > best) best = lits;
    }
  return best;
}

fp_err fp_contract_find(const char *dir, const char *key, char **path_out, fp_diag *d) {
  if (!path_out || !dir || !key)
    return fp_diag_set(d, FP_ERR_INVAL, "fp_contract_find: no dir or key");
  *path_out = NULL;
  char **names;
  size_t n;
  fp_err e = list_contracts(dir, &names, &n, d);
  if (e) return e;
  char *best = NULL, *tie = NULL;
  long best_spec = -1;
  for (size_t i = 0; i < n && !e; i++) {
    size_t plen = strlen(dir) + 1 + strlen(names[i]) + 1;
    char *path = malloc(plen);
    if (!path) {
      e = fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
      break;
    }
    snprintf(path, plen, "%s%s%s", dir, dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/", names[i]);
    fp_contract *c = NULL;
    e = fp_contract_load_file(path, &c, d);
    long spec = e ? -1 : best_match(c, key);
    fp_contract_free(c);
    if (spec >= 0 && spec > best_spec) {
      free(best);
      free(tie);
      tie = NULL;
      best = path;
      best_spec = spec;
    } else if (spec >= 0 && spec == best_spec) {
      free(tie);
      tie = path;
    } else {
      free(path);
    }
  }
  fp__strv_free(names, n);
  if (!e && tie) {
    e = fp_diag_set(d, FP_ERR_CONTRACT,
                    "contracts %s and %s both match the key with the same specificity (%ld "
                    "literal characters); make one glob more specific",
                    best, tie, best_spec);
    fp_diag_key(d, key);
  }
  free(tie);
  if (e) {
    free(best);
    return e;
  }
  *path_out = best;
  return FP_OK;
}

/* ---- overrides ----------------------------------------------------------------------- */

fp_err fp_contract_apply_overrides(const fp_contract *c, fp_findings *f) {
  if (!c || !f) return FP_ERR_INVAL;
  for (size_t i = 0; i < c->noverrides; i++) {
    const fp_severity_override *o = &c->overrides[i];
    fp_err e = fp_findings_override(f, o->code, o->severity, o->ignore);
    if (e) return e;
  }
  return FP_OK;
}
