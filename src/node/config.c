/* node.toml: the node's own configuration (apps have app-config.toml).
 *
 *   [node]     listen = "127.0.0.1:8080", data_dir = "./data", workers = 0,
 *              spin_us = 5 (a worker's idle spin before it parks: short in
 *              a node, whose HTTP threads need the cores a spinning worker
 *              would burn; measured 33k vs 23k asks/s over HTTP against
 *              the runtime's default of 50 on 2 cores)
 *   [http]     max_body_bytes, max_upload_bytes, max_header_bytes,
 *              request_timeout_seconds (the longest ask or blocking call),
 *              idle_timeout_seconds, max_connections,
 *              max_concurrent_requests, threads (event-loop threads)
 *   [auth]     see src/auth/auth.h (mode = "none" | "jwt", keys, roles)
 *   [log]      level = "info", format = "logfmt" | "json" | "text"
 *   [shutdown] grace_period_seconds = 10
 *
 * Unknown sections and keys are errors: a typo must not silently fall
 * back to a default. Command-line flags override the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "node/node.h"
#include "plexspaces/error.h"
#include "plexspaces/toml.h"

void px__node_config_defaults(px_node_config *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->listen, sizeof c->listen, "127.0.0.1:8080");
  const char *d = getenv("PLEXSPACES_DATA");
  snprintf(c->data_dir, sizeof c->data_dir, "%s", d && *d ? d : "./data");
  c->max_body = 1 << 20;
  c->max_upload = 100u << 20;
  c->max_header = 8 << 10; /* libmicrohttpd clears this much per request */
  c->request_timeout_s = 30;
  c->idle_timeout_s = 60;
  c->max_connections = 1024;
  c->max_concurrent = 256;
  c->http_threads = 2;
  c->grace_s = 10;
  c->spin_us = 5;
  snprintf(c->log_level, sizeof c->log_level, "info");
  snprintf(c->log_format, sizeof c->log_format, "logfmt");
  c->auth = px_nil();
}

void px__node_config_free(px_node_config *c) {
  px_val_release(c->auth);
  c->auth = px_nil();
}

typedef struct key_spec {
  const char *name;
  char kind; /* 's' string, 'i' positive integer */
  void *dst;
  size_t cap; /* strings */
} key_spec;

static int bad(char *err, size_t cap, const char *file, const char *fmt,
               const char *a, const char *b) {
  char msg[512];
  snprintf(msg, sizeof msg, fmt, a, b);
  snprintf(err, cap, "%s: %s", file, msg);
  return PX_EINVAL;
}

static int read_section(px_val tbl, const char *sect, const key_spec *keys,
                        const char *file, char *err, size_t cap) {
  if (tbl.type != PX_T_MAP)
    return bad(err, cap, file, "[%s] must be a table%s", sect, "");
  for (size_t i = 0; i < px_len(tbl); i++) {
    px_val v = px_map_val_at(tbl, i);
    const char *name = px_str_ptr(px_map_key_at(tbl, i));
    const key_spec *ks = NULL;
    for (const key_spec *p = keys; p->name; p++)
      if (strcmp(p->name, name) == 0) ks = p;
    char path[128];
    snprintf(path, sizeof path, "%s.%s", sect, name);
    if (!ks) return bad(err, cap, file, "%s: unknown key%s", path, "");
    if (ks->kind == 's') {
      if (v.type != PX_T_STR || px_str_len(v) == 0 || px_str_len(v) >= ks->cap)
        return bad(err, cap, file, "%s: expected a non-empty string%s", path,
                   "");
      memcpy(ks->dst, px_str_ptr(v), px_str_len(v) + 1);
    } else {
      if (v.type != PX_T_INT || v.u.i <= 0 || v.u.i > (1ll << 40))
        return bad(err, cap, file, "%s: expected a positive integer%s", path,
                   "");
      *(int64_t *)ks->dst = v.u.i;
    }
  }
  return 0;
}

static int check_choice(const char *v, const char *const *ok,
                        const char *path, const char *file, char *err,
                        size_t cap) {
  for (; *ok; ok++)
    if (strcmp(v, *ok) == 0) return 0;
  return bad(err, cap, file, "%s: unsupported value \"%s\"", path, v);
}

int px__node_config_load(px_node_config *c, const char *file, char *err,
                         size_t cap) {
  FILE *f = fopen(file, "rb");
  if (!f) {
    snprintf(err, cap, "%s: cannot open the config file", file);
    return PX_EIO;
  }
  char *text = NULL;
  size_t len = 0, got;
  char buf[4096];
  while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
    text = px__xrealloc(text, len + got);
    memcpy(text + len, buf, got);
    len += got;
  }
  fclose(f);
  const char *slash = strrchr(file, '/');
  if (slash)
    snprintf(c->config_dir, sizeof c->config_dir, "%.*s",
             (int)(slash - file), file);
  else
    snprintf(c->config_dir, sizeof c->config_dir, ".");
  px_val doc;
  px_toml_error te;
  int rc = px_toml_parse(text, len, &doc, &te);
  free(text);
  if (rc) {
    snprintf(err, cap, "%s:%d: %s", file, te.line, te.reason);
    return rc;
  }
  int64_t workers = 0, body = 0, upload = 0, header = 0, req = 0, idle = 0,
          conns = 0, conc = 0, grace = 0, threads = 0, spin = 0;
  const key_spec node_keys[] = {
      {"listen", 's', c->listen, sizeof c->listen},
      {"data_dir", 's', c->data_dir, sizeof c->data_dir},
      {"workers", 'i', &workers, 0},
      {"spin_us", 'i', &spin, 0},
      {"id", 's', c->node_id, sizeof c->node_id},
      {NULL, 0, NULL, 0}};
  const key_spec http_keys[] = {
      {"max_body_bytes", 'i', &body, 0},
      {"max_upload_bytes", 'i', &upload, 0},
      {"max_header_bytes", 'i', &header, 0},
      {"request_timeout_seconds", 'i', &req, 0},
      {"idle_timeout_seconds", 'i', &idle, 0},
      {"max_connections", 'i', &conns, 0},
      {"max_concurrent_requests", 'i', &conc, 0},
      {"threads", 'i', &threads, 0},
      {NULL, 0, NULL, 0}};
  const key_spec log_keys[] = {
      {"level", 's', c->log_level, sizeof c->log_level},
      {"format", 's', c->log_format, sizeof c->log_format},
      {NULL, 0, NULL, 0}};
  const key_spec shutdown_keys[] = {{"grace_period_seconds", 'i', &grace, 0},
                                    {NULL, 0, NULL, 0}};
  const key_spec wasm_keys[] = {
      {"max_module_bytes", 'i', &c->wasm_max_module_bytes, 0},
      {"max_memory_bytes", 'i', &c->wasm_max_memory_bytes, 0},
      {"time_slice_ms", 'i', &c->wasm_time_slice_ms, 0},
      {"max_run_ms", 'i', &c->wasm_max_run_ms, 0},
      {"fuel", 'i', &c->wasm_fuel, 0},
      {"max_instances", 'i', &c->wasm_max_instances, 0},
      {NULL, 0, NULL, 0}};
  rc = 0;
  for (size_t i = 0; i < px_len(doc) && !rc; i++) {
    const char *sect = px_str_ptr(px_map_key_at(doc, i));
    px_val v = px_map_val_at(doc, i);
    if (strcmp(sect, "node") == 0)
      rc = read_section(v, sect, node_keys, file, err, cap);
    else if (strcmp(sect, "http") == 0)
      rc = read_section(v, sect, http_keys, file, err, cap);
    else if (strcmp(sect, "log") == 0)
      rc = read_section(v, sect, log_keys, file, err, cap);
    else if (strcmp(sect, "shutdown") == 0)
      rc = read_section(v, sect, shutdown_keys, file, err, cap);
    else if (strcmp(sect, "wasm") == 0)
      rc = read_section(v, sect, wasm_keys, file, err, cap);
    else if (strcmp(sect, "auth") == 0) {
      px_val_release(c->auth);
      c->auth = px_val_retain(v);
    } else
      rc = bad(err, cap, file, "unknown section or key \"%s\" (known: node, "
               "http, auth, log, shutdown, wasm)%s", sect, "");
  }
  px_val_release(doc);
  if (rc) return rc;
  if (workers) c->workers = (int)workers;
  if (spin) c->spin_us = (int)spin;
  if (body) c->max_body = (size_t)body;
  if (upload) c->max_upload = (size_t)upload;
  if (header) c->max_header = (size_t)header;
  if (req) c->request_timeout_s = (int)req;
  if (idle) c->idle_timeout_s = (int)idle;
  if (conns) c->max_connections = (int)conns;
  if (conc) c->max_concurrent = (int)conc;
  if (grace) c->grace_s = (int)grace;
  if (threads) c->http_threads = (int)threads;
  static const char *const levels[] = {"debug", "info", "warn", "error",
                                       "off", NULL};
  static const char *const formats[] = {"logfmt", "json", "text", NULL};
  rc = check_choice(c->log_level, levels, "log.level", file, err, cap);
  if (!rc)
    rc = check_choice(c->log_format, formats, "log.format", file, err, cap);
  return rc;
}

bool px__listen_is_loopback(const char *listen) {
  return strncmp(listen, "127.", 4) == 0 || strncmp(listen, "[::1]", 5) == 0;
}
