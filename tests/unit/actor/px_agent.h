/* Test support for the actor tests (conformance, unit, stress).
 *
 * An "agent" is a scriptable actor: the test thread (an external caller,
 * which the runtime gives a proxy actor that always traps exits) sends it
 * `do` messages carrying a C function to run inside the agent's handler, so
 * a test can make an actor link, trap, receive, ask or die at a chosen
 * point. Everything else an agent receives is forwarded to the test thread
 * as `got` [type, payload, from], in the order the agent handled it; asks
 * are echoed back.
 *
 * Synchronisation is by messages only: agent_call() (an ask) returns after
 * the body ran, and per-sender FIFO then orders whatever the body sent
 * before the reply. WAIT_MS bounds how long a test waits for something
 * that must happen; it is a failure bound, never a synchronisation delay. */
#ifndef PX_TEST_AGENT_H
#define PX_TEST_AGENT_H

#include <criterion/criterion.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plexspaces/px.h"

#define WAIT_MS 20000

static px_ref g_test; /* the test thread's proxy */

static inline px_atom AT(const char *s) { return px_atom_of(s); }
static inline px_val A(const char *s) { return px_atomv(px_atom_of(s)); }

static inline void rt_start_opts(bool virtual_clock, size_t stack) {
  px_runtime_opts o;
  memset(&o, 0, sizeof o);
  o.workers = 2;
  o.virtual_clock = virtual_clock;
  o.stack_size = stack;
  cr_assert_eq(px_runtime_start(&o), 0);
  g_test = px_self();
  cr_assert(!px_ref_is_nil(g_test));
}
static inline void rt_start(void) { rt_start_opts(true, 0); }
static inline void rt_stop(void) { px_runtime_stop(); }

/* Spins (yielding) until cond holds; fails the test after WAIT_MS. */
#define WAIT_UNTIL(cond)                                                   \
  do {                                                                     \
    uint64_t wu_t0_ = px_now_ms();                                         \
    while (!(cond)) {                                                      \
      cr_assert(px_now_ms() - wu_t0_ < WAIT_MS, "timed out: %s", #cond);   \
      sched_yield();                                                       \
    }                                                                      \
  } while (0)

/* ---- the agent ---------------------------------------------------------- */

typedef struct agent {
  px_ref self;
  int64_t counter;
  void *user;
} agent;

/* A body runs in the agent's handler; msg is NULL when run by init. */
typedef void (*agent_fn)(agent *ag, px_val arg, const px_message *msg);

static inline px_val fn_val(agent_fn f) { return px_int((int64_t)(intptr_t)f); }
static inline agent_fn val_fn(px_val v) {
  return (agent_fn)(intptr_t)px_at(v, 0).u.i;
}

static inline int agent_init(px_val args, void **state) {
  agent *ag = calloc(1, sizeof *ag);
  ag->self = px_self();
  *state = ag;
  if (px_typeof(px_at(args, 0)) == PX_T_INT) val_fn(args)(ag, px_at(args, 1), NULL);
  return 0;
}

static inline void report(const char *tag, px_val v) { px_send(g_test, AT(tag), v); }

static inline void agent_handle(void *st, const px_message *m) {
  agent *ag = st;
  if (m->type == AT("do")) {
    val_fn(m->payload)(ag, px_at(m->payload, 1), m);
    if (m->corr) px_reply(m, px_nil()); /* PX_EINVAL if the body replied */
    return;
  }
  if (m->corr) {
    px_reply(m, px_val_retain(m->payload));
    return;
  }
  report("got", px_arr(3, px_atomv(m->type), px_val_retain(m->payload),
                       px_ref_val(m->from)));
}

static inline void agent_terminate(void *st, px_val reason) {
  (void)reason;
  free(st);
}

static const px_actor_type agent_type = {
    .name = "agent",
    .init = agent_init,
    .handle = agent_handle,
    .terminate = agent_terminate,
};

static inline px_val agent_args(agent_fn init_fn, px_val init_arg) {
  return px_arr(2, init_fn ? fn_val(init_fn) : px_nil(), init_arg);
}

static inline px_ref spawn_typed(const px_actor_type *ty, agent_fn init_fn,
                                 px_val init_arg, const px_spawn_opts *o) {
  px_ref r;
  int rc = px_spawn(ty, agent_args(init_fn, init_arg), o, &r);
  cr_assert_eq(rc, 0, "spawn: %s", px_err_name(rc));
  return r;
}
static inline px_ref spawn_agent(const px_spawn_opts *o) {
  return spawn_typed(&agent_type, NULL, px_nil(), o);
}
static inline px_ref spawn_trapping(void) {
  px_spawn_opts o = {.trap_exit = true};
  return spawn_agent(&o);
}

/* Runs fn(arg) in the agent's handler, asynchronously. */
static inline void agent_do(px_ref a, agent_fn fn, px_val arg) {
  px_send(a, AT("do"), px_arr(2, fn_val(fn), arg));
}
/* Runs fn(arg) in the agent's handler and waits for it to finish; returns
 * the ask's status (the reply, if wanted, goes to *reply). */
static inline int agent_call_r(px_ref a, agent_fn fn, px_val arg,
                               px_val *reply) {
  px_val r;
  int rc = px_ask(a, AT("do"), px_arr(2, fn_val(fn), arg), WAIT_MS, &r);
  if (reply)
    *reply = r;
  else
    px_val_release(r);
  return rc;
}
static inline void agent_call(px_ref a, agent_fn fn, px_val arg) {
  int rc = agent_call_r(a, fn, arg, NULL);
  cr_assert_eq(rc, 0, "agent_call: %s", px_err_name(rc));
}
/* Round trip: everything the test sent to `a` before was handled. */
static inline void agent_sync(px_ref a) {
  px_val r;
  int rc = px_ask(a, AT("ping"), px_nil(), WAIT_MS, &r);
  cr_assert_eq(rc, 0, "sync: %s", px_err_name(rc));
  px_val_release(r);
}

/* ---- common bodies -------------------------------------------------------- */

static inline void body_exit(agent *ag, px_val arg, const px_message *m) {
  (void)ag;
  (void)m;
  px_exit_self(px_val_retain(arg));
}
static inline void body_link(agent *ag, px_val arg, const px_message *m) {
  (void)ag;
  px_ref to;
  cr_assert(px_val_ref(arg, &to));
  int rc = px_link(to);
  if (m && m->corr) px_reply(m, px_int(rc));
}
static inline void body_unlink(agent *ag, px_val arg, const px_message *m) {
  (void)ag;
  (void)m;
  px_ref to;
  cr_assert(px_val_ref(arg, &to));
  px_unlink(to);
}
static inline void body_trap(agent *ag, px_val arg, const px_message *m) {
  (void)ag;
  (void)m;
  px_trap_exit(arg.u.b);
}
/* arg = [ref, reason]: px_exit(ref, reason). */
static inline void body_send_exit(agent *ag, px_val arg, const px_message *m) {
  (void)ag;
  (void)m;
  px_ref to;
  cr_assert(px_val_ref(px_at(arg, 0), &to));
  px_exit(to, px_val_retain(px_at(arg, 1)));
}
/* arg = [ref, type, payload]: px_send. */
static inline void body_send(agent *ag, px_val arg, const px_message *m) {
  (void)ag;
  (void)m;
  px_ref to;
  cr_assert(px_val_ref(px_at(arg, 0), &to));
  px_send(to, px_at(arg, 1).u.a, px_val_retain(px_at(arg, 2)));
}

/* ---- gates: hold an agent inside a handler without draining ------------ */

static _Atomic int gate_open;
static _Atomic int gate_entered;

static inline void body_gate(agent *ag, px_val arg, const px_message *m) {
  (void)ag;
  (void)arg;
  (void)m;
  atomic_fetch_add(&gate_entered, 1);
  while (!atomic_load(&gate_open)) sched_yield();
}

/* ---- the test thread's mailbox ------------------------------------------ */

static inline bool match_type(const px_message *m, void *ud) {
  return m->type == (px_atom)ud;
}
static inline bool match_any(const px_message *m, void *ud) {
  (void)m;
  (void)ud;
  return true;
}

static inline px_message *recv_type_ms(px_atom t, int64_t ms) {
  px_message *m = NULL;
  int rc = px_receive(match_type, (void *)t, ms, &m);
  cr_assert_eq(rc, 0, "no %s message: %s", px_atom_name(t), px_err_name(rc));
  return m;
}
static inline px_message *recv_type(px_atom t) {
  return recv_type_ms(t, WAIT_MS);
}
/* True when no message of type t is queued right now. */
static inline bool none_queued(px_atom t) {
  px_message *m = NULL;
  int rc = px_receive(match_type, (void *)t, 0, &m);
  if (rc == 0) {
    char b[256];
    px_val_format(m->payload, b, sizeof b);
    cr_log_error("unexpected %s %s", px_atom_name(t), b);
    px_message_free(m);
    return false;
  }
  return rc == PX_ETIMEDOUT;
}
static inline bool mailbox_empty(void) {
  px_message *m = NULL;
  int rc = px_receive(NULL, NULL, 0, &m);
  if (rc == 0) {
    char b[256];
    px_val_format(m->payload, b, sizeof b);
    cr_log_error("unexpected %s %s", px_atom_name(m->type), b);
    px_message_free(m);
    return false;
  }
  return true;
}

/* A `got` forwarded by an agent. */
static inline px_atom got_type(const px_message *m) {
  return px_at(m->payload, 0).u.a;
}
static inline px_val got_payload(const px_message *m) {
  return px_at(m->payload, 1);
}
static inline px_message *recv_got(void) { return recv_type(AT("got")); }
/* Receives the next `got` and checks its type; returns it. */
static inline px_message *expect_got(const char *type) {
  px_message *m = recv_got();
  cr_assert_eq(got_type(m), AT(type), "expected %s, got %s", type,
               px_atom_name(got_type(m)));
  return m;
}

static inline bool reason_is(px_val r, const char *atom) {
  return px_is_atom(r, px_atom_of(atom));
}
static inline const char *reason_str(px_val r, char *b, size_t cap) {
  px_val_format(r, b, cap);
  return b;
}

/* ---- DOWN and EXIT payloads ----------------------------------------------- */

static inline px_val down_reason(px_val payload) {
  return px_get(payload, px_atomv(px_a()->down_reason));
}
static inline px_mref down_mref(px_val payload) {
  return (px_mref)px_get(payload, px_atomv(px_a()->monitor_ref)).u.i;
}
static inline px_ref down_from(px_val payload) {
  px_ref r = px_ref_nil();
  px_val_ref(px_get(payload, px_atomv(px_a()->down_from)), &r);
  return r;
}
static inline px_val exit_reason(px_val payload) {
  return px_get(payload, px_atomv(px_a()->exit_reason));
}
static inline px_ref exit_from(px_val payload) {
  px_ref r = px_ref_nil();
  px_val_ref(px_get(payload, px_atomv(px_a()->exit_from)), &r);
  return r;
}

static inline bool match_down(const px_message *m, void *ud) {
  return m->type == px_a()->down_msg &&
         down_mref(m->payload) == *(px_mref *)ud;
}
/* Waits for the DOWN of mref; returns its reason (a new value). */
static inline px_val wait_down(px_mref mref) {
  px_message *m = NULL;
  int rc = px_receive(match_down, &mref, WAIT_MS, &m);
  cr_assert_eq(rc, 0, "no DOWN for mref %llu: %s", (unsigned long long)mref,
               px_err_name(rc));
  px_val r = px_val_retain(down_reason(m->payload));
  px_message_free(m);
  return r;
}
static inline bool down_queued(px_mref mref) {
  px_message *m = NULL;
  if (px_receive(match_down, &mref, 0, &m) == 0) {
    px_message_free(m);
    return true;
  }
  return false;
}
typedef struct down_peek_ud {
  px_mref mref;
  bool seen;
} down_peek_ud;
static inline bool match_peek_down(const px_message *m, void *ud) {
  down_peek_ud *p = ud;
  if (m->type == px_a()->down_msg && down_mref(m->payload) == p->mref)
    p->seen = true;
  return false; /* leave it where it is */
}
/* True when the DOWN of mref is queued; it stays queued. */
static inline bool down_peek(px_mref mref) {
  down_peek_ud p = {mref, false};
  px_message *m = NULL;
  px_receive(match_peek_down, &p, 0, &m);
  return p.seen;
}
/* Waits for the DOWN of mref and checks its reason is the atom `r`. */
#define EXPECT_DOWN(mref, r)                                                \
  do {                                                                      \
    px_val dr_ = wait_down(mref);                                           \
    char db_[128];                                                          \
    cr_assert(reason_is(dr_, r), "DOWN reason %s, want %s",                 \
              reason_str(dr_, db_, sizeof db_), r);                         \
    px_val_release(dr_);                                                    \
  } while (0)

/* Kills a and waits until it is gone (test thread). */
static inline void kill_and_wait(px_ref a) {
  px_mref m = px_monitor(a);
  px_exit(a, A("kill"));
  px_val r = wait_down(m);
  px_val_release(r);
}

/* Stats of one type by name (zeroed if absent). */
static inline px_type_stats stats_of(const char *name) {
  px_type_stats s[64], z;
  memset(&z, 0, sizeof z);
  size_t n = px_stats_types(s, 64);
  for (size_t i = 0; i < n && i < 64; i++)
    if (strcmp(s[i].type, name) == 0) return s[i];
  return z;
}

/* Waits until exactly n timers are pending (the timer service is under a
 * mutex, so this is a poll of a condition, not a sleep). */
static inline void wait_timers(size_t n) { WAIT_UNTIL(px_timer_count() == n); }

#endif
