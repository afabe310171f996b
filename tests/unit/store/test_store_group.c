/* Group commit with the runtime: handlers park on px_store_apply while the
 * writer commits, many callers share one commit; plain threads next to a
 * running runtime block instead. */
#include "store_test_util.h"

#define N_ACTORS 1000
#define N_APPLIES 20

static px_store *g_store;
static px_ref g_main;

typedef struct writer_state {
  int64_t idx;
} writer_state;

static int writer_init(px_val args, void **state) {
  writer_state *w = malloc(sizeof *w);
  w->idx = args.u.i;
  *state = w;
  return 0;
}

static void writer_handle(void *state, const px_message *m) {
  writer_state *w = state;
  int failures = 0;
  char space[64];
  snprintf(space, sizeof space, "t/ns/s%lld", (long long)(w->idx % 7));
  for (int i = 0; i < N_APPLIES; i++) {
    uint64_t id = (uint64_t)w->idx * N_APPLIES + (uint64_t)i + 1;
    px_val v = px_arr(2, px_int(w->idx), px_int(i));
    px_store_op op = put_op(space, id, v, 0);
    if (px_store_apply(g_store, &op, 1) != 0) failures++;
    px_val_release(v);
  }
  /* a failing apply from a handler reports its error */
  px_store_op bad = del_op(space, 999999999);
  if (px_store_apply(g_store, &bad, 1) != PX_ENOTFOUND) failures++;
  px_send(g_main, px_atom_of("done"), px_int(failures));
  px_exit_self(px_atomv(px_a()->normal));
}

static void writer_free(void *state, px_val reason) { free(state); }

static const px_actor_type writer_t = {"store_writer", 0, writer_init,
                                       writer_handle, writer_free};

Test(store_group, thousand_actors_share_commits, .timeout = 100) {
  char *d = tmpdir_new();
  g_store = store_open(d, NULL);
  px_runtime_opts o = {.workers = 2};
  cr_assert_eq(px_runtime_start(&o), 0);
  g_main = px_self();
  px_ref refs[N_ACTORS];
  for (int i = 0; i < N_ACTORS; i++)
    cr_assert_eq(px_spawn(&writer_t, px_int(i), NULL, &refs[i]), 0);
  for (int i = 0; i < N_ACTORS; i++)
    px_send(refs[i], px_atom_of("go"), px_nil());
  int failures = 0;
  for (int i = 0; i < N_ACTORS; i++) {
    px_message *m;
    cr_assert_eq(px_receive(NULL, NULL, 60000, &m), 0, "actor %d missing", i);
    failures += (int)m->payload.u.i;
    px_message_free(m);
  }
  cr_assert_eq(failures, 0);

  /* a plain thread next to the runtime blocks on the same store */
  px_val fm = px_str("from main");
  px_store_op op = put_op("t/ns/main", 1, fm, 0);
  cr_assert_eq(px_store_apply(g_store, &op, 1), 0);
  px_val_release(fm);
  px_runtime_stop();

  px_store_stats st;
  px_store_get_stats(g_store, &st);
  uint64_t callers = (uint64_t)N_ACTORS * (N_APPLIES + 1) + 1;
  cr_assert_eq(st.callers, callers);
  cr_assert_eq(st.ops, (uint64_t)N_ACTORS * N_APPLIES + 1);
  cr_log_info("group commit: %llu callers in %llu commits",
              (unsigned long long)st.callers, (unsigned long long)st.commits);
  cr_assert_lt(st.commits, callers / 4, "commits %llu for %llu callers",
               (unsigned long long)st.commits, (unsigned long long)callers);
  px_store_close(g_store);

  /* all durable: reopen and count */
  g_store = store_open(d, NULL);
  size_t total = 0;
  for (int k = 0; k < 7; k++) {
    char space[64];
    snprintf(space, sizeof space, "t/ns/s%d", k);
    collected c = scan_all(g_store, space);
    for (size_t i = 1; i < c.n; i++) cr_assert_lt(c.ids[i - 1], c.ids[i]);
    for (size_t i = 0; i < c.n; i++) {
      uint64_t id = c.ids[i] - 1;
      cr_assert_eq(px_at(c.vals[i], 0).u.i, (int64_t)(id / N_APPLIES));
      cr_assert_eq(px_at(c.vals[i], 1).u.i, (int64_t)(id % N_APPLIES));
    }
    total += c.n;
    collected_free(&c);
  }
  cr_assert_eq(total, (size_t)N_ACTORS * N_APPLIES);
  collected c = scan_all(g_store, "t/ns/main");
  cr_assert_eq(c.n, 1);
  collected_free(&c);
  px_store_close(g_store);
  tmpdir_free(d);
}

/* A store used with a runtime that is started after it and stopped before
 * it, then used again with none. */
Test(store_group, works_before_during_and_after_runtime) {
  char *d = tmpdir_new();
  px_store *s = store_open(d, NULL);
  px_store_op a = put_op("x/y/z", 1, px_int(1), 0);
  cr_assert_eq(px_store_apply(s, &a, 1), 0);
  cr_assert_eq(px_runtime_start(NULL), 0);
  px_store_op b = put_op("x/y/z", 2, px_int(2), 0);
  cr_assert_eq(px_store_apply(s, &b, 1), 0);
  px_runtime_stop();
  px_store_op c = put_op("x/y/z", 3, px_int(3), 0);
  cr_assert_eq(px_store_apply(s, &c, 1), 0);
  collected col = scan_all(s, "x/y/z");
  cr_assert_eq(col.n, 3);
  collected_free(&col);
  px_store_close(s);
  tmpdir_free(d);
}
