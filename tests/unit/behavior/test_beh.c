/* Unit tests for the helpers shared by the behaviors (src/behavior/beh.c):
 * pointer values, spawn args, the cast envelope, calls (plain asks), and
 * the start handshake with a bare actor type. */
#include <criterion/criterion.h>

#include "behavior/beh.h"
#include "plexspaces/error.h"
#include "plexspaces/runtime.h"

Test(beh, ptr_val_round_trip) {
  static const int x = 5;
  px_val v = px__beh_ptr_val(&x);
  cr_assert_eq(px__beh_val_ptr(v), &x);
  cr_assert_null(px__beh_val_ptr(px_atom_val("nope")));
}

Test(beh, args_round_trip_and_malformed) {
  static const int def = 1;
  px_ref me = {1, 2, 3, 0};
  px_val a = px__beh_args(&def, px_int(7), me);
  const void *d;
  px_val u;
  px_ref r;
  cr_assert(px__beh_args_get(a, &d, &u, &r));
  cr_assert_eq(d, &def);
  cr_assert_eq(u.u.i, 7);
  cr_assert(px_ref_eq(r, me));
  px_val_release(a);
  cr_assert_not(px__beh_args_get(px_int(1), &d, &u, &r));
  px_val bad = px_arr(3, px_int(0), px_nil(), px_str("<1.2.3>"));
  cr_assert_not(px__beh_args_get(bad, &d, &u, &r), "NULL def rejected");
  px_val_release(bad);
}

Test(beh, call_timeout_default) {
  cr_assert_eq(px__beh_call_timeout(0), PX_GEN_CALL_TIMEOUT);
  cr_assert_eq(px__beh_call_timeout(-1), -1);
  cr_assert_eq(px__beh_call_timeout(10), 10);
}

static bool any(const px_message *m, void *ud) { return true; }

Test(beh, cast_envelope_round_trip) {
  cr_assert_eq(px_runtime_start(&(px_runtime_opts){.workers = 2}), 0);
  px_ref me = px_self();
  px__beh_cast(me, px_atom_of("hello"), px_int(3));
  px_message *m;
  cr_assert_eq(px_receive(any, NULL, 5000, &m), 0);
  px_atom t;
  px_val p;
  cr_assert(px__beh_uncast(m, &t, &p));
  cr_assert_eq(t, px_atom_of("hello"));
  cr_assert_eq(p.u.i, 3);
  px_from f;
  cr_assert_not(px__beh_is_call(m, &t, &p, &f), "a cast is not a call");
  px_message_free(m);
  cr_assert_eq(px__beh_cast_name("nobody", px_atom_of("x"), px_nil()), 0);
  px_runtime_stop();
}

/* A bare actor using the handshake: args user part says what to do. */
static int hs_init(px_val args, void **st) {
  const void *d;
  px_val u;
  px_ref starter;
  px__beh_args_get(args, &d, &u, &starter);
  if (px_is_atom(u, px_atom_of("fail"))) {
    px__beh_ack_fail(starter, px__beh_a()->error, px_atom_val("nope"));
    *st = (void *)1; /* exit on the wake-up message */
    return 0;
  }
  px__beh_ack_ok(starter);
  return 0;
}
static void hs_handle(void *st, const px_message *m) {
  if (st) px_exit_self(px_atom_val("nope"));
  if (m->type == px__beh_a()->stop) px_exit_self(px_val_retain(m->payload));
  px_atom t;
  px_val p;
  px_from f;
  if (px__beh_is_call(m, &t, &p, &f)) px__beh_reply(f, false, px_int(99));
}
static const px_actor_type hs_type = {.name = "hs", .init = hs_init,
                                      .handle = hs_handle};
static const int hs_def = 0;

Test(beh, start_call_stop_handshake) {
  cr_assert_eq(px_runtime_start(&(px_runtime_opts){.workers = 2}), 0);
  px_ref r;
  cr_assert_eq(px__beh_start(&hs_type, px__beh_args(&hs_def, px_nil(),
                                                    px_self()),
                             NULL, true, NULL, &r),
               0);
  px_val v;
  cr_assert_eq(px__beh_call(r, px_atom_of("q"), px_nil(), 5000, &v), 0);
  cr_assert_eq(v.u.i, 99);
  cr_assert_eq(px_ask(r, px_atom_of("q"), px_nil(), 5000, &v), 0,
               "asks are calls too");
  cr_assert_eq(v.u.i, 99);
  cr_assert_eq(px__beh_stop(r, px_nil(), -1), 0);
  cr_assert_eq(px__beh_stop(r, px_nil(), -1), PX_ENOPROC);
  cr_assert_eq(px__beh_call(r, px_atom_of("q"), px_nil(), 5000, &v),
               PX_ENOPROC);
  cr_assert(px_is_atom(v, px_a()->noproc));
  px_val reason = px_nil();
  px_gen_start_opts o = {.reason_out = &reason};
  cr_assert_eq(px__beh_start(&hs_type, px__beh_args(&hs_def,
                                                    px_atom_val("fail"),
                                                    px_self()),
                             &o, true, NULL, &r),
               PX_EINIT);
  cr_assert(px_is_atom(reason, px_atom_of("nope")));
  px_runtime_stop();
}

Test(beh, calls_are_asks) {
  cr_assert_eq(px_runtime_start(&(px_runtime_opts){.workers = 2}), 0);
  px_ref me = px_self();
  /* A plain send is not a call, whatever its type. */
  px_send(me, px_atom_of("q"), px_nil());
  px_message *m;
  cr_assert_eq(px_receive(any, NULL, 5000, &m), 0);
  px_atom t;
  px_val p;
  px_from f;
  cr_assert_not(px__beh_is_call(m, &t, &p, &f));
  px_message_free(m);
  /* No envelope: the from of a non-call is refused. */
  px_from none = {me, 0};
  cr_assert_eq(px__beh_reply(none, false, px_int(1)), PX_EINVAL);
  cr_assert_eq(px__beh_reply(none, true, px_int(1)), PX_EINVAL);
  /* Calls to nobody: noproc, with the reason. */
  px_val v;
  cr_assert_eq(px__beh_call(px_ref_nil(), px_atom_of("q"), px_nil(), 100, &v),
               PX_ENOPROC);
  cr_assert(px_is_atom(v, px_a()->noproc));
  cr_assert_eq(px__beh_call(me, px_atom_of("q"), px_nil(), 100, &v),
               PX_EDEADLOCK);
  px_runtime_stop();
}

/* Answers every call with an error, after deferring it. */
static void err_handle(void *st, const px_message *m) {
  px_atom t;
  px_val p;
  px_from f;
  if (px__beh_is_call(m, &t, &p, &f))
    px__beh_reply(f, true, px_arr(2, px_atomv(t), px_val_retain(p)));
}
static const px_actor_type err_type = {.name = "err", .handle = err_handle};

Test(beh, error_reply_is_ehandler) {
  cr_assert_eq(px_runtime_start(&(px_runtime_opts){.workers = 2}), 0);
  px_ref r;
  cr_assert_eq(px_spawn(&err_type, px_nil(), NULL, &r), 0);
  px_val v;
  cr_assert_eq(px__beh_call(r, px_atom_of("q"), px_int(5), 5000, &v),
               PX_EHANDLER);
  cr_assert(px_is_atom(px_at(v, 0), px_atom_of("q")));
  cr_assert_eq(px_at(v, 1).u.i, 5);
  px_val_release(v);
  px_runtime_stop();
}
