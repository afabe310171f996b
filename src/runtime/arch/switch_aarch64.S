/* Context switch for AArch64 (AAPCS64). Hand-written on purpose, see
 * switch_x86_64.S. Saves x19-x30 and d8-d15 in a 160-byte frame on the
 * current stack, stores sp in *save_sp (x0), loads sp from x1 and restores.
 *
 *   void px__ctx_switch(void **save_sp, void *load_sp);
 *   void px__ctx_trampoline(void);   calls x20(x19) and never returns. */
  .text
  .globl px__ctx_switch
  .hidden px__ctx_switch
  .type px__ctx_switch,%function
px__ctx_switch:
  sub sp, sp, #160
  stp x19, x20, [sp, #0]
  stp x21, x22, [sp, #16]
  stp x23, x24, [sp, #32]
  stp x25, x26, [sp, #48]
  stp x27, x28, [sp, #64]
  stp x29, x30, [sp, #80]
  stp d8, d9, [sp, #96]
  stp d10, d11, [sp, #112]
  stp d12, d13, [sp, #128]
  stp d14, d15, [sp, #144]
  mov x2, sp
  str x2, [x0]
  mov sp, x1
  ldp x19, x20, [sp, #0]
  ldp x21, x22, [sp, #16]
  ldp x23, x24, [sp, #32]
  ldp x25, x26, [sp, #48]
  ldp x27, x28, [sp, #64]
  ldp x29, x30, [sp, #80]
  ldp d8, d9, [sp, #96]
  ldp d10, d11, [sp, #112]
  ldp d12, d13, [sp, #128]
  ldp d14, d15, [sp, #144]
  add sp, sp, #160
  ret
  .size px__ctx_switch, .-px__ctx_switch

  .globl px__ctx_trampoline
  .hidden px__ctx_trampoline
  .type px__ctx_trampoline,%function
px__ctx_trampoline:
  mov x0, x19
  blr x20
  brk #0
  .size px__ctx_trampoline, .-px__ctx_trampoline

  .section .note.GNU-stack,"",%progbits
