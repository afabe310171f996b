/* store_commit: N concurrent actors (BENCH_STORE_ACTORS, default 64) each
 * doing sequential px_store_apply of one TUPLE_PUT, 100,000 in total, in a
 * temporary directory (BENCH_STORE_DIR, default /tmp) with
 * synchronous=FULL. Reports applies per second and the commits they took,
 * next to the raw SQLite rates on the same disk: one transaction of
 * 100,000 prepared inserts, and one transaction (and fsync) per row. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "plexspaces/store.h"

static px_store *g_store;
static px_ref g_main;
static long g_per_actor;

static int committer_init(px_val args, void **state) {
  *state = (void *)(intptr_t)args.u.i;
  return 0;
}

static void committer_handle(void *state, const px_message *m) {
  int64_t idx = (int64_t)(intptr_t)state;
  long bad = 0;
  for (long i = 0; i < g_per_actor; i++) {
    px_val v = px_arr(2, px_int(idx), px_str("a tuple of modest size"));
    px_store_op op = {.kind = PX_STORE_TUPLE_PUT,
                      .space = "bench/ns/commit",
                      .id = (uint64_t)(idx * g_per_actor + i + 1),
                      .value = v};
    if (px_store_apply(g_store, &op, 1) != 0) bad++;
    px_val_release(v);
  }
  px_send(g_main, px_atom_of("done"), px_int(bad));
  px_exit_self(px_atomv(px_a()->normal));
}

static const px_actor_type committer_t = {"store_committer", 0,
                                          committer_init, committer_handle,
                                          NULL};


int bench_store_commit(void) {
  long actors = bench_split("BENCH_STORE_ACTORS", bench_scaled(100000),
                            &g_per_actor);
  long total = g_per_actor * actors;
  char *dir = bench_temp_dir("store_commit");
  char err[512];
  px_store_opts so = {0};
  if (px_store_open_sqlite(dir, &so, &g_store, err, sizeof err) != 0)
    bench_fail("store_commit", err);
  bench_start_runtime();
  g_main = px_self();
  px_ref *refs = malloc((size_t)actors * sizeof *refs);
  for (long i = 0; i < actors; i++)
    if (px_spawn(&committer_t, px_int(i), NULL, &refs[i]) != 0)
      bench_fail("store_commit", "spawn failed");
  uint64_t t0 = px_now_ns();
  for (long i = 0; i < actors; i++) px_send(refs[i], px_atom_of("go"), px_nil());
  long bad = bench_collect("store_commit", actors);
  double secs = (double)(px_now_ns() - t0) / 1e9;
  px_runtime_stop();
  free(refs);
  px_store_stats st;
  px_store_get_stats(g_store, &st);
  px_store_close(g_store);
  if (bad || st.ops != (uint64_t)total)
    bench_fail("store_commit", "applies failed");

  double raw_batched = bench_raw_sqlite_rate(dir, bench_scaled(100000), 100000);
  long fs_rows = bench_scaled(2000);
  double raw_fsync = bench_raw_sqlite_rate(dir, fs_rows, 1);
  bench_remove_dir(dir);

  double rate = (double)total / secs;
  char extra[512];
  snprintf(extra, sizeof extra,
           "\"actors\":%ld,\"applies\":%ld,\"seconds\":%.4f,"
           "\"commits\":%llu,\"applies_per_commit\":%.1f,"
           "\"raw_sqlite_batched_rows_per_s\":%.0f,"
           "\"raw_sqlite_fsync_per_row_rows_per_s\":%.0f,"
           "\"pct_of_raw_batched\":%.1f",
           actors, total, secs, (unsigned long long)st.commits,
           st.commits ? (double)total / (double)st.commits : 0.0, raw_batched,
           raw_fsync, 100.0 * rate / raw_batched);
  bench_report("store_commit", rate, "applies/s", extra);
  return 0;
}
