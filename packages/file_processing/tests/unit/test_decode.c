/* test_decode.c — gzip and zstd decoders: round trips fed in random small chunks,
 * concatenated members/frames, truncated and corrupt input, bounded output chunks on a
 * large stream, sink errors passed through, and the key-extension helper. */
#include "fp_test.h"

#include <zlib.h>
#include <zstd.h>

#include "fp/fp_stream.h"

#define OUT_CHUNK_MAX ((size_t)256 * 1024) /* decode.c's output buffer */

/* ---- a sink that keeps what it gets ------------------------------------------------ */

typedef struct collect {
  unsigned char *data;
  size_t len, cap;
  size_t calls, max_chunk;
  int keep;          /* 0: only count (and check expect_byte) */
  int expect_byte;   /* >= 0: every byte must equal it */
  size_t fail_after; /* > 0: return FP_ERR_LIMIT on this call number */
} collect;

static fp_err collect_sink(void *ud, const char *buf, size_t n, fp_diag *d) {
  collect *c = ud;
  c->calls++;
  if (n > c->max_chunk) c->max_chunk = n;
  if (c->fail_after && c->calls == c->fail_after)
    return fp_diag_set(d, FP_ERR_LIMIT, "sink says stop");
  if (c->expect_byte >= 0) {
    for (size_t i = 0; i < n; i++)
      if ((unsigned char)buf[i] != (unsigned char)c->expect_byte) return FP_ERR_INTERNAL;
  }
  if (c->keep) {
    if (c->len + n > c->cap) {
      size_t ncap = c->cap ? c->cap : 4096;
      while (ncap < c->len + n) ncap *= 2;
      c->data = realloc(c->data, ncap);
      assert_non_null(c->data);
      c->cap = ncap;
    }
    memcpy(c->data + c->len, buf, n);
  }
  c->len += n;
  return FP_OK;
}

static void collect_init(collect *c) {
  memset(c, 0, sizeof *c);
  c->keep = 1;
  c->expect_byte = -1;
}

/* ---- test data and compressors ----------------------------------------------------- */

static uint32_t rng_state = 12345;
static uint32_t rng(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return rng_state >> 8;
}

/* CSV-like text: compressible but not trivial. Owned. */
static unsigned char *make_text(size_t n) {
  unsigned char *p = malloc(n);
  assert_non_null(p);
  const char *words[] = {"alpha", "beta", "gamma", "12.5", "2024-01-01", "\"q,uoted\"", "x"};
  size_t i = 0;
  while (i < n) {
    const char *w = words[rng() % 7];
    for (size_t k = 0; w[k] && i < n; k++) p[i++] = (unsigned char)w[k];
    if (i < n) p[i++] = (rng() % 5 == 0) ? '\n' : ',';
  }
  return p;
}

/* gzip member (deflate with the gzip wrapper). Owned; *outn set. */
static unsigned char *gzip_bytes(const unsigned char *in, size_t n, size_t *outn) {
  z_stream z;
  memset(&z, 0, sizeof z);
  assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  size_t cap = deflateBound(&z, (uLong)n) + 64;
  unsigned char *out = malloc(cap);
  assert_non_null(out);
  z.next_in = (unsigned char *)in;
  z.avail_in = (uInt)n;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
  *outn = cap - z.avail_out;
  deflateEnd(&z);
  return out;
}

static unsigned char *zstd_bytes(const unsigned char *in, size_t n, size_t *outn) {
  size_t cap = ZSTD_compressBound(n);
  unsigned char *out = malloc(cap);
  assert_non_null(out);
  size_t r = ZSTD_compress(out, cap, in, n, 3);
  assert_false(ZSTD_isError(r));
  *outn = r;
  return out;
}

static unsigned char *concat(const unsigned char *a, size_t an, const unsigned char *b, size_t bn,
                             size_t *outn) {
  unsigned char *p = malloc(an + bn);
  assert_non_null(p);
  memcpy(p, a, an);
  memcpy(p + an, b, bn);
  *outn = an + bn;
  return p;
}

/* Feeds data in random chunks of 1..maxchunk bytes; returns the first error (feed or
 * finish). d receives the diag. */
static fp_err feed_all(fp_compression c, const unsigned char *data, size_t n, size_t maxchunk,
                       collect *col, fp_diag *d) {
  fp_decoder *dec = NULL;
  fp_diag_clear(d);
  fp_err e = fp_decoder_new(c, collect_sink, col, &dec, d);
  assert_int_equal(e, FP_OK);
  size_t off = 0;
  while (off < n && !e) {
    size_t k = 1 + rng() % maxchunk;
    if (k > n - off) k = n - off;
    e = fp_decoder_sink(dec, (const char *)data + off, k, d);
    off += k;
  }
  if (!e) e = fp_decoder_finish(dec, d);
  if (!e) {
    assert_int_equal(fp_decoder_bytes_in(dec), n);
    assert_int_equal(fp_decoder_bytes_out(dec), col->len);
  }
  fp_decoder_free(dec);
  return e;
}

static void round_trip(fp_compression c, const unsigned char *comp, size_t compn,
                       const unsigned char *want, size_t wantn, size_t maxchunk) {
  collect col;
  collect_init(&col);
  fp_diag d;
  fp_err e = feed_all(c, comp, compn, maxchunk, &col, &d);
  if (e) print_error("%s: %s\n", fp_compression_name(c), d.msg);
  assert_int_equal(e, FP_OK);
  assert_int_equal(col.len, wantn);
  assert_memory_equal(col.data, want, wantn);
  assert_true(col.max_chunk <= OUT_CHUNK_MAX);
  free(col.data);
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_gzip_round_trip(void **state) {
  (void)state;
  size_t n = 700 * 1024, cn;
  unsigned char *text = make_text(n);
  unsigned char *gz = gzip_bytes(text, n, &cn);
  round_trip(FP_COMPRESSION_GZIP, gz, cn, text, n, 97);
  round_trip(FP_COMPRESSION_GZIP, gz, cn, text, n, 64 * 1024);
  round_trip(FP_COMPRESSION_GZIP, gz, cn, text, n, cn); /* up to all at once */
  free(gz);
  /* Byte by byte on a small input. */
  gz = gzip_bytes(text, 5000, &cn);
  round_trip(FP_COMPRESSION_GZIP, gz, cn, text, 5000, 1);
  free(gz);
  /* A zlib-wrapped stream (compress2) is auto-detected too (windowBits 15+32). */
  uLongf zn = compressBound(20000);
  unsigned char *z = malloc(zn);
  assert_int_equal(compress2(z, &zn, text, 20000, 9), Z_OK);
  round_trip(FP_COMPRESSION_GZIP, z, zn, text, 20000, 333);
  free(z);
  free(text);
}

static void test_zstd_round_trip(void **state) {
  (void)state;
  size_t n = 700 * 1024, cn;
  unsigned char *text = make_text(n);
  unsigned char *zs = zstd_bytes(text, n, &cn);
  round_trip(FP_COMPRESSION_ZSTD, zs, cn, text, n, 97);
  round_trip(FP_COMPRESSION_ZSTD, zs, cn, text, n, 64 * 1024);
  round_trip(FP_COMPRESSION_ZSTD, zs, cn, text, n, cn);
  free(zs);
  zs = zstd_bytes(text, 5000, &cn);
  round_trip(FP_COMPRESSION_ZSTD, zs, cn, text, 5000, 1);
  free(zs);
  free(text);
}

static void test_gzip_multi_member(void **state) {
  (void)state;
  size_t n = 300 * 1024, an, bn, en, ab, all;
  unsigned char *text = make_text(n);
  unsigned char *a = gzip_bytes(text, 1000, &an);
  unsigned char *b = gzip_bytes(text + 1000, n - 1000, &bn);
  unsigned char *empty = gzip_bytes(text, 0, &en); /* an empty member in between */
  unsigned char *tmp = concat(a, an, empty, en, &ab);
  unsigned char *both = concat(tmp, ab, b, bn, &all);
  round_trip(FP_COMPRESSION_GZIP, both, all, text, n, 13);
  round_trip(FP_COMPRESSION_GZIP, both, all, text, n, 1 << 20);
  /* Member boundary exactly at a feed boundary: feed a, then b. */
  collect col;
  collect_init(&col);
  fp_decoder *dec;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_decoder_new(FP_COMPRESSION_GZIP, collect_sink, &col, &dec, &d), FP_OK);
  assert_int_equal(fp_decoder_sink(dec, (const char *)a, an, &d), FP_OK);
  assert_int_equal(fp_decoder_sink(dec, (const char *)b, bn, &d), FP_OK);
  assert_int_equal(fp_decoder_finish(dec, &d), FP_OK);
  assert_int_equal(col.len, n);
  assert_memory_equal(col.data, text, n);
  fp_decoder_free(dec);
  free(col.data);
  free(a), free(b), free(empty), free(tmp), free(both), free(text);
}

static void test_zstd_multi_frame(void **state) {
  (void)state;
  size_t n = 300 * 1024, an, bn, ab, all;
  unsigned char *text = make_text(n);
  unsigned char *a = zstd_bytes(text, 1000, &an);
  unsigned char *b = zstd_bytes(text + 1000, n - 1000, &bn);
  /* A skippable frame (magic 0x184D2A50, little-endian length, payload) between them. */
  unsigned char skip[8 + 5] = {0x50, 0x2A, 0x4D, 0x18, 5, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'};
  unsigned char *tmp = concat(a, an, skip, sizeof skip, &ab);
  unsigned char *both = concat(tmp, ab, b, bn, &all);
  round_trip(FP_COMPRESSION_ZSTD, both, all, text, n, 13);
  round_trip(FP_COMPRESSION_ZSTD, both, all, text, n, 1 << 20);
  free(a), free(b), free(tmp), free(both), free(text);
}

static void expect_truncated(fp_compression c, const unsigned char *data, size_t n) {
  collect col;
  collect_init(&col);
  fp_diag d;
  fp_err e = feed_all(c, data, n, 101, &col, &d);
  assert_int_equal(e, FP_ERR_DECOMPRESS);
  if (!strstr(d.msg, "truncated") && !strstr(d.msg, "empty")) {
    print_error("unexpected message: %s\n", d.msg);
    fail();
  }
  free(col.data);
}

static void test_truncated(void **state) {
  (void)state;
  size_t n = 100 * 1024, gn, zn;
  unsigned char *text = make_text(n);
  unsigned char *gz = gzip_bytes(text, n, &gn);
  unsigned char *zs = zstd_bytes(text, n, &zn);
  expect_truncated(FP_COMPRESSION_GZIP, gz, gn - 1); /* inside the trailer */
  expect_truncated(FP_COMPRESSION_GZIP, gz, gn - 8); /* whole trailer missing */
  expect_truncated(FP_COMPRESSION_GZIP, gz, gn / 2);
  expect_truncated(FP_COMPRESSION_GZIP, gz, 5); /* inside the header */
  expect_truncated(FP_COMPRESSION_GZIP, gz, 0); /* nothing at all */
  expect_truncated(FP_COMPRESSION_ZSTD, zs, zn - 1);
  expect_truncated(FP_COMPRESSION_ZSTD, zs, zn / 2);
  expect_truncated(FP_COMPRESSION_ZSTD, zs, 3);
  expect_truncated(FP_COMPRESSION_ZSTD, zs, 0);
  /* Truncated second member / frame. */
  size_t all;
  unsigned char *two = concat(gz, gn, gz, gn, &all);
  expect_truncated(FP_COMPRESSION_GZIP, two, all - 3);
  free(two);
  two = concat(zs, zn, zs, zn, &all);
  expect_truncated(FP_COMPRESSION_ZSTD, two, all - 3);
  free(two);
  free(gz), free(zs), free(text);
}

/* Corrupt data: FP_ERR_DECOMPRESS with the compressed byte offset in the diag. */
static void expect_corrupt(fp_compression c, const unsigned char *data, size_t n, uint64_t min_off,
                           uint64_t max_off) {
  collect col;
  collect_init(&col);
  fp_diag d;
  fp_err e = feed_all(c, data, n, 50, &col, &d);
  assert_int_equal(e, FP_ERR_DECOMPRESS);
  assert_true(d.has_offset);
  if (d.byte_offset < min_off || d.byte_offset > max_off) {
    print_error("offset %llu not in [%llu, %llu]: %s\n", (unsigned long long)d.byte_offset,
                (unsigned long long)min_off, (unsigned long long)max_off, d.msg);
    fail();
  }
  if (!strstr(d.msg, "corrupt") && !strstr(d.msg, "truncated")) {
    print_error("unexpected message: %s\n", d.msg);
    fail();
  }
  free(col.data);
}

static void test_corrupt(void **state) {
  (void)state;
  size_t n = 100 * 1024, gn, zn;
  unsigned char *text = make_text(n);
  unsigned char *gz = gzip_bytes(text, n, &gn);
  unsigned char *zs = zstd_bytes(text, n, &zn);
  /* Not compressed at all. */
  const char *plain = "id,name\n1,alice\n2,bob\n";
  expect_corrupt(FP_COMPRESSION_GZIP, (const unsigned char *)plain, strlen(plain), 0, 4);
  expect_corrupt(FP_COMPRESSION_ZSTD, (const unsigned char *)plain, strlen(plain), 0, 8);
  /* Bad gzip compression method byte (offset 2). */
  unsigned char *g2 = malloc(gn);
  memcpy(g2, gz, gn);
  g2[2] = 9;
  expect_corrupt(FP_COMPRESSION_GZIP, g2, gn, 2, 4);
  /* Damage inside the deflate data: caught there or by the CRC in the trailer. */
  memcpy(g2, gz, gn);
  for (size_t i = gn / 2; i < gn / 2 + 16; i++) g2[i] ^= 0x5A;
  expect_corrupt(FP_COMPRESSION_GZIP, g2, gn, gn / 2, gn);
  /* CRC damage alone: the last 8 bytes are CRC32 and ISIZE. */
  memcpy(g2, gz, gn);
  g2[gn - 6] ^= 0xFF;
  expect_corrupt(FP_COMPRESSION_GZIP, g2, gn, gn - 8, gn);
  /* Trailing garbage after a complete member. */
  size_t tn;
  unsigned char *trail = concat(gz, gn, (const unsigned char *)"garbage!", 8, &tn);
  expect_corrupt(FP_COMPRESSION_GZIP, trail, tn, gn, tn);
  free(trail);
  free(g2);
  /* zstd: damage inside the frame (the checksum or block decoding catches it). */
  unsigned char *z2 = malloc(zn);
  memcpy(z2, zs, zn);
  for (size_t i = zn / 2; i < zn / 2 + 16; i++) z2[i] ^= 0x5A;
  collect col;
  collect_init(&col);
  fp_diag d;
  assert_int_equal(feed_all(FP_COMPRESSION_ZSTD, z2, zn, 50, &col, &d), FP_ERR_DECOMPRESS);
  assert_true(d.has_offset);
  free(col.data);
  /* Bad zstd magic. */
  memcpy(z2, zs, zn);
  z2[0] ^= 0xFF;
  expect_corrupt(FP_COMPRESSION_ZSTD, z2, zn, 0, 8);
  free(z2);
  free(gz), free(zs), free(text);
}

/* 50 MB of zeros: decoded in bounded chunks, never more than the output buffer. */
static void big_zeros(fp_compression c) {
  size_t n = 50u * 1000 * 1000, cn;
  unsigned char *zeros = calloc(1, n);
  assert_non_null(zeros);
  unsigned char *comp =
      c == FP_COMPRESSION_GZIP ? gzip_bytes(zeros, n, &cn) : zstd_bytes(zeros, n, &cn);
  free(zeros);
  collect col;
  collect_init(&col);
  col.keep = 0;
  col.expect_byte = 0;
  fp_diag d;
  fp_err e = feed_all(c, comp, cn, 64 * 1024, &col, &d);
  if (e) print_error("%s\n", d.msg);
  assert_int_equal(e, FP_OK);
  assert_int_equal(col.len, n);
  assert_true(col.max_chunk <= OUT_CHUNK_MAX);
  assert_true(col.calls >= n / OUT_CHUNK_MAX);
  free(comp);
}

static void test_large_stream_bounded(void **state) {
  (void)state;
  big_zeros(FP_COMPRESSION_GZIP);
  big_zeros(FP_COMPRESSION_ZSTD);
}

static void test_sink_error_passes_through(void **state) {
  (void)state;
  size_t n = 2u * 1024 * 1024, cn;
  unsigned char *text = make_text(n);
  for (int k = 0; k < 3; k++) {
    fp_compression c = k == 0   ? FP_COMPRESSION_GZIP
                       : k == 1 ? FP_COMPRESSION_ZSTD
                                : FP_COMPRESSION_NONE;
    unsigned char *comp = c == FP_COMPRESSION_GZIP   ? gzip_bytes(text, n, &cn)
                          : c == FP_COMPRESSION_ZSTD ? zstd_bytes(text, n, &cn)
                                                     : (cn = n, text);
    collect col;
    collect_init(&col);
    col.fail_after = 2;
    fp_decoder *dec;
    fp_diag d;
    fp_diag_clear(&d);
    assert_int_equal(fp_decoder_new(c, collect_sink, &col, &dec, &d), FP_OK);
    fp_err e = FP_OK;
    for (size_t off = 0; off < cn && !e; off += 4096) {
      size_t k2 = cn - off < 4096 ? cn - off : 4096;
      e = fp_decoder_sink(dec, (const char *)comp + off, k2, &d);
    }
    assert_int_equal(e, FP_ERR_LIMIT);
    assert_string_equal(d.msg, "sink says stop");
    /* The decoder stays failed. */
    assert_int_equal(fp_decoder_sink(dec, "x", 1, &d), FP_ERR_LIMIT);
    assert_int_equal(fp_decoder_finish(dec, &d), FP_ERR_LIMIT);
    fp_decoder_free(dec);
    free(col.data);
    if (comp != text) free(comp);
  }
  free(text);
}

static void test_none_passthrough(void **state) {
  (void)state;
  const char *s = "a,b\n1,2\n";
  collect col;
  collect_init(&col);
  fp_diag d;
  assert_int_equal(feed_all(FP_COMPRESSION_NONE, (const unsigned char *)s, strlen(s), 3, &col, &d),
                   FP_OK);
  assert_int_equal(col.len, strlen(s));
  assert_memory_equal(col.data, s, strlen(s));
  free(col.data);
  /* An empty plain stream is fine. */
  collect_init(&col);
  assert_int_equal(feed_all(FP_COMPRESSION_NONE, (const unsigned char *)"", 0, 3, &col, &d), FP_OK);
  free(col.data);
}

static void test_names_and_keys(void **state) {
  (void)state;
  assert_string_equal(fp_compression_name(FP_COMPRESSION_NONE), "none");
  assert_string_equal(fp_compression_name(FP_COMPRESSION_GZIP), "gzip");
  assert_string_equal(fp_compression_name(FP_COMPRESSION_ZSTD), "zstd");
  assert_int_equal(fp_compression_from_key("a/b.csv.gz"), FP_COMPRESSION_GZIP);
  assert_int_equal(fp_compression_from_key("a/b.csv.GZ"), FP_COMPRESSION_GZIP);
  assert_int_equal(fp_compression_from_key("b.gzip"), FP_COMPRESSION_GZIP);
  assert_int_equal(fp_compression_from_key("b.csv.zst"), FP_COMPRESSION_ZSTD);
  assert_int_equal(fp_compression_from_key("b.zstd"), FP_COMPRESSION_ZSTD);
  assert_int_equal(fp_compression_from_key("b.csv"), FP_COMPRESSION_NONE);
  assert_int_equal(fp_compression_from_key("gz"), FP_COMPRESSION_NONE);
  assert_int_equal(fp_compression_from_key("b.gz.csv"), FP_COMPRESSION_NONE);
  assert_int_equal(fp_compression_from_key(NULL), FP_COMPRESSION_NONE);
  fp_decoder *dec = (fp_decoder *)&dec;
  fp_diag d;
  fp_diag_clear(&d);
  assert_int_equal(fp_decoder_new((fp_compression)7, collect_sink, NULL, &dec, &d), FP_ERR_INVAL);
  assert_null(dec);
  fp_decoder_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gzip_round_trip),
      cmocka_unit_test(test_zstd_round_trip),
      cmocka_unit_test(test_gzip_multi_member),
      cmocka_unit_test(test_zstd_multi_frame),
      cmocka_unit_test(test_truncated),
      cmocka_unit_test(test_corrupt),
      cmocka_unit_test(test_large_stream_bounded),
      cmocka_unit_test(test_sink_error_passes_through),
      cmocka_unit_test(test_none_passthrough),
      cmocka_unit_test(test_names_and_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
