/* The route table: method + path pattern → RBAC operation and handler.
 * Patterns are segment lists where "*" matches one segment; the namespace
 * (for RBAC) is the segment at ns_seg. Kept as data so that the whole API
 * reads in one screen. */
#include <string.h>

#include "http/router.h"

typedef struct route {
  const char *method;  /* "GET", "POST", ...; "ASK" = GET|POST|PUT */
  const char *pattern; /* segments joined by '/', without the leading '/' */
  const char *op;      /* RBAC operation; NULL = public (probes) */
  int ns_seg;          /* segment holding the namespace, -1 = none */
  void (*fn)(px_req *r);
} route;

static const route ROUTES[] = {
    {"GET", "healthz", NULL, -1, px__api_healthz},
    {"GET", "readyz", NULL, -1, px__api_readyz},
    {"GET", "metrics", "metrics.read", -1, px__api_metrics},
    {"GET", "api/v1/status", "node.status", -1, px__api_status},
    {"GET", "api/v1/actors", "actor.list", -1, px__api_actors_list},
    {"ASK", "api/v1/actors/*/*/ask", "actor.ask", 3, px__api_actor_ask},
    {"GET", "api/v1/actors/*/*", "actor.ask", 3, px__api_actor_get},
    {"POST", "api/v1/actors/*/*", "actor.tell", 3, px__api_actor_tell},
    {"PUT", "api/v1/actors/*/*", "actor.tell", 3, px__api_actor_tell},
    {"DELETE", "api/v1/actors/*/*", "actor.stop", 3, px__api_actor_stop},
    {"POST", "api/v1/spaces/*/*/write", "space.write", 3, px__api_space},
    {"POST", "api/v1/spaces/*/*/read", "space.read", 3, px__api_space},
    {"POST", "api/v1/spaces/*/*/take", "space.take", 3, px__api_space},
    {"POST", "api/v1/spaces/*/*/count", "space.count", 3, px__api_space},
    {"POST", "api/v1/workflows/*/*", "workflow.start", 3, px__api_wf_start},
    {"GET", "api/v1/workflows/*/*", "workflow.status", 3, px__api_wf_status},
    {"POST", "api/v1/workflows/*/*/signals/*", "workflow.signal", 3,
     px__api_wf_signal},
    {"GET", "api/v1/workflows/*/*/queries/*", "workflow.query", 3,
     px__api_wf_query},
    {"POST", "api/v1/workflows/*/*/cancel", "workflow.cancel", 3,
     px__api_wf_cancel},
    /* Deploy checks app.deploy itself: the namespace is in the form. */
    {"POST", "api/v1/applications/deploy", "", -1, px__api_app_deploy},
    {"GET", "api/v1/applications", "app.list", -1, px__api_app_list},
    {"GET", "api/v1/applications/*", "app.list", 3, px__api_app_status},
    {"DELETE", "api/v1/applications/*", "app.undeploy", 3,
     px__api_app_undeploy},
    {"GET", "api/v1/journal/*/*", "journal.read", 3, px__api_journal},
};

static bool method_ok(const char *want, const char *have) {
  if (strcmp(want, "ASK") == 0)
    return !strcmp(have, "GET") || !strcmp(have, "POST") ||
           !strcmp(have, "PUT");
  return strcmp(want, have) == 0;
}

static bool path_ok(const char *pattern, char *const *seg, size_t nseg) {
  size_t i = 0;
  const char *p = pattern;
  while (*p) {
    const char *end = strchr(p, '/');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (i >= nseg) return false;
    bool star = len == 1 && *p == '*';
    if (!star && (strlen(seg[i]) != len || memcmp(seg[i], p, len) != 0))
      return false;
    if (star && !seg[i][0]) return false;
    i++;
    p += len;
    if (*p == '/') p++;
  }
  return i == nseg;
}

int px__route(px_req *r, px_route *out) {
  bool path_seen = false;
  for (size_t i = 0; i < sizeof ROUTES / sizeof ROUTES[0]; i++) {
    const route *rt = &ROUTES[i];
    if (!path_ok(rt->pattern, r->seg, r->nseg)) continue;
    path_seen = true;
    if (!method_ok(rt->method, r->method)) continue;
    out->pattern = rt->pattern;
    out->op = rt->op;
    out->ns = rt->ns_seg >= 0 ? r->seg[rt->ns_seg] : NULL;
    out->fn = rt->fn;
    return 0;
  }
  return path_seen ? 405 : 404;
}
