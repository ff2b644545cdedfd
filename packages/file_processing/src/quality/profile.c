/* profile.c — the streaming profiler: header checks, row-level structural findings and one
 * fixed-size accumulator per column, fed one parsed record at a time.
 *
 * Per row (data_row): pass 1 hashes every cell with XXH3 (one hash per cell, shared by the
 * distinct set, the top-values counter and the row hash) and prefetches the table slots
 * pass 2 will touch; pass 2 runs profile_cell per cell: a missing-value test, a UTF-8
 * character count, a type classification only while the column's type is not yet settled
 * as string, one probe into the column's exact value table (or an HLL register update plus
 * a space-saving update once the column outgrew the exact bound), and the string min/max
 * compare for values not seen before. Nothing is allocated per cell: tables grow by
 * doubling and stop at their bounds.
 *
 * Memory per column is bounded by distinct_exact_limit (exact table of 16-byte entries at
 * load <= 3/4, plus at most ARENA_MAX bytes of value texts), then by the fixed sketches
 * (16 KiB HLL + 64 space-saving counters); all exact tables and arenas together by
 * exact_memory (a column that would pass it goes to its sketches early); per table by
 * dup_rows_memory (dupset.c).
 * Distinct counts are over 64-bit XXH3 hashes: two different values colliding would be
 * counted once, which for n values happens with probability about n^2 / 2^65 (3e-8 for a
 * million values) — "exact" means exact up to that. */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* Inline XXH3: short cells are the norm and a call through the shared library costs as much
 * as the hash itself. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "fp/fp_buf.h"
#include "fp/fp_profile.h"
#include "quality/quality_int.h"

#define DEFAULT_DISTINCT_LIMIT 10000
#define MAX_DISTINCT_LIMIT ((size_t)1 << 30)
#define DEFAULT_DUP_MEMORY ((size_t)64 << 20)
#define DEFAULT_EXACT_MEMORY ((size_t)256 << 20)
#define ARENA_MAX ((size_t)1 << 20) /* value texts kept for exact top values, per column */
#define NAME_MAX_BYTES 1024

#define TM_BOOL FP__TM(FP_TYPE_BOOLEAN)
#define TM_INT FP__TM(FP_TYPE_INTEGER)
#define TM_NUM FP__TM(FP_TYPE_NUMBER)
#define TM_TIME (FP__TM(FP_TYPE_DATE) | FP__TM(FP_TYPE_DATETIME))

/* One distinct value while the column is exact: 16 bytes, four to a cache line, since the
 * probe into this table is the one random memory access per cell. h == 0 marks an empty
 * slot (hashes are remapped to be non-zero). The text lives in the column's arena while top
 * values are exact: ref packs its offset (< ARENA_MAX = 2^20) and its length (<= 256). */
typedef struct xent {
  uint64_t h;
  uint32_t count; /* saturates: at UINT32_MAX - 1 the top values move to the sketch */
  uint32_t ref;
} xent;

#define REF(off, len) ((uint32_t)(off) | ((uint32_t)(len) << 20))
#define REF_OFF(r) ((r)&0xFFFFFu)
#define REF_LEN(r) ((r) >> 20)

typedef struct col {
  /* hot fields first */
  uint32_t mask; /* types every value so far fits (FP__TM_ALL before the first value) */
  bool distinct_exact, top_exact;
  uint64_t count, missing, nvals;
  uint64_t sum_len;
  uint32_t min_len, max_len;
  /* numeric accumulators, updated while NUMBER is still possible */
  uint64_t nfin; /* finite values in the Welford sums */
  double mean, m2;
  double dmin, dmax; /* over non-NaN values */
  bool have_d, have_i, saw_true, saw_false;
  int64_t imin, imax;
  /* byte-wise min/max, prefixes of at most FP__TEXT_MAX bytes */
  bool have_s;
  uint32_t smin_len, smax_len;
  char smin[FP__TEXT_MAX], smax[FP__TEXT_MAX];
  /* exact distinct values (and exact top counts while top_exact) */
  xent *xt;
  uint32_t xt_cap, xt_n;
  char *arena;
  size_t arena_len, arena_cap;
  /* distribution of numeric/date/datetime values, fed while the type allows one */
  fp__hist hist;
  /* sketches, allocated when the exact structures give up */
  fp__hll *hll;
  fp__ss *ss;
} col;

struct fp_profiler {
  fp_findings *findings;
  fp_severity sev;
  size_t distinct_limit;
  /* Bytes of exact tables and arenas over all columns, and their budget: the per-column
   * bounds alone allow ~1.3 MiB a column, 20 GiB at FP_MAX_COLUMNS, so a wide file of
   * distinct values could exhaust memory; past the budget a growing column goes to its
   * sketches instead (its counts become approximate, and say so). */
  _Atomic size_t exact_bytes; /* atomic: column threads grow their tables concurrently */
  size_t exact_budget;
  bool has_header, started, finished;
  /* missing values: copies; mv_empty_only is the common {""} fast path */
  char **mv;
  uint32_t *mv_len;
  size_t nmv;
  bool mv_empty_only;
  /* columns */
  uint32_t ncols;
  col *cols;
  fp_column_profile *out;
  /* per-row scratch: the cell hashes that make up the row hash */
  uint64_t *rowh;
  size_t rowh_cap;
  fp__dupset dup;
  fp_table_stats st;
  struct par *par; /* column threads; NULL when profiling on the caller's thread only */
};

static fp_err par_start(fp_profiler *p, unsigned threads, size_t batch_rows);
static fp_err par_stop(fp_profiler *p);

void fp_profile_opts_default(fp_profile_opts *o) {
  memset(o, 0, sizeof *o);
  o->missing_values = NULL;
  o->nmissing = 0;
  o->distinct_exact_limit = DEFAULT_DISTINCT_LIMIT;
  o->dup_rows_memory = DEFAULT_DUP_MEMORY;
  o->exact_memory = DEFAULT_EXACT_MEMORY;
  o->structural_severity = FP_SEV_ERROR;
}

static uint64_t hash_bytes(const char *s, size_t n) {
  uint64_t h = XXH3_64bits(s, n);
  return h + !h; /* 0 marks empty slots */
}

/* ---- construction ----------------------------------------------------------------------- */

static fp_err copy_missing(fp_profiler *p, const fp_profile_opts *o) {
  if (!o->missing_values) {
    p->mv_empty_only = true;
    return FP_OK;
  }
  p->nmv = o->nmissing;
  if (!p->nmv) return FP_OK; /* an explicit empty list: nothing is missing */
  p->mv = calloc(p->nmv, sizeof *p->mv);
  p->mv_len = calloc(p->nmv, sizeof *p->mv_len);
  if (!p->mv || !p->mv_len) return FP_ERR_NOMEM;
  for (size_t i = 0; i < p->nmv; i++) {
    const char *s = o->missing_values[i] ? o->missing_values[i] : "";
    size_t n = strlen(s);
    if (n > UINT32_MAX) return FP_ERR_INVAL;
    p->mv[i] = malloc(n + 1);
    if (!p->mv[i]) return FP_ERR_NOMEM;
    memcpy(p->mv[i], s, n + 1);
    p->mv_len[i] = (uint32_t)n;
  }
  p->mv_empty_only = p->nmv == 1 && p->mv_len[0] == 0;
  return FP_OK;
}

fp_err fp_profiler_new(const fp_profile_opts *o, bool has_header, fp_findings *findings,
                       fp_profiler **out, fp_diag *d) {
  if (!out || !findings) return fp_diag_set(d, FP_ERR_INVAL, "profiler: missing argument");
  *out = NULL;
  fp_profile_opts def;
  if (!o) {
    fp_profile_opts_default(&def);
    o = &def;
  }
  fp_profiler *p = calloc(1, sizeof *p);
  if (!p) return fp_diag_set(d, FP_ERR_NOMEM, "profiler: out of memory");
  p->findings = findings;
  p->has_header = has_header;
  p->sev = o->structural_severity;
  p->distinct_limit = o->distinct_exact_limit ? o->distinct_exact_limit : DEFAULT_DISTINCT_LIMIT;
  if (p->distinct_limit > MAX_DISTINCT_LIMIT) p->distinct_limit = MAX_DISTINCT_LIMIT;
  p->exact_budget = o->exact_memory ? o->exact_memory : DEFAULT_EXACT_MEMORY;
  size_t mem = o->dup_rows_memory ? o->dup_rows_memory : DEFAULT_DUP_MEMORY;
  fp__dupset_init(&p->dup, mem);
  p->st.duplicate_rows_exact = true;
  fp_err e = copy_missing(p, o);
  if (!e && o->threads > 1) e = par_start(p, o->threads > 256 ? 256 : o->threads, o->batch_rows);
  if (e) {
    fp_profiler_free(p);
    return fp_diag_set(d, e, "profiler: cannot set up (%s)", fp_err_name(e));
  }
  *out = p;
  return FP_OK;
}

static void col_free(col *c) {
  free(c->xt);
  free(c->arena);
  free(c->hll);
  free(c->ss);
}

void fp_profiler_free(fp_profiler *p) {
  if (!p) return;
  par_stop(p);
  for (uint32_t i = 0; i < p->ncols; i++) {
    col_free(&p->cols[i]);
    fp_column_profile *cp = &p->out[i];
    free(cp->name);
    free(cp->min);
    free(cp->max);
    for (size_t k = 0; k < cp->ntop; k++) free(cp->top[k].value);
  }
  free(p->cols);
  free(p->out);
  for (size_t i = 0; i < p->nmv; i++) free(p->mv ? p->mv[i] : NULL);
  free(p->mv);
  free(p->mv_len);
  free(p->rowh);
  fp__dupset_free(&p->dup);
  free(p);
}

/* ---- exact values, top values and their sketches ---------------------------------------- */

typedef struct ranked {
  uint64_t h, count;
  const char *text;
  uint32_t len;
} ranked;

static int ranked_cmp(const void *a, const void *b) {
  const ranked *x = a, *y = b;
  if (x->count != y->count) return x->count > y->count ? -1 : 1;
  return fp__text_cmp(x->text, x->len, y->text, y->len);
}

/* Exact entries ordered by count desc, then text asc; owned array (free), NULL on OOM. */
static ranked *rank_exact(const col *c) {
  ranked *r = malloc((c->xt_n ? c->xt_n : 1) * sizeof *r);
  if (!r) return NULL;
  size_t k = 0;
  for (uint32_t i = 0; i < c->xt_cap; i++) {
    const xent *x = &c->xt[i];
    if (!x->h) continue;
    r[k++] = (ranked){x->h, x->count, c->arena ? c->arena + REF_OFF(x->ref) : "", REF_LEN(x->ref)};
  }
  qsort(r, k, sizeof *r, ranked_cmp);
  return r;
}

/* Top values leave exact counting: the 64 most frequent values seed a space-saving sketch
 * with their exact counts (err 0); the arena is released. */
static fp_err top_to_sketch(fp_profiler *p, col *c) {
  fp__ss *ss = malloc(sizeof *ss);
  ranked *r = rank_exact(c);
  if (!ss || !r) {
    free(ss);
    free(r);
    return FP_ERR_NOMEM;
  }
  fp__ss_init(ss);
  for (uint32_t i = 0; i < c->xt_n && i < FP__SS_CAP; i++)
    fp__ss_add(ss, r[i].h, r[i].text, r[i].len, r[i].count);
  free(r);
  free(c->arena);
  p->exact_bytes -= c->arena_cap;
  c->arena = NULL;
  c->arena_len = c->arena_cap = 0;
  c->ss = ss;
  c->top_exact = false;
  return FP_OK;
}

/* Distinct leaves exact counting: the HLL is seeded with every hash seen so far. */
static fp_err distinct_to_hll(fp_profiler *p, col *c) {
  if (c->top_exact) {
    fp_err e = top_to_sketch(p, c);
    if (e) return e;
  }
  fp__hll *h = malloc(sizeof *h);
  if (!h) return FP_ERR_NOMEM;
  fp__hll_init(h);
  for (uint32_t i = 0; i < c->xt_cap; i++)
    if (c->xt[i].h) fp__hll_add(h, c->xt[i].h);
  free(c->xt);
  p->exact_bytes -= (size_t)c->xt_cap * sizeof(xent);
  c->xt = NULL;
  c->xt_cap = c->xt_n = 0;
  c->hll = h;
  c->distinct_exact = false;
  return FP_OK;
}

static fp_err xt_grow(fp_profiler *p, col *c) {
  uint32_t nc = c->xt_cap ? c->xt_cap * 2 : 16;
  xent *nt = calloc(nc, sizeof *nt);
  if (!nt) return FP_ERR_NOMEM;
  for (uint32_t i = 0; i < c->xt_cap; i++) {
    if (!c->xt[i].h) continue;
    uint32_t j = (uint32_t)c->xt[i].h & (nc - 1);
    while (nt[j].h) j = (j + 1) & (nc - 1);
    nt[j] = c->xt[i];
  }
  free(c->xt);
  p->exact_bytes += (size_t)(nc - c->xt_cap) * sizeof(xent);
  c->xt = nt;
  c->xt_cap = nc;
  return FP_OK;
}

/* Appends the value's text (cut to FP__TEXT_MAX on a character boundary) to the arena;
 * the caller checked that it fits under ARENA_MAX. */
/* The arena capacity that holds k more bytes (the current one when they fit). */
static size_t arena_next_cap(const col *c, size_t k) {
  if (c->arena_len + k <= c->arena_cap) return c->arena_cap;
  size_t nc = c->arena_cap ? c->arena_cap * 2 : 1024;
  while (nc < c->arena_len + k) nc *= 2;
  return nc > ARENA_MAX ? ARENA_MAX : nc;
}

static fp_err arena_put(fp_profiler *p, col *c, xent *x, const char *s, size_t k) {
  if (c->arena_len + k > c->arena_cap) {
    size_t nc = arena_next_cap(c, k);
    char *na = realloc(c->arena, nc);
    if (!na) return FP_ERR_NOMEM;
    p->exact_bytes += nc - c->arena_cap;
    c->arena = na;
    c->arena_cap = nc;
  }
  if (k) memcpy(c->arena + c->arena_len, s, k);
  x->ref = REF(c->arena_len, k);
  c->arena_len += k;
  return FP_OK;
}

/* Hot path while the column is exact: one probe. A hit bumps the count and sets *seen; a
 * new value is inserted unless it would exceed the exact bound, in which case the column
 * switches to HLL and the caller feeds the sketches. */
static fp_err exact_add(fp_profiler *p, col *c, uint64_t h, const char *s, size_t n,
                        bool *seen) {
  uint32_t mask = c->xt_cap - 1;
  uint32_t i = (uint32_t)h & mask;
  for (; c->xt[i].h; i = (i + 1) & mask) {
    if (c->xt[i].h == h) {
      *seen = true;
      if (!c->top_exact) return FP_OK; /* the table only serves distinct now */
      if (c->xt[i].count == UINT32_MAX - 1) return top_to_sketch(p, c); /* caller counts it */
      c->xt[i].count++;
      return FP_OK;
    }
  }
  if (c->xt_n + 1u > p->distinct_limit) return distinct_to_hll(p, c);
  if ((c->xt_n + 1u) * 4 > (uint64_t)c->xt_cap * 3) { /* load <= 3/4 */
    /* doubling would pass the table-wide budget: this column goes approximate */
    if (p->exact_bytes + (size_t)c->xt_cap * sizeof(xent) > p->exact_budget)
      return distinct_to_hll(p, c);
    fp_err e = xt_grow(p, c);
    if (e) return e;
    mask = c->xt_cap - 1;
    for (i = (uint32_t)h & mask; c->xt[i].h; i = (i + 1) & mask) {
    }
  }
  /* Texts for exact top values are bounded too: past ARENA_MAX the sketch takes over
   * (before this value is inserted, so the caller counts it in the sketch exactly once). */
  size_t k = fp__utf8_cut(s, n, FP__TEXT_MAX);
  if (c->top_exact && (c->arena_len + k > ARENA_MAX ||
                       p->exact_bytes + (arena_next_cap(c, k) - c->arena_cap) > p->exact_budget)) {
    fp_err e = top_to_sketch(p, c);
    if (e) return e;
  }
  xent *x = &c->xt[i];
  x->h = h;
  x->count = 1;
  x->ref = 0;
  c->xt_n++;
  return c->top_exact ? arena_put(p, c, x, s, k) : FP_OK;
}

/* ---- the per-cell hot path --------------------------------------------------------------- */

static inline bool is_missing(const fp_profiler *p, const char *s, uint32_t n) {
  if (p->mv_empty_only) return n == 0;
  for (size_t i = 0; i < p->nmv; i++)
    if (p->mv_len[i] == n && (n == 0 || !memcmp(p->mv[i], s, n))) return true;
  return false;
}

static void numeric_update(col *c, uint32_t cm, const fp__cellval *v) {
  if (cm & TM_INT) {
    if (!c->have_i || v->i < c->imin) c->imin = v->i;
    if (!c->have_i || v->i > c->imax) c->imax = v->i;
    c->have_i = true;
  }
  double x = v->d;
  if (isnan(x)) return;
  if (!c->have_d || x < c->dmin) c->dmin = x;
  if (!c->have_d || x > c->dmax) c->dmax = x;
  c->have_d = true;
  if (!isfinite(x)) return;
  /* Welford: numerically stable running mean and sum of squared deviations. */
  c->nfin++;
  double delta = x - c->mean;
  c->mean += delta / (double)c->nfin;
  c->m2 += delta * (x - c->mean);
}

/* Byte-wise three-way compare. The first byte, or else the first 8 bytes read as one
 * big-endian word, usually decide, so memcmp runs rarely. */
static inline int text_cmp(const char *a, size_t an, const char *b, size_t bn) {
  if (an && bn && a[0] != b[0]) return (unsigned char)a[0] < (unsigned char)b[0] ? -1 : 1;
  if (an >= 8 && bn >= 8) {
    uint64_t x, y;
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    if (x != y) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
      x = __builtin_bswap64(x);
      y = __builtin_bswap64(y);
#endif
      return x < y ? -1 : 1;
    }
  }
  return fp__text_cmp(a, an, b, bn);
}

static void text_minmax(col *c, const char *s, uint32_t n) {
  if (!c->have_s) {
    size_t k = fp__utf8_cut(s, n, FP__TEXT_MAX);
    memcpy(c->smin, s, k);
    memcpy(c->smax, s, k);
    c->smin_len = c->smax_len = (uint32_t)k;
    c->have_s = true;
    return;
  }
  if (text_cmp(s, n, c->smin, c->smin_len) < 0) {
    size_t k = fp__utf8_cut(s, n, FP__TEXT_MAX);
    memcpy(c->smin, s, k);
    c->smin_len = (uint32_t)k;
  }
  if (text_cmp(s, n, c->smax, c->smax_len) > 0) {
    size_t k = fp__utf8_cut(s, n, FP__TEXT_MAX);
    memcpy(c->smax, s, k);
    c->smax_len = (uint32_t)k;
  }
}

static fp_err profile_cell(fp_profiler *p, col *c, const char *s, uint32_t n, uint64_t h) {
  c->count++;
  if (is_missing(p, s, n)) {
    c->missing++;
    return FP_OK;
  }

  uint32_t chars = (uint32_t)fp__utf8_chars(s, n);
  if (!c->nvals || chars < c->min_len) c->min_len = chars;
  if (chars > c->max_len) c->max_len = chars;
  c->sum_len += chars;
  c->nvals++;

  /* Type lattice: skip classification entirely once the column can only be string. */
  if (c->mask != FP__TM_STRING) {
    fp__cellval v = {0, 0.0, false};
    uint32_t cm = fp__classify(s, n, &v);
    c->mask &= cm;
    if (c->mask & TM_NUM) {
      numeric_update(c, cm, &v);
      fp__hist_add(&c->hist, v.d);
    } else if (c->mask & TM_TIME) {
      fp__hist_add(&c->hist, v.d); /* days or seconds, set by the classifier */
    } else if (c->mask & TM_BOOL)
      *(v.b ? &c->saw_true : &c->saw_false) = true;
  }

  bool seen = false;
  if (c->distinct_exact) {
    if (!c->xt_cap) {
      fp_err e = xt_grow(p, c);
      if (e) return e;
    }
    fp_err e = exact_add(p, c, h, s, n, &seen);
    if (e) return e;
  }
  /* A value already in the exact table cannot move the min/max: compare new values only
   * (every value once the column went approximate). */
  if (!seen) text_minmax(c, s, n);
  if (!c->distinct_exact) fp__hll_add(c->hll, h);
  if (!c->top_exact) fp__ss_add(c->ss, h, s, n, 1);
  return FP_OK;
}

/* ---- column threads ------------------------------------------------------------------------
 *
 * Columns are independent accumulators, so they can be profiled on several threads without
 * merging anything: the caller's thread (which parses, and runs the checker after us) keeps
 * the table-level work and copies each row's cells and hashes into a batch; when the batch
 * is full it is handed to the helper threads, which take whole columns of it from a shared
 * counter, and the caller fills the other batch meanwhile. The next batch is handed over
 * only when every column of the previous one is done, so each column still sees its values
 * in row order and the result is the one-thread result, byte for byte. The caller helps
 * with the columns left when it has filled its batch. Memory: two batches of about
 * BATCH_BYTES (or one row, when a row is bigger). */

#define BATCH_BYTES ((size_t)256 << 10)
#define BATCH_ROWS_MAX 8192u

typedef struct batch {
  fp__rbatch rb;        /* the rows: first m cells and their hashes */
  atomic_uint next_col; /* the next column to take; >= ncols: all taken */
  uint32_t cols_done;   /* under par.mu */
} batch;

typedef struct par {
  pthread_mutex_t mu;
  pthread_cond_t work_cv, done_cv;
  pthread_t *tids;
  unsigned nthreads; /* helper threads started */
  batch b[2];
  unsigned fill;     /* the batch the caller fills */
  batch *active;     /* handed over and not yet waited for; NULL = none */
  uint64_t gen;      /* hand-overs so far, so a helper knows a batch is new */
  bool quit;
  atomic_int err;    /* first fp_err of a column thread */
  uint32_t batch_rows;
} par;

/* Column j of batch b, rows in order. */
static fp_err column_batch(fp_profiler *p, uint32_t j, const fp__rbatch *b) {
  col *c = &p->cols[j];
  for (uint32_t r = 0; r < b->nrows; r++) {
    uint32_t k = b->row_start[r] + j;
    if (k >= b->row_start[r + 1]) continue; /* a short row: the cell is absent */
    fp_err e = profile_cell(p, c, b->text + b->off[k], b->len[k], b->h[k]);
    if (e) return e;
  }
  return FP_OK;
}

/* Takes columns of b until none is left; the last one done wakes the caller. */
static void par_help(fp_profiler *p, batch *b) {
  par *q = p->par;
  uint32_t done = 0;
  for (;;) {
    uint32_t j = atomic_fetch_add(&b->next_col, 1u);
    if (j >= p->ncols) break;
    fp_err e = column_batch(p, j, &b->rb);
    if (e) {
      int none = FP_OK;
      atomic_compare_exchange_strong(&q->err, &none, (int)e);
    }
    done++;
  }
  if (!done) return;
  pthread_mutex_lock(&q->mu);
  b->cols_done += done;
  if (b->cols_done == p->ncols) pthread_cond_broadcast(&q->done_cv);
  pthread_mutex_unlock(&q->mu);
}

static void *par_thread(void *arg) {
  fp_profiler *p = arg;
  par *q = p->par;
  uint64_t seen = 0;
  pthread_mutex_lock(&q->mu);
  for (;;) {
    while (!q->quit && (q->gen == seen || !q->active)) pthread_cond_wait(&q->work_cv, &q->mu);
    if (q->quit) break;
    seen = q->gen;
    batch *b = q->active;
    pthread_mutex_unlock(&q->mu);
    par_help(p, b);
    pthread_mutex_lock(&q->mu);
  }
  pthread_mutex_unlock(&q->mu);
  return NULL;
}

/* Helps with the batch handed over last and waits until all its columns are done. */
static fp_err par_wait(fp_profiler *p) {
  par *q = p->par;
  batch *b = q->active;
  if (!b) return FP_OK;
  par_help(p, b);
  pthread_mutex_lock(&q->mu);
  while (b->cols_done < p->ncols) pthread_cond_wait(&q->done_cv, &q->mu);
  q->active = NULL;
  pthread_mutex_unlock(&q->mu);
  return (fp_err)atomic_load(&q->err);
}

/* Hands the filled batch over (after the previous one is done) and starts the other. */
static fp_err par_flush(fp_profiler *p) {
  par *q = p->par;
  batch *b = &q->b[q->fill];
  fp_err e = par_wait(p);
  if (e || !b->rb.nrows) return e;
  pthread_mutex_lock(&q->mu);
  atomic_store(&b->next_col, 0u);
  b->cols_done = 0;
  q->active = b;
  q->gen++;
  pthread_cond_broadcast(&q->work_cv);
  pthread_mutex_unlock(&q->mu);
  q->fill ^= 1u;
  fp__rbatch_clear(&q->b[q->fill].rb);
  return FP_OK;
}

/* Copies the first m cells of a data row and their hashes (p->rowh) into the batch being
 * filled; hands it over when full. */
static fp_err par_add_row(fp_profiler *p, const fp_csv_record *rec, uint32_t m) {
  par *q = p->par;
  fp__rbatch *b = &q->b[q->fill].rb;
  fp_err e = fp__rbatch_add(b, rec, m, p->rowh);
  if (e) return e;
  if (b->nrows >= q->batch_rows || b->text_len >= BATCH_BYTES) return par_flush(p);
  return FP_OK;
}

/* Stops and joins the helper threads (after the work handed over is done) and frees. */
static fp_err par_stop(fp_profiler *p) {
  par *q = p->par;
  if (!q) return FP_OK;
  fp_err e = par_wait(p);
  pthread_mutex_lock(&q->mu);
  q->quit = true;
  pthread_cond_broadcast(&q->work_cv);
  pthread_mutex_unlock(&q->mu);
  for (unsigned i = 0; i < q->nthreads; i++) pthread_join(q->tids[i], NULL);
  free(q->tids);
  fp__rbatch_free(&q->b[0].rb);
  fp__rbatch_free(&q->b[1].rb);
  pthread_mutex_destroy(&q->mu);
  pthread_cond_destroy(&q->work_cv);
  pthread_cond_destroy(&q->done_cv);
  free(q);
  p->par = NULL;
  return e;
}

static fp_err par_start(fp_profiler *p, unsigned threads, size_t batch_rows) {
  par *q = calloc(1, sizeof *q);
  if (!q) return FP_ERR_NOMEM;
  q->tids = calloc(threads - 1, sizeof *q->tids);
  if (!q->tids) {
    free(q);
    return FP_ERR_NOMEM;
  }
  q->batch_rows = batch_rows && batch_rows < BATCH_ROWS_MAX ? (uint32_t)batch_rows : BATCH_ROWS_MAX;
  atomic_init(&q->err, FP_OK);
  atomic_init(&q->b[0].next_col, 0u);
  atomic_init(&q->b[1].next_col, 0u);
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->work_cv, NULL);
  pthread_cond_init(&q->done_cv, NULL);
  p->par = q;
  for (unsigned i = 0; i + 1 < threads; i++) {
    if (pthread_create(&q->tids[i], NULL, par_thread, p) != 0) break;
    q->nthreads++;
  }
  if (q->nthreads) return FP_OK;
  par_stop(p); /* not even one helper: profile on the caller's thread */
  return FP_OK;
}

/* ---- table level ------------------------------------------------------------------------- */

static fp_err add_finding(fp_profiler *p, const char *code, fp_severity sev, uint64_t row,
                          uint32_t field, const char *name, const char *cell, size_t len,
                          const char *note, fp_diag *d) {
  fp_err e = fp_findings_add(p->findings, code, sev, row, field, name, cell, len, note);
  if (e) return fp_diag_set(d, e, "profiler: cannot record finding %s", code);
  return FP_OK;
}

static fp_err setup_columns(fp_profiler *p, uint32_t n, fp_diag *d) {
  p->cols = calloc(n ? n : 1, sizeof *p->cols);
  p->out = calloc(n ? n : 1, sizeof *p->out);
  if (!p->cols || !p->out) return fp_diag_set(d, FP_ERR_NOMEM, "profiler: out of memory");
  p->ncols = n; /* only now: free() walks ncols entries */
  p->st.columns = n;
  for (uint32_t i = 0; i < n; i++) {
    p->cols[i].mask = FP__TM_ALL;
    p->cols[i].distinct_exact = p->cols[i].top_exact = true;
    p->out[i].index = i + 1;
  }
  return FP_OK;
}

static char *field_n(uint32_t i) {
  char buf[24];
  snprintf(buf, sizeof buf, "field%" PRIu32, i);
  return fp__utf8_sanitize(buf, strlen(buf), sizeof buf, NULL);
}

static bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool blank_label(const fp_cell *c) {
  for (uint32_t i = 0; i < c->len; i++)
    if (!is_space(c->ptr[i])) return false;
  return true;
}

/* Frictionless header checks: blank-label for empty labels (the column is then named
 * "field<N>" as Frictionless' detector does), duplicate-label for a label equal to an
 * earlier non-blank one, with the earlier positions in the note. */
static fp_err header(fp_profiler *p, const fp_csv_record *rec, fp_diag *d) {
  fp_err e = setup_columns(p, rec->ncells, d);
  if (e) return e;
  uint64_t *lh = calloc(rec->ncells ? rec->ncells : 1, sizeof *lh);
  if (!lh) return fp_diag_set(d, FP_ERR_NOMEM, "profiler: out of memory");
  for (uint32_t i = 0; i < rec->ncells && !e; i++) {
    const fp_cell *c = &rec->cells[i];
    fp_column_profile *cp = &p->out[i];
    if (blank_label(c)) {
      cp->name = field_n(i + 1);
      if (!cp->name) break;
      e = add_finding(p, "blank-label", p->sev, rec->index, i + 1, cp->name, NULL, 0, NULL, d);
      continue;
    }
    cp->name = fp__utf8_sanitize(c->ptr, c->len, NAME_MAX_BYTES, NULL);
    if (!cp->name) break;
    lh[i] = hash_bytes(c->ptr, c->len);
    fp_buf note;
    fp_buf_init(&note, 512);
    bool dup = false;
    for (uint32_t j = 0; j < i; j++) {
      const fp_cell *o = &rec->cells[j];
      if (lh[j] != lh[i] || o->len != c->len || memcmp(o->ptr, c->ptr, c->len)) continue;
      /* A long position list is cut at the buffer bound; the first positions matter. */
      (void)fp_buf_appendf(&note, dup ? ", %" PRIu32 : "at position \"%" PRIu32, j + 1);
      dup = true;
    }
    if (dup) {
      (void)fp_buf_putc(&note, '"');
      e = add_finding(p, "duplicate-label", p->sev, rec->index, i + 1, cp->name, c->ptr, c->len,
                      note.data, d);
    }
    fp_buf_free(&note);
  }
  free(lh);
  if (e) return e;
  for (uint32_t i = 0; i < p->ncols; i++)
    if (!p->out[i].name) return fp_diag_set(d, FP_ERR_NOMEM, "profiler: out of memory");
  return FP_OK;
}

static fp_err record_flags(fp_profiler *p, const fp_csv_record *rec, fp_diag *d) {
  char note[96];
  if (rec->flags & (FP_REC_INVALID_UTF8 | FP_REC_HAS_NUL)) {
    p->st.encoding_errors++;
    snprintf(note, sizeof note, "%s at byte offset %" PRIu64,
             (rec->flags & FP_REC_INVALID_UTF8) ? "invalid UTF-8" : "NUL byte", rec->bad_offset);
    fp_err e = add_finding(p, "encoding-error", p->sev, rec->index, 0, NULL, NULL, 0, note, d);
    if (e) return e;
  }
  if (rec->flags & FP_REC_UNTERMINATED) {
    snprintf(note, sizeof note,
             "unterminated quoted field at EOF (record at byte offset %" PRIu64 ")",
             rec->byte_offset);
    fp_err e = add_finding(p, "source-error", p->sev, rec->index, 0, NULL, NULL, 0, note, d);
    if (e) return e;
  }
  return FP_OK;
}

/* extra-cell per cell beyond the header, missing-cell per absent field. The note is only
 * formatted when some finding will keep a sample. */
static fp_err size_errors(fp_profiler *p, const fp_csv_record *rec, fp_diag *d) {
  uint32_t n = rec->ncells, nc = p->ncols;
  bool extra = n > nc;
  const char *code = extra ? "extra-cell" : "missing-cell";
  char note[80];
  bool have_note = false;
  if (extra)
    p->st.rows_too_many++;
  else
    p->st.rows_too_few++;
  for (uint32_t i = extra ? nc : n; i < (extra ? n : nc); i++) {
    const char *nt = NULL;
    if (fp__findings_wants_sample(p->findings, code, i + 1)) {
      if (!have_note)
        snprintf(note, sizeof note, "row has %" PRIu32 " cells, header has %" PRIu32, n, nc);
      have_note = true;
      nt = note;
    }
    const fp_cell *c = extra ? &rec->cells[i] : NULL;
    fp_err e = add_finding(p, code, p->sev, rec->index, i + 1, extra ? NULL : p->out[i].name,
                           c ? c->ptr : NULL, c ? c->len : 0, nt, d);
    if (e) return e;
  }
  return FP_OK;
}

/* Pass 1 of the one-thread path: one hash per cell (into p->rowh), shared by the column
 * profile and the row hash, and a prefetch of the slot each column will probe. Exact
 * tables of high-cardinality columns do not fit in cache; prefetching lets the misses of
 * all columns overlap instead of being paid one after another in pass 2. The row hash is
 * XXH3 over the cell hashes (each covers exactly one cell, and their count is part of the
 * input length, so ["a,b"] and ["a","b"] differ). */
static fp_err cell_hashes(fp_profiler *p, const fp_csv_record *rec, uint32_t m, uint64_t *rh) {
  uint32_t n = rec->ncells;
  if (n > p->rowh_cap) {
    uint64_t *nr = realloc(p->rowh, (size_t)n * sizeof *nr);
    if (!nr) return FP_ERR_NOMEM;
    p->rowh = nr;
    p->rowh_cap = n;
  }
  for (uint32_t i = 0; i < n; i++) {
    uint64_t h = hash_bytes(rec->cells[i].ptr, rec->cells[i].len);
    p->rowh[i] = h;
    if (i < m && !p->par) {
      const col *c = &p->cols[i];
      if (c->distinct_exact && c->xt_cap)
        __builtin_prefetch(&c->xt[(uint32_t)h & (c->xt_cap - 1)]);
      else if (!c->distinct_exact)
        __builtin_prefetch(&c->hll->reg[h >> (64 - FP__HLL_P)]);
    }
  }
  *rh = XXH3_64bits(p->rowh, (size_t)n * sizeof *p->rowh);
  return FP_OK;
}

static fp_err data_row(fp_profiler *p, const fp_csv_record *rec, fp_diag *d) {
  uint32_t n = rec->ncells, m = n < p->ncols ? n : p->ncols;
  p->st.rows++;

  /* Frictionless' blank row: every field's cell is a missing value (absent cells count as
   * missing; cells beyond the header are not looked at). Usually the first cell decides. */
  bool blank = true;
  for (uint32_t i = 0; i < m && blank; i++)
    blank = is_missing(p, rec->cells[i].ptr, rec->cells[i].len);
  if (blank) {
    p->st.blank_rows++;
    return add_finding(p, "blank-row", p->sev, rec->index, 0, NULL, NULL, 0, NULL, d);
  }

  uint64_t rh;
  fp_err e = cell_hashes(p, rec, m, &rh);
  if (e) return fp_diag_set(d, e, "profiler: out of memory");
  rh += !rh;
  fp__dupset_prefetch(&p->dup, rh); /* lands while pass 2 runs */
  if (p->par) { /* pass 2 on the column threads */
    e = par_add_row(p, rec, m);
  } else { /* pass 2: the column accumulators */
    for (uint32_t i = 0; i < m && !e; i++)
      e = profile_cell(p, &p->cols[i], rec->cells[i].ptr, rec->cells[i].len, p->rowh[i]);
  }
  if (e) return fp_diag_set(d, e, "profiler: %s", e == FP_ERR_NOMEM ? "out of memory" : fp_err_name(e));
  if (n != p->ncols && (e = size_errors(p, rec, d))) return e;

  uint64_t earlier;
  e = fp__dupset_check(&p->dup, rh, rec->index, &earlier);
  if (e) return fp_diag_set(d, e, "profiler: out of memory");
  if (p->dup.full) p->st.duplicate_rows_exact = false;
  if (earlier) {
    p->st.duplicate_rows++;
    char note[64] = "";
    if (earlier != UINT32_MAX)
      snprintf(note, sizeof note, "the same as row at position \"%" PRIu64 "\"", earlier);
    e = add_finding(p, "duplicate-row", FP_SEV_WARNING, rec->index, 0, NULL, NULL, 0,
                    note[0] ? note : NULL, d);
  }
  return e;
}

fp_err fp_profiler_record(void *profiler, const fp_csv_record *rec, fp_diag *d) {
  fp_profiler *p = profiler;
  if (!p || !rec) return fp_diag_set(d, FP_ERR_INVAL, "profiler: missing argument");
  if (p->finished) return fp_diag_set(d, FP_ERR_INVAL, "profiler: record after finish");
  fp_err e = record_flags(p, rec, d);
  if (e) return e;
  if (!p->started) {
    p->started = true;
    if (p->has_header) return header(p, rec, d);
    e = setup_columns(p, rec->ncells, d);
    if (e) return e;
    for (uint32_t i = 0; i < p->ncols; i++)
      if (!(p->out[i].name = field_n(i + 1)))
        return fp_diag_set(d, FP_ERR_NOMEM, "profiler: out of memory");
  }
  return data_row(p, rec, d);
}

/* ---- finish -------------------------------------------------------------------------------- */

static char *dup_text(const char *s, size_t n) {
  return fp__utf8_sanitize(s, n, FP__TEXT_MAX, NULL);
}

static char *dup_cstr(const char *s) {
  return dup_text(s, strlen(s));
}

static fp_err render_minmax(const col *c, fp_column_profile *cp) {
  char a[40], b[40];
  switch (cp->type) {
    case FP_TYPE_EMPTY: return FP_OK;
    case FP_TYPE_BOOLEAN:
      cp->min = dup_cstr(c->saw_false ? "false" : "true");
      cp->max = dup_cstr(c->saw_true ? "true" : "false");
      break;
    case FP_TYPE_INTEGER:
      snprintf(a, sizeof a, "%" PRId64, c->imin);
      snprintf(b, sizeof b, "%" PRId64, c->imax);
      cp->min = dup_cstr(a);
      cp->max = dup_cstr(b);
      break;
    case FP_TYPE_NUMBER:
      if (c->have_d) {
        fp__format_double(c->dmin, a, sizeof a);
        fp__format_double(c->dmax, b, sizeof b);
      } else { /* every value was NaN */
        snprintf(a, sizeof a, "NaN");
        snprintf(b, sizeof b, "NaN");
      }
      cp->min = dup_cstr(a);
      cp->max = dup_cstr(b);
      break;
    default: /* date, datetime (ISO text orders chronologically) and string: byte order */
      cp->min = dup_text(c->smin, c->smin_len);
      cp->max = dup_text(c->smax, c->smax_len);
      break;
  }
  return (cp->min && cp->max) ? FP_OK : FP_ERR_NOMEM;
}

static fp_err render_top(const col *c, fp_column_profile *cp) {
  if (c->top_exact) {
    if (!c->xt_n) return FP_OK;
    ranked *r = rank_exact(c);
    if (!r) return FP_ERR_NOMEM;
    for (uint32_t i = 0; i < c->xt_n && cp->ntop < FP_TOPK; i++) {
      cp->top[cp->ntop].count = r[i].count;
      if (!(cp->top[cp->ntop].value = dup_text(r[i].text, r[i].len))) break;
      cp->ntop++;
    }
    free(r);
    return cp->ntop == (c->xt_n < FP_TOPK ? c->xt_n : FP_TOPK) ? FP_OK : FP_ERR_NOMEM;
  }
  fp__ss_item it[FP_TOPK];
  size_t k = fp__ss_top(c->ss, it, FP_TOPK);
  cp->top_approx = true;
  for (size_t i = 0; i < k; i++) {
    cp->top[i].count = it[i].count;
    if (!(cp->top[i].value = dup_text(it[i].text, it[i].len))) return FP_ERR_NOMEM;
    cp->ntop = i + 1;
  }
  return FP_OK;
}

static fp_err finish_column(const col *c, fp_column_profile *cp) {
  cp->count = c->count;
  cp->missing = c->missing;
  cp->type = fp__type_of_mask(c->mask);
  fp_err e = render_minmax(c, cp);
  if (e) return e;
  if ((cp->type == FP_TYPE_INTEGER || cp->type == FP_TYPE_NUMBER) && c->nfin) {
    cp->has_mean = true;
    cp->mean = c->mean;
    cp->stddev = c->nfin > 1 ? sqrt(c->m2 / (double)(c->nfin - 1)) : 0.0;
  }
  if (c->distinct_exact) {
    cp->distinct = c->xt_n;
  } else {
    cp->distinct = (uint64_t)llround(fp__hll_estimate(c->hll));
    cp->distinct_approx = true;
  }
  cp->min_len = c->min_len;
  cp->max_len = c->max_len;
  cp->mean_len = c->nvals ? (double)c->sum_len / (double)c->nvals : 0.0;
  if (cp->type == FP_TYPE_INTEGER || cp->type == FP_TYPE_NUMBER)
    fp__hist_export(&c->hist, FP_HIST_NUMBER, &cp->hist);
  else if (cp->type == FP_TYPE_DATE)
    fp__hist_export(&c->hist, FP_HIST_DAY, &cp->hist);
  else if (cp->type == FP_TYPE_DATETIME)
    fp__hist_export(&c->hist, FP_HIST_SECOND, &cp->hist);
  return render_top(c, cp);
}

fp_err fp_profiler_finish(fp_profiler *p, uint64_t bytes, fp_diag *d) {
  if (!p) return fp_diag_set(d, FP_ERR_INVAL, "profiler: missing argument");
  if (p->finished) return fp_diag_set(d, FP_ERR_INVAL, "profiler: finish called twice");
  p->finished = true;
  p->st.bytes = bytes;
  if (p->par) {
    fp_err e = par_flush(p);
    fp_err e2 = par_stop(p);
    if (e || e2) return fp_diag_set(d, e ? e : e2, "profiler: column threads: %s",
                                    fp_err_name(e ? e : e2));
  }
  for (uint32_t i = 0; i < p->ncols; i++) {
    fp_err e = finish_column(&p->cols[i], &p->out[i]);
    if (e) return fp_diag_set(d, e, "profiler: out of memory");
  }
  return FP_OK;
}

const fp_table_stats *fp_profiler_table(const fp_profiler *p) {
  return p ? &p->st : NULL;
}

size_t fp_profiler_ncolumns(const fp_profiler *p) {
  return p ? p->ncols : 0;
}

const fp_column_profile *fp_profiler_column(const fp_profiler *p, size_t i) {
  if (!p || !p->finished || i >= p->ncols) return NULL;
  return &p->out[i];
}
