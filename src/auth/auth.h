/* Authentication and authorisation of API callers: JWT verification
 * (HS256, RS256, ES256), a development token minter, and role-based access
 * control over dotted operation names. Internal to the node; the HTTP layer
 * and the CLI call it.
 *
 * The algorithm is chosen here, from our own parse of the token header and
 * the node's configuration, before any signature check; libjwt checks
 * HS256 signatures and signs minted tokens, OpenSSL checks RS256/ES256
 * with keys parsed once; every claim (exp, nbf, iat, iss, aud, tenant,
 * roles) is checked here. */
#ifndef PX_AUTH_AUTH_H
#define PX_AUTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plexspaces/val.h"

/* Longest token accepted, in bytes. */
#define PX_AUTH_MAX_TOKEN 8192
#define PX_AUTH_MAX_ROLES 16

/* Result of px__auth_verify. Every failure means "401 Unauthorized" to an
 * HTTP caller; the codes only say why. */
typedef enum px_auth_result {
  PX_AUTH_OK = 0,
  PX_AUTH_MISSING,        /* no token at all */
  PX_AUTH_MALFORMED,      /* not a compact JWS, bad base64/JSON/claim type */
  PX_AUTH_BAD_ALG,        /* alg none, missing, or not accepted by this node */
  PX_AUTH_BAD_SIGNATURE,  /* signature does not verify with the node's key */
  PX_AUTH_EXPIRED,        /* exp (plus leeway) has passed, or exp is missing */
  PX_AUTH_NOT_YET_VALID,  /* nbf or iat is in the future (beyond leeway) */
  PX_AUTH_BAD_ISSUER,     /* iss missing or different from the configured one */
  PX_AUTH_BAD_AUDIENCE,   /* aud missing or does not name the configured one */
  PX_AUTH_NO_TENANT,      /* tenant claim missing */
  PX_AUTH_BAD_TENANT,     /* tenant not a string of [A-Za-z0-9_.-]{1,127} */
  PX_AUTH_DISABLED,       /* mode "none": there is nothing to verify */
} px_auth_result;

/* Immutable after creation; any number of threads may use one at once. */
typedef struct px_auth px_auth;

/* Who made a request, as proven by a verified token. */
typedef struct px_auth_identity {
  char tenant[128];  /* the tenant claim (default "tenant_id"); never empty */
  char subject[128]; /* "sub"; empty when the token has none */
  char roles[PX_AUTH_MAX_ROLES][64]; /* the "roles" claim, in token order */
  size_t nroles;
  bool admin;         /* the token has "is_admin": true */
  int64_t expires_at; /* exp, seconds since the epoch */
} px_auth_identity;

/** Builds the authenticator from the [auth] table of node.toml (a px_val
 *  map as produced by px_toml_parse; nil or an empty map means mode
 *  "none"). Keys:
 *    mode = "none" | "jwt"            required when the table has any key
 *    hs256_secret_env = "NAME"        environment variable holding the
 *                                     HS256 secret (>= 32 bytes). A secret
 *                                     written in the file (`secret`,
 *                                     `hs256_secret`, `jwt_secret`) is
 *                                     rejected.
 *    rs256_public_key = "pub.pem"     RSA public key (>= 2048 bits), PEM
 *    es256_public_key = "pub.pem"     EC P-256 public key, PEM
 *    algorithms = ["HS256", ...]      allow-list, a subset of the keys given
 *                                     (default: every alg with a key)
 *    issuer = "...", audience = "..." required in tokens when set
 *    leeway_seconds = 30              clock skew allowed for exp/nbf/iat
 *                                     (0..3600, default 30)
 *    tenant_claim = "tenant_id"
 *    [[auth.roles]] name = "reader", operations = ["actor.ask", "space.*"],
 *                   namespaces = ["*"] (default) or ["shop", ...]
 *  Relative key paths are resolved against `base_dir` when it is not NULL
 *  (the directory of node.toml), else against the working directory.
 *  Unknown keys are errors, so that a typo cannot silently weaken the
 *  configuration. Mode "jwt" without any key is an error.
 *  Returns 0 and *out (free with px__auth_free), or PX_EINVAL (bad
 *  configuration) / PX_EIO (key file unreadable) / PX_ENOMEM with a
 *  sentence naming the key in err, e.g. "auth.hs256_secret_env:
 *  environment variable PLEXSPACES_JWT_SECRET is not set". Reads the
 *  environment: call at start-up, not concurrently with setenv. */
int px__auth_new_in(px_val auth_table, const char *base_dir, px_auth **out,
                    char *err, size_t errcap);
/** px__auth_new_in with base_dir NULL. */
int px__auth_new(px_val auth_table, px_auth **out, char *err, size_t errcap);
/** Frees `a` and wipes the secret it held. NULL is a no-op. */
void px__auth_free(px_auth *a);
/** False for mode "none" (and for NULL). */
bool px__auth_enabled(const px_auth *a);

/** Verifies a bearer token (without the "Bearer " prefix) against the
 *  clock. Returns PX_AUTH_OK and fills *out, or another px_auth_result
 *  with a sentence in err ("token expired 42 s ago", "algorithm none is not
 *  accepted", "token signed with HS256 but this node accepts RS256").
 *  exp is required; nbf is honoured; an iat in the future beyond the leeway
 *  is rejected. Tokens longer than PX_AUTH_MAX_TOKEN are malformed. With
 *  mode "none" returns PX_AUTH_DISABLED. Thread-safe. */
int px__auth_verify(const px_auth *a, const char *token,
                    px_auth_identity *out, char *err, size_t errcap);
/** Same, at time `now` (seconds since the epoch): for tests and for
 *  callers that already read the clock. */
int px__auth_verify_at(const px_auth *a, const char *token, int64_t now,
                       px_auth_identity *out, char *err, size_t errcap);
/** Short stable name of a result, for JSON error bodies and logs:
 *  "ok", "token_missing", "token_expired", ... */
const char *px__auth_result_name(int result);
/** The token in an Authorization header value ("Bearer <token>", scheme
 *  case-insensitive), or NULL when the header is NULL or another scheme.
 *  Borrowed from `header`. */
const char *px__auth_bearer(const char *header);

/** RBAC: may `id` perform `operation` in namespace `ns`? Operations:
 *    actor.ask actor.tell actor.stop actor.list app.deploy app.undeploy
 *    app.list space.read space.write space.take space.count
 *    workflow.start workflow.signal workflow.query workflow.status
 *    workflow.cancel journal.read metrics.read node.status
 *  An operation not in this list is always refused (so that a misspelt
 *  name in a caller fails closed and shows up at once). With mode "none"
 *  every listed operation is allowed. Otherwise is_admin allows
 *  everything, and else the operation is allowed if ANY of the identity's
 *  roles grants it in `ns`. Role patterns are exact names, "group.*" or
 *  "*"; namespaces are exact names or "*". `ns` NULL means a node-wide
 *  operation (metrics.read, node.status, ...), which only roles with
 *  namespaces ["*"] grant. Without [[auth.roles]] the built-in roles are:
 *    admin     = "*"
 *    developer = everything except app.deploy and app.undeploy
 *    reader    = actor.list app.list space.read space.count workflow.status
 *                workflow.query journal.read node.status
 *  Roles in a token that the node does not define grant nothing.
 *  Thread-safe. */
bool px__auth_allowed(const px_auth *a, const px_auth_identity *id,
                      const char *ns, const char *operation);
/** True when `operation` is one of the names above. */
bool px__auth_operation_known(const char *operation);

/* What a minted token says. NULL strings are left out of the token. */
typedef struct px_auth_claims {
  const char *tenant; /* required: [A-Za-z0-9_.-]{1,127} */
  const char *sub;
  const char *const *roles; /* nroles <= PX_AUTH_MAX_ROLES, each 1..63 chars */
  size_t nroles;
  bool admin;    /* adds "is_admin": true */
  int64_t ttl_s; /* exp = now + ttl_s; 1 s .. 366 days */
  const char *iss;
  const char *aud;
} px_auth_claims;

/** Mints an HS256 token signed with `secret` (>= 32 bytes) carrying
 *  tenant_id, sub, roles, is_admin, iat, exp, iss and aud. Returns 0 and
 *  *out (malloc'd; free with free()), PX_EINVAL for a bad argument, or
 *  PX_ENOMEM. */
int px__auth_mint(const char *secret, size_t secret_len,
                  const px_auth_claims *c, char **out);
/** The development minter behind `plexspaces token`: px__auth_mint without
 *  is_admin. */
int px__auth_mint_hs256(const char *secret, size_t secret_len,
                        const char *tenant, const char *sub,
                        const char *const *roles, size_t nroles, int64_t ttl_s,
                        const char *iss, const char *aud, char **out);

#endif
