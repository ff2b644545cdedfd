/* fp_drift.h — what changed since the last delivery of a dataset.
 *
 * Compares a finished profile of a new delivery with the stored report of an earlier one
 * (the baseline the results DB picked: fp_store_find_baseline) and records ordinary
 * findings in the run's collector, one per column and kind, each naming the column and
 * saying old -> new:
 *   schema-drift        columns added, removed, renamed (same profile under a new name),
 *                       reordered; a column's inferred type changed
 *   volume-drift        the row count changed by more than a fraction
 *   missing-drift       a column's share of missing values moved by more than a fraction
 *   distribution-drift  a numeric/date column's distribution moved (Kolmogorov-Smirnov
 *                       distance between the two histograms), or its distinct count changed
 *   category-drift      values the baseline never had make up more than a share of a
 *                       categorical column (baseline with at most FP_TOPK distinct values)
 * Severity per kind defaults to warning; a contract's `drift:` section (docs/contracts.md)
 * sets severities and thresholds. Nothing here touches the store: the caller fetches the
 * baseline report. */
#ifndef FP_DRIFT_H
#define FP_DRIFT_H

#include <stdbool.h>

#include "fp/fp_err.h"
#include "fp/fp_findings.h"
#include "fp/fp_profile.h"

typedef enum fp_drift_kind {
  FP_DRIFT_SCHEMA = 0,
  FP_DRIFT_VOLUME,
  FP_DRIFT_MISSING,
  FP_DRIFT_DISTRIBUTION,
  FP_DRIFT_CATEGORY,
  FP_DRIFT__COUNT
} fp_drift_kind;

/* "schema-drift", "volume-drift", ...; borrowed static. */
const char *fp_drift_code(fp_drift_kind k);
/* "schema", "volume", ... (the keys of a contract's drift section); borrowed static. */
const char *fp_drift_kind_name(fp_drift_kind k);

typedef struct fp_drift_rule {
  bool ignore;          /* do not check this kind */
  fp_severity severity; /* default FP_SEV_WARNING */
  /* thresholds (a finding needs the value to be exceeded):
   *   volume:       max_change = |new - old| / old rows                 (default 0.2)
   *   missing:      max_change = |new - old| missing fraction           (default 0.05)
   *   distribution: max_change = KS distance 0..1                       (default 0.2)
   *                 max_distinct_change = relative distinct-count change (default 0.5)
   *   category:     max_change = share of values new to the column      (default 0.05) */
  double max_change;
  double max_distinct_change;
} fp_drift_rule;

typedef struct fp_drift_opts {
  fp_drift_rule rule[FP_DRIFT__COUNT];
} fp_drift_opts;

void fp_drift_opts_default(fp_drift_opts *o);

/* Adds the drift findings of the finished profile p against baseline_report (the JSON text
 * of a stored report, borrowed) to f. o NULL = defaults. A baseline report that is not a
 * report (unparsable, no columns) is FP_ERR_PARSE and adds nothing. *nfound (may be NULL)
 * = findings added. */
fp_err fp_drift_compare(const fp_profiler *p, const char *baseline_report, const fp_drift_opts *o,
                        fp_findings *f, size_t *nfound, fp_diag *d);

#endif
