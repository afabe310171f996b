/* wasmtime's thread-local, carried across a park (see tls.h).
 *
 * Not inline, and never: a function that parks in between may resume on
 * another thread, and a compiler that kept the variable's address from
 * before the park would then touch the old thread's copy. */
#include "wasm/tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plexspaces/error.h"
#include "px_wasmtime_tls.h"
#include "wasm/wasm_internal.h"

extern __thread uintptr_t px__wasmtime_tls __asm__(PX__WASMTIME_TLS_SYM);

__attribute__((noinline)) uintptr_t px__wasm_tls_leave(void) {
  uintptr_t t = px__wasmtime_tls;
  px__wasmtime_tls = t & 1;
  return t & ~(uintptr_t)1;
}

__attribute__((noinline)) void px__wasm_tls_enter(uintptr_t t) {
  px__wasmtime_tls = t | (px__wasmtime_tls & 1);
}

/* ---- the check ----------------------------------------------------------- */

/* What the probe import saw: the variable inside a guest call, and after
 * taking it off the thread. */
typedef struct probe_seen {
  uintptr_t inside, left;
} probe_seen;

static wasm_trap_t *probe(void *env, wasmtime_caller_t *caller,
                          wasmtime_val_raw_t *raw, size_t n) {
  (void)caller, (void)raw, (void)n;
  probe_seen *s = env;
  s->inside = px__wasmtime_tls;
  uintptr_t t = px__wasm_tls_leave();
  s->left = px__wasmtime_tls;
  px__wasm_tls_enter(t);
  return NULL;
}

int px__wasm_tls_check(char *err, size_t errcap) {
  static const char wat[] =
      "(module (import \"p\" \"f\" (func $f)) (func (export \"g\") call $f))";
  wasm_byte_vec_t bin;
  wasmtime_error_t *e = wasmtime_wat2wasm(wat, sizeof wat - 1, &bin);
  wasmtime_module_t *m = NULL;
  if (!e) {
    e = wasmtime_module_new(px__wasm.engine, (const uint8_t *)bin.data,
                            bin.size, &m);
    wasm_byte_vec_delete(&bin);
  }
  if (e) {
    char *s = px__wasm_error_text(e);
    snprintf(err, errcap, "cannot compile the thread-local check: %s",
             s ? s : "?");
    free(s);
    return PX_EFAILED;
  }
  wasmtime_store_t *st = wasmtime_store_new(px__wasm.engine, NULL, NULL);
  wasmtime_context_t *cx = wasmtime_store_context(st);
  /* the engine interrupts at epoch deadlines, and maybe meters fuel; a
   * new store has neither deadline nor fuel */
  wasmtime_context_set_epoch_deadline(cx, UINT64_MAX / 2);
  if (px__wasm.o.fuel) wasmtime_context_set_fuel(cx, 1000);
  wasm_functype_t *ft = wasm_functype_new_0_0();
  probe_seen seen = {0, 0};
  wasmtime_func_t f;
  wasmtime_func_new_unchecked(cx, ft, probe, &seen, NULL, &f);
  wasm_functype_delete(ft);
  wasmtime_extern_t imp = {.kind = WASMTIME_EXTERN_FUNC, .of.func = f};
  wasmtime_instance_t inst;
  wasm_trap_t *trap = NULL;
  uintptr_t before = px__wasmtime_tls & ~(uintptr_t)1, after = 1;
  e = wasmtime_instance_new(cx, m, &imp, 1, &inst, &trap);
  wasmtime_extern_t g;
  if (!e && !trap &&
      wasmtime_instance_export_get(cx, &inst, "g", 1, &g)) {
    wasmtime_val_raw_t none = {0};
    e = wasmtime_func_call_unchecked(cx, &g.of.func, &none, 1, &trap);
    after = px__wasmtime_tls & ~(uintptr_t)1;
  }
  bool ok = !e && !trap && before == 0 && after == 0 &&
            (seen.inside & ~(uintptr_t)1) != 0 &&
            (seen.left & ~(uintptr_t)1) == 0;
  if (e) wasmtime_error_delete(e);
  if (trap) wasm_trap_delete(trap);
  wasmtime_store_delete(st);
  wasmtime_module_delete(m);
  if (ok) return 0;
  snprintf(err, errcap, "this wasmtime build keeps its thread-local state "
           "in a way src/wasm/tls.c does not know: guests cannot park");
  return PX_EFAILED;
}
