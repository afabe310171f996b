/* Development tokens (CLI `plexspaces token`): HS256 JWTs carrying the
 * claims px__auth_verify reads. The claims object is built with jansson so
 * that every string is escaped correctly, then libjwt signs it. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <jwt.h>

#include "auth/auth_internal.h"
#include "plexspaces/error.h"

#define MIN_SECRET 32
#define MAX_TTL (366 * 24 * 3600)

static bool args_ok(const char *secret, size_t secret_len,
                    const px_auth_claims *c) {
  if (!secret || secret_len < MIN_SECRET || secret_len > INT32_MAX || !c)
    return false;
  if (!c->tenant || !px__auth_tenant_ok(c->tenant, strlen(c->tenant)))
    return false;
  if (c->sub && strlen(c->sub) > 127) return false;
  if (c->ttl_s < 1 || c->ttl_s > MAX_TTL) return false;
  if (c->nroles > PX_AUTH_MAX_ROLES || (c->nroles && !c->roles)) return false;
  for (size_t i = 0; i < c->nroles; i++)
    if (!c->roles[i] ||
        !px__auth_role_name_ok(c->roles[i], strlen(c->roles[i])))
      return false;
  if ((c->iss && !*c->iss) || (c->aud && !*c->aud)) return false;
  return true;
}

/* The claims as a JSON text (malloc'd), or NULL when out of memory or a
 * string is not UTF-8. */
static char *claims_json(const px_auth_claims *c, int64_t now) {
  json_t *o = json_object();
  json_t *roles = json_array();
  int bad = !o || !roles;
  for (size_t i = 0; !bad && i < c->nroles; i++)
    bad |= json_array_append_new(roles, json_string(c->roles[i]));
  if (!bad) {
    bad |= json_object_set_new(o, "tenant_id", json_string(c->tenant));
    if (c->sub) bad |= json_object_set_new(o, "sub", json_string(c->sub));
    bad |= json_object_set(o, "roles", roles);
    if (c->admin) bad |= json_object_set_new(o, "is_admin", json_true());
    bad |= json_object_set_new(o, "iat", json_integer(now));
    bad |= json_object_set_new(o, "exp", json_integer(now + c->ttl_s));
    if (c->iss) bad |= json_object_set_new(o, "iss", json_string(c->iss));
    if (c->aud) bad |= json_object_set_new(o, "aud", json_string(c->aud));
  }
  char *text = bad ? NULL : json_dumps(o, JSON_COMPACT);
  json_decref(roles);
  json_decref(o);
  return text;
}

int px__auth_mint(const char *secret, size_t secret_len,
                  const px_auth_claims *c, char **out) {
  if (!out) return PX_EINVAL;
  *out = NULL;
  if (!args_ok(secret, secret_len, c)) return PX_EINVAL;
  char *claims = claims_json(c, (int64_t)time(NULL));
  if (!claims) return PX_EINVAL; /* json_string refuses non-UTF-8 sub/iss */
  jwt_t *j = NULL;
  int rc = PX_ENOMEM;
  if (jwt_new(&j) == 0 && jwt_add_grants_json(j, claims) == 0 &&
      jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)secret,
                  (int)secret_len) == 0) {
    *out = jwt_encode_str(j); /* libjwt allocates with malloc */
    if (*out) rc = 0;
  }
  jwt_free(j);
  free(claims);
  return rc;
}

int px__auth_mint_hs256(const char *secret, size_t secret_len,
                        const char *tenant, const char *sub,
                        const char *const *roles, size_t nroles, int64_t ttl_s,
                        const char *iss, const char *aud, char **out) {
  px_auth_claims c = {.tenant = tenant,
                      .sub = sub,
                      .roles = roles,
                      .nroles = nroles,
                      .ttl_s = ttl_s,
                      .iss = iss,
                      .aud = aud};
  return px__auth_mint(secret, secret_len, &c, out);
}
