/* Context switch for x86-64 System V. Hand-written on purpose: no packaged
 * library offers a switch this small (ucontext saves the signal mask with a
 * system call on every switch). Saves the callee-saved registers on the
 * current stack, stores the stack pointer in *save_sp, loads load_sp and
 * restores the registers found there. The x87 control word and MXCSR are
 * not saved: handlers must not change floating-point modes.
 *
 *   void px__ctx_switch(void **save_sp, void *load_sp);
 *   void px__ctx_trampoline(void);   first "return" of a new context:
 *                                    calls r13(r12) and never returns. */
  .text
  .globl px__ctx_switch
  .hidden px__ctx_switch
  .type px__ctx_switch,@function
px__ctx_switch:
  .cfi_startproc
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .cfi_endproc
  .size px__ctx_switch, .-px__ctx_switch

  .globl px__ctx_trampoline
  .hidden px__ctx_trampoline
  .type px__ctx_trampoline,@function
px__ctx_trampoline:
  .cfi_startproc
  .cfi_undefined rip
  movq %r12, %rdi
  callq *%r13
  ud2
  .cfi_endproc
  .size px__ctx_trampoline, .-px__ctx_trampoline

  .section .note.GNU-stack,"",@progbits
