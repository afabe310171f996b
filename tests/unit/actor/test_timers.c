/* Runtime features: timers on the virtual clock, stack overflow in a
 * handler, introspection (type stats, actor list, ask latency). */
#include "unit/actor/px_agent.h"

static void setup(void) { rt_start(); }
static void teardown(void) {
  atomic_store(&gate_open, 1);
  rt_stop();
}

TestSuite(timers, .init = setup, .fini = teardown, .timeout = 60);

Test(timers, send_after_fires_at_due_time) {
  cr_assert_eq(px_clock_ms(), 0);
  px_tref t = px_send_after(100, g_test, AT("tick"), px_str("p"));
  cr_assert_neq(t, 0);
  cr_assert_eq(px_timer_count(), 1);
  px_clock_advance(99);
  cr_assert(none_queued(AT("tick")), "fired early");
  px_clock_advance(1);
  /* The virtual clock fires before px_clock_advance returns. */
  px_message *m = recv_type_ms(AT("tick"), 0);
  cr_assert_str_eq(px_str_ptr(m->payload), "p");
  px_message_free(m);
  cr_assert_eq(px_timer_count(), 0);
  cr_assert_eq(px_cancel_timer(t), PX_ENOTFOUND, "already fired");
  px_clock_advance(1000);
  cr_assert(none_queued(AT("tick")), "fired twice");
}

Test(timers, send_after_to_actor_and_due_order) {
  px_ref a = spawn_agent(NULL);
  px_send_after(30, a, AT("t30"), px_nil());
  px_send_after(10, a, AT("t10"), px_nil());
  px_send_after(20, a, AT("t20"), px_nil());
  px_clock_advance(100);
  px_message_free(expect_got("t10"));
  px_message_free(expect_got("t20"));
  px_message_free(expect_got("t30"));
  cr_assert_eq(px_timer_count(), 0);
}

Test(timers, interval_repeats_until_cancelled) {
  px_tref t = px_send_interval(10, g_test, AT("iv"), px_int(5));
  for (int i = 0; i < 3; i++) {
    px_clock_advance(10);
    px_message *m = recv_type_ms(AT("iv"), 0);
    cr_assert_eq(m->payload.u.i, 5);
    px_message_free(m);
  }
  px_clock_advance(30); /* three periods at once: three ticks */
  for (int i = 0; i < 3; i++) px_message_free(recv_type_ms(AT("iv"), 0));
  cr_assert(none_queued(AT("iv")));
  cr_assert_eq(px_timer_count(), 1);
  cr_assert_eq(px_cancel_timer(t), 0);
  cr_assert_eq(px_cancel_timer(t), PX_ENOTFOUND);
  cr_assert_eq(px_timer_count(), 0);
  px_clock_advance(100);
  cr_assert(none_queued(AT("iv")));
}

Test(timers, cancel_pending_send_after) {
  px_tref t1 = px_send_after(50, g_test, AT("a"), px_str("x"));
  px_tref t2 = px_send_after(50, g_test, AT("b"), px_nil());
  cr_assert_neq(t1, t2);
  cr_assert_eq(px_timer_count(), 2);
  cr_assert_eq(px_cancel_timer(t1), 0);
  cr_assert_eq(px_timer_count(), 1);
  px_clock_advance(50);
  cr_assert(none_queued(AT("a")));
  px_message_free(recv_type_ms(AT("b"), 0));
  cr_assert_eq(px_timer_count(), 0);
  cr_assert_eq(px_cancel_timer(0), PX_ENOTFOUND);
}

Test(timers, interval_stops_when_target_exits) {
  px_ref a = spawn_agent(NULL);
  px_send_interval(5, a, AT("iv"), px_nil());
  px_clock_advance(5);
  px_message_free(expect_got("iv"));
  kill_and_wait(a);
  cr_assert_eq(px_timer_count(), 1);
  px_clock_advance(5); /* fires at a dead target: the timer goes */
  cr_assert_eq(px_timer_count(), 0);
}

static void body_sleep(agent *ag, px_val arg, const px_message *m) {
  (void)ag;
  (void)m;
  px_sleep(arg.u.i);
  report("slept", px_int((int64_t)px_clock_ms()));
}

Test(timers, sleep_in_handler_and_timer_count_back_to_zero) {
  px_ref a = spawn_agent(NULL);
  agent_do(a, body_sleep, px_int(40));
  wait_timers(1);
  px_clock_advance(39);
  cr_assert(none_queued(AT("slept")));
  px_clock_advance(1);
  px_message *m = recv_type(AT("slept"));
  cr_assert_eq(m->payload.u.i, 40);
  px_message_free(m);
  cr_assert_eq(px_timer_count(), 0);
}

Test(timers, clock_advance_needs_virtual_clock) {
  px_runtime_stop(); /* restart with the real clock */
  rt_start_opts(false, 0);
  cr_assert_eq(px_clock_advance(10), PX_EINVAL);
}

/* ---- stack overflow ------------------------------------------------------------ */

static int recurse(volatile char *prev, int depth) {
  volatile char buf[512];
  buf[0] = (char)depth;
  buf[511] = prev ? prev[0] : 0;
  return depth > 1000000 ? 0 : recurse(buf, depth + 1) + buf[511];
}

static void deep_handle(void *st, const px_message *m) {
  (void)st;
  if (m->type == AT("recurse")) recurse(NULL, 0);
  if (m->corr) px_reply(m, A("shallow"));
}
static const px_actor_type deep_type = {
    .name = "deep", .stack_size = 32 * 1024, .handle = deep_handle};

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PX_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(PX_SANITIZE_ADDRESS)
#define PX_TEST_ASAN 1
#endif

#ifdef PX_TEST_ASAN
/* AddressSanitizer owns SIGSEGV and reports the guard-page hit as a
 * stack-overflow error before our handler can turn it into an exit. */
#define OVERFLOW_DISABLED true
#else
#define OVERFLOW_DISABLED false
#endif

Test(timers, stack_overflow_kills_only_that_actor,
     .disabled = OVERFLOW_DISABLED) {
  px_ref other = spawn_agent(NULL);
  for (int round = 0; round < 3; round++) {
    px_ref d;
    cr_assert_eq(px_spawn(&deep_type, px_nil(), NULL, &d), 0);
    px_val r;
    cr_assert_eq(px_ask(d, AT("ping"), px_nil(), WAIT_MS, &r), 0);
    px_mref mon = px_monitor(d);
    px_send(d, AT("recurse"), px_nil());
    EXPECT_DOWN(mon, "stack_overflow");
    /* Everything else keeps running. */
    cr_assert_eq(px_ask(other, AT("ping"), px_int(round), WAIT_MS, &r), 0);
    cr_assert_eq(r.u.i, round);
  }
  /* Exit counters are updated just after the DOWNs go out. */
  WAIT_UNTIL(stats_of("deep").exits_abnormal == 3);
  cr_assert_eq(stats_of("deep").live, 0);
}

/* ---- introspection --------------------------------------------------------------- */

static const px_actor_type counted_type = {
    .name = "counted",
    .init = agent_init,
    .handle = agent_handle,
    .terminate = agent_terminate,
};

Test(timers, stats_types_counts_messages_and_exits) {
  px_ref a = spawn_typed(&counted_type, NULL, px_nil(), NULL);
  for (int i = 0; i < 10; i++) px_send(a, AT("m"), px_int(i));
  for (int i = 0; i < 10; i++) px_message_free(expect_got("m"));
  agent_sync(a);
  px_type_stats s = stats_of("counted");
  cr_assert_eq(s.spawned, 1);
  cr_assert_eq(s.live, 1);
  cr_assert_geq(s.messages, 11, "10 sends and a ping: %llu",
                (unsigned long long)s.messages);
  cr_assert_leq(s.messages, 12); /* the init turn may count as one */
  px_ref b = spawn_typed(&counted_type, NULL, px_nil(), NULL);
  px_ref c = spawn_typed(&counted_type, NULL, px_nil(), NULL);
  px_ref d = spawn_typed(&counted_type, NULL, px_nil(), NULL);
  px_mref mb = px_monitor(b), mc = px_monitor(c), md = px_monitor(d);
  agent_do(b, body_exit, A("normal"));
  agent_do(c, body_exit, A("boom"));
  px_exit(d, A("kill"));
  px_val_release(wait_down(mb));
  px_val_release(wait_down(mc));
  px_val_release(wait_down(md));
  /* Exit counters are updated just after the DOWNs go out. */
  WAIT_UNTIL(stats_of("counted").live == 1);
  s = stats_of("counted");
  cr_assert_eq(s.spawned, 4);
  cr_assert_eq(s.live, 1);
  cr_assert_eq(s.exits_normal, 1);
  cr_assert_eq(s.exits_abnormal, 1);
  cr_assert_eq(s.exits_killed, 1);
}

Test(timers, actors_list_shows_parent_and_mailbox_depth) {
  px_ref parent = spawn_agent(NULL);
  px_spawn_opts o = {.parent = parent, .name = "listed"};
  px_ref child = spawn_typed(&counted_type, NULL, px_nil(), &o);
  atomic_store(&gate_open, 0);
  atomic_store(&gate_entered, 0);
  agent_do(child, body_gate, px_nil());
  WAIT_UNTIL(atomic_load(&gate_entered) == 1);
  for (int i = 0; i < 7; i++) px_send(child, AT("m"), px_nil());
  px_actor_info list[16];
  size_t n = px_actors_list(list, 16);
  cr_assert_eq(n, 2, "the test thread's proxy is not listed");
  cr_assert_eq(px_actors_count(), 2);
  bool seen = false;
  for (size_t i = 0; i < n; i++) {
    if (!px_ref_eq(list[i].ref, child)) continue;
    seen = true;
    cr_assert(px_ref_eq(list[i].parent, parent));
    cr_assert_str_eq(list[i].type, "counted");
    cr_assert_str_eq(list[i].name, "listed");
    cr_assert_eq(list[i].mailbox_depth, 7, "depth %zu",
                 list[i].mailbox_depth);
  }
  cr_assert(seen);
  atomic_store(&gate_open, 1);
  for (int i = 0; i < 7; i++) px_message_free(expect_got("m"));
  agent_sync(child);
  px_actor_info info;
  cr_assert_eq(px_actor_info_get(child, &info), 0);
  cr_assert_eq(info.mailbox_depth, 0);
  /* A short list still returns the live count. */
  cr_assert_eq(px_actors_list(list, 1), 2);
}

Test(timers, ask_percentiles_after_asks) {
  cr_assert_eq(px_stats_ask_count(), 0);
  cr_assert_eq(px_stats_ask_percentile(50), 0);
  px_ref a = spawn_agent(NULL);
  for (int i = 0; i < 200; i++) {
    px_val r;
    cr_assert_eq(px_ask(a, AT("echo"), px_int(i), WAIT_MS, &r), 0);
  }
  uint64_t n = px_stats_ask_count();
  /* Each asker times one ask in 64 (its 1st, 65th, 129th, 193rd). */
  cr_assert_geq(n, 200 / 64, "asks are sampled one in 64: %llu",
                (unsigned long long)n);
  cr_assert_leq(n, 200);
  uint64_t p50 = px_stats_ask_percentile(50), p99 = px_stats_ask_percentile(99);
  cr_assert_gt(p50, 0);
  cr_assert_geq(p99, p50);
  cr_assert_lt(p99, (uint64_t)WAIT_MS * 1000000u);
}
