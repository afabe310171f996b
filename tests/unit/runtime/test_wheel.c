/*
 * Unit tests for the hierarchical timing wheel (src/runtime/wheel.c).
 *
 * The randomised tests drive the wheel and a brute-force reference (an
 * array of pending flags and due ticks) with the same seeded operations and
 * check, after every step, that nothing fired early, nothing fired late,
 * nothing fired twice, firing followed due order, and next_due() never
 * exceeded the true earliest due.
 */
#include <criterion/criterion.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/wheel.h"

typedef struct item {
  px_wtimer t;
  uint32_t id;
  uint32_t fired;
  uint64_t expect;
} item;

#define ITEM(tp) ((item *)(void *)((char *)(tp) - offsetof(item, t)))

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* ---- small deterministic tests ---------------------------------------- */

typedef struct log_ctx {
  size_t n;
  uint64_t dues[64];
  uint32_t ids[64];
} log_ctx;

static void log_fire(px_wtimer *t, void *ud) {
  log_ctx *c = ud;
  cr_assert(!px__wheel_pending(t), "timer must be unlinked before fire()");
  if (c->n < 64) {
    c->dues[c->n] = t->due;
    c->ids[c->n] = ITEM(t)->id;
  }
  c->n++;
  ITEM(t)->fired++;
}

Test(wheel, empty) {
  px_wheel w;
  px__wheel_init(&w, 42);
  cr_assert_eq(px__wheel_count(&w), 0);
  cr_assert_eq(px__wheel_next_due(&w), UINT64_MAX);
  log_ctx c = {0};
  cr_assert_eq(px__wheel_advance(&w, 1000000, log_fire, &c), 0);
  cr_assert_eq(px__wheel_advance(&w, UINT64_MAX, log_fire, &c), 0);
  cr_assert_eq(c.n, 0);
  cr_assert_eq(px__wheel_next_due(&w), UINT64_MAX);
}

Test(wheel, zero_initialised_timer_is_idle) {
  px_wheel w;
  px__wheel_init(&w, 0);
  item a = {0};
  cr_assert(!px__wheel_pending(&a.t));
  px__wheel_remove(&w, &a.t); /* no-op */
  cr_assert_eq(px__wheel_count(&w), 0);
  px__wheel_add(&w, &a.t, 10);
  cr_assert(px__wheel_pending(&a.t));
  px__wheel_remove(&w, &a.t);
  px__wheel_remove(&w, &a.t); /* second remove is a no-op */
  cr_assert(!px__wheel_pending(&a.t));
  cr_assert_eq(px__wheel_count(&w), 0);
  cr_assert_eq(px__wheel_next_due(&w), UINT64_MAX);
  log_ctx c = {0};
  cr_assert_eq(px__wheel_advance(&w, 100, log_fire, &c), 0);
}

/* Dues right at every level boundary fire exactly on their tick. */
Test(wheel, boundaries_never_early_never_late) {
  static const uint64_t offs[] = {
      1,       2,        63,       64,        65,       4095,
      4096,    4097,     262143,   262144,    16777215, 16777216,
      1u << 30, (1ull << 30) + 1, (1ull << 36) - 1, 1ull << 36,
      (1ull << 36) + 1, 1ull << 40, (1ull << 42) + 12345};
  enum { N = sizeof offs / sizeof offs[0] };
  static const uint64_t starts[] = {0, 1, 63, 1000, (1ull << 36) - 3,
                                    0xfffffffffffull};
  for (size_t si = 0; si < sizeof starts / sizeof starts[0]; si++) {
    uint64_t base = starts[si];
    px_wheel w;
    px__wheel_init(&w, base);
    item it[N];
    memset(it, 0, sizeof it);
    for (size_t i = 0; i < N; i++) {
      it[i].id = (uint32_t)i;
      px__wheel_add(&w, &it[i].t, base + offs[i]);
    }
    cr_assert_eq(px__wheel_count(&w), N);
    for (size_t i = 0; i < N; i++) {
      uint64_t due = base + offs[i];
      cr_assert_eq(px__wheel_next_due(&w), due, "start %llu i %zu",
                   (unsigned long long)base, i);
      log_ctx c = {0};
      cr_assert_eq(px__wheel_advance(&w, due - 1, log_fire, &c), 0,
                   "early fire at start %llu i %zu",
                   (unsigned long long)base, i);
      cr_assert_eq(px__wheel_advance(&w, due, log_fire, &c), 1);
      cr_assert_eq(c.ids[0], i);
      cr_assert_eq(c.dues[0], due);
      cr_assert_eq(px__wheel_count(&w), N - i - 1);
    }
    cr_assert_eq(px__wheel_next_due(&w), UINT64_MAX);
  }
}

Test(wheel, due_in_the_past) {
  px_wheel w;
  px__wheel_init(&w, 1000);
  item it[4];
  memset(it, 0, sizeof it);
  px__wheel_add(&w, &it[0].t, 5);
  px__wheel_add(&w, &it[1].t, 1000);
  px__wheel_add(&w, &it[2].t, 0);
  px__wheel_add(&w, &it[3].t, 1001);
  cr_assert_eq(px__wheel_count(&w), 4);
  cr_assert_leq(px__wheel_next_due(&w), 0);
  log_ctx c = {0};
  /* Same tick, and a tick in the past: both fire the overdue ones only. */
  cr_assert_eq(px__wheel_advance(&w, 1000, log_fire, &c), 3);
  cr_assert_eq(it[3].fired, 0);
  cr_assert_eq(px__wheel_next_due(&w), 1001);
  px__wheel_add(&w, &it[0].t, 7);
  cr_assert_eq(px__wheel_next_due(&w), 7);
  cr_assert_eq(px__wheel_advance(&w, 3, log_fire, &c), 1); /* clamped */
  cr_assert_eq(it[0].fired, 2);
  cr_assert_eq(px__wheel_advance(&w, 1001, log_fire, &c), 1);
  cr_assert_eq(it[3].fired, 1);
  cr_assert_eq(px__wheel_count(&w), 0);
}

Test(wheel, overflow_beyond_top_level) {
  const uint64_t base = 777;
  px_wheel w;
  px__wheel_init(&w, base);
  item it[5];
  memset(it, 0, sizeof it);
  uint64_t dues[5] = {base + (1ull << 37) + 5, base + (1ull << 45),
                      base + (1ull << 52) + 3, UINT64_MAX - 1, UINT64_MAX};
  for (int i = 4; i >= 0; i--) {
    it[i].id = (uint32_t)i;
    px__wheel_add(&w, &it[i].t, dues[i]);
  }
  for (int i = 0; i < 5; i++) {
    cr_assert_eq(px__wheel_next_due(&w), dues[i]);
    log_ctx c = {0};
    cr_assert_eq(px__wheel_advance(&w, dues[i] - 1, log_fire, &c), 0);
    cr_assert_eq(px__wheel_advance(&w, dues[i], log_fire, &c), 1);
    cr_assert_eq(c.ids[0], (uint32_t)i);
  }
  cr_assert_eq(px__wheel_count(&w), 0);
}

Test(wheel, huge_jump_fires_everything_in_order) {
  px_wheel w;
  px__wheel_init(&w, 5);
  enum { N = 40 };
  item it[N];
  memset(it, 0, sizeof it);
  uint64_t s = 99;
  for (int i = 0; i < N; i++) {
    it[i].id = (uint32_t)i;
    uint64_t due = 5 + 1 + (splitmix(&s) >> (20 + (i % 40)));
    px__wheel_add(&w, &it[i].t, due);
  }
  log_ctx c = {0};
  /* Centuries of milliseconds in one call; must not walk tick by tick. */
  cr_assert_eq(px__wheel_advance(&w, UINT64_MAX, log_fire, &c), N);
  for (int i = 1; i < N; i++) cr_assert_leq(c.dues[i - 1], c.dues[i]);
  cr_assert_eq(w.now, UINT64_MAX);
}

/* ---- callbacks that mutate the wheel ---------------------------------- */

typedef struct interval_ctx {
  px_wheel *w;
  uint64_t period;
  size_t fires;
  uint64_t last_due;
  uint64_t stop_after;
} interval_ctx;

static void interval_fire(px_wtimer *t, void *ud) {
  interval_ctx *c = ud;
  if (c->fires)
    cr_assert_eq(t->due, c->last_due + c->period, "interval drifted");
  c->last_due = t->due;
  c->fires++;
  if (c->fires < c->stop_after) px__wheel_add(c->w, t, t->due + c->period);
}

Test(wheel, interval_readd_from_fire) {
  px_wheel w;
  px__wheel_init(&w, 0);
  item a = {0};
  interval_ctx c = {.w = &w, .period = 7, .stop_after = SIZE_MAX};
  px__wheel_add(&w, &a.t, 7);
  /* Tick by tick. */
  size_t total = 0;
  for (uint64_t now = 1; now <= 700; now++)
    total += px__wheel_advance(&w, now, interval_fire, &c);
  cr_assert_eq(total, 100);
  cr_assert_eq(c.last_due, 700);
  cr_assert(px__wheel_pending(&a.t));
  cr_assert_eq(px__wheel_next_due(&w), 707);
  /* One big step catches up, in order, one fire per period. */
  total = px__wheel_advance(&w, 700 + 7 * 5000, interval_fire, &c);
  cr_assert_eq(total, 5000);
  cr_assert_eq(c.last_due, 700 + 7 * 5000);
  cr_assert_eq(px__wheel_count(&w), 1);
  /* Re-adding at or before the current tick must not loop: it is deferred
   * to the next advance. */
  c.period = 0;
  c.fires = 0;
  px__wheel_add(&w, &a.t, w.now);
  cr_assert_eq(px__wheel_advance(&w, w.now, interval_fire, &c), 1);
  cr_assert(px__wheel_pending(&a.t));
  cr_assert_eq(px__wheel_advance(&w, w.now + 10, interval_fire, &c), 1);
  cr_assert(px__wheel_pending(&a.t));
}

typedef struct kill_ctx {
  px_wheel *w;
  item *all;
  size_t n;
  size_t fires;
} kill_ctx;

/* Whoever fires first cancels every other timer. */
static void kill_others_fire(px_wtimer *t, void *ud) {
  kill_ctx *c = ud;
  c->fires++;
  for (size_t i = 0; i < c->n; i++)
    if (&c->all[i].t != t) px__wheel_remove(c->w, &c->all[i].t);
}

Test(wheel, remove_from_fire_of_another) {
  px_wheel w;
  px__wheel_init(&w, 100);
  item it[6];
  memset(it, 0, sizeof it);
  /* Three due on the same tick, two later, one overdue. */
  uint64_t dues[6] = {150, 150, 150, 151, 100000, 150};
  for (int i = 0; i < 6; i++) px__wheel_add(&w, &it[i].t, dues[i]);
  kill_ctx c = {.w = &w, .all = it, .n = 6};
  cr_assert_eq(px__wheel_advance(&w, 1u << 20, kill_others_fire, &c), 1);
  cr_assert_eq(c.fires, 1);
  cr_assert_eq(px__wheel_count(&w), 0);
  cr_assert_eq(px__wheel_next_due(&w), UINT64_MAX);
  for (int i = 0; i < 6; i++) cr_assert(!px__wheel_pending(&it[i].t));

  /* Same with an overdue timer on the ready list firing first. */
  px__wheel_init(&w, 100);
  memset(it, 0, sizeof it);
  dues[5] = 3;
  for (int i = 0; i < 6; i++) px__wheel_add(&w, &it[i].t, dues[i]);
  c.fires = 0;
  cr_assert_eq(px__wheel_advance(&w, 1u << 20, kill_others_fire, &c), 1);
  cr_assert_eq(c.fires, 1);
  cr_assert_eq(px__wheel_count(&w), 0);
}

typedef struct chain_ctx {
  px_wheel *w;
  item *all;
  size_t n, fires;
  uint64_t now;
} chain_ctx;

/* Each fire schedules the next timer one tick later and a far one. */
static void chain_fire(px_wtimer *t, void *ud) {
  chain_ctx *c = ud;
  item *x = ITEM(t);
  cr_assert_leq(t->due, c->now);
  c->fires++;
  if (x->id + 1 < c->n)
    px__wheel_add(c->w, &c->all[x->id + 1].t, t->due + 1 + x->id % 300);
}

Test(wheel, add_from_fire_within_same_advance) {
  px_wheel w;
  px__wheel_init(&w, 0);
  enum { N = 200 };
  item it[N];
  memset(it, 0, sizeof it);
  for (uint32_t i = 0; i < N; i++) it[i].id = i;
  chain_ctx c = {.w = &w, .all = it, .n = N, .now = 1u << 30};
  px__wheel_add(&w, &it[0].t, 1);
  cr_assert_eq(px__wheel_advance(&w, c.now, chain_fire, &c), N);
  cr_assert_eq(px__wheel_count(&w), 0);
}

Test(wheel, add_pending_reschedules) {
  px_wheel w;
  px__wheel_init(&w, 0);
  item a = {0};
  px__wheel_add(&w, &a.t, 5000);
  px__wheel_add(&w, &a.t, 10);
  cr_assert_eq(px__wheel_count(&w), 1);
  cr_assert_eq(px__wheel_next_due(&w), 10);
  log_ctx c = {0};
  cr_assert_eq(px__wheel_advance(&w, 10, log_fire, &c), 1);
  cr_assert_eq(px__wheel_advance(&w, 10000, log_fire, &c), 0);
  px__wheel_add(&w, &a.t, 20000);
  px__wheel_add(&w, &a.t, 1ull << 50); /* into overflow */
  cr_assert_eq(px__wheel_count(&w), 1);
  cr_assert_eq(px__wheel_next_due(&w), 1ull << 50);
  cr_assert_eq(px__wheel_advance(&w, 30000, log_fire, &c), 0);
}

static void reenter_fire(px_wtimer *t, void *ud) {
  px_wheel *w = ud;
  cr_assert_eq(px__wheel_advance(w, w->now + 100, log_fire, NULL), 0);
  (void)t;
}

Test(wheel, advance_from_fire_is_refused) {
  px_wheel w;
  px__wheel_init(&w, 0);
  item a = {0}, b = {0};
  px__wheel_add(&w, &a.t, 1);
  px__wheel_add(&w, &b.t, 50);
  cr_assert_eq(px__wheel_advance(&w, 2, reenter_fire, &w), 1);
  cr_assert(px__wheel_pending(&b.t));
}

/* ---- randomised comparison with a brute-force reference --------------- */

typedef struct sim {
  px_wheel w;
  item *it;
  size_t n;
  bool *pend;     /* reference: pending? */
  uint64_t *due;  /* reference: due tick */
  bool *deferred; /* added by a callback at or before the current tick */
  uint64_t now;   /* target of the running / last advance */
  uint64_t start; /* w.now when the running advance began */
  uint64_t max_wheel_due;
  bool wheel_phase;
  size_t fires;
  uint64_t rng;
  int mutate;     /* callbacks add and remove timers */
  bool removes;   /* allow removes / reschedules (stale bounds) */
  uint64_t seed;
} sim;

static uint64_t rnd(sim *s) { return splitmix(&s->rng); }

static uint64_t rand_due(sim *s, uint64_t now) {
  uint64_t r = rnd(s);
  switch (r % 12) {
    case 0: { /* in the past */
      uint64_t back = rnd(s) % 100;
      return back <= now ? now - back : 0;
    }
    case 1: return now;
    case 2: return now + 1 + rnd(s) % 64;
    case 3: return now + 1 + rnd(s) % 4096;
    case 4: return now + rnd(s) % (1u << 20);
    case 5: return now + rnd(s) % (1ull << 30);
    case 6: return now + rnd(s) % (1ull << 36);
    case 7: return now + (1ull << 36) + rnd(s) % (1ull << 40);
    case 8: { /* tie with another timer */
      size_t j = rnd(s) % s->n;
      return s->pend[j] && s->due[j] > now ? s->due[j] : now + 3;
    }
    case 9: return now + rnd(s) % 16;
    case 10: return ((now >> 12) + 1) << 12; /* exactly on a boundary */
    default: return now + 1 + rnd(s) % 300;
  }
}

static void sim_add(sim *s, size_t i, uint64_t due) {
  px__wheel_add(&s->w, &s->it[i].t, due);
  s->pend[i] = true;
  s->due[i] = due;
  /* Added by a callback at or before the tick being fired: waits for the
   * next advance. */
  s->deferred[i] = s->w.advancing && due <= s->w.now;
}

static void sim_remove(sim *s, size_t i) {
  px__wheel_remove(&s->w, &s->it[i].t);
  s->pend[i] = false;
  s->deferred[i] = false;
}

static uint64_t ref_min(const sim *s, size_t *cnt) {
  uint64_t m = UINT64_MAX;
  size_t c = 0;
  for (size_t i = 0; i < s->n; i++)
    if (s->pend[i]) {
      c++;
      if (s->due[i] < m) m = s->due[i];
    }
  if (cnt) *cnt = c;
  return m;
}

static void sim_fire(px_wtimer *t, void *ud) {
  sim *s = ud;
  item *x = ITEM(t);
  size_t i = x->id;
  cr_assert(!px__wheel_pending(t), "seed %llu", (unsigned long long)s->seed);
  cr_assert(s->pend[i], "fired a timer that is not pending (seed %llu)",
            (unsigned long long)s->seed);
  cr_assert_eq(t->due, s->due[i]);
  cr_assert_leq(t->due, s->now, "fired early: due %llu now %llu seed %llu",
                (unsigned long long)t->due, (unsigned long long)s->now,
                (unsigned long long)s->seed);
  if (t->due <= s->start) {
    /* Overdue at the start: fires before any timer from the wheel. */
    cr_assert(!s->wheel_phase, "overdue timer fired late (seed %llu)",
              (unsigned long long)s->seed);
  } else {
    cr_assert_geq(t->due, s->max_wheel_due, "out of order (seed %llu)",
                  (unsigned long long)s->seed);
    s->max_wheel_due = t->due;
    s->wheel_phase = true;
  }
  s->pend[i] = false;
  s->deferred[i] = false;
  s->fires++;
  if (!s->mutate) return;
  uint64_t r = rnd(s) % 8;
  if (r == 0) {
    sim_add(s, i, s->w.now + rnd(s) % 5); /* interval, maybe period 0 */
  } else if (r == 1) {
    sim_add(s, i, s->w.now + 1 + rnd(s) % 2000);
  } else if (r == 2 || r == 3) {
    sim_remove(s, rnd(s) % s->n);
  } else if (r == 4) {
    sim_add(s, rnd(s) % s->n, rand_due(s, s->w.now));
  }
}

static void sim_check(sim *s) {
  size_t cnt;
  uint64_t m = ref_min(s, &cnt);
  cr_assert_eq(px__wheel_count(&s->w), cnt, "seed %llu",
               (unsigned long long)s->seed);
  uint64_t nd = px__wheel_next_due(&s->w);
  if (cnt == 0) {
    cr_assert_eq(nd, UINT64_MAX);
    return;
  }
  cr_assert_leq(nd, m, "next_due %llu later than earliest %llu (seed %llu)",
                (unsigned long long)nd, (unsigned long long)m,
                (unsigned long long)s->seed);
  if (!s->removes)
    cr_assert_eq(nd, m, "next_due not exact (seed %llu)",
                 (unsigned long long)s->seed);
  if (m > s->w.now) cr_assert_gt(nd, s->w.now);
}

static void sim_advance(sim *s, uint64_t to) {
  if (to < s->now) to = s->now;
  s->now = to;
  s->start = s->w.now;
  s->max_wheel_due = 0;
  s->wheel_phase = false;
  for (size_t i = 0; i < s->n; i++) s->deferred[i] = false;
  size_t before = s->fires;
  size_t got = px__wheel_advance(&s->w, to, sim_fire, s);
  cr_assert_eq(got, s->fires - before, "seed %llu",
               (unsigned long long)s->seed);
  cr_assert_eq(s->w.now, to);
  s->wheel_phase = false;
  for (size_t i = 0; i < s->n; i++) {
    cr_assert_eq(px__wheel_pending(&s->it[i].t), s->pend[i]);
    if (s->pend[i] && s->due[i] <= to)
      cr_assert(s->deferred[i],
                "timer %zu due %llu not fired by %llu (seed %llu)", i,
                (unsigned long long)s->due[i], (unsigned long long)to,
                (unsigned long long)s->seed);
  }
}

static void run_sim(uint64_t seed, size_t n, size_t ops, int mutate,
                    bool removes) {
  sim *s = calloc(1, sizeof *s);
  cr_assert_not_null(s);
  s->seed = seed;
  s->rng = seed;
  s->n = n;
  s->mutate = mutate;
  s->removes = removes;
  s->it = calloc(n, sizeof *s->it);
  s->pend = calloc(n, sizeof *s->pend);
  s->due = calloc(n, sizeof *s->due);
  s->deferred = calloc(n, sizeof *s->deferred);
  cr_assert(s->it && s->pend && s->due && s->deferred);
  for (size_t i = 0; i < n; i++) s->it[i].id = (uint32_t)i;
  static const uint64_t starts[] = {0, 1000, (1ull << 36) - 100,
                                    (1ull << 24) - 1, 1ull << 48};
  s->now = starts[seed % 5] + rnd(s) % 64;
  px__wheel_init(&s->w, s->now);
  for (size_t op = 0; op < ops; op++) {
    uint64_t r = rnd(s) % 100;
    size_t i = rnd(s) % n;
    if (r < 45) {
      if (!removes && s->pend[i]) continue;
      sim_add(s, i, rand_due(s, s->now));
    } else if (r < 60) {
      if (removes) sim_remove(s, i);
    } else {
      uint64_t step, q = rnd(s) % 10;
      size_t cnt;
      uint64_t m = ref_min(s, &cnt);
      switch (q) {
        case 0: step = 0; break;
        case 1: step = 1; break;
        case 2: step = rnd(s) % 64; break;
        case 3: step = rnd(s) % 5000; break;
        case 4: step = rnd(s) % (1u << 20); break;
        case 5: step = rnd(s) % (1ull << 38); break; /* huge jump */
        case 6: step = rnd(s) % (1ull << 42); break; /* beyond top level */
        case 7: /* to just before / exactly at the earliest due */
          step = cnt && m > s->now ? m - s->now - (rnd(s) & 1) : 0;
          break;
        case 8: { /* to next_due */
          uint64_t nd = px__wheel_next_due(&s->w);
          step = nd != UINT64_MAX && nd > s->now ? nd - s->now : 0;
          break;
        }
        default: step = rnd(s) % 300; break;
      }
      sim_advance(s, s->now + step);
    }
    sim_check(s);
  }
  /* Drain everything that is left (callbacks stop adding timers). */
  s->mutate = 0;
  sim_advance(s, UINT64_MAX - 1);
  sim_advance(s, UINT64_MAX);
  sim_check(s);
  size_t cnt;
  ref_min(s, &cnt);
  cr_assert_eq(cnt, 0);
  cr_assert_gt(s->fires, ops / 10);
  free(s->it);
  free(s->pend);
  free(s->due);
  free(s->deferred);
  free(s);
}

Test(wheel, random_vs_reference) {
  for (uint64_t seed = 1; seed <= 12; seed++)
    run_sim(seed, 257, 20000, 0, true);
}

Test(wheel, random_vs_reference_callbacks_mutate) {
  for (uint64_t seed = 100; seed < 112; seed++)
    run_sim(seed, 257, 20000, 1, true);
}

Test(wheel, random_next_due_exact_without_removes) {
  for (uint64_t seed = 200; seed < 210; seed++)
    run_sim(seed, 300, 20000, 0, false);
}

/* ---- a million pending timers ----------------------------------------- */

typedef struct million_ctx {
  uint64_t now, last;
  size_t fires;
} million_ctx;

static void million_fire(px_wtimer *t, void *ud) {
  million_ctx *c = ud;
  item *x = ITEM(t);
  cr_assert_eq(x->fired, 0, "fired twice");
  cr_assert_eq(t->due, x->expect);
  cr_assert_leq(t->due, c->now, "early");
  cr_assert_geq(t->due, c->last, "out of order");
  c->last = t->due;
  x->fired = 1;
  c->fires++;
}

Test(wheel, million_timers) {
  enum { N = 1000000 };
  const uint64_t base = 123456789;
  item *it = calloc(N, sizeof *it);
  cr_assert_not_null(it);
  px_wheel *w = malloc(sizeof *w);
  cr_assert_not_null(w);
  px__wheel_init(w, base);
  uint64_t s = 7, max_due = 0, min_due = UINT64_MAX;
  struct mallinfo2 m0 = mallinfo2();
  for (uint32_t i = 0; i < N; i++) {
    it[i].id = i;
    uint64_t due;
    if (i % 1000 == 0)
      due = base + (1ull << 37) + splitmix(&s) % (1ull << 30); /* overflow */
    else if (i % 7 == 0)
      due = base + 1 + splitmix(&s) % 1000; /* heavy ties */
    else
      due = base + 1 + splitmix(&s) % (1ull << 26); /* ~18 hours */
    it[i].expect = due;
    if (due > max_due) max_due = due;
    if (due < min_due) min_due = due;
    px__wheel_add(w, &it[i].t, due);
  }
  struct mallinfo2 m1 = mallinfo2();
  cr_assert_eq(m1.uordblks, m0.uordblks, "the wheel allocated memory");
  cr_assert_lt(sizeof(px_wheel), 16384);
  cr_assert_eq(px__wheel_count(w), N);
  cr_assert_eq(px__wheel_next_due(w), min_due);

  /* Remove every 10th, then put half of them back. */
  size_t removed = 0;
  for (uint32_t i = 5; i < N; i += 10) {
    px__wheel_remove(w, &it[i].t);
    removed++;
  }
  cr_assert_eq(px__wheel_count(w), N - removed);
  for (uint32_t i = 5; i < N; i += 20) {
    px__wheel_add(w, &it[i].t, it[i].expect);
    removed--;
  }
  cr_assert_eq(px__wheel_count(w), N - removed);

  million_ctx c = {0};
  /* A few big steps: the first lands mid-way through the level-4 range. */
  uint64_t steps[] = {base + 999, base + (1ull << 25) + 12345,
                      base + (1ull << 26), max_due - 1, max_due};
  for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
    c.now = steps[k];
    size_t before = c.fires;
    size_t got = px__wheel_advance(w, c.now, million_fire, &c);
    cr_assert_eq(got, c.fires - before);
    uint64_t nd = px__wheel_next_due(w);
    cr_assert_gt(nd, c.now);
  }
  cr_assert_eq(c.fires, N - removed);
  cr_assert_eq(px__wheel_count(w), 0);
  cr_assert_eq(px__wheel_next_due(w), UINT64_MAX);
  for (uint32_t i = 0; i < N; i++) {
    bool gone = i % 10 == 5 && i % 20 != 5;
    cr_assert_eq(it[i].fired, gone ? 0u : 1u, "timer %u", i);
  }
  free(w);
  free(it);
}
