/* jobs_int.h — private glue between the pipeline and the job front-ends. */
#ifndef FP_JOBS_INT_H
#define FP_JOBS_INT_H

#include "fp/fp_job.h"
#include "fp/fp_stream.h"

/* A byte source: pushes the object's stored bytes into sink. */
typedef fp_err (*fp__source_fn)(void *ud, fp_sink_fn sink, void *sink_ud, fp_diag *d);

/* Runs the pipeline over src; ri carries the source description in and is completed with
 * the results before fp__job_finish renders and stores them. */
fp_err fp__pipeline_run(const fp_job_opts *o, fp__source_fn src, void *src_ud,
                        fp_compression hint, fp_report_input *ri, fp_job_result *out,
                        fp_diag *d);

/* Renders the report and summary into out and saves the run unless dry-run. */
fp_err fp__job_finish(const fp_job_opts *o, const fp_report_input *ri, fp_job_result *out,
                      fp_diag *d);

/* Writes html to <dir>/<bucket>/<key>.report.html, creating directories (0755) on the
 * way; atomic (temp file + rename). FP_ERR_INVAL when bucket or key would leave dir (an
 * empty, "." or ".." component, a '/' in the bucket); symlinks below dir are not
 * followed. FP_ERR_IO for file system failures. */
fp_err fp__report_html_write(const char *dir, const char *bucket, const char *key,
                             const char *html, fp_diag *d);

/* The idempotency part of the object's identity (version_id | etag | sequencer | ""), as
 * fp_runs.object_version stores it. Borrowed from ri. */
const char *fp__object_version(const fp_report_input *ri);

/* What the drift step found out; strings owned, free with fp__drift_result_free. */
typedef struct fp__drift_result {
  char *baseline_key, *baseline_finished_at;
} fp__drift_result;

/* Drift between deliveries (drift_step.c): when a results store is open, finds the
 * dataset's baseline run and adds drift findings for the finished profile to findings;
 * fills ri->drift_* (pointing into r) when there was a baseline. contract may be NULL. A
 * baseline report that cannot be read is logged and skipped; store errors are returned. */
fp_err fp__drift_step(const fp_job_opts *o, const fp_contract *contract, fp_report_input *ri,
                      const fp_profiler *prof, fp_findings *findings, fp__drift_result *r,
                      fp_diag *d);
void fp__drift_result_free(fp__drift_result *r);

#endif
