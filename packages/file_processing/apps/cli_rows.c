/* cli_rows.c — `rows` (what the CSV reader saw, as JSON lines), `runs`, `db migrate`. */
#include <inttypes.h>
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
    "Usage: file-processing runs [list [--limit N]] | show ID  [--database-url URL]\n"
    "\n"
    "Reads the results database: `list` shows the most recent runs (newest first), `show`\n"
    "prints the stored JSON report of one run.\n"
    "\n"
    "Examples:\n"
    "  file-processing runs\n"
    "  file-processing runs show 3 | jq .findings.by_code\n";

static int open_store(const fp_config *cfg, const char *url_flag, fp_store **st) {
  fp_diag d;
  fp_diag_clear(&d);
  const char *url = url_flag ? url_flag : fp_config_str(cfg, "DATABASE_URL", "sqlite:///file_processing.db");
  return fp_store_open(url, st, &d) ? cli_fail(&d) : 0;
}

static int runs_list(fp_store *st, size_t limit) {
  fp_store_run_list l = {0};
  fp_diag d;
  fp_diag_clear(&d);
  if (fp_store_list_runs(st, limit, &l, &d)) return cli_fail(&d);
  printf("%-6s %-8s %10s %7s %7s  %-24s %s\n", "ID", "VERDICT", "ROWS", "ERRORS", "WARNS", "FINISHED", "OBJECT");
  for (size_t i = 0; i < l.n; i++) {
    const fp_store_run_summary *s = &l.items[i];
    printf("%-6lld %-8s %10" PRIu64 " %7" PRIu64 " %7" PRIu64 "  %-24s s3://%s/%s%s%s\n",
           (long long)s->id, s->verdict, s->rows, s->errors, s->warnings,
           s->finished_at ? s->finished_at : "", s->bucket, s->key,
           s->object_version && *s->object_version ? " @" : "",
           s->object_version ? s->object_version : "");
  }
  if (l.n == 0) printf("(no runs recorded yet)\n");
  fp_store_run_list_free(&l);
  return 0;
}

int cmd_runs(const fp_config *cfg, int argc, char **argv) {
  const char *url = NULL, *limit_s = NULL;
  bool help = false;
  const cli_opt opts[] = {{"database-url", &url, NULL}, {"limit", &limit_s, NULL}, {NULL, NULL, NULL}};
  const char *pos[2];
  size_t npos;
  if (cli_parse(argc, argv, opts, pos, 2, &npos, &help)) return 2;
  if (help) return fputs(RUNS_HELP, stdout), 0;
  const char *sub = npos ? pos[0] : "list";
  char *end = NULL;
  long long id = 0;
  size_t limit = limit_s ? strtoul(limit_s, &end, 10) : 20;
  if (limit_s && (*end || !*limit_s)) return cli_usage_error("runs", "--limit expects a number");
  if (strcmp(sub, "show") == 0) {
    if (npos != 2) return cli_usage_error("runs", "runs show needs a run ID");
    id = strtoll(pos[1], &end, 10);
    if (*end || id <= 0) return cli_usage_error("runs", "run ID must be a positive number, got '%s'", pos[1]);
  } else if (strcmp(sub, "list") != 0 || npos > 1) {
    return cli_usage_error("runs", "unknown runs command '%s'", sub);
  }
  fp_store *st = NULL;
  int rc = open_store(cfg, url, &st);
  if (rc) return rc;
  if (strcmp(sub, "list") == 0) {
    rc = runs_list(st, limit);
  } else {
    char *json = NULL;
    fp_diag d;
    fp_diag_clear(&d);
    rc = fp_store_get_report(st, id, &json, &d) ? cli_fail(&d) : cli_write_output("-", json, strlen(json));
    free(json);
  }
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
