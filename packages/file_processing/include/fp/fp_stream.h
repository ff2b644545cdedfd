/* fp_stream.h — the push byte stream every data source speaks, and the decompression
 * adapters that sit between a source and the CSV reader.
 *
 * A source calls sink(ud, bytes, n) repeatedly and then finish. Decoders are sinks that
 * forward decoded bytes to the next sink with a bounded internal buffer (memory does not
 * grow with the object). */
#ifndef FP_STREAM_H
#define FP_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "fp/fp_err.h"

typedef fp_err (*fp_sink_fn)(void *ud, const char *buf, size_t n, fp_diag *d);

typedef enum fp_compression {
  FP_COMPRESSION_NONE = 0,
  FP_COMPRESSION_GZIP = 1,
  FP_COMPRESSION_ZSTD = 2,
} fp_compression;

const char *fp_compression_name(fp_compression c); /* "none" | "gzip" | "zstd" */
/* From the key's extension (.gz, .gzip, .zst, .zstd); NONE otherwise. */
fp_compression fp_compression_from_key(const char *key);

typedef struct fp_decoder fp_decoder; /* opaque */

/* A decoder forwarding to next(next_ud, ...). Owned: free with fp_decoder_free.
 * gzip accepts concatenated members (like gzip -d); zstd accepts multiple frames. */
fp_err fp_decoder_new(fp_compression c, fp_sink_fn next, void *next_ud, fp_decoder **out,
                      fp_diag *d);
/* Itself an fp_sink_fn: pass fp_decoder_sink with the decoder as ud. */
fp_err fp_decoder_sink(void *decoder, const char *buf, size_t n, fp_diag *d);
/* Checks the stream ended cleanly (truncated input is FP_ERR_DECOMPRESS). */
fp_err fp_decoder_finish(fp_decoder *dec, fp_diag *d);
uint64_t fp_decoder_bytes_in(const fp_decoder *dec);
uint64_t fp_decoder_bytes_out(const fp_decoder *dec);
void fp_decoder_free(fp_decoder *dec); /* NULL-safe */

#endif
