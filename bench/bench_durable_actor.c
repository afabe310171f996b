/* The durability facet (issue 4), on a px_store in a temporary directory
 * (synchronous=FULL), next to the raw SQLite batched insert rate measured
 * on the same disk in the same run:
 *  - dur_actor: BENCH_DUR_ACTORS durable counters (default 64), each asked
 *    by its own driver actor, one ask at a time, 100,000 asks in all. Each
 *    ask is one journal append (group-committed) before the handler runs;
 *    checkpoints every 1000 messages. Compare with dur_append (the same
 *    appends made directly): the facet's own cost is the difference. */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "plexspaces/durable.h"

static long g_per;
static px_ref g_main;

typedef struct dctr {
  int64_t n;
} dctr;

static int dctr_init(px_val args, void **state) {
  (void)args;
  *state = calloc(1, sizeof(dctr));
  return *state ? 0 : PX_ENOMEM;
}

static void dctr_handle(void *state, const px_message *m) {
  dctr *c = state;
  c->n += px_typeof(m->payload) == PX_T_INT ? m->payload.u.i : 0;
  if (m->corr) px_reply(m, px_int(c->n));
}

static void dctr_terminate(void *state, px_val reason) {
  (void)reason;
  free(state);
}

static const px_actor_type dctr_t = {"dur_counter", 0, dctr_init, dctr_handle,
                                     dctr_terminate};

static px_val dctr_encode(const void *state) {
  return px_int(((const dctr *)state)->n);
}

static int dctr_decode(px_val saved, void *state) {
  if (px_typeof(saved) != PX_T_INT) return PX_EDECODE;
  ((dctr *)state)->n = saved.u.i;
  return 0;
}

/* Asks its counter g_per times, then reports the failures to main. */
static void driver_handle(void *state, const px_message *m) {
  (void)state;
  px_ref target;
  long bad = 0;
  if (!px_val_ref(m->payload, &target)) bad = g_per;
  for (long i = 0; i < g_per && !bad; i++) {
    px_val v;
    if (px_ask(target, px_atom_of("add"), px_int(1), -1, &v) != 0) bad++;
    px_val_release(v);
  }
  px_send(g_main, px_atom_of("done"), px_int(bad));
  px_exit_self(px_atomv(px_a()->normal));
}

static const px_actor_type driver_t = {"dur_driver", 0, NULL, driver_handle,
                                       NULL};

int bench_dur_actor(void) {
  long actors = bench_split("BENCH_DUR_ACTORS", bench_scaled(100000), &g_per);
  long total = actors * g_per;
  char *dir = bench_temp_dir("dur_actor");
  char err[512];
  px_store *store;
  if (px_store_open_sqlite(dir, NULL, &store, err, sizeof err) != 0)
    bench_fail("dur_actor", err);
  bench_start_runtime();
  g_main = px_self();
  px_durable_opts d = {.store = store,
                       .encode = dctr_encode,
                       .decode = dctr_decode};
  px_ref *ctrs = malloc((size_t)actors * sizeof *ctrs);
  px_ref *drivers = malloc((size_t)actors * sizeof *drivers);
  for (long i = 0; i < actors; i++) {
    char id[64];
    snprintf(id, sizeof id, "bench/ns/counter/%ld", i);
    if (px_spawn_durable(&dctr_t, px_nil(), id, &d, NULL, &ctrs[i]) != 0 ||
        px_spawn(&driver_t, px_nil(), NULL, &drivers[i]) != 0)
      bench_fail("dur_actor", "spawn failed");
  }
  uint64_t t0 = px_now_ns();
  for (long i = 0; i < actors; i++)
    px_send(drivers[i], px_atom_of("go"), px_ref_val(ctrs[i]));
  long bad = bench_collect("dur_actor", actors);
  double secs = (double)(px_now_ns() - t0) / 1e9;
  px_store_stats st;
  px_store_get_stats(store, &st);
  px_runtime_stop();
  px_store_close(store);
  free(ctrs);
  free(drivers);
  if (bad) bench_fail("dur_actor", "asks failed");
  double rate = (double)total / secs;
  double batched = bench_raw_sqlite_rate(dir, bench_scaled(100000), 100000);
  char extra[512];
  snprintf(extra, sizeof extra,
           "\"total\":%ld,\"seconds\":%.4f,\"actors\":%ld,\"commits\":%llu,"
           "\"per_commit\":%.1f,\"raw_sqlite_batched_rows_per_s\":%.0f,"
           "\"ratio_to_raw_batched\":%.3f",
           total, secs, actors, (unsigned long long)st.commits,
           st.commits ? (double)st.ops / (double)st.commits : 0.0, batched,
           rate / batched);
  bench_report("dur_actor", rate, "msgs/s", extra);
  bench_remove_dir(dir);
  return 0;
}
