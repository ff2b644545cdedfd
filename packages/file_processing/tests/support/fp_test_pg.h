/* fp_test_pg.h — helpers for the PostgreSQL groups of the store, queue and worker unit
 * tests. FP_TEST_PG_URL (set by tests/support/pg_harness.sh) names a throwaway server's
 * database; without it the PG groups are skipped with a visible message. Rows are checked
 * through a separate libpq connection, so the tests do not trust the code under test to
 * read back what it wrote. */
#ifndef FP_TEST_PG_H
#define FP_TEST_PG_H

#include <libpq-fe.h>

#include "fp_test.h"

/* The test server's URL, or NULL (PG groups skip). */
static inline const char *fp_test_pg_url(void) {
  const char *u = getenv("FP_TEST_PG_URL");
  return u && *u ? u : NULL;
}

static inline PGconn *fp_test_pg_connect(const char *url) {
  PGconn *c = PQconnectdb(url);
  if (PQstatus(c) != CONNECTION_OK) fail_msg("connect %s: %s", url, PQerrorMessage(c));
  PQclear(PQexec(c, "SET client_min_messages = warning"));
  return c;
}

/* Runs sql (one or more statements); fails the test on error. */
static inline void fp_test_pg_exec(const char *url, const char *sql) {
  PGconn *c = fp_test_pg_connect(url);
  PGresult *r = PQexec(c, sql);
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
    fail_msg("%s: %s", sql, PQresultErrorMessage(r));
  PQclear(r);
  PQfinish(c);
}

/* The first column of the first row as text; owned (free); NULL for SQL NULL. */
static inline char *fp_test_pg_text(const char *url, const char *sql) {
  PGconn *c = fp_test_pg_connect(url);
  PGresult *r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
    fail_msg("%s: %s", sql, PQresultErrorMessage(r));
  char *v = PQgetisnull(r, 0, 0) ? NULL : strdup(PQgetvalue(r, 0, 0));
  PQclear(r);
  PQfinish(c);
  return v;
}

static inline long long fp_test_pg_int(const char *url, const char *sql) {
  char *t = fp_test_pg_text(url, sql);
  if (!t) fail_msg("%s: NULL", sql);
  long long v = strtoll(t, NULL, 10);
  free(t);
  return v;
}

/* Drops every table of the results DB: each test starts from an empty database. */
static inline void fp_test_pg_reset(const char *url) {
  fp_test_pg_exec(url,
                  "DROP TABLE IF EXISTS fp_findings, fp_column_profiles, fp_runs, fp_jobs,"
                  " fp_schema_migrations CASCADE");
}

#define FP_TEST_PG_SKIP_MSG(what)                                                   \
  fprintf(stderr,                                                                   \
          "SKIP: FP_TEST_PG_URL is not set; the PostgreSQL group of %s is skipped " \
          "(run it through tests/support/pg_harness.sh)\n",                         \
          what)

#endif
