/* Conformance: SEMANTICS.md section K (tuple spaces) for the in-memory
 * space. Timeouts and leases use the virtual clock (lease-expiry timer
 * class, cross-cutting decision 4); blocking operations run in agent
 * actors, the test thread drives the clock.
 *
 * Not applicable to untyped tuples (by design, no test):
 *  - R-K-5 / T-K-19 eval (active tuples): there is no eval; an actor that
 *    computes fields writes the finished tuple.
 *  - R-K-9, R-K-10 / T-K-10 JavaSpaces entry classes and subtype matching:
 *    tuples are arrays of px_val, there are no entry types.
 *  - T-K-17 takeIfExists: there is no separate takeIfExists. px_ts_take
 *    with timeout 0 (NO_WAIT) returns PX_ETIMEDOUT at once both when no
 *    match exists and when the only matches are locked by an uncommitted
 *    transaction (taken, or read-locked for a take); with a positive
 *    timeout it waits for a locked match to be released (and times out
 *    when the txn commits its take), but it also waits when no match
 *    exists at all (documented divergence; space.h). Tested as
 *    T_K_17_locked_match_waits_with_timeout. */
#include <string.h>

#include "ts_agent.h"

TestSuite(space, .init = ts_setup, .fini = ts_teardown, .timeout = 120);

static px_space *open_sp(const char *name) {
  px_space *s;
  cr_assert_eq(px_space_open(NULL, NULL, name, PX_SPACE_MEMORY, &s), 0);
  return s;
}

static size_t count_all(px_space *s, size_t arity) {
  px_val t = px_array_new(arity);
  for (size_t i = 0; i < arity; i++) px_array_push(&t, px_nil());
  size_t n;
  cr_assert_eq(px_ts_count(s, t, &n), 0);
  return n;
}

/* T-K-1: (1,"a"); in((int ?x, "a")) -> x = 1; the space is empty. */
Test(space, T_K_1_take_binds_formal_and_removes) {
  px_space *s = open_sp("k1");
  cr_assert_eq(px_ts_write(s, px_arr(2, px_int(1), px_str("a")), 0, NULL), 0);
  px_val v;
  cr_assert_eq(px_ts_take(s, px_arr(2, tmpl_type("int"), px_str("a")), 0, &v),
               0);
  cr_assert_eq(px_at(v, 0).u.i, 1);
  px_val_release(v);
  cr_assert_eq(count_all(s, 2), 0);
  px_space_close(s);
}

/* T-K-2 / R-K-8: rd leaves the tuple; two rd's return the same tuple. */
Test(space, T_K_2_read_is_non_destructive) {
  px_space *s = open_sp("k2");
  px_ts_write(s, px_arr(2, px_str("x"), px_int(9)), 0, NULL);
  px_val a, b;
  cr_assert_eq(px_ts_read(s, px_arr(2, px_str("x"), px_nil()), 0, &a), 0);
  cr_assert_eq(px_ts_read(s, px_arr(2, px_str("x"), px_nil()), 0, &b), 0);
  cr_assert(px_val_equal(a, b));
  px_val_release(a);
  px_val_release(b);
  cr_assert_eq(count_all(s, 2), 1);
  px_space_close(s);
}

/* T-K-3, R-K-12, cross-cutting 5: take(100) on empty returns none at
 * t=100, the space is unchanged and no waiter is left. */
Test(space, T_K_3_take_timeout_leaves_no_waiter) {
  px_space *s = open_sp("k3");
  px_ref a = agent_op("take", s, px_arr(1, px_nil()), 100, 1);
  wait_waiters(s, 1);
  wait_parked(a);
  px_clock_advance(99);
  cr_assert(no_result_now());
  px_clock_advance(1);
  cr_assert_eq(agent_result(NULL, NULL), PX_ETIMEDOUT);
  cr_assert_eq(px__ts_waiters(s), 0);
  cr_assert_eq(px__ts_stored(s), 0);
  /* a later write is not captured by the gone waiter */
  px_ts_write(s, px_arr(1, px_int(5)), 0, NULL);
  cr_assert_eq(count_all(s, 1), 1);
  px_space_close(s);
}

/* T-K-5: two takers, one tuple -> exactly one gets it, the other keeps
 * waiting; the count never goes negative. */
Test(space, T_K_5_one_tuple_two_takers) {
  px_space *s = open_sp("k5");
  agent_op("take", s, px_arr(1, px_nil()), -1, 1);
  agent_op("take", s, px_arr(1, px_nil()), -1, 2);
  wait_waiters(s, 2);
  px_ts_write(s, px_arr(1, px_int(7)), 0, NULL);
  int64_t tag;
  px_val v;
  cr_assert_eq(agent_result(&tag, &v), 0);
  cr_assert_eq(px_at(v, 0).u.i, 7);
  px_val_release(v);
  cr_assert_eq(px__ts_waiters(s), 1);
  cr_assert(no_result_now());
  cr_assert_eq(count_all(s, 1), 0);
  px_ts_write(s, px_arr(1, px_int(8)), 0, NULL);
  int64_t tag2;
  cr_assert_eq(agent_result(&tag2, NULL), 0);
  cr_assert_neq(tag, tag2);
  cr_assert_eq(count_all(s, 1), 0);
  px_space_close(s);
}

/* Issue: FIFO among blocked takers of the same bucket (R-K-7 [ours]). */
Test(space, R_K_7_fifo_among_blocked_takers) {
  px_space *s = open_sp("fifo");
  for (int i = 1; i <= 4; i++) {
    /* mixes bucket (exact field 0) and wild templates */
    px_val t = (i % 2) ? px_arr(2, px_str("job"), px_nil())
                       : px_arr(2, px_nil(), tmpl_type("int"));
    agent_op("take", s, t, -1, i);
    wait_waiters(s, (size_t)i);
  }
  for (int i = 1; i <= 4; i++) {
    px_ts_write(s, px_arr(2, px_str("job"), px_int(i)), 0, NULL);
    int64_t tag;
    px_val v;
    cr_assert_eq(agent_result(&tag, &v), 0);
    cr_assert_eq(tag, i, "taker %d served out of order (got %lld)", i,
                 (long long)tag);
    cr_assert_eq(px_at(v, 1).u.i, i);
    px_val_release(v);
  }
  px_space_close(s);
}

/* R-K-7 [ours]: oldest matching tuple first. */
Test(space, R_K_7_oldest_match_first) {
  px_space *s = open_sp("oldest");
  for (int i = 0; i < 5; i++)
    px_ts_write(s, px_arr(2, px_str("k"), px_int(i)), 0, NULL);
  for (int i = 0; i < 5; i++) {
    px_val v;
    /* wildcard field 0: scans the arity list, still oldest first */
    cr_assert_eq(px_ts_take(s, px_arr(2, px_nil(), px_nil()), 0, &v), 0);
    cr_assert_eq(px_at(v, 1).u.i, i);
    px_val_release(v);
  }
  px_space_close(s);
}

/* Issue: a written tuple satisfies every blocked reader and exactly one
 * blocked taker. */
Test(space, R_K_3_every_reader_and_one_taker) {
  px_space *s = open_sp("rt");
  agent_op("read", s, px_arr(1, px_nil()), -1, 1);
  agent_op("take", s, px_arr(1, px_nil()), -1, 2);
  agent_op("read", s, px_arr(1, tmpl_type("int")), -1, 3);
  agent_op("take", s, px_arr(1, px_nil()), -1, 4);
  wait_waiters(s, 4);
  px_ts_write(s, px_arr(1, px_int(1)), 0, NULL);
  bool seen[5] = {0};
  for (int i = 0; i < 3; i++) {
    int64_t tag;
    cr_assert_eq(agent_result(&tag, NULL), 0);
    seen[tag] = true;
  }
  cr_assert(seen[1] && seen[2] && seen[3] && !seen[4]);
  cr_assert_eq(px__ts_waiters(s), 1);
  cr_assert_eq(count_all(s, 1), 0);
  px_ts_write(s, px_arr(1, px_int(2)), 0, NULL);
  int64_t tag;
  cr_assert_eq(agent_result(&tag, NULL), 0);
  cr_assert_eq(tag, 4);
  px_space_close(s);
}

/* T-K-7, R-K-4: inp on no match -> false immediately; on match -> removes. */
Test(space, T_K_7_try_take) {
  px_space *s = open_sp("k7");
  px_val v;
  cr_assert_eq(px_ts_take(s, px_arr(1, px_nil()), 0, &v), PX_ETIMEDOUT);
  bool e;
  px_ts_exists(s, px_arr(1, px_nil()), &e);
  cr_assert(!e);
  px_ts_write(s, px_arr(1, px_int(3)), 0, NULL);
  px_ts_exists(s, px_arr(1, px_nil()), &e);
  cr_assert(e);
  cr_assert_eq(px_ts_take(s, px_arr(1, px_nil()), 0, &v), 0);
  px_val_release(v);
  cr_assert_eq(count_all(s, 1), 0);
  px_space_close(s);
}

/* T-K-9, R-K-6: (?int, 5) matches (7,5) not (7,6); arity must agree. */
Test(space, T_K_9_formal_and_exact) {
  px_val t = px_arr(2, tmpl_type("int"), px_int(5));
  px_val a = px_arr(2, px_int(7), px_int(5));
  px_val b = px_arr(2, px_int(7), px_int(6));
  px_val c = px_arr(3, px_int(7), px_int(5), px_nil());
  px_val d = px_arr(2, px_str("7"), px_int(5));
  cr_assert(px_ts_match(t, a));
  cr_assert(!px_ts_match(t, b));
  cr_assert(!px_ts_match(t, c));
  cr_assert(!px_ts_match(t, d)); /* type mismatch = no match */
  px_space *s = open_sp("k9");
  px_ts_write(s, px_val_retain(b), 0, NULL);
  px_ts_write(s, px_val_retain(a), 0, NULL);
  px_val v;
  cr_assert_eq(px_ts_read(s, px_val_retain(t), 0, &v), 0);
  cr_assert(px_val_equal(v, a));
  px_val_release(v);
  px_val_release(t);
  px_val_release(a);
  px_val_release(b);
  px_val_release(c);
  px_val_release(d);
  px_space_close(s);
}

/* T-K-11 / R-K-10 (equality part): our canonical equality is px_val_equal,
 * typed structural equality: int 1 != double 1.0, atom a != string "a",
 * string != binary with the same bytes. It plays the role of JavaSpaces'
 * "equal serialized bytes": values that are logically close but of another
 * type (another encoding) do not match. */
Test(space, T_K_11_typed_canonical_equality) {
  struct {
    px_val t, v;
    bool m;
  } c[] = {
      {px_int(1), px_double(1.0), false},
      {px_atom_val("a"), px_str("a"), false},
      {px_str("ab"), px_bin("ab", 2), false},
      {px_int(1), px_int(1), true},
      {px_arr(2, px_int(1), px_str("x")), px_arr(2, px_int(1), px_str("x")),
       true},
      {px_arr(1, px_int(1)), px_arr(1, px_double(1.0)), false},
  };
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    px_val t = px_arr(1, c[i].t), v = px_arr(1, c[i].v);
    cr_assert_eq(px_ts_match(t, v), c[i].m, "case %zu", i);
    px_val_release(t);
    px_val_release(v);
  }
  /* nil is a wildcard; {"$exact": nil} matches only nil; $exact escapes a
   * map that looks like a formal. */
  px_val tn = px_arr(1, px_map(1, px_str("$exact"), px_nil()));
  px_val vn = px_arr(1, px_nil()), vi = px_arr(1, px_int(0));
  cr_assert(px_ts_match(tn, vn));
  cr_assert(!px_ts_match(tn, vi));
  px_val fm = px_map(1, px_str("$type"), px_str("int"));
  px_val te = px_arr(1, px_map(1, px_atom_val("$exact"), px_val_retain(fm)));
  px_val vm = px_arr(1, fm);
  cr_assert(px_ts_match(te, vm));
  cr_assert(!px_ts_match(te, vi));
  px_val_release(tn);
  px_val_release(vn);
  px_val_release(vi);
  px_val_release(te);
  px_val_release(vm);
}

Test(space, R_K_6_range_prefix_and_checks) {
  px_val r = px_arr(1, px_map(1, px_str("$range"),
                              px_arr(2, px_int(10), px_int(20))));
  px_val p = px_arr(1, px_map(1, px_str("$prefix"), px_str("svc.")));
  px_val v10 = px_arr(1, px_int(10)), v21 = px_arr(1, px_int(21));
  px_val s1 = px_arr(1, px_str("svc.auth")), s2 = px_arr(1, px_str("sv"));
  cr_assert(px_ts_match(r, v10));
  cr_assert(!px_ts_match(r, v21));
  cr_assert(!px_ts_match(r, s1));
  cr_assert(px_ts_match(p, s1));
  cr_assert(!px_ts_match(p, s2));
  cr_assert(!px_ts_match(p, v10));
  char err[128];
  cr_assert_eq(px_ts_template_check(r, err, sizeof err), 0);
  px_val bad[] = {
      px_arr(1, px_map(1, px_str("$type"), px_str("float"))),
      px_arr(1, px_map(1, px_str("$range"), px_arr(1, px_int(1)))),
      px_arr(1, px_map(1, px_str("$range"), px_arr(2, px_int(1), px_str("z")))),
      px_arr(1, px_map(1, px_str("$prefix"), px_int(1))),
      px_arr(1, px_map(1, px_str("$bogus"), px_int(1))),
      px_array_new(0),
      px_int(1),
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = 0;
    cr_assert_eq(px_ts_template_check(bad[i], err, sizeof err), PX_EINVAL,
                 "bad %zu", i);
    cr_assert(err[0]);
    px_val_release(bad[i]);
  }
  px_val_release(r);
  px_val_release(p);
  px_val_release(v10);
  px_val_release(v21);
  px_val_release(s1);
  px_val_release(s2);
}

/* Tuples of 1..1000 fields; others are rejected and nothing is written. */
Test(space, arity_limits) {
  px_space *s = open_sp("arity");
  px_val big = px_array_new(1000);
  for (int i = 0; i < 1000; i++) px_array_push(&big, px_int(i));
  cr_assert_eq(px_ts_write(s, big, 0, NULL), 0);
  px_val too = px_array_new(1001);
  for (int i = 0; i < 1001; i++) px_array_push(&too, px_int(i));
  cr_assert_eq(px_ts_write(s, too, 0, NULL), PX_EINVAL);
  cr_assert_eq(px_ts_write(s, px_array_new(0), 0, NULL), PX_EINVAL);
  cr_assert_eq(px_ts_write(s, px_int(1), 0, NULL), PX_EINVAL);
  cr_assert_eq(count_all(s, 1000), 1);
  px_val v;
  cr_assert_eq(px_ts_read(s, px_int(1), 0, &v), PX_EINVAL);
  px_space_close(s);
}

/* R-K-11 / R-K-17: each write is a new entry; write_batch is all or none. */
Test(space, R_K_11_duplicates_and_atomic_batch) {
  px_space *s = open_sp("batch");
  px_val t = px_arr(1, px_int(1));
  px_ts_write(s, px_val_retain(t), 0, NULL);
  px_ts_write(s, t, 0, NULL);
  cr_assert_eq(count_all(s, 1), 2);
  px_val bad[3] = {px_arr(1, px_int(2)), px_int(3), px_arr(1, px_int(4))};
  cr_assert_eq(px_ts_write_batch(s, bad, 3, 0), PX_EINVAL);
  cr_assert_eq(count_all(s, 1), 2);
  px_val good[3] = {px_arr(1, px_int(2)), px_arr(1, px_int(3)),
                    px_arr(1, px_int(4))};
  cr_assert_eq(px_ts_write_batch(s, good, 3, 0), 0);
  cr_assert_eq(count_all(s, 1), 5);
  cr_assert_eq(px_ts_write(s, px_arr(1, px_int(1)), -5, NULL), PX_EINVAL);
  px_space_close(s);
}

/* R-K-17 / R-K-18: read_all / take_all with a limit, oldest first. */
Test(space, R_K_18_read_all_take_all) {
  px_space *s = open_sp("all");
  for (int i = 0; i < 6; i++)
    px_ts_write(s, px_arr(2, px_str(i % 2 ? "odd" : "even"), px_int(i)), 0,
                NULL);
  px_val a;
  cr_assert_eq(px_ts_read_all(s, px_arr(2, px_str("even"), px_nil()), 0, &a),
               0);
  cr_assert_eq(px_len(a), 3);
  cr_assert_eq(px_at(px_at(a, 2), 1).u.i, 4);
  px_val_release(a);
  cr_assert_eq(px_ts_take_all(s, px_arr(2, px_nil(), px_nil()), 4, &a), 0);
  cr_assert_eq(px_len(a), 4);
  for (int i = 0; i < 4; i++) cr_assert_eq(px_at(px_at(a, i), 1).u.i, i);
  px_val_release(a);
  cr_assert_eq(count_all(s, 2), 2);
  px_space_close(s);
}

/* Issue: write_if_absent is atomic; replace is take+write in one step. */
Test(space, write_if_absent_and_replace) {
  px_space *s = open_sp("wia");
  px_val tm = px_arr(2, px_str("svc"), px_nil());
  cr_assert_eq(px_ts_write_if_absent(s, px_val_retain(tm),
                                     px_arr(2, px_str("svc"), px_int(1)), 0),
               0);
  cr_assert_eq(px_ts_write_if_absent(s, px_val_retain(tm),
                                     px_arr(2, px_str("svc"), px_int(2)), 0),
               PX_EEXIST);
  cr_assert_eq(count_all(s, 2), 1);
  px_val old;
  cr_assert_eq(px_ts_replace(s, px_val_retain(tm),
                             px_arr(2, px_str("svc"), px_int(3)), 0, &old),
               0);
  cr_assert_eq(px_at(old, 1).u.i, 1);
  px_val_release(old);
  px_val v;
  cr_assert_eq(px_ts_read(s, px_val_retain(tm), 0, &v), 0);
  cr_assert_eq(px_at(v, 1).u.i, 3);
  px_val_release(v);
  cr_assert_eq(count_all(s, 2), 1);
  /* a blocked replace: served when a match arrives; its new tuple then
   * reaches a blocked taker */
  agent_op_on(agent_spawn(NULL), "replace", s,
              px_arr(2, px_str("budget"), px_nil()), -1, 1,
              px_arr(2, px_str("budget2"), px_int(99)), 0);
  wait_waiters(s, 1);
  agent_op("take", s, px_arr(2, px_str("budget2"), px_nil()), -1, 2);
  wait_waiters(s, 2);
  px_ts_write(s, px_arr(2, px_str("budget"), px_int(5)), 0, NULL);
  for (int i = 0; i < 2; i++) {
    int64_t tag;
    px_val r;
    cr_assert_eq(agent_result(&tag, &r), 0);
    cr_assert_eq(px_at(r, 1).u.i, tag == 1 ? 5 : 99);
    px_val_release(r);
  }
  cr_assert_eq(count_all(s, 2), 1);
  px_val_release(tm);
  px_space_close(s);
}

/* T-K-13, R-K-11, R-K-14: leases. */
Test(space, T_K_13_leases) {
  px_space *s = open_sp("lease");
  uint64_t l1, l2;
  cr_assert_eq(px_ts_write(s, px_arr(1, px_int(1)), 100, &l1), 0);
  cr_assert_eq(px_ts_write(s, px_arr(1, px_int(2)), 100, &l2), 0);
  cr_assert_neq(l1, 0);
  uint64_t l0;
  px_ts_write(s, px_arr(1, px_int(3)), 0, &l0);
  cr_assert_eq(l0, 0);
  px_clock_advance(50);
  cr_assert_eq(px_ts_renew(s, l1, 100), 0); /* now expires at 150 */
  cr_assert_eq(px_ts_cancel(s, l2), 0);     /* gone now */
  cr_assert_eq(px_ts_cancel(s, l2), PX_ENOTFOUND);
  cr_assert_eq(count_all(s, 1), 2);
  px_clock_advance(60); /* t=110: past the first expiry, renewed */
  cr_assert_eq(count_all(s, 1), 2);
  px_clock_advance(40); /* t=150: expired, invisible at once */
  cr_assert_eq(count_all(s, 1), 1);
  cr_assert_eq(px_ts_renew(s, l1, 100), PX_ENOTFOUND);
  cr_assert_eq(px_ts_cancel(s, l1), PX_ENOTFOUND);
  px_space_close(s);
}

/* R-K-11: an expired tuple is reclaimed by the timer even if nobody looks. */
Test(space, R_K_11_expiry_reclaimed_by_timer) {
  px_space *s = open_sp("reclaim");
  uint64_t l;
  px_ts_write(s, px_arr(1, px_int(1)), 10, &l);
  cr_assert_eq(px__ts_stored(s), 1);
  px_clock_advance(10);
  for (long i = 0; px__ts_stored(s) != 0; i++) {
    cr_assert(i < 200000000L);
    sched_yield();
  }
  px_space_close(s);
}

/* Issue: a waiter whose actor dies is removed. */
Test(space, dead_waiter_is_removed) {
  px_space *s = open_sp("dead");
  px_ref a = agent_op("take", s, px_arr(1, px_nil()), -1, 1);
  wait_waiters(s, 1);
  px_exit(a, px_atom_val("kill"));
  wait_waiters(s, 0);
  px_ts_write(s, px_arr(1, px_int(1)), 0, NULL);
  cr_assert_eq(count_all(s, 1), 1);
  px_space_close(s);
}

/* Issue: tuples written by a crashed actor stay (data, not state). */
Test(space, tuples_of_crashed_writer_stay) {
  px_space *s = open_sp("crash");
  px_mref mr;
  px_ref a = agent_spawn(NULL);
  mr = px_monitor(a);
  agent_op_on(a, "write_crash", s, px_nil(), 0, 1, px_arr(1, px_int(42)), 0);
  px_message *m;
  cr_assert_eq(px_receive(NULL, NULL, 10000, &m), 0);
  cr_assert_eq(m->type, px_a()->down_msg);
  px_message_free(m);
  (void)mr;
  cr_assert_eq(count_all(s, 1), 1);
  px_space_close(s);
}

/* T-K-18, R-K-15: watch events with increasing seq; non-matching -> none;
 * unwatch -> no more; a watcher that exits is dropped. */
static bool is_ts_event(const px_message *m, void *ud) {
  (void)ud;
  return m->type == px_atom_of("ts_written") ||
         m->type == px_atom_of("ts_taken") ||
         m->type == px_atom_of("ts_expired");
}

Test(space, T_K_18_watch) {
  px_space *s = open_sp("watch");
  uint64_t w;
  cr_assert_eq(px_ts_watch(s, px_arr(2, px_str("ev"), px_nil()),
                           PX_TS_WRITTEN | PX_TS_TAKEN | PX_TS_EXPIRED,
                           px_self(), &w),
               0);
  for (int i = 0; i < 3; i++)
    px_ts_write(s, px_arr(2, px_str("ev"), px_int(i)), 0, NULL);
  px_ts_write(s, px_arr(2, px_str("other"), px_int(0)), 0, NULL);
  px_val v;
  px_ts_take(s, px_arr(2, px_str("ev"), px_nil()), 0, &v);
  px_val_release(v);
  uint64_t lease;
  px_ts_write(s, px_arr(2, px_str("ev"), px_int(9)), 5, &lease);
  px_clock_advance(5);
  const char *want[] = {"ts_written", "ts_written", "ts_written", "ts_taken",
                        "ts_written", "ts_expired"};
  int64_t last = 0;
  for (int i = 0; i < 6; i++) {
    px_message *m;
    cr_assert_eq(px_receive(is_ts_event, NULL, 10000, &m), 0);
    cr_assert_eq(m->type, px_atom_of(want[i]), "event %d", i);
    cr_assert_eq((uint64_t)px_gets(m->payload, "watch").u.i, 0 + w);
    int64_t seq = px_gets(m->payload, "seq").u.i;
    cr_assert_gt(seq, last);
    last = seq;
    cr_assert_str_eq(px_str_ptr(px_at(px_gets(m->payload, "tuple"), 0)),
                     "ev");
    px_message_free(m);
  }
  px_message *m;
  cr_assert_eq(px_receive(is_ts_event, NULL, 0, &m), PX_ETIMEDOUT);
  cr_assert_eq(px_ts_unwatch(s, w), 0);
  cr_assert_eq(px_ts_unwatch(s, w), PX_ENOTFOUND);
  px_ts_write(s, px_arr(2, px_str("ev"), px_int(1)), 0, NULL);
  cr_assert_eq(px_receive(is_ts_event, NULL, 0, &m), PX_ETIMEDOUT);
  /* a watcher actor that exits is dropped */
  px_ref a = agent_spawn(NULL);
  agent_op_on(a, "watch", s, px_arr(1, px_nil()), 0, 1, px_nil(), 0);
  cr_assert_eq(agent_result(NULL, NULL), 0);
  cr_assert_eq(px__ts_watches(s), 1);
  px_exit(a, px_atom_val("kill"));
  for (long i = 0; px__ts_watches(s) != 0; i++) {
    cr_assert(i < 200000000L);
    sched_yield();
  }
  px_space_close(s);
}

/* T-K-18 / R-K-15: the registration is itself leased. Events flow while
 * the lease lasts (a renewal extends it); from its end none is delivered,
 * even before the reaper drops it; renew or unwatch after the end is
 * PX_ENOTFOUND. */
Test(space, T_K_18_watch_lease) {
  px_space *s = open_sp("watchlease");
  uint64_t w;
  cr_assert_eq(px_ts_watch_lease(s, px_arr(2, px_str("ev"), px_nil()),
                                 PX_TS_WRITTEN, px_self(), 100, &w),
               0);
  px_ts_write(s, px_arr(2, px_str("ev"), px_int(1)), 0, NULL);
  px_clock_advance(60);
  cr_assert_eq(px_ts_watch_renew(s, w, 100), 0); /* now ends at t=160 */
  px_clock_advance(60);                          /* t=120 */
  px_ts_write(s, px_arr(2, px_str("ev"), px_int(2)), 0, NULL);
  px_clock_advance(40); /* t=160: over */
  px_ts_write(s, px_arr(2, px_str("ev"), px_int(3)), 0, NULL);
  for (int i = 1; i <= 2; i++) {
    px_message *m;
    cr_assert_eq(px_receive(is_ts_event, NULL, 10000, &m), 0);
    cr_assert_eq(px_at(px_gets(m->payload, "tuple"), 1).u.i, i);
    px_message_free(m);
  }
  px_message *m;
  cr_assert_eq(px_receive(is_ts_event, NULL, 0, &m), PX_ETIMEDOUT);
  cr_assert_eq(px_ts_watch_renew(s, w, 100), PX_ENOTFOUND);
  cr_assert_eq(px_ts_unwatch(s, w), PX_ENOTFOUND);
  for (long i = 0; px__ts_watches(s) != 0; i++) {
    cr_assert(i < 200000000L);
    sched_yield();
  }
  px_space_close(s);
}

/* R-K-16: a transaction is leased; when its lease runs out it aborts: its
 * take comes back (to the taker blocked on it), its write is never seen,
 * and its later operations and its commit are PX_ENOTFOUND. A renewal
 * extends it. */
Test(space, R_K_16_txn_lease_runs_out) {
  px_space *s = open_sp("txlease");
  px_ts_write(s, px_arr(2, px_str("k"), px_int(1)), 0, NULL);
  px_ts_txn *t;
  cr_assert_eq(px_ts_begin_lease(s, 100, &t), 0);
  px_val v;
  cr_assert_eq(px_ts_take_tx(t, px_arr(2, px_str("k"), px_nil()), 0, &v), 0);
  px_val_release(v);
  cr_assert_eq(px_ts_write_tx(t, px_arr(2, px_str("w"), px_int(2)), 0), 0);
  px_ref a = agent_op_on(agent_spawn(NULL), "take", s,
                         px_arr(2, px_str("k"), px_nil()), -1, 1, px_nil(), 0);
  wait_waiters(s, 1);
  wait_parked(a);
  px_clock_advance(50);
  cr_assert_eq(px_ts_txn_renew(t, 100), 0); /* now ends at t=150 */
  px_clock_advance(60);                     /* t=110: still on */
  cr_assert_eq(px_ts_write_tx(t, px_arr(2, px_str("w"), px_int(3)), 0), 0);
  cr_assert(no_result_now());
  px_clock_advance(40); /* t=150: over, the reaper aborts it */
  int64_t tag;
  cr_assert_eq(agent_result(&tag, &v), 0);
  cr_assert_eq(px_at(v, 1).u.i, 1);
  px_val_release(v);
  cr_assert_eq(px_ts_write_tx(t, px_arr(2, px_str("w"), px_int(4)), 0),
               PX_ENOTFOUND);
  cr_assert_eq(px_ts_txn_renew(t, 100), PX_ENOTFOUND);
  cr_assert_eq(px_ts_commit(t), PX_ENOTFOUND); /* and it is freed */
  cr_assert_eq(count_all(s, 2), 0);
  /* a lapsed lease is also noticed by the owner's next call, timer or not */
  cr_assert_eq(px_ts_begin_lease(s, 10, &t), 0);
  cr_assert_eq(px_ts_write_tx(t, px_arr(2, px_str("w"), px_int(5)), 0), 0);
  px_clock_advance(10);
  cr_assert_eq(px_ts_commit(t), PX_ENOTFOUND);
  cr_assert_eq(count_all(s, 2), 0);
  px_space_close(s);
}

/* Barrier: releases all when count have arrived; a timed-out arrival is
 * taken back. */
Test(space, barrier) {
  px_space *s = open_sp("bar");
  px_ref a = agent_op_on(agent_spawn(NULL), "barrier", s, px_nil(), 50, 1,
                         px_str("b"), 3);
  wait_waiters(s, 1);
  wait_parked(a);
  px_clock_advance(50);
  cr_assert_eq(agent_result(NULL, NULL), PX_ETIMEDOUT);
  cr_assert_eq(px__ts_waiters(s), 0);
  agent_op_on(agent_spawn(NULL), "barrier", s, px_nil(), -1, 2,
              px_str("b"), 3);
  agent_op_on(agent_spawn(NULL), "barrier", s, px_nil(), -1, 3,
              px_str("b"), 3);
  wait_waiters(s, 2);
  cr_assert(no_result_now());
  cr_assert_eq(px_ts_barrier(s, "b", 3, -1), 0);
  cr_assert_eq(agent_result(NULL, NULL), 0);
  cr_assert_eq(agent_result(NULL, NULL), 0);
  px_space_close(s);
}

/* T-K-14, R-K-16: txn writes are invisible until commit; abort discards. */
Test(space, T_K_14_txn_write_visibility) {
  px_space *s = open_sp("tx14");
  px_ts_txn *t;
  cr_assert_eq(px_ts_begin(s, &t), 0);
  cr_assert_eq(px_ts_write_tx(t, px_arr(1, px_int(1)), 0), 0);
  px_val v;
  cr_assert_eq(px_ts_read(s, px_arr(1, px_nil()), 0, &v), PX_ETIMEDOUT);
  cr_assert_eq(px_ts_read_tx(t, px_arr(1, px_nil()), 0, &v), 0);
  px_val_release(v);
  /* a blocked outside reader sees it only at commit */
  agent_op("read", s, px_arr(1, px_nil()), -1, 1);
  wait_waiters(s, 1);
  cr_assert(no_result_now());
  cr_assert_eq(px_ts_commit(t), 0);
  cr_assert_eq(agent_result(NULL, NULL), 0);
  cr_assert_eq(count_all(s, 1), 1);
  /* abort: never visible */
  cr_assert_eq(px_ts_begin(s, &t), 0);
  px_ts_write_tx(t, px_arr(1, px_int(2)), 0);
  cr_assert_eq(px_ts_abort(t), 0);
  cr_assert_eq(count_all(s, 1), 1);
  /* written and taken inside the same txn: never visible outside */
  cr_assert_eq(px_ts_begin(s, &t), 0);
  px_ts_write_tx(t, px_arr(1, px_int(3)), 0);
  cr_assert_eq(px_ts_take_tx(t, px_arr(1, px_int(3)), 0, &v), 0);
  px_val_release(v);
  cr_assert_eq(px_ts_commit(t), 0);
  cr_assert_eq(count_all(s, 1), 1);
  px_space_close(s);
}

/* R-K-16 with leases: a leased tuple written inside a transaction whose
 * lease runs out before the commit is not reclaimed while the transaction
 * still holds it (lookups, renew and cancel leave it alone); after the
 * commit (or abort) it is gone, and nothing reads freed memory (ASan). */
Test(space, R_K_16_leased_txn_write_outlives_lease_until_commit) {
  px_space *s = open_sp("txlease");
  for (int commit = 0; commit < 2; commit++) {
    px_ts_txn *t;
    cr_assert_eq(px_ts_begin(s, &t), 0);
    cr_assert_eq(px_ts_write_tx(t, px_arr(2, px_str("l"), px_int(commit)), 10),
                 0);
    cr_assert_eq(px_clock_advance(20), 0); /* its lease has run out */
    px_val v;
    /* Lookups from outside and inside walk past it without reclaiming. */
    cr_assert_eq(px_ts_read(s, px_arr(2, px_str("l"), px_nil()), 0, &v),
                 PX_ETIMEDOUT);
    size_t n = 9;
    cr_assert_eq(px_ts_count(s, px_arr(2, px_nil(), px_nil()), &n), 0);
    cr_assert_eq(n, 0);
    if (commit)
      cr_assert_eq(px_ts_commit(t), 0);
    else
      cr_assert_eq(px_ts_abort(t), 0);
    /* Expired: invisible either way, and reclaimed by the next lookup. */
    cr_assert_eq(px_ts_read(s, px_arr(2, px_str("l"), px_nil()), 0, &v),
                 PX_ETIMEDOUT);
    cr_assert_eq(count_all(s, 2), 0);
  }
  px_space_close(s);
}

/* T-K-15: a txn take hides the tuple; abort restores it and a blocked
 * taker gets it; commit removes it for good. */
Test(space, T_K_15_txn_take_restored_on_abort) {
  px_space *s = open_sp("tx15");
  px_ts_write(s, px_arr(1, px_int(1)), 0, NULL);
  px_ts_txn *t;
  px_ts_begin(s, &t);
  px_val v;
  cr_assert_eq(px_ts_take_tx(t, px_arr(1, px_nil()), 0, &v), 0);
  px_val_release(v);
  cr_assert_eq(px_ts_take(s, px_arr(1, px_nil()), 0, &v), PX_ETIMEDOUT);
  agent_op("take", s, px_arr(1, px_nil()), -1, 1);
  wait_waiters(s, 1);
  cr_assert(no_result_now());
  cr_assert_eq(px_ts_abort(t), 0);
  cr_assert_eq(agent_result(NULL, &v), 0);
  cr_assert_eq(px_at(v, 0).u.i, 1);
  px_val_release(v);
  cr_assert_eq(count_all(s, 1), 0);
  px_ts_write(s, px_arr(1, px_int(2)), 0, NULL);
  px_ts_begin(s, &t);
  cr_assert_eq(px_ts_take_tx(t, px_arr(1, px_nil()), 0, &v), 0);
  px_val_release(v);
  cr_assert_eq(px_ts_commit(t), 0);
  cr_assert_eq(px__ts_stored(s), 0);
  px_space_close(s);
}

/* R-K-16: a transaction whose owner exits aborts. */
Test(space, R_K_16_txn_aborts_when_owner_exits) {
  px_space *s = open_sp("tx16");
  px_ts_write(s, px_arr(1, px_int(1)), 0, NULL);
  px_ref a = agent_spawn(NULL);
  agent_op_on(a, "txn_take_hold", s, px_arr(1, px_nil()), 0, 1, px_nil(), 0);
  cr_assert_eq(agent_result(NULL, NULL), 0);
  cr_assert_eq(count_all(s, 1), 0);
  px_exit(a, px_atom_val("kill"));
  for (long i = 0; count_all(s, 1) != 1; i++) {
    cr_assert(i < 200000000L);
    sched_yield();
  }
  px_space_close(s);
}

/* Tenancy: an actor of tenant acme may open only acme's spaces; a system
 * caller (this thread) opens any; kinds must agree; durable is not yet
 * available. */
Test(space, tenancy_and_kinds) {
  px_ref a = agent_spawn("acme");
  agent_op_on(a, "open", NULL, px_nil(), 0, 1, px_str("other"), 0);
  cr_assert_eq(agent_result(NULL, NULL), PX_EPERM);
  agent_op_on(a, "open", NULL, px_nil(), 0, 2, px_str("acme"), 0);
  cr_assert_eq(agent_result(NULL, NULL), 0);
  px_space *s1, *s2, *s3;
  cr_assert_eq(px_space_open("other", NULL, "sp", PX_SPACE_MEMORY, &s1), 0);
  cr_assert_eq(px_space_open("other", "default", "sp", PX_SPACE_MEMORY, &s2),
               0);
  cr_assert_eq(s1, s2); /* same (tenant, ns, name): same space */
  cr_assert_eq(px_space_open("acme", NULL, "sp", PX_SPACE_MEMORY, &s3), 0);
  cr_assert_neq(s1, s3);
  px_ts_write(s1, px_arr(1, px_int(1)), 0, NULL);
  cr_assert_eq(count_all(s3, 1), 0);
  cr_assert_eq(count_all(s2, 1), 1);
  px_space *d;
  cr_assert_eq(px_space_open("other", NULL, "sp", PX_SPACE_DURABLE, &d),
               PX_EEXIST);
  cr_assert_eq(px_space_open(NULL, NULL, "dur", PX_SPACE_DURABLE, &d),
               PX_ENOTSUP);
  px_space_close(s1);
  px_space_close(s2);
  px_space_close(s3);
}

/* R-K-16: a read under a txn read-locks the tuple: everyone may still read
 * it, nobody else (plain take, take_all, replace, another txn) may take it;
 * a blocked taker is served once every lock is released. */
Test(space, R_K_16_read_lock_blocks_other_takers) {
  px_space *s = open_sp("rl1");
  px_ts_write(s, px_arr(1, px_int(1)), 0, NULL);
  px_ts_txn *t1, *t2;
  cr_assert_eq(px_ts_begin(s, &t1), 0);
  cr_assert_eq(px_ts_begin(s, &t2), 0);
  px_val v;
  cr_assert_eq(px_ts_read_tx(t1, px_arr(1, px_nil()), 0, &v), 0);
  px_val_release(v);
  /* others still read */
  cr_assert_eq(px_ts_read(s, px_arr(1, px_nil()), 0, &v), 0);
  cr_assert_eq(px_at(v, 0).u.i, 1);
  px_val_release(v);
  cr_assert_eq(count_all(s, 1), 1);
  bool ex = false;
  cr_assert_eq(px_ts_exists(s, px_arr(1, px_nil()), &ex), 0);
  cr_assert(ex);
  /* ... but nobody else takes */
  cr_assert_eq(px_ts_take(s, px_arr(1, px_nil()), 0, &v), PX_ETIMEDOUT);
  cr_assert_eq(px_ts_take_tx(t2, px_arr(1, px_nil()), 0, &v), PX_ETIMEDOUT);
  cr_assert_eq(px_ts_replace(s, px_arr(1, px_nil()), px_arr(1, px_int(9)), 0,
                             &v),
               PX_ETIMEDOUT);
  cr_assert_eq(px_ts_take_all(s, px_arr(1, px_nil()), 0, &v), 0);
  cr_assert_eq(px_len(v), 0);
  px_val_release(v);
  /* write_if_absent sees it */
  cr_assert_eq(px_ts_write_if_absent(s, px_arr(1, px_nil()),
                                     px_arr(1, px_int(2)), 0),
               PX_EEXIST);
  /* a second txn may read-lock it too */
  cr_assert_eq(px_ts_read_tx(t2, px_arr(1, px_nil()), 0, &v), 0);
  px_val_release(v);
  /* an unlocked tuple is still taken around the locked one */
  px_ts_write(s, px_arr(1, px_int(3)), 0, NULL);
  cr_assert_eq(px_ts_take(s, px_arr(1, px_nil()), 0, &v), 0);
  cr_assert_eq(px_at(v, 0).u.i, 3);
  px_val_release(v);
  /* a blocked taker waits for both locks */
  agent_op("take", s, px_arr(1, px_nil()), -1, 1);
  wait_waiters(s, 1);
  cr_assert(no_result_now());
  cr_assert_eq(px_ts_abort(t2), 0);
  cr_assert_eq(px__ts_waiters(s), 1);
  cr_assert(no_result_now());
  cr_assert_eq(px_ts_commit(t1), 0);
  cr_assert_eq(agent_result(NULL, &v), 0);
  cr_assert_eq(px_at(v, 0).u.i, 1);
  px_val_release(v);
  cr_assert_eq(px__ts_waiters(s), 0);
  cr_assert_eq(px__ts_stored(s), 0);
  px_space_close(s);
}

/* R-K-16: the read lock goes when the txn commits (the tuple stays) or
 * aborts; a tuple written later is not locked; a read-locked tuple still
 * expires (and the txn then completes normally). */
Test(space, R_K_16_read_lock_released_on_commit_and_abort) {
  px_space *s = open_sp("rl2");
  px_val v;
  for (int commit = 0; commit < 2; commit++) {
    px_ts_write(s, px_arr(1, px_int(10 + commit)), 0, NULL);
    px_ts_txn *t;
    cr_assert_eq(px_ts_begin(s, &t), 0);
    cr_assert_eq(px_ts_read_tx(t, px_arr(1, px_nil()), 0, &v), 0);
    px_val_release(v);
    agent_op("take", s, px_arr(1, px_nil()), -1, 1);
    wait_waiters(s, 1);
    cr_assert(no_result_now());
    cr_assert_eq(commit ? px_ts_commit(t) : px_ts_abort(t), 0);
    cr_assert_eq(agent_result(NULL, &v), 0);
    cr_assert_eq(px_at(v, 0).u.i, 10 + commit);
    px_val_release(v);
    cr_assert_eq(px__ts_stored(s), 0);
  }
  /* released without a waiter: a plain take gets it afterwards */
  px_ts_write(s, px_arr(1, px_int(20)), 0, NULL);
  px_ts_txn *t;
  cr_assert_eq(px_ts_begin(s, &t), 0);
  cr_assert_eq(px_ts_read_tx(t, px_arr(1, px_nil()), 0, &v), 0);
  px_val_release(v);
  cr_assert_eq(px_ts_commit(t), 0);
  cr_assert_eq(px_ts_take(s, px_arr(1, px_nil()), 0, &v), 0);
  px_val_release(v);
  /* a tuple written before the txn's read is locked by it too */
  cr_assert_eq(px_ts_begin(s, &t), 0);
  px_ts_write(s, px_arr(1, px_int(30)), 0, NULL);
  cr_assert_eq(px_ts_read_tx(t, px_arr(1, px_int(30)), 0, &v), 0);
  px_val_release(v);
  cr_assert_eq(px_ts_take(s, px_arr(1, px_nil()), 0, &v), PX_ETIMEDOUT);
  cr_assert_eq(px_ts_abort(t), 0);
  cr_assert_eq(px_ts_take(s, px_arr(1, px_nil()), 0, &v), 0);
  px_val_release(v);
  /* a leased, read-locked tuple still expires; the txn ends cleanly */
  px_ts_write(s, px_arr(1, px_int(40)), 50, NULL);
  cr_assert_eq(px_ts_begin(s, &t), 0);
  cr_assert_eq(px_ts_read_tx(t, px_arr(1, px_nil()), 0, &v), 0);
  px_val_release(v);
  px_clock_advance(50);
  cr_assert_eq(count_all(s, 1), 0);
  cr_assert_eq(px_ts_commit(t), 0);
  cr_assert_eq(px__ts_stored(s), 0);
  px_space_close(s);
}

/* R-K-16: the reading txn itself may take what it read (then it is hidden
 * as any txn take), unless another txn also holds a read lock on it. */
Test(space, R_K_16_reader_txn_may_take_its_read) {
  px_space *s = open_sp("rl3");
  px_ts_write(s, px_arr(1, px_int(1)), 0, NULL);
  px_ts_txn *t1, *t2;
  cr_assert_eq(px_ts_begin(s, &t1), 0);
  px_val v;
  cr_assert_eq(px_ts_read_tx(t1, px_arr(1, px_nil()), 0, &v), 0);
  px_val_release(v);
  cr_assert_eq(px_ts_read_tx(t1, px_arr(1, px_nil()), 0, &v), 0); /* again */
  px_val_release(v);
  cr_assert_eq(px_ts_take_tx(t1, px_arr(1, px_nil()), 0, &v), 0);
  cr_assert_eq(px_at(v, 0).u.i, 1);
  px_val_release(v);
  cr_assert_eq(px_ts_read(s, px_arr(1, px_nil()), 0, &v), PX_ETIMEDOUT);
  cr_assert_eq(px_ts_abort(t1), 0); /* take and lock undone */
  cr_assert_eq(px_ts_take(s, px_arr(1, px_nil()), 0, &v), 0);
  px_val_release(v);
  /* two lockers: neither takes until the other is done */
  px_ts_write(s, px_arr(1, px_int(2)), 0, NULL);
  cr_assert_eq(px_ts_begin(s, &t1), 0);
  cr_assert_eq(px_ts_begin(s, &t2), 0);
  cr_assert_eq(px_ts_read_tx(t1, px_arr(1, px_nil()), 0, &v), 0);
  px_val_release(v);
  cr_assert_eq(px_ts_read_tx(t2, px_arr(1, px_nil()), 0, &v), 0);
  px_val_release(v);
  cr_assert_eq(px_ts_take_tx(t1, px_arr(1, px_nil()), 0, &v), PX_ETIMEDOUT);
  cr_assert_eq(px_ts_commit(t2), 0);
  cr_assert_eq(px_ts_take_tx(t1, px_arr(1, px_nil()), 0, &v), 0);
  cr_assert_eq(px_at(v, 0).u.i, 2);
  px_val_release(v);
  cr_assert_eq(px_ts_commit(t1), 0);
  cr_assert_eq(px__ts_stored(s), 0);
  px_space_close(s);
}

/* R-K-16: a txn whose owner exits aborts and drops its read locks; the
 * blocked taker is served. */
Test(space, R_K_16_read_lock_released_when_owner_exits) {
  px_space *s = open_sp("rl4");
  px_ts_write(s, px_arr(1, px_int(1)), 0, NULL);
  px_ref a = agent_spawn(NULL);
  agent_op_on(a, "txn_read_hold", s, px_arr(1, px_nil()), 0, 1, px_nil(), 0);
  cr_assert_eq(agent_result(NULL, NULL), 0);
  px_val v;
  cr_assert_eq(px_ts_take(s, px_arr(1, px_nil()), 0, &v), PX_ETIMEDOUT);
  cr_assert_eq(count_all(s, 1), 1);
  agent_op("take", s, px_arr(1, px_nil()), -1, 2);
  wait_waiters(s, 1);
  cr_assert(no_result_now());
  px_exit(a, px_atom_val("kill"));
  int64_t tag;
  cr_assert_eq(agent_result(&tag, &v), 0);
  cr_assert_eq(tag, 2);
  cr_assert_eq(px_at(v, 0).u.i, 1);
  px_val_release(v);
  cr_assert_eq(px__ts_stored(s), 0);
  /* a blocked read under a txn takes the lock when the tuple arrives
   * (offered to it); released again when that owner exits */
  a = agent_spawn(NULL);
  agent_op_on(a, "txn_read_hold", s, px_arr(1, px_nil()), -1, 3, px_nil(),
              0);
  wait_waiters(s, 1);
  px_ts_write(s, px_arr(1, px_int(5)), 0, NULL);
  cr_assert_eq(agent_result(&tag, &v), 0);
  cr_assert_eq(tag, 3);
  cr_assert_eq(px_at(v, 0).u.i, 5);
  px_val_release(v);
  cr_assert_eq(px_ts_take(s, px_arr(1, px_nil()), 0, &v), PX_ETIMEDOUT);
  agent_op("take", s, px_arr(1, px_nil()), -1, 4);
  wait_waiters(s, 1);
  cr_assert(no_result_now());
  px_exit(a, px_atom_val("kill"));
  cr_assert_eq(agent_result(&tag, &v), 0);
  cr_assert_eq(tag, 4);
  cr_assert_eq(px_at(v, 0).u.i, 5);
  px_val_release(v);
  cr_assert_eq(px__ts_stored(s), 0);
  px_space_close(s);
}

/* T-K-17 (as decided, see the header): with only locked matches, timeout 0
 * returns at once; a positive timeout waits, and times out when the txn
 * commits its take, or is served when a read lock is released. With no
 * match at all, timeout 0 returns at once and leaves no waiter. */
Test(space, T_K_17_locked_match_waits_with_timeout) {
  px_space *s = open_sp("k17");
  px_val v;
  cr_assert_eq(px_ts_take(s, px_arr(1, px_nil()), 0, &v), PX_ETIMEDOUT);
  cr_assert_eq(px_ts_read(s, px_arr(1, px_nil()), 0, &v), PX_ETIMEDOUT);
  cr_assert_eq(px__ts_waiters(s), 0);
  /* only match taken by T1: try returns at once; a timed take waits and
   * returns none when T1 commits */
  px_ts_write(s, px_arr(1, px_int(1)), 0, NULL);
  px_ts_txn *t;
  cr_assert_eq(px_ts_begin(s, &t), 0);
  cr_assert_eq(px_ts_take_tx(t, px_arr(1, px_nil()), 0, &v), 0);
  px_val_release(v);
  cr_assert_eq(px_ts_take(s, px_arr(1, px_nil()), 0, &v), PX_ETIMEDOUT);
  px_ref a = agent_op("take", s, px_arr(1, px_nil()), 100, 1);
  wait_waiters(s, 1);
  wait_parked(a);
  cr_assert_eq(px_ts_commit(t), 0);
  cr_assert(no_result_now());
  px_clock_advance(99);
  cr_assert(no_result_now());
  px_clock_advance(1);
  cr_assert_eq(agent_result(NULL, NULL), PX_ETIMEDOUT);
  cr_assert_eq(px__ts_waiters(s), 0);
  /* only match read-locked by T1: try take returns at once (try read
   * succeeds); a timed take is served when T1 aborts, before its timeout */
  px_ts_write(s, px_arr(1, px_int(2)), 0, NULL);
  cr_assert_eq(px_ts_begin(s, &t), 0);
  cr_assert_eq(px_ts_read_tx(t, px_arr(1, px_nil()), 0, &v), 0);
  px_val_release(v);
  cr_assert_eq(px_ts_take(s, px_arr(1, px_nil()), 0, &v), PX_ETIMEDOUT);
  cr_assert_eq(px_ts_read(s, px_arr(1, px_nil()), 0, &v), 0);
  px_val_release(v);
  a = agent_op("take", s, px_arr(1, px_nil()), 100, 2);
  wait_waiters(s, 1);
  wait_parked(a);
  px_clock_advance(50);
  cr_assert(no_result_now());
  cr_assert_eq(px_ts_abort(t), 0);
  cr_assert_eq(agent_result(NULL, &v), 0);
  cr_assert_eq(px_at(v, 0).u.i, 2);
  px_val_release(v);
  cr_assert_eq(px__ts_waiters(s), 0);
  cr_assert_eq(px__ts_stored(s), 0);
  px_space_close(s);
}
