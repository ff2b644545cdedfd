/* recq.c — a record queue: the reader's thread copies each record into a batch, and one
 * consumer thread calls the consumer on every record, in order. Two batches: the reader
 * fills one while the consumer works through the other, and waits only when the consumer
 * is a whole batch behind, so memory stays at two batches (RECQ_BYTES each, or one row
 * when a row is bigger). A consumer error stops the queue: the reader gets it on its next
 * hand-over or at finish, with the consumer's diagnostic. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "quality/quality_int.h"

#define RECQ_BYTES ((size_t)256 << 10)
#define RECQ_ROWS 4096u

struct fp__recq {
  fp__recq_fn fn;
  void *ud;
  pthread_t tid;
  bool started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  fp__rbatch b[2];
  unsigned fill;      /* the batch the reader fills */
  fp__rbatch *ready;  /* handed over, not yet taken; NULL = none */
  bool busy;          /* the consumer works on a batch */
  bool closing;       /* no more batches */
  fp_err err;         /* the consumer's first error */
  fp_diag diag;
  fp_cell *cells;     /* the consumer's scratch for one record */
  uint32_t cells_cap;
};

static fp_err consume(fp__recq *q, const fp__rbatch *b) {
  for (uint32_t r = 0; r < b->nrows; r++) {
    uint32_t n = b->row_start[r + 1] - b->row_start[r];
    if (n > q->cells_cap) {
      fp_cell *nc = realloc(q->cells, (size_t)n * sizeof *nc);
      if (!nc) return fp_diag_set(&q->diag, FP_ERR_NOMEM, "record queue: out of memory");
      q->cells = nc;
      q->cells_cap = n;
    }
    fp_csv_record rec;
    fp__rbatch_record(b, r, q->cells, &rec);
    fp_err e = q->fn(q->ud, &rec, &q->diag);
    if (e) { /* where it failed, not where the reader is by the time it hears of it */
      fp_diag_at(&q->diag, rec.index, 0, rec.byte_offset);
      return e;
    }
  }
  return FP_OK;
}

static void *consumer(void *arg) {
  fp__recq *q = arg;
  pthread_mutex_lock(&q->mu);
  for (;;) {
    while (!q->ready && !q->closing) pthread_cond_wait(&q->cv, &q->mu);
    fp__rbatch *b = q->ready;
    if (!b) break; /* closing, nothing left */
    q->ready = NULL;
    q->busy = true;
    bool skip = q->err != FP_OK; /* after an error, batches are only drained */
    pthread_mutex_unlock(&q->mu);
    fp_err e = skip ? FP_OK : consume(q, b);
    pthread_mutex_lock(&q->mu);
    if (e && !q->err) q->err = e;
    q->busy = false;
    pthread_cond_broadcast(&q->cv);
  }
  pthread_mutex_unlock(&q->mu);
  return NULL;
}

fp_err fp__recq_new(fp__recq_fn fn, void *ud, fp__recq **out) {
  *out = NULL;
  fp__recq *q = calloc(1, sizeof *q);
  if (!q) return FP_ERR_NOMEM;
  q->fn = fn;
  q->ud = ud;
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->cv, NULL);
  if (pthread_create(&q->tid, NULL, consumer, q) != 0) {
    fp__recq_free(q);
    return FP_ERR_INTERNAL;
  }
  q->started = true;
  *out = q;
  return FP_OK;
}

/* Waits until the consumer took the previous batch and finished it, then hands over the
 * one being filled. Returns the consumer's error, if any, with its diagnostic. */
static fp_err hand_over(fp__recq *q, fp_diag *d) {
  fp__rbatch *b = &q->b[q->fill];
  pthread_mutex_lock(&q->mu);
  while ((q->ready || q->busy) && !q->err) pthread_cond_wait(&q->cv, &q->mu);
  fp_err e = q->err;
  if (!e && b->nrows) {
    q->ready = b;
    pthread_cond_broadcast(&q->cv);
  }
  pthread_mutex_unlock(&q->mu);
  if (e) {
    if (d) *d = q->diag;
    return e;
  }
  if (b->nrows) {
    q->fill ^= 1u;
    fp__rbatch_clear(&q->b[q->fill]);
  }
  return FP_OK;
}

fp_err fp__recq_push(fp__recq *q, const fp_csv_record *rec, fp_diag *d) {
  fp__rbatch *b = &q->b[q->fill];
  fp_err e = fp__rbatch_add(b, rec, rec->ncells, NULL);
  if (e) return fp_diag_set(d, e, "record queue: %s", fp_err_name(e));
  if (b->nrows < RECQ_ROWS && b->text_len < RECQ_BYTES) return FP_OK;
  return hand_over(q, d);
}

fp_err fp__recq_finish(fp__recq *q, fp_diag *d) {
  fp_err e = hand_over(q, d);
  pthread_mutex_lock(&q->mu);
  q->closing = true;
  pthread_cond_broadcast(&q->cv);
  pthread_mutex_unlock(&q->mu);
  pthread_join(q->tid, NULL);
  q->started = false;
  if (!e && q->err) {
    e = q->err;
    if (d) *d = q->diag;
  }
  return e;
}

void fp__recq_free(fp__recq *q) {
  if (!q) return;
  if (q->started) {
    pthread_mutex_lock(&q->mu);
    q->closing = true;
    q->err = q->err ? q->err : FP_ERR_INTERNAL; /* abandoned: drain without consuming */
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->tid, NULL);
  }
  fp__rbatch_free(&q->b[0]);
  fp__rbatch_free(&q->b[1]);
  free(q->cells);
  pthread_mutex_destroy(&q->mu);
  pthread_cond_destroy(&q->cv);
  free(q);
}
