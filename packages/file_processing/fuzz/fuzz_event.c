/* fuzz_event.c — libFuzzer harness for event parsing (fp_events_parse_text/json) and S3
 * key decoding (fp_s3_key_decode). Built by CMake (FP_FUZZ=ON; the replay binary in every
 * build); run with `make fuzz` (fuzz/README.md).
 *
 * Besides memory safety it checks the contract: on error the list is unchanged and the
 * diag carries a code; on success every item has a bucket and a non-empty key without
 * NUL, and a decoded key is never longer than its input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fp/fp_event.h"

static void check_list(const fp_event_list *l, fp_err e, const fp_diag *d, size_t n_before) {
  if (e) {
    if (l->n != n_before || d->code != e) abort();
    return;
  }
  for (size_t i = 0; i < l->n; i++) {
    const fp_object_ref *r = &l->items[i];
    if (!r->bucket || !r->bucket[0] || !r->key || !r->key[0]) abort();
    if (strlen(r->key) > 1024) abort();
    if (r->version_id && !r->version_id[0]) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  fp_diag d;

  /* 1. The events-file path (documents, arrays, JSON lines). */
  fp_event_list l = {0};
  fp_diag_clear(&d);
  fp_err e = fp_events_parse_text(text, size, &l, &d);
  check_list(&l, e, &d, 0);
  size_t n_first = l.n;

  /* 2. A second parse appends (or leaves the list as it was). */
  fp_diag_clear(&d);
  e = fp_events_parse_json(text, size, &l, &d);
  check_list(&l, e, &d, n_first);
  fp_event_list_free(&l);

  /* 3. The input as an S3 key. */
  char *key = NULL;
  fp_diag_clear(&d);
  e = fp_s3_key_decode(text, size, &key, &d);
  if (e) {
    if (key || d.code != FP_ERR_EVENT) abort();
  } else {
    size_t n = strlen(key);
    if (n == 0 || n > size) abort();
    free(key);
  }
  return 0;
}
