/* Reminders delivered through the virtual-actor layer (R-H-17, T-H-9): a
 * reminder belongs to the actor, not to an activation, so a tick for a
 * deactivated actor activates it again and its handler receives
 * reminder_fired; the durable alarm arrives as __alarm__. On the virtual
 * clock, with the test's reminder clock following it. */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reminder_test_util.h"
#include "facet/reminder_internal.h"
#include "plexspaces/px.h"
#include "plexspaces/virtual.h"

static _Atomic int g_inits;


/* A grain that numbers its activations and reports each reminder to the
 * test thread as "got" [key, type, name, activation number, tenant]. */
typedef struct grain {
  int activation;
} grain;

static int grain_init(px_val args, void **state) {
  (void)args;
  grain *g = malloc(sizeof *g);
  g->activation = atomic_fetch_add(&g_inits, 1) + 1;
  *state = g;
  return 0;
}

static void grain_handle(void *state, const px_message *m) {
  grain *g = state;
  const char *t = px_atom_name(m->type);
  if (!strcmp(t, "reminder_fired") || !strcmp(t, "__alarm__")) {
    px_send(g_test, px_atom_of("got"),
            px_arr(5, px_str(px_virtual_self_key()), px_atom_val(t),
                   px_val_retain(px_gets(m->payload, "name")),
                   px_int(g->activation), px_str(px_self_tenant())));
  } else if (!strcmp(t, "ping")) {
    px_reply(m, px_int(g->activation));
  }
}

static void grain_terminate(void *state, px_val reason) {
  (void)reason;
  free(state);
}

static const px_actor_type grain_type = {.name = "grain",
                                         .init = grain_init,
                                         .handle = grain_handle,
                                         .terminate = grain_terminate};

static void setup(void) {
  g_dir = tmpdir_new();
  px__reminder_set_clock(test_clock);
  px_runtime_opts o = {.workers = 2, .virtual_clock = true};
  cr_assert_eq(px_runtime_start(&o), 0);
  atomic_store(&g_base, T0 - (int64_t)px_clock_ms());
  g_test = px_self();
  g_st = store_open(g_dir, NULL);
  px_virtual_opts vo = {.idle_timeout_ms = -1};
  cr_assert_eq(px_virtual_register(&grain_type, px_nil(), &vo), 0);
  cr_assert_eq(px_reminders_start(g_st), 0);
}

static void teardown(void) {
  px_runtime_stop();
  px_store_close(g_st);
  tmpdir_free(g_dir);
}

TestSuite(reminder_virtual, .init = setup, .fini = teardown, .timeout = 60);

static bool is_got(const px_message *m, void *ud) {
  (void)ud;
  return m->type == px_atom_of("got");
}

static px_message *expect_got(void) {
  px_message *m = NULL;
  int rc = px_receive(is_got, NULL, 10000, &m);
  cr_assert_eq(rc, 0, "the grain got no reminder: %s", px_err_name(rc));
  return m;
}

static void expect_nothing(void) {
  /* an ask to the service is queued behind any tick it was given */
  cr_assert_eq(px_reminder_cancel(g_st, "s", "s", "s", "s", "x"), 0);
  /* and the grain has handled what the service sent before the ask */
  px_val r;
  cr_assert_eq(px_virtual_ask_in("acme", "app", "grain", "g1",
                                 px_atom_of("ping"), px_nil(), 10000, &r),
               0);
  px_message *m = NULL;
  cr_assert_eq(px_receive(is_got, NULL, 0, &m), PX_ETIMEDOUT);
}

static int ping(const char *key) {
  px_val r;
  int rc = px_virtual_ask_in("acme", "app", "grain", key, px_atom_of("ping"),
                             px_nil(), 10000, &r);
  cr_assert_eq(rc, 0, "ping: %s", px_err_name(rc));
  return (int)r.u.i;
}

static bool is_down(const px_message *m, void *ud) {
  return m->type == px_a()->down_msg &&
         px_get(m->payload, px_atomv(px_a()->monitor_ref)).u.i ==
             *(int64_t *)ud;
}

/* Deactivates (acme, app, grain, key) and waits until its process is
 * gone, by monitoring it. */
static void deactivate(const char *key) {
  px_ref ref;
  cr_assert_eq(px_virtual_ref_in("acme", "app", "grain", key, &ref), 0);
  int64_t mref = (int64_t)px_monitor(ref);
  cr_assert_eq(px_virtual_deactivate_in("acme", "app", "grain", key), 0);
  px_message *m = NULL;
  cr_assert_eq(px_receive(is_down, &mref, 10000, &m), 0);
  px_message_free(m);
}

/* T-H-9 */
Test(reminder_virtual, a_tick_reactivates_a_deactivated_actor) {
  px_reminder_spec r = {.tenant = "acme", .ns = "app", .type = "grain",
                        .key = "g1", .name = "wake", .due_in_ms = 1000,
                        .period_ms = 1000};
  cr_assert_eq(px_reminder_set(g_st, &r), 0);
  cr_assert_eq(ping("g1"), 1);
  deactivate("g1");
  cr_assert_eq(px_virtual_active_count("grain"), 0);
  cr_assert_eq(px_clock_advance(1000), 0);
  px_message *m = expect_got();
  cr_assert_str_eq(px_str_ptr(px_at(m->payload, 0)), "g1");
  cr_assert_str_eq(px_atom_name(px_at(m->payload, 1).u.a), "reminder_fired");
  cr_assert_str_eq(px_str_ptr(px_at(m->payload, 2)), "wake");
  cr_assert_eq(px_at(m->payload, 3).u.i, 2, "a new activation got it");
  cr_assert_str_eq(px_str_ptr(px_at(m->payload, 4)), "acme",
                   "activated in the reminder's tenant");
  px_message_free(m);
  /* the next tick goes to the same, still active, activation */
  cr_assert_eq(px_clock_advance(1000), 0);
  m = expect_got();
  cr_assert_eq(px_at(m->payload, 3).u.i, 2);
  px_message_free(m);
  expect_nothing();
}

Test(reminder_virtual, a_reminder_activates_an_actor_never_called_before) {
  px_reminder_spec r = {.tenant = "acme", .ns = "app", .type = "grain",
                        .key = "fresh", .name = "once", .due_in_ms = 500};
  cr_assert_eq(px_reminder_set(g_st, &r), 0);
  cr_assert_eq(px_virtual_active_count("grain"), 0);
  cr_assert_eq(px_clock_advance(500), 0);
  px_message *m = expect_got();
  cr_assert_str_eq(px_str_ptr(px_at(m->payload, 0)), "fresh");
  cr_assert_eq(px_at(m->payload, 3).u.i, 1);
  px_message_free(m);
  cr_assert_eq(px_virtual_active_count("grain"), 1);
}

Test(reminder_virtual, the_alarm_arrives_as_alarm_and_reactivates) {
  cr_assert_eq(ping("g1"), 1);
  cr_assert_eq(px_alarm_set(g_st, "acme", "app", "grain", "g1", T0 + 2000),
               0);
  deactivate("g1");
  cr_assert_eq(px_clock_advance(2000), 0);
  px_message *m = expect_got();
  cr_assert_str_eq(px_atom_name(px_at(m->payload, 1).u.a), "__alarm__");
  cr_assert_eq(px_at(m->payload, 3).u.i, 2);
  px_message_free(m);
  cr_assert_eq(px_clock_advance(5000), 0);
  expect_nothing();
}
