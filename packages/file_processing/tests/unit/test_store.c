/* test_store.c — results store: URL parsing, migrations, save/replace/rollback of runs,
 * listing, reports and error mapping. Rows are checked with direct SQL through a second
 * sqlite3 connection to the same file, so the tests do not trust the code under test to
 * read back what it wrote.
 *
 * With FP_TEST_PG_URL set (tests/support/pg_harness.sh), the backend-neutral tests run a
 * second time against PostgreSQL, followed by PostgreSQL-only ones; the peer checks then
 * go through libpq (p_int, p_text, p_expect pick the backend). Without it that group is
 * skipped with a message. */
#include "fp_test.h"
#include "fp_test_pg.h"

#include <dirent.h>
#include <pthread.h>

#include <sqlite3.h>

#include "fp/fp_log.h"
#include "fp/fp_store.h"
#include "store/store_int.h"

/* ---- fixture: a temp dir with a database path in it -------------------------------- */

typedef struct fx {
  char dir[128];
  char path[256]; /* dir/results.db; "" on PostgreSQL */
  char url[600];  /* sqlite:///<absolute path> | the PostgreSQL test database */
} fx;

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  if (!f) return -1;
  fp_test_tmpdir(f->dir, sizeof f->dir);
  if (!f->dir[0]) return -1;
  snprintf(f->path, sizeof f->path, "%s/results.db", f->dir);
  snprintf(f->url, sizeof f->url, "sqlite:///%s", f->path);
  *state = f;
  return 0;
}

/* The PostgreSQL group: the test server's database, emptied. */
static int fx_setup_pg(void **state) {
  fx *f = calloc(1, sizeof *f);
  if (!f) return -1;
  snprintf(f->url, sizeof f->url, "%s", fp_test_pg_url());
  fp_test_pg_reset(f->url);
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

/* ---- direct SQL through a second connection ---------------------------------------- */

static sqlite3 *peer_open(const char *path) {
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  return db;
}

/* First column of the first row as an integer; the test fails on a missing row. */
static long long q_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    fail_msg("%s: %s", sql, sqlite3_errmsg(db));
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  long long v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* First column of the first row as text; owned (free); NULL for SQL NULL. */
static char *q_text(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    fail_msg("%s: %s", sql, sqlite3_errmsg(db));
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  const unsigned char *t = sqlite3_column_text(st, 0);
  char *v = t ? strdup((const char *)t) : NULL;
  sqlite3_finalize(st);
  return v;
}

static void expect_text(sqlite3 *db, const char *sql, const char *want) {
  char *got = q_text(db, sql);
  if (!want) {
    if (got) fail_msg("%s: expected NULL, got '%s'", sql, got);
    return;
  }
  if (!got) fail_msg("%s: expected '%s', got NULL", sql, want);
  assert_string_equal(got, want);
  free(got);
}

/* Backend-neutral peer checks: one query on a fresh connection to f's database. SQLite's
 * group_concat is spelled string_agg on PostgreSQL. */
static char *pg_sql(const char *sql) {
  static char buf[1024];
  const char *at = strstr(sql, "group_concat(");
  if (!at) return (char *)sql;
  snprintf(buf, sizeof buf, "%.*sstring_agg(%s", (int)(at - sql), sql, at + 13);
  return buf;
}

static long long p_int(const fx *f, const char *sql) {
  if (is_pg(f)) return fp_test_pg_int(f->url, pg_sql(sql));
  sqlite3 *db = peer_open(f->path);
  long long v = q_int(db, sql);
  sqlite3_close(db);
  return v;
}

static char *p_text(const fx *f, const char *sql) {
  if (is_pg(f)) return fp_test_pg_text(f->url, pg_sql(sql));
  sqlite3 *db = peer_open(f->path);
  char *v = q_text(db, sql);
  sqlite3_close(db);
  return v;
}

static void p_expect(const fx *f, const char *sql, const char *want) {
  char *got = p_text(f, sql);
  if (!want) {
    if (got) fail_msg("%s: expected NULL, got '%s'", sql, got);
    return;
  }
  if (!got) fail_msg("%s: expected '%s', got NULL", sql, want);
  assert_string_equal(got, want);
  free(got);
}

static void expect_contains(const char *hay, const char *needle) {
  if (!strstr(hay, needle)) fail_msg("expected '%s' in '%s'", needle, hay);
}

static void expect_absent(const char *hay, const char *needle) {
  if (strstr(hay, needle)) fail_msg("did not expect '%s' in '%s'", needle, hay);
}

/* ---- sample data ------------------------------------------------------------------- */

static const fp_store_column sample_cols[3] = {
    {1, "id", "integer", 100, 0, 100, 0, "1", "100", 1, 50.5, 29.011, "{\"name\":\"id\"}"},
    {2, "name", "string", 100, 3, 87, 1, "Aaron", "Zoe", 0, 0, 0, "{\"name\":\"name\"}"},
    {3, "salary", "number", 100, 7, 64, 1, NULL, NULL, 1, 51234.25, 1200.5, NULL},
};

static const fp_store_finding sample_findings[2] = {
    {"missing-cell", "error", 3, "salary", 7, 3, 1, "[{\"row\":4},{\"row\":9},{\"row\":12}]"},
    {"blank-row", "warning", 0, NULL, 1, 1, 0, "[{\"row\":57}]"},
};

static fp_store_run sample_run(const char *version) {
  fp_store_run r;
  memset(&r, 0, sizeof r);
  r.bucket = "raw-bucket";
  r.key = "officers/2024/Officer_Detail.csv";
  r.object_version = version;
  r.version_id = version;
  r.etag = "\"0123abcd\"";
  r.size = 4096;
  r.event_time = "2024-05-01T10:00:00.000Z";
  r.job_name = "s3_data_quality_job";
  r.contract = "officer_detail";
  r.verdict = "failed";
  r.rows = 100;
  r.bytes = 4096;
  r.columns = 3;
  r.errors = 7;
  r.warnings = 1;
  r.started_at = "2024-05-01T10:00:01.000Z";
  r.finished_at = "2024-05-01T10:00:02.500Z";
  r.duration_ms = 1500.25;
  r.report_json = "{\"report_version\":1,\"verdict\":\"failed\"}";
  r.cols = sample_cols;
  r.ncols = 3;
  r.findings = sample_findings;
  r.nfindings = 2;
  return r;
}

/* The newest schema version this build knows (one migration per version, no gaps). */
#define LATEST ((int)fp__sqlite_migrations_n)

static fp_store *open_ok(const char *url) {
  fp_diag d;
  fp_diag_clear(&d);
  fp_store *s = NULL;
  fp_err e = fp_store_open(url, &s, &d);
  if (e) fail_msg("fp_store_open(%s): %s: %s", url, fp_err_name(e), d.msg);
  assert_non_null(s);
  return s;
}

static int64_t save_ok(fp_store *s, const fp_store_run *r) {
  fp_diag d;
  fp_diag_clear(&d);
  int64_t id = 0;
  fp_err e = fp_store_save_run(s, r, &id, &d);
  if (e) fail_msg("fp_store_save_run: %s: %s", fp_err_name(e), d.msg);
  assert_true(id > 0);
  return id;
}

/* A non-NULL store pointer that out-parameters must overwrite; never dereferenced. */
static fp_store *fp_test_poison_store(void) {
  static char dummy;
  return (fp_store *)(void *)&dummy;
}

/* ---- URL parsing ------------------------------------------------------------------- */

static void test_url_relative_absolute_memory(void **state) {
  (void)state;
  fp__store_url u;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp__store_parse_url("sqlite:///relative/path.db", &u, &d), FP_OK);
  assert_int_equal(u.kind, FP__STORE_SQLITE);
  assert_string_equal(u.path, "relative/path.db");
  assert_int_equal(u.memory, 0);

  assert_int_equal(fp__store_parse_url("sqlite:////abs/path.db", &u, &d), FP_OK);
  assert_string_equal(u.path, "/abs/path.db");
  assert_int_equal(u.memory, 0);

  assert_int_equal(fp__store_parse_url("sqlite://:memory:", &u, &d), FP_OK);
  assert_string_equal(u.path, ":memory:");
  assert_int_equal(u.memory, 1);
  assert_int_equal(fp__store_parse_url("sqlite:///:memory:", &u, &d), FP_OK);
  assert_string_equal(u.path, ":memory:");
  assert_int_equal(u.memory, 1);

  assert_int_equal(fp__store_parse_url("SQLite:///x.db", &u, &d), FP_OK);
  assert_string_equal(u.path, "x.db");
  assert_int_equal(d.code, FP_OK);
}

static void test_url_malformed_sqlite(void **state) {
  (void)state;
  static const char *const bad[] = {
      "sqlite://host/x.db",
      "sqlite:///",
      "sqlite://",
      "sqlite:/x.db",
      "sqlite:x.db",
      "sqlite:",
      "sqlite:///x.db?mode=ro",
      "sqlite:///x.db#frag",
      "just/a/path.db",
      "",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    fp__store_url u;
    fp_diag d;
    fp_diag_clear(&d);
    fp_err e = fp__store_parse_url(bad[i], &u, &d);
    if (e != FP_ERR_CONFIG) fail_msg("'%s': expected CONFIG, got %s", bad[i], fp_err_name(e));
    assert_int_equal(d.code, FP_ERR_CONFIG);
    assert_true(d.msg[0] != '\0');
  }
  fp__store_url u;
  assert_int_equal(fp__store_parse_url(NULL, &u, NULL), FP_ERR_INVAL);
}

/* No server on 127.0.0.1:1: transient (the service retries), and the password never
 * shows. Both schemes reach libpq; URI parameters pass through (connect_timeout). */
static void test_url_postgres_unreachable_transient_masked(void **state) {
  (void)state;
  static const char *const urls[] = {
      "postgresql://fp:S3cretPw@127.0.0.1:1/fp?connect_timeout=3",
      "postgres://fp:S3cretPw@127.0.0.1:1/fp?sslmode=disable&application_name=fp-test"};
  for (size_t i = 0; i < 2; i++) {
    fp_diag d;
    fp_diag_clear(&d);
    fp_store *s = fp_test_poison_store(); /* must be reset to NULL */
    assert_int_equal(fp_store_open(urls[i], &s, &d), FP_ERR_TRANSIENT);
    assert_null(s);
    assert_int_equal(d.code, FP_ERR_TRANSIENT);
    expect_contains(d.msg, "PostgreSQL: cannot connect to");
    expect_contains(d.msg, "fp:***@127.0.0.1:1");
    expect_absent(d.msg, "S3cretPw");
    char full[1200];
    fp_diag_format(&d, full, sizeof full);
    expect_absent(full, "S3cretPw");
  }
}

static void test_url_unknown_scheme_config_masked(void **state) {
  (void)state;
  fp_diag d;
  fp_diag_clear(&d);
  fp_store *s = NULL;
  assert_int_equal(fp_store_open("mysql://root:Hunter2Pw@db/fp", &s, &d), FP_ERR_CONFIG);
  assert_null(s);
  expect_contains(d.msg, "'mysql'");
  expect_contains(d.msg, "root:***@db");
  expect_absent(d.msg, "Hunter2Pw");

  fp_diag_clear(&d);
  assert_int_equal(fp_store_open("sqlite://user:Hunter2Pw@host/x.db", &s, &d), FP_ERR_CONFIG);
  expect_absent(d.msg, "Hunter2Pw");
}

/* ---- opening ----------------------------------------------------------------------- */

static void test_open_memory(void **state) {
  (void)state;
  fp_store *s = open_ok("sqlite://:memory:");
  assert_string_equal(fp_store_backend(s), "sqlite");
  assert_int_equal(fp_store_schema_version(s), LATEST);
  fp_store_run r = sample_run("v1");
  int64_t id = save_ok(s, &r);
  char *json = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_store_get_report(s, id, &json, &d), FP_OK);
  assert_string_equal(json, r.report_json);
  free(json);
  fp_store_close(s);
  fp_store_close(NULL);
  assert_null(fp_store_backend(NULL));
  assert_int_equal(fp_store_schema_version(NULL), -1);
}

static void test_open_relative_path_is_under_cwd(void **state) {
  fx *f = *state;
  char old[1024];
  assert_non_null(getcwd(old, sizeof old));
  assert_int_equal(chdir(f->dir), 0);
  fp_store *s = open_ok("sqlite:///relative.db");
  fp_store_close(s);
  assert_int_equal(chdir(old), 0);
  char p[300];
  struct stat st;
  snprintf(p, sizeof p, "%s/relative.db", f->dir);
  assert_int_equal(stat(p, &st), 0);
}

static void test_open_unwritable_path_is_db_error(void **state) {
  fx *f = *state;
  char url[400];
  snprintf(url, sizeof url, "sqlite:///%s/no/such/dir/results.db", f->dir);
  fp_diag d;
  fp_diag_clear(&d);
  fp_store *s = NULL;
  assert_int_equal(fp_store_open(url, &s, &d), FP_ERR_DB);
  assert_null(s);
  assert_int_equal(d.code, FP_ERR_DB);
  expect_contains(d.msg, "/no/such/dir/results.db");
  expect_contains(d.msg, "unable to open database file");
  expect_contains(d.key, "/no/such/dir/results.db");

  /* A directory where the file should be. */
  fp_diag_clear(&d);
  snprintf(url, sizeof url, "sqlite:///%s", f->dir);
  assert_int_equal(fp_store_open(url, &s, &d), FP_ERR_DB);
  expect_contains(d.msg, f->dir);
}

static void test_open_sets_wal_and_foreign_keys(void **state) {
  fx *f = *state;
  fp_store *s = open_ok(f->url);
  sqlite3 *mine = fp__sqlite_handle(s);
  assert_non_null(mine);
  assert_int_equal(q_int(mine, "PRAGMA foreign_keys"), 1);
  assert_int_equal(q_int(mine, "PRAGMA synchronous"), 1); /* NORMAL */
  assert_int_equal(q_int(mine, "PRAGMA busy_timeout"), 10000);
  sqlite3 *db = peer_open(f->path);
  expect_text(db, "PRAGMA journal_mode", "wal");
  sqlite3_close(db);
  fp_store_close(s);
}

/* ---- migrations -------------------------------------------------------------------- */

static void test_migration_arrays_agree(void **state) {
  (void)state;
  assert_true(fp__sqlite_migrations_n >= 1);
  assert_int_equal(fp__sqlite_migrations_n, fp__pg_migrations_n);
  for (size_t i = 0; i < fp__sqlite_migrations_n; i++) {
    const fp__migration *a = &fp__sqlite_migrations[i], *b = &fp__pg_migrations[i];
    assert_int_equal(a->version, b->version);
    assert_string_equal(a->description, b->description);
    assert_int_equal(a->version, (int)i + 1); /* strictly increasing, no gaps */
    assert_non_null(strstr(a->sql, "CREATE ")); /* tables or indexes */
  }
}

static void test_migrations_fresh_then_idempotent(void **state) {
  fx *f = *state;
  fp_diag d;
  fp_diag_clear(&d);
  /* The internal open does not migrate, so the first migrate is observable. */
  fp_store *s = NULL;
  assert_int_equal(fp__sqlite_open(f->path, 0, f->url, &s, &d), FP_OK);
  assert_int_equal(fp_store_schema_version(s), 0);
  int applied = -1;
  assert_int_equal(fp_store_migrate(s, &applied, &d), FP_OK);
  assert_int_equal(applied, LATEST);
  assert_int_equal(fp_store_schema_version(s), LATEST);
  assert_int_equal(fp_store_migrate(s, &applied, &d), FP_OK);
  assert_int_equal(applied, 0);
  assert_int_equal(fp_store_migrate(s, NULL, &d), FP_OK);
  fp_store_close(s);

  s = open_ok(f->url); /* reopen through the public path */
  applied = -1;
  assert_int_equal(fp_store_migrate(s, &applied, &d), FP_OK);
  assert_int_equal(applied, 0);
  assert_int_equal(fp_store_schema_version(s), LATEST);
  fp_store_close(s);

  sqlite3 *db = peer_open(f->path);
  static const char *const objects[] = {
      "table/fp_schema_migrations",    "table/fp_jobs",         "table/fp_runs",
      "table/fp_column_profiles",      "table/fp_findings",     "index/fp_findings_run_id_idx",
      "index/fp_runs_finished_at_idx", "index/fp_runs_key_idx",
  };
  for (size_t i = 0; i < sizeof objects / sizeof objects[0]; i++) {
    char sql[256];
    const char *slash = strchr(objects[i], '/');
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM sqlite_master WHERE type = '%.*s' AND name = '%s'",
             (int)(slash - objects[i]), objects[i], slash + 1);
    if (q_int(db, sql) != 1) fail_msg("missing %s", objects[i]);
  }
  assert_int_equal(q_int(db, "SELECT count(*) FROM fp_schema_migrations"), LATEST);
  assert_int_equal(q_int(db, "SELECT max(version) FROM fp_schema_migrations"), LATEST);
  expect_text(db, "SELECT description FROM fp_schema_migrations WHERE version = 1",
              fp__sqlite_migrations[0].description);
  char *at = q_text(db, "SELECT applied_at FROM fp_schema_migrations WHERE version = 1");
  assert_int_equal(strlen(at), 24);
  assert_int_equal(at[10], 'T');
  assert_int_equal(at[23], 'Z');
  free(at);
  /* The CHECK on fp_jobs.state is in force. */
  assert_int_equal(sqlite3_exec(db,
                                "INSERT INTO fp_jobs (idempotency_key, bucket, key, state,"
                                " created_at, updated_at) VALUES ('k', 'b', 'k', 'bogus',"
                                " 'x', 'x')",
                                NULL, NULL, NULL) &
                       0xff,
                   SQLITE_CONSTRAINT);
  assert_int_equal(sqlite3_exec(db,
                                "INSERT INTO fp_jobs (idempotency_key, bucket, key,"
                                " created_at, updated_at) VALUES ('k', 'b', 'k', 'x', 'x')",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  expect_text(db, "SELECT state FROM fp_jobs", "queued");
  assert_int_equal(q_int(db, "SELECT attempts FROM fp_jobs"), 0);
  sqlite3_close(db);
}

static void test_migrations_refuse_newer_schema(void **state) {
  fx *f = *state;
  fp_store_close(open_ok(f->url));
  sqlite3 *db = peer_open(f->path);
  assert_int_equal(sqlite3_exec(db, "INSERT INTO fp_schema_migrations VALUES (99, 'x', 'future')",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(db);
  fp_diag d;
  fp_diag_clear(&d);
  fp_store *s = NULL;
  assert_int_equal(fp_store_open(f->url, &s, &d), FP_ERR_DB);
  assert_null(s);
  expect_contains(d.msg, "schema version 99");
}

typedef struct racer {
  const char *url;
  fp_err err;
  char msg[FP_DIAG_MSG_MAX];
} racer;

static void *race_open(void *arg) {
  racer *r = arg;
  fp_diag d;
  fp_diag_clear(&d);
  fp_store *s = NULL;
  r->err = fp_store_open(r->url, &s, &d);
  snprintf(r->msg, sizeof r->msg, "%s", d.msg);
  fp_store_close(s);
  return NULL;
}

static void test_migrations_concurrent_open_applies_once(void **state) {
  fx *f = *state;
  enum { N = 6 };
  pthread_t t[N];
  racer r[N];
  for (int i = 0; i < N; i++) {
    r[i].url = f->url;
    r[i].err = FP_ERR_INTERNAL;
    assert_int_equal(pthread_create(&t[i], NULL, race_open, &r[i]), 0);
  }
  for (int i = 0; i < N; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < N; i++)
    if (r[i].err) fail_msg("opener %d: %s: %s", i, fp_err_name(r[i].err), r[i].msg);
  assert_int_equal(p_int(f, "SELECT count(*) FROM fp_schema_migrations"), LATEST);
}

/* ---- save_run ---------------------------------------------------------------------- */

static void test_save_run_round_trip(void **state) {
  fx *f = *state;
  fp_store *s = open_ok(f->url);
  fp_store_run r = sample_run("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY");
  r.size = -1; /* unknown -> NULL */
  int64_t id = save_ok(s, &r);
  fp_store_close(s);

  char sql[256];
  assert_int_equal(p_int(f, "SELECT count(*) FROM fp_runs"), 1);
  assert_int_equal(p_int(f, "SELECT id FROM fp_runs"), id);
  p_expect(f, "SELECT bucket FROM fp_runs", "raw-bucket");
  p_expect(f, "SELECT key FROM fp_runs", "officers/2024/Officer_Detail.csv");
  p_expect(f, "SELECT object_version FROM fp_runs", "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY");
  p_expect(f, "SELECT version_id FROM fp_runs", "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY");
  p_expect(f, "SELECT etag FROM fp_runs", "\"0123abcd\"");
  p_expect(f, "SELECT size FROM fp_runs", NULL);
  p_expect(f, "SELECT event_time FROM fp_runs", "2024-05-01T10:00:00.000Z");
  p_expect(f, "SELECT job_name FROM fp_runs", "s3_data_quality_job");
  p_expect(f, "SELECT contract FROM fp_runs", "officer_detail");
  p_expect(f, "SELECT verdict FROM fp_runs", "failed");
  assert_int_equal(p_int(f, "SELECT rows FROM fp_runs"), 100);
  assert_int_equal(p_int(f, "SELECT columns FROM fp_runs"), 3);
  assert_int_equal(p_int(f, "SELECT bytes FROM fp_runs"), 4096);
  assert_int_equal(p_int(f, "SELECT errors FROM fp_runs"), 7);
  assert_int_equal(p_int(f, "SELECT warnings FROM fp_runs"), 1);
  p_expect(f, "SELECT started_at FROM fp_runs", "2024-05-01T10:00:01.000Z");
  p_expect(f, "SELECT finished_at FROM fp_runs", "2024-05-01T10:00:02.500Z");
  p_expect(f, "SELECT duration_ms FROM fp_runs", "1500.25");
  p_expect(f, "SELECT report_json FROM fp_runs", r.report_json);
  char *created = p_text(f, "SELECT created_at FROM fp_runs");
  assert_int_equal(strlen(created), 24);
  free(created);

  assert_int_equal(p_int(f, "SELECT count(*) FROM fp_column_profiles"), 3);
  snprintf(sql, sizeof sql, "SELECT count(*) FROM fp_column_profiles WHERE run_id = %lld",
           (long long)id);
  assert_int_equal(p_int(f, sql), 3);
  p_expect(f,
              "SELECT group_concat(col_index || ':' || name || ':' || type || ':' || count"
              " || ':' || missing || ':' || distinct_count || ':' || distinct_approx, '|')"
              " FROM (SELECT * FROM fp_column_profiles ORDER BY col_index) AS t",
              "1:id:integer:100:0:100:0|2:name:string:100:3:87:1|3:salary:number:100:7:64:1");
  p_expect(f, "SELECT min_value FROM fp_column_profiles WHERE col_index = 2", "Aaron");
  p_expect(f, "SELECT max_value FROM fp_column_profiles WHERE col_index = 2", "Zoe");
  p_expect(f, "SELECT min_value FROM fp_column_profiles WHERE col_index = 3", NULL);
  p_expect(f, "SELECT mean FROM fp_column_profiles WHERE col_index = 1", "50.5");
  p_expect(f, "SELECT stddev FROM fp_column_profiles WHERE col_index = 1", "29.011");
  p_expect(f, "SELECT mean FROM fp_column_profiles WHERE col_index = 2", NULL);
  p_expect(f, "SELECT mean FROM fp_column_profiles WHERE col_index = 3", "51234.25");
  p_expect(f, "SELECT profile_json FROM fp_column_profiles WHERE col_index = 1",
              "{\"name\":\"id\"}");
  p_expect(f, "SELECT profile_json FROM fp_column_profiles WHERE col_index = 3", NULL);

  assert_int_equal(p_int(f, "SELECT count(*) FROM fp_findings"), 2);
  p_expect(f,
              "SELECT group_concat(code || ':' || severity || ':' || field || ':' ||"
              " coalesce(field_name, '-') || ':' || count || ':' || nsamples || ':' || capped,"
              " '|') FROM (SELECT * FROM fp_findings ORDER BY id) AS t",
              "missing-cell:error:3:salary:7:3:1|blank-row:warning:0:-:1:1:0");
  p_expect(f, "SELECT samples_json FROM fp_findings WHERE code = 'blank-row'",
              "[{\"row\":57}]");
  snprintf(sql, sizeof sql, "SELECT count(*) FROM fp_findings WHERE run_id = %lld", (long long)id);
  assert_int_equal(p_int(f, sql), 2);
}

static void test_save_run_defaults(void **state) {
  fx *f = *state;
  fp_store *s = open_ok(f->url);
  fp_store_run r = sample_run(NULL); /* NULL object_version means "" */
  r.finished_at = NULL;              /* -> now */
  r.contract = NULL;
  r.ncols = 0;
  r.cols = NULL;
  fp_store_finding fnd = sample_findings[1];
  fnd.samples_json = NULL; /* -> "[]" */
  r.findings = &fnd;
  r.nfindings = 1;
  save_ok(s, &r);
  r.object_version = ""; /* the same version as NULL: replaces */
  save_ok(s, &r);
  fp_store_close(s);
  assert_int_equal(p_int(f, "SELECT count(*) FROM fp_runs"), 1);
  p_expect(f, "SELECT object_version FROM fp_runs", "");
  p_expect(f, "SELECT contract FROM fp_runs", NULL);
  p_expect(f, "SELECT samples_json FROM fp_findings", "[]");
  char *fin = p_text(f, "SELECT finished_at FROM fp_runs");
  assert_int_equal(strlen(fin), 24);
  assert_int_equal(fin[23], 'Z');
  free(fin);
}

static void test_save_run_replaces_same_version(void **state) {
  fx *f = *state;
  fp_store *s = open_ok(f->url);
  fp_store_run a = sample_run("v1");
  int64_t id1 = save_ok(s, &a);

  fp_store_run b = sample_run("v1");
  fp_store_column col = {1, "only", "string", 5, 0, 5, 0, "a", "e", 0, 0, 0, "{}"};
  fp_store_finding fnd = {"extra-cell", "error", 2, NULL, 4, 2, 0, "[1,2]"};
  b.verdict = "warned";
  b.report_json = "{\"second\":true}";
  b.cols = &col;
  b.ncols = 1;
  b.findings = &fnd;
  b.nfindings = 1;
  int64_t id2 = save_ok(s, &b);
  assert_true(id2 != id1);

  char sql[256];
  assert_int_equal(p_int(f, "SELECT count(*) FROM fp_runs"), 1);
  assert_int_equal(p_int(f, "SELECT id FROM fp_runs"), id2);
  p_expect(f, "SELECT verdict FROM fp_runs", "warned");
  assert_int_equal(p_int(f, "SELECT count(*) FROM fp_column_profiles"), 1);
  snprintf(sql, sizeof sql, "SELECT count(*) FROM fp_column_profiles WHERE run_id = %lld",
           (long long)id2);
  assert_int_equal(p_int(f, sql), 1);
  p_expect(f, "SELECT name FROM fp_column_profiles", "only");
  assert_int_equal(p_int(f, "SELECT count(*) FROM fp_findings"), 1);
  p_expect(f, "SELECT code FROM fp_findings", "extra-cell");
  snprintf(sql, sizeof sql, "SELECT run_id FROM fp_findings");
  assert_int_equal(p_int(f, sql), id2);

  fp_diag d;
  fp_diag_clear(&d);
  char *json = NULL;
  assert_int_equal(fp_store_get_report(s, id1, &json, &d), FP_ERR_NOT_FOUND);
  assert_null(json);
  fp_diag_clear(&d);
  assert_int_equal(fp_store_get_report(s, id2, &json, &d), FP_OK);
  assert_string_equal(json, "{\"second\":true}");
  free(json);

  /* A different version of the same key is a second run with its own children. */
  fp_store_run c = sample_run("v2");
  int64_t id3 = save_ok(s, &c);
  assert_int_equal(p_int(f, "SELECT count(*) FROM fp_runs"), 2);
  assert_int_equal(p_int(f, "SELECT count(*) FROM fp_column_profiles"), 4);
  assert_int_equal(p_int(f, "SELECT count(*) FROM fp_findings"), 3);
  snprintf(sql, sizeof sql, "SELECT count(*) FROM fp_findings WHERE run_id = %lld", (long long)id3);
  assert_int_equal(p_int(f, sql), 2);
  /* Ids are never reused, even after the newest run was replaced. */
  assert_true(id3 > id2);
  fp_store_close(s);
}

/* The version-v1 run saved first must survive a failed replacement untouched. */
static void expect_v1_intact(const fx *f, int64_t id) {
  char sql[256];
  assert_int_equal(p_int(f, "SELECT count(*) FROM fp_runs"), 1);
  assert_int_equal(p_int(f, "SELECT id FROM fp_runs WHERE object_version = 'v1'"), id);
  p_expect(f, "SELECT verdict FROM fp_runs", "failed");
  snprintf(sql, sizeof sql, "SELECT count(*) FROM fp_column_profiles WHERE run_id = %lld",
           (long long)id);
  assert_int_equal(p_int(f, sql), 3);
  assert_int_equal(p_int(f, "SELECT count(*) FROM fp_column_profiles"), 3);
  snprintf(sql, sizeof sql, "SELECT count(*) FROM fp_findings WHERE run_id = %lld", (long long)id);
  assert_int_equal(p_int(f, sql), 2);
  assert_int_equal(p_int(f, "SELECT count(*) FROM fp_findings"), 2);
}

static void test_save_run_failure_rolls_back(void **state) {
  fx *f = *state;
  fp_store *s = open_ok(f->url);
  fp_store_run good = sample_run("v1");
  int64_t id = save_ok(s, &good);

  /* Second finding violates the severity CHECK after the delete, the run and the columns
   * went in: all of it must be undone. */
  fp_store_run bad = sample_run("v1");
  bad.verdict = "passed";
  fp_store_finding fnd[2] = {sample_findings[0], sample_findings[1]};
  fnd[1].severity = "fatal";
  bad.findings = fnd;
  fp_diag d;
  fp_diag_clear(&d);
  int64_t bad_id = 77;
  assert_int_equal(fp_store_save_run(s, &bad, &bad_id, &d), FP_ERR_DB);
  assert_int_equal(bad_id, 0);
  expect_contains(d.msg, "insert finding 2");
  expect_contains(d.msg, "CHECK constraint failed");
  assert_string_equal(d.key, bad.key);
  expect_v1_intact(f, id);

  /* A duplicate column index violates the primary key. */
  fp_store_column cols[2] = {sample_cols[0], sample_cols[0]};
  bad.findings = sample_findings;
  bad.cols = cols;
  bad.ncols = 2;
  fp_diag_clear(&d);
  assert_int_equal(fp_store_save_run(s, &bad, NULL, &d), FP_ERR_DB);
  expect_contains(d.msg, "insert column profile 2");
  expect_contains(d.msg, "UNIQUE constraint failed");
  expect_v1_intact(f, id);

  /* A bad verdict fails at the run insert. */
  fp_store_run bad2 = sample_run("v1");
  bad2.verdict = "maybe";
  fp_diag_clear(&d);
  assert_int_equal(fp_store_save_run(s, &bad2, NULL, &d), FP_ERR_DB);
  expect_contains(d.msg, "insert run");
  expect_v1_intact(f, id);

  /* The handle is still usable: no transaction was left open. */
  fp_store_run ok = sample_run("v9");
  save_ok(s, &ok);
  assert_int_equal(p_int(f, "SELECT count(*) FROM fp_runs"), 2);
  fp_store_close(s);
}

static void test_save_run_busy_is_transient(void **state) {
  fx *f = *state;
  fp_store *s = open_ok(f->url);
  sqlite3_busy_timeout(fp__sqlite_handle(s), 50); /* the default 10 s would slow the test */
  sqlite3 *db = peer_open(f->path);
  assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
  fp_store_run r = sample_run("v1");
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_store_save_run(s, &r, NULL, &d), FP_ERR_TRANSIENT);
  expect_contains(d.msg, "begin transaction");
  expect_contains(d.msg, "locked");
  assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
  save_ok(s, &r);
  assert_int_equal(q_int(db, "SELECT count(*) FROM fp_runs"), 1);
  sqlite3_close(db);
  fp_store_close(s);
}

static void test_save_run_rejects_bad_arguments(void **state) {
  (void)state;
  fp_store *s = open_ok("sqlite://:memory:");
  fp_diag d;
  fp_diag_clear(&d);
  fp_store_run r = sample_run("v1");
  r.bucket = NULL;
  assert_int_equal(fp_store_save_run(s, &r, NULL, &d), FP_ERR_INVAL);
  r = sample_run("v1");
  r.report_json = NULL;
  fp_diag_clear(&d);
  assert_int_equal(fp_store_save_run(s, &r, NULL, &d), FP_ERR_INVAL);
  r = sample_run("v1");
  r.rows = UINT64_MAX;
  fp_diag_clear(&d);
  assert_int_equal(fp_store_save_run(s, &r, NULL, &d), FP_ERR_INVAL);
  expect_contains(d.msg, "BIGINT");
  r = sample_run("v1");
  r.cols = NULL;
  fp_diag_clear(&d);
  assert_int_equal(fp_store_save_run(s, &r, NULL, &d), FP_ERR_INVAL);
  fp_diag_clear(&d);
  assert_int_equal(fp_store_save_run(NULL, &r, NULL, &d), FP_ERR_INVAL);
  fp_store_run_list l;
  assert_int_equal(fp_store_list_runs(s, 0, &l, NULL), FP_OK);
  assert_int_equal(l.n, 0); /* nothing was written by the rejected calls */
  fp_store_run_list_free(&l);
  fp_store_close(s);
}

/* ---- reading ----------------------------------------------------------------------- */

static void test_list_runs_order_and_limit(void **state) {
  fx *f = *state;
  fp_store *s = open_ok(f->url);
  static const char *const fin[] = {"2024-01-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z",
                                    "2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"};
  static const char *const ver[] = {"a", "b", "c", "d"};
  int64_t ids[4];
  for (int i = 0; i < 4; i++) {
    fp_store_run r = sample_run(ver[i]);
    r.finished_at = fin[i];
    r.rows = 10 + (uint64_t)i;
    r.contract = i == 2 ? NULL : "officer_detail";
    ids[i] = save_ok(s, &r);
  }
  fp_store_close(s);
  s = open_ok(f->url); /* persisted */

  fp_store_run_list l;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_store_list_runs(s, 0, &l, &d), FP_OK);
  assert_int_equal(l.n, 4);
  /* newest finished first; the tie on 2024-03-01 goes to the later id */
  assert_string_equal(l.items[0].object_version, "d");
  assert_string_equal(l.items[1].object_version, "b");
  assert_string_equal(l.items[2].object_version, "c");
  assert_string_equal(l.items[3].object_version, "a");
  assert_int_equal(l.items[0].id, ids[3]);
  assert_int_equal(l.items[3].id, ids[0]);
  assert_string_equal(l.items[1].bucket, "raw-bucket");
  assert_string_equal(l.items[1].key, "officers/2024/Officer_Detail.csv");
  assert_string_equal(l.items[1].verdict, "failed");
  assert_string_equal(l.items[1].finished_at, "2024-03-01T00:00:00.000Z");
  assert_string_equal(l.items[1].contract, "officer_detail");
  assert_null(l.items[2].contract);
  assert_int_equal(l.items[1].rows, 11);
  assert_int_equal(l.items[1].errors, 7);
  assert_int_equal(l.items[1].warnings, 1);
  fp_store_run_list_free(&l);
  assert_null(l.items);
  assert_int_equal(l.n, 0);
  fp_store_run_list_free(&l); /* twice is harmless */

  assert_int_equal(fp_store_list_runs(s, 2, &l, &d), FP_OK);
  assert_int_equal(l.n, 2);
  assert_string_equal(l.items[1].object_version, "b");
  fp_store_run_list_free(&l);
  fp_store_close(s);
}

static void test_list_runs_many_grows(void **state) {
  (void)state;
  fp_store *s = open_ok("sqlite://:memory:");
  char v[16];
  for (int i = 0; i < 40; i++) {
    snprintf(v, sizeof v, "v%02d", i);
    fp_store_run r = sample_run(v);
    save_ok(s, &r);
  }
  fp_store_run_list l;
  assert_int_equal(fp_store_list_runs(s, 1000, &l, NULL), FP_OK);
  assert_int_equal(l.n, 40);
  assert_string_equal(l.items[0].object_version, "v39"); /* same finished_at: by id */
  fp_store_run_list_free(&l);
  fp_store_close(s);
}

static void test_get_report_not_found(void **state) {
  (void)state;
  fp_store *s = open_ok("sqlite://:memory:");
  fp_diag d;
  fp_diag_clear(&d);
  char *json = (char *)"stale";
  assert_int_equal(fp_store_get_report(s, 12345, &json, &d), FP_ERR_NOT_FOUND);
  assert_null(json);
  assert_int_equal(d.code, FP_ERR_NOT_FOUND);
  expect_contains(d.msg, "12345");
  fp_store_close(s);
}

static void test_now_format(void **state) {
  (void)state;
  char now[32];
  fp__store_now(now);
  assert_int_equal(strlen(now), 24);
  assert_int_equal(now[4], '-');
  assert_int_equal(now[10], 'T');
  assert_int_equal(now[19], '.');
  assert_int_equal(now[23], 'Z');
}

/* ---- PostgreSQL only ---------------------------------------------------------------- */

static void test_pg_migrations_fresh_then_idempotent(void **state) {
  fx *f = *state;
  fp_diag d;
  fp_diag_clear(&d);
  fp_store *s = NULL;
  assert_int_equal(fp__pg_open(f->url, f->url, &s, &d), FP_OK); /* does not migrate */
  assert_string_equal(fp_store_backend(s), "postgresql");
  assert_int_equal(fp_store_schema_version(s), 0);
  int applied = -1;
  assert_int_equal(fp_store_migrate(s, &applied, &d), FP_OK);
  assert_int_equal(applied, (int)fp__pg_migrations_n);
  assert_int_equal(fp_store_schema_version(s), (int)fp__pg_migrations_n);
  assert_int_equal(fp_store_migrate(s, &applied, &d), FP_OK);
  assert_int_equal(applied, 0);
  fp_store_close(s);
  s = open_ok(f->url);
  assert_int_equal(fp_store_migrate(s, &applied, &d), FP_OK);
  assert_int_equal(applied, 0);
  fp_store_close(s);
  static const char *const tables[] = {"fp_schema_migrations", "fp_jobs", "fp_runs",
                                       "fp_column_profiles", "fp_findings"};
  char sql[256];
  for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_tables WHERE tablename = '%s'", tables[i]);
    if (p_int(f, sql) != 1) fail_msg("missing table %s", tables[i]);
  }
  assert_int_equal(p_int(f, "SELECT count(*) FROM pg_indexes WHERE indexname IN"
                            " ('fp_findings_run_id_idx', 'fp_runs_finished_at_idx',"
                            " 'fp_runs_key_idx', 'fp_jobs_claim_idx', 'fp_jobs_lease_idx')"),
                   5);
  assert_int_equal(p_int(f, "SELECT count(*) FROM fp_schema_migrations"), LATEST);
  p_expect(f, "SELECT description FROM fp_schema_migrations WHERE version = 1",
           fp__pg_migrations[0].description);
  char *at = p_text(f, "SELECT applied_at FROM fp_schema_migrations WHERE version = 1");
  assert_int_equal(strlen(at), 24);
  assert_int_equal(at[23], 'Z');
  free(at);
}

static void test_pg_migrations_refuse_newer_schema(void **state) {
  fx *f = *state;
  fp_store_close(open_ok(f->url));
  fp_test_pg_exec(f->url, "INSERT INTO fp_schema_migrations VALUES (99, 'x', 'future')");
  fp_diag d;
  fp_diag_clear(&d);
  fp_store *s = NULL;
  assert_int_equal(fp_store_open(f->url, &s, &d), FP_ERR_DB);
  assert_null(s);
  expect_contains(d.msg, "schema version 99");
}

static void test_pg_save_run_failure_rolls_back(void **state) {
  fx *f = *state;
  fp_store *s = open_ok(f->url);
  fp_store_run good = sample_run("v1");
  int64_t id = save_ok(s, &good);
  fp_store_run bad = sample_run("v1");
  bad.verdict = "passed";
  fp_store_finding fnd[2] = {sample_findings[0], sample_findings[1]};
  fnd[1].severity = "fatal";
  bad.findings = fnd;
  fp_diag d;
  fp_diag_clear(&d);
  int64_t bad_id = 77;
  assert_int_equal(fp_store_save_run(s, &bad, &bad_id, &d), FP_ERR_DB);
  assert_int_equal(bad_id, 0);
  expect_contains(d.msg, "insert findings 1..2");
  expect_contains(d.msg, "SQLSTATE 23514"); /* check_violation */
  assert_string_equal(d.key, bad.key);
  expect_v1_intact(f, id);
  fp_store_column cols[2] = {sample_cols[0], sample_cols[0]};
  bad.findings = sample_findings;
  bad.cols = cols;
  bad.ncols = 2;
  fp_diag_clear(&d);
  assert_int_equal(fp_store_save_run(s, &bad, NULL, &d), FP_ERR_DB);
  expect_contains(d.msg, "insert column profiles 1..2");
  expect_contains(d.msg, "SQLSTATE 23505"); /* unique_violation */
  expect_v1_intact(f, id);
  fp_store_run bad2 = sample_run("v1");
  bad2.verdict = "maybe";
  fp_diag_clear(&d);
  assert_int_equal(fp_store_save_run(s, &bad2, NULL, &d), FP_ERR_DB);
  expect_contains(d.msg, "insert run");
  expect_v1_intact(f, id);
  fp_store_run ok = sample_run("v9");
  save_ok(s, &ok);
  assert_int_equal(p_int(f, "SELECT count(*) FROM fp_runs"), 2);
  fp_store_close(s);
}

/* More rows than one multi-row INSERT holds: 250 columns and 1001 findings, all saved,
 * in order, under the run; a replacement removes every one of them. */
static void test_pg_save_run_batches(void **state) {
  fx *f = *state;
  enum { NC = 250, NF = 1001 };
  fp_store_column *cols = calloc(NC, sizeof *cols);
  fp_store_finding *fnds = calloc(NF, sizeof *fnds);
  char (*names)[16] = calloc(NC, sizeof *names);
  assert_non_null(cols);
  assert_non_null(fnds);
  assert_non_null(names);
  for (uint32_t i = 0; i < NC; i++) {
    snprintf(names[i], sizeof names[i], "c%u", i + 1);
    cols[i] = (fp_store_column){i + 1, names[i], "integer", 10, 1, 9, 0, "1", "9", 1, 0.5 * i,
                                1.25, "{}"};
  }
  for (uint32_t i = 0; i < NF; i++)
    fnds[i] = (fp_store_finding){"type-error", "error", i % NC + 1, NULL, i, 1, 0, "[\"x\"]"};
  fp_store *s = open_ok(f->url);
  fp_store_run r = sample_run("big");
  r.cols = cols;
  r.ncols = NC;
  r.columns = NC;
  r.findings = fnds;
  r.nfindings = NF;
  int64_t id = save_ok(s, &r);
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM fp_column_profiles WHERE run_id = %lld",
           (long long)id);
  assert_int_equal(p_int(f, sql), NC);
  snprintf(sql, sizeof sql, "SELECT count(*) FROM fp_findings WHERE run_id = %lld", (long long)id);
  assert_int_equal(p_int(f, sql), NF);
  assert_int_equal(p_int(f, "SELECT sum(count) FROM fp_findings"), (long long)NF * (NF - 1) / 2);
  p_expect(f, "SELECT name FROM fp_column_profiles WHERE col_index = 250", "c250");
  p_expect(f, "SELECT mean FROM fp_column_profiles WHERE col_index = 250", "124.5");
  p_expect(f, "SELECT samples_json FROM fp_findings ORDER BY id DESC LIMIT 1", "[\"x\"]");
  r.ncols = 1;
  r.nfindings = 0;
  save_ok(s, &r);
  assert_int_equal(p_int(f, "SELECT count(*) FROM fp_column_profiles"), 1);
  assert_int_equal(p_int(f, "SELECT count(*) FROM fp_findings"), 0);
  fp_diag d;
  fp_diag_clear(&d);
  char *json = (char *)"stale";
  assert_int_equal(fp_store_get_report(s, id, &json, &d), FP_ERR_NOT_FOUND);
  assert_null(json);
  fp_store_close(s);
  free(cols);
  free(fnds);
  free(names);
}

/* ---- datasets, history, pinning, baselines ------------------------------------------ */

static void expect_dataset(const char *contract, const char *key, const char *want) {
  char *got = fp_store_dataset_of(contract, key);
  assert_non_null(got);
  if (strcmp(got, want)) fail_msg("dataset of (%s, %s): got '%s', want '%s'",
                                  contract ? contract : "NULL", key, got, want);
  free(got);
}

static void test_dataset_of(void **state) {
  (void)state;
  const char *same = "from_client/abq/Officer_Detail.csv";
  expect_dataset("officer_detail", "from_client/abq/Officer_Detail_2026-10.csv", "officer_detail");
  expect_dataset(NULL, "from_client/abq/Officer_Detail_2026-10.csv", same);
  expect_dataset(NULL, "from_client/abq/Officer_Detail_2026-11.csv", same);
  expect_dataset("", "from_client/abq/Officer_Detail-2026-11-30.csv", same);
  expect_dataset(NULL, "from_client/abq/Officer_Detail_20261130.csv", same);
  expect_dataset(NULL, "from_client/abq/Officer_Detail_2026_11_30.csv", same);
  expect_dataset(NULL, "from_client/abq/2026-11-30/Officer_Detail.csv", same);
  expect_dataset(NULL, "from_client/abq/2026-11/Officer_Detail.csv", same);
  expect_dataset(NULL, "from_client/abq/2026-11_Officer_Detail.csv", same);
  expect_dataset(NULL, same, same);
  /* not dates: wrong month, a longer number, an implausible year */
  expect_dataset(NULL, "x/Officer_2026-13.csv", "x/Officer_2026-13.csv");
  expect_dataset(NULL, "x/id_1202611301.csv", "x/id_1202611301.csv");
  expect_dataset(NULL, "x/batch_12345678.csv", "x/batch_12345678.csv");
}

static fp_store_run history_run(const char *key, const char *verdict, const char *event_time) {
  fp_store_run r = sample_run("");
  r.key = key;
  r.contract = NULL;
  r.verdict = verdict;
  r.event_time = event_time;
  r.version_id = NULL;
  r.etag = NULL;
  return r;
}

static int64_t baseline_id(fp_store *s, const char *key, const char *before) {
  fp_store_baseline_query q = {.dataset = "from_client/abq/Officer_Detail.csv",
                               .bucket = "raw-bucket", .key = key, .object_version = "",
                               .before = before};
  fp_store_run_summary b;
  char *json = NULL;
  bool found = true;
  fp_diag d;
  fp_diag_clear(&d);
  fp_err e = fp_store_find_baseline(s, &q, &b, &json, &found, &d);
  if (e) fail_msg("find_baseline: %s", d.msg);
  int64_t id = found ? b.id : 0;
  if (found) {
    assert_non_null(json);
    assert_string_equal(b.dataset, q.dataset);
  } else {
    assert_null(json);
  }
  free(json);
  fp_store_run_summary_clear(&b);
  return id;
}

static void test_history_pin_and_baseline(void **state) {
  fx *f = *state;
  fp_store *s = open_ok(f->url);
  const char *k9 = "from_client/abq/Officer_Detail_2026-09.csv";
  const char *k10 = "from_client/abq/Officer_Detail_2026-10.csv";
  const char *k11 = "from_client/abq/Officer_Detail_2026-11.csv";
  const char *k12 = "from_client/abq/Officer_Detail_2026-12.csv";
  fp_store_run r = history_run(k9, "passed", "2026-09-01T08:00:00.000Z");
  int64_t id9 = save_ok(s, &r);
  r = history_run(k10, "passed", "2026-10-01T08:00:00.000Z");
  int64_t id10 = save_ok(s, &r);
  r = history_run(k11, "failed", "2026-11-01T08:00:00.000Z"); /* a bad delivery */
  int64_t id11 = save_ok(s, &r);
  r = history_run("other/thing.csv", "passed", "2026-10-15T08:00:00.000Z");
  r.contract = "other";
  int64_t other = save_ok(s, &r);
  p_expect(f, "SELECT dataset FROM fp_runs WHERE key = 'other/thing.csv'", "other");

  /* latest passed earlier delivery; a failed one is never the reference */
  assert_int_equal(baseline_id(s, k12, "2026-12-01T08:00:00.000Z"), id10);
  assert_int_equal(baseline_id(s, k12, NULL), id10);
  /* only earlier deliveries count, and never the same object version */
  assert_int_equal(baseline_id(s, k10, "2026-10-01T08:00:00.000Z"), id9);
  assert_int_equal(baseline_id(s, k10, "2026-12-01T08:00:00.000Z"), id9);
  assert_int_equal(baseline_id(s, k9, "2026-09-01T08:00:00.000Z"), 0);

  /* a pinned run wins, even a failed one; one pinned run per dataset */
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_store_set_pinned(s, id9, true, &d), FP_OK);
  assert_int_equal(baseline_id(s, k12, "2026-12-01T08:00:00.000Z"), id9);
  assert_int_equal(fp_store_set_pinned(s, id11, true, &d), FP_OK);
  assert_int_equal(baseline_id(s, k12, "2026-12-01T08:00:00.000Z"), id11);
  assert_int_equal(p_int(f, "SELECT count(*) FROM fp_runs WHERE pinned = 1"), 1);
  /* the pinned run itself, re-processed, is compared with the latest passed run */
  assert_int_equal(baseline_id(s, k11, "2026-12-01T08:00:00.000Z"), id10);
  assert_int_equal(fp_store_set_pinned(s, other, true, &d), FP_OK); /* other dataset */
  assert_int_equal(p_int(f, "SELECT count(*) FROM fp_runs WHERE pinned = 1"), 2);
  assert_int_equal(fp_store_set_pinned(s, id11, false, &d), FP_OK);
  assert_int_equal(baseline_id(s, k12, "2026-12-01T08:00:00.000Z"), id10);
  assert_int_equal(fp_store_set_pinned(s, 999999, true, &d), FP_ERR_NOT_FOUND);

  /* filters of the listing */
  fp_store_run_filter flt = {.dataset = "from_client/abq/Officer_Detail.csv"};
  fp_store_run_list l;
  assert_int_equal(fp_store_find_runs(s, &flt, &l, &d), FP_OK);
  assert_int_equal(l.n, 3);
  fp_store_run_list_free(&l);
  flt = (fp_store_run_filter){.key_prefix = "other/"};
  assert_int_equal(fp_store_find_runs(s, &flt, &l, &d), FP_OK);
  assert_int_equal(l.n, 1);
  assert_int_equal(l.items[0].id, other);
  assert_true(l.items[0].pinned);
  assert_string_equal(l.items[0].event_time, "2026-10-15T08:00:00.000Z");
  fp_store_run_list_free(&l);
  flt = (fp_store_run_filter){.since = "2024-05-02", .limit = 10};
  assert_int_equal(fp_store_find_runs(s, &flt, &l, &d), FP_OK);
  assert_int_equal(l.n, 0); /* sample runs finished on 2024-05-01 */
  fp_store_run_list_free(&l);
  flt = (fp_store_run_filter){.since = "2024-05-01", .limit = 2};
  assert_int_equal(fp_store_find_runs(s, &flt, &l, &d), FP_OK);
  assert_int_equal(l.n, 2);
  fp_store_run_list_free(&l);

  /* one run with its report */
  fp_store_run_summary one;
  char *json = NULL;
  assert_int_equal(fp_store_get_run(s, id10, &one, &json, &d), FP_OK);
  assert_string_equal(one.key, k10);
  assert_string_equal(one.verdict, "passed");
  assert_false(one.pinned);
  assert_non_null(json);
  expect_contains(json, "report_version");
  free(json);
  fp_store_run_summary_clear(&one);
  assert_int_equal(fp_store_get_run(s, 999999, &one, NULL, &d), FP_ERR_NOT_FOUND);
  fp_store_close(s);
}

/* Builds a version-2 database by hand (the migrations as they were released), with runs
 * in it, then opens it with this build: version 3 must be applied over the data. */
static void test_migration_v2_to_v3(void **state) {
  fx *f = *state;
  const fp__migration *m = is_pg(f) ? fp__pg_migrations : fp__sqlite_migrations;
  static const char ins[] =
      "INSERT INTO fp_runs (bucket, key, object_version, verdict, finished_at, report_json,"
      " created_at, contract) VALUES ('b', 'from_client/abq/Officer_Detail_2026-10.csv', '',"
      " 'passed', '2026-10-02T00:00:00.000Z', '{}', 'x', 'officer_detail'),"
      " ('b', 'k/x_2026-10.csv', '', 'passed', '2026-10-02T00:00:00.000Z', '{}', 'x', NULL)";
  char sql[256];
  if (is_pg(f)) {
    fp_test_pg_exec(f->url, fp__migrations_table_sql);
    for (int v = 0; v < 2; v++) {
      fp_test_pg_exec(f->url, m[v].sql);
      snprintf(sql, sizeof sql,
               "INSERT INTO fp_schema_migrations VALUES (%d, 'x', '%s')", m[v].version,
               m[v].description);
      fp_test_pg_exec(f->url, sql);
    }
    fp_test_pg_exec(f->url, ins);
  } else {
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, fp__migrations_table_sql, NULL, NULL, NULL), SQLITE_OK);
    for (int v = 0; v < 2; v++) {
      assert_int_equal(sqlite3_exec(db, m[v].sql, NULL, NULL, NULL), SQLITE_OK);
      snprintf(sql, sizeof sql,
               "INSERT INTO fp_schema_migrations VALUES (%d, 'x', '%s')", m[v].version,
               m[v].description);
      assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    }
    assert_int_equal(sqlite3_exec(db, ins, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
  }
  assert_int_equal(p_int(f, "SELECT max(version) FROM fp_schema_migrations"), 2);
  fp_store *s = open_ok(f->url);
  assert_int_equal(fp_store_schema_version(s), 3);
  p_expect(f, "SELECT dataset FROM fp_runs WHERE contract = 'officer_detail'", "officer_detail");
  p_expect(f, "SELECT dataset FROM fp_runs WHERE contract IS NULL", NULL);
  assert_int_equal(p_int(f, "SELECT sum(pinned) FROM fp_runs"), 0);
  /* the upgraded runs take part in the history like new ones */
  fp_diag d;
  fp_diag_clear(&d);
  int64_t old = p_int(f, "SELECT id FROM fp_runs WHERE contract = 'officer_detail'");
  assert_int_equal(fp_store_set_pinned(s, old, true, &d), FP_OK);
  int64_t untagged = p_int(f, "SELECT id FROM fp_runs WHERE contract IS NULL");
  assert_int_equal(fp_store_set_pinned(s, untagged, true, &d), FP_ERR_INVAL);
  fp_store_run r = history_run("from_client/abq/Officer_Detail_2026-11.csv", "passed", NULL);
  r.contract = "officer_detail";
  int64_t id = save_ok(s, &r);
  p_expect(f, "SELECT dataset FROM fp_runs WHERE key LIKE '%2026-11.csv'", "officer_detail");
  fp_store_baseline_query q = {.dataset = "officer_detail", .bucket = "raw-bucket",
                               .key = r.key, .object_version = ""};
  fp_store_run_summary b;
  bool found = false;
  assert_int_equal(fp_store_find_baseline(s, &q, &b, NULL, &found, &d), FP_OK);
  assert_true(found);
  assert_int_equal(b.id, old);
  assert_true(b.id != id);
  fp_store_run_summary_clear(&b);
  fp_store_close(s);
}

int main(void) {
  fp_log_set_level(FP_LOG_WARN); /* keep "applied migration" lines out of the output */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_url_relative_absolute_memory),
      cmocka_unit_test(test_url_malformed_sqlite),
      cmocka_unit_test(test_url_postgres_unreachable_transient_masked),
      cmocka_unit_test(test_url_unknown_scheme_config_masked),
      cmocka_unit_test(test_open_memory),
      cmocka_unit_test_setup_teardown(test_open_relative_path_is_under_cwd, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_open_unwritable_path_is_db_error, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_open_sets_wal_and_foreign_keys, fx_setup, fx_teardown),
      cmocka_unit_test(test_migration_arrays_agree),
      cmocka_unit_test_setup_teardown(test_migrations_fresh_then_idempotent, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_migrations_refuse_newer_schema, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_migrations_concurrent_open_applies_once, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_save_run_round_trip, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_save_run_defaults, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_save_run_replaces_same_version, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_save_run_failure_rolls_back, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_save_run_busy_is_transient, fx_setup, fx_teardown),
      cmocka_unit_test(test_save_run_rejects_bad_arguments),
      cmocka_unit_test_setup_teardown(test_list_runs_order_and_limit, fx_setup, fx_teardown),
      cmocka_unit_test(test_list_runs_many_grows),
      cmocka_unit_test(test_get_report_not_found),
      cmocka_unit_test(test_now_format),
      cmocka_unit_test(test_dataset_of),
      cmocka_unit_test_setup_teardown(test_history_pin_and_baseline, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_migration_v2_to_v3, fx_setup, fx_teardown),
  };
  int failed = cmocka_run_group_tests_name("store", tests, NULL, NULL);
  if (!fp_test_pg_url()) {
    FP_TEST_PG_SKIP_MSG("test_store");
    return failed;
  }
#define PGT(fn) cmocka_unit_test_setup_teardown(fn, fx_setup_pg, fx_teardown)
  const struct CMUnitTest pg_tests[] = {
      PGT(test_pg_migrations_fresh_then_idempotent),
      PGT(test_pg_migrations_refuse_newer_schema),
      PGT(test_migrations_concurrent_open_applies_once),
      PGT(test_save_run_round_trip),
      PGT(test_save_run_defaults),
      PGT(test_save_run_replaces_same_version),
      PGT(test_pg_save_run_failure_rolls_back),
      PGT(test_pg_save_run_batches),
      PGT(test_list_runs_order_and_limit),
      PGT(test_history_pin_and_baseline),
      PGT(test_migration_v2_to_v3),
  };
#undef PGT
  return failed + cmocka_run_group_tests_name("store/postgresql", pg_tests, NULL, NULL);
}
