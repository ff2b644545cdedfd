/* sniff.c — dialect defaults and fp_csv_sniff: quote, delimiter and header presence guessed
 * from the first block of a file.
 *
 * Quote: '\'' only when it opens and closes fields more often than '"' does.
 * Delimiter: each of , ; TAB | is tried by parsing the sample (quotes respected) with the
 * reader itself; the winner has the most consistent per-record field count (share of
 * records having the most common count, which must be > 1, in at least half of them);
 * ties go to the larger count, then to the order above.
 * Header: Python's csv.Sniffer.has_header vote. Per column over up to 21 rows of the
 * header's width, the type is "numeric" (what Python's complex() accepts) or the length in
 * characters; a column whose type changes drops out. Each remaining column votes for a
 * header when the header cell does not fit the type, against otherwise. A tie (no column
 * left) counts as a header, the Frictionless default, where Python would say no. */
#include <stdlib.h>

#include "csv/csv_int.h"

#define SNIFF_RECS 200 /* records examined per candidate delimiter */
#define HDR_ROWS 21    /* rows below the header examined (Python: 21) */
#define HDR_COLS 256   /* columns examined for the header vote */

void fp_csv_dialect_default(fp_csv_dialect *d) {
  d->delimiter = ',';
  d->quote_char = '"';
  d->double_quote = true;
  d->escape_char = '\0';
  d->header = true;
  d->skip_initial_space = false;
}

static const char cands[] = {',', ';', '\t', '|'};

static bool is_cand(char c) {
  return c == ',' || c == ';' || c == '\t' || c == '|';
}
static bool is_eol(char c) {
  return c == '\n' || c == '\r';
}

/* Parses buf with dl, calling fn per record; fn returns non-OK to stop early. */
static void parse_sample(const char *buf, size_t n, const fp_csv_dialect *dl, fp_csv_record_fn fn,
                         void *ud) {
  fp_csv_opts o;
  fp_csv_opts_default(&o);
  o.dialect = *dl;
  o.check_utf8 = false;
  o.on_record = fn;
  o.ud = ud;
  fp_csv_reader *r;
  if (fp_csv_reader_new(&o, &r, NULL)) return;
  if (!fp_csv_reader_feed(r, buf, n, NULL)) fp_csv_reader_finish(r, NULL);
  fp_csv_reader_free(r);
}

/* ---- quote ------------------------------------------------------------------------ */

/* How often q both opens (after a line start or candidate delimiter) and closes fields. */
static size_t quote_score(const char *b, size_t n, char q) {
  size_t open = 0, close = 0;
  for (size_t i = 0; i < n; i++) {
    if (b[i] != q) continue;
    char prev = i ? b[i - 1] : '\n', next = i + 1 < n ? b[i + 1] : '\n';
    if (is_eol(prev) || is_cand(prev)) open++;
    if (is_eol(next) || is_cand(next)) close++;
  }
  return open < close ? open : close;
}

/* ---- delimiter -------------------------------------------------------------------- */

typedef struct counts {
  uint32_t n[SNIFF_RECS];
  size_t len;
} counts;

static fp_err count_cb(void *ud, const fp_csv_record *rec, fp_diag *d) {
  (void)d;
  counts *c = ud;
  if (rec->ncells == 1 && rec->cells[0].len == 0) return FP_OK; /* blank line */
  c->n[c->len++] = rec->ncells;
  return c->len == SNIFF_RECS ? FP_ERR_LIMIT : FP_OK; /* enough: stop */
}

/* Share of records with the most common field count; *mode gets that count. */
static double consistency(const counts *c, uint32_t *mode) {
  size_t best = 0;
  *mode = 0;
  for (size_t i = 0; i < c->len; i++) {
    size_t f = 0;
    for (size_t j = 0; j < c->len; j++) f += c->n[j] == c->n[i];
    if (f > best || (f == best && c->n[i] > *mode)) best = f, *mode = c->n[i];
  }
  return c->len ? (double)best / (double)c->len : 0.0;
}

/* Picks the delimiter; false when no candidate splits the sample consistently. */
static bool pick_delimiter(const char *b, size_t n, fp_csv_dialect *dl) {
  double best = 0.0;
  uint32_t best_mode = 0;
  char best_c = 0;
  for (size_t i = 0; i < sizeof cands; i++) {
    counts *c = calloc(1, sizeof *c);
    if (!c) return false;
    dl->delimiter = cands[i];
    parse_sample(b, n, dl, count_cb, c);
    uint32_t mode;
    double cons = consistency(c, &mode);
    free(c);
    if (mode < 2 || cons < 0.5) continue;
    if (cons > best || (cons == best && mode > best_mode))
      best = cons, best_mode = mode, best_c = cands[i];
  }
  dl->delimiter = best_c ? best_c : ',';
  return best_c != 0;
}

/* ---- header ----------------------------------------------------------------------- */

enum { T_NONE = -1, T_GONE = -2, T_NUM = -3 }; /* column type; >= 0 is a length */

typedef struct hdr {
  size_t ncols, width; /* width: header cell count; ncols: columns examined */
  size_t rows;
  bool hnum[HDR_COLS]; /* header cell is numeric */
  long hlen[HDR_COLS]; /* header cell length in characters */
  long type[HDR_COLS]; /* T_* or a length */
} hdr;

static size_t skip_digits(const char *s, size_t i, size_t n, size_t *ndig) {
  *ndig = 0;
  while (i < n && ((s[i] >= '0' && s[i] <= '9') ||
                   (s[i] == '_' && *ndig && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9')))
    *ndig += s[i] != '_', i++;
  return i;
}

static bool ieq(const char *s, size_t n, const char *w) {
  size_t k = 0;
  for (; k < n && w[k]; k++)
    if ((s[k] | 0x20) != w[k]) return false;
  return k == n && !w[k];
}

/* A Python float literal at s[i..): returns the end, or i when there is none. */
static size_t float_lit(const char *s, size_t i, size_t n) {
  size_t j = i, d1, d2;
  if (j < n && (s[j] == '+' || s[j] == '-')) j++;
  for (size_t len = n - j < 8 ? n - j : 8; len >= 3; len--) /* inf, infinity, nan */
    if (ieq(s + j, len, "inf") || ieq(s + j, len, "infinity") || ieq(s + j, len, "nan"))
      return j + len;
  j = skip_digits(s, j, n, &d1);
  if (j < n && s[j] == '.')
    j = skip_digits(s, j + 1, n, &d2);
  else
    d2 = 0;
  if (!d1 && !d2) return i;
  if (j < n && (s[j] == 'e' || s[j] == 'E')) {
    size_t k = j + 1, de;
    if (k < n && (s[k] == '+' || s[k] == '-')) k++;
    k = skip_digits(s, k, n, &de);
    if (de) j = k;
  }
  return j;
}

/* What Python's complex() accepts (closely enough): 1, -2.5e3, inf, 3j, 1+2j, (1-2j). */
static bool is_numeric(const char *s, size_t n) {
  while (n && (*s == ' ' || *s == '\t')) s++, n--;
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
  if (n >= 2 && s[0] == '(' && s[n - 1] == ')') s++, n -= 2;
  size_t e = float_lit(s, 0, n);
  if (e == 0) return false;
  if (e == n) return true;
  if (s[e] == 'j' || s[e] == 'J') return e + 1 == n;
  size_t e2 = float_lit(s, e, n);
  return (s[e] == '+' || s[e] == '-') && e2 > e && e2 + 1 == n && (s[e2] == 'j' || s[e2] == 'J');
}

static long char_len(const char *s, size_t n) {
  long k = 0;
  for (size_t i = 0; i < n; i++) k += ((unsigned char)s[i] & 0xC0) != 0x80;
  return k;
}

static fp_err header_cb(void *ud, const fp_csv_record *rec, fp_diag *d) {
  (void)d;
  hdr *h = ud;
  if (rec->index == 1) {
    h->width = rec->ncells;
    h->ncols = rec->ncells < HDR_COLS ? rec->ncells : HDR_COLS;
    for (size_t c = 0; c < h->ncols; c++) {
      h->hnum[c] = is_numeric(rec->cells[c].ptr, rec->cells[c].len);
      h->hlen[c] = char_len(rec->cells[c].ptr, rec->cells[c].len);
      h->type[c] = T_NONE;
    }
    return FP_OK;
  }
  if (h->rows++ == HDR_ROWS) return FP_ERR_LIMIT; /* enough: stop */
  if (rec->ncells != h->width) return FP_OK;
  for (size_t c = 0; c < h->ncols; c++) {
    const fp_cell *cell = &rec->cells[c];
    long t = is_numeric(cell->ptr, cell->len) ? T_NUM : char_len(cell->ptr, cell->len);
    if (h->type[c] == T_NONE)
      h->type[c] = t;
    else if (h->type[c] != t)
      h->type[c] = T_GONE;
  }
  return FP_OK;
}

static bool has_header(const char *b, size_t n, const fp_csv_dialect *dl) {
  hdr *h = calloc(1, sizeof *h);
  if (!h) return true;
  parse_sample(b, n, dl, header_cb, h);
  long vote = 0;
  for (size_t c = 0; c < h->ncols; c++) {
    long t = h->type[c];
    if (t == T_GONE) continue;
    if (t == T_NONE)
      vote++; /* no rows: Python's None(header) fails, a vote for */
    else if (t == T_NUM)
      vote += h->hnum[c] ? -1 : 1;
    else
      vote += h->hlen[c] != t ? 1 : -1;
  }
  free(h);
  return vote >= 0;
}

/* ---- fp_csv_sniff ----------------------------------------------------------------- */

/* A full-size sample was cut from a longer file: drop its last, partial line. */
static size_t trim_partial(const char *b, size_t n) {
  if (n < FP__CSV_SNIFF_BYTES || is_eol(b[n - 1])) return n;
  size_t k = n;
  while (k && !is_eol(b[k - 1])) k--;
  return k ? k : n;
}

fp_err fp_csv_sniff(const char *buf, size_t n, fp_csv_dialect *out, bool *confident) {
  fp_csv_dialect_default(out);
  *confident = false;
  if (!buf || !n) return FP_OK;
  n = trim_partial(buf, n);
  fp_csv_dialect dl = *out;
  if (quote_score(buf, n, '\'') > quote_score(buf, n, '"')) dl.quote_char = '\'';
  if (!pick_delimiter(buf, n, &dl)) return FP_OK;
  dl.header = has_header(buf, n, &dl);
  *out = dl;
  *confident = true;
  return FP_OK;
}
