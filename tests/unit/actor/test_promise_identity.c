/* px_promise (a completion resolved by another thread) and actor identity
 * (tenant and namespace, inherited from the spawner). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "plexspaces/px.h"

static void setup(void) {
  px_runtime_opts o = {.workers = 2, .virtual_clock = true};
  cr_assert_eq(px_runtime_start(&o), 0);
}
static void teardown(void) { px_runtime_stop(); }
TestSuite(promise, .init = setup, .fini = teardown, .timeout = 60);

static void *resolver(void *arg) {
  px_promise *p = arg;
  px_reply_to(*p, px_int(7));
  return NULL;
}

/* A handler awaits a promise that a plain thread resolves. */
static void awaiter_handle(void *state, const px_message *m) {
  (void)state;
  if (m->type != px_atom_of("go")) return;
  px_promise p = px_promise_new();
  pthread_t t;
  pthread_create(&t, NULL, resolver, &p);
  px_val v;
  int rc = px_promise_await(p, -1, &v);
  pthread_join(t, NULL);
  px_reply(m, rc == 0 ? v : px_int(-1));
}

static const px_actor_type awaiter_t = {"awaiter", 0, NULL, awaiter_handle,
                                        NULL};

Test(promise, resolved_from_another_thread_wakes_the_handler) {
  px_ref a;
  cr_assert_eq(px_spawn(&awaiter_t, px_nil(), NULL, &a), 0);
  px_val v;
  cr_assert_eq(px_ask(a, px_atom_of("go"), px_nil(), -1, &v), 0);
  cr_assert_eq(v.u.i, 7);
}

Test(promise, error_resolution_and_only_the_creator_may_await) {
  px_promise p = px_promise_new();
  px_reply_error_to(p, px_atom_val("disk_full"));
  px_val v;
  cr_assert_eq(px_promise_await(p, -1, &v), PX_EHANDLER);
  cr_assert(px_is_atom(v, px_atom_of("disk_full")));
  px_promise bogus = {px_ref_nil(), 0};
  cr_assert_eq(px_promise_await(bogus, 0, &v), PX_EINVAL);
}

Test(promise, timeout_then_late_resolution_is_dropped) {
  px_promise p = px_promise_new();
  px_val v;
  cr_assert_eq(px_promise_await(p, 0, &v), PX_ETIMEDOUT);
  px_reply_to(p, px_int(1)); /* late: must not reach the mailbox */
  px_message *m;
  cr_assert_eq(px_receive(NULL, NULL, 0, &m), PX_ETIMEDOUT);
}

/* ---- identity ------------------------------------------------------------ */

static px_atom WHO, SPAWN_CHILD;

static void who_handle(void *state, const px_message *m) {
  (void)state;
  if (m->type == WHO) {
    const char *t = px_self_tenant(), *n = px_self_namespace();
    px_reply(m, px_arr(2, t ? px_str(t) : px_nil(), n ? px_str(n) : px_nil()));
  } else if (m->type == SPAWN_CHILD) {
    extern const px_actor_type who_t;
    px_ref c;
    px_spawn(&who_t, px_nil(), NULL, &c);
    px_reply(m, px_ref_val(c));
  }
}

const px_actor_type who_t = {"who", 0, NULL, who_handle, NULL};

Test(promise, identity_is_named_or_inherited) {
  WHO = px_atom_of("who");
  SPAWN_CHILD = px_atom_of("spawn_child");
  cr_assert_null(px_self_tenant()); /* a plain thread is a system actor */
  px_ref sys, t1;
  cr_assert_eq(px_spawn(&who_t, px_nil(), NULL, &sys), 0);
  px_spawn_opts o = {.tenant = "acme", .ns = "billing"};
  cr_assert_eq(px_spawn(&who_t, px_nil(), &o, &t1), 0);
  px_val v;
  cr_assert_eq(px_ask(sys, WHO, px_nil(), -1, &v), 0);
  cr_assert(px_is_nil(px_at(v, 0)));
  px_val_release(v);
  cr_assert_eq(px_ask(t1, WHO, px_nil(), -1, &v), 0);
  cr_assert_str_eq(px_str_ptr(px_at(v, 0)), "acme");
  cr_assert_str_eq(px_str_ptr(px_at(v, 1)), "billing");
  px_val_release(v);
  /* A child spawned by t1 inherits its identity. */
  cr_assert_eq(px_ask(t1, SPAWN_CHILD, px_nil(), -1, &v), 0);
  px_ref child;
  cr_assert(px_val_ref(v, &child));
  px_val_release(v);
  cr_assert_eq(px_ask(child, WHO, px_nil(), -1, &v), 0);
  cr_assert_str_eq(px_str_ptr(px_at(v, 0)), "acme");
  cr_assert_str_eq(px_str_ptr(px_at(v, 1)), "billing");
  px_val_release(v);
}
