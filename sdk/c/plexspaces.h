/* plexspaces.h - header-only C guest SDK for the plexspaces WebAssembly ABI,
 * version 1 (docs/wasm-abi.md). C17, clang --target=wasm32-wasi.
 *
 * Use: in exactly one translation unit of the module
 *
 *     #define PLEXSPACES_IMPLEMENTATION
 *     #include "plexspaces.h"
 *
 * and define there (or anywhere in the module) the actor table
 *
 *     const px_actor_def *const px_actors[] = {&counter, &agent, NULL};
 *
 * The implementation section provides the exports the node calls
 * (px_abi_version, px_alloc, px_free, px_init, px_handle, px_get_state,
 * px_set_state); build with -mexec-model=reactor so wasi-libc adds
 * _initialize. Other translation units include the header without the
 * define and get the MessagePack reader/writer and the host wrappers.
 *
 * Errors follow the C idiom of the node itself: every wrapper returns an
 * int status, 0 (PX_OK) on success or a negative PX_ERR_* code, and hands
 * values back through pointers. px_status_name() names a status.
 *
 * MessagePack is hand-written here (a zero-copy reader over px_val views and
 * a growable or fixed-buffer writer): no MessagePack C library is packaged
 * for wasm32-wasi in Debian, and the subset the ABI needs is small enough
 * that a self-contained header beats vendoring and cross-building one.
 */
#ifndef PLEXSPACES_H
#define PLEXSPACES_H

#if !defined(__wasm32__)
#error "plexspaces.h is for WebAssembly guests: clang --target=wasm32-wasi"
#endif

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PX_ABI_VERSION 1

/* ---- status codes, message kinds, handler results ------------------------ */

enum {
  PX_OK = 0,
  PX_ERR_INTERNAL = -1,
  PX_ERR_NOT_FOUND = -2,
  PX_ERR_TIMEOUT = -3,
  PX_ERR_INVALID = -4,
  PX_ERR_NOT_PERMITTED = -5,
  PX_ERR_RESOURCE = -6,
  PX_ERR_NO_PROC = -7,
  PX_ERR_NOT_SUPPORTED = -8,
  PX_ERR_CONFLICT = -9,
  PX_ERR_REMOTE = -10,
};

enum { PX_CALL = 1, PX_CAST = 2, PX_INFO = 3 };          /* px_handle kind */
enum { PX_HANDLED = 0, PX_ERROR = 1, PX_STOP = 2 };      /* handler result */
enum { PX_LOG_DEBUG = 0, PX_LOG_INFO, PX_LOG_WARN, PX_LOG_ERROR };

/* The status's name without the ERR_ prefix, in lower case: "not_found",
 * "timeout", ... ("ok" for 0, "unknown" for anything else). */
static inline const char *px_status_name(int status) {
  static const char *const names[] = {
      "ok",      "internal", "not_found",     "timeout",
      "invalid", "not_permitted", "resource", "no_proc",
      "not_supported", "conflict", "remote"};
  if (status <= 0 && status >= PX_ERR_REMOTE) return names[-status];
  return "unknown";
}

/* ---- byte views ---------------------------------------------------------- */

/* A string or byte range (UTF-8, no terminator needed). */
typedef struct {
  const char *ptr;
  size_t len;
} px_str;

#define PX_S(lit) ((px_str){"" lit, sizeof(lit) - 1})

static inline px_str px_cstr(const char *s) {
  return (px_str){s, s ? strlen(s) : 0};
}

/* a equals the C string b (b is never read past its terminator). */
static inline bool px_str_eq(px_str a, const char *b) {
  for (size_t i = 0; i < a.len; i++)
    if (b[i] != a.ptr[i] || !b[i]) return false;
  return b[a.len] == '\0';
}

/* A view of one encoded MessagePack object; len == 0 means "absent". */
typedef struct {
  const uint8_t *ptr;
  size_t len;
} px_val;

#define PX_NONE ((px_val){NULL, 0})

static inline bool px_present(px_val v) { return v.len > 0; }

static inline px_val px_val_of(const void *p, size_t n) {
  return (px_val){(const uint8_t *)p, n};
}

/* A growable byte buffer the host-result wrappers fill (reuse it: the
 * storage is kept between calls). */
typedef struct {
  uint8_t *data;
  size_t len, cap;
} px_buf;

static inline bool px__buf_reserve(px_buf *b, size_t n) {
  if (b->cap >= n && b->data) return true;
  size_t c = b->cap ? b->cap : 64;
  while (c < n) {
    if (c > SIZE_MAX / 2) return false;
    c *= 2;
  }
  void *d = realloc(b->data, c);
  if (!d) return false;
  b->data = d;
  b->cap = c;
  return true;
}

static inline void px_buf_free(px_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

static inline px_val px_buf_val(const px_buf *b) {
  return (px_val){b->data, b->len};
}

static inline px_str px_buf_str(const px_buf *b) {
  return (px_str){(const char *)b->data, b->len};
}

/* ---- MessagePack reader -------------------------------------------------- */

typedef enum {
  PX_T_INVALID = 0, /* absent, truncated or malformed */
  PX_T_NIL,
  PX_T_BOOL,
  PX_T_INT,
  PX_T_FLOAT,
  PX_T_STR,
  PX_T_BIN,
  PX_T_ARRAY,
  PX_T_MAP,
  PX_T_EXT,
} px_type;

typedef struct {
  px_type t;
  bool neg;   /* PX_T_INT: u holds a negative int64 */
  bool b;     /* PX_T_BOOL */
  int8_t ext; /* PX_T_EXT: the ext type */
  uint64_t u; /* PX_T_INT: the value's bits */
  uint64_t n; /* STR/BIN/EXT: data bytes; ARRAY: items; MAP: pairs */
  double f;   /* PX_T_FLOAT */
} px__head_t;

static inline uint64_t px__be(const uint8_t *p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) v = v << 8 | p[i];
  return v;
}

static inline size_t px__head_slow(const uint8_t *p, size_t n, px__head_t *h);

/* Parses the header of the object at p (n bytes available). Returns the
 * header's size (the whole object for scalars; STR/BIN/EXT data follows),
 * or 0 when it is truncated or malformed. The one-byte heads that small
 * payloads are made of (positive fixints, fixmaps, fixstrs) are read
 * inline; the rest in a call, which keeps this small enough to inline. */
static inline size_t px__head(const uint8_t *p, size_t n, px__head_t *h) {
  if (n && p) {
    uint8_t c = p[0];
    h->neg = false;
    h->u = h->n = 0;
    if (c <= 0x7f) {
      h->t = PX_T_INT;
      h->u = c;
      return 1;
    }
    if ((c & 0xf0) == 0x80) {
      h->t = PX_T_MAP;
      h->n = c & 0x0f;
      return 1;
    }
    if ((c & 0xe0) == 0xa0 && n - 1 >= (size_t)(c & 0x1f)) {
      h->t = PX_T_STR;
      h->n = c & 0x1f;
      return 1;
    }
  }
  return px__head_slow(p, n, h);
}

__attribute__((noinline)) static inline size_t px__head_slow(const uint8_t *p,
                                                        size_t n,
                                                        px__head_t *h) {
  if (!n || !p) return 0;
  uint8_t c = p[0];
  size_t k = 1;
  int len_bytes = 0;
  /* px__head took positive fixints and fixmaps (and h is reset). */
  if (c >= 0xe0) {
    h->t = PX_T_INT;
    h->u = (uint64_t)(int64_t)(int8_t)c;
    h->neg = true;
    return 1;
  }
  if (c >= 0x90 && c <= 0x9f) {
    h->t = PX_T_ARRAY;
    h->n = c & 0x0f;
    return 1;
  }
  if (c <= 0xbf) {
    h->t = PX_T_STR;
    h->n = c & 0x1f;
    goto data;
  }
  switch (c) {
  case 0xc0: h->t = PX_T_NIL; return 1;
  case 0xc2: case 0xc3: h->t = PX_T_BOOL; h->b = c == 0xc3; return 1;
  case 0xc4: case 0xc5: case 0xc6:
    h->t = PX_T_BIN;
    len_bytes = 1 << (c - 0xc4);
    break;
  case 0xc7: case 0xc8: case 0xc9:
    h->t = PX_T_EXT;
    len_bytes = 1 << (c - 0xc7);
    break;
  case 0xca: case 0xcb: {
    int w = c == 0xca ? 4 : 8;
    if (n < 1 + (size_t)w) return 0;
    uint64_t bits = px__be(p + 1, w);
    h->t = PX_T_FLOAT;
    if (w == 4) {
      uint32_t b32 = (uint32_t)bits;
      float f;
      memcpy(&f, &b32, 4);
      h->f = f;
    } else {
      memcpy(&h->f, &bits, 8);
    }
    return 1 + (size_t)w;
  }
  case 0xcc: case 0xcd: case 0xce: case 0xcf: {
    int w = 1 << (c - 0xcc);
    if (n < 1 + (size_t)w) return 0;
    h->t = PX_T_INT;
    h->u = px__be(p + 1, w);
    return 1 + (size_t)w;
  }
  case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
    int w = 1 << (c - 0xd0);
    if (n < 1 + (size_t)w) return 0;
    uint64_t u = px__be(p + 1, w);
    if (w < 8 && (u >> (w * 8 - 1) & 1)) u |= ~(uint64_t)0 << (w * 8);
    h->t = PX_T_INT;
    h->u = u;
    h->neg = (int64_t)u < 0;
    return 1 + (size_t)w;
  }
  case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
    if (n < 2) return 0;
    h->t = PX_T_EXT;
    h->n = (uint64_t)1 << (c - 0xd4);
    h->ext = (int8_t)p[1];
    k = 2;
    goto data;
  case 0xd9: case 0xda: case 0xdb:
    h->t = PX_T_STR;
    len_bytes = 1 << (c - 0xd9);
    break;
  case 0xdc: case 0xdd:
    h->t = PX_T_ARRAY;
    len_bytes = c == 0xdc ? 2 : 4;
    if (n < 1 + (size_t)len_bytes) return 0;
    h->n = px__be(p + 1, len_bytes);
    return 1 + (size_t)len_bytes;
  case 0xde: case 0xdf:
    h->t = PX_T_MAP;
    len_bytes = c == 0xde ? 2 : 4;
    if (n < 1 + (size_t)len_bytes) return 0;
    h->n = px__be(p + 1, len_bytes);
    return 1 + (size_t)len_bytes;
  default: /* 0xc1 is never used */
    return 0;
  }
  /* bin, ext, str with an explicit length */
  if (n < 1 + (size_t)len_bytes) return 0;
  h->n = px__be(p + 1, len_bytes);
  k = 1 + (size_t)len_bytes;
  if (h->t == PX_T_EXT) {
    if (n < k + 1) return 0;
    h->ext = (int8_t)p[k++];
  }
data:
  if (n - k < h->n) return 0;
  return k;
}

/* The size of the one object at p, or 0 when truncated or malformed.
 * Iterative (a count of objects still to skip), so hostile nesting cannot
 * overflow the stack. */
static inline size_t px__skip(const uint8_t *p, size_t n) {
  size_t pos = 0;
  uint64_t need = 1;
  while (need) {
    px__head_t h;
    size_t k = px__head(p + pos, n - pos, &h);
    if (!k) return 0;
    pos += k;
    need--;
    if (h.t == PX_T_STR || h.t == PX_T_BIN || h.t == PX_T_EXT)
      pos += (size_t)h.n;
    else if (h.t == PX_T_ARRAY)
      need += h.n;
    else if (h.t == PX_T_MAP)
      need += 2 * h.n;
    if (need > n - pos) return 0; /* every object takes at least a byte */
  }
  return pos;
}

/* The first object of p[0..n) as a view (trailing bytes dropped), or
 * PX_NONE when it is malformed. */
static inline px_val px_decode(const void *p, size_t n) {
  size_t k = px__skip(p, n);
  return k ? (px_val){(const uint8_t *)p, k} : PX_NONE;
}

static inline px_type px_typeof(px_val v) {
  px__head_t h;
  return px__head(v.ptr, v.len, &h) ? h.t : PX_T_INVALID;
}

static inline bool px_is_nil(px_val v) { return px_typeof(v) == PX_T_NIL; }

static inline bool px_to_int(px_val v, int64_t *out) {
  px__head_t h;
  if (!px__head(v.ptr, v.len, &h)) return false;
  if (h.t == PX_T_INT) {
    if (!h.neg && h.u > (uint64_t)INT64_MAX) return false;
    *out = (int64_t)h.u;
    return true;
  }
  if (h.t == PX_T_FLOAT && h.f >= -9.2e18 && h.f <= 9.2e18 &&
      h.f == (double)(int64_t)h.f) {
    *out = (int64_t)h.f;
    return true;
  }
  return false;
}

static inline bool px_to_f64(px_val v, double *out) {
  px__head_t h;
  if (!px__head(v.ptr, v.len, &h)) return false;
  if (h.t == PX_T_FLOAT) *out = h.f;
  else if (h.t == PX_T_INT) *out = h.neg ? (double)(int64_t)h.u : (double)h.u;
  else return false;
  return true;
}

static inline bool px_to_bool(px_val v, bool *out) {
  px__head_t h;
  if (!px__head(v.ptr, v.len, &h) || h.t != PX_T_BOOL) return false;
  *out = h.b;
  return true;
}

static inline bool px__to_bytes(px_val v, px_type t, int ext, px_str *out) {
  px__head_t h;
  size_t k = px__head(v.ptr, v.len, &h);
  if (!k || h.t != t || (t == PX_T_EXT && h.ext != ext)) return false;
  *out = (px_str){(const char *)v.ptr + k, (size_t)h.n};
  return true;
}

/* A string. */
static inline bool px_to_str(px_val v, px_str *out) {
  return px__to_bytes(v, PX_T_STR, 0, out);
}

/* A binary, or a string's bytes. */
static inline bool px_to_bin(px_val v, px_str *out) {
  return px__to_bytes(v, PX_T_BIN, 0, out) || px_to_str(v, out);
}

/* An atom (ext type 1) the host sent, e.g. a DOWN reason. */
static inline bool px_to_atom(px_val v, px_str *out) {
  return px__to_bytes(v, PX_T_EXT, 1, out);
}

/* Items of an array, pairs of a map, 0 for anything else. */
static inline size_t px_count(px_val v) {
  px__head_t h;
  if (!px__head(v.ptr, v.len, &h)) return 0;
  return h.t == PX_T_ARRAY || h.t == PX_T_MAP ? (size_t)h.n : 0;
}

/* Walks an array's items, or a map's keys and values alternately. */
typedef struct {
  const uint8_t *p;
  size_t left;     /* bytes */
  uint64_t items;  /* objects still to yield */
} px_iter;

static inline bool px_iter_begin(px_iter *it, px_val v) {
  px__head_t h;
  size_t k = px__head(v.ptr, v.len, &h);
  it->items = 0;
  if (!k || (h.t != PX_T_ARRAY && h.t != PX_T_MAP)) return false;
  it->p = v.ptr + k;
  it->left = v.len - k;
  it->items = h.t == PX_T_MAP ? 2 * h.n : h.n;
  return true;
}

static inline bool px_iter_next(px_iter *it, px_val *out) {
  if (!it->items) return false;
  size_t k = px__skip(it->p, it->left);
  if (!k) {
    it->items = 0;
    return false;
  }
  *out = (px_val){it->p, k};
  it->p += k;
  it->left -= k;
  it->items--;
  return true;
}

static inline bool px_map_next(px_iter *it, px_val *key, px_val *value) {
  return px_iter_next(it, key) && px_iter_next(it, value);
}

/* The value under a string key of a map, PX_NONE when missing. */
static inline px_val px_map_getn(px_val map, const char *key, size_t len) {
  px__head_t h;
  size_t pos = px__head(map.ptr, map.len, &h);
  if (!pos || h.t != PX_T_MAP) return PX_NONE;
  for (uint64_t i = 0; i < h.n; i++) {
    px__head_t kh;
    size_t kk = px__head(map.ptr + pos, map.len - pos, &kh);
    if (!kk) return PX_NONE;
    /* A string key's size is in its head (px__head checked its bytes are
     * there); only other keys need a walk. */
    size_t ks = kh.t == PX_T_STR ? kk + (size_t)kh.n
                                 : px__skip(map.ptr + pos, map.len - pos);
    if (!ks) return PX_NONE;
    bool hit = kh.t == PX_T_STR && kh.n == len &&
               !memcmp(map.ptr + pos + kk, key, len);
    pos += ks;
    size_t vs = px__skip(map.ptr + pos, map.len - pos);
    if (!vs) return PX_NONE;
    if (hit) return (px_val){map.ptr + pos, vs};
    pos += vs;
  }
  return PX_NONE;
}

static inline px_val px_map_get(px_val map, const char *key) {
  return px_map_getn(map, key, strlen(key));
}

/* The i-th item of an array, PX_NONE when out of range. */
static inline px_val px_array_at(px_val arr, size_t i) {
  px__head_t h;
  size_t pos = px__head(arr.ptr, arr.len, &h);
  if (!pos || h.t != PX_T_ARRAY || i >= h.n) return PX_NONE;
  for (size_t j = 0;; j++) {
    size_t k = px__skip(arr.ptr + pos, arr.len - pos);
    if (!k) return PX_NONE;
    if (j == i) return (px_val){arr.ptr + pos, k};
    pos += k;
  }
}

/* Map fields with a default for missing or mistyped values. */
static inline int64_t px_map_int(px_val map, const char *key, int64_t dflt) {
  int64_t v;
  return px_to_int(px_map_get(map, key), &v) ? v : dflt;
}

static inline double px_map_f64(px_val map, const char *key, double dflt) {
  double v;
  return px_to_f64(px_map_get(map, key), &v) ? v : dflt;
}

static inline px_str px_map_str(px_val map, const char *key, px_str dflt) {
  px_str v;
  return px_to_str(px_map_get(map, key), &v) ? v : dflt;
}

/* ---- MessagePack writer -------------------------------------------------- */

/* Growable (PX_W_INIT, heap, reused after px_w_reset) or fixed
 * (px_w_fixed over the caller's buffer). A write that does not fit sets err
 * and every later write is dropped; check err (or px_w_val's len) once at
 * the end. */
typedef struct {
  uint8_t *buf;
  size_t len, cap;
  bool err, fixed;
} px_w;

#define PX_W_INIT {NULL, 0, 0, false, false}

static inline void px_w_fixed(px_w *w, void *buf, size_t cap) {
  *w = (px_w){(uint8_t *)buf, 0, cap, false, true};
}

static inline void px_w_reset(px_w *w) {
  w->len = 0;
  w->err = false;
}

static inline void px_w_free(px_w *w) {
  if (!w->fixed) free(w->buf);
  *w = (px_w)PX_W_INIT;
}

/* The bytes written, PX_NONE after an error. */
static inline px_val px_w_val(const px_w *w) {
  return w->err ? PX_NONE : (px_val){w->buf, w->len};
}

static inline bool px__w_room(px_w *w, size_t n) {
  if (w->err) return false;
  if (w->cap - w->len >= n) return true;
  if (w->fixed) {
    w->err = true;
    return false;
  }
  size_t c = w->cap ? w->cap : 128;
  while (c - w->len < n) {
    if (c > SIZE_MAX / 2) {
      w->err = true;
      return false;
    }
    c *= 2;
  }
  void *b = realloc(w->buf, c);
  if (!b) {
    w->err = true;
    return false;
  }
  w->buf = b;
  w->cap = c;
  return true;
}

static inline void px__w_put(px_w *w, const void *p, size_t n) {
  if (n && px__w_room(w, n)) {
    memcpy(w->buf + w->len, p, n);
    w->len += n;
  }
}

/* A tag byte followed by `bytes` big-endian bytes of v. */
static inline void px__w_tag(px_w *w, uint8_t tag, uint64_t v, int bytes) {
  if (!px__w_room(w, 1 + (size_t)bytes)) return;
  w->buf[w->len++] = tag;
  for (int i = bytes - 1; i >= 0; i--) w->buf[w->len++] = (uint8_t)(v >> (i * 8));
}

static inline void px_w_nil(px_w *w) { px__w_tag(w, 0xc0, 0, 0); }

static inline void px_w_bool(px_w *w, bool b) {
  px__w_tag(w, b ? 0xc3 : 0xc2, 0, 0);
}

static inline void px_w_uint(px_w *w, uint64_t v) {
  if (v < 0x80) px__w_tag(w, (uint8_t)v, 0, 0);
  else if (v <= UINT8_MAX) px__w_tag(w, 0xcc, v, 1);
  else if (v <= UINT16_MAX) px__w_tag(w, 0xcd, v, 2);
  else if (v <= UINT32_MAX) px__w_tag(w, 0xce, v, 4);
  else px__w_tag(w, 0xcf, v, 8);
}

static inline void px_w_int(px_w *w, int64_t v) {
  if (v >= 0) px_w_uint(w, (uint64_t)v);
  else if (v >= -32) px__w_tag(w, (uint8_t)v, 0, 0);
  else if (v >= INT8_MIN) px__w_tag(w, 0xd0, (uint64_t)v, 1);
  else if (v >= INT16_MIN) px__w_tag(w, 0xd1, (uint64_t)v, 2);
  else if (v >= INT32_MIN) px__w_tag(w, 0xd2, (uint64_t)v, 4);
  else px__w_tag(w, 0xd3, (uint64_t)v, 8);
}

static inline void px_w_f64(px_w *w, double d) {
  uint64_t bits;
  memcpy(&bits, &d, 8);
  px__w_tag(w, 0xcb, bits, 8);
}

/* A length header: the fix form under `fixmax`, else 8/16/32-bit forms
 * starting at tag8 (tag8 == 0 when the type has no 8-bit form). */
static inline void px__w_len(px_w *w, uint8_t fix, size_t fixmax,
                             uint8_t tag8, uint8_t tag16, uint8_t tag32,
                             size_t n) {
  if (n < fixmax) px__w_tag(w, (uint8_t)(fix | n), 0, 0);
  else if (tag8 && n <= UINT8_MAX) px__w_tag(w, tag8, n, 1);
  else if (n <= UINT16_MAX) px__w_tag(w, tag16, n, 2);
  else if ((uint64_t)n <= UINT32_MAX) px__w_tag(w, tag32, n, 4);
  else w->err = true;
}

static inline void px_w_str(px_w *w, const void *p, size_t n) {
  px__w_len(w, 0xa0, 32, 0xd9, 0xda, 0xdb, n);
  px__w_put(w, p, n);
}

static inline void px_w_cstr(px_w *w, const char *s) {
  px_w_str(w, s, strlen(s));
}

static inline void px_w_strv(px_w *w, px_str s) { px_w_str(w, s.ptr, s.len); }

static inline void px_w_bin(px_w *w, const void *p, size_t n) {
  if (n <= UINT8_MAX) px__w_tag(w, 0xc4, n, 1);
  else if (n <= UINT16_MAX) px__w_tag(w, 0xc5, n, 2);
  else px__w_tag(w, 0xc6, n, 4);
  px__w_put(w, p, n);
}

/* Follow with n objects. */
static inline void px_w_array(px_w *w, size_t n) {
  px__w_len(w, 0x90, 16, 0, 0xdc, 0xdd, n);
}

/* Follow with n keys and values, alternately. */
static inline void px_w_map(px_w *w, size_t n) {
  px__w_len(w, 0x80, 16, 0, 0xde, 0xdf, n);
}

static inline void px_w_ext(px_w *w, int8_t type, const void *p, size_t n) {
  switch (n) {
  case 1: px__w_tag(w, 0xd4, (uint8_t)type, 1); break;
  case 2: px__w_tag(w, 0xd5, (uint8_t)type, 1); break;
  case 4: px__w_tag(w, 0xd6, (uint8_t)type, 1); break;
  case 8: px__w_tag(w, 0xd7, (uint8_t)type, 1); break;
  case 16: px__w_tag(w, 0xd8, (uint8_t)type, 1); break;
  default:
    if (n <= UINT8_MAX) px__w_tag(w, 0xc7, n, 1);
    else if (n <= UINT16_MAX) px__w_tag(w, 0xc8, n, 2);
    else px__w_tag(w, 0xc9, n, 4);
    px__w_tag(w, (uint8_t)type, 0, 0);
  }
  px__w_put(w, p, n);
}

/* An atom the node knows (ext type 1); plain strings are the norm. */
static inline void px_w_atom(px_w *w, const char *name) {
  px_w_ext(w, 1, name, strlen(name));
}

/* An already-encoded object, copied as is (nil when absent). */
static inline void px_w_raw(px_w *w, px_val v) {
  if (v.len) px__w_put(w, v.ptr, v.len);
  else px_w_nil(w);
}

/* ---- host imports (module "plexspaces") ---------------------------------- */

#define PX__IMPORT(name)                                                       \
  __attribute__((import_module("plexspaces"), import_name(#name)))

/* Pointers and size_t are i32 on wasm32. */
PX__IMPORT(send) int32_t px__imp_send(const void *, size_t, const void *,
                                      size_t, const void *, size_t);
PX__IMPORT(ask) int32_t px__imp_ask(const void *, size_t, const void *, size_t,
                                    const void *, size_t, int64_t);
PX__IMPORT(reply) int32_t px__imp_reply(const void *, size_t);
PX__IMPORT(self_id) int32_t px__imp_self_id(void);
PX__IMPORT(spawn) int32_t px__imp_spawn(const void *, size_t, const void *,
                                        size_t);
PX__IMPORT(stop) int32_t px__imp_stop(const void *, size_t);
PX__IMPORT(link) int32_t px__imp_link(const void *, size_t);
PX__IMPORT(unlink) int32_t px__imp_unlink(const void *, size_t);
PX__IMPORT(monitor) int64_t px__imp_monitor(const void *, size_t);
PX__IMPORT(demonitor) int32_t px__imp_demonitor(int64_t);
PX__IMPORT(send_after) int64_t px__imp_send_after(int64_t, const void *,
                                                  size_t, const void *,
                                                  size_t);
PX__IMPORT(cancel_timer) int32_t px__imp_cancel_timer(int64_t);
PX__IMPORT(sleep) int32_t px__imp_sleep(int64_t);
PX__IMPORT(log) int32_t px__imp_log(int32_t, const void *, size_t);
PX__IMPORT(now_ms) int64_t px__imp_now_ms(void);
PX__IMPORT(random) int32_t px__imp_random(void *, size_t);
PX__IMPORT(metrics_add) int32_t px__imp_metrics_add(const void *, size_t,
                                                    double);
PX__IMPORT(result_read) int32_t px__imp_result_read(void *, size_t);
PX__IMPORT(kv_get) int32_t px__imp_kv_get(const void *, size_t);
PX__IMPORT(kv_put) int32_t px__imp_kv_put(const void *, size_t, const void *,
                                          size_t, int64_t);
PX__IMPORT(kv_delete) int32_t px__imp_kv_delete(const void *, size_t);
PX__IMPORT(kv_list) int32_t px__imp_kv_list(const void *, size_t);
PX__IMPORT(kv_cas) int32_t px__imp_kv_cas(const void *, size_t, const void *,
                                          size_t, const void *, size_t,
                                          int64_t);
PX__IMPORT(kv_increment) int32_t px__imp_kv_increment(const void *, size_t,
                                                      int64_t, int64_t *);
PX__IMPORT(kv_ttl) int64_t px__imp_kv_ttl(const void *, size_t);
PX__IMPORT(ts_write) int32_t px__imp_ts_write(const void *, size_t, int64_t);
PX__IMPORT(ts_read) int32_t px__imp_ts_read(const void *, size_t, int64_t);
PX__IMPORT(ts_take) int32_t px__imp_ts_take(const void *, size_t, int64_t);
PX__IMPORT(ts_read_all) int32_t px__imp_ts_read_all(const void *, size_t,
                                                    int32_t);
PX__IMPORT(ts_count) int64_t px__imp_ts_count(const void *, size_t);
PX__IMPORT(ts_write_if_absent)
int32_t px__imp_ts_write_if_absent(const void *, size_t, const void *, size_t,
                                   int64_t);
PX__IMPORT(ts_replace) int32_t px__imp_ts_replace(const void *, size_t,
                                                  const void *, size_t,
                                                  int64_t);
PX__IMPORT(http_fetch) int32_t px__imp_http_fetch(const void *, size_t,
                                                  const void *, size_t,
                                                  const void *, size_t,
                                                  const void *, size_t);

/* ---- wrappers ------------------------------------------------------------ */
/* Each returns PX_OK or a negative PX_ERR_*. Functions the ABI documents as
 * "→ result" take a px_buf *out that receives the bytes (out->len set);
 * pass NULL to leave them unread. */

static const uint8_t px__nil_byte[1] = {0xc0};

/* An absent value crosses as nil. */
static inline px_val px__or_nil(px_val v) {
  return v.len ? v : (px_val){px__nil_byte, 1};
}

/* Copies the instance's result of n bytes (n from a "→ result" call). */
static inline int px__fetch(int32_t n, px_buf *out) {
  if (n < 0) return n;
  if (!out) return PX_OK;
  if (!px__buf_reserve(out, (size_t)n ? (size_t)n : 1)) return PX_ERR_INTERNAL;
  int32_t m = px__imp_result_read(out->data, (size_t)n);
  if (m < 0) return m;
  out->len = (size_t)m;
  return PX_OK;
}

/* Copies a result whose length the call did not return (ask's
 * ERR_REMOTE): result_read copies min(len, n) from the start, so read
 * into a doubling buffer until it no longer fills it. */
static inline int px__fetch_unsized(px_buf *out) {
  size_t cap = out->cap > 256 ? out->cap : 256;
  for (;;) {
    if (!px__buf_reserve(out, cap)) return PX_ERR_INTERNAL;
    cap = out->cap;
    int32_t m = px__imp_result_read(out->data, cap);
    if (m < 0) return m;
    if ((size_t)m < cap) {
      out->len = (size_t)m;
      return PX_OK;
    }
    if (cap > SIZE_MAX / 2) return PX_ERR_RESOURCE;
    cap *= 2;
  }
}

static inline int px_result_read(void *buf, size_t len) {
  return px__imp_result_read(buf, len);
}

static inline int px_send(px_str to, px_str type, px_val payload) {
  payload = px__or_nil(payload);
  return px__imp_send(to.ptr, to.len, type.ptr, type.len, payload.ptr,
                      payload.len);
}

/* A call to another actor; its reply lands in out. timeout_ms <= 0 means
 * the host's 5000. On PX_ERR_REMOTE out holds the error value it answered
 * with. */
static inline int px_ask(px_str to, px_str type, px_val payload,
                         int64_t timeout_ms, px_buf *out) {
  payload = px__or_nil(payload);
  int32_t n = px__imp_ask(to.ptr, to.len, type.ptr, type.len, payload.ptr,
                          payload.len, timeout_ms);
  if (n == PX_ERR_REMOTE && out) {
    out->len = 0;
    px__fetch_unsized(out);
    return PX_ERR_REMOTE;
  }
  return px__fetch(n, out);
}

/* The import itself; inside a handler px_reply_begin/px_reply_value are
 * usually handier. */
static inline int px_reply(px_val payload) {
  payload = px__or_nil(payload);
  return px__imp_reply(payload.ptr, payload.len);
}

/* An actor id result as its plain UTF-8 bytes. The ABI calls an actor id a
 * string (raw bytes); should a host send it as a MessagePack string
 * instead, that string's bytes are unwrapped (raw UTF-8 is never exactly
 * one MessagePack str object: its first byte would be a continuation byte,
 * or a 0xd9..0xdb lead byte followed by a length equal to the rest). */
static inline int px__id_result(int rc, px_buf *out) {
  px__head_t h;
  size_t k;
  if (rc || !out || !out->len) return rc;
  k = px__head(out->data, out->len, &h);
  if (k && h.t == PX_T_STR && k + h.n == out->len) {
    memmove(out->data, out->data + k, (size_t)h.n);
    out->len = (size_t)h.n;
  }
  return rc;
}

/* out: this actor's id (px_self() has it without a host call). */
static inline int px_self_id(px_buf *out) {
  return px__id_result(px__fetch(px__imp_self_id(), out), out);
}

/* Starts an actor of this module with that role; args a map or PX_NONE.
 * out: its id. */
static inline int px_spawn(px_str role, px_val args, px_buf *out) {
  return px__id_result(
      px__fetch(px__imp_spawn(role.ptr, role.len, args.ptr, args.len), out),
      out);
}

static inline int px_stop(px_str id) { return px__imp_stop(id.ptr, id.len); }
static inline int px_link(px_str id) { return px__imp_link(id.ptr, id.len); }
static inline int px_unlink(px_str id) {
  return px__imp_unlink(id.ptr, id.len);
}

static inline int px_monitor(px_str id, int64_t *ref) {
  int64_t r = px__imp_monitor(id.ptr, id.len);
  if (r < 0) return (int)r;
  if (ref) *ref = r;
  return PX_OK;
}

static inline int px_demonitor(int64_t ref) { return px__imp_demonitor(ref); }

static inline int px_send_after(int64_t delay_ms, px_str type, px_val payload,
                                int64_t *timer) {
  payload = px__or_nil(payload);
  int64_t r = px__imp_send_after(delay_ms, type.ptr, type.len, payload.ptr,
                                 payload.len);
  if (r < 0) return (int)r;
  if (timer) *timer = r;
  return PX_OK;
}

static inline int px_cancel_timer(int64_t timer) {
  return px__imp_cancel_timer(timer);
}

static inline int px_sleep(int64_t ms) { return px__imp_sleep(ms); }

static inline int px_log(int level, px_str msg) {
  return px__imp_log(level, msg.ptr, msg.len);
}

/* printf-style log, truncated at 1 KiB. */
__attribute__((format(printf, 2, 3))) static inline int
px_logf(int level, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return PX_ERR_INVALID;
  return px__imp_log(level, buf,
                     (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static inline int64_t px_now_ms(void) { return px__imp_now_ms(); }

static inline int px_random(void *buf, size_t len) {
  return px__imp_random(buf, len);
}

static inline int px_metrics_add(px_str name, double delta) {
  return px__imp_metrics_add(name.ptr, name.len, delta);
}

static inline int px_kv_get(px_str key, px_buf *out) {
  return px__fetch(px__imp_kv_get(key.ptr, key.len), out);
}

static inline int px_kv_put(px_str key, px_val value, int64_t ttl_ms) {
  value = px__or_nil(value);
  return px__imp_kv_put(key.ptr, key.len, value.ptr, value.len, ttl_ms);
}

static inline int px_kv_delete(px_str key) {
  return px__imp_kv_delete(key.ptr, key.len);
}

/* out: an array of the live keys with that prefix. */
static inline int px_kv_list(px_str prefix, px_buf *out) {
  return px__fetch(px__imp_kv_list(prefix.ptr, prefix.len), out);
}

/* Writes only if the entry equals expected (PX_NONE: only if absent). */
static inline int px_kv_cas(px_str key, px_val expected, px_val value,
                            int64_t ttl_ms) {
  value = px__or_nil(value);
  return px__imp_kv_cas(key.ptr, key.len, expected.ptr, expected.len,
                        value.ptr, value.len, ttl_ms);
}

static inline int px_kv_increment(px_str key, int64_t delta, int64_t *value) {
  int64_t v = 0;
  int rc = px__imp_kv_increment(key.ptr, key.len, delta, &v);
  if (rc >= 0 && value) *value = v;
  return rc < 0 ? rc : PX_OK;
}

/* ms left, 0 when the key never expires. */
static inline int px_kv_ttl(px_str key, int64_t *ms) {
  int64_t r = px__imp_kv_ttl(key.ptr, key.len);
  if (r < 0) return (int)r;
  if (ms) *ms = r;
  return PX_OK;
}

static inline int px_ts_write(px_val tuple, int64_t ttl_ms) {
  return px__imp_ts_write(tuple.ptr, tuple.len, ttl_ms);
}

/* timeout_ms: 0 tries once, -1 waits forever. out: the tuple. */
static inline int px_ts_read(px_val tmpl, int64_t timeout_ms, px_buf *out) {
  return px__fetch(px__imp_ts_read(tmpl.ptr, tmpl.len, timeout_ms), out);
}

static inline int px_ts_take(px_val tmpl, int64_t timeout_ms, px_buf *out) {
  return px__fetch(px__imp_ts_take(tmpl.ptr, tmpl.len, timeout_ms), out);
}

/* out: an array of at most limit matches (0 = 1000). */
static inline int px_ts_read_all(px_val tmpl, int32_t limit, px_buf *out) {
  return px__fetch(px__imp_ts_read_all(tmpl.ptr, tmpl.len, limit), out);
}

static inline int px_ts_count(px_val tmpl, int64_t *count) {
  int64_t r = px__imp_ts_count(tmpl.ptr, tmpl.len);
  if (r < 0) return (int)r;
  if (count) *count = r;
  return PX_OK;
}

static inline int px_ts_write_if_absent(px_val tmpl, px_val tuple,
                                        int64_t ttl_ms) {
  return px__imp_ts_write_if_absent(tmpl.ptr, tmpl.len, tuple.ptr, tuple.len,
                                    ttl_ms);
}

/* Takes one match and writes tuple atomically; out: the tuple taken. */
static inline int px_ts_replace(px_val tmpl, px_val tuple, int64_t timeout_ms,
                                px_buf *out) {
  return px__fetch(px__imp_ts_replace(tmpl.ptr, tmpl.len, tuple.ptr,
                                      tuple.len, timeout_ms),
                   out);
}

/* A request through a [[service_links]] entry; out: {"status", "body"}. */
static inline int px_http_fetch(px_str link, px_str method, px_str path,
                                px_str body, px_buf *out) {
  return px__fetch(px__imp_http_fetch(link.ptr, link.len, method.ptr,
                                      method.len, path.ptr, path.len,
                                      body.ptr, body.len),
                   out);
}

/* ---- actors -------------------------------------------------------------- */

typedef struct {
  int kind;       /* PX_CALL, PX_CAST or PX_INFO */
  px_str from;    /* the sender's id, empty when not an actor */
  px_str type;    /* the message type */
  px_val payload; /* PX_NONE when the host sent no bytes */
} px_msg;

/* Returns PX_HANDLED, PX_ERROR or PX_STOP (see px_handle in the ABI). The
 * payload is valid only during the call. */
typedef int (*px_handler_fn)(void *state, const px_msg *msg);

typedef struct {
  const char *type; /* NULL ends a route table */
  px_handler_fn fn;
} px_route;

typedef struct {
  px_str role, actor_type, id;
  px_val args; /* a map (an empty one when the child has no args) */
} px_init_info;

typedef struct {
  const char *role;       /* exact match on the init payload's role */
  const char *actor_type; /* NULL: any actor_type of that role */
  size_t state_size;      /* the SDK allocates it zeroed before init */
  /* Optional. Non-zero fails the start (the supervisor sees it). */
  int (*init)(void *state, const px_init_info *info);
  /* Optional: the state as one MessagePack value, and back. encode returns
   * 0 on success; decode returns 0 when it accepts the value. Without them
   * px_get_state reports no state and px_set_state refuses. */
  int (*encode_state)(const void *state, px_w *w);
  int (*decode_state)(void *state, px_val value);
  /* By message type, each ended by {NULL, NULL}; may be NULL. */
  const px_route *calls, *casts, *infos;
  /* Optional: messages no route names. Without other_call an unknown call
   * gets the error reply {"error": "unknown_call"}; unknown casts and infos
   * are dropped. */
  px_handler_fn other_call, other_cast, other_info;
} px_actor_def;

/* Provided by the application, ended by NULL. */
extern const px_actor_def *const px_actors[];

/* The shared reply writer, emptied. Write one value; it is sent as the
 * call's reply when the handler returns. Reused: no allocation per message
 * once it has grown. */
px_w *px_reply_begin(void);

/* Replies with an encoded value right away (e.g. the payload itself). */
int px_reply_value(px_val v);

/* Replies {"error": reason} and returns PX_ERROR, for
 * `return px_reply_error("not_found");`. */
int px_reply_error(const char *reason);

/* px_reply_error(px_status_name(status)). */
int px_reply_status(int status);

/* A second shared writer, emptied, for building payloads to send, ask or
 * store; valid until the next px_scratch(). */
px_w *px_scratch(void);

/* This actor's id as px_init received it. */
px_str px_self(void);

/* ---- implementation: the exports ----------------------------------------- */

#ifdef PLEXSPACES_IMPLEMENTATION

#define PX__EXPORT(name) __attribute__((export_name(#name)))

static struct {
  const px_actor_def *def;
  void *state;
  px_w reply, scratch, saved;
  bool reply_pending, in_call;
  char *id;
  size_t id_len;
  uint8_t *pending; /* a px_set_state that came before px_init */
  size_t pending_len;
} px__g;

PX__EXPORT(px_abi_version) int32_t px_abi_version(void) {
  return PX_ABI_VERSION;
}

PX__EXPORT(px_alloc) void *px_alloc(size_t size) {
  return malloc(size ? size : 1);
}

PX__EXPORT(px_free) void px_free(void *ptr, size_t size) {
  (void)size;
  free(ptr);
}

px_w *px_reply_begin(void) {
  px_w_reset(&px__g.reply);
  px__g.reply_pending = true;
  return &px__g.reply;
}

int px_reply_value(px_val v) {
  px__g.reply_pending = false;
  return px_reply(v);
}

int px_reply_error(const char *reason) {
  px_w *w = px_reply_begin();
  px_w_map(w, 1);
  px_w_str(w, "error", 5);
  px_w_cstr(w, reason);
  return PX_ERROR;
}

int px_reply_status(int status) {
  return px_reply_error(px_status_name(status));
}

px_w *px_scratch(void) {
  px_w_reset(&px__g.scratch);
  return &px__g.scratch;
}

px_str px_self(void) { return (px_str){px__g.id ? px__g.id : "", px__g.id_len}; }

static bool px__is(const char *s, px_str v) { return s && px_str_eq(v, s); }

/* By role (exact), then by actor_type: an entry naming the actor_type
 * beats one that leaves it NULL. When no entry has the role, an entry
 * whose role is the actor_type is taken (a child without a role). */
static const px_actor_def *px__select(px_str role, px_str type) {
  const px_actor_def *any = NULL;
  for (const px_actor_def *const *d = px_actors; *d; d++) {
    if (!px__is((*d)->role, role)) continue;
    if (!(*d)->actor_type) {
      if (!any) any = *d;
    } else if (px__is((*d)->actor_type, type)) {
      return *d;
    }
  }
  if (any) return any;
  for (const px_actor_def *const *d = px_actors; *d; d++)
    if (px__is((*d)->role, type) &&
        (!(*d)->actor_type || px__is((*d)->actor_type, type)))
      return *d;
  return NULL;
}

static void px__drop_actor(void) {
  free(px__g.state);
  free(px__g.id);
  px__g.state = NULL;
  px__g.id = NULL;
  px__g.id_len = 0;
  px__g.def = NULL;
}

static int px__decode_state(const uint8_t *p, size_t n) {
  if (!px__g.def->decode_state) return PX_ERR_NOT_SUPPORTED;
  return px__g.def->decode_state(px__g.state, px_val_of(p, n));
}

PX__EXPORT(px_init) int32_t px_init(const uint8_t *ptr, size_t len) {
  static const uint8_t empty_map[1] = {0x80};
  px_val init = px_val_of(ptr, len);
  if (px_typeof(init) != PX_T_MAP) return PX_ERR_INVALID;
  px_init_info info = {
      .role = px_map_str(init, "role", PX_S("")),
      .actor_type = px_map_str(init, "actor_type", PX_S("")),
      .id = px_map_str(init, "id", PX_S("")),
      .args = px_map_get(init, "args"),
  };
  if (px_typeof(info.args) != PX_T_MAP) info.args = px_val_of(empty_map, 1);
  px__drop_actor();
  const px_actor_def *def = px__select(info.role, info.actor_type);
  if (!def) {
    /* Plain text through the writer: no printf pulled into the module. */
    px_w *w = px_scratch();
    px__w_put(w, "no actor for role \"", 19);
    px__w_put(w, info.role.ptr, info.role.len);
    px__w_put(w, "\", actor_type \"", 15);
    px__w_put(w, info.actor_type.ptr, info.actor_type.len);
    px__w_put(w, "\"", 1);
    if (!w->err) px__imp_log(PX_LOG_ERROR, w->buf, w->len);
    return PX_ERR_NOT_FOUND;
  }
  px__g.state = calloc(1, def->state_size ? def->state_size : 1);
  px__g.id = malloc(info.id.len + 1);
  if (!px__g.state || !px__g.id) {
    px__drop_actor();
    return PX_ERR_INTERNAL;
  }
  memcpy(px__g.id, info.id.ptr, info.id.len);
  px__g.id[info.id.len] = '\0';
  px__g.id_len = info.id.len;
  px__g.def = def;
  int rc = def->init ? def->init(px__g.state, &info) : 0;
  if (rc) {
    px__drop_actor();
    return rc;
  }
  if (px__g.pending) {
    rc = px__decode_state(px__g.pending, px__g.pending_len);
    free(px__g.pending);
    px__g.pending = NULL;
    if (rc) {
      px__drop_actor();
      return rc;
    }
  }
  return 0;
}

PX__EXPORT(px_handle)
int32_t px_handle(int32_t kind, const char *from, size_t from_len,
                  const char *type, size_t type_len, const uint8_t *payload,
                  size_t payload_len) {
  const px_actor_def *def = px__g.def;
  if (!def) return PX_ERROR; /* px_init failed or never ran */
  const px_route *r;
  px_handler_fn fn;
  switch (kind) {
  case PX_CALL: r = def->calls; fn = def->other_call; break;
  case PX_CAST: r = def->casts; fn = def->other_cast; break;
  case PX_INFO: r = def->infos; fn = def->other_info; break;
  default: return PX_ERROR;
  }
  px_str t = {type, type_len};
  for (; r && r->type; r++)
    if (px_str_eq(t, r->type)) {
      fn = r->fn;
      break;
    }
  px__g.reply_pending = false;
  px__g.in_call = kind == PX_CALL;
  int rc;
  if (!fn) {
    rc = kind == PX_CALL ? px_reply_error("unknown_call") : PX_HANDLED;
  } else {
    px_msg m = {kind, {from, from_len}, t,
                px_val_of(payload, payload_len)};
    rc = fn(px__g.state, &m);
  }
  if (px__g.reply_pending && px__g.in_call) {
    if (px__g.reply.err) {
      if (rc == PX_HANDLED) rc = PX_ERROR; /* could not encode the reply */
    } else {
      px__imp_reply(px__g.reply.buf, px__g.reply.len);
    }
  }
  px__g.reply_pending = px__g.in_call = false;
  return rc;
}

PX__EXPORT(px_get_state) int64_t px_get_state(void) {
  const px_actor_def *def = px__g.def;
  if (!def || !def->encode_state) return 0;
  px_w_reset(&px__g.saved);
  if (def->encode_state(px__g.state, &px__g.saved) || px__g.saved.err ||
      !px__g.saved.len)
    return 0;
  return (int64_t)((uint64_t)(uintptr_t)px__g.saved.buf << 32 |
                   (uint64_t)px__g.saved.len);
}

PX__EXPORT(px_set_state) int32_t px_set_state(const uint8_t *ptr, size_t len) {
  if (px__g.def) return px__decode_state(ptr, len);
  /* Before px_init: kept and applied once the role is known. */
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy) return PX_ERR_INTERNAL;
  memcpy(copy, ptr, len);
  free(px__g.pending);
  px__g.pending = copy;
  px__g.pending_len = len;
  return 0;
}

#endif /* PLEXSPACES_IMPLEMENTATION */
#endif /* PLEXSPACES_H */
