/* fp_report.h — the versioned JSON report of one processed object (docs/report.md).
 *
 * The report is the single source of truth of a run: the results DB stores it whole next
 * to the per-column and per-finding rows derived from the same inputs. */
#ifndef FP_REPORT_H
#define FP_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "fp/fp_csv.h"
#include "fp/fp_err.h"
#include "fp/fp_findings.h"
#include "fp/fp_profile.h"

#define FP_REPORT_VERSION 1

typedef enum fp_verdict { FP_VERDICT_PASSED = 0, FP_VERDICT_WARNED, FP_VERDICT_FAILED } fp_verdict;
const char *fp_verdict_name(fp_verdict v); /* "passed" | "warned" | "failed" */
/* failed when any error-severity finding, warned when any warning, else passed. */
fp_verdict fp_verdict_of(const fp_findings *f);

/* Everything the report shows; all pointers borrowed for the call, NULL where unknown. */
typedef struct fp_report_input {
  const char *job_name;    /* "s3_data_quality_job" or "profile" */
  const char *bucket, *key, *version_id, *etag, *event_time, *sequencer;
  int64_t size;            /* stored bytes, -1 unknown */
  const char *location;    /* resolved path or s3:// URI */
  const char *backend;     /* "local" | "s3" | "file" | "stdin" */
  const char *compression; /* "none" | "gzip" | "zstd" */
  const char *contract;    /* contract name; NULL: none */
  const char *contract_path;
  uint64_t rows_with_errors; /* data rows with at least one contract error */
  const fp_csv_dialect *dialect;
  bool dialect_sniffed;
  const fp_profiler *profiler;
  const fp_findings *findings;
  const char *started_at, *finished_at; /* ISO 8601 UTC */
  double duration_ms;
  fp_verdict verdict;
  /* the run drift was measured against ("drift" in the report); 0 = none: "drift": null */
  int64_t drift_baseline_id;
  const char *drift_baseline_key, *drift_baseline_finished_at;
} fp_report_input;

/* Renders the report; *json owned (free). indent: 0 compact, else spaces per level. */
fp_err fp_report_render(const fp_report_input *in, int indent, char **json, fp_diag *d);
/* One column's profile as a JSON object text (the same shape as in the report); owned. */
fp_err fp_report_column_json(const fp_column_profile *c, uint64_t rows, char **json, fp_diag *d);
/* The samples of one finding group as a JSON array text; owned. */
fp_err fp_report_samples_json(const fp_finding_group *g, char **json, fp_diag *d);

/* Formats now (UTC) as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (>= 32 bytes). */
void fp_now_iso8601(char *out, size_t outsz);

#endif
