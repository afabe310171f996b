/* status (the node's health and summary) and token (a development JWT,
 * minted offline). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "cli/cli_internal.h"
#include "plexspaces/error.h"

#define SECRET_MIN 32
#define TTL_MAX (366LL * 24 * 3600)

/* ---- status ------------------------------------------------------------- */

static void print_apps(px_val apps) {
  size_t n = apps.type == PX_T_ARRAY ? px_len(apps) : 0;
  printf("applications: ");
  if (n == 0) printf("none");
  for (size_t i = 0; i < n; i++) {
    char *id = px__cli_text(px_at(apps, i), "application_id");
    char *st = px__cli_text(px_at(apps, i), "status");
    printf("%s%s (%s)", i ? ", " : "", id ? id : "?", st ? st : "?");
    free(id);
    free(st);
  }
  printf("\n");
}

int px__cli_status(px_cli *c) {
  if (c->npos > 0)
    return px__cli_usage_error(c, "unexpected argument '%s'", c->pos[0]);
  /* Liveness first: its answer does not depend on the token. */
  px_cli_req hz = {.method = "GET", .path = "/healthz", .timeout_s = 10};
  px_cli_reply h;
  int rc = px__cli_http(c, &hz, &h);
  if (rc) return rc;
  if (h.status != 200) {
    char buf[512];
    rc = px__cli_fail(c, "the node at %s is not healthy: %s (HTTP %ld)",
                      c->node, px__cli_reply_message(&h, buf, sizeof buf),
                      h.status);
    px__cli_reply_free(&h);
    return rc;
  }
  px__cli_reply_free(&h);

  px_cli_req rq = {.method = "GET", .path = "/api/v1/status"};
  px_cli_reply r;
  rc = px__cli_fetch(c, &rq, &r);
  if (rc != PX_CLI_HUMAN) return rc;
  char *version = px__cli_text(r.json, "version");
  char *tenant = px__cli_text(r.json, "tenant");
  char *workers = px__cli_text(r.json, "workers");
  char *actors = px__cli_text(r.json, "actors");
  px_val ready = px_gets(r.json, "ready");
  printf("node:         %s (healthy)\n", c->node);
  printf("version:      %s\n", version ? version : "?");
  printf("ready:        %s\n",
         ready.type == PX_T_BOOL ? (ready.u.b ? "yes" : "no") : "?");
  printf("tenant:       %s\n", tenant ? tenant : "?");
  printf("workers:      %s\n", workers ? workers : "?");
  printf("actors:       %s\n", actors ? actors : "?");
  print_apps(px_gets(r.json, "applications"));
  free(version), free(tenant), free(workers), free(actors);
  px__cli_reply_free(&r);
  return PX_CLI_OK;
}

/* ---- token -------------------------------------------------------------- */

int px__cli_token(px_cli *c) {
  if (c->npos > 0)
    return px__cli_usage_error(c, "unexpected argument '%s'", c->pos[0]);
  const char *tenant = px__cli_opt(c, "--tenant");
  if (!tenant || !*tenant)
    return px__cli_usage_error(c, "--tenant T is required");
  int64_t ttl = 86400;
  int rc = px__cli_int_opt(c, "--ttl", TTL_MAX, &ttl);
  if (rc) return rc;
  if (ttl < 1) return px__cli_usage_error(c, "--ttl must be at least 1");

  /* --roles a,b,c: empty items are skipped. */
  const char *list = px__cli_opt(c, "--roles");
  char roles_buf[PX_AUTH_MAX_ROLES][64];
  const char *roles[PX_AUTH_MAX_ROLES];
  size_t nroles = 0;
  for (const char *p = list; p && *p;) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n > 0) {
      if (nroles == PX_AUTH_MAX_ROLES)
        return px__cli_usage_error(c, "--roles names more than %d roles",
                                   PX_AUTH_MAX_ROLES);
      if (n >= sizeof roles_buf[0])
        return px__cli_usage_error(c, "role '%.*s' is longer than %zu "
                                   "characters", (int)n, p,
                                   sizeof roles_buf[0] - 1);
      memcpy(roles_buf[nroles], p, n);
      roles_buf[nroles][n] = 0;
      roles[nroles] = roles_buf[nroles];
      nroles++;
    }
    p += n;
    if (*p == ',') p++;
  }

  const char *var = px__cli_opt(c, "--secret-env");
  if (!var || !*var) var = "PLEXSPACES_JWT_SECRET";
  const char *secret = getenv(var);
  if (!secret || !*secret)
    return px__cli_usage_error(c, "environment variable %s is not set: it "
                               "must hold the node's HS256 secret (at least "
                               "%d bytes)", var, SECRET_MIN);
  size_t slen = strlen(secret);
  if (slen < SECRET_MIN)
    return px__cli_usage_error(c, "the secret in %s is %zu bytes: HS256 "
                               "needs at least %d", var, slen, SECRET_MIN);
  const char *sub = px__cli_opt(c, "--sub");
  const char *iss = px__cli_opt(c, "--issuer");
  const char *aud = px__cli_opt(c, "--audience");
  char *token = NULL;
  rc = px__auth_mint_hs256(secret, slen, tenant, sub && *sub ? sub : NULL,
                           roles, nroles, ttl, iss && *iss ? iss : NULL,
                           aud && *aud ? aud : NULL, &token);
  if (rc == PX_EINVAL)
    return px__cli_usage_error(c, "cannot mint the token: the tenant must "
                               "be 1..127 characters of [A-Za-z0-9_.-], "
                               "roles 1..63 characters");
  if (rc) return px__cli_fail(c, "cannot mint the token: %s", px_strerror(rc));
  printf("%s\n", token);
  free(token);
  return PX_CLI_OK;
}
