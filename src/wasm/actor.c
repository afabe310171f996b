/* WASM actors are GenServers: these callbacks serve every actor type of
 * every WASM app (px__gen_server_def tells them which), and turn each
 * callback into one px_handle call of the guest (docs/wasm-abi.md). OTP
 * semantics come from the GenServer: a call's reply, casts, infos, the
 * crash of a trapping guest (the caller gets the reason, the supervisor
 * restarts it). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/msgpack_internal.h"
#include "behavior/beh.h"
#include "plexspaces/actor.h"
#include "plexspaces/core.h"
#include "plexspaces/error.h"
#include "wasm/wasm_internal.h"

enum { KIND_CALL = 1, KIND_CAST = 2, KIND_INFO = 3 };
enum { RET_OK = 0, RET_ERROR = 1, RET_STOP = 2 };

static const px__wasm_type *current_type(void) {
  return (const px__wasm_type *)px__gen_server_def();
}

/* A crash of the guest: the actor dies with the reason (the GenServer
 * runs terminate and answers a pending caller with it). */
static px_gs_result crash(px_gs_out *out, px_val reason) {
  (void)out;
  px_exit_self(reason); /* takes reason; does not return in a handler */
  return PX_GS_STOP;
}

static px_gs_result w_init(px_val args, void **state, px_gs_out *out) {
  const px__wasm_type *t = current_type();
  px__wasm_inst *in = NULL;
  px_val reason = px_nil();
  int rc = t ? px__wasm_inst_new(t, args, &in, &reason) : PX_EINVAL;
  if (rc) {
    out->reason = px_is_nil(reason)
                      ? px_arr(2, px_atomv(px_atom_of("wasm_error")),
                                 px_str(px_strerror(rc)))
                      : reason;
    return PX_GS_STOP;
  }
  *state = in;
  return PX_GS_OK;
}

/* Runs px_handle for one message; *ret is the guest's return code. The
 * sender's id, the type and the payload go into the guest's scratch, the
 * payload encoded in place. */
static int run(px__wasm_inst *in, int kind, const char *type, size_t tlen,
               px_val payload, px_ref from, int32_t *ret, px_val *reason) {
  size_t plen;
  int rc = px_msgpack_size(payload, &plen);
  if (rc) return rc;
  /* The sender's id, formatted once per sender (an actor mostly hears
   * from the same few). */
  if (from.index != in->from.index || from.gen != in->from.gen ||
      from.node != in->from.node) {
    in->from = from;
    in->from_id[0] = 0;
    if (!px_ref_is_nil(from)) px_ref_format(from, in->from_id,
                                            sizeof in->from_id);
  }
  size_t flen = strlen(in->from_id);
  uint8_t *host;
  uint32_t at;
  if ((rc = px__wasm_reserve(in, flen + tlen + plen, &host, &at, reason)))
    return rc;
  memcpy(host, in->from_id, flen);
  memcpy(host + flen, type, tlen);
  px__msgpack_pack_sized(payload, host + flen + tlen, plen);
  int32_t a[7] = {kind,
                  (int32_t)at, (int32_t)flen,
                  (int32_t)(at + flen), (int32_t)tlen,
                  (int32_t)(at + flen + tlen), (int32_t)plen};
  px_val_release(in->reply);
  in->reply = px_nil();
  in->has_reply = false;
  in->in_call = kind == KIND_CALL;
  rc = px__wasm_run(in, PX__FN_HANDLE, a, 7, reason);
  in->in_call = false;
  if (rc) return rc;
  *ret = (int32_t)in->ret;
  return 0;
}

static px_val take_reply(px__wasm_inst *in) {
  px_val v = in->reply;
  in->reply = px_nil();
  return v;
}

static px_gs_result w_call(void *state, px_atom type, px_val payload,
                           px_from from, px_gs_out *out) {
  px__wasm_inst *in = state;
  int32_t ret;
  px_val reason = px_nil();
  int rc = run(in, KIND_CALL, px_atom_name(type), px_atom_len(type), payload,
               from.to, &ret, &reason);
  if (rc == PX_EFAILED) return crash(out, reason);
  if (rc) return crash(out, px_arr(2, px_atomv(px_atom_of("wasm_error")),
                                     px_str(px_strerror(rc))));
  out->reply = take_reply(in);
  if (ret == RET_ERROR) return PX_GS_ERROR;
  if (ret == RET_STOP) return PX_GS_STOP_REPLY;
  return PX_GS_REPLY;
}

static px_gs_result handle_async(px__wasm_inst *in, int kind,
                                 const char *type, size_t tlen,
                                 px_val payload, px_gs_out *out) {
  int32_t ret;
  px_val reason = px_nil();
  int rc = run(in, kind, type, tlen, payload, px_ref_nil(), &ret, &reason);
  if (rc == PX_EFAILED) return crash(out, reason);
  if (rc) return crash(out, px_arr(2, px_atomv(px_atom_of("wasm_error")),
                                     px_str(px_strerror(rc))));
  px_val_release(take_reply(in));
  return ret == RET_STOP ? PX_GS_STOP : PX_GS_OK;
}

static px_gs_result w_cast(void *state, px_atom type, px_val payload,
                           px_gs_out *out) {
  return handle_async(state, KIND_CAST, px_atom_name(type),
                      px_atom_len(type), payload, out);
}

/* What is not a call or a GenServer cast: the runtime's own infos (DOWN,
 * EXIT) and the guest's timers go to the guest as infos, with the ABI's
 * names and shapes; any other plain message (a tell from the HTTP API, a
 * send from another actor) is a cast, as a tell is in PLEXSPACES. */
static px_gs_result w_info(void *state, px_atom type, px_val payload,
                           px_gs_out *out) {
  const px_atoms *A = px_a();
  static _Atomic(px_atom) timer;
  px_atom tm = atomic_load_explicit(&timer, memory_order_relaxed);
  if (!tm) {
    tm = px_atom_of(PX__WASM_TIMER);
    atomic_store_explicit(&timer, tm, memory_order_relaxed);
  }
  if (type == tm && payload.type == PX_T_ARRAY &&
      px_len(payload) == 2 && px_at(payload, 0).type == PX_T_ATOM) {
    px_atom t = px_at(payload, 0).u.a;
    return handle_async(state, KIND_INFO, px_atom_name(t), px_atom_len(t),
                        px_at(payload, 1), out);
  }
  if (type == A->down_msg) {
    px_val m = px_map(3, px_str("ref"),
                      px_val_retain(px_get(payload, px_atomv(A->monitor_ref))),
                      px_str("id"),
                      px_val_retain(px_get(payload, px_atomv(A->down_from))),
                      px_str("reason"),
                      px_val_retain(px_get(payload, px_atomv(A->down_reason))));
    px_gs_result r = handle_async(state, KIND_INFO, "DOWN", 4, m, out);
    px_val_release(m);
    return r;
  }
  if (type == A->exit_msg) {
    px_val m = px_map(2, px_str("id"),
                      px_val_retain(px_get(payload, px_atomv(A->exit_from))),
                      px_str("reason"),
                      px_val_retain(px_get(payload, px_atomv(A->exit_reason))));
    px_gs_result r = handle_async(state, KIND_INFO, "EXIT", 4, m, out);
    px_val_release(m);
    return r;
  }
  return handle_async(state, KIND_CAST, px_atom_name(type),
                      px_atom_len(type), payload, out);
}

static void w_free(void *state) { px__wasm_inst_free(state); }

/* ---- the durability codec ------------------------------------------------ */

px_val px__wasm_encode_state(const void *state) {
  px__wasm_inst *in = (px__wasm_inst *)state;
  px_val reason = px_nil();
  if (px__wasm_run(in, PX__FN_GET_STATE, NULL, 0, &reason)) {
    px_val_release(reason);
    return px_nil();
  }
  uint64_t packed = (uint64_t)in->ret;
  uint32_t ptr = (uint32_t)(packed >> 32), len = (uint32_t)packed;
  if (!packed) return px_nil();
  uint8_t *p = px__wasm_mem(in, in->ctx, ptr, len);
  px_val v;
  if (!p || px_msgpack_decode_untrusted(p, len, &v)) {
    px_log(PX_LOG_WARN, "wasm", "%s: px_get_state returned no valid "
           "MessagePack value", in->type->actor_type);
    return px_nil();
  }
  return v;
}

int px__wasm_decode_state(px_val saved, void *state) {
  px__wasm_inst *in = state;
  char *enc;
  size_t len;
  if (px_msgpack_encode(saved, &enc, &len)) return PX_EINVAL;
  const void *parts[1] = {enc};
  uint32_t ptr;
  px_val reason = px_nil();
  int rc = px__wasm_put(in, parts, &len, 1, &ptr, &reason);
  free(enc);
  int32_t a[2] = {(int32_t)ptr, (int32_t)len};
  if (!rc) rc = px__wasm_run(in, PX__FN_SET_STATE, a, 2, &reason);
  px_val_release(reason);
  if (rc) return rc;
  return (int32_t)in->ret == 0 ? 0 : PX_EINVAL;
}

/* ---- types --------------------------------------------------------------- */

/* The type (found, or made and kept until px__wasm_stop). With share the
 * links belong to another type and are used as they are; else copied. */
static const px_gen_server *type_of(px__wasm_module *m,
                                    const char *actor_type, const char *role,
                                    const px__wasm_link *links,
                                    size_t nlinks, bool share) {
  pthread_mutex_lock(&px__wasm.mu);
  for (px__wasm_type *t = px__wasm.types; t; t = t->next)
    if (t->mod == m && !strcmp(t->actor_type, actor_type) &&
        !strcmp(t->role, role) && t->links == links) {
      pthread_mutex_unlock(&px__wasm.mu);
      return &t->gs;
    }
  px__wasm_type *t = calloc(1, sizeof *t);
  if (!t) {
    pthread_mutex_unlock(&px__wasm.mu);
    return NULL;
  }
  t->mod = m;
  snprintf(t->actor_type, sizeof t->actor_type, "%s", actor_type);
  snprintf(t->role, sizeof t->role, "%s", role);
  t->gs = (px_gen_server){.name = t->actor_type,
                          .init = w_init,
                          .handle_call = w_call,
                          .handle_cast = w_cast,
                          .handle_info = w_info,
                          .free_state = w_free};
  if (!share && nlinks) {
    t->links = calloc(nlinks, sizeof *t->links);
    for (size_t i = 0; t->links && i < nlinks; i++) {
      t->links[i] = links[i];
      t->links[i].name = strdup(links[i].name);
      t->links[i].base_url = strdup(links[i].base_url);
    }
    t->nlinks = t->links ? nlinks : 0;
    t->owns_links = true;
  } else {
    t->links = (px__wasm_link *)links;
    t->nlinks = nlinks;
  }
  t->next = px__wasm.types;
  px__wasm.types = t;
  pthread_mutex_unlock(&px__wasm.mu);
  return &t->gs;
}

const px_gen_server *px__wasm_actor_type(px__wasm_module *m,
                                         const char *actor_type,
                                         const char *role,
                                         const px__wasm_link *links,
                                         size_t nlinks) {
  return type_of(m, actor_type, role, links, nlinks, false);
}

const px_gen_server *px__wasm_sibling_type(const px__wasm_type *like,
                                           const char *role) {
  return type_of(like->mod, role, role, like->links, like->nlinks, true);
}
