/* JSON codec for px_val, on top of jansson.
 *
 * JSON has fewer types than px_val, so three single-key objects carry the
 * rest:
 *   {"$bin":"<base64>"}      a binary (standard alphabet, padded)
 *   {"$atom":"name"}         an atom
 *   {"$map":[[k,v],...]}     a map whose keys are not all plain strings
 * A map is written as a plain object only when every key is a string that
 * is valid UTF-8 without NUL bytes (jansson cannot read NUL in keys), and it
 * is not a one-pair map whose key is one of the three tags (that would read
 * back as a tag); every other map uses "$map". Doubles are written with the
 * fewest digits that still read back exactly, and always with a '.' or an
 * exponent so they read back as doubles; integers stay integers.
 *
 * Allocation failures give PX_ENOMEM, except that jansson's lexer reports
 * a failed allocation inside a token as a syntax error, so those few come
 * back as PX_EDECODE; either way nothing leaks and nothing aborts.
 *
 * Both directions recurse once per nesting level, up to PX__MAX_DEPTH;
 * jansson's parser itself recurses up to its own limit of 2048 levels, so
 * decode untrusted JSON on a thread or coroutine with a generous stack. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/val_internal.h"
#include "plexspaces/error.h"

/* ---- base64 ------------------------------------------------------------- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t b64_len(size_t n) { return (n + 2) / 3 * 4; }

/* Writes the padded base64 of `n` bytes to `dst` (b64_len(n) bytes). */
static void b64_encode(const unsigned char *src, size_t n, char *dst) {
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t x =
        (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
    *dst++ = b64_alphabet[x >> 18];
    *dst++ = b64_alphabet[(x >> 12) & 63];
    *dst++ = b64_alphabet[(x >> 6) & 63];
    *dst++ = b64_alphabet[x & 63];
  }
  if (i < n) {
    uint32_t x = (uint32_t)src[i] << 16;
    if (i + 1 < n) x |= (uint32_t)src[i + 1] << 8;
    *dst++ = b64_alphabet[x >> 18];
    *dst++ = b64_alphabet[(x >> 12) & 63];
    *dst++ = i + 1 < n ? b64_alphabet[(x >> 6) & 63] : '=';
    *dst++ = '=';
  }
}

static int b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

/* Decodes canonical padded base64 into `dst` (room for n / 4 * 3 bytes) and
 * sets *out_n. Rejects bad characters, misplaced padding and non-zero
 * leftover bits, so every binary has exactly one accepted spelling. */
static bool b64_decode(const char *src, size_t n, unsigned char *dst,
                       size_t *out_n) {
  if (n % 4) return false;
  size_t o = 0;
  for (size_t i = 0; i < n; i += 4) {
    const unsigned char *q = (const unsigned char *)src + i;
    bool last = i + 4 == n;
    int pad = last ? (q[3] == '=') + (q[2] == '=' && q[3] == '=') : 0;
    int v[4] = {0, 0, 0, 0};
    for (int k = 0; k < 4 - pad; k++)
      if ((v[k] = b64_value(q[k])) < 0) return false;
    uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
                 (uint32_t)v[2] << 6 | (uint32_t)v[3];
    if ((pad == 1 && (x & 0xff)) || (pad == 2 && (x & 0xffff))) return false;
    dst[o++] = (unsigned char)(x >> 16);
    if (pad < 2) dst[o++] = (unsigned char)(x >> 8);
    if (pad < 1) dst[o++] = (unsigned char)x;
  }
  *out_n = o;
  return true;
}

/* ---- UTF-8 -------------------------------------------------------------- */

/* Reports whether `s` is well-formed UTF-8: no overlong forms, no
 * surrogates, nothing above U+10FFFF (the rules jansson applies). */
static bool utf8_valid(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  for (size_t i = 0; i < n;) {
    unsigned char c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return false;
      cp = cp << 6 | (s[i + k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
      return false;
    i += len;
  }
  return true;
}

/* ---- encoding ----------------------------------------------------------- */

typedef struct enc {
  int precision; /* digits every double so far needs to read back exactly */
  bool any_double;
} enc;

static bool reads_back(double d, int p) {
  char tmp[40];
  snprintf(tmp, sizeof tmp, "%.*g", p, d);
  return strtod(tmp, NULL) == d;
}

/* Raises the dump precision until `d` reads back exactly. */
static void note_double(enc *e, double d) {
  e->any_double = true;
  while (e->precision < 17 && !reads_back(d, e->precision)) e->precision++;
}

/* Rounding to more digits is never farther from the value, yet the interval
 * that reads back can be lopsided at powers of two, so the final precision
 * is checked once more against every double. */
static bool doubles_read_back(px_val v, int p) {
  if (v.type == PX_T_DOUBLE) return reads_back(v.u.d, p);
  bool is_map = v.type == PX_T_MAP;
  if (!is_map && v.type != PX_T_ARRAY) return true;
  for (size_t i = 0; i < px_len(v); i++) {
    if (!doubles_read_back(is_map ? px_map_key_at(v, i) : px_at(v, i), p))
      return false;
    if (is_map && !doubles_read_back(px_map_val_at(v, i), p)) return false;
  }
  return true;
}

static int to_json(enc *e, px_val v, int depth, json_t **out);

static int json_str(const char *s, size_t n, json_t **out) {
  if (!utf8_valid(s, n)) return PX_EENCODE;
  *out = json_stringn_nocheck(s, n);
  return *out ? 0 : PX_ENOMEM;
}

/* Wraps `inner` (taking ownership) in the one-key object {tag: inner}. */
static int tagged(const char *tag, json_t *inner, json_t **out) {
  json_t *o = json_object();
  if (!o) {
    json_decref(inner);
    return PX_ENOMEM;
  }
  /* set_new consumes `inner` even when it fails. */
  if (json_object_set_new_nocheck(o, tag, inner) != 0) {
    json_decref(o);
    return PX_ENOMEM;
  }
  *out = o;
  return 0;
}

static int bin_to_json(px_val v, json_t **out) {
  size_t n = px_str_len(v);
  char *b = malloc(b64_len(n) + 1);
  if (!b) return PX_ENOMEM;
  b64_encode((const unsigned char *)px_str_ptr(v), n, b);
  json_t *s = json_stringn_nocheck(b, b64_len(n));
  free(b);
  if (!s) return PX_ENOMEM;
  return tagged("$bin", s, out);
}

static bool is_tag(const char *s, size_t n) {
  return (n == 4 && memcmp(s, "$bin", 4) == 0) ||
         (n == 5 && memcmp(s, "$atom", 5) == 0) ||
         (n == 4 && memcmp(s, "$map", 4) == 0);
}

/* Reports whether the map can be a plain JSON object. */
static bool plain_object(px_val m) {
  size_t n = px_len(m);
  for (size_t i = 0; i < n; i++) {
    px_val k = px_map_key_at(m, i);
    if (k.type != PX_T_STR) return false;
    const char *s = px_str_ptr(k);
    size_t len = px_str_len(k);
    if (memchr(s, 0, len) || !utf8_valid(s, len)) return false;
    if (n == 1 && is_tag(s, len)) return false;
  }
  return true;
}

static int map_to_json(enc *e, px_val m, int depth, json_t **out) {
  size_t n = px_len(m);
  bool plain = plain_object(m);
  json_t *c = plain ? json_object() : json_array();
  if (!c) return PX_ENOMEM;
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    json_t *jk = NULL, *jv = NULL;
    px_val k = px_map_key_at(m, i);
    if (!plain) rc = to_json(e, k, depth + 1, &jk);
    if (rc == 0) rc = to_json(e, px_map_val_at(m, i), depth + 1, &jv);
    if (rc) {
      json_decref(jk);
      break;
    }
    if (plain) {
      if (json_object_setn_new_nocheck(c, px_str_ptr(k), px_str_len(k), jv))
        rc = PX_ENOMEM;
      continue;
    }
    json_t *pair = json_array();
    if (!pair) {
      json_decref(jk);
      json_decref(jv);
      rc = PX_ENOMEM;
      break;
    }
    /* The *_new calls consume their argument even when they fail, so all
     * three run, in order, and any failure is reported once. */
    int bad = json_array_append_new(pair, jk);
    bad |= json_array_append_new(pair, jv);
    bad |= json_array_append_new(c, pair);
    if (bad) rc = PX_ENOMEM;
  }
  if (rc == 0 && !plain) return tagged("$map", c, out);
  if (rc) {
    json_decref(c);
    return rc;
  }
  *out = c;
  return 0;
}

static int to_json(enc *e, px_val v, int depth, json_t **out) {
  json_t *j = NULL;
  switch ((px_type)v.type) {
  case PX_T_NIL:
    j = json_null();
    break;
  case PX_T_BOOL:
    j = json_boolean(v.u.b);
    break;
  case PX_T_INT:
    j = json_integer(v.u.i);
    break;
  case PX_T_DOUBLE:
    if (!isfinite(v.u.d)) return PX_EENCODE;
    note_double(e, v.u.d);
    j = json_real(v.u.d);
    break;
  case PX_T_ATOM: {
    if (px_atom_len(v.u.a) > PX__ATOM_MAX_LEN) return PX_EENCODE;
    int rc = json_str(px_atom_name(v.u.a), px_atom_len(v.u.a), &j);
    return rc ? rc : tagged("$atom", j, out);
  }
  case PX_T_STR:
    return json_str(px_str_ptr(v), px_str_len(v), out);
  case PX_T_BIN:
    return bin_to_json(v, out);
  case PX_T_ARRAY: {
    if (depth > PX__MAX_DEPTH) return PX_EENCODE;
    if (!(j = json_array())) return PX_ENOMEM;
    for (size_t i = 0; i < px_len(v); i++) {
      json_t *item;
      int rc = to_json(e, px_at(v, i), depth + 1, &item);
      if (rc == 0 && json_array_append_new(j, item)) rc = PX_ENOMEM;
      if (rc) {
        json_decref(j);
        return rc;
      }
    }
    break;
  }
  case PX_T_MAP:
    if (depth > PX__MAX_DEPTH) return PX_EENCODE;
    return map_to_json(e, v, depth, out);
  default:
    return PX_EENCODE;
  }
  if (!j) return PX_ENOMEM;
  *out = j;
  return 0;
}

typedef struct dump {
  char *p;
  size_t len, cap;
} dump;

static int dump_cb(const char *buf, size_t size, void *data) {
  dump *d = data;
  if (size >= d->cap - d->len) {
    size_t cap = d->cap ? d->cap : 64;
    while (size >= cap - d->len) cap *= 2;
    char *p = realloc(d->p, cap);
    if (!p) return -1;
    d->p = p;
    d->cap = cap;
  }
  memcpy(d->p + d->len, buf, size);
  d->len += size;
  return 0;
}

int px_json_encode(px_val v, char **out, size_t *out_len) {
  enc e = {1, false};
  json_t *root;
  int rc = to_json(&e, v, 1, &root);
  if (rc) return rc;
  if (e.any_double && !doubles_read_back(v, e.precision)) e.precision = 17;
  dump d = {NULL, 0, 0};
  size_t flags = JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER |
                 JSON_REAL_PRECISION(e.precision);
  rc = json_dump_callback(root, dump_cb, &d, flags) ? PX_ENOMEM : 0;
  json_decref(root);
  /* A NUL after the text lets callers print it; it is not counted. */
  if (rc == 0 && dump_cb("", 1, &d)) rc = PX_ENOMEM;
  if (rc) {
    free(d.p);
    return rc;
  }
  *out = d.p;
  *out_len = d.len - 1;
  return 0;
}

/* ---- decoding ----------------------------------------------------------- */

typedef struct errs {
  char *buf;
  size_t cap;
  bool no_new_atoms; /* untrusted input: $atom names existing atoms only */
} errs;

static int fail(errs *er, int rc, const char *msg) {
  if (er->buf && er->cap) snprintf(er->buf, er->cap, "%s", msg);
  return rc;
}

static int from_json(errs *er, json_t *j, int depth, px_val *out);

static int tagged_from_json(errs *er, const char *tag, json_t *inner,
                            int depth, px_val *out) {
  if (tag[1] == 'm') { /* "$map" */
    if (!json_is_array(inner))
      return fail(er, PX_EDECODE, "$map needs an array of [key, value]");
    size_t n = json_array_size(inner);
    int rc = px__val_try_map(n, out);
    if (rc) return fail(er, rc, "out of memory");
    for (size_t i = 0; i < n && rc == 0; i++) {
      json_t *pair = json_array_get(inner, i);
      px_val k, v;
      if (!json_is_array(pair) || json_array_size(pair) != 2) {
        rc = fail(er, PX_EDECODE, "$map entries must be [key, value]");
        break;
      }
      rc = from_json(er, json_array_get(pair, 0), depth + 1, &k);
      if (rc) break;
      rc = from_json(er, json_array_get(pair, 1), depth + 1, &v);
      if (rc) {
        px_val_release(k);
        break;
      }
      rc = px__val_try_put_new(out, k, v);
      if (rc == PX_EEXIST) rc = fail(er, PX_EDECODE, "duplicate key in $map");
      if (rc == PX_ENOMEM) fail(er, rc, "out of memory");
    }
    if (rc) px_val_release(*out);
    return rc;
  }
  if (!json_is_string(inner))
    return fail(er, PX_EDECODE, "$bin and $atom need a string");
  const char *s = json_string_value(inner);
  size_t n = json_string_length(inner);
  if (tag[1] == 'a') { /* "$atom" */
    if (n > PX__ATOM_MAX_LEN)
      return fail(er, PX_EDECODE, "$atom name longer than 255 bytes");
    px_atom a = er->no_new_atoms ? px_atom_find(s, n) : px_atom_ofn(s, n);
    if (!a) return fail(er, PX_EDECODE, "$atom names an atom this node does "
                        "not know (untrusted input may not create atoms)");
    *out = px_atomv(a);
    return 0;
  }
  unsigned char *b = malloc(n / 4 * 3 + 1);
  if (!b) return fail(er, PX_ENOMEM, "out of memory");
  size_t bn;
  int rc = b64_decode(s, n, b, &bn) ? px__val_try_bytes(PX_T_BIN, b, bn, out)
                                    : PX_EDECODE;
  free(b);
  if (rc == PX_EDECODE) fail(er, rc, "$bin value is not canonical base64");
  if (rc == PX_ENOMEM) fail(er, rc, "out of memory");
  return rc;
}

static int object_from_json(errs *er, json_t *j, int depth, px_val *out) {
  const char *key;
  size_t key_len;
  json_t *value;
  if (json_object_size(j) == 1) {
    json_object_keylen_foreach(j, key, key_len, value) {
      if (is_tag(key, key_len))
        return tagged_from_json(er, key, value, depth, out);
    }
  }
  int rc = px__val_try_map(json_object_size(j), out);
  if (rc) return fail(er, rc, "out of memory");
  json_object_keylen_foreach(j, key, key_len, value) {
    px_val k, v;
    rc = px__val_try_bytes(PX_T_STR, key, key_len, &k);
    if (rc) {
      fail(er, rc, "out of memory");
      break;
    }
    rc = from_json(er, value, depth + 1, &v);
    if (rc) {
      px_val_release(k);
      break;
    }
    /* jansson has already rejected duplicate keys. */
    rc = px__val_try_put_new(out, k, v);
    if (rc) {
      rc = fail(er, rc == PX_EEXIST ? PX_EDECODE : rc, "cannot build map");
      break;
    }
  }
  if (rc) px_val_release(*out);
  return rc;
}

static int from_json(errs *er, json_t *j, int depth, px_val *out) {
  int rc;
  switch (json_typeof(j)) {
  case JSON_NULL:
    *out = px_nil();
    return 0;
  case JSON_TRUE:
  case JSON_FALSE:
    *out = px_bool(json_is_true(j));
    return 0;
  case JSON_INTEGER:
    *out = px_int((int64_t)json_integer_value(j));
    return 0;
  case JSON_REAL:
    *out = px_double(json_real_value(j));
    return 0;
  case JSON_STRING:
    rc = px__val_try_bytes(PX_T_STR, json_string_value(j),
                           json_string_length(j), out);
    return rc ? fail(er, rc, "out of memory") : 0;
  case JSON_ARRAY:
  case JSON_OBJECT:
    break;
  }
  if (depth > PX__MAX_DEPTH)
    return fail(er, PX_EDECODE, "nesting deeper than 512 levels");
  if (json_is_object(j)) return object_from_json(er, j, depth, out);
  size_t n = json_array_size(j);
  rc = px__val_try_array(n, out);
  if (rc) return fail(er, rc, "out of memory");
  for (size_t i = 0; i < n; i++) {
    px_val item;
    rc = from_json(er, json_array_get(j, i), depth + 1, &item);
    if (rc == 0) rc = px__val_try_push(out, item);
    if (rc) {
      if (rc == PX_ENOMEM) fail(er, rc, "out of memory");
      px_val_release(*out);
      return rc;
    }
  }
  return 0;
}

static int decode(const char *text, size_t len, px_val *out, char *errbuf,
                  size_t errcap, bool no_new_atoms) {
  errs er = {errbuf, errcap, no_new_atoms};
  if (errbuf && errcap) errbuf[0] = 0;
  if (!text) return fail(&er, PX_EINVAL, "no input");
  json_error_t err;
  json_t *root = json_loadb(text, len,
                            JSON_DECODE_ANY | JSON_ALLOW_NUL |
                                JSON_REJECT_DUPLICATES,
                            &err);
  if (!root) {
    if (errbuf && errcap)
      snprintf(errbuf, errcap, "line %d column %d: %s", err.line, err.column,
               err.text);
    /* jansson reports most allocation failures with their own code, but
     * one made before parsing starts leaves the error empty. */
    bool oom = json_error_code(&err) == json_error_out_of_memory ||
               err.text[0] == 0;
    if (oom && errbuf && errcap) snprintf(errbuf, errcap, "out of memory");
    return oom ? PX_ENOMEM : PX_EDECODE;
  }
  px_val v;
  int rc = from_json(&er, root, 1, &v);
  json_decref(root);
  if (rc == 0) *out = v;
  return rc;
}

int px_json_decode(const char *text, size_t len, px_val *out, char *errbuf,
                   size_t errcap) {
  return decode(text, len, out, errbuf, errcap, false);
}

int px_json_decode_untrusted(const char *text, size_t len, px_val *out,
                             char *errbuf, size_t errcap) {
  return decode(text, len, out, errbuf, errcap, true);
}
