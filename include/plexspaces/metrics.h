/* Metrics: a process-wide registry of counters, gauges and histograms,
 * exported in the Prometheus text exposition format 0.0.4, together with
 * the runtime's own families (actors, asks, store commits, tuple-space
 * operations, timers).
 *
 * Names match [a-zA-Z_:][a-zA-Z0-9_:]*. The runtime's names start with
 * plexspaces_; applications use their own namespace. Counters should end
 * in _total and durations be in seconds (promtool's lint checks it).
 *
 * Labels are given as a string "k1=v1,k2=v2": keys are Prometheus label
 * names ([a-zA-Z_][a-zA-Z0-9_]*, not starting with "__"), values any UTF-8
 * without ',' or '=' (use a collector, below, for arbitrary values). Order
 * does not matter: "a=1,b=2" and "b=2,a=1" name the same series. NULL or ""
 * means no labels. Histograms may not use the label "le".
 *
 * The first use of a name fixes its kind (and a histogram's buckets); a
 * use as another kind is PX_EINVAL. At most PX_METRICS_MAX_SERIES series
 * exist in the registry: beyond that new series get PX_ERANGE, so a label
 * explosion cannot eat the memory. Everything is thread-safe and callable
 * from handlers.
 *
 * The registry belongs to the process, not to the runtime: it survives
 * px_runtime_stop()/px_runtime_start() and needs no runtime at all. The
 * runtime's families restart from zero with each px_runtime_start(). */
#ifndef PLEXSPACES_METRICS_H
#define PLEXSPACES_METRICS_H

#include "common.h"

PX_EXTERN_C_BEGIN

#define PX_METRICS_MAX_SERIES 10000

/** Counter: adds delta (>= 0, finite). */
PX_API int px_metrics_add(const char *name, const char *labels, double delta);
/** Gauge: sets the value. */
PX_API int px_metrics_set(const char *name, const char *labels, double value);
/** Histogram with the default buckets (seconds): .0001 .00025 .0005 .001
 *  .0025 .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10. */
PX_API int px_metrics_observe(const char *name, const char *labels,
                              double value);
/** HELP text of a family (created on first use if need be, kind unset
 *  until then). One line is advised; newlines and backslashes are
 *  escaped. */
PX_API int px_metrics_describe(const char *name, const char *help);

/** Handles for hot paths: resolved once (NULL on a bad name, labels or
 *  kind, or past the series cap), then updated without locks. A handle
 *  lives as long as the process. help may be NULL. */
typedef struct px_metric px_metric;
PX_API px_metric *px_metrics_counter(const char *name, const char *help,
                                     const char *labels);
PX_API px_metric *px_metrics_gauge(const char *name, const char *help,
                                   const char *labels);
/** buckets: strictly increasing finite upper bounds (the +Inf bucket is
 *  implicit), at most PX_METRICS_MAX_BUCKETS; NULL = the defaults. */
#define PX_METRICS_MAX_BUCKETS 64
PX_API px_metric *px_metrics_histogram(const char *name, const char *help,
                                       const char *labels,
                                       const double *buckets,
                                       size_t nbuckets);
/** Updates through a handle; the wrong kind, a NULL handle, a negative or
 *  non-finite counter delta are ignored. */
PX_API void px_metric_add(px_metric *m, double delta);
PX_API void px_metric_set(px_metric *m, double v);
PX_API void px_metric_observe(px_metric *m, double v);

/** The whole exposition (registry, runtime families, collectors), families
 *  sorted by name and series by labels. *out is malloc'd and
 *  NUL-terminated (free it); *len (may be NULL) is its length. Callable
 *  with or without a runtime, but not while px_runtime_start() or
 *  px_runtime_stop() runs (the runtime's counters are being made or
 *  freed): a node stops serving /metrics before it stops the runtime.
 *
 *  Runtime families, labels tenant, namespace, actor_type (system actors
 *  have tenant="" and namespace=""; actor_type is px_spawn_opts.label, a
 *  GenServer's or GenFSM's definition name, or the px_actor_type name;
 *  virtual activations carry their virtual type's name):
 *    plexspaces_actor_spawns_total, _messages_total, _errors_total,
 *    _restarts_total, _mailbox_drops_total, plexspaces_actor_exits_total
 *    {reason="normal|abnormal|killed"}, plexspaces_actors_live (gauge),
 *    plexspaces_actor_mailbox_depth (gauge: queued in live actors);
 *  plexspaces_ask_duration_seconds (histogram; asks are sampled, 1 in 64
 *  per asker); plexspaces_space_operations_total{op} (tuple-space calls,
 *  whatever their outcome; since the process started);
 *  plexspaces_store_commit_duration_seconds and
 *  plexspaces_store_commit_batch_size (histograms, per group commit);
 *  plexspaces_timers (gauge). Past 4094 (type, tenant, namespace, name)
 *  scopes, new ones are counted together as actor_type="other". */
PX_API int px_metrics_render(char **out, size_t *len);
/** The Content-Type of the text render. */
#define PX_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* ---- collectors: families computed at render time ----------------------- */

typedef enum px_metric_kind {
  PX_METRIC_COUNTER = 1,
  PX_METRIC_GAUGE,
  PX_METRIC_HISTOGRAM,
} px_metric_kind;

/** What a collector writes into (only valid during the callback). */
typedef struct px_metrics_writer px_metrics_writer;

/** Starts a family; the samples that follow belong to it. A family that
 *  was already written (by the registry or another collector) gets the
 *  samples added if the kind matches, else they are dropped; a series
 *  written twice keeps its first value. Returns PX_EINVAL for a bad name
 *  or kind (the samples that follow are then dropped). */
PX_API int px_metrics_family(px_metrics_writer *w, const char *name,
                             const char *help, px_metric_kind kind);
/** A counter or gauge sample of the current family. labels: NULL or a
 *  NULL-terminated list of key, value strings, values arbitrary UTF-8
 *  (escaped on output), e.g. (const char *[]){"app", name, NULL}. */
PX_API int px_metrics_sample(px_metrics_writer *w, const char *const *labels,
                             double value);
/** A histogram sample: nbounds increasing upper bounds, counts has
 *  nbounds + 1 entries, per bucket (not cumulative), the last one for
 *  values above every bound; sum of the values observed. */
PX_API int px_metrics_sample_histogram(px_metrics_writer *w,
                                       const char *const *labels,
                                       const double *bounds,
                                       const uint64_t *counts, size_t nbounds,
                                       double sum);

typedef void (*px_metrics_collector)(void *ud, px_metrics_writer *w);
/** Adds a collector, called (under the render lock, one render at a time)
 *  by every px_metrics_render; it may use the registry API but must not
 *  render or add or remove collectors. PX_EEXIST if (fn, ud) is already
 *  added, PX_ERANGE past 64 collectors. */
PX_API int px_metrics_add_collector(px_metrics_collector fn, void *ud);
/** PX_ENOTFOUND if (fn, ud) was not added. Once it returns, no render is
 *  calling fn. */
PX_API int px_metrics_remove_collector(px_metrics_collector fn, void *ud);

PX_EXTERN_C_END

#endif
