/* Stackful coroutines: a saved context plus an mmap'd stack with a guard
 * page. The scheduler keeps a pool of them per worker; an actor owns one only
 * while a handler of it is parked (in ask, receive or sleep). */
#ifndef PX_RUNTIME_CORO_H
#define PX_RUNTIME_CORO_H

#include <stdbool.h>
#include <stddef.h>

typedef struct px__ctx {
  void *sp;         /* saved stack pointer (assembly switch) */
  void *arch;       /* ucontext_t for the portable switch */
  void *stack_lo;   /* usable stack bounds, for sanitizers */
  size_t stack_size;
  void *tsan_fiber; /* ThreadSanitizer fiber handle */
} px__ctx;

typedef struct px__coro {
  px__ctx ctx;
  void *map;        /* mapping: guard page + stack */
  size_t map_size;
  size_t size;      /* usable bytes */
  struct px__coro *next; /* pool link */
  void (*fn)(void *);
  void *arg;
  struct px__coro *resumer; /* the loop coroutine that resumed it, if any */
} px__coro;

/* Per-ISA primitives (src/runtime/arch/). */
void px__arch_make(px__ctx *c, void *stack_lo, size_t size,
                   void (*fn)(void *), void *arg);
void px__arch_switch(px__ctx *from, px__ctx *to);
void px__arch_release(px__ctx *c);

/* Returns a new coroutine whose first switch-in calls fn(arg); fn must never
 * return. Stack sizes are rounded up to whole pages. */
px__coro *px__coro_new(size_t size, void (*fn)(void *), void *arg);
/* Re-arms a coroutine whose stack is abandoned (its actor died while
 * parked, or it overflowed): the next switch-in calls fn(arg) afresh. */
void px__coro_reset(px__coro *co);
void px__coro_free(px__coro *co);
/* True when addr lies in the coroutine's guard page. */
bool px__coro_in_guard(const px__coro *co, const void *addr);

/* Switches from the running context (saved into from) to `to`. Handles the
 * sanitizer fiber annotations. `dying` says `from` will never be resumed
 * as it is (it will be reset or freed). */
void px__ctx_jump(px__ctx *from, px__ctx *to, bool dying);
/* Must be the first call in a coroutine body: completes the switch for the
 * sanitizers and learns the bounds of the stack it came from. */
void px__ctx_entered(px__ctx *from);
/* Initialises the context of a thread's native stack. */
void px__ctx_init_native(px__ctx *c);
void px__ctx_destroy_native(px__ctx *c);

size_t px__page_size(void);

#endif
