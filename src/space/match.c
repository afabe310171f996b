/* Templates: checking and matching (R-K-6, R-K-10 as far as it applies to
 * untyped tuples). Templates are interpreted directly, no compiled form:
 * a field is nil (wildcard), a single-key map whose key starts with '$'
 * (a formal), or an exact value compared with px_val_equal (typed equality:
 * int 1 != double 1.0, atom a != string "a"). */
#include <stdio.h>
#include <string.h>

#include "plexspaces/error.h"
#include "space/space_internal.h"

static void set_err(char *buf, size_t cap, const char *msg) {
  if (buf && cap) snprintf(buf, cap, "%s", msg);
}

/* The formal key of a single-key map ("$type", ...), else NULL. */
static const char *formal_key(px_val f, size_t *len) {
  if (px_typeof(f) != PX_T_MAP || px_len(f) != 1) return NULL;
  px_val k = px_map_key_at(f, 0);
  const char *s = NULL;
  size_t n = 0;
  if (px_typeof(k) == PX_T_STR) {
    s = px_str_ptr(k);
    n = px_str_len(k);
  } else if (px_typeof(k) == PX_T_ATOM) {
    s = px_atom_name(k.u.a);
    n = px_atom_len(k.u.a);
  }
  if (!s || n < 2 || s[0] != '$') return NULL;
  *len = n;
  return s;
}

static bool key_is(const char *k, size_t n, const char *lit) {
  return n == strlen(lit) && memcmp(k, lit, n) == 0;
}

static const char *const type_names[] = {
    [PX_T_NIL] = "nil",   [PX_T_BOOL] = "bool",   [PX_T_INT] = "int",
    [PX_T_DOUBLE] = "double", [PX_T_ATOM] = "atom", [PX_T_STR] = "string",
    [PX_T_BIN] = "binary", [PX_T_ARRAY] = "array", [PX_T_MAP] = "map",
};

static int type_of_name(px_val n) {
  const char *s = NULL;
  size_t len = 0;
  if (px_typeof(n) == PX_T_STR) {
    s = px_str_ptr(n);
    len = px_str_len(n);
  } else if (px_typeof(n) == PX_T_ATOM) {
    s = px_atom_name(n.u.a);
    len = px_atom_len(n.u.a);
  }
  if (!s) return -1;
  for (int t = 0; t <= PX_T_MAP; t++)
    if (key_is(s, len, type_names[t])) return t;
  return -1;
}

bool px__ts_formal_exact(px_val f, px_val *v) {
  size_t n;
  const char *k = formal_key(f, &n);
  if (!k) {
    *v = f;
    return true;
  }
  if (key_is(k, n, "$exact")) {
    *v = px_map_val_at(f, 0);
    return true;
  }
  return false;
}

int px__ts_field_check(px_val f, char *errbuf, size_t errcap) {
  size_t n;
  const char *k = formal_key(f, &n);
  if (!k) return 0;
  px_val a = px_map_val_at(f, 0);
  if (key_is(k, n, "$exact")) return 0;
  if (key_is(k, n, "$type")) {
    if (type_of_name(a) < 0) {
      set_err(errbuf, errcap, "$type: unknown type name");
      return PX_EINVAL;
    }
    return 0;
  }
  if (key_is(k, n, "$range")) {
    if (px_typeof(a) != PX_T_ARRAY || px_len(a) != 2) {
      set_err(errbuf, errcap, "$range: expected [lo, hi]");
      return PX_EINVAL;
    }
    px_val lo = px_at(a, 0), hi = px_at(a, 1);
    bool ints = px_typeof(lo) == PX_T_INT && px_typeof(hi) == PX_T_INT;
    bool strs = px_typeof(lo) == PX_T_STR && px_typeof(hi) == PX_T_STR;
    if (!ints && !strs) {
      set_err(errbuf, errcap, "$range: bounds must be two ints or two strings");
      return PX_EINVAL;
    }
    return 0;
  }
  if (key_is(k, n, "$prefix")) {
    if (px_typeof(a) != PX_T_STR) {
      set_err(errbuf, errcap, "$prefix: expected a string");
      return PX_EINVAL;
    }
    return 0;
  }
  set_err(errbuf, errcap, "unknown formal (expected $type/$range/$prefix/$exact)");
  return PX_EINVAL;
}

static int bytes_cmp(px_val a, px_val b) {
  size_t la = px_str_len(a), lb = px_str_len(b);
  int c = memcmp(px_str_ptr(a), px_str_ptr(b), la < lb ? la : lb);
  if (c) return c;
  return la < lb ? -1 : la > lb;
}

bool px__ts_field_match(px_val f, px_val v) {
  if (px_is_nil(f)) return true;
  /* The common exact scalar: typed equality without a call. */
  if (f.type != PX_T_MAP && f.type != v.type) return false;
  if (f.type == PX_T_INT) return f.u.i == v.u.i;
  if (f.type == PX_T_ATOM) return f.u.a == v.u.a;
  size_t n;
  const char *k = formal_key(f, &n);
  if (!k) return px_val_equal(f, v);
  px_val a = px_map_val_at(f, 0);
  if (key_is(k, n, "$exact")) return px_val_equal(a, v);
  if (key_is(k, n, "$type")) return type_of_name(a) == (int)px_typeof(v);
  if (key_is(k, n, "$range")) {
    px_val lo = px_at(a, 0), hi = px_at(a, 1);
    if (px_typeof(lo) == PX_T_INT) {
      return px_typeof(v) == PX_T_INT && lo.u.i <= v.u.i && v.u.i <= hi.u.i;
    }
    return px_typeof(v) == PX_T_STR && bytes_cmp(lo, v) <= 0 &&
           bytes_cmp(v, hi) <= 0;
  }
  if (key_is(k, n, "$prefix")) {
    if (px_typeof(v) != PX_T_STR) return false;
    size_t pl = px_str_len(a);
    return px_str_len(v) >= pl && memcmp(px_str_ptr(v), px_str_ptr(a), pl) == 0;
  }
  return false;
}

int px__ts_tuple_check(px_val t) {
  if (px_typeof(t) != PX_T_ARRAY) return PX_EINVAL;
  size_t n = px__ts_len(t);
  return (n >= 1 && n <= PX_TUPLE_MAX_ARITY) ? 0 : PX_EINVAL;
}

int px_ts_template_check(px_val tmpl, char *errbuf, size_t errcap) {
  if (px_typeof(tmpl) != PX_T_ARRAY) {
    set_err(errbuf, errcap, "a template is an array");
    return PX_EINVAL;
  }
  size_t n = px__ts_len(tmpl);
  if (n < 1 || n > PX_TUPLE_MAX_ARITY) {
    set_err(errbuf, errcap, "a template has 1..1000 fields");
    return PX_EINVAL;
  }
  for (size_t i = 0; i < n; i++) {
    px_val f = px__ts_at(tmpl, i);
    if (f.type != PX_T_MAP) continue; /* exact value or wildcard */
    int rc = px__ts_field_check(f, errbuf, errcap);
    if (rc) return rc;
  }
  return 0;
}

bool px_ts_match(px_val tmpl, px_val tuple) {
  if (px_typeof(tmpl) != PX_T_ARRAY || px_typeof(tuple) != PX_T_ARRAY)
    return false;
  return px__ts_match_checked(tmpl, tuple);
}
