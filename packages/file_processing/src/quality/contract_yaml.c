/* contract_yaml.c — the contract document tree and its YAML front-end (libyaml events).
 *
 * YAML is read as a data format, not a serialisation of objects: one document, plain
 * scalars resolved with the YAML 1.2 core schema (null/~, true/false, ints, floats),
 * quoted and block scalars are strings, keys must be strings and unique. Anchors and
 * aliases are refused outright (a contract has no use for them, and refusing them removes
 * the "billion laughs" expansion); node count and nesting depth are bounded as well, so a
 * hostile file costs at most its (already bounded) size in memory. Every value keeps the
 * line it started on, for the semantic errors of contract.c. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "quality/contract_int.h"

/* ---- the tree ------------------------------------------------------------------------ */

fp__cnode *fp__cnode_new(fp__cnode_kind kind, uint32_t line) {
  fp__cnode *n = calloc(1, sizeof *n);
  if (n) {
    n->kind = kind;
    n->line = line;
  }
  return n;
}

void fp__cnode_free(fp__cnode *n) {
  if (!n) return;
  for (size_t i = 0; i < n->n; i++) {
    fp__cnode_free(n->items[i]);
    if (n->keys) free(n->keys[i]);
  }
  free(n->items);
  free(n->keys);
  free(n->key_lines);
  free(n->str);
  free(n);
}

fp_err fp__cnode_add(fp__cnode *parent, const char *key, uint32_t key_line, fp__cnode *child) {
  bool map = parent->kind == FP__CN_MAP;
  if (parent->n == parent->cap) {
    size_t ncap = parent->cap ? parent->cap * 2 : 8;
    fp__cnode **items = realloc(parent->items, ncap * sizeof *items);
    if (items) parent->items = items;
    if (items && map) {
      char **keys = realloc(parent->keys, ncap * sizeof *keys);
      if (keys) parent->keys = keys;
      uint32_t *lines = keys ? realloc(parent->key_lines, ncap * sizeof *lines) : NULL;
      if (lines) parent->key_lines = lines;
      if (!lines) items = NULL;
    }
    if (!items) {
      fp__cnode_free(child);
      return FP_ERR_NOMEM;
    }
    parent->cap = ncap;
  }
  if (map) {
    char *k = strdup(key);
    if (!k) {
      fp__cnode_free(child);
      return FP_ERR_NOMEM;
    }
    parent->keys[parent->n] = k;
    parent->key_lines[parent->n] = key_line;
  }
  parent->items[parent->n++] = child;
  return FP_OK;
}

const fp__cnode *fp__cnode_get(const fp__cnode *map, const char *key, uint32_t *key_line) {
  if (!map || map->kind != FP__CN_MAP) return NULL;
  for (size_t i = 0; i < map->n; i++)
    if (!strcmp(map->keys[i], key)) {
      if (key_line) *key_line = map->key_lines[i];
      return map->items[i];
    }
  return NULL;
}

/* ---- YAML scalars: the core schema --------------------------------------------------- */

static bool is_one_of(const char *s, size_t n, const char *const *list) {
  for (; *list; list++)
    if (strlen(*list) == n && !memcmp(*list, s, n)) return true;
  return false;
}

static bool all_digits(const char *s, size_t n, int base) {
  if (!n) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    bool ok = base == 16 ? ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'))
                         : (c >= '0' && c < '0' + base);
    if (!ok) return false;
  }
  return true;
}

/* [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+ ; *out_of_range when it does not fit int64. */
static bool parse_core_int(const char *s, size_t n, int64_t *out, bool *out_of_range) {
  int base = 10;
  bool neg = false;
  size_t i = 0;
  if (n > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
    base = s[1] == 'o' ? 8 : 16;
    i = 2;
  } else if (n && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    i = 1;
  }
  if (!all_digits(s + i, n - i, base)) return false;
  uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (; i < n; i++) {
    unsigned c = (unsigned char)s[i];
    unsigned dgt = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
    if (v > (lim - dgt) / (unsigned)base) {
      *out_of_range = true;
      return true;
    }
    v = v * (unsigned)base + dgt;
  }
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return true;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool looks_core_float(const char *s, size_t n) {
  size_t i = 0, d1 = 0, d2 = 0;
  if (i < n && (s[i] == '-' || s[i] == '+')) i++;
  while (i < n && s[i] >= '0' && s[i] <= '9') i++, d1++;
  if (i < n && s[i] == '.') {
    i++;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++, d2++;
  }
  if (!d1 && !d2) return false;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '-' || s[i] == '+')) i++;
    size_t d3 = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++, d3++;
    if (!d3) return false;
  }
  return i == n;
}

typedef struct yscalar {
  const char *s;
  size_t n;
  bool plain;      /* plain style: resolved by the core schema */
  const char *tag; /* explicit tag or NULL */
  uint32_t line;
} yscalar;

static const char *const NULLS[] = {"~", "null", "Null", "NULL", NULL};
static const char *const TRUES[] = {"true", "True", "TRUE", NULL};
static const char *const FALSES[] = {"false", "False", "FALSE", NULL};
static const char *const INFS[] = {".inf", ".Inf", ".INF", NULL};
static const char *const NANS[] = {".nan", ".NaN", ".NAN", NULL};

/* Resolves a plain scalar into n (kind + value). Returns a static problem or NULL. */
static const char *resolve_plain(const char *s, size_t len, fp__cnode *n) {
  bool oor = false;
  if (!len || is_one_of(s, len, NULLS)) {
    n->kind = FP__CN_NULL;
  } else if (is_one_of(s, len, TRUES) || is_one_of(s, len, FALSES)) {
    n->kind = FP__CN_BOOL;
    n->b = s[0] == 't' || s[0] == 'T';
  } else if (parse_core_int(s, len, &n->i, &oor)) {
    if (oor) return "integer out of range (quote it to make it a string)";
    n->kind = FP__CN_INT;
  } else if (looks_core_float(s, len)) {
    char buf[128];
    if (len >= sizeof buf) return "number too long (quote it to make it a string)";
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    n->f = strtod(buf, NULL);
    if (errno == ERANGE && isinf(n->f)) return "number out of range (quote it to make it a string)";
    n->kind = FP__CN_FLOAT;
  } else if ((len == 5 && (s[0] == '-' || s[0] == '+') && is_one_of(s + 1, 4, INFS)) ||
             is_one_of(s, len, INFS)) {
    n->kind = FP__CN_FLOAT;
    n->f = s[0] == '-' ? -INFINITY : INFINITY;
  } else if (is_one_of(s, len, NANS)) {
    n->kind = FP__CN_FLOAT;
    n->f = NAN;
  } else {
    n->kind = FP__CN_STR;
  }
  return NULL;
}

#define TAG_PREFIX "tag:yaml.org,2002:"

/* Builds the node of a scalar; problem (static) set on a refused scalar. */
static fp_err scalar_node(const yscalar *y, fp__cnode **out, const char **problem) {
  *out = NULL;
  if (memchr(y->s, '\0', y->n)) {
    *problem = "a string must not contain NUL characters";
    return FP_ERR_CONTRACT;
  }
  fp__cnode *n = fp__cnode_new(FP__CN_STR, y->line);
  if (!n) return FP_ERR_NOMEM;
  const char *want = NULL; /* the kind an explicit core tag asks for */
  if (y->tag && strcmp(y->tag, "!")) {
    if (!strncmp(y->tag, TAG_PREFIX, strlen(TAG_PREFIX))) want = y->tag + strlen(TAG_PREFIX);
    if (!want || !is_one_of(want, strlen(want),
                            (const char *const[]){"str", "int", "float", "bool", "null", NULL})) {
      fp__cnode_free(n);
      *problem =
          "unsupported YAML tag (only the core tags !!str, !!int, !!float, !!bool, "
          "!!null are allowed)";
      return FP_ERR_CONTRACT;
    }
  }
  if ((y->plain && !y->tag) || (want && strcmp(want, "str"))) {
    *problem = resolve_plain(y->s, y->n, n);
    bool ok = !*problem;
    if (ok && want) {
      fp__cnode_kind k = n->kind;
      ok = (!strcmp(want, "int") && k == FP__CN_INT) ||
           (!strcmp(want, "float") && (k == FP__CN_FLOAT || k == FP__CN_INT)) ||
           (!strcmp(want, "bool") && k == FP__CN_BOOL) ||
           (!strcmp(want, "null") && k == FP__CN_NULL);
      if (!ok) *problem = "the value does not match its explicit YAML tag";
      if (ok && !strcmp(want, "float") && k == FP__CN_INT) {
        n->kind = FP__CN_FLOAT;
        n->f = (double)n->i;
      }
    }
    if (!ok) {
      fp__cnode_free(n);
      return FP_ERR_CONTRACT;
    }
  }
  if (n->kind == FP__CN_STR) {
    n->str = malloc(y->n + 1);
    if (!n->str) {
      fp__cnode_free(n);
      return FP_ERR_NOMEM;
    }
    memcpy(n->str, y->s, y->n);
    n->str[y->n] = '\0';
    n->len = y->n;
  }
  *out = n;
  return FP_OK;
}

/* ---- duplicate keys ------------------------------------------------------------------ */

typedef struct key_ref {
  const char *key;
  size_t pos;
} key_ref;

static int key_ref_cmp(const void *a, const void *b) {
  const key_ref *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

/* Position of the first key (in document order) that repeats an earlier one, or map->n.
 * Sorting keeps this O(n log n) for mappings with many keys. */
static fp_err first_duplicate(const fp__cnode *map, size_t *dup) {
  *dup = map->n;
  if (map->n < 2) return FP_OK;
  key_ref *r = malloc(map->n * sizeof *r);
  if (!r) return FP_ERR_NOMEM;
  for (size_t i = 0; i < map->n; i++) r[i] = (key_ref){map->keys[i], i};
  qsort(r, map->n, sizeof *r, key_ref_cmp);
  for (size_t i = 1; i < map->n; i++)
    if (!strcmp(r[i - 1].key, r[i].key) && r[i].pos < *dup) *dup = r[i].pos;
  free(r);
  return FP_OK;
}

/* ---- the YAML event builder ---------------------------------------------------------- */

typedef struct ybuild {
  fp__cnode *root;
  fp__cnode *stack[FP__CDOC_MAX_DEPTH];
  char *pending_key[FP__CDOC_MAX_DEPTH]; /* a mapping's key waiting for its value */
  uint32_t pending_line[FP__CDOC_MAX_DEPTH];
  size_t depth;
  size_t nodes;
  fp_diag *d;
} ybuild;

static fp_err yerr(ybuild *b, uint32_t line, const char *fmt, const char *arg) {
  char what[FP_DIAG_MSG_MAX];
  snprintf(what, sizeof what, fmt, arg ? arg : "");
  return fp_diag_set(b->d, FP_ERR_CONTRACT, "line %u: %s", line, what);
}

/* Hangs node (owned) under the open collection, or makes it the root. */
static fp_err attach(ybuild *b, fp__cnode *node) {
  if (++b->nodes > FP__CDOC_MAX_NODES) {
    uint32_t line = node->line;
    fp__cnode_free(node);
    return fp_diag_set(b->d, FP_ERR_CONTRACT, "line %u: the document has more than %d nodes", line,
                       FP__CDOC_MAX_NODES);
  }
  if (!b->depth) {
    fp__cnode_free(b->root); /* cannot happen: one document, one root */
    b->root = node;
    return FP_OK;
  }
  size_t top = b->depth - 1;
  fp__cnode *parent = b->stack[top];
  if (parent->kind == FP__CN_SEQ) {
    fp_err e = fp__cnode_add(parent, NULL, 0, node);
    return e ? fp_diag_set(b->d, e, "out of memory") : FP_OK;
  }
  if (b->pending_key[top]) {
    fp_err e = fp__cnode_add(parent, b->pending_key[top], b->pending_line[top], node);
    free(b->pending_key[top]);
    b->pending_key[top] = NULL;
    /* fp__cnode_add only returns an error code; the caller's diag needs a message */
    return e ? fp_diag_set(b->d, e, "out of memory") : FP_OK;
  }
  /* node is a key */
  uint32_t line = node->line;
  if (node->kind != FP__CN_STR) {
    bool collection = node->kind == FP__CN_SEQ || node->kind == FP__CN_MAP;
    fp__cnode_free(node);
    return yerr(b, line,
                collection ? "mapping keys must be strings, not lists or mappings%s"
                           : "mapping keys must be strings; quote this key%s",
                NULL);
  }
  b->pending_key[top] = node->str;
  b->pending_line[top] = line;
  node->str = NULL;
  fp__cnode_free(node);
  return FP_OK;
}

static fp_err push(ybuild *b, fp__cnode *node) {
  if (b->depth == FP__CDOC_MAX_DEPTH) {
    uint32_t line = node->line;
    fp__cnode_free(node);
    return fp_diag_set(b->d, FP_ERR_CONTRACT, "line %u: nested more than %d levels deep", line,
                       FP__CDOC_MAX_DEPTH);
  }
  fp__cnode *keep = node;
  fp_err e = attach(b, node);
  if (e) return e; /* attach took node */
  b->stack[b->depth] = keep;
  b->pending_key[b->depth] = NULL;
  b->depth++;
  return FP_OK;
}

static fp_err pop(ybuild *b) {
  if (!b->depth) return fp_diag_set(b->d, FP_ERR_INTERNAL, "YAML events out of order");
  fp__cnode *n = b->stack[--b->depth];
  free(b->pending_key[b->depth]);
  b->pending_key[b->depth] = NULL;
  if (n->kind != FP__CN_MAP) return FP_OK;
  size_t dup;
  if (first_duplicate(n, &dup)) return fp_diag_set(b->d, FP_ERR_NOMEM, "out of memory");
  if (dup < n->n)
    return fp_diag_set(b->d, FP_ERR_CONTRACT, "line %u: duplicate key \"%.200s\"",
                       n->key_lines[dup], n->keys[dup]);
  return FP_OK;
}

static void ybuild_free(ybuild *b) {
  for (size_t i = 0; i < b->depth; i++) free(b->pending_key[i]);
  fp__cnode_free(b->root);
  b->root = NULL;
}

static fp_err parser_error(const yaml_parser_t *p, const char *text, size_t len, fp_diag *d) {
  if (p->error == YAML_MEMORY_ERROR) return fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  const char *problem = p->problem ? p->problem : "malformed YAML";
  if (p->error == YAML_READER_ERROR) {
    size_t line = 1, end = p->problem_offset < len ? p->problem_offset : len;
    for (size_t i = 0; i < end; i++) line += text[i] == '\n';
    return fp_diag_set(d, FP_ERR_CONTRACT, "line %zu: YAML: %s (byte offset %zu)", line, problem,
                       p->problem_offset);
  }
  if (p->context)
    return fp_diag_set(d, FP_ERR_CONTRACT, "line %zu, column %zu: YAML: %s (%s at line %zu)",
                       p->problem_mark.line + 1, p->problem_mark.column + 1, problem, p->context,
                       p->context_mark.line + 1);
  return fp_diag_set(d, FP_ERR_CONTRACT, "line %zu, column %zu: YAML: %s", p->problem_mark.line + 1,
                     p->problem_mark.column + 1, problem);
}

static bool collection_tag_ok(const yaml_char_t *tag, const char *want) {
  if (!tag) return true;
  const char *t = (const char *)tag;
  return !strcmp(t, "!") ||
         (!strncmp(t, TAG_PREFIX, strlen(TAG_PREFIX)) && !strcmp(t + strlen(TAG_PREFIX), want));
}

/* One event into the builder. *done at the end of the stream. */
static fp_err on_event(ybuild *b, const yaml_event_t *ev, int *docs, bool *done) {
  uint32_t line = (uint32_t)ev->start_mark.line + 1;
  const yaml_char_t *anchor = NULL;
  switch (ev->type) {
    case YAML_STREAM_END_EVENT: *done = true; return FP_OK;
    case YAML_DOCUMENT_START_EVENT:
      if ((*docs)++)
        return yerr(b, line, "a contract file holds one YAML document; this is a second one%s",
                    NULL);
      return FP_OK;
    case YAML_ALIAS_EVENT:
      return yerr(b, line, "YAML aliases (*%.100s) are not supported in contracts",
                  (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT: {
      anchor = ev->data.scalar.anchor;
      if (anchor) break;
      yscalar y = {(const char *)ev->data.scalar.value, ev->data.scalar.length,
                   ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE,
                   (const char *)ev->data.scalar.tag, line};
      fp__cnode *n;
      const char *problem = NULL;
      fp_err e = scalar_node(&y, &n, &problem);
      if (e == FP_ERR_NOMEM) return fp_diag_set(b->d, e, "out of memory");
      if (e) return yerr(b, line, "%s", problem);
      return attach(b, n);
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
      bool seq = ev->type == YAML_SEQUENCE_START_EVENT;
      anchor = seq ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;
      if (anchor) break;
      if (!collection_tag_ok(seq ? ev->data.sequence_start.tag : ev->data.mapping_start.tag,
                             seq ? "seq" : "map"))
        return yerr(b, line, "unsupported YAML tag on a %s", seq ? "list" : "mapping");
      fp__cnode *n = fp__cnode_new(seq ? FP__CN_SEQ : FP__CN_MAP, line);
      if (!n) return fp_diag_set(b->d, FP_ERR_NOMEM, "out of memory");
      return push(b, n);
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: return pop(b);
    default: return FP_OK;
  }
  return yerr(b, line, "YAML anchors (&%.100s) are not supported in contracts",
              (const char *)anchor);
}

fp_err fp__cdoc_parse_yaml(const char *text, size_t len, fp__cnode **root, fp_diag *d) {
  *root = NULL;
  yaml_parser_t p;
  if (!yaml_parser_initialize(&p)) return fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
  ybuild b = {0};
  b.d = d;
  fp_err e = FP_OK;
  int docs = 0;
  for (bool done = false; !done && !e;) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&p, &ev)) {
      e = parser_error(&p, text, len, d);
      break;
    }
    e = on_event(&b, &ev, &docs, &done);
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&p);
  if (!e && !b.root) e = fp_diag_set(d, FP_ERR_CONTRACT, "line 1: the contract is empty");
  if (e) {
    ybuild_free(&b);
    return e;
  }
  *root = b.root;
  return FP_OK;
}
