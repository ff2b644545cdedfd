/* topk.c — space-saving heavy-hitters sketch (Metwally, Agrawal, El Abbadi 2005) with 64
 * counters, filtered (Homem & Carvalho 2010): a min-heap by count finds the counter to
 * evict in O(log 64) and a 128-slot linear-probing index finds a value's counter by hash,
 * so an update costs a probe plus a short sift whatever the column's cardinality. Each
 * counter remembers the count it inherited (err), so count - err is a guaranteed lower
 * bound of the true frequency.
 *
 * The filter: a value not monitored enters only once its bucket's bound passes the
 * smallest counter (the paper admits it on reaching it; passing halves the evictions
 * again). Unique values then mostly cost one bucket increment instead of an eviction, and
 * stop evicting the frequent values: test_profile's mixed column (70% unique values)
 * shows the unfiltered sketch misranking the top 5 with lower bounds down to 6% of the
 * truth, the filtered one exact. */
#include <string.h>

#include "quality/quality_int.h"

#define NSLOT (2 * FP__SS_CAP)
#define SLOT_MASK (NSLOT - 1)

static uint32_t home(uint64_t h) {
  return (uint32_t)(h ^ (h >> 29)) & SLOT_MASK;
}

void fp__ss_init(fp__ss *s) {
  s->n = 0;
  memset(s->slot, 0, sizeof s->slot);
  memset(s->filter, 0, sizeof s->filter);
}

/* The filter bucket: other hash bits than the index's, so the two spread independently. */
static uint64_t *bucket(fp__ss *s, uint64_t h) {
  return &s->filter[(h >> 40) & (FP__SS_FILTER - 1)];
}

int fp__text_cmp(const char *a, size_t an, const char *b, size_t bn) {
  size_t k = an < bn ? an : bn;
  int c = k ? memcmp(a, b, k) : 0;
  if (c) return c;
  return an < bn ? -1 : an > bn;
}

static int find_slot(const fp__ss *s, uint64_t h) {
  for (uint32_t i = home(h);; i = (i + 1) & SLOT_MASK) {
    uint8_t v = s->slot[i];
    if (!v) return -1 - (int)i; /* not found: encodes the free slot */
    if (s->hash[v - 1] == h) return (int)i;
  }
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void slot_delete(fp__ss *s, uint32_t i) {
  s->slot[i] = 0;
  for (uint32_t j = (i + 1) & SLOT_MASK; s->slot[j]; j = (j + 1) & SLOT_MASK) {
    uint32_t k = home(s->hash[s->slot[j] - 1]);
    /* Leave slot j alone when its home lies cyclically in (i, j]. */
    if (((j - k) & SLOT_MASK) < ((j - i) & SLOT_MASK)) continue;
    s->slot[i] = s->slot[j];
    s->slot[j] = 0;
    i = j;
  }
}

static void heap_swap(fp__ss *s, uint32_t a, uint32_t b) {
  uint8_t ea = s->heap[a], eb = s->heap[b];
  s->heap[a] = eb;
  s->heap[b] = ea;
  s->pos[eb] = (uint8_t)a;
  s->pos[ea] = (uint8_t)b;
}

static void sift_down(fp__ss *s, uint32_t i) {
  for (;;) {
    uint32_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < s->n && s->count[s->heap[l]] < s->count[s->heap[m]]) m = l;
    if (r < s->n && s->count[s->heap[r]] < s->count[s->heap[m]]) m = r;
    if (m == i) return;
    heap_swap(s, i, m);
    i = m;
  }
}

static void sift_up(fp__ss *s, uint32_t i) {
  while (i > 0) {
    uint32_t p = (i - 1) / 2;
    if (s->count[s->heap[p]] <= s->count[s->heap[i]]) return;
    heap_swap(s, i, p);
    i = p;
  }
}

static void set_text(fp__ss *s, uint32_t ei, const char *text, size_t len) {
  size_t k = fp__utf8_cut(text, len, FP__TEXT_MAX);
  if (k) memcpy(s->text[ei], text, k);
  s->len[ei] = (uint16_t)k;
}

void fp__ss_add(fp__ss *s, uint64_t hash, const char *text, size_t len, uint64_t inc) {
  int f = find_slot(s, hash);
  if (f >= 0) { /* hit: the common case for low-cardinality columns */
    uint8_t ei = (uint8_t)(s->slot[f] - 1);
    s->count[ei] += inc;
    sift_down(s, s->pos[ei]);
    return;
  }
  if (s->n < FP__SS_CAP) {
    uint8_t ei = (uint8_t)s->n++;
    s->hash[ei] = hash;
    s->count[ei] = inc;
    s->err[ei] = 0;
    set_text(s, ei, text, len);
    s->slot[-1 - f] = (uint8_t)(ei + 1);
    s->heap[ei] = ei;
    s->pos[ei] = ei;
    sift_up(s, ei);
    return;
  }
  /* Full. Below the smallest counter the filter bucket absorbs the value: it stays an
   * upper bound of the count of every unmonitored value hashing there. */
  uint64_t *a = bucket(s, hash);
  uint8_t ei = s->heap[0];
  if (*a + inc <= s->count[ei]) {
    *a += inc;
    return;
  }
  /* Evict the minimum counter into its bucket; the newcomer enters with its bucket's
   * bound as error. */
  uint64_t *ea = bucket(s, s->hash[ei]);
  if (*ea < s->count[ei]) *ea = s->count[ei];
  slot_delete(s, (uint32_t)find_slot(s, s->hash[ei]));
  s->hash[ei] = hash;
  s->err[ei] = *a;
  s->count[ei] = *a + inc;
  set_text(s, ei, text, len);
  int nf = find_slot(s, hash); /* slots moved during deletion: probe again */
  s->slot[-1 - nf] = (uint8_t)(ei + 1);
  sift_down(s, 0);
}

static bool item_before(const fp__ss_item *a, const fp__ss_item *b) {
  if (a->count != b->count) return a->count > b->count;
  return fp__text_cmp(a->text, a->len, b->text, b->len) < 0;
}

size_t fp__ss_top(const fp__ss *s, fp__ss_item *out, size_t k) {
  size_t n = 0;
  for (uint32_t i = 0; i < s->n; i++) {
    fp__ss_item it = {s->text[i], s->len[i], s->count[i] - s->err[i]};
    /* Insertion into the sorted prefix out[0..n), keeping at most k. */
    size_t j = n < k ? n++ : k;
    while (j > 0 && item_before(&it, &out[j - 1])) {
      if (j < k) out[j] = out[j - 1];
      j--;
    }
    if (j < k) out[j] = it;
  }
  return n;
}
