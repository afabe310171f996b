/* An ask racing with its target's exit gets exactly one answer, and the
 * right one: the reply if the handler replied before exiting, otherwise
 * PX_ENOPROC with the real exit reason (never a bare noproc while the
 * target was alive when the ask was sent). */
#include <criterion/criterion.h>

#include "plexspaces/px.h"

static px_atom REPLY_THEN_EXIT, EXIT_NOW;

static void racer_handle(void *state, const px_message *m) {
  (void)state;
  if (m->type == REPLY_THEN_EXIT) {
    px_reply(m, px_int(42));
    px_exit_self(px_atom_val("boom"));
  } else if (m->type == EXIT_NOW) {
    px_exit_self(px_atom_val("boom"));
  }
}

static const px_actor_type racer_t = {"racer", 0, NULL, racer_handle, NULL};

static void setup(void) {
  REPLY_THEN_EXIT = px_atom_of("reply_then_exit");
  EXIT_NOW = px_atom_of("exit_now");
  px_runtime_opts o = {.workers = 2};
  cr_assert_eq(px_runtime_start(&o), 0);
}

static void teardown(void) { px_runtime_stop(); }

TestSuite(ask_race, .init = setup, .fini = teardown, .timeout = 120);

Test(ask_race, reply_then_exit_always_gives_the_reply) {
  for (int i = 0; i < 2000; i++) {
    px_ref r;
    cr_assert_eq(px_spawn(&racer_t, px_nil(), NULL, &r), 0);
    px_val v;
    int rc = px_ask(r, REPLY_THEN_EXIT, px_nil(), 10000, &v);
    cr_assert_eq(rc, 0, "round %d: rc %s", i, px_err_name(rc));
    cr_assert_eq(v.u.i, 42);
  }
}

Test(ask_race, exit_without_reply_gives_the_real_reason) {
  px_atom boom = px_atom_of("boom");
  for (int i = 0; i < 2000; i++) {
    px_ref r;
    cr_assert_eq(px_spawn(&racer_t, px_nil(), NULL, &r), 0);
    px_val v;
    int rc = px_ask(r, EXIT_NOW, px_nil(), 10000, &v);
    cr_assert_eq(rc, PX_ENOPROC, "round %d: rc %s", i, px_err_name(rc));
    cr_assert(px_is_atom(v, boom), "round %d: reason is not boom", i);
  }
}

/* Asks from many actors at a target that exits mid-stream: every ask is
 * answered (a reply or noproc), none waits for its timeout. */
static px_atom GO, PING;

typedef struct asker {
  px_ref target, main;
} asker;

static int asker_init(px_val args, void **state) {
  asker *a = calloc(1, sizeof *a);
  px_val_ref(px_at(args, 0), &a->target);
  px_val_ref(px_at(args, 1), &a->main);
  *state = a;
  return 0;
}

static void asker_handle(void *state, const px_message *m) {
  asker *a = state;
  if (m->type != GO) return;
  int answered = 0;
  for (int i = 0; i < 200; i++) {
    px_val v;
    int rc = px_ask(a->target, PING, px_nil(), 60000, &v);
    if (rc == 0 || rc == PX_ENOPROC) answered++;
    px_val_release(v);
  }
  px_send(a->main, px_atom_of("done"), px_int(answered));
}

static void asker_free(void *state, px_val reason) { free(state); }

static const px_actor_type asker_t = {"asker", 0, asker_init, asker_handle,
                                      asker_free};

static int countdown_init(px_val args, void **state) {
  int64_t *left = malloc(sizeof *left);
  *left = px_at(args, 0).u.i;
  *state = left;
  return 0;
}

static void countdown_free(void *state, px_val reason) { free(state); }

static void countdown_handle(void *state, const px_message *m) {
  int64_t *left = state;
  if (m->type != PING) return;
  px_reply(m, px_int(1));
  if (--*left == 0) px_exit_self(px_atom_val("done_serving"));
}

static const px_actor_type countdown_t = {"countdown", 0, countdown_init,
                                          countdown_handle, countdown_free};

Test(ask_race, every_ask_is_answered_when_the_target_exits_midstream) {
  GO = px_atom_of("go");
  PING = px_atom_of("ping");
  px_ref target;
  cr_assert_eq(px_spawn(&countdown_t, px_arr(1, px_int(500)), NULL, &target),
               0);
  enum { N = 8 };
  for (int i = 0; i < N; i++) {
    px_ref a;
    cr_assert_eq(px_spawn(&asker_t,
                          px_arr(2, px_ref_val(target), px_ref_val(px_self())),
                          NULL, &a),
                 0);
    px_send(a, GO, px_nil());
  }
  for (int i = 0; i < N; i++) {
    px_message *m;
    cr_assert_eq(px_receive(NULL, NULL, 60000, &m), 0);
    cr_assert_eq(m->payload.u.i, 200, "an ask went unanswered");
    px_message_free(m);
  }
}
