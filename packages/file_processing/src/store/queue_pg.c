/* queue_pg.c — the durable job queue (fp_jobs) on PostgreSQL.
 *
 * The same semantics as queue_sqlite.c, statement for statement:
 *   enqueue  look the idempotency key up, else INSERT ... ON CONFLICT (idempotency_key) DO
 *            NOTHING RETURNING id, else (a concurrent enqueue won) SELECT the id again;
 *            all refs of a call in one transaction (committed = durable).
 *   claim    one transaction: bury running jobs whose lease expired on their last allowed
 *            attempt, then UPDATE ... WHERE id = (SELECT id ... ORDER BY ... LIMIT 1 FOR
 *            UPDATE SKIP LOCKED) RETURNING the row, first among expired leases, then among
 *            due queued jobs. SKIP LOCKED makes concurrent claimers take different rows
 *            instead of waiting; the row lock makes a job running under one owner only.
 *   others   one UPDATE whose WHERE demands state = 'running' AND lease_owner = caller
 *            (0 rows -> FP_ERR_NOT_FOUND, "lease lost").
 * Times are the store clock as fixed-width ISO 8601 text, bound as parameters and compared
 * as text, exactly as on SQLite (the columns are TEXT on both backends). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp/fp_log.h"
#include "store/pg_int.h"

enum {
  Q_INSERT,
  Q_FIND_KEY,
  Q_EXPIRE_DEAD,
  Q_TAKE_EXPIRED,
  Q_TAKE_QUEUED,
  Q_GET,
  Q_HEARTBEAT,
  Q_SUCCEED,
  Q_FAIL,
  Q_RELEASE,
  Q_COUNTS,
  Q_DEPTH,
  Q__COUNT
};

_Static_assert(Q__COUNT <= FP__PG_QUEUE_SLOTS, "raise FP__PG_QUEUE_SLOTS");

#define JOB_COLUMNS                                                                  \
  "id, bucket, key, version_id, etag, sequencer, size, event_time, state, attempts," \
  " lease_owner, lease_expires_at, next_attempt_at, last_error, run_id, created_at," \
  " updated_at"

/* $1 now, $2 owner, $3 lease until */
#define TAKE_SET                                                                   \
  "UPDATE fp_jobs SET state = 'running', lease_owner = $2, lease_expires_at = $3," \
  " attempts = attempts + 1, updated_at = $1 WHERE id = (SELECT id FROM fp_jobs WHERE "

static const char *const qsql[Q__COUNT] = {
    [Q_INSERT] =
        "INSERT INTO fp_jobs (idempotency_key, bucket, key, version_id, etag,"
        " sequencer, size, event_time, state, attempts, next_attempt_at, created_at,"
        " updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', 0, $9, $9, $9)"
        " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
    [Q_FIND_KEY] = "SELECT id FROM fp_jobs WHERE idempotency_key = $1",
    /* $1 now, $2 max attempts (> 0) */
    [Q_EXPIRE_DEAD] =
        "UPDATE fp_jobs SET state = 'dead', updated_at = $1,"
        " last_error = 'lease of ' || COALESCE(lease_owner, '?') || ' expired at ' ||"
        " COALESCE(lease_expires_at, '?') || ' on attempt ' || attempts || ' of ' ||"
        " $2::int || ' (worker crashed or hung)' || COALESCE('; before: ' || last_error, ''),"
        " lease_owner = NULL, lease_expires_at = NULL"
        " WHERE id IN (SELECT id FROM fp_jobs WHERE state = 'running'"
        " AND lease_expires_at <= $1::text AND attempts >= $2::int FOR UPDATE SKIP LOCKED)"
        " RETURNING id, bucket, key, attempts",
    [Q_TAKE_EXPIRED] = TAKE_SET
    "state = 'running' AND lease_expires_at <= $1"
    " ORDER BY lease_expires_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING " JOB_COLUMNS,
    [Q_TAKE_QUEUED] = TAKE_SET
    "state = 'queued' AND next_attempt_at <= $1"
    " ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING " JOB_COLUMNS,
    [Q_GET] = "SELECT " JOB_COLUMNS " FROM fp_jobs WHERE id = $1",
    [Q_HEARTBEAT] =
        "UPDATE fp_jobs SET lease_expires_at = $3, updated_at = $4"
        " WHERE id = $1 AND state = 'running' AND lease_owner = $2",
    [Q_SUCCEED] =
        "UPDATE fp_jobs SET state = 'succeeded', lease_owner = NULL,"
        " lease_expires_at = NULL, run_id = $3, updated_at = $4"
        " WHERE id = $1 AND state = 'running' AND lease_owner = $2",
    /* $3 retryable, $4 max attempts (0 = no limit), $5 retry time, $6 error, $7 now */
    [Q_FAIL] =
        "UPDATE fp_jobs SET"
        " state = CASE WHEN $3::int = 0 THEN 'failed'"
        " WHEN $4::int > 0 AND attempts >= $4::int THEN 'dead' ELSE 'queued' END,"
        " next_attempt_at = CASE WHEN $3::int <> 0 AND ($4::int = 0 OR attempts < $4::int)"
        " THEN $5::text ELSE next_attempt_at END,"
        " last_error = $6, lease_owner = NULL, lease_expires_at = NULL, updated_at = $7"
        " WHERE id = $1 AND state = 'running' AND lease_owner = $2"
        " RETURNING state",
    [Q_RELEASE] =
        "UPDATE fp_jobs SET state = 'queued', lease_owner = NULL,"
        " lease_expires_at = NULL,"
        " attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END,"
        " updated_at = $3 WHERE id = $1 AND state = 'running' AND lease_owner = $2",
    [Q_COUNTS] = "SELECT state, count(*) FROM fp_jobs GROUP BY state",
    [Q_DEPTH] = "SELECT count(*) FROM fp_jobs WHERE state IN ('queued', 'running')",
};

static fp__pg_store *pg(fp_store *s) {
  return (fp__pg_store *)s;
}

static fp_err qexec(fp__pg_store *s, int which, int n, const char *const *params, PGresult **out,
                    fp_diag *d, const char *what) {
  return fp__pg_exec(s, FP__PG_RUN_SLOTS + which, qsql[which], n, params, out, d, what);
}

/* now + add_ms on the store's clock, as text. */
static void stamp(fp_store *s, int64_t add_ms, char out[32]) {
  int64_t now = fp__store_now_ms(s);
  fp__store_format_ms(add_ms > INT64_MAX - now ? INT64_MAX : now + add_ms, out);
}

static fp_job_state state_from_text(const char *t) {
  for (int i = 0; t && i < FP_JOB__STATE_COUNT; i++)
    if (strcmp(t, fp_job_state_name((fp_job_state)i)) == 0) return (fp_job_state)i;
  return FP_JOB__STATE_COUNT;
}

static fp_err lease_lost(int64_t id, const char *owner, const char *what, fp_diag *d) {
  return fp_diag_set(d, FP_ERR_NOT_FOUND,
                     "%s job %lld: lease lost (the job is not running under owner '%s')", what,
                     (long long)id, owner);
}

/* ---- enqueue ------------------------------------------------------------------------- */

static fp_err find_key(fp__pg_store *s, const char *key, int64_t *id, fp_diag *d) {
  PGresult *r = NULL;
  const char *p[1] = {key};
  *id = 0;
  fp_err e = qexec(s, Q_FIND_KEY, 1, p, &r, d, "enqueue: look up idempotency key");
  if (e) return e;
  if (PQntuples(r) > 0) *id = fp__pg_i64(r, 0, 0);
  PQclear(r);
  return FP_OK;
}

/* Looking first costs no identity value on a redelivery; ON CONFLICT guards the race with
 * a concurrent enqueue of the same key (it waits for that transaction, then does nothing). */
static fp_err insert_job(fp__pg_store *s, const fp__job_new *j, const char *now, int64_t *id,
                         bool *created, fp_diag *d) {
  const fp_object_ref *r = j->ref;
  char size[24];
  PGresult *res = NULL;
  *created = false;
  fp_err e = find_key(s, j->idem_key, id, d);
  if (e || *id) return e;
  const char *p[9] = {j->idem_key,
                      r->bucket,
                      r->key,
                      r->version_id,
                      r->etag,
                      r->sequencer,
                      r->size >= 0 ? fp__pg_itoa(r->size, size) : NULL,
                      r->event_time,
                      now};
  e = qexec(s, Q_INSERT, 9, p, &res, d, "enqueue: insert job");
  if (e) return e;
  if (PQntuples(res) > 0) {
    *id = fp__pg_i64(res, 0, 0);
    *created = true;
  }
  PQclear(res);
  if (*created) return FP_OK;
  e = find_key(s, j->idem_key, id, d);
  if (!e && *id == 0)
    e = fp_diag_set(d, FP_ERR_INTERNAL, "enqueue: job vanished after an insert conflict");
  return e;
}

fp_err fp__pg_enqueue(fp_store *base, const fp__job_new *jobs, size_t n, int64_t *ids,
                      bool *created, fp_diag *d) {
  fp__pg_store *s = pg(base);
  char now[32];
  stamp(base, 0, now);
  fp_err e = fp__pg_ensure(s, d);
  if (!e) e = fp__pg_command(s, "BEGIN", d, "enqueue: begin transaction");
  if (e) return e;
  for (size_t i = 0; !e && i < n; i++) {
    e = insert_job(s, &jobs[i], now, &ids[i], &created[i], d);
    if (e) fp_diag_key(d, jobs[i].ref->key);
  }
  if (!e) e = fp__pg_command(s, "COMMIT", d, "enqueue: commit");
  if (e) fp__pg_rollback(s);
  return e;
}

/* ---- reading one row ----------------------------------------------------------------- */

static bool read_job(const PGresult *r, fp_store_job *j) {
  j->id = fp__pg_i64(r, 0, 0);
  j->ref.size = PQgetisnull(r, 0, 6) ? -1 : fp__pg_i64(r, 0, 6);
  j->state = state_from_text(PQgetvalue(r, 0, 8));
  j->attempts = (int)fp__pg_i64(r, 0, 9);
  j->run_id = PQgetisnull(r, 0, 14) ? -1 : fp__pg_i64(r, 0, 14);
  return fp__pg_dup(r, 0, 1, &j->ref.bucket) && fp__pg_dup(r, 0, 2, &j->ref.key) &&
         fp__pg_dup(r, 0, 3, &j->ref.version_id) && fp__pg_dup(r, 0, 4, &j->ref.etag) &&
         fp__pg_dup(r, 0, 5, &j->ref.sequencer) && fp__pg_dup(r, 0, 7, &j->ref.event_time) &&
         fp__pg_dup(r, 0, 10, &j->lease_owner) && fp__pg_dup(r, 0, 11, &j->lease_expires_at) &&
         fp__pg_dup(r, 0, 12, &j->next_attempt_at) && fp__pg_dup(r, 0, 13, &j->last_error) &&
         fp__pg_dup(r, 0, 15, &j->created_at) && fp__pg_dup(r, 0, 16, &j->updated_at);
}

/* Fills out from the first row of r (a job row); FP_ERR_NOMEM when a copy failed. */
static fp_err job_from(const PGresult *r, fp_store_job *out, fp_diag *d) {
  if (read_job(r, out)) return FP_OK;
  fp_store_job_clear(out);
  return fp_diag_set(d, FP_ERR_NOMEM, "read job: out of memory");
}

fp_err fp__pg_get_job(fp_store *base, int64_t id, fp_store_job *out, fp_diag *d) {
  fp__pg_store *s = pg(base);
  char ibuf[24];
  const char *p[1] = {fp__pg_itoa(id, ibuf)};
  PGresult *r = NULL;
  fp_err e = fp__pg_ensure(s, d);
  if (!e) e = qexec(s, Q_GET, 1, p, &r, d, "get job");
  if (e) return e;
  if (PQntuples(r) == 0)
    e = fp_diag_set(d, FP_ERR_NOT_FOUND, "no job with id %lld", (long long)id);
  else
    e = job_from(r, out, d);
  PQclear(r);
  return e;
}

/* ---- claim --------------------------------------------------------------------------- */

static fp_err bury_expired(fp__pg_store *s, const char *now, int max_attempts, fp_diag *d) {
  char mbuf[24];
  const char *p[2] = {now, fp__pg_itoa(max_attempts, mbuf)};
  PGresult *r = NULL;
  fp_err e = qexec(s, Q_EXPIRE_DEAD, 2, p, &r, d, "claim: bury expired jobs");
  if (e) return e;
  for (int i = 0; i < PQntuples(r); i++)
    fp_error("job %s dead: s3://%s/%s: lease expired on attempt %s of %d (worker lost)",
             PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
             max_attempts);
  PQclear(r);
  return FP_OK;
}

static fp_err claim_steps(fp__pg_store *s, const char *owner, int lease_seconds, int max_attempts,
                          fp_store_job *out, bool *got, fp_diag *d) {
  char now[32], until[32];
  stamp(&s->base, 0, now);
  stamp(&s->base, (int64_t)lease_seconds * 1000, until);
  fp_err e = max_attempts > 0 ? bury_expired(s, now, max_attempts, d) : FP_OK;
  const char *p[3] = {now, owner, until};
  static const int order[2] = {Q_TAKE_EXPIRED, Q_TAKE_QUEUED};
  for (int i = 0; !e && !*got && i < 2; i++) {
    PGresult *r = NULL;
    e = qexec(s, order[i], 3, p, &r, d, "claim: take a job");
    if (e) break;
    if (PQntuples(r) > 0) {
      e = job_from(r, out, d);
      if (!e) *got = true;
    }
    PQclear(r);
  }
  return e;
}

fp_err fp__pg_claim(fp_store *base, const char *owner, int lease_seconds, int max_attempts,
                    fp_store_job *out, bool *got, fp_diag *d) {
  fp__pg_store *s = pg(base);
  fp_err e = fp__pg_ensure(s, d);
  if (!e) e = fp__pg_command(s, "BEGIN", d, "claim: begin transaction");
  if (e) return e;
  e = claim_steps(s, owner, lease_seconds, max_attempts, out, got, d);
  if (!e) e = fp__pg_command(s, "COMMIT", d, "claim: commit");
  if (e) {
    fp__pg_rollback(s);
    fp_store_job_clear(out);
    *got = false;
  }
  return e;
}

/* ---- lease-checked state changes ----------------------------------------------------- */

static fp_err lease_update(fp__pg_store *s, int which, int n, const char *const *p, int64_t id,
                           const char *owner, const char *what, fp_diag *d) {
  PGresult *r = NULL;
  char op[64];
  snprintf(op, sizeof op, "%s job %lld", what, (long long)id);
  fp_err e = fp__pg_ensure(s, d);
  if (!e) e = qexec(s, which, n, p, &r, d, op);
  if (e) return e;
  const char *tuples = PQcmdTuples(r);
  bool changed = tuples && *tuples && strcmp(tuples, "0") != 0;
  PQclear(r);
  return changed ? FP_OK : lease_lost(id, owner, what, d);
}

fp_err fp__pg_heartbeat(fp_store *base, int64_t id, const char *owner, int lease_seconds,
                        fp_diag *d) {
  char now[32], until[32], ibuf[24];
  stamp(base, 0, now);
  stamp(base, (int64_t)lease_seconds * 1000, until);
  const char *p[4] = {fp__pg_itoa(id, ibuf), owner, until, now};
  return lease_update(pg(base), Q_HEARTBEAT, 4, p, id, owner, "heartbeat", d);
}

fp_err fp__pg_succeed(fp_store *base, int64_t id, const char *owner, int64_t run_id, fp_diag *d) {
  char now[32], ibuf[24], rbuf[24];
  stamp(base, 0, now);
  const char *p[4] = {fp__pg_itoa(id, ibuf), owner, run_id > 0 ? fp__pg_itoa(run_id, rbuf) : NULL,
                      now};
  return lease_update(pg(base), Q_SUCCEED, 4, p, id, owner, "succeed", d);
}

fp_err fp__pg_release(fp_store *base, int64_t id, const char *owner, fp_diag *d) {
  char now[32], ibuf[24];
  stamp(base, 0, now);
  const char *p[3] = {fp__pg_itoa(id, ibuf), owner, now};
  return lease_update(pg(base), Q_RELEASE, 3, p, id, owner, "release", d);
}

fp_err fp__pg_fail_job(fp_store *base, int64_t id, const char *owner, const char *error,
                       bool retryable, int max_attempts, int64_t retry_delay_ms,
                       fp_job_state *new_state, fp_diag *d) {
  fp__pg_store *s = pg(base);
  char now[32], retry_at[32], ibuf[24], mbuf[24];
  stamp(base, 0, now);
  stamp(base, retry_delay_ms, retry_at);
  const char *p[7] = {fp__pg_itoa(id, ibuf),
                      owner,
                      retryable ? "1" : "0",
                      fp__pg_itoa(max_attempts, mbuf),
                      retry_at,
                      error,
                      now};
  PGresult *r = NULL;
  char op[64];
  snprintf(op, sizeof op, "fail job %lld", (long long)id);
  fp_err e = fp__pg_ensure(s, d);
  if (!e) e = qexec(s, Q_FAIL, 7, p, &r, d, op);
  if (e) return e;
  fp_job_state to = PQntuples(r) > 0 ? state_from_text(PQgetvalue(r, 0, 0)) : FP_JOB__STATE_COUNT;
  PQclear(r);
  if (to == FP_JOB__STATE_COUNT) return lease_lost(id, owner, "fail", d);
  *new_state = to;
  return FP_OK;
}

/* ---- counting ------------------------------------------------------------------------ */

fp_err fp__pg_count_jobs(fp_store *base, int64_t counts[FP_JOB__STATE_COUNT], fp_diag *d) {
  fp__pg_store *s = pg(base);
  PGresult *r = NULL;
  fp_err e = fp__pg_ensure(s, d);
  if (!e) e = qexec(s, Q_COUNTS, 0, NULL, &r, d, "count jobs");
  if (e) return e;
  for (int i = 0; i < PQntuples(r); i++) {
    fp_job_state k = state_from_text(PQgetvalue(r, i, 0));
    if (k < FP_JOB__STATE_COUNT) counts[k] = fp__pg_i64(r, i, 1);
  }
  PQclear(r);
  return FP_OK;
}

fp_err fp__pg_queue_depth(fp_store *base, int64_t *n, fp_diag *d) {
  fp__pg_store *s = pg(base);
  PGresult *r = NULL;
  fp_err e = fp__pg_ensure(s, d);
  if (!e) e = qexec(s, Q_DEPTH, 0, NULL, &r, d, "queue depth");
  if (e) return e;
  *n = fp__pg_i64(r, 0, 0);
  PQclear(r);
  return FP_OK;
}
