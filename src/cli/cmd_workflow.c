/* workflow start|status|signal|query|cancel, and the online
 * `journal show`: durable executions as the node has them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_internal.h"

#define MAX_WAIT_MS (3600LL * 1000)

typedef struct sub {
  const char *name;
  int npos; /* positional arguments after the subcommand, at least */
  int max;  /* at most */
} sub;

static const sub SUBS[] = {
    {"start", 2, 2}, {"status", 2, 2}, {"signal", 3, 4},
    {"query", 3, 3}, {"cancel", 2, 2},
};

/* Sends a px_val body (taken; nil = no body). */
static int send_json(px_cli *c, const char *method, const char *path,
                     px_val v, long timeout_s, px_cli_reply *r) {
  char *text = NULL;
  size_t len = 0;
  if (!px_is_nil(v) && px_json_encode(v, &text, &len) != 0) {
    px_val_release(v);
    return px__cli_usage_error(c, "the JSON argument cannot be sent");
  }
  px_val_release(v);
  px_cli_req rq = {.method = method,
                   .path = path,
                   .body = text,
                   .body_len = len,
                   .timeout_s = timeout_s};
  int rc = px__cli_fetch(c, &rq, r);
  free(text);
  return rc;
}

static int wf_start(px_cli *c) {
  const char *id = px__cli_opt(c, "--id");
  const char *input = px__cli_opt(c, "--input");
  int rc = px__cli_refuse(c, "here", "--wait-ms", (const char *)NULL);
  if (rc) return rc;
  px_val body = px_map_new(2);
  if (id) px_map_puts(&body, "id", px_str(id));
  if (input) {
    px_val in;
    rc = px__cli_json_arg(c, "--input", input, &in);
    if (rc) {
      px_val_release(body);
      return rc;
    }
    px_map_puts(&body, "input", in);
  }
  char path[PX_CLI_PATH_MAX];
  rc = px__cli_path(c, path, sizeof path, "/api/v1/workflows", c->pos[1],
                    c->pos[2], NULL);
  if (rc) {
    px_val_release(body);
    return rc;
  }
  px_cli_reply r;
  rc = send_json(c, "POST", path, body, 0, &r);
  if (rc != PX_CLI_HUMAN) return rc;
  char *wid = px__cli_text(r.json, "workflow_id");
  char *status = px__cli_text(r.json, "status");
  printf("started %s: %s\n", wid ? wid : "?", status ? status : "?");
  free(wid);
  free(status);
  px__cli_reply_free(&r);
  return PX_CLI_OK;
}

static int wf_status(px_cli *c) {
  int64_t wait = 0;
  int rc = px__cli_refuse(c, "here", "--id", "--input", (const char *)NULL);
  if (!rc) rc = px__cli_int_opt(c, "--wait-ms", MAX_WAIT_MS, &wait);
  if (rc) return rc;
  char path[PX_CLI_PATH_MAX];
  rc = px__cli_path(c, path, sizeof path, "/api/v1/workflows", c->pos[1],
                    c->pos[2], NULL);
  if (!rc && wait > 0) {
    char ms[32];
    snprintf(ms, sizeof ms, "%lld", (long long)wait);
    rc = px__cli_query(c, path, sizeof path, "wait_ms", ms);
  }
  if (rc) return rc;
  px_cli_reply r;
  rc = send_json(c, "GET", path, px_nil(),
                 px__cli_blocking_timeout((long)(wait / 1000)), &r);
  if (rc != PX_CLI_HUMAN) return rc;
  char *status = px__cli_text(r.json, "status");
  printf("%s: %s\n", c->pos[2], status ? status : "?");
  free(status);
  px_val result = px_gets(r.json, "result");
  if (!px_is_nil(result)) {
    printf("result: ");
    px__cli_print_json(stdout, result);
  }
  px__cli_reply_free(&r);
  return PX_CLI_OK;
}

static int wf_signal(px_cli *c) {
  int rc = px__cli_refuse(c, "here", "--id", "--input", "--wait-ms",
                          (const char *)NULL);
  if (rc) return rc;
  px_val payload = px_nil();
  if (c->npos > 4) {
    rc = px__cli_json_arg(c, "the signal's JSON payload", c->pos[4],
                          &payload);
    if (rc) return rc;
  }
  char path[PX_CLI_PATH_MAX];
  rc = px__cli_path(c, path, sizeof path, "/api/v1/workflows", c->pos[1],
                    c->pos[2], "signals", c->pos[3], NULL);
  if (rc) {
    px_val_release(payload);
    return rc;
  }
  /* A JSON null payload is sent as "null", not as no body. */
  char *text = NULL;
  size_t len = 0;
  if (c->npos > 4 && px_json_encode(payload, &text, &len) != 0) {
    px_val_release(payload);
    return px__cli_usage_error(c, "the signal's payload cannot be sent");
  }
  px_val_release(payload);
  px_cli_req rq = {.method = "POST", .path = path, .body = text,
                   .body_len = len};
  px_cli_reply r;
  rc = px__cli_fetch(c, &rq, &r);
  free(text);
  if (rc != PX_CLI_HUMAN) return rc;
  printf("signalled %s: %s\n", c->pos[2], c->pos[3]);
  px__cli_reply_free(&r);
  return PX_CLI_OK;
}

static int wf_query(px_cli *c) {
  int rc = px__cli_refuse(c, "here", "--id", "--input", "--wait-ms",
                          (const char *)NULL);
  if (rc) return rc;
  char path[PX_CLI_PATH_MAX];
  rc = px__cli_path(c, path, sizeof path, "/api/v1/workflows", c->pos[1],
                    c->pos[2], "queries", c->pos[3], NULL);
  if (rc) return rc;
  px_cli_reply r;
  rc = send_json(c, "GET", path, px_nil(), 0, &r);
  if (rc != PX_CLI_HUMAN) return rc;
  px__cli_print_json(stdout, px_gets(r.json, "result"));
  px__cli_reply_free(&r);
  return PX_CLI_OK;
}

static int wf_cancel(px_cli *c) {
  int rc = px__cli_refuse(c, "here", "--id", "--input", "--wait-ms",
                          (const char *)NULL);
  if (rc) return rc;
  char path[PX_CLI_PATH_MAX];
  rc = px__cli_path(c, path, sizeof path, "/api/v1/workflows", c->pos[1],
                    c->pos[2], "cancel", NULL);
  if (rc) return rc;
  px_cli_reply r;
  rc = send_json(c, "POST", path, px_nil(), 0, &r);
  if (rc != PX_CLI_HUMAN) return rc;
  printf("cancelled %s\n", c->pos[2]);
  px__cli_reply_free(&r);
  return PX_CLI_OK;
}

int px__cli_workflow(px_cli *c) {
  const char *name = c->pos[0];
  const sub *s = NULL;
  for (size_t i = 0; i < sizeof SUBS / sizeof SUBS[0]; i++)
    if (strcmp(SUBS[i].name, name) == 0) s = &SUBS[i];
  if (!s)
    return px__cli_usage_error(c, "unknown operation '%s': expected start, "
                               "status, signal, query or cancel", name);
  snprintf(c->what, sizeof c->what, "workflow %s", name);
  if (c->npos - 1 < s->npos) {
    fputs(c->cmd->usage, stderr);
    return PX_CLI_USAGE;
  }
  if (c->npos - 1 > s->max)
    return px__cli_usage_error(c, "unexpected argument '%s'",
                               c->pos[s->max + 1]);
  if (strcmp(name, "start") == 0) return wf_start(c);
  if (strcmp(name, "status") == 0) return wf_status(c);
  if (strcmp(name, "signal") == 0) return wf_signal(c);
  if (strcmp(name, "query") == 0) return wf_query(c);
  return wf_cancel(c);
}

/* ---- journal show (online) ---------------------------------------------- */

int px__cli_journal(px_cli *c) {
  const char *name = c->pos[0];
  snprintf(c->what, sizeof c->what, "journal %s", name);
  if (strcmp(name, "list") == 0)
    return px__cli_usage_error(c, "the node has no journal list: run "
                               "`plexspaces journal list --data DIR` on its "
                               "data directory");
  if (strcmp(name, "show") != 0)
    return px__cli_usage_error(c, "unknown operation '%s': expected show",
                               name);
  const char *ns = px__cli_opt(c, "--ns");
  int want = ns ? 2 : 3;
  if (c->npos < want) {
    fputs(c->cmd->usage, stderr);
    return PX_CLI_USAGE;
  }
  if (c->npos > want)
    return px__cli_usage_error(c, "unexpected argument '%s'", c->pos[want]);
  if (!ns) ns = c->pos[1];
  const char *actor = c->pos[want - 1];
  char path[PX_CLI_PATH_MAX];
  int rc = px__cli_path(c, path, sizeof path, "/api/v1/journal", ns, actor,
                        NULL);
  if (rc) return rc;
  px_cli_req rq = {.method = "GET", .path = path};
  px_cli_reply r;
  rc = px__cli_fetch(c, &rq, &r);
  if (rc != PX_CLI_HUMAN) return rc;
  fwrite(r.body, 1, r.len, stdout);
  if (r.len > 0 && r.body[r.len - 1] != '\n') fputc('\n', stdout);
  px__cli_reply_free(&r);
  return PX_CLI_OK;
}
