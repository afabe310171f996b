/* GenFSM: gen_statem semantics (SEMANTICS.md section E) on the raw actor.
 *
 * Each mailbox message becomes one event. After its transition the FSM
 * drains its own queue of inserted events (next events, re-queued
 * postponed events, time-0 timeouts) before returning, so those run ahead
 * of every message still in the mailbox, as R-E-4/R-E-5/R-E-10 require.
 * Order at the front of that queue after a transition: next events (in
 * action order), then postponed events (oldest first), then what was
 * queued before.
 *
 * Timeouts are timer messages carrying a token; a timer that is cancelled
 * or restarted gets a new token, so a message from an old timer arrives
 * stale and is dropped without counting as an event. The event timeout of
 * time 0 is a message to self (it fires only if nothing was queued ahead
 * of it, R-E-10/T-E-13); state and generic timeouts of time 0 go to the
 * back of the internal queue. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "actor/actor_impl.h"
#include "behavior/beh.h"
#include "core/mem.h"
#include "plexspaces/core.h"
#include "plexspaces/error.h"
#include "plexspaces/gen_fsm.h"
#include "plexspaces/runtime.h"

typedef struct ev {
  px_fsm_kind kind;
  px_atom type;
  px_val payload; /* owned */
  px_from from;
} ev;

typedef struct evq {
  ev *v;
  size_t n, cap;
} evq;

typedef struct tmr {
  px_atom name; /* generic only */
  bool live;
  uint64_t token;
  px_tref tref; /* 0 for the time-0 self message */
  px_val content;
} tmr;

enum { OP_SET = 0, OP_UPDATE };

typedef struct tmo_op {
  px_fsm_kind kind;
  px_atom name;
  int64_t ms;
  int op;
  bool abs;       /* ms is a point on px_clock_ms() (R-E-11) */
  px_val content; /* owned */
} tmo_op;

struct px_fsm_tx {
  px_atom next;
  px_val reason, error; /* owned */
  bool postpone;
  evq next_events;
  tmo_op *ops;
  size_t nops, capops;
};

enum { PH_INIT = 0, PH_RUNNING, PH_DONE };

typedef struct fsm {
  const px_gen_fsm *def;
  void *data;
  px_atom state;
  px_ref parent;
  int phase;
  int in_cb;
  px_atom *state_atoms;
  evq queue;     /* inserted events, processed before the mailbox */
  evq postponed; /* oldest first */
  tmr event_t, state_t;
  tmr *generic;
  size_t ngeneric, capgeneric;
  px_fsm_tx tx, etx; /* the event's transition, the enter call's */
  ev cur;            /* the event being processed (owned) */
  bool has_cur;
  px_val fail;       /* init failed: exit with this on the next message */
} fsm;

static px_atom a_state_timeout, a_unhandled, a_bad_enter;

/* ---- small helpers ----------------------------------------------------------- */

static void q_insert(evq *q, size_t at, ev e) {
  if (q->n == q->cap) {
    q->cap = q->cap ? q->cap * 2 : 8;
    q->v = px__xrealloc(q->v, q->cap * sizeof *q->v);
  }
  memmove(&q->v[at + 1], &q->v[at], (q->n - at) * sizeof *q->v);
  q->v[at] = e;
  q->n++;
}

static ev q_pop_front(evq *q) {
  ev e = q->v[0];
  memmove(&q->v[0], &q->v[1], (q->n - 1) * sizeof *q->v);
  q->n--;
  return e;
}

static void q_clear(evq *q) {
  for (size_t i = 0; i < q->n; i++) px_val_release(q->v[i].payload);
  q->n = 0;
}

static void q_free(evq *q) {
  q_clear(q);
  free(q->v);
}

static void tx_reset(px_fsm_tx *tx) {
  px_val_release(tx->reason);
  px_val_release(tx->error);
  tx->reason = tx->error = px_nil();
  tx->next = NULL;
  tx->postpone = false;
  q_clear(&tx->next_events);
  for (size_t i = 0; i < tx->nops; i++) px_val_release(tx->ops[i].content);
  tx->nops = 0;
}

static void tx_free(px_fsm_tx *tx) {
  tx_reset(tx);
  free(tx->next_events.v);
  free(tx->ops);
}

static uint64_t new_token(void) {
  static _Atomic(uint64_t) seq;
  /* relaxed: tokens only need to be unique. */
  return atomic_fetch_add_explicit(&seq, 1, memory_order_relaxed) + 1;
}

static void tmr_cancel(tmr *t) {
  if (t->live && t->tref) px_cancel_timer(t->tref);
  px_val_release(t->content);
  t->content = px_nil();
  t->live = false;
  t->tref = 0;
  t->token = 0;
}

static tmr *generic_find(fsm *f, px_atom name, bool create) {
  for (size_t i = 0; i < f->ngeneric; i++)
    if (f->generic[i].name == name) return &f->generic[i];
  if (!create) return NULL;
  if (f->ngeneric == f->capgeneric) {
    f->capgeneric = f->capgeneric ? f->capgeneric * 2 : 4;
    f->generic = px__xrealloc(f->generic, f->capgeneric * sizeof *f->generic);
  }
  tmr *t = &f->generic[f->ngeneric++];
  memset(t, 0, sizeof *t);
  t->name = name;
  t->content = px_nil();
  return t;
}

static px_atom kind_type(px_fsm_kind k, px_atom name) {
  if (k == PX_FSM_TIMEOUT) return px_a()->timeout;
  if (k == PX_FSM_STATE_TIMEOUT) return a_state_timeout;
  return name;
}

/* ---- stopping ---------------------------------------------------------------- */

static _Noreturn void stop_now(fsm *f, px_val reason) {
  if (px_is_nil(reason)) reason = px_atomv(px_a()->normal);
  f->phase = PH_DONE;
  if (f->def->terminate) {
    f->in_cb++;
    f->def->terminate(f->data, f->state, reason);
    f->in_cb--;
  }
  if (!px_reason_is_normal(reason)) {
    char buf[128];
    px_val_format(reason, buf, sizeof buf);
    px_log(PX_LOG_WARN, "gen_fsm", "%s terminating in %s: %s",
           f->def->name ? f->def->name : "?",
           f->state ? px_atom_name(f->state) : "?", buf);
  }
  px_exit_self(reason);
  __builtin_unreachable();
}

/* ---- callbacks --------------------------------------------------------------- */

static px_fsm_state_fn state_fn(fsm *f, px_atom s) {
  for (size_t i = 0; i < f->def->nstates; i++)
    if (f->state_atoms[i] == s) return f->def->states[i].fn;
  return NULL;
}

static px_fsm_result invoke(fsm *f, const px_fsm_event *pe, px_fsm_tx *tx) {
  tx_reset(tx);
  px_fsm_state_fn fn = state_fn(f, f->state);
  px_fsm_result r = PX_FSM_UNHANDLED;
  f->in_cb++;
  if (fn) r = fn(f->data, f->state, pe, tx);
  if (r == PX_FSM_UNHANDLED && f->def->handle_event) {
    tx_reset(tx);
    r = f->def->handle_event(f->data, f->state, pe, tx);
  }
  f->in_cb--;
  if (r == PX_FSM_UNHANDLED) {
    /* Nobody handles it: a call gets an error reply, others are dropped. */
    if (pe->kind == PX_FSM_CALL)
      px__beh_reply(pe->from, true,
                    px_arr(3, px_atomv(a_unhandled), px_atomv(f->state),
                           px_atomv(pe->type)));
    r = PX_FSM_KEEP;
  }
  return r;
}

/* Starts, cancels or updates timeouts as the actions say (R-E-8, R-E-9). */
static void apply_timeouts(fsm *f, px_fsm_tx *tx) {
  for (size_t i = 0; i < tx->nops; i++) {
    tmo_op *op = &tx->ops[i];
    tmr *t = op->kind == PX_FSM_TIMEOUT         ? &f->event_t
             : op->kind == PX_FSM_STATE_TIMEOUT ? &f->state_t
                                                : generic_find(f, op->name, true);
    px_val content = op->content;
    op->content = px_nil();
    int64_t ms = op->ms;
    if (op->op == OP_UPDATE) {
      if (t->live) {
        px_val_release(t->content);
        t->content = content;
        continue;
      }
      ms = 0; /* none running: delivered at once, as time 0 */
    }
    tmr_cancel(t);
    if (ms < 0) { /* infinity: cancel */
      px_val_release(content);
      continue;
    }
    /* R-E-11: an absolute time becomes a timer for what is left of it; a
     * time already reached fires at once as a timer message (behind what
     * is queued), as erlang:start_timer does with {abs, true}. Only the
     * literal time 0 is a zero timeout, as in gen_statem. */
    bool fire_now = false;
    if (op->abs && ms > 0) {
      uint64_t now = px_clock_ms();
      fire_now = (uint64_t)ms <= now;
      ms = fire_now ? 0 : (int64_t)((uint64_t)ms - now);
    }
    if (ms == 0 && op->kind != PX_FSM_TIMEOUT && !fire_now) {
      ev e = {op->kind, kind_type(op->kind, op->name), content, {{0}, 0}};
      q_insert(&f->queue, f->queue.n, e);
      continue;
    }
    t->live = true;
    t->token = new_token();
    t->content = content;
    px_val tok = px_int((int64_t)t->token);
    if (ms == 0)
      px_send(px_self(), px__beh_a()->timeout, tok);
    else
      t->tref = px_send_after(ms, px_self(), px__beh_a()->timeout, tok);
  }
}

/* Inserts the next events at the front, in action order (R-E-5). */
static void insert_next_events(fsm *f, px_fsm_tx *tx) {
  for (size_t i = 0; i < tx->next_events.n; i++)
    q_insert(&f->queue, i, tx->next_events.v[i]);
  tx->next_events.n = 0;
}

static void enter(fsm *f, px_atom old) {
  px_fsm_event pe = {PX_FSM_ENTER, old, px_nil(), {{0}, 0}, old};
  px_fsm_result r = invoke(f, &pe, &f->etx);
  px_fsm_tx *tx = &f->etx;
  if (r == PX_FSM_STOP) {
    px_val reason = tx->reason;
    tx->reason = px_nil();
    stop_now(f, reason);
  }
  /* R-E-7: an enter call cannot change state, postpone or insert. */
  if ((r == PX_FSM_NEXT && tx->next != f->state) || tx->postpone ||
      tx->next_events.n || r > PX_FSM_IGNORE)
    stop_now(f, px_arr(2, px_atomv(a_bad_enter), px_atomv(f->state)));
  apply_timeouts(f, tx);
}

/* Acts on the transition in f->tx for event f->cur (R-E-3..R-E-6). */
static void transition(fsm *f, px_fsm_result r) {
  px_fsm_tx *tx = &f->tx;
  switch (r) {
  case PX_FSM_KEEP:
  case PX_FSM_NEXT:
  case PX_FSM_REPEAT:
    break;
  case PX_FSM_STOP: {
    px_val reason = tx->reason;
    tx->reason = px_nil();
    stop_now(f, reason);
  }
  case PX_FSM_ERROR:
    if (f->cur.kind == PX_FSM_CALL) {
      px__beh_reply(f->cur.from, true, tx->error);
      tx->error = px_nil();
    }
    r = PX_FSM_KEEP;
    break;
  default:
    stop_now(f, px_arr(2, px_atomv(px__beh_a()->bad_return_value),
                       px_int((int64_t)r)));
  }
  if (tx->postpone) {
    q_insert(&f->postponed, f->postponed.n, f->cur);
  } else {
    px_val_release(f->cur.payload);
  }
  f->has_cur = false;
  px_atom old = f->state;
  bool changed = r == PX_FSM_NEXT && tx->next && tx->next != f->state;
  if (changed) {
    f->state = tx->next;
    /* R-E-4: postponed events go back first, oldest first; the state
     * timeout is cancelled. */
    for (size_t i = 0; i < f->postponed.n; i++)
      q_insert(&f->queue, i, f->postponed.v[i]);
    f->postponed.n = 0;
    tmr_cancel(&f->state_t);
  }
  insert_next_events(f, tx);
  apply_timeouts(f, tx);
  if ((changed || r == PX_FSM_REPEAT) && f->def->state_enter) enter(f, old);
}

/* Processes one event; takes ownership of e. */
static void process(fsm *f, ev e) {
  /* R-E-8: any event cancels the event timeout. */
  tmr_cancel(&f->event_t);
  f->cur = e;
  f->has_cur = true;
  px_fsm_event pe = {e.kind, e.type, e.payload, e.from, NULL};
  px_fsm_result r = invoke(f, &pe, &f->tx);
  transition(f, r);
}

static void drain_queue(fsm *f) {
  while (f->queue.n) process(f, q_pop_front(&f->queue));
}

/* ---- the raw actor type ------------------------------------------------------- */

static pthread_once_t atoms_ctl = PTHREAD_ONCE_INIT;

static void atoms_init(void) {
  a_state_timeout = px_atom_of("state_timeout");
  a_unhandled = px_atom_of("unhandled");
  a_bad_enter = px_atom_of("bad_state_enter_return");
}

static int fsm_init(px_val args, void **state) {
  const void *def;
  px_val uargs;
  px_ref parent;
  if (!px__beh_args_get(args, &def, &uargs, &parent)) return PX_EINVAL;
  pthread_once(&atoms_ctl, atoms_init);
  fsm *f = px__xcalloc(1, sizeof *f);
  f->def = def;
  f->parent = parent;
  f->event_t.content = f->state_t.content = px_nil();
  f->fail = px_nil();
  f->tx.reason = f->tx.error = px_nil();
  f->etx.reason = f->etx.error = px_nil();
  if (f->def->nstates) {
    f->state_atoms = px__xmalloc(f->def->nstates * sizeof *f->state_atoms);
    for (size_t i = 0; i < f->def->nstates; i++)
      f->state_atoms[i] = px_atom_of(f->def->states[i].name);
  }
  *state = f;
  px_fsm_result r = PX_FSM_KEEP;
  if (f->def->init) {
    f->in_cb++;
    r = f->def->init(uargs, &f->data, &f->tx);
    f->in_cb--;
  }
  px_atom first = f->tx.next ? f->tx.next
                  : f->def->initial ? px_atom_of(f->def->initial)
                                    : NULL;
  if ((r == PX_FSM_KEEP || r == PX_FSM_NEXT) && first) {
    f->state = first;
    f->phase = PH_RUNNING;
    /* Timers first, then the ack: a starter that sees start return knows
     * init's timeouts exist (virtual-clock tests). */
    insert_next_events(f, &f->tx);
    apply_timeouts(f, &f->tx);
    tx_reset(&f->tx);
    px__beh_ack_ok(parent);
    /* T-E-11: the first state gets enter with OldState = State. */
    if (f->def->state_enter) enter(f, first);
    drain_queue(f);
    return 0;
  }
  f->phase = PH_DONE;
  px_atom status = px__beh_a()->error;
  px_val reason;
  if (r == PX_FSM_IGNORE) {
    status = px__beh_a()->ignore;
    reason = px_atomv(px_a()->normal);
  } else if (r == PX_FSM_STOP) {
    reason = px_is_nil(f->tx.reason) ? px_atomv(px_a()->normal) : f->tx.reason;
    f->tx.reason = px_nil();
  } else {
    reason = px_arr(2, px_atomv(px__beh_a()->bad_return_value),
                    px_int((int64_t)r));
  }
  f->fail = reason;
  px__beh_ack_fail(parent, status, reason);
  return 0;
}

/* Which of our timers a __gen_timeout__ token belongs to, or NULL. */
static tmr *timer_of(fsm *f, uint64_t token, px_fsm_kind *kind) {
  if (f->event_t.live && f->event_t.token == token) {
    *kind = PX_FSM_TIMEOUT;
    return &f->event_t;
  }
  if (f->state_t.live && f->state_t.token == token) {
    *kind = PX_FSM_STATE_TIMEOUT;
    return &f->state_t;
  }
  for (size_t i = 0; i < f->ngeneric; i++)
    if (f->generic[i].live && f->generic[i].token == token) {
      *kind = PX_FSM_GENERIC_TIMEOUT;
      return &f->generic[i];
    }
  return NULL;
}

static void fsm_handle(void *state, const px_message *m) {
  fsm *f = state;
  const px__beh_atoms *A = px__beh_a();
  if (f->phase == PH_DONE) px_exit_self(px_val_retain(f->fail));
  ev e = {PX_FSM_INFO, m->type, px_nil(), {{0}, 0}};
  if (m->type == A->timeout && !m->corr) {
    px_fsm_kind k;
    tmr *t = px_typeof(m->payload) == PX_T_INT
                 ? timer_of(f, (uint64_t)m->payload.u.i, &k)
                 : NULL;
    if (!t) return; /* stale: cancelled or restarted */
    e.kind = k;
    e.type = kind_type(k, t->name);
    e.payload = t->content;
    t->content = px_nil();
    t->live = false;
    t->tref = 0;
    t->token = 0;
  } else {
    px_val reason;
    if (m->type == A->stop && !m->corr) stop_now(f, px_val_retain(m->payload));
    if (px__beh_parent_exit(m, f->parent, &reason))
      stop_now(f, px_val_retain(reason));
    px_atom type;
    px_val payload;
    px_from from;
    if (px__beh_is_call(m, &type, &payload, &from)) {
      e.kind = PX_FSM_CALL;
      e.type = type;
      e.payload = px_val_retain(payload);
      e.from = from;
    } else if (px__beh_uncast(m, &type, &payload)) {
      e.kind = PX_FSM_CAST;
      e.type = type;
      e.payload = px_val_retain(payload);
    } else {
      e.payload = px_val_retain(m->payload);
    }
  }
  process(f, e);
  drain_queue(f);
}

static void fsm_terminate(void *state, px_val reason) {
  fsm *f = state;
  if (!f) return;
  /* Crash rules as for GenServer (see gen_server.c). */
  bool crash = f->in_cb > 0 && px_in_actor() &&
               !px_is_atom(reason, px_a()->killed);
  if (f->phase == PH_INIT && crash) {
    px_unlink(f->parent);
  } else if (f->phase == PH_RUNNING && crash && f->def->terminate) {
    f->phase = PH_DONE;
    f->def->terminate(f->data, f->state, reason);
  }
  if (f->data && f->def->free_data) f->def->free_data(f->data);
  /* Calls among the queued or postponed events were taken over with
   * px_defer_reply: the runtime answers their callers PX_ENOPROC with our
   * exit reason. */
  if (f->has_cur) px_val_release(f->cur.payload);
  q_free(&f->queue);
  q_free(&f->postponed);
  tmr_cancel(&f->event_t);
  tmr_cancel(&f->state_t);
  for (size_t i = 0; i < f->ngeneric; i++) tmr_cancel(&f->generic[i]);
  free(f->generic);
  tx_free(&f->tx);
  tx_free(&f->etx);
  px_val_release(f->fail);
  free(f->state_atoms);
  free(f);
}

static const px_actor_type fsm_type = {
    .name = "gen_fsm",
    .init = fsm_init,
    .handle = fsm_handle,
    .terminate = fsm_terminate,
};

/* ---- transition building ------------------------------------------------------ */

px_fsm_result px_fsm_next(px_fsm_tx *tx, px_atom state) {
  tx->next = state;
  return PX_FSM_NEXT;
}

px_fsm_result px_fsm_stop(px_fsm_tx *tx, px_val reason) {
  px_val_release(tx->reason);
  tx->reason = reason;
  return PX_FSM_STOP;
}

px_fsm_result px_fsm_error(px_fsm_tx *tx, px_val error) {
  px_val_release(tx->error);
  tx->error = error;
  return PX_FSM_ERROR;
}

int px_fsm_reply(px_fsm_tx *tx, px_from from, px_val value) {
  (void)tx;
  return px__beh_reply(from, false, value);
}

void px_fsm_postpone(px_fsm_tx *tx) { tx->postpone = true; }

void px_fsm_next_event(px_fsm_tx *tx, px_fsm_kind kind, px_atom type,
                       px_val payload) {
  ev e = {kind, type, payload, {{0}, 0}};
  q_insert(&tx->next_events, tx->next_events.n, e);
}

static void add_op(px_fsm_tx *tx, px_fsm_kind kind, px_atom name, int64_t ms,
                   int op, px_val content) {
  if (tx->nops == tx->capops) {
    tx->capops = tx->capops ? tx->capops * 2 : 4;
    tx->ops = px__xrealloc(tx->ops, tx->capops * sizeof *tx->ops);
  }
  tx->ops[tx->nops++] = (tmo_op){kind, name, ms, op, false, content};
}

static void add_abs(px_fsm_tx *tx, px_fsm_kind kind, px_atom name,
                    int64_t at_ms, px_val content) {
  add_op(tx, kind, name, at_ms, OP_SET, content);
  tx->ops[tx->nops - 1].abs = true;
}

void px_fsm_event_timeout_abs(px_fsm_tx *tx, int64_t at_ms, px_val content) {
  add_abs(tx, PX_FSM_TIMEOUT, NULL, at_ms, content);
}

void px_fsm_state_timeout_abs(px_fsm_tx *tx, int64_t at_ms, px_val content) {
  add_abs(tx, PX_FSM_STATE_TIMEOUT, NULL, at_ms, content);
}

void px_fsm_generic_timeout_abs(px_fsm_tx *tx, px_atom name, int64_t at_ms,
                                px_val content) {
  add_abs(tx, PX_FSM_GENERIC_TIMEOUT, name, at_ms, content);
}

void px_fsm_event_timeout(px_fsm_tx *tx, int64_t ms, px_val content) {
  add_op(tx, PX_FSM_TIMEOUT, NULL, ms, OP_SET, content);
}

void px_fsm_state_timeout(px_fsm_tx *tx, int64_t ms, px_val content) {
  add_op(tx, PX_FSM_STATE_TIMEOUT, NULL, ms, OP_SET, content);
}

void px_fsm_generic_timeout(px_fsm_tx *tx, px_atom name, int64_t ms,
                            px_val content) {
  add_op(tx, PX_FSM_GENERIC_TIMEOUT, name, ms, OP_SET, content);
}

void px_fsm_timeout_update(px_fsm_tx *tx, px_fsm_kind kind, px_atom name,
                           px_val content) {
  add_op(tx, kind, name, 0, OP_UPDATE, content);
}

/* ---- API -------------------------------------------------------------------- */

int px_gen_fsm_start(const px_gen_fsm *def, px_val args,
                     const px_gen_start_opts *opts, px_ref *out) {
  if (!def || !out) {
    px_val_release(args);
    return PX_EINVAL;
  }
  return px__beh_start(&fsm_type, px__beh_args(def, args, px_self()), opts,
                       false, def->name, out);
}

int px_gen_fsm_start_link(const px_gen_fsm *def, px_val args,
                          const px_gen_start_opts *opts, px_ref *out) {
  if (!def || !out) {
    px_val_release(args);
    return PX_EINVAL;
  }
  return px__beh_start(&fsm_type, px__beh_args(def, args, px_self()), opts,
                       true, def->name, out);
}

int px_gen_fsm_call(px_ref fsm_ref, px_atom type, px_val payload,
                    int64_t timeout_ms, px_val *reply) {
  return px__beh_call(fsm_ref, type, payload,
                      px__beh_call_timeout(timeout_ms), reply);
}

int px_gen_fsm_cast(px_ref fsm_ref, px_atom type, px_val payload) {
  return px__beh_cast(fsm_ref, type, payload);
}

int px_gen_fsm_reply(px_from from, px_val value) {
  return px__beh_reply(from, false, value);
}

int px_gen_fsm_stop(px_ref fsm_ref, px_val reason, int64_t timeout_ms) {
  return px__beh_stop(fsm_ref, reason, timeout_ms);
}
