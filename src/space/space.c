/* The in-memory tuple space (SEMANTICS.md K, issue 3).
 *
 * Data structures (all under the space mutex `mu`):
 *  - every visible or transaction-held tuple is a ts_tuple node on its
 *    arity's list and in the indexes of index.c (field 0; fields 0+1 and
 *    field 1 once needed), all ordered by sequence number (oldest first,
 *    R-K-7 [ours]). Leased tuples are also in a lease hash (id = seq).
 *    The structures themselves are in space_internal.h.
 *  - blocked read/take/replace callers are ts_waiter nodes, queued FIFO in
 *    the bucket of their template's field 0 (or the arity's "wild" queue
 *    when field 0 is not exact) and on a space-wide list. A new tuple is
 *    offered to the waiters of its bucket and of its arity's wild queue,
 *    merged by waiter seq: every matching reader gets a copy, the first
 *    matching taker gets the tuple and the offer stops.
 *  - waiters are owned by the space. A resolved waiter keeps its result
 *    until its caller collects it under the lock, so the resolution never
 *    depends on the wake-up signal arriving (a timed-out await just
 *    re-checks under the lock). A taker whose actor dies before collecting
 *    has its tuple restored by the reaper.
 *  - each space has a reaper actor (spawned at open, killed at the last
 *    close) that monitors blocked callers, watchers and transaction owners
 *    and receives the lease timers. It finds its space by id in the
 *    registry, so it never holds a dangling pointer.
 *
 * Locking: the mutex is held only for short critical sections; promise
 * resolutions and watch notifications are collected under it and performed
 * after unlocking (notifications through a per-space outbox drained by one
 * thread at a time, so each watcher sees seq in increasing order).
 * px_send_after/px_cancel_timer (a spinlock, never parks) are called under
 * it. Nothing blocks while it is held.
 *
 * Dying waiters: an actor is only killed at a park point, so a taker that
 * dies after being handed a tuple dies before collecting it; the reaper
 * (on __DOWN__) then puts the tuple back as it was (its seq, so its place
 * and lease id, and its lease expiry; expired meanwhile, it expires then)
 * and offers it to the other waiters. The remaining window:
 * between the death and the reaper's __DOWN__, a dead waiter is still
 * queued, so a tuple written then goes to it first (then comes back by
 * the path above; a dead *reader* only wastes a copy). A dead replace
 * caller's replace stands (its new tuple was written atomically).
 *
 * Durable operations complete on the store's writer thread, not on the
 * caller's stack, so a caller killed while parked in the store changes
 * nothing of the outcome (see "durable completion" below). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/futex.h"
#include "core/mem.h"
#include "metrics/metrics_internal.h"
#include "plexspaces/error.h"
#include "plexspaces/runtime.h"
#include "runtime/sched.h"
#include "space/space_internal.h"
#include "store/store_async.h"

/* The space lock: a three-state futex mutex (0 free, 1 held, 2 held with
 * sleepers, after Drepper's "Futexes are tricky"). Hand-written because
 * every write and take takes it twice and pthread_mutex_lock's generic
 * path (types, owner, elision checks) was ~100 of the ~1,750 instructions
 * of a write+take pair; the atomic operations are the same. Sections are
 * short and never block, so a short spin comes before sleeping. */
static void ts_lock_slow(px_space *s) {
  for (int i = 0; i < 100; i++) {
    uint32_t z = 0;
    if (atomic_load_explicit(&s->mu, memory_order_relaxed) == 0 &&
        atomic_compare_exchange_weak_explicit(&s->mu, &z, 1,
                                              memory_order_acquire,
                                              memory_order_relaxed))
      return;
    px__cpu_relax();
  }
  while (atomic_exchange_explicit(&s->mu, 2, memory_order_acquire) != 0)
    px__futex_wait(&s->mu, 2, NULL);
}

static inline void ts_lock(px_space *s) {
  uint32_t z = 0;
  if (!atomic_compare_exchange_strong_explicit(&s->mu, &z, 1,
                                               memory_order_acquire,
                                               memory_order_relaxed))
    ts_lock_slow(s);
}

static inline void ts_unlock(px_space *s) {
  if (atomic_exchange_explicit(&s->mu, 0, memory_order_release) == 2)
    px__futex_wake(&s->mu, 1);
}

/* The clock is read at most once per operation, and only when a lease is
 * involved: spaces without leases never read it. */
#define NOW_UNSET UINT64_MAX
static uint64_t now_ms(uint64_t *now) {
  if (*now == NOW_UNSET) *now = px_clock_ms();
  return *now;
}

/* Effects collected under the lock and performed after it. */
typedef struct fx {
  px_promise *p;
  size_t n, cap;
  bool notes;
  px_ref mon[4];
  int nmon;
  bool purge;
} fx;

static void fx_wake(fx *f, px_promise p) {
  if (f->n == f->cap) {
    f->cap = f->cap ? f->cap * 2 : 8;
    f->p = px__xrealloc(f->p, f->cap * sizeof *f->p);
  }
  f->p[f->n++] = p;
}

/* A durable operation in flight (see "durable completion" below). */
enum { D_WRITE, D_WIA, D_TAKE, D_FINISH, D_TAKE_ALL, D_CANCEL, D_RENEW,
       D_COMMIT };
enum { DOP_APPLIED = 1, DOP_ORPHAN = 2 };

struct ts_dop {
  /* first, in one cache line: what the writer's callback reads */
  px_space *s;
  px_promise p;           /* the owner's */
  _Atomic unsigned state; /* DOP_* */
  int rc;                 /* the store's result, set before DOP_APPLIED */
  int kind;
  px_ref owner; /* the calling actor; nil for a plain thread */
  ts_dop *prev, *next; /* on s->dops while owned by a live actor */
  ts_tuple *t;  /* WIA: the pending node; TAKE, CANCEL: the reserved one;
                   FINISH: the node handed over by offer */
  ts_tuple *nn; /* TAKE, FINISH: a replace's new tuple */
  ts_tuple **nodes; /* WRITE: the new nodes; TAKE_ALL: the reserved ones */
  size_t n;
  ts_tuple *one; /* WRITE of one tuple: nodes points here */
  px_ts_txn *tx; /* COMMIT */
  uint64_t lease; /* RENEW */
  int64_t ttl_ms, wexp;
};

/* ---- registry ------------------------------------------------------------ */

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static px_space *reg_head;
static uint64_t reg_ids;

static void space_free(px_space *s);

/* References: the count reaches 0 only under reg_mu (which unregisters
 * the space then), so a lookup under reg_mu never revives a dying space.
 * A holder of a reference may add one, or drop one that is not the last,
 * without reg_mu: every durable operation of an actor does both. */
static px_space *space_by_id(uint64_t id) {
  pthread_mutex_lock(&reg_mu);
  px_space *s = reg_head;
  while (s && s->id != id) s = s->rnext;
  if (s) atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
  pthread_mutex_unlock(&reg_mu);
  return s;
}

/* Adds a reference; the caller holds one. */
static void space_ref(px_space *s) {
  atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

/* Drops a reference; the last one unregisters, stops the reaper, frees. */
static void space_unref(px_space *s) {
  int n = atomic_load_explicit(&s->refs, memory_order_relaxed);
  while (n > 1)
    if (atomic_compare_exchange_weak_explicit(&s->refs, &n, n - 1,
                                              memory_order_release,
                                              memory_order_relaxed))
      return;
  pthread_mutex_lock(&reg_mu);
  /* acq_rel: the freeing thread sees everything the others did before
   * dropping theirs */
  bool last =
      atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1;
  if (last) {
    px_space **pp = &reg_head;
    while (*pp != s) pp = &(*pp)->rnext;
    *pp = s->rnext;
  }
  pthread_mutex_unlock(&reg_mu);
  if (!last) return;
  if (!px_ref_is_nil(s->reaper)) px_exit(s->reaper, px_atomv(px_a()->kill));
  space_free(s);
}

/* ---- atoms ---------------------------------------------------------------- */

static px_atom A_WRITTEN, A_TAKEN, A_EXPIRED, A_EXPIRE, A_MON, A_WATCH, A_SEQ,
    A_TUPLE, A_PURGE, A_WATCH_EXPIRE, A_TXN_EXPIRE;
static pthread_once_t atoms_once = PTHREAD_ONCE_INIT;
static void atoms_init(void) {
  A_WRITTEN = px_atom_of("ts_written");
  A_TAKEN = px_atom_of("ts_taken");
  A_EXPIRED = px_atom_of("ts_expired");
  A_EXPIRE = px_atom_of("ts_expire");
  A_MON = px_atom_of("ts_monitor");
  A_WATCH = px_atom_of("watch");
  A_SEQ = px_atom_of("seq");
  A_TUPLE = px_atom_of("tuple");
  A_PURGE = px_atom_of("ts_purge");
  A_WATCH_EXPIRE = px_atom_of("ts_watch_expire");
  A_TXN_EXPIRE = px_atom_of("ts_txn_expire");
}

/* ---- durability helpers ---------------------------------------------------- */

static _Atomic(px_store *) g_store;

void px_space_set_store(px_store *store) { g_store = store; }

uint64_t px__ts_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static px_store_op op_put(px_space *s, uint64_t id, px_val v, int64_t wexp) {
  px_store_op o = {
      .kind = PX_STORE_TUPLE_PUT, .space = s->key, .id = id, .value = v,
      .expiry_ms = wexp};
  return o;
}

static px_store_op op_del(px_space *s, uint64_t id) {
  px_store_op o = {.kind = PX_STORE_TUPLE_DEL, .space = s->key, .id = id};
  return o;
}

/* ---- leases ---------------------------------------------------------------- */

static void lease_add(px_space *s, ts_tuple *t) {
  if (s->lt_n + 1 > s->lt_cap * 3 / 4) {
    size_t nc = s->lt_cap ? s->lt_cap * 2 : 64;
    ts_tuple **nt = px__xcalloc(nc, sizeof *nt);
    for (size_t i = 0; i < s->lt_cap; i++)
      for (ts_tuple *x = s->lt[i], *n; x; x = n) {
        n = x->lnext;
        x->lnext = nt[x->seq & (nc - 1)];
        nt[x->seq & (nc - 1)] = x;
      }
    free(s->lt);
    s->lt = nt;
    s->lt_cap = nc;
  }
  t->lnext = s->lt[t->seq & (s->lt_cap - 1)];
  s->lt[t->seq & (s->lt_cap - 1)] = t;
  s->lt_n++;
  t->leased = true;
}

static ts_tuple *lease_find(px_space *s, uint64_t id) {
  if (!s->lt_cap) return NULL;
  for (ts_tuple *t = s->lt[id & (s->lt_cap - 1)]; t; t = t->lnext)
    if (t->seq == id) return t;
  return NULL;
}

static void lease_del(px_space *s, ts_tuple *t) {
  if (!t->leased) return;
  ts_tuple **pp = &s->lt[t->seq & (s->lt_cap - 1)];
  while (*pp != t) pp = &(*pp)->lnext;
  *pp = t->lnext;
  s->lt_n--;
  t->leased = false;
  if (t->tref) px_cancel_timer(t->tref);
  t->tref = 0;
}

/* ---- tuple nodes ----------------------------------------------------------- */

/* A zeroed node for tuple v (under the lock). */
static ts_tuple *node_new(px_space *s, px_val v) {
  ts_tuple *t = s->spare_nodes;
  if (t) {
    s->spare_nodes = t->lnext;
    s->nspare_nodes--;
    *t = (ts_tuple){0};
  } else {
    t = px__xcalloc(1, sizeof *t);
  }
  t->v = v;
  t->h0 = px_val_hash(px__ts_at(v, 0));
  return t;
}

/* Recycles a node whose value has been taken or released (under the lock;
 * outside it, node_free frees). */
static void node_put(px_space *s, ts_tuple *t) {
  if (s->nspare_nodes >= PX__TS_SPARE_MAX) {
    free(t);
    return;
  }
  t->lnext = s->spare_nodes;
  s->spare_nodes = t;
  s->nspare_nodes++;
}

static ts_tuple *tuple_new(px_space *s, px_val v, int64_t ttl_ms,
                           uint64_t *now) {
  ts_tuple *t = node_new(s, v);
  t->seq = ++s->seq;
  if (ttl_ms > 0) {
    t->expires = now_ms(now) + (uint64_t)ttl_ms;
    t->wexp = (int64_t)(px__ts_wall_ms() + (uint64_t)ttl_ms);
  }
  return t;
}

/* Arms the reaper's timer for a lease ending at `expires` (clock ms). */
static px_tref lease_timer(px_space *s, uint64_t expires, px_atom type,
                           uint64_t id) {
  if (px_ref_is_nil(s->reaper)) return 0;
  uint64_t now = px_clock_ms();
  int64_t in = expires > now ? (int64_t)(expires - now) : 0;
  return px_send_after(in, s->reaper, type, px_int((int64_t)id));
}

static void tuple_schedule(px_space *s, ts_tuple *t) {
  if (!t->expires) return;
  lease_add(s, t);
  t->tref = lease_timer(s, t->expires, A_EXPIRE, t->seq);
}


/* ---- read locks (R-K-16) ----------------------------------------------------
 * A tuple read under a transaction is read-locked by it until it commits or
 * aborts: still visible to every reader, but only the locking transactions
 * may take it (and only when no other transaction also holds a lock).
 * t->rl lists the locking txns, tx->reads the locked tuples; both are
 * in-memory only (durable spaces store nothing for them). */

/* True when a read lock keeps `tx` (NULL: no txn) from taking t. */
static bool rl_blocks(const ts_tuple *t, const px_ts_txn *tx) {
  for (size_t i = 0; i < t->nrl; i++)
    if (t->rl[i] != tx) return true;
  return false;
}

static void rl_add(ts_tuple *t, px_ts_txn *tx) {
  if (t->wtx == tx) return; /* its own write: invisible to others anyway */
  for (size_t i = 0; i < t->nrl; i++)
    if (t->rl[i] == tx) return;
  if (t->nrl == t->crl) {
    t->crl = t->crl ? t->crl * 2 : 2;
    t->rl = px__xrealloc(t->rl, t->crl * sizeof *t->rl);
  }
  t->rl[t->nrl++] = tx;
  if (tx->nr == tx->cr) {
    tx->cr = tx->cr ? tx->cr * 2 : 8;
    tx->reads = px__xrealloc(tx->reads, tx->cr * sizeof *tx->reads);
  }
  tx->reads[tx->nr++] = t;
}

/* Forgets tx's lock on t (t's side only). */
static void rl_unlock(ts_tuple *t, const px_ts_txn *tx) {
  for (size_t i = 0; i < t->nrl; i++)
    if (t->rl[i] == tx) {
      t->rl[i] = t->rl[--t->nrl];
      return;
    }
}

/* A node going away: every txn locking it forgets it. */
static void rl_detach(ts_tuple *t) {
  if (!t->rl) return;
  for (size_t i = 0; i < t->nrl; i++) {
    px_ts_txn *tx = t->rl[i];
    for (size_t j = 0; j < tx->nr; j++)
      if (tx->reads[j] == t) {
        tx->reads[j] = tx->reads[--tx->nr];
        break;
      }
  }
  free(t->rl);
  t->rl = NULL;
  t->nrl = t->crl = 0;
}

/* Removes a stored node and returns its value (owned). */
static px_val tuple_remove(px_space *s, ts_tuple *t) {
  px__ts_unlink(s, t);
  lease_del(s, t);
  rl_detach(t);
  px_val v = t->v;
  node_put(s, t);
  return v;
}

/* ---- notifications ---------------------------------------------------------- */

static void note_push(px_space *s, px_ref to, px_atom type, px_val payload) {
  if (s->ob_n == s->ob_cap) {
    size_t nc = s->ob_cap ? s->ob_cap * 2 : 16;
    ts_note *nb = px__xmalloc(nc * sizeof *nb);
    for (size_t i = 0; i < s->ob_n; i++)
      nb[i] = s->ob[(s->ob_head + i) % s->ob_cap];
    free(s->ob);
    s->ob = nb;
    s->ob_cap = nc;
    s->ob_head = 0;
  }
  s->ob[(s->ob_head + s->ob_n) % s->ob_cap] = (ts_note){to, type, payload};
  s->ob_n++;
}

static void notify_watches(px_space *s, fx *f, unsigned ev, px_val tuple);
/* Inline: most spaces have no watches. */
static inline void notify(px_space *s, fx *f, unsigned ev, px_val tuple) {
  if (s->watches) notify_watches(s, f, ev, tuple);
}

static void notify_watches(px_space *s, fx *f, unsigned ev, px_val tuple) {
  px_atom type = ev == PX_TS_WRITTEN ? A_WRITTEN
                 : ev == PX_TS_TAKEN ? A_TAKEN
                                     : A_EXPIRED;
  uint64_t now = NOW_UNSET;
  for (ts_watch *w = s->watches; w; w = w->next) {
    if (!(w->events & ev) || !px__ts_match_checked(w->tmpl, tuple)) continue;
    /* a registration whose lease ran out hears nothing, even before the
     * reaper drops it */
    if (w->expires && w->expires <= now_ms(&now)) continue;
    px_val p = px_map(3, px_atomv(A_WATCH), px_int((int64_t)w->id),
                      px_atomv(A_SEQ), px_int((int64_t)++w->seq),
                      px_atomv(A_TUPLE), px_val_retain(tuple));
    note_push(s, w->to, type, p);
    f->notes = true;
  }
}

/* Unlocks the space and performs the effects. */
static void unlock_fx_slow(px_space *s, fx *f);
/* Inline: most operations have no effects to perform. */
static inline void unlock_fx(px_space *s, fx *f) {
  if (!f->n && !f->notes && !f->nmon && !f->purge)
    ts_unlock(s);
  else
    unlock_fx_slow(s, f);
}

static void unlock_fx_slow(px_space *s, fx *f) {
  bool drain = f->notes && !s->draining;
  if (drain) s->draining = true;
  ts_unlock(s);
  for (size_t i = 0; i < f->n; i++) px_reply_to(f->p[i], px_nil());
  free(f->p);
  f->p = NULL;
  f->n = f->cap = 0;
  for (int i = 0; i < f->nmon; i++)
    px_send(s->reaper, A_MON, px_ref_val(f->mon[i]));
  f->nmon = 0;
  if (f->purge && !px_ref_is_nil(s->reaper))
    px_send(s->reaper, A_PURGE, px_nil());
  f->purge = false;
  if (!drain) return;
  ts_lock(s);
  while (s->ob_n) {
    ts_note n = s->ob[s->ob_head];
    s->ob_head = (s->ob_head + 1) % s->ob_cap;
    s->ob_n--;
    ts_unlock(s);
    px_send(n.to, n.type, n.payload);
    ts_lock(s);
  }
  s->draining = false;
  ts_unlock(s);
}

/* The actors the reaper monitors, in a hash set: every durable operation
 * of an actor looks its caller up (a list scan cost as much as the rest of
 * the operation's bookkeeping with a few hundred callers). */
static ts_mon **mon_slot(px_space *s, px_ref r) {
  uint64_t h = ((uint64_t)r.index << 32 | r.gen) * 0x9E3779B97F4A7C15ull;
  ts_mon **pp = &s->mons[(h >> 32) & (s->mons_cap - 1)];
  while (*pp && !px_ref_eq((*pp)->ref, r)) pp = &(*pp)->next;
  return pp;
}

static bool mon_known(px_space *s, px_ref r) {
  return s->mons_cap && *mon_slot(s, r);
}

static void mon_add(px_space *s, px_ref r) {
  if (s->mons_n + 1 > s->mons_cap * 3 / 4) {
    ts_mon **old = s->mons;
    size_t oc = s->mons_cap;
    s->mons_cap = oc ? oc * 2 : 16;
    s->mons = px__xcalloc(s->mons_cap, sizeof *s->mons);
    for (size_t i = 0; i < oc; i++)
      for (ts_mon *m = old[i], *nx; m; m = nx) {
        nx = m->next;
        ts_mon **pp = mon_slot(s, m->ref);
        m->next = NULL;
        *pp = m;
      }
    free(old);
  }
  ts_mon *m = px__xmalloc(sizeof *m);
  m->ref = r;
  m->next = NULL;
  *mon_slot(s, r) = m;
  s->mons_n++;
}

static void mon_del(px_space *s, px_ref r) {
  if (!s->mons_cap) return;
  ts_mon **pp = mon_slot(s, r);
  ts_mon *m = *pp;
  if (!m) return;
  *pp = m->next;
  free(m);
  s->mons_n--;
}

/* Asks the reaper to monitor `r` (once per actor). Plain threads are not
 * monitored: their proxies never exit. */
static void want_monitor(px_space *s, fx *f, px_ref r) {
  if (!px_in_actor() || px_ref_is_nil(s->reaper)) return;
  if (mon_known(s, r)) return;
  mon_add(s, r);
  if (f->nmon < 4) f->mon[f->nmon++] = r;
}

/* ---- visibility and lookup ---------------------------------------------------- */

/* Held by a transaction's take or a durable operation in flight: neither
 * visible nor reclaimable by expiry. */
static bool busy(const ts_tuple *t) { return t->ttx || t->resv || t->pend; }

/* A lease may end only for a tuple nobody is working on: not taken or
 * reserved, and not a write still pending in its transaction (the
 * transaction holds a pointer to it until it completes; if the lease ran
 * out meanwhile, a lookup after the commit reclaims it). */
static bool expirable(const ts_tuple *t) {
  return !busy(t) && !t->wtx && !t->renewing;
}

static bool visible(const ts_tuple *t, const px_ts_txn *tx) {
  if (busy(t)) return false;
  if (t->wtx && t->wtx != tx) return false;
  return true;
}

static void expire_node(px_space *s, fx *f, ts_tuple *t) {
  if (s->store) {
    /* no caller waits for an expiry: the reaper deletes it from the store
     * later (an open drops what expired anyway) */
    if (s->npurge == s->cpurge) {
      s->cpurge = s->cpurge ? s->cpurge * 2 : 16;
      s->purge = px__xrealloc(s->purge, s->cpurge * sizeof *s->purge);
    }
    if (s->npurge == 0) f->purge = true;
    s->purge[s->npurge++] = t->seq;
  }
  px_val v = tuple_remove(s, t);
  notify(s, f, PX_TS_EXPIRED, v);
  px_val_release(v);
}

/* The oldest visible match, reclaiming expired tuples met on the way.
 * `take`: skip tuples that another txn's read lock keeps from tx. */
static ts_tuple *find_match_ex(px_space *s, fx *f, px_val tmpl,
                               const px_ts_txn *tx, uint64_t *now,
                               bool pend_too, bool take) {
  int kind;
  ts_tuple *t = px__ts_first(s, tmpl, &kind);
  while (t) {
    ts_tuple *next = px__ts_next(t, kind);
    s->visits++;
    if (t->expires && t->expires <= now_ms(now) && expirable(t)) {
      /* Reclaiming may free the bucket only when it empties, and then
       * next is NULL too. */
      expire_node(s, f, t);
    } else if ((visible(t, tx) || (pend_too && t->pend)) &&
               !(take && rl_blocks(t, tx)) && px__ts_match_checked(tmpl, t->v)) {
      return t;
    }
    t = next;
  }
  return NULL;
}

static ts_tuple *find_match(px_space *s, fx *f, px_val tmpl,
                            const px_ts_txn *tx, uint64_t *now, bool take) {
  return find_match_ex(s, f, tmpl, tx, now, false, take);
}

/* ---- waiters -------------------------------------------------------------- */

static void wq_push(wq *q, ts_waiter *w) {
  w->q = q;
  w->prev = q->tail;
  w->next = NULL;
  if (q->tail) q->tail->next = w; else q->head = w;
  q->tail = w;
}

static void wq_del(wq *q, ts_waiter *w) {
  if (w->prev) w->prev->next = w->next; else q->head = w->next;
  if (w->next) w->next->prev = w->prev; else q->tail = w->prev;
  w->q = NULL;
  w->prev = w->next = NULL;
}

static void all_add(px_space *s, ts_waiter *w) {
  w->all_prev = s->all_tail;
  w->all_next = NULL;
  if (s->all_tail) s->all_tail->all_next = w; else s->all_head = w;
  s->all_tail = w;
}

static void all_del(px_space *s, ts_waiter *w) {
  if (w->all_prev) w->all_prev->all_next = w->all_next;
  else s->all_head = w->all_next;
  if (w->all_next) w->all_next->all_prev = w->all_prev;
  else s->all_tail = w->all_prev;
}

/* The queue a template waits in. */
static wq *queue_for(px_space *s, px_val tmpl) {
  size_t n = px_len(tmpl);
  px_val e;
  if (px__ts_field_exact(px_at(tmpl, 0), &e))
    return &px__ts_bucket(s, n, px_val_hash(e), true)->waiters;
  return &px__ts_arity(s, n)->wild;
}

/* Takes a waiter out of its queue (it stays on the all-list). */
static void waiter_dequeue(px_space *s, ts_waiter *w) {
  wq *q = w->q;
  if (!q) return;
  wq_del(q, w);
  /* A bucket whose last waiter left may be empty now. */
  if (w->kind != W_BARRIER) {
    px_val e;
    if (px__ts_field_exact(px_at(w->tmpl, 0), &e)) {
      ts_bucket *b =
          px__ts_bucket(s, px_len(w->tmpl), px_val_hash(e), false);
      if (b) px__ts_bucket_maybe_free(s, b);
    }
  }
}

static void node_free(ts_tuple *t) {
  if (!t) return;
  rl_detach(t);
  px_val_release(t->v);
  free(t);
}

static void waiter_free(ts_waiter *w) {
  px_val_release(w->tmpl);
  px_val_release(w->newt);
  px_val_release(w->result);
  node_free(w->tnode);
  node_free(w->newnode);
  free(w);
}

static void insert_new(px_space *s, fx *f, ts_tuple *t);

/* Offers a visible tuple (not yet linked when `linked` is false) to the
 * blocked callers: every matching reader gets a copy, the first matching
 * taker (FIFO by arrival) that no read lock excludes gets the tuple.
 * A reader under a txn read-locks it (in arrival order, so takers after it
 * of other txns are excluded); once a taker is chosen, readers under a txn
 * keep waiting (the tuple is no longer theirs to lock). Returns true when
 * it was taken (then the node is freed). */
static bool offer(px_space *s, fx *f, ts_tuple *t, bool linked) {
  size_t n = px__ts_len(t->v);
  ts_bucket *b =
      linked ? t->ix[TS_IX_F0].b : px__ts_bucket(s, n, t->h0, false);
  ts_waiter *x = b ? b->waiters.head : NULL;
  ts_waiter *y = s->ar[n] ? s->ar[n]->wild.head : NULL;
  ts_waiter *tk = NULL;
  while (x || y) {
    ts_waiter *w;
    if (x && (!y || x->seq < y->seq)) {
      w = x;
      x = x->next;
    } else {
      w = y;
      y = y->next;
    }
    if (w->tx && t->wtx && t->wtx != w->tx) continue;
    if (!w->tx && t->wtx) continue;
    if (!px__ts_match_checked(w->tmpl, t->v)) continue;
    if (w->kind == W_READ) {
      if (w->tx && tk) continue;
      if (w->tx) rl_add(t, w->tx);
      waiter_dequeue(s, w);
      w->result = px_val_retain(t->v);
      w->state = WS_DONE;
      fx_wake(f, w->p);
    } else if (!tk && !rl_blocks(t, w->tx)) {
      tk = w; /* the first taker in FIFO order; readers after it still read */
    }
  }
  if (!tk) return false;
  ts_waiter *w = tk;
  waiter_dequeue(s, w);
  w->state = WS_DONE;
  fx_wake(f, w->p);
  if (w->tx) {
    /* take under a transaction: hidden until commit. */
    if (!linked) px__ts_link(s, t);
    t->ttx = w->tx;
    px_ts_txn *tx = w->tx;
    if (tx->nt == tx->ct) {
      tx->ct = tx->ct ? tx->ct * 2 : 8;
      tx->takes = px__xrealloc(tx->takes, tx->ct * sizeof *tx->takes);
    }
    tx->takes[tx->nt++] = t;
    w->result = px_val_retain(t->v);
    return true;
  }
  if (s->store) {
    /* Durable: the taker persists the delete (and its replace's write)
     * before it returns; it keeps the node meanwhile, to restore it if the
     * store fails or the taker dies first. */
    if (linked) px__ts_unlink(s, t);
    lease_del(s, t);
    notify(s, f, PX_TS_TAKEN, t->v);
    w->result = px_val_retain(t->v);
    w->tnode = t;
    if (w->kind == W_REPLACE) {
      w->newnode = tuple_new(s, w->newt, w->new_ttl, &(uint64_t){NOW_UNSET});
      w->newt = px_nil();
    }
    return true;
  }
  /* kept to restore the tuple as it was if the taker dies uncollected */
  w->rseq = t->seq;
  w->rexpires = t->expires;
  w->rwexp = t->wexp;
  px_val v;
  if (linked) {
    v = tuple_remove(s, t);
  } else {
    /* A fresh write handed straight to this taker: it may already carry a
     * read lock of a transactional reader served before it. */
    lease_del(s, t);
    rl_detach(t);
    v = t->v;
    node_put(s, t);
  }
  notify(s, f, PX_TS_TAKEN, v);
  w->result = v;
  if (w->kind == W_REPLACE) {
    ts_tuple *nt = tuple_new(s, w->newt, w->new_ttl, &(uint64_t){NOW_UNSET});
    w->newt = px_nil();
    insert_new(s, f, nt);
  }
  return true;
}

/* A new visible tuple: announce, offer, store if nobody took it. */
static void insert_new(px_space *s, fx *f, ts_tuple *t) {
  notify(s, f, PX_TS_WRITTEN, t->v);
  if (offer(s, f, t, false)) return;
  px__ts_link(s, t);
  tuple_schedule(s, t);
}

/* ---- open / close ------------------------------------------------------------ */

typedef struct reaper_state {
  uint64_t id;
  /* A purge in flight: held here, not in locals, so that the destructor
   * frees it if the reaper is killed while parked in the store. */
  uint64_t *purge_ids;
  px_store_op *purge_ops;
} reaper_state;

static void reaper_down(px_space *s, px_ref dead);
static void reaper_watch_expire(px_space *s, uint64_t id);
static void watch_free(ts_watch *w);
static void txn_free(px_ts_txn *t);
static void reaper_txn_expire(px_space *s, uint64_t id);

static int reaper_init(px_val args, void **state) {
  reaper_state *r = px__xcalloc(1, sizeof *r);
  r->id = (uint64_t)args.u.i;
  *state = r;
  return 0;
}

static void reaper_expire(px_space *s, uint64_t id) {
  fx f = {0};
  ts_lock(s);
  ts_tuple *t = lease_find(s, id);
  if (t) {
    t->tref = 0;
    uint64_t now = px_clock_ms();
    if (t->expires <= now && expirable(t)) {
      expire_node(s, &f, t);
    } else if (t->expires > now && expirable(t)) {
      /* renewed in the meantime without a new timer: re-arm */
      t->tref = lease_timer(s, t->expires, A_EXPIRE, t->seq);
    }
  }
  unlock_fx(s, &f);
}

/* Deletes expired tuples from the store (durable spaces). Nobody waits for
 * these: a crash before they are durable only leaves rows that the next
 * open drops by their expiry. */
/* r is the reaper's state, or NULL when the opener purges. */
static void reaper_purge(reaper_state *r, px_space *s) {
  ts_lock(s);
  uint64_t *ids = s->purge;
  size_t n = s->npurge;
  s->purge = NULL;
  s->npurge = s->cpurge = 0;
  ts_unlock(s);
  if (!n) {
    free(ids);
    return;
  }
  px_store_op *ops = px__xmalloc(n * sizeof *ops);
  if (r) {
    r->purge_ids = ids;
    r->purge_ops = ops;
  }
  for (size_t i = 0; i < n; i++) ops[i] = op_del(s, ids[i]);
  if (px_store_apply(s->store, ops, n) != 0) /* e.g. one already gone */
    for (size_t i = 0; i < n; i++) (void)px_store_apply(s->store, &ops[i], 1);
  if (r) {
    r->purge_ids = NULL;
    r->purge_ops = NULL;
  }
  free(ops);
  free(ids);
}

static void reaper_handle(void *state, const px_message *m) {
  reaper_state *r = state;
  px_space *s = space_by_id(r->id);
  if (!s) return;
  if (m->type == A_PURGE) {
    reaper_purge(r, s);
  } else if (m->type == A_EXPIRE) {
    reaper_expire(s, (uint64_t)m->payload.u.i);
  } else if (m->type == A_WATCH_EXPIRE) {
    reaper_watch_expire(s, (uint64_t)m->payload.u.i);
  } else if (m->type == A_TXN_EXPIRE) {
    reaper_txn_expire(s, (uint64_t)m->payload.u.i);
  } else if (m->type == A_MON) {
    px_ref ref;
    if (px_val_ref(m->payload, &ref)) px_monitor(ref);
  } else if (m->type == px_a()->down_msg) {
    px_ref ref;
    if (px_val_ref(px_get(m->payload, px_atomv(px_a()->down_from)), &ref))
      reaper_down(s, ref);
  }
  space_unref(s);
}

static void reaper_terminate(void *state, px_val reason) {
  reaper_state *r = state;
  if (r) {
    free(r->purge_ops);
    free(r->purge_ids);
  }
  free(r);
}

static const px_actor_type reaper_type = {"ts_reaper", 0, reaper_init,
                                          reaper_handle, reaper_terminate};

static bool streq0(const char *a, const char *b) { return strcmp(a, b) == 0; }

typedef struct load_ctx {
  px_space *s;
  uint64_t wall, now;
} load_ctx;

static int load_cb(void *ud, uint64_t id, px_val v, int64_t wexp) {
  load_ctx *c = ud;
  px_space *s = c->s;
  if (id > s->seq) s->seq = id;
  if (px__ts_tuple_check(v)) { /* not a tuple: leave the row alone */
    px_val_release(v);
    return 0;
  }
  if (wexp > 0 && (uint64_t)wexp <= c->wall) {
    px_val_release(v);
    if (s->npurge == s->cpurge) {
      s->cpurge = s->cpurge ? s->cpurge * 2 : 16;
      s->purge = px__xrealloc(s->purge, s->cpurge * sizeof *s->purge);
    }
    s->purge[s->npurge++] = id;
    return 0;
  }
  ts_tuple *t = node_new(s, v);
  t->seq = id;
  if (wexp > 0) {
    t->wexp = wexp;
    t->expires = c->now + ((uint64_t)wexp - c->wall);
  }
  px__ts_link(s, t);
  tuple_schedule(s, t);
  return 0;
}

/* Replays the stored tuples of a new durable space (not yet visible to
 * anyone but the registry lock's holder), oldest id first; expired ones are
 * queued for deletion. */
static int durable_load(px_space *s, px_store *store) {
  size_t kl = strlen(s->tenant) + strlen(s->ns) + strlen(s->name) + 3;
  s->key = px__xmalloc(kl);
  snprintf(s->key, kl, "%s/%s/%s", s->tenant, s->ns, s->name);
  s->store = store;
  load_ctx c = {s, px__ts_wall_ms(), px_clock_ms()};
  ts_lock(s);
  int rc = px_store_scan_tuples(store, s->key, load_cb, &c);
  ts_unlock(s);
  return rc;
}

int px_space_open(const char *tenant, const char *ns, const char *name,
                  px_space_kind kind, px_space **out) {
  *out = NULL;
  pthread_once(&atoms_once, atoms_init);
  if (!name || !*name) return PX_EINVAL;
  if (kind != PX_SPACE_MEMORY && kind != PX_SPACE_DURABLE) return PX_EINVAL;
  const char *t = tenant ? tenant : "default";
  const char *n = ns ? ns : "default";
  const char *me = px_self_tenant();
  if (me && !streq0(me, t)) return PX_EPERM;
  pthread_mutex_lock(&reg_mu);
  for (px_space *s = reg_head; s; s = s->rnext) {
    if (streq0(s->tenant, t) && streq0(s->ns, n) && streq0(s->name, name)) {
      if (s->kind != kind) {
        pthread_mutex_unlock(&reg_mu);
        return PX_EEXIST;
      }
      atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
      pthread_mutex_unlock(&reg_mu);
      *out = s;
      return 0;
    }
  }
  px_store *store = g_store;
  if (kind == PX_SPACE_DURABLE && !store) {
    pthread_mutex_unlock(&reg_mu);
    return PX_ENOTSUP;
  }
  px_space *s = px__xcalloc(1, sizeof *s);
  s->tenant = px__xstrndup(t, strlen(t));
  s->ns = px__xstrndup(n, strlen(n));
  s->name = px__xstrndup(name, strlen(name));
  s->kind = kind;
  s->id = ++reg_ids;
  s->refs = 1;
  s->rnext = reg_head;
  reg_head = s;
  /* The reaper is a system actor; it only learns the space's id. */
  px_spawn_opts o = {0};
  int rc = px_spawn(&reaper_type, px_int((int64_t)s->id), &o, &s->reaper);
  if (!rc && kind == PX_SPACE_DURABLE) rc = durable_load(s, store);
  if (rc) {
    reg_head = s->rnext;
    pthread_mutex_unlock(&reg_mu);
    if (!px_ref_is_nil(s->reaper))
      px_exit(s->reaper, px_atomv(px_a()->kill));
    s->reaper = px_ref_nil();
    space_free(s);
    return rc;
  }
  pthread_mutex_unlock(&reg_mu);
  if (s->npurge) reaper_purge(NULL, s); /* expired while down */
  *out = s;
  return 0;
}

int px_space_attach(const char *tenant, const char *ns, const char *name,
                    px_space **out) {
  px_space_kind k = g_store ? PX_SPACE_DURABLE : PX_SPACE_MEMORY;
  int rc = px_space_open(tenant, ns, name, k, out);
  if (rc == PX_EEXIST) /* it exists with the other kind: take it as is */
    rc = px_space_open(tenant, ns, name,
                       k == PX_SPACE_DURABLE ? PX_SPACE_MEMORY
                                             : PX_SPACE_DURABLE,
                       out);
  return rc;
}

void px_space_close(px_space *s) {
  if (s) space_unref(s);
}

static void space_free(px_space *s) {
  for (size_t n = 1; n <= PX_TUPLE_MAX_ARITY; n++) {
    if (!s->ar[n]) continue;
    for (ts_tuple *t = s->ar[n]->head, *nx; t; t = nx) {
      nx = t->anext;
      px_val_release(t->v);
      free(t->rl);
      free(t);
    }
  }
  px__ts_index_free(s);
  free(s->lt);
  for (ts_tuple *t = s->spare_nodes, *nx; t; t = nx) {
    nx = t->lnext;
    free(t);
  }
  for (ts_dop *d = s->spare_dops, *nx; d; d = nx) {
    nx = d->next;
    free(d);
  }
  for (ts_waiter *w = s->all_head, *nx; w; w = nx) {
    nx = w->all_next;
    waiter_free(w);
  }
  for (ts_watch *w = s->watches, *nx; w; w = nx) {
    nx = w->next;
    watch_free(w);
  }
  for (ts_barrier *b = s->barriers, *nx; b; b = nx) {
    nx = b->next;
    free(b->name);
    free(b);
  }
  for (px_ts_txn *t = s->txns, *nx; t; t = nx) {
    nx = t->next;
    txn_free(t);
  }
  for (size_t i = 0; i < s->mons_cap; i++)
    for (ts_mon *m = s->mons[i], *nx; m; m = nx) {
      nx = m->next;
      free(m);
    }
  free(s->mons);
  for (size_t i = 0; i < s->ob_n; i++)
    px_val_release(s->ob[(s->ob_head + i) % s->ob_cap].payload);
  free(s->ob);
  free(s->purge);
  free(s->key);
  free(s->tenant);
  free(s->ns);
  free(s->name);
  free(s);
}

/* ---- durable completion --------------------------------------------------------
 * A durable operation prepares under the lock (a new node, not yet
 * visible; a node reserved or pending), registers a ts_dop (on the heap),
 * queues its store ops with px__store_apply_cb and waits on a promise
 * that the store's writer resolves after the commit. Then it completes
 * in memory under the lock: publishes or removes the nodes, or undoes the
 * preparation if the store failed.
 *
 * An actor dies only at a park point, abandoning its stack, so a caller
 * killed while it waits for the store would leave its preparation half
 * done. Its ts_dop is therefore completed by someone else then: the
 * calling actor is monitored by the reaper, which on its __DOWN__ marks
 * its ts_dops orphaned; the writer's callback marks a ts_dop applied
 * (after storing rc). Whichever of the two comes second (one atomic
 * fetch-or each) completes it: the reaper under the lock it holds, or the
 * writer thread. The operation then ends as if the caller had returned,
 * like a gen_server call whose caller died after the server handled it (a
 * write appears, a take drops its value, a commit applies, a renew takes
 * effect). While the caller lives, it completes its own operation on its
 * own worker, in parallel with the writer's next commit: putting every
 * completion on the writer thread would serialise them behind the fsyncs.
 * Plain threads cannot be killed: they apply blocking and complete
 * themselves. Each actor's ts_dop holds a reference on the space until it
 * is completed; the store outlives the space (px_space_set_store), and
 * px_store_close runs the callbacks still queued before its writer
 * exits. */

static void txn_end(px_space *s, fx *f, px_ts_txn *t, bool commit);

/* Aborts t if its lease has run out (under the lock), as when its owner
 * exits; its blocked operations return PX_ENOTFOUND. A durable commit in
 * flight is left to finish. */
static void txn_lapse(px_space *s, fx *f, px_ts_txn *t) {
  if (t->done || t->committing || !t->expires ||
      t->expires > px_clock_ms())
    return;
  for (ts_waiter *w = s->all_head; w; w = w->all_next) {
    if (w->tx != t || w->state != WS_WAITING) continue;
    waiter_dequeue(s, w);
    w->state = WS_DONE;
    w->aborted = true;
    fx_wake(f, w->p);
  }
  txn_end(s, f, t, false);
}
static void txn_unlist(px_space *s, px_ts_txn *t);
/* Under the lock, by the preparing caller. Recycled like tuple nodes:
 * a steady stream of durable operations allocates none. */
static ts_dop *dop_new(px_space *s, fx *f, int kind) {
  ts_dop *d = s->spare_dops;
  if (d) {
    s->spare_dops = d->next;
    s->nspare_dops--;
    memset(d, 0, sizeof *d);
  } else {
    d = px__xcalloc(1, sizeof *d);
  }
  d->s = s;
  d->kind = kind;
  s->ndop++;
  if (px_in_actor()) {
    d->owner = px_self();
    d->next = s->dops;
    if (s->dops) s->dops->prev = d;
    s->dops = d;
    want_monitor(s, f, d->owner);
  }
  return d;
}

static void dop_unlist(px_space *s, ts_dop *d) {
  if (px_ref_is_nil(d->owner)) return;
  if (d->prev) d->prev->next = d->next; else s->dops = d->next;
  if (d->next) d->next->prev = d->prev;
  d->prev = d->next = NULL;
}

static void renew_finish(px_space *s, fx *f, ts_dop *d, int rc) {
  ts_tuple *t = lease_find(s, d->lease);
  if (!t) return; /* taken or cancelled meanwhile */
  t->renewing--;
  uint64_t at = px_clock_ms();
  if (!rc) {
    t->expires = at + (uint64_t)d->ttl_ms;
    t->wexp = d->wexp;
  }
  /* re-arm: a timer that fired meanwhile left the tuple alone */
  if (t->expires <= at) {
    if (expirable(t)) expire_node(s, f, t);
  } else {
    if (t->tref) px_cancel_timer(t->tref);
    t->tref = lease_timer(s, t->expires, A_EXPIRE, t->seq);
  }
}

/* Completes d in memory (under the lock, d unlisted) after its store apply
 * returned rc; frees d and returns the caller's result (a take's tuple,
 * take_all's array). */
static px_val dop_complete(px_space *s, fx *f, ts_dop *d, int rc) {
  px_val res = px_nil();
  switch (d->kind) {
  case D_WRITE:
    for (size_t i = 0; i < d->n; i++)
      if (rc) node_free(d->nodes[i]);
      else insert_new(s, f, d->nodes[i]);
    break;
  case D_WIA:
    px__ts_unlink(s, d->t);
    d->t->pend = false;
    if (rc) node_free(d->t);
    else insert_new(s, f, d->t);
    break;
  case D_TAKE:
    d->t->resv = false;
    if (rc) {
      node_free(d->nn);
      offer(s, f, d->t, true);
    } else {
      res = tuple_remove(s, d->t);
      notify(s, f, PX_TS_TAKEN, res);
      if (d->nn) insert_new(s, f, d->nn);
    }
    break;
  case D_FINISH:
    if (rc) {
      insert_new(s, f, d->t);
      node_free(d->nn);
    } else {
      res = d->t->v;
      rl_detach(d->t); /* read locks released at a commit leave their array */
      node_put(s, d->t);
      if (d->nn) insert_new(s, f, d->nn);
    }
    break;
  case D_TAKE_ALL:
    if (!rc) res = px_array_new(d->n);
    for (size_t i = 0; i < d->n; i++) {
      ts_tuple *x = d->nodes[i];
      x->resv = false;
      if (rc) {
        offer(s, f, x, true);
      } else {
        px_val v = tuple_remove(s, x);
        notify(s, f, PX_TS_TAKEN, v);
        px_array_push(&res, v);
      }
    }
    break;
  case D_CANCEL:
    d->t->resv = false;
    if (rc) offer(s, f, d->t, true);
    else px_val_release(tuple_remove(s, d->t));
    break;
  case D_RENEW:
    renew_finish(s, f, d, rc);
    break;
  case D_COMMIT:
    /* the reaper leaves a committing txn (even its dead owner's) to us */
    d->tx->committing = false;
    txn_end(s, f, d->tx, rc == 0);
    txn_unlist(s, d->tx);
    txn_free(d->tx);
    break;
  }
  s->ndop--;
  if (d->nodes != &d->one) free(d->nodes);
  if (s->nspare_dops < PX__TS_SPARE_MAX) {
    d->next = s->spare_dops;
    s->spare_dops = d;
    s->nspare_dops++;
  } else {
    free(d);
  }
  return res;
}

/* The writer's callback: marks d applied; its owner completes it, unless
 * it was orphaned first (then nobody else will). */
static void dop_done(void *ud, int rc) {
  ts_dop *d = ud;
  px_space *s = d->s;
  px_promise p = d->p; /* d may be gone once marked */
  d->rc = rc;
  unsigned was =
      atomic_fetch_or_explicit(&d->state, DOP_APPLIED, memory_order_acq_rel);
  if (!(was & DOP_ORPHAN)) {
    px_reply_to(p, px_int(rc));
    return;
  }
  fx f = {0};
  ts_lock(s);
  px_val_release(dop_complete(s, &f, d, rc)); /* the caller is gone */
  unlock_fx(s, &f);
  space_unref(s); /* the owner's reference */
}

/* d's owner will not complete it (it died, or its wait failed): completes
 * it now if the store already answered, else leaves it to the writer's
 * callback. Under the lock; returns the number of space references (0 or
 * 1, the owner's) that the caller drops once unlocked (reg_mu is never
 * taken under the space lock: an opener holds them the other way round).
 * Never the last: the caller holds one. */
static int dop_orphan(px_space *s, fx *f, ts_dop *d) {
  dop_unlist(s, d);
  unsigned was =
      atomic_fetch_or_explicit(&d->state, DOP_ORPHAN, memory_order_acq_rel);
  if (!(was & DOP_APPLIED)) return 0;
  px_val_release(dop_complete(s, f, d, d->rc));
  return 1;
}

/* Called without the lock, once d is prepared: applies ops (the store
 * copies them before it queues them), waits, and completes d; 0 and *res,
 * or the store's error (then d's preparation is undone). */
/* heap_ops: ops is a heap array that dop_run frees once queued (before
 * the caller parks: a kill meanwhile abandons the caller's stack). */
static int dop_run(ts_dop *d, px_store_op *ops, size_t n, bool heap_ops,
                   px_val *res) {
  px_space *s = d->s;
  *res = px_nil();
  int rc;
  fx f = {0};
  if (px_ref_is_nil(d->owner)) {
    rc = px_store_apply(s->store, ops, n);
    if (heap_ops) free(ops);
  } else {
    space_ref(s); /* for whoever completes d: its owner may die */
    d->p = px_promise_new();
    rc = px__store_apply_cb(s->store, ops, n, dop_done, d);
    if (heap_ops) free(ops); /* copied into the request */
    if (rc == 0) { /* the writer answers; a kill may end us meanwhile */
      px_val v;
      int ar = px_promise_await(d->p, -1, &v);
      rc = ar == 0 && v.type == PX_T_INT ? (int)v.u.i : PX_EIO;
      px_val_release(v);
      if (ar != 0) { /* woken without the answer: let the writer finish */
        ts_lock(s);
        int unrefs = dop_orphan(s, &f, d);
        unlock_fx(s, &f);
        while (unrefs--) space_unref(s);
        return rc;
      }
    }
  }
  ts_lock(s);
  dop_unlist(s, d);
  bool owned = !px_ref_is_nil(d->owner);
  *res = dop_complete(s, &f, d, rc);
  unlock_fx(s, &f);
  if (owned) space_unref(s);
  return rc;
}

/* ---- writing ------------------------------------------------------------------ */

int px_ts_write(px_space *s, px_val tuple, int64_t ttl_ms, uint64_t *lease) {
  px__metrics_space_op(PX__SOP_WRITE);
  if (lease) *lease = 0;
  if (!s || px__ts_tuple_check(tuple) || ttl_ms < 0) {
    px_val_release(tuple);
    return PX_EINVAL;
  }
  fx f = {0};
  ts_lock(s);
  ts_tuple *t = tuple_new(s, tuple, ttl_ms, &(uint64_t){NOW_UNSET});
  if (s->store) {
    /* durable: visible (and offered) only once the put is durable */
    ts_dop *d = dop_new(s, &f, D_WRITE);
    d->one = t;
    d->nodes = &d->one;
    d->n = 1;
    uint64_t seq = t->seq;
    px_store_op op = op_put(s, t->seq, t->v, t->wexp);
    unlock_fx(s, &f);
    px_val none;
    int rc = dop_run(d, &op, 1, false, &none);
    if (!rc && lease && ttl_ms > 0) *lease = seq;
    return rc;
  }
  if (lease && ttl_ms > 0) *lease = t->seq;
  insert_new(s, &f, t);
  unlock_fx(s, &f);
  px__reduce(true); /* a producer in a loop lets its takers run */
  return 0;
}

int px_ts_write_batch(px_space *s, const px_val *tuples, size_t n,
                      int64_t ttl_ms) {
  px__metrics_space_op(PX__SOP_WRITE);
  bool ok = s && ttl_ms >= 0 && (n == 0 || tuples);
  for (size_t i = 0; ok && i < n; i++)
    if (px__ts_tuple_check(tuples[i])) ok = false;
  if (!ok) {
    for (size_t i = 0; tuples && i < n; i++) px_val_release(tuples[i]);
    return PX_EINVAL;
  }
  fx f = {0};
  ts_lock(s);
  uint64_t now = NOW_UNSET;
  if (s->store && n) {
    ts_dop *d = dop_new(s, &f, D_WRITE);
    d->nodes = px__xmalloc(n * sizeof *d->nodes);
    d->n = n;
    px_store_op *ops = px__xmalloc(n * sizeof *ops);
    for (size_t i = 0; i < n; i++) {
      ts_tuple *t = tuple_new(s, tuples[i], ttl_ms, &now);
      d->nodes[i] = t;
      ops[i] = op_put(s, t->seq, t->v, t->wexp);
    }
    unlock_fx(s, &f);
    px_val none;
    return dop_run(d, ops, n, true, &none);
  }
  for (size_t i = 0; i < n; i++)
    insert_new(s, &f, tuple_new(s, tuples[i], ttl_ms, &now));
  unlock_fx(s, &f);
  px__reduce(true);
  return 0;
}

static int check_tmpl(px_val tmpl) {
  return px_ts_template_check(tmpl, NULL, 0);
}

int px_ts_write_if_absent(px_space *s, px_val tmpl, px_val tuple,
                          int64_t ttl_ms) {
  px__metrics_space_op(PX__SOP_WRITE_IF_ABSENT);
  if (!s || check_tmpl(tmpl) || px__ts_tuple_check(tuple) || ttl_ms < 0) {
    px_val_release(tmpl);
    px_val_release(tuple);
    return PX_EINVAL;
  }
  fx f = {0};
  ts_lock(s);
  uint64_t now = NOW_UNSET;
  int rc = 0;
  /* durable: a matching write still in flight counts as present */
  if (find_match_ex(s, &f, tmpl, NULL, &now, s->store != NULL, false)) {
    rc = PX_EEXIST;
    px_val_release(tuple);
  } else if (s->store) {
    /* linked but pending (invisible) while its put becomes durable, so a
     * concurrent write_if_absent sees it */
    ts_tuple *t = tuple_new(s, tuple, ttl_ms, &now);
    t->pend = true;
    px__ts_link(s, t);
    ts_dop *d = dop_new(s, &f, D_WIA);
    d->t = t;
    px_store_op op = op_put(s, t->seq, t->v, t->wexp);
    unlock_fx(s, &f);
    px_val_release(tmpl);
    px_val none;
    return dop_run(d, &op, 1, false, &none);
  } else {
    insert_new(s, &f, tuple_new(s, tuple, ttl_ms, &now));
  }
  unlock_fx(s, &f);
  px_val_release(tmpl);
  return rc;
}

/* ---- read / take ------------------------------------------------------------------- */

/* The store ops of a durable take of t (or replace, when nn is set): t's
 * delete and nn's put, applied as one. */
static size_t take_ops(px_space *s, ts_tuple *t, ts_tuple *nn,
                       px_store_op ops[2]) {
  ops[0] = op_del(s, t->seq);
  if (!nn) return 1;
  ops[1] = op_put(s, nn->seq, nn->v, nn->wexp);
  return 2;
}

/* The common blocking path of read, take, replace and their _tx forms.
 * Takes ownership of tmpl and newt. */
static int wait_op(px_space *s, int kind, px_ts_txn *tx, px_val tmpl,
                   px_val newt, int64_t new_ttl, int64_t timeout_ms,
                   px_val *out) {
  fx f = {0};
  ts_lock(s);
  uint64_t now = NOW_UNSET;
  if (tx) txn_lapse(s, &f, tx);
  if (tx && tx->done) {
    unlock_fx(s, &f);
    px_val_release(tmpl);
    px_val_release(newt);
    return PX_ENOTFOUND;
  }
  ts_tuple *t = find_match(s, &f, tmpl, tx, &now, kind != W_READ);
  if (t) {
    if (kind == W_READ) {
      if (tx) rl_add(t, tx); /* R-K-16: read under txn read-locks it */
      *out = px_val_retain(t->v);
    } else if (tx) {
      if (t->wtx == tx) {
        /* written and taken inside the same txn: never visible outside */
        for (size_t i = 0; i < tx->nw; i++)
          if (tx->writes[i] == t) tx->writes[i] = NULL;
        *out = tuple_remove(s, t);
      } else {
        t->ttx = tx;
        if (tx->nt == tx->ct) {
          tx->ct = tx->ct ? tx->ct * 2 : 8;
          tx->takes = px__xrealloc(tx->takes, tx->ct * sizeof *tx->takes);
        }
        tx->takes[tx->nt++] = t;
        *out = px_val_retain(t->v);
      }
    } else if (s->store) {
      /* Reserved (invisible, not reclaimable) while its delete is in
       * flight; removed, or offered again if the store fails, by the
       * completion. */
      t->resv = true;
      ts_dop *d = dop_new(s, &f, D_TAKE);
      d->t = t;
      d->nn = kind == W_REPLACE ? tuple_new(s, newt, new_ttl, &now) : NULL;
      px_store_op ops[2];
      size_t n = take_ops(s, t, d->nn, ops);
      unlock_fx(s, &f);
      px_val_release(tmpl);
      return dop_run(d, ops, n, false, out);
    } else {
      *out = tuple_remove(s, t);
      notify(s, &f, PX_TS_TAKEN, *out);
      if (kind == W_REPLACE) {
        insert_new(s, &f, tuple_new(s, newt, new_ttl, &now));
        newt = px_nil();
      }
    }
    unlock_fx(s, &f);
    px_val_release(tmpl);
    px_val_release(newt);
    return 0;
  }
  if (timeout_ms == 0) {
    unlock_fx(s, &f);
    px_val_release(tmpl);
    px_val_release(newt);
    return PX_ETIMEDOUT;
  }
  ts_waiter *w = px__xcalloc(1, sizeof *w);
  w->seq = ++s->wseq;
  w->kind = kind;
  w->tmpl = tmpl;
  w->newt = newt;
  w->new_ttl = new_ttl;
  w->tx = tx;
  w->owner = px_self();
  w->p = px_promise_new();
  w->state = WS_WAITING;
  wq_push(queue_for(s, tmpl), w);
  all_add(s, w);
  want_monitor(s, &f, w->owner);
  unlock_fx(s, &f);

  px_val ignored;
  int rc = px_promise_await(w->p, timeout_ms < 0 ? -1 : timeout_ms, &ignored);
  px_val_release(ignored);
  (void)rc;
  /* Whatever the await says, the waiter's state under the lock decides:
   * a resolution that raced with the timeout is kept. */
  ts_lock(s);
  all_del(s, w);
  if (w->state == WS_DONE && w->tnode) {
    /* durable take handed a tuple by offer (already out of the space):
     * persist its delete (and the replace's write) before returning it;
     * the node goes back if the store fails */
    ts_dop *d = dop_new(s, &f, D_FINISH);
    d->t = w->tnode;
    d->nn = w->newnode;
    w->tnode = w->newnode = NULL;
    px_store_op ops[2];
    size_t n = take_ops(s, d->t, d->nn, ops);
    unlock_fx(s, &f);
    waiter_free(w);
    return dop_run(d, ops, n, false, out);
  } else if (w->state == WS_DONE && w->aborted) {
    rc = PX_ENOTFOUND;
  } else if (w->state == WS_DONE) {
    *out = w->result;
    w->result = px_nil();
    rc = 0;
  } else {
    waiter_dequeue(s, w);
    rc = PX_ETIMEDOUT;
  }
  ts_unlock(s);
  waiter_free(w);
  return rc;
}

static int op_entry(px_space *s, px_val tmpl, px_val *out) {
  px__reduce(false); /* it owns tmpl: not a kill point */
  if (out) *out = px_nil();
  if (!s || !out || check_tmpl(tmpl)) {
    px_val_release(tmpl);
    return PX_EINVAL;
  }
  return 0;
}

int px_ts_read(px_space *s, px_val tmpl, int64_t timeout_ms, px_val *out) {
  px__metrics_space_op(PX__SOP_READ);
  int rc = op_entry(s, tmpl, out);
  if (rc) return rc;
  return wait_op(s, W_READ, NULL, tmpl, px_nil(), 0, timeout_ms, out);
}

int px_ts_take(px_space *s, px_val tmpl, int64_t timeout_ms, px_val *out) {
  px__metrics_space_op(PX__SOP_TAKE);
  int rc = op_entry(s, tmpl, out);
  if (rc) return rc;
  return wait_op(s, W_TAKE, NULL, tmpl, px_nil(), 0, timeout_ms, out);
}

int px_ts_replace(px_space *s, px_val tmpl, px_val tuple, int64_t timeout_ms,
                  px_val *old) {
  px__metrics_space_op(PX__SOP_REPLACE);
  px_val dummy;
  if (old) *old = px_nil();
  if (px__ts_tuple_check(tuple) || !s) {
    px_val_release(tmpl);
    px_val_release(tuple);
    return PX_EINVAL;
  }
  int rc = op_entry(s, tmpl, &dummy);
  if (rc) {
    px_val_release(tuple);
    return rc;
  }
  rc = wait_op(s, W_REPLACE, NULL, tmpl, tuple, 0, timeout_ms, &dummy);
  if (old) *old = dummy;
  else px_val_release(dummy);
  return rc;
}

/* Takes ownership of tmpl. */
static int scan_all(px_space *s, px_val tmpl, size_t limit, bool take,
                    px_val *arr, size_t *count) {
  fx f = {0};
  ts_tuple **resv = NULL; /* durable take_all: reserved nodes */
  size_t nresv = 0;
  ts_lock(s);
  uint64_t now = NOW_UNSET;
  size_t got = 0;
  int kind;
  ts_tuple *t = px__ts_first(s, tmpl, &kind);
  while (t && (!limit || got < limit)) {
    ts_tuple *next = px__ts_next(t, kind);
    if (t->expires && t->expires <= now_ms(&now) && expirable(t)) {
      expire_node(s, &f, t);
    } else if (visible(t, NULL) && !(take && t->nrl) &&
               px__ts_match_checked(tmpl, t->v)) {
      got++;
      if (take && s->store) {
        t->resv = true;
        if ((nresv & (nresv - 1)) == 0)
          resv = px__xrealloc(resv, (nresv ? nresv * 2 : 1) * sizeof *resv);
        resv[nresv++] = t;
      } else if (take) {
        px_val v = tuple_remove(s, t);
        notify(s, &f, PX_TS_TAKEN, v);
        if (arr) px_array_push(arr, v); else px_val_release(v);
      } else if (arr) {
        px_array_push(arr, px_val_retain(t->v));
      }
    }
    t = next;
  }
  if (count) *count = got;
  if (!nresv) {
    unlock_fx(s, &f);
    px_val_release(tmpl);
    return 0;
  }
  /* durable take_all: one apply deletes them all; the completion removes
   * them (or offers them again) and returns them as an array, which
   * replaces the caller's (still empty) one */
  ts_dop *d = dop_new(s, &f, D_TAKE_ALL);
  d->nodes = resv;
  d->n = nresv;
  px_store_op *ops = px__xmalloc(nresv * sizeof *ops);
  for (size_t i = 0; i < nresv; i++) ops[i] = op_del(s, resv[i]->seq);
  unlock_fx(s, &f);
  /* nothing of ours may be left on the stack while parked: a kill there
   * abandons it (the completion then drops the values) */
  px_val_release(tmpl);
  px_val_release(*arr);
  *arr = px_nil();
  px_val res;
  int rc = dop_run(d, ops, nresv, true, &res);
  *arr = rc ? px_array_new(0) : res;
  if (rc && count) *count = 0;
  return rc;
}

int px_ts_read_all(px_space *s, px_val tmpl, size_t limit, px_val *out) {
  px__metrics_space_op(PX__SOP_READ_ALL);
  int rc = op_entry(s, tmpl, out);
  if (rc) return rc;
  *out = px_array_new(limit ? limit : 8);
  scan_all(s, tmpl, limit, false, out, NULL);
  return 0;
}

int px_ts_take_all(px_space *s, px_val tmpl, size_t limit, px_val *out) {
  px__metrics_space_op(PX__SOP_TAKE_ALL);
  int rc = op_entry(s, tmpl, out);
  if (rc) return rc;
  *out = px_array_new(limit ? limit : 8);
  return scan_all(s, tmpl, limit, true, out, NULL);
}

int px_ts_count(px_space *s, px_val tmpl, size_t *out) {
  px__metrics_space_op(PX__SOP_COUNT);
  px_val dummy;
  if (out) *out = 0;
  int rc = op_entry(s, tmpl, &dummy);
  if (rc) return rc;
  if (!out) {
    px_val_release(tmpl);
    return PX_EINVAL;
  }
  scan_all(s, tmpl, 0, false, NULL, out);
  return 0;
}

int px_ts_exists(px_space *s, px_val tmpl, bool *out) {
  px__metrics_space_op(PX__SOP_EXISTS);
  px_val dummy;
  if (out) *out = false;
  int rc = op_entry(s, tmpl, &dummy);
  if (rc) return rc;
  if (!out) {
    px_val_release(tmpl);
    return PX_EINVAL;
  }
  size_t n = 0;
  scan_all(s, tmpl, 1, false, NULL, &n);
  *out = n > 0;
  return 0;
}

/* ---- leases ------------------------------------------------------------------ */

int px_ts_renew(px_space *s, uint64_t lease, int64_t ttl_ms) {
  px__metrics_space_op(PX__SOP_RENEW);
  if (!s || ttl_ms <= 0) return PX_EINVAL;
  fx f = {0};
  ts_lock(s);
  uint64_t now = px_clock_ms();
  ts_tuple *t = lease_find(s, lease);
  int rc = PX_ENOTFOUND;
  if (t && t->expires <= now) {
    if (expirable(t)) expire_node(s, &f, t);
  } else if (t && s->store) {
    /* durable: the new absolute expiry is stored before it counts. The
     * old lease must not run out meanwhile (its purge would delete the
     * row of an acknowledged renew): while renewing, the tuple stays
     * visible but is not expirable. A take may still remove it; then the
     * store reports the row gone. */
    int64_t wexp = (int64_t)(px__ts_wall_ms() + (uint64_t)ttl_ms);
    t->renewing++;
    ts_dop *d = dop_new(s, &f, D_RENEW);
    d->lease = lease;
    d->ttl_ms = ttl_ms;
    d->wexp = wexp;
    unlock_fx(s, &f);
    px_store_op op = {.kind = PX_STORE_TUPLE_EXPIRY, .space = s->key,
                      .id = lease, .expiry_ms = wexp};
    px_val none;
    return dop_run(d, &op, 1, false, &none);
  } else if (t) {
    t->expires = now + (uint64_t)ttl_ms;
    t->wexp = (int64_t)(px__ts_wall_ms() + (uint64_t)ttl_ms);
    if (t->tref) px_cancel_timer(t->tref);
    t->tref = lease_timer(s, t->expires, A_EXPIRE, t->seq);
    rc = 0;
  }
  unlock_fx(s, &f);
  return rc;
}

int px_ts_cancel(px_space *s, uint64_t lease) {
  px__metrics_space_op(PX__SOP_CANCEL);
  if (!s) return PX_EINVAL;
  fx f = {0};
  ts_lock(s);
  uint64_t now = px_clock_ms();
  ts_tuple *t = lease_find(s, lease);
  int rc = PX_ENOTFOUND;
  /* a renew in flight does not stop a cancel */
  if (t && !busy(t) && !t->wtx) {
    if (t->expires <= now && !t->renewing) {
      expire_node(s, &f, t);
    } else if (s->store) {
      /* durable: reserved while its delete is persisted */
      t->resv = true;
      ts_dop *d = dop_new(s, &f, D_CANCEL);
      d->t = t;
      unlock_fx(s, &f);
      px_store_op op = op_del(s, lease);
      px_val none;
      return dop_run(d, &op, 1, false, &none);
    } else {
      px_val_release(tuple_remove(s, t));
      rc = 0;
    }
  }
  unlock_fx(s, &f);
  return rc;
}

/* ---- watch ---------------------------------------------------------------------- */

int px_ts_watch(px_space *s, px_val tmpl, unsigned events, px_ref to,
                uint64_t *watch) {
  return px_ts_watch_lease(s, tmpl, events, to, 0, watch);
}

static void watch_free(ts_watch *w) {
  if (w->tref) px_cancel_timer(w->tref);
  px_val_release(w->tmpl);
  free(w);
}

int px_ts_watch_lease(px_space *s, px_val tmpl, unsigned events, px_ref to,
                      int64_t ttl_ms, uint64_t *watch) {
  px__metrics_space_op(PX__SOP_WATCH);
  if (watch) *watch = 0;
  if (!s || check_tmpl(tmpl) || !events || px_ref_is_nil(to) || ttl_ms < 0) {
    px_val_release(tmpl);
    return PX_EINVAL;
  }
  fx f = {0};
  ts_lock(s);
  ts_watch *w = px__xcalloc(1, sizeof *w);
  w->id = ++s->watch_ids;
  w->tmpl = tmpl;
  w->events = events;
  w->to = to;
  if (ttl_ms > 0) {
    w->expires = px_clock_ms() + (uint64_t)ttl_ms;
    w->tref = lease_timer(s, w->expires, A_WATCH_EXPIRE, w->id);
  }
  w->next = s->watches;
  s->watches = w;
  if (watch) *watch = w->id;
  /* The watcher is monitored even when a plain thread registers it. */
  if (!mon_known(s, to) && !px_ref_is_nil(s->reaper)) {
    mon_add(s, to);
    f.mon[f.nmon++] = to;
  }
  unlock_fx(s, &f);
  return 0;
}

/* The live watch `id` (under the lock); one whose lease ran out is
 * dropped on the way, so it is never found again. */
static ts_watch **watch_find(px_space *s, uint64_t id) {
  for (ts_watch **pp = &s->watches; *pp; pp = &(*pp)->next) {
    if ((*pp)->id != id) continue;
    ts_watch *w = *pp;
    if (w->expires && w->expires <= px_clock_ms()) {
      *pp = w->next;
      watch_free(w);
      return NULL;
    }
    return pp;
  }
  return NULL;
}

int px_ts_unwatch(px_space *s, uint64_t watch) {
  px__metrics_space_op(PX__SOP_UNWATCH);
  if (!s) return PX_EINVAL;
  ts_lock(s);
  ts_watch **pp = watch_find(s, watch);
  if (pp) {
    ts_watch *w = *pp;
    *pp = w->next;
    watch_free(w);
  }
  ts_unlock(s);
  return pp ? 0 : PX_ENOTFOUND;
}

int px_ts_watch_renew(px_space *s, uint64_t watch, int64_t ttl_ms) {
  if (!s || ttl_ms <= 0) return PX_EINVAL;
  ts_lock(s);
  ts_watch **pp = watch_find(s, watch);
  if (pp) {
    ts_watch *w = *pp;
    if (w->tref) px_cancel_timer(w->tref);
    w->expires = px_clock_ms() + (uint64_t)ttl_ms;
    w->tref = lease_timer(s, w->expires, A_WATCH_EXPIRE, w->id);
  }
  ts_unlock(s);
  return pp ? 0 : PX_ENOTFOUND;
}

/* The reaper's lease timer for watch `id`: drops it if it ran out (a
 * renewal re-armed its own timer). */
static void reaper_watch_expire(px_space *s, uint64_t id) {
  ts_lock(s);
  for (ts_watch **pp = &s->watches; *pp; pp = &(*pp)->next) {
    ts_watch *w = *pp;
    if (w->id != id) continue;
    if (w->expires && w->expires <= px_clock_ms()) {
      w->tref = 0; /* this timer */
      *pp = w->next;
      watch_free(w);
    }
    break;
  }
  ts_unlock(s);
}

/* ---- transactions -------------------------------------------------------------- */

int px_ts_begin(px_space *s, px_ts_txn **out) {
  return px_ts_begin_lease(s, 0, out);
}

int px_ts_begin_lease(px_space *s, int64_t ttl_ms, px_ts_txn **out) {
  *out = NULL;
  if (!s || ttl_ms < 0) return PX_EINVAL;
  fx f = {0};
  px_ts_txn *t = px__xcalloc(1, sizeof *t);
  t->s = s;
  t->owner = px_self();
  ts_lock(s);
  t->id = ++s->txn_ids;
  t->next = s->txns;
  s->txns = t;
  if (ttl_ms > 0) {
    t->expires = px_clock_ms() + (uint64_t)ttl_ms;
    t->tref = lease_timer(s, t->expires, A_TXN_EXPIRE, t->id);
  }
  want_monitor(s, &f, t->owner);
  unlock_fx(s, &f);
  *out = t;
  return 0;
}

static void txn_free(px_ts_txn *t) {
  if (!t) return;
  if (t->tref) px_cancel_timer(t->tref);
  free(t->writes);
  free(t->takes);
  free(t->reads);
  free(t);
}

static void txn_unlist(px_space *s, px_ts_txn *t) {
  for (px_ts_txn **pp = &s->txns; *pp; pp = &(*pp)->next)
    if (*pp == t) {
      *pp = t->next;
      return;
    }
}

/* Ends a transaction under the lock: commit publishes its writes and
 * removes its takes; abort drops its writes and restores its takes. */
static void txn_end(px_space *s, fx *f, px_ts_txn *t, bool commit) {
  /* Read locks go first (in memory only, whatever the outcome): a tuple
   * no longer locked is offered to the takers it kept waiting. One the
   * txn also took stays held (busy) until its take is settled below. */
  ts_tuple **reads = t->reads;
  size_t nr = t->nr;
  t->reads = NULL;
  t->nr = t->cr = 0;
  for (size_t i = 0; i < nr; i++) {
    ts_tuple *x = reads[i];
    rl_unlock(x, t);
    if (!busy(x) && !x->wtx) offer(s, f, x, true);
  }
  free(reads);
  for (size_t i = 0; i < t->nw; i++) {
    ts_tuple *x = t->writes[i];
    if (!x) continue;
    if (commit) {
      x->wtx = NULL;
      notify(s, f, PX_TS_WRITTEN, x->v);
      if (!offer(s, f, x, true)) tuple_schedule(s, x);
    } else {
      px_val_release(tuple_remove(s, x));
    }
  }
  for (size_t i = 0; i < t->nt; i++) {
    ts_tuple *x = t->takes[i];
    x->ttx = NULL;
    if (commit) {
      px_val v = tuple_remove(s, x);
      notify(s, f, PX_TS_TAKEN, v);
      px_val_release(v);
    } else {
      offer(s, f, x, true);
    }
  }
  t->nw = t->nt = 0;
  t->done = true;
}

static int txn_finish(px_ts_txn *t, bool commit) {
  if (!t) return PX_EINVAL;
  px_space *s = t->s;
  fx f = {0};
  ts_lock(s);
  int rc = 0;
  txn_lapse(s, &f, t);
  if (t->done) {
    rc = PX_ENOTFOUND; /* aborted: its lease ran out, or its owner exited */
  } else if (commit && s->store && (t->nw || t->nt)) {
    /* durable: its writes and takes are one apply; they stay hidden (held
     * by the txn) until it is durable, and the txn aborts if it fails */
    px_store_op *ops = px__xmalloc((t->nw + t->nt) * sizeof *ops);
    size_t n = 0;
    for (size_t i = 0; i < t->nw; i++)
      if (t->writes[i])
        ops[n++] = op_put(s, t->writes[i]->seq, t->writes[i]->v,
                          t->writes[i]->wexp);
    for (size_t i = 0; i < t->nt; i++) ops[n++] = op_del(s, t->takes[i]->seq);
    if (n) {
      /* the completion ends, unlists and frees the txn; the reaper leaves
       * a committing txn alone */
      t->committing = true;
      ts_dop *d = dop_new(s, &f, D_COMMIT);
      d->tx = t;
      unlock_fx(s, &f);
      px_val none;
      rc = dop_run(d, ops, n, true, &none);
      return rc;
    }
    free(ops); /* only writes it took back itself: nothing to store */
    txn_end(s, &f, t, true);
  } else {
    txn_end(s, &f, t, commit);
  }
  txn_unlist(s, t);
  unlock_fx(s, &f);
  txn_free(t);
  return rc;
}

int px_ts_commit(px_ts_txn *t) {
  px__metrics_space_op(PX__SOP_TXN_COMMIT);
  return txn_finish(t, true);
}

int px_ts_txn_renew(px_ts_txn *t, int64_t ttl_ms) {
  if (!t || ttl_ms <= 0) return PX_EINVAL;
  px_space *s = t->s;
  fx f = {0};
  ts_lock(s);
  txn_lapse(s, &f, t);
  int rc = PX_ENOTFOUND;
  if (!t->done) {
    if (t->tref) px_cancel_timer(t->tref);
    t->expires = px_clock_ms() + (uint64_t)ttl_ms;
    t->tref = lease_timer(s, t->expires, A_TXN_EXPIRE, t->id);
    rc = 0;
  }
  unlock_fx(s, &f);
  return rc;
}

/* The reaper's lease timer for transaction `id`. */
static void reaper_txn_expire(px_space *s, uint64_t id) {
  fx f = {0};
  ts_lock(s);
  for (px_ts_txn *t = s->txns; t; t = t->next)
    if (t->id == id) {
      t->tref = 0; /* this timer; a renewal armed its own */
      txn_lapse(s, &f, t);
      if (!t->done && t->expires > px_clock_ms() && !t->committing)
        t->tref = lease_timer(s, t->expires, A_TXN_EXPIRE, t->id);
      break;
    }
  unlock_fx(s, &f);
}
int px_ts_abort(px_ts_txn *t) {
  px__metrics_space_op(PX__SOP_TXN_ABORT);
  return txn_finish(t, false);
}

int px_ts_write_tx(px_ts_txn *t, px_val tuple, int64_t ttl_ms) {
  px__metrics_space_op(PX__SOP_WRITE);
  if (!t || px__ts_tuple_check(tuple) || ttl_ms < 0) {
    px_val_release(tuple);
    return PX_EINVAL;
  }
  px_space *s = t->s;
  fx f = {0};
  ts_lock(s);
  txn_lapse(s, &f, t);
  if (t->done) {
    unlock_fx(s, &f);
    px_val_release(tuple);
    return PX_ENOTFOUND;
  }
  ts_tuple *x = tuple_new(s, tuple, ttl_ms, &(uint64_t){NOW_UNSET});
  x->wtx = t;
  px__ts_link(s, x);
  if (t->nw == t->cw) {
    t->cw = t->cw ? t->cw * 2 : 8;
    t->writes = px__xrealloc(t->writes, t->cw * sizeof *t->writes);
  }
  t->writes[t->nw++] = x;
  unlock_fx(s, &f);
  return 0;
}

int px_ts_take_tx(px_ts_txn *t, px_val tmpl, int64_t timeout_ms,
                  px_val *out) {
  px__metrics_space_op(PX__SOP_TAKE);
  if (!t) {
    px_val_release(tmpl);
    return PX_EINVAL;
  }
  int rc = op_entry(t->s, tmpl, out);
  if (rc) return rc;
  return wait_op(t->s, W_TAKE, t, tmpl, px_nil(), 0, timeout_ms, out);
}

int px_ts_read_tx(px_ts_txn *t, px_val tmpl, int64_t timeout_ms,
                  px_val *out) {
  px__metrics_space_op(PX__SOP_READ);
  if (!t) {
    px_val_release(tmpl);
    return PX_EINVAL;
  }
  int rc = op_entry(t->s, tmpl, out);
  if (rc) return rc;
  return wait_op(t->s, W_READ, t, tmpl, px_nil(), 0, timeout_ms, out);
}

/* ---- barrier ---------------------------------------------------------------------- */

static wq barrier_q_dummy;

int px_ts_barrier(px_space *s, const char *name, size_t count,
                  int64_t timeout_ms) {
  px__metrics_space_op(PX__SOP_BARRIER);
  if (!s || !name || count == 0) return PX_EINVAL;
  fx f = {0};
  ts_lock(s);
  ts_barrier *b = s->barriers;
  while (b && strcmp(b->name, name) != 0) b = b->next;
  if (!b) {
    b = px__xcalloc(1, sizeof *b);
    b->name = px__xstrndup(name, strlen(name));
    b->next = s->barriers;
    s->barriers = b;
  }
  if (b->arrived + 1 >= count) {
    /* The last arrival releases everyone waiting at this barrier. */
    for (ts_waiter *w = s->all_head; w; w = w->all_next) {
      if (w->kind != W_BARRIER || w->bar != b || w->state != WS_WAITING)
        continue;
      w->state = WS_DONE;
      w->q = NULL;
      fx_wake(&f, w->p);
    }
    b->arrived = 0;
    unlock_fx(s, &f);
    return 0;
  }
  if (timeout_ms == 0) {
    ts_unlock(s);
    return PX_ETIMEDOUT;
  }
  b->arrived++;
  ts_waiter *w = px__xcalloc(1, sizeof *w);
  w->seq = ++s->wseq;
  w->kind = W_BARRIER;
  w->bar = b;
  w->owner = px_self();
  w->p = px_promise_new();
  w->q = &barrier_q_dummy; /* marks "waiting"; not on a queue */
  all_add(s, w);
  want_monitor(s, &f, w->owner);
  unlock_fx(s, &f);
  px_val ignored;
  px_promise_await(w->p, timeout_ms < 0 ? -1 : timeout_ms, &ignored);
  px_val_release(ignored);
  ts_lock(s);
  all_del(s, w);
  int rc = 0;
  if (w->state != WS_DONE) {
    b->arrived--;
    rc = PX_ETIMEDOUT;
  }
  ts_unlock(s);
  free(w);
  return rc;
}

/* ---- an actor died -------------------------------------------------------------- */

static void reaper_down(px_space *s, px_ref dead) {
  fx f = {0};
  ts_lock(s);
  mon_del(s, dead);
  /* durable operations it was waiting for (parked in the store) */
  int unrefs = 0;
  for (ts_dop *d = s->dops, *nx; d; d = nx) {
    nx = d->next;
    if (px_ref_eq(d->owner, dead)) unrefs += dop_orphan(s, &f, d);
  }
  for (ts_waiter *w = s->all_head, *nx; w; w = nx) {
    nx = w->all_next;
    if (!px_ref_eq(w->owner, dead)) continue;
    all_del(s, w);
    if (w->kind == W_BARRIER) {
      if (w->state == WS_WAITING) w->bar->arrived--;
      free(w);
      continue;
    }
    if (w->state == WS_WAITING) {
      waiter_dequeue(s, w);
    } else if (w->tnode) {
      /* durable: handed a tuple whose delete was never issued: it goes
       * back with its id and lease (a replace's write is dropped) */
      insert_new(s, &f, w->tnode);
      w->tnode = NULL;
    } else if ((w->kind == W_TAKE) && !w->tx && !px_is_nil(w->result)) {
      /* Handed to a taker that died before collecting it: it comes back
       * as it was (its seq keeps its place among the others and its lease
       * id), or expires now if its lease ran out meanwhile. */
      ts_tuple *t = node_new(s, w->result);
      w->result = px_nil();
      t->seq = w->rseq;
      t->expires = w->rexpires;
      t->wexp = w->rwexp;
      if (t->expires && t->expires <= px_clock_ms()) {
        notify(s, &f, PX_TS_EXPIRED, t->v);
        px_val_release(t->v);
        node_put(s, t);
      } else {
        insert_new(s, &f, t);
      }
    }
    waiter_free(w);
  }
  for (ts_watch **pp = &s->watches; *pp;) {
    if (px_ref_eq((*pp)->to, dead)) {
      ts_watch *w = *pp;
      *pp = w->next;
      watch_free(w);
    } else {
      pp = &(*pp)->next;
    }
  }
  for (px_ts_txn **pp = &s->txns; *pp;) {
    px_ts_txn *t = *pp;
    if (px_ref_eq(t->owner, dead) && !t->committing) {
      *pp = t->next;
      if (!t->done) txn_end(s, &f, t, false);
      txn_free(t);
    } else {
      pp = &t->next;
    }
  }
  unlock_fx(s, &f);
  while (unrefs--) space_unref(s); /* never the last: the reaper holds one */
}

/* ---- introspection for tests ------------------------------------------------ */

size_t px__ts_waiters(px_space *s) {
  size_t n = 0;
  ts_lock(s);
  for (ts_waiter *w = s->all_head; w; w = w->all_next)
    if (w->state == WS_WAITING) n++;
  ts_unlock(s);
  return n;
}

size_t px__ts_watches(px_space *s) {
  size_t n = 0;
  ts_lock(s);
  for (ts_watch *w = s->watches; w; w = w->next) n++;
  ts_unlock(s);
  return n;
}

size_t px__ts_stored(px_space *s) {
  ts_lock(s);
  size_t n = s->count;
  ts_unlock(s);
  return n;
}

size_t px__ts_inflight(px_space *s) {
  ts_lock(s);
  size_t n = s->ndop;
  ts_unlock(s);
  return n;
}

size_t px__ts_owned(px_space *s) {
  size_t n = 0;
  ts_lock(s);
  for (ts_dop *d = s->dops; d; d = d->next) n++;
  ts_unlock(s);
  return n;
}

uint64_t px__ts_visits(px_space *s) {
  ts_lock(s);
  uint64_t n = s->visits;
  ts_unlock(s);
  return n;
}
