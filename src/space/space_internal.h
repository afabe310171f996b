/* Internals of the tuple space (SEMANTICS.md K). See space.c for the data
 * structures and the locking rules. */
#ifndef PX_SPACE_INTERNAL_H
#define PX_SPACE_INTERNAL_H

#include <pthread.h>

#include "core/val_internal.h"
#include "plexspaces/runtime.h"
#include "plexspaces/space.h"
#include "plexspaces/store.h"

/* Unchecked accessors for values already known to be arrays (tuples and
 * templates that passed their check): the hot paths avoid a call and a
 * type test per field. */
static inline size_t px__ts_len(px_val a) { return px__as_array(a)->len; }
static inline px_val px__ts_at(px_val a, size_t i) {
  return px__as_array(a)->items[i];
}

/* ---- data structures (all under the space mutex; see space.c) ---------- */

typedef struct ts_bucket ts_bucket;
typedef struct ts_arity ts_arity;
typedef struct ts_waiter ts_waiter;
typedef struct ts_watch ts_watch;
typedef struct ts_tuple ts_tuple;
typedef struct ts_dop ts_dop; /* a durable operation in flight (space.c) */

/* The indexes over stored tuples, per arity: field 0 (always), fields 0
 * and 1 together, and field 1 alone (both built on first need, see
 * index.c). A template with neither field exact scans the arity list. */
enum { TS_IX_F0, TS_IX_F01, TS_IX_F1, TS_IX_N };

typedef struct ts_link {
  ts_tuple *prev, *next;
  ts_bucket *b; /* NULL: not in this index */
} ts_link;

struct ts_tuple {
  px_val v;
  uint64_t seq;     /* also the lease id when leased */
  uint64_t expires; /* clock ms, 0 = never */
  int64_t wexp;     /* the same on the wall clock (stored), 0 = never */
  px_tref tref;
  bool leased;
  bool resv; /* durable: being taken (delete in flight), invisible */
  bool pend; /* durable: write_if_absent in flight, invisible */
  uint32_t renewing; /* durable: renews in flight; not expirable meanwhile */
  ts_link ix[TS_IX_N]; /* its place in each index of its arity */
  ts_arity *ar;
  struct ts_tuple *aprev, *anext; /* the arity list */
  struct ts_tuple *lnext; /* lease hash chain */
  px_ts_txn *wtx;         /* written by this uncommitted txn */
  px_ts_txn *ttx;         /* taken (hidden) by this uncommitted txn */
  px_ts_txn **rl;         /* read-locked by these uncommitted txns */
  size_t nrl, crl;
  uint64_t h0; /* hash of field 0 */
};

typedef struct wq {
  ts_waiter *head, *tail;
} wq;

/* A bucket of one index: the tuples of one arity whose key fields hash to
 * h, oldest first. Field-0 buckets also queue the waiters whose template
 * has an exact field 0 of that hash. */
struct ts_bucket {
  size_t arity;
  int kind; /* TS_IX_* */
  uint64_t h;
  ts_tuple *head, *tail;
  size_t n;
  wq waiters;
  ts_bucket *hnext;
};

struct ts_arity {
  ts_tuple *head, *tail; /* every stored tuple of this arity, oldest first */
  size_t n;
  wq wild; /* waiters whose field 0 is not exact */
  bool on[TS_IX_N]; /* secondary indexes built for this arity */
};

enum { W_READ, W_TAKE, W_REPLACE, W_BARRIER };
enum { WS_WAITING, WS_DONE };

struct ts_waiter {
  uint64_t seq;
  int kind, state;
  px_val tmpl;
  px_val newt; /* replace: the tuple to write */
  int64_t new_ttl;
  px_ts_txn *tx; /* take_tx / read_tx */
  px_ref owner;
  px_promise p;
  px_val result;
  struct ts_tuple *tnode;   /* durable take: the node handed over */
  struct ts_tuple *newnode; /* durable replace: the tuple to write */
  /* memory take: the handed tuple's seq and lease, so that it comes back
   * as it was if the taker dies before collecting it */
  uint64_t rseq, rexpires;
  int64_t rwexp;
  bool aborted; /* resolved because its transaction's lease ran out */
  wq *q; /* queue it waits in, NULL when resolved */
  ts_waiter *prev, *next;
  ts_waiter *all_prev, *all_next;
  struct ts_barrier *bar;
};

struct ts_watch {
  uint64_t id, seq;
  px_val tmpl;
  unsigned events;
  px_ref to;
  uint64_t expires; /* lease end, clock ms; 0 = none (R-K-15) */
  px_tref tref;
  ts_watch *next;
};

typedef struct ts_barrier {
  char *name;
  size_t arrived;
  struct ts_barrier *next;
} ts_barrier;

struct px_ts_txn {
  px_space *s;
  uint64_t id;
  px_ref owner;
  bool done;
  ts_tuple **writes;
  size_t nw, cw;
  ts_tuple **takes;
  size_t nt, ct;
  ts_tuple **reads; /* tuples it holds a read lock on */
  size_t nr, cr;
  bool committing; /* durable commit in flight */
  uint64_t expires; /* lease end, clock ms; 0 = none: then it aborts */
  px_tref tref;
  px_ts_txn *next;
};

typedef struct ts_note {
  px_ref to;
  px_atom type;
  px_val payload;
} ts_note;

typedef struct ts_mon {
  px_ref ref;
  struct ts_mon *next;
} ts_mon;

struct px_space {
  /* registry fields (under reg_mu) */
  char *tenant, *ns, *name;
  px_space_kind kind;
  uint64_t id;
  _Atomic int refs; /* see space_by_id */
  px_space *rnext;
  px_ref reaper;
  px_store *store; /* durable spaces; NULL for memory spaces */
  char *key;       /* "tenant/ns/name": the store's space string */

  _Atomic(uint32_t) mu; /* the space lock: see ts_lock in space.c */
  uint64_t seq, wseq;
  size_t count; /* stored tuple nodes (visible or held by a txn) */
  ts_bucket **bt;
  ts_bucket *hot; /* the bucket last looked up (index.c): a write and the
                     take that follows it usually want the same one */
  size_t bt_cap, bt_n;
  ts_arity *ar[PX_TUPLE_MAX_ARITY + 1];
  ts_tuple **lt; /* lease hash */
  size_t lt_cap, lt_n;
  ts_waiter *all_head, *all_tail;
  ts_watch *watches;
  uint64_t watch_ids, txn_ids;
  ts_barrier *barriers;
  px_ts_txn *txns;
  ts_mon **mons; /* hash set of monitored actors (space.c) */
  size_t mons_cap, mons_n;
  /* outbox of watch notifications */
  ts_note *ob;
  size_t ob_head, ob_n, ob_cap;
  bool draining;
  uint64_t visits; /* tuple nodes examined by lookups (tests: no scans) */
  /* durable: ids of expired tuples whose delete the reaper issues */
  uint64_t *purge;
  size_t npurge, cpurge;
  size_t ndop; /* durable operations whose completion has not run yet */
  ts_dop *dops; /* those of live actors, which the reaper may orphan */
  /* Recycled tuple nodes, buckets and durable operations (chained by
   * lnext / hnext / next), so that a steady stream of writes and takes
   * allocates no space bookkeeping. */
  ts_tuple *spare_nodes;
  ts_bucket *spare_buckets;
  size_t nspare_nodes, nspare_buckets;
  ts_dop *spare_dops;
  size_t nspare_dops;
};

/* How many recycled nodes and buckets a space keeps at most. */
#define PX__TS_SPARE_MAX 1024

/* ---- indexes (index.c) --------------------------------------------------- */

/* The field-0 bucket of (arity, h0); created when asked to. */
ts_bucket *px__ts_bucket(px_space *s, size_t arity, uint64_t h0, bool create);
/* Frees (recycles) a bucket left without tuples and waiters. */
void px__ts_bucket_maybe_free(px_space *s, ts_bucket *b);
ts_arity *px__ts_arity(px_space *s, size_t n);
/* Links a node into every index of its arity, in seq order (a restored
 * tuple goes back to its place); unlink takes it out of all of them. */
void px__ts_link(px_space *s, ts_tuple *t);
void px__ts_unlink(px_space *s, ts_tuple *t);
/* The oldest candidate for template tmpl and the index to follow (kind is
 * TS_IX_* or -1 for the arity list); candidates still need matching. */
ts_tuple *px__ts_first(px_space *s, px_val tmpl, int *kind);
static inline ts_tuple *px__ts_next(const ts_tuple *t, int kind) {
  return kind < 0 ? t->anext : t->ix[kind].next;
}
/* Frees every bucket and arity list (the nodes are freed by the caller). */
void px__ts_index_free(px_space *s);

/* ---- templates (match.c) ------------------------------------------------ */

/** True when template field `f` is an exact value; *v is then the value to
 *  compare with (borrowed: the field itself, or the payload of $exact). */
bool px__ts_formal_exact(px_val f, px_val *v); /* a map field: $exact? */
static inline bool px__ts_field_exact(px_val f, px_val *v) {
  if (f.type == PX_T_NIL) return false;
  if (f.type != PX_T_MAP) {
    *v = f;
    return true;
  }
  return px__ts_formal_exact(f, v);
}
/** Checks one template field; 0 or PX_EINVAL with a reason. */
int px__ts_field_check(px_val f, char *errbuf, size_t errcap);
/** True when `v` satisfies template field `f` (f already checked). */
bool px__ts_field_match(px_val f, px_val v);
/* px_ts_match for a checked template and tuple, with the common fields
 * (wildcards, exact ints and atoms) inline: the lookups call it for every
 * candidate. */
static inline bool px__ts_match_checked(px_val tmpl, px_val tuple) {
  size_t n = px__ts_len(tmpl);
  if (n != px__ts_len(tuple)) return false;
  for (size_t i = 0; i < n; i++) {
    px_val f = px__ts_at(tmpl, i), v = px__ts_at(tuple, i);
    if (f.type == PX_T_NIL) continue;
    if (f.type == PX_T_INT || f.type == PX_T_ATOM) {
      if (f.type != v.type || f.u.i != v.u.i) return false;
      continue;
    }
    if (!px__ts_field_match(f, v)) return false;
  }
  return true;
}
/** 0 when `t` is an array of 1..PX_TUPLE_MAX_ARITY fields, else PX_EINVAL. */
int px__ts_tuple_check(px_val t);

/* ---- durability ------------------------------------------------------------
 * A PX_SPACE_DURABLE space holds the px_store set by px_space_set_store at
 * open time and its store key "tenant/ns/name"; space.c queues the store
 * ops (outside the space lock) at every write, take, renew, cancel and
 * commit, and finishes the operation in memory when the store has applied
 * them, whether or not the caller still waits (see space.c). Wall clock
 * used for stored expiries: */
uint64_t px__ts_wall_ms(void);

/* ---- introspection (tests) ---------------------------------------------- */
size_t px__ts_waiters(px_space *s); /* blocked callers not yet resolved */
size_t px__ts_watches(px_space *s);
size_t px__ts_stored(px_space *s);  /* tuple nodes, incl. txn-held */
uint64_t px__ts_visits(px_space *s); /* nodes examined by read/take */
size_t px__ts_inflight(px_space *s); /* durable ops not yet completed */
size_t px__ts_owned(px_space *s); /* those whose caller may still finish */

#endif
