/* buf.c — bounded growable buffer. */
#include "fp/fp_buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fp_buf_init(fp_buf *b, size_t max) {
  b->data = NULL;
  b->len = b->cap = 0;
  b->max = max ? max : (size_t)-1 / 2;
}

fp_err fp_buf_reserve(fp_buf *b, size_t extra) {
  if (extra > b->max - b->len) return FP_ERR_LIMIT;
  size_t need = b->len + extra + 1;
  if (need <= b->cap) return FP_OK;
  size_t ncap = b->cap ? b->cap : 64;
  while (ncap < need) ncap = ncap > ((size_t)-1) / 2 ? need : ncap * 2;
  char *p = realloc(b->data, ncap);
  if (!p) return FP_ERR_NOMEM;
  b->data = p;
  b->cap = ncap;
  return FP_OK;
}

fp_err fp_buf_append(fp_buf *b, const void *p, size_t n) {
  fp_err e = fp_buf_reserve(b, n);
  if (e) return e;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return FP_OK;
}

fp_err fp_buf_puts(fp_buf *b, const char *s) { return fp_buf_append(b, s, strlen(s)); }

fp_err fp_buf_putc(fp_buf *b, char c) { return fp_buf_append(b, &c, 1); }

fp_err fp_buf_appendf(fp_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return FP_ERR_INVAL;
  fp_err e = fp_buf_reserve(b, (size_t)n);
  if (e) return e;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return FP_OK;
}

void fp_buf_reset(fp_buf *b) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
}

void fp_buf_free(fp_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

char *fp_buf_take(fp_buf *b) {
  char *p = b->data;
  if (!p) p = calloc(1, 1);
  b->data = NULL;
  b->len = b->cap = 0;
  return p;
}

static fp_err errno_code(int err) {
  if (err == ENOENT || err == ENOTDIR) return FP_ERR_NOT_FOUND;
  if (err == EACCES || err == EPERM) return FP_ERR_FORBIDDEN;
  return FP_ERR_IO;
}

fp_err fp_buf_read_file(fp_buf *b, const char *path, int *sys_errno) {
  int is_stdin = strcmp(path, "-") == 0;
  FILE *f = is_stdin ? stdin : fopen(path, "rb");
  if (sys_errno) *sys_errno = 0;
  if (!f) {
    if (sys_errno) *sys_errno = errno;
    return errno_code(errno);
  }
  fp_err e = FP_OK;
  for (;;) {
    size_t room = b->max - b->len < 65536 ? b->max - b->len : 65536;
    if (room == 0) { /* at the cap: only a clean EOF keeps us under it */
      e = fgetc(f) == EOF ? FP_OK : FP_ERR_LIMIT;
      break;
    }
    if ((e = fp_buf_reserve(b, room))) break;
    size_t got = fread(b->data + b->len, 1, room, f);
    b->len += got;
    b->data[b->len] = '\0';
    if (got < room) break;
  }
  if (!e && ferror(f)) {
    if (sys_errno) *sys_errno = errno;
    e = FP_ERR_IO;
  }
  if (!is_stdin) fclose(f);
  return e;
}
