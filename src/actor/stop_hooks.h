/* Work that px_runtime_stop must let finish first. A subsystem with a
 * thread of its own that answers actors (a store's group-commit writer)
 * registers a hook; px_runtime_stop runs the hooks once every actor is
 * dead and before the actor table is freed, so that such a thread never
 * answers into freed memory. */
#ifndef PX_ACTOR_STOP_HOOKS_H
#define PX_ACTOR_STOP_HOOKS_H

/* Registers fn (once; at most a handful of hooks). */
void px__runtime_at_stop(void (*fn)(void));

#endif
