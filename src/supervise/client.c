/* The caller's side of supervisors: the spec codec, starting a supervisor
 * synchronously, the dynamic API as asks, and the plain-actor adapter.
 *
 * Everything the supervisor actor needs travels as values, so that a
 * supervisor killed before its init ran leaks nothing (its args are
 * released with the init message). */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "plexspaces/core.h"
#include "plexspaces/runtime.h"
#include "supervise/sup.h"

/* ---- atoms ----------------------------------------------------------------- */

static px__sup_atoms atoms;
static pthread_once_t atoms_once = PTHREAD_ONCE_INIT;

static void intern(void) {
  atoms.ack = px_atom_of("__sup_ack__");
  atoms.retry = px_atom_of("__sup_retry__");
  atoms.tick = px_atom_of("__sup_tick__");
  atoms.stop = px_atom_of("__sup_stop__");
  atoms.start_child = px_atom_of("__sup_start_child__");
  atoms.start_child_args = px_atom_of("__sup_start_child_args__");
  atoms.terminate_child = px_atom_of("__sup_terminate_child__");
  atoms.terminate_ref = px_atom_of("__sup_terminate_ref__");
  atoms.restart_child = px_atom_of("__sup_restart_child__");
  atoms.delete_child = px_atom_of("__sup_delete_child__");
  atoms.which_children = px_atom_of("__sup_which_children__");
  atoms.count_children = px_atom_of("__sup_count_children__");
  atoms.undefined = px_atom_of("undefined");
  atoms.restarting = px_atom_of("restarting");
  atoms.failed_to_start_child = px_atom_of("failed_to_start_child");
  atoms.reached_max_restart_intensity =
      px_atom_of("reached_max_restart_intensity");
}

const px__sup_atoms *px__sup_a(void) {
  pthread_once(&atoms_once, intern);
  return &atoms;
}

/* ---- spec codec ------------------------------------------------------------- */

/* [id | nil, start, args, restart, shutdown, type, significant]. A function
 * pointer travels as an integer (C17 6.3.2.3p6); only this file and sup.c
 * make or read these values. */
px_val px__sup_spec_val(const px_child_spec *s) {
  return px_arr(7, s->id ? px_str(s->id) : px_nil(),
                px_int((int64_t)(intptr_t)s->start), s->args,
                px_int(s->restart), px_int(s->shutdown), px_int(s->type),
                px_bool(s->significant));
}

px_val px__sup_flags_val(const px_sup_flags *f) {
  return px_arr(4, px_int(f->strategy), px_int(f->intensity),
                px_int(f->period), px_int(f->auto_shutdown));
}

static bool int_at(px_val arr, size_t i, int64_t lo, int64_t hi,
                   int64_t *out) {
  px_val v = px_at(arr, i);
  if (px_typeof(v) != PX_T_INT || v.u.i < lo || v.u.i > hi) return false;
  *out = v.u.i;
  return true;
}

int px__sup_spec_decode(px_val v, px__sup_child *c) {
  memset(c, 0, sizeof *c);
  c->args = px_nil();
  if (px_typeof(v) != PX_T_ARRAY || px_len(v) != 7) return PX_EINVAL;
  px_val id = px_at(v, 0);
  if (px_typeof(id) == PX_T_STR) {
    if (px_str_len(id) >= PX_SUP_ID_MAX) return PX_EINVAL;
    memcpy(c->id, px_str_ptr(id), px_str_len(id));
  } else if (!px_is_nil(id)) {
    return PX_EINVAL;
  }
  int64_t start, restart, shutdown, type;
  if (!int_at(v, 1, INT64_MIN, INT64_MAX, &start) || start == 0 ||
      !int_at(v, 3, PX_SUP_PERMANENT, PX_SUP_TEMPORARY, &restart) ||
      !int_at(v, 4, PX_SUP_INFINITY, INT64_MAX, &shutdown) ||
      !int_at(v, 5, PX_SUP_WORKER, PX_SUP_SUPERVISOR, &type) ||
      px_typeof(px_at(v, 6)) != PX_T_BOOL)
    return PX_EINVAL;
  c->start = (px_sup_start_fn)(intptr_t)start;
  c->restart = (px_sup_restart)restart;
  c->type = (px_sup_child_type)type;
  /* R-C-2: 5000 ms for workers, infinity for supervisors (R-C-21). */
  if (shutdown == PX_SUP_SHUTDOWN_DEFAULT)
    shutdown = type == PX_SUP_SUPERVISOR ? PX_SUP_INFINITY : 5000;
  c->shutdown = shutdown;
  c->significant = px_at(v, 6).u.b;
  c->args = px_val_retain(px_at(v, 2));
  c->ref = px_ref_nil();
  return 0;
}

int px__sup_flags_decode(px_val v, px_sup_flags *f) {
  int64_t st, in, pe, au;
  if (px_typeof(v) != PX_T_ARRAY || px_len(v) != 4 ||
      !int_at(v, 0, PX_SUP_ONE_FOR_ONE, PX_SUP_SIMPLE_ONE_FOR_ONE, &st) ||
      !int_at(v, 1, 0, INT32_MAX, &in) || !int_at(v, 2, 0, INT32_MAX, &pe) ||
      !int_at(v, 3, PX_SUP_AUTO_NEVER, PX_SUP_AUTO_ALL_SIGNIFICANT, &au))
    return PX_EINVAL;
  f->strategy = (px_sup_strategy)st;
  f->intensity = (int)in;
  f->period = pe ? (int)pe : 5; /* R-C-14 */
  f->auto_shutdown = (px_sup_auto_shutdown)au;
  return 0;
}

int px__sup_spec_check(const px__sup_child *c, const px_sup_flags *f) {
  if (f->strategy != PX_SUP_SIMPLE_ONE_FOR_ONE && !c->id[0]) return PX_EINVAL;
  /* R-C-27: significant needs a child that can end for good, and a
   * supervisor that acts on it. */
  if (c->significant && (c->restart == PX_SUP_PERMANENT ||
                         f->auto_shutdown == PX_SUP_AUTO_NEVER))
    return PX_EINVAL;
  return 0;
}

void px__sup_child_clear(px__sup_child *c) {
  px_val_release(c->args);
  c->args = px_nil();
}

/* ---- starting and stopping ------------------------------------------------- */

px_val px_sup_sub_args(const px_sup_flags *flags, const px_child_spec *specs,
                       size_t n) {
  px_val list = px_array_new(n);
  for (size_t i = 0; i < n; i++)
    px_array_push(&list, px__sup_spec_val(&specs[i]));
  static const px_sup_flags defaults = PX_SUP_FLAGS_INIT;
  return px_arr(2, px__sup_flags_val(flags ? flags : &defaults), list);
}

int px_sup_start_sub(px_val args, px_ref *out) {
  return px__sup_start(args, out);
}

int px_sup_start_link(const px_sup_flags *flags, const px_child_spec *specs,
                      size_t n, px_ref *out) {
  px_val boot = px_sup_sub_args(flags, specs, n);
  int rc = px__sup_start(boot, out);
  px_val_release(boot);
  return rc;
}

typedef struct down_wait {
  px_ref ref;
  px_mref mref;
} down_wait;

static bool is_down(const px_message *m, void *ud) {
  down_wait *w = ud;
  if (m->type != px_a()->down_msg) return false;
  px_val mr = px_get(m->payload, px_atomv(px_a()->monitor_ref));
  return px_typeof(mr) == PX_T_INT && (px_mref)mr.u.i == w->mref;
}

int px_sup_stop(px_ref sup) {
  down_wait w = {sup, px_monitor(sup)};
  if (!w.mref) return PX_ENOTACTOR;
  px_send(sup, px__sup_a()->stop, px_nil());
  px_message *m;
  int rc = px_receive(is_down, &w, -1, &m);
  if (rc) return rc;
  px_val r = px_get(m->payload, px_atomv(px_a()->down_reason));
  rc = px_is_atom(r, px_a()->noproc) ? PX_ENOPROC : 0;
  px_message_free(m);
  return rc;
}

/* Waits for a just-spawned, linked and monitored child to acknowledge its
 * init, or for its __DOWN__. Returns 0, or the init's error code when the
 * child exited with [init_failed, Code], else PX_EINIT. */
static bool is_ack_or_down(const px_message *m, void *ud) {
  down_wait *w = ud;
  if (m->type == px__sup_a()->ack) return px_ref_eq(m->from, w->ref);
  return is_down(m, ud);
}

static bool is_exit_from(const px_message *m, void *ud) {
  px_ref from;
  return m->type == px_a()->exit_msg && px__sup_exit_from(m, &from) &&
         px_ref_eq(from, *(px_ref *)ud);
}

int px__sup_await_init(px_ref child, px_mref mref) {
  down_wait w = {child, mref};
  px_message *m;
  int rc = px_receive(is_ack_or_down, &w, -1, &m);
  if (rc) return rc;
  if (m->type == px__sup_a()->ack) {
    px_message_free(m);
    px_demonitor(mref, true);
    return 0;
  }
  px_val r = px_get(m->payload, px_atomv(px_a()->down_reason));
  rc = PX_EINIT;
  if (px_typeof(r) == PX_T_ARRAY && px_len(r) == 2 &&
      px_is_atom(px_at(r, 0), px_a()->init_failed) &&
      px_typeof(px_at(r, 1)) == PX_T_INT && px_at(r, 1).u.i < 0)
    rc = (int)px_at(r, 1).u.i;
  px_message_free(m);
  /* A child that died in init without unlinking (killed, or exited on
   * purpose) also sent __EXIT__, and before the __DOWN__ (same sender):
   * a trapping caller must not see it later as an unknown exit. */
  if (px_receive(is_exit_from, &child, 0, &m) == 0) px_message_free(m);
  return rc;
}

/* ---- the plain-actor adapter ------------------------------------------------- */

/* A plain actor's init runs asynchronously after px_spawn. To return only
 * once it has run (and to turn its failure into a start error), the child
 * is spawned as a wrapper type: a copy of the user's type whose init calls
 * the user's init and then acknowledges to the starter. handle, terminate
 * and the state pointer are the user's own. Wrappers live in a fixed table
 * because the runtime requires types to outlive it. */
#define WRAP_MAX 256

typedef struct wrap {
  const px_actor_type *user;
  px_actor_type type;
} wrap;

static wrap wraps[WRAP_MAX];
static size_t nwraps;
static pthread_mutex_t wraps_lock = PTHREAD_MUTEX_INITIALIZER;

/* args: [user type, starter, init args] (borrowed). */
static int wrapped_init(px_val args, void **state) {
  const px_actor_type *user =
      (const px_actor_type *)(intptr_t)px_at(args, 0).u.i;
  px_ref starter;
  px_val_ref(px_at(args, 1), &starter);
  int rc = user->init ? user->init(px_at(args, 2), state) : 0;
  if (rc)
    px_unlink(starter); /* the starter learns from its monitor instead */
  else
    px_send(starter, px__sup_a()->ack, px_nil());
  return rc;
}

static const px_actor_type *wrap_of(const px_actor_type *user, bool add) {
  const px_actor_type *t = NULL;
  pthread_mutex_lock(&wraps_lock);
  for (size_t i = 0; i < nwraps && !t; i++)
    if (wraps[i].user == user) t = &wraps[i].type;
  if (!t && add && nwraps < WRAP_MAX) {
    wrap *w = &wraps[nwraps++];
    w->user = user;
    w->type = *user;
    w->type.init = wrapped_init;
    t = &w->type;
  }
  pthread_mutex_unlock(&wraps_lock);
  return t;
}

px_val px_sup_actor_args(const px_actor_type *type, px_val init_args) {
  size_t n = px_typeof(init_args) == PX_T_ARRAY ? px_len(init_args) : 0;
  px_val a = px_array_new(n + 1);
  px_array_push(&a, px_int((int64_t)(intptr_t)type));
  for (size_t i = 0; i < n; i++)
    px_array_push(&a, px_val_retain(px_at(init_args, i)));
  px_val_release(init_args);
  return a;
}

static const px_actor_type *user_type_of(px_val args) {
  if (px_typeof(args) != PX_T_ARRAY || px_len(args) < 1 ||
      px_typeof(px_at(args, 0)) != PX_T_INT)
    return NULL;
  const px_actor_type *t =
      (const px_actor_type *)(intptr_t)px_at(args, 0).u.i;
  return t && t->handle ? t : NULL;
}

int px_sup_start_actor(px_val args, px_ref *out) {
  const px_actor_type *user = user_type_of(args);
  if (!user) return PX_EINVAL;
  const px_actor_type *t = wrap_of(user, true);
  if (!t) {
    px_log(PX_LOG_ERROR, "supervise", "more than %d actor types started "
           "through px_sup_start_actor", WRAP_MAX);
    return PX_ENOMEM;
  }
  size_t n = px_len(args);
  px_val init = px_array_new(n - 1);
  for (size_t i = 1; i < n; i++)
    px_array_push(&init, px_val_retain(px_at(args, i)));
  px_ref self = px_self();
  px_mref mref = 0;
  px_spawn_opts o = {.link = true, .monitor = true, .mref_out = &mref,
                     .parent = self};
  px_ref child;
  int rc = px_spawn(t, px_arr(3, px_val_retain(px_at(args, 0)),
                              px_ref_val(self), init),
                    &o, &child);
  if (rc) return rc;
  rc = px__sup_await_init(child, mref);
  if (rc == 0) *out = child;
  return rc;
}

const px_actor_type *px__sup_child_stats_type(const px__sup_child *c) {
  if (c->start == px_sup_start_sub) return &px__sup_type;
  if (c->start == px_sup_start_actor) {
    const px_actor_type *user = user_type_of(c->args);
    return user ? wrap_of(user, false) : NULL;
  }
  return NULL;
}

/* ---- the dynamic API: asks -------------------------------------------------- */

/* Error replies are [Code, Detail]. */
static int call(px_ref sup, px_atom type, px_val payload, px_val *reply,
                px_val *detail) {
  px_val r;
  int rc = px_ask(sup, type, payload, -1, &r);
  *reply = px_nil();
  if (detail) *detail = px_nil();
  if (rc == PX_EHANDLER) {
    px_val code = px_at(r, 0);
    rc = px_typeof(code) == PX_T_INT ? (int)code.u.i : PX_EBADREPLY;
    if (detail) *detail = px_val_retain(px_at(r, 1));
    px_val_release(r);
    return rc;
  }
  if (rc) {
    px_val_release(r);
    return rc;
  }
  *reply = r;
  return 0;
}

static void ref_out(px_val v, px_ref *out) {
  if (!out) return;
  if (!px_val_ref(v, out)) *out = px_ref_nil();
}

int px_sup_start_child(px_ref sup, const px_child_spec *spec, px_ref *out) {
  px_val r, d;
  int rc = call(sup, px__sup_a()->start_child, px__sup_spec_val(spec), &r,
                &d);
  ref_out(rc ? d : r, out);
  px_val_release(r);
  px_val_release(d);
  return rc;
}

int px_sup_start_child_args(px_ref sup, px_val extra, px_ref *out) {
  px_val r;
  int rc = call(sup, px__sup_a()->start_child_args, extra, &r, NULL);
  ref_out(r, out);
  px_val_release(r);
  return rc;
}

static int simple_call(px_ref sup, px_atom type, px_val payload,
                       px_ref *out) {
  px_val r;
  int rc = call(sup, type, payload, &r, NULL);
  if (out) ref_out(r, out);
  px_val_release(r);
  return rc;
}

int px_sup_terminate_child(px_ref sup, const char *id) {
  return simple_call(sup, px__sup_a()->terminate_child, px_str(id), NULL);
}

int px_sup_terminate_child_ref(px_ref sup, px_ref child) {
  return simple_call(sup, px__sup_a()->terminate_ref, px_ref_val(child),
                     NULL);
}

int px_sup_restart_child(px_ref sup, const char *id, px_ref *out) {
  return simple_call(sup, px__sup_a()->restart_child, px_str(id), out);
}

int px_sup_delete_child(px_ref sup, const char *id) {
  return simple_call(sup, px__sup_a()->delete_child, px_str(id), NULL);
}

/* Reply: [[id, state, ref | nil, type], ...] in start order. */
int px_sup_which_children(px_ref sup, px_sup_child_info *out, size_t cap,
                          size_t *n) {
  px_val r;
  int rc = call(sup, px__sup_a()->which_children, px_nil(), &r, NULL);
  if (rc) return rc;
  size_t len = px_len(r);
  for (size_t i = 0; i < len && i < cap; i++) {
    px_val e = px_at(r, i);
    px_sup_child_info *ci = &out[i];
    memset(ci, 0, sizeof *ci);
    px_val id = px_at(e, 0);
    memcpy(ci->id, px_str_ptr(id), px_str_len(id));
    ci->state = (px_sup_child_state)px_at(e, 1).u.i;
    ref_out(px_at(e, 2), &ci->ref);
    ci->type = (px_sup_child_type)px_at(e, 3).u.i;
  }
  *n = len;
  px_val_release(r);
  return 0;
}

int px_sup_count_children(px_ref sup, px_sup_counts *out) {
  px_val r;
  int rc = call(sup, px__sup_a()->count_children, px_nil(), &r, NULL);
  if (rc) return rc;
  out->specs = (size_t)px_at(r, 0).u.i;
  out->active = (size_t)px_at(r, 1).u.i;
  out->supervisors = (size_t)px_at(r, 2).u.i;
  out->workers = (size_t)px_at(r, 3).u.i;
  px_val_release(r);
  return 0;
}
