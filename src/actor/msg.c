/* Message nodes come from a small per-thread free list: a message is
 * usually freed on the receiver's worker and allocated again there for the
 * reply, so the list stays warm without any cross-thread traffic. */
#include <stdlib.h>

#include "actor/actor_impl.h"
#include "core/mem.h"

#define CACHE_MAX 4096

typedef struct msg_cache {
  px__msg *free;
  int count;
  bool registered;
} msg_cache;

static _Thread_local msg_cache cache;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_flush(void *unused) {
  (void)unused;
  px__msg *m = cache.free;
  while (m) {
    px__msg *n = (px__msg *)atomic_load_explicit(&m->node.next,
                                                 memory_order_relaxed);
    free(m);
    m = n;
  }
  cache.free = NULL;
  cache.count = 0;
}

static void make_key(void) { pthread_key_create(&cache_key, cache_flush); }

px__msg *px__msg_new(void) {
  px__msg *m = cache.free;
  if (m) {
    cache.free = (px__msg *)atomic_load_explicit(&m->node.next,
                                                 memory_order_relaxed);
    cache.count--;
  } else {
    m = px__xmalloc(sizeof *m);
  }
  m->pub.type = NULL;
  m->pub.payload = px_nil();
  m->pub.from = px_ref_nil();
  m->pub.corr = 0;
  m->kind = PX__MK_USER;
  m->replied = 0;
  m->to_gen = 0;
  m->aux = 0;
  return m;
}

void px__msg_free(px__msg *m) {
  px_val_release(m->pub.payload);
  if (cache.count >= CACHE_MAX) {
    free(m);
    return;
  }
  if (!cache.registered) {
    /* The key's destructor returns the cache to malloc at thread exit. */
    pthread_once(&cache_once, make_key);
    pthread_setspecific(cache_key, &cache);
    cache.registered = true;
  }
  atomic_store_explicit(&m->node.next, (px__mnode *)cache.free,
                        memory_order_relaxed);
  cache.free = m;
  cache.count++;
}

void px_message_free(px_message *msg) {
  if (msg) px__msg_free(PX__MSG_OF(msg));
}
