/* One instance per actor, and the calls into its guest.
 *
 * Every guest call is a plain synchronous wasmtime call made on the
 * actor's coroutine, so the guest's frames sit on that coroutine's stack
 * under the host's. A host call that may park (host.c) and the end of a
 * time slice (the epoch callback below) park that coroutine in the middle
 * of the guest, with wasmtime's thread-local carried along (tls.h); the
 * worker goes on with other actors. Time spent parked does not count
 * against max_run_ms; time in the guest (and in host calls) does. It is
 * counted in slices, not read from a clock (two clock reads per message
 * were a tenth of a WASM ask): after a park or a yield the deadline starts
 * afresh, so each epoch callback marks one slice of running. A kill while
 * parked abandons the coroutine, guest frames and all (as for any actor);
 * the store is deleted with the actor's state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plexspaces/actor.h"
#include "plexspaces/core.h"
#include "plexspaces/error.h"
#include "runtime/sched.h"
#include "wasm/tls.h"
#include "wasm/wasm_internal.h"

/* The memory's base and size are cached: the engine never moves a
 * memory (memory_may_move off) and a memory never shrinks, so only an
 * access past the cached size needs to ask wasmtime again. */
uint8_t *px__wasm_mem(px__wasm_inst *in, wasmtime_context_t *ctx,
                      uint32_t ptr, uint32_t len) {
  if ((uint64_t)ptr + len <= in->mem_size) return in->mem_base + ptr;
  in->mem_size = wasmtime_memory_data_size(ctx, &in->memory);
  in->mem_base = wasmtime_memory_data(ctx, &in->memory);
  if ((uint64_t)ptr + len > in->mem_size) return NULL;
  return in->mem_base + ptr;
}

/* ---- preemption ---------------------------------------------------------- */

/* The slice is over: trap past max_run_ms, else yield the worker to the
 * actors queued behind this one (outside a handler, a deploy check, the
 * yield returns at once). A kill noticed at the yield ends the call with
 * an error, and the actor dies once wasmtime has unwound the guest (call
 * below): dying right here would abandon wasmtime's frames, and with them
 * what they hold (the callback itself, which wasmtime takes out of the
 * store while it runs). */
static wasmtime_error_t *on_epoch(wasmtime_context_t *ctx, void *data,
                                  uint64_t *delta,
                                  wasmtime_update_deadline_kind_t *kind) {
  (void)ctx;
  px__wasm_inst *in = data;
  in->slices++;
  if ((uint64_t)in->slices * (uint64_t)px__wasm.o.time_slice_ms >
      (uint64_t)px__wasm.o.max_run_ms) {
    in->cpu_exceeded = true;
    return wasmtime_error_new("the message ran past max_run_ms");
  }
  uintptr_t t = px__wasm_tls_leave();
  bool doomed = px__yield_doomed(&in->doom);
  px__wasm_tls_enter(t);
  if (doomed) {
    in->doomed = true;
    return wasmtime_error_new("killed");
  }
  /* the deadline counts from now, after the yield */
  *delta = px__wasm.slice_ticks;
  *kind = WASMTIME_UPDATE_DEADLINE_CONTINUE;
  return NULL;
}

/* ---- crash reasons ------------------------------------------------------- */

static const char *trap_code_name(wasmtime_trap_code_t c) {
  switch (c) {
    case WASMTIME_TRAP_CODE_STACK_OVERFLOW: return "stack_overflow";
    case WASMTIME_TRAP_CODE_MEMORY_OUT_OF_BOUNDS:
      return "memory_out_of_bounds";
    case WASMTIME_TRAP_CODE_HEAP_MISALIGNED: return "heap_misaligned";
    case WASMTIME_TRAP_CODE_TABLE_OUT_OF_BOUNDS: return "table_out_of_bounds";
    case WASMTIME_TRAP_CODE_INDIRECT_CALL_TO_NULL:
      return "indirect_call_to_null";
    case WASMTIME_TRAP_CODE_BAD_SIGNATURE: return "bad_signature";
    case WASMTIME_TRAP_CODE_INTEGER_OVERFLOW: return "integer_overflow";
    case WASMTIME_TRAP_CODE_INTEGER_DIVISION_BY_ZERO:
      return "integer_divide_by_zero";
    case WASMTIME_TRAP_CODE_BAD_CONVERSION_TO_INTEGER:
      return "bad_conversion_to_integer";
    case WASMTIME_TRAP_CODE_UNREACHABLE_CODE_REACHED: return "unreachable";
    case WASMTIME_TRAP_CODE_INTERRUPT: return "interrupt";
    case WASMTIME_TRAP_CODE_OUT_OF_FUEL: return "out_of_fuel";
    default: return "other";
  }
}

static px_val tagged(const char *tag, px_val what) {
  return px_arr(2, px_atomv(px_atom_of(tag)), what);
}

/* The reason the actor dies of; logs what wasmtime said (the guest's
 * backtrace included), since the reason itself is kept short. */
static px_val crash_reason(px__wasm_inst *in) {
  char id[64];
  px_ref_format(in->self, id, sizeof id);
  const char *type = in->type && in->type->actor_type[0]
                         ? in->type->actor_type : "(deploy check)";
  int status;
  if (in->error && wasmtime_error_exit_status(in->error, &status)) {
    px_log(PX_LOG_WARN, "wasm", "%s %s called proc_exit(%d)", type, id,
           status);
    return tagged("wasm_exit", px_int(status));
  }
  const char *name = "other";
  char *s;
  wasmtime_trap_code_t code;
  if (in->error) {
    s = px__wasm_error_message(in->error);
    if (in->cpu_exceeded) name = "cpu_limit";
  } else {
    if (wasmtime_trap_code(in->trap, &code)) name = trap_code_name(code);
    s = px__wasm_trap_text(in->trap);
  }
  px_log(PX_LOG_WARN, "wasm", "%s %s crashed (%s): %s", type, id, name,
         s ? s : "?");
  free(s);
  return tagged("wasm_trap", px_atomv(px_atom_of(name)));
}

static void call_begin(px__wasm_inst *in) {
  in->trap = NULL;
  in->error = NULL;
  in->slices = 0;
  in->cpu_exceeded = false;
  wasmtime_context_set_epoch_deadline(in->ctx, px__wasm.slice_ticks);
  if (px__wasm.o.fuel) wasmtime_context_set_fuel(in->ctx, px__wasm.o.fuel);
}

/* The end of a call whose outcome is in in->trap / in->error: 0, or
 * PX_EFAILED with the crash reason. */
static int call_end(px__wasm_inst *in, px_val *reason) {
  if (!in->trap && !in->error) return 0;
  *reason = crash_reason(in);
  if (in->error) wasmtime_error_delete(in->error);
  if (in->trap) wasm_trap_delete(in->trap);
  in->error = NULL;
  in->trap = NULL;
  return PX_EFAILED;
}

/* Runs the export f with nargs i32 arguments to completion on the calling
 * coroutine; its one result (if any) lands in in->ret, widened to 64
 * bits. 0, or PX_EFAILED with the crash reason ({wasm_trap, CODE} or
 * {wasm_exit, CODE}). */
static int call(px__wasm_inst *in, const wasmtime_func_t *f,
                const int32_t *args, int nargs, bool i64_result,
                px_val *reason) {
  wasmtime_val_raw_t v[PX__WASM_MAX_ARGS];
  for (int i = 0; i < nargs; i++) v[i].i32 = args[i];
  if (nargs == 0) v[0].i64 = 0;
  call_begin(in);
  in->error = wasmtime_func_call_unchecked(
      in->ctx, f, v, nargs > 0 ? (size_t)nargs : 1, &in->trap);
  in->ret = i64_result ? v[0].i64 : (int64_t)v[0].i32;
  if (in->doomed) {
    /* killed at a yield (on_epoch), now that the guest is unwound */
    px_val doom = in->doom;
    in->doom = px_nil();
    in->doomed = false;
    if (in->error) wasmtime_error_delete(in->error);
    if (in->trap) wasm_trap_delete(in->trap);
    in->error = NULL;
    in->trap = NULL;
    px__die_doomed(doom);
    *reason = px_atomv(px_atom_of("killed"));
    return PX_EFAILED; /* not reached in a handler */
  }
  return call_end(in, reason);
}

static bool export_func(px__wasm_inst *in, const char *name,
                        wasmtime_func_t *out) {
  wasmtime_extern_t e;
  if (!wasmtime_instance_export_get(in->ctx, &in->instance, name,
                                    strlen(name), &e))
    return false;
  if (e.kind != WASMTIME_EXTERN_FUNC) {
    wasmtime_extern_delete(&e);
    return false;
  }
  *out = e.of.func;
  return true;
}

/* The exports px__wasm_run calls, by PX__FN_* (checked at deploy). */
static const char *const fn_names[PX__FN_END] = {
    [PX__FN_ALLOC] = "px_alloc",         [PX__FN_FREE] = "px_free",
    [PX__FN_INIT] = "px_init",           [PX__FN_HANDLE] = "px_handle",
    [PX__FN_GET_STATE] = "px_get_state", [PX__FN_SET_STATE] = "px_set_state",
};

int px__wasm_run(px__wasm_inst *in, int fn, const int32_t *args, int nargs,
                 px_val *reason) {
  if (fn < 0 || fn >= PX__FN_END || !in->has_fn[fn]) return PX_EINVAL;
  return call(in, &in->fn[fn], args, nargs, fn == PX__FN_GET_STATE, reason);
}

/* ---- inputs -------------------------------------------------------------- */

int px__wasm_reserve(px__wasm_inst *in, size_t total, uint8_t **host,
                     uint32_t *guest, px_val *reason) {
  if (total > INT32_MAX / 2) return PX_ERANGE;
  if (total > in->scratch_cap) {
    uint32_t cap = in->scratch_cap ? in->scratch_cap : 4096;
    while (cap < total) cap *= 2;
    if (in->scratch) {
      int32_t fa[2] = {(int32_t)in->scratch, (int32_t)in->scratch_cap};
      int rc = px__wasm_run(in, PX__FN_FREE, fa, 2, reason);
      in->scratch = in->scratch_cap = 0;
      if (rc) return rc;
    }
    int32_t a = (int32_t)cap;
    int rc = px__wasm_run(in, PX__FN_ALLOC, &a, 1, reason);
    if (rc) return rc;
    int32_t p = (int32_t)in->ret;
    if (!p) {
      *reason = tagged("wasm_trap", px_atomv(px_atom_of("out_of_memory")));
      return PX_EFAILED;
    }
    in->scratch = (uint32_t)p;
    in->scratch_cap = cap;
  }
  *host = px__wasm_mem(in, in->ctx, in->scratch, (uint32_t)total);
  if (!*host) {
    *reason = tagged("wasm_trap", px_atomv(px_atom_of("bad_alloc")));
    return PX_EFAILED;
  }
  *guest = in->scratch;
  return 0;
}

int px__wasm_put(px__wasm_inst *in, const void *const *parts,
                 const size_t *lens, size_t n, uint32_t *ptrs,
                 px_val *reason) {
  size_t total = 0;
  for (size_t i = 0; i < n; i++) total += lens[i];
  uint8_t *base;
  uint32_t at;
  int rc = px__wasm_reserve(in, total, &base, &at, reason);
  if (rc) return rc;
  for (size_t i = 0; i < n; i++) {
    if (lens[i]) memcpy(base, parts[i], lens[i]);
    ptrs[i] = at;
    base += lens[i];
    at += (uint32_t)lens[i];
  }
  return 0;
}

/* ---- life ---------------------------------------------------------------- */


static px_val init_map(px__wasm_inst *in, px_val args) {
  char id[64];
  px_ref_format(in->self, id, sizeof id);
  return px_map(4, px_str("role"), px_str(in->type->role),
                px_str("actor_type"), px_str(in->type->actor_type),
                px_str("id"), px_str(id), px_str("args"),
                px_is_nil(args) ? px_map_new(0) : px_val_retain(args));
}

static int start(px__wasm_inst *in, px_val args, px_val *reason);

int px__wasm_inst_new(const px__wasm_type *t, px_val args,
                      px__wasm_inst **out, px_val *reason) {
  *reason = px_nil();
  *out = NULL;
  px__wasm_inst *in = calloc(1, sizeof *in);
  if (!in) return PX_ENOMEM;
  in->type = t;
  in->reply = px_nil();
  in->doom = px_nil();
  in->self = px_in_actor() ? px_self() : px_ref_nil();
  snprintf(in->tenant, sizeof in->tenant, "%s",
           px_self_tenant() ? px_self_tenant() : "default");
  snprintf(in->ns, sizeof in->ns, "%s",
           px_self_namespace() ? px_self_namespace() : "default");
  in->store = wasmtime_store_new(px__wasm.engine, in, NULL);
  if (!in->store) {
    free(in);
    return PX_ENOMEM;
  }
  px__wasm_instances_changed(+1);
  int rc = start(in, args, reason);
  if (rc) {
    px__wasm_inst_free(in);
    return rc;
  }
  *out = in;
  return 0;
}

/* Instantiates, then _initialize, then px_init (or, for the deploy check,
 * px_abi_version). */
static int start(px__wasm_inst *in, px_val args, px_val *reason) {
  const px__wasm_type *t = in->type;
  in->ctx = wasmtime_store_context(in->store);
  wasmtime_store_limiter(in->store, (int64_t)px__wasm.o.max_memory_bytes,
                         -1, -1, -1, -1);
  wasmtime_store_epoch_deadline_callback(in->store, on_epoch, in, NULL);
  wasi_config_t *wc = wasi_config_new();
  /* stdout and stderr: our fd_write (host.c); nothing else is given. */
  in->out.name = "stdout";
  in->err.name = "stderr";
  wasmtime_error_t *e = wasmtime_context_set_wasi(in->ctx, wc);
  if (e) {
    char *s = px__wasm_error_text(e);
    *reason = px_str(s ? s : "cannot set up WASI");
    free(s);
    return PX_EFAILED;
  }
  call_begin(in);
  in->error = wasmtime_instance_pre_instantiate(t->mod->pre, in->ctx,
                                                &in->instance, &in->trap);
  int rc = call_end(in, reason);
  if (rc) return rc;
  for (int i = 0; i < PX__FN_END; i++)
    in->has_fn[i] = export_func(in, fn_names[i], &in->fn[i]);
  wasmtime_extern_t mem;
  if (!wasmtime_instance_export_get(in->ctx, &in->instance, "memory", 6,
                                    &mem) ||
      mem.kind != WASMTIME_EXTERN_MEMORY) {
    *reason = px_str("the module does not export its memory");
    return PX_EFAILED;
  }
  in->memory = mem.of.memory;
  /* The other exports were checked at deploy; the loop finds them. */
  wasmtime_func_t fi, fv;
  if (t->mod->has_initialize && export_func(in, "_initialize", &fi) &&
      (rc = call(in, &fi, NULL, 0, false, reason)))
    return rc;
  if (!t->actor_type[0]) {
    /* the deploy check: only the ABI version */
    if (!export_func(in, "px_abi_version", &fv)) {
      *reason = px_str("the module does not export px_abi_version");
      return PX_EINVAL;
    }
    if ((rc = call(in, &fv, NULL, 0, false, reason))) return rc;
    int32_t v = (int32_t)in->ret;
    if (v != PX__WASM_ABI_VERSION) {
      char m[160];
      snprintf(m, sizeof m, "the module was built for plexspaces WASM ABI "
               "%d, this node speaks ABI %d", v, PX__WASM_ABI_VERSION);
      *reason = px_str(m);
      return PX_EINVAL;
    }
    return 0;
  }
  char *enc;
  size_t len;
  px_val im = init_map(in, args);
  rc = px_msgpack_encode(im, &enc, &len);
  px_val_release(im);
  if (rc) return rc;
  const void *parts[1] = {enc};
  uint32_t ptr;
  rc = px__wasm_put(in, parts, &len, 1, &ptr, reason);
  free(enc);
  if (rc) return rc;
  int32_t a[2] = {(int32_t)ptr, (int32_t)len};
  if ((rc = px__wasm_run(in, PX__FN_INIT, a, 2, reason))) return rc;
  int32_t st = (int32_t)in->ret;
  if (st != 0) {
    *reason = tagged("wasm_init_failed", px_int(st));
    return PX_EFAILED;
  }
  in->started = true;
  return 0;
}

void px__wasm_inst_free(px__wasm_inst *in) {
  if (!in) return;
  if (in->trap) wasm_trap_delete(in->trap);
  if (in->error) wasmtime_error_delete(in->error);
  px_val_release(in->reply);
  px_val_release(in->doom);
  free(in->result);
  px_kv_close(in->kv);
  if (in->space) px_space_close(in->space);
  wasmtime_store_delete(in->store);
  px__wasm_instances_changed(-1);
  free(in);
}
