/* fp_store.h — the results database: runs, column profiles and findings, and the durable
 * job queue.
 *
 * One interface over SQLite (the embedded default) and PostgreSQL (libpq; production). Opening a store
 * applies the versioned migrations it lacks. Values are always bound parameters; no SQL is
 * built from data. Saving a run for an object version that already has one replaces it
 * (the old run's profiles and findings go with it) in one transaction. This layer knows
 * nothing of profiler types: callers fill the plain structs below (borrowed for the call).
 *
 * Threads: a store handle is used by one thread at a time (it caches prepared statements);
 * give each thread its own handle. Handles on the same database may be used concurrently:
 * SQLite serialises writers (WAL, 10 s busy timeout; a writer that still cannot get the
 * lock gets FP_ERR_TRANSIENT). PostgreSQL: one connection per handle; a lost connection
 * answers FP_ERR_TRANSIENT and the handle's next call tries to reconnect once. */
#ifndef FP_STORE_H
#define FP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fp/fp_err.h"
#include "fp/fp_event.h"

typedef struct fp_store fp_store; /* opaque */

/* url: "sqlite:///relative/path.db", "sqlite:////absolute/path.db", "sqlite://:memory:".
 * "postgresql://..." / "postgres://..." (any libpq connection URI, passed to libpq as is;
 * an unreachable server is FP_ERR_TRANSIENT). Runs migrations. Owned: free with fp_store_close. */
fp_err fp_store_open(const char *url, fp_store **out, fp_diag *d);
void fp_store_close(fp_store *s); /* NULL-safe */
const char *fp_store_backend(const fp_store *s); /* "sqlite" | "postgresql" */
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
  const char *dataset;           /* NULL = fp_store_dataset_of(contract, key) */
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
  /* The queue job this run completes (0 = none). When set, the same transaction marks
   * the job succeeded with this run, so a run exists exactly when its job succeeded; if
   * job_owner no longer holds the job's lease, nothing is saved: FP_ERR_NOT_FOUND. */
  int64_t job_id;
  const char *job_owner;
} fp_store_run;

/* Inserts or replaces the run of (bucket, key, object_version), and completes run->job_id
 * when set. *run_id may be NULL. */
fp_err fp_store_save_run(fp_store *s, const fp_store_run *run, int64_t *run_id, fp_diag *d);

/* The dataset a run belongs to, the thread that links deliveries of the same data: the
 * contract name when there is one (non-empty), else the key with its date parts removed, so
 * "from_client/abq/Officer_Detail_2026-10.csv" and ".../Officer_Detail_2026-11.csv" (or
 * ".../2026-11-01/Officer_Detail.csv") are one dataset. A date part is YYYY-MM-DD,
 * YYYY_MM_DD, YYYYMMDD, YYYY-MM or YYYY_MM with a year 1900..2099, a month 01..12 and a day
 * 01..31, not touching other digits; it goes together with one separator ('-', '_', '.',
 * ' ') before it (or after it at the start of a name), and a directory left empty goes
 * with its '/'. Owned (free); NULL only when out of memory. */
char *fp_store_dataset_of(const char *contract, const char *key);

/* One row of the history listing; strings owned by the list (or the caller of
 * fp_store_get_run: clear with fp_store_run_summary_clear). */
typedef struct fp_store_run_summary {
  int64_t id;
  char *bucket, *key, *object_version, *verdict, *finished_at, *contract;
  uint64_t rows, errors, warnings;
  char *dataset;    /* NULL for runs stored without a contract before schema version 3 */
  char *event_time; /* the object's event time; NULL when the event had none */
  bool pinned;      /* the dataset's pinned baseline */
} fp_store_run_summary;

void fp_store_run_summary_clear(fp_store_run_summary *r); /* frees members, zeroes */

typedef struct fp_store_run_list {
  fp_store_run_summary *items;
  size_t n;
} fp_store_run_list;

/* Filters of the history listing; NULL members match everything. */
typedef struct fp_store_run_filter {
  const char *dataset;    /* exactly this dataset */
  const char *key_prefix; /* keys starting with this text */
  const char *since;      /* finished_at >= since (ISO 8601 text: "2026-11-01" works) */
  size_t limit;           /* 0 = 100 */
} fp_store_run_filter;

/* Most recent first (finished_at, then id), at most limit rows (0 = 100). */
fp_err fp_store_list_runs(fp_store *s, size_t limit, fp_store_run_list *out, fp_diag *d);
/* The same with filters (f may be NULL). */
fp_err fp_store_find_runs(fp_store *s, const fp_store_run_filter *f, fp_store_run_list *out,
                          fp_diag *d);
void fp_store_run_list_free(fp_store_run_list *l);
/* One run: its summary and (when report_json is not NULL) its stored report, owned (free).
 * FP_ERR_NOT_FOUND when absent. out: clear with fp_store_run_summary_clear. */
fp_err fp_store_get_run(fp_store *s, int64_t id, fp_store_run_summary *out, char **report_json,
                        fp_diag *d);
/* Pins run id as its dataset's baseline (unpinning any other run of that dataset in the
 * same transaction), or unpins it. FP_ERR_NOT_FOUND when there is no such run;
 * FP_ERR_INVAL when pinning a run that has no dataset. */
fp_err fp_store_set_pinned(fp_store *s, int64_t id, bool pinned, fp_diag *d);

/* What a new run of a dataset is compared with. */
typedef struct fp_store_baseline_query {
  const char *dataset;                       /* required */
  const char *bucket, *key, *object_version; /* the new run's object version: never its own
                                                baseline (NULL = "") */
  const char *before; /* the new run's time (event time, else its start): only runs
                         delivered earlier count; NULL = no limit */
} fp_store_baseline_query;

/* The baseline: the dataset's pinned run when there is one (and it is not the same object
 * version), else its most recent run with verdict "passed" whose event time (else
 * finished_at) is earlier than q->before, excluding the same object version. *found =
 * false (out zeroed) when there is none. out: clear with fp_store_run_summary_clear;
 * *report_json (when report_json is not NULL) owned (free). */
fp_err fp_store_find_baseline(fp_store *s, const fp_store_baseline_query *q,
                              fp_store_run_summary *out, char **report_json, bool *found,
                              fp_diag *d);
/* The stored report JSON of run id; *json owned (free). FP_ERR_NOT_FOUND when absent. */
fp_err fp_store_get_report(fp_store *s, int64_t id, char **json, fp_diag *d);

/* ---- the durable job queue (table fp_jobs) ------------------------------------------
 *
 * One row per object version: the idempotency key is (bucket, key, version_id | etag |
 * sequencer | ""), the same version rule as fp_runs.object_version, so a redelivered event
 * creates no second job. Life of a job:
 *
 *   queued --claim--> running --succeed--> succeeded                     (final)
 *                        |  \--fail(retryable), attempts < max--> queued (next_attempt_at
 *                        |                                          = now + delay)
 *                        |  \--fail(retryable), attempts >= max--> dead   (final)
 *                        |  \--fail(not retryable)--------------> failed (final)
 *                        |  \--release---------------------------> queued (attempt not
 *                        |                                                  counted)
 *                        \--lease expires (worker crashed)--> claimable again; once it has
 *                                                  used max attempts it becomes dead
 *
 * A claim leases the job to an owner (a string naming one worker thread of one process)
 * until now + lease_seconds and counts one attempt. Every later change (heartbeat,
 * succeed, fail, release) is made only while the row is still running under that owner:
 * after a lease expired and another worker re-claimed the job, the old owner's calls
 * answer FP_ERR_NOT_FOUND ("lease lost") and change nothing. Claims are atomic across
 * threads and processes (SQLite: BEGIN IMMEDIATE; PostgreSQL: FOR UPDATE SKIP LOCKED), so
 * a job is never running under two owners at once. The order is: running jobs whose lease
 * expired first (oldest expiry first), then queued jobs whose next_attempt_at has come,
 * oldest next_attempt_at first, ties by id (a new job's next_attempt_at is its enqueue
 * time).
 *
 * Times come from the store's clock and are stored as ISO 8601 UTC text
 * ("2024-05-01T12:00:00.000Z"), like every other timestamp of the results DB. */

typedef enum fp_job_state {
  FP_JOB_QUEUED = 0,
  FP_JOB_RUNNING,
  FP_JOB_SUCCEEDED,
  FP_JOB_FAILED, /* bad input: no retry helps (exit code 2 outcomes) */
  FP_JOB_DEAD,   /* retryable failures until FP_JOB_MAX_ATTEMPTS ran out */
  FP_JOB__STATE_COUNT
} fp_job_state;

/* "queued" | "running" | "succeeded" | "failed" | "dead" (the strings in fp_jobs.state);
 * "unknown" otherwise. Borrowed static string. */
const char *fp_job_state_name(fp_job_state st);

#define FP_STORE_OWNER_MAX 255   /* bytes of a lease owner */
#define FP_STORE_ERROR_MAX 2000  /* bytes of last_error kept (cut at a UTF-8 boundary) */

/* One row of fp_jobs. All strings owned: free with fp_store_job_clear. */
typedef struct fp_store_job {
  int64_t id;
  fp_object_ref ref; /* bucket, key, version_id, etag, sequencer, size, event_time as
                        enqueued (event_name is not kept: NULL) */
  fp_job_state state;
  int attempts;            /* claims so far, the current one included */
  char *lease_owner;       /* NULL unless running */
  char *lease_expires_at;  /* NULL unless running */
  char *next_attempt_at;   /* when a queued job becomes claimable */
  char *last_error;        /* NULL until an attempt failed; kept after success */
  int64_t run_id;          /* fp_runs.id saved by the succeeding attempt; -1 none */
  char *created_at, *updated_at;
} fp_store_job;

void fp_store_job_clear(fp_store_job *j); /* frees members, zeroes; NULL-safe */

/* Records a job for ref unless its object version already has one. *job_id (may be
 * NULL) = the new or the existing job's id; *created (may be NULL) = whether a row was
 * added. Durable when this returns FP_OK (committed). */
fp_err fp_store_enqueue(fp_store *s, const fp_object_ref *ref, int64_t *job_id, bool *created,
                        fp_diag *d);
/* The same for n refs in one transaction: all recorded or none. job_ids and created are
 * arrays of n (each may be NULL); *ncreated (may be NULL) = rows added. */
fp_err fp_store_enqueue_many(fp_store *s, const fp_object_ref *refs, size_t n,
                             int64_t *job_ids, bool *created, size_t *ncreated, fp_diag *d);

/* Takes the next claimable job (see the order above) for owner: running, leased until now
 * + lease_seconds, attempts + 1. *got = false and out zeroed when there is none. In the
 * same transaction, running jobs whose lease expired after max_attempts attempts (0 = no
 * limit) become dead with a last_error saying so, instead of being claimed again. out:
 * clear with fp_store_job_clear. */
fp_err fp_store_claim(fp_store *s, const char *owner, int lease_seconds, int max_attempts,
                      fp_store_job *out, bool *got, fp_diag *d);
/* Extends owner's lease on job id to now + lease_seconds. FP_ERR_NOT_FOUND: lease lost. */
fp_err fp_store_job_heartbeat(fp_store *s, int64_t id, const char *owner, int lease_seconds,
                              fp_diag *d);
/* running -> succeeded; run_id (-1 none) is the fp_runs row the attempt saved. The data
 * was analysed: a "failed" verdict is a succeeded job. FP_ERR_NOT_FOUND: lease lost. */
fp_err fp_store_job_succeed(fp_store *s, int64_t id, const char *owner, int64_t run_id,
                            fp_diag *d);
/* Records a failed attempt with its error text (kept as last_error). Not retryable ->
 * failed; retryable with attempts >= max_attempts (0 = no limit) -> dead; else queued
 * again, claimable from now + retry_delay_ms (the caller picks the backoff). *new_state
 * (may be NULL) = where the job went. FP_ERR_NOT_FOUND: lease lost. */
fp_err fp_store_job_fail(fp_store *s, int64_t id, const char *owner, const char *error,
                         bool retryable, int max_attempts, int64_t retry_delay_ms,
                         fp_job_state *new_state, fp_diag *d);
/* running -> queued without counting the attempt (shutdown): claimable at once, in its
 * old place in line. FP_ERR_NOT_FOUND: lease lost. */
fp_err fp_store_job_release(fp_store *s, int64_t id, const char *owner, fp_diag *d);
/* The row of job id; FP_ERR_NOT_FOUND when absent. out: clear with fp_store_job_clear. */
fp_err fp_store_job_get(fp_store *s, int64_t id, fp_store_job *out, fp_diag *d);
/* Rows per state, indexed by fp_job_state (metrics). */
fp_err fp_store_job_counts(fp_store *s, int64_t counts[FP_JOB__STATE_COUNT], fp_diag *d);
/* Jobs not finished yet: queued + running (the listener's queue limit, readyz). */
fp_err fp_store_queue_depth(fp_store *s, int64_t *n, fp_diag *d);

#endif
