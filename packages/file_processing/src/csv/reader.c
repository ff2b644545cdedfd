/* reader.c — the fp_csv_reader API around the state machine in scan.c: options, the BOM
 * and sniffing stages in front of the scanner, bounded buffer growth, and record delivery
 * (cell views, UTF-8 check, the callback). */
#include <stdlib.h>

#include "csv/csv_int.h"

static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};

void fp_csv_opts_default(fp_csv_opts *o) {
  memset(o, 0, sizeof *o);
  fp_csv_dialect_default(&o->dialect);
  o->max_row_bytes = FP__CSV_DEF_ROW_BYTES;
  o->max_columns = FP__CSV_DEF_COLUMNS;
  o->check_utf8 = true;
}

/* ---- options ------------------------------------------------------------------ */

static bool is_line_end(char c) {
  return c == '\r' || c == '\n';
}

static fp_err check_dialect(const fp_csv_dialect *dl, fp_diag *d) {
  if (dl->delimiter == '\0' || is_line_end(dl->delimiter))
    return fp_diag_set(d, FP_ERR_INVAL, "CSV delimiter must not be NUL, CR or LF");
  if (is_line_end(dl->quote_char) || is_line_end(dl->escape_char))
    return fp_diag_set(d, FP_ERR_INVAL, "CSV quote_char/escape_char must not be CR or LF");
  if (dl->quote_char == dl->delimiter || dl->escape_char == dl->delimiter)
    return fp_diag_set(d, FP_ERR_INVAL, "CSV quote_char/escape_char equals the delimiter");
  return FP_OK;
}

/* Unpacks the dialect for the state machine. */
static void use_dialect(fp_csv_reader *r, const fp_csv_dialect *dl) {
  r->dialect = *dl;
  r->delim = (unsigned char)dl->delimiter;
  r->quote = dl->quote_char ? (unsigned char)dl->quote_char : -1;
  r->esc = dl->escape_char ? (unsigned char)dl->escape_char : -1;
  r->dq = dl->double_quote;
  r->skip_space = dl->skip_initial_space;
  memset(r->special, 0, sizeof r->special);
  r->special[r->delim] = r->special['\r'] = r->special['\n'] = r->special[0] = true;
  if (r->quote >= 0) r->special[r->quote] = true;
  if (r->esc >= 0) r->special[r->esc] = true;
}

static fp_err alloc_buffers(fp_csv_reader *r) {
  r->row_cap = r->max_row < 4096 ? r->max_row : 4096;
  r->cells_cap = r->max_cols < 64 ? r->max_cols : 64;
  r->anc_cap = 16;
  r->anc_max = r->max_row / 16 > 256 ? r->max_row / 16 : 256;
  r->row = malloc(r->row_cap + FP__CSV_ROW_SLACK);
  r->cells = malloc(r->cells_cap * sizeof *r->cells);
  r->anc = malloc(r->anc_cap * sizeof *r->anc);
  return r->row && r->cells && r->anc ? FP_OK : FP_ERR_NOMEM;
}

fp_err fp_csv_reader_new(const fp_csv_opts *o, fp_csv_reader **out, fp_diag *d) {
  *out = NULL;
  if (!o || !o->on_record) return fp_diag_set(d, FP_ERR_INVAL, "CSV reader needs on_record");
  if (o->max_row_bytes > UINT32_MAX - FP__CSV_ROW_SLACK)
    return fp_diag_set(d, FP_ERR_INVAL, "max_row_bytes %zu is over 4 GiB", o->max_row_bytes);
  if (!o->sniff) {
    fp_err e = check_dialect(&o->dialect, d);
    if (e) return e;
  }
  fp_csv_reader *r = calloc(1, sizeof *r);
  if (!r) return fp_diag_set(d, FP_ERR_NOMEM, "allocating the CSV reader");
  r->opts = *o;
  r->max_row = o->max_row_bytes ? o->max_row_bytes : FP__CSV_DEF_ROW_BYTES;
  r->max_cols = o->max_columns ? o->max_columns : FP__CSV_DEF_COLUMNS;
  if (o->sniff) {
    fp_csv_dialect dl;
    fp_csv_dialect_default(&dl);
    use_dialect(r, &dl);
  } else {
    use_dialect(r, &o->dialect);
  }
  r->sniff_pending = o->sniff;
  fp_buf_init(&r->sniff_buf, FP__CSV_SNIFF_BYTES);
  r->state = FP__CSV_REC_START;
  if (alloc_buffers(r)) {
    fp_csv_reader_free(r);
    return fp_diag_set(d, FP_ERR_NOMEM, "allocating the CSV reader buffers");
  }
  *out = r;
  return FP_OK;
}

void fp_csv_reader_free(fp_csv_reader *r) {
  if (!r) return;
  free(r->row);
  free(r->cells);
  free(r->anc);
  fp_buf_free(&r->sniff_buf);
  free(r);
}

void fp_csv_reader_set_scan(fp_csv_reader *r, fp_csv_scan_mode m) {
  if (r) r->scan = m;
}

const fp_csv_dialect *fp_csv_reader_dialect(const fp_csv_reader *r) {
  return &r->dialect;
}
bool fp_csv_reader_sniffed(const fp_csv_reader *r) {
  return r->sniffed;
}
uint64_t fp_csv_reader_bytes(const fp_csv_reader *r) {
  return r->fed;
}

/* ---- slow paths called from the scanner ----------------------------------------- */

static fp_err limit(fp_csv_reader *r, uint32_t column, const char *what, const char *opt,
                    size_t max, uint64_t off) {
  fp_diag_set(r->d, FP_ERR_LIMIT,
              "CSV record %llu (starting at byte %llu) has more than %zu %s at byte %llu; "
              "raise option %s",
              (unsigned long long)(r->nrec + 1), (unsigned long long)r->rec_start, max, what,
              (unsigned long long)off, opt);
  fp_diag_at(r->d, r->nrec + 1, column, r->rec_start);
  return FP_ERR_LIMIT;
}

fp_err fp__csv_grow_row(fp_csv_reader *r, size_t extra, uint64_t off) {
  if (extra > r->max_row - r->row_len) {
    /* appends are contiguous in the input: the first byte past the limit is at */
    uint64_t at = off + (r->max_row - r->row_len);
    return limit(r, (uint32_t)(r->ncells + 1), "bytes of cell data", "max_row_bytes", r->max_row,
                 at);
  }
  size_t need = r->row_len + extra, ncap = r->row_cap;
  while (ncap < need) ncap = ncap > r->max_row / 2 ? r->max_row : ncap * 2;
  char *p = realloc(r->row, ncap + FP__CSV_ROW_SLACK);
  if (!p) return fp_diag_set(r->d, FP_ERR_NOMEM, "growing the CSV row buffer");
  r->row = p;
  r->row_cap = ncap;
  return FP_OK;
}

fp_err fp__csv_grow_cells(fp_csv_reader *r) {
  size_t ncap = r->cells_cap > r->max_cols / 2 ? r->max_cols : r->cells_cap * 2;
  if (ncap <= r->cells_cap) ncap = r->cells_cap + 1; /* one more than max: caught later */
  fp_cell *p = realloc(r->cells, ncap * sizeof *p);
  if (!p) return fp_diag_set(r->d, FP_ERR_NOMEM, "growing the CSV cell array");
  r->cells = p;
  r->cells_cap = ncap;
  return FP_OK;
}

fp_err fp__csv_too_many_columns(fp_csv_reader *r, uint64_t off) {
  return limit(r, (uint32_t)(r->max_cols + 1), "columns", "max_columns", r->max_cols, off);
}

void fp__csv_note_nul(fp_csv_reader *r, uint64_t src) {
  fp__csv_flag(r, FP_REC_HAS_NUL, src);
}

/* Records that the byte about to be appended at row_len (from input offset src) is
 * >= 0x80, adding an anchor unless the previous anchor already maps it. */
void fp__csv_note_high(fp_csv_reader *r, uint64_t src) {
  r->rec_high = true;
  if (r->nanc) {
    const fp__csv_anchor *a = &r->anc[r->nanc - 1];
    if (a->src + (r->row_len - a->pos) == src) return; /* contiguous with it */
  }
  if (r->nanc == r->anc_cap) {
    if (r->anc_cap >= r->anc_max) return; /* bounded: later offsets become approximate */
    fp__csv_anchor *p = realloc(r->anc, 2 * r->anc_cap * sizeof *p);
    if (!p) return; /* only precision of bad_offset is lost */
    r->anc = p;
    r->anc_cap *= 2;
  }
  r->anc[r->nanc++] = (fp__csv_anchor){.pos = r->row_len, .src = src};
}

/* ---- record delivery -------------------------------------------------------------- */

/* Input offset of the byte at row position pos (a byte >= 0x80, so some anchor maps it). */
static uint64_t row_to_input(const fp_csv_reader *r, size_t pos) {
  size_t lo = 0, hi = r->nanc; /* find the last anchor with anc.pos <= pos */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (r->anc[mid].pos <= pos)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0) return r->rec_start;
  return r->anc[lo - 1].src + (pos - r->anc[lo - 1].pos);
}

/* The row is valid UTF-8 and no cell starts inside a sequence begun in the cell before:
 * then every cell is valid on its own. One pass over the row, the common case. */
static bool row_valid(const fp_csv_reader *r) {
  if (fp_utf8_valid_prefix(r->row, r->row_len) != r->row_len) return false;
  size_t off = 0;
  for (size_t i = 0; i < r->ncells; off += r->cells[i++].len)
    if (r->cells[i].len && ((unsigned char)r->row[off] & 0xC0) == 0x80) return false;
  return true;
}

/* Validates every cell separately (a sequence must not span two cells). */
static void check_utf8(fp_csv_reader *r) {
  if (row_valid(r)) return;
  size_t off = 0;
  for (size_t i = 0; i < r->ncells; i++) {
    size_t len = r->cells[i].len;
    size_t ok = fp_utf8_valid_prefix(r->row + off, len);
    if (ok < len) {
      uint64_t at = row_to_input(r, off + ok);
      r->rec_flags |= FP_REC_INVALID_UTF8;
      if (!r->has_bad || at < r->bad_offset) r->bad_offset = at;
      r->has_bad = true;
      return;
    }
    off += len;
  }
}

static void reset_record(fp_csv_reader *r) {
  r->row_len = r->cell_start = 0;
  r->ncells = r->nanc = 0;
  r->cell_flags = r->rec_flags = 0;
  r->rec_high = r->has_bad = false;
  r->bad_offset = 0;
}

fp_err fp__csv_deliver(fp_csv_reader *r, uint64_t end) {
  const char *p = r->row;
  for (size_t i = 0; i < r->ncells; i++) {
    r->cells[i].ptr = p;
    p += r->cells[i].len;
  }
  if (r->rec_high && r->opts.check_utf8) check_utf8(r);
  fp_csv_record rec = {
      .cells = r->cells,
      .ncells = (uint32_t)r->ncells,
      .flags = r->rec_flags,
      .index = ++r->nrec,
      .byte_offset = r->rec_start,
      .bad_offset = r->has_bad ? r->bad_offset : 0,
      .raw_bytes = end - r->rec_start,
  };
  fp_err e = r->opts.on_record(r->opts.ud, &rec, r->d);
  reset_record(r);
  if (e) {
    fp_diag_set(r->d, e, "CSV record callback stopped the reader at record %llu",
                (unsigned long long)rec.index);
    fp_diag_at(r->d, rec.index, 0, rec.byte_offset);
  }
  return e;
}

/* ---- the stages: BOM, sniff, scan --------------------------------------------------- */

static fp_err scan(fp_csv_reader *r, const char *buf, size_t n, uint64_t base) {
  if (!n) return FP_OK;
  if (r->scan == FP_CSV_SCAN_SCALAR) return fp__csv_scan_scalar(r, buf, n, base);
  return fp__csv_scan_fast(r, buf, n, base);
}

/* Sniffs the held sample, switches to its dialect and parses the sample. */
static fp_err sniff_now(fp_csv_reader *r) {
  fp_csv_dialect dl;
  bool confident;
  fp_err e =
      fp_csv_sniff(r->sniff_buf.data ? r->sniff_buf.data : "", r->sniff_buf.len, &dl, &confident);
  if (e) return fp_diag_set(r->d, e, "sniffing the CSV dialect");
  use_dialect(r, &dl);
  r->sniffed = true;
  r->sniff_pending = false;
  e = scan(r, r->sniff_buf.data, r->sniff_buf.len, r->sniff_base);
  fp_buf_free(&r->sniff_buf);
  return e;
}

/* Bytes after the BOM stage: held for sniffing, or scanned. */
static fp_err stage_sniff(fp_csv_reader *r, const char *buf, size_t n, uint64_t base) {
  if (!r->sniff_pending) return scan(r, buf, n, base);
  if (r->sniff_buf.len == 0) r->sniff_base = base;
  size_t room = FP__CSV_SNIFF_BYTES - r->sniff_buf.len, take = n < room ? n : room;
  fp_err e = fp_buf_append(&r->sniff_buf, buf, take);
  if (e) return fp_diag_set(r->d, e, "holding the CSV sniff sample");
  if (r->sniff_buf.len < FP__CSV_SNIFF_BYTES) return FP_OK;
  e = sniff_now(r);
  return e ? e : scan(r, buf + take, n - take, base + take);
}

/* Skips a UTF-8 BOM at the very start, even when it arrives split across feeds. */
static fp_err stage_bom(fp_csv_reader *r, const char *buf, size_t n, uint64_t base) {
  if (r->bom_done) return stage_sniff(r, buf, n, base);
  unsigned held = r->bom_n; /* BOM bytes matched in earlier feeds */
  size_t k = 0;
  while (k < n && r->bom_n < 3 && (unsigned char)buf[k] == bom[r->bom_n]) k++, r->bom_n++;
  if (r->bom_n == 3) {
    r->bom_done = true;
    return stage_sniff(r, buf + k, n - k, base + k);
  }
  if (k == n) return FP_OK; /* still a BOM prefix: wait for more */
  r->bom_done = true;       /* not a BOM: the held bytes were data */
  fp_err e = stage_sniff(r, (const char *)bom, held, 0);
  return e ? e : stage_sniff(r, buf, n, base);
}

static fp_err stopped(fp_csv_reader *r, fp_diag *d) {
  return fp_diag_set(d, r->err, "CSV reader stopped by an earlier error (%s)", fp_err_name(r->err));
}

fp_err fp_csv_reader_feed(fp_csv_reader *r, const char *buf, size_t n, fp_diag *d) {
  if (r->err) return stopped(r, d);
  if (r->finished) return fp_diag_set(d, FP_ERR_INVAL, "CSV reader fed after finish");
  if (!n) return FP_OK;
  uint64_t base = r->fed;
  r->fed += n;
  r->d = d;
  fp_err e = stage_bom(r, buf, n, base);
  r->d = NULL;
  r->err = e;
  return e;
}

fp_err fp_csv_reader_finish(fp_csv_reader *r, fp_diag *d) {
  if (r->err) return stopped(r, d);
  if (r->finished) return FP_OK;
  r->finished = true;
  r->d = d;
  fp_err e = FP_OK;
  if (!r->bom_done) { /* input shorter than a BOM: what was held is data */
    r->bom_done = true;
    e = stage_sniff(r, (const char *)bom, r->bom_n, 0);
  }
  if (!e && r->sniff_pending) e = sniff_now(r);
  if (!e) e = fp__csv_scan_eof(r);
  r->d = NULL;
  r->err = e;
  return e;
}
