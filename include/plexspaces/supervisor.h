/* Supervisors: trees of actors that restart their children (SEMANTICS.md
 * section C, after OTP's supervisor).
 *
 * A supervisor is an ordinary actor that traps exits. It starts its
 * children left to right, watches their exits and restarts them according
 * to each child's restart type and the supervisor's strategy, within a
 * restart intensity; past it, the supervisor stops all children (reverse
 * start order) and exits with `shutdown`, so its own parent decides.
 *
 * Every px_sup_* call except px_sup_start_link is an ask to the supervisor
 * actor: it works from a handler (the handler parks) and from any other
 * thread, and must not be called by the supervisor on itself (its own
 * children's start functions run inside it: PX_EDEADLOCK).
 *
 * Time: the intensity window and shutdown timeouts use the runtime clock
 * (px_clock_ms), so a virtual clock makes them deterministic. */
#ifndef PLEXSPACES_SUPERVISOR_H
#define PLEXSPACES_SUPERVISOR_H

#include "actor.h"
#include "common.h"
#include "error.h"
#include "val.h"

PX_EXTERN_C_BEGIN

/* ---- child specs ---------------------------------------------------------- */

typedef enum px_sup_restart {
  PX_SUP_PERMANENT = 0, /* always restarted (R-C-6) */
  PX_SUP_TRANSIENT,     /* restarted unless normal/shutdown/[shutdown,_] */
  PX_SUP_TEMPORARY,     /* never restarted; forgotten when it ends */
} px_sup_restart;

typedef enum px_sup_child_type {
  PX_SUP_WORKER = 0,
  PX_SUP_SUPERVISOR,
} px_sup_child_type;

/* Shutdown values (px_child_spec.shutdown); positive values are ms. */
#define PX_SUP_SHUTDOWN_DEFAULT 0   /* 5000 ms for workers, infinity for
                                       supervisors (R-C-2) */
#define PX_SUP_BRUTAL_KILL (-1)     /* exit(child, kill) (R-C-19) */
#define PX_SUP_INFINITY (-2)        /* exit(child, shutdown), wait forever */

/** Longest child id, terminator included. */
#define PX_SUP_ID_MAX 64

/** Starts one child. Runs inside the supervisor (px_self() is the
 *  supervisor), with `args` borrowed. It must create the child, link it
 *  to the caller, and return only once the child is initialised:
 *  0 with *out set, PX_EIGNORE to start nothing (R-C-5), or another
 *  negative code when the start failed. px_sup_start_actor and
 *  px_sup_start_sub are ready-made start functions. */
typedef int (*px_sup_start_fn)(px_val args, px_ref *out);

/** One child. The supervisor copies the id and takes ownership of `args`
 *  (also when the call that receives the spec fails). */
typedef struct px_child_spec {
  const char *id;            /* unique per supervisor; ignored for
                                simple_one_for_one */
  px_sup_start_fn start;     /* required */
  px_val args;               /* passed to start; an array for
                                simple_one_for_one (extra args appended) */
  px_sup_restart restart;    /* default permanent */
  int64_t shutdown;          /* PX_SUP_* above or ms > 0 */
  px_sup_child_type type;    /* default worker */
  bool significant;          /* see auto_shutdown (R-C-27) */
} px_child_spec;

/* ---- supervisor flags ------------------------------------------------------ */

typedef enum px_sup_strategy {
  PX_SUP_ONE_FOR_ONE = 0,
  PX_SUP_ONE_FOR_ALL,
  PX_SUP_REST_FOR_ONE,
  PX_SUP_SIMPLE_ONE_FOR_ONE,
} px_sup_strategy;

typedef enum px_sup_auto_shutdown {
  PX_SUP_AUTO_NEVER = 0,
  PX_SUP_AUTO_ANY_SIGNIFICANT,
  PX_SUP_AUTO_ALL_SIGNIFICANT,
} px_sup_auto_shutdown;

/** Note: a zeroed struct means intensity 0 (give up on the first restart);
 *  start from PX_SUP_FLAGS_INIT for OTP's defaults (1 restart per 5 s). */
typedef struct px_sup_flags {
  px_sup_strategy strategy;
  int intensity;                      /* restarts allowed per period, >= 0 */
  int period;                         /* seconds, > 0; 0 means 5 */
  px_sup_auto_shutdown auto_shutdown;
} px_sup_flags;

#define PX_SUP_FLAGS_INIT \
  { PX_SUP_ONE_FOR_ONE, 1, 5, PX_SUP_AUTO_NEVER }

/* ---- starting and stopping a supervisor ----------------------------------- */

/** Starts a supervisor linked to the caller and starts its children in
 *  order; returns once all are started, with the supervisor's ref in *out.
 *  Takes ownership of every spec's args. Errors: PX_EINVAL (bad flags or
 *  specs: nothing is started), PX_EINIT (a child failed to start: the
 *  children already started were stopped in reverse order and the
 *  supervisor exited with [shutdown, [failed_to_start_child, Id, Code]]
 *  without taking the caller down; a START_ERROR report names the child),
 *  PX_ESTOPPED. Callable from a handler or any thread. */
PX_API int px_sup_start_link(const px_sup_flags *flags,
                             const px_child_spec *specs, size_t n,
                             px_ref *out);

/** Stops a supervisor: its children are stopped in reverse start order
 *  (simple_one_for_one: concurrently), then it exits with `normal`, so a
 *  linked caller that does not trap exits survives (as OTP's
 *  supervisor:stop). Returns once it is gone: 0, or PX_ENOPROC if it was
 *  not alive. To stop it as a parent supervisor would, send
 *  px_exit(sup, shutdown) from its parent. */
PX_API int px_sup_stop(px_ref sup);

/* ---- nested trees and plain actors as children ----------------------------- */

/** Start function for a child supervisor (nested trees): `args` must come
 *  from px_sup_sub_args. Use type PX_SUP_SUPERVISOR in its spec. */
PX_API int px_sup_start_sub(px_val args, px_ref *out);
/** Packs flags and specs for px_sup_start_sub. Returns a new value; takes
 *  ownership of every spec's args. Invalid input is reported when the
 *  child is started (PX_EINVAL). */
PX_API px_val px_sup_sub_args(const px_sup_flags *flags,
                              const px_child_spec *specs, size_t n);

/** Start function for a plain actor: spawns it linked to the caller and
 *  returns after its init succeeded (0), or with init's error code (the
 *  failed child does not take the caller down); an init returning
 *  PX_EIGNORE makes the start an `ignore` (R-C-5). `args` must come from
 *  px_sup_actor_args. The actor's stats are kept under a type of the same
 *  name that wraps its init (at most 256 distinct types). */
PX_API int px_sup_start_actor(px_val args, px_ref *out);
/** Packs an actor type and its init arguments for px_sup_start_actor.
 *  `init_args` is an array (nil = empty; takes ownership); init receives
 *  the array, with simple_one_for_one's extra args appended. Returns a new
 *  value. `type` must outlive the runtime. */
PX_API px_val px_sup_actor_args(const px_actor_type *type, px_val init_args);

/* ---- the dynamic API (R-C-23..R-C-25) -------------------------------------- */

/** Adds and starts a child (not for simple_one_for_one). Takes ownership of
 *  spec->args. 0 with *out (nil when the start returned PX_EIGNORE; the spec
 *  is then kept unless temporary); PX_EALREADYSTARTED with *out = the running
 *  child; PX_EALREADYPRESENT; PX_EINVAL; PX_ESIMPLEONEFORONE; or the start
 *  function's error (the spec is not added). */
PX_API int px_sup_start_child(px_ref sup, const px_child_spec *spec,
                              px_ref *out);
/** simple_one_for_one only: starts a child with the template's args plus
 *  `extra` (an array; takes ownership). 0 with *out (nil if ignored),
 *  PX_EINVAL for other strategies, or the start function's error. */
PX_API int px_sup_start_child_args(px_ref sup, px_val extra, px_ref *out);
/** Stops a child by id; a temporary child's spec is removed, others are
 *  kept (restart_child revives them). Never counts as a restart and never
 *  triggers auto_shutdown. PX_ENOTFOUND, PX_ESIMPLEONEFORONE. */
PX_API int px_sup_terminate_child(px_ref sup, const char *id);
/** simple_one_for_one: stops (and forgets) the child `child`.
 *  PX_ENOTFOUND when it is not a child. */
PX_API int px_sup_terminate_child_ref(px_ref sup, px_ref child);
/** Starts a stopped child again: 0 with *out (nil if ignored), PX_ERUNNING,
 *  PX_ERESTARTING, PX_ENOTFOUND, PX_ESIMPLEONEFORONE or the start error. */
PX_API int px_sup_restart_child(px_ref sup, const char *id, px_ref *out);
/** Removes a stopped child's spec: 0, PX_ERUNNING, PX_ERESTARTING,
 *  PX_ENOTFOUND, PX_ESIMPLEONEFORONE. */
PX_API int px_sup_delete_child(px_ref sup, const char *id);

typedef enum px_sup_child_state {
  PX_SUP_CHILD_RUNNING = 0, /* ref is set */
  PX_SUP_CHILD_UNDEFINED,   /* not running (stopped, ignored) */
  PX_SUP_CHILD_RESTARTING,  /* a restart failed and is being retried */
} px_sup_child_state;

typedef struct px_sup_child_info {
  char id[PX_SUP_ID_MAX];   /* "" for simple_one_for_one children */
  px_ref ref;               /* nil unless running */
  px_sup_child_state state;
  px_sup_child_type type;
} px_sup_child_info;

/** Lists the children in start order: fills up to cap entries of out and
 *  sets *n to the number of children. */
PX_API int px_sup_which_children(px_ref sup, px_sup_child_info *out,
                                 size_t cap, size_t *n);

typedef struct px_sup_counts {
  size_t specs, active, supervisors, workers;
} px_sup_counts;
PX_API int px_sup_count_children(px_ref sup, px_sup_counts *out);

/* ---- reports ---------------------------------------------------------------- */

typedef enum px_sup_report_kind {
  PX_SUP_REPORT_CHILD_TERMINATED = 0, /* a child exited (R-C-9) */
  PX_SUP_REPORT_START_ERROR,          /* a start function failed */
  PX_SUP_REPORT_SHUTDOWN_ERROR,       /* a child did not stop cleanly */
  PX_SUP_REPORT_MAX_INTENSITY,        /* reached_max_restart_intensity */
  PX_SUP_REPORT_AUTO_SHUTDOWN,        /* significant children ended */
} px_sup_report_kind;

/** What a supervisor reports. All fields are borrowed for the call. */
typedef struct px_sup_report {
  px_sup_report_kind kind;
  const char *kind_name; /* "child_terminated", "start_error",
                            "shutdown_error", "reached_max_restart_intensity",
                            "auto_shutdown" */
  px_ref sup;
  const char *child_id;  /* "" when none or simple_one_for_one */
  px_ref child;          /* nil when none */
  px_val reason;         /* exit reason, or [error, Code] for starts */
} px_sup_report;

/** Called on a supervisor's worker thread, inside its handler: it may send
 *  messages but must not block. */
typedef void (*px_sup_report_fn)(const px_sup_report *r, void *ud);
/** Replaces where reports go (NULL restores the default: px_log at error
 *  level under "supervise"). Thread-safe. */
PX_API void px_sup_set_reporter(px_sup_report_fn fn, void *ud);

PX_EXTERN_C_END

#endif
