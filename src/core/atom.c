/* Interned atoms.
 *
 * The table is open addressing with linear probing, kept at most half full.
 * Readers never lock: they load the current table and probe it, seeing
 * slots that writers publish with release stores. Writers (interning a new
 * name) take a mutex, so there is one writer at a time. Growing builds a
 * complete new table and publishes it with one release store; the old table
 * is never changed again and never freed, so a reader still probing it stays
 * safe and at worst misses an atom that is being added at that moment. Old
 * tables stay linked from the new one so that they remain reachable, and
 * their total size is below that of the current table. Atoms themselves are
 * never freed. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/val_internal.h"
#include "plexspaces/error.h"
#include "plexspaces/core.h"

#define INITIAL_SLOTS 256

typedef struct table {
  size_t mask;           /* slots - 1; slots is a power of two */
  struct table *retired; /* the table this one replaced, or NULL */
  px_atom_s *slots[];    /* accessed with __atomic builtins */
} table;

static table *current; /* accessed with __atomic builtins */
static size_t count;   /* atoms interned; guarded by `lock` */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static px_atom probe(table *t, const char *name, size_t len, uint64_t h) {
  for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
    /* Acquire: pairs with the release store in add_atom, so the atom's
     * hash, length and name are visible before we read them. */
    px_atom_s *a = __atomic_load_n(&t->slots[i], __ATOMIC_ACQUIRE);
    if (!a) return NULL;
    if (a->hash == h && a->len == len &&
        (len == 0 || memcmp(a->name, name, len) == 0))
      return a;
  }
}

static table *load_table(void) {
  /* Acquire: pairs with the release store in grow, so the slots copied into
   * a new table are visible once the table pointer is. */
  return __atomic_load_n(&current, __ATOMIC_ACQUIRE);
}

px_atom px_atom_find(const char *name, size_t len) {
  table *t = load_table();
  if (!t) return NULL;
  return probe(t, name, len, px__val_hash_bytes(name, len));
}

/* Places `a` in the first free slot of `t`, which is not yet visible to
 * readers, so plain stores suffice. */
static void place_unpublished(table *t, px_atom_s *a) {
  size_t i = a->hash & t->mask;
  while (t->slots[i]) i = (i + 1) & t->mask;
  t->slots[i] = a;
}

static table *table_new(size_t slots) {
  table *t = px__xcalloc(1, sizeof(table) + slots * sizeof(px_atom_s *));
  t->mask = slots - 1;
  return t;
}

/* Replaces the current table by one twice its size. Caller holds `lock`. */
static table *grow(table *old) {
  table *t = table_new(old ? 2 * (old->mask + 1) : INITIAL_SLOTS);
  if (old) {
    for (size_t i = 0; i <= old->mask; i++)
      if (old->slots[i]) place_unpublished(t, old->slots[i]);
  }
  t->retired = old;
  /* Release: publishes the fully built table; see load_table. */
  __atomic_store_n(&current, t, __ATOMIC_RELEASE);
  return t;
}

/* Interns a name known to be absent. Caller holds `lock`. */
static px_atom add_atom(table *t, const char *name, size_t len, uint64_t h) {
  if (!t || 2 * (count + 1) > t->mask + 1) t = grow(t);
  px_atom_s *a = px__xmalloc(sizeof(px_atom_s) + len + 1);
  a->hash = h;
  a->len = len;
  if (len) memcpy(a->name, name, len);
  a->name[len] = 0;
  size_t i = h & t->mask;
  while (t->slots[i]) i = (i + 1) & t->mask;
  /* Release: publishes the initialised atom; see probe. */
  __atomic_store_n(&t->slots[i], a, __ATOMIC_RELEASE);
  count++;
  return a;
}

px_atom px_atom_ofn(const char *name, size_t len) {
  uint64_t h = px__val_hash_bytes(name, len);
  table *t = load_table();
  px_atom a = t ? probe(t, name, len, h) : NULL;
  if (a) return a;
  pthread_mutex_lock(&lock);
  /* Only writers change the table pointer and we are the writer now, so
   * this load sees the latest table. */
  t = load_table();
  a = t ? probe(t, name, len, h) : NULL;
  if (!a) a = add_atom(t, name, len, h);
  pthread_mutex_unlock(&lock);
  return a;
}

px_atom px_atom_of(const char *name) {
  px_assert(name != NULL);
  return px_atom_ofn(name, strlen(name));
}

const char *px_atom_name(px_atom a) { return a->name; }

size_t px_atom_len(px_atom a) { return a->len; }

/* One budget for every edge that names atoms on behalf of outsiders (HTTP
 * op names, WASM message types): enough for any real app, small enough
 * that a client looping over fresh names cannot grow the table forever. */
#define UNTRUSTED_BUDGET 10000
#define UNTRUSTED_MAX_LEN 64

static _Atomic(int) untrusted_minted;

int px_atom_untrusted(const char *name, size_t len, px_atom *out) {
  bool ident = len > 0 && len <= UNTRUSTED_MAX_LEN;
  for (size_t i = 0; ident && i < len; i++) {
    char c = name[i];
    ident = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-' ||
            c == ':';
  }
  if (!ident) return PX_EINVAL;
  px_atom a = px_atom_find(name, len);
  if (!a) {
    if (atomic_fetch_add(&untrusted_minted, 1) >= UNTRUSTED_BUDGET) {
      atomic_fetch_sub(&untrusted_minted, 1);
      return PX_ERANGE;
    }
    a = px_atom_ofn(name, len);
  }
  *out = a;
  return 0;
}
