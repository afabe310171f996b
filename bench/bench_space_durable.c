/* ts_durable: 64 actors (BENCH_TS_DURABLE_ACTORS) each doing sequential
 * px_ts_write to a PX_SPACE_DURABLE space, 100,000 writes in total, on a
 * px_store in a temporary directory (BENCH_STORE_DIR, default /tmp) with
 * synchronous=FULL. Reports writes per second, next to the raw SQLite
 * rates measured on the same disk in the same run: one transaction of
 * 100,000 prepared inserts, and one transaction (and fsync) per row; and
 * the ratio to the batched rate (issue 3 target: >= 30%). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "plexspaces/space.h"
#include "plexspaces/store.h"

static px_space *g_space;
static px_ref g_main;
static long g_per_actor;


static int dur_writer_init(px_val args, void **state) {
  *state = (void *)(intptr_t)args.u.i;
  return 0;
}

static void dur_writer_handle(void *state, const px_message *m) {
  (void)m;
  int64_t idx = (int64_t)(intptr_t)state;
  long bad = 0;
  for (long i = 0; i < g_per_actor; i++)
    if (px_ts_write(g_space,
                    px_arr(2, px_int(idx), px_str("a tuple of modest size")),
                    0, NULL) != 0)
      bad++;
  px_send(g_main, px_atom_of("done"), px_int(bad));
  px_exit_self(px_atomv(px_a()->normal));
}

static const px_actor_type dur_writer_t = {"ts_durable_writer", 0,
                                           dur_writer_init, dur_writer_handle,
                                           NULL};


int bench_ts_durable(void) {
  long actors = bench_split("BENCH_TS_DURABLE_ACTORS", bench_scaled(100000),
                            &g_per_actor);
  long total = g_per_actor * actors;
  char *dir = bench_temp_dir("ts_durable");
  char err[512];
  px_store *store;
  if (px_store_open_sqlite(dir, NULL, &store, err, sizeof err) != 0)
    bench_fail("ts_durable", err);
  bench_start_runtime();
  px_space_set_store(store);
  if (px_space_open("bench", "ns", "durable", PX_SPACE_DURABLE, &g_space))
    bench_fail("ts_durable", "open failed");
  g_main = px_self();
  px_ref *refs = malloc((size_t)actors * sizeof *refs);
  for (long i = 0; i < actors; i++)
    if (px_spawn(&dur_writer_t, px_int(i), NULL, &refs[i]) != 0)
      bench_fail("ts_durable", "spawn failed");
  uint64_t t0 = px_now_ns();
  for (long i = 0; i < actors; i++)
    px_send(refs[i], px_atom_of("go"), px_nil());
  long bad = bench_collect("ts_durable", actors);
  double secs = (double)(px_now_ns() - t0) / 1e9;
  px_store_stats st;
  px_store_get_stats(store, &st);
  px_space_close(g_space);
  px_runtime_stop();
  px_space_set_store(NULL);
  px_store_close(store);
  free(refs);
  if (bad) bench_fail("ts_durable", "writes failed");

  double batched = bench_raw_sqlite_rate(dir, bench_scaled(100000), 100000);
  double per_row = bench_raw_sqlite_rate(dir, bench_scaled(2000), 1);
  bench_remove_dir(dir);

  double rate = (double)total / secs;
  char extra[512];
  snprintf(extra, sizeof extra,
           "\"actors\":%ld,\"writes\":%ld,\"seconds\":%.4f,"
           "\"commits\":%llu,\"writes_per_commit\":%.1f,"
           "\"raw_sqlite_batched_rows_per_s\":%.0f,"
           "\"raw_sqlite_fsync_per_row_rows_per_s\":%.0f,"
           "\"ratio_to_raw_batched\":%.3f,\"ratio_to_fsync_per_row\":%.1f",
           actors, total, secs, (unsigned long long)st.commits,
           st.commits ? (double)total / (double)st.commits : 0.0, batched,
           per_row, rate / batched, rate / per_row);
  bench_report("ts_durable", rate, "writes/s", extra);
  return 0;
}
