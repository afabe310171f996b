/* What the reminder tests share: a store in a temporary directory, the
 * test thread that deliveries go to (each test file's own delivery hook
 * sends it a "fired" message), a reminder clock the test moves (a base
 * plus px_clock_ms, so px_clock_advance moves both the timers and "now"),
 * and the waits for a delivery or for its absence. */
#ifndef PX_TEST_REMINDER_UTIL_H
#define PX_TEST_REMINDER_UTIL_H

#include <criterion/criterion.h>
#include <stdatomic.h>

#include "facet/reminder_internal.h"
#include "plexspaces/px.h"
#include "support/tmpdir.h"

static char *g_dir;
static px_store *g_st;
static px_ref g_test;
static _Atomic int64_t g_base; /* reminder clock = g_base + px_clock_ms() */

#define T0 1700000000000LL /* the test's wall clock at the first start */

static inline int64_t test_clock(void) {
  return atomic_load(&g_base) + (int64_t)px_clock_ms();
}

static inline void store_up(void) { g_st = store_open(g_dir, NULL); }

static inline bool is_fired(const px_message *m, void *ud) {
  (void)ud;
  return m->type == px_atom_of("fired");
}

/* The next delivery (new message; free with px_message_free). */
static inline px_message *expect_fire(void) {
  px_message *m = NULL;
  int rc = px_receive(is_fired, NULL, 10000, &m);
  cr_assert_eq(rc, 0, "no reminder fired: %s", px_err_name(rc));
  return m;
}

/* An ask to the service, queued behind whatever was delivered to it. */
static inline void sync_service(void) {
  cr_assert_eq(px_reminder_cancel(g_st, "sync", "sync", "sync", "sync", "x"),
               0);
}

/* Nothing was delivered: checked after a sync, never after a sleep. */
static inline void expect_no_fire(void) {
  sync_service();
  px_message *m = NULL;
  int rc = px_receive(is_fired, NULL, 0, &m);
  if (rc == 0) {
    char buf[256];
    px_val_format(m->payload, buf, sizeof buf);
    cr_assert_fail("unexpected fire: %s", buf);
  }
}

#endif
