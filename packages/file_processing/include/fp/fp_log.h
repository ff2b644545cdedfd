/* fp_log.h — the process logger: one line per event on stderr, text or JSON.
 *
 * The only global mutable state in libfp besides the config snapshot. Thread-safe
 * (one write(2) per line). Library code logs, it never prints results. */
#ifndef FP_LOG_H
#define FP_LOG_H

typedef enum fp_log_level {
  FP_LOG_DEBUG = 0,
  FP_LOG_INFO = 1,
  FP_LOG_WARN = 2,
  FP_LOG_ERROR = 3,
  FP_LOG_OFF = 4
} fp_log_level;

/* level from "debug|info|warn|error|off" (NULL or unknown keeps the current level);
 * json != 0 switches to one JSON object per line. */
void fp_log_setup(const char *level, int json);
void fp_log_set_level(fp_log_level level);
fp_log_level fp_log_get_level(void);
void fp_log(fp_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define fp_debug(...) fp_log(FP_LOG_DEBUG, __VA_ARGS__)
#define fp_info(...) fp_log(FP_LOG_INFO, __VA_ARGS__)
#define fp_warn(...) fp_log(FP_LOG_WARN, __VA_ARGS__)
#define fp_error(...) fp_log(FP_LOG_ERROR, __VA_ARGS__)

#endif
