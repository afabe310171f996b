/* The imports that may park the actor or act on the runtime: actors, the
 * key-value store, the tuple space, service links. They run on the
 * actor's coroutine right under the guest's frames, with wasmtime's
 * thread-local taken off the thread (host.c import_cb, tls.h), so they
 * may block like any handler code: px_ask, px_ts_take and px_sleep park
 * the actor, not the worker. Guest memory is reached through the store's
 * context. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plexspaces/actor.h"
#include "plexspaces/core.h"
#include "plexspaces/error.h"
#include "plexspaces/gen_server.h"
#include "plexspaces/runtime.h"
#include "wasm/wasm_internal.h"

#define OP(name)                                                       \
  void px__wasm_op_##name(px__wasm_inst *in, wasmtime_context_t *ctx, \
                          const wasmtime_val_t *a, wasmtime_val_t *r)

#define DEFAULT_ASK_MS 5000


/* An actor id argument: "<node.index.gen>" or a registered name. */
static int32_t arg_ref(px__wasm_inst *in, wasmtime_context_t *ctx,
                       const wasmtime_val_t *a, px_ref *out) {
  char buf[256];
  int32_t st = px__wasm_arg_str(in, ctx, a, buf, sizeof buf);
  if (st) return st;
  if (buf[0] == '<') {
    px_val v = px_str(buf);
    bool ok = px_val_ref(v, out);
    px_val_release(v);
    return ok ? 0 : PX__W_INVALID;
  }
  return px_whereis(buf, out) ? PX__W_NOT_FOUND : 0;
}

static int32_t arg_type(px__wasm_inst *in, wasmtime_context_t *ctx,
                        const wasmtime_val_t *a, px_atom *out) {
  uint32_t len = (uint32_t)a[1].of.i32;
  uint8_t *p = px__wasm_mem(in, ctx, (uint32_t)a[0].of.i32, len);
  if (!p) return PX__W_INVALID;
  int rc = px_atom_untrusted((const char *)p, len, out);
  return rc == PX_ERANGE ? PX__W_RESOURCE : rc ? PX__W_INVALID : 0;
}

/* ---- actors -------------------------------------------------------------- */

OP(send) {
  px_ref to;
  px_atom type;
  px_val v;
  int32_t st;
  if ((st = arg_ref(in, ctx, a, &to)) ||
      (st = arg_type(in, ctx, a + 2, &type)) ||
      (st = px__wasm_arg_val(in, ctx, a + 4, &v)))
    return ret_i32(r, st);
  ret_i32(r, px__wasm_status(px_send(to, type, v)));
}

OP(ask) {
  px_ref to;
  px_atom type;
  px_val v, reply = px_nil();
  int32_t st;
  if ((st = arg_ref(in, ctx, a, &to)) ||
      (st = arg_type(in, ctx, a + 2, &type)) ||
      (st = px__wasm_arg_val(in, ctx, a + 4, &v)))
    return ret_i32(r, st);
  int64_t tmo = a[6].of.i64 > 0 ? a[6].of.i64 : DEFAULT_ASK_MS;
  int rc = px_ask(to, type, v, tmo, &reply);
  if (rc == 0) return ret_i32(r, px__wasm_set_result_val(in, reply));
  if (rc == PX_EHANDLER) {
    st = px__wasm_set_result_val(in, reply);
    return ret_i32(r, st < 0 ? st : PX__W_REMOTE);
  }
  px_val_release(reply);
  ret_i32(r, px__wasm_status(rc));
}

OP(spawn) {
  char role[64];
  int32_t st = px__wasm_arg_str(in, ctx, a, role, sizeof role);
  if (st) return ret_i32(r, st);
  px_val args = px_map_new(0);
  if (a[3].of.i32 != 0) {
    px_val_release(args);
    if ((st = px__wasm_arg_val(in, ctx, a + 2, &args))) return ret_i32(r, st);
    if (args.type != PX_T_MAP) {
      px_val_release(args);
      return ret_i32(r, PX__W_INVALID);
    }
  }
  const px_gen_server *gs = px__wasm_sibling_type(in->type, role);
  px_ref ref;
  px_gen_start_opts o = {.timeout_ms = 30000};
  int rc;
  if (gs) {
    /* Linked, as spawn_link: an actor's helpers go down with it (and
     * with the app, at undeploy), and their crash reaches it. */
    rc = px_gen_server_start_link(gs, args, &o, &ref); /* takes args */
  } else {
    px_val_release(args);
    rc = PX_ENOMEM;
  }
  if (rc) return ret_i32(r, px__wasm_status(rc));
  char id[64];
  px_ref_format(ref, id, sizeof id);
  ret_i32(r, px__wasm_set_result(in, id, strlen(id)));
}

OP(stop) {
  px_ref to;
  int32_t st = arg_ref(in, ctx, a, &to);
  if (st) return ret_i32(r, st);
  /* Unlinked first: stopping an actor one spawned (and so is linked to)
   * must not take the caller down with it. */
  px_unlink(to);
  ret_i32(r, px__wasm_status(px_exit(to, px_atomv(px_a()->shutdown))));
}

OP(link) {
  px_ref to;
  int32_t st = arg_ref(in, ctx, a, &to);
  ret_i32(r, st ? st : px__wasm_status(px_link(to)));
}

OP(unlink) {
  px_ref to;
  int32_t st = arg_ref(in, ctx, a, &to);
  ret_i32(r, st ? st : px__wasm_status(px_unlink(to)));
}

OP(monitor) {
  px_ref to;
  int32_t st = arg_ref(in, ctx, a, &to);
  if (st) return ret_i64(r, st);
  px_mref m = px_monitor(to);
  ret_i64(r, m ? (int64_t)m : PX__W_INTERNAL);
}

OP(demonitor) {
  (void)in, (void)ctx;
  ret_i32(r, px__wasm_status(px_demonitor((px_mref)a[0].of.i64, true)));
}

OP(send_after) {
  px_atom type;
  px_val v;
  int32_t st;
  int64_t ms = a[0].of.i64;
  if (ms < 0) return ret_i64(r, PX__W_INVALID);
  if ((st = arg_type(in, ctx, a + 1, &type)) ||
      (st = px__wasm_arg_val(in, ctx, a + 3, &v)))
    return ret_i64(r, st);
  /* In an envelope, so that the timer arrives as an info (kind 3) and
   * every other plain message as a cast (actor.c). */
  px_tref t = px_send_after(ms, px_self(), px_atom_of(PX__WASM_TIMER),
                            px_arr(2, px_atomv(type), v));
  ret_i64(r, t ? (int64_t)t : PX__W_INTERNAL);
}

OP(cancel_timer) {
  (void)in, (void)ctx;
  ret_i32(r, px__wasm_status(px_cancel_timer((px_tref)a[0].of.i64)));
}

OP(sleep) {
  (void)in, (void)ctx;
  int64_t ms = a[0].of.i64;
  ret_i32(r, ms < 0 ? PX__W_INVALID : px__wasm_status(px_sleep(ms)));
}

/* ---- key-value ----------------------------------------------------------- */

static int32_t kv(px__wasm_inst *in, px_kv **out) {
  if (!px__wasm.o.store) return PX__W_NOT_SUPPORTED;
  if (!in->kv) {
    int rc = px_kv_open(px__wasm.o.store, in->tenant, in->ns, "app",
                        &in->kv);
    if (rc) return px__wasm_status(rc);
  }
  *out = in->kv;
  return 0;
}

static int32_t kv_key(px__wasm_inst *in, wasmtime_context_t *ctx,
                      const wasmtime_val_t *a, px_kv **k, char *key) {
  int32_t st = kv(in, k);
  if (st) return st;
  st = px__wasm_arg_str(in, ctx, a, key, PX_KV_MAX_KEY + 1);
  return st == PX__W_RESOURCE ? PX__W_INVALID : st;
}

OP(kv_get) {
  px_kv *k = NULL;
  char key[PX_KV_MAX_KEY + 1];
  int32_t st = kv_key(in, ctx, a, &k, key);
  if (st) return ret_i32(r, st);
  px_val v;
  int rc = px_kv_get(k, key, &v);
  ret_i32(r, rc ? px__wasm_status(rc) : px__wasm_set_result_val(in, v));
}

OP(kv_put) {
  px_kv *k = NULL;
  char key[PX_KV_MAX_KEY + 1];
  px_val v;
  int32_t st = kv_key(in, ctx, a, &k, key);
  if (st || (st = px__wasm_arg_val(in, ctx, a + 2, &v))) return ret_i32(r, st);
  ret_i32(r, px__wasm_status(px_kv_put(k, key, v, a[4].of.i64)));
}

OP(kv_delete) {
  px_kv *k = NULL;
  char key[PX_KV_MAX_KEY + 1];
  int32_t st = kv_key(in, ctx, a, &k, key);
  ret_i32(r, st ? st : px__wasm_status(px_kv_delete(k, key)));
}

static int collect_key(void *ud, const char *key, px_val value,
                       int64_t expiry) {
  (void)expiry;
  px_val_release(value);
  px_array_push(ud, px_str(key));
  return 0;
}

OP(kv_list) {
  px_kv *k = NULL;
  char prefix[PX_KV_MAX_KEY + 1];
  int32_t st = kv_key(in, ctx, a, &k, prefix);
  if (st) return ret_i32(r, st);
  px_val keys = px_array_new(8);
  int rc = px_kv_list(k, prefix, collect_key, &keys);
  if (rc) {
    px_val_release(keys);
    return ret_i32(r, px__wasm_status(rc));
  }
  ret_i32(r, px__wasm_set_result_val(in, keys));
}

OP(kv_cas) {
  px_kv *k = NULL;
  char key[PX_KV_MAX_KEY + 1];
  px_val expected = px_nil(), v;
  int32_t st = kv_key(in, ctx, a, &k, key);
  bool create_only = a[3].of.i32 == 0;
  if (st || (!create_only && (st = px__wasm_arg_val(in, ctx, a + 2,
                                                    &expected))))
    return ret_i32(r, st);
  if ((st = px__wasm_arg_val(in, ctx, a + 4, &v))) {
    px_val_release(expected);
    return ret_i32(r, st);
  }
  int rc = px_kv_cas(k, key, create_only ? NULL : &expected, v, a[6].of.i64);
  px_val_release(expected);
  ret_i32(r, px__wasm_status(rc));
}

OP(kv_increment) {
  px_kv *k = NULL;
  char key[PX_KV_MAX_KEY + 1];
  int32_t st = kv_key(in, ctx, a, &k, key);
  if (st) return ret_i32(r, st);
  if (!px__wasm_mem(in, ctx, (uint32_t)a[3].of.i32, 8))
    return ret_i32(r, PX__W_INVALID);
  int64_t now;
  int rc = px_kv_incr(k, key, a[2].of.i64, &now);
  if (rc) return ret_i32(r, px__wasm_status(rc));
  /* Looked up again: the store may have parked us, and memory may have
   * moved meanwhile. Little-endian, as WebAssembly is. */
  uint8_t *p = px__wasm_mem(in, ctx, (uint32_t)a[3].of.i32, 8);
  if (!p) return ret_i32(r, PX__W_INVALID);
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)((uint64_t)now >> (8 * i));
  ret_i32(r, 0);
}

OP(kv_ttl) {
  px_kv *k = NULL;
  char key[PX_KV_MAX_KEY + 1];
  int32_t st = kv_key(in, ctx, a, &k, key);
  if (st) return ret_i64(r, st);
  int64_t left;
  int rc = px_kv_ttl(k, key, &left);
  ret_i64(r, rc ? px__wasm_status(rc) : left);
}

/* ---- tuple space --------------------------------------------------------- */

static int32_t space(px__wasm_inst *in, px_space **out) {
  if (!in->space) {
    int rc = px_space_attach(in->tenant, in->ns, "default", &in->space);
    if (rc) return px__wasm_status(rc);
  }
  *out = in->space;
  return 0;
}

/* The space and one value argument (a tuple or a template). */
static int32_t space_val(px__wasm_inst *in, wasmtime_context_t *ctx,
                         const wasmtime_val_t *a, px_space **s, px_val *v) {
  int32_t st = space(in, s);
  return st ? st : px__wasm_arg_val(in, ctx, a, v);
}

OP(ts_write) {
  px_space *s = NULL;
  px_val t;
  int32_t st = space_val(in, ctx, a, &s, &t);
  ret_i32(r, st ? st : px__wasm_status(px_ts_write(s, t, a[2].of.i64, NULL)));
}

static void match(px__wasm_inst *in, wasmtime_context_t *ctx,
                  const wasmtime_val_t *a, wasmtime_val_t *r, bool take) {
  px_space *s = NULL;
  px_val t, out;
  int32_t st = space_val(in, ctx, a, &s, &t);
  if (st) return ret_i32(r, st);
  int rc = take ? px_ts_take(s, t, a[2].of.i64, &out)
                : px_ts_read(s, t, a[2].of.i64, &out);
  ret_i32(r, rc ? px__wasm_status(rc) : px__wasm_set_result_val(in, out));
}

OP(ts_read) { match(in, ctx, a, r, false); }
OP(ts_take) { match(in, ctx, a, r, true); }

OP(ts_read_all) {
  px_space *s = NULL;
  px_val t, out;
  int32_t st = space_val(in, ctx, a, &s, &t);
  if (st) return ret_i32(r, st);
  int32_t limit = a[2].of.i32;
  int rc = px_ts_read_all(s, t, limit > 0 ? (size_t)limit : 1000, &out);
  ret_i32(r, rc ? px__wasm_status(rc) : px__wasm_set_result_val(in, out));
}

OP(ts_count) {
  px_space *s = NULL;
  px_val t;
  int32_t st = space_val(in, ctx, a, &s, &t);
  if (st) return ret_i64(r, st);
  size_t n;
  int rc = px_ts_count(s, t, &n);
  ret_i64(r, rc ? px__wasm_status(rc) : (int64_t)n);
}

/* The space, a template and a tuple: both values or neither. */
static int32_t space_tmpl_tuple(px__wasm_inst *in, wasmtime_context_t *ctx,
                                const wasmtime_val_t *a, px_space **s,
                                px_val *tmpl, px_val *tuple) {
  int32_t st = space_val(in, ctx, a, s, tmpl);
  if (st) return st;
  if ((st = px__wasm_arg_val(in, ctx, a + 2, tuple))) px_val_release(*tmpl);
  return st;
}

OP(ts_write_if_absent) {
  px_space *s = NULL;
  px_val t, tuple;
  int32_t st = space_tmpl_tuple(in, ctx, a, &s, &t, &tuple);
  if (st) return ret_i32(r, st);
  ret_i32(r, px__wasm_status(px_ts_write_if_absent(s, t, tuple,
                                                   a[4].of.i64)));
}

OP(ts_replace) {
  px_space *s = NULL;
  px_val t, tuple, old;
  int32_t st = space_tmpl_tuple(in, ctx, a, &s, &t, &tuple);
  if (st) return ret_i32(r, st);
  int rc = px_ts_replace(s, t, tuple, a[4].of.i64, &old);
  ret_i32(r, rc ? px__wasm_status(rc) : px__wasm_set_result_val(in, old));
}

/* ---- service links ------------------------------------------------------- */

/* One request, done by a thread of its own with libcurl (which blocks)
 * while the actor waits on a promise. */
typedef struct fetch {
  px_promise p;
  char *url, *method;
  char *body;
  size_t body_len;
  long timeout_ms;
  int64_t attempts, delay_ms;
  char *resp;
  size_t resp_len, resp_cap;
  bool too_big;
} fetch;

#define MAX_RESPONSE (4u << 20)

static size_t on_data(char *b, size_t sz, size_t n, void *ud) {
  fetch *f = ud;
  size_t len = sz * n;
  if (f->resp_len + len > MAX_RESPONSE) {
    f->too_big = true;
    return 0;
  }
  if (f->resp_len + len > f->resp_cap) {
    size_t cap = f->resp_cap ? f->resp_cap : 4096;
    while (cap < f->resp_len + len) cap *= 2;
    char *nb = realloc(f->resp, cap);
    if (!nb) return 0;
    f->resp = nb;
    f->resp_cap = cap;
  }
  memcpy(f->resp + f->resp_len, b, len);
  f->resp_len += len;
  return len;
}

static void fetch_free(fetch *f) {
  free(f->url);
  free(f->method);
  free(f->body);
  free(f->resp);
  free(f);
}

static void *fetch_main(void *arg) {
  fetch *f = arg;
  CURL *c = curl_easy_init();
  CURLcode cc = CURLE_FAILED_INIT;
  long status = 0;
  int64_t delay = f->delay_ms;
  for (int64_t i = 0; c && i < f->attempts; i++) {
    f->resp_len = 0;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, f->url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, f->method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, f->timeout_ms);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
    if (f->body_len) {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, f->body);
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)f->body_len);
    }
    cc = curl_easy_perform(c);
    if (cc == CURLE_OK) {
      curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
      if (status < 500) break; /* a 5xx is retried like a failure */
    }
    if (f->too_big || i + 1 == f->attempts) break;
    struct timespec ts = {delay / 1000, (delay % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    delay *= 2;
  }
  if (c) curl_easy_cleanup(c);
  if (cc == CURLE_OK)
    px_reply_to(f->p, px_map(2, px_str("status"), px_int(status),
                             px_str("body"), px_bin(f->resp, f->resp_len)));
  else
    px_reply_error_to(f->p, px_str(f->too_big ? "response too large"
                                              : curl_easy_strerror(cc)));
  fetch_free(f);
  return NULL;
}

static char *dup_arg(px__wasm_inst *in, wasmtime_context_t *ctx,
                     const wasmtime_val_t *a, size_t max, size_t *len) {
  uint32_t n = (uint32_t)a[1].of.i32;
  uint8_t *p = px__wasm_mem(in, ctx, (uint32_t)a[0].of.i32, n);
  if (!p || n > max) return NULL;
  char *s = malloc(n + 1);
  if (!s) return NULL;
  memcpy(s, p, n);
  s[n] = 0;
  if (len) *len = n;
  return s;
}

OP(http_fetch) {
  char name[64], method[16];
  int32_t st;
  if ((st = px__wasm_arg_str(in, ctx, a, name, sizeof name)) ||
      (st = px__wasm_arg_str(in, ctx, a + 2, method, sizeof method)))
    return ret_i32(r, st == PX__W_RESOURCE ? PX__W_INVALID : st);
  const px__wasm_link *link = NULL;
  for (size_t i = 0; in->type && i < in->type->nlinks; i++)
    if (!strcmp(in->type->links[i].name, name)) link = &in->type->links[i];
  if (!link) return ret_i32(r, PX__W_NOT_PERMITTED);
  for (char *m = method; *m; m++)
    if (*m < 'A' || *m > 'Z') return ret_i32(r, PX__W_INVALID);
  size_t plen = 0, blen = 0;
  char *path = dup_arg(in, ctx, a + 4, 8192, &plen);
  char *body = dup_arg(in, ctx, a + 6, 16u << 20, &blen);
  /* The path stays under the link's base: no scheme, host or "..". */
  if (!path || !body || (plen && path[0] != '/') || strstr(path, "..") ||
      strpbrk(path, " \r\n\\")) {
    free(path);
    free(body);
    return ret_i32(r, PX__W_INVALID);
  }
  fetch *f = calloc(1, sizeof *f);
  size_t ulen = strlen(link->base_url) + plen + 1;
  char *url = f ? malloc(ulen) : NULL;
  if (!url) {
    free(f);
    free(path);
    free(body);
    return ret_i32(r, PX__W_INTERNAL);
  }
  snprintf(url, ulen, "%s%s", link->base_url, path);
  free(path);
  f->url = url;
  f->method = strdup(method);
  f->body = body;
  f->body_len = blen;
  f->timeout_ms = link->timeout_ms > 0 ? (long)link->timeout_ms : 30000;
  f->attempts = link->max_attempts > 0 ? link->max_attempts : 1;
  f->delay_ms = link->initial_delay_ms > 0 ? link->initial_delay_ms : 100;
  f->p = px_promise_new();
  px_promise p = f->p;
  /* every attempt's timeout, the doubling delays between them, slack */
  int64_t doublings = f->attempts < 20 ? f->attempts : 20;
  int64_t budget = (int64_t)f->timeout_ms * f->attempts +
                   f->delay_ms * ((int64_t)1 << doublings) + 1000;
  pthread_t th;
  pthread_attr_t at;
  pthread_attr_init(&at);
  pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
  int err = pthread_create(&th, &at, fetch_main, f);
  pthread_attr_destroy(&at);
  if (err) {
    fetch_free(f);
    return ret_i32(r, PX__W_RESOURCE);
  }
  px_val out;
  int rc = px_promise_await(p, budget, &out);
  if (rc == 0) return ret_i32(r, px__wasm_set_result_val(in, out));
  if (rc == PX_EHANDLER) {
    char why[256];
    px_val_format(out, why, sizeof why);
    px_log(PX_LOG_WARN, "wasm", "http_fetch %s via link %s failed: %s",
           method, name, why);
    px_val_release(out);
  }
  ret_i32(r, PX__W_INTERNAL);
}
