/* Threads that are not workers (main, tests, the HTTP server) talk to
 * actors through a hidden proxy actor of their own: it has a ref and a
 * mailbox, so the thread can ask, receive, link and monitor like a handler.
 * Where a handler parks its coroutine, the thread waits on a futex that a
 * sender wakes when it finds the proxy's mailbox marked empty. A proxy
 * always traps exits: a thread cannot be killed. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "actor/actor_impl.h"
#include "core/futex.h"
#include "plexspaces/core.h"

static _Atomic(uint64_t) rt_epoch; /* bumped by each runtime start */

typedef struct proxy_tls {
  px__actor *a;
  uint64_t epoch;
} proxy_tls;

static _Thread_local proxy_tls tls;
static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void proxy_destroy(px__actor *a) {
  px__actor_exit(a, px_atomv(px__atoms.normal), false);
  px__actor_release_slot(a);
}

static void thread_gone(void *p) {
  (void)p;
  if (tls.a && tls.epoch == atomic_load(&rt_epoch) &&
      !atomic_load_explicit(&px__stopping, memory_order_acquire))
    proxy_destroy(tls.a);
  tls.a = NULL;
}

static void make_key(void) { pthread_key_create(&key, thread_gone); }

void px__external_new_epoch(void) { atomic_fetch_add(&rt_epoch, 1); }

px__actor *px__external_self(void) {
  uint64_t epoch = atomic_load_explicit(&rt_epoch, memory_order_relaxed);
  if (tls.a && tls.epoch == epoch) return tls.a;
  pthread_once(&key_once, make_key);
  pthread_setspecific(key, &tls);
  px__actor *a = px__table_alloc();
  a->inbox_head = a->inbox_tail = NULL;
  a->state = NULL;
  a->co = NULL;
  a->current = NULL;
  a->flags = PX__AF_TRAP | PX__AF_STARTED;
  a->wait = PX__W_NONE;
  a->wait_ready = 0;
  a->wait_msg = NULL;
  a->seq = 0;
  a->type = NULL;
  a->type_id = 0;
  a->tenant = NULL;
  a->ns = NULL;
  a->parent = px_ref_nil();
  a->mb_cap = 0;
  a->mb_policy = PX_MBOX_UNBOUNDED;
  a->facet = NULL; /* a thread's proxy has no facet and sends plainly */
  a->fsend = 0;
  a->fsent = 0;
  if (a->ext) a->ext->nlinks = a->ext->nwatchers = a->ext->nmonitors = 0;
  atomic_store_explicit(&a->external, 1, memory_order_relaxed);
  atomic_store_explicit(&a->ext_wake, 0, memory_order_relaxed);
  uint32_t gen = atomic_load_explicit(&a->gen, memory_order_relaxed) + 1;
  /* release: the fields above are visible to anyone who sees the gen. */
  atomic_store_explicit(&a->gen, gen, memory_order_release);
  tls.a = a;
  tls.epoch = epoch;
  return a;
}

px__actor *px__external_peek(void) {
  if (tls.a && tls.epoch == atomic_load_explicit(&rt_epoch,
                                                 memory_order_relaxed))
    return tls.a;
  return NULL;
}

void px__external_shutdown(void) {
  if (tls.a && tls.epoch == atomic_load(&rt_epoch)) proxy_destroy(tls.a);
  tls.a = NULL;
}

void px__external_wake(px__actor *a) {
  /* release: the waiter that sees 1 also sees the pushed message. */
  atomic_store_explicit(&a->ext_wake, 1, memory_order_release);
  px__futex_wake(&a->ext_wake, 1);
}

bool px__external_wait(px__actor *a, uint64_t deadline_ns) {
  atomic_store_explicit(&a->ext_wake, 0, memory_order_relaxed);
  /* If something is queued, mark_empty fails and we go round again. */
  if (!px__mbox_mark_empty(&a->mb, &a->mbc)) return true;
  while (atomic_load_explicit(&a->ext_wake, memory_order_acquire) == 0) {
    struct timespec ts, *tsp = NULL;
    if (deadline_ns) {
      uint64_t now = px_now_ns();
      /* The mailbox stays marked: a later sender wakes nobody, which is
       * harmless, and draining works on a marked queue. */
      if (now >= deadline_ns) return false;
      uint64_t left = deadline_ns - now;
      ts.tv_sec = (time_t)(left / 1000000000u);
      ts.tv_nsec = (long)(left % 1000000000u);
      tsp = &ts;
    }
    px__futex_wait(&a->ext_wake, 0, tsp);
  }
  return true;
}
