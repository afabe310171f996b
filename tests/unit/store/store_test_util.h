/* Helpers of the px_store tests: temporary data directories, counting
 * scans, whole-file reads. */
#ifndef PX_TEST_STORE_UTIL_H
#define PX_TEST_STORE_UTIL_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plexspaces/px.h"
#include "support/tmpdir.h"
#include "plexspaces/store.h"

/* Reads a whole file into a malloc'd buffer. */
static inline char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  cr_assert(f, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return b;
}

typedef struct collected {
  size_t n, cap;
  uint64_t *ids;
  px_val *vals;
  int64_t *exp;
} collected;

static int collect_cb(void *ud, uint64_t id, px_val v, int64_t exp) {
  collected *c = ud;
  if (c->n == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 16;
    c->ids = realloc(c->ids, c->cap * sizeof *c->ids);
    c->vals = realloc(c->vals, c->cap * sizeof *c->vals);
    c->exp = realloc(c->exp, c->cap * sizeof *c->exp);
  }
  c->ids[c->n] = id;
  c->vals[c->n] = v;
  c->exp[c->n] = exp;
  c->n++;
  return 0;
}

static inline void collected_free(collected *c) {
  for (size_t i = 0; i < c->n; i++) px_val_release(c->vals[i]);
  free(c->ids);
  free(c->vals);
  free(c->exp);
  memset(c, 0, sizeof *c);
}

static inline collected scan_all(px_store *s, const char *space) {
  collected c = {0};
  cr_assert_eq(px_store_scan_tuples(s, space, collect_cb, &c), 0);
  return c;
}

static inline px_store_op put_op(const char *space, uint64_t id, px_val v,
                                 int64_t exp) {
  px_store_op o = {.kind = PX_STORE_TUPLE_PUT, .space = space, .id = id,
                   .value = v, .expiry_ms = exp};
  return o;
}
static inline px_store_op del_op(const char *space, uint64_t id) {
  px_store_op o = {.kind = PX_STORE_TUPLE_DEL, .space = space, .id = id};
  return o;
}
static inline px_store_op exp_op(const char *space, uint64_t id,
                                 int64_t exp) {
  px_store_op o = {.kind = PX_STORE_TUPLE_EXPIRY, .space = space, .id = id,
                   .expiry_ms = exp};
  return o;
}

#endif
