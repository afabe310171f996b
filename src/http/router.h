/* Routing of a request to its handler. Internal to src/http. */
#ifndef PX_HTTP_ROUTER_H
#define PX_HTTP_ROUTER_H

#include "http/req.h"

typedef struct px_route {
  const char *pattern; /* for metrics and logs */
  const char *op;      /* RBAC operation; NULL = public, "" = checked by
                          the handler */
  const char *ns;      /* namespace segment, NULL when none */
  void (*fn)(px_req *r);
} px_route;

/* 0 with *out filled, 404 (no such path) or 405 (path exists, not with
 * this method). */
int px__route(px_req *r, px_route *out);

#endif
