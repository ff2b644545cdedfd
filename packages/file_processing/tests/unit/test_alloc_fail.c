/* test_alloc_fail.c — allocation-failure injection through a whole job: parse the S3 event,
 * load a contract, open a fresh SQLite results DB (migrations included), run the
 * s3_data_quality_job on a small local object (profile + contract check + save the run +
 * render the JSON report), free everything. Run N fails the Nth allocation, for N = 1, 2, ...
 * until a run completes without reaching its Nth allocation. Every run must end cleanly —
 * FP_OK, or an error whose fp_diag carries that code and a message (no crash, no abort) — and
 * leave as many live allocations as before it (no leak).
 *
 * Technique: this executable defines malloc, calloc, realloc and free (and the aligned
 * allocators), forwarding to glibc's __libc_* entry points. glibc documents replacing
 * malloc this way; because the executable defines them, every shared library of the
 * process (SQLite, jansson, libyaml, PCRE2, zlib, zstd and libc itself) allocates through
 * them too, so the failure reaches allocations inside the libraries, not just libfp's. The
 * libraries' own hooks (sqlite3_config(SQLITE_CONFIG_MALLOC), json_set_alloc_funcs) would
 * each cover one library and miss the others. Counting is per allocation call on the
 * test's thread only, while armed. The leak check compares the process-wide count of live
 * blocks before and after a run; SQLite keeps global state between connections, so each
 * run ends with sqlite3_shutdown(), its documented release call, before the count is taken.
 *
 * Under AddressSanitizer (FP_SANITIZE) the sanitizer owns malloc: the test skips. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fp/fp_contract.h"
#include "fp/fp_event.h"
#include "fp/fp_job.h"
#include "fp/fp_log.h"
#include "fp/fp_objstore.h"
#include "fp/fp_store.h"
#include "fp_test.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FP_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define FP_TEST_ASAN 1
#endif

#ifndef FP_TEST_ASAN
/* ---- the interposed allocator ------------------------------------------------------------ */

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

static long live_blocks;      /* process-wide live blocks (atomic) */
static pthread_t armed_thread; /* only this thread's allocations are counted / failed */
static bool armed;
static long calls;   /* allocation calls of the armed thread since arming */
static long fail_at; /* fail the fail_at-th call (1-based); 0 = never */
static long failed;  /* how many calls were failed (0 or 1) */

/* Where the injected failure happens: `gdb -ex 'break alloc_failed'` with
 * FP_ALLOC_FAIL_FROM=N shows the call chain of the Nth allocation. */
__attribute__((noinline)) void alloc_failed(long n);
__attribute__((noinline)) void alloc_failed(long n) {
  __asm__ volatile("" ::"r"(n) : "memory");
}

/* true = this call must fail. */
static bool inject(void) {
  if (!__atomic_load_n(&armed, __ATOMIC_RELAXED) || !pthread_equal(pthread_self(), armed_thread))
    return false;
  calls++;
  if (fail_at && calls == fail_at) {
    failed++;
    alloc_failed(calls);
    return true;
  }
  return false;
}

/* Debugging a leak (FP_ALLOC_FAIL_TRACE=1): the armed thread's live blocks with their call
 * numbers, printed after a leaking run; `break alloc_traced if n == K` in gdb then shows
 * who allocated block K. Linear, so only on request. */
#define TRACE_MAX 65536
static bool trace_on;
static struct {
  void *p;
  long n;
} trace[TRACE_MAX];
static size_t ntrace;
__attribute__((noinline)) void alloc_traced(long n);
__attribute__((noinline)) void alloc_traced(long n) {
  __asm__ volatile("" ::"r"(n) : "memory");
}

static void trace_add(void *p) {
  if (!trace_on || !p || !__atomic_load_n(&armed, __ATOMIC_RELAXED) ||
      !pthread_equal(pthread_self(), armed_thread) || ntrace == TRACE_MAX)
    return;
  alloc_traced(calls);
  trace[ntrace].p = p;
  trace[ntrace++].n = calls;
}

static void trace_del(void *p) {
  for (size_t i = ntrace; trace_on && p && i-- > 0;)
    if (trace[i].p == p) {
      trace[i] = trace[--ntrace];
      return;
    }
}

static void count(void *p, long delta) {
  if (!p) return;
  __atomic_add_fetch(&live_blocks, delta, __ATOMIC_RELAXED);
  if (delta > 0)
    trace_add(p);
  else
    trace_del(p);
}

void *malloc(size_t n) {
  if (inject()) return errno = ENOMEM, NULL;
  void *p = __libc_malloc(n);
  count(p, 1);
  return p;
}

void *calloc(size_t a, size_t b) {
  if (inject()) return errno = ENOMEM, NULL;
  void *p = __libc_calloc(a, b);
  count(p, 1);
  return p;
}

void *realloc(void *old, size_t n) {
  if (!old) return malloc(n);
  if (n == 0) { /* glibc: frees and returns NULL */
    count(old, -1);
    return __libc_realloc(old, 0);
  }
  if (inject()) return errno = ENOMEM, NULL;
  void *p = __libc_realloc(old, n); /* same block count whether it moved or not */
  if (p && p != old) {
    trace_del(old);
    trace_add(p);
  }
  return p;
}

void free(void *p) {
  count(p, -1);
  __libc_free(p);
}

void *memalign(size_t align, size_t n) {
  if (inject()) return errno = ENOMEM, NULL;
  void *p = __libc_memalign(align, n);
  count(p, 1);
  return p;
}

void *aligned_alloc(size_t align, size_t n) {
  return memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n) {
  void *p = memalign(align, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

static void arm(long n) {
  ntrace = 0;
  calls = 0;
  failed = 0;
  fail_at = n;
  armed_thread = pthread_self();
  __atomic_store_n(&armed, true, __ATOMIC_SEQ_CST);
}

static void disarm(void) {
  __atomic_store_n(&armed, false, __ATOMIC_SEQ_CST);
}

/* ---- the job ------------------------------------------------------------------------------ */

static const char CSV[] =
    "id,name,amount,joined\n"
    "1,alpha,1.5,2024-01-02\n"
    "2,beta,2.5,2024-02-03\n"
    "2,gamma,x,2024-13-01\n" /* duplicate id, type error, bad date */
    "4,,4,2024-04-05\n";     /* missing required name */

static const char CONTRACT[] =
    "name: alloc_fail\n"
    "match: ['in/*.csv']\n"
    "schema:\n"
    "  primaryKey: id\n"
    "  fields:\n"
    "    - {name: id, type: integer, constraints: {required: true, unique: true}}\n"
    "    - {name: name, type: string, constraints: {required: true, pattern: '[a-z]+'}}\n"
    "    - {name: amount, type: number}\n"
    "    - {name: joined, type: date}\n"
    "checks:\n"
    "  rows: {min: 1}\n";

static const char EVENT[] =
    "{\"Records\":[{\"eventVersion\":\"2.1\",\"eventSource\":\"aws:s3\","
    "\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"b\"},"
    "\"object\":{\"key\":\"in/data.csv\",\"versionId\":\"v1\",\"size\":104}}}]}";

typedef struct outcome {
  fp_err e;
  fp_diag d;
  fp_job_result r; /* kept for the comparison with the reference report; freed after */
} outcome;

/* One whole job, everything allocated and freed inside. */
static void run_job(const char *root, const char *db_url, outcome *o) {
  fp_diag_clear(&o->d);
  fp_event_list ev;
  memset(&ev, 0, sizeof ev);
  fp_contract *c = NULL;
  fp_store *st = NULL;
  fp_objstore *os = NULL;
  fp_job_result *r = &o->r;
  memset(r, 0, sizeof *r);
  fp_err e = fp_events_parse_json(EVENT, strlen(EVENT), &ev, &o->d);
  if (!e && ev.n != 1) e = fp_diag_set(&o->d, FP_ERR_INTERNAL, "expected one event");
  if (!e) e = fp_contract_load_text(CONTRACT, strlen(CONTRACT), "alloc_fail.yaml", &c, &o->d);
  if (!e) e = fp_store_open(db_url, &st, &o->d);
  if (!e) e = fp_objstore_local_new(root, &os, &o->d);
  if (!e) {
    fp_job_opts jo;
    fp_job_opts_default(&jo);
    jo.objstore = os;
    jo.store = st;
    jo.contract = c;
    e = fp_job_run_object(&jo, &ev.items[0], r, &o->d);
  }
  fp_objstore_free(os);
  fp_store_close(st);
  fp_contract_free(c);
  fp_event_list_free(&ev);
  o->e = e;
}

/* Each run is its own thread, armed from inside it, as a worker thread runs a job: libfp
 * keeps per-thread caches (PCRE2 match data, which the interpreter grows when JIT compiling
 * failed) that a thread-exit destructor frees, so the leak check is taken after the join. */
typedef struct job_thread {
  const char *root, *url;
  long fail_at;
  outcome o;
  long calls, failed;
} job_thread;

static void *job_thread_main(void *arg) {
  job_thread *t = arg;
  arm(t->fail_at);
  run_job(t->root, t->url, &t->o);
  disarm();
  t->calls = calls;
  t->failed = failed;
  return NULL;
}

/* The report without its timings (the only part that differs from run to run); owned;
 * NULL when there is no report or it is not JSON. */
static json_t *stable_report(const char *text) {
  json_t *j = text ? json_loads(text, 0, NULL) : NULL;
  json_object_del(j, "timings");
  return j;
}

static void run_job_thread(job_thread *t) {
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, job_thread_main, t), 0);
  assert_int_equal(pthread_join(th, NULL), 0);
}

static void put_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
  assert_int_equal(fclose(f), 0);
}

static void test_every_allocation_failure_is_clean(void **state) {
  (void)state;
  char dir[256], db[512], url[600], sub[512];
  fp_log_set_level(FP_LOG_WARN); /* thousands of runs: keep the "processing" lines out */
  /* On tmpfs when there is one: thousands of fresh DBs, and fsync there costs nothing. */
  snprintf(dir, sizeof dir, "/dev/shm/fp-alloc-XXXXXX");
  if (!mkdtemp(dir)) fp_test_tmpdir(dir, sizeof dir);
  assert_true(dir[0]);
  snprintf(sub, sizeof sub, "%s/b/in", dir);
  char b[512];
  snprintf(b, sizeof b, "%s/b", dir);
  assert_int_equal(mkdir(b, 0700), 0);
  assert_int_equal(mkdir(sub, 0700), 0);
  char obj[600];
  snprintf(obj, sizeof obj, "%s/data.csv", sub);
  put_file(obj, CSV);
  snprintf(db, sizeof db, "%s/results.db", dir);
  snprintf(url, sizeof url, "sqlite:///%s", db);

  /* The reference run, unarmed: the job works and says the data is invalid. */
  job_thread ref = {dir, url, 0, {0}, 0, 0};
  run_job_thread(&ref);
  assert_int_equal(ref.o.e, FP_OK);
  assert_int_equal(ref.o.r.verdict, FP_VERDICT_FAILED); /* the CSV has defects on purpose */
  json_t *want = stable_report(ref.o.r.report_json);
  assert_non_null(want);
  fp_job_result_free(&ref.o.r);
  sqlite3_shutdown();

  long by_code[FP_ERR__COUNT];
  memset(by_code, 0, sizeof by_code);
  long leaks = 0, runs = 0, ok_despite_failure = 0;
  const char *from = getenv("FP_ALLOC_FAIL_FROM"); /* debugging: start at this N */
  trace_on = getenv("FP_ALLOC_FAIL_TRACE") != NULL;
  for (long n = from ? atol(from) : 1;; n++) {
    unlink(db); /* every run starts from an empty DB: migrations are part of the job */
    long before = __atomic_load_n(&live_blocks, __ATOMIC_SEQ_CST);
    job_thread t = {dir, url, n, {0}, 0, 0};
    run_job_thread(&t);
    outcome *o = &t.o;
    /* A job that says it succeeded must have produced the very same report. */
    bool same = true;
    if (o->e == FP_OK) {
      json_t *got = stable_report(o->r.report_json);
      same = got && json_equal(got, want);
      json_decref(got);
    }
    fp_job_result_free(&o->r);
    sqlite3_shutdown(); /* SQLite's global caches, released by their documented call */
    long after = __atomic_load_n(&live_blocks, __ATOMIC_SEQ_CST);
    runs++;
    if (after != before) {
      leaks++;
      fprintf(stderr, "LEAK: failing allocation %ld: %ld block(s) left (%s: %s)\n", n,
              after - before, fp_err_name(o->e), o->d.msg);
      for (size_t i = 0; i < ntrace; i++)
        fprintf(stderr, "  live: block of allocation call %ld\n", trace[i].n);
    }
    if (!same)
      fprintf(stderr, "failing allocation %ld: %s but %s\n", n, fp_err_name(o->e),
              o->r.report_json ? "another report" : "no report");
    assert_true(same);
    if (!t.failed) { /* the job finished before its nth allocation: done */
      assert_int_equal(o->e, FP_OK);
      fprintf(stderr, "job: %ld allocation calls; %ld failure runs\n", t.calls, n - 1);
      break;
    }
    if (o->e == FP_OK) {
      ok_despite_failure++; /* absorbed (PCRE2 JIT falls back, SQLite's benign allocations) */
    } else {
      /* clean: the returned code is the diag's, with a message saying what failed */
      if (o->d.code != o->e || !o->d.msg[0])
        fprintf(stderr, "failing allocation %ld: returned %s, diag %s '%s'\n", n,
                fp_err_name(o->e), fp_err_name(o->d.code), o->d.msg);
      assert_int_equal(o->d.code, o->e);
      assert_true(o->d.msg[0] != '\0');
      assert_true((unsigned)o->e < FP_ERR__COUNT);
      if (o->e != FP_ERR_NOMEM && by_code[o->e] < 3) /* what other codes say, briefly */
        fprintf(stderr, "failing allocation %ld: %s: %s\n", n, fp_err_name(o->e), o->d.msg);
      by_code[o->e]++;
    }
  }
  fprintf(stderr, "runs %ld, absorbed %ld, leaks %ld; errors:", runs, ok_despite_failure, leaks);
  for (int i = 0; i < FP_ERR__COUNT; i++)
    if (by_code[i]) fprintf(stderr, " %s %ld", fp_err_name((fp_err)i), by_code[i]);
  fputc('\n', stderr);
  json_decref(want);
  assert_int_equal(leaks, 0);
  assert_true(runs > 100); /* the job really allocates: the loop was not vacuous */
  fp_test_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_every_allocation_failure_is_clean)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}

#else /* FP_TEST_ASAN */

static void test_skipped_under_asan(void **state) {
  (void)state;
  fprintf(stderr, "SKIP: AddressSanitizer owns malloc; allocation-failure injection needs it\n");
  skip();
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_skipped_under_asan)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
