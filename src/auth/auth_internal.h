/* The authenticator's layout and the helpers its files share. Only
 * src/auth/ includes this. */
#ifndef PX_AUTH_AUTH_INTERNAL_H
#define PX_AUTH_AUTH_INTERNAL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "auth/auth.h"

/* Accepted algorithms, as bits of px_auth.algs. */
enum {
  PX__AUTH_HS256 = 1u << 0,
  PX__AUTH_RS256 = 1u << 1,
  PX__AUTH_ES256 = 1u << 2,
};

typedef struct px__auth_role {
  char name[64];
  char **ops; /* operation patterns */
  size_t nops;
  char **nss; /* namespace patterns */
  size_t nns;
} px__auth_role;

struct px_auth {
  bool jwt;      /* mode "jwt"; everything below is unused for "none" */
  unsigned algs; /* PX__AUTH_* bits accepted */
  unsigned char *hs_secret;
  size_t hs_len;
  EVP_PKEY *rs_key; /* parsed once at start-up (see pkey.c) */
  EVP_PKEY *es_key;
  char *issuer;   /* NULL: not checked */
  char *audience; /* NULL: not checked */
  int64_t leeway;
  char tenant_claim[64];
  px__auth_role *roles; /* NULL when the built-in roles apply */
  size_t nroles;
};

/* The PX__AUTH_* bit for an algorithm name (exact, case-sensitive as in
 * RFC 7518), or 0. */
unsigned px__auth_alg_bit(const char *name);
/* "HS256", "RS256" or "ES256" for one bit. */
const char *px__auth_alg_name(unsigned bit);
/* Writes the accepted algorithm names as "HS256, RS256" into buf. */
void px__auth_alg_list(unsigned algs, char *buf, size_t cap);
/* A tenant name: 1..127 bytes of [A-Za-z0-9_.-]. */
bool px__auth_tenant_ok(const char *s, size_t len);
/* A role name: 1..63 bytes, printable ASCII without spaces or quotes. */
bool px__auth_role_name_ok(const char *s, size_t len);
/* Pattern match used by RBAC: "*" matches anything, "p.*" matches every
 * name starting with "p." (and something after it), else exact. */
bool px__auth_pattern_match(const char *pattern, const char *name);
/* True when an operation pattern from the configuration matches at least
 * one known operation (so that a typo is caught at start-up). */
bool px__auth_pattern_useful(const char *pattern);

/* Parses the PEM text of public key `path` (named `key` in messages) and
 * checks it suits `alg` (RSA >= 2048 bits, or EC P-256). 0 and *out (free
 * with EVP_PKEY_free), or PX_EINVAL with a sentence in err. */
int px__auth_pkey_load(const char *key, const char *path, const char *pem,
                       size_t len, unsigned alg, EVP_PKEY **out, char *err,
                       size_t cap);
/* Checks an RS256 or ES256 (JOSE R||S) signature over `input`. */
bool px__auth_pkey_verify(EVP_PKEY *pk, unsigned alg, const char *input,
                          size_t len, const unsigned char *sig,
                          size_t siglen);

/* Writes the formatted message into err (when given) and returns code:
 * the shape of every failure in this folder. */
static inline int fail(char *err, size_t cap, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline int fail(char *err, size_t cap, int code, const char *fmt,
                       ...) {
  if (err && cap) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
  }
  return code;
}

#endif
