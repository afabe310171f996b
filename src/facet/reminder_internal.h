/* Internals shared by the reminder API (reminder.c) and the reminder
 * service actor (reminder_service.c), plus the hooks tests use to drive
 * the service deterministically. */
#ifndef PX_FACET_REMINDER_INTERNAL_H
#define PX_FACET_REMINDER_INTERNAL_H

#include "plexspaces/actor.h"
#include "plexspaces/reminder.h"

/* The clock reminders are scheduled on: wall-clock ms (px_wall_ms) unless
 * a test swaps in its own (e.g. a base plus the virtual runtime clock, so
 * px_clock_advance moves both the timers and "now"). NULL restores the
 * wall clock. Set it before starting the service. */
typedef int64_t (*px__reminder_clock_fn)(void);
void px__reminder_set_clock(px__reminder_clock_fn fn);
int64_t px__reminder_now(void);

/* How a due reminder reaches its actor. The default sends through the
 * virtual-actor layer (px_virtual_send_in, which activates the actor).
 * Takes ownership of payload. A test may swap in its own; NULL restores
 * the default. */
typedef int (*px__reminder_deliver_fn)(const char *tenant, const char *ns,
                                       const char *type, const char *key,
                                       px_atom msg, px_val payload);
void px__reminder_set_deliver(px__reminder_deliver_fn fn);
int px__reminder_deliver(const char *owner, px_atom msg, px_val payload);

/* The stored value of a reminder wraps the user's payload with what the
 * store's row has no column for: {"p": payload, "left": ticks left (0 =
 * unlimited)}. wrap takes ownership of payload and returns a new value;
 * unwrap borrows from `stored` (a value that is not a wrapper is taken as
 * a bare payload). */
px_val px__reminder_wrap(px_val payload, int64_t left);
void px__reminder_unwrap(px_val stored, px_val *payload, int64_t *left);

/* The next due time at or after `now` on a periodic schedule through
 * `due`: due + k * period with k >= 1 the smallest that passes now
 * (R-H-18: the ticks in between are skipped). */
int64_t px__reminder_next_due(int64_t due, int64_t period, int64_t now);

/* The service of store s, if one runs: true and *out. */
bool px__reminder_service(px_store *s, px_ref *out);

/* Messages the API sends the service (asks answered with px_int(rc)):
 *   rem_put  [owner, name, stored, due, period]  writes and reschedules
 *   rem_del  [owner, name]                        deletes and reschedules
 *   rem_note same shapes as put/del with a "note" flag: already written
 *            by the caller (it found no service at first), only update
 *            the schedule. */
extern px_atom px__rem_put, px__rem_del, px__rem_note_put, px__rem_note_del;
/* the service's own tick, a ping (answered once init has loaded), and
 * what it delivers */
extern px_atom px__rem_tick, px__rem_ping, px__rem_fired, px__rem_alarm;

/* The reserved name of the durable alarm. */
#define PX__ALARM_NAME "__alarm__"
void px__reminder_atoms(void);

#endif
