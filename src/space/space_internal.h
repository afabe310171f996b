/* Internals of the tuple space (SEMANTICS.md K). See space.c for the data
 * structures and the locking rules. */
#ifndef PX_SPACE_INTERNAL_H
#define PX_SPACE_INTERNAL_H

#include "core/val_internal.h"
#include "plexspaces/space.h"

/* Unchecked accessors for values already known to be arrays (tuples and
 * templates that passed their check): the hot paths avoid a call and a
 * type test per field. */
static inline size_t px__ts_len(px_val a) { return px__as_array(a)->len; }
static inline px_val px__ts_at(px_val a, size_t i) {
  return px__as_array(a)->items[i];
}

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

/* ---- durability ------------------------------------------------------------
 * A PX_SPACE_DURABLE space holds the px_store set by px_space_set_store at
 * open time and its store key "tenant/ns/name"; space.c applies the store
 * ops directly (px_store_apply, outside the space lock) at every write,
 * take, renew, cancel and commit. Wall clock used for stored expiries: */
uint64_t px__ts_wall_ms(void);

/* ---- introspection (tests) ---------------------------------------------- */
size_t px__ts_waiters(px_space *s); /* blocked callers not yet resolved */
size_t px__ts_watches(px_space *s);
size_t px__ts_stored(px_space *s);  /* tuple nodes, incl. txn-held */
uint64_t px__ts_visits(px_space *s); /* nodes examined by read/take */

#endif
