/* Conformance tests for GenEvent: one test per case (T-F-n) or rule
 * (R-F-n) of SEMANTICS.md section F. Handlers report to the test thread
 * (the observer) with messages; ordering comes from sync_notify and
 * calls. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "plexspaces/error.h"
#include "plexspaces/gen_event.h"
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

/* ---- a recording handler ---------------------------------------------------- */

typedef struct hs {
  px_val id;
  int64_t seen;
} hs;

static px_ev_result h_init(px_val args, void **st, px_val *err) {
  if (px_is_atom(args, A("refuse"))) {
    *err = px_atom_val("x");
    return PX_EV_ERROR;
  }
  hs *s = calloc(1, sizeof *s);
  s->id = px_val_retain(args);
  *st = s;
  px_send(observer, A("init"), px_val_retain(args));
  return PX_EV_OK;
}

static const px_event_handler H2;

/* R-F-7 / R-F-11 results a handler may return from any callback. */
static bool special(hs *s, px_atom type, px_val p, px_val *out,
                    px_ev_result *r) {
  if (type == A("swap") && px_val_equal(p, s->id)) {
    *r = px_ev_swap(out, px_atom_val("args1"), &H2, px_atom_val("b2"),
                    px_atom_val("args2"), px_atom_val("swapped_ok"));
    return true;
  }
  if (type == A("hib")) {
    *r = PX_EV_HIBERNATE;
    return true;
  }
  return false;
}

static px_ev_result h_event(void *st, px_atom type, px_val p, px_val *err) {
  hs *s = st;
  px_ev_result sr;
  s->seen++;
  px_send(observer, A("event"), px_arr(2, px_val_retain(s->id), px_atomv(type)));
  if (type == A("crash") && px_val_equal(p, s->id)) {
    *err = px_atom_val("boom");
    return PX_EV_ERROR;
  }
  if (type == A("leave") && px_val_equal(p, s->id)) return PX_EV_REMOVE;
  if (type == A("slow")) px_sleep(100);
  if (special(s, type, p, err, &sr)) return sr;
  return PX_EV_OK;
}

static px_ev_result h_info(void *st, px_atom type, px_val p, px_val *err) {
  hs *s = st;
  px_ev_result sr;
  px_send(observer, A("info"), px_arr(2, px_val_retain(s->id), px_atomv(type)));
  if (type == A("leave") && px_val_equal(p, s->id)) return PX_EV_REMOVE;
  if (special(s, type, p, err, &sr)) return sr;
  return PX_EV_OK;
}

static px_ev_result h_call(void *st, px_atom type, px_val p, px_val *reply) {
  hs *s = st;
  if (type == A("crash")) {
    *reply = px_atom_val("call_boom");
    return PX_EV_ERROR;
  }
  if (type == A("slow")) {
    px_send(observer, A("slow_started"), px_nil());
    px_sleep(100);
    px_send(observer, A("slow_done"), px_nil());
  }
  px_ev_result sr;
  if (special(s, type, p, reply, &sr)) {
    if (sr == PX_EV_HIBERNATE) *reply = px_int(s->seen);
    return sr;
  }
  if (type == A("leave")) {
    *reply = px_atom_val("bye"); /* {remove_handler, Reply} */
    return PX_EV_REMOVE;
  }
  *reply = px_int(s->seen);
  return PX_EV_OK;
}

static px_val h_terminate(void *st, px_val reason) {
  hs *s = st;
  px_send(observer, A("terminate"),
          px_arr(2, px_val_retain(s->id), px_val_retain(reason)));
  return px_arr(2, px_atom_val("result_of"), px_val_retain(s->id));
}

static void h_free(void *st) {
  hs *s = st;
  px_val_release(s->id);
  free(s);
}

static const px_event_handler H1 = {"h1",    h_init,      h_event, h_call,
                                    NULL,    h_terminate, h_free};
static const px_event_handler H2 = {"h2",    h_init,      h_event, h_call,
                                    NULL,    h_terminate, h_free};
static const px_event_handler H3 = {"h3",    h_init,      h_event, h_call,
                                    h_info,  h_terminate, h_free};

static px_ref start_mgr(void) {
  px_ref m;
  cr_assert_eq(px_gen_event_start(NULL, &m), 0);
  return m;
}

static void add(px_ref m, const px_event_handler *h, const char *id) {
  cr_assert_eq(px_gen_event_add_handler(m, h, px_atom_val(id), px_atom_val(id),
                                        NULL),
               0);
  px_val_release(expect("init"));
}

static size_t nhandlers(px_ref m) {
  px_val w;
  cr_assert_eq(px_gen_event_which_handlers(m, &w), 0);
  size_t n = px_len(w);
  px_val_release(w);
  return n;
}

/* ---- T-F cases -------------------------------------------------------------- */

Test(gen_event, T_F_1_crashing_handler_removed_others_unaffected) {
  start_rt();
  px_ref m = start_mgr();
  add(m, &H1, "a");
  add(m, &H2, "b");
  cr_assert_eq(px_gen_event_sync_notify(m, A("crash"), px_atom_val("a")), 0);
  px_val t = expect("terminate");
  cr_assert(px_is_atom(px_at(t, 0), A("a")));
  px_val r = px_at(t, 1); /* [error, ['EXIT', boom]] */
  cr_assert(px_is_atom(px_at(r, 0), A("error")));
  cr_assert(px_is_atom(px_at(px_at(r, 1), 0), A("EXIT")));
  cr_assert(px_is_atom(px_at(px_at(r, 1), 1), A("boom")));
  px_val_release(t);
  px_val e1 = expect("event"), e2 = expect("event");
  cr_assert(px_is_atom(px_at(e2, 0), A("b")), "H2 got e too");
  px_val_release(e1);
  px_val_release(e2);
  px_gen_event_sync_notify(m, A("later"), px_nil());
  px_val e = expect("event");
  cr_assert(px_is_atom(px_at(e, 0), A("b")));
  px_val_release(e);
  cr_assert_not(queued("event"), "H1 is gone");
  px_val w;
  px_gen_event_which_handlers(m, &w);
  cr_assert_eq(px_len(w), 1);
  cr_assert(px_is_atom(px_at(px_at(w, 0), 0), A("h2")));
  px_val_release(w);
  px_runtime_stop();
}

/* Runs a sync_notify from an actor and reports the clock when it returns. */
static void syncer_handle(void *st, const px_message *msg) {
  px_ref m;
  px_val_ref(msg->payload, &m);
  int rc = px_gen_event_sync_notify(m, A("slow"), px_nil());
  px_send(observer, A("synced"),
          px_arr(2, px_int(rc), px_int((int64_t)px_clock_ms())));
}
static const px_actor_type syncer = {.name = "syncer",
                                     .handle = syncer_handle};

Test(gen_event, T_F_2_sync_notify_waits_for_slow_handler) {
  start_rt();
  px_ref m = start_mgr();
  add(m, &H1, "a");
  px_ref s;
  uint64_t t0 = px_clock_ms();
  cr_assert_eq(px_spawn(&syncer, px_nil(), NULL, &s), 0);
  px_send(s, A("go"), px_ref_val(m));
  px_val_release(expect("event")); /* the handler is about to sleep */
  for (int i = 0; i < 1000; i++) {
    px_message *msg;
    if (px_receive(match_type, (void *)A("synced"), 0, &msg) == 0) {
      cr_assert_eq(px_at(msg->payload, 0).u.i, 0);
      cr_assert_geq((uint64_t)px_at(msg->payload, 1).u.i, t0 + 100);
      px_message_free(msg);
      px_runtime_stop();
      return;
    }
    px_clock_advance(1);
    px_receive(match_type, (void *)A("never"), 1, &msg);
  }
  cr_assert_fail("sync_notify never returned");
}

Test(gen_event, T_F_3_notify_to_missing_manager_ok) {
  start_rt();
  cr_assert_eq(px_gen_event_notify_name("no_such_mgr", A("e"), px_nil()), 0);
  px_ref dead = {1, 9999, 3, 0};
  cr_assert_eq(px_gen_event_notify(dead, A("e"), px_nil()), 0);
  px_runtime_stop();
}

Test(gen_event, T_F_5_init_error_not_installed) {
  start_rt();
  px_ref m = start_mgr();
  px_val err;
  int rc = px_gen_event_add_handler(m, &H1, px_nil(), px_atom_val("refuse"),
                                    &err);
  cr_assert_eq(rc, PX_EINIT);
  cr_assert(px_is_atom(err, A("x")));
  cr_assert_eq(nhandlers(m), 0);
  px_runtime_stop();
}

/* P: adds a supervised handler when told, dies when told, forwards
 * gen_event_EXIT messages to the observer. */
static void p_handle(void *st, const px_message *msg) {
  if (msg->type == A("add")) {
    px_ref m;
    px_val_ref(msg->payload, &m);
    int rc = px_gen_event_add_sup_handler(m, &H1, px_atom_val("s"),
                                          px_atom_val("s"), NULL);
    px_reply(msg, px_int(rc));
  } else if (msg->type == A("die")) {
    px_exit_self(px_atom_val("boom"));
  } else if (msg->type == A("gen_event_EXIT")) {
    px_send(observer, A("sup_exit"), px_val_retain(msg->payload));
  }
}
static const px_actor_type p_type = {.name = "p", .handle = p_handle};

static px_ref sup_added(px_ref m) {
  px_ref p;
  cr_assert_eq(px_spawn(&p_type, px_nil(), NULL, &p), 0);
  px_val v;
  cr_assert_eq(px_ask(p, A("add"), px_ref_val(m), 5000, &v), 0);
  cr_assert_eq(v.u.i, 0);
  px_val_release(expect("init"));
  return p;
}

Test(gen_event, T_F_6_sup_owner_dies_handler_terminated) {
  start_rt();
  px_ref m = start_mgr();
  px_ref p = sup_added(m);
  px_send(p, A("die"), px_nil());
  px_val t = expect("terminate");
  px_val r = px_at(t, 1);
  cr_assert(px_is_atom(px_at(r, 0), A("stop")));
  cr_assert(px_is_atom(px_at(r, 1), A("boom")));
  px_val_release(t);
  cr_assert_eq(nhandlers(m), 0);
  px_runtime_stop();
}

Test(gen_event, T_F_7_sup_handler_crash_notifies_owner) {
  start_rt();
  px_ref m = start_mgr();
  sup_added(m);
  px_gen_event_sync_notify(m, A("crash"), px_atom_val("s"));
  px_val v = expect("sup_exit"); /* [name, id, ['EXIT', boom]] */
  cr_assert(px_is_atom(px_at(v, 0), A("h1")));
  cr_assert(px_is_atom(px_at(px_at(v, 2), 0), A("EXIT")));
  px_val_release(v);
  px_runtime_stop();
}

Test(gen_event, T_F_9_swap_passes_terminate_result) {
  start_rt();
  px_ref m = start_mgr();
  add(m, &H1, "a");
  /* H2's init gets [args2, T]; our init echoes its args as "init". */
  int rc = px_gen_event_swap_handler(m, &H1, px_atom_val("a"),
                                     px_atom_val("bye"), &H2, px_atom_val("b"),
                                     px_atom_val("hello"), NULL);
  cr_assert_eq(rc, 0);
  px_val t = expect("terminate");
  cr_assert(px_is_atom(px_at(t, 1), A("bye")));
  px_val_release(t);
  px_val i = expect("init");
  cr_assert(px_is_atom(px_at(i, 0), A("hello")));
  cr_assert(px_is_atom(px_at(px_at(i, 1), 0), A("result_of")));
  cr_assert(px_is_atom(px_at(px_at(i, 1), 1), A("a")));
  px_val_release(i);
  px_val w;
  px_gen_event_which_handlers(m, &w);
  cr_assert_eq(px_len(w), 1);
  cr_assert(px_is_atom(px_at(px_at(w, 0), 0), A("h2")));
  px_val_release(w);
  px_runtime_stop();
}

Test(gen_event, T_F_10_call_crash_removes_handler) {
  start_rt();
  px_ref m = start_mgr();
  add(m, &H1, "a");
  px_val v;
  int rc = px_gen_event_call(m, &H1, px_atom_val("a"), A("crash"), px_nil(), 0,
                             &v);
  cr_assert_eq(rc, PX_EHANDLER);
  cr_assert(px_is_atom(px_at(v, 0), A("EXIT")));
  px_val_release(v);
  px_val_release(expect("terminate"));
  cr_assert_eq(nhandlers(m), 0);
  px_runtime_stop();
}

Test(gen_event, T_F_11_same_handler_two_ids_independent) {
  start_rt();
  px_ref m = start_mgr();
  add(m, &H1, "one");
  add(m, &H1, "two");
  px_gen_event_sync_notify(m, A("crash"), px_atom_val("one"));
  px_val_release(expect("terminate"));
  px_gen_event_sync_notify(m, A("e"), px_nil());
  px_val v;
  cr_assert_eq(px_gen_event_call(m, &H1, px_atom_val("two"), A("count"),
                                 px_nil(), 0, &v),
               0);
  cr_assert_eq(v.u.i, 2, "two saw both events");
  cr_assert_eq(px_gen_event_call(m, &H1, px_atom_val("one"), A("count"),
                                 px_nil(), 0, &v),
               PX_ENOTFOUND);
  px_runtime_stop();
}

/* ---- rules without a T-case ------------------------------------------------- */

Test(gen_event, R_F_2_duplicate_rejected) {
  start_rt();
  px_ref m = start_mgr();
  add(m, &H1, "a");
  cr_assert_eq(px_gen_event_add_handler(m, &H1, px_atom_val("a"),
                                        px_atom_val("a"), NULL),
               PX_EEXIST);
  cr_assert_not(queued("init"), "the duplicate's init never ran");
  cr_assert_eq(nhandlers(m), 1);
  px_runtime_stop();
}

Test(gen_event, R_F_3_notify_is_async_and_delivered) {
  start_rt();
  px_ref m = start_mgr();
  add(m, &H1, "a");
  cr_assert_eq(px_gen_event_notify(m, A("n"), px_nil()), 0);
  px_val e = expect("event");
  cr_assert(px_is_atom(px_at(e, 1), A("n")));
  px_val_release(e);
  px_runtime_stop();
}

Test(gen_event, R_F_4_handlers_run_oldest_first) {
  start_rt();
  px_ref m = start_mgr();
  add(m, &H1, "first");
  add(m, &H2, "second");
  add(m, &H1, "third");
  px_gen_event_sync_notify(m, A("e"), px_nil());
  const char *want[] = {"first", "second", "third"};
  for (int i = 0; i < 3; i++) {
    px_val e = expect("event");
    cr_assert(px_is_atom(px_at(e, 0), A(want[i])), "position %d", i);
    px_val_release(e);
  }
  px_runtime_stop();
}

Test(gen_event, R_F_6_delete_handler_returns_terminate_result) {
  start_rt();
  px_ref m = start_mgr();
  add(m, &H1, "a");
  px_val res;
  cr_assert_eq(px_gen_event_delete_handler(m, &H1, px_atom_val("a"),
                                           px_atom_val("args"), &res),
               0);
  cr_assert(px_is_atom(px_at(res, 0), A("result_of")));
  px_val_release(res);
  px_val t = expect("terminate");
  cr_assert(px_is_atom(px_at(t, 1), A("args")));
  px_val_release(t);
  cr_assert_eq(px_gen_event_delete_handler(m, &H1, px_atom_val("a"), px_nil(),
                                           NULL),
               PX_ENOTFOUND);
  px_runtime_stop();
}

Test(gen_event, R_F_7_remove_handler_result) {
  start_rt();
  px_ref m = start_mgr();
  add(m, &H1, "a");
  px_gen_event_sync_notify(m, A("leave"), px_atom_val("a"));
  px_val t = expect("terminate");
  cr_assert(px_is_atom(px_at(t, 1), A("remove_handler")));
  px_val_release(t);
  cr_assert_eq(nhandlers(m), 0);
  px_runtime_stop();
}

Test(gen_event, R_F_10_stop_terminates_every_handler) {
  start_rt();
  px_ref m = start_mgr();
  add(m, &H1, "a");
  add(m, &H2, "b");
  cr_assert_eq(px_gen_event_stop(m, -1), 0);
  for (int i = 0; i < 2; i++) {
    px_val t = expect("terminate");
    cr_assert(px_is_atom(px_at(t, 1), A("stop")));
    px_val_release(t);
  }
  px_runtime_stop();
}

/* ---- requests are asks: one answer each, nothing left behind ------------- */

Test(gen_event, R_F_8_requests_to_dead_manager_noproc) {
  start_rt();
  px_ref m = start_mgr();
  add(m, &H1, "a");
  cr_assert_eq(px_gen_event_stop(m, -1), 0);
  px_val_release(expect("terminate"));
  px_val v;
  cr_assert_eq(px_gen_event_call(m, &H1, px_atom_val("a"), A("get"), px_nil(),
                                 0, &v),
               PX_ENOPROC);
  cr_assert(px_is_atom(v, A("noproc")));
  px_val err = px_nil();
  cr_assert_eq(px_gen_event_add_handler(m, &H1, px_atom_val("b"),
                                        px_atom_val("b"), &err),
               PX_ENOPROC);
  px_val_release(err);
  cr_assert_eq(px_gen_event_which_handlers(m, &v), PX_ENOPROC);
  px_val_release(v);
  px_runtime_stop();
}

/* Calls a handler with a 10 ms timeout, reports timed_out, waits for
 * "check", then reports what its mailbox holds. */
static void late_caller_handle(void *st, const px_message *msg) {
  px_ref m;
  px_val_ref(msg->payload, &m);
  px_val v;
  int rc = px_gen_event_call(m, &H1, px_atom_val("a"), A("slow"), px_nil(), 10,
                             &v);
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
static const px_actor_type late_caller = {.name = "late_caller",
                                          .handle = late_caller_handle};

Test(gen_event, R_F_8_timed_out_call_late_reply_dropped) {
  start_rt();
  px_ref m = start_mgr();
  add(m, &H1, "a");
  px_ref c;
  cr_assert_eq(px_spawn(&late_caller, px_nil(), NULL, &c), 0);
  px_send(c, A("go"), px_ref_val(m));
  px_val_release(expect("slow_started"));
  /* Virtual time: the caller gives up at 10 ms, the handler answers at
   * 100 ms. */
  bool timed_out = false, done = false;
  for (int i = 0; i < 1000 && !(timed_out && done); i++) {
    px_clock_advance(1);
    px_message *msg;
    if (!timed_out &&
        px_receive(match_type, (void *)A("timed_out"), 0, &msg) == 0) {
      cr_assert_eq(msg->payload.u.i, PX_ETIMEDOUT, "got %s",
                   px_err_name((int)msg->payload.u.i));
      px_message_free(msg);
      timed_out = true;
    }
    if (!done && px_receive(match_type, (void *)A("slow_done"), 1, &msg) == 0) {
      px_message_free(msg);
      done = true;
    }
  }
  cr_assert(timed_out && done);
  /* The manager answered the slow call before this one: the late reply
   * has been delivered to the caller before "check" is sent. */
  cr_assert_eq(nhandlers(m), 1, "the manager lives on");
  px_send(c, A("check"), px_nil());
  px_val v = expect("checked");
  cr_assert_eq(px_at(v, 0).u.i, PX_ETIMEDOUT,
               "the caller's mailbox holds a %s message",
               px_is_nil(px_at(v, 1)) ? "?" : px_atom_name(px_at(v, 1).u.a));
  px_val_release(v);
  px_runtime_stop();
}

/* ---- R-F-7: swap_handler / remove_handler returned by a callback -------- */

/* After a swap of (h, "a") to (H2, "b2"): terminate(args1) ran, H2's init
 * got [args2, T] with T what terminate returned, and only H2 is left. */
static void check_swapped(px_ref m, const char *h1name) {
  px_val t = expect("terminate");
  cr_assert(px_is_atom(px_at(t, 0), A("a")));
  cr_assert(px_is_atom(px_at(t, 1), A("args1")), "terminate(Args1, S)");
  px_val_release(t);
  px_val i = expect("init");
  cr_assert(px_is_atom(px_at(i, 0), A("args2")), "init({Args2, ...})");
  px_val res = px_at(i, 1);
  cr_assert(px_is_atom(px_at(res, 0), A("result_of")));
  cr_assert(px_is_atom(px_at(res, 1), A("a")), "...TermResult})");
  px_val_release(i);
  px_val w;
  cr_assert_eq(px_gen_event_which_handlers(m, &w), 0);
  cr_assert_eq(px_len(w), 1);
  cr_assert(px_is_atom(px_at(px_at(w, 0), 0), A("h2")), "was %s", h1name);
  cr_assert(px_is_atom(px_at(px_at(w, 0), 1), A("b2")));
  px_val_release(w);
}

Test(gen_event, R_F_7_swap_from_handler_return) {
  start_rt();
  px_ref m = start_mgr();
  add(m, &H1, "a");
  cr_assert_eq(px_gen_event_sync_notify(m, A("swap"), px_atom_val("a")), 0);
  px_val_release(expect("event")); /* h1 saw it */
  check_swapped(m, "h1");
  cr_assert_not(queued("event"), "the new handler does not see that event");
  /* The new handler works. */
  px_gen_event_sync_notify(m, A("after"), px_nil());
  px_val e = expect("event");
  cr_assert(px_is_atom(px_at(e, 1), A("after")));
  px_val_release(e);
  px_runtime_stop();
}

Test(gen_event, R_F_7_swap_from_handle_call) {
  start_rt();
  px_ref m = start_mgr();
  add(m, &H1, "a");
  px_val r;
  cr_assert_eq(px_gen_event_call(m, &H1, px_atom_val("a"), A("swap"),
                                 px_atom_val("a"), 0, &r),
               0);
  cr_assert(px_is_atom(r, A("swapped_ok")), "the call gets its reply");
  px_val_release(r);
  check_swapped(m, "h1");
  px_runtime_stop();
}

Test(gen_event, R_F_7_swap_from_handle_info) {
  start_rt();
  px_ref m = start_mgr();
  add(m, &H3, "a");
  px_send(m, A("swap"), px_atom_val("a"));
  px_val_release(expect("info"));
  check_swapped(m, "h3");
  px_runtime_stop();
}

Test(gen_event, R_F_7_swap_keeps_supervisor_and_tells_it) {
  start_rt();
  px_ref m = start_mgr();
  cr_assert_eq(px_gen_event_add_sup_handler(m, &H1, px_atom_val("a"),
                                            px_atom_val("a"), NULL),
               0);
  px_val_release(expect("init"));
  px_gen_event_sync_notify(m, A("swap"), px_atom_val("a"));
  px_val x = expect("gen_event_EXIT");
  cr_assert(px_is_atom(px_at(x, 0), A("h1")));
  px_val why = px_at(x, 2);
  cr_assert(px_is_atom(px_at(why, 0), A("swapped")));
  cr_assert(px_is_atom(px_at(why, 1), A("h2")));
  cr_assert(px_is_atom(px_at(why, 2), A("b2")));
  px_val_release(x);
  check_swapped(m, "h1");
  /* H2 inherited the supervisor: deleting it tells us. */
  cr_assert_eq(px_gen_event_delete_handler(m, &H2, px_atom_val("b2"),
                                           px_nil(), NULL),
               0);
  x = expect("gen_event_EXIT");
  cr_assert(px_is_atom(px_at(x, 0), A("h2")));
  px_val_release(x);
  px_runtime_stop();
}

Test(gen_event, R_F_7_remove_handler_from_call_and_info) {
  start_rt();
  px_ref m = start_mgr();
  add(m, &H1, "a");
  add(m, &H3, "c");
  px_val r;
  cr_assert_eq(px_gen_event_call(m, &H1, px_atom_val("a"), A("leave"),
                                 px_nil(), 0, &r),
               0);
  cr_assert(px_is_atom(r, A("bye")), "{remove_handler, Reply} replies");
  px_val_release(r);
  px_val t = expect("terminate");
  cr_assert(px_is_atom(px_at(t, 0), A("a")));
  cr_assert(px_is_atom(px_at(t, 1), A("remove_handler")));
  px_val_release(t);
  px_send(m, A("leave"), px_atom_val("c"));
  t = expect("terminate");
  cr_assert(px_is_atom(px_at(t, 0), A("c")));
  cr_assert(px_is_atom(px_at(t, 1), A("remove_handler")));
  px_val_release(t);
  cr_assert_eq(nhandlers(m), 0);
  px_runtime_stop();
}

Test(gen_event, R_F_11_hibernating_manager_keeps_working) {
  start_rt();
  px_ref m = start_mgr();
  add(m, &H1, "a");
  add(m, &H2, "b");
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(px_gen_event_sync_notify(m, A("hib"), px_nil()), 0);
    px_val_release(expect("event"));
    px_val_release(expect("event"));
  }
  px_val r;
  cr_assert_eq(px_gen_event_call(m, &H1, px_atom_val("a"), A("hib"), px_nil(),
                                 0, &r),
               0);
  cr_assert_eq(r.u.i, 3, "every event reached the handler");
  cr_assert_eq(nhandlers(m), 2, "hibernate removes nobody");
  px_gen_event_notify(m, A("after"), px_nil());
  px_val_release(expect("event"));
  px_val_release(expect("event"));
  px_runtime_stop();
}
