/* kill -9 in the middle of a load, many times: every apply acknowledged to
 * a caller must be there after reopening (puts present, deletes gone).
 * A child process runs 4 threads that apply in a loop and report each
 * acknowledged op on a pipe; the parent kills it at a random moment. */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "../../unit/store/store_test_util.h"

#define ROUNDS 25
#define THREADS 4

static px_store *c_store;
static int c_pipe;
static int c_round;

/* An ack is one int64 on the pipe: +id put, -id deleted. Writes of 8 bytes
 * to a pipe are atomic. */
static void ack(int64_t v) {
  if (write(c_pipe, &v, sizeof v) != sizeof v) _exit(3);
}

static void *child_thread(void *p) {
  int t = (int)(intptr_t)p;
  int64_t base = ((int64_t)c_round * THREADS + t) * 10000000;
  for (int64_t i = 1;; i++) {
    int64_t id = base + i;
    px_val v = px_arr(2, px_int(id), px_str("payload"));
    px_store_op op = put_op("crash/ns/s", (uint64_t)id, v, id);
    if (px_store_apply(c_store, &op, 1) != 0) _exit(4);
    px_val_release(v);
    ack(id);
    if (i % 3 == 0) { /* take an earlier one back */
      px_store_op del = del_op("crash/ns/s", (uint64_t)(id - 1));
      if (px_store_apply(c_store, &del, 1) != 0) _exit(5);
      ack(-(id - 1));
    }
  }
  return NULL;
}

static _Noreturn void child_main(const char *dir) {
  char err[512];
  if (px_store_open_sqlite(dir, NULL, &c_store, err, sizeof err) != 0) _exit(2);
  pthread_t th[THREADS];
  for (int t = 0; t < THREADS; t++)
    pthread_create(&th[t], NULL, child_thread, (void *)(intptr_t)t);
  for (;;) pause();
}

typedef struct seen {
  size_t n, cap;
  int64_t *v;
} seen;

static int cmp64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

Test(store_crash, acknowledged_applies_survive_kill9, .timeout = 110) {
  char *d = tmpdir_new();
  seen acked = {0};
  srand((unsigned)getpid());
  uint64_t total_put = 0;
  for (c_round = 0; c_round < ROUNDS; c_round++) {
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
      close(p[0]);
      c_pipe = p[1];
      child_main(d);
    }
    close(p[1]);
    usleep((useconds_t)(20000 + rand() % 80000));
    kill(pid, SIGKILL);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status), "child exited by itself (status %d)",
              WEXITSTATUS(status));
    int64_t v;
    ssize_t r;
    while ((r = read(p[0], &v, sizeof v)) == sizeof v) {
      if (acked.n == acked.cap) {
        acked.cap = acked.cap ? acked.cap * 2 : 4096;
        acked.v = realloc(acked.v, acked.cap * sizeof *acked.v);
      }
      acked.v[acked.n++] = v;
    }
    close(p[0]);

    /* reopen: the lock died with the child; check every ack so far */
    px_store *s = store_open(d, NULL);
    collected c = scan_all(s, "crash/ns/s");
    px_store_close(s);
    uint64_t *ids = c.ids; /* sorted ascending by the scan */
    for (size_t i = 0; i < c.n; i++)
      cr_assert_eq(c.exp[i], (int64_t)ids[i], "expiry kept");
    int64_t *sorted = malloc((acked.n + 1) * sizeof *sorted);
    if (acked.n) memcpy(sorted, acked.v, acked.n * sizeof *sorted);
    if (acked.n) qsort(sorted, acked.n, sizeof *sorted, cmp64);
    size_t puts = 0;
    for (size_t i = 0; i < acked.n; i++) {
      int64_t a = sorted[i];
      if (a > 0) {
        puts++;
        bool deleted = bsearch(&(int64_t){-a}, sorted, acked.n,
                               sizeof *sorted, cmp64) != NULL;
        bool present = bsearch(&(uint64_t){(uint64_t)a}, ids, c.n,
                               sizeof *ids, cmp64) != NULL;
        /* a delete issued but not acknowledged may or may not be applied */
        int64_t li = a % 10000000;
        bool in_flight_del =
            (li + 1) % 3 == 0 && bsearch(&(int64_t){a + 1}, sorted, acked.n,
                                         sizeof *sorted, cmp64) != NULL;
        if (!deleted && !in_flight_del)
          cr_assert(present, "round %d: acknowledged put %lld lost", c_round,
                    (long long)a);
      } else {
        bool present = bsearch(&(uint64_t){(uint64_t)-a}, ids, c.n,
                               sizeof *ids, cmp64) != NULL;
        cr_assert_not(present, "round %d: acknowledged delete %lld undone",
                      c_round, (long long)-a);
      }
    }
    total_put = puts;
    free(sorted);
    collected_free(&c);
  }
  cr_log_info("%d kills, %zu acknowledged ops (%llu puts) all durable",
              ROUNDS, acked.n, (unsigned long long)total_put);
  cr_assert_gt(total_put, (uint64_t)ROUNDS, "the children made progress");
  free(acked.v);
  tmpdir_free(d);
}
