/* Actor lifecycle and the message path: spawn, deliver, drain, turn, exit.
 *
 * A message travels: px_send -> px__deliver (one atomic exchange on the
 * target's mailbox; schedules it if it was idle) -> px__drain on the
 * target's worker (signals are acted on here, messages go to the inbox) ->
 * dispatch to the handler on a coroutine. See DESIGN.md, "The flow of one
 * message". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/actor_impl.h"
#include "actor/facet.h"
#include "core/mem.h"
#include "plexspaces/core.h"

px_atoms px__atoms;
uint32_t px__node = 1;
_Atomic(bool) px__stopping;

const px_atoms *px_a(void) { return &px__atoms; }

/* ---- who is calling ------------------------------------------------------ */

px__actor *px__current_handler(void) {
  px__worker *w = px__sched_worker_here();
  return (w && w->running) ? w->current : NULL;
}

px__actor *px__current(bool create) {
  px__worker *w = px__sched_worker_here();
  if (w) return w->running ? w->current : NULL;
  return create ? px__external_self() : NULL;
}

bool px_in_actor(void) { return px__current_handler() != NULL; }

const char *px_self_tenant(void) {
  px__actor *a = px__current_handler();
  return a && a->tenant ? px_atom_name(a->tenant) : NULL;
}

const char *px_self_namespace(void) {
  px__actor *a = px__current_handler();
  return a && a->ns ? px_atom_name(a->ns) : NULL;
}

px_ref px_self(void) {
  px__actor *a = px__current(true);
  return a ? px__self_ref(a) : px_ref_nil();
}

void *px_self_state(void) {
  px__actor *a = px__current_handler();
  if (!a) return NULL;
  return a->facet ? a->facet->state : a->state; /* a facet wraps the type */
}

px__facet *px__self_facet(void) {
  px__actor *a = px__current_handler();
  return a ? a->facet : NULL;
}

void px__set_send_mode(int mode) {
  px__actor *a = px__current_handler();
  if (a) a->fsend = (uint8_t)mode;
}

uint32_t px__take_sent(void) {
  px__actor *a = px__current_handler();
  if (!a) return 0;
  uint32_t n = a->fsent;
  a->fsent = 0;
  return n;
}

bool px__self_mail_pending(void) {
  px__actor *a = px__current_handler();
  if (!a) return false;
  /* relaxed: a hint; the handled message was counted out already. */
  return a->inbox_head ||
         atomic_load_explicit(&a->mb_in, memory_order_relaxed) !=
             atomic_load_explicit(&a->mb_out, memory_order_relaxed);
}

px_message *px__message_new(px_atom type, px_val payload, uint64_t corr) {
  px__msg *m = px__msg_new();
  m->pub.type = type;
  m->pub.payload = payload;
  m->pub.corr = corr;
  return &m->pub;
}

/* ---- delivery ------------------------------------------------------------ */

static void wake_owner(px__actor *a) {
  if (atomic_load_explicit(&a->external, memory_order_relaxed))
    px__external_wake(a);
  else
    px__sched_schedule(a);
}

static void bounce(px_ref dead, px__msg *m, px_val reason);

/* A sender that found a dead slot's mailbox idle owns it (it got `true`
 * from push, as a scheduler would) and answers what is queued there:
 * asks get noproc, links an exit, monitors a DOWN. Nothing queued in a
 * dead slot is left unanswered, so every ask gets exactly one answer. */
static void reap(px__actor *a) {
  for (;;) {
    bool busy;
    px__mnode *n;
    while ((n = px__mbox_pop(&a->mb, &a->mbc, &busy)) || busy) {
      if (!n) {
        px__cpu_relax();
        continue;
      }
      px__msg *m = (px__msg *)n;
      px__count_out(a);
      px_ref dead = {px__node, a->index, m->to_gen, 0};
      bounce(dead, m, px_atomv(px__atoms.noproc));
    }
    if (px__mbox_mark_empty(&a->mb, &a->mbc)) return;
  }
}

bool px__deliver(px__actor *a, uint32_t gen, px__msg *m) {
  m->to_gen = gen;
  atomic_fetch_add_explicit(&a->mb_in, 1, memory_order_relaxed);
  if (px__mbox_push(&a->mb, &m->node)) {
    /* We own the idle mailbox. A live incarnation (ours or a newer one,
     * which answers stale messages) is scheduled; a dead slot's queue is
     * answered here. seq_cst: pairs with the generation bump at exit. */
    if (atomic_load_explicit(&a->gen, memory_order_seq_cst) & 1)
      wake_owner(a);
    else
      reap(a);
  }
  /* Otherwise the owner (running, scheduled, or exiting and draining) will
   * handle or answer the message. */
  return true;
}

bool px__signal(px_ref to, px__mkind kind, px_ref from, px_atom type,
                px_val payload, uint64_t corr, uint64_t aux) {
  px__actor *a = px__lookup(to);
  if (!a) {
    px_val_release(payload);
    return false;
  }
  px__msg *m = px__msg_new();
  m->kind = (uint8_t)kind;
  m->pub.type = type;
  m->pub.payload = payload;
  m->pub.from = from;
  m->pub.corr = corr;
  m->aux = aux;
  return px__deliver(a, to.gen, m);
}

static inline void room_lock(px__actor *a) {
  /* acquire: the waiter list written by the last holder is visible. */
  while (atomic_exchange_explicit(&a->room_lock, 1, memory_order_acquire))
    px__cpu_relax();
}

static inline void room_unlock(px__actor *a) {
  atomic_store_explicit(&a->room_lock, 0, memory_order_release);
}

static bool is_full(px__actor *a) {
  uint64_t in = atomic_load_explicit(&a->mb_in, memory_order_relaxed);
  uint64_t out = atomic_load_explicit(&a->mb_out, memory_order_relaxed);
  return in - out >= a->mb_cap;
}

/* The `block` policy: the sender waits (a handler parks, a thread blocks)
 * until the owner takes a message, which wakes the oldest waiter; the
 * owner's exit wakes them all. An actor sending to itself never waits:
 * that would wait forever. */
static void block_for_room(px__actor *a, uint32_t gen) {
  px__actor *me = px__current(true);
  if (!me || me == a) return;
  for (;;) {
    if (!is_full(a) || atomic_load_explicit(&a->gen, memory_order_acquire) !=
                           gen)
      return;
    px__room_waiter w = {px_promise_new(), NULL};
    room_lock(a);
    px__room_waiter *tail = atomic_load_explicit(&a->room_head,
                                                 memory_order_relaxed);
    if (!tail) {
      /* seq_cst, with the seq_cst load of mb_out below: pairs with the
       * owner's seq_cst increment of mb_out and load of room_head, so
       * either it sees us waiting, or we see the room it made. */
      atomic_store_explicit(&a->room_head, &w, memory_order_seq_cst);
    } else {
      while (tail->next) tail = tail->next;
      tail->next = &w;
    }
    uint64_t in = atomic_load_explicit(&a->mb_in, memory_order_relaxed);
    uint64_t out = atomic_load_explicit(&a->mb_out, memory_order_seq_cst);
    bool still = in - out >= a->mb_cap &&
                 atomic_load_explicit(&a->gen, memory_order_acquire) == gen;
    if (!still) {
      /* Unregister (if the owner has not already woken us). */
      bool found = false;
      px__room_waiter *head = atomic_load_explicit(&a->room_head,
                                                   memory_order_relaxed);
      if (head == &w) {
        atomic_store_explicit(&a->room_head, w.next, memory_order_relaxed);
        found = true;
      } else {
        for (px__room_waiter *it = head; it; it = it->next)
          if (it->next == &w) {
            it->next = w.next;
            found = true;
            break;
          }
      }
      room_unlock(a);
      if (found) return;
    } else {
      room_unlock(a);
    }
    px_val v;
    px_promise_await(w.p, -1, &v);
  }
}

void px__room_wake(px__actor *a, bool all) {
  /* seq_cst: see block_for_room. */
  if (!atomic_load_explicit(&a->room_head, memory_order_seq_cst)) return;
  px_promise wake[64];
  int n = 0;
  room_lock(a);
  px__room_waiter *w;
  while (n < 64 && (w = atomic_load_explicit(&a->room_head,
                                             memory_order_relaxed))) {
    atomic_store_explicit(&a->room_head, w->next, memory_order_relaxed);
    wake[n++] = w->p; /* copied: w may be gone once it is resolved */
    if (!all) break;
  }
  room_unlock(a);
  for (int i = 0; i < n; i++) px_reply_to(wake[i], px_nil());
  if (all && atomic_load_explicit(&a->room_head, memory_order_relaxed))
    px__room_wake(a, true);
}

/* Full mailbox handling for bounded actors. Returns 0 to go on with the
 * send, 1 when the message was consumed (dropped). */
static int bounded_check(px__actor *a, uint32_t gen, px__msg *m) {
  uint64_t in = atomic_load_explicit(&a->mb_in, memory_order_relaxed);
  uint64_t out = atomic_load_explicit(&a->mb_out, memory_order_relaxed);
  if (in - out < a->mb_cap) return 0;
  switch (a->mb_policy) {
  case PX_MBOX_DROP_NEW:
    px__stats_drop(a->type_id); /* the sender may be an external thread */
    px__msg_free(m);
    return 1;
  case PX_MBOX_EXIT: {
    /* The overloaded actor is stopped, untrappably, so its supervisor can
     * start a fresh one; the message itself is dropped. */
    px_ref r = {px__node, a->index, gen, 0};
    px__msg_free(m);
    px__signal(r, PX__MK_EXIT, px_ref_nil(), NULL,
               px_atomv(px__atoms.mailbox_overflow), 0, 2);
    return 1;
  }
  case PX_MBOX_BLOCK:
    block_for_room(a, gen);
    return 0;
  default: /* drop_old: the owner drops from the front as it drains */
    return 0;
  }
}

/* A facet actor's send (facet.h): counted, or muted while it replays.
 * True when muted. Out of line: plain actors never come here. */
static __attribute__((noinline)) bool facet_send(px__actor *me) {
  if (me->fsend == PX__FSEND_MUTE) return true; /* it was sent before */
  me->fsent++;
  return false;
}

static int send_msg(px_ref to, px_atom type, px_val payload, uint64_t corr) {
  px__actor *a = px__lookup(to);
  px__worker *w = px__sched_worker_here();
  px__actor *me = w ? w->current : px__external_peek();
  if (!a || (__builtin_expect(me && me->fsend, 0) && facet_send(me))) {
    px_val_release(payload); /* a dead target drops it (R-A-2) */
    return 0;
  }
  px__msg *m = px__msg_new();
  m->pub.type = type;
  m->pub.payload = payload;
  m->pub.from = me ? px__self_ref(me) : px_ref_nil();
  m->pub.corr = corr;
  if (a->mb_cap) {
    if (bounded_check(a, to.gen, m)) return 0;
    /* a `block` mailbox may have parked us: we may be on another worker */
    w = px__sched_worker();
  }
  px__deliver(a, to.gen, m);
  /* A handler that sends a lot in one turn (a producer) lets an idle
   * worker take the receivers it scheduled, instead of queuing them all
   * behind itself. */
  if (w && (++w->sends & 63) == 0) px__sched_share(w);
  return 0;
}

int px_send(px_ref to, px_atom type, px_val payload) {
  return send_msg(to, type, payload, 0);
}

/* ---- spawn --------------------------------------------------------------- */

static void reset_incarnation(px__actor *a) {
  a->inbox_head = a->inbox_tail = NULL;
  a->state = NULL;
  a->co = NULL;
  a->current = NULL;
  a->flags = 0;
  atomic_store_explicit(&a->shown, 0, memory_order_relaxed);
  a->wait = PX__W_NONE;
  a->wait_ready = 0;
  a->wait_rc = 0;
  a->wait_token = 0;
  a->wait_msg = NULL;
  a->match = NULL;
  a->match_ud = NULL;
  a->seq = 0;
  a->parent = px_ref_nil();
  a->tenant = NULL;
  a->ns = NULL;
  a->facet = NULL;
  a->fsend = 0;
  a->fsent = 0;
  if (a->ext) {
    px__actor_ext *e = a->ext;
    e->nlinks = e->nwatchers = e->nmonitors = e->ndeferred = 0;
  }
}

/* Refuses a spawn before any actor exists: releases what it was given. */
static int spawn_refused(int rc, px_val args, px__facet *f) {
  px_val_release(args);
  if (f) f->destroy(f);
  return rc;
}

static int spawn(const px_actor_type *type, px_val args,
                 const px_spawn_opts *o, px__facet *f, px_ref *out) {
  static const px_spawn_opts none;
  if (!o) o = &none;
  if (!type || !type->handle) return spawn_refused(PX_EINVAL, args, f);
  if (atomic_load_explicit(&px__stopping, memory_order_acquire))
    return spawn_refused(PX_ESTOPPED, args, f);
  px__actor *caller = NULL;
  if (o->link || o->monitor) {
    caller = px__current(true);
    if (!caller) return spawn_refused(PX_ENOTACTOR, args, f);
  }
  px__actor *a = px__table_alloc();
  reset_incarnation(a);
  uint32_t gen = atomic_load_explicit(&a->gen, memory_order_relaxed) + 1;
  px_ref ref = px__ref_of(a, gen);
  a->type = type;
  a->facet = f; /* from here on the exit path frees it */
  /* Identity: named in the options, else the spawner's. Atoms, so that
   * copying it costs nothing and it never dangles. */
  px__actor *spawner = px__current(false);
  a->tenant = o->tenant ? px_atom_of(o->tenant) : spawner ? spawner->tenant
                                                          : NULL;
  a->ns = o->ns ? px_atom_of(o->ns) : spawner ? spawner->ns : NULL;
  /* Atomic: introspection reads it from other threads (stats.c). */
  __atomic_store_n(&a->type_id,
                   px__stats_slot(type, a->tenant, a->ns,
                                  o->label ? px_atom_of(o->label) : NULL),
                   __ATOMIC_RELAXED);
  a->parent = o->parent;
  a->mb_cap = (uint32_t)o->mailbox_cap;
  a->mb_policy = (uint8_t)(o->mailbox_cap ? o->mailbox_policy : 0);
  if (!a->mb_cap) a->mb_policy = PX_MBOX_UNBOUNDED;
  atomic_store_explicit(&a->external, 0, memory_order_relaxed);
  if (o->trap_exit) {
    a->flags |= PX__AF_TRAP;
    px__show(a, PX__SHOWN_TRAP, true);
  }

  /* INIT goes in before the generation is published, so it is the first
   * message the new actor sees. The slot's mailbox is in the "scheduled"
   * state, so this push schedules nothing; we schedule below. */
  px__msg *init = px__msg_new();
  init->kind = PX__MK_INIT;
  init->pub.payload = args;
  init->to_gen = gen;
  atomic_fetch_add_explicit(&a->mb_in, 1, memory_order_relaxed);
  px__mbox_push(&a->mb, &init->node);

  if (caller) {
    px_ref cref = px__self_ref(caller);
    if (o->link) {
      px__links_add(a, cref);
      px__links_add(caller, ref);
    }
    if (o->monitor) {
      px_mref m = px__new_mref();
      px__actor_ext *e = px__ext(a);
      if (e->nwatchers == e->capwatchers) {
        e->capwatchers = e->capwatchers ? e->capwatchers * 2 : 4;
        e->watchers = px__xrealloc(e->watchers,
                                   e->capwatchers * sizeof *e->watchers);
      }
      e->watchers[e->nwatchers++] = (px__watcher){m, cref};
      px__monitors_add(caller, m, ref);
      if (o->mref_out) *o->mref_out = m;
    }
  }
  px__stats_spawned(a->type_id);
  px__stats_live(1);
  /* release: everything above is visible to whoever sees the new gen. */
  atomic_store_explicit(&a->gen, gen, memory_order_release);
  if (o->name) {
    int rc = px_register(o->name, ref);
    if (rc) {
      /* Undo: the actor never ran; it exits quietly with the error. */
      if (caller && o->link) px__links_del(caller, ref);
      /* Fix: drop the monitor too, or its DOWN (reason kill) reached a
       * caller that was told nothing was spawned. With the mref gone
       * from the caller, that DOWN is discarded on arrival. */
      if (caller && o->monitor) {
        px_mref gone;
        for (uint32_t i = 0; caller->ext && i < caller->ext->nmonitors; i++)
          if (px_ref_eq(caller->ext->monitors[i].watcher, ref)) {
            gone = caller->ext->monitors[i].mref;
            px__monitors_del(caller, gone, NULL);
            break;
          }
      }
      px__signal(ref, PX__MK_EXIT, px_ref_nil(), NULL,
                 px_atomv(px__atoms.kill), 0, 2);
      px__sched_schedule(a);
      return rc;
    }
  }
  px__sched_schedule(a);
  if (out) *out = ref;
  return 0;
}

int px_spawn(const px_actor_type *type, px_val args, const px_spawn_opts *o,
             px_ref *out) {
  return spawn(type, args, o, NULL, out);
}

int px__spawn_facet(const px_actor_type *type, px_val args,
                    const px_spawn_opts *o, px__facet *f, px_ref *out) {
  return spawn(type, args, o, f, out);
}

/* ---- inbox --------------------------------------------------------------- */

static inline px__msg *next_of(px__msg *m) {
  return (px__msg *)atomic_load_explicit(&m->node.next, memory_order_relaxed);
}
static inline void set_next(px__msg *m, px__msg *n) {
  atomic_store_explicit(&m->node.next, (px__mnode *)n, memory_order_relaxed);
}

static void inbox_append(px__actor *a, px__msg *m) {
  set_next(m, NULL);
  if (a->inbox_tail)
    set_next(a->inbox_tail, m);
  else
    a->inbox_head = m;
  a->inbox_tail = m;
  if (a->wait == PX__W_RECEIVE && !a->wait_ready &&
      (!a->match || a->match(&m->pub, a->match_ud)))
    a->wait_ready = 1;
}

px__msg *px__inbox_pop(px__actor *a) {
  px__msg *m = a->inbox_head;
  if (m) {
    a->inbox_head = next_of(m);
    if (!a->inbox_head) a->inbox_tail = NULL;
    px__count_out(a);
  }
  return m;
}

/* Unlinks m (whose predecessor is prev, NULL for the head). */
void px__inbox_remove(px__actor *a, px__msg *prev, px__msg *m) {
  px__msg *n = next_of(m);
  if (prev)
    set_next(prev, n);
  else
    a->inbox_head = n;
  if (a->inbox_tail == m) a->inbox_tail = prev;
  px__count_out(a);
}

static void drop_oldest(px__actor *a) {
  px__msg *m = a->inbox_head;
  while (m && m->kind != PX__MK_USER) m = next_of(m);
  if (!m) return;
  px__msg *prev = NULL, *it = a->inbox_head;
  while (it != m) {
    prev = it;
    it = next_of(it);
  }
  px__inbox_remove(a, prev, m);
  px__stats_count(px__sched_worker(), a->type_id, PX__C_DROPS);
  px__msg_free(m);
}

/* ---- signals that outlive their target ----------------------------------- */

static void reply_noproc(px__msg *m, px_val reason) {
  if (m->kind == PX__MK_USER && m->pub.corr && !m->replied) {
    m->replied = 1;
    px__signal(m->pub.from, PX__MK_NOPROC, px_ref_nil(), NULL,
               px_val_retain(reason), m->pub.corr, 0);
  }
}

/* A message that cannot be handled because its target is gone (stale
 * generation, or the target is exiting): answer what expects an answer. */
static void bounce(px_ref dead, px__msg *m, px_val reason) {
  switch (m->kind) {
  case PX__MK_USER:
    reply_noproc(m, reason);
    break;
  case PX__MK_LINK:
    px__signal(m->pub.from, PX__MK_EXIT, dead, NULL,
               px_atomv(px__atoms.noproc), 0, 1);
    break;
  case PX__MK_MONITOR:
    px__signal(m->pub.from, PX__MK_DOWN, dead, px__atoms.down_msg,
               px__down_payload(dead, m->aux, px_atomv(px__atoms.noproc)), 0,
               m->aux);
    break;
  default:
    break;
  }
  px__msg_free(m);
}

/* ---- drain --------------------------------------------------------------- */

/* Mailbox accounting: a message counts from its push (mb_in) until it is
 * consumed (mb_out): a signal when it is acted on here, a message when it
 * leaves the inbox (handled, received, dropped or answered at exit). So a
 * message waiting in the inbox for a selective receive still fills the
 * mailbox. */

static void to_inbox(px__actor *a, px__msg *m) {
  inbox_append(a, m); /* still counted: it is in the mailbox */
  if (a->mb_policy == PX_MBOX_DROP_OLD) {
    uint64_t in = atomic_load_explicit(&a->mb_in, memory_order_relaxed);
    uint64_t out = atomic_load_explicit(&a->mb_out, memory_order_relaxed);
    if (in - out > a->mb_cap) drop_oldest(a);
  }
}

/* The nodes accept_one does not handle itself: anything for an older
 * incarnation, and the signals other than replies. Out of line, so that
 * accept_one stays small enough to be inlined into the drain loop. */
static __attribute__((noinline)) int accept_rare(px__actor *a, uint32_t gen,
                                                 px__msg *m, px_val *reason) {
  if (m->to_gen != gen) {
    px_ref dead = {px__node, a->index, m->to_gen, 0};
    px__count_out(a);
    bounce(dead, m, px_atomv(px__atoms.noproc));
    return 0;
  }
  if (m->kind == PX__MK_DOWN && px__on_down(a, m->aux)) {
    m->pub.type = px__atoms.down_msg;
    inbox_append(a, m);
    return 0;
  }
  /* Everything else is consumed right here. An exit signal that a trapping
   * actor turns into an __EXIT__ message goes back in through
   * px__inbox_push, which counts it in again. */
  px__count_out(a);
  switch ((px__mkind)m->kind) {
  case PX__MK_WAKE:
    if (a->wait != PX__W_NONE && !a->wait_ready && m->aux == a->wait_token) {
      a->wait_ready = 1;
      a->wait_rc = PX_ETIMEDOUT;
    }
    break;
  case PX__MK_EXIT:
    return px__on_exit_signal(a, m, reason);
  case PX__MK_LINK:
    px__on_link(a, m->pub.from);
    break;
  case PX__MK_UNLINK:
    px__on_unlink(a, m->pub.from);
    break;
  case PX__MK_MONITOR:
    px__on_monitor(a, m->pub.from, m->aux);
    break;
  case PX__MK_DEMONITOR:
    px__on_demonitor(a, m->aux);
    break;
  default: /* a DOWN for a monitor no longer held */
    break;
  }
  px__msg_free(m);
  return 0;
}

/* Acts on one node taken from the mailbox: messages go to the inbox,
 * signals are acted on. Returns 1 when the actor must die (*reason).
 * Messages and replies (what an ask waits for) are handled inline; the
 * rest goes to accept_rare. */
static inline int accept_one(px__actor *a, uint32_t gen, px__msg *m,
                             px_val *reason) {
  if (m->to_gen == gen) {
    switch ((px__mkind)m->kind) {
    case PX__MK_USER:
    case PX__MK_INIT:
    case PX__MK_EXITMSG:
      to_inbox(a, m);
      return 0;
    case PX__MK_REPLY:
    case PX__MK_REPLY_ERR:
    case PX__MK_NOPROC:
      px__count_out(a); /* consumed here */
      if (a->wait == PX__W_REPLY && !a->wait_ready &&
          m->pub.corr == a->wait_token) {
        a->wait_msg = m;
        a->wait_ready = 1;
      } else {
        px__msg_free(m); /* a late reply: never reaches the mailbox */
      }
      return 0;
    default:
      break;
    }
  }
  return accept_rare(a, gen, m, reason);
}

/* For turn.c's slow path; the drain loop below uses the inlined copy. */
int px__accept_one(px__actor *a, uint32_t gen, px__msg *m, px_val *reason) {
  return accept_one(a, gen, m, reason);
}

int px__drain(px__actor *a, px_val *reason) {
  uint32_t gen = atomic_load_explicit(&a->gen, memory_order_relaxed);
  for (;;) {
    bool busy;
    px__mnode *n = px__mbox_pop(&a->mb, &a->mbc, &busy);
    if (!n) return 0; /* busy: the actor stays scheduled and comes back */
    if (accept_one(a, gen, (px__msg *)n, reason)) return 1;
  }
}

/* Called by link.c when a trapped exit becomes a message. */
void px__inbox_push(px__actor *a, px__msg *m) {
  /* Straight into the inbox, not through the mailbox queue: count it in. */
  atomic_fetch_add_explicit(&a->mb_in, 1, memory_order_relaxed);
  inbox_append(a, m);
}

/* ---- exit ---------------------------------------------------------------- */

void px__actor_exit(px__actor *a, px_val reason, bool call_terminate) {
  a->in_handle = 0; /* an abandoned handler; terminate must not yield */
  uint32_t gen = atomic_load_explicit(&a->gen, memory_order_relaxed);
  px_ref self = px__ref_of(a, gen);
  a->flags |= PX__AF_EXITING;
  /* A thread's proxy may have left its mailbox marked idle while it waited;
   * take it back before the bump, or a sender would start answering the
   * queue while we drain it. If the claim fails the queue is not idle,
   * which means it is ours already. */
  if (atomic_load_explicit(&a->external, memory_order_relaxed))
    px__mbox_claim_idle(&a->mb, &a->mbc);
  /* seq_cst: first half of the handshake with px__deliver (see there). */
  atomic_store_explicit(&a->gen, gen + 1, memory_order_seq_cst);
  /* R-B-17: the name goes before links and monitors fire. */
  if (atomic_load_explicit(&a->has_name, memory_order_relaxed))
    px__registry_release(a);
  if (call_terminate && a->type && a->type->terminate &&
      (a->flags & PX__AF_STARTED))
    a->type->terminate(a->state, reason);
  a->state = NULL;
  a->fsend = 0;
  if (a->facet) { /* after terminate, which may still use it */
    px__facet *f = a->facet;
    a->facet = NULL;
    f->destroy(f);
  }

  if (a->current) {
    reply_noproc(a->current, reason);
    px__msg_free(a->current);
    a->current = NULL;
  }
  if (a->wait_msg) {
    px__msg_free(a->wait_msg);
    a->wait_msg = NULL;
  }
  a->wait = PX__W_NONE;
  if (a->ext) {
    px__actor_ext *e = a->ext;
    for (uint32_t i = 0; i < e->ndeferred; i++)
      px__signal(e->deferred[i].to, PX__MK_NOPROC, px_ref_nil(), NULL,
                 px_val_retain(reason), e->deferred[i].corr, 0);
    e->ndeferred = 0;
  }
  px__msg *m;
  while ((m = px__inbox_pop(a))) bounce(self, m, reason);
  /* Final drain: every message queued so far is answered with the exit
   * reason. Then the mailbox is marked idle: a message that comes later
   * is answered by its sender (see reap). */
  for (;;) {
    bool busy;
    px__mnode *n = px__mbox_pop(&a->mb, &a->mbc, &busy);
    if (!n) {
      if (busy) {
        px__cpu_relax();
        continue;
      }
      if (px__mbox_mark_empty(&a->mb, &a->mbc)) break;
      continue;
    }
    m = (px__msg *)n;
    px__count_out(a);
    bounce(self, m, m->to_gen == gen ? reason : px_atomv(px__atoms.noproc));
  }
  /* Senders waiting for room re-check, find the actor gone, and go on. */
  px__room_wake(a, true);
  /* Counted before links and monitors hear of it, so that a watcher that
   * got the DOWN also sees the exit in the stats. */
  px__stats_exit(a->type_id, reason);
  px__notify_exit(a, self, reason);
  px_val_release(reason);
}

void px__actor_release_slot(px__actor *a) {
  bool external = atomic_load_explicit(&a->external, memory_order_relaxed);
  px__table_free(a);
  if (!external) px__stats_live(-1);
}

_Noreturn void px__die_now(px__actor *a, px_val reason) {
  px__actor_exit(a, reason, true);
  px__sched_die(a);
}

/* ---- exit API ------------------------------------------------------------ */

int px_exit_self(px_val reason) {
  px__actor *a = px__current_handler();
  if (!a) {
    px_val_release(reason);
    return PX_ENOTACTOR;
  }
  if (a->facet) a->facet->exited_itself = true;
  px__die_now(a, reason);
}

int px_exit(px_ref to, px_val reason) {
  /* From a plain thread the sender is its proxy, so the target sees who
   * sent the signal (a parent stopping its supervisor, say). */
  px__actor *me = px__current(true);
  px_ref from = me ? px__self_ref(me) : px_ref_nil();
  px__signal(to, PX__MK_EXIT, from, NULL, reason, 0, 0);
  return 0;
}

bool px_trap_exit(bool on) {
  px__actor *a = px__current(true);
  if (!a) return false;
  bool was = (a->flags & PX__AF_TRAP) != 0;
  if (on)
    a->flags |= PX__AF_TRAP;
  else
    a->flags &= ~(uint32_t)PX__AF_TRAP;
  px__show(a, PX__SHOWN_TRAP, on);
  return was;
}

