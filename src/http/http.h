/* The node's HTTP/JSON API on libmicrohttpd. Internal to the node.
 * A poll loop on `threads` threads reads requests; each API request is
 * then served by an actor of its own (see server.c), so waiting on actors
 * costs no thread. Connections are capped (max_connections) and requests
 * in flight too (max_concurrent: 503 beyond it). */
#ifndef PX_HTTP_HTTP_H
#define PX_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plexspaces/store.h"

typedef struct px_http px_http;
typedef struct px_auth px_auth;
typedef struct px_apps px_apps;

typedef struct px_http_opts {
  const char *listen;         /* "host:port"; port 0 picks a free one */
  size_t max_body;            /* bytes of a JSON body (413 beyond) */
  size_t max_upload;          /* bytes of a deploy upload (413 beyond) */
  size_t max_header;          /* bytes of the request head (431 beyond) */
  int idle_timeout_s;         /* a silent connection is closed */
  int max_connections;
  int max_concurrent;         /* requests in flight (503 beyond) */
  int threads;                /* event-loop threads, 0 = 1 */
  int64_t default_ask_timeout_ms;
  int64_t max_ask_timeout_ms; /* the per-request deadline */
  const px_auth *auth;
  px_apps *apps;
  px_store *store;            /* journal reads */
} px_http_opts;

int px__http_start(const px_http_opts *o, px_http **out, char *err,
                   size_t errcap);
/* The bound port (useful with port 0). */
uint16_t px__http_port(const px_http *h);
/* /readyz answers 200 only between set_ready(true) and shutdown. */
void px__http_set_ready(px_http *h, bool ready);
/* Graceful stop: stop accepting, wait for requests in flight up to
 * deadline_ms, answer the rest 503, then close every connection. Returns
 * how many requests were still running at the deadline (0 when all
 * finished). Their handler actors may still run: h stays valid for them
 * until px__http_free, to be called once the runtime has stopped. */
int px__http_stop(px_http *h, int64_t deadline_ms);
void px__http_free(px_http *h);

#endif
