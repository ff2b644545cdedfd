/* queue_sqlite.c — the durable job queue (fp_jobs) on SQLite.
 *
 * Claims run in one BEGIN IMMEDIATE transaction: SQLite has a single writer, so taking the
 * write lock first makes "find the next claimable row, mark it running" atomic across
 * threads and processes (waiting up to the handle's busy timeout, then FP_ERR_TRANSIENT).
 * Every other state change is one UPDATE whose WHERE clause demands state = 'running' AND
 * lease_owner = the caller, so a worker whose lease was taken over changes nothing (0 rows
 * -> FP_ERR_NOT_FOUND, "lease lost").
 *
 * Times are the store clock (fp__store_now_ms) rendered as fixed-width ISO 8601 text and
 * bound as parameters; comparing those as text compares them as times. The enqueue
 * transaction is committed with synchronous = FULL (the WAL is fsynced at commit) because
 * the listener answers 200 on it; other writes keep the handle's NORMAL, where a power
 * loss can at worst roll back a state change and so re-run a job.
 *
 * The same interface on PostgreSQL (issue 6) maps one to one: enqueue = INSERT ... ON
 * CONFLICT (idempotency_key) DO NOTHING RETURNING id, else SELECT id; claim = UPDATE
 * fp_jobs SET ... WHERE id = (SELECT id ... ORDER BY ... LIMIT 1 FOR UPDATE SKIP LOCKED)
 * RETURNING ...; the lease-checked UPDATEs are the same statements. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp/fp_log.h"
#include "store/sqlite_int.h"

enum {
  Q_INSERT,
  Q_FIND_KEY,
  Q_EXPIRE_DEAD,
  Q_PICK_EXPIRED,
  Q_PICK_QUEUED,
  Q_TAKE,
  Q_GET,
  Q_HEARTBEAT,
  Q_SUCCEED,
  Q_FAIL,
  Q_RELEASE,
  Q_COUNTS,
  Q_DEPTH,
  Q__COUNT
};

_Static_assert(Q__COUNT <= FP__SQ_QUEUE_SLOTS, "raise FP__SQ_QUEUE_SLOTS");

#define JOB_COLUMNS                                                                  \
  "id, bucket, key, version_id, etag, sequencer, size, event_time, state, attempts," \
  " lease_owner, lease_expires_at, next_attempt_at, last_error, run_id, created_at," \
  " updated_at"

static const char *const qsql[Q__COUNT] = {
    [Q_INSERT] =
        "INSERT INTO fp_jobs (idempotency_key, bucket, key, version_id, etag,"
        " sequencer, size, event_time, state, attempts, next_attempt_at, created_at,"
        " updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'queued', 0, ?9, ?9, ?9)"
        " ON CONFLICT (idempotency_key) DO NOTHING",
    [Q_FIND_KEY] = "SELECT id FROM fp_jobs WHERE idempotency_key = ?1",
    /* ?1 now, ?2 max attempts (> 0) */
    [Q_EXPIRE_DEAD] =
        "UPDATE fp_jobs SET state = 'dead', updated_at = ?1,"
        " last_error = 'lease of ' || COALESCE(lease_owner, '?') || ' expired at ' ||"
        " COALESCE(lease_expires_at, '?') || ' on attempt ' || attempts || ' of ' || ?2 ||"
        " ' (worker crashed or hung)' || COALESCE('; before: ' || last_error, ''),"
        " lease_owner = NULL, lease_expires_at = NULL"
        " WHERE state = 'running' AND lease_expires_at <= ?1 AND attempts >= ?2"
        " RETURNING id, bucket, key, attempts",
    [Q_PICK_EXPIRED] =
        "SELECT id FROM fp_jobs WHERE state = 'running' AND lease_expires_at <= ?1"
        " ORDER BY lease_expires_at, id LIMIT 1",
    [Q_PICK_QUEUED] =
        "SELECT id FROM fp_jobs WHERE state = 'queued' AND next_attempt_at <= ?1"
        " ORDER BY next_attempt_at, id LIMIT 1",
    [Q_TAKE] =
        "UPDATE fp_jobs SET state = 'running', lease_owner = ?2, lease_expires_at = ?3,"
        " attempts = attempts + 1, updated_at = ?4 WHERE id = ?1",
    [Q_GET] = "SELECT " JOB_COLUMNS " FROM fp_jobs WHERE id = ?1",
    [Q_HEARTBEAT] =
        "UPDATE fp_jobs SET lease_expires_at = ?3, updated_at = ?4"
        " WHERE id = ?1 AND state = 'running' AND lease_owner = ?2",
    [Q_SUCCEED] =
        "UPDATE fp_jobs SET state = 'succeeded', lease_owner = NULL,"
        " lease_expires_at = NULL, run_id = ?3, updated_at = ?4"
        " WHERE id = ?1 AND state = 'running' AND lease_owner = ?2",
    /* ?3 retryable, ?4 max attempts (0 = no limit), ?5 retry time, ?6 error, ?7 now */
    [Q_FAIL] =
        "UPDATE fp_jobs SET"
        " state = CASE WHEN ?3 = 0 THEN 'failed'"
        " WHEN ?4 > 0 AND attempts >= ?4 THEN 'dead' ELSE 'queued' END,"
        " next_attempt_at = CASE WHEN ?3 <> 0 AND (?4 = 0 OR attempts < ?4) THEN ?5"
        " ELSE next_attempt_at END,"
        " last_error = ?6, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?7"
        " WHERE id = ?1 AND state = 'running' AND lease_owner = ?2"
        " RETURNING state",
    [Q_RELEASE] =
        "UPDATE fp_jobs SET state = 'queued', lease_owner = NULL,"
        " lease_expires_at = NULL,"
        " attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END,"
        " updated_at = ?3 WHERE id = ?1 AND state = 'running' AND lease_owner = ?2",
    [Q_COUNTS] = "SELECT state, count(*) FROM fp_jobs GROUP BY state",
    [Q_DEPTH] = "SELECT count(*) FROM fp_jobs WHERE state IN ('queued', 'running')",
};

static fp__sq_store *sq(fp_store *s) {
  return (fp__sq_store *)s;
}

static int qstmt(fp__sq_store *s, int which, sqlite3_stmt **out) {
  return fp__sq_stmt(s, FP__SQ_RUN_SLOTS + which, qsql[which], out);
}

/* now + add_ms on the store's clock, as text. */
static void stamp(fp_store *s, int64_t add_ms, char out[32]) {
  int64_t now = fp__store_now_ms(s);
  fp__store_format_ms(add_ms > INT64_MAX - now ? INT64_MAX : now + add_ms, out);
}

static fp_job_state state_from_text(const unsigned char *t) {
  for (int i = 0; t && i < FP_JOB__STATE_COUNT; i++)
    if (strcmp((const char *)t, fp_job_state_name((fp_job_state)i)) == 0) return (fp_job_state)i;
  return FP_JOB__STATE_COUNT;
}

static fp_err lease_lost(int64_t id, const char *owner, const char *what, fp_diag *d) {
  return fp_diag_set(d, FP_ERR_NOT_FOUND,
                     "%s job %lld: lease lost (the job is not running under owner '%s')", what,
                     (long long)id, owner);
}

/* ---- enqueue ------------------------------------------------------------------------- */

/* *id = the job with this idempotency key, 0 when none. */
static int find_key(fp__sq_store *s, const char *key, int64_t *id) {
  sqlite3_stmt *st = NULL;
  *id = 0;
  int rc = qstmt(s, Q_FIND_KEY, &st);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 1, key);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *id = sqlite3_column_int64(st, 0);
  fp__sq_reset(st);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Looks the key up first (we hold the write lock, so nobody can add it in between): a
 * redelivery then costs no id, since even a conflicting INSERT consumes one from the
 * AUTOINCREMENT sequence. ON CONFLICT stays as the guard the statement carries anyway. */
static int insert_job(fp__sq_store *s, const fp__job_new *j, const char *now, int64_t *id,
                      bool *created) {
  sqlite3_stmt *st = NULL;
  const fp_object_ref *r = j->ref;
  *created = false;
  int rc = find_key(s, j->idem_key, id);
  if (rc != SQLITE_OK || *id) return rc;
  rc = qstmt(s, Q_INSERT, &st);
  if (rc != SQLITE_OK) return rc;
  rc = fp__sq_bind_text(st, 1, j->idem_key);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 2, r->bucket);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 3, r->key);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 4, r->version_id);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 5, r->etag);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 6, r->sequencer);
  if (rc == SQLITE_OK)
    rc = r->size >= 0 ? sqlite3_bind_int64(st, 7, r->size) : sqlite3_bind_null(st, 7);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 8, r->event_time);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 9, now);
  rc = fp__sq_step_done(st, rc);
  if (rc != SQLITE_OK) return rc;
  *created = sqlite3_changes(s->db) > 0;
  if (*created) {
    *id = sqlite3_last_insert_rowid(s->db);
    return SQLITE_OK;
  }
  rc = find_key(s, j->idem_key, id);
  return rc == SQLITE_OK && *id == 0 ? SQLITE_INTERNAL : rc;
}

fp_err fp__sq_enqueue(fp_store *base, const fp__job_new *jobs, size_t n, int64_t *ids,
                      bool *created, fp_diag *d) {
  fp__sq_store *s = sq(base);
  char now[32];
  stamp(base, 0, now);
  int full = sqlite3_exec(s->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) == SQLITE_OK;
  fp_err e = FP_OK;
  int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (rc != SQLITE_OK) e = fp__sq_fail(s->db, rc, d, "enqueue: begin transaction");
  for (size_t i = 0; !e && i < n; i++) {
    rc = insert_job(s, &jobs[i], now, &ids[i], &created[i]);
    if (rc != SQLITE_OK) {
      e = fp__sq_fail(s->db, rc, d, "enqueue s3://%s/%s", jobs[i].ref->bucket, jobs[i].ref->key);
      fp_diag_key(d, jobs[i].ref->key);
    }
  }
  if (!e) {
    rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) e = fp__sq_fail(s->db, rc, d, "enqueue: commit");
  }
  if (e) fp__sq_rollback(s);
  if (full) sqlite3_exec(s->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
  return e;
}

/* ---- reading one row ----------------------------------------------------------------- */

static int read_job(sqlite3_stmt *st, fp_store_job *j) {
  j->id = sqlite3_column_int64(st, 0);
  j->ref.size = sqlite3_column_type(st, 6) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 6);
  j->state = state_from_text(sqlite3_column_text(st, 8));
  j->attempts = sqlite3_column_int(st, 9);
  j->run_id = sqlite3_column_type(st, 14) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 14);
  return fp__sq_dup_column(st, 1, &j->ref.bucket) && fp__sq_dup_column(st, 2, &j->ref.key) &&
         fp__sq_dup_column(st, 3, &j->ref.version_id) && fp__sq_dup_column(st, 4, &j->ref.etag) &&
         fp__sq_dup_column(st, 5, &j->ref.sequencer) &&
         fp__sq_dup_column(st, 7, &j->ref.event_time) &&
         fp__sq_dup_column(st, 10, &j->lease_owner) &&
         fp__sq_dup_column(st, 11, &j->lease_expires_at) &&
         fp__sq_dup_column(st, 12, &j->next_attempt_at) &&
         fp__sq_dup_column(st, 13, &j->last_error) && fp__sq_dup_column(st, 15, &j->created_at) &&
         fp__sq_dup_column(st, 16, &j->updated_at);
}

/* Reads row id into out; SQLITE_DONE when there is none. */
static int get_row(fp__sq_store *s, int64_t id, fp_store_job *out) {
  sqlite3_stmt *st = NULL;
  int rc = qstmt(s, Q_GET, &st);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 1, id);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) rc = read_job(st, out) ? SQLITE_OK : SQLITE_NOMEM;
  fp__sq_reset(st);
  if (rc != SQLITE_OK) fp_store_job_clear(out);
  return rc;
}

fp_err fp__sq_get_job(fp_store *base, int64_t id, fp_store_job *out, fp_diag *d) {
  fp__sq_store *s = sq(base);
  int rc = get_row(s, id, out);
  if (rc == SQLITE_DONE)
    return fp_diag_set(d, FP_ERR_NOT_FOUND, "no job with id %lld", (long long)id);
  return rc == SQLITE_OK ? FP_OK : fp__sq_fail(s->db, rc, d, "get job %lld", (long long)id);
}

/* ---- claim --------------------------------------------------------------------------- */

/* Running jobs whose lease expired after their last allowed attempt become dead. */
static int bury_expired(fp__sq_store *s, const char *now, int max_attempts) {
  sqlite3_stmt *st = NULL;
  int rc = qstmt(s, Q_EXPIRE_DEAD, &st);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 1, now);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int(st, 2, max_attempts);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    fp_error("job %lld dead: s3://%s/%s: lease expired on attempt %d of %d (worker lost)",
             (long long)sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
             (const char *)sqlite3_column_text(st, 2), sqlite3_column_int(st, 3), max_attempts);
    rc = SQLITE_OK;
  }
  fp__sq_reset(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The id of the first row of a pick query at now; 0 when none. */
static int pick(fp__sq_store *s, int which, const char *now, int64_t *id) {
  sqlite3_stmt *st = NULL;
  *id = 0;
  int rc = qstmt(s, which, &st);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 1, now);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *id = sqlite3_column_int64(st, 0);
  fp__sq_reset(st);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int take(fp__sq_store *s, int64_t id, const char *owner, const char *until,
                const char *now) {
  sqlite3_stmt *st = NULL;
  int rc = qstmt(s, Q_TAKE, &st);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 1, id);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 2, owner);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 3, until);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 4, now);
  return fp__sq_step_done(st, rc);
}

/* The body of the claim transaction; *id = 0 when nothing is claimable. */
static int claim_steps(fp__sq_store *s, const char *owner, int lease_seconds, int max_attempts,
                       fp_store_job *out, int64_t *id) {
  char now[32], until[32];
  stamp(&s->base, 0, now);
  stamp(&s->base, (int64_t)lease_seconds * 1000, until);
  int rc = max_attempts > 0 ? bury_expired(s, now, max_attempts) : SQLITE_OK;
  if (rc == SQLITE_OK) rc = pick(s, Q_PICK_EXPIRED, now, id);
  if (rc == SQLITE_OK && *id == 0) rc = pick(s, Q_PICK_QUEUED, now, id);
  if (rc != SQLITE_OK || *id == 0) return rc;
  rc = take(s, *id, owner, until, now);
  if (rc == SQLITE_OK) rc = get_row(s, *id, out);
  return rc == SQLITE_DONE ? SQLITE_INTERNAL : rc;
}

fp_err fp__sq_claim(fp_store *base, const char *owner, int lease_seconds, int max_attempts,
                    fp_store_job *out, bool *got, fp_diag *d) {
  fp__sq_store *s = sq(base);
  int64_t id = 0;
  int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (rc != SQLITE_OK) return fp__sq_fail(s->db, rc, d, "claim: begin transaction");
  rc = claim_steps(s, owner, lease_seconds, max_attempts, out, &id);
  if (rc == SQLITE_OK) rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    fp_err e = fp__sq_fail(s->db, rc, d, "claim a job for '%s'", owner);
    fp__sq_rollback(s);
    fp_store_job_clear(out);
    return e;
  }
  *got = id != 0;
  return FP_OK;
}

/* ---- lease-checked state changes ----------------------------------------------------- */

/* Steps a bound lease-checked UPDATE; FP_ERR_NOT_FOUND when it matched no row. */
static fp_err lease_update(fp__sq_store *s, sqlite3_stmt *st, int rc, int64_t id, const char *owner,
                           const char *what, fp_diag *d) {
  rc = fp__sq_step_done(st, rc);
  if (rc != SQLITE_OK) return fp__sq_fail(s->db, rc, d, "%s job %lld", what, (long long)id);
  return sqlite3_changes(s->db) > 0 ? FP_OK : lease_lost(id, owner, what, d);
}

fp_err fp__sq_heartbeat(fp_store *base, int64_t id, const char *owner, int lease_seconds,
                        fp_diag *d) {
  fp__sq_store *s = sq(base);
  char now[32], until[32];
  stamp(base, 0, now);
  stamp(base, (int64_t)lease_seconds * 1000, until);
  sqlite3_stmt *st = NULL;
  int rc = qstmt(s, Q_HEARTBEAT, &st);
  if (rc != SQLITE_OK) return fp__sq_fail(s->db, rc, d, "heartbeat job %lld", (long long)id);
  rc = sqlite3_bind_int64(st, 1, id);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 2, owner);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 3, until);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 4, now);
  return lease_update(s, st, rc, id, owner, "heartbeat", d);
}

fp_err fp__sq_succeed(fp_store *base, int64_t id, const char *owner, int64_t run_id, fp_diag *d) {
  fp__sq_store *s = sq(base);
  char now[32];
  stamp(base, 0, now);
  sqlite3_stmt *st = NULL;
  int rc = qstmt(s, Q_SUCCEED, &st);
  if (rc != SQLITE_OK) return fp__sq_fail(s->db, rc, d, "succeed job %lld", (long long)id);
  rc = sqlite3_bind_int64(st, 1, id);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 2, owner);
  if (rc == SQLITE_OK)
    rc = run_id > 0 ? sqlite3_bind_int64(st, 3, run_id) : sqlite3_bind_null(st, 3);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 4, now);
  return lease_update(s, st, rc, id, owner, "succeed", d);
}

fp_err fp__sq_release(fp_store *base, int64_t id, const char *owner, fp_diag *d) {
  fp__sq_store *s = sq(base);
  char now[32];
  stamp(base, 0, now);
  sqlite3_stmt *st = NULL;
  int rc = qstmt(s, Q_RELEASE, &st);
  if (rc != SQLITE_OK) return fp__sq_fail(s->db, rc, d, "release job %lld", (long long)id);
  rc = sqlite3_bind_int64(st, 1, id);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 2, owner);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 3, now);
  return lease_update(s, st, rc, id, owner, "release", d);
}

fp_err fp__sq_fail_job(fp_store *base, int64_t id, const char *owner, const char *error,
                       bool retryable, int max_attempts, int64_t retry_delay_ms,
                       fp_job_state *new_state, fp_diag *d) {
  fp__sq_store *s = sq(base);
  char now[32], retry_at[32];
  stamp(base, 0, now);
  stamp(base, retry_delay_ms, retry_at);
  sqlite3_stmt *st = NULL;
  int rc = qstmt(s, Q_FAIL, &st);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 1, id);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 2, owner);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int(st, 3, retryable ? 1 : 0);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int(st, 4, max_attempts);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 5, retry_at);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 6, error);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 7, now);
  fp_job_state to = FP_JOB__STATE_COUNT;
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    to = state_from_text(sqlite3_column_text(st, 0));
    rc = sqlite3_step(st); /* RETURNING: run the statement to completion */
  }
  if (rc == SQLITE_DONE) rc = SQLITE_OK;
  fp__sq_reset(st);
  if (rc != SQLITE_OK) return fp__sq_fail(s->db, rc, d, "fail job %lld", (long long)id);
  if (to == FP_JOB__STATE_COUNT) return lease_lost(id, owner, "fail", d);
  *new_state = to;
  return FP_OK;
}

/* ---- counting ------------------------------------------------------------------------ */

fp_err fp__sq_count_jobs(fp_store *base, int64_t counts[FP_JOB__STATE_COUNT], fp_diag *d) {
  fp__sq_store *s = sq(base);
  sqlite3_stmt *st = NULL;
  int rc = qstmt(s, Q_COUNTS, &st);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    fp_job_state k = state_from_text(sqlite3_column_text(st, 0));
    if (k < FP_JOB__STATE_COUNT) counts[k] = sqlite3_column_int64(st, 1);
    rc = SQLITE_OK;
  }
  fp__sq_reset(st);
  return rc == SQLITE_DONE ? FP_OK : fp__sq_fail(s->db, rc, d, "count jobs");
}

fp_err fp__sq_queue_depth(fp_store *base, int64_t *n, fp_diag *d) {
  fp__sq_store *s = sq(base);
  sqlite3_stmt *st = NULL;
  int rc = qstmt(s, Q_DEPTH, &st);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *n = sqlite3_column_int64(st, 0);
  fp__sq_reset(st);
  return rc == SQLITE_ROW ? FP_OK : fp__sq_fail(s->db, rc, d, "queue depth");
}
