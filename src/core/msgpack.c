/* MessagePack codec for px_val.
 *
 * Encoding uses msgpack-c's packer. A first pass computes the exact encoded
 * size (and rejects what cannot be encoded), so the output is one malloc of
 * the right size and the packer never reallocates.
 *
 * Decoding is hand-written on purpose. msgpack-c's C unpacker keeps a fixed
 * stack of MSGPACK_EMBED_STACK_SIZE (32) levels compiled into the shared
 * library, so it cannot accept the 512 levels we promise, and it allocates
 * a container's claimed size before reading its items, so a five-byte
 * input can ask for tens of gigabytes. The decoder below is iterative (its
 * depth costs heap, not C stack, which matters on coroutine stacks), builds
 * px_val directly, never lets a container's claimed size run ahead of the
 * input, and treats every inconsistency as PX_EDECODE. */
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "core/msgpack_internal.h"
#include "core/val_internal.h"
#include "plexspaces/core.h"
#include "plexspaces/error.h"

/* The ext type that carries atoms; the payload is the atom's name. */
#define EXT_ATOM 1

/* Decoded containers start with room for at most this many items and grow
 * towards their declared size as items actually arrive. */
#define FIRST_CAP 64

/* Frames kept on the C stack before the decoder moves to the heap. */
#define LOCAL_FRAMES 16

/* ---- encoding ----------------------------------------------------------- */

static size_t int_size(int64_t d) {
  if (d < -(1LL << 5)) {
    if (d < -(1LL << 15)) return d < -(1LL << 31) ? 9 : 5;
    return d < -(1LL << 7) ? 3 : 2;
  }
  if (d < (1LL << 7)) return 1;
  if (d < (1LL << 16)) return d < (1LL << 8) ? 2 : 3;
  return d < (1LL << 32) ? 5 : 9;
}

static size_t ext_size(size_t len) {
  if (len == 1 || len == 2 || len == 4 || len == 8 || len == 16)
    return 2 + len;
  return (len < 256 ? 3 : len < 65536 ? 4 : 6) + len;
}

static size_t str_size(size_t len) {
  return (len < 32 ? 1 : len < 256 ? 2 : len < 65536 ? 3 : 5) + len;
}

static size_t bin_size(size_t len) {
  return (len < 256 ? 2 : len < 65536 ? 3 : 5) + len;
}

static size_t header_size(size_t n) { return n < 16 ? 1 : n < 65536 ? 3 : 5; }

/* Adds the encoded size of `v` to *n, or fails with PX_EENCODE for what
 * MessagePack (or our decoder) cannot represent. */
static int encoded_size(px_val v, int depth, size_t *n) {
  size_t len = px_len(v);
  if (len > UINT32_MAX) return PX_EENCODE;
  switch ((px_type)v.type) {
  case PX_T_NIL:
  case PX_T_BOOL:
    *n += 1;
    return 0;
  case PX_T_INT:
    *n += int_size(v.u.i);
    return 0;
  case PX_T_DOUBLE:
    *n += 9;
    return 0;
  case PX_T_ATOM:
    if (px_atom_len(v.u.a) > PX__ATOM_MAX_LEN) return PX_EENCODE;
    *n += ext_size(px_atom_len(v.u.a));
    return 0;
  case PX_T_STR:
    *n += str_size(len);
    return 0;
  case PX_T_BIN:
    *n += bin_size(len);
    return 0;
  case PX_T_ARRAY:
  case PX_T_MAP:
    break;
  default:
    return PX_EENCODE;
  }
  if (depth > PX__MAX_DEPTH) return PX_EENCODE;
  *n += header_size(len);
  bool is_map = v.type == PX_T_MAP;
  for (size_t i = 0; i < len; i++) {
    px_val item = is_map ? px_map_key_at(v, i) : px_at(v, i);
    int rc = encoded_size(item, depth + 1, n);
    if (rc == 0 && is_map) rc = encoded_size(px_map_val_at(v, i), depth + 1, n);
    if (rc) return rc;
  }
  return 0;
}

typedef struct wbuf {
  char *p;
  size_t len, cap;
} wbuf;

static int wbuf_write(void *data, const char *buf, size_t len) {
  wbuf *w = data;
  /* The size pass made room for everything; never write past it. */
  if (len > w->cap - w->len) return -1;
  if (len) memcpy(w->p + w->len, buf, len);
  w->len += len;
  return 0;
}

static int pack(msgpack_packer *pk, px_val v) {
  size_t len = px_len(v);
  switch ((px_type)v.type) {
  case PX_T_NIL:
    return msgpack_pack_nil(pk);
  case PX_T_BOOL:
    return v.u.b ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
  case PX_T_INT:
    return msgpack_pack_int64(pk, v.u.i);
  case PX_T_DOUBLE:
    return msgpack_pack_double(pk, v.u.d);
  case PX_T_ATOM: {
    size_t n = px_atom_len(v.u.a);
    return msgpack_pack_ext(pk, n, EXT_ATOM) ||
           msgpack_pack_ext_body(pk, px_atom_name(v.u.a), n);
  }
  case PX_T_STR:
    return msgpack_pack_str(pk, len) ||
           msgpack_pack_str_body(pk, px_str_ptr(v), len);
  case PX_T_BIN:
    return msgpack_pack_bin(pk, len) ||
           msgpack_pack_bin_body(pk, px_str_ptr(v), len);
  case PX_T_ARRAY:
    if (msgpack_pack_array(pk, len)) return -1;
    for (size_t i = 0; i < len; i++)
      if (pack(pk, px_at(v, i))) return -1;
    return 0;
  case PX_T_MAP:
    if (msgpack_pack_map(pk, len)) return -1;
    for (size_t i = 0; i < len; i++)
      if (pack(pk, px_map_key_at(v, i)) || pack(pk, px_map_val_at(v, i)))
        return -1;
    return 0;
  }
  return -1;
}

int px_msgpack_size(px_val v, size_t *out) {
  size_t n = 0;
  int rc = encoded_size(v, 1, &n);
  if (rc == 0) *out = n;
  return rc;
}

/* Packs v, whose size pass said n, into buf. */
static void pack_exact(px_val v, char *buf, size_t n) {
  wbuf w = {buf, 0, n};
  msgpack_packer pk;
  msgpack_packer_init(&pk, &w, wbuf_write);
  /* The size pass and the packer disagreeing is a bug, not bad input. */
  if (pack(&pk, v) != 0 || w.len != n)
    px_panic("msgpack size pass out of step with the packer");
}

void px__msgpack_pack_sized(px_val v, void *buf, size_t n) {
  pack_exact(v, buf, n);
}

int px_msgpack_encode_into(px_val v, void *buf, size_t cap, size_t *len) {
  size_t n;
  int rc = px_msgpack_size(v, &n);
  if (rc) return rc;
  if (n > cap) return PX_ERANGE;
  pack_exact(v, buf, n);
  *len = n;
  return 0;
}

int px_msgpack_encode(px_val v, char **out, size_t *out_len) {
  size_t n;
  int rc = px_msgpack_size(v, &n);
  if (rc) return rc;
  char *p = malloc(n ? n : 1);
  if (!p) return PX_ENOMEM;
  pack_exact(v, p, n);
  *out = p;
  *out_len = n;
  return 0;
}

/* ---- decoding ----------------------------------------------------------- */

typedef struct rd {
  const unsigned char *p, *end;
  bool no_new_atoms; /* untrusted input: ext atoms name existing atoms */
} rd;

static bool have(const rd *r, size_t n) { return (size_t)(r->end - r->p) >= n; }

static uint64_t be(const unsigned char *p, int n) {
  uint64_t x = 0;
  for (int i = 0; i < n; i++) x = x << 8 | p[i];
  return x;
}

/* Reads an n-byte big-endian unsigned integer. */
static bool read_uint(rd *r, int n, uint64_t *x) {
  if (!have(r, (size_t)n)) return false;
  *x = be(r->p, n);
  r->p += n;
  return true;
}

/* One open container. `left` counts the values still to come (two per map
 * pair); `key` holds a map key waiting for its value. */
typedef struct frame {
  px_val c;
  size_t declared; /* items or pairs the header announced */
  size_t left;
  px_val key;
  bool has_key;
} frame;

typedef struct dec {
  rd r;
  frame local[LOCAL_FRAMES];
  frame *st;
  size_t depth, cap;
} dec;

static int bytes_val(rd *r, px_type t, size_t len, px_val *v) {
  if (!have(r, len)) return PX_EDECODE;
  int rc = px__val_try_bytes(t, r->p, len, v);
  r->p += len;
  return rc;
}

static int ext_val(rd *r, size_t len, px_val *v) {
  if (!have(r, 1 + len)) return PX_EDECODE;
  int8_t type = (int8_t)r->p[0];
  if (type != EXT_ATOM || len > PX__ATOM_MAX_LEN) return PX_EDECODE;
  const char *name = (const char *)r->p + 1;
  px_atom a = r->no_new_atoms ? px_atom_find(name, len)
                              : px_atom_ofn(name, len);
  /* Atoms are never freed: untrusted input may only name known ones. */
  if (!a) return PX_EDECODE;
  *v = px_atomv(a);
  r->p += 1 + len;
  return 0;
}

/* Opens a container of `n` items (arrays) or pairs (maps). An empty one is
 * complete at once and comes back in *v with *opened false. */
static int open_container(dec *d, px_type t, uint64_t n, px_val *v,
                          bool *opened) {
  if (d->depth + 1 > PX__MAX_DEPTH) return PX_EDECODE;
  /* Every value takes at least one byte, so a size the rest of the input
   * cannot hold is malformed; this also bounds what we allocate. */
  uint64_t values = t == PX_T_MAP ? 2 * n : n;
  if (values > (uint64_t)(d->r.end - d->r.p)) return PX_EDECODE;
  size_t first = n < FIRST_CAP ? (size_t)n : FIRST_CAP;
  int rc = t == PX_T_MAP ? px__val_try_map(first, v)
                         : px__val_try_array(first, v);
  if (rc) return rc;
  if (n == 0) {
    *opened = false;
    return 0;
  }
  if (d->depth == d->cap) {
    size_t cap = d->cap * 2;
    frame *st = d->st == d->local ? malloc(cap * sizeof *st)
                                  : realloc(d->st, cap * sizeof *st);
    if (!st) {
      px_val_release(*v);
      return PX_ENOMEM;
    }
    if (d->st == d->local) memcpy(st, d->local, sizeof d->local);
    d->st = st;
    d->cap = cap;
  }
  d->st[d->depth++] = (frame){*v, (size_t)n, (size_t)values, px_nil(), false};
  *opened = true;
  return 0;
}

/* Reads one value. Scalars come back complete in *v; a non-empty container
 * header pushes a frame and sets *opened. */
static int read_value(dec *d, px_val *v, bool *opened) {
  rd *r = &d->r;
  *opened = false;
  if (!have(r, 1)) return PX_EDECODE;
  unsigned c = *r->p++;
  uint64_t x;
  if (c <= 0x7f) {
    *v = px_int((int64_t)c);
    return 0;
  }
  if (c >= 0xe0) {
    *v = px_int((int64_t)(int8_t)c);
    return 0;
  }
  if (c <= 0x8f) return open_container(d, PX_T_MAP, c & 0x0f, v, opened);
  if (c <= 0x9f) return open_container(d, PX_T_ARRAY, c & 0x0f, v, opened);
  if (c <= 0xbf) return bytes_val(r, PX_T_STR, c & 0x1f, v);
  switch (c) {
  case 0xc0:
    *v = px_nil();
    return 0;
  case 0xc2:
  case 0xc3:
    *v = px_bool(c == 0xc3);
    return 0;
  case 0xc4:
  case 0xc5:
  case 0xc6:
    if (!read_uint(r, 1 << (c - 0xc4), &x)) return PX_EDECODE;
    return bytes_val(r, PX_T_BIN, (size_t)x, v);
  case 0xc7:
  case 0xc8:
  case 0xc9:
    if (!read_uint(r, 1 << (c - 0xc7), &x)) return PX_EDECODE;
    return ext_val(r, (size_t)x, v);
  case 0xca: {
    if (!read_uint(r, 4, &x)) return PX_EDECODE;
    uint32_t bits = (uint32_t)x;
    float f;
    memcpy(&f, &bits, sizeof f);
    *v = px_double((double)f);
    return 0;
  }
  case 0xcb: {
    if (!read_uint(r, 8, &x)) return PX_EDECODE;
    double f;
    memcpy(&f, &x, sizeof f);
    *v = px_double(f);
    return 0;
  }
  case 0xcc:
  case 0xcd:
  case 0xce:
  case 0xcf:
    if (!read_uint(r, 1 << (c - 0xcc), &x) || x > INT64_MAX)
      return PX_EDECODE;
    *v = px_int((int64_t)x);
    return 0;
  case 0xd0:
  case 0xd1:
  case 0xd2:
  case 0xd3: {
    int n = 1 << (c - 0xd0);
    if (!read_uint(r, n, &x)) return PX_EDECODE;
    /* Sign-extend the n-byte two's-complement value. */
    int shift = 64 - 8 * n;
    *v = px_int((int64_t)(x << shift) >> shift);
    return 0;
  }
  case 0xd4:
  case 0xd5:
  case 0xd6:
  case 0xd7:
  case 0xd8:
    return ext_val(r, (size_t)1 << (c - 0xd4), v);
  case 0xd9:
  case 0xda:
  case 0xdb:
    if (!read_uint(r, 1 << (c - 0xd9), &x)) return PX_EDECODE;
    return bytes_val(r, PX_T_STR, (size_t)x, v);
  case 0xdc:
  case 0xdd:
    if (!read_uint(r, c == 0xdc ? 2 : 4, &x)) return PX_EDECODE;
    return open_container(d, PX_T_ARRAY, x, v, opened);
  case 0xde:
  case 0xdf:
    if (!read_uint(r, c == 0xde ? 2 : 4, &x)) return PX_EDECODE;
    return open_container(d, PX_T_MAP, x, v, opened);
  default: /* 0xc1 is never used */
    return PX_EDECODE;
  }
}

static size_t capacity(px_val c) {
  return c.type == PX_T_MAP ? px__as_map(c)->u.cap : px__as_array(c)->u.cap;
}

/* Adds a complete value to the innermost open container (which takes
 * ownership of it). Reports in *closed whether that filled the container,
 * in which case the container is popped and returned in *v. */
static int attach(dec *d, px_val *v, bool *closed) {
  frame *f = &d->st[d->depth - 1];
  int rc;
  size_t len = px_len(f->c);
  if (f->c.type == PX_T_MAP && !f->has_key) {
    f->key = *v;
    f->has_key = true;
    rc = 0;
  } else {
    /* Grow towards the declared size only as items really arrive, and
     * geometrically, so that growing costs amortised constant time. */
    rc = 0;
    if (len == capacity(f->c)) {
      size_t cap = 2 * len < f->declared ? 2 * len : f->declared;
      rc = px__val_try_reserve(&f->c, cap);
    }
    if (rc) {
      px_val_release(*v);
    } else if (f->c.type == PX_T_MAP) {
      f->has_key = false;
      rc = px__val_try_put_new(&f->c, f->key, *v);
      if (rc == PX_EEXIST) rc = PX_EDECODE; /* duplicate keys are ambiguous */
    } else {
      rc = px__val_try_push(&f->c, *v);
    }
  }
  if (rc) return rc;
  *closed = --f->left == 0;
  if (*closed) {
    *v = f->c;
    d->depth--;
  }
  return 0;
}

static void dec_cleanup(dec *d) {
  while (d->depth) {
    frame *f = &d->st[--d->depth];
    if (f->has_key) px_val_release(f->key);
    px_val_release(f->c);
  }
  if (d->st != d->local) free(d->st);
}

static int decode(const void *data, size_t len, bool untrusted,
                  px_val *out) {
  if (!data && len) return PX_EINVAL;
  dec d;
  d.r.p = data;
  d.r.end = d.r.p + len;
  d.r.no_new_atoms = untrusted;
  d.st = d.local;
  d.depth = 0;
  d.cap = LOCAL_FRAMES;
  int rc = 0;
  px_val v = px_nil();
  for (;;) {
    bool opened, closed = true;
    rc = read_value(&d, &v, &opened);
    if (rc || opened) {
      if (rc) break;
      continue;
    }
    /* A complete value climbs as long as it completes its parent. */
    while (rc == 0 && d.depth > 0 && closed) rc = attach(&d, &v, &closed);
    if (rc || d.depth == 0) break;
  }
  if (rc == 0 && d.r.p != d.r.end) {
    px_val_release(v);
    rc = PX_EDECODE; /* trailing bytes */
  }
  dec_cleanup(&d);
  if (rc == 0) *out = v;
  return rc;
}

int px_msgpack_decode(const void *data, size_t len, px_val *out) {
  return decode(data, len, false, out);
}

int px_msgpack_decode_untrusted(const void *data, size_t len, px_val *out) {
  return decode(data, len, true, out);
}
