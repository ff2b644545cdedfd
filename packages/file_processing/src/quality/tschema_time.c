/* tschema_time.c — date, time, datetime, year, yearmonth and duration casting with
 * Frictionless semantics:
 *   date     default: datetime.strptime(cell, "%Y-%m-%d")
 *   time     default: dateutil isoparse("2000-01-01T" + cell) after cell[5] == ':' and
 *                     len >= 8
 *   datetime default: dateutil isoparse(cell) after cell[16] == ':' and len >= 19
 *   any:              dateutil.parser.parse subset (tschema_any.c)
 *   other formats:    datetime.strptime(cell, format) — our own strptime-lite below, with the
 *                     C locale's names, never the C library's strptime (locale-dependent and
 *                     lax)
 *   year:             4 characters, Python int(), 0..9999
 *   yearmonth:        "Y-M" split on the only '-', Python int() each, month 1..12
 *   duration:         isodate.parse_duration (ISO 8601 PnYnMnWnDTnHnMnS)
 * The plain ISO date "YYYY-MM-DD" has a fast path; everything else is exact emulation. */
#include <math.h>
#include <string.h>

#include "quality/tschema_int.h"

static inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
static inline char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }

/* ---- calendar ----------------------------------------------------------------------------- */

int64_t fp__ts_days_from_civil(int64_t y, int32_t m, int32_t d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void fp__ts_civil_from_days(int64_t z, int32_t *y, int32_t *m, int32_t *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t mm = mp < 10 ? mp + 3 : mp - 9;
  *d = (int32_t)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int32_t)mm;
  *y = (int32_t)(yoe + era * 400 + (mm <= 2));
}

static bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int32_t fp__ts_days_in_month(int64_t y, int32_t m) {
  static const int8_t dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12) return 0;
  return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Python's datetime.date range and calendar. */
static bool valid_date(int64_t y, int64_t m, int64_t d) {
  return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 &&
         d <= fp__ts_days_in_month(y, (int32_t)m);
}

static bool valid_clock(int64_t h, int64_t mi, int64_t s, int64_t us) {
  return h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && s >= 0 && s <= 59 && us >= 0 &&
         us <= 999999;
}

/* Monday = 0, as date.weekday(). */
static int weekday_of(int64_t days) { return (int)(((days % 7) + 7 + 3) % 7); }

/* days <-> proleptic ordinal within Python's date range */
#define DAY_MIN (-719162) /* 0001-01-01 */
#define DAY_MAX 2932896   /* 9999-12-31 */

/* Python int() of s[a..b), clipped to n; empty is an error. */
static bool int_slice(const char *s, size_t n, size_t a, size_t b, int64_t *v) {
  if (a > n) a = n;
  if (b > n) b = n;
  if (b <= a) return false;
  return fp__ts_py_int(s + a, b - a, v);
}

static bool all_ascii(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] >= 0x80) return false;
  return true;
}

/* ---- strptime-lite ------------------------------------------------------------------------- */

/* Alternatives of each numeric directive, in the order Python's _strptime regex tries them.
 * Mini-syntax: 'D' any digit, "[xy]" a digit from x to y, other bytes literal. */
static const char *const ALT_d[] = {"3[01]", "[12]D", "0[19]", "[19]", " [19]", NULL};
static const char *const ALT_H[] = {"2[03]", "[01]D", "D", NULL};
static const char *const ALT_I[] = {"1[02]", "0[19]", "[19]", NULL};
static const char *const ALT_j[] = {"36[06]", "3[05]D", "[12]DD", "0[19]D", "00[19]",
                                    "[19]D",  "0[19]", "[19]",   NULL};
static const char *const ALT_m[] = {"1[02]", "0[19]", "[19]", NULL};
static const char *const ALT_M[] = {"[05]D", "D", NULL};
static const char *const ALT_S[] = {"6[01]", "[05]D", "D", NULL};
static const char *const ALT_U[] = {"5[03]", "[04]D", "D", NULL};
static const char *const ALT_V[] = {"5[03]", "0[19]", "[14]D", "D", NULL};
static const char *const ALT_w[] = {"[06]", NULL};
static const char *const ALT_u[] = {"[17]", NULL};
static const char *const ALT_y[] = {"DD", NULL};
static const char *const ALT_Y[] = {"DDDD", NULL};

static const char *const MON_ABBR[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
                                       "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const MON_FULL[] = {"january", "february", "march",     "april",
                                       "may",     "june",     "july",      "august",
                                       "september", "october", "november", "december", NULL};
static const char *const DAY_ABBR[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", NULL};
static const char *const DAY_FULL[] = {"monday", "tuesday",  "wednesday", "thursday",
                                       "friday", "saturday", "sunday",    NULL};
static const char *const AMPM[] = {"am", "pm", NULL};
static const char *const TZNAMES[] = {"gmt", "utc", NULL};

static const char *const *alts_of(char d) {
  switch (d) {
    case 'd': return ALT_d;
    case 'H': return ALT_H;
    case 'I': return ALT_I;
    case 'j': return ALT_j;
    case 'm': return ALT_m;
    case 'M': return ALT_M;
    case 'S': return ALT_S;
    case 'U':
    case 'W': return ALT_U;
    case 'V': return ALT_V;
    case 'w': return ALT_w;
    case 'u': return ALT_u;
    case 'y': return ALT_y;
    case 'Y':
    case 'G': return ALT_Y;
    default: return NULL;
  }
}

static const char *const *names_of(char d) {
  switch (d) {
    case 'b': return MON_ABBR;
    case 'B': return MON_FULL;
    case 'a': return DAY_ABBR;
    case 'A': return DAY_FULL;
    case 'p': return AMPM;
    case 'Z': return TZNAMES;
    default: return NULL;
  }
}

static size_t alt_match(const char *alt, const char *s, size_t n, size_t pos) {
  size_t k = 0;
  for (const char *a = alt; *a; k++) {
    if (pos + k >= n) return 0;
    char c = s[pos + k];
    if (*a == 'D') {
      if (!is_digit(c)) return 0;
      a++;
    } else if (*a == '[') {
      if (c < a[1] || c > a[2]) return 0;
      a += 4;
    } else {
      if (c != *a) return 0;
      a++;
    }
  }
  return k;
}

/* Index of the name matching s at pos (case-insensitive), -1 if none; *len its length. */
static int name_match(const char *const *names, const char *s, size_t n, size_t pos,
                      size_t *len) {
  for (int i = 0; names[i]; i++) {
    size_t k = strlen(names[i]);
    if (pos + k > n) continue;
    size_t j = 0;
    while (j < k && lower(s[pos + j]) == names[i][j]) j++;
    if (j == k) {
      *len = k;
      return i;
    }
  }
  return -1;
}

/* Candidate lengths of %z at pos in the regex's order:
 * [+-]\d\d:?[0-5]\d(:?[0-5]\d(\.\d{1,6})?)?|Z  (greedy, then backtracking). */
static size_t z_candidates(const char *s, size_t n, size_t pos, size_t out[32]) {
  size_t k = 0;
  if (pos + 3 <= n && (s[pos] == '+' || s[pos] == '-') && is_digit(s[pos + 1]) &&
      is_digit(s[pos + 2])) {
    for (int c1 = 1; c1 >= 0; c1--) {
      size_t p1 = pos + 3;
      if (c1) {
        if (p1 < n && s[p1] == ':') p1++;
        else continue;
      }
      if (!(p1 + 2 <= n && s[p1] >= '0' && s[p1] <= '5' && is_digit(s[p1 + 1]))) continue;
      size_t p2 = p1 + 2;
      for (int c2 = 1; c2 >= 0; c2--) {
        size_t p3 = p2;
        if (c2) {
          if (p3 < n && s[p3] == ':') p3++;
          else continue;
        }
        if (!(p3 + 2 <= n && s[p3] >= '0' && s[p3] <= '5' && is_digit(s[p3 + 1]))) continue;
        size_t p4 = p3 + 2;
        if (p4 < n && s[p4] == '.') {
          size_t dmax = 0;
          while (dmax < 6 && p4 + 1 + dmax < n && is_digit(s[p4 + 1 + dmax])) dmax++;
          for (size_t d = dmax; d >= 1; d--) out[k++] = p4 + 1 + d - pos;
        }
        out[k++] = p4 - pos;
      }
      out[k++] = p2 - pos;
    }
  }
  if (pos < n && s[pos] == 'Z') out[k++] = 1;
  return k;
}

#define SP_MAX_ITEMS 64
#define SP_PAT_MAX 512
#define SP_MAX_STEPS 200000L

typedef struct sp_ctx {
  const char *s;
  size_t n;
  size_t at[128], len[128]; /* span of each directive's match */
  char order[SP_MAX_ITEMS];  /* directives in pattern order */
  int norder;
  long steps; /* backtracking budget, against pathological cells */
} sp_ctx;

static bool sp_is_ws(const char *s, size_t n, size_t *k) {
  *k = fp__ts_ws_at(s, n);
  return *k > 0;
}

/* Whitespace at the start of a NUL-terminated pattern. */
static bool pat_ws(const char *p, size_t *k) { return sp_is_ws(p, strnlen(p, 3), k); }

/* First match of pattern p at pos, in Python's regex preference order; returns the end
 * position through *end (the caller requires it to be the end of the text). */
static bool sp_rec(sp_ctx *c, const char *p, size_t pos, int depth, size_t *end) {
  if (depth > 4 * SP_PAT_MAX || ++c->steps > SP_MAX_STEPS) return false;
  const char *s = c->s;
  size_t n = c->n, k;
  if (!*p) {
    *end = pos;
    return true;
  }
  if (p[0] == '%' && p[1] && p[1] != '%') {
    char d = p[1];
    unsigned char ud = (unsigned char)d;
    const char *const *alts = alts_of(d);
    if (alts) {
      for (int i = 0; alts[i]; i++) {
        size_t m = alt_match(alts[i], s, n, pos);
        if (!m) continue;
        c->at[ud] = pos, c->len[ud] = m;
        if (sp_rec(c, p + 2, pos + m, depth + 1, end)) return true;
      }
      return false;
    }
    if (d == 'f') { /* [0-9]{1,6} greedy */
      size_t m = 0;
      while (m < 6 && pos + m < n && is_digit(s[pos + m])) m++;
      for (; m >= 1; m--) {
        c->at[ud] = pos, c->len[ud] = m;
        if (sp_rec(c, p + 2, pos + m, depth + 1, end)) return true;
      }
      return false;
    }
    if (d == 'z') {
      size_t cand[32];
      size_t nc = z_candidates(s, n, pos, cand);
      for (size_t i = 0; i < nc; i++) {
        c->at[ud] = pos, c->len[ud] = cand[i];
        if (sp_rec(c, p + 2, pos + cand[i], depth + 1, end)) return true;
      }
      return false;
    }
    const char *const *names = names_of(d);
    if (names && name_match(names, s, n, pos, &k) >= 0) {
      c->at[ud] = pos, c->len[ud] = k;
      return sp_rec(c, p + 2, pos + k, depth + 1, end);
    }
    return false;
  }
  if (p[0] == '%') { /* "%%" */
    if (pos < n && s[pos] == '%') return sp_rec(c, p + 2, pos + 1, depth + 1, end);
    return false;
  }
  size_t fk;
  if (pat_ws(p, &fk)) { /* a whitespace run in the pattern is \s+ */
    const char *q = p + fk;
    size_t qk;
    while (pat_ws(q, &qk)) q += qk;
    size_t e = pos;
    while (e < n && sp_is_ws(s + e, n - e, &k)) e += k;
    while (e > pos) { /* greedy: the longest run first, then one character less */
      if (sp_rec(c, q, e, depth + 1, end)) return true;
      k = fp__ts_ws_before(s + pos, e - pos);
      e -= k ? k : 1;
    }
    return false;
  }
  /* literal byte, ASCII case-insensitive (Python compiles with IGNORECASE) */
  if (pos < n && lower(s[pos]) == lower(p[0])) return sp_rec(c, p + 1, pos + 1, depth + 1, end);
  return false;
}

/* Expands %c %x %X (C locale) into out; false when too long. */
static bool sp_expand(const char *pat, char *out, size_t outsz) {
  size_t w = 0;
  for (const char *p = pat; *p; p++) {
    const char *ins = NULL;
    char two[3] = {0};
    if (p[0] == '%' && p[1]) {
      if (p[1] == 'c') ins = "%a %b %d %H:%M:%S %Y";
      else if (p[1] == 'x') ins = "%m/%d/%y";
      else if (p[1] == 'X') ins = "%H:%M:%S";
      else two[0] = p[0], two[1] = p[1], ins = two;
      p++;
    } else {
      two[0] = p[0];
      ins = two;
    }
    size_t k = strlen(ins);
    if (w + k >= outsz) return false;
    memcpy(out + w, ins, k);
    w += k;
  }
  out[w] = '\0';
  return true;
}

const char *fp__ts_pattern_problem(const char *pattern) {
  char buf[SP_PAT_MAX];
  if (!sp_expand(pattern, buf, sizeof buf)) return "the pattern is too long";
  bool seen[128] = {false};
  int items = 0;
  for (const char *p = buf; *p; p++) {
    if (*p != '%') continue;
    char d = p[1];
    if (!d) return "stray % at the end of the pattern";
    p++;
    if (d == '%') continue;
    if ((unsigned char)d >= 128 || (!alts_of(d) && !names_of(d) && d != 'f' && d != 'z'))
      return "unknown directive";
    if (seen[(unsigned char)d]) return "a directive is used twice";
    seen[(unsigned char)d] = true;
    if (++items > SP_MAX_ITEMS) return "too many directives";
  }
  return NULL;
}

static int64_t digits_value(const char *s, size_t n) {
  int64_t v = 0;
  for (size_t i = 0; i < n; i++)
    if (is_digit(s[i])) v = v * 10 + (s[i] - '0');
  return v;
}

static int name_index(char d, const char *s, size_t n, size_t at) {
  size_t k;
  return name_match(names_of(d), s, n, at, &k);
}

/* %z text -> offset seconds (Python _strptime); false when Python raises. */
static bool sp_zone(const char *z, size_t zn, int64_t *off, int64_t *frac_us) {
  *frac_us = 0;
  if (zn == 1 && z[0] == 'Z') {
    *off = 0;
    return true;
  }
  char t[24];
  size_t k = 0;
  for (size_t i = 0; i < zn && k < sizeof t; i++) t[k++] = z[i];
  if (k > 3 && t[3] == ':') {
    memmove(t + 3, t + 4, k - 4);
    k--;
    if (k > 5) {
      if (t[5] != ':') return false;
      memmove(t + 5, t + 6, k - 6);
      k--;
    }
  }
  int64_t h, m, sec = 0;
  if (!int_slice(t, k, 1, 3, &h) || !int_slice(t, k, 3, 5, &m)) return false;
  if (k > 5 && !int_slice(t, k, 5, 7, &sec)) return false;
  int64_t f = 0;
  if (k > 8) {
    size_t nd = k - 8;
    f = digits_value(t + 8, nd);
    for (size_t i = nd; i < 6; i++) f *= 10;
  }
  int64_t g = h * 3600 + m * 60 + sec;
  if (t[0] == '-') g = -g, f = -f;
  *off = g;
  *frac_us = f;
  return true;
}

static int64_t ordinal_of(int64_t y, int32_t m, int32_t d) {
  return fp__ts_days_from_civil(y, m, d);
}

bool fp__ts_strptime(const char *pattern, const char *s, size_t n, fp__tm *out) {
  char buf[SP_PAT_MAX];
  const char *pat = pattern;
  for (const char *p = pattern; *p; p++) /* %c %x %X expand; other patterns run as they are */
    if (p[0] == '%' && p[1]) {
      if (p[1] == 'c' || p[1] == 'x' || p[1] == 'X') {
        if (!sp_expand(pattern, buf, sizeof buf)) return false;
        pat = buf;
        break;
      }
      p++;
    }
  sp_ctx c;
  c.s = s;
  c.n = n;
  c.norder = 0;
  c.steps = 0;
  for (const char *p = pat; *p; p++)
    if (p[0] == '%' && p[1]) {
      if (p[1] != '%') c.order[c.norder++] = p[1];
      p++;
    }
  size_t end = 0;
  if (!sp_rec(&c, pat, 0, 0, &end) || end != n) return false;

  /* Python _strptime's resolution, directive by directive in pattern order. */
  int64_t year = -1, month = 1, day = 1, hour = 0, minute = 0, second = 0, usec = 0;
  int64_t iso_year = -1, iso_week = -1, week_of_year = -1, weekday = -1, julian = -1;
  int week_start = 6;
  bool has_tz = false;
  int64_t gmtoff = 0, gmtfrac = 0;
  bool have_p = false;
  int pm = 0;
  for (int i = 0; i < c.norder; i++)
    if (c.order[i] == 'p') have_p = true, pm = name_index('p', s, n, c.at['p']);
  for (int i = 0; i < c.norder; i++) {
    char d = c.order[i];
    unsigned char ud = (unsigned char)d;
    const char *v = s + c.at[ud];
    size_t vn = c.len[ud];
    int64_t x = digits_value(v, vn);
    switch (d) {
      case 'y': year = x <= 68 ? x + 2000 : x + 1900; break;
      case 'Y': year = x; break;
      case 'G': iso_year = x; break;
      case 'm': month = x; break;
      case 'B':
      case 'b': month = name_index(d, s, n, c.at[ud]) + 1; break;
      case 'd': day = x; break;
      case 'H': hour = x; break;
      case 'I':
        hour = x;
        if (!have_p || pm == 0) {
          if (hour == 12) hour = 0;
        } else if (hour != 12) hour += 12;
        break;
      case 'M': minute = x; break;
      case 'S': second = x; break;
      case 'f': {
        usec = x;
        for (size_t k = vn; k < 6; k++) usec *= 10;
        break;
      }
      case 'A':
      case 'a': weekday = name_index(d, s, n, c.at[ud]); break;
      case 'w': weekday = x == 0 ? 6 : x - 1; break;
      case 'u': weekday = x - 1; break;
      case 'j': julian = x; break;
      case 'U':
      case 'W':
        week_of_year = x;
        week_start = d == 'U' ? 6 : 0;
        break;
      case 'V': iso_week = x; break;
      case 'z':
        if (!sp_zone(v, vn, &gmtoff, &gmtfrac)) return false;
        has_tz = true;
        break;
      default: break; /* p, Z */
    }
  }
  if (year < 0 && iso_year >= 0) {
    if (iso_week < 0 || weekday < 0 || julian >= 0) return false;
  } else if (week_of_year < 0 && iso_week >= 0) {
    return false;
  }
  bool leap_fix = false;
  if (year < 0 && month == 2 && day == 29) year = 1904, leap_fix = true;
  else if (year < 0) year = 1900;
  if (julian < 0 && weekday >= 0) {
    bool have = false;
    if (week_of_year >= 0) {
      if (year < 1 || year > 9999) return false;
      int64_t first = weekday_of(ordinal_of(year, 1, 1)), dow = weekday;
      if (week_start != 0) first = (first + 1) % 7, dow = (dow + 1) % 7;
      int64_t week0 = (7 - first) % 7;
      julian = week_of_year == 0 ? 1 + dow - first : 1 + week0 + 7 * (week_of_year - 1) + dow;
      have = true;
    } else if (iso_year >= 0 && iso_week >= 0) {
      if (iso_year < 1 || iso_year > 9999) return false;
      int64_t jan4 = ordinal_of(iso_year, 1, 4);
      int64_t correction = weekday_of(jan4) + 1 + 3;
      int64_t ord = iso_week * 7 + (weekday + 1) - correction;
      if (ord < 1) {
        ord += ordinal_of(iso_year, 1, 1);
        iso_year -= 1;
        if (iso_year < 1) return false;
        ord -= ordinal_of(iso_year, 1, 1);
      }
      year = iso_year, julian = ord, have = true;
    }
    if (have && julian <= 0) {
      year -= 1;
      julian += is_leap(year) ? 366 : 365;
    }
  }
  if (julian < 0) {
    if (!valid_date(year, month, day)) return false;
  } else {
    if (year < 1 || year > 9999) return false;
    int64_t days = (julian - 1) + ordinal_of(year, 1, 1);
    if (days < DAY_MIN || days > DAY_MAX) return false;
    int32_t y, m, dd;
    fp__ts_civil_from_days(days, &y, &m, &dd);
    year = y, month = m, day = dd;
  }
  if (leap_fix) year = 1900;
  if (!valid_date(year, month, day) || !valid_clock(hour, minute, second, usec)) return false;
  if (has_tz) {
    /* datetime.timezone needs |offset| < 24h; we keep whole minutes only (fp_value). */
    if (gmtoff <= -86400 || gmtoff >= 86400 || gmtfrac != 0 || gmtoff % 60 != 0) return false;
  }
  out->year = (int32_t)year, out->month = (int32_t)month, out->day = (int32_t)day;
  out->hour = (int32_t)hour, out->minute = (int32_t)minute, out->second = (int32_t)second;
  out->usec = (int32_t)usec;
  out->has_tz = has_tz;
  out->tz_sec = (int32_t)gmtoff;
  return true;
}

/* ---- dateutil isoparse (the default datetime and time formats) -------------------------------- */

static bool iso_tz(const char *z, size_t n, int32_t *off) {
  if (n == 1 && (z[0] == 'Z' || z[0] == 'z')) {
    *off = 0;
    return true;
  }
  if (n != 3 && n != 5 && n != 6) return false;
  int mult;
  if (z[0] == '-') mult = -1;
  else if (z[0] == '+') mult = 1;
  else return false;
  int64_t h, m = 0;
  if (!int_slice(z, n, 1, 3, &h)) return false;
  if (n != 3 && !int_slice(z, n, z[3] == ':' ? 4 : 3, n, &m)) return false;
  if (h == 0 && m == 0) {
    *off = 0;
    return true;
  }
  if (m > 59 || h > 23) return false;
  *off = (int32_t)(mult * (h * 60 + m) * 60);
  return true;
}

/* _parse_isotime; *h24 when the hour was 24 (midnight of the next day). */
static bool iso_time(const char *t, size_t len, fp__tm *tm, bool *h24) {
  int64_t comp_v[4] = {0, 0, 0, 0};
  size_t pos = 0;
  int comp = -1;
  bool has_sep = false;
  tm->has_tz = false;
  tm->tz_sec = 0;
  if (len < 2) return false;
  while (pos < len && comp < 5) {
    comp++;
    char ch = t[pos];
    if (ch == '-' || ch == '+' || ch == 'Z' || ch == 'z') {
      int32_t off;
      if (!iso_tz(t + pos, len - pos, &off)) return false;
      tm->has_tz = true;
      tm->tz_sec = off;
      pos = len;
      break;
    }
    if (comp == 1 && ch == ':') {
      has_sep = true;
      pos++;
    } else if (comp == 2 && has_sep) {
      if (ch != ':') return false;
      pos++;
    }
    if (comp < 3) {
      if (!int_slice(t, len, pos, pos + 2, &comp_v[comp])) return false;
      pos += 2;
    }
    if (comp == 3) {
      if (!(pos + 1 < len && (t[pos] == '.' || t[pos] == ',') && is_digit(t[pos + 1]))) continue;
      size_t q = pos + 1;
      while (q < len && is_digit(t[q])) q++;
      size_t nd = q - pos - 1;
      int64_t us = digits_value(t + pos + 1, nd < 6 ? nd : 6);
      for (size_t k = nd; k < 6; k++) us *= 10;
      comp_v[3] = us;
      pos = q;
    }
  }
  if (pos < len) return false;
  *h24 = comp_v[0] == 24;
  if (*h24 && (comp_v[1] || comp_v[2] || comp_v[3])) return false;
  if (!valid_clock(*h24 ? 0 : comp_v[0], comp_v[1], comp_v[2], comp_v[3])) return false;
  tm->hour = (int32_t)(*h24 ? 0 : comp_v[0]);
  tm->minute = (int32_t)comp_v[1];
  tm->second = (int32_t)comp_v[2];
  tm->usec = (int32_t)comp_v[3];
  return true;
}

/* _parse_isodate_common; false where it raises ValueError. Values are not validated. */
static bool iso_date_common(const char *s, size_t len, int64_t c[3], size_t *pos_out) {
  c[0] = c[1] = c[2] = 1;
  if (len < 4) return false;
  if (!int_slice(s, len, 0, 4, &c[0])) return false;
  size_t pos = 4;
  if (pos >= len) {
    *pos_out = pos;
    return true;
  }
  bool has_sep = s[pos] == '-';
  if (has_sep) pos++;
  if (len - pos < 2 || !int_slice(s, len, pos, pos + 2, &c[1])) return false;
  pos += 2;
  if (pos >= len) {
    *pos_out = pos;
    return has_sep;
  }
  if (has_sep) {
    if (s[pos] != '-') return false;
    pos++;
  }
  if (len - pos < 2 || !int_slice(s, len, pos, pos + 2, &c[2])) return false;
  *pos_out = pos + 2;
  return true;
}

/* _parse_isodate_uncommon: ISO week dates and ordinal dates. */
static bool iso_date_uncommon(const char *s, size_t len, int64_t c[3], size_t *pos_out) {
  int64_t year;
  if (len < 4 || !int_slice(s, len, 0, 4, &year)) return false;
  bool has_sep = len > 4 && s[4] == '-';
  size_t pos = 4 + has_sep;
  int64_t days;
  if (pos < len && s[pos] == 'W') {
    pos++;
    int64_t week, dayno = 1;
    if (!int_slice(s, len, pos, pos + 2, &week)) return false;
    pos += 2;
    if (len > pos) {
      if ((s[pos] == '-') != has_sep) return false;
      pos += has_sep;
      if (!int_slice(s, len, pos, pos + 1, &dayno)) return false;
      pos += 1;
    }
    if (week < 1 || week > 53 || dayno < 1 || dayno > 7) return false;
    if (year < 1 || year > 9999) return false;
    int64_t jan4 = fp__ts_days_from_civil(year, 1, 4);
    int64_t week1 = jan4 - weekday_of(jan4);
    days = week1 + (week - 1) * 7 + (dayno - 1);
  } else {
    if (len < pos + 3) return false;
    int64_t ord;
    if (!int_slice(s, len, pos, pos + 3, &ord)) return false;
    pos += 3;
    if (ord < 1 || ord > 365 + is_leap(year)) return false;
    if (year < 1 || year > 9999) return false;
    days = fp__ts_days_from_civil(year, 1, 1) + ord - 1;
  }
  if (days < DAY_MIN || days > DAY_MAX) return false;
  int32_t y, m, d;
  fp__ts_civil_from_days(days, &y, &m, &d);
  c[0] = y, c[1] = m, c[2] = d;
  *pos_out = pos;
  return true;
}

/* dateutil.parser.isoparse(s) for the default datetime format. */
static bool isoparse(const char *s, size_t n, fp__tm *tm) {
  int64_t c[3];
  size_t pos;
  if (!iso_date_common(s, n, c, &pos) && !iso_date_uncommon(s, n, c, &pos)) return false;
  bool h24 = false;
  tm->hour = tm->minute = tm->second = tm->usec = 0;
  tm->has_tz = false;
  tm->tz_sec = 0;
  if (n > pos && !iso_time(s + pos + 1, n - pos - 1, tm, &h24)) return false;
  if (!valid_date(c[0], c[1], c[2])) return false;
  int64_t days = fp__ts_days_from_civil(c[0], (int32_t)c[1], (int32_t)c[2]) + h24;
  if (days > DAY_MAX) return false;
  int32_t y, m, d;
  fp__ts_civil_from_days(days, &y, &m, &d);
  tm->year = y, tm->month = m, tm->day = d;
  return true;
}

/* ---- fp_value from fp__tm ---------------------------------------------------------------------- */

static void to_time_value(const fp__tm *tm, fp_value *out) {
  out->u.dt.secs = tm->hour * 3600 + tm->minute * 60 + tm->second;
  out->u.dt.nanos = tm->usec * 1000;
  out->u.dt.has_tz = tm->has_tz;
  out->u.dt.tz_offset_min = tm->has_tz ? tm->tz_sec / 60 : 0;
}

static void to_datetime_value(const fp__tm *tm, fp_value *out) {
  int64_t days = fp__ts_days_from_civil(tm->year, tm->month, tm->day);
  int64_t secs = days * 86400 + tm->hour * 3600 + tm->minute * 60 + tm->second;
  if (tm->has_tz) secs -= tm->tz_sec;
  out->u.dt.secs = secs;
  out->u.dt.nanos = tm->usec * 1000;
  out->u.dt.has_tz = tm->has_tz;
  out->u.dt.tz_offset_min = tm->has_tz ? tm->tz_sec / 60 : 0;
}

/* Hot path for the default date format: exactly "YYYY-MM-DD". */
static bool iso_date_fast(const char *s, size_t n, int32_t *y, int32_t *m, int32_t *d) {
  if (n != 10 || s[4] != '-' || s[7] != '-') return false;
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && !is_digit(s[i])) return false;
  *y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
  *m = (s[5] - '0') * 10 + (s[6] - '0');
  *d = (s[8] - '0') * 10 + (s[9] - '0');
  return true;
}

static inline int d2(const char *p) { return (p[0] - '0') * 10 + (p[1] - '0'); }

static bool digits_at(const char *s, const char *layout) {
  for (size_t i = 0; layout[i]; i++)
    if (layout[i] == 'D' ? !is_digit(s[i]) : s[i] != layout[i]) return false;
  return true;
}

/* Hot path for the default time ("HH:MM:SS") and datetime ("YYYY-MM-DDTHH:MM:SS") formats,
 * optionally followed by "Z" or "+HH:MM"/"-HH:MM"; anything else (fractions, other
 * separators, hour 24) takes the exact isoparse emulation. Same results by construction. */
static bool iso_clock_fast(fp_ftype t, const char *s, size_t n, fp__tm *tm) {
  size_t base = t == FP_FT_TIME ? 8 : 19;
  if (n != base && n != base + 1 && n != base + 6) return false;
  if (t == FP_FT_DATETIME) {
    if (!digits_at(s, "DDDD-DD-DDTDD:DD:DD")) return false;
    tm->year = d2(s) * 100 + d2(s + 2), tm->month = d2(s + 5), tm->day = d2(s + 8);
    if (!valid_date(tm->year, tm->month, tm->day)) return false;
  } else if (!digits_at(s, "DD:DD:DD")) {
    return false;
  }
  const char *c = s + base - 8;
  tm->hour = d2(c), tm->minute = d2(c + 3), tm->second = d2(c + 6), tm->usec = 0;
  if (!valid_clock(tm->hour, tm->minute, tm->second, 0)) return false;
  tm->has_tz = n > base;
  tm->tz_sec = 0;
  if (n == base + 1) return s[base] == 'Z' || s[base] == 'z';
  if (n == base + 6) {
    const char *z = s + base;
    if ((z[0] != '+' && z[0] != '-') || !digits_at(z + 1, "DD:DD")) return false;
    int h = d2(z + 1), m = d2(z + 4);
    if ((h || m) && (h > 23 || m > 59)) return false;
    tm->tz_sec = (z[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
  }
  return true;
}

static bool cast_date(fp__fmt fmt, const char *pattern, const char *s, size_t n, fp__tm *tm) {
  switch (fmt) {
    case FP__FMT_DEFAULT: {
      int32_t y, m, d;
      if (iso_date_fast(s, n, &y, &m, &d)) {
        if (!valid_date(y, m, d)) return false;
        tm->year = y, tm->month = m, tm->day = d;
        return true;
      }
      return fp__ts_strptime("%Y-%m-%d", s, n, tm);
    }
    case FP__FMT_ANY: return fp__ts_parse_any(s, n, true, tm);
    case FP__FMT_PATTERN: return fp__ts_strptime(pattern, s, n, tm);
    default: return false;
  }
}

bool fp__ts_cast_temporal(fp_ftype t, fp__fmt fmt, const char *pattern, const char *s,
                          size_t n, fp_value *out) {
  fp__tm tm;
  memset(&tm, 0, sizeof tm);
  if (t == FP_FT_DATE) {
    if (!cast_date(fmt, pattern, s, n, &tm)) return false;
    out->u.date.y = tm.year, out->u.date.m = tm.month, out->u.date.d = tm.day;
    return true;
  }
  bool ok = false;
  if (fmt == FP__FMT_DEFAULT && iso_clock_fast(t, s, n, &tm)) {
    ok = true;
  } else if (fmt == FP__FMT_DEFAULT) {
    if (!all_ascii(s, n)) return false;
    if (t == FP_FT_TIME) {
      bool h24;
      ok = n > 5 && s[5] == ':' && n >= 8 && iso_time(s, n, &tm, &h24);
    } else {
      ok = n > 16 && s[16] == ':' && n >= 19 && isoparse(s, n, &tm);
    }
  } else if (fmt == FP__FMT_ANY) {
    ok = fp__ts_parse_any(s, n, t == FP_FT_DATETIME, &tm);
  } else if (fmt == FP__FMT_PATTERN) {
    ok = fp__ts_strptime(pattern, s, n, &tm);
  }
  if (!ok) return false;
  if (t == FP_FT_TIME) to_time_value(&tm, out);
  else to_datetime_value(&tm, out);
  return true;
}

/* ---- year, yearmonth -------------------------------------------------------------------------- */

bool fp__ts_cast_year(const char *s, size_t n, int64_t *out) {
  if (fp__ts_utf8_len(s, n) != 4) return false;
  int64_t v;
  if (!fp__ts_py_int(s, n, &v) || v < 0 || v > 9999) return false;
  *out = v;
  return true;
}

bool fp__ts_cast_yearmonth(const char *s, size_t n, int32_t *y, int32_t *m) {
  const char *dash = memchr(s, '-', n);
  if (!dash) return false;
  size_t a = (size_t)(dash - s);
  if (memchr(dash + 1, '-', n - a - 1)) return false; /* split("-") must give two parts */
  int64_t yy, mm;
  if (!fp__ts_py_int(s, a, &yy) || !fp__ts_py_int(dash + 1, n - a - 1, &mm)) return false;
  if (mm < 1 || mm > 12 || yy < INT32_MIN || yy > INT32_MAX) return false;
  *y = (int32_t)yy;
  *m = (int32_t)mm;
  return true;
}

/* ---- duration --------------------------------------------------------------------------------- */

/* [0-9]+([,.][0-9]+)?<designator> at *pos; absent (no digits) is fine. */
static bool dur_part(const char *s, size_t n, size_t *pos, char designator, double *v,
                     bool *present) {
  size_t p = *pos, q = p;
  *present = false;
  while (q < n && is_digit(s[q])) q++;
  if (q == p) return true;
  size_t ip_end = q;
  if (q + 1 < n && (s[q] == ',' || s[q] == '.') && is_digit(s[q + 1])) {
    q++;
    while (q < n && is_digit(s[q])) q++;
  }
  if (q >= n || s[q] != designator) return true; /* the group does not match here */
  char buf[80];
  size_t k = q - p;
  if (k >= sizeof buf) return false;
  memcpy(buf, s + p, k);
  if (ip_end < q) buf[ip_end - p] = '.';
  double d;
  if (!fp__ts_py_decimal(buf, k, &d)) return false;
  *v = d;
  *present = true;
  *pos = q + 1;
  return true;
}

bool fp__ts_cast_duration(const char *s, size_t n, int64_t *months, double *seconds) {
  if (n && s[n - 1] == '\n') n--; /* Python's '$' also matches before a final newline */
  size_t pos = 0;
  bool neg = false;
  if (pos < n && (s[pos] == '+' || s[pos] == '-')) neg = s[pos++] == '-';
  if (pos >= n || s[pos] != 'P') return false;
  pos++;
  /* (?!\b): the character after 'P' must be a word character */
  if (pos >= n || !(is_digit(s[pos]) || (s[pos] >= 'A' && s[pos] <= 'Z') ||
                    (s[pos] >= 'a' && s[pos] <= 'z') || s[pos] == '_'))
    return false;
  double y = 0, mo = 0, w = 0, d = 0, h = 0, mi = 0, sec = 0;
  bool pr;
  if (!dur_part(s, n, &pos, 'Y', &y, &pr) || !dur_part(s, n, &pos, 'M', &mo, &pr) ||
      !dur_part(s, n, &pos, 'W', &w, &pr) || !dur_part(s, n, &pos, 'D', &d, &pr))
    return false;
  if (pos < n && s[pos] == 'T') {
    pos++;
    if (!dur_part(s, n, &pos, 'H', &h, &pr) || !dur_part(s, n, &pos, 'M', &mi, &pr) ||
        !dur_part(s, n, &pos, 'S', &sec, &pr))
      return false;
  }
  if (pos != n) return false; /* isodate's alternative "PYYYY-MM-DDThh:mm:ss" is not taken */
  double total_months = y * 12 + mo;
  double total_secs = w * 604800 + d * 86400 + h * 3600 + mi * 60 + sec;
  if (!isfinite(total_months) || !isfinite(total_secs) || fabs(total_months) > 1e15 ||
      fabs(total_secs) / 86400 > 999999999)
    return false; /* timedelta / Duration overflow */
  total_secs = round(total_secs * 1e6) / 1e6; /* timedelta keeps microseconds */
  *months = (int64_t)llround(total_months);
  *seconds = total_secs;
  if (neg) *months = -*months, *seconds = -*seconds;
  if (*seconds == 0) *seconds = 0; /* no -0 */
  return true;
}
