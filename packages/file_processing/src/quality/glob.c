/* glob.c — the glob dialect of contract "match:" patterns, matched against object keys.
 *
 *   *      any run of characters without '/'
 *   **     any run of characters, '/' included; "**" followed by '/' at the start of a
 *          segment ("**" + "/x", "a/" + "**" + "/x") also matches zero segments
 *   ?      one character other than '/' (a whole UTF-8 sequence)
 *   [...]  one character (never '/') of a class: ranges a-z (by code point, UTF-8 aware),
 *          leading '!' or '^' negates, ']' first is literal, '\' escapes inside
 *   \c     the character c literally
 *
 * Matching is a dynamic programme over (pattern token, key position): O(tokens x key
 * bytes) time and O(key bytes) memory whatever the pattern, so "a*a*a*a*b" cannot blow
 * up the way naive recursive backtracking does. Keys longer than FP__GLOB_KEY_MAX never
 * match (S3 keys are at most 1024 bytes). Literals compare bytes; '?' and classes take one
 * UTF-8 character (an invalid byte counts as one character). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "quality/contract_int.h"

typedef enum tok_kind { T_LIT, T_ANY, T_CLASS, T_STAR, T_DSTAR, T_DSTAR_SLASH } tok_kind;

typedef struct tok {
  tok_kind kind;
  unsigned char lit; /* T_LIT */
  const char *cls;   /* T_CLASS: first byte after '[' (and after '!'/'^') */
  bool negate;       /* T_CLASS */
} tok;

/* Finds the ']' closing a class whose body starts at p; NULL when unterminated. */
static const char *class_end(const char *p) {
  if (*p == ']') p++; /* "[]...]": a leading ']' is literal */
  while (*p && *p != ']') {
    if (*p == '\\' && p[1]) p++;
    p++;
  }
  return *p == ']' ? p : NULL;
}

/* Decodes one UTF-8 character at p (at most n bytes); *len gets its byte length. A byte
 * that does not start a well-formed sequence is a character of its own. */
static uint32_t u8_decode(const unsigned char *p, size_t n, size_t *len) {
  uint32_t c = p[0];
  size_t need = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 1;
  if (c < 0x80 || need == 1 || need > n || c > 0xF4) {
    *len = 1;
    return c;
  }
  uint32_t cp = c & (0x7F >> need);
  for (size_t i = 1; i < need; i++) {
    if ((p[i] & 0xC0) != 0x80) {
      *len = 1;
      return c;
    }
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min_cp[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    *len = 1;
    return c;
  }
  *len = need;
  return cp;
}

/* The next class member character at *p (escapes resolved); advances *p. */
static uint32_t class_char(const char **p) {
  if (**p == '\\' && (*p)[1]) (*p)++;
  size_t len;
  /* 4 is safe: decoding stops at the first byte that is not a continuation, the NUL too */
  uint32_t cp = u8_decode((const unsigned char *)*p, 4, &len);
  *p += len;
  return cp;
}

/* Whether the class body starting at p (after '[' and any negation) holds c. With bad
 * set (may be NULL), only checks the ranges: *bad = a range runs backwards. */
static bool class_scan(const char *p, uint32_t c, bool *bad) {
  bool first = true;
  while (*p && (first || *p != ']')) {
    first = false;
    uint32_t lo = class_char(&p), hi = lo;
    if (*p == '-' && p[1] && p[1] != ']') {
      p++;
      hi = class_char(&p);
    }
    if (bad && lo > hi) *bad = true;
    if (!bad && lo <= c && c <= hi) return true;
  }
  return false;
}

/* Reads the token at *pp (not at the end) and advances *pp past it. seg_start: *pp is at
 * the start of the pattern or just after a '/'. */
static tok next_tok(const char **pp, bool seg_start) {
  const char *p = *pp;
  tok t = {T_LIT, 0, NULL, false};
  if (*p == '*') {
    size_t n = 0;
    while (p[n] == '*') n++;
    if (n == 1) {
      t.kind = T_STAR;
    } else if (seg_start && p[n] == '/') {
      t.kind = T_DSTAR_SLASH;
      n++; /* the '/' belongs to the token */
    } else {
      t.kind = T_DSTAR;
    }
    *pp = p + n;
    return t;
  }
  if (*p == '?') {
    t.kind = T_ANY;
    *pp = p + 1;
    return t;
  }
  if (*p == '[') {
    const char *body = p + 1;
    bool neg = *body == '!' || *body == '^';
    const char *end = class_end(body + neg);
    if (end) {
      t.kind = T_CLASS;
      t.cls = body + neg;
      t.negate = neg;
      *pp = end + 1;
      return t;
    }
    /* unterminated: a literal '[' (fp__glob_check rejects it in contracts) */
  }
  if (*p == '\\' && p[1]) p++;
  t.lit = (unsigned char)*p;
  *pp = p + 1;
  return t;
}

/* Whether a one-character token matches the character c. */
static bool tok_matches(const tok *t, uint32_t c) {
  if (t->kind == T_ANY) return c != '/';
  return c != '/' && class_scan(t->cls, c, NULL) != t->negate;
}

bool fp_glob_match(const char *glob, const char *key) {
  if (!glob || !key) return false;
  size_t n = strlen(key);
  if (n > FP__GLOB_KEY_MAX) return false;
  /* cur[i]: the tokens read so far match key[0..i). */
  bool a[FP__GLOB_KEY_MAX + 1], b[FP__GLOB_KEY_MAX + 1];
  bool *cur = a, *nxt = b;
  memset(cur, 0, (n + 1) * sizeof *cur);
  cur[0] = true;
  const char *p = glob;
  bool seg_start = true;
  while (*p) {
    tok t = next_tok(&p, seg_start);
    seg_start = t.kind == T_LIT && t.lit == '/';
    bool any = false, seen = false;
    switch (t.kind) {
      case T_STAR:
        for (size_t i = 0; i <= n; i++) {
          nxt[i] = cur[i] || (i > 0 && nxt[i - 1] && key[i - 1] != '/');
          any |= nxt[i];
        }
        break;
      case T_DSTAR:
        for (size_t i = 0; i <= n; i++) {
          nxt[i] = cur[i] || (i > 0 && nxt[i - 1]);
          any |= nxt[i];
        }
        break;
      case T_DSTAR_SLASH: /* empty, or any run that ends with '/' */
        seg_start = true;
        for (size_t i = 0; i <= n; i++) {
          nxt[i] = cur[i] || (i > 0 && seen && key[i - 1] == '/');
          if (i < n) seen |= cur[i];
          any |= nxt[i];
        }
        break;
      case T_LIT:
        nxt[0] = false;
        for (size_t i = 0; i < n; i++) {
          nxt[i + 1] = cur[i] && (unsigned char)key[i] == t.lit;
          any |= nxt[i + 1];
        }
        break;
      default: /* '?' or a class: one UTF-8 character */
        memset(nxt, 0, (n + 1) * sizeof *nxt);
        for (size_t i = 0; i < n; i++) {
          if (!cur[i]) continue;
          size_t len;
          uint32_t c = u8_decode((const unsigned char *)key + i, n - i, &len);
          if (tok_matches(&t, c)) any = nxt[i + len] = true;
        }
        break;
    }
    if (!any) return false;
    bool *tmp = cur;
    cur = nxt;
    nxt = tmp;
  }
  return cur[n];
}

size_t fp__glob_literals(const char *glob) {
  size_t lits = 0;
  const char *p = glob;
  bool seg_start = true;
  while (p && *p) {
    tok t = next_tok(&p, seg_start);
    seg_start = t.kind == T_LIT && t.lit == '/';
    if (t.kind == T_LIT && (t.lit & 0xC0) != 0x80) lits++; /* characters, not bytes */
    if (t.kind == T_DSTAR_SLASH) seg_start = true;
  }
  return lits;
}

const char *fp__glob_check(const char *glob) {
  if (!*glob) return "a glob must not be empty";
  if (strlen(glob) > FP__GLOB_KEY_MAX) return "a glob must be at most 1024 bytes";
  for (const char *p = glob; *p; p++) {
    if (*p == '\\') {
      if (!p[1]) return "a glob must not end with a lone '\\'";
      p++;
    } else if (*p == '[') {
      const char *body = p + 1;
      body += *body == '!' || *body == '^';
      const char *end = class_end(body);
      if (!end) return "'[' opens a character class that is never closed (write \\[ for a literal)";
      bool bad = false;
      class_scan(body, 0, &bad);
      if (bad) return "a character class has a range whose start is after its end";
      p = end;
    }
  }
  return NULL;
}
