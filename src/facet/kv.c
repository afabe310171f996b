/* Per-actor KV (include/plexspaces/kv.h): checks the arguments, builds
 * the scope string once per handle, and turns each call into one px_store
 * op or read. Everything that matters for atomicity (CAS, increment) and
 * expiry filtering happens inside the store, so concurrent handles on the
 * same scope need no lock here. */
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "plexspaces/actor.h"
#include "plexspaces/core.h"
#include "plexspaces/error.h"
#include "plexspaces/kv.h"
#include "plexspaces/virtual.h"


struct px_kv {
  px_store *store;
  char scope[]; /* "tenant/ns/owner" */
};

/* A tenant or namespace: non-empty, no '/' (so that scope strings of
 * different triples never coincide). */
static bool part_ok(const char *p) {
  return p && *p && !strchr(p, '/');
}

static int kv_new(px_store *s, const char *scope, size_t len, px_kv **out) {
  if (len == 0 || len > PX_KV_MAX_SCOPE) return PX_EINVAL;
  px_kv *kv = px__xmalloc(sizeof *kv + len + 1);
  kv->store = s;
  memcpy(kv->scope, scope, len);
  kv->scope[len] = '\0';
  *out = kv;
  return 0;
}

int px_kv_open(px_store *s, const char *tenant, const char *ns,
               const char *owner, px_kv **out) {
  if (!out) return PX_EINVAL;
  *out = NULL;
  if (!s || !owner || !*owner) return PX_EINVAL;
  if (!tenant) tenant = px_self_tenant() ? px_self_tenant() : "default";
  if (!ns) ns = px_self_namespace() ? px_self_namespace() : "default";
  if (!part_ok(tenant) || !part_ok(ns)) return PX_EINVAL;
  size_t lt = strlen(tenant), ln = strlen(ns), lo = strlen(owner);
  size_t len = lt + 1 + ln + 1 + lo;
  if (len > PX_KV_MAX_SCOPE) return PX_EINVAL;
  char *buf = px__xmalloc(len + 1);
  memcpy(buf, tenant, lt);
  buf[lt] = '/';
  memcpy(buf + lt + 1, ns, ln);
  buf[lt + 1 + ln] = '/';
  memcpy(buf + lt + 2 + ln, owner, lo + 1);
  int rc = kv_new(s, buf, len, out);
  free(buf);
  return rc;
}

int px_kv_self(px_store *s, px_kv **out) {
  if (!out) return PX_EINVAL;
  *out = NULL;
  if (!s) return PX_EINVAL;
  if (!px_in_actor()) return PX_ENOTACTOR;
  const char *id = px_virtual_self_id();
  if (!id || !*id) return PX_ENOTSUP;
  return kv_new(s, id, strlen(id), out);
}

void px_kv_close(px_kv *kv) { free(kv); }

const char *px_kv_scope(const px_kv *kv) { return kv ? kv->scope : NULL; }

static int key_ok(const px_kv *kv, const char *key) {
  if (!kv || !key || !*key) return PX_EINVAL;
  if (strnlen(key, PX_KV_MAX_KEY + 1) > PX_KV_MAX_KEY) return PX_EINVAL;
  return 0;
}

/* Values are measured on their MessagePack encoding, which is what the
 * store keeps. The store encodes again; a second encode of a value under
 * the limit is cheap next to the fsync that follows. */
static int value_ok(px_val v) {
  char *buf = NULL;
  size_t len = 0;
  int rc = px_msgpack_encode(v, &buf, &len);
  free(buf);
  if (rc != 0) return rc;
  if (len > PX_KV_MAX_VALUE) {
    px_log(PX_LOG_WARN, "kv", "value of %zu bytes exceeds PX_KV_MAX_VALUE "
           "(%d)", len, PX_KV_MAX_VALUE);
    return PX_ERANGE;
  }
  return 0;
}

static int expiry_of(int64_t ttl_ms, int64_t *expiry) {
  if (ttl_ms < 0 || ttl_ms > INT64_MAX / 4) return PX_EINVAL; /* overflow */
  *expiry = ttl_ms ? px_wall_ms() + ttl_ms : 0;
  return 0;
}

int px_kv_get(px_kv *kv, const char *key, px_val *out) {
  if (!out) return PX_EINVAL;
  *out = px_nil();
  int rc = key_ok(kv, key);
  if (rc) return rc;
  return px_store_kv_get(kv->store, kv->scope, key, out, NULL);
}

int px_kv_put_at(px_kv *kv, const char *key, px_val value,
                 int64_t expiry_ms) {
  int rc = key_ok(kv, key);
  if (rc == 0 && expiry_ms < 0) rc = PX_EINVAL;
  if (rc == 0) rc = value_ok(value);
  if (rc == 0) {
    px_store_op op = {.kind = PX_STORE_KV_PUT, .space = kv->scope,
                      .key = key, .value = value, .expiry_ms = expiry_ms};
    rc = px_store_apply(kv->store, &op, 1);
  }
  px_val_release(value);
  return rc;
}

int px_kv_put(px_kv *kv, const char *key, px_val value, int64_t ttl_ms) {
  int64_t exp;
  int rc = expiry_of(ttl_ms, &exp);
  if (rc) {
    px_val_release(value);
    return rc;
  }
  return px_kv_put_at(kv, key, value, exp);
}

int px_kv_delete(px_kv *kv, const char *key) {
  int rc = key_ok(kv, key);
  if (rc) return rc;
  px_store_op op = {.kind = PX_STORE_KV_DEL, .space = kv->scope, .key = key};
  return px_store_apply(kv->store, &op, 1);
}

int px_kv_list(px_kv *kv, const char *prefix, px_kv_cb cb, void *ud) {
  if (!kv || !cb) return PX_EINVAL;
  if (!prefix) prefix = "";
  if (strnlen(prefix, PX_KV_MAX_KEY + 1) > PX_KV_MAX_KEY) return PX_EINVAL;
  return px_store_kv_list(kv->store, kv->scope, prefix, cb, ud);
}

int px_kv_cas(px_kv *kv, const char *key, const px_val *expected,
              px_val value, int64_t ttl_ms) {
  int64_t exp = 0;
  int rc = key_ok(kv, key);
  if (rc == 0) rc = expiry_of(ttl_ms, &exp);
  if (rc == 0) rc = value_ok(value);
  if (rc == 0) {
    px_store_op op = {.kind = PX_STORE_KV_CAS, .space = kv->scope,
                      .key = key, .value = value, .expiry_ms = exp,
                      .expected = expected ? *expected : px_nil(),
                      .expect_absent = expected == NULL};
    rc = px_store_apply(kv->store, &op, 1);
  }
  px_val_release(value);
  return rc;
}

int px_kv_incr(px_kv *kv, const char *key, int64_t delta, int64_t *out) {
  int rc = key_ok(kv, key);
  if (rc) return rc;
  px_store_op op = {.kind = PX_STORE_KV_INCR, .space = kv->scope, .key = key,
                    .i64 = delta};
  int64_t v = 0;
  rc = px_store_apply_result(kv->store, &op, 1, &v);
  if (rc == 0 && out) *out = v;
  return rc;
}

int px_kv_ttl(px_kv *kv, const char *key, int64_t *remaining_ms) {
  if (!remaining_ms) return PX_EINVAL;
  *remaining_ms = 0;
  int rc = key_ok(kv, key);
  if (rc) return rc;
  px_val v;
  int64_t exp = 0;
  if ((rc = px_store_kv_get(kv->store, kv->scope, key, &v, &exp))) return rc;
  px_val_release(v);
  if (exp) {
    int64_t left = exp - px_wall_ms();
    /* live when read: report at least 1 so 0 keeps meaning "never" */
    *remaining_ms = left > 0 ? left : 1;
  }
  return 0;
}
