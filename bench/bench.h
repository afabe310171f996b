/* Shared helpers of the px_bench workloads. */
#ifndef PX_BENCH_BENCH_H
#define PX_BENCH_BENCH_H

#include "plexspaces/px.h"

double bench_scale(void);
long bench_scaled(long n);
void bench_report(const char *name, double value, const char *unit,
                  const char *extra);
_Noreturn void bench_fail(const char *name, const char *why);
void bench_start_runtime(void);
/* Rows/s of prepared inserts into a fresh SQLite database in `dir` (WAL,
 * synchronous=FULL, the store's table and a tuple-sized value), with
 * `per_txn` rows per transaction: the baseline of the durable benchmarks. */
double bench_raw_sqlite_rate(const char *dir, long rows, long per_txn);
/* A new temp directory for benchmark `bench` (malloc'd); removed with its
 * contents and freed by bench_remove_dir. */
char *bench_temp_dir(const char *bench);
void bench_remove_dir(char *dir);
/* Actors from the environment variable (default 64) and the writes each
 * makes so that together they make about `total`. */
long bench_split(const char *actors_env, long total, long *per_actor);
/* Receives the "done" of n actors (payload: their count of failures)
 * within 10 minutes, and returns the failures summed. */
long bench_collect(const char *bench, long n);

int bench_ping_pong(void);
int bench_thread_ring(void);
int bench_counting(void);
int bench_fork_join(void);
int bench_big(void);
int bench_ask_latency(void);
int bench_idle_memory(void);
int bench_idle_cpu(void);
int bench_ts_pairs(void);
int bench_ts_contended(void);
int bench_ts_handoff(void);
int bench_ts_match(void);
int bench_ts_durable(void);
int bench_store_commit(void);
int bench_dur_append(void);
int bench_dur_step(void);
int bench_dur_actor(void);
int bench_dur_activate(void);

#endif
