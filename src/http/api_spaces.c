/* /api/v1/spaces/{ns}/{space}/{write|read|take|count}: the tuple space of
 * the caller's tenant over JSON. Tuples are JSON arrays; templates use the
 * space's own template syntax (null is a wildcard, {"$type":"int"} a type
 * formal, see space.h), so nothing is translated.
 *
 *   write  {"tuple": [...]} or {"tuples": [[...], ...]} (one atomic batch),
 *          "ttl_ms", "if_absent": template (write only when nothing
 *          matches: 409 otherwise)              → {"success", "lease"}
 *   read   {"template": [...], "timeout_ms", "all", "limit"}
 *   take   same                                  → {"found", "tuple"} or
 *                                                  {"tuples": [...]}
 *   count  {"template": [...]}                   → {"count"}
 *
 * A read or take that finds nothing within timeout_ms is not an error:
 * {"found": false, "tuple": null} with 200, as JavaSpaces returns null.
 * A space is opened durable when the node has a store (it then survives
 * restarts), else in memory; an existing space keeps its kind. */
#include <stdio.h>
#include <string.h>

#include "http/req.h"
#include "plexspaces/error.h"
#include "plexspaces/space.h"

static int open_space(px_req *r, px_space **out) {
  return px_space_attach(r->tenant, r->seg[3], r->seg[4], out);
}

static bool get_int(px_req *r, px_val body, const char *key, int64_t dflt,
                    int64_t *out) {
  px_val v = px_gets(body, key);
  if (px_is_nil(v)) {
    *out = dflt;
    return true;
  }
  if (v.type != PX_T_INT || v.u.i < -1) {
    px__reply_error(r, 400, "\"%s\" must be an integer >= -1", key);
    return false;
  }
  *out = v.u.i;
  return true;
}

static bool check_template(px_req *r, px_val tmpl) {
  char err[256] = "";
  if (tmpl.type != PX_T_ARRAY || px_len(tmpl) == 0) {
    px__reply_error(r, 400, "\"template\" must be a non-empty JSON array "
                    "(null fields are wildcards)");
    return false;
  }
  if (px_ts_template_check(tmpl, err, sizeof err)) {
    px__reply_error(r, 400, "malformed template: %s", err);
    return false;
  }
  return true;
}

static bool check_tuple(px_req *r, px_val t) {
  if (t.type != PX_T_ARRAY || px_len(t) == 0 ||
      px_len(t) > PX_TUPLE_MAX_ARITY) {
    px__reply_error(r, 400, "a tuple must be a JSON array of 1..%d fields",
                    PX_TUPLE_MAX_ARITY);
    return false;
  }
  return true;
}

static void do_write(px_req *r, px_space *s, px_val body) {
  int64_t ttl;
  if (!get_int(r, body, "ttl_ms", 0, &ttl)) return;
  if (ttl < 0) ttl = 0;
  px_val one = px_gets(body, "tuple"), many = px_gets(body, "tuples");
  px_val absent = px_gets(body, "if_absent");
  int rc;
  uint64_t lease = 0;
  if (!px_is_nil(many)) {
    if (many.type != PX_T_ARRAY || px_len(many) == 0) {
      px__reply_error(r, 400, "\"tuples\" must be a non-empty array of "
                      "tuples");
      return;
    }
    size_t n = px_len(many);
    px_val items[n];
    for (size_t i = 0; i < n; i++) {
      items[i] = px_at(many, i);
      if (!check_tuple(r, items[i])) return;
    }
    for (size_t i = 0; i < n; i++) px_val_retain(items[i]);
    rc = px_ts_write_batch(s, items, n, ttl);
  } else if (px_is_nil(one)) {
    px__reply_error(r, 400, "write needs \"tuple\": [...] or \"tuples\": "
                    "[[...], ...]");
    return;
  } else if (!check_tuple(r, one)) {
    return;
  } else if (!px_is_nil(absent)) {
    if (!check_template(r, absent)) return;
    rc = px_ts_write_if_absent(s, px_val_retain(absent), px_val_retain(one),
                               ttl);
    if (rc == PX_EEXIST) {
      px__reply_error(r, 409, "a tuple matching \"if_absent\" exists: "
                      "nothing was written");
      return;
    }
  } else {
    rc = px_ts_write(s, px_val_retain(one), ttl, &lease);
  }
  if (rc) {
    px__reply_px_error(r, rc, "write failed");
    return;
  }
  px__reply_json(r, 200, px_map(2, px_str("success"), px_bool(true),
                                px_str("lease"), px_int((int64_t)lease)));
}

static void do_match(px_req *r, px_space *s, px_val body, bool take) {
  px_val tmpl = px_gets(body, "template");
  int64_t timeout, limit;
  if (!check_template(r, tmpl) || !get_int(r, body, "timeout_ms", 0, &timeout)
      || !get_int(r, body, "limit", 0, &limit))
    return;
  int64_t cap = px__http_opts(r->http)->max_ask_timeout_ms;
  if (timeout < 0 || timeout > cap) timeout = cap;
  px_val all = px_gets(body, "all");
  px_val out = px_nil();
  int rc;
  if (all.type == PX_T_BOOL && all.u.b) {
    rc = take ? px_ts_take_all(s, px_val_retain(tmpl), (size_t)limit, &out)
              : px_ts_read_all(s, px_val_retain(tmpl), (size_t)limit, &out);
    if (rc) {
      px__reply_px_error(r, rc, take ? "take failed" : "read failed");
      return;
    }
    px__reply_json(r, 200, px_map(1, px_str("tuples"), out));
    return;
  }
  rc = take ? px_ts_take(s, px_val_retain(tmpl), timeout, &out)
            : px_ts_read(s, px_val_retain(tmpl), timeout, &out);
  if (rc == PX_ETIMEDOUT) {
    px__reply_json(r, 200, px_map(2, px_str("found"), px_bool(false),
                                  px_str("tuple"), px_nil()));
    return;
  }
  if (rc) {
    px__reply_px_error(r, rc, take ? "take failed" : "read failed");
    return;
  }
  px__reply_json(r, 200, px_map(2, px_str("found"), px_bool(true),
                                px_str("tuple"), out));
}

static void do_count(px_req *r, px_space *s, px_val body) {
  px_val tmpl = px_gets(body, "template");
  size_t n = 0;
  if (!check_template(r, tmpl)) return;
  int rc = px_ts_count(s, px_val_retain(tmpl), &n);
  if (rc) {
    px__reply_px_error(r, rc, "count failed");
    return;
  }
  px__reply_json(r, 200, px_map(1, px_str("count"), px_int((int64_t)n)));
}

void px__api_space(px_req *r) {
  px_val body;
  if (!px__body_json(r, px_map_new(0), &body)) return;
  if (body.type != PX_T_MAP) {
    px_val_release(body);
    px__reply_error(r, 400, "the body must be a JSON object");
    return;
  }
  px_space *s;
  int rc = open_space(r, &s);
  if (rc) {
    px_val_release(body);
    px__reply_px_error(r, rc, "cannot open the space");
    return;
  }
  const char *op = r->seg[5];
  if (strcmp(op, "write") == 0) do_write(r, s, body);
  else if (strcmp(op, "read") == 0) do_match(r, s, body, false);
  else if (strcmp(op, "take") == 0) do_match(r, s, body, true);
  else do_count(r, s, body);
  px_space_close(s);
  px_val_release(body);
}
