/* Asynchronous requests, request-id collections, multi_call and abcast
 * (R-D-14). See gen_server.h for the mechanism: a request is a monitored
 * "request" actor that asks the server on the caller's behalf and exits
 * with the outcome as its reason, so the response is the __DOWN__ of the
 * request id's monitor. Built on the public actor API only. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "behavior/beh.h"
#include "core/mem.h"
#include "plexspaces/error.h"
#include "plexspaces/gen_server.h"
#include "plexspaces/runtime.h"

static px_atom a_response, a_go;
static pthread_once_t ra_once = PTHREAD_ONCE_INIT;

static void ra_init(void) {
  a_response = px_atom_of("__gen_response__");
  a_go = px_atom_of("__gen_go__");
}

/* ---- the request actor --------------------------------------------------- */

/* State: [server ref, type, payload] (owned). */
typedef struct relay {
  px_val args;
} relay;

static int relay_init(px_val args, void **state) {
  relay *r = px__xcalloc(1, sizeof *r);
  r->args = px_val_retain(args);
  *state = r;
  /* The ask runs in the first turn, not in init. */
  px_send(px_self(), a_go, px_nil());
  return 0;
}

static void relay_handle(void *state, const px_message *m) {
  relay *r = state;
  if (m->type != a_go || m->corr) return;
  px_ref server = px_ref_nil();
  px_val_ref(px_at(r->args, 0), &server);
  px_val v;
  int rc = px_ask(server, px_at(r->args, 1).u.a,
                  px_val_retain(px_at(r->args, 2)), -1, &v);
  /* {shutdown, _}: a silent exit that carries the outcome (R-C-7). */
  px_exit_self(px_arr(2, px_atomv(px_a()->shutdown),
                      px_arr(3, px_atomv(a_response), px_int(rc), v)));
}

static void relay_terminate(void *state, px_val reason) {
  (void)reason;
  relay *r = state;
  if (!r) return;
  px_val_release(r->args);
  free(r);
}

static const px_actor_type relay_type = {
    .name = "gen_request",
    .stack_size = 0,
    .init = relay_init,
    .handle = relay_handle,
    .terminate = relay_terminate,
};

/* ---- request ids ------------------------------------------------------------ */

static int send_request(px_ref server, px_atom type, px_val payload,
                        px_reqid *out) {
  pthread_once(&ra_once, ra_init);
  out->mref = 0;
  out->relay = px_ref_nil();
  px_self(); /* external threads get their proxy before the spawn */
  px_spawn_opts so = {0};
  so.monitor = true;
  so.mref_out = &out->mref;
  so.parent = px_self();
  px_ref rel;
  int rc = px_spawn(&relay_type,
                    px_arr(3, px_ref_val(server), px_atomv(type), payload),
                    &so, &rel);
  if (rc) {
    if (out->mref) px_demonitor(out->mref, true);
    out->mref = 0;
    return rc;
  }
  out->relay = rel;
  return 0;
}

int px_gen_server_send_request(px_ref server, px_atom type, px_val payload,
                               px_reqid *out) {
  if (!out) {
    px_val_release(payload);
    return PX_EINVAL;
  }
  return send_request(server, type, payload, out);
}

int px_gen_server_send_request_name(const char *name, px_atom type,
                                    px_val payload, px_reqid *out) {
  if (!out || !name) {
    px_val_release(payload);
    return PX_EINVAL;
  }
  /* Resolved now; an unknown name asks the nil ref: noproc. */
  px_ref server = px_ref_nil();
  px_whereis(name, &server);
  return send_request(server, type, payload, out);
}

/* The monitor ref of a __DOWN__ message, or 0. */
static px_mref down_mref(px_atom type, px_val payload) {
  if (type != px_a()->down_msg) return 0;
  px_val r = px_get(payload, px_atomv(px_a()->monitor_ref));
  return px_typeof(r) == PX_T_INT ? (px_mref)r.u.i : 0;
}

/* Decodes a response (the request actor's __DOWN__, payload borrowed):
 * the outcome, *reply a new value. */
static int decode(px_val payload, px_val *reply) {
  px_val reason = px_get(payload, px_atomv(px_a()->down_reason));
  px_val inner = px_at(reason, 1);
  if (px_typeof(reason) == PX_T_ARRAY && px_len(reason) == 2 &&
      px_is_atom(px_at(reason, 0), px_a()->shutdown) &&
      px_typeof(inner) == PX_T_ARRAY && px_len(inner) == 3 &&
      px_is_atom(px_at(inner, 0), a_response) &&
      px_typeof(px_at(inner, 1)) == PX_T_INT) {
    *reply = px_val_retain(px_at(inner, 2));
    return (int)px_at(inner, 1).u.i;
  }
  /* The request actor died some other way (killed): no answer. */
  *reply = px_val_retain(reason);
  return PX_ENOPROC;
}

static bool match_mref(const px_message *m, void *ud) {
  return m->type == px_a()->down_msg &&
         down_mref(m->type, m->payload) == *(const px_mref *)ud;
}

int px_gen_server_wait_response(px_reqid id, int64_t timeout_ms,
                                px_val *reply) {
  *reply = px_nil();
  if (!id.mref) return PX_EINVAL;
  pthread_once(&ra_once, ra_init);
  px_message *m;
  int rc = px_receive(match_mref, &id.mref, timeout_ms < 0 ? -1 : timeout_ms,
                      &m);
  if (rc) return rc;
  rc = decode(m->payload, reply);
  px_message_free(m);
  return rc;
}

int px_gen_server_reqid_abandon(px_reqid id) {
  if (!id.mref) return 0;
  /* After the demonitor no __DOWN__ for it is queued or will be (R-B-15);
   * the kill frees the request actor and drops the server's late reply. */
  px_demonitor(id.mref, true);
  if (!px_ref_is_nil(id.relay)) px_exit(id.relay, px_atomv(px_a()->kill));
  return 0;
}

int px_gen_server_receive_response(px_reqid id, int64_t timeout_ms,
                                   px_val *reply) {
  int rc = px_gen_server_wait_response(id, timeout_ms, reply);
  if (rc == PX_ETIMEDOUT) px_gen_server_reqid_abandon(id);
  return rc;
}

int px_gen_server_check_response(px_atom type, px_val payload, px_reqid id,
                                 px_val *reply) {
  *reply = px_nil();
  pthread_once(&ra_once, ra_init);
  if (!id.mref || down_mref(type, payload) != id.mref) return PX_ENOTFOUND;
  return decode(payload, reply);
}

/* ---- collections -------------------------------------------------------------- */

typedef struct reqid_entry {
  px_reqid id;
  px_val label; /* owned */
} reqid_entry;

struct px_reqids {
  reqid_entry *v;
  size_t n, cap;
};

px_reqids *px_gen_server_reqids_new(void) {
  pthread_once(&ra_once, ra_init);
  return px__xcalloc(1, sizeof(px_reqids));
}

void px_gen_server_reqids_free(px_reqids *c) {
  if (!c) return;
  for (size_t i = 0; i < c->n; i++) {
    px_gen_server_reqid_abandon(c->v[i].id);
    px_val_release(c->v[i].label);
  }
  free(c->v);
  free(c);
}

int px_gen_server_reqids_add(px_reqids *c, px_reqid id, px_val label) {
  if (!c || !id.mref) {
    px_val_release(label);
    return PX_EINVAL;
  }
  if (c->n == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 8;
    c->v = px__xrealloc(c->v, c->cap * sizeof *c->v);
  }
  c->v[c->n++] = (reqid_entry){id, label};
  return 0;
}

size_t px_gen_server_reqids_size(const px_reqids *c) { return c ? c->n : 0; }

static ssize_t find_mref(const px_reqids *c, px_mref mref) {
  if (!mref) return -1;
  for (size_t i = 0; i < c->n; i++)
    if (c->v[i].id.mref == mref) return (ssize_t)i;
  return -1;
}

static bool match_coll(const px_message *m, void *ud) {
  return find_mref(ud, down_mref(m->type, m->payload)) >= 0;
}

/* Takes the response (payload borrowed) out of the collection. */
static int take(px_reqids *c, size_t i, px_val payload, px_val *label,
                px_val *reply) {
  int rc = decode(payload, reply);
  *label = c->v[i].label;
  memmove(&c->v[i], &c->v[i + 1], (c->n - i - 1) * sizeof *c->v);
  c->n--;
  return rc;
}

int px_gen_server_reqids_check(px_reqids *c, px_atom type, px_val payload,
                               px_val *label, px_val *reply) {
  *label = px_nil();
  *reply = px_nil();
  if (!c) return PX_EINVAL;
  ssize_t i = find_mref(c, down_mref(type, payload));
  if (i < 0) return PX_ENOTFOUND;
  return take(c, (size_t)i, payload, label, reply);
}

int px_gen_server_reqids_wait_any(px_reqids *c, int64_t timeout_ms,
                                  px_val *label, px_val *reply) {
  *label = px_nil();
  *reply = px_nil();
  if (!c) return PX_EINVAL;
  if (!c->n) return PX_ENOTFOUND;
  px_message *m;
  int rc = px_receive(match_coll, c, timeout_ms < 0 ? -1 : timeout_ms, &m);
  if (rc) return rc;
  ssize_t i = find_mref(c, down_mref(m->type, m->payload));
  rc = take(c, (size_t)i, m->payload, label, reply);
  px_message_free(m);
  return rc;
}

int px_gen_server_reqids_wait_all(px_reqids *c, int64_t timeout_ms,
                                  px_reqid_result *out, size_t cap,
                                  size_t *nout) {
  *nout = 0;
  if (!c || (cap && !out)) return PX_EINVAL;
  uint64_t deadline = timeout_ms >= 0 ? px_clock_ms() + (uint64_t)timeout_ms
                                      : 0;
  while (c->n) {
    if (*nout == cap) return PX_ERANGE;
    int64_t left = -1;
    if (timeout_ms >= 0) {
      uint64_t now = px_clock_ms();
      /* Past the deadline: still take what has already arrived. */
      left = now >= deadline ? 0 : (int64_t)(deadline - now);
    }
    px_reqid_result *r = &out[*nout];
    int rc = px_gen_server_reqids_wait_any(c, left, &r->label, &r->reply);
    if (rc == PX_ETIMEDOUT) return rc;
    r->rc = rc;
    (*nout)++;
  }
  return 0;
}

/* ---- multi_call and abcast ------------------------------------------------- */

/* Resolves a target; false (with the outcome in *rc) when it cannot even
 * be asked. */
static bool resolve(const px_gen_target *t, px_ref *out, int *rc) {
  *rc = 0;
  if (!t->name) {
    *out = t->ref;
    return true;
  }
  if (t->node && t->node != px_self().node) {
    *rc = PX_ENOTSUP; /* remote nodes: the cluster comes later */
    return false;
  }
  if (px_whereis(t->name, out) != 0) {
    *rc = PX_ENOPROC;
    return false;
  }
  return true;
}

int px_gen_server_multi_call(const px_gen_target *servers, size_t n,
                             px_atom type, px_val payload, int64_t timeout_ms,
                             px_gen_multi_reply *replies, size_t *bad,
                             size_t *nbad) {
  if (nbad) *nbad = 0;
  if (n && (!servers || !replies)) {
    px_val_release(payload);
    return PX_EINVAL;
  }
  timeout_ms = px__beh_call_timeout(timeout_ms);
  px_reqids *c = px_gen_server_reqids_new();
  for (size_t i = 0; i < n; i++) {
    replies[i].rc = PX_ETIMEDOUT;
    replies[i].value = px_nil();
    px_ref to;
    int rc;
    if (!resolve(&servers[i], &to, &rc)) {
      replies[i].rc = rc;
      replies[i].value = rc == PX_ENOPROC ? px_atomv(px_a()->noproc)
                                          : px_nil();
      continue;
    }
    px_reqid id;
    rc = send_request(to, type, px_val_retain(payload), &id);
    if (rc) {
      replies[i].rc = rc;
      continue;
    }
    px_gen_server_reqids_add(c, id, px_int((int64_t)i));
  }
  px_val_release(payload);
  px_reqid_result one;
  size_t got;
  uint64_t deadline = timeout_ms >= 0 ? px_clock_ms() + (uint64_t)timeout_ms
                                      : 0;
  /* One response at a time, so no result array is needed. */
  while (px_gen_server_reqids_size(c)) {
    int64_t left = -1;
    if (timeout_ms >= 0) {
      uint64_t now = px_clock_ms();
      left = now >= deadline ? 0 : (int64_t)(deadline - now);
    }
    int rc = px_gen_server_reqids_wait_all(c, left, &one, 1, &got);
    if (got) {
      size_t i = (size_t)one.label.u.i;
      px_val_release(one.label);
      replies[i].rc = one.rc;
      replies[i].value = one.reply;
    }
    if (rc == PX_ETIMEDOUT) break;
  }
  /* What is left timed out: abandoned, so no late answer shows up. */
  px_gen_server_reqids_free(c);
  size_t nb = 0;
  for (size_t i = 0; i < n; i++) {
    if (replies[i].rc == 0 || replies[i].rc == PX_EHANDLER) continue;
    if (bad) bad[nb] = i;
    nb++;
  }
  if (nbad) *nbad = nb;
  return 0;
}

int px_gen_server_abcast(const px_gen_target *servers, size_t n, px_atom type,
                         px_val payload) {
  for (size_t i = 0; servers && i < n; i++) {
    const px_gen_target *t = &servers[i];
    if (t->name) {
      if (t->node && t->node != px_self().node) continue; /* not yet */
      px__beh_cast_name(t->name, type, px_val_retain(payload));
    } else {
      px__beh_cast(t->ref, type, px_val_retain(payload));
    }
  }
  px_val_release(payload);
  return 0;
}
