/* Builds the authenticator from the [auth] table of node.toml: mode, where
 * the keys come from (an environment variable for the HS256 secret, PEM
 * files for RS256/ES256, parsed and checked at start-up so that a wrong
 * key fails here and not at the first request), claim requirements and
 * the configured roles. Start-up code: allocation failure aborts. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth/auth_internal.h"
#include "core/mem.h"
#include "plexspaces/error.h"

#define MIN_SECRET 32
#define MAX_KEY_FILE (64 * 1024)
#define MAX_LEEWAY 3600

static const char *const k_keys[] = {
    "mode",   "hs256_secret_env", "rs256_public_key", "es256_public_key",
    "algorithms", "issuer",       "audience",         "leeway_seconds",
    "tenant_claim", "roles",      NULL,
};
static const char *const k_literal_secrets[] = {"secret", "hs256_secret",
                                                "jwt_secret", NULL};

/* ---- names shared with the other files ---------------------------------- */

unsigned px__auth_alg_bit(const char *name) {
  if (strcmp(name, "HS256") == 0) return PX__AUTH_HS256;
  if (strcmp(name, "RS256") == 0) return PX__AUTH_RS256;
  if (strcmp(name, "ES256") == 0) return PX__AUTH_ES256;
  return 0;
}

const char *px__auth_alg_name(unsigned bit) {
  switch (bit) {
  case PX__AUTH_HS256:
    return "HS256";
  case PX__AUTH_RS256:
    return "RS256";
  case PX__AUTH_ES256:
    return "ES256";
  default:
    return "?";
  }
}

void px__auth_alg_list(unsigned algs, char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (unsigned bit = 1; bit <= PX__AUTH_ES256; bit <<= 1) {
    if (!(algs & bit) || used >= cap) continue;
    int n = snprintf(buf + used, cap - used, "%s%s", used ? ", " : "",
                     px__auth_alg_name(bit));
    if (n > 0) used += (size_t)n;
  }
}

bool px__auth_tenant_ok(const char *s, size_t len) {
  if (len == 0 || len > 127) return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!isalnum(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

/* Printable ASCII without space, quotes or backslash: safe to echo in a
 * message and unambiguous in a list. */
static bool word_ok(const char *s, size_t len, size_t max) {
  if (len == 0 || len > max) return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= ' ' || c >= 0x7f || c == '"' || c == '\'' || c == '\\')
      return false;
  }
  return true;
}

bool px__auth_role_name_ok(const char *s, size_t len) {
  return word_ok(s, len, 63);
}

/* ---- typed getters ------------------------------------------------------ */

/* The string at `key`: 0 and *out NULL when absent, 0 and *out set when a
 * non-empty string, PX_EINVAL (message written) otherwise. */
static int opt_str(px_val t, const char *key, const char **out, char *err,
                   size_t cap) {
  *out = NULL;
  px_val v = px_gets(t, key);
  if (px_is_nil(v)) return 0;
  if (px_typeof(v) != PX_T_STR)
    return fail(err, cap, PX_EINVAL, "auth.%s: must be a string", key);
  if (px_str_len(v) == 0 || strlen(px_str_ptr(v)) != px_str_len(v))
    return fail(err, cap, PX_EINVAL, "auth.%s: must not be empty", key);
  *out = px_str_ptr(v);
  return 0;
}

static void free_strs(char **v, size_t n) {
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

/* An array of non-empty strings each accepted by `ok`; `what` names the
 * setting in messages ("auth.roles[0].operations"). */
static int str_array(px_val v, const char *what, bool (*ok)(const char *),
                     const char *rule, char ***out, size_t *n, char *err,
                     size_t cap) {
  *out = NULL;
  *n = 0;
  if (px_typeof(v) != PX_T_ARRAY || px_len(v) == 0)
    return fail(err, cap, PX_EINVAL, "%s: must be a non-empty array of strings",
                what);
  char **items = px__xcalloc(px_len(v), sizeof *items);
  for (size_t i = 0; i < px_len(v); i++) {
    px_val s = px_at(v, i);
    if (px_typeof(s) != PX_T_STR || !ok(px_str_ptr(s))) {
      char shown[96];
      px_val_format(s, shown, sizeof shown);
      free_strs(items, i);
      return fail(err, cap, PX_EINVAL, "%s: %s %s", what, shown, rule);
    }
    items[i] = px__xstrndup(px_str_ptr(s), px_str_len(s));
  }
  *out = items;
  *n = px_len(v);
  return 0;
}

/* ---- key material ------------------------------------------------------- */

static bool env_name_ok(const char *s) {
  if (!isalpha((unsigned char)s[0]) && s[0] != '_') return false;
  for (const char *p = s; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '_') return false;
  return true;
}

static int load_secret(px_auth *a, const char *var, char *err, size_t cap) {
  if (!env_name_ok(var))
    return fail(err, cap, PX_EINVAL,
                "auth.hs256_secret_env: \"%s\" is not an environment variable "
                "name; give the NAME of the variable holding the secret, "
                "e.g. \"PLEXSPACES_JWT_SECRET\"",
                var);
  const char *secret = getenv(var);
  if (!secret)
    return fail(err, cap, PX_EINVAL,
                "auth.hs256_secret_env: environment variable %s is not set",
                var);
  size_t len = strlen(secret);
  if (len < MIN_SECRET)
    return fail(err, cap, PX_EINVAL,
                "auth.hs256_secret_env: the secret in %s is %zu bytes; HS256 "
                "needs at least %d (e.g. openssl rand -base64 48)",
                var, len, MIN_SECRET);
  a->hs_secret = px__xmalloc(len);
  memcpy(a->hs_secret, secret, len);
  a->hs_len = len;
  a->algs |= PX__AUTH_HS256;
  return 0;
}

/* Reads at most MAX_KEY_FILE bytes of `path` into a malloc'd,
 * NUL-terminated buffer. */
static int read_file(const char *key, const char *path, char **out,
                     size_t *len, char *err, size_t cap) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return fail(err, cap, PX_EIO, "auth.%s: cannot read %s: %s", key, path,
                strerror(errno));
  char *buf = px__xmalloc(MAX_KEY_FILE + 1);
  size_t n = fread(buf, 1, MAX_KEY_FILE + 1, f);
  bool bad = ferror(f) != 0;
  fclose(f);
  if (bad || n > MAX_KEY_FILE) {
    free(buf);
    return fail(err, cap, bad ? PX_EIO : PX_EINVAL,
                bad ? "auth.%s: cannot read %s"
                    : "auth.%s: %s is larger than 64 KiB; expected a PEM "
                      "public key",
                key, path);
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return 0;
}

static int load_pem(px_auth *a, const char *key, const char *path,
                    const char *base_dir, unsigned alg, char *err,
                    size_t cap) {
  char full[PATH_MAX];
  if (base_dir && path[0] != '/') {
    if ((size_t)snprintf(full, sizeof full, "%s/%s", base_dir, path) >=
        sizeof full)
      return fail(err, cap, PX_EINVAL, "auth.%s: path is too long", key);
    path = full;
  }
  char *pem = NULL;
  size_t len = 0;
  EVP_PKEY *pk = NULL;
  int rc = read_file(key, path, &pem, &len, err, cap);
  if (rc == 0) rc = px__auth_pkey_load(key, path, pem, len, alg, &pk, err, cap);
  free(pem);
  if (rc) return rc;
  if (alg == PX__AUTH_RS256)
    a->rs_key = pk;
  else
    a->es_key = pk;
  a->algs |= alg;
  return 0;
}

/* ---- roles -------------------------------------------------------------- */

static bool op_pattern_ok(const char *s) {
  return px__auth_pattern_useful(s);
}

static bool ns_pattern_ok(const char *s) {
  return word_ok(s, strlen(s), 127);
}

static int parse_role(px__auth_role *r, px_val t, size_t idx,
                      const px__auth_role *before, char *err, size_t cap) {
  if (px_typeof(t) != PX_T_MAP)
    return fail(err, cap, PX_EINVAL, "auth.roles[%zu]: must be a table", idx);
  for (size_t i = 0; i < px_len(t); i++) {
    const char *k = px_str_ptr(px_map_key_at(t, i));
    if (!k || (strcmp(k, "name") && strcmp(k, "operations") &&
               strcmp(k, "namespaces")))
      return fail(err, cap, PX_EINVAL,
                  "auth.roles[%zu].%s: unknown key (expected name, "
                  "operations, namespaces)",
                  idx, k ? k : "?");
  }
  px_val name = px_gets(t, "name");
  if (px_typeof(name) != PX_T_STR ||
      !px__auth_role_name_ok(px_str_ptr(name), px_str_len(name)))
    return fail(err, cap, PX_EINVAL,
                "auth.roles[%zu].name: required, 1 to 63 characters without "
                "spaces or quotes",
                idx);
  for (size_t i = 0; i < idx; i++)
    if (strcmp(before[i].name, px_str_ptr(name)) == 0)
      return fail(err, cap, PX_EINVAL,
                  "auth.roles[%zu].name: role \"%s\" is defined twice", idx,
                  px_str_ptr(name));
  memcpy(r->name, px_str_ptr(name), px_str_len(name) + 1);

  char what[96];
  snprintf(what, sizeof what, "auth.roles[%zu].operations", idx);
  px_val ops = px_gets(t, "operations");
  int rc = str_array(ops, what, op_pattern_ok,
                     "matches no operation (use e.g. \"actor.ask\", "
                     "\"space.*\" or \"*\")",
                     &r->ops, &r->nops, err, cap);
  if (rc) return rc;

  px_val nss = px_gets(t, "namespaces");
  if (px_is_nil(nss)) {
    r->nss = px__xcalloc(1, sizeof *r->nss);
    r->nss[0] = px__xstrndup("*", 1);
    r->nns = 1;
    return 0;
  }
  snprintf(what, sizeof what, "auth.roles[%zu].namespaces", idx);
  return str_array(nss, what, ns_pattern_ok,
                   "is not a namespace name or \"*\"", &r->nss, &r->nns, err,
                   cap);
}

static int parse_roles(px_auth *a, px_val roles, char *err, size_t cap) {
  if (px_typeof(roles) != PX_T_ARRAY || px_len(roles) == 0)
    return fail(err, cap, PX_EINVAL,
                "auth.roles: must be a non-empty array of tables "
                "([[auth.roles]])");
  a->roles = px__xcalloc(px_len(roles), sizeof *a->roles);
  for (size_t i = 0; i < px_len(roles); i++) {
    a->nroles = i + 1; /* so that px__auth_free frees a partial role */
    int rc = parse_role(&a->roles[i], px_at(roles, i), i, a->roles, err, cap);
    if (rc) return rc;
  }
  return 0;
}

/* ---- the table ---------------------------------------------------------- */

static bool in_list(const char *const *list, const char *s) {
  for (size_t i = 0; list[i]; i++)
    if (strcmp(list[i], s) == 0) return true;
  return false;
}

static int check_keys(px_val t, char *err, size_t cap) {
  for (size_t i = 0; i < px_len(t); i++) {
    const char *k = px_str_ptr(px_map_key_at(t, i));
    if (!k) return fail(err, cap, PX_EINVAL, "auth: keys must be strings");
    if (in_list(k_literal_secrets, k))
      return fail(err, cap, PX_EINVAL,
                  "auth.%s: a secret must not be written in the config file; "
                  "put it in an environment variable and set "
                  "hs256_secret_env = \"PLEXSPACES_JWT_SECRET\"",
                  k);
    if (!in_list(k_keys, k))
      return fail(err, cap, PX_EINVAL,
                  "auth.%s: unknown key (expected mode, hs256_secret_env, "
                  "rs256_public_key, es256_public_key, algorithms, issuer, "
                  "audience, leeway_seconds, tenant_claim, roles)",
                  k);
  }
  return 0;
}

static int parse_algorithms(px_auth *a, px_val v, char *err, size_t cap) {
  if (px_is_nil(v)) return 0;
  if (px_typeof(v) != PX_T_ARRAY || px_len(v) == 0)
    return fail(err, cap, PX_EINVAL,
                "auth.algorithms: must be a non-empty array such as "
                "[\"RS256\"]");
  unsigned want = 0;
  for (size_t i = 0; i < px_len(v); i++) {
    px_val s = px_at(v, i);
    unsigned bit = px_typeof(s) == PX_T_STR ? px__auth_alg_bit(px_str_ptr(s))
                                            : 0;
    if (!bit)
      return fail(err, cap, PX_EINVAL,
                  "auth.algorithms: item %zu is not one of \"HS256\", "
                  "\"RS256\", \"ES256\"",
                  i);
    if (!(a->algs & bit))
      return fail(err, cap, PX_EINVAL,
                  "auth.algorithms: %s is listed but no key for it is "
                  "configured (%s)",
                  px__auth_alg_name(bit),
                  bit == PX__AUTH_HS256   ? "hs256_secret_env"
                  : bit == PX__AUTH_RS256 ? "rs256_public_key"
                                          : "es256_public_key");
    want |= bit;
  }
  a->algs = want;
  return 0;
}

static int parse_jwt(px_auth *a, px_val t, const char *base_dir, char *err,
                     size_t cap) {
  const char *s;
  int rc = opt_str(t, "hs256_secret_env", &s, err, cap);
  if (rc == 0 && s) rc = load_secret(a, s, err, cap);
  if (rc == 0) rc = opt_str(t, "rs256_public_key", &s, err, cap);
  if (rc == 0 && s)
    rc = load_pem(a, "rs256_public_key", s, base_dir, PX__AUTH_RS256, err,
                  cap);
  if (rc == 0) rc = opt_str(t, "es256_public_key", &s, err, cap);
  if (rc == 0 && s)
    rc = load_pem(a, "es256_public_key", s, base_dir, PX__AUTH_ES256, err,
                  cap);
  if (rc) return rc;
  if (!a->algs)
    return fail(err, cap, PX_EINVAL,
                "auth.mode: mode \"jwt\" needs a key: set hs256_secret_env, "
                "rs256_public_key or es256_public_key");
  rc = parse_algorithms(a, px_gets(t, "algorithms"), err, cap);
  if (rc == 0) rc = opt_str(t, "issuer", &s, err, cap);
  if (rc == 0 && s) a->issuer = px__xstrndup(s, strlen(s));
  if (rc == 0) rc = opt_str(t, "audience", &s, err, cap);
  if (rc == 0 && s) a->audience = px__xstrndup(s, strlen(s));
  if (rc == 0) rc = opt_str(t, "tenant_claim", &s, err, cap);
  if (rc) return rc;
  if (s) {
    if (!word_ok(s, strlen(s), sizeof a->tenant_claim - 1))
      return fail(err, cap, PX_EINVAL,
                  "auth.tenant_claim: must be 1 to 63 characters without "
                  "spaces or quotes");
    memcpy(a->tenant_claim, s, strlen(s) + 1);
  }
  px_val lw = px_gets(t, "leeway_seconds");
  if (!px_is_nil(lw)) {
    if (px_typeof(lw) != PX_T_INT || lw.u.i < 0 || lw.u.i > MAX_LEEWAY)
      return fail(err, cap, PX_EINVAL,
                  "auth.leeway_seconds: must be an integer from 0 to %d",
                  MAX_LEEWAY);
    a->leeway = lw.u.i;
  }
  px_val roles = px_gets(t, "roles");
  return px_is_nil(roles) ? 0 : parse_roles(a, roles, err, cap);
}

int px__auth_new_in(px_val t, const char *base_dir, px_auth **out, char *err,
                    size_t errcap) {
  if (err && errcap) err[0] = '\0';
  if (!out) return fail(err, errcap, PX_EINVAL, "auth: no output given");
  *out = NULL;
  if (!px_is_nil(t) && px_typeof(t) != PX_T_MAP)
    return fail(err, errcap, PX_EINVAL, "auth: must be a table ([auth])");
  px_auth *a = px__xcalloc(1, sizeof *a);
  a->leeway = 30;
  memcpy(a->tenant_claim, "tenant_id", sizeof "tenant_id");
  if (px_is_nil(t) || px_len(t) == 0) {
    *out = a;
    return 0;
  }
  const char *mode = NULL;
  int rc = check_keys(t, err, errcap);
  if (rc == 0) rc = opt_str(t, "mode", &mode, err, errcap);
  if (rc == 0 && !mode)
    rc = fail(err, errcap, PX_EINVAL,
              "auth.mode: missing; set mode = \"jwt\" or mode = \"none\"");
  if (rc == 0 && strcmp(mode, "jwt") == 0) {
    a->jwt = true;
    rc = parse_jwt(a, t, base_dir, err, errcap);
  } else if (rc == 0 && strcmp(mode, "none") != 0) {
    rc = fail(err, errcap, PX_EINVAL,
              "auth.mode: \"%s\" is not \"jwt\" or \"none\"", mode);
  }
  if (rc) {
    px__auth_free(a);
    return rc;
  }
  *out = a;
  return 0;
}

int px__auth_new(px_val t, px_auth **out, char *err, size_t errcap) {
  return px__auth_new_in(t, NULL, out, err, errcap);
}

void px__auth_free(px_auth *a) {
  if (!a) return;
  if (a->hs_secret) OPENSSL_cleanse(a->hs_secret, a->hs_len);
  free(a->hs_secret);
  EVP_PKEY_free(a->rs_key);
  EVP_PKEY_free(a->es_key);
  free(a->issuer);
  free(a->audience);
  for (size_t i = 0; i < a->nroles; i++) {
    free_strs(a->roles[i].ops, a->roles[i].nops);
    free_strs(a->roles[i].nss, a->roles[i].nns);
  }
  free(a->roles);
  free(a);
}

bool px__auth_enabled(const px_auth *a) { return a && a->jwt; }
