/* dupset.c — the bounded set of row hashes behind the duplicate-row count.
 *
 * Open addressing with linear probing over 12-byte entries (hash split in two 32-bit
 * halves plus the 32-bit row number), so a probe and the row number share one cache line.
 * Lemire's multiply-shift maps a hash onto any capacity, so the table can grow to exactly
 * the memory budget (old + new arrays during the last growth included) instead of a power
 * of two; it also keeps slots in hash order, which makes rehashing a sequential sweep.
 * Large tables ask for transparent huge pages: at one random access per row, TLB misses
 * otherwise cost more than the cache miss itself. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "quality/quality_int.h"

#define HUGE_PAGE ((size_t)2 << 20)

static void *table_alloc(size_t bytes) {
  if (bytes < 2 * HUGE_PAGE) return calloc(1, bytes);
  void *p = NULL;
  size_t rounded = (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
  if (posix_memalign(&p, HUGE_PAGE, rounded)) return NULL;
#ifdef MADV_HUGEPAGE
  (void)madvise(p, rounded, MADV_HUGEPAGE); /* a hint; failure only costs speed */
#endif
  memset(p, 0, bytes);
  return p;
}

void fp__dupset_init(fp__dupset *s, size_t budget_bytes) {
  memset(s, 0, sizeof *s);
  s->max_entries = budget_bytes / sizeof(fp__dupent);
}

void fp__dupset_free(fp__dupset *s) {
  free(s->e);
  s->e = NULL;
  s->cap = s->n = 0;
}

static bool empty(const fp__dupent *e) {
  return !(e->lo | e->hi);
}

static bool same(const fp__dupent *e, uint64_t h) {
  return e->lo == (uint32_t)h && e->hi == (uint32_t)(h >> 32);
}

static void put(fp__dupent *t, size_t cap, uint64_t h, uint32_t row) {
  size_t i = fp__dupset_slot(h, cap);
  while (!empty(&t[i])) i = i + 1 == cap ? 0 : i + 1;
  t[i] = (fp__dupent){(uint32_t)h, (uint32_t)(h >> 32), row};
}

/* Grows so that old + new arrays stay within the budget; false when no growth fits. */
static fp_err grow(fp__dupset *s, bool *grown) {
  *grown = false;
  size_t want = s->cap ? s->cap * 2 : 1024;
  size_t room = s->max_entries > s->cap ? s->max_entries - s->cap : 0;
  if (want > room) want = room;
  if (want <= s->cap || (s->n + 1) * 10 > want * 7) return FP_OK;
  fp__dupent *t = table_alloc(want * sizeof *t);
  if (!t) return FP_ERR_NOMEM;
  for (size_t k = 0; k < s->cap; k++) {
    const fp__dupent *e = &s->e[k];
    if (!empty(e)) put(t, want, (uint64_t)e->hi << 32 | e->lo, e->row);
  }
  free(s->e);
  s->e = t;
  s->cap = want;
  *grown = true;
  return FP_OK;
}

fp_err fp__dupset_check(fp__dupset *s, uint64_t h, uint64_t row, uint64_t *earlier) {
  *earlier = 0;
  if (s->cap) {
    for (size_t i = fp__dupset_slot(h, s->cap); !empty(&s->e[i]); i = i + 1 == s->cap ? 0 : i + 1) {
      if (same(&s->e[i], h)) {
        *earlier = s->e[i].row ? s->e[i].row : UINT32_MAX;
        return FP_OK;
      }
    }
  }
  if (s->full) return FP_OK;
  if ((s->n + 1) * 10 > s->cap * 7) { /* keep the load <= 0.7 */
    bool grown;
    fp_err e = grow(s, &grown);
    if (e) return e;
    if (!grown) { /* budget reached: stop remembering; hits on stored rows still count */
      s->full = true;
      return FP_OK;
    }
  }
  put(s->e, s->cap, h, row <= UINT32_MAX ? (uint32_t)row : 0);
  s->n++;
  return FP_OK;
}
