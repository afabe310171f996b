/* Internal representation of actors and messages, shared by the files of
 * src/actor/. Nothing here is public. */
#ifndef PX_ACTOR_ACTOR_IMPL_H
#define PX_ACTOR_ACTOR_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "plexspaces/actor.h"
#include "plexspaces/runtime.h"
#include "runtime/coro.h"
#include "runtime/mailbox.h"
#include "runtime/sched.h"

/* What a mailbox node carries. Plain messages and asks are "user"; the rest
 * are signals the runtime acts on before the handler sees anything. */
typedef enum px__mkind {
  PX__MK_USER = 0,  /* a message; corr != 0 makes it an ask */
  PX__MK_INIT,      /* first message of a new actor: run init(args) */
  PX__MK_REPLY,     /* answer to an ask (corr) */
  PX__MK_REPLY_ERR, /* error answer to an ask (corr) */
  PX__MK_NOPROC,    /* the asked actor is dead (corr), payload = reason */
  PX__MK_WAKE,      /* a wait's timeout fired (aux = wait token) */
  PX__MK_EXIT,      /* exit signal: payload = reason, aux = 1 if via link */
  PX__MK_LINK,      /* link request from `from` */
  PX__MK_UNLINK,    /* unlink request from `from` */
  PX__MK_MONITOR,   /* monitor request from `from`, aux = mref */
  PX__MK_DEMONITOR, /* aux = mref */
  PX__MK_DOWN,      /* a monitor fired: aux = mref; delivered as __DOWN__ */
  PX__MK_EXITMSG,   /* a trapped exit delivered as __EXIT__ (in inbox) */
} px__mkind;

typedef struct px__msg {
  px__mnode node;   /* must be first: queue link */
  px_message pub;   /* what the handler sees */
  uint8_t kind;     /* px__mkind */
  uint8_t replied;  /* an ask was answered or deferred */
  uint16_t _pad;
  uint32_t to_gen;  /* generation of the target when sent */
  uint64_t aux;
} px__msg;

#define PX__MSG_OF(pubptr) \
  ((px__msg *)((char *)(pubptr) - offsetof(px__msg, pub)))

typedef enum px__wait {
  PX__W_NONE = 0,
  PX__W_REPLY,   /* parked in px_ask: waiting for corr */
  PX__W_RECEIVE, /* parked in px_receive: waiting for a match */
} px__wait;

/* A sender parked on a full `block` mailbox; lives on its stack. */
typedef struct px__room_waiter {
  px_promise p;
  struct px__room_waiter *next;
} px__room_waiter;

typedef struct px__watcher {
  px_mref mref;
  px_ref watcher;
} px__watcher;

/* Rarely used parts of an actor, allocated on first use so that an idle
 * actor stays small. */
typedef struct px__actor_ext {
  px_ref *links;
  uint32_t nlinks, caplinks;
  px__watcher *watchers; /* monitors on this actor */
  uint32_t nwatchers, capwatchers;
  px__watcher *monitors; /* monitors this actor holds: mref + target */
  uint32_t nmonitors, capmonitors;
  px_from *deferred;     /* asks taken over with px_defer_reply */
  uint32_t ndeferred, capdeferred;
  char *name;            /* registered name */
} px__actor_ext;

/* Owner-private state that other threads may look at (px_actors_list),
 * mirrored in `shown` with relaxed stores. */
enum { PX__SHOWN_TRAP = 1u << 0, PX__SHOWN_PARKED = 1u << 1 };
static inline void px__show(struct px__actor *a, uint8_t bit, bool on);

enum {
  PX__AF_TRAP = 1u << 0,
  PX__AF_EXTERNAL = 1u << 1, /* proxy of a non-worker thread */
  PX__AF_EXITING = 1u << 2,
  PX__AF_STARTED = 1u << 3,  /* init has run */
};

typedef struct px__actor {
  /* ---- written by senders: one cache line ---- */
  _Alignas(64) px__mbox_prod mb;
  _Atomic(uint32_t) gen;    /* odd while alive, even when dead */
  uint32_t index;           /* slot, fixed for life */
  _Atomic(uint64_t) mb_in;  /* messages pushed (for depth and bounds) */
  _Atomic(uint32_t) ext_wake; /* external proxy futex word */
  uint32_t mb_cap;
  uint8_t mb_policy;
  _Atomic(uint8_t) external;  /* proxy of a non-worker thread */
  _Atomic(uint8_t) has_name;  /* registry entry to drop at exit */
  _Atomic(uint8_t) shown;     /* PX__SHOWN_*: what introspection may read */
  /* Senders waiting for room in a full `block` mailbox, oldest first;
   * guarded by room_lock, peeked without it by the owner. */
  _Atomic(uint32_t) room_lock;
  _Atomic(struct px__room_waiter *) room_head;
  /* ---- owner side ---- */
  _Alignas(64) px__mbox_cons mbc;
  _Atomic(uint64_t) mb_out; /* messages taken (readable by introspection) */
  px__msg *inbox_head, *inbox_tail; /* received, not yet handled */
  const px_actor_type *type;
  int type_id;
  px_atom tenant;         /* identity: NULL = system actor */
  px_atom ns;
  void *state;
  px__coro *co;           /* while parked */
  px__msg *current;       /* message being handled */
  px__actor_ext *ext;
  px_ref parent;
  uint32_t flags;
  uint8_t wait;           /* px__wait */
  uint8_t wait_ready;
  uint8_t in_handle;      /* inside type->handle: may yield */
  uint8_t wait_rc_set;
  uint8_t fsend;          /* facet send mode, PX__FSEND_* (facet.h) */
  int wait_rc;
  uint64_t wait_token;    /* corr for REPLY, token for timeouts */
  px__msg *wait_msg;      /* the reply that ended a REPLY wait */
  px_match_fn match;
  void *match_ud;
  uint64_t seq;           /* corr and token source */
  struct px__actor *free_next;
  struct px__facet *facet; /* set at spawn for facet actors (facet.h) */
  uint32_t fsent;          /* sends counted in PX__FSEND_COUNT mode */
} px__actor;

static inline void px__show(px__actor *a, uint8_t bit, bool on) {
  uint8_t v = atomic_load_explicit(&a->shown, memory_order_relaxed);
  v = on ? (uint8_t)(v | bit) : (uint8_t)(v & ~bit);
  /* relaxed: only the owner writes; readers want a recent value. */
  atomic_store_explicit(&a->shown, v, memory_order_relaxed);
}

/* ---- table (table.c) ---- */
px__actor *px__table_alloc(void);          /* a dead slot, gen even */
void px__table_free(px__actor *a);         /* back to the free list */
#define PX__CHUNK_BITS 12
#define PX__MAX_CHUNKS 8192 /* 32M actors */
typedef struct px__table_t {
  _Atomic(px__actor *) chunks_[PX__MAX_CHUNKS];
  _Atomic(uint32_t) size_; /* slots in use or free */
} px__table_t;
extern px__table_t px__table;
/* NULL if out of range. */
static inline px__actor *px__table_at(uint32_t index) {
  /* acquire: a published chunk is fully initialised. */
  if (index >= atomic_load_explicit(&px__table.size_, memory_order_acquire))
    return NULL;
  px__actor *c = atomic_load_explicit(
      &px__table.chunks_[index >> PX__CHUNK_BITS], memory_order_acquire);
  return &c[index & ((1u << PX__CHUNK_BITS) - 1)];
}
uint32_t px__table_size(void);
void px__table_init(void);
void px__table_destroy(void);
/* The live actor named by r, or NULL. Racy by nature: the actor may die
 * right after; callers that care re-check the generation after sending. */
static inline px__actor *px__lookup(px_ref r) {
  px__actor *a = px__table_at(r.index);
  if (!a || (r.gen & 1) == 0) return NULL;
  /* acquire: pairs with the release store of gen at spawn. */
  if (atomic_load_explicit(&a->gen, memory_order_acquire) != r.gen)
    return NULL;
  return a;
}
static inline px_ref px__ref_of(const px__actor *a, uint32_t gen);
extern uint32_t px__node;
static inline px_ref px__ref_of(const px__actor *a, uint32_t gen) {
  px_ref r = {px__node, a->index, gen, 0};
  return r;
}
static inline px_ref px__self_ref(const px__actor *a) {
  return px__ref_of(a, atomic_load_explicit(&a->gen, memory_order_relaxed));
}

/* ---- messages (msg.c) ---- */
px__msg *px__msg_new(void);
void px__msg_free_node(px__msg *m); /* the node only */
void px__msg_release_all(void);     /* at runtime stop */
void px__msg_caching(bool on);      /* at runtime start */
/* Releases the payload and the node. Scalars need no release call. */
static inline void px__msg_free(px__msg *m) {
  if (m->pub.payload.type >= PX_T_STR) px_val_release(m->pub.payload);
  px__msg_free_node(m);
}

/* ---- core (actor.c) ---- */
/* The actor whose handler is running on this thread, or the external
 * thread's proxy (created on demand when create is true). */
px__actor *px__current(bool create);
px__actor *px__current_handler(void); /* NULL unless inside a handler */
/* Pushes m to target a (generation `gen`) and schedules a if needed. Takes
 * ownership of m. Whatever happens to the target, m is handled or answered
 * (asks get noproc, links an exit, monitors a DOWN); returns true. */
bool px__deliver(px__actor *a, uint32_t gen, px__msg *m);
/* Sends a signal built from the arguments to `to`; returns false when `to`
 * is already dead (nothing is queued). */
bool px__signal(px_ref to, px__mkind kind, px_ref from, px_atom type,
                px_val payload, uint64_t corr, uint64_t aux);
/* Drains the mailbox into the inbox, acting on signals. Returns 1 when the
 * actor must die (reason in *reason), else 0. */
int px__drain(px__actor *a, px_val *reason);
/* Full exit processing except freeing the slot. */
void px__actor_exit(px__actor *a, px_val reason, bool call_terminate);
/* Called by whoever finished an exit: returns the slot to the pool. */
void px__actor_release_slot(px__actor *a);
/* Inbox and mailbox access for the other files of src/actor (owner
 * only). accept_one acts on one node taken from the mailbox (messages to
 * the inbox, signals acted on); 1 means the actor must die (*reason). */
void px__inbox_push(px__actor *a, px__msg *m);
px__msg *px__inbox_pop(px__actor *a);
int px__accept_one(px__actor *a, uint32_t gen, px__msg *m, px_val *reason);
/* Wakes one sender waiting for room (all of them when `all`). */
void px__room_wake(px__actor *a, bool all);
/* A message consumed: depth = in - out (introspection and bounds). Inline:
 * it runs for every message. */
static inline void px__count_out(px__actor *a) {
  if (a->mb_policy == PX_MBOX_BLOCK) {
    /* seq_cst: the owner's half of the handshake in block_for_room. */
    atomic_fetch_add_explicit(&a->mb_out, 1, memory_order_seq_cst);
    px__room_wake(a, false);
    return;
  }
  atomic_store_explicit(
      &a->mb_out, atomic_load_explicit(&a->mb_out, memory_order_relaxed) + 1,
      memory_order_relaxed);
}
void px__inbox_remove(px__actor *a, px__msg *prev, px__msg *m);
extern _Atomic(bool) px__stopping;
/* Drains; if a signal kills the calling handler, it dies here and this
 * never returns. */
void px__drain_or_die(px__actor *a);
/* Parks the current handler until its wait is satisfied. */
void px__wait_park(px__actor *a);
/* From a handler: terminate now with reason (never returns). */
_Noreturn void px__die_now(px__actor *a, px_val reason);

/* ---- external proxies (external.c) ---- */
px__actor *px__external_self(void);
/* The calling thread's proxy if it has one, else NULL (never creates). */
px__actor *px__external_peek(void);
/* A new runtime: every thread gets a fresh proxy on its next call. */
void px__external_new_epoch(void);
void px__external_wake(px__actor *a);
/* Blocks the external thread until its mailbox has something or the
 * deadline (ns, 0 = none) passes. Returns false on timeout. */
bool px__external_wait(px__actor *a, uint64_t deadline_ns);
void px__external_shutdown(void);


/* ---- links and monitors (link.c) ---- */
/* Acts on an EXIT signal; returns 1 if the actor must die with *reason. */
int px__on_exit_signal(px__actor *a, px__msg *m, px_val *reason);
void px__on_link(px__actor *a, px_ref from);
void px__on_unlink(px__actor *a, px_ref from);
void px__on_monitor(px__actor *a, px_ref from, px_mref mref);
void px__on_demonitor(px__actor *a, px_mref mref);
/* Returns true if the __DOWN__ for mref should be delivered. */
bool px__on_down(px__actor *a, px_mref mref);
/* Sends exit signals to links and DOWN to watchers. */
void px__notify_exit(px__actor *a, px_ref self, px_val reason);
px__actor_ext *px__ext(px__actor *a);
px_val px__exit_payload(px_ref from, px_val reason);   /* new value */
px_val px__down_payload(px_ref from, px_mref mref, px_val reason);
bool px__links_has(px__actor *a, px_ref r);
void px__links_add(px__actor *a, px_ref r);
bool px__links_del(px__actor *a, px_ref r);
void px__monitors_add(px__actor *a, px_mref m, px_ref target);
/* Removes m; returns true (and its target in *target if given) if held. */
bool px__monitors_del(px__actor *a, px_mref m, px_ref *target);
px_mref px__new_mref(void);

/* ---- names (registry.c) ---- */
void px__registry_destroy(void);
void px__registry_release(px__actor *a);

/* ---- stats (stats.c) ---- */
void px__stats_init(void);
/* The slot of a scope (made on first use; "other" once the table is
 * full). label NULL means type->name. Takes a lock only the first time. */
int px__stats_slot(const px_actor_type *t, px_atom tenant, px_atom ns,
                   px_atom label);
/* The label of the next spawn from this thread, for spawners that cannot
 * reach px_spawn_opts (the behaviours' start goes through beh.c); spawn
 * takes it (and clears it) first thing. */
void px__stats_spawned(int type_id);
void px__stats_exit(int type_id, px_val reason);
/* Counts a mailbox drop from any thread (worker shard or shared). */
void px__stats_drop(int type_id);
void px__stats_live(int delta);
size_t px__stats_live_count(void);
void px__stats_ask(uint64_t ns);
/* The ask histogram in fixed buckets (seconds, nb increasing bounds,
 * counts[nb + 1] per bucket, the last above every bound) and the sum. */
void px__stats_ask_export(const double *bounds, size_t nb, uint64_t *counts,
                          double *sum);
/* Per-worker shard, so counting costs no shared cache line. */
static inline void px__stats_count(px__worker *w, int type_id, int counter) {
  if (w && type_id > 0) {
    uint64_t *c = &w->type_counters[type_id][counter];
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + 1,
                     __ATOMIC_RELAXED);
  }
}

/* ---- timers (timer.c) ---- */
int px__timer_start(bool virtual_clock);
void px__timer_stop(void);
/* Timer that delivers a signal of `kind` (MK_USER or MK_WAKE) to `to`. */
px_tref px__timer_add(int64_t ms, int64_t interval_ms, px_ref to,
                      px__mkind kind, px_atom type, px_val payload,
                      uint64_t aux);
void px__timer_cancel_quiet(px_tref t);
/* For ask timeouts: cheaper, may fire up to a coarse-clock tick late. */
px_tref px__timer_add_coarse(int64_t ms, px_ref to, px__mkind kind,
                             uint64_t aux);

extern px_atoms px__atoms;

#endif
