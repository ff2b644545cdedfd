/* csv_int.h — private layout of the CSV reader, shared by reader.c (API, record delivery),
 * scan.c (the per-byte state machine and the two scanners) and sniff.c.
 *
 * The record being built lives in three arrays owned by the reader:
 *   row   the unescaped cell bytes, contiguous (cell i follows cell i-1);
 *   cells one fp_cell per finished cell; ptr is filled in at delivery because row may move
 *         while the record grows;
 *   anc   "anchors" mapping row positions back to input offsets, recorded only for appends
 *         that contain a byte >= 0x80 (an invalid UTF-8 sequence always starts at such a
 *         byte), so bad_offset can be exact without per-byte bookkeeping. */
#ifndef FP_CSV_INT_H
#define FP_CSV_INT_H

#include <string.h>

#include "fp/fp_buf.h"
#include "fp/fp_csv.h"

#define FP__CSV_SNIFF_BYTES ((size_t)64 * 1024)  /* sniff sample size */
#define FP__CSV_DEF_ROW_BYTES ((size_t)16 << 20) /* max_row_bytes when 0 */
#define FP__CSV_DEF_COLUMNS ((size_t)16384)      /* max_columns when 0 */
#define FP__CSV_ROW_SLACK 16 /* row is allocated this much larger than row_cap */

#if defined(__GNUC__) || defined(__clang__)
#define FP__LIKELY(x) __builtin_expect(!!(x), 1)
#define FP__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define FP__FALLTHROUGH __attribute__((fallthrough))
#else
#define FP__LIKELY(x) (x)
#define FP__UNLIKELY(x) (x)
#define FP__FALLTHROUGH
#endif

/* Parser states, named after CPython's _csv.c where they correspond. */
typedef enum fp__csv_state {
  FP__CSV_REC_START,       /* before the first byte of a record */
  FP__CSV_FIELD_START,     /* after a delimiter (or the record start) */
  FP__CSV_UNQUOTED,        /* inside an unquoted field */
  FP__CSV_QUOTED,          /* inside a quoted field */
  FP__CSV_QUOTE_IN_QUOTED, /* saw a quote inside a quoted field: "" or the closing quote */
  FP__CSV_ESC_UNQUOTED,    /* saw escape_char outside quotes */
  FP__CSV_ESC_QUOTED,      /* saw escape_char inside quotes */
  FP__CSV_AFTER_CR,        /* record ended at CR; waiting to see whether LF follows */
} fp__csv_state;

typedef struct fp__csv_anchor {
  uint64_t pos; /* row position of the first byte of an append */
  uint64_t src; /* absolute input offset of that byte */
} fp__csv_anchor;

struct fp_csv_reader {
  fp_csv_opts opts;       /* as given; opts.dialect replaced after sniffing */
  fp_csv_dialect dialect; /* in use */
  /* dialect unpacked for the state machine; -1 = disabled (never equals a byte) */
  int delim, quote, esc;
  bool dq, skip_space;
  bool special[256]; /* delimiter, quote, escape, CR, LF, NUL (fast scanner fast paths) */
  fp_csv_scan_mode scan;
  size_t max_row, max_cols;

  fp__csv_state state;
  fp_err err; /* sticky: once set, every later call fails */
  bool finished;
  fp_diag *d;   /* diag of the feed/finish call in progress */
  uint64_t fed; /* bytes given to feed so far */

  /* record being built */
  char *row; /* row_cap + FP__CSV_ROW_SLACK bytes */
  size_t row_len, row_cap, cell_start;
  fp_cell *cells;
  size_t ncells, cells_cap;
  uint32_t cell_flags, rec_flags;
  bool rec_high; /* a byte >= 0x80 was appended: validate UTF-8 at delivery */
  bool has_bad;  /* bad_offset is set */
  uint64_t bad_offset, rec_start, nrec;
  fp__csv_anchor *anc;
  size_t nanc, anc_cap, anc_max;

  /* BOM: bytes of EF BB BF matched so far at the start of input */
  unsigned bom_n;
  bool bom_done;

  /* sniffing: input held until FP__CSV_SNIFF_BYTES or finish */
  bool sniff_pending, sniffed;
  fp_buf sniff_buf;
  uint64_t sniff_base;
};

/* reader.c: slow paths and record delivery */
/* Room for extra more row bytes; off is the input offset of the first of them. */
fp_err fp__csv_grow_row(fp_csv_reader *r, size_t extra, uint64_t off);
fp_err fp__csv_grow_cells(fp_csv_reader *r);
fp_err fp__csv_too_many_columns(fp_csv_reader *r, uint64_t off);
void fp__csv_note_high(fp_csv_reader *r, uint64_t src);
void fp__csv_note_nul(fp_csv_reader *r, uint64_t src);
/* Delivers the record (cells already pushed) that ends before input offset end. */
fp_err fp__csv_deliver(fp_csv_reader *r, uint64_t end);

/* scan.c: run bytes [buf, buf+n) at absolute offset base through the state machine */
fp_err fp__csv_scan_scalar(fp_csv_reader *r, const char *buf, size_t n, uint64_t base);
fp_err fp__csv_scan_fast(fp_csv_reader *r, const char *buf, size_t n, uint64_t base);
/* scan.c: end of input in whatever state the machine is in (delivers the last record) */
fp_err fp__csv_scan_eof(fp_csv_reader *r);

static inline void fp__csv_flag(fp_csv_reader *r, uint32_t flag, uint64_t off) {
  r->rec_flags |= flag;
  if (!r->has_bad) {
    r->has_bad = true;
    r->bad_offset = off;
  }
}

/* Appends one byte taken from input offset off to the row. */
static inline fp_err fp__csv_put(fp_csv_reader *r, unsigned char c, uint64_t off) {
  if (FP__UNLIKELY(r->row_len == r->row_cap)) {
    fp_err e = fp__csv_grow_row(r, 1, off);
    if (e) return e;
  }
  if (FP__UNLIKELY(c == 0)) fp__csv_note_nul(r, off);
  if (FP__UNLIKELY(c >= 0x80)) fp__csv_note_high(r, off);
  r->row[r->row_len++] = (char)c;
  return FP_OK;
}

/* Ends the current cell. */
static inline fp_err fp__csv_push_cell(fp_csv_reader *r) {
  if (FP__UNLIKELY(r->ncells == r->cells_cap)) {
    fp_err e = fp__csv_grow_cells(r);
    if (e) return e;
  }
  fp_cell *c = &r->cells[r->ncells++];
  c->len = (uint32_t)(r->row_len - r->cell_start);
  c->flags = r->cell_flags;
  r->cell_start = r->row_len;
  r->cell_flags = 0;
  return FP_OK;
}

#endif
