/* report.c — builds the JSON report (report_version 1, docs/report.md) with jansson.
 * Every jansson constructor may return NULL on allocation failure; the *_new setters
 * tolerate a NULL value and report failure, so building stays linear and errors surface
 * once at the end through a single check. */
#include "fp/fp_report.h"

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

static json_t *column_obj(const fp_column_profile *c, uint64_t rows) {
  json_t *o = json_object();
  json_object_set_new(o, "index", json_integer(c->index));
  json_object_set_new(o, "name", json_string(c->name ? c->name : ""));
  json_object_set_new(o, "type", json_string(fp_type_name(c->type)));
  json_object_set_new(o, "count", u64(c->count));
  json_object_set_new(o, "missing", u64(c->missing));
  json_object_set_new(o, "missing_pct",
                      json_real(rows ? 100.0 * (double)c->missing / (double)rows : 0.0));
  json_object_set_new(o, "distinct", u64(c->distinct));
  json_object_set_new(o, "distinct_approx", json_boolean(c->distinct_approx));
  json_object_set_new(o, "min", str_or_null(c->min));
  json_object_set_new(o, "max", str_or_null(c->max));
  json_object_set_new(o, "mean", c->has_mean ? real_or_null(c->mean) : json_null());
  json_object_set_new(o, "stddev", c->has_mean ? real_or_null(c->stddev) : json_null());
  json_t *top = json_array();
  for (size_t i = 0; i < c->ntop; i++) {
    json_t *t = json_object();
    json_object_set_new(t, "value", json_string(c->top[i].value ? c->top[i].value : ""));
    json_object_set_new(t, "count", u64(c->top[i].count));
    json_array_append_new(top, t);
  }
  json_object_set_new(o, "top", top);
  json_object_set_new(o, "top_approx", json_boolean(c->top_approx));
  json_t *len = json_object();
  json_object_set_new(len, "min", json_integer(c->min_len));
  json_object_set_new(len, "max", json_integer(c->max_len));
  json_object_set_new(len, "mean", real_or_null(c->mean_len));
  json_object_set_new(o, "length", len);
  if (c->hist.present) {
    const fp_column_histogram *h = &c->hist;
    json_t *ho = json_object(), *counts = json_array(), *q = json_object();
    json_object_set_new(ho, "unit", json_string(fp_hist_unit_name(h->unit)));
    json_object_set_new(ho, "lo", real_or_null(h->lo));
    json_object_set_new(ho, "hi", real_or_null(h->hi));
    for (uint32_t i = 0; i < h->nbins; i++) json_array_append_new(counts, u64(h->counts[i]));
    json_object_set_new(ho, "counts", counts);
    json_object_set_new(o, "histogram", ho);
    json_object_set_new(q, "p05", real_or_null(h->p05));
    json_object_set_new(q, "p25", real_or_null(h->p25));
    json_object_set_new(q, "p50", real_or_null(h->p50));
    json_object_set_new(q, "p75", real_or_null(h->p75));
    json_object_set_new(q, "p95", real_or_null(h->p95));
    json_object_set_new(o, "quantiles", q);
  }
  return o;
}

static json_t *samples_arr(const fp_finding_group *g) {
  json_t *a = json_array();
  for (size_t i = 0; i < g->nsamples; i++) {
    const fp_finding_sample *s = &g->samples[i];
    json_t *o = json_object();
    json_object_set_new(o, "row", s->row ? u64(s->row) : json_null());
    json_object_set_new(o, "field", s->field ? json_integer(s->field) : json_null());
    json_object_set_new(o, "cell", str_or_null(s->cell));
    json_object_set_new(o, "note", str_or_null(s->note));
    json_array_append_new(a, o);
  }
  return a;
}

static json_t *findings_obj(const fp_findings *f) {
  json_t *o = json_object(), *by_code = json_object(), *groups = json_array();
  size_t n = fp_findings_count_groups(f);
  for (size_t i = 0; i < n; i++) {
    const fp_finding_group *g = fp_findings_group(f, i);
    json_t *prev = json_object_get(by_code, g->code);
    json_int_t sum = (prev ? json_integer_value(prev) : 0) + (json_int_t)g->count;
    json_object_set_new(by_code, g->code, json_integer(sum));
    json_t *go = json_object();
    json_object_set_new(go, "code", json_string(g->code));
    json_object_set_new(go, "title", json_string(g->message ? g->message : fp_finding_title(g->code)));
    json_object_set_new(go, "severity", json_string(fp_severity_name(g->severity)));
    json_object_set_new(go, "field", g->field ? json_integer(g->field) : json_null());
    json_object_set_new(go, "field_name", str_or_null(g->field_name));
    json_object_set_new(go, "count", u64(g->count));
    json_object_set_new(go, "samples_capped", json_boolean(g->capped));
    json_object_set_new(go, "samples", samples_arr(g));
    json_array_append_new(groups, go);
  }
  json_object_set_new(o, "errors", u64(fp_findings_total(f, FP_SEV_ERROR)));
  json_object_set_new(o, "warnings", u64(fp_findings_total(f, FP_SEV_WARNING)));
  json_object_set_new(o, "infos", u64(fp_findings_total(f, FP_SEV_INFO)));
  json_object_set_new(o, "by_code", by_code);
  json_object_set_new(o, "groups", groups);
  return o;
}

static json_t *table_obj(const fp_table_stats *t) {
  json_t *o = json_object();
  json_object_set_new(o, "bytes", u64(t->bytes));
  json_object_set_new(o, "rows", u64(t->rows));
  json_object_set_new(o, "columns", json_integer(t->columns));
  json_object_set_new(o, "blank_rows", u64(t->blank_rows));
  json_object_set_new(o, "duplicate_rows", u64(t->duplicate_rows));
  json_object_set_new(o, "duplicate_rows_exact", json_boolean(t->duplicate_rows_exact));
  json_object_set_new(o, "rows_too_many_cells", u64(t->rows_too_many));
  json_object_set_new(o, "rows_too_few_cells", u64(t->rows_too_few));
  json_object_set_new(o, "encoding_errors", u64(t->encoding_errors));
  return o;
}

static json_t *source_obj(const fp_report_input *in) {
  json_t *o = json_object();
  json_object_set_new(o, "bucket", str_or_null(in->bucket));
  json_object_set_new(o, "key", str_or_null(in->key));
  json_object_set_new(o, "version_id", str_or_null(in->version_id));
  json_object_set_new(o, "etag", str_or_null(in->etag));
  json_object_set_new(o, "sequencer", str_or_null(in->sequencer));
  json_object_set_new(o, "event_time", str_or_null(in->event_time));
  json_object_set_new(o, "size", in->size >= 0 ? json_integer(in->size) : json_null());
  json_object_set_new(o, "location", str_or_null(in->location));
  json_object_set_new(o, "backend", str_or_null(in->backend));
  json_object_set_new(o, "compression", json_string(in->compression ? in->compression : "none"));
  return o;
}

static json_t *dialect_obj(const fp_csv_dialect *dl, bool sniffed) {
  json_t *o = json_object();
  if (!dl) return o;
  json_object_set_new(o, "delimiter", char_or_null(dl->delimiter));
  json_object_set_new(o, "quoteChar", char_or_null(dl->quote_char));
  json_object_set_new(o, "doubleQuote", json_boolean(dl->double_quote));
  json_object_set_new(o, "escapeChar", char_or_null(dl->escape_char));
  json_object_set_new(o, "header", json_boolean(dl->header));
  json_object_set_new(o, "skipInitialSpace", json_boolean(dl->skip_initial_space));
  json_object_set_new(o, "sniffed", json_boolean(sniffed));
  return o;
}

static json_t *timings_obj(const fp_report_input *in, uint64_t bytes) {
  json_t *o = json_object();
  json_object_set_new(o, "started_at", str_or_null(in->started_at));
  json_object_set_new(o, "finished_at", str_or_null(in->finished_at));
  json_object_set_new(o, "duration_ms", json_real(in->duration_ms));
  double mbps = in->duration_ms > 0 ? (double)bytes / 1e6 / (in->duration_ms / 1000.0) : 0.0;
  json_object_set_new(o, "mb_per_s", real_or_null(mbps));
  return o;
}

static json_t *contract_obj(const fp_report_input *in) {
  if (!in->contract) return json_null();
  json_t *o = json_object();
  json_object_set_new(o, "name", json_string(in->contract));
  json_object_set_new(o, "path", str_or_null(in->contract_path));
  json_object_set_new(o, "rows_with_errors", u64(in->rows_with_errors));
  return o;
}

static json_t *report_obj(const fp_report_input *in) {
  const fp_table_stats *t = fp_profiler_table(in->profiler);
  json_t *o = json_object();
  json_object_set_new(o, "report_version", json_integer(FP_REPORT_VERSION));
  json_object_set_new(o, "job", json_string(in->job_name ? in->job_name : "s3_data_quality_job"));
  json_object_set_new(o, "verdict", json_string(fp_verdict_name(in->verdict)));
  json_object_set_new(o, "source", source_obj(in));
  json_object_set_new(o, "contract", contract_obj(in));
  json_object_set_new(o, "dialect", dialect_obj(in->dialect, in->dialect_sniffed));
  json_object_set_new(o, "timings", timings_obj(in, t->bytes));
  json_object_set_new(o, "table", table_obj(t));
  json_t *cols = json_array();
  for (size_t i = 0; i < fp_profiler_ncolumns(in->profiler); i++)
    json_array_append_new(cols, column_obj(fp_profiler_column(in->profiler, i), t->rows));
  json_object_set_new(o, "columns", cols);
  json_object_set_new(o, "findings", findings_obj(in->findings));
  json_t *drift = json_null();
  if (in->drift_baseline_id > 0) {
    drift = json_object();
    json_object_set_new(drift, "baseline_run_id", json_integer(in->drift_baseline_id));
    json_object_set_new(drift, "baseline_key", str_or_null(in->drift_baseline_key));
    json_object_set_new(drift, "baseline_finished_at", str_or_null(in->drift_baseline_finished_at));
  }
  json_object_set_new(o, "drift", drift);
  return o;
}

/* Serialises and frees obj; NULL obj (allocation failure) maps to FP_ERR_NOMEM. */
static fp_err dump(json_t *obj, int indent, char **out, fp_diag *d, const char *what) {
  size_t flags = JSON_ENSURE_ASCII * 0 | (indent ? JSON_INDENT(indent) : JSON_COMPACT) | JSON_REAL_PRECISION(15);
  char *s = obj ? json_dumps(obj, flags) : NULL;
  json_decref(obj);
  if (!s) return fp_diag_set(d, FP_ERR_NOMEM, "rendering %s", what);
  *out = s;
  return FP_OK;
}

fp_err fp_report_render(const fp_report_input *in, int indent, char **json, fp_diag *d) {
  return dump(report_obj(in), indent, json, d, "report");
}

fp_err fp_report_column_json(const fp_column_profile *c, uint64_t rows, char **json, fp_diag *d) {
  return dump(column_obj(c, rows), 0, json, d, "column profile");
}

fp_err fp_report_samples_json(const fp_finding_group *g, char **json, fp_diag *d) {
  return dump(samples_arr(g), 0, json, d, "finding samples");
}
