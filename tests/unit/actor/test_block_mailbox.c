/* Bounded mailboxes: messages waiting in the inbox for a selective receive
 * still fill the mailbox; a `block` sender (a plain thread here) really
 * waits, without polling, until the receiver takes a message; a receiver
 * that exits releases every blocked sender. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "plexspaces/px.h"

static px_atom HOLD, RELEASE, M, GATE;
static atomic_int gate_open;

static bool is_release(const px_message *m, void *ud) {
  (void)ud;
  return m->type == RELEASE;
}

static void holder_handle(void *state, const px_message *m) {
  (void)state;
  if (m->type == HOLD) {
    /* Selective receive: everything else piles up in the inbox. */
    px_message *r;
    if (px_receive(is_release, NULL, -1, &r) == 0) px_message_free(r);
  } else if (m->type == GATE) {
    while (!atomic_load(&gate_open)) sched_yield(); /* a long handler */
  }
}

static const px_actor_type holder_t = {"holder", 0, NULL, holder_handle,
                                       NULL};

static void setup(void) {
  HOLD = px_atom_of("hold");
  RELEASE = px_atom_of("release");
  M = px_atom_of("m");
  GATE = px_atom_of("gate");
  atomic_store(&gate_open, 0);
  px_runtime_opts o = {.workers = 2};
  cr_assert_eq(px_runtime_start(&o), 0);
}
static void teardown(void) { px_runtime_stop(); }
TestSuite(block_mailbox, .init = setup, .fini = teardown, .timeout = 60);

static px_ref spawn_holder(size_t cap) {
  px_spawn_opts o = {.mailbox_cap = cap, .mailbox_policy = PX_MBOX_BLOCK};
  px_ref r;
  cr_assert_eq(px_spawn(&holder_t, px_nil(), &o, &r), 0);
  return r;
}

static size_t depth(px_ref r) {
  px_actor_info info;
  cr_assert_eq(px_actor_info_get(r, &info), 0);
  return info.mailbox_depth;
}

static void wait_parked(px_ref r) {
  px_actor_info info;
  do {
    cr_assert_eq(px_actor_info_get(r, &info), 0);
    sched_yield();
  } while (!info.parked);
}

Test(block_mailbox, receive_backlog_counts_toward_depth) {
  px_ref h = spawn_holder(3);
  px_send(h, HOLD, px_nil());
  wait_parked(h); /* in px_receive, waiting for release */
  px_send(h, M, px_int(1));
  px_send(h, M, px_int(2));
  /* Drained into the inbox while it waits, but still in its mailbox. */
  for (int i = 0; i < 1000 && depth(h) != 2; i++) sched_yield();
  cr_assert_eq(depth(h), 2);
  px_send(h, RELEASE, px_nil());
  for (int i = 0; i < 100000 && depth(h) != 0; i++) sched_yield();
  cr_assert_eq(depth(h), 0);
}

typedef struct sender_arg {
  px_ref to;
  int n;
  atomic_int sent;
} sender_arg;

static void *sender(void *p) {
  sender_arg *a = p;
  for (int i = 0; i < a->n; i++) {
    px_send(a->to, M, px_int(i));
    atomic_fetch_add(&a->sent, 1);
  }
  return NULL;
}

Test(block_mailbox, plain_thread_sender_waits_for_room) {
  px_ref h = spawn_holder(2);
  px_send(h, GATE, px_nil()); /* the handler runs until the gate opens */
  sender_arg a = {.to = h, .n = 5};
  atomic_store(&a.sent, 0);
  pthread_t t;
  pthread_create(&t, NULL, sender, &a);
  while (atomic_load(&a.sent) < 2) sched_yield();
  /* Full: the third send waits. Give it many chances to slip through. */
  for (int k = 0; k < 2000; k++) {
    cr_assert_eq(atomic_load(&a.sent), 2, "a send to a full mailbox went on");
    cr_assert_leq(depth(h), 2);
    sched_yield();
  }
  atomic_store(&gate_open, 1);
  pthread_join(t, NULL); /* every send completes once the holder drains */
  cr_assert_eq(atomic_load(&a.sent), 5);
}

Test(block_mailbox, exit_releases_blocked_senders) {
  px_ref h = spawn_holder(1);
  px_send(h, GATE, px_nil());
  sender_arg a = {.to = h, .n = 4};
  atomic_store(&a.sent, 0);
  pthread_t t;
  pthread_create(&t, NULL, sender, &a);
  while (atomic_load(&a.sent) < 1) sched_yield();
  px_monitor(h);
  px_exit(h, px_atomv(px_a()->kill));
  atomic_store(&gate_open, 1); /* the kill lands when the handler returns */
  px_message *down;
  cr_assert_eq(px_receive(NULL, NULL, 10000, &down), 0);
  cr_assert_eq(down->type, px_a()->down_msg);
  px_message_free(down);
  pthread_join(t, NULL); /* released: its later sends go to a dead actor */
  cr_assert_eq(atomic_load(&a.sent), 4);
}
