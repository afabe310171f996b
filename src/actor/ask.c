/* Request/reply and selective receive. An ask is a message with a
 * correlation id; its reply is a signal matched against the one wait the
 * asker has open, so a reply that comes too late is dropped on arrival and
 * never lands in the mailbox (R-A-12, R-D-3). */
#include <stdlib.h>
#include <string.h>

#include "actor/actor_impl.h"
#include "core/mem.h"
#include "plexspaces/core.h"
#include "plexspaces/runtime.h"

#define PX__MAX_DEFERRED 1024

/* A thread's proxy waits on its futex instead of parking, with its own
 * deadline instead of a timer. */
static void await_external(px__actor *me, int64_t timeout_ms) {
  uint64_t deadline =
      timeout_ms >= 0 ? px_now_ns() + (uint64_t)timeout_ms * 1000000u : 0;
  for (;;) {
    px__drain_or_die(me);
    if (me->wait_ready) return;
    if (!px__external_wait(me, deadline)) {
      px__drain_or_die(me);
      if (!me->wait_ready) {
        me->wait_ready = 1;
        me->wait_rc = PX_ETIMEDOUT;
      }
      return;
    }
  }
}

/* Waits for the answer to `corr` (the wait is already set up): parks a
 * handler or blocks a thread, with a timeout. Inline: it is most of an
 * ask, and a call here cost a measurable part of ask latency. */
static inline int await_reply(px__actor *me, uint64_t corr,
                              int64_t timeout_ms, px_val *reply) {
  px_tref timer = 0;
  if (atomic_load_explicit(&me->external, memory_order_relaxed)) {
    await_external(me, timeout_ms);
  } else {
    if (timeout_ms >= 0)
      timer = px__timer_add_coarse(timeout_ms, px__self_ref(me), PX__MK_WAKE,
                                   corr);
    px__wait_park(me);
  }
  me->wait = PX__W_NONE;
  px__msg *r = me->wait_msg;
  me->wait_msg = NULL;
  if (!r) {
    /* Timed out: the timer is spent; a reply that comes later is late. */
    return me->wait_rc ? me->wait_rc : PX_ETIMEDOUT;
  }
  if (timer) px__timer_cancel_quiet(timer);
  int rc = 0;
  switch (r->kind) {
  case PX__MK_REPLY:
    rc = 0;
    break;
  case PX__MK_REPLY_ERR:
    rc = PX_EHANDLER;
    break;
  default:
    rc = PX_ENOPROC;
    break;
  }
  *reply = r->pub.payload;
  r->pub.payload = px_nil();
  px__msg_free(r);
  return rc;
}

int px_ask(px_ref to, px_atom type, px_val payload, int64_t timeout_ms,
           px_val *reply) {
  px__actor *me = px__current(true);
  *reply = px_nil();
  if (!me) {
    px_val_release(payload);
    return PX_ENOTACTOR;
  }
  px_ref self = px__self_ref(me);
  if (px_ref_eq(to, self)) {
    px_val_release(payload);
    return PX_EDEADLOCK;
  }
  px__actor *t = px__lookup(to);
  if (!t) {
    px_val_release(payload);
    *reply = px_atomv(px__atoms.noproc);
    return PX_ENOPROC;
  }
  uint64_t corr = ++me->seq;
  /* Time one ask in 64 for the latency histogram: reading the clock twice
   * per ask would cost a tenth of the ask itself. */
  bool timed = (corr & 63) == 1;
  uint64_t t0 = timed ? px_now_ns() : 0;
  px__msg *m = px__msg_new();
  m->pub.type = type;
  m->pub.payload = payload;
  m->pub.from = self;
  m->pub.corr = corr;
  me->wait = PX__W_REPLY;
  me->wait_token = corr;
  me->wait_ready = 0;
  me->wait_rc = 0;
  me->wait_msg = NULL;
  if (t->mb_cap && t->mb_policy == PX_MBOX_DROP_NEW) {
    uint64_t in = atomic_load_explicit(&t->mb_in, memory_order_relaxed);
    uint64_t out = atomic_load_explicit(&t->mb_out, memory_order_relaxed);
    if (in - out >= t->mb_cap) {
      me->wait = PX__W_NONE;
      px__msg_free(m);
      return PX_EMAILBOXFULL;
    }
  }
  /* Every ask is answered exactly once: a reply, an error, or noproc with
   * the exit reason if the target exits first (see px__deliver). */
  px__deliver(t, to.gen, m);
  int rc = await_reply(me, corr, timeout_ms, reply);
  if (timed && rc != PX_ETIMEDOUT) px__stats_ask(px_now_ns() - t0);
  return rc;
}

px_promise px_promise_new(void) {
  px__actor *me = px__current(true);
  px_promise p = {px_ref_nil(), 0};
  if (!me) return p;
  p.to = px__self_ref(me);
  p.corr = ++me->seq;
  return p;
}

int px_promise_await(px_promise p, int64_t timeout_ms, px_val *out) {
  *out = px_nil();
  px__actor *me = px__current(true);
  if (!me || !p.corr || !px_ref_eq(p.to, px__self_ref(me))) return PX_EINVAL;
  me->wait = PX__W_REPLY;
  me->wait_token = p.corr;
  me->wait_ready = 0;
  me->wait_rc = 0;
  me->wait_msg = NULL;
  return await_reply(me, p.corr, timeout_ms, out);
}

static int reply_with(px_from f, px__mkind kind, px_val v) {
  px__worker *w = px__sched_worker_here(); /* no park in here */
  px__actor *me = w ? w->current : px__external_peek();
  /* A deferred reply answered by its owner no longer needs the noproc
   * answer at exit. The list stays oldest first (see the cap). */
  if (me && me->ext) {
    px__actor_ext *e = me->ext;
    for (uint32_t i = 0; i < e->ndeferred; i++)
      if (e->deferred[i].corr == f.corr && px_ref_eq(e->deferred[i].to, f.to)) {
        memmove(e->deferred + i, e->deferred + i + 1,
                (e->ndeferred - i - 1) * sizeof *e->deferred);
        e->ndeferred--;
        break;
      }
  }
  px_ref from = me ? px__self_ref(me) : px_ref_nil();
  px__signal(f.to, kind, from, NULL, v, f.corr, 0);
  return 0;
}

static int reply_msg(const px_message *msg, px__mkind kind, px_val v) {
  px__msg *m = PX__MSG_OF(msg);
  if (!msg->corr || m->replied) {
    px_val_release(v);
    return PX_EINVAL;
  }
  m->replied = 1;
  px_from f = {msg->from, msg->corr};
  return reply_with(f, kind, v);
}

int px_reply(const px_message *msg, px_val value) {
  return reply_msg(msg, PX__MK_REPLY, value);
}

int px_reply_error(const px_message *msg, px_val error) {
  px__actor *me = px__current_handler();
  if (me) px__stats_count(px__sched_worker_here(), me->type_id, PX__C_ERRORS);
  return reply_msg(msg, PX__MK_REPLY_ERR, error);
}

px_from px_defer_reply(const px_message *msg) {
  px__msg *m = PX__MSG_OF(msg);
  px_from f = {msg->from, msg->corr};
  if (!msg->corr || m->replied) {
    f.corr = 0;
    return f;
  }
  m->replied = 1;
  px__actor *me = px__current(false);
  if (me) {
    px__actor_ext *e = px__ext(me);
    /* A reply sent by another actor (R-D-6) cannot clear its entry here,
     * so the list is bounded: past the cap the oldest entry is dropped,
     * and only that asker loses the noproc it would get if this actor
     * died; it still has its own timeout. */
    if (e->ndeferred >= PX__MAX_DEFERRED) {
      memmove(e->deferred, e->deferred + 1,
              (e->ndeferred - 1) * sizeof *e->deferred);
      e->ndeferred--;
    }
    if (e->ndeferred == e->capdeferred) {
      e->capdeferred = e->capdeferred ? e->capdeferred * 2 : 4;
      e->deferred =
          px__xrealloc(e->deferred, e->capdeferred * sizeof *e->deferred);
    }
    e->deferred[e->ndeferred++] = f;
  }
  return f;
}

int px_reply_to(px_from from, px_val value) {
  if (!from.corr) {
    px_val_release(value);
    return PX_EINVAL;
  }
  return reply_with(from, PX__MK_REPLY, value);
}

int px_reply_error_to(px_from from, px_val error) {
  if (!from.corr) {
    px_val_release(error);
    return PX_EINVAL;
  }
  return reply_with(from, PX__MK_REPLY_ERR, error);
}

/* ---- selective receive --------------------------------------------------- */

static px__msg *scan(px__actor *a, px_match_fn match, void *ud) {
  px__msg *prev = NULL;
  for (px__msg *m = a->inbox_head; m;) {
    px__msg *n = (px__msg *)atomic_load_explicit(&m->node.next,
                                                 memory_order_relaxed);
    if (m->kind != PX__MK_INIT && (!match || match(&m->pub, ud))) {
      px__inbox_remove(a, prev, m);
      return m;
    }
    prev = m;
    m = n;
  }
  return NULL;
}

int px_receive(px_match_fn match, void *ud, int64_t timeout_ms,
               px_message **out) {
  *out = NULL;
  px__actor *me = px__current(true);
  if (!me) return PX_ENOTACTOR;
  me->wait_rc = 0;
  bool external = atomic_load_explicit(&me->external, memory_order_relaxed);
  uint64_t deadline =
      timeout_ms > 0 ? px_now_ns() + (uint64_t)timeout_ms * 1000000u : 0;
  px_tref timer = 0;
  int rc = 0;
  for (;;) {
    px__drain_or_die(me);
    px__msg *m = scan(me, match, ud);
    if (m) {
      *out = &m->pub;
      break;
    }
    if (timeout_ms == 0 || (me->wait == PX__W_RECEIVE && me->wait_rc)) {
      rc = PX_ETIMEDOUT;
      break;
    }
    me->wait = PX__W_RECEIVE;
    me->match = match;
    me->match_ud = ud;
    me->wait_ready = 0;
    if (external) {
      if (!px__external_wait(me, deadline)) me->wait_rc = PX_ETIMEDOUT;
      continue;
    }
    if (timeout_ms > 0 && !timer) {
      me->wait_token = ++me->seq;
      me->wait_rc = 0;
      timer = px__timer_add(timeout_ms, 0, px__self_ref(me), PX__MK_WAKE,
                            NULL, px_nil(), me->wait_token);
    } else if (!timer) {
      me->wait_token = ++me->seq;
      me->wait_rc = 0;
    }
    px__wait_park(me);
  }
  if (timer && rc == 0) px__timer_cancel_quiet(timer);
  me->wait = PX__W_NONE;
  me->wait_rc = 0;
  me->match = NULL;
  me->match_ud = NULL;
  return rc;
}

static bool match_nothing(const px_message *m, void *ud) {
  (void)m;
  (void)ud;
  return false;
}

int px_sleep(int64_t ms) {
  px_message *m;
  int rc = px_receive(match_nothing, NULL, ms < 0 ? 0 : ms, &m);
  return rc == PX_ETIMEDOUT ? 0 : rc;
}
