/* Workflows: replay after a crash (the runtime stopped and the store
 * closed under a running execution, then recovered): a journaled step is
 * not run again and a sleep keeps its original deadline (T-I-1, T-J-1);
 * code that changed under a journal fails with a non-determinism error
 * naming the step (T-I-2, T-J-3), changed arguments do not; now and
 * random replay their journaled values. */
#include "wf_test.h"

TestSuite(wf_replay, .init = wf_setup, .fini = wf_teardown, .timeout = 60);

static _Atomic int a1_calls, a2_calls;
static _Atomic int64_t phase;

static int a1(px_wf *wf, void *ud, px_val *out) {
  (void)wf;
  (void)ud;
  atomic_fetch_add(&a1_calls, 1);
  *out = px_str("a1-result");
  return 0;
}

static int a2(px_wf *wf, void *ud, px_val *out) {
  (void)wf;
  atomic_fetch_add(&a2_calls, 1);
  *out = px_strf("a2(%s)", (const char *)ud);
  return 0;
}

/* A1, sleep 1 h, A2(A1's result). */
static int run_t1(px_wf *wf, px_val input, px_val *result) {
  (void)input;
  px_wf_set_state(wf, &phase);
  atomic_store(&phase, 0);
  px_val r1;
  int rc = px_step(wf, "A1", a1, NULL, NULL, &r1);
  if (rc) return rc;
  atomic_store(&phase, 1);
  rc = px_wf_sleep(wf, 3600000);
  if (rc) return rc;
  atomic_store(&phase, 2);
  px_val r2;
  rc = px_step(wf, "A2", a2, (void *)px_str_ptr(r1), NULL, &r2);
  if (rc) return rc;
  *result = px_val_retain(r2);
  return 0;
}
static const px_workflow_type T1 = {"t1", run_t1, query_state_int, 0};

Test(wf_replay, step_not_rerun_and_timer_keeps_its_deadline) {
  wf_use(&T1);
  cr_assert_eq(px_workflow_start("t1", "w", px_nil(), NULL), 0);
  wait_query_int("w", "phase", 1); /* parked in the sleep */
  cr_assert_eq(px_clock_advance(30 * 60000), 0); /* half an hour */
  wait_query_int("w", "phase", 1);
  jcount c = jread("w");
  cr_assert_eq(jkinds(&c, "timer"), 1);
  int64_t deadline = 0;
  for (size_t i = 0; i < c.n; i++)
    if (!strcmp(c.kinds[i], "timer")) deadline = c.vals[i].u.i;
  jfree(&c);

  wf_crash(NULL);
  px_wf_status st;
  cr_assert_eq(px_workflow_status("w", &st, NULL), 0);
  cr_assert_eq(st, PX_WF_RUNNING, "open while down");
  wf_recover(1);
  wait_query_int("w", "phase", 1); /* replayed, parked in the sleep again */
  cr_assert_eq(atomic_load(&a1_calls), 1, "A1 is not run again");
  /* 29 more minutes: still asleep (a fresh 1 h timer would be, too) */
  cr_assert_eq(px_clock_advance(29 * 60000), 0);
  wait_query_int("w", "phase", 1);
  cr_assert_eq(px_workflow_wait("w", 0, &st, NULL), PX_ETIMEDOUT);
  /* 31 minutes after the restart: the original deadline has passed, a
   * restarted 1 h timer would still have 29 minutes to go */
  cr_assert_eq(px_clock_advance(2 * 60000), 0);
  px_val r;
  cr_assert_eq(wait_closed("w", &r), PX_WF_COMPLETED);
  cr_assert_str_eq(px_str_ptr(r), "a2(a1-result)");
  px_val_release(r);
  cr_assert_eq(atomic_load(&a1_calls), 1);
  cr_assert_eq(atomic_load(&a2_calls), 1);
  c = jread("w");
  cr_assert_eq(jkinds(&c, "timer"), 1, "the deadline is journaled once");
  for (size_t i = 0; i < c.n; i++)
    if (!strcmp(c.kinds[i], "timer"))
      cr_assert_eq(c.vals[i].u.i, deadline);
  cr_assert_eq(jkinds(&c, "step"), 2);
  jfree(&c);
}

Test(wf_replay, crash_after_every_command_runs_each_step_once) {
  wf_use(&T1);
  cr_assert_eq(px_workflow_start("t1", "w", px_nil(), NULL), 0);
  wait_query_int("w", "phase", 1);
  for (int i = 0; i < 3; i++) {
    wf_crash(NULL);
    wf_recover(1);
    wait_query_int("w", "phase", 1);
  }
  cr_assert_eq(px_clock_advance(3600000), 0);
  cr_assert_eq(wait_closed("w", NULL), PX_WF_COMPLETED);
  wf_crash(NULL);
  wf_recover(0);
  cr_assert_eq(atomic_load(&a1_calls), 1);
  cr_assert_eq(atomic_load(&a2_calls), 1);
}

/* v2 of t1: a step inserted before A1 (T-I-2). */
static int run_t1_inserted(px_wf *wf, px_val input, px_val *result) {
  (void)input;
  (void)result;
  px_val v;
  int rc = px_step(wf, "A0", a1, NULL, NULL, &v);
  if (rc) return rc;
  return px_step(wf, "A1", a1, NULL, NULL, &v);
}
static const px_workflow_type T1_INSERTED = {"t1", run_t1_inserted, NULL, 0};

Test(wf_replay, inserted_step_is_a_non_determinism_error_naming_it) {
  wf_use(&T1);
  cr_assert_eq(px_workflow_start("t1", "w", px_nil(), NULL), 0);
  wait_query_int("w", "phase", 1);
  uint64_t before = jlast("w");
  const px_workflow_type *v2[] = {&T1_INSERTED, NULL};
  wf_crash(v2);
  wf_recover(1);
  px_val r;
  cr_assert_eq(wait_closed("w", &r), PX_WF_FAILED);
  cr_assert_str_eq(px_str_ptr(r),
                   "non-determinism at seq 2: journal has step 'A1', code "
                   "asked for step 'A0'");
  px_val_release(r);
  cr_assert_eq(atomic_load(&a1_calls), 1, "nothing ran live");
  cr_assert_eq(jlast("w"), before + 1, "only the failed status added");
}

/* v2: the sleep and A2 swapped (T-J-3's reorder). */
static int run_t1_swapped(px_wf *wf, px_val input, px_val *result) {
  (void)input;
  (void)result;
  px_val v;
  int rc = px_step(wf, "A1", a1, NULL, NULL, &v);
  if (rc) return rc;
  rc = px_step(wf, "A2", a2, "x", NULL, &v);
  if (rc) return rc;
  return px_wf_sleep(wf, 3600000);
}
static const px_workflow_type T1_SWAPPED = {"t1", run_t1_swapped, NULL, 0};

Test(wf_replay, reordered_commands_fail_and_nothing_runs) {
  wf_use(&T1);
  cr_assert_eq(px_workflow_start("t1", "w", px_nil(), NULL), 0);
  wait_query_int("w", "phase", 1);
  const px_workflow_type *v2[] = {&T1_SWAPPED, NULL};
  wf_crash(v2);
  wf_recover(1);
  px_val r;
  cr_assert_eq(wait_closed("w", &r), PX_WF_FAILED);
  cr_assert_str_eq(px_str_ptr(r),
                   "non-determinism at seq 3: journal has sleep, code asked "
                   "for step 'A2'");
  px_val_release(r);
  cr_assert_eq(atomic_load(&a2_calls), 0, "A2 never ran");
}

/* v2: A1 computes something else and the sleep is shorter: arguments and
 * bodies are not part of a command's identity (R-I-7). */
static int a1_new(px_wf *wf, void *ud, px_val *out) {
  (void)wf;
  (void)ud;
  *out = px_str("new-a1");
  return 0;
}
static int run_t1_args(px_wf *wf, px_val input, px_val *result) {
  (void)input;
  px_val r1;
  int rc = px_step(wf, "A1", a1_new, NULL, NULL, &r1);
  if (rc) return rc;
  rc = px_wf_sleep(wf, 5);
  if (rc == 0) *result = px_val_retain(r1);
  return rc;
}
static const px_workflow_type T1_ARGS = {"t1", run_t1_args, NULL, 0};

Test(wf_replay, changed_arguments_are_not_non_determinism) {
  wf_use(&T1);
  cr_assert_eq(px_workflow_start("t1", "w", px_nil(), NULL), 0);
  wait_query_int("w", "phase", 1);
  const px_workflow_type *v2[] = {&T1_ARGS, NULL};
  wf_crash(v2);
  wf_recover(1);
  cr_assert_eq(px_clock_advance(3600000), 0);
  px_val r;
  cr_assert_eq(wait_closed("w", &r), PX_WF_COMPLETED);
  cr_assert_str_eq(px_str_ptr(r), "a1-result", "the journaled result");
  px_val_release(r);
}

/* v2: returns right after A1, leaving the journaled sleep unmatched. */
static int run_t1_short(px_wf *wf, px_val input, px_val *result) {
  (void)input;
  (void)result;
  px_val v;
  return px_step(wf, "A1", a1, NULL, NULL, &v);
}
static const px_workflow_type T1_SHORT = {"t1", run_t1_short, NULL, 0};

Test(wf_replay, returning_before_the_journal_ends_is_non_determinism) {
  wf_use(&T1);
  cr_assert_eq(px_workflow_start("t1", "w", px_nil(), NULL), 0);
  wait_query_int("w", "phase", 1);
  const px_workflow_type *v2[] = {&T1_SHORT, NULL};
  wf_crash(v2);
  wf_recover(1);
  px_val r;
  cr_assert_eq(wait_closed("w", &r), PX_WF_FAILED);
  cr_assert_str_eq(px_str_ptr(r), "non-determinism at seq 3: journal has "
                                  "sleep, code returned");
  px_val_release(r);
}

/* now and random, then a sleep; the query answers what they gave. */
static _Atomic int64_t seen_now, seen_rand, det_phase;
static int run_det(px_wf *wf, px_val input, px_val *result) {
  (void)input;
  px_wf_set_state(wf, &det_phase);
  int64_t t = px_wf_now(wf);
  uint64_t r = px_wf_random(wf);
  atomic_store(&seen_now, t);
  atomic_store(&seen_rand, (int64_t)r);
  atomic_store(&det_phase, 1);
  int rc = px_wf_sleep(wf, 1000);
  if (rc) return rc;
  *result = px_arr(3, px_int(t), px_int((int64_t)r),
                   px_int(px_wf_now(wf)));
  return 0;
}
static const px_workflow_type T_DET = {"det", run_det, query_state_int, 0};

Test(wf_replay, now_and_random_replay_their_journaled_values) {
  wf_use(&T_DET);
  cr_assert_eq(px_workflow_start("det", "d", px_nil(), NULL), 0);
  wait_query_int("d", "p", 1);
  int64_t t0 = atomic_load(&seen_now), r0 = atomic_load(&seen_rand);
  cr_assert_gt(t0, 1600000000000, "wall-clock ms");
  wf_crash(NULL);
  /* a day later: the sleep is long over */
  px__wf_clock_set(px__wf_now_ms() + 86400000);
  wf_recover(1);
  px_val r;
  cr_assert_eq(wait_closed("d", &r), PX_WF_COMPLETED);
  cr_assert_eq(px_at(r, 0).u.i, t0, "now replayed");
  cr_assert_eq(px_at(r, 1).u.i, r0, "random replayed");
  cr_assert_geq(px_at(r, 2).u.i, t0 + 86400000, "a live now is new");
  px_val_release(r);
}

/* T-J-2: a kill inside a step, before its result is journaled, runs the
 * step again on recovery (at-least-once effect); the journal ends with
 * one record of it. */
static px_ref g_test_ref;
static _Atomic int slow_calls;
static int slow(px_wf *wf, void *ud, px_val *out) {
  (void)wf;
  (void)ud;
  if (atomic_fetch_add(&slow_calls, 1) == 0) {
    px_send(g_test_ref, px_atom_of("in_step"), px_nil());
    px_sleep(3600000); /* virtual clock: until killed */
  }
  *out = px_int(42);
  return 0;
}
static int run_slow(px_wf *wf, px_val input, px_val *result) {
  (void)input;
  px_val v;
  int rc = px_step(wf, "slow", slow, NULL, NULL, &v);
  *result = v;
  return rc;
}
static const px_workflow_type T_SLOW = {"slow", run_slow, NULL, 0};

static bool is_in_step(const px_message *m, void *ud) {
  (void)ud;
  return m->type == px_atom_of("in_step");
}

Test(wf_replay, kill_inside_a_step_reruns_it_and_records_it_once) {
  wf_use(&T_SLOW);
  g_test_ref = px_self();
  cr_assert_eq(px_workflow_start("slow", "s", px_nil(), NULL), 0);
  px_message *m;
  cr_assert_eq(px_receive(is_in_step, NULL, 10000, &m), 0);
  px_message_free(m);
  wf_crash(NULL);
  wf_recover(1);
  px_val r;
  cr_assert_eq(wait_closed("s", &r), PX_WF_COMPLETED);
  cr_assert_eq(r.u.i, 42);
  cr_assert_eq(atomic_load(&slow_calls), 2, "run again: it was not recorded");
  jcount c = jread("s");
  cr_assert_eq(jkinds(&c, "step"), 1);
  jfree(&c);
}
