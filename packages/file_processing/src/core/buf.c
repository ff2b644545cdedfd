/* buf.c — bounded growable buffer. */
#include "fp/fp_buf.h"

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
