/* GenFSM: a state machine actor with gen_statem semantics (SEMANTICS.md
 * section E), in the state_functions style: states are atoms, each may
 * have its own callback, and handle_event is the fallback for states
 * without one or events a state callback leaves PX_FSM_UNHANDLED.
 *
 * Events: calls (px_gen_fsm_call or any px_ask), casts (px_gen_fsm_cast),
 * infos (anything else), the three timeouts, internal events inserted with
 * px_fsm_next_event, and state enter calls when state_enter is set.
 * Messages are told apart as for GenServer (see gen_server.h).
 *
 * A callback describes the transition through `tx`: the result (keep,
 * next state, repeat, stop) and the actions, applied in order after it
 * returns (R-E-5): postpone, next events, timeouts. Replies are sent at
 * once, in order, by px_fsm_reply. */
#ifndef PLEXSPACES_GEN_FSM_H
#define PLEXSPACES_GEN_FSM_H

#include "actor.h"
#include "common.h"
#include "gen_server.h"
#include "val.h"

PX_EXTERN_C_BEGIN

typedef enum px_fsm_kind {
  PX_FSM_CALL = 0,
  PX_FSM_CAST,
  PX_FSM_INFO,
  PX_FSM_TIMEOUT,       /* event timeout: type `timeout` */
  PX_FSM_STATE_TIMEOUT, /* type `state_timeout` */
  PX_FSM_GENERIC_TIMEOUT, /* type = the timeout's name */
  PX_FSM_INTERNAL,
  PX_FSM_ENTER,         /* state enter call: old_state set (R-E-7) */
} px_fsm_kind;

/** An event as a callback sees it; everything is borrowed. */
typedef struct px_fsm_event {
  px_fsm_kind kind;
  px_atom type;      /* message type, or timeout type/name */
  px_val payload;    /* message payload or timeout content */
  px_from from;      /* PX_FSM_CALL: answer with px_fsm_reply */
  px_atom old_state; /* PX_FSM_ENTER */
} px_fsm_event;

typedef enum px_fsm_result {
  PX_FSM_KEEP = 0,   /* keep_state: no state change */
  PX_FSM_NEXT,       /* next_state (see px_fsm_next); same state = keep */
  PX_FSM_REPEAT,     /* repeat_state: keep, but run the enter call again */
  PX_FSM_STOP,       /* stop with the reason (px_fsm_stop) */
  PX_FSM_ERROR,      /* recoverable error: a call gets PX_EHANDLER and the
                        value of px_fsm_error; the state is kept */
  PX_FSM_UNHANDLED,  /* state callback: pass the event to handle_event */
  PX_FSM_IGNORE,     /* init only: start gives PX_EIGNORE */
} px_fsm_result;

/** The transition being built (opaque). */
typedef struct px_fsm_tx px_fsm_tx;

typedef px_fsm_result (*px_fsm_state_fn)(void *data, px_atom state,
                                         const px_fsm_event *ev,
                                         px_fsm_tx *tx);

typedef struct px_fsm_state_def {
  const char *name;
  px_fsm_state_fn fn;
} px_fsm_state_def;

/** A GenFSM definition; must outlive the runtime. */
typedef struct px_gen_fsm {
  const char *name;
  /** Sets *data and the initial state with px_fsm_next(tx, s) (or leaves
   *  it to `initial`); actions (timeouts, next events) apply. Returns
   *  PX_FSM_NEXT / PX_FSM_KEEP, PX_FSM_STOP or PX_FSM_IGNORE. */
  px_fsm_result (*init)(px_val args, void **data, px_fsm_tx *tx);
  const char *initial;            /* PLEXSPACES `initial` */
  const px_fsm_state_def *states; /* state_functions */
  size_t nstates;
  px_fsm_state_fn handle_event;   /* fallback for any state */
  bool state_enter;               /* R-E-7 */
  /** Same rules as GenServer terminate (R-D-10). */
  void (*terminate)(void *data, px_atom state, px_val reason);
  void (*free_data)(void *data);  /* destructor, exactly once, no blocking */
} px_gen_fsm;

/* ---- building a transition (call only from the callback owning tx) ---- */

/** next_state: returns PX_FSM_NEXT. */
PX_API px_fsm_result px_fsm_next(px_fsm_tx *tx, px_atom state);
/** stop with reason (takes ownership; nil = normal): PX_FSM_STOP. Replies
 *  sent before it make stop_and_reply. */
PX_API px_fsm_result px_fsm_stop(px_fsm_tx *tx, px_val reason);
/** Error reply for the current call (takes ownership): PX_FSM_ERROR. */
PX_API px_fsm_result px_fsm_error(px_fsm_tx *tx, px_val error);
/** {reply, From, R}: sent now (takes ownership of value). Also usable
 *  outside a callback as px_gen_fsm_reply. */
PX_API int px_fsm_reply(px_fsm_tx *tx, px_from from, px_val value);
/** postpone the current event until the next state change (R-E-6). */
PX_API void px_fsm_postpone(px_fsm_tx *tx);
/** {next_event, Kind, ...}: handled next, before queued events, in call
 *  order (R-E-5). Takes ownership of payload. */
PX_API void px_fsm_next_event(px_fsm_tx *tx, px_fsm_kind kind, px_atom type,
                              px_val payload);
/** Timeouts (R-E-8..R-E-10): ms >= 0 starts (restarts) one with content
 *  (takes ownership); ms < 0 (infinity) cancels; time 0 is inserted as an
 *  event instead of a timer. The event timeout fires as type `timeout`
 *  and is cancelled by any event; the state timeout as `state_timeout`,
 *  cancelled by a state change; generic ones by name, never
 *  auto-cancelled. */
PX_API void px_fsm_event_timeout(px_fsm_tx *tx, int64_t ms, px_val content);
PX_API void px_fsm_state_timeout(px_fsm_tx *tx, int64_t ms, px_val content);
PX_API void px_fsm_generic_timeout(px_fsm_tx *tx, px_atom name, int64_t ms,
                                   px_val content);
/** Absolute timeouts, {Kind, Time, Content, [{abs, true}]} (R-E-11):
 *  at_ms is a point on the runtime clock, px_clock_ms() (virtual when so
 *  configured), not a duration. The kinds' rules are those above (which
 *  events cancel them, last one of a kind wins). at_ms < 0 (infinity)
 *  cancels. A time already reached fires at once as a timer message,
 *  behind the messages already queued (erlang:start_timer with
 *  {abs, true}); only at_ms == 0 is a zero timeout as above, as in
 *  gen_statem. */
PX_API void px_fsm_event_timeout_abs(px_fsm_tx *tx, int64_t at_ms,
                                     px_val content);
PX_API void px_fsm_state_timeout_abs(px_fsm_tx *tx, int64_t at_ms,
                                     px_val content);
PX_API void px_fsm_generic_timeout_abs(px_fsm_tx *tx, px_atom name,
                                       int64_t at_ms, px_val content);
/** {Kind, update, Content}: new content for a running timeout, or, when
 *  none runs, delivered at once as with time 0 (R-E-9). name is ignored
 *  except for PX_FSM_GENERIC_TIMEOUT. */
PX_API void px_fsm_timeout_update(px_fsm_tx *tx, px_fsm_kind kind,
                                  px_atom name, px_val content);

/* ---- API (same contracts as the GenServer functions) ------------------ */

PX_API int px_gen_fsm_start(const px_gen_fsm *def, px_val args,
                            const px_gen_start_opts *opts, px_ref *out);
PX_API int px_gen_fsm_start_link(const px_gen_fsm *def, px_val args,
                                 const px_gen_start_opts *opts, px_ref *out);
/** sync_send_event / gen_statem:call (R-E-12): a px_ask(), with the
 *  outcomes of px_gen_server_call. The reply is taken over when the event
 *  arrives, so it may be answered from a later state or a postponed
 *  event; if the FSM exits while it is owed, the caller gets PX_ENOPROC
 *  with the exit reason. A late reply after PX_ETIMEDOUT is dropped. */
PX_API int px_gen_fsm_call(px_ref fsm, px_atom type, px_val payload,
                           int64_t timeout_ms, px_val *reply);
/** send_event / gen_statem:cast: always 0. */
PX_API int px_gen_fsm_cast(px_ref fsm, px_atom type, px_val payload);
PX_API int px_gen_fsm_reply(px_from from, px_val value);
PX_API int px_gen_fsm_stop(px_ref fsm, px_val reason, int64_t timeout_ms);

PX_EXTERN_C_END

#endif
