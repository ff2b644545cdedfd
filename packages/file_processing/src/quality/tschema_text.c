/* tschema_text.c — string formats (email, uri, uuid, binary) and the JSON-valued types
 * (object, array, geojson, geopoint) with Frictionless semantics:
 *   email   python-validators email(): one '@', local part <= 64 and domain <= 253 chars,
 *           a dot-atom or quoted-string local part, a domain of dot-separated labels ending
 *           in a 2..63-character TLD whose last character is a letter, no whitespace, no "__"
 *           (non-ASCII labels are accepted as labels: Python IDNA-encodes them first)
 *   uri     rfc3986 with the scheme required: the text starts with [A-Za-z][A-Za-z0-9+.-]*:
 *   uuid    Python uuid.UUID(text): "urn:"/"uuid:" removed, braces stripped, '-' removed,
 *           32 characters that int(x, 16) takes
 *   binary  base64.b64decode(text) (non-validating: other characters are skipped, padding
 *           must come out right)
 *   object/array  json.loads(text) gives a dict / a list
 *   geojson json.loads gives a dict whose "type" is a GeoJSON (default) or TopoJSON
 *           (topojson) type name — we do not validate the geometry against the JSON Schema
 *   geopoint "lon, lat" | [lon, lat] | {"lon": .., "lat": ..}, Decimal-convertible, finite,
 *           lon in [-180, 180], lat in [-90, 90]
 * Everything here runs without allocating: the JSON checker is a bounded recursive descent
 * that only records where the top-level members are. */
#include <string.h>

#include "quality/tschema_int.h"

static inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
static inline bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static inline bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* ---- email ---------------------------------------------------------------------------------- */

static bool atext(unsigned char c) {
  return is_alpha((char)c) || is_digit((char)c) || (c && strchr("-!#$%&'*+/=?^_`{}|~", c));
}

static bool email_local(const char *s, size_t n) {
  if (n && s[n - 1] == '\n') n--; /* the regex's '$' also matches before a final newline */
  if (!n) return false;
  if (s[0] == '"') { /* quoted-string */
    if (n < 2 || s[n - 1] != '"') return false;
    for (size_t i = 1; i < n - 1; i++) {
      unsigned char c = (unsigned char)s[i];
      if (c == '\\') { /* \\[\001-\011\013\014\016-\177] */
        if (i + 1 >= n - 1) return false;
        unsigned char e = (unsigned char)s[++i];
        if (!(e >= 1 && e <= 0x7F && e != '\n' && e != '\r')) return false;
        continue;
      }
      /* [\001-\010\013\014\016-\037!#-\[\]-\177] */
      bool ok = (c >= 1 && c <= 8) || c == 11 || c == 12 || (c >= 14 && c <= 31) || c == '!' ||
                (c >= '#' && c <= '[') || (c >= ']' && c <= 0x7F);
      if (!ok) return false;
    }
    return true;
  }
  bool prev_dot = true; /* no leading dot, no "..", no trailing dot */
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '.') {
      if (prev_dot) return false;
      prev_dot = true;
      continue;
    }
    if (!atext(c)) return false;
    prev_dot = false;
  }
  return !prev_dot;
}

/* validators.domain() on an ASCII-or-UTF-8 domain. */
static bool email_domain(const char *s, size_t n) {
  if (!n) return false;
  for (size_t i = 0; i < n; i++) {
    if (fp__ts_ws_at(s + i, n - i)) return false;
    if (s[i] == '_' && i + 1 < n && s[i + 1] == '_') return false;
  }
  if (s[n - 1] == '\n') return false;
  /* labels */
  size_t start = 0, nlabels = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i < n && s[i] != '.') continue;
    const char *l = s + start;
    size_t ln = i - start;
    bool last = i == n;
    bool ascii = true;
    for (size_t k = 0; k < ln; k++)
      if ((unsigned char)l[k] >= 0x80) ascii = false;
    if (!ln) return false;
    if (!ascii) {
      if (fp__ts_utf8_len(l, ln) > 59) return false; /* "xn--" + punycode must fit 63 */
    } else if (!last) { /* [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])? */
      if (ln > 63) return false;
      for (size_t k = 0; k < ln; k++) {
        char c = l[k];
        bool edge = k == 0 || k == ln - 1;
        if (!(is_alpha(c) || is_digit(c) || (!edge && c == '-'))) return false;
      }
    } else { /* TLD: [a-z0-9][a-z0-9-_]{0,61}[a-z] */
      if (ln < 2 || ln > 63) return false;
      if (!(is_alpha(l[0]) || is_digit(l[0])) || !is_alpha(l[ln - 1])) return false;
      for (size_t k = 1; k < ln - 1; k++)
        if (!(is_alpha(l[k]) || is_digit(l[k]) || l[k] == '-' || l[k] == '_')) return false;
    }
    nlabels++;
    start = i + 1;
  }
  return nlabels >= 2;
}

static bool is_email(const char *s, size_t n) {
  const char *at = NULL;
  for (size_t i = 0; i < n; i++)
    if (s[i] == '@') {
      if (at) return false;
      at = s + i;
    }
  if (!at) return false;
  size_t ln = (size_t)(at - s), dn = n - ln - 1;
  if (fp__ts_utf8_len(s, ln) > 64 || fp__ts_utf8_len(at + 1, dn) > 253) return false;
  return email_domain(at + 1, dn) && email_local(s, ln);
}

/* ---- uri, uuid, binary ----------------------------------------------------------------------- */

static bool is_uri(const char *s, size_t n) {
  if (!n || !is_alpha(s[0])) return false;
  for (size_t i = 1; i < n; i++) {
    char c = s[i];
    if (c == ':') return true;
    if (!(is_alpha(c) || is_digit(c) || c == '+' || c == '.' || c == '-')) return false;
  }
  return false;
}

/* s with every occurrence of w removed (str.replace(w, "")), into out. */
static size_t remove_all(const char *s, size_t n, const char *w, char *out) {
  size_t k = strlen(w), o = 0;
  for (size_t i = 0; i < n;) {
    if (i + k <= n && !memcmp(s + i, w, k)) {
      i += k;
      continue;
    }
    out[o++] = s[i++];
  }
  return o;
}

/* Python int(text, 16) validity: whitespace, sign, optional 0x, hex digits with single
 * underscores between digits (one may follow the 0x prefix). */
static bool py_hex_int(const char *s, size_t n) {
  size_t i = 0;
  while (i < n && (s[i] == ' ' || (s[i] >= 0x09 && s[i] <= 0x0D))) i++;
  while (n > i && (s[n - 1] == ' ' || (s[n - 1] >= 0x09 && s[n - 1] <= 0x0D))) n--;
  if (i < n && (s[i] == '+' || s[i] == '-')) i++;
  bool prefix = false;
  if (i + 1 < n && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) i += 2, prefix = true;
  if (i >= n) return false;
  bool prev_digit = prefix; /* "0x_f" is allowed */
  bool any = false;
  for (; i < n; i++) {
    if (s[i] == '_') {
      if (!prev_digit || i + 1 >= n || !is_hex(s[i + 1])) return false;
      prev_digit = false;
      continue;
    }
    if (!is_hex(s[i])) return false;
    prev_digit = any = true;
  }
  return any;
}

static bool is_uuid(const char *s, size_t n) {
  char a[256], b[256];
  if (!n || n > sizeof a) return false;
  size_t an = remove_all(s, n, "urn:", a);
  size_t bn = remove_all(a, an, "uuid:", b);
  size_t i = 0;
  while (i < bn && (b[i] == '{' || b[i] == '}')) i++;
  while (bn > i && (b[bn - 1] == '{' || b[bn - 1] == '}')) bn--;
  size_t cn = 0;
  for (size_t k = i; k < bn; k++)
    if (b[k] != '-') a[cn++] = b[k];
  if (fp__ts_utf8_len(a, cn) != 32) return false;
  return py_hex_int(a, cn);
}

static int b64val(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

/* binascii.a2b_base64 in non-strict mode, validity only. */
static bool is_base64(const char *s, size_t n) {
  int quad = 0, pads = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x80) return false; /* str.encode('ascii') fails */
    if (c == '=') {
      if (quad >= 2 && quad + ++pads >= 4) return true; /* padding ends the data */
      continue;
    }
    if (b64val(c) < 0) continue;
    pads = 0;
    quad = (quad + 1) % 4;
  }
  return quad == 0;
}

bool fp__ts_cast_string(fp__fmt fmt, const char *s, size_t n) {
  switch (fmt) {
    case FP__FMT_DEFAULT: return true;
    case FP__FMT_EMAIL: return is_email(s, n);
    case FP__FMT_URI: return is_uri(s, n);
    case FP__FMT_UUID: return is_uuid(s, n);
    case FP__FMT_BINARY: return is_base64(s, n);
    default: return false;
  }
}

/* ---- JSON ------------------------------------------------------------------------------------ */

#define JSON_MAX_DEPTH 512 /* Python raises RecursionError somewhat under 1000 */

typedef struct span {
  size_t a, b; /* [a, b) */
} span;

typedef struct jscan {
  const char *s;
  size_t n, pos;
  fp__jtype top;
  size_t count;
  span key[3], val[3]; /* the first top-level members (keys only for objects) */
  bool have_type;
  span type_val; /* value of the last top-level "type" member */
  bool only_lonlat, has_lon, has_lat;
  span lon, lat;
} jscan;

static void jws(jscan *j) {
  while (j->pos < j->n) {
    char c = j->s[j->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    j->pos++;
  }
}

static bool jlit(jscan *j, const char *w) {
  size_t k = strlen(w);
  if (j->pos + k > j->n || memcmp(j->s + j->pos, w, k)) return false;
  j->pos += k;
  return true;
}

static bool jstring(jscan *j) {
  if (j->pos >= j->n || j->s[j->pos] != '"') return false;
  j->pos++;
  while (j->pos < j->n) {
    unsigned char c = (unsigned char)j->s[j->pos++];
    if (c == '"') return true;
    if (c < 0x20) return false; /* strict mode */
    if (c != '\\') continue;
    if (j->pos >= j->n) return false;
    char e = j->s[j->pos++];
    if (e == 'u') {
      if (j->pos + 4 > j->n) return false;
      for (int k = 0; k < 4; k++)
        if (!is_hex(j->s[j->pos + k])) return false;
      j->pos += 4;
    } else if (!strchr("\"\\/bfnrt", e) || !e) {
      return false;
    }
  }
  return false;
}

static bool jnumber(jscan *j) {
  size_t p = j->pos;
  const char *s = j->s;
  if (p < j->n && s[p] == '-') p++;
  if (p + 8 <= j->n && !memcmp(s + p, "Infinity", 8) && (p == j->pos + 1)) {
    j->pos = p + 8;
    return true;
  }
  if (p >= j->n || !is_digit(s[p])) return false;
  if (s[p] == '0') p++;
  else
    while (p < j->n && is_digit(s[p])) p++;
  if (p + 1 < j->n && s[p] == '.' && is_digit(s[p + 1])) {
    p++;
    while (p < j->n && is_digit(s[p])) p++;
  }
  if (p < j->n && (s[p] == 'e' || s[p] == 'E')) {
    size_t q = p + 1;
    if (q < j->n && (s[q] == '+' || s[q] == '-')) q++;
    if (q < j->n && is_digit(s[q])) {
      while (q < j->n && is_digit(s[q])) q++;
      p = q;
    }
  }
  j->pos = p;
  return true;
}

/* Decoded JSON string s[a..b) (quotes included) equals the ASCII word w. */
static bool jstr_eq(const char *s, span sp, const char *w) {
  size_t i = sp.a + 1, e = sp.b - 1, k = 0, wn = strlen(w);
  while (i < e) {
    unsigned c;
    if (s[i] == '\\') {
      char x = s[i + 1];
      if (x == 'u') {
        c = 0;
        for (int t = 0; t < 4; t++) {
          char h = s[i + 2 + t];
          c = c * 16 + (unsigned)(is_digit(h) ? h - '0' : (h | 32) - 'a' + 10);
        }
        i += 6;
      } else {
        const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
        c = (unsigned char)to[strchr(from, x) - from];
        i += 2;
      }
    } else {
      c = (unsigned char)s[i++];
    }
    if (k >= wn || c != (unsigned char)w[k]) return false;
    k++;
  }
  return k == wn;
}

static bool jvalue(jscan *j, int depth);

static bool jcontainer(jscan *j, int depth, bool object) {
  j->pos++; /* '[' or '{' */
  size_t idx = 0;
  jws(j);
  char close = object ? '}' : ']';
  if (j->pos < j->n && j->s[j->pos] == close) {
    j->pos++;
    return true;
  }
  for (;;) {
    span k = {0, 0}, v;
    jws(j);
    if (object) {
      k.a = j->pos;
      if (!jstring(j)) return false;
      k.b = j->pos;
      jws(j);
      if (j->pos >= j->n || j->s[j->pos] != ':') return false;
      j->pos++;
      jws(j);
    }
    v.a = j->pos;
    if (!jvalue(j, depth + 1)) return false;
    v.b = j->pos;
    if (depth == 0) {
      if (idx < 3) j->key[idx] = k, j->val[idx] = v;
      if (object) {
        if (jstr_eq(j->s, k, "type")) j->have_type = true, j->type_val = v;
        if (jstr_eq(j->s, k, "lon")) j->has_lon = true, j->lon = v;
        else if (jstr_eq(j->s, k, "lat")) j->has_lat = true, j->lat = v;
        else j->only_lonlat = false;
      }
    }
    idx++;
    jws(j);
    if (j->pos >= j->n) return false;
    char c = j->s[j->pos++];
    if (c == close) break;
    if (c != ',') return false;
  }
  if (depth == 0) j->count = idx;
  return true;
}

static bool jvalue(jscan *j, int depth) {
  if (depth > JSON_MAX_DEPTH || j->pos >= j->n) return false;
  char c = j->s[j->pos];
  switch (c) {
    case '{': return jcontainer(j, depth, true);
    case '[': return jcontainer(j, depth, false);
    case '"': return jstring(j);
    case 't': return jlit(j, "true");
    case 'f': return jlit(j, "false");
    case 'n': return jlit(j, "null");
    case 'N': return jlit(j, "NaN");
    case 'I': return jlit(j, "Infinity");
    default: return jnumber(j);
  }
}

static bool jscan_run(jscan *j, const char *s, size_t n) {
  memset(j, 0, sizeof *j);
  j->s = s;
  j->n = n;
  j->only_lonlat = true;
  jws(j);
  if (j->pos >= n) return false;
  char c = s[j->pos];
  j->top = c == '{' ? FP__J_OBJECT : c == '[' ? FP__J_ARRAY : FP__J_OTHER;
  if (j->top == FP__J_OTHER) j->count = 0;
  if (!jvalue(j, 0)) return false;
  jws(j);
  return j->pos == n; /* "Extra data" otherwise */
}

bool fp__ts_json_check(const char *s, size_t n, fp__jtype *type, size_t *count) {
  jscan j;
  if (!jscan_run(&j, s, n)) return false;
  *type = j.top;
  *count = j.count;
  return true;
}

static const char *const GEOJSON_TYPES[] = {
    "Point",   "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
    "GeometryCollection", "Feature", "FeatureCollection", NULL};
static const char *const TOPOJSON_TYPES[] = {"Topology", "Point", "MultiPoint", "LineString",
                                             "MultiLineString", "Polygon", "MultiPolygon",
                                             "GeometryCollection", NULL};

bool fp__ts_cast_geojson(fp__fmt fmt, const char *s, size_t n) {
  jscan j;
  if (!jscan_run(&j, s, n) || j.top != FP__J_OBJECT || !j.have_type) return false;
  if (s[j.type_val.a] != '"') return false;
  const char *const *types = fmt == FP__FMT_TOPOJSON ? TOPOJSON_TYPES : GEOJSON_TYPES;
  for (int i = 0; types[i]; i++)
    if (jstr_eq(s, j.type_val, types[i])) return true;
  return false;
}

/* ---- geopoint -------------------------------------------------------------------------------- */

/* Decimal(x) for one JSON value x (a number, a numeric string, true/false). */
static bool json_decimal(const char *s, span v, double *out) {
  const char *p = s + v.a;
  size_t k = v.b - v.a;
  if (k == 4 && !memcmp(p, "true", 4)) return *out = 1, true;
  if (k == 5 && !memcmp(p, "false", 5)) return *out = 0, true;
  if (p[0] == '"') { /* decode the string (numeric text has no escapes worth keeping) */
    char buf[512];
    size_t w = 0;
    for (size_t i = 1; i + 1 < k; i++) {
      char c = p[i];
      if (c == '\\') {
        if (p[i + 1] != 'u') return false;
        unsigned cp = 0;
        for (int t = 0; t < 4; t++) {
          char h = p[i + 2 + t];
          cp = cp * 16 + (unsigned)(is_digit(h) ? h - '0' : (h | 32) - 'a' + 10);
        }
        if (cp >= 0x80) return false;
        c = (char)cp;
        i += 5;
      }
      if (w >= sizeof buf) return false;
      buf[w++] = c;
    }
    return fp__ts_py_decimal(buf, w, out);
  }
  if (p[0] == '-' || is_digit(p[0]) || p[0] == 'N' || p[0] == 'I')
    return fp__ts_py_decimal(p, k, out);
  return false; /* null, lists, dicts */
}

static bool geo_range(double lon, double lat) {
  /* NaN compares false: Decimal NaN comparisons raise, which Frictionless treats as invalid */
  return lon >= -180 && lon <= 180 && lat >= -90 && lat <= 90;
}

bool fp__ts_cast_geopoint(fp__fmt fmt, const char *s, size_t n, double *lon, double *lat) {
  double x, y;
  if (fmt == FP__FMT_DEFAULT) {
    const char *comma = memchr(s, ',', n);
    if (!comma) return false;
    size_t a = (size_t)(comma - s);
    if (memchr(comma + 1, ',', n - a - 1)) return false;
    if (!fp__ts_py_decimal(s, a, &x) || !fp__ts_py_decimal(comma + 1, n - a - 1, &y))
      return false;
  } else if (fmt == FP__FMT_ARRAY || fmt == FP__FMT_OBJECT) {
    jscan j;
    if (!jscan_run(&j, s, n)) return false;
    if (fmt == FP__FMT_OBJECT) {
      if (j.top != FP__J_OBJECT || !j.only_lonlat || !j.has_lon || !j.has_lat) return false;
      if (!json_decimal(s, j.lon, &x) || !json_decimal(s, j.lat, &y)) return false;
    } else if (j.top == FP__J_ARRAY) { /* lon, lat = [..] */
      if (j.count != 2 || !json_decimal(s, j.val[0], &x) || !json_decimal(s, j.val[1], &y))
        return false;
    } else if (j.top == FP__J_OBJECT) { /* unpacking a dict gives its two keys */
      if (j.count != 2 || !json_decimal(s, j.key[0], &x) || !json_decimal(s, j.key[1], &y))
        return false;
    } else {
      return false; /* a two-character JSON string also unpacks in Python; not taken */
    }
  } else {
    return false;
  }
  if (!geo_range(x, y)) return false;
  *lon = x;
  *lat = y;
  return true;
}
