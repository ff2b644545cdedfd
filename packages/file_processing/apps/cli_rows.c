/* cli_rows.c — `rows` (what the CSV reader saw, as JSON lines), `runs` (history, one run,
 * pinning baselines), `db migrate`. */
#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fp/fp_buf.h"
#include "fp/fp_csv.h"

static const char ROWS_HELP[] =
    "Usage: file-processing rows FILE|- [--delimiter C] [--quote C] [--count]\n"
    "\n"
    "Prints every record the CSV reader parsed as one JSON array of strings per line, the\n"
    "header included: the debugging view of what the job sees. Invalid UTF-8 bytes print as\n"
    "U+FFFD. gzip and zstd input is decompressed. --count prints only the number of records.\n"
    "\n"
    "Examples:\n"
    "  file-processing rows Officer_Detail.csv | head -3\n"
    "  file-processing rows big.csv.zst --count\n";

typedef struct rows_out {
  fp_buf buf;
  uint64_t records;
  bool count_only;
} rows_out;

static int flush_out(rows_out *o) {
  if (!o->buf.len) return 0;
  const char *p = o->buf.data;
  size_t n = o->buf.len;
  while (n) {
    ssize_t w = write(STDOUT_FILENO, p, n);
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  fp_buf_reset(&o->buf);
  return 0;
}

/* JSON string body for one cell; invalid UTF-8 becomes U+FFFD so every line is valid JSON. */
static fp_err put_json_cell(fp_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  fp_err e = fp_buf_putc(b, '"');
  size_t i = 0;
  while (!e && i < n) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x80) {
      size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
      if (len > 1 && i + len <= n && fp_utf8_valid_prefix(s + i, len) == len) {
        e = fp_buf_append(b, s + i, len);
        i += len;
      } else {
        e = fp_buf_puts(b, "\xEF\xBF\xBD");
        i++;
      }
    } else if (c == '"' || c == '\\') {
      char esc[2] = {'\\', (char)c};
      e = fp_buf_append(b, esc, 2);
      i++;
    } else if (c < 0x20) {
      char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      e = fp_buf_append(b, esc, 6);
      i++;
    } else {
      size_t run = 1;
      while (i + run < n && (unsigned char)s[i + run] >= 0x20 && (unsigned char)s[i + run] < 0x80 &&
             s[i + run] != '"' && s[i + run] != '\\')
        run++;
      e = fp_buf_append(b, s + i, run);
      i += run;
    }
  }
  return e ? e : fp_buf_putc(b, '"');
}

static fp_err on_row(void *ud, const fp_csv_record *rec, fp_diag *d) {
  rows_out *o = ud;
  o->records++;
  if (o->count_only) return FP_OK;
  fp_err e = fp_buf_putc(&o->buf, '[');
  for (uint32_t i = 0; !e && i < rec->ncells; i++) {
    if (i) e = fp_buf_putc(&o->buf, ',');
    if (!e) e = put_json_cell(&o->buf, rec->cells[i].ptr, rec->cells[i].len);
  }
  if (!e) e = fp_buf_append(&o->buf, "]\n", 2);
  if (e) return fp_diag_set(d, e, "formatting record %" PRIu64, rec->index);
  if (o->buf.len >= (1u << 20) && flush_out(o))
    return fp_diag_set(d, FP_ERR_IO, "writing standard output");
  return FP_OK;
}

static fp_err feed_reader(void *ud, const char *buf, size_t n, fp_diag *d) {
  return fp_csv_reader_feed(ud, buf, n, d);
}

int cmd_rows(const fp_config *cfg, int argc, char **argv) {
  cli_dialect_flags df = {0};
  bool help = false, count = false;
  const cli_opt opts[] = {{"delimiter", &df.delimiter, NULL}, {"quote", &df.quote, NULL},
                          {"no-header", NULL, &df.no_header}, {"count", NULL, &count},
                          {NULL, NULL, NULL}};
  const char *pos[1];
  size_t npos;
  if (cli_parse(argc, argv, opts, pos, 1, &npos, &help)) return 2;
  if (help || npos != 1) {
    fputs(ROWS_HELP, help ? stdout : stderr);
    return help ? 0 : 2;
  }
  cli_job_opts jo;
  int rc = cli_job_opts_build(cfg, &df, &jo);
  if (rc) return rc;
  rows_out out = {.count_only = count};
  fp_buf_init(&out.buf, 0);
  fp_csv_opts co = jo.job.csv;
  co.on_record = on_row;
  co.ud = &out;
  fp_csv_reader *r = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  fp_err e = fp_csv_reader_new(&co, &r, &d);
  if (!e) e = fp_source_path(pos[0], feed_reader, r, &d);
  if (!e) e = fp_csv_reader_finish(r, &d);
  if (!e && flush_out(&out)) e = fp_diag_set(&d, FP_ERR_IO, "writing standard output");
  if (!e && count) printf("%" PRIu64 "\n", out.records);
  rc = e ? cli_fail(&d) : 0;
  fp_csv_reader_free(r);
  fp_buf_free(&out.buf);
  cli_job_opts_free(&jo);
  return rc;
}

static const char RUNS_HELP[] =
    "Usage: file-processing runs [list] [--dataset NAME] [--key PREFIX] [--since DATE]\n"
    "                            [--limit N] [--json]\n"
    "       file-processing runs show ID [--json]\n"
    "       file-processing runs pin ID | unpin ID\n"
    "       (all take --database-url URL; default DATABASE_URL)\n"
    "\n"
    "Reads the results database. `list` (the default) shows recorded runs, newest first:\n"
    "--dataset keeps one dataset (a contract name, else the object key without its date,\n"
    "see `runs show`), --key keeps keys starting with PREFIX, --since keeps runs finished on\n"
    "or after DATE (YYYY-MM-DD or an ISO 8601 time, UTC), --limit caps the rows (default\n"
    "20). A '*' in the PIN column marks a dataset's pinned baseline.\n"
    "`show` summarises one run: verdict, dataset, object, rows, findings by code and the\n"
    "baseline its drift was measured against; --json prints the stored JSON report instead.\n"
    "`pin` makes a run the baseline every later delivery of its dataset is compared with\n"
    "(replacing the dataset's previous pin); `unpin` removes it, and the baseline is again\n"
    "the most recent earlier run that passed.\n"
    "\n"
    "Examples:\n"
    "  file-processing runs\n"
    "  file-processing runs list --dataset officer_detail --since 2026-11-01\n"
    "  file-processing runs list --key from_client/nm_albuquerque/ --json | jq '.[0].id'\n"
    "  file-processing runs show 3\n"
    "  file-processing runs show 3 --json | jq .findings.by_code\n"
    "  file-processing runs pin 3\n";

static int open_store(const fp_config *cfg, const char *url_flag, fp_store **st) {
  fp_diag d;
  fp_diag_clear(&d);
  const char *url = url_flag ? url_flag : fp_config_str(cfg, "DATABASE_URL", "sqlite:///file_processing.db");
  return fp_store_open(url, st, &d) ? cli_fail(&d) : 0;
}

static const char *or_empty(const char *s) {
  return s ? s : "";
}

/* "s3://bucket/key @version" as the listing shows an object; owned (free). */
static char *object_text(const fp_store_run_summary *s) {
  fp_buf b;
  fp_buf_init(&b, 0);
  if (fp_buf_appendf(&b, "s3://%s/%s%s%s", or_empty(s->bucket), or_empty(s->key),
                     s->object_version && *s->object_version ? " @" : "",
                     or_empty(s->object_version)) != FP_OK) {
    fp_buf_free(&b);
    return NULL;
  }
  return fp_buf_take(&b);
}

static json_t *summary_json(const fp_store_run_summary *s) {
  json_t *o = json_object();
  json_object_set_new(o, "id", json_integer(s->id));
  json_object_set_new(o, "dataset", s->dataset ? json_string(s->dataset) : json_null());
  json_object_set_new(o, "bucket", json_string(or_empty(s->bucket)));
  json_object_set_new(o, "key", json_string(or_empty(s->key)));
  json_object_set_new(o, "object_version", json_string(or_empty(s->object_version)));
  json_object_set_new(o, "contract", s->contract ? json_string(s->contract) : json_null());
  json_object_set_new(o, "verdict", json_string(or_empty(s->verdict)));
  json_object_set_new(o, "pinned", json_boolean(s->pinned));
  json_object_set_new(o, "rows", json_integer((json_int_t)s->rows));
  json_object_set_new(o, "errors", json_integer((json_int_t)s->errors));
  json_object_set_new(o, "warnings", json_integer((json_int_t)s->warnings));
  json_object_set_new(o, "event_time", s->event_time ? json_string(s->event_time) : json_null());
  json_object_set_new(o, "finished_at", json_string(or_empty(s->finished_at)));
  return o;
}

/* Prints obj (stolen) as indented JSON on stdout. */
static int print_json(json_t *obj) {
  char *text = obj ? json_dumps(obj, JSON_INDENT(2)) : NULL;
  json_decref(obj);
  if (!text) {
    fprintf(stderr, "file-processing: out of memory\n");
    return 3;
  }
  int rc = puts(text) < 0 ? 3 : 0;
  free(text);
  return rc;
}

static int text_width(const char *s, int min) {
  int n = (int)strlen(or_empty(s));
  return n > min ? n : min;
}

static void print_table(const fp_store_run_list *l) {
  int wd = 7, wv = 7;
  for (size_t i = 0; i < l->n; i++) {
    wd = text_width(l->items[i].dataset, wd);
    wv = text_width(l->items[i].verdict, wv);
  }
  if (wd > 60) wd = 60;
  printf("%-6s %-*s %-3s %10s %7s %7s  %-24s  %-*s  %s\n", "ID", wv, "VERDICT", "PIN", "ROWS",
         "ERRORS", "WARNS", "FINISHED", wd, "DATASET", "OBJECT");
  for (size_t i = 0; i < l->n; i++) {
    const fp_store_run_summary *s = &l->items[i];
    char *obj = object_text(s);
    printf("%-6lld %-*s %-3s %10" PRIu64 " %7" PRIu64 " %7" PRIu64 "  %-24s  %-*.*s  %s\n",
           (long long)s->id, wv, or_empty(s->verdict), s->pinned ? "*" : "", s->rows, s->errors,
           s->warnings, or_empty(s->finished_at), wd, wd, s->dataset ? s->dataset : "-",
           obj ? obj : "");
    free(obj);
  }
  if (l->n == 0) printf("(no runs match)\n");
}

static int runs_list(fp_store *st, const fp_store_run_filter *f, bool json) {
  fp_store_run_list l = {0};
  fp_diag d;
  fp_diag_clear(&d);
  if (fp_store_find_runs(st, f, &l, &d)) return cli_fail(&d);
  int rc = 0;
  if (json) {
    json_t *a = json_array();
    for (size_t i = 0; i < l.n; i++) json_array_append_new(a, summary_json(&l.items[i]));
    rc = print_json(a);
  } else {
    print_table(&l);
  }
  fp_store_run_list_free(&l);
  return rc;
}

/* The readable form of `runs show`: the summary row plus what the stored report adds. */
static void show_text(const fp_store_run_summary *s, const char *report) {
  json_t *r = json_loads(report, 0, NULL);
  char *obj = object_text(s);
  printf("run %lld%s\n", (long long)s->id, s->pinned ? "  (pinned baseline of its dataset)" : "");
  printf("  verdict     %s (%" PRIu64 " errors, %" PRIu64 " warnings)\n", or_empty(s->verdict),
         s->errors, s->warnings);
  printf("  dataset     %s\n", s->dataset ? s->dataset : "- (recorded before datasets existed)");
  printf("  object      %s\n", obj ? obj : "");
  printf("  contract    %s\n", s->contract ? s->contract : "-");
  const json_t *t = json_object_get(r, "table");
  printf("  rows        %" PRIu64 " x %lld columns\n", s->rows,
         (long long)json_integer_value(json_object_get(t, "columns")));
  printf("  delivered   %s\n", s->event_time ? s->event_time : "- (no event time)");
  printf("  finished    %s\n", or_empty(s->finished_at));
  const json_t *dr = json_object_get(r, "drift");
  if (json_is_object(dr))
    printf("  baseline    run %lld (%s, finished %s)\n",
           (long long)json_integer_value(json_object_get(dr, "baseline_run_id")),
           or_empty(json_string_value(json_object_get(dr, "baseline_key"))),
           or_empty(json_string_value(json_object_get(dr, "baseline_finished_at"))));
  else
    printf("  baseline    none (no earlier delivery to compare with)\n");
  const json_t *groups = json_object_get(json_object_get(r, "findings"), "groups");
  if (!json_array_size(groups)) printf("  findings    none\n");
  /* by code, with severity, summed over fields, in first-seen order */
  for (size_t i = 0; i < json_array_size(groups); i++) {
    const json_t *g = json_array_get(groups, i);
    const char *code = json_string_value(json_object_get(g, "code"));
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++)
      seen = !strcmp(or_empty(code), or_empty(json_string_value(
                                          json_object_get(json_array_get(groups, j), "code"))));
    if (seen) continue;
    json_int_t total = 0;
    size_t fields = 0;
    for (size_t j = i; j < json_array_size(groups); j++) {
      const json_t *h = json_array_get(groups, j);
      if (strcmp(or_empty(code), or_empty(json_string_value(json_object_get(h, "code"))))) continue;
      total += json_integer_value(json_object_get(h, "count"));
      fields++;
    }
    printf("  %-11s %-8s %-20s %8lld  (%zu group%s)\n", i ? "" : "findings",
           or_empty(json_string_value(json_object_get(g, "severity"))), or_empty(code),
           (long long)total, fields, fields == 1 ? "" : "s");
  }
  /* drift findings say what changed: show their first note */
  for (size_t i = 0; i < json_array_size(groups); i++) {
    const json_t *g = json_array_get(groups, i);
    const char *code = or_empty(json_string_value(json_object_get(g, "code")));
    size_t n = strlen(code);
    if (n < 6 || strcmp(code + n - 6, "-drift")) continue;
    const json_t *smp = json_object_get(g, "samples");
    for (size_t k = 0; k < json_array_size(smp); k++)
      printf("    %s: %s\n", code,
             or_empty(json_string_value(json_object_get(json_array_get(smp, k), "note"))));
  }
  free(obj);
  json_decref(r);
}

static int runs_show(fp_store *st, long long id, bool json) {
  fp_store_run_summary s;
  char *report = NULL;
  fp_diag d;
  fp_diag_clear(&d);
  if (fp_store_get_run(st, id, &s, &report, &d)) return cli_fail(&d);
  int rc = 0;
  if (json)
    rc = cli_write_output("-", report, strlen(report));
  else
    show_text(&s, report);
  free(report);
  fp_store_run_summary_clear(&s);
  return rc;
}

static int runs_pin(fp_store *st, long long id, bool pin) {
  fp_diag d;
  fp_diag_clear(&d);
  if (fp_store_set_pinned(st, id, pin, &d)) return cli_fail(&d);
  fp_store_run_summary s;
  if (fp_store_get_run(st, id, &s, NULL, &d)) return cli_fail(&d);
  if (pin)
    printf("run %lld pinned: later deliveries of dataset '%s' are compared with it\n", id,
           or_empty(s.dataset));
  else
    printf("run %lld unpinned%s%s%s\n", id, s.dataset ? " (dataset '" : "", or_empty(s.dataset),
           s.dataset ? "')" : "");
  fp_store_run_summary_clear(&s);
  return 0;
}

static int parse_id(const char *sub, size_t npos, const char **pos, long long *id) {
  if (npos != 2) return cli_usage_error("runs", "runs %s needs a run ID", sub);
  char *end = NULL;
  *id = strtoll(pos[1], &end, 10);
  if (*end || *id <= 0 || !*pos[1])
    return cli_usage_error("runs", "run ID must be a positive number, got '%s'", pos[1]);
  return 0;
}

int cmd_runs(const fp_config *cfg, int argc, char **argv) {
  const char *url = NULL, *limit_s = NULL;
  fp_store_run_filter f = {0};
  bool help = false, json = false;
  const cli_opt opts[] = {{"database-url", &url, NULL}, {"limit", &limit_s, NULL},
                          {"dataset", &f.dataset, NULL}, {"key", &f.key_prefix, NULL},
                          {"since", &f.since, NULL},     {"json", NULL, &json},
                          {NULL, NULL, NULL}};
  const char *pos[3];
  size_t npos;
  if (cli_parse(argc, argv, opts, pos, 3, &npos, &help)) return 2;
  if (help) return fputs(RUNS_HELP, stdout), 0;
  const char *sub = npos ? pos[0] : "list";
  char *end = NULL;
  long long id = 0;
  f.limit = limit_s ? strtoul(limit_s, &end, 10) : 20;
  if (limit_s && (*end || !*limit_s || f.limit == 0))
    return cli_usage_error("runs", "--limit expects a positive number, got '%s'", limit_s);
  if (f.since && (strlen(f.since) < 4 || !isdigit((unsigned char)f.since[0])))
    return cli_usage_error("runs", "--since expects a date like 2026-11-01, got '%s'", f.since);
  bool is_list = !strcmp(sub, "list");
  if (is_list) {
    if (npos > 1) return cli_usage_error("runs", "runs list takes no positional argument");
  } else if (!strcmp(sub, "show") || !strcmp(sub, "pin") || !strcmp(sub, "unpin")) {
    int rc = parse_id(sub, npos, pos, &id);
    if (rc) return rc;
    if (f.dataset || f.key_prefix || f.since || limit_s)
      return cli_usage_error("runs", "--dataset, --key, --since and --limit apply to runs list");
    if (json && strcmp(sub, "show"))
      return cli_usage_error("runs", "--json applies to runs list and runs show");
  } else {
    return cli_usage_error("runs", "unknown runs command '%s' (list, show, pin, unpin)", sub);
  }
  fp_store *st = NULL;
  int rc = open_store(cfg, url, &st);
  if (rc) return rc;
  if (is_list)
    rc = runs_list(st, &f, json);
  else if (!strcmp(sub, "show"))
    rc = runs_show(st, id, json);
  else
    rc = runs_pin(st, id, !strcmp(sub, "pin"));
  fp_store_close(st);
  return rc;
}

int cmd_db(const fp_config *cfg, int argc, char **argv) {
  const char *url = NULL;
  bool help = false;
  const cli_opt opts[] = {{"database-url", &url, NULL}, {NULL, NULL, NULL}};
  const char *pos[1];
  size_t npos;
  if (cli_parse(argc, argv, opts, pos, 1, &npos, &help)) return 2;
  if (help || npos != 1 || strcmp(pos[0], "migrate") != 0) {
    fputs("Usage: file-processing db migrate [--database-url URL]\n"
          "Applies the results-database migrations it lacks (also done on every open).\n",
          help ? stdout : stderr);
    return help ? 0 : 2;
  }
  fp_store *st = NULL;
  int rc = open_store(cfg, url, &st);
  if (rc) return rc;
  fprintf(stderr, "file-processing: %s database at schema version %d\n", fp_store_backend(st),
          fp_store_schema_version(st));
  fp_store_close(st);
  return 0;
}
