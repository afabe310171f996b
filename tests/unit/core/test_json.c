/* Tests for the JSON codec: exact output, the tagged forms for binaries,
 * atoms and non-string-keyed maps, number typing, round trips and
 * rejection of malformed input. Every test ends with a check that no value
 * is left alive. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
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

TestSuite(json, .fini = no_leaks);

#define BYTES(s) s, sizeof(s) - 1

/* Checks that `v` encodes to exactly `want`; releases v. */
static void encodes_to(px_val v, const char *want) {
  char *out;
  size_t n;
  cr_assert_eq(px_json_encode(v, &out, &n), 0, "want %s", want);
  cr_assert_str_eq(out, want);
  cr_assert_eq(n, strlen(want));
  free(out);
  px_val_release(v);
}

static int encode_rc(px_val v) {
  char *out = NULL;
  size_t n;
  int rc = px_json_encode(v, &out, &n);
  free(out);
  px_val_release(v);
  return rc;
}

/* Decodes `text`; the caller releases the result. */
static px_val decode(const char *text) {
  px_val v;
  char err[160];
  int rc = px_json_decode(text, strlen(text), &v, err, sizeof err);
  cr_assert_eq(rc, 0, "%s: %s", text, err);
  return v;
}

static int decode_rc(const char *text, size_t n) {
  px_val v;
  int rc = px_json_decode(text, n, &v, NULL, 0);
  if (rc == 0) px_val_release(v);
  return rc;
}

static void round_trip(px_val v) {
  char *out, err[160];
  size_t n;
  px_val back;
  cr_assert_eq(px_json_encode(v, &out, &n), 0);
  cr_assert_eq(px_json_decode(out, n, &back, err, sizeof err), 0, "%s: %s",
               out, err);
  cr_assert(px_val_equal(v, back), "round trip changed %s", out);
  free(out);
  px_val_release(back);
  px_val_release(v);
}

/* ---- encoding ----------------------------------------------------------- */

Test(json, encodes_scalars) {
  encodes_to(px_nil(), "null");
  encodes_to(px_bool(true), "true");
  encodes_to(px_bool(false), "false");
  encodes_to(px_int(42), "42");
  encodes_to(px_int(INT64_MIN), "-9223372036854775808");
  encodes_to(px_int(INT64_MAX), "9223372036854775807");
}

Test(json, encodes_doubles_shortest_and_always_as_reals) {
  encodes_to(px_double(1.0), "1.0");
  encodes_to(px_double(0.1), "0.1");
  encodes_to(px_double(-0.0), "-0.0");
  encodes_to(px_double(1e300), "1e300");
  encodes_to(px_double(-2.5), "-2.5");
  /* One precision serves the whole document, so 0.1 gains digits here;
   * both still read back exactly. */
  encodes_to(px_arr(2, px_double(0.1), px_double(0.1 + 0.2)),
             "[0.10000000000000001,0.30000000000000004]");
  encodes_to(px_arr(2, px_double(0.5), px_double(1.0 / 3)),
             "[0.5,0.3333333333333333]");
}

Test(json, refuses_non_finite_doubles) {
  cr_assert_eq(encode_rc(px_double(NAN)), PX_EENCODE);
  cr_assert_eq(encode_rc(px_double(INFINITY)), PX_EENCODE);
  cr_assert_eq(encode_rc(px_arr(2, px_int(1), px_double(-INFINITY))),
               PX_EENCODE);
  cr_assert_eq(encode_rc(px_map(1, px_str("k"), px_double(NAN))), PX_EENCODE);
  cr_assert_eq(encode_rc(px_map(2, px_int(1), px_int(2), px_int(3),
                                px_arr(1, px_double(NAN)))),
               PX_EENCODE);
  cr_assert_eq(encode_rc(px_map(1, px_double(INFINITY), px_int(1))),
               PX_EENCODE);
}

Test(json, encodes_strings_with_escapes) {
  encodes_to(px_str("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
  encodes_to(px_strn("x\0y", 3), "\"x\\u0000y\"");
  encodes_to(px_str("\xc3\xa9\xe2\x82\xac"), "\"\xc3\xa9\xe2\x82\xac\"");
}

Test(json, refuses_invalid_utf8) {
  cr_assert_eq(encode_rc(px_str("\xff")), PX_EENCODE);
  cr_assert_eq(encode_rc(px_str("\xc0\x80")), PX_EENCODE);       /* overlong */
  cr_assert_eq(encode_rc(px_str("\xed\xa0\x80")), PX_EENCODE);   /* surrogate */
  cr_assert_eq(encode_rc(px_str("\xf4\x90\x80\x80")), PX_EENCODE); /* big */
  cr_assert_eq(encode_rc(px_str("\xe2\x82")), PX_EENCODE);       /* cut */
  cr_assert_eq(encode_rc(px_map(1, px_str("\xff"), px_int(1))), PX_EENCODE);
}

Test(json, encodes_binaries_as_base64) {
  encodes_to(px_bin(NULL, 0), "{\"$bin\":\"\"}");
  encodes_to(px_bin("f", 1), "{\"$bin\":\"Zg==\"}");
  encodes_to(px_bin("fo", 2), "{\"$bin\":\"Zm8=\"}");
  encodes_to(px_bin("foo", 3), "{\"$bin\":\"Zm9v\"}");
  encodes_to(px_bin("foob", 4), "{\"$bin\":\"Zm9vYg==\"}");
  encodes_to(px_bin("\0\0\xff", 3), "{\"$bin\":\"AAD/\"}");
  encodes_to(px_bin("\xfb\xff", 2), "{\"$bin\":\"+/8=\"}");
}

Test(json, encodes_atoms_as_tagged_objects) {
  encodes_to(px_atom_val("ok"), "{\"$atom\":\"ok\"}");
  encodes_to(px_arr(1, px_atom_val("")), "[{\"$atom\":\"\"}]");
}

Test(json, string_keyed_map_is_plain_object_in_insertion_order) {
  encodes_to(px_map(3, px_str("z"), px_int(1), px_str("a"), px_int(2),
                    px_str("m"), px_arr(0)),
             "{\"z\":1,\"a\":2,\"m\":[]}");
  encodes_to(px_map(0), "{}");
}

Test(json, other_maps_use_map_tag) {
  encodes_to(px_map(2, px_str("a"), px_int(1), px_int(2), px_int(3)),
             "{\"$map\":[[\"a\",1],[2,3]]}");
  encodes_to(px_map(1, px_atom_val("k"), px_nil()),
             "{\"$map\":[[{\"$atom\":\"k\"},null]]}");
  /* jansson cannot read NUL bytes in object keys. */
  encodes_to(px_map(1, px_strn("a\0b", 3), px_int(1)),
             "{\"$map\":[[\"a\\u0000b\",1]]}");
}

Test(json, single_tag_key_maps_are_escaped) {
  encodes_to(px_map(1, px_str("$atom"), px_str("x")),
             "{\"$map\":[[\"$atom\",\"x\"]]}");
  encodes_to(px_map(1, px_str("$bin"), px_str("")),
             "{\"$map\":[[\"$bin\",\"\"]]}");
  encodes_to(px_map(1, px_str("$map"), px_arr(0)),
             "{\"$map\":[[\"$map\",[]]]}");
  /* With more than one key there is no ambiguity. */
  encodes_to(px_map(2, px_str("$bin"), px_int(1), px_str("b"), px_int(2)),
             "{\"$bin\":1,\"b\":2}");
}

Test(json, refuses_513_levels) {
  px_val v = px_int(1);
  for (int i = 0; i < PX__MAX_DEPTH + 1; i++) v = px_arr(1, v);
  cr_assert_eq(encode_rc(v), PX_EENCODE);
}

/* ---- decoding ----------------------------------------------------------- */

Test(json, integers_stay_ints_and_reals_become_doubles) {
  px_val v = decode("[1, -0, 1.0, 1e2, -0.0, 9223372036854775807, 2E-1]");
  cr_assert_eq(px_typeof(px_at(v, 0)), PX_T_INT);
  cr_assert_eq(px_typeof(px_at(v, 1)), PX_T_INT);
  cr_assert_eq(px_typeof(px_at(v, 2)), PX_T_DOUBLE);
  cr_assert_eq(px_at(v, 3).u.d, 100.0);
  cr_assert_eq(px_typeof(px_at(v, 3)), PX_T_DOUBLE);
  cr_assert(signbit(px_at(v, 4).u.d));
  cr_assert_eq(px_at(v, 5).u.i, INT64_MAX);
  cr_assert_eq(px_at(v, 6).u.d, 0.2);
  px_val_release(v);
}

Test(json, decodes_scalars_at_top_level) {
  px_val v = decode("\"text\"");
  cr_assert_str_eq(px_str_ptr(v), "text");
  px_val_release(v);
  v = decode(" null ");
  cr_assert(px_is_nil(v));
  v = decode("false");
  cr_assert_eq(px_typeof(v), PX_T_BOOL);
  cr_assert_not(v.u.b);
}

Test(json, decodes_nul_in_strings) {
  px_val v;
  cr_assert_eq(px_json_decode(BYTES("\"a\\u0000b\""), &v, NULL, 0), 0);
  cr_assert_eq(px_str_len(v), 3);
  cr_assert_eq(memcmp(px_str_ptr(v), "a\0b", 3), 0);
  px_val_release(v);
}

Test(json, objects_keep_key_order) {
  px_val v = decode("{\"b\":1,\"a\":2,\"c\":{\"y\":1,\"x\":2}}");
  cr_assert_str_eq(px_str_ptr(px_map_key_at(v, 0)), "b");
  cr_assert_str_eq(px_str_ptr(px_map_key_at(v, 1)), "a");
  cr_assert_str_eq(px_str_ptr(px_map_key_at(px_gets(v, "c"), 0)), "y");
  px_val_release(v);
}

Test(json, decodes_tagged_forms) {
  px_val v = decode("[{\"$bin\":\"Zm9vYg==\"},{\"$atom\":\"ok\"},"
                    "{\"$map\":[[1,\"one\"],[{\"$atom\":\"k\"},[]]]}]");
  cr_assert_eq(px_typeof(px_at(v, 0)), PX_T_BIN);
  cr_assert_eq(px_len(px_at(v, 0)), 4);
  cr_assert_eq(memcmp(px_str_ptr(px_at(v, 0)), "foob", 4), 0);
  cr_assert(px_is_atom(px_at(v, 1), px_atom_of("ok")));
  px_val m = px_at(v, 2);
  cr_assert_eq(px_typeof(m), PX_T_MAP);
  cr_assert_str_eq(px_str_ptr(px_get(m, px_int(1))), "one");
  cr_assert_eq(px_typeof(px_gets(m, "k")), PX_T_ARRAY);
  px_val_release(v);
}

Test(json, multi_key_objects_with_tag_names_are_plain_maps) {
  px_val v = decode("{\"$bin\":\"Zg==\",\"$atom\":\"x\"}");
  cr_assert_eq(px_typeof(v), PX_T_MAP);
  cr_assert_eq(px_len(v), 2);
  cr_assert_str_eq(px_str_ptr(px_gets(v, "$atom")), "x");
  px_val_release(v);
}

Test(json, rejects_malformed_base64) {
  static const char *bad[] = {
      "{\"$bin\":\"Zg=\"}",     /* length not a multiple of four */
      "{\"$bin\":\"Zh==\"}",    /* leftover bits set */
      "{\"$bin\":\"Zm9=\"}",    /* leftover bits set */
      "{\"$bin\":\"Z===\"}",    /* too much padding */
      "{\"$bin\":\"Zg==Zg==\"}", /* padding in the middle */
      "{\"$bin\":\"Zm 9\"}",    /* space */
      "{\"$bin\":\"Zm-_\"}",    /* URL alphabet */
      "{\"$bin\":1}",           /* not a string */
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    cr_assert_eq(decode_rc(bad[i], strlen(bad[i])), PX_EDECODE, "%s", bad[i]);
}

Test(json, rejects_malformed_tags) {
  static const char *bad[] = {
      "{\"$atom\":1}",
      "{\"$atom\":null}",
      "{\"$map\":{}}",
      "{\"$map\":[[1]]}",
      "{\"$map\":[[1,2,3]]}",
      "{\"$map\":[1]}",
      "{\"$map\":[[1,2],[1,3]]}", /* duplicate key */
      "{\"$map\":[[{\"$bin\":\"!\"},1]]}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    cr_assert_eq(decode_rc(bad[i], strlen(bad[i])), PX_EDECODE, "%s", bad[i]);
}

Test(json, rejects_overlong_atom) {
  char text[400];
  int n = snprintf(text, sizeof text, "{\"$atom\":\"%0256d\"}", 0);
  cr_assert_eq(decode_rc(text, (size_t)n), PX_EDECODE);
  n = snprintf(text, sizeof text, "{\"$atom\":\"%0255d\"}", 0);
  cr_assert_eq(decode_rc(text, (size_t)n), 0);
}

Test(json, syntax_errors_report_line_and_column) {
  px_val v;
  char err[160];
  const char text[] = "[1,\n  2,\n  ]";
  cr_assert_eq(px_json_decode(text, sizeof text - 1, &v, err, sizeof err),
               PX_EDECODE);
  cr_assert_not_null(strstr(err, "line 3"), "%s", err);
  cr_assert_not_null(strstr(err, "column"), "%s", err);
}

Test(json, semantic_errors_fill_errbuf) {
  px_val v;
  char err[160];
  const char text[] = "{\"$bin\":\"***\"}";
  cr_assert_eq(px_json_decode(text, sizeof text - 1, &v, err, sizeof err),
               PX_EDECODE);
  cr_assert_not_null(strstr(err, "base64"), "%s", err);
}

Test(json, rejects_bad_documents) {
  cr_assert_eq(decode_rc(BYTES("")), PX_EDECODE);
  cr_assert_eq(decode_rc(BYTES("[1] 2")), PX_EDECODE);
  cr_assert_eq(decode_rc(BYTES("{\"a\":1,\"a\":2}")), PX_EDECODE);
  cr_assert_eq(decode_rc(BYTES("99999999999999999999")), PX_EDECODE);
  cr_assert_eq(decode_rc(BYTES("1e400")), PX_EDECODE);
  cr_assert_eq(decode_rc(BYTES("\"\xff\"")), PX_EDECODE);
  cr_assert_eq(decode_rc(BYTES("NaN")), PX_EDECODE);
  cr_assert_eq(decode_rc(BYTES("{\"a\\u0000\":1}")), PX_EDECODE);
  px_val v;
  cr_assert_neq(px_json_decode(NULL, 0, &v, NULL, 0), 0);
}

Test(json, decode_only_reads_len_bytes) {
  px_val v;
  cr_assert_eq(px_json_decode("[1]garbage", 3, &v, NULL, 0), 0);
  cr_assert_eq(px_len(v), 1);
  px_val_release(v);
}

static char *nested(const char *open, const char *close, int levels) {
  size_t lo = strlen(open), lc = strlen(close);
  char *s = malloc(levels * (lo + lc) + 2);
  char *p = s;
  for (int i = 0; i < levels; i++, p += lo) memcpy(p, open, lo);
  *p++ = '1';
  for (int i = 0; i < levels; i++, p += lc) memcpy(p, close, lc);
  *p = 0;
  return s;
}

Test(json, depth_limit_is_512_levels) {
  char *ok = nested("[", "]", PX__MAX_DEPTH);
  char *deep = nested("[", "]", PX__MAX_DEPTH + 1);
  char *objs = nested("{\"k\":", "}", PX__MAX_DEPTH + 1);
  cr_assert_eq(decode_rc(ok, strlen(ok)), 0);
  cr_assert_eq(decode_rc(deep, strlen(deep)), PX_EDECODE);
  cr_assert_eq(decode_rc(objs, strlen(objs)), PX_EDECODE);
  px_val v = decode(ok);
  round_trip(v);
  free(ok);
  free(deep);
  free(objs);
}

/* ---- round trips -------------------------------------------------------- */

Test(json, round_trips_every_type) {
  round_trip(px_nil());
  round_trip(px_bool(true));
  round_trip(px_int(0));
  round_trip(px_int(INT64_MIN));
  round_trip(px_int(INT64_MAX));
  round_trip(px_double(1.0));
  round_trip(px_double(-0.0));
  round_trip(px_double(0.0));
  round_trip(px_double(DBL_MAX));
  round_trip(px_double(DBL_MIN));
  round_trip(px_double(5e-324));
  round_trip(px_double(0.1 + 0.2));
  round_trip(px_atom_val("ok"));
  round_trip(px_atom_val("with space"));
  round_trip(px_str(""));
  round_trip(px_strn("\0\0", 2));
  round_trip(px_bin(NULL, 0));
  round_trip(px_bin("\0\1\0", 3));
  round_trip(px_arr(0));
  round_trip(px_map(0));
}

Test(json, round_trips_nested_values_with_any_keys) {
  px_val inner = px_map(3, px_arr(1, px_int(1)), px_str("array key"),
                        px_double(-0.0), px_bin("\0", 1), px_bin("k", 1),
                        px_map(0));
  round_trip(px_map(5, px_atom_val("k"), inner, px_nil(), px_arr(0),
                    px_map(1, px_str("x"), px_int(1)), px_str("map key"),
                    px_str("$map"), px_map(1, px_str("$atom"), px_str("a")),
                    px_strn("nul\0key", 7), px_arr(1, px_map(0))));
  round_trip(px_map(2, px_str("s"), px_arr(2, px_double(1e-7), px_int(-3)),
                    px_str("t"), px_map(1, px_str("$bin"), px_int(1))));
}

Test(json, round_trips_doubles_that_need_every_digit) {
  px_val a = px_array_new(0);
  double d = 1.0;
  for (int i = 0; i < 200; i++) {
    px_array_push(&a, px_double(d));
    d = d * 1.37 + 1e-3;
  }
  px_array_push(&a, px_double(0x1p-1022));
  px_array_push(&a, px_double(0x1.fffffffffffffp+1023));
  px_array_push(&a, px_double(9007199254740993.0));
  round_trip(a);
}

/* ---- allocation failures ------------------------------------------------
 * Outside AddressSanitizer builds this file replaces malloc, calloc and
 * realloc with pass-throughs that can be told to fail the Nth call, so each
 * allocation the codec (and jansson) makes is failed once in turn. */
Test(json, untrusted_input_cannot_create_atoms) {
  px_val v;
  char err[128];
  const char *known = "{\"$atom\":\"json_test_known_atom\"}";
  const char *unknown = "[1, {\"$atom\":\"json_test_never_interned_8e1f\"}]";
  px_atom a = px_atom_of("json_test_known_atom");
  cr_assert_eq(px_json_decode_untrusted(known, strlen(known), &v, err,
                                        sizeof err), 0);
  cr_assert(px_is_atom(v, a));
  cr_assert_eq(px_json_decode_untrusted(unknown, strlen(unknown), &v, err,
                                        sizeof err), PX_EDECODE);
  cr_assert(strstr(err, "does not know") != NULL, "%s", err);
  cr_assert_null(px_atom_find("json_test_never_interned_8e1f", 29),
                 "the refused name was not interned");
  /* The trusted decoder still creates it. */
  cr_assert_eq(px_json_decode(unknown, strlen(unknown), &v, err, sizeof err),
               0);
  cr_assert_not_null(px_atom_find("json_test_never_interned_8e1f", 29));
  px_val_release(v);
}

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

Test(json, allocation_failures_return_enomem_without_leaks) {
  px_val v = px_arr(5, px_str("some text"), px_bin("\0\1", 2),
                    px_map(2, px_int(1), px_atom_val("inj"), px_str("k"),
                           px_arr(3, px_double(0.5), px_int(2), px_nil())),
                    px_map(2, px_str("a"), px_str("b"), px_str("c"),
                           px_map(0)),
                    px_atom_val("inj"));
  char *text;
  size_t n;
  cr_assert_eq(px_json_encode(v, &text, &n), 0);
  long base = px__val_live_objects();
  int failures = 0;
  for (long k = 0;; k++) {
    px_val back;
    char err[128];
    failed = false;
    long before = outstanding;
    fail_countdown = k;
    int rc = px_json_decode(text, n, &back, err, sizeof err);
    fail_countdown = -1;
    if (!failed) {
      cr_assert_eq(rc, 0);
      cr_assert(px_val_equal(v, back));
      px_val_release(back);
      break;
    }
    /* jansson's lexer turns a failed allocation into "invalid token", so
     * some failures can only surface as PX_EDECODE. */
    cr_assert(rc == PX_ENOMEM || rc == PX_EDECODE, "allocation %ld: %d", k,
              rc);
    failures += rc == PX_ENOMEM;
    if (base >= 0) cr_assert_eq(px__val_live_objects(), base);
    cr_assert_eq(outstanding, before, "allocation %ld leaked", k);
  }
  cr_assert_gt(failures, 10);
  for (long k = 0;; k++) {
    char *out = NULL;
    size_t len;
    failed = false;
    long before = outstanding;
    fail_countdown = k;
    int rc = px_json_encode(v, &out, &len);
    fail_countdown = -1;
    if (!failed) {
      cr_assert_eq(rc, 0);
      cr_assert_str_eq(out, text);
      free(out);
      break;
    }
    cr_assert_eq(rc, PX_ENOMEM, "allocation %ld: %d", k, rc);
    cr_assert_eq(outstanding, before, "allocation %ld leaked", k);
  }
  free(text);
  px_val_release(v);
}
#endif
