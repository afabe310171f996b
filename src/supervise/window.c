/* See window.h. */
#include "supervise/window.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

bool px__sup_window_add(px__sup_window *w, int64_t now_s, int intensity,
                        int period) {
  if (w->n && w->runs[w->n - 1].sec == now_s) {
    w->runs[w->n - 1].count++;
  } else {
    if (w->n == w->cap) {
      w->cap = w->cap ? w->cap * 2 : 4;
      w->runs = px__xrealloc(w->runs, w->cap * sizeof *w->runs);
    }
    w->runs[w->n++] = (px__sup_run){now_s, 1};
  }
  w->total++;
  /* Entries with sec >= now_s - period are kept (inclusive window). */
  size_t drop = 0;
  while (drop < w->n && w->runs[drop].sec < now_s - period) {
    w->total -= w->runs[drop].count;
    drop++;
  }
  if (drop) {
    memmove(w->runs, w->runs + drop, (w->n - drop) * sizeof *w->runs);
    w->n -= drop;
  }
  return w->total > (uint64_t)intensity;
}

void px__sup_window_free(px__sup_window *w) {
  free(w->runs);
  w->runs = NULL;
  w->n = w->cap = 0;
  w->total = 0;
}
