/* Messaging workloads: ping_pong, thread_ring, counting, big. Each ends by
 * sending `done` to the benchmark's main thread, which waits in
 * px_receive, so the timing covers exactly the message traffic. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static px_atom A_PING, A_PONG, A_TOKEN, A_DONE, A_MSG, A_START, A_GET;

static void atoms(void) {
  A_PING = px_atom_of("ping");
  A_PONG = px_atom_of("pong");
  A_TOKEN = px_atom_of("token");
  A_DONE = px_atom_of("done");
  A_MSG = px_atom_of("msg");
  A_START = px_atom_of("start");
  A_GET = px_atom_of("get");
}

static int64_t wait_done(void) {
  px_message *m;
  if (px_receive(NULL, NULL, 600000, &m) != 0) bench_fail("wait", "timeout");
  int64_t v = px_typeof(m->payload) == PX_T_INT ? m->payload.u.i : 0;
  px_message_free(m);
  return v;
}

/* The state of most actors here is two refs and a counter; keep it in one
 * struct allocated at init from args [peer_or_main, n]. */
typedef struct peer {
  px_ref main;
  px_ref peer;
  int64_t left;
  int64_t count;
} peer;

static int peer_init(px_val args, void **state) {
  peer *p = calloc(1, sizeof *p);
  if (!p) return PX_ENOMEM;
  px_val_ref(px_at(args, 0), &p->main);
  p->left = px_at(args, 1).u.i;
  *state = p;
  return 0;
}

static void peer_free(void *state, px_val reason) { free(state); }

/* ---- ping_pong: 2 actors, N round trips ---------------------------------- */

static void pinger_handle(void *state, const px_message *m) {
  peer *p = state;
  if (m->type == A_START) {
    px_val_ref(m->payload, &p->peer);
    px_send(p->peer, A_PING, px_nil());
  } else if (m->type == A_PONG) {
    if (--p->left == 0)
      px_send(p->main, A_DONE, px_int(0));
    else
      px_send(p->peer, A_PING, px_nil());
  }
}

static void ponger_handle(void *state, const px_message *m) {
  (void)state;
  if (m->type == A_PING) px_send(m->from, A_PONG, px_nil());
}

static const px_actor_type pinger_t = {"pinger", 0, peer_init, pinger_handle,
                                       peer_free};
static const px_actor_type ponger_t = {"ponger", 0, NULL, ponger_handle,
                                       NULL};

int bench_ping_pong(void) {
  atoms();
  long n = bench_scaled(2000000);
  bench_start_runtime();
  px_ref me = px_self(), a, b;
  px_spawn(&ponger_t, px_nil(), NULL, &b);
  px_spawn(&pinger_t, px_arr(2, px_ref_val(me), px_int(n)), NULL, &a);
  uint64_t t0 = px_now_ns();
  px_send(a, A_START, px_ref_val(b));
  wait_done();
  double s = (double)(px_now_ns() - t0) / 1e9;
  px_runtime_stop();
  char extra[96];
  snprintf(extra, sizeof extra, "\"round_trips\":%ld,\"seconds\":%.4f", n, s);
  bench_report("ping_pong", 2.0 * (double)n / s, "msg/s", extra);
  return 0;
}

/* ---- thread_ring: R actors pass a token H hops ---------------------------- */

static void ring_handle(void *state, const px_message *m) {
  peer *p = state;
  if (m->type == A_START) {
    px_val_ref(m->payload, &p->peer);
  } else if (m->type == A_TOKEN) {
    int64_t hops = m->payload.u.i;
    if (hops == 0)
      px_send(p->main, A_DONE, px_int(0));
    else
      px_send(p->peer, A_TOKEN, px_int(hops - 1));
  }
}

static const px_actor_type ring_t = {"ring", 0, peer_init, ring_handle,
                                     peer_free};

int bench_thread_ring(void) {
  atoms();
  const int R = 503;
  long hops = bench_scaled(10000000);
  bench_start_runtime();
  px_ref me = px_self();
  px_ref *refs = calloc(R, sizeof *refs);
  for (int i = 0; i < R; i++)
    px_spawn(&ring_t, px_arr(2, px_ref_val(me), px_int(0)), NULL, &refs[i]);
  for (int i = 0; i < R; i++)
    px_send(refs[i], A_START, px_ref_val(refs[(i + 1) % R]));
  uint64_t t0 = px_now_ns();
  px_send(refs[0], A_TOKEN, px_int(hops));
  wait_done();
  double s = (double)(px_now_ns() - t0) / 1e9;
  px_runtime_stop();
  free(refs);
  char extra[96];
  snprintf(extra, sizeof extra, "\"actors\":%d,\"hops\":%ld,\"seconds\":%.4f",
           R, hops, s);
  bench_report("thread_ring", (double)hops / s, "hops/s", extra);
  return 0;
}

/* ---- counting: one producer, one counter, N messages ---------------------- */

static void counter_handle(void *state, const px_message *m) {
  peer *p = state;
  if (m->type == A_MSG)
    p->count++;
  else if (m->type == A_GET)
    px_send(p->main, A_DONE, px_int(p->count));
}

static void producer_handle(void *state, const px_message *m) {
  peer *p = state;
  if (m->type != A_START) return;
  px_ref counter;
  px_val_ref(m->payload, &counter);
  for (int64_t i = 0; i < p->left; i++) px_send(counter, A_MSG, px_nil());
  px_send(counter, A_GET, px_nil());
}

static const px_actor_type counter_t = {"counter", 0, peer_init,
                                        counter_handle, peer_free};
static const px_actor_type producer_t = {"producer", 0, peer_init,
                                         producer_handle, peer_free};

int bench_counting(void) {
  atoms();
  long n = bench_scaled(10000000);
  bench_start_runtime();
  px_ref me = px_self(), c, p;
  px_spawn(&counter_t, px_arr(2, px_ref_val(me), px_int(0)), NULL, &c);
  px_spawn(&producer_t, px_arr(2, px_ref_val(me), px_int(n)), NULL, &p);
  uint64_t t0 = px_now_ns();
  px_send(p, A_START, px_ref_val(c));
  int64_t got = wait_done();
  double s = (double)(px_now_ns() - t0) / 1e9;
  px_runtime_stop();
  if (got != n) bench_fail("counting", "count mismatch");
  char extra[96];
  snprintf(extra, sizeof extra, "\"messages\":%ld,\"seconds\":%.4f", n, s);
  bench_report("counting", (double)n / s, "msg/s", extra);
  return 0;
}

/* ---- big: A actors ping random peers, each sends P pings ----------------- */

typedef struct big_actor {
  px_ref main;
  px_ref *peers;
  int npeers;
  int64_t left;
  uint64_t rng;
} big_actor;

static int big_init(px_val args, void **state) {
  big_actor *b = calloc(1, sizeof *b);
  if (!b) return PX_ENOMEM;
  px_val_ref(px_at(args, 0), &b->main);
  b->left = px_at(args, 1).u.i;
  b->rng = (uint64_t)px_at(args, 2).u.i * 0x9e3779b97f4a7c15ull + 1;
  *state = b;
  return 0;
}

static void big_free(void *state, px_val reason) {
  big_actor *b = state;
  free(b->peers);
  free(b);
}

static void big_ping_next(big_actor *b) {
  b->rng ^= b->rng << 13;
  b->rng ^= b->rng >> 7;
  b->rng ^= b->rng << 17;
  px_send(b->peers[b->rng % (uint64_t)b->npeers], A_PING, px_nil());
}

static void big_handle(void *state, const px_message *m) {
  big_actor *b = state;
  if (m->type == A_PING) {
    px_send(m->from, A_PONG, px_nil());
  } else if (m->type == A_PONG) {
    if (--b->left == 0)
      px_send(b->main, A_DONE, px_int(1));
    else
      big_ping_next(b);
  } else if (m->type == A_START) {
    /* The peer table travels as one binary of px_ref structs. */
    size_t n = px_str_len(m->payload) / sizeof(px_ref);
    b->peers = malloc(n * sizeof *b->peers);
    memcpy(b->peers, px_str_ptr(m->payload), n * sizeof *b->peers);
    b->npeers = (int)n;
    big_ping_next(b);
  }
}

static const px_actor_type big_t = {"big", 0, big_init, big_handle, big_free};

int bench_big(void) {
  atoms();
  const int A = 1000;
  long total = bench_scaled(10000000);
  long pings = total / (2 * A); /* a ping and its pong are two messages */
  if (pings < 1) pings = 1;
  bench_start_runtime();
  px_ref me = px_self();
  px_ref *refs = calloc(A, sizeof *refs);
  for (int i = 0; i < A; i++)
    px_spawn(&big_t, px_arr(3, px_ref_val(me), px_int(pings), px_int(i)), NULL,
             &refs[i]);
  px_val peers = px_bin(refs, A * sizeof *refs);
  uint64_t t0 = px_now_ns();
  for (int i = 0; i < A; i++) px_send(refs[i], A_START, px_val_retain(peers));
  px_val_release(peers);
  for (int i = 0; i < A; i++) wait_done();
  double s = (double)(px_now_ns() - t0) / 1e9;
  px_runtime_stop();
  free(refs);
  double msgs = 2.0 * (double)pings * A;
  char extra[128];
  snprintf(extra, sizeof extra,
           "\"actors\":%d,\"pings_per_actor\":%ld,\"seconds\":%.4f", A, pings,
           s);
  bench_report("big", msgs / s, "msg/s", extra);
  return 0;
}
