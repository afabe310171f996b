/* The Redis baseline of the tuple-space benchmarks (bench/run ts_*): the
 * same coordination patterns on Redis lists over loopback, with hiredis.
 * It starts its own redis-server (no persistence) on a free loopback port,
 * runs one workload, prints one JSON line like px_bench, and stops the
 * server.
 *
 *   ts_pairs      one writer (LPUSH) and one taker (BRPOP) thread, N pairs
 *   ts_contended  8 writer/taker pairs over 1,000 lists; each pair walks
 *                 its 125 lists in the same order (blocking pops)
 *   ts_handoff    a taker blocked in BRPOP; the writer pushes a timestamp;
 *                 latency from push to the taker waking (p50, p99)
 * BENCH_SCALE scales N like px_bench. Each workload checks its counts. */
#include <hiredis/hiredis.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int port;
static pid_t server;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static long scaled(long n) {
  const char *s = getenv("BENCH_SCALE");
  double f = s ? atof(s) : 1.0;
  long v = (long)((double)n * (f > 0 ? f : 1.0) + 0.5);
  return v > 0 ? v : 1;
}

static _Noreturn void die(const char *what) {
  fprintf(stderr, "redis_bench: %s\n", what);
  if (server > 0) kill(server, SIGTERM);
  exit(1);
}

static redisContext *conn(void) {
  redisContext *c = redisConnect("127.0.0.1", port);
  if (!c || c->err) return NULL;
  return c;
}

static void start_server(void) {
  port = 20000 + (int)(getpid() % 20000);
  char p[16];
  snprintf(p, sizeof p, "%d", port);
  server = fork();
  if (server == 0) {
    /* Keep our stdout for the JSON result line. */
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) {
      dup2(devnull, 1);
      dup2(devnull, 2);
    }
    execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1",
           "--save", "", "--appendonly", "no", "--loglevel", "warning",
           (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 500; i++) { /* up to 5 s for it to listen */
    redisContext *c = conn();
    if (c) {
      redisFree(c);
      return;
    }
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
  }
  die("redis-server did not start");
}

static void stop_server(void) {
  kill(server, SIGTERM);
  waitpid(server, NULL, 0);
}

static void cmd_ok(redisContext *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  redisReply *r = redisvCommand(c, fmt, ap);
  va_end(ap);
  if (!r || r->type == REDIS_REPLY_ERROR) die("command failed");
  freeReplyObject(r);
}

/* ---- ts_pairs -------------------------------------------------------------- */

static long n_pairs;

static void *pair_taker(void *arg) {
  (void)arg;
  redisContext *c = conn();
  if (!c) die("connect");
  for (long i = 0; i < n_pairs; i++) {
    redisReply *r = redisCommand(c, "BRPOP q 0");
    if (!r || r->type != REDIS_REPLY_ARRAY) die("BRPOP");
    freeReplyObject(r);
  }
  redisFree(c);
  return NULL;
}

static void ts_pairs(void) {
  n_pairs = scaled(200000);
  redisContext *w = conn();
  if (!w) die("connect");
  pthread_t t;
  uint64_t t0 = now_ns();
  pthread_create(&t, NULL, pair_taker, NULL);
  for (long i = 0; i < n_pairs; i++) cmd_ok(w, "LPUSH q %ld", i);
  pthread_join(t, NULL);
  double s = (double)(now_ns() - t0) / 1e9;
  redisReply *r = redisCommand(w, "LLEN q");
  if (!r || r->integer != 0) die("ts_pairs: items left over");
  freeReplyObject(r);
  redisFree(w);
  printf("{\"bench\":\"ts_pairs\",\"impl\":\"redis\",\"value\":%.1f,"
         "\"unit\":\"pairs/s\",\"pairs\":%ld}\n",
         (double)n_pairs / s, n_pairs);
}

/* ---- ts_contended ---------------------------------------------------------- *
 * Writer w and taker w share 125 of the 1,000 lists and walk them in the
 * same order (item i goes to list w*125 + i%125); the taker BRPOPs each one
 * in turn, so every pop blocks on one exact list, as the plexspaces side
 * takes on one exact template. */

#define PAIRS 8
#define LISTS 1000

static long per_pair;

static void *cont_writer(void *arg) {
  long w = (long)(intptr_t)arg;
  redisContext *c = conn();
  if (!c) die("connect");
  for (long i = 0; i < per_pair; i++)
    cmd_ok(c, "LPUSH l%ld %ld", w * (LISTS / PAIRS) + i % (LISTS / PAIRS), i);
  redisFree(c);
  return NULL;
}

static void *cont_taker(void *arg) {
  long w = (long)(intptr_t)arg;
  redisContext *c = conn();
  if (!c) die("connect");
  for (long i = 0; i < per_pair; i++) {
    redisReply *r = redisCommand(c, "BRPOP l%ld 0",
                                 w * (LISTS / PAIRS) + i % (LISTS / PAIRS));
    if (!r || r->type != REDIS_REPLY_ARRAY) die("BRPOP");
    freeReplyObject(r);
  }
  redisFree(c);
  return NULL;
}

static void ts_contended(void) {
  per_pair = scaled(50000);
  pthread_t w[PAIRS], t[PAIRS];
  uint64_t t0 = now_ns();
  for (long i = 0; i < PAIRS; i++) {
    pthread_create(&t[i], NULL, cont_taker, (void *)(intptr_t)i);
    pthread_create(&w[i], NULL, cont_writer, (void *)(intptr_t)i);
  }
  for (int i = 0; i < PAIRS; i++) {
    pthread_join(w[i], NULL);
    pthread_join(t[i], NULL);
  }
  double s = (double)(now_ns() - t0) / 1e9;
  printf("{\"bench\":\"ts_contended\",\"impl\":\"redis\",\"value\":%.1f,"
         "\"unit\":\"pairs/s\",\"pairs\":%ld}\n",
         (double)(per_pair * PAIRS) / s, per_pair * PAIRS);
}

/* ---- ts_handoff ------------------------------------------------------------ */

static long n_hand;
static uint64_t *lat;
static volatile int taker_ready;

static void *hand_taker(void *arg) {
  (void)arg;
  redisContext *c = conn();
  if (!c) die("connect");
  for (long i = 0; i < n_hand; i++) {
    __atomic_store_n(&taker_ready, 1, __ATOMIC_RELEASE);
    redisReply *r = redisCommand(c, "BRPOP h 0");
    uint64_t t1 = now_ns();
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) die("BRPOP");
    uint64_t t0 = strtoull(r->element[1]->str, NULL, 10);
    lat[i] = t1 - t0;
    freeReplyObject(r);
  }
  redisFree(c);
  return NULL;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void ts_handoff(void) {
  n_hand = scaled(20000);
  lat = malloc(sizeof *lat * (size_t)n_hand);
  redisContext *w = conn();
  if (!w) die("connect");
  pthread_t t;
  pthread_create(&t, NULL, hand_taker, NULL);
  for (long i = 0; i < n_hand; i++) {
    /* Wait until the taker is (about to be) blocked, then give it time to
     * block, so each push measures a wake-up of a blocked taker. */
    while (!__atomic_load_n(&taker_ready, __ATOMIC_ACQUIRE)) sched_yield();
    __atomic_store_n(&taker_ready, 0, __ATOMIC_RELAXED);
    struct timespec ts = {0, 50000};
    nanosleep(&ts, NULL);
    cmd_ok(w, "LPUSH h %llu", (unsigned long long)now_ns());
  }
  pthread_join(t, NULL);
  redisFree(w);
  qsort(lat, (size_t)n_hand, sizeof *lat, cmp_u64);
  printf("{\"bench\":\"ts_handoff\",\"impl\":\"redis\",\"value\":%llu,"
         "\"unit\":\"ns\",\"p99\":%llu,\"handoffs\":%ld}\n",
         (unsigned long long)lat[n_hand / 2],
         (unsigned long long)lat[(size_t)((double)n_hand * 0.99)], n_hand);
  free(lat);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: redis_bench ts_pairs|ts_contended|ts_handoff\n");
    return 2;
  }
  void (*run)(void) = NULL;
  if (strcmp(argv[1], "ts_pairs") == 0) run = ts_pairs;
  if (strcmp(argv[1], "ts_contended") == 0) run = ts_contended;
  if (strcmp(argv[1], "ts_handoff") == 0) run = ts_handoff;
  if (!run) {
    fprintf(stderr, "redis_bench: unknown workload %s\n", argv[1]);
    return 2;
  }
  start_server();
  run();
  fflush(stdout);
  stop_server();
  return 0;
}
