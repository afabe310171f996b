/* The CLI's one way to the node: a blocking libcurl exchange, and what
 * every command does with the reply (errors to stderr, --json to stdout).
 *
 * A reply of any HTTP status is an answer from the node; only a transport
 * failure (refused, unresolvable, timed out, reset) is "cannot reach". */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_internal.h"
#include "node/node.h"

#define CONNECT_TIMEOUT_S 5L
#define DEFAULT_TIMEOUT_S 30L
#define NETWORK_MARGIN_S 10L
/* A reply larger than this is not from a node of ours. */
#define MAX_REPLY (256u << 20)

typedef struct sink {
  char *data;
  size_t len, cap;
  bool too_big;
} sink;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud) {
  sink *s = ud;
  size_t n = size * nmemb;
  if (s->len + n + 1 > MAX_REPLY) {
    s->too_big = true;
    return 0;
  }
  if (s->len + n + 1 > s->cap) {
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < s->len + n + 1) cap *= 2;
    char *p = realloc(s->data, cap);
    if (!p) return 0; /* curl reports a write error */
    s->data = p;
    s->cap = cap;
  }
  memcpy(s->data + s->len, ptr, n);
  s->len += n;
  s->data[s->len] = 0;
  return n;
}

CURL *px__cli_curl(px_cli *c) {
  if (!c->curl) c->curl = curl_easy_init();
  return c->curl;
}

static int unreachable(const px_cli *c, CURLcode cc, const char *errbuf,
                       long timeout_s) {
  switch (cc) {
    case CURLE_COULDNT_CONNECT:
      return px__cli_fail(c, "cannot reach the node at %s: connection "
                          "refused (is `plexspaces start` running?)",
                          c->node);
    case CURLE_COULDNT_RESOLVE_HOST:
      return px__cli_fail(c, "cannot reach the node at %s: unknown host "
                          "(check --node or PLEXSPACES_NODE)", c->node);
    case CURLE_OPERATION_TIMEDOUT:
      return px__cli_fail(c, "the node at %s did not answer within %ld s",
                          c->node, timeout_s);
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return px__cli_fail(c, "%s is not a node URL (expected "
                          "http://HOST:PORT): %s", c->node,
                          *errbuf ? errbuf : curl_easy_strerror(cc));
    default:
      return px__cli_fail(c, "cannot reach the node at %s: %s", c->node,
                          *errbuf ? errbuf : curl_easy_strerror(cc));
  }
}

int px__cli_http(px_cli *c, const px_cli_req *rq, px_cli_reply *out) {
  memset(out, 0, sizeof *out);
  CURL *h = px__cli_curl(c);
  if (!h) return px__cli_fail(c, "cannot initialise libcurl");
  curl_easy_reset(h);

  size_t ulen = strlen(c->node) + strlen(rq->path) + 1;
  char *url = malloc(ulen);
  if (!url) return px__cli_fail(c, "out of memory");
  snprintf(url, ulen, "%s%s", c->node, rq->path);

  struct curl_slist *hdrs = NULL, *tmp;
  char line[64 + PX_CLI_TOKEN_MAX];
  bool ok = true;
#define ADD_HEADER(text)                              \
  do {                                                \
    tmp = curl_slist_append(hdrs, (text));            \
    if (tmp) hdrs = tmp;                              \
    else ok = false;                                  \
  } while (0)
  ADD_HEADER("Accept: application/json");
  ADD_HEADER("Expect:"); /* no 100-continue round trip for uploads */
  if (c->token) {
    snprintf(line, sizeof line, "Authorization: Bearer %s", c->token);
    ADD_HEADER(line);
  }
  if (rq->body && !rq->mime) {
    snprintf(line, sizeof line, "Content-Type: %s",
             rq->content_type ? rq->content_type : "application/json");
    ADD_HEADER(line);
  }
#undef ADD_HEADER
  char ua[64];
  snprintf(ua, sizeof ua, "plexspaces-cli/%s", px__node_version());
  long timeout_s = rq->timeout_s > 0 ? rq->timeout_s : DEFAULT_TIMEOUT_S;

  sink s = {0};
  char errbuf[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_USERAGENT, ua);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  /* Escaped names are sent as they are: no dot-segment folding. */
  curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
  if (rq->mime) {
    curl_easy_setopt(h, CURLOPT_MIMEPOST, rq->mime);
  } else if (rq->body) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)rq->body_len);
  } else if (strcmp(rq->method, "GET") == 0) {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else if (strcmp(rq->method, "DELETE") != 0) {
    /* A POST without a body still says so (Content-Length: 0). */
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
  }
  CURLcode cc = ok ? curl_easy_perform(h) : CURLE_OUT_OF_MEMORY;
  curl_slist_free_all(hdrs);
  free(url);

  if (cc != CURLE_OK) {
    free(s.data);
    if (s.too_big)
      return px__cli_fail(c, "the node's reply is larger than %u MiB",
                          MAX_REPLY >> 20);
    if (cc == CURLE_OUT_OF_MEMORY || cc == CURLE_WRITE_ERROR)
      return px__cli_fail(c, "out of memory");
    return unreachable(c, cc, errbuf, timeout_s);
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
  if (!s.data) {
    s.data = calloc(1, 1);
    if (!s.data) return px__cli_fail(c, "out of memory");
  }
  out->body = s.data;
  out->len = s.len;
  out->json = px_nil();
  char *ctype = NULL;
  curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype);
  if (ctype && strncmp(ctype, "application/json", 16) == 0 && s.len > 0) {
    px_val v;
    if (px_json_decode(s.data, s.len, &v, NULL, 0) == 0) out->json = v;
  }
  return PX_CLI_OK;
}

void px__cli_reply_free(px_cli_reply *r) {
  free(r->body);
  px_val_release(r->json);
  memset(r, 0, sizeof *r);
  r->json = px_nil();
}

const char *px__cli_reply_message(const px_cli_reply *r, char *buf,
                                  size_t cap) {
  static const char *const keys[] = {"error", "error_message", "message"};
  if (r->json.type == PX_T_MAP)
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
      px_val v = px_gets(r->json, keys[i]);
      if (v.type == PX_T_STR && px_str_len(v) > 0) return px_str_ptr(v);
    }
  size_t n = r->len;
  while (n > 0 && strchr(" \t\r\n", r->body[n - 1])) n--;
  if (n > 0 && r->json.type != PX_T_MAP) {
    snprintf(buf, cap, "%.*s", (int)(n > 400 ? 400 : n), r->body);
    return buf;
  }
  snprintf(buf, cap, "HTTP %ld", r->status);
  return buf;
}

long px__cli_blocking_timeout(long blocking_s) {
  long t = blocking_s + NETWORK_MARGIN_S;
  return t < DEFAULT_TIMEOUT_S ? DEFAULT_TIMEOUT_S : t;
}

int px__cli_fetch(px_cli *c, const px_cli_req *rq, px_cli_reply *out) {
  int rc = px__cli_http(c, rq, out);
  if (rc) return rc;
  bool ok = out->status >= 200 && out->status < 300;
  if (c->json) {
    fwrite(out->body, 1, out->len, stdout);
    if (out->len == 0 || out->body[out->len - 1] != '\n') fputc('\n', stdout);
  }
  if (!ok) {
    char buf[512];
    px__cli_fail(c, "%s (HTTP %ld)", px__cli_reply_message(out, buf,
                                                          sizeof buf),
                 out->status);
    px__cli_reply_free(out);
    return PX_CLI_FAIL;
  }
  if (c->json) {
    px__cli_reply_free(out);
    return PX_CLI_OK;
  }
  return PX_CLI_HUMAN;
}

/* ---- paths -------------------------------------------------------------- */

static int append(px_cli *c, char *buf, size_t cap, const char *sep,
                  const char *raw, bool escape) {
  char *esc = NULL;
  if (escape) {
    esc = curl_easy_escape(px__cli_curl(c), raw, 0);
    if (!esc) return px__cli_fail(c, "out of memory");
    raw = esc;
  }
  size_t have = strlen(buf), add = strlen(sep) + strlen(raw);
  int rc = PX_CLI_OK;
  if (have + add >= cap)
    rc = px__cli_usage_error(c, "an argument is too long for a URL");
  else
    snprintf(buf + have, cap - have, "%s%s", sep, raw);
  curl_free(esc);
  return rc;
}

int px__cli_path(px_cli *c, char *buf, size_t cap, const char *prefix, ...) {
  buf[0] = 0;
  int rc = append(c, buf, cap, "", prefix, false);
  va_list ap;
  va_start(ap, prefix);
  const char *seg;
  while (!rc && (seg = va_arg(ap, const char *)) != NULL) {
    if (!*seg) {
      rc = px__cli_usage_error(c, "an empty name cannot be part of a path");
      break;
    }
    rc = append(c, buf, cap, "/", seg, true);
  }
  va_end(ap);
  return rc;
}

int px__cli_query(px_cli *c, char *buf, size_t cap, const char *key,
                  const char *value) {
  int rc = append(c, buf, cap, strchr(buf, '?') ? "&" : "?", key, false);
  if (!rc) rc = append(c, buf, cap, "=", value, true);
  return rc;
}
