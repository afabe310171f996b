/* GenServer: a client/server actor with OTP gen_server semantics
 * (SEMANTICS.md section D) and PLEXSPACES-style per-type dispatch.
 *
 * How messages are told apart (the server never needs to guess):
 *   - a call is any ask (corr != 0) of any type -> handle_call(type,
 *     payload). px_gen_server_call() is px_ask() with the OTP default
 *     timeout, so a plain px_ask() is a call too, which is how PLEXSPACES
 *     routes "call" requests. The server takes over the reply of every
 *     call (px_defer_reply): answer it in the callback through the result,
 *     or later with px_gen_server_reply(from), from any actor or thread;
 *   - a cast travels in an envelope of type __gen_cast__ [type, payload]
 *     made by px_gen_server_cast() -> handle_cast(type, payload);
 *   - anything else (px_send, timers, __EXIT__, __DOWN__) -> handle_info.
 * The types __gen_ack__, __gen_stop__, __gen_cast__ and __gen_timeout__
 * are reserved for plain sends; user code must not send them.
 *
 * Callbacks run inside the actor, one message at a time, on a stackful
 * coroutine, so they may px_ask() other actors or px_sleep().
 *
 * Errors. A callback that returns PX_GS_ERROR reports a recoverable error
 * (PLEXSPACES "error_reply"): a call gets PX_EHANDLER with out->reply and
 * the server lives on. A "crash" is px_exit_self(reason) from a callback:
 * the server dies with that reason, terminate(state, reason) runs
 * (R-D-10) and a pending caller gets PX_ENOPROC with the reason (R-D-2). A
 * terminate that runs after a crash is on the runtime's exit path and must
 * not block (no px_ask); after a stop result or a stop request it runs as
 * a normal callback and may. */
#ifndef PLEXSPACES_GEN_SERVER_H
#define PLEXSPACES_GEN_SERVER_H

#include "actor.h"
#include "common.h"
#include "val.h"

PX_EXTERN_C_BEGIN

/** Default call timeout (OTP's 5000 ms); a call timeout of 0 means this. */
#define PX_GEN_CALL_TIMEOUT 5000

/** Start options shared by every behavior (gen_server, gen_fsm,
 *  gen_event). Zero-initialised means: no name, no trap_exit, no start
 *  timeout, reason not wanted. */
typedef struct px_gen_start_opts {
  const char *name;   /* register under this local name; a taken name
                         gives PX_EALREADYSTARTED and *out = its holder */
  bool trap_exit;     /* the actor traps exits from birth (R-D-12) */
  int64_t timeout_ms; /* init must finish within this or the actor is
                         killed and start gives PX_ETIMEDOUT; 0 = none */
  px_val *reason_out; /* with PX_EINIT: receives the reason (a new value,
                         release it); may be NULL */
} px_gen_start_opts;

/** What a callback asks the server to do next. */
typedef enum px_gs_result {
  PX_GS_OK = 0,     /* init: started. cast/info/continue: go on. call:
                       same as PX_GS_NOREPLY */
  PX_GS_REPLY,      /* call: reply with out->reply */
  PX_GS_NOREPLY,    /* call: reply later with px_gen_server_reply(from) */
  PX_GS_STOP_REPLY, /* call: reply out->reply, then stop with out->reason */
  PX_GS_STOP,       /* stop with out->reason (init: start gives PX_EINIT) */
  PX_GS_ERROR,      /* recoverable error: a call gets PX_EHANDLER and
                       out->reply; the server lives on */
  PX_GS_IGNORE,     /* init only: start gives PX_EIGNORE (R-D-1) */
} px_gs_result;

/** Out-parameters of a callback, preset by the server: reply and reason
 *  nil, timeout_ms -1, no continue. Values stored here pass their
 *  ownership to the server. */
typedef struct px_gs_out {
  px_val reply;       /* REPLY, STOP_REPLY, ERROR: for the caller */
  px_val reason;      /* STOP, STOP_REPLY: exit reason; nil = normal */
  int64_t timeout_ms; /* >= 0: event timeout (R-D-8): handle_info gets
                         type `timeout` if no message comes first; -1 =
                         infinity */
  bool has_continue;  /* run handle_continue(cont) before any message */
  px_val cont;        /* the continue term (R-D-7) */
  bool hibernate;     /* accepted for OTP parity; no effect (R-D-9) */
} px_gs_out;

/** handle_call: type and payload are borrowed; `from` identifies the
 *  caller for a later px_gen_server_reply (R-D-6). */
typedef px_gs_result (*px_gs_call_fn)(void *state, px_atom type,
                                      px_val payload, px_from from,
                                      px_gs_out *out);
/** handle_cast / handle_info: type and payload are borrowed. */
typedef px_gs_result (*px_gs_cast_fn)(void *state, px_atom type,
                                      px_val payload, px_gs_out *out);

/** One entry of a per-type dispatch table (PLEXSPACES "ops"): a call or
 *  cast of message type `type` goes to these before the generic
 *  handle_call / handle_cast. Either function may be NULL. */
typedef struct px_gs_op {
  const char *type;
  px_gs_call_fn call;
  px_gs_cast_fn cast;
} px_gs_op;

/** A GenServer definition. It is usually a `static const` object and must
 *  outlive the runtime. Every callback except init is optional: a call
 *  nobody handles gets PX_EHANDLER [unknown_call, type]; unhandled casts
 *  and infos are dropped. */
typedef struct px_gen_server {
  const char *name; /* for logs */
  /** Runs in the new actor before start returns (R-D-1); args borrowed.
   *  Returns OK (out->timeout_ms / out->cont apply), IGNORE or STOP with
   *  out->reason. */
  px_gs_result (*init)(px_val args, void **state, px_gs_out *out);
  px_gs_call_fn handle_call;
  px_gs_cast_fn handle_cast;
  px_gs_cast_fn handle_info;
  /** R-D-7: cont is borrowed. */
  px_gs_result (*handle_continue)(void *state, px_val cont, px_gs_out *out);
  /** R-D-10: on stop results, stop requests, a crash in a callback, and
   *  the parent's EXIT while trapping; never on kill or an untrapped exit
   *  signal. reason is borrowed. */
  void (*terminate)(void *state, px_val reason);
  /** Destructor: runs exactly once whenever the actor exits, after
   *  terminate if that ran, with the state init set (if non-NULL). Must
   *  not block. */
  void (*free_state)(void *state);
  const px_gs_op *ops;
  size_t nops;
} px_gen_server;

/* Small helpers so callbacks read like OTP return tuples. Each takes
 * ownership of its values. */
static inline px_gs_result px_gs_reply(px_gs_out *o, px_val reply) {
  o->reply = reply;
  return PX_GS_REPLY;
}
static inline px_gs_result px_gs_error(px_gs_out *o, px_val error) {
  o->reply = error;
  return PX_GS_ERROR;
}
static inline px_gs_result px_gs_stop(px_gs_out *o, px_val reason) {
  o->reason = reason;
  return PX_GS_STOP;
}
static inline px_gs_result px_gs_stop_reply(px_gs_out *o, px_val reason,
                                            px_val reply) {
  o->reason = reason;
  o->reply = reply;
  return PX_GS_STOP_REPLY;
}
static inline void px_gs_continue(px_gs_out *o, px_val cont) {
  o->has_continue = true;
  o->cont = cont;
}

/** Starts a server and waits until its init returned (R-D-1). Takes
 *  ownership of args. The caller becomes the server's parent. Returns 0
 *  with *out; PX_EIGNORE; PX_EINIT (reason in opts->reason_out);
 *  PX_EALREADYSTARTED (*out = the holder of opts->name); PX_ETIMEDOUT;
 *  PX_ESTOPPED. After PX_EIGNORE, PX_EINIT and PX_ETIMEDOUT, *out names
 *  the actor that was started, already dead. A failed start never sends the caller an exit signal and
 *  leaves no actor behind [ours: OTP kills a non-trapping linked caller].
 *  opts may be NULL. Callable from handlers and external threads. */
PX_API int px_gen_server_start(const px_gen_server *gs, px_val args,
                               const px_gen_start_opts *opts, px_ref *out);
/** Same, linked to the caller (atomically, before init runs). */
PX_API int px_gen_server_start_link(const px_gen_server *gs, px_val args,
                                    const px_gen_start_opts *opts,
                                    px_ref *out);

/** For spawners other than px_gen_server_start (px_spawn_durable): the
 *  raw actor type every GenServer runs as, and the init args (a new value;
 *  takes ownership of args) that make it run `gs`. Such a start has no
 *  starter: nobody waits for init, and a failed init makes the server exit
 *  with its reason on its first message. */
PX_API const px_actor_type *px_gen_server_type(void);
PX_API px_val px_gen_server_args(const px_gen_server *gs, px_val args);
/** Given the raw state of a GenServer actor (what its px_actor_type's
 *  callbacks get), the state the user's init made (NULL if none). */
PX_API void *px_gen_server_user_state(void *raw);

/** A call (R-D-2): a px_ask() of `type`, waiting up to timeout_ms (0 =
 *  PX_GEN_CALL_TIMEOUT, -1 = forever). Takes ownership of payload. Exactly
 *  one outcome: 0 with *reply (a new value; also when the server replies
 *  and stops or crashes in the same callback); PX_EHANDLER (*reply = the
 *  error, the server lives on); PX_ENOPROC (server dead, unknown, or it
 *  died before replying, also while it held the reply after NOREPLY;
 *  *reply = its exit reason, noproc when it was already gone);
 *  PX_ETIMEDOUT (the server may still handle the request; a late reply is
 *  dropped by the runtime and never reaches the caller's mailbox, as with
 *  OTP 24+ (R-D-3)); PX_EDEADLOCK (call to self); PX_EMAILBOXFULL (the
 *  server's bounded mailbox refused it). *reply is a new value
 *  (nil when there is none) after every outcome: release it. */
PX_API int px_gen_server_call(px_ref server, px_atom type, px_val payload,
                              int64_t timeout_ms, px_val *reply);
/** A cast (R-D-4): asynchronous, always returns 0, even for a dead ref or
 *  an unregistered name. Takes ownership of payload. */
PX_API int px_gen_server_cast(px_ref server, px_atom type, px_val payload);
PX_API int px_gen_server_cast_name(const char *name, px_atom type,
                                   px_val payload);
/** Answers a call taken with PX_GS_NOREPLY, from any actor or thread
 *  (R-D-6); px_reply_to(from, value). Answer each call at most once.
 *  Takes ownership of value; PX_EINVAL for an empty from. */
PX_API int px_gen_server_reply(px_from from, px_val value);
/** Stops a server synchronously (R-D-13): terminate(reason) runs and the
 *  actor is gone when this returns 0. Takes ownership of reason (nil =
 *  normal). PX_ENOPROC if it is not alive, PX_ETIMEDOUT after timeout_ms
 *  (-1 = forever; 0 = forever too). Not from the server itself. */
PX_API int px_gen_server_stop(px_ref server, px_val reason,
                              int64_t timeout_ms);

/* ---- many servers at once, asynchronous requests (R-D-14) ---------------
 * Mechanism. The runtime's px_ask() blocks and its reply is a signal that
 * only the asking actor, parked in that ask, can take. An asynchronous
 * request therefore gets its own asker: px_gen_server_send_request()
 * spawns a tiny "request" actor (type name gen_request), monitored by the
 * caller, which px_ask()s the server on the caller's behalf, with no
 * timeout, and then exits with the outcome as its exit reason:
 * [shutdown, [__gen_response__, rc, value]] (a {shutdown, _} reason, so
 * the exit is silent, R-C-7). The response is thus the __DOWN__ of that
 * monitor: an ordinary message in the caller's mailbox, found with
 * px_receive() and a match on the monitor ref, or handed to a caller's
 * handle_info (pass its type and payload to px_gen_server_check_response).
 * The request id is that monitor plus the request actor's ref.
 *   - The server needs nothing new: it sees a plain call (an ask) and
 *     answers it with the result, px_reply, or px_defer_reply and a later
 *     px_reply_to / px_gen_server_reply. `from.to` names the request
 *     actor, not the caller.
 *   - Every request gets exactly one response, as every ask gets one
 *     answer: 0 with the reply, PX_EHANDLER with the error, PX_ENOPROC with
 *     the server's exit reason (dead, unknown, or it died first). A
 *     request actor killed by someone else also answers PX_ENOPROC, with
 *     its own reason (killed).
 *   - Abandoning a request (px_gen_server_reqid_abandon, a
 *     receive_response that timed out, a freed collection) demonitors with
 *     flush and kills the request actor: nothing reaches the mailbox
 *     later, as with OTP 24+ aliases (R-D-3). The server may still handle
 *     the request; its reply goes nowhere.
 *   - A request that is neither awaited nor abandoned keeps its request
 *     actor (a few hundred bytes and a stack) alive until the server
 *     answers or exits; if the caller dies meanwhile, the response is
 *     dropped.
 *   - Cost: one spawn per request. Works for any actor that answers asks
 *     (GenServer, GenFSM calls, plain actors).
 *
 * Timeouts are px_receive() timeouts, so they follow the runtime clock
 * (virtual when so configured) inside actors; external threads wait in
 * real time, as px_receive() does there. */

/** A server to reach: a ref, or a registered name (name non-NULL wins).
 *  `node` names the node of a registered name: 0 or this node's id is
 *  local; other nodes are reserved for the cluster and are reported as
 *  bad servers (PX_ENOTSUP) until it exists. For refs the node is in the
 *  ref. */
typedef struct px_gen_target {
  const char *name;
  uint32_t node;
  px_ref ref;
} px_gen_target;

static inline px_gen_target px_gen_target_ref(px_ref r) {
  px_gen_target t = {NULL, 0, r};
  return t;
}
static inline px_gen_target px_gen_target_name(const char *name) {
  px_gen_target t = {name, 0, {0, 0, 0, 0}};
  return t;
}

/** One server's outcome in a multi_call. */
typedef struct px_gen_multi_reply {
  int rc;       /* 0 reply, PX_EHANDLER error reply (both: it answered);
                   PX_ENOPROC dead/unknown (value = reason: noproc for an
                   unknown name), PX_ETIMEDOUT no answer in time,
                   PX_ENOTSUP remote node (not yet) */
  px_val value; /* a new value (nil when none): release it */
} px_gen_multi_reply;

/** multi_call (R-D-14): sends the same call to every target at once and
 *  waits up to timeout_ms in all (0 = PX_GEN_CALL_TIMEOUT, -1 = forever)
 *  for their answers. replies[i] is servers[i]'s outcome (n entries).
 *  bad (n entries, may be NULL) receives the indexes of the bad servers
 *  -- every one whose rc is neither 0 nor PX_EHANDLER: dead, unknown,
 *  timed out -- in index order, their count in *nbad (may be NULL).
 *  Servers that time out may still handle the request; their replies are
 *  dropped. Takes ownership of payload (shared by all requests). Returns
 *  0 or PX_EINVAL (NULL servers/replies with n > 0). A node
 *  list form (OTP multi_call(Nodes, Name, ...)) maps to targets
 *  {name, node}. */
PX_API int px_gen_server_multi_call(const px_gen_target *servers, size_t n,
                                    px_atom type, px_val payload,
                                    int64_t timeout_ms,
                                    px_gen_multi_reply *replies, size_t *bad,
                                    size_t *nbad);
/** abcast: px_gen_server_cast to every target; always 0 (absent servers
 *  and unknown names are fine, R-D-4). Takes ownership of payload. */
PX_API int px_gen_server_abcast(const px_gen_target *servers, size_t n,
                                px_atom type, px_val payload);

/** A request id: the monitor on the request actor, and that actor. A
 *  plain value; copy it freely but consume it once. */
typedef struct px_reqid {
  px_mref mref;
  px_ref relay;
} px_reqid;

/** send_request: sends the call and returns at once with *out (R-D-14).
 *  Takes ownership of payload. 0 or PX_ESTOPPED. A dead or
 *  unknown server is no error here: its response is PX_ENOPROC. */
PX_API int px_gen_server_send_request(px_ref server, px_atom type,
                                      px_val payload, px_reqid *out);
/** Same for a registered name (resolved now; unknown -> noproc). */
PX_API int px_gen_server_send_request_name(const char *name, px_atom type,
                                           px_val payload, px_reqid *out);
/** wait_response: waits up to timeout_ms (-1 = forever, 0 = only what has
 *  arrived) for the response. 0 with *reply, PX_EHANDLER with the error,
 *  PX_ENOPROC with the exit reason: the request is consumed. PX_ETIMEDOUT:
 *  nothing yet; the id stays valid (wait again, or abandon it). *reply is
 *  a new value (nil on timeout). */
PX_API int px_gen_server_wait_response(px_reqid id, int64_t timeout_ms,
                                       px_val *reply);
/** receive_response: as wait_response, but a timeout abandons the
 *  request: no response will ever show up for it. */
PX_API int px_gen_server_receive_response(px_reqid id, int64_t timeout_ms,
                                          px_val *reply);
/** check_response: is this received message (type and payload, e.g. from
 *  handle_info or a px_message) the response to id? If so, the request is
 *  consumed and the outcome returned as by wait_response; PX_ENOTFOUND
 *  (OTP no_reply) if it is not. Never blocks. */
PX_API int px_gen_server_check_response(px_atom type, px_val payload,
                                        px_reqid id, px_val *reply);
/** Abandons a request: no response will ever reach the mailbox; the
 *  request actor is killed. Harmless on a consumed id. Always 0. */
PX_API int px_gen_server_reqid_abandon(px_reqid id);

/** A request-id collection (OTP reqids_*): ids with labels, awaited as a
 *  set; each response is reported once, with its label, and leaves the
 *  collection. Owned by one actor (or thread): the one that sent the
 *  requests. */
typedef struct px_reqids px_reqids;

/** A new, empty collection (never NULL). */
PX_API px_reqids *px_gen_server_reqids_new(void);
/** Abandons every request still in it, releases the labels, frees it. */
PX_API void px_gen_server_reqids_free(px_reqids *c);
/** Adds id under label (takes ownership of label). 0 or PX_EINVAL. */
PX_API int px_gen_server_reqids_add(px_reqids *c, px_reqid id, px_val label);
/** Number of requests not yet answered. */
PX_API size_t px_gen_server_reqids_size(const px_reqids *c);
/** Waits up to timeout_ms (-1 = forever, 0 = poll) for any response:
 *  its outcome (0, PX_EHANDLER, PX_ENOPROC) with *label and *reply (new
 *  values), the request removed; PX_ETIMEDOUT (nothing removed);
 *  PX_ENOTFOUND when the collection is empty (OTP no_request). */
PX_API int px_gen_server_reqids_wait_any(px_reqids *c, int64_t timeout_ms,
                                         px_val *label, px_val *reply);

/** One response out of a collection. */
typedef struct px_reqid_result {
  px_val label; /* new value */
  int rc;       /* 0, PX_EHANDLER, PX_ENOPROC */
  px_val reply; /* new value */
} px_reqid_result;

/** Waits up to timeout_ms in all (-1 = forever) for every response,
 *  filling out[0..*nout) in arrival order. 0: the collection is empty;
 *  PX_ETIMEDOUT: time ran out and the rest stay in it; PX_ERANGE: out
 *  (cap entries) filled up first. */
PX_API int px_gen_server_reqids_wait_all(px_reqids *c, int64_t timeout_ms,
                                         px_reqid_result *out, size_t cap,
                                         size_t *nout);
/** check_response against a collection: the outcome with *label and
 *  *reply if the message answers one of its requests (removed), else
 *  PX_ENOTFOUND. Never blocks. */
PX_API int px_gen_server_reqids_check(px_reqids *c, px_atom type,
                                      px_val payload, px_val *label,
                                      px_val *reply);

PX_EXTERN_C_END

#endif
