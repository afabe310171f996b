/* Durable reminders for virtual actors (SEMANTICS.md H, R-H-17..R-H-19;
 * PLEXSPACES.md §2.5, the `reminder` facet). Volatile timers are the
 * core's px_send_after / px_send_interval (they die with the actor).
 *
 * A reminder belongs to a virtual actor (tenant, ns, type, key), not to an
 * activation, and is named; its definition (next due time on the wall
 * clock, period, payload) is in the store, so it survives deactivation and
 * restarts. When it is due, the store's reminder service sends the actor
 * (activating it if needed) a message of type `reminder_fired` with the
 * payload {"name": str, "payload": the reminder's payload, "due_ms": int,
 * "fired_ms": int} (wall clock ms).
 *
 * Delivery guarantees:
 *  - The service delivers first and then writes the next due time (or
 *    deletes a one-shot reminder). A crash between the two delivers a
 *    one-shot reminder again after the restart: at least once.
 *  - Ticks are not stored (R-H-18): a periodic tick that falls while the
 *    service is not running (node down, service stopped) is skipped, and
 *    the first tick after the restart is the next one of the schedule,
 *    first due + k * period, k the smallest giving a time after the
 *    restart. A crash between a periodic tick's delivery and its write
 *    therefore never repeats that tick. A one-shot reminder due while the
 *    node was down fires once, right after the service starts.
 *  - While the service runs, a tick late because of load is delivered once
 *    and the ticks it overran are skipped the same way.
 *  - A delivery that fails (the virtual type is not registered yet, say,
 *    because the service started first: register the virtual types
 *    before starting the service) is retried every second until
 *    it succeeds or the reminder is cancelled; nothing is stored for it
 *    meanwhile.
 * Delivery follows the receiving actor's usual order: a reminder is a
 * normal message (R-H-17). */
#ifndef PLEXSPACES_REMINDER_H
#define PLEXSPACES_REMINDER_H

#include "common.h"
#include "store.h"
#include "val.h"

PX_EXTERN_C_BEGIN

/** The default minimum period (R-H-18). Orleans uses one minute; here one
 *  second, so that tests and short-lived demos can use reminders. */
#define PX_REMINDER_MIN_PERIOD_MS 1000

/** Sets the minimum period for px_reminder_set process-wide (ms >= 1; the
 *  default is PX_REMINDER_MIN_PERIOD_MS). Returns the previous value, or
 *  PX_EINVAL for ms < 1. */
PX_API int64_t px_reminder_set_min_period(int64_t ms);

typedef struct px_reminder_spec {
  const char *tenant; /* the virtual actor: each part non-empty; tenant, */
  const char *ns;     /* ns and type contain no '/' (key may) */
  const char *type;
  const char *key;
  const char *name;   /* unique per actor; setting it again replaces it;
                         names starting with "__" are reserved */
  int64_t due_in_ms;  /* first fire: this many ms from now (>= 0) ... */
  int64_t due_at_ms;  /* ... or, when > 0, at this wall clock time */
  int64_t period_ms;  /* 0 = one-shot, else >= the minimum period */
  int64_t max_occurrences; /* periodic: stop after this many ticks
                              (0 = unlimited); skipped ticks don't count */
  px_val payload;     /* borrowed; nil is fine */
} px_reminder_spec;

/** Registers or replaces (R-H-19) the reminder spec->name of the actor.
 *  Durable when it returns; the running service (if any) reschedules at
 *  once. PX_EINVAL for a bad part, a negative due, a period below the
 *  minimum (T-H-11), a due time or period over INT64_MAX / 4 (overflow),
 *  or a negative max_occurrences; PX_ERANGE for a
 *  payload over PX_KV_MAX_VALUE encoded bytes. From a handler, parks. */
PX_API int px_reminder_set(px_store *s, const px_reminder_spec *spec);
/** Removes the reminder (explicit unregister, R-H-19); a missing one is
 *  fine (0). A tick already on its way may still arrive. */
PX_API int px_reminder_cancel(px_store *s, const char *tenant, const char *ns,
                              const char *type, const char *key,
                              const char *name);

typedef struct px_reminder_info {
  const char *owner;   /* "tenant/ns/type/key" */
  const char *name;
  px_val payload;      /* borrowed for the callback's duration */
  int64_t due_ms;      /* next due, wall clock, as stored */
  int64_t period_ms;
  int64_t remaining;   /* ticks left with max_occurrences, 0 = unlimited */
} px_reminder_info;
typedef int (*px_reminder_cb)(void *ud, const px_reminder_info *r);
/** Calls cb for each stored reminder of owner ("tenant/ns/type/key"; NULL
 *  = every owner), in name order. A non-zero return stops and is
 *  returned. Scans all reminders of the store. */
PX_API int px_reminder_list(px_store *s, const char *owner, px_reminder_cb cb,
                            void *ud);

/** The durable alarm (PLEXSPACES host-kv alarm-set / alarm-get /
 *  alarm-delete): at most one per virtual actor, a one-shot reminder named
 *  "__alarm__" that arrives as a message of type `__alarm__` (payload as
 *  for reminder_fired). at_ms is wall-clock ms since the Unix epoch (> 0);
 *  setting it again moves it. px_alarm_get gives 0 when none is set (it
 *  scans the store's reminders). Errors as px_reminder_set. */
PX_API int px_alarm_set(px_store *s, const char *tenant, const char *ns,
                        const char *type, const char *key, int64_t at_ms);
PX_API int px_alarm_get(px_store *s, const char *tenant, const char *ns,
                        const char *type, const char *key, int64_t *at_ms);
PX_API int px_alarm_delete(px_store *s, const char *tenant, const char *ns,
                           const char *type, const char *key);

/** Starts the reminder service of store `s` (a system actor; needs a
 *  running runtime): it loads every stored reminder and fires them as
 *  they come due. Returns once they are loaded: 0, PX_EEXIST if it
 *  already runs for this store, or the store's read error. It stops
 *  with the runtime or with px_reminders_stop, and must be stopped before
 *  the store is closed. */
PX_API int px_reminders_start(px_store *s);
/** Stops the service of `s` and waits for it to exit (not from a handler
 *  of the service itself). Stored reminders are kept. No-op if none. */
PX_API void px_reminders_stop(px_store *s);

PX_EXTERN_C_END

#endif
