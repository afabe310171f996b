/* /api/v1/workflows: start, status (optionally waiting for the end),
 * signal, query and cancel the workflow executions of the caller's tenant.
 * An execution is named by (tenant, ns, id); only a start needs its type,
 * which the app manager maps to the registered workflow type. */
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "http/req.h"
#include "plexspaces/core.h"
#include "plexspaces/error.h"
#include "plexspaces/workflow.h"

static bool id_ok(const char *id) {
  size_t n = strlen(id);
  if (n == 0 || n > 128) return false;
  for (const char *p = id; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || strchr("_.:-", *p)))
      return false;
  return true;
}

void px__api_wf_start(px_req *r) {
  const char *ns = r->seg[3], *type = r->seg[4];
  px_val body;
  if (!px__body_json(r, px_map_new(0), &body)) return;
  if (body.type != PX_T_MAP) {
    px_val_release(body);
    px__reply_error(r, 400, "the body must be a JSON object: "
                    "{\"id\": \"...\", \"input\": ...}");
    return;
  }
  char qtype[512];
  if (px__apps_workflow_type(px__http_opts(r->http)->apps, r->tenant, ns,
                             type, qtype, sizeof qtype)) {
    px_val_release(body);
    px__reply_error(r, 404, "no workflow type \"%s\" in namespace \"%s\"",
                    type, ns);
    return;
  }
  char id[160];
  px_val idv = px_gets(body, "id");
  if (idv.type == PX_T_STR)
    snprintf(id, sizeof id, "%.*s", (int)px_str_len(idv), px_str_ptr(idv));
  else if (px_is_nil(idv))
    snprintf(id, sizeof id, "%s-%s", type, r->request_id);
  else
    id[0] = 0;
  if (!id_ok(id)) {
    px_val_release(body);
    px__reply_error(r, 400, "\"id\" must be 1..128 characters of "
                    "[A-Za-z0-9_.:-]");
    return;
  }
  px_val input = px_val_retain(px_gets(body, "input"));
  px_val_release(body);
  int rc = px_workflow_start_in(r->tenant, ns, qtype, id, input, NULL);
  if (rc == PX_EEXIST) {
    px__reply_error(r, 409, "workflow \"%s\" is already running", id);
    return;
  }
  if (rc) {
    px__reply_px_error(r, rc, "start failed");
    return;
  }
  px__reply_json(r, 201, px_map(2, px_str("workflow_id"), px_str(id),
                                px_str("status"), px_str("running")));
}

void px__api_wf_status(px_req *r) {
  const char *ns = r->seg[3], *id = r->seg[4];
  int64_t wait_ms;
  if (!px__query_ms(r, "wait_ms", 0, &wait_ms)) return;
  int64_t cap = px__http_opts(r->http)->max_ask_timeout_ms;
  if (wait_ms > cap) wait_ms = cap;
  px_wf_status st;
  px_val result = px_nil();
  int rc = wait_ms > 0
               ? px_workflow_wait_in(r->tenant, ns, id, wait_ms, &st, &result)
               : px_workflow_status_in(r->tenant, ns, id, &st, &result);
  if (rc == PX_ETIMEDOUT)
    rc = px_workflow_status_in(r->tenant, ns, id, &st, &result);
  if (rc == PX_ENOTFOUND) {
    px__reply_error(r, 404, "no workflow \"%s\" in namespace \"%s\"", id, ns);
    return;
  }
  if (rc) {
    px_val_release(result);
    px__reply_px_error(r, rc, "status failed");
    return;
  }
  px__reply_json(r, 200, px_map(3, px_str("workflow_id"), px_str(id),
                                px_str("status"),
                                px_str(px_wf_status_name(st)),
                                px_str("result"), result));
}

void px__api_wf_signal(px_req *r) {
  const char *ns = r->seg[3], *id = r->seg[4], *name = r->seg[6];
  px_val payload;
  if (!px__body_json(r, px_nil(), &payload)) return;
  int rc = px_workflow_signal_in(r->tenant, ns, id, name, payload);
  if (rc == PX_ENOTFOUND) {
    px__reply_error(r, 404, "no open workflow \"%s\" in namespace \"%s\"",
                    id, ns);
    return;
  }
  if (rc) {
    px__reply_px_error(r, rc, "signal failed");
    return;
  }
  px__reply_json(r, 202, px_map(1, px_str("success"), px_bool(true)));
}

void px__api_wf_query(px_req *r) {
  const char *ns = r->seg[3], *id = r->seg[4], *name = r->seg[6];
  int64_t timeout_s;
  if (!px__query_ms(r, "timeout", 5, &timeout_s)) return;
  int64_t timeout_ms = timeout_s * 1000;
  int64_t cap = px__http_opts(r->http)->max_ask_timeout_ms;
  if (timeout_ms <= 0 || timeout_ms > cap) timeout_ms = cap;
  px_val out = px_nil();
  int rc = px_workflow_query_in(r->tenant, ns, id, name, px__query_map(r),
                                timeout_ms, &out);
  if (rc == PX_ENOTFOUND || rc == PX_ENOPROC) {
    px_val_release(out);
    px__reply_error(r, 404, "no open workflow \"%s\" in namespace \"%s\"",
                    id, ns);
    return;
  }
  if (rc == PX_ENOTSUP) {
    px__reply_error(r, 400, "the workflow's type answers no queries");
    return;
  }
  if (rc) {
    char text[256];
    px_val_format(out, text, sizeof text);
    px_val_release(out);
    px__reply_error(r, px__status_of(rc) == 200 ? 500 : px__status_of(rc),
                    "query %s failed: %s (%s)", name, px_strerror(rc), text);
    return;
  }
  px__reply_json(r, 200, px_map(2, px_str("workflow_id"), px_str(id),
                                px_str("result"), out));
}

void px__api_wf_cancel(px_req *r) {
  const char *ns = r->seg[3], *id = r->seg[4];
  int rc = px_workflow_cancel_in(r->tenant, ns, id);
  if (rc == PX_ENOTFOUND) {
    px__reply_error(r, 404, "no open workflow \"%s\" in namespace \"%s\"",
                    id, ns);
    return;
  }
  if (rc) {
    px__reply_px_error(r, rc, "cancel failed");
    return;
  }
  px__reply_json(r, 202, px_map(1, px_str("success"), px_bool(true)));
}
