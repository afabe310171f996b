/* Runtime features: spawn options, init args, terminate, names, exits,
 * stale refs, per-sender FIFO. */
#include "unit/actor/px_agent.h"

static void setup(void) { rt_start(); }
static void teardown(void) {
  atomic_store(&gate_open, 1);
  rt_stop();
}

TestSuite(lifecycle, .init = setup, .fini = teardown, .timeout = 60);

static void init_die_boom(agent *ag, px_val arg, const px_message *m) {
  (void)ag;
  (void)arg;
  (void)m;
  px_exit_self(A("boom"));
}

/* ---- spawn ------------------------------------------------------------------ */

Test(lifecycle, spawn_link_from_external_is_atomic) {
  for (int i = 0; i < 100; i++) {
    px_ref c;
    px_spawn_opts o = {.link = true};
    cr_assert_eq(px_spawn(&agent_type, agent_args(init_die_boom, px_nil()),
                          &o, &c),
                 0);
    /* The test thread's proxy traps: the exit becomes a message. */
    px_message *m = recv_type(px_a()->exit_msg);
    cr_assert(reason_is(exit_reason(m->payload), "boom"));
    cr_assert(px_ref_eq(exit_from(m->payload), c));
    px_message_free(m);
  }
  cr_assert(mailbox_empty());
}

static void body_spawn_monitor_child(agent *ag, px_val arg,
                                     const px_message *m) {
  (void)ag;
  (void)arg;
  px_mref mref = 0;
  px_ref c;
  px_spawn_opts o = {.monitor = true, .mref_out = &mref};
  cr_assert_eq(px_spawn(&agent_type, agent_args(init_die_boom, px_nil()), &o,
                        &c),
               0);
  px_reply(m, px_int((int64_t)mref));
}

Test(lifecycle, spawn_monitor_from_actor_is_atomic) {
  px_ref a = spawn_agent(NULL);
  for (int i = 0; i < 50; i++) {
    px_val mv;
    cr_assert_eq(agent_call_r(a, body_spawn_monitor_child, px_nil(), &mv), 0);
    px_message *m = expect_got("__DOWN__");
    cr_assert_eq(down_mref(got_payload(m)), (px_mref)mv.u.i);
    cr_assert(reason_is(down_reason(got_payload(m)), "boom"));
    px_message_free(m);
  }
}

/* An actor that keeps its init args and answers "args" with them. */
typedef struct keeper {
  px_val args;
} keeper;
static _Atomic int terminated;
static int keeper_init(px_val args, void **state) {
  keeper *k = calloc(1, sizeof *k);
  k->args = px_val_retain(args);
  *state = k;
  return 0;
}
static void keeper_handle(void *st, const px_message *m) {
  keeper *k = st;
  if (m->type == AT("args")) px_reply(m, px_val_retain(k->args));
  if (m->type == AT("die")) px_exit_self(px_val_retain(m->payload));
}
static void keeper_terminate(void *st, px_val reason) {
  (void)reason;
  keeper *k = st;
  px_val_release(k->args);
  free(k);
  atomic_fetch_add(&terminated, 1);
}
static const px_actor_type keeper_type = {.name = "keeper",
                                          .init = keeper_init,
                                          .handle = keeper_handle,
                                          .terminate = keeper_terminate};

Test(lifecycle, init_receives_args) {
  px_val args = px_map(2, px_str("k"), px_arr(2, px_int(1), px_str("two")),
                       A("flag"), px_bool(true));
  px_ref r;
  cr_assert_eq(px_spawn(&keeper_type, px_val_retain(args), NULL, &r), 0);
  px_val got;
  cr_assert_eq(px_ask(r, AT("args"), px_nil(), WAIT_MS, &got), 0);
  cr_assert(px_val_equal(got, args));
  px_val_release(got);
  px_val_release(args);
}

Test(lifecycle, terminate_runs_once_whatever_the_reason) {
  atomic_store(&terminated, 0);
  const char *how[] = {"normal", "boom", "kill", "shutdown"};
  for (int i = 0; i < 4; i++) {
    px_ref r;
    cr_assert_eq(px_spawn(&keeper_type, px_nil(), NULL, &r), 0);
    px_val v; /* make sure init ran: a kill before init runs no terminate */
    cr_assert_eq(px_ask(r, AT("args"), px_nil(), WAIT_MS, &v), 0);
    px_mref mon = px_monitor(r);
    if (i == 2)
      px_exit(r, A("kill"));
    else
      px_send(r, AT("die"), A(how[i]));
    px_val reason = wait_down(mon);
    px_val_release(reason);
    cr_assert_eq(atomic_load(&terminated), i + 1, "i=%d terminated=%d", i,
                 atomic_load(&terminated));
  }
}

Test(lifecycle, spawn_trap_exit_option) {
  px_spawn_opts o = {.trap_exit = true};
  px_ref a = spawn_agent(&o);
  px_exit(a, A("boom"));
  px_message *m = expect_got("__EXIT__");
  cr_assert(reason_is(exit_reason(got_payload(m)), "boom"));
  px_message_free(m);
  px_actor_info info;
  cr_assert_eq(px_actor_info_get(a, &info), 0);
  cr_assert(info.trap_exit);
}

Test(lifecycle, spawn_with_taken_name_spawns_nothing) {
  px_ref a = spawn_agent(NULL), b;
  cr_assert_eq(px_register("taken", a), 0);
  px_mref mref = 0;
  px_spawn_opts o = {.name = "taken", .monitor = true, .mref_out = &mref,
                     .link = true};
  cr_assert_eq(px_spawn(&agent_type, agent_args(NULL, px_nil()), &o, &b),
               PX_ENAMETAKEN);
  cr_assert_eq(px_runtime_wait_empty(0), PX_ETIMEDOUT);
  /* Wait for the would-be child to be gone, then check nothing of it
   * reached the caller: no DOWN, no exit signal. */
  WAIT_UNTIL(px_actors_count() == 1);
  agent_sync(a);
  cr_assert(mailbox_empty(), "a refused spawn leaves no trace");
}

/* ---- exits -------------------------------------------------------------------- */

Test(lifecycle, px_exit_kill_is_untrappable) {
  px_ref t = spawn_trapping();
  px_mref mon = px_monitor(t);
  px_exit(t, A("kill"));
  EXPECT_DOWN(mon, "killed");
  /* From an actor too. */
  t = spawn_trapping();
  px_ref c = spawn_agent(NULL);
  mon = px_monitor(t);
  agent_do(c, body_send_exit, px_arr(2, px_ref_val(t), A("kill")));
  EXPECT_DOWN(mon, "killed");
  cr_assert(none_queued(AT("got")), "no __EXIT__ for a kill");
}

Test(lifecycle, exit_reasons_are_values) {
  px_val reasons[] = {
      px_int(42),
      px_str("a string"),
      px_map(2, A("code"), px_int(7), px_str("detail"), px_arr(1, px_nil())),
      px_arr(2, A("shutdown"), A("idle")),
      px_double(1.5),
  };
  for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
    px_ref a = spawn_agent(NULL), l = spawn_trapping();
    cr_assert_eq(agent_call_r(l, body_link, px_ref_val(a), NULL), 0);
    px_mref mon = px_monitor(a);
    agent_do(a, body_exit, px_val_retain(reasons[i]));
    px_val r = wait_down(mon);
    cr_assert(px_val_equal(r, reasons[i]), "DOWN reason %zu", i);
    px_val_release(r);
    px_message *m = expect_got("__EXIT__");
    cr_assert(px_val_equal(exit_reason(got_payload(m)), reasons[i]));
    px_message_free(m);
  }
  px_type_stats s = stats_of("agent");
  cr_assert_eq(s.exits_normal, 1, "only {shutdown, idle} is normal");
  cr_assert_geq(s.exits_abnormal, 4);
  for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
    px_val_release(reasons[i]);
}

/* ---- stale refs ------------------------------------------------------------ */

Test(lifecycle, stale_refs_never_reach_newer_actor_in_same_slot) {
  px_ref old = spawn_agent(NULL);
  kill_and_wait(old);
  px_ref fresh = px_ref_nil();
  for (int i = 0; i < 20000 && px_ref_is_nil(fresh); i++) {
    px_ref n = spawn_agent(NULL);
    if (n.index == old.index)
      fresh = n;
    else
      kill_and_wait(n);
  }
  cr_assert(!px_ref_is_nil(fresh), "the slot was never reused");
  cr_assert_eq(fresh.index, old.index);
  cr_assert_neq(fresh.gen, old.gen);
  /* Every kind of signal to the old ref misses the new actor. */
  cr_assert_eq(px_send(old, AT("stale"), px_str("x")), 0);
  px_exit(old, A("kill"));
  px_exit(old, A("boom"));
  cr_assert_eq(px_link(old), PX_ENOPROC);
  px_message *m = recv_type(px_a()->exit_msg); /* the proxy traps */
  cr_assert(reason_is(exit_reason(m->payload), "noproc"));
  px_message_free(m);
  px_mref mon = px_monitor(old);
  EXPECT_DOWN(mon, "noproc");
  px_val r;
  cr_assert_eq(px_ask(old, AT("ping"), px_nil(), WAIT_MS, &r), PX_ENOPROC);
  px_val_release(r);
  cr_assert_eq(px_register("stale_name", old), PX_ENOPROC);
  agent_sync(fresh);
  cr_assert(none_queued(AT("got")), "the new actor got nothing");
  px_actor_info info;
  cr_assert_eq(px_actor_info_get(fresh, &info), 0, "still alive");
  cr_assert_eq(px_actor_info_get(old, &info), PX_ENOPROC);
}

/* ---- per-sender FIFO ---------------------------------------------------------- */

typedef struct fifo_rx {
  int64_t next[16];
  int64_t total;
  int64_t bad;
} fifo_rx;
static int fifo_init(px_val args, void **state) {
  (void)args;
  *state = calloc(1, sizeof(fifo_rx));
  return 0;
}
static void fifo_handle(void *st, const px_message *m) {
  fifo_rx *f = st;
  if (m->type == AT("n")) {
    int64_t who = px_at(m->payload, 0).u.i, seq = px_at(m->payload, 1).u.i;
    if (f->next[who] != seq) f->bad++;
    f->next[who] = seq + 1;
    f->total++;
  } else if (m->corr) {
    px_reply(m, px_arr(2, px_int(f->total), px_int(f->bad)));
  }
}
static void fifo_term(void *st, px_val r) {
  (void)r;
  free(st);
}
static const px_actor_type fifo_type = {
    .name = "fifo", .init = fifo_init, .handle = fifo_handle,
    .terminate = fifo_term};

/* arg = [receiver, id, count] */
static void body_send_numbered(agent *ag, px_val arg, const px_message *msg) {
  (void)ag;
  (void)msg;
  px_ref to;
  cr_assert(px_val_ref(px_at(arg, 0), &to));
  int64_t id = px_at(arg, 1).u.i, n = px_at(arg, 2).u.i;
  for (int64_t i = 0; i < n; i++)
    px_send(to, AT("n"), px_arr(2, px_int(id), px_int(i)));
  report("done", px_int(id));
}

Test(lifecycle, per_sender_fifo_many_senders) {
  px_ref rx;
  cr_assert_eq(px_spawn(&fifo_type, px_nil(), NULL, &rx), 0);
  const int senders = 8;
  const int64_t n = 20000;
  for (int i = 0; i < senders; i++) {
    px_ref s = spawn_agent(NULL);
    agent_do(s, body_send_numbered,
             px_arr(3, px_ref_val(rx), px_int(i), px_int(n)));
  }
  for (int i = 0; i < senders; i++) px_message_free(recv_type(AT("done")));
  /* Each sender's messages precede its "done"; but "done" went to us, so
   * wait for the receiver to count them all. */
  int64_t total = 0, bad = 0;
  uint64_t t0 = px_now_ms();
  while (total < senders * n) {
    px_val r;
    cr_assert_eq(px_ask(rx, AT("count"), px_nil(), WAIT_MS, &r), 0);
    total = px_at(r, 0).u.i;
    bad = px_at(r, 1).u.i;
    px_val_release(r);
    cr_assert(px_now_ms() - t0 < WAIT_MS, "receiver stuck at %lld",
              (long long)total);
  }
  cr_assert_eq(total, senders * n);
  cr_assert_eq(bad, 0, "per-sender order broken %lld times", (long long)bad);
}

/* ---- names ---------------------------------------------------------------- */

TestSuite(names, .init = setup, .fini = teardown, .timeout = 60);

Test(names, register_whereis_unregister) {
  px_ref a = spawn_agent(NULL), r;
  cr_assert_eq(px_whereis("n1", &r), PX_EBADNAME);
  cr_assert_eq(px_register("n1", a), 0);
  cr_assert_eq(px_whereis("n1", &r), 0);
  cr_assert(px_ref_eq(r, a));
  px_actor_info info;
  cr_assert_eq(px_actor_info_get(a, &info), 0);
  cr_assert_str_eq(info.name, "n1");
  cr_assert_eq(px_unregister("n1"), 0);
  cr_assert_eq(px_whereis("n1", &r), PX_EBADNAME);
  cr_assert_eq(px_unregister("n1"), PX_EBADNAME);
  /* Unregistered, it may take a new name. */
  cr_assert_eq(px_register("n2", a), 0);
  cr_assert_eq(px_whereis("n2", &r), 0);
  cr_assert(px_ref_eq(r, a));
}

Test(names, register_errors) {
  px_ref a = spawn_agent(NULL), b = spawn_agent(NULL);
  cr_assert_eq(px_register("", a), PX_EINVAL);
  cr_assert_eq(px_register("x", a), 0);
  cr_assert_eq(px_register("x", b), PX_ENAMETAKEN);
  cr_assert_eq(px_register("y", a), PX_EHASNAME);
  kill_and_wait(b);
  cr_assert_eq(px_register("z", b), PX_ENOPROC);
}

Test(names, send_to_unregistered_name_fails) {
  cr_assert_eq(px_send_name("ghost", AT("m"), px_str("payload")), PX_EBADNAME);
  px_ref a = spawn_agent(NULL);
  cr_assert_eq(px_register("ghost", a), 0);
  cr_assert_eq(px_send_name("ghost", AT("m"), px_int(1)), 0);
  px_message_free(expect_got("m"));
  cr_assert_eq(px_unregister("ghost"), 0);
  cr_assert_eq(px_send_name("ghost", AT("m"), px_int(2)), PX_EBADNAME);
}

Test(names, spawn_with_name) {
  px_spawn_opts o = {.name = "named"};
  px_ref a = spawn_agent(&o), r;
  cr_assert_eq(px_whereis("named", &r), 0);
  cr_assert(px_ref_eq(r, a));
  cr_assert_eq(px_spawn(&agent_type, agent_args(NULL, px_nil()), &o, &r),
               PX_ENAMETAKEN);
}

static void body_check_whereis(agent *ag, px_val arg, const px_message *msg) {
  (void)ag;
  px_ref t;
  cr_assert(px_val_ref(arg, &t));
  px_monitor(t);
  px_reply(msg, px_nil()); /* the caller goes on; we wait for the DOWN */
  px_message *m;
  cr_assert_eq(px_receive(match_type, (void *)px_a()->down_msg, -1, &m), 0);
  px_ref r;
  report("whereis", px_int(px_whereis("doomed", &r)));
  px_message_free(m);
}

/* R-B-17 / R-A-9 for each way of dying, seen by a watcher actor. */
Test(names, released_on_exit_before_down) {
  for (int how = 0; how < 3; how++) {
    px_ref t = spawn_agent(NULL), w = spawn_agent(NULL);
    cr_assert_eq(px_register("doomed", t), 0);
    agent_call(w, body_check_whereis, px_ref_val(t));
    if (how == 0) agent_do(t, body_exit, A("boom"));
    if (how == 1) px_exit(t, A("kill"));
    if (how == 2) agent_do(t, body_exit, A("normal"));
    px_message *m = recv_type(AT("whereis"));
    cr_assert_eq(m->payload.u.i, PX_EBADNAME, "name still there (how=%d)",
                 how);
    px_message_free(m);
  }
}
