/* tool_awscreds.c — drives libfp's AWS credential chain, region and endpoint resolution from
 * the process environment, for the integration tests. Never prints a secret: only the
 * source, the access key id, whether a session token is present and the expiration.
 *
 *   tool_awscreds creds [--count N] [--sleep-ms MS] [--threads T]
 *       one provider; N sequential gets (or T concurrent ones), one JSON line each:
 *       {"source","access_key_id","has_token","expiration"} or {"error","message"}
 *   tool_awscreds region
 *   tool_awscreds endpoint SERVICE [REGION]      {"endpoint","custom","partition"}
 * Exit status: 0, or the fp_err exit code (2/3) of the first failure; 64 on usage errors. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fp/fp_aws.h"
#include "fp/fp_config.h"
#include "fp/fp_log.h"

#define MAX_THREADS 64

typedef struct result {
  fp_err e;
  fp_diag d;
  fp_aws_creds c;
} result;

static void print_result(const result *r) {
  json_t *o;
  if (r->e) {
    o = json_pack("{s:s, s:s}", "error", fp_err_name(r->e), "message", r->d.msg);
  } else {
    o = json_pack("{s:s, s:s, s:b, s:o}", "source", r->c.source, "access_key_id",
                  r->c.access_key_id, "has_token", r->c.session_token != NULL, "expiration",
                  r->c.expiration ? json_integer((json_int_t)r->c.expiration) : json_null());
  }
  json_dumpf(o, stdout, JSON_COMPACT);
  fputc('\n', stdout);
  fflush(stdout);
  json_decref(o);
}

typedef struct worker {
  fp_aws_cred_provider *p;
  result r;
} worker;

static void *work(void *arg) {
  worker *w = arg;
  fp_diag_clear(&w->r.d);
  w->r.e = fp_aws_cred_get(w->p, &w->r.c, &w->r.d);
  return NULL;
}

static long num_arg(const char *s) {
  char *end;
  long v = strtol(s, &end, 10);
  return (*end || v < 0) ? -1 : v;
}

static int cmd_creds(const fp_config *cfg, int argc, char **argv) {
  long count = 1, sleep_ms = 0, threads = 0;
  for (int i = 0; i < argc; i++) {
    long *dst = strcmp(argv[i], "--count") == 0      ? &count
                : strcmp(argv[i], "--sleep-ms") == 0 ? &sleep_ms
                : strcmp(argv[i], "--threads") == 0  ? &threads
                                                     : NULL;
    if (!dst || i + 1 == argc || (*dst = num_arg(argv[++i])) < 0) return 64;
  }
  if (threads > MAX_THREADS) return 64;
  fp_aws_cred_provider *p;
  fp_diag d;
  fp_diag_clear(&d);
  if (fp_aws_cred_provider_new(cfg, &p, &d)) return 3;
  int rc = 0;
  if (threads > 0) {
    worker w[MAX_THREADS];
    pthread_t t[MAX_THREADS];
    for (long i = 0; i < threads; i++) {
      memset(&w[i], 0, sizeof w[i]);
      w[i].p = p;
      pthread_create(&t[i], NULL, work, &w[i]);
    }
    for (long i = 0; i < threads; i++) {
      pthread_join(t[i], NULL);
      print_result(&w[i].r);
      if (w[i].r.e && !rc) rc = fp_err_exit_code(w[i].r.e);
      fp_aws_creds_clear(&w[i].r.c);
    }
  } else {
    for (long i = 0; i < count; i++) {
      if (i && sleep_ms) usleep((useconds_t)sleep_ms * 1000u);
      result r;
      memset(&r, 0, sizeof r);
      r.e = fp_aws_cred_get(p, &r.c, &r.d);
      print_result(&r);
      if (r.e && !rc) rc = fp_err_exit_code(r.e);
      fp_aws_creds_clear(&r.c);
    }
  }
  fp_aws_cred_provider_free(p);
  return rc;
}

int main(int argc, char **argv) {
  fp_log_setup(getenv("FP_LOG_LEVEL"), 0);
  if (argc < 2) {
    fprintf(stderr, "usage: tool_awscreds creds|region|endpoint ...\n");
    return 64;
  }
  fp_config *cfg;
  fp_diag d;
  fp_diag_clear(&d);
  if (fp_config_load(NULL, 0, &cfg, &d)) {
    fprintf(stderr, "config: %s\n", d.msg);
    return 2;
  }
  int rc = 64;
  if (strcmp(argv[1], "creds") == 0) {
    rc = cmd_creds(cfg, argc - 2, argv + 2);
  } else if (strcmp(argv[1], "region") == 0) {
    char region[128];
    fp_aws_region(cfg, region, sizeof region);
    printf("%s\n", region);
    rc = 0;
  } else if (strcmp(argv[1], "endpoint") == 0 && argc >= 3) {
    char region[128], ep[512];
    bool custom = false;
    if (argc >= 4)
      snprintf(region, sizeof region, "%s", argv[3]);
    else
      fp_aws_region(cfg, region, sizeof region);
    fp_aws_endpoint(cfg, argv[2], region, ep, sizeof ep, &custom);
    json_t *o = json_pack("{s:s, s:b, s:s, s:s}", "endpoint", ep, "custom", custom, "partition",
                          fp_aws_partition(region), "region", region);
    json_dumpf(o, stdout, JSON_COMPACT);
    fputc('\n', stdout);
    json_decref(o);
    rc = 0;
  }
  fp_config_free(cfg);
  return rc;
}
