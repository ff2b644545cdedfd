/* tool_worker.c — test tool: the durable queue and the worker pool as a process, so the
 * crash tests can kill -9 it mid-job and restart it (until `file-processing worker`
 * exists).
 *
 *   tool_worker enqueue DB_URL BUCKET KEY [VERSION]     prints "<job id> created|duplicate"
 *   tool_worker run DB_URL LOCAL_S3_ROOT [--threads N] [--lease S] [--grace S]
 *                                        [--slow-ms MS] [--poll-ms MS]
 *
 * `run` logs to stderr and works until SIGTERM or SIGINT, then stops the pool with the
 * grace period and exits 0 (without waiting for jobs it had to release). --slow-ms makes
 * every object read wait that long first, so a test can catch a job in flight. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fp/fp_log.h"
#include "fp/fp_objstore.h"
#include "fp/fp_store.h"
#include "fp/fp_worker.h"
#include "store/objstore_int.h"

static int fail(const char *what, const fp_diag *d) {
  char buf[2048];
  fp_diag_format(d, buf, sizeof buf);
  fprintf(stderr, "tool_worker: %s: %s\n", what, buf);
  int code = fp_err_exit_code(d->code);
  return code ? code : 2;
}

/* ---- an object store that waits before each read ----------------------------------- */

typedef struct slow_cfg {
  const char *root;
  long slow_ms;
} slow_cfg;

typedef struct slow_store {
  fp_objstore base;
  fp_objstore *inner;
  long slow_ms;
} slow_store;

static fp_err slow_stream(fp_objstore *s, const fp_object_ref *ref, fp_sink_fn sink, void *ud,
                          fp_object_info *info, fp_diag *d) {
  slow_store *t = (slow_store *)s;
  if (t->slow_ms > 0) usleep((useconds_t)t->slow_ms * 1000);
  return fp_objstore_stream(t->inner, ref, sink, ud, info, d);
}

static void slow_destroy(fp_objstore *s) {
  slow_store *t = (slow_store *)s;
  fp_objstore_free(t->inner);
  free(t);
}

static const fp__objstore_ops slow_ops = {
    .kind = "local", .stream = slow_stream, .destroy = slow_destroy};

static fp_err slow_new(void *ud, fp_objstore **out, fp_diag *d) {
  const slow_cfg *c = ud;
  slow_store *t = calloc(1, sizeof *t);
  if (!t) return fp_diag_set(d, FP_ERR_NOMEM, "slow store");
  t->base.ops = &slow_ops;
  t->slow_ms = c->slow_ms;
  fp_err e = fp_objstore_local_new(c->root, &t->inner, d);
  if (e) {
    free(t);
    return e;
  }
  *out = &t->base;
  return FP_OK;
}

/* ---- commands ---------------------------------------------------------------------- */

static int cmd_enqueue(int argc, char **argv) {
  if (argc < 5 || argc > 6) {
    fputs("usage: tool_worker enqueue DB_URL BUCKET KEY [VERSION]\n", stderr);
    return 2;
  }
  fp_diag d;
  fp_diag_clear(&d);
  fp_store *s = NULL;
  if (fp_store_open(argv[2], &s, &d)) return fail("open", &d);
  fp_object_ref r;
  memset(&r, 0, sizeof r);
  r.bucket = argv[3];
  r.key = argv[4];
  r.version_id = argc == 6 ? argv[5] : NULL;
  r.size = -1;
  int64_t id = 0;
  bool created = false;
  fp_err e = fp_store_enqueue(s, &r, &id, &created, &d);
  fp_store_close(s);
  if (e) return fail("enqueue", &d);
  printf("%lld %s\n", (long long)id, created ? "created" : "duplicate");
  return 0;
}

static long num_arg(const char *name, const char *v) {
  char *end = NULL;
  errno = 0;
  long n = v ? strtol(v, &end, 10) : -1;
  if (!v || errno || *end || n < 0) {
    fprintf(stderr, "tool_worker: %s needs a non-negative integer\n", name);
    exit(2);
  }
  return n;
}

static int cmd_run(int argc, char **argv) {
  if (argc < 4) {
    fputs(
        "usage: tool_worker run DB_URL LOCAL_S3_ROOT [--threads N] [--lease S] [--grace S]"
        " [--slow-ms MS] [--poll-ms MS]\n",
        stderr);
    return 2;
  }
  slow_cfg cfg = {.root = argv[3]};
  fp_worker_opts o;
  fp_worker_opts_default(&o);
  o.store_url = argv[2];
  o.objstore_new = slow_new;
  o.objstore_ud = &cfg;
  o.job.report_indent = 0;
  long grace = 10;
  for (int i = 4; i < argc; i += 2) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(argv[i], "--threads"))
      o.nthreads = (unsigned)num_arg(argv[i], v);
    else if (!strcmp(argv[i], "--lease"))
      o.lease_seconds = (int)num_arg(argv[i], v);
    else if (!strcmp(argv[i], "--grace"))
      grace = num_arg(argv[i], v);
    else if (!strcmp(argv[i], "--slow-ms"))
      cfg.slow_ms = num_arg(argv[i], v);
    else if (!strcmp(argv[i], "--poll-ms"))
      o.poll_ms = (int)num_arg(argv[i], v);
    else {
      fprintf(stderr, "tool_worker: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  /* Signals go to sigwait here, never to a worker thread. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  fp_diag d;
  fp_diag_clear(&d);
  fp_worker_pool *p = NULL;
  if (fp_worker_pool_start(&o, &p, &d)) return fail("start", &d);
  fprintf(stderr, "tool_worker: ready\n");
  int sig = 0;
  sigwait(&set, &sig);
  fprintf(stderr, "tool_worker: signal %d, stopping with %ld s grace\n", sig, grace);
  size_t released = fp_worker_pool_stop(p, (double)grace);
  fp_worker_stats st;
  fp_worker_pool_stats(p, &st);
  fprintf(stderr,
          "tool_worker: stopped: claimed %llu succeeded %llu retried %llu failed %llu dead "
          "%llu released %zu\n",
          (unsigned long long)st.claimed, (unsigned long long)st.succeeded,
          (unsigned long long)st.retried, (unsigned long long)st.failed,
          (unsigned long long)st.dead, released);
  if (released) _exit(0); /* those threads die with the process; their jobs are queued */
  fp_worker_pool_free(p);
  return 0;
}

int main(int argc, char **argv) {
  fp_log_setup(getenv("FP_LOG_LEVEL") ? getenv("FP_LOG_LEVEL") : "info", 0);
  if (argc >= 2 && !strcmp(argv[1], "enqueue")) return cmd_enqueue(argc, argv);
  if (argc >= 2 && !strcmp(argv[1], "run")) return cmd_run(argc, argv);
  fputs(
      "usage: tool_worker enqueue DB_URL BUCKET KEY [VERSION]\n"
      "       tool_worker run DB_URL LOCAL_S3_ROOT [options]\n",
      stderr);
  return 2;
}
