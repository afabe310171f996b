#include "core/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plexspaces/core.h"

static px_oom_handler_fn oom_handler;

void px_set_oom_handler(px_oom_handler_fn fn) { oom_handler = fn; }

_Noreturn void px__oom(size_t n) {
  if (oom_handler) oom_handler(n);
  fprintf(stderr, "plexspaces: out of memory allocating %zu bytes\n", n);
  abort();
}

void *px__xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) px__oom(n);
  return p;
}

void *px__xcalloc(size_t count, size_t n) {
  void *p = calloc(count ? count : 1, n ? n : 1);
  if (!p) px__oom(count * n);
  return p;
}

void *px__xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) px__oom(n);
  return q;
}

char *px__xstrndup(const char *s, size_t n) {
  char *d = px__xmalloc(n + 1);
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}
