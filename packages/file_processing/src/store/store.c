/* store.c — the public face of the results store: DATABASE_URL parsing, argument checks and
 * dispatch to a backend through its ops table (store_int.h), for runs and for the job
 * queue (idempotency keys, job state names, error-text bounds). No SQL lives here. */
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
  clock_gettime(CLOCK_REALTIME, &ts);
  fp__store_format_ms((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, out);
}

/* 9999-12-31T23:59:59.999Z: later times would not keep the fixed width. */
#define STORE_MAX_MS 253402300799999LL

void fp__store_format_ms(int64_t ms, char out[32]) {
  if (ms < 0) ms = 0;
  if (ms > STORE_MAX_MS) ms = STORE_MAX_MS;
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  size_t n = 0;
  if (gmtime_r(&secs, &tm)) n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  if (n == 0) n = (size_t)snprintf(out, 32, "9999-12-31T23:59:59");
  snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

int64_t fp__store_now_ms(const fp_store *s) {
  if (s && s->clock) return s->clock(s->clock_ud);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fp__store_set_clock(fp_store *s, fp__store_clock_fn fn, void *ud) {
  if (!s) return;
  s->clock = fn;
  s->clock_ud = fn ? ud : NULL;
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
    case FP__STORE_POSTGRES: e = fp__pg_open(u.path, shown, &s, d); break;
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

/* Both backends store counters as BIGINT: a value past INT64_MAX is refused before any
 * backend work. */
static fp_err check_ranges(const fp_store_run *r, fp_diag *d) {
  const uint64_t max = (uint64_t)INT64_MAX;
  if (r->rows > max || r->bytes > max || r->errors > max || r->warnings > max)
    return fp_diag_set(d, FP_ERR_INVAL, "save_run: a run counter exceeds the BIGINT range");
  for (size_t i = 0; i < r->ncols; i++) {
    const fp_store_column *c = &r->cols[i];
    if (c->count > max || c->missing > max || c->distinct > max)
      return fp_diag_set(d, FP_ERR_INVAL, "save_run: column %u: a counter exceeds the BIGINT range",
                         c->index);
  }
  for (size_t i = 0; i < r->nfindings; i++) {
    const fp_store_finding *f = &r->findings[i];
    if (f->count > max || f->nsamples > max)
      return fp_diag_set(d, FP_ERR_INVAL,
                         "save_run: finding %zu: a counter exceeds the BIGINT range", i + 1);
  }
  return FP_OK;
}

static fp_err check_lease_args(fp_store *s, int64_t id, const char *owner, const char *what,
                               fp_diag *d) {
  if (!s || !owner) return fp_diag_set(d, FP_ERR_INVAL, "%s: NULL argument", what);
  size_t n = strlen(owner);
  if (n == 0 || n > FP_STORE_OWNER_MAX)
    return fp_diag_set(d, FP_ERR_INVAL, "%s: lease owner must be 1..%d bytes", what,
                       FP_STORE_OWNER_MAX);
  if (id <= 0) return fp_diag_set(d, FP_ERR_INVAL, "%s: bad job id %lld", what, (long long)id);
  return FP_OK;
}

fp_err fp_store_save_run(fp_store *s, const fp_store_run *run, int64_t *run_id, fp_diag *d) {
  if (run_id) *run_id = 0;
  if (!s || !run) return fp_diag_set(d, FP_ERR_INVAL, "fp_store_save_run: NULL argument");
  if (!run->bucket || !run->key || !run->verdict || !run->report_json)
    return fp_diag_set(d, FP_ERR_INVAL,
                       "fp_store_save_run: bucket, key, verdict and report_json are required");
  if ((run->ncols && !run->cols) || (run->nfindings && !run->findings))
    return fp_diag_set(d, FP_ERR_INVAL, "fp_store_save_run: cols/findings array is NULL");
  fp_err ce = check_ranges(run, d);
  if (!ce && run->job_id) ce = check_lease_args(s, run->job_id, run->job_owner, "fp_store_save_run", d);
  if (ce) return ce;
  if (run->dataset) return s->ops->save_run(s, run, run_id, d);
  fp_store_run r = *run;
  char *ds = fp_store_dataset_of(run->contract, run->key);
  if (!ds) return fp_diag_set(d, FP_ERR_NOMEM, "fp_store_save_run: out of memory");
  r.dataset = ds;
  fp_err e = s->ops->save_run(s, &r, run_id, d);
  free(ds);
  return e;
}

/* ---- datasets ------------------------------------------------------------------------ */

static bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

static int num2(const char *p) {
  return (p[0] - '0') * 10 + (p[1] - '0');
}

static bool all_digits(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!is_digit(p[i])) return false;
  return true;
}

/* Length of the date part starting at p (0 when none): YYYY-MM-DD, YYYY_MM_DD, YYYYMMDD,
 * YYYY-MM, YYYY_MM with a plausible year, month and day, and no digit right after. */
static size_t date_at(const char *p, size_t avail) {
  if (avail < 6 || !all_digits(p, 4)) return 0;
  int century = num2(p);
  if (century != 19 && century != 20) return 0;
  size_t n = 0;
  if ((p[4] == '-' || p[4] == '_') && avail >= 7 && all_digits(p + 5, 2)) {
    char sep = p[4];
    n = 7;
    if (avail >= 10 && p[7] == sep && all_digits(p + 8, 2)) {
      int day = num2(p + 8);
      if (day >= 1 && day <= 31) n = 10;
    }
    int month = num2(p + 5);
    if (month < 1 || month > 12) return 0;
  } else if (avail >= 8 && all_digits(p + 4, 4)) {
    int month = num2(p + 4), day = num2(p + 6);
    if (month < 1 || month > 12 || day < 1 || day > 31) return 0;
    n = 8;
  }
  if (n && n < avail && is_digit(p[n])) return 0;
  return n;
}

static bool is_sep(char c) {
  return c == '-' || c == '_' || c == '.' || c == ' ';
}

char *fp_store_dataset_of(const char *contract, const char *key) {
  if (contract && *contract) return strdup(contract);
  if (!key) key = "";
  size_t n = strlen(key), o = 0;
  char *out = malloc(n + 1);
  if (!out) return NULL;
  for (size_t i = 0; i < n;) {
    size_t len = (i == 0 || !is_digit(key[i - 1])) ? date_at(key + i, n - i) : 0;
    if (!len) {
      out[o++] = key[i++];
      continue;
    }
    i += len;
    if (o && is_sep(out[o - 1]))
      o--; /* "Detail_2026-10" -> "Detail" */
    else if ((o == 0 || out[o - 1] == '/') && i < n && is_sep(key[i]))
      i++; /* "2026-10_Detail" -> "Detail" */
    if ((o == 0 || out[o - 1] == '/') && i < n && key[i] == '/') i++; /* empty directory */
  }
  out[o] = '\0';
  return out;
}

void fp_store_run_summary_clear(fp_store_run_summary *r) {
  if (!r) return;
  free(r->bucket);
  free(r->key);
  free(r->object_version);
  free(r->verdict);
  free(r->finished_at);
  free(r->contract);
  free(r->dataset);
  free(r->event_time);
  memset(r, 0, sizeof *r);
}

fp_err fp_store_find_runs(fp_store *s, const fp_store_run_filter *f, fp_store_run_list *out,
                          fp_diag *d) {
  if (out) {
    out->items = NULL;
    out->n = 0;
  }
  if (!s || !out) return fp_diag_set(d, FP_ERR_INVAL, "fp_store_find_runs: NULL argument");
  fp_store_run_filter flt = {0};
  if (f) flt = *f;
  if (!flt.limit) flt.limit = 100;
  return s->ops->list_runs(s, &flt, out, d);
}

fp_err fp_store_list_runs(fp_store *s, size_t limit, fp_store_run_list *out, fp_diag *d) {
  fp_store_run_filter f = {.limit = limit};
  return fp_store_find_runs(s, &f, out, d);
}

void fp_store_run_list_free(fp_store_run_list *l) {
  if (!l) return;
  for (size_t i = 0; i < l->n; i++) fp_store_run_summary_clear(&l->items[i]);
  free(l->items);
  l->items = NULL;
  l->n = 0;
}

fp_err fp_store_get_report(fp_store *s, int64_t id, char **json, fp_diag *d) {
  if (json) *json = NULL;
  if (!s || !json) return fp_diag_set(d, FP_ERR_INVAL, "fp_store_get_report: NULL argument");
  return s->ops->get_report(s, id, json, d);
}

fp_err fp_store_get_run(fp_store *s, int64_t id, fp_store_run_summary *out, char **report_json,
                        fp_diag *d) {
  if (report_json) *report_json = NULL;
  if (out) memset(out, 0, sizeof *out);
  if (!s || !out) return fp_diag_set(d, FP_ERR_INVAL, "fp_store_get_run: NULL argument");
  fp_err e = s->ops->get_run(s, id, out, report_json, d);
  if (e) {
    fp_store_run_summary_clear(out);
    if (report_json) {
      free(*report_json);
      *report_json = NULL;
    }
  }
  return e;
}

fp_err fp_store_set_pinned(fp_store *s, int64_t id, bool pinned, fp_diag *d) {
  if (!s) return fp_diag_set(d, FP_ERR_INVAL, "fp_store_set_pinned: NULL argument");
  return s->ops->set_pinned(s, id, pinned, d);
}

fp_err fp_store_find_baseline(fp_store *s, const fp_store_baseline_query *q,
                              fp_store_run_summary *out, char **report_json, bool *found,
                              fp_diag *d) {
  if (report_json) *report_json = NULL;
  if (found) *found = false;
  if (out) memset(out, 0, sizeof *out);
  if (!s || !q || !q->dataset || !out || !found)
    return fp_diag_set(d, FP_ERR_INVAL, "fp_store_find_baseline: NULL argument");
  fp_store_baseline_query qq = *q;
  if (!qq.bucket) qq.bucket = "";
  if (!qq.key) qq.key = "";
  if (!qq.object_version) qq.object_version = "";
  fp_err e = s->ops->find_baseline(s, &qq, out, report_json, found, d);
  if (e || !*found) {
    fp_store_run_summary_clear(out);
    *found = false;
    if (report_json) {
      free(*report_json);
      *report_json = NULL;
    }
  }
  return e;
}

/* ---- the job queue ------------------------------------------------------------------ */

static const char *const job_state_names[FP_JOB__STATE_COUNT] = {
    [FP_JOB_QUEUED] = "queued",   [FP_JOB_RUNNING] = "running", [FP_JOB_SUCCEEDED] = "succeeded",
    [FP_JOB_FAILED] = "failed",   [FP_JOB_DEAD] = "dead",
};

const char *fp_job_state_name(fp_job_state st) {
  return (unsigned)st < FP_JOB__STATE_COUNT ? job_state_names[st] : "unknown";
}

void fp_store_job_clear(fp_store_job *j) {
  if (!j) return;
  free(j->ref.bucket);
  free(j->ref.key);
  free(j->ref.version_id);
  free(j->ref.etag);
  free(j->ref.sequencer);
  free(j->ref.event_time);
  free(j->ref.event_name);
  free(j->lease_owner);
  free(j->lease_expires_at);
  free(j->next_attempt_at);
  free(j->last_error);
  free(j->created_at);
  free(j->updated_at);
  memset(j, 0, sizeof *j);
  j->ref.size = -1;
  j->run_id = -1;
}

static const char *ref_version(const fp_object_ref *r) {
  if (r->version_id && *r->version_id) return r->version_id;
  if (r->etag && *r->etag) return r->etag;
  if (r->sequencer && *r->sequencer) return r->sequencer;
  return "";
}

char *fp__job_key(const fp_object_ref *ref) {
  const char *v = ref_version(ref);
  size_t nb = strlen(ref->bucket), nk = strlen(ref->key), nv = strlen(v);
  char *k = malloc(nb + nk + nv + 3);
  if (!k) return NULL;
  memcpy(k, ref->bucket, nb);
  k[nb] = '\n';
  memcpy(k + nb + 1, ref->key, nk);
  k[nb + 1 + nk] = '\n';
  memcpy(k + nb + nk + 2, v, nv + 1);
  return k;
}

fp_err fp_store_enqueue_many(fp_store *s, const fp_object_ref *refs, size_t n,
                             int64_t *job_ids, bool *created, size_t *ncreated, fp_diag *d) {
  if (ncreated) *ncreated = 0;
  if (!s || (n && !refs)) return fp_diag_set(d, FP_ERR_INVAL, "fp_store_enqueue: NULL argument");
  for (size_t i = 0; i < n; i++)
    if (!refs[i].bucket || !refs[i].key || !*refs[i].bucket || !*refs[i].key)
      return fp_diag_set(d, FP_ERR_INVAL, "fp_store_enqueue: ref %zu has no bucket or key", i);
  if (n == 0) return FP_OK;
  fp__job_new *jobs = calloc(n, sizeof *jobs);
  int64_t *ids = calloc(n, sizeof *ids);
  bool *made = calloc(n, sizeof *made);
  fp_err e = jobs && ids && made ? FP_OK : fp_diag_set(d, FP_ERR_NOMEM, "enqueue: out of memory");
  for (size_t i = 0; !e && i < n; i++) {
    jobs[i].ref = &refs[i];
    jobs[i].idem_key = fp__job_key(&refs[i]);
    if (!jobs[i].idem_key) e = fp_diag_set(d, FP_ERR_NOMEM, "enqueue: out of memory");
  }
  if (!e) e = s->ops->enqueue(s, jobs, n, ids, made, d);
  for (size_t i = 0; !e && i < n; i++) {
    if (job_ids) job_ids[i] = ids[i];
    if (created) created[i] = made[i];
    if (ncreated && made[i]) ++*ncreated;
  }
  for (size_t i = 0; jobs && i < n; i++) free((char *)jobs[i].idem_key);
  free(jobs);
  free(ids);
  free(made);
  return e;
}

fp_err fp_store_enqueue(fp_store *s, const fp_object_ref *ref, int64_t *job_id, bool *created,
                        fp_diag *d) {
  if (job_id) *job_id = 0;
  if (created) *created = false;
  if (!ref) return fp_diag_set(d, FP_ERR_INVAL, "fp_store_enqueue: NULL argument");
  return fp_store_enqueue_many(s, ref, 1, job_id, created, NULL, d);
}

fp_err fp_store_claim(fp_store *s, const char *owner, int lease_seconds, int max_attempts,
                      fp_store_job *out, bool *got, fp_diag *d) {
  if (got) *got = false;
  if (out) {
    memset(out, 0, sizeof *out);
    out->ref.size = -1;
    out->run_id = -1;
  }
  if (!out || !got) return fp_diag_set(d, FP_ERR_INVAL, "fp_store_claim: NULL argument");
  fp_err e = check_lease_args(s, 1, owner, "fp_store_claim", d);
  if (e) return e;
  if (lease_seconds <= 0 || max_attempts < 0)
    return fp_diag_set(d, FP_ERR_INVAL, "fp_store_claim: lease_seconds must be > 0 and "
                       "max_attempts >= 0");
  return s->ops->claim(s, owner, lease_seconds, max_attempts, out, got, d);
}

fp_err fp_store_job_heartbeat(fp_store *s, int64_t id, const char *owner, int lease_seconds,
                              fp_diag *d) {
  fp_err e = check_lease_args(s, id, owner, "fp_store_job_heartbeat", d);
  if (e) return e;
  if (lease_seconds <= 0)
    return fp_diag_set(d, FP_ERR_INVAL, "fp_store_job_heartbeat: lease_seconds must be > 0");
  return s->ops->heartbeat(s, id, owner, lease_seconds, d);
}

fp_err fp_store_job_succeed(fp_store *s, int64_t id, const char *owner, int64_t run_id,
                            fp_diag *d) {
  fp_err e = check_lease_args(s, id, owner, "fp_store_job_succeed", d);
  return e ? e : s->ops->succeed(s, id, owner, run_id > 0 ? run_id : -1, d);
}

/* Cuts text to at most max bytes without splitting a UTF-8 sequence. */
static size_t utf8_cut(const char *text, size_t max) {
  size_t n = strlen(text);
  if (n <= max) return n;
  n = max;
  while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80) n--;
  return n;
}

fp_err fp_store_job_fail(fp_store *s, int64_t id, const char *owner, const char *error,
                         bool retryable, int max_attempts, int64_t retry_delay_ms,
                         fp_job_state *new_state, fp_diag *d) {
  if (new_state) *new_state = FP_JOB_RUNNING;
  fp_err e = check_lease_args(s, id, owner, "fp_store_job_fail", d);
  if (e) return e;
  if (max_attempts < 0 || retry_delay_ms < 0)
    return fp_diag_set(d, FP_ERR_INVAL,
                       "fp_store_job_fail: max_attempts and retry_delay_ms must be >= 0");
  char text[FP_STORE_ERROR_MAX + 1];
  const char *err = error && *error ? error : "unknown error";
  size_t n = utf8_cut(err, FP_STORE_ERROR_MAX);
  memcpy(text, err, n);
  text[n] = '\0';
  fp_job_state st = FP_JOB_RUNNING;
  e = s->ops->fail(s, id, owner, text, retryable, max_attempts, retry_delay_ms, &st, d);
  if (!e && new_state) *new_state = st;
  return e;
}

fp_err fp_store_job_release(fp_store *s, int64_t id, const char *owner, fp_diag *d) {
  fp_err e = check_lease_args(s, id, owner, "fp_store_job_release", d);
  return e ? e : s->ops->release(s, id, owner, d);
}

fp_err fp_store_job_get(fp_store *s, int64_t id, fp_store_job *out, fp_diag *d) {
  if (out) {
    memset(out, 0, sizeof *out);
    out->ref.size = -1;
    out->run_id = -1;
  }
  if (!s || !out) return fp_diag_set(d, FP_ERR_INVAL, "fp_store_job_get: NULL argument");
  return s->ops->get_job(s, id, out, d);
}

fp_err fp_store_job_counts(fp_store *s, int64_t counts[FP_JOB__STATE_COUNT], fp_diag *d) {
  if (!s || !counts) return fp_diag_set(d, FP_ERR_INVAL, "fp_store_job_counts: NULL argument");
  for (int i = 0; i < FP_JOB__STATE_COUNT; i++) counts[i] = 0;
  return s->ops->count_jobs(s, counts, d);
}

fp_err fp_store_queue_depth(fp_store *s, int64_t *n, fp_diag *d) {
  if (n) *n = 0;
  if (!n) return fp_diag_set(d, FP_ERR_INVAL, "fp_store_queue_depth: NULL argument");
  if (!s) return fp_diag_set(d, FP_ERR_INVAL, "fp_store_queue_depth: NULL argument");
  return s->ops->queue_depth(s, n, d);
}
