/* report_html.c — renders the JSON report as one self-contained HTML page (inline CSS and
 * SVG, no script, no external assets). Reads the report text with jansson so stored and
 * fresh reports look the same; every string from the report goes through esc(). Output
 * goes into one capped fp_buf; append failures are remembered in a sticky flag and checked
 * once at the end, so the section writers stay straight-line. */
#include "fp/fp_report_html.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fp/fp_buf.h"

typedef struct html {
  fp_buf b;
  fp_err err;       /* first append failure, FP_OK while all went in */
  const char *sfx;  /* id suffix: "" for a single report, "-n" for the n-th of an array */
} html;

static void put(html *h, const char *s) {
  if (!h->err) h->err = fp_buf_puts(&h->b, s);
}

static void putf(html *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(html *h, const char *fmt, ...) {
  if (h->err) return;
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  /* Only short, number-like formats go through here; data strings use esc(). */
  if (n < 0 || (size_t)n >= sizeof tmp) h->err = FP_ERR_INTERNAL;
  else h->err = fp_buf_append(&h->b, tmp, (size_t)n);
}

/* Bytes of the UTF-8 sequence starting at lead byte c (1 for anything unexpected: the
 * report's strings are valid UTF-8 already, jansson refuses anything else). */
static size_t u8len(unsigned char c) {
  if (c >= 0xF0) return 4;
  if (c >= 0xE0) return 3;
  if (c >= 0xC0) return 2;
  return 1;
}

/* Escapes s for text and attribute context, at most maxchars characters (0 = all) with an
 * ellipsis when cut. Control characters become their visible Unicode pictures (U+2400..),
 * so a tab or a stray ESC in a cell is seen, not silently swallowed by the layout. */
static void esc_n(html *h, const char *s, size_t maxchars) {
  if (!s) return;
  size_t chars = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p && !h->err;) {
    if (maxchars && chars == maxchars) {
      put(h, "\xE2\x80\xA6");
      return;
    }
    chars++;
    switch (*p) {
      case '&': put(h, "&amp;"); break;
      case '<': put(h, "&lt;"); break;
      case '>': put(h, "&gt;"); break;
      case '"': put(h, "&quot;"); break;
      case '\'': put(h, "&#39;"); break;
      default:
        if (*p < 0x20 || *p == 0x7F) {
          char pic[4] = {(char)0xE2, (char)0x90, (char)(*p == 0x7F ? 0xA1 : 0x80 + *p), 0};
          put(h, pic);
        } else {
          size_t n = u8len(*p);
          for (size_t i = 1; i < n; i++)
            if (!p[i]) n = i; /* truncated sequence at the end: copy what is there */
          h->err = fp_buf_append(&h->b, p, n);
          p += n;
          continue;
        }
    }
    p++;
  }
}

static void esc(html *h, const char *s) { esc_n(h, s, 0); }

/* ---- reading the report ----------------------------------------------------------- */

static const char *jstr(const json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

static bool jnum(const json_t *o, const char *k, double *out) {
  json_t *v = json_object_get(o, k);
  if (!json_is_number(v)) return false;
  *out = json_number_value(v);
  return isfinite(*out);
}

static uint64_t juint(const json_t *o, const char *k) {
  json_int_t v = json_integer_value(json_object_get(o, k));
  return v > 0 ? (uint64_t)v : 0;
}

static bool jtrue(const json_t *o, const char *k) { return json_is_true(json_object_get(o, k)); }

/* ---- formatting numbers ----------------------------------------------------------- */

/* 1234567 -> "1,234,567". */
static void fmt_u64(uint64_t v, char *out, size_t n) {
  char raw[32];
  int len = snprintf(raw, sizeof raw, "%" PRIu64, v);
  size_t o = 0;
  for (int i = 0; i < len && o + 2 < n; i++) {
    if (i && (len - i) % 3 == 0) out[o++] = ',';
    out[o++] = raw[i];
  }
  out[o] = '\0';
}

/* About four significant digits without exponent for everyday magnitudes; thousands
 * grouped from 10,000 on, like the counts. */
static void fmt_num(double v, char *out, size_t n) {
  double a = fabs(v);
  if (a != 0 && (a >= 1e9 || a < 1e-3)) {
    snprintf(out, n, "%.4g", v);
    return;
  }
  if (a >= 1e4) {
    uint64_t tenths = (uint64_t)llround(a * 10); /* one decimal, rounded once */
    char grouped[32], f[8] = "";
    fmt_u64(tenths / 10, grouped, sizeof grouped);
    if (tenths % 10) snprintf(f, sizeof f, ".%d", (int)(tenths % 10));
    snprintf(out, n, "%s%s%s", v < 0 ? "-" : "", grouped, f);
    return;
  }
  snprintf(out, n, "%.*f", a >= 100 ? 1 : a >= 1 ? 2 : 3, v);
  char *dot = strchr(out, '.');
  if (!dot) return;
  char *e = out + strlen(out) - 1;
  while (e > dot && *e == '0') *e-- = '\0';
  if (e == dot) *e = '\0';
}

static void fmt_bytes(uint64_t b, char *out, size_t n) {
  if (b >= 1ull << 30) snprintf(out, n, "%.1f GiB", (double)b / (1ull << 30));
  else if (b >= 1ull << 20) snprintf(out, n, "%.1f MiB", (double)b / (1ull << 20));
  else if (b >= 1ull << 10) snprintf(out, n, "%.1f KiB", (double)b / (1ull << 10));
  else snprintf(out, n, "%" PRIu64 " B", b);
}

/* An axis value in the histogram's unit: plain number, date (days since 1970-01-01) or
 * UTC date-time (seconds since the epoch). */
static void fmt_unit(double v, const char *unit, char *out, size_t n) {
  bool day = unit && strcmp(unit, "day") == 0, sec = unit && strcmp(unit, "second") == 0;
  if ((day || sec) && fabs(v) < 1e13) {
    time_t t = (time_t)floor(day ? v * 86400.0 : v);
    struct tm tm;
    if (gmtime_r(&t, &tm) && strftime(out, n, day ? "%Y-%m-%d" : "%Y-%m-%d %H:%M:%S", &tm))
      return;
  }
  fmt_num(v, out, n);
}

/* ---- page frame ------------------------------------------------------------------- */

static const char CSS[] =
    ":root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--soft:#f6f8fa;--accent:#0969da;"
    "--bar:#54aeff;--ok:#1a7f37;--ok-bg:#dafbe1;--warn:#9a6700;--warn-bg:#fff8c5;"
    "--bad:#d1242f;--bad-bg:#ffebe9}"
    "*{box-sizing:border-box}"
    "html{-webkit-text-size-adjust:100%}"
    "body{margin:0;color:var(--fg);background:#fff;font:15px/1.5 system-ui,-apple-system,"
    "'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;overflow-wrap:anywhere}"
    "main{max-width:1240px;margin:0 auto;padding:24px 28px 48px}"
    "h1,h2,h3{line-height:1.25;margin:0}"
    "h2{font-size:1.2rem;margin:32px 0 12px;padding-bottom:6px;border-bottom:1px solid var(--line)}"
    "h3{font-size:1rem;margin:0}"
    "code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.86em}"
    ".muted{color:var(--muted)}"
    ".report+.report{margin-top:56px;border-top:4px solid var(--line);padding-top:8px}"
    /* verdict banner: colour, icon and word together, so it never depends on colour alone */
    ".verdict{display:flex;gap:16px;align-items:center;padding:16px 20px;border-radius:10px;"
    "border:1px solid;border-left-width:8px}"
    ".verdict .icon{flex:none;width:44px;height:44px;border-radius:50%;display:flex;"
    "align-items:center;justify-content:center;font-size:26px;font-weight:700;color:#fff}"
    ".verdict h1{font-size:1.5rem}"
    ".verdict p{margin:2px 0 0}"
    ".verdict .who{min-width:0}"
    ".v-passed{background:var(--ok-bg);border-color:var(--ok)}.v-passed .icon{background:var(--ok)}"
    ".v-warned{background:var(--warn-bg);border-color:var(--warn)}.v-warned .icon{background:var(--warn)}"
    ".v-failed{background:var(--bad-bg);border-color:var(--bad)}.v-failed .icon{background:var(--bad)}"
    ".counts{display:flex;flex-wrap:wrap;gap:6px 14px;margin-top:6px;font-size:.9rem}"
    /* stats as a responsive grid of label/value cards */
    ".stats{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:10px;margin:0}"
    ".stats div{background:var(--soft);border:1px solid var(--line);border-radius:8px;padding:8px 12px;min-width:0}"
    ".stats dt{font-size:.78rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}"
    ".stats dd{margin:2px 0 0;font-weight:600}"
    ".stats dd small{font-weight:400;color:var(--muted)}"
    ".stats .wide{grid-column:1/-1}"
    /* wide tables scroll inside their own box, never the page */
    ".scroll{overflow-x:auto;max-width:100%;border:1px solid var(--line);border-radius:8px}"
    "table{border-collapse:collapse;width:100%;font-size:.9rem}"
    "th,td{padding:6px 10px;text-align:left;vertical-align:top;border-bottom:1px solid var(--line)}"
    "tr:last-child td,tr:last-child th{border-bottom:0}"
    "th{background:var(--soft);font-weight:600;white-space:nowrap;position:sticky;top:0}"
    "td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "tbody th{background:none;position:static;font-weight:600}"
    ".samples .num{width:1%}"
    "code{background:var(--soft);border-radius:4px;padding:0 4px}"
    "h3 code,h4 code{background:none;padding:0}"
    "#columns td{overflow-wrap:normal}"
    ".cols td.val{max-width:16em;overflow-wrap:anywhere}"
    ".type{display:inline-block;padding:0 6px;border-radius:10px;background:#ddf4ff;color:#0550ae;font-size:.8rem;white-space:nowrap}"
    ".approx{color:var(--muted);cursor:help}"
    ".mbar{display:block;height:4px;background:var(--soft);border-radius:2px;margin-top:3px;min-width:48px}"
    ".mbar i{display:block;height:4px;border-radius:2px;background:var(--warn)}"
    ".chart svg{display:block}"
    ".chart .axis{display:flex;justify-content:space-between;gap:8px;font-size:.72rem;line-height:1.3;color:var(--muted);width:180px;white-space:nowrap}"
    ".chart .axis .hi{text-align:right}"
    "svg .b{fill:var(--bar)}svg .bg{fill:var(--soft)}svg .q{fill:#0969da;opacity:.35}svg .m{stroke:#0550ae;stroke-width:2}"
    "svg .w{stroke:#0550ae;stroke-width:1}svg text{font:10px system-ui,sans-serif;fill:var(--fg)}"
    /* findings */
    ".fcode{border:1px solid var(--line);border-radius:8px;margin:0 0 14px;overflow:hidden}"
    ".fcode>header{display:flex;flex-wrap:wrap;align-items:baseline;gap:4px 12px;padding:10px 14px;background:var(--soft);border-bottom:1px solid var(--line)}"
    ".fgroup{padding:10px 14px}.fgroup+.fgroup{border-top:1px dashed var(--line)}"
    ".fgroup h4{margin:0 0 6px;font-size:.92rem;font-weight:600}"
    ".sev{display:inline-block;font-size:.75rem;font-weight:700;padding:1px 8px;border-radius:10px;text-transform:uppercase;letter-spacing:.03em}"
    ".sev-error{background:var(--bad-bg);color:#a40e26;border:1px solid var(--bad)}"
    ".sev-warning{background:var(--warn-bg);color:#7d4e00;border:1px solid var(--warn)}"
    ".sev-info{background:#ddf4ff;color:#0550ae;border:1px solid #54aeff}"
    ".samples td.cell{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.84em;white-space:pre-wrap;overflow-wrap:anywhere;max-width:28em}"
    ".samples td.cell .muted{white-space:nowrap;font-family:system-ui,sans-serif}"
    "details summary{cursor:pointer;color:var(--accent);margin:6px 0}"
    ".empty{padding:12px 14px;background:var(--soft);border-radius:8px}"
    "footer{margin-top:40px;font-size:.8rem;color:var(--muted)}"
    "a{color:var(--accent)}"
    "nav.toc{display:flex;flex-wrap:wrap;gap:4px 16px;margin:14px 0 0;font-size:.9rem}"
    "@media (max-width:640px){"
    "body{font-size:14px}main{padding:12px 12px 32px}"
    ".verdict{padding:12px 14px;gap:12px}.verdict .icon{width:36px;height:36px;font-size:20px}"
    ".verdict h1{font-size:1.25rem}"
    ".stats{grid-template-columns:1fr 1fr;gap:8px}"
    ".stats div{padding:6px 10px}"
    "th,td{padding:5px 8px}"
    /* the column table becomes one card per column: no sideways scrolling for the main view */
    ".cols thead,.cols td.idx,.cols td.nomean{display:none}"
    ".cols,.cols tbody{display:block}"
    ".cols tr{display:grid;grid-template-columns:1fr 1fr;gap:6px 14px;padding:10px 12px;border-bottom:1px solid var(--line)}"
    ".cols tr:last-child{border-bottom:0}"
    ".cols td,.cols th{display:block;border:0;padding:0;text-align:left;max-width:none}"
    ".cols td.num{text-align:left}"
    ".cols td[data-label]::before{content:attr(data-label);display:block;font-size:.7rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}"
    ".cols th{grid-column:1/-1;font-size:1.05rem}"
    ".cols td.dist{grid-column:1/-1}"
    ".cols td.dist:empty{display:none}"
    ".mbar{max-width:120px}"
    "h2{margin-top:24px}"
    "}"
    "@media print{.scroll{overflow:visible}th{position:static}}";

/* ---- sections --------------------------------------------------------------------- */

static const char *verdict_word(const char *v) {
  if (v && strcmp(v, "passed") == 0) return "Passed";
  if (v && strcmp(v, "warned") == 0) return "Passed with warnings";
  return "Failed";
}

/* Where the data came from, as one line: s3://bucket/key, else the path. */
static void source_line(html *h, const json_t *src) {
  const char *bucket = jstr(src, "bucket"), *key = jstr(src, "key");
  if (bucket && *bucket) {
    put(h, "s3://");
    esc(h, bucket);
    put(h, "/");
    esc(h, key);
  } else {
    esc(h, key ? key : jstr(src, "location") ? jstr(src, "location") : "standard input");
  }
}

static void section_verdict(html *h, const json_t *r) {
  const char *v = jstr(r, "verdict");
  const char *cls = v && strcmp(v, "passed") == 0 ? "passed" : v && strcmp(v, "warned") == 0 ? "warned" : "failed";
  const char *icon = cls[0] == 'p' ? "\xE2\x9C\x93" : cls[0] == 'w' ? "!" : "\xE2\x9C\x97";
  const json_t *f = json_object_get(r, "findings");
  char e[32], w[32], i[32];
  fmt_u64(juint(f, "errors"), e, sizeof e);
  fmt_u64(juint(f, "warnings"), w, sizeof w);
  fmt_u64(juint(f, "infos"), i, sizeof i);
  putf(h, "<header id=\"verdict%s\" class=\"verdict v-%s\" role=\"status\">", h->sfx, cls);
  putf(h, "<span class=\"icon\" aria-hidden=\"true\">%s</span><div class=\"who\">", icon);
  putf(h, "<h1><span class=\"vword\" data-verdict=\"%s\">%s</span></h1><p class=\"mono\">", cls,
       verdict_word(v));
  source_line(h, json_object_get(r, "source"));
  put(h, "</p><div class=\"counts\">");
  putf(h, "<span><b>%s</b> error%s</span>", e, strcmp(e, "1") ? "s" : "");
  putf(h, "<span><b>%s</b> warning%s</span>", w, strcmp(w, "1") ? "s" : "");
  putf(h, "<span><b>%s</b> info</span>", i);
  put(h, "</div></div></header>");
  putf(h, "<nav class=\"toc\" aria-label=\"sections\"><a href=\"#stats%s\">Table</a>"
       "<a href=\"#columns%s\">Columns</a><a href=\"#findings%s\">Findings</a>", h->sfx, h->sfx, h->sfx);
  putf(h, "<a href=\"#contract%s\">Contract</a></nav>", h->sfx);
}

static void stat_open(html *h, const char *label, bool wide) {
  put(h, wide ? "<div class=\"wide\"><dt>" : "<div><dt>");
  put(h, label);
  put(h, "</dt><dd>");
}

static void stat_u64(html *h, const char *label, uint64_t v) {
  char n[32];
  fmt_u64(v, n, sizeof n);
  stat_open(h, label, false);
  put(h, n);
  put(h, "</dd></div>");
}

static const char *delimiter_name(const char *d) {
  if (!d) return "unknown";
  if (strcmp(d, ",") == 0) return "comma";
  if (strcmp(d, ";") == 0) return "semicolon";
  if (strcmp(d, "\t") == 0) return "tab";
  if (strcmp(d, "|") == 0) return "pipe";
  return NULL;
}

static void stat_dialect(html *h, const json_t *dl) {
  stat_open(h, "Dialect", false);
  const char *delim = jstr(dl, "delimiter"), *name = delimiter_name(delim);
  if (name) put(h, name);
  else {
    put(h, "<code>");
    esc(h, delim);
    put(h, "</code>");
  }
  put(h, ", quote <code>");
  esc(h, jstr(dl, "quoteChar") ? jstr(dl, "quoteChar") : "none");
  putf(h, "</code> <small>%s%s</small></dd></div>", jtrue(dl, "header") ? "header row" : "no header",
       jtrue(dl, "sniffed") ? ", sniffed" : "");
}

static void stat_source(html *h, const json_t *src, const json_t *drift) {
  stat_open(h, "Source", true);
  put(h, "<span class=\"mono\">");
  source_line(h, src);
  put(h, "</span>");
  const char *ver = jstr(src, "version_id"), *etag = jstr(src, "etag");
  if (ver || etag) {
    put(h, " <small>");
    put(h, ver ? "version " : "etag ");
    esc(h, ver ? ver : etag);
    put(h, "</small>");
  }
  double size;
  char b[32];
  if (jnum(src, "size", &size) && size >= 0) {
    fmt_bytes((uint64_t)size, b, sizeof b);
    putf(h, " <small>%s stored", b);
    const char *comp = jstr(src, "compression");
    if (comp && strcmp(comp, "none") != 0) {
      put(h, ", ");
      esc(h, comp);
    }
    put(h, "</small>");
  }
  put(h, "</dd></div>");
  if (json_is_object(drift)) {
    stat_open(h, "Drift baseline", true);
    double id = 0;
    jnum(drift, "baseline_run_id", &id);
    putf(h, "compared with run %.0f", id);
    const char *key = jstr(drift, "baseline_key"), *at = jstr(drift, "baseline_finished_at");
    if (key) {
      put(h, " (<span class=\"mono\">");
      esc(h, key);
      put(h, "</span>)");
    }
    if (at) {
      put(h, " <small>finished ");
      esc(h, at);
      put(h, "</small>");
    }
    put(h, "</dd></div>");
  }
}

static void stat_timings(html *h, const json_t *t) {
  double ms = 0, mbps = 0;
  stat_open(h, "Duration", false);
  if (jnum(t, "duration_ms", &ms)) {
    char n[32];
    fmt_num(ms >= 1000 ? ms / 1000 : ms, n, sizeof n);
    putf(h, "%s %s", n, ms >= 1000 ? "s" : "ms");
  } else {
    put(h, "&ndash;");
  }
  if (jnum(t, "mb_per_s", &mbps) && mbps > 0) putf(h, " <small>%.1f MB/s</small>", mbps);
  put(h, "</dd></div>");
  stat_open(h, "Finished", false);
  const char *at = jstr(t, "finished_at");
  if (at && strlen(at) >= 19 && at[10] == 'T') { /* 2026-11-29T14:00:00.000Z, shown in UTC */
    char day[11], tod[9];
    memcpy(day, at, 10);
    day[10] = '\0';
    memcpy(tod, at + 11, 8);
    tod[8] = '\0';
    esc(h, day);
    put(h, " ");
    esc(h, tod);
    put(h, " <small>UTC</small>");
  } else {
    esc(h, at ? at : "unknown");
  }
  put(h, "</dd></div>");
}

static void section_stats(html *h, const json_t *r) {
  const json_t *t = json_object_get(r, "table");
  putf(h, "<section id=\"stats%s\"><h2>Table</h2><dl class=\"stats\">", h->sfx);
  stat_source(h, json_object_get(r, "source"), json_object_get(r, "drift"));
  stat_u64(h, "Rows", juint(t, "rows"));
  stat_u64(h, "Columns", juint(t, "columns"));
  char b[32], n[32];
  fmt_bytes(juint(t, "bytes"), b, sizeof b);
  fmt_u64(juint(t, "bytes"), n, sizeof n);
  stat_open(h, "Bytes parsed", false);
  putf(h, "%s <small>%s bytes</small></dd></div>", b, n);
  fmt_u64(juint(t, "duplicate_rows"), n, sizeof n);
  stat_open(h, "Duplicate rows", false);
  put(h, n);
  if (json_is_false(json_object_get(t, "duplicate_rows_exact")))
    put(h, " <small class=\"approx\" title=\"the bounded row-hash set filled up; at least this many\">at least</small>");
  put(h, "</dd></div>");
  stat_u64(h, "Blank rows", juint(t, "blank_rows"));
  if (juint(t, "rows_too_many_cells") || juint(t, "rows_too_few_cells")) {
    stat_u64(h, "Rows with extra cells", juint(t, "rows_too_many_cells"));
    stat_u64(h, "Rows with missing cells", juint(t, "rows_too_few_cells"));
  }
  if (juint(t, "encoding_errors")) stat_u64(h, "Encoding errors", juint(t, "encoding_errors"));
  stat_dialect(h, json_object_get(r, "dialect"));
  stat_timings(h, json_object_get(r, "timings"));
  put(h, "</dl></section>");
}

/* ---- charts ----------------------------------------------------------------------- */

enum { CW = 180, CH = 44 };

/* A box for the quantiles under the histogram: p05..p95 whisker, p25..p75 box, p50 tick. */
static void quantile_strip(html *h, const json_t *q, double lo, double hi) {
  double p[5];
  static const char *const names[5] = {"p05", "p25", "p50", "p75", "p95"};
  for (int i = 0; i < 5; i++)
    if (!jnum(q, names[i], &p[i])) return;
  double x[5];
  for (int i = 0; i < 5; i++) {
    double f = (p[i] - lo) / (hi - lo);
    x[i] = (f < 0 ? 0 : f > 1 ? 1 : f) * CW;
  }
  putf(h, "<line class=\"w\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>", x[0], CH + 6, x[4], CH + 6);
  putf(h, "<rect class=\"q\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"8\"/>", x[1], CH + 2,
       x[3] - x[1] > 1 ? x[3] - x[1] : 1);
  putf(h, "<line class=\"m\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>", x[2], CH + 1, x[2], CH + 11);
}

static void chart_histogram(html *h, const json_t *hist, const json_t *quant) {
  const json_t *counts = json_object_get(hist, "counts");
  size_t n = json_array_size(counts);
  double lo, hi;
  if (!n || !jnum(hist, "lo", &lo) || !jnum(hist, "hi", &hi)) return;
  const char *unit = jstr(hist, "unit");
  uint64_t max = 0, total = 0;
  for (size_t i = 0; i < n; i++) {
    json_int_t c = json_integer_value(json_array_get(counts, i));
    uint64_t u = c > 0 ? (uint64_t)c : 0;
    if (u > max) max = u;
    total += u;
  }
  bool strip = json_is_object(quant) && hi > lo;
  char a[48], b[48];
  fmt_unit(lo, unit, a, sizeof a);
  fmt_unit(hi, unit, b, sizeof b);
  putf(h, "<div class=\"chart\"><svg class=\"hist\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
       "aria-label=\"histogram of %zu bins from %s to %s\">", CW, CH + (strip ? 14 : 0), CW,
       CH + (strip ? 14 : 0), n, a, b);
  putf(h, "<rect class=\"bg\" x=\"0\" y=\"0\" width=\"%d\" height=\"%d\"/>", CW, CH);
  double bw = (double)CW / (double)n, gap = bw > 4 ? 1 : 0;
  for (size_t i = 0; i < n && max; i++) {
    json_int_t c = json_integer_value(json_array_get(counts, i));
    if (c <= 0) continue;
    double bh = (double)c / (double)max * (CH - 2);
    if (bh < 1) bh = 1;
    char from[48], to[48];
    fmt_unit(lo + (hi - lo) * (double)i / (double)n, unit, from, sizeof from);
    fmt_unit(lo + (hi - lo) * (double)(i + 1) / (double)n, unit, to, sizeof to);
    putf(h, "<rect class=\"b\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\">", bw * (double)i,
         CH - bh, bw - gap > 0.5 ? bw - gap : 0.5, bh);
    putf(h, "<title>%s \xE2\x80\x93 %s: %" PRId64 " (%.1f%%)</title></rect>", from, to, (int64_t)c,
         total ? 100.0 * (double)c / (double)total : 0.0);
  }
  if (strip) quantile_strip(h, quant, lo, hi);
  /* date-times break between date and time so both ends fit under the chart */
  char *sa = unit && !strcmp(unit, "second") ? strchr(a, ' ') : NULL;
  char *sb = unit && !strcmp(unit, "second") ? strchr(b, ' ') : NULL;
  if (sa) *sa = '\0';
  if (sb) *sb = '\0';
  putf(h, "</svg><div class=\"axis\"><span>%s%s%s</span>", a, sa ? "<br>" : "", sa ? sa + 1 : "");
  putf(h, "<span class=\"hi\">%s%s%s</span></div></div>", b, sb ? "<br>" : "", sb ? sb + 1 : "");
}

static void chart_top(html *h, const json_t *top, uint64_t nonmissing) {
  size_t n = json_array_size(top);
  if (!n) return;
  if (n > 5) n = 5;
  uint64_t max = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t c = juint(json_array_get(top, i), "count");
    if (c > max) max = c;
  }
  enum { RH = 15 };
  putf(h, "<div class=\"chart\"><svg class=\"topv\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
       "aria-label=\"most frequent values\">", CW, (int)n * RH, CW, (int)n * RH);
  for (size_t i = 0; i < n; i++) {
    const json_t *t = json_array_get(top, i);
    uint64_t c = juint(t, "count");
    double w = max ? (double)c / (double)max * CW : 0;
    char cnt[32];
    fmt_u64(c, cnt, sizeof cnt);
    putf(h, "<g><title>");
    esc(h, jstr(t, "value"));
    putf(h, ": %s (%.1f%%)</title>", cnt, nonmissing ? 100.0 * (double)c / (double)nonmissing : 0.0);
    putf(h, "<rect class=\"bg\" x=\"0\" y=\"%d\" width=\"%d\" height=\"%d\"/>", (int)i * RH + 1, CW, RH - 2);
    putf(h, "<rect class=\"b\" x=\"0\" y=\"%d\" width=\"%.1f\" height=\"%d\" opacity=\".55\"/>",
         (int)i * RH + 1, w < 1 ? 1 : w, RH - 2);
    putf(h, "<text x=\"3\" y=\"%d\">", (int)i * RH + 11);
    const char *v = jstr(t, "value");
    if (v && *v) esc_n(h, v, 22);
    else put(h, "(empty)");
    putf(h, "</text><text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text></g>", CW - 3, (int)i * RH + 11, cnt);
  }
  put(h, "</svg></div>");
}

/* ---- columns ---------------------------------------------------------------------- */

static bool is_histogram_type(const char *t) {
  return t && (!strcmp(t, "number") || !strcmp(t, "integer") || !strcmp(t, "date") ||
               !strcmp(t, "datetime"));
}

static void cell_value(html *h, const char *label, const char *v) {
  putf(h, "<td class=\"val mono\" data-label=\"%s\"", label);
  if (v && strlen(v) > 40) {
    put(h, " title=\"");
    esc_n(h, v, 400);
    put(h, "\"");
  }
  put(h, ">");
  if (v && *v) esc_n(h, v, 40);
  else put(h, v ? "<span class=\"muted\">(empty)</span>" : "<span class=\"muted\">&ndash;</span>");
  put(h, "</td>");
}

static void column_row(html *h, const json_t *c) {
  const char *type = jstr(c, "type");
  char n[32];
  double pct = 0, mean;
  jnum(c, "missing_pct", &pct);
  putf(h, "<tr><td class=\"num idx\">%" PRIu64 "</td><th scope=\"row\">", juint(c, "index"));
  esc(h, jstr(c, "name"));
  put(h, "</th><td data-label=\"Type\"><span class=\"type\">");
  esc(h, type ? type : "?");
  putf(h, "</span></td><td class=\"num\" data-label=\"Missing\">%.*f%%<span class=\"mbar\"><i style=\"width:%.1f%%\"></i></span></td>",
       pct > 0 && pct < 0.1 ? 2 : 1, pct, pct < 0 ? 0 : pct > 100 ? 100 : pct);
  fmt_u64(juint(c, "distinct"), n, sizeof n);
  if (jtrue(c, "distinct_approx"))
    putf(h, "<td class=\"num\" data-label=\"Distinct\"><span class=\"approx\" title=\"approximate (HyperLogLog)\">\xE2\x89\x88</span>%s</td>", n);
  else
    putf(h, "<td class=\"num\" data-label=\"Distinct\">%s</td>", n);
  cell_value(h, "Min", jstr(c, "min"));
  cell_value(h, "Max", jstr(c, "max"));
  if (jnum(c, "mean", &mean)) {
    fmt_num(mean, n, sizeof n);
    putf(h, "<td class=\"num\" data-label=\"Mean\">%s</td>", n);
  } else {
    put(h, "<td class=\"num muted nomean\" data-label=\"Mean\">&ndash;</td>");
  }
  put(h, "<td class=\"dist\">");
  const json_t *hist = json_object_get(c, "histogram");
  uint64_t count = juint(c, "count"), miss = juint(c, "missing");
  if (is_histogram_type(type) && json_is_object(hist))
    chart_histogram(h, hist, json_object_get(c, "quantiles"));
  else if (type && (!strcmp(type, "string") || !strcmp(type, "boolean")))
    chart_top(h, json_object_get(c, "top"), count > miss ? count - miss : 0);
  put(h, "</td></tr>");
}

static void section_columns(html *h, const json_t *r) {
  const json_t *cols = json_object_get(r, "columns");
  putf(h, "<section id=\"columns%s\"><h2>Columns <small class=\"muted\">(%zu)</small></h2>", h->sfx,
       json_array_size(cols));
  if (!json_array_size(cols)) {
    put(h, "<p class=\"empty\">No columns: the file had no header and no rows.</p></section>");
    return;
  }
  put(h, "<div class=\"scroll\"><table class=\"cols\"><thead><tr><th class=\"num\">#</th><th>Column</th>"
         "<th>Type</th><th class=\"num\">Missing</th><th class=\"num\">Distinct</th><th>Min</th>"
         "<th>Max</th><th class=\"num\">Mean</th><th>Distribution</th></tr></thead><tbody>");
  for (size_t i = 0; i < json_array_size(cols); i++) column_row(h, json_array_get(cols, i));
  put(h, "</tbody></table></div></section>");
}

/* ---- findings --------------------------------------------------------------------- */

static bool is_drift(const char *code) {
  static const char *const drift[] = {"schema-drift", "volume-drift", "missing-drift",
                                      "distribution-drift", "category-drift"};
  for (size_t i = 0; code && i < sizeof drift / sizeof *drift; i++)
    if (!strcmp(code, drift[i])) return true;
  return false;
}

enum { SAMPLES_SHOWN = 10 };

static void sample_rows(html *h, const json_t *samples, size_t from, size_t to) {
  for (size_t i = from; i < to; i++) {
    const json_t *s = json_array_get(samples, i);
    uint64_t row = juint(s, "row"), field = juint(s, "field");
    if (row) putf(h, "<tr><td class=\"num\">%" PRIu64 "</td>", row);
    else put(h, "<tr><td class=\"num muted\">table</td>");
    if (field) putf(h, "<td class=\"num\">%" PRIu64 "</td>", field);
    else put(h, "<td class=\"num muted\">&ndash;</td>");
    put(h, "<td class=\"cell\">");
    const char *cell = jstr(s, "cell");
    if (cell && *cell) esc_n(h, cell, 200);
    else put(h, cell ? "<span class=\"muted\">(empty)</span>" : "<span class=\"muted\">&ndash;</span>");
    put(h, "</td><td>");
    esc(h, jstr(s, "note"));
    put(h, "</td></tr>");
  }
}

static void samples_table(html *h, const json_t *samples, size_t from, size_t to) {
  put(h, "<div class=\"scroll\"><table class=\"samples\"><thead><tr><th class=\"num\">Row</th>"
         "<th class=\"num\">Field</th><th>Value</th><th>Message</th></tr></thead><tbody>");
  sample_rows(h, samples, from, to);
  put(h, "</tbody></table></div>");
}

static void finding_group(html *h, const json_t *g) {
  const json_t *samples = json_object_get(g, "samples");
  size_t ns = json_array_size(samples);
  char cnt[32];
  fmt_u64(juint(g, "count"), cnt, sizeof cnt);
  put(h, "<div class=\"fgroup\"><h4>");
  const char *fname = jstr(g, "field_name");
  uint64_t field = juint(g, "field");
  if (fname) {
    put(h, "Column <code>");
    esc(h, fname);
    putf(h, "</code> <span class=\"muted\">(field %" PRIu64 ")</span>", field);
  } else if (field) {
    putf(h, "Field %" PRIu64, field);
  } else {
    put(h, "Rows and table");
  }
  putf(h, " &middot; %s occurrence%s", cnt, strcmp(cnt, "1") ? "s" : "");
  if (jtrue(g, "samples_capped")) putf(h, " <span class=\"muted\">(first %zu kept)</span>", ns);
  put(h, "</h4>");
  if (ns) samples_table(h, samples, 0, ns < SAMPLES_SHOWN ? ns : SAMPLES_SHOWN);
  if (ns > SAMPLES_SHOWN) {
    putf(h, "<details><summary>%zu more sample%s</summary>", ns - SAMPLES_SHOWN,
         ns - SAMPLES_SHOWN == 1 ? "" : "s");
    samples_table(h, samples, SAMPLES_SHOWN, ns);
    put(h, "</details>");
  }
  put(h, "</div>");
}

/* A code turned into an id fragment: only [a-z0-9-], so data never reaches an id raw. */
static void id_fragment(html *h, const char *code) {
  for (const char *c = code; c && *c; c++) {
    char ch = (*c >= 'A' && *c <= 'Z') ? (char)(*c - 'A' + 'a') : *c;
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-';
    char s[2] = {ok ? ch : '_', 0};
    put(h, s);
  }
}

/* All groups of one code under one header, in report order. done marks groups emitted. */
static void finding_code(html *h, const json_t *groups, size_t first, bool *done) {
  const json_t *g0 = json_array_get(groups, first);
  const char *code = jstr(g0, "code"), *sev = jstr(g0, "severity");
  uint64_t total = 0;
  for (size_t i = first; i < json_array_size(groups); i++) {
    const char *c = jstr(json_array_get(groups, i), "code");
    if (c && code && !strcmp(c, code)) total += juint(json_array_get(groups, i), "count");
  }
  const char *sc = sev && !strcmp(sev, "warning") ? "warning" : sev && !strcmp(sev, "info") ? "info" : "error";
  char cnt[32];
  fmt_u64(total, cnt, sizeof cnt);
  put(h, "<article class=\"fcode\" id=\"finding-");
  id_fragment(h, code);
  putf(h, "%s\"><header><span class=\"sev sev-%s\">%s</span><h3><code>", h->sfx, sc, sc);
  esc(h, code);
  put(h, "</code> ");
  esc(h, jstr(g0, "title"));
  putf(h, "</h3><span class=\"muted\">%s in total</span></header>", cnt);
  for (size_t i = first; i < json_array_size(groups); i++) {
    const json_t *g = json_array_get(groups, i);
    const char *c = jstr(g, "code");
    if (done[i] || !c || !code || strcmp(c, code)) continue;
    done[i] = true;
    finding_group(h, g);
  }
  put(h, "</article>");
}

/* Renders the groups whose drift-ness equals drift; returns how many codes it showed. */
static size_t finding_codes(html *h, const json_t *groups, bool *done, bool drift) {
  size_t shown = 0;
  for (size_t i = 0; i < json_array_size(groups) && !h->err; i++) {
    if (done[i] || is_drift(jstr(json_array_get(groups, i), "code")) != drift) continue;
    if (!jstr(json_array_get(groups, i), "code")) {
      done[i] = true;
      continue;
    }
    finding_code(h, groups, i, done);
    shown++;
  }
  return shown;
}

static void section_findings(html *h, const json_t *r) {
  const json_t *groups = json_object_get(json_object_get(r, "findings"), "groups");
  size_t n = json_array_size(groups), ndrift = 0;
  for (size_t i = 0; i < n; i++) ndrift += is_drift(jstr(json_array_get(groups, i), "code"));
  bool *done = calloc(n ? n : 1, sizeof *done);
  if (!done) {
    h->err = FP_ERR_NOMEM;
    return;
  }
  putf(h, "<section id=\"findings%s\"><h2>Findings</h2>", h->sfx);
  if (!finding_codes(h, groups, done, false))
    put(h, "<p class=\"empty\">\xE2\x9C\x93 No findings: every check passed.</p>");
  put(h, "</section>");
  const json_t *drift = json_object_get(r, "drift");
  if (ndrift || json_is_object(drift)) {
    putf(h, "<section id=\"drift%s\"><h2>Drift</h2>", h->sfx);
    if (json_is_object(drift)) {
      double id = 0;
      jnum(drift, "baseline_run_id", &id);
      putf(h, "<p class=\"muted\">Compared with run %.0f", id);
      if (jstr(drift, "baseline_key")) {
        put(h, " (<span class=\"mono\">");
        esc(h, jstr(drift, "baseline_key"));
        put(h, "</span>)");
      }
      put(h, ".</p>");
    }
    if (!finding_codes(h, groups, done, true))
      put(h, "<p class=\"empty\">\xE2\x9C\x93 No drift from the baseline.</p>");
    put(h, "</section>");
  }
  free(done);
}

static void section_contract(html *h, const json_t *r) {
  const json_t *c = json_object_get(r, "contract");
  putf(h, "<section id=\"contract%s\"><h2>Contract</h2>", h->sfx);
  if (!json_is_object(c)) {
    put(h, "<p class=\"empty\">No dataset contract applied: structural checks only.</p></section>");
    return;
  }
  put(h, "<dl class=\"stats\"><div><dt>Name</dt><dd>");
  esc(h, jstr(c, "name"));
  put(h, "</dd></div><div class=\"wide\"><dt>Path</dt><dd class=\"mono\">");
  esc(h, jstr(c, "path") ? jstr(c, "path") : "(not recorded)");
  put(h, "</dd></div>");
  if (json_object_get(c, "rows_with_errors")) stat_u64(h, "Rows with contract errors", juint(c, "rows_with_errors"));
  put(h, "</dl></section>");
}

/* ---- document --------------------------------------------------------------------- */

static fp_err check_report(const json_t *r, size_t idx, fp_diag *d) {
  if (!json_is_object(r))
    return fp_diag_set(d, FP_ERR_JSON, "report %zu is not a JSON object", idx + 1);
  if (!json_is_integer(json_object_get(r, "report_version")) || !jstr(r, "verdict"))
    return fp_diag_set(d, FP_ERR_JSON, "report %zu is not a data-quality report (no report_version or verdict)", idx + 1);
  return FP_OK;
}

static void render_one(html *h, const json_t *r) {
  put(h, "<div class=\"report\">");
  section_verdict(h, r);
  section_stats(h, r);
  section_columns(h, r);
  section_findings(h, r);
  section_contract(h, r);
  put(h, "<footer>report_version ");
  putf(h, "%" PRId64, (int64_t)json_integer_value(json_object_get(r, "report_version")));
  put(h, " &middot; job ");
  esc(h, jstr(r, "job"));
  put(h, " &middot; started ");
  esc(h, jstr(json_object_get(r, "timings"), "started_at"));
  put(h, " &middot; file-processing</footer></div>");
}

static void page_title(html *h, const json_t *first, size_t n) {
  put(h, "<title>");
  put(h, verdict_word(jstr(first, "verdict")));
  put(h, " \xE2\x80\x94 ");
  const json_t *src = json_object_get(first, "source");
  const char *key = jstr(src, "key");
  esc_n(h, key ? key : jstr(src, "location") ? jstr(src, "location") : "data-quality report", 120);
  if (n > 1) putf(h, " and %zu more", n - 1);
  put(h, "</title>");
}

fp_err fp_report_html_render(const char *report_json, char **html_out, fp_diag *d) {
  *html_out = NULL;
  if (!report_json) return fp_diag_set(d, FP_ERR_INVAL, "no report JSON to render");
  json_error_t je;
  json_t *root = json_loads(report_json, JSON_REJECT_DUPLICATES, &je);
  if (!root)
    return fp_diag_set(d, FP_ERR_JSON, "report JSON, line %d column %d: %s", je.line, je.column, je.text);
  size_t n = json_is_array(root) ? json_array_size(root) : 1;
  fp_err e = n ? FP_OK : fp_diag_set(d, FP_ERR_JSON, "the report array is empty");
  for (size_t i = 0; i < n && !e; i++)
    e = check_report(json_is_array(root) ? json_array_get(root, i) : root, i, d);
  if (e) {
    json_decref(root);
    return e;
  }
  html h = {.sfx = ""};
  fp_buf_init(&h.b, FP_REPORT_HTML_MAX);
  const json_t *first = json_is_array(root) ? json_array_get(root, 0) : root;
  put(&h, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
          "<meta name=\"color-scheme\" content=\"light\">"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">");
  page_title(&h, first, n);
  put(&h, "<style>");
  put(&h, CSS);
  put(&h, "</style></head><body><main>");
  char sfx[24];
  for (size_t i = 0; i < n && !h.err; i++) {
    if (i) snprintf(sfx, sizeof sfx, "-%zu", i + 1);
    else sfx[0] = '\0';
    h.sfx = sfx;
    render_one(&h, json_is_array(root) ? json_array_get(root, i) : root);
  }
  put(&h, "</main></body></html>\n");
  json_decref(root);
  if (h.err) {
    fp_buf_free(&h.b);
    return fp_diag_set(d, h.err == FP_ERR_LIMIT ? FP_ERR_LIMIT : FP_ERR_NOMEM,
                       "rendering the HTML report%s", h.err == FP_ERR_LIMIT ? ": larger than 64 MiB" : "");
  }
  *html_out = fp_buf_take(&h.b);
  return *html_out ? FP_OK : fp_diag_set(d, FP_ERR_NOMEM, "rendering the HTML report");
}
