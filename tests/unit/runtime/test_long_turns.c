/* Unit: what waits behind a long turn (runtime/sched.c, "The next slot").
 *
 * A handler's turn may run long. Actors it made runnable must not wait
 * for all of it: with two workers an idle one takes them (from the next
 * slot, or a lone actor from the ring) once the turn has lasted
 * LONG_TURN_NS; and a handler that calls the tuple space yields every
 * PX__REDUCTIONS calls, which lets them run even on a single worker.
 * A yield after a write is a kill point; a yield never re-enters the
 * handler. The long handler here spins on a flag that only the woken
 * actor sets, bounded by a failure deadline: the spin is the long turn
 * under test, not a synchronisation delay. */
#include <criterion/criterion.h>
#include <linux/membarrier.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "plexspaces/px.h"
#include "plexspaces/space.h"

#define DEADLINE_NS (10ull * 1000 * 1000 * 1000)

static _Atomic int woken; /* actors that ran */
static _Atomic int depth, max_depth;
static _Atomic long writes_done;
static px_space *g_space;

static void start(int workers) {
  px_runtime_opts o;
  memset(&o, 0, sizeof o);
  o.workers = workers;
  cr_assert_eq(px_runtime_start(&o), 0);
  atomic_store(&woken, 0);
  atomic_store(&depth, 0);
  atomic_store(&max_depth, 0);
  atomic_store(&writes_done, 0);
}

static void stop(void) { px_runtime_stop(); }

static bool have_membarrier(void) {
  long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  return q > 0 && (q & MEMBARRIER_CMD_PRIVATE_EXPEDITED);
}

/* ---- actors --------------------------------------------------------------- */

static void marker_handle(void *state, const px_message *m) {
  (void)state;
  (void)m;
  atomic_fetch_add(&woken, 1);
}
static const px_actor_type marker_t = {"marker", 0, NULL, marker_handle,
                                       NULL};

/* "spin" [refs...]: wakes each ref, then spins (no runtime calls) until
 * all of them ran or the deadline passes; replies whether they did. */
static void spinner_handle(void *state, const px_message *m) {
  (void)state;
  size_t n = px_len(m->payload);
  for (size_t i = 0; i < n; i++) {
    px_ref r;
    px_val_ref(px_at(m->payload, i), &r);
    px_send(r, px_atom_of("wake"), px_nil());
  }
  uint64_t t0 = px_now_ns();
  while (atomic_load(&woken) < (int)n && px_now_ns() - t0 < DEADLINE_NS) {
  }
  px_reply(m, px_bool(atomic_load(&woken) == (int)n));
}
static const px_actor_type spinner_t = {"spinner", 0, NULL, spinner_handle,
                                        NULL};

/* "write" [ref, count]: wakes ref, then writes count tuples, noting how
 * many it had written when ref ran; replies that number. Re-entering the
 * handler would show in max_depth. */
static void writer_handle(void *state, const px_message *m) {
  (void)state;
  int d = atomic_fetch_add(&depth, 1) + 1;
  if (d > atomic_load(&max_depth)) atomic_store(&max_depth, d);
  if (m->type == px_atom_of("write")) {
    px_ref r;
    px_val_ref(px_at(m->payload, 0), &r);
    long count = (long)px_at(m->payload, 1).u.i;
    px_send(r, px_atom_of("wake"), px_ref_val(px_self()));
    long seen_at = -1;
    for (long i = 0; i < count; i++) {
      if (seen_at < 0 && atomic_load(&woken) > 0) seen_at = i;
      cr_assert_eq(px_ts_write(g_space, px_arr(2, px_int(1), px_int(i)), 0,
                               NULL), 0);
      atomic_store(&writes_done, i + 1);
    }
    if (m->corr) px_reply(m, px_int(seen_at));
  }
  atomic_fetch_sub(&depth, 1);
}
static const px_actor_type writer_t = {"writer", 0, NULL, writer_handle,
                                       NULL};

/* On "wake" from the writer: marks, and sends the writer a message that
 * arrives while the writer is still in its handler. */
static void poker_handle(void *state, const px_message *m) {
  (void)state;
  px_ref w;
  if (px_val_ref(m->payload, &w)) px_send(w, px_atom_of("poke"), px_nil());
  atomic_fetch_add(&woken, 1);
}
static const px_actor_type poker_t = {"poker", 0, NULL, poker_handle, NULL};

/* On "wake" from the writer: kills it (it is parked at a yield). */
static void killer_handle(void *state, const px_message *m) {
  (void)state;
  px_ref w;
  if (px_val_ref(m->payload, &w)) px_exit(w, px_atomv(px_a()->kill));
  atomic_fetch_add(&woken, 1);
}
static const px_actor_type killer_t = {"killer", 0, NULL, killer_handle,
                                       NULL};

static px_ref spawn(const px_actor_type *t) {
  px_ref r;
  cr_assert_eq(px_spawn(t, px_nil(), NULL, &r), 0);
  return r;
}

/* ---- two workers: an idle one takes what waits behind a long turn -------- */

Test(long_turns, next_slot_is_taken_from_a_long_turn, .timeout = 60) {
  if (!have_membarrier()) cr_skip_test("no membarrier: next slots are kept");
  start(2);
  px_ref s = spawn(&spinner_t), b = spawn(&marker_t);
  px_val reply;
  cr_assert_eq(px_ask(s, px_atom_of("spin"), px_arr(1, px_ref_val(b)), 20000,
                      &reply), 0);
  cr_assert(reply.u.b, "the woken actor waited for the whole turn");
  stop();
}

Test(long_turns, lone_queued_actor_is_taken_from_a_long_turn, .timeout = 60) {
  if (!have_membarrier()) cr_skip_test("no membarrier: next slots are kept");
  start(2);
  /* the second wake pushes the first out of the next slot into the ring,
   * where it is alone: a plain steal leaves it, a long turn does not */
  px_ref s = spawn(&spinner_t), b = spawn(&marker_t), c = spawn(&marker_t);
  px_val reply;
  cr_assert_eq(px_ask(s, px_atom_of("spin"),
                      px_arr(2, px_ref_val(b), px_ref_val(c)), 20000, &reply),
               0);
  cr_assert(reply.u.b, "an actor waited for the whole turn");
  stop();
}

/* ---- one worker: reductions make a tuple-space loop yield ------------------ */

Test(long_turns, tuple_space_loop_yields_to_what_it_woke, .timeout = 60) {
  start(1);
  cr_assert_eq(px_space_open(NULL, NULL, "yield", PX_SPACE_MEMORY, &g_space),
               0);
  px_ref w = spawn(&writer_t), p = spawn(&poker_t);
  px_val reply;
  cr_assert_eq(px_ask(w, px_atom_of("write"),
                      px_arr(2, px_ref_val(p), px_int(10000)), 20000, &reply),
               0);
  long seen_at = (long)reply.u.i;
  cr_assert(seen_at >= 0, "the woken actor never ran during the loop");
  cr_assert_leq(seen_at, 1000, "it ran only after %ld writes", seen_at);
  /* the poke arrived while the writer was yielded: handled after the loop,
   * never inside it */
  cr_assert_eq(atomic_load(&max_depth), 1);
  size_t n = 0;
  cr_assert_eq(px_ts_count(g_space, px_arr(2, px_int(1), px_nil()), &n), 0);
  cr_assert_eq(n, 10000);
  px_space_close(g_space);
  stop();
}

Test(long_turns, a_kill_lands_at_a_yield, .timeout = 60) {
  start(1);
  cr_assert_eq(px_space_open(NULL, NULL, "yield_kill", PX_SPACE_MEMORY,
                             &g_space),
               0);
  px_ref w = spawn(&writer_t), k = spawn(&killer_t);
  px_mref mon = px_monitor(w);
  (void)mon;
  px_send(w, px_atom_of("write"), px_arr(2, px_ref_val(k), px_int(100000)));
  px_message *m;
  cr_assert_eq(px_receive(NULL, NULL, 20000, &m), 0);
  cr_assert_eq(m->type, px_a()->down_msg);
  cr_assert(px_is_atom(px_get(m->payload, px_atomv(px_a()->down_reason)),
                       px_a()->killed));
  px_message_free(m);
  long done = atomic_load(&writes_done);
  cr_assert_lt(done, 100000, "the writer finished its loop despite the kill");
  size_t n = 0;
  cr_assert_eq(px_ts_count(g_space, px_arr(2, px_int(1), px_nil()), &n), 0);
  /* every acknowledged write is there, and at most the one the kill
   * interrupted (it lands as the write returns) besides */
  cr_assert(done <= (long)n && (long)n <= done + 1, "%zu tuples, %ld acked",
            n, done);
  px_space_close(g_space);
  stop();
}
