/* ask_latency: one client actor makes N sequential asks to one server
 * actor, timing each; reports p50 (value) and p99 in nanoseconds. */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

static px_atom A_REQ, A_START, A_DONE;

static void server_handle(void *state, const px_message *m) {
  (void)state;
  if (m->type == A_REQ) px_reply(m, px_int(m->payload.u.i + 1));
}

static const px_actor_type server_t = {"server", 0, NULL, server_handle,
                                       NULL};

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

typedef struct client {
  px_ref main;
  int64_t n;
  uint64_t *samples;
} client;

static int client_init(px_val args, void **state) {
  client *c = calloc(1, sizeof *c);
  px_val_ref(px_at(args, 0), &c->main);
  c->n = px_at(args, 1).u.i;
  c->samples = malloc(sizeof *c->samples * (size_t)c->n);
  *state = c;
  return 0;
}

static void client_handle(void *state, const px_message *m) {
  client *c = state;
  if (m->type != A_START) return;
  px_ref server;
  px_val_ref(m->payload, &server);
  for (int64_t i = 0; i < c->n; i++) {
    px_val r;
    uint64_t t0 = px_now_ns();
    int rc = px_ask(server, A_REQ, px_int(i), 5000, &r);
    c->samples[i] = px_now_ns() - t0;
    if (rc != 0 || r.u.i != i + 1) bench_fail("ask_latency", "bad reply");
  }
  qsort(c->samples, (size_t)c->n, sizeof *c->samples, cmp_u64);
  uint64_t p50 = c->samples[c->n / 2];
  uint64_t p99 = c->samples[(int64_t)((double)c->n * 0.99)];
  px_send(c->main, A_DONE, px_arr(2, px_int((int64_t)p50), px_int((int64_t)p99)));
}

static void client_free(void *state, px_val reason) {
  client *c = state;
  free(c->samples);
  free(c);
}

static const px_actor_type client_t = {"client", 0, client_init,
                                       client_handle, client_free};

int bench_ask_latency(void) {
  A_REQ = px_atom_of("req");
  A_START = px_atom_of("start");
  A_DONE = px_atom_of("done");
  long n = bench_scaled(1000000);
  bench_start_runtime();
  px_ref s, c;
  px_spawn(&server_t, px_nil(), NULL, &s);
  px_spawn(&client_t, px_arr(2, px_ref_val(px_self()), px_int(n)), NULL, &c);
  px_send(c, A_START, px_ref_val(s));
  px_message *m;
  if (px_receive(NULL, NULL, 600000, &m) != 0) bench_fail("ask", "timeout");
  uint64_t p50 = (uint64_t)px_at(m->payload, 0).u.i;
  uint64_t p99 = (uint64_t)px_at(m->payload, 1).u.i;
  px_message_free(m);
  px_runtime_stop();
  char extra[96];
  snprintf(extra, sizeof extra, "\"p99\":%llu,\"asks\":%ld",
           (unsigned long long)p99, n);
  bench_report("ask_latency", (double)p50, "ns", extra);
  return 0;
}
