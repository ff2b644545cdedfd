/* worker.c — the worker pool: claim -> run -> record, on N threads, plus one heartbeat
 * thread that keeps the leases of running jobs alive (see fp_worker.h for the contract).
 *
 * Shared state lives in the pool and is guarded by pool->mu: the stop flag, which job each
 * slot runs, and the counters. Store handles are never shared: each worker thread uses its
 * own, the heartbeat thread its own (which fp_worker_pool_stop borrows only after joining
 * the heartbeat thread). Waits use CLOCK_MONOTONIC condition variables, so stop and
 * notify wake sleepers at once. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "fp/fp_log.h"
#include "fp/fp_store.h"
#include "fp/fp_buf.h"
#include "fp/fp_worker.h"

#define DEF_THREADS 2
#define MAX_THREADS 256
#define DEF_LEASE_S 60
#define DEF_POLL_MS 1000
#define DEF_MAX_ATTEMPTS 5
#define DEF_BACKOFF_BASE_MS 1000
#define DEF_BACKOFF_CAP_MS 300000
#define MAX_ERROR_WAIT_MS 30000 /* longest sleep after failing to claim (DB down) */
#define OUTCOME_TRIES 3         /* recording an outcome: attempts on transient errors */
#define URI_MAX 512             /* s3://bucket/key as logged (cut when longer) */

static const double duration_bounds[FP_WORKER_DURATION_BUCKETS] = {
    0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, INFINITY};

const double *fp_worker_duration_bounds(void) {
  return duration_bounds;
}

typedef struct slot {
  fp_worker_pool *pool;
  unsigned index;
  pthread_t thread;
  bool started;
  fp_store *store;
  fp_objstore *objstore;
  char name[16]; /* "w1" in logs */
  char owner[FP_STORE_OWNER_MAX + 1];
  uint64_t rng;
  /* guarded by pool->mu */
  int64_t job_id;  /* 0 = idle */
  bool abandoned;  /* released by stop after the grace period */
  bool lease_lost; /* a heartbeat found the lease gone: stop beating for this job */
} slot;

struct fp_worker_pool {
  fp_worker_opts o; /* defaults applied; store_url and owner_prefix point at the copies */
  char *store_url;
  char *owner_prefix;
  pthread_mutex_t mu;
  pthread_cond_t wake;    /* idle workers wait here (stop, notify) */
  pthread_cond_t settled; /* stop waits here for busy workers */
  pthread_cond_t hb_cv;   /* the heartbeat thread waits here (its stop) */
  bool stopping;
  bool hb_stop;
  uint64_t notify_seq;
  unsigned busy;
  fp_worker_stats stats;
  slot *slots;
  unsigned n;
  fp_store *hb_store;
  pthread_t hb_thread;
  bool hb_started, hb_joined;
};

/* ---- options ------------------------------------------------------------------------- */

void fp_worker_opts_default(fp_worker_opts *o) {
  memset(o, 0, sizeof *o);
  fp_job_opts_default(&o->job);
}

static fp_err config_int(const fp_config *c, const char *key, int min, int max, int *out,
                         fp_diag *d) {
  if (!fp_config_get(c, key)) return FP_OK;
  size_t v = 0;
  fp_err e = fp_config_size(c, key, (size_t)*out, &v, d);
  if (e) return e;
  if (v < (size_t)min || v > (size_t)max)
    return fp_diag_set(d, FP_ERR_CONFIG, "%s=%zu is out of range (%d..%d)", key, v, min, max);
  *out = (int)v;
  return FP_OK;
}

fp_err fp_worker_opts_from_config(const fp_config *c, fp_worker_opts *o, fp_diag *d) {
  if (!c || !o) return fp_diag_set(d, FP_ERR_INVAL, "fp_worker_opts_from_config: NULL argument");
  o->store_url = fp_config_str(c, "DATABASE_URL", "sqlite:///file_processing.db");
  int threads = o->nthreads ? (int)o->nthreads : DEF_THREADS;
  fp_err e = config_int(c, "FP_WORKERS", 1, MAX_THREADS, &threads, d);
  if (!e) o->nthreads = (unsigned)threads;
  if (!e) e = config_int(c, "FP_JOB_MAX_ATTEMPTS", 1, 1000, &o->max_attempts, d);
  if (!e) e = config_int(c, "FP_JOB_LEASE_S", 1, 86400, &o->lease_seconds, d);
  if (!e) e = config_int(c, "FP_JOB_POLL_MS", 1, 3600000, &o->poll_ms, d);
  if (!e) e = config_int(c, "FP_JOB_BACKOFF_BASE_MS", 1, 86400000, &o->backoff_base_ms, d);
  if (!e) e = config_int(c, "FP_JOB_BACKOFF_CAP_MS", 1, 86400000, &o->backoff_cap_ms, d);
  return e;
}

/* ---- small helpers ------------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s) {
  if (*s == 0) *s = 0x9E3779B97F4A7C15ull;
  uint64_t x = *s; /* xorshift64* */
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1Dull;
}

int64_t fp_worker_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, uint64_t *rng) {
  if (base_ms < 0) base_ms = 0;
  if (cap_ms < 0) cap_ms = 0;
  int64_t bound = base_ms;
  for (int i = 1; i < attempt && bound < cap_ms; i++)
    bound = bound > INT64_MAX / 2 ? INT64_MAX : bound * 2;
  if (bound > cap_ms) bound = cap_ms;
  if (bound == 0) return 0;
  uint64_t scratch = 0;
  return (int64_t)(rng_next(rng ? rng : &scratch) % ((uint64_t)bound + 1));
}

static uint64_t random_seed(void) {
  uint64_t v = 0;
  if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    v = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40);
  }
  return v ? v : 1;
}

static void deadline_in(struct timespec *ts, int64_t ms) {
  clock_gettime(CLOCK_MONOTONIC, ts);
  ts->tv_sec += (time_t)(ms / 1000);
  ts->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

static double seconds_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void job_uri(const fp_store_job *j, char *out, size_t n) {
  snprintf(out, n, "s3://%s/%s", j->ref.bucket ? j->ref.bucket : "?",
           j->ref.key ? j->ref.key : "?");
}

/* Waits on cv until woken or ms passed; the caller holds pool->mu. */
static void wait_ms(fp_worker_pool *p, pthread_cond_t *cv, int64_t ms) {
  struct timespec until;
  deadline_in(&until, ms);
  pthread_cond_timedwait(cv, &p->mu, &until);
}

/* Sleeps up to ms unless stop comes, or a notify came after the caller read seq. */
static void idle_wait(fp_worker_pool *p, int64_t ms, uint64_t seq) {
  pthread_mutex_lock(&p->mu);
  if (!p->stopping && seq == p->notify_seq) wait_ms(p, &p->wake, ms);
  pthread_mutex_unlock(&p->mu);
}

static void count_duration(fp_worker_stats *st, double secs) {
  st->duration_count++;
  st->duration_sum_s += secs;
  if (secs > st->duration_max_s) st->duration_max_s = secs;
  size_t b = 0;
  while (b + 1 < FP_WORKER_DURATION_BUCKETS && secs > duration_bounds[b]) b++;
  st->duration_bucket[b]++;
}

/* ---- recording an outcome -------------------------------------------------------------- */

typedef enum outcome { OUT_SUCCEEDED, OUT_FAILED } outcome;

/* Calls succeed or fail, retrying transient store errors briefly. If it still fails, the
 * lease will expire and the job runs again: at least once, never lost. */
static fp_err record(slot *w, const fp_store_job *j, outcome oc, int64_t run_id, const char *err,
                     bool retryable, int64_t delay_ms, fp_job_state *to, fp_diag *d) {
  const fp_worker_opts *o = &w->pool->o;
  fp_err e = FP_OK;
  for (int i = 0; i < OUTCOME_TRIES; i++) {
    fp_diag_clear(d);
    if (oc == OUT_SUCCEEDED) {
      e = fp_store_job_succeed(w->store, j->id, w->owner, run_id, d);
      *to = FP_JOB_SUCCEEDED;
    } else {
      e = fp_store_job_fail(w->store, j->id, w->owner, err, retryable, o->max_attempts, delay_ms,
                            to, d);
    }
    if (e != FP_ERR_TRANSIENT) break;
    usleep(100 * 1000 * (useconds_t)(i + 1));
  }
  return e;
}

static void log_outcome(slot *w, const fp_store_job *j, const char *uri, fp_job_state to,
                        const fp_job_result *r, double secs, int64_t delay_ms, const char *err) {
  const fp_worker_opts *o = &w->pool->o;
  switch (to) {
    case FP_JOB_SUCCEEDED:
      fp_info("worker %s: job %" PRId64 " succeeded: %s: verdict %s, %" PRIu64
              " rows, %.2f s, run %" PRId64,
              w->name, j->id, uri, fp_verdict_name(r->verdict), r->rows, secs, r->run_id);
      break;
    case FP_JOB_QUEUED:
      fp_warn("worker %s: job %" PRId64 " attempt %d of %d failed, retry in %.2f s: %s: %s",
              w->name, j->id, j->attempts, o->max_attempts, (double)delay_ms / 1000.0, uri, err);
      break;
    case FP_JOB_DEAD:
      fp_error("worker %s: job %" PRId64 " dead after %d attempts: %s: %s", w->name, j->id,
               j->attempts, uri, err);
      break;
    default:
      fp_error("worker %s: job %" PRId64 " failed (not retryable): %s: %s", w->name, j->id, uri,
               err);
      break;
  }
}

static void count_outcome(fp_worker_stats *st, fp_job_state to, const fp_job_result *r) {
  switch (to) {
    case FP_JOB_SUCCEEDED:
      st->succeeded++;
      st->rows += r->rows;
      st->bytes += r->bytes;
      break;
    case FP_JOB_QUEUED: st->retried++; break;
    case FP_JOB_DEAD: st->dead++; break;
    default: st->failed++; break;
  }
}

/* ---- running one job ------------------------------------------------------------------- */

static void run_job(slot *w, const fp_store_job *j) {
  fp_worker_pool *p = w->pool;
  char uri[URI_MAX];
  job_uri(j, uri, sizeof uri);
  fp_info("worker %s: job %" PRId64 " claimed: %s (attempt %d of %d)", w->name, j->id, uri,
          j->attempts, p->o.max_attempts);
  fp_job_opts jo = p->o.job;
  jo.store = w->store;
  jo.objstore = w->objstore;
  jo.job_id = j->id; /* saving the run completes the job, in one transaction */
  jo.job_owner = w->owner;
  fp_job_result r;
  memset(&r, 0, sizeof r);
  r.run_id = -1;
  fp_diag d;
  fp_diag_clear(&d);
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  fp_err e = fp_job_run_object(&jo, &j->ref, &r, &d);
  double secs = seconds_since(&t0);

  char err[FP_DIAG_MSG_MAX + FP_DIAG_KEY_MAX + 64] = "";
  bool retryable = false;
  int64_t delay = 0;
  if (e) {
    fp_diag_format(&d, err, sizeof err);
    retryable = fp_err_exit_code(e) == 3;
    delay = fp_worker_backoff_ms(j->attempts, p->o.backoff_base_ms, p->o.backoff_cap_ms, &w->rng);
  }
  fp_job_state to = FP_JOB_SUCCEEDED;
  fp_diag rd;
  fp_diag_clear(&rd);
  fp_err re = FP_OK;
  if (e || r.run_id <= 0) /* a stored run already marked its job succeeded */
    re = record(w, j, e ? OUT_FAILED : OUT_SUCCEEDED, r.run_id, err, retryable, delay, &to, &rd);

  pthread_mutex_lock(&p->mu);
  bool abandoned = w->abandoned;
  count_duration(&p->stats, secs);
  if (re == FP_ERR_NOT_FOUND)
    p->stats.lease_lost++;
  else if (re)
    p->stats.store_errors++;
  else
    count_outcome(&p->stats, to, &r);
  pthread_mutex_unlock(&p->mu);

  if (!re) {
    log_outcome(w, j, uri, to, &r, secs, delay, err);
  } else if (re == FP_ERR_NOT_FOUND) {
    fp_warn("worker %s: job %" PRId64
            " finished (%s) but its lease is gone (%s); outcome not "
            "recorded, the job belongs to the queue or another worker now: %s",
            w->name, j->id, e ? fp_err_name(e) : "ok",
            abandoned ? "released at shutdown" : "expired and taken over", uri);
  } else {
    fp_error("worker %s: job %" PRId64
             ": cannot record outcome (%s): %s; the lease will expire "
             "and the job will run again: %s",
             w->name, j->id, e ? fp_err_name(e) : "ok", rd.msg, uri);
  }
  fp_job_result_free(&r);
}

/* ---- threads --------------------------------------------------------------------------- */

/* Marks the slot busy with job j unless the pool is stopping (then the job goes back). */
static bool begin_job(slot *w, const fp_store_job *j) {
  fp_worker_pool *p = w->pool;
  pthread_mutex_lock(&p->mu);
  bool ok = !p->stopping;
  if (ok) {
    w->job_id = j->id;
    w->abandoned = false;
    w->lease_lost = false;
    p->busy++;
    p->stats.claimed++;
  }
  pthread_mutex_unlock(&p->mu);
  if (!ok) {
    fp_diag d;
    fp_diag_clear(&d);
    if (fp_store_job_release(w->store, j->id, w->owner, &d))
      fp_warn("worker %s: job %" PRId64 ": release at shutdown failed: %s", w->name, j->id, d.msg);
  }
  return ok;
}

static void end_job(slot *w) {
  fp_worker_pool *p = w->pool;
  pthread_mutex_lock(&p->mu);
  w->job_id = 0;
  p->busy--;
  pthread_cond_broadcast(&p->settled);
  pthread_mutex_unlock(&p->mu);
}

/* Whether the pool is stopping; *seq = the notify count seen (before the next claim). */
static bool stopping(fp_worker_pool *p, uint64_t *seq) {
  pthread_mutex_lock(&p->mu);
  bool s = p->stopping;
  *seq = p->notify_seq;
  pthread_mutex_unlock(&p->mu);
  return s;
}

static void *worker_main(void *arg) {
  slot *w = arg;
  fp_worker_pool *p = w->pool;
  int errors = 0;
  uint64_t seq = 0;
  while (!stopping(p, &seq)) {
    fp_store_job j;
    bool got = false;
    fp_diag d;
    fp_diag_clear(&d);
    fp_err e =
        fp_store_claim(w->store, w->owner, p->o.lease_seconds, p->o.max_attempts, &j, &got, &d);
    if (e) {
      int64_t ms = (int64_t)p->o.poll_ms << (errors < 10 ? errors : 10);
      if (ms > MAX_ERROR_WAIT_MS) ms = MAX_ERROR_WAIT_MS;
      errors++;
      fp_warn("worker %s: cannot claim a job (%s: %s); retrying in %.1f s", w->name, fp_err_name(e),
              d.msg, (double)ms / 1000.0);
      pthread_mutex_lock(&p->mu);
      p->stats.store_errors++;
      pthread_mutex_unlock(&p->mu);
      idle_wait(p, ms, seq);
      continue;
    }
    errors = 0;
    if (!got) {
      idle_wait(p, p->o.poll_ms, seq);
      continue;
    }
    if (begin_job(w, &j)) {
      run_job(w, &j);
      end_job(w);
    }
    fp_store_job_clear(&j);
  }
  return NULL;
}

typedef struct beat {
  int64_t id;
  const char *owner; /* the slot's, immutable */
  slot *w;
} beat;

static void *heartbeat_main(void *arg) {
  fp_worker_pool *p = arg;
  beat *beats = calloc(p->n, sizeof *beats);
  struct timespec next;
  pthread_mutex_lock(&p->mu);
  while (!p->hb_stop) {
    deadline_in(&next, p->o.heartbeat_ms);
    while (!p->hb_stop && pthread_cond_timedwait(&p->hb_cv, &p->mu, &next) != ETIMEDOUT) {
    }
    if (p->hb_stop) break;
    size_t nb = 0;
    for (unsigned i = 0; beats && i < p->n; i++)
      if (p->slots[i].job_id && !p->slots[i].abandoned && !p->slots[i].lease_lost)
        beats[nb++] = (beat){p->slots[i].job_id, p->slots[i].owner, &p->slots[i]};
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < nb; i++) {
      fp_diag d;
      fp_diag_clear(&d);
      fp_err e =
          fp_store_job_heartbeat(p->hb_store, beats[i].id, beats[i].owner, p->o.lease_seconds, &d);
      if (!e) continue;
      pthread_mutex_lock(&p->mu);
      /* NOT_FOUND right after the job finished is no news; only a running job lost it. */
      bool lost = e == FP_ERR_NOT_FOUND && beats[i].w->job_id == beats[i].id;
      if (lost) beats[i].w->lease_lost = true;
      if (e != FP_ERR_NOT_FOUND) p->stats.store_errors++;
      pthread_mutex_unlock(&p->mu);
      if (lost)
        fp_warn("worker %s: job %" PRId64
                ": lease lost while running (expired and taken "
                "over); its outcome will not be recorded",
                beats[i].w->name, beats[i].id);
      else if (e != FP_ERR_NOT_FOUND)
        fp_warn("worker %s: job %" PRId64 ": heartbeat failed: %s", beats[i].w->name, beats[i].id,
                d.msg);
    }
    pthread_mutex_lock(&p->mu);
  }
  pthread_mutex_unlock(&p->mu);
  free(beats);
  return NULL;
}

/* ---- start / stop / free --------------------------------------------------------------- */

static fp_err apply_defaults(fp_worker_pool *p, const fp_worker_opts *in, fp_diag *d) {
  p->o = *in;
  fp_worker_opts *o = &p->o;
  if (!o->nthreads) o->nthreads = DEF_THREADS;
  if (!o->lease_seconds) o->lease_seconds = DEF_LEASE_S;
  if (!o->poll_ms) o->poll_ms = DEF_POLL_MS;
  if (!o->max_attempts) o->max_attempts = DEF_MAX_ATTEMPTS;
  if (!o->backoff_base_ms) o->backoff_base_ms = DEF_BACKOFF_BASE_MS;
  if (!o->backoff_cap_ms) o->backoff_cap_ms = DEF_BACKOFF_CAP_MS;
  if (o->nthreads > MAX_THREADS || o->lease_seconds < 0 || o->poll_ms < 0 || o->max_attempts < 0 ||
      o->backoff_base_ms < 0 || o->backoff_cap_ms < 0 || o->heartbeat_ms < 0)
    return fp_diag_set(d, FP_ERR_INVAL,
                       "worker pool: option out of range (threads 1..%d, "
                       "times and attempts >= 0)",
                       MAX_THREADS);
  if (!o->heartbeat_ms) o->heartbeat_ms = o->lease_seconds * 1000 / 3;
  if (o->heartbeat_ms < 1) o->heartbeat_ms = 1;
  char prefix[128];
  if (o->owner_prefix) {
    snprintf(prefix, sizeof prefix, "%s", o->owner_prefix);
  } else {
    char host[64] = "host";
    gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    snprintf(prefix, sizeof prefix, "%s:%ld", host, (long)getpid());
  }
  p->store_url = strdup(o->store_url);
  p->owner_prefix = strdup(prefix);
  if (!p->store_url || !p->owner_prefix) return fp_diag_set(d, FP_ERR_NOMEM, "worker pool");
  o->store_url = p->store_url;
  o->owner_prefix = p->owner_prefix;
  return FP_OK;
}

static fp_err init_sync(fp_worker_pool *p, fp_diag *d) {
  pthread_condattr_t ca;
  int rc = pthread_condattr_init(&ca);
  if (!rc) rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  if (!rc) rc = pthread_cond_init(&p->wake, &ca);
  if (!rc) rc = pthread_cond_init(&p->settled, &ca);
  if (!rc) rc = pthread_cond_init(&p->hb_cv, &ca);
  pthread_condattr_destroy(&ca);
  if (!rc) rc = pthread_mutex_init(&p->mu, NULL);
  return rc ? fp_diag_set(d, FP_ERR_INTERNAL, "worker pool: pthread init: %s", strerror(rc))
            : FP_OK;
}

static fp_err open_slot(fp_worker_pool *p, unsigned i, uint64_t run_tag, fp_diag *d) {
  slot *w = &p->slots[i];
  w->pool = p;
  w->index = i;
  w->rng = random_seed() ^ (uint64_t)(i + 1);
  snprintf(w->name, sizeof w->name, "w%u", i + 1);
  snprintf(w->owner, sizeof w->owner, "%.200s/%08" PRIx64 "/%s", p->owner_prefix,
           run_tag & 0xffffffffu, w->name);
  fp_err e = fp_store_open(p->store_url, &w->store, d);
  if (!e) e = p->o.objstore_new(p->o.objstore_ud, &w->objstore, d);
  if (!e && !w->objstore) e = fp_diag_set(d, FP_ERR_INTERNAL, "objstore factory returned nothing");
  return e;
}

/* Joins started threads and frees everything; the pool must be stopping. */
static void destroy(fp_worker_pool *p) {
  for (unsigned i = 0; p->slots && i < p->n; i++)
    if (p->slots[i].started) pthread_join(p->slots[i].thread, NULL);
  if (p->hb_started && !p->hb_joined) pthread_join(p->hb_thread, NULL);
  for (unsigned i = 0; p->slots && i < p->n; i++) {
    fp_store_close(p->slots[i].store);
    fp_objstore_free(p->slots[i].objstore);
  }
  fp_store_close(p->hb_store);
  pthread_cond_destroy(&p->wake);
  pthread_cond_destroy(&p->settled);
  pthread_cond_destroy(&p->hb_cv);
  pthread_mutex_destroy(&p->mu);
  free(p->slots);
  free(p->store_url);
  free(p->owner_prefix);
  free(p);
}

static fp_err start_threads(fp_worker_pool *p, fp_diag *d) {
  int rc = pthread_create(&p->hb_thread, NULL, heartbeat_main, p);
  p->hb_started = rc == 0;
  for (unsigned i = 0; !rc && i < p->n; i++) {
    rc = pthread_create(&p->slots[i].thread, NULL, worker_main, &p->slots[i]);
    p->slots[i].started = rc == 0;
  }
  return rc ? fp_diag_set(d, FP_ERR_INTERNAL, "worker pool: cannot start a thread: %s",
                          strerror(rc))
            : FP_OK;
}

fp_err fp_worker_pool_start(const fp_worker_opts *o, fp_worker_pool **out, fp_diag *d) {
  if (out) *out = NULL;
  if (!o || !out) return fp_diag_set(d, FP_ERR_INVAL, "fp_worker_pool_start: NULL argument");
  if (!o->store_url || !o->objstore_new)
    return fp_diag_set(d, FP_ERR_INVAL, "worker pool: store_url and objstore_new are required");
  fp_worker_pool *p = calloc(1, sizeof *p);
  if (!p) return fp_diag_set(d, FP_ERR_NOMEM, "worker pool");
  fp_err e = init_sync(p, d);
  if (e) {
    free(p);
    return e;
  }
  e = apply_defaults(p, o, d);
  if (!e) {
    p->n = p->o.nthreads;
    p->stats.threads = p->n;
    p->slots = calloc(p->n, sizeof *p->slots);
    if (!p->slots) e = fp_diag_set(d, FP_ERR_NOMEM, "worker pool");
  }
  if (!e) e = fp_store_open(p->store_url, &p->hb_store, d); /* migrates once, up front */
  uint64_t run_tag = random_seed();
  for (unsigned i = 0; !e && i < p->n; i++) e = open_slot(p, i, run_tag, d);
  if (!e)
    fp_info(
        "worker pool: %u threads, lease %d s, max %d attempts, backoff %d..%d ms, owner "
        "%s/...",
        p->n, p->o.lease_seconds, p->o.max_attempts, p->o.backoff_base_ms, p->o.backoff_cap_ms,
        p->owner_prefix);
  if (!e) e = start_threads(p, d);
  if (e) {
    pthread_mutex_lock(&p->mu);
    p->stopping = p->hb_stop = true;
    pthread_cond_broadcast(&p->wake);
    pthread_cond_broadcast(&p->hb_cv);
    pthread_mutex_unlock(&p->mu);
    destroy(p);
    return e;
  }
  *out = p;
  return FP_OK;
}

void fp_worker_pool_notify(fp_worker_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->notify_seq++;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
}

/* Waits until no worker is busy or the deadline passed; the caller holds p->mu. */
static void wait_settled(fp_worker_pool *p, double grace_seconds) {
  if (!(grace_seconds >= 0)) grace_seconds = 0; /* also NaN */
  bool forever = isinf(grace_seconds);
  struct timespec until;
  deadline_in(&until, forever ? 0 : (int64_t)(grace_seconds * 1000.0));
  while (p->busy > 0) {
    int rc = forever ? pthread_cond_wait(&p->settled, &p->mu)
                     : pthread_cond_timedwait(&p->settled, &p->mu, &until);
    if (rc == ETIMEDOUT) break;
  }
}

static void stop_heartbeat(fp_worker_pool *p) {
  pthread_mutex_lock(&p->mu);
  bool join = p->hb_started && !p->hb_joined;
  p->hb_stop = true;
  p->hb_joined = true;
  pthread_cond_broadcast(&p->hb_cv);
  pthread_mutex_unlock(&p->mu);
  if (join) pthread_join(p->hb_thread, NULL);
}

size_t fp_worker_pool_stop(fp_worker_pool *p, double grace_seconds) {
  if (!p) return 0;
  pthread_mutex_lock(&p->mu);
  if (!p->stopping) {
    p->stopping = true;
    fp_info("worker pool: stopping; %u job(s) running, grace %.1f s", p->busy, grace_seconds);
  }
  pthread_cond_broadcast(&p->wake);
  wait_settled(p, grace_seconds);
  size_t n = 0;
  beat *late = calloc(p->n ? p->n : 1, sizeof *late);
  for (unsigned i = 0; i < p->n; i++) {
    slot *w = &p->slots[i];
    if (!w->job_id || w->abandoned) continue;
    w->abandoned = true;
    if (late) late[n++] = (beat){w->job_id, w->owner, w};
  }
  pthread_mutex_unlock(&p->mu);
  if (n == 0) {
    free(late);
    return 0;
  }
  stop_heartbeat(p); /* from here on hb_store is ours */
  for (size_t i = 0; i < n; i++) {
    fp_diag d;
    fp_diag_clear(&d);
    fp_err e = fp_store_job_release(p->hb_store, late[i].id, late[i].owner, &d);
    pthread_mutex_lock(&p->mu);
    if (!e)
      p->stats.released++;
    else if (e != FP_ERR_NOT_FOUND)
      p->stats.store_errors++;
    pthread_mutex_unlock(&p->mu);
    if (!e)
      fp_warn("worker %s: job %" PRId64
              " still running after the %.1f s grace period: "
              "released back to the queue (attempt not counted)",
              late[i].w->name, late[i].id, grace_seconds);
    else if (e == FP_ERR_NOT_FOUND)
      fp_info("worker %s: job %" PRId64 " finished while being released", late[i].w->name,
              late[i].id);
    else
      fp_error("worker %s: job %" PRId64
               ": release at shutdown failed (%s); its lease will "
               "expire and it will run again",
               late[i].w->name, late[i].id, d.msg);
  }
  free(late);
  return n;
}

void fp_worker_pool_stats(fp_worker_pool *p, fp_worker_stats *out) {
  if (!out) return;
  memset(out, 0, sizeof *out);
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  *out = p->stats;
  out->busy = p->busy;
  pthread_mutex_unlock(&p->mu);
}

void fp_worker_pool_free(fp_worker_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->stopping = true;
  pthread_cond_broadcast(&p->wake);
  wait_settled(p, INFINITY);
  pthread_mutex_unlock(&p->mu);
  stop_heartbeat(p);
  destroy(p);
}

/* Prometheus text for this pool (the listener's /metrics appends it through a hook). */
fp_err fp_worker_pool_metrics(fp_worker_pool *p, fp_buf *b) {
  fp_worker_stats s;
  fp_worker_pool_stats(p, &s);
  fp_err e = fp_buf_appendf(
      b,
      "# HELP fp_workers Worker threads in this process.\n# TYPE fp_workers gauge\nfp_workers %u\n"
      "# HELP fp_workers_busy Worker threads running a job now.\n# TYPE fp_workers_busy gauge\n"
      "fp_workers_busy %u\n"
      "# HELP fp_worker_jobs_total Job attempts by outcome (this process).\n"
      "# TYPE fp_worker_jobs_total counter\n"
      "fp_worker_jobs_total{outcome=\"claimed\"} %llu\n"
      "fp_worker_jobs_total{outcome=\"succeeded\"} %llu\n"
      "fp_worker_jobs_total{outcome=\"retried\"} %llu\n"
      "fp_worker_jobs_total{outcome=\"failed\"} %llu\n"
      "fp_worker_jobs_total{outcome=\"dead\"} %llu\n"
      "fp_worker_jobs_total{outcome=\"released\"} %llu\n"
      "fp_worker_jobs_total{outcome=\"lease_lost\"} %llu\n",
      s.threads, s.busy, (unsigned long long)s.claimed, (unsigned long long)s.succeeded,
      (unsigned long long)s.retried, (unsigned long long)s.failed, (unsigned long long)s.dead,
      (unsigned long long)s.released, (unsigned long long)s.lease_lost);
  if (!e)
    e = fp_buf_appendf(b,
                       "# HELP fp_rows_processed_total CSV rows processed by succeeded jobs.\n"
                       "# TYPE fp_rows_processed_total counter\nfp_rows_processed_total %llu\n"
                       "# HELP fp_bytes_processed_total Bytes processed by succeeded jobs.\n"
                       "# TYPE fp_bytes_processed_total counter\nfp_bytes_processed_total %llu\n",
                       (unsigned long long)s.rows, (unsigned long long)s.bytes);
  if (!e)
    e = fp_buf_puts(b, "# HELP fp_job_duration_seconds Duration of finished job attempts.\n"
                       "# TYPE fp_job_duration_seconds histogram\n");
  const double *bounds = fp_worker_duration_bounds();
  unsigned long long cum = 0;
  for (int i = 0; !e && i < FP_WORKER_DURATION_BUCKETS; i++) {
    cum += s.duration_bucket[i];
    if (isinf(bounds[i]))
      e = fp_buf_appendf(b, "fp_job_duration_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
    else
      e = fp_buf_appendf(b, "fp_job_duration_seconds_bucket{le=\"%g\"} %llu\n", bounds[i], cum);
  }
  if (!e)
    e = fp_buf_appendf(b, "fp_job_duration_seconds_sum %.6f\nfp_job_duration_seconds_count %llu\n",
                       s.duration_sum_s, (unsigned long long)s.duration_count);
  return e;
}
