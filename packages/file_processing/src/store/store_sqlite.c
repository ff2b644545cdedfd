/* store_sqlite.c — the SQLite backend of the results store.
 *
 * One connection per fp_store (SQLITE_OPEN_FULLMUTEX, WAL, synchronous=NORMAL, foreign
 * keys on, 10 s busy timeout). Statements are prepared once per handle on first use and
 * reused (reset + clear_bindings), which is why a handle belongs to one thread at a time.
 * sq_vfail is the one place SQLite result codes become fp_err. The job queue's half of
 * the ops table lives in queue_sqlite.c (shared layout: sqlite_int.h). */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "fp/fp_log.h"
#include "store/sqlite_int.h"

#define SQ_BUSY_TIMEOUT_MS 10000

enum {
  ST_DELETE_RUN,
  ST_INSERT_RUN,
  ST_INSERT_COLUMN,
  ST_INSERT_FINDING,
  ST_LIST_RUNS,
  ST_GET_REPORT,
  ST_RECORD_MIGRATION,
  ST_GET_RUN,
  ST_RUN_DATASET,
  ST_UNPIN_OTHERS,
  ST_SET_PINNED,
  ST_BASELINE_PINNED,
  ST_BASELINE_PASSED,
  ST__COUNT
};

/* The columns read_summary expects, in this order. */
#define SUMMARY_COLS                                                                    \
  "id, bucket, key, object_version, verdict, finished_at, contract, rows, errors,"     \
  " warnings, dataset, event_time, pinned"
/* Never the new run's own object version. */
#define NOT_SAME_VERSION " AND NOT (bucket = ?2 AND key = ?3 AND object_version = ?4)"

static const char *const stmt_sql[ST__COUNT] = {
    [ST_DELETE_RUN] = "DELETE FROM fp_runs WHERE bucket = ?1 AND key = ?2 AND object_version = ?3",
    [ST_INSERT_RUN] =
        "INSERT INTO fp_runs (bucket, key, object_version, version_id, etag, size, event_time,"
        " job_name, contract, verdict, rows, columns, bytes, errors, warnings, started_at,"
        " finished_at, duration_ms, report_json, created_at, dataset)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
        " ?18, ?19, ?20, ?21)",
    [ST_INSERT_COLUMN] =
        "INSERT INTO fp_column_profiles (run_id, col_index, name, type, count, missing,"
        " distinct_count, distinct_approx, min_value, max_value, mean, stddev, profile_json)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    [ST_INSERT_FINDING] =
        "INSERT INTO fp_findings (run_id, code, severity, field, field_name, count, nsamples,"
        " capped, samples_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [ST_LIST_RUNS] =
        "SELECT " SUMMARY_COLS " FROM fp_runs"
        " WHERE (?1 IS NULL OR dataset = ?1)"
        " AND (?2 IS NULL OR substr(key, 1, length(?2)) = ?2)"
        " AND (?3 IS NULL OR finished_at >= ?3)"
        " ORDER BY finished_at DESC, id DESC LIMIT ?4",
    [ST_GET_REPORT] = "SELECT report_json FROM fp_runs WHERE id = ?1",
    [ST_RECORD_MIGRATION] =
        "INSERT INTO fp_schema_migrations (version, applied_at, description)"
        " VALUES (?1, ?2, ?3)",
    [ST_GET_RUN] = "SELECT " SUMMARY_COLS ", report_json FROM fp_runs WHERE id = ?1",
    [ST_RUN_DATASET] = "SELECT dataset FROM fp_runs WHERE id = ?1",
    [ST_UNPIN_OTHERS] =
        "UPDATE fp_runs SET pinned = 0 WHERE dataset = ?1 AND pinned = 1 AND id <> ?2",
    [ST_SET_PINNED] = "UPDATE fp_runs SET pinned = ?2 WHERE id = ?1",
    [ST_BASELINE_PINNED] =
        "SELECT " SUMMARY_COLS ", report_json FROM fp_runs"
        " WHERE dataset = ?1 AND pinned = 1" NOT_SAME_VERSION " LIMIT 1",
    [ST_BASELINE_PASSED] =
        "SELECT " SUMMARY_COLS ", report_json FROM fp_runs"
        " WHERE dataset = ?1 AND verdict = 'passed'" NOT_SAME_VERSION
        " AND (?5 IS NULL OR COALESCE(event_time, finished_at) < ?5)"
        " ORDER BY COALESCE(event_time, finished_at) DESC, id DESC LIMIT 1",
};

_Static_assert(ST__COUNT <= FP__SQ_RUN_SLOTS, "raise FP__SQ_RUN_SLOTS");

typedef fp__sq_store sq_store;

static const fp__store_ops sq_ops;

/* ---- the adapter: SQLite result code + context -> fp_err and diag -------------------- */

static fp_err sq_vfail(sqlite3 *db, int rc, fp_diag *d, const char *fmt, va_list ap) {
  int prim = rc & 0xff;
  fp_err e = FP_ERR_DB;
  if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED) e = FP_ERR_TRANSIENT;
  if (prim == SQLITE_NOMEM) e = FP_ERR_NOMEM;
  char op[640];
  vsnprintf(op, sizeof op, fmt, ap);
  /* errmsg describes the last call on db; fall back to the generic text when it is about
   * something else (or there is no handle). The extended code is the more precise one. */
  int ext = db ? sqlite3_extended_errcode(db) : rc;
  int same = db && (ext & 0xff) == prim;
  const char *msg = same ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  int was_clear = d && d->code == FP_OK;
  fp_diag_set(d, e, "SQLite: %s: %s (code %d)", op, msg, same ? ext : rc);
  if (was_clear && db) d->sys_errno = sqlite3_system_errno(db);
  return e;
}

fp_err fp__sq_fail(sqlite3 *db, int rc, fp_diag *d, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fp_err e = sq_vfail(db, rc, d, fmt, ap);
  va_end(ap);
  return e;
}

/* ---- small helpers ------------------------------------------------------------------- */

static sq_store *sq(fp_store *s) {
  return (sq_store *)s;
}

int fp__sq_stmt(fp__sq_store *s, int slot, const char *sql, sqlite3_stmt **out) {
  if (!s->st[slot]) {
    int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st[slot], NULL);
    if (rc != SQLITE_OK) return rc;
  }
  *out = s->st[slot];
  return SQLITE_OK;
}

static int sq_stmt(sq_store *s, int which, sqlite3_stmt **out) {
  return fp__sq_stmt(s, which, stmt_sql[which], out);
}

int fp__sq_bind_text(sqlite3_stmt *st, int i, const char *v) {
  return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

/* Callers checked v <= INT64_MAX before the transaction began. */
static int bind_u64(sqlite3_stmt *st, int i, uint64_t v) {
  return sqlite3_bind_int64(st, i, (sqlite3_int64)v);
}

/* NaN and infinities become NULL on both backends (PostgreSQL would keep NaN). */
static int bind_real(sqlite3_stmt *st, int i, int has, double v) {
  return has && isfinite(v) ? sqlite3_bind_double(st, i, v) : sqlite3_bind_null(st, i);
}

/* Steps a bound write statement to completion and readies it for the next row. rc is the
 * combined result of the binds; the step is skipped when a bind failed. */
int fp__sq_step_done(sqlite3_stmt *st, int rc) {
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
  }
  fp__sq_reset(st);
  return rc;
}

void fp__sq_reset(sqlite3_stmt *st) {
  if (!st) return;
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
}

void fp__sq_rollback(fp__sq_store *s) {
  if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- open / close -------------------------------------------------------------------- */

static void sq_close(fp_store *base) {
  sq_store *s = sq(base);
  for (size_t i = 0; i < sizeof s->st / sizeof s->st[0]; i++) sqlite3_finalize(s->st[i]);
  sqlite3_close_v2(s->db);
  free(s);
}

/* Runs a PRAGMA that answers one row and returns its first column as text into out. */
static int sq_pragma(sq_store *s, const char *sql, char *out, size_t outsz) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  out[0] = '\0';
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    const unsigned char *v = sqlite3_column_text(st, 0);
    snprintf(out, outsz, "%s", v ? (const char *)v : "");
    /* NULL is also how the text conversion reports running out of memory: without this
     * check that read as "foreign keys are off" and blamed the SQLite build */
    rc = !v && sqlite3_errcode(s->db) == SQLITE_NOMEM ? SQLITE_NOMEM : SQLITE_OK;
  } else if (rc == SQLITE_DONE) {
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  return rc;
}

static fp_err sq_configure(sq_store *s, int memory, fp_diag *d) {
  char val[32];
  int rc = sqlite3_extended_result_codes(s->db, 1);
  if (rc == SQLITE_OK) rc = sqlite3_busy_timeout(s->db, SQ_BUSY_TIMEOUT_MS);
  if (rc == SQLITE_OK) rc = sqlite3_exec(s->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
  if (rc == SQLITE_OK) rc = sq_pragma(s, "PRAGMA foreign_keys", val, sizeof val);
  if (rc != SQLITE_OK) return fp__sq_fail(s->db, rc, d, "configure '%s'", s->shown);
  if (strcmp(val, "1") != 0)
    return fp_diag_set(d, FP_ERR_DB, "SQLite: '%s': this SQLite build cannot enforce foreign keys",
                       s->shown);
  if (!memory && sqlite3_db_readonly(s->db, "main") == 1)
    return fp_diag_set(d, FP_ERR_DB, "SQLite: '%s': database file is read-only", s->shown);
  if (!memory) {
    /* WAL is persistent in the file: only the first opener switches it. Switching takes an
     * exclusive lock and SQLite answers SQLITE_BUSY to it without consulting the busy
     * handler while another connection is opening the same new file, so retry here for
     * as long as the busy timeout would have waited. */
    rc = sq_pragma(s, "PRAGMA journal_mode", val, sizeof val);
    for (int waited = 0; rc == SQLITE_OK ? strcmp(val, "wal") != 0 : (rc & 0xff) == SQLITE_BUSY;
         waited += 10) {
      rc = sq_pragma(s, "PRAGMA journal_mode = WAL", val, sizeof val);
      if (rc == SQLITE_OK || (rc & 0xff) != SQLITE_BUSY || waited >= SQ_BUSY_TIMEOUT_MS) break;
      sqlite3_sleep(10);
    }
    if (rc != SQLITE_OK) return fp__sq_fail(s->db, rc, d, "set WAL journal on '%s'", s->shown);
    if (strcmp(val, "wal") != 0)
      fp_warn("SQLite '%s': WAL not available, journal_mode is '%s'", s->shown, val);
  }
  rc = sqlite3_exec(s->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
  if (rc != SQLITE_OK) return fp__sq_fail(s->db, rc, d, "configure '%s'", s->shown);
  return FP_OK;
}

fp_err fp__sqlite_open(const char *path, int memory, const char *shown, fp_store **out,
                       fp_diag *d) {
  *out = NULL;
  sq_store *s = calloc(1, sizeof *s);
  if (!s) return fp_diag_set(d, FP_ERR_NOMEM, "SQLite: out of memory opening '%s'", shown);
  s->base.ops = &sq_ops;
  snprintf(s->shown, sizeof s->shown, "%s", shown);
  int rc = sqlite3_open_v2(
      path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
  fp_err e = FP_OK;
  if (rc != SQLITE_OK)
    e = fp__sq_fail(s->db, rc, d,
                "cannot open database '%s' (does its directory exist and is it "
                "writable?)",
                shown);
  if (!e) e = sq_configure(s, memory, d);
  if (e && !memory) fp_diag_key(d, path);
  if (e) {
    sq_close(&s->base);
    return e;
  }
  *out = &s->base;
  return FP_OK;
}

void *fp__sqlite_handle(fp_store *s) {
  return s && s->ops == &sq_ops ? (void *)sq(s)->db : NULL;
}

/* ---- migrations ---------------------------------------------------------------------- */

static int sq_last_known_version(void) {
  return fp__sqlite_migrations[fp__sqlite_migrations_n - 1].version;
}

/* Highest recorded migration, 0 when the bookkeeping table does not exist yet. */
static int sq_read_version(sq_store *s, int *version) {
  sqlite3_stmt *st = NULL;
  *version = 0;
  int rc = sqlite3_prepare_v2(s->db,
                              "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                              " AND name = 'fp_schema_migrations'",
                              -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  rc = sqlite3_step(st);
  int exists = rc == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW) return rc;
  if (!exists) return SQLITE_OK;
  rc = sqlite3_prepare_v2(s->db, "SELECT COALESCE(MAX(version), 0) FROM fp_schema_migrations", -1,
                          &st, NULL);
  if (rc != SQLITE_OK) return rc;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *version = sqlite3_column_int(st, 0);
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  return rc;
}

static fp_err sq_check_not_newer(sq_store *s, int version, fp_diag *d) {
  if (version <= sq_last_known_version()) return FP_OK;
  return fp_diag_set(d, FP_ERR_DB,
                     "database '%s' has schema version %d, newer than this build knows (%d); "
                     "upgrade file-processing",
                     s->shown, version, sq_last_known_version());
}

/* Applies migration m unless another process got there first (checked under the write
 * lock). *ran = 1 when it ran now. */
static fp_err sq_apply(sq_store *s, const fp__migration *m, int *ran, fp_diag *d) {
  char now[32];
  sqlite3_stmt *st = NULL;
  int version = 0;
  *ran = 0;
  int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (rc != SQLITE_OK) return fp__sq_fail(s->db, rc, d, "migration %d: begin", m->version);
  rc = sqlite3_exec(s->db, fp__migrations_table_sql, NULL, NULL, NULL);
  if (rc == SQLITE_OK) rc = sq_read_version(s, &version);
  if (rc != SQLITE_OK) {
    fp_err e = fp__sq_fail(s->db, rc, d, "migration %d: read schema version", m->version);
    fp__sq_rollback(s);
    return e;
  }
  if (version >= m->version) {
    fp__sq_rollback(s); /* nothing written that matters: the table exists either way */
    return FP_OK;
  }
  rc = sqlite3_exec(s->db, m->sql, NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    fp_err e = fp__sq_fail(s->db, rc, d, "migration %d (%s)", m->version, m->description);
    fp__sq_rollback(s);
    return e;
  }
  fp__store_now(now);
  rc = sq_stmt(s, ST_RECORD_MIGRATION, &st);
  if (rc == SQLITE_OK) {
    rc = sqlite3_bind_int(st, 1, m->version);
    if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 2, now);
    if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 3, m->description);
    rc = fp__sq_step_done(st, rc);
  }
  if (rc == SQLITE_OK) rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    fp_err e = fp__sq_fail(s->db, rc, d, "migration %d: record and commit", m->version);
    fp__sq_rollback(s);
    return e;
  }
  *ran = 1;
  return FP_OK;
}

static fp_err sq_migrate(fp_store *base, int *applied, fp_diag *d) {
  sq_store *s = sq(base);
  int version = 0, count = 0;
  if (applied) *applied = 0;
  int rc = sq_read_version(s, &version);
  if (rc != SQLITE_OK) return fp__sq_fail(s->db, rc, d, "read schema version of '%s'", s->shown);
  fp_err e = sq_check_not_newer(s, version, d);
  for (size_t i = 0; !e && i < fp__sqlite_migrations_n; i++) {
    const fp__migration *m = &fp__sqlite_migrations[i];
    if (m->version <= version) continue;
    int ran = 0;
    e = sq_apply(s, m, &ran, d);
    if (!e && ran) {
      count++;
      fp_info("results DB '%s': applied migration %d (%s)", s->shown, m->version, m->description);
    }
  }
  if (applied) *applied = count;
  return e;
}

static int sq_schema_version(fp_store *base) {
  int version = 0;
  return sq_read_version(sq(base), &version) == SQLITE_OK ? version : -1;
}

/* ---- save_run ------------------------------------------------------------------------ */

static int insert_run(sq_store *s, const fp_store_run *r, const char *ov, const char *now) {
  sqlite3_stmt *st = NULL;
  int rc = sq_stmt(s, ST_INSERT_RUN, &st);
  if (rc != SQLITE_OK) return rc;
  rc = fp__sq_bind_text(st, 1, r->bucket);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 2, r->key);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 3, ov);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 4, r->version_id);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 5, r->etag);
  if (rc == SQLITE_OK)
    rc = r->size >= 0 ? sqlite3_bind_int64(st, 6, r->size) : sqlite3_bind_null(st, 6);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 7, r->event_time);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 8, r->job_name);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 9, r->contract);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 10, r->verdict);
  if (rc == SQLITE_OK) rc = bind_u64(st, 11, r->rows);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 12, r->columns);
  if (rc == SQLITE_OK) rc = bind_u64(st, 13, r->bytes);
  if (rc == SQLITE_OK) rc = bind_u64(st, 14, r->errors);
  if (rc == SQLITE_OK) rc = bind_u64(st, 15, r->warnings);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 16, r->started_at);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 17, r->finished_at ? r->finished_at : now);
  if (rc == SQLITE_OK) rc = bind_real(st, 18, 1, r->duration_ms);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 19, r->report_json);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 20, now);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 21, r->dataset);
  return fp__sq_step_done(st, rc);
}

static int insert_column(sqlite3_stmt *st, int64_t run_id, const fp_store_column *c) {
  int rc = sqlite3_bind_int64(st, 1, run_id);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 2, c->index);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 3, c->name);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 4, c->type);
  if (rc == SQLITE_OK) rc = bind_u64(st, 5, c->count);
  if (rc == SQLITE_OK) rc = bind_u64(st, 6, c->missing);
  if (rc == SQLITE_OK) rc = bind_u64(st, 7, c->distinct);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int(st, 8, c->distinct_approx ? 1 : 0);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 9, c->min);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 10, c->max);
  if (rc == SQLITE_OK) rc = bind_real(st, 11, c->has_mean, c->mean);
  if (rc == SQLITE_OK) rc = bind_real(st, 12, c->has_mean, c->stddev);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 13, c->profile_json);
  return fp__sq_step_done(st, rc);
}

static int insert_finding(sqlite3_stmt *st, int64_t run_id, const fp_store_finding *f) {
  int rc = sqlite3_bind_int64(st, 1, run_id);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 2, f->code);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 3, f->severity);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 4, f->field);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 5, f->field_name);
  if (rc == SQLITE_OK) rc = bind_u64(st, 6, f->count);
  if (rc == SQLITE_OK) rc = bind_u64(st, 7, f->nsamples);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int(st, 8, f->capped ? 1 : 0);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 9, f->samples_json ? f->samples_json : "[]");
  return fp__sq_step_done(st, rc);
}

/* The body of the save transaction; the caller begins, commits or rolls back. */
static fp_err save_steps(sq_store *s, const fp_store_run *r, int64_t *id, fp_diag *d) {
  const char *ov = r->object_version ? r->object_version : "";
  char now[32];
  sqlite3_stmt *st = NULL;
  fp__store_now(now);

  int rc = sq_stmt(s, ST_DELETE_RUN, &st);
  if (rc == SQLITE_OK) {
    rc = fp__sq_bind_text(st, 1, r->bucket);
    if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 2, r->key);
    if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 3, ov);
    rc = fp__sq_step_done(st, rc);
  }
  if (rc != SQLITE_OK) return fp__sq_fail(s->db, rc, d, "save_run: delete previous run");

  rc = insert_run(s, r, ov, now);
  if (rc != SQLITE_OK) return fp__sq_fail(s->db, rc, d, "save_run: insert run");
  *id = sqlite3_last_insert_rowid(s->db);

  rc = r->ncols ? sq_stmt(s, ST_INSERT_COLUMN, &st) : SQLITE_OK;
  for (size_t i = 0; rc == SQLITE_OK && i < r->ncols; i++) {
    rc = insert_column(st, *id, &r->cols[i]);
    if (rc != SQLITE_OK)
      return fp__sq_fail(s->db, rc, d, "save_run: insert column profile %zu (index %u)", i + 1,
                     r->cols[i].index);
  }
  if (rc != SQLITE_OK) return fp__sq_fail(s->db, rc, d, "save_run: prepare column insert");

  rc = r->nfindings ? sq_stmt(s, ST_INSERT_FINDING, &st) : SQLITE_OK;
  for (size_t i = 0; rc == SQLITE_OK && i < r->nfindings; i++) {
    rc = insert_finding(st, *id, &r->findings[i]);
    if (rc != SQLITE_OK)
      return fp__sq_fail(s->db, rc, d, "save_run: insert finding %zu (code '%s')", i + 1,
                     r->findings[i].code ? r->findings[i].code : "(null)");
  }
  if (rc != SQLITE_OK) return fp__sq_fail(s->db, rc, d, "save_run: prepare finding insert");
  return FP_OK;
}

static fp_err sq_save_run(fp_store *base, const fp_store_run *r, int64_t *run_id, fp_diag *d) {
  sq_store *s = sq(base);
  int64_t id = 0;
  fp_err e;
  int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    e = fp__sq_fail(s->db, rc, d, "save_run: begin transaction");
  } else {
    e = save_steps(s, r, &id, d);
    if (!e && r->job_id) e = fp__sq_succeed(base, r->job_id, r->job_owner, id, d);
    if (!e) {
      rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
      if (rc != SQLITE_OK) e = fp__sq_fail(s->db, rc, d, "save_run: commit");
    }
    if (e) fp__sq_rollback(s);
  }
  if (e) {
    fp_diag_key(d, r->key);
    return e;
  }
  if (run_id) *run_id = id;
  return FP_OK;
}

/* ---- reading ------------------------------------------------------------------------- */

int fp__sq_dup_column(sqlite3_stmt *st, int i, char **out) {
  *out = NULL;
  if (sqlite3_column_type(st, i) == SQLITE_NULL) return 1;
  const unsigned char *v = sqlite3_column_text(st, i);
  if (!v) return 0;
  size_t n = (size_t)sqlite3_column_bytes(st, i);
  *out = malloc(n + 1);
  if (!*out) return 0;
  memcpy(*out, v, n);
  (*out)[n] = '\0';
  return 1;
}


static uint64_t column_u64(sqlite3_stmt *st, int i) {
  sqlite3_int64 v = sqlite3_column_int64(st, i);
  return v < 0 ? 0 : (uint64_t)v;
}

static int read_summary(sqlite3_stmt *st, fp_store_run_summary *r) {
  r->id = sqlite3_column_int64(st, 0);
  r->rows = column_u64(st, 7);
  r->errors = column_u64(st, 8);
  r->warnings = column_u64(st, 9);
  r->pinned = sqlite3_column_int(st, 12) != 0;
  return fp__sq_dup_column(st, 1, &r->bucket) && fp__sq_dup_column(st, 2, &r->key) &&
         fp__sq_dup_column(st, 3, &r->object_version) && fp__sq_dup_column(st, 4, &r->verdict) &&
         fp__sq_dup_column(st, 5, &r->finished_at) && fp__sq_dup_column(st, 6, &r->contract) &&
         fp__sq_dup_column(st, 10, &r->dataset) && fp__sq_dup_column(st, 11, &r->event_time);
}

static fp_err sq_list_runs(fp_store *base, const fp_store_run_filter *f, fp_store_run_list *out,
                           fp_diag *d) {
  sq_store *s = sq(base);
  sqlite3_stmt *st = NULL;
  size_t cap = 0;
  fp_err e = FP_OK;
  int rc = sq_stmt(s, ST_LIST_RUNS, &st);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 1, f->dataset);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 2, f->key_prefix);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 3, f->since);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 4, f->limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)f->limit);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (out->n == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      fp_store_run_summary *p = realloc(out->items, ncap * sizeof *p);
      if (!p) break;
      out->items = p;
      cap = ncap;
    }
    fp_store_run_summary *r = &out->items[out->n++];
    memset(r, 0, sizeof *r);
    if (!read_summary(st, r)) break;
    rc = SQLITE_OK;
  }
  if (rc == SQLITE_ROW)
    e = fp_diag_set(d, FP_ERR_NOMEM, "list_runs: out of memory");
  else if (rc != SQLITE_DONE)
    e = fp__sq_fail(s->db, rc, d, "list_runs");
  fp__sq_reset(st);
  if (e) fp_store_run_list_free(out);
  return e;
}

static fp_err sq_get_report(fp_store *base, int64_t id, char **json, fp_diag *d) {
  sq_store *s = sq(base);
  sqlite3_stmt *st = NULL;
  fp_err e = FP_OK;
  int rc = sq_stmt(s, ST_GET_REPORT, &st);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 1, id);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    if (!fp__sq_dup_column(st, 0, json) || !*json)
      e = fp_diag_set(d, FP_ERR_NOMEM, "get_report: out of memory");
  } else if (rc == SQLITE_DONE) {
    e = fp_diag_set(d, FP_ERR_NOT_FOUND, "no run with id %lld", (long long)id);
  } else {
    e = fp__sq_fail(s->db, rc, d, "get_report %lld", (long long)id);
  }
  fp__sq_reset(st);
  return e;
}

/* Steps a bound query for at most one row of SUMMARY_COLS + report_json into out.
 * *found = whether there was a row. Resets the statement. */
static fp_err one_run(sq_store *s, sqlite3_stmt *st, int rc, fp_store_run_summary *out,
                      char **report_json, bool *found, fp_diag *d, const char *what) {
  fp_err e = FP_OK;
  *found = false;
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *found = true;
    if (!read_summary(st, out) || (report_json && !fp__sq_dup_column(st, 13, report_json)))
      e = fp_diag_set(d, FP_ERR_NOMEM, "%s: out of memory", what);
  } else if (rc != SQLITE_DONE) {
    e = fp__sq_fail(s->db, rc, d, "%s", what);
  }
  fp__sq_reset(st);
  return e;
}

static fp_err sq_get_run(fp_store *base, int64_t id, fp_store_run_summary *out,
                         char **report_json, fp_diag *d) {
  sq_store *s = sq(base);
  sqlite3_stmt *st = NULL;
  bool found = false;
  int rc = sq_stmt(s, ST_GET_RUN, &st);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 1, id);
  fp_err e = one_run(s, st, rc, out, report_json, &found, d, "get_run");
  if (!e && !found) e = fp_diag_set(d, FP_ERR_NOT_FOUND, "no run with id %lld", (long long)id);
  return e;
}

/* The body of the pin transaction. */
static fp_err pin_steps(sq_store *s, int64_t id, bool pinned, fp_diag *d) {
  sqlite3_stmt *st = NULL;
  char *dataset = NULL;
  int rc = sq_stmt(s, ST_RUN_DATASET, &st);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 1, id);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  fp_err e = FP_OK;
  if (rc == SQLITE_DONE)
    e = fp_diag_set(d, FP_ERR_NOT_FOUND, "no run with id %lld", (long long)id);
  else if (rc != SQLITE_ROW)
    e = fp__sq_fail(s->db, rc, d, "pin run %lld", (long long)id);
  else if (!fp__sq_dup_column(st, 0, &dataset))
    e = fp_diag_set(d, FP_ERR_NOMEM, "pin run: out of memory");
  fp__sq_reset(st);
  if (!e && pinned && !dataset)
    e = fp_diag_set(d, FP_ERR_INVAL,
                    "run %lld has no dataset (recorded without a contract before schema "
                    "version 3); re-process its object to pin it",
                    (long long)id);
  if (!e && pinned) {
    rc = sq_stmt(s, ST_UNPIN_OTHERS, &st);
    if (rc == SQLITE_OK) {
      rc = fp__sq_bind_text(st, 1, dataset);
      if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 2, id);
      rc = fp__sq_step_done(st, rc);
    }
    if (rc != SQLITE_OK) e = fp__sq_fail(s->db, rc, d, "unpin other runs of '%s'", dataset);
  }
  if (!e) {
    rc = sq_stmt(s, ST_SET_PINNED, &st);
    if (rc == SQLITE_OK) {
      rc = sqlite3_bind_int64(st, 1, id);
      if (rc == SQLITE_OK) rc = sqlite3_bind_int(st, 2, pinned ? 1 : 0);
      rc = fp__sq_step_done(st, rc);
    }
    if (rc != SQLITE_OK) e = fp__sq_fail(s->db, rc, d, "pin run %lld", (long long)id);
  }
  free(dataset);
  return e;
}

static fp_err sq_set_pinned(fp_store *base, int64_t id, bool pinned, fp_diag *d) {
  sq_store *s = sq(base);
  int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (rc != SQLITE_OK) return fp__sq_fail(s->db, rc, d, "pin run: begin transaction");
  fp_err e = pin_steps(s, id, pinned, d);
  if (!e) {
    rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) e = fp__sq_fail(s->db, rc, d, "pin run: commit");
  }
  if (e) fp__sq_rollback(s);
  return e;
}

static int bind_baseline(sqlite3_stmt *st, const fp_store_baseline_query *q, bool with_time) {
  int rc = fp__sq_bind_text(st, 1, q->dataset);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 2, q->bucket);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 3, q->key);
  if (rc == SQLITE_OK) rc = fp__sq_bind_text(st, 4, q->object_version);
  if (rc == SQLITE_OK && with_time) rc = fp__sq_bind_text(st, 5, q->before);
  return rc;
}

static fp_err sq_find_baseline(fp_store *base, const fp_store_baseline_query *q,
                               fp_store_run_summary *out, char **report_json, bool *found,
                               fp_diag *d) {
  sq_store *s = sq(base);
  sqlite3_stmt *st = NULL;
  int rc = sq_stmt(s, ST_BASELINE_PINNED, &st);
  if (rc == SQLITE_OK) rc = bind_baseline(st, q, false);
  fp_err e = one_run(s, st, rc, out, report_json, found, d, "find pinned baseline");
  if (e || *found) return e;
  rc = sq_stmt(s, ST_BASELINE_PASSED, &st);
  if (rc == SQLITE_OK) rc = bind_baseline(st, q, true);
  return one_run(s, st, rc, out, report_json, found, d, "find baseline");
}

static const fp__store_ops sq_ops = {
    .name = "sqlite",
    .migrate = sq_migrate,
    .schema_version = sq_schema_version,
    .save_run = sq_save_run,
    .list_runs = sq_list_runs,
    .get_report = sq_get_report,
    .get_run = sq_get_run,
    .set_pinned = sq_set_pinned,
    .find_baseline = sq_find_baseline,
    .close = sq_close,
    .enqueue = fp__sq_enqueue,
    .claim = fp__sq_claim,
    .heartbeat = fp__sq_heartbeat,
    .succeed = fp__sq_succeed,
    .fail = fp__sq_fail_job,
    .release = fp__sq_release,
    .get_job = fp__sq_get_job,
    .count_jobs = fp__sq_count_jobs,
    .queue_depth = fp__sq_queue_depth,
};
