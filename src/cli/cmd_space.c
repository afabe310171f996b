/* ts write|read|take|count: the tuple spaces of the caller's tenant. The
 * tuple or template argument is sent as it is: the node's template syntax
 * (null a wildcard, {"$type": "int"} a type formal) is its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_internal.h"

#define MAX_MS (24LL * 3600 * 1000)

static int print_found(const px_cli *c, px_val reply) {
  px_val many = px_gets(reply, "tuples");
  if (many.type == PX_T_ARRAY) {
    if (px_len(many) == 0) return px__cli_fail(c, "no matching tuple");
    for (size_t i = 0; i < px_len(many); i++)
      px__cli_print_json(stdout, px_at(many, i));
    return PX_CLI_OK;
  }
  px_val found = px_gets(reply, "found");
  if (found.type != PX_T_BOOL || !found.u.b)
    return px__cli_fail(c, "no matching tuple");
  px__cli_print_json(stdout, px_gets(reply, "tuple"));
  return PX_CLI_OK;
}

int px__cli_ts(px_cli *c) {
  const char *op = c->pos[0];
  bool write = strcmp(op, "write") == 0, count = strcmp(op, "count") == 0;
  bool match = strcmp(op, "read") == 0 || strcmp(op, "take") == 0;
  if (!write && !count && !match)
    return px__cli_usage_error(c, "unknown operation '%s': expected write, "
                               "read, take or count", op);
  snprintf(c->what, sizeof c->what, "ts %s", op);
  if (c->npos < 4) {
    fputs(c->cmd->usage, stderr);
    return PX_CLI_USAGE;
  }
  if (c->npos > 4)
    return px__cli_usage_error(c, "unexpected argument '%s' (quote the "
                               "JSON as one argument)", c->pos[4]);
  char where[32];
  snprintf(where, sizeof where, "to ts %s", op);
  int rc = write ? PX_CLI_OK
                 : px__cli_refuse(c, where, "--ttl-ms", (const char *)NULL);
  if (!rc && !match)
    rc = px__cli_refuse(c, where, "--timeout-ms", "--all", (const char *)NULL);
  int64_t ttl = 0, timeout = 0;
  if (!rc) rc = px__cli_int_opt(c, "--ttl-ms", MAX_MS, &ttl);
  if (!rc) rc = px__cli_int_opt(c, "--timeout-ms", MAX_MS, &timeout);
  if (rc) return rc;

  const char *what = write ? "the tuple" : "the template";
  px_val arg;
  rc = px__cli_json_arg(c, what, c->pos[3], &arg);
  if (rc) return rc;
  if (arg.type != PX_T_ARRAY || px_len(arg) == 0) {
    px_val_release(arg);
    return px__cli_usage_error(c, "%s must be a non-empty JSON array, e.g. "
                               "'[\"job\", 1]' (got '%s')", what, c->pos[3]);
  }
  px_val body = px_map_new(3);
  px_map_puts(&body, write ? "tuple" : "template", arg);
  if (write && px__cli_opt(c, "--ttl-ms"))
    px_map_puts(&body, "ttl_ms", px_int(ttl));
  if (match) {
    px_map_puts(&body, "timeout_ms", px_int(timeout));
    px_map_puts(&body, "all", px_bool(px__cli_opt(c, "--all") != NULL));
  }
  char *text;
  size_t len;
  rc = px_json_encode(body, &text, &len);
  px_val_release(body);
  if (rc) return px__cli_usage_error(c, "%s cannot be sent", what);

  char path[PX_CLI_PATH_MAX];
  rc = px__cli_path(c, path, sizeof path, "/api/v1/spaces", c->pos[1],
                    c->pos[2], op, NULL);
  if (rc) {
    free(text);
    return rc;
  }
  px_cli_req rq = {.method = "POST",
                   .path = path,
                   .body = text,
                   .body_len = len,
                   .timeout_s = px__cli_blocking_timeout(
                       (long)(timeout / 1000))};
  px_cli_reply r;
  rc = px__cli_fetch(c, &rq, &r);
  free(text);
  if (rc != PX_CLI_HUMAN) return rc;
  rc = PX_CLI_OK;
  if (write) {
    px_val lease = px_gets(r.json, "lease");
    if (lease.type == PX_T_INT && lease.u.i != 0)
      printf("written (lease %lld)\n", (long long)lease.u.i);
    else
      printf("written\n");
  } else if (count) {
    px_val n = px_gets(r.json, "count");
    if (n.type == PX_T_INT)
      printf("%lld\n", (long long)n.u.i);
    else
      rc = px__cli_fail(c, "the node's reply has no count");
  } else {
    rc = print_found(c, r.json);
  }
  px__cli_reply_free(&r);
  return rc;
}
