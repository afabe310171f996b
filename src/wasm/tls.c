/* wasmtime's thread-local, carried across a park (see tls.h).
 *
 * Not inline, and never: a function that parks in between may resume on
 * another thread, and a compiler that kept the variable's address from
 * before the park would then touch the old thread's copy. */
#include "wasm/tls.h"

#include "px_wasmtime_tls.h"

extern __thread uintptr_t px__wasmtime_tls __asm__(PX__WASMTIME_TLS_SYM);

__attribute__((noinline)) uintptr_t px__wasm_tls_leave(void) {
  uintptr_t t = px__wasmtime_tls;
  px__wasmtime_tls = t & 1;
  return t & ~(uintptr_t)1;
}

__attribute__((noinline)) void px__wasm_tls_enter(uintptr_t t) {
  px__wasmtime_tls = t | (px__wasmtime_tls & 1);
}
