/* Durable reminders, the API side (include/plexspaces/reminder.h): checks
 * a registration, stores it, and tells the store's reminder service.
 *
 * With a service running, set and cancel are asks to it and the service
 * writes: its writes and the writes of its own ticks (next due, one-shot
 * delete) then happen in one order, so a cancel can never be undone by a
 * tick that was being processed. Without one the caller writes directly;
 * if a service appeared meanwhile it gets a note of what was written. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "facet/reminder_internal.h"
#include "plexspaces/core.h"
#include "plexspaces/error.h"
#include "plexspaces/kv.h"
#include "plexspaces/runtime.h"
#include "plexspaces/virtual.h"


/* ---- settings and hooks ---------------------------------------------------- */

/* relaxed: independent settings, read once per call */
static _Atomic int64_t g_min_period = PX_REMINDER_MIN_PERIOD_MS;
static _Atomic(px__reminder_clock_fn) g_clock;
static _Atomic(px__reminder_deliver_fn) g_deliver;

int64_t px_reminder_set_min_period(int64_t ms) {
  if (ms < 1) return PX_EINVAL;
  return atomic_exchange_explicit(&g_min_period, ms, memory_order_relaxed);
}

void px__reminder_set_clock(px__reminder_clock_fn fn) {
  atomic_store_explicit(&g_clock, fn, memory_order_relaxed);
}

int64_t px__reminder_now(void) {
  px__reminder_clock_fn fn =
      atomic_load_explicit(&g_clock, memory_order_relaxed);
  return fn ? fn() : px_wall_ms();
}

void px__reminder_set_deliver(px__reminder_deliver_fn fn) {
  atomic_store_explicit(&g_deliver, fn, memory_order_relaxed);
}

static int deliver_virtual(const char *tenant, const char *ns,
                           const char *type, const char *key, px_atom msg,
                           px_val payload) {
  return px_virtual_send_in(tenant, ns, type, key, msg, payload);
}

int px__reminder_deliver(const char *owner, px_atom msg, px_val payload) {
  /* owner is "tenant/ns/type/key"; the key is the rest and may hold '/' */
  const char *p[4];
  size_t l[3];
  p[0] = owner;
  for (int i = 0; i < 3; i++) {
    const char *sl = strchr(p[i], '/');
    if (!sl) {
      px_val_release(payload);
      return PX_EINVAL;
    }
    l[i] = (size_t)(sl - p[i]);
    p[i + 1] = sl + 1;
  }
  char *buf = px__xstrndup(owner, strlen(owner));
  buf[l[0]] = buf[l[0] + 1 + l[1]] = buf[l[0] + 1 + l[1] + 1 + l[2]] = '\0';
  px__reminder_deliver_fn fn =
      atomic_load_explicit(&g_deliver, memory_order_relaxed);
  if (!fn) fn = deliver_virtual;
  int rc = fn(buf, buf + (p[1] - owner), buf + (p[2] - owner),
              buf + (p[3] - owner), msg, payload);
  free(buf);
  return rc;
}

/* ---- atoms ------------------------------------------------------------------ */

px_atom px__rem_put, px__rem_del, px__rem_note_put, px__rem_note_del;
px_atom px__rem_tick, px__rem_ping, px__rem_fired, px__rem_alarm;
static pthread_once_t g_atoms_once = PTHREAD_ONCE_INIT;

static void atoms_init(void) {
  px__rem_put = px_atom_of("px_rem_put");
  px__rem_del = px_atom_of("px_rem_del");
  px__rem_note_put = px_atom_of("px_rem_note_put");
  px__rem_note_del = px_atom_of("px_rem_note_del");
  px__rem_tick = px_atom_of("px_rem_tick");
  px__rem_ping = px_atom_of("px_rem_ping");
  px__rem_fired = px_atom_of("reminder_fired");
  px__rem_alarm = px_atom_of("__alarm__");
}

void px__reminder_atoms(void) { pthread_once(&g_atoms_once, atoms_init); }

/* ---- stored value ----------------------------------------------------------- */

px_val px__reminder_wrap(px_val payload, int64_t left) {
  return px_map(2, px_str("p"), payload, px_str("left"), px_int(left));
}

void px__reminder_unwrap(px_val stored, px_val *payload, int64_t *left) {
  px_val n = px_gets(stored, "left");
  if (px_typeof(stored) == PX_T_MAP && px_len(stored) == 2 &&
      px_typeof(n) == PX_T_INT) {
    *payload = px_gets(stored, "p");
    *left = n.u.i;
  } else { /* written by something else: all of it is the payload */
    *payload = stored;
    *left = 0;
  }
}

int64_t px__reminder_next_due(int64_t due, int64_t period, int64_t now) {
  if (due > now) return due + period; /* fired early: just the next one */
  int64_t k = (now - due) / period + 1;
  return due + k * period;
}

/* ---- validation ------------------------------------------------------------- */

static bool part_ok(const char *p, bool slash_ok) {
  return p && *p && (slash_ok || !strchr(p, '/'));
}

/* Builds "tenant/ns/type/key" into a new malloc'd string, or NULL when a
 * part is bad. */
static char *owner_of(const char *tenant, const char *ns, const char *type,
                      const char *key) {
  if (!part_ok(tenant, false) || !part_ok(ns, false) ||
      !part_ok(type, false) || !part_ok(key, true))
    return NULL;
  size_t n = strlen(tenant) + strlen(ns) + strlen(type) + strlen(key) + 4;
  if (n > PX_KV_MAX_SCOPE + 1) return NULL;
  char *o = px__xmalloc(n);
  snprintf(o, n, "%s/%s/%s/%s", tenant, ns, type, key);
  return o;
}

static bool name_ok(const char *name) {
  return name && *name && strnlen(name, PX_KV_MAX_KEY + 1) <= PX_KV_MAX_KEY;
}

/* ---- set / cancel ----------------------------------------------------------- */

static int ask_service(px_ref svc, px_atom type, px_val msg) {
  px_val reply = px_nil();
  int rc = px_ask(svc, type, msg, -1, &reply);
  if (rc == 0) rc = px_typeof(reply) == PX_T_INT ? (int)reply.u.i : PX_EINVAL;
  px_val_release(reply);
  return rc;
}

/* Writes op directly (no service), then notes it to a service that may
 * have started meanwhile. msg is the message for that service (owned). */
static int write_direct(px_store *s, const px_store_op *op, px_atom note,
                        px_val msg) {
  int rc = px_store_apply(s, op, 1);
  px_ref svc;
  if (rc == 0 && px__reminder_service(s, &svc)) {
    px_send(svc, note, msg);
  } else {
    px_val_release(msg);
  }
  return rc;
}

static int set_any(px_store *s, const px_reminder_spec *r);

int px_reminder_set(px_store *s, const px_reminder_spec *r) {
  if (r && r->name && !strncmp(r->name, "__", 2)) return PX_EINVAL;
  return set_any(s, r);
}

/* px_reminder_set without the reserved-name check (the alarm's way in) */
static int set_any(px_store *s, const px_reminder_spec *r) {
  if (!s || !r || !name_ok(r->name)) return PX_EINVAL;
  /* times beyond ~18 million years would overflow the sums below */
  const int64_t far = INT64_MAX / 4;
  if (r->due_in_ms < 0 || r->due_at_ms < 0 || r->max_occurrences < 0 ||
      r->period_ms < 0 || r->due_in_ms > far || r->due_at_ms > far ||
      r->period_ms > far)
    return PX_EINVAL;
  if (r->period_ms > 0 &&
      r->period_ms < atomic_load_explicit(&g_min_period,
                                          memory_order_relaxed))
    return PX_EINVAL; /* T-H-11 */
  char *owner = owner_of(r->tenant, r->ns, r->type, r->key);
  if (!owner) return PX_EINVAL;
  int64_t left = r->period_ms > 0 ? r->max_occurrences : 0;
  px_val stored = px__reminder_wrap(px_val_retain(r->payload), left);
  char *enc = NULL;
  size_t enc_len = 0;
  int rc = px_msgpack_encode(stored, &enc, &enc_len);
  free(enc);
  if (rc == 0 && enc_len > PX_KV_MAX_VALUE) rc = PX_ERANGE;
  if (rc) {
    px_val_release(stored);
    free(owner);
    return rc;
  }
  int64_t due = r->due_at_ms > 0 ? r->due_at_ms
                                 : px__reminder_now() + r->due_in_ms;
  px__reminder_atoms();
  px_val msg = px_arr(5, px_str(owner), px_str(r->name), stored,
                      px_int(due), px_int(r->period_ms));
  px_ref svc;
  if (px__reminder_service(s, &svc)) {
    rc = ask_service(svc, px__rem_put, msg);
  } else {
    px_store_op op = {.kind = PX_STORE_REMINDER_PUT, .space = owner,
                      .key = r->name, .value = px_at(msg, 2),
                      .expiry_ms = due, .i64 = r->period_ms};
    rc = write_direct(s, &op, px__rem_note_put, px_val_retain(msg));
    px_val_release(msg);
  }
  free(owner);
  return rc;
}

int px_reminder_cancel(px_store *s, const char *tenant, const char *ns,
                       const char *type, const char *key, const char *name) {
  if (!s || !name_ok(name)) return PX_EINVAL;
  char *owner = owner_of(tenant, ns, type, key);
  if (!owner) return PX_EINVAL;
  px__reminder_atoms();
  px_val msg = px_arr(2, px_str(owner), px_str(name));
  px_ref svc;
  int rc;
  if (px__reminder_service(s, &svc)) {
    rc = ask_service(svc, px__rem_del, msg);
  } else {
    px_store_op op = {.kind = PX_STORE_REMINDER_DEL, .space = owner,
                      .key = name};
    rc = write_direct(s, &op, px__rem_note_del, msg);
  }
  free(owner);
  return rc;
}

/* ---- list ------------------------------------------------------------------- */

typedef struct list_ctx {
  px_reminder_cb cb;
  void *ud;
} list_ctx;

static int list_one(void *ud, const char *owner, const char *name,
                    px_val stored, int64_t due, int64_t period) {
  list_ctx *c = ud;
  px_reminder_info info = {.owner = owner, .name = name, .due_ms = due,
                           .period_ms = period};
  px__reminder_unwrap(stored, &info.payload, &info.remaining);
  int rc = c->cb(c->ud, &info);
  px_val_release(stored);
  return rc;
}

int px_reminder_list(px_store *s, const char *owner, px_reminder_cb cb,
                     void *ud) {
  if (!s || !cb) return PX_EINVAL;
  list_ctx c = {cb, ud};
  /* one owner's rows through the store's owner lookup, not a full scan */
  return owner ? px_store_reminders_of(s, owner, list_one, &c)
               : px_store_reminders(s, list_one, &c);
}

/* ---- the durable alarm ----------------------------------------------------- */

int px_alarm_set(px_store *s, const char *tenant, const char *ns,
                 const char *type, const char *key, int64_t at_ms) {
  if (at_ms <= 0) return PX_EINVAL;
  px_reminder_spec r = {.tenant = tenant, .ns = ns, .type = type,
                        .key = key, .name = PX__ALARM_NAME,
                        .due_at_ms = at_ms};
  return set_any(s, &r);
}

static int alarm_found(void *ud, const px_reminder_info *r) {
  if (strcmp(r->name, PX__ALARM_NAME)) return 0;
  *(int64_t *)ud = r->due_ms;
  return 1;
}

int px_alarm_get(px_store *s, const char *tenant, const char *ns,
                 const char *type, const char *key, int64_t *at_ms) {
  if (!at_ms) return PX_EINVAL;
  *at_ms = 0;
  char *owner = owner_of(tenant, ns, type, key);
  if (!s || !owner) {
    free(owner);
    return PX_EINVAL;
  }
  int rc = px_reminder_list(s, owner, alarm_found, at_ms);
  free(owner);
  return rc == 1 ? 0 : rc;
}

int px_alarm_delete(px_store *s, const char *tenant, const char *ns,
                    const char *type, const char *key) {
  return px_reminder_cancel(s, tenant, ns, type, key, PX__ALARM_NAME);
}
