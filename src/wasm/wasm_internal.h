/* Internals of the WebAssembly host, shared by the files of src/wasm:
 *
 *   engine.c    the wasmtime engine, its settings, the epoch ticker
 *   module.c    compiling, caching and checking modules
 *   instance.c  one store per actor, and the calls into its guest
 *   host.c      the import table (docs/wasm-abi.md) and the calls that
 *               never block
 *   host_ops.c  the calls that may park the actor (ask, sleep, ts_take..)
 *               or touch the runtime
 *   actor.c     the GenServer whose callbacks run the guest
 *   tls.h       wasmtime's thread-local, carried across a park
 *
 * Guests run on their actors' coroutines, called synchronously: a
 * message is one plain call into the guest. A host call may park the
 * actor in the middle of the guest (an ask, a take, a sleep), and so may
 * the end of a time slice (the epoch callback yields the worker to other
 * actors: that is preemption). The actor may then resume on another
 * worker thread. wasmtime keeps the guest calls under way on a thread in
 * one thread-local pointer, which tls.h takes off the thread before such
 * a park and puts back after it, wherever the actor resumed. (Earlier the
 * guests ran on wasmtime's own fibers through its async support, which
 * saves and restores the same state; a resume and suspend of such a
 * fiber cost about 0.5 us per message, most of a WASM ask's overhead.) */
#ifndef PX_WASM_INTERNAL_H
#define PX_WASM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <wasi.h>
#include <wasmtime.h>

#include "plexspaces/kv.h"
#include "plexspaces/space.h"
#include "wasm/wasm.h"

#define PX__WASM_ABI_VERSION 1

/* The exports px__wasm_run calls, by number. */
enum {
  PX__FN_ALLOC = 0,     /* (size) -> ptr */
  PX__FN_FREE = 1,      /* (ptr, size) */
  PX__FN_INIT = 2,      /* (ptr, len) -> status */
  PX__FN_HANDLE = 3,    /* (kind, from, from_len, type, type_len,
                           payload, payload_len) -> status */
  PX__FN_GET_STATE = 4, /* () -> ptr << 32 | len */
  PX__FN_SET_STATE = 5, /* (ptr, len) -> status */
  PX__FN_END = 6,
};
/* The envelope of a send_after timer: [type, payload]. */
#define PX__WASM_TIMER "__wasm_timer__"

/* ---- engine (engine.c) --------------------------------------------------- */

typedef struct px__wasm_type px__wasm_type;

typedef struct px__wasm_engine {
  wasm_engine_t *engine;
  wasmtime_linker_t *linker;
  bool static_bounds;     /* 4 GiB per memory, no bounds checks */
  int tls_state;          /* the tls.c check: 0 not run, 1 ok, -1 failed */
  char tls_error[160];
  px__wasm_opts o;        /* defaults filled in; cache_dir owned */
  uint64_t slice_ticks;   /* epoch ticks per time slice */
  char settings[160];     /* what a compiled artifact must match */
  pthread_t ticker;
  pthread_mutex_t mu;     /* modules, types, ticker sleep */
  pthread_cond_t cv;
  bool stopping;
  _Atomic(uint32_t) instances; /* alive; the ticker sleeps at 0 */
  struct px__wasm_module *modules;
  px__wasm_type *types;
} px__wasm_engine;

extern px__wasm_engine px__wasm;

#define PX__WASM_TICK_MS 1

/* wasmtime's texts as NUL-terminated copies (the caller frees them):
 * vec_text consumes the vector, error_text the error; error_message and
 * trap_text leave theirs alone. */
char *px__wasm_vec_text(wasm_byte_vec_t *v);
char *px__wasm_error_text(wasmtime_error_t *err);
char *px__wasm_error_message(const wasmtime_error_t *err);
char *px__wasm_trap_text(wasm_trap_t *trap);
/* The tls.c check, run once (with the first module): 0 or PX_EFAILED. */
int px__wasm_tls_ready(char *err, size_t errcap);
/* The ticker is woken when the first instance appears. */
void px__wasm_instances_changed(int delta);

/* ---- modules (module.c) -------------------------------------------------- */

struct px__wasm_module {
  char hex[65];                    /* sha256 of the bytes */
  wasmtime_module_t *module;
  wasmtime_instance_pre_t *pre;
  bool has_initialize;             /* exports _initialize */
  bool needs_wasi;                 /* imports WASI beyond our fd_write */
  struct px__wasm_module *next;
};

void px__wasm_module_free(px__wasm_module *m);

/* ---- the import table (host.c) ------------------------------------------- */

typedef struct px__wasm_inst px__wasm_inst;

/* Every import runs as exec(inst, ctx, args, ret), right under the
 * guest's frames: with ctx the caller's context (calls that never block)
 * or the store's (calls that may park). */
typedef void (*px__wasm_exec_fn)(px__wasm_inst *in, wasmtime_context_t *ctx,
                                 const wasmtime_val_t *args,
                                 wasmtime_val_t *ret);

typedef struct px__wasm_import {
  const char *name;
  const char *sig;    /* params ':' result, i = i32, I = i64, F = f64 */
  bool deferred;      /* may park or touch the runtime (tls.h) */
  px__wasm_exec_fn exec;
} px__wasm_import;

/* Defines every import (and WASI) in the linker. */
int px__wasm_define_imports(wasmtime_linker_t *l, char *err, size_t errcap);
/* The table, for the deploy check of a module's imports. */
const px__wasm_import *px__wasm_import_find(const char *name, size_t len);
/* The value types of a signature string; false if malformed. */
bool px__wasm_sig_types(const char *sig, wasm_valkind_t *params,
                        size_t *np, wasm_valkind_t *results, size_t *nr);

/* Import implementations, by file. */
extern const px__wasm_import px__wasm_imports[];
extern const size_t px__wasm_nimports;

/* ---- instances (instance.c) ---------------------------------------------- */

#define PX__WASM_MAX_ARGS 8


struct px__wasm_type {
  px_gen_server gs; /* first: the def the GenServer hands back */
  px__wasm_module *mod;
  char actor_type[64];
  char role[64];
  px__wasm_link *links;
  size_t nlinks;
  bool owns_links;    /* spawned types share their parent type's links */
  px__wasm_type *next;
};

/* The type running `role` of the same module, app and links as `like`
 * (what spawn starts). */
const px_gen_server *px__wasm_sibling_type(const px__wasm_type *like,
                                           const char *role);

struct px__wasm_inst {
  const px__wasm_type *type;
  wasmtime_store_t *store;
  wasmtime_context_t *ctx;
  wasmtime_instance_t instance;
  wasmtime_memory_t memory;
  uint8_t *mem_base;  /* cached by px__wasm_mem */
  size_t mem_size;
  uint32_t scratch, scratch_cap; /* a guest buffer for inputs */
  wasmtime_func_t fn[PX__FN_END]; /* the exports px__wasm_run calls */
  bool has_fn[PX__FN_END];
  /* the outcome of the latest guest call */
  int64_t ret;                 /* the export's result */
  wasm_trap_t *trap;
  wasmtime_error_t *error;
  uint32_t slices;     /* time slices this message has run */
  bool doomed;         /* told to die at a yield: doom is the reason */
  px_val doom;
  bool cpu_exceeded;
  bool started;
  /* the message in progress */
  px_ref from;      /* its sender, and the sender's id as text */
  char from_id[64];
  bool in_call;
  bool has_reply;
  px_val reply;
  /* the latest "-> result" bytes, for result_read */
  char *result;
  size_t result_len;
  /* per actor handles, opened on first use */
  px_kv *kv;
  px_space *space;
  px_ref self;
  char tenant[64], ns[64];
  /* WASI stdout and stderr, cut into log lines */
  struct px__wasm_stream {
    const char *name;
    char line[512];
    size_t len;
  } out, err;
};

/* Creates the store and instance and runs _initialize and px_init with
 * the init map. 0, or a crash reason in *reason (PX_EFAILED) / PX_ENOMEM. */
int px__wasm_inst_new(const px__wasm_type *t, px_val args,
                      px__wasm_inst **out, px_val *reason);
void px__wasm_inst_free(px__wasm_inst *in);
/* Runs the export fn (PX__FN_*) with nargs arguments to completion on
 * the calling coroutine; its result is then in in->ret. 0, or PX_EFAILED
 * with the crash reason ({wasm_trap, CODE} or {wasm_exit, CODE}). */
int px__wasm_run(px__wasm_inst *in, int fn, const int32_t *args, int nargs,
                 px_val *reason);
/* Room for total bytes of input in the guest (the px_alloc'd scratch,
 * grown as needed): *host to write them, *guest to name them there. Valid
 * until the next guest call. */
int px__wasm_reserve(px__wasm_inst *in, size_t total, uint8_t **host,
                     uint32_t *guest, px_val *reason);
/* Copies bytes into the guest (the scratch); ptrs[i] are their guest
 * addresses. */
int px__wasm_put(px__wasm_inst *in, const void *const *parts,
                 const size_t *lens, size_t n, uint32_t *ptrs,
                 px_val *reason);
/* Guest memory [ptr, ptr + len) or NULL when any of it is outside. */
uint8_t *px__wasm_mem(px__wasm_inst *in, wasmtime_context_t *ctx,
                      uint32_t ptr, uint32_t len);

/* ---- results and statuses (host.c) --------------------------------------- */

enum {
  PX__W_OK = 0,
  PX__W_INTERNAL = -1,
  PX__W_NOT_FOUND = -2,
  PX__W_TIMEOUT = -3,
  PX__W_INVALID = -4,
  PX__W_NOT_PERMITTED = -5,
  PX__W_RESOURCE = -6,
  PX__W_NO_PROC = -7,
  PX__W_NOT_SUPPORTED = -8,
  PX__W_CONFLICT = -9,
  PX__W_REMOTE = -10,
};
int32_t px__wasm_status(int px_rc);
/* An import's result (static helpers of the import files). */
static inline void ret_i32(wasmtime_val_t *r, int32_t v) {
  r->kind = WASMTIME_I32;
  r->of.i32 = v;
}
static inline void ret_i64(wasmtime_val_t *r, int64_t v) {
  r->kind = WASMTIME_I64;
  r->of.i64 = v;
}
/* Keeps bytes as the instance's result; returns their length (or a
 * status). set_result_val encodes v (released). */
int32_t px__wasm_set_result(px__wasm_inst *in, const void *b, size_t n);
int32_t px__wasm_set_result_val(px__wasm_inst *in, px_val v);
/* A (ptr, len) argument pair as a value decoded from MessagePack
 * (untrusted); PX__W_INVALID when out of bounds or malformed. */
int32_t px__wasm_arg_val(px__wasm_inst *in, wasmtime_context_t *ctx,
                         const wasmtime_val_t *a, px_val *out);
/* A (ptr, len) pair as a NUL-terminated copy in buf (cap bytes). */
int32_t px__wasm_arg_str(px__wasm_inst *in, wasmtime_context_t *ctx,
                         const wasmtime_val_t *a, char *buf, size_t cap);

#endif
