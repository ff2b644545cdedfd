/* fp_err.h — the one error type of libfp and the diagnostic that travels with it.
 *
 * Every fallible function returns an fp_err; FP_OK is 0. Human detail goes into a
 * caller-owned fp_diag: the first error recorded wins (later fp_diag_set calls on a
 * diag that already holds an error keep the original message), as curl's errorbuffer. */
#ifndef FP_ERR_H
#define FP_ERR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* XX(NAME, exit_code, text). exit codes follow DESIGN.md: 2 = bad input, no retry helps;
 * 3 = transient, a retry may help. */
#define FP_ERR_MAP(XX)                                                   \
  XX(OK, 0, "ok")                                                        \
  XX(NOMEM, 3, "out of memory")                                          \
  XX(INVAL, 2, "invalid argument")                                       \
  XX(USAGE, 2, "usage error")                                            \
  XX(IO, 3, "I/O error")                                                 \
  XX(NOT_FOUND, 2, "not found")                                          \
  XX(FORBIDDEN, 2, "access refused")                                     \
  XX(JSON, 2, "malformed JSON")                                          \
  XX(EVENT, 2, "unsupported or malformed event")                         \
  XX(CSV, 2, "malformed CSV")                                            \
  XX(UTF8, 2, "invalid UTF-8")                                           \
  XX(LIMIT, 2, "limit exceeded")                                         \
  XX(DECOMPRESS, 2, "corrupt compressed data")                           \
  XX(CONFIG, 2, "bad configuration")                                     \
  XX(CONTRACT, 2, "bad contract")                                        \
  XX(DB, 3, "database error")                                            \
  XX(TRANSIENT, 3, "transient failure")                                  \
  XX(NOT_IMPLEMENTED, 2, "not implemented")                              \
  XX(INTERNAL, 3, "internal error")

typedef enum fp_err {
#define FP__ERR_ENUM(name, exitc, text) FP_ERR_##name,
  FP_ERR_MAP(FP__ERR_ENUM)
#undef FP__ERR_ENUM
  FP_ERR__COUNT
} fp_err;

#define FP_OK FP_ERR_OK

/* Borrowed static strings. */
const char *fp_err_name(fp_err e);   /* "NOT_FOUND" */
const char *fp_strerror(fp_err e);   /* "not found" */
/* Process exit code for a failure of this kind (2 or 3; 0 for FP_OK). */
int fp_err_exit_code(fp_err e);

#define FP_DIAG_MSG_MAX 768
#define FP_DIAG_KEY_MAX 256

/* Where and why something failed. Zeroed fields mean "unknown / not applicable".
 * row is 1-based as Frictionless counts rows (header = row 1); column is 1-based. */
typedef struct fp_diag {
  fp_err code;
  int sys_errno;
  uint64_t row;
  uint32_t column;
  uint64_t byte_offset;
  int has_offset;            /* byte_offset is meaningful (0 is a valid offset) */
  char key[FP_DIAG_KEY_MAX]; /* object key, file path or JSON path the error is about */
  char msg[FP_DIAG_MSG_MAX];
} fp_diag;

void fp_diag_clear(fp_diag *d); /* NULL-safe */

/* Records code and a printf-style message unless d already holds an error; returns code
 * either way, so `return fp_diag_set(d, FP_ERR_IO, "...")` reads naturally. d may be NULL. */
fp_err fp_diag_set(fp_diag *d, fp_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
fp_err fp_diag_vset(fp_diag *d, fp_err code, const char *fmt, va_list ap);
/* Location setters: only fill fields still unset, so the innermost location wins. */
void fp_diag_at(fp_diag *d, uint64_t row, uint32_t column, uint64_t byte_offset);
void fp_diag_key(fp_diag *d, const char *key);

/* Renders "CODE: msg (key 'k', row R, column C, byte B)" into out (always NUL-terminated). */
void fp_diag_format(const fp_diag *d, char *out, size_t outsz);

#endif
