/* Actors: spawn, send, ask, receive, links, monitors, names, exits.
 *
 * An actor is isolated state plus a mailbox, run one message at a time by
 * the scheduler. Handlers run on a stackful coroutine, so px_ask(),
 * px_receive() and px_sleep() read as blocking calls while the worker thread
 * goes on with other actors. Semantics follow Erlang/OTP (see
 * docs/semantics.md): per-sender FIFO, links and monitors, trap_exit, exit
 * reasons as values, and refs that never alias a newer actor.
 *
 * Threads: every function here may be called from a handler or from any
 * other thread (an "external" caller). An external thread is given a hidden
 * proxy actor on first use, so it can ask, receive, link and monitor too. */
#ifndef PLEXSPACES_ACTOR_H
#define PLEXSPACES_ACTOR_H

#include "common.h"
#include "error.h"
#include "val.h"

PX_EXTERN_C_BEGIN

/** Names an actor on any node: node id + slot index + generation. A ref to
 *  an exited actor stays invalid forever, even when its slot is reused. */
typedef struct px_ref {
  uint32_t node;
  uint32_t index;
  uint32_t gen;
  uint32_t _reserved;
} px_ref;

static inline bool px_ref_eq(px_ref a, px_ref b) {
  return a.node == b.node && a.index == b.index && a.gen == b.gen;
}
static inline bool px_ref_is_nil(px_ref r) { return r.gen == 0; }
static inline px_ref px_ref_nil(void) {
  px_ref r = {0, 0, 0, 0};
  return r;
}

/** Monitor references and timer references are unique 64-bit ids. */
typedef uint64_t px_mref;
typedef uint64_t px_tref;

/** Where an ask's reply goes. Copy it freely; reply to it exactly once with
 *  px_reply_to(), from any thread, now or later ("noreply" + reply later). */
typedef struct px_from {
  px_ref to;
  uint64_t corr;
} px_from;

/** A message as a handler sees it. Fields are read-only; the runtime frees
 *  the message after the handler returns. To keep the payload, retain it. */
typedef struct px_message {
  px_atom type;   /* public, read-only: message type */
  px_val payload; /* public, read-only: borrowed */
  px_ref from;    /* public, read-only: sender, nil for the runtime */
  uint64_t corr;  /* public, read-only: non-zero when the sender asks */
} px_message;

typedef struct px_actor_type px_actor_type;

/** Callbacks of an actor type; it may be a `static const` object and must
 *  outlive the runtime. `handle` is required; the rest are optional.
 *  `init` runs in the new actor before any message, with `args` borrowed
 *  (retain to keep); it returns 0, or a negative code and the actor exits
 *  with reason [init_failed, Code] (px_exit_self in init picks the reason).
 *  `terminate` runs exactly once when the actor exits, whatever the reason
 *  (kills and stack overflows included), to release the state; it must not
 *  block. Behaviors (GenServer, ...) build their own terminate rules on
 *  top. */
struct px_actor_type {
  const char *name;  /* used in introspection and logs */
  size_t stack_size; /* 0 = runtime default (px_runtime_opts) */
  int (*init)(px_val args, void **state);
  void (*handle)(void *state, const px_message *msg);
  void (*terminate)(void *state, px_val reason);
};

typedef enum px_mbox_policy {
  PX_MBOX_UNBOUNDED = 0,
  PX_MBOX_BLOCK,    /* the sender waits for room (handlers park) */
  PX_MBOX_DROP_NEW, /* the new message is dropped and counted */
  PX_MBOX_DROP_OLD, /* the oldest queued message is dropped and counted */
  PX_MBOX_EXIT,     /* the overloaded actor exits with mailbox_overflow */
} px_mbox_policy;

typedef struct px_spawn_opts {
  bool link;               /* link to the caller atomically */
  bool monitor;            /* monitor from the caller atomically */
  px_mref *mref_out;       /* with monitor: receives the monitor ref */
  const char *name;        /* register under this local name */
  size_t mailbox_cap;      /* with a bounded policy */
  px_mbox_policy mailbox_policy;
  bool trap_exit;          /* start trapping exits */
  px_ref parent;           /* shown in introspection (supervisor) */
  const char *tenant;      /* NULL: the spawner's (none = system actor) */
  const char *ns;          /* NULL: the spawner's */
  const char *label;       /* actor type name for metrics and
                              introspection; NULL = type->name */
} px_spawn_opts;

/** Spawns an actor of `type` with init `args` (takes ownership of args).
 *  Returns 0 and its ref in *out, or PX_ENAMETAKEN when opts->name is taken
 *  (nothing is spawned), PX_ESTOPPED when the runtime is stopping. The new
 *  actor runs init asynchronously; link/monitor are set up before it can
 *  run, so its exit is never missed. `type` must outlive the runtime. */
PX_API int px_spawn(const px_actor_type *type, px_val args,
                    const px_spawn_opts *opts, px_ref *out);

/** Sends a message: asynchronous, never fails for a ref (a dead target drops
 *  it, R-A-2). Takes ownership of payload. Returns 0, or PX_EMAILBOXFULL
 *  (bounded mailbox, block policy, called with no way to wait). */
PX_API int px_send(px_ref to, px_atom type, px_val payload);
/** Sends to a locally registered name; PX_EBADNAME if not registered (the
 *  payload is released). */
PX_API int px_send_name(const char *name, px_atom type, px_val payload);

/** Sends a request and waits up to timeout_ms (-1 = forever) for the reply.
 *  Takes ownership of payload. On 0, *reply is a new value. Errors:
 *  PX_ETIMEDOUT (the target may still process it; the late reply is
 *  dropped), PX_ENOPROC (target dead or it died before replying; *reply is
 *  its exit reason when known), PX_EHANDLER (the handler replied with an
 *  error; *reply is the error value), PX_EDEADLOCK (ask to self). */
PX_API int px_ask(px_ref to, px_atom type, px_val payload, int64_t timeout_ms,
                  px_val *reply);

/** Replies to the message being handled (takes ownership of value). Returns
 *  PX_EINVAL if it is not an ask or was already answered. As in Erlang, an
 *  ask the handler neither answers nor defers is never answered: the
 *  asker gets PX_ETIMEDOUT (or PX_ENOPROC if the actor exits first). */
PX_API int px_reply(const px_message *msg, px_val value);
/** Replies with an error: the asker gets PX_EHANDLER and this value. */
PX_API int px_reply_error(const px_message *msg, px_val error);
/** Takes over the reply of the current ask so it can be answered later,
 *  from any actor or thread (GenServer noreply). If this actor exits while
 *  the reply is still owed, the asker gets PX_ENOPROC with the reason. */
PX_API px_from px_defer_reply(const px_message *msg);
/** Answers a deferred ask from anywhere. Takes ownership of value. */
PX_API int px_reply_to(px_from from, px_val value);
PX_API int px_reply_error_to(px_from from, px_val error);

/** A one-shot completion: the calling actor (or thread) creates it, hands
 *  it to another thread or actor, and waits for it with px_promise_await;
 *  whoever holds it resolves it once with px_reply_to / px_reply_error_to.
 *  Used for work done off the workers (the group-commit writer, I/O). */
typedef px_from px_promise;
PX_API px_promise px_promise_new(void);
/** Waits up to timeout_ms (-1 = forever) for the promise, which must have
 *  been created by the caller: 0 with *out (a new value), PX_EHANDLER
 *  with the error value, or PX_ETIMEDOUT: the promise is then spent, and a
 *  resolution that comes later (or races with the timeout) is dropped.
 *  A handler parks; other messages wait. */
PX_API int px_promise_await(px_promise p, int64_t timeout_ms, px_val *out);

/** Selective receive, only inside a handler or from an external thread.
 *  Scans the mailbox oldest first for a message `match` accepts (NULL
 *  accepts any), removes and returns it in *out (a new message: free it with
 *  px_message_free). Non-matching messages stay in order. timeout_ms 0
 *  checks only what is queued; -1 waits forever. PX_ETIMEDOUT on timeout. */
typedef bool (*px_match_fn)(const px_message *msg, void *ud);
PX_API int px_receive(px_match_fn match, void *ud, int64_t timeout_ms,
                      px_message **out);
PX_API void px_message_free(px_message *msg);

/** Parks the calling handler for ms milliseconds (other messages wait). */
PX_API int px_sleep(int64_t ms);

/** The calling actor's ref (external threads: their proxy's ref). */
PX_API px_ref px_self(void);
/** The calling actor's tenant and namespace, inherited from its spawner
 *  unless px_spawn_opts names them. NULL for system actors and plain
 *  threads. Strings live for the life of the process. */
PX_API const char *px_self_tenant(void);
PX_API const char *px_self_namespace(void);
/** True when called from inside an actor handler. */
PX_API bool px_in_actor(void);
/** The calling actor's state pointer as set by init (NULL outside). */
PX_API void *px_self_state(void);

/* ---- exits, links, monitors (SEMANTICS.md section B) ------------------- */

/** Terminates the calling actor with `reason` (takes ownership). Does not
 *  return when called from a handler. From an external thread it returns
 *  PX_ENOTACTOR. */
PX_API int px_exit_self(px_val reason);
/** Sends an exit signal to `to` (R-B-9): `kill` is untrappable; `normal`
 *  is ignored unless `to` is the caller; trapping actors receive
 *  __EXIT__. Takes ownership of reason. */
PX_API int px_exit(px_ref to, px_val reason);
/** Sets trap_exit for the calling actor; returns the previous value. */
PX_API bool px_trap_exit(bool on);

/** Links the caller and `to` (idempotent). A dead target: returns
 *  PX_ENOPROC and, when trapping, delivers __EXIT__ {noproc}. */
PX_API int px_link(px_ref to);
PX_API int px_unlink(px_ref to);

/** Monitors `to`; exactly one __DOWN__ follows for this mref (noproc when
 *  already dead). */
PX_API px_mref px_monitor(px_ref to);
/** Stops a monitor; with flush, a __DOWN__ already queued is removed.
 *  Harmless on a fired monitor. */
PX_API int px_demonitor(px_mref mref, bool flush);

/* ---- names --------------------------------------------------------------- */

/** Registers a local name (R-A-9). PX_ENAMETAKEN, PX_EHASNAME, PX_ENOPROC. */
PX_API int px_register(const char *name, px_ref ref);
PX_API int px_unregister(const char *name);
/** PX_EBADNAME when not registered. */
PX_API int px_whereis(const char *name, px_ref *out);

/* ---- well-known atoms ---------------------------------------------------- */

/* Message types the runtime sends: __EXIT__ {exit_from, exit_reason},
 * __DOWN__ {down_from, monitor_ref, down_reason}, __TIMEOUT__. Reasons:
 * normal, shutdown, kill, killed, noproc, stack_overflow, mailbox_overflow.
 * Structured reasons are arrays: [shutdown, idle] is {shutdown, idle}. */
typedef struct px_atoms {
  px_atom exit_msg, down_msg, timeout_msg;
  px_atom normal, shutdown, kill, killed, noproc, stack_overflow,
      mailbox_overflow, timeout, error, init_failed;
  px_atom exit_from, exit_reason, down_from, monitor_ref, down_reason;
} px_atoms;
/** Interned well-known atoms; valid after px_runtime_start(). */
PX_API const px_atoms *px_a(void);

/** True when `reason` is normal, shutdown or [shutdown, _] (R-C-7). */
PX_API bool px_reason_is_normal(px_val reason);

/** Renders a ref as "<node.index.gen>" into buf; returns buf. */
PX_API char *px_ref_format(px_ref r, char *buf, size_t cap);
/** Refs inside values (e.g. __DOWN__ payloads) are strings of the form
 *  "<node.index.gen>" made by px_ref_val (a new value); px_val_ref parses
 *  one back (false if `v` is not such a string). */
PX_API px_val px_ref_val(px_ref r);
PX_API bool px_val_ref(px_val v, px_ref *out);

PX_EXTERN_C_END

#endif
