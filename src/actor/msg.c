/* Message nodes. Each thread keeps a free list; a message is usually
 * allocated on the sender's thread and freed on the receiver's, so when a
 * thread's list grows past a high-water mark it hands a batch of nodes to a
 * global depot, and a thread whose list is empty takes a whole batch from
 * there. One mutex operation moves BATCH nodes, so a producer on one core
 * and a consumer on the other recycle the same nodes without malloc (the
 * batch depot idea of Pony's pool allocator).
 *
 * Nodes live until the process ends: a thread's list is handed back to the
 * depot when the thread exits, and the depot is freed at runtime stop. */
#include <pthread.h>
#include <stdlib.h>

#include "actor/actor_impl.h"
#include "core/mem.h"

#define BATCH 1024
#define HIGH (2 * BATCH)

typedef struct batch {
  px__msg *head;
  uint32_t count;
  struct batch *next;
} batch;

typedef struct msg_cache {
  px__msg *free;
  uint32_t count;
  bool registered;
} msg_cache;

static _Thread_local msg_cache cache;
/* Nodes are cached only while a runtime runs: a thread that frees nodes
 * after px_runtime_stop (a store's writer thread, say) frees them to
 * malloc instead of a depot that was already released. */
static _Atomic(bool) caching;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static struct {
  pthread_mutex_t lock;
  batch *full;    /* batches of free nodes */
  batch *spare;   /* empty batch records */
} depot = {.lock = PTHREAD_MUTEX_INITIALIZER};

static inline px__msg *link_of(px__msg *m) {
  return (px__msg *)atomic_load_explicit(&m->node.next, memory_order_relaxed);
}
static inline void set_link(px__msg *m, px__msg *n) {
  atomic_store_explicit(&m->node.next, (px__mnode *)n, memory_order_relaxed);
}

static void depot_put(px__msg *head, uint32_t count) {
  pthread_mutex_lock(&depot.lock);
  batch *b = depot.spare;
  if (b)
    depot.spare = b->next;
  else
    b = px__xmalloc(sizeof *b);
  b->head = head;
  b->count = count;
  b->next = depot.full;
  depot.full = b;
  pthread_mutex_unlock(&depot.lock);
}

static inline void cache_register(void);

static bool depot_take(void) {
  pthread_mutex_lock(&depot.lock);
  batch *b = depot.full;
  if (b) {
    depot.full = b->next;
    cache.free = b->head;
    cache.count = b->count;
    b->next = depot.spare;
    depot.spare = b;
  }
  pthread_mutex_unlock(&depot.lock);
  if (b) cache_register();
  return b != NULL;
}

static void free_list(px__msg *m) {
  while (m) {
    px__msg *n = link_of(m);
    free(m);
    m = n;
  }
}

static void cache_flush(void *unused) {
  (void)unused;
  if (cache.free) {
    if (atomic_load_explicit(&caching, memory_order_acquire))
      depot_put(cache.free, cache.count);
    else
      free_list(cache.free);
  }
  cache.free = NULL;
  cache.count = 0;
}

static void make_key(void) { pthread_key_create(&cache_key, cache_flush); }

/* Arranges for this thread's list to be handed back when the thread exits;
 * done the first time the list gets nodes (by a free, or a depot batch). */
static inline void cache_register(void) {
  if (!cache.registered) {
    pthread_once(&cache_once, make_key);
    pthread_setspecific(cache_key, &cache);
    cache.registered = true;
  }
}

px__msg *px__msg_new(void) {
  px__msg *m = cache.free;
  if (!m && depot_take()) m = cache.free;
  if (m) {
    cache.free = link_of(m);
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

void px__msg_free_node(px__msg *m) {
  if (!atomic_load_explicit(&caching, memory_order_relaxed)) {
    free(m);
    return;
  }
  cache_register();
  set_link(m, cache.free);
  cache.free = m;
  if (++cache.count >= HIGH) {
    /* Hand the older half to the depot. */
    px__msg *cut = m;
    for (uint32_t i = 1; i < BATCH; i++) cut = link_of(cut);
    px__msg *rest = link_of(cut);
    set_link(cut, NULL);
    depot_put(rest, cache.count - BATCH);
    cache.count = BATCH;
  }
}

void px_message_free(px_message *msg) {
  if (msg) px__msg_free(PX__MSG_OF(msg));
}

/* Frees every cached node: the calling thread's list and the depot. Other
 * threads' lists go to the depot when they exit. */
void px__msg_caching(bool on) {
  atomic_store_explicit(&caching, on, memory_order_release);
}

void px__msg_release_all(void) {
  px__msg_caching(false);
  cache_flush(NULL);
  pthread_mutex_lock(&depot.lock);
  while (depot.full) {
    batch *b = depot.full;
    depot.full = b->next;
    free_list(b->head);
    free(b);
  }
  while (depot.spare) {
    batch *b = depot.spare;
    depot.spare = b->next;
    free(b);
  }
  pthread_mutex_unlock(&depot.lock);
}
