/* uniq.h — exact uniqueness of byte keys within a memory budget (private to src/quality).
 *
 * The contract checker feeds one key per unique field / primary key and row (its canonical
 * text, prefixed with a set id so several constraints share one budget) and learns which
 * rows repeat an earlier key, and the row of the key's first occurrence.
 *
 * In memory (the common case). An open-addressing table of 16-byte slots {64-bit hash of
 * the key, offset of the key's record in an arena}; the arena holds each distinct key once
 * as {row, length, bytes}. A new key costs one hash (XXH3-64, once per key), one probe and
 * one append; a repeated key is reported at once by fp__uniq_add with the first row.
 *
 * Collisions. A hash match is never trusted on its own: the candidate's bytes are compared
 * with the stored key (length + memcmp) and only an exact match is a duplicate. Two
 * different keys with the same 64-bit hash both stay in the table (linear probing walks on
 * past the non-matching slot), so a collision costs one extra memcmp and never produces a
 * false duplicate, nor hides a true one. The same holds after spilling: records are sorted
 * by (hash, length, bytes, row), so equal keys are adjacent and keys that merely share a
 * hash form separate groups. Tests install a 4-bit hash (fp__uniq_opts.hash) to force
 * collisions on every path.
 *
 * Beyond the budget (spilling). When the table and arena would outgrow the budget, the
 * distinct keys seen so far are sorted in place and written as the first sorted run of a
 * temporary file; table and arena are freed. From then on every key is appended to an
 * in-memory chunk, which is sorted and written as a further run whenever it fills the
 * budget (no duplicate is reported by fp__uniq_add any more). fp__uniq_finish merges the
 * runs (several passes when there are more runs than the budget allows readers), finds the
 * groups of equal keys — the smallest row of a group is the first occurrence, since a key
 * seen before the spill is in the first run with its original row — and reports every
 * later row of each group through a second external sort by row, so duplicates come out in
 * row order whatever their number. Duplicates found in memory before the spill were
 * already reported and are not stored, so nothing is reported twice.
 *
 * Memory: table + arena, or chunk + index, or merge buffers, stay under the budget (a
 * single key longer than the I/O buffer temporarily needs its own length on top).
 * Temporary files are created in spill_dir and unlinked at once (nothing is left behind,
 * even after a crash); their descriptors are closed by fp__uniq_free. */
#ifndef FP_QUALITY_UNIQ_H
#define FP_QUALITY_UNIQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fp/fp_err.h"

typedef uint64_t (*fp__uniq_hash_fn)(const void *key, size_t len);

#define FP__UNIQ_MIN_MEMORY ((size_t)64 << 10)

typedef struct fp__uniq_opts {
  size_t memory;         /* budget in bytes; 0 = 256 MiB; raised to FP__UNIQ_MIN_MEMORY */
  const char *spill_dir; /* NULL = $TMPDIR, else /tmp */
  fp__uniq_hash_fn hash; /* NULL = XXH3-64; a test hook to force collisions */
} fp__uniq_opts;

typedef struct fp__uniq fp__uniq; /* opaque */

/* Owned: free with fp__uniq_free. Copies opts. */
fp_err fp__uniq_new(const fp__uniq_opts *o, fp__uniq **out, fp_diag *d);

/* Adds key (len bytes, any content) seen at row; rows must not decrease from one call to
 * the next. *first = the row where the same key was first added when that is known now
 * (verified byte for byte), else 0 (a new key, or any key once the set has spilled: its
 * duplicates are reported by fp__uniq_finish). */
fp_err fp__uniq_add(fp__uniq *u, const void *key, size_t len, uint64_t row, uint64_t *first,
                    fp_diag *d);
/* The same in two steps, so the table's cache miss can overlap other work: the key's hash
 * (and a prefetch of the slot it probes first), then the add with that hash. */
uint64_t fp__uniq_hash_prefetch(const fp__uniq *u, const void *key, size_t len);
fp_err fp__uniq_add_hashed(fp__uniq *u, const void *key, size_t len, uint64_t h, uint64_t row,
                           uint64_t *first, fp_diag *d);

/* Once the set has spilled (fp__uniq_spilled): queues row and key to come out of
 * fp__uniq_finish with first = 0, in row order among the late duplicates, so a caller can
 * keep related findings (a primary key with no value) in row order too. FP_ERR_INVAL
 * before the spill. */
fp_err fp__uniq_defer(fp__uniq *u, const void *key, size_t len, uint64_t row, fp_diag *d);

/* Called by fp__uniq_finish for each duplicate not reported by fp__uniq_add, ordered by
 * row, then by key bytes. key is borrowed for the call. */
typedef fp_err (*fp__uniq_dup_fn)(void *ud, uint64_t row, uint64_t first, const char *key,
                                  size_t len, fp_diag *d);

/* Resolves what spilled (nothing to do when the set stayed in memory). Call once, after
 * the last add. Frees the working memory; temporary files are truncated. */
fp_err fp__uniq_finish(fp__uniq *u, fp__uniq_dup_fn fn, void *ud, fp_diag *d);

bool fp__uniq_spilled(const fp__uniq *u);
size_t fp__uniq_peak(const fp__uniq *u);                 /* bytes of working memory at the peak */
uint64_t fp__uniq_spill_bytes(const fp__uniq *u);        /* bytes written to temporary files */
uint64_t fp__uniq_distinct_in_memory(const fp__uniq *u); /* keys held by the table now */
void fp__uniq_free(fp__uniq *u); /* NULL-safe; closes (and so removes) temporary files */

#endif
