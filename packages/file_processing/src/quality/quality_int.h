/* quality_int.h — private interfaces of the quality module: UTF-8 text helpers, cell type
 * classification, number formatting, HyperLogLog, the space-saving top-k sketch and the
 * findings collector's sampling probe. Not part of libfp's public API; unit tests include
 * it to reach the pieces directly. */
#ifndef FP_QUALITY_INT_H
#define FP_QUALITY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fp/fp_findings.h"
#include "fp/fp_profile.h"

/* ---- UTF-8 text (utf8text.c) --------------------------------------------------------- */

/* Copies s[0..n) as valid UTF-8 into a new NUL-terminated string of at most max_bytes
 * bytes (plus the NUL): every byte that does not start a well-formed sequence (bad lead,
 * truncated, overlong, surrogate, > U+10FFFF) and every NUL byte becomes U+FFFD; the copy
 * stops before the first character that would not fit whole. *truncated (may be NULL) is
 * set when input was left out. Owned (free); NULL only on allocation failure. */
char *fp__utf8_sanitize(const char *s, size_t n, size_t max_bytes, bool *truncated);

/* Number of UTF-8 characters: bytes that are not continuation bytes (10xxxxxx). For invalid
 * input this is an approximation, which is what a length statistic needs. Inline: it runs
 * once per non-missing cell. */
static inline size_t fp__utf8_chars(const char *s, size_t n) {
  /* 8 bytes at a time: a continuation byte has bit 7 set and bit 6 clear. */
  size_t cont = 0, i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x;
    memcpy(&x, s + i, 8);
    uint64_t t = (x & ~(x << 1) & 0x8080808080808080ull) >> 7;
    cont += (size_t)((t * 0x0101010101010101ull) >> 56);
  }
  if (n - i >= 4) { /* the tail, short cells included: 4, 2, 1 bytes */
    uint32_t x;
    memcpy(&x, s + i, 4);
    uint32_t t = (x & ~(x << 1) & 0x80808080u) >> 7;
    cont += (t * 0x01010101u) >> 24;
    i += 4;
  }
  if (n - i >= 2) {
    uint16_t x;
    memcpy(&x, s + i, 2);
    cont += ((x & 0xC0u) == 0x80u) + ((x & 0xC000u) == 0x8000u);
    i += 2;
  }
  if (i < n) cont += ((unsigned char)s[i] & 0xC0) == 0x80;
  return n - cont;
}

/* Largest k <= max such that s[0..k) does not end inside a multi-byte sequence whose lead
 * byte lies in the prefix (cuts on a character boundary when s is valid UTF-8). */
size_t fp__utf8_cut(const char *s, size_t n, size_t max);

/* ---- type classification (typeinfer.c) ----------------------------------------------- */

/* A value "fits" a set of types; a column's set is the AND of its values' sets and its type
 * is the narrowest member. Bit i stands for fp_type i. */
#define FP__TM(t) (1u << (t))
#define FP__TM_STRING FP__TM(FP_TYPE_STRING)
#define FP__TM_ALL 0x7fu /* EMPTY..STRING: the set of a column that saw no value yet */

typedef struct fp__cellval {
  int64_t i; /* valid when the cell fits INTEGER */
  double d;  /* valid when the cell fits NUMBER (integers converted), DATE (days since
                1970-01-01) or DATETIME (seconds since the epoch, UTC) */
  bool b;    /* valid when the cell fits BOOLEAN */
} fp__cellval;

/* Types the non-missing cell s[0..n) fits, as a mask (never includes EMPTY):
 *   boolean  true/True/TRUE/false/False/FALSE               -> BOOLEAN|STRING
 *   integer  [+-]?[0-9]+ within int64                         -> INTEGER|NUMBER|STRING
 *   number   [+-]?(d+[.d*]|.d+)([eE][+-]?d+)?, NaN, INF...   -> NUMBER|STRING
 *   date     YYYY-MM-DD, a real calendar day (year >= 1)      -> DATE|STRING
 *   datetime date[T ]HH:MM:SS[.f{1,9}][Z|+-HH:MM]             -> DATETIME|STRING
 *   anything else (including "", " 1", "-")                   -> STRING
 * v (may be NULL) receives the parsed value for numeric and boolean cells. */
uint32_t fp__classify(const char *s, size_t n, fp__cellval *v);

/* Narrowest type in a mask: EMPTY for FP__TM_ALL (no value seen), STRING for 0. */
fp_type fp__type_of_mask(uint32_t mask);
/* The set of types a single value of type t fits (EMPTY -> FP__TM_ALL). */
uint32_t fp__type_fits(fp_type t);
/* Lattice join: the narrowest type fitting values of both types. */
fp_type fp__type_join(fp_type a, fp_type b);

/* Shortest of %.15g/%.16g/%.17g that reads back as the same double; "NaN", "INF", "-INF"
 * for non-finite values. out must hold at least 32 bytes. */
void fp__format_double(double x, char *out, size_t outsz);

/* ---- HyperLogLog, precision 14 (hll.c) ----------------------------------------------- */

#define FP__HLL_P 14
#define FP__HLL_M (1u << FP__HLL_P) /* 16384 one-byte registers = 16 KiB */

typedef struct fp__hll {
  uint8_t reg[FP__HLL_M];
} fp__hll;

void fp__hll_init(fp__hll *h);
void fp__hll_add(fp__hll *h, uint64_t hash);
/* Ertl's improved raw estimator (no bias tables; good from 0 to 2^50). */
double fp__hll_estimate(const fp__hll *h);
void fp__hll_merge(fp__hll *dst, const fp__hll *src);

/* ---- space-saving top-k, capacity 64 (topk.c) ---------------------------------------- */

#define FP__SS_CAP 64
#define FP__SS_FILTER 1024 /* filter buckets, a power of two */
#define FP__TEXT_MAX 256 /* bytes kept of a value's text (top values, string min/max) */

/* Struct of arrays: lookups and heap moves touch only the small hash/count arrays (about
 * 2 KiB, cache-resident); the texts are written on insert/evict and read at the end. */
typedef struct fp__ss {
  uint64_t hash[FP__SS_CAP];
  uint64_t count[FP__SS_CAP]; /* over-estimate: true count <= count */
  uint64_t err[FP__SS_CAP];   /* count - err <= true count */
  uint16_t len[FP__SS_CAP];
  uint8_t heap[FP__SS_CAP];     /* min-heap of entry indexes by count */
  uint8_t pos[FP__SS_CAP];      /* entry index -> heap position */
  uint8_t slot[2 * FP__SS_CAP]; /* open-addressing index: entry index + 1, 0 = empty */
  uint32_t n;
  /* Filtered Space-Saving (Homem & Carvalho 2010): an upper bound of the count of every
   * value that is not monitored, per hash bucket. */
  uint64_t filter[FP__SS_FILTER];
  char text[FP__SS_CAP][FP__TEXT_MAX];
} fp__ss;

void fp__ss_init(fp__ss *s);
/* Counts inc occurrences of the value (hash identifies it; text is kept for display, cut
 * to FP__TEXT_MAX bytes on a character boundary). When the sketch is full, a value not
 * monitored first adds to its filter bucket; only when bucket + inc passes the smallest
 * counter does it evict that counter (Metwally et al.), entering with count bucket + inc
 * and err = bucket, and the evicted count goes back to its own bucket. Values seen once
 * in a high-cardinality column thus cost one increment instead of an eviction. */
void fp__ss_add(fp__ss *s, uint64_t hash, const char *text, size_t len, uint64_t inc);

typedef struct fp__ss_item {
  const char *text; /* borrowed from the sketch, not NUL-terminated */
  uint32_t len;
  uint64_t count; /* guaranteed lower bound: count - err */
} fp__ss_item;

/* Up to k items ordered by lower-bound count desc, then text asc (byte-wise). */
size_t fp__ss_top(const fp__ss *s, fp__ss_item *out, size_t k);

/* Byte-wise order of two texts, shorter first on a common prefix (memcmp semantics). */
int fp__text_cmp(const char *a, size_t an, const char *b, size_t bn);

/* ---- mergeable equal-width histogram (hist.c) ------------------------------------------
 *
 * FP_HIST_BINS bins of width w = 2^k over [lo, lo + FP_HIST_BINS * w), lo a multiple of w.
 * A value outside the range doubles the width (adjacent bins merge pairwise) until it fits,
 * so counts stay exact per bin and memory is fixed. Because widths are powers of two and
 * bin edges multiples of the width, two histograms merge without splitting any bin. Until
 * a second distinct value arrives the histogram is a single point (w == 0). */
typedef struct fp__hist {
  uint64_t n;              /* values counted (finite only) */
  double lo, w;            /* w == 0: every value so far equals lo */
  double hi, inv_w;        /* lo + FP_HIST_BINS * w and 1 / w (exact: w is a power of 2) */
  double vmin, vmax;       /* exact extremes of the values counted */
  uint64_t c[FP_HIST_BINS];
} fp__hist;

void fp__hist_init(fp__hist *h);
/* Everything fp__hist_add's fast path does not handle. */
void fp__hist_add_slow(fp__hist *h, double x);
/* Counts x; non-finite values are ignored. Inline: it runs once per value of every column
 * that may still be numeric or temporal, and almost every value falls inside the range. */
static inline void fp__hist_add(fp__hist *h, double x) {
  if (h->w > 0 && x >= h->lo && x < h->hi) { /* NaN fails the compares */
    size_t i = (size_t)((x - h->lo) * h->inv_w);
    h->c[i < FP_HIST_BINS ? i : FP_HIST_BINS - 1]++;
    h->n++;
    if (x < h->vmin) h->vmin = x;
    if (x > h->vmax) h->vmax = x;
    return;
  }
  fp__hist_add_slow(h, x);
}
/* Adds src's counts into dst (widening dst as needed). */
void fp__hist_merge(fp__hist *dst, const fp__hist *src);
/* The public form: occupied bins only (leading/trailing empty bins dropped), lo/hi their
 * outer edges (clamped to the exact extremes), and the quantiles interpolated inside the
 * bin holding each rank. out->present stays false when nothing was counted. */
void fp__hist_export(const fp__hist *h, fp_hist_unit unit, fp_column_histogram *out);

/* ---- duplicate-row hash set (dupset.c) ----------------------------------------------- */

typedef struct fp__dupent {
  uint32_t lo, hi; /* the row hash; 0 = empty slot (callers never pass hash 0) */
  uint32_t row;    /* first row with this hash; 0 when it did not fit 32 bits */
} fp__dupent;

typedef struct fp__dupset {
  fp__dupent *e;
  size_t cap, n, max_entries;
  bool full; /* budget reached: new hashes are no longer stored */
} fp__dupset;

void fp__dupset_init(fp__dupset *s, size_t budget_bytes);
void fp__dupset_free(fp__dupset *s);
/* *earlier = row number of an earlier row with hash h (UINT32_MAX when unknown), or 0 when
 * h is new (then it is remembered, unless the set is full). h must not be 0. */
fp_err fp__dupset_check(fp__dupset *s, uint64_t h, uint64_t row, uint64_t *earlier);

static inline size_t fp__dupset_slot(uint64_t h, size_t cap) {
  return (size_t)(((unsigned __int128)h * cap) >> 64);
}

static inline void fp__dupset_prefetch(const fp__dupset *s, uint64_t h) {
  if (s->cap) __builtin_prefetch(&s->e[fp__dupset_slot(h, s->cap)]);
}

/* ---- record batches (rbatch.c) ------------------------------------------------------- */

/* A record's own fields, as fp_csv_record has them. */
typedef struct fp__rbrow {
  uint64_t index, byte_offset, bad_offset, raw_bytes;
  uint32_t flags;
} fp__rbrow;

/* Records copied out of the reader's buffer for other threads. Zero-initialise; arrays are
 * owned and kept across fp__rbatch_clear. Row r's cells are [row_start[r], row_start[r+1]):
 * text + off[k] for len[k] bytes; then either h[k] (rows added with hashes) or the cell's
 * flags cflags[k] and the record's fields rows[r] (rows added without: whole records, which
 * fp__rbatch_record gives back). */
typedef struct fp__rbatch {
  uint32_t nrows, ncells, rows_cap, cells_cap;
  uint32_t *row_start; /* nrows + 1 entries */
  fp__rbrow *rows;
  uint32_t *off, *len, *cflags;
  uint64_t *h;
  char *text;
  size_t text_len, text_cap;
} fp__rbatch;

/* Appends the record with its first m cells (all when m >= ncells); h: m cell hashes or
 * NULL. FP_ERR_NOMEM, or FP_ERR_LIMIT past 4 GiB of text or cells in one batch. */
fp_err fp__rbatch_add(fp__rbatch *b, const fp_csv_record *rec, uint32_t m, const uint64_t *h);
/* Row r as a record whose cells point into the batch; cells must hold its cell count. */
void fp__rbatch_record(const fp__rbatch *b, uint32_t r, fp_cell *cells, fp_csv_record *out);
void fp__rbatch_clear(fp__rbatch *b); /* empties, keeps the arrays */
void fp__rbatch_free(fp__rbatch *b);  /* frees the arrays, zeroes */

/* ---- findings (findings.c) ----------------------------------------------------------- */

/* True when fp_findings_add(code, field) would keep a sample; lets callers skip building
 * notes for findings that will only be counted. */
bool fp__findings_wants_sample(const fp_findings *f, const char *code, uint32_t field);

/* Collectors fed on different threads, merged at the end as if one collector had seen
 * every finding in the single-threaded order: per row, phase 0 (the profiler) before
 * phase 1 (the checker), and a consumer's finish after every row. Each group remembers
 * when it was first seen: (row, or "finishing" after fp__findings_finishing; the
 * collector's phase; its creation order). */
void fp__findings_finishing(fp_findings *f); /* later findings come from a finish step */
/* A new, empty collector with f's sample cap and severity overrides, in phase. Owned. */
fp_err fp__findings_new_like(const fp_findings *f, unsigned phase, fp_findings **out);
/* Moves src's findings into dst (src is left empty): counts add up, a group's samples are
 * the first sample_cap of both in (row, phase) order, its severity is the one of its first
 * finding, and groups are ordered by when they were first seen. Samples of a group found
 * in both collectors must have been added in row order (true for row findings; finish
 * steps add to groups of their own). The sample-bytes budget applies per collector before
 * the merge, so a merged collector may hold up to twice it. */
fp_err fp__findings_merge(fp_findings *dst, fp_findings *src);

/* ---- record queue (recq.c) ----------------------------------------------------------- */

/* One consumer thread calling fn on every record pushed, in order. fn's errors come back
 * from the next push or from finish, with fn's diagnostic. */
typedef fp_err (*fp__recq_fn)(void *ud, const fp_csv_record *rec, fp_diag *d);
typedef struct fp__recq fp__recq;
fp_err fp__recq_new(fp__recq_fn fn, void *ud, fp__recq **out); /* starts the thread; owned */
fp_err fp__recq_push(fp__recq *q, const fp_csv_record *rec, fp_diag *d); /* copies rec */
/* Waits until every record pushed was consumed and stops the thread; after it, whatever
 * fn wrote is visible to the caller. */
fp_err fp__recq_finish(fp__recq *q, fp_diag *d);
void fp__recq_free(fp__recq *q); /* NULL-safe; stops the thread without consuming the rest */

#endif
