/* store_int.h — private layout of the results store: URL parsing, the backend vtable that
 * fp_store dispatches through, and the per-backend migration arrays.
 *
 * A backend embeds `fp_store` as the first member of its own struct and fills `ops`;
 * store.c validates arguments and calls through the table, so adding PostgreSQL means one
 * more ops table and one more open function, nothing else in the public layer. The job
 * queue is part of the same table (queue_sqlite.c implements it for SQLite). */
#ifndef FP_STORE_INT_H
#define FP_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fp/fp_err.h"
#include "fp/fp_event.h"
#include "fp/fp_store.h"

/* Room for a URL with its password masked, as printed in diagnostics. */
#define FP__STORE_URL_SHOWN 512

typedef enum fp__store_kind { FP__STORE_SQLITE = 1, FP__STORE_POSTGRES = 2 } fp__store_kind;

/* A parsed DATABASE_URL. path points into the parsed url (borrowed): for SQLite it is the
 * file path ("relative/path.db", "/abs/path.db") or ":memory:"; for PostgreSQL it is the
 * whole url (libpq parses it itself). */
typedef struct fp__store_url {
  fp__store_kind kind;
  const char *path;
  int memory; /* SQLite in-memory database */
} fp__store_url;

/* FP_ERR_CONFIG for malformed or unknown URLs; messages carry the URL masked. */
fp_err fp__store_parse_url(const char *url, fp__store_url *out, fp_diag *d);

/* One job to enqueue: the ref plus its idempotency key (built by store.c, fp__job_key). */
typedef struct fp__job_new {
  const fp_object_ref *ref;
  const char *idem_key;
} fp__job_new;

/* The queue operations take the arguments store.c already checked (non-NULL store, ids
 * > 0, owner non-empty and at most FP_STORE_OWNER_MAX bytes, lease > 0, error text
 * truncated to FP_STORE_ERROR_MAX) and the time from fp__store_now_ms. "Lease lost" is
 * FP_ERR_NOT_FOUND: no row with that id is running under that owner. */
typedef struct fp__store_ops {
  const char *name; /* "sqlite" | "postgresql" */
  fp_err (*migrate)(fp_store *s, int *applied, fp_diag *d);
  int (*schema_version)(fp_store *s);
  fp_err (*save_run)(fp_store *s, const fp_store_run *run, int64_t *run_id, fp_diag *d);
  /* f non-NULL with limit > 0 */
  fp_err (*list_runs)(fp_store *s, const fp_store_run_filter *f, fp_store_run_list *out,
                      fp_diag *d);
  fp_err (*get_report)(fp_store *s, int64_t id, char **json, fp_diag *d);
  /* out zeroed by the caller; report_json may be NULL */
  fp_err (*get_run)(fp_store *s, int64_t id, fp_store_run_summary *out, char **report_json,
                    fp_diag *d);
  fp_err (*set_pinned)(fp_store *s, int64_t id, bool pinned, fp_diag *d);
  /* dataset non-NULL; bucket/key/object_version non-NULL ("" allowed); run's dataset
   * already computed by store.c */
  fp_err (*find_baseline)(fp_store *s, const fp_store_baseline_query *q,
                          fp_store_run_summary *out, char **report_json, bool *found,
                          fp_diag *d);
  void (*close)(fp_store *s);
  /* the job queue (fp_jobs); see fp_store.h for the semantics */
  /* All n jobs in one transaction; ids[i] and created[i] always filled. */
  fp_err (*enqueue)(fp_store *s, const fp__job_new *jobs, size_t n, int64_t *ids,
                    bool *created, fp_diag *d);
  fp_err (*claim)(fp_store *s, const char *owner, int lease_seconds, int max_attempts,
                  fp_store_job *out, bool *got, fp_diag *d);
  fp_err (*heartbeat)(fp_store *s, int64_t id, const char *owner, int lease_seconds,
                      fp_diag *d);
  fp_err (*succeed)(fp_store *s, int64_t id, const char *owner, int64_t run_id, fp_diag *d);
  fp_err (*fail)(fp_store *s, int64_t id, const char *owner, const char *error,
                 bool retryable, int max_attempts, int64_t retry_delay_ms,
                 fp_job_state *new_state, fp_diag *d);
  fp_err (*release)(fp_store *s, int64_t id, const char *owner, fp_diag *d);
  fp_err (*get_job)(fp_store *s, int64_t id, fp_store_job *out, fp_diag *d);
  fp_err (*count_jobs)(fp_store *s, int64_t counts[FP_JOB__STATE_COUNT], fp_diag *d);
  fp_err (*queue_depth)(fp_store *s, int64_t *n, fp_diag *d); /* queued + running */
} fp__store_ops;

/* Milliseconds since the Unix epoch; the store's clock (tests replace it). */
typedef int64_t (*fp__store_clock_fn)(void *ud);

struct fp_store {
  const fp__store_ops *ops;
  fp__store_clock_fn clock; /* NULL = CLOCK_REALTIME */
  void *clock_ud;
};

/* One versioned migration: applied in its own transaction and recorded in
 * fp_schema_migrations(version, applied_at, description). Versions strictly increase;
 * every backend has the same versions with the same descriptions. */
typedef struct fp__migration {
  int version;
  const char *description;
  const char *sql; /* one or more statements separated by ';' */
} fp__migration;

/* CREATE TABLE IF NOT EXISTS fp_schema_migrations: portable, run before any migration. */
extern const char fp__migrations_table_sql[];
extern const fp__migration fp__sqlite_migrations[];
extern const size_t fp__sqlite_migrations_n;
extern const fp__migration fp__pg_migrations[];
extern const size_t fp__pg_migrations_n;

/* Current UTC time as "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 chars + NUL) into out[32]. */
void fp__store_now(char out[32]);

/* The store's clock in ms since the epoch, and ms rendered like fp__store_now. Queue
 * timestamps (next_attempt_at, lease_expires_at, ...) are written in this fixed-width
 * form so that comparing them as text compares them as times. */
int64_t fp__store_now_ms(const fp_store *s);
void fp__store_format_ms(int64_t ms, char out[32]);
/* Test hook: replaces the clock the queue operations use (NULL restores the real one). */
void fp__store_set_clock(fp_store *s, fp__store_clock_fn fn, void *ud);

/* The idempotency key of an object version: "bucket\nkey\nversion" where version is
 * version_id, else etag, else sequencer, else "" (the rule fp_runs.object_version follows).
 * Buckets and versions never hold '\n', so the key is unambiguous. Owned (free); NULL on
 * out-of-memory. */
char *fp__job_key(const fp_object_ref *ref);

/* SQLite backend. path: file path or ":memory:"; shown: the URL as it may be printed. */
fp_err fp__sqlite_open(const char *path, int memory, const char *shown, fp_store **out, fp_diag *d);

/* PostgreSQL backend (store_pg.c). url: the whole DATABASE_URL, handed to PQconnectdb;
 * shown: the URL as it may be printed. A server that cannot be reached is
 * FP_ERR_TRANSIENT. */
fp_err fp__pg_open(const char *url, const char *shown, fp_store **out, fp_diag *d);

/* Test hook: the sqlite3 * behind a SQLite store (NULL for other backends), so tests can
 * shorten the busy timeout and provoke SQLITE_BUSY. Borrowed. */
void *fp__sqlite_handle(fp_store *s);

#endif
