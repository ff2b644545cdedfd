/* rbatch.c — a batch of parsed records copied out of the reader's buffer, so that other
 * threads can work on them after the reader moved on. Struct of arrays: the cells' text
 * back to back, and per cell its offset, length and flags (and, when the caller has them,
 * its hash); per row where its cells start and the record's own fields. Arrays grow by
 * doubling and are kept between uses, so a steady stream allocates nothing. */
#include <stdlib.h>
#include <string.h>

#include "quality/quality_int.h"

void fp__rbatch_free(fp__rbatch *b) {
  free(b->row_start);
  free(b->rows);
  free(b->off);
  free(b->len);
  free(b->cflags);
  free(b->h);
  free(b->text);
  memset(b, 0, sizeof *b);
}

void fp__rbatch_clear(fp__rbatch *b) {
  b->nrows = b->ncells = 0;
  b->text_len = 0;
}

static fp_err grow_rows(fp__rbatch *b) {
  uint32_t nc = b->rows_cap ? b->rows_cap * 2 : 256;
  uint32_t *ns = realloc(b->row_start, ((size_t)nc + 1) * sizeof *ns);
  if (!ns) return FP_ERR_NOMEM;
  b->row_start = ns;
  fp__rbrow *nr = realloc(b->rows, (size_t)nc * sizeof *nr);
  if (!nr) return FP_ERR_NOMEM;
  b->rows = nr;
  b->rows_cap = nc;
  return FP_OK;
}

/* Each array is reallocated on its own; one that fails leaves the others bigger, which
 * is harmless: cells_cap only moves once all of them grew. */
static fp_err grow_cells(fp__rbatch *b, uint32_t need) {
  uint32_t nc = b->cells_cap ? b->cells_cap : 4096;
  while (nc < need) nc = nc > UINT32_MAX / 2 ? UINT32_MAX : nc * 2;
  uint32_t *no = realloc(b->off, (size_t)nc * sizeof *no);
  if (!no) return FP_ERR_NOMEM;
  b->off = no;
  uint32_t *nl = realloc(b->len, (size_t)nc * sizeof *nl);
  if (!nl) return FP_ERR_NOMEM;
  b->len = nl;
  uint32_t *nf = realloc(b->cflags, (size_t)nc * sizeof *nf);
  if (!nf) return FP_ERR_NOMEM;
  b->cflags = nf;
  uint64_t *nh = realloc(b->h, (size_t)nc * sizeof *nh);
  if (!nh) return FP_ERR_NOMEM;
  b->h = nh;
  b->cells_cap = nc;
  return FP_OK;
}

fp_err fp__rbatch_add(fp__rbatch *b, const fp_csv_record *rec, uint32_t m, const uint64_t *h) {
  if (m > rec->ncells) m = rec->ncells;
  size_t bytes = 0;
  for (uint32_t i = 0; i < m; i++) bytes += rec->cells[i].len;
  if (b->text_len + bytes > UINT32_MAX || (uint64_t)b->ncells + m > UINT32_MAX)
    return FP_ERR_LIMIT;
  fp_err e = FP_OK;
  if (b->nrows == b->rows_cap) e = grow_rows(b);
  if (!e && b->ncells + m > b->cells_cap) e = grow_cells(b, b->ncells + m);
  if (e) return e;
  if (b->text_len + bytes > b->text_cap) {
    size_t nc = b->text_cap ? b->text_cap : 65536;
    while (nc < b->text_len + bytes) nc *= 2;
    char *nt = realloc(b->text, nc);
    if (!nt) return FP_ERR_NOMEM;
    b->text = nt;
    b->text_cap = nc;
  }
  if (b->nrows == 0) b->row_start[0] = 0;
  /* Two shapes, so that no byte crosses to the other core in vain: with hashes (column
   * profiling) the cells' text, offsets, lengths and hashes; without (whole records) the
   * cells' flags and the record's own fields instead of hashes. */
  for (uint32_t i = 0; i < m; i++) {
    uint32_t k = b->ncells + i, n = rec->cells[i].len;
    b->off[k] = (uint32_t)b->text_len;
    b->len[k] = n;
    if (h)
      b->h[k] = h[i];
    else
      b->cflags[k] = rec->cells[i].flags;
    if (n) memcpy(b->text + b->text_len, rec->cells[i].ptr, n);
    b->text_len += n;
  }
  if (!h)
    b->rows[b->nrows] = (fp__rbrow){rec->index, rec->byte_offset, rec->bad_offset,
                                    rec->raw_bytes, rec->flags};
  b->ncells += m;
  b->row_start[++b->nrows] = b->ncells;
  return FP_OK;
}

void fp__rbatch_record(const fp__rbatch *b, uint32_t r, fp_cell *cells, fp_csv_record *out) {
  uint32_t first = b->row_start[r], n = b->row_start[r + 1] - first;
  for (uint32_t i = 0; i < n; i++)
    cells[i] = (fp_cell){b->text + b->off[first + i], b->len[first + i], b->cflags[first + i]};
  const fp__rbrow *w = &b->rows[r];
  *out = (fp_csv_record){cells, n, w->flags, w->index, w->byte_offset, w->bad_offset,
                         w->raw_bytes};
}
