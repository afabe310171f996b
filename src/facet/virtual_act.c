/* What runs inside a virtual actor: the wrapper type around the user's
 * (init, handle, terminate), the table by which an activation finds its
 * own record (px_virtual_self_key), and the idle sweeper. */
#include <stdlib.h>
#include <string.h>

#include "actor/facet.h"
#include "behavior/beh.h"
#include "core/mem.h"
#include "facet/virtual_internal.h"
#include "plexspaces/core.h"
#include "plexspaces/durable.h"
#include "plexspaces/gen_server.h"
#include "plexspaces/runtime.h"

/* ---- self table -------------------------------------------------------------
 * Activation records by actor slot index, chunked like the actor table.
 * px_self_state() cannot be used: a durable activation's state is the
 * durability facet's. Each slot is written by the actor living in it and
 * checked against the caller's full ref, so an old record never answers
 * for a newer actor. */

#define ST_BITS 12
#define ST_CHUNKS 8192
static _Atomic(_Atomic(px__vwrap *) *) st_chunks[ST_CHUNKS];
static pthread_mutex_t st_mu = PTHREAD_MUTEX_INITIALIZER;

static _Atomic(px__vwrap *) *st_slot(uint32_t index, bool create) {
  uint32_t c = index >> ST_BITS;
  if (c >= ST_CHUNKS) return NULL;
  /* acquire: a published chunk is zeroed. */
  _Atomic(px__vwrap *) *ch =
      atomic_load_explicit(&st_chunks[c], memory_order_acquire);
  if (!ch && create) {
    pthread_mutex_lock(&st_mu);
    ch = atomic_load_explicit(&st_chunks[c], memory_order_relaxed);
    if (!ch) {
      ch = px__xcalloc((size_t)1 << ST_BITS, sizeof *ch);
      atomic_store_explicit(&st_chunks[c], ch, memory_order_release);
    }
    pthread_mutex_unlock(&st_mu);
  }
  return ch ? &ch[index & ((1u << ST_BITS) - 1)] : NULL;
}

static px__vwrap *self_wrap(void) {
  if (!px_in_actor()) return NULL;
  px_ref me = px_self();
  _Atomic(px__vwrap *) *slot = st_slot(me.index, false);
  /* relaxed: only this actor wrote the slot since it was born. */
  px__vwrap *w = slot ? atomic_load_explicit(slot, memory_order_relaxed) : NULL;
  return w && px_ref_eq(w->self, me) ? w : NULL;
}

void px__v_self_free_all(void) {
  for (int i = 0; i < ST_CHUNKS; i++) {
    _Atomic(px__vwrap *) *ch =
        atomic_load_explicit(&st_chunks[i], memory_order_relaxed);
    if (ch) {
      free(ch);
      atomic_store_explicit(&st_chunks[i], NULL, memory_order_relaxed);
    }
  }
}

const char *px_virtual_self_key(void) {
  px__vwrap *w = self_wrap();
  return w ? w->key : NULL;
}

const char *px_virtual_self_id(void) {
  px__vwrap *w = self_wrap();
  return w ? w->id : NULL;
}

int px_virtual_delay_deactivation(int64_t ms) {
  px__vwrap *w = self_wrap();
  if (!w) return PX_ENOTACTOR;
  _Atomic(uint64_t) *k = &w->e->keep_until;
  /* relaxed: only this activation writes it; the sweeper reads it under
   * mu and a late view only delays by one sweep. */
  if (ms < 0) {
    atomic_store_explicit(k, 0, memory_order_relaxed);
    return 0;
  }
  uint64_t until = px_clock_ms() + (uint64_t)ms;
  if (until > atomic_load_explicit(k, memory_order_relaxed))
    atomic_store_explicit(k, until, memory_order_relaxed);
  return 0;
}

/* ---- the wrapper type ------------------------------------------------------- */

/* args = [entry, epoch, user type, user args, durable] (made by the
 * directory under the type's mu: a later registration changes the type,
 * not this activation). */
static int w_init(px_val args, void **state) {
  px__ventry *e = (px__ventry *)(intptr_t)px_at(args, 0).u.i;
  px__vwrap *w = px__xcalloc(1, sizeof *w);
  w->e = e;
  w->vt = e->scope->vt;
  w->epoch = (uint32_t)px_at(args, 1).u.i;
  w->user = (const px_actor_type *)(intptr_t)px_at(args, 2).u.i;
  w->gen_server = w->user == px_gen_server_type();
  w->durable = px_at(args, 4).u.b;
  w->self = px_self();
  px__vscope *sc = e->scope;
  const char *t = px_atom_name(sc->tenant), *n = px_atom_name(sc->ns);
  size_t pre = strlen(t) + strlen(n) + strlen(w->vt->name) + 3;
  w->id = px__xmalloc(pre + e->keylen + 1);
  snprintf(w->id, pre + 1, "%s/%s/%s/", t, n, w->vt->name);
  memcpy(w->id + pre, e->key, e->keylen);
  w->id[pre + e->keylen] = '\0';
  w->key = w->id + pre;
  *state = w;
  /* From here on terminate runs whatever happens (the runtime marks an
   * actor started before init), and the directory may count on it. */
  atomic_store_explicit(&e->started, 1, memory_order_release);
  atomic_store_explicit(st_slot(w->self.index, true), w, memory_order_relaxed);
  int rc = w->user->init ? w->user->init(px_at(args, 3), &w->ustate) : 0;
  if (rc) return rc;
  w->inited = true;
  return 0;
}

static void w_handle(void *state, const px_message *msg) {
  px__vwrap *w = state;
  if (msg->type == px__v_atoms()->deact && px_ref_is_nil(msg->from) &&
      px_typeof(msg->payload) == PX_T_INT &&
      msg->payload.u.i == (int64_t)w->epoch) {
    /* Everything the directory sent before it is handled: go. */
    if (w->durable) {
      int rc = px_durable_checkpoint();
      if (rc)
        px_log(PX_LOG_WARN, "virtual", "%s: checkpoint at deactivation: %s",
               w->id, px_strerror(rc));
    }
    if (w->gen_server && !w->stop_msg) {
      /* An orderly stop, so the server's terminate runs; the message is
       * kept in the record (freed at exit): the handler does not return. */
      w->stop_msg = px__message_new(px__beh_a()->stop,
                                    px__v_idle_reason(), 0);
      w->user->handle(w->ustate, w->stop_msg);
    }
    px_exit_self(px__v_idle_reason());
  }
  /* R-H-5: a message from someone counts as activity; a timer tick (from
   * the runtime, nil) does not. */
  if (!px_ref_is_nil(msg->from)) px__v_touch(w->e);
  w->user->handle(w->ustate, msg);
}

static void w_terminate(void *state, px_val reason) {
  px__vwrap *w = state;
  if (!w) return;
  if (w->user->terminate) w->user->terminate(w->ustate, reason);
  _Atomic(px__vwrap *) *slot = st_slot(w->self.index, false);
  if (slot) atomic_store_explicit(slot, NULL, memory_order_relaxed);
  /* Last: the directory may free the entry or start the next activation. */
  px__v_exited(w->vt, w->e, w->epoch, reason, w->inited);
  if (w->stop_msg) px_message_free(w->stop_msg);
  free(w->id);
  free(w);
}

void px__v_wrap_type(px__vtype *vt) {
  vt->wtype.name = vt->name;
  vt->wtype.stack_size = vt->user->stack_size;
  vt->wtype.init = w_init;
  vt->wtype.handle = w_handle;
  vt->wtype.terminate = w_terminate;
}

/* The durability facet encodes the state init made, which is our record:
 * hand the user's own state to the user's functions. */
static void *user_state(const px__vwrap *w) {
  return w->gen_server ? px_gen_server_user_state(w->ustate) : w->ustate;
}

px_val px__v_encode(const void *state) {
  const px__vwrap *w = state;
  return w->vt->udur.encode(user_state(w));
}

int px__v_decode(px_val saved, void *state) {
  px__vwrap *w = state;
  return w->vt->udur.decode(saved, user_state(w));
}

/* ---- the idle sweeper -----------------------------------------------------
 * One system actor per type with a volatile periodic timer. The quantum is
 * a quarter of the idle timeout, at most a second, so an idle activation
 * goes between idle_timeout and idle_timeout + quantum after its last use
 * (R-H-4). */

static int sw_init(px_val args, void **state) {
  px__vtype *vt = (px__vtype *)(intptr_t)px_at(args, 0).u.i;
  *state = vt;
  int64_t q = vt->idle_ms / 4;
  if (q < 1) q = 1;
  if (q > 1000) q = 1000;
  px_send_interval(q, px_self(), px__v_atoms()->sweep, px_nil());
  return 0;
}

static void sw_handle(void *state, const px_message *msg) {
  px__vtype *vt = state;
  if (msg->type == px__v_atoms()->sweep)
    px__v_sweep(vt, px_clock_ms());
  else if (msg->type == px__v_atoms()->sync && msg->corr)
    px_reply(msg, px_nil());
}

const px_actor_type px__v_sweeper_type = {
    .name = "px.virtual.sweeper", .init = sw_init, .handle = sw_handle};

int px__v_sweeper_sync(const char *type) {
  px__vtype *vt = px__v_find(type);
  if (!vt || px_ref_is_nil(vt->sweeper)) return PX_ENOTFOUND;
  px_val r;
  int rc = px_ask(vt->sweeper, px__v_atoms()->sync, px_nil(), 10000, &r);
  px_val_release(r);
  return rc;
}
