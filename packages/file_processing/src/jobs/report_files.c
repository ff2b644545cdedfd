/* report_files.c — the HTML report written into a directory tree (FP_REPORT_HTML_DIR):
 * <dir>/<bucket>/<key>.report.html. Object keys come from events, so they are untrusted
 * path input: every component is checked, and the walk goes down with openat() and
 * O_NOFOLLOW from a handle on dir, so neither "../" nor a symlink planted inside the tree
 * can make a report land outside it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fp/fp_log.h"
#include "jobs/jobs_int.h"

#define SUFFIX ".report.html"

/* A path component we accept: non-empty, not "." or "..", short enough for NAME_MAX
 * once the suffix or temp prefix is added. */
static bool component_ok(const char *c, size_t n) {
  if (n == 0 || n + sizeof SUFFIX + 24 > NAME_MAX) return false;
  if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.')) return false;
  return memchr(c, '\0', n) == NULL;
}

static fp_err refuse(fp_diag *d, const char *bucket, const char *key) {
  return fp_diag_set(d, FP_ERR_INVAL,
                     "refusing to write the HTML report for s3://%s/%s: the key would leave "
                     "FP_REPORT_HTML_DIR (an empty, '.', '..' or over-long path component)", bucket, key);
}

static fp_err io_fail(fp_diag *d, const char *what, const char *name) {
  int err = errno;
  if (d && !d->code) d->sys_errno = err;
  return fp_diag_set(d, FP_ERR_IO, "HTML report: %s %s: %s", what, name, strerror(err));
}

/* Opens (creating when missing) the directory name below dirfd; never through a symlink. */
static fp_err down(int *dirfd, const char *name, fp_diag *d) {
  if (mkdirat(*dirfd, name, 0755) != 0 && errno != EEXIST) return io_fail(d, "creating directory", name);
  int fd = openat(*dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return io_fail(d, "opening directory", name);
  close(*dirfd);
  *dirfd = fd;
  return FP_OK;
}

static fp_err write_all(int fd, const char *s, size_t n, const char *name, fp_diag *d) {
  while (n) {
    ssize_t w = write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return io_fail(d, "writing", name);
    s += w;
    n -= (size_t)w;
  }
  return FP_OK;
}

/* Temp file in the same directory, then rename: readers never see half a page. */
static fp_err write_file(int dirfd, const char *base, const char *html, fp_diag *d) {
  char name[NAME_MAX + 1], tmp[NAME_MAX + 1]; /* component_ok left room for both */
  int nn = snprintf(name, sizeof name, "%s" SUFFIX, base);
  int nt = snprintf(tmp, sizeof tmp, ".%s.%ld.tmp", base, (long)getpid());
  if (nn < 0 || nt < 0 || (size_t)nn >= sizeof name || (size_t)nt >= sizeof tmp)
    return fp_diag_set(d, FP_ERR_LIMIT, "HTML report: file name too long for %s", base);
  int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return io_fail(d, "creating", tmp);
  fp_err e = write_all(fd, html, strlen(html), tmp, d);
  if (close(fd) != 0 && !e) e = io_fail(d, "closing", tmp);
  if (!e && renameat(dirfd, tmp, dirfd, name) != 0) e = io_fail(d, "renaming to", name);
  if (e) unlinkat(dirfd, tmp, 0);
  return e;
}

fp_err fp__report_html_write(const char *dir, const char *bucket, const char *key,
                             const char *html, fp_diag *d) {
  if (!html) return fp_diag_set(d, FP_ERR_INTERNAL, "HTML report was not rendered");
  if (!bucket || !key || !component_ok(bucket, strlen(bucket)) || strchr(bucket, '/'))
    return refuse(d, bucket ? bucket : "", key ? key : "");
  for (const char *c = key;;) { /* check every component before creating anything */
    size_t n = strcspn(c, "/");
    if (!component_ok(c, n)) return refuse(d, bucket, key);
    if (!c[n]) break;
    c += n + 1;
  }
  int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) return io_fail(d, "opening FP_REPORT_HTML_DIR", dir);
  fp_err e = down(&dirfd, bucket, d);
  char part[NAME_MAX + 1];
  const char *c = key;
  for (size_t n = strcspn(c, "/"); !e; n = strcspn(c, "/")) {
    memcpy(part, c, n);
    part[n] = '\0';
    if (!c[n]) {
      e = write_file(dirfd, part, html, d);
      break;
    }
    e = down(&dirfd, part, d);
    c += n + 1;
  }
  close(dirfd);
  if (!e) fp_info("HTML report written to %s/%s/%s" SUFFIX, dir, bucket, key);
  return e;
}
