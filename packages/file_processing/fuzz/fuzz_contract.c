/* fuzz_contract.c — libFuzzer harness for contract loading (fp_contract.h: YAML and JSON,
 * contract*.c) and Table Schema casting (fp_tschema.h) with the loaded fields.
 *
 * Input layout: the contract text up to the first NUL byte; after it, newline-separated
 * cells. The first byte picks the name hint (".yaml", ".json" or none: content sniffed).
 * When the contract loads, every cell is cast with every field (at most 16 x 32), checked
 * against its constraints (fp_field_check / _check_all / notes), formatted, compared with
 * the previous cell of the same field, and matched against every "match" glob.
 *
 * Checked beyond memory safety: a failed load leaves *out NULL and sets d.code to the
 * result; a loaded contract has a name, compiled fields with names, and primary-key
 * indexes inside the field list; fp_field_check agrees with fp_field_check_all. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp/fp_contract.h"
#include "fp/fp_log.h"

#define MAX_CELLS 16
#define MAX_FIELDS 32

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fp_log_set_level(FP_LOG_OFF);
  return 0;
}

static void cast_cells(const fp_contract *c, const char *cells, size_t n) {
  size_t nf = c->nfields < MAX_FIELDS ? c->nfields : MAX_FIELDS;
  fp_value prev[MAX_FIELDS];
  bool have_prev[MAX_FIELDS] = {0};
  const char *p = cells, *end = cells + n;
  for (int k = 0; k < MAX_CELLS && p <= end; k++) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    for (size_t i = 0; i < nf; i++) {
      const fp_field *f = &c->fields[i];
      fp_value v;
      memset(&v, 0, sizeof v);
      if (!fp_field_cast(f, p, len, &v)) continue;
      char note[256], text[512];
      fp_constraint first = fp_field_check(f, &v, p, len, note, sizeof note);
      uint32_t all = fp_field_check_all(f, &v, p, len);
      if ((first == FP_CONSTRAINT_NONE) != (all == 0)) __builtin_trap();
      if (first != FP_CONSTRAINT_NONE && !(all & (1u << first))) __builtin_trap();
      if (first != FP_CONSTRAINT_NONE) fp_constraint_note(f, first, note, sizeof note);
      size_t tl = fp_value_format(&v, text, sizeof text);
      /* NUL-terminated at the returned length (text values may hold NUL bytes) */
      if (tl < sizeof text && text[tl] != '\0') __builtin_trap();
      if (have_prev[i]) {
        int a = fp_value_cmp(&prev[i], &v), b = fp_value_cmp(&v, &prev[i]);
        if (a != -2 && b != -2 && (a > 0) != (b < 0)) __builtin_trap(); /* antisymmetric */
      }
      if (v.text)
        have_prev[i] = false; /* text views die with this cell; do not keep */
      else
        prev[i] = v, have_prev[i] = true;
    }
    char key[512];
    size_t kl = len < sizeof key - 1 ? len : sizeof key - 1;
    memcpy(key, p, kl);
    key[kl] = '\0';
    for (size_t g = 0; g < c->nmatch; g++) (void)fp_glob_match(c->match[g], key);
    if (!nl) break;
    p = nl + 1;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  const uint8_t *nul = memchr(data, 0, size);
  size_t tlen = nul ? (size_t)(nul - data) : size;
  static const char *hints[] = {"fuzz.yaml", "fuzz.json", "fuzz"};
  const char *hint = hints[size ? data[0] % 3 : 0];
  fp_contract *c = (fp_contract *)1;
  fp_diag d;
  fp_diag_clear(&d);
  fp_err e = fp_contract_load_text(text, tlen, hint, &c, &d);
  if (e) {
    if (c || d.code != e) __builtin_trap();
    return 0;
  }
  if (!c || !c->name || (c->nfields && !c->fields)) __builtin_trap();
  for (size_t i = 0; i < c->nfields; i++)
    if (!c->fields[i].name) __builtin_trap();
  for (size_t i = 0; i < c->npk; i++)
    if (c->primary_key[i] >= c->nfields) __builtin_trap();
  if (nul) cast_cells(c, (const char *)nul + 1, size - tlen - 1);
  fp_contract_free(c);
  return 0;
}
