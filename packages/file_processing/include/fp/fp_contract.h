/* fp_contract.h — dataset contracts: what a delivery must look like, and the checker that
 * validates a stream of records against one.
 *
 * A contract is a YAML or JSON file (docs/contracts.md):
 *   name: officer_detail
 *   match: [GLOB, ...]     # globs on the object key; "*" within a path segment
 *   dialect: {delimiter: ",", header: true}          # CSV Dialect keys; sniffed when absent
 *   schema:  {fields: [...], missingValues: [""], primaryKey: [...], fieldsMatch: exact}
 *   checks:  {rows: {min: 1, max: 10000000}, extraColumns: error|warn|ignore,
 *             missingColumns: error|warn|ignore, columnOrder: error|warn|ignore,
 *             maxErrorRate: 0.01, severity: {code: error|warning|info|ignore}, sampleCap: 100}
 *   drift:   {schema: warning, volume: {severity: error, maxChange: 0.3}, missing: {...},
 *             distribution: {maxShift: 0.2, maxDistinctChange: 0.5}, category: {...}}
 * Loading validates everything up front: an unknown key, a wrong type or a bad pattern is
 * FP_ERR_CONTRACT naming the file, line and key path (e.g. "schema.fields[3].constraints.pattern").
 * A loaded contract is immutable and may be shared between threads. */
#ifndef FP_CONTRACT_H
#define FP_CONTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fp/fp_csv.h"
#include "fp/fp_drift.h"
#include "fp/fp_err.h"
#include "fp/fp_findings.h"
#include "fp/fp_profile.h"
#include "fp/fp_tschema.h"

typedef enum fp_policy { FP_POLICY_ERROR = 0, FP_POLICY_WARN, FP_POLICY_IGNORE } fp_policy;

/* Table Schema v2 fieldsMatch; default EXACT (v1 behaviour: labels compared by position). */
typedef enum fp_fields_match {
  FP_FIELDS_EXACT = 0,
  FP_FIELDS_EQUAL,
  FP_FIELDS_SUBSET,
  FP_FIELDS_SUPERSET,
  FP_FIELDS_PARTIAL
} fp_fields_match;

typedef struct fp_severity_override {
  char *code;
  fp_severity severity;
  bool ignore; /* "ignore": findings of this code are not recorded at all */
} fp_severity_override;

/* The loaded contract; all members owned by it. Read-only for callers. */
typedef struct fp_contract {
  char *name;        /* "name:", else the file's base name without extension */
  char *path;        /* where it was loaded from ("<text>" for fp_contract_load_text) */
  char **match;      /* globs */
  size_t nmatch;
  bool has_dialect;
  fp_csv_dialect dialect;
  fp_field *fields;  /* compiled */
  size_t nfields;
  char **missing_values; /* schema-level; default {""} */
  size_t nmissing;
  size_t *primary_key;   /* field indexes (0-based) */
  size_t npk;
  fp_fields_match fields_match;
  /* checks */
  int64_t rows_min, rows_max;   /* -1 = none */
  fp_policy extra_columns, missing_columns, column_order;
  double max_error_rate;        /* < 0 = none; fraction of data rows with any error */
  fp_severity_override *overrides;
  size_t noverrides;
  size_t sample_cap;            /* 0 = use the job's */
  /* drift against the dataset's baseline delivery: "drift:" (defaults when absent) */
  fp_drift_opts drift;
} fp_contract;

/* Loads a contract file (.yaml/.yml/.json; content sniffed when the extension is other).
 * Owned: free with fp_contract_free. */
fp_err fp_contract_load_file(const char *path, fp_contract **out, fp_diag *d);
/* Same from text; name_hint names it in errors and when the text has no name. */
fp_err fp_contract_load_text(const char *text, size_t len, const char *name_hint,
                             fp_contract **out, fp_diag *d);
void fp_contract_free(fp_contract *c); /* NULL-safe */

/* Finds the contract for an object key among the *.yaml|*.yml|*.json files of dir: the
 * most specific matching glob wins (most literal characters;
 * a tie between two different contracts is FP_ERR_CONTRACT naming both). *path_out
 * owned (free), NULL when no contract matches (FP_OK). Files that fail to load are errors.
 * Globs: '*' does not cross '/', '**' does, '?' one character, [abc] classes. */
fp_err fp_contract_find(const char *dir, const char *key, char **path_out, fp_diag *d);
bool fp_glob_match(const char *glob, const char *key);

/* ---- the checker ------------------------------------------------------------------- */

typedef struct fp_checker_opts {
  size_t unique_memory;  /* bytes for unique/primaryKey state; default 256 MiB */
  const char *spill_dir; /* where uniqueness spills beyond the budget; NULL = $TMPDIR or /tmp */
  /* Check on a thread of its own: records are copied into a queue and checked while the
   * caller reads on; findings go to a private collector that finish merges into findings
   * in the order one thread would have produced, provided the caller adds its own findings
   * for a record before handing the record over (as the pipeline does with the profiler's).
   * Rows with errors and everything else come out the same. */
  bool threaded;
} fp_checker_opts;

void fp_checker_opts_default(fp_checker_opts *o);

typedef struct fp_checker fp_checker; /* opaque */

/* Validates records against c and adds findings to findings (borrowed, shared with the
 * profiler, which reports the structural codes: blank-label, duplicate-label, blank-row,
 * extra-cell, missing-cell, encoding-error — the checker never repeats those). has_header:
 * the first record is the header. Codes the checker adds: incorrect-label, missing-label,
 * extra-label, type-error, constraint-error, unique-error, primary-key, row-count,
 * error-rate. Severity overrides of the contract are applied by the caller through
 * fp_findings (see fp_contract_apply_overrides). */
fp_err fp_checker_new(const fp_contract *c, const fp_checker_opts *o, bool has_header,
                      fp_findings *findings, fp_checker **out, fp_diag *d);
/* An fp_csv_record_fn: feed every record, in order, with the checker as ud. */
fp_err fp_checker_record(void *checker, const fp_csv_record *rec, fp_diag *d);
/* Runs what needs the whole file: uniqueness resolution (spilled runs merged), row-count
 * and error-rate checks. */
fp_err fp_checker_finish(fp_checker *k, fp_diag *d);
uint64_t fp_checker_rows_with_errors(const fp_checker *k);
/* Bytes the uniqueness state used at its peak, and whether it spilled to disk. */
size_t fp_checker_unique_peak(const fp_checker *k, bool *spilled);
void fp_checker_free(fp_checker *k); /* NULL-safe; removes spill files */

/* Registers the contract's severity overrides (and ignores) on a findings collector before
 * any finding is added. */
fp_err fp_contract_apply_overrides(const fp_contract *c, fp_findings *f);

/* ---- inference --------------------------------------------------------------------- */

/* Drafts a contract as YAML text from a finished profile of a file: one field per column
 * with the profile's type (and a format when the values need one), required where no value
 * was missing, enum for low-cardinality text columns (exact distinct <= FP_TOPK and at
 * least 20 rows), the dialect used, and a match glob from key (NULL = none). The draft
 * validates the same file with zero type/constraint errors. *yaml owned (free). */
fp_err fp_contract_infer(const fp_profiler *p, const fp_csv_dialect *dl, const char *name,
                         const char *key, char **yaml, fp_diag *d);

#endif
