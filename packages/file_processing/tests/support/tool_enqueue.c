/* tool_enqueue.c — test tool: records jobs in the durable queue of any results DB.
 *
 *   tool_enqueue DB_URL < refs.jsonl
 *
 * Each stdin line is one JSON object {"bucket": ..., "key": ..., "version_id": ...,
 * "etag": ..., "size": N} (bucket and key required). All refs are enqueued in one
 * transaction (fp_store_enqueue_many); prints "<created> created <duplicate> duplicate".
 * Exit codes as the CLI's (fp_err_exit_code); 2 for bad input lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fp/fp_store.h"

#define LINE_MAX_BYTES 8192

static char *dup_field(json_t *o, const char *name) {
  const char *v = json_string_value(json_object_get(o, name));
  return v ? strdup(v) : NULL;
}

static void free_refs(fp_object_ref *refs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(refs[i].bucket);
    free(refs[i].key);
    free(refs[i].version_id);
    free(refs[i].etag);
  }
  free(refs);
}

/* Reads the JSON lines of stdin into *out (owned); 0 on success. */
static int read_refs(fp_object_ref **out, size_t *n) {
  char line[LINE_MAX_BYTES];
  size_t cap = 0;
  *out = NULL;
  *n = 0;
  for (size_t lineno = 1; fgets(line, sizeof line, stdin); lineno++) {
    if (line[strspn(line, " \t\r\n")] == '\0') continue;
    json_error_t err;
    json_t *o = json_loads(line, 0, &err);
    if (!json_is_object(o)) {
      fprintf(stderr, "tool_enqueue: line %zu: not a JSON object: %s\n", lineno, err.text);
      json_decref(o);
      return 2;
    }
    if (*n == cap) {
      cap = cap ? cap * 2 : 64;
      fp_object_ref *p = realloc(*out, cap * sizeof *p);
      if (!p) {
        json_decref(o);
        return 1;
      }
      *out = p;
    }
    fp_object_ref *r = &(*out)[(*n)++];
    memset(r, 0, sizeof *r);
    r->bucket = dup_field(o, "bucket");
    r->key = dup_field(o, "key");
    r->version_id = dup_field(o, "version_id");
    r->etag = dup_field(o, "etag");
    json_t *size = json_object_get(o, "size");
    r->size = json_is_integer(size) ? (int64_t)json_integer_value(size) : -1;
    json_decref(o);
    if (!r->bucket || !r->key) {
      fprintf(stderr, "tool_enqueue: line %zu: bucket and key are required\n", lineno);
      return 2;
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fputs("usage: tool_enqueue DB_URL < refs.jsonl\n", stderr);
    return 2;
  }
  fp_object_ref *refs = NULL;
  size_t n = 0;
  int rc = read_refs(&refs, &n);
  if (rc) {
    free_refs(refs, n);
    return rc;
  }
  fp_diag d;
  fp_diag_clear(&d);
  fp_store *s = NULL;
  size_t created = 0;
  fp_err e = fp_store_open(argv[1], &s, &d);
  if (!e) e = fp_store_enqueue_many(s, refs, n, NULL, NULL, &created, &d);
  fp_store_close(s);
  free_refs(refs, n);
  if (e) {
    char buf[2048];
    fp_diag_format(&d, buf, sizeof buf);
    fprintf(stderr, "tool_enqueue: %s\n", buf);
    return fp_err_exit_code(e);
  }
  printf("%zu created %zu duplicate\n", created, n - created);
  return 0;
}
