/* mhd_ok.c — the ceiling for the listener benchmark: a libmicrohttpd server that answers
 * every request "200 OK" with the same threading setup as the listener (internal polling
 * thread + thread pool), so the difference to the listener is our per-request work.
 * usage: fp-bench-mhd-ok PORT [THREADS] — runs until SIGTERM/SIGINT. */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig, stop = 1; }

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *data_size, void **con_cls) {
  (void)cls, (void)url, (void)method, (void)version, (void)data;
  if (*con_cls == NULL) { /* first call: headers only */
    *con_cls = c;
    return MHD_YES;
  }
  if (*data_size) { /* swallow the body like the listener reads it */
    *data_size = 0;
    return MHD_YES;
  }
  static const char ok[] = "{\"ok\":true}";
  struct MHD_Response *r =
      MHD_create_response_from_buffer(sizeof ok - 1, (void *)ok, MHD_RESPMEM_PERSISTENT);
  enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
  MHD_destroy_response(r);
  return ret;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs("usage: fp-bench-mhd-ok PORT [THREADS]\n", stderr);
    return 2;
  }
  char *end;
  long port = strtol(argv[1], &end, 10);
  long threads = argc > 2 ? strtol(argv[2], NULL, 10) : 8;
  if (*end || port <= 0 || port > 65535 || threads <= 0) {
    fputs("fp-bench-mhd-ok: bad PORT or THREADS\n", stderr);
    return 2;
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  struct MHD_Daemon *dm = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC, (uint16_t)port, NULL, NULL, handle, NULL,
      MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)threads, MHD_OPTION_CONNECTION_TIMEOUT,
      (unsigned int)30, MHD_OPTION_END);
  if (!dm) {
    fprintf(stderr, "fp-bench-mhd-ok: cannot listen on port %ld\n", port);
    return 1;
  }
  while (!stop) pause();
  MHD_stop_daemon(dm);
  return 0;
}
