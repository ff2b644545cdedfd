/* event.c — S3 ObjectCreated events (plain notification, SNS envelope, EventBridge,
 * arrays and JSON lines of them) parsed with jansson into fp_object_ref lists.
 *
 * Every document is built into a private list first and appended to the caller's list
 * only when the whole input parsed, so a failed call leaves the caller's list unchanged.
 * Errors name the JSON path of the offending value in diag.key. */
#include "fp/fp_event.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EV_MAX_KEY_BYTES 1024 /* S3's own limit on a key's UTF-8 length */
#define EV_MAX_DEPTH 4        /* SNS envelopes nested inside each other */
#define EV_UNKNOWN_SHAPE                                                                \
  "not an S3 event: expected Records[], an SNS Notification, or an EventBridge Object " \
  "Created event"

/* The list being built plus its capacity (fp_event_list has no cap field). */
typedef struct ev_ctx {
  fp_event_list list;
  size_t cap;
  fp_diag *d;
  bool no_envelope; /* fp_events_parse_sns_message: the document is already a Message */
} ev_ctx;

/* ---- small helpers ---------------------------------------------------------------- */

static char *dupn(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (!p) return NULL;
  if (n) memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

static int starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* dst = a + b, silently truncated to dstsz (paths are only for messages). */
static void path_join(char *dst, size_t dstsz, const char *a, const char *b) {
  if (snprintf(dst, dstsz, "%s%s", a, b ? b : "") >= (int)dstsz) dst[dstsz - 1] = '\0';
}

/* Records an error on d with key = path + field, unless d already holds one. */
__attribute__((format(printf, 5, 6))) static fp_err ev_fail(fp_diag *d, fp_err code,
                                                            const char *path, const char *field,
                                                            const char *fmt, ...) {
  if (!d || d->code != FP_OK) return code;
  va_list ap;
  va_start(ap, fmt);
  fp_diag_vset(d, code, fmt, ap);
  va_end(ap);
  char key[FP_DIAG_KEY_MAX];
  path_join(key, sizeof key, path, field);
  fp_diag_key(d, key);
  return code;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static int utf8_valid(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      if (c == 0xE0)
        lo = 0xA0; /* overlong */
      else if (c == 0xED)
        hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      if (c == 0xF0)
        lo = 0x90; /* overlong */
      else if (c == 0xF4)
        hi = 0x8F; /* > U+10FFFF */
    } else {
      return 0; /* continuation byte, C0/C1 overlong lead, or F5..FF */
    }
    if (n - i <= need) return 0;
    if (s[i + 1] < lo || s[i + 1] > hi) return 0;
    for (size_t k = 2; k <= need; k++)
      if ((s[i + k] & 0xC0) != 0x80) return 0;
    i += need + 1;
  }
  return 1;
}

/* Copies s into out for a message: control bytes and bytes that are not valid UTF-8
 * become '?', so the message stays valid UTF-8 (it may end up in a JSON report); cut with
 * "..." when it does not fit. */
static void printable(const char *s, size_t n, char *out, size_t outsz) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0, j = 0;
  while (i < n) {
    size_t len = u[i] < 0x80 ? 1 : u[i] >= 0xF0 ? 4 : u[i] >= 0xE0 ? 3 : 2;
    int ok = len == 1 ? (u[i] >= 0x20 && u[i] != 0x7f) : (i + len <= n && utf8_valid(u + i, len));
    if (!ok) len = 1;
    if (j + len + 4 > outsz) break; /* room for "..." and NUL */
    if (ok)
      memcpy(out + j, u + i, len);
    else
      out[j] = '?';
    j += ok ? len : 1;
    i += len;
  }
  if (i < n) out[j++] = '.', out[j++] = '.', out[j++] = '.';
  out[j] = '\0';
}

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* ---- public: key decoding and object refs ----------------------------------------- */

fp_err fp_s3_key_decode(const char *in, size_t n, char **out, fp_diag *d) {
  if (!out) return fp_diag_set(d, FP_ERR_INVAL, "fp_s3_key_decode: out is NULL");
  *out = NULL;
  if (!in || n == 0) return fp_diag_set(d, FP_ERR_EVENT, "object key is empty");
  char shown[128];
  printable(in, n, shown, sizeof shown);
  char *buf = malloc(n + 1);
  if (!buf) return fp_diag_set(d, FP_ERR_NOMEM, "out of memory decoding an object key");
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)in[i];
    if (c == '+') {
      buf[j++] = ' ';
    } else if (c == '%') {
      int h1 = i + 1 < n ? hexval((unsigned char)in[i + 1]) : -1;
      int h2 = i + 2 < n ? hexval((unsigned char)in[i + 2]) : -1;
      if (h1 < 0 || h2 < 0) {
        free(buf);
        return fp_diag_set(d, FP_ERR_EVENT,
                           "object key \"%s\": bad percent escape at byte %zu "
                           "(expected %%XX with two hex digits)",
                           shown, i);
      }
      buf[j++] = (char)(h1 * 16 + h2);
      i += 2;
    } else {
      buf[j++] = (char)c;
    }
  }
  buf[j] = '\0';
  const char *why = NULL;
  if (j == 0)
    why = "decodes to an empty key";
  else if (memchr(buf, '\0', j))
    why = "decodes to a key containing a NUL byte";
  else if (!utf8_valid((const unsigned char *)buf, j))
    why = "decodes to invalid UTF-8";
  else if (j > EV_MAX_KEY_BYTES)
    why = "decodes to more than 1024 bytes (S3's key limit)";
  if (why) {
    free(buf);
    return fp_diag_set(d, FP_ERR_EVENT, "object key \"%s\" %s", shown, why);
  }
  *out = buf;
  return FP_OK;
}

void fp_object_ref_clear(fp_object_ref *r) {
  if (!r) return;
  free(r->bucket);
  free(r->key);
  free(r->version_id);
  free(r->etag);
  free(r->sequencer);
  free(r->event_time);
  free(r->event_name);
  memset(r, 0, sizeof *r);
  r->size = -1;
}

static int dup_opt(char **dst, const char *src) {
  *dst = NULL;
  if (!src) return 1;
  *dst = dupn(src, strlen(src));
  return *dst != NULL;
}

fp_err fp_object_ref_copy(fp_object_ref *dst, const fp_object_ref *src) {
  if (!dst || !src) return FP_ERR_INVAL;
  fp_object_ref r;
  memset(&r, 0, sizeof r);
  r.size = src->size;
  int ok = dup_opt(&r.bucket, src->bucket) && dup_opt(&r.key, src->key) &&
           dup_opt(&r.version_id, src->version_id) && dup_opt(&r.etag, src->etag) &&
           dup_opt(&r.sequencer, src->sequencer) && dup_opt(&r.event_time, src->event_time) &&
           dup_opt(&r.event_name, src->event_name);
  if (!ok) {
    fp_object_ref_clear(&r);
    memset(dst, 0, sizeof *dst);
    dst->size = -1;
    return FP_ERR_NOMEM;
  }
  *dst = r;
  return FP_OK;
}

void fp_event_list_free(fp_event_list *l) {
  if (!l) return;
  for (size_t i = 0; i < l->n; i++) fp_object_ref_clear(&l->items[i]);
  free(l->items);
  memset(l, 0, sizeof *l);
}

/* ---- field access ------------------------------------------------------------------ */

/* Optional string member: absent or null -> *out = NULL. Other non-strings fail. */
static fp_err get_opt_str(json_t *obj, const char *name, const char *path, const char *field,
                          const char **out, fp_diag *d) {
  json_t *v = json_object_get(obj, name);
  *out = NULL;
  if (!v || json_is_null(v)) return FP_OK;
  if (!json_is_string(v)) return ev_fail(d, FP_ERR_EVENT, path, field, "expected a string");
  *out = json_string_value(v);
  return FP_OK;
}

static fp_err get_req_str(json_t *obj, const char *name, const char *path, const char *field,
                          json_t **out, fp_diag *d) {
  json_t *v = json_object_get(obj, name);
  if (!v || !json_is_string(v) || json_string_length(v) == 0)
    return ev_fail(d, FP_ERR_EVENT, path, field, "expected a non-empty string");
  *out = v;
  return FP_OK;
}

static fp_err get_obj(json_t *obj, const char *name, const char *path, const char *field,
                      json_t **out, fp_diag *d) {
  json_t *v = json_object_get(obj, name);
  if (!v || !json_is_object(v)) return ev_fail(d, FP_ERR_EVENT, path, field, "expected an object");
  *out = v;
  return FP_OK;
}

/* The common object fields of both formats, read from the "bucket"/"object" pair. */
typedef struct ev_names {
  const char *etag, *version, *seq; /* member names inside the object */
} ev_names;

static fp_err set_opt(char **dst, const char *s, int empty_is_null) {
  if (!s || (empty_is_null && !*s)) return FP_OK;
  *dst = dupn(s, strlen(s));
  return *dst ? FP_OK : FP_ERR_NOMEM;
}

static fp_err read_object_fields(json_t *parent, const char *path, const ev_names *nm,
                                 fp_object_ref *r, fp_diag *d) {
  char p[FP_DIAG_KEY_MAX];
  json_t *bucket = NULL, *object = NULL, *name = NULL, *key = NULL;
  fp_err e;
  if ((e = get_obj(parent, "bucket", path, ".bucket", &bucket, d))) return e;
  path_join(p, sizeof p, path, ".bucket");
  if ((e = get_req_str(bucket, "name", p, ".name", &name, d))) return e;
  if ((e = get_obj(parent, "object", path, ".object", &object, d))) return e;
  path_join(p, sizeof p, path, ".object");
  if ((e = get_req_str(object, "key", p, ".key", &key, d))) return e;

  json_t *size = json_object_get(object, "size");
  if (size && !json_is_null(size)) {
    if (!json_is_integer(size) || json_integer_value(size) < 0)
      return ev_fail(d, FP_ERR_EVENT, p, ".size", "expected a non-negative integer");
    r->size = (int64_t)json_integer_value(size);
  }
  const char *etag, *ver, *seq;
  char f1[64], f2[64], f3[64];
  path_join(f1, sizeof f1, ".", nm->etag);
  path_join(f2, sizeof f2, ".", nm->version);
  path_join(f3, sizeof f3, ".", nm->seq);
  if ((e = get_opt_str(object, nm->etag, p, f1, &etag, d))) return e;
  if ((e = get_opt_str(object, nm->version, p, f2, &ver, d))) return e;
  if ((e = get_opt_str(object, nm->seq, p, f3, &seq, d))) return e;

  r->bucket = dupn(json_string_value(name), json_string_length(name));
  if (!r->bucket) return fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  e = fp_s3_key_decode(json_string_value(key), json_string_length(key), &r->key, d);
  if (e) {
    if (d && !d->key[0]) path_join(d->key, sizeof d->key, p, ".key");
    return e;
  }
  if (etag) {
    size_t n = strlen(etag);
    if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"') etag++, n -= 2;
    if (n && !(r->etag = dupn(etag, n))) return fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  }
  if (set_opt(&r->version_id, ver, 1) || set_opt(&r->sequencer, seq, 1))
    return fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  return FP_OK;
}

static fp_err push(ev_ctx *c, fp_object_ref *r) {
  if (c->list.n == c->cap) {
    size_t ncap = c->cap ? c->cap * 2 : 4;
    if (ncap > ((size_t)-1) / sizeof *c->list.items) return FP_ERR_NOMEM;
    fp_object_ref *p = realloc(c->list.items, ncap * sizeof *p);
    if (!p) return FP_ERR_NOMEM;
    c->list.items = p;
    c->cap = ncap;
  }
  c->list.items[c->list.n++] = *r;
  return FP_OK;
}

/* ---- the three shapes ---------------------------------------------------------------- */

/* "2", "2.1", "2.2", ... : major version 2. */
static int version_major_2(const char *s) {
  if (s[0] != '2') return 0;
  if (s[1] == '\0') return 1;
  return s[1] == '.' && s[2] >= '0' && s[2] <= '9';
}

static fp_err ev_record(ev_ctx *c, json_t *rec, const char *path) {
  fp_diag *d = c->d;
  if (!json_is_object(rec)) return ev_fail(d, FP_ERR_EVENT, path, NULL, "expected an object");
  const char *ver, *src, *name, *time;
  fp_err e;
  if ((e = get_opt_str(rec, "eventVersion", path, ".eventVersion", &ver, d))) return e;
  if (ver && !version_major_2(ver)) {
    char shown[64];
    printable(ver, strlen(ver), shown, sizeof shown);
    return ev_fail(d, FP_ERR_EVENT, path, ".eventVersion",
                   "expected eventVersion 2.x (major version 2), got \"%s\"", shown);
  }
  if ((e = get_opt_str(rec, "eventSource", path, ".eventSource", &src, d))) return e;
  if (src && strcmp(src, "aws:s3") != 0)
    return ev_fail(d, FP_ERR_EVENT, path, ".eventSource", "expected \"aws:s3\"");
  if ((e = get_opt_str(rec, "eventName", path, ".eventName", &name, d))) return e;
  if (name && !starts_with(name, "ObjectCreated:") && !starts_with(name, "s3:ObjectCreated:")) {
    c->list.skipped++; /* ObjectRemoved:*, ObjectRestore:*, ... : not for us */
    return FP_OK;
  }
  if ((e = get_opt_str(rec, "eventTime", path, ".eventTime", &time, d))) return e;
  json_t *s3 = NULL;
  if ((e = get_obj(rec, "s3", path, ".s3", &s3, d))) return e;

  char p[FP_DIAG_KEY_MAX];
  path_join(p, sizeof p, path, ".s3");
  static const ev_names nm = {"eTag", "versionId", "sequencer"};
  fp_object_ref r;
  memset(&r, 0, sizeof r);
  r.size = -1;
  e = read_object_fields(s3, p, &nm, &r, d);
  if (!e && (set_opt(&r.event_time, time, 1) || set_opt(&r.event_name, name, 1)))
    e = fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  if (!e && push(c, &r)) e = fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  if (e) fp_object_ref_clear(&r);
  return e;
}

static fp_err ev_records(ev_ctx *c, json_t *records, const char *path) {
  if (!json_is_array(records) || json_array_size(records) == 0)
    return ev_fail(c->d, FP_ERR_EVENT, path, ".Records", "expected a non-empty array of records");
  size_t i;
  json_t *rec;
  json_array_foreach(records, i, rec) {
    char p[FP_DIAG_KEY_MAX];
    snprintf(p, sizeof p, "%s.Records[%zu]", path, i);
    fp_err e = ev_record(c, rec, p);
    if (e) return e;
  }
  return FP_OK;
}

static fp_err ev_eventbridge(ev_ctx *c, json_t *ev, const char *path) {
  fp_diag *d = c->d;
  const char *type, *time;
  fp_err e;
  json_t *dt = json_object_get(ev, "detail-type");
  if (!dt || !json_is_string(dt))
    return ev_fail(d, FP_ERR_EVENT, path, ".detail-type", "expected a string");
  type = json_string_value(dt);
  if (strcmp(type, "Object Created") != 0) {
    c->list.skipped++; /* Object Deleted, Object Restore Completed, ... */
    return FP_OK;
  }
  if ((e = get_opt_str(ev, "time", path, ".time", &time, d))) return e;
  json_t *detail = NULL;
  if ((e = get_obj(ev, "detail", path, ".detail", &detail, d))) return e;
  char p[FP_DIAG_KEY_MAX];
  path_join(p, sizeof p, path, ".detail");
  static const ev_names nm = {"etag", "version-id", "sequencer"};
  fp_object_ref r;
  memset(&r, 0, sizeof r);
  r.size = -1;
  e = read_object_fields(detail, p, &nm, &r, d);
  if (!e && (set_opt(&r.event_time, time, 1) || set_opt(&r.event_name, type, 1)))
    e = fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  if (!e && push(c, &r)) e = fp_diag_set(d, FP_ERR_NOMEM, "out of memory");
  if (e) fp_object_ref_clear(&r);
  return e;
}

static fp_err ev_value(ev_ctx *c, json_t *v, const char *path, int depth);

/* Malformed JSON as FP_ERR_JSON: position in the message and byte offset. line > 0 means
 * JSON lines mode (the document is that one line; row = line). */
static fp_err json_fail(fp_diag *d, const json_error_t *je, const char *path, uint64_t base,
                        uint64_t line, const char *what) {
  /* jansson reports running out of memory as a parse error: it is not bad input (exit 2, no
   * retry) but a transient failure of this process. */
  if (json_error_code(je) == json_error_out_of_memory || !je->text[0] /* failed before parsing */)
    return fp_diag_set(d, FP_ERR_NOMEM, "%sparsing JSON: out of memory", what);
  if (!d || d->code != FP_OK) return FP_ERR_JSON;
  if (line)
    fp_diag_set(d, FP_ERR_JSON,
                "line %llu is not a JSON document (JSON lines: one event per line): %s "
                "at column %d",
                (unsigned long long)line, je->text, je->column);
  else
    fp_diag_set(d, FP_ERR_JSON, "%smalformed JSON at line %d, column %d: %s", what, je->line,
                je->column, je->text);
  fp_diag_key(d, path);
  d->byte_offset = base + (uint64_t)(je->position > 0 ? je->position : 0);
  d->has_offset = 1;
  if (line)
    d->row = line;
  else if (!what[0] && je->line > 0)
    d->row = (uint64_t)je->line;
  return FP_ERR_JSON;
}

static fp_err ev_sns(ev_ctx *c, json_t *env, const char *type, const char *path, int depth) {
  fp_diag *d = c->d;
  if (strcmp(type, "SubscriptionConfirmation") == 0 || strcmp(type, "UnsubscribeConfirmation") == 0)
    return ev_fail(d, FP_ERR_EVENT, path, ".Type", "not an S3 notification (SNS %s)", type);
  if (strcmp(type, "Notification") != 0)
    return ev_fail(d, FP_ERR_EVENT, path, ".Type", EV_UNKNOWN_SHAPE " (SNS Type \"%.64s\")", type);
  if (c->no_envelope)
    return ev_fail(d, FP_ERR_EVENT, path, ".Type",
                   "an SNS envelope inside an SNS Message is not accepted (its signature "
                   "is never checked)");
  json_t *msg = json_object_get(env, "Message");
  if (!msg || !json_is_string(msg))
    return ev_fail(d, FP_ERR_EVENT, path, ".Message",
                   "expected a string holding an S3 notification as JSON");
  char p[FP_DIAG_KEY_MAX];
  path_join(p, sizeof p, path, ".Message");
  if (depth >= EV_MAX_DEPTH)
    return ev_fail(d, FP_ERR_EVENT, p, NULL, "SNS envelopes nested too deeply");
  json_error_t je;
  json_t *inner =
      json_loadb(json_string_value(msg), json_string_length(msg), JSON_REJECT_DUPLICATES, &je);
  if (!inner) return json_fail(d, &je, p, 0, 0, "SNS Message: ");
  fp_err e = ev_value(c, inner, p, depth + 1);
  json_decref(inner);
  return e;
}

static fp_err ev_object(ev_ctx *c, json_t *o, const char *path, int depth) {
  json_t *v;
  if ((v = json_object_get(o, "Records"))) return ev_records(c, v, path);
  v = json_object_get(o, "Event");
  if (v && json_is_string(v) && strcmp(json_string_value(v), "s3:TestEvent") == 0) {
    c->list.skipped++;
    return FP_OK;
  }
  v = json_object_get(o, "Type");
  if (v && json_is_string(v)) return ev_sns(c, o, json_string_value(v), path, depth);
  v = json_object_get(o, "source");
  if (v && json_is_string(v) && strcmp(json_string_value(v), "aws.s3") == 0)
    return ev_eventbridge(c, o, path);
  /* A bare record, as Lambda runtimes re-marshal them (an array of records). */
  if (json_is_object(json_object_get(o, "s3"))) return ev_record(c, o, path);
  return ev_fail(c->d, FP_ERR_EVENT, path, NULL, EV_UNKNOWN_SHAPE);
}

static fp_err ev_value(ev_ctx *c, json_t *v, const char *path, int depth) {
  if (json_is_object(v)) return ev_object(c, v, path, depth);
  if (!json_is_array(v)) return ev_fail(c->d, FP_ERR_EVENT, path, NULL, EV_UNKNOWN_SHAPE);
  if (json_array_size(v) == 0)
    return ev_fail(c->d, FP_ERR_EVENT, path, NULL, "expected a non-empty array of events");
  size_t i;
  json_t *el;
  json_array_foreach(v, i, el) {
    char p[FP_DIAG_KEY_MAX];
    snprintf(p, sizeof p, "%s[%zu]", path, i);
    if (!json_is_object(el))
      return ev_fail(c->d, FP_ERR_EVENT, p, NULL, "expected an event object");
    fp_err e = ev_object(c, el, p, depth);
    if (e) return e;
  }
  return FP_OK;
}

/* ---- entry points -------------------------------------------------------------------- */

/* Moves c's items to the end of out; out is untouched on failure. */
static fp_err commit(ev_ctx *c, fp_event_list *out) {
  if (c->list.n) {
    if (out->n > ((size_t)-1) / sizeof *out->items - c->list.n) return FP_ERR_NOMEM;
    fp_object_ref *p = realloc(out->items, (out->n + c->list.n) * sizeof *p);
    if (!p) return FP_ERR_NOMEM;
    memcpy(p + out->n, c->list.items, c->list.n * sizeof *p);
    out->items = p;
    out->n += c->list.n;
  }
  out->skipped += c->list.skipped;
  free(c->list.items);
  memset(&c->list, 0, sizeof c->list);
  c->cap = 0;
  return FP_OK;
}

static fp_err finish(ev_ctx *c, fp_err e, fp_event_list *out) {
  if (!e && commit(c, out)) e = fp_diag_set(c->d, FP_ERR_NOMEM, "out of memory");
  fp_event_list_free(&c->list);
  return e;
}

static fp_err check_args(const char *p, fp_event_list *out, fp_diag *d) {
  if (!out || !p) return fp_diag_set(d, FP_ERR_INVAL, "events: NULL argument");
  return FP_OK;
}

/* One whole document; base is its byte offset in the caller's text. */
static fp_err parse_whole(const char *json, size_t len, size_t base, bool no_envelope,
                          fp_event_list *out, fp_diag *d) {
  json_error_t je;
  json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
  if (!root) return json_fail(d, &je, "$", base, 0, "");
  ev_ctx c = {.d = d, .no_envelope = no_envelope};
  fp_err e = ev_value(&c, root, "$", 0);
  json_decref(root);
  return finish(&c, e, out);
}

fp_err fp_events_parse_json(const char *json, size_t len, fp_event_list *out, fp_diag *d) {
  fp_err e = check_args(json, out, d);
  if (e) return e;
  return parse_whole(json, len, 0, false, out, d);
}

fp_err fp_events_parse_sns_message(const char *json, size_t len, fp_event_list *out,
                                   fp_diag *d) {
  fp_err e = check_args(json, out, d);
  if (e) return e;
  return parse_whole(json, len, 0, true, out, d);
}

static int is_ws(char ch) {
  return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* JSON lines: one document per non-blank line; errors carry the line number. */
static fp_err parse_lines(ev_ctx *c, const char *text, size_t pos, size_t len) {
  uint64_t line = 0;
  while (pos < len) {
    line++;
    const char *nl = memchr(text + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - text) : len;
    size_t s = pos, e = end;
    pos = nl ? end + 1 : len;
    while (s < e && is_ws(text[s])) s++;
    while (e > s && is_ws(text[e - 1])) e--;
    if (s == e) continue;
    json_error_t je;
    json_t *doc = json_loadb(text + s, e - s, JSON_REJECT_DUPLICATES, &je);
    if (!doc) return json_fail(c->d, &je, "$", s, line, "");
    fp_err err = ev_value(c, doc, "$", 0);
    json_decref(doc);
    if (err) {
      if (c->d && !c->d->row) c->d->row = line;
      return err;
    }
  }
  return FP_OK;
}

fp_err fp_events_parse_text(const char *text, size_t len, fp_event_list *out, fp_diag *d) {
  fp_err e = check_args(text, out, d);
  if (e) return e;
  size_t start = 0;
  if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) start = 3; /* UTF-8 BOM */
  size_t i = start;
  while (i < len && is_ws(text[i])) i++;
  if (i == len) return ev_fail(d, FP_ERR_EVENT, "$", NULL, "no events: the text is empty");
  if (text[i] == '[') return parse_whole(text + start, len - start, start, false, out, d);
  /* Parse the first document alone: whole text = one document, else JSON lines. */
  json_error_t je;
  json_t *root =
      json_loadb(text + start, len - start, JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK, &je);
  if (!root) return json_fail(d, &je, "$", start, 0, "");
  size_t rest = start + (size_t)(je.position > 0 ? je.position : 0);
  while (rest < len && is_ws(text[rest])) rest++;
  ev_ctx c = {.d = d};
  if (rest == len) {
    e = ev_value(&c, root, "$", 0);
    json_decref(root);
    return finish(&c, e, out);
  }
  json_decref(root);
  e = parse_lines(&c, text, start, len);
  return finish(&c, e, out);
}
