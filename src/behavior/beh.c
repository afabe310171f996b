/* Start and stop handshakes, calls, the cast envelope: what OTP's proc_lib
 * and gen modules do for every behavior. Built on the public actor API
 * only. */
#include "behavior/beh.h"

#include <pthread.h>
#include <stdint.h>

#include "plexspaces/error.h"
#include "plexspaces/runtime.h"

static px__beh_atoms atoms;
static pthread_once_t atoms_once = PTHREAD_ONCE_INIT;

static void atoms_init(void) {
  atoms.ack = px_atom_of("__gen_ack__");
  atoms.stop = px_atom_of("__gen_stop__");
  atoms.cast = px_atom_of("__gen_cast__");
  atoms.timeout = px_atom_of("__gen_timeout__");
  atoms.ok = px_atom_of("ok");
  atoms.ignore = px_atom_of("ignore");
  atoms.error = px_atom_of("error");
  atoms.bad_return_value = px_atom_of("bad_return_value");
  atoms.unknown_call = px_atom_of("unknown_call");
}

const px__beh_atoms *px__beh_a(void) {
  pthread_once(&atoms_once, atoms_init);
  return &atoms;
}

px_val px__beh_ptr_val(const void *p) { return px_int((int64_t)(intptr_t)p); }

const void *px__beh_val_ptr(px_val v) {
  if (px_typeof(v) != PX_T_INT) return NULL;
  return (const void *)(intptr_t)v.u.i;
}

px_val px__beh_args(const void *def, px_val user_args, px_ref starter) {
  return px_arr(3, px__beh_ptr_val(def), user_args, px_ref_val(starter));
}

bool px__beh_args_get(px_val args, const void **def, px_val *user_args,
                      px_ref *starter) {
  if (px_typeof(args) != PX_T_ARRAY || px_len(args) != 3) return false;
  *def = px__beh_val_ptr(px_at(args, 0));
  *user_args = px_at(args, 1);
  return *def && px_val_ref(px_at(args, 2), starter);
}

/* ---- start --------------------------------------------------------------- */

typedef struct start_match {
  px_ref child;
  px_mref mref;
  bool down_only;
} start_match;

static bool is_down(const px_message *m, px_mref mref) {
  if (m->type != px_a()->down_msg) return false;
  px_val r = px_get(m->payload, px_atomv(px_a()->monitor_ref));
  return px_typeof(r) == PX_T_INT && (px_mref)r.u.i == mref;
}

static bool match_start(const px_message *m, void *ud) {
  start_match *sm = ud;
  if (!sm->down_only && m->type == px__beh_a()->ack &&
      px_ref_eq(m->from, sm->child))
    return true;
  return is_down(m, sm->mref);
}

/* Waits for the child's __DOWN__ (it is always coming: the child has been
 * told to exit or is exiting); returns the reason as a new value. */
static px_val wait_down(px_ref child, px_mref mref) {
  start_match sm = {child, mref, true};
  px_message *m;
  if (px_receive(match_start, &sm, -1, &m) != 0) return px_nil();
  px_val r = px_val_retain(px_get(m->payload, px_atomv(px_a()->down_reason)));
  px_message_free(m);
  return r;
}

static void give_reason(const px_gen_start_opts *o, px_val r) {
  if (o && o->reason_out)
    *o->reason_out = r;
  else
    px_val_release(r);
}

int px__beh_start(const px_actor_type *type, px_val args,
                  const px_gen_start_opts *o, bool link, const char *label,
                  px_ref *out) {
  static const px_gen_start_opts none;
  if (!o) o = &none;
  if (o->reason_out) *o->reason_out = px_nil();
  *out = px_ref_nil();
  px_ref self = px_self(); /* external threads get their proxy here */
  px_mref mref = 0;
  px_spawn_opts so = {0};
  so.link = link;
  so.label = label;
  so.monitor = true;
  so.mref_out = &mref;
  so.name = o->name;
  so.trap_exit = o->trap_exit;
  so.parent = self;
  px_ref child;
  int rc = px_spawn(type, args, &so, &child);
  if (rc) {
    /* A refused spawn may already have set up the monitor: drop it so no
     * stray __DOWN__ reaches the caller. */
    if (mref) px_demonitor(mref, true);
    if (rc == PX_ENAMETAKEN) {
      px_whereis(o->name, out);
      return PX_EALREADYSTARTED;
    }
    return rc;
  }
  /* From here on *out names the child even when the start fails: the
   * caller can check it is gone. */
  *out = child;
  start_match sm = {child, mref, false};
  px_message *m = NULL;
  rc = px_receive(match_start, &sm, o->timeout_ms > 0 ? o->timeout_ms : -1,
                  &m);
  if (rc == PX_ETIMEDOUT) {
    /* R-D-1 start timeout: unlink first so the kill does not reach us. */
    if (link) px_unlink(child);
    px_exit(child, px_atomv(px_a()->kill));
    px_val_release(wait_down(child, mref));
    return PX_ETIMEDOUT;
  }
  if (rc) return rc;
  if (m->type == px_a()->down_msg) {
    /* Died in init (a crash, or killed) without an ack. */
    px_val r = px_val_retain(px_get(m->payload, px_atomv(px_a()->down_reason)));
    px_message_free(m);
    if (link) px_unlink(child);
    give_reason(o, r);
    return PX_EINIT;
  }
  px_val status = px_at(m->payload, 0);
  if (px_is_atom(status, px__beh_a()->ok)) {
    px_message_free(m);
    px_demonitor(mref, true);
    return 0;
  }
  bool ignore = px_is_atom(status, px__beh_a()->ignore);
  px_val reason = px_val_retain(px_at(m->payload, 1));
  px_message_free(m);
  /* The child has unlinked itself and is exiting: wait until it is gone
   * so that no actor is left behind when we return (T-D-1, T-D-2). */
  if (link) px_unlink(child);
  px_val_release(wait_down(child, mref));
  if (ignore) {
    px_val_release(reason);
    return PX_EIGNORE;
  }
  give_reason(o, reason);
  return PX_EINIT;
}

void px__beh_ack_ok(px_ref starter) {
  px_send(starter, px__beh_a()->ack, px_arr(1, px_atomv(px__beh_a()->ok)));
}

void px__beh_ack_fail(px_ref starter, px_atom status, px_val reason) {
  px_unlink(starter);
  px_send(starter, px__beh_a()->ack,
          px_arr(2, px_atomv(status), px_val_retain(reason)));
  px_send(px_self(), px__beh_a()->stop, px_nil());
}

/* ---- stop ---------------------------------------------------------------- */

static bool match_down(const px_message *m, void *ud) {
  return is_down(m, *(px_mref *)ud);
}

int px__beh_stop(px_ref to, px_val reason, int64_t timeout_ms) {
  if (px_is_nil(reason)) reason = px_atomv(px_a()->normal);
  px_mref mref = px_monitor(to);
  if (!mref) {
    px_val_release(reason);
    return PX_ENOTACTOR;
  }
  px_send(to, px__beh_a()->stop, reason);
  px_message *m;
  int rc = px_receive(match_down, &mref, timeout_ms > 0 ? timeout_ms : -1, &m);
  if (rc) {
    px_demonitor(mref, true);
    return rc;
  }
  px_val r = px_get(m->payload, px_atomv(px_a()->down_reason));
  /* A monitor on a dead actor fires at once with noproc (R-B-12). */
  rc = px_is_atom(r, px_a()->noproc) ? PX_ENOPROC : 0;
  px_message_free(m);
  return rc;
}

/* ---- call ---------------------------------------------------------------- */

int px__beh_call(px_ref to, px_atom type, px_val payload, int64_t timeout_ms,
                 px_val *reply) {
  return px_ask(to, type, payload, timeout_ms, reply);
}

bool px__beh_is_call(const px_message *msg, px_atom *type, px_val *payload,
                     px_from *from) {
  if (!msg->corr) return false;
  *type = msg->type;
  *payload = msg->payload;
  *from = px_defer_reply(msg);
  return true;
}

int px__beh_reply(px_from from, bool error, px_val value) {
  return error ? px_reply_error_to(from, value) : px_reply_to(from, value);
}

/* ---- cast envelope --------------------------------------------------------- */

int px__beh_cast(px_ref to, px_atom type, px_val payload) {
  px_send(to, px__beh_a()->cast, px_arr(2, px_atomv(type), payload));
  return 0;
}

int px__beh_cast_name(const char *name, px_atom type, px_val payload) {
  /* R-D-4: an unregistered name is not an error for a cast. */
  px_send_name(name, px__beh_a()->cast, px_arr(2, px_atomv(type), payload));
  return 0;
}

bool px__beh_uncast(const px_message *msg, px_atom *type, px_val *payload) {
  if (msg->type != px__beh_a()->cast || msg->corr) return false;
  px_val t = px_at(msg->payload, 0);
  if (px_typeof(t) != PX_T_ATOM) return false;
  *type = t.u.a;
  *payload = px_at(msg->payload, 1);
  return true;
}

px_ref px__beh_exit_from(const px_message *msg) {
  px_ref r = px_ref_nil();
  if (msg->type == px_a()->exit_msg)
    px_val_ref(px_get(msg->payload, px_atomv(px_a()->exit_from)), &r);
  return r;
}

bool px__beh_parent_exit(const px_message *msg, px_ref parent,
                         px_val *reason) {
  if (msg->type != px_a()->exit_msg || px_ref_is_nil(parent)) return false;
  if (!px_ref_eq(px__beh_exit_from(msg), parent)) return false;
  *reason = px_get(msg->payload, px_atomv(px_a()->exit_reason));
  return true;
}
