/* Linux futex calls on a 32-bit atomic word, private to the process: the
 * scheduler's parking, thread proxies' waits and the tuple-space lock
 * share these two wrappers. */
#ifndef PX_CORE_FUTEX_H
#define PX_CORE_FUTEX_H

#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Sleeps while *w == val, at most *ts (NULL: no limit). */
static inline void px__futex_wait(_Atomic(uint32_t) *w, uint32_t val,
                                  const struct timespec *ts) {
  syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, val, ts, NULL, 0);
}

/* Wakes up to n sleepers on w. */
static inline void px__futex_wake(_Atomic(uint32_t) *w, int n) {
  syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

#endif
