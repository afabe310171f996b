/* The actor table: slots that are never freed, each bound to one actor
 * struct for the life of the runtime. An actor's memory is therefore always
 * valid to touch, and a stale ref is caught by the generation check alone:
 * no reference counts or epochs on the send path.
 *
 * Slots live in chunks of 4096 so the table grows without moving anything.
 * Free slots are kept FIFO (oldest freed first) so that a slot's
 * generation advances slowly and stale senders have long drained. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "actor/actor_impl.h"
#include "core/mem.h"
#include "plexspaces/core.h"

#define CHUNK_BITS PX__CHUNK_BITS
#define CHUNK_SIZE (1u << CHUNK_BITS)
#define MAX_CHUNKS PX__MAX_CHUNKS

px__table_t px__table;
#define chunks px__table.chunks_
#define size_ px__table.size_

static struct {
  pthread_mutex_t lock;
  px__actor *free_head, *free_tail;
  uint32_t nfree;
} T = {.lock = PTHREAD_MUTEX_INITIALIZER};

void px__table_init(void) {
  for (int i = 0; i < MAX_CHUNKS; i++) atomic_store(&chunks[i], NULL);
  atomic_store(&size_, 0);
  T.free_head = T.free_tail = NULL;
  T.nfree = 0;
}

void px__table_destroy(void) {
  uint32_t n = atomic_load(&size_);
  for (uint32_t i = 0; i < n; i += CHUNK_SIZE) {
    px__actor *c = atomic_load(&chunks[i >> CHUNK_BITS]);
    /* Messages that raced into dead mailboxes are still queued there. */
    for (uint32_t k = 0; k < CHUNK_SIZE; k++) {
      px__actor *a = &c[k];
      bool busy;
      px__mnode *nd;
      while ((nd = px__mbox_pop(&a->mb, &a->mbc, &busy)))
        px__msg_free((px__msg *)nd);
      px__msg *m = a->inbox_head;
      while (m) {
        px__msg *n = (px__msg *)atomic_load_explicit(&m->node.next,
                                                     memory_order_relaxed);
        px__msg_free(m);
        m = n;
      }
      if (a->ext) {
        free(a->ext->links);
        free(a->ext->watchers);
        free(a->ext->monitors);
        free(a->ext->deferred);
        free(a->ext->name);
        free(a->ext);
      }
    }
    free(c);
    atomic_store(&chunks[i >> CHUNK_BITS], NULL);
  }
  atomic_store(&size_, 0);
  T.free_head = T.free_tail = NULL;
  T.nfree = 0;
}

uint32_t px__table_size(void) {
  return atomic_load_explicit(&size_, memory_order_acquire);
}

static void grow_locked(void) {
  uint32_t base = atomic_load_explicit(&size_, memory_order_relaxed);
  if ((base >> CHUNK_BITS) >= MAX_CHUNKS) px_panic("actor table is full");
  px__actor *c = aligned_alloc(64, sizeof(px__actor) * CHUNK_SIZE);
  if (!c) px__oom(sizeof(px__actor) * CHUNK_SIZE);
  memset(c, 0, sizeof(px__actor) * CHUNK_SIZE);
  for (uint32_t k = 0; k < CHUNK_SIZE; k++) {
    px__actor *a = &c[k];
    a->index = base + k;
    /* A slot's mailbox lives as long as the slot. A free slot's mailbox
     * is idle (marked empty); see px__deliver for who owns it then. */
    px__mbox_init(&a->mb, &a->mbc, false);
    atomic_store_explicit(&a->gen, 0, memory_order_relaxed);
    a->free_next = NULL;
    if (T.free_tail)
      T.free_tail->free_next = a;
    else
      T.free_head = a;
    T.free_tail = a;
  }
  T.nfree += CHUNK_SIZE;
  atomic_store_explicit(&chunks[base >> CHUNK_BITS], c,
                        memory_order_release);
  atomic_store_explicit(&size_, base + CHUNK_SIZE, memory_order_release);
}

/* Returns a free slot whose mailbox the caller now owns. A free slot whose
 * mailbox is not idle is being cleared by a late sender (px__deliver): it
 * goes to the back of the list and another is taken. */
px__actor *px__table_alloc(void) {
  pthread_mutex_lock(&T.lock);
  for (;;) {
    if (!T.free_head) grow_locked();
    px__actor *a = T.free_head;
    T.free_head = a->free_next;
    if (!T.free_head) T.free_tail = NULL;
    a->free_next = NULL;
    if (px__mbox_claim_idle(&a->mb, &a->mbc)) {
      T.nfree--;
      pthread_mutex_unlock(&T.lock);
      return a;
    }
    if (T.free_tail)
      T.free_tail->free_next = a;
    else
      T.free_head = a;
    T.free_tail = a;
    if (T.nfree == 1) grow_locked();
  }
}

void px__table_free(px__actor *a) {
  pthread_mutex_lock(&T.lock);
  a->free_next = NULL;
  if (T.free_tail)
    T.free_tail->free_next = a;
  else
    T.free_head = a;
  T.free_tail = a;
  T.nfree++;
  pthread_mutex_unlock(&T.lock);
}
