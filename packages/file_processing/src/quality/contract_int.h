/* contract_int.h — private pieces of contract loading: the document tree both YAML and JSON
 * contracts are parsed into (values with their source line, so semantic errors can say
 * "line N"), the step that gives the tree its meaning (contract_parse.c), and the glob
 * helpers behind "match:". Not part of libfp's public API; unit tests include it. */
#ifndef FP_CONTRACT_INT_H
#define FP_CONTRACT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fp/fp_contract.h"
#include "fp/fp_err.h"

#define FP__CONTRACT_MAX_BYTES ((size_t)4 << 20) /* larger contract files are refused */
#define FP__CDOC_MAX_NODES 100000                /* nodes (keys included) per document */
#define FP__CDOC_MAX_DEPTH 64                    /* nested lists/mappings */
#define FP__GLOB_KEY_MAX 1024                    /* longer keys never match */

typedef enum fp__cnode_kind {
  FP__CN_NULL = 0,
  FP__CN_BOOL,
  FP__CN_INT,
  FP__CN_FLOAT,
  FP__CN_STR,
  FP__CN_SEQ,
  FP__CN_MAP
} fp__cnode_kind;

/* One value of a parsed document. Mappings keep their keys in document order; keys are
 * unique strings (duplicates are refused while parsing). */
typedef struct fp__cnode fp__cnode;
struct fp__cnode {
  fp__cnode_kind kind;
  uint32_t line;     /* 1-based line where the value starts */
  bool b;            /* BOOL */
  int64_t i;         /* INT */
  double f;          /* FLOAT */
  char *str;         /* STR: owned, NUL-terminated, never contains NUL */
  size_t len;        /* STR */
  fp__cnode **items; /* SEQ items / MAP values; owned */
  char **keys;       /* MAP keys; owned */
  uint32_t *key_lines;
  size_t n, cap;
};

/* Parse text into a tree. Errors are FP_ERR_CONTRACT ("line N, column C: ...") or
 * FP_ERR_NOMEM, with the message in d (d's key is left to the caller). *root owned: free
 * with fp__cnode_free. YAML: one document, YAML 1.2 core schema for plain scalars, no
 * anchors/aliases, string keys only, no duplicate keys, at most FP__CDOC_MAX_NODES nodes
 * nested at most FP__CDOC_MAX_DEPTH deep. JSON: the same limits, duplicate keys refused. */
fp_err fp__cdoc_parse_yaml(const char *text, size_t len, fp__cnode **root, fp_diag *d);
fp_err fp__cdoc_parse_json(const char *text, size_t len, fp__cnode **root, fp_diag *d);
void fp__cnode_free(fp__cnode *n); /* NULL-safe */
/* Value of key in a MAP node (borrowed), NULL when absent; *key_line (may be NULL) gets the
 * key's line. */
const fp__cnode *fp__cnode_get(const fp__cnode *map, const char *key, uint32_t *key_line);
/* Appends child to a SEQ, or to a MAP under key (copied). Takes child even on failure. */
fp_err fp__cnode_add(fp__cnode *parent, const char *key, uint32_t key_line, fp__cnode *child);
fp__cnode *fp__cnode_new(fp__cnode_kind kind, uint32_t line); /* NULL on allocation failure */

/* Fills c (made by the caller with the defaults: name, path, missing values {""}, no row
 * limits, no error rate) from the document root. On error c is left partly filled; the
 * caller frees it. Errors: FP_ERR_CONTRACT or FP_ERR_NOMEM, message in d. */
fp_err fp__contract_parse(const fp__cnode *root, fp_contract *c, fp_diag *d);
void fp__strv_free(char **v, size_t n); /* frees n strings and the array; NULL-safe */

/* Number of literal (non-wildcard) characters of a glob: its specificity. */
size_t fp__glob_literals(const char *glob);
/* NULL when glob is well-formed, else a static description of what is wrong (unterminated
 * class, reversed range, trailing backslash, empty, too long). */
const char *fp__glob_check(const char *glob);

#endif
