/* The durability facet (issue 4): a durable counter comes back to its state
 * after a kill, from its journal and checkpoints; checkpoints truncate the
 * journal; deactivation checkpoints and exits {shutdown, idle};
 * no_journal keeps state only; GenServers work durably; the time-based
 * checkpoint; px_journal_show. */
#include "durable_test_util.h"
#include "plexspaces/gen_server.h"

TestSuite(durable, .init = dur_setup, .fini = dur_teardown, .timeout = 60);

Test(durable, counter_survives_kill_by_replay) {
  px_durable_opts o = counter_opts(0); /* 1000: no checkpoint here */
  px_ref r = spawn_counter("t/ns/counter/1", &o);
  for (int i = 0; i < 49; i++)
    px_send(r, px_atom_of("incr"), px_int(1));
  cr_assert_eq(ask_int(r, "incr", px_int(1)), 50);
  kill_wait(r);
  cr_assert_eq(atomic_load(&c_replays), 0);
  cr_assert_eq(journal_len("t/ns/counter/1"), 50);

  r = spawn_counter("t/ns/counter/1", &o);
  cr_assert_eq(ask_int(r, "get", px_nil()), 50);
  cr_assert_eq(atomic_load(&c_replays), 50, "every entry replayed once");
  cr_assert_eq(atomic_load(&c_inits), 2, "init runs at every spawn");
  cr_assert_eq(atomic_load(&c_bad_state), 0, "px_self_state is the user's");
  /* The get was journaled too: the next incarnation replays 51. */
  kill_wait(r);
  atomic_store(&c_replays, 0);
  r = spawn_counter("t/ns/counter/1", &o);
  cr_assert_eq(ask_int(r, "get", px_nil()), 50);
  cr_assert_eq(atomic_load(&c_replays), 51);
}

Test(durable, checkpoints_truncate_and_bound_the_replay) {
  const char *id = "t/ns/counter/ck";
  px_durable_opts o = counter_opts(10);
  px_ref r = spawn_counter(id, &o);
  for (int i = 0; i < 54; i++) px_send(r, px_atom_of("incr"), px_int(2));
  cr_assert_eq(ask_int(r, "incr", px_int(2)), 110);
  cr_assert_eq(ask_int(r, "get", px_nil()), 110);
  kill_wait(r);
  /* 56 messages: checkpoints after 10, 20, ..., 50 -> 6 entries left. */
  cr_assert_eq(journal_len(id), 6);
  uint64_t seq;
  px_val snap;
  cr_assert_eq(px_store_snapshot_get(t_st, id, &seq, &snap), 0);
  cr_assert_eq(seq, 50);
  cr_assert_eq(snap.u.i, 100);

  r = spawn_counter(id, &o);
  cr_assert_eq(ask_int(r, "get", px_nil()), 110);
  cr_assert_eq(atomic_load(&c_replays), 6, "only the tail is replayed");
}

Test(durable, explicit_checkpoint_covers_the_current_message) {
  const char *id = "t/ns/counter/explicit";
  px_durable_opts o = counter_opts(0);
  px_ref r = spawn_counter(id, &o);
  for (int i = 0; i < 5; i++) px_send(r, px_atom_of("incr"), px_int(1));
  cr_assert_eq(ask_int(r, "ckpt", px_nil()), 0);
  cr_assert_eq(journal_len(id), 0);
  kill_wait(r);
  r = spawn_counter(id, &o);
  cr_assert_eq(ask_int(r, "get", px_nil()), 6);
  cr_assert_eq(atomic_load(&c_replays), 0);
}

Test(durable, deactivate_checkpoints_then_exits_shutdown_idle) {
  const char *id = "t/ns/counter/idle";
  px_durable_opts o = counter_opts(0);
  px_ref r = spawn_counter(id, &o);
  for (int i = 0; i < 6; i++) px_send(r, px_atom_of("incr"), px_int(1));
  cr_assert_eq(ask_int(r, "incr", px_int(1)), 7);
  px_mref m = px_monitor(r);
  cr_assert_eq(px_durable_deactivate(r, px_nil()), 0);
  px_val reason = wait_down(m);
  cr_assert(is_pair(reason, "shutdown"), "reason {shutdown, idle}");
  cr_assert(px_is_atom(px_at(reason, 1), px_atom_of("idle")));
  cr_assert(px_reason_is_normal(reason));
  px_val_release(reason);
  cr_assert_eq(journal_len(id), 0, "the checkpoint truncated the journal");
  cr_assert_eq(px_durable_deactivate(r, px_nil()), PX_ENOPROC);

  r = spawn_counter(id, &o);
  cr_assert_eq(ask_int(r, "get", px_nil()), 7);
  cr_assert_eq(atomic_load(&c_replays), 0, "restored from the snapshot");
}

Test(durable, deactivate_drops_what_is_queued_behind) {
  const char *id = "t/ns/counter/idle2";
  px_durable_opts o = counter_opts(0);
  px_ref r = spawn_counter(id, &o);
  cr_assert_eq(ask_int(r, "incr", px_int(1)), 1);
  px_mref m = px_monitor(r);
  px_durable_deactivate(r, px_arr(2, px_atom_val("shutdown"),
                                  px_atom_val("moved")));
  px_val v;
  int rc = px_ask(r, px_atom_of("incr"), px_int(1), 5000, &v);
  cr_assert_eq(rc, PX_ENOPROC, "queued behind: answered noproc");
  px_val_release(v);
  px_val reason = wait_down(m);
  cr_assert(px_is_atom(px_at(reason, 1), px_atom_of("moved")));
  px_val_release(reason);
  r = spawn_counter(id, &o);
  cr_assert_eq(ask_int(r, "get", px_nil()), 1);
}

Test(durable, no_journal_keeps_checkpointed_state_only) {
  const char *id = "t/ns/grain/1";
  px_durable_opts o = counter_opts(3);
  o.no_journal = true;
  px_ref r = spawn_counter(id, &o);
  for (int i = 0; i < 6; i++) px_send(r, px_atom_of("incr"), px_int(1));
  cr_assert_eq(ask_int(r, "incr", px_int(1)), 7);
  cr_assert_eq(journal_len(id), 0, "no per-message journal");
  kill_wait(r);
  r = spawn_counter(id, &o);
  /* Checkpoints after 3 and 6 messages; the 7th was lost in the crash. */
  cr_assert_eq(ask_int(r, "get", px_nil()), 6);
  cr_assert_eq(atomic_load(&c_replays), 0);
  cr_assert_eq(ask_int(r, "incr", px_int(10)), 16);
  px_mref m = px_monitor(r);
  px_durable_deactivate(r, px_nil());
  px_val_release(wait_down(m));
  r = spawn_counter(id, &o);
  cr_assert_eq(ask_int(r, "get", px_nil()), 16, "deactivation checkpoints");
}

Test(durable, interval_checkpoint_on_the_virtual_clock) {
  const char *id = "t/ns/counter/timed";
  px_durable_opts o = counter_opts(0);
  o.checkpoint_interval_ms = 100;
  px_ref r = spawn_counter(id, &o);
  for (int i = 0; i < 3; i++)
    cr_assert_eq(ask_int(r, "incr", px_int(1)), i + 1);
  uint64_t seq;
  px_val snap;
  cr_assert_eq(px_store_snapshot_get(t_st, id, &seq, &snap), PX_ENOTFOUND);
  cr_assert_eq(px_clock_advance(100), 0); /* the tick is queued now */
  cr_assert_eq(ask_int(r, "get", px_nil()), 3);
  cr_assert_eq(px_store_snapshot_get(t_st, id, &seq, &snap), 0);
  cr_assert_eq(seq, 3);
  cr_assert_eq(snap.u.i, 3);
  cr_assert_eq(journal_len(id), 1, "the get after the tick");
  /* The next tick covers the get. */
  cr_assert_eq(px_clock_advance(100), 0);
  cr_assert_eq(ask_int(r, "get", px_nil()), 3);
  cr_assert_eq(px_store_snapshot_get(t_st, id, &seq, &snap), 0);
  cr_assert_eq(seq, 4);
}

Test(durable, message_that_crashed_the_actor_is_not_replayed) {
  const char *id = "t/ns/counter/crash";
  px_durable_opts o = counter_opts(0);
  px_ref r = spawn_counter(id, &o);
  cr_assert_eq(ask_int(r, "incr", px_int(4)), 4);
  px_mref m = px_monitor(r);
  px_send(r, px_atom_of("crash"), px_nil());
  px_val reason = wait_down(m);
  cr_assert(px_is_atom(reason, px_atom_of("crashed")));
  px_val_release(reason);
  cr_assert_eq(journal_len(id), 3, "incr, crash, and the crash mark");
  /* The next activation skips it instead of crashing again. */
  r = spawn_counter(id, &o);
  cr_assert_eq(ask_int(r, "incr", px_int(1)), 5);
  cr_assert_eq(atomic_load(&c_replays), 1, "only the incr");
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cr_assert_eq(px_journal_show(t_st, id, f), 0);
  fclose(f);
  cr_assert(strstr(buf, "crash     \"crashed\""), "%s", buf);
  free(buf);
}

Test(durable, message_cut_short_by_a_kill_is_replayed) {
  const char *id = "t/ns/counter/cut";
  px_durable_opts o = counter_opts(0);
  /* The handler parks in an ask to the test thread, which never answers:
   * the kill lands mid-message. */
  c_watcher = px_self();
  px_ref r = spawn_counter(id, &o);
  px_send(r, px_atom_of("tell_ask"), px_nil());
  px_message *msg;
  cr_assert_eq(px_receive(NULL, NULL, 5000, &msg), 0); /* it is parked */
  cr_assert_eq(msg->type, px_atom_of("seen_ask"));
  px_message_free(msg);
  kill_wait(r);
  r = spawn_counter(id, &o);
  /* Replayed: the handler runs again and asks again. */
  cr_assert_eq(px_receive(NULL, NULL, 5000, &msg), 0);
  cr_assert_eq(msg->type, px_atom_of("seen_ask"));
  px_reply(msg, px_nil());
  px_message_free(msg);
  cr_assert_eq(ask_int(r, "get", px_nil()), 1);
  cr_assert_eq(atomic_load(&c_replays), 1);
}

/* ---- a GenServer, durably ------------------------------------------------ */

static px_gs_result gs_init(px_val args, void **state, px_gs_out *out) {
  (void)args;
  (void)out;
  *state = calloc(1, sizeof(counter));
  return PX_GS_OK;
}

static px_gs_result gs_call(void *state, px_atom type, px_val payload,
                            px_from from, px_gs_out *out) {
  (void)from;
  counter *c = state;
  if (type == px_atom_of("stop"))
    return px_gs_stop_reply(out, px_atom_val("normal"), px_int(c->n));
  if (type == px_atom_of("add")) c->n += payload.u.i;
  if (px_is_replaying()) atomic_fetch_add(&c_replays, 1);
  return px_gs_reply(out, px_int(c->n));
}

static px_gs_result gs_cast(void *state, px_atom type, px_val payload,
                            px_gs_out *out) {
  (void)type;
  (void)out;
  ((counter *)state)->n += payload.u.i;
  return PX_GS_OK;
}

static _Atomic(int) gs_terminated;

static void gs_terminate(void *state, px_val reason) {
  (void)state;
  if (is_pair(reason, "shutdown")) atomic_fetch_add(&gs_terminated, 1);
}

static const px_gen_server gs_def = {
    .name = "durable_gs",
    .init = gs_init,
    .handle_call = gs_call,
    .handle_cast = gs_cast,
    .terminate = gs_terminate,
    .free_state = free,
};

Test(durable, gen_server_counter) {
  const char *id = "t/ns/gs/1";
  px_durable_opts o = counter_opts(4);
  px_ref r;
  cr_assert_eq(px_spawn_durable(px_gen_server_type(),
                                px_gen_server_args(&gs_def, px_nil()), id, &o,
                                NULL, &r),
               0);
  for (int i = 0; i < 5; i++) {
    px_val v;
    cr_assert_eq(px_gen_server_call(r, px_atom_of("add"), px_int(1), 0, &v), 0);
    px_val_release(v);
  }
  px_gen_server_cast(r, px_atom_of("add"), px_int(10));
  px_val v;
  cr_assert_eq(px_gen_server_call(r, px_atom_of("get"), px_nil(), 0, &v), 0);
  cr_assert_eq(v.u.i, 15);
  kill_wait(r);
  uint64_t seq;
  px_val snap;
  cr_assert_eq(px_store_snapshot_get(t_st, id, &seq, &snap), 0);
  cr_assert_eq(snap.u.i, 4, "encode saw the server's user state");

  cr_assert_eq(px_spawn_durable(px_gen_server_type(),
                                px_gen_server_args(&gs_def, px_nil()), id, &o,
                                NULL, &r),
               0);
  cr_assert_eq(px_gen_server_call(r, px_atom_of("get"), px_nil(), 0, &v), 0);
  cr_assert_eq(v.u.i, 15);
  cr_assert_eq(atomic_load(&c_replays), 2, "add #5 and get; the cast too");
  cr_assert_eq(px_gen_server_stop(r, px_nil(), 5000), 0);
}

/* ---- journal show -------------------------------------------------------- */

Test(durable, journal_show_prints_snapshots_and_entries) {
  const char *id = "t/ns/counter/show";
  px_durable_opts o = counter_opts(3); /* a checkpoint after the incrs */
  px_ref r = spawn_counter(id, &o);
  for (int i = 0; i < 3; i++) ask_int(r, "incr", px_int(5));
  px_val v;
  cr_assert_eq(px_ask(r, px_atom_of("fx"), px_nil(), 5000, &v), 0);
  px_val_release(v);
  kill_wait(r);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cr_assert_eq(px_journal_show(t_st, id, f), 0);
  fclose(f);
  cr_assert(strstr(buf, "journal t/ns/counter/show"), "%s", buf);
  cr_assert(strstr(buf, "snapshot  15"), "the snapshot and its state: %s",
            buf);
  cr_assert(strstr(buf, "{\"$atom\":\"fx\"},null,true]"), "%s", buf);
  cr_assert(strstr(buf, "[\"draw\",0,1001]"), "the effect: %s", buf);
  free(buf);
  f = open_memstream(&buf, &len);
  cr_assert_eq(px_journal_show(t_st, "t/ns/none", f), 0);
  fclose(f);
  cr_assert(strstr(buf, "(empty"), "%s", buf);
  free(buf);
  cr_assert_eq(px_journal_show(t_st, NULL, stdout), PX_EINVAL);
}

Test(durable, kill_while_appending_keeps_journal_and_state_in_step) {
  const char *id = "t/ns/counter/killed";
  px_durable_opts o = counter_opts(1000000); /* no truncation here */
  size_t total = 0;
  for (int round = 0; round < 5; round++) {
    px_ref r = spawn_counter(id, &o);
    for (int i = 0; i < 20; i++) px_send(r, px_atom_of("incr"), px_int(1));
    int64_t n = ask_int(r, "get", px_nil()); /* replayed, and going */
    cr_assert_eq(n, (int64_t)total + 20 - round, "round %d: %lld", round,
                 (long long)n);
    for (int i = 0; i < 200; i++) px_send(r, px_atom_of("incr"), px_int(1));
    kill_wait(r); /* most likely parked in an append */
    size_t j = journal_len(id);
    cr_assert_geq(j, total + 21, "nothing journaled was lost");
    total = j;
    cr_log_info("round %d: %zu journaled", round, j);
  }
  px_ref r = spawn_counter(id, &o);
  /* Every journaled message, and only those, is in the state. */
  cr_assert_eq(ask_int(r, "get", px_nil()), (int64_t)total - 5,
               "one get per round is journaled too");
}

Test(durable, gen_server_stopped_by_a_call_restarts_running) {
  const char *id = "t/ns/gs/stop";
  px_durable_opts o = counter_opts(0);
  px_ref r;
  px_mref m = 0;
  px_spawn_opts so = {.monitor = true, .mref_out = &m};
  cr_assert_eq(px_spawn_durable(px_gen_server_type(),
                                px_gen_server_args(&gs_def, px_nil()), id, &o,
                                &so, &r),
               0);
  px_val v;
  cr_assert_eq(px_gen_server_call(r, px_atom_of("add"), px_int(3), 0, &v), 0);
  cr_assert_eq(px_gen_server_call(r, px_atom_of("stop"), px_nil(), 0, &v), 0);
  cr_assert_eq(v.u.i, 3);
  px_val_release(wait_down(m));
  /* The stop is not replayed: the server runs, with its state. */
  cr_assert_eq(px_spawn_durable(px_gen_server_type(),
                                px_gen_server_args(&gs_def, px_nil()), id, &o,
                                NULL, &r),
               0);
  cr_assert_eq(px_gen_server_call(r, px_atom_of("add"), px_int(1), 0, &v), 0);
  cr_assert_eq(v.u.i, 4);
}

Test(durable, gen_server_deactivation_runs_terminate) {
  const char *id = "t/ns/gs/idle";
  px_durable_opts o = counter_opts(0);
  px_ref r;
  cr_assert_eq(px_spawn_durable(px_gen_server_type(),
                                px_gen_server_args(&gs_def, px_nil()), id, &o,
                                NULL, &r),
               0);
  px_val v;
  cr_assert_eq(px_gen_server_call(r, px_atom_of("add"), px_int(2), 0, &v), 0);
  px_mref m = px_monitor(r);
  cr_assert_eq(px_durable_deactivate(r, px_nil()), 0);
  px_val reason = wait_down(m);
  cr_assert(is_pair(reason, "shutdown"));
  px_val_release(reason);
  cr_assert_eq(atomic_load(&gs_terminated), 1, "terminate({shutdown, idle})");
  cr_assert_eq(journal_len(id), 0);
  cr_assert_eq(px_spawn_durable(px_gen_server_type(),
                                px_gen_server_args(&gs_def, px_nil()), id, &o,
                                NULL, &r),
               0);
  cr_assert_eq(px_gen_server_call(r, px_atom_of("get"), px_nil(), 0, &v), 0);
  cr_assert_eq(v.u.i, 2);
}
