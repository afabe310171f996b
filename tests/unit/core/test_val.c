/* Tests for px_val: construction, ownership, access, equality, ordering,
 * hashing, printing, and generative round-trip properties of both codecs.
 * Every test ends with a check that no value is left alive. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/val_internal.h"
#include "plexspaces/error.h"
#include "plexspaces/val.h"

_Static_assert(sizeof(px_val) == 16, "px_val must stay 16 bytes");

static void no_leaks(void) {
  long live = px__val_live_objects();
  if (live > 0) {
    cr_log_error("%ld value(s) still alive at the end of the test", live);
    abort();
  }
}

TestSuite(val, .fini = no_leaks);

static char fmt_buf[4096];

static const char *fmt(px_val v) {
  px_val_format(v, fmt_buf, sizeof fmt_buf);
  return fmt_buf;
}

/* ---- scalars and constructors ------------------------------------------- */

Test(val, scalars_carry_their_type_and_payload) {
  cr_assert_eq(px_typeof(px_nil()), PX_T_NIL);
  cr_assert(px_is_nil(px_nil()));
  cr_assert_eq(px_typeof(px_bool(true)), PX_T_BOOL);
  cr_assert(px_bool(true).u.b);
  cr_assert_eq(px_int(INT64_MIN).u.i, INT64_MIN);
  cr_assert_eq(px_typeof(px_double(2.5)), PX_T_DOUBLE);
  cr_assert_eq(px_double(2.5).u.d, 2.5);
  px_val a = px_atom_val("hello");
  cr_assert_eq(px_typeof(a), PX_T_ATOM);
  cr_assert(px_is_atom(a, px_atom_of("hello")));
  cr_assert_not(px_is_atom(a, px_atom_of("world")));
  cr_assert_eq(px_len(px_int(5)), 0);
  cr_assert_null(px_str_ptr(px_int(5)));
  cr_assert_eq(px_str_len(a), 0);
}

Test(val, retain_and_release_of_scalars_are_no_ops) {
  px_val v = px_val_retain(px_int(7));
  px_val_release(v);
  px_val_release(px_nil());
  cr_assert_eq(v.u.i, 7);
}

Test(val, string_copies_bytes_and_is_nul_terminated) {
  char src[] = "hello";
  px_val s = px_str(src);
  src[0] = 'J';
  cr_assert_eq(px_typeof(s), PX_T_STR);
  cr_assert_str_eq(px_str_ptr(s), "hello");
  cr_assert_eq(px_str_len(s), 5);
  cr_assert_eq(px_len(s), 5);
  px_val_release(s);
}

Test(val, strn_keeps_embedded_nul_and_terminates) {
  px_val s = px_strn("a\0b!", 3);
  cr_assert_eq(px_str_len(s), 3);
  cr_assert_eq(memcmp(px_str_ptr(s), "a\0b", 3), 0);
  cr_assert_eq(px_str_ptr(s)[3], '\0');
  px_val_release(s);
}

Test(val, empty_string_and_binary) {
  px_val s = px_strn(NULL, 0), b = px_bin(NULL, 0);
  cr_assert_eq(px_len(s), 0);
  cr_assert_str_eq(px_str_ptr(s), "");
  cr_assert_eq(px_typeof(b), PX_T_BIN);
  cr_assert_eq(px_len(b), 0);
  cr_assert_not(px_val_equal(s, b));
  px_val_release(s);
  px_val_release(b);
}

Test(val, strf_formats) {
  px_val s = px_strf("%s-%d-%05.1f", "x", 42, 3.14159);
  cr_assert_str_eq(px_str_ptr(s), "x-42-003.1");
  cr_assert_eq(px_str_len(s), 10);
  px_val_release(s);
}

Test(val, strf_long_output) {
  px_val s = px_strf("%0500d", 1);
  cr_assert_eq(px_str_len(s), 500);
  cr_assert_eq(px_str_ptr(s)[499], '1');
  cr_assert_eq(px_str_ptr(s)[500], '\0');
  px_val_release(s);
}

Test(val, binary_keeps_zero_bytes) {
  const unsigned char raw[] = {0, 1, 0, 255, 0};
  px_val b = px_bin(raw, sizeof raw);
  cr_assert_eq(px_len(b), 5);
  cr_assert_eq(memcmp(px_str_ptr(b), raw, 5), 0);
  px_val_release(b);
}

/* ---- arrays ------------------------------------------------------------- */

Test(val, arr_takes_items_in_order) {
  px_val a = px_arr(3, px_int(1), px_str("two"), px_atom_val("three"));
  cr_assert_eq(px_len(a), 3);
  cr_assert_eq(px_at(a, 0).u.i, 1);
  cr_assert_str_eq(px_str_ptr(px_at(a, 1)), "two");
  cr_assert(px_is_atom(px_at(a, 2), px_atom_of("three")));
  px_val_release(a);
}

Test(val, array_of_takes_ownership_of_items) {
  px_val items[2] = {px_str("a"), px_bin("b", 1)};
  px_val a = px_array_of(2, items);
  cr_assert_eq(px_len(a), 2);
  cr_assert_eq(px_at(a, 1).u.o, items[1].u.o);
  px_val_release(a); /* frees the items too; the leak check proves it */
}

Test(val, at_out_of_range_or_wrong_type_is_nil) {
  px_val a = px_arr(1, px_int(1));
  cr_assert(px_is_nil(px_at(a, 1)));
  cr_assert(px_is_nil(px_at(a, SIZE_MAX)));
  cr_assert(px_is_nil(px_at(px_int(3), 0)));
  px_val_release(a);
}

Test(val, push_grows_beyond_initial_capacity) {
  px_val a = px_array_new(0);
  for (int i = 0; i < 1000; i++) px_array_push(&a, px_int(i));
  cr_assert_eq(px_len(a), 1000);
  for (int i = 0; i < 1000; i++) cr_assert_eq(px_at(a, (size_t)i).u.i, i);
  px_val_release(a);
}

Test(val, empty_array_and_map) {
  px_val a = px_arr(0), m = px_map(0);
  cr_assert_eq(px_typeof(a), PX_T_ARRAY);
  cr_assert_eq(px_len(a), 0);
  cr_assert_eq(px_typeof(m), PX_T_MAP);
  cr_assert_eq(px_len(m), 0);
  cr_assert(px_is_nil(px_gets(m, "x")));
  px_val_release(a);
  px_val_release(m);
}

/* ---- maps --------------------------------------------------------------- */

Test(val, map_keeps_insertion_order) {
  px_val m = px_map(3, px_str("z"), px_int(1), px_str("a"), px_int(2),
                    px_str("m"), px_int(3));
  cr_assert_str_eq(px_str_ptr(px_map_key_at(m, 0)), "z");
  cr_assert_str_eq(px_str_ptr(px_map_key_at(m, 1)), "a");
  cr_assert_str_eq(px_str_ptr(px_map_key_at(m, 2)), "m");
  cr_assert_eq(px_map_val_at(m, 2).u.i, 3);
  cr_assert(px_is_nil(px_map_key_at(m, 3)));
  cr_assert(px_is_nil(px_map_val_at(px_int(1), 0)));
  px_val_release(m);
}

Test(val, put_replaces_equal_key_in_place) {
  px_val m = px_map_new(0);
  px_map_puts(&m, "a", px_int(1));
  px_map_puts(&m, "b", px_int(2));
  px_map_puts(&m, "a", px_str("new"));
  cr_assert_eq(px_len(m), 2);
  cr_assert_str_eq(px_str_ptr(px_map_key_at(m, 0)), "a");
  cr_assert_str_eq(px_str_ptr(px_gets(m, "a")), "new");
  px_val_release(m);
}

Test(val, map_constructor_later_duplicate_wins) {
  px_val m = px_map(2, px_int(1), px_str("first"), px_int(1), px_str("last"));
  cr_assert_eq(px_len(m), 1);
  cr_assert_str_eq(px_str_ptr(px_get(m, px_int(1))), "last");
  px_val_release(m);
}

Test(val, get_is_typed) {
  px_val m = px_map(2, px_int(1), px_str("int"), px_double(1.0),
                    px_str("double"));
  cr_assert_eq(px_len(m), 2);
  cr_assert_str_eq(px_str_ptr(px_get(m, px_int(1))), "int");
  cr_assert_str_eq(px_str_ptr(px_get(m, px_double(1.0))), "double");
  cr_assert(px_is_nil(px_get(m, px_double(-0.0))));
  px_val_release(m);
}

Test(val, gets_finds_string_then_atom_keys) {
  px_val m = px_map(2, px_atom_val("only_atom"), px_int(1), px_str("s"),
                    px_int(2));
  cr_assert_eq(px_gets(m, "only_atom").u.i, 1);
  cr_assert_eq(px_gets(m, "s").u.i, 2);
  cr_assert(px_is_nil(px_gets(m, "missing_never_interned_xyz")));
  cr_assert(px_is_nil(px_gets(px_int(1), "s")));
  px_val_release(m);
}

Test(val, map_find_reports_presence_of_nil_values) {
  px_val m = px_map(1, px_str("k"), px_nil());
  px_val k = px_str("k"), absent = px_str("absent"), out = px_int(9);
  cr_assert(px_map_find(m, k, &out));
  cr_assert(px_is_nil(out));
  cr_assert(px_map_find(m, k, NULL));
  cr_assert_not(px_map_find(m, absent, &out));
  cr_assert_not(px_map_find(px_int(1), k, &out));
  px_val_release(k);
  px_val_release(absent);
  px_val_release(m);
}

Test(val, large_map_lookups_use_every_key_type) {
  px_val m = px_map_new(0);
  for (int i = 0; i < 2000; i++) {
    px_map_put(&m, px_int(i), px_int(i * 2));
    px_map_put(&m, px_strf("k%d", i), px_int(-i));
    px_map_put(&m, px_arr(1, px_int(i)), px_double(i));
  }
  cr_assert_eq(px_len(m), 6000);
  for (int i = 0; i < 2000; i++) {
    cr_assert_eq(px_get(m, px_int(i)).u.i, i * 2);
    char key[16];
    snprintf(key, sizeof key, "k%d", i);
    cr_assert_eq(px_gets(m, key).u.i, -i);
    px_val k = px_arr(1, px_int(i));
    cr_assert_eq(px_get(m, k).u.d, (double)i);
    px_val_release(k);
  }
  cr_assert(px_is_nil(px_get(m, px_int(2000))));
  /* Replacing in an indexed map keeps size and position. */
  px_map_put(&m, px_strf("k%d", 1500), px_str("x"));
  cr_assert_eq(px_len(m), 6000);
  cr_assert_str_eq(px_str_ptr(px_map_val_at(m, 3 * 1500 + 1)), "x");
  px_val_release(m);
}

/* ---- ownership ---------------------------------------------------------- */

Test(val, retain_keeps_object_alive_until_last_release) {
  px_val s = px_str("shared");
  px_val t = px_val_retain(s);
  cr_assert_eq(t.u.o, s.u.o);
  px_val_release(s);
  cr_assert_str_eq(px_str_ptr(t), "shared"); /* still valid */
  if (px__val_live_objects() >= 0) cr_assert_eq(px__val_live_objects(), 1);
  px_val_release(t);
  if (px__val_live_objects() >= 0) cr_assert_eq(px__val_live_objects(), 0);
}

Test(val, shared_child_survives_parent) {
  px_val child = px_str("child");
  px_val parent = px_arr(1, px_val_retain(child));
  px_val_release(parent);
  cr_assert_str_eq(px_str_ptr(child), "child");
  px_val_release(child);
}

Test(val, releasing_deep_nesting_does_not_recurse) {
  /* This many levels would overflow the C stack if freeing recursed. */
  px_val v = px_int(0);
  for (int i = 0; i < 300000; i++) {
    if (i % 2)
      v = px_arr(1, v);
    else
      v = px_map(1, px_int(i), v);
  }
  px_val_release(v);
}

typedef struct share_arg {
  px_val v;
  int rounds;
} share_arg;

static void *share_worker(void *p) {
  share_arg *a = p;
  for (int i = 0; i < a->rounds; i++) px_val_release(px_val_retain(a->v));
  return NULL;
}

Test(val, concurrent_retain_release_keeps_count_exact) {
  share_arg a = {px_arr(1, px_str("payload")), 200000};
  pthread_t th[8];
  for (int i = 0; i < 8; i++) pthread_create(&th[i], NULL, share_worker, &a);
  for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
  cr_assert_eq(__atomic_load_n(&a.v.u.o->rc, __ATOMIC_RELAXED), 1);
  px_val_release(a.v);
}

/* ---- equality, order and hash ------------------------------------------- */

Test(val, equality_is_typed) {
  px_val s = px_str("a"), b = px_bin("a", 1);
  cr_assert_not(px_val_equal(px_int(1), px_double(1.0)));
  cr_assert_not(px_val_equal(px_atom_val("a"), s));
  cr_assert_not(px_val_equal(s, b));
  cr_assert_not(px_val_equal(px_nil(), px_bool(false)));
  cr_assert_not(px_val_equal(px_bool(false), px_int(0)));
  cr_assert(px_val_equal(px_atom_val("a"), px_atom_val("a")));
  px_val_release(s);
  px_val_release(b);
}

Test(val, double_equality_distinguishes_zero_signs_and_unifies_nans) {
  cr_assert_not(px_val_equal(px_double(0.0), px_double(-0.0)));
  cr_assert(px_val_equal(px_double(NAN), px_double(-NAN)));
  cr_assert(px_val_equal(px_double(NAN), px_double(nan("7"))));
  cr_assert_eq(px_val_hash(px_double(NAN)), px_val_hash(px_double(-NAN)));
  cr_assert_not(px_val_equal(px_double(NAN), px_double(INFINITY)));
}

Test(val, structural_equality_of_containers) {
  px_val a = px_arr(2, px_str("x"), px_arr(1, px_int(1)));
  px_val b = px_arr(2, px_str("x"), px_arr(1, px_int(1)));
  px_val c = px_arr(2, px_str("x"), px_arr(1, px_int(2)));
  px_val d = px_arr(2, px_arr(1, px_int(1)), px_str("x"));
  cr_assert(px_val_equal(a, b));
  cr_assert_not(px_val_equal(a, c));
  cr_assert_not(px_val_equal(a, d));
  cr_assert_eq(px_val_hash(a), px_val_hash(b));
  cr_assert_eq(px_val_compare(a, b), 0);
  px_val_release(a);
  px_val_release(b);
  px_val_release(c);
  px_val_release(d);
}

Test(val, maps_equal_regardless_of_insertion_order) {
  px_val a = px_map(3, px_str("a"), px_int(1), px_int(2), px_int(2),
                    px_atom_val("c"), px_nil());
  px_val b = px_map(3, px_atom_val("c"), px_nil(), px_int(2), px_int(2),
                    px_str("a"), px_int(1));
  px_val c = px_map(3, px_atom_val("c"), px_nil(), px_int(2), px_int(3),
                    px_str("a"), px_int(1));
  cr_assert(px_val_equal(a, b));
  cr_assert_eq(px_val_compare(a, b), 0);
  cr_assert_eq(px_val_hash(a), px_val_hash(b));
  cr_assert_not(px_val_equal(a, c));
  cr_assert_neq(px_val_compare(a, c), 0);
  px_val_release(a);
  px_val_release(b);
  px_val_release(c);
}

Test(val, compare_orders_by_type_first) {
  px_val s = px_str(""), b = px_bin(NULL, 0), a = px_arr(0), m = px_map(0);
  px_val order[] = {px_nil(),         px_bool(true), px_int(INT64_MAX),
                    px_double(-INFINITY), px_atom_val("zzz"), s, b, a, m};
  size_t n = sizeof order / sizeof order[0];
  for (size_t i = 0; i + 1 < n; i++) {
    cr_assert_lt(px_val_compare(order[i], order[i + 1]), 0, "at %zu", i);
    cr_assert_gt(px_val_compare(order[i + 1], order[i]), 0, "at %zu", i);
  }
  px_val_release(s);
  px_val_release(b);
  px_val_release(a);
  px_val_release(m);
}

Test(val, compare_scalars) {
  cr_assert_lt(px_val_compare(px_bool(false), px_bool(true)), 0);
  cr_assert_lt(px_val_compare(px_int(INT64_MIN), px_int(-1)), 0);
  cr_assert_gt(px_val_compare(px_int(INT64_MAX), px_int(0)), 0);
  double ds[] = {-INFINITY, -DBL_MAX, -1.0, -DBL_MIN, -0.0,
                 0.0,       DBL_MIN,  1.0,  INFINITY, NAN};
  for (size_t i = 0; i + 1 < sizeof ds / sizeof ds[0]; i++)
    cr_assert_lt(px_val_compare(px_double(ds[i]), px_double(ds[i + 1])), 0,
                 "%g < %g", ds[i], ds[i + 1]);
  cr_assert_eq(px_val_compare(px_double(NAN), px_double(-NAN)), 0);
  cr_assert_lt(px_val_compare(px_atom_val("abc"), px_atom_val("abd")), 0);
  cr_assert_lt(px_val_compare(px_atom_val("ab"), px_atom_val("abc")), 0);
}

Test(val, compare_strings_bytewise_then_by_length) {
  px_val a = px_strn("ab\0", 3), b = px_str("ab"), c = px_str("b"),
         d = px_str("\xff");
  cr_assert_gt(px_val_compare(a, b), 0);
  cr_assert_lt(px_val_compare(b, c), 0);
  cr_assert_lt(px_val_compare(c, d), 0); /* bytes compare unsigned */
  px_val_release(a);
  px_val_release(b);
  px_val_release(c);
  px_val_release(d);
}

Test(val, compare_maps_by_size_then_sorted_keys_then_values) {
  px_val small = px_map(1, px_int(9), px_int(9));
  px_val big = px_map(2, px_int(1), px_int(1), px_int(2), px_int(2));
  px_val keys_lo = px_map(2, px_int(2), px_int(0), px_int(0), px_int(0));
  px_val vals_hi = px_map(2, px_int(2), px_int(5), px_int(0), px_int(0));
  cr_assert_lt(px_val_compare(small, big), 0);
  cr_assert_lt(px_val_compare(keys_lo, big), 0); /* keys {0,2} < {1,2} */
  cr_assert_gt(px_val_compare(vals_hi, keys_lo), 0);
  px_val_release(small);
  px_val_release(big);
  px_val_release(keys_lo);
  px_val_release(vals_hi);
}

Test(val, hash_separates_types_and_values) {
  px_val s = px_str("1"), b = px_bin("1", 1);
  cr_assert_neq(px_val_hash(px_int(1)), px_val_hash(px_double(1.0)));
  cr_assert_neq(px_val_hash(s), px_val_hash(b));
  cr_assert_neq(px_val_hash(px_int(1)), px_val_hash(px_int(2)));
  cr_assert_neq(px_val_hash(px_double(0.0)), px_val_hash(px_double(-0.0)));
  cr_assert_eq(px_val_hash(s), px_val_hash(s)); /* cached path */
  px_val_release(s);
  px_val_release(b);
}

/* ---- printing ----------------------------------------------------------- */

Test(val, format_scalars) {
  cr_assert_str_eq(fmt(px_nil()), "nil");
  cr_assert_str_eq(fmt(px_bool(true)), "true");
  cr_assert_str_eq(fmt(px_bool(false)), "false");
  cr_assert_str_eq(fmt(px_int(INT64_MIN)), "-9223372036854775808");
  cr_assert_str_eq(fmt(px_double(1.0)), "1.0");
  cr_assert_str_eq(fmt(px_double(0.1)), "0.1");
  cr_assert_str_eq(fmt(px_double(-0.0)), "-0.0");
  cr_assert_str_eq(fmt(px_double(1e100)), "1e+100");
  cr_assert_str_eq(fmt(px_double(-INFINITY)), "-inf");
  cr_assert_str_eq(fmt(px_double(NAN)), "nan");
}

Test(val, format_atoms_bare_or_quoted) {
  cr_assert_str_eq(fmt(px_atom_val("ok")), "ok");
  cr_assert_str_eq(fmt(px_atom_val("node@host_1")), "node@host_1");
  cr_assert_str_eq(fmt(px_atom_val("Hello world")), "'Hello world'");
  cr_assert_str_eq(fmt(px_atom_val("it's")), "'it\\'s'");
  cr_assert_str_eq(fmt(px_atom_val("")), "''");
}

Test(val, format_strings_binaries_and_containers) {
  px_val v = px_map(3, px_str("k\"\n"), px_arr(2, px_int(1), px_strn("\0", 1)),
                    px_atom_val("b"), px_bin("\x00\x01\xff", 3),
                    px_int(3), px_map(0));
  cr_assert_str_eq(fmt(v), "#{\"k\\\"\\n\" => [1,\"\\x00\"],"
                           "b => <<0,1,255>>,3 => #{}}");
  px_val_release(v);
}

Test(val, format_truncates_with_ellipsis_and_reports_full_length) {
  px_val v = px_str("abcdefghij");
  char buf[8];
  size_t want = px_val_format(v, buf, sizeof buf);
  cr_assert_eq(want, 12);
  cr_assert_str_eq(buf, "\"abc...");
  char tiny[2] = {'x', 'x'};
  cr_assert_eq(px_val_format(v, tiny, 2), 12);
  cr_assert_str_eq(tiny, "\"");
  cr_assert_eq(px_val_format(v, NULL, 0), 12);
  px_val_release(v);
}

Test(val, format_exact_fit_is_not_truncated) {
  px_val v = px_str("abc");
  char buf[6];
  cr_assert_eq(px_val_format(v, buf, sizeof buf), 5);
  cr_assert_str_eq(buf, "\"abc\"");
  px_val_release(v);
}

/* ---- generative properties ---------------------------------------------- */

static uint64_t rng;

static uint64_t rnd(void) {
  uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static size_t below(size_t n) { return (size_t)(rnd() % n); }

static const char *atom_names[] = {"ok", "error", "", "a", "Quoted Atom",
                                   "\xc3\xa9t\xc3\xa9", "x@y"};

/* Appends one random UTF-8 code point (including NUL and 4-byte forms). */
static size_t put_code_point(char *p) {
  switch (below(5)) {
  case 0:
    p[0] = 0;
    return 1;
  case 1:
    p[0] = (char)(0x20 + below(95));
    return 1;
  case 2:
    p[0] = (char)0xc3;
    p[1] = (char)(0x80 + below(64));
    return 2;
  case 3:
    p[0] = (char)0xe2;
    p[1] = (char)0x82;
    p[2] = (char)0xac; /* euro sign */
    return 3;
  default:
    p[0] = (char)0xf0;
    p[1] = (char)0x9f;
    p[2] = (char)0x98;
    p[3] = (char)(0x80 + below(64));
    return 4;
  }
}

static int64_t gen_int(void) {
  static const int64_t edges[] = {0,      -1,        127,       128,
                                  -32,    -33,       255,       256,
                                  65535,  65536,     -32768,    -32769,
                                  INT64_MAX, INT64_MIN, 4294967296LL,
                                  (int64_t)INT32_MIN - 1};
  if (below(2)) return edges[below(sizeof edges / sizeof edges[0])];
  return (int64_t)(rnd() >> below(64));
}

static double gen_double(bool finite) {
  static const double edges[] = {0.0, -0.0, 1.0, -1.5, 0.1, 1e300,
                                 DBL_MIN, 5e-324, DBL_MAX, 123456.789};
  if (below(2)) return edges[below(sizeof edges / sizeof edges[0])];
  uint64_t bits = rnd();
  double d;
  memcpy(&d, &bits, sizeof d);
  if (finite && !isfinite(d)) d = 2.5;
  return d;
}

static px_val gen(int depth, bool json);

static px_val gen_bytes(bool is_str, bool json) {
  char buf[64];
  size_t n = 0, want = below(12);
  while (n < want) {
    if (is_str && json)
      n += put_code_point(buf + n);
    else
      buf[n++] = (char)below(256);
  }
  return is_str ? px_strn(buf, n) : px_bin(buf, n);
}

static px_val gen(int depth, bool json) {
  size_t kinds = depth >= 4 ? 7 : 9;
  size_t kind = below(kinds);
  if (depth == 0 && below(3)) kind = 7 + below(2); /* mostly containers */
  switch (kind) {
  case 0:
    return px_nil();
  case 1:
    return px_bool(below(2));
  case 2:
    return px_int(gen_int());
  case 3:
    return px_double(gen_double(json));
  case 4:
    return px_atom_val(
        atom_names[below(sizeof atom_names / sizeof *atom_names)]);
  case 5:
    return gen_bytes(true, json);
  case 6:
    return gen_bytes(false, json);
  case 7: {
    px_val a = px_array_new(0);
    for (size_t i = below(5); i > 0; i--)
      px_array_push(&a, gen(depth + 1, json));
    return a;
  }
  default: {
    px_val m = px_map_new(0);
    for (size_t i = below(5); i > 0; i--) {
      /* Half the maps have only string keys, so JSON sees plain objects. */
      px_val k = depth % 2 ? gen_bytes(true, json) : gen(depth + 2, json);
      px_map_put(&m, k, gen(depth + 1, json));
    }
    return m;
  }
  }
}

/* Builds an equal copy of `v` with every map's pairs in reverse order. */
static px_val reversed_copy(px_val v) {
  if (v.type == PX_T_ARRAY) {
    px_val a = px_array_new(px_len(v));
    for (size_t i = 0; i < px_len(v); i++)
      px_array_push(&a, reversed_copy(px_at(v, i)));
    return a;
  }
  if (v.type == PX_T_MAP) {
    px_val m = px_map_new(px_len(v));
    for (size_t i = px_len(v); i-- > 0;)
      px_map_put(&m, reversed_copy(px_map_key_at(v, i)),
                 reversed_copy(px_map_val_at(v, i)));
    return m;
  }
  if (v.type == PX_T_STR || v.type == PX_T_BIN)
    return v.type == PX_T_STR ? px_strn(px_str_ptr(v), px_len(v))
                              : px_bin(px_str_ptr(v), px_len(v));
  return v;
}

Test(val, property_msgpack_round_trips_random_values) {
  rng = 0x5eed0001;
  for (int i = 0; i < 3000; i++) {
    px_val v = gen(0, false), back;
    char *buf;
    size_t n;
    cr_assert_eq(px_msgpack_encode(v, &buf, &n), 0, "case %d", i);
    cr_assert_eq(px_msgpack_decode(buf, n, &back), 0, "case %d: %s", i,
                 fmt(v));
    cr_assert(px_val_equal(v, back), "case %d: %s", i, fmt(v));
    cr_assert_eq(px_val_hash(v), px_val_hash(back));
    free(buf);
    px_val_release(back);
    px_val_release(v);
  }
}

Test(val, property_json_round_trips_random_values) {
  rng = 0x5eed0002;
  for (int i = 0; i < 3000; i++) {
    px_val v = gen(0, true), back;
    char *buf, err[128];
    size_t n;
    cr_assert_eq(px_json_encode(v, &buf, &n), 0, "case %d: %s", i, fmt(v));
    cr_assert_eq(px_json_decode(buf, n, &back, err, sizeof err), 0,
                 "case %d: %s (%s)", i, buf, err);
    cr_assert(px_val_equal(v, back), "case %d: %s", i, buf);
    free(buf);
    px_val_release(back);
    px_val_release(v);
  }
}

static int sign(int x) { return (x > 0) - (x < 0); }

Test(val, property_compare_is_a_total_order_consistent_with_equal) {
  rng = 0x5eed0003;
  enum { N = 400 };
  px_val pool[N];
  for (int i = 0; i < N; i++) {
    /* Every fourth value is an equal copy with reversed map order, so ties
     * and differently built equal maps get exercised. */
    pool[i] = i % 4 == 3 ? reversed_copy(pool[i - 1]) : gen(1, false);
  }
  for (int i = 0; i < N; i++) {
    for (int j = 0; j < N; j++) {
      int c = px_val_compare(pool[i], pool[j]);
      bool eq = px_val_equal(pool[i], pool[j]);
      cr_assert_eq(sign(c), -sign(px_val_compare(pool[j], pool[i])));
      cr_assert_eq(c == 0, eq, "%d vs %d", i, j);
      if (eq) cr_assert_eq(px_val_hash(pool[i]), px_val_hash(pool[j]));
    }
  }
  /* Transitivity on random triples. */
  for (int t = 0; t < 200000; t++) {
    px_val a = pool[below(N)], b = pool[below(N)], c = pool[below(N)];
    if (px_val_compare(a, b) <= 0 && px_val_compare(b, c) <= 0)
      cr_assert_leq(px_val_compare(a, c), 0);
  }
  for (int i = 0; i < N; i++) px_val_release(pool[i]);
}

static int val_cmp(const void *a, const void *b) {
  return px_val_compare(*(const px_val *)a, *(const px_val *)b);
}

Test(val, property_sorted_order_holds_for_every_pair) {
  rng = 0x5eed0004;
  enum { N = 600 };
  px_val pool[N];
  for (int i = 0; i < N; i++) pool[i] = gen(2, false);
  qsort(pool, N, sizeof pool[0], val_cmp);
  /* With a non-transitive order some later pair would come out inverted. */
  for (int i = 0; i < N; i++)
    for (int j = i + 1; j < N; j++)
      cr_assert_leq(px_val_compare(pool[i], pool[j]), 0, "%d, %d", i, j);
  for (int i = 0; i < N; i++) px_val_release(pool[i]);
}
