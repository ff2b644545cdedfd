/* fp_profile.h — streaming table and column profiles plus structural findings.
 *
 * The profiler never opens files: it is fed parsed records (fp_csv.h). Per column it keeps
 * a small fixed-size accumulator (counts, type lattice, min/max, Welford mean/variance,
 * exact distinct set up to a bound then HyperLogLog, top values, lengths); per table,
 * row counts, blank rows, duplicate rows (64-bit row hashes in a bounded set) and rows with
 * too many / too few cells. Header findings (blank-label, duplicate-label) and row findings
 * (blank-row, extra-cell, missing-cell, encoding-error) go into an fp_findings collector.
 * Memory is bounded by the options, never by the number of rows. */
#ifndef FP_PROFILE_H
#define FP_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fp/fp_csv.h"
#include "fp/fp_err.h"
#include "fp/fp_findings.h"

/* The inferred type lattice, narrowest first: a column gets the narrowest type that fits
 * every non-missing value. EMPTY = no non-missing value seen. */
typedef enum fp_type {
  FP_TYPE_EMPTY = 0,
  FP_TYPE_BOOLEAN,
  FP_TYPE_INTEGER,
  FP_TYPE_NUMBER,
  FP_TYPE_DATE,
  FP_TYPE_DATETIME,
  FP_TYPE_STRING,
} fp_type;
const char *fp_type_name(fp_type t); /* "empty","boolean","integer","number","date","datetime","string" */

#define FP_TOPK 5

typedef struct fp_value_count {
  char *value; /* owned */
  uint64_t count;
} fp_value_count;

/* Distribution of an integer/number/date/datetime column: equal-width bins with exact
 * counts (bin i covers [lo + i*(hi-lo)/nbins, lo + (i+1)*(hi-lo)/nbins), the last one
 * closed), and quantiles estimated from them (error at most about one bin width). Values
 * are in the unit: numbers as they are, dates as days since 1970-01-01, datetimes as
 * seconds since the epoch (UTC; offsets applied, no offset = UTC). */
#define FP_HIST_BINS 64
typedef enum fp_hist_unit { FP_HIST_NUMBER = 0, FP_HIST_DAY, FP_HIST_SECOND } fp_hist_unit;
const char *fp_hist_unit_name(fp_hist_unit u); /* "number" | "day" | "second" */

typedef struct fp_column_histogram {
  bool present;        /* false for other types or when no finite value was seen */
  fp_hist_unit unit;
  double lo, hi;       /* lo == hi: a single value, one bin */
  uint32_t nbins;      /* 1..FP_HIST_BINS */
  uint64_t counts[FP_HIST_BINS];
  double p05, p25, p50, p75, p95;
} fp_column_histogram;

typedef struct fp_column_profile {
  char *name;        /* owned; header label, or "field<N>" without a header */
  uint32_t index;    /* 1-based */
  uint64_t count;    /* data rows that had this cell */
  uint64_t missing;  /* cells that were a missing value */
  fp_type type;
  char *min, *max;   /* owned, rendered in the column's type (NULL when EMPTY) */
  bool has_mean;     /* numeric types only */
  double mean, stddev; /* sample standard deviation (n-1); 0 when count < 2 */
  uint64_t distinct;
  bool distinct_approx; /* exceeded the exact bound; HyperLogLog estimate */
  fp_value_count top[FP_TOPK]; /* most frequent non-missing values, count desc then value asc */
  size_t ntop;
  bool top_approx;   /* space-saving sketch took over (counts are lower bounds) */
  uint32_t min_len, max_len; /* in UTF-8 characters over non-missing cells */
  double mean_len;
  fp_column_histogram hist;
} fp_column_profile;

typedef struct fp_table_stats {
  uint64_t bytes;          /* decompressed bytes read */
  uint64_t rows;           /* data rows (records after the header, blank rows included) */
  uint32_t columns;        /* header width (or first row's width without a header) */
  uint64_t blank_rows;
  uint64_t duplicate_rows; /* rows equal to an earlier row */
  bool duplicate_rows_exact; /* false when the bounded row-hash set filled up */
  uint64_t rows_too_many;  /* rows with more cells than the header */
  uint64_t rows_too_few;   /* rows with fewer cells than the header */
  uint64_t encoding_errors;
} fp_table_stats;

typedef struct fp_profile_opts {
  const char *const *missing_values; /* borrowed; NULL = {""} (Frictionless default) */
  size_t nmissing;
  size_t distinct_exact_limit; /* per column; default 10000 */
  size_t dup_rows_memory;      /* bytes for the duplicate-row hash set; default 64 MiB */
  size_t exact_memory;         /* bytes for exact distinct/top tables over all columns
                                  (FP_PROFILE_EXACT_MEMORY); past it a column's counts
                                  become approximate (distinct_approx); default 256 MiB */
  fp_severity structural_severity; /* default FP_SEV_ERROR */
  /* Threads for the column accumulators (0 or 1 = the caller's thread only). With N > 1,
   * the calling thread keeps parsing and the table-level work (row hashes, duplicate rows,
   * structural findings, so findings keep their order) and copies rows into batches;
   * N - 1 helper threads and the caller profile the batch column by column, each column
   * in row order, so every profile equals the one-thread result. */
  unsigned threads;
  size_t batch_rows; /* rows per batch in that mode; 0 = sized by bytes (tests set it) */
} fp_profile_opts;

void fp_profile_opts_default(fp_profile_opts *o);

typedef struct fp_profiler fp_profiler; /* opaque */

/* findings is borrowed and must outlive the profiler. has_header: the first record fed
 * is the header. Owned: free with fp_profiler_free. */
fp_err fp_profiler_new(const fp_profile_opts *o, bool has_header, fp_findings *findings,
                       fp_profiler **out, fp_diag *d);
/* Feed every record the reader produced, in order (usable directly as on_record with the
 * profiler as ud). */
fp_err fp_profiler_record(void *profiler, const fp_csv_record *rec, fp_diag *d);
/* Completes the profiles; call once after the reader finished. bytes = total input bytes. */
fp_err fp_profiler_finish(fp_profiler *p, uint64_t bytes, fp_diag *d);
/* Valid after finish; borrowed, valid until free. */
const fp_table_stats *fp_profiler_table(const fp_profiler *p);
size_t fp_profiler_ncolumns(const fp_profiler *p);
const fp_column_profile *fp_profiler_column(const fp_profiler *p, size_t i); /* 0-based */
void fp_profiler_free(fp_profiler *p); /* NULL-safe */

#endif
