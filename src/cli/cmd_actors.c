/* actors, ask, tell, stop: the actors of the caller's tenant. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_internal.h"

#define ASK_MAX_TIMEOUT_S 3600

/* The message body: the JSON object argument (default {}) with "op" set
 * to `op`. *body is malloc'd. */
static int payload(const px_cli *c, const char *op, const char *json,
                   char **body, size_t *len) {
  px_val args;
  int rc = px__cli_json_arg(c, "the JSON argument", json ? json : "{}",
                            &args);
  if (rc) return rc;
  if (args.type != PX_T_MAP) {
    px_val_release(args);
    return px__cli_usage_error(c, "the JSON argument must be an object, "
                               "e.g. '{\"n\": 5}' (got '%s')", json);
  }
  size_t n = px_len(args);
  px_val m = px_map_new(n + 1);
  for (size_t i = 0; i < n; i++)
    px_map_put(&m, px_val_retain(px_map_key_at(args, i)),
               px_val_retain(px_map_val_at(args, i)));
  px_map_puts(&m, "op", px_str(op));
  px_val_release(args);
  rc = px_json_encode(m, body, len);
  px_val_release(m);
  if (rc) return px__cli_usage_error(c, "the JSON argument cannot be sent");
  return PX_CLI_OK;
}

static int check_arity(const px_cli *c, int max) {
  if (c->npos > max)
    return px__cli_usage_error(c, "unexpected argument '%s'", c->pos[max]);
  if (max >= 3 && !*c->pos[2])
    return px__cli_usage_error(c, "OP must not be empty");
  return PX_CLI_OK;
}

static const char *actor_id(const px_cli_reply *r) {
  px_val id = px_gets(r->json, "actor_id");
  return id.type == PX_T_STR ? px_str_ptr(id) : "the actor";
}

int px__cli_ask(px_cli *c) {
  int rc = check_arity(c, 4);
  if (rc) return rc;
  int64_t timeout_s = 0;
  rc = px__cli_int_opt(c, "--timeout", ASK_MAX_TIMEOUT_S, &timeout_s);
  if (rc) return rc;
  const char *t = px__cli_opt(c, "--timeout");
  if (t && timeout_s == 0)
    return px__cli_usage_error(c, "--timeout must be at least 1 second");
  char path[PX_CLI_PATH_MAX];
  rc = px__cli_path(c, path, sizeof path, "/api/v1/actors", c->pos[0],
                    c->pos[1], "ask", NULL);
  if (!rc && t) rc = px__cli_query(c, path, sizeof path, "timeout", t);
  if (rc) return rc;
  char *body;
  size_t len;
  rc = payload(c, c->pos[2], c->npos > 3 ? c->pos[3] : NULL, &body, &len);
  if (rc) return rc;
  px_cli_req rq = {.method = "POST",
                   .path = path,
                   .body = body,
                   .body_len = len,
                   .timeout_s = px__cli_blocking_timeout((long)timeout_s)};
  px_cli_reply r;
  rc = px__cli_fetch(c, &rq, &r);
  free(body);
  if (rc != PX_CLI_HUMAN) return rc;
  px__cli_print_json(stdout, px_gets(r.json, "payload"));
  px__cli_reply_free(&r);
  return PX_CLI_OK;
}

int px__cli_tell(px_cli *c) {
  int rc = check_arity(c, 4);
  if (rc) return rc;
  char path[PX_CLI_PATH_MAX];
  rc = px__cli_path(c, path, sizeof path, "/api/v1/actors", c->pos[0],
                    c->pos[1], NULL);
  if (rc) return rc;
  char *body;
  size_t len;
  rc = payload(c, c->pos[2], c->npos > 3 ? c->pos[3] : NULL, &body, &len);
  if (rc) return rc;
  px_cli_req rq = {.method = "POST", .path = path, .body = body,
                   .body_len = len};
  px_cli_reply r;
  rc = px__cli_fetch(c, &rq, &r);
  free(body);
  if (rc != PX_CLI_HUMAN) return rc;
  printf("sent %s to %s\n", c->pos[2], actor_id(&r));
  px__cli_reply_free(&r);
  return PX_CLI_OK;
}

int px__cli_stop(px_cli *c) {
  int rc = check_arity(c, 2);
  if (rc) return rc;
  char path[PX_CLI_PATH_MAX];
  rc = px__cli_path(c, path, sizeof path, "/api/v1/actors", c->pos[0],
                    c->pos[1], NULL);
  if (rc) return rc;
  px_cli_req rq = {.method = "DELETE", .path = path};
  px_cli_reply r;
  rc = px__cli_fetch(c, &rq, &r);
  if (rc != PX_CLI_HUMAN) return rc;
  printf("stopped %s\n", actor_id(&r));
  px__cli_reply_free(&r);
  return PX_CLI_OK;
}

static const char *const COLS[] = {"actor_id", "actor_type", "namespace",
                                   "application_id", "mailbox_depth"};
#define NCOLS (sizeof COLS / sizeof COLS[0])

int px__cli_actors(px_cli *c) {
  if (c->npos > 0)
    return px__cli_usage_error(c, "unexpected argument '%s' (use --ns NS)",
                               c->pos[0]);
  char path[PX_CLI_PATH_MAX];
  int rc = px__cli_path(c, path, sizeof path, "/api/v1/actors", NULL);
  const char *ns = px__cli_opt(c, "--ns");
  if (!rc && ns && *ns) rc = px__cli_query(c, path, sizeof path, "ns", ns);
  if (rc) return rc;
  px_cli_req rq = {.method = "GET", .path = path};
  px_cli_reply r;
  rc = px__cli_fetch(c, &rq, &r);
  if (rc != PX_CLI_HUMAN) return rc;
  px_val actors = px_gets(r.json, "actors");
  size_t n = actors.type == PX_T_ARRAY ? px_len(actors) : 0;
  if (n == 0) {
    printf("no actors%s%s\n", ns ? " in namespace " : "", ns ? ns : "");
    px__cli_reply_free(&r);
    return PX_CLI_OK;
  }
  char **cells = calloc((n + 1) * NCOLS, sizeof *cells);
  if (!cells) {
    px__cli_reply_free(&r);
    return px__cli_fail(c, "out of memory");
  }
  static const char *const head[NCOLS] = {"ACTOR", "TYPE", "NAMESPACE",
                                          "APPLICATION", "MAILBOX"};
  for (size_t k = 0; k < NCOLS; k++) cells[k] = (char *)head[k];
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < NCOLS; k++)
      cells[(i + 1) * NCOLS + k] = px__cli_text(px_at(actors, i), COLS[k]);
  px__cli_table(stdout, "", NCOLS, n + 1, cells);
  for (size_t i = NCOLS; i < (n + 1) * NCOLS; i++) free(cells[i]);
  free(cells);
  px__cli_reply_free(&r);
  return PX_CLI_OK;
}
