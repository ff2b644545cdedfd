/* test_queue.c — the durable job queue (fp_jobs) on SQLite: idempotent enqueue, claim
 * order, leases (expiry, re-claim, heartbeats, a stolen lease blocking the old owner),
 * retries with backoff, dead and failed jobs, release, counts, the schema upgrade from
 * version 1, and concurrent claims from several handles. Time is the store's test clock
 * (fp__store_set_clock), so lease and backoff tests never sleep; rows are checked through
 * a second sqlite3 connection where it matters.
 *
 * The same tests run a second time against PostgreSQL when FP_TEST_PG_URL is set (see
 * tests/support/pg_harness.sh): each starts from an empty database, and rows are checked
 * through a separate libpq connection. Without the variable that group is skipped with a
 * message. */
#include "fp_test.h"
#include "fp_test_pg.h"

#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>

#include <sqlite3.h>

#include "fp/fp_log.h"
#include "fp/fp_store.h"
#include "store/store_int.h"

/* ---- fixture: a temp dir with a database path in it -------------------------------- */

typedef struct fx {
  char dir[128];
  char path[256]; /* "" on PostgreSQL */
  char url[600];
  int64_t now_ms; /* the fake clock the stores of this test read */
} fx;

#define T0 1714564800000LL /* 2024-05-01T12:00:00.000Z */

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  if (!f) return -1;
  fp_test_tmpdir(f->dir, sizeof f->dir);
  if (!f->dir[0]) return -1;
  snprintf(f->path, sizeof f->path, "%s/queue.db", f->dir);
  snprintf(f->url, sizeof f->url, "sqlite:///%s", f->path);
  f->now_ms = T0;
  *state = f;
  return 0;
}

/* The PostgreSQL group: the test server's database, emptied. */
static int fx_setup_pg(void **state) {
  fx *f = calloc(1, sizeof *f);
  if (!f) return -1;
  snprintf(f->url, sizeof f->url, "%s", fp_test_pg_url());
  fp_test_pg_reset(f->url);
  f->now_ms = T0;
  *state = f;
  return 0;
}

static bool is_pg(const fx *f) {
  return f->path[0] == '\0';
}

static int fx_teardown(void **state) {
  fx *f = *state;
  if (is_pg(f)) {
    free(f);
    return 0;
  }
  fp_test_rmtree(f->dir);
  free(f);
  return 0;
}

static int64_t fake_clock(void *ud) {
  return ((fx *)ud)->now_ms;
}

static fp_store *open_store(fx *f) {
  fp_diag d;
  fp_diag_clear(&d);
  fp_store *s = NULL;
  fp_err e = fp_store_open(f->url, &s, &d);
  if (e) fail_msg("open %s: %s: %s", f->url, fp_err_name(e), d.msg);
  fp__store_set_clock(s, fake_clock, f);
  return s;
}

static sqlite3 *peer_open(const char *path) {
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  return db;
}

static long long q_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    fail_msg("%s: %s", sql, sqlite3_errmsg(db));
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  long long v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* One integer from direct SQL on whichever backend the test runs on. */
static long long peer_int(const fx *f, const char *sql) {
  if (is_pg(f)) return fp_test_pg_int(f->url, sql);
  sqlite3 *db = peer_open(f->path);
  long long v = q_int(db, sql);
  sqlite3_close(db);
  return v;
}

static void expect_contains(const char *hay, const char *needle) {
  if (!hay || !strstr(hay, needle)) fail_msg("expected '%s' in '%s'", needle, hay ? hay : "(null)");
}

static fp_object_ref mkref(const char *key, const char *version_id, const char *etag) {
  fp_object_ref r;
  memset(&r, 0, sizeof r);
  r.bucket = "raw-bucket";
  r.key = (char *)key;
  r.version_id = (char *)version_id;
  r.etag = (char *)etag;
  r.size = -1;
  return r;
}

/* Enqueues and checks the outcome; returns the job id. */
static int64_t enqueue_ok(fp_store *s, const fp_object_ref *r, bool want_created) {
  fp_diag d;
  fp_diag_clear(&d);
  int64_t id = -7;
  bool created = !want_created;
  fp_err e = fp_store_enqueue(s, r, &id, &created, &d);
  if (e) fail_msg("enqueue: %s: %s", fp_err_name(e), d.msg);
  assert_int_equal(created, want_created);
  assert_true(id > 0);
  return id;
}

/* Claims and expects a job (want_id > 0) or none (want_id == 0). out may be NULL. */
static void claim_expect(fp_store *s, const char *owner, int lease, int max, int64_t want_id,
                         fp_store_job *out) {
  fp_diag d;
  fp_diag_clear(&d);
  fp_store_job j;
  bool got = !want_id;
  fp_err e = fp_store_claim(s, owner, lease, max, &j, &got, &d);
  if (e) fail_msg("claim: %s: %s", fp_err_name(e), d.msg);
  if (want_id == 0) {
    if (got) fail_msg("expected no claimable job, got job %lld", (long long)j.id);
    assert_int_equal(j.id, 0);
    fp_store_job_clear(&j);
    return;
  }
  if (!got) fail_msg("expected to claim job %lld, got none", (long long)want_id);
  assert_int_equal(j.id, want_id);
  assert_int_equal(j.state, FP_JOB_RUNNING);
  assert_string_equal(j.lease_owner, owner);
  if (out)
    *out = j;
  else
    fp_store_job_clear(&j);
}

static fp_store_job get_ok(fp_store *s, int64_t id) {
  fp_diag d;
  fp_diag_clear(&d);
  fp_store_job j;
  fp_err e = fp_store_job_get(s, id, &j, &d);
  if (e) fail_msg("get %lld: %s: %s", (long long)id, fp_err_name(e), d.msg);
  return j;
}

static void expect_state(fp_store *s, int64_t id, fp_job_state want, int attempts) {
  fp_store_job j = get_ok(s, id);
  if (j.state != want)
    fail_msg("job %lld: state %s, expected %s", (long long)id, fp_job_state_name(j.state),
             fp_job_state_name(want));
  assert_int_equal(j.attempts, attempts);
  fp_store_job_clear(&j);
}

static fp_job_state fail_ok(fp_store *s, int64_t id, const char *owner, const char *err,
                            bool retryable, int max, int64_t delay_ms) {
  fp_diag d;
  fp_diag_clear(&d);
  fp_job_state st = FP_JOB__STATE_COUNT;
  fp_err e = fp_store_job_fail(s, id, owner, err, retryable, max, delay_ms, &st, &d);
  if (e) fail_msg("fail %lld: %s: %s", (long long)id, fp_err_name(e), d.msg);
  return st;
}

/* ---- basics ------------------------------------------------------------------------ */

static void test_state_names_and_time_format(void **state) {
  (void)state;
  assert_string_equal(fp_job_state_name(FP_JOB_QUEUED), "queued");
  assert_string_equal(fp_job_state_name(FP_JOB_RUNNING), "running");
  assert_string_equal(fp_job_state_name(FP_JOB_SUCCEEDED), "succeeded");
  assert_string_equal(fp_job_state_name(FP_JOB_FAILED), "failed");
  assert_string_equal(fp_job_state_name(FP_JOB_DEAD), "dead");
  assert_string_equal(fp_job_state_name(FP_JOB__STATE_COUNT), "unknown");
  char t[32];
  fp__store_format_ms(0, t);
  assert_string_equal(t, "1970-01-01T00:00:00.000Z");
  fp__store_format_ms(T0 + 1234, t);
  assert_string_equal(t, "2024-05-01T12:00:01.234Z");
  fp__store_format_ms(T0 + 999, t);
  assert_string_equal(t, "2024-05-01T12:00:00.999Z");
  /* The real clock renders in the same fixed width. */
  fp__store_format_ms(fp__store_now_ms(NULL), t);
  assert_int_equal(strlen(t), 24);
}

static void test_job_key_rule(void **state) {
  (void)state;
  fp_object_ref a = mkref("dir/a b.csv", "v1", "e1");
  char *k = fp__job_key(&a);
  assert_string_equal(k, "raw-bucket\ndir/a b.csv\nv1");
  free(k);
  a = mkref("x.csv", "", "e1"); /* empty version_id falls through to the etag */
  a.sequencer = "s1";
  k = fp__job_key(&a);
  assert_string_equal(k, "raw-bucket\nx.csv\ne1");
  free(k);
  a = mkref("x.csv", NULL, NULL);
  a.sequencer = "s1";
  k = fp__job_key(&a);
  assert_string_equal(k, "raw-bucket\nx.csv\ns1");
  free(k);
  a.sequencer = NULL;
  k = fp__job_key(&a);
  assert_string_equal(k, "raw-bucket\nx.csv\n");
  free(k);
}

static void test_enqueue_idempotent(void **state) {
  fx *f = *state;
  fp_store *s = open_store(f);
  fp_object_ref r = mkref("officers/2024/Officer_Detail.csv", "v1", "etag1");
  r.size = 4096;
  r.sequencer = "0055AED6DCD90281E5";
  r.event_time = "2024-05-01T11:59:59.000Z";
  int64_t id = enqueue_ok(s, &r, true);
  f->now_ms += 5000;
  assert_int_equal(enqueue_ok(s, &r, false), id); /* redelivery: the same job */
  /* Same version told differently (the etag differs, version_id decides): still one. */
  fp_object_ref same = mkref(r.key, "v1", "other-etag");
  assert_int_equal(enqueue_ok(s, &same, false), id);
  /* A new version of the same key is a new job; so is the same version of another key. */
  fp_object_ref v2 = mkref(r.key, "v2", NULL);
  int64_t id2 = enqueue_ok(s, &v2, true);
  assert_true(id2 > id);
  fp_object_ref other = mkref("officers/2024/other.csv", "v1", NULL);
  int64_t id3 = enqueue_ok(s, &other, true);
  assert_true(id3 > id2);

  fp_store_job j = get_ok(s, id);
  assert_int_equal(j.state, FP_JOB_QUEUED);
  assert_int_equal(j.attempts, 0);
  assert_string_equal(j.ref.bucket, "raw-bucket");
  assert_string_equal(j.ref.key, "officers/2024/Officer_Detail.csv");
  assert_string_equal(j.ref.version_id, "v1");
  assert_string_equal(j.ref.etag, "etag1"); /* the first delivery's fields are kept */
  assert_string_equal(j.ref.sequencer, "0055AED6DCD90281E5");
  assert_string_equal(j.ref.event_time, "2024-05-01T11:59:59.000Z");
  assert_int_equal(j.ref.size, 4096);
  assert_null(j.lease_owner);
  assert_null(j.lease_expires_at);
  assert_null(j.last_error);
  assert_int_equal(j.run_id, -1);
  assert_string_equal(j.created_at, "2024-05-01T12:00:00.000Z");
  assert_string_equal(j.next_attempt_at, "2024-05-01T12:00:00.000Z");
  fp_store_job_clear(&j);
  j = get_ok(s, id2);
  assert_null(j.ref.etag);
  assert_null(j.ref.sequencer);
  assert_int_equal(j.ref.size, -1);
  fp_store_job_clear(&j);

  int64_t depth = -1;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_store_queue_depth(s, &depth, &d), FP_OK);
  assert_int_equal(depth, 3);

  /* NULL outputs are allowed; missing bucket/key is refused. */
  assert_int_equal(fp_store_enqueue(s, &r, NULL, NULL, &d), FP_OK);
  fp_object_ref bad = mkref("", "v", NULL);
  assert_int_equal(fp_store_enqueue(s, &bad, NULL, NULL, &d), FP_ERR_INVAL);
  fp_store_close(s);
  assert_int_equal(peer_int(f, "SELECT count(*) FROM fp_jobs"), 3);
}

static void test_enqueue_many_one_transaction(void **state) {
  fx *f = *state;
  fp_store *s = open_store(f);
  fp_object_ref refs[4] = {mkref("a.csv", "1", NULL), mkref("b.csv", "1", NULL),
                           mkref("a.csv", "1", NULL), mkref("c.csv", "1", NULL)};
  int64_t ids[4];
  bool created[4];
  size_t n = 99;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_store_enqueue_many(s, refs, 4, ids, created, &n, &d), FP_OK);
  assert_int_equal(n, 3);
  assert_true(created[0] && created[1] && !created[2] && created[3]);
  assert_int_equal(ids[2], ids[0]);
  assert_int_equal(fp_store_enqueue_many(s, refs, 0, NULL, NULL, &n, &d), FP_OK);
  assert_int_equal(n, 0);
  if (is_pg(f)) { /* the lock-holder half is SQLite's (PG: test_pg_enqueue_many_atomic) */
    assert_int_equal(peer_int(f, "SELECT count(*) FROM fp_jobs"), 3);
    fp_store_close(s);
    return;
  }

  /* A writer holding the lock: the batch fails as transient and records nothing. */
  sqlite3 *db = peer_open(f->path);
  assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_busy_timeout(fp__sqlite_handle(s), 50);
  fp_object_ref more[2] = {mkref("d.csv", "1", NULL), mkref("e.csv", "1", NULL)};
  fp_diag_clear(&d);
  assert_int_equal(fp_store_enqueue_many(s, more, 2, NULL, NULL, &n, &d), FP_ERR_TRANSIENT);
  assert_int_equal(n, 0);
  assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(q_int(db, "SELECT count(*) FROM fp_jobs"), 3);
  /* The handle is usable again afterwards. */
  fp_diag_clear(&d);
  assert_int_equal(fp_store_enqueue_many(s, more, 2, NULL, NULL, &n, &d), FP_OK);
  assert_int_equal(n, 2);
  assert_int_equal(q_int(db, "SELECT count(*) FROM fp_jobs"), 5);
  sqlite3_close(db);
  fp_store_close(s);
}

/* ---- claiming ---------------------------------------------------------------------- */

static void test_claim_order_and_lease(void **state) {
  fx *f = *state;
  fp_store *s = open_store(f);
  claim_expect(s, "w1", 30, 5, 0, NULL); /* empty queue */
  fp_object_ref a = mkref("a.csv", "1", NULL), b = mkref("b.csv", "1", NULL),
                c = mkref("c.csv", "1", NULL);
  /* b and c share a timestamp: ties go by id. */
  int64_t ia = enqueue_ok(s, &a, true);
  f->now_ms += 10;
  int64_t ib = enqueue_ok(s, &b, true);
  int64_t ic = enqueue_ok(s, &c, true);
  f->now_ms += 10;
  fp_store_job j;
  claim_expect(s, "w1", 30, 5, ia, &j);
  assert_int_equal(j.attempts, 1);
  assert_string_equal(j.ref.key, "a.csv");
  assert_string_equal(j.lease_expires_at, "2024-05-01T12:00:30.020Z");
  fp_store_job_clear(&j);
  claim_expect(s, "w2", 30, 5, ib, NULL);
  claim_expect(s, "w1", 30, 5, ic, NULL);
  claim_expect(s, "w3", 30, 5, 0, NULL);

  int64_t counts[FP_JOB__STATE_COUNT];
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_store_job_counts(s, counts, &d), FP_OK);
  assert_int_equal(counts[FP_JOB_RUNNING], 3);
  assert_int_equal(counts[FP_JOB_QUEUED], 0);
  int64_t depth = 0;
  assert_int_equal(fp_store_queue_depth(s, &depth, &d), FP_OK);
  assert_int_equal(depth, 3); /* running jobs are not finished */

  assert_int_equal(fp_store_job_succeed(s, ia, "w1", 42, &d), FP_OK);
  fp_store_job done = get_ok(s, ia);
  assert_int_equal(done.state, FP_JOB_SUCCEEDED);
  assert_int_equal(done.run_id, 42);
  assert_null(done.lease_owner);
  assert_null(done.lease_expires_at);
  fp_store_job_clear(&done);
  assert_int_equal(fp_store_queue_depth(s, &depth, &d), FP_OK);
  assert_int_equal(depth, 2);
  /* Finished is final: nobody can succeed it again. */
  assert_int_equal(fp_store_job_succeed(s, ia, "w1", 43, &d), FP_ERR_NOT_FOUND);
  fp_store_close(s);
}

static void test_lease_expiry_reclaim_and_stolen_lease(void **state) {
  fx *f = *state;
  fp_store *s = open_store(f);
  fp_store *s2 = open_store(f); /* another worker, another handle */
  fp_object_ref r = mkref("x.csv", "1", NULL);
  int64_t id = enqueue_ok(s, &r, true);
  claim_expect(s, "old", 30, 5, id, NULL);
  f->now_ms += 29999;
  claim_expect(s2, "new", 30, 5, 0, NULL); /* still leased */
  f->now_ms += 1;
  fp_store_job j;
  claim_expect(s2, "new", 30, 5, id, &j); /* expired at exactly 30 s: re-claimed */
  assert_int_equal(j.attempts, 2);
  fp_store_job_clear(&j);

  /* The old owner wakes up: every change it tries is refused and changes nothing. */
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_store_job_succeed(s, id, "old", 7, &d), FP_ERR_NOT_FOUND);
  expect_contains(d.msg, "lease lost");
  fp_diag_clear(&d);
  assert_int_equal(fp_store_job_heartbeat(s, id, "old", 30, &d), FP_ERR_NOT_FOUND);
  fp_diag_clear(&d);
  fp_job_state st = FP_JOB_DEAD;
  assert_int_equal(fp_store_job_fail(s, id, "old", "boom", true, 5, 0, &st, &d), FP_ERR_NOT_FOUND);
  assert_int_equal(st, FP_JOB_RUNNING);
  fp_diag_clear(&d);
  assert_int_equal(fp_store_job_release(s, id, "old", &d), FP_ERR_NOT_FOUND);
  j = get_ok(s, id);
  assert_int_equal(j.state, FP_JOB_RUNNING);
  assert_string_equal(j.lease_owner, "new");
  assert_int_equal(j.attempts, 2);
  assert_null(j.last_error);
  fp_store_job_clear(&j);

  /* The new owner finishes normally. */
  fp_diag_clear(&d);
  assert_int_equal(fp_store_job_succeed(s2, id, "new", -1, &d), FP_OK);
  j = get_ok(s, id);
  assert_int_equal(j.state, FP_JOB_SUCCEEDED);
  assert_int_equal(j.run_id, -1);
  fp_store_job_clear(&j);
  fp_store_close(s2);
  fp_store_close(s);
}

/* Saving a run that completes a job: the run and the job's success commit together, and
 * an owner whose lease was taken over saves nothing at all. */
static void test_save_run_completes_its_job(void **state) {
  fx *f = *state;
  fp_store *s = open_store(f);
  fp_object_ref r = mkref("in/x.csv", "1", NULL);
  int64_t id = enqueue_ok(s, &r, true);
  claim_expect(s, "old", 30, 5, id, NULL);
  f->now_ms += 30000;
  claim_expect(s, "new", 30, 5, id, NULL); /* the old lease expired and was taken over */
  fp_store_run run = {.bucket = "raw-bucket", .key = "in/x.csv", .object_version = "1",
                      .verdict = "passed", .report_json = "{}", .size = -1,
                      .job_id = id, .job_owner = "old"};
  fp_diag d;
  fp_diag_clear(&d);
  int64_t run_id = -7;
  assert_int_equal(fp_store_save_run(s, &run, &run_id, &d), FP_ERR_NOT_FOUND);
  expect_contains(d.msg, "lease lost");
  assert_int_equal(run_id, 0);
  assert_int_equal(peer_int(f, "SELECT count(*) FROM fp_runs"), 0);
  expect_state(s, id, FP_JOB_RUNNING, 2);

  run.job_owner = "new";
  fp_diag_clear(&d);
  if (fp_store_save_run(s, &run, &run_id, &d)) fail_msg("save_run: %s", d.msg);
  assert_true(run_id > 0);
  fp_store_job j = get_ok(s, id);
  assert_int_equal(j.state, FP_JOB_SUCCEEDED);
  assert_int_equal(j.run_id, run_id);
  assert_null(j.lease_owner);
  fp_store_job_clear(&j);
  assert_int_equal(peer_int(f, "SELECT count(*) FROM fp_runs"), 1);

  /* A job id without an owner is a caller bug, refused before any write. */
  run.job_owner = NULL;
  fp_diag_clear(&d);
  assert_int_equal(fp_store_save_run(s, &run, &run_id, &d), FP_ERR_INVAL);
  fp_store_close(s);
}

static void test_heartbeat_extends_lease(void **state) {
  fx *f = *state;
  fp_store *s = open_store(f);
  fp_object_ref r = mkref("x.csv", "1", NULL);
  int64_t id = enqueue_ok(s, &r, true);
  claim_expect(s, "w1", 30, 5, id, NULL);
  fp_diag d;
  fp_diag_clear(&d);
  f->now_ms += 20000;
  assert_int_equal(fp_store_job_heartbeat(s, id, "w1", 30, &d), FP_OK);
  fp_store_job j = get_ok(s, id);
  assert_string_equal(j.lease_expires_at, "2024-05-01T12:00:50.000Z");
  fp_store_job_clear(&j);
  f->now_ms += 20000; /* 40 s after the claim, 20 s after the heartbeat */
  claim_expect(s, "w2", 30, 5, 0, NULL);
  f->now_ms += 10000;
  claim_expect(s, "w2", 30, 5, id, NULL);
  fp_store_close(s);
}

/* ---- failures and retries ---------------------------------------------------------- */

static void test_retry_backoff_then_dead(void **state) {
  fx *f = *state;
  fp_store *s = open_store(f);
  fp_object_ref r = mkref("flaky.csv", "1", NULL);
  int64_t id = enqueue_ok(s, &r, true);
  const int max = 3;

  claim_expect(s, "w1", 30, max, id, NULL);
  assert_int_equal(fail_ok(s, id, "w1", "TRANSIENT: S3 503 (attempt 1)", true, max, 60000),
                   FP_JOB_QUEUED);
  fp_store_job j = get_ok(s, id);
  assert_int_equal(j.state, FP_JOB_QUEUED);
  assert_int_equal(j.attempts, 1);
  assert_string_equal(j.next_attempt_at, "2024-05-01T12:01:00.000Z");
  assert_string_equal(j.last_error, "TRANSIENT: S3 503 (attempt 1)");
  assert_null(j.lease_owner);
  fp_store_job_clear(&j);

  /* Backing off: not claimable before next_attempt_at, and a later job goes first. */
  fp_object_ref other = mkref("other.csv", "1", NULL);
  f->now_ms += 1000;
  int64_t id_other = enqueue_ok(s, &other, true);
  claim_expect(s, "w1", 30, max, id_other, NULL);
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_store_job_succeed(s, id_other, "w1", -1, &d), FP_OK);
  f->now_ms += 58999; /* 1 ms before the retry time */
  claim_expect(s, "w1", 30, max, 0, NULL);
  f->now_ms += 1;
  claim_expect(s, "w1", 30, max, id, NULL);
  expect_state(s, id, FP_JOB_RUNNING, 2);
  assert_int_equal(fail_ok(s, id, "w1", "TRANSIENT: attempt 2", true, max, 0), FP_JOB_QUEUED);
  claim_expect(s, "w1", 30, max, id, NULL); /* delay 0: claimable at once */
  assert_int_equal(fail_ok(s, id, "w1", "TRANSIENT: attempt 3", true, max, 60000), FP_JOB_DEAD);
  j = get_ok(s, id);
  assert_int_equal(j.state, FP_JOB_DEAD);
  assert_int_equal(j.attempts, 3);
  assert_string_equal(j.last_error, "TRANSIENT: attempt 3");
  fp_store_job_clear(&j);
  f->now_ms += 3600 * 1000;
  claim_expect(s, "w1", 30, max, 0, NULL); /* dead is final */
  fp_store_close(s);
}

static void test_not_retryable_is_failed(void **state) {
  fx *f = *state;
  fp_store *s = open_store(f);
  fp_object_ref r = mkref("missing.csv", "1", NULL);
  int64_t id = enqueue_ok(s, &r, true);
  claim_expect(s, "w1", 30, 5, id, NULL);
  assert_int_equal(fail_ok(s, id, "w1", "NOT_FOUND: no such object", false, 5, 60000),
                   FP_JOB_FAILED);
  fp_store_job j = get_ok(s, id);
  assert_int_equal(j.state, FP_JOB_FAILED);
  assert_int_equal(j.attempts, 1);
  assert_string_equal(j.last_error, "NOT_FOUND: no such object");
  assert_string_equal(j.next_attempt_at, "2024-05-01T12:00:00.000Z"); /* untouched */
  fp_store_job_clear(&j);
  f->now_ms += 3600 * 1000;
  claim_expect(s, "w1", 30, 5, 0, NULL);
  /* An unlimited job (max 0) is never dead. */
  fp_object_ref r2 = mkref("forever.csv", "1", NULL);
  int64_t id2 = enqueue_ok(s, &r2, true);
  for (int i = 0; i < 8; i++) {
    claim_expect(s, "w1", 30, 0, id2, NULL);
    assert_int_equal(fail_ok(s, id2, "w1", "again", true, 0, 0), FP_JOB_QUEUED);
  }
  expect_state(s, id2, FP_JOB_QUEUED, 8);
  fp_store_close(s);
}

static void test_expired_lease_after_max_attempts_is_dead(void **state) {
  fx *f = *state;
  fp_store *s = open_store(f);
  fp_object_ref r = mkref("poison.csv", "1", NULL);
  int64_t id = enqueue_ok(s, &r, true);
  claim_expect(s, "crash1", 10, 2, id, NULL); /* the worker dies: no call follows */
  f->now_ms += 10000;
  claim_expect(s, "crash2", 10, 2, id, NULL); /* re-claimed: attempt 2 of 2 */
  f->now_ms += 10000;
  claim_expect(s, "w3", 10, 2, 0, NULL); /* buried instead of a third attempt */
  fp_store_job j = get_ok(s, id);
  assert_int_equal(j.state, FP_JOB_DEAD);
  assert_int_equal(j.attempts, 2);
  assert_null(j.lease_owner);
  expect_contains(j.last_error, "lease of crash2 expired");
  expect_contains(j.last_error, "attempt 2 of 2");
  fp_store_job_clear(&j);
  fp_store_close(s);
}

static void test_release_does_not_count_attempt(void **state) {
  fx *f = *state;
  fp_store *s = open_store(f);
  fp_object_ref a = mkref("a.csv", "1", NULL), b = mkref("b.csv", "1", NULL);
  int64_t ia = enqueue_ok(s, &a, true);
  f->now_ms += 1;
  int64_t ib = enqueue_ok(s, &b, true);
  f->now_ms += 1;
  claim_expect(s, "w1", 30, 5, ia, NULL);
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_store_job_release(s, ia, "w2", &d), FP_ERR_NOT_FOUND); /* not its */
  fp_diag_clear(&d);
  assert_int_equal(fp_store_job_release(s, ia, "w1", &d), FP_OK);
  fp_store_job j = get_ok(s, ia);
  assert_int_equal(j.state, FP_JOB_QUEUED);
  assert_int_equal(j.attempts, 0);
  assert_null(j.lease_owner);
  assert_null(j.lease_expires_at);
  fp_store_job_clear(&j);
  /* It keeps its place in line, ahead of b. */
  claim_expect(s, "w1", 30, 5, ia, &j);
  assert_int_equal(j.attempts, 1);
  fp_store_job_clear(&j);
  claim_expect(s, "w1", 30, 5, ib, NULL);
  fp_store_close(s);
}

static void test_long_error_is_cut_on_utf8_boundary(void **state) {
  fx *f = *state;
  fp_store *s = open_store(f);
  fp_object_ref r = mkref("x.csv", "1", NULL);
  int64_t id = enqueue_ok(s, &r, true);
  claim_expect(s, "w1", 30, 5, id, NULL);
  /* 'x' then 2-byte sequences: byte 2000 falls inside one, so the cut backs up to 1999. */
  char *err = malloc(5000);
  assert_non_null(err);
  err[0] = 'x';
  for (int i = 1; i < 4999; i += 2) {
    err[i] = (char)0xC3;
    err[i + 1] = (char)0xA9;
  }
  err[4999] = '\0';
  assert_int_equal(fail_ok(s, id, "w1", err, false, 5, 0), FP_JOB_FAILED);
  fp_store_job j = get_ok(s, id);
  size_t n = strlen(j.last_error);
  assert_int_equal(n, FP_STORE_ERROR_MAX - 1);
  assert_int_equal((unsigned char)j.last_error[n - 1], 0xA9);
  fp_store_job_clear(&j);
  free(err);
  fp_store_close(s);
}

static void test_bad_arguments(void **state) {
  fx *f = *state;
  fp_store *s = open_store(f);
  fp_diag d;
  fp_store_job j;
  bool got = true;
  char longowner[FP_STORE_OWNER_MAX + 2];
  memset(longowner, 'o', sizeof longowner - 1);
  longowner[sizeof longowner - 1] = '\0';
  fp_diag_clear(&d);
  assert_int_equal(fp_store_claim(s, NULL, 30, 5, &j, &got, &d), FP_ERR_INVAL);
  assert_false(got);
  fp_diag_clear(&d);
  assert_int_equal(fp_store_claim(s, "", 30, 5, &j, &got, &d), FP_ERR_INVAL);
  fp_diag_clear(&d);
  assert_int_equal(fp_store_claim(s, longowner, 30, 5, &j, &got, &d), FP_ERR_INVAL);
  fp_diag_clear(&d);
  assert_int_equal(fp_store_claim(s, "w", 0, 5, &j, &got, &d), FP_ERR_INVAL);
  fp_diag_clear(&d);
  assert_int_equal(fp_store_claim(s, "w", 30, -1, &j, &got, &d), FP_ERR_INVAL);
  fp_diag_clear(&d);
  assert_int_equal(fp_store_claim(NULL, "w", 30, 5, &j, &got, &d), FP_ERR_INVAL);
  fp_diag_clear(&d);
  assert_int_equal(fp_store_job_succeed(s, 0, "w", -1, &d), FP_ERR_INVAL);
  fp_diag_clear(&d);
  assert_int_equal(fp_store_job_heartbeat(s, 1, "w", 0, &d), FP_ERR_INVAL);
  fp_diag_clear(&d);
  assert_int_equal(fp_store_job_fail(s, 1, "w", "e", true, 5, -1, NULL, &d), FP_ERR_INVAL);
  fp_diag_clear(&d);
  assert_int_equal(fp_store_job_release(s, 1, NULL, &d), FP_ERR_INVAL);
  fp_diag_clear(&d);
  assert_int_equal(fp_store_job_get(s, 12345, &j, &d), FP_ERR_NOT_FOUND);
  fp_store_job_clear(&j);
  fp_diag_clear(&d);
  assert_int_equal(fp_store_job_counts(s, NULL, &d), FP_ERR_INVAL);
  fp_diag_clear(&d);
  assert_int_equal(fp_store_queue_depth(s, NULL, &d), FP_ERR_INVAL);
  /* A job id that never existed: lease lost, like any other non-running row. */
  fp_diag_clear(&d);
  assert_int_equal(fp_store_job_succeed(s, 999, "w", -1, &d), FP_ERR_NOT_FOUND);
  fp_store_job_clear(NULL);
  fp_store_close(s);
}

/* ---- schema ------------------------------------------------------------------------ */

static void test_upgrade_from_version_1_keeps_rows(void **state) {
  fx *f = *state;
  /* Build a version-1 database by hand, as an older build left it. */
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, fp__migrations_table_sql, NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, fp__sqlite_migrations[0].sql, NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(
      sqlite3_exec(db,
                   "INSERT INTO fp_schema_migrations VALUES (1, 'x', 'v1');"
                   "INSERT INTO fp_jobs (idempotency_key, bucket, key, state, attempts,"
                   " created_at, updated_at) VALUES"
                   " ('b\nold.csv\n1', 'b', 'old.csv', 'done', 1,"
                   "  '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:01.000Z'),"
                   " ('b\nq.csv\n1', 'b', 'q.csv', 'queued', 0,"
                   "  '2024-01-02T00:00:00.000Z', '2024-01-02T00:00:00.000Z'),"
                   " ('b\ngone.csv\n1', 'b', 'gone.csv', 'queued', 0, 'x', 'x');"
                   "DELETE FROM fp_jobs WHERE key = 'gone.csv';",
                   NULL, NULL, NULL),
      SQLITE_OK);
  sqlite3_close(db);

  fp_store *s = open_store(f); /* applies migration 2 */
  assert_int_equal(fp_store_schema_version(s), (int)fp__sqlite_migrations_n);
  fp_store_job j = get_ok(s, 1);
  assert_int_equal(j.state, FP_JOB_SUCCEEDED);
  assert_string_equal(j.next_attempt_at, "2024-01-01T00:00:00.000Z");
  fp_store_job_clear(&j);
  /* The queued one is claimable; ids are not reused after the rebuild (3 was taken). */
  claim_expect(s, "w", 30, 5, 2, NULL);
  fp_object_ref r = mkref("new.csv", "1", NULL);
  assert_int_equal(enqueue_ok(s, &r, true), 4);
  fp_object_ref old = {.bucket = "b", .key = "old.csv", .version_id = "1", .size = -1};
  assert_int_equal(enqueue_ok(s, &old, false), 1); /* the unique key survived */
  fp_store_close(s);

  db = peer_open(f->path);
  assert_int_equal(q_int(db,
                         "SELECT count(*) FROM sqlite_master WHERE name IN"
                         " ('fp_jobs_claim_idx', 'fp_jobs_lease_idx')"),
                   2);
  assert_int_equal(q_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'fp_jobs_v2'"), 0);
  /* The new CHECK is in force: 'done' is no longer a state, 'succeeded' is. */
  assert_int_equal(
      sqlite3_exec(db, "UPDATE fp_jobs SET state = 'done' WHERE id = 1", NULL, NULL, NULL) & 0xff,
      SQLITE_CONSTRAINT);
  sqlite3_close(db);
}

/* ---- concurrency ------------------------------------------------------------------- */

enum { CONC_JOBS = 200, CONC_WORKERS = 4 };

typedef struct conc {
  const char *url;
  int index;
  volatile int *producer_done; /* read under the pthread memory model via the mutex */
  pthread_mutex_t *mu;
  int64_t claimed[CONC_JOBS * 2];
  size_t nclaimed;
  char err[FP_DIAG_MSG_MAX + 64];
} conc;

static void *conc_worker(void *arg) {
  conc *c = arg;
  fp_diag d;
  fp_diag_clear(&d);
  fp_store *s = NULL;
  if (fp_store_open(c->url, &s, &d)) {
    snprintf(c->err, sizeof c->err, "open: %s", d.msg);
    return NULL;
  }
  char owner[32];
  snprintf(owner, sizeof owner, "conc-%d", c->index);
  for (;;) {
    pthread_mutex_lock(c->mu);
    int done = *c->producer_done;
    pthread_mutex_unlock(c->mu);
    fp_store_job j;
    bool got = false;
    fp_diag_clear(&d);
    if (fp_store_claim(s, owner, 60, 5, &j, &got, &d)) {
      snprintf(c->err, sizeof c->err, "claim: %s", d.msg);
      break;
    }
    if (!got) {
      if (done) break; /* the producer finished before this empty claim began */
      usleep(1000);
      continue;
    }
    if (c->nclaimed < sizeof c->claimed / sizeof c->claimed[0]) c->claimed[c->nclaimed++] = j.id;
    fp_diag_clear(&d);
    fp_err e = fp_store_job_succeed(s, j.id, owner, -1, &d);
    fp_store_job_clear(&j);
    if (e) {
      snprintf(c->err, sizeof c->err, "succeed: %s", d.msg);
      break;
    }
  }
  fp_store_close(s);
  return NULL;
}

static void test_concurrent_claims_exactly_once(void **state) {
  fx *f = *state;
  fp_store_close(open_store(f)); /* create and migrate once */
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  volatile int producer_done = 0;
  conc *w = calloc(CONC_WORKERS, sizeof *w);
  pthread_t t[CONC_WORKERS];
  for (int i = 0; i < CONC_WORKERS; i++) {
    w[i] = (conc){.url = f->url, .index = i, .producer_done = &producer_done, .mu = &mu};
    assert_int_equal(pthread_create(&t[i], NULL, conc_worker, &w[i]), 0);
  }
  /* Produce while they consume; every ref twice (the second is a redelivery). */
  fp_store *s = open_store(f);
  fp__store_set_clock(s, NULL, NULL);
  char key[64];
  static int64_t produced[CONC_JOBS];
  for (int i = 0; i < CONC_JOBS; i++) {
    snprintf(key, sizeof key, "conc/%03d.csv", i);
    fp_object_ref r = mkref(key, "v1", NULL);
    produced[i] = enqueue_ok(s, &r, true);
    assert_int_equal(enqueue_ok(s, &r, false), produced[i]);
  }
  pthread_mutex_lock(&mu);
  producer_done = 1;
  pthread_mutex_unlock(&mu);
  for (int i = 0; i < CONC_WORKERS; i++) pthread_join(t[i], NULL);

  /* Every produced job was claimed by exactly one worker, exactly once. */
  static int seen[CONC_JOBS];
  memset(seen, 0, sizeof seen);
  size_t total = 0;
  for (int i = 0; i < CONC_WORKERS; i++) {
    if (w[i].err[0]) fail_msg("worker %d: %s", i, w[i].err);
    for (size_t k = 0; k < w[i].nclaimed; k++) {
      int64_t id = w[i].claimed[k];
      int at = -1;
      for (int p = 0; p < CONC_JOBS && at < 0; p++)
        if (produced[p] == id) at = p;
      if (at < 0) fail_msg("worker %d claimed unknown job %lld", i, (long long)id);
      if (seen[at]++) fail_msg("job %lld claimed twice", (long long)id);
      total++;
    }
  }
  assert_int_equal(total, CONC_JOBS);
  assert_int_equal(produced[CONC_JOBS - 1], CONC_JOBS); /* redeliveries cost no ids */
  int64_t counts[FP_JOB__STATE_COUNT];
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_store_job_counts(s, counts, &d), FP_OK);
  assert_int_equal(counts[FP_JOB_SUCCEEDED], CONC_JOBS);
  assert_int_equal(counts[FP_JOB_QUEUED] + counts[FP_JOB_RUNNING], 0);
  fp_store_close(s);
  assert_int_equal(peer_int(f, "SELECT count(*) FROM fp_jobs WHERE attempts <> 1"), 0);
  free(w);
}

/* ---- PostgreSQL only ---------------------------------------------------------------- */

/* Version 1 built by hand on PostgreSQL, then migration 2 applied in place. */
static void test_pg_upgrade_from_version_1_keeps_rows(void **state) {
  fx *f = *state;
  char sql[8192];
  snprintf(sql, sizeof sql, "%s;\n%s", fp__migrations_table_sql, fp__pg_migrations[0].sql);
  fp_test_pg_exec(f->url, sql);
  fp_test_pg_exec(f->url,
                  "INSERT INTO fp_schema_migrations VALUES (1, 'x', 'v1');"
                  "INSERT INTO fp_jobs (idempotency_key, bucket, key, state, attempts,"
                  " created_at, updated_at) VALUES"
                  " (E'b\\nold.csv\\n1', 'b', 'old.csv', 'done', 1,"
                  "  '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:01.000Z'),"
                  " (E'b\\nq.csv\\n1', 'b', 'q.csv', 'queued', 0,"
                  "  '2024-01-02T00:00:00.000Z', '2024-01-02T00:00:00.000Z');");
  fp_store *s = open_store(f); /* applies migration 2 */
  assert_int_equal(fp_store_schema_version(s), (int)fp__pg_migrations_n);
  assert_string_equal(fp_store_backend(s), "postgresql");
  fp_store_job j = get_ok(s, 1);
  assert_int_equal(j.state, FP_JOB_SUCCEEDED);
  assert_string_equal(j.next_attempt_at, "2024-01-01T00:00:00.000Z");
  fp_store_job_clear(&j);
  claim_expect(s, "w", 30, 5, 2, NULL);
  fp_object_ref old = {.bucket = "b", .key = "old.csv", .version_id = "1", .size = -1};
  assert_int_equal(enqueue_ok(s, &old, false), 1); /* the unique key survived */
  fp_store_close(s);
  assert_int_equal(peer_int(f, "SELECT count(*) FROM pg_indexes WHERE indexname IN"
                               " ('fp_jobs_claim_idx', 'fp_jobs_lease_idx')"),
                   2);
}

/* A batch whose second ref fails (a NUL-free but invalid UTF-8 key the server refuses)
 * records nothing: all of enqueue_many is one transaction. */
static void test_pg_enqueue_many_atomic(void **state) {
  fx *f = *state;
  fp_store *s = open_store(f);
  fp_object_ref refs[2] = {mkref("ok.csv", "1", NULL), mkref("bad\xff.csv", "1", NULL)};
  fp_diag d;
  fp_diag_clear(&d);
  size_t n = 99;
  assert_int_equal(fp_store_enqueue_many(s, refs, 2, NULL, NULL, &n, &d), FP_ERR_DB);
  expect_contains(d.msg, "SQLSTATE 22021");
  assert_int_equal(n, 0);
  assert_int_equal(peer_int(f, "SELECT count(*) FROM fp_jobs"), 0);
  /* The handle is usable again. */
  fp_diag_clear(&d);
  assert_int_equal(fp_store_enqueue_many(s, refs, 1, NULL, NULL, &n, &d), FP_OK);
  assert_int_equal(n, 1);
  fp_store_close(s);
}

/* The server ends our session (as a failover or restart would): the operation in flight
 * answers FP_ERR_TRANSIENT, the next one reconnects and succeeds. */
static void test_pg_connection_loss_is_transient_then_reconnects(void **state) {
  fx *f = *state;
  fp_store *s = open_store(f);
  fp_object_ref r = mkref("a.csv", "1", NULL);
  int64_t id = enqueue_ok(s, &r, true);
  fp_test_pg_exec(f->url,
                  "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                  " WHERE datname = current_database() AND pid <> pg_backend_pid()");
  fp_diag d;
  fp_diag_clear(&d);
  int64_t depth = -1;
  fp_err e = fp_store_queue_depth(s, &depth, &d);
  if (e) {
    assert_int_equal(e, FP_ERR_TRANSIENT);
    expect_contains(d.msg, "PostgreSQL");
  }
  fp_diag_clear(&d);
  assert_int_equal(fp_store_queue_depth(s, &depth, &d), FP_OK);
  assert_int_equal(depth, 1);
  claim_expect(s, "w", 30, 5, id, NULL);
  fp_store_close(s);
}

int main(void) {
  fp_log_set_level(FP_LOG_OFF);
  fp_log_setup(getenv("FP_TEST_LOG"), 0); /* e.g. FP_TEST_LOG=info to watch the workers */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_state_names_and_time_format),
      cmocka_unit_test(test_job_key_rule),
      cmocka_unit_test_setup_teardown(test_enqueue_idempotent, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_enqueue_many_one_transaction, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_claim_order_and_lease, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_lease_expiry_reclaim_and_stolen_lease, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_heartbeat_extends_lease, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_save_run_completes_its_job, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_retry_backoff_then_dead, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_not_retryable_is_failed, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_expired_lease_after_max_attempts_is_dead, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_release_does_not_count_attempt, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_long_error_is_cut_on_utf8_boundary, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_bad_arguments, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_upgrade_from_version_1_keeps_rows, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_claims_exactly_once, fx_setup, fx_teardown),
  };
  int failed = cmocka_run_group_tests_name("queue/sqlite", tests, NULL, NULL);
  if (!fp_test_pg_url()) {
    FP_TEST_PG_SKIP_MSG("test_queue");
    return failed;
  }
#define PGT(fn) cmocka_unit_test_setup_teardown(fn, fx_setup_pg, fx_teardown)
  const struct CMUnitTest pg_tests[] = {
      PGT(test_enqueue_idempotent),
      PGT(test_enqueue_many_one_transaction),
      PGT(test_claim_order_and_lease),
      PGT(test_lease_expiry_reclaim_and_stolen_lease),
      PGT(test_heartbeat_extends_lease),
      PGT(test_save_run_completes_its_job),
      PGT(test_retry_backoff_then_dead),
      PGT(test_not_retryable_is_failed),
      PGT(test_expired_lease_after_max_attempts_is_dead),
      PGT(test_release_does_not_count_attempt),
      PGT(test_long_error_is_cut_on_utf8_boundary),
      PGT(test_bad_arguments),
      PGT(test_pg_upgrade_from_version_1_keeps_rows),
      PGT(test_pg_enqueue_many_atomic),
      PGT(test_pg_connection_loss_is_transient_then_reconnects),
      PGT(test_concurrent_claims_exactly_once),
  };
#undef PGT
  return failed + cmocka_run_group_tests_name("queue/postgresql", pg_tests, NULL, NULL);
}
