/* TOML 1.0.0 parser, hand-written on purpose: no C TOML library is
 * packaged (Debian has only C++ ones), and a config parser is small enough
 * to own. It is checked against the toml-test data in
 * tests/conformance/toml.
 *
 * The parser works in two passes. The first builds a private tree of nodes
 * in an arena, which keeps the bookkeeping TOML needs (was a table defined
 * by a header, created implicitly by a longer header, created by dotted
 * keys, or written inline and so frozen?). Errors longjmp out of the first
 * pass; since every node and string lives in the arena, one arena free
 * cleans up whatever was half built. The second pass turns the tree into
 * px_val maps and arrays with the fallible builders, so a failed
 * allocation gives PX_ENOMEM and never aborts.
 *
 * Recursion: inline arrays and tables recurse in the first pass (limited
 * to MAX_NEST levels); the second pass recurses once per level of the
 * final tree and stops at PX__MAX_DEPTH. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/toml_internal.h"
#include "core/val_internal.h"
#include "plexspaces/error.h"

static const char *const dt_tag[] = {"$datetime", "$datetime-local",
                                     "$date-local", "$time-local"};

/* ---- tables ------------------------------------------------------------- */

static void grow(parser *p, node *t) {
  if (t->n < t->cap) return;
  size_t cap = t->cap ? t->cap * 2 : 4;
  node **kids = px__toml_arena_alloc(p, cap * sizeof *kids);
  if (t->n) memcpy(kids, t->kids, t->n * sizeof *kids);
  t->kids = kids;
  if (t->kind == N_TABLE) {
    const char **keys = px__toml_arena_alloc(p, cap * sizeof *keys);
    size_t *klens = px__toml_arena_alloc(p, cap * sizeof *klens);
    if (t->n) {
      memcpy(keys, t->keys, t->n * sizeof *keys);
      memcpy(klens, t->klens, t->n * sizeof *klens);
    }
    t->keys = keys;
    t->klens = klens;
  }
  t->cap = cap;
}

static uint64_t key_hash(const char *k, size_t kl) {
  uint64_t h = 1469598103934665603u;
  for (size_t i = 0; i < kl; i++)
    h = (h ^ (unsigned char)k[i]) * 1099511628211u;
  return h;
}

static node *table_find(node *t, const char *k, size_t kl) {
  if (t->idx) {
    for (size_t s = key_hash(k, kl) & t->mask;; s = (s + 1) & t->mask) {
      uint32_t j = t->idx[s];
      if (!j) return NULL;
      j--;
      if (t->klens[j] == kl && memcmp(t->keys[j], k, kl) == 0)
        return t->kids[j];
    }
  }
  for (size_t i = 0; i < t->n; i++) {
    if (t->klens[i] == kl && memcmp(t->keys[i], k, kl) == 0) return t->kids[i];
  }
  return NULL;
}

static void index_put(node *t, size_t j) {
  size_t s = key_hash(t->keys[j], t->klens[j]) & t->mask;
  while (t->idx[s]) s = (s + 1) & t->mask;
  t->idx[s] = (uint32_t)(j + 1);
}

static void table_add(parser *p, node *t, const char *k, size_t kl,
                      node *v) {
  grow(p, t);
  t->keys[t->n] = k;
  t->klens[t->n] = kl;
  t->kids[t->n++] = v;
  if (t->n < 8) return;
  if (t->n > UINT32_MAX / 4) px__toml_fail_at(
      p, p->pos, "table has too many keys");
  if (!t->idx || t->n * 2 > t->mask + 1) {
    size_t slots = 16;
    while (slots < t->n * 4) slots *= 2;
    t->idx = px__toml_arena_alloc(p, slots * sizeof *t->idx);
    memset(t->idx, 0, slots * sizeof *t->idx);
    t->mask = slots - 1;
    for (size_t j = 0; j < t->n; j++) index_put(t, j);
  } else {
    index_put(t, t->n - 1);
  }
}

static void array_add(parser *p, node *a, node *v) {
  grow(p, a);
  a->kids[a->n++] = v;
}

/* ---- values ------------------------------------------------------------- */

static node *parse_value(parser *p, int depth);
static void keyval(parser *p, node *t, int depth);

static void freeze(node *t) {
  t->flags |= F_FROZEN;
  if (t->kind != N_TABLE) return;
  for (size_t i = 0; i < t->n; i++)
    if (t->kids[i]->kind == N_TABLE && !(t->kids[i]->flags & F_FROZEN))
      freeze(t->kids[i]); /* frozen ones were closed with their subtree */
}

static bool word(parser *p, const char *w) {
  size_t n = strlen(w);
  if (p->len - p->pos < n || memcmp(p->s + p->pos, w, n) != 0) return false;
  p->pos += n;
  return true;
}

static node *parse_value(parser *p, int depth) {
  if (depth > MAX_NEST)
    px__toml_fail_at(
        p, p->pos, "arrays and inline tables nest more than %d deep", MAX_NEST);
  int c = peek(p, 0);
  size_t st = p->pos;
  if (c == '"' || c == '\'') {
    node *v = px__toml_new_node(p, N_STR, 0);
    v->u.s.s = px__toml_parse_string(p, &v->u.s.len, true);
    return v;
  }
  if (c == 't' || c == 'f') {
    node *v = px__toml_new_node(p, N_BOOL, 0);
    if (word(p, "true")) {
      v->u.b = true;
    } else if (word(p, "false")) {
      v->u.b = false;
    } else {
      px__toml_fail_at(
          p, st,
          "expected a value (true, false, a number, a string, a date, "
          "an array or an inline table)");
    }
    if (is_bare(peek(p, 0))) px__toml_fail_at(p, st, "invalid value");
    return v;
  }
  if (c == '[') {
    node *a = px__toml_new_node(p, N_ARRAY, F_FROZEN);
    p->pos++;
    for (;;) {
      px__toml_skip_ws_nl(p);
      if (peek(p, 0) == ']') {
        p->pos++;
        return a;
      }
      array_add(p, a, parse_value(p, depth + 1));
      px__toml_skip_ws_nl(p);
      if (peek(p, 0) == ',') {
        p->pos++;
      } else if (peek(p, 0) == ']') {
        p->pos++;
        return a;
      } else {
        px__toml_fail_at(p, p->pos, "expected ',' or ']' in an array");
      }
    }
  }
  if (c == '{') {
    node *t = px__toml_new_node(p, N_TABLE, 0);
    p->pos++;
    px__toml_skip_ws(p);
    if (peek(p, 0) == '}') {
      p->pos++;
    } else {
      for (;;) {
        keyval(p, t, depth + 1);
        px__toml_skip_ws(p);
        if (peek(p, 0) == ',') {
          p->pos++;
        } else if (peek(p, 0) == '}') {
          p->pos++;
          break;
        } else {
          px__toml_fail_at(p, p->pos,
                  "expected ',' or '}' in an inline table (inline tables "
                  "stay on one line)");
        }
      }
    }
    freeze(t);
    return t;
  }
  if (is_digit(c) && is_digit(peek(p, 1)) &&
      ((is_digit(peek(p, 2)) && is_digit(peek(p, 3)) && peek(p, 4) == '-') ||
       peek(p, 2) == ':'))
    return px__toml_parse_datetime(p);
  if (is_digit(c) || c == '+' || c == '-' || c == 'i' || c == 'n')
    return px__toml_parse_number(p);
  if (c < 0 || c == '\n' || c == '\r' || c == '#')
    px__toml_fail_at(p, st, "expected a value after '='");
  px__toml_fail_at(p, st, "expected a value, found '%c'", c);
}

static void fail_key(parser *p, size_t pos, size_t upto, const char *why) {
  /* Renders the key parts 0..upto for the message. */
  char buf[96];
  size_t o = 0;
  for (size_t i = 0; i <= upto && o < sizeof buf - 1; i++) {
    int w = snprintf(buf + o, sizeof buf - o, "%s%.*s", i ? "." : "",
                     (int)p->plens[i], p->parts[i]);
    if (w < 0) break;
    o += (size_t)w;
  }
  if (o >= sizeof buf) o = sizeof buf - 1;
  buf[o] = 0;
  px__toml_fail_at(p, pos, "key '%s' %s", buf, why);
}

/* Parses `key = value` and adds it to table `t`. */
static void keyval(parser *p, node *t, int depth) {
  size_t st = p->pos;
  px__toml_parse_key(p);
  for (size_t i = 0; i + 1 < p->nparts; i++) {
    node *c = table_find(t, p->parts[i], p->plens[i]);
    if (!c) {
      c = px__toml_new_node(p, N_TABLE, F_DOTTED);
      table_add(p, t, p->parts[i], p->plens[i], c);
    } else if (c->kind != N_TABLE || !(c->flags & F_DOTTED) ||
               (c->flags & F_FROZEN)) {
      fail_key(p, st, i,
               c->kind == N_TABLE
                   ? "names a table defined elsewhere; dotted keys cannot "
                     "add to it"
                   : "is already a value; it cannot also be a table");
    }
    t = c;
  }
  size_t last = p->nparts - 1;
  const char *k = p->parts[last];
  size_t kl = p->plens[last];
  if (table_find(t, k, kl)) fail_key(p, st, last, "is defined twice");
  px__toml_skip_ws(p);
  if (peek(p, 0) != '=')
    px__toml_fail_at(p, p->pos, "expected '=' after a key");
  p->pos++;
  px__toml_skip_ws(p);
  table_add(p, t, k, kl, parse_value(p, depth));
}

/* Parses a [table] or [[array of tables]] header; returns the new current
 * table. */
static node *header(parser *p, node *root) {
  size_t st = p->pos;
  bool aot = peek(p, 1) == '[';
  p->pos += aot ? 2 : 1;
  px__toml_parse_key(p);
  if (aot) {
    if (peek(p, 0) != ']' || peek(p, 1) != ']')
      px__toml_fail_at(
          p, p->pos, "expected ']]' to close an array-of-tables header");
    p->pos += 2;
  } else {
    px__toml_expect_char(p, ']', "to close a table header");
  }
  node *t = root;
  for (size_t i = 0; i + 1 < p->nparts; i++) {
    node *c = table_find(t, p->parts[i], p->plens[i]);
    if (!c) {
      c = px__toml_new_node(p, N_TABLE, F_IMPLICIT);
      table_add(p, t, p->parts[i], p->plens[i], c);
    } else if (c->kind == N_ARRAY && (c->flags & F_AOT)) {
      c = c->kids[c->n - 1];
    } else if (c->kind != N_TABLE || (c->flags & F_FROZEN)) {
      fail_key(p, st, i,
               c->kind == N_TABLE ? "is an inline table; it cannot be extended"
                                  : "is already a value, not a table");
    }
    t = c;
  }
  size_t last = p->nparts - 1;
  node *c = table_find(t, p->parts[last], p->plens[last]);
  if (aot) {
    if (!c) {
      c = px__toml_new_node(p, N_ARRAY, F_AOT);
      table_add(p, t, p->parts[last], p->plens[last], c);
    } else if (c->kind != N_ARRAY || !(c->flags & F_AOT)) {
      fail_key(p, st, last,
               "is already defined and is not an array of tables");
    }
    node *e = px__toml_new_node(p, N_TABLE, F_DEFINED);
    array_add(p, c, e);
    return e;
  }
  if (!c) {
    c = px__toml_new_node(p, N_TABLE, F_DEFINED);
    table_add(p, t, p->parts[last], p->plens[last], c);
    return c;
  }
  if (c->kind != N_TABLE || (c->flags & (F_DEFINED | F_DOTTED | F_FROZEN)))
    fail_key(p, st, last, "is defined twice");
  c->flags = (c->flags & ~F_IMPLICIT) | F_DEFINED;
  return c;
}

static void document(parser *p, node *root) {
  node *cur = root;
  px__toml_check_utf8(p);
  if (p->len >= 3 && !memcmp(p->s, "\xef\xbb\xbf", 3)) p->pos = 3;
  for (;;) {
    px__toml_skip_ws(p);
    int c = peek(p, 0);
    if (c < 0) return;
    if (c == '#' || c == '\n' || c == '\r') {
      px__toml_expect_eol(p, "a comment");
    } else if (c == '[') {
      cur = header(p, root);
      px__toml_expect_eol(p, "a table header");
    } else {
      keyval(p, cur, 0);
      px__toml_expect_eol(p, "a value");
    }
  }
}

/* ---- conversion to px_val ----------------------------------------------- */

static int to_val(const node *n, int depth, px_val *out) {
  *out = px_nil();
  if (depth > PX__MAX_DEPTH) return PX_EDECODE;
  int rc;
  switch (n->kind) {
    case N_STR:
      return px__val_try_bytes(PX_T_STR, n->u.s.s, n->u.s.len, out);
    case N_INT:
      *out = px_int(n->u.i);
      return 0;
    case N_FLOAT:
      *out = px_double(n->u.d);
      return 0;
    case N_BOOL:
      *out = px_bool(n->u.b);
      return 0;
    case N_DT: {
      px_val k, v;
      if ((rc = px__val_try_map(1, out))) return rc;
      const char *tag = dt_tag[n->u.s.dt];
      if ((rc = px__val_try_bytes(PX_T_STR, tag, strlen(tag), &k))) break;
      if ((rc = px__val_try_bytes(PX_T_STR, n->u.s.s, n->u.s.len, &v))) {
        px_val_release(k);
        break;
      }
      if ((rc = px__val_try_put_new(out, k, v))) break;
      return 0;
    }
    case N_ARRAY:
      if ((rc = px__val_try_array(n->n, out))) return rc;
      for (size_t i = 0; i < n->n; i++) {
        px_val v;
        if ((rc = to_val(n->kids[i], depth + 1, &v))) break;
        if ((rc = px__val_try_push(out, v))) break;
      }
      if (rc) break;
      return 0;
    default:
      if ((rc = px__val_try_map(n->n, out))) return rc;
      for (size_t i = 0; i < n->n; i++) {
        px_val k, v;
        if ((rc = to_val(n->kids[i], depth + 1, &v))) break;
        if ((rc = px__val_try_bytes(PX_T_STR, n->keys[i], n->klens[i], &k))) {
          px_val_release(v);
          break;
        }
        if ((rc = px__val_try_put_new(out, k, v))) break;
      }
      if (rc) break;
      return 0;
  }
  px_val_release(*out);
  *out = px_nil();
  return rc;
}

/* ---- source positions --------------------------------------------------- */

typedef struct pos_walk {
  px_toml_pos_fn cb;
  void *ud;
  const size_t *nl; /* offsets of the text's newlines, ascending */
  size_t nnl;
  char path[512];
} pos_walk;

static int line_of(const pos_walk *w, size_t pos) {
  size_t lo = 0, hi = w->nnl; /* newlines before pos = the line - 1 */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (w->nl[mid] < pos) lo = mid + 1;
    else hi = mid;
  }
  return (int)lo + 1;
}

/* Reports the children of n; `len` is the length of n's path. Depth is
 * bounded by the tree's (already checked by to_val). */
static void walk_pos(pos_walk *w, const node *n, size_t len) {
  for (size_t i = 0; i < n->n; i++) {
    int k;
    if (n->kind == N_TABLE)
      k = snprintf(w->path + len, sizeof w->path - len, "%s%.*s",
                   len ? "." : "", (int)n->klens[i], n->keys[i]);
    else
      k = snprintf(w->path + len, sizeof w->path - len, "[%zu]", i);
    if (k < 0 || (size_t)k >= sizeof w->path - len) continue;
    w->cb(w->ud, w->path, line_of(w, n->kids[i]->pos));
    if (n->kids[i]->kind == N_TABLE || n->kids[i]->kind == N_ARRAY)
      walk_pos(w, n->kids[i], len + (size_t)k);
    w->path[len] = 0;
  }
}

static int report_pos(parser *p, const node *root, px_toml_pos_fn cb,
                      void *ud) {
  pos_walk *w = calloc(1, sizeof *w);
  size_t nnl = 0;
  for (size_t i = 0; i < p->len; i++) nnl += p->s[i] == '\n';
  size_t *nl = malloc((nnl ? nnl : 1) * sizeof *nl);
  if (!w || !nl) {
    free(w);
    free(nl);
    return PX_ENOMEM;
  }
  for (size_t i = 0, j = 0; i < p->len; i++)
    if (p->s[i] == '\n') nl[j++] = i;
  w->cb = cb;
  w->ud = ud;
  w->nl = nl;
  w->nnl = nnl;
  walk_pos(w, root, 0);
  free(nl);
  free(w);
  return 0;
}

/* ---- entry point -------------------------------------------------------- */

int px_toml_parse(const char *text, size_t len, px_val *out,
                  px_toml_error *err) {
  return px_toml_parse_ex(text, len, out, err, NULL, NULL);
}

int px_toml_parse_ex(const char *text, size_t len, px_val *out,
                     px_toml_error *err, px_toml_pos_fn cb, void *ud) {
  *out = px_nil();
  if (err) {
    err->line = 0;
    err->column = 0;
    err->reason[0] = 0;
  }
  if (!text && len) return PX_EINVAL;
  /* The parser state is on the heap so that its pointer, not modified
   * after setjmp, stays valid after a longjmp; everything the parser
   * allocates hangs off it and is freed below. */
  parser *p = calloc(1, sizeof *p);
  if (!p) return PX_ENOMEM;
  p->s = text ? text : "";
  p->len = len;
  p->err = err;
  int rc = setjmp(p->jb);
  if (rc == 0) {
    node *root = px__toml_new_node(p, N_TABLE, F_DEFINED);
    document(p, root);
    rc = to_val(root, 1, out);
    if (rc == 0 && cb && (rc = report_pos(p, root, cb, ud)) != 0) {
      px_val_release(*out);
      *out = px_nil();
    }
    if (rc && err) {
      err->line = 0;
      err->column = 0;
      snprintf(err->reason, sizeof err->reason, "%s",
               rc == PX_ENOMEM ? "out of memory"
                               : "tables nest too deeply to represent");
    }
  }
  px__toml_arena_free(p->arena);
  free(p->sb);
  free(p);
  return rc;
}
