/* Unit tests for the MPSC mailbox (src/runtime/mailbox.h): FIFO per
 * producer with many producers, and the empty-mark protocol: a push
 * returns true exactly when the consumer had marked the queue empty. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "runtime/mailbox.h"

typedef struct node {
  px__mnode n; /* first */
  int producer;
  long seq;
} node;

static px__mbox_prod P;
static px__mbox_cons C;

static node *pop(bool *busy) { return (node *)px__mbox_pop(&P, &C, busy); }

Test(mailbox, single_thread_fifo_and_marks) {
  px__mbox_init(&P, &C, false); /* starts marked empty: owner idle */
  bool busy;
  cr_assert_null(pop(&busy));
  cr_assert(!busy);
  node a = {.seq = 1}, b = {.seq = 2}, c = {.seq = 3};
  cr_assert(px__mbox_push(&P, &a.n), "first push onto an idle queue");
  cr_assert(!px__mbox_push(&P, &b.n), "the owner is already scheduled");
  cr_assert(!px__mbox_mark_empty(&P, &C), "cannot mark a non-empty queue");
  cr_assert(!px__mbox_push(&P, &c.n), "a failed mark changes nothing");
  cr_assert_eq(pop(&busy), &a);
  cr_assert_eq(pop(&busy), &b);
  cr_assert_eq(pop(&busy), &c);
  cr_assert_null(pop(&busy));
  cr_assert(!busy);
  cr_assert(px__mbox_mark_empty(&P, &C));
  cr_assert(px__mbox_mark_empty(&P, &C), "marking twice is fine");
  cr_assert(px__mbox_push(&P, &a.n), "push after a mark wakes the owner");
  cr_assert(!px__mbox_push(&P, &b.n));
  cr_assert_eq(pop(&busy), &a);
  cr_assert_eq(pop(&busy), &b);
  cr_assert_null(pop(&busy));
  /* Started "scheduled": the first push does not report a wake. */
  px__mbox_init(&P, &C, true);
  cr_assert(!px__mbox_push(&P, &c.n));
  cr_assert_eq(pop(&busy), &c);
}

Test(mailbox, nodes_are_reusable_after_pop) {
  px__mbox_init(&P, &C, true);
  node x = {.seq = 0};
  bool busy;
  for (int i = 0; i < 1000; i++) {
    x.seq = i;
    px__mbox_push(&P, &x.n);
    node *got = pop(&busy);
    cr_assert_eq(got, &x);
    cr_assert_eq(got->seq, i);
    cr_assert_null(pop(&busy));
  }
}

#define PRODUCERS 4
#define PER_PRODUCER 200000L

static _Atomic long wakes;   /* pushes that returned true */
static _Atomic int go;

static void *producer(void *arg) {
  int id = (int)(intptr_t)arg;
  node *nodes = calloc(PER_PRODUCER, sizeof *nodes);
  while (!atomic_load(&go)) sched_yield();
  for (long i = 0; i < PER_PRODUCER; i++) {
    nodes[i].producer = id;
    nodes[i].seq = i;
    if (px__mbox_push(&P, &nodes[i].n)) atomic_fetch_add(&wakes, 1);
  }
  return nodes;
}

Test(mailbox, multi_producer_order_and_empty_mark_protocol, .timeout = 120) {
  px__mbox_init(&P, &C, false);
  atomic_store(&wakes, 0);
  pthread_t th[PRODUCERS];
  for (int i = 0; i < PRODUCERS; i++)
    pthread_create(&th[i], NULL, producer, (void *)(intptr_t)i);
  atomic_store(&go, 1);
  long next[PRODUCERS] = {0}, total = 0, marks = 0, busy_seen = 0;
  long consumed_wakes = 0;
  /* The consumer plays the owner: it runs only after a wake, drains, marks
   * empty, and then must wait for the next wake (a push returning true). */
  while (total < PRODUCERS * PER_PRODUCER) {
    while (atomic_load(&wakes) == consumed_wakes) sched_yield();
    consumed_wakes++;
    cr_assert_eq(atomic_load(&wakes), consumed_wakes,
                 "a push reported a wake while the owner was scheduled");
    for (;;) {
      bool busy;
      node *n = pop(&busy);
      if (n) {
        cr_assert_eq(n->seq, next[n->producer], "producer %d out of order",
                     n->producer);
        next[n->producer]++;
        total++;
        continue;
      }
      if (busy) {
        busy_seen++;
        sched_yield();
        continue;
      }
      if (px__mbox_mark_empty(&P, &C)) {
        marks++;
        break;
      }
    }
  }
  for (int i = 0; i < PRODUCERS; i++) {
    void *mem;
    pthread_join(th[i], &mem);
    free(mem);
  }
  bool busy;
  cr_assert_null(pop(&busy));
  for (int i = 0; i < PRODUCERS; i++) cr_assert_eq(next[i], PER_PRODUCER);
  /* Exactly one wake per successful mark (the first wake came from the
   * initial empty state, and the last mark has no push after it). */
  cr_assert_eq(atomic_load(&wakes), marks, "wakes %ld marks %ld",
               atomic_load(&wakes), marks);
  cr_log_info("marks %ld, busy pops %ld", marks, busy_seen);
}
