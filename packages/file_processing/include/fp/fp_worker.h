/* fp_worker.h — the worker pool: threads that take jobs from the durable queue (the
 * fp_jobs table behind fp_store.h) and run the s3_data_quality_job on each.
 *
 * Each worker thread owns one store handle and one object store, and loops: claim a job
 * with a lease -> fp_job_run_object -> record the outcome:
 *   - FP_OK (whatever the verdict: a "failed" verdict means the data was analysed) ->
 *     succeeded, with the fp_runs id;
 *   - an error whose exit code is 3 (transient: S3, DB, network) -> queued again after an
 *     exponential backoff with full jitter, or dead once max_attempts attempts failed;
 *   - any other error (exit code 2: missing object, bad CSV, bad contract) -> failed,
 *     final, with the error kept in last_error.
 * When the queue is empty a worker sleeps poll_ms (fp_worker_pool_notify wakes it early).
 * One heartbeat thread, with its own store handle, extends the lease of every running
 * job every heartbeat_ms, so a job may run longer than its lease; if the process dies,
 * heartbeats stop, the lease expires and another worker (here or in another process)
 * claims the job again. A worker whose lease was lost (expired and taken over) cannot
 * record its outcome: the new owner's result stands.
 *
 * Delivery is at least once: a job can run twice (a crash after the run was saved but
 * before the job was marked succeeded, or a lease taken over from a hung worker). Runs are
 * keyed by object version in fp_runs, so the second run replaces the first: the results
 * are effectively once.
 *
 * Log lines (fp_log.h): claim (info), succeeded (info), retry (warn), failed (error),
 * dead (error), lease lost / released (warn); each names the job id and s3://bucket/key. */
#ifndef FP_WORKER_H
#define FP_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fp/fp_buf.h"
#include "fp/fp_config.h"
#include "fp/fp_err.h"
#include "fp/fp_job.h"
#include "fp/fp_objstore.h"

/* Makes the object store one worker thread will use (owned by the pool from then on,
 * freed with fp_objstore_free). Called nthreads times by fp_worker_pool_start, on the
 * caller's thread, before any worker runs. */
typedef fp_err (*fp_worker_objstore_fn)(void *ud, fp_objstore **out, fp_diag *d);

typedef struct fp_worker_opts {
  const char *store_url;              /* DATABASE_URL; copied. Required */
  unsigned nthreads;                  /* worker threads; 0 = 2 (FP_WORKERS) */
  fp_worker_objstore_fn objstore_new; /* required */
  void *objstore_ud;
  /* Template for every job. .store and .objstore are replaced per thread. Everything it
   * points to (contract, contracts_dir, ...) is borrowed, read by all threads at once, and
   * must outlive the pool. */
  fp_job_opts job;
  int lease_seconds;        /* 0 = 60 (FP_JOB_LEASE_S) */
  int heartbeat_ms;         /* 0 = lease / 3 */
  int poll_ms;              /* sleep when the queue is empty; 0 = 1000 (FP_JOB_POLL_MS) */
  int max_attempts;         /* 0 = 5 (FP_JOB_MAX_ATTEMPTS) */
  int backoff_base_ms;      /* first retry delay bound; 0 = 1000 (FP_JOB_BACKOFF_BASE_MS) */
  int backoff_cap_ms;       /* largest retry delay bound; 0 = 300000 (FP_JOB_BACKOFF_CAP_MS) */
  const char *owner_prefix; /* lease owner prefix; NULL = "<hostname>:<pid>"; copied */
} fp_worker_opts;

/* Zeroes o (every field then means its default) and fills job with fp_job_opts_default. */
void fp_worker_opts_default(fp_worker_opts *o);
/* Reads DATABASE_URL (default sqlite:///file_processing.db; the string stays borrowed from
 * c), FP_WORKERS, FP_JOB_MAX_ATTEMPTS, FP_JOB_LEASE_S, FP_JOB_POLL_MS,
 * FP_JOB_BACKOFF_BASE_MS and FP_JOB_BACKOFF_CAP_MS into o; other fields are left alone.
 * FP_ERR_CONFIG names a malformed or out-of-range value. */
fp_err fp_worker_opts_from_config(const fp_config *c, fp_worker_opts *o, fp_diag *d);

/* The delay before retry number `attempt` (1 = after the first failure): a uniform random
 * value in [0, min(cap_ms, base_ms * 2^(attempt-1))] ("full jitter"). rng is the caller's
 * xorshift state (any non-zero seed; 0 is replaced). */
int64_t fp_worker_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, uint64_t *rng);

/* The job duration histogram: FP_WORKER_DURATION_BUCKETS upper bounds in seconds,
 * ascending, the last one INFINITY (0.1 0.25 0.5 1 2.5 5 10 30 60 300 900 +Inf).
 * Borrowed static array. */
#define FP_WORKER_DURATION_BUCKETS 12
const double *fp_worker_duration_bounds(void);

/* Counters since the pool started (a snapshot). */
typedef struct fp_worker_stats {
  unsigned threads;      /* worker threads */
  unsigned busy;         /* threads running a job now */
  uint64_t claimed;      /* jobs claimed (attempts started) */
  uint64_t succeeded;    /* data analysed, outcome recorded */
  uint64_t retried;      /* transient failure, queued again with backoff */
  uint64_t failed;       /* not retryable: final */
  uint64_t dead;         /* transient failures until max_attempts: final */
  uint64_t released;     /* given back to the queue at shutdown */
  uint64_t lease_lost;   /* outcome not recorded: another owner holds the job */
  uint64_t store_errors; /* claim / heartbeat / outcome calls that failed */
  uint64_t rows, bytes;  /* processed by succeeded jobs */
  /* Durations of finished attempts (succeeded or not), per bucket (not cumulative). */
  uint64_t duration_count;
  double duration_sum_s, duration_max_s;
  uint64_t duration_bucket[FP_WORKER_DURATION_BUCKETS];
} fp_worker_stats;

typedef struct fp_worker_pool fp_worker_pool; /* opaque */

/* Opens the store handles (running migrations once), makes the object stores, starts the
 * threads. Nothing is started on error. Owned: free with fp_worker_pool_free. */
fp_err fp_worker_pool_start(const fp_worker_opts *o, fp_worker_pool **out, fp_diag *d);

/* Wakes idle workers now (e.g. after the listener enqueued a job in this process).
 * Thread-safe; NULL-safe. */
void fp_worker_pool_notify(fp_worker_pool *p);

/* Shutdown (SIGTERM). Stops claiming at once: an idle worker exits, a busy one exits after
 * its job; waits up to grace_seconds for the running jobs to finish and record their
 * outcome. The pipeline has no cancellation point, so a job still running when the grace
 * period ends cannot be interrupted: its lease is released instead (back to queued, the
 * attempt not counted; any replica may claim it at once) and heartbeats stop. Its thread
 * keeps running until the job ends by itself; what it then saves is harmless (a run row
 * that the next attempt replaces; its succeed/fail is refused as "lease lost").
 * Returns how many jobs were released that way (0 = every job finished in time). After a
 * non-zero return the caller should exit the process (the threads die with it, nothing
 * is lost); fp_worker_pool_free would wait for those jobs to end. Thread-safe; calling it
 * again waits again for what is still running. */
size_t fp_worker_pool_stop(fp_worker_pool *p, double grace_seconds);

/* A consistent snapshot of the counters. Thread-safe. */
void fp_worker_pool_stats(fp_worker_pool *p, fp_worker_stats *out);

/* Stops (if not stopped yet: waits for running jobs without a time limit), joins every
 * thread, closes the handles. NULL-safe. */
/* Appends Prometheus text for the pool's stats (threads, outcomes, rows/bytes, duration
 * histogram) to b; the listener's /metrics takes it through a hook. */
fp_err fp_worker_pool_metrics(fp_worker_pool *p, fp_buf *b);
void fp_worker_pool_free(fp_worker_pool *p);

#endif
