/* The durability facet: an actor whose messages are journaled in a px_store
 * before its handler runs, whose state is checkpointed, and which, when
 * spawned again on the same journal id (after a crash, a kill or an idle
 * deactivation), comes back to the same state by loading its newest
 * checkpoint and replaying the journal after it (SEMANTICS.md I, J;
 * PLEXSPACES.md 2.5 `durability`, 2.7).
 *
 * What is journaled. Every message the actor receives, except the
 * runtime's and behaviors' own (types starting with "__": __EXIT__,
 * __DOWN__, __gen_stop__, __gen_timeout__ ...; a GenServer cast,
 * __gen_cast__, is journaled), as entry kind "msg" = [type, payload,
 * was_ask]; every px_side_effect result as kind "fx" = [name, rc, value].
 * Checkpoints are snapshots (encode(state)) at the seq they cover; the
 * journal up to it is then truncated. A "done" mark (the last completed
 * message's seq, in the store's KV under scope = id, key "durable.done")
 * is written without waiting after a message that made sends, when no
 * other message is queued behind it (a later message proves it complete
 * anyway). So a message costs one journal append (group-committed). 
 *
 * Replay and side effects (the decisions a user should know):
 *   - Replayed messages run through handle() with px_is_replaying() true;
 *     a replayed ask has no asker: its reply goes nowhere.
 *   - px_side_effect results are served from the journal: the effect runs
 *     once per recorded result (at least once if the node dies while it
 *     runs, before the result is stored: R-J-5).
 *   - px_send / px_send_name made while replaying a message known to have
 *     completed (a later message is journaled, or its done mark is stored)
 *     are dropped: they were made before. While replaying the last,
 *     possibly incomplete message they are made again (at least once).
 *   - Everything else runs again during replay: asks, timers, spawns, the
 *     tuple space. Put what must not repeat into px_side_effect.
 *   - A message a handler takes itself with px_receive is not journaled:
 *     wrap what it yields in px_side_effect, or it differs at replay.
 *   - A message whose handler ends the actor itself (px_exit_self: a crash
 *     or a stop; a stack overflow) gets a "crash" entry after it and is
 *     not replayed, as Erlang drops the message a process died of (else a
 *     poison message would end every activation). A message cut short by
 *     an exit signal (a kill, a shutdown) is replayed: at least once.
 *   - A message journaled while its sender's ask failed (the actor was
 *     killed while the append was in flight) is still applied at replay:
 *     a retried ask may be applied twice unless it carries its own
 *     idempotency key.
 *
 * Single writer. Journal positions are taken with the store's seq check,
 * so a second live actor on the same id cannot interleave entries: the
 * loser of a seq gets PX_ECONFLICT from the store and exits with reason
 * [conflict, Id]. */
#ifndef PLEXSPACES_DURABLE_H
#define PLEXSPACES_DURABLE_H

#include <stdio.h>

#include "actor.h"
#include "common.h"
#include "store.h"
#include "val.h"

PX_EXTERN_C_BEGIN

typedef struct px_durable_opts {
  px_store *store;                /* required */
  uint32_t checkpoint_every;      /* messages between checkpoints; 0 = 1000 */
  int64_t checkpoint_interval_ms; /* also checkpoint this often; 0 = off */
  bool no_journal;                /* state only (Orleans grain state): no
                                     per-message journal; a checkpoint every
                                     checkpoint_every messages and at
                                     deactivation; messages since the last
                                     checkpoint are lost on a crash */
  px_val (*encode)(const void *state);      /* required: the state as a
                                               px_val (new) */
  int (*decode)(px_val saved, void *state); /* required: restore into the
                                               state init made; non-zero =
                                               corrupt */
} px_durable_opts;

/** Spawns `type` as a durable actor whose journal stream is `id` (unique
 *  per store, e.g. "tenant/ns/type/key"). init(args) always runs first;
 *  then, if the stream has a snapshot, decode() restores it; then every
 *  journaled message after the snapshot is replayed through handle()
 *  (replies to replayed asks go nowhere); then live messages: each is
 *  appended to the journal (the handler parks until it is durable; group
 *  commit shares the fsync) before handle() runs. A message that cannot be
 *  journaled (its payload cannot be encoded) is not handled: an ask gets
 *  PX_EHANDLER with [journal_failed, ErrName], and the actor goes on. A
 *  snapshot or journal entry that cannot be read or decoded makes the
 *  actor exit with [journal_corrupt, Seq] (Seq 0 when unknown), nothing
 *  overwritten. For a GenServer pass px_gen_server_type() and
 *  px_gen_server_args(): encode/decode then get the state the server's
 *  init made. Takes ownership of args. `type`, `d->store` and the
 *  functions must outlive the actor; `id` and `d` are copied. opts as for
 *  px_spawn. Returns 0 and *out, PX_EINVAL (a required field missing), or
 *  px_spawn's errors. */
PX_API int px_spawn_durable(const px_actor_type *type, px_val args,
                            const char *id, const px_durable_opts *d,
                            const px_spawn_opts *opts, px_ref *out);

/** Asynchronous: the durable actor finishes its current message (and
 *  those queued before this request), writes a checkpoint (durably), then
 *  exits with `reason` (taken; nil = [shutdown, idle]). Messages queued
 *  behind are dropped (asks get PX_ENOPROC with the reason; the virtual
 *  actor layer re-routes them). PX_ENOPROC if `ref` is not alive. `ref`
 *  must name a durable actor: another actor just receives a message of
 *  type __durable_deactivate__. A GenServer stops in order (its terminate
 *  runs with the reason). Used for idle deactivation: [shutdown, idle]. */
PX_API int px_durable_deactivate(px_ref ref, px_val reason);

/** Inside a durable handler: true while replaying the journal. */
PX_API bool px_is_replaying(void);
/** The last journal seq of the calling durable actor (0 outside one). */
PX_API uint64_t px_durable_seq(void);
/** Checkpoints now, covering every message journaled so far including the
 *  one being handled (so call it at the end of a handler: what the handler
 *  does after it is replayed from nowhere). Durable when it returns: 0,
 *  the store's error, or PX_ENOTACTOR outside a durable actor. A no-op
 *  returning 0 while replaying. */
PX_API int px_durable_checkpoint(void);

/** A side effect (an LLM call, an HTTP request, a random draw). Live, fn
 *  runs and its result (its return code and *out) is journaled before
 *  px_side_effect returns it; during replay the journaled result is
 *  returned and fn is NOT run. Effects are matched by order within the
 *  message and by name: a name mismatch at replay, or an effect beyond
 *  those recorded for a message that completed, is PX_ENONDETERMINISM
 *  (fn not run). Outside a durable message (plain actors, threads, init)
 *  fn just runs. *out is a new value (nil on errors). If the result cannot
 *  be journaled, the store's error is returned and the result released.
 *  fn must not call px_side_effect. */
typedef int (*px_effect_fn)(void *ud, px_val *out);
PX_API int px_side_effect(const char *name, px_effect_fn fn, void *ud,
                          px_val *out);

/** Writes a human-readable dump of the stream's snapshots, journal (seq,
 *  time, kind, JSON of the value) and done mark to `out`; the CLI's
 *  `plexspaces journal show ACTOR` calls this. Returns 0, PX_EINVAL, or the
 *  store's read error. Any thread. */
PX_API int px_journal_show(px_store *s, const char *id, FILE *out);

PX_EXTERN_C_END

#endif
