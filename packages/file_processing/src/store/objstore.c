/* objstore.c — the object store interface (dispatch through objstore_int.h) and its local
 * directory backend (LOCAL_S3_ROOT).
 *
 * Local layout: ROOT/<bucket>/<key> when that is a regular file, else ROOT/<key>. Keys are
 * untrusted (they come from events), so:
 *   - lexical checks first: absolute keys and ".." segments ('/' or '\' separated) are
 *     refused, and the bucket must be one plain path component;
 *   - the file is then opened (following symlinks, non-blocking so a FIFO cannot hang us)
 *     and the path of the *opened descriptor* (/proc/self/fd/N) is compared with the
 *     root's realpath. Checking what was actually opened, not a path resolved earlier,
 *     closes the check-then-open race: a symlink swapped in between cannot redirect us.
 *     O_NOFOLLOW is not used because symlinks that stay inside the root are allowed.
 * Bytes are read with read(2) into one 1 MiB buffer and pushed to the sink. */
#include "store/objstore_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- dispatch ----------------------------------------------------------------------- */

fp_err fp_objstore_stream(fp_objstore *s, const fp_object_ref *ref, fp_sink_fn sink, void *ud,
                          fp_object_info *info, fp_diag *d) {
  if (!s || !ref || !sink || !ref->bucket || !ref->key)
    return fp_diag_set(d, FP_ERR_INVAL, "fp_objstore_stream: NULL argument");
  fp_object_info scratch;
  if (!info) info = &scratch;
  memset(info, 0, sizeof *info);
  info->size = -1;
  return s->ops->stream(s, ref, sink, ud, info, d);
}

fp_err fp_objstore_put(fp_objstore *s, const char *bucket, const char *key, const char *body,
                       size_t len, const char *content_type, fp_diag *d) {
  if (!s || !bucket || !key || (!body && len))
    return fp_diag_set(d, FP_ERR_INVAL, "fp_objstore_put: NULL argument");
  if (!s->ops->put)
    return fp_diag_set(d, FP_ERR_INVAL, "the %s object store cannot upload objects (S3 only)",
                       s->ops->kind);
  return s->ops->put(s, bucket, key, body, len, content_type, d);
}

const char *fp_objstore_kind(const fp_objstore *s) {
  return s ? s->ops->kind : "none";
}

void fp_objstore_free(fp_objstore *s) {
  if (s) s->ops->destroy(s);
}

/* ---- local backend ------------------------------------------------------------------ */

typedef struct local_store {
  fp_objstore base; /* first member */
  char *root;       /* realpath of the root directory, owned */
  size_t root_len;
} local_store;

/* Bounded copy; long paths are cut (location is for humans). */
static void copy_trunc(char *dst, size_t dstsz, const char *src) {
  size_t n = strlen(src);
  if (n >= dstsz) n = dstsz - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

/* Is path equal to root or below it? */
static int inside_root(const local_store *ls, const char *path) {
  if (ls->root_len == 1 && ls->root[0] == '/') return path[0] == '/';
  return strncmp(path, ls->root, ls->root_len) == 0 &&
         (path[ls->root_len] == '/' || path[ls->root_len] == '\0');
}

/* A segment of key between separators equal to ".."? Backslashes count as separators too:
 * harmless on POSIX, but a key like "..\..\x" is never a legitimate object here. */
static int has_dotdot_segment(const char *key) {
  const char *seg = key;
  for (const char *p = key;; p++) {
    if (*p == '/' || *p == '\\' || *p == '\0') {
      if (p - seg == 2 && seg[0] == '.' && seg[1] == '.') return 1;
      if (*p == '\0') return 0;
      seg = p + 1;
    }
  }
}

static fp_err check_names(const fp_object_ref *ref, fp_diag *d) {
  const char *b = ref->bucket, *k = ref->key;
  if (!*k) return fp_diag_set(d, FP_ERR_INVAL, "empty object key");
  if (k[0] == '/' || k[0] == '\\')
    return fp_diag_set(d, FP_ERR_FORBIDDEN, "object key \"%s\" is absolute; refused", k);
  if (has_dotdot_segment(k))
    return fp_diag_set(d, FP_ERR_FORBIDDEN, "object key \"%s\" has a \"..\" segment; refused", k);
  if (!*b || strchr(b, '/') || strchr(b, '\\') || strcmp(b, ".") == 0 || strcmp(b, "..") == 0)
    return fp_diag_set(d, FP_ERR_FORBIDDEN,
                       "bucket name \"%s\" is not a single path component; refused", b);
  return FP_OK;
}

typedef enum { OPEN_OK, OPEN_MISSING, OPEN_NOT_FILE, OPEN_ERROR } open_result;

/* The real path of an open descriptor: /proc/self/fd first; without /proc, realpath(path)
 * is accepted only if it names the very file (same device and inode) that fd holds. */
static int fd_realpath(int fd, const char *path, const struct stat *st, char *out, size_t outsz) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, out, outsz - 1);
  if (n > 0 && (size_t)n < outsz - 1) {
    out[n] = '\0';
    return 0;
  }
  char *rp = realpath(path, NULL);
  struct stat rst;
  int ok = rp && strlen(rp) < outsz && stat(rp, &rst) == 0 && rst.st_dev == st->st_dev &&
           rst.st_ino == st->st_ino;
  if (ok) memcpy(out, rp, strlen(rp) + 1);
  free(rp);
  return ok ? 0 : -1;
}

/* Opens path if it is a regular file resolving inside the root. On OPEN_ERROR d is set. */
static open_result open_inside(const local_store *ls, const char *path, const char *key,
                               int *fd_out, struct stat *st, char *real, size_t realsz,
                               fp_diag *d) {
  int fd;
  do fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) return OPEN_MISSING;
    fp_err code = FP_ERR_IO;
    if (err == EACCES || err == EPERM || err == ELOOP)
      code = FP_ERR_FORBIDDEN;
    else if (err == ENAMETOOLONG)
      code = FP_ERR_INVAL;
    fp_diag_set(d, code, "cannot open %s: %s", path, strerror(err));
    if (d && d->code == code) d->sys_errno = err;
    return OPEN_ERROR;
  }
  if (fstat(fd, st) != 0 || fd_realpath(fd, path, st, real, realsz) != 0) {
    int err = errno;
    close(fd);
    fp_diag_set(d, FP_ERR_IO, "cannot resolve %s: %s", path, strerror(err));
    if (d && d->code == FP_ERR_IO) d->sys_errno = err;
    return OPEN_ERROR;
  }
  if (!inside_root(ls, real)) {
    close(fd);
    fp_diag_set(d, FP_ERR_FORBIDDEN,
                "object key \"%s\" resolves outside the local store root %s (symlink); "
                "refused",
                key, ls->root);
    return OPEN_ERROR;
  }
  if (!S_ISREG(st->st_mode)) {
    close(fd);
    return OPEN_NOT_FILE;
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  *fd_out = fd;
  return OPEN_OK;
}

static fp_err pump(int fd, const char *where, fp_sink_fn sink, void *ud, fp_diag *d) {
  char *buf = malloc(FP__OBJSTORE_CHUNK);
  if (!buf) return fp_diag_set(d, FP_ERR_NOMEM, "out of memory reading %s", where);
  fp_err e = FP_OK;
  for (;;) {
    ssize_t n = read(fd, buf, FP__OBJSTORE_CHUNK);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      e = fp_diag_set(d, FP_ERR_IO, "read %s: %s", where, strerror(err));
      if (d && d->code == FP_ERR_IO && !d->sys_errno) d->sys_errno = err;
      break;
    }
    if (n == 0) break;
    if ((e = sink(ud, buf, (size_t)n, d))) break; /* the sink's error, unchanged */
  }
  free(buf);
  return e;
}

static fp_err local_stream(fp_objstore *s, const fp_object_ref *ref, fp_sink_fn sink, void *ud,
                           fp_object_info *info, fp_diag *d) {
  local_store *ls = (local_store *)s;
  fp_err e = check_names(ref, d);
  if (e) {
    fp_diag_key(d, ref->key);
    return e;
  }
  char with_bucket[PATH_MAX], plain[PATH_MAX], real[PATH_MAX];
  int n1 = snprintf(with_bucket, sizeof with_bucket, "%s/%s/%s", ls->root, ref->bucket, ref->key);
  int n2 = snprintf(plain, sizeof plain, "%s/%s", ls->root, ref->key);
  if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof with_bucket || (size_t)n2 >= sizeof plain) {
    fp_diag_set(d, FP_ERR_INVAL, "object path too long for key \"%.200s\"", ref->key);
    fp_diag_key(d, ref->key);
    return FP_ERR_INVAL;
  }
  int fd = -1;
  struct stat st;
  open_result r = open_inside(ls, with_bucket, ref->key, &fd, &st, real, sizeof real, d);
  if (r == OPEN_MISSING || r == OPEN_NOT_FILE)
    r = open_inside(ls, plain, ref->key, &fd, &st, real, sizeof real, d);
  if (r != OPEN_OK) {
    if (r == OPEN_ERROR)
      e = d && d->code ? d->code : FP_ERR_IO;
    else
      e = fp_diag_set(d, FP_ERR_NOT_FOUND, "object not found: %s%s (also looked for %s)", plain,
                      r == OPEN_NOT_FILE ? " is not a regular file" : "", with_bucket);
    fp_diag_key(d, ref->key);
    return e;
  }
  info->size = (int64_t)st.st_size;
  copy_trunc(info->location, sizeof info->location, real);
  info->etag[0] = '\0';
  e = pump(fd, real, sink, ud, d);
  close(fd);
  if (e) fp_diag_key(d, ref->key);
  return e;
}

static void local_destroy(fp_objstore *s) {
  local_store *ls = (local_store *)s;
  free(ls->root);
  free(ls);
}

static const fp__objstore_ops local_ops = {"local", local_stream, local_destroy, NULL};

fp_err fp_objstore_local_new(const char *root, fp_objstore **out, fp_diag *d) {
  if (!out) return fp_diag_set(d, FP_ERR_INVAL, "fp_objstore_local_new: out is NULL");
  *out = NULL;
  if (!root || !*root) return fp_diag_set(d, FP_ERR_INVAL, "local object store root is empty");
  char *real = realpath(root, NULL);
  struct stat st;
  if (!real || stat(real, &st) != 0) {
    int err = errno;
    free(real);
    fp_err code = err == ENOENT || err == ENOTDIR ? FP_ERR_NOT_FOUND : FP_ERR_IO;
    fp_diag_set(d, code, "local object store root %s: %s", root, strerror(err));
    if (d && d->code == code) d->sys_errno = err;
    return code;
  }
  if (!S_ISDIR(st.st_mode)) {
    free(real);
    return fp_diag_set(d, FP_ERR_INVAL, "local object store root %s is not a directory", root);
  }
  local_store *ls = calloc(1, sizeof *ls);
  if (!ls) {
    free(real);
    return fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  }
  ls->base.ops = &local_ops;
  ls->root = real;
  ls->root_len = strlen(real);
  *out = &ls->base;
  return FP_OK;
}
