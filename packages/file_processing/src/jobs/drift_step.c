/* drift_step.c — the pipeline's drift step: which earlier delivery to compare with (the
 * store decides: fp_store_find_baseline) and the comparison itself (fp_drift_compare).
 * Runs only with a results store, after the contract checks and before the verdict, so
 * its findings count like any other. */
#include <stdlib.h>
#include <string.h>

#include "fp/fp_drift.h"
#include "fp/fp_log.h"
#include "jobs/jobs_int.h"

void fp__drift_result_free(fp__drift_result *r) {
  if (!r) return;
  free(r->baseline_key);
  free(r->baseline_finished_at);
  memset(r, 0, sizeof *r);
}

fp_err fp__drift_step(const fp_job_opts *o, const fp_contract *contract, fp_report_input *ri,
                      const fp_profiler *prof, fp_findings *findings, fp__drift_result *r,
                      fp_diag *d) {
  if (!o->store || !prof) return FP_OK;
  char *dataset = fp_store_dataset_of(contract ? contract->name : NULL, ri->key);
  if (!dataset) return fp_diag_set(d, FP_ERR_NOMEM, "drift: out of memory");
  /* "earlier" is by delivery: the object's event time, else when this run started */
  fp_store_baseline_query q = {.dataset = dataset,
                               .bucket = ri->bucket ? ri->bucket : "",
                               .key = ri->key ? ri->key : "",
                               .object_version = fp__object_version(ri),
                               .before = ri->event_time ? ri->event_time : ri->started_at};
  fp_store_run_summary base;
  char *json = NULL;
  bool found = false;
  fp_err e = fp_store_find_baseline(o->store, &q, &base, &json, &found, d);
  if (e || !found) {
    if (!e) fp_info("drift: no baseline for dataset '%s' yet", dataset);
    free(dataset);
    return e;
  }
  size_t n = 0;
  fp_diag dd;
  fp_diag_clear(&dd);
  e = fp_drift_compare(prof, json, contract ? &contract->drift : NULL, findings, &n, &dd);
  if (e == FP_ERR_JSON) {
    /* a damaged stored report must not fail every later delivery of the dataset */
    fp_warn("drift: baseline run %lld of '%s' is unreadable, not compared: %s", (long long)base.id,
            dataset, dd.msg);
    e = FP_OK;
  } else if (e) {
    fp_diag_set(d, e, "%s", dd.msg);
  } else {
    r->baseline_key = base.key;
    r->baseline_finished_at = base.finished_at;
    base.key = base.finished_at = NULL;
    ri->drift_baseline_id = base.id;
    ri->drift_baseline_key = r->baseline_key;
    ri->drift_baseline_finished_at = r->baseline_finished_at;
    fp_info("drift: dataset '%s' compared with run %lld (%s): %zu findings", dataset,
            (long long)base.id, ri->drift_baseline_key ? ri->drift_baseline_key : "", n);
  }
  fp_store_run_summary_clear(&base);
  free(json);
  free(dataset);
  return e;
}
