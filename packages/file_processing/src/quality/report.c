/* report.c — builds the JSON report (report_version 1, docs/report.md) with jansson.
 * Every jansson constructor may return NULL on allocation failure; the *_new setters
 * tolerate a NULL value and report failure, so building stays linear and errors surface
 * once at the end through a single check. */
#include "fp/fp_report.h"

#include "fp/fp_buf.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *fp_verdict_name(fp_verdict v) {
  switch (v) {
    case FP_VERDICT_PASSED: return "passed";
    case FP_VERDICT_WARNED: return "warned";
    default: return "failed";
  }
}

fp_verdict fp_verdict_of(const fp_findings *f) {
  if (fp_findings_total(f, FP_SEV_ERROR)) return FP_VERDICT_FAILED;
  if (fp_findings_total(f, FP_SEV_WARNING)) return FP_VERDICT_WARNED;
  return FP_VERDICT_PASSED;
}

void fp_now_iso8601(char *out, size_t outsz) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(out, outsz, "%Y-%m-%dT%H:%M:%S", &tm);
  if (n) snprintf(out + n, outsz - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* NULL-tolerant string: JSON null for NULL. */
static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

/* Finite doubles only: JSON has no NaN/Inf. */
static json_t *real_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *u64(uint64_t v) { return json_integer((json_int_t)v); }

static json_t *char_or_null(char c) {
  char s[2] = {c, '\0'};
  return c ? json_string(s) : json_null();
}

/* Setters that remember a failure: jansson's *_new setters take a NULL value (a constructor
 * that ran out of memory) and return -1, so one flag per report catches every lost member
 * and the report fails as a whole instead of going out with fields silently missing. */
static void oset(bool *bad, json_t *o, const char *k, json_t *v) {
  if (json_object_set_new(o, k, v) != 0) *bad = true;
}

static void aappend(bool *bad, json_t *a, json_t *v) {
  if (json_array_append_new(a, v) != 0) *bad = true;
}

static json_t *column_obj(bool *bad, const fp_column_profile *c, uint64_t rows) {
  json_t *o = json_object();
  oset(bad, o, "index", json_integer(c->index));
  oset(bad, o, "name", json_string(c->name ? c->name : ""));
  oset(bad, o, "type", json_string(fp_type_name(c->type)));
  oset(bad, o, "count", u64(c->count));
  oset(bad, o, "missing", u64(c->missing));
  oset(bad, o, "missing_pct",
                      json_real(rows ? 100.0 * (double)c->missing / (double)rows : 0.0));
  oset(bad, o, "distinct", u64(c->distinct));
  oset(bad, o, "distinct_approx", json_boolean(c->distinct_approx));
  oset(bad, o, "min", str_or_null(c->min));
  oset(bad, o, "max", str_or_null(c->max));
  oset(bad, o, "mean", c->has_mean ? real_or_null(c->mean) : json_null());
  oset(bad, o, "stddev", c->has_mean ? real_or_null(c->stddev) : json_null());
  json_t *top = json_array();
  for (size_t i = 0; i < c->ntop; i++) {
    json_t *t = json_object();
    oset(bad, t, "value", json_string(c->top[i].value ? c->top[i].value : ""));
    oset(bad, t, "count", u64(c->top[i].count));
    aappend(bad, top, t);
  }
  oset(bad, o, "top", top);
  oset(bad, o, "top_approx", json_boolean(c->top_approx));
  json_t *len = json_object();
  oset(bad, len, "min", json_integer(c->min_len));
  oset(bad, len, "max", json_integer(c->max_len));
  oset(bad, len, "mean", real_or_null(c->mean_len));
  oset(bad, o, "length", len);
  if (c->hist.present) {
    const fp_column_histogram *h = &c->hist;
    json_t *ho = json_object(), *counts = json_array(), *q = json_object();
    oset(bad, ho, "unit", json_string(fp_hist_unit_name(h->unit)));
    oset(bad, ho, "lo", real_or_null(h->lo));
    oset(bad, ho, "hi", real_or_null(h->hi));
    for (uint32_t i = 0; i < h->nbins; i++) aappend(bad, counts, u64(h->counts[i]));
    oset(bad, ho, "counts", counts);
    oset(bad, o, "histogram", ho);
    oset(bad, q, "p05", real_or_null(h->p05));
    oset(bad, q, "p25", real_or_null(h->p25));
    oset(bad, q, "p50", real_or_null(h->p50));
    oset(bad, q, "p75", real_or_null(h->p75));
    oset(bad, q, "p95", real_or_null(h->p95));
    oset(bad, o, "quantiles", q);
  }
  return o;
}

static json_t *samples_arr(bool *bad, const fp_finding_group *g) {
  json_t *a = json_array();
  for (size_t i = 0; i < g->nsamples; i++) {
    const fp_finding_sample *s = &g->samples[i];
    json_t *o = json_object();
    oset(bad, o, "row", s->row ? u64(s->row) : json_null());
    oset(bad, o, "field", s->field ? json_integer(s->field) : json_null());
    oset(bad, o, "cell", str_or_null(s->cell));
    oset(bad, o, "note", str_or_null(s->note));
    aappend(bad, a, o);
  }
  return a;
}

static json_t *findings_obj(bool *bad, const fp_findings *f) {
  json_t *o = json_object(), *by_code = json_object(), *groups = json_array();
  size_t n = fp_findings_count_groups(f);
  for (size_t i = 0; i < n; i++) {
    const fp_finding_group *g = fp_findings_group(f, i);
    json_t *prev = json_object_get(by_code, g->code);
    json_int_t sum = (prev ? json_integer_value(prev) : 0) + (json_int_t)g->count;
    oset(bad, by_code, g->code, json_integer(sum));
    json_t *go = json_object();
    oset(bad, go, "code", json_string(g->code));
    oset(bad, go, "title", json_string(g->message ? g->message : fp_finding_title(g->code)));
    oset(bad, go, "severity", json_string(fp_severity_name(g->severity)));
    oset(bad, go, "field", g->field ? json_integer(g->field) : json_null());
    oset(bad, go, "field_name", str_or_null(g->field_name));
    oset(bad, go, "count", u64(g->count));
    oset(bad, go, "samples_capped", json_boolean(g->capped));
    oset(bad, go, "samples", samples_arr(bad, g));
    aappend(bad, groups, go);
  }
  oset(bad, o, "errors", u64(fp_findings_total(f, FP_SEV_ERROR)));
  oset(bad, o, "warnings", u64(fp_findings_total(f, FP_SEV_WARNING)));
  oset(bad, o, "infos", u64(fp_findings_total(f, FP_SEV_INFO)));
  oset(bad, o, "by_code", by_code);
  oset(bad, o, "groups", groups);
  return o;
}

static json_t *table_obj(bool *bad, const fp_table_stats *t) {
  json_t *o = json_object();
  oset(bad, o, "bytes", u64(t->bytes));
  oset(bad, o, "rows", u64(t->rows));
  oset(bad, o, "columns", json_integer(t->columns));
  oset(bad, o, "blank_rows", u64(t->blank_rows));
  oset(bad, o, "duplicate_rows", u64(t->duplicate_rows));
  oset(bad, o, "duplicate_rows_exact", json_boolean(t->duplicate_rows_exact));
  oset(bad, o, "rows_too_many_cells", u64(t->rows_too_many));
  oset(bad, o, "rows_too_few_cells", u64(t->rows_too_few));
  oset(bad, o, "encoding_errors", u64(t->encoding_errors));
  return o;
}

static json_t *source_obj(bool *bad, const fp_report_input *in) {
  json_t *o = json_object();
  oset(bad, o, "bucket", str_or_null(in->bucket));
  oset(bad, o, "key", str_or_null(in->key));
  oset(bad, o, "version_id", str_or_null(in->version_id));
  oset(bad, o, "etag", str_or_null(in->etag));
  oset(bad, o, "sequencer", str_or_null(in->sequencer));
  oset(bad, o, "event_time", str_or_null(in->event_time));
  oset(bad, o, "size", in->size >= 0 ? json_integer(in->size) : json_null());
  oset(bad, o, "location", str_or_null(in->location));
  oset(bad, o, "backend", str_or_null(in->backend));
  oset(bad, o, "compression", json_string(in->compression ? in->compression : "none"));
  return o;
}

static json_t *dialect_obj(bool *bad, const fp_csv_dialect *dl, bool sniffed) {
  json_t *o = json_object();
  if (!dl) return o;
  oset(bad, o, "delimiter", char_or_null(dl->delimiter));
  oset(bad, o, "quoteChar", char_or_null(dl->quote_char));
  oset(bad, o, "doubleQuote", json_boolean(dl->double_quote));
  oset(bad, o, "escapeChar", char_or_null(dl->escape_char));
  oset(bad, o, "header", json_boolean(dl->header));
  oset(bad, o, "skipInitialSpace", json_boolean(dl->skip_initial_space));
  oset(bad, o, "sniffed", json_boolean(sniffed));
  return o;
}

static json_t *timings_obj(bool *bad, const fp_report_input *in, uint64_t bytes) {
  json_t *o = json_object();
  oset(bad, o, "started_at", str_or_null(in->started_at));
  oset(bad, o, "finished_at", str_or_null(in->finished_at));
  oset(bad, o, "duration_ms", json_real(in->duration_ms));
  double mbps = in->duration_ms > 0 ? (double)bytes / 1e6 / (in->duration_ms / 1000.0) : 0.0;
  oset(bad, o, "mb_per_s", real_or_null(mbps));
  return o;
}

static json_t *contract_obj(bool *bad, const fp_report_input *in) {
  if (!in->contract) return json_null();
  json_t *o = json_object();
  oset(bad, o, "name", json_string(in->contract));
  oset(bad, o, "path", str_or_null(in->contract_path));
  oset(bad, o, "rows_with_errors", u64(in->rows_with_errors));
  return o;
}

static json_t *report_obj(bool *bad, const fp_report_input *in) {
  const fp_table_stats *t = fp_profiler_table(in->profiler);
  json_t *o = json_object();
  oset(bad, o, "report_version", json_integer(FP_REPORT_VERSION));
  oset(bad, o, "job", json_string(in->job_name ? in->job_name : "s3_data_quality_job"));
  oset(bad, o, "verdict", json_string(fp_verdict_name(in->verdict)));
  oset(bad, o, "source", source_obj(bad, in));
  oset(bad, o, "contract", contract_obj(bad, in));
  oset(bad, o, "dialect", dialect_obj(bad, in->dialect, in->dialect_sniffed));
  oset(bad, o, "timings", timings_obj(bad, in, t->bytes));
  oset(bad, o, "table", table_obj(bad, t));
  json_t *cols = json_array();
  for (size_t i = 0; i < fp_profiler_ncolumns(in->profiler); i++)
    aappend(bad, cols, column_obj(bad, fp_profiler_column(in->profiler, i), t->rows));
  oset(bad, o, "columns", cols);
  oset(bad, o, "findings", findings_obj(bad, in->findings));
  json_t *drift = json_null();
  if (in->drift_baseline_id > 0) {
    drift = json_object();
    oset(bad, drift, "baseline_run_id", json_integer(in->drift_baseline_id));
    oset(bad, drift, "baseline_key", str_or_null(in->drift_baseline_key));
    oset(bad, drift, "baseline_finished_at", str_or_null(in->drift_baseline_finished_at));
  }
  oset(bad, o, "drift", drift);
  return o;
}

/* json_dumps is not used: jansson 2.14 ignores a failed write of an object key (dump.c
 * drops dump_string's result), so an allocation failure in its buffer yields text like
 * {"": 1, ...} that looks like a report. Our sink remembers any failed write instead. */
typedef struct dump_sink {
  fp_buf b;
  bool failed;
} dump_sink;

static int dump_write(const char *p, size_t n, void *ud) {
  dump_sink *s = ud;
  if (!s->failed && fp_buf_append(&s->b, p, n) != FP_OK) s->failed = true;
  return s->failed ? -1 : 0;
}

/* Serialises and frees obj; NULL obj or a lost member (allocation failure) maps to
 * FP_ERR_NOMEM. */
static fp_err dump(json_t *obj, bool bad, int indent, char **out, fp_diag *d, const char *what) {
  size_t flags = JSON_ENSURE_ASCII * 0 | (indent ? JSON_INDENT(indent) : JSON_COMPACT) | JSON_REAL_PRECISION(15);
  dump_sink s = {.failed = bad || !obj};
  fp_buf_init(&s.b, 0);
  if (!s.failed && json_dump_callback(obj, dump_write, &s, flags) != 0) s.failed = true;
  json_decref(obj);
  char *text = s.failed ? NULL : fp_buf_take(&s.b);
  fp_buf_free(&s.b);
  if (!text) return fp_diag_set(d, FP_ERR_NOMEM, "rendering %s", what);
  *out = text;
  return FP_OK;
}

fp_err fp_report_render(const fp_report_input *in, int indent, char **json, fp_diag *d) {
  bool bad = false;
  json_t *o = report_obj(&bad, in);
  return dump(o, bad, indent, json, d, "report");
}

fp_err fp_report_column_json(const fp_column_profile *c, uint64_t rows, char **json, fp_diag *d) {
  bool bad = false;
  json_t *o = column_obj(&bad, c, rows);
  return dump(o, bad, 0, json, d, "column profile");
}

fp_err fp_report_samples_json(const fp_finding_group *g, char **json, fp_diag *d) {
  bool bad = false;
  json_t *o = samples_arr(&bad, g);
  return dump(o, bad, 0, json, d, "finding samples");
}
