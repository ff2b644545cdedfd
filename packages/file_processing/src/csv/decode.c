/* decode.c — streaming gzip (zlib) and zstd decoders that sit between a byte source and
 * the CSV reader: each is itself a sink and forwards decoded bytes to the next sink
 * through one fixed-size output buffer, so memory does not grow with the object.
 *
 * gzip: inflate with windowBits 15+32 (gzip or zlib header, auto-detected); concatenated
 * members are decoded one after another, as `gzip -d` does. zstd: ZSTD_decompressStream,
 * which continues across concatenated (and skippable) frames; the default window limit
 * (ZSTD_WINDOWLOG_LIMIT_DEFAULT, 128 MiB) bounds decoder memory. */
#include "fp/fp_stream.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

#define DEC_OUT_CAP ((size_t)256 * 1024) /* bytes handed to the next sink per call, max */

struct fp_decoder {
  fp_compression kind;
  fp_sink_fn next;
  void *next_ud;
  char *out;          /* DEC_OUT_CAP bytes; NULL for NONE */
  uint64_t bytes_in;  /* compressed bytes accepted */
  uint64_t bytes_out; /* decoded bytes forwarded */
  fp_err failed;      /* sticky: once a feed failed, every later call fails */
  int at_boundary;    /* gzip: between members; zstd: between frames */
  int z_ready;        /* gzip: inflateInit2 succeeded */
  z_stream z;
  ZSTD_DStream *zs;
};

const char *fp_compression_name(fp_compression c) {
  switch (c) {
    case FP_COMPRESSION_GZIP: return "gzip";
    case FP_COMPRESSION_ZSTD: return "zstd";
    case FP_COMPRESSION_NONE: break;
  }
  return "none";
}

static int ends_with_ci(const char *s, size_t n, const char *suffix) {
  size_t k = strlen(suffix);
  return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

fp_compression fp_compression_from_key(const char *key) {
  if (!key) return FP_COMPRESSION_NONE;
  size_t n = strlen(key);
  if (ends_with_ci(key, n, ".gz") || ends_with_ci(key, n, ".gzip")) return FP_COMPRESSION_GZIP;
  if (ends_with_ci(key, n, ".zst") || ends_with_ci(key, n, ".zstd")) return FP_COMPRESSION_ZSTD;
  return FP_COMPRESSION_NONE;
}

fp_err fp_decoder_new(fp_compression c, fp_sink_fn next, void *next_ud, fp_decoder **out,
                      fp_diag *d) {
  if (!out || !next) return fp_diag_set(d, FP_ERR_INVAL, "fp_decoder_new: NULL argument");
  *out = NULL;
  if (c != FP_COMPRESSION_NONE && c != FP_COMPRESSION_GZIP && c != FP_COMPRESSION_ZSTD)
    return fp_diag_set(d, FP_ERR_INVAL, "unknown compression %d", (int)c);
  fp_decoder *dec = calloc(1, sizeof *dec);
  if (!dec) return fp_diag_set(d, FP_ERR_NOMEM, "out of memory creating a decoder");
  dec->kind = c;
  dec->next = next;
  dec->next_ud = next_ud;
  dec->at_boundary = 1;
  if (c != FP_COMPRESSION_NONE && !(dec->out = malloc(DEC_OUT_CAP))) goto nomem;
  if (c == FP_COMPRESSION_GZIP) {
    if (inflateInit2(&dec->z, 15 + 32) != Z_OK) goto nomem;
    dec->z_ready = 1;
  } else if (c == FP_COMPRESSION_ZSTD) {
    if (!(dec->zs = ZSTD_createDStream())) goto nomem;
    if (ZSTD_isError(ZSTD_initDStream(dec->zs))) goto nomem;
  }
  *out = dec;
  return FP_OK;
nomem:
  fp_decoder_free(dec);
  return fp_diag_set(d, FP_ERR_NOMEM, "out of memory creating a %s decoder",
                     fp_compression_name(c));
}

/* Forwards the first n bytes of the output buffer. */
static fp_err forward(fp_decoder *dec, size_t n, fp_diag *d) {
  if (n == 0) return FP_OK;
  fp_err e = dec->next(dec->next_ud, dec->out, n, d);
  if (!e) dec->bytes_out += n;
  return e;
}

static fp_err corrupt(fp_decoder *dec, uint64_t at, const char *why, fp_diag *d) {
  fp_err e = fp_diag_set(d, FP_ERR_DECOMPRESS, "corrupt %s data at compressed byte %llu: %s",
                         fp_compression_name(dec->kind), (unsigned long long)at, why);
  fp_diag_at(d, 0, 0, at);
  return e;
}

static fp_err gzip_feed(fp_decoder *dec, const char *buf, size_t n, fp_diag *d) {
  z_stream *z = &dec->z;
  size_t done = 0; /* bytes of buf consumed so far */
  while (done < n) {
    if (dec->at_boundary && inflateReset(z) != Z_OK)
      return fp_diag_set(d, FP_ERR_INTERNAL, "inflateReset failed");
    dec->at_boundary = 0;
    /* avail_in is a uInt: hand zlib at most 1 GiB per round. */
    size_t left = n - done;
    uInt take = left > ((size_t)1 << 30) ? (uInt)1 << 30 : (uInt)left;
    z->next_in = (unsigned char *)(buf + done);
    z->avail_in = take;
    int rc;
    do {
      z->next_out = (unsigned char *)dec->out;
      z->avail_out = (uInt)DEC_OUT_CAP;
      rc = inflate(z, Z_NO_FLUSH);
      if (rc == Z_NEED_DICT || rc == Z_DATA_ERROR) {
        uint64_t at = dec->bytes_in + done + (take - z->avail_in);
        dec->bytes_in += done;
        return corrupt(dec, at,
                       rc == Z_NEED_DICT ? "preset dictionary required"
                       : z->msg          ? z->msg
                                         : "invalid data",
                       d);
      }
      if (rc == Z_MEM_ERROR) return fp_diag_set(d, FP_ERR_NOMEM, "out of memory in inflate");
      if (rc == Z_STREAM_ERROR) return fp_diag_set(d, FP_ERR_INTERNAL, "inflate stream error");
      fp_err e = forward(dec, DEC_OUT_CAP - z->avail_out, d);
      if (e) return e;
      /* Z_STREAM_END: member complete and flushed; any input left starts the next one. */
    } while (rc != Z_STREAM_END && (z->avail_in > 0 || z->avail_out == 0));
    done += take - z->avail_in;
    if (rc == Z_STREAM_END) dec->at_boundary = 1;
  }
  dec->bytes_in += n;
  return FP_OK;
}

static fp_err zstd_feed(fp_decoder *dec, const char *buf, size_t n, fp_diag *d) {
  ZSTD_inBuffer in = {buf, n, 0};
  for (;;) {
    size_t in_before = in.pos;
    ZSTD_outBuffer out = {dec->out, DEC_OUT_CAP, 0};
    size_t rc = ZSTD_decompressStream(dec->zs, &out, &in);
    if (ZSTD_isError(rc)) {
      uint64_t at = dec->bytes_in + in.pos;
      dec->bytes_in += in.pos;
      return corrupt(dec, at, ZSTD_getErrorName(rc), d);
    }
    fp_err e = forward(dec, out.pos, d);
    if (e) return e;
    /* rc == 0: a frame is complete and fully flushed. A call that moved nothing (asked
     * to drain at a frame end) says nothing new about where we are. */
    if (in.pos != in_before || out.pos) dec->at_boundary = rc == 0;
    if (in.pos == in.size && out.pos < out.size) break;
  }
  dec->bytes_in += n;
  return FP_OK;
}

fp_err fp_decoder_sink(void *decoder, const char *buf, size_t n, fp_diag *d) {
  fp_decoder *dec = decoder;
  if (!dec) return fp_diag_set(d, FP_ERR_INVAL, "fp_decoder_sink: NULL decoder");
  if (dec->failed)
    return fp_diag_set(d, dec->failed, "%s decoder already failed", fp_compression_name(dec->kind));
  if (n == 0) return FP_OK;
  fp_err e;
  if (dec->kind == FP_COMPRESSION_NONE) {
    e = dec->next(dec->next_ud, buf, n, d);
    if (!e) dec->bytes_in += n, dec->bytes_out += n;
  } else if (dec->kind == FP_COMPRESSION_GZIP) {
    e = gzip_feed(dec, buf, n, d);
  } else {
    e = zstd_feed(dec, buf, n, d);
  }
  dec->failed = e;
  return e;
}

fp_err fp_decoder_finish(fp_decoder *dec, fp_diag *d) {
  if (!dec) return fp_diag_set(d, FP_ERR_INVAL, "fp_decoder_finish: NULL decoder");
  if (dec->failed)
    return fp_diag_set(d, dec->failed, "%s decoder already failed", fp_compression_name(dec->kind));
  if (dec->kind == FP_COMPRESSION_NONE) return FP_OK;
  const char *name = fp_compression_name(dec->kind);
  fp_err e = FP_OK;
  if (dec->bytes_in == 0)
    e = fp_diag_set(d, FP_ERR_DECOMPRESS, "empty %s stream (0 compressed bytes)", name);
  else if (!dec->at_boundary)
    e = fp_diag_set(d, FP_ERR_DECOMPRESS,
                    "truncated %s stream: input ended inside a %s after %llu compressed bytes",
                    name, dec->kind == FP_COMPRESSION_GZIP ? "member" : "frame",
                    (unsigned long long)dec->bytes_in);
  if (e) {
    fp_diag_at(d, 0, 0, dec->bytes_in);
    dec->failed = e;
  }
  return e;
}

uint64_t fp_decoder_bytes_in(const fp_decoder *dec) {
  return dec ? dec->bytes_in : 0;
}

uint64_t fp_decoder_bytes_out(const fp_decoder *dec) {
  return dec ? dec->bytes_out : 0;
}

void fp_decoder_free(fp_decoder *dec) {
  if (!dec) return;
  if (dec->z_ready) inflateEnd(&dec->z);
  ZSTD_freeDStream(dec->zs);
  free(dec->out);
  free(dec);
}
