/* Durable execution (issue 4), on a px_store in a temporary directory
 * (synchronous=FULL), next to the raw SQLite batched insert rate measured
 * on the same disk in the same run:
 *  - dur_append: BENCH_DUR_ACTORS actors (default 64) each appending to
 *    its own journal stream, one px_store_apply per entry (the handler
 *    parks until the entry is durable; group commit shares the fsyncs),
 *    100,000 appends in all. Target: >= 30% of raw batched.
 *  - dur_step: BENCH_DUR_WORKFLOWS workflows (default 256) run in
 *    parallel, 100,000 px_step calls in all (a step's function is
 *    trivial: what is measured is journaling it). Target: >= 50k
 *    steps/s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "plexspaces/store.h"
#include "plexspaces/workflow.h"

static px_store *g_store;
static px_ref g_main;
static long g_per;

static int appender_init(px_val args, void **state) {
  *state = (void *)(intptr_t)args.u.i;
  return 0;
}

static void appender_handle(void *state, const px_message *m) {
  (void)m;
  char stream[64];
  snprintf(stream, sizeof stream, "bench/ns/actor/%ld",
           (long)(intptr_t)state);
  px_val entry = px_map(2, px_str("type"), px_str("deposit"), px_str("amount"),
                        px_int(42));
  long bad = 0;
  for (long i = 1; i <= g_per; i++) {
    px_store_op op = {.kind = PX_STORE_JOURNAL_APPEND, .space = stream,
                      .id = (uint64_t)i, .key = "msg", .value = entry};
    if (px_store_apply(g_store, &op, 1) != 0) bad++;
  }
  px_val_release(entry);
  px_send(g_main, px_atom_of("done"), px_int(bad));
  px_exit_self(px_atomv(px_a()->normal));
}

static const px_actor_type appender_t = {"dur_appender", 0, appender_init,
                                         appender_handle, NULL};

static px_store *open_store(const char *bench, char **dir) {
  *dir = bench_temp_dir(bench);
  char err[512];
  px_store *s;
  if (px_store_open_sqlite(*dir, NULL, &s, err, sizeof err) != 0)
    bench_fail(bench, err);
  return s;
}

/* Reports `name` with its rate next to raw batched SQLite in dir. */
static void report(const char *name, const char *unit, double rate,
                   long total, double secs, px_store_stats *st,
                   const char *dir, const char *more) {
  double batched = bench_raw_sqlite_rate(dir, bench_scaled(100000), 100000);
  char extra[768];
  snprintf(extra, sizeof extra,
           "\"total\":%ld,\"seconds\":%.4f,\"commits\":%llu,"
           "\"per_commit\":%.1f,\"raw_sqlite_batched_rows_per_s\":%.0f,"
           "\"ratio_to_raw_batched\":%.3f%s",
           total, secs, (unsigned long long)st->commits,
           st->commits ? (double)st->ops / (double)st->commits : 0.0, batched,
           rate / batched, more ? more : "");
  bench_report(name, rate, unit, extra);
}

int bench_dur_append(void) {
  long actors = bench_split("BENCH_DUR_ACTORS", bench_scaled(100000), &g_per);
  long total = actors * g_per;
  char *dir;
  g_store = open_store("dur_append", &dir);
  bench_start_runtime();
  g_main = px_self();
  px_ref *refs = malloc((size_t)actors * sizeof *refs);
  for (long i = 0; i < actors; i++)
    if (px_spawn(&appender_t, px_int(i), NULL, &refs[i]) != 0)
      bench_fail("dur_append", "spawn failed");
  uint64_t t0 = px_now_ns();
  for (long i = 0; i < actors; i++)
    px_send(refs[i], px_atom_of("go"), px_nil());
  long bad = bench_collect("dur_append", actors);
  double secs = (double)(px_now_ns() - t0) / 1e9;
  px_store_stats st;
  px_store_get_stats(g_store, &st);
  px_runtime_stop();
  px_store_close(g_store);
  free(refs);
  if (bad) bench_fail("dur_append", "appends failed");
  char more[64];
  snprintf(more, sizeof more, ",\"actors\":%ld", actors);
  report("dur_append", "appends/s", (double)total / secs, total, secs, &st,
         dir, more);
  bench_remove_dir(dir);
  return 0;
}

static int trivial_step(px_wf *wf, void *ud, px_val *out) {
  (void)wf;
  *out = px_int((int64_t)(intptr_t)ud);
  return 0;
}

static int steps_run(px_wf *wf, px_val input, px_val *result) {
  (void)input;
  int64_t sum = 0;
  for (long i = 0; i < g_per; i++) {
    px_val out = px_nil();
    int rc = px_step(wf, "s", trivial_step, (void *)(intptr_t)i, NULL, &out);
    if (rc) return rc;
    sum += out.u.i;
  }
  *result = px_int(sum);
  return 0;
}

static const px_workflow_type steps_t = {.name = "bench_steps",
                                         .run = steps_run};

int bench_dur_step(void) {
  long wfs = bench_split("BENCH_DUR_WORKFLOWS", bench_scaled(100000), &g_per);
  if (!getenv("BENCH_DUR_WORKFLOWS")) /* the default here is 256 */
    wfs = 256, g_per = bench_scaled(100000) / 256;
  if (g_per < 1) g_per = 1;
  long total = wfs * g_per;
  char *dir;
  g_store = open_store("dur_step", &dir);
  bench_start_runtime();
  if (px_workflow_register(&steps_t, g_store) != 0)
    bench_fail("dur_step", "register failed");
  uint64_t t0 = px_now_ns();
  char id[32];
  for (long i = 0; i < wfs; i++) {
    snprintf(id, sizeof id, "w%ld", i);
    if (px_workflow_start("bench_steps", id, px_nil(), NULL) != 0)
      bench_fail("dur_step", "start failed");
  }
  int64_t want = g_per * (g_per - 1) / 2;
  for (long i = 0; i < wfs; i++) {
    snprintf(id, sizeof id, "w%ld", i);
    px_wf_status s;
    px_val r = px_nil();
    if (px_workflow_wait(id, 600000, &s, &r) != 0 || s != PX_WF_COMPLETED ||
        r.type != PX_T_INT || r.u.i != want)
      bench_fail("dur_step", "a workflow did not complete right");
    px_val_release(r);
  }
  double secs = (double)(px_now_ns() - t0) / 1e9;
  px_store_stats st;
  px_store_get_stats(g_store, &st);
  px_runtime_stop();
  px_store_close(g_store);
  char more[64];
  snprintf(more, sizeof more, ",\"workflows\":%ld", wfs);
  report("dur_step", "steps/s", (double)total / secs, total, secs, &st, dir,
         more);
  bench_remove_dir(dir);
  return 0;
}
