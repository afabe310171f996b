/* The runtime's own families, computed at render time from its
 * introspection (src/actor/stats.c), the tuple-space operation counters
 * and the timer service. Actor families are labelled tenant, namespace,
 * actor_type; system actors (no tenant) have tenant="" and namespace="".
 * Rendering reads the scheduler's per-worker shards: the node must not
 * render while px_runtime_start/stop runs (it stops HTTP first). */
#include <stdlib.h>
#include <string.h>

#include "actor/actor_impl.h"
#include "core/mem.h"
#include "metrics/metrics_internal.h"

px__space_shard px__space_ops[PX__SOP_SHARDS];

static const char *const op_names[PX__SOP_N] = {
    [PX__SOP_WRITE] = "write",         [PX__SOP_WRITE_IF_ABSENT] = "write_if_absent",
    [PX__SOP_REPLACE] = "replace",     [PX__SOP_READ] = "read",
    [PX__SOP_TAKE] = "take",           [PX__SOP_READ_ALL] = "read_all",
    [PX__SOP_TAKE_ALL] = "take_all",   [PX__SOP_COUNT] = "count",
    [PX__SOP_EXISTS] = "exists",       [PX__SOP_RENEW] = "renew",
    [PX__SOP_CANCEL] = "cancel",       [PX__SOP_WATCH] = "watch",
    [PX__SOP_UNWATCH] = "unwatch",     [PX__SOP_TXN_COMMIT] = "txn_commit",
    [PX__SOP_TXN_ABORT] = "txn_abort", [PX__SOP_BARRIER] = "barrier",
};

/* One family per counter of px_type_stats. */
typedef struct scope_family {
  const char *name, *help;
  px_metric_kind kind;
  size_t offset; /* of the uint64_t in px_type_stats */
} scope_family;

static const scope_family scope_families[] = {
    {"plexspaces_actor_spawns_total", "Actors spawned.", PX_METRIC_COUNTER,
     offsetof(px_type_stats, spawned)},
    {"plexspaces_actor_messages_total", "Messages handled by actors.",
     PX_METRIC_COUNTER, offsetof(px_type_stats, messages)},
    {"plexspaces_actor_errors_total",
     "Error replies and abnormal exits of actors.", PX_METRIC_COUNTER,
     offsetof(px_type_stats, errors)},
    {"plexspaces_actor_restarts_total", "Restarts made by supervisors.",
     PX_METRIC_COUNTER, offsetof(px_type_stats, restarts)},
    {"plexspaces_actor_mailbox_drops_total",
     "Messages dropped by bounded mailboxes.", PX_METRIC_COUNTER,
     offsetof(px_type_stats, mailbox_drops)},
    {"plexspaces_actors_live", "Actors alive now.", PX_METRIC_GAUGE,
     offsetof(px_type_stats, live)},
    {"plexspaces_actor_mailbox_depth",
     "Messages queued in the mailboxes of live actors.", PX_METRIC_GAUGE,
     offsetof(px_type_stats, mailbox_depth)},
};
#define NSCOPE (sizeof scope_families / sizeof scope_families[0])

#define EXITS "plexspaces_actor_exits_total"
#define ASK "plexspaces_ask_duration_seconds"
#define SPACE "plexspaces_space_operations_total"
#define TIMERS "plexspaces_timers"

bool px__metrics_reserved(const char *name) {
  for (size_t i = 0; i < NSCOPE; i++)
    if (strcmp(name, scope_families[i].name) == 0) return true;
  return strcmp(name, EXITS) == 0 || strcmp(name, ASK) == 0 ||
         strcmp(name, SPACE) == 0 || strcmp(name, TIMERS) == 0;
}

static uint64_t field(const px_type_stats *s, size_t offset) {
  uint64_t v;
  memcpy(&v, (const char *)s + offset, sizeof v);
  return v;
}

static void actors(px_metrics_writer *w) {
  size_t n = px_stats_scopes(NULL, 0);
  px_type_stats *st = px__xmalloc((n ? n : 1) * sizeof *st);
  /* Scopes only grow, so a second look may find more: keep the first n. */
  px_stats_scopes(st, n);
  for (size_t f = 0; f < NSCOPE; f++) {
    const scope_family *sf = &scope_families[f];
    px_metrics_family(w, sf->name, sf->help, sf->kind);
    for (size_t i = 0; i < n; i++) {
      const char *labels[] = {"tenant", st[i].tenant ? st[i].tenant : "",
                              "namespace", st[i].ns ? st[i].ns : "",
                              "actor_type", st[i].type, NULL};
      px_metrics_sample(w, labels, (double)field(&st[i], sf->offset));
    }
  }
  px_metrics_family(w, EXITS, "Actor exits by reason.", PX_METRIC_COUNTER);
  for (size_t i = 0; i < n; i++) {
    const char *reasons[] = {"normal", "abnormal", "killed"};
    uint64_t counts[] = {st[i].exits_normal, st[i].exits_abnormal,
                         st[i].exits_killed};
    for (int r = 0; r < 3; r++) {
      const char *labels[] = {"tenant", st[i].tenant ? st[i].tenant : "",
                              "namespace", st[i].ns ? st[i].ns : "",
                              "actor_type", st[i].type, "reason", reasons[r],
                              NULL};
      px_metrics_sample(w, labels, (double)counts[r]);
    }
  }
  free(st);
}

static void asks(px_metrics_writer *w) {
  static const double bounds[] = {.00001, .000025, .00005, .0001, .00025,
                                  .0005,  .001,    .0025,  .005,  .01,
                                  .025,   .05,     .1,     .25,   .5,
                                  1,      2.5,     5,      10};
  enum { NB = sizeof bounds / sizeof bounds[0] };
  uint64_t counts[NB + 1];
  double sum;
  px__stats_ask_export(bounds, NB, counts, &sum);
  px_metrics_family(w, ASK,
                    "Ask round trips (buckets from a log-linear histogram, "
                    "within 12.5%).",
                    PX_METRIC_HISTOGRAM);
  px_metrics_sample_histogram(w, NULL, bounds, counts, NB, sum);
}

static void space(px_metrics_writer *w) {
  px_metrics_family(w, SPACE, "Tuple-space calls by operation.",
                    PX_METRIC_COUNTER);
  for (int op = 0; op < PX__SOP_N; op++) {
    uint64_t n = 0;
    for (int s = 0; s < PX__SOP_SHARDS; s++)
      n += atomic_load_explicit(&px__space_ops[s].n[op], memory_order_relaxed);
    const char *labels[] = {"op", op_names[op], NULL};
    px_metrics_sample(w, labels, (double)n);
  }
}

void px__metrics_runtime_collect(px_metrics_writer *w) {
  actors(w);
  asks(w);
  space(w);
  px_metrics_family(w, TIMERS, "Pending timers.", PX_METRIC_GAUGE);
  px_metrics_sample(w, NULL, (double)px_timer_count());
}
