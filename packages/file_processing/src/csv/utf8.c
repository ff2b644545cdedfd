/* utf8.c — strict UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing above
 * U+10FFFF), with an 8-bytes-at-a-time ASCII fast path. */
#include <string.h>

#include "fp/fp_csv.h"

static int is_cont(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

/* Length of the valid multibyte sequence at p (p[0] >= 0x80), 0 when invalid or cut. */
static size_t seq_len(const unsigned char *p, size_t avail) {
  unsigned char c = p[0];
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0; /* overlong */
    if (c == 0xED) hi = 0x9F; /* surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90; /* overlong */
    if (c == 0xF4) hi = 0x8F; /* above U+10FFFF */
  } else {
    return 0;
  }
  if (avail < len || p[1] < lo || p[1] > hi) return 0;
  for (size_t k = 2; k < len; k++)
    if (!is_cont(p[k])) return 0;
  return len;
}

size_t fp_utf8_valid_prefix(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    if (p[i] < 0x80) {
      while (n - i >= 16) {
        uint64_t w[2];
        memcpy(w, p + i, 16);
        if ((w[0] | w[1]) & 0x8080808080808080ULL) break;
        i += 16;
      }
      while (i < n && p[i] < 0x80) i++;
      continue;
    }
    size_t len = seq_len(p + i, n - i);
    if (!len) return i;
    i += len;
  }
  return n;
}
