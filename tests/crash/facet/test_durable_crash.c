/* kill -9 of a node running durable actors, many times (issue 4,
 * Durability facet): every acknowledged increment is in the state after
 * the restart, none is applied twice, and the side effect each increment
 * makes (a random draw) is the one acknowledged: replay serves it from the
 * journal instead of drawing again.
 *
 * Each round forks a child that runs the runtime with a store and COUNTERS
 * durable counters (checkpoint every few messages, so restarts go through
 * snapshots, truncation and replays). The child first reports every
 * counter's state as restored from the store, then one driver actor per
 * counter asks it to apply numbered increments 1, 2, 3, ... and reports
 * each acknowledged one on a pipe. A counter flags an increment that is
 * not the next number (a duplicate or a gap). The parent kills the child
 * with SIGKILL after a random number of acknowledgements, and checks the
 * next child's report against everything acknowledged so far. */
#include <criterion/criterion.h>
#include <ftw.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/tmpdir.h"
#include "plexspaces/px.h"

#define ROUNDS 40
#define COUNTERS 4

enum { R_STATE = 1, R_ACK = 2, R_RING = 3 };
#define RING 16 /* draws of the last increments kept in the state */

/* One pipe record (well under PIPE_BUF, so writes are atomic). */
typedef struct rec {
  int32_t kind, k;
  int64_t a, b, c;
} rec;

static int c_pipe;
static px_ref c_counters[COUNTERS];

static void report(int32_t kind, int32_t k, int64_t a, int64_t b, int64_t c) {
  rec r = {kind, k, a, b, c};
  if (write(c_pipe, &r, sizeof r) != sizeof r) _exit(3);
}

/* ---- the durable counter ------------------------------------------------- */

typedef struct ctr {
  int64_t last, count, bad;
  int64_t ring[RING]; /* the draw of increment i at i % RING */
} ctr;

static int draw(void *ud, px_val *out) {
  (void)ud;
  *out = px_int(random() & 0x7fffffff);
  return 0;
}

static int ctr_init(px_val args, void **state) {
  (void)args;
  *state = calloc(1, sizeof(ctr));
  return 0;
}

static void ctr_handle(void *st, const px_message *m) {
  ctr *c = st;
  if (m->type == px_atom_of("add")) {
    px_val v;
    if (px_side_effect("draw", draw, NULL, &v) != 0) _exit(6);
    if (m->payload.u.i == c->last + 1) {
      c->last++;
      c->count++;
      c->ring[c->last % RING] = v.u.i;
    } else {
      c->bad++; /* a duplicate or a gap */
    }
    px_reply(m, px_arr(2, px_int(c->last), v));
  } else if (m->type == px_atom_of("get")) {
    px_val ring = px_array_new(RING);
    for (int i = 0; i < RING; i++) px_array_push(&ring, px_int(c->ring[i]));
    px_reply(m, px_arr(4, px_int(c->last), px_int(c->count), px_int(c->bad),
                       ring));
  }
}

static void ctr_terminate(void *st, px_val reason) {
  (void)reason;
  free(st);
}

static const px_actor_type ctr_t = {"crash_counter", 0, ctr_init, ctr_handle,
                                    ctr_terminate};

static px_val ctr_encode(const void *st) {
  const ctr *c = st;
  px_val ring = px_array_new(RING);
  for (int i = 0; i < RING; i++) px_array_push(&ring, px_int(c->ring[i]));
  return px_arr(4, px_int(c->last), px_int(c->count), px_int(c->bad), ring);
}

static int ctr_decode(px_val v, void *st) {
  ctr *c = st;
  if (px_typeof(v) != PX_T_ARRAY || px_len(v) != 4 ||
      px_len(px_at(v, 3)) != RING)
    return PX_EDECODE;
  c->last = px_at(v, 0).u.i;
  c->count = px_at(v, 1).u.i;
  c->bad = px_at(v, 2).u.i;
  for (int i = 0; i < RING; i++) c->ring[i] = px_at(px_at(v, 3), i).u.i;
  return 0;
}

/* ---- the child ----------------------------------------------------------- */

static void driver_handle(void *st, const px_message *m) {
  (void)st;
  int k = (int)px_at(m->payload, 0).u.i;
  for (int64_t i = px_at(m->payload, 1).u.i;; i++) {
    px_val v;
    if (px_ask(c_counters[k], px_atom_of("add"), px_int(i), -1, &v) != 0)
      _exit(4);
    report(R_ACK, k, i, px_at(v, 1).u.i, 0);
    px_val_release(v);
  }
}

static const px_actor_type driver_t = {"crash_driver", 0, NULL, driver_handle,
                                       NULL};

static _Noreturn void child_main(const char *dir, int every) {
  srandom((unsigned)getpid()); /* a re-run draw differs from the record */
  px_runtime_opts ro = {.workers = 2};
  if (px_runtime_start(&ro) != 0) _exit(2);
  px_store_opts so = {.sync = PX_STORE_SYNC_NORMAL}; /* kill -9 loses none */
  px_store *st;
  char err[512];
  if (px_store_open_sqlite(dir, &so, &st, err, sizeof err) != 0) _exit(2);
  px_durable_opts d = {.store = st,
                       .checkpoint_every = (uint32_t)every,
                       .encode = ctr_encode,
                       .decode = ctr_decode};
  for (int k = 0; k < COUNTERS; k++) {
    char id[64];
    snprintf(id, sizeof id, "crash/ns/counter/%d", k);
    if (px_spawn_durable(&ctr_t, px_nil(), id, &d, NULL, &c_counters[k]))
      _exit(2);
  }
  int64_t next[COUNTERS];
  for (int k = 0; k < COUNTERS; k++) {
    px_val v;
    if (px_ask(c_counters[k], px_atom_of("get"), px_nil(), 30000, &v)) _exit(5);
    int64_t last = px_at(v, 0).u.i;
    for (int64_t j = last - RING + 1; j <= last; j++) /* then the state */
      if (j >= 1) report(R_RING, k, j, px_at(px_at(v, 3), j % RING).u.i, 0);
    report(R_STATE, k, last, px_at(v, 1).u.i, px_at(v, 2).u.i);
    next[k] = last + 1;
    px_val_release(v);
  }
  for (int k = 0; k < COUNTERS; k++) {
    px_ref r;
    if (px_spawn(&driver_t, px_nil(), NULL, &r)) _exit(2);
    px_send(r, px_atom_of("go"), px_arr(2, px_int(k), px_int(next[k])));
  }
  for (;;) pause();
}

/* ---- the parent ---------------------------------------------------------- */

static void note_draw(int64_t **d, size_t *cap, int64_t i, int64_t v) {
  if ((size_t)i >= *cap) {
    size_t n = *cap ? *cap * 2 : 1024;
    while (n <= (size_t)i) n *= 2;
    *d = realloc(*d, n * sizeof **d);
    for (size_t j = *cap; j < n; j++) (*d)[j] = -1; /* unknown: unacked */
    *cap = n;
  }
  (*d)[i] = v;
}

static bool read_rec(int fd, rec *r) {
  size_t got = 0;
  while (got < sizeof *r) {
    ssize_t n = read(fd, (char *)r + got, sizeof *r - got);
    if (n <= 0) return false;
    got += (size_t)n;
  }
  return true;
}

Test(durable_crash, acknowledged_increments_survive_kill9, .timeout = 110) {
  char *dir = tmpdir_new();
  srand((unsigned)getpid());
  int64_t acked[COUNTERS] = {0};
  int64_t total_acked = 0, replayed_beyond = 0, draws_checked = 0;
  /* The acknowledged draw of every increment, per counter (index i). */
  int64_t *draws[COUNTERS] = {0};
  size_t cap[COUNTERS] = {0};
  for (int round = 0; round <= ROUNDS; round++) {
    int p[2];
    cr_assert_eq(pipe(p), 0);
    int every = 1 + rand() % 12;
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
      close(p[0]);
      c_pipe = p[1];
      child_main(dir, every);
    }
    close(p[1]);
    /* The restored states come first: check them. */
    for (int i = 0; i < COUNTERS; i++) {
      rec r;
      cr_assert(read_rec(p[0], &r), "round %d: child died before its report",
                round);
      while (r.kind == R_RING) {
        /* A draw an acknowledged increment got is what the state holds. */
        if ((size_t)r.a < cap[r.k] && draws[r.k][r.a] >= 0) {
          cr_assert_eq(r.b, draws[r.k][r.a],
                       "round %d counter %d increment %lld: draw %lld, "
                       "acknowledged %lld (the effect ran again?)",
                       round, r.k, (long long)r.a, (long long)r.b,
                       (long long)draws[r.k][r.a]);
          draws_checked++;
        }
        cr_assert(read_rec(p[0], &r), "round %d: child died", round);
      }
      cr_assert_eq(r.kind, R_STATE);
      cr_assert_geq(r.a, acked[r.k],
                    "round %d counter %d: acknowledged %lld, restored %lld",
                    round, r.k, (long long)acked[r.k], (long long)r.a);
      cr_assert_eq(r.b, r.a, "round %d counter %d: applied %lld for last %lld",
                   round, r.k, (long long)r.b, (long long)r.a);
      cr_assert_eq(r.c, 0, "round %d counter %d: %lld out-of-order increments",
                   round, r.k, (long long)r.c);
      replayed_beyond += r.a - acked[r.k]; /* journaled, never acked */
      acked[r.k] = r.a;
    }
    /* Then acks, until a random count: kill -9. */
    int kill_after = round == ROUNDS ? 0 : 5 + rand() % 150;
    for (int i = 0; i < kill_after; i++) {
      rec r;
      cr_assert(read_rec(p[0], &r), "round %d: child died", round);
      cr_assert_eq(r.kind, R_ACK);
      cr_assert_eq(r.a, acked[r.k] + 1, "acks of a counter come in order");
      acked[r.k] = r.a;
      note_draw(&draws[r.k], &cap[r.k], r.a, r.b);
      total_acked++;
    }
    kill(pid, SIGKILL);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status), "child exited by itself (status %d)",
              WEXITSTATUS(status));
    rec r; /* acks written before it died count as acknowledged */
    while (read_rec(p[0], &r)) {
      cr_assert_eq(r.kind, R_ACK);
      cr_assert_eq(r.a, acked[r.k] + 1);
      acked[r.k] = r.a;
      note_draw(&draws[r.k], &cap[r.k], r.a, r.b);
      total_acked++;
    }
    close(p[0]);
  }
  cr_assert_gt(total_acked, ROUNDS * 5);
  cr_assert_gt(draws_checked, ROUNDS * COUNTERS);
  cr_log_info("%lld increments acknowledged over %d kills; %lld journaled "
              "but unacknowledged ones were kept; %lld recorded draws "
              "checked",
              (long long)total_acked, ROUNDS, (long long)replayed_beyond,
              (long long)draws_checked);
  for (int k = 0; k < COUNTERS; k++) free(draws[k]);
  tmpdir_free(dir);
}
