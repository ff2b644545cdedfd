/* store_pg.c — the PostgreSQL (libpq) backend of the results store.
 *
 * One connection per fp_store; the DATABASE_URL goes to PQconnectdb untouched, so every
 * libpq URI parameter (sslmode, sslrootcert, connect_timeout, application_name, ...)
 * works. Statements are prepared once per connection and run with bound text parameters
 * (PQexecPrepared); the variable-width batch inserts of save_run use PQexecParams. Server
 * notices are dropped (library code never prints). fp__pg_fail is the one place libpq
 * errors become fp_err. Migrations run each in its own transaction under
 * pg_advisory_xact_lock, so replicas starting together apply each one exactly once. The
 * job queue's half of the ops table lives in queue_pg.c (shared layout: pg_int.h). */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "fp/fp_log.h"
#include "store/pg_int.h"

/* Key of the advisory lock that serialises migrations ("fp_migr" in ASCII). */
#define PG_MIGRATION_LOCK "7022001785161074"
/* Rows per multi-row INSERT of column profiles and findings. */
#define PG_BATCH_ROWS 100

enum {
  ST_DELETE_RUN,
  ST_INSERT_RUN,
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
#define NOT_SAME_VERSION " AND NOT (bucket = $2 AND key = $3 AND object_version = $4)"

_Static_assert(ST__COUNT <= FP__PG_RUN_SLOTS, "raise FP__PG_RUN_SLOTS");

static const char *const stmt_sql[ST__COUNT] = {
    [ST_DELETE_RUN] = "DELETE FROM fp_runs WHERE bucket = $1 AND key = $2 AND object_version = $3",
    [ST_INSERT_RUN] =
        "INSERT INTO fp_runs (bucket, key, object_version, version_id, etag, size, event_time,"
        " job_name, contract, verdict, rows, columns, bytes, errors, warnings, started_at,"
        " finished_at, duration_ms, report_json, created_at, dataset)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,"
        " $18, $19, $20, $21) RETURNING id",
    [ST_LIST_RUNS] =
        "SELECT " SUMMARY_COLS " FROM fp_runs"
        " WHERE ($1::text IS NULL OR dataset = $1::text)"
        " AND ($2::text IS NULL OR left(key, length($2::text)) = $2::text)"
        " AND ($3::text IS NULL OR finished_at >= $3::text)"
        " ORDER BY finished_at DESC, id DESC LIMIT $4::bigint",
    [ST_GET_REPORT] = "SELECT report_json FROM fp_runs WHERE id = $1",
    [ST_RECORD_MIGRATION] = ("INSERT INTO fp_schema_migrations (version, applied_at,"
                             " description) VALUES ($1, $2, $3)"),
    [ST_GET_RUN] = "SELECT " SUMMARY_COLS ", report_json FROM fp_runs WHERE id = $1",
    [ST_RUN_DATASET] = "SELECT dataset FROM fp_runs WHERE id = $1 FOR UPDATE",
    [ST_UNPIN_OTHERS] =
        "UPDATE fp_runs SET pinned = 0 WHERE dataset = $1 AND pinned = 1 AND id <> $2",
    [ST_SET_PINNED] = "UPDATE fp_runs SET pinned = $2 WHERE id = $1",
    [ST_BASELINE_PINNED] =
        "SELECT " SUMMARY_COLS ", report_json FROM fp_runs"
        " WHERE dataset = $1 AND pinned = 1" NOT_SAME_VERSION " LIMIT 1",
    [ST_BASELINE_PASSED] =
        "SELECT " SUMMARY_COLS ", report_json FROM fp_runs"
        " WHERE dataset = $1 AND verdict = 'passed'" NOT_SAME_VERSION
        " AND ($5::text IS NULL OR COALESCE(event_time, finished_at) < $5::text)"
        " ORDER BY COALESCE(event_time, finished_at) DESC, id DESC LIMIT 1",
};

#define COLUMN_INSERT_HEAD                                                              \
  "INSERT INTO fp_column_profiles (run_id, col_index, name, type, count, missing,"      \
  " distinct_count, distinct_approx, min_value, max_value, mean, stddev, profile_json)" \
  " VALUES "
#define COLUMN_PARAMS 13
#define FINDING_INSERT_HEAD                                                              \
  "INSERT INTO fp_findings (run_id, code, severity, field, field_name, count, nsamples," \
  " capped, samples_json) VALUES "
#define FINDING_PARAMS 9

typedef fp__pg_store pg_store;

static const fp__store_ops pg_ops;

static pg_store *pg(fp_store *s) {
  return (pg_store *)s;
}

/* ---- the adapter: libpq failure + context -> fp_err and diag ------------------------- */

static bool sqlstate_transient(const char *st) {
  if (!st || strlen(st) != 5) return false;
  return strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 || strcmp(st, "57P02") == 0 ||
         strcmp(st, "57P03") == 0 || strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0;
}

/* Copies msg into out on one line, without trailing newlines. libpq's messages name host,
 * port and user but never the password; the URL itself is only ever shown masked. */
static void clean_message(const char *msg, char *out, size_t outsz) {
  snprintf(out, outsz, "%s", msg && *msg ? msg : "unknown error");
  size_t n = strlen(out);
  while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' ')) out[--n] = '\0';
  for (char *p = out; *p; p++)
    if (*p == '\n' || *p == '\t') *p = ' ';
}

fp_err fp__pg_fail(pg_store *s, const PGresult *res, fp_diag *d, const char *fmt, ...) {
  char op[640], msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(op, sizeof op, fmt, ap);
  va_end(ap);
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  const char *text = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  if (!text) text = res ? PQresultErrorMessage(res) : NULL;
  if (!text || !*text) text = s->conn ? PQerrorMessage(s->conn) : "out of memory";
  clean_message(text, msg, sizeof msg);
  bool broken = !s->conn || PQstatus(s->conn) != CONNECTION_OK;
  fp_err e = broken || sqlstate_transient(state) ? FP_ERR_TRANSIENT : FP_ERR_DB;
  if (!s->conn) e = FP_ERR_NOMEM;
  return fp_diag_set(d, e, "PostgreSQL '%s': %s: %s%s%s%s", s->shown, op, msg,
                     state ? " (SQLSTATE " : "", state ? state : "", state ? ")" : "");
}

/* ---- small helpers ------------------------------------------------------------------- */

const char *fp__pg_itoa(int64_t v, char buf[24]) {
  snprintf(buf, 24, "%" PRId64, v);
  return buf;
}

bool fp__pg_dup(const PGresult *r, int row, int col, char **out) {
  *out = NULL;
  if (PQgetisnull(r, row, col)) return true;
  size_t n = (size_t)PQgetlength(r, row, col);
  *out = malloc(n + 1);
  if (!*out) return false;
  memcpy(*out, PQgetvalue(r, row, col), n);
  (*out)[n] = '\0';
  return true;
}

int64_t fp__pg_i64(const PGresult *r, int row, int col) {
  if (PQgetisnull(r, row, col)) return 0;
  char *end = NULL;
  long long v = strtoll(PQgetvalue(r, row, col), &end, 10);
  return end && *end == '\0' ? (int64_t)v : 0;
}

static void forget_prepared(pg_store *s) {
  memset(s->prepared, 0, sizeof s->prepared);
}

fp_err fp__pg_ensure(pg_store *s, fp_diag *d) {
  if (PQstatus(s->conn) == CONNECTION_OK) return FP_OK;
  forget_prepared(s);
  PQreset(s->conn);
  if (PQstatus(s->conn) == CONNECTION_OK) {
    fp_info("results DB '%s': reconnected", s->shown);
    return FP_OK;
  }
  char msg[512];
  clean_message(PQerrorMessage(s->conn), msg, sizeof msg);
  return fp_diag_set(d, FP_ERR_TRANSIENT, "PostgreSQL '%s': connection lost: %s", s->shown, msg);
}

static bool result_ok(const PGresult *r) {
  ExecStatusType st = PQresultStatus(r);
  return r && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK);
}

/* Success: *out = r (or cleared). Failure: the adapter's error, r cleared. */
static fp_err finish(pg_store *s, PGresult *r, PGresult **out, fp_diag *d, const char *what) {
  if (!result_ok(r)) {
    fp_err e = fp__pg_fail(s, r, d, "%s", what);
    PQclear(r);
    return e;
  }
  if (out)
    *out = r;
  else
    PQclear(r);
  return FP_OK;
}

fp_err fp__pg_exec(pg_store *s, int slot, const char *sql, int n, const char *const *params,
                   PGresult **out, fp_diag *d, const char *what) {
  char name[16];
  if (out) *out = NULL;
  snprintf(name, sizeof name, "fp_%d", slot);
  if (!s->prepared[slot]) {
    PGresult *r = PQprepare(s->conn, name, sql, 0, NULL);
    fp_err e = finish(s, r, NULL, d, what);
    if (e) return e;
    s->prepared[slot] = true;
  }
  return finish(s, PQexecPrepared(s->conn, name, n, params, NULL, NULL, 0), out, d, what);
}

fp_err fp__pg_command(pg_store *s, const char *sql, fp_diag *d, const char *what) {
  return finish(s, PQexec(s->conn, sql), NULL, d, what);
}

void fp__pg_rollback(pg_store *s) {
  if (PQstatus(s->conn) == CONNECTION_OK && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
    PQclear(PQexec(s->conn, "ROLLBACK"));
}

static fp_err run_stmt(pg_store *s, int which, int n, const char *const *params, PGresult **out,
                       fp_diag *d, const char *what) {
  return fp__pg_exec(s, which, stmt_sql[which], n, params, out, d, what);
}

/* ---- open / close -------------------------------------------------------------------- */

static void pg_close(fp_store *base) {
  pg_store *s = pg(base);
  if (s->conn) PQfinish(s->conn);
  free(s);
}

static void drop_notice(void *arg, const char *message) {
  (void)arg;
  (void)message;
}

fp_err fp__pg_open(const char *url, const char *shown, fp_store **out, fp_diag *d) {
  *out = NULL;
  pg_store *s = calloc(1, sizeof *s);
  if (!s) return fp_diag_set(d, FP_ERR_NOMEM, "PostgreSQL: out of memory opening '%s'", shown);
  s->base.ops = &pg_ops;
  snprintf(s->shown, sizeof s->shown, "%s", shown);
  s->conn = PQconnectdb(url);
  fp_err e = FP_OK;
  if (!s->conn) {
    e = fp_diag_set(d, FP_ERR_NOMEM, "PostgreSQL: out of memory connecting to '%s'", shown);
  } else if (PQstatus(s->conn) != CONNECTION_OK) {
    char msg[512];
    clean_message(PQerrorMessage(s->conn), msg, sizeof msg);
    e = fp_diag_set(d, FP_ERR_TRANSIENT, "PostgreSQL: cannot connect to '%s': %s", shown, msg);
  } else {
    PQsetNoticeProcessor(s->conn, drop_notice, NULL);
  }
  if (e) {
    pg_close(&s->base);
    return e;
  }
  *out = &s->base;
  return FP_OK;
}

/* ---- migrations ---------------------------------------------------------------------- */

static int pg_last_known_version(void) {
  return fp__pg_migrations[fp__pg_migrations_n - 1].version;
}

/* Highest recorded migration, 0 when the bookkeeping table does not exist yet. */
static fp_err pg_read_version(pg_store *s, int *version, fp_diag *d) {
  PGresult *r = NULL;
  *version = 0;
  fp_err e = finish(s, PQexec(s->conn, "SELECT to_regclass('fp_schema_migrations') IS NOT NULL"),
                    &r, d, "read schema version");
  if (e) return e;
  bool exists = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
  PQclear(r);
  if (!exists) return FP_OK;
  e = finish(s, PQexec(s->conn, "SELECT COALESCE(MAX(version), 0) FROM fp_schema_migrations"), &r,
             d, "read schema version");
  if (e) return e;
  *version = (int)fp__pg_i64(r, 0, 0);
  PQclear(r);
  return FP_OK;
}

/* Applies m unless another replica got there first (checked under the advisory lock, which
 * the transaction's end releases). *ran = 1 when it ran now. */
static fp_err pg_apply(pg_store *s, const fp__migration *m, int *ran, fp_diag *d) {
  char what[96], vbuf[24], now[32];
  int version = 0;
  *ran = 0;
  snprintf(what, sizeof what, "migration %d", m->version);
  fp_err e = fp__pg_command(s, "BEGIN", d, what);
  if (e) return e;
  e = fp__pg_command(s, "SELECT pg_advisory_xact_lock(" PG_MIGRATION_LOCK ")", d, what);
  if (!e) e = fp__pg_command(s, fp__migrations_table_sql, d, what);
  if (!e) e = pg_read_version(s, &version, d);
  if (!e && version < m->version) {
    e = fp__pg_command(s, m->sql, d, what);
    fp__store_now(now);
    const char *p[3] = {fp__pg_itoa(m->version, vbuf), now, m->description};
    if (!e) e = run_stmt(s, ST_RECORD_MIGRATION, 3, p, NULL, d, what);
    if (!e) *ran = 1;
  }
  if (!e) e = fp__pg_command(s, "COMMIT", d, what);
  if (e) {
    *ran = 0;
    fp__pg_rollback(s);
  }
  return e;
}

static fp_err pg_migrate(fp_store *base, int *applied, fp_diag *d) {
  pg_store *s = pg(base);
  int version = 0, count = 0;
  if (applied) *applied = 0;
  fp_err e = fp__pg_ensure(s, d);
  if (!e) e = pg_read_version(s, &version, d);
  if (!e && version > pg_last_known_version())
    e = fp_diag_set(d, FP_ERR_DB,
                    "database '%s' has schema version %d, newer than this build knows (%d); "
                    "upgrade file-processing",
                    s->shown, version, pg_last_known_version());
  for (size_t i = 0; !e && i < fp__pg_migrations_n; i++) {
    const fp__migration *m = &fp__pg_migrations[i];
    if (m->version <= version) continue;
    int ran = 0;
    e = pg_apply(s, m, &ran, d);
    if (!e && ran) {
      count++;
      fp_info("results DB '%s': applied migration %d (%s)", s->shown, m->version, m->description);
    }
  }
  if (applied) *applied = count;
  return e;
}

static int pg_schema_version(fp_store *base) {
  int version = 0;
  if (fp__pg_ensure(pg(base), NULL)) return -1;
  return pg_read_version(pg(base), &version, NULL) == FP_OK ? version : -1;
}

/* ---- save_run ------------------------------------------------------------------------ */

/* Bound parameters of one statement: values point at caller strings or at num[] slots. */
typedef struct pg_params {
  const char **v;
  char (*num)[32];
  int n, cap;
} pg_params;

static bool params_init(pg_params *p, int cap) {
  p->n = 0;
  p->cap = cap;
  p->v = calloc((size_t)cap, sizeof *p->v);
  p->num = calloc((size_t)cap, sizeof *p->num);
  return p->v && p->num;
}

static void params_free(pg_params *p) {
  free(p->v);
  free(p->num);
}

static void p_text(pg_params *p, const char *v) {
  p->v[p->n++] = v;
}

static void p_i64(pg_params *p, int64_t v) {
  snprintf(p->num[p->n], sizeof p->num[0], "%" PRId64, v);
  p->v[p->n] = p->num[p->n];
  p->n++;
}

/* NaN and infinities become NULL on both backends. */
static void p_real(pg_params *p, int has, double v) {
  if (!(has && isfinite(v))) {
    p_text(p, NULL);
    return;
  }
  snprintf(p->num[p->n], sizeof p->num[0], "%.17g", v);
  p->v[p->n] = p->num[p->n];
  p->n++;
}

static void add_column(pg_params *p, int64_t run_id, const fp_store_column *c) {
  p_i64(p, run_id);
  p_i64(p, c->index);
  p_text(p, c->name);
  p_text(p, c->type);
  p_i64(p, (int64_t)c->count);
  p_i64(p, (int64_t)c->missing);
  p_i64(p, (int64_t)c->distinct);
  p_i64(p, c->distinct_approx ? 1 : 0);
  p_text(p, c->min);
  p_text(p, c->max);
  p_real(p, c->has_mean, c->mean);
  p_real(p, c->has_mean, c->stddev);
  p_text(p, c->profile_json);
}

static void add_finding(pg_params *p, int64_t run_id, const fp_store_finding *f) {
  p_i64(p, run_id);
  p_text(p, f->code);
  p_text(p, f->severity);
  p_i64(p, f->field);
  p_text(p, f->field_name);
  p_i64(p, (int64_t)f->count);
  p_i64(p, (int64_t)f->nsamples);
  p_i64(p, f->capped ? 1 : 0);
  p_text(p, f->samples_json ? f->samples_json : "[]");
}

/* "HEAD ($1, ..., $w), ($w+1, ...)" for rows rows of w parameters; owned (free). */
static char *batch_sql(const char *head, int rows, int w) {
  size_t cap = strlen(head) + (size_t)rows * (size_t)w * 9 + 16;
  char *sql = malloc(cap);
  if (!sql) return NULL;
  size_t n = (size_t)snprintf(sql, cap, "%s", head);
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < w; c++)
      n += (size_t)snprintf(sql + n, cap - n, "%s$%d%s", c == 0 ? (r ? ", (" : "(") : ", ",
                            r * w + c + 1, c == w - 1 ? ")" : "");
  return sql;
}

/* Inserts rows [0, total) in statements of up to PG_BATCH_ROWS rows each. */
static fp_err insert_batches(pg_store *s, const fp_store_run *run, int64_t run_id, bool columns,
                             fp_diag *d) {
  size_t total = columns ? run->ncols : run->nfindings;
  int w = columns ? COLUMN_PARAMS : FINDING_PARAMS;
  const char *head = columns ? COLUMN_INSERT_HEAD : FINDING_INSERT_HEAD;
  pg_params p;
  fp_err e = FP_OK;
  if (!params_init(&p, PG_BATCH_ROWS * w)) e = fp_diag_set(d, FP_ERR_NOMEM, "save_run: no memory");
  for (size_t at = 0; !e && at < total; at += PG_BATCH_ROWS) {
    int rows = (int)(total - at < PG_BATCH_ROWS ? total - at : PG_BATCH_ROWS);
    p.n = 0;
    for (int i = 0; i < rows; i++) {
      if (columns)
        add_column(&p, run_id, &run->cols[at + (size_t)i]);
      else
        add_finding(&p, run_id, &run->findings[at + (size_t)i]);
    }
    char *sql = batch_sql(head, rows, w);
    if (!sql) {
      e = fp_diag_set(d, FP_ERR_NOMEM, "save_run: no memory");
      break;
    }
    char what[96];
    snprintf(what, sizeof what, "save_run: insert %s %zu..%zu",
             columns ? "column profiles" : "findings", at + 1, at + (size_t)rows);
    e = finish(s, PQexecParams(s->conn, sql, p.n, NULL, p.v, NULL, NULL, 0), NULL, d, what);
    free(sql);
  }
  params_free(&p);
  return e;
}

static fp_err insert_run(pg_store *s, const fp_store_run *r, const char *ov, const char *now,
                         int64_t *id, fp_diag *d) {
  pg_params p;
  PGresult *res = NULL;
  if (!params_init(&p, 21)) {
    params_free(&p);
    return fp_diag_set(d, FP_ERR_NOMEM, "save_run: no memory");
  }
  p_text(&p, r->bucket);
  p_text(&p, r->key);
  p_text(&p, ov);
  p_text(&p, r->version_id);
  p_text(&p, r->etag);
  if (r->size >= 0)
    p_i64(&p, r->size);
  else
    p_text(&p, NULL);
  p_text(&p, r->event_time);
  p_text(&p, r->job_name);
  p_text(&p, r->contract);
  p_text(&p, r->verdict);
  p_i64(&p, (int64_t)r->rows);
  p_i64(&p, r->columns);
  p_i64(&p, (int64_t)r->bytes);
  p_i64(&p, (int64_t)r->errors);
  p_i64(&p, (int64_t)r->warnings);
  p_text(&p, r->started_at);
  p_text(&p, r->finished_at ? r->finished_at : now);
  p_real(&p, 1, r->duration_ms);
  p_text(&p, r->report_json);
  p_text(&p, now);
  p_text(&p, r->dataset);
  fp_err e = run_stmt(s, ST_INSERT_RUN, p.n, p.v, &res, d, "save_run: insert run");
  if (!e) *id = fp__pg_i64(res, 0, 0);
  PQclear(res);
  params_free(&p);
  return e;
}

static fp_err save_steps(pg_store *s, const fp_store_run *r, int64_t *id, fp_diag *d) {
  const char *ov = r->object_version ? r->object_version : "";
  char now[32];
  fp__store_now(now);
  const char *del[3] = {r->bucket, r->key, ov};
  fp_err e = run_stmt(s, ST_DELETE_RUN, 3, del, NULL, d, "save_run: delete previous run");
  if (!e) e = insert_run(s, r, ov, now, id, d);
  if (!e && r->ncols) e = insert_batches(s, r, *id, true, d);
  if (!e && r->nfindings) e = insert_batches(s, r, *id, false, d);
  return e;
}

static fp_err pg_save_run(fp_store *base, const fp_store_run *r, int64_t *run_id, fp_diag *d) {
  pg_store *s = pg(base);
  int64_t id = 0;
  fp_err e = fp__pg_ensure(s, d);
  if (!e) {
    e = fp__pg_command(s, "BEGIN", d, "save_run: begin transaction");
    if (!e) e = save_steps(s, r, &id, d);
    if (!e && r->job_id) e = fp__pg_succeed(base, r->job_id, r->job_owner, id, d);
    if (!e) e = fp__pg_command(s, "COMMIT", d, "save_run: commit");
    if (e) fp__pg_rollback(s);
  }
  if (e) {
    fp_diag_key(d, r->key);
    return e;
  }
  if (run_id) *run_id = id;
  return FP_OK;
}

/* ---- reading ------------------------------------------------------------------------- */

static uint64_t u64_at(const PGresult *r, int row, int col) {
  int64_t v = fp__pg_i64(r, row, col);
  return v < 0 ? 0 : (uint64_t)v;
}

static bool read_summary(const PGresult *res, int i, fp_store_run_summary *r) {
  r->id = fp__pg_i64(res, i, 0);
  r->rows = u64_at(res, i, 7);
  r->errors = u64_at(res, i, 8);
  r->warnings = u64_at(res, i, 9);
  r->pinned = fp__pg_i64(res, i, 12) != 0;
  return fp__pg_dup(res, i, 1, &r->bucket) && fp__pg_dup(res, i, 2, &r->key) &&
         fp__pg_dup(res, i, 3, &r->object_version) && fp__pg_dup(res, i, 4, &r->verdict) &&
         fp__pg_dup(res, i, 5, &r->finished_at) && fp__pg_dup(res, i, 6, &r->contract) &&
         fp__pg_dup(res, i, 10, &r->dataset) && fp__pg_dup(res, i, 11, &r->event_time);
}

static fp_err pg_list_runs(fp_store *base, const fp_store_run_filter *f, fp_store_run_list *out,
                           fp_diag *d) {
  pg_store *s = pg(base);
  PGresult *res = NULL;
  char lbuf[24];
  const char *p[4] = {f->dataset, f->key_prefix, f->since,
                      fp__pg_itoa(f->limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)f->limit,
                                  lbuf)};
  fp_err e = fp__pg_ensure(s, d);
  if (!e) e = run_stmt(s, ST_LIST_RUNS, 4, p, &res, d, "list_runs");
  if (e) return e;
  int n = PQntuples(res);
  if (n > 0) {
    out->items = calloc((size_t)n, sizeof *out->items);
    if (!out->items) e = fp_diag_set(d, FP_ERR_NOMEM, "list_runs: out of memory");
  }
  for (int i = 0; !e && i < n; i++) {
    out->n++;
    if (!read_summary(res, i, &out->items[i]))
      e = fp_diag_set(d, FP_ERR_NOMEM, "list_runs: out of memory");
  }
  PQclear(res);
  if (e) fp_store_run_list_free(out);
  return e;
}

static fp_err pg_get_report(fp_store *base, int64_t id, char **json, fp_diag *d) {
  pg_store *s = pg(base);
  PGresult *res = NULL;
  char ibuf[24];
  const char *p[1] = {fp__pg_itoa(id, ibuf)};
  fp_err e = fp__pg_ensure(s, d);
  if (!e) e = run_stmt(s, ST_GET_REPORT, 1, p, &res, d, "get_report");
  if (e) return e;
  if (PQntuples(res) == 0)
    e = fp_diag_set(d, FP_ERR_NOT_FOUND, "no run with id %lld", (long long)id);
  else if (!fp__pg_dup(res, 0, 0, json) || !*json)
    e = fp_diag_set(d, FP_ERR_NOMEM, "get_report: out of memory");
  PQclear(res);
  return e;
}

/* Runs a query answering at most one row of SUMMARY_COLS + report_json into out. */
static fp_err one_run(pg_store *s, int which, int n, const char *const *params,
                      fp_store_run_summary *out, char **report_json, bool *found, fp_diag *d,
                      const char *what) {
  PGresult *res = NULL;
  *found = false;
  fp_err e = run_stmt(s, which, n, params, &res, d, what);
  if (e) return e;
  if (PQntuples(res) > 0) {
    *found = true;
    if (!read_summary(res, 0, out) || (report_json && !fp__pg_dup(res, 0, 13, report_json)))
      e = fp_diag_set(d, FP_ERR_NOMEM, "%s: out of memory", what);
  }
  PQclear(res);
  return e;
}

static fp_err pg_get_run(fp_store *base, int64_t id, fp_store_run_summary *out,
                         char **report_json, fp_diag *d) {
  pg_store *s = pg(base);
  char ibuf[24];
  const char *p[1] = {fp__pg_itoa(id, ibuf)};
  bool found = false;
  fp_err e = fp__pg_ensure(s, d);
  if (!e) e = one_run(s, ST_GET_RUN, 1, p, out, report_json, &found, d, "get_run");
  if (!e && !found) e = fp_diag_set(d, FP_ERR_NOT_FOUND, "no run with id %lld", (long long)id);
  return e;
}

static fp_err pin_steps(pg_store *s, int64_t id, bool pinned, fp_diag *d) {
  PGresult *res = NULL;
  char ibuf[24];
  const char *pid[1] = {fp__pg_itoa(id, ibuf)};
  char *dataset = NULL;
  fp_err e = run_stmt(s, ST_RUN_DATASET, 1, pid, &res, d, "pin run");
  if (e) return e;
  if (PQntuples(res) == 0)
    e = fp_diag_set(d, FP_ERR_NOT_FOUND, "no run with id %lld", (long long)id);
  else if (!fp__pg_dup(res, 0, 0, &dataset))
    e = fp_diag_set(d, FP_ERR_NOMEM, "pin run: out of memory");
  PQclear(res);
  if (!e && pinned && !dataset)
    e = fp_diag_set(d, FP_ERR_INVAL,
                    "run %lld has no dataset (recorded without a contract before schema "
                    "version 3); re-process its object to pin it",
                    (long long)id);
  if (!e && pinned) {
    const char *p[2] = {dataset, ibuf};
    e = run_stmt(s, ST_UNPIN_OTHERS, 2, p, NULL, d, "unpin other runs");
  }
  if (!e) {
    const char *p[2] = {ibuf, pinned ? "1" : "0"};
    e = run_stmt(s, ST_SET_PINNED, 2, p, NULL, d, "pin run");
  }
  free(dataset);
  return e;
}

static fp_err pg_set_pinned(fp_store *base, int64_t id, bool pinned, fp_diag *d) {
  pg_store *s = pg(base);
  fp_err e = fp__pg_ensure(s, d);
  if (e) return e;
  e = fp__pg_command(s, "BEGIN", d, "pin run: begin transaction");
  if (!e) e = pin_steps(s, id, pinned, d);
  if (!e) e = fp__pg_command(s, "COMMIT", d, "pin run: commit");
  if (e) fp__pg_rollback(s);
  return e;
}

static fp_err pg_find_baseline(fp_store *base, const fp_store_baseline_query *q,
                               fp_store_run_summary *out, char **report_json, bool *found,
                               fp_diag *d) {
  pg_store *s = pg(base);
  const char *p[5] = {q->dataset, q->bucket, q->key, q->object_version, q->before};
  fp_err e = fp__pg_ensure(s, d);
  if (!e) e = one_run(s, ST_BASELINE_PINNED, 4, p, out, report_json, found, d,
                      "find pinned baseline");
  if (e || *found) return e;
  return one_run(s, ST_BASELINE_PASSED, 5, p, out, report_json, found, d, "find baseline");
}

static const fp__store_ops pg_ops = {
    .name = "postgresql",
    .migrate = pg_migrate,
    .schema_version = pg_schema_version,
    .save_run = pg_save_run,
    .list_runs = pg_list_runs,
    .get_report = pg_get_report,
    .get_run = pg_get_run,
    .set_pinned = pg_set_pinned,
    .find_baseline = pg_find_baseline,
    .close = pg_close,
    .enqueue = fp__pg_enqueue,
    .claim = fp__pg_claim,
    .heartbeat = fp__pg_heartbeat,
    .succeed = fp__pg_succeed,
    .fail = fp__pg_fail_job,
    .release = fp__pg_release,
    .get_job = fp__pg_get_job,
    .count_jobs = fp__pg_count_jobs,
    .queue_depth = fp__pg_queue_depth,
};
