/* test_worker.c — the worker pool over a real SQLite queue and a local object store in a
 * temp dir: many jobs on several threads, final failures, transient failures retried with
 * backoff (and dead after max attempts), a crashed worker's lease re-claimed, heartbeats
 * keeping a long job's lease, and shutdown (idle: prompt; busy past the grace period: the
 * job is released and its late outcome refused). A test object store wraps the local one
 * to fail or block on chosen keys.
 *
 * With FP_TEST_PG_URL set (tests/support/pg_harness.sh) the pool tests run a second time
 * with the queue and results on PostgreSQL (an emptied database per test); without it
 * that group is skipped with a message. */
#include "fp_test.h"
#include "fp_test_pg.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include <sqlite3.h>

#include "fp/fp_config.h"
#include "fp/fp_log.h"
#include "fp/fp_objstore.h"
#include "fp/fp_store.h"
#include "fp/fp_worker.h"
#include "store/objstore_int.h"

#define BUCKET "raw-bucket"

/* ---- fixture ------------------------------------------------------------------------ */

typedef struct fx {
  char dir[128];
  char root[256]; /* dir/root, LOCAL_S3_ROOT */
  char url[600];  /* sqlite:///dir/results.db | the PostgreSQL test database */
  char dbpath[300]; /* "" on PostgreSQL */
} fx;

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  if (!f) return -1;
  fp_test_tmpdir(f->dir, sizeof f->dir);
  if (!f->dir[0]) return -1;
  snprintf(f->root, sizeof f->root, "%s/root", f->dir);
  snprintf(f->dbpath, sizeof f->dbpath, "%s/results.db", f->dir);
  snprintf(f->url, sizeof f->url, "sqlite:///%s", f->dbpath);
  char b[300];
  snprintf(b, sizeof b, "%s/" BUCKET, f->root);
  if (mkdir(f->root, 0755) || mkdir(b, 0755)) return -1;
  *state = f;
  return 0;
}

/* The PostgreSQL group: objects in a temp dir as above, the DB on the test server. */
static int fx_setup_pg(void **state) {
  if (fx_setup(state)) return -1;
  fx *f = *state;
  f->dbpath[0] = '\0';
  snprintf(f->url, sizeof f->url, "%s", fp_test_pg_url());
  fp_test_pg_reset(f->url);
  return 0;
}

static int fx_teardown(void **state) {
  fx *f = *state;
  fp_test_rmtree(f->dir);
  free(f);
  return 0;
}

static void put_object(fx *f, const char *key, const char *content) {
  char path[512];
  snprintf(path, sizeof path, "%s/" BUCKET "/%s", f->root, key);
  FILE *fp = fopen(path, "wb");
  if (!fp) fail_msg("cannot create %s: %s", path, strerror(errno));
  fputs(content, fp);
  fclose(fp);
}

static const char *const CSV = "id,name,amount\n1,alpha,1.5\n2,beta,2.5\n3,gamma,4\n";

/* ---- a test object store: the local one, failing or blocking on chosen keys ---------- */

typedef struct ctl {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  const char *flaky_key; /* fails with FP_ERR_TRANSIENT ... */
  int flaky_left;        /* ... this many times (-1 = always) */
  int flaky_calls;
  const char *slow_key; /* blocks until open_gate, or for slow_ms when > 0 */
  int slow_ms;
  bool gate_open;
  bool slow_started;
  const char *root;
} ctl;

static ctl g_ctl;

typedef struct test_store {
  fp_objstore base;
  fp_objstore *inner;
  ctl *c;
} test_store;

static fp_err ts_stream(fp_objstore *s, const fp_object_ref *ref, fp_sink_fn sink, void *ud,
                        fp_object_info *info, fp_diag *d) {
  test_store *t = (test_store *)s;
  ctl *c = t->c;
  pthread_mutex_lock(&c->mu);
  bool fail = false;
  if (c->flaky_key && strcmp(ref->key, c->flaky_key) == 0) {
    c->flaky_calls++;
    if (c->flaky_left != 0) {
      fail = true;
      if (c->flaky_left > 0) c->flaky_left--;
    }
  }
  if (c->slow_key && strcmp(ref->key, c->slow_key) == 0) {
    c->slow_started = true;
    pthread_cond_broadcast(&c->cv);
    if (c->slow_ms > 0) {
      pthread_mutex_unlock(&c->mu);
      usleep((useconds_t)c->slow_ms * 1000);
      pthread_mutex_lock(&c->mu);
    } else {
      while (!c->gate_open) pthread_cond_wait(&c->cv, &c->mu);
    }
  }
  pthread_mutex_unlock(&c->mu);
  if (fail)
    return fp_diag_set(d, FP_ERR_TRANSIENT, "S3 GET s3://%s/%s: 503 SlowDown (test)", ref->bucket,
                       ref->key);
  return fp_objstore_stream(t->inner, ref, sink, ud, info, d);
}

static void ts_destroy(fp_objstore *s) {
  test_store *t = (test_store *)s;
  fp_objstore_free(t->inner);
  free(t);
}

static const fp__objstore_ops ts_ops = {.kind = "test", .stream = ts_stream, .destroy = ts_destroy};

static fp_err test_objstore_new(void *ud, fp_objstore **out, fp_diag *d) {
  ctl *c = ud;
  test_store *t = calloc(1, sizeof *t);
  if (!t) return fp_diag_set(d, FP_ERR_NOMEM, "test store");
  t->base.ops = &ts_ops;
  t->c = c;
  fp_err e = fp_objstore_local_new(c->root, &t->inner, d);
  if (e) {
    free(t);
    return e;
  }
  *out = &t->base;
  return FP_OK;
}

static void ctl_reset(fx *f) {
  pthread_mutex_lock(&g_ctl.mu);
  g_ctl.flaky_key = NULL;
  g_ctl.flaky_left = 0;
  g_ctl.flaky_calls = 0;
  g_ctl.slow_key = NULL;
  g_ctl.slow_ms = 0;
  g_ctl.gate_open = false;
  g_ctl.slow_started = false;
  g_ctl.root = f->root;
  pthread_mutex_unlock(&g_ctl.mu);
}

static void open_gate(void) {
  pthread_mutex_lock(&g_ctl.mu);
  g_ctl.gate_open = true;
  pthread_cond_broadcast(&g_ctl.cv);
  pthread_mutex_unlock(&g_ctl.mu);
}

static void wait_slow_started(void) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 20;
  pthread_mutex_lock(&g_ctl.mu);
  while (!g_ctl.slow_started)
    if (pthread_cond_timedwait(&g_ctl.cv, &g_ctl.mu, &until) == ETIMEDOUT) break;
  bool ok = g_ctl.slow_started;
  pthread_mutex_unlock(&g_ctl.mu);
  if (!ok) fail_msg("the slow job never started");
}

/* ---- helpers ------------------------------------------------------------------------ */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static fp_store *open_store(fx *f) {
  fp_diag d;
  fp_diag_clear(&d);
  fp_store *s = NULL;
  fp_err e = fp_store_open(f->url, &s, &d);
  if (e) fail_msg("open %s: %s", f->url, d.msg);
  return s;
}

static int64_t enqueue(fp_store *s, const char *key, const char *version) {
  fp_object_ref r;
  memset(&r, 0, sizeof r);
  r.bucket = BUCKET;
  r.key = (char *)key;
  r.version_id = (char *)version;
  r.size = -1;
  fp_diag d;
  fp_diag_clear(&d);
  int64_t id = 0;
  bool created = false;
  fp_err e = fp_store_enqueue(s, &r, &id, &created, &d);
  if (e) fail_msg("enqueue %s: %s", key, d.msg);
  assert_true(created);
  return id;
}

static void opts_for(fx *f, fp_worker_opts *o, unsigned threads) {
  fp_worker_opts_default(o);
  o->store_url = f->url;
  o->nthreads = threads;
  o->objstore_new = test_objstore_new;
  o->objstore_ud = &g_ctl;
  o->poll_ms = 20;
  o->lease_seconds = 30;
  o->max_attempts = 5;
  o->backoff_base_ms = 10;
  o->backoff_cap_ms = 40;
  o->owner_prefix = "test";
  o->job.report_indent = 0;
}

static fp_worker_pool *start_pool(const fp_worker_opts *o) {
  fp_diag d;
  fp_diag_clear(&d);
  fp_worker_pool *p = NULL;
  fp_err e = fp_worker_pool_start(o, &p, &d);
  if (e) fail_msg("pool start: %s: %s", fp_err_name(e), d.msg);
  return p;
}

/* Waits until no job is queued or running (or fails after timeout_s). */
static void wait_drained(fp_store *s, double timeout_s) {
  double until = now_s() + timeout_s;
  int64_t depth = -1;
  while (now_s() < until) {
    fp_diag d;
    fp_diag_clear(&d);
    if (fp_store_queue_depth(s, &depth, &d)) fail_msg("depth: %s", d.msg);
    if (depth == 0) return;
    usleep(10 * 1000);
  }
  fail_msg("queue not drained after %.0f s (depth %lld)", timeout_s, (long long)depth);
}

static fp_store_job get_job(fp_store *s, int64_t id) {
  fp_diag d;
  fp_diag_clear(&d);
  fp_store_job j;
  if (fp_store_job_get(s, id, &j, &d)) fail_msg("get %lld: %s", (long long)id, d.msg);
  return j;
}

static void expect_contains(const char *hay, const char *needle) {
  if (!hay || !strstr(hay, needle)) fail_msg("expected '%s' in '%s'", needle, hay ? hay : "(null)");
}

static long long q_int(const char *path, const char *sql) {
  if (!path[0]) fail_msg("q_int: no SQLite path");
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    fail_msg("%s: %s", sql, sqlite3_errmsg(db));
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  long long v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

/* One integer from direct SQL on whichever backend the test runs on. */
static long long db_int(const fx *f, const char *sql) {
  return f->dbpath[0] ? q_int(f->dbpath, sql) : fp_test_pg_int(f->url, sql);
}

/* ---- tests -------------------------------------------------------------------------- */

static void test_pool_runs_many_jobs(void **state) {
  fx *f = *state;
  ctl_reset(f);
  enum { N = 50 };
  char key[64];
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof key, "obj-%02d.csv", i);
    put_object(f, key, CSV);
  }
  fp_worker_opts o;
  opts_for(f, &o, 3);
  o.poll_ms = 5000; /* the notify below must be what wakes them */
  fp_worker_pool *p = start_pool(&o);
  fp_store *s = open_store(f);
  int64_t ids[N];
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof key, "obj-%02d.csv", i);
    ids[i] = enqueue(s, key, "v1");
  }
  fp_worker_pool_notify(p);
  wait_drained(s, 60);
  assert_int_equal(fp_worker_pool_stop(p, 5), 0);
  fp_worker_stats st;
  fp_worker_pool_stats(p, &st);
  fp_worker_pool_free(p);

  assert_int_equal(st.threads, 3);
  assert_int_equal(st.busy, 0);
  assert_int_equal(st.claimed, N);
  assert_int_equal(st.succeeded, N);
  assert_int_equal(st.failed + st.retried + st.dead + st.released + st.lease_lost, 0);
  assert_int_equal(st.rows, 3 * N);
  assert_int_equal(st.duration_count, N);
  uint64_t in_buckets = 0;
  for (int b = 0; b < FP_WORKER_DURATION_BUCKETS; b++) in_buckets += st.duration_bucket[b];
  assert_int_equal(in_buckets, N);
  assert_true(isinf(fp_worker_duration_bounds()[FP_WORKER_DURATION_BUCKETS - 1]));

  for (int i = 0; i < N; i++) {
    fp_store_job j = get_job(s, ids[i]);
    assert_int_equal(j.state, FP_JOB_SUCCEEDED);
    assert_int_equal(j.attempts, 1);
    assert_true(j.run_id > 0);
    assert_null(j.lease_owner);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM fp_runs WHERE id = %lld AND key = '%s'"
             " AND object_version = 'v1' AND rows = 3",
             (long long)j.run_id, j.ref.key);
    assert_int_equal(db_int(f, sql), 1);
    fp_store_job_clear(&j);
  }
  assert_int_equal(db_int(f, "SELECT count(*) FROM fp_runs"), N);
  assert_int_equal(db_int(f, "SELECT count(DISTINCT key) FROM fp_runs"), N);
  fp_store_close(s);
}

static void test_missing_object_fails_final(void **state) {
  fx *f = *state;
  ctl_reset(f);
  fp_store *s = open_store(f);
  int64_t id = enqueue(s, "no/such/object.csv", "v1");
  fp_worker_opts o;
  opts_for(f, &o, 2);
  fp_worker_pool *p = start_pool(&o);
  wait_drained(s, 30);
  usleep(100 * 1000); /* time enough for a wrong retry to show */
  assert_int_equal(fp_worker_pool_stop(p, 5), 0);
  fp_worker_stats st;
  fp_worker_pool_stats(p, &st);
  fp_worker_pool_free(p);
  fp_store_job j = get_job(s, id);
  assert_int_equal(j.state, FP_JOB_FAILED);
  assert_int_equal(j.attempts, 1);
  expect_contains(j.last_error, "NOT_FOUND");
  expect_contains(j.last_error, "no/such/object.csv");
  fp_store_job_clear(&j);
  assert_int_equal(st.failed, 1);
  assert_int_equal(st.claimed, 1);
  assert_int_equal(st.retried, 0);
  assert_int_equal(db_int(f, "SELECT count(*) FROM fp_runs"), 0);
  fp_store_close(s);
}

static void test_transient_failure_retried_then_succeeds(void **state) {
  fx *f = *state;
  ctl_reset(f);
  put_object(f, "flaky.csv", CSV);
  put_object(f, "steady.csv", CSV);
  pthread_mutex_lock(&g_ctl.mu);
  g_ctl.flaky_key = "flaky.csv";
  g_ctl.flaky_left = 2;
  pthread_mutex_unlock(&g_ctl.mu);
  fp_store *s = open_store(f);
  int64_t id = enqueue(s, "flaky.csv", "v1");
  int64_t id2 = enqueue(s, "steady.csv", "v1");
  fp_worker_opts o;
  opts_for(f, &o, 2);
  fp_worker_pool *p = start_pool(&o);
  wait_drained(s, 30);
  assert_int_equal(fp_worker_pool_stop(p, 5), 0);
  fp_worker_stats st;
  fp_worker_pool_stats(p, &st);
  fp_worker_pool_free(p);
  fp_store_job j = get_job(s, id);
  assert_int_equal(j.state, FP_JOB_SUCCEEDED);
  assert_int_equal(j.attempts, 3);
  expect_contains(j.last_error, "TRANSIENT"); /* the last failure stays visible */
  expect_contains(j.last_error, "503 SlowDown");
  assert_true(j.run_id > 0);
  fp_store_job_clear(&j);
  j = get_job(s, id2);
  assert_int_equal(j.state, FP_JOB_SUCCEEDED);
  assert_int_equal(j.attempts, 1);
  fp_store_job_clear(&j);
  assert_int_equal(g_ctl.flaky_calls, 3);
  assert_int_equal(st.retried, 2);
  assert_int_equal(st.succeeded, 2);
  assert_int_equal(st.claimed, 4);
  assert_int_equal(db_int(f, "SELECT count(*) FROM fp_runs"), 2);
  fp_store_close(s);
}

static void test_transient_until_dead(void **state) {
  fx *f = *state;
  ctl_reset(f);
  put_object(f, "broken.csv", CSV);
  pthread_mutex_lock(&g_ctl.mu);
  g_ctl.flaky_key = "broken.csv";
  g_ctl.flaky_left = -1;
  pthread_mutex_unlock(&g_ctl.mu);
  fp_store *s = open_store(f);
  int64_t id = enqueue(s, "broken.csv", "v1");
  fp_worker_opts o;
  opts_for(f, &o, 1);
  o.max_attempts = 3;
  fp_worker_pool *p = start_pool(&o);
  wait_drained(s, 30);
  fp_worker_pool_free(p); /* free alone also stops */
  fp_store_job j = get_job(s, id);
  assert_int_equal(j.state, FP_JOB_DEAD);
  assert_int_equal(j.attempts, 3);
  expect_contains(j.last_error, "503 SlowDown");
  fp_store_job_clear(&j);
  assert_int_equal(g_ctl.flaky_calls, 3);
  fp_store_close(s);
}

static void test_crashed_worker_lease_is_reclaimed(void **state) {
  fx *f = *state;
  ctl_reset(f);
  put_object(f, "orphan.csv", CSV);
  fp_store *s = open_store(f);
  int64_t id = enqueue(s, "orphan.csv", "v1");
  /* A worker of a process that then died: it claimed with a 1 s lease and vanished. */
  fp_store_job j;
  bool got = false;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_store_claim(s, "dead-host:1/abc/w1", 1, 5, &j, &got, &d), FP_OK);
  assert_true(got);
  fp_store_job_clear(&j);
  fp_worker_opts o;
  opts_for(f, &o, 1);
  double t0 = now_s();
  fp_worker_pool *p = start_pool(&o);
  wait_drained(s, 30);
  double took = now_s() - t0;
  fp_worker_pool_free(p);
  j = get_job(s, id);
  assert_int_equal(j.state, FP_JOB_SUCCEEDED);
  assert_int_equal(j.attempts, 2);
  fp_store_job_clear(&j);
  if (took < 0.5) fail_msg("re-claimed after %.2f s, before the 1 s lease expired", took);
  fp_store_close(s);
}

static void test_heartbeat_keeps_long_job(void **state) {
  fx *f = *state;
  ctl_reset(f);
  put_object(f, "long.csv", CSV);
  pthread_mutex_lock(&g_ctl.mu);
  g_ctl.slow_key = "long.csv";
  g_ctl.slow_ms = 2500; /* 2.5 leases */
  pthread_mutex_unlock(&g_ctl.mu);
  fp_store *s = open_store(f);
  int64_t id = enqueue(s, "long.csv", "v1");
  fp_worker_opts o;
  opts_for(f, &o, 1);
  o.lease_seconds = 1;
  o.heartbeat_ms = 200;
  fp_worker_pool *p = start_pool(&o);
  wait_slow_started();
  /* A competitor keeps trying to claim while the job runs: the lease never lapses. */
  double until = now_s() + 2.0;
  while (now_s() < until) {
    fp_store_job j;
    bool got = true;
    fp_diag d;
    fp_diag_clear(&d);
    assert_int_equal(fp_store_claim(s, "competitor", 1, 5, &j, &got, &d), FP_OK);
    if (got) fail_msg("competitor claimed job %lld: the lease was not kept", (long long)j.id);
    fp_store_job_clear(&j);
    usleep(100 * 1000);
  }
  wait_drained(s, 30);
  fp_worker_stats st;
  fp_worker_pool_stats(p, &st);
  fp_worker_pool_free(p);
  fp_store_job j = get_job(s, id);
  assert_int_equal(j.state, FP_JOB_SUCCEEDED);
  assert_int_equal(j.attempts, 1);
  fp_store_job_clear(&j);
  assert_int_equal(st.lease_lost, 0);
  fp_store_close(s);
}

static void test_stolen_lease_outcome_refused(void **state) {
  fx *f = *state;
  ctl_reset(f);
  put_object(f, "hung.csv", CSV);
  pthread_mutex_lock(&g_ctl.mu);
  g_ctl.slow_key = "hung.csv"; /* blocks until the gate opens: a hung worker */
  pthread_mutex_unlock(&g_ctl.mu);
  fp_store *s = open_store(f);
  int64_t id = enqueue(s, "hung.csv", "v1");
  fp_worker_opts o;
  opts_for(f, &o, 1);
  o.lease_seconds = 1;
  o.heartbeat_ms = 60000; /* no heartbeat in time: the lease lapses */
  fp_worker_pool *p = start_pool(&o);
  wait_slow_started();
  /* Another worker takes the job over once the lease expired. */
  fp_store_job j;
  bool got = false;
  double until = now_s() + 10;
  while (!got && now_s() < until) {
    fp_diag d;
    fp_diag_clear(&d);
    assert_int_equal(fp_store_claim(s, "rescuer", 30, 5, &j, &got, &d), FP_OK);
    if (!got) usleep(50 * 1000);
  }
  if (!got) fail_msg("the lapsed lease was never re-claimed");
  assert_int_equal(j.id, id);
  assert_int_equal(j.attempts, 2);
  fp_store_job_clear(&j);
  open_gate(); /* the hung worker finishes now: its succeed must be refused */
  double t_end = now_s() + 10;
  fp_worker_stats st;
  do {
    usleep(20 * 1000);
    fp_worker_pool_stats(p, &st);
  } while (st.lease_lost == 0 && now_s() < t_end);
  fp_worker_pool_free(p);
  assert_int_equal(st.lease_lost, 1);
  assert_int_equal(st.succeeded, 0);
  j = get_job(s, id);
  assert_int_equal(j.state, FP_JOB_RUNNING);
  assert_string_equal(j.lease_owner, "rescuer");
  fp_store_job_clear(&j);
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_store_job_succeed(s, id, "rescuer", -1, &d), FP_OK);
  fp_store_close(s);
}

static void test_stop_idle_pool_is_prompt(void **state) {
  fx *f = *state;
  ctl_reset(f);
  fp_worker_opts o;
  opts_for(f, &o, 4);
  o.poll_ms = 60000; /* sleeping workers must be woken, not waited for */
  o.lease_seconds = 300;
  fp_worker_pool *p = start_pool(&o);
  usleep(50 * 1000);
  double t0 = now_s();
  assert_int_equal(fp_worker_pool_stop(p, 10), 0);
  fp_worker_pool_free(p);
  double took = now_s() - t0;
  if (took > 1.0) fail_msg("stop + free of an idle pool took %.2f s", took);
  fp_worker_pool_free(NULL);
  fp_worker_pool_notify(NULL);
  assert_int_equal(fp_worker_pool_stop(NULL, 1), 0);
}

static void test_stop_waits_for_job_within_grace(void **state) {
  fx *f = *state;
  ctl_reset(f);
  put_object(f, "short.csv", CSV);
  pthread_mutex_lock(&g_ctl.mu);
  g_ctl.slow_key = "short.csv";
  g_ctl.slow_ms = 300;
  pthread_mutex_unlock(&g_ctl.mu);
  fp_store *s = open_store(f);
  int64_t id = enqueue(s, "short.csv", "v1");
  fp_worker_opts o;
  opts_for(f, &o, 2);
  fp_worker_pool *p = start_pool(&o);
  wait_slow_started();
  assert_int_equal(fp_worker_pool_stop(p, 10), 0); /* finishes inside the grace period */
  fp_worker_pool_free(p);
  fp_store_job j = get_job(s, id);
  assert_int_equal(j.state, FP_JOB_SUCCEEDED);
  fp_store_job_clear(&j);
  fp_store_close(s);
}

static void test_stop_releases_job_after_grace(void **state) {
  fx *f = *state;
  ctl_reset(f);
  put_object(f, "stuck.csv", CSV);
  pthread_mutex_lock(&g_ctl.mu);
  g_ctl.slow_key = "stuck.csv"; /* blocks until the gate opens */
  pthread_mutex_unlock(&g_ctl.mu);
  fp_store *s = open_store(f);
  int64_t id = enqueue(s, "stuck.csv", "v1");
  fp_worker_opts o;
  opts_for(f, &o, 2);
  fp_worker_pool *p = start_pool(&o);
  wait_slow_started();
  double t0 = now_s();
  assert_int_equal(fp_worker_pool_stop(p, 0.3), 1);
  double took = now_s() - t0;
  if (took < 0.25 || took > 2.0) fail_msg("stop with 0.3 s grace took %.2f s", took);
  /* Back in the queue, the attempt not counted: another process may take it now. */
  fp_store_job j = get_job(s, id);
  assert_int_equal(j.state, FP_JOB_QUEUED);
  assert_int_equal(j.attempts, 0);
  assert_null(j.lease_owner);
  fp_store_job_clear(&j);
  fp_worker_stats st;
  fp_worker_pool_stats(p, &st);
  assert_int_equal(st.released, 1);
  assert_int_equal(st.busy, 1); /* the thread is still inside the job */

  /* The stuck job ends by itself later: its outcome is refused, the job stays queued. */
  open_gate();
  fp_worker_pool_free(p); /* joins that thread */
  j = get_job(s, id);
  assert_int_equal(j.state, FP_JOB_QUEUED);
  assert_int_equal(j.attempts, 0);
  fp_store_job_clear(&j);
  fp_store_close(s);
}

static void test_backoff_full_jitter(void **state) {
  (void)state;
  uint64_t rng = 42;
  for (int attempt = 1; attempt <= 12; attempt++) {
    int64_t bound = 100LL << (attempt - 1);
    if (bound > 5000) bound = 5000;
    int64_t lo = INT64_MAX, hi = -1;
    for (int i = 0; i < 2000; i++) {
      int64_t v = fp_worker_backoff_ms(attempt, 100, 5000, &rng);
      assert_true(v >= 0 && v <= bound);
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    /* Full jitter spreads over the whole range. */
    assert_true(lo < bound / 10 + 1);
    assert_true(hi > bound - bound / 10 - 1);
  }
  assert_true(fp_worker_backoff_ms(1000, 1000, 300000, &rng) <= 300000); /* no overflow */
  assert_int_equal(fp_worker_backoff_ms(3, 0, 1000, &rng), 0);
  uint64_t zero = 0;
  assert_true(fp_worker_backoff_ms(2, 10, 100, &zero) <= 20); /* a zero seed still works */
}

static void test_opts_from_config(void **state) {
  (void)state;
  fp_config *c = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_config_load(NULL, 0, &c, &d), FP_OK);
  fp_worker_opts o;
  fp_worker_opts_default(&o);
  assert_int_equal(fp_config_set(c, "DATABASE_URL", "sqlite:///x.db"), FP_OK);
  assert_int_equal(fp_config_set(c, "FP_WORKERS", "7"), FP_OK);
  assert_int_equal(fp_config_set(c, "FP_JOB_MAX_ATTEMPTS", "9"), FP_OK);
  assert_int_equal(fp_config_set(c, "FP_JOB_LEASE_S", "120"), FP_OK);
  assert_int_equal(fp_config_set(c, "FP_JOB_POLL_MS", "250"), FP_OK);
  assert_int_equal(fp_config_set(c, "FP_JOB_BACKOFF_BASE_MS", "500"), FP_OK);
  assert_int_equal(fp_config_set(c, "FP_JOB_BACKOFF_CAP_MS", "60000"), FP_OK);
  assert_int_equal(fp_worker_opts_from_config(c, &o, &d), FP_OK);
  assert_string_equal(o.store_url, "sqlite:///x.db");
  assert_int_equal(o.nthreads, 7);
  assert_int_equal(o.max_attempts, 9);
  assert_int_equal(o.lease_seconds, 120);
  assert_int_equal(o.poll_ms, 250);
  assert_int_equal(o.backoff_base_ms, 500);
  assert_int_equal(o.backoff_cap_ms, 60000);
  assert_int_equal(fp_config_set(c, "FP_WORKERS", "0"), FP_OK);
  fp_diag_clear(&d);
  assert_int_equal(fp_worker_opts_from_config(c, &o, &d), FP_ERR_CONFIG);
  expect_contains(d.msg, "FP_WORKERS");
  assert_int_equal(fp_config_set(c, "FP_WORKERS", "two"), FP_OK);
  fp_diag_clear(&d);
  assert_int_equal(fp_worker_opts_from_config(c, &o, &d), FP_ERR_CONFIG);
  fp_config_free(c);
}

static void test_start_errors(void **state) {
  fx *f = *state;
  ctl_reset(f);
  fp_worker_opts o;
  fp_diag d;
  fp_worker_pool *p = (fp_worker_pool *)&o; /* must be reset to NULL */
  opts_for(f, &o, 2);
  o.objstore_new = NULL;
  fp_diag_clear(&d);
  assert_int_equal(fp_worker_pool_start(&o, &p, &d), FP_ERR_INVAL);
  assert_null(p);
  opts_for(f, &o, 2);
  o.store_url = "mysql://nope";
  fp_diag_clear(&d);
  assert_int_equal(fp_worker_pool_start(&o, &p, &d), FP_ERR_CONFIG);
  assert_null(p);
  /* The object store factory failing: nothing is left running. */
  opts_for(f, &o, 3);
  g_ctl.root = "/nonexistent/root";
  fp_diag_clear(&d);
  assert_int_not_equal(fp_worker_pool_start(&o, &p, &d), FP_OK);
  assert_null(p);
}

int main(void) {
  fp_log_set_level(FP_LOG_OFF);
  fp_log_setup(getenv("FP_TEST_LOG"), 0); /* e.g. FP_TEST_LOG=info to watch the workers */
  pthread_mutex_init(&g_ctl.mu, NULL);
  pthread_cond_init(&g_ctl.cv, NULL);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_pool_runs_many_jobs, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_missing_object_fails_final, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_transient_failure_retried_then_succeeds, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_transient_until_dead, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_crashed_worker_lease_is_reclaimed, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_heartbeat_keeps_long_job, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_stolen_lease_outcome_refused, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_stop_idle_pool_is_prompt, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_stop_waits_for_job_within_grace, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_stop_releases_job_after_grace, fx_setup, fx_teardown),
      cmocka_unit_test(test_backoff_full_jitter),
      cmocka_unit_test(test_opts_from_config),
      cmocka_unit_test_setup_teardown(test_start_errors, fx_setup, fx_teardown),
  };
  int failed = cmocka_run_group_tests_name("worker/sqlite", tests, NULL, NULL);
  if (!fp_test_pg_url()) {
    FP_TEST_PG_SKIP_MSG("test_worker");
    return failed;
  }
#define PGT(fn) cmocka_unit_test_setup_teardown(fn, fx_setup_pg, fx_teardown)
  const struct CMUnitTest pg_tests[] = {
      PGT(test_pool_runs_many_jobs),
      PGT(test_missing_object_fails_final),
      PGT(test_transient_failure_retried_then_succeeds),
      PGT(test_transient_until_dead),
      PGT(test_crashed_worker_lease_is_reclaimed),
      PGT(test_heartbeat_keeps_long_job),
      PGT(test_stolen_lease_outcome_refused),
      PGT(test_stop_idle_pool_is_prompt),
      PGT(test_stop_waits_for_job_within_grace),
      PGT(test_stop_releases_job_after_grace),
  };
#undef PGT
  return failed + cmocka_run_group_tests_name("worker/postgresql", pg_tests, NULL, NULL);
}
