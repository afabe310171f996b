/* px_store: the one narrow interface all durable state goes through:
 * tuples, journals and snapshots, key-value entries and reminders. SQLite
 * is the embedded backend; PostgreSQL slots in behind the same calls for
 * clusters.
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
/** Opens an existing store in `dir` for reads only, without its lock (a
 *  running node may hold it; WAL lets both go on): for tools such as
 *  `plexspaces journal show`. Applies return PX_ENOTSUP. PX_ENOTFOUND
 *  when there is no store, PX_ENOTSUP for another schema version, and the
 *  refusals of px_store_open_sqlite. */
PX_API int px_store_open_sqlite_reader(const char *dir, px_store **out,
                                       char *errbuf, size_t errcap);
/** Flushes pending work and closes. */
PX_API void px_store_close(px_store *s);

typedef enum px_store_op_kind {
  /* tuple spaces: scope = space ("tenant/namespace/name"), id = tuple id */
  PX_STORE_TUPLE_PUT = 1, /* value, expiry_ms (0 = none); PX_EEXIST if
                             the id is taken */
  PX_STORE_TUPLE_DEL,     /* PX_ENOTFOUND if missing */
  PX_STORE_TUPLE_EXPIRY,  /* expiry_ms: a renewed lease; PX_ENOTFOUND */
  /* journals: scope = stream (an actor's or a workflow's durable id) */
  PX_STORE_JOURNAL_APPEND, /* id = seq (>= 1), key = entry kind ("msg",
                              "step", ...), value = entry, i64 = wall
                              clock ms (0: the writer's now). PX_ECONFLICT
                              if the seq is taken: a second writer of
                              the same stream (a duplicate activation) */
  PX_STORE_JOURNAL_TRUNCATE, /* id: deletes entries with seq <= id and
                                snapshots older than the newest <= id */
  PX_STORE_SNAPSHOT_PUT,     /* id = seq the snapshot covers, value =
                                state; replaces one at the same seq */
  PX_STORE_STREAM_DELETE,    /* deletes the stream's entries and snapshots */
  /* key-value: scope = "tenant/namespace/owner", key */
  PX_STORE_KV_PUT,  /* value, expiry_ms (0 = none) */
  PX_STORE_KV_DEL,  /* a missing key is fine */
  PX_STORE_KV_CAS,  /* expected (with expect_absent: the key must not
                       exist or be expired) -> value, expiry_ms; the
                       comparison is on encoded bytes. PX_ECONFLICT */
  PX_STORE_KV_INCR, /* i64 = delta; a missing key counts as 0; PX_ETYPE
                       if the stored value is not an int. The new value
                       is the result (px_store_apply_result) */
  /* reminders: scope = owner (a virtual actor's id), key = name */
  PX_STORE_REMINDER_PUT, /* value = payload, expiry_ms = next due (wall
                            clock ms), i64 = period ms (0 = one-shot);
                            replaces one of the same name */
  PX_STORE_REMINDER_DEL, /* a missing reminder is fine */
} px_store_op_kind;

typedef struct px_store_op {
  px_store_op_kind kind;
  const char *space; /* the scope; see each kind */
  uint64_t id;       /* tuple id or journal seq */
  px_val value;      /* borrowed; encoded with MessagePack */
  int64_t expiry_ms; /* absolute, on the wall clock (survives restarts) */
  const char *key;   /* KV key, reminder name, journal entry kind */
  int64_t i64;       /* see each kind */
  px_val expected;   /* KV_CAS, borrowed */
  bool expect_absent; /* KV_CAS */
} px_store_op;

/** Applies the ops atomically and returns once they are durable: 0, or an
 *  error with nothing applied. */
PX_API int px_store_apply(px_store *s, const px_store_op *ops, size_t n);
/** The same, and *result gets the new value of the last KV_INCR among the
 *  ops (0 if none). */
PX_API int px_store_apply_result(px_store *s, const px_store_op *ops,
                                 size_t n, int64_t *result);

/** Calls `cb` for every stored tuple of `space`, oldest id first (values
 *  are new; the callback owns them). A non-zero return stops the scan and
 *  is returned. Used when a durable space opens. */
typedef int (*px_store_tuple_cb)(void *ud, uint64_t id, px_val value,
                                 int64_t expiry_ms);
PX_API int px_store_scan_tuples(px_store *s, const char *space,
                                px_store_tuple_cb cb, void *ud);

/* ---- reads ----------------------------------------------------------------
 * Reads see every apply that has returned (WAL: a committed transaction is
 * visible to the next read). They run on the calling thread (a handler
 * does not park: these are short indexed lookups) and may be called from
 * any thread, also from inside a scan callback. Values handed to a
 * callback are new: the callback owns them. */

/** Journal entries of `stream` with seq > after, oldest first. */
typedef int (*px_store_entry_cb)(void *ud, uint64_t seq, const char *kind,
                                 px_val value, int64_t ts_ms);
PX_API int px_store_journal_read(px_store *s, const char *stream,
                                 uint64_t after, px_store_entry_cb cb,
                                 void *ud);
/** The highest seq of the stream's entries and snapshots (0: none). */
PX_API int px_store_journal_last(px_store *s, const char *stream,
                                 uint64_t *seq);
/** The newest snapshot: *seq and *value (new), or PX_ENOTFOUND. */
PX_API int px_store_snapshot_get(px_store *s, const char *stream,
                                 uint64_t *seq, px_val *value);
/** Every snapshot of a stream, oldest first (for `journal show`). */
PX_API int px_store_snapshot_list(px_store *s, const char *stream,
                                  px_store_entry_cb cb, void *ud);
/** Streams whose name starts with prefix, in name order. */
typedef int (*px_store_name_cb)(void *ud, const char *name);
PX_API int px_store_streams(px_store *s, const char *prefix,
                            px_store_name_cb cb, void *ud);

/** A live (unexpired) KV entry: *value (new) and *expiry_ms (0 = none; may
 *  be NULL), or PX_ENOTFOUND. */
PX_API int px_store_kv_get(px_store *s, const char *scope, const char *key,
                           px_val *value, int64_t *expiry_ms);
/** Live entries of scope whose key starts with prefix, in key order. */
typedef int (*px_store_kv_cb)(void *ud, const char *key, px_val value,
                              int64_t expiry_ms);
PX_API int px_store_kv_list(px_store *s, const char *scope,
                            const char *prefix, px_store_kv_cb cb, void *ud);

/** Every stored reminder, in (owner, name) order. */
typedef int (*px_store_reminder_cb)(void *ud, const char *owner,
                                    const char *name, px_val payload,
                                    int64_t due_ms, int64_t period_ms);
PX_API int px_store_reminders(px_store *s, px_store_reminder_cb cb, void *ud);
/** The reminders of one owner, in name order. */
PX_API int px_store_reminders_of(px_store *s, const char *owner,
                                 px_store_reminder_cb cb, void *ud);

typedef struct px_store_stats {
  uint64_t commits;   /* transactions (= fsyncs with SYNC_FULL) */
  uint64_t ops;       /* operations applied */
  uint64_t callers;   /* px_store_apply calls completed */
} px_store_stats;
PX_API void px_store_get_stats(px_store *s, px_store_stats *out);

PX_EXTERN_C_END

#endif
