/* The per-scope cap (max_active): beyond it the least recently used
 * activation is deactivated and the new one waits until it has exited, so
 * the count never exceeds the cap. */
#include "test_virtual_util.h"

static void reg_cap(size_t cap) {
  px_virtual_opts o = {.max_active = cap};
  cr_assert_eq(px_virtual_register(&counter_type, px_nil(), &o), 0);
}

static px_ref ref_of(const char *key) {
  px_ref r;
  cr_assert_eq(px_virtual_ref("counter", key, &r), 0);
  px_monitor(r);
  return r;
}

static void expect_down_of(px_ref r) {
  px_ref from;
  px_val reason = wait_down(&from);
  cr_assert(px_ref_eq(from, r), "a different activation was evicted");
  cr_assert(is_idle_reason(reason));
  px_val_release(reason);
}

Test(virtual_lru, evicts_the_least_recently_used) {
  vt_start(false);
  reg_cap(3);
  cr_assert_eq(ask_int("counter", "a", "inc"), 1);
  cr_assert_eq(ask_int("counter", "b", "inc"), 1);
  cr_assert_eq(ask_int("counter", "c", "inc"), 1);
  px_ref a = ref_of("a"), b = ref_of("b"), c = ref_of("c");
  cr_assert_eq(ask_int("counter", "a", "inc"), 2); /* b is now the LRU */
  cr_assert_eq(ask_int("counter", "d", "inc"), 1);
  expect_down_of(b);
  cr_assert(alive(a) && alive(c));
  cr_assert_eq(px_virtual_active_count("counter"), 3);
  cr_assert_eq(ask_int("counter", "c", "get"), 1); /* a is now the LRU */
  cr_assert_eq(ask_int("counter", "e", "inc"), 1);
  expect_down_of(a);
  cr_assert(alive(c));
  cr_assert_eq(px_virtual_active_count("counter"), 3);
  /* b comes back with new (volatile) state. */
  cr_assert_eq(ask_int("counter", "b", "get"), 0);
  cr_assert_eq(px__v_peak("counter"), 3);
  cr_assert_eq(atomic_load(&g_inits), 6);
  px_runtime_stop();
}

Test(virtual_lru, scopes_have_their_own_cap) {
  vt_start(false);
  reg_cap(2);
  px_val r;
  for (int i = 0; i < 2; i++) {
    char k[8];
    snprintf(k, sizeof k, "s%d", i);
    cr_assert_eq(ask_int("counter", k, "inc"), 1);
    cr_assert_eq(px_virtual_ask_in("other", "ns", "counter", k,
                                   px_atom_of("inc"), px_nil(), WAIT_MS, &r),
                 0);
  }
  cr_assert_eq(px_virtual_active_count("counter"), 4);
  cr_assert_eq(atomic_load(&g_terms), 0);
  px_runtime_stop();
}

typedef struct load_arg {
  int base, n, fails;
} load_arg;

static void *load(void *p) {
  load_arg *a = p;
  for (int i = 0; i < a->n; i++) {
    char k[16];
    snprintf(k, sizeof k, "k%d", a->base + i);
    px_val r;
    if (px_virtual_ask("counter", k, px_atom_of("inc"), px_nil(), WAIT_MS,
                       &r) != 0)
      a->fails++;
    else if (r.u.i != 1)
      a->fails++;
  }
  return NULL;
}

Test(virtual_lru, never_more_than_the_cap_under_load) {
  vt_start(false);
  reg_cap(10);
  pthread_t th[4];
  load_arg args[4];
  for (int i = 0; i < 4; i++) {
    args[i] = (load_arg){i * 1000, 300, 0};
    pthread_create(&th[i], NULL, load, &args[i]);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    cr_assert_eq(args[i].fails, 0);
  }
  cr_assert_eq(atomic_load(&g_inits), 1200);
  cr_assert_leq(px__v_peak("counter"), 10);
  cr_assert_eq(px_virtual_active_count("counter"), 10);
  px_runtime_stop();
}

/* Thousands of keys wait behind a busy activation; the runtime stops:
 * every waiter's activation fails in turn (a loop, not a recursion on the
 * exiting actor's stack) and nothing leaks. */
Test(virtual_lru, stop_with_thousands_waiting) {
  vt_start(false);
  reg_cap(1);
  cr_assert_eq(ask_int("counter", "busy", "inc"), 1);
  cr_assert_eq(
      px_virtual_send("counter", "busy", px_atom_of("hang"), px_nil()), 0);
  for (int i = 0; i < 5000; i++) {
    char k[16];
    snprintf(k, sizeof k, "w%d", i);
    cr_assert_eq(px_virtual_send("counter", k, px_atom_of("inc"),
                                 px_str("a payload that must be freed")),
                 0);
  }
  cr_assert_eq(px_virtual_active_count("counter"), 1);
  px_val r;
  cr_assert_eq(px_virtual_ask("counter", "w0", px_atom_of("get"), px_nil(), 0,
                              &r),
               PX_ETIMEDOUT);
  px_runtime_stop();
  cr_assert_eq(atomic_load(&g_inits), 1);
}
