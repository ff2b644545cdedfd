/* cli_serve.c — `serve` (SNS listener + in-process workers; also file-processing-sns) and
 * `worker` (workers on the DB queue, optionally fed by an SQS consumer). Signals are taken
 * by sigwait on the main thread: nothing runs in a signal handler. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "fp/fp_log.h"
#include "fp/fp_server.h"
#include "fp/fp_sqs_consumer.h"
#include "fp/fp_worker.h"

static const char SERVE_HELP[] =
    "Usage: file-processing serve [--port N] [--bind ADDR] [--workers N] [--sqs-queue-url URL]\n"
    "       file-processing-sns   [same options]\n"
    "\n"
    "The SNS HTTP listener: S3 -> SNS -> POST / here. Each message's signature is verified,\n"
    "one job per object version is recorded durably in the results DB (fp_jobs), then SNS\n"
    "gets its 200; worker threads in this process (and any `worker` process sharing the DB)\n"
    "run the jobs. Duplicate deliveries create no second job.\n"
    "\n"
    "Routes: POST / (SNS), HEAD / and GET /healthz (liveness), GET /readyz (DB reachable and\n"
    "queue below FP_QUEUE_MAX), GET /metrics (Prometheus).\n"
    "\n"
    "Options:\n"
    "  --port N        listen port (default $PORT or 8080)\n"
    "  --bind ADDR     listen address (default $FP_BIND or all interfaces, IPv6 + IPv4)\n"
    "  --workers N     worker threads in this process (default $FP_WORKERS or 2; 0 = listener\n"
    "                  only, jobs stay queued for `file-processing worker`)\n"
    "  --sqs-queue-url URL  also consume this SQS queue (see `worker --help`); its counters\n"
    "                  (fp_sqs_*) appear in /metrics\n"
    "\n"
    "Environment:\n"
    "  DATABASE_URL            results DB and job queue (default sqlite:///file_processing.db)\n"
    "  LOCAL_S3_ROOT           workers read objects from this directory instead of S3\n"
    "  FP_THREADS              threads per job (default: the cores shared among the workers)\n"
    "  FP_SNS_TOPIC_ARNS       comma-separated topic ARNs accepted (default: any; set it!)\n"
    "  FP_SNS_VERIFY=0         DISABLE signature checks (LocalStack only; logged loudly)\n"
    "  FP_SNS_ALLOW_RAW=1      accept raw message delivery (unsigned! private networks only)\n"
    "  FP_SNS_AUTO_CONFIRM=0   only log SubscribeURL instead of confirming subscriptions\n"
    "  FP_MAX_BODY             request body limit (default 256K; larger -> 413)\n"
    "  FP_QUEUE_MAX            unfinished jobs limit (default 10000; at it -> 503, readyz 503)\n"
    "  FP_HTTP_THREADS (8), FP_HTTP_TIMEOUT_S (30, idle connections)\n"
    "  FP_HTTP_REQUEST_TIMEOUT_S  a request must arrive completely within this (default 10)\n"
    "  FP_HTTP_MAX_CONNECTIONS    open connections at most (default 512)\n"
    "  FP_SHUTDOWN_GRACE_S     seconds running jobs may finish after SIGTERM (default 25)\n"
    "  FP_SHUTDOWN_DRAIN_MS    readyz answers 503 this long before the socket closes (1000)\n"
    "  FP_JOB_MAX_ATTEMPTS, FP_JOB_LEASE_S, FP_JOB_POLL_MS, FP_JOB_BACKOFF_BASE_MS/_CAP_MS,\n"
    "  FP_REPORT_S3_URI        also upload each report (JSON and HTML) to s3://bucket/prefix/\n"
    "  FP_REPORT_HTML_DIR      also write each HTML report to DIR/<bucket>/<key>.report.html\n"
    "  FP_CONTRACTS_DIR, FP_LOG_LEVEL, FP_LOG_FORMAT, and the S3 settings of `run --help`.\n"
    "  Test only (refused unless FP_SNS_TEST_MODE=1): FP_SNS_TEST_CERT_MAP=name=file.pem,...\n"
    "  FP_SNS_TEST_CLOCK=<unix s>, FP_SNS_TEST_CA_FILE, FP_SNS_TEST_ALLOW_HOST=host:port,\n"
    "  FP_SNS_TEST_DISABLE_FETCH=1.\n"
    "\n"
    "SIGTERM/SIGINT: readyz -> 503, stop accepting, let running jobs finish within\n"
    "FP_SHUTDOWN_GRACE_S, release the rest to the queue, exit 0.\n"
    "\n"
    "Examples:\n"
    "  file-processing serve --port 8080\n"
    "  LOCAL_S3_ROOT=./packages/file_processing/data FP_SNS_VERIFY=0 \\\n"
    "    file-processing serve --bind 127.0.0.1 --port 8080 --workers 2\n"
    "  packages/file_processing/scripts/run_local_listener.sh 8080\n"
    "  curl -s localhost:8080/readyz; curl -s localhost:8080/metrics | grep fp_jobs\n";

static const char WORKER_HELP[] =
    "Usage: file-processing worker [--workers N] [--sqs-queue-url URL]\n"
    "\n"
    "Worker threads only: claim jobs from the durable queue in the results DB (recorded by\n"
    "`serve` listeners or SQS consumers), run the s3_data_quality_job on each, record the\n"
    "outcome. Crashed workers' leases expire and their jobs are claimed again; transient\n"
    "failures retry with backoff up to FP_JOB_MAX_ATTEMPTS.\n"
    "\n"
    "With --sqs-queue-url (or FP_SQS_QUEUE_URL) a consumer thread also long-polls that SQS\n"
    "queue (S3 -> SQS, S3 -> SNS -> SQS, or EventBridge -> SQS): each message becomes job(s)\n"
    "in the DB queue (one per object version; duplicates add none) and is deleted only once\n"
    "they are committed. SNS envelopes are signature-checked like `serve` does. s3:TestEvent\n"
    "is deleted without a job. Messages that are not S3 events (or fail the signature check)\n"
    "are logged and NOT deleted: the queue's redrive policy moves them to its DLQ. If the DB\n"
    "is down, messages stay in SQS and come back after their visibility timeout.\n"
    "\n"
    "Options:\n"
    "  --workers N         worker threads (default $FP_WORKERS or 2; 0 with an SQS queue =\n"
    "                      consumer only, jobs stay queued for other `worker` processes)\n"
    "  --sqs-queue-url URL consume this SQS queue (AWS JSON protocol, SigV4)\n"
    "\n"
    "Environment: DATABASE_URL, LOCAL_S3_ROOT, FP_WORKERS, FP_JOB_MAX_ATTEMPTS, FP_JOB_LEASE_S,\n"
    "FP_JOB_POLL_MS, FP_JOB_BACKOFF_BASE_MS, FP_JOB_BACKOFF_CAP_MS, FP_SHUTDOWN_GRACE_S (25),\n"
    "FP_CONTRACTS_DIR, FP_REPORT_S3_URI, FP_REPORT_HTML_DIR (see `serve --help`),\n"
    "and the S3 settings of `run --help`. SQS: FP_SQS_QUEUE_URL,\n"
    "FP_SQS_WAIT_S (long poll, 0-20, default 20), FP_SQS_MAX_MESSAGES (1-10, default 10),\n"
    "FP_SQS_VISIBILITY_S (default: the queue's), FP_SQS_SNS_VERIFY=0 (DISABLE SNS signature\n"
    "checks), FP_SNS_TOPIC_ARNS (allowed topics of SNS envelopes), AWS_REGION,\n"
    "AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL (local SQS), the AWS credential chain; test only:\n"
    "the FP_SNS_TEST_* settings of `serve --help`.\n"
    "\n"
    "SIGTERM/SIGINT: stop receiving (received messages not yet recorded are made visible\n"
    "again; a long poll in progress is abandoned), stop claiming, let running jobs finish\n"
    "within FP_SHUTDOWN_GRACE_S, release the rest to the queue, exit 0.\n"
    "\n"
    "Examples:\n"
    "  DATABASE_URL=sqlite:///results.db file-processing worker --workers 4\n"
    "  LOCAL_S3_ROOT=./packages/file_processing/data file-processing worker\n"
    "  file-processing worker --sqs-queue-url \\\n"
    "    https://sqs.us-gov-west-1.amazonaws.com/123456789012/file-processing-events\n"
    "  AWS_ENDPOINT_URL_SQS=http://127.0.0.1:9324 AWS_ACCESS_KEY_ID=x \\\n"
    "    AWS_SECRET_ACCESS_KEY=x LOCAL_S3_ROOT=./packages/file_processing/data \\\n"
    "    file-processing worker \\\n"
    "    --sqs-queue-url http://127.0.0.1:9324/123456789012/uploads\n";

/* Everything a worker pool needs that must outlive it. */
typedef struct pool_ctx {
  const fp_config *cfg;
  cli_job_opts jo;
  bool jo_built;
  fp_objstore *report_os; /* FP_REPORT_S3_URI uploads; shared by the workers */
  fp_worker_pool *pool;
} pool_ctx;

static fp_err make_objstore(void *ud, fp_objstore **out, fp_diag *d) {
  const fp_config *cfg = ud;
  const char *root = fp_config_str(cfg, "LOCAL_S3_ROOT", NULL);
  return root ? fp_objstore_local_new(root, out, d) : fp_objstore_s3_new(cfg, out, d);
}

static int config_long(const fp_config *cfg, const char *key, long def, long lo, long hi,
                       long *out) {
  const char *v = fp_config_str(cfg, key, NULL);
  *out = def;
  if (!v) return 0;
  char *end = NULL;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || *end || end == v || n < lo || n > hi) {
    fprintf(stderr, "file-processing: %s=%s: expected an integer in [%ld, %ld]\n", key, v, lo, hi);
    return 2;
  }
  *out = n;
  return 0;
}

/* Listener hooks: the apps layer is where the server meets the worker pool. */
static void pool_wake(void *ud, size_t created) {
  (void)created;
  fp_worker_pool_notify(ud);
}


/* Starts the worker pool unless FP_WORKERS is 0 (ctx->pool stays NULL). */
static int start_pool(pool_ctx *ctx) {
  long workers;
  int rc = config_long(ctx->cfg, "FP_WORKERS", 2, 0, 256, &workers);
  if (rc || workers == 0) return rc;
  cli_dialect_flags none = {0};
  if ((rc = cli_job_opts_build(ctx->cfg, &none, &ctx->jo))) return rc;
  ctx->jo_built = true;
  /* Jobs already run side by side here: without FP_THREADS, share the cores among them. */
  const char *ft = fp_config_get(ctx->cfg, "FP_THREADS");
  if (!ft || !*ft) {
    unsigned per = cli_cores() / (unsigned)workers;
    ctx->jo.job.profile.threads = per ? per : 1;
  }
  if ((rc = cli_contracts_dir(ctx->cfg, &ctx->jo.job))) return rc;
  if ((rc = cli_report_store(ctx->cfg, NULL, &ctx->report_os, &ctx->jo.job))) return rc;
  if ((rc = cli_report_html_dir(ctx->cfg, &ctx->jo.job))) return rc;
  fp_worker_opts o;
  fp_worker_opts_default(&o);
  fp_diag d;
  fp_diag_clear(&d);
  if (fp_worker_opts_from_config(ctx->cfg, &o, &d)) return cli_fail(&d);
  o.nthreads = (unsigned)workers;
  o.job = ctx->jo.job;
  o.job.report_indent = 0;
  o.objstore_new = make_objstore;
  o.objstore_ud = (void *)ctx->cfg;
  if (fp_worker_pool_start(&o, &ctx->pool, &d)) return cli_fail(&d);
  char masked[1024];
  fp_mask_url(o.store_url, masked, sizeof masked);
  fp_info("%ld worker thread(s) on %s", workers, masked);
  return 0;
}

/* Stops the pool; returns how many jobs were released still running (then _exit). */
static size_t stop_pool(pool_ctx *ctx, double grace) {
  if (!ctx->pool) return 0;
  size_t released = fp_worker_pool_stop(ctx->pool, grace);
  if (released) fp_warn("%zu job(s) still running after %.0f s: released to the queue", released, grace);
  return released;
}

static void free_pool(pool_ctx *ctx) {
  fp_worker_pool_free(ctx->pool);
  fp_objstore_free(ctx->report_os);
  if (ctx->jo_built) cli_job_opts_free(&ctx->jo);
}

/* Blocks SIGTERM/SIGINT in this thread before any other thread starts (they inherit the
 * mask), so only sigwait sees them. */
static void block_signals(sigset_t *set) {
  sigemptyset(set);
  sigaddset(set, SIGTERM);
  sigaddset(set, SIGINT);
  pthread_sigmask(SIG_BLOCK, set, NULL);
  signal(SIGPIPE, SIG_IGN);
}

static int wait_signal(const sigset_t *set) {
  int sig = 0;
  while (sigwait(set, &sig) != 0) {
  }
  fp_info("received %s: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  return sig;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static int set_flag(fp_config *cfg, const char *key, const char *v) {
  if (v && fp_config_set(cfg, key, v))
    return fprintf(stderr, "file-processing: out of memory\n"), 3;
  return 0;
}

/* Starts the SQS consumer when a queue URL is configured (*out stays NULL otherwise). */
static int start_sqs(pool_ctx *ctx, fp_sqs_consumer **out) {
  *out = NULL;
  fp_sqs_consumer_opts so;
  fp_sqs_consumer_opts_default(&so);
  fp_diag d;
  fp_diag_clear(&d);
  if (fp_sqs_consumer_opts_from_config(ctx->cfg, &so, &d)) return cli_fail(&d);
  if (!so.queue_url || !*so.queue_url) return 0;
  if (ctx->pool) {
    so.on_enqueued = pool_wake;
    so.ud = ctx->pool;
  }
  if (fp_sqs_consumer_start(ctx->cfg, &so, out, &d)) return cli_fail(&d);
  return 0;
}

/* What /metrics adds beyond the listener's own: the in-process workers and SQS consumer. */
typedef struct serve_parts {
  fp_worker_pool *pool;
  fp_sqs_consumer *consumer;
} serve_parts;

static void serve_wake(void *ud, size_t created) {
  serve_parts *sp = ud;
  if (sp->pool) pool_wake(sp->pool, created);
}

static fp_err serve_metrics(void *ud, fp_buf *out) {
  serve_parts *sp = ud;
  fp_err e = sp->pool ? fp_worker_pool_metrics(sp->pool, out) : FP_OK;
  if (!e && sp->consumer) e = fp_sqs_consumer_metrics(sp->consumer, out);
  return e;
}

int cmd_serve(fp_config *cfg, int argc, char **argv) {
  const char *port = NULL, *bind = NULL, *workers = NULL, *sqs = NULL;
  bool help = false;
  const cli_opt opts[] = {{"port", &port, NULL}, {"bind", &bind, NULL},
                          {"workers", &workers, NULL}, {"sqs-queue-url", &sqs, NULL},
                          {NULL, NULL, NULL}};
  const char *pos[1];
  size_t npos;
  if (cli_parse(argc, argv, opts, pos, 1, &npos, &help)) return 2;
  if (help) return fputs(SERVE_HELP, stdout), 0;
  if (npos) return cli_usage_error("serve", "unexpected argument '%s'", pos[0]);
  int rc = set_flag(cfg, "PORT", port);
  if (!rc) rc = set_flag(cfg, "FP_BIND", bind);
  if (!rc) rc = set_flag(cfg, "FP_WORKERS", workers);
  if (!rc) rc = set_flag(cfg, "FP_SQS_QUEUE_URL", sqs);
  long grace, drain;
  if (!rc) rc = config_long(cfg, "FP_SHUTDOWN_GRACE_S", 25, 0, 86400, &grace);
  if (!rc) rc = config_long(cfg, "FP_SHUTDOWN_DRAIN_MS", 1000, 0, 600000, &drain);
  if (rc) return rc;
  fp_listener_opts lo;
  fp_listener_opts_default(&lo);
  fp_diag d;
  fp_diag_clear(&d);
  if (fp_listener_opts_from_config(cfg, &lo, &d)) return cli_fail(&d);
  sigset_t set;
  block_signals(&set);
  pool_ctx ctx = {.cfg = cfg};
  serve_parts parts = {0};
  if ((rc = start_pool(&ctx)) || (rc = start_sqs(&ctx, &parts.consumer))) {
    stop_pool(&ctx, 0);
    free_pool(&ctx);
    return rc;
  }
  parts.pool = ctx.pool;
  fp_listener *l = NULL;
  fp_listener_hooks hooks = {.jobs_enqueued = serve_wake, .metrics = serve_metrics, .ud = &parts};
  if (fp_listener_start(&lo, &hooks, &l, &d)) {
    rc = cli_fail(&d);
    fp_sqs_consumer_free(parts.consumer);
    stop_pool(&ctx, 0);
    free_pool(&ctx);
    return rc;
  }
  wait_signal(&set);
  fp_listener_begin_shutdown(l);
  if (drain > 0) sleep_ms(drain); /* readiness probes see 503 while the socket is open */
  fp_listener_stop(l);
  bool consumer_ended = fp_sqs_consumer_stop(parts.consumer, (double)grace);
  size_t released = stop_pool(&ctx, (double)grace);
  fp_listener_free(l);
  if (released || !consumer_ended) {
    fp_info("exiting; released jobs stay queued, unrecorded SQS messages stay in SQS");
    fflush(NULL);
    _exit(0); /* their threads die with the process; nothing is lost */
  }
  fp_sqs_consumer_free(parts.consumer);
  free_pool(&ctx);
  fp_info("stopped cleanly");
  return 0;
}

int cmd_worker(fp_config *cfg, int argc, char **argv) {
  const char *workers = NULL, *sqs = NULL;
  bool help = false;
  const cli_opt opts[] = {{"workers", &workers, NULL}, {"sqs-queue-url", &sqs, NULL},
                          {NULL, NULL, NULL}};
  const char *pos[1];
  size_t npos;
  if (cli_parse(argc, argv, opts, pos, 1, &npos, &help)) return 2;
  if (help) return fputs(WORKER_HELP, stdout), 0;
  if (npos) return cli_usage_error("worker", "unexpected argument '%s'", pos[0]);
  if (sqs && !*sqs) return cli_usage_error("worker", "--sqs-queue-url needs a URL");
  int rc = set_flag(cfg, "FP_WORKERS", workers);
  if (!rc) rc = set_flag(cfg, "FP_SQS_QUEUE_URL", sqs);
  const char *queue = fp_config_str(cfg, "FP_SQS_QUEUE_URL", NULL);
  bool with_sqs = queue && *queue;
  long grace, n;
  if (!rc) rc = config_long(cfg, "FP_SHUTDOWN_GRACE_S", 25, 0, 86400, &grace);
  if (!rc) rc = config_long(cfg, "FP_WORKERS", 2, with_sqs ? 0 : 1, 256, &n);
  if (rc) return rc;
  sigset_t set;
  block_signals(&set);
  pool_ctx ctx = {.cfg = cfg};
  fp_sqs_consumer *consumer = NULL;
  if ((rc = start_pool(&ctx)) || (rc = start_sqs(&ctx, &consumer))) {
    stop_pool(&ctx, 0);
    free_pool(&ctx);
    return rc;
  }
  wait_signal(&set);
  bool consumer_ended = fp_sqs_consumer_stop(consumer, (double)grace);
  if (consumer) {
    fp_sqs_consumer_stats st;
    fp_sqs_consumer_stats_get(consumer, &st);
    fp_info("SQS consumer: %llu message(s) received, %llu deleted, %llu left in the queue "
            "(%llu poison), %llu job(s) created, %llu duplicate(s)",
            (unsigned long long)st.received, (unsigned long long)st.deleted,
            (unsigned long long)st.failed, (unsigned long long)st.poison,
            (unsigned long long)st.jobs_created, (unsigned long long)st.jobs_duplicate);
  }
  if (stop_pool(&ctx, (double)grace) || !consumer_ended) {
    fp_info("exiting; nothing unrecorded was deleted from SQS");
    fflush(NULL);
    _exit(0);
  }
  fp_sqs_consumer_free(consumer);
  free_pool(&ctx);
  fp_info("stopped cleanly");
  return 0;
}
