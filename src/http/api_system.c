/* Probes, metrics, node status and journal reads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "http/req.h"
#include "node/node.h"
#include "plexspaces/durable.h"
#include "plexspaces/error.h"
#include "plexspaces/metrics.h"
#include "plexspaces/runtime.h"

void px__api_healthz(px_req *r) {
  px__reply_json(r, 200, px_map(2, px_str("status"), px_str("ok"),
                                px_str("version"),
                                px_str(px__node_version())));
}

void px__api_readyz(px_req *r) {
  if (!px__http_ready(r->http)) {
    r->retry_after_s = 1;
    px__reply_error(r, 503, "not ready: the node is starting or stopping");
    return;
  }
  px__reply_json(r, 200, px_map(1, px_str("status"), px_str("ready")));
}

/* Metrics cover every tenant, so with auth on they need a node admin's
 * token (the is_admin claim), not just a tenant's admin role. */
void px__api_metrics(px_req *r) {
  const px_http_opts *o = px__http_opts(r->http);
  if (px__auth_enabled(o->auth) && !r->id.admin) {
    px__reply_error(r, 403, "metrics cover every tenant: they need a token "
                    "with the is_admin claim");
    return;
  }
  char *text;
  size_t len;
  int rc = px_metrics_render(&text, &len);
  if (rc) {
    px__reply_px_error(r, rc, "rendering metrics failed");
    return;
  }
  px__reply_owned(r, 200, PX_METRICS_CONTENT_TYPE, text, len);
}

void px__api_status(px_req *r) {
  px_val apps;
  int rc = px__apps_list(px__http_opts(r->http)->apps, r->tenant, &apps);
  if (rc) apps = px_array_new(0);
  px__reply_json(
      r, 200,
      px_map(6, px_str("version"), px_str(px__node_version()),
             px_str("tenant"), px_str(r->tenant), px_str("ready"),
             px_bool(px__http_ready(r->http)), px_str("workers"),
             px_int(px_runtime_workers()), px_str("actors"),
             px_int((int64_t)px_actors_count()), px_str("applications"),
             apps));
}

typedef struct stream_probe {
  const char *want;
  bool found;
} stream_probe;

static int probe(void *ud, const char *name) {
  stream_probe *p = ud;
  if (strcmp(name, p->want) == 0) p->found = true;
  return 0;
}

static bool stream_exists(px_store *s, const char *id) {
  stream_probe p = {id, false};
  return px_store_streams(s, id, probe, &p) == 0 && p.found;
}

/* {id} is "wf:ID" (a workflow), "type:key" (a virtual actor) or a child
 * name (a durable child); every stream id starts with the tenant, so
 * another tenant's journal can never be named. */
void px__api_journal(px_req *r) {
  const char *ns = r->seg[3], *id = r->seg[4];
  px_store *s = px__http_opts(r->http)->store;
  if (!s) {
    px__reply_error(r, 501, "this node runs without a store");
    return;
  }
  char stream[1024] = "";
  px_app_target t;
  if (strncmp(id, "wf:", 3) == 0)
    snprintf(stream, sizeof stream, "wf/%s/%s/%s", r->tenant, ns, id + 3);
  else if (strchr(id, ':') &&
           px__apps_resolve(px__http_opts(r->http)->apps, r->tenant, ns, id,
                            &t) == 0 &&
           t.kind == PX_APP_TARGET_VIRTUAL)
    snprintf(stream, sizeof stream, "%s/%s/%s/%s", r->tenant, ns, t.vtype,
             t.key);
  else
    snprintf(stream, sizeof stream, "%s/%s/%s", r->tenant, ns, id);
  if (!stream_exists(s, stream)) {
    px__reply_error(r, 404, "no journal for \"%s\" in namespace \"%s\"", id,
                    ns);
    return;
  }
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) {
    px__reply_error(r, 500, "out of memory");
    return;
  }
  int rc = px_journal_show(s, stream, f);
  fclose(f);
  if (rc) {
    free(text);
    px__reply_px_error(r, rc, "reading the journal failed");
    return;
  }
  px__reply_owned(r, 200, "text/plain; charset=utf-8", text, len);
}
