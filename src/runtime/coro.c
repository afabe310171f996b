/* Coroutine stacks and the sanitizer-aware switch. The switch itself is
 * per ISA (arch/); this file adds stack mapping with a guard page and the
 * fiber annotations AddressSanitizer and ThreadSanitizer need to follow a
 * thread that hops between stacks. */
#include "runtime/coro.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/mem.h"
#include "plexspaces/core.h"

#if defined(PX_SANITIZE_ADDRESS)
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom,
                                    size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save,
                                     const void **bottom_old,
                                     size_t *size_old);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#endif
#if defined(PX_SANITIZE_THREAD)
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif

size_t px__page_size(void) {
  /* relaxed: every thread computes the same value; any one will do. */
  static _Atomic(size_t) page;
  size_t p = atomic_load_explicit(&page, memory_order_relaxed);
  if (!p) {
    p = (size_t)sysconf(_SC_PAGESIZE);
    atomic_store_explicit(&page, p, memory_order_relaxed);
  }
  return p;
}

static void coro_arm(px__coro *co) {
  px__arch_make(&co->ctx, co->ctx.stack_lo, co->size, co->fn, co->arg);
}

px__coro *px__coro_new(size_t size, void (*fn)(void *), void *arg) {
  size_t page = px__page_size();
  size = (size + page - 1) & ~(page - 1);
  size_t map_size = size + page;
  void *map = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1,
                   0);
  if (map == MAP_FAILED) px__oom(map_size);
  /* The stack grows down: the lowest page is the guard. */
  if (mprotect(map, page, PROT_NONE) != 0) px_panic("mprotect guard page");
  px__coro *co = px__xcalloc(1, sizeof *co);
  co->map = map;
  co->map_size = map_size;
  co->size = size;
  co->fn = fn;
  co->arg = arg;
  co->ctx.stack_lo = (char *)map + page;
  co->ctx.stack_size = size;
#if defined(PX_SANITIZE_THREAD)
  co->ctx.tsan_fiber = __tsan_create_fiber(0);
#endif
  coro_arm(co);
  return co;
}

void px__coro_reset(px__coro *co) {
#if defined(PX_SANITIZE_ADDRESS)
  /* Fix: an abandoned stack (its actor died while parked, or exited from
   * a handler) still carries the redzones of its dead frames in ASan's
   * shadow, and px__arch_make's write of the first frame hit them
   * (stack-buffer-overflow). The frames are gone: clear the shadow. */
  __asan_unpoison_memory_region(co->ctx.stack_lo, co->size);
#endif
#if defined(PX_SANITIZE_THREAD)
  __tsan_destroy_fiber(co->ctx.tsan_fiber);
  co->ctx.tsan_fiber = __tsan_create_fiber(0);
#endif
  coro_arm(co);
}

void px__coro_free(px__coro *co) {
  if (!co) return;
#if defined(PX_SANITIZE_THREAD)
  __tsan_destroy_fiber(co->ctx.tsan_fiber);
#endif
  px__arch_release(&co->ctx);
  munmap(co->map, co->map_size);
  free(co);
}

bool px__coro_in_guard(const px__coro *co, const void *addr) {
  uintptr_t a = (uintptr_t)addr, lo = (uintptr_t)co->map;
  return a >= lo && a < lo + px__page_size();
}

void px__ctx_init_native(px__ctx *c) {
  c->sp = NULL;
  c->arch = NULL;
  c->stack_lo = NULL;
  c->stack_size = 0;
  /* The sanitizers need the native stack's bounds when a coroutine switches
   * back to it. */
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void *lo;
    size_t sz;
    if (pthread_attr_getstack(&attr, &lo, &sz) == 0) {
      c->stack_lo = lo;
      c->stack_size = sz;
    }
    pthread_attr_destroy(&attr);
  }
#if defined(PX_SANITIZE_THREAD)
  c->tsan_fiber = __tsan_get_current_fiber();
#else
  c->tsan_fiber = NULL;
#endif
}

void px__ctx_destroy_native(px__ctx *c) { px__arch_release(c); }

void px__ctx_jump(px__ctx *from, px__ctx *to, bool dying) {
#if defined(PX_SANITIZE_ADDRESS)
  void *fake = NULL;
  __sanitizer_start_switch_fiber(dying ? NULL : &fake, to->stack_lo,
                                 to->stack_size);
#endif
#if defined(PX_SANITIZE_THREAD)
  __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
  (void)dying;
  px__arch_switch(from, to);
#if defined(PX_SANITIZE_ADDRESS)
  const void *lo;
  size_t sz;
  __sanitizer_finish_switch_fiber(fake, &lo, &sz);
#endif
}

void px__ctx_entered(px__ctx *from) {
#if defined(PX_SANITIZE_ADDRESS)
  const void *lo;
  size_t sz;
  __sanitizer_finish_switch_fiber(NULL, &lo, &sz);
  if (from && !from->stack_lo) {
    from->stack_lo = (void *)lo;
    from->stack_size = sz;
  }
#else
  (void)from;
#endif
}
