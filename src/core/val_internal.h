/* Internal layout of heap values and atoms, shared by val.c, atom.c and the
 * codecs. Nothing here is part of the public API.
 *
 * Every heap value is one malloc: a px_obj header followed by its payload.
 * Strings and binaries carry their bytes inline (NUL-terminated); arrays
 * carry their items inline; maps carry their key/value pairs inline followed
 * by an open-addressing index once they grow past a few pairs. The builders
 * may realloc an object while it is still unshared, which is why
 * px_array_push() and px_map_put() take a px_val pointer. */
#ifndef PX_CORE_VAL_INTERNAL_H
#define PX_CORE_VAL_INTERNAL_H

#include <stdint.h>

#include "plexspaces/val.h"

/* Longest atom name the codecs accept or produce. Atoms are a bounded
 * vocabulary (as in Erlang, whose limit is also 255 characters), so a longer
 * name in external input is treated as malformed rather than interned. */
#define PX__ATOM_MAX_LEN 255

/* Deepest container nesting the codecs accept or produce. The outermost
 * container is at depth 1. */
#define PX__MAX_DEPTH 512

struct px_atom_s {
  uint64_t hash; /* hash of the name bytes, see px__val_hash_bytes */
  size_t len;
  char name[]; /* len bytes plus a NUL */
};

/* Header of every heap value. The refcount is only touched with __atomic
 * builtins (see val.c for the memory orders). */
struct px_obj {
  uint32_t rc;
  uint8_t type; /* PX_T_STR, PX_T_BIN, PX_T_ARRAY or PX_T_MAP */
  uint8_t _pad[3];
};

typedef struct px__bytes {
  px_obj h;
  uint32_t _pad;
  uint64_t hash; /* 0 until computed; cached with relaxed atomics */
  size_t len;
  char data[]; /* len bytes plus a NUL */
} px__bytes;

/* `cap` doubles as the link of the pending list while an object is being
 * freed, which keeps px_val_release() iterative (no recursion on deep
 * nesting). */
typedef struct px__array {
  px_obj h;
  uint32_t _pad;
  size_t len;
  union {
    size_t cap;
    struct px_obj *next_dead;
  } u;
  px_val items[];
} px__array;

typedef struct px__map {
  px_obj h;
  uint32_t _pad;
  size_t len; /* number of pairs */
  union {
    size_t cap; /* room for pairs */
    struct px_obj *next_dead;
  } u;
  size_t index_mask; /* slots - 1 of the index after kv, or 0 if none */
  px_val kv[];       /* 2 * cap values: key, value, key, value, ... */
} px__map;

static inline px__bytes *px__as_bytes(px_val v) { return (px__bytes *)v.u.o; }
static inline px__array *px__as_array(px_val v) { return (px__array *)v.u.o; }
static inline px__map *px__as_map(px_val v) { return (px__map *)v.u.o; }

/* Hash of `len` bytes; the atom table and value hashing share it. */
uint64_t px__val_hash_bytes(const void *data, size_t len);

/* ---- fallible builders for decoders of external input --------------------
 * These return 0, PX_ENOMEM when malloc fails, and (put only) PX_EEXIST for a
 * duplicate key. On any failure the arguments they would have taken
 * ownership of are released, so callers only clean up their own partial
 * result. */

/* New string (type PX_T_STR) or binary (PX_T_BIN) copying `len` bytes. */
int px__val_try_bytes(px_type type, const void *data, size_t len,
                      px_val *out);
/* New empty array or map with room for `cap` items or pairs. */
int px__val_try_array(size_t cap, px_val *out);
int px__val_try_map(size_t cap, px_val *out);
/* Appends `item` to an unshared array, growing it if needed. */
int px__val_try_push(px_val *arr, px_val item);
/* Makes room for `cap` items (array) or pairs (map) in an unshared
 * container; never shrinks. Nothing is released on failure. */
int px__val_try_reserve(px_val *v, size_t cap);
/* Adds a pair whose key must not be present yet; PX_EEXIST if it is. */
int px__val_try_put_new(px_val *map, px_val key, px_val value);

/* Number of live heap values in this process when the library is built
 * with live-object counting (debug builds); -1 otherwise. Tests use it to
 * check that every value was released. */
long px__val_live_objects(void);

#endif
