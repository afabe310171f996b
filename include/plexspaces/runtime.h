/* The runtime: workers, timers, the clock and introspection.
 *
 * One runtime runs per process at a time: px_runtime_start() creates it,
 * px_runtime_stop() kills every actor and joins the workers. */
#ifndef PLEXSPACES_RUNTIME_H
#define PLEXSPACES_RUNTIME_H

#include "actor.h"
#include "common.h"
#include "val.h"

PX_EXTERN_C_BEGIN

typedef struct px_runtime_opts {
  int workers;               /* 0 = one per core */
  uint32_t node_id;          /* 0 = 1 */
  size_t stack_size;         /* default handler stack, 0 = 128 KiB */
  int batch;                 /* messages per actor turn, 0 = 64 */
  bool virtual_clock;        /* timers advance only via px_clock_advance;
                                timeouts of handlers follow it, while a
                                plain thread's own waits (px_receive,
                                px_ask, px_promise_await) keep real time */
  int spin_us;               /* idle spin before parking, 0 = 50 us */
} px_runtime_opts;

/** Starts the runtime (opts may be NULL for defaults). PX_EEXIST if one is
 *  already running. */
PX_API int px_runtime_start(const px_runtime_opts *opts);
/** Kills every actor, waits for them to exit, stops the workers and frees
 *  everything. Must not be called from a handler. */
PX_API void px_runtime_stop(void);
/** Blocks the calling (external) thread until no actor is alive, or
 *  timeout_ms passes (-1 = forever). Returns 0 or PX_ETIMEDOUT. */
PX_API int px_runtime_wait_empty(int64_t timeout_ms);
/** Number of worker threads. */
PX_API int px_runtime_workers(void);

/* ---- clock and timers (volatile: they die with the actor or node) ------- */

/** Milliseconds on the runtime clock (virtual when so configured). */
PX_API uint64_t px_clock_ms(void);
/** Virtual clock only: moves time forward by ms and fires what is due, in
 *  due order, before returning. PX_EINVAL with a real clock. */
PX_API int px_clock_advance(uint64_t ms);

/** Sends {type, payload} to `to` after ms milliseconds. Takes ownership of
 *  payload. Returns a timer ref (never 0). */
PX_API px_tref px_send_after(int64_t ms, px_ref to, px_atom type,
                             px_val payload);
/** Sends a copy of {type, payload} every ms milliseconds until cancelled
 *  or until the target has exited. */
PX_API px_tref px_send_interval(int64_t ms, px_ref to, px_atom type,
                                px_val payload);
/** Cancels a timer. Returns 0 if it was pending, PX_ENOTFOUND if it had
 *  already fired or was cancelled. */
PX_API int px_cancel_timer(px_tref t);
/** Number of pending timers (introspection). */
PX_API size_t px_timer_count(void);

/* ---- introspection ------------------------------------------------------- */

typedef struct px_type_stats {
  const char *type;        /* actor type name (px_spawn_opts.label, a
                              behaviour's name, else the type's name) */
  uint64_t spawned;
  uint64_t messages;       /* handled */
  uint64_t errors;         /* error replies and crashes */
  uint64_t exits_normal;   /* normal, shutdown, {shutdown, _} */
  uint64_t exits_abnormal; /* everything else */
  uint64_t exits_killed;
  uint64_t restarts;       /* reported by supervisors */
  uint64_t live;
  uint64_t mailbox_drops;
  uint64_t mailbox_depth;  /* messages queued in the live actors */
  const char *tenant;      /* px_stats_scopes: NULL for system actors */
  const char *ns;          /* px_stats_scopes: NULL for system actors */
} px_type_stats;

/** Per type name over every tenant and namespace (tenant and ns NULL),
 *  sorted by name: fills up to cap entries, returns how many exist. The
 *  counts restart with each px_runtime_start(). */
PX_API size_t px_stats_types(px_type_stats *out, size_t cap);
/** The same per (tenant, namespace, type name), sorted in that order. */
PX_API size_t px_stats_scopes(px_type_stats *out, size_t cap);

typedef struct px_actor_info {
  px_ref ref;
  px_ref parent;
  const char *type;  /* type name (static) */
  char name[64];     /* registered name, "" if none */
  size_t mailbox_depth;
  bool trap_exit;
  bool parked;       /* blocked in ask/receive/sleep */
} px_actor_info;

/** Snapshot of live actors: fills up to cap, returns the live count. */
PX_API size_t px_actors_list(px_actor_info *out, size_t cap);
/** Info about one actor; PX_ENOPROC if it is not alive. */
PX_API int px_actor_info_get(px_ref ref, px_actor_info *out);
/** Number of live actors. */
PX_API size_t px_actors_count(void);

/** Ask-latency histogram (all asks since start): percentile in ns. */
PX_API uint64_t px_stats_ask_percentile(double p);
PX_API uint64_t px_stats_ask_count(void);

/** Used by supervisors to count restarts per actor type. */
PX_API void px_stats_note_restart(const px_actor_type *type);

PX_EXTERN_C_END

#endif
