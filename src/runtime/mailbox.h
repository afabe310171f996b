/* The mailbox: an intrusive multi-producer single-consumer queue whose head
 * also says whether the owner is scheduled.
 *
 * Hand-written on purpose: the scheduling bit must live in the same word as
 * the queue head so that one atomic exchange both enqueues and tells the
 * sender whether it must schedule the receiver (the idea of Pony's
 * messageq). ck's FIFOs have no such bit. Algorithm: Vyukov's intrusive MPSC
 * queue with a stub node.
 *
 *   push   (any thread)  : xchg head; link prev->next. Returns true when the
 *                          queue was marked empty, i.e. the caller must
 *                          schedule the owner.
 *   pop    (owner only)  : returns the oldest node or NULL (empty, or a
 *                          producer is between its xchg and its link).
 *   mark_empty (owner)   : succeeds only if the queue is empty right now; from
 *                          then on the next push returns true.
 *   claim_idle           : takes the owner role of a marked, empty queue.
 *
 * Whoever gets `true` from push, or claims an idle queue, is the one owner
 * until it marks the queue empty again: the whole protocol rests on this. */
#ifndef PX_RUNTIME_MAILBOX_H
#define PX_RUNTIME_MAILBOX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct px__mnode {
  _Atomic(struct px__mnode *) next;
} px__mnode;

typedef struct px__mbox_prod {
  /* Written by producers: the newest node, low bit = "owner not
   * scheduled". */
  _Atomic(uintptr_t) head;
} px__mbox_prod;

typedef struct px__mbox_cons {
  px__mnode *tail; /* oldest node (or the stub); owner only */
  px__mnode stub;
} px__mbox_cons;

#define PX__MBOX_EMPTY_BIT ((uintptr_t)1)

static inline void px__mbox_init(px__mbox_prod *p, px__mbox_cons *c,
                                 bool scheduled) {
  atomic_store_explicit(&c->stub.next, NULL, memory_order_relaxed);
  c->tail = &c->stub;
  atomic_store_explicit(&p->head,
                        (uintptr_t)&c->stub |
                            (scheduled ? 0 : PX__MBOX_EMPTY_BIT),
                        memory_order_release);
}

static inline bool px__mbox_push(px__mbox_prod *p, px__mnode *n) {
  atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
  /* acq_rel: release publishes n's contents to the consumer; acquire orders
   * the later store to prev->next after we own prev's link. The exchange is
   * also the sender's half of the Dekker handshake with the dying owner
   * (see actor exit), so callers that need it follow it with a seq_cst
   * load. */
  uintptr_t prev = atomic_exchange_explicit(&p->head, (uintptr_t)n,
                                            memory_order_seq_cst);
  px__mnode *pn = (px__mnode *)(prev & ~PX__MBOX_EMPTY_BIT);
  /* release: the consumer that sees the link also sees n's contents. */
  atomic_store_explicit(&pn->next, n, memory_order_release);
  return (prev & PX__MBOX_EMPTY_BIT) != 0;
}

/* Pops the oldest node. *busy is set when the queue is not empty but the
 * newest producer has not linked its node yet (caller retries later). */
static inline px__mnode *px__mbox_pop(px__mbox_prod *p, px__mbox_cons *c,
                                      bool *busy) {
  px__mnode *tail = c->tail;
  /* acquire: pairs with the producer's release link; we then read the
   * node's contents. */
  px__mnode *next = atomic_load_explicit(&tail->next, memory_order_acquire);
  *busy = false;
  if (tail == &c->stub) {
    if (!next) {
      uintptr_t h = atomic_load_explicit(&p->head, memory_order_acquire);
      if ((px__mnode *)(h & ~PX__MBOX_EMPTY_BIT) != &c->stub) *busy = true;
      return NULL;
    }
    c->tail = next;
    tail = next;
    next = atomic_load_explicit(&next->next, memory_order_acquire);
  }
  if (next) {
    c->tail = next;
    return tail;
  }
  uintptr_t h = atomic_load_explicit(&p->head, memory_order_acquire);
  if ((px__mnode *)(h & ~PX__MBOX_EMPTY_BIT) != tail) {
    *busy = true; /* a producer swapped head but has not linked yet */
    return NULL;
  }
  /* tail is the last node: put the stub behind it so tail can be handed
   * out. The stub push never reports "was empty": the owner is running. */
  atomic_store_explicit(&c->stub.next, NULL, memory_order_relaxed);
  uintptr_t prev = atomic_exchange_explicit(&p->head, (uintptr_t)&c->stub,
                                            memory_order_acq_rel);
  /* release: pairs with the acquire loads of next above. */
  atomic_store_explicit(&((px__mnode *)(prev & ~PX__MBOX_EMPTY_BIT))->next,
                        &c->stub, memory_order_release);
  next = atomic_load_explicit(&tail->next, memory_order_acquire);
  if (next) {
    c->tail = next;
    return tail;
  }
  /* A producer pushed between our head check and the stub push and has not
   * linked yet: tail stays; it will be popped next time. */
  *busy = true;
  return NULL;
}

/* Owner: marks the queue empty (owner unscheduled) if it is empty now.
 * Returns false when something is queued: the owner must keep running. */
static inline bool px__mbox_mark_empty(px__mbox_prod *p, px__mbox_cons *c) {
  if (c->tail != &c->stub) return false;
  uintptr_t expect = (uintptr_t)&c->stub;
  /* Already marked (an external thread that timed out waiting). */
  if (atomic_load_explicit(&p->head, memory_order_seq_cst) ==
      (expect | PX__MBOX_EMPTY_BIT))
    return true;
  /* seq_cst: a push that follows must see the bit, and one that precedes
   * makes this fail. */
  return atomic_compare_exchange_strong_explicit(
      &p->head, &expect, expect | PX__MBOX_EMPTY_BIT, memory_order_seq_cst,
      memory_order_relaxed);
}

/* Takes the consumer role of an idle, empty queue (marked empty, nothing
 * pushed since): afterwards the queue is unmarked and owned by the caller.
 * Fails when something was pushed after the mark. */
static inline bool px__mbox_claim_idle(px__mbox_prod *p, px__mbox_cons *c) {
  uintptr_t expect = (uintptr_t)&c->stub | PX__MBOX_EMPTY_BIT;
  /* acq_rel: we see everything the last owner wrote before marking. */
  return atomic_compare_exchange_strong_explicit(
      &p->head, &expect, (uintptr_t)&c->stub, memory_order_acq_rel,
      memory_order_relaxed);
}

#endif
