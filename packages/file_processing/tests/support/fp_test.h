/* fp_test.h — small helpers shared by the cmocka unit tests. */
#ifndef FP_TEST_H
#define FP_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <ftw.h>

/* Conformance data dir (../shared/conformance) or NULL when absent: tests then skip with a
 * visible message, since a user's clone has no ../shared. */
static inline const char *fp_test_conformance_dir(void) {
  const char *d = getenv("FP_CONFORMANCE_DIR");
  struct stat st;
  if (d && stat(d, &st) == 0 && S_ISDIR(st.st_mode)) return d;
  return NULL;
}

#define FP_TEST_NEED_CONFORMANCE(dirvar)                                              \
  const char *dirvar = fp_test_conformance_dir();                                   \
  if (!dirvar) {                                                                    \
    fprintf(stderr, "SKIP: ../shared/conformance is absent; conformance test skipped\n"); \
    skip();                                                                         \
  }

/* Reads a whole file; owned (free). NULL on error. */
/* How much slower than native this run is (FP_TEST_TIME_SCALE, default 1; the valgrind
 * variants set 20). Tests that race a deadline against real I/O multiply both sides by it,
 * so the race they check stays the same whatever the instrumentation. */
static inline long fp_test_time_scale(void) {
  const char *s = getenv("FP_TEST_TIME_SCALE");
  long v = s ? strtol(s, NULL, 10) : 1;
  return v >= 1 && v <= 1000 ? v : 1;
}

static inline char *fp_test_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  if (buf) {
    buf[n] = '\0';
    if (len) *len = (size_t)n;
  }
  return buf;
}

/* Creates a fresh temp dir; path written into out (at least 64 bytes). */
static inline void fp_test_tmpdir(char *out, size_t outsz) {
  snprintf(out, outsz, "/tmp/fp-test-XXXXXX");
  if (!mkdtemp(out)) out[0] = '\0';
}

static inline int fp_test__rm_entry(const char *p, const struct stat *st, int flag,
                                    struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(p);
}

/* Removes dir and everything below it (links are removed, not followed). */
static inline void fp_test_rmtree(const char *dir) {
  if (dir && dir[0]) nftw(dir, fp_test__rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
