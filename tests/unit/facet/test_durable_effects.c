/* Side effects and sends of a durable actor across a kill and a replay:
 * an effect runs once and replay returns its recorded result; a changed
 * effect name is a non-determinism; sends made while replaying completed
 * messages are dropped. */
#include "durable_test_util.h"

TestSuite(durable_fx, .init = dur_setup, .fini = dur_teardown, .timeout = 60);

static px_val ask_val(px_ref r, const char *type) {
  px_val v;
  int rc = px_ask(r, px_atom_of(type), px_nil(), 5000, &v);
  cr_assert_eq(rc, 0, "ask %s: %s", type, px_err_name(rc));
  return v;
}

Test(durable_fx, effect_runs_once_replay_returns_the_record) {
  const char *id = "t/ns/fx/1";
  px_durable_opts o = counter_opts(0);
  px_ref r = spawn_counter(id, &o);
  px_val v = ask_val(r, "fx");
  cr_assert_eq(px_at(v, 0).u.i, 0);
  cr_assert_eq(px_at(v, 1).u.i, 1001);
  px_val_release(v);
  v = ask_val(r, "fx");
  cr_assert_eq(px_at(v, 1).u.i, 1002);
  px_val_release(v);
  cr_assert_eq(atomic_load(&c_fx_runs), 2);
  cr_assert_eq(journal_len(id), 4, "two messages, two effects");
  kill_wait(r);

  r = spawn_counter(id, &o);
  cr_assert_eq(ask_int(r, "get", px_nil()), 2003,
               "the replay added the recorded values");
  cr_assert_eq(atomic_load(&c_fx_runs), 2, "no effect ran again");
  cr_assert_eq(atomic_load(&c_replays), 2);
  /* Live again: a new effect runs. */
  v = ask_val(r, "fx");
  cr_assert_eq(px_at(v, 1).u.i, 1003);
  px_val_release(v);
  cr_assert_eq(atomic_load(&c_fx_runs), 3);
}

Test(durable_fx, renamed_effect_is_nondeterminism) {
  const char *id = "t/ns/fx/nde";
  px_durable_opts o = counter_opts(0);
  px_ref r = spawn_counter(id, &o);
  px_val_release(ask_val(r, "fx"));
  cr_assert_eq(ask_int(r, "get", px_nil()), 1001);
  kill_wait(r);
  atomic_store(&c_fx_name, "draw_v2"); /* the code changed */
  r = spawn_counter(id, &o);
  cr_assert_eq(ask_int(r, "get", px_nil()), 0, "the effect failed");
  cr_assert_eq(atomic_load(&c_last_fx_rc), PX_ENONDETERMINISM);
  cr_assert_eq(atomic_load(&c_fx_runs), 1, "fn not run on a mismatch");
}

Test(durable_fx, effect_outside_a_durable_actor_just_runs) {
  px_val v;
  cr_assert_eq(px_side_effect("draw", draw, NULL, &v), 0);
  cr_assert_eq(v.u.i, 1001);
  cr_assert_eq(px_side_effect("draw", draw, NULL, &v), 0);
  cr_assert_eq(v.u.i, 1002);
  cr_assert_eq(px_side_effect(NULL, draw, NULL, &v), PX_EINVAL);
  cr_assert_eq(px_side_effect("draw", NULL, NULL, &v), PX_EINVAL);
  cr_assert_not(px_is_replaying());
  cr_assert_eq(px_durable_seq(), 0);
  cr_assert_eq(px_durable_checkpoint(), PX_ENOTACTOR);
}

static bool match_seen(const px_message *m, void *ud) {
  (void)ud;
  return m->type == px_atom_of("seen");
}

static int drain_seen(void) {
  int n = 0;
  px_message *m;
  while (px_receive(match_seen, NULL, 0, &m) == 0) {
    n++;
    px_message_free(m);
  }
  return n;
}

Test(durable_fx, sends_of_completed_messages_are_not_repeated) {
  const char *id = "t/ns/fx/tell";
  c_watcher = px_self();
  px_durable_opts o = counter_opts(0);
  px_ref r = spawn_counter(id, &o);
  for (int i = 0; i < 5; i++) px_send(r, px_atom_of("tell"), px_int(i));
  cr_assert_eq(ask_int(r, "get", px_nil()), 5);
  cr_assert_eq(drain_seen(), 5);
  kill_wait(r);

  r = spawn_counter(id, &o);
  cr_assert_eq(ask_int(r, "get", px_nil()), 5, "state rebuilt by replay");
  cr_assert_eq(atomic_load(&c_replays), 6);
  cr_assert_eq(drain_seen(), 0, "replayed sends were dropped");
  /* Live sends work again after the replay. */
  px_send(r, px_atom_of("tell"), px_int(9));
  cr_assert_eq(ask_int(r, "get", px_nil()), 6);
  cr_assert_eq(drain_seen(), 1);
}

Test(durable_fx, last_message_with_done_mark_is_not_repeated) {
  const char *id = "t/ns/fx/tell_last";
  c_watcher = px_self();
  px_durable_opts o = counter_opts(0);
  px_ref r = spawn_counter(id, &o);
  px_send(r, px_atom_of("tell"), px_int(1));
  /* Wait for the message's send, then for its done mark to be stored. */
  px_message *m;
  cr_assert_eq(px_receive(match_seen, NULL, 5000, &m), 0);
  px_message_free(m);
  px_val done = px_nil();
  for (int i = 0; i < 5000; i++) {
    if (px_store_kv_get(t_st, id, "durable.done", &done, NULL) == 0) break;
    usleep(1000); /* polling the store, not synchronising actors */
  }
  cr_assert_eq(px_typeof(done), PX_T_INT, "done mark written");
  cr_assert_eq(done.u.i, 1);
  kill_wait(r);
  r = spawn_counter(id, &o);
  cr_assert_eq(ask_int(r, "get", px_nil()), 1);
  cr_assert_eq(drain_seen(), 0, "complete by its done mark");
}

Test(durable_fx, last_message_without_done_mark_sends_again) {
  const char *id = "t/ns/fx/tell_again";
  c_watcher = px_self();
  /* Journal a "tell" without running it: as if the node died right after
   * the append, before the handler's send. */
  px_store_op op = {0};
  op.kind = PX_STORE_JOURNAL_APPEND;
  op.space = id;
  op.id = 1;
  op.key = "msg";
  op.value = px_arr(3, px_atom_val("tell"), px_int(7), px_bool(false));
  cr_assert_eq(px_store_apply(t_st, &op, 1), 0);
  px_val_release(op.value);
  px_durable_opts o = counter_opts(0);
  px_ref r = spawn_counter(id, &o);
  cr_assert_eq(ask_int(r, "get", px_nil()), 1);
  cr_assert_eq(drain_seen(), 1, "at least once for an incomplete message");
}

Test(durable_fx, messages_without_sends_cost_one_append) {
  const char *id = "t/ns/fx/quiet";
  px_durable_opts o = counter_opts(0);
  px_ref r = spawn_counter(id, &o);
  for (int i = 0; i < 10; i++) ask_int(r, "incr", px_int(1));
  px_store_stats before, after;
  store_barrier();
  px_store_get_stats(t_st, &before);
  for (int i = 0; i < 10; i++) ask_int(r, "incr", px_int(1));
  store_barrier();
  px_store_get_stats(t_st, &after);
  cr_assert_eq(after.ops - before.ops, 11, "10 appends and the barrier");
  px_val v;
  cr_assert_eq(px_store_kv_get(t_st, id, "durable.done", &v, NULL),
               PX_ENOTFOUND, "no done mark without a send");
}

Test(durable_fx, stale_done_mark_of_a_deleted_stream_is_ignored) {
  const char *id = "t/ns/fx/reborn";
  c_watcher = px_self();
  px_store_op ops[2] = {{0}, {0}};
  ops[0].kind = PX_STORE_KV_PUT; /* left by an earlier, deleted stream */
  ops[0].space = id;
  ops[0].key = "durable.done";
  ops[0].value = px_int(100);
  ops[1].kind = PX_STORE_JOURNAL_APPEND;
  ops[1].space = id;
  ops[1].id = 1;
  ops[1].key = "msg";
  ops[1].value = px_arr(3, px_atom_val("tell"), px_int(7), px_bool(false));
  cr_assert_eq(px_store_apply(t_st, ops, 2), 0);
  px_val_release(ops[1].value);
  px_durable_opts o = counter_opts(0);
  px_ref r = spawn_counter(id, &o);
  cr_assert_eq(ask_int(r, "get", px_nil()), 1);
  cr_assert_eq(drain_seen(), 1, "not taken as complete");
}
