/* Internal parts of the supervisor, shared by the files of src/supervise/:
 *   sup.c       the supervisor actor: children, strategies, restarts
 *   stop.c      the shutdown protocol (R-C-19..R-C-22)
 *   client.c    the public calls: start_link, asks, adapters, spec codec
 *   report.c    where reports go
 *   window.c    the intensity window
 * Nothing here is public. */
#ifndef PX_SUPERVISE_SUP_H
#define PX_SUPERVISE_SUP_H

#include "plexspaces/actor.h"
#include "plexspaces/supervisor.h"
#include "supervise/window.h"

/* Message types private to supervisors (interned once). */
typedef struct px__sup_atoms {
  px_atom ack;       /* child -> starter: init done */
  px_atom retry;     /* sup -> itself: try a failed restart again (R-C-17) */
  px_atom tick;      /* sup -> itself: a shutdown timeout expired */
  px_atom stop;      /* px_sup_stop */
  px_atom start_child, start_child_args, terminate_child, terminate_ref,
      restart_child, delete_child, which_children, count_children;
  px_atom undefined, restarting, failed_to_start_child,
      reached_max_restart_intensity;
} px__sup_atoms;
const px__sup_atoms *px__sup_a(void);

/* One child (or, for simple_one_for_one, one running instance). */
typedef struct px__sup_child {
  char id[PX_SUP_ID_MAX];
  px_sup_start_fn start;
  px_val args;            /* owned */
  px_sup_restart restart;
  int64_t shutdown;       /* resolved: ms > 0, BRUTAL_KILL or INFINITY */
  px_sup_child_type type;
  bool significant;
  px_ref ref;             /* nil: undefined or restarting */
  bool restarting;
  uint64_t key;           /* names the record in retry messages */
} px__sup_child;

/* Spec codec: specs travel to the supervisor actor as values. */
px_val px__sup_spec_val(const px_child_spec *s);  /* takes s->args */
px_val px__sup_flags_val(const px_sup_flags *f);
/* Decodes and validates; 0 or PX_EINVAL. c->args is a new reference. */
int px__sup_spec_decode(px_val v, px__sup_child *c);
int px__sup_flags_decode(px_val v, px_sup_flags *f);
/* Checks the spec against the supervisor flags (R-C-27). */
int px__sup_spec_check(const px__sup_child *c, const px_sup_flags *f);
void px__sup_child_clear(px__sup_child *c);

/* Spawns a supervisor from boot = [flags, [spec...]] (borrowed), linked to
 * the caller, and waits for its init. */
int px__sup_start(px_val boot, px_ref *out);
extern const px_actor_type px__sup_type;
/* Waits for a child spawned linked + monitored (mref) by the caller to
 * acknowledge its init with an `ack` message (client.c). */
int px__sup_await_init(px_ref child, px_mref mref);

/* The actor type a child was started as, when known (for the per-type
 * restart counter); NULL otherwise. */
const px_actor_type *px__sup_child_stats_type(const px__sup_child *c);

/* Reports (report.c). `child` may be NULL. */
void px__sup_report(px_sup_report_kind kind, px_ref sup,
                    const px__sup_child *child, px_val reason);

/* What a shutdown in progress holds on the heap. It lives in the
 * supervisor's state, not on its stack, so that a supervisor killed while
 * it waits for its children (the runtime stopping) frees it in terminate. */
typedef struct px__sup_scratch {
  void *pending, *timers, *all;
  size_t npending;
} px__sup_scratch;
void px__sup_scratch_free(px__sup_scratch *sc);

/* The shutdown protocol (stop.c): stops the n running children of cs at
 * once (each per its own shutdown value, sharing one deadline), waiting
 * via monitors; reports shutdown errors; sets each ref to nil. Sequential
 * order is the caller's business: call it with n = 1. */
void px__sup_stop_children(px__sup_scratch *sc, px__sup_child **cs,
                           size_t n);

/* Borrowed exit_from / down_from refs out of runtime payloads. */
bool px__sup_exit_from(const px_message *m, px_ref *from);

#endif
