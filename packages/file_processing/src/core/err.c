/* err.c — fp_err names/texts/exit codes from the X-macro, and the fp_diag helpers. */
#include "fp/fp_err.h"

#include <stdio.h>
#include <string.h>

static const char *const err_names[] = {
#define XX(name, exitc, text) #name,
    FP_ERR_MAP(XX)
#undef XX
};
static const char *const err_texts[] = {
#define XX(name, exitc, text) text,
    FP_ERR_MAP(XX)
#undef XX
};
static const int err_exits[] = {
#define XX(name, exitc, text) exitc,
    FP_ERR_MAP(XX)
#undef XX
};

const char *fp_err_name(fp_err e) {
  return (unsigned)e < FP_ERR__COUNT ? err_names[e] : "UNKNOWN";
}

const char *fp_strerror(fp_err e) {
  return (unsigned)e < FP_ERR__COUNT ? err_texts[e] : "unknown error";
}

int fp_err_exit_code(fp_err e) {
  return (unsigned)e < FP_ERR__COUNT ? err_exits[e] : 3;
}

void fp_diag_clear(fp_diag *d) {
  if (d) memset(d, 0, sizeof *d);
}

fp_err fp_diag_vset(fp_diag *d, fp_err code, const char *fmt, va_list ap) {
  if (!d || d->code != FP_OK) return code;
  d->code = code;
  if (fmt)
    vsnprintf(d->msg, sizeof d->msg, fmt, ap);
  else
    snprintf(d->msg, sizeof d->msg, "%s", fp_strerror(code));
  return code;
}

fp_err fp_diag_set(fp_diag *d, fp_err code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fp_err r = fp_diag_vset(d, code, fmt, ap);
  va_end(ap);
  return r;
}

void fp_diag_at(fp_diag *d, uint64_t row, uint32_t column, uint64_t byte_offset) {
  if (!d) return;
  if (!d->row) d->row = row;
  if (!d->column) d->column = column;
  if (!d->has_offset) {
    d->byte_offset = byte_offset;
    d->has_offset = 1;
  }
}

void fp_diag_key(fp_diag *d, const char *key) {
  if (d && key && !d->key[0]) snprintf(d->key, sizeof d->key, "%s", key);
}

void fp_diag_format(const fp_diag *d, char *out, size_t outsz) {
  if (!out || !outsz) return;
  if (!d) {
    snprintf(out, outsz, "unknown error");
    return;
  }
  int n = snprintf(out, outsz, "%s: %s", fp_err_name(d->code),
                   d->msg[0] ? d->msg : fp_strerror(d->code));
  size_t used = n < 0 ? 0 : (size_t)n;
  const char *sep = " (";
  if (d->key[0] && used < outsz) {
    n = snprintf(out + used, outsz - used, "%s'%s'", sep, d->key);
    used += n < 0 ? 0 : (size_t)n, sep = ", ";
  }
  if (d->row && used < outsz) {
    n = snprintf(out + used, outsz - used, "%srow %llu", sep, (unsigned long long)d->row);
    used += n < 0 ? 0 : (size_t)n, sep = ", ";
  }
  if (d->column && used < outsz) {
    n = snprintf(out + used, outsz - used, "%sfield %u", sep, d->column);
    used += n < 0 ? 0 : (size_t)n, sep = ", ";
  }
  if (d->has_offset && used < outsz) {
    n = snprintf(out + used, outsz - used, "%sbyte %llu", sep,
                 (unsigned long long)d->byte_offset);
    used += n < 0 ? 0 : (size_t)n, sep = ", ";
  }
  if (sep[0] == ',' && used < outsz) snprintf(out + used, outsz - used, ")");
}
