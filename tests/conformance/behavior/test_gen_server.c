/* Conformance tests for GenServer: one test per case (T-D-n) or rule
 * (R-D-n) of SEMANTICS.md section D. The test thread talks to servers
 * through its hidden proxy; callbacks report to it ("the observer") with
 * plain messages, and ordering is established with calls and receives,
 * never with sleeps. Timeouts use the virtual clock. */
#include <criterion/criterion.h>
#include <sched.h>
#include <string.h>

#include "plexspaces/core.h"
#include "plexspaces/error.h"
#include "plexspaces/gen_server.h"
#include "plexspaces/runtime.h"

static px_ref observer;

static px_atom A(const char *s) { return px_atom_of(s); }

static void start_rt(bool virtual_clock) {
  px_runtime_opts o = {0};
  o.workers = 2;
  o.virtual_clock = virtual_clock;
  cr_assert_eq(px_runtime_start(&o), 0);
  observer = px_self();
}

static void stop_rt(void) { px_runtime_stop(); }

static void tell(const char *type, px_val v) { px_send(observer, A(type), v); }

static bool match_type(const px_message *m, void *ud) {
  return m->type == (px_atom)ud;
}

/* Receives the next observer message of `type` (fails after 5 s of real
 * time: a bound for a broken build, not a synchronisation). */
static px_val expect(const char *type) {
  px_message *m;
  int rc = px_receive(match_type, (void *)A(type), 5000, &m);
  cr_assert_eq(rc, 0, "no '%s' message: %s", type, px_err_name(rc));
  px_val v = px_val_retain(m->payload);
  px_message_free(m);
  return v;
}

/* True if a message of `type` is already queued (does not wait). */
static bool queued(const char *type) {
  px_message *m;
  if (px_receive(match_type, (void *)A(type), 0, &m) != 0) return false;
  px_message_free(m);
  return true;
}

static bool is_atom(px_val v, const char *name) {
  return px_is_atom(v, A(name));
}

static px_val wait_down(px_mref mref) {
  for (;;) {
    px_val v = expect("__DOWN__");
    px_val r = px_get(v, px_atomv(px_a()->monitor_ref));
    if ((px_mref)r.u.i == mref) {
      px_val reason = px_val_retain(px_get(v, px_atomv(px_a()->down_reason)));
      px_val_release(v);
      return reason;
    }
    px_val_release(v);
  }
}

static bool alive(px_ref r) {
  px_actor_info info;
  return px_actor_info_get(r, &info) == 0;
}

/* ---- the test server ------------------------------------------------------- */

typedef struct srv {
  int64_t n;
  px_val log; /* array of what happened, in order */
  bool trap;
  px_reqid pending; /* an async request this server made (R-D-14) */
  bool has_pending;
} srv;

static void log_add(srv *s, px_val item) { px_array_push(&s->log, item); }

/* init args: [mode, extra]. */
static px_gs_result srv_init(px_val args, void **state, px_gs_out *out) {
  px_val mode = px_at(args, 0);
  if (is_atom(mode, "stop")) return px_gs_stop(out, px_atom_val("bad"));
  if (is_atom(mode, "ignore")) return PX_GS_IGNORE;
  if (is_atom(mode, "crash")) px_exit_self(px_atom_val("init_crash"));
  if (is_atom(mode, "block")) {
    px_message *m;
    px_receive(match_type, (void *)A("never"), -1, &m);
  }
  srv *s = calloc(1, sizeof *s);
  s->log = px_array_new(16);
  *state = s;
  if (is_atom(mode, "trap")) px_trap_exit(true);
  if (is_atom(mode, "continue")) {
    /* Queue a call behind us before the continue can run (T-D-9): the
     * test thread is waiting to be told to send it. */
    tell("init_running", px_nil());
    px_message *m;
    px_receive(match_type, (void *)A("go"), -1, &m);
    px_message_free(m);
    px_gs_continue(out, px_atom_val("x"));
  }
  if (is_atom(mode, "timeout")) out->timeout_ms = px_at(args, 1).u.i;
  tell("init_done", px_nil());
  return PX_GS_OK;
}

static px_gs_result srv_call(void *st, px_atom type, px_val p, px_from from,
                             px_gs_out *out) {
  srv *s = st;
  const char *t = px_atom_name(type);
  log_add(s, px_arr(2, px_atom_val("call"), px_atomv(type)));
  if (!strcmp(t, "get")) return px_gs_reply(out, px_int(s->n));
  if (!strcmp(t, "log")) {
    /* A copy: the log is a builder that must stay unshared. */
    px_val c = px_array_new(px_len(s->log));
    for (size_t i = 0; i < px_len(s->log); i++)
      px_array_push(&c, px_val_retain(px_at(s->log, i)));
    return px_gs_reply(out, c);
  }
  if (!strcmp(t, "ping")) return px_gs_reply(out, px_atom_val("pong"));
  if (!strcmp(t, "crash")) px_exit_self(px_atom_val("boom"));
  if (!strcmp(t, "reply_then_exit")) {
    /* Answer, then crash in the same callback: the reply must win. */
    px_gen_server_reply(from, px_atom_val("got"));
    px_exit_self(px_atom_val("after_reply"));
  }
  if (!strcmp(t, "reply_then_stop")) {
    px_gen_server_reply(from, px_atom_val("got"));
    return px_gs_stop(out, px_atom_val("normal")); /* quiet in the log */
  }
  if (!strcmp(t, "noreply")) {
    /* Hand `from` to whoever p names (T-D-6) or to the observer. */
    px_val f = px_arr(2, px_ref_val(from.to), px_int((int64_t)from.corr));
    tell("from", f);
    return PX_GS_NOREPLY;
  }
  if (!strcmp(t, "stop_reply"))
    return px_gs_stop_reply(out, px_val_retain(p), px_atom_val("ok"));
  if (!strcmp(t, "stop")) return px_gs_stop(out, px_val_retain(p));
  if (!strcmp(t, "fail")) return px_gs_error(out, px_atom_val("oops"));
  if (!strcmp(t, "timeout")) {
    out->timeout_ms = p.u.i;
    return px_gs_reply(out, px_atom_val("ok"));
  }
  if (!strcmp(t, "timeout0_busy")) {
    px_send(px_self(), A("poke"), px_nil()); /* queued before the timeout */
    out->timeout_ms = 0;
    return px_gs_reply(out, px_atom_val("ok"));
  }
  if (!strcmp(t, "hibernate")) {
    out->hibernate = true;
    return px_gs_reply(out, px_atom_val("ok"));
  }
  if (!strcmp(t, "continue")) {
    px_gs_continue(out, px_val_retain(p));
    return px_gs_reply(out, px_atom_val("ok"));
  }
  if (!strcmp(t, "bad")) return (px_gs_result)42;
  return PX_GS_ERROR + 100; /* unknown: a bad return */
}

static px_gs_result srv_cast(void *st, px_atom type, px_val p,
                             px_gs_out *out) {
  srv *s = st;
  log_add(s, px_arr(2, px_atom_val("cast"), px_val_retain(p)));
  if (type == A("add")) s->n += p.u.i;
  if (type == A("crash")) px_exit_self(px_atom_val("cast_boom"));
  if (type == A("stop")) return px_gs_stop(out, px_val_retain(p));
  if (type == A("continue")) px_gs_continue(out, px_val_retain(p));
  if (type == A("req")) {
    /* A server making an async request; the response comes to
     * handle_info (R-D-14 check_response). */
    px_ref to;
    px_val_ref(px_at(p, 0), &to);
    s->has_pending = px_gen_server_send_request(to, px_at(p, 1).u.a, px_nil(),
                                                &s->pending) == 0;
  }
  return PX_GS_OK;
}

static px_gs_result srv_info(void *st, px_atom type, px_val p,
                             px_gs_out *out) {
  srv *s = st;
  log_add(s, px_arr(2, px_atom_val("info"), px_atomv(type)));
  if (type == px_a()->timeout) tell("timeout", px_nil());
  if (type == px_a()->exit_msg)
    tell("info_exit", px_val_retain(px_get(p, px_atomv(px_a()->exit_reason))));
  if (type == A("poke")) tell("poked", px_nil());
  if (s->has_pending) {
    px_val v;
    int rc = px_gen_server_check_response(type, p, s->pending, &v);
    if (rc != PX_ENOTFOUND) {
      s->has_pending = false;
      tell("resp", px_arr(2, px_int(rc), v));
    } else {
      tell("not_resp", px_atomv(type));
    }
  }
  return PX_GS_OK;
}

static px_gs_result srv_continue(void *st, px_val cont, px_gs_out *out) {
  srv *s = st;
  log_add(s, px_arr(2, px_atom_val("continue"), px_val_retain(cont)));
  return PX_GS_OK;
}

static void srv_terminate(void *st, px_val reason) {
  tell("terminate", px_val_retain(reason));
}

static void srv_free(void *st) {
  srv *s = st;
  px_val_release(s->log);
  free(s);
}

static px_gs_result op_double(void *st, px_atom type, px_val p, px_from from,
                              px_gs_out *out) {
  return px_gs_reply(out, px_int(p.u.i * 2));
}

static const px_gs_op srv_ops[] = {{"double", op_double, NULL}};

static const px_gen_server srv_def = {
    .name = "test_srv",
    .init = srv_init,
    .handle_call = srv_call,
    .handle_cast = srv_cast,
    .handle_info = srv_info,
    .handle_continue = srv_continue,
    .terminate = srv_terminate,
    .free_state = srv_free,
    .ops = srv_ops,
    .nops = 1,
};

static px_ref start_mode(const char *mode) {
  px_ref r;
  int rc = px_gen_server_start(&srv_def, px_arr(1, px_atom_val(mode)), NULL,
                               &r);
  cr_assert_eq(rc, 0, "start: %s", px_err_name(rc));
  px_val_release(expect("init_done"));
  return r;
}

static px_val call(px_ref r, const char *type, px_val p, int *rc_out) {
  px_val reply;
  int rc = px_gen_server_call(r, A(type), p, 0, &reply);
  if (rc_out)
    *rc_out = rc;
  else
    cr_assert_eq(rc, 0, "call %s: %s", type, px_err_name(rc));
  return reply;
}

/* Starts a server linked to the test thread, its parent (what a
 * supervisor is to its children). The test thread traps exits, and its
 * exit signals carry its proxy's ref, so px_exit from here is the parent's
 * exit signal. */
static px_ref start_linked(const char *mode) {
  px_ref r;
  int rc = px_gen_server_start_link(&srv_def, px_arr(1, px_atom_val(mode)),
                                    NULL, &r);
  cr_assert_eq(rc, 0, "start: %s", px_err_name(rc));
  px_val_release(expect("init_done"));
  return r;
}

/* ---- T-D cases --------------------------------------------------------------- */

Test(gen_server, T_D_1_init_stop_gives_error_and_no_process) {
  start_rt(false);
  px_val reason = px_nil();
  px_gen_start_opts o = {.reason_out = &reason, .name = "t_d_1"};
  px_ref r;
  int rc = px_gen_server_start_link(&srv_def, px_arr(1, px_atom_val("stop")),
                                    &o, &r);
  cr_assert_eq(rc, PX_EINIT);
  cr_assert(is_atom(reason, "bad"));
  cr_assert_not(alive(r), "the process is gone");
  px_ref w;
  cr_assert_eq(px_whereis("t_d_1", &w), PX_EBADNAME);
  cr_assert_not(queued("__EXIT__"), "a failed start sends no exit signal");
  px_val_release(reason);
  stop_rt();
}

Test(gen_server, T_D_2_init_ignore) {
  start_rt(false);
  px_ref r;
  int rc = px_gen_server_start_link(&srv_def, px_arr(1, px_atom_val("ignore")),
                                    NULL, &r);
  cr_assert_eq(rc, PX_EIGNORE);
  cr_assert_not(alive(r));
  cr_assert_not(queued("__EXIT__"));
  stop_rt();
}

Test(gen_server, T_D_3_call_dead_pid_noproc) {
  start_rt(false);
  px_ref r = start_mode("plain");
  cr_assert_eq(px_gen_server_stop(r, px_nil(), -1), 0);
  int rc;
  px_val v = call(r, "get", px_nil(), &rc);
  cr_assert_eq(rc, PX_ENOPROC);
  cr_assert(is_atom(v, "noproc"));
  stop_rt();
}

Test(gen_server, T_D_5_crash_in_call_caller_gets_reason) {
  start_rt(false);
  px_ref r = start_mode("plain");
  int rc;
  px_val v = call(r, "crash", px_nil(), &rc);
  cr_assert_eq(rc, PX_ENOPROC, "got %s", px_err_name(rc));
  cr_assert(is_atom(v, "boom"), "the server's reason, not a timeout");
  px_val t = expect("terminate"); /* R-D-10: a crash runs terminate */
  cr_assert(is_atom(t, "boom"));
  px_val_release(t);
  stop_rt();
}

/* A helper actor that answers a call it is handed (T-D-6). */
static void replier_handle(void *st, const px_message *m) {
  px_ref to;
  px_val_ref(px_at(m->payload, 0), &to);
  px_from f = {to, (uint64_t)px_at(m->payload, 1).u.i};
  px_gen_server_reply(f, px_int(42));
}
static const px_actor_type replier = {.name = "replier",
                                      .handle = replier_handle};

Test(gen_server, T_D_6_noreply_then_reply_from_other) {
  start_rt(false);
  px_ref r = start_mode("plain");
  px_ref helper;
  cr_assert_eq(px_spawn(&replier, px_nil(), NULL, &helper), 0);
  /* We are blocked in the call, so the server hands `from` to the helper
   * (as the observer) and the helper replies 42 from another actor. */
  observer = helper;
  px_val reply;
  int rc = px_gen_server_call(r, A("noreply"), px_nil(), 0, &reply);
  observer = px_self();
  cr_assert_eq(rc, 0, "%s", px_err_name(rc));
  cr_assert_eq(px_typeof(reply), PX_T_INT);
  cr_assert_eq(reply.u.i, 42);
  stop_rt();
}

Test(gen_server, T_D_7_cast_to_unregistered_name_ok) {
  start_rt(false);
  cr_assert_eq(px_gen_server_cast_name("nobody_here", A("add"), px_int(1)), 0);
  px_ref dead = {1, 12345, 7, 0};
  cr_assert_eq(px_gen_server_cast(dead, A("add"), px_int(1)), 0); /* R-D-4 */
  stop_rt();
}

extern const px_actor_type t_d_9_helper;

Test(gen_server, T_D_9_init_continue_runs_before_queued_call) {
  start_rt(false);
  /* init reports "init_running" to a helper (the observer), which queues
   * a cast to the server and only then lets init finish with
   * {continue, x}: continue must run before the queued cast. */
  px_ref helper, r;
  cr_assert_eq(px_spawn(&t_d_9_helper, px_nil(), NULL, &helper), 0);
  observer = helper;
  int rc = px_gen_server_start(&srv_def, px_arr(1, px_atom_val("continue")),
                               NULL, &r);
  cr_assert_eq(rc, 0);
  observer = px_self();
  px_val log = call(r, "log", px_nil(), NULL);
  cr_assert_eq(px_len(log), 3); /* continue x, cast 7, call log */
  cr_assert(is_atom(px_at(px_at(log, 0), 0), "continue"),
            "continue ran first");
  cr_assert(is_atom(px_at(px_at(log, 1), 0), "cast"));
  px_val_release(log);
  stop_rt();
}

/* Waits for "init_running" from the server, then queues a cast to it and
 * only then lets init finish. */
static void t_d_9_handle(void *st, const px_message *m) {
  if (m->type != A("init_running")) return;
  px_gen_server_cast(m->from, A("add"), px_int(7));
  px_send(m->from, A("go"), px_nil());
}
const px_actor_type t_d_9_helper = {.name = "t_d_9", .handle = t_d_9_handle};

Test(gen_server, T_D_10_trapping_parent_shutdown_runs_terminate) {
  start_rt(false);
  px_ref r = start_linked("trap");
  px_mref m = px_monitor(r);
  /* A supervisor's shutdown is exit(child, shutdown) from the parent. */
  px_exit(r, px_atom_val("shutdown"));
  px_val t = expect("terminate");
  cr_assert(is_atom(t, "shutdown"));
  px_val_release(t);
  px_val d = wait_down(m);
  cr_assert(is_atom(d, "shutdown"));
  px_val_release(d);
  stop_rt();
}

Test(gen_server, T_D_10_not_trapping_no_terminate) {
  start_rt(false);
  px_ref r = start_linked("plain");
  px_mref m = px_monitor(r);
  px_exit(r, px_atom_val("shutdown"));
  px_val d = wait_down(m);
  cr_assert(is_atom(d, "shutdown"));
  px_val_release(d);
  cr_assert_not(queued("terminate"), "terminate must not run");
  stop_rt();
}

Test(gen_server, T_D_11_stop_reply_normal) {
  start_rt(false);
  px_ref r = start_mode("plain");
  px_mref m = px_monitor(r);
  px_val v = call(r, "stop_reply", px_atom_val("normal"), NULL);
  cr_assert(is_atom(v, "ok"));
  px_val t = expect("terminate");
  cr_assert(is_atom(t, "normal"));
  px_val_release(t);
  px_val d = wait_down(m);
  cr_assert(is_atom(d, "normal"));
  px_val_release(d);
  stop_rt();
}

Test(gen_server, T_D_13_stop_is_synchronous_then_noproc) {
  start_rt(false);
  px_ref r = start_mode("plain");
  cr_assert_eq(px_gen_server_stop(r, px_nil(), -1), 0);
  /* terminate already ran: its message is queued before stop returned. */
  cr_assert(queued("terminate"));
  cr_assert_not(alive(r));
  cr_assert_eq(px_gen_server_stop(r, px_nil(), -1), PX_ENOPROC);
  stop_rt();
}

Test(gen_server, T_D_14_name_taken_already_started) {
  start_rt(false);
  px_ref a, b;
  px_gen_start_opts o = {.name = "t_d_14"};
  cr_assert_eq(px_gen_server_start(&srv_def, px_arr(1, px_atom_val("plain")),
                                   &o, &a),
               0);
  px_val_release(expect("init_done"));
  int rc = px_gen_server_start_link(&srv_def, px_arr(1, px_atom_val("plain")),
                                    &o, &b);
  cr_assert_eq(rc, PX_EALREADYSTARTED);
  cr_assert(px_ref_eq(b, a), "reports the holder");
  cr_assert_not(queued("init_done"), "the second init never ran");
  cr_assert_not(queued("__DOWN__"));
  cr_assert_not(queued("__EXIT__"));
  stop_rt();
}

/* ---- rules without a T-case ------------------------------------------------- */

Test(gen_server, R_D_1_start_returns_after_init) {
  start_rt(false);
  px_ref r;
  cr_assert_eq(px_gen_server_start(&srv_def, px_arr(1, px_atom_val("plain")),
                                   NULL, &r),
               0);
  /* init's message was sent before the ack, so it is already here. */
  cr_assert(queued("init_done"));
  stop_rt();
}

Test(gen_server, R_D_1_crash_in_init_gives_error) {
  start_rt(false);
  px_val reason = px_nil();
  px_gen_start_opts o = {.reason_out = &reason};
  px_ref r;
  int rc = px_gen_server_start_link(&srv_def, px_arr(1, px_atom_val("crash")),
                                    &o, &r);
  cr_assert_eq(rc, PX_EINIT);
  cr_assert(is_atom(reason, "init_crash"));
  cr_assert_not(queued("terminate"), "no terminate when init fails");
  cr_assert_not(queued("__EXIT__"));
  stop_rt();
}

Test(gen_server, R_D_1_start_timeout_kills_init) {
  start_rt(false);
  px_gen_start_opts o = {.timeout_ms = 50};
  px_ref r;
  int rc = px_gen_server_start_link(&srv_def, px_arr(1, px_atom_val("block")),
                                    &o, &r);
  cr_assert_eq(rc, PX_ETIMEDOUT);
  cr_assert_not(alive(r));
  cr_assert_not(queued("__EXIT__"));
  stop_rt();
}

Test(gen_server, R_D_2_call_timeout_then_late_reply_dropped) {
  start_rt(false);
  px_ref r = start_mode("plain");
  px_val reply;
  int rc = px_gen_server_call(r, A("noreply"), px_nil(), 50, &reply);
  cr_assert_eq(rc, PX_ETIMEDOUT);
  /* R-D-3: the server answers late; the next call sees its own reply. */
  px_val f = expect("from");
  px_from from;
  px_val_ref(px_at(f, 0), &from.to);
  from.corr = (uint64_t)px_at(f, 1).u.i;
  px_val_release(f);
  px_gen_server_reply(from, px_atom_val("late"));
  px_val v = call(r, "ping", px_nil(), NULL);
  cr_assert(is_atom(v, "pong"), "the call got its own reply, not 'late'");
  stop_rt();
}

Test(gen_server, R_D_5_one_message_at_a_time_in_order) {
  start_rt(false);
  px_ref r = start_mode("plain");
  for (int i = 1; i <= 50; i++) px_gen_server_cast(r, A("add"), px_int(i));
  px_send(r, A("poke"), px_nil());
  px_val log = call(r, "log", px_nil(), NULL);
  cr_assert_eq(px_len(log), 52);
  for (int i = 0; i < 50; i++)
    cr_assert_eq(px_at(px_at(log, (size_t)i), 1).u.i, i + 1);
  cr_assert(is_atom(px_at(px_at(log, 50), 0), "info"), "raw send is info");
  px_val n = call(r, "get", px_nil(), NULL);
  cr_assert_eq(n.u.i, 50 * 51 / 2);
  px_val_release(log);
  stop_rt();
}

Test(gen_server, R_D_6_stop_without_reply_caller_gets_reason) {
  start_rt(false);
  px_ref r = start_mode("plain");
  int rc;
  px_val v = call(r, "stop", px_atom_val("bye"), &rc);
  cr_assert_eq(rc, PX_ENOPROC);
  cr_assert(is_atom(v, "bye"));
  px_val t = expect("terminate");
  cr_assert(is_atom(t, "bye"));
  px_val_release(t);
  stop_rt();
}

Test(gen_server, R_D_6_error_reply_server_lives) {
  start_rt(false);
  px_ref r = start_mode("plain");
  int rc;
  px_val v = call(r, "fail", px_nil(), &rc);
  cr_assert_eq(rc, PX_EHANDLER);
  cr_assert(is_atom(v, "oops"));
  v = call(r, "ping", px_nil(), NULL);
  cr_assert(is_atom(v, "pong"));
  cr_assert_not(queued("terminate"));
  stop_rt();
}

Test(gen_server, R_D_6_bad_return_stops_server) {
  start_rt(false);
  px_ref r = start_mode("plain");
  int rc;
  px_val v = call(r, "bad", px_nil(), &rc);
  cr_assert_eq(rc, PX_EHANDLER);
  px_val_release(v);
  px_val t = expect("terminate");
  cr_assert(is_atom(px_at(t, 0), "bad_return_value"));
  px_val_release(t);
  stop_rt();
}

Test(gen_server, R_D_6_dispatch_table_before_handle_call) {
  start_rt(false);
  px_ref r = start_mode("plain");
  px_val v = call(r, "double", px_int(21), NULL);
  cr_assert_eq(v.u.i, 42);
  px_val log = call(r, "log", px_nil(), NULL);
  cr_assert_eq(px_len(log), 1, "the op did not go through handle_call");
  px_val_release(log);
  /* A plain px_ask is a call too (corr != 0). */
  cr_assert_eq(px_ask(r, A("ping"), px_nil(), 1000, &v), 0);
  cr_assert(is_atom(v, "pong"));
  stop_rt();
}

Test(gen_server, R_D_7_continue_runs_before_queued_messages) {
  start_rt(false);
  px_ref r = start_mode("plain");
  /* The cast's continue must run before the cast queued behind it. */
  px_gen_server_cast(r, A("continue"), px_atom_val("c1"));
  px_gen_server_cast(r, A("add"), px_int(1));
  px_val log = call(r, "log", px_nil(), NULL);
  cr_assert_eq(px_len(log), 4);
  cr_assert(is_atom(px_at(px_at(log, 1), 0), "continue"));
  cr_assert(is_atom(px_at(px_at(log, 1), 1), "c1"));
  cr_assert(is_atom(px_at(px_at(log, 2), 0), "cast"));
  px_val_release(log);
  stop_rt();
}

Test(gen_server, R_D_8_event_timeout_fires) {
  start_rt(true);
  px_ref r = start_mode("plain");
  px_val v = call(r, "timeout", px_int(100), NULL);
  cr_assert(is_atom(v, "ok"));
  px_clock_advance(99);
  call(r, "ping", px_nil(), NULL); /* this cancels it, so check before */
  cr_assert_not(queued("timeout"));
  call(r, "timeout", px_int(100), NULL);
  px_clock_advance(100);
  px_val_release(expect("timeout"));
  stop_rt();
}

Test(gen_server, R_D_8_any_message_cancels_timeout) {
  start_rt(true);
  px_ref r = start_mode("plain");
  call(r, "timeout", px_int(100), NULL);
  px_clock_advance(50);
  px_gen_server_cast(r, A("add"), px_int(1));
  px_clock_advance(100);
  call(r, "ping", px_nil(), NULL);
  cr_assert_not(queued("timeout"));
  stop_rt();
}

Test(gen_server, R_D_8_timeout_zero) {
  start_rt(true);
  px_ref r = start_mode("plain");
  /* Mailbox empty at that moment: delivered at once, no clock needed. */
  call(r, "timeout", px_int(0), NULL);
  px_val_release(expect("timeout"));
  /* A message already queued comes first and cancels it. */
  call(r, "timeout0_busy", px_nil(), NULL);
  px_val_release(expect("poked"));
  call(r, "ping", px_nil(), NULL);
  cr_assert_not(queued("timeout"));
  stop_rt();
}

Test(gen_server, R_D_8_timeout_from_init) {
  start_rt(true);
  px_ref r;
  cr_assert_eq(px_gen_server_start(&srv_def,
                                   px_arr(2, px_atom_val("timeout"),
                                          px_int(30)),
                                   NULL, &r),
               0);
  px_clock_advance(30);
  px_val_release(expect("timeout"));
  stop_rt();
}

Test(gen_server, R_D_9_hibernate_changes_nothing) {
  start_rt(false);
  px_ref r = start_mode("plain");
  px_val v = call(r, "hibernate", px_nil(), NULL);
  cr_assert(is_atom(v, "ok"));
  v = call(r, "ping", px_nil(), NULL);
  cr_assert(is_atom(v, "pong"));
  stop_rt();
}

Test(gen_server, R_D_10_crash_in_cast_runs_terminate) {
  start_rt(false);
  px_ref r = start_mode("plain");
  px_mref m = px_monitor(r);
  px_gen_server_cast(r, A("crash"), px_nil());
  px_val t = expect("terminate");
  cr_assert(is_atom(t, "cast_boom"));
  px_val_release(t);
  px_val d = wait_down(m);
  cr_assert(is_atom(d, "cast_boom"));
  px_val_release(d);
  stop_rt();
}

Test(gen_server, R_D_10_kill_skips_terminate) {
  start_rt(false);
  px_ref r;
  cr_assert_eq(px_gen_server_start(&srv_def, px_arr(1, px_atom_val("trap")),
                                   NULL, &r),
               0);
  px_val_release(expect("init_done"));
  px_mref m = px_monitor(r);
  px_exit(r, px_atom_val("kill"));
  px_val d = wait_down(m);
  cr_assert(is_atom(d, "killed"));
  px_val_release(d);
  cr_assert_not(queued("terminate"));
  stop_rt();
}

Test(gen_server, R_D_11_exit_reasons_propagate_by_kind) {
  start_rt(false);
  /* The stop reason is the exit reason seen over links and monitors; we
   * trap (external threads always do), so both arrive as messages. */
  px_ref a, b;
  cr_assert_eq(px_gen_server_start_link(&srv_def,
                                        px_arr(1, px_atom_val("plain")), NULL,
                                        &a),
               0);
  cr_assert_eq(px_gen_server_start_link(&srv_def,
                                        px_arr(1, px_atom_val("plain")), NULL,
                                        &b),
               0);
  px_gen_server_stop(a, px_atom_val("normal"), -1);
  px_val e = expect("__EXIT__");
  cr_assert(is_atom(px_get(e, px_atomv(px_a()->exit_reason)), "normal"));
  px_val_release(e);
  px_gen_server_stop(b, px_atom_val("odd"), -1);
  e = expect("__EXIT__");
  cr_assert(is_atom(px_get(e, px_atomv(px_a()->exit_reason)), "odd"));
  px_val_release(e);
  stop_rt();
}

Test(gen_server, R_D_12_non_parent_exit_goes_to_handle_info) {
  start_rt(false);
  px_ref r = start_linked("trap");
  /* An exit from a non-parent (a helper actor) is a message. */
  extern const px_actor_type exiter;
  px_ref h;
  cr_assert_eq(px_spawn(&exiter, px_ref_val(r), NULL, &h), 0);
  px_val v = expect("info_exit");
  cr_assert(is_atom(v, "whatever"));
  px_val_release(v);
  cr_assert(alive(r));
  /* The parent's EXIT stops it, with terminate. */
  px_exit(r, px_atom_val("parent_gone"));
  px_val t = expect("terminate");
  cr_assert(is_atom(t, "parent_gone"));
  px_val_release(t);
  stop_rt();
}

static int exiter_init(px_val args, void **st) {
  px_ref to;
  px_val_ref(args, &to);
  px_exit(to, px_atom_val("whatever"));
  return 0;
}
static void exiter_handle(void *st, const px_message *m) {}
const px_actor_type exiter = {
    .name = "exiter", .init = exiter_init, .handle = exiter_handle};

Test(gen_server, R_D_13_stop_with_reason_and_timeout) {
  start_rt(false);
  px_ref r = start_mode("plain");
  cr_assert_eq(px_gen_server_stop(r, px_atom_val("custom"), 1000), 0);
  px_val t = expect("terminate");
  cr_assert(is_atom(t, "custom"));
  px_val_release(t);
  stop_rt();
}

/* ---- calls are asks: one answer each, nothing left behind ---------------- */

/* A caller actor. "late" [server]: a call that times out while the server
 * holds the reply; it reports timed_out, waits for "check" (the test
 * thread sends it after answering the call late), then reports what its
 * mailbox holds and what a fresh call gets. "call" [server, type]: one
 * call, reported as called [rc, reply]. */
static void caller_handle(void *st, const px_message *m) {
  px_ref server;
  px_val_ref(px_at(m->payload, 0), &server);
  if (m->type == A("call")) {
    px_val v;
    int rc = px_gen_server_call(server, px_at(m->payload, 1).u.a, px_nil(),
                                -1, &v);
    tell("called", px_arr(2, px_int(rc), v));
    return;
  }
  px_val v;
  int rc = px_gen_server_call(server, A("noreply"), px_nil(), 50, &v);
  px_val_release(v);
  tell("timed_out", px_int(rc));
  px_message *got;
  px_receive(match_type, (void *)A("check"), -1, &got);
  px_message_free(got);
  /* The late reply came before "check" (same sender, FIFO): it must have
   * been dropped, not queued. */
  px_message *left = NULL;
  int left_rc = px_receive(NULL, NULL, 0, &left);
  px_val left_type = left ? px_atomv(left->type) : px_nil();
  if (left) px_message_free(left);
  rc = px_gen_server_call(server, A("ping"), px_nil(), 0, &v);
  tell("checked", px_arr(4, px_int(left_rc), left_type, px_int(rc), v));
}
static const px_actor_type caller_type = {.name = "caller",
                                          .handle = caller_handle};

static px_ref spawn_caller(void) {
  px_ref c;
  cr_assert_eq(px_spawn(&caller_type, px_nil(), NULL, &c), 0);
  return c;
}

Test(gen_server, R_D_3_timed_out_call_leaves_caller_mailbox_empty) {
  start_rt(false);
  px_ref r = start_mode("plain");
  px_ref c = spawn_caller();
  px_send(c, A("late"), px_arr(1, px_ref_val(r)));
  px_val f = expect("from"); /* the server holds the reply (noreply) */
  px_from from;
  cr_assert(px_val_ref(px_at(f, 0), &from.to));
  cr_assert(px_ref_eq(from.to, c), "from names the calling actor");
  from.corr = (uint64_t)px_at(f, 1).u.i;
  px_val_release(f);
  px_val v = expect("timed_out");
  cr_assert_eq(v.u.i, PX_ETIMEDOUT, "got %s", px_err_name((int)v.u.i));
  /* The server answers after the caller gave up. */
  cr_assert_eq(px_gen_server_reply(from, px_atom_val("late")), 0);
  px_send(c, A("check"), px_nil());
  v = expect("checked");
  cr_assert_eq(px_at(v, 0).u.i, PX_ETIMEDOUT,
               "the caller's mailbox holds a %s message",
               px_is_nil(px_at(v, 1)) ? "?" : px_atom_name(px_at(v, 1).u.a));
  cr_assert_eq(px_at(v, 2).u.i, 0);
  cr_assert(is_atom(px_at(v, 3), "pong"), "the next call gets its own reply");
  px_val_release(v);
  stop_rt();
}

Test(gen_server, R_D_3_timed_out_call_from_thread_leaves_nothing) {
  start_rt(false);
  px_ref r = start_mode("plain");
  px_val reply;
  cr_assert_eq(px_gen_server_call(r, A("noreply"), px_nil(), 50, &reply),
               PX_ETIMEDOUT);
  px_val f = expect("from");
  px_from from;
  px_val_ref(px_at(f, 0), &from.to);
  from.corr = (uint64_t)px_at(f, 1).u.i;
  px_val_release(f);
  px_gen_server_reply(from, px_atom_val("late"));
  /* A call after the late reply: by then the reply has reached us. */
  px_val v = call(r, "ping", px_nil(), NULL);
  cr_assert(is_atom(v, "pong"));
  px_message *m;
  cr_assert_eq(px_receive(NULL, NULL, 0, &m), PX_ETIMEDOUT,
               "nothing left in the mailbox");
  stop_rt();
}

/* The reply and the exit leave the server in the same callback: the
 * caller must see the reply, never noproc (the old ask race). Repeated,
 * from the test thread and from an actor. */
Test(gen_server, R_D_2_reply_then_exit_in_same_callback_gives_reply) {
  start_rt(false);
  for (int i = 0; i < 50; i++) {
    const char *what = i % 2 ? "reply_then_exit" : "reply_then_stop";
    px_ref r = start_mode("plain");
    px_mref mref = px_monitor(r);
    int rc;
    px_val v = call(r, what, px_nil(), &rc);
    cr_assert_eq(rc, 0, "%s: %s", what, px_err_name(rc));
    cr_assert(is_atom(v, "got"), "%s: the reply, not the exit reason", what);
    const char *reason = i % 2 ? "after_reply" : "normal";
    px_val t = expect("terminate");
    cr_assert(is_atom(t, reason));
    px_val_release(t);
    px_val d = wait_down(mref);
    cr_assert(is_atom(d, reason));
    px_val_release(d);
  }
  px_ref c = spawn_caller();
  for (int i = 0; i < 50; i++) {
    const char *what = i % 2 ? "reply_then_exit" : "reply_then_stop";
    px_ref r = start_mode("plain");
    px_send(c, A("call"), px_arr(2, px_ref_val(r), px_atom_val(what)));
    px_val v = expect("called");
    cr_assert_eq(px_at(v, 0).u.i, 0, "%s from an actor: %s", what,
                 px_err_name((int)px_at(v, 0).u.i));
    cr_assert(is_atom(px_at(v, 1), "got"));
    px_val_release(v);
    px_val_release(expect("terminate"));
  }
  stop_rt();
}

Test(gen_server, R_D_2_crash_in_call_from_actor_gets_reason) {
  start_rt(false);
  px_ref r = start_mode("plain");
  px_ref c = spawn_caller();
  px_send(c, A("call"), px_arr(2, px_ref_val(r), px_atom_val("crash")));
  px_val v = expect("called");
  cr_assert_eq(px_at(v, 0).u.i, PX_ENOPROC, "got %s",
               px_err_name((int)px_at(v, 0).u.i));
  cr_assert(is_atom(px_at(v, 1), "boom"), "the crash reason");
  px_val_release(v);
  px_val t = expect("terminate");
  cr_assert(is_atom(t, "boom"));
  px_val_release(t);
  /* And a call to the dead server now: noproc. */
  px_send(c, A("call"), px_arr(2, px_ref_val(r), px_atom_val("ping")));
  v = expect("called");
  cr_assert_eq(px_at(v, 0).u.i, PX_ENOPROC);
  cr_assert(is_atom(px_at(v, 1), "noproc"));
  px_val_release(v);
  stop_rt();
}

Test(gen_server, R_D_2_crash_while_holding_reply_gives_reason) {
  start_rt(false);
  px_ref r = start_mode("plain");
  px_ref c = spawn_caller();
  /* The server takes the call with noreply, then crashes in a cast. */
  px_send(c, A("call"), px_arr(2, px_ref_val(r), px_atom_val("noreply")));
  px_val_release(expect("from"));
  px_gen_server_cast(r, A("crash"), px_nil());
  px_val v = expect("called");
  cr_assert_eq(px_at(v, 0).u.i, PX_ENOPROC, "got %s",
               px_err_name((int)px_at(v, 0).u.i));
  cr_assert(is_atom(px_at(v, 1), "cast_boom"));
  px_val_release(v);
  stop_rt();
}

Test(gen_server, R_D_2_unknown_server_noproc) {
  start_rt(false);
  px_ref nobody = {1, 54321, 9, 0};
  px_val v;
  cr_assert_eq(px_gen_server_call(nobody, A("ping"), px_nil(), 0, &v),
               PX_ENOPROC);
  cr_assert(is_atom(v, "noproc"));
  cr_assert_eq(px_gen_server_call(px_ref_nil(), A("ping"), px_nil(), 0, &v),
               PX_ENOPROC);
  px_val_release(v);
  stop_rt();
}

/* ---- R-D-14: multi_call, abcast, async requests ------------------------- */

static px_ref start_named(const char *name) {
  px_ref r;
  px_gen_start_opts o = {0};
  o.name = name;
  cr_assert_eq(px_gen_server_start(&srv_def, px_arr(1, px_atom_val("plain")),
                                   &o, &r),
               0);
  px_val_release(expect("init_done"));
  return r;
}

/* A server that never answers a call. */
static px_gs_result mute_call(void *st, px_atom type, px_val p, px_from from,
                              px_gs_out *out) {
  return PX_GS_NOREPLY;
}
static px_gs_result mute_init(px_val args, void **st, px_gs_out *out) {
  return PX_GS_OK;
}
static const px_gen_server mute_def = {
    .name = "mute", .init = mute_init, .handle_call = mute_call};

static px_ref dead_server(void) {
  px_ref r = start_mode("plain");
  cr_assert_eq(px_gen_server_stop(r, px_nil(), -1), 0);
  px_val_release(expect("terminate"));
  return r;
}

/* The `from` a noreply call handed to the observer. */
static px_from expect_from(void) {
  px_val f = expect("from");
  px_from from;
  cr_assert(px_val_ref(px_at(f, 0), &from.to));
  from.corr = (uint64_t)px_at(f, 1).u.i;
  px_val_release(f);
  return from;
}

static bool mailbox_empty(void) {
  px_message *m;
  if (px_receive(NULL, NULL, 0, &m) != 0) return true;
  px_message_free(m);
  return false;
}

Test(gen_server, R_D_14_multi_call_reports_bad_servers) {
  start_rt(false);
  px_ref a = start_mode("plain");
  start_named("mc_b");
  px_ref dead = dead_server();
  px_gen_target t[4] = {px_gen_target_ref(a), px_gen_target_name("mc_b"),
                        px_gen_target_ref(dead),
                        px_gen_target_name("mc_nobody")};
  px_gen_multi_reply rep[4];
  size_t bad[4], nbad = 99;
  cr_assert_eq(px_gen_server_multi_call(t, 4, A("ping"), px_nil(), -1, rep,
                                        bad, &nbad),
               0);
  cr_assert_eq(rep[0].rc, 0);
  cr_assert(is_atom(rep[0].value, "pong"));
  cr_assert_eq(rep[1].rc, 0, "by name: %s", px_err_name(rep[1].rc));
  cr_assert(is_atom(rep[1].value, "pong"));
  cr_assert_eq(rep[2].rc, PX_ENOPROC);
  cr_assert(is_atom(rep[2].value, "noproc"));
  cr_assert_eq(rep[3].rc, PX_ENOPROC);
  cr_assert(is_atom(rep[3].value, "noproc"));
  cr_assert_eq(nbad, 2);
  cr_assert_eq(bad[0], 2);
  cr_assert_eq(bad[1], 3);
  for (int i = 0; i < 4; i++) px_val_release(rep[i].value);
  /* An error reply is an answer: the server is not bad. */
  px_gen_multi_reply r1;
  cr_assert_eq(px_gen_server_multi_call(t, 1, A("fail"), px_nil(), -1, &r1,
                                        NULL, &nbad),
               0);
  cr_assert_eq(r1.rc, PX_EHANDLER);
  cr_assert(is_atom(r1.value, "oops"));
  cr_assert_eq(nbad, 0);
  cr_assert(mailbox_empty(), "multi_call leaves nothing behind");
  stop_rt();
}

Test(gen_server, R_D_14_multi_call_timeout_is_bad_and_late_reply_dropped) {
  start_rt(false);
  px_ref a = start_mode("plain");
  px_ref slow = start_mode("plain");
  px_gen_target t[2] = {px_gen_target_ref(a), px_gen_target_ref(slow)};
  px_gen_multi_reply rep[2];
  size_t bad[2], nbad;
  /* Both hold the request (noreply) past the timeout (real time: the
   * test thread is not an actor). */
  cr_assert_eq(px_gen_server_multi_call(t, 2, A("noreply"), px_nil(), 100,
                                        rep, bad, &nbad),
               0);
  cr_assert_eq(rep[0].rc, PX_ETIMEDOUT);
  cr_assert_eq(rep[1].rc, PX_ETIMEDOUT);
  cr_assert_eq(nbad, 2);
  cr_assert_eq(bad[0], 0);
  cr_assert_eq(bad[1], 1);
  /* The servers answer after the multi_call gave up: dropped. */
  for (int i = 0; i < 2; i++)
    cr_assert_eq(px_gen_server_reply(expect_from(), px_atom_val("late")), 0);
  px_val v = call(a, "ping", px_nil(), NULL);
  cr_assert(is_atom(v, "pong"));
  v = call(slow, "ping", px_nil(), NULL);
  cr_assert(is_atom(v, "pong"));
  cr_assert(mailbox_empty(), "no late response in the mailbox");
  /* Mixed: one answers, one never does. */
  px_ref mute;
  cr_assert_eq(px_gen_server_start(&mute_def, px_nil(), NULL, &mute), 0);
  t[1] = px_gen_target_ref(mute);
  cr_assert_eq(px_gen_server_multi_call(t, 2, A("ping"), px_nil(), 100, rep,
                                        bad, &nbad),
               0);
  cr_assert_eq(rep[0].rc, 0);
  cr_assert(is_atom(rep[0].value, "pong"));
  cr_assert_eq(rep[1].rc, PX_ETIMEDOUT);
  cr_assert_eq(nbad, 1);
  cr_assert_eq(bad[0], 1);
  stop_rt();
}

Test(gen_server, R_D_14_abcast_to_present_and_absent) {
  start_rt(false);
  px_ref a = start_mode("plain");
  px_ref b = start_named("ab_b");
  px_ref dead = dead_server();
  px_gen_target t[4] = {px_gen_target_ref(a), px_gen_target_name("ab_b"),
                        px_gen_target_name("ab_nobody"),
                        px_gen_target_ref(dead)};
  cr_assert_eq(px_gen_server_abcast(t, 4, A("add"), px_int(5)), 0);
  px_val v = call(a, "get", px_nil(), NULL);
  cr_assert_eq(v.u.i, 5);
  v = call(b, "get", px_nil(), NULL);
  cr_assert_eq(v.u.i, 5);
  stop_rt();
}

Test(gen_server, R_D_14_send_request_wait_response) {
  start_rt(false);
  px_ref a = start_mode("plain");
  px_reqid id;
  cr_assert_eq(px_gen_server_send_request(a, A("ping"), px_nil(), &id), 0);
  px_val v;
  cr_assert_eq(px_gen_server_wait_response(id, -1, &v), 0);
  cr_assert(is_atom(v, "pong"));
  /* A request the server holds: the caller is not blocked, a timeout
   * leaves the id valid, and the reply (from anywhere, later) arrives. */
  cr_assert_eq(px_gen_server_send_request(a, A("noreply"), px_nil(), &id), 0);
  px_from from = expect_from();
  cr_assert_not(px_ref_eq(from.to, px_self()), "a request actor asks");
  cr_assert_eq(px_gen_server_wait_response(id, 0, &v), PX_ETIMEDOUT);
  cr_assert(px_is_nil(v));
  v = call(a, "ping", px_nil(), NULL); /* the server goes on meanwhile */
  cr_assert(is_atom(v, "pong"));
  cr_assert_eq(px_gen_server_reply(from, px_atom_val("later")), 0);
  cr_assert_eq(px_gen_server_wait_response(id, -1, &v), 0);
  cr_assert(is_atom(v, "later"));
  /* Every outcome of a call. */
  cr_assert_eq(px_gen_server_send_request(a, A("fail"), px_nil(), &id), 0);
  cr_assert_eq(px_gen_server_wait_response(id, -1, &v), PX_EHANDLER);
  cr_assert(is_atom(v, "oops"));
  px_ref dead = dead_server();
  cr_assert_eq(px_gen_server_send_request(dead, A("ping"), px_nil(), &id), 0);
  cr_assert_eq(px_gen_server_wait_response(id, -1, &v), PX_ENOPROC);
  cr_assert(is_atom(v, "noproc"));
  cr_assert_eq(px_gen_server_send_request_name("nobody_here", A("ping"),
                                               px_nil(), &id),
               0);
  cr_assert_eq(px_gen_server_wait_response(id, -1, &v), PX_ENOPROC);
  cr_assert(is_atom(v, "noproc"));
  px_ref c = start_mode("plain");
  cr_assert_eq(px_gen_server_send_request(c, A("crash"), px_nil(), &id), 0);
  cr_assert_eq(px_gen_server_wait_response(id, -1, &v), PX_ENOPROC);
  cr_assert(is_atom(v, "boom"), "the server's exit reason");
  px_val_release(expect("terminate"));
  cr_assert(mailbox_empty(), "each response reported once, nothing left");
  stop_rt();
}

/* Waits (real time, bounded) until `r` is parked in a receive: its
 * timeout timer is then armed on the virtual clock. A condition, not a
 * sleep: nothing advances time meanwhile. */
static void wait_parked(px_ref r) {
  uint64_t t0 = px_now_ns();
  for (;;) {
    px_actor_info info;
    cr_assert_eq(px_actor_info_get(r, &info), 0);
    if (info.parked) return;
    cr_assert(px_now_ns() - t0 < 5000000000ull, "never parked");
    sched_yield();
  }
}

/* An actor that makes a request and waits for it on the virtual clock:
 * "round" [server, receive?] -> send_request(noreply), then
 * wait_response / receive_response with 100 ms, told as waited [rc, v];
 * "check" -> mailbox [rc of a zero-time receive]. */
static void waiter_handle(void *st, const px_message *m) {
  if (m->type == A("check")) {
    px_message *left;
    int rc = px_receive(NULL, NULL, 0, &left);
    if (!rc) px_message_free(left);
    tell("mailbox", px_int(rc));
    return;
  }
  px_ref server;
  px_val_ref(px_at(m->payload, 0), &server);
  bool recv = px_is_atom(px_at(m->payload, 1), px_atom_of("true"));
  px_reqid id;
  px_gen_server_send_request(server, A("noreply"), px_nil(), &id);
  px_val v;
  int rc = recv ? px_gen_server_receive_response(id, 100, &v)
                : px_gen_server_wait_response(id, 100, &v);
  tell("waited", px_arr(2, px_int(rc), v));
}
static const px_actor_type waiter_type = {.name = "waiter",
                                          .handle = waiter_handle};

Test(gen_server, R_D_14_wait_response_timeout_on_virtual_clock) {
  start_rt(true);
  px_ref a = start_mode("plain");
  px_ref w;
  cr_assert_eq(px_spawn(&waiter_type, px_nil(), NULL, &w), 0);
  /* Round 1: at 99 ms it is still waiting; the reply then arrives. */
  px_send(w, A("round"), px_arr(2, px_ref_val(a), px_atom_val("false")));
  px_from from = expect_from();
  wait_parked(w);
  px_clock_advance(99);
  cr_assert_eq(px_gen_server_reply(from, px_atom_val("in_time")), 0);
  px_val v = expect("waited");
  cr_assert_eq(px_at(v, 0).u.i, 0, "got %s", px_err_name((int)px_at(v, 0).u.i));
  cr_assert(is_atom(px_at(v, 1), "in_time"));
  px_val_release(v);
  /* Round 2: receive_response times out at 100 ms and abandons it. */
  px_send(w, A("round"), px_arr(2, px_ref_val(a), px_atom_val("true")));
  from = expect_from();
  wait_parked(w);
  px_clock_advance(100);
  v = expect("waited");
  cr_assert_eq(px_at(v, 0).u.i, PX_ETIMEDOUT);
  px_val_release(v);
  /* The late reply never reaches the waiter. */
  px_gen_server_reply(from, px_atom_val("late"));
  call(a, "ping", px_nil(), NULL);
  px_send(w, A("check"), px_nil());
  v = expect("mailbox");
  cr_assert_eq(v.u.i, PX_ETIMEDOUT, "the waiter's mailbox is empty");
  stop_rt();
}

Test(gen_server, R_D_14_check_response_in_handle_info) {
  start_rt(false);
  px_ref a = start_mode("plain");
  px_ref b = start_mode("plain");
  /* b requests from a; the response is a message for b's handle_info,
   * recognised by check_response. */
  px_gen_server_cast(b, A("req"),
                     px_arr(2, px_ref_val(a), px_atom_val("ping")));
  px_val v = expect("resp");
  cr_assert_eq(px_at(v, 0).u.i, 0);
  cr_assert(is_atom(px_at(v, 1), "pong"));
  px_val_release(v);
  /* a holds the next request: another info is not the response. */
  px_gen_server_cast(b, A("req"),
                     px_arr(2, px_ref_val(a), px_atom_val("noreply")));
  px_from from = expect_from();
  px_send(b, A("poke"), px_nil());
  v = expect("not_resp");
  cr_assert(is_atom(v, "poke"));
  cr_assert_not(queued("resp"));
  px_gen_server_reply(from, px_atom_val("held_reply"));
  v = expect("resp");
  cr_assert_eq(px_at(v, 0).u.i, 0);
  cr_assert(is_atom(px_at(v, 1), "held_reply"));
  px_val_release(v);
  stop_rt();
}

Test(gen_server, R_D_14_reqid_collection_wait_all) {
  start_rt(false);
  px_ref a = start_mode("plain");
  start_named("rc_b");
  px_ref dead = dead_server();
  px_reqids *c = px_gen_server_reqids_new();
  const char *labels[4] = {"la", "lb", "lc", "ld"};
  px_reqid id;
  cr_assert_eq(px_gen_server_send_request(a, A("ping"), px_nil(), &id), 0);
  px_gen_server_reqids_add(c, id, px_atom_val(labels[0]));
  cr_assert_eq(px_gen_server_send_request_name("rc_b", A("ping"), px_nil(),
                                               &id),
               0);
  px_gen_server_reqids_add(c, id, px_atom_val(labels[1]));
  cr_assert_eq(px_gen_server_send_request(dead, A("ping"), px_nil(), &id), 0);
  px_gen_server_reqids_add(c, id, px_atom_val(labels[2]));
  cr_assert_eq(px_gen_server_send_request(a, A("fail"), px_nil(), &id), 0);
  px_gen_server_reqids_add(c, id, px_atom_val(labels[3]));
  cr_assert_eq(px_gen_server_reqids_size(c), 4);
  px_reqid_result out[8];
  size_t n = 0;
  cr_assert_eq(px_gen_server_reqids_wait_all(c, -1, out, 8, &n), 0);
  cr_assert_eq(n, 4);
  cr_assert_eq(px_gen_server_reqids_size(c), 0);
  int seen[4] = {0};
  for (size_t i = 0; i < n; i++) {
    int k = -1;
    for (int j = 0; j < 4; j++)
      if (is_atom(out[i].label, labels[j])) k = j;
    cr_assert(k >= 0, "a label we gave");
    seen[k]++;
    int want = k < 2 ? 0 : k == 2 ? PX_ENOPROC : PX_EHANDLER;
    const char *val = k < 2 ? "pong" : k == 2 ? "noproc" : "oops";
    cr_assert_eq(out[i].rc, want, "%s: %s", labels[k],
                 px_err_name(out[i].rc));
    cr_assert(is_atom(out[i].reply, val), "%s", labels[k]);
    px_val_release(out[i].label);
    px_val_release(out[i].reply);
  }
  for (int j = 0; j < 4; j++) cr_assert_eq(seen[j], 1, "once each");
  px_val l, r;
  cr_assert_eq(px_gen_server_reqids_wait_any(c, -1, &l, &r), PX_ENOTFOUND,
               "empty: no_request");
  px_gen_server_reqids_free(c);
  cr_assert(mailbox_empty());
  stop_rt();
}

Test(gen_server, R_D_14_reqid_collection_wait_any_and_check) {
  start_rt(false);
  px_ref a = start_mode("plain");
  px_reqids *c = px_gen_server_reqids_new();
  px_reqid id;
  px_gen_server_send_request(a, A("noreply"), px_nil(), &id);
  px_gen_server_reqids_add(c, id, px_atom_val("held"));
  px_from from = expect_from();
  px_gen_server_send_request(a, A("ping"), px_nil(), &id);
  px_gen_server_reqids_add(c, id, px_atom_val("quick"));
  px_val l, v;
  cr_assert_eq(px_gen_server_reqids_wait_any(c, -1, &l, &v), 0);
  cr_assert(is_atom(l, "quick"));
  cr_assert(is_atom(v, "pong"));
  px_val_release(l);
  cr_assert_eq(px_gen_server_reqids_wait_any(c, 0, &l, &v), PX_ETIMEDOUT);
  cr_assert_eq(px_gen_server_reqids_size(c), 1);
  px_gen_server_reply(from, px_atom_val("finally"));
  /* check_response on a received message: once, with its label. */
  px_message *m;
  cr_assert_eq(px_receive(match_type, (void *)px_a()->down_msg, 5000, &m), 0);
  cr_assert_eq(px_gen_server_reqids_check(c, m->type, m->payload, &l, &v), 0);
  cr_assert(is_atom(l, "held"));
  cr_assert(is_atom(v, "finally"));
  px_val_release(l);
  cr_assert_eq(px_gen_server_reqids_check(c, m->type, m->payload, &l, &v),
               PX_ENOTFOUND, "reported once");
  px_message_free(m);
  cr_assert_eq(px_gen_server_reqids_size(c), 0);
  /* Freeing a collection abandons what is left: nothing comes later. */
  px_gen_server_send_request(a, A("noreply"), px_nil(), &id);
  px_gen_server_reqids_add(c, id, px_atom_val("dropped"));
  from = expect_from();
  px_gen_server_reqids_free(c);
  px_gen_server_reply(from, px_atom_val("too_late"));
  call(a, "ping", px_nil(), NULL);
  cr_assert(mailbox_empty());
  stop_rt();
}

Test(gen_server, R_D_9_hibernating_server_keeps_working) {
  start_rt(false);
  px_ref r = start_mode("plain");
  for (int i = 0; i < 3; i++) {
    px_val v = call(r, "hibernate", px_nil(), NULL);
    cr_assert(is_atom(v, "ok"));
    px_gen_server_cast(r, A("add"), px_int(2));
    px_send(r, A("poke"), px_nil());
    px_val_release(expect("poked"));
  }
  px_val v = call(r, "get", px_nil(), NULL);
  cr_assert_eq(v.u.i, 6);
  stop_rt();
}
