/* `plexspaces start`: the node's life.
 *
 * Start: config → runtime → store (SQLite in the data directory) → apps
 * (each a supervision tree; persisted ones restart) → workflow recovery →
 * reminders → HTTP. The listening address goes to stdout as one line,
 * "plexspaces: listening on http://HOST:PORT", so scripts and tests can
 * use port 0 and read the port back.
 *
 * Stop, on SIGTERM or SIGINT: /readyz turns 503, the server stops
 * accepting and gives requests in flight the grace period, then apps stop
 * in reverse start order (durable actors checkpoint as they terminate),
 * reminders and the runtime stop, and the store flushes and closes. Exit
 * code 0 when all of that went well. Signals are taken synchronously with
 * sigwait on the main thread: every other thread has them blocked, so no
 * handler runs in the middle of anything. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "auth/auth.h"
#include "http/http.h"
#include "node/node.h"
#include "plexspaces/core.h"
#include "plexspaces/error.h"
#include "plexspaces/reminder.h"
#include "plexspaces/runtime.h"
#include "plexspaces/space.h"
#include "plexspaces/store.h"
#if PX_HAVE_WASM
#include "wasm/wasm.h"
#endif
#include "plexspaces/workflow.h"

static void usage(void) {
  fprintf(stderr,
          "usage: plexspaces start [--config node.toml] [--data DIR] "
          "[--listen HOST:PORT]\n");
}

static int parse_args(int argc, char **argv, px_node_config *c) {
  const char *config = NULL, *data = NULL, *listen = NULL;
  for (int i = 1; i < argc; i++) {
    const char **dst = NULL;
    if (strcmp(argv[i], "--config") == 0) dst = &config;
    else if (strcmp(argv[i], "--data") == 0) dst = &data;
    else if (strcmp(argv[i], "--listen") == 0) dst = &listen;
    if (!dst || i + 1 >= argc) {
      fprintf(stderr, "plexspaces start: unexpected argument '%s'\n",
              argv[i]);
      usage();
      return 2;
    }
    *dst = argv[++i];
  }
  if (config) {
    char err[768];
    if (px__node_config_load(c, config, err, sizeof err)) {
      fprintf(stderr, "plexspaces start: %s\n", err);
      return 1;
    }
  }
  if (data) snprintf(c->data_dir, sizeof c->data_dir, "%s", data);
  if (listen) snprintf(c->listen, sizeof c->listen, "%s", listen);
  return 0;
}

static px_log_level level_of(const char *s) {
  static const char *const names[] = {"debug", "info", "warn", "error", "off"};
  for (int i = 0; i < 5; i++)
    if (strcmp(s, names[i]) == 0) return (px_log_level)i;
  return PX_LOG_INFO;
}

typedef struct node {
  px_node_config cfg;
  px_auth *auth;
  px_store *store;
  px_apps *apps;
  px_http *http;
  bool runtime_up, reminders_up, wasm_up;
} node;

static void node_down(node *n) {
  if (n->http) {
    int left = px__http_stop(n->http, (int64_t)n->cfg.grace_s * 1000);
    if (left)
      px_log(PX_LOG_WARN, "node", "%d requests were still running after the "
             "%d s grace period", left, n->cfg.grace_s);
  }
  if (n->apps) px__apps_close(n->apps);
  n->apps = NULL;
  if (n->reminders_up) px_reminders_stop(n->store);
  if (n->runtime_up) px_runtime_stop();
  px__http_free(n->http); /* no handler actor is left to touch it */
  n->http = NULL;
#if PX_HAVE_WASM
  /* After the runtime: no instance is left. */
  if (n->wasm_up) px__wasm_stop();
  n->wasm_up = false;
#endif
  px_space_set_store(NULL);
  if (n->store) px_store_close(n->store);
  n->store = NULL;
  if (n->auth) px__auth_free(n->auth);
  n->auth = NULL;
}

static int node_up(node *n) {
  char err[1024] = "";
  int rc = px__auth_new_in(n->cfg.auth,
                           n->cfg.config_dir[0] ? n->cfg.config_dir : NULL,
                           &n->auth, err, sizeof err);
  if (rc) {
    fprintf(stderr, "plexspaces start: %s\n", err);
    return rc;
  }
  if (!px__auth_enabled(n->auth) && !px__listen_is_loopback(n->cfg.listen)) {
    fprintf(stderr,
            "plexspaces start: refusing to listen on %s without "
            "authentication: auth mode \"none\" is allowed only on loopback "
            "(127.0.0.1). Set [auth] mode = \"jwt\" in the config, or listen "
            "on 127.0.0.1.\n", n->cfg.listen);
    return PX_EPERM;
  }
  px_runtime_opts ro = {.workers = n->cfg.workers,
                        .spin_us = n->cfg.spin_us};
  if ((rc = px_runtime_start(&ro))) {
    fprintf(stderr, "plexspaces start: the runtime did not start: %s\n",
            px_strerror(rc));
    return rc;
  }
  n->runtime_up = true;
  rc = px_store_open_sqlite(n->cfg.data_dir, NULL, &n->store, err,
                            sizeof err);
  if (rc) {
    fprintf(stderr, "plexspaces start: cannot open the store in %s: %s\n",
            n->cfg.data_dir, err);
    return rc;
  }
  px_space_set_store(n->store);
#if PX_HAVE_WASM
  char cache[600];
  snprintf(cache, sizeof cache, "%s/wasm-cache", n->cfg.data_dir);
  px__wasm_opts wo = {
      .max_module_bytes = (size_t)n->cfg.wasm_max_module_bytes,
      .max_memory_bytes = (size_t)n->cfg.wasm_max_memory_bytes,
      .time_slice_ms = n->cfg.wasm_time_slice_ms,
      .max_run_ms = n->cfg.wasm_max_run_ms,
      .fuel = (uint64_t)n->cfg.wasm_fuel,
      .max_instances = (uint32_t)n->cfg.wasm_max_instances,
      .cache_dir = cache,
      .store = n->store};
  if ((rc = px__wasm_start(&wo, err, sizeof err))) {
    fprintf(stderr, "plexspaces start: WebAssembly: %s\n", err);
    return rc;
  }
  n->wasm_up = true;
#endif
  px_apps_opts ao = {.data_dir = n->cfg.data_dir, .store = n->store};
  if ((rc = px__apps_open(&ao, &n->apps, err, sizeof err))) {
    fprintf(stderr, "plexspaces start: apps: %s\n", err);
    return rc;
  }
  size_t resumed = 0;
  /* PX_EINVAL: no app registered a workflow type, nothing to resume. */
  if ((rc = px_workflow_recover(&resumed)) && rc != PX_EINVAL)
    px_log(PX_LOG_WARN, "node", "workflow recovery: %s", px_strerror(rc));
  if ((rc = px_reminders_start(n->store)) == 0) n->reminders_up = true;
  else px_log(PX_LOG_WARN, "node", "reminders: %s", px_strerror(rc));
  px_http_opts ho = {
      .listen = n->cfg.listen,
      .max_body = n->cfg.max_body,
      .max_upload = n->cfg.max_upload,
      .max_header = n->cfg.max_header,
      .idle_timeout_s = n->cfg.idle_timeout_s,
      .max_connections = n->cfg.max_connections,
      .max_concurrent = n->cfg.max_concurrent,
      .threads = n->cfg.http_threads,
      .default_ask_timeout_ms = 5000,
      .max_ask_timeout_ms = (int64_t)n->cfg.request_timeout_s * 1000,
      .auth = n->auth,
      .apps = n->apps,
      .store = n->store,
  };
  if ((rc = px__http_start(&ho, &n->http, err, sizeof err))) {
    fprintf(stderr, "plexspaces start: %s\n", err);
    return rc;
  }
  px__http_set_ready(n->http, true);
  char host[64];
  snprintf(host, sizeof host, "%s", n->cfg.listen);
  char *colon = strrchr(host, ':');
  if (colon) *colon = 0;
  printf("plexspaces: listening on http://%s:%u (data in %s, auth %s, %zu "
         "workflows resumed)\n", host, px__http_port(n->http),
         n->cfg.data_dir, px__auth_enabled(n->auth) ? "jwt" : "none",
         resumed);
  fflush(stdout);
  return 0;
}

int px__node_start_main(int argc, char **argv) {
  node n = {0};
  px__node_config_defaults(&n.cfg);
  int rc = parse_args(argc, argv, &n.cfg);
  if (rc) {
    px__node_config_free(&n.cfg);
    return rc;
  }
  px_log_set_level(level_of(n.cfg.log_level));
  px_log_set_format(n.cfg.log_format);
  /* Block the stop signals before any thread exists, so every thread
   * inherits the mask and only sigwait below sees them. */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  signal(SIGPIPE, SIG_IGN);
  rc = node_up(&n);
  if (rc == 0) {
    int sig = 0;
    sigwait(&stop, &sig);
    px_log(PX_LOG_INFO, "node", "%s: shutting down",
           sig == SIGINT ? "SIGINT" : "SIGTERM");
    px__http_set_ready(n.http, false);
  }
  node_down(&n);
  px__node_config_free(&n.cfg);
  if (rc == 0) {
    printf("plexspaces: stopped\n");
    fflush(stdout);
  }
  return rc ? 1 : 0;
}
