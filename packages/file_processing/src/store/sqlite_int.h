/* sqlite_int.h — private layout of the SQLite backend, shared by store_sqlite.c (open,
 * migrations, runs) and queue_sqlite.c (the job queue).
 *
 * Each handle caches its prepared statements in one array: slots below FP__SQ_RUN_SLOTS
 * belong to store_sqlite.c, the rest to queue_sqlite.c. */
#ifndef FP_SQLITE_INT_H
#define FP_SQLITE_INT_H

#include <stdbool.h>

#include <sqlite3.h>

#include "store/store_int.h"

#define FP__SQ_RUN_SLOTS 16
#define FP__SQ_QUEUE_SLOTS 16

typedef struct fp__sq_store {
  fp_store base; /* first: fp_store * <-> fp__sq_store * */
  sqlite3 *db;
  sqlite3_stmt *st[FP__SQ_RUN_SLOTS + FP__SQ_QUEUE_SLOTS];
  char shown[FP__STORE_URL_SHOWN]; /* URL as it may be printed */
} fp__sq_store;

/* The adapter: SQLite result code + what we were doing -> fp_err and diag (BUSY/LOCKED
 * are FP_ERR_TRANSIENT, NOMEM FP_ERR_NOMEM, the rest FP_ERR_DB). */
fp_err fp__sq_fail(sqlite3 *db, int rc, fp_diag *d, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The statement in slot, prepared (persistent) from sql on first use. */
int fp__sq_stmt(fp__sq_store *s, int slot, const char *sql, sqlite3_stmt **out);
/* NULL binds SQL NULL; the text must outlive the step (SQLITE_STATIC). */
int fp__sq_bind_text(sqlite3_stmt *st, int i, const char *v);
/* Steps a bound write statement to completion (skipped when rc already failed), then
 * resets it and clears its bindings. */
int fp__sq_step_done(sqlite3_stmt *st, int rc);
/* Resets a statement and clears its bindings (NULL-safe). */
void fp__sq_reset(sqlite3_stmt *st);
/* Copies text column i into *out (NULL stays NULL); 0 only when a copy failed. */
int fp__sq_dup_column(sqlite3_stmt *st, int i, char **out);
/* Rolls back the open transaction, if any. */
void fp__sq_rollback(fp__sq_store *s);

/* queue_sqlite.c: the job-queue entries of the SQLite ops table. */
fp_err fp__sq_enqueue(fp_store *s, const fp__job_new *jobs, size_t n, int64_t *ids, bool *created,
                      fp_diag *d);
fp_err fp__sq_claim(fp_store *s, const char *owner, int lease_seconds, int max_attempts,
                    fp_store_job *out, bool *got, fp_diag *d);
fp_err fp__sq_heartbeat(fp_store *s, int64_t id, const char *owner, int lease_seconds, fp_diag *d);
fp_err fp__sq_succeed(fp_store *s, int64_t id, const char *owner, int64_t run_id, fp_diag *d);
fp_err fp__sq_fail_job(fp_store *s, int64_t id, const char *owner, const char *error,
                       bool retryable, int max_attempts, int64_t retry_delay_ms,
                       fp_job_state *new_state, fp_diag *d);
fp_err fp__sq_release(fp_store *s, int64_t id, const char *owner, fp_diag *d);
fp_err fp__sq_get_job(fp_store *s, int64_t id, fp_store_job *out, fp_diag *d);
fp_err fp__sq_count_jobs(fp_store *s, int64_t counts[FP_JOB__STATE_COUNT], fp_diag *d);
fp_err fp__sq_queue_depth(fp_store *s, int64_t *n, fp_diag *d);

#endif
