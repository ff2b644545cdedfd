/* fp_findings.h — the findings collector shared by the profiler and the contract checker.
 *
 * Findings use Frictionless error codes (blank-label, duplicate-label, blank-row,
 * extra-cell, missing-cell, encoding-error, ...). Counts are exact per (code, field);
 * samples are capped per (code, field) and the group says when the cap was reached, so
 * a total is never hidden behind the cap. Rows and fields are counted as Frictionless
 * counts them: the header is row 1, fields are 1-based, 0 means "not about one field". */
#ifndef FP_FINDINGS_H
#define FP_FINDINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fp/fp_err.h"

typedef enum fp_severity { FP_SEV_INFO = 0, FP_SEV_WARNING = 1, FP_SEV_ERROR = 2 } fp_severity;
const char *fp_severity_name(fp_severity s); /* "info" | "warning" | "error" */

typedef struct fp_finding_sample {
  uint64_t row;     /* 0 when the finding is about the whole table */
  uint32_t field;   /* 1-based, 0 when not about one field */
  char *cell;       /* owned; the offending cell truncated to 200 bytes (valid UTF-8), or NULL */
  char *note;       /* owned; what was expected, e.g. "row has 5 cells, header has 4" */
} fp_finding_sample;

typedef struct fp_finding_group {
  char *code;          /* owned */
  fp_severity severity;
  uint32_t field;      /* 0 = table/row level */
  char *field_name;    /* owned, NULL when field == 0 */
  char *message;       /* owned: the code's human title, e.g. "Extra Cell" */
  uint64_t count;      /* exact */
  fp_finding_sample *samples; /* owned array, nsamples <= cap */
  size_t nsamples;
  bool capped;         /* count > nsamples */
} fp_finding_group;

typedef struct fp_findings fp_findings; /* opaque */

/* sample_cap: samples kept per (code, field); 0 means the default 100. Owned. */
fp_err fp_findings_new(size_t sample_cap, fp_findings **out);
void fp_findings_free(fp_findings *f); /* NULL-safe */

/* Records one finding. field_name may be NULL; cell (cell_len bytes, not NUL-terminated)
 * may be NULL; note may be NULL. The first finding of a (code, field) fixes its severity.
 * Copies everything it keeps. Cost when the cap is reached: a lookup and an increment. */
fp_err fp_findings_add(fp_findings *f, const char *code, fp_severity sev, uint64_t row,
                       uint32_t field, const char *field_name, const char *cell,
                       size_t cell_len, const char *note);

/* Overrides the severity of every later finding with this code (a contract's
 * checks.severity); ignore = do not record them at all (counts included). Copies code. */
fp_err fp_findings_override(fp_findings *f, const char *code, fp_severity sev, bool ignore);

/* Groups in first-seen order; borrowed, valid until the next add or free. */
size_t fp_findings_count_groups(const fp_findings *f);
const fp_finding_group *fp_findings_group(const fp_findings *f, size_t i);
/* Sum of counts over groups with this severity. */
uint64_t fp_findings_total(const fp_findings *f, fp_severity sev);
/* Human title for a Frictionless code ("extra-cell" -> "Extra Cell"); borrowed static. */
const char *fp_finding_title(const char *code);

#endif
