/* endpoint.c — region, partition and endpoint resolution as the AWS SDKs do it for the
 * services we call (S3, STS, SQS): AWS_REGION > AWS_DEFAULT_REGION > the profile's region >
 * us-gov-west-1; AWS_ENDPOINT_URL_<SERVICE> > AWS_ENDPOINT_URL > the partition's default
 * host (<service>.<region>.amazonaws.com, .amazonaws.com.cn in China). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "aws/aws_int.h"

#define FP__DEFAULT_REGION "us-gov-west-1"

static bool region_ok(const char *r) {
  size_t n = strlen(r);
  if (n == 0 || n > 64) return false;
  for (size_t i = 0; i < n; i++)
    if (!islower((unsigned char)r[i]) && !isdigit((unsigned char)r[i]) && r[i] != '-') return false;
  return true;
}

static void put(char *out, size_t outsz, const char *s) {
  if (!outsz) return;
  if (strlen(s) >= outsz) {
    out[0] = '\0'; /* a truncated region or URL would be wrong, not short */
    return;
  }
  snprintf(out, outsz, "%s", s);
}

void fp_aws_region(const fp_config *cfg, char *out, size_t outsz) {
  const char *r = fp_config_str(cfg, "AWS_REGION", NULL);
  if (!r) r = fp_config_str(cfg, "AWS_DEFAULT_REGION", NULL);
  if (r) {
    put(out, outsz, r);
    return;
  }
  fp__aws_files f;
  fp_diag d;
  fp_diag_clear(&d);
  if (fp__aws_files_load(cfg, &f, &d) == FP_OK) {
    /* botocore merges the credentials file over the config file's profile. */
    const char *pr = fp__aws_files_get(&f, f.profile, "region");
    if (pr && *pr) {
      put(out, outsz, pr);
      fp__aws_files_free(&f);
      return;
    }
    fp__aws_files_free(&f);
  }
  put(out, outsz, FP__DEFAULT_REGION);
}

const char *fp_aws_partition(const char *region) {
  if (!region) return "aws";
  if (strncmp(region, "us-gov-", 7) == 0) return "aws-us-gov";
  if (strncmp(region, "cn-", 3) == 0) return "aws-cn";
  return "aws";
}

/* "AWS_ENDPOINT_URL_" + service upper-cased, spaces and '-' as '_' (the SDKs' rule). */
static void service_var(const char *service, char *out, size_t outsz) {
  int n = snprintf(out, outsz, "AWS_ENDPOINT_URL_");
  for (const char *p = service; *p && n >= 0 && (size_t)n + 1 < outsz; p++, n++)
    out[n] = (*p == '-' || *p == ' ') ? '_' : (char)toupper((unsigned char)*p);
  if (n >= 0 && (size_t)n < outsz) out[n] = '\0';
}

static bool ignore_custom(const fp_config *cfg) {
  int ignore = 0;
  return fp_config_bool(cfg, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", 0, &ignore, NULL) == FP_OK &&
         ignore;
}

void fp_aws_endpoint(const fp_config *cfg, const char *service, const char *region, char *out,
                     size_t outsz, bool *custom) {
  bool dummy;
  if (!custom) custom = &dummy;
  *custom = false;
  if (!outsz) return;
  out[0] = '\0';
  if (!service || !*service) return;
  if (!ignore_custom(cfg)) {
    char var[96];
    service_var(service, var, sizeof var);
    const char *url = fp_config_str(cfg, var, NULL);
    if (!url) url = fp_config_str(cfg, "AWS_ENDPOINT_URL", NULL);
    if (url) {
      size_t n = strlen(url);
      while (n > 0 && url[n - 1] == '/') n--; /* "http://h:9000/" → "http://h:9000" */
      if (n < outsz) {
        memcpy(out, url, n);
        out[n] = '\0';
        *custom = true;
      }
      return;
    }
  }
  char def[96];
  if (!region || !*region) {
    fp_aws_region(cfg, def, sizeof def);
    region = def;
  }
  if (!region_ok(region)) return; /* "" out: no endpoint for a malformed region */
  for (const char *p = service; *p; p++)
    if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-') return;
  const char *suffix =
      strcmp(fp_aws_partition(region), "aws-cn") == 0 ? "amazonaws.com.cn" : "amazonaws.com";
  char url[256];
  int n = snprintf(url, sizeof url, "https://%s.%s.%s", service, region, suffix);
  if (n > 0 && (size_t)n < sizeof url) put(out, outsz, url);
}
