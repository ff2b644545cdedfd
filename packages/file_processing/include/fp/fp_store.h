/* fp_store.h — the results database: runs, column profiles and findings.
 *
 * One interface over SQLite (the embedded default) and, later, PostgreSQL. Opening a store
 * applies the versioned migrations it lacks. Values are always bound parameters; no SQL is
 * built from data. Saving a run for an object version that already has one replaces it
 * (the old run's profiles and findings go with it) in one transaction. This layer knows
 * nothing of profiler types: callers fill the plain structs below (borrowed for the call).
 *
 * Threads: a store handle is used by one thread at a time (it caches prepared statements);
 * give each thread its own handle. Handles on the same database may be used concurrently:
 * SQLite serialises writers (WAL, 10 s busy timeout; a writer that still cannot get the
 * lock gets FP_ERR_TRANSIENT). */
#ifndef FP_STORE_H
#define FP_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "fp/fp_err.h"

typedef struct fp_store fp_store; /* opaque */

/* url: "sqlite:///relative/path.db", "sqlite:////absolute/path.db", "sqlite://:memory:".
 * postgresql:// and postgres:// are recognised and answer FP_ERR_NOT_IMPLEMENTED for now.
 * Runs migrations. Owned: free with fp_store_close. */
fp_err fp_store_open(const char *url, fp_store **out, fp_diag *d);
void fp_store_close(fp_store *s); /* NULL-safe */
const char *fp_store_backend(const fp_store *s); /* "sqlite" */
/* Applies missing migrations; *applied (may be NULL) = how many ran now. */
fp_err fp_store_migrate(fp_store *s, int *applied, fp_diag *d);
int fp_store_schema_version(fp_store *s); /* -1 on error */

typedef struct fp_store_column {
  uint32_t index; /* 1-based */
  const char *name;
  const char *type;
  uint64_t count, missing, distinct;
  int distinct_approx;
  const char *min, *max; /* NULL allowed */
  int has_mean;
  double mean, stddev;
  const char *profile_json; /* the column's full profile as JSON text */
} fp_store_column;

typedef struct fp_store_finding {
  const char *code;
  const char *severity;   /* "error" | "warning" | "info" */
  uint32_t field;         /* 0 = not about one field */
  const char *field_name; /* NULL allowed */
  uint64_t count;         /* exact */
  size_t nsamples;
  int capped;
  const char *samples_json; /* JSON array of the kept samples */
} fp_store_finding;

typedef struct fp_store_run {
  const char *bucket, *key;
  const char *object_version; /* idempotency part: version_id | etag | sequencer | "" */
  const char *version_id, *etag; /* NULL allowed */
  int64_t size;                  /* -1 unknown */
  const char *event_time;        /* NULL allowed */
  const char *job_name;          /* "s3_data_quality_job" */
  const char *contract;          /* NULL when none */
  const char *verdict;           /* "passed" | "warned" | "failed" */
  uint64_t rows, bytes;
  uint32_t columns;
  uint64_t errors, warnings;
  const char *started_at, *finished_at; /* ISO 8601 UTC; finished_at NULL = now */
  double duration_ms;
  const char *report_json;
  const fp_store_column *cols;
  size_t ncols;
  const fp_store_finding *findings;
  size_t nfindings;
} fp_store_run;

/* Inserts or replaces the run of (bucket, key, object_version). *run_id may be NULL. */
fp_err fp_store_save_run(fp_store *s, const fp_store_run *run, int64_t *run_id, fp_diag *d);

/* One row of the history listing; strings owned by the list. */
typedef struct fp_store_run_summary {
  int64_t id;
  char *bucket, *key, *object_version, *verdict, *finished_at, *contract;
  uint64_t rows, errors, warnings;
} fp_store_run_summary;

typedef struct fp_store_run_list {
  fp_store_run_summary *items;
  size_t n;
} fp_store_run_list;

/* Most recent first, at most limit rows (0 = 100). */
fp_err fp_store_list_runs(fp_store *s, size_t limit, fp_store_run_list *out, fp_diag *d);
void fp_store_run_list_free(fp_store_run_list *l);
/* The stored report JSON of run id; *json owned (free). FP_ERR_NOT_FOUND when absent. */
fp_err fp_store_get_report(fp_store *s, int64_t id, char **json, fp_diag *d);

#endif
