/* The host side of docs/wasm-abi.md: the import table, how imports are
 * bound in the linker, and the imports that never block. The others are
 * in host_ops.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "plexspaces/core.h"
#include "plexspaces/error.h"
#include "plexspaces/metrics.h"
#include "wasm/tls.h"
#include "wasm/wasm_internal.h"

/* ---- statuses and results ------------------------------------------------ */

int32_t px__wasm_status(int rc) {
  switch (rc) {
    case 0: return PX__W_OK;
    case PX_ENOTFOUND: case PX_EBADNAME: return PX__W_NOT_FOUND;
    case PX_ETIMEDOUT: return PX__W_TIMEOUT;
    case PX_EINVAL: case PX_EDECODE: case PX_ETYPE: case PX_EENCODE:
    case PX_EDEADLOCK:
      return PX__W_INVALID;
    case PX_EPERM: return PX__W_NOT_PERMITTED;
    case PX_ERANGE: case PX_EMAILBOXFULL: return PX__W_RESOURCE;
    case PX_ENOPROC: case PX_EEXITED: return PX__W_NO_PROC;
    case PX_ENOTSUP: return PX__W_NOT_SUPPORTED;
    case PX_ECONFLICT: case PX_EEXIST: case PX_ENAMETAKEN:
      return PX__W_CONFLICT;
    case PX_EHANDLER: return PX__W_REMOTE;
    default: return PX__W_INTERNAL;
  }
}

int32_t px__wasm_set_result(px__wasm_inst *in, const void *b, size_t n) {
  if (n > INT32_MAX) return PX__W_RESOURCE;
  char *c = malloc(n ? n : 1);
  if (!c) return PX__W_INTERNAL;
  if (n) memcpy(c, b, n);
  free(in->result);
  in->result = c;
  in->result_len = n;
  return (int32_t)n;
}

int32_t px__wasm_set_result_val(px__wasm_inst *in, px_val v) {
  char *b;
  size_t n;
  int rc = px_msgpack_encode(v, &b, &n);
  px_val_release(v);
  if (rc) return px__wasm_status(rc);
  if (n > INT32_MAX) {
    free(b);
    return PX__W_RESOURCE;
  }
  free(in->result);
  in->result = b;
  in->result_len = n;
  return (int32_t)n;
}

static uint32_t u32(const wasmtime_val_t *a) { return (uint32_t)a->of.i32; }

int32_t px__wasm_arg_val(px__wasm_inst *in, wasmtime_context_t *ctx,
                         const wasmtime_val_t *a, px_val *out) {
  uint8_t *p = px__wasm_mem(in, ctx, u32(&a[0]), u32(&a[1]));
  if (!p) return PX__W_INVALID;
  return px_msgpack_decode_untrusted(p, u32(&a[1]), out) ? PX__W_INVALID : 0;
}

int32_t px__wasm_arg_str(px__wasm_inst *in, wasmtime_context_t *ctx,
                         const wasmtime_val_t *a, char *buf, size_t cap) {
  uint32_t len = u32(&a[1]);
  uint8_t *p = px__wasm_mem(in, ctx, u32(&a[0]), len);
  if (!p) return PX__W_INVALID;
  if ((size_t)len >= cap) return PX__W_RESOURCE;
  memcpy(buf, p, len);
  buf[len] = 0;
  if (memchr(buf, 0, len)) return PX__W_INVALID;
  return 0;
}


/* ---- imports that never block -------------------------------------------- */

static void h_reply(px__wasm_inst *in, wasmtime_context_t *ctx,
                    const wasmtime_val_t *a, wasmtime_val_t *r) {
  if (!in->in_call) return ret_i32(r, PX__W_INVALID);
  px_val v;
  int32_t st = px__wasm_arg_val(in, ctx, a, &v);
  if (st) return ret_i32(r, st);
  px_val_release(in->reply);
  in->reply = v;
  in->has_reply = true;
  ret_i32(r, 0);
}

static void h_self_id(px__wasm_inst *in, wasmtime_context_t *ctx,
                      const wasmtime_val_t *a, wasmtime_val_t *r) {
  (void)ctx, (void)a;
  char buf[64];
  px_ref_format(in->self, buf, sizeof buf);
  ret_i32(r, px__wasm_set_result(in, buf, strlen(buf)));
}

static void h_log(px__wasm_inst *in, wasmtime_context_t *ctx,
                  const wasmtime_val_t *a, wasmtime_val_t *r) {
  int32_t level = a[0].of.i32;
  uint32_t len = u32(&a[2]);
  uint8_t *p = px__wasm_mem(in, ctx, u32(&a[1]), len);
  if (!p) return ret_i32(r, PX__W_INVALID);
  px_log_level lv = level <= 0 ? PX_LOG_DEBUG : level == 1 ? PX_LOG_INFO
                  : level == 2 ? PX_LOG_WARN : PX_LOG_ERROR;
  char id[64];
  px_ref_format(in->self, id, sizeof id);
  px_log(lv, "wasm", "%s %s: %.*s", in->type ? in->type->actor_type : "?",
         id, (int)(len > 4096 ? 4096 : len), (const char *)p);
  ret_i32(r, 0);
}

static void h_now_ms(px__wasm_inst *in, wasmtime_context_t *ctx,
                     const wasmtime_val_t *a, wasmtime_val_t *r) {
  (void)in, (void)ctx, (void)a;
  ret_i64(r, px_wall_ms());
}

static void h_random(px__wasm_inst *in, wasmtime_context_t *ctx,
                     const wasmtime_val_t *a, wasmtime_val_t *r) {
  uint32_t len = u32(&a[1]);
  if (len > 65536) return ret_i32(r, PX__W_RESOURCE);
  uint8_t *p = px__wasm_mem(in, ctx, u32(&a[0]), len);
  if (!p) return ret_i32(r, PX__W_INVALID);
  size_t got = 0;
  while (got < len) {
    ssize_t n = getrandom(p + got, len - got, 0);
    if (n <= 0) return ret_i32(r, PX__W_INTERNAL);
    got += (size_t)n;
  }
  ret_i32(r, 0);
}

static bool metric_name_ok(const char *s) {
  size_t n = strlen(s);
  if (!n || n > 64) return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
          s[i] == '_'))
      return false;
  return true;
}

static void h_metrics_add(px__wasm_inst *in, wasmtime_context_t *ctx,
                          const wasmtime_val_t *a, wasmtime_val_t *r) {
  char name[80];
  int32_t st = px__wasm_arg_str(in, ctx, a, name, sizeof name);
  if (st) return ret_i32(r, st);
  double d = a[2].of.f64;
  if (!metric_name_ok(name) || !(d >= 0) || d > 1e300)
    return ret_i32(r, PX__W_INVALID);
  char labels[256];
  snprintf(labels, sizeof labels, "tenant=%s,namespace=%s,name=%s",
           in->tenant, in->ns, name);
  ret_i32(r, px__wasm_status(px_metrics_add(
                 "plexspaces_wasm_app_metric_total", labels, d)));
}

/* Copies what fits and returns the whole length, so result_read(0, 0)
 * asks the size (of an ERR_REMOTE error value, say). */
static void h_result_read(px__wasm_inst *in, wasmtime_context_t *ctx,
                          const wasmtime_val_t *a, wasmtime_val_t *r) {
  uint32_t len = u32(&a[1]);
  if (len > in->result_len) len = (uint32_t)in->result_len;
  uint8_t *p = px__wasm_mem(in, ctx, u32(&a[0]), len);
  if (!p) return ret_i32(r, PX__W_INVALID);
  if (len) memcpy(p, in->result, len);
  ret_i32(r, (int32_t)in->result_len);
}

/* ---- WASI stdout and stderr ---------------------------------------------- */

/* fd_write, in place of WASI's own: lines written to fd 1 and 2 go to the
 * node log, tagged with the actor; there is no other descriptor to write
 * (nothing is preopened). wasmtime's version would hand the bytes to a
 * stream drained by a tokio thread, after the actor (and the instance it
 * names) may be gone. Returns a WASI errno. */
#define WASI_EBADF 8
#define WASI_EFAULT 21

static void stream_put(px__wasm_inst *in, struct px__wasm_stream *s,
                       const uint8_t *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    bool nl = b[i] == '\n';
    if (!nl) s->line[s->len++] = (char)b[i];
    if (nl || s->len == sizeof s->line - 1) {
      char id[64];
      px_ref_format(in->self, id, sizeof id);
      px_log(PX_LOG_INFO, "wasm", "%s %s %s: %.*s",
             in->type && in->type->actor_type[0] ? in->type->actor_type
                                                 : "(deploy check)",
             id, s->name, (int)s->len, s->line);
      s->len = 0;
    }
  }
}

static void h_fd_write(px__wasm_inst *in, wasmtime_context_t *ctx,
                       const wasmtime_val_t *a, wasmtime_val_t *r) {
  int32_t fd = a[0].of.i32;
  uint32_t iovs = u32(&a[1]), n = u32(&a[2]);
  struct px__wasm_stream *s = fd == 1 ? &in->out : fd == 2 ? &in->err : NULL;
  if (!s) return ret_i32(r, WASI_EBADF);
  if (n > 1024 || !px__wasm_mem(in, ctx, iovs, n * 8))
    return ret_i32(r, WASI_EFAULT);
  uint32_t total = 0;
  for (uint32_t i = 0; i < n; i++) {
    /* looked up again each time: nothing here grows memory, but the
     * pointer must not outlive a call that could */
    const uint8_t *iov = px__wasm_mem(in, ctx, iovs + 8 * i, 8);
    uint32_t p = (uint32_t)iov[0] | (uint32_t)iov[1] << 8 |
                 (uint32_t)iov[2] << 16 | (uint32_t)iov[3] << 24;
    uint32_t len = (uint32_t)iov[4] | (uint32_t)iov[5] << 8 |
                   (uint32_t)iov[6] << 16 | (uint32_t)iov[7] << 24;
    const uint8_t *b = px__wasm_mem(in, ctx, p, len);
    if (!b) return ret_i32(r, WASI_EFAULT);
    stream_put(in, s, b, len);
    total += len;
  }
  uint8_t *out = px__wasm_mem(in, ctx, u32(&a[3]), 4);
  if (!out) return ret_i32(r, WASI_EFAULT);
  for (int i = 0; i < 4; i++) out[i] = (uint8_t)(total >> (8 * i));
  ret_i32(r, 0);
}

static const px__wasm_import wasi_fd_write = {"fd_write", "iiii:i", false,
                                              h_fd_write};

/* ---- the table ----------------------------------------------------------- */

/* host_ops.c */
void px__wasm_op_send(px__wasm_inst *, wasmtime_context_t *,
                      const wasmtime_val_t *, wasmtime_val_t *);
#define OP(name)                                                        \
  void px__wasm_op_##name(px__wasm_inst *, wasmtime_context_t *,      \
                          const wasmtime_val_t *, wasmtime_val_t *);
OP(ask) OP(spawn) OP(stop) OP(link) OP(unlink) OP(monitor) OP(demonitor)
OP(send_after) OP(cancel_timer) OP(sleep)
OP(kv_get) OP(kv_put) OP(kv_delete) OP(kv_list) OP(kv_cas) OP(kv_increment)
OP(kv_ttl)
OP(ts_write) OP(ts_read) OP(ts_take) OP(ts_read_all) OP(ts_count)
OP(ts_write_if_absent) OP(ts_replace)
OP(http_fetch)
#undef OP

#define SYNC(n, s) {#n, s, false, h_##n}
#define DEFER(n, s) {#n, s, true, px__wasm_op_##n}

const px__wasm_import px__wasm_imports[] = {
    /* actors */
    DEFER(send, "iiiiii:i"),
    DEFER(ask, "iiiiiiI:i"),
    SYNC(reply, "ii:i"),
    SYNC(self_id, ":i"),
    DEFER(spawn, "iiii:i"),
    DEFER(stop, "ii:i"),
    DEFER(link, "ii:i"),
    DEFER(unlink, "ii:i"),
    DEFER(monitor, "ii:I"),
    DEFER(demonitor, "I:i"),
    DEFER(send_after, "Iiiii:I"),
    DEFER(cancel_timer, "I:i"),
    DEFER(sleep, "I:i"),
    /* utilities */
    SYNC(log, "iii:i"),
    SYNC(now_ms, ":I"),
    SYNC(random, "ii:i"),
    SYNC(metrics_add, "iiF:i"),
    SYNC(result_read, "ii:i"),
    /* key-value */
    DEFER(kv_get, "ii:i"),
    DEFER(kv_put, "iiiiI:i"),
    DEFER(kv_delete, "ii:i"),
    DEFER(kv_list, "ii:i"),
    DEFER(kv_cas, "iiiiiiI:i"),
    DEFER(kv_increment, "iiIi:i"),
    DEFER(kv_ttl, "ii:I"),
    /* tuple space */
    DEFER(ts_write, "iiI:i"),
    DEFER(ts_read, "iiI:i"),
    DEFER(ts_take, "iiI:i"),
    DEFER(ts_read_all, "iii:i"),
    DEFER(ts_count, "ii:I"),
    DEFER(ts_write_if_absent, "iiiiI:i"),
    DEFER(ts_replace, "iiiiI:i"),
    /* service links */
    DEFER(http_fetch, "iiiiiiii:i"),
};
const size_t px__wasm_nimports =
    sizeof px__wasm_imports / sizeof px__wasm_imports[0];

const px__wasm_import *px__wasm_import_find(const char *name, size_t len) {
  for (size_t i = 0; i < px__wasm_nimports; i++)
    if (strlen(px__wasm_imports[i].name) == len &&
        !memcmp(px__wasm_imports[i].name, name, len))
      return &px__wasm_imports[i];
  return NULL;
}

bool px__wasm_sig_types(const char *sig, wasm_valkind_t *params, size_t *np,
                        wasm_valkind_t *results, size_t *nr) {
  *np = *nr = 0;
  bool res = false;
  for (const char *c = sig; *c; c++) {
    if (*c == ':') {
      res = true;
      continue;
    }
    wasm_valkind_t k = *c == 'i' ? WASM_I32 : *c == 'I' ? WASM_I64
                     : *c == 'F' ? WASM_F64 : WASM_F32;
    if (res) {
      if (*nr >= 1) return false;
      results[(*nr)++] = k;
    } else {
      if (*np >= PX__WASM_MAX_ARGS) return false;
      params[(*np)++] = k;
    }
  }
  return res;
}

static wasm_functype_t *functype(const char *sig) {
  wasm_valkind_t p[PX__WASM_MAX_ARGS], r[1];
  size_t np, nr;
  if (!px__wasm_sig_types(sig, p, &np, r, &nr)) return NULL;
  wasm_valtype_vec_t pv, rv;
  wasm_valtype_vec_new_uninitialized(&pv, np);
  for (size_t i = 0; i < np; i++) pv.data[i] = wasm_valtype_new(p[i]);
  wasm_valtype_vec_new_uninitialized(&rv, nr);
  for (size_t i = 0; i < nr; i++) rv.data[i] = wasm_valtype_new(r[i]);
  return wasm_functype_new(&pv, &rv);
}

/* An import, run right here on the actor's coroutine under the guest's
 * frames. Bound unchecked (raw values, no per-call vectors): the
 * signature was checked when the module was linked, and these run on
 * every message. One that may park the actor (an ask, a take, a sleep) or
 * touch the runtime runs with wasmtime's thread-local taken off the
 * thread (tls.h), since the worker runs other guests while this one is
 * parked and the actor may resume on another thread; it reaches guest
 * memory through the store's context. */
static wasm_trap_t *import_cb(void *env, wasmtime_caller_t *caller,
                              wasmtime_val_raw_t *raw, size_t n) {
  const px__wasm_import *imp = env;
  wasmtime_context_t *ctx = wasmtime_caller_context(caller);
  px__wasm_inst *in = wasmtime_context_get_data(ctx);
  /* The imports read args[i].of.i32 / .i64 / .f64 as their signature
   * says: the raw slot's 64 bits carry each of them (little-endian), so
   * no per-call look at the signature is needed. */
  wasmtime_val_t args[PX__WASM_MAX_ARGS];
  for (size_t i = 0; i < n && i < PX__WASM_MAX_ARGS; i++) {
    args[i].kind = WASMTIME_I64;
    args[i].of.i64 = raw[i].i64;
  }
  wasmtime_val_t ret = {.kind = WASMTIME_I32};
  if (imp->deferred) {
    uintptr_t t = px__wasm_tls_leave();
    imp->exec(in, in->ctx, args, &ret);
    px__wasm_tls_enter(t);
  } else {
    imp->exec(in, ctx, args, &ret);
  }
  raw[0].i64 = ret.of.i64; /* every import has one result */
  return NULL;
}

int px__wasm_define_imports(wasmtime_linker_t *l, char *err, size_t errcap) {
  for (size_t i = 0; i < px__wasm_nimports; i++) {
    const px__wasm_import *imp = &px__wasm_imports[i];
    wasm_functype_t *ft = functype(imp->sig);
    if (!ft) {
      snprintf(err, errcap, "bad signature for %s", imp->name);
      return PX_EINVAL;
    }
    wasmtime_error_t *e = wasmtime_linker_define_func_unchecked(
        l, "plexspaces", 10, imp->name, strlen(imp->name), ft,
        import_cb, (void *)imp, NULL);
    wasm_functype_delete(ft);
    if (e) {
      char *s = px__wasm_error_text(e);
      snprintf(err, errcap, "cannot define plexspaces.%s: %s", imp->name,
               s ? s : "?");
      free(s);
      return PX_EINVAL;
    }
  }
  wasmtime_error_t *e = wasmtime_linker_define_wasi(l);
  if (!e) {
    wasmtime_linker_allow_shadowing(l, true);
    wasm_functype_t *ft = functype(wasi_fd_write.sig);
    e = wasmtime_linker_define_func_unchecked(
        l, "wasi_snapshot_preview1", 22, "fd_write", 8, ft, import_cb,
        (void *)&wasi_fd_write, NULL);
    wasm_functype_delete(ft);
    wasmtime_linker_allow_shadowing(l, false);
  }
  if (e) {
    char *s = px__wasm_error_text(e);
    snprintf(err, errcap, "cannot define WASI: %s", s ? s : "?");
    free(s);
    return PX_EINVAL;
  }
  return 0;
}
