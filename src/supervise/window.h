/* The restart intensity window (R-C-14, R-C-15): a standalone structure
 * with no runtime dependency, so the exact algorithm can be unit-tested
 * alone. Restarts are stored as runs of (second, count) because a burst
 * inside one second (a fast retry loop) would otherwise grow one entry per
 * restart. */
#ifndef PX_SUPERVISE_WINDOW_H
#define PX_SUPERVISE_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct px__sup_run {
  int64_t sec;
  uint64_t count;
} px__sup_run;

typedef struct px__sup_window {
  px__sup_run *runs; /* oldest first */
  size_t n, cap;
  uint64_t total;    /* sum of counts */
} px__sup_window;

/* Records one restart decision at `now_s` (monotonic whole seconds), drops
 * the entries older than now_s - period (an entry at exactly now_s - period
 * stays: the window is inclusive) and returns true when more than
 * `intensity` remain, i.e. when the supervisor must give up. */
bool px__sup_window_add(px__sup_window *w, int64_t now_s, int intensity,
                        int period);
void px__sup_window_free(px__sup_window *w);

#endif
