/* The wasmtime engine: one per process, shared by every app.
 *
 * Settings: epoch interruption (preemption, cheap checks at loop heads and
 * calls), the pooling allocator (an instance is a few memory-mapping
 * tricks on pre-reserved slots, not fresh mmaps), optional fuel. A ticker
 * thread advances the epoch every millisecond while any instance exists;
 * a store's deadline is a time slice of ticks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "plexspaces/core.h"
#include "plexspaces/error.h"
#include "runtime/sched.h"
#include "wasm/tls.h"
#include "wasm/wasm_internal.h"

#ifndef PX_SANITIZE_THREAD
#define PX_SANITIZE_THREAD 0
#endif
#ifndef PX_SANITIZE_ADDRESS
#define PX_SANITIZE_ADDRESS 0
#endif

/* Up to this many instances, memories get 4 GiB reservations (64 TiB). */
#define PX__WASM_STATIC_MAX_INSTANCES 16384u

px__wasm_engine px__wasm;
static bool started;

char *px__wasm_vec_text(wasm_byte_vec_t *v) {
  char *s = malloc(v->size + 1);
  if (s) {
    memcpy(s, v->data, v->size);
    s[v->size] = 0;
  }
  wasm_byte_vec_delete(v);
  return s;
}

char *px__wasm_error_message(const wasmtime_error_t *err) {
  wasm_name_t msg;
  wasmtime_error_message(err, &msg);
  return px__wasm_vec_text(&msg);
}

char *px__wasm_error_text(wasmtime_error_t *err) {
  char *s = px__wasm_error_message(err);
  wasmtime_error_delete(err);
  return s;
}

char *px__wasm_trap_text(wasm_trap_t *trap) {
  wasm_message_t msg;
  wasm_trap_message(trap, &msg);
  return px__wasm_vec_text(&msg);
}

void px__wasm_instances_changed(int delta) {
  uint32_t before = atomic_fetch_add(&px__wasm.instances, (uint32_t)delta);
  if (delta > 0 && before == 0) {
    pthread_mutex_lock(&px__wasm.mu);
    pthread_cond_signal(&px__wasm.cv);
    pthread_mutex_unlock(&px__wasm.mu);
  }
}

/* Advances the epoch every tick while instances exist, and sleeps on the
 * condition otherwise, so an idle node without WASM actors pays nothing.
 * The epoch follows the clock, not the count of wake-ups: on a loaded
 * machine this thread may wake several milliseconds late, and a slice
 * (and max_run_ms, counted in slices) must not stretch with it. */
static void *ticker_main(void *arg) {
  (void)arg;
  const uint64_t tick_ns = PX__WASM_TICK_MS * 1000000ull;
  uint64_t last = 0; /* when the epoch was last advanced (0: idle) */
  pthread_mutex_lock(&px__wasm.mu);
  while (!px__wasm.stopping) {
    if (atomic_load(&px__wasm.instances) == 0) {
      last = 0;
      pthread_cond_wait(&px__wasm.cv, &px__wasm.mu);
      continue;
    }
    pthread_mutex_unlock(&px__wasm.mu);
    struct timespec ts = {0, (long)tick_ns};
    nanosleep(&ts, NULL);
    uint64_t now = px_now_ns();
    if (!last) last = now - tick_ns; /* the first tick after idling */
    uint64_t n = (now - last) / tick_ns;
    if (n > 1000) { /* after a suspend: at most a second's worth */
      n = 1000;
      last = now;
    } else {
      last += n * tick_ns;
    }
    for (uint64_t i = 0; i < n; i++)
      wasmtime_engine_increment_epoch(px__wasm.engine);
    pthread_mutex_lock(&px__wasm.mu);
  }
  pthread_mutex_unlock(&px__wasm.mu);
  return NULL;
}

static void defaults(px__wasm_opts *o) {
  if (!o->max_module_bytes) o->max_module_bytes = 32u << 20;
  if (!o->max_memory_bytes) o->max_memory_bytes = 64u << 20;
  if (o->time_slice_ms <= 0) o->time_slice_ms = 10;
  if (o->max_run_ms <= 0) o->max_run_ms = 5000;
  if (!o->max_instances) o->max_instances = 10000;
}

/* Whether memories get 4 GiB reservations (see make_config): not under
 * the sanitizers, not past PX__WASM_STATIC_MAX_INSTANCES, and only if
 * the address space is there (wasmtime aborts when its pool cannot be
 * reserved, so it is tried here first). */
static bool static_bounds(const px__wasm_opts *o) {
  if (PX_SANITIZE_THREAD || PX_SANITIZE_ADDRESS ||
      o->max_instances > PX__WASM_STATIC_MAX_INSTANCES)
    return false;
  size_t span = (size_t)o->max_instances * (((size_t)4 << 30) + (2u << 20));
  void *p = mmap(NULL, span, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return false;
  munmap(p, span);
  return true;
}

/* Half of a handler's stack (the runtime's default), within 32..512 KiB:
 * a guest on the default 128 KiB stack gets 64 KiB of frames, which are
 * small (C, Go and AssemblyScript keep their own stacks in linear memory),
 * and the host keeps 64 KiB for the frames under the guest and the host
 * calls it makes. */
static size_t px__wasm_max_stack(void) {
  size_t ss = px__sched_default_stack();
  size_t m = (ss ? ss : 128u << 10) / 2;
  if (m < (32u << 10)) m = 32u << 10;
  if (m > (512u << 10)) m = 512u << 10;
  return m;
}

static wasm_config_t *make_config(const px__wasm_opts *o) {
  wasm_config_t *c = wasm_config_new();
  if (!c) return NULL;
  wasmtime_config_epoch_interruption_set(c, true);
  wasmtime_config_consume_fuel_set(c, o->fuel > 0);
  wasmtime_config_cranelift_opt_level_set(c, WASMTIME_OPT_LEVEL_SPEED);
  /* PX_WASM_PERFMAP=1: guest functions named in /tmp/perf-PID.map, so
   * perf can show where a guest spends its time. */
  const char *pm = getenv("PX_WASM_PERFMAP");
  if (pm && *pm == '1')
    wasmtime_config_profiler_set(c, WASMTIME_PROFILING_STRATEGY_PERFMAP);
  /* The guest's frames share its actor's coroutine stack with the host's
   * (below them: the handler; above them: host calls). The wasm stack is
   * capped well below that stack's size, so a runaway recursion traps
   * (stack_overflow) with room left for the host. */
  wasmtime_config_max_wasm_stack_set(c, px__wasm_max_stack());
#if PX_SANITIZE_THREAD
  /* rayon's work stealing is invisible to TSan and reads as races; and a
   * trap taken as a signal leaves the handler by unwinding, which TSan
   * reads as the rest of the call running inside a signal handler. With
   * signal-based traps off, wasmtime compiles explicit checks instead. */
  wasmtime_config_parallel_compilation_set(c, false);
  wasmtime_config_signals_based_traps_set(c, false);
#endif
  /* A memory's reservation: 4 GiB of address space (never touched beyond
   * the memory's size) lets the compiled code skip bounds checks, since
   * no 32-bit address can leave it: those checks cost about 150 ns of a
   * 1.8 us WASM ask. The pool then reserves max_instances x 4 GiB, which
   * fits under 64 TiB for up to 16384 instances, but not next to the
   * sanitizers' shadow maps. Otherwise (or with more instances) the
   * reservation is the memory limit and the code checks bounds. */
  size_t limit = (o->max_memory_bytes + 0xffff) & ~(size_t)0xffff;
  wasmtime_config_memory_reservation_set(
      c, px__wasm.static_bounds ? (size_t)4 << 30 : limit);
  wasmtime_config_memory_guard_size_set(c, 64u << 10);
  wasmtime_config_memory_reservation_for_growth_set(c, 0);
  /* A memory stays where it is (it grows in place or not at all), so the
   * host may keep its base address (instance.c px__wasm_mem). */
  wasmtime_config_memory_may_move_set(c, false);
  wasmtime_pooling_allocation_config_t *p =
      wasmtime_pooling_allocation_config_new();
  wasmtime_pooling_allocation_config_total_core_instances_set(
      p, o->max_instances);
  wasmtime_pooling_allocation_config_total_memories_set(p, o->max_instances);
  wasmtime_pooling_allocation_config_total_tables_set(p, o->max_instances);
  wasmtime_pooling_allocation_config_max_memory_size_set(p, limit);
  /* Go's runtime needs a large function table; C and AssemblyScript
   * small ones. */
  wasmtime_pooling_allocation_config_table_elements_set(p, 1u << 16);
  wasmtime_pooling_allocation_config_max_core_instance_size_set(p, 1u << 20);
  /* A slot handed back keeps this much of its memory and table mapped
   * (zeroed with memset, not returned to the kernel), so the next actor in
   * that slot takes no page faults there: the difference between ~50 us
   * and a few us per instantiation and per call. */
  wasmtime_pooling_allocation_config_linear_memory_keep_resident_set(
      p, 1u << 20);
  wasmtime_pooling_allocation_config_table_keep_resident_set(p, 64u << 10);
  wasmtime_pooling_allocation_strategy_set(c, p);
  wasmtime_pooling_allocation_config_delete(p);
  return c;
}

int px__wasm_start(const px__wasm_opts *opts, char *err, size_t errcap) {
  if (started) {
    snprintf(err, errcap, "the WebAssembly host is already started");
    return PX_EINVAL;
  }
  memset(&px__wasm, 0, sizeof px__wasm);
  px__wasm.o = *opts;
  defaults(&px__wasm.o);
  px__wasm.o.cache_dir = opts->cache_dir ? strdup(opts->cache_dir) : NULL;
  const px__wasm_opts *o = &px__wasm.o;
  px__wasm.slice_ticks =
      (uint64_t)((o->time_slice_ms + PX__WASM_TICK_MS - 1) / PX__WASM_TICK_MS);
  px__wasm.static_bounds = static_bounds(o);
  /* Everything compiled into the code: an artifact made under other
   * settings must be compiled again, not reloaded. */
  snprintf(px__wasm.settings, sizeof px__wasm.settings,
           "wasmtime-48 abi=%d epoch=1 fuel=%d mem=%zu guard=64k move=0 "
           "signals=%d static=%d",
           PX__WASM_ABI_VERSION, o->fuel > 0, o->max_memory_bytes,
           !PX_SANITIZE_THREAD, px__wasm.static_bounds);
  int rc = PX_ENOMEM;
  wasm_config_t *c = make_config(o);
  if (!c || !(px__wasm.engine = wasm_engine_new_with_config(c))) {
    snprintf(err, errcap, "cannot create the wasmtime engine");
    goto fail;
  }
  px__wasm.linker = wasmtime_linker_new(px__wasm.engine);
  if ((rc = px__wasm_define_imports(px__wasm.linker, err, errcap)))
    goto fail;
  pthread_mutex_init(&px__wasm.mu, NULL);
  pthread_cond_init(&px__wasm.cv, NULL);
  if (pthread_create(&px__wasm.ticker, NULL, ticker_main, NULL) != 0) {
    snprintf(err, errcap, "cannot start the epoch ticker");
    pthread_mutex_destroy(&px__wasm.mu);
    pthread_cond_destroy(&px__wasm.cv);
    rc = PX_ENOMEM;
    goto fail;
  }
  started = true;
  return 0;
fail:
  if (px__wasm.linker) wasmtime_linker_delete(px__wasm.linker);
  if (px__wasm.engine) wasm_engine_delete(px__wasm.engine);
  free((char *)px__wasm.o.cache_dir);
  memset(&px__wasm, 0, sizeof px__wasm);
  return rc;
}

bool px__wasm_running(void) { return started; }

/* The thread-local check (tls.c) runs with the first module loaded, not
 * at start: a few milliseconds of compiling that a node without WASM apps
 * need not pay. Its outcome is kept. */
int px__wasm_tls_ready(char *err, size_t errcap) {
  pthread_mutex_lock(&px__wasm.mu);
  if (!px__wasm.tls_state)
    px__wasm.tls_state =
        px__wasm_tls_check(px__wasm.tls_error, sizeof px__wasm.tls_error)
            ? -1 : 1;
  int st = px__wasm.tls_state;
  pthread_mutex_unlock(&px__wasm.mu);
  if (st > 0) return 0;
  snprintf(err, errcap, "%s", px__wasm.tls_error);
  return PX_EFAILED;
}

void px__wasm_stop(void) {
  if (!started) return;
  pthread_mutex_lock(&px__wasm.mu);
  px__wasm.stopping = true;
  pthread_cond_signal(&px__wasm.cv);
  pthread_mutex_unlock(&px__wasm.mu);
  pthread_join(px__wasm.ticker, NULL);
  for (px__wasm_type *t = px__wasm.types, *n; t; t = n) {
    n = t->next;
    for (size_t i = 0; t->owns_links && i < t->nlinks; i++) {
      free((char *)t->links[i].name);
      free((char *)t->links[i].base_url);
    }
    if (t->owns_links) free(t->links);
    free(t);
  }
  for (px__wasm_module *m = px__wasm.modules, *n; m; m = n) {
    n = m->next;
    px__wasm_module_free(m);
  }
  wasmtime_linker_delete(px__wasm.linker);
  wasm_engine_delete(px__wasm.engine);
  pthread_mutex_destroy(&px__wasm.mu);
  pthread_cond_destroy(&px__wasm.cv);
  free((char *)px__wasm.o.cache_dir);
  memset(&px__wasm, 0, sizeof px__wasm);
  started = false;
}
