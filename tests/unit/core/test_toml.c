/* Tests for the TOML parser: the px_val mapping (key order, date-time
 * tags), table rules, error positions and reasons, limits against deep
 * nesting, and that nothing leaks on success or failure. The full
 * conformance data is run by tests/conformance/toml. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/val_internal.h"
#include "plexspaces/error.h"
#include "plexspaces/toml.h"
#include "plexspaces/val.h"

static void no_leaks(void) {
  long live = px__val_live_objects();
  if (live > 0) {
    cr_log_error("%ld value(s) still alive at the end of the test", live);
    abort();
  }
}

TestSuite(toml, .fini = no_leaks);

static px_val ok(const char *text) {
  px_val v;
  px_toml_error e;
  int rc = px_toml_parse(text, strlen(text), &v, &e);
  cr_assert_eq(rc, 0, "%d:%d: %s", e.line, e.column, e.reason);
  cr_assert_eq(px_typeof(v), PX_T_MAP);
  return v;
}

/* Expects a rejection at line:col whose reason contains `needle`. */
static void bad(const char *text, int line, int col, const char *needle) {
  px_val v = px_int(7);
  px_toml_error e;
  int rc = px_toml_parse(text, strlen(text), &v, &e);
  cr_assert_eq(rc, PX_EDECODE, "accepted: %s", text);
  cr_assert(px_is_nil(v));
  cr_assert_eq(e.line, line, "line %d, want %d (%s)", e.line, line, e.reason);
  if (col) cr_assert_eq(e.column, col, "column %d, want %d", e.column, col);
  cr_assert(strstr(e.reason, needle), "reason '%s' lacks '%s'", e.reason,
            needle);
}

Test(toml, scalars_and_key_order) {
  px_val v = ok("b = 1\na = \"x\"\nc = 1.5\nd = true\ne = -0\n"
                "f = 0xff\ng = -inf\nh = nan\n");
  cr_assert_eq(px_len(v), 8);
  cr_assert_str_eq(px_str_ptr(px_map_key_at(v, 0)), "b");
  cr_assert_str_eq(px_str_ptr(px_map_key_at(v, 1)), "a");
  cr_assert_eq(px_gets(v, "b").u.i, 1);
  cr_assert_str_eq(px_str_ptr(px_gets(v, "a")), "x");
  cr_assert_eq(px_typeof(px_gets(v, "c")), PX_T_DOUBLE);
  cr_assert_eq(px_gets(v, "c").u.d, 1.5);
  cr_assert(px_gets(v, "d").u.b);
  cr_assert_eq(px_gets(v, "f").u.i, 255);
  cr_assert(isinf(px_gets(v, "g").u.d) && px_gets(v, "g").u.d < 0);
  cr_assert(isnan(px_gets(v, "h").u.d));
  px_val_release(v);
}

Test(toml, sign_on_hex_is_rejected) {
  bad("e = -0x1\n", 1, 5, "no sign");
}

Test(toml, int64_limits) {
  px_val v = ok("a = 9223372036854775807\nb = -9223372036854775808\n");
  cr_assert_eq(px_gets(v, "a").u.i, INT64_MAX);
  cr_assert_eq(px_gets(v, "b").u.i, INT64_MIN);
  px_val_release(v);
  bad("a = 9223372036854775808\n", 1, 5, "64 bits");
}

Test(toml, datetimes_are_tagged_maps) {
  px_val v = ok("a = 1979-05-27 07:32:00z\nb = 1979-05-27T07:32:00\n"
                "c = 1979-05-27\nd = 07:32:00.5\n");
  static const char *const want[][2] = {
      {"$datetime", "1979-05-27T07:32:00Z"},
      {"$datetime-local", "1979-05-27T07:32:00"},
      {"$date-local", "1979-05-27"},
      {"$time-local", "07:32:00.5"}};
  for (size_t i = 0; i < 4; i++) {
    px_val d = px_map_val_at(v, i);
    cr_assert_eq(px_typeof(d), PX_T_MAP);
    cr_assert_eq(px_len(d), 1);
    cr_assert_str_eq(px_str_ptr(px_map_key_at(d, 0)), want[i][0]);
    cr_assert_str_eq(px_str_ptr(px_map_val_at(d, 0)), want[i][1]);
  }
  px_val_release(v);
  bad("a = 2023-02-29\n", 1, 5, "does not exist");
}

Test(toml, tables_and_arrays_of_tables) {
  px_val v = ok("[node]\nname = \"n1\"\n[node.listen]\nport = 9000\n"
                "[[peer]]\nhost = \"a\"\n[[peer]]\nhost = \"b\"\n"
                "[x]\ny.z = 1\ninl = { k = [1, 2], m.n = \"o\" }\n");
  px_val node = px_gets(v, "node");
  cr_assert_str_eq(px_str_ptr(px_gets(node, "name")), "n1");
  cr_assert_eq(px_gets(px_gets(node, "listen"), "port").u.i, 9000);
  px_val peers = px_gets(v, "peer");
  cr_assert_eq(px_typeof(peers), PX_T_ARRAY);
  cr_assert_eq(px_len(peers), 2);
  cr_assert_str_eq(px_str_ptr(px_gets(px_at(peers, 1), "host")), "b");
  px_val x = px_gets(v, "x");
  cr_assert_eq(px_gets(px_gets(x, "y"), "z").u.i, 1);
  px_val inl = px_gets(x, "inl");
  cr_assert_eq(px_len(px_gets(inl, "k")), 2);
  cr_assert_str_eq(px_str_ptr(px_gets(px_gets(inl, "m"), "n")), "o");
  px_val_release(v);
}

Test(toml, duplicates_are_rejected) {
  bad("a = 1\na = 2\n", 2, 1, "'a' is defined twice");
  bad("[t]\n[t]\n", 2, 1, "'t' is defined twice");
  bad("[t]\nx.y = 1\n[t.x]\n", 3, 1, "'t.x' is defined twice");
  bad("a = {b = 1}\n[a]\n", 2, 1, "defined twice");
  bad("a = {b = 1}\na.c = 2\n", 2, 1, "defined elsewhere");
  bad("a = [1]\n[[a]]\n", 2, 1, "not an array of tables");
}

Test(toml, errors_carry_line_column_and_reason) {
  bad("# config\n[node]\nname = \"n1\nport = 1\n", 3, 8, "unterminated");
  bad("a = 1\nb = \n", 2, 5, "expected a value");
  bad("a = 1 2\n", 1, 7, "end of the line");
  bad("a = \"\\q\"\n", 1, 6, "invalid escape");
  bad("a = 01\n", 1, 5, "leading zeros");
  bad("a = 1\r\n b = 2\rc=3", 2, 7, "carriage return");
  bad("k = \"\xff\"\n", 1, 6, "UTF-8");
  bad("a = { b = 1,\n c = 2 }\n", 1, 13, "expected a key");
}

Test(toml, nesting_is_limited) {
  size_t n = 100000;
  char *t = malloc(n + 8);
  memcpy(t, "a = ", 4);
  memset(t + 4, '[', n);
  t[n + 4] = 0;
  px_val v;
  px_toml_error e;
  cr_assert_eq(px_toml_parse(t, strlen(t), &v, &e), PX_EDECODE);
  cr_assert(strstr(e.reason, "nest"), "%s", e.reason);
  free(t);

  /* Deep headers: many parts are refused, not recursed on. */
  char buf[2048] = "[a";
  for (int i = 0; i < 200; i++) strcat(buf, ".a");
  strcat(buf, "]\n");
  cr_assert_eq(px_toml_parse(buf, strlen(buf), &v, &e), PX_EDECODE);
  cr_assert(strstr(e.reason, "parts"), "%s", e.reason);
}

Test(toml, many_keys_parse_quickly) {
  size_t n = 50000, cap = n * 24 + 1, o = 0;
  char *t = malloc(cap);
  for (size_t i = 0; i < n; i++)
    o += (size_t)snprintf(t + o, cap - o, "k%zu = %zu\n", i, i);
  px_val v = ok(t);
  cr_assert_eq(px_len(v), n);
  cr_assert_eq(px_gets(v, "k49999").u.i, 49999);
  px_val_release(v);
  free(t);
}

Test(toml, empty_and_null_input) {
  px_val v;
  cr_assert_eq(px_toml_parse(NULL, 0, &v, NULL), 0);
  cr_assert_eq(px_len(v), 0);
  px_val_release(v);
  cr_assert_eq(px_toml_parse("x", 1, &v, NULL), PX_EDECODE);
  cr_assert(px_is_nil(v));
}

Test(toml, input_need_not_be_nul_terminated) {
  const char text[] = "a = 12345";
  px_val v;
  cr_assert_eq(px_toml_parse(text, 6, &v, NULL), 0); /* "a = 12" */
  cr_assert_eq(px_gets(v, "a").u.i, 12);
  px_val_release(v);
}

/* Every prefix of a valid document either parses or fails cleanly. */
Test(toml, every_prefix_is_safe) {
  const char doc[] =
      "# c\n[a.b]\nk = \"\"\"x\\\n  y\"\"\"\nl = '''z'''\n[[c]]\n"
      "d = [1, {e = 2}, 1979-05-27T00:00:00+01:00]\nf.g = 1e3\n";
  for (size_t n = 0; n <= sizeof doc - 1; n++) {
    char *t = malloc(n ? n : 1);
    memcpy(t, doc, n);
    px_val v;
    px_toml_error e;
    int rc = px_toml_parse(t, n, &v, &e);
    cr_assert(rc == 0 || rc == PX_EDECODE);
    if (rc == 0) px_val_release(v);
    else cr_assert(e.line > 0 && e.reason[0]);
    free(t);
  }
}
