/* JWT verification. The order matters for safety:
 *   1. the token's shape (three base64url parts, size cap);
 *   2. our own parse of the header, which alone decides the algorithm:
 *      "none", a missing alg and any alg this node was not configured for
 *      are refused here, so an RS256 public key can never be used as an
 *      HMAC secret (key confusion) and a token can never choose to skip
 *      the signature;
 *   3. the signature is checked with the key of that algorithm only:
 *      HS256 by libjwt (it would accept any token if given no key, so it
 *      always gets one), RS256/ES256 by OpenSSL with the key parsed at
 *      start-up (pkey.c says why);
 *   4. every claim is checked here, from our own parse of the payload.
 * JSON objects with duplicate keys are refused, so that no other parser
 * can read a different alg or claim from the same bytes. */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <jwt.h>

#include "auth/auth_internal.h"

/* NumericDates outside year 0..9999 are refused, which also keeps
 * exp + leeway far from overflow. */
#define MAX_DATE INT64_C(253402300799)

const char *px__auth_result_name(int r) {
  switch (r) {
  case PX_AUTH_OK:
    return "ok";
  case PX_AUTH_MISSING:
    return "token_missing";
  case PX_AUTH_MALFORMED:
    return "token_malformed";
  case PX_AUTH_BAD_ALG:
    return "token_bad_algorithm";
  case PX_AUTH_BAD_SIGNATURE:
    return "token_bad_signature";
  case PX_AUTH_EXPIRED:
    return "token_expired";
  case PX_AUTH_NOT_YET_VALID:
    return "token_not_yet_valid";
  case PX_AUTH_BAD_ISSUER:
    return "token_bad_issuer";
  case PX_AUTH_BAD_AUDIENCE:
    return "token_bad_audience";
  case PX_AUTH_NO_TENANT:
    return "token_no_tenant";
  case PX_AUTH_BAD_TENANT:
    return "token_bad_tenant";
  case PX_AUTH_DISABLED:
    return "auth_disabled";
  default:
    return "unknown";
  }
}

const char *px__auth_bearer(const char *h) {
  if (!h) return NULL;
  while (*h == ' ' || *h == '\t') h++;
  if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
    return NULL;
  h += 6;
  while (*h == ' ' || *h == '\t') h++;
  return h;
}

/* ---- base64url ---------------------------------------------------------- */

static int b64url_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

/* Decodes unpadded base64url (RFC 7515 §2). Returns the decoded length,
 * or -1 for a character outside the alphabet, an impossible length, or
 * non-zero unused bits in the last character: only the canonical spelling
 * is accepted, so that one token cannot be written several ways (which
 * would defeat a deny-list keyed by the token text). */
static long b64url_decode(const char *in, size_t len, unsigned char *out,
                          size_t cap) {
  if (len % 4 == 1 || len / 4 * 3 + 2 > cap) return -1;
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < len; i++) {
    int v = b64url_value((unsigned char)in[i]);
    if (v < 0) return -1;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (unsigned char)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  return acc == 0 ? (long)o : -1;
}

/* Decodes one part and parses it as a JSON object. */
static int part_json(const char *what, const char *p, size_t len,
                     json_t **out, char *err, size_t cap) {
  unsigned char buf[PX_AUTH_MAX_TOKEN];
  long n = b64url_decode(p, len, buf, sizeof buf);
  if (n < 0)
    return fail(err, cap, PX_AUTH_MALFORMED, "token %s is not base64url",
                what);
  json_error_t je;
  json_t *j = json_loadb((const char *)buf, (size_t)n,
                         JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
  if (!j)
    return fail(err, cap, PX_AUTH_MALFORMED, "token %s is not JSON: %s", what,
                je.text);
  if (!json_is_object(j)) {
    json_decref(j);
    return fail(err, cap, PX_AUTH_MALFORMED, "token %s is not a JSON object",
                what);
  }
  *out = j;
  return PX_AUTH_OK;
}

/* ---- the header: choosing the algorithm -------------------------------- */

static int pick_alg(const px_auth *a, json_t *hdr, unsigned *bit, char *err,
                    size_t cap) {
  json_t *alg = json_object_get(hdr, "alg");
  if (!alg)
    return fail(err, cap, PX_AUTH_BAD_ALG, "token header has no alg");
  if (!json_is_string(alg))
    return fail(err, cap, PX_AUTH_BAD_ALG, "token header alg is not a string");
  const char *name = json_string_value(alg);
  if (strcasecmp(name, "none") == 0)
    return fail(err, cap, PX_AUTH_BAD_ALG, "algorithm none is not accepted");
  char accepted[64];
  px__auth_alg_list(a->algs, accepted, sizeof accepted);
  *bit = px__auth_alg_bit(name);
  if (!(*bit & a->algs)) {
    char shown[32];
    /* The name is attacker-chosen: show it only if it is short and plain. */
    bool plain = strlen(name) < sizeof shown;
    for (const char *c = name; plain && *c; c++)
      plain = isalnum((unsigned char)*c);
    snprintf(shown, sizeof shown, "%s", plain ? name : "an unknown algorithm");
    return fail(err, cap, PX_AUTH_BAD_ALG,
                "token signed with %s but this node accepts %s", shown,
                accepted);
  }
  /* RFC 7515 §4.1.11: extensions marked critical that we do not
   * implement (we implement none) make the token invalid. */
  if (json_object_get(hdr, "crit"))
    return fail(err, cap, PX_AUTH_MALFORMED,
                "token header lists critical extensions (crit) this node does "
                "not implement");
  return PX_AUTH_OK;
}

/* `input_len` bytes of the token are the signing input (header.payload). */
static int check_signature(const px_auth *a, const char *token,
                           size_t input_len, unsigned bit, char *err,
                           size_t cap) {
  /* HS256 and ES256 (JOSE R||S) signatures have a fixed size. */
  const char *sig = token + input_len + 1;
  unsigned char raw[PX_AUTH_MAX_TOKEN];
  long n = b64url_decode(sig, strlen(sig), raw, sizeof raw);
  long want_len = bit == PX__AUTH_HS256 ? 32 : bit == PX__AUTH_ES256 ? 64 : n;
  if (n <= 0 || n != want_len)
    return fail(err, cap, PX_AUTH_BAD_SIGNATURE,
                "token signature is not a canonical %s signature",
                px__auth_alg_name(bit));
  bool ok = false;
  if (bit == PX__AUTH_HS256) {
    /* libjwt: HMAC and a constant-time comparison. With no key it would
     * accept any signature, hence the check. */
    jwt_t *j = NULL;
    ok = a->hs_secret && a->hs_len &&
         jwt_decode(&j, token, a->hs_secret, (int)a->hs_len) == 0 && j &&
         jwt_get_alg(j) == JWT_ALG_HS256; /* it re-reads alg: must agree */
    jwt_free(j);
  } else {
    EVP_PKEY *pk = bit == PX__AUTH_RS256 ? a->rs_key : a->es_key;
    ok = pk && px__auth_pkey_verify(pk, bit, token, input_len, raw, (size_t)n);
  }
  if (!ok)
    return fail(err, cap, PX_AUTH_BAD_SIGNATURE,
                "token signature does not verify with this node's %s key",
                px__auth_alg_name(bit));
  return PX_AUTH_OK;
}

/* ---- claims ------------------------------------------------------------- */

/* A NumericDate claim: 0 and *present false when absent. Fractions are
 * allowed by RFC 7519 and truncated. */
static int date_claim(json_t *c, const char *name, bool *present, int64_t *out,
                      char *err, size_t cap) {
  json_t *v = json_object_get(c, name);
  *present = v != NULL;
  if (!v) return PX_AUTH_OK;
  double d;
  if (json_is_integer(v)) {
    json_int_t i = json_integer_value(v);
    if (i < 0 || i > MAX_DATE) goto range;
    *out = (int64_t)i;
    return PX_AUTH_OK;
  }
  if (!json_is_real(v))
    return fail(err, cap, PX_AUTH_MALFORMED, "token %s is not a number", name);
  d = json_real_value(v);
  if (!isfinite(d) || d < 0 || d > (double)MAX_DATE) goto range;
  *out = (int64_t)d;
  return PX_AUTH_OK;
range:
  return fail(err, cap, PX_AUTH_MALFORMED, "token %s is out of range", name);
}

static int check_times(const px_auth *a, json_t *c, int64_t now,
                       px_auth_identity *id, char *err, size_t cap) {
  bool has;
  int64_t t = 0;
  int rc = date_claim(c, "exp", &has, &t, err, cap);
  if (rc) return rc;
  if (!has)
    return fail(err, cap, PX_AUTH_EXPIRED,
                "token has no exp; this node accepts only tokens that expire");
  if (now >= t + a->leeway)
    return fail(err, cap, PX_AUTH_EXPIRED, "token expired %" PRId64 " s ago",
                now - t);
  id->expires_at = t;
  rc = date_claim(c, "nbf", &has, &t, err, cap);
  if (rc) return rc;
  if (has && now + a->leeway < t)
    return fail(err, cap, PX_AUTH_NOT_YET_VALID,
                "token is not valid for another %" PRId64 " s", t - now);
  rc = date_claim(c, "iat", &has, &t, err, cap);
  if (rc) return rc;
  if (has && t > now + a->leeway)
    return fail(err, cap, PX_AUTH_NOT_YET_VALID,
                "token was issued %" PRId64 " s in the future", t - now);
  return PX_AUTH_OK;
}

static bool str_is(json_t *v, const char *want) {
  return json_is_string(v) && strcmp(json_string_value(v), want) == 0 &&
         json_string_length(v) == strlen(want);
}

static int check_iss_aud(const px_auth *a, json_t *c, char *err, size_t cap) {
  if (a->issuer && !str_is(json_object_get(c, "iss"), a->issuer))
    return fail(err, cap, PX_AUTH_BAD_ISSUER,
                "token issuer is not \"%s\", the issuer this node trusts",
                a->issuer);
  if (!a->audience) return PX_AUTH_OK;
  json_t *aud = json_object_get(c, "aud");
  bool ok = str_is(aud, a->audience);
  if (json_is_array(aud)) {
    size_t i;
    json_t *item;
    json_array_foreach(aud, i, item) ok = ok || str_is(item, a->audience);
  }
  if (!ok)
    return fail(err, cap, PX_AUTH_BAD_AUDIENCE,
                "token audience does not include \"%s\"", a->audience);
  return PX_AUTH_OK;
}

static int check_identity(const px_auth *a, json_t *c, px_auth_identity *id,
                          char *err, size_t cap) {
  json_t *t = json_object_get(c, a->tenant_claim);
  if (!t || json_is_null(t))
    return fail(err, cap, PX_AUTH_NO_TENANT, "token has no %s claim",
                a->tenant_claim);
  if (!json_is_string(t) ||
      !px__auth_tenant_ok(json_string_value(t), json_string_length(t)))
    return fail(err, cap, PX_AUTH_BAD_TENANT,
                "token %s must be 1 to 127 characters of A-Z a-z 0-9 _ . -",
                a->tenant_claim);
  memcpy(id->tenant, json_string_value(t), json_string_length(t) + 1);

  json_t *sub = json_object_get(c, "sub");
  if (sub) {
    if (!json_is_string(sub) || json_string_length(sub) >= sizeof id->subject ||
        strlen(json_string_value(sub)) != json_string_length(sub))
      return fail(err, cap, PX_AUTH_MALFORMED,
                  "token sub must be a string of at most 127 bytes");
    memcpy(id->subject, json_string_value(sub), json_string_length(sub) + 1);
  }

  json_t *roles = json_object_get(c, "roles");
  if (roles) {
    if (!json_is_array(roles) || json_array_size(roles) > PX_AUTH_MAX_ROLES)
      return fail(err, cap, PX_AUTH_MALFORMED,
                  "token roles must be an array of at most %d strings",
                  PX_AUTH_MAX_ROLES);
    size_t i;
    json_t *r;
    json_array_foreach(roles, i, r) {
      if (!json_is_string(r) ||
          !px__auth_role_name_ok(json_string_value(r), json_string_length(r)))
        return fail(err, cap, PX_AUTH_MALFORMED,
                    "token roles[%zu] must be a role name of 1 to 63 "
                    "characters without spaces or quotes",
                    i);
      memcpy(id->roles[i], json_string_value(r), json_string_length(r) + 1);
    }
    id->nroles = json_array_size(roles);
  }

  json_t *adm = json_object_get(c, "is_admin");
  if (adm && !json_is_boolean(adm))
    return fail(err, cap, PX_AUTH_MALFORMED,
                "token is_admin must be a boolean");
  id->admin = json_is_true(adm);
  return PX_AUTH_OK;
}

/* ---- the whole check ---------------------------------------------------- */

/* Splits the token at its two dots; refuses anything outside the
 * base64url alphabet and the dots. */
static int split(const char *tok, size_t len, size_t *d1, size_t *d2,
                 char *err, size_t cap) {
  size_t dots = 0;
  for (size_t i = 0; i < len; i++) {
    if (tok[i] == '.') {
      if (dots == 0) *d1 = i;
      if (dots == 1) *d2 = i;
      dots++;
    } else if (b64url_value((unsigned char)tok[i]) < 0) {
      return fail(err, cap, PX_AUTH_MALFORMED,
                  "token has a character outside base64url at byte %zu", i);
    }
  }
  if (dots != 2)
    return fail(err, cap, PX_AUTH_MALFORMED,
                "token must have three dot-separated parts, it has %zu",
                dots + 1);
  if (*d1 == 0 || *d2 == *d1 + 1)
    return fail(err, cap, PX_AUTH_MALFORMED,
                "token header or payload is empty");
  return PX_AUTH_OK;
}

int px__auth_verify_at(const px_auth *a, const char *token, int64_t now,
                       px_auth_identity *out, char *err, size_t cap) {
  if (err && cap) err[0] = '\0';
  if (!px__auth_enabled(a))
    return fail(err, cap, PX_AUTH_DISABLED,
                "authentication is disabled on this node");
  if (!out) return fail(err, cap, PX_AUTH_MISSING, "no identity to fill");
  memset(out, 0, sizeof *out);
  /* Keeps now + leeway from overflowing for any caller-given clock. */
  if (now < 0) now = 0;
  if (now > MAX_DATE) now = MAX_DATE;
  if (!token || !*token)
    return fail(err, cap, PX_AUTH_MISSING, "no bearer token given");
  size_t len = strnlen(token, PX_AUTH_MAX_TOKEN + 1);
  if (len > PX_AUTH_MAX_TOKEN)
    return fail(err, cap, PX_AUTH_MALFORMED,
                "token is longer than %d bytes", PX_AUTH_MAX_TOKEN);
  size_t d1 = 0, d2 = 0;
  int rc = split(token, len, &d1, &d2, err, cap);
  if (rc) return rc;

  json_t *hdr = NULL, *claims = NULL;
  unsigned bit = 0;
  rc = part_json("header", token, d1, &hdr, err, cap);
  if (rc == 0) rc = pick_alg(a, hdr, &bit, err, cap);
  if (rc == 0 && d2 + 1 == len)
    rc = fail(err, cap, PX_AUTH_BAD_SIGNATURE, "token has no signature");
  if (rc == 0)
    rc = part_json("payload", token + d1 + 1, d2 - d1 - 1, &claims, err, cap);
  if (rc == 0) rc = check_signature(a, token, d2, bit, err, cap);
  if (rc == 0) rc = check_times(a, claims, now, out, err, cap);
  if (rc == 0) rc = check_iss_aud(a, claims, err, cap);
  if (rc == 0) rc = check_identity(a, claims, out, err, cap);
  json_decref(hdr);
  json_decref(claims);
  if (rc) memset(out, 0, sizeof *out);
  return rc;
}

int px__auth_verify(const px_auth *a, const char *token,
                    px_auth_identity *out, char *err, size_t cap) {
  return px__auth_verify_at(a, token, (int64_t)time(NULL), out, err, cap);
}
