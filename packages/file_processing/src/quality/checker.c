/* checker.c — the contract checker: the header's labels against the schema's fields, then
 * every cell of every data row against its field (missing values, type, constraints),
 * uniqueness and the primary key (uniq.c), and at finish the dataset checks (row count,
 * error rate). Findings follow frictionless-py 5.x (codes, row/field numbers, notes).
 *
 * Division of labour with the profiler (profile.c), which sees the same records and the
 * same findings collector: the profiler reports the structural codes measured against the
 * HEADER width H (blank-label, duplicate-label, blank-row, extra-cell, missing-cell,
 * encoding-error, source-error, duplicate-row); Frictionless measures rows against the
 * SCHEMA's F fields. With fields matched by position (fieldsMatch exact, or no header) the
 * checker adds only the difference: extra-cell for cells in (F, min(n, H)] and missing-cell
 * for fields in (max(n, H), F] of a row of n cells; with fields matched by name the
 * expected fields are the header's columns, so F = H and there is no difference. Rows the
 * profiler calls blank (every cell within the header width is a missing value) are left
 * to it; a row that is blank only over the schema's fields gets blank-row from here.
 *
 * Hot path (per cell): a precomputed column → field table, a missing-value test against a
 * length-bucketed list, fp_field_cast (skipped for unconstrained text fields), and
 * fp_field_check only for fields with value constraints. Notes are formatted only when the
 * findings collector will keep a sample. Uniqueness keys are built in one scratch buffer
 * that grows to the longest key and hashed once by uniq.c. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fp/fp_contract.h"
#include "quality/quality_int.h"
#include "quality/uniq.h"

#define DEFAULT_UNIQUE_MEMORY ((size_t)256 << 20)
#define NOTE_MAX 320
/* Uniqueness set id of the primary key; a unique field's set id is its field index. */
#define PK_SET UINT32_MAX
#define CANON_MAX 128    /* canonical text of a non-text value */
#define LOG_ENTRIES 4096 /* row log buffer */

/* Codes the checker adds, and the structural ones it counts rows by. */
enum {
  C_TYPE,
  C_CONSTRAINT,
  C_UNIQUE,
  C_PK,
  C_EXTRA_CELL,
  C_MISSING_CELL,
  C_BLANK_ROW,
  C_ENCODING,
  C_EXTRA_LABEL,
  C_MISSING_LABEL,
  C_INCORRECT_LABEL,
  C_UNMATCHED_HEADER,
  C_ROW_COUNT,
  C_ERROR_RATE,
  C__N
};

static const char *const CODE[C__N] = {
    "type-error",      "constraint-error", "unique-error",   "primary-key", "extra-cell",
    "missing-cell",    "blank-row",        "encoding-error", "extra-label", "missing-label",
    "incorrect-label", "unmatched-header", "row-count",      "error-rate"};

static const char REQUIRED_NOTE[] = "constraint \"required\" is \"True\"";

/* A contract's checks.severity entry for one code. */
typedef struct sevrule {
  bool set, ignore;
  fp_severity sev;
} sevrule;

/* A missing-values list: lenmask has bit L set when a value has L bytes (bit 63: 63 or
 * more), so most cells are settled by one shift. */
typedef struct mvset {
  bool empty_only; /* the usual [""] */
  uint64_t lenmask;
  size_t n;
  char *const *v; /* borrowed from the contract */
  uint32_t *len;  /* owned */
} mvset;

/* One column of the file and the field it maps to. */
typedef struct kcol {
  const fp_field *f; /* NULL: no field (a column the schema does not have) */
  uint32_t fi;       /* field index */
  const mvset *mv;
  bool required, constrained, text_fast, keep;
} kcol;

/* Rows with errors after uniqueness spilled, so finish knows which rows a late unique-error
 * lands on were already counted. Rows are appended in increasing order. */
typedef struct rowlog {
  int fd; /* -1 until the first write */
  uint64_t *buf;
  size_t n;
  uint64_t size; /* entries written to the file */
  uint64_t rpos; /* reading: next entry */
  size_t ri, rn; /* reading: buffer window */
} rowlog;

struct fp_checker {
  const fp_contract *c;
  fp_findings *fnd;     /* where findings go: the caller's, or own when threaded */
  fp_findings *caller;  /* threaded: the caller's collector, merged into at finish */
  fp_findings *own;
  fp__recq *q;          /* threaded: the records on their way to this checker's thread */
  char *spill_dir;
  size_t unique_memory;
  bool has_header, started, finished;
  sevrule rule[C__N];
  /* missing values */
  mvset smv;
  mvset *fmv; /* per field; fmvp points at it or at smv */
  const mvset **fmvp;
  char **type_note; /* per field: 'type is "integer/default"' */
  /* column mapping */
  uint32_t H; /* header width (first row's width without a header) */
  uint32_t F; /* fields matched by position; 0 when matched by name */
  bool positional;
  uint32_t ncol;
  kcol *cols;
  int64_t *field_col; /* field index → column index, -1 = not in the file */
  /* uniqueness */
  uint32_t *ufields; /* unique fields present in the file, in field order */
  size_t nuf;
  uint32_t *uslot;   /* field index -> its position in ufields, UINT32_MAX = not unique */
  struct ukey {      /* this row's key of each unique field, built and hashed (and its
                        table slot prefetched) while the rest of the row is checked */
    char *buf;
    size_t cap, len;
    uint64_t h;
  } *ukeys;
  uint32_t *kfields; /* fields whose values a row keeps (unique or primary key) */
  size_t nkf;
  bool pk_active;
  bool pk_via_unique; /* a one-field primary key on a unique field: one set serves both */
  uint64_t pk_first;  /* this row: the unique set's answer for that field */
  fp_value *vals;
  bool *vok;
  fp__uniq *u;
  char *key;
  size_t kcap;
  /* counts */
  uint64_t data_rows, rows_with_errors;
  bool row_err;
  rowlog log;
  uint64_t last_dup_row; /* finish: last row a late duplicate was counted for */
};

/* ---- options, severities --------------------------------------------------------------- */

void fp_checker_opts_default(fp_checker_opts *o) {
  memset(o, 0, sizeof *o);
  o->unique_memory = DEFAULT_UNIQUE_MEMORY;
  o->spill_dir = NULL;
}

static void load_rules(fp_checker *k) {
  for (size_t i = 0; i < k->c->noverrides; i++) {
    const fp_severity_override *ov = &k->c->overrides[i];
    for (int c = 0; c < C__N; c++)
      if (ov->code && !strcmp(ov->code, CODE[c]))
        k->rule[c] = (sevrule){true, ov->ignore, ov->severity};
  }
}

/* Severity a finding of code with base severity gets; false = not recorded at all. */
static bool severity_of(const fp_checker *k, int code, fp_severity base, fp_severity *out) {
  const sevrule *r = &k->rule[code];
  if (r->set && r->ignore) return false;
  *out = r->set ? r->sev : base;
  return true;
}

/* checks.extraColumns / missingColumns / columnOrder as a base severity; false = ignore. */
static bool policy_sev(fp_policy p, fp_severity *out) {
  if (p == FP_POLICY_IGNORE) return false;
  *out = p == FP_POLICY_WARN ? FP_SEV_WARNING : FP_SEV_ERROR;
  return true;
}

static fp_err emit(fp_checker *k, int code, fp_severity base, uint64_t row, uint32_t field,
                   const char *name, const char *cell, size_t clen, const char *note, fp_diag *d) {
  fp_severity sev;
  if (!severity_of(k, code, base, &sev)) return FP_OK;
  if (sev == FP_SEV_ERROR) k->row_err = true;
  fp_err e = fp_findings_add(k->fnd, CODE[code], sev, row, field, name, cell, clen, note);
  return e ? fp_diag_set(d, e, "checker: cannot record finding %s", CODE[code]) : FP_OK;
}

/* Same, under a checks.* column policy. */
static fp_err emit_policy(fp_checker *k, int code, fp_policy p, uint64_t row, uint32_t field,
                          const char *name, const char *cell, size_t clen, const char *note,
                          fp_diag *d) {
  fp_severity base;
  if (!policy_sev(p, &base)) return FP_OK;
  return emit(k, code, base, row, field, name, cell, clen, note, d);
}

static bool wants(const fp_checker *k, int code, uint32_t field) {
  return !(k->rule[code].set && k->rule[code].ignore) &&
         fp__findings_wants_sample(k->fnd, CODE[code], field);
}

/* ---- missing values -------------------------------------------------------------------- */

static fp_err mv_init(mvset *m, char *const *v, size_t n) {
  m->v = v;
  m->n = n;
  m->empty_only = n == 1 && v[0] && !v[0][0];
  m->len = calloc(n ? n : 1, sizeof *m->len);
  if (!m->len) return FP_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    size_t l = v[i] ? strlen(v[i]) : 0;
    m->len[i] = l > UINT32_MAX ? UINT32_MAX : (uint32_t)l;
    m->lenmask |= (uint64_t)1 << (l < 63 ? l : 63);
  }
  return FP_OK;
}

static inline bool mv_has(const mvset *m, const char *s, uint32_t n) {
  if (m->empty_only) return n == 0;
  if (!((m->lenmask >> (n < 63 ? n : 63)) & 1)) return false;
  for (size_t i = 0; i < m->n; i++)
    if (m->len[i] == n && (n == 0 || !memcmp(m->v[i], s, n))) return true;
  return false;
}

/* ---- construction -------------------------------------------------------------------- */

static bool has_value_constraints(const fp_field *f) {
  return f->minimum || f->maximum || f->exclusive_minimum || f->exclusive_maximum ||
         f->min_length >= 0 || f->max_length >= 0 || f->pattern || f->nenum;
}

static bool is_text_type(fp_ftype t) {
  return t == FP_FT_ANY || t == FP_FT_STRING || t == FP_FT_OBJECT || t == FP_FT_ARRAY ||
         t == FP_FT_GEOJSON;
}

static bool in_pk(const fp_contract *c, size_t fi) {
  for (size_t j = 0; j < c->npk; j++)
    if (c->primary_key[j] == fi) return true;
  return false;
}

static fp_err setup_fields(fp_checker *k) {
  const fp_contract *c = k->c;
  size_t nf = c->nfields ? c->nfields : 1;
  k->fmv = calloc(nf, sizeof *k->fmv);
  k->fmvp = calloc(nf, sizeof *k->fmvp);
  k->type_note = calloc(nf, sizeof *k->type_note);
  k->field_col = malloc(nf * sizeof *k->field_col);
  k->vals = calloc(nf, sizeof *k->vals);
  k->vok = calloc(nf, sizeof *k->vok);
  k->ufields = calloc(nf, sizeof *k->ufields);
  k->kfields = calloc(nf, sizeof *k->kfields);
  k->uslot = malloc(nf * sizeof *k->uslot);
  k->ukeys = calloc(nf, sizeof *k->ukeys);
  if (!k->fmv || !k->fmvp || !k->type_note || !k->field_col || !k->vals || !k->vok || !k->ufields ||
      !k->kfields || !k->uslot || !k->ukeys)
    return FP_ERR_NOMEM;
  for (size_t i = 0; i < nf; i++) k->uslot[i] = UINT32_MAX;
  if (mv_init(&k->smv, c->missing_values, c->nmissing)) return FP_ERR_NOMEM;
  for (size_t i = 0; i < c->nfields; i++) {
    const fp_field *f = &c->fields[i];
    k->field_col[i] = -1;
    if (f->has_missing_values) {
      if (mv_init(&k->fmv[i], f->missing_values, f->nmissing)) return FP_ERR_NOMEM;
      k->fmvp[i] = &k->fmv[i];
    } else {
      k->fmvp[i] = &k->smv;
    }
    char note[NOTE_MAX];
    snprintf(note, sizeof note, "type is \"%s/%s\"", fp_ftype_name(f->type),
             f->format ? f->format : "default");
    if (!(k->type_note[i] = strdup(note))) return FP_ERR_NOMEM;
  }
  return FP_OK;
}

static fp_err checked_record(void *checker, const fp_csv_record *rec, fp_diag *d);

fp_err fp_checker_new(const fp_contract *c, const fp_checker_opts *o, bool has_header,
                      fp_findings *findings, fp_checker **out, fp_diag *d) {
  if (!out || !c || !findings) return fp_diag_set(d, FP_ERR_INVAL, "checker: missing argument");
  *out = NULL;
  fp_checker *k = calloc(1, sizeof *k);
  if (!k) return fp_diag_set(d, FP_ERR_NOMEM, "checker: out of memory");
  k->c = c;
  k->fnd = findings;
  k->has_header = has_header;
  k->unique_memory = o && o->unique_memory ? o->unique_memory : DEFAULT_UNIQUE_MEMORY;
  k->log.fd = -1;
  if (o && o->spill_dir && !(k->spill_dir = strdup(o->spill_dir))) {
    fp_checker_free(k);
    return fp_diag_set(d, FP_ERR_NOMEM, "checker: out of memory");
  }
  load_rules(k);
  fp_err e = setup_fields(k) ? FP_ERR_NOMEM : FP_OK;
  if (!e && o && o->threaded) {
    k->caller = findings;
    e = fp__findings_new_like(findings, 1, &k->own);
    k->fnd = k->own;
    if (!e) e = fp__recq_new(checked_record, k, &k->q);
  }
  if (e) {
    fp_checker_free(k);
    return fp_diag_set(d, e, "checker: cannot set up (%s)", fp_err_name(e));
  }
  *out = k;
  return FP_OK;
}

static void rowlog_free(rowlog *l) {
  if (l->fd >= 0) close(l->fd);
  free(l->buf);
  memset(l, 0, sizeof *l);
  l->fd = -1;
}

void fp_checker_free(fp_checker *k) {
  if (!k) return;
  fp__recq_free(k->q); /* first: its thread may be checking */
  fp_findings_free(k->own);
  size_t nf = k->c ? k->c->nfields : 0;
  if (k->fmv)
    for (size_t i = 0; i < nf; i++) free(k->fmv[i].len);
  if (k->type_note)
    for (size_t i = 0; i < nf; i++) free(k->type_note[i]);
  free(k->smv.len);
  free(k->fmv);
  free(k->fmvp);
  free(k->type_note);
  free(k->field_col);
  free(k->cols);
  if (k->ukeys)
    for (size_t i = 0; i < k->nuf; i++) free(k->ukeys[i].buf);
  free(k->ukeys);
  free(k->uslot);
  free(k->ufields);
  free(k->kfields);
  free(k->vals);
  free(k->vok);
  free(k->key);
  fp__uniq_free(k->u);
  rowlog_free(&k->log);
  free(k->spill_dir);
  free(k);
}

/* ---- header ---------------------------------------------------------------------------- */

static bool is_ws(char ch) {
  return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* The profiler's blank label: empty or whitespace only. */
static bool blank_label(const fp_cell *c) {
  for (uint32_t i = 0; i < c->len; i++)
    if (!is_ws(c->ptr[i])) return false;
  return true;
}

static bool same_cell(const fp_cell *a, const fp_cell *b) {
  return a->len == b->len && (a->len == 0 || !memcmp(a->ptr, b->ptr, a->len));
}

static bool dup_of_earlier(const fp_csv_record *rec, uint32_t i) {
  for (uint32_t j = 0; j < i; j++)
    if (same_cell(&rec->cells[j], &rec->cells[i])) return true;
  return false;
}

/* Frictionless compares label.replace("\n", " ").strip() with the field name. Newlines
 * become spaces, so only the ends need trimming and inner bytes compare as they are. */
static bool label_is(const fp_cell *c, const char *name) {
  const char *s = c->ptr;
  size_t n = c->len;
  while (n && is_ws(*s)) s++, n--;
  while (n && is_ws(s[n - 1])) n--;
  size_t ln = strlen(name);
  if (ln != n) return false;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i] == '\n' ? ' ' : s[i];
    if (ch != name[i]) return false;
  }
  return true;
}

static int64_t field_by_label(const fp_contract *c, const fp_cell *label) {
  for (size_t i = 0; i < c->nfields; i++)
    if (label_is(label, c->fields[i].name)) return (int64_t)i;
  return -1;
}

static fp_err alloc_cols(fp_checker *k, uint32_t n) {
  k->cols = calloc(n ? n : 1, sizeof *k->cols);
  k->ncol = n;
  return k->cols ? FP_OK : FP_ERR_NOMEM;
}

static void map_col(fp_checker *k, uint32_t col, size_t fi) {
  const fp_field *f = &k->c->fields[fi];
  kcol *kc = &k->cols[col];
  kc->f = f;
  kc->fi = (uint32_t)fi;
  kc->mv = k->fmvp[fi];
  kc->required = f->required;
  kc->constrained = has_value_constraints(f);
  kc->text_fast = !kc->constrained &&
                  (f->type == FP_FT_ANY ||
                   (f->type == FP_FT_STRING && (!f->format || !strcmp(f->format, "default"))));
  k->field_col[fi] = col;
}

/* Fields matched by position: column i is field i. */
static fp_err map_positional(fp_checker *k, uint32_t width) {
  k->positional = true;
  k->F = (uint32_t)k->c->nfields;
  fp_err e = alloc_cols(k, width > k->F ? width : k->F);
  for (uint32_t i = 0; !e && i < k->F; i++) map_col(k, i, i);
  return e;
}

static fp_err header_positional(fp_checker *k, const fp_csv_record *rec, fp_diag *d) {
  const fp_contract *c = k->c;
  uint32_t L = rec->ncells, F = (uint32_t)c->nfields;
  fp_err e = FP_OK;
  char note[NOTE_MAX];
  for (uint32_t i = 0; i < L && i < F && !e; i++) {
    const fp_cell *lc = &rec->cells[i];
    if (blank_label(lc) || dup_of_earlier(rec, i) || label_is(lc, c->fields[i].name)) continue;
    snprintf(note, sizeof note, "expected the label \"%.200s\"", c->fields[i].name);
    e = emit_policy(k, C_INCORRECT_LABEL, c->column_order, rec->index, i + 1, c->fields[i].name,
                    lc->ptr, lc->len, note, d);
  }
  for (uint32_t i = F; i < L && !e; i++)
    e = emit_policy(k, C_EXTRA_LABEL, c->extra_columns, rec->index, i + 1, NULL, rec->cells[i].ptr,
                    rec->cells[i].len, "the schema has no field for this column", d);
  for (uint32_t i = L; i < F && !e; i++) {
    snprintf(note, sizeof note, "the header has no label for field \"%.200s\"", c->fields[i].name);
    e = emit_policy(k, C_MISSING_LABEL, c->missing_columns, rec->index, i + 1, c->fields[i].name,
                    NULL, 0, note, d);
  }
  return e;
}

/* Fields matched by name (fieldsMatch equal|subset|superset|partial, or exact with a
 * columnOrder policy other than error): each label takes the field of that name; a
 * repeated label takes none (the profiler reports it as duplicate-label). */
static fp_err header_by_name(fp_checker *k, const fp_csv_record *rec, fp_diag *d) {
  const fp_contract *c = k->c;
  fp_fields_match fm = c->fields_match;
  bool order_check = fm == FP_FIELDS_EXACT;
  bool report_extra = fm != FP_FIELDS_SUBSET && fm != FP_FIELDS_PARTIAL;
  bool only_required = fm == FP_FIELDS_SUPERSET || fm == FP_FIELDS_PARTIAL;
  uint32_t L = rec->ncells;
  fp_err e = alloc_cols(k, L);
  if (e) return fp_diag_set(d, e, "checker: out of memory");
  char note[NOTE_MAX];
  bool any = false;
  int64_t max_fi = -1;
  for (uint32_t i = 0; i < L && !e; i++) {
    const fp_cell *lc = &rec->cells[i];
    int64_t fi = blank_label(lc) ? -1 : field_by_label(c, lc);
    if (fi >= 0 && k->field_col[fi] >= 0) continue; /* a repeated label */
    if (fi < 0) {
      if (report_extra && !blank_label(lc))
        e = emit_policy(k, C_EXTRA_LABEL, c->extra_columns, rec->index, i + 1, NULL, lc->ptr,
                        lc->len, "the schema has no field with this name", d);
      continue;
    }
    any = true;
    map_col(k, i, (size_t)fi);
    if (order_check && fi < max_fi) {
      snprintf(note, sizeof note, "field \"%.200s\" comes after a field the schema lists later",
               c->fields[fi].name);
      e = emit_policy(k, C_INCORRECT_LABEL, c->column_order, rec->index, i + 1, c->fields[fi].name,
                      lc->ptr, lc->len, note, d);
    }
    if (fi > max_fi) max_fi = fi;
  }
  if (!e && fm == FP_FIELDS_PARTIAL && c->nfields && !any)
    e = emit(k, C_UNMATCHED_HEADER, FP_SEV_ERROR, rec->index, 0, NULL, NULL, 0,
             "no label matches a field of the schema", d);
  uint32_t pos = L;
  for (size_t fi = 0; fi < c->nfields && !e; fi++) {
    const fp_field *f = &c->fields[fi];
    if (k->field_col[fi] >= 0) continue;
    if (only_required && !f->required && !in_pk(c, fi)) continue;
    snprintf(note, sizeof note, "the header has no label \"%.200s\"", f->name);
    e = emit_policy(k, C_MISSING_LABEL, c->missing_columns, rec->index, ++pos, f->name, NULL, 0,
                    note, d);
  }
  return e;
}

/* Which fields' values a row keeps, and the uniqueness set. */
static fp_err setup_uniqueness(fp_checker *k, fp_diag *d) {
  const fp_contract *c = k->c;
  k->pk_active = c->npk > 0;
  for (size_t j = 0; j < c->npk; j++)
    if (c->primary_key[j] >= c->nfields || k->field_col[c->primary_key[j]] < 0)
      k->pk_active = false;
  for (size_t fi = 0; fi < c->nfields; fi++) {
    bool uniq = c->fields[fi].unique && k->field_col[fi] >= 0;
    bool pk = k->pk_active && in_pk(c, fi);
    if (uniq) {
      k->uslot[fi] = (uint32_t)k->nuf;
      k->ufields[k->nuf++] = (uint32_t)fi;
    }
    if (uniq || pk) {
      k->kfields[k->nkf++] = (uint32_t)fi;
      if (k->field_col[fi] >= 0) k->cols[k->field_col[fi]].keep = true;
    }
  }
  k->pk_via_unique = k->pk_active && c->npk == 1 && c->fields[c->primary_key[0]].unique;
  if (!k->nuf && !k->pk_active) return FP_OK;
  fp__uniq_opts uo = {k->unique_memory, k->spill_dir, NULL};
  return fp__uniq_new(&uo, &k->u, d);
}

static fp_err start(fp_checker *k, const fp_csv_record *rec, fp_diag *d) {
  k->started = true;
  k->H = rec->ncells;
  fp_err e;
  bool by_name = k->has_header &&
                 (k->c->fields_match != FP_FIELDS_EXACT || k->c->column_order != FP_POLICY_ERROR);
  if (by_name) {
    e = header_by_name(k, rec, d);
  } else {
    e = map_positional(k, rec->ncells);
    if (e) return fp_diag_set(d, e, "checker: out of memory");
    if (k->has_header) e = header_positional(k, rec, d);
  }
  return e ? e : setup_uniqueness(k, d);
}

/* ---- row log (rows with errors once uniqueness spilled) -------------------------------- */

static fp_err rowlog_open(fp_checker *k, fp_diag *d) {
  const char *dir = k->spill_dir ? k->spill_dir : getenv("TMPDIR");
  if (!dir || !*dir) dir = "/tmp";
  char path[4096];
  int n = snprintf(path, sizeof path, "%s/fp-rows-XXXXXX", dir);
  if (n < 0 || (size_t)n >= sizeof path)
    return fp_diag_set(d, FP_ERR_CONFIG, "checker: spill path too long");
  int fd = mkostemp(path, O_CLOEXEC);
  if (fd < 0)
    return fp_diag_set(d, FP_ERR_IO, "checker: cannot create %s: %s", path, strerror(errno));
  unlink(path);
  k->log.fd = fd;
  return FP_OK;
}

static fp_err rowlog_flush(fp_checker *k, fp_diag *d) {
  rowlog *l = &k->log;
  const char *p = (const char *)l->buf;
  size_t n = l->n * sizeof *l->buf;
  off_t off = (off_t)(l->size * sizeof *l->buf);
  while (n) {
    ssize_t w = pwrite(l->fd, p, n, off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0)
      return fp_diag_set(d, FP_ERR_IO, "checker: writing the row log: %s", strerror(errno));
    p += w;
    n -= (size_t)w;
    off += w;
  }
  l->size += l->n;
  l->n = 0;
  return FP_OK;
}

static fp_err rowlog_add(fp_checker *k, uint64_t row, fp_diag *d) {
  rowlog *l = &k->log;
  if (!l->buf && !(l->buf = malloc(LOG_ENTRIES * sizeof *l->buf)))
    return fp_diag_set(d, FP_ERR_NOMEM, "checker: out of memory");
  if (l->fd < 0) {
    fp_err e = rowlog_open(k, d);
    if (e) return e;
  }
  if (l->n == LOG_ENTRIES) {
    fp_err e = rowlog_flush(k, d);
    if (e) return e;
  }
  l->buf[l->n++] = row;
  return FP_OK;
}

/* True when row was logged; rows must be asked in increasing order. */
static fp_err rowlog_has(fp_checker *k, uint64_t row, bool *has, fp_diag *d) {
  rowlog *l = &k->log;
  *has = false;
  for (;;) {
    if (l->ri == l->rn) {
      if (l->rpos >= l->size) return FP_OK;
      size_t want = LOG_ENTRIES;
      if (want > l->size - l->rpos) want = (size_t)(l->size - l->rpos);
      ssize_t r = pread(l->fd, l->buf, want * sizeof *l->buf, (off_t)(l->rpos * sizeof *l->buf));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0 || (size_t)r % sizeof *l->buf)
        return fp_diag_set(d, FP_ERR_IO, "checker: reading the row log: %s",
                           r < 0 ? strerror(errno) : "short read");
      l->rn = (size_t)r / sizeof *l->buf;
      l->ri = 0;
      l->rpos += l->rn;
    }
    uint64_t v = l->buf[l->ri];
    if (v > row) return FP_OK;
    l->ri++;
    if (v == row) {
      *has = true;
      return FP_OK;
    }
  }
}

/* ---- uniqueness keys ------------------------------------------------------------------- */

/* Grows a key buffer (*buf of *cap bytes) to hold n bytes. */
static fp_err buf_reserve(char **buf, size_t *cap, size_t n, fp_diag *d) {
  if (n <= *cap) return FP_OK;
  size_t nc = *cap ? *cap : 256;
  while (nc < n) nc *= 2;
  char *nb = realloc(*buf, nc);
  if (!nb) return fp_diag_set(d, FP_ERR_NOMEM, "checker: out of memory");
  *buf = nb;
  *cap = nc;
  return FP_OK;
}

static fp_err key_reserve(fp_checker *k, size_t n, fp_diag *d) {
  return buf_reserve(&k->key, &k->kcap, n, d);
}

static void put_be32(char *p, uint32_t v) {
  p[0] = (char)(v >> 24);
  p[1] = (char)(v >> 16);
  p[2] = (char)(v >> 8);
  p[3] = (char)v;
}

static uint32_t get_be32(const char *p) {
  const unsigned char *u = (const unsigned char *)p;
  return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

/* Canonical text of a cast value: the cell itself for text types, else fp_value_format
 * ("1.0" and "1" are the same number, as Frictionless compares cast values). */
static void canon(const fp_value *v, const fp_cell *cell, char *buf, const char **s, size_t *n) {
  if (!is_text_type(v->type)) {
    size_t len = fp_value_format(v, buf, CANON_MAX);
    if (len > 0 && len < CANON_MAX) {
      *s = buf;
      *n = len;
      return;
    }
  }
  *s = cell->ptr;
  *n = cell->len;
}

static fp_err add_key(fp_checker *k, size_t len, uint64_t row, uint64_t *first, fp_diag *d) {
  return fp__uniq_add(k->u, k->key, len, row, first, d);
}

/* The key of unique field fi for this row (set id, then the canonical text), hashed, its
 * table slot prefetched: built as soon as the cell is cast, so the slot's cache miss
 * overlaps the checks of the row's other cells. */
static fp_err unique_prepare(fp_checker *k, uint32_t fi, const fp_cell *cell, fp_diag *d) {
  struct ukey *uk = &k->ukeys[k->uslot[fi]];
  char buf[CANON_MAX];
  const char *s;
  size_t n;
  canon(&k->vals[fi], cell, buf, &s, &n);
  fp_err e = buf_reserve(&uk->buf, &uk->cap, 4 + n, d);
  if (e) return e;
  put_be32(uk->buf, fi);
  if (n) memcpy(uk->buf + 4, s, n);
  uk->len = 4 + n;
  uk->h = fp__uniq_hash_prefetch(k->u, uk->buf, uk->len);
  return FP_OK;
}

static fp_err unique_checks(fp_checker *k, const fp_csv_record *rec, fp_diag *d) {
  char note[NOTE_MAX];
  fp_err e = FP_OK;
  for (size_t j = 0; j < k->nuf && !e; j++) {
    uint32_t fi = k->ufields[j];
    if (!k->vok[fi]) continue; /* vok: cell_checks cast it and prepared its key */
    uint32_t col = (uint32_t)k->field_col[fi];
    const fp_cell *cell = &rec->cells[col];
    const struct ukey *uk = &k->ukeys[j];
    uint64_t first;
    if ((e = fp__uniq_add_hashed(k->u, uk->buf, uk->len, uk->h, rec->index, &first, d)) ||
        !first)
      continue;
    if (k->pk_via_unique && fi == k->c->primary_key[0]) k->pk_first = first;
    const char *nt = NULL;
    if (wants(k, C_UNIQUE, col + 1)) {
      snprintf(note, sizeof note, "the same as in the row at position %" PRIu64, first);
      nt = note;
    }
    e = emit(k, C_UNIQUE, FP_SEV_ERROR, rec->index, col + 1, k->c->fields[fi].name, cell->ptr,
             cell->len, nt, d);
  }
  return e;
}

static const char PK_NONE_NOTE[] = "cells composing the primary keys are all \"None\"";

/* The primary key as one key: set id, then per field a 32-bit length (all ones = no value)
 * and the canonical text. Returns the first row holding the same key (0 = none yet). */
static fp_err pk_lookup(fp_checker *k, const fp_csv_record *rec, uint64_t *first, fp_diag *d) {
  const fp_contract *c = k->c;
  char buf[CANON_MAX];
  size_t len = 4;
  fp_err e = key_reserve(k, len, d);
  if (e) return e;
  put_be32(k->key, PK_SET);
  for (size_t j = 0; j < c->npk; j++) {
    size_t fi = c->primary_key[j];
    const char *s = NULL;
    size_t n = 0;
    if (k->vok[fi]) canon(&k->vals[fi], &rec->cells[k->field_col[fi]], buf, &s, &n);
    if ((e = key_reserve(k, len + 4 + n, d))) return e;
    put_be32(k->key + len, k->vok[fi] ? (uint32_t)n : UINT32_MAX);
    if (n) memcpy(k->key + len + 4, s, n);
    len += 4 + n;
  }
  return add_key(k, len, rec->index, first, d);
}

static fp_err pk_check(fp_checker *k, const fp_csv_record *rec, fp_diag *d) {
  const fp_contract *c = k->c;
  bool any = false;
  for (size_t j = 0; j < c->npk; j++) any |= k->vok[c->primary_key[j]];
  if (!any) {
    if (!fp__uniq_spilled(k->u))
      return emit(k, C_PK, FP_SEV_ERROR, rec->index, 0, NULL, NULL, 0, PK_NONE_NOTE, d);
    /* spilled: duplicates of the primary key now come at finish; this one joins them so
     * the group's samples stay in row order */
    char key[4];
    put_be32(key, PK_SET);
    return fp__uniq_defer(k->u, key, sizeof key, rec->index, d);
  }
  uint64_t first = k->pk_first; /* a pk on a unique field: unique_checks looked it up */
  fp_err e = k->pk_via_unique ? FP_OK : pk_lookup(k, rec, &first, d);
  if (e || !first) return e;
  char note[NOTE_MAX];
  const char *nt = NULL;
  if (wants(k, C_PK, 0)) {
    snprintf(note, sizeof note, "the same as in the row at position %" PRIu64, first);
    nt = note;
  }
  return emit(k, C_PK, FP_SEV_ERROR, rec->index, 0, NULL, NULL, 0, nt, d);
}

/* ---- data rows ------------------------------------------------------------------------- */

/* The profiler's blank row: every cell within the header width is a missing value. */
static bool profiler_blank(const fp_checker *k, const fp_csv_record *rec) {
  uint32_t m = rec->ncells < k->H ? rec->ncells : k->H;
  for (uint32_t i = 0; i < m; i++)
    if (!mv_has(&k->smv, rec->cells[i].ptr, rec->cells[i].len)) return false;
  return true;
}

/* Frictionless' blank row: every expected field's cell is absent or a missing value. */
static bool schema_blank(const fp_checker *k, const fp_csv_record *rec) {
  uint32_t n = rec->ncells, m = k->positional ? k->F : k->H;
  if (!m) return false; /* no fields: nothing to call blank */
  for (uint32_t i = 0; i < m && i < n; i++) {
    const mvset *mv = i < k->ncol && k->cols[i].f ? k->cols[i].mv : &k->smv;
    if (!mv_has(mv, rec->cells[i].ptr, rec->cells[i].len)) return false;
  }
  return true;
}

static fp_err cell_checks(fp_checker *k, const fp_csv_record *rec, fp_diag *d) {
  uint32_t n = rec->ncells;
  char note[NOTE_MAX];
  fp_err e = FP_OK;
  for (uint32_t i = 0; i < k->ncol && !e; i++) {
    const kcol *kc = &k->cols[i];
    if (!kc->f) continue;
    if (i >= n || mv_has(kc->mv, rec->cells[i].ptr, rec->cells[i].len)) {
      if (kc->required)
        e = emit(k, C_CONSTRAINT, FP_SEV_ERROR, rec->index, i + 1, kc->f->name,
                 i < n ? rec->cells[i].ptr : NULL, i < n ? rec->cells[i].len : 0, REQUIRED_NOTE, d);
      continue;
    }
    const fp_cell *cell = &rec->cells[i];
    fp_value v;
    if (kc->text_fast) {
      memset(&v, 0, sizeof v);
      v.type = kc->f->type;
      v.text = cell->ptr;
      v.text_len = cell->len;
    } else if (!fp_field_cast(kc->f, cell->ptr, cell->len, &v)) {
      e = emit(k, C_TYPE, FP_SEV_ERROR, rec->index, i + 1, kc->f->name, cell->ptr, cell->len,
               k->type_note[kc->fi], d);
      continue;
    }
    if (kc->constrained) {
      /* one finding per failed constraint, as Frictionless reports them; a pattern needs
       * this thread's match data, or every value would seem to fail it */
      if ((e = fp_field_thread_ready(kc->f, d))) break;
      uint32_t bad = fp_field_check_all(kc->f, &v, cell->ptr, cell->len);
      for (int ct = 0; bad && !e; ct++) {
        if (!(bad & (1u << ct))) continue;
        bad &= ~(1u << ct);
        bool w = wants(k, C_CONSTRAINT, i + 1);
        if (w) fp_constraint_note(kc->f, (fp_constraint)ct, note, sizeof note);
        e = emit(k, C_CONSTRAINT, FP_SEV_ERROR, rec->index, i + 1, kc->f->name, cell->ptr,
                 cell->len, w ? note : NULL, d);
      }
    }
    if (kc->keep) {
      k->vals[kc->fi] = v;
      k->vok[kc->fi] = true;
      if (k->uslot[kc->fi] != UINT32_MAX && (e = unique_prepare(k, kc->fi, cell, d))) break;
    }
  }
  return e;
}

/* extra-cell and missing-cell the profiler does not report (fields matched by position). */
static fp_err shape_checks(fp_checker *k, const fp_csv_record *rec, fp_diag *d) {
  uint32_t n = rec->ncells, F = k->F, H = k->H;
  const fp_contract *c = k->c;
  char note[NOTE_MAX];
  fp_err e = FP_OK;
  uint32_t hi = n < H ? n : H;
  for (uint32_t i = F; i < hi && !e; i++) {
    const char *nt = NULL;
    if (wants(k, C_EXTRA_CELL, i + 1)) {
      snprintf(note, sizeof note, "row has %" PRIu32 " cells, the schema has %" PRIu32 " fields", n,
               F);
      nt = note;
    }
    e = emit_policy(k, C_EXTRA_CELL, c->extra_columns, rec->index, i + 1, NULL, rec->cells[i].ptr,
                    rec->cells[i].len, nt, d);
  }
  uint32_t lo = n > H ? n : H;
  for (uint32_t i = lo; i < F && !e; i++) {
    const char *nt = NULL;
    if (wants(k, C_MISSING_CELL, i + 1)) {
      snprintf(note, sizeof note, "row has %" PRIu32 " cells, the schema has %" PRIu32 " fields", n,
               F);
      nt = note;
    }
    e = emit_policy(k, C_MISSING_CELL, c->missing_columns, rec->index, i + 1, c->fields[i].name,
                    NULL, 0, nt, d);
  }
  return e;
}

/* Counts the structural findings the profiler adds for this row towards the row's errors. */
static void structural_errors(fp_checker *k, const fp_csv_record *rec, bool blank) {
  fp_severity s;
  if ((rec->flags & (FP_REC_INVALID_UTF8 | FP_REC_HAS_NUL)) &&
      severity_of(k, C_ENCODING, FP_SEV_ERROR, &s) && s == FP_SEV_ERROR)
    k->row_err = true;
  if (blank && severity_of(k, C_BLANK_ROW, FP_SEV_ERROR, &s) && s == FP_SEV_ERROR)
    k->row_err = true;
  if (!blank && rec->ncells != k->H &&
      severity_of(k, rec->ncells > k->H ? C_EXTRA_CELL : C_MISSING_CELL, FP_SEV_ERROR, &s) &&
      s == FP_SEV_ERROR)
    k->row_err = true;
}

static fp_err data_row(fp_checker *k, const fp_csv_record *rec, fp_diag *d) {
  k->data_rows++;
  k->row_err = false;
  k->pk_first = 0;
  for (size_t j = 0; j < k->nkf; j++) k->vok[k->kfields[j]] = false;
  fp_err e = FP_OK;
  bool pblank = profiler_blank(k, rec);
  structural_errors(k, rec, pblank);
  if (pblank || schema_blank(k, rec)) {
    if (!pblank) e = emit(k, C_BLANK_ROW, FP_SEV_ERROR, rec->index, 0, NULL, NULL, 0, NULL, d);
    if (!e && k->pk_active) e = pk_check(k, rec, d);
  } else {
    e = cell_checks(k, rec, d);
    if (!e && k->positional) e = shape_checks(k, rec, d);
    if (!e && k->nuf) e = unique_checks(k, rec, d);
    if (!e && k->pk_active) e = pk_check(k, rec, d);
  }
  if (e) return e;
  if (k->row_err) {
    k->rows_with_errors++;
    if (fp__uniq_spilled(k->u)) e = rowlog_add(k, rec->index, d);
  }
  return e;
}

/* One record, on whichever thread checks. */
static fp_err checked_record(void *checker, const fp_csv_record *rec, fp_diag *d) {
  fp_checker *k = checker;
  if (!k->started) {
    fp_err e = start(k, rec, d);
    if (e || k->has_header) return e;
  }
  return data_row(k, rec, d);
}

fp_err fp_checker_record(void *checker, const fp_csv_record *rec, fp_diag *d) {
  fp_checker *k = checker;
  if (!k || !rec) return fp_diag_set(d, FP_ERR_INVAL, "checker: missing argument");
  if (k->finished) return fp_diag_set(d, FP_ERR_INVAL, "checker: record after finish");
  return k->q ? fp__recq_push(k->q, rec, d) : checked_record(k, rec, d);
}

/* ---- finish ---------------------------------------------------------------------------- */

/* A duplicate found when uniqueness spilled (rows come in increasing order). */
static fp_err late_dup(void *ud, uint64_t row, uint64_t first, const char *key, size_t len,
                       fp_diag *d) {
  fp_checker *k = ud;
  if (len < 4) return fp_diag_set(d, FP_ERR_INTERNAL, "checker: malformed uniqueness key");
  uint32_t set = get_be32(key);
  char note[NOTE_MAX];
  int code = set == PK_SET ? C_PK : C_UNIQUE;
  uint32_t field = 0;
  const char *name = NULL;
  if (code == C_UNIQUE) {
    if (set >= k->c->nfields || k->field_col[set] < 0)
      return fp_diag_set(d, FP_ERR_INTERNAL, "checker: malformed uniqueness key");
    field = (uint32_t)k->field_col[set] + 1;
    name = k->c->fields[set].name;
  }
  if (first)
    snprintf(note, sizeof note, "the same as in the row at position %" PRIu64, first);
  else /* deferred by pk_check */
    snprintf(note, sizeof note, "%s", PK_NONE_NOTE);
  k->row_err = false;
  fp_err e = emit(k, code, FP_SEV_ERROR, row, field, name, code == C_UNIQUE ? key + 4 : NULL,
                  code == C_UNIQUE ? len - 4 : 0, note, d);
  if (!e && code == C_UNIQUE && k->pk_via_unique && set == k->c->primary_key[0])
    e = emit(k, C_PK, FP_SEV_ERROR, row, 0, NULL, NULL, 0, note, d);
  if (e || !k->row_err || row == k->last_dup_row) return e;
  k->last_dup_row = row;
  bool counted;
  if ((e = rowlog_has(k, row, &counted, d))) return e;
  if (!counted) k->rows_with_errors++;
  return FP_OK;
}

static fp_err row_count_check(fp_checker *k, fp_diag *d) {
  const fp_contract *c = k->c;
  int64_t lo = c->rows_min, hi = c->rows_max;
  uint64_t n = k->data_rows;
  if ((lo < 0 || n >= (uint64_t)lo) && (hi < 0 || n <= (uint64_t)hi)) return FP_OK;
  char note[NOTE_MAX];
  if (lo >= 0 && hi >= 0)
    snprintf(note, sizeof note, "expected between %" PRId64 " and %" PRId64 " rows, got %" PRIu64,
             lo, hi, n);
  else if (lo >= 0)
    snprintf(note, sizeof note, "expected at least %" PRId64 " rows, got %" PRIu64, lo, n);
  else
    snprintf(note, sizeof note, "expected at most %" PRId64 " rows, got %" PRIu64, hi, n);
  return emit(k, C_ROW_COUNT, FP_SEV_ERROR, 0, 0, NULL, NULL, 0, note, d);
}

static fp_err error_rate_check(fp_checker *k, fp_diag *d) {
  double max = k->c->max_error_rate;
  if (max < 0 || !k->data_rows) return FP_OK;
  double rate = (double)k->rows_with_errors / (double)k->data_rows;
  if (rate <= max) return FP_OK;
  char note[NOTE_MAX];
  snprintf(note, sizeof note,
           "%" PRIu64 " of %" PRIu64
           " data rows (%.4g%%) have errors; the contract allows at most %.4g%%",
           k->rows_with_errors, k->data_rows, rate * 100.0, max * 100.0);
  return emit(k, C_ERROR_RATE, FP_SEV_ERROR, 0, 0, NULL, NULL, 0, note, d);
}

fp_err fp_checker_finish(fp_checker *k, fp_diag *d) {
  if (!k) return fp_diag_set(d, FP_ERR_INVAL, "checker: missing argument");
  if (k->finished) return fp_diag_set(d, FP_ERR_INVAL, "checker: finish called twice");
  k->finished = true;
  fp_err e = FP_OK;
  if (k->q) { /* every record checked, and this thread sees what the checking wrote */
    e = fp__recq_finish(k->q, d);
    fp__recq_free(k->q);
    k->q = NULL;
    fp__findings_finishing(k->own);
  }
  if (!e && k->u) {
    if (k->log.fd >= 0) e = rowlog_flush(k, d);
    if (!e) e = fp__uniq_finish(k->u, late_dup, k, d);
  }
  if (!e) e = row_count_check(k, d);
  if (!e) e = error_rate_check(k, d);
  rowlog_free(&k->log);
  if (!e && k->own) {
    e = fp__findings_merge(k->caller, k->own);
    if (e) e = fp_diag_set(d, e, "checker: merging findings: %s", fp_err_name(e));
  }
  return e;
}

uint64_t fp_checker_rows_with_errors(const fp_checker *k) {
  return k ? k->rows_with_errors : 0;
}

size_t fp_checker_unique_peak(const fp_checker *k, bool *spilled) {
  if (spilled) *spilled = k && fp__uniq_spilled(k->u);
  return k ? fp__uniq_peak(k->u) : 0;
}
