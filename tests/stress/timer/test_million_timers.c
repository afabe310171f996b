/* A million pending timers in bounded memory: each pending timer costs a
 * fixed entry (no per-tick work, no growth with the horizon), cancelled
 * timers are reclaimed at once, and every timer that was not cancelled
 * fires exactly once when the (virtual) clock passes its due time. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "plexspaces/px.h"

static px_atom TICK, GET;

static int sink_init(px_val args, void **state) {
  *state = calloc(1, sizeof(int64_t));
  return 0;
}

static void sink_handle(void *state, const px_message *m) {
  int64_t *n = state;
  if (m->type == TICK)
    (*n)++;
  else if (m->type == GET)
    px_reply(m, px_int(*n));
}

static void sink_free(void *state, px_val reason) { free(state); }

static const px_actor_type sink_t = {"sink", 0, sink_init, sink_handle,
                                     sink_free};

static long rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, rss = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    fclose(f);
  }
  return rss * sysconf(_SC_PAGESIZE);
}

#if defined(__SANITIZE_ADDRESS__)
#define N 100000 /* ASan's shadow memory makes RSS meaningless; scale down */
#else
#define N 1000000
#endif

Test(timer, million_pending_timers_bounded_and_exact, .timeout = 300) {
  TICK = px_atom_of("tick");
  GET = px_atom_of("get");
  px_runtime_opts o = {.workers = 2, .virtual_clock = true};
  cr_assert_eq(px_runtime_start(&o), 0);
  px_ref sink;
  cr_assert_eq(px_spawn(&sink_t, px_nil(), NULL, &sink), 0);

  px_tref *refs = malloc(sizeof *refs * N);
  long before = rss_bytes();
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < N; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    /* Due anywhere in the next hour. */
    refs[i] = px_send_after((int64_t)(x % 3600000u) + 1, sink, TICK, px_nil());
    cr_assert_neq(refs[i], 0);
  }
  long grown = rss_bytes() - before;
  cr_assert_eq(px_timer_count(), (size_t)N);
#if !defined(__SANITIZE_ADDRESS__)
  /* A fixed entry per timer (plus the ref array of the test itself). */
  cr_assert_lt(grown, (long)N * 160, "grew %ld bytes for %d timers", grown, N);
#else
  (void)grown;
#endif

  /* Cancel every other timer: they must be gone now, and twice is an
   * error. */
  for (int i = 0; i < N; i += 2) cr_assert_eq(px_cancel_timer(refs[i]), 0);
  cr_assert_eq(px_timer_count(), (size_t)N / 2);
  cr_assert_eq(px_cancel_timer(refs[0]), PX_ENOTFOUND);

  /* Nothing fires before its time. */
  px_val v;
  cr_assert_eq(px_ask(sink, GET, px_nil(), -1, &v), 0);
  cr_assert_eq(v.u.i, 0);

  /* An hour later every remaining timer has fired exactly once. */
  cr_assert_eq(px_clock_advance(3600000 + 1), 0);
  cr_assert_eq(px_timer_count(), 0);
  cr_assert_eq(px_ask(sink, GET, px_nil(), -1, &v), 0);
  cr_assert_eq(v.u.i, N / 2, "fired %lld of %d", (long long)v.u.i, N / 2);
  for (int i = 1; i < N; i += 2)
    cr_assert_eq(px_cancel_timer(refs[i]), PX_ENOTFOUND);
  free(refs);
  px_runtime_stop();
}
