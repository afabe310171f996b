/* Metric names, label sets and numbers as the Prometheus text format 0.0.4
 * wants them. A label set is kept as its canonical text, k1="v1",k2="v2"
 * sorted by key: it is both the series' identity and what gets printed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "metrics/metrics_internal.h"
#include "plexspaces/error.h"

#define MAX_LABELS 32

static bool is_alpha_(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool px__metrics_name_ok(const char *name) {
  if (!name || !(is_alpha_(name[0]) || name[0] == ':')) return false;
  for (const char *p = name + 1; *p; p++)
    if (!is_alpha_(*p) && !is_digit(*p) && *p != ':') return false;
  return true;
}

/* Label names: [a-zA-Z_][a-zA-Z0-9_]*, and "__" is reserved. */
static bool label_name_ok(const char *k, size_t n) {
  if (n == 0 || !is_alpha_(k[0])) return false;
  if (n >= 2 && k[0] == '_' && k[1] == '_') return false;
  for (size_t i = 1; i < n; i++)
    if (!is_alpha_(k[i]) && !is_digit(k[i])) return false;
  return true;
}

/* Prometheus text is UTF-8: refuse anything else rather than emit a
 * page scrapers reject. */
bool px__metrics_utf8_ok(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  while (p < end) {
    unsigned c = *p++;
    if (c < 0x80) continue;
    int more = c >= 0xF5   ? -1
               : c >= 0xF0 ? 3
               : c >= 0xE0 ? 2
               : c >= 0xC2 ? 1
                           : -1; /* 0x80..0xC1: continuation or overlong */
    if (more < 0 || end - p < more) return false;
    unsigned cp = c & (0x3F >> more);
    for (int i = 0; i < more; i++) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    p += more;
    if ((more == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (more == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
      return false;
  }
  return true;
}

typedef struct pair {
  const char *k, *v;
  size_t kn, vn;
} pair;

static int cmp_pair(const void *a, const void *b) {
  const pair *x = a, *y = b;
  size_t n = x->kn < y->kn ? x->kn : y->kn;
  int c = memcmp(x->k, y->k, n);
  if (c) return c;
  return x->kn < y->kn ? -1 : x->kn > y->kn;
}

/* Sorts, checks the keys, and prints the canonical text. */
static int canon(pair *p, size_t n, bool no_le, char **out) {
  qsort(p, n, sizeof *p, cmp_pair);
  size_t cap = 1;
  for (size_t i = 0; i < n; i++) {
    if (!label_name_ok(p[i].k, p[i].kn)) return PX_EINVAL;
    if (no_le && p[i].kn == 2 && memcmp(p[i].k, "le", 2) == 0)
      return PX_EINVAL;
    if (i && cmp_pair(&p[i - 1], &p[i]) == 0) return PX_EINVAL;
    if (!px__metrics_utf8_ok(p[i].v, p[i].vn)) return PX_EINVAL;
    cap += p[i].kn + 2 * p[i].vn + 4; /* k="v", with every char escaped */
  }
  char *s = px__xmalloc(cap), *w = s;
  for (size_t i = 0; i < n; i++) {
    if (i) *w++ = ',';
    memcpy(w, p[i].k, p[i].kn);
    w += p[i].kn;
    *w++ = '=';
    *w++ = '"';
    for (size_t j = 0; j < p[i].vn; j++) {
      char c = p[i].v[j];
      if (c == '\\' || c == '"') {
        *w++ = '\\';
        *w++ = c;
      } else if (c == '\n') {
        *w++ = '\\';
        *w++ = 'n';
      } else {
        *w++ = c;
      }
    }
    *w++ = '"';
  }
  *w = 0;
  *out = s;
  return 0;
}

int px__metrics_labels_parse(const char *spec, bool no_le, char **out) {
  *out = NULL;
  pair p[MAX_LABELS];
  size_t n = 0;
  const char *s = spec ? spec : "";
  while (*s) {
    if (n == MAX_LABELS) return PX_EINVAL;
    const char *eq = s;
    while (*eq && *eq != '=' && *eq != ',') eq++;
    if (*eq != '=') return PX_EINVAL; /* "k" or "k,..." has no value */
    const char *end = eq + 1;
    while (*end && *end != ',' && *end != '=') end++;
    if (*end == '=') return PX_EINVAL; /* a value may not hold '=' */
    p[n++] = (pair){s, eq + 1, (size_t)(eq - s), (size_t)(end - eq - 1)};
    if (*end == ',' && !end[1]) return PX_EINVAL; /* trailing comma */
    s = *end ? end + 1 : end;
  }
  return canon(p, n, no_le, out);
}

int px__metrics_labels_pairs(const char *const *kv, bool no_le, char **out) {
  *out = NULL;
  pair p[MAX_LABELS];
  size_t n = 0;
  for (; kv && kv[0]; kv += 2) {
    if (!kv[1] || n == MAX_LABELS) return PX_EINVAL;
    p[n++] = (pair){kv[0], kv[1], strlen(kv[0]), strlen(kv[1])};
  }
  return canon(p, n, no_le, out);
}

void px__metrics_fmt_double(char *buf, size_t cap, double v) {
  if (isnan(v)) {
    snprintf(buf, cap, "NaN");
  } else if (isinf(v)) {
    snprintf(buf, cap, v > 0 ? "+Inf" : "-Inf");
  } else if (v == floor(v) && fabs(v) < 1e15) {
    snprintf(buf, cap, "%.0f", v == 0 ? 0.0 : v); /* no "-0" */
  } else {
    /* The shortest of %.15g..%.17g that reads back exactly. */
    for (int prec = 15; prec <= 17; prec++) {
      snprintf(buf, cap, "%.*g", prec, v);
      if (strtod(buf, NULL) == v) break;
    }
  }
}
