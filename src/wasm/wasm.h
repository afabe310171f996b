/* The WebAssembly host: what the rest of the node uses (the app loader and
 * node start/stop). Everything else of src/wasm is internal to it.
 *
 * A WASM app is one core module implementing docs/wasm-abi.md. The node
 * compiles it once (kept compiled in DATA/wasm-cache), and every actor
 * type the app's config names becomes a GenServer whose callbacks run the
 * guest, one instance (one store, one linear memory) per actor. */
#ifndef PX_WASM_WASM_H
#define PX_WASM_WASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plexspaces/gen_server.h"
#include "plexspaces/store.h"

/* node.toml [wasm]; zero fields take the defaults of docs/wasm-abi.md. */
typedef struct px__wasm_opts {
  size_t max_module_bytes;  /* 32 MiB */
  size_t max_memory_bytes;  /* 64 MiB per instance */
  int64_t time_slice_ms;    /* 10 */
  int64_t max_run_ms;       /* 5000 */
  uint64_t fuel;            /* 0 = off */
  uint32_t max_instances;   /* 10000 */
  const char *cache_dir;    /* compiled modules; NULL = none kept */
  px_store *store;          /* for the kv_* imports; NULL = not supported */
} px__wasm_opts;

/* Once per process, before any module is loaded; px__wasm_stop after the
 * runtime has stopped (every instance is gone by then). Start again after
 * a stop is allowed (tests). 0 or PX_EINVAL/PX_ENOMEM with err. */
int px__wasm_start(const px__wasm_opts *o, char *err, size_t errcap);
void px__wasm_stop(void);
bool px__wasm_running(void);

/* A service link of app-config.toml, as http_fetch sees it. */
typedef struct px__wasm_link {
  const char *name;
  const char *base_url;
  int64_t timeout_ms;
  int64_t max_attempts;
  int64_t initial_delay_ms;
} px__wasm_link;

typedef struct px__wasm_module px__wasm_module;

/* Validates and compiles (or reloads from the cache) a module: magic,
 * size, validation, exports, ABI version and imports are checked, with a
 * message naming what is wrong. The module lives until px__wasm_stop:
 * its code may still run in an actor that outlives an undeploy, as a C
 * app's library is never unloaded. Loading the same bytes again gives
 * the same module. */
int px__wasm_module_load(const void *bytes, size_t len,
                         px__wasm_module **out, char *err, size_t errcap);

/* True when the bytes start with the WebAssembly magic. */
bool px__wasm_is_module(const void *bytes, size_t len);

/* A GenServer running `role` of module m for the app (tenant, app name,
 * links copied). Lives until px__wasm_stop. */
const px_gen_server *px__wasm_actor_type(px__wasm_module *m,
                                         const char *actor_type,
                                         const char *role,
                                         const px__wasm_link *links,
                                         size_t nlinks);

/* The durability codec of those GenServers (state = the guest's
 * px_get_state value). */
px_val px__wasm_encode_state(const void *state);
int px__wasm_decode_state(px_val saved, void *state);

#endif
