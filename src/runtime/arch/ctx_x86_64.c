/* Prepares a new x86-64 context for px__ctx_switch (see switch_x86_64.S). */
#include <stdint.h>

#include "runtime/coro.h"

void px__ctx_trampoline(void);
void px__ctx_switch(void **save_sp, void *load_sp);

void px__arch_make(px__ctx *c, void *stack_lo, size_t size,
                   void (*fn)(void *), void *arg) {
  /* The top of the stack is 16-byte aligned. px__ctx_switch pops r15, r14,
   * r13, r12, rbx, rbp and returns into the trampoline, leaving rsp at the
   * aligned top so that the trampoline's call enters fn with the ABI's
   * alignment (rsp + 8 a multiple of 16). */
  uintptr_t top = ((uintptr_t)stack_lo + size) & ~(uintptr_t)15;
  void **sp = (void **)(top - 56);
  sp[0] = 0;                          /* r15 */
  sp[1] = 0;                          /* r14 */
  sp[2] = (void *)fn;                 /* r13 */
  sp[3] = arg;                        /* r12 */
  sp[4] = 0;                          /* rbx */
  sp[5] = 0;                          /* rbp: ends frame-pointer walks */
  sp[6] = (void *)px__ctx_trampoline; /* return address */
  c->sp = sp;
}

void px__arch_switch(px__ctx *from, px__ctx *to) {
  px__ctx_switch(&from->sp, to->sp);
}

void px__arch_release(px__ctx *c) { (void)c; }
