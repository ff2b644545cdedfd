/* log.c — stderr logger; each line is formatted into a local buffer and written with one
 * write(2) so concurrent threads never interleave within a line. */
#include "fp/fp_log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_level = FP_LOG_INFO;
static atomic_int log_json = 0;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void fp_log_set_level(fp_log_level level) { atomic_store(&log_level, (int)level); }
fp_log_level fp_log_get_level(void) { return (fp_log_level)atomic_load(&log_level); }

void fp_log_setup(const char *level, int json) {
  atomic_store(&log_json, json ? 1 : 0);
  if (!level) return;
  for (int i = 0; i <= FP_LOG_OFF; i++)
    if (strcasecmp(level, level_names[i]) == 0) fp_log_set_level((fp_log_level)i);
  if (strcasecmp(level, "warning") == 0) fp_log_set_level(FP_LOG_WARN);
}

/* Appends s to out as a JSON string body (no quotes), escaping what JSON requires. */
static size_t json_escape(char *out, size_t room, const char *s) {
  size_t o = 0;
  for (; *s && o + 7 < room; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      out[o++] = '\\';
      out[o++] = (char)c;
    } else if (c < 0x20) {
      o += (size_t)snprintf(out + o, room - o, "\\u%04x", c);
    } else {
      out[o++] = (char)c;
    }
  }
  out[o] = '\0';
  return o;
}

/* Text lines carry data from outside (object keys, SNS MessageIds and topics, HTTP
 * values): a CR or LF in them would start a forged log line. Control bytes become \n, \r,
 * \t or \xNN, so one event is always one line. */
static void text_escape(char *out, size_t room, const char *s) {
  size_t o = 0;
  for (; *s && o + 5 < room; s++) {
    unsigned char c = (unsigned char)*s;
    if (c >= 0x20 && c != 0x7f) {
      out[o++] = (char)c;
    } else if (c == '\n' || c == '\r' || c == '\t') {
      out[o++] = '\\';
      out[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
    } else {
      o += (size_t)snprintf(out + o, room - o, "\\x%02x", c);
    }
  }
  out[o] = '\0';
}

void fp_log(fp_log_level level, const char *fmt, ...) {
  if ((int)level < atomic_load(&log_level) || level >= FP_LOG_OFF) return;
  char msg[2048], line[4400], ts[40];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct tm tm;
  gmtime_r(&now.tv_sec, &tm);
  size_t t = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(ts + t, sizeof ts - t, ".%03ldZ", now.tv_nsec / 1000000);
  int n;
  if (atomic_load(&log_json)) {
    char esc[4200];
    json_escape(esc, sizeof esc, msg);
    n = snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}\n", ts,
                 level_names[level], esc);
  } else {
    char esc[4200];
    text_escape(esc, sizeof esc, msg);
    n = snprintf(line, sizeof line, "%s %-5s %s\n", ts, level_names[level], esc);
  }
  if (n < 0) return;
  size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
  if (len && line[len - 1] != '\n') line[len - 1] = '\n';
  ssize_t w = write(STDERR_FILENO, line, len);
  (void)w;
}
