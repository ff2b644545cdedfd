/* cli_common.c — argument parsing, error printing, output writing, option building. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const cli_opt *find_opt(const cli_opt *opts, const char *name, size_t len) {
  for (; opts && opts->name; opts++)
    if (strlen(opts->name) == len && strncmp(opts->name, name, len) == 0) return opts;
  return NULL;
}

int cli_parse(int argc, char **argv, const cli_opt *opts, const char **pos, size_t maxpos,
              size_t *npos, bool *help) {
  *npos = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) continue;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      *help = true;
      continue;
    }
    if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
      if (*npos >= maxpos) return cli_usage_error(NULL, "unexpected argument '%s'", a);
      pos[(*npos)++] = a;
      continue;
    }
    const char *eq = strchr(a + 2, '=');
    size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
    const cli_opt *o = find_opt(opts, a + 2, len);
    if (!o) return cli_usage_error(NULL, "unknown option '%.*s'", (int)len + 2, a);
    if (o->flag) {
      if (eq) return cli_usage_error(NULL, "option '--%s' takes no value", o->name);
      *o->flag = true;
    } else if (eq) {
      *o->str = eq + 1;
    } else if (i + 1 < argc) {
      *o->str = argv[++i];
    } else {
      return cli_usage_error(NULL, "option '--%s' needs a value", o->name);
    }
  }
  return 0;
}

int cli_fail(const fp_diag *d) {
  char buf[2048];
  fp_diag_format(d, buf, sizeof buf);
  /* the message quotes keys and values from outside: keep it one line on the terminal */
  for (char *p = buf; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
  fprintf(stderr, "file-processing: error: %s\n", buf);
  int code = fp_err_exit_code(d->code);
  return code ? code : 2;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("file-processing: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry 'file-processing %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
  return 2;
}

static int parse_char_opt(const char *name, const char *v, char *out) {
  if (!v) return 0;
  if (strcmp(v, "\\t") == 0 || strcmp(v, "tab") == 0 || strcmp(v, "TAB") == 0) return *out = '\t', 0;
  if (strlen(v) != 1) return cli_usage_error(NULL, "--%s expects one character, got '%s'", name, v);
  *out = v[0];
  return 0;
}

/* Splits FP_MISSING_VALUES ("" by default; comma-separated, e.g. ",NA,N/A,-"). */
static int build_missing(const fp_config *cfg, cli_job_opts *out) {
  const char *mv = fp_config_get(cfg, "FP_MISSING_VALUES");
  if (!mv) return 0;
  out->missing_copy = strdup(mv);
  size_t n = 1;
  for (const char *p = mv; *p; p++) n += *p == ',';
  out->missing = calloc(n, sizeof *out->missing);
  if (!out->missing_copy || !out->missing) return fprintf(stderr, "file-processing: out of memory\n"), 3;
  size_t i = 0;
  for (char *p = out->missing_copy, *s = p;; p++) {
    if (*p == ',' || *p == '\0') {
      int end = *p == '\0';
      *p = '\0';
      out->missing[i++] = s;
      s = p + 1;
      if (end) break;
    }
  }
  out->job.profile.missing_values = out->missing;
  out->job.profile.nmissing = i;
  return 0;
}

static int config_size(const fp_config *cfg, const char *key, size_t *inout) {
  fp_diag d;
  fp_diag_clear(&d);
  return fp_config_size(cfg, key, *inout, inout, &d) ? cli_fail(&d) : 0;
}

unsigned cli_cores(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return (unsigned)n;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (unsigned)n : 1u;
}

/* --threads N, else FP_THREADS, else the cores available; 1..256. */
static int parse_threads(const fp_config *cfg, const char *flag, unsigned *out) {
  const char *v = flag ? flag : fp_config_get(cfg, "FP_THREADS");
  const char *what = flag ? "--threads" : "FP_THREADS";
  if (!v || !*v) {
    unsigned n = cli_cores();
    *out = n > 256 ? 256 : n;
    return 0;
  }
  char *end;
  errno = 0;
  unsigned long n = strtoul(v, &end, 10);
  if (errno || *end || end == v || v[0] == '-' || n < 1 || n > 256)
    return cli_usage_error(NULL, "%s expects a number of threads from 1 to 256, got '%s'", what, v);
  *out = (unsigned)n;
  return 0;
}

int cli_job_opts_build(const fp_config *cfg, const cli_dialect_flags *f, cli_job_opts *out) {
  memset(out, 0, sizeof *out);
  fp_job_opts *o = &out->job;
  fp_job_opts_default(o);
  int rc = 0;
  if (f->delimiter || f->quote || f->no_header || f->header) o->csv.sniff = false;
  if ((rc = parse_char_opt("delimiter", f->delimiter, &o->csv.dialect.delimiter))) return rc;
  if ((rc = parse_char_opt("quote", f->quote, &o->csv.dialect.quote_char))) return rc;
  if (f->no_header) o->csv.dialect.header = false;
  if (f->header) o->csv.dialect.header = true;
  if ((rc = config_size(cfg, "FP_MAX_ROW_BYTES", &o->csv.max_row_bytes))) return rc;
  if ((rc = config_size(cfg, "FP_MAX_COLUMNS", &o->csv.max_columns))) return rc;
  if ((rc = config_size(cfg, "FP_DISTINCT_EXACT_LIMIT", &o->profile.distinct_exact_limit))) return rc;
  if ((rc = config_size(cfg, "FP_DUP_ROWS_MEMORY", &o->profile.dup_rows_memory))) return rc;
  if ((rc = config_size(cfg, "FP_PROFILE_EXACT_MEMORY", &o->profile.exact_memory))) return rc;
  if ((rc = config_size(cfg, "FP_SAMPLE_CAP", &o->sample_cap))) return rc;
  if ((rc = config_size(cfg, "FP_UNIQUE_MEMORY", &o->checker.unique_memory))) return rc;
  o->checker.spill_dir = fp_config_get(cfg, "FP_SPILL_DIR");
  if ((rc = parse_threads(cfg, f->threads, &o->profile.threads))) return rc;
  size_t batch_rows = 0; /* a test knob: small batches put batch edges everywhere */
  if ((rc = config_size(cfg, "FP_THREAD_BATCH_ROWS", &batch_rows))) return rc;
  o->profile.batch_rows = batch_rows;
  if (f->sample_cap) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(f->sample_cap, &end, 10);
    if (errno || *end || end == f->sample_cap || f->sample_cap[0] == '-')
      return cli_usage_error(NULL, "--sample-cap expects a number, got '%s'", f->sample_cap);
    o->sample_cap = v;
  }
  return build_missing(cfg, out);
}

void cli_job_opts_free(cli_job_opts *o) {
  free(o->missing_copy);
  free(o->missing);
  o->missing_copy = NULL;
  o->missing = NULL;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int cli_write_output(const char *path, const char *text, size_t len) {
  if (strcmp(path, "-") == 0) {
    if (write_all(STDOUT_FILENO, text, len) || write_all(STDOUT_FILENO, "\n", 1))
      return fprintf(stderr, "file-processing: error writing standard output: %s\n", strerror(errno)), 3;
    return 0;
  }
  struct stat st;
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
    /* A device or FIFO (/dev/null, /dev/stdout, a pipe): write in place; renaming over it
     * would replace the device with a regular file. */
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    int bad = fd < 0 || write_all(fd, text, len) || write_all(fd, "\n", 1);
    int err = errno;
    if (fd >= 0) close(fd);
    if (bad) return fprintf(stderr, "file-processing: cannot write %s: %s\n", path, strerror(err)), 3;
    return 0;
  }
  /* Regular files are replaced atomically: a reader never sees half a report. */
  char tmp[4096];
  int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  if (n < 0 || (size_t)n >= sizeof tmp) return cli_usage_error(NULL, "output path too long");
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    /* A path that cannot work (missing directory, no permission) is bad input; a full disk
     * or quota, or running out of descriptors, may pass: transient. */
    int err = errno;
    bool bad_path = err == ENOENT || err == ENOTDIR || err == EACCES || err == EPERM ||
                    err == EROFS || err == EISDIR || err == ENAMETOOLONG || err == ELOOP;
    fprintf(stderr, "file-processing: cannot write %s: %s\n", path, strerror(err));
    return bad_path ? 2 : 3;
  }
  int bad = fwrite(text, 1, len, f) != len || fputc('\n', f) == EOF;
  bad |= fclose(f) != 0;
  if (bad || rename(tmp, path) != 0) {
    int err = errno;
    unlink(tmp);
    return fprintf(stderr, "file-processing: cannot write %s: %s\n", path, strerror(err)), 3;
  }
  return 0;
}

int cli_contracts_dir(const fp_config *cfg, fp_job_opts *jo) {
  const char *dir = fp_config_str(cfg, "FP_CONTRACTS_DIR", "packages/file_processing/contracts");
  struct stat st;
  if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
    jo->contracts_dir = dir;
    return 0;
  }
  if (!fp_config_get(cfg, "FP_CONTRACTS_DIR")) return 0; /* no bundled contracts here: fine */
  fp_diag d;
  fp_diag_clear(&d);
  fp_diag_set(&d, FP_ERR_CONFIG, "FP_CONTRACTS_DIR=%s is not a directory", dir);
  return cli_fail(&d);
}

int cli_report_store(const fp_config *cfg, fp_objstore *reads, fp_objstore **owned,
                     fp_job_opts *jo) {
  const char *uri = fp_config_str(cfg, "FP_REPORT_S3_URI", NULL);
  if (!uri) return 0;
  fp_diag d;
  fp_diag_clear(&d);
  char bucket[256], prefix[1024];
  if (fp_s3_uri_parse(uri, bucket, sizeof bucket, prefix, sizeof prefix, &d)) return cli_fail(&d);
  if (reads && strcmp(fp_objstore_kind(reads), "s3") == 0) {
    jo->report_store = reads;
  } else {
    if (fp_objstore_s3_new(cfg, owned, &d)) return cli_fail(&d);
    jo->report_store = *owned;
  }
  jo->report_s3_uri = uri;
  return 0;
}

int cli_report_html_dir(const fp_config *cfg, fp_job_opts *jo) {
  const char *dir = fp_config_str(cfg, "FP_REPORT_HTML_DIR", NULL);
  if (!dir) return 0;
  struct stat st;
  if (stat(dir, &st) != 0 && errno == ENOENT) mkdir(dir, 0755); /* one level, like the DB file */
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    fp_diag d;
    fp_diag_clear(&d);
    fp_diag_set(&d, FP_ERR_CONFIG, "FP_REPORT_HTML_DIR=%s is not a directory and cannot be created", dir);
    return cli_fail(&d);
  }
  jo->report_html_dir = dir;
  return 0;
}
