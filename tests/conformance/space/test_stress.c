/* Conformance stress: T-K-6 and R-K-8 (each tuple delivered exactly once,
 * no loss, no duplication) over many seeds, and the race between a waiter
 * being served and its timeout firing (cross-cutting decision 5: a
 * timed-out take leaves no waiter and loses no tuple). */
#include <pthread.h>
#include <stdlib.h>

#include "ts_agent.h"

TestSuite(space_stress, .init = ts_setup, .fini = ts_teardown,
          .timeout = 300);

typedef struct wr_arg {
  px_space *s;
  int from, to;
  unsigned seed;
} wr_arg;

static void *writer(void *p) {
  wr_arg *a = p;
  for (int i = a->from; i < a->to; i++) {
    int spin = (int)(rand_r(&a->seed) % 50);
    for (int k = 0; k < spin; k++) sched_yield();
    px_ts_write(a->s, px_arr(2, px_str("job"), px_int(i)), 0, NULL);
  }
  return NULL;
}

/* T-K-6: N takers and N tuples written concurrently. */
Test(space_stress, T_K_6_each_tuple_exactly_once) {
  enum { N = 64, W = 4 };
  for (unsigned seed = 1; seed <= 20; seed++) {
    px_space *s;
    cr_assert_eq(px_space_open(NULL, NULL, "k6", PX_SPACE_MEMORY, &s), 0);
    unsigned rs = seed;
    for (int i = 0; i < N; i++) {
      /* half the takers use the indexed template, half the wildcard one */
      px_val t = (rand_r(&rs) & 1)
                     ? px_arr(2, px_str("job"), px_nil())
                     : px_arr(2, px_nil(), tmpl_type("int"));
      agent_op("take", s, t, -1, i);
    }
    pthread_t th[W];
    wr_arg args[W];
    for (int w = 0; w < W; w++) {
      args[w] = (wr_arg){s, w * N / W, (w + 1) * N / W, seed * 31 + w};
      pthread_create(&th[w], NULL, writer, &args[w]);
    }
    bool got[N] = {0};
    for (int i = 0; i < N; i++) {
      px_val v;
      cr_assert_eq(agent_result(NULL, &v), 0);
      int64_t id = px_at(v, 1).u.i;
      cr_assert(id >= 0 && id < N);
      cr_assert(!got[id], "seed %u: tuple %lld delivered twice", seed,
                (long long)id);
      got[id] = true;
      px_val_release(v);
    }
    for (int w = 0; w < W; w++) pthread_join(th[w], NULL);
    cr_assert_eq(px__ts_waiters(s), 0);
    cr_assert_eq(px__ts_stored(s), 0);
    px_space_close(s);
  }
}

typedef struct clk_arg {
  int ticks;
} clk_arg;

static void *clocker(void *p) {
  clk_arg *c = p;
  for (int i = 0; i < c->ticks; i++) {
    px_clock_advance(1);
    sched_yield();
  }
  return NULL;
}

/* Served-vs-timed-out race: takers with short timeouts, concurrent writes
 * and clock ticks. Every tuple is either returned to exactly one taker or
 * still in the space; no waiter is left. */
Test(space_stress, timeout_race_loses_nothing) {
  enum { N = 48 };
  for (unsigned seed = 1; seed <= 20; seed++) {
    px_space *s;
    cr_assert_eq(px_space_open(NULL, NULL, "race", PX_SPACE_MEMORY, &s), 0);
    unsigned rs = seed;
    for (int i = 0; i < N; i++)
      agent_op("take", s, px_arr(2, px_str("job"), px_nil()),
               1 + (int64_t)(rand_r(&rs) % 4), i);
    pthread_t tw, tc;
    wr_arg wa = {s, 0, N, seed};
    clk_arg ca = {8};
    pthread_create(&tw, NULL, writer, &wa);
    pthread_create(&tc, NULL, clocker, &ca);
    bool got[N] = {0};
    int taken = 0;
    for (int i = 0; i < N; i++) {
      px_val v;
      int rc = agent_result(NULL, &v);
      if (rc == 0) {
        int64_t id = px_at(v, 1).u.i;
        cr_assert(!got[id]);
        got[id] = true;
        taken++;
      } else {
        cr_assert_eq(rc, PX_ETIMEDOUT);
      }
      px_val_release(v);
      if (i == N / 2) px_clock_advance(10); /* make sure all time out */
    }
    pthread_join(tw, NULL);
    pthread_join(tc, NULL);
    px_clock_advance(10);
    cr_assert_eq(px__ts_waiters(s), 0);
    px_val rest;
    cr_assert_eq(px_ts_take_all(s, px_arr(2, px_nil(), px_nil()), 0, &rest),
                 0);
    for (size_t i = 0; i < px_len(rest); i++) {
      int64_t id = px_at(px_at(rest, i), 1).u.i;
      cr_assert(!got[id], "seed %u: %lld both taken and stored", seed,
                (long long)id);
      got[id] = true;
    }
    cr_assert_eq((size_t)taken + px_len(rest), N, "seed %u: lost tuples",
                 seed);
    px_val_release(rest);
    px_space_close(s);
  }
}

/* Count never negative: concurrent takes never exceed writes. */
Test(space_stress, count_never_negative) {
  px_space *s;
  cr_assert_eq(px_space_open(NULL, NULL, "cnt", PX_SPACE_MEMORY, &s), 0);
  for (int i = 0; i < 16; i++)
    agent_op("take", s, px_arr(2, px_str("job"), px_nil()), 0, i);
  wr_arg wa = {s, 0, 8, 7};
  pthread_t tw;
  pthread_create(&tw, NULL, writer, &wa);
  int taken = 0;
  for (int i = 0; i < 16; i++) {
    px_val v;
    if (agent_result(NULL, &v) == 0) taken++;
    px_val_release(v);
  }
  pthread_join(tw, NULL);
  size_t n;
  px_ts_count(s, px_arr(2, px_nil(), px_nil()), &n);
  cr_assert_leq(taken, 8);
  cr_assert_eq((size_t)taken + n, 8);
  px_space_close(s);
}
