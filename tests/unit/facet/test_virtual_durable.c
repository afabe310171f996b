/* Durable virtual actors: state survives deactivation (explicit, idle and
 * LRU eviction) through the durability facet's checkpoint, checkpoint-only
 * (no_journal) and journaled; the activation's id is its stream. */
#include <ftw.h>
#include <unistd.h>

#include "support/tmpdir.h"
#include "test_virtual_util.h"

static char *t_dir;
static px_store *t_st;

static px_val c_encode(const void *state) {
  return px_int(((const counter *)state)->n);
}

static int c_decode(px_val saved, void *state) {
  if (px_typeof(saved) != PX_T_INT) return PX_EDECODE;
  ((counter *)state)->n = saved.u.i;
  return 0;
}

static void setup(bool vclock) {
  vt_start(vclock);
  t_dir = tmpdir_new();
  t_st = store_open(t_dir, NULL);
}

static void teardown(void) {
  px_runtime_stop();
  px_store_close(t_st);
  tmpdir_free(t_dir);
}

static void reg(bool journal, size_t cap, int64_t idle) {
  px_durable_opts d = {.store = t_st,
                       .no_journal = !journal,
                       .encode = c_encode,
                       .decode = c_decode};
  px_virtual_opts o = {.durable = &d, .max_active = cap,
                       .idle_timeout_ms = idle};
  cr_assert_eq(px_virtual_register(&counter_type, px_nil(), &o), 0);
}

static px_ref watch(const char *key) {
  px_ref r;
  cr_assert_eq(px_virtual_ref("counter", key, &r), 0);
  px_monitor(r);
  return r;
}

static void expect_idle_down(void) {
  px_val reason = wait_down(NULL);
  cr_assert(is_idle_reason(reason));
  px_val_release(reason);
}

static void state_survives_deactivation(bool journal) {
  setup(false);
  reg(journal, 0, 0);
  for (int i = 1; i <= 5; i++) cr_assert_eq(ask_int("counter", "p", "inc"), i);
  watch("p");
  cr_assert_eq(px_virtual_deactivate("counter", "p"), 0);
  expect_idle_down();
  cr_assert_eq(px_virtual_active_count("counter"), 0);
  uint64_t seq;
  px_val snap;
  cr_assert_eq(px_store_snapshot_get(t_st, "default/default/counter/p", &seq,
                                     &snap),
               0);
  cr_assert_eq(snap.u.i, 5);
  cr_assert_eq(ask_int("counter", "p", "get"), 5);
  cr_assert_eq(ask_int("counter", "p", "inc"), 6);
  cr_assert_eq(atomic_load(&g_inits), 2);
  teardown();
}

Test(virtual_durable, checkpoint_only_state_survives) {
  state_survives_deactivation(false);
}

Test(virtual_durable, journaled_state_survives) {
  state_survives_deactivation(true);
}

Test(virtual_durable, lru_eviction_checkpoints_first) {
  setup(false);
  reg(false, 2, 0);
  cr_assert_eq(ask_int("counter", "a", "inc"), 1);
  cr_assert_eq(ask_int("counter", "a", "inc"), 2);
  cr_assert_eq(ask_int("counter", "b", "inc"), 1);
  watch("a");
  cr_assert_eq(ask_int("counter", "c", "inc"), 1); /* evicts a */
  expect_idle_down();
  cr_assert_eq(ask_int("counter", "a", "get"), 2); /* evicts b */
  cr_assert_eq(ask_int("counter", "b", "get"), 1); /* evicts c */
  cr_assert_eq(ask_int("counter", "c", "get"), 1);
  cr_assert_leq(px__v_peak("counter"), 2);
  teardown();
}

Test(virtual_durable, idle_deactivation_checkpoints) {
  setup(true);
  reg(false, 0, 60000);
  cr_assert_eq(ask_int("counter", "i", "inc"), 1);
  cr_assert_eq(ask_int("counter", "i", "inc"), 2);
  watch("i");
  cr_assert_eq(px_clock_advance(61000), 0);
  expect_idle_down();
  cr_assert_eq(ask_int("counter", "i", "get"), 2);
  teardown();
}

Test(virtual_durable, messages_during_deactivation_reach_the_restored_state) {
  setup(false);
  reg(false, 0, 0);
  for (int round = 0; round < 5; round++) {
    for (int i = 0; i < 200; i++) {
      if (i == 100) px_virtual_deactivate("counter", "m");
      px_virtual_send("counter", "m", px_atom_of("inc"), px_nil());
    }
  }
  cr_assert_eq(ask_int("counter", "m", "get"), 1000);
  cr_assert_geq(atomic_load(&g_inits), 2);
  teardown();
}
