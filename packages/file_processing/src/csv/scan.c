/* scan.c — the CSV state machine and the two scanners that drive it.
 *
 * step() consumes one byte in any state; it is the whole grammar. The scalar scanner calls
 * it for every byte and is the reference (the test oracle). The fast scanner appends the
 * ordinary bytes between special bytes (delimiter, quote, escape, CR, LF, NUL) as one
 * memcpy, handles the frequent transitions inline and sends every other byte to step().
 * Both produce identical records for any chunking (tests/unit/test_csv.c checks).
 *
 * Special bytes are found 64 input bytes at a time: 64-bit masks with one bit per byte,
 * built with SSE2 (4 x 16-byte compares) on x86-64 and with SWAR arithmetic on 8-byte
 * words elsewhere (or when FP_CSV_NO_SSE2 is defined). Only set bits are visited. */
#include "csv/csv_int.h"

#if (defined(__x86_64__) || defined(_M_X64) || defined(__SSE2__)) && !defined(FP_CSV_NO_SSE2)
#define FP__CSV_SSE2 1
#include <emmintrin.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#define FP__ALWAYS_INLINE __attribute__((always_inline))
#else
#define FP__ALWAYS_INLINE
#endif

/* ---- the state machine ---------------------------------------------------------- */

/* A line end (CR or LF) at off ends the current cell and the record. A record ending at
 * CR is delivered when the next byte shows whether it is CRLF, so raw_bytes includes it. */
static inline fp_err end_line(fp_csv_reader *r, unsigned char c, uint64_t off) {
  fp_err e = fp__csv_push_cell(r);
  if (e) return e;
  if (c == '\r') {
    r->state = FP__CSV_AFTER_CR;
    return FP_OK;
  }
  r->state = FP__CSV_REC_START;
  return fp__csv_deliver(r, off + 1);
}

/* A delimiter at off ends the current cell; another cell follows. */
static inline fp_err end_cell(fp_csv_reader *r, uint64_t off) {
  fp_err e = fp__csv_push_cell(r);
  if (e) return e;
  if (FP__UNLIKELY(r->ncells >= r->max_cols)) return fp__csv_too_many_columns(r, off);
  r->state = FP__CSV_FIELD_START;
  return FP_OK;
}

static inline fp_err set_state(fp_csv_reader *r, fp__csv_state s) {
  r->state = s;
  return FP_OK;
}

/* The per-state rules. Python csv semantics (strict=False): a quote inside an unquoted
 * field is kept literally; after a closing quote, any byte but delimiter/line end is kept
 * literally and the field continues unquoted ("a"b -> ab); both set FP_REC_STRAY_QUOTE
 * with bad_offset at that byte. */
static inline fp_err on_field_start(fp_csv_reader *r, unsigned char c, uint64_t off) {
  if (c == r->quote) {
    r->cell_flags |= FP_CELL_QUOTED;
    return set_state(r, FP__CSV_QUOTED);
  }
  if (c == r->esc) return set_state(r, FP__CSV_ESC_UNQUOTED);
  if (c == ' ' && r->skip_space) return FP_OK;
  if (c == r->delim) return end_cell(r, off);
  if (c == '\n' || c == '\r') return end_line(r, c, off);
  r->state = FP__CSV_UNQUOTED;
  return fp__csv_put(r, c, off);
}

static inline fp_err on_unquoted(fp_csv_reader *r, unsigned char c, uint64_t off) {
  if (c == r->delim) return end_cell(r, off);
  if (c == '\n' || c == '\r') return end_line(r, c, off);
  if (c == r->esc) return set_state(r, FP__CSV_ESC_UNQUOTED);
  if (c == r->quote) fp__csv_flag(r, FP_REC_STRAY_QUOTE, off); /* a"b: kept */
  return fp__csv_put(r, c, off);
}

static inline fp_err on_quoted(fp_csv_reader *r, unsigned char c, uint64_t off) {
  if (c == r->esc) return set_state(r, FP__CSV_ESC_QUOTED);
  if (c == r->quote) return set_state(r, FP__CSV_QUOTE_IN_QUOTED);
  return fp__csv_put(r, c, off);
}

/* After a quote inside quotes: "" (one quote), or the quote closed the field. */
static inline fp_err on_quote_in_quoted(fp_csv_reader *r, unsigned char c, uint64_t off) {
  if (c == r->quote && r->dq) {
    r->state = FP__CSV_QUOTED;
    return fp__csv_put(r, c, off);
  }
  if (c == r->delim) return end_cell(r, off);
  if (c == '\n' || c == '\r') return end_line(r, c, off);
  fp__csv_flag(r, FP_REC_STRAY_QUOTE, off); /* "a"b: text after the closing quote */
  if (c == r->esc && !r->dq) return set_state(r, FP__CSV_ESC_UNQUOTED); /* as Python */
  r->state = FP__CSV_UNQUOTED;
  return fp__csv_put(r, c, off);
}

/* Consumes byte c found at absolute input offset off, in any state: the whole grammar. */
static inline FP__ALWAYS_INLINE fp_err step(fp_csv_reader *r, unsigned char c, uint64_t off) {
  switch (r->state) {
    case FP__CSV_AFTER_CR: { /* the record ended at CR: CRLF or CR? */
      fp_err e = fp__csv_deliver(r, c == '\n' ? off + 1 : off);
      r->state = FP__CSV_REC_START;
      if (e || c == '\n') return e;
    }
      FP__FALLTHROUGH; /* c starts the next record */
    case FP__CSV_REC_START:
      r->rec_start = off;
      r->state = FP__CSV_FIELD_START;
      return on_field_start(r, c, off);
    case FP__CSV_FIELD_START: return on_field_start(r, c, off);
    case FP__CSV_UNQUOTED: return on_unquoted(r, c, off);
    case FP__CSV_QUOTED: return on_quoted(r, c, off);
    case FP__CSV_QUOTE_IN_QUOTED: return on_quote_in_quoted(r, c, off);
    case FP__CSV_ESC_UNQUOTED: r->state = FP__CSV_UNQUOTED; return fp__csv_put(r, c, off);
    case FP__CSV_ESC_QUOTED: r->state = FP__CSV_QUOTED; return fp__csv_put(r, c, off);
  }
  return FP_ERR_INTERNAL;
}

fp_err fp__csv_scan_eof(fp_csv_reader *r) {
  uint64_t end = r->fed;
  fp_err e = FP_OK;
  switch (r->state) {
    case FP__CSV_REC_START: return FP_OK;
    case FP__CSV_AFTER_CR: r->state = FP__CSV_REC_START; return fp__csv_deliver(r, end);
    case FP__CSV_ESC_QUOTED: /* a trailing escape char is kept literally */
    case FP__CSV_ESC_UNQUOTED:
      e = fp__csv_put(r, (unsigned char)r->esc, end - 1);
      if (e) return e;
      if (r->state == FP__CSV_ESC_QUOTED) r->rec_flags |= FP_REC_UNTERMINATED;
      break;
    case FP__CSV_QUOTED: r->rec_flags |= FP_REC_UNTERMINATED; break;
    case FP__CSV_FIELD_START:
    case FP__CSV_UNQUOTED:
    case FP__CSV_QUOTE_IN_QUOTED: break;
  }
  e = fp__csv_push_cell(r);
  r->state = FP__CSV_REC_START;
  return e ? e : fp__csv_deliver(r, end);
}

/* ---- scalar scanner: the reference ---------------------------------------------- */

fp_err fp__csv_scan_scalar(fp_csv_reader *r, const char *buf, size_t n, uint64_t base) {
  const unsigned char *p = (const unsigned char *)buf;
  for (size_t i = 0; i < n; i++) {
    fp_err e = step(r, p[i], base + i);
    if (e) return e;
  }
  return FP_OK;
}

/* ---- fast scanner ----------------------------------------------------------------- */

/* The specials of the current 64-byte block, one bit per byte: all = any special byte,
 * quoted = the ones that matter inside quotes (quote, escape, NUL), high = bytes >= 0x80.
 * Bits at or past the chunk end are clear. */
typedef struct block {
  const unsigned char *blk;
  uint64_t all, quoted, high;
#ifdef FP__CSV_SSE2
  __m128i vd, vq, ve, vcr, vlf, vz;
#else
  uint64_t wd, wq, we;
#endif
} block;

#ifdef FP__CSV_SSE2
static void block_init(block *b, const fp_csv_reader *r) {
  /* a disabled quote/escape (-1) is folded onto NUL, which is special anyway */
  b->vd = _mm_set1_epi8((char)r->delim);
  b->vq = _mm_set1_epi8((char)(r->quote < 0 ? 0 : r->quote));
  b->ve = _mm_set1_epi8((char)(r->esc < 0 ? 0 : r->esc));
  b->vcr = _mm_set1_epi8('\r');
  b->vlf = _mm_set1_epi8('\n');
  b->vz = _mm_setzero_si128();
}

/* Masks of the 64 bytes at p (all readable): 4 x (6 compares + 3 movemasks). */
static inline void block_masks(block *b, const unsigned char *p) {
  uint64_t all = 0, quoted = 0, high = 0;
  for (int k = 0; k < 4; k++) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
    __m128i q = _mm_or_si128(_mm_cmpeq_epi8(v, b->vq),
                             _mm_or_si128(_mm_cmpeq_epi8(v, b->ve), _mm_cmpeq_epi8(v, b->vz)));
    __m128i a = _mm_or_si128(_mm_cmpeq_epi8(v, b->vd),
                             _mm_or_si128(_mm_cmpeq_epi8(v, b->vcr), _mm_cmpeq_epi8(v, b->vlf)));
    a = _mm_or_si128(a, q);
    all |= (uint64_t)(uint16_t)_mm_movemask_epi8(a) << (16 * k);
    quoted |= (uint64_t)(uint16_t)_mm_movemask_epi8(q) << (16 * k);
    high |= (uint64_t)(uint16_t)_mm_movemask_epi8(v) << (16 * k);
  }
  b->all = all;
  b->quoted = quoted;
  b->high = high;
}
#else
#define SWAR_ONES 0x0101010101010101ULL
#define SWAR_LOW7 0x7f7f7f7f7f7f7f7fULL

static void block_init(block *b, const fp_csv_reader *r) {
  b->wd = SWAR_ONES * (unsigned char)r->delim;
  b->wq = SWAR_ONES * (unsigned char)(r->quote < 0 ? 0 : r->quote);
  b->we = SWAR_ONES * (unsigned char)(r->esc < 0 ? 0 : r->esc);
}

/* 0x80 in every byte of x that is zero, 0 elsewhere (exact: no borrow between bytes). */
static inline uint64_t swar_zero(uint64_t x) {
  return ~(((x & SWAR_LOW7) + SWAR_LOW7) | x | SWAR_LOW7);
}

/* Moves bit 7 of byte i (the only bits set in x) to bit i. */
static inline unsigned swar_gather(uint64_t x) {
  return (unsigned)(((x >> 7) * 0x0102040810204080ULL) >> 56);
}

/* Masks of the 64 bytes at p (all readable), 8 bytes at a time. */
static inline void block_masks(block *b, const unsigned char *p) {
  uint64_t all = 0, quoted = 0, high = 0;
  for (int k = 0; k < 8; k++) {
    uint64_t w;
    memcpy(&w, p + 8 * k, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w); /* byte i of the input in bits 8i..8i+7 */
#endif
    uint64_t q = swar_zero(w ^ b->wq) | swar_zero(w ^ b->we) | swar_zero(w);
    uint64_t a = q | swar_zero(w ^ b->wd) | swar_zero(w ^ (SWAR_ONES * '\r')) |
                 swar_zero(w ^ (SWAR_ONES * '\n'));
    all |= (uint64_t)swar_gather(a) << (8 * k);
    quoted |= (uint64_t)swar_gather(q) << (8 * k);
    high |= (uint64_t)swar_gather(w & ~SWAR_LOW7) << (8 * k);
  }
  b->all = all;
  b->quoted = quoted;
  b->high = high;
}
#endif

/* Loads the block starting at p; a block crossing end is copied to a padded buffer and
 * its bits past end cleared. */
static inline void block_load(block *b, const unsigned char *p, const unsigned char *end) {
  b->blk = p;
  if (end - p >= 64) {
    block_masks(b, p);
    return;
  }
  unsigned char tmp[64];
  size_t n = (size_t)(end - p);
  memcpy(tmp, p, n);
  memset(tmp + n, 'x', 64 - n);
  block_masks(b, tmp);
  uint64_t keep = (1ULL << n) - 1; /* n < 64 */
  b->all &= keep;
  b->quoted &= keep;
  b->high &= keep;
}

/* Returns the first byte at or after p that is special (inside quotes: special there), or
 * end; sets *high when a byte in [p, result) is >= 0x80. p must lie in the current block
 * or after it. */
static inline const unsigned char *next_special(block *b, const unsigned char *p,
                                                const unsigned char *end, bool in_quotes,
                                                bool *high) {
  size_t off = (size_t)(p - b->blk);
  if (off >= 64) {
    block_load(b, p, end);
    off = 0;
  }
  uint64_t from = ~0ULL << off; /* bits of the block at or after p */
  for (;;) {
    uint64_t m = (in_quotes ? b->quoted : b->all) & from;
    if (m) {
      unsigned k = (unsigned)__builtin_ctzll(m);
      uint64_t below = (1ULL << k) - 1; /* bits before the special byte (k < 64) */
      if (b->high & from & below) *high = true;
      return b->blk + k;
    }
    if (b->high & from) *high = true;
    if (end - b->blk <= 64) return end; /* this was the chunk's last block */
    block_load(b, b->blk + 64, end);
    from = ~0ULL;
  }
}

/* Prepares appending a run of n bytes from input offset off (high: some byte is >= 0x80):
 * makes room and records the UTF-8 anchor. The caller then copies the bytes. */
static inline fp_err run_slow(fp_csv_reader *r, size_t n, uint64_t off, bool high) {
  if (n > r->row_cap - r->row_len) {
    fp_err e = fp__csv_grow_row(r, n, off);
    if (e) return e;
  }
  if (high) fp__csv_note_high(r, off);
  return FP_OK;
}

/* Ends the current cell at a delimiter without leaving the hot loop, when no slow path
 * (cell array growth, max_columns) is involved. len: the row length kept by the loop. */
static inline bool push_cell_fast(fp_csv_reader *r, size_t len) {
  if (FP__UNLIKELY(r->ncells + 1 >= r->max_cols || r->ncells >= r->cells_cap)) return false;
  fp_cell *c = &r->cells[r->ncells++];
  c->len = (uint32_t)(len - r->cell_start);
  c->flags = r->cell_flags;
  r->cell_start = len;
  r->cell_flags = 0;
  return true;
}

/* The hot loop. Invariant: every byte before p has been consumed by the state machine.
 * The state and the row length live in locals (s, len) and are written back to r before
 * anything else reads them (step(), the slow paths, return).
 *
 * Inside a field the bytes up to the next special byte cannot change the state, so they
 * are appended as one run (a 16-byte over-copy when short: row has FP__CSV_ROW_SLACK spare
 * bytes). Inside quotes only quote, escape and NUL count as special, so delimiters and
 * line breaks in quoted text do not break the run. The common transitions (delimiter
 * after a field, opening and closing quotes, "" inside quotes, the first byte of an
 * unquoted field) are handled inline; every other byte goes through step(), which is the
 * whole grammar, so both scanners agree by construction. */
fp_err fp__csv_scan_fast(fp_csv_reader *r, const char *buf, size_t n, uint64_t base) {
  const unsigned char *p = (const unsigned char *)buf, *const start = p, *const end = p + n;
  const int delim = r->delim, quote = r->quote;
  fp__csv_state s = r->state;
  size_t len = r->row_len;
  fp_err e = FP_OK;
  block b;
  block_init(&b, r);
  if (p < end) block_load(&b, p, end);
  while (p < end) {
    switch (s) {
      case FP__CSV_UNQUOTED:
      case FP__CSV_QUOTED: {
        bool high = false;
        const unsigned char *q = next_special(&b, p, end, s == FP__CSV_QUOTED, &high);
        size_t k = (size_t)(q - p);
        if (k) {
          if (FP__UNLIKELY(high || k > r->row_cap - len)) {
            /* grow the row (checks max_row_bytes) and/or record the UTF-8 anchor */
            r->row_len = len;
            e = run_slow(r, k, base + (uint64_t)(p - start), high);
            if (e) goto out;
          }
          /* copy the run; a short one as one 16-byte over-copy */
          if (k <= 16 && end - p >= 16)
            memcpy(r->row + len, p, 16);
          else
            memcpy(r->row + len, p, k);
          len += k;
          p = q;
          if (p == end) goto out;
        }
        if (s == FP__CSV_QUOTED) {
          if (*p == quote && quote != r->esc) { /* closing quote, or the first of "" */
            s = FP__CSV_QUOTE_IN_QUOTED;
            p++;
            continue;
          }
        } else if (*p == delim && push_cell_fast(r, len)) {
          s = FP__CSV_FIELD_START;
          p++;
          continue;
        }
        break; /* line end, escape, NUL, stray quote: step() */
      }
      case FP__CSV_FIELD_START:
        if (*p == quote) { /* opening quote */
          r->cell_flags |= FP_CELL_QUOTED;
          s = FP__CSV_QUOTED;
          p++;
          continue;
        }
        if (!r->special[*p] && !(*p == ' ' && r->skip_space)) {
          s = FP__CSV_UNQUOTED; /* this byte starts the next run */
          continue;
        }
        break;
      case FP__CSV_QUOTE_IN_QUOTED:
        if (*p == delim && push_cell_fast(r, len)) { /* "...", */
          s = FP__CSV_FIELD_START;
          p++;
          continue;
        }
        if (*p == quote && r->dq && len < r->row_cap) { /* "" is one quote */
          r->row[len++] = (char)*p;
          s = FP__CSV_QUOTED;
          p++;
          continue;
        }
        break;
      default: break;
    }
    /* everything else: one byte through the full state machine */
    r->state = s;
    r->row_len = len;
    e = step(r, *p, base + (uint64_t)(p - start));
    s = r->state;
    len = r->row_len;
    if (e) goto out;
    p++;
  }
out:
  r->state = s;
  r->row_len = len;
  return e;
}
