/* The node program: configuration, lifecycle, HTTP surface. Internal. */
#ifndef PX_NODE_NODE_H
#define PX_NODE_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plexspaces/val.h"

const char *px__node_version(void);

typedef struct px_node_config {
  char node_id[64];
  char listen[64];
  char data_dir[512];
  char config_dir[512];    /* directory of node.toml (relative key paths) */
  int workers;            /* 0 = one per core */
  int spin_us;            /* a worker's idle spin before it parks */
  size_t max_body, max_upload, max_header;
  int request_timeout_s;  /* longest ask / blocking call over HTTP */
  int idle_timeout_s;
  int max_connections;
  int max_concurrent;
  int http_threads;       /* event-loop threads of the HTTP server */
  int grace_s;            /* shutdown: in-flight requests get this long */
  char log_level[16];
  char log_format[16];
  px_val auth;            /* the [auth] table, nil when absent */
  /* [wasm] (docs/wasm-abi.md); 0 = the host's default */
  int64_t wasm_max_module_bytes, wasm_max_memory_bytes, wasm_time_slice_ms,
      wasm_max_run_ms, wasm_fuel, wasm_max_instances;
} px_node_config;

void px__node_config_defaults(px_node_config *c);
/* Reads a node.toml over the defaults; errors name the file, and the line
 * for syntax errors. */
int px__node_config_load(px_node_config *c, const char *file, char *err,
                         size_t cap);
void px__node_config_free(px_node_config *c);
bool px__listen_is_loopback(const char *listen);

/* `plexspaces start [--config F] [--data DIR] [--listen HOST:PORT]`:
 * runs a node until SIGTERM/SIGINT, then shuts down gracefully. Returns
 * the process exit code. */
int px__node_start_main(int argc, char **argv);

#endif
