/* pipeline.c — source → (decompress) → CSV reader → profiler → report → results DB.
 * The one code path behind `run s3_data_quality_job`, `profile`, and (later) the workers. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fp/fp_buf.h"
#include "fp/fp_job.h"
#include "fp/fp_log.h"
#include "fp/fp_stream.h"
#include "jobs/jobs_int.h"

void fp_job_opts_default(fp_job_opts *o) {
  memset(o, 0, sizeof *o);
  fp_csv_opts_default(&o->csv);
  o->csv.sniff = true;
  fp_profile_opts_default(&o->profile);
  fp_checker_opts_default(&o->checker);
  o->sample_cap = 100;
  o->report_indent = 2;
}

void fp_job_result_free(fp_job_result *r) {
  if (!r) return;
  free(r->report_json);
  free(r->summary);
  free(r->contract_draft);
  free(r->report_uri);
  free(r->report_html);
  memset(r, 0, sizeof *r);
  r->run_id = -1;
}

/* ---- decompression chosen by extension, else by magic bytes ---------------------- */

typedef struct autodec {
  fp_compression kind; /* from the name; NONE = look at the magic */
  int decided;
  unsigned char head[4];
  size_t nhead;
  fp_decoder *dec;
  fp_sink_fn next;
  void *next_ud;
} autodec;

static fp_compression magic_kind(const unsigned char *h, size_t n) {
  if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b) return FP_COMPRESSION_GZIP;
  if (n >= 4 && h[0] == 0x28 && h[1] == 0xb5 && h[2] == 0x2f && h[3] == 0xfd)
    return FP_COMPRESSION_ZSTD;
  return FP_COMPRESSION_NONE;
}

static fp_err autodec_decide(autodec *a, fp_diag *d) {
  a->decided = 1;
  if (a->kind == FP_COMPRESSION_NONE) a->kind = magic_kind(a->head, a->nhead);
  if (a->kind != FP_COMPRESSION_NONE) {
    fp_err e = fp_decoder_new(a->kind, a->next, a->next_ud, &a->dec, d);
    if (e) return e;
  }
  if (!a->nhead) return FP_OK;
  return a->dec ? fp_decoder_sink(a->dec, (const char *)a->head, a->nhead, d)
                : a->next(a->next_ud, (const char *)a->head, a->nhead, d);
}

/* Holds back at most 4 bytes until the magic can be read, then passes everything on. */
static fp_err autodec_sink(void *ud, const char *buf, size_t n, fp_diag *d) {
  autodec *a = ud;
  if (!a->decided) {
    while (n && a->nhead < sizeof a->head) a->head[a->nhead++] = (unsigned char)*buf++, n--;
    if (a->nhead < sizeof a->head) return FP_OK;
    fp_err e = autodec_decide(a, d);
    if (e) return e;
  }
  if (!n) return FP_OK;
  return a->dec ? fp_decoder_sink(a->dec, buf, n, d) : a->next(a->next_ud, buf, n, d);
}

static fp_err autodec_finish(autodec *a, fp_diag *d) {
  fp_err e = a->decided ? FP_OK : autodec_decide(a, d);
  if (!e && a->dec) e = fp_decoder_finish(a->dec, d);
  return e;
}

/* ---- CSV → profiler ------------------------------------------------------------- */

typedef struct pipeline {
  const fp_job_opts *o;
  fp_compression compression; /* what the source turned out to be */
  const fp_contract *contract; /* the one in force, borrowed or owned_contract */
  fp_contract *owned_contract; /* looked up by key */
  fp_csv_reader *reader;
  fp_findings *findings;
  fp_profiler *prof;
  fp_checker *checker;
} pipeline;

/* Profiler and checker are made at the first record: only then is a sniffed dialect known. */
static fp_err ensure_consumers(pipeline *p, fp_diag *d) {
  if (p->prof) return FP_OK;
  bool header = fp_csv_reader_dialect(p->reader)->header;
  fp_profile_opts po = p->o->profile;
  if (p->contract && p->contract->nmissing) {
    /* The checker leaves blank rows to the profiler: both must agree on what is missing. */
    po.missing_values = (const char *const *)p->contract->missing_values;
    po.nmissing = p->contract->nmissing;
  }
  /* With threads to spare, the checker gets one of them and the profiler's columns the
   * rest; the profiler adds a record's findings before the checker gets the record. */
  fp_checker_opts co = p->o->checker;
  if (p->contract && po.threads > 1) {
    co.threaded = true;
    po.threads--;
  }
  fp_err e = fp_profiler_new(&po, header, p->findings, &p->prof, d);
  if (!e && p->contract)
    e = fp_checker_new(p->contract, &co, header, p->findings, &p->checker, d);
  return e;
}

static fp_err on_record(void *ud, const fp_csv_record *rec, fp_diag *d) {
  pipeline *p = ud;
  fp_err e = ensure_consumers(p, d);
  if (!e) e = fp_profiler_record(p->prof, rec, d);
  if (!e && p->checker) e = fp_checker_record(p->checker, rec, d);
  return e;
}

/* The contract in force: the caller's, else the most specific match for the key. */
static fp_err resolve_contract(pipeline *p, const char *key, fp_diag *d) {
  p->contract = p->o->contract;
  if (p->contract || !p->o->contracts_dir || !key) return FP_OK;
  char *path = NULL;
  fp_err e = fp_contract_find(p->o->contracts_dir, key, &path, d);
  if (!e && path) {
    e = fp_contract_load_file(path, &p->owned_contract, d);
    p->contract = p->owned_contract;
  }
  if (!e && p->contract) fp_info("contract %s (%s) applies to %s", p->contract->name, p->contract->path, key);
  free(path);
  return e;
}

static fp_err csv_sink(void *ud, const char *buf, size_t n, fp_diag *d) {
  return fp_csv_reader_feed(ud, buf, n, d);
}

/* Counts stored bytes for opts.progress before they reach the decompressor. The total is
 * read on every call: an object source learns the size only once the store answered. */
typedef struct progress_sink {
  const fp_job_opts *o;
  const fp_report_input *ri;
  uint64_t done;
  autodec *next;
} progress_sink;

static fp_err progress_feed(void *ud, const char *buf, size_t n, fp_diag *d) {
  progress_sink *ps = ud;
  ps->done += n;
  ps->o->progress(ps->o->progress_ud, ps->done, ps->ri->size);
  return autodec_sink(ps->next, buf, n, d);
}

static double elapsed_ms(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void pipeline_free(pipeline *p) {
  fp_checker_free(p->checker);
  fp_contract_free(p->owned_contract);
  fp_profiler_free(p->prof);
  fp_csv_reader_free(p->reader);
  fp_findings_free(p->findings);
}

/* Findings collector with the contract's sample cap and severity overrides. */
static fp_err make_findings(pipeline *p, fp_diag *d) {
  size_t cap = p->contract && p->contract->sample_cap ? p->contract->sample_cap : p->o->sample_cap;
  fp_err e = fp_findings_new(cap, &p->findings);
  if (!e && p->contract) e = fp_contract_apply_overrides(p->contract, p->findings);
  return e ? fp_diag_set(d, e, "allocating findings") : FP_OK;
}

/* Streams src through the reader into fresh consumers. On success p holds the results. */
static fp_err pipeline_feed(pipeline *p, fp__source_fn src, void *src_ud, fp_compression hint,
                            const fp_report_input *ri, fp_diag *d) {
  fp_err e = resolve_contract(p, ri->key, d);
  if (!e) e = make_findings(p, d);
  if (e) return e;
  fp_csv_opts co = p->o->csv;
  if (p->contract && p->contract->has_dialect) {
    co.dialect = p->contract->dialect;
    co.sniff = false;
  }
  co.on_record = on_record;
  co.ud = p;
  e = fp_csv_reader_new(&co, &p->reader, d);
  if (e) return e;
  autodec a = {.kind = hint, .next = csv_sink, .next_ud = p->reader};
  progress_sink ps = {.o = p->o, .ri = ri, .next = &a};
  e = p->o->progress ? src(src_ud, progress_feed, &ps, d) : src(src_ud, autodec_sink, &a, d);
  if (!e) e = autodec_finish(&a, d);
  p->compression = a.kind;
  fp_decoder_free(a.dec);
  if (!e) e = fp_csv_reader_finish(p->reader, d);
  if (!e) e = ensure_consumers(p, d);
  if (!e) e = fp_profiler_finish(p->prof, fp_csv_reader_bytes(p->reader), d);
  if (!e && p->checker) e = fp_checker_finish(p->checker, d);
  if (!e && fp_profiler_table(p->prof)->columns == 0)
    e = fp_findings_add(p->findings, "source-error", FP_SEV_ERROR, 0, 0, NULL, NULL, 0,
                        "the file is empty: no header and no rows");
  return e;
}

fp_err fp__pipeline_run(const fp_job_opts *o, fp__source_fn src, void *src_ud,
                        fp_compression hint, fp_report_input *ri, fp_job_result *out,
                        fp_diag *d) {
  memset(out, 0, sizeof *out);
  out->run_id = -1;
  char started[40], finished[40];
  fp_now_iso8601(started, sizeof started);
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pipeline p = {.o = o};
  fp__drift_result drift = {0};
  fp_err e = pipeline_feed(&p, src, src_ud, hint, ri, d);
  if (!e) {
    if (p.contract) {
      ri->contract = p.contract->name;
      ri->contract_path = p.contract->path;
      ri->rows_with_errors = p.checker ? fp_checker_rows_with_errors(p.checker) : 0;
    }
    fp_now_iso8601(finished, sizeof finished);
    ri->compression = fp_compression_name(p.compression);
    ri->dialect = fp_csv_reader_dialect(p.reader);
    ri->dialect_sniffed = fp_csv_reader_sniffed(p.reader);
    ri->profiler = p.prof;
    ri->findings = p.findings;
    ri->started_at = started;
    ri->finished_at = finished;
    ri->duration_ms = elapsed_ms(&t0);
    /* drift findings count in the verdict, the report, the DB and the summary */
    e = fp__drift_step(o, p.contract, ri, p.prof, p.findings, &drift, d);
    ri->verdict = fp_verdict_of(p.findings);
    if (!e) e = fp__job_finish(o, ri, out, d);
  }
  fp__drift_result_free(&drift);
  pipeline_free(&p);
  if (e) fp_job_result_free(out);
  return e;
}

/* ---- sources -------------------------------------------------------------------- */

static fp_err stream_fd(int fd, const char *name, fp_sink_fn sink, void *ud, fp_diag *d) {
  enum { CHUNK = 1 << 20 };
  char *buf = malloc(CHUNK);
  if (!buf) return fp_diag_set(d, FP_ERR_NOMEM, "read buffer");
  fp_err e = FP_OK;
  for (;;) {
    ssize_t n = read(fd, buf, CHUNK);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (d && !d->code) d->sys_errno = errno;
      e = fp_diag_set(d, FP_ERR_IO, "reading %s: %s", name, strerror(errno));
      break;
    }
    if (n == 0) break;
    e = sink(ud, buf, (size_t)n, d);
    if (e) break;
  }
  free(buf);
  return e;
}

static fp_err open_path(const char *path, int *fd, fp_diag *d) {
  *fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
  if (*fd >= 0) return FP_OK;
  fp_err code = errno == ENOENT ? FP_ERR_NOT_FOUND : errno == EACCES ? FP_ERR_FORBIDDEN : FP_ERR_IO;
  fp_diag_key(d, path);
  return fp_diag_set(d, code, "cannot open %s: %s", path, strerror(errno));
}

/* fp__source_fn over a path ("-" = stdin); raw bytes, no decompression. */
static fp_err path_source(void *ud, fp_sink_fn sink, void *sink_ud, fp_diag *d) {
  const char *path = ud;
  int fd;
  fp_err e = open_path(path, &fd, d);
  if (e) return e;
  bool is_stdin = fd == STDIN_FILENO;
  e = stream_fd(fd, is_stdin ? "standard input" : path, sink, sink_ud, d);
  if (!is_stdin) close(fd);
  return e;
}

fp_err fp_source_path(const char *path, fp_sink_fn sink, void *ud, fp_diag *d) {
  autodec a = {.kind = strcmp(path, "-") == 0 ? FP_COMPRESSION_NONE : fp_compression_from_key(path),
               .next = sink, .next_ud = ud};
  fp_err e = path_source((void *)path, autodec_sink, &a, d);
  if (!e) e = autodec_finish(&a, d);
  fp_decoder_free(a.dec);
  return e;
}

fp_err fp_job_profile_path(const fp_job_opts *o, const char *path, fp_job_result *out,
                           fp_diag *d) {
  bool is_stdin = strcmp(path, "-") == 0;
  fp_report_input ri = {
      .job_name = "profile",
      .key = is_stdin ? NULL : path,
      .size = -1,
      .location = is_stdin ? "standard input" : path,
      .backend = is_stdin ? "stdin" : "file",
  };
  struct stat st; /* stored size: the report's source.size and the progress total */
  if (!is_stdin && stat(path, &st) == 0 && S_ISREG(st.st_mode)) ri.size = st.st_size;
  fp_compression hint = is_stdin ? FP_COMPRESSION_NONE : fp_compression_from_key(path);
  return fp__pipeline_run(o, path_source, (void *)path, hint, &ri, out, d);
}
