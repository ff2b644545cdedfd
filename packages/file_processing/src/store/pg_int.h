/* pg_int.h — private layout of the PostgreSQL backend, shared by store_pg.c (open,
 * migrations, runs, the libpq error adapter) and queue_pg.c (the job queue).
 *
 * Each handle prepares its statements once (PQprepare, named "fp_<slot>") on first use and
 * remembers which slots it prepared; a PQreset forgets them, since a new server session
 * has no prepared statements. Slots below FP__PG_RUN_SLOTS belong to store_pg.c, the rest
 * to queue_pg.c. */
#ifndef FP_PG_INT_H
#define FP_PG_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store/store_int.h"

#define FP__PG_RUN_SLOTS 16
#define FP__PG_QUEUE_SLOTS 16
#define FP__PG_SLOTS (FP__PG_RUN_SLOTS + FP__PG_QUEUE_SLOTS)

typedef struct fp__pg_store {
  fp_store base; /* first: fp_store * <-> fp__pg_store * */
  PGconn *conn;
  bool prepared[FP__PG_SLOTS];
  char shown[FP__STORE_URL_SHOWN]; /* URL as it may be printed (password masked) */
} fp__pg_store;

/* The adapter: a failed libpq call (res may be NULL) + what we were doing -> fp_err and
 * diag. Connection failures, SQLSTATE class 08, 57P01..57P03, 40001 and 40P01 are
 * FP_ERR_TRANSIENT; everything else FP_ERR_DB. Messages never carry the password. */
fp_err fp__pg_fail(fp__pg_store *s, const PGresult *res, fp_diag *d, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Before each operation: a broken connection gets one PQreset; FP_ERR_TRANSIENT if that
 * did not bring it back. */
fp_err fp__pg_ensure(fp__pg_store *s, fp_diag *d);
/* Runs the statement in slot (prepared from sql on first use) with n text parameters
 * (NULL = SQL NULL). *out (may be NULL) receives the result on success (PQclear it). */
fp_err fp__pg_exec(fp__pg_store *s, int slot, const char *sql, int n, const char *const *params,
                   PGresult **out, fp_diag *d, const char *what);
/* A parameterless command (BEGIN, COMMIT, ...) through the simple protocol. */
fp_err fp__pg_command(fp__pg_store *s, const char *sql, fp_diag *d, const char *what);
/* Rolls back the open transaction, if any. */
void fp__pg_rollback(fp__pg_store *s);
/* Copies the value (NULL stays NULL); false only when out of memory. */
bool fp__pg_dup(const PGresult *r, int row, int col, char **out);
/* The value as int64 (0 for NULL or garbage). */
int64_t fp__pg_i64(const PGresult *r, int row, int col);
/* Decimal text of v into buf[24]; returns buf. */
const char *fp__pg_itoa(int64_t v, char buf[24]);

/* queue_pg.c: the job-queue entries of the PostgreSQL ops table. */
fp_err fp__pg_enqueue(fp_store *s, const fp__job_new *jobs, size_t n, int64_t *ids, bool *created,
                      fp_diag *d);
fp_err fp__pg_claim(fp_store *s, const char *owner, int lease_seconds, int max_attempts,
                    fp_store_job *out, bool *got, fp_diag *d);
fp_err fp__pg_heartbeat(fp_store *s, int64_t id, const char *owner, int lease_seconds, fp_diag *d);
fp_err fp__pg_succeed(fp_store *s, int64_t id, const char *owner, int64_t run_id, fp_diag *d);
fp_err fp__pg_fail_job(fp_store *s, int64_t id, const char *owner, const char *error,
                       bool retryable, int max_attempts, int64_t retry_delay_ms,
                       fp_job_state *new_state, fp_diag *d);
fp_err fp__pg_release(fp_store *s, int64_t id, const char *owner, fp_diag *d);
fp_err fp__pg_get_job(fp_store *s, int64_t id, fp_store_job *out, fp_diag *d);
fp_err fp__pg_count_jobs(fp_store *s, int64_t counts[FP_JOB__STATE_COUNT], fp_diag *d);
fp_err fp__pg_queue_depth(fp_store *s, int64_t *n, fp_diag *d);

#endif
