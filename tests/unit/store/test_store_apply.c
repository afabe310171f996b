/* px_store_apply and px_store_scan_tuples without a runtime: every op kind,
 * atomicity, isolation of a failing caller inside a group commit. */
#include <pthread.h>

#include "store/store_impl.h"
#include "store_test_util.h"

Test(store_apply, round_trip_every_kind) {
  char *d = tmpdir_new();
  px_store *s = store_open(d, NULL);
  px_val v1 = px_arr(3, px_str("svc"), px_int(-7), px_atom_val("ready"));
  px_val v2 = px_map(2, px_str("k"), px_bin("\0\1\2", 3), px_str("d"),
                     px_double(2.5));
  px_val v3 = px_str("third");
  px_store_op ops[] = {
      put_op("acme/ns/jobs", 3, v3, 0),
      put_op("acme/ns/jobs", 1, v1, 1700000000000),
      put_op("acme/ns/jobs", 2, v2, 0),
      put_op("acme/ns/other", 1, px_int(9), 0),
  };
  cr_assert_eq(px_store_apply(s, ops, 4), 0);

  collected c = scan_all(s, "acme/ns/jobs");
  cr_assert_eq(c.n, 3);
  cr_assert_eq(c.ids[0], 1); /* oldest id first */
  cr_assert_eq(c.ids[1], 2);
  cr_assert_eq(c.ids[2], 3);
  cr_assert(px_val_equal(c.vals[0], v1));
  cr_assert(px_val_equal(c.vals[1], v2));
  cr_assert(px_val_equal(c.vals[2], v3));
  cr_assert_eq(c.exp[0], 1700000000000);
  cr_assert_eq(c.exp[1], 0);
  collected_free(&c);

  px_store_op ops2[] = {del_op("acme/ns/jobs", 2),
                        exp_op("acme/ns/jobs", 3, 1800000000000)};
  cr_assert_eq(px_store_apply(s, ops2, 2), 0);
  px_store_close(s);

  s = store_open(d, NULL); /* survives a reopen */
  c = scan_all(s, "acme/ns/jobs");
  cr_assert_eq(c.n, 2);
  cr_assert_eq(c.ids[0], 1);
  cr_assert_eq(c.ids[1], 3);
  cr_assert_eq(c.exp[1], 1800000000000);
  collected_free(&c);
  c = scan_all(s, "acme/ns/other");
  cr_assert_eq(c.n, 1);
  cr_assert_eq(c.vals[0].u.i, 9);
  collected_free(&c);
  c = scan_all(s, "nobody/ns/x");
  cr_assert_eq(c.n, 0);
  collected_free(&c);

  px_store_stats st;
  px_store_get_stats(s, &st);
  cr_assert_eq(st.ops, 0); /* stats are per open */
  px_store_close(s);
  px_val_release(v1);
  px_val_release(v2);
  px_val_release(v3);
  tmpdir_free(d);
}

static int stop_at_two(void *ud, uint64_t id, px_val v, int64_t exp) {
  int *n = ud;
  px_val_release(v);
  return ++*n == 2 ? 77 : 0;
}

Test(store_apply, scan_stops_on_nonzero) {
  char *d = tmpdir_new();
  px_store *s = store_open(d, NULL);
  px_store_op ops[] = {put_op("a/b/c", 1, px_int(1), 0),
                       put_op("a/b/c", 2, px_int(2), 0),
                       put_op("a/b/c", 3, px_int(3), 0)};
  cr_assert_eq(px_store_apply(s, ops, 3), 0);
  int n = 0;
  cr_assert_eq(px_store_scan_tuples(s, "a/b/c", stop_at_two, &n), 77);
  cr_assert_eq(n, 2);
  px_store_close(s);
  tmpdir_free(d);
}

static px_store *g_nested_store;
static int nested_cb(void *ud, uint64_t id, px_val v, int64_t exp) {
  px_val_release(v);
  collected c = scan_all(g_nested_store, "a/b/c"); /* a scan inside a scan */
  *(size_t *)ud += c.n;
  collected_free(&c);
  return 0;
}

Test(store_apply, nested_scan) {
  char *d = tmpdir_new();
  px_store *s = store_open(d, NULL);
  g_nested_store = s;
  px_store_op ops[] = {put_op("a/b/c", 1, px_int(1), 0),
                       put_op("a/b/c", 2, px_int(2), 0)};
  cr_assert_eq(px_store_apply(s, ops, 2), 0);
  size_t total = 0;
  cr_assert_eq(px_store_scan_tuples(s, "a/b/c", nested_cb, &total), 0);
  cr_assert_eq(total, 4);
  px_store_close(s);
  tmpdir_free(d);
}

Test(store_apply, failing_op_applies_nothing) {
  char *d = tmpdir_new();
  px_store *s = store_open(d, NULL);
  px_store_op first = put_op("t/n/s", 1, px_int(1), 0);
  cr_assert_eq(px_store_apply(s, &first, 1), 0);

  /* a duplicate id fails the whole set */
  px_store_op dup[] = {put_op("t/n/s", 10, px_int(10), 0),
                       put_op("t/n/s", 11, px_int(11), 0),
                       put_op("t/n/s", 1, px_int(99), 0)};
  cr_assert_eq(px_store_apply(s, dup, 3), PX_EEXIST);
  /* a delete or renewal of a missing tuple too */
  px_store_op del[] = {put_op("t/n/s", 20, px_int(20), 0),
                       del_op("t/n/s", 1), del_op("t/n/s", 12345)};
  cr_assert_eq(px_store_apply(s, del, 3), PX_ENOTFOUND);
  px_store_op ren[] = {exp_op("t/n/s", 1, 5), exp_op("t/n/s", 999, 5)};
  cr_assert_eq(px_store_apply(s, ren, 2), PX_ENOTFOUND);
  /* invalid input is refused before anything is queued */
  px_store_op bad = {0};
  cr_assert_eq(px_store_apply(s, &bad, 1), PX_EINVAL);

  collected c = scan_all(s, "t/n/s");
  cr_assert_eq(c.n, 1);
  cr_assert_eq(c.ids[0], 1);
  cr_assert_eq(c.vals[0].u.i, 1);
  cr_assert_eq(c.exp[0], 0);
  collected_free(&c);
  px_store_stats st;
  px_store_get_stats(s, &st);
  cr_assert_eq(st.ops, 1);
  cr_assert_eq(st.callers, 4);
  px_store_close(s);
  tmpdir_free(d);
}

/* Many threads in one gathered batch, every third one failing: the others
 * must all commit, in few transactions. */
#define NT 48
typedef struct thr_arg {
  px_store *s;
  int i;
  int rc;
} thr_arg;

static void *thr_main(void *p) {
  thr_arg *a = p;
  if (a->i % 3 == 0) {
    px_store_op ops[] = {put_op("t/n/g", 1000 + (uint64_t)a->i, px_int(a->i), 0),
                         del_op("t/n/g", 999999)};
    a->rc = px_store_apply(a->s, ops, 2);
  } else {
    px_val second = px_str("second");
    px_store_op ops[] = {put_op("t/n/g", (uint64_t)a->i, px_int(a->i), 0),
                         put_op("t/n/g", 1000 + (uint64_t)a->i, second, 0)};
    a->rc = px_store_apply(a->s, ops, 2);
    px_val_release(second);
  }
  return NULL;
}

Test(store_apply, failing_caller_does_not_fail_its_batch) {
  char *d = tmpdir_new();
  px_store_opts o = {.max_batch_delay_us = 200000};
  px_store *s = store_open(d, &o);
  pthread_t t[NT];
  thr_arg a[NT];
  for (int i = 0; i < NT; i++) {
    a[i] = (thr_arg){s, i, 1};
    pthread_create(&t[i], NULL, thr_main, &a[i]);
  }
  for (int i = 0; i < NT; i++) pthread_join(t[i], NULL);
  int good = 0;
  for (int i = 0; i < NT; i++) {
    if (i % 3 == 0)
      cr_assert_eq(a[i].rc, PX_ENOTFOUND);
    else {
      cr_assert_eq(a[i].rc, 0);
      good++;
    }
  }
  collected c = scan_all(s, "t/n/g");
  cr_assert_eq(c.n, (size_t)good * 2);
  for (size_t i = 0; i < c.n; i++) {
    uint64_t k = c.ids[i] % 1000;
    cr_assert_neq(k % 3, 0, "failed caller's put %llu is stored",
                  (unsigned long long)c.ids[i]);
  }
  collected_free(&c);
  px_store_stats st;
  px_store_get_stats(s, &st);
  cr_assert_eq(st.callers, NT);
  cr_assert_eq(st.ops, (uint64_t)good * 2);
  cr_assert_lt(st.commits, NT / 4, "commits %llu", (unsigned long long)st.commits);
  px_store_close(s);
  tmpdir_free(d);
}

/* close answers everyone still queued before it returns. */
static void *slow_apply(void *p) {
  thr_arg *a = p;
  px_store_op op = put_op("t/n/c", (uint64_t)a->i + 1, px_int(a->i), 0);
  a->rc = px_store_apply(a->s, &op, 1);
  return NULL;
}

Test(store_apply, close_drains_the_queue) {
  char *d = tmpdir_new();
  px_store_opts o = {.max_batch_delay_us = 30 * 1000 * 1000};
  px_store *s = store_open(d, &o);
  pthread_t t[8];
  thr_arg a[8];
  for (int i = 0; i < 8; i++) {
    a[i] = (thr_arg){s, i, 1};
    pthread_create(&t[i], NULL, slow_apply, &a[i]);
  }
  /* wait until all 8 are queued behind the 30 s gathering window */
  for (;;) {
    pthread_mutex_lock(&s->mu);
    size_t q = s->queued_ops;
    pthread_mutex_unlock(&s->mu);
    if (q == 8) break;
    usleep(1000);
  }
  uint64_t t0 = px_now_ms();
  px_store_close(s);
  cr_assert_lt(px_now_ms() - t0, 10000, "close cut the window short");
  for (int i = 0; i < 8; i++) {
    pthread_join(t[i], NULL);
    cr_assert_eq(a[i].rc, 0);
  }
  s = store_open(d, NULL);
  collected c = scan_all(s, "t/n/c");
  cr_assert_eq(c.n, 8);
  collected_free(&c);
  px_store_close(s);
  tmpdir_free(d);
}
