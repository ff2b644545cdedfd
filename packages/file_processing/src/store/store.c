/* store.c — the public face of the results store: DATABASE_URL parsing, argument checks and
 * dispatch to a backend through its ops table (store_int.h). No SQL lives here. */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fp/fp_config.h"

#define SCHEME_SHOWN_MAX 32

static int has_prefix_ci(const char *s, const char *prefix) {
  return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static fp_err parse_sqlite(const char *rest, const char *shown, fp__store_url *out, fp_diag *d) {
  /* rest is what follows "sqlite://": ":memory:", "/:memory:", "/relative", "//abs". */
  if (strcmp(rest, ":memory:") == 0 || strcmp(rest, "/:memory:") == 0) {
    out->kind = FP__STORE_SQLITE;
    out->path = rest[0] == '/' ? rest + 1 : rest;
    out->memory = 1;
    return FP_OK;
  }
  if (rest[0] != '/')
    return fp_diag_set(d, FP_ERR_CONFIG,
                       "malformed SQLite URL '%s': expected sqlite:///relative/path.db, "
                       "sqlite:////absolute/path.db or sqlite://:memory:",
                       shown);
  const char *path = rest + 1;
  if (path[0] == '\0')
    return fp_diag_set(d, FP_ERR_CONFIG, "malformed SQLite URL '%s': no database path", shown);
  if (strpbrk(path, "?#"))
    return fp_diag_set(d, FP_ERR_CONFIG,
                       "malformed SQLite URL '%s': query strings and fragments are not "
                       "supported",
                       shown);
  out->kind = FP__STORE_SQLITE;
  out->path = path;
  out->memory = 0;
  return FP_OK;
}

fp_err fp__store_parse_url(const char *url, fp__store_url *out, fp_diag *d) {
  if (!url || !out) return fp_diag_set(d, FP_ERR_INVAL, "store URL: NULL argument");
  memset(out, 0, sizeof *out);
  if (url[0] == '\0') return fp_diag_set(d, FP_ERR_CONFIG, "database URL is empty");
  char shown[FP__STORE_URL_SHOWN];
  fp_mask_url(url, shown, sizeof shown);

  if (has_prefix_ci(url, "sqlite://")) return parse_sqlite(url + 9, shown, out, d);
  if (has_prefix_ci(url, "postgresql://") || has_prefix_ci(url, "postgres://")) {
    out->kind = FP__STORE_POSTGRES;
    out->path = url;
    return FP_OK;
  }
  const char *sep = strstr(url, "://");
  if (has_prefix_ci(url, "sqlite:") || !sep)
    return fp_diag_set(d, FP_ERR_CONFIG,
                       "malformed database URL '%s': expected sqlite:///path.db or "
                       "postgresql://...",
                       shown);
  size_t n = (size_t)(sep - url);
  return fp_diag_set(d, FP_ERR_CONFIG,
                     "unsupported database URL scheme '%.*s%s' in '%s': use sqlite:// or "
                     "postgresql://",
                     (int)(n > SCHEME_SHOWN_MAX ? SCHEME_SHOWN_MAX : n), url,
                     n > SCHEME_SHOWN_MAX ? "..." : "", shown);
}

void fp__store_now(char out[32]) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 32 - n, ".%03dZ", (int)(ts.tv_nsec / 1000000));
}

fp_err fp_store_open(const char *url, fp_store **out, fp_diag *d) {
  if (!out) return fp_diag_set(d, FP_ERR_INVAL, "fp_store_open: out is NULL");
  *out = NULL;
  fp__store_url u;
  fp_err e = fp__store_parse_url(url, &u, d);
  if (e) return e;
  char shown[FP__STORE_URL_SHOWN];
  fp_mask_url(url, shown, sizeof shown);
  fp_store *s = NULL;
  switch (u.kind) {
    case FP__STORE_SQLITE: e = fp__sqlite_open(u.path, u.memory, shown, &s, d); break;
    case FP__STORE_POSTGRES:
      return fp_diag_set(d, FP_ERR_NOT_IMPLEMENTED,
                         "PostgreSQL backend not implemented yet (database URL '%s')", shown);
    default: return fp_diag_set(d, FP_ERR_INTERNAL, "store: no backend for '%s'", shown);
  }
  if (e) return e;
  e = s->ops->migrate(s, NULL, d);
  if (e) {
    s->ops->close(s);
    return e;
  }
  *out = s;
  return FP_OK;
}

void fp_store_close(fp_store *s) {
  if (s) s->ops->close(s);
}

const char *fp_store_backend(const fp_store *s) {
  return s ? s->ops->name : NULL;
}

fp_err fp_store_migrate(fp_store *s, int *applied, fp_diag *d) {
  if (applied) *applied = 0;
  if (!s) return fp_diag_set(d, FP_ERR_INVAL, "fp_store_migrate: store is NULL");
  return s->ops->migrate(s, applied, d);
}

int fp_store_schema_version(fp_store *s) {
  return s ? s->ops->schema_version(s) : -1;
}

fp_err fp_store_save_run(fp_store *s, const fp_store_run *run, int64_t *run_id, fp_diag *d) {
  if (run_id) *run_id = 0;
  if (!s || !run) return fp_diag_set(d, FP_ERR_INVAL, "fp_store_save_run: NULL argument");
  if (!run->bucket || !run->key || !run->verdict || !run->report_json)
    return fp_diag_set(d, FP_ERR_INVAL,
                       "fp_store_save_run: bucket, key, verdict and report_json are required");
  if ((run->ncols && !run->cols) || (run->nfindings && !run->findings))
    return fp_diag_set(d, FP_ERR_INVAL, "fp_store_save_run: cols/findings array is NULL");
  return s->ops->save_run(s, run, run_id, d);
}

fp_err fp_store_list_runs(fp_store *s, size_t limit, fp_store_run_list *out, fp_diag *d) {
  if (out) {
    out->items = NULL;
    out->n = 0;
  }
  if (!s || !out) return fp_diag_set(d, FP_ERR_INVAL, "fp_store_list_runs: NULL argument");
  return s->ops->list_runs(s, limit ? limit : 100, out, d);
}

void fp_store_run_list_free(fp_store_run_list *l) {
  if (!l) return;
  for (size_t i = 0; i < l->n; i++) {
    fp_store_run_summary *r = &l->items[i];
    free(r->bucket);
    free(r->key);
    free(r->object_version);
    free(r->verdict);
    free(r->finished_at);
    free(r->contract);
  }
  free(l->items);
  l->items = NULL;
  l->n = 0;
}

fp_err fp_store_get_report(fp_store *s, int64_t id, char **json, fp_diag *d) {
  if (json) *json = NULL;
  if (!s || !json) return fp_diag_set(d, FP_ERR_INVAL, "fp_store_get_report: NULL argument");
  return s->ops->get_report(s, id, json, d);
}
