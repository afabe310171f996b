/* Workflows: durable, exactly-once executions (SEMANTICS.md I and J,
 * PLEXSPACES.md 2.7; issue 4).
 *
 * A workflow type is a C function `run` plus an optional `query`. One
 * execution per (tenant, namespace, workflow id) is open at a time; it
 * runs as one actor, on that actor's coroutine, in blocking style. What
 * run does through this API (steps, sleeps, now, random, signal receives)
 * are *commands*; each is journaled in the store before it returns, in the
 * stream "wf/<tenant>/<ns>/<id>" (one writer: the execution's actor).
 *
 * Replay (the Temporal model). When an execution is recovered (the node
 * restarted, or its actor was killed) run is called again from the start
 * with the journaled input, and every command is matched, in order, with
 * the journal: a journaled step returns its journaled result without
 * calling its function again, a journaled sleep keeps its original
 * deadline, now/random return the journaled values, a journaled receive
 * returns the same signal. Past the journal's tail execution is live.
 *
 * Non-determinism. The identity of a command is (kind, position, name):
 * a replay that asks for a different command at a position than the
 * journal holds (a step renamed, inserted, removed or reordered, a sleep
 * where a step was) fails the execution (status PX_WF_FAILED) with an
 * error naming both, e.g. "non-determinism at seq 7: journal has step
 * 'charge', code asked for step 'reserve'", and the command returns
 * PX_ENONDETERMINISM (every later one too). A run that returns while the
 * journal holds more commands fails the same way. Arguments are not part
 * of the identity: changing what a step computes, or a sleep's duration,
 * is not an error (R-I-7). Appending commands after the tail is fine. It
 * never silently continues.
 *
 * Exactly-once. A step's result is durable before px_step returns; once
 * journaled the function never runs again, across any number of crashes.
 * A crash between the function's effect and its record re-runs the
 * function (at-least-once effect, exactly-once record, R-J-5): give the
 * outside world px_wf_idempotency_key() so it can deduplicate.
 *
 * External events go to a second stream, the inbox "wfin/<tenant>/<ns>/
 * <id>", written by whoever signals, cancels, pauses or resumes: each is
 * durable before the call returns, also while the execution's actor is
 * down (not recovered yet). The execution learns of them in inbox order.
 * Which signal a receive consumed, and where run observed a cancel, are
 * commands (journaled), so replay is deterministic whatever the arrival
 * timing.
 *
 * An index of executions lives in the store's KV scope "sys/workflows"
 * (key "<tenant>/<ns>/<id>", value {type, status, result}); status is
 * answered from it for closed ones. The open ones are also keys of
 * "sys/workflows-open" (value: the type name), which px_workflow_recover
 * lists.
 *
 * Time. Durable deadlines are wall-clock milliseconds. The workflow clock
 * is the wall clock at the runtime's start plus the runtime clock
 * (px_clock_ms), so under a virtual clock (px_runtime_opts.virtual_clock)
 * sleeps, receive timeouts and retry backoffs follow px_clock_advance.
 *
 * Scoping. Ids are scoped by (tenant, namespace): the plain calls use the
 * caller's (px_self_tenant / px_self_namespace, "default" when the caller
 * has none); the _in variants name them (NULL = the caller's). An actor
 * that has a tenant may name only its own (another: PX_EPERM); system
 * actors and plain threads (the node, its HTTP layer) may name any. The
 * execution's actor runs with that tenant and namespace.
 *
 * Threads. The px_workflow_* calls may be called from handlers (they park)
 * or plain threads (they block); a handler killed while parked in one
 * leaves nothing half done (a start or an inbox append is finished by the
 * store's writer after the commit, or not at all). The px_wf_* and
 * px_step calls only from inside run, on the execution's own coroutine.
 *
 * Retention. A closed execution's journal, inbox and index entry stay in
 * the store until a new execution reuses the id (no expiry yet). An open
 * execution's journal, and what run borrows, grow with its commands until
 * it continues as new (px_wf_continue_as_new). */
#ifndef PLEXSPACES_WORKFLOW_H
#define PLEXSPACES_WORKFLOW_H

#include "actor.h"
#include "common.h"
#include "store.h"
#include "val.h"

PX_EXTERN_C_BEGIN

/** An execution as run sees it (opaque; valid during run and query). */
typedef struct px_wf px_wf;

typedef enum px_wf_status {
  PX_WF_RUNNING = 1, /* open */
  PX_WF_PAUSED,      /* open, paused (px_workflow_pause) */
  PX_WF_COMPLETED,   /* closed: run returned 0 */
  PX_WF_FAILED,      /* closed: run returned an error, crashed, or
                        diverged from its journal */
  PX_WF_CANCELLED,   /* closed: run returned PX_ECANCELLED */
} px_wf_status;

/** "running", "paused", "completed", "failed", "cancelled" ("?" else). */
PX_API const char *px_wf_status_name(px_wf_status s);

/** A workflow type: a static definition that outlives the runtime.
 *
 *  run(wf, input, result): input is borrowed. Return 0 with *result (a
 *  new value, or left nil) to complete; PX_ECANCELLED to close as
 *  cancelled (*result is kept as the cancellation's value); any other
 *  negative code to fail, with *result as the error value (nil: the
 *  code's name is used). run must be deterministic: everything that may
 *  differ between runs goes through a command (px_step, px_wf_now,
 *  px_wf_random, px_wf_signal_recv, px_wf_sleep). A crash of run
 *  (px_exit_self, a stack overflow) fails the execution; it never takes
 *  the node down.
 *
 *  query(wf, name, args, out): optional, read-only. It runs on the
 *  execution's coroutine while run is parked in a wait (a sleep, a signal
 *  receive, a retry backoff, a pause); a query sent while run computes
 *  waits for the next wait. It must not block or issue commands (they
 *  return PX_EINVAL); px_wf_state may still be NULL. Return 0 with *out
 *  (a new value), or a negative code with *out as an error value.
 *  Queries are never journaled.
 *
 *  Memory: when the node stops or the execution's actor is killed, run's
 *  stack is abandoned where it is parked. Values the commands hand to run
 *  are therefore borrowed from the execution (valid until run returns),
 *  and anything run allocates itself should be reachable from its state
 *  (px_wf_set_state) or released before the next command. */
typedef struct px_workflow_type {
  const char *name;
  int (*run)(px_wf *wf, px_val input, px_val *result);
  int (*query)(px_wf *wf, const char *name, px_val args, px_val *out);
  size_t stack_size; /* coroutine stack, 0 = runtime default */
} px_workflow_type;

/** Registers a type for this runtime's life, with the store its
 *  executions journal in. Every type must use the same store (one
 *  workflow store per runtime; another gives PX_EINVAL); the store must
 *  stay open until px_runtime_stop. Registering the same definition again
 *  is a no-op; another definition under a taken name is PX_EEXIST. Does
 *  not resume anything: call px_workflow_recover once the types are in.
 *  Call it after px_runtime_start (px_runtime_stop forgets every
 *  registration). Errors: PX_EINVAL (NULL, no name, no run). */
PX_API int px_workflow_register(const px_workflow_type *t, px_store *s);

/** Unregisters the type named `name` (an app being undeployed): new
 *  starts of it get PX_ENOTFOUND and px_workflow_recover leaves its open
 *  executions down; executions running now go on to their end with the
 *  code they run. Registering the same definition again (after its run
 *  and query were updated, say) makes it known again. 0, or PX_ENOTFOUND
 *  if no such type is registered. */
PX_API int px_workflow_unregister(const char *name);

/** Resumes every open execution of a registered type that has no live
 *  actor (after a restart, or after its actor was killed): each replays
 *  its journal and continues. *n_out (may be NULL) gets how many were
 *  resumed. Executions of types not registered stay down (they still
 *  accept signals, cancels, pauses). PX_EINVAL before any register. */
PX_API int px_workflow_recover(size_t *n_out);

/* ---- starting -------------------------------------------------------- */

/** When an open execution has the id (R-I-1). */
typedef enum px_wf_id_conflict {
  PX_WF_CONFLICT_FAIL = 0,     /* start fails with PX_EEXIST (default) */
  PX_WF_CONFLICT_USE_EXISTING, /* start returns 0 and attaches to it */
} px_wf_id_conflict;

/** When a closed execution has the id. */
typedef enum px_wf_id_reuse {
  PX_WF_REUSE_ALLOW = 0,     /* start a new one, its journal replaces the
                                old (Temporal's default) */
  PX_WF_REUSE_REJECT,        /* PX_EEXIST (Restate: run once per id) */
  PX_WF_REUSE_ALLOW_FAILED,  /* only after failed or cancelled */
} px_wf_id_reuse;

typedef struct px_wf_start_opts {
  px_wf_id_conflict on_open;
  px_wf_id_reuse on_closed;
  bool *attached_out; /* may be NULL: true when start attached to an
                         open execution instead of starting one */
} px_wf_start_opts;

/** Starts an execution of `type` (registered) with id `id` and `input`
 *  (journaled; takes ownership of it, also on errors). Returns once the
 *  start is durable; the run goes on asynchronously. opts may be NULL
 *  (defaults above). Errors:
 *  PX_EINVAL (bad id: empty, over 200 bytes, or containing '/' or NUL),
 *  PX_ENOTFOUND (type not registered), PX_EEXIST (see the policies),
 *  PX_EIO and other store errors (nothing started), PX_ESTOPPED (the
 *  runtime is stopping: the start is durable, px_workflow_recover will
 *  run it). */
PX_API int px_workflow_start_in(const char *tenant, const char *ns,
                                const char *type, const char *id,
                                px_val input, const px_wf_start_opts *opts);

/** Signal-with-start (R-I-14): signals the open execution `id` (as
 *  px_workflow_signal), or, when none is open, starts one with `input` (as
 *  px_workflow_start, opts->on_closed applies) whose inbox holds the
 *  signal from the same durable write, so run always receives it. Takes
 *  ownership of input and payload. opts->attached_out tells which
 *  happened; opts->on_open is ignored (attaching is the point). Errors as
 *  for start and signal. */
PX_API int px_workflow_signal_with_start_in(const char *tenant,
                                            const char *ns, const char *type,
                                            const char *id, px_val input,
                                            const char *name, px_val payload,
                                            const px_wf_start_opts *opts);

/* ---- messages -------------------------------------------------------- */

/** Signals an open execution (R-I-14): `name` (non-empty) and `payload` (takes
 *  ownership, also on errors) are appended to its inbox and are durable when
 *  this returns; run receives them with px_wf_signal_recv, in inbox order.
 *  Works while the execution is down. Errors: PX_ENOTFOUND (no such execution,
 *  or it is closed, T-I-11), PX_EINVAL, store errors. A signal sent while the
 *  execution's start is still being written waits for it. A signal that races
 *  with the execution closing is recorded but never received. */
PX_API int px_workflow_signal_in(const char *tenant, const char *ns,
                                 const char *id, const char *name,
                                 px_val payload);

/** Queries an open execution (R-I-15) with `args` (takes ownership; the
 *  callback borrows them): the type's query callback answers once run is parked
 *  in a wait. Waits up to timeout_ms (-1 = forever). Returns 0 with *out (new),
 *  the callback's negative code with *out its error value, PX_ENOTSUP (the type
 *  has no query), PX_ENOTFOUND (no such open execution), PX_ENOPROC (open but
 *  down: not recovered), PX_ETIMEDOUT. Never journaled. */
PX_API int px_workflow_query_in(const char *tenant, const char *ns,
                                const char *id, const char *name,
                                px_val args, int64_t timeout_ms,
                                px_val *out);

/** Status of an execution into *status (required: NULL is PX_EINVAL);
 *  *result (may be NULL) gets a new value: the
 *  result (completed), the error value (failed: a string for crashes and
 *  non-determinism), run's value (cancelled), nil while open.
 *  PX_ENOTFOUND if the id has no execution. */
PX_API int px_workflow_status_in(const char *tenant, const char *ns,
                                 const char *id, px_wf_status *status,
                                 px_val *result);

/** Waits up to timeout_ms (-1 = forever) for the execution to close, then
 *  as px_workflow_status. PX_ETIMEDOUT while still open. */
PX_API int px_workflow_wait_in(const char *tenant, const char *ns,
                               const char *id, int64_t timeout_ms,
                               px_wf_status *status, px_val *result);

/** Requests cancellation (durable on return, R-I-3): the execution's next
 *  step, sleep or receive (or the one it is parked in) returns
 *  PX_ECANCELLED, once; later commands run normally so run can clean up
 *  (Temporal's detached cleanup). run then decides: returning
 *  PX_ECANCELLED closes it as cancelled. A cancel beats a pause.
 *  PX_ENOTFOUND if not open. */
PX_API int px_workflow_cancel_in(const char *tenant, const char *ns,
                                 const char *id);

/** Pause (durable: survives restarts): run parks at its next command
 *  boundary (or stays parked in a wait that ends meanwhile) until
 *  resume; queries are still answered. Status shows PX_WF_PAUSED. Both
 *  are idempotent. PX_ENOTFOUND if not open. */
PX_API int px_workflow_pause_in(const char *tenant, const char *ns,
                                const char *id);
PX_API int px_workflow_resume_in(const char *tenant, const char *ns,
                                 const char *id);

/* The same in the caller's tenant and namespace. */
static inline int px_workflow_start(const char *type, const char *id,
                                    px_val input,
                                    const px_wf_start_opts *opts) {
  return px_workflow_start_in(NULL, NULL, type, id, input, opts);
}
static inline int px_workflow_signal(const char *id, const char *name,
                                     px_val payload) {
  return px_workflow_signal_in(NULL, NULL, id, name, payload);
}
static inline int px_workflow_signal_with_start(
    const char *type, const char *id, px_val input, const char *name,
    px_val payload, const px_wf_start_opts *opts) {
  return px_workflow_signal_with_start_in(NULL, NULL, type, id, input, name,
                                          payload, opts);
}
static inline int px_workflow_query(const char *id, const char *name,
                                    px_val args, int64_t timeout_ms,
                                    px_val *out) {
  return px_workflow_query_in(NULL, NULL, id, name, args, timeout_ms, out);
}
static inline int px_workflow_status(const char *id, px_wf_status *status,
                                     px_val *result) {
  return px_workflow_status_in(NULL, NULL, id, status, result);
}
static inline int px_workflow_wait(const char *id, int64_t timeout_ms,
                                   px_wf_status *status, px_val *result) {
  return px_workflow_wait_in(NULL, NULL, id, timeout_ms, status, result);
}
static inline int px_workflow_cancel(const char *id) {
  return px_workflow_cancel_in(NULL, NULL, id);
}
static inline int px_workflow_pause(const char *id) {
  return px_workflow_pause_in(NULL, NULL, id);
}
static inline int px_workflow_resume(const char *id) {
  return px_workflow_resume_in(NULL, NULL, id);
}

/* ---- inside run: commands ---------------------------------------------
 * Every command returns 0 or: PX_ECANCELLED (a cancel was requested; see
 * px_workflow_cancel), PX_ENONDETERMINISM (the execution has failed; run
 * should return at once, whatever it returns the status is failed),
 * PX_EINVAL (called outside run, or from a step function or a query),
 * a store error (PX_EIO, PX_ECONFLICT: another activation of the same
 * execution exists; the execution stops and stays open for recovery). */

/** Retry policy of a step. A zeroed field takes its default, so
 *  `(px_retry_policy){0}` and NULL mean: up to 10 attempts, the first
 *  retry after 1 s, each next one backoff 2.0 times longer, capped at
 *  100 s (Temporal's intervals; Temporal retries forever by default, a
 *  step here stops after 10 attempts, about 5.5 minutes of waits, so a
 *  broken step fails the workflow instead of hiding). */
typedef struct px_retry_policy {
  uint32_t max_attempts;       /* 1 = no retry; PX_RETRY_UNLIMITED */
  int64_t initial_interval_ms; /* default 1000 */
  double backoff;              /* >= 1.0 (below: the default 2.0) */
  int64_t max_interval_ms;     /* default 100 x initial */
  double jitter;               /* 0..1: each wait is shortened by up to
                                  this fraction, at random; default 0 */
  const int *non_retryable;    /* error codes never retried (besides
                                  PX_EFAILED, which never is) */
  size_t n_non_retryable;
} px_retry_policy;

#define PX_RETRY_UNLIMITED UINT32_MAX

/** A step's function: returns 0 with *out (a new value, or nil) on
 *  success, or a negative code with *out an optional error value. It runs
 *  on the execution's coroutine and may block (px_ask, px_sleep); it must
 *  not issue commands (no nested steps). Returning PX_EFAILED means
 *  "terminal": never retried (Restate's TerminalError). */
typedef int (*px_step_fn)(px_wf *wf, void *ud, px_val *out);

/** Runs `name` (non-empty) once, exactly: on replay returns the journaled
 *  outcome without calling fn. Failed attempts are retried per `retry` (NULL =
 *  defaults); each failed attempt and its next due time is journaled, so a
 *  crash mid-retry resumes at the right attempt and waits out the original
 *  backoff. Returns 0 with *out, or PX_EFAILED once the attempts are exhausted
 *  or the error is not retryable, with *out the last error value (or, when fn
 *  gave none, a string "ENAME: message"); the failure is journaled too. Also
 *  the command errors above (*out nil). *out is borrowed from the execution
 *  (valid until run returns; retain it to return it as run's result); out may
 *  be NULL. Step names are the identity replay checks: use the same name for
 *  the same step. */
PX_API int px_step(px_wf *wf, const char *name, px_step_fn fn, void *ud,
                   const px_retry_policy *retry, px_val *out);

/** Durable sleep (R-I-18): the deadline (now + ms) is journaled; after a
 *  restart the sleep ends at the original deadline (T-I-1). ms <= 0 is
 *  still a journaled command that returns at once. Queries are answered
 *  meanwhile. 0 or PX_ECANCELLED (or the command errors). */
PX_API int px_wf_sleep(px_wf *wf, int64_t ms);

/** Receives the oldest unconsumed signal named `name` (NULL: any). Waits up to
 *  timeout_ms (-1 = forever, 0 = only what has arrived); a positive timeout is
 *  a durable deadline like px_wf_sleep's. On 0, *name_out (may be NULL) and
 *  *payload (may be NULL) are set, borrowed like px_step's result.
 *  PX_ETIMEDOUT, and the command errors. Which signal was consumed is
 *  journaled, so a replay receives the same one. */
PX_API int px_wf_signal_recv(px_wf *wf, const char *name, int64_t timeout_ms,
                             px_val *name_out, px_val *payload);

/** Deterministic wall-clock time in ms (journaled at first call, the
 *  journaled value on replay). 0 after the execution has failed. */
PX_API int64_t px_wf_now(px_wf *wf);
/** Deterministic random 64 bits (journaled likewise). */
PX_API uint64_t px_wf_random(px_wf *wf);

/** Continue-as-new (R-I-19): ends this run and starts the execution over
 *  with `input` (takes ownership), on a fresh journal, so a long-lived
 *  execution (an entity loop) does not grow without bound. Call it as
 *  run's last act: `return px_wf_continue_as_new(wf, next);`. When run
 *  then returns 0, the journal is replaced by one start entry in one
 *  durable write and run is called again on a fresh px_wf; signals not
 *  yet received, a cancel not yet delivered and the pause state carry
 *  over. The execution stays open throughout (same id; waiters keep
 *  waiting for the final outcome; a query sent during the hand-over is
 *  answered by the new run). Returns 0, PX_EINVAL (outside run, or
 *  called twice), or the execution's failure. If run returns non-zero
 *  instead, it closes as usual and `input` is dropped. */
PX_API int px_wf_continue_as_new(px_wf *wf, px_val input);

/* ---- inside run: context (no commands, usable in steps and queries) --- */

/** The workflow id, tenant and namespace (valid during run). */
PX_API const char *px_wf_id(px_wf *wf);
PX_API const char *px_wf_tenant(px_wf *wf);
PX_API const char *px_wf_namespace(px_wf *wf);
/** User state for queries (not journaled: rebuild it in run). */
PX_API void px_wf_set_state(px_wf *wf, void *state);
PX_API void *px_wf_state(px_wf *wf);
/** True while run is re-executing journaled commands. */
PX_API bool px_wf_is_replaying(px_wf *wf);
/** Inside a step function: "<tenant>/<ns>/<id>/<seq>", where seq is the
 *  step's journal position (the same on every attempt and every replay),
 *  written into buf (NUL-terminated). Returns the length it needed, or
 *  PX_EINVAL outside a step function. */
PX_API int px_wf_idempotency_key(px_wf *wf, char *buf, size_t cap);
/** Inside a step function: the attempt number, from 1 (0 outside). */
PX_API uint32_t px_wf_attempt(px_wf *wf);

PX_EXTERN_C_END

#endif
