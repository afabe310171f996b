/* Values: construction, reference counting, access, comparison, hashing and
 * printing. The object layouts live in val_internal.h.
 *
 * Equality is typed and structural. Doubles compare by bit pattern except
 * that every NaN equals every other NaN, so -0.0 and 0.0 are different
 * values (as in Erlang/OTP 27, where 0.0 =:= -0.0 is false); this keeps
 * equality reflexive, lets doubles be map keys, and lets the codecs
 * round-trip the sign of zero. Maps are equal when they hold the same pairs,
 * whatever their insertion order. */
#include "core/val_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "plexspaces/core.h"
#include "plexspaces/error.h"

/* Maps with at most this many pairs of room are searched linearly; larger
 * ones carry a hash index. */
#define MAP_LINEAR_MAX 8

/* Live-object counting costs a shared atomic per allocation, so only debug
 * builds pay for it. */
#if !defined(NDEBUG) && !defined(PX_NO_LIVE_COUNT)
#define COUNT_LIVE 1
#else
#define COUNT_LIVE 0
#endif

static long live_objects;

static void live_add(long d) {
  /* Relaxed: the counter is a statistic read by tests after all work is
   * done; it orders nothing else. */
  if (COUNT_LIVE) __atomic_fetch_add(&live_objects, d, __ATOMIC_RELAXED);
}

long px__val_live_objects(void) {
  if (!COUNT_LIVE) return -1;
  /* Relaxed: see live_add. */
  return __atomic_load_n(&live_objects, __ATOMIC_RELAXED);
}

/* ---- hashing primitives ------------------------------------------------- */

static inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

static inline uint64_t rotl64(uint64_t x, int r) {
  return (x << r) | (x >> (64 - r));
}

uint64_t px__val_hash_bytes(const void *data, size_t len) {
  const unsigned char *p = data;
  uint64_t h = 0x9e3779b97f4a7c15ull ^ (len * 0xff51afd7ed558ccdull);
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = rotl64(h ^ mix64(w), 27) * 0x9fb21c651e98df25ull;
    p += 8;
    len -= 8;
  }
  uint64_t t = 0;
  if (len) memcpy(&t, p, len);
  h ^= mix64(t + len);
  return mix64(h);
}

/* Combines a type with a 64-bit payload so that equal payloads of different
 * types hash apart. */
static inline uint64_t typed_hash(px_type t, uint64_t payload) {
  return mix64(payload ^ ((uint64_t)(t + 1) * 0x9e3779b97f4a7c15ull));
}

/* Hash of string or binary content; never 0, so 0 can mean "not cached". */
static uint64_t content_hash(const char *p, size_t len) {
  uint64_t h = px__val_hash_bytes(p, len);
  return h ? h : 1;
}

static uint64_t bytes_hash(px__bytes *b) {
  /* Relaxed: the hash is a pure function of immutable bytes, so every
   * thread that computes it stores the same value; no other data is
   * published through this field. */
  uint64_t h = __atomic_load_n(&b->hash, __ATOMIC_RELAXED);
  if (h == 0) {
    h = content_hash(b->data, b->len);
    __atomic_store_n(&b->hash, h, __ATOMIC_RELAXED);
  }
  return h;
}

/* ---- allocation --------------------------------------------------------- */

/* Allocates `n` bytes. When `may_fail` is false a failure goes to the OOM
 * handler; otherwise NULL comes back. SIZE_MAX stands for "overflowed". */
static void *obj_alloc(size_t n, bool may_fail) {
  void *p = n == SIZE_MAX ? NULL : malloc(n);
  if (!p && !may_fail) px__oom(n);
  return p;
}

static void *obj_realloc(void *o, size_t n, bool may_fail) {
  void *p = n == SIZE_MAX ? NULL : realloc(o, n);
  if (!p && !may_fail) px__oom(n);
  return p;
}

static void obj_init(px_obj *o, px_type t) {
  o->rc = 1;
  o->type = (uint8_t)t;
  memset(o->_pad, 0, sizeof o->_pad);
  live_add(1);
}

static px_val obj_val(px_obj *o) {
  px_val v = {0};
  v.type = o->type;
  v.u.o = o;
  return v;
}

/* Allocates a string or binary of `len` bytes copied from `data`, or left
 * for the caller to fill when `data` is NULL. */
static px__bytes *bytes_new(px_type t, const void *data, size_t len,
                            bool may_fail) {
  size_t n = len > SIZE_MAX - sizeof(px__bytes) - 1
                 ? SIZE_MAX
                 : sizeof(px__bytes) + len + 1;
  px__bytes *b = obj_alloc(n, may_fail);
  if (!b) return NULL;
  obj_init(&b->h, t);
  b->_pad = 0;
  b->hash = 0;
  b->len = len;
  if (data && len) memcpy(b->data, data, len);
  b->data[len] = 0;
  return b;
}

static size_t array_size(size_t cap) {
  if (cap > (SIZE_MAX - sizeof(px__array)) / sizeof(px_val)) return SIZE_MAX;
  return sizeof(px__array) + cap * sizeof(px_val);
}

static px__array *array_alloc(size_t cap, bool may_fail) {
  px__array *a = obj_alloc(array_size(cap), may_fail);
  if (!a) return NULL;
  obj_init(&a->h, PX_T_ARRAY);
  a->_pad = 0;
  a->len = 0;
  a->u.cap = cap;
  return a;
}

static size_t index_slots(size_t cap) {
  if (cap <= MAP_LINEAR_MAX) return 0;
  size_t s = 16;
  while (s < cap * 2) s <<= 1;
  return s;
}

static size_t map_size(size_t cap) {
  /* Index entries are 32-bit pair numbers, which also bounds the size. */
  if (cap > UINT32_MAX / 4) return SIZE_MAX;
  size_t n = sizeof(px__map) + 2 * cap * sizeof(px_val) +
             index_slots(cap) * sizeof(uint32_t);
  return n;
}

static uint32_t *map_index(px__map *m) {
  return (uint32_t *)(void *)(m->kv + 2 * m->u.cap);
}

static void map_set_cap(px__map *m, size_t cap) {
  m->u.cap = cap;
  size_t slots = index_slots(cap);
  m->index_mask = slots ? slots - 1 : 0;
  if (slots) memset(map_index(m), 0, slots * sizeof(uint32_t));
}

static px__map *map_alloc(size_t cap, bool may_fail) {
  px__map *m = obj_alloc(map_size(cap), may_fail);
  if (!m) return NULL;
  obj_init(&m->h, PX_T_MAP);
  m->_pad = 0;
  m->len = 0;
  map_set_cap(m, cap);
  return m;
}

/* ---- releasing ---------------------------------------------------------- */

static inline bool is_heap(px_val v) { return v.type >= PX_T_STR; }

/* Drops one reference and reports whether it was the last. */
static bool unref(px_obj *o) {
  /* Acquire: a count of 1 means our reference is the only one, so no other
   * thread can touch the count any more and the atomic decrement can be
   * skipped; the acquire pairs with the release half of the decrement by
   * the previous owner, so its accesses happen before our free. */
  if (__atomic_load_n(&o->rc, __ATOMIC_ACQUIRE) == 1) return true;
  /* Acq_rel: the release half orders this owner's reads of the object
   * before the free performed by whichever thread drops the last reference;
   * the acquire half makes the freeing thread see every other owner's
   * accesses before it tears the object down. */
  uint32_t old = __atomic_fetch_sub(&o->rc, 1, __ATOMIC_ACQ_REL);
  px_assert(old != 0);
  return old == 1;
}

/* Drops a child reference of a dying container. Strings and binaries are
 * freed at once; containers are pushed on `pending` so that freeing never
 * recurses, however deep the nesting. */
static void release_child(px_val v, px_obj **pending) {
  if (!is_heap(v) || !unref(v.u.o)) return;
  px_obj *o = v.u.o;
  if (o->type == PX_T_ARRAY) {
    ((px__array *)o)->u.next_dead = *pending;
    *pending = o;
  } else if (o->type == PX_T_MAP) {
    ((px__map *)o)->u.next_dead = *pending;
    *pending = o;
  } else {
    live_add(-1);
    free(o);
  }
}

static px_obj *next_dead(px_obj *o) {
  return o->type == PX_T_ARRAY ? ((px__array *)o)->u.next_dead
                               : ((px__map *)o)->u.next_dead;
}

/* Frees `o`, whose last reference is gone, and everything only it held. */
static void destroy(px_obj *o) {
  px_obj *pending = NULL;
  while (o) {
    if (o->type == PX_T_ARRAY) {
      px__array *a = (px__array *)o;
      for (size_t i = 0; i < a->len; i++) release_child(a->items[i], &pending);
    } else if (o->type == PX_T_MAP) {
      px__map *m = (px__map *)o;
      for (size_t i = 0; i < 2 * m->len; i++) release_child(m->kv[i], &pending);
    }
    live_add(-1);
    free(o);
    o = pending;
    if (o) pending = next_dead(o);
  }
}

px_val px_val_retain(px_val v) {
  if (is_heap(v)) {
    /* Relaxed: the caller already owns a reference, so the object cannot
     * die concurrently, and handing the new reference to another thread is
     * ordered by whatever channel carries it (a mailbox, a lock). */
    uint32_t old = __atomic_fetch_add(&v.u.o->rc, 1, __ATOMIC_RELAXED);
    px_assert(old != 0 && old != UINT32_MAX);
    (void)old;
  }
  return v;
}

void px_val_release(px_val v) {
  if (is_heap(v) && unref(v.u.o)) destroy(v.u.o);
}

/* ---- constructors ------------------------------------------------------- */

px_val px_atom_val(const char *name) { return px_atomv(px_atom_of(name)); }

px_val px_strn(const char *s, size_t len) {
  return obj_val(&bytes_new(PX_T_STR, s, len, false)->h);
}

px_val px_str(const char *s) { return px_strn(s, strlen(s)); }

px_val px_strf(const char *fmt, ...) {
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) {
    /* Only an invalid conversion gets here; an empty string is safer than
     * a crash in what is usually a log or reason message. */
    va_end(ap2);
    return px_strn("", 0);
  }
  px__bytes *b = bytes_new(PX_T_STR, NULL, (size_t)n, false);
  vsnprintf(b->data, (size_t)n + 1, fmt, ap2);
  va_end(ap2);
  return obj_val(&b->h);
}

px_val px_bin(const void *data, size_t len) {
  return obj_val(&bytes_new(PX_T_BIN, data, len, false)->h);
}

px_val px_array_new(size_t cap) {
  return obj_val(&array_alloc(cap, false)->h);
}

px_val px_array_of(size_t n, const px_val *items) {
  px__array *a = array_alloc(n, false);
  if (n) memcpy(a->items, items, n * sizeof(px_val));
  a->len = n;
  return obj_val(&a->h);
}

px_val px_arr(size_t n, ...) {
  px__array *a = array_alloc(n, false);
  va_list ap;
  va_start(ap, n);
  for (size_t i = 0; i < n; i++) a->items[i] = va_arg(ap, px_val);
  va_end(ap);
  a->len = n;
  return obj_val(&a->h);
}

/* Reports whether `v` is an unshared container of type `t`; builders may
 * only change such values. */
static bool builder_ok(const px_val *v, px_type t) {
  bool ok = v && v->type == t;
  px_assert(ok);
  /* Relaxed: a read of our own reference count for a debug check. */
  px_assert(!ok || __atomic_load_n(&v->u.o->rc, __ATOMIC_RELAXED) == 1);
  return ok;
}

static int array_reserve(px_val *arr, size_t cap, bool may_fail) {
  px__array *a = px__as_array(*arr);
  if (cap <= a->u.cap) return 0;
  a = obj_realloc(a, array_size(cap), may_fail);
  if (!a) return PX_ENOMEM;
  a->u.cap = cap;
  arr->u.o = &a->h;
  return 0;
}

static int array_push(px_val *arr, px_val item, bool may_fail) {
  px__array *a = px__as_array(*arr);
  if (a->len == a->u.cap &&
      array_reserve(arr, a->u.cap < 4 ? 4 : a->u.cap * 2, may_fail) != 0) {
    px_val_release(item);
    return PX_ENOMEM;
  }
  a = px__as_array(*arr);
  a->items[a->len++] = item;
  return 0;
}

void px_array_push(px_val *arr, px_val item) {
  if (!builder_ok(arr, PX_T_ARRAY)) {
    px_val_release(item);
    return;
  }
  array_push(arr, item, false);
}

/* ---- maps --------------------------------------------------------------- */

static bool double_equal(double a, double b) {
  if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
  return memcmp(&a, &b, sizeof a) == 0;
}

static bool bytes_equal(const px__bytes *a, const char *p, size_t len) {
  return a->len == len && (len == 0 || memcmp(a->data, p, len) == 0);
}

/* Finds the pair whose key is a string or binary of type `t` with the given
 * bytes; returns its position or SIZE_MAX. */
static size_t map_find_bytes(px__map *m, px_type t, const char *p,
                             size_t len) {
  if (m->index_mask == 0) {
    for (size_t i = 0; i < m->len; i++) {
      px_val k = m->kv[2 * i];
      if (k.type == t && bytes_equal(px__as_bytes(k), p, len)) return i;
    }
    return SIZE_MAX;
  }
  uint32_t *idx = map_index(m);
  size_t s = typed_hash(t, content_hash(p, len)) & m->index_mask;
  for (; idx[s]; s = (s + 1) & m->index_mask) {
    px_val k = m->kv[2 * (idx[s] - 1)];
    if (k.type == t && bytes_equal(px__as_bytes(k), p, len)) return idx[s] - 1;
  }
  return SIZE_MAX;
}

static size_t map_find(px__map *m, px_val key) {
  if (key.type == PX_T_STR || key.type == PX_T_BIN) {
    px__bytes *b = px__as_bytes(key);
    return map_find_bytes(m, (px_type)key.type, b->data, b->len);
  }
  if (m->index_mask == 0) {
    for (size_t i = 0; i < m->len; i++)
      if (px_val_equal(m->kv[2 * i], key)) return i;
    return SIZE_MAX;
  }
  uint32_t *idx = map_index(m);
  size_t s = px_val_hash(key) & m->index_mask;
  for (; idx[s]; s = (s + 1) & m->index_mask)
    if (px_val_equal(m->kv[2 * (idx[s] - 1)], key)) return idx[s] - 1;
  return SIZE_MAX;
}

static void index_insert(px__map *m, size_t pos) {
  uint32_t *idx = map_index(m);
  size_t s = px_val_hash(m->kv[2 * pos]) & m->index_mask;
  while (idx[s]) s = (s + 1) & m->index_mask;
  idx[s] = (uint32_t)(pos + 1);
}

static int map_reserve(px_val *map, size_t cap, bool may_fail) {
  px__map *m = px__as_map(*map);
  if (cap <= m->u.cap) return 0;
  px__map *nm = obj_realloc(m, map_size(cap), may_fail);
  if (!nm) return PX_ENOMEM;
  map_set_cap(nm, cap);
  if (nm->index_mask)
    for (size_t i = 0; i < nm->len; i++) index_insert(nm, i);
  map->u.o = &nm->h;
  return 0;
}

/* Appends a pair whose key is known to be absent. */
static int map_append(px_val *map, px_val key, px_val value, bool may_fail) {
  px__map *m = px__as_map(*map);
  if (m->len == m->u.cap) {
    if (map_reserve(map, m->u.cap < 4 ? 4 : m->u.cap * 2, may_fail) != 0) {
      px_val_release(key);
      px_val_release(value);
      return PX_ENOMEM;
    }
    m = px__as_map(*map);
  }
  size_t pos = m->len++;
  m->kv[2 * pos] = key;
  m->kv[2 * pos + 1] = value;
  if (m->index_mask) index_insert(m, pos);
  return 0;
}

px_val px_map_new(size_t cap) { return obj_val(&map_alloc(cap, false)->h); }

void px_map_put(px_val *map, px_val key, px_val value) {
  if (!builder_ok(map, PX_T_MAP)) {
    px_val_release(key);
    px_val_release(value);
    return;
  }
  px__map *m = px__as_map(*map);
  size_t pos = map_find(m, key);
  if (pos != SIZE_MAX) {
    /* The first key stays, so the pair keeps its insertion position. */
    px_val_release(key);
    px_val_release(m->kv[2 * pos + 1]);
    m->kv[2 * pos + 1] = value;
    return;
  }
  map_append(map, key, value, false);
}

void px_map_puts(px_val *map, const char *key, px_val value) {
  px_map_put(map, px_str(key), value);
}

px_val px_map(size_t n_pairs, ...) {
  px_val m = px_map_new(n_pairs);
  va_list ap;
  va_start(ap, n_pairs);
  for (size_t i = 0; i < n_pairs; i++) {
    px_val k = va_arg(ap, px_val);
    px_val v = va_arg(ap, px_val);
    px_map_put(&m, k, v);
  }
  va_end(ap);
  return m;
}

/* ---- fallible builders -------------------------------------------------- */

int px__val_try_bytes(px_type type, const void *data, size_t len,
                      px_val *out) {
  px__bytes *b = bytes_new(type, data, len, true);
  if (!b) return PX_ENOMEM;
  *out = obj_val(&b->h);
  return 0;
}

int px__val_try_array(size_t cap, px_val *out) {
  px__array *a = array_alloc(cap, true);
  if (!a) return PX_ENOMEM;
  *out = obj_val(&a->h);
  return 0;
}

int px__val_try_map(size_t cap, px_val *out) {
  px__map *m = map_alloc(cap, true);
  if (!m) return PX_ENOMEM;
  *out = obj_val(&m->h);
  return 0;
}

int px__val_try_push(px_val *arr, px_val item) {
  return array_push(arr, item, true);
}

int px__val_try_reserve(px_val *v, size_t cap) {
  if (v->type == PX_T_ARRAY) return array_reserve(v, cap, true);
  return map_reserve(v, cap, true);
}

int px__val_try_put_new(px_val *map, px_val key, px_val value) {
  if (map_find(px__as_map(*map), key) != SIZE_MAX) {
    px_val_release(key);
    px_val_release(value);
    return PX_EEXIST;
  }
  return map_append(map, key, value, true);
}

/* ---- accessors ---------------------------------------------------------- */

const char *px_str_ptr(px_val v) {
  if (v.type != PX_T_STR && v.type != PX_T_BIN) return NULL;
  return px__as_bytes(v)->data;
}

size_t px_str_len(px_val v) {
  if (v.type != PX_T_STR && v.type != PX_T_BIN) return 0;
  return px__as_bytes(v)->len;
}

size_t px_len(px_val v) {
  switch (v.type) {
  case PX_T_STR:
  case PX_T_BIN:
    return px__as_bytes(v)->len;
  case PX_T_ARRAY:
    return px__as_array(v)->len;
  case PX_T_MAP:
    return px__as_map(v)->len;
  default:
    return 0;
  }
}

px_val px_at(px_val arr, size_t i) {
  if (arr.type != PX_T_ARRAY || i >= px__as_array(arr)->len) return px_nil();
  return px__as_array(arr)->items[i];
}

px_val px_map_key_at(px_val map, size_t i) {
  if (map.type != PX_T_MAP || i >= px__as_map(map)->len) return px_nil();
  return px__as_map(map)->kv[2 * i];
}

px_val px_map_val_at(px_val map, size_t i) {
  if (map.type != PX_T_MAP || i >= px__as_map(map)->len) return px_nil();
  return px__as_map(map)->kv[2 * i + 1];
}

bool px_map_find(px_val map, px_val key, px_val *out) {
  if (map.type != PX_T_MAP) return false;
  px__map *m = px__as_map(map);
  size_t pos = map_find(m, key);
  if (pos == SIZE_MAX) return false;
  if (out) *out = m->kv[2 * pos + 1];
  return true;
}

px_val px_get(px_val map, px_val key) {
  px_val v = px_nil();
  px_map_find(map, key, &v);
  return v;
}

px_val px_gets(px_val map, const char *key) {
  if (map.type != PX_T_MAP) return px_nil();
  px__map *m = px__as_map(map);
  size_t len = strlen(key);
  size_t pos = map_find_bytes(m, PX_T_STR, key, len);
  if (pos == SIZE_MAX) {
    px_atom a = px_atom_find(key, len);
    if (a) pos = map_find(m, px_atomv(a));
  }
  return pos == SIZE_MAX ? px_nil() : m->kv[2 * pos + 1];
}

/* ---- equality, order, hash ---------------------------------------------- */

bool px_val_equal(px_val a, px_val b) {
  if (a.type != b.type) return false;
  switch (a.type) {
  case PX_T_NIL:
    return true;
  case PX_T_BOOL:
    return a.u.b == b.u.b;
  case PX_T_INT:
    return a.u.i == b.u.i;
  case PX_T_DOUBLE:
    return double_equal(a.u.d, b.u.d);
  case PX_T_ATOM:
    return a.u.a == b.u.a;
  default:
    break;
  }
  if (a.u.o == b.u.o) return true;
  if (a.type == PX_T_STR || a.type == PX_T_BIN) {
    px__bytes *x = px__as_bytes(b);
    return bytes_equal(px__as_bytes(a), x->data, x->len);
  }
  if (a.type == PX_T_ARRAY) {
    px__array *x = px__as_array(a), *y = px__as_array(b);
    if (x->len != y->len) return false;
    for (size_t i = 0; i < x->len; i++)
      if (!px_val_equal(x->items[i], y->items[i])) return false;
    return true;
  }
  px__map *x = px__as_map(a), *y = px__as_map(b);
  if (x->len != y->len) return false;
  for (size_t i = 0; i < x->len; i++) {
    size_t pos = map_find(y, x->kv[2 * i]);
    if (pos == SIZE_MAX || !px_val_equal(x->kv[2 * i + 1], y->kv[2 * pos + 1]))
      return false;
  }
  return true;
}

#define CMP(x, y) (((x) > (y)) - ((x) < (y)))

/* Orders doubles totally: -inf < ... < -0.0 < 0.0 < ... < inf < NaN, with
 * all NaNs equal, matching double_equal. */
static int double_compare(double a, double b) {
  bool na = isnan(a), nb = isnan(b);
  if (na || nb) return (int)na - (int)nb;
  int64_t x, y;
  memcpy(&x, &a, sizeof x);
  memcpy(&y, &b, sizeof y);
  /* Flipping the magnitude bits of negatives makes the two's-complement
   * order of the bit patterns match the numeric order. */
  if (x < 0) x ^= INT64_MAX;
  if (y < 0) y ^= INT64_MAX;
  return CMP(x, y);
}

static int bytes_compare(const char *a, size_t al, const char *b, size_t bl) {
  size_t n = al < bl ? al : bl;
  int c = n ? memcmp(a, b, n) : 0;
  if (c) return c < 0 ? -1 : 1;
  return CMP(al, bl);
}

static int key_ptr_compare(const void *x, const void *y) {
  return px_val_compare(**(const px_val *const *)x,
                        **(const px_val *const *)y);
}

/* Fills `keys` with pointers to the map's keys in ascending order. */
static void sorted_keys(px__map *m, const px_val **keys) {
  for (size_t i = 0; i < m->len; i++) keys[i] = &m->kv[2 * i];
  qsort(keys, m->len, sizeof *keys, key_ptr_compare);
}

/* Maps order by size, then by their sorted keys, then by the values in key
 * order (the Erlang rule), which is independent of insertion order. */
static int map_compare(px__map *x, px__map *y) {
  if (x->len != y->len) return CMP(x->len, y->len);
  size_t n = x->len;
  const px_val *stack[32];
  const px_val **kx = 2 * n <= 32 ? stack : px__xmalloc(2 * n * sizeof *kx);
  const px_val **ky = kx + n;
  sorted_keys(x, kx);
  sorted_keys(y, ky);
  int c = 0;
  for (size_t i = 0; i < n && c == 0; i++) c = px_val_compare(*kx[i], *ky[i]);
  /* The value of a key sits right after it in kv. */
  for (size_t i = 0; i < n && c == 0; i++)
    c = px_val_compare(kx[i][1], ky[i][1]);
  if (kx != stack) free(kx);
  return c;
}

int px_val_compare(px_val a, px_val b) {
  if (a.type != b.type) return CMP(a.type, b.type);
  switch (a.type) {
  case PX_T_NIL:
    return 0;
  case PX_T_BOOL:
    return CMP(a.u.b, b.u.b);
  case PX_T_INT:
    return CMP(a.u.i, b.u.i);
  case PX_T_DOUBLE:
    return double_compare(a.u.d, b.u.d);
  case PX_T_ATOM:
    if (a.u.a == b.u.a) return 0;
    return bytes_compare(a.u.a->name, a.u.a->len, b.u.a->name, b.u.a->len);
  default:
    break;
  }
  if (a.u.o == b.u.o) return 0;
  if (a.type == PX_T_STR || a.type == PX_T_BIN) {
    px__bytes *x = px__as_bytes(a), *y = px__as_bytes(b);
    return bytes_compare(x->data, x->len, y->data, y->len);
  }
  if (a.type == PX_T_ARRAY) {
    px__array *x = px__as_array(a), *y = px__as_array(b);
    size_t n = x->len < y->len ? x->len : y->len;
    for (size_t i = 0; i < n; i++) {
      int c = px_val_compare(x->items[i], y->items[i]);
      if (c) return c;
    }
    return CMP(x->len, y->len);
  }
  return map_compare(px__as_map(a), px__as_map(b));
}

uint64_t px_val_hash(px_val v) {
  px_type t = (px_type)v.type;
  switch (t) {
  case PX_T_NIL:
    return typed_hash(t, 0);
  case PX_T_BOOL:
    return typed_hash(t, v.u.b);
  case PX_T_INT:
    return typed_hash(t, (uint64_t)v.u.i);
  case PX_T_DOUBLE: {
    uint64_t bits = 0x7ff8000000000000ull; /* the one NaN */
    if (!isnan(v.u.d)) memcpy(&bits, &v.u.d, sizeof bits);
    return typed_hash(t, bits);
  }
  case PX_T_ATOM:
    return typed_hash(t, v.u.a->hash);
  case PX_T_STR:
  case PX_T_BIN:
    return typed_hash(t, bytes_hash(px__as_bytes(v)));
  case PX_T_ARRAY: {
    px__array *a = px__as_array(v);
    uint64_t h = a->len;
    for (size_t i = 0; i < a->len; i++)
      h = mix64(h + px_val_hash(a->items[i]));
    return typed_hash(t, h);
  }
  case PX_T_MAP: {
    /* A sum of pair hashes does not depend on insertion order. */
    px__map *m = px__as_map(v);
    uint64_t h = m->len;
    for (size_t i = 0; i < m->len; i++) {
      uint64_t k = px_val_hash(m->kv[2 * i]);
      uint64_t x = px_val_hash(m->kv[2 * i + 1]);
      h += mix64(k ^ rotl64(x, 23));
    }
    return typed_hash(t, h);
  }
  }
  return 0;
}

/* ---- printing ----------------------------------------------------------- */

typedef struct out {
  char *buf;
  size_t cap;
  size_t n; /* bytes wanted so far */
} out;

static void put(out *o, const char *s, size_t len) {
  if (o->n + 1 < o->cap) {
    size_t room = o->cap - 1 - o->n;
    memcpy(o->buf + o->n, s, len < room ? len : room);
  }
  o->n += len;
}

static void puts_(out *o, const char *s) { put(o, s, strlen(s)); }

static void putf(out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void putf(out *o, const char *fmt, ...) {
  char tmp[64];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n > 0) put(o, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Writes `d` with the fewest significant digits that read back to the same
 * double, always with a '.' or an exponent so it reads as a double. */
static void put_double(out *o, double d) {
  if (isnan(d) || isinf(d)) {
    puts_(o, isnan(d) ? "nan" : d < 0 ? "-inf" : "inf");
    return;
  }
  char tmp[40];
  for (int p = 1; p <= 17; p++) {
    snprintf(tmp, sizeof tmp, "%.*g", p, d);
    if (strtod(tmp, NULL) == d) break;
  }
  bool has_point = false;
  for (char *c = tmp; *c; c++) {
    if (*c == ',') *c = '.'; /* a locale's decimal comma */
    if (*c == '.' || *c == 'e') has_point = true;
  }
  puts_(o, tmp);
  if (!has_point) puts_(o, ".0");
}

static bool bare_atom(const char *s, size_t len) {
  if (len == 0 || s[0] < 'a' || s[0] > 'z') return false;
  for (size_t i = 1; i < len; i++) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '@';
    if (!ok) return false;
  }
  return true;
}

/* Writes bytes between `q` quotes with C-like escapes; bytes >= 0x80 pass
 * through so UTF-8 text stays readable. */
static void put_quoted(out *o, const char *s, size_t len, char q) {
  put(o, &q, 1);
  size_t run = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *esc = NULL;
    char hex[8];
    if (c == (unsigned char)q || c == '\\') {
      hex[0] = '\\';
      hex[1] = (char)c;
      hex[2] = 0;
      esc = hex;
    } else if (c == '\n') {
      esc = "\\n";
    } else if (c == '\t') {
      esc = "\\t";
    } else if (c == '\r') {
      esc = "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      snprintf(hex, sizeof hex, "\\x%02x", c);
      esc = hex;
    }
    if (!esc) continue;
    put(o, s + run, i - run);
    puts_(o, esc);
    run = i + 1;
  }
  put(o, s + run, len - run);
  put(o, &q, 1);
}

static void format(out *o, px_val v, int depth);

static void format_container(out *o, px_val v, int depth) {
  if (v.type == PX_T_ARRAY) {
    px__array *a = px__as_array(v);
    puts_(o, "[");
    for (size_t i = 0; i < a->len; i++) {
      if (i) puts_(o, ",");
      format(o, a->items[i], depth + 1);
    }
    puts_(o, "]");
    return;
  }
  px__map *m = px__as_map(v);
  puts_(o, "#{");
  for (size_t i = 0; i < m->len; i++) {
    if (i) puts_(o, ",");
    format(o, m->kv[2 * i], depth + 1);
    puts_(o, " => ");
    format(o, m->kv[2 * i + 1], depth + 1);
  }
  puts_(o, "}");
}

static void format(out *o, px_val v, int depth) {
  if (depth > PX__MAX_DEPTH) {
    puts_(o, "...");
    return;
  }
  switch ((px_type)v.type) {
  case PX_T_NIL:
    puts_(o, "nil");
    break;
  case PX_T_BOOL:
    puts_(o, v.u.b ? "true" : "false");
    break;
  case PX_T_INT:
    putf(o, "%lld", (long long)v.u.i);
    break;
  case PX_T_DOUBLE:
    put_double(o, v.u.d);
    break;
  case PX_T_ATOM:
    if (bare_atom(v.u.a->name, v.u.a->len))
      put(o, v.u.a->name, v.u.a->len);
    else
      put_quoted(o, v.u.a->name, v.u.a->len, '\'');
    break;
  case PX_T_STR:
    put_quoted(o, px__as_bytes(v)->data, px__as_bytes(v)->len, '"');
    break;
  case PX_T_BIN: {
    px__bytes *b = px__as_bytes(v);
    puts_(o, "<<");
    for (size_t i = 0; i < b->len; i++)
      putf(o, i ? ",%u" : "%u", (unsigned char)b->data[i]);
    puts_(o, ">>");
    break;
  }
  case PX_T_ARRAY:
  case PX_T_MAP:
    format_container(o, v, depth);
    break;
  default:
    putf(o, "<bad type %u>", v.type);
    break;
  }
}

size_t px_val_format(px_val v, char *buf, size_t cap) {
  out o = {buf, cap, 0};
  format(&o, v, 1);
  if (cap == 0) return o.n;
  if (o.n < cap) {
    buf[o.n] = 0;
  } else {
    buf[cap - 1] = 0;
    if (cap >= 4) memcpy(buf + cap - 4, "...", 3);
  }
  return o.n;
}
