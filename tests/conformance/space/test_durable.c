/* Durable tuple spaces (issue 3, Durability): every acknowledged write is
 * in the store and survives close/reopen, every acknowledged take is gone
 * from it, leases keep their absolute wall-clock expiry, tuples that
 * expired while the space was closed are dropped (and deleted) at open.
 * Without crashes; tests/crash/space covers kill -9. */
#include "../../unit/store/store_test_util.h"
#include "ts_agent.h"

static char *g_dir;
static px_store *g_st;

static void dur_setup(void) {
  ts_setup();
  g_dir = tmpdir_new();
  g_st = store_open(g_dir, NULL);
  px_space_set_store(g_st);
}

static void dur_teardown(void) {
  ts_teardown();
  px_space_set_store(NULL);
  px_store_close(g_st);
  tmpdir_free(g_dir);
}

TestSuite(durable, .init = dur_setup, .fini = dur_teardown, .timeout = 60);

#define KEY "default/default/d"

static px_space *open_d(void) {
  px_space *s = NULL;
  cr_assert_eq(px_space_open(NULL, NULL, "d", PX_SPACE_DURABLE, &s), 0);
  return s;
}

static px_val all3(void) { return px_arr(3, px_nil(), px_nil(), px_nil()); }

static size_t count3(px_space *s) {
  size_t n;
  cr_assert_eq(px_ts_count(s, all3(), &n), 0);
  return n;
}

static size_t stored_rows(void) {
  collected c = scan_all(g_st, KEY);
  size_t n = c.n;
  collected_free(&c);
  return n;
}

static int64_t stored_expiry(uint64_t id) {
  collected c = scan_all(g_st, KEY);
  int64_t e = -1;
  for (size_t i = 0; i < c.n; i++)
    if (c.ids[i] == id) e = c.exp[i];
  collected_free(&c);
  return e;
}

static px_val tup(const char *k, int64_t i) {
  return px_arr(3, px_str(k), px_int(i), px_str("payload"));
}

Test(durable, needs_a_store_and_keeps_its_kind) {
  px_space_set_store(NULL);
  px_space *s;
  cr_assert_eq(px_space_open(NULL, NULL, "x", PX_SPACE_DURABLE, &s),
               PX_ENOTSUP);
  px_space_set_store(g_st);
  cr_assert_eq(px_space_open(NULL, NULL, "x", PX_SPACE_DURABLE, &s), 0);
  px_space *m;
  cr_assert_eq(px_space_open(NULL, NULL, "x", PX_SPACE_MEMORY, &m),
               PX_EEXIST);
  px_space_close(s);
}

Test(durable, write_close_reopen_read_in_order_ids_continue) {
  px_space *s = open_d();
  for (int i = 1; i <= 5; i++)
    cr_assert_eq(px_ts_write(s, tup("a", i), 0, NULL), 0);
  uint64_t l1;
  cr_assert_eq(px_ts_write(s, tup("a", 6), 3600000, &l1), 0);
  cr_assert_eq(stored_rows(), 6);
  px_space_close(s);

  s = open_d();
  cr_assert_eq(count3(s), 6);
  px_val all;
  cr_assert_eq(px_ts_read_all(s, all3(), 0, &all), 0);
  for (int i = 0; i < 6; i++)
    cr_assert_eq(px_at(px_at(all, (size_t)i), 1).u.i, i + 1, "oldest first");
  px_val_release(all);
  uint64_t l2;
  cr_assert_eq(px_ts_write(s, tup("a", 7), 3600000, &l2), 0);
  cr_assert_gt(l2, l1, "ids continue from the largest stored id");
  /* the reloaded lease is still a lease */
  cr_assert_eq(px_ts_cancel(s, l1), 0);
  px_space_close(s);
  s = open_d();
  cr_assert_eq(count3(s), 6);
  px_space_close(s);
}

Test(durable, take_and_take_all_are_persisted) {
  px_space *s = open_d();
  px_val ts[4] = {tup("b", 1), tup("b", 2), tup("c", 3), tup("c", 4)};
  cr_assert_eq(px_ts_write_batch(s, ts, 4, 0), 0);
  cr_assert_eq(stored_rows(), 4);
  px_val v;
  cr_assert_eq(px_ts_take(s, px_arr(3, px_str("b"), px_nil(), px_nil()), 0,
                          &v),
               0);
  cr_assert_eq(px_at(v, 1).u.i, 1);
  px_val_release(v);
  cr_assert_eq(stored_rows(), 3, "the take's delete is durable on return");
  cr_assert_eq(px_ts_take_all(s, px_arr(3, px_str("c"), px_nil(), px_nil()),
                              0, &v),
               0);
  cr_assert_eq(px_len(v), 2);
  px_val_release(v);
  cr_assert_eq(stored_rows(), 1);
  px_space_close(s);
  s = open_d();
  cr_assert_eq(count3(s), 1);
  cr_assert_eq(px_ts_read(s, all3(), 0, &v), 0);
  cr_assert_eq(px_at(v, 1).u.i, 2);
  px_val_release(v);
  px_space_close(s);
}

Test(durable, write_if_absent_replace_cancel_and_commit_persist) {
  px_space *s = open_d();
  px_val k = px_arr(3, px_str("k"), px_nil(), px_nil());
  cr_assert_eq(px_ts_write_if_absent(s, px_val_retain(k), tup("k", 1), 0), 0);
  cr_assert_eq(px_ts_write_if_absent(s, px_val_retain(k), tup("k", 2), 0),
               PX_EEXIST);
  px_val old;
  cr_assert_eq(px_ts_replace(s, px_val_retain(k), tup("k", 3), 0, &old), 0);
  cr_assert_eq(px_at(old, 1).u.i, 1);
  px_val_release(old);
  uint64_t l;
  cr_assert_eq(px_ts_write(s, tup("l", 1), 3600000, &l), 0);
  cr_assert_eq(px_ts_cancel(s, l), 0);
  cr_assert_eq(px_ts_cancel(s, l), PX_ENOTFOUND);
  cr_assert_eq(px_ts_write(s, tup("t", 1), 0, NULL), 0);
  px_ts_txn *t;
  cr_assert_eq(px_ts_begin(s, &t), 0);
  cr_assert_eq(px_ts_write_tx(t, tup("t", 2), 0), 0);
  px_val got;
  cr_assert_eq(px_ts_take_tx(t, px_arr(3, px_str("t"), px_int(1), px_nil()),
                             0, &got),
               0);
  px_val_release(got);
  cr_assert_eq(stored_rows(), 2, "nothing of the txn before commit");
  cr_assert_eq(px_ts_commit(t), 0);
  cr_assert_eq(stored_rows(), 2, "k3 and t2");
  px_ts_txn *a;
  cr_assert_eq(px_ts_begin(s, &a), 0);
  cr_assert_eq(px_ts_write_tx(a, tup("t", 9), 0), 0);
  cr_assert_eq(px_ts_abort(a), 0);
  px_space_close(s);

  s = open_d();
  cr_assert_eq(count3(s), 2);
  px_val v;
  cr_assert_eq(px_ts_read(s, k, 0, &v), 0);
  cr_assert_eq(px_at(v, 1).u.i, 3);
  px_val_release(v);
  cr_assert_eq(px_ts_read(s, px_arr(3, px_str("t"), px_nil(), px_nil()), 0,
                          &v),
               0);
  cr_assert_eq(px_at(v, 1).u.i, 2);
  px_val_release(v);
  px_space_close(s);
}

/* The lease's absolute expiry is what is stored; reopening keeps it, and a
 * renew stores the new one. No sleeping: only the stored values are
 * compared. */
Test(durable, leases_keep_their_absolute_expiry) {
  px_space *s = open_d();
  uint64_t w0 = px__ts_wall_ms();
  uint64_t l;
  cr_assert_eq(px_ts_write(s, tup("e", 1), 3600000, &l), 0);
  uint64_t w1 = px__ts_wall_ms();
  int64_t e = stored_expiry(l);
  cr_assert_geq(e, (int64_t)(w0 + 3600000));
  cr_assert_leq(e, (int64_t)(w1 + 3600000));
  px_space_close(s);
  s = open_d();
  cr_assert_eq(stored_expiry(l), e, "reopen keeps the absolute expiry");
  cr_assert_eq(count3(s), 1);
  cr_assert_eq(px_ts_renew(s, l, 7200000), 0);
  int64_t e2 = stored_expiry(l);
  cr_assert_geq(e2, e + 3600000 - 1000);
  px_space_close(s);
  s = open_d();
  cr_assert_eq(stored_expiry(l), e2);
  /* the lease still works after the reopen: it expires on the clock */
  px_clock_advance(7200000 + 1000);
  cr_assert_eq(count3(s), 0);
  cr_assert_eq(px_ts_renew(s, l, 1000), PX_ENOTFOUND);
  px_space_close(s);
}

/* Rows whose expiry passed while the space was closed are dropped at open
 * and deleted from the store; the others load with their expiry. */
Test(durable, expired_while_down_is_gone) {
  int64_t now = (int64_t)px__ts_wall_ms();
  px_val a = tup("x", 1), b = tup("x", 2), c = tup("x", 3);
  px_store_op ops[3] = {put_op(KEY, 10, a, now - 5000),
                        put_op(KEY, 11, b, now + 3600000),
                        put_op(KEY, 12, c, 0)};
  cr_assert_eq(px_store_apply(g_st, ops, 3), 0);
  px_val_release(a);
  px_val_release(b);
  px_val_release(c);
  px_space *s = open_d();
  cr_assert_eq(count3(s), 2);
  cr_assert_eq(stored_rows(), 2, "the expired row was deleted at open");
  cr_assert_eq(stored_expiry(11), now + 3600000);
  uint64_t l;
  cr_assert_eq(px_ts_write(s, tup("x", 4), 1, &l), 0);
  cr_assert_eq(l, 13, "ids continue after the largest stored id");
  px_space_close(s);
}

/* A blocked taker handed a durable write persists the delete itself before
 * it returns. */
Test(durable, blocked_taker_gets_a_durable_write) {
  px_space *s = open_d();
  px_ref a = agent_op("take", s, px_arr(3, px_str("h"), px_nil(), px_nil()),
                      -1, 1);
  wait_waiters(s, 1);
  cr_assert_eq(px_ts_write(s, tup("h", 1), 0, NULL), 0);
  px_val v;
  cr_assert_eq(agent_result(NULL, &v), 0);
  cr_assert_eq(px_at(v, 1).u.i, 1);
  px_val_release(v);
  cr_assert_eq(stored_rows(), 0, "the taker's delete is durable");
  cr_assert_eq(count3(s), 0);
  (void)a;
  px_space_close(s);
  s = open_d();
  cr_assert_eq(count3(s), 0);
  px_space_close(s);
}

Test(durable, blocked_replace_gets_a_durable_write) {
  px_space *s = open_d();
  agent_op_on(agent_spawn(NULL), "replace", s,
              px_arr(3, px_str("r"), px_nil(), px_nil()), -1, 1, tup("r", 2),
              0);
  wait_waiters(s, 1);
  cr_assert_eq(px_ts_write(s, tup("r", 1), 0, NULL), 0);
  px_val v;
  cr_assert_eq(agent_result(NULL, &v), 0);
  cr_assert_eq(px_at(v, 1).u.i, 1);
  px_val_release(v);
  collected c = scan_all(g_st, KEY);
  cr_assert_eq(c.n, 1);
  cr_assert_eq(px_at(c.vals[0], 1).u.i, 2);
  collected_free(&c);
  px_space_close(s);
  s = open_d();
  cr_assert_eq(count3(s), 1);
  px_space_close(s);
}

/* Many concurrent durable writers share commits (group commit). */
static px_space *g_sp;
static px_ref g_main;
static void writer_handle(void *st, const px_message *m) {
  (void)st;
  int64_t base = m->payload.u.i;
  for (int i = 0; i < 50; i++)
    if (px_ts_write(g_sp, tup("g", base + i), 0, NULL)) _exit(9);
  px_send(g_main, px_atom_of("done"), px_nil());
  px_exit_self(px_atomv(px_a()->normal));
}
static const px_actor_type writer_t = {"dur_writer", 0, NULL, writer_handle,
                                       NULL};

Test(durable, concurrent_writers_group_commit) {
  g_sp = open_d();
  g_main = px_self();
  px_store_stats st0;
  px_store_get_stats(g_st, &st0);
  px_ref r[16];
  for (int i = 0; i < 16; i++) {
    cr_assert_eq(px_spawn(&writer_t, px_nil(), NULL, &r[i]), 0);
    px_send(r[i], px_atom_of("go"), px_int(i * 1000));
  }
  for (int i = 0; i < 16; i++) {
    px_message *m;
    cr_assert_eq(px_receive(NULL, NULL, 30000, &m), 0);
    px_message_free(m);
  }
  cr_assert_eq(count3(g_sp), 800);
  cr_assert_eq(stored_rows(), 800);
  px_store_stats st1;
  px_store_get_stats(g_st, &st1);
  cr_log_info("800 writes in %llu commits",
              (unsigned long long)(st1.commits - st0.commits));
  px_space_close(g_sp);
}

/* R-K-16 in a durable space: read locks are in memory only (the store is
 * untouched by read_tx and its commit); a taker blocked by one is served
 * at commit and its delete is persisted. */
Test(durable, R_K_16_read_lock_in_memory_only) {
  px_space *s = open_d();
  cr_assert_eq(px_ts_write(s, tup("r", 1), 0, NULL), 0);
  px_ts_txn *t;
  cr_assert_eq(px_ts_begin(s, &t), 0);
  px_val v;
  cr_assert_eq(px_ts_read_tx(t, all3(), 0, &v), 0);
  px_val_release(v);
  cr_assert_eq(stored_rows(), 1);
  cr_assert_eq(px_ts_take(s, all3(), 0, &v), PX_ETIMEDOUT);
  agent_op("take", s, all3(), -1, 1);
  wait_waiters(s, 1);
  cr_assert(no_result_now());
  cr_assert_eq(px_ts_commit(t), 0);
  cr_assert_eq(agent_result(NULL, &v), 0);
  cr_assert_eq(px_at(v, 1).u.i, 1);
  px_val_release(v);
  cr_assert_eq(stored_rows(), 0);
  px_space_close(s);
}
