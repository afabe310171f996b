/* Internals of the durability facet, shared by durable.c (spawn, the live
 * message path, checkpoints), durable_replay.c (restore, replay, side
 * effects) and durable_show.c. Nothing here is public. */
#ifndef PX_FACET_DURABLE_INTERNAL_H
#define PX_FACET_DURABLE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "actor/facet.h"
#include "plexspaces/durable.h"

/* Journal entry kinds (the store's entry `key`). */
#define PX__DUR_K_MSG "msg"
#define PX__DUR_K_FX "fx"
/* After a message whose handler ended the actor (not a kill): the reason,
 * as text. Such a message is not replayed. */
#define PX__DUR_K_CRASH "crash"
/* The done mark: KV scope = the stream id, this key, value = seq. */
#define PX__DUR_DONE_KEY "durable.done"
/* Never stored: deleted as a store barrier at activation. */
#define PX__DUR_BARRIER_KEY "durable.barrier"

/* One journal entry read back for replay. */
enum { PX__DUR_E_MSG, PX__DUR_E_FX, PX__DUR_E_CRASH };
typedef struct px__dur_entry {
  uint64_t seq;
  int kind;    /* PX__DUR_E_*; other kinds are not kept */
  px_val value;
} px__dur_entry;

/* The per-actor record: the facet head first, so px_self_state() finds the
 * user's state. Owned by the actor; freed by destroy at its exit. Only the
 * actor's own handler touches it. */
typedef struct px__durable {
  px__facet hdr;                /* must be first */
  const px_actor_type *type;    /* the user's */
  bool gen_server;              /* type is px_gen_server_type() */
  px_durable_opts o;            /* a copy; checkpoint_every resolved */
  char *id;                     /* the stream */
  uint64_t seq;                 /* last seq used in the stream */
  uint64_t ckpt_seq;            /* seq the newest snapshot covers */
  uint32_t since;               /* messages since the last checkpoint */
  bool in_msg;                  /* inside a journaled message's handler */
  bool replaying;
  /* The message being replayed: its recorded effects, in order. Running
   * out of them is a non-determinism only for a completed message. */
  px__dur_entry *fx;
  size_t nfx, fx_pos;
  bool fx_strict;
  px_message *replay_msg;       /* freed by destroy if the replay dies */
  px__dur_entry *log;           /* the entries read for replay */
  size_t nlog;
  uint64_t replayed;            /* messages replayed (introspection) */
  px_tref tick;                 /* checkpoint_interval_ms timer */
  /* A value being written while the handler parks in the store: a kill
   * abandons the handler's stack, so it lives here; destroy releases it. */
  px_val pending;
} px__durable;

/* The calling handler's durable record, or NULL. */
px__durable *px__dur_self(void);

/* The state encode/decode see: the GenServer's user state, or the state. */
void *px__dur_user_state(px__durable *d);

/* Restores the snapshot and replays the journal after it (durable_replay.c).
 * Returns 0, or exits the actor ([journal_corrupt, Seq]). */
void px__dur_restore(px__durable *d);
/* Frees what the replay holds (also after a replay that died). */
void px__dur_replay_free(px__durable *d);

/* Writes a checkpoint covering d->seq: 0 or the store's error. */
int px__dur_checkpoint(px__durable *d);

/* Exits the calling actor with [conflict, Id]. */
_Noreturn void px__dur_conflict(px__durable *d);

/* Appends one entry at d->seq + 1 (parks until durable); on success d->seq
 * moves. Takes ownership of value; returns it (to release) in *back, also
 * on errors. A taken seq exits the actor (px__dur_conflict). */
int px__dur_append(px__durable *d, const char *kind, px_val value,
                   px_val *back);

/* Appends a crash entry after the message being handled, without waiting
 * (from terminate: the actor is exiting). */
void px__dur_mark_crash(px__durable *d, px_val reason);

/* Writes the done mark for `seq` without waiting. */
void px__dur_mark_done(px__durable *d, uint64_t seq);

/* Interned atoms of the facet (the behaviors' own are px__beh_a()'s). */
typedef struct px__dur_atoms {
  px_atom tick, deactivate, conflict, journal_corrupt, journal_failed, idle;
} px__dur_atoms;
const px__dur_atoms *px__dur_a(void);

/* [shutdown, idle], the reason of an idle deactivation (a new value);
 * the virtual-actor layer uses it too. */
px_val px__dur_idle_reason(void);

#endif
