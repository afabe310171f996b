/* The demo app that `make run` starts: a small supervision tree.
 *
 *   demo_sup (one_for_one, 3 restarts / 5 s)
 *     counter  - permanent; answers `get`, counts `inc`
 *     flaky    - permanent; crashes on `crash`, is restarted with a fresh pid
 *
 * It drives the tree from the main thread (tell, ask, a monitored crash and
 * the restart), prints what happens, and exits 0 only if everything behaved
 * as the supervision rules say. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plexspaces/px.h"

static px_atom A_INC, A_GET, A_CRASH, A_WHOAMI;

/* ---- counter ------------------------------------------------------------- */

static int counter_init(px_val args, void **state) {
  int64_t *n = calloc(1, sizeof *n);
  if (!n) return PX_ENOMEM;
  *state = n;
  return 0;
}

static void counter_handle(void *state, const px_message *m) {
  int64_t *n = state;
  if (m->type == A_INC)
    (*n)++;
  else if (m->type == A_GET)
    px_reply(m, px_int(*n));
}

static void free_state(void *state, px_val reason) { free(state); }

static const px_actor_type counter_type = {
    .name = "counter",
    .init = counter_init,
    .handle = counter_handle,
    .terminate = free_state,
};

/* ---- flaky --------------------------------------------------------------- */

static void flaky_handle(void *state, const px_message *m) {
  if (m->type == A_CRASH) px_exit_self(px_atom_val("boom"));
  if (m->type == A_WHOAMI) px_reply(m, px_ref_val(px_self()));
}

static const px_actor_type flaky_type = {
    .name = "flaky",
    .handle = flaky_handle,
};

/* ---- driving it ---------------------------------------------------------- */

static px_ref child(px_ref sup, const char *id) {
  px_sup_child_info info[4];
  size_t n = 0;
  if (px_sup_which_children(sup, info, 4, &n) != 0) return px_ref_nil();
  for (size_t i = 0; i < n && i < 4; i++)
    if (strcmp(info[i].id, id) == 0) return info[i].ref;
  return px_ref_nil();
}

static int fail(const char *what) {
  fprintf(stderr, "demo: FAILED: %s\n", what);
  px_runtime_stop();
  return 1;
}

int px_demo_main(int argc, char **argv) {
  (void)argc;
  (void)argv;
  A_INC = px_atom_of("inc");
  A_GET = px_atom_of("get");
  A_CRASH = px_atom_of("crash");
  A_WHOAMI = px_atom_of("whoami");
  if (px_runtime_start(NULL) != 0) return 1;
  printf("plexspaces demo: %d workers\n", px_runtime_workers());

  px_sup_flags flags = PX_SUP_FLAGS_INIT;
  flags.intensity = 3;
  px_child_spec specs[] = {
      {.id = "counter",
       .start = px_sup_start_actor,
       .args = px_sup_actor_args(&counter_type, px_nil())},
      {.id = "flaky",
       .start = px_sup_start_actor,
       .args = px_sup_actor_args(&flaky_type, px_nil())},
  };
  px_ref sup;
  if (px_sup_start_link(&flags, specs, 2, &sup) != 0)
    return fail("start the supervisor");
  char b1[48], b2[48];
  printf("supervisor %s started counter and flaky\n",
         px_ref_format(sup, b1, sizeof b1));

  /* tell and ask */
  px_ref counter = child(sup, "counter");
  for (int i = 0; i < 1000; i++) px_send(counter, A_INC, px_nil());
  px_val v;
  if (px_ask(counter, A_GET, px_nil(), 1000, &v) != 0 || v.u.i != 1000)
    return fail("counter ask");
  printf("tell x1000, then ask: counter = %lld\n", (long long)v.u.i);

  /* a crash, seen by a monitor, and the restart */
  px_ref flaky = child(sup, "flaky");
  px_mref mref = px_monitor(flaky);
  px_send(flaky, A_CRASH, px_nil());
  px_message *down;
  if (px_receive(NULL, NULL, 1000, &down) != 0) return fail("no __DOWN__");
  char reason[64];
  px_val_format(px_get(down->payload, px_atomv(px_a()->down_reason)), reason,
                sizeof reason);
  printf("flaky %s crashed: __DOWN__ monitor_ref=%llu reason=%s\n",
         px_ref_format(flaky, b1, sizeof b1), (unsigned long long)mref, reason);
  px_message_free(down);

  /* The supervisor restarts it; asking the new incarnation proves it. */
  px_ref again = px_ref_nil();
  for (int tries = 0; tries < 100; tries++) {
    again = child(sup, "flaky");
    if (!px_ref_is_nil(again) && !px_ref_eq(again, flaky)) break;
    px_receive(NULL, NULL, 10, &down); /* nothing expected: a 10 ms pause */
  }
  if (px_ref_is_nil(again) || px_ref_eq(again, flaky))
    return fail("flaky was not restarted");
  if (px_ask(again, A_WHOAMI, px_nil(), 1000, &v) != 0)
    return fail("ask the restarted flaky");
  px_val_release(v);
  printf("supervisor restarted flaky as %s (the old ref stays dead)\n",
         px_ref_format(again, b2, sizeof b2));
  if (px_ask(flaky, A_WHOAMI, px_nil(), 100, &v) != PX_ENOPROC)
    return fail("the old ref must not reach the new actor");

  px_type_stats st[16];
  size_t nt = px_stats_types(st, 16);
  for (size_t i = 0; i < nt && i < 16; i++)
    printf("  type %-8s spawned %llu, messages %llu, exits abnormal %llu\n",
           st[i].type, (unsigned long long)st[i].spawned,
           (unsigned long long)st[i].messages,
           (unsigned long long)st[i].exits_abnormal);

  px_sup_stop(sup);
  px_runtime_stop();
  printf("demo finished: all good\n");
  return 0;
}
