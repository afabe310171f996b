/* px_store: the one narrow interface all durable state goes through (tuple
 * spaces now; journals, snapshots, KV, reminders and blobs' metadata join
 * it with the durable-execution work). SQLite is the embedded backend;
 * PostgreSQL slots in behind the same vtable for clusters.
 *
 * Writes are grouped: px_store_apply queues a set of operations that are
 * applied atomically, and returns only once they are durable. Many callers'
 * sets share one transaction and one fsync (group commit). A handler that
 * calls it parks on its coroutine; a plain thread blocks. */
#ifndef PLEXSPACES_STORE_H
#define PLEXSPACES_STORE_H

#include "common.h"
#include "val.h"

PX_EXTERN_C_BEGIN

typedef struct px_store px_store;

typedef enum px_store_sync {
  PX_STORE_SYNC_FULL = 0, /* default: fsync at every commit */
  PX_STORE_SYNC_NORMAL,   /* WAL checkpoints fsync; a power cut may lose
                             the last commits, a process crash loses none */
} px_store_sync;

typedef struct px_store_opts {
  px_store_sync sync;
  /* Longest a commit waits for more work to join it, in microseconds
   * (0 = adaptive: commit as soon as the previous fsync returns). */
  int max_batch_delay_us;
} px_store_opts;

/** Opens (creating if needed) the SQLite store in directory `dir`, holding
 *  an exclusive lock on it: a second opener gets PX_EEXIST with the
 *  holder's pid in errbuf. A database file that is corrupt or belongs to
 *  something else is refused (PX_EIO / PX_EINVAL with the reason), never
 *  overwritten. Applies schema migrations. */
PX_API int px_store_open_sqlite(const char *dir, const px_store_opts *opts,
                                px_store **out, char *errbuf, size_t errcap);
/** Flushes pending work and closes. */
PX_API void px_store_close(px_store *s);

typedef enum px_store_op_kind {
  PX_STORE_TUPLE_PUT = 1, /* space, id, value, expiry_ms (0 = none) */
  PX_STORE_TUPLE_DEL,     /* space, id */
  PX_STORE_TUPLE_EXPIRY,  /* space, id, expiry_ms: a renewed lease */
} px_store_op_kind;

typedef struct px_store_op {
  px_store_op_kind kind;
  const char *space; /* "tenant/namespace/name" */
  uint64_t id;       /* tuple id, unique per space */
  px_val value;      /* borrowed; encoded with MessagePack */
  int64_t expiry_ms; /* absolute, on the wall clock (survives restarts) */
} px_store_op;

/** Applies the ops atomically and returns once they are durable: 0, or an
 *  error with nothing applied. */
PX_API int px_store_apply(px_store *s, const px_store_op *ops, size_t n);

/** Calls `cb` for every stored tuple of `space`, oldest id first (values
 *  are new; the callback owns them). A non-zero return stops the scan and
 *  is returned. Used when a durable space opens. */
typedef int (*px_store_tuple_cb)(void *ud, uint64_t id, px_val value,
                                 int64_t expiry_ms);
PX_API int px_store_scan_tuples(px_store *s, const char *space,
                                px_store_tuple_cb cb, void *ud);

typedef struct px_store_stats {
  uint64_t commits;   /* transactions (= fsyncs with SYNC_FULL) */
  uint64_t ops;       /* operations applied */
  uint64_t callers;   /* px_store_apply calls completed */
} px_store_stats;
PX_API void px_store_get_stats(px_store *s, px_store_stats *out);

PX_EXTERN_C_END

#endif
