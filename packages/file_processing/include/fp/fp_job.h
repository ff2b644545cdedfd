/* fp_job.h — the s3_data_quality_job and the ad-hoc profile, as library calls.
 *
 * One pipeline for every entry point: a byte source (object store, file, stdin) pushes
 * into an optional decompressor (gzip/zstd chosen by extension or magic bytes), then the
 * CSV reader, then the profiler and, when a dataset contract applies, the checker; with a
 * results store, drift against the dataset's baseline run is added (fp_drift.h); the
 * report is rendered, published (S3 upload, HTML directory) and, unless dry-run, the run
 * is saved in the results DB last (replacing an earlier run of the same object version). Memory
 * is bounded by the options, never by the object's size. Nothing here prints: the caller
 * gets a JSON report and a short human summary to show as it likes. */
#ifndef FP_JOB_H
#define FP_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "fp/fp_contract.h"
#include "fp/fp_csv.h"
#include "fp/fp_err.h"
#include "fp/fp_event.h"
#include "fp/fp_objstore.h"
#include "fp/fp_profile.h"
#include "fp/fp_report.h"
#include "fp/fp_store.h"

#define FP_JOB_S3_DATA_QUALITY "s3_data_quality_job"

typedef struct fp_job_opts {
  fp_objstore *objstore; /* borrowed; required by fp_job_run_object */
  fp_store *store;       /* borrowed; NULL = dry run (nothing written) */
  fp_csv_opts csv;       /* dialect/sniff/limits; on_record is ignored */
  fp_profile_opts profile;
  size_t sample_cap;     /* findings samples per (code, field); 0 = 100 */
  const fp_contract *contract; /* borrowed; NULL = look one up by key in contracts_dir */
  const char *contracts_dir;   /* NULL = no lookup (profile without --contract) */
  fp_checker_opts checker;
  fp_objstore *report_store;  /* borrowed; with report_s3_uri, the report is also uploaded */
  const char *report_s3_uri;  /* "s3://bucket/prefix/": key = prefix + source key + ".report.json";
                                 the HTML report goes next to it as ".report.html" */
  const char *infer_name; /* non-NULL: also draft a contract with this name (`infer`) */
  const char *infer_key;  /* match glob for the draft; NULL = the source's key/path */
  int report_indent;     /* 0 compact, else pretty-printed */
  bool want_html;        /* also render the report as HTML into fp_job_result.report_html */
  const char *report_html_dir; /* objects: also write <dir>/<bucket>/<key>.report.html */
  /* Called from the byte source with stored bytes read so far and the stored size (-1
   * unknown, e.g. stdin), once per chunk; the caller throttles any drawing. */
  void (*progress)(void *ud, uint64_t done, int64_t total);
  void *progress_ud;
  /* The queue job this run completes (0 = none; the worker sets it): the run is saved and
   * the job marked succeeded in one transaction, after the reports are published, so a
   * stored run always has its job succeeded. FP_ERR_NOT_FOUND when the lease was lost. */
  int64_t job_id;
  const char *job_owner; /* borrowed; the lease owner */
} fp_job_opts;

/* Fills defaults: sniffed dialect, default CSV limits and profile options, indent 2. */
void fp_job_opts_default(fp_job_opts *o);

typedef struct fp_job_result {
  fp_verdict verdict;
  char *report_json;  /* owned */
  char *summary;      /* owned: a few human lines (what, size, verdict, top findings) */
  char *contract_draft; /* owned: YAML drafted when opts.infer_name was set, else NULL */
  int64_t run_id;     /* -1 when not saved (dry run) */
  char *report_uri;   /* owned: where the report was uploaded, NULL when not */
  char *report_html;  /* owned: the HTML report when opts.want_html, report_html_dir or
                         report_s3_uri asked for it, else NULL (fp_report_html.h) */
  uint64_t rows, bytes, errors, warnings;
  uint32_t columns;
  double duration_ms;
} fp_job_result;

void fp_job_result_free(fp_job_result *r); /* frees members, zeroes; NULL-safe */

/* The s3_data_quality_job for one object. FP_OK means the data was analysed (whatever the
 * verdict); errors mean it could not be (missing object, unreadable CSV, DB down, ...). */
fp_err fp_job_run_object(const fp_job_opts *o, const fp_object_ref *ref, fp_job_result *out,
                         fp_diag *d);
/* Profiles a local file, or standard input for "-" (the `profile` command). */
fp_err fp_job_profile_path(const fp_job_opts *o, const char *path, fp_job_result *out,
                           fp_diag *d);

/* Splits "s3://bucket/prefix" into bucket and prefix (prefix may be ""; a missing trailing
 * '/' is added). FP_ERR_CONFIG naming the URI when it is not of that form. */
fp_err fp_s3_uri_parse(const char *uri, char *bucket, size_t bsz, char *prefix, size_t psz,
                       fp_diag *d);

/* Streams a file ("-" = stdin) to sink in 1 MiB chunks, decompressing .gz/.zst (by
 * extension or magic bytes). Used by `profile` and `rows`. */
fp_err fp_source_path(const char *path, fp_sink_fn sink, void *ud, fp_diag *d);

#endif
