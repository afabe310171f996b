/* Tests for JWT verification, the [auth] configuration and the token
 * minter. Every signed token comes from an independent implementation
 * (PyJWT + cryptography, run at test time with fresh keys); tokens that
 * PyJWT will not make (alg none, key confusion, malformed) are built by
 * hand. The minter is checked the other way round: PyJWT must accept what
 * it makes. */
#include <pthread.h>

#include "auth_test.h"

TestSuite(jwt, .init = auth_setup, .fini = auth_teardown);

#define HS "mode = \"jwt\"\nhs256_secret_env = \"" TEST_SECRET_ENV "\"\n"
#define RS "mode = \"jwt\"\nrs256_public_key = \"rsa_pub.pem\"\n"
#define ES "mode = \"jwt\"\nes256_public_key = \"ec_pub.pem\"\n"
#define HSKEY "hs:" TEST_SECRET

/* Claims valid at NOW: tenant acme, exp NOW+300, plus `extra` members. */
static const char *claims(const char *extra) {
  static char buf[TOKCAP];
  snprintf(buf, sizeof buf,
           "{\"tenant_id\":\"acme\",\"sub\":\"ann\",\"exp\":%lld%s%s}",
           (long long)(NOW + 300), *extra ? "," : "", extra);
  return buf;
}

/* claims() reuses its buffer: keep a result with this. */
static void copy(char *dst, size_t cap, const char *src) {
  int n = snprintf(dst, cap, "%s", src);
  cr_assert(n >= 0 && (size_t)n < cap, "copy does not fit");
}

static void expect(const px_auth *a, const char *tok, int64_t now, int want,
                   const char *needle) {
  px_auth_identity id;
  char err[256] = "";
  int rc = px__auth_verify_at(a, tok, now, &id, err, sizeof err);
  cr_assert_eq(rc, want, "got %s (%s), want %s", px__auth_result_name(rc),
               err, px__auth_result_name(want));
  if (needle)
    cr_assert(strstr(err, needle), "message '%s' lacks '%s'", err, needle);
  if (want != PX_AUTH_OK) cr_assert_str_eq(id.tenant, "");
}

static void expect_ok(const px_auth *a, const char *tok) {
  expect(a, tok, NOW, PX_AUTH_OK, NULL);
}

/* ---- valid tokens ------------------------------------------------------- */

Test(jwt, hs256_valid_against_the_real_clock) {
  char c[512];
  long long now = (long long)time(NULL);
  snprintf(c, sizeof c,
           "{\"tenant_id\":\"acme\",\"sub\":\"ann\",\"roles\":[\"reader\","
           "\"developer\"],\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld}",
           now, now, now + 600);
  const char *tok = mint1("HS256", HSKEY, c, "");
  px_auth *a = auth_of(HS);
  cr_assert(px__auth_enabled(a));
  px_auth_identity id;
  char err[256];
  int rc = px__auth_verify(a, tok, &id, err, sizeof err);
  cr_assert_eq(rc, PX_AUTH_OK, "%s", err);
  cr_assert_str_eq(id.tenant, "acme");
  cr_assert_str_eq(id.subject, "ann");
  cr_assert_eq(id.nroles, 2);
  cr_assert_str_eq(id.roles[0], "reader");
  cr_assert_str_eq(id.roles[1], "developer");
  cr_assert_not(id.admin);
  cr_assert_eq(id.expires_at, now + 600);
  px__auth_free(a);
}

Test(jwt, rs256_and_es256_valid) {
  char l0[4096], l1[4096];
  const char *specs[] = {spec(l0, sizeof l0, "RS256", "rsa", claims(""), ""),
                         spec(l1, sizeof l1, "ES256", "ec", claims(""), "")};
  char tok[2][TOKCAP];
  mint_py(specs, 2, tok);
  px_auth *rs = auth_of(RS), *es = auth_of(ES);
  expect_ok(rs, tok[0]);
  expect_ok(es, tok[1]); /* JOSE R||S signature, 64 bytes */
  /* Each key only verifies its own algorithm. */
  expect(rs, tok[1], NOW, PX_AUTH_BAD_ALG, "accepts RS256");
  expect(es, tok[0], NOW, PX_AUTH_BAD_ALG, "accepts ES256");
  px__auth_free(rs);
  px__auth_free(es);
}

Test(jwt, all_three_algorithms_and_an_allow_list) {
  char l[3][4096];
  const char *specs[] = {
      spec(l[0], sizeof l[0], "HS256", HSKEY, claims(""), ""),
      spec(l[1], sizeof l[1], "RS256", "rsa", claims(""), ""),
      spec(l[2], sizeof l[2], "ES256", "ec", claims(""), "")};
  char tok[3][TOKCAP];
  mint_py(specs, 3, tok);
  const char *keys = "hs256_secret_env = \"" TEST_SECRET_ENV "\"\n"
                     "rs256_public_key = \"rsa_pub.pem\"\n"
                     "es256_public_key = \"ec_pub.pem\"\n";
  char cfg[1024];
  snprintf(cfg, sizeof cfg, "mode = \"jwt\"\n%s", keys);
  px_auth *all = auth_of(cfg);
  for (int i = 0; i < 3; i++) expect_ok(all, tok[i]);
  px__auth_free(all);
  snprintf(cfg, sizeof cfg, "mode = \"jwt\"\n%salgorithms = [\"RS256\"]\n",
           keys);
  px_auth *only = auth_of(cfg);
  expect(only, tok[0], NOW, PX_AUTH_BAD_ALG,
         "token signed with HS256 but this node accepts RS256");
  expect_ok(only, tok[1]);
  expect(only, tok[2], NOW, PX_AUTH_BAD_ALG, "signed with ES256");
  px__auth_free(only);
}

/* ---- time claims -------------------------------------------------------- */

Test(jwt, expired_and_missing_exp) {
  char l[4][4096], c[256];
  snprintf(c, sizeof c, "{\"tenant_id\":\"acme\",\"exp\":%lld}",
           (long long)(NOW - 100));
  const char *specs[] = {
      spec(l[0], sizeof l[0], "HS256", HSKEY, c, ""),
      spec(l[1], sizeof l[1], "HS256", HSKEY, "{\"tenant_id\":\"acme\"}", ""),
      spec(l[2], sizeof l[2], "HS256", HSKEY,
           "{\"tenant_id\":\"acme\",\"exp\":\"tomorrow\"}", ""),
      spec(l[3], sizeof l[3], "HS256", HSKEY,
           "{\"tenant_id\":\"acme\",\"exp\":1e300}", "")};
  char tok[4][TOKCAP];
  mint_py(specs, 4, tok);
  px_auth *a = auth_of(HS);
  expect(a, tok[0], NOW, PX_AUTH_EXPIRED, "token expired 100 s ago");
  expect(a, tok[1], NOW, PX_AUTH_EXPIRED, "no exp");
  expect(a, tok[2], NOW, PX_AUTH_MALFORMED, "exp is not a number");
  expect(a, tok[3], NOW, PX_AUTH_MALFORMED, "exp is out of range");
  px__auth_free(a);
}

/* exp, nbf and iat each exactly at and one second past the leeway. */
Test(jwt, leeway_boundaries) {
  char l[3][4096], c[3][256];
  snprintf(c[0], sizeof c[0], "{\"tenant_id\":\"t\",\"exp\":%lld}",
           (long long)NOW);
  snprintf(c[1], sizeof c[1],
           "{\"tenant_id\":\"t\",\"exp\":%lld,\"nbf\":%lld}",
           (long long)NOW + 999, (long long)NOW + 30);
  snprintf(c[2], sizeof c[2],
           "{\"tenant_id\":\"t\",\"exp\":%lld,\"iat\":%lld}",
           (long long)NOW + 999, (long long)NOW + 30);
  const char *specs[3];
  for (int i = 0; i < 3; i++)
    specs[i] = spec(l[i], sizeof l[i], "HS256", HSKEY, c[i], "");
  char tok[3][TOKCAP];
  mint_py(specs, 3, tok);
  px_auth *a = auth_of(HS "leeway_seconds = 30\n");
  expect(a, tok[0], NOW + 29, PX_AUTH_OK, NULL);
  expect(a, tok[0], NOW + 30, PX_AUTH_EXPIRED, "expired 30 s ago");
  expect(a, tok[1], NOW, PX_AUTH_OK, NULL);
  expect(a, tok[1], NOW - 1, PX_AUTH_NOT_YET_VALID,
         "not valid for another 31 s");
  expect(a, tok[2], NOW, PX_AUTH_OK, NULL);
  expect(a, tok[2], NOW - 1, PX_AUTH_NOT_YET_VALID,
         "issued 31 s in the future");
  px__auth_free(a);
  px_auth *strict = auth_of(HS "leeway_seconds = 0\n");
  expect(strict, tok[0], NOW - 1, PX_AUTH_OK, NULL);
  expect(strict, tok[0], NOW, PX_AUTH_EXPIRED, "expired 0 s ago");
  expect(strict, tok[1], NOW + 29, PX_AUTH_NOT_YET_VALID, NULL);
  expect(strict, tok[1], NOW + 30, PX_AUTH_OK, NULL);
  /* Any clock a caller passes is safe (no overflow under UBSan). */
  expect(strict, tok[0], INT64_MAX, PX_AUTH_EXPIRED, NULL);
  expect(strict, tok[1], INT64_MIN, PX_AUTH_NOT_YET_VALID, NULL);
  px__auth_free(strict);
}

Test(jwt, fractional_dates_are_accepted) {
  char c[256];
  snprintf(c, sizeof c, "{\"tenant_id\":\"t\",\"exp\":%lld.5,\"iat\":%lld.25}",
           (long long)NOW + 10, (long long)NOW);
  px_auth *a = auth_of(HS "leeway_seconds = 0\n");
  const char *tok = mint1("HS256", HSKEY, c, "");
  expect(a, tok, NOW + 9, PX_AUTH_OK, NULL);
  expect(a, tok, NOW + 10, PX_AUTH_EXPIRED, NULL);
  px__auth_free(a);
}

/* ---- issuer and audience ------------------------------------------------ */

Test(jwt, issuer) {
  char l[3][4096];
  const char *specs[] = {
      spec(l[0], sizeof l[0], "HS256", HSKEY, claims("\"iss\":\"idp\""), ""),
      spec(l[1], sizeof l[1], "HS256", HSKEY, claims("\"iss\":\"evil\""), ""),
      spec(l[2], sizeof l[2], "HS256", HSKEY, claims(""), "")};
  char tok[3][TOKCAP];
  mint_py(specs, 3, tok);
  px_auth *a = auth_of(HS "issuer = \"idp\"\n");
  expect_ok(a, tok[0]);
  expect(a, tok[1], NOW, PX_AUTH_BAD_ISSUER, "\"idp\"");
  expect(a, tok[2], NOW, PX_AUTH_BAD_ISSUER, NULL);
  px__auth_free(a);
  /* Without an issuer configured, iss is not checked. */
  px_auth *any = auth_of(HS);
  expect_ok(any, tok[1]);
  px__auth_free(any);
}

Test(jwt, audience_string_and_array) {
  char l[5][4096], keep[5][512];
  copy(keep[0], sizeof keep[0], claims("\"aud\":\"node\""));
  copy(keep[1], sizeof keep[1], claims("\"aud\":\"other\""));
  copy(keep[2], sizeof keep[2], claims("\"aud\":[\"x\",\"node\"]"));
  copy(keep[3], sizeof keep[3], claims("\"aud\":[\"x\",\"y\"]"));
  copy(keep[4], sizeof keep[4], claims(""));
  const char *specs[5];
  for (int i = 0; i < 5; i++)
    specs[i] = spec(l[i], sizeof l[i], "HS256", HSKEY, keep[i], "");
  char tok[5][TOKCAP];
  mint_py(specs, 5, tok);
  px_auth *a = auth_of(HS "audience = \"node\"\n");
  expect_ok(a, tok[0]);
  expect(a, tok[1], NOW, PX_AUTH_BAD_AUDIENCE, "does not include \"node\"");
  expect_ok(a, tok[2]);
  expect(a, tok[3], NOW, PX_AUTH_BAD_AUDIENCE, NULL);
  expect(a, tok[4], NOW, PX_AUTH_BAD_AUDIENCE, NULL);
  px__auth_free(a);
}

/* ---- algorithm attacks -------------------------------------------------- */

Test(jwt, alg_none_is_refused) {
  make_keys("rsa");
  px_auth *a = auth_of(HS "rs256_public_key = \"rsa_pub.pem\"\n");
  const char *c = claims("");
  expect(a, hand_token("{\"alg\":\"none\",\"typ\":\"JWT\"}", c, ""), NOW,
         PX_AUTH_BAD_ALG, "algorithm none is not accepted");
  expect(a, hand_token("{\"alg\":\"None\"}", c, ""), NOW, PX_AUTH_BAD_ALG,
         "algorithm none is not accepted");
  expect(a, hand_token("{\"alg\":\"none\"}", c, "AAAA"), NOW,
         PX_AUTH_BAD_ALG, "none");
  expect(a, hand_token("{\"typ\":\"JWT\"}", c, "AAAA"), NOW, PX_AUTH_BAD_ALG,
         "no alg");
  expect(a, hand_token("{\"alg\":256}", c, "AAAA"), NOW, PX_AUTH_BAD_ALG,
         "not a string");
  expect(a, hand_token("{\"alg\":\"HS512\"}", c, "AAAA"), NOW,
         PX_AUTH_BAD_ALG,
         "signed with HS512 but this node accepts HS256, RS256");
  /* Duplicate keys could let another parser read a different alg. */
  expect(a, hand_token("{\"alg\":\"HS256\",\"alg\":\"none\"}", c, "AAAA"),
         NOW, PX_AUTH_MALFORMED, "duplicate");
  expect(a, hand_token("{\"alg\":\"HS256\",\"crit\":[\"b64\"]}", c, "AAAA"),
         NOW, PX_AUTH_MALFORMED, "crit");
  /* A signed alg without a signature. */
  expect(a, hand_token("{\"alg\":\"HS256\"}", c, ""), NOW,
         PX_AUTH_BAD_SIGNATURE, "no signature");
  px__auth_free(a);
}

Test(jwt, hs256_token_on_an_rs256_node_and_back) {
  char l[2][4096];
  const char *specs[] = {
      spec(l[0], sizeof l[0], "HS256", HSKEY, claims(""), ""),
      spec(l[1], sizeof l[1], "RS256", "rsa", claims(""), "")};
  char tok[2][TOKCAP];
  mint_py(specs, 2, tok);
  px_auth *rs = auth_of(RS), *hs = auth_of(HS);
  expect(rs, tok[0], NOW, PX_AUTH_BAD_ALG,
         "token signed with HS256 but this node accepts RS256");
  expect(hs, tok[1], NOW, PX_AUTH_BAD_ALG,
         "token signed with RS256 but this node accepts HS256");
  px__auth_free(rs);
  px__auth_free(hs);
}

/* The classic attack: the RSA public key is public, so an attacker signs
 * an HS256 token with it as the HMAC secret, hoping the verifier feeds its
 * "key" to whatever alg the token names. */
Test(jwt, key_confusion_is_refused) {
  const char *tok = mint1("HS256", "rsapub-hmac", claims(""), "");
  px_auth *rs = auth_of(RS);
  expect(rs, tok, NOW, PX_AUTH_BAD_ALG, "signed with HS256");
  px__auth_free(rs);
  /* Also when HS256 is accepted: only the HS256 secret is ever used. */
  px_auth *both = auth_of(HS "rs256_public_key = \"rsa_pub.pem\"\n");
  expect(both, tok, NOW, PX_AUTH_BAD_SIGNATURE, NULL);
  px__auth_free(both);
}

Test(jwt, bad_signatures) {
  char l[4][4096];
  const char *specs[] = {
      spec(l[0], sizeof l[0], "RS256", "rsa2", claims(""), ""),
      spec(l[1], sizeof l[1], "ES256", "ec2", claims(""), ""),
      spec(l[2], sizeof l[2], "HS256", "hs:another-secret-of-32-bytes-or-more!",
           claims(""), ""),
      spec(l[3], sizeof l[3], "HS256", HSKEY, claims(""), "")};
  char tok[4][TOKCAP];
  make_keys("rsa ec");
  mint_py(specs, 4, tok);
  px_auth *a = auth_of(HS "rs256_public_key = \"rsa_pub.pem\"\n"
                          "es256_public_key = \"ec_pub.pem\"\n");
  expect(a, tok[0], NOW, PX_AUTH_BAD_SIGNATURE, "RS256 key");
  expect(a, tok[1], NOW, PX_AUTH_BAD_SIGNATURE, "ES256 key");
  expect(a, tok[2], NOW, PX_AUTH_BAD_SIGNATURE, "HS256 key");
  expect_ok(a, tok[3]);
  /* Flip one signature character, then one payload character. */
  char *t = tok[3];
  char *sig = strrchr(t, '.') + 1;
  sig[3] = sig[3] == 'A' ? 'B' : 'A';
  expect(a, t, NOW, PX_AUTH_BAD_SIGNATURE, NULL);
  mint_py(&specs[3], 1, tok); /* a fresh, untampered copy */
  char *payload = strchr(tok[0], '.') + 1;
  payload[5] = payload[5] == 'A' ? 'B' : 'A';
  int rc = px__auth_verify_at(a, tok[0], NOW, &(px_auth_identity){0}, NULL, 0);
  cr_assert(rc == PX_AUTH_BAD_SIGNATURE || rc == PX_AUTH_MALFORMED,
            "tampered payload: %s", px__auth_result_name(rc));
  px__auth_free(a);
}

/* ---- malformed input ---------------------------------------------------- */

Test(jwt, malformed_tokens) {
  px_auth *a = auth_of(HS);
  const char *good = mint1("HS256", HSKEY, claims(""), "");
  expect_ok(a, good);
  expect(a, NULL, NOW, PX_AUTH_MISSING, "no bearer token");
  expect(a, "", NOW, PX_AUTH_MISSING, NULL);
  expect(a, "abc.def", NOW, PX_AUTH_MALFORMED, "three");
  expect(a, "a.b.c.d", NOW, PX_AUTH_MALFORMED, "three");
  expect(a, "..", NOW, PX_AUTH_MALFORMED, "empty");
  expect(a, "ab$c.def.ghi", NOW, PX_AUTH_MALFORMED, "base64url at byte 2");
  expect(a, "abc=.def.ghi", NOW, PX_AUTH_MALFORMED, "base64url");
  expect(a, "a.b.c", NOW, PX_AUTH_MALFORMED, "not base64url");
  expect(a, hand_token("{\"alg\":", "{}", "AAAA"), NOW, PX_AUTH_MALFORMED,
         "header is not JSON");
  expect(a, hand_token("[\"HS256\"]", "{}", "AAAA"), NOW, PX_AUTH_MALFORMED,
         "not a JSON object");
  expect(a, hand_token("{\"alg\":\"HS256\"}", "{\"exp\":", "AAAA"), NOW,
         PX_AUTH_MALFORMED, "payload is not JSON");
  expect(a, hand_token("{\"alg\":\"HS256\"}", "42", "AAAA"), NOW,
         PX_AUTH_MALFORMED, "payload is not a JSON object");
  /* 9 KiB: a valid token padded with an extra claim. */
  char big[9300];
  memset(big, 'x', 9000);
  big[9000] = '\0';
  char c[9400];
  snprintf(c, sizeof c, "\"pad\":\"%s\"", big);
  const char *huge = mint1("HS256", HSKEY, claims(c), "");
  cr_assert_gt(strlen(huge), 9 * 1024);
  expect(a, huge, NOW, PX_AUTH_MALFORMED, "longer than 8192 bytes");
  px__auth_free(a);
}

/* Every single-character change to a valid token must be refused: in the
 * header or payload it changes the signed bytes, in the signature it
 * changes the signature or makes its spelling non-canonical. */
Test(jwt, every_one_character_change_is_refused) {
  char l[3][4096];
  const char *specs[] = {
      spec(l[0], sizeof l[0], "HS256", HSKEY, claims(""), ""),
      spec(l[1], sizeof l[1], "RS256", "rsa", claims(""), ""),
      spec(l[2], sizeof l[2], "ES256", "ec", claims(""), "")};
  char tok[3][TOKCAP];
  mint_py(specs, 3, tok);
  px_auth *a = auth_of(HS "rs256_public_key = \"rsa_pub.pem\"\n"
                          "es256_public_key = \"ec_pub.pem\"\n");
  for (int t = 0; t < 3; t++) {
    expect_ok(a, tok[t]);
    size_t len = strlen(tok[t]);
    for (size_t i = 0; i < len; i++) {
      char keep = tok[t][i];
      /* 'B' and 'A' differ in the lowest bit, the one a lax decoder of the
       * last character would ignore. */
      tok[t][i] = keep == 'A' ? 'B' : 'A';
      px_auth_identity id;
      int rc = px__auth_verify_at(a, tok[t], NOW, &id, NULL, 0);
      cr_assert_neq(rc, PX_AUTH_OK, "alg %d: change at %zu accepted", t, i);
      tok[t][i] = keep;
    }
    /* The last character carries unused low bits: setting one keeps the
     * decoded signature the same for a lax decoder, so only the canonical
     * check refuses it. */
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char keep = tok[t][len - 1];
    tok[t][len - 1] = b64[(strchr(b64, keep) - b64) ^ 1];
    char err[256] = "";
    int rc = px__auth_verify_at(a, tok[t], NOW, &(px_auth_identity){0}, err,
                                sizeof err);
    cr_assert_eq(rc, PX_AUTH_BAD_SIGNATURE, "alg %d: %s", t, err);
    cr_assert(strstr(err, "canonical"), "alg %d: %s", t, err);
    tok[t][len - 1] = keep;
    /* Dropping the last character also fails. */
    tok[t][len - 1] = '\0';
    cr_assert_neq(px__auth_verify_at(a, tok[t], NOW, &(px_auth_identity){0},
                                     NULL, 0),
                  PX_AUTH_OK);
  }
  px__auth_free(a);
}

/* Random text from the token alphabet, with dots: never accepted, never
 * a crash (the sanitizer builds run this too). */
Test(jwt, random_input_is_refused) {
  px_auth *a = auth_of(HS);
  static const char alpha[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_..";
  unsigned seed = 12345;
  char buf[600];
  for (int n = 0; n < 3000; n++) {
    size_t len = (size_t)(rand_r(&seed) % (sizeof buf - 1));
    for (size_t i = 0; i < len; i++)
      buf[i] = alpha[rand_r(&seed) % (sizeof alpha - 1)];
    buf[len] = '\0';
    char err[256];
    px_auth_identity id;
    int rc = px__auth_verify_at(a, buf, NOW, &id, err, sizeof err);
    cr_assert_neq(rc, PX_AUTH_OK, "accepted random token %s", buf);
    cr_assert(err[0] != '\0', "no message for %s", buf);
  }
  px__auth_free(a);
}

/* ---- identity claims ---------------------------------------------------- */

Test(jwt, tenant_claim_rules) {
  char l[7][4096];
  char long_ok[200], long_bad[200];
  memset(long_ok, 't', 127);
  long_ok[127] = '\0';
  memset(long_bad, 't', 128);
  long_bad[128] = '\0';
  char c5[512], c6[512];
  snprintf(c5, sizeof c5, "{\"tenant_id\":\"%s\",\"exp\":%lld}", long_ok,
           (long long)NOW + 60);
  snprintf(c6, sizeof c6, "{\"tenant_id\":\"%s\",\"exp\":%lld}", long_bad,
           (long long)NOW + 60);
  char c[5][256];
  const char *vals[] = {NULL, "\"\"", "\"a/b\"", "42", "\"acme.eu-1_x\""};
  for (int i = 0; i < 5; i++) {
    if (vals[i])
      snprintf(c[i], sizeof c[i], "{\"tenant_id\":%s,\"exp\":%lld}", vals[i],
               (long long)NOW + 60);
    else
      snprintf(c[i], sizeof c[i], "{\"exp\":%lld}", (long long)NOW + 60);
  }
  const char *specs[7];
  for (int i = 0; i < 5; i++)
    specs[i] = spec(l[i], sizeof l[i], "HS256", HSKEY, c[i], "");
  specs[5] = spec(l[5], sizeof l[5], "HS256", HSKEY, c5, "");
  specs[6] = spec(l[6], sizeof l[6], "HS256", HSKEY, c6, "");
  char tok[7][TOKCAP];
  mint_py(specs, 7, tok);
  px_auth *a = auth_of(HS);
  expect(a, tok[0], NOW, PX_AUTH_NO_TENANT, "no tenant_id claim");
  expect(a, tok[1], NOW, PX_AUTH_BAD_TENANT, "1 to 127 characters");
  expect(a, tok[2], NOW, PX_AUTH_BAD_TENANT, NULL);
  expect(a, tok[3], NOW, PX_AUTH_BAD_TENANT, NULL);
  px_auth_identity id;
  cr_assert_eq(px__auth_verify_at(a, tok[4], NOW, &id, NULL, 0), PX_AUTH_OK);
  cr_assert_str_eq(id.tenant, "acme.eu-1_x");
  cr_assert_eq(px__auth_verify_at(a, tok[5], NOW, &id, NULL, 0), PX_AUTH_OK);
  cr_assert_eq(strlen(id.tenant), 127);
  expect(a, tok[6], NOW, PX_AUTH_BAD_TENANT, NULL);
  px__auth_free(a);
}

Test(jwt, custom_tenant_claim) {
  char c[256];
  snprintf(c, sizeof c, "{\"org\":\"globex\",\"tenant_id\":\"acme\","
                        "\"exp\":%lld}",
           (long long)NOW + 60);
  const char *tok = mint1("HS256", HSKEY, c, "");
  px_auth *a = auth_of(HS "tenant_claim = \"org\"\n");
  px_auth_identity id;
  cr_assert_eq(px__auth_verify_at(a, tok, NOW, &id, NULL, 0), PX_AUTH_OK);
  cr_assert_str_eq(id.tenant, "globex");
  px__auth_free(a);
}

Test(jwt, roles_sub_and_admin_claims) {
  char l[7][4096], c[7][1024];
  char many[512] = "\"roles\":[";
  for (int i = 0; i < 17; i++)
    snprintf(many + strlen(many), sizeof many - strlen(many), "%s\"r%d\"",
             i ? "," : "", i);
  strcat(many, "]");
  const char *extra[] = {
      "\"roles\":[\"a\",\"b\",\"c\"],\"is_admin\":true", many,
      "\"roles\":[\"a\",7]", "\"roles\":\"admin\"", "\"is_admin\":\"true\"",
      "\"roles\":[\"has space\"]", "\"sub\":{\"id\":1}"};
  const char *specs[7];
  for (int i = 0; i < 7; i++) {
    copy(c[i], sizeof c[i], claims(extra[i]));
    specs[i] = spec(l[i], sizeof l[i], "HS256", HSKEY, c[i], "");
  }
  char tok[7][TOKCAP];
  mint_py(specs, 7, tok);
  px_auth *a = auth_of(HS);
  px_auth_identity id;
  cr_assert_eq(px__auth_verify_at(a, tok[0], NOW, &id, NULL, 0), PX_AUTH_OK);
  cr_assert_eq(id.nroles, 3);
  cr_assert_str_eq(id.roles[2], "c");
  cr_assert(id.admin);
  expect(a, tok[1], NOW, PX_AUTH_MALFORMED, "at most 16");
  expect(a, tok[2], NOW, PX_AUTH_MALFORMED, "roles[1]");
  expect(a, tok[3], NOW, PX_AUTH_MALFORMED, "array");
  expect(a, tok[4], NOW, PX_AUTH_MALFORMED, "is_admin must be a boolean");
  expect(a, tok[5], NOW, PX_AUTH_MALFORMED, "roles[0]");
  expect(a, tok[6], NOW, PX_AUTH_MALFORMED, "sub");
  px__auth_free(a);
}

/* ---- configuration ------------------------------------------------------ */

Test(jwt, literal_secret_in_config_is_refused) {
  config_bad("mode = \"jwt\"\nsecret = \"" TEST_SECRET "\"\n",
             "auth.secret: a secret must not be written in the config file");
  config_bad("mode = \"jwt\"\nhs256_secret = \"x\"\n", "environment variable");
  config_bad("mode = \"none\"\njwt_secret = \"x\"\n", "auth.jwt_secret");
}

Test(jwt, secret_environment_variable) {
  unsetenv("PLEXSPACES_JWT_SECRET");
  config_bad("mode = \"jwt\"\nhs256_secret_env = \"PLEXSPACES_JWT_SECRET\"\n",
             "auth.hs256_secret_env: environment variable "
             "PLEXSPACES_JWT_SECRET is not set");
  setenv("PLEXSPACES_JWT_SECRET", "short", 1);
  config_bad("mode = \"jwt\"\nhs256_secret_env = \"PLEXSPACES_JWT_SECRET\"\n",
             "is 5 bytes; HS256 needs at least 32");
  config_bad("mode = \"jwt\"\nhs256_secret_env = \"" TEST_SECRET "\"\n",
             "is not an environment variable name");
}

Test(jwt, config_errors_name_the_key) {
  make_keys("rsa rsa1024 ec ec384");
  config_bad("mode = \"jwt\"\n", "auth.mode: mode \"jwt\" needs a key");
  config_bad("mode = \"ldap\"\n", "auth.mode: \"ldap\" is not");
  config_bad("issuer = \"x\"\n", "auth.mode: missing");
  config_bad(HS "audiance = \"x\"\n", "auth.audiance: unknown key");
  config_bad(HS "issuer = 7\n", "auth.issuer: must be a string");
  config_bad(HS "issuer = \"\"\n", "auth.issuer: must not be empty");
  config_bad(HS "leeway_seconds = -1\n", "auth.leeway_seconds");
  config_bad(HS "leeway_seconds = 99999\n", "auth.leeway_seconds");
  config_bad(HS "algorithms = [\"RS256\"]\n",
             "auth.algorithms: RS256 is listed but no key");
  config_bad(HS "algorithms = [\"none\"]\n", "auth.algorithms");
  config_bad(HS "algorithms = []\n", "auth.algorithms");
  config_bad(HS "tenant_claim = \"a b\"\n", "auth.tenant_claim");
  config_bad("mode = \"jwt\"\nrs256_public_key = \"nope.pem\"\n",
             "auth.rs256_public_key: cannot read");
  config_bad("mode = \"jwt\"\nrs256_public_key = \"rsa.key\"\n",
             "holds a private key");
  config_bad("mode = \"jwt\"\nrs256_public_key = \"rsa1024_pub.pem\"\n",
             "1024-bit RSA key");
  config_bad("mode = \"jwt\"\nrs256_public_key = \"ec_pub.pem\"\n",
             "not an RSA key");
  config_bad("mode = \"jwt\"\nes256_public_key = \"ec384_pub.pem\"\n",
             "not an EC P-256 key");
  config_bad("mode = \"jwt\"\nes256_public_key = \"rsa_pub.pem\"\n",
             "not an EC P-256 key");
  write_text("junk.pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n");
  config_bad("mode = \"jwt\"\nes256_public_key = \"junk.pem\"\n",
             "not a PEM public key");
}

Test(jwt, mode_none_and_empty) {
  px_auth *a = NULL;
  char err[256];
  cr_assert_eq(px__auth_new(px_nil(), &a, err, sizeof err), 0);
  cr_assert_not(px__auth_enabled(a));
  px_auth_identity id;
  cr_assert_eq(px__auth_verify(a, "x.y.z", &id, err, sizeof err),
               PX_AUTH_DISABLED);
  px__auth_free(a);
  px_val empty = px_map_new(0);
  cr_assert_eq(px__auth_new(empty, &a, err, sizeof err), 0);
  cr_assert_not(px__auth_enabled(a));
  px__auth_free(a);
  px_val_release(empty);
  /* A disabled node does not need its secret to be present. */
  unsetenv("PLEXSPACES_JWT_SECRET");
  px__auth_free(auth_of("mode = \"none\"\n"
                        "hs256_secret_env = \"PLEXSPACES_JWT_SECRET\"\n"));
  cr_assert_eq(px__auth_new(px_int(3), &a, err, sizeof err), PX_EINVAL);
  cr_assert(strstr(err, "must be a table"));
  cr_assert_not(px__auth_enabled(NULL));
  px__auth_free(NULL);
}

Test(jwt, absolute_key_path) {
  make_keys("rsa");
  char cfg[1024];
  snprintf(cfg, sizeof cfg,
           "mode = \"jwt\"\nrs256_public_key = \"%s/rsa_pub.pem\"\n", g_dir);
  px_auth *a = auth_of(cfg);
  expect_ok(a, mint1("RS256", "rsa", claims(""), ""));
  px__auth_free(a);
}

/* ---- helpers ------------------------------------------------------------ */

Test(jwt, bearer_header) {
  cr_assert_str_eq(px__auth_bearer("Bearer abc.def.ghi"), "abc.def.ghi");
  cr_assert_str_eq(px__auth_bearer("  bearer   t"), "t");
  cr_assert_null(px__auth_bearer("Basic dXNlcjpwYXNz"));
  cr_assert_null(px__auth_bearer("Bearerabc"));
  cr_assert_null(px__auth_bearer(NULL));
  cr_assert_str_eq(px__auth_result_name(PX_AUTH_EXPIRED), "token_expired");
  cr_assert_str_eq(px__auth_result_name(999), "unknown");
}

/* ---- the minter --------------------------------------------------------- */

Test(jwt, minted_tokens_verify_here_and_in_pyjwt) {
  const char *roles[] = {"developer", "reader"};
  char *tok = NULL;
  int rc = px__auth_mint_hs256(TEST_SECRET, strlen(TEST_SECRET), "acme",
                               "cli-user", roles, 2, 3600, "plexspaces",
                               "node", &tok);
  cr_assert_eq(rc, 0);
  /* The independent check: PyJWT with the secret and the audience. */
  char args[TOKCAP + 600];
  snprintf(args, sizeof args, "%s verify '%s' '%s' node", g_dir, TEST_SECRET,
           tok);
  static char out[1][TOKCAP];
  cr_assert_eq(run_py(args, out, 1), 1);
  cr_assert(strstr(out[0], "\"tenant_id\": \"acme\""), "%s", out[0]);
  cr_assert(strstr(out[0], "\"roles\": [\"developer\", \"reader\"]"), "%s",
            out[0]);
  cr_assert(strstr(out[0], "\"sub\": \"cli-user\""), "%s", out[0]);
  cr_assert(strstr(out[0], "\"iss\": \"plexspaces\""), "%s", out[0]);
  px_auth *a = auth_of(HS "issuer = \"plexspaces\"\naudience = \"node\"\n");
  px_auth_identity id;
  char err[256];
  cr_assert_eq(px__auth_verify(a, tok, &id, err, sizeof err), PX_AUTH_OK,
               "%s", err);
  cr_assert_str_eq(id.tenant, "acme");
  cr_assert_str_eq(id.subject, "cli-user");
  cr_assert_eq(id.nroles, 2);
  cr_assert_not(id.admin);
  int64_t now = (int64_t)time(NULL);
  cr_assert(id.expires_at > now + 3500 && id.expires_at <= now + 3600);
  free(tok);

  px_auth_claims c = {.tenant = "acme", .admin = true, .ttl_s = 60};
  cr_assert_eq(px__auth_mint(TEST_SECRET, strlen(TEST_SECRET), &c, &tok), 0);
  cr_assert_eq(px__auth_verify(a, tok, &id, err, sizeof err),
               PX_AUTH_BAD_ISSUER);
  px__auth_free(a);
  a = auth_of(HS);
  cr_assert_eq(px__auth_verify(a, tok, &id, err, sizeof err), PX_AUTH_OK,
               "%s", err);
  cr_assert(id.admin);
  cr_assert_eq(id.nroles, 0);
  cr_assert_str_eq(id.subject, "");
  free(tok);
  px__auth_free(a);
}

Test(jwt, minter_refuses_bad_arguments) {
  const char *s = TEST_SECRET;
  size_t n = strlen(s);
  const char *roles[17];
  for (int i = 0; i < 17; i++) roles[i] = "r";
  char *tok = (char *)0x1;
  cr_assert_eq(px__auth_mint_hs256("short", 5, "acme", NULL, NULL, 0, 60,
                                   NULL, NULL, &tok),
               PX_EINVAL);
  cr_assert_null(tok);
  cr_assert_eq(px__auth_mint_hs256(s, n, "a/b", NULL, NULL, 0, 60, NULL, NULL,
                                   &tok),
               PX_EINVAL);
  cr_assert_eq(px__auth_mint_hs256(s, n, NULL, NULL, NULL, 0, 60, NULL, NULL,
                                   &tok),
               PX_EINVAL);
  cr_assert_eq(px__auth_mint_hs256(s, n, "acme", NULL, NULL, 0, 0, NULL, NULL,
                                   &tok),
               PX_EINVAL);
  cr_assert_eq(px__auth_mint_hs256(s, n, "acme", NULL, roles, 17, 60, NULL,
                                   NULL, &tok),
               PX_EINVAL);
  const char *spaced[] = {"a b"};
  cr_assert_eq(px__auth_mint_hs256(s, n, "acme", NULL, spaced, 1, 60, NULL,
                                   NULL, &tok),
               PX_EINVAL);
  cr_assert_eq(px__auth_mint_hs256(s, n, "acme", "\xff\xfe", NULL, 0, 60,
                                   NULL, NULL, &tok),
               PX_EINVAL);
  cr_assert_null(tok);
}

/* ---- concurrency -------------------------------------------------------- */

struct verify_job {
  const px_auth *a;
  const char *tok[3];
  int failures;
};

static void *verify_many(void *arg) {
  struct verify_job *j = arg;
  for (int i = 0; i < 60; i++) {
    px_auth_identity id;
    char err[128];
    int want = i % 3 == 2 ? PX_AUTH_BAD_ALG : PX_AUTH_OK;
    if (px__auth_verify_at(j->a, j->tok[i % 3], NOW, &id, err, sizeof err) !=
        want)
      j->failures++;
  }
  return NULL;
}

/* One authenticator shared by threads (run under TSan in CI). */
Test(jwt, concurrent_verification) {
  char l[3][4096];
  const char *specs[] = {
      spec(l[0], sizeof l[0], "HS256", HSKEY, claims(""), ""),
      spec(l[1], sizeof l[1], "RS256", "rsa", claims(""), ""),
      spec(l[2], sizeof l[2], "ES256", "ec", claims(""), "")};
  char tok[3][TOKCAP];
  mint_py(specs, 3, tok);
  px_auth *a = auth_of(HS "rs256_public_key = \"rsa_pub.pem\"\n");
  struct verify_job jobs[4];
  pthread_t th[4];
  for (int i = 0; i < 4; i++) {
    jobs[i] = (struct verify_job){a, {tok[0], tok[1], tok[2]}, 0};
    cr_assert_eq(pthread_create(&th[i], NULL, verify_many, &jobs[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    cr_assert_eq(jobs[i].failures, 0, "thread %d: %d failures", i,
                 jobs[i].failures);
  }
  px__auth_free(a);
}
