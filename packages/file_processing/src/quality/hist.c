/* hist.c — the one-pass, fixed-size, mergeable histogram behind a numeric or temporal
 * column's distribution and quantiles (quality_int.h).
 *
 * Why this shape: equal-width bins whose width is a power of two and whose edges sit on
 * multiples of the width can be coarsened by merging neighbours pairwise, which keeps
 * every count exact, needs no second pass and no buffer of values, and lets two partial
 * histograms (ranges of one file profiled in parallel) be merged bin for bin. The price
 * is resolution: the data always spans at least a quarter of the bins after the first
 * widening, so quantiles are good to about (max - min) / 16 in the worst case and usually
 * to one bin, (max - min) / 32 .. / 64. */
#include <math.h>
#include <string.h>

#include "quality/quality_int.h"

#define NB FP_HIST_BINS
/* Beyond this magnitude bin arithmetic would overflow; such values are not binned. */
#define HIST_ABS_MAX 1e300

const char *fp_hist_unit_name(fp_hist_unit u) {
  switch (u) {
    case FP_HIST_DAY: return "day";
    case FP_HIST_SECOND: return "second";
    default: return "number";
  }
}

void fp__hist_init(fp__hist *h) {
  memset(h, 0, sizeof *h);
}

/* Smallest power of two >= x (x > 0, finite). */
static double pow2_at_least(double x) {
  int e;
  double m = frexp(x, &e); /* x = m * 2^e, m in [0.5, 1) */
  return m == 0.5 ? ldexp(1.0, e - 1) : ldexp(1.0, e);
}

static void set_range(fp__hist *h, double lo, double w) {
  h->lo = lo;
  h->w = w;
  h->hi = lo + NB * w;
  h->inv_w = 1.0 / w;
}

/* One doubling of the width, extending the range downwards (down) or upwards. The new lo
 * is a multiple of the new width, and every old bin lands whole in one new bin. */
static void grow(fp__hist *h, int down) {
  double w2 = 2 * h->w, nlo;
  if (down) {
    double nhi = ceil((h->lo + NB * h->w) / w2) * w2;
    nlo = nhi - NB * w2;
  } else {
    nlo = floor(h->lo / w2) * w2;
  }
  long off = lround((h->lo - nlo) / h->w); /* 0..1 upwards, NB-1..NB downwards */
  uint64_t nc[NB] = {0};
  for (long i = 0; i < NB; i++)
    if (h->c[i]) nc[(off + i) / 2] += h->c[i];
  memcpy(h->c, nc, sizeof nc);
  set_range(h, nlo, w2);
}

static void cover(fp__hist *h, double x) {
  while (x < h->lo) grow(h, 1);
  while (x >= h->lo + NB * h->w) grow(h, 0);
}

static size_t bin_of(const fp__hist *h, double x) {
  double i = floor((x - h->lo) / h->w);
  return i < 0 ? 0 : i >= NB ? NB - 1 : (size_t)i;
}

/* The second distinct value turns the single point into bins: the span of the two takes
 * about half of the bins, centred, leaving room to grow on both sides before widening. */
static void spread(fp__hist *h, double x) {
  double a = x < h->lo ? x : h->lo, b = x < h->lo ? h->lo : x;
  double w = pow2_at_least((b - a) / (NB / 2));
  double v0 = h->lo;
  uint64_t n0 = h->c[0];
  memset(h->c, 0, sizeof h->c);
  set_range(h, floor(a / w) * w - (NB / 4) * w, w);
  h->c[bin_of(h, v0)] = n0;
}

static void add_n(fp__hist *h, double x, uint64_t k) {
  if (!isfinite(x) || fabs(x) > HIST_ABS_MAX || !k) return;
  if (!h->n) {
    h->lo = h->hi = h->vmin = h->vmax = x;
    h->w = h->inv_w = 0;
    h->c[0] = k;
    h->n = k;
    return;
  }
  if (x < h->vmin) h->vmin = x;
  if (x > h->vmax) h->vmax = x;
  h->n += k;
  if (h->w == 0) {
    if (x == h->lo) {
      h->c[0] += k;
      return;
    }
    spread(h, x);
  }
  if (x < h->lo || x >= h->lo + NB * h->w) cover(h, x);
  h->c[bin_of(h, x)] += k;
}

void fp__hist_add_slow(fp__hist *h, double x) {
  add_n(h, x, 1);
}

void fp__hist_merge(fp__hist *dst, const fp__hist *src) {
  if (!src->n) return;
  if (!dst->n) {
    *dst = *src;
    return;
  }
  if (src->w == 0) {
    add_n(dst, src->lo, src->n);
    return;
  }
  if (dst->w == 0) { /* merge the point into a copy of the binned one */
    fp__hist t = *src;
    add_n(&t, dst->lo, dst->n);
    *dst = t;
    return;
  }
  while (dst->w < src->w) grow(dst, 0);
  size_t first = 0, last = NB - 1;
  while (!src->c[first]) first++;
  while (!src->c[last]) last--;
  cover(dst, src->lo + (double)first * src->w);
  cover(dst, src->lo + ((double)last + 0.5) * src->w);
  for (size_t j = first; j <= last; j++)
    if (src->c[j]) dst->c[bin_of(dst, src->lo + ((double)j + 0.5) * src->w)] += src->c[j];
  dst->n += src->n;
  if (src->vmin < dst->vmin) dst->vmin = src->vmin;
  if (src->vmax > dst->vmax) dst->vmax = src->vmax;
}

/* Estimated position of the k-th smallest value (0-based): the middle of its share of
 * its bin, the values of a bin taken as evenly spread. */
static double order_stat(const fp__hist *h, size_t first, size_t last, uint64_t k) {
  uint64_t before = 0;
  for (size_t i = first; i <= last; i++) {
    if (k < before + h->c[i])
      return h->lo + ((double)i + ((double)(k - before) + 0.5) / (double)h->c[i]) * h->w;
    before += h->c[i];
  }
  return h->vmax;
}

/* Linear-interpolation quantile (rank p * (n - 1), as numpy's default and Python's
 * statistics.quantiles(method="inclusive") count) between the estimated neighbouring order
 * statistics; clamped to the exact extremes. */
static double quantile(const fp__hist *h, size_t first, size_t last, double p) {
  double t = p * (double)(h->n - 1);
  uint64_t k = (uint64_t)t;
  double q = order_stat(h, first, last, k);
  if (t > (double)k && k + 1 < h->n) q += (t - (double)k) * (order_stat(h, first, last, k + 1) - q);
  return q < h->vmin ? h->vmin : q > h->vmax ? h->vmax : q;
}

void fp__hist_export(const fp__hist *h, fp_hist_unit unit, fp_column_histogram *out) {
  memset(out, 0, sizeof *out);
  if (!h->n) return;
  out->present = true;
  out->unit = unit;
  if (h->w == 0) {
    out->lo = out->hi = h->lo;
    out->nbins = 1;
    out->counts[0] = h->n;
    out->p05 = out->p25 = out->p50 = out->p75 = out->p95 = h->lo;
    return;
  }
  size_t first = 0, last = NB - 1;
  while (!h->c[first]) first++;
  while (!h->c[last]) last--;
  out->nbins = (uint32_t)(last - first + 1);
  out->lo = h->lo + (double)first * h->w;
  out->hi = h->lo + (double)(last + 1) * h->w;
  memcpy(out->counts, h->c + first, out->nbins * sizeof out->counts[0]);
  out->p05 = quantile(h, first, last, 0.05);
  out->p25 = quantile(h, first, last, 0.25);
  out->p50 = quantile(h, first, last, 0.50);
  out->p75 = quantile(h, first, last, 0.75);
  out->p95 = quantile(h, first, last, 0.95);
}
