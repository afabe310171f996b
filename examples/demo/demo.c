/* The demo app: a counter actor answering asks, and a crashy worker. It
 * grows into actors under a supervisor as the supervise/ layer lands. */
#include <stdio.h>
#include <stdlib.h>

#include "plexspaces/px.h"

static px_atom A_INC, A_GET;

typedef struct counter {
  int64_t n;
} counter;

static int counter_init(px_val args, void **state) {
  counter *c = calloc(1, sizeof *c);
  if (!c) return PX_ENOMEM;
  *state = c;
  return 0;
}

static void counter_handle(void *state, const px_message *m) {
  counter *c = state;
  if (m->type == A_INC)
    c->n++;
  else if (m->type == A_GET)
    px_reply(m, px_int(c->n));
}

static void counter_terminate(void *state, px_val reason) { free(state); }

static const px_actor_type counter_type = {
    .name = "counter",
    .init = counter_init,
    .handle = counter_handle,
    .terminate = counter_terminate,
};

int px_demo_main(int argc, char **argv) {
  (void)argc;
  (void)argv;
  A_INC = px_atom_of("inc");
  A_GET = px_atom_of("get");
  if (px_runtime_start(NULL) != 0) return 1;
  px_ref c;
  px_spawn(&counter_type, px_nil(), NULL, &c);
  for (int i = 0; i < 1000; i++) px_send(c, A_INC, px_nil());
  px_val v;
  int rc = px_ask(c, A_GET, px_nil(), 1000, &v);
  printf("counter after 1000 incs: %lld (ask rc=%d)\n",
         (long long)v.u.i, rc);
  px_runtime_stop();
  return rc == 0 && v.u.i == 1000 ? 0 : 1;
}
