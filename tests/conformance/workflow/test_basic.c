/* Workflows: lifecycle without crashes: steps are journaled and their
 * results returned, outcomes (completed, failed, crashed), id conflicts
 * and reuse (T-I-14), signals to closed executions (T-I-11), bad input. */
#include "wf_test.h"

TestSuite(wf_basic, .init = wf_setup, .fini = wf_teardown, .timeout = 60);

static _Atomic int calls;

static int add_one(px_wf *wf, void *ud, px_val *out) {
  (void)wf;
  atomic_fetch_add(&calls, 1);
  *out = px_int((int64_t)(intptr_t)ud + 1);
  return 0;
}

/* Three steps chained: input -> +1 -> +1 -> +1. */
static int run_chain(px_wf *wf, px_val input, px_val *result) {
  int64_t x = input.u.i;
  const char *names[3] = {"a", "b", "c"};
  for (int i = 0; i < 3; i++) {
    px_val v;
    int rc = px_step(wf, names[i], add_one, (void *)(intptr_t)x, NULL, &v);
    if (rc) return rc;
    x = v.u.i;
  }
  *result = px_int(x);
  return 0;
}
static const px_workflow_type T_CHAIN = {"chain", run_chain, NULL, 0};

Test(wf_basic, steps_complete_and_are_journaled) {
  wf_use(&T_CHAIN);
  cr_assert_eq(px_workflow_start("chain", "w1", px_int(10), NULL), 0);
  px_val r;
  cr_assert_eq(wait_closed("w1", &r), PX_WF_COMPLETED);
  cr_assert_eq(r.u.i, 13);
  cr_assert_eq(atomic_load(&calls), 3);
  jcount c = jread("w1");
  cr_assert_eq(c.n, 5, "start, 3 steps, status: got %zu", c.n);
  cr_assert_str_eq(c.kinds[0], "start");
  cr_assert_eq(jkinds(&c, "step"), 3);
  cr_assert_str_eq(c.kinds[4], "status");
  jfree(&c);
  px_wf_status st;
  px_val r2;
  cr_assert_eq(px_workflow_status("w1", &st, &r2), 0);
  cr_assert_eq(st, PX_WF_COMPLETED);
  cr_assert_eq(r2.u.i, 13);
  cr_assert_eq(px_workflow_status("nope", &st, NULL), PX_ENOTFOUND);
}

static int run_err(px_wf *wf, px_val input, px_val *result) {
  (void)wf;
  (void)input;
  *result = px_str("out of stock");
  return PX_EINVAL;
}
static const px_workflow_type T_ERR = {"err", run_err, NULL, 0};

static int run_crash(px_wf *wf, px_val input, px_val *result) {
  (void)input;
  (void)result;
  px_val v;
  px_step(wf, "a", add_one, NULL, NULL, &v);
  px_exit_self(px_atom_val("boom"));
  return 0;
}
static const px_workflow_type T_CRASH = {"crash", run_crash, NULL, 0};

Test(wf_basic, run_error_and_run_crash_fail_the_workflow_not_the_node) {
  wf_use(&T_ERR);
  wf_use(&T_CRASH);
  wf_use(&T_CHAIN);
  cr_assert_eq(px_workflow_start("err", "e", px_nil(), NULL), 0);
  cr_assert_eq(px_workflow_start("crash", "c", px_nil(), NULL), 0);
  px_val r;
  cr_assert_eq(wait_closed("e", &r), PX_WF_FAILED);
  cr_assert_str_eq(px_str_ptr(r), "out of stock");
  px_val_release(r);
  cr_assert_eq(wait_closed("c", &r), PX_WF_FAILED);
  cr_assert(strstr(px_str_ptr(r), "crashed") && strstr(px_str_ptr(r), "boom"),
            "%s", px_str_ptr(r));
  px_val_release(r);
  /* the node goes on */
  cr_assert_eq(px_workflow_start("chain", "after", px_int(0), NULL), 0);
  cr_assert_eq(wait_closed("after", &r), PX_WF_COMPLETED);
  cr_assert_eq(r.u.i, 3);
  /* a crashed execution is closed: recovery does not run it again */
  size_t n;
  cr_assert_eq(px_workflow_recover(&n), 0);
  cr_assert_eq(n, 0);
}

static int run_park(px_wf *wf, px_val input, px_val *result) {
  (void)input;
  px_val name, payload;
  int rc = px_wf_signal_recv(wf, "done", -1, &name, &payload);
  if (rc) return rc;
  (void)name;
  *result = px_val_retain(payload);
  return 0;
}
static const px_workflow_type T_PARK = {"park", run_park, NULL, 0};

Test(wf_basic, same_id_twice_and_reuse_policies) {
  wf_use(&T_PARK);
  cr_assert_eq(px_workflow_start("park", "p", px_nil(), NULL), 0);
  cr_assert_eq(px_workflow_start("park", "p", px_nil(), NULL), PX_EEXIST,
               "T-I-14: an open execution has the id");
  bool att = false;
  px_wf_start_opts o = {.on_open = PX_WF_CONFLICT_USE_EXISTING,
                        .attached_out = &att};
  cr_assert_eq(px_workflow_start("park", "p", px_nil(), &o), 0);
  cr_assert(att);
  px_wf_status st;
  cr_assert_eq(px_workflow_status("p", &st, NULL), 0);
  cr_assert_eq(st, PX_WF_RUNNING);
  cr_assert_eq(px_workflow_signal("p", "done", px_int(1)), 0);
  px_val r;
  cr_assert_eq(wait_closed("p", &r), PX_WF_COMPLETED);
  cr_assert_eq(r.u.i, 1);

  /* T-I-11: closed -> signals, cancels and pauses are refused */
  cr_assert_eq(px_workflow_signal("p", "done", px_int(2)), PX_ENOTFOUND);
  cr_assert_eq(px_workflow_cancel("p"), PX_ENOTFOUND);
  cr_assert_eq(px_workflow_pause("p"), PX_ENOTFOUND);
  cr_assert_eq(px_workflow_signal("never", "x", px_nil()), PX_ENOTFOUND);

  px_wf_start_opts rej = {.on_closed = PX_WF_REUSE_REJECT};
  cr_assert_eq(px_workflow_start("park", "p", px_nil(), &rej), PX_EEXIST);
  px_wf_start_opts failed_only = {.on_closed = PX_WF_REUSE_ALLOW_FAILED};
  cr_assert_eq(px_workflow_start("park", "p", px_nil(), &failed_only),
               PX_EEXIST, "it completed");
  /* default: a new execution whose journal replaces the old one */
  cr_assert_eq(px_workflow_start("park", "p", px_nil(), NULL), 0);
  cr_assert_eq(jlast("p"), 1, "a fresh journal: only its start");
  cr_assert_eq(px_workflow_signal("p", "done", px_int(7)), 0);
  cr_assert_eq(wait_closed("p", &r), PX_WF_COMPLETED);
  cr_assert_eq(r.u.i, 7, "the old inbox is gone with the old journal");
}

Test(wf_basic, bad_input_gets_errors) {
  wf_use(&T_CHAIN);
  cr_assert_eq(px_workflow_start("chain", "", px_nil(), NULL), PX_EINVAL);
  cr_assert_eq(px_workflow_start("chain", "a/b", px_nil(), NULL), PX_EINVAL);
  cr_assert_eq(px_workflow_start(NULL, "x", px_nil(), NULL), PX_EINVAL);
  cr_assert_eq(px_workflow_start("nosuchtype", "x", px_nil(), NULL),
               PX_ENOTFOUND);
  cr_assert_eq(px_workflow_signal("x", "", px_nil()), PX_EINVAL);
  px_workflow_type bad = {"bad", NULL, NULL, 0};
  cr_assert_eq(px_workflow_register(&bad, g_st), PX_EINVAL);
  px_workflow_type other = {"chain", run_err, NULL, 0};
  cr_assert_eq(px_workflow_register(&other, g_st), PX_EEXIST);
  cr_assert_eq(px_workflow_register(&T_CHAIN, g_st), 0, "same: a no-op");
  cr_assert_eq(px_workflow_status("x", NULL, NULL), PX_EINVAL);
  cr_assert_eq(px_workflow_wait("x", 0, NULL, NULL), PX_EINVAL);
  cr_assert_eq(px_workflow_query("x", "q", px_str("args"), 0, NULL),
               PX_EINVAL, "and the args are released");
  /* commands outside run */
  px_val v;
  cr_assert_eq(px_step(NULL, "a", add_one, NULL, NULL, &v), PX_EINVAL);
  cr_assert_eq(px_wf_sleep(NULL, 1), PX_EINVAL);
}

/* Reports where it runs: [tenant, ns, id, replaying, attempt outside a
 * step, the idempotency key outside a step]. */
static int run_where(px_wf *wf, px_val input, px_val *result) {
  (void)input;
  char buf[64];
  *result = px_arr(6, px_str(px_wf_tenant(wf)), px_str(px_wf_namespace(wf)),
                   px_str(px_wf_id(wf)), px_bool(px_wf_is_replaying(wf)),
                   px_int(px_wf_attempt(wf)),
                   px_int(px_wf_idempotency_key(wf, buf, sizeof buf)));
  return 0;
}
static const px_workflow_type T_WHERE = {"where", run_where, NULL, 0};

Test(wf_basic, ids_are_scoped_by_tenant_and_namespace) {
  wf_use(&T_WHERE);
  cr_assert_eq(px_workflow_start_in("acme", "sales", "where", "w", px_nil(),
                                    NULL),
               0);
  cr_assert_eq(px_workflow_start_in("beta", "sales", "where", "w", px_nil(),
                                    NULL),
               0, "the same id in another tenant is another execution");
  px_wf_status st;
  px_val r;
  cr_assert_eq(px_workflow_wait_in("acme", "sales", "w", 20000, &st, &r), 0);
  cr_assert_eq(st, PX_WF_COMPLETED);
  cr_assert_str_eq(px_str_ptr(px_at(r, 0)), "acme");
  cr_assert_str_eq(px_str_ptr(px_at(r, 1)), "sales");
  cr_assert_str_eq(px_str_ptr(px_at(r, 2)), "w");
  cr_assert(!px_at(r, 3).u.b);
  cr_assert_eq(px_at(r, 4).u.i, 0);
  cr_assert_eq(px_at(r, 5).u.i, PX_EINVAL);
  px_val_release(r);
  cr_assert_eq(px_workflow_wait_in("beta", "sales", "w", 20000, &st, NULL),
               0);
  cr_assert_eq(px_workflow_status("w", &st, NULL), PX_ENOTFOUND,
               "not in the caller's (default) scope");
  cr_assert_eq(px_workflow_start_in("a/b", NULL, "where", "w", px_nil(),
                                    NULL),
               PX_EINVAL);
}

/* A handler that starts a workflow and is killed while the start is in
 * the store: the start completes or not at all, never half (no id stuck
 * "starting"), and nothing leaks. */
static void starter(void *state, const px_message *m) {
  (void)state;
  px_workflow_start("chain", "k", px_int(m->payload.u.i), NULL);
  px_workflow_signal("k", "ignored", px_str("payload"));
}
static const px_actor_type STARTER = {"starter", 0, NULL, starter, NULL};

Test(wf_basic, a_starter_killed_while_parked_leaves_no_half_start) {
  wf_use(&T_CHAIN);
  px_ref a;
  cr_assert_eq(px_spawn(&STARTER, px_nil(), NULL, &a), 0);
  px_mref mr = px_monitor(a);
  (void)mr;
  cr_assert_eq(px_send(a, px_atom_of("go"), px_int(100)), 0);
  px_exit(a, px_atom_val("kill"));
  px_message *d;
  cr_assert_eq(px_receive(NULL, NULL, 5000, &d), 0);
  px_message_free(d);
  px_wf_status st;
  int rc = px_workflow_status("k", &st, NULL);
  if (rc == PX_ENOTFOUND) {
    cr_assert_eq(px_workflow_start("chain", "k", px_int(100), NULL), 0);
  } else {
    cr_assert_eq(rc, 0);
  }
  px_val r;
  cr_assert_eq(wait_closed("k", &r), PX_WF_COMPLETED);
  cr_assert_eq(r.u.i, 103);
}

/* An actor of tenant "acme" reaches its own executions, not another
 * tenant's. */
static void tenant_probe(void *state, const px_message *m) {
  (void)state;
  px_wf_status st;
  int own = px_workflow_status("w", &st, NULL);
  int other = px_workflow_status_in("beta", NULL, "w", &st, NULL);
  px_reply(m, px_arr(2, px_int(own), px_int(other)));
}
static const px_actor_type PROBE = {"probe", 0, NULL, tenant_probe, NULL};

Test(wf_basic, an_actor_reaches_only_its_tenant) {
  wf_use(&T_WHERE);
  cr_assert_eq(px_workflow_start_in("acme", NULL, "where", "w", px_nil(),
                                    NULL),
               0);
  cr_assert_eq(px_workflow_wait_in("acme", NULL, "w", 20000, &(px_wf_status){0},
                                   NULL),
               0);
  px_spawn_opts so = {.tenant = "acme", .ns = "default"};
  px_ref a;
  cr_assert_eq(px_spawn(&PROBE, px_nil(), &so, &a), 0);
  px_val r;
  cr_assert_eq(px_ask(a, px_atom_of("probe"), px_nil(), 5000, &r), 0);
  cr_assert_eq(px_at(r, 0).u.i, 0, "its own tenant's execution");
  cr_assert_eq(px_at(r, 1).u.i, PX_EPERM);
  px_val_release(r);
  px_exit(a, px_atom_val("kill"));
}

/* Absurd durations are cut, not overflowed (UBSan would abort). */
static int run_huge(px_wf *wf, px_val input, px_val *result) {
  (void)input;
  px_wf_set_state(wf, NULL);
  int rc = px_wf_signal_recv(wf, "x", INT64_MAX, NULL, NULL);
  *result = px_int(rc);
  return rc == PX_ECANCELLED ? 0 : rc;
}
static int huge_q(px_wf *wf, const char *name, px_val args, px_val *out) {
  (void)wf;
  (void)name;
  (void)args;
  *out = px_int(1);
  return 0;
}
static const px_workflow_type T_HUGE = {"huge", run_huge, huge_q, 0};

Test(wf_basic, absurd_durations_do_not_overflow) {
  wf_use(&T_HUGE);
  cr_assert_eq(px_workflow_start("huge", "h", px_nil(), NULL), 0);
  wait_query_int("h", "q", 1);
  cr_assert_eq(px_workflow_cancel("h"), 0);
  px_val r;
  cr_assert_eq(wait_closed("h", &r), PX_WF_COMPLETED);
  cr_assert_eq(r.u.i, PX_ECANCELLED);
}
