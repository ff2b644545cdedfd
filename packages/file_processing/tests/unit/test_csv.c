/* test_csv.c — the streaming CSV reader (fp_csv.h): grammar, offsets, flags, limits,
 * sniffing, and equivalence of the fast scanner (any chunking) with the scalar oracle. */
#include "fp_test.h"

#include "fp/fp_csv.h"

/* ---- collecting records ------------------------------------------------------------ */

typedef struct rec_t {
  uint32_t ncells, flags;
  uint64_t index, byte_offset, bad_offset, raw_bytes;
  uint32_t *lens, *cflags;
  char **cells; /* NUL-terminated copies (cells may hold NUL: compare with lens) */
} rec_t;

typedef struct coll {
  rec_t *v;
  size_t n, cap;
  size_t stop_at; /* return stop_code at this record (1-based); 0 = never */
  fp_err stop_code;
  const fp_csv_reader *r;
  char first_delim; /* the reader's dialect delimiter seen at the first record */
} coll;

static fp_err collect(void *ud, const fp_csv_record *rec, fp_diag *d) {
  (void)d;
  coll *c = ud;
  if (c->n == 0 && c->r) c->first_delim = fp_csv_reader_dialect(c->r)->delimiter;
  if (c->n == c->cap) {
    c->cap = c->cap ? 2 * c->cap : 16;
    c->v = realloc(c->v, c->cap * sizeof *c->v);
    assert_non_null(c->v);
  }
  rec_t *o = &c->v[c->n++];
  o->ncells = rec->ncells;
  o->flags = rec->flags;
  o->index = rec->index;
  o->byte_offset = rec->byte_offset;
  o->bad_offset = rec->bad_offset;
  o->raw_bytes = rec->raw_bytes;
  o->lens = calloc(rec->ncells + 1, sizeof *o->lens);
  o->cflags = calloc(rec->ncells + 1, sizeof *o->cflags);
  o->cells = calloc(rec->ncells + 1, sizeof *o->cells);
  for (uint32_t i = 0; i < rec->ncells; i++) {
    o->lens[i] = rec->cells[i].len;
    o->cflags[i] = rec->cells[i].flags;
    o->cells[i] = malloc(rec->cells[i].len + 1);
    if (rec->cells[i].len) memcpy(o->cells[i], rec->cells[i].ptr, rec->cells[i].len);
    o->cells[i][rec->cells[i].len] = '\0';
  }
  if (c->stop_at && c->n == c->stop_at) return c->stop_code;
  return FP_OK;
}

static void coll_free(coll *c) {
  for (size_t i = 0; i < c->n; i++) {
    for (uint32_t k = 0; k < c->v[i].ncells; k++) free(c->v[i].cells[k]);
    free(c->v[i].cells);
    free(c->v[i].lens);
    free(c->v[i].cflags);
  }
  free(c->v);
  memset(c, 0, sizeof *c);
}

typedef struct run {
  coll c;
  fp_err err;
  fp_diag d;
  uint64_t bytes;
  fp_csv_dialect dialect;
  bool sniffed;
} run;

static uint64_t rng_next(uint64_t *s) { /* xorshift64* */
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 0x2545F4914F6CDD1DULL;
}

/* Parses in[0..n) with o. chunk 0: one feed; > 0: feeds of that size; SIZE_MAX: random
 * sizes 1..4096 drawn from *rng. */
static void parse_with(const char *in, size_t n, const fp_csv_opts *o, fp_csv_scan_mode mode,
                       size_t chunk, uint64_t *rng, run *out) {
  memset(out, 0, sizeof *out);
  fp_csv_opts oo = *o;
  oo.on_record = collect;
  oo.ud = &out->c;
  fp_csv_reader *r = NULL;
  out->err = fp_csv_reader_new(&oo, &r, &out->d);
  assert_int_equal(out->err, FP_OK);
  out->c.r = r;
  fp_csv_reader_set_scan(r, mode);
  size_t i = 0;
  while (!out->err && i < n) {
    size_t k = n - i;
    if (chunk == SIZE_MAX)
      k = 1 + (size_t)(rng_next(rng) % 4096);
    else if (chunk)
      k = chunk;
    if (k > n - i) k = n - i;
    out->err = fp_csv_reader_feed(r, in + i, k, &out->d);
    i += k;
  }
  if (!out->err) out->err = fp_csv_reader_finish(r, &out->d);
  out->bytes = fp_csv_reader_bytes(r);
  out->dialect = *fp_csv_reader_dialect(r);
  out->sniffed = fp_csv_reader_sniffed(r);
  fp_csv_reader_free(r);
}

static void parse_str(const char *in, const fp_csv_opts *o, run *out) {
  parse_with(in, strlen(in), o, FP_CSV_SCAN_AUTO, 0, NULL, out);
}

static fp_csv_opts defaults(void) {
  fp_csv_opts o;
  fp_csv_opts_default(&o);
  return o;
}

/* The record's cells equal the NULL-terminated list of strings. */
static void expect_cells(const rec_t *r, ...) {
  va_list ap;
  va_start(ap, r);
  uint32_t i = 0;
  for (const char *s; (s = va_arg(ap, const char *)); i++) {
    assert_true(i < r->ncells);
    assert_int_equal(r->lens[i], strlen(s));
    assert_memory_equal(r->cells[i], s, strlen(s));
  }
  va_end(ap);
  assert_int_equal(r->ncells, i);
}

/* ---- grammar ------------------------------------------------------------------------ */

static void test_quoted_fields(void **state) {
  (void)state;
  fp_csv_opts o = defaults();
  run x;
  parse_str("a,\"b,c\",\"d\"\"e\",\"f\ng\",\"h\r\ni\",\"\"\nz\n", &o, &x);
  assert_int_equal(x.err, FP_OK);
  assert_int_equal(x.c.n, 2);
  expect_cells(&x.c.v[0], "a", "b,c", "d\"e", "f\ng", "h\r\ni", "", NULL);
  assert_int_equal(x.c.v[0].cflags[0], 0);
  for (int i = 1; i < 6; i++) assert_int_equal(x.c.v[0].cflags[i], FP_CELL_QUOTED);
  assert_int_equal(x.c.v[0].flags, 0);
  expect_cells(&x.c.v[1], "z", NULL);
  assert_int_equal(x.c.v[1].index, 2);
  assert_int_equal(x.c.v[1].byte_offset, 31);
  coll_free(&x.c);
}

static void test_line_ends(void **state) {
  (void)state;
  fp_csv_opts o = defaults();
  run x;
  /* LF, CRLF, lone CR, and a last record without a line end */
  parse_str("a,b\nc,d\r\ne,f\rg,h", &o, &x);
  assert_int_equal(x.err, FP_OK);
  assert_int_equal(x.c.n, 4);
  const uint64_t off[] = {0, 4, 9, 13}, raw[] = {4, 5, 4, 3};
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(x.c.v[i].index, i + 1);
    assert_int_equal(x.c.v[i].byte_offset, off[i]);
    assert_int_equal(x.c.v[i].raw_bytes, raw[i]);
  }
  expect_cells(&x.c.v[2], "e", "f", NULL);
  expect_cells(&x.c.v[3], "g", "h", NULL);
  assert_int_equal(x.bytes, 16);
  coll_free(&x.c);
}

static void test_bom(void **state) {
  (void)state;
  fp_csv_opts o = defaults();
  const char in[] =
      "\xEF\xBB\xBF"
      "a,b\nc\n";
  for (size_t chunk = 0; chunk <= 2; chunk++) { /* whole, 1-byte and 2-byte feeds */
    run x;
    parse_with(in, sizeof in - 1, &o, FP_CSV_SCAN_AUTO, chunk, NULL, &x);
    assert_int_equal(x.err, FP_OK);
    assert_int_equal(x.c.n, 2);
    expect_cells(&x.c.v[0], "a", "b", NULL);
    assert_int_equal(x.c.v[0].byte_offset, 3); /* the BOM counts in offsets */
    assert_int_equal(x.c.v[0].raw_bytes, 4);
    assert_int_equal(x.c.v[1].byte_offset, 7);
    assert_int_equal(x.c.v[0].flags, 0);
    coll_free(&x.c);
  }
  /* a BOM prefix that is not a BOM is data (and invalid UTF-8 at byte 0) */
  run x;
  parse_with("\xEF\xBBx\n", 4, &o, FP_CSV_SCAN_AUTO, 1, NULL, &x);
  assert_int_equal(x.c.n, 1);
  expect_cells(&x.c.v[0], "\xEF\xBBx", NULL);
  assert_int_equal(x.c.v[0].flags, FP_REC_INVALID_UTF8);
  assert_int_equal(x.c.v[0].bad_offset, 0);
  coll_free(&x.c);
  /* only at the very start: a BOM in the second record is data (valid U+FEFF) */
  parse_str(
      "a\n\xEF\xBB\xBF"
      "b\n",
      &o, &x);
  expect_cells(&x.c.v[1],
               "\xEF\xBB\xBF"
               "b",
               NULL);
  coll_free(&x.c);
  /* input that is just part of a BOM */
  parse_str("\xEF", &o, &x);
  assert_int_equal(x.c.n, 1);
  expect_cells(&x.c.v[0], "\xEF", NULL);
  coll_free(&x.c);
}

static void test_empty_and_blank(void **state) {
  (void)state;
  fp_csv_opts o = defaults();
  run x;
  parse_str("", &o, &x);
  assert_int_equal(x.err, FP_OK);
  assert_int_equal(x.c.n, 0);
  coll_free(&x.c);
  parse_str("\xEF\xBB\xBF", &o, &x); /* a BOM alone is an empty file */
  assert_int_equal(x.c.n, 0);
  coll_free(&x.c);
  /* blank lines are records of one empty cell, whatever the line end */
  parse_str("a\n\n\r\n\rb\n", &o, &x);
  assert_int_equal(x.c.n, 5);
  expect_cells(&x.c.v[0], "a", NULL);
  for (int i = 1; i <= 3; i++) {
    expect_cells(&x.c.v[i], "", NULL);
    assert_int_equal(x.c.v[i].cflags[0], 0);
  }
  assert_int_equal(x.c.v[2].raw_bytes, 2);
  assert_int_equal(x.c.v[3].raw_bytes, 1);
  expect_cells(&x.c.v[4], "b", NULL);
  assert_int_equal(x.c.v[4].index, 5);
  coll_free(&x.c);
  /* a trailing delimiter makes a last empty cell */
  parse_str("a,", &o, &x);
  expect_cells(&x.c.v[0], "a", "", NULL);
  coll_free(&x.c);
}

static void test_unterminated_quote(void **state) {
  (void)state;
  fp_csv_opts o = defaults();
  run x;
  parse_str("x\na,\"bc\nd", &o, &x);
  assert_int_equal(x.err, FP_OK);
  assert_int_equal(x.c.n, 2);
  assert_int_equal(x.c.v[0].flags, 0);
  expect_cells(&x.c.v[1], "a", "bc\nd", NULL);
  assert_int_equal(x.c.v[1].flags, FP_REC_UNTERMINATED);
  assert_int_equal(x.c.v[1].byte_offset, 2);
  assert_int_equal(x.c.v[1].raw_bytes, 7);
  coll_free(&x.c);
}

static void test_stray_quotes(void **state) {
  (void)state;
  fp_csv_opts o = defaults();
  run x;
  /* Python csv (strict=False): a"b -> a"b, "a"b -> ab, "a" x -> "a x" */
  parse_str("a\"b,c\n\"a\"b,c\n\"a\" x,c\nok,\"\"\"\"\n", &o, &x);
  assert_int_equal(x.c.n, 4);
  expect_cells(&x.c.v[0], "a\"b", "c", NULL);
  assert_int_equal(x.c.v[0].flags, FP_REC_STRAY_QUOTE);
  assert_int_equal(x.c.v[0].bad_offset, 1);
  expect_cells(&x.c.v[1], "ab", "c", NULL);
  assert_int_equal(x.c.v[1].flags, FP_REC_STRAY_QUOTE);
  assert_int_equal(x.c.v[1].bad_offset, 6 + 3);
  expect_cells(&x.c.v[2], "a x", "c", NULL);
  assert_int_equal(x.c.v[2].bad_offset, 13 + 3);
  expect_cells(&x.c.v[3], "ok", "\"", NULL); /* """" is one quote, no stray */
  assert_int_equal(x.c.v[3].flags, 0);
  coll_free(&x.c);
}

static void test_escape_and_dialect(void **state) {
  (void)state;
  fp_csv_opts o = defaults();
  o.dialect.escape_char = '\\';
  run x;
  parse_str("\"a\\\"b\",c\\,d,e\\\nf\n", &o, &x);
  assert_int_equal(x.c.n, 1);
  expect_cells(&x.c.v[0], "a\"b", "c,d", "e\nf", NULL);
  assert_int_equal(x.c.v[0].flags, 0);
  coll_free(&x.c);

  o = defaults();
  o.dialect.delimiter = ';';
  o.dialect.skip_initial_space = true;
  parse_str("a;  b; \"c;d\"\n", &o, &x);
  expect_cells(&x.c.v[0], "a", "b", "c;d", NULL);
  coll_free(&x.c);

  o = defaults();
  o.dialect.quote_char = '\0'; /* quoting off: quotes are data, never stray */
  parse_str("\"a,b\"\n", &o, &x);
  expect_cells(&x.c.v[0], "\"a", "b\"", NULL);
  assert_int_equal(x.c.v[0].flags, 0);
  coll_free(&x.c);

  o = defaults();
  o.dialect.double_quote = false; /* "a""b" -> a"b" as Python with doublequote=False */
  parse_str("\"a\"\"b\"\n", &o, &x);
  expect_cells(&x.c.v[0], "a\"b\"", NULL);
  assert_int_equal(x.c.v[0].flags, FP_REC_STRAY_QUOTE);
  coll_free(&x.c);

  o = defaults();
  o.dialect.delimiter = '\n';
  fp_csv_reader *r = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  o.on_record = collect;
  assert_int_equal(fp_csv_reader_new(&o, &r, &d), FP_ERR_INVAL);
  assert_null(r);
}

/* ---- encoding flags ------------------------------------------------------------------ */

static void test_invalid_utf8_and_nul(void **state) {
  (void)state;
  fp_csv_opts o = defaults();
  run x;
  /* record 2: doubled quotes shift the row before the bad byte; record 3: NUL then bad
   * UTF-8: bad_offset is the first; record 4: a sequence split by a delimiter is
   * invalid in both cells */
  const char in[] =
      "ok,\xC3\xA9\n"
      "\"a\"\"b\xFF\",x\n"
      "n\0m,\xC3\x28\n"
      "\xC3,\xA9\n";
  parse_with(in, sizeof in - 1, &o, FP_CSV_SCAN_AUTO, 0, NULL, &x);
  assert_int_equal(x.c.n, 4);
  assert_int_equal(x.c.v[0].flags, 0);
  assert_int_equal(x.c.v[1].flags, FP_REC_INVALID_UTF8);
  assert_int_equal(x.c.v[1].bad_offset, 6 + 5);
  expect_cells(&x.c.v[1], "a\"b\xFF", "x", NULL);
  assert_int_equal(x.c.v[2].flags, FP_REC_HAS_NUL | FP_REC_INVALID_UTF8);
  assert_int_equal(x.c.v[2].bad_offset, 16 + 1);
  assert_int_equal(x.c.v[2].lens[0], 3);
  assert_int_equal(x.c.v[3].flags, FP_REC_INVALID_UTF8);
  assert_int_equal(x.c.v[3].bad_offset, 23);
  coll_free(&x.c);

  o.check_utf8 = false; /* NUL is still reported */
  parse_with(in, sizeof in - 1, &o, FP_CSV_SCAN_AUTO, 0, NULL, &x);
  assert_int_equal(x.c.v[1].flags, 0);
  assert_int_equal(x.c.v[2].flags, FP_REC_HAS_NUL);
  coll_free(&x.c);
}

static void test_utf8_split_across_chunks(void **state) {
  (void)state;
  fp_csv_opts o = defaults();
  /* 2-, 3- and 4-byte characters, quoted and not, fed 1..7 bytes at a time */
  const char in[] = "\xC3\xA9t\xC3\xA9,\"\xE2\x82\xAC \xF0\x9F\x98\x80\"\n\xE6\x97\xA5\n";
  for (size_t chunk = 1; chunk <= 7; chunk++) {
    for (int mode = 0; mode < 2; mode++) {
      run x;
      parse_with(in, sizeof in - 1, &o, (fp_csv_scan_mode)mode, chunk, NULL, &x);
      assert_int_equal(x.c.n, 2);
      assert_int_equal(x.c.v[0].flags, 0);
      assert_int_equal(x.c.v[1].flags, 0);
      expect_cells(&x.c.v[0], "\xC3\xA9t\xC3\xA9", "\xE2\x82\xAC \xF0\x9F\x98\x80", NULL);
      coll_free(&x.c);
    }
  }
  /* and an invalid one split the same way is found at the right offset */
  const char bad[] = "abc,de\xE2\x82\x41z\n";
  run x;
  parse_with(bad, sizeof bad - 1, &o, FP_CSV_SCAN_AUTO, 1, NULL, &x);
  assert_int_equal(x.c.v[0].flags, FP_REC_INVALID_UTF8);
  assert_int_equal(x.c.v[0].bad_offset, 6);
  coll_free(&x.c);
}

static void test_utf8_validator(void **state) {
  (void)state;
  static const struct {
    const char *s;
    size_t n, valid;
  } cases[] = {
      {"plain ascii text", 16, 16},
      {"\xC3\xA9", 2, 2},
      {"\xF0\x9F\x98\x80", 4, 4},
      {"\xF4\x8F\xBF\xBF", 4, 4}, /* U+10FFFF */
      {"ab\xC0\x80", 4, 2},       /* overlong NUL */
      {"\xE0\x80\xAF", 3, 0},     /* overlong */
      {"\xED\xA0\x80", 3, 0},     /* surrogate */
      {"\xF4\x90\x80\x80", 4, 0}, /* above U+10FFFF */
      {"xyz\xE2\x82", 5, 3},      /* cut */
      {"\x80", 1, 0},             /* lone continuation */
      {"0123456789\xFF", 11, 10},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    assert_int_equal(fp_utf8_valid_prefix(cases[i].s, cases[i].n), cases[i].valid);
}

/* ---- limits and errors ------------------------------------------------------------------ */

static void test_max_row_bytes(void **state) {
  (void)state;
  fp_csv_opts o = defaults();
  o.max_row_bytes = 10;
  run x;
  parse_str("a,b\n0123456789\n\"01234\",56789X,z\n", &o, &x);
  assert_int_equal(x.err, FP_ERR_LIMIT);
  assert_int_equal(x.c.n, 2); /* exactly 10 bytes is fine */
  assert_int_equal(x.d.code, FP_ERR_LIMIT);
  assert_int_equal(x.d.row, 3);
  assert_int_equal(x.d.column, 2);
  assert_true(x.d.has_offset);
  assert_int_equal(x.d.byte_offset, 15);
  assert_non_null(strstr(x.d.msg, "max_row_bytes"));
  assert_non_null(strstr(x.d.msg, "at byte 28")); /* the 11th byte: X */
  coll_free(&x.c);
}

static void test_max_columns(void **state) {
  (void)state;
  fp_csv_opts o = defaults();
  o.max_columns = 3;
  run x;
  parse_with("a,b,c\nd,e,f,g\n", 14, &o, FP_CSV_SCAN_AUTO, 1, NULL, &x);
  assert_int_equal(x.err, FP_ERR_LIMIT);
  assert_int_equal(x.c.n, 1);
  assert_int_equal(x.d.row, 2);
  assert_int_equal(x.d.column, 4);
  assert_int_equal(x.d.byte_offset, 6);
  assert_non_null(strstr(x.d.msg, "max_columns"));
  coll_free(&x.c);
}

static void test_callback_error_stops(void **state) {
  (void)state;
  coll c = {.stop_at = 2, .stop_code = FP_ERR_CONTRACT};
  fp_csv_opts o = defaults();
  o.on_record = collect;
  o.ud = &c;
  fp_csv_reader *r;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_csv_reader_new(&o, &r, &d), FP_OK);
  assert_int_equal(fp_csv_reader_feed(r, "a\nb\nc\nd\n", 8, &d), FP_ERR_CONTRACT);
  assert_int_equal(c.n, 2); /* nothing delivered after the failing record */
  assert_int_equal(d.code, FP_ERR_CONTRACT);
  assert_int_equal(d.row, 2);
  fp_diag d2;
  fp_diag_clear(&d2);
  assert_int_equal(fp_csv_reader_feed(r, "e\n", 2, &d2), FP_ERR_CONTRACT); /* sticky */
  assert_int_equal(fp_csv_reader_finish(r, &d2), FP_ERR_CONTRACT);
  assert_int_equal(c.n, 2);
  fp_csv_reader_free(r);
  coll_free(&c);
}

static void test_feed_after_finish(void **state) {
  (void)state;
  coll c = {0};
  fp_csv_opts o = defaults();
  o.on_record = collect;
  o.ud = &c;
  fp_csv_reader *r;
  assert_int_equal(fp_csv_reader_new(&o, &r, NULL), FP_OK);
  assert_int_equal(fp_csv_reader_feed(r, "a", 1, NULL), FP_OK);
  assert_int_equal(c.n, 0);
  assert_int_equal(fp_csv_reader_finish(r, NULL), FP_OK);
  assert_int_equal(c.n, 1);
  assert_int_equal(fp_csv_reader_feed(r, "b", 1, NULL), FP_ERR_INVAL);
  assert_int_equal(fp_csv_reader_bytes(r), 1);
  fp_csv_reader_free(r);
  fp_csv_reader_free(NULL);
  coll_free(&c);
}

/* ---- sniffing ---------------------------------------------------------------------- */

static void sniff_expect(const char *in, char delim, bool header) {
  fp_csv_dialect dl;
  bool conf = false;
  assert_int_equal(fp_csv_sniff(in, strlen(in), &dl, &conf), FP_OK);
  assert_true(conf);
  assert_int_equal(dl.delimiter, delim);
  assert_int_equal(dl.header, header);
}

static void test_sniff(void **state) {
  (void)state;
  sniff_expect("name;price;note\nApple;1,5;red, round\nPear;2,25;green\nFig;3;x\n", ';', true);
  sniff_expect("id\tcity\tpop\n1\tOslo, NO\t700000\n2\tBergen\t285000\n", '\t', true);
  sniff_expect("a|b|c\n1|2|3\n4|5|6\n", '|', true);
  sniff_expect("x,\"y, z\"\n1,2\n3,4\n", ',', true);
  /* no header: the first row has the same shape as the others */
  sniff_expect("10;20;30\n11;21;31\n12;22;32\n", ';', false);
  sniff_expect("ab|cd\nef|gh\nij|kl\n", '|', false);
  /* unsure: one column -> defaults, not confident */
  fp_csv_dialect dl;
  bool conf = true;
  assert_int_equal(fp_csv_sniff("alpha\nbeta\n", 11, &dl, &conf), FP_OK);
  assert_false(conf);
  assert_int_equal(dl.delimiter, ',');
  assert_true(dl.header);
  assert_int_equal(fp_csv_sniff("", 0, &dl, &conf), FP_OK);
  assert_false(conf);
}

static void test_reader_sniffs(void **state) {
  (void)state;
  /* a file larger than the 64 KiB sample, fed in odd chunks */
  size_t cap = 200000, n = 0;
  char *in = malloc(cap);
  n += (size_t)snprintf(in, cap, "id;name;score\n");
  int rows = 0;
  while (n < 150000)
    n += (size_t)snprintf(in + n, cap - n, "%d;n%d;%d,5\n", rows, rows, rows % 7), rows++;
  fp_csv_opts o = defaults();
  o.sniff = true;
  run x;
  parse_with(in, n, &o, FP_CSV_SCAN_AUTO, 777, NULL, &x);
  assert_int_equal(x.err, FP_OK);
  assert_true(x.sniffed);
  assert_int_equal(x.dialect.delimiter, ';');
  assert_true(x.dialect.header);
  assert_int_equal(x.c.first_delim, ';'); /* known by the first callback */
  assert_int_equal(x.c.n, (size_t)rows + 1);
  expect_cells(&x.c.v[1], "0", "n0", "0,5", NULL);
  assert_int_equal(x.c.v[rows].ncells, 3);
  char last[32];
  snprintf(last, sizeof last, "%d", rows - 1);
  assert_string_equal(x.c.v[rows].cells[0], last);
  coll_free(&x.c);
  free(in);
  /* shorter than the sample: sniffed at finish */
  parse_with("a|b\n1|2\n", 8, &o, FP_CSV_SCAN_AUTO, 3, NULL, &x);
  assert_true(x.sniffed);
  assert_int_equal(x.dialect.delimiter, '|');
  assert_int_equal(x.c.n, 2);
  expect_cells(&x.c.v[1], "1", "2", NULL);
  coll_free(&x.c);
}

/* ---- random documents: fast scanner in random chunks == scalar oracle in one feed ---- */

static void gen_text(char *out, size_t *n, uint64_t *rng, size_t len, bool nasty) {
  static const char *const pool[] = {"a",
                                     "b",
                                     "Z",
                                     "0",
                                     "9",
                                     " ",
                                     "-",
                                     ".",
                                     "\xC3\xA9",
                                     "\xE2\x82\xAC",
                                     "\xF0\x9F\x98\x80",
                                     "\xE6\x97\xA5"};
  static const char *const bad[] = {",",    ";",    "\t",   "|",    "\"",
                                    "\"\"", "\r",   "\n",   "\r\n", "\\",
                                    "\xFF", "\xC3", "\x80", "\0",   "\xED\xA0\x80"};
  for (size_t i = 0; i < len; i++) {
    const char *p;
    size_t pl;
    if (nasty && rng_next(rng) % 4 == 0) {
      size_t k = (size_t)(rng_next(rng) % (sizeof bad / sizeof bad[0]));
      p = bad[k];
      pl = k == 13 ? 1 : strlen(p);
    } else {
      p = pool[rng_next(rng) % (sizeof pool / sizeof pool[0])];
      pl = strlen(p);
    }
    memcpy(out + *n, p, pl);
    *n += pl;
  }
}

/* A random CSV-ish document (valid, quirky and broken records) into out; returns size. */
static size_t gen_doc(char *out, uint64_t *rng, char delim) {
  size_t n = 0;
  if (rng_next(rng) % 10 == 0) memcpy(out, "\xEF\xBB\xBF", 3), n = 3;
  int nrec = (int)(rng_next(rng) % 40);
  for (int r = 0; r < nrec; r++) {
    int ncells = 1 + (int)(rng_next(rng) % 8);
    for (int c = 0; c < ncells; c++) {
      if (c) out[n++] = delim;
      unsigned kind = (unsigned)(rng_next(rng) % 12);
      size_t len = (size_t)(rng_next(rng) % 24);
      if (kind >= 10) len = 500 + (size_t)(rng_next(rng) % 6000); /* long field */
      if (kind % 3 == 0) {                                        /* quoted */
        out[n++] = '"';
        gen_text(out, &n, rng, len, true);
        if (rng_next(rng) % 8) out[n++] = '"';
      } else {
        gen_text(out, &n, rng, len, kind % 3 == 1 && rng_next(rng) % 3 == 0);
      }
    }
    static const char *const eol[] = {"\n", "\r\n", "\r", "\n\n"};
    if (r + 1 < nrec || rng_next(rng) % 2) {
      const char *e = eol[rng_next(rng) % 4];
      memcpy(out + n, e, strlen(e));
      n += strlen(e);
    }
  }
  return n;
}

static void random_opts(fp_csv_opts *o, uint64_t *rng) {
  static const char delims[] = {',', ';', '\t', '|'};
  fp_csv_opts_default(o);
  o->dialect.delimiter = delims[rng_next(rng) % 4];
  if (rng_next(rng) % 4 == 0) o->dialect.escape_char = rng_next(rng) % 4 ? '\\' : '"';
  if (rng_next(rng) % 4 == 0) o->dialect.skip_initial_space = true;
  if (rng_next(rng) % 8 == 0) o->dialect.double_quote = false;
  if (rng_next(rng) % 16 == 0) o->dialect.quote_char = '\0';
  if (rng_next(rng) % 10 == 0) o->check_utf8 = false;
  if (rng_next(rng) % 10 == 0) o->max_row_bytes = 200 + (size_t)(rng_next(rng) % 3000);
  if (rng_next(rng) % 10 == 0) o->max_columns = 3 + (size_t)(rng_next(rng) % 4);
  if (rng_next(rng) % 12 == 0) o->sniff = true;
}

static void expect_same(const run *a, const run *b) {
  assert_int_equal(a->err, b->err);
  assert_int_equal(a->d.row, b->d.row);
  assert_int_equal(a->d.column, b->d.column);
  assert_int_equal(a->d.byte_offset, b->d.byte_offset);
  assert_int_equal(a->c.n, b->c.n);
  for (size_t i = 0; i < a->c.n; i++) {
    const rec_t *x = &a->c.v[i], *y = &b->c.v[i];
    assert_int_equal(x->ncells, y->ncells);
    assert_int_equal(x->flags, y->flags);
    assert_int_equal(x->index, y->index);
    assert_int_equal(x->byte_offset, y->byte_offset);
    assert_int_equal(x->bad_offset, y->bad_offset);
    assert_int_equal(x->raw_bytes, y->raw_bytes);
    for (uint32_t k = 0; k < x->ncells; k++) {
      assert_int_equal(x->lens[k], y->lens[k]);
      assert_int_equal(x->cflags[k], y->cflags[k]);
      assert_memory_equal(x->cells[k], y->cells[k], x->lens[k]);
    }
  }
}

/* bad_offset lies in the record and points at a byte of the flagged kind. */
static void expect_bad_offset(const rec_t *x, const char *doc) {
  const uint32_t bad = FP_REC_INVALID_UTF8 | FP_REC_HAS_NUL | FP_REC_STRAY_QUOTE;
  if (!(x->flags & bad)) {
    assert_int_equal(x->bad_offset, 0);
    return;
  }
  assert_in_range(x->bad_offset, x->byte_offset, x->byte_offset + x->raw_bytes - 1);
  unsigned char c = (unsigned char)doc[x->bad_offset];
  if ((x->flags & bad) == FP_REC_HAS_NUL) assert_int_equal(c, 0);
  if ((x->flags & bad) == FP_REC_INVALID_UTF8) assert_true(c >= 0x80);
}

static void test_random_chunk_equivalence(void **state) {
  (void)state;
  uint64_t rng = 0x9E3779B97F4A7C15ULL;
  char *doc = malloc(16u << 20);
  assert_non_null(doc);
  size_t total_recs = 0, limits = 0, sniffed = 0;
  uint32_t seen_flags = 0;
  for (int i = 0; i < 200; i++) {
    fp_csv_opts o;
    random_opts(&o, &rng);
    size_t n = gen_doc(doc, &rng, o.dialect.delimiter);
    run oracle, fast, scalar_chunked;
    parse_with(doc, n, &o, FP_CSV_SCAN_SCALAR, 0, NULL, &oracle);
    parse_with(doc, n, &o, FP_CSV_SCAN_AUTO, SIZE_MAX, &rng, &fast);
    parse_with(doc, n, &o, FP_CSV_SCAN_SCALAR, SIZE_MAX, &rng, &scalar_chunked);
    expect_same(&oracle, &fast);
    expect_same(&oracle, &scalar_chunked);
    if (oracle.err == FP_OK) { /* records tile the input after the BOM */
      uint64_t at = n >= 3 && !memcmp(doc, "\xEF\xBB\xBF", 3) ? 3 : 0;
      for (size_t k = 0; k < oracle.c.n; k++) {
        assert_int_equal(oracle.c.v[k].byte_offset, at);
        at += oracle.c.v[k].raw_bytes;
      }
      assert_int_equal(at, n);
    }
    for (size_t k = 0; k < oracle.c.n; k++) expect_bad_offset(&oracle.c.v[k], doc);
    total_recs += oracle.c.n;
    limits += oracle.err == FP_ERR_LIMIT;
    sniffed += oracle.sniffed;
    for (size_t k = 0; k < oracle.c.n; k++) seen_flags |= oracle.c.v[k].flags;
    coll_free(&oracle.c);
    coll_free(&fast.c);
    coll_free(&scalar_chunked.c);
  }
  /* the documents did exercise every flag, the limits and sniffing */
  assert_true(total_recs > 2000);
  assert_int_equal(seen_flags,
                   FP_REC_INVALID_UTF8 | FP_REC_HAS_NUL | FP_REC_UNTERMINATED | FP_REC_STRAY_QUOTE);
  assert_true(limits > 0);
  assert_true(sniffed > 0);
  free(doc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quoted_fields),
      cmocka_unit_test(test_line_ends),
      cmocka_unit_test(test_bom),
      cmocka_unit_test(test_empty_and_blank),
      cmocka_unit_test(test_unterminated_quote),
      cmocka_unit_test(test_stray_quotes),
      cmocka_unit_test(test_escape_and_dialect),
      cmocka_unit_test(test_invalid_utf8_and_nul),
      cmocka_unit_test(test_utf8_split_across_chunks),
      cmocka_unit_test(test_utf8_validator),
      cmocka_unit_test(test_max_row_bytes),
      cmocka_unit_test(test_max_columns),
      cmocka_unit_test(test_callback_error_stops),
      cmocka_unit_test(test_feed_after_finish),
      cmocka_unit_test(test_sniff),
      cmocka_unit_test(test_reader_sniffs),
      cmocka_unit_test(test_random_chunk_equivalence),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
