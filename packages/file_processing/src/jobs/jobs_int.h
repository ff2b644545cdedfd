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

#endif
