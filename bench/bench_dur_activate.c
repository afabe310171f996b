/* dur_activate: latency of activating a durable virtual actor from
 * storage (issue 4). BENCH_ACTIVATE_KEYS keys (default 10,000, scaled by
 * BENCH_SCALE) of a checkpoint-only durable virtual type each get one
 * increment and are deactivated, so each has a checkpoint in a px_store
 * (synchronous=FULL) and no activation. Then one driver actor asks every
 * key once, one after another: each ask is a first message to an inactive
 * key (directory miss, spawn, init, snapshot read and decode, the message,
 * the reply). Reported: p50 in microseconds, with p99, p90, max; the
 * same ask's p50/p99 once the key is active, and a plain px_ask to the
 * activation's ref (so active - raw = the directory's cost).
 * Target: p50 <= 50 us.
 *
 * Wiring (not done here): bench.h declares `int bench_dur_activate(void);`
 * and bench_main.c lists {"dur_activate", bench_dur_activate}; the file is
 * picked up by bench/CMakeLists.txt once named bench_dur_activate.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "plexspaces/durable.h"
#include "plexspaces/store.h"
#include "plexspaces/virtual.h"

int bench_dur_activate(void);

typedef struct act_counter {
  int64_t n;
} act_counter;

static px_atom A_INC, A_GET, A_GO, A_DONE;
static long g_keys;
static uint64_t *g_cold, *g_warm, *g_raw;
static px_ref g_main;

static int ac_init(px_val args, void **state) {
  (void)args;
  *state = calloc(1, sizeof(act_counter));
  return *state ? 0 : PX_ENOMEM;
}

static void ac_handle(void *state, const px_message *m) {
  act_counter *c = state;
  if (m->type == A_INC) c->n++;
  if (m->corr) px_reply(m, px_int(c->n));
}

static void ac_free(void *state, px_val reason) {
  (void)reason;
  free(state);
}

static const px_actor_type act_t = {"bench_act", 0, ac_init, ac_handle,
                                    ac_free};

static px_val ac_encode(const void *state) {
  return px_int(((const act_counter *)state)->n);
}

static int ac_decode(px_val saved, void *state) {
  if (px_typeof(saved) != PX_T_INT) return PX_EDECODE;
  ((act_counter *)state)->n = saved.u.i;
  return 0;
}

static void key_of(long i, char *buf, size_t cap) {
  snprintf(buf, cap, "acct-%07ld", i);
}

/* The driver: a handler, so each ask parks a coroutine instead of waking a
 * thread (what an actor calling a virtual actor pays). */
static void drv_handle(void *state, const px_message *m) {
  (void)state;
  if (m->type != A_GO) return;
  long bad = 0;
  for (int pass = 0; pass < 3; pass++) {
    uint64_t *lat = pass == 0 ? g_cold : pass == 1 ? g_warm : g_raw;
    for (long i = 0; i < g_keys; i++) {
      char k[32];
      key_of(i, k, sizeof k);
      px_ref ref = px_ref_nil();
      /* Pass 2: the same ask straight to the activation's ref, the
       * baseline of the directory's cost. */
      if (pass == 2 && px_virtual_ref("bench_act", k, &ref) != 0) bad++;
      px_val r;
      uint64_t t0 = px_now_ns();
      int rc = pass < 2 ? px_virtual_ask("bench_act", k, A_GET, px_nil(),
                                         10000, &r)
                        : px_ask(ref, A_GET, px_nil(), 10000, &r);
      lat[i] = px_now_ns() - t0;
      if (rc || r.u.i != 1) bad++;
      px_val_release(r);
    }
  }
  px_send(g_main, A_DONE, px_int(bad));
}

static const px_actor_type drv_t = {"bench_act_driver", 0, NULL, drv_handle,
                                    NULL};

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static double pct_us(const uint64_t *sorted, long n, double p) {
  long i = (long)(p * (double)(n - 1));
  return (double)sorted[i] / 1000.0;
}

/* Waits (polling: this is a benchmark's setup) until no activation is
 * left, so every key's checkpoint is stored. */
static void wait_none_active(void) {
  for (int i = 0; px_virtual_active_count("bench_act") > 0; i++) {
    if (i > 600000) bench_fail("dur_activate", "deactivation stuck");
    usleep(100);
  }
}

int bench_dur_activate(void) {
  const char *env = getenv("BENCH_ACTIVATE_KEYS");
  g_keys = env && atol(env) > 0 ? atol(env) : bench_scaled(10000);
  char *dir = bench_temp_dir("dur_activate");
  char err[512];
  px_store *st;
  if (px_store_open_sqlite(dir, NULL, &st, err, sizeof err) != 0)
    bench_fail("dur_activate", err);
  bench_start_runtime();
  A_INC = px_atom_of("inc");
  A_GET = px_atom_of("get");
  A_GO = px_atom_of("go");
  A_DONE = px_atom_of("done");
  g_main = px_self();
  px_durable_opts d = {.store = st,
                       .no_journal = true,
                       .encode = ac_encode,
                       .decode = ac_decode};
  px_virtual_opts o = {.durable = &d, .idle_timeout_ms = -1};
  if (px_virtual_register(&act_t, px_nil(), &o) != 0)
    bench_fail("dur_activate", "register failed");

  /* Setup: one increment per key, then deactivate (checkpoint) it. */
  for (long i = 0; i < g_keys; i++) {
    char k[32];
    key_of(i, k, sizeof k);
    if (px_virtual_send("bench_act", k, A_INC, px_nil()) != 0)
      bench_fail("dur_activate", "send failed");
  }
  for (long i = 0; i < g_keys; i++) {
    char k[32];
    key_of(i, k, sizeof k);
    px_val r;
    if (px_virtual_ask("bench_act", k, A_GET, px_nil(), 60000, &r) != 0 ||
        r.u.i != 1)
      bench_fail("dur_activate", "setup ask failed");
    px_virtual_deactivate("bench_act", k);
  }
  wait_none_active();

  g_cold = calloc((size_t)g_keys, sizeof *g_cold);
  g_warm = calloc((size_t)g_keys, sizeof *g_warm);
  g_raw = calloc((size_t)g_keys, sizeof *g_raw);
  px_ref drv;
  if (!g_cold || !g_warm || !g_raw ||
      px_spawn(&drv_t, px_nil(), NULL, &drv) != 0)
    bench_fail("dur_activate", "driver");
  px_send(drv, A_GO, px_nil());
  px_message *m;
  if (px_receive(NULL, NULL, 600000, &m) != 0)
    bench_fail("dur_activate", "timeout");
  long bad = m->payload.u.i;
  px_message_free(m);
  if (bad) bench_fail("dur_activate", "asks failed or state lost");
  px_runtime_stop();
  px_store_close(st);
  bench_remove_dir(dir);

  qsort(g_cold, (size_t)g_keys, sizeof *g_cold, cmp_u64);
  qsort(g_warm, (size_t)g_keys, sizeof *g_warm, cmp_u64);
  qsort(g_raw, (size_t)g_keys, sizeof *g_raw, cmp_u64);
  char extra[512];
  snprintf(extra, sizeof extra,
           "\"keys\":%ld,\"p90_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,"
           "\"active_p50_us\":%.2f,\"active_p99_us\":%.2f,"
           "\"raw_ask_p50_us\":%.2f,\"target_p50_us\":50",
           g_keys, pct_us(g_cold, g_keys, 0.90), pct_us(g_cold, g_keys, 0.99),
           pct_us(g_cold, g_keys, 1.0), pct_us(g_warm, g_keys, 0.50),
           pct_us(g_warm, g_keys, 0.99), pct_us(g_raw, g_keys, 0.50));
  bench_report("dur_activate", pct_us(g_cold, g_keys, 0.50), "us_p50", extra);
  free(g_cold);
  free(g_warm);
  free(g_raw);
  return 0;
}
