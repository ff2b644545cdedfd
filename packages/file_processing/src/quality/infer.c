/* infer.c — placeholder: contract inference lands with the contracts work. */
#include "fp/fp_contract.h"

fp_err fp_contract_infer(const fp_profiler *p, const fp_csv_dialect *dl, const char *name,
                         const char *key, char **yaml, fp_diag *d) {
  (void)p, (void)dl, (void)name, (void)key, (void)yaml;
  return fp_diag_set(d, FP_ERR_NOT_IMPLEMENTED, "contract inference is not implemented yet");
}
