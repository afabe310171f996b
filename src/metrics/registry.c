/* The process-wide registry of application metrics. Families and series
 * are found under one mutex (by name, or at handle creation); updates go
 * through the series' atomics, so a handle costs no lock. Nothing is ever
 * freed: handles stay valid for the life of the process, and the series
 * cap bounds the memory. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "metrics/metrics_internal.h"
#include "plexspaces/error.h"

typedef struct family {
  char *name, *help;
  px_metric_kind kind; /* 0 until first used (px_metrics_describe) */
  double bounds[PX_METRICS_MAX_BUCKETS];
  size_t nb;
  struct px_metric *series, **tail; /* in creation order */
  struct family *next_fam, *hnext;
} family;

struct px_metric {
  family *fam;
  px_metric_kind kind; /* a copy, so updates need not read the family */
  char *labels;        /* canonical */
  _Atomic(uint64_t) bits; /* the value's (sum's for histograms) bits */
  _Atomic(uint64_t) *counts; /* histograms: nb + 1 per-bucket counts */
  struct px_metric *next, *hnext;
};

static const double default_bounds[] = {.0001, .00025, .0005, .001, .0025,
                                        .005,  .01,    .025,  .05,  .1,
                                        .25,   .5,     1,     2.5,  5,
                                        10};
#define NDEFAULT (sizeof default_bounds / sizeof default_bounds[0])

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static family *families, **fam_tail = &families;
static family **fam_tab;      /* chained hash by name */
static px_metric **ser_tab;   /* chained hash by (family, labels) */
static size_t fam_cap, ser_cap, nfam, nseries;

static uint64_t hash_str(uint64_t h, const char *s) {
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}
static uint64_t fam_hash(const char *name) {
  return hash_str(1469598103934665603ull, name);
}
static uint64_t ser_hash(const family *f, const char *labels) {
  return hash_str(fam_hash(f->name), labels);
}

static void fam_grow(void) {
  size_t cap = fam_cap ? 2 * fam_cap : 64;
  family **t = px__xcalloc(cap, sizeof *t);
  for (size_t i = 0; i < fam_cap; i++)
    for (family *f = fam_tab[i], *nx; f; f = nx) {
      nx = f->hnext;
      size_t h = fam_hash(f->name) & (cap - 1);
      f->hnext = t[h];
      t[h] = f;
    }
  free(fam_tab);
  fam_tab = t;
  fam_cap = cap;
}

static void ser_grow(void) {
  size_t cap = ser_cap ? 2 * ser_cap : 256;
  px_metric **t = px__xcalloc(cap, sizeof *t);
  for (size_t i = 0; i < ser_cap; i++)
    for (px_metric *m = ser_tab[i], *nx; m; m = nx) {
      nx = m->hnext;
      size_t h = ser_hash(m->fam, m->labels) & (cap - 1);
      m->hnext = t[h];
      t[h] = m;
    }
  free(ser_tab);
  ser_tab = t;
  ser_cap = cap;
}

/* Finds or makes the family (mu held). */
static family *fam_get(const char *name) {
  if (fam_cap) {
    for (family *f = fam_tab[fam_hash(name) & (fam_cap - 1)]; f;
         f = f->hnext)
      if (strcmp(f->name, name) == 0) return f;
  }
  if (nfam + 1 > fam_cap / 2) fam_grow();
  family *f = px__xcalloc(1, sizeof *f);
  f->name = px__xstrndup(name, strlen(name));
  f->tail = &f->series;
  size_t h = fam_hash(name) & (fam_cap - 1);
  f->hnext = fam_tab[h];
  fam_tab[h] = f;
  *fam_tail = f;
  fam_tail = &f->next_fam;
  nfam++;
  return f;
}

static px_metric *ser_find(family *f, const char *labels) {
  if (!ser_cap) return NULL;
  for (px_metric *m = ser_tab[ser_hash(f, labels) & (ser_cap - 1)]; m;
       m = m->hnext)
    if (m->fam == f && strcmp(m->labels, labels) == 0) return m;
  return NULL;
}

static bool bounds_ok(const double *b, size_t nb) {
  if (nb == 0 || nb > PX_METRICS_MAX_BUCKETS) return false;
  for (size_t i = 0; i < nb; i++)
    if (!isfinite(b[i]) || (i && b[i - 1] >= b[i])) return false;
  return true;
}

/* The series (name, labels) of `kind`, made if need be. buckets NULL:
 * the family's (the defaults for a new one). */
static int resolve(const char *name, const char *help, const char *labels,
                   px_metric_kind kind, const double *buckets, size_t nb,
                   px_metric **out) {
  *out = NULL;
  if (!px__metrics_name_ok(name) || px__metrics_reserved(name) ||
      (help && !px__metrics_utf8_ok(help, strlen(help))))
    return PX_EINVAL;
  if (buckets && !bounds_ok(buckets, nb)) return PX_EINVAL;
  char *canon;
  int rc = px__metrics_labels_parse(labels, kind == PX_METRIC_HISTOGRAM,
                                    &canon);
  if (rc) return rc;
  pthread_mutex_lock(&mu);
  family *f = fam_get(name);
  if (!f->kind) {
    f->kind = kind;
    if (kind == PX_METRIC_HISTOGRAM) {
      if (!buckets) buckets = default_bounds, nb = NDEFAULT;
      memcpy(f->bounds, buckets, nb * sizeof *buckets);
      f->nb = nb;
    }
  } else if (f->kind != kind ||
             (buckets && (nb != f->nb ||
                          memcmp(buckets, f->bounds, nb * sizeof *buckets)))) {
    rc = PX_EINVAL;
  }
  if (!rc && help && !f->help) f->help = px__xstrndup(help, strlen(help));
  px_metric *m = rc ? NULL : ser_find(f, canon);
  if (!rc && !m) {
    if (nseries >= PX_METRICS_MAX_SERIES) {
      rc = PX_ERANGE;
    } else {
      m = px__xcalloc(1, sizeof *m);
      m->fam = f;
      m->kind = kind;
      m->labels = canon;
      canon = NULL;
      if (kind == PX_METRIC_HISTOGRAM)
        m->counts = px__xcalloc(f->nb + 1, sizeof *m->counts);
      if (nseries + 1 > ser_cap / 2) ser_grow();
      size_t h = ser_hash(f, m->labels) & (ser_cap - 1);
      m->hnext = ser_tab[h];
      ser_tab[h] = m;
      *f->tail = m;
      f->tail = &m->next;
      nseries++;
    }
  }
  pthread_mutex_unlock(&mu);
  free(canon);
  *out = m;
  return rc;
}

/* ---- updates ----------------------------------------------------------- */

static double from_bits(uint64_t u) {
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}
static uint64_t to_bits(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}

static void add_bits(_Atomic(uint64_t) *a, double d) {
  uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(
      a, &old, to_bits(from_bits(old) + d), memory_order_relaxed,
      memory_order_relaxed)) {
  }
}

void px_metric_add(px_metric *m, double delta) {
  if (m && m->kind == PX_METRIC_COUNTER && isfinite(delta) && delta >= 0)
    add_bits(&m->bits, delta);
}

void px_metric_set(px_metric *m, double v) {
  if (m && m->kind == PX_METRIC_GAUGE)
    atomic_store_explicit(&m->bits, to_bits(v), memory_order_relaxed);
}

void px_metric_observe(px_metric *m, double v) {
  if (!m || m->kind != PX_METRIC_HISTOGRAM || isnan(v)) return;
  const family *f = m->fam;
  /* The first bucket whose bound is >= v (Prometheus' "le"). */
  size_t lo = 0, hi = f->nb;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (v <= f->bounds[mid])
      hi = mid;
    else
      lo = mid + 1;
  }
  atomic_fetch_add_explicit(&m->counts[lo], 1, memory_order_relaxed);
  add_bits(&m->bits, v);
}

/* ---- the API by name --------------------------------------------------- */

int px_metrics_add(const char *name, const char *labels, double delta) {
  if (!isfinite(delta) || delta < 0) return PX_EINVAL;
  px_metric *m;
  int rc = resolve(name, NULL, labels, PX_METRIC_COUNTER, NULL, 0, &m);
  if (!rc) px_metric_add(m, delta);
  return rc;
}

int px_metrics_set(const char *name, const char *labels, double value) {
  px_metric *m;
  int rc = resolve(name, NULL, labels, PX_METRIC_GAUGE, NULL, 0, &m);
  if (!rc) px_metric_set(m, value);
  return rc;
}

int px_metrics_observe(const char *name, const char *labels, double value) {
  if (isnan(value)) return PX_EINVAL;
  px_metric *m;
  int rc = resolve(name, NULL, labels, PX_METRIC_HISTOGRAM, NULL, 0, &m);
  if (!rc) px_metric_observe(m, value);
  return rc;
}

int px_metrics_describe(const char *name, const char *help) {
  if (!help || !px__metrics_utf8_ok(help, strlen(help)) ||
      !px__metrics_name_ok(name) || px__metrics_reserved(name))
    return PX_EINVAL;
  pthread_mutex_lock(&mu);
  family *f = fam_get(name);
  free(f->help);
  f->help = px__xstrndup(help, strlen(help));
  pthread_mutex_unlock(&mu);
  return 0;
}

px_metric *px_metrics_counter(const char *name, const char *help,
                              const char *labels) {
  px_metric *m;
  resolve(name, help, labels, PX_METRIC_COUNTER, NULL, 0, &m);
  return m;
}

px_metric *px_metrics_gauge(const char *name, const char *help,
                            const char *labels) {
  px_metric *m;
  resolve(name, help, labels, PX_METRIC_GAUGE, NULL, 0, &m);
  return m;
}

px_metric *px_metrics_histogram(const char *name, const char *help,
                                const char *labels, const double *buckets,
                                size_t nbuckets) {
  px_metric *m;
  if (buckets && !nbuckets) return NULL;
  resolve(name, help, labels, PX_METRIC_HISTOGRAM, buckets, nbuckets, &m);
  return m;
}

/* ---- render -------------------------------------------------------------- */

void px__metrics_registry_collect(px_metrics_writer *w) {
  uint64_t counts[PX_METRICS_MAX_BUCKETS + 1];
  pthread_mutex_lock(&mu);
  for (family *f = families; f; f = f->next_fam) {
    if (!f->kind || !f->series) continue;
    px_metrics_family(w, f->name, f->help, f->kind);
    for (px_metric *m = f->series; m; m = m->next) {
      double v = from_bits(atomic_load_explicit(&m->bits,
                                                memory_order_relaxed));
      if (f->kind != PX_METRIC_HISTOGRAM) {
        px__metrics_sample_canon(w, m->labels, v);
        continue;
      }
      for (size_t i = 0; i <= f->nb; i++)
        counts[i] = atomic_load_explicit(&m->counts[i], memory_order_relaxed);
      px__metrics_hist_canon(w, m->labels, f->bounds, counts, f->nb, v);
    }
  }
  pthread_mutex_unlock(&mu);
}
