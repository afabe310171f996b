/* Workflows: what reaches a running execution from outside. Signals sent
 * while it is down arrive in order after the restart (T-I-10); a receive
 * replays the signal it consumed; queries are answered while parked and
 * never journaled; cancel during a timer (T-I-17); pause and resume; a
 * killed execution actor is recovered. */
#include "wf_test.h"

TestSuite(wf_msg, .init = wf_setup, .fini = wf_teardown, .timeout = 60);

static _Atomic int64_t got; /* signals received so far */

/* Receives 3 "item" signals and returns their payloads in order. */
static int run_collect(px_wf *wf, px_val input, px_val *result) {
  (void)input;
  px_wf_set_state(wf, &got);
  px_val p[3]; /* borrowed from the execution: nothing to leak on a kill */
  for (int i = 0; i < 3; i++) {
    px_val name;
    int rc = px_wf_signal_recv(wf, "item", -1, &name, &p[i]);
    if (rc) return rc;
    if (strcmp(px_str_ptr(name), "item")) return PX_EINVAL;
    atomic_store(&got, i + 1);
  }
  *result = px_arr(3, px_val_retain(p[0]), px_val_retain(p[1]),
                   px_val_retain(p[2]));
  return 0;
}
static const px_workflow_type T_COLLECT = {"collect", run_collect,
                                           query_state_int, 0};

Test(wf_msg, signals_sent_while_down_arrive_in_order) {
  wf_use(&T_COLLECT);
  atomic_store(&got, 0);
  cr_assert_eq(px_workflow_start("collect", "c", px_nil(), NULL), 0);
  cr_assert_eq(px_workflow_signal("c", "item", px_str("s0")), 0);
  wait_query_int("c", "got", 1);
  wf_crash(NULL);
  /* down: not recovered yet, the signals still go in */
  cr_assert_eq(px_workflow_signal("c", "other", px_str("ignored")), 0);
  cr_assert_eq(px_workflow_signal("c", "item", px_str("s1")), 0);
  cr_assert_eq(px_workflow_signal("c", "item", px_str("s2")), 0);
  px_val out;
  cr_assert_eq(px_workflow_query("c", "got", px_nil(), 100, &out),
               PX_ENOPROC, "open but down");
  wf_recover(1);
  px_val r;
  cr_assert_eq(wait_closed("c", &r), PX_WF_COMPLETED);
  cr_assert_eq(px_len(r), 3);
  cr_assert_str_eq(px_str_ptr(px_at(r, 0)), "s0", "replayed: the same one");
  cr_assert_str_eq(px_str_ptr(px_at(r, 1)), "s1");
  cr_assert_str_eq(px_str_ptr(px_at(r, 2)), "s2");
  px_val_release(r);
  jcount c = jread("c");
  cr_assert_eq(jkinds(&c, "recv"), 3);
  jfree(&c);
}

static _Atomic int64_t q_phase;

static int query_echo(px_wf *wf, const char *name, px_val args,
                      px_val *out) {
  if (!strcmp(name, "fail")) {
    *out = px_str("no such query");
    return PX_EINVAL;
  }
  if (!strcmp(name, "echo")) {
    *out = px_val_retain(args);
    return 0;
  }
  return query_state_int(wf, name, args, out);
}

static _Atomic int cleanup_calls;
static int cleanup(px_wf *wf, void *ud, px_val *out) {
  (void)wf;
  (void)ud;
  (void)out;
  atomic_fetch_add(&cleanup_calls, 1);
  return 0;
}

/* Sleeps 1 h; on cancel runs a cleanup step and closes as cancelled. */
static int run_sleeper(px_wf *wf, px_val input, px_val *result) {
  (void)input;
  px_wf_set_state(wf, &q_phase);
  atomic_store(&q_phase, 1);
  int rc = px_wf_sleep(wf, 3600000);
  if (rc == PX_ECANCELLED) {
    px_val v;
    int crc = px_step(wf, "cleanup", cleanup, NULL, NULL, &v);
    /* later commands run normally */
    *result = px_str(crc == 0 ? "cleaned up" : "cleanup refused");
    return PX_ECANCELLED;
  }
  atomic_store(&q_phase, 2);
  *result = px_str("woke");
  return rc;
}
static const px_workflow_type T_SLEEPER = {"sleeper", run_sleeper,
                                           query_echo, 0};

Test(wf_msg, queries_answer_while_parked_and_are_not_journaled) {
  wf_use(&T_SLEEPER);
  cr_assert_eq(px_workflow_start("sleeper", "q", px_nil(), NULL), 0);
  /* sent before run can have parked: answered once it has */
  px_val out;
  cr_assert_eq(px_workflow_query("q", "phase", px_nil(), 10000, &out), 0);
  cr_assert_eq(out.u.i, 1, "answered while parked in the sleep");
  uint64_t before = jlast("q");
  cr_assert_eq(px_workflow_query("q", "echo", px_str("hi"), 5000, &out), 0);
  cr_assert_str_eq(px_str_ptr(out), "hi");
  px_val_release(out);
  cr_assert_eq(px_workflow_query("q", "fail", px_nil(), 5000, &out),
               PX_EINVAL);
  cr_assert_str_eq(px_str_ptr(out), "no such query");
  px_val_release(out);
  cr_assert_eq(jlast("q"), before, "queries add nothing to the journal");
  cr_assert_eq(px_workflow_query("none", "x", px_nil(), 100, &out),
               PX_ENOTFOUND);
  cr_assert_eq(px_clock_advance(3600000), 0);
  px_val r;
  cr_assert_eq(wait_closed("q", &r), PX_WF_COMPLETED);
  cr_assert_str_eq(px_str_ptr(r), "woke");
  px_val_release(r);
  cr_assert_eq(px_workflow_query("q", "phase", px_nil(), 100, &out),
               PX_ENOTFOUND, "closed");
}

Test(wf_msg, cancel_during_a_timer) {
  wf_use(&T_SLEEPER);
  cr_assert_eq(px_workflow_start("sleeper", "k", px_nil(), NULL), 0);
  wait_query_int("k", "phase", 1);
  cr_assert_eq(px_workflow_cancel("k"), 0);
  px_val r;
  cr_assert_eq(wait_closed("k", &r), PX_WF_CANCELLED);
  cr_assert_str_eq(px_str_ptr(r), "cleaned up");
  px_val_release(r);
  cr_assert_eq(atomic_load(&cleanup_calls), 1);
  jcount c = jread("k");
  cr_assert_eq(jkinds(&c, "cancel"), 1);
  jfree(&c);
  cr_assert_eq(px_workflow_cancel("k"), PX_ENOTFOUND);
}

Test(wf_msg, cancel_replays_at_the_same_point) {
  wf_use(&T_SLEEPER);
  cr_assert_eq(px_workflow_start("sleeper", "k", px_nil(), NULL), 0);
  wait_query_int("k", "phase", 1);
  /* cancel while down: delivered where run is after the replay */
  wf_crash(NULL);
  cr_assert_eq(px_workflow_cancel("k"), 0);
  wf_recover(1);
  cr_assert_eq(wait_closed("k", NULL), PX_WF_CANCELLED);
  cr_assert_eq(atomic_load(&cleanup_calls), 1);
}

/* Waits for "go", then runs a step; the step counter shows progress. */
static _Atomic int64_t steps_done;
static int count_step(px_wf *wf, void *ud, px_val *out) {
  (void)wf;
  (void)ud;
  (void)out;
  atomic_fetch_add(&steps_done, 1);
  return 0;
}
static int run_gated(px_wf *wf, px_val input, px_val *result) {
  (void)input;
  (void)result;
  px_wf_set_state(wf, &steps_done);
  int rc = px_wf_signal_recv(wf, "go", -1, NULL, NULL);
  if (rc) return rc;
  px_val v;
  rc = px_step(wf, "after-go", count_step, NULL, NULL, &v);
  if (rc) return rc;
  return px_wf_sleep(wf, 10);
}
static const px_workflow_type T_GATED = {"gated", run_gated,
                                         query_state_int, 0};

Test(wf_msg, pause_holds_the_run_until_resume) {
  wf_use(&T_GATED);
  cr_assert_eq(px_workflow_start("gated", "g", px_nil(), NULL), 0);
  wait_query_int("g", "steps", 0);
  cr_assert_eq(px_workflow_pause("g"), 0);
  px_wf_status st;
  cr_assert_eq(px_workflow_status("g", &st, NULL), 0);
  cr_assert_eq(st, PX_WF_PAUSED);
  cr_assert_eq(px_workflow_signal("g", "go", px_nil()), 0);
  /* the query is answered after the pause and the signal were seen
   * (same sender, FIFO): paused, the step has not run */
  wait_query_int("g", "steps", 0);
  cr_assert_eq(px_workflow_wait("g", 0, &st, NULL), PX_ETIMEDOUT);
  /* a pause survives a restart */
  wf_crash(NULL);
  wf_recover(1);
  wait_query_int("g", "steps", 0);
  cr_assert_eq(px_workflow_status("g", &st, NULL), 0);
  cr_assert_eq(st, PX_WF_PAUSED);
  cr_assert_eq(px_workflow_resume("g"), 0);
  wait_query_int("g", "steps", 1); /* parked in the final sleep */
  cr_assert_eq(px_clock_advance(10), 0);
  cr_assert_eq(wait_closed("g", NULL), PX_WF_COMPLETED);
  cr_assert_eq(atomic_load(&steps_done), 1);
}

/* A receive with a timeout: the deadline is durable. */
static _Atomic int64_t rt_phase;
static int run_recv_timeout(px_wf *wf, px_val input, px_val *result) {
  (void)input;
  px_wf_set_state(wf, &rt_phase);
  atomic_store(&rt_phase, 1);
  int rc = px_wf_signal_recv(wf, "late", 60000, NULL, NULL);
  *result = px_int(rc);
  return 0;
}
static const px_workflow_type T_RT = {"rt", run_recv_timeout,
                                      query_state_int, 0};

Test(wf_msg, receive_timeout_is_durable) {
  wf_use(&T_RT);
  cr_assert_eq(px_workflow_start("rt", "t", px_nil(), NULL), 0);
  wait_query_int("t", "p", 1);
  cr_assert_eq(px_clock_advance(40000), 0);
  wait_query_int("t", "p", 1);
  wf_crash(NULL);
  wf_recover(1);
  wait_query_int("t", "p", 1);
  cr_assert_eq(px_clock_advance(19999), 0);
  wait_query_int("t", "p", 1);
  cr_assert_eq(px_clock_advance(1), 0);
  px_val r;
  cr_assert_eq(wait_closed("t", &r), PX_WF_COMPLETED);
  cr_assert_eq(r.u.i, PX_ETIMEDOUT);
}

Test(wf_msg, killed_execution_actor_is_recovered) {
  wf_use(&T_COLLECT);
  atomic_store(&got, 0);
  cr_assert_eq(px_workflow_start("collect", "kk", px_nil(), NULL), 0);
  cr_assert_eq(px_workflow_signal("kk", "item", px_int(1)), 0);
  wait_query_int("kk", "got", 1);
  px_actor_info info[64];
  size_t n = px_actors_list(info, 64);
  px_ref victim = px_ref_nil();
  for (size_t i = 0; i < n && i < 64; i++)
    if (info[i].type && !strcmp(info[i].type, "collect")) victim = info[i].ref;
  cr_assert(!px_ref_is_nil(victim));
  px_mref m = px_monitor(victim);
  cr_assert_eq(px_exit(victim, px_atom_val("kill")), 0);
  px_message *down;
  cr_assert_eq(px_receive(NULL, NULL, 5000, &down), 0);
  cr_assert_eq(down->type, px_a()->down_msg);
  px_message_free(down);
  (void)m;
  px_wf_status st;
  cr_assert_eq(px_workflow_status("kk", &st, NULL), 0);
  cr_assert_eq(st, PX_WF_RUNNING, "a kill is not a failure: it is down");
  cr_assert_eq(px_workflow_signal("kk", "item", px_int(2)), 0);
  wf_recover(1);
  cr_assert_eq(px_workflow_signal("kk", "item", px_int(3)), 0);
  px_val r;
  cr_assert_eq(wait_closed("kk", &r), PX_WF_COMPLETED);
  cr_assert_eq(px_at(r, 0).u.i, 1);
  cr_assert_eq(px_at(r, 1).u.i, 2);
  cr_assert_eq(px_at(r, 2).u.i, 3);
  px_val_release(r);
}

/* Concurrent signallers: every signal is received once, and each
 * sender's signals in the order it sent them (R-A-4 per sender). */
#define NSEND 8
#define NPER 10
static int run_gather(px_wf *wf, px_val input, px_val *result) {
  (void)input;
  px_val got_v[NSEND * NPER];
  for (int i = 0; i < NSEND * NPER; i++) {
    int rc = px_wf_signal_recv(wf, "n", -1, NULL, &got_v[i]);
    if (rc) return rc;
  }
  px_val a = px_array_new(NSEND * NPER);
  for (int i = 0; i < NSEND * NPER; i++)
    px_array_push(&a, px_val_retain(got_v[i]));
  *result = a;
  return 0;
}
static const px_workflow_type T_GATHER = {"gather", run_gather, NULL, 0};

static void sender(void *state, const px_message *m) {
  (void)state;
  int64_t base = m->payload.u.i;
  int bad = 0;
  for (int i = 0; i < NPER; i++)
    bad += px_workflow_signal("g", "n", px_int(base * 100 + i)) != 0;
  if (bad) px_log(PX_LOG_ERROR, "test", "%d signals refused", bad);
}
static const px_actor_type SENDER = {"sender", 0, NULL, sender, NULL};

Test(wf_msg, concurrent_signallers_lose_nothing_and_keep_their_order) {
  wf_use(&T_GATHER);
  cr_assert_eq(px_workflow_start("gather", "g", px_nil(), NULL), 0);
  px_ref s[NSEND];
  for (int i = 0; i < NSEND; i++) {
    cr_assert_eq(px_spawn(&SENDER, px_nil(), NULL, &s[i]), 0);
  }
  for (int i = 0; i < NSEND; i++)
    px_send(s[i], px_atom_of("go"), px_int(i));
  px_val r;
  cr_assert_eq(wait_closed("g", &r), PX_WF_COMPLETED);
  cr_assert_eq(px_len(r), NSEND * NPER);
  int64_t next[NSEND] = {0};
  for (size_t i = 0; i < px_len(r); i++) {
    int64_t v = px_at(r, i).u.i;
    int from = (int)(v / 100);
    cr_assert_eq(v % 100, next[from], "sender %d out of order", from);
    next[from]++;
  }
  px_val_release(r);
  for (int i = 0; i < NSEND; i++) px_exit(s[i], px_atom_val("kill"));
}

Test(wf_msg, cancel_beats_pause_and_cleanup_runs) {
  wf_use(&T_SLEEPER);
  atomic_store(&cleanup_calls, 0);
  cr_assert_eq(px_workflow_start("sleeper", "pc", px_nil(), NULL), 0);
  wait_query_int("pc", "phase", 1);
  cr_assert_eq(px_workflow_pause("pc"), 0);
  cr_assert_eq(px_workflow_cancel("pc"), 0);
  px_val r;
  cr_assert_eq(wait_closed("pc", &r), PX_WF_CANCELLED);
  cr_assert_str_eq(px_str_ptr(r), "cleaned up");
  px_val_release(r);
  cr_assert_eq(atomic_load(&cleanup_calls), 1);
}

/* Starts and signals racing: a signal that is accepted (also one sent
 * while the start is still being written) is never lost. */
#define NRACE 16
static px_ref race_main;
static void race_starter(void *state, const px_message *m) {
  (void)state;
  char id[16];
  snprintf(id, sizeof id, "r%lld", (long long)m->payload.u.i);
  int rc = px_workflow_start("park", id, px_nil(), NULL);
  px_send(race_main, px_atom_of("started"),
          px_arr(2, px_int(m->payload.u.i), px_int(rc)));
}
static void race_signaller(void *state, const px_message *m) {
  (void)state;
  int64_t i = m->payload.u.i;
  char id[16];
  snprintf(id, sizeof id, "r%lld", (long long)i);
  int rc = px_workflow_signal(id, "done", px_int(i));
  px_send(race_main, px_atom_of("signalled"),
          px_arr(2, px_int(i), px_int(rc)));
}
static const px_actor_type RACE_START = {"race_start", 0, NULL, race_starter,
                                         NULL};
static const px_actor_type RACE_SIG = {"race_sig", 0, NULL, race_signaller,
                                       NULL};

static int run_park2(px_wf *wf, px_val input, px_val *result) {
  (void)input;
  px_val payload;
  int rc = px_wf_signal_recv(wf, "done", -1, NULL, &payload);
  if (rc) return rc;
  *result = px_val_retain(payload);
  return 0;
}
static const px_workflow_type T_PARK2 = {"park", run_park2, NULL, 0};

Test(wf_msg, signals_racing_with_starts_are_never_lost) {
  wf_use(&T_PARK2);
  race_main = px_self();
  px_ref a[NRACE], b[NRACE];
  for (int i = 0; i < NRACE; i++) {
    cr_assert_eq(px_spawn(&RACE_START, px_nil(), NULL, &a[i]), 0);
    cr_assert_eq(px_spawn(&RACE_SIG, px_nil(), NULL, &b[i]), 0);
  }
  for (int i = 0; i < NRACE; i++) {
    px_send(a[i], px_atom_of("go"), px_int(i));
    px_send(b[i], px_atom_of("go"), px_int(i));
  }
  int sig_rc[NRACE];
  for (int n = 0; n < 2 * NRACE; n++) {
    px_message *m;
    cr_assert_eq(px_receive(NULL, NULL, 20000, &m), 0);
    int i = (int)px_at(m->payload, 0).u.i;
    int rc = (int)px_at(m->payload, 1).u.i;
    if (m->type == px_atom_of("started"))
      cr_assert_eq(rc, 0, "start r%d: %s", i, px_err_name(rc));
    else
      sig_rc[i] = rc;
    px_message_free(m);
  }
  for (int i = 0; i < NRACE; i++) {
    char id[16];
    snprintf(id, sizeof id, "r%d", i);
    cr_assert(sig_rc[i] == 0 || sig_rc[i] == PX_ENOTFOUND, "signal: %s",
              px_err_name(sig_rc[i]));
    if (sig_rc[i] == PX_ENOTFOUND) /* it came before the start */
      cr_assert_eq(px_workflow_signal(id, "done", px_int(i)), 0);
    px_val r;
    cr_assert_eq(wait_closed(id, &r), PX_WF_COMPLETED);
    cr_assert_eq(r.u.i, i, "the accepted signal arrived");
  }
  for (int i = 0; i < NRACE; i++) {
    px_exit(a[i], px_atom_val("kill"));
    px_exit(b[i], px_atom_val("kill"));
  }
}

/* Continue-as-new: an entity loop that adds "add" signals to a total and
 * continues as new every 3 of them; "stop" ends it with the total. */
static _Atomic int64_t can_runs;
static int run_counter(px_wf *wf, px_val input, px_val *result) {
  px_wf_set_state(wf, &can_runs);
  atomic_fetch_add(&can_runs, 1);
  int64_t total = input.u.i;
  for (int i = 0; i < 3; i++) {
    px_val name, payload;
    int rc = px_wf_signal_recv(wf, NULL, -1, &name, &payload);
    if (rc) return rc;
    if (!strcmp(px_str_ptr(name), "stop")) {
      *result = px_int(total);
      return 0;
    }
    total += payload.u.i;
  }
  return px_wf_continue_as_new(wf, px_int(total));
}
static const px_workflow_type T_COUNTER = {"counter", run_counter,
                                           query_state_int, 0};

Test(wf_msg, continue_as_new_keeps_the_journal_short_and_loses_no_signal) {
  wf_use(&T_COUNTER);
  cr_assert_eq(px_workflow_start("counter", "cn", px_int(0), NULL), 0);
  /* a burst: 10 signals, several runs' worth, most pending at the
   * moment a run continues as new */
  for (int i = 1; i <= 10; i++)
    cr_assert_eq(px_workflow_signal("cn", "add", px_int(i)), 0);
  wait_query_int("cn", "runs", 4); /* 3 + 3 + 3 consumed, parked in run 4 */
  cr_assert_leq(jlast("cn"), 3, "start + at most 2 receives");
  wf_crash(NULL); /* and it survives a restart in the middle */
  wf_recover(1);
  cr_assert_eq(px_workflow_signal("cn", "add", px_int(100)), 0);
  cr_assert_eq(px_workflow_signal("cn", "stop", px_nil()), 0);
  px_val r;
  cr_assert_eq(wait_closed("cn", &r), PX_WF_COMPLETED);
  cr_assert_eq(r.u.i, 55 + 100, "every signal counted once");
  jcount c = jread("cn");
  cr_assert_eq(jkinds(&c, "start"), 1);
  cr_assert_leq(c.n, 5, "start, 2 receives, stop's receive, status");
  jfree(&c);
}

/* A cancel that comes before run's first command: that command returns
 * PX_ECANCELLED; a zero sleep after it is a journaled no-op. */
static _Atomic int first_rc;
static int run_first(px_wf *wf, px_val input, px_val *result) {
  (void)input;
  (void)result;
  px_val go;
  /* wait until the test has cancelled: its signal comes after the cancel */
  int rc = px_wf_signal_recv(wf, "after-cancel", -1, NULL, &go);
  atomic_store(&first_rc, rc);
  if (rc != PX_ECANCELLED) return PX_EINVAL;
  rc = px_wf_sleep(wf, 0);
  return rc == 0 ? PX_ECANCELLED : rc;
}
static const px_workflow_type T_FIRST = {"first", run_first, NULL, 0};

Test(wf_msg, cancel_before_the_first_wait_is_delivered_there) {
  wf_use(&T_FIRST);
  cr_assert_eq(px_workflow_start("first", "f", px_nil(), NULL), 0);
  cr_assert_eq(px_workflow_cancel("f"), 0);
  cr_assert_eq(px_workflow_signal("f", "after-cancel", px_nil()), 0);
  cr_assert_eq(wait_closed("f", NULL), PX_WF_CANCELLED);
  cr_assert_eq(atomic_load(&first_rc), PX_ECANCELLED);
  jcount c = jread("f");
  cr_assert_eq(jkinds(&c, "cancel"), 1);
  cr_assert_eq(jkinds(&c, "timer"), 1, "the zero sleep is journaled");
  cr_assert_eq(jkinds(&c, "recv"), 0, "the receive was cancelled");
  jfree(&c);
}

/* Signal-with-start: starts with the signal in the inbox, attaches to an
 * open execution, starts anew after it closed. */
Test(wf_msg, signal_with_start_starts_or_attaches_and_delivers) {
  wf_use(&T_COLLECT);
  atomic_store(&got, 0);
  bool att = true;
  px_wf_start_opts o = {.attached_out = &att};
  cr_assert_eq(px_workflow_signal_with_start("collect", "sw", px_nil(),
                                             "item", px_int(1), &o),
               0);
  cr_assert(!att, "started");
  /* The signal went with the start: once the run has taken it, the
   * journal holds the start and that receive, nothing in between. (Read
   * at once, the journal may already hold the receive too.) */
  wait_query_int("sw", "got", 1);
  jcount c = jread("sw");
  cr_assert_eq(c.n, 2);
  cr_assert_str_eq(c.kinds[0], "start");
  cr_assert_str_eq(c.kinds[1], "recv");
  jfree(&c);
  cr_assert_eq(px_workflow_signal_with_start("collect", "sw", px_nil(),
                                             "item", px_int(2), &o),
               0);
  cr_assert(att, "attached");
  cr_assert_eq(px_workflow_signal("sw", "item", px_int(3)), 0);
  px_val r;
  cr_assert_eq(wait_closed("sw", &r), PX_WF_COMPLETED);
  cr_assert_eq(px_at(r, 0).u.i, 1);
  cr_assert_eq(px_at(r, 1).u.i, 2);
  cr_assert_eq(px_at(r, 2).u.i, 3);
  px_val_release(r);
  /* closed: a new execution, which gets this signal first */
  cr_assert_eq(px_workflow_signal_with_start("collect", "sw", px_nil(),
                                             "item", px_int(10), &o),
               0);
  cr_assert(!att);
  cr_assert_eq(px_workflow_signal("sw", "item", px_int(11)), 0);
  cr_assert_eq(px_workflow_signal("sw", "item", px_int(12)), 0);
  cr_assert_eq(wait_closed("sw", &r), PX_WF_COMPLETED);
  cr_assert_eq(px_at(r, 0).u.i, 10);
  cr_assert_eq(px_at(r, 2).u.i, 12);
  px_val_release(r);
  cr_assert_eq(px_workflow_signal_with_start("collect", "sw2", px_nil(), NULL,
                                             px_str("x"), NULL),
               PX_EINVAL, "and input and payload are released");
}
