/* store_int.h — private layout of the results store: URL parsing, the backend vtable that
 * fp_store dispatches through, and the per-backend migration arrays.
 *
 * A backend embeds `fp_store` as the first member of its own struct and fills `ops`;
 * store.c validates arguments and calls through the table, so adding PostgreSQL means one
 * more ops table and one more open function, nothing else in the public layer. */
#ifndef FP_STORE_INT_H
#define FP_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "fp/fp_err.h"
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

typedef struct fp__store_ops {
  const char *name; /* "sqlite" */
  fp_err (*migrate)(fp_store *s, int *applied, fp_diag *d);
  int (*schema_version)(fp_store *s);
  fp_err (*save_run)(fp_store *s, const fp_store_run *run, int64_t *run_id, fp_diag *d);
  fp_err (*list_runs)(fp_store *s, size_t limit, fp_store_run_list *out, fp_diag *d);
  fp_err (*get_report)(fp_store *s, int64_t id, char **json, fp_diag *d);
  void (*close)(fp_store *s);
} fp__store_ops;

struct fp_store {
  const fp__store_ops *ops;
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

/* SQLite backend. path: file path or ":memory:"; shown: the URL as it may be printed. */
fp_err fp__sqlite_open(const char *path, int memory, const char *shown, fp_store **out, fp_diag *d);

/* Test hook: the sqlite3 * behind a SQLite store (NULL for other backends), so tests can
 * shorten the busy timeout and provoke SQLITE_BUSY. Borrowed. */
void *fp__sqlite_handle(fp_store *s);

#endif
