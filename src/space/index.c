/* Where stored tuples are found (issue 3: "indexed: must not scan").
 *
 * Every stored tuple is on its arity's list and in the field-0 index:
 * buckets keyed by (arity, hash of field 0), all in one hash table. Two
 * secondary indexes exist per arity and are built the first time a lookup
 * would otherwise walk a long list:
 *  - fields 0 and 1 together, for the common "tagged" layout where field 0
 *    is a type tag shared by many tuples and field 1 the key, e.g. a read
 *    of ("job", 42, _) among a million ("job", id, payload);
 *  - field 1 alone, for templates whose field 0 is a wildcard or a formal.
 * Once built, an index is kept up to date for that arity (a write pays one
 * more hash and link per index; spaces that never need one pay nothing).
 * Every list is in sequence order, so a lookup still finds the oldest
 * match first (R-K-7 [ours]). A template exact in neither field scans the
 * arity list: that is a template matching by formals only, whose cost
 * the caller chose.
 *
 * Buckets are recycled through a small per-space spare list, so a steady
 * write/take stream on one key allocates nothing here. */
#include <stdlib.h>

#include "core/mem.h"
#include "space/space_internal.h"

/* A lookup that would walk more candidates than this builds the index. */
#define INDEX_AFTER 32

static uint64_t bkey(size_t arity, int kind, uint64_t h) {
  return (h * 0x9E3779B97F4A7C15ull) ^ (uint64_t)arity ^
         ((uint64_t)kind << 58);
}

static uint64_t h01(uint64_t h0, uint64_t h1) {
  return h0 ^ (h1 * 0xC2B2AE3D27D4EB4Full + 0x165667B19E3779F9ull);
}

static ts_bucket *bucket_get(px_space *s, size_t arity, int kind, uint64_t h,
                             bool create) {
  ts_bucket *hot = s->hot;
  if (hot && hot->h == h && hot->arity == arity && hot->kind == kind)
    return hot;
  if (s->bt_cap) {
    for (ts_bucket *b = s->bt[bkey(arity, kind, h) & (s->bt_cap - 1)]; b;
         b = b->hnext)
      if (b->h == h && b->arity == arity && b->kind == kind)
        return s->hot = b;
  }
  if (!create) return NULL;
  if (s->bt_n + 1 > s->bt_cap * 3 / 4) {
    size_t nc = s->bt_cap ? s->bt_cap * 2 : 64;
    ts_bucket **nt = px__xcalloc(nc, sizeof *nt);
    for (size_t i = 0; i < s->bt_cap; i++)
      for (ts_bucket *b = s->bt[i], *n; b; b = n) {
        n = b->hnext;
        size_t j = bkey(b->arity, b->kind, b->h) & (nc - 1);
        b->hnext = nt[j];
        nt[j] = b;
      }
    free(s->bt);
    s->bt = nt;
    s->bt_cap = nc;
  }
  ts_bucket *b = s->spare_buckets;
  if (b) {
    s->spare_buckets = b->hnext;
    s->nspare_buckets--;
    *b = (ts_bucket){0};
  } else {
    b = px__xcalloc(1, sizeof *b);
  }
  b->arity = arity;
  b->kind = kind;
  b->h = h;
  size_t j = bkey(arity, kind, h) & (s->bt_cap - 1);
  b->hnext = s->bt[j];
  s->bt[j] = b;
  s->bt_n++;
  return s->hot = b;
}

ts_bucket *px__ts_bucket(px_space *s, size_t arity, uint64_t h0,
                         bool create) {
  return bucket_get(s, arity, TS_IX_F0, h0, create);
}

void px__ts_bucket_maybe_free(px_space *s, ts_bucket *b) {
  if (b->head || b->waiters.head) return;
  ts_bucket **pp = &s->bt[bkey(b->arity, b->kind, b->h) & (s->bt_cap - 1)];
  while (*pp != b) pp = &(*pp)->hnext;
  *pp = b->hnext;
  s->bt_n--;
  if (s->hot == b) s->hot = NULL;
  if (s->nspare_buckets < PX__TS_SPARE_MAX) {
    b->hnext = s->spare_buckets;
    s->spare_buckets = b;
    s->nspare_buckets++;
  } else {
    free(b);
  }
}

ts_arity *px__ts_arity(px_space *s, size_t n) {
  if (!s->ar[n]) s->ar[n] = px__xcalloc(1, sizeof(ts_arity));
  return s->ar[n];
}

/* The key of tuple t in index kind (field 1 exists for kinds F01, F1). */
static uint64_t key_of(const ts_tuple *t, int kind) {
  if (kind == TS_IX_F0) return t->h0;
  uint64_t h1 = px_val_hash(px__ts_at(t->v, 1));
  return kind == TS_IX_F01 ? h01(t->h0, h1) : h1;
}

/* Inserts t into bucket b of index kind, after the last older tuple. */
static void bucket_insert(ts_bucket *b, int kind, ts_tuple *t) {
  ts_link *l = &t->ix[kind];
  ts_tuple *after = b->tail;
  while (after && after->seq > t->seq) after = after->ix[kind].prev;
  l->b = b;
  l->prev = after;
  l->next = after ? after->ix[kind].next : b->head;
  if (l->next) l->next->ix[kind].prev = t; else b->tail = t;
  if (after) after->ix[kind].next = t; else b->head = t;
  b->n++;
}

static void bucket_remove(px_space *s, int kind, ts_tuple *t) {
  ts_link *l = &t->ix[kind];
  ts_bucket *b = l->b;
  if (!b) return;
  if (l->prev) l->prev->ix[kind].next = l->next; else b->head = l->next;
  if (l->next) l->next->ix[kind].prev = l->prev; else b->tail = l->prev;
  l->b = NULL;
  l->prev = l->next = NULL;
  b->n--;
  px__ts_bucket_maybe_free(s, b);
}

void px__ts_link(px_space *s, ts_tuple *t) {
  size_t n = px__ts_len(t->v);
  ts_arity *a = px__ts_arity(s, n);
  for (int k = 0; k < TS_IX_N; k++)
    if (k == TS_IX_F0 || a->on[k])
      bucket_insert(bucket_get(s, n, k, key_of(t, k), true), k, t);
  t->ar = a;
  ts_tuple *after = a->tail;
  while (after && after->seq > t->seq) after = after->aprev;
  t->aprev = after;
  t->anext = after ? after->anext : a->head;
  if (t->anext) t->anext->aprev = t; else a->tail = t;
  if (after) after->anext = t; else a->head = t;
  a->n++;
  s->count++;
}

void px__ts_unlink(px_space *s, ts_tuple *t) {
  ts_arity *a = t->ar;
  for (int k = 0; k < TS_IX_N; k++) bucket_remove(s, k, t);
  if (t->aprev) t->aprev->anext = t->anext; else a->head = t->anext;
  if (t->anext) t->anext->aprev = t->aprev; else a->tail = t->aprev;
  t->aprev = t->anext = NULL;
  t->ar = NULL;
  a->n--;
  s->count--;
}

/* Builds index kind for arity n from its list (which is in seq order, so
 * appending keeps every bucket in seq order too). */
static void index_build(px_space *s, size_t n, int kind) {
  ts_arity *a = s->ar[n];
  a->on[kind] = true;
  for (ts_tuple *t = a->head; t; t = t->anext)
    bucket_insert(bucket_get(s, n, kind, key_of(t, kind), true), kind, t);
}

static ts_tuple *bucket_head(px_space *s, size_t n, int kind, uint64_t h) {
  ts_bucket *b = bucket_get(s, n, kind, h, false);
  return b ? b->head : NULL;
}

ts_tuple *px__ts_first(px_space *s, px_val tmpl, int *kind) {
  size_t n = px__ts_len(tmpl);
  ts_arity *a = s->ar[n];
  if (!a || !a->head) {
    *kind = -1;
    return NULL;
  }
  px_val e0, e1;
  bool x0 = px__ts_field_exact(px__ts_at(tmpl, 0), &e0);
  bool x1 = n > 1 && px__ts_field_exact(px__ts_at(tmpl, 1), &e1);
  if (x0 && !x1) {
    *kind = TS_IX_F0;
    return bucket_head(s, n, TS_IX_F0, px_val_hash(e0));
  }
  if (x0) {
    uint64_t h0 = px_val_hash(e0);
    if (!a->on[TS_IX_F01]) {
      ts_bucket *b = bucket_get(s, n, TS_IX_F0, h0, false);
      if (!b || b->n <= INDEX_AFTER) {
        *kind = TS_IX_F0;
        return b ? b->head : NULL;
      }
      index_build(s, n, TS_IX_F01);
    }
    *kind = TS_IX_F01;
    return bucket_head(s, n, TS_IX_F01, h01(h0, px_val_hash(e1)));
  }
  if (x1) {
    if (!a->on[TS_IX_F1]) {
      if (a->n <= INDEX_AFTER) {
        *kind = -1;
        return a->head;
      }
      index_build(s, n, TS_IX_F1);
    }
    *kind = TS_IX_F1;
    return bucket_head(s, n, TS_IX_F1, px_val_hash(e1));
  }
  *kind = -1;
  return a->head;
}

void px__ts_index_free(px_space *s) {
  for (size_t i = 0; i < s->bt_cap; i++)
    for (ts_bucket *b = s->bt[i], *nx; b; b = nx) {
      nx = b->hnext;
      free(b);
    }
  free(s->bt);
  s->bt = NULL;
  s->hot = NULL;
  s->bt_cap = s->bt_n = 0;
  for (ts_bucket *b = s->spare_buckets, *nx; b; b = nx) {
    nx = b->hnext;
    free(b);
  }
  s->spare_buckets = NULL;
  s->nspare_buckets = 0;
  for (size_t n = 1; n <= PX_TUPLE_MAX_ARITY; n++) {
    free(s->ar[n]);
    s->ar[n] = NULL;
  }
}
