/* Conformance tests for supervisors: SEMANTICS.md section C. One test per
 * T-C case, and one per R-C rule that no T-C case covers; each is named
 * after the case it checks.
 *
 * Observation: children report `started` (from init), `stopped` (from
 * terminate, with the reason) and `got_exit` (trapped exits) to the test
 * thread's own mailbox; supervisor reports come there too. Events from a
 * chain of causally ordered actions arrive in that order, so start and stop
 * orders are checked with plain sequential receives. Time only moves by
 * px_clock_advance (virtual clock). */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plexspaces/px.h"
#include "plexspaces/supervisor.h"

#define WAIT_MS 10000 /* a failing test fails instead of hanging */

/* Worker flags (second init argument). */
enum {
  F_TRAP = 1,      /* trap exits and ignore them (reports got_exit) */
  F_FAIL_INIT = 2, /* init returns PX_EIO */
  F_EXIT_ODD = 4,  /* with F_TRAP: on an exit signal, exit with `oops` */
  F_UNLINK = 8,    /* unlink from the supervisor in init */
  F_IGNORE = 16,   /* init returns PX_EIGNORE */
};

static px_ref col; /* the test thread: collects events and reports */
static px_atom A_EV, A_REPORT, A_CRASH, A_PING;
static atomic_int start_errors;

/* ---- the worker ------------------------------------------------------------ */

typedef struct wstate {
  char name[32];
  int flags;
} wstate;

static void ev(const char *kind, const char *name, px_val data) {
  px_send(col, A_EV, px_arr(3, px_str(kind), px_str(name), data));
}

static int w_init(px_val args, void **state) {
  wstate *w = calloc(1, sizeof *w);
  snprintf(w->name, sizeof w->name, "%s", px_str_ptr(px_at(args, 0)));
  w->flags = (int)px_at(args, 1).u.i;
  *state = w;
  ev("started", w->name, px_val_retain(args));
  if (w->flags & F_FAIL_INIT) return PX_EIO;
  if (w->flags & F_IGNORE) return PX_EIGNORE;
  if (w->flags & F_TRAP) px_trap_exit(true);
  if (w->flags & F_UNLINK) {
    px_actor_info info;
    px_actor_info_get(px_self(), &info);
    px_unlink(info.parent);
  }
  return 0;
}

static void w_handle(void *state, const px_message *m) {
  wstate *w = state;
  if (m->type == A_CRASH) {
    px_exit_self(px_val_retain(m->payload));
  } else if (m->type == A_PING) {
    px_reply(m, px_atom_val("pong"));
  } else if (m->type == px_a()->exit_msg) {
    px_val r = px_get(m->payload, px_atomv(px_a()->exit_reason));
    ev("got_exit", w->name, px_val_retain(r));
    if (w->flags & F_EXIT_ODD) px_exit_self(px_atom_val("oops"));
  }
}

static void w_terminate(void *state, px_val reason) {
  wstate *w = state;
  if (!w) return;
  ev("stopped", w->name, px_val_retain(reason));
  free(w);
}

static const px_actor_type worker = {
    .name = "test_worker",
    .init = w_init,
    .handle = w_handle,
    .terminate = w_terminate,
};

/* ---- fixtures ---------------------------------------------------------------- */

static void reporter(const px_sup_report *r, void *ud) {
  (void)ud;
  if (r->kind == PX_SUP_REPORT_START_ERROR) atomic_fetch_add(&start_errors, 1);
  px_send(col, A_REPORT,
          px_arr(3, px_str(r->kind_name), px_str(r->child_id),
                 px_val_retain(r->reason)));
}

static void setup(void) {
  px_runtime_opts o = {.workers = 2, .virtual_clock = true};
  cr_assert_eq(px_runtime_start(&o), 0);
  A_EV = px_atom_of("ev");
  A_REPORT = px_atom_of("report");
  A_CRASH = px_atom_of("crash");
  A_PING = px_atom_of("ping");
  col = px_self();
  atomic_store(&start_errors, 0);
  px_sup_set_reporter(reporter, NULL);
}

static void teardown(void) {
  px_runtime_stop();
  px_sup_set_reporter(NULL, NULL);
}

TestSuite(supervise, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers ------------------------------------------------------------------- */

static px_child_spec wspec(const char *id, px_sup_restart r, int flags) {
  px_child_spec s = {
      .id = id,
      .start = px_sup_start_actor,
      .args = px_sup_actor_args(&worker, px_arr(2, px_str(id), px_int(flags))),
      .restart = r,
  };
  return s;
}

static px_ref start_sup(px_sup_strategy st, int intensity, px_child_spec *specs,
                        size_t n) {
  px_sup_flags f = PX_SUP_FLAGS_INIT;
  f.strategy = st;
  f.intensity = intensity;
  px_ref r;
  int rc = px_sup_start_link(&f, specs, n, &r);
  cr_assert_eq(rc, 0, "start_link: %s", px_err_name(rc));
  return r;
}

static bool is_type(const px_message *m, void *ud) {
  return m->type == *(px_atom *)ud;
}

typedef struct evq {
  const char *kind, *name;
} evq;

static bool is_ev(const px_message *m, void *ud) {
  evq *q = ud;
  return m->type == A_EV && strcmp(px_str_ptr(px_at(m->payload, 0)), q->kind) == 0 &&
         (!q->name || strcmp(px_str_ptr(px_at(m->payload, 1)), q->name) == 0);
}

/* The next event, which must be kind/name; its data goes to *data (or is
 * released). */
static void ev_next(const char *kind, const char *name, px_val *data) {
  px_message *m;
  cr_assert_eq(px_receive(is_type, &A_EV, WAIT_MS, &m), 0,
               "no event (wanted %s %s)", kind, name);
  const char *k = px_str_ptr(px_at(m->payload, 0));
  const char *n = px_str_ptr(px_at(m->payload, 1));
  cr_assert(strcmp(k, kind) == 0 && strcmp(n, name) == 0,
            "got event %s %s, wanted %s %s", k, n, kind, name);
  if (data) *data = px_val_retain(px_at(m->payload, 2));
  px_message_free(m);
}

/* The first event of kind/name, whatever comes before it. */
static void ev_find(const char *kind, const char *name, px_val *data) {
  evq q = {kind, name};
  px_message *m;
  cr_assert_eq(px_receive(is_ev, &q, WAIT_MS, &m), 0, "no event %s %s", kind,
               name);
  if (data) *data = px_val_retain(px_at(m->payload, 2));
  px_message_free(m);
}

static bool has_ev(const char *kind, const char *name) {
  evq q = {kind, name};
  px_message *m;
  if (px_receive(is_ev, &q, 0, &m) != 0) return false;
  px_message_free(m);
  return true;
}

static void assert_reason(px_val got, const char *want) {
  char b[128];
  px_val_format(got, b, sizeof b);
  cr_assert(px_is_atom(got, px_atom_of(want)), "reason %s, wanted %s", b,
            want);
}

static void ev_next_reason(const char *kind, const char *name,
                           const char *reason) {
  px_val d;
  ev_next(kind, name, &d);
  assert_reason(d, reason);
  px_val_release(d);
}

static bool is_report(const px_message *m, void *ud) {
  evq *q = ud;
  return m->type == A_REPORT &&
         strcmp(px_str_ptr(px_at(m->payload, 0)), q->kind) == 0 &&
         (!q->name || strcmp(px_str_ptr(px_at(m->payload, 1)), q->name) == 0);
}

static void report_find(const char *kind, const char *child, px_val *reason) {
  evq q = {kind, child};
  px_message *m;
  cr_assert_eq(px_receive(is_report, &q, WAIT_MS, &m), 0, "no report %s %s",
               kind, child);
  if (reason) *reason = px_val_retain(px_at(m->payload, 2));
  px_message_free(m);
}

static bool has_report(const char *kind, const char *child) {
  evq q = {kind, child};
  px_message *m;
  if (px_receive(is_report, &q, 0, &m) != 0) return false;
  px_message_free(m);
  return true;
}

static bool is_exit_of(const px_message *m, void *ud) {
  px_ref from;
  return m->type == px_a()->exit_msg &&
         px_val_ref(px_get(m->payload, px_atomv(px_a()->exit_from)), &from) &&
         px_ref_eq(from, *(px_ref *)ud);
}

/* The supervisor (linked to the test thread) exited with `reason`. */
static void expect_exit(px_ref sup, const char *reason) {
  px_message *m;
  cr_assert_eq(px_receive(is_exit_of, &sup, WAIT_MS, &m), 0,
               "supervisor did not exit");
  assert_reason(px_get(m->payload, px_atomv(px_a()->exit_reason)), reason);
  px_message_free(m);
}

static bool is_down_of(const px_message *m, void *ud) {
  px_val mr = px_get(m->payload, px_atomv(px_a()->monitor_ref));
  return m->type == px_a()->down_msg && (px_mref)mr.u.i == *(px_mref *)ud;
}

static void expect_down(px_mref mref, const char *reason) {
  px_message *m;
  cr_assert_eq(px_receive(is_down_of, &mref, WAIT_MS, &m), 0, "no DOWN");
  assert_reason(px_get(m->payload, px_atomv(px_a()->down_reason)), reason);
  px_message_free(m);
}

static size_t children(px_ref sup, px_sup_child_info *out, size_t cap) {
  size_t n = 0;
  int rc = px_sup_which_children(sup, out, cap, &n);
  cr_assert_eq(rc, 0, "which_children: %s", px_err_name(rc));
  return n;
}

/* The child's info; fails the test when absent. */
static px_sup_child_info child(px_ref sup, const char *id) {
  px_sup_child_info kids[16];
  size_t n = children(sup, kids, 16);
  for (size_t i = 0; i < n; i++)
    if (strcmp(kids[i].id, id) == 0) return kids[i];
  cr_assert_fail("child %s not found", id);
  return kids[0];
}

static bool has_child(px_ref sup, const char *id) {
  px_sup_child_info kids[16];
  size_t n = children(sup, kids, 16);
  for (size_t i = 0; i < n; i++)
    if (strcmp(kids[i].id, id) == 0) return true;
  return false;
}

static px_ref ref_of(px_ref sup, const char *id) {
  px_sup_child_info c = child(sup, id);
  cr_assert_eq(c.state, PX_SUP_CHILD_RUNNING, "%s not running", id);
  return c.ref;
}

static void crash(px_ref r, px_val reason) { px_send(r, A_CRASH, reason); }

/* Crashes r and returns once it is dead. Its link exit to the supervisor
 * was sent before the __DOWN__ we get (links fire first), so any ask sent
 * after this is handled after the supervisor has dealt with the exit. */
static void crash_wait(px_ref r, px_val reason) {
  px_mref m = px_monitor(r);
  crash(r, reason);
  px_message *msg;
  cr_assert_eq(px_receive(is_down_of, &m, WAIT_MS, &msg), 0, "no DOWN");
  px_message_free(msg);
}

/* ---- a parent actor ---------------------------------------------------------
 * The test thread cannot act as a parent that sends an exit signal: exit
 * signals from a non-worker thread carry a nil sender (see the report on
 * px_exit). So these tests start the supervisor from a parent actor and
 * crash the parent. Kinds: 0 = one_for_one [a, b, c]; 1 = one trapping
 * child x with the given shutdown; 2 = simple_one_for_one with three
 * trapping temporary children and the given shutdown. */
static px_child_spec wspec(const char *id, px_sup_restart r, int flags);

static int parent_init(px_val args, void **state) {
  int kind = (int)px_at(args, 0).u.i;
  int64_t shutdown = px_at(args, 1).u.i;
  px_sup_flags f = PX_SUP_FLAGS_INIT;
  px_child_spec s[3];
  size_t n = 0;
  if (kind == 0) {
    s[n++] = wspec("a", PX_SUP_PERMANENT, 0);
    s[n++] = wspec("b", PX_SUP_PERMANENT, 0);
    s[n++] = wspec("c", PX_SUP_PERMANENT, 0);
  } else {
    s[n++] = wspec(kind == 1 ? "x" : "s",
                   kind == 1 ? PX_SUP_PERMANENT : PX_SUP_TEMPORARY, F_TRAP);
    s[0].shutdown = shutdown;
    if (kind == 2) f.strategy = PX_SUP_SIMPLE_ONE_FOR_ONE;
  }
  px_ref sup;
  int rc = px_sup_start_link(&f, s, n, &sup);
  if (rc) return rc;
  for (int i = 0; kind == 2 && i < 3; i++) {
    px_ref c;
    px_sup_start_child_args(sup, px_nil(), &c);
  }
  ev("sup", "parent", px_ref_val(sup));
  return 0;
}

static void parent_handle(void *state, const px_message *m) {
  if (m->type == A_CRASH) px_exit_self(px_val_retain(m->payload));
}

static const px_actor_type parent_type = {"test_parent", 0, parent_init,
                                          parent_handle, NULL};

static void ev_find(const char *kind, const char *name, px_val *data);

/* Starts a supervisor under a parent actor; returns the supervisor, which
 * the test thread monitors (*mon). */
static px_ref via_parent(int kind, int64_t shutdown, px_ref *parent,
                         px_mref *mon) {
  cr_assert_eq(px_spawn(&parent_type, px_arr(2, px_int(kind), px_int(shutdown)),
                        NULL, parent), 0);
  px_val d;
  ev_find("sup", "parent", &d);
  px_ref sup;
  cr_assert(px_val_ref(d, &sup));
  px_val_release(d);
  *mon = px_monitor(sup);
  return sup;
}

static void start_abc(px_sup_strategy st, int intensity, px_ref *sup) {
  px_child_spec s[3] = {wspec("a", PX_SUP_PERMANENT, 0),
                        wspec("b", PX_SUP_PERMANENT, 0),
                        wspec("c", PX_SUP_PERMANENT, 0)};
  *sup = start_sup(st, intensity, s, 3);
  ev_next("started", "a", NULL);
  ev_next("started", "b", NULL);
  ev_next("started", "c", NULL);
}

/* ==== T-C cases ================================================================== */

Test(supervise, T_C_1_one_for_one_restarts_only_the_crashed_child) {
  px_ref sup;
  start_abc(PX_SUP_ONE_FOR_ONE, 1, &sup);
  px_ref a = ref_of(sup, "a"), b = ref_of(sup, "b"), c = ref_of(sup, "c");
  crash(b, px_atom_val("boom"));
  ev_next_reason("stopped", "b", "boom");
  ev_next("started", "b", NULL);
  cr_assert(px_ref_eq(ref_of(sup, "a"), a));
  cr_assert(px_ref_eq(ref_of(sup, "c"), c));
  cr_assert(!px_ref_eq(ref_of(sup, "b"), b), "b has a new ref");
  cr_assert(!has_ev("stopped", NULL), "nothing else stopped");
}

Test(supervise, T_C_2_one_for_all_stop_and_start_order) {
  px_ref sup;
  start_abc(PX_SUP_ONE_FOR_ALL, 1, &sup);
  crash(ref_of(sup, "b"), px_atom_val("boom"));
  ev_next_reason("stopped", "b", "boom");
  ev_next_reason("stopped", "c", "shutdown");
  ev_next_reason("stopped", "a", "shutdown");
  ev_next("started", "a", NULL);
  ev_next("started", "b", NULL);
  ev_next("started", "c", NULL);
  px_sup_counts k;
  cr_assert_eq(px_sup_count_children(sup, &k), 0);
  cr_assert_eq(k.active, 3);
}

Test(supervise, T_C_3_rest_for_one_restarts_the_rest) {
  px_child_spec s[4] = {
      wspec("a", PX_SUP_PERMANENT, 0), wspec("b", PX_SUP_PERMANENT, 0),
      wspec("c", PX_SUP_PERMANENT, 0), wspec("d", PX_SUP_PERMANENT, 0)};
  px_ref sup = start_sup(PX_SUP_REST_FOR_ONE, 1, s, 4);
  for (int i = 0; i < 4; i++) ev_next("started", (char[]){(char)('a' + i), 0}, NULL);
  px_ref a = ref_of(sup, "a");
  crash(ref_of(sup, "b"), px_atom_val("boom"));
  ev_next_reason("stopped", "b", "boom");
  ev_next_reason("stopped", "d", "shutdown");
  ev_next_reason("stopped", "c", "shutdown");
  ev_next("started", "b", NULL);
  ev_next("started", "c", NULL);
  ev_next("started", "d", NULL);
  cr_assert(px_ref_eq(ref_of(sup, "a"), a), "a untouched");
}

Test(supervise, T_C_5_restart_outside_the_window_is_tolerated) {
  px_ref sup;
  start_abc(PX_SUP_ONE_FOR_ONE, 1, &sup); /* period 5 */
  crash(ref_of(sup, "b"), px_atom_val("boom")); /* t = 0 */
  ev_next("stopped", "b", NULL);
  ev_next("started", "b", NULL);
  px_clock_advance(6000); /* the t=0 entry is older than 6-5 = 1 */
  crash(ref_of(sup, "b"), px_atom_val("boom"));
  ev_next("stopped", "b", NULL);
  ev_next("started", "b", NULL);
  cr_assert_eq(child(sup, "b").state, PX_SUP_CHILD_RUNNING);
}

Test(supervise, T_C_5_window_is_inclusive) {
  px_ref sup;
  start_abc(PX_SUP_ONE_FOR_ONE, 1, &sup);
  crash(ref_of(sup, "b"), px_atom_val("boom")); /* t = 0 */
  ev_next("stopped", "b", NULL);
  ev_next("started", "b", NULL);
  px_clock_advance(5000); /* t = 5: the t=0 entry is kept (0 >= 5-5) */
  crash(ref_of(sup, "b"), px_atom_val("boom"));
  expect_exit(sup, "shutdown");
  report_find("reached_max_restart_intensity", "b", NULL);
}

Test(supervise, T_C_6_intensity_zero_gives_up_at_once) {
  px_ref sup;
  start_abc(PX_SUP_ONE_FOR_ONE, 0, &sup);
  crash(ref_of(sup, "b"), px_atom_val("boom"));
  expect_exit(sup, "shutdown");
  cr_assert(!has_ev("started", "b"), "no restart attempted");
  px_val r;
  report_find("reached_max_restart_intensity", "b", &r);
  assert_reason(r, "reached_max_restart_intensity");
  px_val_release(r);
}

Test(supervise, T_C_7_one_for_all_counts_one_restart) {
  px_ref sup;
  start_abc(PX_SUP_ONE_FOR_ALL, 1, &sup);
  crash(ref_of(sup, "a"), px_atom_val("boom"));
  ev_find("started", "c", NULL); /* all three restarted: one decision */
  px_sup_counts k;
  cr_assert_eq(px_sup_count_children(sup, &k), 0, "supervisor survives");
  cr_assert_eq(k.active, 3);
  /* And it was counted: a second one inside the window is too many. */
  crash(ref_of(sup, "a"), px_atom_val("boom"));
  expect_exit(sup, "shutdown");
}

Test(supervise, T_C_9_temporary_child_is_not_restarted_by_one_for_all) {
  px_child_spec s[3] = {wspec("a", PX_SUP_PERMANENT, 0),
                        wspec("t", PX_SUP_TEMPORARY, 0),
                        wspec("c", PX_SUP_PERMANENT, 0)};
  px_ref sup = start_sup(PX_SUP_ONE_FOR_ALL, 1, s, 3);
  ev_next("started", "a", NULL);
  ev_next("started", "t", NULL);
  ev_next("started", "c", NULL);
  crash(ref_of(sup, "c"), px_atom_val("boom"));
  ev_next_reason("stopped", "c", "boom");
  ev_next_reason("stopped", "t", "shutdown");
  ev_next_reason("stopped", "a", "shutdown");
  ev_next("started", "a", NULL);
  ev_next("started", "c", NULL);
  cr_assert(!has_child(sup, "t"), "t is gone from which_children");
  cr_assert(!has_ev("started", "t"));
}

Test(supervise, T_C_10_permanent_child_exiting_normal_is_restarted) {
  px_ref sup;
  start_abc(PX_SUP_ONE_FOR_ONE, 1, &sup);
  crash(ref_of(sup, "a"), px_atom_val("normal"));
  ev_next_reason("stopped", "a", "normal");
  ev_next("started", "a", NULL);
  /* It counted toward the intensity. */
  crash(ref_of(sup, "a"), px_atom_val("normal"));
  expect_exit(sup, "shutdown");
}

Test(supervise, T_C_11_shutdown_timeout_then_kill) {
  px_ref parent;
  px_mref mon;
  px_ref sup = via_parent(1, 100, &parent, &mon);
  ev_next("started", "x", NULL);
  px_ref x = ref_of(sup, "x");
  crash(parent, px_atom_val("shutdown"));
  ev_next_reason("got_exit", "x", "shutdown"); /* ignored by x */
  /* The 100 ms timer was armed before x could see the signal. */
  px_clock_advance(99);
  px_val pong;
  cr_assert_eq(px_ask(x, A_PING, px_nil(), WAIT_MS, &pong), 0,
               "still alive at 99 ms");
  px_val_release(pong);
  px_clock_advance(1);
  ev_next_reason("stopped", "x", "killed");
  px_val r;
  report_find("shutdown_error", "x", &r);
  assert_reason(r, "killed");
  px_val_release(r);
  expect_down(mon, "shutdown");
}

static bool any_exit(const px_message *m, void *ud) {
  (void)ud;
  return m->type == px_a()->exit_msg;
}

Test(supervise, T_C_13_failed_start_at_init_stops_started_children) {
  px_child_spec s[3] = {wspec("a", PX_SUP_PERMANENT, 0),
                        wspec("b", PX_SUP_PERMANENT, F_FAIL_INIT),
                        wspec("c", PX_SUP_PERMANENT, 0)};
  px_sup_flags f = PX_SUP_FLAGS_INIT;
  px_ref sup;
  int rc = px_sup_start_link(&f, s, 3, &sup);
  cr_assert_eq(rc, PX_EINIT, "got %s", px_err_name(rc));
  ev_next("started", "a", NULL);
  ev_next("started", "b", NULL);
  px_val d;
  ev_next("stopped", "b", &d); /* its own init failure */
  cr_assert(px_is_atom(px_at(d, 0), px_a()->init_failed));
  cr_assert_eq(px_at(d, 1).u.i, PX_EIO);
  px_val_release(d);
  ev_next_reason("stopped", "a", "shutdown");
  cr_assert(!has_ev("started", "c"), "c never started");
  px_val r;
  report_find("start_error", "b", &r);
  cr_assert_eq(px_at(r, 1).u.i, PX_EIO);
  px_val_release(r);
  px_message *m;
  cr_assert_neq(px_receive(any_exit, NULL, 0, &m), 0,
                "the failed supervisor did not signal its caller");
}

/* Fails while `fail` is set; counts attempts; reports the first failure
 * and every success. */
static atomic_int attempts, fail, reported_fail;

static int flaky_start(px_val args, px_ref *out) {
  int n = atomic_fetch_add(&attempts, 1) + 1;
  if (atomic_load(&fail)) {
    if (!atomic_exchange(&reported_fail, 1)) ev("attempt_failed", "f", px_int(n));
    return PX_EIO;
  }
  ev("attempt_ok", "f", px_int(n));
  return px_sup_start_actor(args, out);
}

static px_child_spec flaky_spec(void) {
  px_child_spec s = wspec("f", PX_SUP_PERMANENT, 0);
  s.start = flaky_start;
  return s;
}

Test(supervise, T_C_14_failing_restart_is_retried_and_shows_restarting) {
  px_child_spec s[1] = {flaky_spec()};
  /* A huge intensity: the retries spin (virtual time stands still). */
  px_ref sup = start_sup(PX_SUP_ONE_FOR_ONE, 1 << 30, s, 1);
  ev_next("attempt_ok", "f", NULL);
  ev_next("started", "f", NULL);
  atomic_store(&fail, 1);
  crash(ref_of(sup, "f"), px_atom_val("boom"));
  ev_find("attempt_failed", "f", NULL);
  px_sup_child_info c = child(sup, "f");
  cr_assert_eq(c.state, PX_SUP_CHILD_RESTARTING);
  cr_assert(px_ref_is_nil(c.ref));
  cr_assert_eq(px_sup_delete_child(sup, "f"), PX_ERESTARTING);
  cr_assert_eq(px_sup_restart_child(sup, "f", &c.ref), PX_ERESTARTING);
  atomic_store(&fail, 0);
  ev_find("attempt_ok", "f", NULL);
  cr_assert_eq(child(sup, "f").state, PX_SUP_CHILD_RUNNING);
  cr_assert_gt(atomic_load(&start_errors), 0);
}

Test(supervise, T_C_14_each_failed_attempt_counts) {
  px_child_spec s[1] = {flaky_spec()};
  px_ref sup = start_sup(PX_SUP_ONE_FOR_ONE, 3, s, 1);
  ev_next("attempt_ok", "f", NULL);
  ev_next("started", "f", NULL);
  atomic_store(&attempts, 0);
  atomic_store(&fail, 1);
  crash(ref_of(sup, "f"), px_atom_val("boom"));
  expect_exit(sup, "shutdown");
  /* Restart decisions 1..3 ran the start function and failed; the 4th
   * exceeded intensity 3 and the supervisor gave up without starting. */
  cr_assert_eq(atomic_load(&attempts), 3);
  cr_assert_eq(atomic_load(&start_errors), 3);
  report_find("reached_max_restart_intensity", "f", NULL);
}

Test(supervise, T_C_15_start_child_with_running_id) {
  px_ref sup;
  start_abc(PX_SUP_ONE_FOR_ONE, 1, &sup);
  px_ref a = ref_of(sup, "a"), got;
  px_child_spec s = wspec("a", PX_SUP_PERMANENT, 0);
  cr_assert_eq(px_sup_start_child(sup, &s, &got), PX_EALREADYSTARTED);
  cr_assert(px_ref_eq(got, a), "the running child's ref is returned");
  cr_assert_eq(px_sup_terminate_child(sup, "a"), 0);
  s = wspec("a", PX_SUP_PERMANENT, 0);
  cr_assert_eq(px_sup_start_child(sup, &s, &got), PX_EALREADYPRESENT);
}

Test(supervise, T_C_17_simple_one_for_one) {
  px_child_spec s[1] = {{.start = px_sup_start_actor,
                         .args = px_sup_actor_args(
                             &worker, px_arr(2, px_str("s"), px_int(0))),
                         .restart = PX_SUP_TEMPORARY}};
  px_ref sup = start_sup(PX_SUP_SIMPLE_ONE_FOR_ONE, 1, s, 1);
  px_ref c1, c2;
  cr_assert_eq(px_sup_start_child_args(sup, px_arr(1, px_int(1)), &c1), 0);
  cr_assert_eq(px_sup_start_child_args(sup, px_arr(1, px_int(2)), &c2), 0);
  px_val d;
  ev_next("started", "s", &d); /* init args are template ++ extra */
  cr_assert_eq(px_len(d), 3);
  cr_assert_eq(px_at(d, 2).u.i, 1);
  px_val_release(d);
  ev_next("started", "s", &d);
  cr_assert_eq(px_at(d, 2).u.i, 2);
  px_val_release(d);
  cr_assert(!px_ref_eq(c1, c2));
  cr_assert_eq(px_sup_delete_child(sup, "s"), PX_ESIMPLEONEFORONE);
  cr_assert_eq(px_sup_restart_child(sup, "s", &c1), PX_ESIMPLEONEFORONE);
  cr_assert_eq(px_sup_terminate_child(sup, "s"), PX_ESIMPLEONEFORONE);
  px_child_spec extra = wspec("z", PX_SUP_TEMPORARY, 0);
  cr_assert_eq(px_sup_start_child(sup, &extra, &c1), PX_ESIMPLEONEFORONE);
  px_sup_counts k;
  cr_assert_eq(px_sup_count_children(sup, &k), 0);
  cr_assert_eq(k.active, 2);
  cr_assert_eq(px_sup_stop(sup), 0);
  ev_next_reason("stopped", "s", "shutdown"); /* any order */
  ev_next_reason("stopped", "s", "shutdown");
}

Test(supervise, T_C_18_any_significant_auto_shutdown) {
  px_child_spec s[2] = {wspec("a", PX_SUP_PERMANENT, 0),
                        wspec("sig", PX_SUP_TRANSIENT, 0)};
  s[1].significant = true;
  px_sup_flags f = PX_SUP_FLAGS_INIT;
  f.auto_shutdown = PX_SUP_AUTO_ANY_SIGNIFICANT;
  px_ref sup;
  cr_assert_eq(px_sup_start_link(&f, s, 2, &sup), 0);
  ev_next("started", "a", NULL);
  ev_next("started", "sig", NULL);
  /* Abnormal: restarted, no auto-shutdown. */
  crash(ref_of(sup, "sig"), px_atom_val("boom"));
  ev_next_reason("stopped", "sig", "boom");
  ev_next("started", "sig", NULL);
  cr_assert_eq(child(sup, "sig").state, PX_SUP_CHILD_RUNNING);
  /* Normal: the supervisor shuts down, stopping the others. */
  crash(ref_of(sup, "sig"), px_atom_val("normal"));
  ev_next_reason("stopped", "sig", "normal");
  ev_next_reason("stopped", "a", "shutdown");
  expect_exit(sup, "shutdown");
  report_find("auto_shutdown", "", NULL);
}

Test(supervise, T_C_19_all_significant_auto_shutdown) {
  px_child_spec s[3] = {wspec("a", PX_SUP_PERMANENT, 0),
                        wspec("t1", PX_SUP_TEMPORARY, 0),
                        wspec("t2", PX_SUP_TEMPORARY, 0)};
  s[1].significant = s[2].significant = true;
  px_sup_flags f = PX_SUP_FLAGS_INIT;
  f.auto_shutdown = PX_SUP_AUTO_ALL_SIGNIFICANT;
  px_ref sup;
  cr_assert_eq(px_sup_start_link(&f, s, 3, &sup), 0);
  crash_wait(ref_of(sup, "t1"), px_atom_val("normal"));
  px_sup_counts k;
  cr_assert_eq(px_sup_count_children(sup, &k), 0, "supervisor stays");
  cr_assert_eq(k.specs, 2);
  crash(ref_of(sup, "t2"), px_atom_val("boom"));
  expect_exit(sup, "shutdown");
  ev_find("stopped", "a", NULL);
}

static px_child_spec sub_spec(px_sup_restart r, int sub_intensity) {
  px_sup_flags f = PX_SUP_FLAGS_INIT;
  f.intensity = sub_intensity;
  px_child_spec w[1] = {wspec("w", PX_SUP_PERMANENT, 0)};
  px_child_spec s = {.id = "sub",
                     .start = px_sup_start_sub,
                     .args = px_sup_sub_args(&f, w, 1),
                     .restart = r,
                     .type = PX_SUP_SUPERVISOR};
  return s;
}

Test(supervise, T_C_21_nested_transient_sub_is_not_restarted) {
  px_child_spec s[1] = {sub_spec(PX_SUP_TRANSIENT, 0)};
  px_ref top = start_sup(PX_SUP_ONE_FOR_ONE, 1, s, 1);
  ev_next("started", "w", NULL);
  px_ref sub = ref_of(top, "sub");
  px_mref mon = px_monitor(sub);
  crash(ref_of(sub, "w"), px_atom_val("boom"));
  expect_down(mon, "shutdown"); /* the sub gave up */
  report_find("reached_max_restart_intensity", "w", NULL);
  px_sup_child_info c = child(top, "sub");
  cr_assert_eq(c.state, PX_SUP_CHILD_UNDEFINED, "transient + shutdown");
  cr_assert_eq(c.type, PX_SUP_SUPERVISOR);
  cr_assert(!has_ev("started", "w"));
}

Test(supervise, T_C_21_nested_permanent_sub_is_restarted_and_charged) {
  px_child_spec s[1] = {sub_spec(PX_SUP_PERMANENT, 0)};
  px_ref top = start_sup(PX_SUP_ONE_FOR_ONE, 1, s, 1);
  ev_next("started", "w", NULL);
  px_ref sub = ref_of(top, "sub");
  crash(ref_of(sub, "w"), px_atom_val("boom"));
  ev_next("stopped", "w", NULL);
  ev_next("started", "w", NULL); /* a new sub started a new w */
  px_ref sub2 = ref_of(top, "sub");
  cr_assert(!px_ref_eq(sub, sub2));
  /* That restart was charged to top (intensity 1): one more escalates. */
  crash(ref_of(sub2, "w"), px_atom_val("boom"));
  expect_exit(top, "shutdown");
  report_find("reached_max_restart_intensity", "sub", NULL);
}

/* ==== R-C rules not covered above ================================================= */

Test(supervise, R_C_1_start_in_order_stop_in_reverse) {
  px_ref parent;
  px_mref mon;
  px_ref sup = via_parent(0, 0, &parent, &mon);
  ev_next("started", "a", NULL);
  ev_next("started", "b", NULL);
  ev_next("started", "c", NULL);
  px_sup_child_info kids[4];
  cr_assert_eq(children(sup, kids, 4), 3);
  cr_assert_str_eq(kids[0].id, "a");
  cr_assert_str_eq(kids[2].id, "c");
  crash(parent, px_atom_val("shutdown")); /* the parent's exit */
  ev_next_reason("stopped", "c", "shutdown");
  ev_next_reason("stopped", "b", "shutdown");
  ev_next_reason("stopped", "a", "shutdown");
  expect_down(mon, "shutdown");
}

Test(supervise, R_C_2_default_worker_shutdown_is_5000_ms) {
  px_ref parent;
  px_mref mon;
  px_ref sup = via_parent(1, PX_SUP_SHUTDOWN_DEFAULT, &parent, &mon);
  ev_next("started", "x", NULL);
  px_ref x = ref_of(sup, "x");
  crash(parent, px_atom_val("shutdown"));
  ev_next("got_exit", "x", NULL);
  px_clock_advance(4999);
  px_val pong;
  cr_assert_eq(px_ask(x, A_PING, px_nil(), WAIT_MS, &pong), 0);
  px_val_release(pong);
  px_clock_advance(1);
  ev_next_reason("stopped", "x", "killed");
  expect_down(mon, "shutdown");
}

Test(supervise, R_C_2_invalid_specs_are_rejected) {
  px_sup_flags f = PX_SUP_FLAGS_INIT;
  px_ref sup;
  px_child_spec dup[2] = {wspec("a", PX_SUP_PERMANENT, 0),
                          wspec("a", PX_SUP_PERMANENT, 0)};
  cr_assert_eq(px_sup_start_link(&f, dup, 2, &sup), PX_EINVAL);
  px_child_spec noid[1] = {wspec("a", PX_SUP_PERMANENT, 0)};
  noid[0].id = NULL;
  cr_assert_eq(px_sup_start_link(&f, noid, 1, &sup), PX_EINVAL);
  px_child_spec nostart[1] = {wspec("a", PX_SUP_PERMANENT, 0)};
  nostart[0].start = NULL;
  cr_assert_eq(px_sup_start_link(&f, nostart, 1, &sup), PX_EINVAL);
  cr_assert(!has_ev("started", NULL), "nothing was started");
}

/* Sends px_exit(args[0], args[1]) from an actor, then tells the test. */
static int exiter_init(px_val args, void **state) {
  px_ref to;
  px_val_ref(px_at(args, 0), &to);
  px_exit(to, px_val_retain(px_at(args, 1)));
  ev("exited", "exiter", px_nil());
  return 0;
}
static void exiter_handle(void *s, const px_message *m) {}
static const px_actor_type exiter_type = {"exiter", 0, exiter_init,
                                          exiter_handle, NULL};

Test(supervise, R_C_3_exits_from_unknown_actors_are_ignored) {
  px_ref parent;
  px_mref mon;
  px_ref sup = via_parent(0, 0, &parent, &mon);
  for (int i = 0; i < 3; i++) ev_next("started", (char[]){(char)('a' + i), 0}, NULL);
  px_ref a = ref_of(sup, "a");
  /* A stranger's exit signal arrives as an __EXIT__ message: ignored. */
  px_ref ex;
  cr_assert_eq(px_spawn(&exiter_type, px_arr(2, px_ref_val(sup),
                                             px_atom_val("boom")),
                        NULL, &ex), 0);
  ev_next("exited", "exiter", NULL);
  px_sup_counts k;
  cr_assert_eq(px_sup_count_children(sup, &k), 0, "still alive");
  cr_assert_eq(k.active, 3);
  cr_assert(px_ref_eq(ref_of(sup, "a"), a));
  /* The same signal from its parent ends it with that reason. */
  crash(parent, px_atom_val("boom"));
  ev_next_reason("stopped", "c", "shutdown");
  ev_next_reason("stopped", "b", "shutdown");
  ev_next_reason("stopped", "a", "shutdown");
  expect_down(mon, "boom");
}

Test(supervise, R_C_5_ignore_keeps_the_spec_unless_temporary) {
  px_child_spec s[3] = {wspec("a", PX_SUP_PERMANENT, F_IGNORE),
                        wspec("t", PX_SUP_TEMPORARY, F_IGNORE),
                        wspec("b", PX_SUP_PERMANENT, 0)};
  px_ref sup = start_sup(PX_SUP_ONE_FOR_ONE, 1, s, 3);
  px_sup_child_info kids[4];
  size_t n = children(sup, kids, 4);
  cr_assert_eq(n, 2);
  cr_assert_str_eq(kids[0].id, "a");
  cr_assert_eq(kids[0].state, PX_SUP_CHILD_UNDEFINED);
  cr_assert_str_eq(kids[1].id, "b");
  cr_assert_eq(kids[1].state, PX_SUP_CHILD_RUNNING);
}

Test(supervise, R_C_6_permanent_restarted_even_for_shutdown) {
  px_ref sup;
  start_abc(PX_SUP_ONE_FOR_ONE, 5, &sup);
  crash(ref_of(sup, "a"), px_atom_val("shutdown"));
  ev_next("stopped", "a", NULL);
  ev_next("started", "a", NULL);
  crash(ref_of(sup, "a"), px_arr(2, px_atom_val("shutdown"), px_atom_val("x")));
  ev_next("stopped", "a", NULL);
  ev_next("started", "a", NULL);
}

Test(supervise, R_C_7_transient_restart_rules) {
  px_child_spec s[1] = {wspec("t", PX_SUP_TRANSIENT, 0)};
  px_ref sup = start_sup(PX_SUP_ONE_FOR_ONE, 5, s, 1);
  ev_next("started", "t", NULL);
  crash(ref_of(sup, "t"), px_atom_val("boom"));
  ev_next("stopped", "t", NULL);
  ev_next("started", "t", NULL); /* abnormal: restarted */
  crash_wait(ref_of(sup, "t"),
             px_arr(2, px_atom_val("shutdown"), px_atom_val("x")));
  ev_next("stopped", "t", NULL);
  cr_assert_eq(child(sup, "t").state, PX_SUP_CHILD_UNDEFINED, "kept");
  px_ref r;
  cr_assert_eq(px_sup_restart_child(sup, "t", &r), 0);
  ev_next("started", "t", NULL);
  cr_assert(px_ref_eq(ref_of(sup, "t"), r));
  crash_wait(r, px_atom_val("normal"));
  ev_next("stopped", "t", NULL);
  cr_assert_eq(child(sup, "t").state, PX_SUP_CHILD_UNDEFINED);
}

Test(supervise, R_C_8_temporary_is_never_restarted_and_forgotten) {
  px_child_spec s[2] = {wspec("t", PX_SUP_TEMPORARY, 0),
                        wspec("a", PX_SUP_PERMANENT, 0)};
  px_ref sup = start_sup(PX_SUP_ONE_FOR_ONE, 0, s, 2);
  ev_next("started", "t", NULL);
  ev_next("started", "a", NULL);
  crash_wait(ref_of(sup, "t"), px_atom_val("boom")); /* intensity 0: no charge */
  ev_next("stopped", "t", NULL);
  cr_assert(!has_child(sup, "t"));
  cr_assert(!has_ev("started", "t"));
  report_find("child_terminated", "t", NULL); /* logged, R-C-9 */
}

Test(supervise, R_C_9_which_exits_are_reported) {
  px_child_spec s[3] = {wspec("p", PX_SUP_PERMANENT, 0),
                        wspec("t", PX_SUP_TRANSIENT, 0),
                        wspec("x", PX_SUP_TEMPORARY, 0)};
  px_ref sup = start_sup(PX_SUP_ONE_FOR_ONE, 5, s, 3);
  crash(ref_of(sup, "t"), px_atom_val("normal"));
  crash(ref_of(sup, "x"), px_atom_val("normal"));
  crash(ref_of(sup, "p"), px_atom_val("normal"));
  px_val r;
  report_find("child_terminated", "p", &r); /* permanent: always */
  assert_reason(r, "normal");
  px_val_release(r);
  /* Handled in order; p's report came last, so t's and x's are absent. */
  cr_assert(!has_report("child_terminated", "t"));
  cr_assert(!has_report("child_terminated", "x"));
  crash(ref_of(sup, "p"), px_atom_val("boom"));
  report_find("child_terminated", "p", NULL);
}

Test(supervise, R_C_13_terminate_child_by_ref) {
  px_child_spec s[1] = {{.start = px_sup_start_actor,
                         .args = px_sup_actor_args(
                             &worker, px_arr(2, px_str("s"), px_int(0))),
                         .restart = PX_SUP_PERMANENT}};
  px_ref sup = start_sup(PX_SUP_SIMPLE_ONE_FOR_ONE, 1, s, 1);
  px_ref c1, c2;
  cr_assert_eq(px_sup_start_child_args(sup, px_nil(), &c1), 0);
  cr_assert_eq(px_sup_start_child_args(sup, px_nil(), &c2), 0);
  cr_assert_eq(px_sup_terminate_child_ref(sup, c1), 0);
  cr_assert_eq(px_sup_terminate_child_ref(sup, c1), PX_ENOTFOUND);
  px_sup_counts k;
  cr_assert_eq(px_sup_count_children(sup, &k), 0);
  cr_assert_eq(k.specs, 1);
  /* A crashed permanent instance is restarted with its own args. */
  crash_wait(c2, px_atom_val("boom"));
  cr_assert_eq(px_sup_count_children(sup, &k), 0);
  cr_assert_eq(k.active, 1);
  px_sup_child_info kids[2];
  cr_assert_eq(children(sup, kids, 2), 1);
  cr_assert(!px_ref_eq(kids[0].ref, c2), "a new instance");
}

Test(supervise, R_C_13_parallel_shutdown_of_dynamic_children) {
  px_ref parent;
  px_mref mon;
  via_parent(2, 100, &parent, &mon);
  crash(parent, px_atom_val("shutdown"));
  /* All three are told at once, before any is killed: sequential shutdown
   * would wait 100 ms for the first before telling the second. */
  for (int i = 0; i < 3; i++) ev_find("got_exit", "s", NULL);
  px_clock_advance(100); /* one deadline for all */
  for (int i = 0; i < 3; i++) ev_find("stopped", "s", NULL);
  expect_down(mon, "shutdown");
}

Test(supervise, R_C_14_flag_defaults_and_validation) {
  px_sup_flags f = PX_SUP_FLAGS_INIT;
  cr_assert_eq(f.intensity, 1);
  cr_assert_eq(f.period, 5);
  px_ref sup;
  px_child_spec s[1] = {wspec("a", PX_SUP_PERMANENT, 0)};
  f.intensity = -1;
  cr_assert_eq(px_sup_start_link(&f, s, 1, &sup), PX_EINVAL);
  f = (px_sup_flags)PX_SUP_FLAGS_INIT;
  f.period = -5;
  s[0] = wspec("a", PX_SUP_PERMANENT, 0);
  cr_assert_eq(px_sup_start_link(&f, s, 1, &sup), PX_EINVAL);
  f.period = 0; /* means 5 */
  s[0] = wspec("a", PX_SUP_PERMANENT, 0);
  cr_assert_eq(px_sup_start_link(&f, s, 1, &sup), 0);
  ev_next("started", "a", NULL);
  crash(ref_of(sup, "a"), px_atom_val("boom"));
  ev_next("stopped", "a", NULL);
  ev_next("started", "a", NULL);
  px_clock_advance(5000); /* still inside a 5 s window */
  crash(ref_of(sup, "a"), px_atom_val("boom"));
  expect_exit(sup, "shutdown");
}

Test(supervise, R_C_16_giving_up_stops_the_rest_in_reverse_order) {
  px_child_spec s[4] = {
      wspec("a", PX_SUP_PERMANENT, 0), wspec("b", PX_SUP_PERMANENT, 0),
      wspec("c", PX_SUP_PERMANENT, 0), wspec("d", PX_SUP_PERMANENT, 0)};
  px_ref sup = start_sup(PX_SUP_ONE_FOR_ONE, 0, s, 4);
  for (int i = 0; i < 4; i++) ev_next("started", (char[]){(char)('a' + i), 0}, NULL);
  crash(ref_of(sup, "b"), px_atom_val("boom"));
  ev_next_reason("stopped", "b", "boom");
  ev_next_reason("stopped", "d", "shutdown");
  ev_next_reason("stopped", "c", "shutdown");
  ev_next_reason("stopped", "a", "shutdown");
  expect_exit(sup, "shutdown");
}

Test(supervise, R_C_18_exits_without_restart_do_not_count) {
  px_child_spec s[4] = {
      wspec("t", PX_SUP_TEMPORARY, 0), wspec("tr", PX_SUP_TRANSIENT, 0),
      wspec("k", PX_SUP_PERMANENT, 0), wspec("p", PX_SUP_PERMANENT, 0)};
  px_ref sup = start_sup(PX_SUP_ONE_FOR_ONE, 1, s, 4);
  crash(ref_of(sup, "t"), px_atom_val("boom"));
  crash(ref_of(sup, "tr"), px_atom_val("normal"));
  cr_assert_eq(px_sup_terminate_child(sup, "k"), 0);
  cr_assert_eq(px_sup_restart_child(sup, "k", &(px_ref){0}), 0);
  cr_assert_eq(px_sup_terminate_child(sup, "k"), 0);
  crash(ref_of(sup, "p"), px_atom_val("boom")); /* the first charge */
  ev_find("started", "p", NULL);
  ev_find("started", "p", NULL);
  cr_assert_eq(child(sup, "p").state, PX_SUP_CHILD_RUNNING);
  crash(ref_of(sup, "p"), px_atom_val("boom")); /* the second: too many */
  expect_exit(sup, "shutdown");
}

Test(supervise, R_C_19_brutal_kill) {
  px_child_spec s[1] = {wspec("x", PX_SUP_PERMANENT, F_TRAP)};
  s[0].shutdown = PX_SUP_BRUTAL_KILL;
  px_ref sup = start_sup(PX_SUP_ONE_FOR_ONE, 1, s, 1);
  cr_assert_eq(px_sup_terminate_child(sup, "x"), 0);
  ev_find("stopped", "x", NULL);
  cr_assert(!has_ev("got_exit", "x"), "kill is not trappable");
  cr_assert(!has_report("shutdown_error", "x"), "killed is clean here");
}

Test(supervise, R_C_20_unexpected_shutdown_reason_is_reported) {
  px_child_spec s[1] = {wspec("x", PX_SUP_PERMANENT, F_TRAP | F_EXIT_ODD)};
  px_ref sup = start_sup(PX_SUP_ONE_FOR_ONE, 1, s, 1);
  cr_assert_eq(px_sup_terminate_child(sup, "x"), 0);
  px_val r;
  report_find("shutdown_error", "x", &r);
  assert_reason(r, "oops");
  px_val_release(r);
  cr_assert_eq(child(sup, "x").state, PX_SUP_CHILD_UNDEFINED);
}

static atomic_int tc_rc = -1;

/* Runs terminate_child from an actor, so the test thread stays free to
 * move the clock and release the child. */
static int tc_init(px_val args, void **state) {
  px_ref sup;
  px_val_ref(px_at(args, 0), &sup);
  atomic_store(&tc_rc, px_sup_terminate_child(sup, px_str_ptr(px_at(args, 1))));
  px_send(col, A_EV, px_arr(3, px_str("terminated"), px_str("tc"), px_nil()));
  return 0;
}
static void tc_handle(void *s, const px_message *m) {}
static const px_actor_type tc_type = {"tc", 0, tc_init, tc_handle, NULL};

Test(supervise, R_C_21_infinity_waits_for_the_child) {
  px_child_spec s[1] = {wspec("x", PX_SUP_PERMANENT, F_TRAP)};
  s[0].shutdown = PX_SUP_INFINITY;
  px_ref sup = start_sup(PX_SUP_ONE_FOR_ONE, 1, s, 1);
  px_ref x = ref_of(sup, "x");
  px_ref tc;
  cr_assert_eq(px_spawn(&tc_type, px_arr(2, px_ref_val(sup), px_str("x")), NULL, &tc), 0);
  ev_find("got_exit", "x", NULL);
  px_clock_advance(24u * 3600 * 1000); /* a day: still waiting */
  px_val pong;
  cr_assert_eq(px_ask(x, A_PING, px_nil(), WAIT_MS, &pong), 0);
  px_val_release(pong);
  crash(x, px_atom_val("shutdown")); /* the child finally stops */
  ev_find("terminated", "tc", NULL);
  cr_assert_eq(atomic_load(&tc_rc), 0);
  cr_assert(!has_report("shutdown_error", "x"));
}

Test(supervise, R_C_22_child_that_unlinked_cannot_hang_shutdown) {
  px_child_spec s[1] = {wspec("u", PX_SUP_PERMANENT, F_UNLINK)};
  px_ref sup = start_sup(PX_SUP_ONE_FOR_ONE, 1, s, 1);
  cr_assert_eq(px_sup_terminate_child(sup, "u"), 0);
  ev_find("stopped", "u", NULL);
  cr_assert_eq(child(sup, "u").state, PX_SUP_CHILD_UNDEFINED);
}

static int failing_start(px_val args, px_ref *out) { return PX_EIO; }

Test(supervise, R_C_23_start_child_failure_adds_nothing) {
  px_ref sup;
  start_abc(PX_SUP_ONE_FOR_ONE, 1, &sup);
  px_child_spec s = {.id = "bad", .start = failing_start, .args = px_nil()};
  px_ref r;
  cr_assert_eq(px_sup_start_child(sup, &s, &r), PX_EIO);
  cr_assert(!has_child(sup, "bad"));
  s = wspec("d", PX_SUP_PERMANENT, 0);
  cr_assert_eq(px_sup_start_child(sup, &s, &r), 0);
  cr_assert(px_ref_eq(ref_of(sup, "d"), r));
  px_sup_child_info kids[8];
  cr_assert_eq(children(sup, kids, 8), 4);
  cr_assert_str_eq(kids[3].id, "d", "added last in start order");
}

Test(supervise, R_C_24_terminate_and_delete_child) {
  px_child_spec s[2] = {wspec("p", PX_SUP_PERMANENT, 0),
                        wspec("t", PX_SUP_TEMPORARY, 0)};
  px_ref sup = start_sup(PX_SUP_ONE_FOR_ONE, 1, s, 2);
  cr_assert_eq(px_sup_delete_child(sup, "p"), PX_ERUNNING);
  cr_assert_eq(px_sup_terminate_child(sup, "nope"), PX_ENOTFOUND);
  cr_assert_eq(px_sup_delete_child(sup, "nope"), PX_ENOTFOUND);
  cr_assert_eq(px_sup_terminate_child(sup, "p"), 0);
  cr_assert_eq(child(sup, "p").state, PX_SUP_CHILD_UNDEFINED, "kept");
  cr_assert_eq(px_sup_terminate_child(sup, "t"), 0);
  cr_assert(!has_child(sup, "t"), "temporary removed");
  px_ref r;
  cr_assert_eq(px_sup_restart_child(sup, "p", &r), 0);
  cr_assert_eq(px_sup_restart_child(sup, "p", &r), PX_ERUNNING);
  cr_assert_eq(px_sup_terminate_child(sup, "p"), 0);
  cr_assert_eq(px_sup_delete_child(sup, "p"), 0);
  cr_assert(!has_child(sup, "p"));
}

Test(supervise, R_C_25_count_and_which_children) {
  px_child_spec s[3] = {wspec("a", PX_SUP_PERMANENT, 0), sub_spec(PX_SUP_PERMANENT, 1),
                        wspec("c", PX_SUP_PERMANENT, 0)};
  px_ref sup = start_sup(PX_SUP_ONE_FOR_ONE, 1, s, 3);
  cr_assert_eq(px_sup_terminate_child(sup, "c"), 0);
  px_sup_counts k;
  cr_assert_eq(px_sup_count_children(sup, &k), 0);
  cr_assert_eq(k.specs, 3);
  cr_assert_eq(k.active, 2);
  cr_assert_eq(k.supervisors, 1);
  cr_assert_eq(k.workers, 2);
  px_sup_child_info kids[2];
  size_t n = 0;
  cr_assert_eq(px_sup_which_children(sup, kids, 2, &n), 0);
  cr_assert_eq(n, 3, "total even when cap is smaller");
  cr_assert_str_eq(kids[1].id, "sub");
  cr_assert_eq(kids[1].type, PX_SUP_SUPERVISOR);
  cr_assert_eq(kids[1].state, PX_SUP_CHILD_RUNNING);
  cr_assert_eq(child(sup, "c").state, PX_SUP_CHILD_UNDEFINED);
}

Test(supervise, R_C_27_invalid_significant_specs) {
  px_sup_flags f = PX_SUP_FLAGS_INIT;
  px_ref sup;
  px_child_spec s[1] = {wspec("a", PX_SUP_TRANSIENT, 0)};
  s[0].significant = true; /* auto_shutdown = never */
  cr_assert_eq(px_sup_start_link(&f, s, 1, &sup), PX_EINVAL);
  f.auto_shutdown = PX_SUP_AUTO_ANY_SIGNIFICANT;
  s[0] = wspec("a", PX_SUP_PERMANENT, 0);
  s[0].significant = true; /* permanent */
  cr_assert_eq(px_sup_start_link(&f, s, 1, &sup), PX_EINVAL);
  s[0] = wspec("a", PX_SUP_TRANSIENT, 0);
  s[0].significant = true;
  cr_assert_eq(px_sup_start_link(&f, s, 1, &sup), 0);
  px_child_spec bad = wspec("b", PX_SUP_PERMANENT, 0);
  bad.significant = true;
  px_ref r;
  cr_assert_eq(px_sup_start_child(sup, &bad, &r), PX_EINVAL);
}

Test(supervise, R_C_30_terminate_child_and_collateral_do_not_auto_shutdown) {
  px_child_spec s[3] = {wspec("s1", PX_SUP_TRANSIENT, 0),
                        wspec("p", PX_SUP_PERMANENT, 0),
                        wspec("s2", PX_SUP_TRANSIENT, 0)};
  s[0].significant = s[2].significant = true;
  px_sup_flags f = PX_SUP_FLAGS_INIT;
  f.strategy = PX_SUP_ONE_FOR_ALL;
  f.auto_shutdown = PX_SUP_AUTO_ANY_SIGNIFICANT;
  px_ref sup;
  cr_assert_eq(px_sup_start_link(&f, s, 3, &sup), 0);
  cr_assert_eq(px_sup_terminate_child(sup, "s2"), 0);
  /* p crashes: s1 is stopped as collateral, then all restart. */
  crash(ref_of(sup, "p"), px_atom_val("boom"));
  ev_find("stopped", "s1", NULL);
  ev_find("started", "s2", NULL); /* one_for_all restarts stopped specs too */
  px_sup_counts k;
  cr_assert_eq(px_sup_count_children(sup, &k), 0, "still alive");
  cr_assert_eq(k.active, 3);
  cr_assert(!has_report("auto_shutdown", NULL));
}
