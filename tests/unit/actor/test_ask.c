/* Runtime features: ask (timeouts, late replies, deferred replies, a
 * server dying), selective receive in handlers and external threads. */
#include "unit/actor/px_agent.h"

static void setup(void) { rt_start(); }
static void teardown(void) {
  atomic_store(&gate_open, 1);
  rt_stop();
}

TestSuite(ask, .init = setup, .fini = teardown, .timeout = 60);

/* A server: "slow" asks are deferred; "release" answers them late;
 * "hand" passes the deferred reply to another actor to answer; "crash"
 * defers then dies; "err" replies with an error. */
typedef struct srv {
  px_from pending[8];
  int n;
} srv;
static int srv_init(px_val args, void **state) {
  (void)args;
  *state = calloc(1, sizeof(srv));
  return 0;
}
static void srv_handle(void *st, const px_message *m) {
  srv *s = st;
  if (m->type == AT("slow")) {
    s->pending[s->n++] = px_defer_reply(m);
    report("deferred", px_nil());
  } else if (m->type == AT("release")) {
    for (int i = 0; i < s->n; i++) px_reply_to(s->pending[i], A("late"));
    s->n = 0;
    px_reply(m, A("released"));
  } else if (m->type == AT("hand")) {
    /* payload = helper ref: it answers for us. */
    px_from f = px_defer_reply(m);
    px_ref helper;
    cr_assert(px_val_ref(m->payload, &helper));
    px_send(helper, AT("answer"),
            px_arr(3, px_ref_val(f.to), px_int((int64_t)f.corr),
                   px_str("from helper")));
  } else if (m->type == AT("crash_deferred")) {
    px_defer_reply(m);
    px_exit_self(A("crashed"));
  } else if (m->type == AT("crash_now")) {
    px_exit_self(px_arr(2, A("error"), px_str("mid-ask")));
  } else if (m->type == AT("err")) {
    px_reply_error(m, px_str("bad request"));
  } else if (m->type == AT("twice")) {
    int rc1 = px_reply(m, px_int(1));
    int rc2 = px_reply(m, px_int(2));
    report("twice", px_arr(2, px_int(rc1), px_int(rc2)));
  } else if (m->corr) {
    px_reply(m, px_val_retain(m->payload));
  } else {
    report("plain", px_int(px_reply(m, px_nil())));
  }
}
static void srv_term(void *st, px_val r) {
  (void)r;
  free(st);
}
static const px_actor_type srv_type = {
    .name = "srv", .init = srv_init, .handle = srv_handle,
    .terminate = srv_term};

static px_ref spawn_srv(void) {
  px_ref r;
  cr_assert_eq(px_spawn(&srv_type, px_nil(), NULL, &r), 0);
  return r;
}

Test(ask, echo_from_external_and_from_actor) {
  px_ref s = spawn_srv();
  px_val r;
  cr_assert_eq(px_ask(s, AT("echo"), px_str("hi"), WAIT_MS, &r), 0);
  cr_assert_str_eq(px_str_ptr(r), "hi");
  px_val_release(r);
  px_ref a = spawn_agent(NULL);
  cr_assert_eq(px_ask(a, AT("echo"), px_int(3), -1, &r), 0);
  cr_assert_eq(r.u.i, 3);
}

Test(ask, errors) {
  px_ref s = spawn_srv();
  px_val r;
  cr_assert_eq(px_ask(s, AT("err"), px_nil(), WAIT_MS, &r), PX_EHANDLER);
  cr_assert_str_eq(px_str_ptr(r), "bad request");
  px_val_release(r);
  cr_assert_eq(px_ask(s, AT("twice"), px_nil(), WAIT_MS, &r), 0);
  cr_assert_eq(r.u.i, 1);
  px_message *m = recv_type(AT("twice"));
  cr_assert_eq(px_at(m->payload, 1).u.i, PX_EINVAL, "a second reply fails");
  px_message_free(m);
  px_send(s, AT("plain"), px_nil());
  m = recv_type(AT("plain"));
  cr_assert_eq(m->payload.u.i, PX_EINVAL, "reply to a plain message fails");
  px_message_free(m);
  kill_and_wait(s);
  cr_assert_eq(px_ask(s, AT("echo"), px_nil(), WAIT_MS, &r), PX_ENOPROC);
  cr_assert(reason_is(r, "noproc"));
}

static void body_ask_self(agent *ag, px_val arg, const px_message *m) {
  (void)ag;
  (void)arg;
  px_val r;
  px_reply(m, px_int(px_ask(px_self(), AT("x"), px_nil(), 10, &r)));
}

Test(ask, ask_self_is_deadlock) {
  px_ref a = spawn_agent(NULL);
  px_val rc;
  cr_assert_eq(agent_call_r(a, body_ask_self, px_nil(), &rc), 0);
  cr_assert_eq(rc.u.i, PX_EDEADLOCK);
  px_val r;
  cr_assert_eq(px_ask(px_self(), AT("x"), px_nil(), 10, &r), PX_EDEADLOCK);
}

static void body_ask_slow(agent *ag, px_val arg, const px_message *msg) {
  (void)ag;
  (void)msg;
  px_ref s;
  cr_assert(px_val_ref(arg, &s));
  px_val r;
  int rc1 = px_ask(s, AT("slow"), px_nil(), 100, &r);
  px_val_release(r);
  uint64_t at = px_clock_ms();
  int rc2 = px_ask(s, AT("release"), px_nil(), -1, &r); /* late reply first */
  px_val_release(r);
  px_message *m;
  int rc3 = px_receive(NULL, NULL, 0, &m);
  if (rc3 == 0) px_message_free(m);
  int rc4 = px_ask(s, AT("echo"), px_int(9), 1000, &r);
  report("results", px_arr(6, px_int(rc1), px_int(rc2), px_int(rc3),
                           px_int(rc4), r, px_int((int64_t)at)));
}

Test(ask, timeout_drops_late_reply_and_next_ask_works) {
  px_ref s = spawn_srv(), a = spawn_agent(NULL);
  agent_do(a, body_ask_slow, px_ref_val(s));
  px_message_free(recv_type(AT("deferred")));
  wait_timers(1);
  px_clock_advance(99);
  cr_assert(none_queued(AT("results")));
  px_clock_advance(1);
  px_message *m = recv_type(AT("results"));
  cr_assert_eq(px_at(m->payload, 0).u.i, PX_ETIMEDOUT);
  cr_assert_eq(px_at(m->payload, 1).u.i, 0);
  cr_assert_eq(px_at(m->payload, 2).u.i, PX_ETIMEDOUT,
               "the late reply reached the asker's mailbox");
  cr_assert_eq(px_at(m->payload, 3).u.i, 0);
  cr_assert_eq(px_at(m->payload, 4).u.i, 9);
  cr_assert_eq(px_at(m->payload, 5).u.i, 100, "timed out at t=100");
  px_message_free(m);
  cr_assert_eq(px_timer_count(), 0, "answered asks cancel their timers");
}

/* The external thread's asks time out on the real clock. */
Test(ask, external_timeout_drops_late_reply) {
  px_ref s = spawn_srv();
  px_val r;
  cr_assert_eq(px_ask(s, AT("slow"), px_nil(), 20, &r), PX_ETIMEDOUT);
  px_message_free(recv_type(AT("deferred")));
  cr_assert_eq(px_ask(s, AT("release"), px_nil(), WAIT_MS, &r), 0);
  cr_assert(reason_is(r, "released"));
  cr_assert(mailbox_empty(), "no late reply in the mailbox");
  cr_assert_eq(px_ask(s, AT("echo"), px_int(4), WAIT_MS, &r), 0);
  cr_assert_eq(r.u.i, 4);
}

static int helper_init(px_val args, void **state) {
  (void)args;
  *state = NULL;
  return 0;
}
static void helper_handle(void *st, const px_message *m) {
  (void)st;
  if (m->type != AT("answer")) return;
  px_from f;
  cr_assert(px_val_ref(px_at(m->payload, 0), &f.to));
  f.corr = (uint64_t)px_at(m->payload, 1).u.i;
  cr_assert_eq(px_reply_to(f, px_val_retain(px_at(m->payload, 2))), 0);
}
static const px_actor_type helper_type = {
    .name = "helper", .init = helper_init, .handle = helper_handle};

Test(ask, deferred_reply_from_another_actor) {
  px_ref s = spawn_srv(), h;
  cr_assert_eq(px_spawn(&helper_type, px_nil(), NULL, &h), 0);
  px_val r;
  cr_assert_eq(px_ask(s, AT("hand"), px_ref_val(h), WAIT_MS, &r), 0);
  cr_assert_str_eq(px_str_ptr(r), "from helper");
  px_val_release(r);
  px_from bad = {px_ref_nil(), 0};
  cr_assert_eq(px_reply_to(bad, px_nil()), PX_EINVAL);
}

Test(ask, server_dies_before_replying) {
  px_ref s = spawn_srv();
  px_val r;
  cr_assert_eq(px_ask(s, AT("crash_deferred"), px_nil(), WAIT_MS, &r),
               PX_ENOPROC);
  char rb[64];
  cr_assert(reason_is(r, "crashed"), "the reason comes back: %s",
            reason_str(r, rb, sizeof rb));
  px_val_release(r);
  s = spawn_srv();
  cr_assert_eq(px_ask(s, AT("crash_now"), px_nil(), WAIT_MS, &r), PX_ENOPROC);
  px_val want = px_arr(2, A("error"), px_str("mid-ask"));
  cr_assert(px_val_equal(r, want));
  px_val_release(want);
  px_val_release(r);
}

/* ---- receive ------------------------------------------------------------------ */

static bool match_b(const px_message *m, void *ud) {
  (void)ud;
  return m->type == AT("b");
}

static void body_recv_timeout(agent *ag, px_val arg, const px_message *msg) {
  (void)ag;
  (void)msg;
  px_message *m;
  int rc = px_receive(match_b, NULL, arg.u.i, &m);
  if (rc == 0) px_message_free(m);
  report("rc", px_arr(2, px_int(rc), px_int((int64_t)px_clock_ms())));
}

Test(ask, receive_timeout_in_handler_uses_virtual_clock) {
  px_ref a = spawn_agent(NULL);
  agent_do(a, body_recv_timeout, px_int(250));
  wait_timers(1);
  px_send(a, AT("x"), px_nil()); /* not a match */
  px_clock_advance(249);
  cr_assert(none_queued(AT("rc")));
  px_clock_advance(1);
  px_message *m = recv_type(AT("rc"));
  cr_assert_eq(px_at(m->payload, 0).u.i, PX_ETIMEDOUT);
  cr_assert_eq(px_at(m->payload, 1).u.i, 250);
  px_message_free(m);
  cr_assert_eq(px_timer_count(), 0);
  px_message_free(expect_got("x")); /* still there, handled after */
}

static bool match_type_b(const px_message *m, void *ud) {
  (void)ud;
  return m->type == AT("b");
}

Test(ask, receive_from_external_thread) {
  px_ref q = spawn_agent(NULL);
  agent_call(q, body_send, px_arr(3, px_ref_val(g_test), A("a"), px_nil()));
  agent_call(q, body_send, px_arr(3, px_ref_val(g_test), A("b"), px_nil()));
  agent_call(q, body_send, px_arr(3, px_ref_val(g_test), A("c"), px_nil()));
  px_message *m;
  cr_assert_eq(px_receive(match_type_b, NULL, 0, &m), 0);
  cr_assert_eq(m->type, AT("b"));
  cr_assert(px_ref_eq(m->from, q));
  px_message_free(m);
  cr_assert_eq(px_receive(NULL, NULL, 0, &m), 0);
  cr_assert_eq(m->type, AT("a"));
  px_message_free(m);
  cr_assert_eq(px_receive(NULL, NULL, 0, &m), 0);
  cr_assert_eq(m->type, AT("c"));
  px_message_free(m);
  cr_assert_eq(px_receive(NULL, NULL, 0, &m), PX_ETIMEDOUT);
  cr_assert_null(m);
  /* A real-clock timeout from an external thread. */
  uint64_t t0 = px_now_ms();
  cr_assert_eq(px_receive(match_type_b, NULL, 30, &m), PX_ETIMEDOUT);
  cr_assert_geq(px_now_ms() - t0, 29);
  /* A message that arrives while waiting ends the wait. */
  agent_do(q, body_send, px_arr(3, px_ref_val(g_test), A("b"), px_nil()));
  cr_assert_eq(px_receive(match_type_b, NULL, WAIT_MS, &m), 0);
  px_message_free(m);
}

Test(ask, receive_outside_actor_needs_no_handler) {
  cr_assert(!px_in_actor());
  cr_assert_null(px_self_state());
  cr_assert_eq(px_exit_self(A("x")), PX_ENOTACTOR);
}
