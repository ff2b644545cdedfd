/* uniq.c — exact uniqueness within a memory budget: an in-memory hash table whose hits are
 * verified against the stored keys, then sorted runs on disk merged at finish. The design
 * and the collision argument are in uniq.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "quality/uniq.h"

#define DEFAULT_MEMORY ((size_t)256 << 20)
#define INITIAL_SLOTS 1024
#define HUGE_MIN ((size_t)2 << 20) /* from this size on: mmap, huge pages requested */
#define HDR 20       /* run record header: hash u64, row u64, len u32; the key follows */
#define ARENA_HDR 12 /* arena record header: row u64, len u32; the key follows */

/* ---- records ------------------------------------------------------------------------ */

typedef struct rec {
  uint64_t h, row; /* in the dup stream, h holds the first row */
  uint32_t len;
  const char *key;
} rec;

static void put_hdr(char *p, uint64_t h, uint64_t row, uint32_t len) {
  memcpy(p, &h, 8);
  memcpy(p + 8, &row, 8);
  memcpy(p + 16, &len, 4);
}

static rec get_rec(const char *p) {
  rec r;
  memcpy(&r.h, p, 8);
  memcpy(&r.row, p + 8, 8);
  memcpy(&r.len, p + 16, 4);
  r.key = p + HDR;
  return r;
}

/* BY_VALUE groups equal keys (hash, length, bytes) with the smallest row first; BY_ROW is
 * the order duplicates are reported in: row, then key bytes. */
typedef enum order { BY_VALUE, BY_ROW } order;

static int u64_cmp(uint64_t a, uint64_t b) {
  return a < b ? -1 : a > b;
}

static int rec_cmp(order o, const rec *a, const rec *b) {
  int c;
  if (o == BY_VALUE) {
    if ((c = u64_cmp(a->h, b->h))) return c;
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    if (a->len && (c = memcmp(a->key, b->key, a->len))) return c;
    return u64_cmp(a->row, b->row);
  }
  if ((c = u64_cmp(a->row, b->row))) return c;
  uint32_t m = a->len < b->len ? a->len : b->len;
  if (m && (c = memcmp(a->key, b->key, m))) return c;
  if (a->len != b->len) return a->len < b->len ? -1 : 1;
  return u64_cmp(a->h, b->h);
}

/* ---- temporary files ---------------------------------------------------------------- */

typedef struct tfile {
  int fd; /* -1 = not open */
  uint64_t size;
} tfile;

typedef struct run {
  uint64_t off, len;
} run;

/* ---- the set ------------------------------------------------------------------------ */

/* A table slot, and the sort entry of a chunk: a 64-bit sort key (the hash; the row in
 * the dup stream) next to where the record lives, so sorting mostly compares keys without
 * touching the records. */
typedef struct ent {
  uint64_t k;   /* table: the hash, 0 = empty (hashes are remapped to be non-zero) */
  uint64_t off; /* table: block index << 32 | offset in block; chunk: offset in buf */
} ent;
typedef ent slot;

typedef struct sorter {
  order ord;
  size_t limit; /* bytes for the chunk (records from the front, offsets from the back) */
  char *buf;
  size_t cap, blen, n;
  char *wbuf; /* run writer */
  size_t wlen;
  tfile f[2]; /* runs live in f[cur]; merge passes write to the other */
  int cur;
  run *runs;
  size_t nruns, rcap;
} sorter;

struct fp__uniq {
  fp__uniq_hash_fn hash;
  size_t budget, io; /* io: size of one read or write buffer */
  size_t mem, peak;
  uint64_t spill_bytes;
  char *dir;
  bool spilled, finished;
  /* in memory */
  slot *tab;
  size_t cap, n;
  char **blk; /* arena blocks; a record never spans two */
  size_t *blk_sz;
  size_t nblk, blk_cap, blk_used; /* blk_used: bytes used in the last block */
  size_t blk_size, last_size;     /* usual block size; size of the last block */
  size_t arena;                   /* bytes of all blocks */
  /* spilled */
  sorter vals, dups;
};

static void mem_add(fp__uniq *u, size_t n) {
  u->mem += n;
  if (u->mem > u->peak) u->peak = u->mem;
}

static void mem_sub(fp__uniq *u, size_t n) {
  u->mem -= n;
}

/* Zeroed memory for the table and the arena. Large blocks come from mmap with transparent
 * huge pages requested: the table is probed at random, and 2 MiB pages cut both the TLB
 * misses of those probes and the page faults of first touch (costly under virtualisation)
 * by a factor of 512. */
static size_t page_round(size_t n) {
  return (n + 4095) & ~(size_t)4095;
}

static void *big_alloc(size_t n) {
  if (n < HUGE_MIN) return calloc(1, n);
  n = page_round(n);
  /* map HUGE_MIN more and trim, so the block starts on a huge page boundary */
  char *raw = mmap(NULL, n + HUGE_MIN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return NULL;
  uintptr_t a = ((uintptr_t)raw + HUGE_MIN - 1) & ~(uintptr_t)(HUGE_MIN - 1);
  size_t head = (size_t)(a - (uintptr_t)raw);
  if (head) munmap(raw, head);
  if (HUGE_MIN - head) munmap((char *)a + n, HUGE_MIN - head);
#ifdef MADV_HUGEPAGE
  (void)madvise((void *)a, n, MADV_HUGEPAGE);
#endif
  return (void *)a;
}

static void big_free(void *p, size_t n) {
  if (!p) return;
  if (n < HUGE_MIN)
    free(p);
  else
    munmap(p, page_round(n));
}

/* The spill files are unlinked at creation, so the message names their directory: that is
 * what an operator must free up or point FP_SPILL_DIR away from. */
static fp_err io_error(const fp__uniq *u, fp_diag *d, const char *what) {
  int e = errno;
  if (d && !d->code) d->sys_errno = e;
  return fp_diag_set(d, FP_ERR_IO, "uniqueness check: %s in %s: %s", what, u->dir, strerror(e));
}

static fp_err tfile_open(fp__uniq *u, tfile *t, fp_diag *d) {
  char path[4096];
  int n = snprintf(path, sizeof path, "%s/fp-uniq-XXXXXX", u->dir);
  if (n < 0 || (size_t)n >= sizeof path)
    return fp_diag_set(d, FP_ERR_CONFIG, "uniqueness check: spill directory path too long");
  int fd = mkostemp(path, O_CLOEXEC);
  if (fd < 0) {
    fp_diag_key(d, u->dir);
    return io_error(u, d, "cannot create a spill file");
  }
  unlink(path); /* removed now: the descriptor keeps the data until close */
  t->fd = fd;
  t->size = 0;
  return FP_OK;
}

static void tfile_close(tfile *t) {
  if (t->fd >= 0) close(t->fd);
  t->fd = -1;
  t->size = 0;
}

static fp_err tfile_truncate(const fp__uniq *u, tfile *t, fp_diag *d) {
  if (t->fd >= 0 && ftruncate(t->fd, 0) != 0) return io_error(u, d, "truncating a spill file");
  t->size = 0;
  return FP_OK;
}

static fp_err write_at(fp__uniq *u, tfile *t, const char *p, size_t n, fp_diag *d) {
  while (n) {
    ssize_t w = pwrite(t->fd, p, n, (off_t)t->size);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return io_error(u, d, "writing a spill file");
    p += w;
    n -= (size_t)w;
    t->size += (uint64_t)w;
    u->spill_bytes += (uint64_t)w;
  }
  return FP_OK;
}

/* ---- sorting entries in place ------------------------------------------------------- */

/* Introsort over ent: the 64-bit keys decide, records are compared (tie) only when keys
 * are equal. In place (no hidden buffer next to the budget), O(log n) stack, heapsort
 * when partitioning goes badly, insertion sort for short ranges. */
typedef int (*tie_fn)(const void *ctx, const ent *a, const ent *b);

typedef struct esort {
  tie_fn tie;
  const void *ctx;
} esort;

static int ent_cmp(const esort *es, const ent *a, const ent *b) {
  if (a->k != b->k) return a->k < b->k ? -1 : 1;
  return es->tie(es->ctx, a, b);
}

static void ent_swap(ent *a, ent *b) {
  ent t = *a;
  *a = *b;
  *b = t;
}

static void sift(const esort *es, ent *a, size_t i, size_t n) {
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) return;
    if (c + 1 < n && ent_cmp(es, &a[c], &a[c + 1]) < 0) c++;
    if (ent_cmp(es, &a[i], &a[c]) >= 0) return;
    ent_swap(&a[i], &a[c]);
    i = c;
  }
}

static void heap_sort(const esort *es, ent *a, size_t n) {
  for (size_t i = n / 2; i-- > 0;) sift(es, a, i, n);
  for (size_t i = n; i-- > 1;) {
    ent_swap(&a[0], &a[i]);
    sift(es, a, 0, i);
  }
}

static void intro_sort(const esort *es, ent *a, size_t n, int depth) {
  while (n > 16) {
    if (depth-- == 0) {
      heap_sort(es, a, n);
      return;
    }
    /* median of three to a[0], then Hoare partition around it */
    size_t m = n / 2;
    if (ent_cmp(es, &a[m], &a[0]) < 0) ent_swap(&a[m], &a[0]);
    if (ent_cmp(es, &a[n - 1], &a[0]) < 0) ent_swap(&a[n - 1], &a[0]);
    if (ent_cmp(es, &a[n - 1], &a[m]) < 0) ent_swap(&a[n - 1], &a[m]);
    ent_swap(&a[0], &a[m]);
    ent pivot = a[0];
    size_t i = 0, j = n;
    for (;;) {
      do i++;
      while (i < n && ent_cmp(es, &a[i], &pivot) < 0);
      do j--;
      while (ent_cmp(es, &a[j], &pivot) > 0);
      if (i >= j) break;
      ent_swap(&a[i], &a[j]);
    }
    ent_swap(&a[0], &a[j]);
    /* recurse into the smaller side, loop on the larger */
    if (j < n - j - 1) {
      intro_sort(es, a, j, depth);
      a += j + 1;
      n -= j + 1;
    } else {
      intro_sort(es, a + j + 1, n - j - 1, depth);
      n = j;
    }
  }
  for (size_t i = 1; i < n; i++)
    for (size_t j = i; j > 0 && ent_cmp(es, &a[j - 1], &a[j]) > 0; j--) ent_swap(&a[j - 1], &a[j]);
}

static void sort_ents(tie_fn tie, const void *ctx, ent *a, size_t n) {
  esort es = {tie, ctx};
  int depth = 0;
  for (size_t m = n; m; m >>= 1) depth += 2;
  intro_sort(&es, a, n, depth);
}

/* ---- sorted runs -------------------------------------------------------------------- */

static void sorter_init(sorter *s, order o, size_t limit) {
  memset(s, 0, sizeof *s);
  s->ord = o;
  s->limit = limit;
  s->f[0].fd = s->f[1].fd = -1;
}

static void sorter_drop_chunk(fp__uniq *u, sorter *s) {
  if (s->buf) mem_sub(u, s->cap);
  free(s->buf);
  s->buf = NULL;
  s->cap = s->blen = s->n = 0;
}

static void sorter_drop_writer(fp__uniq *u, sorter *s) {
  if (s->wbuf) mem_sub(u, u->io);
  free(s->wbuf);
  s->wbuf = NULL;
  s->wlen = 0;
}

static void sorter_free(fp__uniq *u, sorter *s) {
  sorter_drop_chunk(u, s);
  sorter_drop_writer(u, s);
  tfile_close(&s->f[0]);
  tfile_close(&s->f[1]);
  free(s->runs);
  s->runs = NULL;
  s->nruns = s->rcap = 0;
}

static fp_err w_flush(fp__uniq *u, sorter *s, tfile *t, fp_diag *d) {
  fp_err e = s->wlen ? write_at(u, t, s->wbuf, s->wlen, d) : FP_OK;
  s->wlen = 0;
  return e;
}

static fp_err w_put(fp__uniq *u, sorter *s, tfile *t, const char *p, size_t n, fp_diag *d) {
  if (!s->wbuf) {
    if (!(s->wbuf = malloc(u->io)))
      return fp_diag_set(d, FP_ERR_NOMEM, "uniqueness check: out of memory");
    mem_add(u, u->io);
  }
  if (s->wlen + n > u->io) {
    fp_err e = w_flush(u, s, t, d);
    if (e) return e;
    if (n > u->io) return write_at(u, t, p, n, d);
  }
  memcpy(s->wbuf + s->wlen, p, n);
  s->wlen += n;
  return FP_OK;
}

static fp_err w_rec(fp__uniq *u, sorter *s, tfile *t, const rec *r, fp_diag *d) {
  char hdr[HDR];
  put_hdr(hdr, r->h, r->row, r->len);
  fp_err e = w_put(u, s, t, hdr, HDR, d);
  return e ? e : w_put(u, s, t, r->key, r->len, d);
}

static fp_err add_run(sorter *s, uint64_t off, uint64_t len, fp_diag *d) {
  if (s->nruns == s->rcap) {
    size_t nc = s->rcap ? s->rcap * 2 : 16;
    run *nr = realloc(s->runs, nc * sizeof *nr);
    if (!nr) return fp_diag_set(d, FP_ERR_NOMEM, "uniqueness check: out of memory");
    s->runs = nr;
    s->rcap = nc;
  }
  s->runs[s->nruns++] = (run){off, len};
  return FP_OK;
}

static fp_err ensure_file(fp__uniq *u, tfile *t, fp_diag *d) {
  return t->fd >= 0 ? FP_OK : tfile_open(u, t, d);
}

static ent *chunk_idx(const sorter *s) {
  return (ent *)(void *)(s->buf + s->cap - s->n * sizeof(ent));
}

static int chunk_tie(const void *ctx, const ent *a, const ent *b) {
  const sorter *s = ctx;
  rec x = get_rec(s->buf + a->off), y = get_rec(s->buf + b->off);
  return rec_cmp(s->ord, &x, &y);
}

static void chunk_sort(sorter *s) {
  if (!s->n) return;
  sort_ents(chunk_tie, s, chunk_idx(s), s->n);
}

/* Sorts the chunk and appends it to f[cur] as one run; the chunk is emptied (kept). */
static fp_err flush_chunk(fp__uniq *u, sorter *s, fp_diag *d) {
  if (!s->n) return FP_OK;
  tfile *t = &s->f[s->cur];
  fp_err e = ensure_file(u, t, d);
  if (e) return e;
  chunk_sort(s);
  uint64_t start = t->size;
  const ent *idx = chunk_idx(s);
  for (size_t i = 0; i < s->n && !e; i++) {
    rec r = get_rec(s->buf + idx[i].off);
    e = w_put(u, s, t, s->buf + idx[i].off, HDR + (size_t)r.len, d);
  }
  if (!e) e = w_flush(u, s, t, d);
  if (!e) e = add_run(s, start, t->size - start, d);
  s->blen = s->n = 0;
  return e;
}

/* The chunk is only used once the data outgrew the budget, so it is allocated at its
 * limit at once (no growth, no copy); a single record larger than that gets its size. */
static fp_err chunk_alloc(fp__uniq *u, sorter *s, size_t need, fp_diag *d) {
  size_t nc = s->limit > need ? s->limit : need;
  nc = (nc + 15) & ~(size_t)15;
  char *nb = realloc(s->buf, nc);
  if (!nb) return fp_diag_set(d, FP_ERR_NOMEM, "uniqueness check: out of memory");
  mem_add(u, nc);
  mem_sub(u, s->cap);
  s->buf = nb;
  s->cap = nc;
  return FP_OK;
}

static fp_err sorter_add(fp__uniq *u, sorter *s, const rec *r, fp_diag *d) {
  size_t need = HDR + (size_t)r->len + sizeof(ent);
  fp_err e = FP_OK;
  if (s->blen + s->n * sizeof(ent) + need > s->cap) {
    if (s->n) e = flush_chunk(u, s, d); /* full: write it as a run */
    if (!e && need > s->cap) e = chunk_alloc(u, s, need, d);
    if (e) return e;
  }
  put_hdr(s->buf + s->blen, r->h, r->row, r->len);
  if (r->len) memcpy(s->buf + s->blen + HDR, r->key, r->len);
  s->n++;
  chunk_idx(s)[0] = (ent){s->ord == BY_VALUE ? r->h : r->row, s->blen};
  s->blen += HDR + (size_t)r->len;
  return FP_OK;
}

/* ---- merging ------------------------------------------------------------------------ */

typedef struct reader {
  int fd;
  uint64_t pos, end;
  char *buf;
  size_t cap, lo, hi;
  rec cur;
} reader;

static fp_err rd_fill(fp__uniq *u, reader *r, size_t need, fp_diag *d) {
  if (r->hi - r->lo >= need) return FP_OK;
  if (r->lo) {
    memmove(r->buf, r->buf + r->lo, r->hi - r->lo);
    r->hi -= r->lo;
    r->lo = 0;
  }
  if (need > r->cap) { /* a key longer than the I/O buffer */
    char *nb = realloc(r->buf, need);
    if (!nb) return fp_diag_set(d, FP_ERR_NOMEM, "uniqueness check: out of memory");
    mem_add(u, need - r->cap);
    r->buf = nb;
    r->cap = need;
  }
  while (r->hi < need) {
    size_t want = r->cap - r->hi;
    if (want > r->end - r->pos) want = (size_t)(r->end - r->pos);
    if (!want) return fp_diag_set(d, FP_ERR_INTERNAL, "uniqueness check: truncated spill run");
    ssize_t n = pread(r->fd, r->buf + r->hi, want, (off_t)r->pos);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return n < 0 ? io_error(u, d, "reading a spill file")
                   : fp_diag_set(d, FP_ERR_IO, "uniqueness check: spill file shrank");
    r->hi += (size_t)n;
    r->pos += (uint64_t)n;
  }
  return FP_OK;
}

/* Loads the next record into r->cur; *more = false at the end of the run. */
static fp_err rd_next(fp__uniq *u, reader *r, bool *more, fp_diag *d) {
  *more = r->lo < r->hi || r->pos < r->end;
  if (!*more) return FP_OK;
  fp_err e = rd_fill(u, r, HDR, d);
  if (e) return e;
  uint32_t len;
  memcpy(&len, r->buf + r->lo + 16, 4);
  if ((e = rd_fill(u, r, HDR + (size_t)len, d))) return e;
  r->cur = get_rec(r->buf + r->lo);
  r->lo += HDR + (size_t)len;
  return FP_OK;
}

typedef fp_err (*rec_fn)(fp__uniq *u, void *ud, const rec *r, fp_diag *d);

typedef struct merge {
  reader *rd;
  size_t *heap; /* reader indexes, min-heap by current record */
  size_t n;
  order ord;
} merge;

static bool heap_less(const merge *m, size_t a, size_t b) {
  return rec_cmp(m->ord, &m->rd[m->heap[a]].cur, &m->rd[m->heap[b]].cur) < 0;
}

static void heap_down(merge *m, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, s = i;
    if (l < m->n && heap_less(m, l, s)) s = l;
    if (r < m->n && heap_less(m, r, s)) s = r;
    if (s == i) return;
    size_t t = m->heap[i];
    m->heap[i] = m->heap[s];
    m->heap[s] = t;
    i = s;
  }
}

/* Merges runs[0..k) of file f into fn, in s->ord order. */
static fp_err merge_runs(fp__uniq *u, sorter *s, const tfile *f, const run *runs, size_t k,
                         rec_fn fn, void *ud, fp_diag *d) {
  merge m = {calloc(k, sizeof(reader)), calloc(k, sizeof(size_t)), 0, s->ord};
  fp_err e =
      (m.rd && m.heap) ? FP_OK : fp_diag_set(d, FP_ERR_NOMEM, "uniqueness check: out of memory");
  size_t opened = 0;
  for (size_t i = 0; i < k && !e; i++, opened++) {
    reader *r = &m.rd[i];
    *r = (reader){f->fd, runs[i].off, runs[i].off + runs[i].len, malloc(u->io), u->io, 0, 0, {0}};
    if (!r->buf) {
      e = fp_diag_set(d, FP_ERR_NOMEM, "uniqueness check: out of memory");
      break;
    }
    mem_add(u, u->io);
    bool more;
    if (!(e = rd_next(u, r, &more, d)) && more) m.heap[m.n++] = i;
  }
  for (size_t i = m.n / 2; i-- > 0;) heap_down(&m, i);
  while (!e && m.n) {
    reader *r = &m.rd[m.heap[0]];
    e = fn(u, ud, &r->cur, d);
    bool more = false;
    if (!e) e = rd_next(u, r, &more, d);
    if (!more) m.heap[0] = m.heap[--m.n];
    heap_down(&m, 0);
  }
  for (size_t i = 0; i < opened; i++) {
    mem_sub(u, m.rd[i].cap);
    free(m.rd[i].buf);
  }
  free(m.rd);
  free(m.heap);
  return e;
}

typedef struct to_file {
  sorter *s;
  tfile *t;
} to_file;

static fp_err write_rec_fn(fp__uniq *u, void *ud, const rec *r, fp_diag *d) {
  to_file *tf = ud;
  return w_rec(u, tf->s, tf->t, r, d);
}

/* Merges runs, fan at a time, into the other file until at most fan runs are left. */
static fp_err merge_passes(fp__uniq *u, sorter *s, size_t fan, fp_diag *d) {
  while (s->nruns > fan) {
    tfile *src = &s->f[s->cur], *dst = &s->f[!s->cur];
    fp_err e = ensure_file(u, dst, d);
    if (e) return e;
    run *old = s->runs;
    size_t nold = s->nruns;
    s->runs = NULL;
    s->nruns = s->rcap = 0;
    for (size_t i = 0; i < nold && !e; i += fan) {
      size_t k = nold - i < fan ? nold - i : fan;
      uint64_t start = dst->size;
      to_file tf = {s, dst};
      e = merge_runs(u, s, src, old + i, k, write_rec_fn, &tf, d);
      if (!e) e = w_flush(u, s, dst, d);
      if (!e) e = add_run(s, start, dst->size - start, d);
    }
    free(old);
    if (!e) e = tfile_truncate(u, src, d);
    if (e) return e;
    s->cur = !s->cur;
  }
  return FP_OK;
}

/* Delivers every record added to s, in order, to fn; then releases s's memory and files.
 * mem_readers bounds the final merge's buffers. */
static fp_err sorter_finish(fp__uniq *u, sorter *s, size_t mem_readers, rec_fn fn, void *ud,
                            fp_diag *d) {
  fp_err e = FP_OK;
  if (!s->nruns) { /* everything fit in memory */
    chunk_sort(s);
    const ent *idx = s->n ? chunk_idx(s) : NULL;
    for (size_t i = 0; i < s->n && !e; i++) {
      rec r = get_rec(s->buf + idx[i].off);
      e = fn(u, ud, &r, d);
    }
    sorter_free(u, s);
    return e;
  }
  e = flush_chunk(u, s, d);
  sorter_drop_chunk(u, s);
  size_t fan_mid = u->budget / u->io - 1, fan_last = mem_readers / u->io;
  if (fan_mid < 2) fan_mid = 2;
  if (fan_last < 2) fan_last = 2;
  if (!e && s->nruns > fan_last) e = merge_passes(u, s, fan_mid, d);
  if (!e && s->nruns > fan_last) e = merge_passes(u, s, fan_last, d);
  sorter_drop_writer(u, s);
  if (!e) e = merge_runs(u, s, &s->f[s->cur], s->runs, s->nruns, fn, ud, d);
  sorter_free(u, s);
  return e;
}

/* ---- public API --------------------------------------------------------------------- */

static void drop_memory(fp__uniq *u);

fp_err fp__uniq_new(const fp__uniq_opts *o, fp__uniq **out, fp_diag *d) {
  *out = NULL;
  fp__uniq *u = calloc(1, sizeof *u);
  if (!u) return fp_diag_set(d, FP_ERR_NOMEM, "uniqueness check: out of memory");
  u->hash = o ? o->hash : NULL;
  u->budget = o && o->memory ? o->memory : DEFAULT_MEMORY;
  if (u->budget < FP__UNIQ_MIN_MEMORY) u->budget = FP__UNIQ_MIN_MEMORY;
  u->io = u->budget / 64;
  if (u->io < 4096) u->io = 4096;
  if (u->io > ((size_t)1 << 20)) u->io = (size_t)1 << 20;
  u->blk_size = u->budget / 32;
  if (u->blk_size < 4096) u->blk_size = 4096;
  if (u->blk_size > ((size_t)4 << 20)) u->blk_size = (size_t)4 << 20;
  const char *dir = o && o->spill_dir ? o->spill_dir : getenv("TMPDIR");
  if (!dir || !*dir) dir = "/tmp";
  u->dir = strdup(dir);
  sorter_init(&u->vals, BY_VALUE, u->budget - u->io);
  sorter_init(&u->dups, BY_ROW, u->budget / 2 - u->io);
  if (!u->dir) {
    fp__uniq_free(u);
    return fp_diag_set(d, FP_ERR_NOMEM, "uniqueness check: out of memory");
  }
  *out = u;
  return FP_OK;
}

void fp__uniq_free(fp__uniq *u) {
  if (!u) return;
  drop_memory(u);
  sorter_free(u, &u->vals);
  sorter_free(u, &u->dups);
  free(u->dir);
  free(u);
}

bool fp__uniq_spilled(const fp__uniq *u) {
  return u && u->spilled;
}

size_t fp__uniq_peak(const fp__uniq *u) {
  return u ? u->peak : 0;
}

uint64_t fp__uniq_spill_bytes(const fp__uniq *u) {
  return u ? u->spill_bytes : 0;
}

uint64_t fp__uniq_distinct_in_memory(const fp__uniq *u) {
  return u ? u->n : 0;
}

static rec arena_rec(const fp__uniq *u, uint64_t off, uint64_t h) {
  const char *p = u->blk[off >> 32] + (off & 0xFFFFFFFFu);
  rec r;
  memcpy(&r.row, p, 8);
  memcpy(&r.len, p + 8, 4);
  r.key = p + ARENA_HDR;
  r.h = h;
  return r;
}

static void drop_memory(fp__uniq *u) {
  mem_sub(u, u->cap * sizeof(slot) + u->arena);
  big_free(u->tab, u->cap * sizeof(slot));
  for (size_t i = 0; i < u->nblk; i++) big_free(u->blk[i], u->blk_sz[i]);
  free(u->blk);
  free(u->blk_sz);
  u->tab = NULL;
  u->blk = NULL;
  u->blk_sz = NULL;
  u->cap = u->n = u->nblk = u->blk_cap = u->blk_used = u->last_size = u->arena = 0;
}

static int slot_tie(const void *ctx, const ent *x, const ent *y) {
  const fp__uniq *u = ctx;
  rec rx = arena_rec(u, x->off, x->k), ry = arena_rec(u, y->off, y->k);
  return rec_cmp(BY_VALUE, &rx, &ry);
}

/* Moves the distinct keys held in memory to the first sorted run and frees the table. */
static fp_err spill(fp__uniq *u, fp_diag *d) {
  size_t n = 0;
  for (size_t i = 0; i < u->cap; i++)
    if (u->tab[i].k) u->tab[n++] = u->tab[i];
  sort_ents(slot_tie, u, u->tab, n);
  sorter *s = &u->vals;
  tfile *t = &s->f[0];
  fp_err e = ensure_file(u, t, d);
  for (size_t i = 0; i < n && !e; i++) {
    rec r = arena_rec(u, u->tab[i].off, u->tab[i].k);
    e = w_rec(u, s, t, &r, d);
  }
  if (!e) e = w_flush(u, s, t, d);
  if (!e && t->size) e = add_run(s, 0, t->size, d);
  drop_memory(u);
  u->spilled = true;
  return e;
}

/* Doubles the table if that stays within the budget; false = spill instead. */
static fp_err tab_grow(fp__uniq *u, bool *ok, fp_diag *d) {
  size_t nc = u->cap ? u->cap * 2 : INITIAL_SLOTS;
  /* old and new table coexist while rehashing */
  *ok = (u->cap + nc) * sizeof(slot) + u->arena <= u->budget - u->io;
  if (!*ok) return FP_OK;
  slot *nt = big_alloc(nc * sizeof *nt);
  if (!nt) return fp_diag_set(d, FP_ERR_NOMEM, "uniqueness check: out of memory");
  for (size_t i = 0; i < u->cap; i++) {
    if (!u->tab[i].k) continue;
    size_t j = (size_t)u->tab[i].k & (nc - 1);
    while (nt[j].k) j = (j + 1) & (nc - 1);
    nt[j] = u->tab[i];
  }
  mem_add(u, nc * sizeof *nt);
  mem_sub(u, u->cap * sizeof *nt);
  big_free(u->tab, u->cap * sizeof *nt);
  u->tab = nt;
  u->cap = nc;
  return FP_OK;
}

/* Makes room for a record of need bytes in the last block, adding a block if that stays
 * within the budget; false = spill instead. */
static fp_err arena_room(fp__uniq *u, size_t need, bool *ok, fp_diag *d) {
  *ok = true;
  if (u->nblk && u->last_size - u->blk_used >= need) return FP_OK;
  size_t bs = need > u->blk_size ? need : u->blk_size;
  *ok = u->cap * sizeof(slot) + u->arena + bs <= u->budget - u->io;
  if (!*ok) return FP_OK;
  if (u->nblk == u->blk_cap) {
    size_t nc = u->blk_cap ? u->blk_cap * 2 : 16;
    char **nb = realloc(u->blk, nc * sizeof *nb);
    if (nb) u->blk = nb;
    size_t *ns = nb ? realloc(u->blk_sz, nc * sizeof *ns) : NULL;
    if (ns) u->blk_sz = ns;
    if (!nb || !ns) return fp_diag_set(d, FP_ERR_NOMEM, "uniqueness check: out of memory");
    u->blk_cap = nc;
  }
  if (!(u->blk[u->nblk] = big_alloc(bs)))
    return fp_diag_set(d, FP_ERR_NOMEM, "uniqueness check: out of memory");
  u->blk_sz[u->nblk] = bs;
  u->nblk++;
  u->blk_used = 0;
  u->last_size = bs;
  u->arena += bs;
  mem_add(u, bs);
  return FP_OK;
}

uint64_t fp__uniq_hash_prefetch(const fp__uniq *u, const void *key, size_t len) {
  uint64_t h = u->hash ? u->hash(key, len) : XXH3_64bits(key, len);
  h += !h;
  if (u->cap && !u->spilled) __builtin_prefetch(&u->tab[(size_t)h & (u->cap - 1)]);
  return h;
}

fp_err fp__uniq_add(fp__uniq *u, const void *key, size_t len, uint64_t row, uint64_t *first,
                    fp_diag *d) {
  return fp__uniq_add_hashed(u, key, len, fp__uniq_hash_prefetch(u, key, len), row, first, d);
}

fp_err fp__uniq_add_hashed(fp__uniq *u, const void *key, size_t len, uint64_t h, uint64_t row,
                           uint64_t *first, fp_diag *d) {
  *first = 0;
  if (u->finished) return fp_diag_set(d, FP_ERR_INVAL, "uniqueness check: add after finish");
  if (len > UINT32_MAX) return fp_diag_set(d, FP_ERR_LIMIT, "uniqueness check: key too long");
  rec r = {h, row, (uint32_t)len, key};
  if (u->spilled) return sorter_add(u, &u->vals, &r, d);

  bool ok = true;
  fp_err e = u->cap ? FP_OK : tab_grow(u, &ok, d);
  if (e) return e;
  size_t mask = u->cap - 1, i = (size_t)h & mask;
  for (; ok && u->tab[i].k; i = (i + 1) & mask) {
    if (u->tab[i].k != h) continue;
    rec o = arena_rec(u, u->tab[i].off, h);
    if (o.len == len && (!len || !memcmp(o.key, key, len))) {
      *first = o.row;
      return FP_OK;
    }
    /* same 64-bit hash, different key: a collision, keep probing */
  }
  if (ok && (u->n + 1) * 4 > u->cap * 3) {
    if ((e = tab_grow(u, &ok, d))) return e;
    mask = u->cap - 1;
    for (i = (size_t)h & mask; ok && u->tab[i].k; i = (i + 1) & mask) {
    }
  }
  size_t need = ARENA_HDR + len;
  if (ok && (e = arena_room(u, need, &ok, d))) return e;
  if (!ok) {
    if (!u->cap) { /* not even the first table fits: start spilled */
      u->spilled = true;
      return sorter_add(u, &u->vals, &r, d);
    }
    if ((e = spill(u, d))) return e;
    return sorter_add(u, &u->vals, &r, d);
  }
  uint32_t l32 = (uint32_t)len;
  char *p = u->blk[u->nblk - 1] + u->blk_used;
  memcpy(p, &row, 8);
  memcpy(p + 8, &l32, 4);
  if (len) memcpy(p + ARENA_HDR, key, len);
  u->tab[i] = (slot){h, (uint64_t)(u->nblk - 1) << 32 | u->blk_used};
  u->blk_used += need;
  u->n++;
  return FP_OK;
}

fp_err fp__uniq_defer(fp__uniq *u, const void *key, size_t len, uint64_t row, fp_diag *d) {
  if (!u->spilled || u->finished)
    return fp_diag_set(d, FP_ERR_INVAL, "uniqueness check: defer before spill");
  if (len > UINT32_MAX) return fp_diag_set(d, FP_ERR_LIMIT, "uniqueness check: key too long");
  rec r = {0, row, (uint32_t)len, key}; /* hash 0: no real key has it (see fp__uniq_add) */
  return sorter_add(u, &u->vals, &r, d);
}

/* ---- finish: groups of equal keys → duplicates → row order -------------------------- */

typedef struct grouper {
  char *key;
  size_t kcap;
  rec g; /* the group's first record (key in key) */
  bool have;
} grouper;

static fp_err group_fn(fp__uniq *u, void *ud, const rec *r, fp_diag *d) {
  grouper *g = ud;
  if (!r->h) { /* deferred: straight to the row-ordered stream, first = 0 */
    rec dup = {0, r->row, r->len, r->key};
    return sorter_add(u, &u->dups, &dup, d);
  }
  if (g->have && r->h == g->g.h && r->len == g->g.len &&
      (!r->len || !memcmp(r->key, g->key, r->len))) {
    rec dup = {g->g.row, r->row, r->len, r->key};
    return sorter_add(u, &u->dups, &dup, d);
  }
  if (r->len > g->kcap) {
    char *nk = realloc(g->key, r->len);
    if (!nk) return fp_diag_set(d, FP_ERR_NOMEM, "uniqueness check: out of memory");
    mem_add(u, r->len - g->kcap);
    g->key = nk;
    g->kcap = r->len;
  }
  if (r->len) memcpy(g->key, r->key, r->len);
  g->g = *r;
  g->g.key = g->key;
  g->have = true;
  return FP_OK;
}

typedef struct user_cb {
  fp__uniq_dup_fn fn;
  void *ud;
} user_cb;

static fp_err dup_fn(fp__uniq *u, void *ud, const rec *r, fp_diag *d) {
  (void)u;
  const user_cb *c = ud;
  return c->fn(c->ud, r->row, r->h, r->key, r->len, d);
}

fp_err fp__uniq_finish(fp__uniq *u, fp__uniq_dup_fn fn, void *ud, fp_diag *d) {
  if (u->finished) return fp_diag_set(d, FP_ERR_INVAL, "uniqueness check: finish called twice");
  u->finished = true;
  drop_memory(u);
  if (!u->spilled) return FP_OK;
  grouper g = {NULL, 0, {0, 0, 0, NULL}, false};
  fp_err e = sorter_finish(u, &u->vals, u->budget / 2 - u->io, group_fn, &g, d);
  mem_sub(u, g.kcap);
  free(g.key);
  user_cb c = {fn, ud};
  if (!e) e = sorter_finish(u, &u->dups, u->budget - u->io, dup_fn, &c, d);
  return e;
}
