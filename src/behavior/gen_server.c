/* GenServer on top of the raw actor type (SEMANTICS.md section D).
 *
 * The server is one generic px_actor_type; the user's px_gen_server
 * definition travels in the init args. Each mailbox message is one turn of
 * OTP's loop: system messages first (our timeout, stop request, parent
 * EXIT), then call / cast / info, then the result is acted on: reply, stop,
 * continue (looped right here, so it runs before any queued message,
 * R-D-7) and the event timeout (R-D-8).
 *
 * The event timeout is a timer message carrying a token. Any other message
 * handled first bumps the token and cancels the timer, so a timeout that
 * fires anyway arrives stale and is dropped. Time 0 is a message to self:
 * it lands behind whatever is already queued, so it fires only if the
 * mailbox was empty at that moment. */
#include <stdatomic.h>
#include <stdlib.h>

#include "actor/actor_impl.h"
#include "behavior/beh.h"
#include "core/mem.h"
#include "plexspaces/core.h"
#include "plexspaces/error.h"
#include "plexspaces/gen_server.h"
#include "plexspaces/runtime.h"

enum { PH_INIT = 0, PH_RUNNING, PH_DONE };

typedef struct gs {
  const px_gen_server *def;
  void *user;
  px_ref parent;
  px_atom *op_atoms;   /* interned def->ops[i].type */
  int phase;
  int in_cb;           /* > 0 while a user callback runs (crash detection) */
  uint64_t tmo_token;  /* the live event timeout's token; 0 = none */
  px_tref tmo_ref;     /* its timer (0 for a time-0 self message) */
  px_val cont;         /* a pending continue term, owned */
  px_val fail;         /* init failed: exit with this on the next message */
} gs;

static px_gs_out fresh_out(void) {
  px_gs_out o = {0};
  o.timeout_ms = -1;
  return o;
}

static void out_release(px_gs_out *o) {
  px_val_release(o->reply);
  px_val_release(o->reason);
  if (o->has_continue) px_val_release(o->cont);
  *o = fresh_out();
}

/* Runs terminate (if any) in a normal handler context, then exits. Used by
 * every orderly stop; the raw terminate below then only frees. */
static _Noreturn void stop_now(gs *s, px_val reason) {
  if (px_is_nil(reason)) reason = px_atomv(px_a()->normal);
  s->phase = PH_DONE;
  if (s->def->terminate) {
    s->in_cb++;
    s->def->terminate(s->user, reason);
    s->in_cb--;
  }
  if (!px_reason_is_normal(reason)) {
    char buf[128];
    px_val_format(reason, buf, sizeof buf);
    /* R-D-11: abnormal reasons are reported; normal ones are silent. */
    px_log(PX_LOG_WARN, "gen_server", "%s terminating: %s",
           s->def->name ? s->def->name : "?", buf);
  }
  px_exit_self(reason);
  __builtin_unreachable();
}

static void cancel_timeout(gs *s) {
  if (s->tmo_ref) px_cancel_timer(s->tmo_ref);
  s->tmo_ref = 0;
  s->tmo_token = 0;
}

static void arm_timeout(gs *s, int64_t ms) {
  static _Atomic(uint64_t) seq;
  cancel_timeout(s);
  /* relaxed: the token only has to be unique. */
  s->tmo_token = atomic_fetch_add_explicit(&seq, 1, memory_order_relaxed) + 1;
  px_val tok = px_int((int64_t)s->tmo_token);
  if (ms == 0)
    px_send(px_self(), px__beh_a()->timeout, tok);
  else
    s->tmo_ref = px_send_after(ms, px_self(), px__beh_a()->timeout, tok);
}

/* Acts on a callback result; `from` is set for the result of a call.
 * Loops over continues (R-D-7). Does not return when the server stops. */
static void after(gs *s, px_gs_result r, px_gs_out *o, const px_from *from) {
  for (;;) {
    /* Arm the timeout before replying, so a caller that sees the reply
     * knows the timer exists (deterministic virtual-clock tests). */
    if (!o->has_continue && o->timeout_ms >= 0 && r != PX_GS_STOP &&
        r != PX_GS_STOP_REPLY) {
      arm_timeout(s, o->timeout_ms);
      o->timeout_ms = -1;
    }
    switch (r) {
    case PX_GS_OK:
    case PX_GS_NOREPLY:
      break;
    case PX_GS_REPLY:
      if (from) {
        px__beh_reply(*from, false, o->reply);
        o->reply = px_nil();
      }
      break;
    case PX_GS_STOP_REPLY:
    case PX_GS_STOP: {
      if (from && r == PX_GS_STOP_REPLY) {
        px__beh_reply(*from, false, o->reply); /* R-D-6: then stop */
        o->reply = px_nil();
      }
      px_val reason = o->reason;
      o->reason = px_nil();
      out_release(o);
      stop_now(s, reason);
    }
    case PX_GS_ERROR:
      if (from) {
        px__beh_reply(*from, true, o->reply);
        o->reply = px_nil();
      } else {
        char buf[128];
        px_val_format(o->reply, buf, sizeof buf);
        px_log(PX_LOG_WARN, "gen_server", "%s: callback error: %s",
               s->def->name ? s->def->name : "?", buf);
      }
      break;
    default: {
      /* Not a valid result: OTP stops with {bad_return_value, R}. */
      px_val reason = px_arr(2, px_atomv(px__beh_a()->bad_return_value),
                             px_int((int64_t)r));
      if (from)
        px__beh_reply(*from, true, px_val_retain(reason));
      out_release(o);
      stop_now(s, reason);
    }
    }
    from = NULL;
    if (!o->has_continue) break;
    /* The term lives in the state while the callback runs, so a crash in
     * it does not leak. */
    s->cont = o->cont;
    o->has_continue = false;
    o->cont = px_nil();
    out_release(o);
    if (s->def->handle_continue) {
      s->in_cb++;
      r = s->def->handle_continue(s->user, s->cont, o);
      s->in_cb--;
    } else {
      r = PX_GS_OK;
    }
    px_val_release(s->cont);
    s->cont = px_nil();
  }
  if (o->timeout_ms >= 0) arm_timeout(s, o->timeout_ms);
  out_release(o);
}

static const px_gs_op *find_op(gs *s, px_atom type) {
  for (size_t i = 0; i < s->def->nops; i++)
    if (s->op_atoms[i] == type) return &s->def->ops[i];
  return NULL;
}

static void on_call(gs *s, px_atom type, px_val payload, px_from from) {
  px_gs_out o = fresh_out();
  const px_gs_op *op = find_op(s, type);
  px_gs_call_fn fn = op && op->call ? op->call : s->def->handle_call;
  px_gs_result r;
  if (fn) {
    s->in_cb++;
    r = fn(s->user, type, payload, from, &o);
    s->in_cb--;
  } else {
    o.reply = px_arr(2, px_atomv(px__beh_a()->unknown_call), px_atomv(type));
    r = PX_GS_ERROR;
  }
  after(s, r, &o, &from);
}

static void on_cast(gs *s, px_atom type, px_val payload) {
  px_gs_out o = fresh_out();
  const px_gs_op *op = find_op(s, type);
  px_gs_cast_fn fn = op && op->cast ? op->cast : s->def->handle_cast;
  px_gs_result r = PX_GS_OK;
  if (fn) {
    s->in_cb++;
    r = fn(s->user, type, payload, &o);
    s->in_cb--;
  }
  after(s, r, &o, NULL);
}

static void on_info(gs *s, px_atom type, px_val payload) {
  px_gs_out o = fresh_out();
  px_gs_result r = PX_GS_OK;
  if (s->def->handle_info) {
    s->in_cb++;
    r = s->def->handle_info(s->user, type, payload, &o);
    s->in_cb--;
  }
  after(s, r, &o, NULL);
}

const px_gen_server *px__gen_server_def(void) {
  const gs *s = px_in_actor() ? px_self_state() : NULL;
  return s ? s->def : NULL;
}

/* ---- the raw actor type ---------------------------------------------------- */

static int gs_init(px_val args, void **state) {
  const void *def;
  px_val uargs;
  px_ref parent;
  if (!px__beh_args_get(args, &def, &uargs, &parent)) return PX_EINVAL;
  gs *s = px__xcalloc(1, sizeof *s);
  s->def = def;
  s->parent = parent;
  s->cont = px_nil();
  s->fail = px_nil();
  if (s->def->nops) {
    s->op_atoms = px__xmalloc(s->def->nops * sizeof *s->op_atoms);
    for (size_t i = 0; i < s->def->nops; i++)
      s->op_atoms[i] = px_atom_of(s->def->ops[i].type);
  }
  *state = s; /* set now: a crash in init still reaches gs_terminate */
  px_gs_out o = fresh_out();
  px_gs_result r = PX_GS_OK;
  if (s->def->init) {
    s->in_cb++;
    r = s->def->init(uargs, &s->user, &o);
    s->in_cb--;
  }
  if (r == PX_GS_OK) {
    s->phase = PH_RUNNING;
    /* Arm init's event timeout before the ack, so a starter that sees
     * start return knows the timer exists (virtual-clock tests). With a
     * continue, the timeout is the continue's business (after). */
    if (!o.has_continue && o.timeout_ms >= 0) {
      arm_timeout(s, o.timeout_ms);
      o.timeout_ms = -1;
    }
    px__beh_ack_ok(parent);
    /* A continue from init runs here, before any message (T-D-9). */
    after(s, PX_GS_OK, &o, NULL);
    return 0;
  }
  s->phase = PH_DONE;
  px_val reason;
  px_atom status = px__beh_a()->error;
  if (r == PX_GS_IGNORE) {
    status = px__beh_a()->ignore;
    reason = px_atomv(px_a()->normal);
  } else if (r == PX_GS_STOP) {
    reason = px_is_nil(o.reason) ? px_atomv(px_a()->normal) : o.reason;
    o.reason = px_nil();
  } else {
    reason = px_arr(2, px_atomv(px__beh_a()->bad_return_value),
                    px_int((int64_t)r));
  }
  out_release(&o);
  s->fail = reason;
  px__beh_ack_fail(parent, status, reason);
  return 0;
}

static void gs_handle(void *state, const px_message *m) {
  gs *s = state;
  const px__beh_atoms *A = px__beh_a();
  if (s->phase == PH_DONE) px_exit_self(px_val_retain(s->fail));
  if (m->type == A->timeout && !m->corr) {
    /* Our event timeout; a stale one (a message came first) is dropped. */
    if (px_typeof(m->payload) == PX_T_INT && s->tmo_token &&
        (uint64_t)m->payload.u.i == s->tmo_token) {
      s->tmo_ref = 0;
      s->tmo_token = 0;
      on_info(s, px_a()->timeout, px_nil());
    }
    return;
  }
  cancel_timeout(s); /* R-D-8: any message cancels the event timeout */
  px_val reason;
  if (m->type == A->stop && !m->corr)
    stop_now(s, px_val_retain(m->payload));
  if (px__beh_parent_exit(m, s->parent, &reason))
    stop_now(s, px_val_retain(reason)); /* R-D-12 */
  px_atom type;
  px_val payload;
  px_from from;
  /* Asks take over their reply (px_defer_reply): a later
   * px_gen_server_reply works, and a crash answers noproc. */
  if (px__beh_is_call(m, &type, &payload, &from)) {
    on_call(s, type, payload, from);
    return;
  }
  if (px__beh_uncast(m, &type, &payload))
    on_cast(s, type, payload);
  else
    on_info(s, m->type, m->payload);
}

static void gs_terminate(void *state, px_val reason) {
  gs *s = state;
  if (!s) return;
  /* A crash is px_exit_self from inside a callback: we are then on the
   * actor's own coroutine (px_in_actor). A kill, or an exit signal while
   * parked, ends the actor from the scheduler instead, and `killed` never
   * runs terminate (R-D-10). */
  bool crash = s->in_cb > 0 && px_in_actor() &&
               !px_is_atom(reason, px_a()->killed);
  if (s->phase == PH_INIT && crash) {
    px_unlink(s->parent); /* the starter learns it from start's result */
  } else if (s->phase == PH_RUNNING && crash && s->def->terminate) {
    s->phase = PH_DONE;
    s->def->terminate(s->user, reason);
  }
  if (s->user && s->def->free_state) s->def->free_state(s->user);
  px_val_release(s->cont);
  px_val_release(s->fail);
  free(s->op_atoms);
  free(s);
}

static const px_actor_type gs_type = {
    .name = "gen_server",
    .init = gs_init,
    .handle = gs_handle,
    .terminate = gs_terminate,
};

/* ---- API ------------------------------------------------------------------- */

int px_gen_server_start(const px_gen_server *gs_def, px_val args,
                        const px_gen_start_opts *opts, px_ref *out) {
  if (!gs_def || !out) {
    px_val_release(args);
    return PX_EINVAL;
  }
  return px__beh_start(&gs_type, px__beh_args(gs_def, args, px_self()), opts,
                       false, gs_def->name, out);
}

int px_gen_server_start_link(const px_gen_server *gs_def, px_val args,
                             const px_gen_start_opts *opts, px_ref *out) {
  if (!gs_def || !out) {
    px_val_release(args);
    return PX_EINVAL;
  }
  return px__beh_start(&gs_type, px__beh_args(gs_def, args, px_self()), opts,
                       true, gs_def->name, out);
}

const px_actor_type *px_gen_server_type(void) { return &gs_type; }

px_val px_gen_server_args(const px_gen_server *gs_def, px_val args) {
  return px__beh_args(gs_def, args, px_ref_nil());
}

void *px_gen_server_user_state(void *raw) {
  return raw ? ((gs *)raw)->user : NULL;
}

int px_gen_server_call(px_ref server, px_atom type, px_val payload,
                       int64_t timeout_ms, px_val *reply) {
  return px__beh_call(server, type, payload, px__beh_call_timeout(timeout_ms),
                      reply);
}

int px_gen_server_cast(px_ref server, px_atom type, px_val payload) {
  return px__beh_cast(server, type, payload);
}

int px_gen_server_cast_name(const char *name, px_atom type, px_val payload) {
  return px__beh_cast_name(name, type, payload);
}

int px_gen_server_reply(px_from from, px_val value) {
  return px__beh_reply(from, false, value);
}

int px_gen_server_stop(px_ref server, px_val reason, int64_t timeout_ms) {
  return px__beh_stop(server, reason, timeout_ms);
}
