/* Pieces shared by the behaviors (gen_server, gen_fsm, gen_event): the
 * synchronous start handshake (OTP's proc_lib), the synchronous stop,
 * calls (plain asks), the cast envelope and the reserved message types.
 * Nothing here is public. */
#ifndef PX_BEHAVIOR_BEH_H
#define PX_BEHAVIOR_BEH_H

#include <stdint.h>

#include "plexspaces/actor.h"
#include "plexspaces/gen_server.h"
#include "plexspaces/val.h"

/* Reserved message types. A behavior intercepts these before any user
 * callback sees a message, so user code must not send them itself. */
typedef struct px__beh_atoms {
  px_atom ack;      /* __gen_ack__ [status, value]: init finished */
  px_atom stop;     /* __gen_stop__ reason: stop request (px_*_stop) */
  px_atom cast;     /* __gen_cast__ [type, payload]: a cast envelope */
  px_atom timeout;  /* __gen_timeout__ token: a behavior's own timer */
  px_atom ok, ignore, error, bad_return_value, unknown_call;
} px__beh_atoms;

/* Interned once, valid forever (atoms are never freed). Thread-safe. */
const px__beh_atoms *px__beh_a(void);

/* Behavior definitions are C structs that must outlive the runtime; they
 * travel to the new actor inside its init args as an integer, because a
 * px_val has no pointer type. */
px_val px__beh_ptr_val(const void *p);
const void *px__beh_val_ptr(px_val v);

/* Builds the spawn args every behavior actor receives: [def, user args,
 * starter ref]. Takes ownership of user_args; returns a new value. */
px_val px__beh_args(const void *def, px_val user_args, px_ref starter);
/* Reads them back (borrowed user args). False if malformed. */
bool px__beh_args_get(px_val args, const void **def, px_val *user_args,
                      px_ref *starter);

/* Start handshake, caller side (R-D-1): spawns `type` with `args` (takes
 * ownership), monitors it, and waits until its init acknowledges or it
 * dies. Returns 0 with *out set; PX_EIGNORE; PX_EINIT with the reason in
 * opts->reason_out (init returned stop or crashed); PX_EALREADYSTARTED
 * with *out = the holder of opts->name; PX_ETIMEDOUT (init overran
 * opts->timeout_ms and was killed). On any failure the new actor is gone
 * when this returns and the caller was never hit by its exit signal. */
/* label: the user-facing type name for metrics (NULL = type->name). */
int px__beh_start(const px_actor_type *type, px_val args,
                  const px_gen_start_opts *opts, bool link, const char *label,
                  px_ref *out);

/* Start handshake, actor side: called from the behavior's raw init.
 * px__beh_ack_fail (ignore / error) unlinks from the starter (a failed
 * start reports through the return code only), sends the ack with reason
 * (borrowed) and a wake-up message to self: the raw init then returns 0
 * and the behavior exits with the reason on its first message, so every
 * exit of a behavior goes through its handler. */
void px__beh_ack_ok(px_ref starter);
void px__beh_ack_fail(px_ref starter, px_atom status, px_val reason);

/* Synchronous stop (R-D-13): monitors `to`, sends __gen_stop__ reason and
 * waits for the __DOWN__. Takes ownership of reason (nil = normal).
 * Returns 0, PX_ENOPROC (not alive), PX_ETIMEDOUT. */
int px__beh_stop(px_ref to, px_val reason, int64_t timeout_ms);

/* Calls (R-D-2) are plain asks: px_ask(to, type, payload), whose runtime
 * guarantees are exactly what gen:call needs. The caller gets one answer:
 * the reply (0), an error reply (PX_EHANDLER, *reply = the error),
 * PX_ENOPROC with the server's exit reason in *reply (dead or unknown
 * server, or it died before replying, also while holding a deferred
 * reply), PX_ETIMEDOUT (the server may still handle the request; its late
 * reply is dropped by the runtime and never reaches the caller's mailbox,
 * as with OTP 24+ aliases, R-D-3), PX_EDEADLOCK (call to self). Takes
 * ownership of payload; timeout_ms as for px_ask (-1 = forever). */
int px__beh_call(px_ref to, px_atom type, px_val payload, int64_t timeout_ms,
                 px_val *reply);

/* Server side: if msg is a call (any ask: corr != 0, whatever its type),
 * sets the request type, payload (borrowed) and the `from` to answer. The
 * reply is taken over with px_defer_reply, so it can be answered during
 * the callback, later from the behavior (a postponed FSM event) or from
 * any other actor or thread, and an exit while it is owed answers the
 * caller PX_ENOPROC with the exit reason. */
bool px__beh_is_call(const px_message *msg, px_atom *type, px_val *payload,
                     px_from *from);
/* Answers a call (px_reply_to / px_reply_error_to); takes ownership of
 * value. PX_EINVAL for a from that is not a call's. */
int px__beh_reply(px_from from, bool error, px_val value);

/* Sends a cast envelope; always returns 0 (R-D-4). Takes ownership of
 * payload. */
int px__beh_cast(px_ref to, px_atom type, px_val payload);
int px__beh_cast_name(const char *name, px_atom type, px_val payload);
/* If msg is a cast envelope, sets the inner type and payload (borrowed)
 * and returns true. */
bool px__beh_uncast(const px_message *msg, px_atom *type, px_val *payload);

/* If msg is an __EXIT__ from `parent`, sets *reason (borrowed). */
bool px__beh_parent_exit(const px_message *msg, px_ref parent,
                         px_val *reason);
/* Sender ref of an __EXIT__ or nil. */
px_ref px__beh_exit_from(const px_message *msg);

/* Timeout of a call: 0 means the OTP default of 5000 ms. */
/* The definition of the GenServer whose callback is running, NULL when
 * not called from a GenServer callback (init included). Lets one set of
 * callbacks serve many definitions (the WASM host's actor types). */
const px_gen_server *px__gen_server_def(void);

static inline int64_t px__beh_call_timeout(int64_t t) {
  return t == 0 ? PX_GEN_CALL_TIMEOUT : t;
}

#endif
