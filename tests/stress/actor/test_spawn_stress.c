/* Stress: a million actors spawned and exited, from the test thread and
 * from a tree of spawner actors; counters, a monitor sample and
 * px_runtime_wait_empty check that every one ran and exited.
 *
 * Scale: full size in a plain build; under a sanitizer (PX_SANITIZE_*),
 * 1/10 (ASan) or 1/20 (TSan). PX_STRESS_SCALE=<divisor> overrides. */
#include "unit/actor/px_agent.h"

static long scale_div(void) {
  const char *e = getenv("PX_STRESS_SCALE");
  if (e && atol(e) > 0) return atol(e);
#if defined(PX_SANITIZE_THREAD)
  return 20;
#elif defined(PX_SANITIZE_ADDRESS)
  return 10;
#else
  return 1;
#endif
}

static _Atomic long inits, terms;

static int eph_init(px_val args, void **state) {
  (void)args;
  *state = NULL;
  atomic_fetch_add_explicit(&inits, 1, memory_order_relaxed);
  px_exit_self(px_atomv(px_a()->normal)); /* exits as soon as it starts */
  return 0;
}
static void eph_handle(void *st, const px_message *m) {
  (void)st;
  (void)m;
}
static void eph_term(void *st, px_val r) {
  (void)st;
  (void)r;
  atomic_fetch_add_explicit(&terms, 1, memory_order_relaxed);
}
static const px_actor_type eph_type = {.name = "ephemeral",
                                       .init = eph_init,
                                       .handle = eph_handle,
                                       .terminate = eph_term};

static void setup(void) {
  atomic_store(&inits, 0);
  atomic_store(&terms, 0);
  rt_start();
}
static void teardown(void) { rt_stop(); }

TestSuite(stress, .init = setup, .fini = teardown, .timeout = 300);

Test(stress, one_million_spawned_and_exited_from_a_thread) {
  const long n = 1000000 / scale_div();
  long monitored = 0;
  for (long i = 0; i < n; i++) {
    px_ref r;
    bool mon = (i % 1000) == 0;
    px_mref mref = 0;
    px_spawn_opts o = {.monitor = mon, .mref_out = &mref};
    cr_assert_eq(px_spawn(&eph_type, px_nil(), mon ? &o : NULL, &r), 0);
    if (mon) {
      EXPECT_DOWN(mref, "normal");
      monitored++;
    }
  }
  cr_assert_eq(px_runtime_wait_empty(WAIT_MS * 3), 0, "actors left: %zu",
               px_actors_count());
  cr_assert_eq(atomic_load(&inits), n);
  cr_assert_eq(atomic_load(&terms), n);
  px_type_stats s = stats_of("ephemeral");
  cr_assert_eq(s.spawned, (uint64_t)n);
  cr_assert_eq(s.exits_normal, (uint64_t)n);
  cr_assert_eq(s.live, 0);
  cr_assert_eq(px_actors_count(), 0);
  cr_assert(mailbox_empty());
  cr_log_info("%ld actors, %ld monitored", n, monitored);
}

/* Each spawner spawns arg children, then reports. */
static void body_spawn_many(agent *ag, px_val arg, const px_message *m) {
  (void)ag;
  (void)m;
  for (int64_t i = 0; i < arg.u.i; i++) {
    px_ref r;
    cr_assert_eq(px_spawn(&eph_type, px_nil(), NULL, &r), 0);
  }
  report("spawned", px_int(arg.u.i));
}

Test(stress, one_million_spawned_by_actors) {
  const long spawners = 1000, per = 1000 / scale_div();
  px_ref sp[1000];
  for (long i = 0; i < spawners; i++) sp[i] = spawn_agent(NULL);
  for (long i = 0; i < spawners; i++)
    agent_do(sp[i], body_spawn_many, px_int(per));
  for (long i = 0; i < spawners; i++)
    px_message_free(recv_type(AT("spawned")));
  for (long i = 0; i < spawners; i++) px_exit(sp[i], A("kill"));
  cr_assert_eq(px_runtime_wait_empty(WAIT_MS * 3), 0, "actors left: %zu",
               px_actors_count());
  cr_assert_eq(atomic_load(&inits), spawners * per);
  cr_assert_eq(atomic_load(&terms), spawners * per);
  px_type_stats s = stats_of("ephemeral");
  cr_assert_eq(s.exits_normal, (uint64_t)(spawners * per));
  cr_assert_eq(stats_of("agent").live, 0);
}
