/* fork_join: spawn N actors that exit at once, wait until all are gone.
 * idle_memory: spawn N actors that wait for a message; bytes per actor from
 * the resident-set growth. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static px_atom A_START, A_DONE;

static int quitter_init(px_val args, void **state) {
  (void)args;
  (void)state;
  px_exit_self(px_atomv(px_a()->normal));
  return 0;
}

static void nop_handle(void *state, const px_message *m) {
  (void)state;
  (void)m;
}

static const px_actor_type quitter_t = {"quitter", 0, quitter_init,
                                        nop_handle, NULL};

typedef struct spawner {
  px_ref main;
  int64_t n;
} spawner;

static int spawner_init(px_val args, void **state) {
  spawner *s = calloc(1, sizeof *s);
  px_val_ref(px_at(args, 0), &s->main);
  s->n = px_at(args, 1).u.i;
  *state = s;
  return 0;
}

static void spawner_handle(void *state, const px_message *m) {
  spawner *s = state;
  if (m->type != A_START) return;
  for (int64_t i = 0; i < s->n; i++)
    if (px_spawn(&quitter_t, px_nil(), NULL, NULL) != 0)
      bench_fail("fork_join", "spawn failed");
  px_send(s->main, A_DONE, px_nil());
  px_exit_self(px_atomv(px_a()->normal));
}

static void spawner_free(void *state, px_val reason) { free(state); }

static const px_actor_type spawner_t = {"spawner", 0, spawner_init,
                                        spawner_handle, spawner_free};

int bench_fork_join(void) {
  A_START = px_atom_of("start");
  A_DONE = px_atom_of("done");
  long n = bench_scaled(1000000);
  bench_start_runtime();
  px_ref sp;
  px_spawn(&spawner_t, px_arr(2, px_ref_val(px_self()), px_int(n)), NULL, &sp);
  uint64_t t0 = px_now_ns();
  px_send(sp, A_START, px_nil());
  if (px_runtime_wait_empty(600000) != 0) bench_fail("fork_join", "timeout");
  double s = (double)(px_now_ns() - t0) / 1e9;
  px_message *m;
  if (px_receive(NULL, NULL, 1000, &m) != 0) bench_fail("fork_join", "no done");
  px_message_free(m);
  px_type_stats st[8];
  size_t nt = px_stats_types(st, 8);
  uint64_t spawned = 0;
  for (size_t i = 0; i < nt && i < 8; i++)
    if (strcmp(st[i].type, "quitter") == 0) spawned = st[i].exits_normal;
  px_runtime_stop();
  if (spawned != (uint64_t)n) bench_fail("fork_join", "exit count mismatch");
  char extra[96];
  snprintf(extra, sizeof extra, "\"actors\":%ld,\"seconds\":%.4f", n, s);
  bench_report("fork_join", (double)n / s, "actors/s", extra);
  return 0;
}

static long rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, rss = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    fclose(f);
  }
  return rss * sysconf(_SC_PAGESIZE);
}

static const px_actor_type idler_t = {"idler", 0, NULL, nop_handle, NULL};

int bench_idle_memory(void) {
  long n = bench_scaled(1000000);
  bench_start_runtime();
  /* Warm the runtime (pools, first table chunk) before the baseline. */
  px_ref r;
  px_spawn(&idler_t, px_nil(), NULL, &r);
  px_exit(r, px_atomv(px_a()->kill));
  px_runtime_wait_empty(10000);
  long before = rss_bytes();
  for (long i = 0; i < n; i++)
    if (px_spawn(&idler_t, px_nil(), NULL, NULL) != 0)
      bench_fail("idle_memory", "spawn failed");
  /* Every actor has run init and parked (gone idle): ask the last one. */
  px_ref last;
  px_spawn(&idler_t, px_nil(), NULL, &last);
  px_val v;
  px_ask(last, px_atom_of("ping"), px_nil(), 0, &v); /* times out: ok */
  if (px_actors_count() != (size_t)n + 1) bench_fail("idle_memory", "count");
  long after = rss_bytes();
  px_runtime_stop();
  double per = (double)(after - before) / (double)n;
  char extra[96];
  snprintf(extra, sizeof extra, "\"actors\":%ld,\"rss_delta\":%ld", n,
           after - before);
  bench_report("idle_memory", per, "bytes", extra);
  return 0;
}

/* idle_cpu: an idle node (1,000 parked actors, one pending long timer)
 * must stay under 1% of a core: workers park on a futex after a short
 * spin and the timer thread sleeps until its next due time. Reports the
 * process CPU time over a 2-second window, in percent of one core. */
#include <sys/resource.h>
#include <time.h>

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int bench_idle_cpu(void) {
  bench_start_runtime();
  px_ref last = px_ref_nil();
  for (int i = 0; i < 1000; i++) px_spawn(&idler_t, px_nil(), NULL, &last);
  px_send_after(3600 * 1000, last, px_atom_of("later"), px_nil());
  px_val v;
  px_ask(last, px_atom_of("ping"), px_nil(), 0, &v); /* all started */
  double c0 = cpu_seconds();
  uint64_t t0 = px_now_ns();
  struct timespec ts = {2, 0};
  nanosleep(&ts, NULL); /* the measurement window, not synchronisation */
  double pct = (cpu_seconds() - c0) / ((double)(px_now_ns() - t0) / 1e9) * 100;
  px_runtime_stop();
  char extra[64];
  snprintf(extra, sizeof extra, "\"actors\":1000,\"window_s\":2");
  bench_report("idle_cpu", pct, "%cpu", extra);
  return 0;
}
