/* Durable reminders (SEMANTICS.md H: R-H-17..R-H-19, T-H-10, T-H-11): the
 * service runs on the virtual clock (the test's reminder clock is a base
 * plus px_clock_ms, so px_clock_advance moves both the timers and "now"),
 * and deliveries go to the test thread through the internal delivery
 * hook. "Nothing fired" is checked after a sync: an ask to the service
 * queued behind the tick, so the tick has been handled when it returns. */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reminder_test_util.h"

static _Atomic int g_fail; /* deliveries to fail before succeeding */

static int to_test(const char *tenant, const char *ns, const char *type,
                   const char *key, px_atom msg, px_val payload) {
  if (atomic_load(&g_fail) > 0) {
    atomic_fetch_sub(&g_fail, 1);
    px_val_release(payload);
    return PX_ENOTFOUND; /* as for a virtual type not registered yet */
  }
  return px_send(g_test, px_atom_of("fired"),
                 px_arr(6, px_str(tenant), px_str(ns), px_str(type),
                        px_str(key), payload, px_atomv(msg)));
}

/* Starts runtime + service with the reminder clock reading `now`. */
static void node_up(int64_t now) {
  px_runtime_opts o = {.workers = 2, .virtual_clock = true};
  cr_assert_eq(px_runtime_start(&o), 0);
  atomic_store(&g_base, now - (int64_t)px_clock_ms());
  g_test = px_self();
  store_up();
  cr_assert_eq(px_reminders_start(g_st), 0);
}

/* The whole node goes down: runtime (and with it the service), store. */
static void node_down(void) {
  px_runtime_stop();
  px_store_close(g_st);
  g_st = NULL;
}

static void setup(void) {
  g_dir = tmpdir_new();
  px__reminder_set_clock(test_clock);
  px__reminder_set_deliver(to_test);
  node_up(T0);
}

static void teardown(void) {
  if (g_st) node_down();
  tmpdir_free(g_dir);
}

TestSuite(reminder, .init = setup, .fini = teardown, .timeout = 60);

static void set_rem(const char *key, const char *name, int64_t due_in,
                    int64_t period, px_val payload) {
  px_reminder_spec r = {.tenant = "acme", .ns = "app", .type = "counter",
                        .key = key, .name = name, .due_in_ms = due_in,
                        .period_ms = period, .payload = payload};
  int rc = px_reminder_set(g_st, &r);
  cr_assert_eq(rc, 0, "set %s: %s", name, px_err_name(rc));
  px_val_release(payload);
}

static px_val fired_body(const px_message *m) { return px_at(m->payload, 4); }
static int64_t fired_due(const px_message *m) {
  return px_gets(fired_body(m), "due_ms").u.i;
}
static const char *fired_name(const px_message *m) {
  return px_str_ptr(px_gets(fired_body(m), "name"));
}
static const char *fired_type(const px_message *m) {
  return px_atom_name(px_at(m->payload, 5).u.a);
}

typedef struct seen {
  int n;
  int64_t due[8], period[8], remaining[8];
  char name[8][32];
} seen;

static int seen_cb(void *ud, const px_reminder_info *r) {
  seen *s = ud;
  if (s->n < 8) {
    s->due[s->n] = r->due_ms;
    s->period[s->n] = r->period_ms;
    s->remaining[s->n] = r->remaining;
    snprintf(s->name[s->n], sizeof s->name[0], "%s", r->name);
  }
  s->n++;
  return 0;
}

static seen list_of(const char *key) {
  char owner[128];
  snprintf(owner, sizeof owner, "acme/app/counter/%s", key);
  seen s = {0};
  cr_assert_eq(px_reminder_list(g_st, owner, seen_cb, &s), 0);
  return s;
}

Test(reminder, one_shot_fires_once_at_its_due_time_then_is_gone) {
  set_rem("c1", "wake", 5000, 0, px_str("hello"));
  seen s = list_of("c1");
  cr_assert_eq(s.n, 1);
  cr_assert_eq(s.due[0], T0 + 5000);
  cr_assert_eq(s.period[0], 0);
  cr_assert_eq(px_clock_advance(4999), 0);
  expect_no_fire();
  cr_assert_eq(px_clock_advance(1), 0);
  px_message *m = expect_fire();
  px_val p = m->payload;
  cr_assert_str_eq(px_str_ptr(px_at(p, 0)), "acme");
  cr_assert_str_eq(px_str_ptr(px_at(p, 1)), "app");
  cr_assert_str_eq(px_str_ptr(px_at(p, 2)), "counter");
  cr_assert_str_eq(px_str_ptr(px_at(p, 3)), "c1");
  cr_assert_str_eq(fired_type(m), "reminder_fired");
  cr_assert_str_eq(fired_name(m), "wake");
  cr_assert_str_eq(px_str_ptr(px_gets(fired_body(m), "payload")), "hello");
  cr_assert_eq(fired_due(m), T0 + 5000);
  cr_assert_eq(px_gets(fired_body(m), "fired_ms").u.i, T0 + 5000);
  px_message_free(m);
  expect_no_fire();
  cr_assert_eq(list_of("c1").n, 0, "a fired one-shot reminder is deleted");
  cr_assert_eq(px_clock_advance(100000), 0);
  expect_no_fire();
}

Test(reminder, periodic_fires_every_period_and_stores_the_next_due) {
  set_rem("c1", "tick", 1000, 1000, px_int(7));
  for (int i = 1; i <= 3; i++) {
    cr_assert_eq(px_clock_advance(1000), 0);
    px_message *m = expect_fire();
    cr_assert_eq(fired_due(m), T0 + 1000 * i);
    cr_assert_eq(px_gets(fired_body(m), "payload").u.i, 7);
    px_message_free(m);
  }
  expect_no_fire();
  seen s = list_of("c1");
  cr_assert_eq(s.n, 1);
  cr_assert_eq(s.due[0], T0 + 4000);
  cr_assert_eq(s.period[0], 1000);
}

Test(reminder, a_late_tick_fires_once_and_skips_the_ticks_it_overran) {
  set_rem("c1", "tick", 1000, 1000, px_nil());
  cr_assert_eq(px_clock_advance(3500), 0); /* 1000, 2000 and 3000 passed */
  px_message *m = expect_fire();
  cr_assert_eq(fired_due(m), T0 + 1000);
  px_message_free(m);
  expect_no_fire();
  cr_assert_eq(list_of("c1").due[0], T0 + 4000);
  cr_assert_eq(px_clock_advance(500), 0);
  m = expect_fire();
  cr_assert_eq(fired_due(m), T0 + 4000);
  px_message_free(m);
}

/* T-H-11 */
Test(reminder, period_below_the_minimum_is_rejected) {
  px_reminder_spec r = {.tenant = "acme", .ns = "app", .type = "counter",
                        .key = "c1", .name = "fast", .due_in_ms = 10,
                        .period_ms = PX_REMINDER_MIN_PERIOD_MS - 1};
  cr_assert_eq(px_reminder_set(g_st, &r), PX_EINVAL);
  cr_assert_eq(px_reminder_set_min_period(60000), PX_REMINDER_MIN_PERIOD_MS);
  r.period_ms = 59999;
  cr_assert_eq(px_reminder_set(g_st, &r), PX_EINVAL);
  r.period_ms = 60000;
  cr_assert_eq(px_reminder_set(g_st, &r), 0);
  cr_assert_eq(px_reminder_set_min_period(0), PX_EINVAL);
  cr_assert_eq(px_reminder_set_min_period(PX_REMINDER_MIN_PERIOD_MS), 60000);
  seen s = list_of("c1");
  cr_assert_eq(s.n, 1);
  cr_assert_eq(s.period[0], 60000);
}

Test(reminder, bad_arguments_are_rejected) {
  px_reminder_spec ok = {.tenant = "acme", .ns = "app", .type = "counter",
                         .key = "a/b", .name = "n", .due_in_ms = 10};
  px_reminder_spec r = ok;
  cr_assert_eq(px_reminder_set(g_st, &r), 0, "a key may hold '/'");
  r.tenant = "ac/me";
  cr_assert_eq(px_reminder_set(g_st, &r), PX_EINVAL);
  r = ok, r.ns = "";
  cr_assert_eq(px_reminder_set(g_st, &r), PX_EINVAL);
  r = ok, r.type = NULL;
  cr_assert_eq(px_reminder_set(g_st, &r), PX_EINVAL);
  r = ok, r.key = "";
  cr_assert_eq(px_reminder_set(g_st, &r), PX_EINVAL);
  r = ok, r.name = "";
  cr_assert_eq(px_reminder_set(g_st, &r), PX_EINVAL);
  r = ok, r.due_in_ms = -1;
  cr_assert_eq(px_reminder_set(g_st, &r), PX_EINVAL);
  r = ok, r.due_in_ms = INT64_MAX;
  cr_assert_eq(px_reminder_set(g_st, &r), PX_EINVAL);
  r = ok, r.due_at_ms = INT64_MAX;
  cr_assert_eq(px_reminder_set(g_st, &r), PX_EINVAL);
  r = ok, r.period_ms = INT64_MAX;
  cr_assert_eq(px_reminder_set(g_st, &r), PX_EINVAL);
  r = ok, r.period_ms = -1000;
  cr_assert_eq(px_reminder_set(g_st, &r), PX_EINVAL);
  r = ok, r.period_ms = 1000, r.max_occurrences = -1;
  cr_assert_eq(px_reminder_set(g_st, &r), PX_EINVAL);
  cr_assert_eq(px_reminder_set(NULL, &ok), PX_EINVAL);
  cr_assert_eq(px_reminder_set(g_st, NULL), PX_EINVAL);
  cr_assert_eq(px_reminder_cancel(g_st, "acme", "app", "counter", "c", ""),
               PX_EINVAL);
  cr_assert_eq(px_reminder_list(g_st, NULL, NULL, NULL), PX_EINVAL);
  cr_assert_eq(px_reminders_start(g_st), PX_EEXIST);
}

/* R-H-19 */
Test(reminder, setting_the_same_name_again_replaces_it) {
  set_rem("c1", "r", 1000, 0, px_str("first"));
  set_rem("c1", "r", 5000, 0, px_str("second"));
  set_rem("c1", "other", 8000, 0, px_nil());
  seen s = list_of("c1");
  cr_assert_eq(s.n, 2);
  cr_assert_str_eq(s.name[0], "other");
  cr_assert_str_eq(s.name[1], "r");
  cr_assert_eq(s.due[1], T0 + 5000);
  cr_assert_eq(px_clock_advance(1000), 0);
  expect_no_fire(); /* the first registration is gone */
  cr_assert_eq(px_clock_advance(4000), 0);
  px_message *m = expect_fire();
  cr_assert_str_eq(fired_name(m), "r");
  cr_assert_str_eq(px_str_ptr(px_gets(fired_body(m), "payload")), "second");
  px_message_free(m);
  expect_no_fire();
}

/* R-H-19: unregister is explicit */
Test(reminder, cancel_stops_a_periodic_reminder) {
  set_rem("c1", "tick", 1000, 1000, px_nil());
  set_rem("c2", "tick", 1500, 1000, px_nil());
  cr_assert_eq(px_clock_advance(1000), 0);
  px_message_free(expect_fire());
  cr_assert_eq(px_reminder_cancel(g_st, "acme", "app", "counter", "c1",
                                  "tick"), 0);
  cr_assert_eq(px_reminder_cancel(g_st, "acme", "app", "counter", "c1",
                                  "tick"), 0, "cancel is idempotent");
  cr_assert_eq(list_of("c1").n, 0);
  cr_assert_eq(px_clock_advance(500), 0); /* c2 still ticks */
  px_message *m = expect_fire();
  cr_assert_str_eq(px_str_ptr(px_at(m->payload, 3)), "c2");
  px_message_free(m);
  cr_assert_eq(px_clock_advance(500), 0);
  expect_no_fire();
  cr_assert_eq(px_reminder_cancel(g_st, "acme", "app", "counter", "c2",
                                  "tick"), 0);
  cr_assert_eq(px_clock_advance(10000), 0);
  expect_no_fire();
}

Test(reminder, max_occurrences_ends_a_periodic_reminder) {
  px_reminder_spec r = {.tenant = "acme", .ns = "app", .type = "counter",
                        .key = "c1", .name = "twice", .due_in_ms = 1000,
                        .period_ms = 1000, .max_occurrences = 2};
  cr_assert_eq(px_reminder_set(g_st, &r), 0);
  cr_assert_eq(list_of("c1").remaining[0], 2);
  for (int i = 0; i < 2; i++) {
    cr_assert_eq(px_clock_advance(1000), 0);
    px_message_free(expect_fire());
  }
  sync_service(); /* the write follows the delivery */
  cr_assert_eq(list_of("c1").n, 0);
  cr_assert_eq(px_clock_advance(5000), 0);
  expect_no_fire();
}

Test(reminder, reminders_set_without_a_service_fire_once_it_starts) {
  px_reminders_stop(g_st);
  set_rem("c1", "later", 2000, 0, px_nil());
  cr_assert_eq(px_clock_advance(3000), 0);
  expect_no_fire();
  cr_assert_eq(px_reminders_start(g_st), 0);
  px_message *m = expect_fire(); /* overdue one-shot: fires at start */
  cr_assert_eq(fired_due(m), T0 + 2000);
  px_message_free(m);
  expect_no_fire();
}

/* T-H-10: ticks due while the node is down are not replayed. */
Test(reminder, missed_periodic_ticks_are_not_replayed_after_a_restart) {
  set_rem("c1", "tick", 1000, 1000, px_nil());
  cr_assert_eq(px_clock_advance(1000), 0);
  px_message *m = expect_fire();
  cr_assert_eq(fired_due(m), T0 + 1000);
  px_message_free(m);
  int64_t now = test_clock();
  node_down();
  /* down for 3.5 periods: the ticks at +2000, +3000, +4000 are missed */
  node_up(now + 3500);
  expect_no_fire();
  cr_assert_eq(list_of("c1").n, 1, "the definition survived");
  cr_assert_eq(px_clock_advance(499), 0);
  expect_no_fire();
  cr_assert_eq(px_clock_advance(1), 0);
  m = expect_fire();
  cr_assert_eq(fired_due(m), T0 + 5000, "the next scheduled tick");
  px_message_free(m);
  expect_no_fire();
  cr_assert_eq(px_clock_advance(1000), 0);
  m = expect_fire();
  cr_assert_eq(fired_due(m), T0 + 6000);
  px_message_free(m);
}

Test(reminder, an_overdue_one_shot_fires_once_after_a_restart) {
  set_rem("c1", "once", 2000, 0, px_str("p"));
  int64_t now = test_clock();
  node_down();
  node_up(now + 10000);
  px_message *m = expect_fire();
  cr_assert_eq(fired_due(m), T0 + 2000);
  cr_assert_eq(px_gets(fired_body(m), "fired_ms").u.i, T0 + 10000);
  px_message_free(m);
  expect_no_fire();
  cr_assert_eq(list_of("c1").n, 0);
  now = test_clock();
  node_down();
  node_up(now + 10000);
  expect_no_fire();
}

/* PLEXSPACES durable alarm: one per actor, delivered as __alarm__ */
Test(reminder, the_durable_alarm_is_one_reserved_one_shot_reminder) {
  int64_t at = 1;
  cr_assert_eq(px_alarm_get(g_st, "acme", "app", "counter", "c1", &at), 0);
  cr_assert_eq(at, 0, "no alarm yet");
  cr_assert_eq(px_alarm_set(g_st, "acme", "app", "counter", "c1", T0 + 3000),
               0);
  cr_assert_eq(px_alarm_set(g_st, "acme", "app", "counter", "c1", T0 + 2000),
               0);
  cr_assert_eq(px_alarm_get(g_st, "acme", "app", "counter", "c1", &at), 0);
  cr_assert_eq(at, T0 + 2000, "setting again moves it");
  cr_assert_eq(px_alarm_set(g_st, "acme", "app", "counter", "c1", 0),
               PX_EINVAL);
  px_reminder_spec r = {.tenant = "acme", .ns = "app", .type = "counter",
                        .key = "c1", .name = "__alarm__", .due_in_ms = 1};
  cr_assert_eq(px_reminder_set(g_st, &r), PX_EINVAL, "reserved name");
  cr_assert_eq(px_clock_advance(2000), 0);
  px_message *m = expect_fire();
  cr_assert_str_eq(fired_type(m), "__alarm__");
  cr_assert_eq(fired_due(m), T0 + 2000);
  px_message_free(m);
  expect_no_fire();
  cr_assert_eq(px_alarm_get(g_st, "acme", "app", "counter", "c1", &at), 0);
  cr_assert_eq(at, 0, "a fired alarm is gone");
  cr_assert_eq(px_alarm_set(g_st, "acme", "app", "counter", "c1", T0 + 9000),
               0);
  cr_assert_eq(px_alarm_delete(g_st, "acme", "app", "counter", "c1"), 0);
  cr_assert_eq(px_alarm_get(g_st, "acme", "app", "counter", "c1", &at), 0);
  cr_assert_eq(at, 0);
  cr_assert_eq(px_clock_advance(10000), 0);
  expect_no_fire();
}

Test(reminder, a_failed_delivery_is_retried_without_losing_the_reminder) {
  px_log_set_level(PX_LOG_ERROR); /* the expected warning */
  set_rem("c1", "once", 1000, 0, px_nil());
  set_rem("c2", "tick", 1000, 1000, px_nil());
  atomic_store(&g_fail, 2);
  cr_assert_eq(px_clock_advance(1000), 0); /* both fail */
  expect_no_fire();
  cr_assert_eq(list_of("c1").n, 1, "kept");
  cr_assert_eq(list_of("c2").due[0], T0 + 1000, "nothing stored");
  cr_assert_eq(px_clock_advance(999), 0);
  expect_no_fire();
  cr_assert_eq(px_clock_advance(1), 0); /* the retry: both arrive */
  bool got[2] = {false, false};
  for (int i = 0; i < 2; i++) {
    px_message *m = expect_fire();
    got[px_str_ptr(px_at(m->payload, 3))[1] - '1'] = true;
    cr_assert_eq(fired_due(m), T0 + 1000);
    px_message_free(m);
  }
  cr_assert(got[0] && got[1]);
  expect_no_fire();
  cr_assert_eq(list_of("c1").n, 0);
  /* the periodic schedule is unchanged by the retry */
  cr_assert_eq(list_of("c2").due[0], T0 + 3000);
  cr_assert_eq(px_clock_advance(1000), 0);
  px_message *m = expect_fire();
  cr_assert_eq(fired_due(m), T0 + 3000);
  px_message_free(m);
}
