/* Internal interfaces between the files of src/metrics/ and the runtime
 * code that feeds them (the tuple space counts its operations here). */
#ifndef PX_METRICS_METRICS_INTERNAL_H
#define PX_METRICS_METRICS_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plexspaces/metrics.h"
#include "runtime/sched.h"

/* ---- names and labels (labels.c) ---- */

/* [a-zA-Z_:][a-zA-Z0-9_:]* */
bool px__metrics_name_ok(const char *name);
bool px__metrics_utf8_ok(const char *s, size_t n);
/* Parses "k1=v1,k2=v2" into the canonical label text k1="v1",k2="v2"
 * (sorted by key, values escaped); "" for no labels. *out is malloc'd.
 * PX_EINVAL for bad syntax, a bad or repeated key, a value that is not
 * UTF-8, or "le" when no_le. */
int px__metrics_labels_parse(const char *spec, bool no_le, char **out);
/* The same from a NULL-terminated key, value list (values arbitrary). */
int px__metrics_labels_pairs(const char *const *kv, bool no_le, char **out);
/* Appends the shortest text that reads back as v (+Inf, -Inf, NaN). */
void px__metrics_fmt_double(char *buf, size_t cap, double v);

/* ---- the text being built (writer.c) ---- */

px_metrics_writer *px__metrics_writer_new(void);
/* Sorts, merges and renders everything written; frees the writer. */
char *px__metrics_writer_finish(px_metrics_writer *w, size_t *len);
/* A sample with labels already in canonical text (the registry's). */
int px__metrics_sample_canon(px_metrics_writer *w, const char *canon,
                             double value);
int px__metrics_hist_canon(px_metrics_writer *w, const char *canon,
                           const double *bounds, const uint64_t *counts,
                           size_t nbounds, double sum);

/* ---- the registry (registry.c) ---- */

/* Writes every registry family into w. */
void px__metrics_registry_collect(px_metrics_writer *w);

/* ---- the runtime's families (runtime.c) ---- */

void px__metrics_runtime_collect(px_metrics_writer *w);
/* Names the runtime collector owns: the registry refuses them. */
bool px__metrics_reserved(const char *name);

/* ---- tuple-space operations (counted by src/space/space.c) ---- */

typedef enum px__space_op {
  PX__SOP_WRITE = 0,
  PX__SOP_WRITE_IF_ABSENT,
  PX__SOP_REPLACE,
  PX__SOP_READ,
  PX__SOP_TAKE,
  PX__SOP_READ_ALL,
  PX__SOP_TAKE_ALL,
  PX__SOP_COUNT,
  PX__SOP_EXISTS,
  PX__SOP_RENEW,
  PX__SOP_CANCEL,
  PX__SOP_WATCH,
  PX__SOP_UNWATCH,
  PX__SOP_TXN_COMMIT,
  PX__SOP_TXN_ABORT,
  PX__SOP_BARRIER,
  PX__SOP_N
} px__space_op;

/* Sharded per worker like the actor counters (px__stats_count): a worker
 * owns its shard, so a count is a plain load and store, no atomic
 * read-modify-write on the tuple-space hot path. Other threads (and
 * workers past the shards) share the last shard with an atomic add. */
#define PX__SOP_SHARDS 64
typedef struct px__space_shard {
  _Alignas(64) _Atomic(uint64_t) n[PX__SOP_N];
} px__space_shard;
extern px__space_shard px__space_ops[PX__SOP_SHARDS];

static inline void px__metrics_space_op(px__space_op op) {
  px__worker *w = px__sched_worker_here();
  if (w && w->id < PX__SOP_SHARDS - 1) {
    _Atomic(uint64_t) *c = &px__space_ops[w->id].n[op];
    atomic_store_explicit(
        c, atomic_load_explicit(c, memory_order_relaxed) + 1,
        memory_order_relaxed);
  } else {
    atomic_fetch_add_explicit(&px__space_ops[PX__SOP_SHARDS - 1].n[op], 1,
                              memory_order_relaxed);
  }
}

#endif
