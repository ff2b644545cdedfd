/* typeinfer.c — classifies one cell into the set of types it fits (boolean, integer,
 * number, date, datetime, string) and parses the numeric value on the way. Called once per
 * non-missing cell of every column whose type is not already settled as string, so the
 * first byte and the length decide which parser (if any) runs. No allocation on the common
 * path; strtod only for numbers outside the exact fast path. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quality/quality_int.h"

#define M_BOOL (FP__TM(FP_TYPE_BOOLEAN) | FP__TM_STRING)
#define M_INT (FP__TM(FP_TYPE_INTEGER) | FP__TM(FP_TYPE_NUMBER) | FP__TM_STRING)
#define M_NUM (FP__TM(FP_TYPE_NUMBER) | FP__TM_STRING)
#define M_DATE (FP__TM(FP_TYPE_DATE) | FP__TM_STRING)
#define M_DT (FP__TM(FP_TYPE_DATETIME) | FP__TM_STRING)
#define M_STR FP__TM_STRING

static bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

static char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

static bool ieq(const char *s, size_t n, const char *lit) {
  size_t k = strlen(lit);
  if (n != k) return false;
  for (size_t i = 0; i < n; i++)
    if (lower(s[i]) != lit[i]) return false;
  return true;
}

/* ---- numbers -------------------------------------------------------------------------- */

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* strtod on a NUL-terminated copy (the cell is a view). Rare path: long mantissas or large
 * exponents. Note: strtod follows LC_NUMERIC; libfp never calls setlocale. */
static double slow_strtod(const char *s, size_t n) {
  char stack[128];
  char *buf = n < sizeof stack ? stack : malloc(n + 1);
  if (!buf) return NAN;
  memcpy(buf, s, n);
  buf[n] = '\0';
  double d = strtod(buf, NULL);
  if (buf != stack) free(buf);
  return d;
}

/* Parses [+-]?(digits[.digits*]|.digits)([eE][+-]?digits)? exactly covering s[0..n), or
 * NaN/INF/Infinity (any case, optional sign). Returns the mask (M_INT, M_NUM or M_STR). */
static uint32_t classify_number(const char *s, size_t n, fp__cellval *v) {
  const char *p = s, *end = s + n;
  bool neg = false;
  if (*p == '+' || *p == '-') {
    neg = *p == '-';
    p++;
  }
  if (p == end) return M_STR;
  if (!is_digit(*p) && *p != '.') {
    size_t rest = (size_t)(end - p);
    double d;
    if (ieq(p, rest, "nan"))
      d = NAN;
    else if (ieq(p, rest, "inf") || ieq(p, rest, "infinity"))
      d = neg ? -INFINITY : INFINITY;
    else
      return M_STR;
    if (v) v->d = d;
    return M_NUM;
  }

  /* Mantissa: up to 19 significant digits accumulate exactly in m; further integer digits
   * only scale the exponent; further fraction digits make the fast path inexact. */
  uint64_t m = 0;
  int sig = 0, e10 = 0, ndigits = 0;
  bool inexact = false;
  for (; p < end && is_digit(*p); p++, ndigits++) {
    if (sig < 19) {
      m = m * 10 + (uint64_t)(*p - '0');
      if (m) sig++;
    } else {
      e10++;
      inexact = true;
    }
  }
  int int_digits = ndigits;
  bool has_dot = false, has_exp = false;
  if (p < end && *p == '.') {
    has_dot = true;
    for (p++; p < end && is_digit(*p); p++, ndigits++) {
      if (sig < 19) {
        m = m * 10 + (uint64_t)(*p - '0');
        if (m) sig++;
        e10--;
      } else {
        inexact = true;
      }
    }
  }
  if (ndigits == 0) return M_STR; /* ".", "-." */
  if (p < end && (*p == 'e' || *p == 'E')) {
    has_exp = true;
    p++;
    bool eneg = false;
    if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
    if (p == end || !is_digit(*p)) return M_STR;
    int x = 0;
    for (; p < end && is_digit(*p); p++)
      if (x < 100000) x = x * 10 + (*p - '0');
    e10 += eneg ? -x : x;
  }
  if (p != end) return M_STR;

  if (!has_dot && !has_exp) {
    /* Integer syntax: INTEGER when it fits int64 (leading zeros allowed), else NUMBER.
     * Up to 18 significant digits m is exact and cannot overflow; only longer ones need
     * the careful conversion. */
    if (sig <= 18 && !inexact) {
      if (v) {
        v->i = neg ? -(int64_t)m : (int64_t)m;
        v->d = (double)v->i;
      }
      return M_INT;
    }
    uint64_t u = 0;
    bool ovf = false;
    const char *q = s + (s[0] == '+' || s[0] == '-');
    for (int i = 0; i < int_digits; i++) {
      unsigned dgt = (unsigned)(q[i] - '0');
      if (u > (UINT64_MAX - dgt) / 10) {
        ovf = true;
        break;
      }
      u = u * 10 + dgt;
    }
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    if (!ovf && u <= lim) {
      if (v) {
        v->i = neg ? (u == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)u) : (int64_t)u;
        v->d = (double)v->i;
      }
      return M_INT;
    }
  }
  if (v) {
    /* Clinger's fast path: m and 10^|e10| are exact doubles, one correctly rounded op. */
    if (!inexact && m <= (1ull << 53) && e10 >= -22 && e10 <= 22) {
      double d = (double)m;
      d = e10 < 0 ? d / pow10_exact[-e10] : d * pow10_exact[e10];
      v->d = neg ? -d : d;
    } else {
      v->d = slow_strtod(s, n);
    }
  }
  return M_NUM;
}

/* ---- dates ---------------------------------------------------------------------------- */

static int d2(const char *s) {
  if (!is_digit(s[0]) || !is_digit(s[1])) return -1;
  return (s[0] - '0') * 10 + (s[1] - '0');
}

static bool leap(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/* YYYY-MM-DD with a real calendar day, year 0001..9999 (Python's date range). v (may be
 * NULL) gets the day number: the histogram of a date column counts days. */
static bool valid_date(const char *s, fp__cellval *v) {
  if (s[4] != '-' || s[7] != '-') return false;
  int hi = d2(s), lo = d2(s + 2), mo = d2(s + 5), da = d2(s + 8);
  if (hi < 0 || lo < 0 || mo < 1 || mo > 12 || da < 1) return false;
  int y = hi * 100 + lo;
  if (y < 1) return false;
  static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int max = dim[mo - 1] + (mo == 2 && leap(y));
  if (da > max) return false;
  if (v) v->d = (double)days_from_civil(y, mo, da);
  return true;
}

/* date[T ]HH:MM:SS[.f{1,9}][Z|[+-]HH:MM]. v (may be NULL) gets seconds since the epoch,
 * UTC: an offset is subtracted, no offset is taken as UTC. */
static bool valid_datetime(const char *s, size_t n, fp__cellval *v) {
  if (!valid_date(s, v) || (s[10] != 'T' && s[10] != ' ')) return false;
  if (s[13] != ':' || s[16] != ':') return false;
  int hh = d2(s + 11), mm = d2(s + 14), ss = d2(s + 17);
  if (hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 59) return false;
  size_t i = 19;
  double frac = 0, scale = 0.1;
  if (i < n && s[i] == '.') {
    size_t f = 0;
    for (i++; i < n && is_digit(s[i]); i++, f++, scale /= 10) frac += (s[i] - '0') * scale;
    if (f < 1 || f > 9) return false;
  }
  int offset = 0; /* seconds east of UTC */
  if (i == n || (s[i] == 'Z' && i + 1 == n)) {
  } else if ((s[i] == '+' || s[i] == '-') && n - i == 6 && s[i + 3] == ':') {
    int oh = d2(s + i + 1), om = d2(s + i + 4);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return false;
    offset = (s[i] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
  } else {
    return false;
  }
  if (v) v->d = v->d * 86400.0 + hh * 3600 + mm * 60 + ss - offset + frac;
  return true;
}

/* ---- classification ------------------------------------------------------------------- */

uint32_t fp__classify(const char *s, size_t n, fp__cellval *v) {
  if (n == 0) return M_STR;
  switch (s[0]) {
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
      /* "dddd-" can only be a date or datetime; everything else starting with a digit is a
       * number or a string. */
      if (n >= 10 && s[4] == '-') {
        if (n == 10) return valid_date(s, v) ? M_DATE : M_STR;
        if (n >= 19) return valid_datetime(s, n, v) ? M_DT : M_STR;
        return M_STR;
      }
      return classify_number(s, n, v);
    case '+':
    case '-':
    case '.':
    case 'n':
    case 'N':
    case 'i':
    case 'I': return classify_number(s, n, v);
    case 't':
    case 'T':
      if (n == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "True", 4) || !memcmp(s, "TRUE", 4))) {
        if (v) v->b = true;
        return M_BOOL;
      }
      return M_STR;
    case 'f':
    case 'F':
      if (n == 5 && (!memcmp(s, "false", 5) || !memcmp(s, "False", 5) || !memcmp(s, "FALSE", 5))) {
        if (v) v->b = false;
        return M_BOOL;
      }
      return M_STR;
    default: return M_STR;
  }
}

fp_type fp__type_of_mask(uint32_t mask) {
  for (int t = FP_TYPE_EMPTY; t <= FP_TYPE_STRING; t++)
    if (mask & FP__TM(t)) return (fp_type)t;
  return FP_TYPE_STRING;
}

uint32_t fp__type_fits(fp_type t) {
  switch (t) {
    case FP_TYPE_EMPTY: return FP__TM_ALL;
    case FP_TYPE_BOOLEAN: return M_BOOL;
    case FP_TYPE_INTEGER: return M_INT;
    case FP_TYPE_NUMBER: return M_NUM;
    case FP_TYPE_DATE: return M_DATE;
    case FP_TYPE_DATETIME: return M_DT;
    default: return M_STR;
  }
}

fp_type fp__type_join(fp_type a, fp_type b) {
  return fp__type_of_mask(fp__type_fits(a) & fp__type_fits(b));
}

const char *fp_type_name(fp_type t) {
  static const char *const names[] = {"empty", "boolean",  "integer", "number",
                                      "date",  "datetime", "string"};
  return (unsigned)t <= FP_TYPE_STRING ? names[t] : "string";
}

void fp__format_double(double x, char *out, size_t outsz) {
  if (isnan(x)) {
    snprintf(out, outsz, "NaN");
    return;
  }
  if (isinf(x)) {
    snprintf(out, outsz, x < 0 ? "-INF" : "INF");
    return;
  }
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(out, outsz, "%.*g", prec, x);
    if (prec == 17 || strtod(out, NULL) == x) return;
  }
}
