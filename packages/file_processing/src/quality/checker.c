/* checker.c — placeholder: the contract checker lands with the contracts work. */
#include <string.h>

#include "fp/fp_contract.h"

void fp_checker_opts_default(fp_checker_opts *o) {
  memset(o, 0, sizeof *o);
  o->unique_memory = 256u << 20;
}
fp_err fp_checker_new(const fp_contract *c, const fp_checker_opts *o, bool has_header,
                      fp_findings *findings, fp_checker **out, fp_diag *d) {
  (void)c, (void)o, (void)has_header, (void)findings, (void)out;
  return fp_diag_set(d, FP_ERR_NOT_IMPLEMENTED, "the contract checker is not implemented yet");
}
fp_err fp_checker_record(void *checker, const fp_csv_record *rec, fp_diag *d) {
  (void)checker, (void)rec;
  return fp_diag_set(d, FP_ERR_NOT_IMPLEMENTED, "the contract checker is not implemented yet");
}
fp_err fp_checker_finish(fp_checker *k, fp_diag *d) {
  (void)k;
  return fp_diag_set(d, FP_ERR_NOT_IMPLEMENTED, "the contract checker is not implemented yet");
}
uint64_t fp_checker_rows_with_errors(const fp_checker *k) {
  (void)k;
  return 0;
}
size_t fp_checker_unique_peak(const fp_checker *k, bool *spilled) {
  (void)k;
  if (spilled) *spilled = false;
  return 0;
}
void fp_checker_free(fp_checker *k) { (void)k; }
