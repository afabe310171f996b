/* The tuple space: Linda coordination between actors (SEMANTICS.md K).
 *
 * A tuple is an array of 1..1000 px_val fields. A template is an array of
 * the same arity whose fields are:
 *   - an exact value: matches a field of the same type and equal value
 *     (typed equality on the canonical encoding: int 1 != double 1.0);
 *   - nil: a wildcard, matches anything;
 *   - a formal, written as a map with exactly one key:
 *       {"$type": "int"|"double"|"string"|"binary"|"atom"|"bool"|"array"|"map"|"nil"}
 *       {"$range": [lo, hi]}     an int with lo <= v <= hi (inclusive)
 *       {"$prefix": "abc"}       a string starting with "abc"
 *       {"$exact": v}            v itself (escapes a map that looks like a
 *                                formal, or nil when nil must match only nil)
 *     (keys may be strings or atoms). The same form is used by the HTTP
 *     API, the WASM ABI and the SDKs.
 * Templates that do not follow these rules are rejected with PX_EINVAL.
 *
 * Spaces are named and scoped by (tenant, namespace): an actor sees only
 * the spaces of its own tenant unless it is a system actor (threads that
 * are not workers, and actors spawned by them, are system actors until
 * the node gives them an identity).
 *
 * Blocking calls (read, take, barrier with a timeout) park the calling
 * handler on its coroutine (or the calling thread) and never busy-wait.
 * timeout_ms: 0 = try once, -1 = forever, otherwise milliseconds. On
 * PX_ETIMEDOUT nothing changed and no waiter is left behind.
 *
 * Locked matches (R-K-13): a tuple taken by an uncommitted transaction is
 * invisible to everyone else; a tuple read under an uncommitted
 * transaction is read-locked (readable by all, takeable only by that
 * transaction). With timeout_ms = 0, read and take return PX_ETIMEDOUT at
 * once whether no match exists or the only matches are locked (there is
 * no separate readIfExists/takeIfExists: timeout 0 is JavaSpaces'
 * NO_WAIT). With a positive timeout they wait for a match to become
 * available: one written, or one released by a commit/abort (or its
 * owner's exit); a match that the transaction removes on commit is never
 * returned, and the call times out. Unlike JavaSpaces' takeIfExists, a
 * positive timeout also waits when no match exists at all (it is a plain
 * take/read with a timeout).
 *
 * Ownership: operations take ownership of the tuples and templates passed
 * in; results are new values the caller releases. */
#ifndef PLEXSPACES_SPACE_H
#define PLEXSPACES_SPACE_H

#include "actor.h"
#include "common.h"
#include "store.h"
#include "val.h"

PX_EXTERN_C_BEGIN

typedef struct px_space px_space;

typedef enum px_space_kind {
  PX_SPACE_MEMORY = 0,
  PX_SPACE_DURABLE, /* through px_store; survives kill -9 (see
                       px_space_set_store) */
} px_space_kind;

#define PX_TUPLE_MAX_ARITY 1000

/** Sets the store that durable spaces are opened on (process-wide; NULL
 *  detaches). A durable space captures the store when it is first opened,
 *  so the store must outlive every durable space opened on it. Without a
 *  store, opening a PX_SPACE_DURABLE space fails with PX_ENOTSUP.
 *
 *  Durability contract of a PX_SPACE_DURABLE space (its tuples live in the
 *  store under the space string "tenant/ns/name"; tuple ids = lease ids,
 *  increasing per space, restored from the largest stored id):
 *   - every write (write, write_batch, write_if_absent, replace, commit)
 *     returns only once it is durable, and becomes visible to others only
 *     then;
 *   - every take (take, take_all, replace, cancel, commit) returns only once
 *     the delete is durable; the tuple is reserved (invisible to everyone
 *     else) meanwhile, and put back if the store fails. A blocked taker
 *     handed a freshly written tuple persists the delete itself before it
 *     returns (the write and the delete are two group-committed applies);
 *   - renew returns once the new expiry is durable;
 *   - leases are stored with their absolute wall-clock expiry: on open,
 *     tuples whose expiry passed are dropped (and deleted from the store),
 *     the others keep their expiry. Expiry at run time needs no ack: the
 *     delete is issued in the background (and re-done at the next open if
 *     lost in a crash).
 *  Callers park until their operation is durable (many share one fsync);
 *  the space lock is never held meanwhile. An actor killed while parked
 *  does not undo its operation: it completes as if the caller had returned
 *  (a take's tuple is gone with its caller, as with a gen_server call whose
 *  caller died after the server acted). */
PX_API void px_space_set_store(px_store *store);

/** Opens (creating if needed) the space `name` of (tenant, ns); NULL
 *  tenant/ns mean "default". Opening an existing space with another kind
 *  fails with PX_EEXIST. PX_EPERM when the caller's tenant is not
 *  `tenant`. The handle is reference counted: close it with
 *  px_space_close. Thread-safe. */
PX_API int px_space_open(const char *tenant, const char *ns, const char *name,
                         px_space_kind kind, px_space **out);
/** Opens the space `name` of (tenant, ns) whatever its kind; one that
 *  does not exist yet is created durable when a store is set
 *  (px_space_set_store), in memory otherwise. What the node's edges (the
 *  HTTP API, WASM guests) use. Errors as px_space_open. */
PX_API int px_space_attach(const char *tenant, const char *ns,
                           const char *name, px_space **out);
PX_API void px_space_close(px_space *s);

/* ---- writing ------------------------------------------------------------- */

/** Writes a tuple (takes ownership). ttl_ms > 0 gives it a lease; 0 = no
 *  expiry. On success *lease (if given) identifies the lease (0 when
 *  none). PX_EINVAL for a bad tuple. Never blocks on other actors (a
 *  durable write waits for its fsync). */
PX_API int px_ts_write(px_space *s, px_val tuple, int64_t ttl_ms,
                       uint64_t *lease);
/** Writes n tuples as one atomic step (all or none visible). */
PX_API int px_ts_write_batch(px_space *s, const px_val *tuples, size_t n,
                             int64_t ttl_ms);
/** Writes `tuple` only if nothing matches `tmpl`, atomically. Returns 0
 *  when written, PX_EEXIST when a match existed (nothing written). */
PX_API int px_ts_write_if_absent(px_space *s, px_val tmpl, px_val tuple,
                                 int64_t ttl_ms);
/** Atomically takes one tuple matching `tmpl` and writes `tuple`. Blocks
 *  like take. On 0, *old (if given) is the tuple taken. */
PX_API int px_ts_replace(px_space *s, px_val tmpl, px_val tuple,
                         int64_t timeout_ms, px_val *old);

/* ---- reading and taking -------------------------------------------------- */

/** Returns (a copy of) the oldest matching tuple, waiting up to
 *  timeout_ms. 0 and *out, or PX_ETIMEDOUT. */
PX_API int px_ts_read(px_space *s, px_val tmpl, int64_t timeout_ms,
                      px_val *out);
/** Same, and removes it: each tuple is taken exactly once. Blocked takers
 *  of the same template are served FIFO. */
PX_API int px_ts_take(px_space *s, px_val tmpl, int64_t timeout_ms,
                      px_val *out);
/** Up to `limit` matches (0 = all), oldest first, as a new array; never
 *  blocks. */
PX_API int px_ts_read_all(px_space *s, px_val tmpl, size_t limit,
                          px_val *out);
PX_API int px_ts_take_all(px_space *s, px_val tmpl, size_t limit,
                          px_val *out);
PX_API int px_ts_count(px_space *s, px_val tmpl, size_t *out);
PX_API int px_ts_exists(px_space *s, px_val tmpl, bool *out);

/* ---- leases -------------------------------------------------------------- */

/** Extends a lease to expire ttl_ms from now. PX_ENOTFOUND when the
 *  tuple is gone (expired, taken or cancelled). */
PX_API int px_ts_renew(px_space *s, uint64_t lease, int64_t ttl_ms);
/** Removes the tuple now. PX_ENOTFOUND when already gone. */
PX_API int px_ts_cancel(px_space *s, uint64_t lease);

/* ---- notifications ------------------------------------------------------- */

enum {
  PX_TS_WRITTEN = 1,
  PX_TS_TAKEN = 2,
  PX_TS_EXPIRED = 4,
};

/** Watches `tmpl`: the actor `to` receives ts_written / ts_taken /
 *  ts_expired messages with payload {watch, seq, tuple} (seq strictly
 *  increasing per watch) for the selected events, until px_ts_unwatch or
 *  the watcher exits. */
PX_API int px_ts_watch(px_space *s, px_val tmpl, unsigned events, px_ref to,
                       uint64_t *watch);
/** px_ts_watch with a lease (R-K-15): the registration ends ttl_ms after
 *  it was made or last renewed, and no event is delivered after that.
 *  ttl_ms 0: no lease. */
PX_API int px_ts_watch_lease(px_space *s, px_val tmpl, unsigned events,
                             px_ref to, int64_t ttl_ms, uint64_t *watch);
/** Renews a watch's lease to end ttl_ms (> 0) from now; PX_ENOTFOUND once
 *  the watch has ended (lease run out, unwatched, watcher exited). */
PX_API int px_ts_watch_renew(px_space *s, uint64_t watch, int64_t ttl_ms);
PX_API int px_ts_unwatch(px_space *s, uint64_t watch);

/* ---- transactions -------------------------------------------------------- */

typedef struct px_ts_txn px_ts_txn;

/** Begins a transaction owned by the calling actor; it aborts if the
 *  actor exits first. Operations under a transaction use the _tx forms. */
PX_API int px_ts_begin(px_space *s, px_ts_txn **out);
/** px_ts_begin with a lease (R-K-16): when it runs out before the commit,
 *  the transaction aborts, as when its owner exits; its operations and
 *  its commit then return PX_ENOTFOUND (commit or abort still frees it).
 *  ttl_ms 0: no lease. */
PX_API int px_ts_begin_lease(px_space *s, int64_t ttl_ms, px_ts_txn **out);
/** Renews a transaction's lease to end ttl_ms (> 0) from now;
 *  PX_ENOTFOUND once it has aborted. */
PX_API int px_ts_txn_renew(px_ts_txn *t, int64_t ttl_ms);
/** Writes are invisible outside the transaction until commit; takes hide
 *  the tuple from everyone else and restore it on abort; reads take a read
 *  lock (R-K-16): until the transaction commits or aborts (or its owner
 *  exits), the tuple stays readable by everyone but nobody else (no
 *  plain take, take_all, replace, nor another transaction's take) can take
 *  it; the reading transaction itself may. Several transactions may hold
 *  read locks on one tuple; then none of them can take it. Takers blocked
 *  only by read locks are served when the locks are released. Lease
 *  expiry and px_ts_cancel still remove a read-locked tuple. Read locks
 *  are kept in memory only (durable spaces store nothing for them). */
PX_API int px_ts_commit(px_ts_txn *t);
PX_API int px_ts_abort(px_ts_txn *t);
PX_API int px_ts_write_tx(px_ts_txn *t, px_val tuple, int64_t ttl_ms);
PX_API int px_ts_take_tx(px_ts_txn *t, px_val tmpl, int64_t timeout_ms,
                         px_val *out);
PX_API int px_ts_read_tx(px_ts_txn *t, px_val tmpl, int64_t timeout_ms,
                         px_val *out);

/* ---- barrier ------------------------------------------------------------- */

/** Waits until `count` callers have arrived at barrier `name` of this
 *  space, then releases them all. PX_ETIMEDOUT leaves the arrival count
 *  as if the caller never came. */
PX_API int px_ts_barrier(px_space *s, const char *name, size_t count,
                         int64_t timeout_ms);

/* ---- templates ----------------------------------------------------------- */

/** Checks a template (arity, formals); PX_EINVAL with a reason in errbuf. */
PX_API int px_ts_template_check(px_val tmpl, char *errbuf, size_t errcap);
/** True when `tuple` matches `tmpl` (both borrowed). */
PX_API bool px_ts_match(px_val tmpl, px_val tuple);

PX_EXTERN_C_END

#endif
