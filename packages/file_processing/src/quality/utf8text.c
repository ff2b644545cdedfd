/* utf8text.c — UTF-8 helpers for the quality module: sanitising copies (so every text we
 * store or report is valid UTF-8), character counts and boundary-safe cuts. */
#include <stdlib.h>
#include <string.h>

#include "quality/quality_int.h"

/* Length of the well-formed UTF-8 sequence at s (n bytes available), 0 when the byte at s
 * does not start one. Rules of Unicode Table 3-7: no overlongs, no surrogates, <= U+10FFFF. */
static size_t seq_len(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  if (c < 0x80) return 1;
  if (c < 0xC2) return 0;
  if (c < 0xE0) return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
  if (c < 0xF0) {
    if (n < 3 || (s[2] & 0xC0) != 0x80) return 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    return (s[1] >= lo && s[1] <= hi) ? 3 : 0;
  }
  if (c < 0xF5) {
    if (n < 4 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    return (s[1] >= lo && s[1] <= hi) ? 4 : 0;
  }
  return 0;
}

char *fp__utf8_sanitize(const char *s, size_t n, size_t max_bytes, bool *truncated) {
  static const char repl[3] = {(char)0xEF, (char)0xBF, (char)0xBD};
  const unsigned char *u = (const unsigned char *)s;
  /* Worst case every input byte becomes 3 output bytes. */
  size_t room = n > max_bytes / 3 ? max_bytes : n * 3;
  char *out = malloc(room + 1);
  if (!out) return NULL;
  size_t o = 0, i = 0;
  if (truncated) *truncated = false;
  while (i < n) {
    size_t k = u[i] ? seq_len(u + i, n - i) : 0;
    const char *src = k ? s + i : repl;
    size_t w = k ? k : 3;
    if (o + w > max_bytes) {
      if (truncated) *truncated = true;
      break;
    }
    memcpy(out + o, src, w);
    o += w;
    i += k ? k : 1;
  }
  out[o] = '\0';
  return out;
}

size_t fp__utf8_cut(const char *s, size_t n, size_t max) {
  if (n <= max) return n;
  size_t k = max;
  /* Back off over continuation bytes (at most 3) to the start of the cut character. */
  size_t back = 0;
  while (k > 0 && back < 3 && ((unsigned char)s[k] & 0xC0) == 0x80) {
    k--;
    back++;
  }
  if (((unsigned char)s[k] & 0xC0) == 0x80) return max; /* not UTF-8 anyway */
  return k;
}
