/* Internals of the tuple space (SEMANTICS.md K). See space.c for the data
 * structures and the locking rules. */
#ifndef PX_SPACE_INTERNAL_H
#define PX_SPACE_INTERNAL_H

#include "plexspaces/space.h"

/* ---- templates (match.c) ------------------------------------------------ */

/** True when template field `f` is an exact value; *v is then the value to
 *  compare with (borrowed: the field itself, or the payload of $exact). */
bool px__ts_field_exact(px_val f, px_val *v);
/** Checks one template field; 0 or PX_EINVAL with a reason. */
int px__ts_field_check(px_val f, char *errbuf, size_t errcap);
/** True when `v` satisfies template field `f` (f already checked). */
bool px__ts_field_match(px_val f, px_val v);
/** 0 when `t` is an array of 1..PX_TUPLE_MAX_ARITY fields, else PX_EINVAL. */
int px__ts_tuple_check(px_val t);

/* ---- durability seam ------------------------------------------------------
 * A space of kind PX_SPACE_DURABLE will own a persist backend (px_store);
 * px_space.persist is that pointer (NULL for memory spaces; only `close` is
 * called so far). The plan: call these hooks where the state changes (write,
 * take, expiry/cancel, renew), OUTSIDE the space lock, after the change is decided
 * and before the caller is answered, so a backend may block (group commit)
 * and every acknowledged write/take is durable. On open, `load` replays the
 * stored tuples (with their absolute expiry) through `emit`. Ids are the
 * space's tuple sequence numbers (also the lease ids), which a backend must
 * store so that `load` can restore them and ordering (oldest first). */
typedef struct px__ts_persist {
  void *ctx;
  int (*put)(void *ctx, uint64_t id, px_val tuple, uint64_t expires_ms);
  int (*del)(void *ctx, uint64_t id);
  int (*set_expiry)(void *ctx, uint64_t id, uint64_t expires_ms);
  int (*load)(void *ctx,
              void (*emit)(void *ud, uint64_t id, px_val tuple,
                           uint64_t expires_ms),
              void *ud);
  void (*close)(void *ctx);
} px__ts_persist;

/* ---- introspection (tests) ---------------------------------------------- */
size_t px__ts_waiters(px_space *s); /* blocked callers not yet resolved */
size_t px__ts_watches(px_space *s);
size_t px__ts_stored(px_space *s);  /* tuple nodes, incl. txn-held */
uint64_t px__ts_visits(px_space *s); /* nodes examined by read/take */

#endif
