/* GenEvent: an event manager actor hosting any number of handlers
 * (SEMANTICS.md section F). Each handler is (definition, id) with its own
 * state; handlers run inside the manager, one event at a time, oldest
 * handler first [ours, R-F-4]. The manager traps exits.
 *
 * A handler "crashes" by returning PX_EV_ERROR (C has no exceptions to
 * catch): it is removed, terminate gets [error, ['EXIT', Err]], and the
 * other handlers go on (R-F-5). An unknown result is a bad return:
 * terminate gets [error, Result]. A handler must never px_exit_self: that
 * would end the whole manager. */
#ifndef PLEXSPACES_GEN_EVENT_H
#define PLEXSPACES_GEN_EVENT_H

#include "actor.h"
#include "common.h"
#include "gen_server.h"
#include "val.h"

PX_EXTERN_C_BEGIN

typedef enum px_ev_result {
  PX_EV_OK = 0,  /* go on */
  PX_EV_REMOVE,  /* remove_handler: terminate(remove_handler) (R-F-7);
                    from handle_call, *reply still answers the call */
  PX_EV_ERROR,   /* failure: *err holds the error (ownership passes) */
  PX_EV_SWAP,    /* swap_handler (R-F-7): return it through px_ev_swap */
  PX_EV_HIBERNATE, /* OK + hibernate: accepted for OTP parity, no effect
                      (R-F-11) */
} px_ev_result;

/** A handler definition; must outlive the runtime. Values passed in are
 *  borrowed; values passed out pass their ownership. */
typedef struct px_event_handler {
  const char *name;
  /** OK installs the handler; ERROR rejects it with *err (R-F-2). */
  px_ev_result (*init)(px_val args, void **state, px_val *err);
  px_ev_result (*handle_event)(void *state, px_atom type, px_val payload,
                               px_val *err);
  /** R-F-8: OK answers *reply; ERROR removes the handler. */
  px_ev_result (*handle_call)(void *state, px_atom type, px_val payload,
                              px_val *reply);
  /** Messages to the manager that are not its own (exits of others...). */
  px_ev_result (*handle_info)(void *state, px_atom type, px_val payload,
                              px_val *err);
  /** Called whenever the handler is removed, except when the manager is
   *  killed; returns a new value (the result of delete_handler, or what
   *  swap passes on), may be nil. */
  px_val (*terminate)(void *state, px_val reason);
  /** Destructor: exactly once, after terminate if that ran; no blocking. */
  void (*free_state)(void *state);
} px_event_handler;

/** swap_handler returned from handle_event, handle_call or handle_info
 *  (R-F-7, OTP {swap_handler, Args1, S, Handler2, Args2}): the calling
 *  handler's terminate(args1) runs, giving T, then h2 (with id2) is
 *  installed with init([args2, T]) -- the same steps and results as
 *  px_gen_event_swap_handler, including a supervised handler keeping its
 *  supervisor (told [swapped, h2 name, id2]). If h2's init refuses, the
 *  old handler is gone all the same (logged). The new handler does not
 *  see the event being dispatched. `out` is the callback's err / reply
 *  out-parameter; `reply` is what a handle_call answers (nil elsewhere).
 *  Takes ownership of args1, id2, args2 and reply. Returns PX_EV_SWAP:
 *  `return px_ev_swap(err, ...);`. */
PX_API px_ev_result px_ev_swap(px_val *out, px_val args1,
                               const px_event_handler *h2, px_val id2,
                               px_val args2, px_val reply);

/** Starts a manager; same contract as px_gen_server_start (args unused,
 *  pass nil). */
PX_API int px_gen_event_start(const px_gen_start_opts *opts, px_ref *out);
PX_API int px_gen_event_start_link(const px_gen_start_opts *opts,
                                   px_ref *out);

/** add_handler (R-F-2): 0; PX_EEXIST for a (handler, id) already
 *  installed [ours: OTP installs a second copy]; PX_EINIT with *err (a new
 *  value, if err is given) when init refused; PX_ENOPROC. Takes ownership
 *  of id and args. */
PX_API int px_gen_event_add_handler(px_ref mgr, const px_event_handler *h,
                                    px_val id, px_val args, px_val *err);
/** add_sup_handler (R-F-9): as add_handler, and the handler is tied to
 *  the caller: if the caller dies with R the handler is removed with
 *  terminate([stop, R]); if the handler is removed, the caller receives
 *  a message of type gen_event_EXIT with payload [name, id, reason],
 *  reason = normal | shutdown | [swapped, name2, id2] | ['EXIT', Err] |
 *  [error, Term]. */
PX_API int px_gen_event_add_sup_handler(px_ref mgr, const px_event_handler *h,
                                        px_val id, px_val args, px_val *err);
/** delete_handler (R-F-6): terminate(args); 0 with *result (new value) or
 *  PX_ENOTFOUND. */
PX_API int px_gen_event_delete_handler(px_ref mgr, const px_event_handler *h,
                                       px_val id, px_val args,
                                       px_val *result);
/** swap_handler (R-F-7): h1 terminate(args1) -> T; h2 init([args2, T]).
 *  PX_ENOTFOUND if h1 is missing (h2 is still tried, as in OTP);
 *  PX_EINIT with *err when h2's init refused. A supervised h1 keeps its
 *  supervisor for h2. */
PX_API int px_gen_event_swap_handler(px_ref mgr, const px_event_handler *h1,
                                     px_val id1, px_val args1,
                                     const px_event_handler *h2, px_val id2,
                                     px_val args2, px_val *err);
/** notify (R-F-3): asynchronous, always 0 (also for a dead manager). */
PX_API int px_gen_event_notify(px_ref mgr, px_atom type, px_val payload);
PX_API int px_gen_event_notify_name(const char *name, px_atom type,
                                    px_val payload);
/** sync_notify: returns 0 after every handler has handled the event. */
PX_API int px_gen_event_sync_notify(px_ref mgr, px_atom type, px_val payload);
/** call one handler (R-F-8): 0 with *reply; PX_ENOTFOUND (bad_module);
 *  PX_EHANDLER with *reply = ['EXIT', Err] when it failed (removed).
 *  Like every request here it is a px_ask() to the manager: PX_ENOPROC
 *  (*reply = the manager's exit reason) when it is dead or dies first,
 *  PX_ETIMEDOUT after timeout_ms (0 = PX_GEN_CALL_TIMEOUT; a late reply
 *  is dropped). */
PX_API int px_gen_event_call(px_ref mgr, const px_event_handler *h, px_val id,
                             px_atom type, px_val payload, int64_t timeout_ms,
                             px_val *reply);
/** which_handlers: *out = array of [name, id] in run order (new value). */
PX_API int px_gen_event_which_handlers(px_ref mgr, px_val *out);
/** stop (R-F-10): every handler gets terminate(stop); synchronous. */
PX_API int px_gen_event_stop(px_ref mgr, int64_t timeout_ms);

PX_EXTERN_C_END

#endif
