/* cli_run.c — `run s3_data_quality_job` and `profile`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "fp/fp_buf.h"
#include "fp/fp_log.h"
#include "fp/fp_report_html.h"

static const char RUN_HELP[] =
    "Usage: file-processing run s3_data_quality_job [--] (--event-json JSON | --events-file FILE)\n"
    "                          [--dry-run] [--report FILE|-] [--report-html FILE]\n"
    "                          [--contract FILE] [options]\n"
    "\n"
    "Processes every object named by an S3 ObjectCreated event: streams it, profiles every\n"
    "column, records the run in the results DB and writes the JSON report.\n"
    "\n"
    "Events: an S3 notification ({\"Records\":[...]}), the same inside an SNS envelope, an\n"
    "EventBridge \"Object Created\" event, a JSON array of those, or (--events-file) JSON lines.\n"
    "s3:TestEvent is acknowledged and skipped.\n"
    "\n"
    "Options:\n"
    "  --event-json JSON      the event document itself\n"
    "  --events-file FILE     read events from FILE ('-' = standard input)\n"
    "  --dry-run              do everything except write to the results database\n"
    "  --report FILE|-        write the JSON report to FILE ('-' = standard output); with\n"
    "                         several objects the file holds a JSON array of reports\n"
    "  --report-html FILE     also write the report as one self-contained HTML page (no\n"
    "                         scripts, no external assets; several objects: one page)\n"
    "  --contract FILE        validate against this dataset contract (default: the contract in\n"
    "                         $FP_CONTRACTS_DIR whose match glob fits the key most specifically)\n"
    "  --database-url URL     results DB (default $DATABASE_URL or sqlite:///file_processing.db)\n"
    "  --local-s3-root DIR    read objects from DIR instead of S3 (default $LOCAL_S3_ROOT)\n"
    "  --delimiter C          CSV delimiter (default: sniffed among , ; TAB |)\n"
    "  --quote C              CSV quote character (default \")\n"
    "  --no-header            the first row is data, not a header\n"
    "  --sample-cap N         samples kept per finding code and field (default 100)\n"
    "  --threads N            threads profiling the columns (default $FP_THREADS, else the\n"
    "                         cores available); 1 = everything on one thread. Results are\n"
    "                         the same for any N\n"
    "  --quiet                no human summary and no progress bar on standard error\n"
    "\n"
    "Environment: DATABASE_URL, LOCAL_S3_ROOT, FP_CONTRACTS_DIR (default\n"
    "packages/file_processing/contracts), FP_LOG_LEVEL (debug|info|warn|error),\n"
    "FP_LOG_FORMAT (text|json), FP_MAX_ROW_BYTES, FP_MAX_COLUMNS, FP_MISSING_VALUES\n"
    "(comma-separated, default empty cell), FP_SAMPLE_CAP, FP_DISTINCT_EXACT_LIMIT,\n"
    "FP_DUP_ROWS_MEMORY, FP_PROFILE_EXACT_MEMORY (256M: exact distinct values over all\n"
    "columns), FP_REPORT_S3_URI (also upload each report, JSON and HTML, to\n"
    "s3://bucket/prefix/), FP_REPORT_HTML_DIR (also write DIR/<bucket>/<key>.report.html).\n"
    "S3: AWS_REGION (default us-gov-west-1), AWS_PROFILE, AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL,\n"
    "the AWS credential chain (env keys, IRSA web identity, ~/.aws files, container, IMDS),\n"
    "FP_S3_MAX_ATTEMPTS (5), FP_S3_RETRY_BASE_MS (200), FP_S3_STALL_SECONDS (30),\n"
    "FP_S3_CONNECT_TIMEOUT_MS (5000), AWS_CA_BUNDLE.\n"
    "Also read from packages/file_processing/.env and ./.env.\n"
    "\n"
    "Exit status: 0 data valid, 1 data invalid, 2 bad input or usage (no retry helps),\n"
    "3 transient failure (a retry may help).\n"
    "\n"
    "Examples:\n"
    "  LOCAL_S3_ROOT=./packages/file_processing/data \\\n"
    "    file-processing run s3_data_quality_job -- --event-json \\\n"
    "    '{\"Records\":[{\"s3\":{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\"from_client/nm_albuquerque/Officer_Detail.csv\"}}}]}'\n"
    "  file-processing run s3_data_quality_job --events-file events.jsonl --report out.json\n"
    "  file-processing run s3_data_quality_job --events-file events.jsonl --report-html out.html\n"
    "  aws sqs receive-message ... | jq -c '.Messages[].Body | fromjson' |\n"
    "    file-processing run s3_data_quality_job --events-file - --dry-run --report -\n";

static const char PROFILE_HELP[] =
    "Usage: file-processing profile FILE|- [--report FILE|-] [--report-html FILE] [options]\n"
    "\n"
    "Profiles a local CSV file (or standard input) like csvstat: per-column types, missing\n"
    "values, distinct counts, min/max, mean/stddev, top values, plus structural findings.\n"
    "gzip and zstd files are decompressed on the fly. Nothing is written to the database.\n"
    "\n"
    "Options:\n"
    "  --report FILE|-        write the JSON report (default: '-' when standard output is\n"
    "                         not a terminal, else only the summary)\n"
    "  --report-html FILE     also write the report as one self-contained HTML page\n"
    "  --contract FILE        validate against a dataset contract (docs/contracts.md)\n"
    "  --delimiter C, --quote C, --no-header, --sample-cap N, --threads N, --quiet\n"
    "                         as for `run`\n"
    "\n"
    "A progress bar (bytes, rate, ETA) is drawn on standard error when it is a terminal.\n"
    "\n"
    "Exit status: 0 no structural errors, 1 errors found, 2 bad input, 3 transient failure.\n"
    "\n"
    "Examples:\n"
    "  file-processing profile Officer_Detail.csv --report report.json\n"
    "  file-processing profile Officer_Detail.csv --contract contracts/officer_detail.yaml \\\n"
    "    --report-html officer_detail.html\n"
    "  zcat export.csv.gz | file-processing profile - --report - | jq .columns\n";

typedef struct run_flags {
  const char *event_json, *events_file, *report, *report_html, *contract, *db_url, *root;
  bool dry_run, quiet, help;
  cli_dialect_flags dialect;
} run_flags;

#define DIALECT_OPTS(f)                                                       \
  {"delimiter", &(f).dialect.delimiter, NULL}, {"quote", &(f).dialect.quote, NULL}, \
      {"sample-cap", &(f).dialect.sample_cap, NULL},                          \
      {"threads", &(f).dialect.threads, NULL},                                \
      {"no-header", NULL, &(f).dialect.no_header}, {"header", NULL, &(f).dialect.header}

static fp_err read_events_file(const char *path, fp_event_list *events, fp_diag *d) {
  fp_buf b;
  fp_buf_init(&b, 64u << 20); /* events files are small; a bound keeps a wrong file from eating memory */
  int err = 0;
  fp_err e = fp_buf_read_file(&b, path, &err);
  fp_diag_key(d, path);
  if (e == FP_ERR_LIMIT)
    e = fp_diag_set(d, e, "events file %s is larger than 64 MiB", path);
  else if (e)
    e = fp_diag_set(d, e, "cannot read events file %s: %s", path, err ? strerror(err) : fp_strerror(e));
  if (!e) e = fp_events_parse_text(b.data ? b.data : "", b.len, events, d);
  fp_buf_free(&b);
  return e;
}

static int open_objstore(const fp_config *cfg, const run_flags *f, fp_objstore **os) {
  fp_diag d;
  fp_diag_clear(&d);
  const char *root = f->root ? f->root : fp_config_str(cfg, "LOCAL_S3_ROOT", NULL);
  fp_err e = root ? fp_objstore_local_new(root, os, &d) : fp_objstore_s3_new(cfg, os, &d);
  if (e) return cli_fail(&d);
  return 0;
}

static int open_db(const fp_config *cfg, const run_flags *f, fp_store **st) {
  fp_diag d;
  fp_diag_clear(&d);
  if (f->dry_run) return 0;
  const char *url = f->db_url ? f->db_url : fp_config_str(cfg, "DATABASE_URL", "sqlite:///file_processing.db");
  if (fp_store_open(url, st, &d)) return cli_fail(&d);
  char masked[1024];
  fp_mask_url(url, masked, sizeof masked);
  fp_debug("results database: %s", masked);
  return 0;
}

/* Worse outcomes win: transient (3) over bad input (2) over invalid data (1). */
static int worse(int a, int b) { return b > a ? b : a; }

/* The collected reports (a JSON array when several) to f->report and/or f->report_html. */
static int write_reports(const fp_buf *reports, bool array, const run_flags *f) {
  fp_buf arr;
  fp_buf_init(&arr, 0);
  int bad = array && (fp_buf_puts(&arr, "[\n") || fp_buf_append(&arr, reports->data, reports->len) ||
                      fp_buf_puts(&arr, "\n]"));
  const char *text = array ? arr.data : reports->data;
  size_t len = array ? arr.len : reports->len;
  int rc = bad ? 3 : 0;
  if (!rc && f->report) rc = cli_write_output(f->report, text, len);
  if (!rc && f->report_html) {
    char *html = NULL;
    fp_diag d;
    fp_diag_clear(&d);
    rc = fp_report_html_render(text, &html, &d) ? cli_fail(&d) : cli_write_output(f->report_html, html, strlen(html));
    free(html);
  }
  fp_buf_free(&arr);
  return rc;
}

static int process_all(const fp_job_opts *jo, const fp_event_list *ev, const run_flags *f,
                       cli_progress *bar) {
  int rc = 0;
  fp_buf reports;
  fp_buf_init(&reports, 0);
  size_t nreports = 0;
  for (size_t i = 0; i < ev->n; i++) {
    fp_diag d;
    fp_diag_clear(&d);
    fp_job_result r;
    cli_progress_start(bar, ev->items[i].key);
    fp_err e = fp_job_run_object(jo, &ev->items[i], &r, &d);
    cli_progress_clear(bar);
    if (e) {
      rc = worse(rc, cli_fail(&d));
      continue;
    }
    if (!f->quiet) {
      fputs(r.summary, stderr);
      if (r.report_uri) fprintf(stderr, "  report uploaded to %s\n", r.report_uri);
      if (r.run_id >= 0) fprintf(stderr, "  run #%lld recorded in the results database\n", (long long)r.run_id);
      else fputs("  dry run: nothing written to the results database\n", stderr);
    }
    if ((f->report || f->report_html) &&
        fp_buf_appendf(&reports, "%s%s", nreports ? ",\n" : "", r.report_json) == FP_OK)
      nreports++;
    rc = worse(rc, r.verdict == FP_VERDICT_FAILED ? 1 : 0);
    fp_job_result_free(&r);
  }
  if (nreports) rc = worse(rc, write_reports(&reports, ev->n > 1, f));
  fp_buf_free(&reports);
  return rc;
}

/* --contract FILE, or the directory contracts are looked up in by key (run only). */
static int setup_contract(const fp_config *cfg, const run_flags *f, bool lookup,
                          fp_contract **owned, cli_job_opts *jo) {
  fp_diag d;
  fp_diag_clear(&d);
  if (f->contract) {
    if (fp_contract_load_file(f->contract, owned, &d)) return cli_fail(&d);
    jo->job.contract = *owned;
    return 0;
  }
  return lookup ? cli_contracts_dir(cfg, &jo->job) : 0;
}

static int run_job(const fp_config *cfg, run_flags *f) {
  if (!f->event_json == !f->events_file)
    return cli_usage_error("run s3_data_quality_job", "give exactly one of --event-json or --events-file");
  fp_event_list ev = {0};
  fp_diag d;
  fp_diag_clear(&d);
  fp_err e = f->event_json ? fp_events_parse_json(f->event_json, strlen(f->event_json), &ev, &d)
                           : read_events_file(f->events_file, &ev, &d);
  if (e) return cli_fail(&d);
  if (ev.skipped) fp_info("skipped %zu test or non-ObjectCreated event(s)", ev.skipped);
  if (ev.n == 0) {
    fp_info("no objects to process");
    fp_event_list_free(&ev);
    return 0;
  }
  cli_job_opts jo;
  fp_contract *contract = NULL;
  int rc = cli_job_opts_build(cfg, &f->dialect, &jo);
  fp_objstore *os = NULL;
  fp_store *st = NULL;
  if (!rc) rc = setup_contract(cfg, f, true, &contract, &jo);
  fp_objstore *report_os = NULL;
  if (!rc) rc = open_objstore(cfg, f, &os);
  if (!rc) rc = cli_report_store(cfg, os, &report_os, &jo.job);
  if (!rc) rc = cli_report_html_dir(cfg, &jo.job);
  if (!rc) rc = open_db(cfg, f, &st);
  if (!rc) {
    jo.job.objstore = os;
    jo.job.store = st;
    cli_progress bar;
    cli_progress_init(&bar, f->quiet);
    cli_progress_attach(&bar, &jo.job);
    rc = process_all(&jo.job, &ev, f, &bar);
  }
  fp_store_close(st);
  fp_objstore_free(report_os);
  fp_objstore_free(os);
  fp_contract_free(contract);
  cli_job_opts_free(&jo);
  fp_event_list_free(&ev);
  return rc;
}

int cmd_run(const fp_config *cfg, int argc, char **argv) {
  run_flags f = {0};
  const cli_opt opts[] = {
      {"event-json", &f.event_json, NULL}, {"events-file", &f.events_file, NULL},
      {"report", &f.report, NULL}, {"report-html", &f.report_html, NULL},
      {"contract", &f.contract, NULL}, {"database-url", &f.db_url, NULL}, {"local-s3-root", &f.root, NULL},
      {"dry-run", NULL, &f.dry_run}, {"quiet", NULL, &f.quiet}, DIALECT_OPTS(f), {NULL, NULL, NULL}};
  const char *pos[2];
  size_t npos;
  if (cli_parse(argc, argv, opts, pos, 2, &npos, &f.help)) return 2;
  if (f.help || npos == 0) {
    fputs(RUN_HELP, f.help ? stdout : stderr);
    return f.help ? 0 : 2;
  }
  if (npos > 1) return cli_usage_error("run", "unexpected argument '%s'", pos[1]);
  if (strcmp(pos[0], FP_JOB_S3_DATA_QUALITY) != 0)
    return cli_usage_error("run", "unknown job '%s' (jobs: %s)", pos[0], FP_JOB_S3_DATA_QUALITY);
  return run_job(cfg, &f);
}

int cmd_profile(const fp_config *cfg, int argc, char **argv) {
  run_flags f = {0};
  const cli_opt opts[] = {{"report", &f.report, NULL}, {"report-html", &f.report_html, NULL},
                          {"contract", &f.contract, NULL}, {"quiet", NULL, &f.quiet},
                          DIALECT_OPTS(f), {NULL, NULL, NULL}};
  const char *pos[1];
  size_t npos;
  if (cli_parse(argc, argv, opts, pos, 1, &npos, &f.help)) return 2;
  if (f.help || npos != 1) {
    fputs(PROFILE_HELP, f.help ? stdout : stderr);
    return f.help ? 0 : 2;
  }
  fp_diag d;
  fp_diag_clear(&d);
  cli_job_opts jo;
  fp_contract *contract = NULL;
  int rc = cli_job_opts_build(cfg, &f.dialect, &jo);
  if (!rc) rc = setup_contract(cfg, &f, false, &contract, &jo);
  fp_job_result r;
  cli_progress bar;
  cli_progress_init(&bar, f.quiet);
  cli_progress_attach(&bar, &jo.job);
  cli_progress_start(&bar, strcmp(pos[0], "-") == 0 ? "standard input" : pos[0]);
  jo.job.want_html = f.report_html != NULL;
  if (!rc) {
    fp_err e = fp_job_profile_path(&jo.job, pos[0], &r, &d);
    cli_progress_clear(&bar);
    if (e) rc = cli_fail(&d);
  }
  if (rc) {
    fp_contract_free(contract);
    cli_job_opts_free(&jo);
    return rc;
  }
  if (!f.quiet) fputs(r.summary, stderr);
  const char *report = f.report;
  if (!report && !isatty(1)) report = "-";
  rc = report ? cli_write_output(report, r.report_json, strlen(r.report_json)) : 0;
  if (!rc && f.report_html) rc = cli_write_output(f.report_html, r.report_html, strlen(r.report_html));
  if (!rc && r.verdict == FP_VERDICT_FAILED) rc = 1;
  fp_job_result_free(&r);
  fp_contract_free(contract);
  cli_job_opts_free(&jo);
  return rc;
}

static const char INFER_HELP[] =
    "Usage: file-processing infer FILE|- [--name NAME] [--key KEY] [dialect options]\n"
    "\n"
    "Profiles FILE and prints a draft dataset contract (YAML) that validates the same file\n"
    "with zero errors: one field per column with the inferred type, required where no value\n"
    "was missing, enum for low-cardinality text columns. Edit it, then put it in\n"
    "$FP_CONTRACTS_DIR with a match glob for the deliveries it governs.\n"
    "\n"
    "Options:\n"
    "  --name NAME            contract name (default: the file name without extension)\n"
    "  --key KEY              object key to put in match: (default: FILE)\n"
    "  --delimiter C, --quote C, --no-header   as for `run`\n"
    "\n"
    "Examples:\n"
    "  file-processing infer Officer_Detail.csv > contracts/officer_detail.yaml\n"
    "  file-processing infer export.csv --name city_export --key 'from_client/*/export*.csv'\n";

/* Contract name from a path: base name up to the first '.'. */
static void name_from_path(const char *path, char *out, size_t outsz) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  size_t n = strcspn(base, ".");
  snprintf(out, outsz, "%.*s", (int)n, n ? base : "dataset");
  for (char *c = out; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-'))
      *c = '_';
}

int cmd_infer(const fp_config *cfg, int argc, char **argv) {
  run_flags f = {0};
  const char *name = NULL, *key = NULL;
  const cli_opt opts[] = {{"name", &name, NULL}, {"key", &key, NULL}, DIALECT_OPTS(f), {NULL, NULL, NULL}};
  const char *pos[1];
  size_t npos;
  if (cli_parse(argc, argv, opts, pos, 1, &npos, &f.help)) return 2;
  if (f.help || npos != 1) {
    fputs(INFER_HELP, f.help ? stdout : stderr);
    return f.help ? 0 : 2;
  }
  char dflt[128];
  name_from_path(strcmp(pos[0], "-") == 0 ? "dataset" : pos[0], dflt, sizeof dflt);
  cli_job_opts jo;
  int rc = cli_job_opts_build(cfg, &f.dialect, &jo);
  if (rc) return rc;
  jo.job.infer_name = name ? name : dflt;
  jo.job.infer_key = key;
  fp_job_result r;
  fp_diag d;
  fp_diag_clear(&d);
  if (fp_job_profile_path(&jo.job, pos[0], &r, &d)) {
    cli_job_opts_free(&jo);
    return cli_fail(&d);
  }
  rc = cli_write_output("-", r.contract_draft, strlen(r.contract_draft));
  fprintf(stderr, "file-processing: drafted contract '%s' from %llu rows x %u columns\n",
          jo.job.infer_name, (unsigned long long)r.rows, r.columns);
  fp_job_result_free(&r);
  cli_job_opts_free(&jo);
  return rc;
}
