/* px_bench: plexspaces' side of bench/run. `px_bench NAME` runs one
 * Savina-style workload and prints one JSON line:
 *   {"bench":NAME,"impl":"plexspaces","value":X,"unit":U, ...}
 * Parameters match bench/README.md and the Erlang and CAF baselines; the
 * environment variable BENCH_SCALE (default 1) scales the message counts
 * for quick runs. Each workload verifies its own result and exits non-zero
 * on a mismatch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static const struct {
  const char *name;
  int (*run)(void);
} benches[] = {
    {"ping_pong", bench_ping_pong},     {"thread_ring", bench_thread_ring},
    {"counting", bench_counting},       {"fork_join", bench_fork_join},
    {"big", bench_big},                 {"ask_latency", bench_ask_latency},
    {"idle_memory", bench_idle_memory}, {"idle_cpu", bench_idle_cpu},
    {"ts_pairs", bench_ts_pairs},       {"ts_contended", bench_ts_contended},
    {"ts_handoff", bench_ts_handoff},   {"ts_match", bench_ts_match},
    {"ts_durable", bench_ts_durable},
    {"store_commit", bench_store_commit},
    {"dur_append", bench_dur_append},
    {"dur_step", bench_dur_step},
    {"dur_actor", bench_dur_actor},
    {"dur_activate", bench_dur_activate},
};

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: px_bench NAME...\nnames:");
    for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++)
      fprintf(stderr, " %s", benches[i].name);
    fprintf(stderr, "\n");
    return 2;
  }
  int rc = 0;
  for (int a = 1; a < argc; a++) {
    size_t i;
    for (i = 0; i < sizeof benches / sizeof benches[0]; i++)
      if (strcmp(argv[a], benches[i].name) == 0) break;
    if (i == sizeof benches / sizeof benches[0]) {
      fprintf(stderr, "px_bench: unknown benchmark %s\n", argv[a]);
      return 2;
    }
    rc |= benches[i].run();
  }
  return rc;
}
