/* Portable context switch on ucontext, used on other ISAs and under
 * ThreadSanitizer (which understands swapcontext-based fibers through its
 * fiber annotations). Slower than the assembly versions: swapcontext saves
 * and restores the signal mask with a system call. */
#include <stdint.h>
#include <stdlib.h>
#include <ucontext.h>

#include "core/mem.h"
#include "runtime/coro.h"

typedef struct uc_start {
  void (*fn)(void *);
  void *arg;
} uc_start;

static void uc_entry(unsigned hi, unsigned lo) {
  uc_start *s = (uc_start *)(((uintptr_t)hi << 32) | (uintptr_t)lo);
  s->fn(s->arg);
  abort();
}

static ucontext_t *uc_of(px__ctx *c) {
  if (!c->arch) c->arch = px__xcalloc(1, sizeof(ucontext_t) + sizeof(uc_start));
  return c->arch;
}

void px__arch_make(px__ctx *c, void *stack_lo, size_t size,
                   void (*fn)(void *), void *arg) {
  ucontext_t *uc = uc_of(c);
  uc_start *s = (uc_start *)(uc + 1);
  s->fn = fn;
  s->arg = arg;
  getcontext(uc);
  uc->uc_stack.ss_sp = stack_lo;
  uc->uc_stack.ss_size = size;
  uc->uc_link = NULL;
  uintptr_t p = (uintptr_t)s;
  makecontext(uc, (void (*)(void))uc_entry, 2, (unsigned)(p >> 32),
              (unsigned)(p & 0xffffffffu));
}

void px__arch_switch(px__ctx *from, px__ctx *to) {
  swapcontext(uc_of(from), uc_of(to));
}

void px__arch_release(px__ctx *c) {
  free(c->arch);
  c->arch = NULL;
}
