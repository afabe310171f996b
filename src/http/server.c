/* The HTTP server: libmicrohttpd and the life of a request — limits, body,
 * authentication, RBAC, dispatch, metrics and the access log.
 *
 * Threads. libmicrohttpd runs a poll() loop on a few threads (poll, not
 * epoll: every handed-over request suspends and resumes its connection,
 * which costs two epoll_ctl calls each time; with poll, 40k vs 35k asks/s
 * and 35 vs 42 us of CPU per ask on 2 cores at 64 connections, though a
 * probe answered in place costs 22 instead of 18 us). A request is
 * read, authenticated and routed there; probes and /metrics are answered
 * in place. Every other request is suspended and handed to an actor of
 * its own (spawned per request, as Erlang web servers spawn a process per
 * request): an ask, a blocking take or a workflow wait parks that actor's
 * coroutine, never a thread, so a slow actor holds up no other client and
 * thousands of long polls cost no threads. (Waiting a few microseconds on
 * the loop thread for a fast answer, to save the suspend's syscalls, was
 * measured: it doubled the context switches and the CPU per request on 2
 * cores, since the handler's worker then competes with the waiting loop.)
 *
 * States, changed under the server's lock: RUNNING (the handler runs; the
 * loop is suspending the connection) → SUSPENDED → DONE (the handler
 * resumes the connection), or RUNNING → DONE when the handler finishes
 * before the loop has published SUSPENDED (the loop resumes it then).
 * If the shutdown grace period ends first, the stopper marks the request
 * ABANDONED and the loop answers 503 from its own buffer: the handler,
 * still running, keeps writing only into the request's own answer, which
 * is then dropped. A request is shared by the loop and its handler actor
 * (refs = 2 while it runs). */
#include <arpa/inet.h>
#include <pthread.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/mem.h"
#include "http/router.h"
#include "plexspaces/actor.h"
#include "plexspaces/core.h"
#include "plexspaces/error.h"
#include "plexspaces/metrics.h"

struct px_http {
  px_http_opts o;
  struct MHD_Daemon *d;
  uint16_t port;
  _Atomic(int) in_flight;
  _Atomic(bool) ready;
  _Atomic(bool) stopping;
  _Atomic(uint64_t) next_id;
  pthread_mutex_t lock; /* pending list and request states */
  px_req *pending;      /* requests whose handler actor runs */
};

const px_http_opts *px__http_opts(const px_http *h) { return &h->o; }
bool px__http_ready(const px_http *h) {
  return atomic_load(&h->ready) && !atomic_load(&h->stopping);
}
void px__http_set_ready(px_http *h, bool ready) {
  atomic_store(&h->ready, ready);
}
uint16_t px__http_port(const px_http *h) { return h->port; }

/* ---- answers ------------------------------------------------------------- */

void px__reply_owned(px_req *r, int status, const char *ctype, char *text,
                     size_t len) {
  free(r->resp);
  r->resp = text;
  r->resp_len = len;
  r->status = status;
  r->content_type = ctype;
}

void px__reply_json(px_req *r, int status, px_val v) {
  char *text;
  size_t len;
  int rc = px_json_encode(v, &text, &len);
  px_val_release(v);
  if (rc) {
    px__reply_error(r, 500, "the reply cannot be encoded as JSON (%s)",
                    px_strerror(rc));
    return;
  }
  px__reply_owned(r, status, "application/json", text, len);
}

void px__reply_error(px_req *r, int status, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  px_val v = px_map(3, px_str("error"), px_str(msg), px_str("status"),
                    px_int(status), px_str("request_id"),
                    px_str(r->request_id));
  px__reply_json(r, status, v);
}

int px__status_of(int code) {
  switch (code) {
    case 0: return 200;
    case PX_EINVAL:
    case PX_ETYPE:
    case PX_ERANGE:
    case PX_EDECODE: return 400;
    case PX_EPERM: return 403;
    case PX_ENOTFOUND:
    case PX_EBADNAME:
    case PX_ENOPROC: return 404;
    case PX_EEXIST:
    case PX_EALREADYSTARTED:
    case PX_ECONFLICT: return 409;
    case PX_ETIMEDOUT: return 504;
    case PX_ENOTSUP: return 501;
    case PX_EMAILBOXFULL:
    case PX_ESTOPPED: return 503;
    default: return 500;
  }
}

void px__reply_px_error(px_req *r, int code, const char *what) {
  px__reply_error(r, px__status_of(code), "%s: %s", what, px_strerror(code));
}

/* ---- query and body ------------------------------------------------------ */

/* Handlers run in actors while the connection is suspended, so the query
 * is copied out of libmicrohttpd before the hand-over. */
const char *px__query(px_req *r, const char *key) {
  px_val v = px_gets(r->query, key);
  return v.type == PX_T_STR ? px_str_ptr(v) : NULL;
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind,
                               const char *key, const char *value) {
  (void)kind;
  px_map_puts(cls, key, px_str(value ? value : ""));
  return MHD_YES;
}

static px_val collect_query(struct MHD_Connection *c) {
  px_val m = px_map_new(4);
  MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, &m);
  return m;
}

px_val px__query_map(px_req *r) { return px_val_retain(r->query); }

bool px__body_json(px_req *r, px_val empty, px_val *out) {
  size_t i = 0;
  while (i < r->body_len && strchr(" \t\r\n", r->body[i])) i++;
  if (i == r->body_len) {
    *out = empty;
    return true;
  }
  px_val_release(empty);
  char err[256] = "";
  if (px_json_decode_untrusted(r->body, r->body_len, out, err, sizeof err)) {
    px__reply_error(r, 400, "malformed JSON body: %s", err);
    return false;
  }
  return true;
}

bool px__query_ms(px_req *r, const char *key, int64_t dflt, int64_t *out) {
  const char *s = px__query(r, key);
  if (!s || !*s) {
    *out = dflt;
    return true;
  }
  char *end;
  double v = strtod(s, &end);
  if (*end || v < 0 || v > 1e12) {
    px__reply_error(r, 400, "query parameter %s: expected a non-negative "
                    "number, got \"%s\"", key, s);
    return false;
  }
  *out = (int64_t)v;
  return true;
}

/* Appends n bytes to a NUL-terminated growing buffer (body, form field). */
static void append(char **buf, size_t *len, size_t *cap, const char *data,
                   size_t n) {
  if (*len + n + 1 > *cap) {
    size_t c = *cap ? *cap : 256;
    while (c < *len + n + 1) c *= 2;
    *buf = px__xrealloc(*buf, c);
    *cap = c;
  }
  memcpy(*buf + *len, data, n);
  *len += n;
  (*buf)[*len] = 0;
}

/* ---- multipart forms (deploy) -------------------------------------------- */

static px_form_field *field_of(px_req *r, const char *key) {
  for (size_t i = 0; i < r->nfield; i++)
    if (strcmp(r->field[i].name, key) == 0) return &r->field[i];
  if (r->nfield == PX_HTTP_MAX_FIELDS || strlen(key) >= 64) return NULL;
  if (!r->field) r->field = px__xcalloc(PX_HTTP_MAX_FIELDS, sizeof *r->field);
  px_form_field *f = &r->field[r->nfield++];
  snprintf(f->name, sizeof f->name, "%s", key);
  return f;
}

static enum MHD_Result form_iter(void *cls, enum MHD_ValueKind kind,
                                 const char *key, const char *filename,
                                 const char *ctype, const char *enc,
                                 const char *data, uint64_t off, size_t size) {
  (void)kind, (void)filename, (void)ctype, (void)enc, (void)off;
  px_req *r = cls;
  px_form_field *f = key ? field_of(r, key) : NULL;
  if (!f) {
    r->form_bad = true;
    return MHD_NO;
  }
  append(&f->data, &f->len, &f->cap, data, size);
  return MHD_YES;
}

/* ---- the life of a request ----------------------------------------------- */

static void req_free(px_req *r);

static void req_unref(px_req *r) {
  if (atomic_fetch_sub(&r->refs, 1) == 1) req_free(r);
}

static void req_free(px_req *r) {
  if (r->post) MHD_destroy_post_processor(r->post);
  px_val_release(r->query);
  for (size_t i = 0; i < r->nfield; i++) free(r->field[i].data);
  free(r->field);
  free(r->path);
  free(r->body);
  free(r->resp);
  free(r);
}

static void split_path(px_req *r) {
  r->path = px__xstrndup(r->url, strlen(r->url));
  char *p = r->path;
  while (*p == '/') p++;
  while (*p && r->nseg < PX_HTTP_MAX_SEGS) {
    r->seg[r->nseg++] = p;
    char *slash = strchr(p, '/');
    if (!slash) break;
    *slash = 0;
    p = slash + 1;
    if (!*p) break; /* a trailing slash adds no segment */
  }
  /* Deeper than any route: match nothing (404). */
  if (r->nseg == PX_HTTP_MAX_SEGS && strchr(p, '/')) r->nseg = 0;
}

/* Routing, authentication, RBAC and the in-flight cap, on the loop
 * thread. Returns the handler to run, or NULL when r is answered. */
static void (*admit(px_req *r, bool *inline_out))(px_req *) {
  px_http *h = r->http;
  px_route rt;
  int st = px__route(r, &rt);
  if (st) {
    r->route = "unmatched";
    if (st == 405)
      px__reply_error(r, 405, "method %s is not allowed on %s", r->method,
                      r->url);
    else
      px__reply_error(r, 404, "no such endpoint: %s %s", r->method, r->url);
    return NULL;
  }
  r->route = rt.pattern;
  r->ns = rt.ns;
  if (rt.op && px__auth_enabled(h->o.auth)) {
    const char *token = px__auth_bearer(MHD_lookup_connection_value(
        r->conn, MHD_HEADER_KIND, "Authorization"));
    char err[256] = "";
    if (!token) {
      px__reply_error(r, 401, "missing bearer token: send "
                      "'Authorization: Bearer <JWT>'");
      return NULL;
    }
    int rc = px__auth_verify(h->o.auth, token, &r->id, err, sizeof err);
    if (rc) {
      r->auth_error = px__auth_result_name(rc);
      px__reply_error(r, 401, "invalid token: %s", err);
      return NULL;
    }
    r->tenant = r->id.tenant;
    if (*rt.op && !px__auth_allowed(h->o.auth, &r->id, rt.ns, rt.op)) {
      px__reply_error(r, 403, "the token's roles do not allow %s%s%s",
                      rt.op, rt.ns ? " in namespace " : "",
                      rt.ns ? rt.ns : "");
      return NULL;
    }
  }
  /* Probes and metrics never wait on an actor: answered in place. */
  *inline_out = rt.op == NULL || strcmp(rt.pattern, "metrics") == 0;
  if (*inline_out) return rt.fn;
  int n = atomic_fetch_add(&h->in_flight, 1) + 1;
  r->counted = true;
  if (n > h->o.max_concurrent || atomic_load(&h->stopping)) {
    r->retry_after_s = 1;
    if (atomic_load(&h->stopping))
      px__reply_error(r, 503, "the node is shutting down");
    else
      px__reply_error(r, 503, "overloaded: %d requests in flight (limit "
                      "%d); retry later", n - 1, h->o.max_concurrent);
    return NULL;
  }
  return rt.fn;
}

/* No thread-local log context here: a handler actor parks, and its worker
 * thread goes on to run other actors meanwhile. The access line written
 * on the loop thread carries the request's context. */
static void run_handler(px_req *r) { r->fn(r); }

/* ---- the handler actor --------------------------------------------------- */

enum {
  REQ_RECEIVING = 0,
  REQ_RUNNING,
  REQ_SUSPENDED,
  REQ_DONE,
  REQ_ABANDONED
};


static void unlink_pending(px_http *h, px_req *r) {
  if (r->prev) r->prev->next = r->next;
  else h->pending = r->next;
  if (r->next) r->next->prev = r->prev;
  r->prev = r->next = NULL;
}

static void req_unref(px_req *r);

static int handler_init(px_val args, void **state) {
  *state = (void *)(intptr_t)args.u.i;
  return 0;
}

static void handler_handle(void *state, const px_message *m) {
  (void)m;
  px_req *r = state;
  px_http *h = r->http;
  run_handler(r);
  pthread_mutex_lock(&h->lock);
  int was = atomic_load(&r->state);
  if (was == REQ_RUNNING || was == REQ_SUSPENDED) {
    atomic_store(&r->state, REQ_DONE);
    unlink_pending(h, r);
  }
  pthread_mutex_unlock(&h->lock);
  /* RUNNING: the loop thread resumes the connection itself; ABANDONED:
   * the stopper did. */
  if (was == REQ_SUSPENDED) MHD_resume_connection(r->conn);
  px_exit_self(px_atomv(px_a()->normal));
}

/* Every exit ends here, also a handler still parked when the runtime
 * stops after an abandoned request: its reference goes with it. */
static void handler_terminate(void *state, px_val reason) {
  (void)reason;
  if (state) req_unref(state);
}

static const px_actor_type handler_type = {
    .name = "http_request",
    .stack_size = 256 * 1024, /* JSON of nested payloads recurses */
    .init = handler_init,
    .handle = handler_handle,
    .terminate = handler_terminate,
};

/* Starts r's handler actor and suspends the connection. Returns true when
 * r is answered at once (the runtime refused the handler), false when the
 * answer comes with the resume. */
static bool hand_over(px_req *r) {
  px_http *h = r->http;
  r->query = collect_query(r->conn);
  r->refs = 2;
  pthread_mutex_lock(&h->lock);
  atomic_store(&r->state, REQ_RUNNING);
  r->next = h->pending;
  if (h->pending) h->pending->prev = r;
  h->pending = r;
  pthread_mutex_unlock(&h->lock);
  px_ref ref;
  int rc = px_spawn(&handler_type, px_int((int64_t)(intptr_t)r), NULL, &ref);
  if (rc == 0) rc = px_send(ref, px_a()->normal, px_nil());
  if (rc) { /* the runtime is stopping: no handler will run */
    pthread_mutex_lock(&h->lock);
    atomic_store(&r->state, REQ_DONE);
    unlink_pending(h, r);
    pthread_mutex_unlock(&h->lock);
    r->refs = 1;
    r->retry_after_s = 1;
    px__reply_error(r, 503, "the node is shutting down");
    return true;
  }
  /* Suspend first, then publish SUSPENDED: a handler that finishes in
   * between sees RUNNING, and this thread resumes the connection itself. */
  MHD_suspend_connection(r->conn);
  pthread_mutex_lock(&h->lock);
  bool still = atomic_load(&r->state) == REQ_RUNNING;
  if (still) atomic_store(&r->state, REQ_SUSPENDED);
  pthread_mutex_unlock(&h->lock);
  if (!still) MHD_resume_connection(r->conn); /* DONE or ABANDONED */
  return false;
}

/* Per-request metrics through handles: one lookup per distinct (route,
 * method, code), not a label string built and parsed for every request.
 * Route patterns are static strings, so their pointers are the keys. */
typedef struct metric_key {
  const char *route;
  char method[8];
  int code;
  px_metric *count, *latency;
} metric_key;

#define METRIC_CACHE 256
static metric_key metric_cache[METRIC_CACHE];
static size_t metric_cached;
static pthread_mutex_t metric_lock = PTHREAD_MUTEX_INITIALIZER;

static metric_key *metrics_of(const char *route, const char *method,
                              int code) {
  pthread_mutex_lock(&metric_lock);
  metric_key *k = NULL;
  for (size_t i = 0; i < metric_cached && !k; i++)
    if (metric_cache[i].route == route && metric_cache[i].code == code &&
        strcmp(metric_cache[i].method, method) == 0)
      k = &metric_cache[i];
  if (!k && metric_cached < METRIC_CACHE && strlen(method) < 8) {
    char labels[256];
    k = &metric_cache[metric_cached++];
    k->route = route;
    k->code = code;
    snprintf(k->method, sizeof k->method, "%s", method);
    snprintf(labels, sizeof labels, "route=%s,method=%s,code=%d", route,
             method, code);
    k->count = px_metrics_counter("plexspaces_http_requests_total",
                                  "HTTP requests by route, method and status "
                                  "code", labels);
    snprintf(labels, sizeof labels, "route=%s", route);
    k->latency = px_metrics_histogram(
        "plexspaces_http_request_duration_seconds",
        "Time from the request's arrival to its answer", labels, NULL, 0);
  }
  pthread_mutex_unlock(&metric_lock);
  return k;
}

/* Metrics and the access log of a finished request. */
static void record(px_req *r, int status) {
  double secs = (double)(px_now_ns() - r->start_ns) / 1e9;
  const char *route = r->route ? r->route : "unmatched";
  metric_key *k = metrics_of(route, r->method, status);
  if (k && k->count) px_metric_add(k->count, 1);
  if (k && k->latency) px_metric_observe(k->latency, secs);
  px_log_level lvl = status >= 500 ? PX_LOG_WARN : PX_LOG_DEBUG;
  if (px_log_get_level() <= lvl) {
    px_log_set_context(r->request_id, r->tenant, r->ns);
    px_log(lvl, "http", "%s %s -> %d in %.3f ms", r->method, r->url,
           status, secs * 1e3);
    px_log_set_context(NULL, NULL, NULL);
  }
}

static enum MHD_Result send_answer(px_req *r) {
  if (!r->resp) px__reply_error(r, 500, "the handler gave no answer");
  struct MHD_Response *resp = MHD_create_response_from_buffer(
      r->resp_len, r->resp, MHD_RESPMEM_MUST_FREE);
  if (!resp) return MHD_NO;
  r->resp = NULL; /* owned by the response now */
  MHD_add_response_header(resp, "Content-Type", r->content_type);
  MHD_add_response_header(resp, "X-Request-Id", r->request_id);
  if (r->retry_after_s > 0) {
    char ra[16];
    snprintf(ra, sizeof ra, "%d", r->retry_after_s);
    MHD_add_response_header(resp, "Retry-After", ra);
  }
  if (r->status == 401) {
    /* RFC 6750: error="invalid_token" when one was sent and refused. */
    char www[160];
    if (r->auth_error)
      snprintf(www, sizeof www, "Bearer error=\"invalid_token\", "
               "error_description=\"%s\"", r->auth_error);
    else
      snprintf(www, sizeof www, "Bearer");
    MHD_add_response_header(resp, "WWW-Authenticate", www);
  }
  enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)r->status, resp);
  MHD_destroy_response(resp);
  record(r, r->status);
  return ok;
}

/* The 503 of a request whose handler outlived the shutdown grace period.
 * Built from scratch: the handler may still be writing r's own answer. */
static enum MHD_Result send_abandoned(px_req *r) {
  char body[256];
  int n = snprintf(body, sizeof body,
                   "{\"error\":\"the node shut down before this request "
                   "finished\",\"status\":503,\"request_id\":\"%s\"}",
                   r->request_id);
  struct MHD_Response *resp = MHD_create_response_from_buffer(
      (size_t)n, body, MHD_RESPMEM_MUST_COPY);
  if (!resp) return MHD_NO;
  MHD_add_response_header(resp, "Content-Type", "application/json");
  MHD_add_response_header(resp, "X-Request-Id", r->request_id);
  MHD_add_response_header(resp, "Retry-After", "1");
  enum MHD_Result ok = MHD_queue_response(r->conn, 503, resp);
  MHD_destroy_response(resp);
  record(r, 503);
  return ok;
}

static bool is_multipart(struct MHD_Connection *c) {
  const char *ct =
      MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
  return ct && strncasecmp(ct, "multipart/form-data", 19) == 0;
}

static px_req *req_new(px_http *h, struct MHD_Connection *c, const char *url,
                       const char *method) {
  px_req *r = px__xcalloc(1, sizeof *r);
  r->http = h;
  r->conn = c;
  r->url = url;
  r->method = method;
  r->start_ns = px_now_ns();
  r->content_type = "application/json";
  r->refs = 1;
  r->query = px_nil();
  uint64_t id = atomic_fetch_add(&h->next_id, 1);
  for (int i = 15; i >= 0; i--, id >>= 4) /* %016llx without printf */
    r->request_id[i] = "0123456789abcdef"[id & 15];
  r->request_id[16] = 0;
  /* Known before authentication only when there is none. */
  r->tenant = px__auth_enabled(h->o.auth) ? "-" : "default";
  split_path(r);
  bool deploy = strcmp(url, "/api/v1/applications/deploy") == 0;
  r->body_limit = deploy ? h->o.max_upload : h->o.max_body;
  return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
  (void)version;
  px_http *h = cls;
  px_req *r = *con_cls;
  if (!r) {
    r = req_new(h, c, url, method);
    *con_cls = r;
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > r->body_limit) r->too_large = true;
    else if (is_multipart(c))
      r->post = MHD_create_post_processor(c, 64 * 1024, form_iter, r);
    return MHD_YES;
  }
  if (*upload_size) {
    size_t n = *upload_size;
    *upload_size = 0;
    if (r->too_large || r->form_bad) return MHD_YES; /* discard the rest */
    if (r->body_len + n > r->body_limit) {
      r->too_large = true;
      return MHD_YES;
    }
    if (r->post) {
      if (MHD_post_process(r->post, upload, n) != MHD_YES) r->form_bad = true;
      r->body_len += n;
      return MHD_YES;
    }
    append(&r->body, &r->body_len, &r->body_cap, upload, n);
    return MHD_YES;
  }
  int st = atomic_load(&r->state);
  if (st == REQ_DONE) return send_answer(r); /* resumed */
  if (st == REQ_ABANDONED) return send_abandoned(r);
  if (!r->body) {
    r->body = px__xcalloc(1, 1);
    r->body_cap = 1;
  }
  if (r->too_large) {
    r->route = "unmatched";
    px__reply_error(r, 413, "request body too large: the limit is %zu bytes",
                    r->body_limit);
  } else if (r->form_bad) {
    r->route = "unmatched";
    px__reply_error(r, 400, "malformed multipart form (at most %d fields "
                    "with names under 64 bytes)", PX_HTTP_MAX_FIELDS);
  } else {
    bool in_place = false;
    r->fn = admit(r, &in_place);
    if (r->fn && in_place) run_handler(r);
    else if (r->fn && !hand_over(r)) {
      /* Suspended (or resumed already): the answer goes out when
       * libmicrohttpd calls back after the resume. */
      return MHD_YES;
    }
    if (atomic_load(&r->state) == REQ_ABANDONED) return send_abandoned(r);
  }
  return send_answer(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode code) {
  (void)c, (void)code;
  px_http *h = cls;
  px_req *r = *con_cls;
  /* An admitted request counts as in flight until its answer is out, so
   * that a graceful stop waits for the sending too. */
  if (r && r->counted) atomic_fetch_sub(&h->in_flight, 1);
  if (r) req_unref(r);
  *con_cls = NULL;
}

/* ---- start and stop ------------------------------------------------------ */

static int parse_listen(const char *listen, struct sockaddr_in *sa,
                        char *err, size_t errcap) {
  char host[64];
  const char *colon = strrchr(listen, ':');
  if (!colon || (size_t)(colon - listen) >= sizeof host) {
    snprintf(err, errcap, "listen address \"%s\": expected HOST:PORT",
             listen);
    return PX_EINVAL;
  }
  memcpy(host, listen, (size_t)(colon - listen));
  host[colon - listen] = 0;
  char *end;
  long port = strtol(colon + 1, &end, 10);
  memset(sa, 0, sizeof *sa);
  sa->sin_family = AF_INET;
  if (*end || port < 0 || port > 65535 ||
      inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
    snprintf(err, errcap, "listen address \"%s\": expected IPv4:PORT, e.g. "
             "127.0.0.1:8080", listen);
    return PX_EINVAL;
  }
  sa->sin_port = htons((uint16_t)port);
  return 0;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  size_t n = strlen(msg);
  while (n && msg[n - 1] == '\n') msg[--n] = 0;
  px_log(PX_LOG_DEBUG, "http", "libmicrohttpd: %s", msg);
}

int px__http_start(const px_http_opts *o, px_http **out, char *err,
                   size_t errcap) {
  struct sockaddr_in sa;
  int rc = parse_listen(o->listen, &sa, err, errcap);
  if (rc) return rc;
  px_http *h = px__xcalloc(1, sizeof *h);
  h->o = *o;
  if (h->o.threads < 1) h->o.threads = 1;
  pthread_mutex_init(&h->lock, NULL);
  h->d = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
          MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
      0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, &sa,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->max_connections,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->idle_timeout_s,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, o->max_header,
      MHD_OPTION_THREAD_POOL_SIZE, (unsigned)o->threads,
      MHD_OPTION_LISTEN_BACKLOG_SIZE, 512u, MHD_OPTION_EXTERNAL_LOGGER,
      mhd_log, NULL, MHD_OPTION_END);
  if (!h->d) {
    snprintf(err, errcap, "cannot listen on %s (address in use or not "
             "available)", o->listen);
    free(h);
    return PX_EINVAL;
  }
  const union MHD_DaemonInfo *info =
      MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
  h->port = info ? info->port : ntohs(sa.sin_port);
  *out = h;
  return 0;
}

int px__http_stop(px_http *h, int64_t deadline_ms) {
  if (!h) return 0;
  atomic_store(&h->stopping, true);
  MHD_quiesce_daemon(h->d); /* no new connections */
  uint64_t end = px_now_ms() + (uint64_t)(deadline_ms > 0 ? deadline_ms : 0);
  struct timespec ts = {0, 2 * 1000 * 1000};
  while (atomic_load(&h->in_flight) > 0 && px_now_ms() < end)
    nanosleep(&ts, NULL); /* a shutdown poll, not a synchronisation */
  /* The grace period is over: answer what is left with 503. */
  int left = 0;
  pthread_mutex_lock(&h->lock);
  for (px_req *r = h->pending, *next; r; r = next) {
    next = r->next;
    int was = atomic_load(&r->state);
    atomic_store(&r->state, REQ_ABANDONED);
    unlink_pending(h, r);
    /* A RUNNING one's loop thread is still suspending: it sees ABANDONED
     * and resumes the connection itself. */
    if (was == REQ_SUSPENDED) MHD_resume_connection(r->conn);
    left++;
  }
  pthread_mutex_unlock(&h->lock);
  /* Let the loop send those 503s before the daemon closes everything. */
  end = px_now_ms() + 2000;
  while (atomic_load(&h->in_flight) > 0 && px_now_ms() < end)
    nanosleep(&ts, NULL);
  MHD_stop_daemon(h->d);
  h->d = NULL;
  return left;
}

void px__http_free(px_http *h) {
  if (!h) return;
  if (h->d) MHD_stop_daemon(h->d);
  pthread_mutex_destroy(&h->lock);
  free(h);
}
