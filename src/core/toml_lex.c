/* TOML lexical layer: characters, comments, strings, keys, numbers and
 * dates, plus the arena and error reporting the parser shares. Hand-written
 * on purpose; see toml_parse.c. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/toml_internal.h"
#include "plexspaces/error.h"

static void set_pos_error(parser *p, size_t pos, const char *fmt,
                          va_list ap) {
  if (!p->err) return;
  int line = 1, col = 1;
  for (size_t i = 0; i < pos && i < p->len; i++) {
    if (p->s[i] == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  p->err->line = line;
  p->err->column = col;
  vsnprintf(p->err->reason, sizeof p->err->reason, fmt, ap);
}

/* Reports a syntax error at byte `pos` and unwinds to px_toml_parse. */
_Noreturn void px__toml_fail_at(parser *p, size_t pos, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  set_pos_error(p, pos, fmt, ap);
  va_end(ap);
  longjmp(p->jb, PX_EDECODE);
}

_Noreturn void px__toml_fail_nomem(parser *p) {
  if (p->err) {
    p->err->line = 0;
    p->err->column = 0;
    snprintf(p->err->reason, sizeof p->err->reason, "out of memory");
  }
  longjmp(p->jb, PX_ENOMEM);
}

void *px__toml_arena_alloc(parser *p, size_t size) {
  size = (size + 15) & ~(size_t)15;
  chunk *c = p->arena;
  if (!c || c->cap - c->used < size) {
    size_t cap = size > 16384 ? size : 16384;
    c = malloc(sizeof(chunk) + cap);
    if (!c) px__toml_fail_nomem(p);
    c->next = p->arena;
    c->used = 0;
    c->cap = cap;
    p->arena = c;
  }
  void *r = (char *)c->data + c->used;
  c->used += size;
  return r;
}

void px__toml_arena_free(chunk *c) {
  while (c) {
    chunk *n = c->next;
    free(c);
    c = n;
  }
}

node *px__toml_new_node(parser *p, int kind, int flags) {
  node *n = px__toml_arena_alloc(p, sizeof *n);
  memset(n, 0, sizeof *n);
  n->kind = kind;
  n->flags = flags;
  n->pos = p->pos;
  return n;
}

/* ---- scratch buffer ----------------------------------------------------- */

static void sb_put(parser *p, const char *d, size_t n) {
  if (p->sbcap - p->sblen < n) {
    size_t cap = p->sbcap ? p->sbcap : 64;
    while (cap - p->sblen < n) cap *= 2;
    char *nb = realloc(p->sb, cap);
    if (!nb) px__toml_fail_nomem(p);
    p->sb = nb;
    p->sbcap = cap;
  }
  memcpy(p->sb + p->sblen, d, n);
  p->sblen += n;
}

static void sb_putc(parser *p, char c) { sb_put(p, &c, 1); }

/* Copies the scratch buffer into the arena (NUL-terminated). */
static const char *sb_take(parser *p, size_t *len) {
  char *r = px__toml_arena_alloc(p, p->sblen + 1);
  if (p->sblen) memcpy(r, p->sb, p->sblen);
  r[p->sblen] = 0;
  *len = p->sblen;
  p->sblen = 0;
  return r;
}

/* ---- characters --------------------------------------------------------- */


static bool is_control(int c) {
  return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f;
}

void px__toml_skip_ws(parser *p) {
  while (peek(p, 0) == ' ' || peek(p, 0) == '\t') p->pos++;
}

static void skip_comment(parser *p) {
  if (peek(p, 0) != '#') return;
  p->pos++;
  for (;;) {
    int c = peek(p, 0);
    if (c < 0 || c == '\n') return;
    if (c == '\r' && peek(p, 1) == '\n') return;
    if (is_control(c))
      px__toml_fail_at(p, p->pos, "control character 0x%02x in a comment", c);
    p->pos++;
  }
}

/* Consumes one newline (LF or CRLF) if there is one; returns whether it
 * did. A carriage return without a line feed is an error. */
static bool eat_newline(parser *p) {
  int c = peek(p, 0);
  if (c == '\n') {
    p->pos++;
    return true;
  }
  if (c == '\r') {
    if (peek(p, 1) != '\n')
      px__toml_fail_at(
          p, p->pos, "carriage return not followed by a line feed");
    p->pos += 2;
    return true;
  }
  return false;
}

/* Skips whitespace, comments and newlines (inside arrays). */
void px__toml_skip_ws_nl(parser *p) {
  for (;;) {
    px__toml_skip_ws(p);
    skip_comment(p);
    if (!eat_newline(p)) return;
  }
}

void px__toml_expect_eol(parser *p, const char *after) {
  px__toml_skip_ws(p);
  skip_comment(p);
  if (p->pos >= p->len || eat_newline(p)) return;
  px__toml_fail_at(
      p, p->pos, "expected the end of the line after %s, found '%c'", after,
      p->s[p->pos]);
}

/* Checks the whole text is well-formed UTF-8 (no overlongs, surrogates or
 * code points past U+10FFFF). */
void px__toml_check_utf8(parser *p) {
  const unsigned char *s = (const unsigned char *)p->s;
  size_t i = 0, n = p->len;
  while (i < n) {
    unsigned c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t k;
    unsigned cp, min;
    if ((c & 0xe0) == 0xc0) {
      k = 1, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      k = 2, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      k = 3, cp = c & 0x07, min = 0x10000;
    } else {
      px__toml_fail_at(p, i, "invalid UTF-8 byte 0x%02x", c);
    }
    if (n - i <= k) px__toml_fail_at(p, i, "truncated UTF-8 sequence");
    for (size_t j = 1; j <= k; j++) {
      if ((s[i + j] & 0xc0) != 0x80)
        px__toml_fail_at(p, i, "invalid UTF-8 sequence");
      cp = (cp << 6) | (s[i + j] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      px__toml_fail_at(
          p, i, "invalid UTF-8 sequence (overlong or not a scalar)");
    i += k + 1;
  }
}

/* ---- strings ------------------------------------------------------------ */

static void put_utf8(parser *p, uint32_t cp) {
  char b[4];
  size_t n;
  if (cp < 0x80) {
    b[0] = (char)cp, n = 1;
  } else if (cp < 0x800) {
    b[0] = (char)(0xc0 | (cp >> 6)), b[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
  } else if (cp < 0x10000) {
    b[0] = (char)(0xe0 | (cp >> 12)), b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    b[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
  } else {
    b[0] = (char)(0xf0 | (cp >> 18)), b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    b[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), b[3] = (char)(0x80 | (cp & 0x3f));
    n = 4;
  }
  sb_put(p, b, n);
}

/* At a backslash inside a basic string: decodes one escape. */
static void escape(parser *p) {
  size_t at = p->pos;
  int c = peek(p, 1);
  p->pos += 2;
  switch (c) {
    case 'b': sb_putc(p, '\b'); return;
    case 't': sb_putc(p, '\t'); return;
    case 'n': sb_putc(p, '\n'); return;
    case 'f': sb_putc(p, '\f'); return;
    case 'r': sb_putc(p, '\r'); return;
    case '"': sb_putc(p, '"'); return;
    case '\\': sb_putc(p, '\\'); return;
    case 'u':
    case 'U': {
      int nd = c == 'u' ? 4 : 8;
      uint32_t cp = 0;
      for (int i = 0; i < nd; i++) {
        int h = peek(p, 0);
        int v = is_digit(h)                ? h - '0'
                : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                         : -1;
        if (v < 0)
          px__toml_fail_at(p, at, "\\%c escape needs %d hex digits", c, nd);
        cp = cp * 16 + (uint32_t)v;
        p->pos++;
      }
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        px__toml_fail_at(
            p, at, "escape \\%c%0*X is not a Unicode scalar value", c, nd, cp);
      put_utf8(p, cp);
      return;
    }
    default:
      if (c < 0)
        px__toml_fail_at(p, at, "unterminated string");
      px__toml_fail_at(p, at, "invalid escape sequence '\\%c' in a string", c);
  }
}

/* Parses a string of any of the four kinds at p->pos into the arena.
 * `ml_ok` is false for keys, which must be single-line. */
const char *px__toml_parse_string(parser *p, size_t *len, bool ml_ok) {
  size_t start = p->pos;
  char q = p->s[p->pos];
  bool ml = peek(p, 1) == q && peek(p, 2) == q;
  p->sblen = 0;
  if (ml) {
    if (!ml_ok) px__toml_fail_at(
        p, start, "a key cannot be a multi-line string");
    p->pos += 3;
    eat_newline(p); /* a newline right after the quotes is trimmed */
    for (;;) {
      int c = peek(p, 0);
      if (c < 0) px__toml_fail_at(p, start, "unterminated multi-line string");
      if (c == q) {
        size_t k = 0;
        while (peek(p, k) == q) k++;
        if (k >= 3) {
          if (k > 5)
            px__toml_fail_at(
                p, p->pos, "too many quotes at the end of a string");
          for (size_t i = 3; i < k; i++) sb_putc(p, q);
          p->pos += k;
          break;
        }
        for (size_t i = 0; i < k; i++) sb_putc(p, q);
        p->pos += k;
      } else if (c == '\\' && q == '"') {
        size_t j = 1;
        while (peek(p, j) == ' ' || peek(p, j) == '\t') j++;
        int e = peek(p, j);
        if (e == '\n' || (e == '\r' && peek(p, j + 1) == '\n')) {
          p->pos += j;
          for (;;) {
            px__toml_skip_ws(p);
            if (!eat_newline(p)) break;
          }
        } else {
          escape(p);
        }
      } else if (c == '\n' || c == '\r') {
        eat_newline(p);
        sb_putc(p, '\n');
      } else if (is_control(c)) {
        px__toml_fail_at(p, p->pos, "control character 0x%02x in a string", c);
      } else {
        sb_putc(p, (char)c);
        p->pos++;
      }
    }
    return sb_take(p, len);
  }
  p->pos++;
  for (;;) {
    int c = peek(p, 0);
    if (c < 0 || c == '\n' || c == '\r')
      px__toml_fail_at(
          p, start, "unterminated string (strings end on their line)");
    if (c == q) {
      p->pos++;
      break;
    }
    if (c == '\\' && q == '"') {
      escape(p);
    } else if (is_control(c)) {
      px__toml_fail_at(p, p->pos, "control character 0x%02x in a string", c);
    } else {
      sb_putc(p, (char)c);
      p->pos++;
    }
  }
  return sb_take(p, len);
}

/* ---- keys --------------------------------------------------------------- */

/* Parses a (possibly dotted) key into p->parts. */
void px__toml_parse_key(parser *p) {
  p->nparts = 0;
  for (;;) {
    px__toml_skip_ws(p);
    if (p->nparts == MAX_PARTS)
      px__toml_fail_at(
          p, p->pos, "dotted key has more than %d parts", MAX_PARTS);
    int c = peek(p, 0);
    size_t kl;
    const char *k;
    if (c == '"' || c == '\'') {
      k = px__toml_parse_string(p, &kl, false);
    } else {
      size_t st = p->pos;
      while (is_bare(peek(p, 0))) p->pos++;
      if (p->pos == st) {
        if (c < 0) px__toml_fail_at(
            p, st, "expected a key, found the end of input");
        if (c == '\n' || c == '\r')
          px__toml_fail_at(p, st, "expected a key, found the end of the line");
        px__toml_fail_at(p, st, "expected a key, found '%c'", c);
      }
      k = p->s + st;
      kl = p->pos - st;
    }
    p->parts[p->nparts] = k;
    p->plens[p->nparts++] = kl;
    px__toml_skip_ws(p);
    if (peek(p, 0) != '.') return;
    p->pos++;
  }
}

/* ---- numbers and dates -------------------------------------------------- */

static bool digits_ok(const char *t, size_t n, int base) {
  if (n == 0) return false;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)t[i];
    int v = is_digit(c)                ? c - '0'
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                     : -1;
    if (c == '_') {
      if (i == 0 || i == n - 1 || t[i + 1] == '_') return false;
    } else if (v < 0 || v >= base) {
      return false;
    }
  }
  return true;
}

node *px__toml_parse_number(parser *p) {
  size_t st = p->pos;
  while (is_bare(peek(p, 0)) || peek(p, 0) == '.' || peek(p, 0) == '+')
    p->pos++;
  const char *t = p->s + st;
  size_t n = p->pos - st;
  bool neg = false, sign = false;
  if (n && (t[0] == '+' || t[0] == '-')) {
    neg = t[0] == '-';
    sign = true;
    t++, n--;
  }
  if (n == 3 && (!memcmp(t, "inf", 3) || !memcmp(t, "nan", 3))) {
    node *v = px__toml_new_node(p, N_FLOAT, 0);
    v->u.d = t[0] == 'i' ? INFINITY : NAN;
    if (neg) v->u.d = -v->u.d;
    return v;
  }
  if (n >= 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'o' || t[1] == 'b')) {
    int base = t[1] == 'x' ? 16 : t[1] == 'o' ? 8 : 2;
    if (sign) px__toml_fail_at(
        p, st, "hex, octal and binary integers take no sign");
    if (!digits_ok(t + 2, n - 2, base))
      px__toml_fail_at(
          p, st, "invalid base-%d integer '%.*s'", base, (int)n, t);
    uint64_t acc = 0;
    for (size_t i = 2; i < n; i++) {
      if (t[i] == '_') continue;
      int c = (unsigned char)t[i];
      int v = is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
      if (acc > ((uint64_t)INT64_MAX - (uint64_t)v) / (uint64_t)base)
        px__toml_fail_at(
            p, st, "integer '%.*s' does not fit in 64 bits", (int)n, t);
      acc = acc * (uint64_t)base + (uint64_t)v;
    }
    node *r = px__toml_new_node(p, N_INT, 0);
    r->u.i = (int64_t)acc;
    return r;
  }
  size_t i = 0;
  while (i < n && (is_digit(t[i]) || t[i] == '_')) i++;
  if (!digits_ok(t, i, 10))
    px__toml_fail_at(p, st, "invalid number '%.*s'", (int)(n + sign), t - sign);
  if (t[0] == '0' && i > 1)
    px__toml_fail_at(p, st, "leading zeros are not allowed in '%.*s'",
            (int)(n + sign), t - sign);
  size_t int_end = i;
  if (i == n) {
    uint64_t acc = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX;
    for (size_t j = 0; j < i; j++) {
      if (t[j] == '_') continue;
      uint64_t d = (uint64_t)(t[j] - '0');
      if (acc > (lim - d) / 10)
        px__toml_fail_at(p, st, "integer '%.*s' does not fit in 64 bits",
                (int)(n + sign), t - sign);
      acc = acc * 10 + d;
    }
    node *r = px__toml_new_node(p, N_INT, 0);
    r->u.i = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return r;
  }
  if (t[i] == '.') {
    size_t j = i + 1;
    while (j < n && (is_digit(t[j]) || t[j] == '_')) j++;
    if (!digits_ok(t + i + 1, j - i - 1, 10))
      px__toml_fail_at(p, st, "a float needs digits after the '.' in '%.*s'",
              (int)(n + sign), t - sign);
    i = j;
  }
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    i++;
    if (i < n && (t[i] == '+' || t[i] == '-')) i++;
    size_t j = i;
    while (j < n && (is_digit(t[j]) || t[j] == '_')) j++;
    if (!digits_ok(t + i, j - i, 10))
      px__toml_fail_at(p, st, "invalid exponent in '%.*s'", (int)(n + sign),
              t - sign);
    i = j;
  }
  if (i != n || int_end == n)
    px__toml_fail_at(p, st, "invalid number '%.*s'", (int)(n + sign), t - sign);
  p->sblen = 0;
  if (neg) sb_putc(p, '-');
  for (size_t j = 0; j < n; j++)
    if (t[j] != '_') sb_putc(p, t[j]);
  sb_putc(p, 0);
  node *r = px__toml_new_node(p, N_FLOAT, 0);
  r->u.d = strtod(p->sb, NULL);
  p->sblen = 0;
  return r;
}

/* Reads exactly `n` digits as a number, or fails. */
static int fixed_digits(parser *p, int n, const char *what) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    int c = peek(p, 0);
    if (!is_digit(c)) px__toml_fail_at(
        p, p->pos, "expected %d-digit %s", n, what);
    v = v * 10 + (c - '0');
    p->pos++;
  }
  return v;
}

void px__toml_expect_char(parser *p, char c, const char *what) {
  if (peek(p, 0) != c) px__toml_fail_at(p, p->pos, "expected '%c' %s", c, what);
  p->pos++;
}

static void parse_time(parser *p) {
  size_t st = p->pos;
  int h = fixed_digits(p, 2, "hour");
  px__toml_expect_char(p, ':', "after the hour");
  int m = fixed_digits(p, 2, "minute");
  px__toml_expect_char(p, ':', "after the minute (seconds are required)");
  int s = fixed_digits(p, 2, "second");
  if (h > 23 || m > 59 || s > 60)
    px__toml_fail_at(p, st, "time %02d:%02d:%02d is out of range", h, m, s);
  if (peek(p, 0) == '.') {
    p->pos++;
    if (!is_digit(peek(p, 0)))
      px__toml_fail_at(p, p->pos, "expected digits after the '.' in a time");
    while (is_digit(peek(p, 0))) p->pos++;
  }
}

node *px__toml_parse_datetime(parser *p) {
  size_t st = p->pos;
  int dt;
  if (peek(p, 2) == ':') {
    parse_time(p);
    dt = 3;
  } else {
    int y = fixed_digits(p, 4, "year");
    px__toml_expect_char(p, '-', "after the year");
    int mo = fixed_digits(p, 2, "month");
    px__toml_expect_char(p, '-', "after the month");
    int d = fixed_digits(p, 2, "day");
    static const int mdays[] = {31, 29, 31, 30, 31, 30,
                                31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && !leap))
      px__toml_fail_at(p, st, "date %04d-%02d-%02d does not exist", y, mo, d);
    int c = peek(p, 0);
    if (c == 'T' || c == 't' || (c == ' ' && is_digit(peek(p, 1)))) {
      p->pos++;
      parse_time(p);
      c = peek(p, 0);
      if (c == 'Z' || c == 'z') {
        p->pos++;
        dt = 0;
      } else if (c == '+' || c == '-') {
        p->pos++;
        int oh = fixed_digits(p, 2, "offset hour");
        px__toml_expect_char(p, ':', "in the time offset");
        int om = fixed_digits(p, 2, "offset minute");
        if (oh > 23 || om > 59)
          px__toml_fail_at(
              p, st, "time offset %02d:%02d is out of range", oh, om);
        dt = 0;
      } else {
        dt = 1;
      }
    } else {
      dt = 2;
    }
  }
  p->sblen = 0;
  for (size_t i = st; i < p->pos; i++) {
    char c = p->s[i];
    if (c == ' ' || c == 't') c = 'T';
    if (c == 'z') c = 'Z';
    sb_putc(p, c);
  }
  node *r = px__toml_new_node(p, N_DT, 0);
  r->u.s.s = sb_take(p, &r->u.s.len);
  r->u.s.dt = dt;
  return r;
}
