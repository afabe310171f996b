/* Virtual actors, volatile state: activation on first message (T-H-1),
 * one activation under concurrent first messages, init failure (T-H-5),
 * DeactivateOnIdle (T-H-14), messages during deactivation (R-H-3, FIFO),
 * scopes, eager activation, unregister, bad input. */
#include "test_virtual_util.h"

static void reg(const px_virtual_opts *o) {
  cr_assert_eq(px_virtual_register(&counter_type, px_nil(), o), 0);
}

Test(virtual, first_message_activates_once) {
  vt_start(false);
  reg(NULL);
  cr_assert_eq(px_virtual_active_count("counter"), 0);
  cr_assert_eq(ask_int("counter", "a", "inc"), 1);
  cr_assert_eq(ask_int("counter", "a", "inc"), 2);
  cr_assert_eq(px_virtual_send("counter", "a", px_atom_of("inc"), px_nil()),
               0);
  cr_assert_eq(ask_int("counter", "a", "get"), 3);
  cr_assert_eq(atomic_load(&g_inits), 1);
  cr_assert_eq(px_virtual_active_count("counter"), 1);
  cr_assert_eq(ask_int("counter", "b", "get"), 0);
  cr_assert_eq(px_virtual_active_count("counter"), 2);
  cr_assert_eq(atomic_load(&g_inits), 2);
  px_ref r1, r2;
  cr_assert_eq(px_virtual_ref("counter", "a", &r1), 0);
  cr_assert_eq(px_virtual_ref("counter", "a", &r2), 0);
  cr_assert(px_ref_eq(r1, r2));
  cr_assert(alive(r1));
  px_runtime_stop();
}

typedef struct race_arg {
  pthread_barrier_t *bar;
  int rc;
  int64_t n;
} race_arg;

static void *race_thread(void *p) {
  race_arg *a = p;
  pthread_barrier_wait(a->bar);
  px_val r;
  a->rc = px_virtual_ask("counter", "hot", px_atom_of("inc"), px_nil(),
                         WAIT_MS, &r);
  a->n = r.u.i;
  return NULL;
}

Test(virtual, concurrent_first_messages_make_one_activation) {
  vt_start(false);
  reg(NULL);
  for (int round = 0; round < 20; round++) {
    atomic_store(&g_inits, 0);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 8);
    pthread_t th[8];
    race_arg args[8];
    for (int i = 0; i < 8; i++) {
      args[i] = (race_arg){&bar, -1, 0};
      pthread_create(&th[i], NULL, race_thread, &args[i]);
    }
    bool seen[9] = {false};
    for (int i = 0; i < 8; i++) {
      pthread_join(th[i], NULL);
      cr_assert_eq(args[i].rc, 0);
      cr_assert(args[i].n >= 1 && args[i].n <= 8);
      cr_assert(!seen[args[i].n], "count %lld twice", (long long)args[i].n);
      seen[args[i].n] = true;
    }
    pthread_barrier_destroy(&bar);
    cr_assert_eq(atomic_load(&g_inits), 1, "round %d: %d inits", round,
                 atomic_load(&g_inits));
    cr_assert_eq(ask_int("counter", "hot", "get"), 8);
    /* Next round races the first messages of a new activation against
     * the old one's exit. */
    cr_assert_eq(px_virtual_deactivate("counter", "hot"), 0);
  }
  px_runtime_stop();
}

Test(virtual, init_failure_fails_the_ask_then_retries) {
  vt_start(false);
  reg(NULL);
  atomic_store(&g_fail_init, true);
  px_val r;
  int rc = px_virtual_ask("counter", "x", px_atom_of("inc"), px_nil(),
                          WAIT_MS, &r);
  cr_assert_eq(rc, PX_EINIT, "%s", px_err_name(rc));
  cr_assert_eq(px_typeof(r), PX_T_ARRAY);
  cr_assert(px_is_atom(px_at(r, 0), px_atom_of("init_failed")));
  cr_assert_eq(px_at(r, 1).u.i, PX_EIO);
  px_val_release(r);
  /* The failed activation is gone from the directory once the ask fails. */
  cr_assert_eq(px_virtual_active_count("counter"), 0);
  atomic_store(&g_fail_init, false);
  cr_assert_eq(ask_int("counter", "x", "inc"), 1);
  cr_assert_eq(atomic_load(&g_inits), 2);
  px_runtime_stop();
}

Test(virtual, deactivate_on_idle_during_a_call) {
  vt_start(false);
  reg(NULL);
  cr_assert_eq(ask_int("counter", "d", "inc"), 1);
  px_ref old;
  cr_assert_eq(px_virtual_ref("counter", "d", &old), 0);
  px_monitor(old);
  /* The call completes (T-H-14) ... */
  cr_assert_eq(ask_int("counter", "d", "deact_me"), 0);
  px_ref from;
  px_val reason = wait_down(&from);
  cr_assert(px_ref_eq(from, old));
  cr_assert(is_idle_reason(reason));
  cr_assert(px_reason_is_normal(reason));
  px_val_release(reason);
  /* ... and the next one hits a new activation (volatile: state is new). */
  cr_assert_eq(ask_int("counter", "d", "get"), 0);
  px_ref now;
  cr_assert_eq(px_virtual_ref("counter", "d", &now), 0);
  cr_assert(!px_ref_eq(now, old));
  cr_assert_eq(atomic_load(&g_inits), 2);
  cr_assert_eq(atomic_load(&g_terms), 1);
  cr_assert_eq(px_virtual_deactivate("counter", "nobody"), PX_ENOTFOUND);
  px_runtime_stop();
}

Test(virtual, messages_during_deactivation_go_to_the_next_one_in_order) {
  vt_start(false);
  reg(NULL);
  for (int64_t i = 0; i < 3000; i++) {
    if (i % 500 == 250) px_virtual_deactivate("counter", "f");
    cr_assert_eq(
        px_virtual_send("counter", "f", px_atom_of("seq"), px_int(i)), 0);
  }
  px_val r;
  cr_assert_eq(px_virtual_ask("counter", "f", px_atom_of("seq"), px_int(3000),
                              WAIT_MS, &r),
               0);
  cr_assert_eq(g_nlog, 3001);
  for (size_t i = 0; i <= 3000; i++)
    cr_assert_eq(g_log[i], (int64_t)i, "at %zu: %lld", i, (long long)g_log[i]);
  cr_assert(atomic_load(&g_inits) >= 2, "inits %d", atomic_load(&g_inits));
  cr_assert_eq(px_virtual_active_count("counter"), 1);
  px_runtime_stop();
}

static void *seq_sender(void *p) {
  int64_t base = (int64_t)(intptr_t)p;
  for (int64_t i = 0; i < 1000; i++)
    px_virtual_send("counter", "m", px_atom_of("seq"), px_int(base + i));
  return NULL;
}

static void *deactivator(void *p) {
  (void)p;
  for (int i = 0; i < 200; i++) px_virtual_deactivate("counter", "m");
  return NULL;
}

/* Per-sender FIFO across re-activations with several senders and a
 * concurrent deactivator: nothing lost, each sender's numbers in order. */
Test(virtual, per_sender_fifo_under_concurrent_deactivation) {
  vt_start(false);
  reg(NULL);
  pthread_t s1, s2, d;
  pthread_create(&s1, NULL, seq_sender, (void *)(intptr_t)0);
  pthread_create(&s2, NULL, seq_sender, (void *)(intptr_t)100000);
  pthread_create(&d, NULL, deactivator, NULL);
  pthread_join(s1, NULL);
  pthread_join(s2, NULL);
  pthread_join(d, NULL);
  /* Every message the threads sent is in the directory (delivered or
   * waiting); this ask is routed behind all of them. */
  px_val r;
  cr_assert_eq(px_virtual_ask("counter", "m", px_atom_of("get"), px_nil(),
                              WAIT_MS, &r),
               0);
  cr_assert_eq(g_nlog, 2000);
  int64_t next[2] = {0, 100000};
  for (size_t i = 0; i < g_nlog; i++) {
    int which = g_log[i] >= 100000;
    cr_assert_eq(g_log[i], next[which], "out of order at %zu", i);
    next[which]++;
  }
  px_runtime_stop();
}

Test(virtual, self_key_and_scopes) {
  vt_start(false);
  reg(NULL);
  px_val r;
  cr_assert_eq(px_virtual_ask("counter", "k1", px_atom_of("key"), px_nil(),
                              WAIT_MS, &r),
               0);
  cr_assert_str_eq(px_str_ptr(r), "k1");
  px_val_release(r);
  cr_assert_eq(px_virtual_ask_in("acme", "prod", "counter", "k1",
                                 px_atom_of("id"), px_nil(), WAIT_MS, &r),
               0);
  cr_assert_str_eq(px_str_ptr(r), "acme/prod/counter/k1");
  px_val_release(r);
  cr_assert_eq(px_virtual_ask("counter", "k1", px_atom_of("id"), px_nil(),
                              WAIT_MS, &r),
               0);
  cr_assert_str_eq(px_str_ptr(r), "default/default/counter/k1");
  px_val_release(r);
  /* Same key, two scopes: two activations with their own state. */
  cr_assert_eq(px_virtual_send_in("acme", "prod", "counter", "k1",
                                  px_atom_of("inc"), px_nil()),
               0);
  cr_assert_eq(px_virtual_ask_in("acme", "prod", "counter", "k1",
                                 px_atom_of("get"), px_nil(), WAIT_MS, &r),
               0);
  cr_assert_eq(r.u.i, 1);
  cr_assert_eq(ask_int("counter", "k1", "get"), 0);
  cr_assert_eq(px_virtual_active_count("counter"), 2);
  cr_assert_null(px_virtual_self_key());
  cr_assert_null(px_virtual_self_id());
  px_runtime_stop();
}

Test(virtual, eager_keys_are_activated_at_registration) {
  vt_start(false);
  const char *keys[] = {"e1", "e2", NULL};
  px_virtual_opts o = {.activation = PX_ACTIVATE_EAGER, .eager_keys = keys};
  reg(&o);
  cr_assert_eq(px_virtual_active_count("counter"), 2);
  cr_assert_eq(ask_int("counter", "e1", "get"), 0);
  cr_assert_eq(ask_int("counter", "e2", "get"), 0);
  cr_assert_eq(atomic_load(&g_inits), 2);
  px_runtime_stop();
}

Test(virtual, unregister_deactivates_everything) {
  vt_start(false);
  reg(NULL);
  px_ref refs[5];
  for (int i = 0; i < 5; i++) {
    char k[8];
    snprintf(k, sizeof k, "u%d", i);
    cr_assert_eq(px_virtual_ref("counter", k, &refs[i]), 0);
    px_monitor(refs[i]);
  }
  cr_assert_eq(px_virtual_active_count("counter"), 5);
  cr_assert_eq(px_virtual_unregister("counter"), 0);
  for (int i = 0; i < 5; i++) {
    px_val reason = wait_down(NULL);
    cr_assert(is_idle_reason(reason));
    px_val_release(reason);
  }
  cr_assert_eq(px_virtual_active_count("counter"), 0);
  cr_assert_eq(px_virtual_send("counter", "u0", px_atom_of("inc"), px_nil()),
               PX_ENOTFOUND);
  cr_assert_eq(px_virtual_unregister("counter"), PX_ENOTFOUND);
  /* It can come back. */
  reg(NULL);
  cr_assert_eq(ask_int("counter", "u0", "inc"), 1);
  px_runtime_stop();
}

Test(virtual, crash_then_next_message_reactivates) {
  vt_start(false);
  reg(NULL);
  cr_assert_eq(ask_int("counter", "c", "inc"), 1);
  px_ref old;
  cr_assert_eq(px_virtual_ref("counter", "c", &old), 0);
  px_monitor(old);
  px_val r;
  int rc = px_virtual_ask("counter", "c", px_atom_of("crash"), px_nil(),
                          WAIT_MS, &r);
  cr_assert_eq(rc, PX_ENOPROC);
  cr_assert(px_is_atom(r, px_atom_of("boom")));
  px_val reason = wait_down(NULL);
  px_val_release(reason);
  cr_assert_eq(ask_int("counter", "c", "get"), 0);
  cr_assert_eq(atomic_load(&g_inits), 2);
  px_runtime_stop();
}

Test(virtual, bad_input) {
  vt_start(false);
  px_val r;
  cr_assert_eq(px_virtual_send("counter", "a", px_atom_of("inc"), px_nil()),
               PX_ENOTFOUND);
  cr_assert_eq(px_virtual_ask("nope", "a", px_atom_of("inc"), px_str("x"), 10,
                              &r),
               PX_ENOTFOUND);
  cr_assert_eq(px_virtual_register(NULL, px_nil(), NULL), PX_EINVAL);
  px_actor_type nameless = {.handle = counter_handle};
  cr_assert_eq(px_virtual_register(&nameless, px_str("x"), NULL), PX_EINVAL);
  px_virtual_opts bad = {.activation = (px_activation)7};
  cr_assert_eq(px_virtual_register(&counter_type, px_nil(), &bad), PX_EINVAL);
  reg(NULL);
  cr_assert_eq(px_virtual_register(&counter_type, px_nil(), NULL), PX_EEXIST);
  cr_assert_eq(px_virtual_send("counter", NULL, px_atom_of("inc"), px_nil()),
               PX_EINVAL);
  cr_assert_eq(px_virtual_send("counter", "", px_atom_of("inc"), px_nil()),
               PX_EINVAL);
  cr_assert_eq(px_virtual_send("counter", "a", NULL, px_str("leak?")),
               PX_EINVAL);
  px_ref ref;
  cr_assert_eq(px_virtual_ref("counter", NULL, &ref), PX_EINVAL);
  cr_assert_eq(px_virtual_ref("nope", "a", &ref), PX_ENOTFOUND);
  cr_assert_eq(px_virtual_active_count("nope"), 0);
  px_runtime_stop();
  cr_assert_eq(px_virtual_register(&counter_type, px_nil(), NULL),
               PX_ESTOPPED);
}

/* An actor's own tenant and namespace scope its virtual calls. */
static void caller_handle(void *state, const px_message *m) {
  (void)state;
  px_val r;
  int rc = px_virtual_ask("counter", "z", px_atom_of("id"), px_nil(), WAIT_MS,
                          &r);
  px_reply(m, rc ? px_int(rc) : r);
}

static const px_actor_type caller_type = {.name = "caller",
                                          .handle = caller_handle};

Test(virtual, the_callers_identity_is_the_scope) {
  vt_start(false);
  reg(NULL);
  px_spawn_opts so = {.tenant = "acme", .ns = "prod"};
  px_ref c;
  cr_assert_eq(px_spawn(&caller_type, px_nil(), &so, &c), 0);
  px_val r;
  cr_assert_eq(px_ask(c, px_atom_of("go"), px_nil(), WAIT_MS, &r), 0);
  cr_assert_eq(px_typeof(r), PX_T_STR);
  cr_assert_str_eq(px_str_ptr(r), "acme/prod/counter/z");
  px_val_release(r);
  px_runtime_stop();
}
