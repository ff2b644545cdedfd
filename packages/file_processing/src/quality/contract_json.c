/* contract_json.c — the JSON front-end of contract loading.
 *
 * jansson checks the whole text first (syntax, UTF-8, duplicate keys, NUL in strings) and
 * gives the line and column of a syntax error. It keeps no positions for values, so a
 * second pass walks the now known-good text to build the same line-annotated tree the
 * YAML front-end builds, decoding each scalar token with jansson itself; semantic errors
 * in JSON contracts can then name a line too. The walk is bounded like the YAML one. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "quality/contract_int.h"

typedef struct jwalk {
  const char *s;
  size_t n, i;
  uint32_t line;
  size_t nodes;
  fp_diag *d;
} jwalk;

static void skip_ws(jwalk *w) {
  while (w->i < w->n) {
    char c = w->s[w->i];
    if (c == '\n')
      w->line++;
    else if (c != ' ' && c != '\t' && c != '\r')
      return;
    w->i++;
  }
}

static fp_err desync(jwalk *w) {
  return fp_diag_set(w->d, FP_ERR_INTERNAL, "line %u: JSON walk out of step with jansson", w->line);
}

/* Decodes the scalar token s[start..w->i) with jansson. */
static fp_err decode_token(jwalk *w, size_t start, json_t **out) {
  json_error_t err;
  *out = json_loadb(w->s + start, w->i - start, JSON_DECODE_ANY, &err);
  return *out ? FP_OK : desync(w);
}

/* A string token at w->i (the opening quote): decoded into an owned C string. */
static fp_err read_string(jwalk *w, char **out, size_t *len) {
  size_t start = w->i++;
  while (w->i < w->n && w->s[w->i] != '"') w->i += w->s[w->i] == '\\' ? 2 : 1;
  if (w->i >= w->n) return desync(w);
  w->i++;
  json_t *j;
  fp_err e = decode_token(w, start, &j);
  if (e) return e;
  size_t n = json_string_length(j);
  *out = json_is_string(j) ? malloc(n + 1) : NULL;
  if (*out) {
    memcpy(*out, json_string_value(j), n);
    (*out)[n] = '\0';
    *len = n;
  }
  bool was_string = json_is_string(j);
  json_decref(j);
  if (!was_string) return desync(w);
  return *out ? FP_OK : fp_diag_set(w->d, FP_ERR_NOMEM, "out of memory");
}

static fp_err read_value(jwalk *w, size_t depth, fp__cnode **out);

static fp_err count_node(jwalk *w) {
  if (++w->nodes <= FP__CDOC_MAX_NODES) return FP_OK;
  return fp_diag_set(w->d, FP_ERR_CONTRACT, "line %u: the document has more than %d nodes", w->line,
                     FP__CDOC_MAX_NODES);
}

/* '{' or '[' at w->i. */
static fp_err read_collection(jwalk *w, size_t depth, fp__cnode **out) {
  bool map = w->s[w->i] == '{';
  char close = map ? '}' : ']';
  if (depth >= FP__CDOC_MAX_DEPTH)
    return fp_diag_set(w->d, FP_ERR_CONTRACT, "line %u: nested more than %d levels deep", w->line,
                       FP__CDOC_MAX_DEPTH);
  fp__cnode *node = fp__cnode_new(map ? FP__CN_MAP : FP__CN_SEQ, w->line);
  if (!node) return fp_diag_set(w->d, FP_ERR_NOMEM, "out of memory");
  w->i++;
  skip_ws(w);
  fp_err e = FP_OK;
  bool first = true;
  while (!e && w->i < w->n && w->s[w->i] != close) {
    if (!first) {
      if (w->s[w->i] != ',') {
        e = desync(w);
        break;
      }
      w->i++;
      skip_ws(w);
    }
    first = false;
    char *key = NULL;
    size_t klen = 0;
    uint32_t kline = w->line;
    if (map) {
      if (w->i >= w->n || w->s[w->i] != '"') {
        e = desync(w);
        break;
      }
      e = count_node(w);
      if (!e) e = read_string(w, &key, &klen);
      if (!e) skip_ws(w);
      if (!e && (w->i >= w->n || w->s[w->i] != ':')) e = desync(w);
      if (!e) w->i++, skip_ws(w);
    }
    fp__cnode *child = NULL;
    if (!e) e = read_value(w, depth + 1, &child);
    if (!e) {
      e = fp__cnode_add(node, key, kline, child);
      if (e) fp_diag_set(w->d, e, "out of memory");
    }
    free(key);
    if (!e) skip_ws(w);
  }
  if (!e && w->i >= w->n) e = desync(w);
  if (e) {
    fp__cnode_free(node);
    return e;
  }
  w->i++;
  *out = node;
  return FP_OK;
}

static fp_err read_value(jwalk *w, size_t depth, fp__cnode **out) {
  *out = NULL;
  skip_ws(w);
  if (w->i >= w->n) return desync(w);
  fp_err e = count_node(w);
  if (e) return e;
  char c = w->s[w->i];
  if (c == '{' || c == '[') return read_collection(w, depth, out);
  fp__cnode *node = fp__cnode_new(FP__CN_NULL, w->line);
  if (!node) return fp_diag_set(w->d, FP_ERR_NOMEM, "out of memory");
  if (c == '"') {
    node->kind = FP__CN_STR;
    e = read_string(w, &node->str, &node->len);
  } else {
    size_t start = w->i;
    while (w->i < w->n && strchr("+-.0123456789eEtruefalsn", w->s[w->i])) w->i++;
    json_t *j;
    e = decode_token(w, start, &j);
    if (!e) {
      if (json_is_integer(j)) {
        node->kind = FP__CN_INT;
        node->i = (int64_t)json_integer_value(j);
      } else if (json_is_real(j)) {
        node->kind = FP__CN_FLOAT;
        node->f = json_real_value(j);
      } else if (json_is_boolean(j)) {
        node->kind = FP__CN_BOOL;
        node->b = json_is_true(j);
      } else if (!json_is_null(j)) {
        e = desync(w);
      }
      json_decref(j);
    }
  }
  if (e) {
    fp__cnode_free(node);
    return e;
  }
  *out = node;
  return FP_OK;
}

fp_err fp__cdoc_parse_json(const char *text, size_t len, fp__cnode **root, fp_diag *d) {
  *root = NULL;
  if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) text += 3, len -= 3; /* UTF-8 BOM */
  json_error_t err;
  json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
  if (!j && json_error_code(&err) == json_error_out_of_memory) /* not a bad contract */
    return fp_diag_set(d, FP_ERR_NOMEM, "JSON contract: out of memory");
  if (!j)
    return fp_diag_set(d, FP_ERR_CONTRACT, "line %d, column %d: JSON: %s", err.line, err.column,
                       err.text);
  json_decref(j);
  jwalk w = {text, len, 0, 1, 0, d};
  fp_err e = read_value(&w, 0, root);
  if (e) return e;
  skip_ws(&w);
  if (w.i != w.n) {
    fp__cnode_free(*root);
    *root = NULL;
    return desync(&w);
  }
  return FP_OK;
}
