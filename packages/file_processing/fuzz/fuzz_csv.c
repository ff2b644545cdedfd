/* fuzz_csv.c — libFuzzer harness for the CSV reader (fp_csv.h) and the sniffer.
 *
 * Input layout: byte 0 seeds the chunk sizes (0 = the whole input in one feed; else a
 * sequence of odd sizes in 1..byte0 derived from it), byte 1 the dialect and options,
 * byte 2 the limits, byte 3 header / escape / sniff choices; the rest is the CSV. Every
 * byte of every cell is read (so ASan sees any stale view), invariants are checked per
 * record, and the fast scanner fed in chunks is compared with the scalar scanner (the
 * oracle) fed the whole input: any difference in cells, flags, offsets or the error is a
 * crash. Built by CMake (FP_FUZZ=ON; replay binary always); see fuzz/README.md. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fp/fp_csv.h"

typedef struct digest {
  uint64_t h, nrec, next_index;
  size_t input_len;
} digest;

static void mix(digest *g, uint64_t v) {
  g->h ^= v + 0x9E3779B97F4A7C15ULL + (g->h << 6) + (g->h >> 2);
}

static fp_err on_record(void *ud, const fp_csv_record *rec, fp_diag *d) {
  (void)d;
  digest *g = ud;
  if (rec->index != g->next_index++ || rec->ncells == 0) __builtin_trap();
  if (rec->byte_offset + rec->raw_bytes > g->input_len) __builtin_trap();
  mix(g, rec->index);
  mix(g, rec->ncells);
  mix(g, rec->flags);
  mix(g, rec->byte_offset);
  mix(g, rec->bad_offset);
  mix(g, rec->raw_bytes);
  for (uint32_t i = 0; i < rec->ncells; i++) {
    const fp_cell *c = &rec->cells[i];
    mix(g, c->len);
    mix(g, c->flags);
    for (uint32_t k = 0; k < c->len; k++) mix(g, (unsigned char)c->ptr[k]);
  }
  g->nrec++;
  return FP_OK;
}

static void options(const uint8_t *cfg, fp_csv_opts *o) {
  static const char delims[] = {',', ';', '\t', '|'};
  fp_csv_opts_default(o);
  o->dialect.delimiter = delims[cfg[1] & 3];
  if (cfg[3] & 1) o->dialect.header = false;
  if (cfg[3] & 2) o->dialect.delimiter = (char)(cfg[3] >> 2); /* any byte, even odd ones */
  if (cfg[1] & 4) o->dialect.escape_char = (cfg[2] & 8) ? '"' : '\\';
  if (cfg[1] & 8) o->dialect.skip_initial_space = true;
  if (cfg[1] & 16) o->dialect.double_quote = false;
  if (cfg[1] & 32) o->dialect.quote_char = (cfg[1] & 64) ? '\0' : '\'';
  if (cfg[1] & 128) o->sniff = true;
  if (cfg[2] & 1) o->max_row_bytes = 1 + cfg[2] * 4u;
  if (cfg[2] & 2) o->max_columns = 1 + (cfg[2] >> 4);
  o->check_utf8 = !(cfg[2] & 4);
}

/* Next chunk size: 0 = everything left; else odd-ish sizes in 1..max from an LCG. */
static size_t next_chunk(uint32_t *state, unsigned max) {
  if (!max) return 0;
  *state = *state * 1103515245u + 12345u;
  return 1 + (*state >> 16) % max;
}

/* Parses data with o; chunk_max 0 = one feed. Returns the error; g gets the digest. */
static fp_err parse(const uint8_t *data, size_t n, const fp_csv_opts *o, fp_csv_scan_mode mode,
                    unsigned chunk_max, digest *g) {
  memset(g, 0, sizeof *g);
  g->next_index = 1;
  g->input_len = n;
  fp_csv_opts oo = *o;
  oo.on_record = on_record;
  oo.ud = g;
  fp_csv_reader *r;
  fp_diag d;
  fp_diag_clear(&d);
  fp_err ne = fp_csv_reader_new(&oo, &r, &d);
  if (ne == FP_ERR_INVAL) return ne; /* a dialect the reader refuses (e.g. delimiter LF) */
  if (ne) __builtin_trap();
  fp_csv_reader_set_scan(r, mode);
  fp_err e = FP_OK;
  uint32_t state = chunk_max;
  for (size_t i = 0; !e && i < n;) {
    size_t chunk = next_chunk(&state, chunk_max);
    size_t k = chunk && chunk < n - i ? chunk : n - i;
    e = fp_csv_reader_feed(r, (const char *)data + i, k, &d);
    i += k;
  }
  if (!e) e = fp_csv_reader_finish(r, &d);
  if (e && e != FP_ERR_LIMIT) __builtin_trap(); /* only limits stop this reader */
  if (e) {
    mix(g, d.row);
    mix(g, d.column);
    mix(g, d.byte_offset);
  }
  if (!e && fp_csv_reader_bytes(r) != n) __builtin_trap();
  fp_csv_reader_free(r);
  return e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4) return 0;
  fp_csv_opts o;
  options(data, &o);
  const uint8_t *csv = data + 4;
  size_t n = size - 4;
  /* The sniffer alone: whatever it guesses must be a dialect the reader accepts. */
  fp_csv_dialect sd;
  bool confident = false;
  if (fp_csv_sniff((const char *)csv, n, &sd, &confident) == FP_OK) {
    fp_csv_opts so;
    fp_csv_opts_default(&so);
    so.dialect = sd;
    so.on_record = on_record;
    fp_csv_reader *r = NULL;
    fp_diag d;
    fp_diag_clear(&d);
    if (fp_csv_reader_new(&so, &r, &d)) __builtin_trap();
    fp_csv_reader_free(r);
  }
  digest fast, scalar;
  fp_err ef = parse(csv, n, &o, FP_CSV_SCAN_AUTO, data[0], &fast);
  fp_err es = parse(csv, n, &o, FP_CSV_SCAN_SCALAR, 0, &scalar);
  if (ef != es || fast.h != scalar.h || fast.nrec != scalar.nrec) __builtin_trap();
  return 0;
}
