/* tschema_num.c — integer and number casting with Frictionless semantics (Python int() and
 * decimal.Decimal() on the cell after the bareNumber / groupChar / decimalChar processing),
 * Python's str.isspace() whitespace, and locale-free shortest round-trip double text.
 *
 * Both casts run for every cell of numeric columns, so each starts with a fast path for the
 * common shape (plain ASCII digits, optional sign and one '.') that neither allocates nor
 * touches the C library; anything else takes the exact, slower emulation. */
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quality/tschema_int.h"

/* ---- whitespace ----------------------------------------------------------------------- */

size_t fp__ts_ws_at(const char *s, size_t n) {
  if (!n) return 0;
  unsigned char c = (unsigned char)s[0];
  if (c < 0x80) return (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F));
  const unsigned char *u = (const unsigned char *)s;
  if (c == 0xC2 && n >= 2) return (u[1] == 0x85 || u[1] == 0xA0) ? 2 : 0;
  if (n < 3) return 0;
  if (c == 0xE1) return (u[1] == 0x9A && u[2] == 0x80) ? 3 : 0; /* U+1680 */
  if (c == 0xE2 && u[1] == 0x80) /* U+2000..200A, 2028, 2029, 202F */
    return ((u[2] >= 0x80 && u[2] <= 0x8A) || u[2] == 0xA8 || u[2] == 0xA9 || u[2] == 0xAF) ? 3
                                                                                           : 0;
  if (c == 0xE2 && u[1] == 0x81) return u[2] == 0x9F ? 3 : 0; /* U+205F */
  if (c == 0xE3) return (u[1] == 0x80 && u[2] == 0x80) ? 3 : 0; /* U+3000 */
  return 0;
}

size_t fp__ts_ws_before(const char *s, size_t n) {
  if (!n) return 0;
  unsigned char c = (unsigned char)s[n - 1];
  if (c < 0x80) return fp__ts_ws_at(s + n - 1, 1);
  if (n >= 2 && fp__ts_ws_at(s + n - 2, 2) == 2) return 2;
  if (n >= 3 && fp__ts_ws_at(s + n - 3, 3) == 3) return 3;
  return 0;
}

void fp__ts_strip(const char **s, size_t *n) {
  const char *p = *s;
  size_t len = *n, k;
  while (len && (k = fp__ts_ws_at(p, len))) p += k, len -= k;
  while (len && (k = fp__ts_ws_before(p, len))) len -= k;
  *s = p;
  *n = len;
}

size_t fp__ts_utf8_len(const char *s, size_t n) {
  size_t c = 0;
  for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
  return c;
}

/* ---- Python int() ---------------------------------------------------------------------- */

/* int() strips ASCII whitespace (not 0x1C-0x1F, which str.strip() also removes) and, for
 * str input, the Unicode spaces. */
static void int_trim(const char **s, size_t *n) {
  const char *p = *s;
  size_t len = *n, k;
  for (;;) {
    if (len && (unsigned char)p[0] >= 0x1C && (unsigned char)p[0] <= 0x1F) break;
    if (!len || !(k = fp__ts_ws_at(p, len))) break;
    p += k, len -= k;
  }
  for (;;) {
    if (len && (unsigned char)p[len - 1] >= 0x1C && (unsigned char)p[len - 1] <= 0x1F) break;
    if (!len || !(k = fp__ts_ws_before(p, len))) break;
    len -= k;
  }
  *s = p;
  *n = len;
}

bool fp__ts_py_int(const char *s, size_t n, int64_t *out) {
  int_trim(&s, &n);
  size_t i = 0;
  bool neg = false;
  if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  if (i >= n) return false;
  uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  bool prev_digit = false;
  for (; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '_') { /* only between two digits */
      if (!prev_digit || i + 1 >= n || s[i + 1] < '0' || s[i + 1] > '9') return false;
      prev_digit = false;
      continue;
    }
    if (c < '0' || c > '9') return false;
    unsigned d = c - '0';
    if (v > (lim - d) / 10) return false; /* Python has big ints; int64 is our range */
    v = v * 10 + d;
    prev_digit = true;
  }
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return true;
}

/* ---- C-locale strtod / snprintf --------------------------------------------------------- */

static locale_t g_c_locale;
static pthread_once_t g_c_locale_once = PTHREAD_ONCE_INIT;
static void c_locale_init(void) { g_c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }
static locale_t c_locale(void) {
  pthread_once(&g_c_locale_once, c_locale_init);
  return g_c_locale;
}

/* s is NUL-terminated ASCII in C syntax. */
static double c_strtod(const char *s) {
  locale_t l = c_locale();
  return l ? strtod_l(s, NULL, l) : strtod(s, NULL);
}

static const double POW10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* m * 10^e10 when both are small enough for one correctly rounded IEEE operation
 * (Clinger's fast path); false otherwise. */
static bool exact_scale(uint64_t m, int64_t e10, double *out) {
  if (m > (1ull << 53) || e10 < -22 || e10 > 22) return false;
  double d = (double)m;
  *out = e10 >= 0 ? d * POW10[e10] : d / POW10[-e10];
  return true;
}

/* ---- Python Decimal() -------------------------------------------------------------------- */

#define SIG_MAX 767 /* significant digits kept; beyond them one sticky digit keeps rounding */

static bool ieq_word(const char *s, size_t n, const char *w) {
  size_t k = strlen(w);
  if (n != k) return false;
  for (size_t i = 0; i < k; i++) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
    if (c != w[i]) return false;
  }
  return true;
}

/* Special values: Inf, Infinity, NaN[digits], sNaN[digits] (case-insensitive). t has no '_'. */
static bool decimal_special(const char *t, size_t n, bool neg, double *out) {
  if (ieq_word(t, n, "inf") || ieq_word(t, n, "infinity")) {
    *out = neg ? -INFINITY : INFINITY;
    return true;
  }
  size_t k = 0;
  if (n >= 3 && ieq_word(t, 3, "nan")) k = 3;
  else if (n >= 4 && ieq_word(t, 4, "snan")) k = 4;
  if (!k) return false;
  for (size_t i = k; i < n; i++)
    if (t[i] < '0' || t[i] > '9') return false;
  *out = neg ? -NAN : NAN;
  return true;
}

bool fp__ts_py_decimal(const char *s, size_t n, double *out) {
  fp__ts_strip(&s, &n);
  /* Copy without underscores (Decimal ignores every '_'); the text part is short. */
  char word[64];
  size_t i = 0;
  bool neg = false;
  while (i < n && s[i] == '_') i++;
  if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  /* digits before/after the point, exponent */
  char sig[SIG_MAX + 2];
  size_t nsig = 0;
  bool sticky = false, any_digit = false, seen_point = false;
  int64_t exp10 = 0; /* value = 0.sig... scaled: mantissa digits * 10^exp10 */
  size_t j = i;
  for (; j < n; j++) {
    char c = s[j];
    if (c == '_') continue;
    if (c >= '0' && c <= '9') {
      any_digit = true;
      if (nsig == 0 && c == '0') { /* leading zero */
        if (seen_point) exp10--;
        continue;
      }
      if (nsig < SIG_MAX) sig[nsig++] = c;
      else {
        if (c != '0') sticky = true;
        if (!seen_point) exp10++;
        continue;
      }
      if (seen_point) exp10--;
      continue;
    }
    if (c == '.' && !seen_point) {
      seen_point = true;
      continue;
    }
    break;
  }
  if (!any_digit) { /* maybe a special value */
    if (seen_point) return false;
    size_t w = 0;
    for (size_t k = i; k < n; k++) {
      if (s[k] == '_') continue;
      if (w >= sizeof word) return false;
      word[w++] = s[k];
    }
    return decimal_special(word, w, neg, out);
  }
  if (j < n) { /* exponent */
    if (s[j] != 'e' && s[j] != 'E') return false;
    j++;
    while (j < n && s[j] == '_') j++;
    bool eneg = false;
    if (j < n && (s[j] == '+' || s[j] == '-')) eneg = s[j++] == '-';
    int64_t e = 0;
    bool edig = false;
    for (; j < n; j++) {
      if (s[j] == '_') continue;
      if (s[j] < '0' || s[j] > '9') return false;
      edig = true;
      if (e < 100000000) e = e * 10 + (s[j] - '0');
    }
    if (!edig) return false;
    exp10 += eneg ? -e : e;
  }
  if (nsig == 0) {
    *out = neg ? -0.0 : 0.0;
    return true;
  }
  if (nsig <= 19 && !sticky) {
    uint64_t m = 0;
    for (size_t k = 0; k < nsig; k++) m = m * 10 + (uint64_t)(sig[k] - '0');
    double d;
    if (exact_scale(m, exp10, &d)) {
      *out = neg ? -d : d;
      return true;
    }
  }
  if (sticky) sig[nsig++] = '1', exp10--;
  /* "<digits>e<exp>" for strtod in the C locale. */
  char buf[SIG_MAX + 2 + 32];
  memcpy(buf, sig, nsig);
  if (exp10 > 99999999) exp10 = 99999999;
  if (exp10 < -99999999) exp10 = -99999999;
  snprintf(buf + nsig, sizeof buf - nsig, "e%lld", (long long)exp10);
  double d = c_strtod(buf);
  *out = neg ? -d : d;
  return true;
}

/* ---- bareNumber=false ------------------------------------------------------------------- */

/* Frictionless removes ((^[^-\d]*)|(\D*$)): the leading run of characters that are neither
 * '-' nor digits, then the trailing run of non-digits. Digits are ASCII here (Python's \d
 * also takes other Unicode decimal digits). */
static void strip_non_number(const char **s, size_t *n) {
  const char *p = *s;
  size_t len = *n;
  while (len && *p != '-' && !(*p >= '0' && *p <= '9')) p++, len--;
  while (len && !(p[len - 1] >= '0' && p[len - 1] <= '9')) len--;
  *s = p;
  *n = len;
}

#define NUM_BUF 1024 /* processed numeric text longer than this is not a number we take */

/* ---- integer ---------------------------------------------------------------------------- */

static bool integer_slow(const fp_field *f, const char *s, size_t n, int64_t *out) {
  fp__ts_strip(&s, &n);
  if (!f->bare_number) strip_non_number(&s, &n);
  if (!f->group_char) return fp__ts_py_int(s, n, out);
  /* groupChar on integers: Table Schema v2 (frictionless-py 5 ignores it for integers). */
  char buf[NUM_BUF];
  size_t w = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == f->group_char) continue;
    if (w >= sizeof buf) return false;
    buf[w++] = s[i];
  }
  return fp__ts_py_int(buf, w, out);
}

bool fp__ts_cast_integer(const fp_field *f, const char *s, size_t n, int64_t *out) {
  /* Hot path: [-]digits with at most 18 digits (cannot overflow), default options. */
  if (f->bare_number && !f->group_char && n && n <= 19) {
    size_t i = s[0] == '-';
    if (i < n && n - i <= 18) {
      uint64_t v = 0;
      size_t j = i;
      for (; j < n; j++) {
        unsigned d = (unsigned)((unsigned char)s[j] - '0');
        if (d > 9) break;
        v = v * 10 + d;
      }
      if (j == n) {
        *out = i ? -(int64_t)v : (int64_t)v;
        return true;
      }
    }
  }
  return integer_slow(f, s, n, out);
}

/* ---- number ----------------------------------------------------------------------------- */

static bool number_slow(const fp_field *f, const char *s, size_t n, double *out) {
  fp__ts_strip(&s, &n);
  bool processor = !f->bare_number || f->group_char || f->decimal_char != '.';
  if (!processor) return fp__ts_py_decimal(s, n, out);
  if (!f->bare_number) strip_non_number(&s, &n);
  char buf[NUM_BUF];
  size_t w = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (f->group_char && c == f->group_char) continue;
    if (f->decimal_char != '.' && c == '.') return false; /* a '.' that is not the decimal */
    if (c == f->decimal_char) c = '.';
    if (w >= sizeof buf) return false;
    buf[w++] = c;
  }
  return fp__ts_py_decimal(buf, w, out);
}

bool fp__ts_cast_number(const fp_field *f, const char *s, size_t n, double *out) {
  /* Hot path: [-]digits[.digits] with <= 19 significant digits, default options. */
  if (f->bare_number && !f->group_char && f->decimal_char == '.' && n && n <= 21) {
    size_t i = s[0] == '-';
    uint64_t m = 0;
    int nd = 0, frac = 0;
    bool point = false;
    size_t j = i;
    for (; j < n; j++) {
      unsigned d = (unsigned)((unsigned char)s[j] - '0');
      if (d <= 9) {
        m = m * 10 + d;
        nd++;
        frac += point;
        continue;
      }
      if (s[j] == '.' && !point) {
        point = true;
        continue;
      }
      break;
    }
    double v;
    if (j == n && nd > 0 && nd <= 19 && exact_scale(m, -frac, &v)) {
      *out = i ? -v : v;
      return true;
    }
  }
  return number_slow(f, s, n, out);
}

/* ---- formatting ------------------------------------------------------------------------- */

size_t fp__ts_fmt_double(double d, char *out, size_t outsz) {
  char tmp[40];
  if (isnan(d)) snprintf(tmp, sizeof tmp, "NaN");
  else if (isinf(d)) snprintf(tmp, sizeof tmp, "%s", d < 0 ? "-Infinity" : "Infinity");
  else if (d == 0) snprintf(tmp, sizeof tmp, "0");
  else {
    locale_t l = c_locale(), old = l ? uselocale(l) : (locale_t)0;
    for (int prec = 15; prec <= 17; prec++) {
      snprintf(tmp, sizeof tmp, "%.*g", prec, d);
      if (prec == 17 || c_strtod(tmp) == d) break;
    }
    if (l) uselocale(old);
  }
  size_t k = strlen(tmp);
  if (outsz) {
    size_t c = k < outsz - 1 ? k : outsz - 1;
    memcpy(out, tmp, c);
    out[c] = '\0';
  }
  return k;
}
