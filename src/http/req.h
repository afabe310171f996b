/* One HTTP request as the route handlers see it, and the helpers they
 * answer with. Internal to src/http. */
#ifndef PX_HTTP_REQ_H
#define PX_HTTP_REQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "http/http.h"
#include "plexspaces/val.h"

struct MHD_Connection;

#define PX_HTTP_MAX_SEGS 10

/* A multipart form field (deploy uploads). */
typedef struct px_form_field {
  char name[64];
  char *data;
  size_t len, cap;
} px_form_field;

#define PX_HTTP_MAX_FIELDS 8

typedef struct px_req {
  struct px_http *http;
  struct MHD_Connection *conn;
  const char *method;
  const char *url;
  char *path;                    /* copy of url, split in place */
  char *seg[PX_HTTP_MAX_SEGS];   /* path segments after the leading '/' */
  size_t nseg;
  char *body;                    /* NUL-terminated */
  size_t body_len, body_cap;
  size_t body_limit;
  bool too_large;
  void *post;                    /* MHD_PostProcessor for multipart */
  px_form_field *field;          /* [PX_HTTP_MAX_FIELDS], multipart only */
  size_t nfield;
  bool form_bad;
  uint64_t start_ns;
  char request_id[24];
  const char *route;             /* route pattern, for metrics and logs */
  const char *ns;                /* the route's namespace, NULL if none */
  void (*fn)(struct px_req *r);  /* its handler */
  px_val query;                  /* query parameters (copied out of MHD) */
  _Atomic(int) refs;             /* loop + handler actor */
  _Atomic(int) state;            /* server.c: running, suspended, ... */
  bool counted;                  /* in the server's in-flight count */
  struct px_req *prev, *next;    /* the pending list while running */
  const char *tenant;            /* from the token, or "default" */
  px_auth_identity id;
  const char *auth_error;        /* short name of a token's refusal */
  /* The answer. */
  int status;
  char *resp;                    /* malloc'd */
  size_t resp_len;
  const char *content_type;
  int retry_after_s;             /* > 0 adds Retry-After (503) */
} px_req;

/* Answers with `v` (taken) as JSON. */
void px__reply_json(px_req *r, int status, px_val v);
/* Answers {"error": message, "status": status, "request_id": id}. */
void px__reply_error(px_req *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Answers with a malloc'd text of the given content type (taken). */
void px__reply_owned(px_req *r, int status, const char *ctype, char *text,
                     size_t len);

/* A query parameter, or NULL. */
const char *px__query(px_req *r, const char *key);
/* All query parameters as a map of strings (a new reference). */
px_val px__query_map(px_req *r);
/* Parses the body as JSON into *out; answers 400 and returns false on
 * malformed input. An empty body is `empty` (taken). */
bool px__body_json(px_req *r, px_val empty, px_val *out);
/* Reads a non-negative integer query parameter; answers 400 and returns
 * false when present but malformed. */
bool px__query_ms(px_req *r, const char *key, int64_t dflt, int64_t *out);
/* Maps a px error code to an HTTP status and answers with message. */
void px__reply_px_error(px_req *r, int code, const char *what);

/* The HTTP status a px error code means. */
int px__status_of(int code);

const px_http_opts *px__http_opts(const px_http *h);

/* Route handlers (api_*.c). */
void px__api_actor_ask(px_req *r);
void px__api_actor_get(px_req *r);
void px__api_actor_tell(px_req *r);
void px__api_actor_stop(px_req *r);
void px__api_actors_list(px_req *r);
void px__api_space(px_req *r);
void px__api_wf_start(px_req *r);
void px__api_wf_status(px_req *r);
void px__api_wf_signal(px_req *r);
void px__api_wf_query(px_req *r);
void px__api_wf_cancel(px_req *r);
void px__api_app_deploy(px_req *r);
void px__api_app_undeploy(px_req *r);
void px__api_app_list(px_req *r);
void px__api_app_status(px_req *r);
void px__api_journal(px_req *r);
void px__api_healthz(px_req *r);
void px__api_readyz(px_req *r);
void px__api_metrics(px_req *r);
void px__api_status(px_req *r);

bool px__http_ready(const px_http *h);

#endif
