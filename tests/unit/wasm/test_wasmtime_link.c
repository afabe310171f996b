/* Proves that the wasmtime C API built by scripts/build-wasmtime.sh links
 * into our build and does what the WASM host (src/wasm) will rely on:
 * compiling WAT, calling an export, preempting a runaway guest with an
 * epoch deadline ticked from another thread, the pooling allocator being
 * in force, a serialize/deserialize round trip (the compiled-module cache)
 * and clean errors for bad input. Nothing here uses libplexspaces. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wasmtime.h>

#if !defined(WASMTIME_FEATURE_COMPILER) || !defined(WASMTIME_FEATURE_WAT) || \
    !defined(WASMTIME_FEATURE_POOLING_ALLOCATOR)
#error "libwasmtime was built without cranelift, wat or pooling-allocator: \
check the features in third_party/wasmtime-capi/Cargo.toml"
#endif

/* Few pool slots, so that exhausting them is cheap and shows that the pool
 * (not on-demand allocation) is in force; small reservations, so that the
 * sanitizer builds do not map terabytes of address space. */
#define POOL_INSTANCES 2
#define MEM_RESERVATION (16u << 20)

static const char module_wat[] =
    "(module\n"
    "  (memory (export \"memory\") 1)\n"
    "  (func (export \"add\") (param i32 i32) (result i32)\n"
    "    local.get 0 local.get 1 i32.add)\n"
    "  (func (export \"spin\") (loop $forever br $forever)))\n";

/* The error's message as a NUL-terminated copy (caller frees); takes
 * ownership of err. */
static char *error_text(wasmtime_error_t *err) {
  wasm_name_t msg;
  wasmtime_error_message(err, &msg);
  char *s = malloc(msg.size + 1);
  cr_assert_not_null(s);
  memcpy(s, msg.data, msg.size);
  s[msg.size] = '\0';
  wasm_byte_vec_delete(&msg);
  wasmtime_error_delete(err);
  return s;
}

static void check_ok(wasmtime_error_t *err, const char *what) {
  if (err) {
    char *s = error_text(err);
    cr_assert_fail("%s: %s", what, s);
  }
}

/* The engine configuration the host is meant to use. epoch: whether epoch
 * interruption is compiled into the code (it is part of what a serialized
 * module must match). */
static wasm_engine_t *engine_new(bool epoch) {
  wasm_config_t *cfg = wasm_config_new();
  cr_assert_not_null(cfg);
  wasmtime_config_epoch_interruption_set(cfg, epoch);
#ifdef PX_SANITIZE_THREAD
  /* ThreadSanitizer cannot see the synchronisation inside the
   * uninstrumented Rust library, so rayon's compile threads handing
   * buffers to each other look like races. Compiling on the calling
   * thread leaves only our own threads. */
  wasmtime_config_parallel_compilation_set(cfg, false);
#endif
  wasmtime_config_memory_reservation_set(cfg, MEM_RESERVATION);
  wasmtime_pooling_allocation_config_t *pool =
      wasmtime_pooling_allocation_config_new();
  wasmtime_pooling_allocation_config_total_core_instances_set(
      pool, POOL_INSTANCES);
  wasmtime_pooling_allocation_config_total_memories_set(pool, POOL_INSTANCES);
  wasmtime_pooling_allocation_config_total_tables_set(pool, POOL_INSTANCES);
  wasmtime_pooling_allocation_config_max_memory_size_set(pool,
                                                         MEM_RESERVATION);
  /* The config copies the pool settings, so they are ours to free. */
  wasmtime_pooling_allocation_strategy_set(cfg, pool);
  wasmtime_pooling_allocation_config_delete(pool);
  wasm_engine_t *engine = wasm_engine_new_with_config(cfg); /* owns cfg */
  cr_assert_not_null(engine, "engine rejected the pooling configuration");
  return engine;
}

static wasmtime_module_t *compile(wasm_engine_t *engine) {
  wasm_byte_vec_t wasm;
  check_ok(wasmtime_wat2wasm(module_wat, sizeof module_wat - 1, &wasm),
           "wat2wasm");
  wasmtime_module_t *mod = NULL;
  check_ok(wasmtime_module_new(engine, (const uint8_t *)wasm.data, wasm.size,
                               &mod),
           "compile");
  wasm_byte_vec_delete(&wasm);
  return mod;
}

static void instantiate(wasmtime_context_t *cx, const wasmtime_module_t *mod,
                        wasmtime_instance_t *inst) {
  wasm_trap_t *trap = NULL;
  check_ok(wasmtime_instance_new(cx, mod, NULL, 0, inst, &trap),
           "instantiate");
  cr_assert_null(trap, "start-up trapped");
}

static wasmtime_func_t export_func(wasmtime_context_t *cx,
                                   const wasmtime_instance_t *inst,
                                   const char *name) {
  wasmtime_extern_t ext;
  cr_assert(wasmtime_instance_export_get(cx, inst, name, strlen(name), &ext),
            "no export %s", name);
  cr_assert_eq(ext.kind, WASMTIME_EXTERN_FUNC);
  return ext.of.func;
}

static int32_t call_add(wasmtime_context_t *cx,
                        const wasmtime_instance_t *inst, int32_t a,
                        int32_t b) {
  wasmtime_func_t add = export_func(cx, inst, "add");
  wasmtime_val_t args[2] = {{.kind = WASMTIME_I32, .of.i32 = a},
                            {.kind = WASMTIME_I32, .of.i32 = b}};
  wasmtime_val_t res[1];
  wasm_trap_t *trap = NULL;
  check_ok(wasmtime_func_call(cx, &add, args, 2, res, 1, &trap), "add");
  cr_assert_null(trap, "add trapped");
  cr_assert_eq(res[0].kind, WASMTIME_I32);
  return res[0].of.i32;
}

Test(wasmtime, add_is_called_and_returns_the_sum) {
  wasm_engine_t *engine = engine_new(true);
  wasmtime_module_t *mod = compile(engine);
  wasmtime_store_t *store = wasmtime_store_new(engine, NULL, NULL);
  wasmtime_context_t *cx = wasmtime_store_context(store);
  /* With epoch interruption on, a fresh store's deadline is the current
   * epoch: the first check would trap. Give it room, as the host will
   * before every call. */
  wasmtime_context_set_epoch_deadline(cx, 1);
  wasmtime_instance_t inst;
  instantiate(cx, mod, &inst);

  cr_assert_eq(call_add(cx, &inst, 40, 2), 42);
  /* i32.add wraps; it must not reach C as undefined overflow. */
  cr_assert_eq(call_add(cx, &inst, INT32_MAX, 1), INT32_MIN);

  wasmtime_store_delete(store);
  wasmtime_module_delete(mod);
  wasm_engine_delete(engine);
}

struct ticker {
  wasm_engine_t *engine;
  atomic_bool stop;
};

/* Ticks the epoch until told to stop, as the node's timer thread will.
 * Ticking repeatedly (not once) makes the test independent of whether the
 * guest is already inside its loop when the first tick lands. */
static void *tick(void *arg) {
  struct ticker *t = arg;
  const struct timespec ms5 = {0, 5 * 1000 * 1000};
  /* relaxed: the flag carries no data, it only ends the loop. */
  while (!atomic_load_explicit(&t->stop, memory_order_relaxed)) {
    nanosleep(&ms5, NULL);
    wasmtime_engine_increment_epoch(t->engine);
  }
  return NULL;
}

Test(wasmtime, epoch_tick_from_another_thread_interrupts_a_loop,
     .timeout = 30) {
  wasm_engine_t *engine = engine_new(true);
  wasmtime_module_t *mod = compile(engine);
  wasmtime_store_t *store = wasmtime_store_new(engine, NULL, NULL);
  wasmtime_context_t *cx = wasmtime_store_context(store);
  wasmtime_context_set_epoch_deadline(cx, 1);
  wasmtime_instance_t inst;
  instantiate(cx, mod, &inst);
  wasmtime_func_t spin = export_func(cx, &inst, "spin");

  struct ticker t = {.engine = engine};
  atomic_init(&t.stop, false);
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, tick, &t), 0);
  wasmtime_context_set_epoch_deadline(cx, 2);
  wasm_trap_t *trap = NULL;
  wasmtime_error_t *err = wasmtime_func_call(cx, &spin, NULL, 0, NULL, 0,
                                             &trap);
  atomic_store_explicit(&t.stop, true, memory_order_relaxed);
  cr_assert_eq(pthread_join(th, NULL), 0);

  cr_assert_null(err, "an interrupt is a trap, not an error");
  cr_assert_not_null(trap, "the loop returned without a trap");
  wasmtime_trap_code_t code;
  cr_assert(wasmtime_trap_code(trap, &code), "trap has no code");
  cr_assert_eq(code, WASMTIME_TRAP_CODE_INTERRUPT);
  wasm_trap_delete(trap);

  /* The store stays usable after an interrupt: the host keeps the actor
   * (or restarts it) rather than losing the whole store. */
  wasmtime_context_set_epoch_deadline(cx, 1);
  cr_assert_eq(call_add(cx, &inst, 1, 2), 3);

  wasmtime_store_delete(store);
  wasmtime_module_delete(mod);
  wasm_engine_delete(engine);
}

Test(wasmtime, pooling_allocator_limits_live_instances) {
  wasm_engine_t *engine = engine_new(true);
  wasmtime_module_t *mod = compile(engine);
  wasmtime_store_t *stores[POOL_INSTANCES];
  for (int i = 0; i < POOL_INSTANCES; i++) {
    stores[i] = wasmtime_store_new(engine, NULL, NULL);
    wasmtime_instance_t inst;
    instantiate(wasmtime_store_context(stores[i]), mod, &inst);
  }
  /* Every slot is taken: with on-demand allocation this would succeed. */
  wasmtime_store_t *extra = wasmtime_store_new(engine, NULL, NULL);
  wasmtime_instance_t inst;
  wasm_trap_t *trap = NULL;
  wasmtime_error_t *err = wasmtime_instance_new(
      wasmtime_store_context(extra), mod, NULL, 0, &inst, &trap);
  cr_assert_not_null(err, "instance beyond the pool size was created");
  free(error_text(err));
  cr_assert_null(trap);

  /* Deleting a store returns its slot. */
  wasmtime_store_delete(stores[0]);
  instantiate(wasmtime_store_context(extra), mod, &inst);

  wasmtime_store_delete(extra);
  for (int i = 1; i < POOL_INSTANCES; i++) wasmtime_store_delete(stores[i]);
  wasmtime_module_delete(mod);
  wasm_engine_delete(engine);
}

Test(wasmtime, serialized_module_deserializes_and_runs) {
  wasm_engine_t *engine = engine_new(true);
  wasmtime_module_t *mod = compile(engine);
  wasm_byte_vec_t blob;
  check_ok(wasmtime_module_serialize(mod, &blob), "serialize");
  cr_assert_gt(blob.size, 0);
  wasmtime_module_delete(mod);

  wasmtime_module_t *back = NULL;
  check_ok(wasmtime_module_deserialize(engine, (const uint8_t *)blob.data,
                                       blob.size, &back),
           "deserialize");
  wasmtime_store_t *store = wasmtime_store_new(engine, NULL, NULL);
  wasmtime_context_t *cx = wasmtime_store_context(store);
  wasmtime_context_set_epoch_deadline(cx, 1);
  wasmtime_instance_t inst;
  instantiate(cx, back, &inst);
  cr_assert_eq(call_add(cx, &inst, 20, 22), 42);
  wasmtime_store_delete(store);
  wasmtime_module_delete(back);

  /* Code compiled with epoch checks must not load into an engine without
   * them: the module cache's key has to include the engine settings, and
   * a stale entry shows up as this error (then recompile), not a crash. */
  wasm_engine_t *other = engine_new(false);
  wasmtime_error_t *err = wasmtime_module_deserialize(
      other, (const uint8_t *)blob.data, blob.size, &back);
  cr_assert_not_null(err, "module loaded into an incompatible engine");
  free(error_text(err));
  wasm_engine_delete(other);

  wasm_byte_vec_delete(&blob);
  wasm_engine_delete(engine);
}

Test(wasmtime, bad_bytes_give_an_error_not_a_crash) {
  wasm_engine_t *engine = engine_new(true);
  /* A valid magic and version, then junk. */
  static const uint8_t junk[] = {0x00, 'a',  's',  'm',  0x01, 0x00,
                                 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef,
                                 0x7f, 0xff, 0xff, 0xff, 0x0f};
  wasmtime_module_t *mod = NULL;
  wasmtime_error_t *err = wasmtime_module_new(engine, junk, sizeof junk,
                                              &mod);
  cr_assert_not_null(err, "junk compiled");
  cr_assert_null(mod);
  char *msg = error_text(err);
  cr_assert_gt(strlen(msg), 0, "error without a message");
  free(msg);

  /* The same junk handed to the cache loader: not an ELF image. */
  err = wasmtime_module_deserialize(engine, junk, sizeof junk, &mod);
  cr_assert_not_null(err, "junk deserialized");
  cr_assert_null(mod);
  msg = error_text(err);
  cr_assert_gt(strlen(msg), 0, "error without a message");
  free(msg);

  /* Broken text is an error from wat2wasm too. */
  wasm_byte_vec_t wasm;
  static const char bad_wat[] = "(module (func (export \"f\") i32.add";
  err = wasmtime_wat2wasm(bad_wat, sizeof bad_wat - 1, &wasm);
  cr_assert_not_null(err, "broken WAT accepted");
  free(error_text(err));

  wasm_engine_delete(engine);
}
