/* Virtual actors: the registry of virtual types and the public API. The
 * directory itself is in virtual_dir.c, the activation wrapper and the
 * idle sweeper in virtual_act.c. */
#include <stdlib.h>
#include <string.h>

#include "actor/actor_impl.h"
#include "actor/facet.h"
#include "actor/stop_hooks.h"
#include "behavior/beh.h"
#include "facet/durable_internal.h"
#include "core/mem.h"
#include "facet/virtual_internal.h"
#include "plexspaces/core.h"
#include "plexspaces/gen_server.h"
#include "plexspaces/runtime.h"

#define MAX_TYPES 256
#define MAX_KEY 4096

/* Types are never freed while the runtime runs (an activation may still
 * be exiting after its type was unregistered); px_runtime_stop frees them.
 * Readers scan the published prefix without a lock. */
static _Atomic(px__vtype *) types[MAX_TYPES];
static _Atomic(int) ntypes;
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static px__vatoms atoms;
static pthread_once_t atoms_once = PTHREAD_ONCE_INIT;

const px__vatoms *px__v_atoms(void) { return &atoms; }

static void atoms_init(void) {
  atoms.deact = px_atom_of("__px_virtual_deactivate__");
  atoms.sweep = px_atom_of("__px_virtual_sweep__");
  atoms.sync = px_atom_of("__px_virtual_sync__");
  atoms.virtual_error = px_atom_of("virtual_error");
  atoms.init_failed = px_atom_of("init_failed");
  atoms.dflt = px_atom_of("default");
}

/* Atoms live for the process, so once is enough across runtimes. */
static void intern_atoms(void) { pthread_once(&atoms_once, atoms_init); }

px_val px__v_idle_reason(void) { return px__dur_idle_reason(); }

px_val px__v_error_reason(int rc) {
  return px_arr(2, px_atomv(atoms.virtual_error), px_int(rc));
}

px__vtype *px__v_find(const char *name) {
  if (!name) return NULL;
  int n = atomic_load_explicit(&ntypes, memory_order_acquire);
  for (int i = 0; i < n; i++) {
    px__vtype *vt = atomic_load_explicit(&types[i], memory_order_relaxed);
    if (strcmp(vt->name, name) == 0) return vt;
  }
  return NULL;
}

/* Runs once every actor is dead (px_runtime_stop). */
static void virtual_stop(void) {
  pthread_mutex_lock(&reg_mu);
  int n = atomic_load_explicit(&ntypes, memory_order_relaxed);
  for (int i = 0; i < n; i++) {
    px__vtype *vt = atomic_load_explicit(&types[i], memory_order_relaxed);
    px__v_free_dir(vt);
    for (int s = 0; s < PX__V_STRIPES; s++)
      pthread_rwlock_destroy(&vt->stripes[s].lk);
    pthread_mutex_destroy(&vt->mu);
    px_val_release(vt->args);
    free(vt->name);
    free(vt);
    atomic_store_explicit(&types[i], NULL, memory_order_relaxed);
  }
  atomic_store_explicit(&ntypes, 0, memory_order_release);
  px__v_self_free_all();
  pthread_mutex_unlock(&reg_mu);
}

static px__vtype *vtype_new(const char *name) {
  px__vtype *vt = px__xcalloc(1, sizeof *vt);
  vt->name = px__xstrndup(name, strlen(name));
  pthread_mutex_init(&vt->mu, NULL);
  /* Writers first: a hot key's senders must not starve its deactivation.
   * Safe because no path takes a stripe's read lock twice. */
  pthread_rwlockattr_t ra;
  pthread_rwlockattr_init(&ra);
  pthread_rwlockattr_setkind_np(&ra,
                                PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  for (int s = 0; s < PX__V_STRIPES; s++)
    pthread_rwlock_init(&vt->stripes[s].lk, &ra);
  pthread_rwlockattr_destroy(&ra);
  return vt;
}

static void scope_of(const char *tenant, const char *ns, px_atom *t,
                     px_atom *n) {
  *t = tenant && *tenant ? px_atom_of(tenant) : atoms.dflt;
  *n = ns && *ns ? px_atom_of(ns) : atoms.dflt;
}

/* The caller's scope: its identity atoms as they are (no interning on
 * the send path), "default" for a system actor or a plain thread. */
static px_atom or_default(px_atom a) {
  return a && px_atom_len(a) ? a : atoms.dflt;
}

static void self_scope(px_atom *t, px_atom *n) {
  px__actor *me = px__current_handler();
  *t = or_default(me ? me->tenant : NULL);
  *n = or_default(me ? me->ns : NULL);
}

static bool key_ok(const char *key, size_t *len) {
  if (!key) return false;
  *len = strnlen(key, MAX_KEY + 1);
  return *len > 0 && *len <= MAX_KEY;
}

static int eager_activate(px__vtype *vt, const char *const *keys) {
  px_atom t, n;
  self_scope(&t, &n);
  int first = 0;
  for (size_t i = 0; keys && keys[i]; i++) {
    size_t len;
    if (!key_ok(keys[i], &len)) {
      if (!first) first = PX_EINVAL;
      continue;
    }
    bool ready = false;
    px_ref r;
    int rc = px__v_route(vt, t, n, keys[i], len, PX__VP_TOUCH, NULL,
                         px_nil(), px_ref_nil(), 0, &r, &ready);
    if (rc && !first) first = rc;
  }
  return first;
}

int px_virtual_register(const px_actor_type *type, px_val args,
                        const px_virtual_opts *opts) {
  static const px_virtual_opts none;
  if (!opts) opts = &none;
  const char *name = opts->name ? opts->name : type ? type->name : NULL;
  if (!type || !name || !*name || !type->handle ||
      (opts->activation != PX_ACTIVATE_LAZY &&
       opts->activation != PX_ACTIVATE_EAGER) ||
      (opts->durable && (!opts->durable->store || !opts->durable->encode ||
                         !opts->durable->decode))) {
    px_val_release(args);
    return PX_EINVAL;
  }
  if (px_runtime_workers() <= 0) {
    px_val_release(args);
    return PX_ESTOPPED;
  }
  intern_atoms();
  pthread_mutex_lock(&reg_mu);
  px__vtype *vt = px__v_find(name);
  if (vt && atomic_load_explicit(&vt->registered, memory_order_relaxed)) {
    pthread_mutex_unlock(&reg_mu);
    px_val_release(args);
    return PX_EEXIST;
  }
  int n = atomic_load_explicit(&ntypes, memory_order_relaxed);
  if (!vt && n == MAX_TYPES) {
    pthread_mutex_unlock(&reg_mu);
    px_val_release(args);
    return PX_ERANGE;
  }
  bool fresh = !vt;
  if (fresh) vt = vtype_new(name);
  /* A re-registration reuses the record: activations of the old one may
   * still be exiting; each carries the user type it was made with. */
  pthread_mutex_lock(&vt->mu);
  vt->user = type;
  vt->gen_server = type == px_gen_server_type();
  /* Running activations read the wrapper type: it is made once. */
  if (fresh) px__v_wrap_type(vt);
  px_val_release(vt->args);
  vt->args = args;
  /* relaxed stores: senders read these without mu (px__v_touch). */
  __atomic_store_n(&vt->idle_ms,
                   opts->idle_timeout_ms == 0 ? PX_VIRTUAL_IDLE_DEFAULT_MS
                                              : opts->idle_timeout_ms,
                   __ATOMIC_RELAXED);
  __atomic_store_n(&vt->max_active, opts->max_active, __ATOMIC_RELAXED);
  vt->durable = opts->durable != NULL;
  if (vt->durable) {
    vt->udur = *opts->durable;
    vt->wdur = *opts->durable;
    vt->wdur.encode = px__v_encode;
    vt->wdur.decode = px__v_decode;
  }
  pthread_mutex_unlock(&vt->mu);
  vt->sweeper = px_ref_nil();
  if (vt->idle_ms >= 0) {
    int rc = px_spawn(&px__v_sweeper_type, px_arr(1, px_int((intptr_t)vt)),
                      NULL, &vt->sweeper);
    if (rc) {
      if (fresh) {
        px_val_release(vt->args);
        vt->args = px_nil();
        /* Not published yet: free it whole. */
        for (int s = 0; s < PX__V_STRIPES; s++)
          pthread_rwlock_destroy(&vt->stripes[s].lk);
        pthread_mutex_destroy(&vt->mu);
        free(vt->name);
        free(vt);
      }
      pthread_mutex_unlock(&reg_mu);
      return rc;
    }
  }
  atomic_store_explicit(&vt->registered, true, memory_order_release);
  if (fresh) {
    atomic_store_explicit(&types[n], vt, memory_order_relaxed);
    /* release: a reader that sees the count sees the record. */
    atomic_store_explicit(&ntypes, n + 1, memory_order_release);
    px__runtime_at_stop(virtual_stop);
  }
  pthread_mutex_unlock(&reg_mu);
  if (opts->activation == PX_ACTIVATE_EAGER)
    return eager_activate(vt, opts->eager_keys);
  return 0;
}

typedef struct down_wait {
  px_mref *mrefs;
  size_t n;
} down_wait;

static bool is_awaited_down(const px_message *m, void *ud) {
  down_wait *w = ud;
  if (m->type != px_a()->down_msg) return false;
  px_val mref = px_get(m->payload, px_atomv(px_a()->monitor_ref));
  for (size_t i = 0; i < w->n; i++)
    if (mref.type == PX_T_INT && (px_mref)mref.u.i == w->mrefs[i]) return true;
  return false;
}

/* Waits (up to UNREGISTER_WAIT_MS in all) until the deactivated
 * activations have exited, so that their checkpoints are written before
 * the caller goes on (a node stops its runtime right after its apps). */
#define UNREGISTER_WAIT_MS 10000
static void wait_gone(const px_ref *refs, size_t n) {
  if (!n) return;
  down_wait w = {px__xcalloc(n, sizeof *w.mrefs), n};
  for (size_t i = 0; i < n; i++) w.mrefs[i] = px_monitor(refs[i]);
  uint64_t end = px_now_ms() + UNREGISTER_WAIT_MS;
  for (size_t got = 0; got < n;) {
    uint64_t now = px_now_ms();
    px_message *m;
    if (now >= end ||
        px_receive(is_awaited_down, &w, (int64_t)(end - now), &m) != 0)
      break;
    px_message_free(m);
    got++;
  }
  for (size_t i = 0; i < n; i++) px_demonitor(w.mrefs[i], true);
  free(w.mrefs);
}

int px_virtual_unregister(const char *type) {
  pthread_mutex_lock(&reg_mu);
  px__vtype *vt = px__v_find(type);
  if (!vt || !atomic_load_explicit(&vt->registered, memory_order_relaxed)) {
    pthread_mutex_unlock(&reg_mu);
    return PX_ENOTFOUND;
  }
  atomic_store_explicit(&vt->registered, false, memory_order_release);
  if (!px_ref_is_nil(vt->sweeper))
    px_exit(vt->sweeper, px_atomv(px_a()->kill));
  vt->sweeper = px_ref_nil();
  pthread_mutex_unlock(&reg_mu);
  size_t n;
  px_ref *refs = px__v_shutdown_all(vt, &n);
  wait_gone(refs, n);
  free(refs);
  return 0;
}

static px__vtype *registered(const char *type) {
  px__vtype *vt = px__v_find(type);
  return vt && atomic_load_explicit(&vt->registered, memory_order_acquire)
             ? vt
             : NULL;
}

/* The sender as px_send names it: the running actor, the thread's proxy if
 * it has one, else nobody. */
static px_ref sender(void) {
  return px_in_actor() ? px_self() : px_ref_nil();
}

static int send_scoped(px_atom t, px_atom n, const char *type,
                       const char *key, px_atom msg, px_val payload) {
  size_t len;
  px__vtype *vt = registered(type);
  if (!vt || !msg || !key_ok(key, &len)) {
    px_val_release(payload);
    return vt ? PX_EINVAL : PX_ENOTFOUND;
  }
  /* A durable activation replaying a message whose sends were made drops
   * them, and counts them otherwise (actor/facet.h), like px_send. */
  px__actor *me = px__current_handler();
  if (me && me->fsend) {
    if (me->fsend == PX__FSEND_MUTE) {
      px_val_release(payload);
      return 0;
    }
    me->fsent++;
  }
  px_ref r;
  bool ready;
  return px__v_route(vt, t, n, key, len, PX__VP_SEND, msg, payload, sender(),
                     0, &r, &ready);
}

int px_virtual_send_in(const char *tenant, const char *ns, const char *type,
                       const char *key, px_atom msg, px_val payload) {
  intern_atoms();
  px_atom t, n;
  scope_of(tenant, ns, &t, &n);
  return send_scoped(t, n, type, key, msg, payload);
}

int px_virtual_send(const char *type, const char *key, px_atom msg,
                    px_val payload) {
  intern_atoms();
  px_atom t, n;
  self_scope(&t, &n);
  return send_scoped(t, n, type, key, msg, payload);
}

/* What a failed ask's reply says about the cause. */
static int ask_error(int rc, px_val *reply) {
  if (rc != PX_ENOPROC || px_typeof(*reply) != PX_T_ARRAY ||
      px_len(*reply) != 2)
    return rc;
  px_val tag = px_at(*reply, 0), code = px_at(*reply, 1);
  if (px_is_atom(tag, atoms.init_failed)) return PX_EINIT;
  if (px_is_atom(tag, atoms.virtual_error) && px_typeof(code) == PX_T_INT) {
    rc = (int)code.u.i;
    px_val_release(*reply);
    *reply = px_nil();
  }
  return rc;
}

static int ask_scoped(px_atom t, px_atom n, const char *type,
                      const char *key, px_atom msg, px_val payload,
                      int64_t timeout_ms, px_val *reply) {
  *reply = px_nil();
  size_t len;
  px__vtype *vt = registered(type);
  if (!vt || !msg || !key_ok(key, &len)) {
    px_val_release(payload);
    return vt ? PX_EINVAL : PX_ENOTFOUND;
  }
  /* The ask goes out as a message answered to a promise, so the request
   * can wait in the directory while the caller waits for the answer. */
  px_promise p = px_promise_new();
  if (!p.corr) {
    px_val_release(payload);
    return PX_ENOTACTOR;
  }
  px_ref r;
  bool ready;
  int rc = px__v_route(vt, t, n, key, len, PX__VP_ASK, msg, payload, p.to,
                       p.corr, &r, &ready);
  if (rc) return rc;
  rc = px_promise_await(p, timeout_ms, reply);
  return rc ? ask_error(rc, reply) : 0;
}

int px_virtual_ask_in(const char *tenant, const char *ns, const char *type,
                      const char *key, px_atom msg, px_val payload,
                      int64_t timeout_ms, px_val *reply) {
  intern_atoms();
  px_atom t, n;
  scope_of(tenant, ns, &t, &n);
  return ask_scoped(t, n, type, key, msg, payload, timeout_ms, reply);
}

int px_virtual_ask(const char *type, const char *key, px_atom msg,
                   px_val payload, int64_t timeout_ms, px_val *reply) {
  intern_atoms();
  px_atom t, n;
  self_scope(&t, &n);
  return ask_scoped(t, n, type, key, msg, payload, timeout_ms, reply);
}

static int ref_scoped(px_atom t, px_atom n, const char *type,
                      const char *key, px_ref *out) {
  *out = px_ref_nil();
  size_t len;
  px__vtype *vt = registered(type);
  if (!vt || !key_ok(key, &len)) return vt ? PX_EINVAL : PX_ENOTFOUND;
  px_promise p = px_promise_new();
  if (!p.corr) return PX_ENOTACTOR;
  bool ready = false;
  int rc = px__v_route(vt, t, n, key, len, PX__VP_REF, NULL, px_nil(), p.to,
                       p.corr, out, &ready);
  if (rc || ready) return rc;
  px_val v;
  rc = px_promise_await(p, 30000, &v);
  if (rc == 0 && !px_val_ref(v, out)) rc = PX_EBADREPLY;
  if (rc) rc = ask_error(rc, &v);
  px_val_release(v);
  return rc;
}

int px_virtual_ref_in(const char *tenant, const char *ns, const char *type,
                      const char *key, px_ref *out) {
  intern_atoms();
  px_atom t, n;
  scope_of(tenant, ns, &t, &n);
  return ref_scoped(t, n, type, key, out);
}

int px_virtual_ref(const char *type, const char *key, px_ref *out) {
  intern_atoms();
  px_atom t, n;
  self_scope(&t, &n);
  return ref_scoped(t, n, type, key, out);
}

static int deactivate_scoped(px_atom t, px_atom n, const char *type,
                             const char *key) {
  size_t len;
  px__vtype *vt = registered(type);
  if (!vt) return PX_ENOTFOUND;
  if (!key_ok(key, &len)) return PX_EINVAL;
  return px__v_deactivate_key(vt, t, n, key, len);
}

int px_virtual_deactivate_in(const char *tenant, const char *ns,
                             const char *type, const char *key) {
  intern_atoms();
  px_atom t, n;
  scope_of(tenant, ns, &t, &n);
  return deactivate_scoped(t, n, type, key);
}

int px_virtual_deactivate(const char *type, const char *key) {
  intern_atoms();
  px_atom t, n;
  self_scope(&t, &n);
  return deactivate_scoped(t, n, type, key);
}

size_t px_virtual_active_count(const char *type) {
  px__vtype *vt = px__v_find(type);
  return vt ? px__v_resident(vt) : 0;
}
