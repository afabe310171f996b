/* Tuple-space workloads (issue 3): ts_pairs, ts_contended, ts_handoff,
 * ts_match. Parameters match bench/README.md and the Redis baseline. */
#include <stdio.h>
#include <sched.h>
#include <stdlib.h>

#include "bench.h"
#include "plexspaces/space.h"

static px_atom A_GO, A_DONE;

static px_space *open_space(const char *name) {
  px_space *s;
  if (px_space_open(NULL, NULL, name, PX_SPACE_MEMORY, &s) != 0)
    bench_fail(name, "cannot open the space");
  return s;
}

/* ---- ts_pairs / ts_contended: writers and blocking takers ---------------- *
 * Writer w and taker w share `per_pair_keys` keys: tuple i of the pair goes
 * to key w * per_pair_keys + i % per_pair_keys, and the taker takes the
 * same sequence with blocking takes on exact templates, so every template
 * is served FIFO and nothing polls. ts_pairs is one pair with one key;
 * ts_contended is 8 pairs over 1,000 keys. */

typedef struct role {
  px_ref main;
  px_space *space;
  int64_t n;     /* tuples to write or take */
  int64_t base;  /* first key of the pair */
  int64_t keys;  /* keys of the pair */
} role;

static int role_init(px_val args, void **state) {
  role *r = calloc(1, sizeof *r);
  px_val_ref(px_at(args, 0), &r->main);
  r->space = (px_space *)(uintptr_t)px_at(args, 1).u.i;
  r->n = px_at(args, 2).u.i;
  r->base = px_at(args, 3).u.i;
  r->keys = px_at(args, 4).u.i;
  *state = r;
  return 0;
}

static void role_free(void *state, px_val reason) { free(state); }

static void writer_handle(void *state, const px_message *m) {
  role *r = state;
  if (m->type != A_GO) return;
  for (int64_t i = 0; i < r->n; i++)
    if (px_ts_write(r->space,
                    px_arr(2, px_int(r->base + i % r->keys), px_int(i)), 0,
                    NULL))
      bench_fail("ts", "write failed");
  px_send(r->main, A_DONE, px_int(0));
}

static void taker_handle(void *state, const px_message *m) {
  role *r = state;
  if (m->type != A_GO) return;
  int64_t got = 0;
  for (int64_t i = 0; i < r->n; i++) {
    px_val t;
    if (px_ts_take(r->space, px_arr(2, px_int(r->base + i % r->keys), px_nil()),
                   -1, &t) != 0)
      bench_fail("ts", "take failed");
    got++;
    px_val_release(t);
  }
  px_send(r->main, A_DONE, px_int(got));
}

static const px_actor_type writer_t = {"ts_writer", 0, role_init,
                                       writer_handle, role_free};
static const px_actor_type taker_t = {"ts_taker", 0, role_init, taker_handle,
                                      role_free};

static double run_pairs(px_space *s, int pairs, int64_t keys, int64_t per) {
  px_ref me = px_self();
  px_ref refs[64];
  int n = 0;
  int64_t per_pair_keys = keys / pairs;
  for (int w = 0; w < pairs; w++) {
    px_val sp = px_int((int64_t)(uintptr_t)s);
    px_spawn(&taker_t,
             px_arr(5, px_ref_val(me), sp, px_int(per),
                    px_int(w * per_pair_keys), px_int(per_pair_keys)),
             NULL, &refs[n++]);
    px_spawn(&writer_t,
             px_arr(5, px_ref_val(me), sp, px_int(per),
                    px_int(w * per_pair_keys), px_int(per_pair_keys)),
             NULL, &refs[n++]);
  }
  uint64_t t0 = px_now_ns();
  for (int i = 0; i < n; i++) px_send(refs[i], A_GO, px_nil());
  int64_t taken = 0;
  for (int i = 0; i < n; i++) {
    px_message *m;
    if (px_receive(NULL, NULL, 600000, &m) != 0) bench_fail("ts", "timeout");
    taken += m->payload.u.i;
    px_message_free(m);
  }
  double secs = (double)(px_now_ns() - t0) / 1e9;
  if (taken != per * pairs) bench_fail("ts", "taken count mismatch");
  size_t left = 1;
  px_ts_count(s, px_arr(2, px_nil(), px_nil()), &left);
  if (left != 0) bench_fail("ts", "tuples left over");
  return (double)(per * pairs) / secs;
}

int bench_ts_pairs(void) {
  A_GO = px_atom_of("go");
  A_DONE = px_atom_of("done");
  long n = bench_scaled(200000);
  bench_start_runtime();
  px_space *s = open_space("ts_pairs");
  double rate = run_pairs(s, 1, 1, n);
  px_space_close(s);
  px_runtime_stop();
  char extra[64];
  snprintf(extra, sizeof extra, "\"pairs\":%ld", n);
  bench_report("ts_pairs", rate, "pairs/s", extra);
  return 0;
}

int bench_ts_contended(void) {
  A_GO = px_atom_of("go");
  A_DONE = px_atom_of("done");
  long per = bench_scaled(50000);
  bench_start_runtime();
  px_space *s = open_space("ts_contended");
  double rate = run_pairs(s, 8, 1000, per);
  px_space_close(s);
  px_runtime_stop();
  char extra[64];
  snprintf(extra, sizeof extra, "\"pairs\":%ld", per * 8);
  bench_report("ts_contended", rate, "pairs/s", extra);
  return 0;
}

/* ---- ts_handoff: write -> a blocked taker wakes ---------------------------- *
 * The taker blocks on ("h", _). For each round the main thread tells the
 * writer to go once the taker is parked; the writer stamps the tuple with
 * the time just before px_ts_write; the taker measures on waking. */

static px_atom A_READY;

typedef struct hand {
  px_ref main;
  px_space *space;
  int64_t n;
  uint64_t *lat;
} hand;

static int hand_init(px_val args, void **state) {
  hand *h = calloc(1, sizeof *h);
  px_val_ref(px_at(args, 0), &h->main);
  h->space = (px_space *)(uintptr_t)px_at(args, 1).u.i;
  h->n = px_at(args, 2).u.i;
  h->lat = calloc((size_t)h->n, sizeof *h->lat);
  *state = h;
  return 0;
}

static void hand_free(void *state, px_val reason) {
  hand *h = state;
  free(h->lat);
  free(h);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void hand_taker(void *state, const px_message *m) {
  hand *h = state;
  if (m->type != A_GO) return;
  for (int64_t i = 0; i < h->n; i++) {
    px_val t;
    if (px_ts_take(h->space, px_arr(2, px_str("h"), px_nil()), -1, &t) != 0)
      bench_fail("ts_handoff", "take failed");
    h->lat[i] = px_now_ns() - (uint64_t)px_at(t, 1).u.i;
    px_val_release(t);
    px_send(h->main, A_READY, px_nil());
  }
  qsort(h->lat, (size_t)h->n, sizeof *h->lat, cmp_u64);
  px_send(h->main, A_DONE,
          px_arr(2, px_int((int64_t)h->lat[h->n / 2]),
                 px_int((int64_t)h->lat[(int64_t)((double)h->n * 0.99)])));
}

static void hand_writer(void *state, const px_message *m) {
  hand *h = state;
  if (m->type != A_GO) return;
  px_ts_write(h->space, px_arr(2, px_str("h"), px_int((int64_t)px_now_ns())), 0,
              NULL);
}

static const px_actor_type hand_taker_t = {"ts_hand_taker", 0, hand_init,
                                           hand_taker, hand_free};
static const px_actor_type hand_writer_t = {"ts_hand_writer", 0, hand_init,
                                            hand_writer, hand_free};

static bool is_type(const px_message *m, void *ud) {
  return m->type == *(px_atom *)ud;
}

static void wait_parked(px_ref r) {
  px_actor_info info;
  for (;;) {
    if (px_actor_info_get(r, &info) == 0 && info.parked) return;
    sched_yield();
  }
}

int bench_ts_handoff(void) {
  A_GO = px_atom_of("go");
  A_DONE = px_atom_of("done");
  A_READY = px_atom_of("ready");
  long n = bench_scaled(20000);
  bench_start_runtime();
  px_space *s = open_space("ts_handoff");
  px_ref me = px_self(), taker, writer;
  px_val sp = px_int((int64_t)(uintptr_t)s);
  px_spawn(&hand_taker_t, px_arr(3, px_ref_val(me), sp, px_int(n)), NULL,
           &taker);
  px_spawn(&hand_writer_t, px_arr(3, px_ref_val(me), sp, px_int(1)), NULL,
           &writer);
  px_send(taker, A_GO, px_nil());
  for (long i = 0; i < n; i++) {
    wait_parked(taker);
    px_send(writer, A_GO, px_nil());
    px_message *m;
    if (px_receive(is_type, &A_READY, 600000, &m) != 0)
      bench_fail("ts_handoff", "timeout");
    px_message_free(m);
  }
  px_message *m;
  if (px_receive(is_type, &A_DONE, 600000, &m) != 0)
    bench_fail("ts_handoff", "no result");
  int64_t p50 = px_at(m->payload, 0).u.i, p99 = px_at(m->payload, 1).u.i;
  px_message_free(m);
  px_space_close(s);
  px_runtime_stop();
  char extra[96];
  snprintf(extra, sizeof extra, "\"p99\":%lld,\"handoffs\":%ld",
           (long long)p99, n);
  bench_report("ts_handoff", (double)p50, "ns", extra);
  return 0;
}

/* ---- ts_match: indexed read among 1M stored tuples --------------------------- *
 * Two layouts, both 1M tuples of arity 3 read by random key: keyed by field
 * 0, (k, "payload", 2k) read with (k, _, _); and tagged, ("job", k, 2k) read
 * with ("job", k, _), where every tuple shares field 0 (the fields 0+1
 * index, built by the first such read and timed apart). The reported value
 * is the keyed layout; "tagged_ns" the other. */

static double match_run(bool tagged, long stored, long reads,
                        double *first_ms) {
  px_space *s = open_space(tagged ? "ts_match_tagged" : "ts_match");
  for (long i = 0; i < stored; i++) {
    px_val t = tagged ? px_arr(3, px_str("job"), px_int(i), px_int(i * 2))
                      : px_arr(3, px_int(i), px_str("payload"), px_int(i * 2));
    if (px_ts_write(s, t, 0, NULL)) bench_fail("ts_match", "write failed");
  }
  /* The first read of the tagged layout builds its fields 0+1 index:
   * timed on its own, outside the steady-state reads. */
  uint64_t b0 = px_now_ns();
  px_val first;
  px_val tmpl0 = tagged ? px_arr(3, px_str("job"), px_int(0), px_nil())
                        : px_arr(3, px_int(0), px_nil(), px_nil());
  if (px_ts_read(s, tmpl0, 0, &first) != 0)
    bench_fail("ts_match", "missing tuple");
  px_val_release(first);
  *first_ms = (double)(px_now_ns() - b0) / 1e6;
  uint64_t x = 88172645463325252ull;
  uint64_t t0 = px_now_ns();
  for (long i = 0; i < reads; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    int64_t k = (int64_t)(x % (uint64_t)stored);
    px_val tmpl = tagged ? px_arr(3, px_str("job"), px_int(k), px_nil())
                         : px_arr(3, px_int(k), px_nil(), px_nil());
    px_val t;
    if (px_ts_read(s, tmpl, 0, &t) != 0 || px_at(t, 2).u.i != k * 2)
      bench_fail("ts_match", "wrong or missing tuple");
    px_val_release(t);
  }
  double per = (double)(px_now_ns() - t0) / (double)reads;
  px_space_close(s);
  return per;
}

int bench_ts_match(void) {
  long stored = bench_scaled(1000000), reads = bench_scaled(200000);
  bench_start_runtime();
  double first, build_ms;
  double keyed = match_run(false, stored, reads, &first);
  double tagged = match_run(true, stored, reads, &build_ms);
  px_runtime_stop();
  char extra[160];
  snprintf(extra, sizeof extra,
           "\"stored\":%ld,\"reads\":%ld,\"tagged_ns\":%.0f,"
           "\"tagged_index_build_ms\":%.1f",
           stored, reads, tagged, build_ms);
  bench_report("ts_match", keyed, "ns/read", extra);
  return 0;
}
