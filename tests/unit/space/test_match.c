/* Unit: template checking/matching and the bucket index (a read by a
 * template whose field 0 is exact examines only its bucket). */
#include <criterion/criterion.h>

#include "plexspaces/px.h"
#include "plexspaces/space.h"
#include "space/space_internal.h"

static void setup(void) {
  px_runtime_opts o = {.workers = 2, .virtual_clock = true};
  cr_assert_eq(px_runtime_start(&o), 0);
}
static void teardown(void) { px_runtime_stop(); }
TestSuite(ts_match, .init = setup, .fini = teardown, .timeout = 60);

static bool m1(px_val field, px_val v) {
  px_val t = px_arr(1, field), x = px_arr(1, v);
  bool r = px_ts_match(t, x);
  px_val_release(t);
  px_val_release(x);
  return r;
}

Test(ts_match, type_formals_for_every_type) {
  const char *names[] = {"nil", "bool", "int", "double", "atom",
                         "string", "binary", "array", "map"};
  px_val vals[] = {px_nil(), px_bool(true), px_int(1), px_double(1.5),
                   px_atom_val("a"), px_str("s"), px_bin("b", 1),
                   px_arr(1, px_int(1)), px_map(1, px_str("k"), px_int(1))};
  for (int i = 0; i < 9; i++)
    for (int j = 0; j < 9; j++) {
      /* key as string for even i, as atom for odd i */
      px_val f = (i % 2) ? px_map(1, px_atom_val("$type"), px_str(names[i]))
                         : px_map(1, px_str("$type"), px_atom_val(names[i]));
      cr_assert_eq(m1(f, px_val_retain(vals[j])), i == j, "%s vs %d",
                   names[i], j);
    }
  for (int j = 0; j < 9; j++) px_val_release(vals[j]);
}

Test(ts_match, plain_maps_are_exact_values) {
  /* a map that is not a single $-key is an exact value */
  px_val m = px_map(2, px_str("a"), px_int(1), px_str("b"), px_int(2));
  cr_assert(m1(px_val_retain(m), px_val_retain(m)));
  cr_assert(!m1(px_val_retain(m), px_map(1, px_str("a"), px_int(1))));
  px_val_release(m);
  cr_assert(m1(px_map(1, px_str("a"), px_int(1)),
               px_map(1, px_str("a"), px_int(1))));
  cr_assert(m1(px_map(1, px_str("$range"), px_arr(2, px_str("b"), px_str("d"))),
               px_str("c")));
  cr_assert(!m1(px_map(1, px_str("$range"),
                       px_arr(2, px_str("b"), px_str("d"))),
                px_str("da")));
  cr_assert(m1(px_map(1, px_str("$prefix"), px_str("")), px_str("x")));
}

Test(ts_match, exact_field0_reads_one_bucket) {
  px_space *s;
  cr_assert_eq(px_space_open(NULL, NULL, "idx", PX_SPACE_MEMORY, &s), 0);
  for (int i = 0; i < 20000; i++)
    px_ts_write(s, px_arr(2, px_int(i), px_str("v")), 0, NULL);
  uint64_t before = px__ts_visits(s);
  px_val v;
  cr_assert_eq(px_ts_read(s, px_arr(2, px_int(12345), px_nil()), 0, &v), 0);
  cr_assert_eq(px_at(v, 0).u.i, 12345);
  px_val_release(v);
  cr_assert_leq(px__ts_visits(s) - before, 2);
  cr_assert_eq(px_ts_take(s, px_arr(2, px_map(1, px_str("$exact"),
                                              px_int(7)), px_nil()),
                          0, &v), 0);
  px_val_release(v);
  cr_assert_leq(px__ts_visits(s) - before, 4);
  /* other arities are not scanned either */
  cr_assert_eq(px_ts_read(s, px_arr(3, px_nil(), px_nil(), px_nil()), 0, &v),
               PX_ETIMEDOUT);
  cr_assert_leq(px__ts_visits(s) - before, 4);
  px_space_close(s);
}

/* The tagged layout: field 0 is a type tag shared by every tuple, field 1
 * the key. Reads by (tag, key) and by (_, key) must not walk the tag's
 * 20,000 tuples once their index exists; the indexes stay right as tuples
 * come and go, and the oldest match still comes first. */
static int64_t read_key(px_space *s, px_val tmpl) {
  px_val v;
  int rc = px_ts_read(s, tmpl, 0, &v);
  if (rc) return -1;
  int64_t r = px_at(v, 2).u.i;
  px_val_release(v);
  return r;
}

Test(ts_match, tagged_layout_uses_field_1_indexes) {
  px_space *s;
  cr_assert_eq(px_space_open(NULL, NULL, "tagged", PX_SPACE_MEMORY, &s), 0);
  for (int i = 0; i < 20000; i++)
    px_ts_write(s, px_arr(3, px_str("job"), px_int(i), px_int(i)), 0, NULL);
  /* a second tuple with key 500, newer: reads keep returning the older */
  px_ts_write(s, px_arr(3, px_str("job"), px_int(500), px_int(-500)), 0, NULL);
  /* first lookups build the indexes */
  cr_assert_eq(read_key(s, px_arr(3, px_str("job"), px_int(1), px_nil())), 1);
  cr_assert_eq(read_key(s, px_arr(3, px_nil(), px_int(2), px_nil())), 2);
  uint64_t before = px__ts_visits(s);
  cr_assert_eq(read_key(s, px_arr(3, px_str("job"), px_int(12345), px_nil())),
               12345);
  cr_assert_eq(read_key(s, px_arr(3, px_nil(), px_int(777), px_nil())), 777);
  cr_assert_eq(read_key(s, px_arr(3, px_str("job"), px_int(500), px_nil())),
               500);
  cr_assert_eq(read_key(s, px_arr(3, px_map(1, px_str("$type"), px_str("string")),
                                  px_int(500), px_nil())),
               500);
  cr_assert_leq(px__ts_visits(s) - before, 6);
  /* a tuple written after the build is found through the indexes */
  px_ts_write(s, px_arr(3, px_str("job"), px_int(50000), px_int(7)), 0, NULL);
  cr_assert_eq(read_key(s, px_arr(3, px_str("job"), px_int(50000), px_nil())),
               7);
  cr_assert_eq(read_key(s, px_arr(3, px_nil(), px_int(50000), px_nil())), 7);
  /* a take through one index removes the tuple from all of them */
  px_val v;
  cr_assert_eq(px_ts_take(s, px_arr(3, px_nil(), px_int(500), px_nil()), 0, &v),
               0);
  cr_assert_eq(px_at(v, 2).u.i, 500);
  px_val_release(v);
  cr_assert_eq(read_key(s, px_arr(3, px_str("job"), px_int(500), px_nil())),
               -500);
  cr_assert_eq(px_ts_take(s, px_arr(3, px_str("job"), px_int(500), px_nil()), 0,
                          &v), 0);
  px_val_release(v);
  cr_assert_eq(read_key(s, px_arr(3, px_nil(), px_int(500), px_nil())), -1);
  size_t n = 0;
  cr_assert_eq(px_ts_count(s, px_arr(3, px_str("job"), px_nil(), px_nil()), &n),
               0);
  cr_assert_eq(n, 20000);
  cr_assert_eq(px__ts_stored(s), 20000);
  cr_assert_leq(px__ts_visits(s) - before, 6 + 20000 + 8);
  /* take_all through the field-1 index, then nothing is left under it */
  px_ts_write(s, px_arr(3, px_str("other"), px_int(9), px_int(-9)), 0, NULL);
  cr_assert_eq(px_ts_take_all(s, px_arr(3, px_nil(), px_int(9), px_nil()), 0,
                              &v), 0);
  cr_assert_eq(px_len(v), 2);
  cr_assert_eq(px_at(px_at(v, 0), 2).u.i, 9); /* oldest first */
  cr_assert_eq(px_at(px_at(v, 1), 2).u.i, -9);
  px_val_release(v);
  cr_assert_eq(read_key(s, px_arr(3, px_nil(), px_int(9), px_nil())), -1);
  px_space_close(s);
}

Test(ts_match, open_close_refcount) {
  px_space *a, *b;
  cr_assert_eq(px_space_open(NULL, NULL, "rc", PX_SPACE_MEMORY, &a), 0);
  cr_assert_eq(px_space_open(NULL, NULL, "rc", PX_SPACE_MEMORY, &b), 0);
  cr_assert_eq(a, b);
  px_ts_write(a, px_arr(1, px_int(1)), 0, NULL);
  px_space_close(a);
  size_t n;
  cr_assert_eq(px_ts_count(b, px_arr(1, px_nil()), &n), 0);
  cr_assert_eq(n, 1);
  px_space_close(b);
  cr_assert_eq(px_space_open(NULL, NULL, "rc", PX_SPACE_MEMORY, &a), 0);
  cr_assert_eq(px_ts_count(a, px_arr(1, px_nil()), &n), 0);
  cr_assert_eq(n, 0); /* a memory space lives while a handle is open */
  px_space_close(a);
  cr_assert_eq(px_space_open(NULL, NULL, "", PX_SPACE_MEMORY, &a), PX_EINVAL);
}
