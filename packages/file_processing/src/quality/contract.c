/* contract.c — placeholder: contract loading lands with the contracts work. */
#include <stdlib.h>

#include "fp/fp_contract.h"

fp_err fp_contract_load_file(const char *path, fp_contract **out, fp_diag *d) {
  (void)out;
  fp_diag_key(d, path);
  return fp_diag_set(d, FP_ERR_NOT_IMPLEMENTED, "dataset contracts are not implemented yet");
}
fp_err fp_contract_load_text(const char *text, size_t len, const char *name_hint,
                             fp_contract **out, fp_diag *d) {
  (void)text, (void)len, (void)out;
  fp_diag_key(d, name_hint);
  return fp_diag_set(d, FP_ERR_NOT_IMPLEMENTED, "dataset contracts are not implemented yet");
}
void fp_contract_free(fp_contract *c) { (void)c; }
fp_err fp_contract_find(const char *dir, const char *key, char **path_out, fp_diag *d) {
  (void)dir, (void)key, (void)d;
  *path_out = NULL;
  return FP_OK;
}
bool fp_glob_match(const char *glob, const char *key) {
  (void)glob, (void)key;
  return false;
}
fp_err fp_contract_apply_overrides(const fp_contract *c, fp_findings *f) {
  (void)c, (void)f;
  return FP_OK;
}
