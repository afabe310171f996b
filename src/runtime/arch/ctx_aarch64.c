/* Prepares a new AArch64 context for px__ctx_switch (switch_aarch64.S). */
#include <stdint.h>

#include "runtime/coro.h"

void px__ctx_trampoline(void);
void px__ctx_switch(void **save_sp, void *load_sp);

void px__arch_make(px__ctx *c, void *stack_lo, size_t size,
                   void (*fn)(void *), void *arg) {
  uintptr_t top = ((uintptr_t)stack_lo + size) & ~(uintptr_t)15;
  void **sp = (void **)(top - 160);
  for (int i = 0; i < 20; i++) sp[i] = 0;
  sp[0] = arg;                         /* x19 */
  sp[1] = (void *)fn;                  /* x20 */
  sp[11] = (void *)px__ctx_trampoline; /* x30: where ret goes */
  c->sp = sp;
}

void px__arch_switch(px__ctx *from, px__ctx *to) {
  px__ctx_switch(&from->sp, to->sp);
}

void px__arch_release(px__ctx *c) { (void)c; }
