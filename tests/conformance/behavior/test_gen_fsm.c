/* Conformance tests for GenFSM: one test per case (T-E-n) or rule (R-E-n)
 * of SEMANTICS.md section E. A scripted machine logs every event it
 * handles as [state, kind, type]; casts are commands. Ordering comes from
 * calls and receives, time from the virtual clock. */
#include <criterion/criterion.h>
#include <string.h>

#include "plexspaces/error.h"
#include "plexspaces/gen_fsm.h"
#include "plexspaces/runtime.h"

static px_ref observer;

static px_atom A(const char *s) { return px_atom_of(s); }

static void start_rt(void) {
  px_runtime_opts o = {0};
  o.workers = 2;
  o.virtual_clock = true;
  cr_assert_eq(px_runtime_start(&o), 0);
  observer = px_self();
}

static bool match_type(const px_message *m, void *ud) {
  return m->type == (px_atom)ud;
}

static px_val expect(const char *type) {
  px_message *m;
  int rc = px_receive(match_type, (void *)A(type), 5000, &m);
  cr_assert_eq(rc, 0, "no '%s' message", type);
  px_val v = px_val_retain(m->payload);
  px_message_free(m);
  return v;
}

static bool queued(const char *type) {
  px_message *m;
  if (px_receive(match_type, (void *)A(type), 0, &m) != 0) return false;
  px_message_free(m);
  return true;
}

/* ---- the scripted machine ------------------------------------------------ */

typedef struct data {
  px_val log;
  px_from pending;
} data;

static void logev(data *d, px_atom state, const px_fsm_event *ev) {
  px_array_push(&d->log, px_arr(3, px_atomv(state), px_int(ev->kind),
                                px_atomv(ev->kind == PX_FSM_ENTER
                                             ? ev->old_state
                                             : ev->type)));
}

static px_fsm_result fsm_init(px_val args, void **dp, px_fsm_tx *tx) {
  data *d = calloc(1, sizeof *d);
  d->log = px_array_new(16);
  *dp = d;
  return px_fsm_next(tx, A("a"));
}

static px_fsm_result any_event(void *dp, px_atom state,
                               const px_fsm_event *ev, px_fsm_tx *tx) {
  data *d = dp;
  const char *t = px_atom_name(ev->type);
  if (ev->kind == PX_FSM_CALL && !strcmp(t, "log")) {
    px_val c = px_array_new(px_len(d->log));
    for (size_t i = 0; i < px_len(d->log); i++)
      px_array_push(&c, px_val_retain(px_at(d->log, i)));
    px_fsm_reply(tx, ev->from, c);
    return PX_FSM_KEEP;
  }
  logev(d, state, ev);
  if (ev->kind == PX_FSM_ENTER) {
    if (state == A("st_on_enter")) px_fsm_state_timeout(tx, 10, px_nil());
    return PX_FSM_KEEP;
  }
  if (ev->kind == PX_FSM_TIMEOUT || ev->kind == PX_FSM_STATE_TIMEOUT ||
      ev->kind == PX_FSM_GENERIC_TIMEOUT) {
    px_send(observer, A("fired"),
            px_arr(2, px_atomv(ev->type), px_val_retain(ev->payload)));
    return PX_FSM_KEEP;
  }
  px_val p = ev->payload;
  if (ev->kind == PX_FSM_CALL) {
    if (!strcmp(t, "wait")) {
      d->pending = ev->from; /* replied from a later state (T-E-15) */
      return PX_FSM_KEEP;
    }
    if (!strcmp(t, "state")) {
      px_fsm_reply(tx, ev->from, px_atomv(state));
      return PX_FSM_KEEP;
    }
    if (!strcmp(t, "fail")) return px_fsm_error(tx, px_atom_val("nope"));
    if (!strcmp(t, "crash")) px_exit_self(px_atom_val("fsm_boom"));
    if (!strcmp(t, "reply_then_exit")) {
      px_fsm_reply(tx, ev->from, px_atom_val("got"));
      px_exit_self(px_atom_val("after_reply"));
    }
    if (!strcmp(t, "stop")) {
      px_fsm_reply(tx, ev->from, px_atom_val("stopping"));
      return px_fsm_stop(tx, px_atom_val("normal"));
    }
    return PX_FSM_UNHANDLED;
  }
  if (ev->kind != PX_FSM_CAST) return PX_FSM_KEEP;
  if (!strcmp(t, "goto")) return px_fsm_next(tx, p.u.a);
  if (!strcmp(t, "repeat")) return PX_FSM_REPEAT;
  if (!strncmp(t, "postpone", 8)) {
    px_fsm_postpone(tx);
    return PX_FSM_KEEP;
  }
  if (!strcmp(t, "reply_pending")) {
    px_fsm_reply(tx, d->pending, px_atom_val("ok"));
    return PX_FSM_KEEP;
  }
  if (!strcmp(t, "st")) px_fsm_state_timeout(tx, p.u.i, px_atom_val("c"));
  if (!strcmp(t, "st_inf")) px_fsm_state_timeout(tx, -1, px_nil());
  if (!strcmp(t, "st_update"))
    px_fsm_timeout_update(tx, PX_FSM_STATE_TIMEOUT, NULL, px_atom_val("c2"));
  if (!strcmp(t, "et")) px_fsm_event_timeout(tx, p.u.i, px_atom_val("e"));
  /* R-E-11: absolute times on px_clock_ms(). */
  if (!strcmp(t, "st_abs"))
    px_fsm_state_timeout_abs(tx, p.u.i, px_atom_val("c_abs"));
  if (!strcmp(t, "et_abs"))
    px_fsm_event_timeout_abs(tx, p.u.i, px_atom_val("e_abs"));
  if (!strcmp(t, "gt_abs"))
    px_fsm_generic_timeout_abs(tx, px_at(p, 0).u.a, px_at(p, 1).u.i,
                               px_val_retain(px_at(p, 0)));
  if (!strcmp(t, "gt"))
    px_fsm_generic_timeout(tx, px_at(p, 0).u.a, px_at(p, 1).u.i,
                           px_val_retain(px_at(p, 0)));
  if (!strcmp(t, "et0_busy")) {
    px_send(px_self(), A("poke"), px_nil());
    px_fsm_event_timeout(tx, 0, px_atom_val("e"));
  }
  if (!strcmp(t, "insert")) {
    px_send(px_self(), A("e0"), px_nil()); /* queued before e1, e2 */
    px_fsm_next_event(tx, PX_FSM_INTERNAL, A("e1"), px_nil());
    px_fsm_next_event(tx, PX_FSM_INTERNAL, A("e2"), px_nil());
  }
  return PX_FSM_KEEP;
}

/* state_functions: `locked` postpones `open` (T-E-1) and leaves the rest
 * to handle_event. */
static px_fsm_result locked_fn(void *dp, px_atom state, const px_fsm_event *ev,
                               px_fsm_tx *tx) {
  if (ev->kind == PX_FSM_CAST && ev->type == A("open")) {
    logev(dp, state, ev);
    px_fsm_postpone(tx);
    return PX_FSM_KEEP;
  }
  return PX_FSM_UNHANDLED;
}

static void fsm_term(void *dp, px_atom state, px_val reason) {
  px_send(observer, A("terminate"),
          px_arr(2, px_atomv(state), px_val_retain(reason)));
}

static void fsm_free(void *dp) {
  data *d = dp;
  px_val_release(d->log);
  free(d);
}

static const px_fsm_state_def states[] = {{"locked", locked_fn}};

static const px_gen_fsm plain_def = {
    .name = "test_fsm",
    .init = fsm_init,
    .states = states,
    .nstates = 1,
    .handle_event = any_event,
    .terminate = fsm_term,
    .free_data = fsm_free,
};

static const px_gen_fsm enter_def = {
    .name = "test_fsm_enter",
    .init = fsm_init,
    .states = states,
    .nstates = 1,
    .handle_event = any_event,
    .state_enter = true,
    .terminate = fsm_term,
    .free_data = fsm_free,
};

static px_ref start(const px_gen_fsm *def) {
  px_ref r;
  cr_assert_eq(px_gen_fsm_start(def, px_nil(), NULL, &r), 0);
  return r;
}

static void cast(px_ref r, const char *type, px_val p) {
  px_gen_fsm_cast(r, A(type), p);
}

static px_val get_log(px_ref r) {
  px_val v;
  cr_assert_eq(px_gen_fsm_call(r, A("log"), px_nil(), 0, &v), 0);
  return v;
}

/* Index of the first log entry [state, kind, type] at or after `from`,
 * or -1. NULL state matches any. */
static int find(px_val log, int from, const char *state, const char *type) {
  for (size_t i = (size_t)from; i < px_len(log); i++) {
    px_val e = px_at(log, i);
    if ((!state || px_is_atom(px_at(e, 0), A(state))) &&
        px_is_atom(px_at(e, 2), A(type)))
      return (int)i;
  }
  return -1;
}

/* ---- T-E cases -------------------------------------------------------------- */

Test(gen_fsm, T_E_1_postponed_open_handled_first_after_unlock) {
  start_rt();
  px_ref r = start(&plain_def);
  cast(r, "goto", px_atom_val("locked"));
  cast(r, "open", px_nil());
  cast(r, "goto", px_atom_val("unlocked"));
  cast(r, "after", px_nil());
  px_val log = get_log(r);
  int open_u = find(log, 0, "unlocked", "open");
  int after = find(log, 0, "unlocked", "after");
  cr_assert_geq(find(log, 0, "locked", "open"), 0, "postponed in locked");
  cr_assert_geq(open_u, 0, "retried in unlocked");
  cr_assert_lt(open_u, after, "before the event queued after it");
  px_val_release(log);
  px_runtime_stop();
}

Test(gen_fsm, T_E_2_postponed_events_keep_their_order) {
  start_rt();
  px_ref r = start(&plain_def);
  cast(r, "postpone_e1", px_nil());
  cast(r, "postpone_e2", px_nil());
  cast(r, "goto", px_atom_val("b"));
  px_val log = get_log(r);
  int e1 = find(log, 0, "b", "postpone_e1");
  int e2 = find(log, 0, "b", "postpone_e2");
  cr_assert_geq(e1, 0);
  cr_assert_gt(e2, e1);
  px_val_release(log);
  px_runtime_stop();
}

Test(gen_fsm, T_E_3_postpone_then_keep_state_not_retried) {
  start_rt();
  px_ref r = start(&plain_def);
  cast(r, "postpone_e1", px_nil());
  cast(r, "x", px_nil());
  cast(r, "goto", px_atom_val("a")); /* same state: not a change (R-E-3) */
  cast(r, "y", px_nil());
  px_val log = get_log(r);
  int first = find(log, 0, NULL, "postpone_e1");
  cr_assert_geq(first, 0);
  cr_assert_eq(find(log, first + 1, NULL, "postpone_e1"), -1);
  px_val_release(log);
  px_runtime_stop();
}

Test(gen_fsm, T_E_5_state_timeout_cancelled_by_state_change) {
  start_rt();
  px_ref r = start(&plain_def);
  cast(r, "st", px_int(100));
  px_val_release(get_log(r));
  px_clock_advance(50);
  cast(r, "goto", px_atom_val("b"));
  px_val_release(get_log(r));
  px_clock_advance(100);
  px_val_release(get_log(r));
  cr_assert_not(queued("fired"));
  px_runtime_stop();
}

Test(gen_fsm, T_E_6_event_timeout_cancelled_by_any_event) {
  start_rt();
  px_ref r = start(&plain_def);
  cast(r, "et", px_int(100));
  px_val_release(get_log(r)); /* a call is an event too: set it again */
  cast(r, "et", px_int(100));
  px_clock_advance(50);
  cast(r, "noise", px_nil());
  px_clock_advance(100);
  px_val_release(get_log(r));
  cr_assert_not(queued("fired"));
  /* Control: the same timer left alone fires. */
  cast(r, "et", px_int(100));
  px_val_release(get_log(r)); /* cancels it... */
  cast(r, "et", px_int(100)); /* ...so set it again, with nothing after */
  for (int i = 0; i < 50; i++) { /* the cast may not be handled yet */
    px_clock_advance(10);
    px_message *m;
    if (px_receive(match_type, (void *)A("fired"), 10, &m) == 0) {
      px_message_free(m);
      px_runtime_stop();
      return;
    }
  }
  cr_assert_fail("the event timeout never fired");
}

Test(gen_fsm, T_E_7_generic_timeouts_survive_state_changes) {
  start_rt();
  px_ref r = start(&plain_def);
  cast(r, "gt", px_arr(2, px_atom_val("t1"), px_int(100)));
  cast(r, "gt", px_arr(2, px_atom_val("t2"), px_int(200)));
  cast(r, "goto", px_atom_val("b"));
  cast(r, "goto", px_atom_val("a"));
  px_val_release(get_log(r));
  px_clock_advance(100);
  px_val v = expect("fired");
  cr_assert(px_is_atom(px_at(v, 0), A("t1")));
  px_val_release(v);
  cr_assert_not(queued("fired"));
  px_clock_advance(100);
  v = expect("fired");
  cr_assert(px_is_atom(px_at(v, 0), A("t2")));
  px_val_release(v);
  px_runtime_stop();
}

Test(gen_fsm, T_E_9_state_timeout_infinity_cancels) {
  start_rt();
  px_ref r = start(&plain_def);
  cast(r, "st", px_int(100));
  cast(r, "st_inf", px_nil());
  px_val_release(get_log(r));
  px_clock_advance(200);
  px_val_release(get_log(r));
  cr_assert_not(queued("fired"));
  px_runtime_stop();
}

Test(gen_fsm, T_E_10_next_events_before_queued) {
  start_rt();
  px_ref r = start(&plain_def);
  cast(r, "insert", px_nil());
  /* e0 may be queued behind our first call: the second sees it. */
  px_val_release(get_log(r));
  px_val log = get_log(r);
  int e1 = find(log, 0, NULL, "e1"), e2 = find(log, 0, NULL, "e2"),
      e0 = find(log, 0, NULL, "e0");
  cr_assert(e1 >= 0 && e1 < e2 && e2 < e0, "order e1 e2 e0: %d %d %d", e1, e2,
            e0);
  px_val_release(log);
  px_runtime_stop();
}

Test(gen_fsm, T_E_11_first_callback_is_enter_with_same_state) {
  start_rt();
  px_ref r = start(&enter_def);
  px_val log = get_log(r);
  px_val e = px_at(log, 0);
  cr_assert_eq(px_at(e, 1).u.i, PX_FSM_ENTER);
  cr_assert(px_is_atom(px_at(e, 0), A("a")));
  cr_assert(px_is_atom(px_at(e, 2), A("a")), "OldState = State");
  px_val_release(log);
  px_runtime_stop();
}

Test(gen_fsm, T_E_13_event_timeout_zero) {
  start_rt();
  px_ref r = start(&plain_def);
  cast(r, "et", px_int(0)); /* nothing queued: fires with no clock move */
  px_val_release(expect("fired"));
  cast(r, "et0_busy", px_nil()); /* a message is queued ahead of it */
  px_val_release(get_log(r));
  px_val log = get_log(r);
  cr_assert_geq(find(log, 0, NULL, "poke"), 0);
  cr_assert_not(queued("fired"), "cancelled by the queued message");
  px_val_release(log);
  px_runtime_stop();
}

Test(gen_fsm, T_E_14_update_with_none_running_delivers_now) {
  start_rt();
  px_ref r = start(&plain_def);
  cast(r, "st_update", px_nil());
  cast(r, "later", px_nil());
  px_val v = expect("fired");
  cr_assert(px_is_atom(px_at(v, 0), A("state_timeout")));
  cr_assert(px_is_atom(px_at(v, 1), A("c2")));
  px_val_release(v);
  px_val log = get_log(r);
  cr_assert_lt(find(log, 0, NULL, "state_timeout"), find(log, 0, NULL, "later"),
               "delivered next");
  px_val_release(log);
  px_runtime_stop();
}

/* Calls from an actor, so the test thread stays free to drive the FSM. */
static void caller_handle(void *st, const px_message *m) {
  px_ref fsm;
  px_val_ref(m->payload, &fsm);
  px_val v;
  int rc = px_gen_fsm_call(fsm, A("wait"), px_nil(), -1, &v);
  px_send(observer, A("called"), rc ? px_int(rc) : v);
}
static const px_actor_type caller_type = {.name = "caller",
                                          .handle = caller_handle};

Test(gen_fsm, T_E_15_call_replied_from_later_state) {
  start_rt();
  px_ref r = start(&plain_def);
  px_ref c;
  cr_assert_eq(px_spawn(&caller_type, px_nil(), NULL, &c), 0);
  px_send(c, A("go"), px_ref_val(r));
  /* Wait until the call is in (it logs), then move on and reply. */
  for (;;) {
    px_val log = get_log(r);
    int i = find(log, 0, "a", "wait");
    px_val_release(log);
    if (i >= 0) break;
  }
  cast(r, "goto", px_atom_val("b"));
  cast(r, "reply_pending", px_nil());
  px_val v = expect("called");
  cr_assert(px_is_atom(v, A("ok")));
  px_runtime_stop();
}

/* ---- rules without a T-case ----------------------------------------------- */

Test(gen_fsm, R_E_1_state_functions_with_fallback) {
  start_rt();
  px_ref r = start(&plain_def);
  cast(r, "goto", px_atom_val("locked"));
  px_val v;
  /* `locked` has a state function; `state` falls through to handle_event. */
  cr_assert_eq(px_gen_fsm_call(r, A("state"), px_nil(), 0, &v), 0);
  cr_assert(px_is_atom(v, A("locked")));
  /* Nobody handles `zzz`: the call gets an error reply. */
  cr_assert_eq(px_gen_fsm_call(r, A("zzz"), px_nil(), 0, &v), PX_EHANDLER);
  px_val_release(v);
  cr_assert_eq(px_gen_fsm_call(r, A("fail"), px_nil(), 0, &v), PX_EHANDLER);
  cr_assert(px_is_atom(v, A("nope")));
  px_runtime_stop();
}

Test(gen_fsm, R_E_2_event_types) {
  start_rt();
  px_ref r = start(&plain_def);
  cast(r, "c", px_nil());
  px_send(r, A("i"), px_nil());
  cast(r, "insert", px_nil());
  px_val_release(get_log(r));
  px_val log = get_log(r);
  cr_assert_eq(px_at(px_at(log, (size_t)find(log, 0, NULL, "c")), 1).u.i,
               PX_FSM_CAST);
  cr_assert_eq(px_at(px_at(log, (size_t)find(log, 0, NULL, "i")), 1).u.i,
               PX_FSM_INFO);
  cr_assert_eq(px_at(px_at(log, (size_t)find(log, 0, NULL, "e1")), 1).u.i,
               PX_FSM_INTERNAL);
  px_val_release(log);
  px_runtime_stop();
}

Test(gen_fsm, R_E_3_same_state_is_no_change_for_enter) {
  start_rt();
  px_ref r = start(&enter_def);
  cast(r, "goto", px_atom_val("a"));
  cast(r, "goto", px_atom_val("b"));
  px_val log = get_log(r);
  int enters = 0;
  for (size_t i = 0; i < px_len(log); i++)
    if (px_at(px_at(log, i), 1).u.i == PX_FSM_ENTER) enters++;
  cr_assert_eq(enters, 2, "initial enter + enter b");
  px_val_release(log);
  px_runtime_stop();
}

Test(gen_fsm, R_E_7_repeat_state_reruns_enter) {
  start_rt();
  px_ref r = start(&enter_def);
  cast(r, "repeat", px_nil());
  px_val log = get_log(r);
  int enters = 0;
  for (size_t i = 0; i < px_len(log); i++)
    if (px_at(px_at(log, i), 1).u.i == PX_FSM_ENTER) enters++;
  cr_assert_eq(enters, 2);
  px_val_release(log);
  px_runtime_stop();
}

Test(gen_fsm, R_E_7_enter_may_set_state_timeout) {
  start_rt();
  px_ref r = start(&enter_def);
  cast(r, "goto", px_atom_val("st_on_enter"));
  px_val_release(get_log(r));
  px_clock_advance(10);
  px_val v = expect("fired");
  cr_assert(px_is_atom(px_at(v, 0), A("state_timeout")));
  px_val_release(v);
  px_runtime_stop();
}

Test(gen_fsm, R_E_8_restart_uses_new_time) {
  start_rt();
  px_ref r = start(&plain_def);
  cast(r, "st", px_int(100));
  cast(r, "st", px_int(300));
  px_val_release(get_log(r));
  px_clock_advance(200);
  px_val_release(get_log(r));
  cr_assert_not(queued("fired"), "the first timer was replaced");
  px_clock_advance(100);
  px_val_release(expect("fired"));
  px_runtime_stop();
}

Test(gen_fsm, R_E_8_state_timeout_survives_keep_state) {
  start_rt();
  px_ref r = start(&plain_def);
  cast(r, "st", px_int(100));
  cast(r, "noise", px_nil());
  px_val_release(get_log(r));
  px_clock_advance(100);
  px_val v = expect("fired");
  cr_assert(px_is_atom(px_at(v, 1), A("c")));
  px_val_release(v);
  px_runtime_stop();
}

Test(gen_fsm, R_E_9_update_changes_running_content) {
  start_rt();
  px_ref r = start(&plain_def);
  cast(r, "st", px_int(100));
  cast(r, "st_update", px_nil());
  px_val_release(get_log(r));
  cr_assert_not(queued("fired"), "a running timer is not fired by update");
  px_clock_advance(100);
  px_val v = expect("fired");
  cr_assert(px_is_atom(px_at(v, 1), A("c2")));
  px_val_release(v);
  px_runtime_stop();
}

Test(gen_fsm, R_E_12_stop_and_reply_runs_terminate) {
  start_rt();
  px_ref r = start(&plain_def);
  cast(r, "goto", px_atom_val("b"));
  px_val v;
  cr_assert_eq(px_gen_fsm_call(r, A("stop"), px_nil(), 0, &v), 0);
  cr_assert(px_is_atom(v, A("stopping")));
  v = expect("terminate");
  cr_assert(px_is_atom(px_at(v, 0), A("b")));
  cr_assert(px_is_atom(px_at(v, 1), A("normal")));
  px_val_release(v);
  px_runtime_stop();
}

Test(gen_fsm, R_E_13_stop_api_is_synchronous) {
  start_rt();
  px_ref r = start(&plain_def);
  cr_assert_eq(px_gen_fsm_stop(r, px_atom_val("shutdown"), -1), 0);
  cr_assert(queued("terminate"));
  cr_assert_eq(px_gen_fsm_stop(r, px_nil(), -1), PX_ENOPROC);
  px_runtime_stop();
}

/* ---- calls are asks: one answer each, nothing left behind ---------------- */

/* A caller actor. "late" [fsm]: a `wait` call with a 50 ms timeout; it
 * reports timed_out, waits for "check", then reports what its mailbox
 * holds. "call" [fsm, type]: one call, reported as called [rc, reply]. */
static void caller2_handle(void *st, const px_message *m) {
  px_ref fsm;
  px_val_ref(px_at(m->payload, 0), &fsm);
  px_val v;
  if (m->type == A("call")) {
    int rc = px_gen_fsm_call(fsm, px_at(m->payload, 1).u.a, px_nil(), -1, &v);
    px_send(observer, A("called"), px_arr(2, px_int(rc), v));
    return;
  }
  int rc = px_gen_fsm_call(fsm, A("wait"), px_nil(), 50, &v);
  px_val_release(v);
  px_send(observer, A("timed_out"), px_int(rc));
  px_message *got;
  px_receive(match_type, (void *)A("check"), -1, &got);
  px_message_free(got);
  px_message *left = NULL;
  int left_rc = px_receive(NULL, NULL, 0, &left);
  px_val left_type = left ? px_atomv(left->type) : px_nil();
  if (left) px_message_free(left);
  px_send(observer, A("checked"), px_arr(2, px_int(left_rc), left_type));
}
static const px_actor_type caller2_type = {.name = "caller2",
                                           .handle = caller2_handle};

static void wait_logged(px_ref r, const char *type) {
  for (;;) {
    px_val log = get_log(r);
    int i = find(log, 0, NULL, type);
    px_val_release(log);
    if (i >= 0) return;
  }
}

Test(gen_fsm, R_E_12_timed_out_call_late_reply_dropped) {
  start_rt();
  px_ref r = start(&plain_def);
  px_ref c;
  cr_assert_eq(px_spawn(&caller2_type, px_nil(), NULL, &c), 0);
  px_send(c, A("late"), px_arr(1, px_ref_val(r)));
  wait_logged(r, "wait"); /* the FSM holds the reply */
  /* Virtual time: move it until the caller's timer has fired (the timer
   * may be armed a moment after the FSM saw the call). */
  px_val v = px_nil();
  for (int i = 0; i < 500 && px_is_nil(v); i++) {
    px_clock_advance(10);
    px_message *m;
    if (px_receive(match_type, (void *)A("timed_out"), 10, &m) == 0) {
      v = px_val_retain(m->payload);
      px_message_free(m);
    }
  }
  cr_assert(!px_is_nil(v), "the call never timed out");
  cr_assert_eq(v.u.i, PX_ETIMEDOUT, "got %s", px_err_name((int)v.u.i));
  /* Now the FSM answers, late; the call after it orders things: the
   * reply has been delivered to the caller before "check" is sent. */
  cast(r, "reply_pending", px_nil());
  px_val_release(get_log(r));
  px_send(c, A("check"), px_nil());
  v = expect("checked");
  cr_assert_eq(px_at(v, 0).u.i, PX_ETIMEDOUT,
               "the caller's mailbox holds a %s message",
               px_is_nil(px_at(v, 1)) ? "?" : px_atom_name(px_at(v, 1).u.a));
  px_val_release(v);
  px_runtime_stop();
}

Test(gen_fsm, R_E_12_stop_while_holding_reply_gives_reason) {
  start_rt();
  px_ref r = start(&plain_def);
  px_ref c;
  cr_assert_eq(px_spawn(&caller2_type, px_nil(), NULL, &c), 0);
  px_send(c, A("call"), px_arr(2, px_ref_val(r), px_atom_val("wait")));
  wait_logged(r, "wait");
  cr_assert_eq(px_gen_fsm_stop(r, px_arr(2, px_atom_val("shutdown"),
                                         px_atom_val("bye")),
                               -1),
               0);
  px_val v = expect("called");
  cr_assert_eq(px_at(v, 0).u.i, PX_ENOPROC, "got %s",
               px_err_name((int)px_at(v, 0).u.i));
  cr_assert(px_is_atom(px_at(px_at(v, 1), 1), A("bye")), "the stop reason");
  px_val_release(v);
  px_runtime_stop();
}

Test(gen_fsm, R_E_12_crash_in_call_gives_reason) {
  start_rt();
  px_ref r = start(&plain_def);
  px_val v;
  cr_assert_eq(px_gen_fsm_call(r, A("crash"), px_nil(), 0, &v), PX_ENOPROC);
  cr_assert(px_is_atom(v, A("fsm_boom")));
  px_val_release(v);
  px_val t = expect("terminate");
  cr_assert(px_is_atom(px_at(t, 1), A("fsm_boom")));
  px_val_release(t);
  cr_assert_eq(px_gen_fsm_call(r, A("state"), px_nil(), 0, &v), PX_ENOPROC);
  cr_assert(px_is_atom(v, A("noproc")));
  px_runtime_stop();
}

Test(gen_fsm, R_E_12_reply_then_exit_gives_reply) {
  start_rt();
  for (int i = 0; i < 50; i++) {
    px_ref r = start(&plain_def);
    px_val v;
    int rc = px_gen_fsm_call(r, A("reply_then_exit"), px_nil(), 0, &v);
    cr_assert_eq(rc, 0, "%s", px_err_name(rc));
    cr_assert(px_is_atom(v, A("got")));
    px_val t = expect("terminate");
    cr_assert(px_is_atom(px_at(t, 1), A("after_reply")));
    px_val_release(t);
  }
  px_runtime_stop();
}

/* ---- R-E-11: absolute timeouts ------------------------------------------ */

/* Moves the clock to a point well past 0, so that an absolute time read
 * as a duration would fire at a visibly different moment. */
static int64_t clock_at_1000(void) {
  px_clock_advance(1000);
  return (int64_t)px_clock_ms();
}

Test(gen_fsm, R_E_11_absolute_state_timeout) {
  start_rt();
  px_ref r = start(&plain_def);
  int64_t now = clock_at_1000();
  cast(r, "st_abs", px_int(now + 100)); /* due at now+100, not in 1100 ms */
  px_val_release(get_log(r));
  px_clock_advance(99);
  px_val_release(get_log(r));
  cr_assert_not(queued("fired"));
  px_clock_advance(1);
  px_val v = expect("fired");
  cr_assert(px_is_atom(px_at(v, 0), A("state_timeout")));
  cr_assert(px_is_atom(px_at(v, 1), A("c_abs")));
  px_val_release(v);
  /* The kind's rules hold: a state change cancels it. */
  cast(r, "st_abs", px_int(now + 300));
  cast(r, "goto", px_atom_val("b"));
  px_val_release(get_log(r));
  px_clock_advance(300);
  px_val_release(get_log(r));
  cr_assert_not(queued("fired"));
  px_runtime_stop();
}

Test(gen_fsm, R_E_11_absolute_event_timeout) {
  start_rt();
  px_ref r = start(&plain_def);
  int64_t now = clock_at_1000();
  cast(r, "et_abs", px_int(now + 50));
  /* No call here: a call is an event and would cancel it. Nothing is
   * sent after the cast, so the timer fires once the cast is handled; the
   * clock goes to the due time in steps until it has (the cast may still
   * be queued at the first step). */
  px_clock_advance(49);
  cr_assert_not(queued("fired"));
  for (int i = 0; i < 100; i++) {
    px_message *m;
    if (px_receive(match_type, (void *)A("fired"), 10, &m) == 0) {
      cr_assert(px_is_atom(px_at(m->payload, 0), A("timeout")));
      cr_assert(px_is_atom(px_at(m->payload, 1), A("e_abs")));
      cr_assert_geq(px_clock_ms(), (uint64_t)now + 50, "not before its time");
      px_message_free(m);
      px_runtime_stop();
      return;
    }
    px_clock_advance(1);
  }
  cr_assert_fail("the absolute event timeout never fired");
}

Test(gen_fsm, R_E_11_absolute_generic_timeout) {
  start_rt();
  px_ref r = start(&plain_def);
  int64_t now = clock_at_1000();
  cast(r, "gt_abs", px_arr(2, px_atom_val("t1"), px_int(now + 200)));
  cast(r, "goto", px_atom_val("b")); /* generic: survives state changes */
  px_val_release(get_log(r));
  px_clock_advance(199);
  px_val_release(get_log(r));
  cr_assert_not(queued("fired"));
  px_clock_advance(1);
  px_val v = expect("fired");
  cr_assert(px_is_atom(px_at(v, 0), A("t1")));
  px_val_release(v);
  px_runtime_stop();
}

Test(gen_fsm, R_E_11_absolute_time_already_passed_fires_at_once) {
  start_rt();
  px_ref r = start(&plain_def);
  int64_t now = clock_at_1000();
  /* A point in the past: no clock movement needed. */
  cast(r, "st_abs", px_int(now - 500));
  px_val v = expect("fired");
  cr_assert(px_is_atom(px_at(v, 0), A("state_timeout")));
  cr_assert(px_is_atom(px_at(v, 1), A("c_abs")));
  px_val_release(v);
  /* Infinity cancels a running absolute timeout. */
  cast(r, "st_abs", px_int(now + 100));
  cast(r, "st_abs", px_int(-1));
  px_val_release(get_log(r));
  px_clock_advance(200);
  px_val_release(get_log(r));
  cr_assert_not(queued("fired"));
  px_runtime_stop();
}
