/* Errors of the durability facet: bad arguments, a message that cannot be
 * journaled, a snapshot or entry that cannot be decoded at replay, and a
 * second live actor on one journal. */
#include "durable_test_util.h"

TestSuite(durable_err, .init = dur_setup, .fini = dur_teardown,
          .timeout = 60);

Test(durable_err, bad_arguments) {
  px_durable_opts o = counter_opts(0);
  px_ref r;
  cr_assert_eq(px_spawn_durable(NULL, px_nil(), "x", &o, NULL, &r), PX_EINVAL);
  cr_assert_eq(px_spawn_durable(&counter_t, px_nil(), NULL, &o, NULL, &r),
               PX_EINVAL);
  cr_assert_eq(px_spawn_durable(&counter_t, px_nil(), "", &o, NULL, &r),
               PX_EINVAL);
  cr_assert_eq(px_spawn_durable(&counter_t, px_str("args are released"), "x",
                                NULL, NULL, &r),
               PX_EINVAL);
  px_durable_opts bad = o;
  bad.store = NULL;
  cr_assert_eq(px_spawn_durable(&counter_t, px_nil(), "x", &bad, NULL, &r),
               PX_EINVAL);
  bad = o;
  bad.encode = NULL;
  cr_assert_eq(px_spawn_durable(&counter_t, px_nil(), "x", &bad, NULL, &r),
               PX_EINVAL);
  bad = o;
  bad.checkpoint_interval_ms = -1;
  cr_assert_eq(px_spawn_durable(&counter_t, px_nil(), "x", &bad, NULL, &r),
               PX_EINVAL);
  cr_assert_eq(px_durable_deactivate(px_ref_nil(), px_nil()), PX_ENOPROC);
}

Test(durable_err, name_taken_frees_the_record) {
  px_durable_opts o = counter_opts(0);
  px_spawn_opts so = {.name = "durable_named"};
  px_ref a, b;
  cr_assert_eq(px_spawn_durable(&counter_t, px_nil(), "t/ns/n/1", &o, &so, &a),
               0);
  cr_assert_eq(px_spawn_durable(&counter_t, px_nil(), "t/ns/n/2", &o, &so, &b),
               PX_ENAMETAKEN);
  /* LeakSanitizer checks that the refused actor's record was freed. */
}

static px_val deep(int depth) {
  px_val v = px_int(1);
  for (int i = 0; i < depth; i++) v = px_arr(1, v);
  return v;
}

Test(durable_err, unencodable_message_gets_an_error_actor_goes_on) {
  const char *id = "t/ns/err/enc";
  px_durable_opts o = counter_opts(0);
  px_ref r = spawn_counter(id, &o);
  cr_assert_eq(ask_int(r, "incr", px_int(1)), 1);
  px_val v;
  int rc = px_ask(r, px_atom_of("incr"), deep(600), 5000, &v);
  cr_assert_eq(rc, PX_EHANDLER, "got %s", px_err_name(rc));
  cr_assert(is_pair(v, "journal_failed"));
  cr_assert_str_eq(px_atom_name(px_at(v, 1).u.a), "EENCODE");
  px_val_release(v);
  cr_assert_eq(atomic_load(&c_live), 1, "the handler did not run");
  cr_assert_eq(ask_int(r, "incr", px_int(1)), 2, "the actor goes on");
  cr_assert_eq(journal_len(id), 2);
}

static void spawn_expect_exit(const char *id, const px_durable_opts *o,
                              px_val *reason) {
  px_mref m = 0;
  px_spawn_opts so = {.monitor = true, .mref_out = &m};
  px_ref r;
  cr_assert_eq(px_spawn_durable(&counter_t, px_nil(), id, o, &so, &r), 0);
  *reason = wait_down(m);
}

Test(durable_err, undecodable_snapshot_exits_journal_corrupt) {
  const char *id = "t/ns/err/snap";
  px_store_op op = {0};
  op.kind = PX_STORE_SNAPSHOT_PUT;
  op.space = id;
  op.id = 7;
  op.value = px_str("not a counter");
  cr_assert_eq(px_store_apply(t_st, &op, 1), 0);
  px_val_release(op.value);
  px_durable_opts o = counter_opts(0);
  px_val reason;
  spawn_expect_exit(id, &o, &reason);
  cr_assert(is_pair(reason, "journal_corrupt"));
  cr_assert_eq(px_at(reason, 1).u.i, 7);
  px_val_release(reason);
  uint64_t seq;
  px_val snap;
  cr_assert_eq(px_store_snapshot_get(t_st, id, &seq, &snap), 0);
  cr_assert_eq(seq, 7, "nothing overwritten");
  cr_assert_str_eq(px_str_ptr(snap), "not a counter");
  px_val_release(snap);
}

Test(durable_err, malformed_entry_exits_before_replaying_anything) {
  const char *id = "t/ns/err/entry";
  c_watcher = px_self();
  px_store_op ops[2] = {{0}, {0}};
  ops[0].kind = PX_STORE_JOURNAL_APPEND;
  ops[0].space = id;
  ops[0].id = 1;
  ops[0].key = "msg";
  ops[0].value = px_arr(3, px_atom_val("tell"), px_int(1), px_bool(false));
  ops[1] = ops[0];
  ops[1].id = 2;
  ops[1].value = px_int(42); /* not [type, payload, ask] */
  cr_assert_eq(px_store_apply(t_st, ops, 2), 0);
  px_val_release(ops[0].value);
  px_durable_opts o = counter_opts(0);
  px_val reason;
  spawn_expect_exit(id, &o, &reason);
  cr_assert(is_pair(reason, "journal_corrupt"));
  cr_assert_eq(px_at(reason, 1).u.i, 2);
  px_val_release(reason);
  cr_assert_eq(atomic_load(&c_replays), 0, "checked before replaying");
  cr_assert_eq(journal_len(id), 2, "nothing overwritten");
}

Test(durable_err, second_live_actor_loses_with_conflict) {
  const char *id = "t/ns/err/dup";
  px_durable_opts o = counter_opts(0);
  px_ref a = spawn_counter(id, &o);
  cr_assert_eq(ask_int(a, "incr", px_int(1)), 1);
  px_mref mb = 0;
  px_spawn_opts so = {.monitor = true, .mref_out = &mb};
  px_ref b;
  cr_assert_eq(px_spawn_durable(&counter_t, px_nil(), id, &o, &so, &b), 0);
  /* b has replayed seq 1; a takes seq 2 first. */
  cr_assert_eq(ask_int(b, "get", px_nil()), 1); /* b takes seq 2 ... */
  px_val v;
  int rc = px_ask(a, px_atom_of("incr"), px_int(1), 5000, &v);
  /* ... so a, now behind, is the loser. */
  cr_assert_eq(rc, PX_ENOPROC, "a lost the seq: %s", px_err_name(rc));
  cr_assert(is_pair(v, "conflict"));
  cr_assert_str_eq(px_str_ptr(px_at(v, 1)), id);
  px_val_release(v);
  /* b goes on; the journal has b's entries only after a's first. */
  cr_assert_eq(ask_int(b, "incr", px_int(5)), 6);
  cr_assert_eq(journal_len(id), 3);
  kill_wait(b);
  px_ref c = spawn_counter(id, &o);
  cr_assert_eq(ask_int(c, "get", px_nil()), 6);
  (void)mb;
}
