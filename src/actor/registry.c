/* Local names (R-A-9): a name maps to at most one live actor and an actor
 * has at most one name. One small open-addressing table under a mutex:
 * registration is rare, and a send by name is a hash and a compare. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "actor/actor_impl.h"
#include "core/mem.h"

typedef struct entry {
  char *name; /* NULL = empty, TOMB = deleted */
  px_ref ref;
} entry;

static char tomb;
#define TOMB (&tomb)

static struct {
  pthread_mutex_t lock;
  entry *tab;
  size_t cap, used; /* used counts tombstones too */
} R = {.lock = PTHREAD_MUTEX_INITIALIZER};

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static entry *find(const char *name) {
  if (!R.cap) return NULL;
  size_t i = hash_str(name) & (R.cap - 1);
  for (;;) {
    entry *e = &R.tab[i];
    if (!e->name) return NULL;
    if (e->name != TOMB && strcmp(e->name, name) == 0) return e;
    i = (i + 1) & (R.cap - 1);
  }
}

static void insert_raw(char *name, px_ref ref) {
  size_t i = hash_str(name) & (R.cap - 1);
  while (R.tab[i].name && R.tab[i].name != TOMB) i = (i + 1) & (R.cap - 1);
  if (!R.tab[i].name) R.used++;
  R.tab[i].name = name;
  R.tab[i].ref = ref;
}

static void grow(void) {
  entry *old = R.tab;
  size_t oldcap = R.cap;
  R.cap = R.cap ? R.cap * 2 : 64;
  R.tab = px__xcalloc(R.cap, sizeof *R.tab);
  R.used = 0;
  for (size_t i = 0; i < oldcap; i++)
    if (old[i].name && old[i].name != TOMB) insert_raw(old[i].name, old[i].ref);
  free(old);
}

static void remove_entry(entry *e) {
  free(e->name);
  e->name = TOMB;
}

void px__registry_destroy(void) {
  pthread_mutex_lock(&R.lock);
  for (size_t i = 0; i < R.cap; i++)
    if (R.tab[i].name && R.tab[i].name != TOMB) free(R.tab[i].name);
  free(R.tab);
  R.tab = NULL;
  R.cap = R.used = 0;
  pthread_mutex_unlock(&R.lock);
}

/* Drops entries whose actor has died without releasing (cannot happen in
 * order, but keeps the table honest). */
static bool alive(px_ref r) { return px__lookup(r) != NULL; }

int px_register(const char *name, px_ref ref) {
  if (!name || !*name) return PX_EINVAL;
  px__actor *a = px__lookup(ref);
  if (!a) return PX_ENOPROC;
  pthread_mutex_lock(&R.lock);
  entry *e = find(name);
  if (e && alive(e->ref)) {
    pthread_mutex_unlock(&R.lock);
    return PX_ENAMETAKEN;
  }
  if (e) remove_entry(e);
  if (atomic_load_explicit(&a->has_name, memory_order_relaxed)) {
    pthread_mutex_unlock(&R.lock);
    return PX_EHASNAME;
  }
  if ((R.used + 1) * 2 > R.cap) grow();
  insert_raw(px__xstrndup(name, strlen(name)), ref);
  atomic_store_explicit(&a->has_name, 1, memory_order_relaxed);
  pthread_mutex_unlock(&R.lock);
  /* It may have died meanwhile: its exit then missed our entry. */
  if (!alive(ref)) {
    pthread_mutex_lock(&R.lock);
    e = find(name);
    if (e && px_ref_eq(e->ref, ref)) remove_entry(e);
    pthread_mutex_unlock(&R.lock);
  }
  return 0;
}

int px_unregister(const char *name) {
  pthread_mutex_lock(&R.lock);
  entry *e = find(name);
  if (!e || !alive(e->ref)) {
    pthread_mutex_unlock(&R.lock);
    return PX_EBADNAME;
  }
  px__actor *a = px__lookup(e->ref);
  if (a) atomic_store_explicit(&a->has_name, 0, memory_order_relaxed);
  remove_entry(e);
  pthread_mutex_unlock(&R.lock);
  return 0;
}

int px_whereis(const char *name, px_ref *out) {
  pthread_mutex_lock(&R.lock);
  entry *e = find(name);
  int rc = PX_EBADNAME;
  if (e && alive(e->ref)) {
    *out = e->ref;
    rc = 0;
  }
  pthread_mutex_unlock(&R.lock);
  return rc;
}

/* Called at exit, after the generation bump: entries are found by index. */
void px__registry_release(px__actor *a) {
  pthread_mutex_lock(&R.lock);
  for (size_t i = 0; i < R.cap; i++) {
    entry *e = &R.tab[i];
    if (e->name && e->name != TOMB && e->ref.index == a->index &&
        e->ref.node == px__node)
      remove_entry(e);
  }
  atomic_store_explicit(&a->has_name, 0, memory_order_relaxed);
  pthread_mutex_unlock(&R.lock);
}

/* Copies the registered name of `r` into buf; false if none. */
bool px__registry_name_of(px_ref r, char *buf, size_t cap) {
  bool found = false;
  pthread_mutex_lock(&R.lock);
  for (size_t i = 0; i < R.cap && !found; i++) {
    entry *e = &R.tab[i];
    if (e->name && e->name != TOMB && px_ref_eq(e->ref, r)) {
      size_t n = strlen(e->name);
      if (n >= cap) n = cap - 1;
      memcpy(buf, e->name, n);
      buf[n] = 0;
      found = true;
    }
  }
  pthread_mutex_unlock(&R.lock);
  return found;
}

int px_send_name(const char *name, px_atom type, px_val payload) {
  px_ref r;
  if (px_whereis(name, &r) != 0) {
    px_val_release(payload);
    return PX_EBADNAME;
  }
  return px_send(r, type, payload);
}
