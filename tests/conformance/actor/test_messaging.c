/* Conformance: SEMANTICS.md section A, processes and messaging.
 *
 * One test per T-A case and per R-A rule that has no T-case. The test
 * thread is an external caller (its proxy always traps exits); the actors
 * under test are "agents" (see unit/actor/px_agent.h). Timing uses the
 * virtual clock; there are no sleeps. */
#include "unit/actor/px_agent.h"

static void setup(void) { rt_start(); }
static void teardown(void) {
  atomic_store(&gate_open, 1); /* never leave an agent spinning */
  rt_stop();
}

TestSuite(actor, .init = setup, .fini = teardown, .timeout = 60);

/* ---- bodies --------------------------------------------------------------- */

static bool match_b(const px_message *m, void *ud) {
  (void)ud;
  return m->type == AT("b");
}

/* T-A-5: takes b first, then whatever is left, oldest first. */
static void body_selective(agent *ag, px_val arg, const px_message *msg) {
  (void)ag;
  (void)arg;
  (void)msg;
  px_message *m;
  px_val out = px_array_new(4);
  cr_assert_eq(px_receive(match_b, NULL, -1, &m), 0);
  px_array_push(&out, px_atomv(m->type));
  px_message_free(m);
  for (int i = 0; i < 2; i++) {
    cr_assert_eq(px_receive(NULL, NULL, -1, &m), 0);
    px_array_push(&out, px_atomv(m->type));
    px_message_free(m);
  }
  /* Nothing else is left. */
  px_array_push(&out, px_int(px_receive(NULL, NULL, 0, &m)));
  report("order", out);
}

/* Receive with timeout arg ms; reports "timeout" or the message type. */
static void body_recv_after(agent *ag, px_val arg, const px_message *msg) {
  (void)ag;
  (void)msg;
  px_message *m;
  int rc = px_receive(match_b, NULL, arg.u.i, &m);
  if (rc == PX_ETIMEDOUT) {
    report("result", A("timeout"));
  } else {
    cr_assert_eq(rc, 0);
    report("result", px_atomv(m->type));
    px_message_free(m);
  }
}

/* ---- T-A cases -------------------------------------------------------------- */

Test(actor, T_A_1_in_order_from_one_sender) {
  px_ref p = spawn_agent(NULL);
  px_send(p, AT("m1"), px_int(1));
  px_send(p, AT("m2"), px_int(2));
  px_send(p, AT("m3"), px_int(3));
  const char *want[] = {"m1", "m2", "m3"};
  for (int i = 0; i < 3; i++) {
    px_message *m = expect_got(want[i]);
    cr_assert_eq(got_payload(m).u.i, i + 1);
    px_message_free(m);
  }
}

/* Q1 and Q2 send 2000 numbered messages each to P (the test thread). */
static void body_send_seq(agent *ag, px_val arg, const px_message *msg) {
  (void)ag;
  (void)msg;
  for (int64_t i = 0; i < arg.u.i; i++) px_send(g_test, AT("seq"), px_int(i));
}

Test(actor, T_A_2_per_sender_order_two_senders) {
  px_ref q1 = spawn_agent(NULL), q2 = spawn_agent(NULL);
  const int64_t n = 2000;
  agent_do(q1, body_send_seq, px_int(n));
  agent_do(q2, body_send_seq, px_int(n));
  int64_t next1 = 0, next2 = 0;
  for (int64_t i = 0; i < 2 * n; i++) {
    px_message *m = recv_type(AT("seq"));
    if (px_ref_eq(m->from, q1))
      cr_assert_eq(m->payload.u.i, next1++);
    else if (px_ref_eq(m->from, q2))
      cr_assert_eq(m->payload.u.i, next2++);
    else
      cr_assert_fail("message from an unknown sender");
    px_message_free(m);
  }
  cr_assert_eq(next1, n);
  cr_assert_eq(next2, n);
}

static const px_actor_type victim_type = {
    .name = "victim",
    .init = agent_init,
    .handle = agent_handle,
    .terminate = agent_terminate,
};

Test(actor, T_A_3_send_to_dead_pid_is_silent) {
  px_ref p = spawn_typed(&victim_type, NULL, px_nil(), NULL);
  kill_and_wait(p);
  px_type_stats before = stats_of("victim");
  cr_assert_eq(px_send(p, AT("m"), px_str("lost")), 0);
  cr_assert_eq(px_send(p, AT("m"), px_nil()), 0);
  /* Nothing was handled by any victim, and nothing came back. */
  px_ref q = spawn_agent(NULL);
  agent_sync(q);
  px_type_stats after = stats_of("victim");
  cr_assert_eq(after.messages, before.messages);
  cr_assert(mailbox_empty());
}

Test(actor, T_A_5_selective_receive_keeps_order) {
  px_ref p = spawn_agent(NULL);
  agent_do(p, body_selective, px_nil());
  px_send(p, AT("a"), px_nil());
  px_send(p, AT("b"), px_nil());
  px_send(p, AT("c"), px_nil());
  px_message *m = recv_type(AT("order"));
  cr_assert_eq(px_len(m->payload), 4);
  cr_assert(reason_is(px_at(m->payload, 0), "b"));
  cr_assert(reason_is(px_at(m->payload, 1), "a"));
  cr_assert(reason_is(px_at(m->payload, 2), "c"));
  cr_assert_eq(px_at(m->payload, 3).u.i, PX_ETIMEDOUT);
  px_message_free(m);
}

Test(actor, T_A_6_receive_after_0_times_out_immediately) {
  px_ref p = spawn_agent(NULL);
  agent_do(p, body_recv_after, px_int(0));
  px_message *m = recv_type(AT("result"));
  cr_assert(reason_is(m->payload, "timeout"));
  px_message_free(m);
  /* "after 0" never starts a timer, and the clock did not move. */
  cr_assert_eq(px_timer_count(), 0);
  cr_assert_eq(px_clock_ms(), 0);
}

Test(actor, T_A_7_message_before_timeout_wins) {
  px_ref p = spawn_agent(NULL);
  agent_do(p, body_recv_after, px_int(100));
  wait_timers(1); /* the receive is armed */
  px_clock_advance(50);
  cr_assert(none_queued(AT("result")));
  px_send(p, AT("b"), px_nil());
  px_message *m = recv_type(AT("result"));
  cr_assert(reason_is(m->payload, "b"), "the message branch runs");
  px_message_free(m);
  cr_assert_eq(px_clock_ms(), 50);
  /* The timeout was cancelled and never runs. */
  cr_assert_eq(px_timer_count(), 0);
  px_clock_advance(200);
  agent_sync(p);
  cr_assert(none_queued(AT("result")));
}

Test(actor, T_A_9_register_taken_name_fails) {
  px_ref p1 = spawn_agent(NULL), p2 = spawn_agent(NULL), r;
  cr_assert_eq(px_register("foo", p1), 0);
  cr_assert_eq(px_register("foo", p2), PX_ENAMETAKEN);
  cr_assert_eq(px_whereis("foo", &r), 0);
  cr_assert(px_ref_eq(r, p1), "P1 keeps the name");
}

Test(actor, T_A_10_second_name_fails) {
  px_ref p = spawn_agent(NULL), r;
  cr_assert_eq(px_register("foo", p), 0);
  cr_assert_eq(px_register("bar", p), PX_EHASNAME);
  cr_assert_eq(px_whereis("bar", &r), PX_EBADNAME);
  cr_assert_eq(px_whereis("foo", &r), 0);
  cr_assert(px_ref_eq(r, p));
}

static void init_die_boom(agent *ag, px_val arg, const px_message *m) {
  (void)ag;
  (void)arg;
  (void)m;
  px_exit_self(A("boom"));
}

static void body_spawn_link_dying_child(agent *ag, px_val arg,
                                        const px_message *m) {
  (void)ag;
  (void)arg;
  (void)m;
  px_spawn_opts o = {.link = true};
  px_ref child;
  cr_assert_eq(px_spawn(&agent_type, agent_args(init_die_boom, px_nil()), &o,
                        &child),
               0);
  /* Keep the parent in the handler: it must still die, with boom. */
  px_message *msg;
  px_receive(NULL, NULL, -1, &msg);
  report("survived", px_nil());
}

Test(actor, T_A_11_spawn_link_child_dies_immediately) {
  px_ref parent = spawn_agent(NULL);
  px_mref mon = px_monitor(parent);
  agent_do(parent, body_spawn_link_dying_child, px_nil());
  EXPECT_DOWN(mon, "boom");
  cr_assert(none_queued(AT("survived")));
}

Test(actor, T_A_13_new_pid_differs_from_dead_pid) {
  px_ref old = spawn_agent(NULL);
  kill_and_wait(old);
  for (int i = 0; i < 100; i++) {
    px_ref n = spawn_agent(NULL);
    cr_assert(!px_ref_eq(n, old));
    kill_and_wait(n);
  }
}

/* Bounded mailboxes: a gate keeps P inside a handler (not draining), so
 * its queue fills deterministically. */
static px_ref spawn_bounded(const px_actor_type *ty, px_mbox_policy pol,
                            size_t cap) {
  px_spawn_opts o = {.mailbox_cap = cap, .mailbox_policy = pol};
  px_ref p = spawn_typed(ty, NULL, px_nil(), &o);
  atomic_store(&gate_open, 0);
  atomic_store(&gate_entered, 0);
  agent_do(p, body_gate, px_nil());
  WAIT_UNTIL(atomic_load(&gate_entered) == 1);
  return p;
}

static const px_actor_type bounded_type = {
    .name = "bounded",
    .init = agent_init,
    .handle = agent_handle,
    .terminate = agent_terminate,
};

Test(actor, T_A_14_bounded_drop_new_counts_drops) {
  px_ref p = spawn_bounded(&bounded_type, PX_MBOX_DROP_NEW, 2);
  cr_assert_eq(stats_of("bounded").mailbox_drops, 0);
  cr_assert_eq(px_send(p, AT("m1"), px_nil()), 0);
  cr_assert_eq(px_send(p, AT("m2"), px_nil()), 0);
  cr_assert_eq(px_send(p, AT("m3"), px_str("dropped")), 0);
  cr_assert_eq(stats_of("bounded").mailbox_drops, 1);
  atomic_store(&gate_open, 1);
  px_message *m = expect_got("m1");
  px_message_free(m);
  m = expect_got("m2");
  px_message_free(m);
  agent_sync(p);
  cr_assert(none_queued(AT("got")), "m3 was dropped");
  cr_assert_eq(stats_of("bounded").mailbox_drops, 1);
}

Test(actor, T_A_14_bounded_drop_old) {
  px_ref p = spawn_bounded(&bounded_type, PX_MBOX_DROP_OLD, 2);
  px_send(p, AT("m1"), px_nil());
  px_send(p, AT("m2"), px_nil());
  px_send(p, AT("m3"), px_nil());
  atomic_store(&gate_open, 1);
  px_message *m = expect_got("m2");
  px_message_free(m);
  m = expect_got("m3");
  px_message_free(m);
  agent_sync(p);
  cr_assert(none_queued(AT("got")), "m1 was dropped");
  cr_assert_eq(stats_of("bounded").mailbox_drops, 1);
}

Test(actor, T_A_14_bounded_exit_policy) {
  px_ref p = spawn_bounded(&bounded_type, PX_MBOX_EXIT, 2);
  px_mref mon = px_monitor(p);
  px_send(p, AT("m1"), px_nil());
  px_send(p, AT("m2"), px_nil());
  px_send(p, AT("m3"), px_nil());
  atomic_store(&gate_open, 1);
  EXPECT_DOWN(mon, "mailbox_overflow");
}

/* S sends m1..m5 to a full block-policy P and reports after each send. */
static void body_send_5(agent *ag, px_val arg, const px_message *msg) {
  (void)ag;
  (void)msg;
  px_ref p;
  cr_assert(px_val_ref(arg, &p));
  for (int64_t i = 1; i <= 5; i++) {
    cr_assert_eq(px_send(p, AT("m"), px_int(i)), 0);
    report("sent", px_int(i));
  }
}

Test(actor, T_A_14_bounded_block_policy) {
  px_ref p = spawn_bounded(&bounded_type, PX_MBOX_BLOCK, 2);
  px_ref s = spawn_agent(NULL);
  agent_do(s, body_send_5, px_ref_val(p));
  for (int64_t i = 1; i <= 2; i++) {
    px_message *m = recv_type(AT("sent"));
    cr_assert_eq(m->payload.u.i, i);
    px_message_free(m);
  }
  /* The queue is full: S must not get its third message in. Give it many
   * chances to run; with block it stays parked. */
  for (int k = 0; k < 2000; k++) {
    px_actor_info info;
    cr_assert_eq(px_actor_info_get(p, &info), 0);
    cr_assert_leq(info.mailbox_depth, 2);
    cr_assert(none_queued(AT("sent")), "a send to a full mailbox went on");
    sched_yield();
  }
  atomic_store(&gate_open, 1);
  for (int64_t i = 3; i <= 5; i++) {
    px_message *m = recv_type(AT("sent"));
    cr_assert_eq(m->payload.u.i, i);
    px_message_free(m);
  }
  for (int64_t i = 1; i <= 5; i++) {
    px_message *m = expect_got("m");
    cr_assert_eq(got_payload(m).u.i, i, "nothing is dropped or reordered");
    px_message_free(m);
  }
  cr_assert_eq(stats_of("bounded").mailbox_drops, 0);
}

/* ---- R-A rules without a T-case --------------------------------------------- */

/* R-A-1: refs are index + generation, so once a slot is reused a stale ref
 * still does not reach the new actor. */
Test(actor, R_A_1_stale_pid_never_aliases_reused_slot) {
  px_ref old = spawn_agent(NULL);
  kill_and_wait(old);
  px_ref fresh = px_ref_nil();
  for (int i = 0; i < 20000; i++) {
    px_ref n = spawn_agent(NULL);
    if (n.index == old.index) {
      fresh = n;
      break;
    }
    kill_and_wait(n);
  }
  cr_assert(!px_ref_is_nil(fresh), "the slot was never reused");
  cr_assert_neq(fresh.gen, old.gen);
  px_send(old, AT("stale"), px_nil());
  px_send(fresh, AT("fresh"), px_nil());
  px_message *m = expect_got("fresh");
  px_message_free(m);
  agent_sync(fresh);
  cr_assert(none_queued(AT("got")));
  px_val r;
  cr_assert_eq(px_ask(old, AT("ping"), px_nil(), WAIT_MS, &r), PX_ENOPROC);
  px_val_release(r);
}

/* R-A-2: a send never waits for the receiver, even a busy one. */
Test(actor, R_A_2_send_never_blocks_on_busy_receiver) {
  px_ref p = spawn_agent(NULL);
  atomic_store(&gate_open, 0);
  atomic_store(&gate_entered, 0);
  agent_do(p, body_gate, px_nil());
  WAIT_UNTIL(atomic_load(&gate_entered) == 1);
  for (int i = 0; i < 10000; i++)
    cr_assert_eq(px_send(p, AT("m"), px_int(i)), 0);
  px_actor_info info;
  cr_assert_eq(px_actor_info_get(p, &info), 0);
  cr_assert_eq(info.mailbox_depth, 10000, "all queued while P is busy: %zu",
               info.mailbox_depth);
  atomic_store(&gate_open, 1);
  for (int i = 0; i < 10000; i++) {
    px_message *m = expect_got("m");
    cr_assert_eq(got_payload(m).u.i, i);
    px_message_free(m);
  }
}

/* R-A-3: sending to an unregistered name fails synchronously; to a pid
 * never. */
Test(actor, R_A_3_send_to_unregistered_name_fails) {
  cr_assert_eq(px_send_name("nobody", AT("m"), px_str("x")), PX_EBADNAME);
  px_ref p = spawn_agent(NULL);
  cr_assert_eq(px_register("somebody", p), 0);
  cr_assert_eq(px_send_name("somebody", AT("m"), px_int(7)), 0);
  px_message *m = expect_got("m");
  cr_assert_eq(got_payload(m).u.i, 7);
  px_message_free(m);
  kill_and_wait(p);
  cr_assert_eq(px_send_name("somebody", AT("m"), px_nil()), PX_EBADNAME);
  cr_assert_eq(px_send(p, AT("m"), px_nil()), 0);
}

/* S: send m1 to P, then an exit signal to P, then die. */
static void body_msg_then_exit(agent *ag, px_val arg, const px_message *msg) {
  (void)ag;
  (void)msg;
  px_ref p;
  cr_assert(px_val_ref(arg, &p));
  px_send(p, AT("m1"), px_nil());
  px_exit(p, A("shutdown"));
  px_send(p, AT("m2"), px_nil());
  px_send(g_test, AT("last_words"), px_nil());
  px_exit_self(A("done"));
}

/* R-A-4: every signal from one sender (messages, exit signals, DOWN) keeps
 * its order at one receiver. */
Test(actor, R_A_4_signals_from_one_sender_keep_order) {
  px_ref p = spawn_trapping();
  px_ref s = spawn_agent(NULL);
  px_mref mon = px_monitor(s);
  agent_do(s, body_msg_then_exit, px_ref_val(p));
  /* At P: m1, then the exit signal (as __EXIT__), then m2. */
  px_message *m = expect_got("m1");
  px_message_free(m);
  m = expect_got("__EXIT__");
  cr_assert(reason_is(exit_reason(got_payload(m)), "shutdown"));
  cr_assert(px_ref_eq(exit_from(got_payload(m)), s));
  px_message_free(m);
  m = expect_got("m2");
  px_message_free(m);
  /* At the test thread: S's last message comes before S's DOWN. */
  px_message *first;
  cr_assert_eq(px_receive(match_any, NULL, WAIT_MS, &first), 0);
  cr_assert_eq(first->type, AT("last_words"));
  px_message_free(first);
  EXPECT_DOWN(mon, "done");
}

/* R-A-5: mailbox order is arrival order, across senders too. */
Test(actor, R_A_5_mailbox_is_arrival_order) {
  px_ref p = spawn_agent(NULL), q = spawn_agent(NULL);
  atomic_store(&gate_open, 0);
  atomic_store(&gate_entered, 0);
  agent_do(p, body_gate, px_nil());
  WAIT_UNTIL(atomic_load(&gate_entered) == 1);
  px_send(p, AT("m1"), px_nil());
  /* q's send happens before this call returns, so m2 arrives second. */
  agent_call(q, body_send, px_arr(3, px_ref_val(p), A("m2"), px_nil()));
  px_send(p, AT("m3"), px_nil());
  atomic_store(&gate_open, 1);
  const char *want[] = {"m1", "m2", "m3"};
  for (int i = 0; i < 3; i++) {
    px_message *m = expect_got(want[i]);
    px_message_free(m);
  }
}

/* R-A-6: a receive leaves non-matching messages untouched in order (many
 * of them, with the match at the end). */
static bool match_last(const px_message *m, void *ud) {
  (void)ud;
  return m->type == AT("last");
}
static void body_take_last(agent *ag, px_val arg, const px_message *msg) {
  (void)ag;
  (void)msg;
  px_message *m;
  cr_assert_eq(px_receive(match_last, NULL, -1, &m), 0);
  px_message_free(m);
  for (int64_t i = 0; i < arg.u.i; i++) {
    cr_assert_eq(px_receive(NULL, NULL, 0, &m), 0);
    cr_assert_eq(m->payload.u.i, i);
    px_message_free(m);
  }
  report("ok", px_nil());
}

Test(actor, R_A_6_selective_receive_scans_oldest_first) {
  px_ref p = spawn_agent(NULL);
  agent_do(p, body_take_last, px_int(100));
  for (int i = 0; i < 100; i++) px_send(p, AT("x"), px_int(i));
  px_send(p, AT("last"), px_nil());
  px_message *m = recv_type(AT("ok"));
  px_message_free(m);
}

/* R-A-7: `infinity` waits forever (the clock moving does not end it). */
static void body_recv_forever(agent *ag, px_val arg, const px_message *msg) {
  report("ready", px_nil());
  body_recv_after(ag, arg, msg);
}

Test(actor, R_A_7_receive_infinity_waits) {
  px_ref p = spawn_agent(NULL);
  agent_do(p, body_recv_forever, px_int(-1));
  px_message *m = recv_type(AT("ready"));
  px_message_free(m);
  px_clock_advance(1000000);
  cr_assert_eq(px_timer_count(), 0, "an infinite receive arms no timer");
  px_send(p, AT("x"), px_nil()); /* not a match: keeps waiting */
  px_clock_advance(1000000);
  cr_assert(none_queued(AT("result")));
  px_send(p, AT("b"), px_nil());
  m = recv_type(AT("result"));
  cr_assert(reason_is(m->payload, "b"));
  px_message_free(m);
  m = expect_got("x"); /* the non-matching message is still there */
  px_message_free(m);
}

static void body_sleep_long(agent *ag, px_val arg, const px_message *msg) {
  (void)ag;
  (void)arg;
  (void)msg;
  px_sleep(1000000); /* virtual clock: never advanced */
  report("woke", px_nil());
}

/* R-A-8: exit signals and link bookkeeping happen while the actor is
 * blocked inside a handler, not only when it returns. */
Test(actor, R_A_8_signals_handled_while_handler_is_blocked) {
  px_ref a = spawn_agent(NULL), b = spawn_agent(NULL), c = spawn_trapping();
  agent_call(a, body_link, px_ref_val(b));
  agent_do(a, body_sleep_long, px_nil());
  wait_timers(1); /* A is parked in its sleep */
  /* A link request reaches A while it sleeps... */
  agent_call(c, body_link, px_ref_val(a));
  px_mref mon = px_monitor(a);
  /* ...and so does B's exit over the older link. */
  agent_do(b, body_exit, A("boom"));
  EXPECT_DOWN(mon, "boom");
  cr_assert(none_queued(AT("woke")));
  /* C's link, made while A slept, fired too. */
  px_message *m = expect_got("__EXIT__");
  cr_assert(reason_is(exit_reason(got_payload(m)), "boom"));
  cr_assert(px_ref_eq(exit_from(got_payload(m)), a));
  px_message_free(m);
}

/* R-A-9: the name goes with the actor, before monitors fire. */
Test(actor, R_A_9_name_released_on_exit) {
  px_ref p = spawn_agent(NULL), r;
  cr_assert_eq(px_register("svc", p), 0);
  px_mref mon = px_monitor(p);
  agent_do(p, body_exit, A("boom"));
  EXPECT_DOWN(mon, "boom");
  cr_assert_eq(px_whereis("svc", &r), PX_EBADNAME);
  px_ref q = spawn_agent(NULL);
  cr_assert_eq(px_register("svc", q), 0);
  cr_assert_eq(px_whereis("svc", &r), 0);
  cr_assert(px_ref_eq(r, q));
}

static int init_fail(px_val args, void **state) {
  (void)args;
  *state = NULL;
  return -42;
}
static void noop_handle(void *s, const px_message *m) {
  (void)s;
  (void)m;
}
static const px_actor_type failing_type = {
    .name = "failing", .init = init_fail, .handle = noop_handle};

/* R-A-10: termination reasons: the given reason, an init failure, killed. */
Test(actor, R_A_10_termination_reasons) {
  px_ref p = spawn_agent(NULL);
  px_mref mon = px_monitor(p);
  px_val reason = px_arr(2, A("error"), px_str("bad thing"));
  agent_do(p, body_exit, px_val_retain(reason));
  px_val got = wait_down(mon);
  cr_assert(px_val_equal(got, reason), "structured reasons arrive intact");
  px_val_release(got);
  px_val_release(reason);

  p = spawn_agent(NULL);
  mon = px_monitor(p);
  agent_do(p, body_exit, A("normal"));
  EXPECT_DOWN(mon, "normal");

  px_ref f;
  px_spawn_opts o = {.monitor = true, .mref_out = &mon};
  cr_assert_eq(px_spawn(&failing_type, px_nil(), &o, &f), 0);
  got = wait_down(mon);
  px_val want = px_arr(2, A("init_failed"), px_int(-42));
  cr_assert(px_val_equal(got, want));
  px_val_release(got);
  px_val_release(want);

  p = spawn_trapping();
  mon = px_monitor(p);
  px_exit(p, A("kill"));
  EXPECT_DOWN(mon, "killed");
}

/* R-A-11: spawn_monitor never misses an immediate death. */
Test(actor, R_A_11_spawn_monitor_is_atomic) {
  for (int i = 0; i < 200; i++) {
    px_mref mon = 0;
    px_ref c;
    px_spawn_opts o = {.monitor = true, .mref_out = &mon};
    cr_assert_eq(px_spawn(&agent_type, agent_args(init_die_boom, px_nil()),
                          &o, &c),
                 0);
    cr_assert_neq(mon, 0);
    EXPECT_DOWN(mon, "boom");
  }
}

/* A server that keeps asks unanswered (deferred) until told. */
typedef struct slow {
  px_from pending[8];
  int n;
} slow;
static int slow_init(px_val args, void **state) {
  (void)args;
  *state = calloc(1, sizeof(slow));
  return 0;
}
static void slow_handle(void *st, const px_message *m) {
  slow *s = st;
  if (m->type == AT("slow")) {
    s->pending[s->n++] = px_defer_reply(m);
    report("deferred", px_nil());
  } else if (m->type == AT("release")) {
    for (int i = 0; i < s->n; i++) px_reply_to(s->pending[i], A("late"));
    s->n = 0;
    px_reply(m, A("released"));
  } else if (m->corr) {
    px_reply(m, px_val_retain(m->payload));
  }
}
static void slow_terminate(void *st, px_val r) {
  (void)r;
  free(st);
}
static const px_actor_type slow_type = {.name = "slow",
                                        .init = slow_init,
                                        .handle = slow_handle,
                                        .terminate = slow_terminate};

static void body_ask_slow(agent *ag, px_val arg, const px_message *msg) {
  (void)ag;
  (void)msg;
  px_ref srv;
  cr_assert(px_val_ref(arg, &srv));
  px_val r;
  int rc1 = px_ask(srv, AT("slow"), px_nil(), 100, &r);
  px_val_release(r);
  /* The late reply is sent before this one: FIFO puts it first. */
  int rc2 = px_ask(srv, AT("release"), px_nil(), -1, &r);
  px_val_release(r);
  px_message *m;
  int rc3 = px_receive(NULL, NULL, 0, &m);
  if (rc3 == 0) px_message_free(m);
  int rc4 = px_ask(srv, AT("ping"), px_int(5), 100, &r);
  report("results", px_arr(5, px_int(rc1), px_int(rc2), px_int(rc3),
                           px_int(rc4), r));
}

/* R-A-12: a reply to an ask that timed out never reaches the mailbox. */
Test(actor, R_A_12_late_reply_to_timed_out_ask_is_dropped) {
  px_ref srv = spawn_typed(&slow_type, NULL, px_nil(), NULL);
  px_ref asker = spawn_agent(NULL);
  agent_do(asker, body_ask_slow, px_ref_val(srv));
  px_message *m = recv_type(AT("deferred"));
  px_message_free(m);
  wait_timers(1);
  px_clock_advance(100);
  m = recv_type(AT("results"));
  cr_assert_eq(px_at(m->payload, 0).u.i, PX_ETIMEDOUT);
  cr_assert_eq(px_at(m->payload, 1).u.i, 0);
  cr_assert_eq(px_at(m->payload, 2).u.i, PX_ETIMEDOUT, "late reply leaked");
  cr_assert_eq(px_at(m->payload, 3).u.i, 0, "a later ask works");
  cr_assert_eq(px_at(m->payload, 4).u.i, 5);
  px_message_free(m);
}
