/* fp_buf.h — one growable byte buffer with a hard cap (curl's dynbuf idea).
 *
 * The buffer owns data; data is always NUL-terminated after a successful append (the NUL
 * is not counted in len), so text built here can be used as a C string. Appends past
 * max fail with FP_ERR_LIMIT and leave the buffer unchanged. */
#ifndef FP_BUF_H
#define FP_BUF_H

#include <stddef.h>

#include "fp/fp_err.h"

typedef struct fp_buf {
  char *data;  /* owned; NULL until the first append */
  size_t len;  /* bytes used, excluding the trailing NUL */
  size_t cap;  /* bytes allocated */
  size_t max;  /* hard cap on len */
} fp_buf;

void fp_buf_init(fp_buf *b, size_t max);
fp_err fp_buf_append(fp_buf *b, const void *p, size_t n);
fp_err fp_buf_puts(fp_buf *b, const char *s);
fp_err fp_buf_putc(fp_buf *b, char c);
fp_err fp_buf_appendf(fp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
fp_err fp_buf_reserve(fp_buf *b, size_t extra); /* room for extra more bytes + NUL */
void fp_buf_reset(fp_buf *b);                   /* len = 0, keeps memory */
void fp_buf_free(fp_buf *b);                    /* releases memory; b reusable after init */
/* Appends the whole content of path ("-" = standard input) to b, bounded by b->max:
 * FP_ERR_LIMIT when the file is larger. Open/read failures: FP_ERR_NOT_FOUND (ENOENT,
 * ENOTDIR), FP_ERR_FORBIDDEN (EACCES, EPERM), FP_ERR_IO otherwise, with errno in *sys_errno
 * (may be NULL). No diag: callers name the file in their own words. Reads straight into
 * the buffer, so no copy of a secret file is left in a stack chunk. */
fp_err fp_buf_read_file(fp_buf *b, const char *path, int *sys_errno);

/* Hands the bytes to the caller (owned, free with free()); b is left empty.
 * Returns "" duplicated when nothing was appended; NULL only on allocation failure. */
char *fp_buf_take(fp_buf *b);

#endif
