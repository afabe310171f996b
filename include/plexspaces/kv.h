/* Per-actor key-value storage (PLEXSPACES.md §2.13), a thin layer over the
 * px_store KV operations.
 *
 * Every entry lives in a scope "tenant/namespace/owner": owner is usually
 * the durable id of a virtual actor without its tenant and namespace
 * ("type/key"), so a virtual actor's scope is its id "tenant/ns/type/key".
 * Tenant and namespace may not contain '/', so two different triples never
 * name the same scope: tenant A can never see tenant B's entries, whatever
 * the owner and key.
 *
 * Writes are durable when they return (a handler parks until the commit,
 * a plain thread blocks). Reads run on the calling thread and see every
 * write that has returned.
 *
 * TTL: an entry with an expiry is invisible to every read (get, list, ttl,
 * cas, incr) from the millisecond it expires, on the wall clock. Its row
 * is deleted by the store's writer when it is idle after work (at most
 * once a second), or when the key is written or deleted again.
 *
 * The WASM host-kv functions map onto these: kv-get gives an empty payload
 * for PX_ENOTFOUND, kv-delete is px_kv_delete (idempotent), kv-cas with an
 * empty expected is px_kv_cas with expected NULL, kv-increment is
 * px_kv_incr (creates the key), kv-get-ttl is px_kv_ttl (0 = none). */
#ifndef PLEXSPACES_KV_H
#define PLEXSPACES_KV_H

#include "common.h"
#include "store.h"
#include "val.h"

PX_EXTERN_C_BEGIN

/** Limits checked before anything reaches the store (PX_EINVAL for a key
 *  or scope part, PX_ERANGE for a value). */
#define PX_KV_MAX_KEY 1024            /* bytes of a key */
#define PX_KV_MAX_SCOPE 1024          /* bytes of "tenant/ns/owner" */
#define PX_KV_MAX_VALUE (1024 * 1024) /* bytes of a MessagePack value */

/** A handle on one scope of one store. Opaque; free with px_kv_close. A
 *  handle may be used from several actors and threads at once; it must
 *  not outlive its store. */
typedef struct px_kv px_kv;

/** Opens the scope tenant/ns/owner of store `s`. tenant and ns NULL mean
 *  the calling actor's (px_self_tenant / px_self_namespace), "default"
 *  when it has none. Returns 0 and *out (caller owns it, free with
 *  px_kv_close), or PX_EINVAL: empty owner, a tenant or namespace that is
 *  empty or contains '/', a scope longer than PX_KV_MAX_SCOPE. */
PX_API int px_kv_open(px_store *s, const char *tenant, const char *ns,
                      const char *owner, px_kv **out);
/** Opens the scope of the calling virtual actor (its px_virtual_self_id).
 *  PX_ENOTACTOR outside a handler, PX_ENOTSUP in an actor that is not a
 *  virtual actor's activation (it has no durable id). */
PX_API int px_kv_self(px_store *s, px_kv **out);
/** Frees the handle (NULL is fine). Nothing stored changes. */
PX_API void px_kv_close(px_kv *kv);
/** The scope string, borrowed from the handle. */
PX_API const char *px_kv_scope(const px_kv *kv);

/** Reads a live entry: 0 and *out (a new value), or PX_ENOTFOUND when the
 *  key is missing or expired. */
PX_API int px_kv_get(px_kv *kv, const char *key, px_val *out);
/** Writes key = value (takes ownership of value, also on error),
 *  replacing any entry. ttl_ms > 0 makes it
 *  expire that many ms from now; 0 = never; negative (or over
 *  INT64_MAX / 4) is PX_EINVAL. */
PX_API int px_kv_put(px_kv *kv, const char *key, px_val value, int64_t ttl_ms);
/** The same with an absolute expiry on the wall clock (ms since the Unix
 *  epoch, 0 = never). An expiry already past writes an entry that is
 *  invisible at once (useful to tests and to replicating an expiry). */
PX_API int px_kv_put_at(px_kv *kv, const char *key, px_val value,
                        int64_t expiry_ms);
/** Deletes a key; a missing key is fine (0). */
PX_API int px_kv_delete(px_kv *kv, const char *key);

/** Live entries whose key starts with prefix ("" or NULL = all), in key
 *  order. The callback owns `value` (release it); a non-zero return stops
 *  the scan and is returned. expiry_ms is absolute (0 = none). */
typedef int (*px_kv_cb)(void *ud, const char *key, px_val value,
                        int64_t expiry_ms);
PX_API int px_kv_list(px_kv *kv, const char *prefix, px_kv_cb cb, void *ud);

/** Compare-and-set: writes key = value (takes ownership of value; ttl_ms
 *  as in px_kv_put) only if the live entry equals *expected (compared on its
 *  MessagePack encoding), or, with expected NULL, only if the key does not
 *  exist (or has expired): create-only. *expected is borrowed. PX_ECONFLICT otherwise, with
 *  nothing written. Atomic against every other writer of the store. */
PX_API int px_kv_cas(px_kv *kv, const char *key, const px_val *expected,
                     px_val value, int64_t ttl_ms);
/** Adds delta to an integer entry atomically and returns the new value in
 *  *out (may be NULL). A missing or expired key counts as 0 (the key is
 *  created, without expiry); a live entry keeps its expiry. PX_ETYPE if
 *  the entry holds something other than an int, PX_ERANGE if the sum
 *  overflows int64 (nothing is written). */
PX_API int px_kv_incr(px_kv *kv, const char *key, int64_t delta,
                      int64_t *out);
/** Time left before a live key expires, in ms: 0 when it never expires,
 *  else >= 1. PX_ENOTFOUND when it is missing or expired. */
PX_API int px_kv_ttl(px_kv *kv, const char *key, int64_t *remaining_ms);

PX_EXTERN_C_END

#endif
