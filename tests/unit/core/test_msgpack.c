/* Tests for the MessagePack codec: exact encodings, round trips of every
 * type and size class, interoperability with msgpack-c, and rejection of
 * malformed input. Every test ends with a check that no value is left
 * alive. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/val_internal.h"
#include "plexspaces/error.h"
#include "plexspaces/val.h"

static void no_leaks(void) {
  long live = px__val_live_objects();
  if (live > 0) {
    cr_log_error("%ld value(s) still alive at the end of the test", live);
    abort();
  }
}

TestSuite(msgpack, .fini = no_leaks);

/* Encodes `v`, checks the decoded copy is equal, and releases both. */
static void round_trip(px_val v) {
  char *buf;
  size_t n;
  px_val back;
  cr_assert_eq(px_msgpack_encode(v, &buf, &n), 0);
  cr_assert_eq(px_msgpack_decode(buf, n, &back), 0);
  char text[256];
  px_val_format(v, text, sizeof text);
  cr_assert(px_val_equal(v, back), "round trip changed %s", text);
  cr_assert_eq(px_typeof(back), px_typeof(v));
  free(buf);
  px_val_release(back);
  px_val_release(v);
}

/* Checks that `v` encodes to exactly the `n` bytes `want`; releases v. */
static void encodes_to(px_val v, const char *want, size_t n) {
  char *buf;
  size_t len;
  cr_assert_eq(px_msgpack_encode(v, &buf, &len), 0);
  cr_assert_eq(len, n, "length %zu, want %zu", len, n);
  cr_assert_eq(memcmp(buf, want, n), 0);
  free(buf);
  px_val_release(v);
}

static int decode_bytes(const char *data, size_t n) {
  px_val v;
  int rc = px_msgpack_decode(data, n, &v);
  if (rc == 0) px_val_release(v);
  return rc;
}

#define BYTES(s) s, sizeof(s) - 1

/* ---- exact encodings ---------------------------------------------------- */

Test(msgpack, encodes_scalars_compactly) {
  encodes_to(px_nil(), BYTES("\xc0"));
  encodes_to(px_bool(false), BYTES("\xc2"));
  encodes_to(px_bool(true), BYTES("\xc3"));
  encodes_to(px_int(1), BYTES("\x01"));
  encodes_to(px_int(-1), BYTES("\xff"));
  encodes_to(px_int(200), BYTES("\xcc\xc8"));
  encodes_to(px_int(-200), BYTES("\xd1\xff\x38"));
  encodes_to(px_int(INT64_MIN), BYTES("\xd3\x80\0\0\0\0\0\0\0"));
  encodes_to(px_double(1.0), BYTES("\xcb\x3f\xf0\0\0\0\0\0\0"));
  encodes_to(px_double(-0.0), BYTES("\xcb\x80\0\0\0\0\0\0\0"));
}

Test(msgpack, encodes_atoms_as_ext_type_1) {
  encodes_to(px_atom_val("ok"), BYTES("\xd5\x01ok"));
  encodes_to(px_atom_val("abc"), BYTES("\xc7\x03\x01" "abc"));
  encodes_to(px_atom_val(""), BYTES("\xc7\x00\x01"));
}

Test(msgpack, encodes_strings_binaries_and_containers) {
  encodes_to(px_str("a"), BYTES("\xa1" "a"));
  encodes_to(px_bin("\0", 1), BYTES("\xc4\x01\0"));
  encodes_to(px_arr(2, px_int(1), px_int(2)), BYTES("\x92\x01\x02"));
  encodes_to(px_map(1, px_str("a"), px_int(1)), BYTES("\x81\xa1" "a\x01"));
  encodes_to(px_arr(0), BYTES("\x90"));
  encodes_to(px_map(0), BYTES("\x80"));
}

/* ---- round trips -------------------------------------------------------- */

Test(msgpack, round_trips_int_size_classes) {
  static const int64_t v[] = {0,
                              1,
                              127,
                              128,
                              255,
                              256,
                              65535,
                              65536,
                              4294967295LL,
                              4294967296LL,
                              INT64_MAX,
                              -1,
                              -32,
                              -33,
                              -128,
                              -129,
                              -32768,
                              -32769,
                              INT32_MIN,
                              (int64_t)INT32_MIN - 1,
                              INT64_MIN};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) round_trip(px_int(v[i]));
}

Test(msgpack, round_trips_doubles_bit_for_bit) {
  static const double v[] = {0.0,     -0.0,     1.0,      -1.5,    0.1,
                             DBL_MIN, DBL_MAX,  5e-324,   INFINITY, -INFINITY};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    char *buf;
    size_t n;
    px_val back;
    cr_assert_eq(px_msgpack_encode(px_double(v[i]), &buf, &n), 0);
    cr_assert_eq(px_msgpack_decode(buf, n, &back), 0);
    cr_assert_eq(memcmp(&back.u.d, &v[i], sizeof(double)), 0, "%g", v[i]);
    free(buf);
  }
  round_trip(px_double(NAN));
}

Test(msgpack, round_trips_scalars_and_atoms) {
  round_trip(px_nil());
  round_trip(px_bool(true));
  round_trip(px_bool(false));
  round_trip(px_atom_val("ok"));
  round_trip(px_atom_val(""));
  char name[PX__ATOM_MAX_LEN + 1];
  static const size_t lens[] = {1, 2, 3, 4, 8, 16, 17, PX__ATOM_MAX_LEN};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    memset(name, 'a' + (int)i, lens[i]);
    round_trip(px_atomv(px_atom_ofn(name, lens[i])));
  }
}

Test(msgpack, round_trips_string_and_binary_size_classes) {
  static const size_t lens[] = {0, 1, 31, 32, 255, 256, 65535, 65536, 70000};
  char *buf = malloc(70000);
  for (size_t i = 0; i < 70000; i++) buf[i] = (char)(i * 7);
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    round_trip(px_strn(buf, lens[i]));
    round_trip(px_bin(buf, lens[i]));
  }
  free(buf);
}

Test(msgpack, round_trips_embedded_nul) {
  round_trip(px_strn("a\0b\0", 4));
  round_trip(px_bin("\0\0\0", 3));
}

Test(msgpack, round_trips_container_size_classes) {
  static const size_t lens[] = {0, 1, 15, 16, 65535, 65536};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    px_val a = px_array_new(0), m = px_map_new(0);
    for (size_t k = 0; k < lens[i]; k++) {
      px_array_push(&a, px_int((int64_t)k));
      px_map_put(&m, px_int((int64_t)k), px_bool(k % 2));
    }
    round_trip(a);
    round_trip(m);
  }
}

Test(msgpack, round_trips_nested_values_with_any_keys) {
  px_val inner = px_map(2, px_arr(1, px_int(1)), px_str("array key"),
                        px_double(-0.0), px_bin("\0", 1));
  round_trip(px_map(4, px_atom_val("k"), inner, px_nil(), px_arr(0),
                    px_bin("b", 1), px_map(0), px_str("s"),
                    px_arr(2, px_arr(0), px_arr(1, px_map(0)))));
}

Test(msgpack, decodes_512_levels) {
  char buf[PX__MAX_DEPTH + 1];
  memset(buf, 0x91, PX__MAX_DEPTH); /* fixarray of one item */
  buf[PX__MAX_DEPTH] = 0x01;
  px_val v;
  cr_assert_eq(px_msgpack_decode(buf, sizeof buf, &v), 0);
  px_val x = v;
  for (int i = 0; i < PX__MAX_DEPTH; i++) x = px_at(x, 0);
  cr_assert_eq(x.u.i, 1);
  round_trip(v);
}

Test(msgpack, rejects_513_levels) {
  char buf[PX__MAX_DEPTH + 2];
  memset(buf, 0x91, PX__MAX_DEPTH + 1);
  buf[PX__MAX_DEPTH + 1] = 0x01;
  cr_assert_eq(decode_bytes(buf, sizeof buf), PX_EDECODE);
  buf[PX__MAX_DEPTH] = (char)0x90; /* an empty array is a level too */
  cr_assert_eq(decode_bytes(buf, PX__MAX_DEPTH + 1), PX_EDECODE);
}

Test(msgpack, refuses_to_encode_513_levels) {
  px_val v = px_int(1);
  for (int i = 0; i < PX__MAX_DEPTH + 1; i++) v = px_arr(1, v);
  char *buf = NULL;
  size_t n;
  cr_assert_eq(px_msgpack_encode(v, &buf, &n), PX_EENCODE);
  cr_assert_null(buf);
  px_val_release(v);
}

Test(msgpack, refuses_to_encode_overlong_atom) {
  char name[PX__ATOM_MAX_LEN + 1];
  memset(name, 'x', sizeof name);
  char *buf;
  size_t n;
  px_val v = px_arr(1, px_atomv(px_atom_ofn(name, sizeof name)));
  cr_assert_eq(px_msgpack_encode(v, &buf, &n), PX_EENCODE);
  px_val_release(v);
}

/* ---- interoperability with msgpack-c ------------------------------------ */

Test(msgpack, decodes_what_msgpack_c_packs) {
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_array(&pk, 7);
  msgpack_pack_float(&pk, 1.5f);
  msgpack_pack_uint64(&pk, 300);
  msgpack_pack_int8(&pk, -5);
  msgpack_pack_v4raw(&pk, 2); /* old-spec raw is a str */
  msgpack_pack_v4raw_body(&pk, "hi", 2);
  msgpack_pack_map(&pk, 1);
  msgpack_pack_true(&pk);
  msgpack_pack_nil(&pk);
  msgpack_pack_ext(&pk, 4, 1);
  msgpack_pack_ext_body(&pk, "atom", 4);
  msgpack_pack_bin(&pk, 0);
  px_val v;
  cr_assert_eq(px_msgpack_decode(sb.data, sb.size, &v), 0);
  cr_assert_eq(px_at(v, 0).u.d, 1.5);
  cr_assert_eq(px_typeof(px_at(v, 0)), PX_T_DOUBLE);
  cr_assert_eq(px_at(v, 1).u.i, 300);
  cr_assert_eq(px_at(v, 2).u.i, -5);
  cr_assert_str_eq(px_str_ptr(px_at(v, 3)), "hi");
  cr_assert(px_is_nil(px_get(px_at(v, 4), px_bool(true))));
  cr_assert_eq(px_len(px_at(v, 4)), 1);
  cr_assert(px_is_atom(px_at(v, 5), px_atom_of("atom")));
  cr_assert_eq(px_typeof(px_at(v, 6)), PX_T_BIN);
  px_val_release(v);
  msgpack_sbuffer_destroy(&sb);
}

Test(msgpack, msgpack_c_reads_what_we_encode) {
  px_val v = px_arr(5, px_int(-70000), px_str("text"), px_bin("\0\1", 2),
                    px_atom_val("tag"), px_map(1, px_int(1), px_double(2.5)));
  char *buf;
  size_t n;
  cr_assert_eq(px_msgpack_encode(v, &buf, &n), 0);
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  cr_assert_eq(msgpack_unpack_next(&u, buf, n, &off), MSGPACK_UNPACK_SUCCESS);
  cr_assert_eq(off, n);
  msgpack_object o = u.data;
  cr_assert_eq(o.type, MSGPACK_OBJECT_ARRAY);
  cr_assert_eq(o.via.array.size, 5);
  msgpack_object *it = o.via.array.ptr;
  cr_assert_eq(it[0].type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
  cr_assert_eq(it[0].via.i64, -70000);
  cr_assert_eq(it[1].type, MSGPACK_OBJECT_STR);
  cr_assert_eq(it[1].via.str.size, 4);
  cr_assert_eq(it[2].type, MSGPACK_OBJECT_BIN);
  cr_assert_eq(it[3].type, MSGPACK_OBJECT_EXT);
  cr_assert_eq(it[3].via.ext.type, 1);
  cr_assert_eq(memcmp(it[3].via.ext.ptr, "tag", 3), 0);
  cr_assert_eq(it[4].type, MSGPACK_OBJECT_MAP);
  cr_assert_eq(it[4].via.map.ptr[0].val.type, MSGPACK_OBJECT_FLOAT64);
  msgpack_unpacked_destroy(&u);
  free(buf);
  px_val_release(v);
}

/* ---- malformed input ---------------------------------------------------- */

Test(msgpack, rejects_empty_and_null_input) {
  px_val v;
  cr_assert_eq(px_msgpack_decode("", 0, &v), PX_EDECODE);
  cr_assert_eq(px_msgpack_decode(NULL, 0, &v), PX_EDECODE);
}

Test(msgpack, rejects_trailing_bytes) {
  cr_assert_eq(decode_bytes(BYTES("\x01\x02")), PX_EDECODE);
  cr_assert_eq(decode_bytes(BYTES("\x91\x01\xc0")), PX_EDECODE);
  cr_assert_eq(decode_bytes(BYTES("\xa1" "ab")), PX_EDECODE);
}

Test(msgpack, rejects_every_truncation) {
  px_val v = px_map(3, px_str("key"), px_arr(2, px_int(70000), px_double(1)),
                    px_atom_val("a"), px_bin("xyz", 3), px_int(-1000),
                    px_map(1, px_nil(), px_strn("0123456789abcdef0123", 20)));
  char *buf;
  size_t n;
  cr_assert_eq(px_msgpack_encode(v, &buf, &n), 0);
  for (size_t len = 0; len < n; len++)
    cr_assert_eq(decode_bytes(buf, len), PX_EDECODE, "prefix %zu", len);
  cr_assert_eq(decode_bytes(buf, n), 0);
  free(buf);
  px_val_release(v);
}

Test(msgpack, rejects_reserved_byte) {
  cr_assert_eq(decode_bytes(BYTES("\xc1")), PX_EDECODE);
  cr_assert_eq(decode_bytes(BYTES("\x91\xc1")), PX_EDECODE);
}

Test(msgpack, rejects_ext_types_other_than_atom) {
  cr_assert_eq(decode_bytes(BYTES("\xd4\x02x")), PX_EDECODE);
  /* The timestamp extension, type -1. */
  cr_assert_eq(decode_bytes(BYTES("\xd6\xff\0\0\0\0")), PX_EDECODE);
  cr_assert_eq(decode_bytes(BYTES("\xc7\x01\x00x")), PX_EDECODE);
  cr_assert_eq(decode_bytes(BYTES("\xd4\x01x")), 0);
}

Test(msgpack, rejects_overlong_atom) {
  /* ext16, length 256, type 1, then the name. */
  char in[4 + 256] = {(char)0xc8, 0x01, 0x00, 0x01};
  memset(in + 4, 'n', 256);
  cr_assert_eq(decode_bytes(in, sizeof in), PX_EDECODE);
  in[2] = (char)0xff; /* length 511 with 256 bytes: truncated */
  cr_assert_eq(decode_bytes(in, sizeof in), PX_EDECODE);
}

Test(msgpack, rejects_uint64_above_int64_max) {
  cr_assert_eq(decode_bytes(BYTES("\xcf\x80\0\0\0\0\0\0\0")), PX_EDECODE);
  cr_assert_eq(decode_bytes(BYTES("\xcf\x7f\xff\xff\xff\xff\xff\xff\xff")), 0);
}

Test(msgpack, rejects_duplicate_map_keys) {
  cr_assert_eq(decode_bytes(BYTES("\x82\xa1k\x01\xa1k\x02")), PX_EDECODE);
  cr_assert_eq(decode_bytes(BYTES("\x82\x01\x01\x01\x02")), PX_EDECODE);
  /* Typed keys: int 1 and double 1.0 are different keys. */
  cr_assert_eq(
      decode_bytes(BYTES("\x82\x01\x01\xcb\x3f\xf0\0\0\0\0\0\0\x02")), 0);
}

Test(msgpack, rejects_sizes_larger_than_the_input) {
  cr_assert_eq(decode_bytes(BYTES("\xdd\xff\xff\xff\xff")), PX_EDECODE);
  cr_assert_eq(decode_bytes(BYTES("\xdf\xff\xff\xff\xff\x01")), PX_EDECODE);
  cr_assert_eq(decode_bytes(BYTES("\xdb\xff\xff\xff\xff")), PX_EDECODE);
  cr_assert_eq(decode_bytes(BYTES("\xc6\xff\xff\xff\xff" "ab")), PX_EDECODE);
  cr_assert_eq(decode_bytes(BYTES("\xc9\xff\xff\xff\xff\x01")), PX_EDECODE);
  /* A map of two pairs needs at least four more bytes. */
  cr_assert_eq(decode_bytes(BYTES("\x82\x01\x02\x03")), PX_EDECODE);
}

Test(msgpack, nested_size_claims_do_not_amplify_memory) {
  /* 512 nested array32 headers, each claiming as many items as the rest of
   * the input could hold, must fail fast without giant allocations. */
  enum { LEVELS = PX__MAX_DEPTH };
  size_t n = LEVELS * 5 + 1;
  unsigned char *buf = malloc(n);
  for (size_t i = 0; i < LEVELS; i++) {
    uint32_t claim = (uint32_t)(n - i * 5 - 5);
    buf[i * 5] = 0xdd;
    buf[i * 5 + 1] = (unsigned char)(claim >> 24);
    buf[i * 5 + 2] = (unsigned char)(claim >> 16);
    buf[i * 5 + 3] = (unsigned char)(claim >> 8);
    buf[i * 5 + 4] = (unsigned char)claim;
  }
  buf[n - 1] = 0x01;
  cr_assert_eq(decode_bytes((char *)buf, n), PX_EDECODE);
  free(buf);
}

Test(msgpack, decodes_float32_as_double) {
  px_val v;
  cr_assert_eq(px_msgpack_decode(BYTES("\xca\x3f\xc0\0\0"), &v), 0);
  cr_assert_eq(px_typeof(v), PX_T_DOUBLE);
  cr_assert_eq(v.u.d, 1.5);
}

Test(msgpack, decodes_every_int_width) {
  px_val v;
  cr_assert_eq(px_msgpack_decode(BYTES("\xd0\x80"), &v), 0);
  cr_assert_eq(v.u.i, -128);
  cr_assert_eq(px_msgpack_decode(BYTES("\xd1\x80\x00"), &v), 0);
  cr_assert_eq(v.u.i, -32768);
  cr_assert_eq(px_msgpack_decode(BYTES("\xd2\x80\0\0\0"), &v), 0);
  cr_assert_eq(v.u.i, INT32_MIN);
  cr_assert_eq(px_msgpack_decode(BYTES("\xcd\xff\xff"), &v), 0);
  cr_assert_eq(v.u.i, 65535);
  cr_assert_eq(px_msgpack_decode(BYTES("\xce\xff\xff\xff\xff"), &v), 0);
  cr_assert_eq(v.u.i, 4294967295LL);
  cr_assert_eq(px_msgpack_decode(BYTES("\xe0"), &v), 0);
  cr_assert_eq(v.u.i, -32);
}

static uint64_t rng = 0x5eed;

static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

Test(msgpack, random_bytes_never_crash) {
  unsigned char buf[48];
  int ok = 0;
  for (int i = 0; i < 200000; i++) {
    size_t n = rnd() % sizeof buf;
    for (size_t k = 0; k < n; k++) buf[k] = (unsigned char)rnd();
    px_val v;
    int rc = px_msgpack_decode(buf, n, &v);
    cr_assert(rc == 0 || rc == PX_EDECODE, "rc %d", rc);
    if (rc) continue;
    ok++;
    char *enc;
    size_t len;
    px_val again;
    cr_assert_eq(px_msgpack_encode(v, &enc, &len), 0);
    cr_assert_eq(px_msgpack_decode(enc, len, &again), 0);
    cr_assert(px_val_equal(v, again));
    free(enc);
    px_val_release(again);
    px_val_release(v);
  }
  cr_assert_gt(ok, 0);
}

Test(msgpack, mutated_encodings_never_crash) {
  px_val v = px_map(3, px_str("key"), px_arr(3, px_int(70000), px_double(1),
                                              px_atom_val("abc")),
                    px_bin("xyz", 3), px_map(1, px_int(-1), px_nil()),
                    px_int(5), px_arr(2, px_str(""), px_bool(true)));
  char *buf;
  size_t n;
  cr_assert_eq(px_msgpack_encode(v, &buf, &n), 0);
  for (int i = 0; i < 100000; i++) {
    char *m = malloc(n);
    memcpy(m, buf, n);
    for (int k = 1 + (int)(rnd() % 3); k > 0; k--)
      m[rnd() % n] = (char)rnd();
    int rc = decode_bytes(m, n - rnd() % 3);
    cr_assert(rc == 0 || rc == PX_EDECODE);
    free(m);
  }
  free(buf);
  px_val_release(v);
}

/* ---- allocation failures ------------------------------------------------
 * Outside AddressSanitizer builds this file replaces malloc, calloc and
 * realloc with pass-throughs that can be told to fail the Nth call, so each
 * allocation the codec makes is failed once in turn. */
#ifndef __SANITIZE_ADDRESS__
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t count, size_t n);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

static long fail_countdown = -1; /* -1: never fail */
static bool failed;
static long outstanding; /* blocks allocated and not yet freed */

static bool inject(void) {
  if (fail_countdown < 0) return false;
  if (fail_countdown-- > 0) return false;
  failed = true;
  return true;
}

static void *counted(void *p) {
  if (p) outstanding++;
  return p;
}

void *malloc(size_t n) { return inject() ? NULL : counted(__libc_malloc(n)); }
void *calloc(size_t c, size_t n) {
  return inject() ? NULL : counted(__libc_calloc(c, n));
}
void *realloc(void *p, size_t n) {
  if (inject()) return NULL;
  void *q = __libc_realloc(p, n);
  if (q && !p) outstanding++;
  return q;
}
void free(void *p) {
  if (p) outstanding--;
  __libc_free(p);
}

Test(msgpack, allocation_failures_return_enomem_without_leaks) {
  px_val v = px_arr(4, px_str("some text"), px_bin("\0\1", 2),
                    px_map(2, px_int(1), px_atom_val("inj"), px_str("k"),
                           px_arr(3, px_int(1), px_int(2), px_int(3))),
                    px_atom_val("inj"));
  px_val big = px_array_new(0);
  for (int i = 0; i < 300; i++) px_array_push(&big, px_int(i));
  px_array_push(&v, big);
  char *buf;
  size_t n;
  cr_assert_eq(px_msgpack_encode(v, &buf, &n), 0);
  long base = px__val_live_objects();
  int failures = 0;
  for (long k = 0;; k++) {
    px_val back;
    failed = false;
    long before = outstanding;
    fail_countdown = k;
    int rc = px_msgpack_decode(buf, n, &back);
    fail_countdown = -1;
    if (!failed) {
      cr_assert_eq(rc, 0);
      cr_assert(px_val_equal(v, back));
      px_val_release(back);
      break;
    }
    failures++;
    cr_assert_eq(rc, PX_ENOMEM, "allocation %ld: %d", k, rc);
    if (base >= 0) cr_assert_eq(px__val_live_objects(), base);
    cr_assert_eq(outstanding, before, "allocation %ld leaked", k);
  }
  cr_assert_gt(failures, 5);
  /* The encoder's one allocation can fail too. */
  char *out = NULL;
  failed = false;
  long before = outstanding;
  fail_countdown = 0;
  int rc = px_msgpack_encode(v, &out, &n);
  fail_countdown = -1;
  cr_assert(failed);
  cr_assert_eq(rc, PX_ENOMEM);
  cr_assert_eq(outstanding, before);
  free(buf);
  px_val_release(v);
}
#endif

Test(msgpack, encode_into_a_buffer_matches_encode) {
  px_val v = px_map(2, px_str("n"), px_int(-70000), px_str("xs"),
                    px_arr(3, px_nil(), px_bool(true), px_double(1.5)));
  char *a;
  size_t alen, size, blen;
  cr_assert_eq(px_msgpack_encode(v, &a, &alen), 0);
  cr_assert_eq(px_msgpack_size(v, &size), 0);
  cr_assert_eq(size, alen);
  char b[64];
  /* one byte short: refused, nothing claimed written */
  blen = 12345;
  cr_assert_eq(px_msgpack_encode_into(v, b, alen - 1, &blen), PX_ERANGE);
  cr_assert_eq(blen, 12345);
  cr_assert_eq(px_msgpack_encode_into(v, b, sizeof b, &blen), 0);
  cr_assert_eq(blen, alen);
  cr_assert(memcmp(a, b, alen) == 0);
  free(a);
  px_val_release(v);
}
