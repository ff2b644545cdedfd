/* tschema_any.c — the "any" format of date, time and datetime fields: a port of the parts of
 * dateutil.parser.parse (dateutil 2.9, default parserinfo, dayfirst=False, yearfirst=False,
 * fuzzy=False) that Frictionless reaches: its lexer, the numeric-token rules (YYYYMMDD,
 * HHMMSS, HH:MM[:SS[.ffffff]], "12h", "9 am", 01/02/2003 and 01-Jan-2003 shapes), month and
 * weekday names, am/pm, UTC/GMT/Z and +HH[:MM] offsets, and the year/month/day resolution.
 *
 * Deliberate differences, for reproducible results:
 *   - dateutil fills a missing year, month or day from today's date; for date and datetime
 *     fields we require all three in the text (a type-error otherwise). Time fields, which
 *     drop the date, take the missing parts from today's UTC date as dateutil does.
 *   - Two-digit years pivot on the current UTC year (dateutil: local year).
 *   - Time-zone names other than UTC/GMT/Z give a naive value (dateutil warns and does the
 *     same, except for names of the machine's local zone).
 *   - ASCII only: non-ASCII letters or digits are a type-error; cells over 512 bytes or 128
 *     tokens too. */
#include <string.h>
#include <time.h>

#include "quality/tschema_int.h"

#define ANY_MAX_BYTES 512
#define ANY_MAX_TOKENS 128

typedef struct tok {
  const char *p;
  size_t n;
} tok;

typedef struct lexed {
  char buf[ANY_MAX_BYTES * 2];
  size_t used;
  tok t[ANY_MAX_TOKENS];
  int n;
} lexed;

static inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
static inline bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static inline char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }

static bool push(lexed *L, const char *p, size_t n) {
  if (L->n >= ANY_MAX_TOKENS || L->used + n > sizeof L->buf) return false;
  memcpy(L->buf + L->used, p, n);
  L->t[L->n].p = L->buf + L->used;
  L->t[L->n].n = n;
  L->used += n;
  L->n++;
  return true;
}

/* _timelex.split. Input: NUL bytes removed, ASCII plus Unicode spaces. */
static bool lex(const char *s, size_t n, lexed *L) {
  L->used = 0;
  L->n = 0;
  size_t i = 0;
  while (i < n) {
    size_t k = fp__ts_ws_at(s + i, n - i);
    if (k) {
      if (!push(L, " ", 1)) return false;
      i += k;
      continue;
    }
    char c = s[i];
    if (!is_alpha(c) && !is_digit(c)) {
      if (!push(L, s + i, 1)) return false;
      i++;
      continue;
    }
    char tk[ANY_MAX_BYTES];
    size_t tn = 0;
    int state = is_alpha(c) ? 'a' : '0'; /* 'a', 'A' (= "a."), '0', 'D' (= "0.") */
    bool seen_letters = false;
    tk[tn++] = c;
    i++;
    while (i < n) {
      char x = s[i];
      bool take = false;
      if (state == 'a') {
        seen_letters = true;
        if (is_alpha(x)) take = true;
        else if (x == '.') take = true, state = 'A';
      } else if (state == '0') {
        if (is_digit(x)) take = true;
        else if (x == '.' || (x == ',' && tn >= 2)) take = true, state = 'D';
      } else if (state == 'A') {
        seen_letters = true;
        if (x == '.' || is_alpha(x)) take = true;
        else if (is_digit(x) && tk[tn - 1] == '.') take = true, state = 'D';
      } else { /* 'D' */
        if (x == '.' || is_digit(x)) take = true;
        else if (is_alpha(x) && tk[tn - 1] == '.') take = true, state = 'A';
      }
      if (!take) break;
      if (tn >= sizeof tk) return false;
      tk[tn++] = x;
      i++;
    }
    size_t dots = 0;
    for (size_t j = 0; j < tn; j++) dots += tk[j] == '.';
    if ((state == 'A' || state == 'D') &&
        (seen_letters || dots > 1 || tk[tn - 1] == '.' || tk[tn - 1] == ',')) {
      /* re.split("([.,])"): pieces and separators, empty pieces dropped */
      size_t a = 0;
      for (size_t j = 0; j <= tn; j++) {
        if (j < tn && tk[j] != '.' && tk[j] != ',') continue;
        if (j > a && !push(L, tk + a, j - a)) return false;
        if (j < tn && !push(L, tk + j, 1)) return false;
        a = j + 1;
      }
      continue;
    }
    if (state == 'D' && dots == 0)
      for (size_t j = 0; j < tn; j++)
        if (tk[j] == ',') tk[j] = '.';
    if (!push(L, tk, tn)) return false;
  }
  return true;
}

/* ---- parserinfo ---------------------------------------------------------------------------- */

static bool tok_is(tok t, const char *w) {
  size_t k = strlen(w);
  if (t.n != k) return false;
  for (size_t i = 0; i < k; i++)
    if (lower(t.p[i]) != w[i]) return false;
  return true;
}

static int tok_in(tok t, const char *const *list) {
  for (int i = 0; list[i]; i++)
    if (tok_is(t, list[i])) return i;
  return -1;
}

static const char *const JUMP[] = {" ",  ".",  ",",  ";",  "-",  "/",  "'", "at", "on",
                                   "and", "ad", "m", "t", "of", "st", "nd", "rd", "th", NULL};
static const char *const WEEKDAYS[] = {"mon", "monday", "tue", "tuesday", "wed", "wednesday",
                                       "thu", "thursday", "fri", "friday", "sat", "saturday",
                                       "sun", "sunday", NULL};
static const char *const MONTHS[] = {"jan",  "january", "feb", "february", "mar",  "march",
                                     "apr",  "april",   "may", "may",      "jun",  "june",
                                     "jul",  "july",    "aug", "august",   "sep",  "sept",
                                     "september", "oct", "october", "nov", "november", "dec",
                                     "december", NULL};
static const int MONTH_OF[] = {1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7,
                               7, 8, 8, 9, 9, 9, 10, 10, 11, 11, 12, 12};
static const char *const HMS[] = {"h", "hour", "hours", "m", "minute", "minutes",
                                  "s", "second", "seconds", NULL};
static const int HMS_OF[] = {0, 0, 0, 1, 1, 1, 2, 2, 2};
static const char *const UTCZONE[] = {"utc", "gmt", "z", NULL};

static bool is_jump(tok t) { return tok_in(t, JUMP) >= 0; }
static int month_of(tok t) {
  int i = tok_in(t, MONTHS);
  return i < 0 ? -1 : MONTH_OF[i];
}
static int hms_of(tok t) {
  int i = tok_in(t, HMS);
  return i < 0 ? -1 : HMS_OF[i];
}
static int ampm_of(tok t) {
  if (tok_is(t, "am") || tok_is(t, "a")) return 0;
  if (tok_is(t, "pm") || tok_is(t, "p")) return 1;
  return -1;
}
static bool tok_eq(tok t, const char *lit) { return t.n == strlen(lit) && !memcmp(t.p, lit, t.n); }

static bool tok_digits(tok t) {
  if (!t.n) return false;
  for (size_t i = 0; i < t.n; i++)
    if (!is_digit(t.p[i])) return false;
  return true;
}

/* float(token) succeeds: digits[.digits] (the lexer makes no other numeric shapes); the words
 * nan/inf/infinity also convert but dateutil then rejects them as non-finite. */
static bool tok_numeric(tok t) {
  size_t i = 0, d = 0;
  while (i < t.n && is_digit(t.p[i])) i++, d++;
  if (!d) return false;
  if (i < t.n && t.p[i] == '.') {
    i++;
    while (i < t.n && is_digit(t.p[i])) i++;
  }
  return i == t.n;
}

/* A numeric token as integer part and fraction digits (exact, like Decimal). */
typedef struct num {
  int64_t ip;
  const char *fp;
  size_t fn;
} num;

static bool to_num(tok t, num *v) {
  if (!tok_numeric(t)) return false;
  v->ip = 0;
  size_t i = 0;
  for (; i < t.n && t.p[i] != '.'; i++) {
    if (v->ip > 100000000000LL) return false;
    v->ip = v->ip * 10 + (t.p[i] - '0');
  }
  v->fp = i < t.n ? t.p + i + 1 : t.p + t.n;
  v->fn = i < t.n ? t.n - i - 1 : 0;
  return true;
}

static bool num_has_frac(const num *v) {
  for (size_t i = 0; i < v->fn; i++)
    if (v->fp[i] != '0') return true;
  return false;
}

/* int(60 * (value % 1)) */
static int64_t sixty_frac(const num *v) {
  int64_t f = 0, scale = 1;
  for (size_t i = 0; i < v->fn && i < 15; i++) f = f * 10 + (v->fp[i] - '0'), scale *= 10;
  return (60 * f) / scale;
}

static bool int_tok(const char *p, size_t n, int64_t *out) { return fp__ts_py_int(p, n, out); }

/* ---- result ------------------------------------------------------------------------------ */

typedef struct opt {
  bool set;
  int64_t v;
} opt;

typedef struct res {
  opt year, month, day, weekday, hour, minute, second, usec, tzoffset, ampm;
  tok tzname;
  bool has_tzname;
  bool century;
} res;

static void put(opt *o, int64_t v) {
  o->set = true;
  o->v = v;
}

typedef struct ymd {
  int64_t v[4];
  int n;
  bool century;
  int yi, mi, di;
} ymd;

static bool ymd_push(ymd *y, int64_t v, char label) {
  if (y->n >= 4) return false; /* resolve_ymd would refuse more than three anyway */
  y->v[y->n++] = v;
  int at = y->n - 1;
  if (label == 'M') {
    if (y->mi >= 0) return false;
    y->mi = at;
  } else if (label == 'Y') {
    if (y->yi >= 0) return false;
    y->yi = at;
  }
  return true;
}

/* _ymd.append for a string value */
static bool ymd_str(ymd *y, tok t, char label) {
  if (tok_digits(t) && t.n > 2) {
    y->century = true;
    if (label && label != 'Y') return false;
    label = 'Y';
  }
  int64_t v;
  if (!int_tok(t.p, t.n, &v)) return false;
  return ymd_push(y, v, label);
}

/* _ymd.append for a number (Decimal) or an int from a month name */
static bool ymd_num(ymd *y, int64_t ip, bool frac, char label) {
  if (ip > 100 || (ip == 100 && frac)) {
    y->century = true;
    if (label && label != 'Y') return false;
    label = 'Y';
  }
  return ymd_push(y, ip, label);
}

static bool could_be_day(const ymd *y, int64_t ip, bool frac) {
  if (y->di >= 0) return false;
  int64_t maxd;
  if (y->mi < 0) maxd = 31;
  else {
    int64_t m = y->v[y->mi];
    int64_t yr = y->yi >= 0 ? y->v[y->yi] : 2000;
    if (m < 1 || m > 12) return false;
    maxd = fp__ts_days_in_month(yr, (int32_t)m);
  }
  return ip >= 1 && (ip < maxd || (ip == maxd && !frac));
}

static bool resolve_ymd(const ymd *y, opt *year, opt *month, opt *day) {
  int nstr = (y->yi >= 0) + (y->mi >= 0) + (y->di >= 0);
  if ((y->n == nstr && nstr > 0) || (y->n == 3 && nstr == 2)) {
    int yi = y->yi, mi = y->mi, di = y->di;
    if (y->n == 3 && nstr == 2) {
      int missing = 3 - (yi >= 0 ? yi : 0) - (mi >= 0 ? mi : 0) - (di >= 0 ? di : 0);
      if (yi < 0) yi = missing;
      else if (mi < 0) mi = missing;
      else di = missing;
    }
    if (yi >= 0) put(year, y->v[yi]);
    if (mi >= 0) put(month, y->v[mi]);
    if (di >= 0) put(day, y->v[di]);
    return true;
  }
  const int64_t *v = y->v;
  int mi = y->mi;
  if (y->n > 3) return false;
  if (y->n == 1 || (mi >= 0 && y->n == 2)) {
    int64_t other;
    if (mi >= 0) {
      put(month, v[mi]);
      other = v[mi - 1 >= 0 ? mi - 1 : y->n - 1]; /* Python's self[-1] when mi == 0 */
    } else other = v[0];
    if (y->n > 1 || mi < 0) {
      if (other > 31) put(year, other);
      else put(day, other);
    }
  } else if (y->n == 2) {
    if (v[0] > 31) put(year, v[0]), put(month, v[1]);
    else if (v[1] > 31) put(month, v[0]), put(year, v[1]);
    else put(month, v[0]), put(day, v[1]);
  } else if (y->n == 3) {
    if (mi == 0) {
      if (v[1] > 31) put(month, v[0]), put(year, v[1]), put(day, v[2]);
      else put(month, v[0]), put(day, v[1]), put(year, v[2]);
    } else if (mi == 1) {
      if (v[0] > 31) put(year, v[0]), put(month, v[1]), put(day, v[2]);
      else put(day, v[0]), put(month, v[1]), put(year, v[2]);
    } else if (mi == 2) {
      if (v[1] > 31) put(day, v[0]), put(year, v[1]), put(month, v[2]);
      else put(year, v[0]), put(day, v[1]), put(month, v[2]);
    } else {
      if (v[0] > 31 || y->yi == 0) put(year, v[0]), put(month, v[1]), put(day, v[2]);
      else if (v[0] > 12) put(day, v[0]), put(month, v[1]), put(year, v[2]);
      else put(month, v[0]), put(day, v[1]), put(year, v[2]);
    }
  }
  return true;
}

static int64_t adjust_ampm(int64_t hour, int ampm) {
  if (hour < 12 && ampm == 1) return hour + 12;
  if (hour == 12 && ampm == 0) return 0;
  return hour;
}

/* _parsems */
static bool parsems(tok t, opt *sec, opt *usec) {
  const char *dot = memchr(t.p, '.', t.n);
  int64_t a, b = 0;
  if (!dot) {
    if (!int_tok(t.p, t.n, &a)) return false;
  } else {
    size_t ia = (size_t)(dot - t.p), fn = t.n - ia - 1;
    if (memchr(dot + 1, '.', fn)) return false;
    if (!int_tok(t.p, ia, &a)) return false;
    char f[6];
    for (size_t i = 0; i < 6; i++) f[i] = i < fn ? dot[1 + i] : '0';
    if (!int_tok(f, 6, &b)) return false;
  }
  put(sec, a);
  put(usec, b);
  return true;
}

static int find_hms_idx(const tok *l, int len, int idx) {
  if (idx + 1 < len && hms_of(l[idx + 1]) >= 0) return idx + 1;
  if (idx + 2 < len && tok_eq(l[idx + 1], " ") && hms_of(l[idx + 2]) >= 0) return idx + 2;
  if (idx > 0 && hms_of(l[idx - 1]) >= 0) return idx - 1;
  if (1 < idx && idx == len - 1 && tok_eq(l[idx - 1], " ") && hms_of(l[idx - 2]) >= 0)
    return idx - 2;
  return -1;
}

static int64_t current_year(void) {
  time_t now = time(NULL);
  struct tm tm;
  if (!gmtime_r(&now, &tm)) return 2000;
  return tm.tm_year + 1900;
}

static int64_t convert_year(int64_t year, bool century) {
  if (year < 100 && !century) {
    int64_t cy = current_year();
    year += cy / 100 * 100;
    if (year >= cy + 50) year -= 100;
    else if (year < cy - 50) year += 100;
  }
  return year;
}

static bool could_be_tzname(const res *r, bool check_offset, tok t) {
  if (!r->hour.set || r->has_tzname || (check_offset && r->tzoffset.set) || t.n > 5)
    return false;
  if (tok_eq(t, "UTC") || tok_eq(t, "GMT") || tok_eq(t, "Z") || tok_eq(t, "z")) return true;
  for (size_t i = 0; i < t.n; i++)
    if (t.p[i] < 'A' || t.p[i] > 'Z') return false;
  return true; /* all ASCII uppercase, empty included */
}

/* _parse_numeric_token; returns the new index or -1 on ValueError/IndexError. */
static int numeric_token(tok *l, int len, int idx, ymd *y, res *r) {
  num v;
  if (!to_num(l[idx], &v)) return -1;
  tok s = l[idx];
  size_t len_li = s.n;
  bool frac = num_has_frac(&v);
  const char *dot = memchr(s.p, '.', s.n);
  if (y->n == 3 && (len_li == 2 || len_li == 4) && !r->hour.set &&
      (idx + 1 >= len || (!tok_eq(l[idx + 1], ":") && hms_of(l[idx + 1]) < 0))) {
    int64_t h, m;
    if (!int_tok(s.p, 2, &h)) return -1;
    put(&r->hour, h);
    if (len_li == 4) {
      if (!int_tok(s.p + 2, 2, &m)) return -1;
      put(&r->minute, m);
    }
  } else if (len_li == 6 || (len_li > 6 && dot && dot - s.p == 6)) {
    if (y->n == 0 && !dot) {
      tok a = {s.p, 2}, b = {s.p + 2, 2}, c = {s.p + 4, s.n - 4};
      if (!ymd_str(y, a, 0) || !ymd_str(y, b, 0) || !ymd_str(y, c, 0)) return -1;
    } else {
      int64_t h, m;
      if (!int_tok(s.p, 2, &h) || !int_tok(s.p + 2, 2, &m)) return -1;
      put(&r->hour, h);
      put(&r->minute, m);
      tok rest = {s.p + 4, s.n - 4};
      if (!parsems(rest, &r->second, &r->usec)) return -1;
    }
  } else if (len_li == 8 || len_li == 12 || len_li == 14) {
    tok a = {s.p, 4}, b = {s.p + 4, 2}, c = {s.p + 6, 2};
    if (!ymd_str(y, a, 'Y') || !ymd_str(y, b, 0) || !ymd_str(y, c, 0)) return -1;
    if (len_li > 8) {
      int64_t h, m, sec;
      if (!int_tok(s.p + 8, 2, &h) || !int_tok(s.p + 10, 2, &m)) return -1;
      put(&r->hour, h);
      put(&r->minute, m);
      if (len_li > 12) {
        if (!int_tok(s.p + 12, s.n - 12, &sec)) return -1;
        put(&r->second, sec);
      }
    }
  } else if (find_hms_idx(l, len, idx) >= 0) {
    int hi = find_hms_idx(l, len, idx), hms;
    if (hi > idx) hms = hms_of(l[hi]), idx = hi;
    else hms = hms_of(l[hi]) + 1;
    if (hms == 0) {
      put(&r->hour, v.ip);
      if (frac) put(&r->minute, sixty_frac(&v));
    } else if (hms == 1) {
      put(&r->minute, v.ip);
      if (frac) put(&r->second, sixty_frac(&v));
      else r->second.set = false;
    } else if (hms == 2) {
      if (!parsems(s, &r->second, &r->usec)) return -1;
    }
  } else if (idx + 2 < len && tok_eq(l[idx + 1], ":")) {
    put(&r->hour, v.ip);
    num v2;
    if (!to_num(l[idx + 2], &v2)) return -1;
    put(&r->minute, v2.ip);
    if (num_has_frac(&v2)) put(&r->second, sixty_frac(&v2));
    else r->second.set = false;
    if (idx + 4 < len && tok_eq(l[idx + 3], ":")) {
      if (!parsems(l[idx + 4], &r->second, &r->usec)) return -1;
      idx += 2;
    }
    idx += 2;
  } else if (idx + 1 < len &&
             (tok_eq(l[idx + 1], "-") || tok_eq(l[idx + 1], "/") || tok_eq(l[idx + 1], "."))) {
    tok sep = l[idx + 1];
    if (!ymd_str(y, s, 0)) return -1;
    if (idx + 2 < len && !is_jump(l[idx + 2])) {
      if (tok_digits(l[idx + 2])) {
        if (!ymd_str(y, l[idx + 2], 0)) return -1;
      } else {
        int m = month_of(l[idx + 2]);
        if (m < 0 || !ymd_num(y, m, false, 'M')) return -1;
      }
      if (idx + 3 < len && l[idx + 3].n == sep.n && !memcmp(l[idx + 3].p, sep.p, sep.n)) {
        if (idx + 4 >= len) return -1;
        int m = month_of(l[idx + 4]);
        if (m >= 0) {
          if (!ymd_num(y, m, false, 'M')) return -1;
        } else if (!ymd_str(y, l[idx + 4], 0)) return -1;
        idx += 2;
      }
      idx += 1;
    }
    idx += 1;
  } else if (idx + 1 >= len || is_jump(l[idx + 1])) {
    if (idx + 2 < len && ampm_of(l[idx + 2]) >= 0) {
      put(&r->hour, adjust_ampm(v.ip, ampm_of(l[idx + 2])));
      idx += 1;
    } else if (!ymd_num(y, v.ip, frac, 0)) return -1;
    idx += 1;
  } else if (ampm_of(l[idx + 1]) >= 0 && v.ip < 24) {
    put(&r->hour, adjust_ampm(v.ip, ampm_of(l[idx + 1])));
    idx += 1;
  } else if (could_be_day(y, v.ip, frac)) {
    if (!ymd_num(y, v.ip, frac, 0)) return -1;
  } else {
    return -1;
  }
  return idx;
}

static bool parse_tokens(tok *l, int len, res *r) {
  ymd y;
  memset(&y, 0, sizeof y);
  y.yi = y.mi = y.di = -1;
  char flipped[ANY_MAX_TOKENS] = {0}; /* '+'/'-' reversed after "GMT+3" */
  for (int i = 0; i < len; i++) {
    tok t = l[i];
    if (tok_is(t, "nan") || tok_is(t, "inf") || tok_is(t, "infinity")) return false;
    if (tok_numeric(t)) {
      int ni = numeric_token(l, len, i, &y, r);
      if (ni < 0) return false;
      i = ni;
    } else if (tok_in(t, WEEKDAYS) >= 0) {
      put(&r->weekday, tok_in(t, WEEKDAYS) / 2);
    } else if (month_of(t) >= 0) {
      if (!ymd_num(&y, month_of(t), false, 'M')) return false;
      if (i + 1 < len) {
        if (tok_eq(l[i + 1], "-") || tok_eq(l[i + 1], "/")) {
          tok sep = l[i + 1];
          if (i + 2 >= len || !ymd_str(&y, l[i + 2], 0)) return false;
          if (i + 3 < len && l[i + 3].n == sep.n && !memcmp(l[i + 3].p, sep.p, sep.n)) {
            if (i + 4 >= len || !ymd_str(&y, l[i + 4], 0)) return false;
            i += 2;
          }
          i += 2;
        } else if (i + 4 < len && tok_eq(l[i + 1], " ") && tok_eq(l[i + 3], " ") &&
                   tok_is(l[i + 2], "of")) {
          if (tok_digits(l[i + 4])) {
            int64_t v;
            if (!int_tok(l[i + 4].p, l[i + 4].n, &v)) return false;
            int64_t cy = convert_year(v, false); /* appended as text: > 2 digits is a year */
            if (cy > 99) y.century = true;
            if (!ymd_push(&y, cy, cy > 99 ? 'Y' : 0)) return false;
          }
          i += 4;
        }
      }
    } else if (ampm_of(t) >= 0) {
      if (!r->hour.set || r->hour.v < 0 || r->hour.v > 12) return false;
      put(&r->hour, adjust_ampm(r->hour.v, ampm_of(t)));
      put(&r->ampm, ampm_of(t));
    } else if (could_be_tzname(r, true, t)) {
      r->tzname = t;
      r->has_tzname = true;
      bool utc = tok_in(t, UTCZONE) >= 0;
      if (utc) put(&r->tzoffset, 0);
      if (i + 1 < len && (tok_eq(l[i + 1], "+") || tok_eq(l[i + 1], "-"))) {
        flipped[i + 1] = 1;
        r->tzoffset.set = false;
        if (utc) r->has_tzname = false;
      }
    } else if (r->hour.set && (tok_eq(t, "+") || tok_eq(t, "-"))) {
      int signal = tok_eq(t, "+") ? 1 : -1;
      if (flipped[i]) signal = -signal;
      if (i + 1 >= len) return false;
      tok o = l[i + 1];
      int64_t ho, mo;
      if (o.n == 4) {
        if (!int_tok(o.p, 2, &ho) || !int_tok(o.p + 2, 2, &mo)) return false;
      } else if (i + 2 < len && tok_eq(l[i + 2], ":")) {
        if (i + 3 >= len || !int_tok(o.p, o.n, &ho) || !int_tok(l[i + 3].p, l[i + 3].n, &mo))
          return false;
        i += 2;
      } else if (o.n <= 2) {
        if (!int_tok(o.p, o.n, &ho)) return false;
        mo = 0;
      } else return false;
      put(&r->tzoffset, signal * (ho * 3600 + mo * 60));
      if (i + 5 < len && is_jump(l[i + 2]) && tok_eq(l[i + 3], "(") && tok_eq(l[i + 5], ")") &&
          l[i + 4].n >= 3 && could_be_tzname(r, false, l[i + 4])) {
        r->tzname = l[i + 4];
        r->has_tzname = true;
        i += 4;
      }
      i += 1;
    } else if (!is_jump(t)) {
      return false;
    }
  }
  if (!resolve_ymd(&y, &r->year, &r->month, &r->day)) return false;
  r->century = y.century;
  return true;
}

bool fp__ts_parse_any(const char *s, size_t n, bool need_date, fp__tm *out) {
  if (n > ANY_MAX_BYTES) return false;
  char clean[ANY_MAX_BYTES];
  size_t cn = 0;
  for (size_t i = 0; i < n;) { /* drop NULs (dateutil's lexer skips them); ASCII + spaces only */
    unsigned char c = (unsigned char)s[i];
    if (c == 0) {
      i++;
      continue;
    }
    size_t k = c >= 0x80 ? fp__ts_ws_at(s + i, n - i) : 1;
    if (!k) return false;
    memcpy(clean + cn, s + i, k);
    cn += k;
    i += k;
  }
  lexed L;
  if (!lex(clean, cn, &L)) return false;
  res r;
  memset(&r, 0, sizeof r);
  if (!parse_tokens(L.t, L.n, &r)) return false;
  /* parserinfo.validate */
  if (r.year.set) r.year.v = convert_year(r.year.v, r.century);
  bool utcname = r.has_tzname && tok_in(r.tzname, UTCZONE) >= 0;
  if ((r.tzoffset.set && r.tzoffset.v == 0 && !r.has_tzname) || utcname ||
      (r.has_tzname && (tok_eq(r.tzname, "Z") || tok_eq(r.tzname, "z")))) {
    put(&r.tzoffset, 0);
  }
  /* "String does not contain a date" */
  if (!r.year.set && !r.month.set && !r.day.set && !r.weekday.set && !r.hour.set &&
      !r.minute.set && !r.second.set && !r.usec.set && !r.has_tzname && !r.tzoffset.set &&
      !r.ampm.set)
    return false;
  int64_t y, m, d;
  if (need_date) {
    if (!r.year.set || !r.month.set || !r.day.set) return false;
    y = r.year.v, m = r.month.v, d = r.day.v;
  } else { /* missing parts from today (UTC); a day past the month's end is clamped */
    time_t now = time(NULL);
    struct tm tm;
    if (!gmtime_r(&now, &tm)) return false;
    y = r.year.set ? r.year.v : tm.tm_year + 1900;
    m = r.month.set ? r.month.v : tm.tm_mon + 1;
    if (m < 1 || m > 12 || y < 1 || y > 9999) return false;
    d = r.day.set ? r.day.v : tm.tm_mday;
    if (!r.day.set && d > fp__ts_days_in_month(y, (int32_t)m)) d = fp__ts_days_in_month(y, (int32_t)m);
  }
  int64_t hh = r.hour.set ? r.hour.v : 0, mi = r.minute.set ? r.minute.v : 0;
  int64_t ss = r.second.set ? r.second.v : 0, us = r.usec.set ? r.usec.v : 0;
  if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1 || d > fp__ts_days_in_month(y, (int32_t)m))
    return false;
  if (hh < 0 || hh > 23 || mi < 0 || mi > 59 || ss < 0 || ss > 59 || us < 0 || us > 999999)
    return false;
  out->year = (int32_t)y, out->month = (int32_t)m, out->day = (int32_t)d;
  out->hour = (int32_t)hh, out->minute = (int32_t)mi, out->second = (int32_t)ss;
  out->usec = (int32_t)us;
  out->has_tz = r.tzoffset.set;
  out->tz_sec = r.tzoffset.set ? (int32_t)r.tzoffset.v : 0;
  if (out->has_tz && (r.tzoffset.v <= -86400 || r.tzoffset.v >= 86400)) return false;
  return true;
}
