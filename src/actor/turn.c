/* Turns: how the scheduler runs an actor (a batch of messages on the
 * worker's coroutine), how a handler parks and is resumed, and how a dead
 * or overflowed actor is finished. The scheduler calls in through the
 * px__actor_* hooks declared in runtime/sched.h. */
#include "actor/actor_impl.h"
#include "plexspaces/core.h"

/* ---- the turn ------------------------------------------------------------ */

/* The first message of an incarnation. Out of line, so that dispatch stays
 * small enough to be inlined into the turn loop. */
static __attribute__((noinline)) void run_init(px__actor *a, px__msg *m) {
  a->flags |= PX__AF_STARTED;
  /* As `current`, the init message is freed by the exit path if init
   * calls px_exit_self. */
  a->current = m;
  int rc = a->type->init ? a->type->init(m->pub.payload, &a->state) : 0;
  a->current = NULL;
  px__msg_free(m);
  if (rc)
    px__die_now(a, px_arr(2, px_atomv(px__atoms.init_failed), px_int(rc)));
}

static inline void dispatch(px__actor *a, px__msg *m) {
  if (m->kind == PX__MK_INIT) {
    run_init(a, m);
    return;
  }
  /* Counted before the handler runs: whoever it answers already sees it. */
  px__stats_count(px__sched_worker_here(), a->type_id, PX__C_MESSAGES);
  a->current = m;
  a->in_handle = 1;
  a->type->handle(a->state, &m->pub);
  a->in_handle = 0;
  a->current = NULL;
  px__msg_free(m);
}

/* Before a turn goes on to another message: an actor that an earlier
 * message made runnable must not wait in this worker's unstealable "next"
 * slot behind a handler that may run long; it goes to the ring, where an
 * idle worker can take it. */
static inline void share_next(void) {
  px__worker *w = px__sched_worker();
  if (px__sched_has_next(w)) px__sched_share(w);
}

/* Runs up to a batch of messages. The common case, a plain message for
 * this incarnation with nothing else waiting, goes straight from the
 * mailbox to the handler without touching the inbox. */
static void actor_turn(px__actor *a) {
  int batch = px__sched_batch_size;
  uint32_t gen = atomic_load_explicit(&a->gen, memory_order_relaxed);
  for (int i = 0; i < batch; i++) {
    if (!a->inbox_head) {
      bool busy;
      px__mnode *n = px__mbox_pop(&a->mb, &a->mbc, &busy);
      if (!n) return;
      px__msg *m = (px__msg *)n;
      if (m->kind == PX__MK_USER && m->to_gen == gen &&
          a->mb_policy != PX_MBOX_DROP_OLD) {
        px__count_out(a); /* straight to the handler */
        if (i > 0) share_next();
        dispatch(a, m);
        continue;
      }
      px_val reason;
      if (px__accept_one(a, gen, m, &reason)) px__die_now(a, reason);
      if (px__drain(a, &reason)) px__die_now(a, reason);
      if (!a->inbox_head) return;
    }
    if (i > 0) share_next();
    dispatch(a, px__inbox_pop(a));
  }
}

static void turn_end(px__worker *w, px__actor *a) {
  if (a->inbox_head || !px__mbox_mark_empty(&a->mb, &a->mbc))
    px__sched_requeue(w, a);
}

void px__actor_run_turn(px__actor *a) {
  actor_turn(a);
  /* The turn may have parked and finished on another worker. */
  turn_end(px__sched_worker(), a);
}

void px__actor_parked(px__worker *w, px__actor *a, px__coro *co) {
  a->co = co;
  px__show(a, PX__SHOWN_PARKED, true);
  if (a->wait_ready) /* a yield: runnable at once */
    px__sched_requeue_quiet(w, a);
  else if (!px__mbox_mark_empty(&a->mb, &a->mbc))
    px__sched_requeue(w, a);
}

void px__yield_slow(bool may_die) {
  px__worker *w = px__sched_worker();
  if (!w) return; /* not a worker thread: nothing to yield to */
  w->reductions = 0;
  px__actor *a = w->running ? w->current : NULL;
  if (!a || !a->in_handle || a->wait != PX__W_NONE) return;
  if (may_die) px__drain_or_die(a); /* a kill lands here */
  a->wait_ready = 1;
  px__sched_park(a);
  a->wait_ready = 0;
}

bool px__yield_doomed(px_val *reason) {
  px__worker *w = px__sched_worker();
  if (!w) return false;
  w->reductions = 0;
  px__actor *a = w->running ? w->current : NULL;
  if (!a || !a->in_handle || a->wait != PX__W_NONE) return false;
  if (px__drain(a, reason)) return true;
  a->wait_ready = 1;
  px__sched_park(a);
  a->wait_ready = 0;
  return px__drain(a, reason) != 0;
}

void px__die_doomed(px_val reason) {
  px__actor *a = px__current_handler();
  if (!a) {
    px_val_release(reason);
    return;
  }
  px__die_now(a, reason);
}

void px__actor_died(px__worker *w, px__actor *a, bool overflow) {
  (void)w;
  if (overflow) {
    px_log(PX_LOG_ERROR, "actor", "actor %u of type %s overflowed its stack",
           a->index, a->type && a->type->name ? a->type->name : "?");
    px__actor_exit(a, px_atomv(px__atoms.stack_overflow), true);
  }
  px__actor_release_slot(a);
}

void px__actor_run(px__worker *w, px__actor *a) {
  w->current = a;
  px__coro *co = a->co;
  if (co) {
    px_val reason;
    if (!a->wait_ready && px__drain(a, &reason)) {
      /* Killed while parked: the handler's stack is simply abandoned. */
      a->co = NULL;
      px__actor_exit(a, reason, true);
      px__coro_reset(co);
      px__coro_free(co);
      px__actor_release_slot(a);
    } else if (!a->wait_ready) {
      if (!px__mbox_mark_empty(&a->mb, &a->mbc)) px__sched_requeue(w, a);
    } else {
      a->co = NULL;
      px__show(a, PX__SHOWN_PARKED, false);
      px__sched_resume(w, co);
    }
    px__sched_worker()->current = NULL;
    return;
  }
  size_t ss = a->type->stack_size;
  if (ss && ss != px__sched_default_stack()) {
    px__sched_run_on(w, a, ss);
  } else {
    px__actor_run_turn(a);
  }
  px__sched_worker()->current = NULL;
}

/* ---- parking a handler --------------------------------------------------- */

void px__drain_or_die(px__actor *a) {
  px_val reason;
  /* External proxies always trap, so only handlers can be told to die. */
  if (px__drain(a, &reason)) px__die_now(a, reason);
}

void px__wait_park(px__actor *a) {
  for (;;) {
    px__drain_or_die(a);
    if (a->wait_ready) return;
    if (atomic_load_explicit(&a->external, memory_order_relaxed)) {
      if (!px__external_wait(a, 0)) return;
    } else {
      px__sched_park(a);
    }
  }
}

