/* The virtual-actor directory: (tenant, ns, type, key) -> entry, and the
 * life of an entry: waiting -> activating -> active -> deactivating ->
 * gone (or activating again when messages came while it was going).
 * See virtual_internal.h for the locking rules. */
#include <stdlib.h>
#include <string.h>

#include "actor/actor_impl.h"
#include "core/mem.h"
#include "facet/durable_internal.h"
#include "facet/virtual_internal.h"
#include "plexspaces/core.h"
#include "plexspaces/runtime.h"

/* ---- hashing and the striped table ---------------------------------------- */

static uint64_t key_hash(px_atom t, px_atom n, const char *k, size_t len) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a, then mixed with the scope */
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)k[i];
    h *= 1099511628211ull;
  }
  h ^= (uint64_t)(uintptr_t)t * 0x9e3779b97f4a7c15ull;
  h ^= (uint64_t)(uintptr_t)n * 0xc2b2ae3d27d4eb4full;
  h ^= h >> 29;
  return h;
}

static px__vstripe *stripe_of(px__vtype *vt, uint64_t h) {
  return &vt->stripes[h & (PX__V_STRIPES - 1)];
}

static px__ventry *find(px__vstripe *s, uint64_t h, px_atom t, px_atom n,
                        const char *k, size_t len) {
  if (!s->b) return NULL;
  for (px__ventry *e = s->b[(h >> 6) & s->mask]; e; e = e->next)
    if (e->hash == h && e->scope->tenant == t && e->scope->ns == n &&
        e->keylen == len && memcmp(e->key, k, len) == 0)
      return e;
  return NULL;
}

static void insert(px__vstripe *s, px__ventry *e) {
  if (!s->b || s->n >= 2 * (s->mask + 1)) {
    uint32_t nb = s->b ? 2 * (s->mask + 1) : 16;
    px__ventry **b = px__xcalloc(nb, sizeof *b);
    for (uint32_t i = 0; s->b && i <= s->mask; i++)
      for (px__ventry *x = s->b[i], *nx; x; x = nx) {
        nx = x->next;
        x->next = b[(x->hash >> 6) & (nb - 1)];
        b[(x->hash >> 6) & (nb - 1)] = x;
      }
    free(s->b);
    s->b = b;
    s->mask = nb - 1;
  }
  px__ventry **slot = &s->b[(e->hash >> 6) & s->mask];
  e->next = *slot;
  *slot = e;
  s->n++;
}

static void unlink_entry(px__vstripe *s, px__ventry *e) {
  for (px__ventry **p = &s->b[(e->hash >> 6) & s->mask]; *p; p = &(*p)->next)
    if (*p == e) {
      *p = e->next;
      s->n--;
      return;
    }
}

static px__vscope *scope_get(px__vtype *vt, px_atom t, px_atom n) {
  for (px__vscope *sc = vt->scopes; sc; sc = sc->next)
    if (sc->tenant == t && sc->ns == n) return sc;
  px__vscope *sc = px__xcalloc(1, sizeof *sc);
  sc->vt = vt;
  sc->tenant = t;
  sc->ns = n;
  sc->next = vt->scopes;
  vt->scopes = sc;
  return sc;
}

/* ---- the LRU heap (mu) ------------------------------------------------------
 * A min-heap on `stamp`, the use tick an entry had when it was last placed.
 * Uses only move last_use forward (no lock), so stamp <= last_use; the
 * eviction pops the minimum and, if it was used since it was placed,
 * places it again at its last_use. The first entry popped unchanged is the
 * least recently used: every other entry's last_use >= its stamp >= it. */

static void heap_set(px__vscope *sc, uint32_t i, px__ventry *e) {
  sc->heap[i] = e;
  e->heap_ix = i;
}

static void sift_up(px__vscope *sc, uint32_t i) {
  px__ventry *e = sc->heap[i];
  while (i > 0) {
    uint32_t p = (i - 1) / 2;
    if (sc->heap[p]->stamp <= e->stamp) break;
    heap_set(sc, i, sc->heap[p]);
    i = p;
  }
  heap_set(sc, i, e);
}

static void sift_down(px__vscope *sc, uint32_t i) {
  px__ventry *e = sc->heap[i];
  for (;;) {
    uint32_t c = 2 * i + 1;
    if (c >= sc->nheap) break;
    if (c + 1 < sc->nheap && sc->heap[c + 1]->stamp < sc->heap[c]->stamp) c++;
    if (sc->heap[c]->stamp >= e->stamp) break;
    heap_set(sc, i, sc->heap[c]);
    i = c;
  }
  heap_set(sc, i, e);
}

static void heap_push(px__vscope *sc, px__ventry *e) {
  if (sc->nheap == sc->capheap) {
    sc->capheap = sc->capheap ? 2 * sc->capheap : 64;
    sc->heap = px__xrealloc(sc->heap, sc->capheap * sizeof *sc->heap);
  }
  e->stamp = atomic_load_explicit(&e->last_use, memory_order_relaxed);
  heap_set(sc, sc->nheap++, e);
  sift_up(sc, sc->nheap - 1);
}

static void heap_remove(px__vscope *sc, px__ventry *e) {
  uint32_t i = e->heap_ix;
  if (i == PX__V_NONE) return;
  e->heap_ix = PX__V_NONE;
  px__ventry *last = sc->heap[--sc->nheap];
  if (i == sc->nheap) return;
  heap_set(sc, i, last);
  sift_down(sc, i);
  sift_up(sc, last->heap_ix);
}

static px__ventry *lru_pop(px__vscope *sc) {
  while (sc->nheap) {
    px__ventry *e = sc->heap[0];
    uint64_t u = atomic_load_explicit(&e->last_use, memory_order_relaxed);
    if (u == e->stamp) {
      heap_remove(sc, e);
      return e;
    }
    e->stamp = u;
    sift_down(sc, 0);
  }
  return NULL;
}

/* A fresh LRU tick: uses are ordered by it. The counter is shared by the
 * scope, so it is advanced only when the entry is not already the most
 * recent one (a hot key costs a load, not a contended add). */
static void lru_touch(px__ventry *e) {
  px__vscope *sc = e->scope;
  uint64_t t = atomic_load_explicit(&sc->tick, memory_order_relaxed);
  /* relaxed: the tick is an ordering hint for eviction, not a guard. */
  if (atomic_load_explicit(&e->last_use, memory_order_relaxed) != t)
    atomic_store_explicit(
        &e->last_use,
        atomic_fetch_add_explicit(&sc->tick, 1, memory_order_relaxed) + 1,
        memory_order_relaxed);
}

void px__v_touch(px__ventry *e) {
  px__vtype *vt = e->scope->vt;
  /* relaxed: settings change only when the type is registered again. */
  if (__atomic_load_n(&vt->max_active, __ATOMIC_RELAXED)) lru_touch(e);
  if (__atomic_load_n(&vt->idle_ms, __ATOMIC_RELAXED) >= 0) {
    uint64_t now = px_clock_ms();
    /* relaxed: the sweeper reads a recent value under mu; a stale one
     * only delays or (by at most a sweep) advances nothing: a message
     * sent under the stripe lock is queued ahead of any deactivation. */
    if (atomic_load_explicit(&e->last_ms, memory_order_relaxed) != now)
      atomic_store_explicit(&e->last_ms, now, memory_order_relaxed);
  }
}

/* ---- messages ----------------------------------------------------------- */

/* Pushes a message to `to` as if sent by `from` (an ask when corr != 0).
 * Returns false, taking nothing, when `to` is dead. Once queued, the
 * runtime answers an ask with noproc if the actor dies before it. */
static bool deliver(px_ref to, px_atom type, px_val payload, px_ref from,
                    uint64_t corr) {
  px__actor *a = px__lookup(to);
  if (!a) return false;
  px__msg *m = px__msg_new();
  m->pub.type = type;
  m->pub.payload = payload;
  m->pub.from = from;
  m->pub.corr = corr;
  px__deliver(a, to.gen, m);
  return true;
}

static void pend_push(px__ventry *e, px__vkind kind, px_atom type,
                      px_val payload, px_ref from, uint64_t corr) {
  if (kind == PX__VP_TOUCH) return;
  px__vpend *p = px__xmalloc(sizeof *p);
  *p = (px__vpend){NULL, (uint8_t)kind, type, payload, from, corr};
  if (e->pt)
    e->pt->next = p;
  else
    e->ph = p;
  e->pt = p;
}

/* Answers a request that cannot be served: noproc with reason. */
static void refuse(px_ref from, uint64_t corr, px_val reason) {
  px__signal(from, PX__MK_NOPROC, px_ref_nil(), NULL, reason, corr, 0);
}

static void fail_pending(px__ventry *e, px_val reason) {
  px__vpend *p = e->ph;
  e->ph = e->pt = NULL;
  while (p) {
    px__vpend *n = p->next;
    px_val_release(p->payload);
    if (p->kind == PX__VP_ASK || p->kind == PX__VP_REF)
      refuse(p->from, p->corr, px_val_retain(reason));
    free(p);
    p = n;
  }
}

/* Flushes the pending queue to the new activation, oldest first. Returns
 * false if the activation died meanwhile (the rest stays pending). */
static bool flush_pending(px__ventry *e) {
  while (e->ph) {
    px__vpend *p = e->ph;
    if (p->kind == PX__VP_REF) {
      if (!px__lookup(e->ref)) return false;
      px_reply_to((px_from){p->from, p->corr}, px_ref_val(e->ref));
    } else if (!deliver(e->ref, p->type, p->payload, p->from, p->corr)) {
      return false;
    }
    e->ph = p->next;
    if (!e->ph) e->pt = NULL;
    free(p);
  }
  return true;
}

/* ---- activation --------------------------------------------------------- */

static char *make_id(px__ventry *e) {
  px__vscope *sc = e->scope;
  const char *t = px_atom_name(sc->tenant), *n = px_atom_name(sc->ns);
  size_t len = strlen(t) + strlen(n) + strlen(sc->vt->name) + e->keylen + 4;
  char *id = px__xmalloc(len);
  int k = snprintf(id, len, "%s/%s/%s/", t, n, sc->vt->name);
  memcpy(id + k, e->key, e->keylen);
  id[(size_t)k + e->keylen] = '\0';
  return id;
}

static int finish(px__vtype *vt, px__ventry *e, int rc, px_ref ref,
                  px__ventry **next, uint32_t *next_epoch);

/* Spawns the activation of e, which is ACTIVATING with `epoch`, and
 * records the outcome; *next gets the waiter a failed activation's slot
 * went to. No lock may be held: a durable spawn reads the store. */
static int spawn_one(px__vtype *vt, px__ventry *e, uint32_t epoch,
                     px__ventry **next, uint32_t *next_epoch) {
  pthread_mutex_lock(&vt->mu);
  bool durable = vt->durable;
  px_val args = px_arr(5, px_int((int64_t)(intptr_t)e), px_int(epoch),
                       px_int((int64_t)(intptr_t)vt->user),
                       px_val_retain(vt->args), px_bool(durable));
  px_durable_opts d = vt->wdur;
  const px_actor_type *wt = &vt->wtype;
  pthread_mutex_unlock(&vt->mu);
  px_spawn_opts o = {0};
  o.tenant = px_atom_name(e->scope->tenant);
  o.ns = px_atom_name(e->scope->ns);
  px_ref ref = px_ref_nil();
  int rc;
  if (durable) {
    char *id = make_id(e);
    rc = px_spawn_durable(wt, args, id, &d, &o, &ref);
    free(id);
  } else {
    rc = px_spawn(wt, args, &o, &ref);
  }
  return finish(vt, e, rc, ref, next, next_epoch);
}

/* Activates e and then, in a loop rather than by recursion (a stopping
 * runtime fails every spawn, one waiter after another), the waiters
 * whose turn a failed activation passed on. Returns e's outcome. */
static int activate(px__vtype *vt, px__ventry *e, uint32_t epoch) {
  px__ventry *next = NULL;
  uint32_t ne = 0;
  int rc = spawn_one(vt, e, epoch, &next, &ne);
  while (next) {
    px__ventry *w = next;
    next = NULL;
    spawn_one(vt, w, ne, &next, &ne);
  }
  return rc;
}

static void deactivate_locked(px__vtype *vt, px__ventry *e);
static void rebalance(px__vtype *vt, px__vscope *sc);

/* Takes e out of the table for good (mu + its stripe's write lock). */
static void remove_locked(px__vtype *vt, px__ventry *e) {
  unlink_entry(stripe_of(vt, e->hash), e);
  e->scope->resident--;
  px_val_release(e->dead_reason);
  free(e);
}

/* Hands a free slot of sc to its oldest waiter (mu held, no stripe lock):
 * returns it ACTIVATING with *epoch, to be activated once mu is dropped,
 * or NULL. */
static px__ventry *next_waiter(px__vtype *vt, px__vscope *sc,
                               uint32_t *epoch) {
  if (!sc->wh || !atomic_load_explicit(&vt->registered, memory_order_relaxed))
    return NULL;
  if (vt->max_active && sc->resident >= vt->max_active) return NULL;
  px__ventry *w = sc->wh;
  sc->wh = w->wnext;
  if (!sc->wh) sc->wt = NULL;
  w->wnext = NULL;
  sc->nwait--;
  px__vstripe *ws = stripe_of(vt, w->hash);
  pthread_rwlock_wrlock(&ws->lk);
  w->state = PX__VS_ACTIVATING;
  *epoch = ++w->epoch;
  pthread_rwlock_unlock(&ws->lk);
  sc->resident++;
  if (sc->resident > sc->peak) sc->peak = sc->resident;
  return w;
}

/* After an entry left (mu held, no stripe lock): its slot goes to a
 * waiter, and evictions are started for the rest. Returns the waiter to
 * activate once mu is dropped. */
static px__ventry *after_leave(px__vtype *vt, px__vscope *sc,
                               uint32_t *epoch) {
  px__ventry *next = next_waiter(vt, sc, epoch);
  rebalance(vt, sc);
  return next;
}

static int finish(px__vtype *vt, px__ventry *e, int rc, px_ref ref,
                  px__ventry **next, uint32_t *next_epoch) {
  pthread_mutex_lock(&vt->mu);
  px__vstripe *s = stripe_of(vt, e->hash);
  px__vscope *sc = e->scope;
  pthread_rwlock_wrlock(&s->lk);
  if (rc == 0 && !e->dead_early) {
    e->ref = ref;
    atomic_store_explicit(&e->last_ms, px_clock_ms(), memory_order_relaxed);
    /* relaxed: under mu; a fresh tick makes it the most recent use. */
    atomic_store_explicit(
        &e->last_use,
        atomic_fetch_add_explicit(&sc->tick, 1, memory_order_relaxed) + 1,
        memory_order_relaxed);
    if (flush_pending(e)) {
      e->state = PX__VS_ACTIVE;
      heap_push(sc, e);
      if (!atomic_load_explicit(&vt->registered, memory_order_relaxed))
        deactivate_locked(vt, e);
    } else {
      /* It died at once (init failed or killed): its terminate, which
       * runs if its init began, settles the rest. */
      e->state = PX__VS_DEACTIVATING;
      sc->ndeact++;
      if (!atomic_load_explicit(&e->started, memory_order_acquire)) {
        /* Killed before init: no terminate will come. */
        px_val r = px_atomv(px_a()->killed);
        sc->ndeact--;
        fail_pending(e, r);
        remove_locked(vt, e);
        pthread_rwlock_unlock(&s->lk);
        *next = after_leave(vt, sc, next_epoch);
        pthread_mutex_unlock(&vt->mu);
        return 0;
      }
    }
    pthread_rwlock_unlock(&s->lk);
    rebalance(vt, sc);
    pthread_mutex_unlock(&vt->mu);
    return 0;
  }
  /* No activation: the spawn failed, or the activation is already gone
   * (its terminate left the reason). The requests waiting for it fail. */
  px_val reason = rc ? px__v_error_reason(rc) : px_val_retain(e->dead_reason);
  fail_pending(e, reason);
  px_val_release(reason);
  remove_locked(vt, e);
  pthread_rwlock_unlock(&s->lk);
  *next = after_leave(vt, sc, next_epoch);
  pthread_mutex_unlock(&vt->mu);
  return rc;
}

/* ---- deactivation -------------------------------------------------------- */

/* mu + e's stripe write lock; e is ACTIVE. */
static void deactivate_locked(px__vtype *vt, px__ventry *e) {
  heap_remove(e->scope, e);
  e->state = PX__VS_DEACTIVATING;
  e->scope->ndeact++;
  if (vt->durable && !vt->gen_server) {
    /* The facet checkpoints, then exits with the reason. Its request as a
     * signal rather than px_durable_deactivate: a send from a replaying
     * handler (an eviction it caused) would be muted. A dead ref is
     * settled by its terminate (see px__v_exited). */
    px__signal(e->ref, PX__MK_USER, px_ref_nil(), px__dur_a()->deactivate,
               px__v_idle_reason(), 0, 0);
  } else {
    /* Ours: the wrapper checkpoints a durable GenServer itself and stops
     * it in order (see w_handle). */
    px__signal(e->ref, PX__MK_USER, px_ref_nil(), px__v_atoms()->deact,
               px_int(e->epoch), 0, 0);
  }
}

/* Keeps "slots about to free >= waiters": each waiter has an eviction
 * under way for it (mu held, no stripe lock). */
static void rebalance(px__vtype *vt, px__vscope *sc) {
  while (sc->nwait > sc->ndeact) {
    px__ventry *v = lru_pop(sc);
    if (!v) return;
    px__vstripe *s = stripe_of(vt, v->hash);
    pthread_rwlock_wrlock(&s->lk);
    v->heap_ix = PX__V_NONE;
    deactivate_locked(vt, v);
    pthread_rwlock_unlock(&s->lk);
  }
}

void px__v_exited(px__vtype *vt, px__ventry *e, uint32_t epoch,
                  px_val reason, bool init_ok) {
  pthread_mutex_lock(&vt->mu);
  px__vstripe *s = stripe_of(vt, e->hash);
  px__vscope *sc = e->scope;
  pthread_rwlock_wrlock(&s->lk);
  if (e->epoch != epoch) { /* cannot happen: an entry outlives its actor */
    pthread_rwlock_unlock(&s->lk);
    pthread_mutex_unlock(&vt->mu);
    return;
  }
  if (e->state == PX__VS_ACTIVATING) {
    /* Died before its activator recorded it: the activator settles. */
    e->dead_early = 1;
    e->dead_reason = px_val_retain(reason);
    pthread_rwlock_unlock(&s->lk);
    pthread_mutex_unlock(&vt->mu);
    return;
  }
  if (e->state == PX__VS_ACTIVE)
    heap_remove(sc, e);
  else
    sc->ndeact--;
  bool reg = atomic_load_explicit(&vt->registered, memory_order_relaxed);
  if (e->ph && init_ok && reg) {
    /* Messages came while it went: a new activation, same slot (R-H-3). */
    e->state = PX__VS_ACTIVATING;
    uint32_t ne = ++e->epoch;
    pthread_rwlock_unlock(&s->lk);
    rebalance(vt, sc);
    pthread_mutex_unlock(&vt->mu);
    activate(vt, e, ne);
    return;
  }
  /* Init failed: the requests queued for it fail with its reason (R-H-2);
   * unregistered: they fail with ENOTFOUND. */
  px_val r = reg ? px_val_retain(reason) : px__v_error_reason(PX_ENOTFOUND);
  fail_pending(e, r);
  px_val_release(r);
  remove_locked(vt, e);
  pthread_rwlock_unlock(&s->lk);
  uint32_t ne = 0;
  px__ventry *next = after_leave(vt, sc, &ne);
  pthread_mutex_unlock(&vt->mu);
  if (next) activate(vt, next, ne);
}

/* ---- routing ------------------------------------------------------------ */

static int route_slow(px__vtype *vt, uint64_t h, px_atom t, px_atom n,
                      const char *key, size_t len, px__vkind kind,
                      px_atom type, px_val payload, px_ref from,
                      uint64_t corr, px_ref *ref_out, bool *ready) {
  pthread_mutex_lock(&vt->mu);
  if (!atomic_load_explicit(&vt->registered, memory_order_relaxed)) {
    pthread_mutex_unlock(&vt->mu);
    px_val_release(payload);
    return PX_ENOTFOUND;
  }
  px__vstripe *s = stripe_of(vt, h);
  pthread_rwlock_wrlock(&s->lk);
  px__ventry *e = find(s, h, t, n, key, len);
  if (!e) {
    px__vscope *sc = scope_get(vt, t, n);
    e = px__xcalloc(1, sizeof *e + len + 1);
    e->scope = sc;
    e->hash = h;
    e->heap_ix = PX__V_NONE;
    e->keylen = len;
    memcpy(e->key, key, len);
    insert(s, e);
    pend_push(e, kind, type, payload, from, corr);
    if (!vt->max_active || sc->resident < vt->max_active) {
      sc->resident++;
      if (sc->resident > sc->peak) sc->peak = sc->resident;
      e->state = PX__VS_ACTIVATING;
      uint32_t ep = ++e->epoch;
      pthread_rwlock_unlock(&s->lk);
      pthread_mutex_unlock(&vt->mu);
      return activate(vt, e, ep);
    }
    /* Over the cap: wait for the least recently used one to go. */
    e->state = PX__VS_WAITING;
    if (sc->wt)
      sc->wt->wnext = e;
    else
      sc->wh = e;
    sc->wt = e;
    sc->nwait++;
    pthread_rwlock_unlock(&s->lk);
    rebalance(vt, sc);
    pthread_mutex_unlock(&vt->mu);
    return 0;
  }
  if (e->state == PX__VS_ACTIVE) {
    if (kind == PX__VP_ASK && px_ref_eq(e->ref, from)) {
      pthread_rwlock_unlock(&s->lk);
      pthread_mutex_unlock(&vt->mu);
      px_val_release(payload);
      return PX_EDEADLOCK;
    }
    if (kind == PX__VP_REF && px__lookup(e->ref)) {
      *ref_out = e->ref;
      *ready = true;
      pthread_rwlock_unlock(&s->lk);
      pthread_mutex_unlock(&vt->mu);
      return 0;
    }
    if (kind == PX__VP_TOUCH || (kind != PX__VP_REF &&
                                 deliver(e->ref, type, payload, from, corr))) {
      px__v_touch(e);
      pthread_rwlock_unlock(&s->lk);
      pthread_mutex_unlock(&vt->mu);
      return 0;
    }
    /* The activation died under us (a crash). If its init began, its
     * terminate will come and start the next one for what waits;
     * otherwise it never ran and we start the next one. */
    heap_remove(e->scope, e);
    pend_push(e, kind, type, payload, from, corr);
    if (atomic_load_explicit(&e->started, memory_order_acquire)) {
      e->state = PX__VS_DEACTIVATING;
      e->scope->ndeact++;
      pthread_rwlock_unlock(&s->lk);
      pthread_mutex_unlock(&vt->mu);
      return 0;
    }
    e->state = PX__VS_ACTIVATING;
    uint32_t ep = ++e->epoch;
    pthread_rwlock_unlock(&s->lk);
    pthread_mutex_unlock(&vt->mu);
    return activate(vt, e, ep);
  }
  /* Being made, waiting, or going: the message waits its turn. */
  pend_push(e, kind, type, payload, from, corr);
  pthread_rwlock_unlock(&s->lk);
  pthread_mutex_unlock(&vt->mu);
  return 0;
}

int px__v_route(px__vtype *vt, px_atom t, px_atom n, const char *key,
                size_t len, px__vkind kind, px_atom type, px_val payload,
                px_ref from, uint64_t corr, px_ref *ref_out, bool *ready) {
  uint64_t h = key_hash(t, n, key, len);
  px__vstripe *s = stripe_of(vt, h);
  /* The fast path: one read lock, one lookup, one push. */
  pthread_rwlock_rdlock(&s->lk);
  px__ventry *e = find(s, h, t, n, key, len);
  if (e && e->state == PX__VS_ACTIVE) {
    if (kind == PX__VP_ASK && px_ref_eq(e->ref, from)) {
      pthread_rwlock_unlock(&s->lk);
      px_val_release(payload);
      return PX_EDEADLOCK;
    }
    bool done = false;
    if (kind == PX__VP_REF) {
      if (px__lookup(e->ref)) {
        *ref_out = e->ref;
        *ready = done = true;
      }
    } else if (kind == PX__VP_TOUCH) {
      done = true;
    } else {
      done = deliver(e->ref, type, payload, from, corr);
    }
    if (done) {
      if (kind != PX__VP_REF) px__v_touch(e); /* a lookup is no use */
      pthread_rwlock_unlock(&s->lk);
      return 0;
    }
  }
  pthread_rwlock_unlock(&s->lk);
  return route_slow(vt, h, t, n, key, len, kind, type, payload, from, corr,
                    ref_out, ready);
}

/* ---- sweeping, explicit deactivation, shutdown --------------------------- */

void px__v_sweep(px__vtype *vt, uint64_t now) {
  int64_t idle = __atomic_load_n(&vt->idle_ms, __ATOMIC_RELAXED);
  if (idle < 0) return;
  for (int i = 0; i < PX__V_STRIPES; i++) {
    /* Stripe by stripe, so activations are not held up for a long scan. */
    pthread_mutex_lock(&vt->mu);
    px__vstripe *s = &vt->stripes[i];
    pthread_rwlock_wrlock(&s->lk);
    for (uint32_t b = 0; s->b && b <= s->mask; b++)
      for (px__ventry *e = s->b[b]; e; e = e->next) {
        if (e->state != PX__VS_ACTIVE) continue;
        uint64_t last = atomic_load_explicit(&e->last_ms, memory_order_relaxed);
        uint64_t keep =
            atomic_load_explicit(&e->keep_until, memory_order_relaxed);
        if (now >= last && now - last >= (uint64_t)idle && now >= keep)
          deactivate_locked(vt, e);
      }
    pthread_rwlock_unlock(&s->lk);
    pthread_mutex_unlock(&vt->mu);
  }
}

int px__v_deactivate_key(px__vtype *vt, px_atom t, px_atom n, const char *key,
                         size_t len) {
  uint64_t h = key_hash(t, n, key, len);
  px__vstripe *s = stripe_of(vt, h);
  pthread_mutex_lock(&vt->mu);
  pthread_rwlock_wrlock(&s->lk);
  px__ventry *e = find(s, h, t, n, key, len);
  int rc = PX_ENOTFOUND;
  if (e && e->state == PX__VS_ACTIVE) {
    deactivate_locked(vt, e);
    rc = 0;
  }
  pthread_rwlock_unlock(&s->lk);
  pthread_mutex_unlock(&vt->mu);
  return rc;
}

px_ref *px__v_shutdown_all(px__vtype *vt, size_t *n) {
  px_ref *refs = NULL;
  size_t cap = 0;
  *n = 0;
  pthread_mutex_lock(&vt->mu);
  px_val gone = px__v_error_reason(PX_ENOTFOUND);
  for (int i = 0; i < PX__V_STRIPES; i++) {
    px__vstripe *s = &vt->stripes[i];
    pthread_rwlock_wrlock(&s->lk);
    for (uint32_t b = 0; s->b && b <= s->mask; b++)
      for (px__ventry *e = s->b[b], *nx; e; e = nx) {
        nx = e->next;
        if (e->state == PX__VS_ACTIVE) {
          deactivate_locked(vt, e);
          if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            refs = px__xrealloc(refs, cap * sizeof *refs);
          }
          refs[(*n)++] = e->ref;
        } else if (e->state == PX__VS_WAITING) {
          fail_pending(e, gone);
          unlink_entry(s, e);
          free(e);
        } else if (e->state == PX__VS_DEACTIVATING) {
          fail_pending(e, gone);
        }
      }
    pthread_rwlock_unlock(&s->lk);
  }
  for (px__vscope *sc = vt->scopes; sc; sc = sc->next) {
    sc->wh = sc->wt = NULL;
    sc->nwait = 0;
  }
  px_val_release(gone);
  pthread_mutex_unlock(&vt->mu);
  return refs;
}

void px__v_free_dir(px__vtype *vt) {
  for (int i = 0; i < PX__V_STRIPES; i++) {
    px__vstripe *s = &vt->stripes[i];
    for (uint32_t b = 0; s->b && b <= s->mask; b++)
      for (px__ventry *e = s->b[b], *nx; e; e = nx) {
        nx = e->next;
        for (px__vpend *p = e->ph, *pn; p; p = pn) {
          pn = p->next;
          px_val_release(p->payload);
          free(p);
        }
        px_val_release(e->dead_reason);
        free(e);
      }
    free(s->b);
    s->b = NULL;
    s->n = 0;
  }
  for (px__vscope *sc = vt->scopes, *nx; sc; sc = nx) {
    nx = sc->next;
    free(sc->heap);
    free(sc);
  }
  vt->scopes = NULL;
}

size_t px__v_resident(px__vtype *vt) {
  pthread_mutex_lock(&vt->mu);
  size_t n = 0;
  for (px__vscope *sc = vt->scopes; sc; sc = sc->next) n += sc->resident;
  pthread_mutex_unlock(&vt->mu);
  return n;
}

size_t px__v_peak(const char *type) {
  px__vtype *vt = px__v_find(type);
  if (!vt) return 0;
  pthread_mutex_lock(&vt->mu);
  size_t n = 0;
  for (px__vscope *sc = vt->scopes; sc; sc = sc->next)
    if (sc->peak > n) n = sc->peak;
  pthread_mutex_unlock(&vt->mu);
  return n;
}
