/* Conformance: SEMANTICS.md section B, links, monitors and exit signals.
 *
 * One test per T-B case and per R-B rule that has no T-case. Documented
 * deviation (R-B-3): px_link to a dead actor returns PX_ENOPROC instead of
 * raising, and delivers __EXIT__ {noproc} when the caller traps. The
 * remote cases (T-B-14, T-B-15, R-B-4, R-B-14) need the cluster and are
 * disabled until it exists. */
#include "unit/actor/px_agent.h"

static void setup(void) { rt_start(); }
static void teardown(void) {
  atomic_store(&gate_open, 1); /* never leave an agent spinning */
  rt_stop();
}

TestSuite(actor, .init = setup, .fini = teardown, .timeout = 60);

static px_ref dead_ref(void) {
  px_ref d = spawn_agent(NULL);
  kill_and_wait(d);
  return d;
}

static bool alive(px_ref r) {
  px_actor_info info;
  return px_actor_info_get(r, &info) == 0;
}

/* Links a to b from inside a (synchronously). */
static void link_from(px_ref a, px_ref b) {
  px_val rc;
  cr_assert_eq(agent_call_r(a, body_link, px_ref_val(b), &rc), 0);
  cr_assert_eq(rc.u.i, 0, "link: %s", px_err_name((int)rc.u.i));
}

static void expect_exit_msg(px_ref from, const char *reason) {
  px_message *m = expect_got("__EXIT__");
  char b[64];
  cr_assert(reason_is(exit_reason(got_payload(m)), reason), "reason %s, want %s",
            reason_str(exit_reason(got_payload(m)), b, sizeof b), reason);
  cr_assert(px_ref_eq(exit_from(got_payload(m)), from));
  px_message_free(m);
}

/* ---- T-B cases -------------------------------------------------------------- */

Test(actor, T_B_1_link_to_dead_pid_not_trapping) {
  px_ref dead = dead_ref();
  px_ref a = spawn_agent(NULL);
  px_mref mon = px_monitor(a);
  px_val rc;
  cr_assert_eq(agent_call_r(a, body_link, px_ref_val(dead), &rc), 0);
  cr_assert_eq(rc.u.i, PX_ENOPROC, "our deviation: a return code");
  agent_sync(a);
  cr_assert(alive(a), "the caller is not killed");
  cr_assert(!down_queued(mon));
  cr_assert(none_queued(AT("got")), "no __EXIT__ when not trapping");
}

Test(actor, T_B_1_link_to_dead_pid_trapping) {
  px_ref dead = dead_ref();
  px_ref a = spawn_trapping();
  px_val rc;
  cr_assert_eq(agent_call_r(a, body_link, px_ref_val(dead), &rc), 0);
  cr_assert_eq(rc.u.i, PX_ENOPROC);
  expect_exit_msg(dead, "noproc");
  /* The external thread traps too. */
  cr_assert_eq(px_link(dead), PX_ENOPROC);
  px_message *m = recv_type(px_a()->exit_msg);
  cr_assert(reason_is(exit_reason(m->payload), "noproc"));
  cr_assert(px_ref_eq(exit_from(m->payload), dead));
  px_message_free(m);
}

Test(actor, T_B_2_monitor_dead_pid_gives_noproc) {
  px_ref dead = dead_ref();
  px_mref mon = px_monitor(dead);
  cr_assert_neq(mon, 0);
  px_message *m = NULL;
  cr_assert_eq(px_receive(match_down, &mon, WAIT_MS, &m), 0);
  cr_assert(reason_is(down_reason(m->payload), "noproc"));
  cr_assert(px_ref_eq(down_from(m->payload), dead));
  cr_assert_eq(m->type, px_a()->down_msg);
  px_message_free(m);
}

Test(actor, T_B_3_linked_partner_dies_with_same_reason) {
  px_ref a = spawn_agent(NULL), b = spawn_agent(NULL);
  link_from(a, b);
  px_mref ma = px_monitor(a), mb = px_monitor(b);
  agent_do(b, body_exit, A("boom"));
  EXPECT_DOWN(mb, "boom");
  EXPECT_DOWN(ma, "boom");
}

Test(actor, T_B_5_trapping_partner_gets_exit_normal) {
  px_ref a = spawn_trapping(), b = spawn_agent(NULL);
  link_from(a, b);
  agent_do(b, body_exit, A("normal"));
  expect_exit_msg(b, "normal");
  agent_sync(a);
  cr_assert(alive(a));
}

Test(actor, T_B_6_kill_is_untrappable) {
  px_ref a = spawn_trapping(), l = spawn_trapping(), c = spawn_agent(NULL);
  link_from(l, a);
  px_mref mon = px_monitor(a);
  agent_do(c, body_send_exit, px_arr(2, px_ref_val(a), A("kill")));
  EXPECT_DOWN(mon, "killed");
  expect_exit_msg(a, "killed"); /* at L, over the link */
  cr_assert(alive(c));
}

Test(actor, T_B_7_linked_killed_is_trappable) {
  px_ref a = spawn_trapping(), b = spawn_agent(NULL);
  link_from(a, b);
  px_mref mb = px_monitor(b);
  px_exit(b, A("kill"));
  EXPECT_DOWN(mb, "killed");
  expect_exit_msg(b, "killed");
  agent_sync(a);
  cr_assert(alive(a), "A survives");
}

static void body_exit_self_normal(agent *ag, px_val arg, const px_message *m) {
  (void)ag;
  (void)arg;
  (void)m;
  px_exit(px_self(), A("normal"));
  report("still_running", px_nil()); /* a signal, not an immediate exit */
}

Test(actor, T_B_9_exit_normal_ignored_unless_self) {
  px_ref a = spawn_agent(NULL), c = spawn_agent(NULL);
  px_mref mon = px_monitor(a);
  agent_call(c, body_send_exit, px_arr(2, px_ref_val(a), A("normal")));
  px_exit(a, A("normal")); /* from the test thread too */
  agent_sync(a);
  cr_assert(alive(a), "A is unaffected");
  cr_assert(!down_queued(mon));
  agent_do(a, body_exit_self_normal, px_nil());
  EXPECT_DOWN(mon, "normal");
}

Test(actor, T_B_10_exit_shutdown_kills_non_trapping) {
  px_ref a = spawn_agent(NULL), c = spawn_agent(NULL);
  px_mref mon = px_monitor(a);
  agent_do(c, body_send_exit, px_arr(2, px_ref_val(a), A("shutdown")));
  EXPECT_DOWN(mon, "shutdown");
}

Test(actor, T_B_11_unlink_then_partner_dies) {
  px_ref a = spawn_agent(NULL), b = spawn_agent(NULL);
  link_from(a, b);
  agent_call(a, body_unlink, px_ref_val(b));
  px_mref mb = px_monitor(b), ma = px_monitor(a);
  agent_do(b, body_exit, A("boom"));
  EXPECT_DOWN(mb, "boom");
  agent_sync(a);
  cr_assert(alive(a), "A is unaffected");
  cr_assert(!down_queued(ma));
}

Test(actor, T_B_13_demonitor_flush_removes_queued_down) {
  px_ref b = spawn_agent(NULL);
  px_mref m1 = px_monitor(b), m2 = px_monitor(b);
  agent_do(b, body_exit, A("boom"));
  EXPECT_DOWN(m2, "boom");
  WAIT_UNTIL(down_peek(m1)); /* m1's DOWN is queued, not received */
  cr_assert_eq(px_demonitor(m1, true), 0);
  cr_assert(!down_queued(m1), "flush removed the queued DOWN");
  cr_assert(mailbox_empty());
}

/* The remote cases need two nodes and a node link; the cluster does not
 * exist yet. */
Test(actor, T_B_14_remote_monitor_noconnection, .disabled = true) {
  cr_skip_test("needs the cluster: monitor a remote pid, drop the link, "
               "expect DOWN noconnection");
}

Test(actor, T_B_15_remote_link_noconnection, .disabled = true) {
  cr_skip_test("needs the cluster: link a remote pid, drop the link, expect "
               "a non-trapping caller to die with noconnection");
}

static void body_link_twice(agent *ag, px_val arg, const px_message *m) {
  (void)ag;
  px_ref to;
  cr_assert(px_val_ref(arg, &to));
  int rc1 = px_link(to), rc2 = px_link(to);
  px_reply(m, px_arr(2, px_int(rc1), px_int(rc2)));
}

Test(actor, T_B_17_double_link_one_exit_signal) {
  px_ref a = spawn_trapping(), b = spawn_agent(NULL);
  px_val rc;
  cr_assert_eq(agent_call_r(a, body_link_twice, px_ref_val(b), &rc), 0);
  cr_assert_eq(px_at(rc, 0).u.i, 0);
  cr_assert_eq(px_at(rc, 1).u.i, 0);
  px_val_release(rc);
  /* From B's side as well. */
  cr_assert_eq(agent_call_r(b, body_link, px_ref_val(a), &rc), 0);
  cr_assert_eq(rc.u.i, 0);
  agent_do(b, body_exit, A("boom"));
  expect_exit_msg(b, "boom");
  agent_sync(a);
  cr_assert(none_queued(AT("got")), "exactly one exit signal");
}

/* ---- R-B rules without a T-case ------------------------------------------- */

static void body_link_self(agent *ag, px_val arg, const px_message *m) {
  (void)ag;
  (void)arg;
  px_reply(m, px_int(px_link(px_self())));
}

/* R-B-1: linking to self is a no-op; either side may unlink. */
Test(actor, R_B_1_link_self_noop_and_either_side_unlinks) {
  px_ref a = spawn_trapping();
  px_val rc;
  cr_assert_eq(agent_call_r(a, body_link_self, px_nil(), &rc), 0);
  cr_assert_eq(rc.u.i, 0);
  px_mref ma = px_monitor(a);
  agent_do(a, body_exit, A("boom"));
  EXPECT_DOWN(ma, "boom");
  cr_assert(none_queued(AT("got")), "no exit signal to itself");

  /* A links, B unlinks; B's death then leaves A alone. */
  a = spawn_agent(NULL);
  px_ref b = spawn_agent(NULL);
  link_from(a, b);
  agent_call(b, body_unlink, px_ref_val(a));
  px_mref mb = px_monitor(b);
  ma = px_monitor(a);
  agent_do(b, body_exit, A("boom"));
  EXPECT_DOWN(mb, "boom");
  agent_sync(a);
  cr_assert(alive(a));
  cr_assert(!down_queued(ma));
}

/* R-B-2: the exit signal carries the dead pid and its exact reason. */
Test(actor, R_B_2_exit_signal_carries_from_and_reason) {
  px_ref a = spawn_trapping(), b = spawn_agent(NULL);
  link_from(a, b);
  px_val reason = px_arr(2, A("shutdown"), A("idle"));
  agent_do(b, body_exit, px_val_retain(reason));
  px_message *m = expect_got("__EXIT__");
  cr_assert(px_val_equal(exit_reason(got_payload(m)), reason));
  cr_assert(px_ref_eq(exit_from(got_payload(m)), b));
  /* The message's sender is the dead actor too. */
  px_ref from;
  cr_assert(px_val_ref(px_at(m->payload, 2), &from));
  cr_assert(px_ref_eq(from, b));
  px_message_free(m);
  px_val_release(reason);
}

Test(actor, R_B_4_remote_link_noconnection, .disabled = true) {
  cr_skip_test("needs the cluster: a link over a lost connection gives "
               "noconnection");
}

/* Spins in the gate, then unlinks arg. */
static void body_gate_then_unlink(agent *ag, px_val arg, const px_message *m) {
  body_gate(ag, arg, m);
  body_unlink(ag, arg, m);
  report("unlinked", px_nil());
}

/* R-B-5: after unlink, an exit signal over that link that is already on
 * its way (here: already queued) is dropped. */
Test(actor, R_B_5_unlink_drops_exit_already_in_flight) {
  px_ref a = spawn_agent(NULL), b = spawn_agent(NULL);
  link_from(a, b);
  atomic_store(&gate_open, 0);
  atomic_store(&gate_entered, 0);
  agent_do(a, body_gate_then_unlink, px_ref_val(b));
  WAIT_UNTIL(atomic_load(&gate_entered) == 1);
  px_mref mb = px_monitor(b);
  px_exit(b, A("boom"));
  /* B signals its links before its monitors: A's exit signal is queued. */
  EXPECT_DOWN(mb, "boom");
  px_actor_info info;
  cr_assert_eq(px_actor_info_get(a, &info), 0);
  cr_assert_geq(info.mailbox_depth, 1);
  px_mref ma = px_monitor(a);
  atomic_store(&gate_open, 1);
  px_message *m = recv_type(AT("unlinked"));
  px_message_free(m);
  agent_sync(a);
  cr_assert(alive(a), "the in-flight exit signal was dropped");
  cr_assert(!down_queued(ma));
}

/* R-B-6: a partner's normal exit does not kill a non-trapping actor. */
Test(actor, R_B_6_normal_exit_of_partner_is_ignored) {
  px_ref a = spawn_agent(NULL), b = spawn_agent(NULL);
  link_from(a, b);
  px_mref mb = px_monitor(b);
  agent_do(b, body_exit, A("normal"));
  EXPECT_DOWN(mb, "normal");
  agent_sync(a);
  cr_assert(alive(a));
  cr_assert(none_queued(AT("got")));
}

/* R-B-7b: a linked `kill` is not converted: the partner dies with kill. */
Test(actor, R_B_7_linked_kill_is_not_converted) {
  px_ref a = spawn_agent(NULL), b = spawn_agent(NULL);
  link_from(a, b);
  px_mref ma = px_monitor(a), mb = px_monitor(b);
  agent_do(b, body_exit, A("kill"));
  EXPECT_DOWN(mb, "kill");
  EXPECT_DOWN(ma, "kill");
}

/* R-B-8: a linked `kill` reaches a trapping actor as a message. */
Test(actor, R_B_8_linked_kill_reaches_trapping_as_message) {
  px_ref a = spawn_trapping(), b = spawn_agent(NULL);
  link_from(a, b);
  agent_do(b, body_exit, A("kill"));
  expect_exit_msg(b, "kill");
  agent_sync(a);
  cr_assert(alive(a));
}

/* R-B-9: exit(Pid, R) needs no link; a trapping target gets the message. */
Test(actor, R_B_9_exit_signal_without_link) {
  px_ref a = spawn_trapping(), c = spawn_agent(NULL);
  agent_call(c, body_send_exit, px_arr(2, px_ref_val(a), A("boom")));
  expect_exit_msg(c, "boom");
  agent_sync(a);
  cr_assert(alive(a));
  cr_assert(alive(c), "exit(Pid, R) does not affect the sender");
}

/* R-B-10: killed does not cascade untrappably. */
Test(actor, R_B_10_killed_does_not_cascade) {
  px_ref a = spawn_agent(NULL), b = spawn_agent(NULL), c = spawn_trapping();
  link_from(b, a);
  link_from(c, b);
  px_mref ma = px_monitor(a), mb = px_monitor(b);
  px_exit(a, A("kill"));
  EXPECT_DOWN(ma, "killed");
  EXPECT_DOWN(mb, "killed"); /* B did not trap: it dies with killed */
  expect_exit_msg(b, "killed"); /* C traps: a message, and it lives */
  agent_sync(c);
  cr_assert(alive(c));
}

static void body_monitor(agent *ag, px_val arg, const px_message *m) {
  (void)ag;
  px_ref to;
  cr_assert(px_val_ref(arg, &to));
  px_reply(m, px_int((int64_t)px_monitor(to)));
}

/* R-B-11: monitors are one-way, never kill the watcher and work without
 * trapping. */
Test(actor, R_B_11_monitor_is_one_way) {
  px_ref w = spawn_agent(NULL), t = spawn_agent(NULL);
  px_val mv;
  cr_assert_eq(agent_call_r(w, body_monitor, px_ref_val(t), &mv), 0);
  px_mref mref = (px_mref)mv.u.i;
  cr_assert_neq(mref, 0);
  agent_do(t, body_exit, A("boom"));
  px_message *m = expect_got("__DOWN__");
  cr_assert_eq(down_mref(got_payload(m)), mref);
  cr_assert(px_ref_eq(down_from(got_payload(m)), t));
  cr_assert(reason_is(down_reason(got_payload(m)), "boom"));
  px_message_free(m);
  agent_sync(w);
  cr_assert(alive(w), "the watcher is not killed");

  /* The watcher's death does not touch the target. */
  px_ref t2 = spawn_agent(NULL);
  cr_assert_eq(agent_call_r(w, body_monitor, px_ref_val(t2), &mv), 0);
  px_mref mw = px_monitor(w);
  agent_do(w, body_exit, A("boom"));
  EXPECT_DOWN(mw, "boom");
  agent_sync(t2);
  cr_assert(alive(t2));
}

/* R-B-12: also covered by T-B-2; here the target dies between two
 * monitors. */
Test(actor, R_B_12_monitor_after_death_is_noproc) {
  px_ref t = spawn_agent(NULL);
  px_mref m1 = px_monitor(t);
  agent_do(t, body_exit, A("boom"));
  EXPECT_DOWN(m1, "boom");
  px_mref m2 = px_monitor(t);
  cr_assert_neq(m1, m2);
  EXPECT_DOWN(m2, "noproc");
}

/* R-B-13: N monitors, N DOWNs. */
Test(actor, R_B_13_each_monitor_fires) {
  px_ref t = spawn_agent(NULL);
  px_mref m[5];
  for (int i = 0; i < 5; i++) {
    m[i] = px_monitor(t);
    for (int k = 0; k < i; k++) cr_assert_neq(m[i], m[k]);
  }
  agent_do(t, body_exit, A("boom"));
  for (int i = 0; i < 5; i++) EXPECT_DOWN(m[i], "boom");
  cr_assert(mailbox_empty());
}

Test(actor, R_B_14_remote_monitor_noconnection, .disabled = true) {
  cr_skip_test("needs the cluster: DOWN noconnection on a lost node link");
}

/* R-B-15: demonitor stops future DOWNs; without flush a queued DOWN stays;
 * demonitor of a fired monitor is harmless. */
Test(actor, R_B_15_demonitor) {
  px_ref t = spawn_agent(NULL);
  px_mref m1 = px_monitor(t), m2 = px_monitor(t), m3 = px_monitor(t);
  cr_assert_eq(px_demonitor(m1, false), 0);
  agent_do(t, body_exit, A("boom"));
  EXPECT_DOWN(m3, "boom");
  WAIT_UNTIL(down_peek(m2)); /* queued, not received */
  /* t sent all its DOWNs together: had m1 fired, it would be here too. */
  cr_assert(!down_queued(m1), "a demonitored monitor never fires");
  cr_assert_eq(px_demonitor(m2, false), 0);
  cr_assert(down_queued(m2), "without flush the queued DOWN stays");
  cr_assert_eq(px_demonitor(m2, false), 0);
  cr_assert_eq(px_demonitor(m3, true), 0);
  cr_assert(mailbox_empty());
}

/* R-B-16: a monitor by name resolves the name when it is made. We have
 * no monitor-by-name call: px_whereis + px_monitor is the equivalent, and
 * an unregistered name fails at whereis (PX_EBADNAME) rather than giving
 * a DOWN noproc. */
Test(actor, R_B_16_monitor_by_name_resolves_at_call_time) {
  px_ref t1 = spawn_agent(NULL), t2 = spawn_agent(NULL), r;
  cr_assert_eq(px_register("svc", t1), 0);
  cr_assert_eq(px_whereis("svc", &r), 0);
  px_mref m = px_monitor(r);
  cr_assert_eq(px_unregister("svc"), 0);
  cr_assert_eq(px_register("svc", t2), 0);
  px_mref m2 = px_monitor(t2);
  agent_do(t1, body_exit, A("boom"));
  EXPECT_DOWN(m, "boom");
  agent_sync(t2);
  cr_assert(!down_queued(m2));
  cr_assert(alive(t2));
  cr_assert_eq(px_whereis("nobody", &r), PX_EBADNAME);
}

/* R-B-17: the name is gone before link exit signals and DOWNs are sent. */
static void body_check_name_on_exit(agent *ag, px_val arg,
                                    const px_message *msg) {
  (void)ag;
  (void)arg;
  (void)msg;
  px_message *m;
  cr_assert_eq(px_receive(match_type, (void *)px_a()->exit_msg, -1, &m), 0);
  px_ref r;
  report("name", px_int(px_whereis("svc", &r)));
  px_message_free(m);
}

Test(actor, R_B_17_name_released_before_exit_signals) {
  px_ref t = spawn_agent(NULL), l = spawn_trapping(), r;
  cr_assert_eq(px_register("svc", t), 0);
  link_from(l, t);
  agent_do(l, body_check_name_on_exit, px_nil());
  px_mref m = px_monitor(t);
  agent_do(t, body_exit, A("boom"));
  px_message *n = recv_type(AT("name"));
  cr_assert_eq(n->payload.u.i, PX_EBADNAME, "seen by the linked partner");
  px_message_free(n);
  px_message *d;
  cr_assert_eq(px_receive(match_down, &m, WAIT_MS, &d), 0);
  cr_assert_eq(px_whereis("svc", &r), PX_EBADNAME, "seen by the watcher");
  px_message_free(d);
}
