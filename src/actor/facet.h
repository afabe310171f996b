/* The hook by which a facet (src/facet/: durability, ...) changes how an
 * actor lives without the actor core knowing the facet: one pointer per
 * actor, set at spawn, freed at exit, plus a send mode (count / mute).
 * Nothing here is public. */
#ifndef PX_ACTOR_FACET_H
#define PX_ACTOR_FACET_H

#include <stdbool.h>

#include "plexspaces/actor.h"

/* The head of a facet's per-actor record; the facet embeds it first. */
typedef struct px__facet {
  /* The user's state. A facet actor runs a wrapper type whose own state is
   * the facet record, so px_self_state() returns this instead; the
   * wrapper's init lets the user's init write it directly. */
  void *state;
  /* Frees the record. Runs exactly once: at the actor's exit after
   * terminate (also when the actor dies before init ran), or at once when
   * px__spawn_facet fails before an actor exists. Any thread; must not
   * block. */
  void (*destroy)(struct px__facet *f);
  /* Set when the actor ends itself (px_exit_self from its own code), as
   * opposed to an exit signal: a facet's terminate can tell the two. */
  bool exited_itself;
} px__facet;

/* px_spawn, with f attached to the new actor before it can run. Takes
 * ownership of f (see destroy) and of args. Errors as px_spawn. */
int px__spawn_facet(const px_actor_type *type, px_val args,
                    const px_spawn_opts *opts, px__facet *f, px_ref *out);

/* The calling handler's facet record, or NULL (also outside handlers). */
px__facet *px__self_facet(void);

/* How px_send / px_send_name treat the calling actor's sends (a plain
 * actor is OFF, and pays one predictable branch for this): COUNT counts
 * them (px__take_sent), MUTE drops them, the payload released (a replay
 * re-runs handlers whose sends were already made). Asks, replies, exits
 * and timers are not affected. Ignored outside a handler; reset at exit. */
enum { PX__FSEND_OFF = 0, PX__FSEND_COUNT = 1, PX__FSEND_MUTE = 2 };
void px__set_send_mode(int mode);
/* Sends counted since the last call (then 0 again). */
uint32_t px__take_sent(void);

/* True when the calling handler's actor has something queued behind the
 * message being handled (a message or a signal). */
bool px__self_mail_pending(void);

/* A message for a facet to run through a handler itself (a replayed
 * journal entry): `type`, `payload` (takes ownership), `corr` (non-zero
 * makes it look like an ask: px_reply and px_defer_reply work, and their
 * answer goes nowhere, since it comes from no one). Free it with
 * px_message_free. */
px_message *px__message_new(px_atom type, px_val payload, uint64_t corr);

#endif
