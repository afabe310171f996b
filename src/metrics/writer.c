/* The exposition being built: families and series are gathered from the
 * registry, the runtime and the collectors in any order, then sorted,
 * merged (a family written twice, a series written twice) and printed in
 * the Prometheus text format 0.0.4. Sorting first makes the output
 * deterministic and keeps every family's samples together, which the
 * format requires. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "metrics/metrics_internal.h"
#include "plexspaces/error.h"

typedef struct wseries {
  char *labels; /* canonical text */
  size_t seq;   /* write order: the first of two equal series wins */
  double value;
  double *bounds; /* histograms */
  uint64_t *counts;
  size_t nb;
  double sum;
} wseries;

typedef struct wfamily {
  char *name, *help;
  px_metric_kind kind;
  size_t seq;
  wseries *s;
  size_t n, cap;
} wfamily;

struct px_metrics_writer {
  wfamily *f;
  size_t n, cap;
  long cur; /* index of the family samples go to, -1 = none (or bad) */
  size_t seq;
};

px_metrics_writer *px__metrics_writer_new(void) {
  px_metrics_writer *w = px__xcalloc(1, sizeof *w);
  w->cur = -1;
  return w;
}

int px_metrics_family(px_metrics_writer *w, const char *name,
                      const char *help, px_metric_kind kind) {
  if (!w) return PX_EINVAL;
  w->cur = -1;
  if (!px__metrics_name_ok(name) ||
      (help && !px__metrics_utf8_ok(help, strlen(help))) ||
      (kind != PX_METRIC_COUNTER && kind != PX_METRIC_GAUGE &&
       kind != PX_METRIC_HISTOGRAM))
    return PX_EINVAL;
  if (w->n == w->cap) {
    w->cap = w->cap ? 2 * w->cap : 32;
    w->f = px__xrealloc(w->f, w->cap * sizeof *w->f);
  }
  wfamily *f = &w->f[w->n];
  memset(f, 0, sizeof *f);
  f->name = px__xstrndup(name, strlen(name));
  f->help = help && *help ? px__xstrndup(help, strlen(help)) : NULL;
  f->kind = kind;
  f->seq = w->seq++;
  w->cur = (long)w->n++;
  return 0;
}

static wseries *add_series(px_metrics_writer *w, char *canon) {
  wfamily *f = &w->f[w->cur];
  if (f->n == f->cap) {
    f->cap = f->cap ? 2 * f->cap : 8;
    f->s = px__xrealloc(f->s, f->cap * sizeof *f->s);
  }
  wseries *s = &f->s[f->n++];
  memset(s, 0, sizeof *s);
  s->labels = canon;
  s->seq = w->seq++;
  return s;
}

static int sample(px_metrics_writer *w, char *canon, double value) {
  if (w->f[w->cur].kind == PX_METRIC_HISTOGRAM) {
    free(canon);
    return PX_EINVAL;
  }
  add_series(w, canon)->value = value;
  return 0;
}

static int hist(px_metrics_writer *w, char *canon, const double *bounds,
                const uint64_t *counts, size_t nb, double sum) {
  bool ok = w->f[w->cur].kind == PX_METRIC_HISTOGRAM && counts &&
            (nb == 0 || bounds) && nb <= PX_METRICS_MAX_BUCKETS;
  for (size_t i = 1; ok && i < nb; i++) ok = bounds[i - 1] < bounds[i];
  if (!ok) {
    free(canon);
    return PX_EINVAL;
  }
  wseries *s = add_series(w, canon);
  s->nb = nb;
  s->bounds = px__xmalloc((nb ? nb : 1) * sizeof *s->bounds);
  if (nb) memcpy(s->bounds, bounds, nb * sizeof *bounds);
  s->counts = px__xmalloc((nb + 1) * sizeof *s->counts);
  memcpy(s->counts, counts, (nb + 1) * sizeof *counts);
  s->sum = sum;
  return 0;
}

int px_metrics_sample(px_metrics_writer *w, const char *const *labels,
                      double value) {
  if (!w || w->cur < 0) return PX_EINVAL;
  char *canon;
  int rc = px__metrics_labels_pairs(labels, false, &canon);
  return rc ? rc : sample(w, canon, value);
}

int px_metrics_sample_histogram(px_metrics_writer *w,
                                const char *const *labels,
                                const double *bounds, const uint64_t *counts,
                                size_t nbounds, double sum) {
  if (!w || w->cur < 0) return PX_EINVAL;
  char *canon;
  int rc = px__metrics_labels_pairs(labels, true, &canon);
  return rc ? rc : hist(w, canon, bounds, counts, nbounds, sum);
}

int px__metrics_sample_canon(px_metrics_writer *w, const char *canon,
                             double value) {
  if (w->cur < 0) return PX_EINVAL;
  return sample(w, px__xstrndup(canon, strlen(canon)), value);
}

int px__metrics_hist_canon(px_metrics_writer *w, const char *canon,
                           const double *bounds, const uint64_t *counts,
                           size_t nbounds, double sum) {
  if (w->cur < 0) return PX_EINVAL;
  return hist(w, px__xstrndup(canon, strlen(canon)), bounds, counts, nbounds,
              sum);
}

/* ---- printing ---------------------------------------------------------- */

typedef struct sbuf {
  char *p;
  size_t n, cap;
} sbuf;

static void put(sbuf *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    while (b->n + n + 1 > b->cap) b->cap = b->cap ? 2 * b->cap : 4096;
    b->p = px__xrealloc(b->p, b->cap);
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
}
static void puts_(sbuf *b, const char *s) { put(b, s, strlen(s)); }

static void put_num(sbuf *b, double v) {
  char t[40];
  px__metrics_fmt_double(t, sizeof t, v);
  puts_(b, t);
}

/* name{labels[,extra]} value */
static void put_sample(sbuf *b, const char *name, const char *suffix,
                       const char *labels, const char *extra, double v) {
  puts_(b, name);
  puts_(b, suffix);
  if (*labels || extra) {
    put(b, "{", 1);
    puts_(b, labels);
    if (*labels && extra) put(b, ",", 1);
    if (extra) puts_(b, extra);
    put(b, "}", 1);
  }
  put(b, " ", 1);
  put_num(b, v);
  put(b, "\n", 1);
}

static void put_help(sbuf *b, const char *name, const char *help) {
  puts_(b, "# HELP ");
  puts_(b, name);
  put(b, " ", 1);
  for (const char *p = help; *p; p++) {
    if (*p == '\\')
      put(b, "\\\\", 2);
    else if (*p == '\n')
      put(b, "\\n", 2);
    else
      put(b, p, 1);
  }
  put(b, "\n", 1);
}

static void put_histogram(sbuf *b, const char *name, const wseries *s) {
  uint64_t cum = 0;
  char le[64], num[40];
  for (size_t i = 0; i < s->nb; i++) {
    cum += s->counts[i];
    px__metrics_fmt_double(num, sizeof num, s->bounds[i]);
    snprintf(le, sizeof le, "le=\"%s\"", num);
    put_sample(b, name, "_bucket", s->labels, le, (double)cum);
  }
  cum += s->counts[s->nb];
  put_sample(b, name, "_bucket", s->labels, "le=\"+Inf\"", (double)cum);
  put_sample(b, name, "_sum", s->labels, NULL, s->sum);
  put_sample(b, name, "_count", s->labels, NULL, (double)cum);
}

static const char *kind_name(px_metric_kind k) {
  return k == PX_METRIC_COUNTER ? "counter"
         : k == PX_METRIC_GAUGE ? "gauge"
                                : "histogram";
}

static int cmp_family(const void *a, const void *b) {
  const wfamily *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static int cmp_series(const void *a, const void *b) {
  const wseries *x = a, *y = b;
  int c = strcmp(x->labels, y->labels);
  return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static void free_series(wseries *s) {
  free(s->labels);
  free(s->bounds);
  free(s->counts);
}

/* Prints the families f[0..n) that share one name: the first one's kind
 * wins, the others' series join it if they agree. */
static void put_group(sbuf *b, wfamily *f, size_t n) {
  size_t total = 0;
  const char *help = NULL;
  for (size_t i = 0; i < n; i++) {
    if (f[i].kind != f[0].kind) continue;
    total += f[i].n;
    if (!help && f[i].help) help = f[i].help;
  }
  if (!total) return;
  wseries *all = px__xmalloc(total * sizeof *all);
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (f[i].kind == f[0].kind) {
      memcpy(all + k, f[i].s, f[i].n * sizeof *all);
      k += f[i].n;
    }
  qsort(all, total, sizeof *all, cmp_series);
  put_help(b, f[0].name, help ? help : "(undocumented)");
  puts_(b, "# TYPE ");
  puts_(b, f[0].name);
  put(b, " ", 1);
  puts_(b, kind_name(f[0].kind));
  put(b, "\n", 1);
  for (size_t i = 0; i < total; i++) {
    if (i && strcmp(all[i - 1].labels, all[i].labels) == 0) continue;
    if (f[0].kind == PX_METRIC_HISTOGRAM)
      put_histogram(b, f[0].name, &all[i]);
    else
      put_sample(b, f[0].name, "", all[i].labels, NULL, all[i].value);
  }
  free(all);
}

char *px__metrics_writer_finish(px_metrics_writer *w, size_t *len) {
  sbuf b = {0};
  put(&b, "", 0);
  qsort(w->f, w->n, sizeof *w->f, cmp_family);
  for (size_t i = 0, j; i < w->n; i = j) {
    for (j = i + 1; j < w->n && strcmp(w->f[i].name, w->f[j].name) == 0;)
      j++;
    put_group(&b, &w->f[i], j - i);
  }
  for (size_t i = 0; i < w->n; i++) {
    wfamily *f = &w->f[i];
    for (size_t k = 0; k < f->n; k++) free_series(&f->s[k]);
    free(f->s);
    free(f->name);
    free(f->help);
  }
  free(w->f);
  free(w);
  if (len) *len = b.n;
  return b.p;
}
