/* dq_job.c — the s3_data_quality_job: object ref in, report + stored run out. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp/fp_buf.h"
#include "fp/fp_job.h"
#include "fp/fp_log.h"
#include "fp/fp_report_html.h"
#include "jobs/jobs_int.h"

/* The idempotency part of an object's identity: the most specific version we were told. */
const char *fp__object_version(const fp_report_input *ri) {
  if (ri->version_id && *ri->version_id) return ri->version_id;
  if (ri->etag && *ri->etag) return ri->etag;
  if (ri->sequencer && *ri->sequencer) return ri->sequencer;
  return "";
}

typedef struct store_rows {
  fp_store_column *cols;
  char **col_json;
  size_t ncols;
  fp_store_finding *finds;
  char **samples_json;
  size_t nfinds;
} store_rows;

static void store_rows_free(store_rows *s) {
  for (size_t i = 0; i < s->ncols; i++) free(s->col_json ? s->col_json[i] : NULL);
  for (size_t i = 0; i < s->nfinds; i++) free(s->samples_json ? s->samples_json[i] : NULL);
  free(s->cols);
  free(s->col_json);
  free(s->finds);
  free(s->samples_json);
}

static fp_err map_columns(const fp_report_input *ri, store_rows *s, fp_diag *d) {
  size_t n = fp_profiler_ncolumns(ri->profiler);
  uint64_t rows = fp_profiler_table(ri->profiler)->rows;
  s->cols = calloc(n ? n : 1, sizeof *s->cols);
  s->col_json = calloc(n ? n : 1, sizeof *s->col_json);
  if (!s->cols || !s->col_json) return fp_diag_set(d, FP_ERR_NOMEM, "column rows");
  for (size_t i = 0; i < n; i++, s->ncols++) {
    const fp_column_profile *c = fp_profiler_column(ri->profiler, i);
    fp_err e = fp_report_column_json(c, rows, &s->col_json[i], d);
    if (e) return e;
    s->cols[i] = (fp_store_column){
        .index = c->index, .name = c->name, .type = fp_type_name(c->type),
        .count = c->count, .missing = c->missing, .distinct = c->distinct,
        .distinct_approx = c->distinct_approx, .min = c->min, .max = c->max,
        .has_mean = c->has_mean, .mean = c->mean, .stddev = c->stddev,
        .profile_json = s->col_json[i]};
  }
  return FP_OK;
}

static fp_err map_findings(const fp_report_input *ri, store_rows *s, fp_diag *d) {
  size_t n = fp_findings_count_groups(ri->findings);
  s->finds = calloc(n ? n : 1, sizeof *s->finds);
  s->samples_json = calloc(n ? n : 1, sizeof *s->samples_json);
  if (!s->finds || !s->samples_json) return fp_diag_set(d, FP_ERR_NOMEM, "finding rows");
  for (size_t i = 0; i < n; i++, s->nfinds++) {
    const fp_finding_group *g = fp_findings_group(ri->findings, i);
    fp_err e = fp_report_samples_json(g, &s->samples_json[i], d);
    if (e) return e;
    s->finds[i] = (fp_store_finding){
        .code = g->code, .severity = fp_severity_name(g->severity), .field = g->field,
        .field_name = g->field_name, .count = g->count, .nsamples = g->nsamples,
        .capped = g->capped, .samples_json = s->samples_json[i]};
  }
  return FP_OK;
}

static fp_err save_run(const fp_job_opts *o, const fp_report_input *ri, fp_job_result *out,
                       fp_diag *d) {
  const fp_table_stats *t = fp_profiler_table(ri->profiler);
  store_rows s = {0};
  fp_err e = map_columns(ri, &s, d);
  if (!e) e = map_findings(ri, &s, d);
  if (!e) {
    fp_store_run run = {
        .bucket = ri->bucket ? ri->bucket : "", .key = ri->key ? ri->key : "",
        .object_version = fp__object_version(ri), .version_id = ri->version_id,
        .etag = ri->etag, .size = ri->size, .event_time = ri->event_time,
        .job_name = ri->job_name, .contract = ri->contract,
        .verdict = fp_verdict_name(ri->verdict), .rows = t->rows, .bytes = t->bytes,
        .columns = t->columns, .errors = out->errors, .warnings = out->warnings,
        .started_at = ri->started_at, .finished_at = ri->finished_at,
        .duration_ms = ri->duration_ms, .report_json = out->report_json,
        .cols = s.cols, .ncols = s.ncols, .findings = s.finds, .nfindings = s.nfinds,
        .job_id = o->job_id, .job_owner = o->job_owner};
    e = fp_store_save_run(o->store, &run, &out->run_id, d);
  }
  store_rows_free(&s);
  return e;
}

static void human_size(uint64_t b, char *out, size_t n) {
  if (b >= 10ull << 30) snprintf(out, n, "%.1f GiB", (double)b / (1ull << 30));
  else if (b >= 10ull << 20) snprintf(out, n, "%.1f MiB", (double)b / (1ull << 20));
  else if (b >= 10ull << 10) snprintf(out, n, "%.1f KiB", (double)b / (1ull << 10));
  else snprintf(out, n, "%" PRIu64 " bytes", b);
}

static fp_err build_summary(const fp_report_input *ri, fp_job_result *out, fp_diag *d) {
  const fp_table_stats *t = fp_profiler_table(ri->profiler);
  fp_buf b;
  fp_buf_init(&b, 64 * 1024);
  char size[32];
  human_size(t->bytes, size, sizeof size);
  double secs = ri->duration_ms / 1000.0;
  int bad = 0;
  if (ri->bucket && *ri->bucket)
    bad |= fp_buf_appendf(&b, "%s: s3://%s/%s\n", ri->job_name, ri->bucket, ri->key) != FP_OK;
  else
    bad |= fp_buf_appendf(&b, "%s: %s\n", ri->job_name, ri->location ? ri->location : "-") != FP_OK;
  bad |= fp_buf_appendf(&b, "  %" PRIu64 " rows x %u columns, %s in %.2f s (%.1f MB/s)\n",
                      t->rows, t->columns, size, secs,
                      secs > 0 ? (double)t->bytes / 1e6 / secs : 0.0) != FP_OK;
  bad |= fp_buf_appendf(&b, "  verdict: %s (%" PRIu64 " errors, %" PRIu64 " warnings)\n",
                      fp_verdict_name(ri->verdict), out->errors, out->warnings) != FP_OK;
  if (ri->drift_baseline_id > 0)
    bad |= fp_buf_appendf(&b, "  drift: compared with run %lld (%s, finished %s)\n",
                          (long long)ri->drift_baseline_id,
                          ri->drift_baseline_key ? ri->drift_baseline_key : "?",
                          ri->drift_baseline_finished_at ? ri->drift_baseline_finished_at : "?") != FP_OK;
  size_t n = fp_findings_count_groups(ri->findings);
  for (size_t i = 0; i < n && i < 12; i++) {
    const fp_finding_group *g = fp_findings_group(ri->findings, i);
    const fp_finding_sample *s = g->nsamples ? &g->samples[0] : NULL;
    bad |= fp_buf_appendf(&b, "    %-8s %-18s %8" PRIu64 "  %s%s%s", fp_severity_name(g->severity),
                        g->code, g->count, g->field_name ? "field '" : "",
                        g->field_name ? g->field_name : "", g->field_name ? "'" : "") != FP_OK;
    bool lead = g->field_name != NULL;
    if (s && s->row) {
      bad |= fp_buf_appendf(&b, "%sfirst at row %" PRIu64, lead ? " " : "", s->row) != FP_OK;
      lead = true;
    }
    if (s && s->note) bad |= fp_buf_appendf(&b, "%s%s", lead ? ": " : "", s->note) != FP_OK;
    bad |= fp_buf_putc(&b, '\n') != FP_OK;
  }
  if (n > 12) bad |= fp_buf_appendf(&b, "    ... and %zu more finding groups (see the report)\n", n - 12) != FP_OK;
  if (bad) {
    fp_buf_free(&b);
    return fp_diag_set(d, FP_ERR_NOMEM, "building summary");
  }
  out->summary = fp_buf_take(&b);
  return out->summary ? FP_OK : fp_diag_set(d, FP_ERR_NOMEM, "building summary");
}

fp_err fp_s3_uri_parse(const char *uri, char *bucket, size_t bsz, char *prefix, size_t psz,
                       fp_diag *d) {
  const char *b = strncmp(uri, "s3://", 5) == 0 ? uri + 5 : NULL;
  size_t blen = b ? strcspn(b, "/") : 0;
  if (!b || blen == 0 || blen >= bsz)
    return fp_diag_set(d, FP_ERR_CONFIG, "'%s' is not an S3 URI of the form s3://bucket/prefix/", uri);
  const char *rest = b[blen] == '/' ? b + blen + 1 : b + blen;
  size_t rlen = strlen(rest);
  int n = snprintf(prefix, psz, "%s%s", rest, rlen && rest[rlen - 1] != '/' ? "/" : "");
  if (n < 0 || (size_t)n >= psz) return fp_diag_set(d, FP_ERR_CONFIG, "S3 URI prefix too long: %s", uri);
  memcpy(bucket, b, blen);
  bucket[blen] = '\0';
  return FP_OK;
}

/* Uploads the report next to the other reports: <prefix><source key>.report.json. */
static fp_err upload_report(const fp_job_opts *o, const char *src_key, fp_job_result *out,
                            fp_diag *d) {
  char bucket[256], prefix[1024];
  fp_err e = fp_s3_uri_parse(o->report_s3_uri, bucket, sizeof bucket, prefix, sizeof prefix, d);
  if (e) return e;
  fp_buf key;
  fp_buf_init(&key, 4096);
  if (fp_buf_appendf(&key, "%s%s.report.json", prefix, src_key) != FP_OK) {
    fp_buf_free(&key);
    return fp_diag_set(d, FP_ERR_LIMIT, "report key too long for %s", src_key);
  }
  e = fp_objstore_put(o->report_store, bucket, key.data, out->report_json,
                      strlen(out->report_json), "application/json", d);
  if (!e && out->report_html) { /* the same key with .html in place of .json */
    memcpy(key.data + key.len - 4, "html", 4);
    e = fp_objstore_put(o->report_store, bucket, key.data, out->report_html,
                        strlen(out->report_html), "text/html; charset=utf-8", d);
    if (!e) fp_info("HTML report uploaded to s3://%s/%s", bucket, key.data);
    memcpy(key.data + key.len - 4, "json", 4);
  }
  if (!e) {
    fp_buf uri;
    fp_buf_init(&uri, 0);
    if (fp_buf_appendf(&uri, "s3://%s/%s", bucket, key.data) == FP_OK) out->report_uri = fp_buf_take(&uri);
    fp_buf_free(&uri);
    fp_info("report uploaded to s3://%s/%s", bucket, key.data);
  }
  fp_buf_free(&key);
  return e;
}

/* Objects only (files keep their report local): uploads the reports and writes the HTML
 * directory copy. Both overwrite, so a retried job publishes again harmlessly. */
static fp_err publish(const fp_job_opts *o, const fp_report_input *ri, fp_job_result *out,
                      fp_diag *d) {
  if (!ri->bucket || !ri->key) return FP_OK;
  fp_err e = FP_OK;
  if (o->report_store && o->report_s3_uri) e = upload_report(o, ri->key, out, d);
  if (!e && o->report_html_dir)
    e = fp__report_html_write(o->report_html_dir, ri->bucket, ri->key, out->report_html, d);
  return e;
}

fp_err fp__job_finish(const fp_job_opts *o, const fp_report_input *ri, fp_job_result *out,
                      fp_diag *d) {
  const fp_table_stats *t = fp_profiler_table(ri->profiler);
  out->verdict = ri->verdict;
  out->rows = t->rows;
  out->bytes = t->bytes;
  out->columns = t->columns;
  out->errors = fp_findings_total(ri->findings, FP_SEV_ERROR);
  out->warnings = fp_findings_total(ri->findings, FP_SEV_WARNING);
  out->duration_ms = ri->duration_ms;
  fp_err e = fp_report_render(ri, o->report_indent, &out->report_json, d);
  if (!e && (o->want_html || o->report_html_dir || o->report_s3_uri))
    e = fp_report_html_render(out->report_json, &out->report_html, d);
  if (!e) e = build_summary(ri, out, d);
  if (!e && o->infer_name)
    e = fp_contract_infer(ri->profiler, ri->dialect, o->infer_name,
                          o->infer_key ? o->infer_key : ri->key, &out->contract_draft, d);
  if (!e) e = publish(o, ri, out, d);
  /* last: a stored run means everything before it was done */
  if (!e && o->store) e = save_run(o, ri, out, d);
  return e;
}

typedef struct object_source {
  fp_objstore *store;
  const fp_object_ref *ref;
  fp_object_info info;
  fp_report_input *ri; /* completed with what the store knows (size, etag) */
  fp_sink_fn sink;
  void *sink_ud;
} object_source;

/* The store fills info before the first chunk: take the size then, so the progress
 * callback knows the total while the object streams. */
static fp_err object_chunk(void *ud, const char *buf, size_t n, fp_diag *d) {
  object_source *s = ud;
  if (s->ri->size < 0) s->ri->size = s->info.size;
  return s->sink(s->sink_ud, buf, n, d);
}

static fp_err object_stream(void *ud, fp_sink_fn sink, void *sink_ud, fp_diag *d) {
  object_source *s = ud;
  s->sink = sink;
  s->sink_ud = sink_ud;
  fp_err e = fp_objstore_stream(s->store, s->ref, object_chunk, s, &s->info, d);
  if (s->ri->size < 0) s->ri->size = s->info.size;
  if (!s->ri->etag && s->info.etag[0]) s->ri->etag = s->info.etag;
  return e;
}

fp_err fp_job_run_object(const fp_job_opts *o, const fp_object_ref *ref, fp_job_result *out,
                         fp_diag *d) {
  if (!o->objstore) return fp_diag_set(d, FP_ERR_INVAL, "no object store configured");
  object_source src = {.store = o->objstore, .ref = ref};
  src.info.size = -1;
  fp_report_input ri = {
      .job_name = FP_JOB_S3_DATA_QUALITY, .bucket = ref->bucket, .key = ref->key,
      .version_id = ref->version_id, .etag = ref->etag, .event_time = ref->event_time,
      .sequencer = ref->sequencer, .size = ref->size, .location = src.info.location,
      .backend = fp_objstore_kind(o->objstore)};
  src.ri = &ri;
  fp_info("%s: processing s3://%s/%s%s%s", FP_JOB_S3_DATA_QUALITY, ref->bucket, ref->key,
          ref->version_id ? " version " : "", ref->version_id ? ref->version_id : "");
  fp_err e = fp__pipeline_run(o, object_stream, &src, fp_compression_from_key(ref->key), &ri,
                              out, d);
  if (e) fp_diag_key(d, ref->key);
  return e;
}
