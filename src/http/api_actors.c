/* /api/v1/actors: ask, tell, stop and list the actors of the caller's
 * tenant. A target is an actor type or type:key inside a namespace,
 * resolved by the app manager (src/app). The message type is the
 * payload's "op" field, an atom. Atoms are never freed, so clients may
 * mint only a bounded number of new ones (MAX_NEW_OPS names of at most 64
 * identifier characters): past that, an op no code has named yet is
 * refused instead of growing the atom table without end. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "http/req.h"
#include "plexspaces/actor.h"
#include "plexspaces/error.h"
#include "plexspaces/virtual.h"

#define ASK_DEFAULT_S 5
#define MAX_OP_LEN 64

typedef struct target {
  const char *ns;
  const char *name;
  px_app_target t;
  char actor_id[320];
} target;

static bool resolve(px_req *r, target *tg) {
  tg->ns = r->seg[3];
  tg->name = r->seg[4];
  px_apps *apps = px__http_opts(r->http)->apps;
  int rc = px__apps_resolve(apps, r->tenant, tg->ns, tg->name, &tg->t);
  if (rc) {
    px__reply_error(r, 404, "no actor \"%s\" in namespace \"%s\" (deploy an "
                    "app that defines it, or check the name)", tg->name,
                    tg->ns);
    return false;
  }
  if (tg->t.kind == PX_APP_TARGET_VIRTUAL)
    snprintf(tg->actor_id, sizeof tg->actor_id, "%s/%s:%s", tg->ns,
             tg->name, tg->t.key);
  else {
    char ref[64];
    snprintf(tg->actor_id, sizeof tg->actor_id, "%s/%s@%s", tg->ns,
             tg->name, px_ref_format(tg->t.ref, ref, sizeof ref));
  }
  return true;
}

/* The op as an existing atom: false (and a 400) when missing or unknown. */
static bool op_of(px_req *r, px_val payload, px_atom *out) {
  px_val op = px_gets(payload, "op");
  if (op.type != PX_T_STR) {
    px__reply_error(r, 400, "the payload needs an \"op\" field (a string "
                    "naming the message type), e.g. {\"op\": \"get\"}");
    return false;
  }
  const char *name = px_str_ptr(op);
  size_t len = px_str_len(op);
  int rc = px_atom_untrusted(name, len, out);
  if (rc == PX_EINVAL) {
    px__reply_error(r, 400, "\"op\" must be 1..%d characters of "
                    "[A-Za-z0-9_.:-]", MAX_OP_LEN);
    return false;
  }
  if (rc) {
    px__reply_error(r, 400, "unknown op \"%.*s\": this node has seen too "
                    "many distinct op names", (int)len, name);
    return false;
  }
  return true;
}

static void envelope(px_req *r, int status, const target *tg, bool ok,
                     px_val payload, const char *error) {
  px_val v = px_map(4, px_str("actor_id"), px_str(tg->actor_id),
                    px_str("success"), px_bool(ok), px_str("payload"),
                    payload, px_str("error_message"),
                    error ? px_str(error) : px_nil());
  px__reply_json(r, status, v);
}

static void do_ask(px_req *r, px_val payload) {
  target tg;
  px_atom op;
  int64_t timeout_s;
  const px_http_opts *o = px__http_opts(r->http);
  if (!px__query_ms(r, "timeout", ASK_DEFAULT_S, &timeout_s) ||
      !resolve(r, &tg) || !op_of(r, payload, &op)) {
    px_val_release(payload);
    return;
  }
  int64_t timeout_ms = timeout_s * 1000;
  if (timeout_ms <= 0) timeout_ms = o->default_ask_timeout_ms;
  if (timeout_ms > o->max_ask_timeout_ms) timeout_ms = o->max_ask_timeout_ms;
  px_val reply = px_nil();
  int rc;
  if (tg.t.kind == PX_APP_TARGET_VIRTUAL)
    rc = px_virtual_ask_in(r->tenant, tg.ns, tg.t.vtype, tg.t.key, op,
                           payload, timeout_ms, &reply);
  else
    rc = px_ask(tg.t.ref, op, payload, timeout_ms, &reply);
  char msg[512];
  switch (rc) {
    case 0:
      envelope(r, 200, &tg, true, reply, NULL);
      return;
    case PX_ETIMEDOUT:
      snprintf(msg, sizeof msg, "the actor did not answer within %lld ms "
               "(it keeps running; raise ?timeout= in seconds)",
               (long long)timeout_ms);
      envelope(r, 504, &tg, false, px_nil(), msg);
      return;
    case PX_EHANDLER: {
      char text[400];
      px_val_format(reply, text, sizeof text);
      snprintf(msg, sizeof msg, "the actor answered with an error: %s", text);
      envelope(r, 500, &tg, false, reply, msg);
      return;
    }
    case PX_ENOPROC:
    case PX_EEXITED: {
      /* reply is the exit reason when the runtime knows it */
      char why[200] = "";
      if (!px_is_nil(reply)) px_val_format(reply, why, sizeof why);
      px_val_release(reply);
      snprintf(msg, sizeof msg, "the actor exited before answering%s%s (a "
               "crash? its supervisor restarts it)", *why ? ": " : "", why);
      envelope(r, 500, &tg, false, px_nil(), msg);
      return;
    }
    default:
      px_val_release(reply);
      snprintf(msg, sizeof msg, "ask failed: %s", px_strerror(rc));
      envelope(r, px__status_of(rc) == 200 ? 500 : px__status_of(rc), &tg,
               false, px_nil(), msg);
  }
}

void px__api_actor_ask(px_req *r) {
  px_val payload;
  if (strcmp(r->method, "GET") == 0) payload = px__query_map(r);
  else if (!px__body_json(r, px_map_new(0), &payload)) return;
  if (payload.type != PX_T_MAP) {
    px_val_release(payload);
    px__reply_error(r, 400, "the payload must be a JSON object with an "
                    "\"op\" field");
    return;
  }
  do_ask(r, payload);
}

void px__api_actor_get(px_req *r) { do_ask(r, px__query_map(r)); }

void px__api_actor_tell(px_req *r) {
  px_val payload;
  if (!px__body_json(r, px_map_new(0), &payload)) return;
  target tg;
  px_atom op;
  if (payload.type != PX_T_MAP) {
    px_val_release(payload);
    px__reply_error(r, 400, "the payload must be a JSON object with an "
                    "\"op\" field");
    return;
  }
  if (!resolve(r, &tg) || !op_of(r, payload, &op)) {
    px_val_release(payload);
    return;
  }
  int rc;
  if (tg.t.kind == PX_APP_TARGET_VIRTUAL)
    rc = px_virtual_send_in(r->tenant, tg.ns, tg.t.vtype, tg.t.key, op,
                            payload);
  else /* a GenServer sees a tell as an info, as a virtual one does */
    rc = px_send(tg.t.ref, op, payload);
  if (rc) {
    px__reply_px_error(r, rc, "tell failed");
    return;
  }
  envelope(r, 202, &tg, true, px_nil(), NULL);
}

void px__api_actor_stop(px_req *r) {
  target tg;
  if (!resolve(r, &tg)) return;
  int rc;
  if (tg.t.kind == PX_APP_TARGET_VIRTUAL)
    rc = px_virtual_deactivate_in(r->tenant, tg.ns, tg.t.vtype, tg.t.key);
  else
    rc = px_exit(tg.t.ref, px_atom_val("shutdown"));
  if (rc && rc != PX_ENOPROC && rc != PX_ENOTFOUND) {
    px__reply_px_error(r, rc, "stop failed");
    return;
  }
  envelope(r, 200, &tg, true, px_nil(), NULL);
}

void px__api_actors_list(px_req *r) {
  const char *ns = px__query(r, "ns");
  if (ns && !*ns) ns = NULL;
  px_val out;
  int rc = px__apps_actors(px__http_opts(r->http)->apps, r->tenant, ns, &out);
  if (rc) {
    px__reply_px_error(r, rc, "listing actors failed");
    return;
  }
  px__reply_json(r, 200, px_map(1, px_str("actors"), out));
}
