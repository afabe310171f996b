/* Refs and reasons as values: "<node.index.gen>" strings inside payloads,
 * and the normal-reason test supervisors and behaviors share. */
#include <stdio.h>

#include "actor/actor_impl.h"

bool px_reason_is_normal(px_val r) {
  if (px_is_atom(r, px__atoms.normal) || px_is_atom(r, px__atoms.shutdown))
    return true;
  return px_typeof(r) == PX_T_ARRAY && px_len(r) == 2 &&
         px_is_atom(px_at(r, 0), px__atoms.shutdown);
}

char *px_ref_format(px_ref r, char *buf, size_t cap) {
  snprintf(buf, cap, "<%u.%u.%u>", r.node, r.index, r.gen);
  return buf;
}

px_val px_ref_val(px_ref r) {
  char b[48];
  return px_str(px_ref_format(r, b, sizeof b));
}

/* Parses "<node.index.gen>" by hand: refs travel inside payloads, and
 * sscanf costs a microsecond. */
static bool parse_u32(const char **p, const char *end, char stop,
                      uint32_t *out) {
  uint64_t v = 0;
  const char *s = *p;
  if (s >= end || *s < '0' || *s > '9') return false;
  while (s < end && *s >= '0' && *s <= '9') {
    v = v * 10 + (uint64_t)(*s - '0');
    if (v > UINT32_MAX) return false;
    s++;
  }
  if (s >= end || *s != stop) return false;
  *out = (uint32_t)v;
  *p = s + 1;
  return true;
}

bool px_val_ref(px_val v, px_ref *out) {
  if (px_typeof(v) != PX_T_STR) return false;
  const char *s = px_str_ptr(v), *end = s + px_str_len(v);
  if (s >= end || *s++ != '<') return false;
  px_ref r = {0, 0, 0, 0};
  if (!parse_u32(&s, end, '.', &r.node) || !parse_u32(&s, end, '.', &r.index) ||
      !parse_u32(&s, end, '>', &r.gen) || s != end)
    return false;
  *out = r;
  return true;
}
