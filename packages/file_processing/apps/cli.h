/* cli.h — shared pieces of the file-processing command-line front-end. */
#ifndef FP_CLI_H
#define FP_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "fp/fp_config.h"
#include "fp/fp_err.h"
#include "fp/fp_job.h"

/* A flag table entry: --name VALUE (or --name=VALUE) sets *str; a switch sets *flag. */
typedef struct cli_opt {
  const char *name;
  const char **str; /* NULL for switches */
  bool *flag;
} cli_opt;

/* Parses argv[0..argc) against opts; positionals go to pos (up to maxpos). A lone "--"
 * is ignored (the job runners pass it through). Returns 0, or prints the error and
 * returns 2. "--help"/"-h" sets *help. */
int cli_parse(int argc, char **argv, const cli_opt *opts, const char **pos, size_t maxpos,
              size_t *npos, bool *help);

/* Prints "file-processing: <diag>" to stderr and returns the exit code for it. */
int cli_fail(const fp_diag *d);
/* Prints a usage error and returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* CSV/profile options from flags and config (FP_MAX_ROW_BYTES, FP_MAX_COLUMNS,
 * FP_SAMPLE_CAP, FP_MISSING_VALUES, FP_THREADS / --threads (default: the cores this
 * process may run on), ...). missing_store keeps the parsed missing values
 * alive; free with cli_job_opts_free. Returns 0 or the exit code. */
typedef struct cli_dialect_flags {
  const char *delimiter, *quote, *sample_cap, *threads;
  bool no_header, header;
} cli_dialect_flags;

typedef struct cli_job_opts {
  fp_job_opts job;
  char *missing_copy;
  const char **missing;
} cli_job_opts;

int cli_job_opts_build(const fp_config *cfg, const cli_dialect_flags *f, cli_job_opts *out);
/* The cores this process may run on (its CPU affinity), at least 1. */
unsigned cli_cores(void);
void cli_job_opts_free(cli_job_opts *o);

/* Sets jo->contracts_dir from FP_CONTRACTS_DIR (default the bundled contracts when that
 * directory exists). 0 or the exit code. */
int cli_contracts_dir(const fp_config *cfg, fp_job_opts *jo);
/* FP_REPORT_S3_URI: reports are also uploaded; uses reads when it is an S3 store, else
 * opens one into *owned (free with fp_objstore_free). 0 or the exit code. */
int cli_report_store(const fp_config *cfg, fp_objstore *reads, fp_objstore **owned,
                     fp_job_opts *jo);

/* Writes text to path ("-" = stdout) atomically (temp file + rename). 0 or exit code. */
int cli_write_output(const char *path, const char *text, size_t len);

/* FP_REPORT_HTML_DIR: HTML reports are also written below that directory (created when
 * missing). 0 or the exit code. */
int cli_report_html_dir(const fp_config *cfg, fp_job_opts *jo);

/* The progress bar on stderr (cli_progress.c): drawn only when stderr is a terminal and
 * not quiet; at most 8 redraws a second; cleared before anything else is printed. */
typedef struct cli_progress {
  bool on, drawn;
  struct timespec t0, last;
  char label[256];
} cli_progress;
void cli_progress_init(cli_progress *p, bool quiet);
void cli_progress_attach(cli_progress *p, fp_job_opts *jo); /* sets jo->progress when on */
void cli_progress_start(cli_progress *p, const char *label); /* before each object */
void cli_progress_cb(void *ud, uint64_t done, int64_t total);
void cli_progress_clear(cli_progress *p);

int cmd_run(const fp_config *cfg, int argc, char **argv);
int cmd_profile(const fp_config *cfg, int argc, char **argv);
int cmd_rows(const fp_config *cfg, int argc, char **argv);
int cmd_runs(const fp_config *cfg, int argc, char **argv);
int cmd_db(const fp_config *cfg, int argc, char **argv);
int cmd_infer(const fp_config *cfg, int argc, char **argv);
/* cli_serve.c; they apply their flags to cfg (flags > environment). */
int cmd_serve(fp_config *cfg, int argc, char **argv);
int cmd_worker(fp_config *cfg, int argc, char **argv);

#endif
