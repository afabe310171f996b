/* The toml-test conformance data (TOML 1.0.0) against px_toml_parse.
 *
 * The data lives outside the repository, in ${PX_TOML_TEST_DIR} or else in
 * ../shared/toml-test next to the repository root. Its list
 * files-toml-1.0.0 names every file: each valid/ .toml file must parse to the
 * value its .json describes (tagged leaves {"type": T, "value": S},
 * compared by value), and each invalid/ .toml file must be rejected with an
 * error that has a line and a reason. Counts are printed; any mismatch
 * fails the test. Without the data (and without PX_TOML_TEST_DIR) the test
 * is skipped with a warning. Running it under ASan also checks for leaks and
 * crashes. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

TestSuite(toml_suite, .fini = no_leaks);

/* Returns the data directory (static storage). */
static const char *suite_dir(void) {
  static char buf[4096];
  const char *env = getenv("PX_TOML_TEST_DIR");
  if (env && *env) return env;
  const char *file = __FILE__;
  const char *tail = strstr(file, "tests/conformance/toml/");
  size_t n = tail ? (size_t)(tail - file) : 0;
  snprintf(buf, sizeof buf, "%.*s../shared/toml-test", (int)n, file);
  /* a clone elsewhere on this machine: the shared folder's usual place */
  char probe[4200];
  snprintf(probe, sizeof probe, "%s/files-toml-1.0.0", buf);
  if (access(probe, R_OK) != 0 &&
      access("/work/shared/toml-test/files-toml-1.0.0", R_OK) == 0)
    snprintf(buf, sizeof buf, "/work/shared/toml-test");
  return buf;
}

/* snprintf into a path buffer; a path too long for it fails the test. */
static void path_of(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void path_of(char *buf, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, cap, fmt, ap);
  va_end(ap);
  cr_assert(n >= 0 && (size_t)n < cap, "path too long");
}

/* Reads a whole file; caller frees. NULL if it cannot be read. */
static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *b = malloc(cap + 1);
  size_t r;
  while ((r = fread(b + n, 1, cap - n, f)) > 0) {
    n += r;
    if (n == cap) {
      cap *= 2;
      b = realloc(b, cap + 1);
    }
  }
  fclose(f);
  b[n] = 0;
  *len = n;
  return b;
}

/* Normalises an RFC 3339 spelling so equal instants compare equal:
 * upper case, 'T' separator, no trailing zeros in the fraction, and 'Z'
 * for a zero offset. */
static void norm_dt(const char *in, char *out, size_t cap) {
  size_t n = 0;
  for (; *in && n + 1 < cap; in++) {
    char c = (char)toupper((unsigned char)*in);
    if (c == ' ') c = 'T';
    out[n++] = c;
  }
  out[n] = 0;
  size_t L = strlen(out);
  if (L >= 6 && (!strcmp(out + L - 6, "+00:00") ||
                 !strcmp(out + L - 6, "-00:00"))) {
    strcpy(out + L - 6, "Z");
  }
  char *dot = strchr(out, '.');
  if (dot) {
    char *e = dot + 1;
    while (isdigit((unsigned char)*e)) e++;
    char *z = e;
    while (z > dot + 1 && z[-1] == '0') z--;
    if (z == dot + 1) z = dot;
    memmove(z, e, strlen(e) + 1);
  }
}

/* jansson cannot decode NUL in object keys, so the expected JSON has each
 * \u0000 rewritten to \ufdd0 before decoding, and this maps it back: a
 * new string with every U+FDD0 (EF B7 90) turned into a NUL byte. */
static px_val unmap(px_val s) {
  const char *b = px_str_ptr(s);
  size_t n = px_str_len(s), o = 0;
  char *t = malloc(n + 1);
  for (size_t i = 0; i < n; i++) {
    if (i + 2 < n && !memcmp(b + i, "\xef\xb7\x90", 3)) {
      t[o++] = 0;
      i += 2;
    } else {
      t[o++] = b[i];
    }
  }
  px_val r = px_strn(t, o);
  free(t);
  return r;
}

static void nul_to_placeholder(char *j, size_t *len) {
  for (size_t i = 0; i + 1 < *len; i++) {
    if (j[i] != '\\') continue;
    if (i + 5 < *len && !memcmp(j + i + 1, "u0000", 5))
      memcpy(j + i + 1, "ufdd0", 5);
    i++; /* skip the escaped character */
  }
}

static const char *dt_type(px_val v, px_val *s) {
  static const char *const tags[][2] = {
      {"$datetime", "datetime"},
      {"$datetime-local", "datetime-local"},
      {"$date-local", "date-local"},
      {"$time-local", "time-local"}};
  if (px_typeof(v) != PX_T_MAP || px_len(v) != 1) return NULL;
  px_val k = px_map_key_at(v, 0);
  *s = px_map_val_at(v, 0);
  if (px_typeof(k) != PX_T_STR || px_typeof(*s) != PX_T_STR) return NULL;
  for (size_t i = 0; i < 4; i++)
    if (!strcmp(px_str_ptr(k), tags[i][0])) return tags[i][1];
  return NULL;
}

/* Compares got (from TOML) with want (decoded tagged JSON); writes a
 * description of the first difference into why. */
static bool same(px_val got, px_val want, char *why, size_t cap) {
  px_val wt = px_gets(want, "type"), wv = px_gets(want, "value");
  bool leaf = px_typeof(want) == PX_T_MAP && px_len(want) == 2 &&
              px_typeof(wt) == PX_T_STR && px_typeof(wv) == PX_T_STR;
  if (leaf) {
    const char *t = px_str_ptr(wt), *s = px_str_ptr(wv);
    px_val ds;
    const char *dt = dt_type(got, &ds);
    if (dt) {
      char a[128], b[128];
      norm_dt(px_str_ptr(ds), a, sizeof a);
      norm_dt(s, b, sizeof b);
      if (strcmp(dt, t) || strcmp(a, b)) {
        snprintf(why, cap, "%s %s, want %s %s", dt, a, t, b);
        return false;
      }
      return true;
    }
    switch (px_typeof(got)) {
      case PX_T_STR: {
        px_val u = unmap(wv);
        bool eq = !strcmp(t, "string") && px_str_len(got) == px_str_len(u) &&
                  !memcmp(px_str_ptr(got), px_str_ptr(u), px_str_len(u));
        px_val_release(u);
        if (eq) return true;
        break;
      }
      case PX_T_INT:
        if (!strcmp(t, "integer") && got.u.i == strtoll(s, NULL, 10))
          return true;
        break;
      case PX_T_DOUBLE: {
        double w = strtod(s, NULL);
        if (!strcmp(t, "float") &&
            ((isnan(w) && isnan(got.u.d)) || w == got.u.d))
          return true;
        break;
      }
      case PX_T_BOOL:
        if (!strcmp(t, "bool") && !strcmp(s, got.u.b ? "true" : "false"))
          return true;
        break;
      default:
        break;
    }
    char g[128];
    px_val_format(got, g, sizeof g);
    snprintf(why, cap, "got %s, want %s %s", g, t, s);
    return false;
  }
  if (px_typeof(want) == PX_T_ARRAY) {
    if (px_typeof(got) != PX_T_ARRAY || px_len(got) != px_len(want)) {
      snprintf(why, cap, "array length or type differs");
      return false;
    }
    for (size_t i = 0; i < px_len(want); i++)
      if (!same(px_at(got, i), px_at(want, i), why, cap)) return false;
    return true;
  }
  if (px_typeof(want) == PX_T_MAP) {
    if (px_typeof(got) != PX_T_MAP || px_len(got) != px_len(want)) {
      snprintf(why, cap, "table size or type differs (%zu vs %zu keys)",
               px_len(got), px_len(want));
      return false;
    }
    for (size_t i = 0; i < px_len(want); i++) {
      px_val k = unmap(px_map_key_at(want, i)), g;
      bool found = px_map_find(got, k, &g);
      if (!found) snprintf(why, cap, "missing key '%s'", px_str_ptr(k));
      px_val_release(k);
      if (!found) return false;
      if (!same(g, px_map_val_at(want, i), why, cap)) return false;
    }
    return true;
  }
  snprintf(why, cap, "unexpected expected-value shape");
  return false;
}

Test(toml_suite, all_files) {
  const char *dir = suite_dir();
  char path[4096];
  path_of(path, sizeof path, "%s/files-toml-1.0.0", dir);
  size_t llen;
  char *list = slurp(path, &llen);
  if (!list && !getenv("PX_TOML_TEST_DIR")) {
    /* A checkout without the shared data: say so rather than fail. */
    cr_log_warn("no toml-test data at %s; set PX_TOML_TEST_DIR", path);
    cr_skip_test("toml-test data not found");
  }
  cr_assert_not_null(list, "cannot read %s (set PX_TOML_TEST_DIR)", path);
  int valid_ok = 0, valid_n = 0, invalid_ok = 0, invalid_n = 0, json_n = 0;
  int shown = 0;
  for (char *line = strtok(list, "\n"); line; line = strtok(NULL, "\n")) {
    size_t L = strlen(line);
    if (L < 5 || strcmp(line + L - 5, ".toml")) {
      json_n++;
      continue;
    }
    path_of(path, sizeof path, "%s/%s", dir, line);
    size_t len;
    char *text = slurp(path, &len);
    cr_assert_not_null(text, "cannot read %s", path);
    px_val v;
    px_toml_error err;
    int rc = px_toml_parse(text, len, &v, &err);
    char why[512] = "";
    bool ok;
    if (!strncmp(line, "valid/", 6)) {
      valid_n++;
      ok = false;
      if (rc != 0) {
        snprintf(why, sizeof why, "rejected: %d:%d: %s", err.line,
                 err.column, err.reason);
      } else {
        char jpath[4096];
        path_of(jpath, sizeof jpath, "%s/%.*s.json", dir, (int)(L - 5),
                 line);
        size_t jlen;
        char *json = slurp(jpath, &jlen);
        cr_assert_not_null(json, "cannot read %s", jpath);
        nul_to_placeholder(json, &jlen);
        px_val want;
        char jerr[128];
        cr_assert_eq(px_json_decode(json, jlen, &want, jerr, sizeof jerr),
                     0, "%s: %s", jpath, jerr);
        ok = same(v, want, why, sizeof why);
        px_val_release(want);
        free(json);
      }
      valid_ok += ok;
    } else {
      invalid_n++;
      ok = rc == PX_EDECODE && err.line > 0 && err.reason[0];
      if (rc == 0) snprintf(why, sizeof why, "accepted");
      else if (!ok) snprintf(why, sizeof why, "rc %d, no position", rc);
      invalid_ok += ok;
    }
    if (rc == 0) px_val_release(v);
    if (!ok && shown++ < 100) cr_log_error("%s: %s", line, why);
    free(text);
  }
  free(list);
  cr_log_info("toml-test: valid %d/%d, invalid %d/%d (+%d json files)",
              valid_ok, valid_n, invalid_ok, invalid_n, json_n);
  fprintf(stderr, "toml-test: valid %d/%d, invalid %d/%d (+%d json)\n",
          valid_ok, valid_n, invalid_ok, invalid_n, json_n);
  cr_assert_gt(valid_n + invalid_n, 0);
  cr_assert_eq(valid_ok, valid_n);
  cr_assert_eq(invalid_ok, invalid_n);
}
