/* Values: the payload of every message, tuple, journal entry and config.
 *
 * A px_val is a 16-byte value passed by value. Scalars (nil, bool, int,
 * double, atom) live inline and cost nothing to copy. Strings, binaries,
 * arrays and maps live on the heap, are immutable once built, and are shared
 * by reference count: px_val_retain() makes another owner, px_val_release()
 * drops one. A message send moves the payload: the receiver owns what the
 * sender owned, no copy is made.
 *
 * Ownership phrasing used below:
 *   "returns a new value"  - the caller owns one reference; release it.
 *   "borrowed"             - valid while the container is; do not release.
 *   "takes ownership of v" - the caller's reference passes to the callee. */
#ifndef PLEXSPACES_VAL_H
#define PLEXSPACES_VAL_H

#include "common.h"

PX_EXTERN_C_BEGIN

typedef enum px_type {
  PX_T_NIL = 0,
  PX_T_BOOL,
  PX_T_INT,
  PX_T_DOUBLE,
  PX_T_ATOM,
  PX_T_STR,
  PX_T_BIN,
  PX_T_ARRAY,
  PX_T_MAP,
} px_type;

/* Interned atom. Two atoms are equal iff their pointers are equal. Atoms are
 * never freed; they are meant for a bounded vocabulary (message types, reasons,
 * tags), not for arbitrary user data. */
typedef struct px_atom_s px_atom_s;
typedef const px_atom_s *px_atom;

/* Heap object header shared by strings, binaries, arrays and maps. */
typedef struct px_obj px_obj;

typedef struct px_val {
  uint8_t type; /* px_type */
  uint8_t _pad[7];
  union {
    bool b;
    int64_t i;
    double d;
    px_atom a;
    px_obj *o;
  } u;
} px_val;

/* ---- atoms -------------------------------------------------------------- */

/** Interns `name` (NUL-terminated) and returns its atom. Thread-safe; aborts
 *  through the OOM handler if memory runs out. */
PX_API px_atom px_atom_of(const char *name);
/** Same for a name of `len` bytes (need not be NUL-terminated). */
PX_API px_atom px_atom_ofn(const char *name, size_t len);
/** Returns the atom if `name` is already interned, else NULL. */
PX_API px_atom px_atom_find(const char *name, size_t len);
/** An atom named by someone outside the node (an HTTP op, a WASM message
 *  type): 1..64 bytes of [A-Za-z0-9_.:-]. Known names always work; new
 *  ones draw on one node-wide budget of 10,000, because atoms are never
 *  freed. 0 and *out, PX_EINVAL (not such a name) or PX_ERANGE (budget
 *  spent). */
PX_API int px_atom_untrusted(const char *name, size_t len, px_atom *out);
/** Borrowed, NUL-terminated name of the atom; lives forever. */
PX_API const char *px_atom_name(px_atom a);
PX_API size_t px_atom_len(px_atom a);

/* ---- constructors ------------------------------------------------------- */

static inline px_val px_nil(void) {
  px_val v = {0};
  return v;
}
static inline px_val px_bool(bool b) {
  px_val v = {0};
  v.type = PX_T_BOOL;
  v.u.b = b;
  return v;
}
static inline px_val px_int(int64_t i) {
  px_val v = {0};
  v.type = PX_T_INT;
  v.u.i = i;
  return v;
}
static inline px_val px_double(double d) {
  px_val v = {0};
  v.type = PX_T_DOUBLE;
  v.u.d = d;
  return v;
}
static inline px_val px_atomv(px_atom a) {
  px_val v = {0};
  v.type = PX_T_ATOM;
  v.u.a = a;
  return v;
}
/** Atom value from a C string (interns it). */
PX_API px_val px_atom_val(const char *name);

/** Returns a new string value copying `len` bytes of `s` (UTF-8 is not
 *  checked here; the JSON codec checks it at the edge). */
PX_API px_val px_strn(const char *s, size_t len);
/** Returns a new string value copying the NUL-terminated `s`. */
PX_API px_val px_str(const char *s);
/** Returns a new printf-formatted string value. */
PX_API px_val px_strf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/** Returns a new binary value copying `len` bytes. */
PX_API px_val px_bin(const void *data, size_t len);

/** Returns a new array of `n` elements taking ownership of each item. */
PX_API px_val px_array_of(size_t n, const px_val *items);
/** Builds an array from a literal list: px_arr(3, px_int(1), ...).
 *  Takes ownership of every argument. */
PX_API px_val px_arr(size_t n, ...);
/** Returns a new map from `n` alternating key, value arguments; takes
 *  ownership of each. Later duplicate keys replace earlier ones. */
PX_API px_val px_map(size_t n_pairs, ...);

/* ---- builders (for decoders and code that does not know sizes upfront) -- */

/** Returns a new, empty, still-mutable array with room for `cap` items. It
 *  must be filled with px_array_push() before it is shared. */
PX_API px_val px_array_new(size_t cap);
/** Appends `item` (takes ownership). Only on an array not yet shared. */
PX_API void px_array_push(px_val *arr, px_val item);
/** Returns a new, empty, still-mutable map with room for `cap` pairs. */
PX_API px_val px_map_new(size_t cap);
/** Sets key to value (takes ownership of both), replacing an equal key.
 *  Only on a map not yet shared. */
PX_API void px_map_put(px_val *map, px_val key, px_val value);
/** Convenience: key is a string copied from `key`. */
PX_API void px_map_puts(px_val *map, const char *key, px_val value);

/* ---- refcounting -------------------------------------------------------- */

/** Returns `v` with one more reference (scalars: a no-op). Thread-safe. */
PX_API px_val px_val_retain(px_val v);
/** Drops one reference; the last one frees the object. Thread-safe. */
PX_API void px_val_release(px_val v);

/* ---- accessors ---------------------------------------------------------- */

static inline px_type px_typeof(px_val v) { return (px_type)v.type; }
static inline bool px_is_nil(px_val v) { return v.type == PX_T_NIL; }
static inline bool px_is_atom(px_val v, px_atom a) {
  return v.type == PX_T_ATOM && v.u.a == a;
}
/** Borrowed bytes of a string or binary; NULL for other types. Strings are
 *  also NUL-terminated. */
PX_API const char *px_str_ptr(px_val v);
PX_API size_t px_str_len(px_val v);
/** Number of items of an array, pairs of a map, bytes of a string or
 *  binary; 0 for scalars. */
PX_API size_t px_len(px_val v);
/** Borrowed i-th item of an array (nil when out of range or not an array). */
PX_API px_val px_at(px_val arr, size_t i);
/** Borrowed i-th key / value of a map in insertion order. */
PX_API px_val px_map_key_at(px_val map, size_t i);
PX_API px_val px_map_val_at(px_val map, size_t i);
/** Borrowed value for `key` (compared with px_val_equal); nil if absent. */
PX_API px_val px_get(px_val map, px_val key);
/** Borrowed value for a string (or atom) key named `key`; nil if absent. */
PX_API px_val px_gets(px_val map, const char *key);
/** True and *out set when `key` is present. */
PX_API bool px_map_find(px_val map, px_val key, px_val *out);

/* ---- comparison, hashing, printing -------------------------------------- */

/** Typed structural equality: int 1 != double 1.0, atom a != string "a". */
PX_API bool px_val_equal(px_val a, px_val b);
/** Total order consistent with px_val_equal: by type, then by content. */
PX_API int px_val_compare(px_val a, px_val b);
/** Hash consistent with px_val_equal. */
PX_API uint64_t px_val_hash(px_val v);
/** Human-readable Erlang-like rendering into buf (always NUL-terminated,
 *  truncated with "..." if needed). Returns the length it wanted. */
PX_API size_t px_val_format(px_val v, char *buf, size_t cap);

/* ---- codecs ------------------------------------------------------------- */

/** Encodes `v` as MessagePack. Atoms use ext type 1. On success *out is a
 *  malloc'd buffer the caller frees with free(). */
PX_API int px_msgpack_encode(px_val v, char **out, size_t *out_len);
/** The exact encoded size of `v` (PX_EENCODE for what cannot be encoded),
 *  and an encoding into a buffer of the caller's: PX_ERANGE when it does
 *  not fit in cap, nothing written. Together they encode without a
 *  malloc (into a WASM guest's memory, say). */
PX_API int px_msgpack_size(px_val v, size_t *out);
PX_API int px_msgpack_encode_into(px_val v, void *buf, size_t cap,
                                  size_t *len);
/** Decodes exactly one MessagePack object spanning all of `len` bytes.
 *  Returns PX_EDECODE for malformed or trailing input. On success *out is a
 *  new value. Never aborts on bad input (PX_ENOMEM instead). */
PX_API int px_msgpack_decode(const void *data, size_t len, px_val *out);
/** The same for input from outside the node (a WASM guest, a peer not yet
 *  trusted): an atom (ext 1) must name an atom that exists already, else
 *  PX_EDECODE. Atoms are never freed, so such input must not mint them. */
PX_API int px_msgpack_decode_untrusted(const void *data, size_t len,
                                       px_val *out);

/** Encodes `v` as compact JSON. Binaries become {"$bin":"<base64>"}, atoms
 *  {"$atom":"name"}, non-string map keys make the map a
 *  {"$map":[[k,v],...]} object, non-finite doubles fail with PX_EENCODE.
 *  *out is malloc'd; free with free(). */
PX_API int px_json_encode(px_val v, char **out, size_t *out_len);
/** Decodes JSON text (the tagged objects above decode back to their types;
 *  integers stay ints, numbers with a fraction or exponent are doubles).
 *  Returns PX_EDECODE with a message in errbuf (if given) on bad input. */
PX_API int px_json_decode(const char *text, size_t len, px_val *out,
                          char *errbuf, size_t errcap);
/** Same, for input from outside (HTTP bodies): atoms are never freed, so
 *  {"$atom": name} decodes only to an atom that already exists; another
 *  name is PX_EDECODE. */
PX_API int px_json_decode_untrusted(const char *text, size_t len,
                                    px_val *out, char *errbuf,
                                    size_t errcap);

PX_EXTERN_C_END

#endif
