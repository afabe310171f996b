/* GenEvent manager (SEMANTICS.md section F): one actor, a list of
 * handlers kept in insertion order. Requests from the API are asks with
 * reserved types (__ev_add__, ...); their reply is [code, value] so the
 * client can return distinct error codes. Notifications are cast
 * envelopes. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "behavior/beh.h"
#include "core/mem.h"
#include "plexspaces/core.h"
#include "plexspaces/error.h"
#include "plexspaces/gen_event.h"
#include "plexspaces/runtime.h"

typedef struct handler {
  const px_event_handler *def;
  px_val id;    /* owned */
  void *state;
  px_ref sup;   /* add_sup_handler owner, nil if none */
} handler;

typedef struct mgr {
  px_ref parent;
  handler *h;
  size_t n, cap;
} mgr;

static struct {
  px_atom add, del, call, which, swap, sync, gen_event_exit, exit_tag, stop,
      remove_handler, swapped;
} EA;
static pthread_once_t ea_once = PTHREAD_ONCE_INIT;

static void ea_init(void) {
  EA.add = px_atom_of("__ev_add__");
  EA.del = px_atom_of("__ev_delete__");
  EA.call = px_atom_of("__ev_call__");
  EA.which = px_atom_of("__ev_which__");
  EA.swap = px_atom_of("__ev_swap__");
  EA.sync = px_atom_of("__ev_sync__");
  EA.gen_event_exit = px_atom_of("gen_event_EXIT");
  EA.exit_tag = px_atom_of("EXIT");
  EA.stop = px_atom_of("stop");
  EA.remove_handler = px_atom_of("remove_handler");
  EA.swapped = px_atom_of("swapped");
}

static const char *hname(const handler *h) {
  return h->def->name ? h->def->name : "?";
}

static ssize_t find(mgr *m, const px_event_handler *def, px_val id) {
  for (size_t i = 0; i < m->n; i++)
    if (m->h[i].def == def && px_val_equal(m->h[i].id, id)) return (ssize_t)i;
  return -1;
}

static bool sup_has_others(mgr *m, px_ref sup) {
  for (size_t i = 0; i < m->n; i++)
    if (px_ref_eq(m->h[i].sup, sup)) return true;
  return false;
}

/* Removes handler i: terminate(reason) (borrowed), notify its supervisor
 * with `sup_reason` (taken; nil = no message), free. Returns terminate's
 * result (new value). */
static px_val remove_at(mgr *m, size_t i, px_val reason, px_val sup_reason) {
  handler h = m->h[i];
  memmove(&m->h[i], &m->h[i + 1], (m->n - i - 1) * sizeof *m->h);
  m->n--;
  px_val res = h.def->terminate ? h.def->terminate(h.state, reason) : px_nil();
  if (h.def->free_state && h.state) h.def->free_state(h.state);
  if (!px_ref_is_nil(h.sup)) {
    if (!px_is_nil(sup_reason))
      px_send(h.sup, EA.gen_event_exit,
              px_arr(3, px_atom_val(hname(&h)), px_val_retain(h.id),
                     px_val_retain(sup_reason)));
    if (!sup_has_others(m, h.sup)) px_unlink(h.sup);
  }
  px_val_release(sup_reason);
  px_val_release(h.id);
  return res;
}

/* Installs a handler; returns a PX code, *err set on PX_EINIT. */
static int install(mgr *m, const px_event_handler *def, px_val id,
                   px_val args, px_ref sup, px_val *err);

/* swap_handler (R-F-7): handler i's terminate(args1) -> T (if i >= 0),
 * then h2 is installed with init([args2, T]) under the old handler's
 * supervisor. All values borrowed. Returns install's code (*err set on
 * PX_EINIT), PX_ENOTFOUND for a missing h1 when h2 went in. */
static int do_swap(mgr *m, ssize_t i, px_val args1, const px_event_handler *h2,
                   px_val id2, px_val args2, px_val *err) {
  px_val res = px_nil();
  px_ref sup = px_ref_nil();
  if (i >= 0) {
    sup = m->h[i].sup;
    px_val why = px_arr(3, px_atomv(EA.swapped),
                        px_atom_val(h2->name ? h2->name : "?"),
                        px_val_retain(id2));
    res = remove_at(m, (size_t)i, args1, why);
  }
  px_val a2 = px_arr(2, px_val_retain(args2), res);
  int rc = install(m, h2, id2, a2, sup, err);
  px_val_release(a2);
  return rc ? rc : i < 0 ? PX_ENOTFOUND : 0;
}

/* A swap as px_ev_swap describes it: [tag, args1, h2, id2, args2, reply]. */
static bool swap_spec(px_val v, const px_event_handler **h2) {
  if (px_typeof(v) != PX_T_ARRAY || px_len(v) != 6 ||
      !px_is_atom(px_at(v, 0), EA.swap))
    return false;
  *h2 = px__beh_val_ptr(px_at(v, 2));
  return *h2 != NULL;
}

/* Acts on a handler's failure or removal result (R-F-5, R-F-7). Returns
 * true if handler i was removed. */
static bool check(mgr *m, size_t i, px_ev_result r, px_val err) {
  if (r == PX_EV_OK || r == PX_EV_HIBERNATE) return false;
  const px_event_handler *h2;
  if (r == PX_EV_SWAP && swap_spec(err, &h2)) {
    const char *n1 = hname(&m->h[i]);
    px_val e2 = px_nil();
    int rc = do_swap(m, (ssize_t)i, px_at(err, 1), h2, px_at(err, 3),
                     px_at(err, 4), &e2);
    if (rc) {
      char buf[128];
      px_val_format(e2, buf, sizeof buf);
      px_log(PX_LOG_WARN, "gen_event", "swap %s -> %s failed: %s %s", n1,
             h2->name ? h2->name : "?", px_err_name(rc), buf);
    }
    px_val_release(e2);
    px_val_release(err);
    return true;
  }
  if (r == PX_EV_REMOVE) {
    px_val_release(err);
    px_val_release(remove_at(m, i, px_atomv(EA.remove_handler),
                             px_atomv(px_a()->normal)));
    return true;
  }
  px_val why = r == PX_EV_ERROR ? px_arr(2, px_atomv(EA.exit_tag), err)
                                : (px_val_release(err), px_int((int64_t)r));
  px_val reason = px_arr(2, px_atomv(px_a()->error), px_val_retain(why));
  px_val_release(remove_at(m, i, reason, why));
  px_val_release(reason);
  return true;
}

/* Runs every handler on one event, oldest first (R-F-4). */
static void dispatch(mgr *m, bool info, px_atom type, px_val payload) {
  /* Handlers a swap installs go to the end and do not see this event. */
  size_t end = m->n;
  for (size_t i = 0; i < end;) {
    handler *h = &m->h[i];
    px_ev_result (*fn)(void *, px_atom, px_val, px_val *) =
        info ? h->def->handle_info : h->def->handle_event;
    px_val err = px_nil();
    px_ev_result r = fn ? fn(h->state, type, payload, &err) : PX_EV_OK;
    if (check(m, i, r, err))
      end--;
    else
      i++;
  }
}

static int install(mgr *m, const px_event_handler *def, px_val id,
                   px_val args, px_ref sup, px_val *err) {
  if (find(m, def, id) >= 0) return PX_EEXIST;
  void *state = NULL;
  px_ev_result r = def->init ? def->init(args, &state, err) : PX_EV_OK;
  if (r != PX_EV_OK) {
    if (def->free_state && state) def->free_state(state);
    return PX_EINIT;
  }
  if (m->n == m->cap) {
    m->cap = m->cap ? m->cap * 2 : 4;
    m->h = px__xrealloc(m->h, m->cap * sizeof *m->h);
  }
  m->h[m->n++] = (handler){def, px_val_retain(id), state, sup};
  if (!px_ref_is_nil(sup)) px_link(sup);
  return 0;
}

static void answer(px_from from, int code, px_val v) {
  px__beh_reply(from, false, px_arr(2, px_int(code), v));
}

static _Noreturn void stop_all(mgr *m, px_val reason) {
  /* R-F-10: every handler gets terminate(stop); supervisors hear
   * shutdown. */
  while (m->n)
    px_val_release(remove_at(m, 0, px_atomv(EA.stop),
                             px_atomv(px_a()->shutdown)));
  px_exit_self(reason);
  __builtin_unreachable();
}

static void on_call(mgr *m, px_atom type, px_val p, px_from from) {
  if (type == EA.sync) {
    dispatch(m, false, px_at(p, 0).u.a, px_at(p, 1));
    answer(from, 0, px_nil());
  } else if (type == EA.add) {
    px_val err = px_nil();
    px_ref sup = px_ref_nil();
    px_val_ref(px_at(p, 3), &sup);
    int rc = install(m, px__beh_val_ptr(px_at(p, 0)), px_at(p, 1),
                     px_at(p, 2), sup, &err);
    answer(from, rc, err);
  } else if (type == EA.del) {
    ssize_t i = find(m, px__beh_val_ptr(px_at(p, 0)), px_at(p, 1));
    if (i < 0) {
      answer(from, PX_ENOTFOUND, px_nil());
      return;
    }
    px_val res = remove_at(m, (size_t)i, px_at(p, 2), px_atomv(px_a()->normal));
    answer(from, 0, res);
  } else if (type == EA.call) {
    ssize_t i = find(m, px__beh_val_ptr(px_at(p, 0)), px_at(p, 1));
    if (i < 0) {
      answer(from, PX_ENOTFOUND, px_nil());
      return;
    }
    handler *h = &m->h[i];
    px_val reply = px_nil();
    px_ev_result r =
        h->def->handle_call
            ? h->def->handle_call(h->state, px_at(p, 2).u.a, px_at(p, 3), &reply)
            : PX_EV_ERROR;
    if (r == PX_EV_OK || r == PX_EV_HIBERNATE) {
      answer(from, 0, reply);
      return;
    }
    if (r == PX_EV_REMOVE) {
      /* {remove_handler, Reply}: the caller still gets the reply. */
      px_val_release(remove_at(m, (size_t)i, px_atomv(EA.remove_handler),
                               px_atomv(px_a()->normal)));
      answer(from, 0, reply);
      return;
    }
    const px_event_handler *h2;
    if (r == PX_EV_SWAP && swap_spec(reply, &h2)) {
      /* {swap_handler, Reply, Args1, S, H2, Args2}. */
      px_val rep = px_val_retain(px_at(reply, 5));
      check(m, (size_t)i, r, reply);
      answer(from, 0, rep);
      return;
    }
    px_val shown = r == PX_EV_ERROR
                       ? px_arr(2, px_atomv(EA.exit_tag), px_val_retain(reply))
                       : px_nil();
    check(m, (size_t)i, r, reply);
    answer(from, r == PX_EV_REMOVE ? 0 : PX_EHANDLER, shown);
  } else if (type == EA.which) {
    px_val out = px_array_new(m->n);
    for (size_t i = 0; i < m->n; i++)
      px_array_push(&out, px_arr(2, px_atom_val(hname(&m->h[i])),
                                 px_val_retain(m->h[i].id)));
    answer(from, 0, out);
  } else if (type == EA.swap) {
    /* [h1, id1, args1, h2, id2, args2] */
    ssize_t i = find(m, px__beh_val_ptr(px_at(p, 0)), px_at(p, 1));
    px_val err = px_nil();
    int rc = do_swap(m, i, px_at(p, 2), px__beh_val_ptr(px_at(p, 3)),
                     px_at(p, 4), px_at(p, 5), &err);
    answer(from, rc, err);
  } else {
    px__beh_reply(from, true, px_atom_val("unknown_request"));
  }
}

static int mgr_init(px_val args, void **state) {
  const void *def;
  px_val uargs;
  px_ref parent;
  if (!px__beh_args_get(args, &def, &uargs, &parent)) return PX_EINVAL;
  pthread_once(&ea_once, ea_init);
  mgr *m = px__xcalloc(1, sizeof *m);
  m->parent = parent;
  *state = m;
  px_trap_exit(true); /* R-F-1 */
  px__beh_ack_ok(parent);
  return 0;
}

static void mgr_handle(void *state, const px_message *msg) {
  mgr *m = state;
  px_atom type;
  px_val payload, reason;
  px_from from;
  if (msg->type == px__beh_a()->stop && !msg->corr)
    stop_all(m, px_val_retain(msg->payload));
  if (px__beh_parent_exit(msg, m->parent, &reason))
    stop_all(m, px_val_retain(reason));
  if (msg->type == px_a()->exit_msg) {
    /* R-F-9: a supervising process died: remove its handlers. */
    px_ref who = px__beh_exit_from(msg);
    reason = px_get(msg->payload, px_atomv(px_a()->exit_reason));
    bool any = false;
    for (size_t i = 0; i < m->n;) {
      if (!px_ref_is_nil(who) && px_ref_eq(m->h[i].sup, who)) {
        any = true;
        px_val why = px_arr(2, px_atomv(EA.stop), px_val_retain(reason));
        m->h[i].sup = px_ref_nil(); /* it is dead: no message, no unlink */
        px_val_release(remove_at(m, i, why, px_nil()));
        px_val_release(why);
      } else {
        i++;
      }
    }
    if (any) return;
  }
  if (px__beh_is_call(msg, &type, &payload, &from)) {
    on_call(m, type, payload, from);
  } else if (px__beh_uncast(msg, &type, &payload)) {
    dispatch(m, false, type, payload);
  } else {
    dispatch(m, true, msg->type, msg->payload);
  }
}

static void mgr_terminate(void *state, px_val reason) {
  mgr *m = state;
  if (!m) return;
  /* Killed (or stopped: then the list is empty already): no terminate
   * calls, only the destructors. */
  for (size_t i = 0; i < m->n; i++) {
    if (m->h[i].def->free_state && m->h[i].state)
      m->h[i].def->free_state(m->h[i].state);
    px_val_release(m->h[i].id);
  }
  free(m->h);
  free(m);
}

static const px_actor_type mgr_type = {
    .name = "gen_event",
    .init = mgr_init,
    .handle = mgr_handle,
    .terminate = mgr_terminate,
};

/* ---- API -------------------------------------------------------------------- */

px_ev_result px_ev_swap(px_val *out, px_val args1, const px_event_handler *h2,
                        px_val id2, px_val args2, px_val reply) {
  pthread_once(&ea_once, ea_init);
  if (!out) {
    px_val_release(args1);
    px_val_release(id2);
    px_val_release(args2);
    px_val_release(reply);
    return PX_EV_SWAP;
  }
  px_val_release(*out);
  *out = px_arr(6, px_atomv(EA.swap), args1, px__beh_ptr_val(h2), id2, args2,
                reply);
  return PX_EV_SWAP;
}

/* The definition pointer is not used by the manager; any non-NULL will do. */
static const char mgr_def_tag = 0;

int px_gen_event_start(const px_gen_start_opts *opts, px_ref *out) {
  return px__beh_start(&mgr_type, px__beh_args(&mgr_def_tag, px_nil(),
                                               px_self()),
                       opts, false, NULL, out);
}

int px_gen_event_start_link(const px_gen_start_opts *opts, px_ref *out) {
  return px__beh_start(&mgr_type, px__beh_args(&mgr_def_tag, px_nil(),
                                               px_self()),
                       opts, true, NULL, out);
}

/* The API may run before any manager exists in this process. */
#define ENSURE_ATOMS() pthread_once(&ea_once, ea_init)

/* Sends a request, decodes [code, value]. Takes ownership of payload. */
static int request(px_ref mgr_ref, px_atom type, px_val payload,
                   int64_t timeout_ms, px_val *value) {
  px_val r;
  int rc = px__beh_call(mgr_ref, type, payload,
                        px__beh_call_timeout(timeout_ms), &r);
  if (rc) {
    if (value)
      *value = r;
    else
      px_val_release(r);
    return rc;
  }
  rc = (int)px_at(r, 0).u.i;
  if (value)
    *value = px_val_retain(px_at(r, 1));
  px_val_release(r);
  return rc;
}

static int add(px_ref mgr_ref, const px_event_handler *h, px_val id,
               px_val args, px_val *err, bool sup) {
  ENSURE_ATOMS();
  px_val e = px_nil();
  int rc = request(mgr_ref, EA.add,
                   px_arr(4, px__beh_ptr_val(h), id, args,
                          sup ? px_ref_val(px_self()) : px_nil()),
                   0, &e);
  if (err)
    *err = e;
  else
    px_val_release(e);
  return rc;
}

int px_gen_event_add_handler(px_ref mgr_ref, const px_event_handler *h,
                             px_val id, px_val args, px_val *err) {
  return add(mgr_ref, h, id, args, err, false);
}

int px_gen_event_add_sup_handler(px_ref mgr_ref, const px_event_handler *h,
                                 px_val id, px_val args, px_val *err) {
  return add(mgr_ref, h, id, args, err, true);
}

int px_gen_event_delete_handler(px_ref mgr_ref, const px_event_handler *h,
                                px_val id, px_val args, px_val *result) {
  ENSURE_ATOMS();
  px_val v = px_nil();
  int rc = request(mgr_ref, EA.del, px_arr(3, px__beh_ptr_val(h), id, args), 0,
                   &v);
  if (result)
    *result = v;
  else
    px_val_release(v);
  return rc;
}

int px_gen_event_swap_handler(px_ref mgr_ref, const px_event_handler *h1,
                              px_val id1, px_val args1,
                              const px_event_handler *h2, px_val id2,
                              px_val args2, px_val *err) {
  ENSURE_ATOMS();
  px_val e = px_nil();
  int rc = request(mgr_ref, EA.swap,
                   px_arr(6, px__beh_ptr_val(h1), id1, args1,
                          px__beh_ptr_val(h2), id2, args2),
                   0, &e);
  if (err)
    *err = e;
  else
    px_val_release(e);
  return rc;
}

int px_gen_event_notify(px_ref mgr_ref, px_atom type, px_val payload) {
  return px__beh_cast(mgr_ref, type, payload);
}

int px_gen_event_notify_name(const char *name, px_atom type, px_val payload) {
  return px__beh_cast_name(name, type, payload);
}

int px_gen_event_sync_notify(px_ref mgr_ref, px_atom type, px_val payload) {
  ENSURE_ATOMS();
  return request(mgr_ref, EA.sync, px_arr(2, px_atomv(type), payload), -1,
                 NULL);
}

int px_gen_event_call(px_ref mgr_ref, const px_event_handler *h, px_val id,
                      px_atom type, px_val payload, int64_t timeout_ms,
                      px_val *reply) {
  ENSURE_ATOMS();
  return request(mgr_ref, EA.call,
                 px_arr(4, px__beh_ptr_val(h), id, px_atomv(type), payload),
                 timeout_ms, reply);
}

int px_gen_event_which_handlers(px_ref mgr_ref, px_val *out) {
  ENSURE_ATOMS();
  return request(mgr_ref, EA.which, px_nil(), 0, out);
}

int px_gen_event_stop(px_ref mgr_ref, int64_t timeout_ms) {
  return px__beh_stop(mgr_ref, px_nil(), timeout_ms);
}
