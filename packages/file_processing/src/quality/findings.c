/* findings.c — the findings collector: exact counts per (code, field), capped samples,
 * first-seen group order. Groups live in one array (the order reports use) with an
 * open-addressing index over it; a one-entry cache catches the usual run of identical
 * findings. Stored text (cells, notes, names) is always valid UTF-8: invalid bytes and NULs
 * become U+FFFD, cells are cut to 200 bytes on a character boundary. Besides the per-group
 * cap, all samples together are bounded (FINDINGS_SAMPLE_BYTES), so a pathological file
 * with thousands of (code, field) groups cannot grow memory without bound; groups past that
 * budget still count exactly and report capped = true. */
#include <stdlib.h>
#include <string.h>

#include "fp/fp_findings.h"
#include "quality/quality_int.h"

#define DEFAULT_SAMPLE_CAP 100
#define CELL_MAX_BYTES 200
#define NOTE_MAX_BYTES 1024
#define NAME_MAX_BYTES 1024
#define FINDINGS_SAMPLE_BYTES ((size_t)64 << 20)

typedef struct group_aux {
  uint64_t key_hash;
  size_t samples_cap; /* allocated sample slots */
  /* when the group was first seen (fp__findings_merge orders groups by it) */
  uint64_t first_row, first_seq;
  unsigned phase;
} group_aux;

typedef struct fp_severity_override_entry {
  char *code;
  fp_severity sev;
  bool ignore;
} fp_severity_override_entry;

struct fp_findings {
  size_t sample_cap;
  fp_finding_group *groups; /* first-seen order */
  group_aux *aux;
  size_t ngroups, groups_cap;
  uint32_t *index; /* group index + 1, 0 = empty; size index_cap (power of two) */
  size_t index_cap;
  size_t last; /* group index + 1 of the last hit, 0 = none */
  size_t sample_bytes;
  fp_severity_override_entry *overrides; /* a contract's checks.severity; a handful */
  size_t noverrides;
  unsigned phase;  /* see fp__findings_merge */
  bool finishing;
  uint64_t nseq;   /* groups created so far */
};

static const struct {
  const char *code, *title;
} titles[] = {
    {"error", "Error"},
    {"general-error", "General Error"},
    {"package-error", "Package Error"},
    {"resource-error", "Resource Error"},
    {"source-error", "Source Error"},
    {"scheme-error", "Scheme Error"},
    {"format-error", "Format Error"},
    {"encoding-error", "Encoding Error"},
    {"compression-error", "Compression Error"},
    {"hash-count", "Hash Count Error"},
    {"byte-count", "Byte Count Error"},
    {"field-count", "Field Count Error"},
    {"row-count", "Row Count Error"},
    {"error-rate", "Error Rate Exceeded"},
    {"table-dimensions", "Table Dimensions Error"},
    {"schema-error", "Schema Error"},
    {"field-error", "Field Error"},
    {"dialect-error", "Dialect Error"},
    {"checklist-error", "Checklist Error"},
    {"check-error", "Check Error"},
    {"table-error", "Table Error"},
    {"header-error", "Header Error"},
    {"blank-header", "Blank Header"},
    {"label-error", "Label Error"},
    {"extra-label", "Extra Label"},
    {"missing-label", "Missing Label"},
    {"blank-label", "Blank Label"},
    {"duplicate-label", "Duplicate Label"},
    {"incorrect-label", "Incorrect Label"},
    {"unmatched-header", "Unmatched Header"},
    {"row-error", "Row Error"},
    {"blank-row", "Blank Row"},
    {"primary-key", "Primary Key Error"},
    {"foreign-key", "Foreign Key Error"},
    {"duplicate-row", "Duplicate Row"},
    {"row-constraint", "Row Constraint"},
    {"cell-error", "Cell Error"},
    {"extra-cell", "Extra Cell"},
    {"missing-cell", "Missing Cell"},
    {"type-error", "Type Error"},
    {"constraint-error", "Constraint Error"},
    {"unique-error", "Unique Error"},
    {"deviated-value", "Deviated Value"},
    {"deviated-cell", "Deviated Cell"},
    {"required-value", "Required Value"},
    {"ascii-value", "Ascii Value"},
    {"truncated-value", "Truncated Value"},
    {"forbidden-value", "Forbidden Value"},
    {"sequential-value", "Sequential Value"},
    /* drift against the dataset's baseline delivery (fp_drift.h) */
    {"schema-drift", "Schema Drift"},
    {"volume-drift", "Volume Drift"},
    {"missing-drift", "Missing Values Drift"},
    {"distribution-drift", "Distribution Drift"},
    {"category-drift", "Category Drift"},
};

const char *fp_finding_title(const char *code) {
  if (!code) return "";
  for (size_t i = 0; i < sizeof titles / sizeof titles[0]; i++)
    if (!strcmp(titles[i].code, code)) return titles[i].title;
  return code;
}

const char *fp_severity_name(fp_severity s) {
  switch (s) {
    case FP_SEV_INFO: return "info";
    case FP_SEV_WARNING: return "warning";
    default: return "error";
  }
}

/* FNV-1a over the code, mixed with the field number. */
static uint64_t key_hash(const char *code, uint32_t field) {
  uint64_t h = 1469598103934665603ull;
  for (const unsigned char *p = (const unsigned char *)code; *p; p++)
    h = (h ^ *p) * 1099511628211ull;
  h ^= (uint64_t)field * 0x9E3779B97F4A7C15ull;
  h ^= h >> 31;
  return h;
}

fp_err fp_findings_new(size_t sample_cap, fp_findings **out) {
  if (!out) return FP_ERR_INVAL;
  *out = NULL;
  fp_findings *f = calloc(1, sizeof *f);
  if (!f) return FP_ERR_NOMEM;
  f->sample_cap = sample_cap ? sample_cap : DEFAULT_SAMPLE_CAP;
  *out = f;
  return FP_OK;
}

void fp_findings_free(fp_findings *f) {
  if (!f) return;
  for (size_t i = 0; i < f->ngroups; i++) {
    fp_finding_group *g = &f->groups[i];
    for (size_t j = 0; j < g->nsamples; j++) {
      free(g->samples[j].cell);
      free(g->samples[j].note);
    }
    free(g->samples);
    free(g->code);
    free(g->field_name);
    free(g->message);
  }
  free(f->groups);
  free(f->aux);
  free(f->index);
  for (size_t i = 0; i < f->noverrides; i++) free(f->overrides[i].code);
  free(f->overrides);
  free(f);
}

/* Returns the group index or -1. */
static long lookup(const fp_findings *f, const char *code, uint32_t field, uint64_t h) {
  if (f->last) {
    const fp_finding_group *g = &f->groups[f->last - 1];
    if (g->field == field && !strcmp(g->code, code)) return (long)f->last - 1;
  }
  if (!f->index_cap) return -1;
  size_t mask = f->index_cap - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    uint32_t v = f->index[i];
    if (!v) return -1;
    const fp_finding_group *g = &f->groups[v - 1];
    if (f->aux[v - 1].key_hash == h && g->field == field && !strcmp(g->code, code))
      return (long)v - 1;
  }
}

static void index_put(fp_findings *f, size_t gi) {
  size_t mask = f->index_cap - 1;
  size_t i = f->aux[gi].key_hash & mask;
  while (f->index[i]) i = (i + 1) & mask;
  f->index[i] = (uint32_t)(gi + 1);
}

static fp_err ensure_room(fp_findings *f) {
  if (f->ngroups == f->groups_cap) {
    size_t nc = f->groups_cap ? f->groups_cap * 2 : 16;
    fp_finding_group *g = realloc(f->groups, nc * sizeof *g);
    if (!g) return FP_ERR_NOMEM;
    f->groups = g;
    group_aux *a = realloc(f->aux, nc * sizeof *a);
    if (!a) return FP_ERR_NOMEM;
    f->aux = a;
    f->groups_cap = nc;
  }
  if ((f->ngroups + 1) * 2 > f->index_cap) { /* keep the index at most half full */
    size_t nc = f->index_cap ? f->index_cap * 2 : 32;
    uint32_t *idx = calloc(nc, sizeof *idx);
    if (!idx) return FP_ERR_NOMEM;
    free(f->index);
    f->index = idx;
    f->index_cap = nc;
    for (size_t i = 0; i < f->ngroups; i++) index_put(f, i);
  }
  return FP_OK;
}

static fp_err new_group(fp_findings *f, const char *code, fp_severity sev, uint32_t field,
                        const char *field_name, uint64_t h, uint64_t row, size_t *gi) {
  fp_err e = ensure_room(f);
  if (e) return e;
  fp_finding_group g;
  memset(&g, 0, sizeof g);
  g.code = fp__utf8_sanitize(code, strlen(code), NAME_MAX_BYTES, NULL);
  g.message = fp__utf8_sanitize(fp_finding_title(code), strlen(fp_finding_title(code)),
                                NAME_MAX_BYTES, NULL);
  if (field && field_name)
    g.field_name = fp__utf8_sanitize(field_name, strlen(field_name), NAME_MAX_BYTES, NULL);
  if (!g.code || !g.message || (field && field_name && !g.field_name)) {
    free(g.code);
    free(g.message);
    free(g.field_name);
    return FP_ERR_NOMEM;
  }
  g.severity = sev;
  g.field = field;
  size_t i = f->ngroups++;
  f->groups[i] = g;
  f->aux[i] = (group_aux){h, 0, f->finishing ? UINT64_MAX : row, f->nseq++, f->phase};
  index_put(f, i);
  *gi = i;
  return FP_OK;
}

static bool group_wants_sample(const fp_findings *f, const fp_finding_group *g) {
  return g->nsamples < f->sample_cap && f->sample_bytes < FINDINGS_SAMPLE_BYTES;
}

bool fp__findings_wants_sample(const fp_findings *f, const char *code, uint32_t field) {
  if (!f || !code) return false;
  long gi = lookup(f, code, field, key_hash(code, field));
  if (gi < 0) return f->sample_bytes < FINDINGS_SAMPLE_BYTES;
  return group_wants_sample(f, &f->groups[gi]);
}

static fp_err add_sample(fp_findings *f, size_t gi, uint64_t row, uint32_t field, const char *cell,
                         size_t cell_len, const char *note) {
  fp_finding_group *g = &f->groups[gi];
  group_aux *a = &f->aux[gi];
  if (g->nsamples == a->samples_cap) {
    size_t nc = a->samples_cap ? a->samples_cap * 2 : 4;
    if (nc > f->sample_cap) nc = f->sample_cap;
    fp_finding_sample *s = realloc(g->samples, nc * sizeof *s);
    if (!s) return FP_ERR_NOMEM;
    g->samples = s;
    a->samples_cap = nc;
  }
  fp_finding_sample s = {row, field, NULL, NULL};
  if (cell) s.cell = fp__utf8_sanitize(cell, cell_len, CELL_MAX_BYTES, NULL);
  if (note) s.note = fp__utf8_sanitize(note, strlen(note), NOTE_MAX_BYTES, NULL);
  if ((cell && !s.cell) || (note && !s.note)) {
    free(s.cell);
    free(s.note);
    return FP_ERR_NOMEM;
  }
  f->sample_bytes +=
      sizeof s + (s.cell ? strlen(s.cell) + 1 : 0) + (s.note ? strlen(s.note) + 1 : 0);
  g->samples[g->nsamples++] = s;
  return FP_OK;
}

fp_err fp_findings_override(fp_findings *f, const char *code, fp_severity sev, bool ignore) {
  if (!f || !code) return FP_ERR_INVAL;
  fp_severity_override_entry *p =
      realloc(f->overrides, (f->noverrides + 1) * sizeof *f->overrides);
  if (!p) return FP_ERR_NOMEM;
  f->overrides = p;
  char *c = strdup(code);
  if (!c) return FP_ERR_NOMEM;
  f->overrides[f->noverrides++] = (fp_severity_override_entry){c, sev, ignore};
  return FP_OK;
}

/* Applies an override to (code, sev); returns false when the code is ignored. */
static bool apply_override(const fp_findings *f, const char *code, fp_severity *sev) {
  for (size_t i = 0; i < f->noverrides; i++) {
    if (strcmp(f->overrides[i].code, code) != 0) continue;
    if (f->overrides[i].ignore) return false;
    *sev = f->overrides[i].sev;
  }
  return true;
}

fp_err fp_findings_add(fp_findings *f, const char *code, fp_severity sev, uint64_t row,
                       uint32_t field, const char *field_name, const char *cell, size_t cell_len,
                       const char *note) {
  if (!f || !code) return FP_ERR_INVAL;
  if (f->noverrides && !apply_override(f, code, &sev)) return FP_OK;
  uint64_t h = key_hash(code, field);
  long found = lookup(f, code, field, h);
  size_t gi;
  if (found >= 0) {
    gi = (size_t)found;
  } else {
    fp_err e = new_group(f, code, sev, field, field_name, h, row, &gi);
    if (e) return e;
  }
  f->last = gi + 1;
  fp_finding_group *g = &f->groups[gi];
  g->count++;
  fp_err e = FP_OK;
  if (group_wants_sample(f, g)) e = add_sample(f, gi, row, field, cell, cell_len, note);
  g->capped = g->count > g->nsamples; /* the count stays exact even if the sample failed */
  return e;
}

size_t fp_findings_count_groups(const fp_findings *f) {
  return f ? f->ngroups : 0;
}

const fp_finding_group *fp_findings_group(const fp_findings *f, size_t i) {
  return (f && i < f->ngroups) ? &f->groups[i] : NULL;
}

uint64_t fp_findings_total(const fp_findings *f, fp_severity sev) {
  uint64_t t = 0;
  if (!f) return 0;
  for (size_t i = 0; i < f->ngroups; i++)
    if (f->groups[i].severity == sev) t += f->groups[i].count;
  return t;
}

/* ---- collectors of several threads ----------------------------------------------------- */

void fp__findings_finishing(fp_findings *f) {
  if (f) f->finishing = true;
}

fp_err fp__findings_new_like(const fp_findings *f, unsigned phase, fp_findings **out) {
  fp_err e = fp_findings_new(f->sample_cap, out);
  for (size_t i = 0; !e && i < f->noverrides; i++)
    e = fp_findings_override(*out, f->overrides[i].code, f->overrides[i].sev,
                             f->overrides[i].ignore);
  if (e) {
    fp_findings_free(*out);
    *out = NULL;
    return e;
  }
  (*out)->phase = phase;
  return FP_OK;
}

static size_t sample_size(const fp_finding_sample *s) {
  return sizeof *s + (s->cell ? strlen(s->cell) + 1 : 0) + (s->note ? strlen(s->note) + 1 : 0);
}

static void sample_free(fp_finding_sample *s) {
  free(s->cell);
  free(s->note);
}

/* (first row, phase, creation) of a group: the order single-threaded collection sees. */
static int first_cmp(const group_aux *a, const group_aux *b) {
  if (a->first_row != b->first_row) return a->first_row < b->first_row ? -1 : 1;
  if (a->phase != b->phase) return a->phase < b->phase ? -1 : 1;
  if (a->first_seq != b->first_seq) return a->first_seq < b->first_seq ? -1 : 1;
  return 0;
}

/* Folds src's group (ss, sa) into dst's group gi: samples merged in (row, phase) order
 * and cut at the cap; the rest freed. */
static fp_err merge_group(fp_findings *dst, size_t gi, fp_finding_group *sg, const group_aux *sa) {
  fp_finding_group *dg = &dst->groups[gi];
  group_aux *da = &dst->aux[gi];
  size_t n = dg->nsamples + sg->nsamples, keep = n < dst->sample_cap ? n : dst->sample_cap;
  fp_finding_sample *out = malloc((keep ? keep : 1) * sizeof *out);
  if (!out) return FP_ERR_NOMEM;
  bool src_first_on_tie = sa->phase < da->phase;
  size_t i = 0, j = 0, k = 0;
  while (i < dg->nsamples || j < sg->nsamples) {
    bool take_src;
    if (i == dg->nsamples) take_src = true;
    else if (j == sg->nsamples) take_src = false;
    else if (dg->samples[i].row != sg->samples[j].row)
      take_src = sg->samples[j].row < dg->samples[i].row;
    else take_src = src_first_on_tie;
    fp_finding_sample *s = take_src ? &sg->samples[j++] : &dg->samples[i++];
    if (k < keep) {
      out[k++] = *s;
      if (take_src) dst->sample_bytes += sample_size(s);
    } else {
      if (!take_src) dst->sample_bytes -= sample_size(s);
      sample_free(s);
    }
  }
  free(dg->samples);
  free(sg->samples);
  sg->samples = NULL;
  sg->nsamples = 0;
  dg->samples = out;
  dg->nsamples = k;
  da->samples_cap = keep ? keep : 1;
  dg->count += sg->count;
  dg->capped = dg->count > dg->nsamples;
  if (first_cmp(sa, da) < 0) { /* src saw it first: its first finding fixed the severity */
    dg->severity = sg->severity;
    da->first_row = sa->first_row;
    da->first_seq = sa->first_seq;
    da->phase = sa->phase;
  }
  return FP_OK;
}

typedef struct ranked_group {
  fp_finding_group g;
  group_aux a;
} ranked_group;

static int ranked_cmp(const void *x, const void *y) {
  return first_cmp(&((const ranked_group *)x)->a, &((const ranked_group *)y)->a);
}

/* Orders dst's groups by when they were first seen and rebuilds the index. */
static fp_err reorder(fp_findings *f) {
  if (f->ngroups < 2) return FP_OK;
  ranked_group *r = malloc(f->ngroups * sizeof *r);
  if (!r) return FP_ERR_NOMEM;
  for (size_t i = 0; i < f->ngroups; i++) r[i] = (ranked_group){f->groups[i], f->aux[i]};
  qsort(r, f->ngroups, sizeof *r, ranked_cmp); /* keys are unique: no stability needed */
  for (size_t i = 0; i < f->ngroups; i++) {
    f->groups[i] = r[i].g;
    f->aux[i] = r[i].a;
  }
  free(r);
  memset(f->index, 0, f->index_cap * sizeof *f->index);
  for (size_t i = 0; i < f->ngroups; i++) index_put(f, i);
  f->last = 0;
  return FP_OK;
}

fp_err fp__findings_merge(fp_findings *dst, fp_findings *src) {
  if (!dst || !src) return FP_ERR_INVAL;
  fp_err e = FP_OK;
  size_t i = 0;
  for (; i < src->ngroups && !e; i++) {
    fp_finding_group *sg = &src->groups[i];
    const group_aux *sa = &src->aux[i];
    long gi = lookup(dst, sg->code, sg->field, sa->key_hash);
    if (gi >= 0) {
      e = merge_group(dst, (size_t)gi, sg, sa);
      if (e) break;
      free(sg->code);
      free(sg->field_name);
      free(sg->message);
      continue;
    }
    if ((e = ensure_room(dst))) break;
    size_t di = dst->ngroups++;
    dst->groups[di] = *sg;
    dst->aux[di] = *sa;
    index_put(dst, di);
    for (size_t k = 0; k < sg->nsamples; k++) dst->sample_bytes += sample_size(&sg->samples[k]);
  }
  /* src keeps only what was not moved (everything after a failure) */
  size_t left = src->ngroups - i; /* a group that failed to merge is still whole */
  if (left) {
    memmove(src->groups, src->groups + i, left * sizeof *src->groups);
    memmove(src->aux, src->aux + i, left * sizeof *src->aux);
  }
  src->ngroups = left;
  src->sample_bytes = 0;
  if (src->index) memset(src->index, 0, src->index_cap * sizeof *src->index);
  for (size_t k = 0; k < src->ngroups; k++) index_put(src, k);
  src->last = 0;
  if (e) return e;
  dst->last = 0;
  return reorder(dst);
}
