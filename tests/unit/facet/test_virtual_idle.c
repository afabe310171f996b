/* Idle collection on the virtual clock (R-H-4, R-H-5, T-H-2, T-H-3): an
 * activation unused for idle_timeout goes with [shutdown, idle] at the
 * next sweep; messages count as use, its timer ticks do not. Each check
 * syncs with the sweeper (an ask queued behind the ticks px_clock_advance
 * delivered), so "not yet" is decided, not guessed. */
#include "test_virtual_util.h"

#define IDLE 120000 /* 2 min; the sweep quantum is then 1 s */

static px_ref activate(const char *key) {
  px_virtual_opts o = {.idle_timeout_ms = IDLE};
  int rc = px_virtual_register(&counter_type, px_nil(), &o);
  cr_assert(rc == 0 || rc == PX_EEXIST);
  cr_assert_eq(ask_int("counter", key, "inc"), 1);
  px_ref r;
  cr_assert_eq(px_virtual_ref("counter", key, &r), 0);
  px_monitor(r);
  return r;
}

static void advance(uint64_t ms) {
  cr_assert_eq(px_clock_advance(ms), 0);
  cr_assert_eq(px__v_sweeper_sync("counter"), 0);
}

static void expect_idle_down(px_ref r) {
  px_ref from;
  px_val reason = wait_down(&from);
  cr_assert(px_ref_eq(from, r));
  cr_assert(is_idle_reason(reason));
  px_val_release(reason);
  cr_assert_eq(px_virtual_active_count("counter"), 0);
}

Test(virtual_idle, collected_after_the_age_limit_and_reactivated) {
  vt_start(true);
  px_ref r = activate("g");
  advance(IDLE - 1000);
  cr_assert(alive(r));
  cr_assert_eq(px_virtual_active_count("counter"), 1);
  advance(2000);
  expect_idle_down(r);
  cr_assert_eq(atomic_load(&g_terms), 1);
  /* The next call makes a new activation (T-H-2). */
  cr_assert_eq(ask_int("counter", "g", "get"), 0);
  px_ref r2;
  cr_assert_eq(px_virtual_ref("counter", "g", &r2), 0);
  cr_assert(!px_ref_eq(r, r2));
  cr_assert_eq(atomic_load(&g_inits), 2);
  px_runtime_stop();
}

Test(virtual_idle, a_message_resets_the_age) {
  vt_start(true);
  px_ref r = activate("h");
  advance(100000);
  cr_assert_eq(ask_int("counter", "h", "inc"), 2);
  advance(100000); /* 200 s since activation, 100 s since use */
  cr_assert(alive(r));
  /* A message to the raw ref from another actor counts too. */
  cr_assert_eq(px_send(r, px_atom_of("inc"), px_nil()), 0);
  px_val v;
  cr_assert_eq(px_ask(r, px_atom_of("get"), px_nil(), WAIT_MS, &v), 0);
  cr_assert_eq(v.u.i, 3);
  advance(IDLE - 1000);
  cr_assert(alive(r));
  advance(2000);
  expect_idle_down(r);
  px_runtime_stop();
}

Test(virtual_idle, timer_ticks_do_not_count) {
  vt_start(true);
  px_ref r = activate("t");
  px_val v;
  cr_assert_eq(px_virtual_ask("counter", "t", px_atom_of("start_timer"),
                              px_int(10000), WAIT_MS, &v),
               0);
  for (int i = 0; i < 11; i++) advance(10000); /* 11 ticks */
  cr_assert(alive(r));
  advance(10000);
  expect_idle_down(r);
  px_runtime_stop();
}

Test(virtual_idle, negative_timeout_never_collects) {
  vt_start(true);
  px_virtual_opts o = {.idle_timeout_ms = -1};
  cr_assert_eq(px_virtual_register(&counter_type, px_nil(), &o), 0);
  cr_assert_eq(ask_int("counter", "n", "inc"), 1);
  px_ref r;
  cr_assert_eq(px_virtual_ref("counter", "n", &r), 0);
  cr_assert_eq(px_clock_advance(24ull * 3600 * 1000), 0);
  cr_assert_eq(px__v_sweeper_sync("counter"), PX_ENOTFOUND); /* none */
  cr_assert_eq(ask_int("counter", "n", "get"), 1);
  cr_assert(alive(r));
  px_runtime_stop();
}

Test(virtual_idle, default_is_five_minutes) {
  vt_start(true);
  cr_assert_eq(px_virtual_register(&counter_type, px_nil(), NULL), 0);
  cr_assert_eq(ask_int("counter", "d", "inc"), 1);
  px_ref r;
  cr_assert_eq(px_virtual_ref("counter", "d", &r), 0);
  px_monitor(r);
  advance(299000);
  cr_assert(alive(r));
  advance(2000);
  expect_idle_down(r);
  px_runtime_stop();
}

Test(virtual_idle, delay_deactivation_extends_then_cancels) {
  vt_start(true);
  px_ref r = activate("x");
  px_val v;
  cr_assert_eq(px_virtual_ask("counter", "x", px_atom_of("delay"),
                              px_int(600000), WAIT_MS, &v),
               0);
  cr_assert_eq(v.u.i, 0);
  /* A shorter delay does not shorten it. */
  cr_assert_eq(px_virtual_ask("counter", "x", px_atom_of("delay"),
                              px_int(1000), WAIT_MS, &v),
               0);
  advance(IDLE + 5000); /* idle, but kept */
  cr_assert(alive(r));
  advance(600000 - IDLE);
  expect_idle_down(r);
  cr_assert_eq(px_virtual_delay_deactivation(1000), PX_ENOTACTOR);
  /* A negative delay cancels the extension. */
  px_ref r2 = activate("y");
  cr_assert_eq(px_virtual_ask("counter", "y", px_atom_of("delay"),
                              px_int(600000), WAIT_MS, &v),
               0);
  cr_assert_eq(px_virtual_ask("counter", "y", px_atom_of("delay"),
                              px_int(-1), WAIT_MS, &v),
               0);
  advance(IDLE + 1000);
  expect_idle_down(r2);
  px_runtime_stop();
}
