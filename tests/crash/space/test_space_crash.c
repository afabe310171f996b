/* kill -9 of a node running a durable tuple space, many times (issue 3,
 * Durability): every acknowledged write that was not taken is there after
 * restart, every acknowledged take is gone, leases keep their absolute
 * expiry, and a tuple whose lease ran out while the node was down is gone.
 *
 * Each round forks a writer child that runs the runtime with a durable
 * space and ACTORS actors that write (no lease, a 1 h lease or a 30 ms
 * lease) and take their own oldest unleased tuple, reporting every
 * acknowledged write and take on a pipe; the parent kills it with SIGKILL
 * at a random moment, waits until every short lease has passed, then forks
 * a checker child that reopens the space (the node restart) and reports
 * everything it holds; the parent checks that against the acks, and the
 * stored expiries against the earlier rounds. */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "../../unit/store/store_test_util.h"
#include "plexspaces/space.h"

#define ROUNDS 60
#define ACTORS 4
#define PER 1000000 /* keys per actor and round */
#define LONG_TTL 3600000
#define SHORT_TTL 30
#define SPACE_KEY "crash/ns/sp"

enum { C_K = 0, C_L = 1, C_S = 2, C_TAKE = 3 };

static int c_pipe;
static int c_round;
static px_space *c_sp;

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* An ack is one int64: key * 4 + code (8-byte pipe writes are atomic). */
static void ack(int64_t key, int code) {
  int64_t v = key * 4 + code;
  if (write(c_pipe, &v, sizeof v) != sizeof v) _exit(3);
}

static const char *tag_of(int code) {
  return code == C_L ? "L" : code == C_S ? "S" : "k";
}

static void crasher_handle(void *st, const px_message *m) {
  (void)st;
  int64_t base = m->payload.u.i;
  for (int64_t i = 1;; i++) {
    int64_t key = base + i;
    int code = i % 5 == 0 ? C_L : i % 7 == 0 ? C_S : C_K;
    int64_t ttl = code == C_L ? LONG_TTL : code == C_S ? SHORT_TTL : 0;
    if (px_ts_write(c_sp, px_arr(2, px_str(tag_of(code)), px_int(key)), ttl,
                    NULL) != 0)
      _exit(4);
    ack(key, code);
    if (i % 3 == 0) { /* take this actor's oldest unleased tuple */
      px_val t = px_arr(2, px_str("k"),
                        px_map(1, px_str("$range"),
                               px_arr(2, px_int(base), px_int(base + PER - 1))));
      px_val got;
      if (px_ts_take(c_sp, t, 0, &got) != 0) _exit(5);
      ack(px_at(got, 1).u.i, C_TAKE);
      px_val_release(got);
    }
  }
}

static const px_actor_type crasher_t = {"crasher", 0, NULL, crasher_handle,
                                        NULL};

static px_store *child_open(const char *dir) {
  px_runtime_opts o = {.workers = 2};
  if (px_runtime_start(&o) != 0) _exit(2);
  char err[512];
  px_store *st;
  if (px_store_open_sqlite(dir, NULL, &st, err, sizeof err) != 0) _exit(2);
  px_space_set_store(st);
  if (px_space_open("crash", "ns", "sp", PX_SPACE_DURABLE, &c_sp) != 0)
    _exit(2);
  return st;
}

static _Noreturn void writer_main(const char *dir) {
  child_open(dir);
  for (int a = 0; a < ACTORS; a++) {
    px_ref r;
    if (px_spawn(&crasher_t, px_nil(), NULL, &r) != 0) _exit(2);
    px_send(r, px_atom_of("go"),
            px_int(((int64_t)c_round * ACTORS + a) * PER));
  }
  for (;;) pause();
}

/* The restarted node: reports every tuple the reopened space holds. */
static _Noreturn void checker_main(const char *dir) {
  px_store *st = child_open(dir);
  px_val all;
  if (px_ts_read_all(c_sp, px_arr(2, px_nil(), px_nil()), 0, &all) != 0)
    _exit(6);
  for (size_t i = 0; i < px_len(all); i++) {
    px_val t = px_at(all, i);
    const char *tag = px_str_ptr(px_at(t, 0));
    int code = tag[0] == 'L' ? C_L : tag[0] == 'S' ? C_S : C_K;
    ack(px_at(t, 1).u.i, code);
  }
  px_val_release(all);
  px_space_close(c_sp);
  px_runtime_stop();
  px_space_set_store(NULL);
  px_store_close(st);
  _exit(0);
}

typedef struct vec {
  size_t n, cap;
  int64_t *v;
} vec;

static void push(vec *a, int64_t x) {
  if (a->n == a->cap) {
    a->cap = a->cap ? a->cap * 2 : 4096;
    a->v = realloc(a->v, a->cap * sizeof *a->v);
  }
  a->v[a->n++] = x;
}

static int cmp64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static bool has(const vec *a, int64_t x) {
  return a->n && bsearch(&x, a->v, a->n, sizeof x, cmp64) != NULL;
}

static void drain(int fd, vec *out) {
  int64_t v;
  while (read(fd, &v, sizeof v) == sizeof v) push(out, v);
  close(fd);
}

static pid_t fork_child(int *rfd, const char *dir, bool checker) {
  int p[2];
  cr_assert_eq(pipe(p), 0);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    close(p[0]);
    c_pipe = p[1];
    if (checker) checker_main(dir);
    writer_main(dir);
  }
  close(p[1]);
  *rfd = p[0];
  return pid;
}

/* A long lease's stored expiry, first seen (key -> expiry). */
typedef struct lease_seen {
  int64_t key, exp;
} lease_seen;

Test(space_crash, acknowledged_ops_survive_kill9, .timeout = 110) {
  char *d = tmpdir_new();
  srand((unsigned)getpid());
  vec writes = {0}, takes = {0}; /* keys*4+code, keys */
  lease_seen *ls = NULL;
  size_t nls = 0, cls = 0;
  size_t checked_present = 0, leases_checked = 0;
  for (c_round = 0; c_round < ROUNDS; c_round++) {
    uint64_t t_start = wall_ms();
    int fd;
    pid_t pid = fork_child(&fd, d, false);
    usleep((useconds_t)(30000 + rand() % 70000));
    kill(pid, SIGKILL);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status), "writer exited by itself (status %d)",
              WEXITSTATUS(status));
    uint64_t t_kill = wall_ms();
    vec acks = {0};
    drain(fd, &acks);
    for (size_t i = 0; i < acks.n; i++) {
      int64_t key = acks.v[i] / 4;
      int code = (int)(acks.v[i] % 4);
      if (code == C_TAKE) push(&takes, key);
      else push(&writes, acks.v[i]);
      if (code == C_L) { /* bounds of its absolute expiry */
        if (nls == cls) {
          cls = cls ? cls * 2 : 1024;
          ls = realloc(ls, cls * sizeof *ls);
        }
        ls[nls++] = (lease_seen){key, -1};
      }
    }
    free(acks.v);
    if (takes.n) qsort(takes.v, takes.n, sizeof *takes.v, cmp64);

    /* every short lease acknowledged has run out while the node is down */
    while (wall_ms() < t_kill + SHORT_TTL + 20) usleep(5000);

    pid = fork_child(&fd, d, true);
    vec held = {0};
    drain(fd, &held);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "checker failed (status %d)", status);
    if (held.n) qsort(held.v, held.n, sizeof *held.v, cmp64);

    /* an acknowledged take is gone; an expired lease is gone */
    for (size_t i = 0; i < held.n; i++) {
      int64_t key = held.v[i] / 4;
      int code = (int)(held.v[i] % 4);
      cr_assert_neq(code, C_S, "round %d: expired lease %lld still there",
                    c_round, (long long)key);
      if (code == C_K)
        cr_assert_not(has(&takes, key),
                      "round %d: acknowledged take of %lld undone", c_round,
                      (long long)key);
    }
    /* an acknowledged write not acknowledged-taken is there, except that
     * each actor's last take may have been in flight: it takes that
     * actor's oldest remaining unleased tuple */
    int64_t *sorted = malloc((writes.n + 1) * sizeof *sorted);
    if (writes.n) memcpy(sorted, writes.v, writes.n * sizeof *sorted);
    qsort(sorted, writes.n, sizeof *sorted, cmp64);
    int64_t cur_actor = -1;
    bool allowance = false;
    for (size_t i = 0; i < writes.n; i++) {
      int64_t key = sorted[i] / 4;
      int code = (int)(sorted[i] % 4);
      if (code == C_S) continue;
      if (key / PER != cur_actor) {
        cur_actor = key / PER;
        allowance = true;
      }
      if (code == C_K && has(&takes, key)) continue;
      bool present = has(&held, sorted[i]);
      if (code == C_K && allowance) {
        allowance = false; /* the oldest remaining one */
        if (!present) continue;
      }
      cr_assert(present, "round %d: acknowledged write %lld (%s) lost",
                c_round, (long long)key, tag_of(code));
      checked_present++;
    }
    free(sorted);

    /* the store itself: no short lease left, long leases keep their
     * absolute expiry across every restart */
    px_store *st = store_open(d, NULL);
    collected c = scan_all(st, SPACE_KEY);
    px_store_close(st);
    for (size_t i = 0; i < c.n; i++) {
      const char *tag = px_str_ptr(px_at(c.vals[i], 0));
      int64_t key = px_at(c.vals[i], 1).u.i;
      cr_assert_neq(tag[0], 'S', "expired row %lld not deleted at open",
                    (long long)key);
      if (tag[0] != 'L') {
        cr_assert_eq(c.exp[i], 0);
        continue;
      }
      for (size_t j = 0; j < nls; j++) {
        if (ls[j].key != key) continue;
        if (ls[j].exp < 0) {
          /* written during this round: expiry = write time + TTL */
          cr_assert_geq(c.exp[i], (int64_t)(t_start + LONG_TTL) - 1);
          cr_assert_leq(c.exp[i], (int64_t)(t_kill + LONG_TTL) + 1);
          ls[j].exp = c.exp[i];
        } else {
          cr_assert_eq(c.exp[i], ls[j].exp,
                       "round %d: lease %lld expiry moved", c_round,
                       (long long)key);
          leases_checked++;
        }
      }
    }
    collected_free(&c);
    free(held.v);
  }
  cr_log_info("%d kills: %zu acknowledged writes, %zu takes; %zu presence "
              "checks, %zu lease expiries re-checked",
              ROUNDS, writes.n, takes.n, checked_present, leases_checked);
  cr_assert_gt(takes.n, (size_t)ROUNDS, "the children made progress");
  cr_assert_gt(leases_checked, (size_t)0);
  free(writes.v);
  free(takes.v);
  free(ls);
  tmpdir_free(d);
}
