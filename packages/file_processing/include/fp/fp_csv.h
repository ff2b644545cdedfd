/* fp_csv.h — streaming CSV reader: a push state machine fed arbitrary chunks.
 *
 * The reader never does I/O. Feed it bytes in any split (a file read, a curl write
 * callback, one byte at a time): it calls on_record once per complete record with cells
 * that are views into its own row buffer, valid only during the callback. No allocation
 * per cell or per row; memory is bounded by max_row_bytes and max_columns.
 *
 * RFC 4180 plus what real files do: quoted fields holding delimiters, doubled quotes and
 * line breaks; LF, CRLF and lone CR line ends; a UTF-8 BOM at the start is skipped.
 * Encoding problems (invalid UTF-8, NUL) and an unterminated quote at EOF do not stop the
 * reader: the record carries a flag and the first offending byte offset, so callers can
 * report an encoding-error finding. Exceeding max_row_bytes or max_columns is a hard
 * FP_ERR_LIMIT with row and byte offset in the diag.
 *
 * Where RFC 4180 says nothing, cells are what Python's csv module (strict=False) returns:
 *  - a quote inside an unquoted field is kept literally: a"b -> a"b;
 *  - after a closing quote, text up to the delimiter is kept literally and the field goes
 *    on unquoted: "a"b -> ab, "a" x -> a x, a"b"c -> a"b"c;
 *    both flag FP_REC_STRAY_QUOTE with bad_offset at the quote / the first byte after the
 *    closing quote;
 *  - escape_char works inside and outside quotes (\x -> x, also for delimiter, quote and
 *    line breaks); an escape_char as the very last input byte is kept literally;
 *  - double_quote=false: a quote always ends the quoted part: "a""b" -> a"b" (flagged);
 *  - skip_initial_space drops spaces right after a delimiter (and at a record start).
 * Differences from Python: a blank line is a record of one empty cell (Python: []); a BOM
 * is skipped; EOF inside quotes delivers the record flagged FP_REC_UNTERMINATED.
 * Records tile the input: the first starts after the BOM (if any), each next one at
 * byte_offset + raw_bytes of the one before. */
#ifndef FP_CSV_H
#define FP_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fp/fp_err.h"

/* A CSV Dialect (frictionless csv-dialect keys we honour). */
typedef struct fp_csv_dialect {
  char delimiter;    /* default ',' */
  char quote_char;   /* default '"'; '\0' disables quoting */
  bool double_quote; /* "" inside quotes is one quote (default true) */
  char escape_char;  /* '\0' = none (default); else \x yields x (inside or outside quotes) */
  bool header;       /* first record is the header (default true) */
  bool skip_initial_space; /* default false */
} fp_csv_dialect;

void fp_csv_dialect_default(fp_csv_dialect *d);

/* Sniffs delimiter (among , ; TAB |), quote and header presence from the first block of a
 * file (like Python's csv.Sniffer: delimiter consistent across lines, header whose cells
 * differ in type from the rows below). Returns FP_OK and fills out (defaults when unsure).
 * confident is set to false when the guess fell back to defaults (',' with header).
 * A header vote that ties counts as a header (Python says no). A 64 KiB sample that does
 * not end in a line break has its last, cut line ignored. Details in src/csv/sniff.c. */
fp_err fp_csv_sniff(const char *buf, size_t n, fp_csv_dialect *out, bool *confident);

enum {
  FP_CELL_QUOTED = 1u << 0, /* the cell was quoted in the file */
};

typedef struct fp_cell {
  const char *ptr; /* borrowed: valid during the on_record callback only; not NUL-terminated */
  uint32_t len;
  uint32_t flags; /* FP_CELL_* */
} fp_cell;

enum {
  FP_REC_INVALID_UTF8 = 1u << 0,  /* some cell has bytes that are not UTF-8 */
  FP_REC_HAS_NUL = 1u << 1,       /* a NUL byte appeared in the record */
  FP_REC_UNTERMINATED = 1u << 2,  /* EOF inside a quoted field (last record only) */
  FP_REC_STRAY_QUOTE = 1u << 3,   /* a quote char where RFC 4180 forbids one */
};

typedef struct fp_csv_record {
  const fp_cell *cells;  /* borrowed, valid during the callback */
  uint32_t ncells;
  uint32_t flags;        /* FP_REC_* */
  uint64_t index;        /* 1-based record number in the file (header, if any, is 1) */
  uint64_t byte_offset;  /* offset of the record's first byte in the (decompressed) input,
                            BOM included in the count */
  uint64_t bad_offset;   /* first offending byte (absolute input offset) over all
                            INVALID_UTF8/HAS_NUL/STRAY_QUOTE problems; 0 when none is set.
                            UTF-8 is checked per cell after unescaping: a sequence cut by a
                            delimiter is invalid, one cut by a feed() boundary is not */
  uint64_t raw_bytes;    /* bytes the record occupied in the input, line end included */
} fp_csv_record;

/* Return non-FP_OK to stop the reader; that code is returned from feed/finish (and from
 * every later call: errors are sticky). d is the diag passed to that feed/finish. */
typedef fp_err (*fp_csv_record_fn)(void *ud, const fp_csv_record *rec, fp_diag *d);

typedef struct fp_csv_opts {
  fp_csv_dialect dialect;
  bool sniff;            /* true: ignore dialect, sniff from the first 64 KiB */
  size_t max_row_bytes;  /* cell bytes of one record after unescaping; default 16 MiB when
                            0; at most 4 GiB - 16 */
  size_t max_columns;    /* default 16384 when 0 */
  /* Either limit exceeded: FP_ERR_LIMIT; the diag has row = the record's index, column =
   * the cell being filled (max_columns + 1 for too many columns), byte_offset = the
   * record's first byte, and a message naming the option and the offending byte. */
  bool check_utf8;       /* default true via fp_csv_opts_default */
  fp_csv_record_fn on_record;
  void *ud;
} fp_csv_opts;

void fp_csv_opts_default(fp_csv_opts *o);

typedef struct fp_csv_reader fp_csv_reader; /* opaque */

/* Owned: free with fp_csv_reader_free. Copies opts. */
fp_err fp_csv_reader_new(const fp_csv_opts *o, fp_csv_reader **out, fp_diag *d);
fp_err fp_csv_reader_feed(fp_csv_reader *r, const char *buf, size_t n, fp_diag *d);
/* Flushes the last record (a file without a final newline still yields it). */
fp_err fp_csv_reader_finish(fp_csv_reader *r, fp_diag *d);
/* The dialect in use (after sniffing, once the first record was delivered or finish ran). */
const fp_csv_dialect *fp_csv_reader_dialect(const fp_csv_reader *r);
bool fp_csv_reader_sniffed(const fp_csv_reader *r); /* dialect came from sniffing */
uint64_t fp_csv_reader_bytes(const fp_csv_reader *r); /* bytes fed so far */
void fp_csv_reader_free(fp_csv_reader *r);            /* NULL-safe */

/* Scanner selection for tests and benchmarks: the fast (SIMD/SWAR) scanner is the default;
 * FP_CSV_SCAN_SCALAR forces the byte-at-a-time reference scanner (the test oracle). */
typedef enum { FP_CSV_SCAN_AUTO = 0, FP_CSV_SCAN_SCALAR = 1 } fp_csv_scan_mode;
void fp_csv_reader_set_scan(fp_csv_reader *r, fp_csv_scan_mode m);

/* Validates UTF-8; returns the length of the valid prefix (== n when valid). */
size_t fp_utf8_valid_prefix(const char *s, size_t n);

#endif
