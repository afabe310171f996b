/* agents.c - the WASM example app in C: one module, three roles
 * ("counter", "agent", "crasher"), on the guest SDK in sdk/c/plexspaces.h.
 * The Go and AssemblyScript examples speak the same protocol, so one test
 * suite drives all three. Build: examples/wasm/c/build.sh OUT.wasm
 *
 * Error replies are {"error": NAME} with NAME from px_status_name()
 * ("not_found", "timeout", "no_proc", ...) or "invalid" for a payload
 * without the fields a message needs; the handler then returns PX_ERROR. */
#define PLEXSPACES_IMPLEMENTATION
#include "plexspaces.h"

/* {"key": <int>} as a reply. */
static int reply_int(const char *key, int64_t v) {
  px_w *w = px_reply_begin();
  px_w_map(w, 1);
  px_w_cstr(w, key);
  px_w_int(w, v);
  return PX_HANDLED;
}

/* {"key": <value>} as a reply. */
static int reply_raw(const char *key, px_val v) {
  px_w *w = px_reply_begin();
  px_w_map(w, 1);
  px_w_cstr(w, key);
  px_w_raw(w, v);
  return PX_HANDLED;
}

static int reply_ok(void) {
  px_w *w = px_reply_begin();
  px_w_map(w, 1);
  px_w_str(w, "ok", 2);
  px_w_bool(w, true);
  return PX_HANDLED;
}

/* ==== counter ============================================================= */

typedef struct {
  int64_t count;
} counter_t;

static int counter_init(void *st, const px_init_info *info) {
  counter_t *c = st;
  c->count = px_map_int(info->args, "start", 0);
  return 0;
}

static int counter_add_call(void *st, const px_msg *m) {
  counter_t *c = st;
  int64_t n;
  if (!px_to_int(px_map_get(m->payload, "n"), &n))
    return px_reply_error("invalid");
  c->count += n;
  return reply_int("count", c->count);
}

static int counter_add_cast(void *st, const px_msg *m) {
  counter_t *c = st;
  int64_t n;
  if (px_to_int(px_map_get(m->payload, "n"), &n)) c->count += n;
  return PX_HANDLED;
}

static int counter_get(void *st, const px_msg *m) {
  (void)m;
  return reply_int("count", ((counter_t *)st)->count);
}

static int counter_encode(const void *st, px_w *w) {
  px_w_map(w, 1);
  px_w_str(w, "count", 5);
  px_w_int(w, ((const counter_t *)st)->count);
  return 0;
}

static int counter_decode(void *st, px_val v) {
  int64_t n;
  if (!px_to_int(px_map_get(v, "count"), &n)) return PX_ERR_INVALID;
  ((counter_t *)st)->count = n;
  return 0;
}

static const px_route counter_calls[] = {
    {"add", counter_add_call},
    {"get", counter_get},
    {NULL, NULL},
};

static const px_route counter_casts[] = {
    {"add", counter_add_cast},
    {NULL, NULL},
};

static const px_actor_def counter = {
    .role = "counter",
    .state_size = sizeof(counter_t),
    .init = counter_init,
    .encode_state = counter_encode,
    .decode_state = counter_decode,
    .calls = counter_calls,
    .casts = counter_casts,
};

/* ==== agent =============================================================== */

#define AGENT_MAX 256

typedef struct {
  char name[AGENT_MAX];
  size_t name_len;
  char id[AGENT_MAX];
  size_t id_len;
  px_buf found, answer; /* host results, reused across messages */
} agent_t;

static px_str agent_name(const agent_t *a) {
  return (px_str){a->name, a->name_len};
}

static px_str agent_id(const agent_t *a) {
  return (px_str){a->id, a->id_len};
}

/* ["agent", name, id], or ["agent", name, nil] (the template) when id.ptr
 * is NULL. */
static void agent_tuple(px_w *w, px_str name, px_str id) {
  px_w_array(w, 3);
  px_w_str(w, "agent", 5);
  px_w_strv(w, name);
  if (id.ptr) px_w_strv(w, id);
  else px_w_nil(w);
}

static int agent_init(void *st, const px_init_info *info) {
  agent_t *a = st;
  px_str name = px_map_str(info->args, "name", PX_S("agent"));
  if (name.len >= AGENT_MAX) return PX_ERR_INVALID;
  memcpy(a->name, name.ptr, name.len);
  a->name_len = name.len;
  int rc = px_self_id(&a->found);
  if (rc) return rc;
  if (a->found.len >= AGENT_MAX) return PX_ERR_RESOURCE;
  memcpy(a->id, a->found.data, a->found.len);
  a->id_len = a->found.len;

  /* Template and tuple in one writer: views are taken once it is done. */
  px_w *w = px_scratch();
  agent_tuple(w, name, (px_str){NULL, 0});
  size_t split = w->len;
  agent_tuple(w, name, agent_id(a));
  if (w->err) return PX_ERR_INTERNAL;
  px_val tmpl = px_val_of(w->buf, split);
  px_val tuple = px_val_of(w->buf + split, w->len - split);
  rc = px_ts_write_if_absent(tmpl, tuple, 0);
  if (rc == PX_ERR_CONFLICT) /* a previous incarnation's entry */
    rc = px_ts_replace(tmpl, tuple, 0, NULL);
  if (rc)
    px_logf(PX_LOG_WARN, "agent %.*s: not registered in the tuple space: %s",
            (int)name.len, name.ptr, px_status_name(rc));
  return 0; /* it still answers calls */
}

/* The third field of ["agent", name, _] (a view into a->found). */
static int agent_find(agent_t *a, px_str name, px_val *id) {
  px_w *w = px_scratch();
  agent_tuple(w, name, (px_str){NULL, 0});
  if (w->err) return PX_ERR_INTERNAL;
  int rc = px_ts_read(px_w_val(w), 0, &a->found);
  if (rc == PX_ERR_TIMEOUT) rc = PX_ERR_NOT_FOUND; /* timeout 0: one try */
  if (rc) return rc;
  *id = px_array_at(px_buf_val(&a->found), 2);
  return px_present(*id) ? PX_OK : PX_ERR_INVALID;
}

static int agent_whoami(void *st, const px_msg *m) {
  agent_t *a = st;
  (void)m;
  px_w *w = px_reply_begin();
  px_w_map(w, 2);
  px_w_str(w, "name", 4);
  px_w_strv(w, agent_name(a));
  px_w_str(w, "id", 2);
  px_w_strv(w, agent_id(a));
  return PX_HANDLED;
}

static int agent_lookup(void *st, const px_msg *m) {
  px_str name;
  px_val id;
  if (!px_to_str(px_map_get(m->payload, "name"), &name))
    return px_reply_error("invalid");
  int rc = agent_find(st, name, &id);
  if (rc) return px_reply_status(rc);
  return reply_raw("id", id);
}

/* ask(id, type, payload) and reply {"reply": answer}. */
static int agent_ask(agent_t *a, px_str id, const px_msg *m) {
  px_str type;
  if (!px_to_str(px_map_get(m->payload, "type"), &type))
    return px_reply_error("invalid");
  int rc = px_ask(id, type, px_map_get(m->payload, "payload"), 2000,
                  &a->answer);
  if (rc) return px_reply_status(rc);
  return reply_raw("reply", px_buf_val(&a->answer));
}

static int agent_ask_peer(void *st, const px_msg *m) {
  agent_t *a = st;
  px_str name, id;
  px_val idv;
  if (!px_to_str(px_map_get(m->payload, "name"), &name))
    return px_reply_error("invalid");
  int rc = agent_find(a, name, &idv);
  if (rc) return px_reply_status(rc);
  if (!px_to_str(idv, &id)) return px_reply_error("invalid");
  return agent_ask(a, id, m);
}

static int agent_ask_id(void *st, const px_msg *m) {
  px_str id;
  if (!px_to_str(px_map_get(m->payload, "id"), &id))
    return px_reply_error("invalid");
  return agent_ask(st, id, m);
}

static int agent_kv_incr(void *st, const px_msg *m) {
  px_str key;
  int64_t v;
  (void)st;
  if (!px_to_str(px_map_get(m->payload, "key"), &key))
    return px_reply_error("invalid");
  int rc = px_kv_increment(key, px_map_int(m->payload, "by", 1), &v);
  if (rc) return px_reply_status(rc);
  return reply_int("value", v);
}

static int agent_kv_put(void *st, const px_msg *m) {
  px_str key;
  (void)st;
  if (!px_to_str(px_map_get(m->payload, "key"), &key))
    return px_reply_error("invalid");
  int rc = px_kv_put(key, px_map_get(m->payload, "value"), 0);
  if (rc) return px_reply_status(rc);
  return reply_ok();
}

static int agent_kv_get(void *st, const px_msg *m) {
  agent_t *a = st;
  px_str key;
  if (!px_to_str(px_map_get(m->payload, "key"), &key))
    return px_reply_error("invalid");
  int rc = px_kv_get(key, &a->found);
  if (rc) return px_reply_status(rc);
  return reply_raw("value", px_buf_val(&a->found));
}

static int agent_sleep(void *st, const px_msg *m) {
  (void)st;
  int64_t ms = px_map_int(m->payload, "ms", 0);
  int rc = px_sleep(ms);
  if (rc) return px_reply_status(rc);
  return reply_int("slept", ms);
}

static int agent_echo(void *st, const px_msg *m) {
  (void)st;
  px_reply_value(m->payload);
  return PX_HANDLED;
}

static int agent_info(void *st, const px_msg *m) {
  uint8_t bytes[16];
  (void)st;
  (void)m;
  int rc = px_random(bytes, sizeof bytes);
  if (rc) return px_reply_status(rc);
  px_w *w = px_reply_begin();
  px_w_map(w, 2);
  px_w_str(w, "now_ms", 6);
  px_w_int(w, px_now_ms());
  px_w_str(w, "random_len", 10);
  px_w_uint(w, sizeof bytes);
  return PX_HANDLED;
}

static int agent_log(void *st, const px_msg *m) {
  px_str msg;
  (void)st;
  if (!px_to_str(px_map_get(m->payload, "msg"), &msg))
    return px_reply_error("invalid");
  int rc = px_log(PX_LOG_INFO, msg);
  if (rc) return px_reply_status(rc);
  printf("%.*s\n", (int)msg.len, msg.ptr); /* WASI fd_write: the node log */
  fflush(stdout);
  return reply_ok();
}

static int agent_metric(void *st, const px_msg *m) {
  px_str name;
  (void)st;
  if (!px_to_str(px_map_get(m->payload, "name"), &name))
    return px_reply_error("invalid");
  int rc = px_metrics_add(name, px_map_f64(m->payload, "delta", 1.0));
  if (rc) return px_reply_status(rc);
  return reply_ok();
}

static int agent_fetch(void *st, const px_msg *m) {
  agent_t *a = st;
  px_str link, path, body = PX_S("");
  if (!px_to_str(px_map_get(m->payload, "link"), &link) ||
      !px_to_str(px_map_get(m->payload, "path"), &path))
    return px_reply_error("invalid");
  int rc = px_http_fetch(link, PX_S("GET"), path, PX_S(""), &a->answer);
  if (rc) return px_reply_status(rc);
  px_val res = px_buf_val(&a->answer);
  int64_t status;
  if (!px_to_int(px_map_get(res, "status"), &status))
    return px_reply_error("invalid");
  px_to_bin(px_map_get(res, "body"), &body);
  px_w *w = px_reply_begin();
  px_w_map(w, 2);
  px_w_str(w, "status", 6);
  px_w_int(w, status);
  px_w_str(w, "body", 4);
  px_w_strv(w, body);
  return PX_HANDLED;
}

static int agent_spawn_counter(void *st, const px_msg *m) {
  agent_t *a = st;
  uint8_t buf[16];
  px_w args;
  (void)m;
  px_w_fixed(&args, buf, sizeof buf);
  px_w_map(&args, 1);
  px_w_str(&args, "start", 5);
  px_w_int(&args, 100);
  int rc = px_spawn(PX_S("counter"), px_w_val(&args), &a->found);
  if (rc) return px_reply_status(rc);
  px_w *w = px_reply_begin();
  px_w_map(w, 1);
  px_w_str(w, "id", 2);
  px_w_strv(w, px_buf_str(&a->found));
  return PX_HANDLED;
}

static int agent_encode(const void *st, px_w *w) {
  const agent_t *a = st;
  px_w_map(w, 2);
  px_w_str(w, "name", 4);
  px_w_strv(w, agent_name(a));
  px_w_str(w, "id", 2);
  px_w_strv(w, agent_id(a));
  return 0;
}

/* The name comes from args at init; a saved state may only confirm it. */
static int agent_decode(void *st, px_val v) {
  (void)st;
  return px_typeof(v) == PX_T_MAP ? 0 : PX_ERR_INVALID;
}

static const px_route agent_calls[] = {
    {"whoami", agent_whoami},
    {"lookup", agent_lookup},
    {"ask_peer", agent_ask_peer},
    {"ask_id", agent_ask_id},
    {"kv_incr", agent_kv_incr},
    {"kv_put", agent_kv_put},
    {"kv_get", agent_kv_get},
    {"sleep", agent_sleep},
    {"echo", agent_echo},
    {"info", agent_info},
    {"log", agent_log},
    {"metric", agent_metric},
    {"fetch", agent_fetch},
    {"spawn_counter", agent_spawn_counter},
    {NULL, NULL},
};

static const px_actor_def agent = {
    .role = "agent",
    .state_size = sizeof(agent_t),
    .init = agent_init,
    .encode_state = agent_encode,
    .decode_state = agent_decode,
    .calls = agent_calls,
};

/* ==== crasher ============================================================= */

typedef struct {
  int64_t starts;
} crasher_t;

static int crasher_init(void *st, const px_init_info *info) {
  crasher_t *c = st;
  (void)info;
  if (px_kv_increment(PX_S("crasher_starts"), 1, &c->starts))
    c->starts = -1; /* no key-value store on this node */
  return 0;
}

static int crasher_ping(void *st, const px_msg *m) {
  (void)m;
  px_w *w = px_reply_begin();
  px_w_map(w, 2);
  px_w_str(w, "pong", 4);
  px_w_bool(w, true);
  px_w_str(w, "starts", 6);
  px_w_int(w, ((crasher_t *)st)->starts);
  return PX_HANDLED;
}

static int crasher_crash(void *st, const px_msg *m) {
  (void)st;
  (void)m;
  __builtin_trap(); /* wasm `unreachable`: {wasm_trap, unreachable} */
}

static int crasher_spin(void *st, const px_msg *m) {
  volatile uint64_t spins = 0;
  (void)st;
  (void)m;
  for (;;) spins++; /* until the host traps it with cpu_limit */
}

/* Allocates and touches n MiB, then frees it. When malloc fails (the
 * memory.grow under it returns -1 past the node's max_memory_bytes) the
 * reply is {"ok": false}: this handler never traps on purpose. */
static int crasher_grow(void *st, const px_msg *m) {
  (void)st;
  int64_t mb = px_map_int(m->payload, "mb", 0);
  bool ok = false;
  if (mb >= 0 && mb < 4096) { /* wasm32: under 4 GiB */
    size_t size = (size_t)mb << 20;
    uint8_t *p = malloc(size ? size : 1);
    if (p) {
      volatile uint8_t *touch = p; /* volatile: the compiler keeps it all */
      for (size_t i = 0; i < size; i += 4096) touch[i] = 1;
      ok = true;
      free(p);
    }
  }
  px_w *w = px_reply_begin();
  px_w_map(w, 1);
  px_w_str(w, "ok", 2);
  px_w_bool(w, ok);
  return PX_HANDLED;
}

static int crasher_encode(const void *st, px_w *w) {
  px_w_map(w, 1);
  px_w_str(w, "starts", 6);
  px_w_int(w, ((const crasher_t *)st)->starts);
  return 0;
}

static int crasher_decode(void *st, px_val v) {
  /* starts counts this incarnation's start; a saved value is older. */
  (void)st;
  return px_typeof(v) == PX_T_MAP ? 0 : PX_ERR_INVALID;
}

static const px_route crasher_calls[] = {
    {"ping", crasher_ping},
    {"crash", crasher_crash},
    {"spin", crasher_spin},
    {"grow", crasher_grow},
    {NULL, NULL},
};

static const px_actor_def crasher = {
    .role = "crasher",
    .state_size = sizeof(crasher_t),
    .init = crasher_init,
    .encode_state = crasher_encode,
    .decode_state = crasher_decode,
    .calls = crasher_calls,
};

const px_actor_def *const px_actors[] = {&counter, &agent, &crasher, NULL};
