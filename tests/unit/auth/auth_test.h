/* Shared by the auth tests: an independent JWT implementation (Python 3
 * with PyJWT and cryptography) that makes the key pairs and tokens at test
 * time, a base64url encoder for hand-built tokens, and builders for the
 * authenticator from TOML text. */
#ifndef PX_TEST_AUTH_H
#define PX_TEST_AUTH_H

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "plexspaces/error.h"
#include "plexspaces/toml.h"
#include "support/tmpdir.h"

#define TEST_SECRET_ENV "PX_TEST_JWT_SECRET"
#define TEST_SECRET "0123456789abcdef0123456789abcdef-test"
#define TOKCAP 12288

/* A fixed clock for px__auth_verify_at, so time checks are exact. */
#define NOW INT64_C(1700000000)

/* The key directory of the running test (each test is its own process). */
static char *g_dir;

/* Key pairs are made on first use in the test's directory, each as
 * NAME.key (private) and NAME_pub.pem: rsa and rsa2 (2048-bit), ec and ec2
 * (P-256), and keys a node must refuse: rsa1024 and ec384 (P-384).
 *   mint.py DIR keys NAME...          makes those keys
 *   mint.py DIR mint                  one token per line of DIR/spec:
 *     "ALG<TAB>KEY<TAB>CLAIMS_JSON<TAB>HEADERS_JSON" where KEY is
 *     "hs:<secret>", a key name, or "rsapub-hmac": the attacker's token,
 *     alg HS256 with the RSA public key PEM as the HMAC secret, built by
 *     hand since PyJWT refuses to do it
 *   mint.py DIR verify SECRET TOKEN AUD   PyJWT's decode; prints claims */
static const char k_py[] =
    "import sys, os, json, hmac, hashlib, base64\n"
    "import jwt\n"
    "from cryptography.hazmat.primitives.asymmetric import rsa, ec\n"
    "from cryptography.hazmat.primitives import serialization as ser\n"
    "d = sys.argv[1]\n"
    "if sys.argv[2] == 'verify':\n"
    "    c = jwt.decode(sys.argv[4], sys.argv[3], algorithms=['HS256'],\n"
    "                   audience=sys.argv[5], options={'require': ['exp']})\n"
    "    print(json.dumps(c, sort_keys=True)); sys.exit(0)\n"
    "def b64(b): return base64.urlsafe_b64encode(b).rstrip(b'=').decode()\n"
    "MAKE = {'rsa': lambda: rsa.generate_private_key(65537, 2048),\n"
    "        'rsa2': lambda: rsa.generate_private_key(65537, 2048),\n"
    "        'rsa1024': lambda: rsa.generate_private_key(65537, 1024),\n"
    "        'ec': lambda: ec.generate_private_key(ec.SECP256R1()),\n"
    "        'ec2': lambda: ec.generate_private_key(ec.SECP256R1()),\n"
    "        'ec384': lambda: ec.generate_private_key(ec.SECP384R1())}\n"
    "def priv(n):\n"
    "    p = d + '/' + n + '.key'\n"
    "    if os.path.exists(p):\n"
    "        return ser.load_pem_private_key(open(p, 'rb').read(), None)\n"
    "    k = MAKE[n]()\n"
    "    open(p, 'wb').write(k.private_bytes(ser.Encoding.PEM,\n"
    "        ser.PrivateFormat.PKCS8, ser.NoEncryption()))\n"
    "    open(d + '/' + n + '_pub.pem', 'wb').write(k.public_key()\n"
    "        .public_bytes(ser.Encoding.PEM,\n"
    "                      ser.PublicFormat.SubjectPublicKeyInfo))\n"
    "    return k\n"
    "if sys.argv[2] == 'keys':\n"
    "    for n in sys.argv[3:]: priv(n)\n"
    "    sys.exit(0)\n"
    "for line in open(d + '/spec'):\n"
    "    alg, key, claims, hdrs = line.rstrip('\\n').split('\\t')\n"
    "    claims = json.loads(claims)\n"
    "    hdrs = json.loads(hdrs) if hdrs else None\n"
    "    if key == 'rsapub-hmac':\n"
    "        priv('rsa')\n"
    "        h = b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())\n"
    "        p = b64(json.dumps(claims).encode())\n"
    "        pem = open(d + '/rsa_pub.pem', 'rb').read()\n"
    "        s = hmac.new(pem, (h + '.' + p).encode(), hashlib.sha256)\n"
    "        print(h + '.' + p + '.' + b64(s.digest())); continue\n"
    "    k = key[3:] if key.startswith('hs:') else priv(key)\n"
    "    print(jwt.encode(claims, k, algorithm=alg, headers=hdrs))\n";

static inline void auth_setup(void) {
  g_dir = tmpdir_new();
  setenv(TEST_SECRET_ENV, TEST_SECRET, 1);
}

static inline void auth_teardown(void) {
  tmpdir_free(g_dir);
  g_dir = NULL;
}

static inline void write_text(const char *name, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", g_dir, name);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f, "cannot write %s", path);
  fputs(text, f);
  fclose(f);
}

/* Runs the Python script with `args`, reading up to n output lines. */
static inline size_t run_py(const char *args, char (*out)[TOKCAP], size_t n) {
  write_text("mint.py", k_py);
  char cmd[2 * TOKCAP];
  int len = snprintf(cmd, sizeof cmd, "python3 %s/mint.py %s", g_dir, args);
  cr_assert(len > 0 && (size_t)len < sizeof cmd, "python command too long");
  FILE *p = popen(cmd, "r");
  cr_assert_not_null(p, "cannot run python3");
  size_t got = 0;
  while (got < n && fgets(out[got], TOKCAP, p)) {
    out[got][strcspn(out[got], "\n")] = '\0';
    got++;
  }
  int st = pclose(p);
  cr_assert_eq(st, 0, "python3 failed (status %d) for %s", st, args);
  return got;
}

/* Mints one token per spec (see k_py) with PyJWT; out[i] gets token i. */
static inline void mint_py(const char *const *specs, size_t n,
                           char (*out)[TOKCAP]) {
  char path[512];
  snprintf(path, sizeof path, "%s/spec", g_dir);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  for (size_t i = 0; i < n; i++) fprintf(f, "%s\n", specs[i]);
  fclose(f);
  char args[600];
  snprintf(args, sizeof args, "%s mint", g_dir);
  cr_assert_eq(run_py(args, out, n), n, "python3 printed too few tokens");
}

/* One spec line; claims and headers are JSON text ("" = no headers). */
static inline const char *spec(char *buf, size_t cap, const char *alg,
                        const char *key, const char *claims,
                        const char *headers) {
  int n = snprintf(buf, cap, "%s\t%s\t%s\t%s", alg, key, claims, headers);
  cr_assert(n > 0 && (size_t)n < cap, "spec line too long for its buffer");
  return buf;
}

/* A single token minted by PyJWT, in a buffer the next call reuses. */
static inline char *mint1(const char *alg, const char *key, const char *claims,
                   const char *headers) {
  static char out[1][TOKCAP];
  char line[TOKCAP];
  const char *s = spec(line, sizeof line, alg, key, claims, headers);
  mint_py(&s, 1, out);
  return out[0];
}

/* Makes the named key files ("rsa ec") without minting anything. */
static inline void make_keys(const char *names) {
  char args[600], none[1][TOKCAP];
  snprintf(args, sizeof args, "%s keys %s", g_dir, names);
  run_py(args, none, 0);
}

static inline void b64url(const void *data, size_t len, char *out) {
  static const char a[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const unsigned char *p = data;
  size_t o = 0;
  for (size_t i = 0; i < len; i += 3) {
    unsigned v = (unsigned)p[i] << 16;
    if (i + 1 < len) v |= (unsigned)p[i + 1] << 8;
    if (i + 2 < len) v |= p[i + 2];
    out[o++] = a[(v >> 18) & 63];
    out[o++] = a[(v >> 12) & 63];
    if (i + 1 < len) out[o++] = a[(v >> 6) & 63];
    if (i + 2 < len) out[o++] = a[v & 63];
  }
  out[o] = '\0';
}

/* header.payload.sig from JSON texts; `sig` is used as is. */
static inline char *hand_token(const char *header, const char *payload,
                        const char *sig) {
  static char out[TOKCAP];
  char h[4096], p[4096];
  b64url(header, strlen(header), h);
  b64url(payload, strlen(payload), p);
  snprintf(out, sizeof out, "%s.%s.%s", h, p, sig);
  return out;
}

/* An authenticator from the body of an [auth] table; relative key paths
 * are resolved against the test's key directory. */
static inline int auth_try(const char *toml, px_auth **out, char *err,
                           size_t cap) {
  char text[4096];
  snprintf(text, sizeof text, "[auth]\n%s", toml);
  px_val doc;
  px_toml_error te;
  int rc = px_toml_parse(text, strlen(text), &doc, &te);
  cr_assert_eq(rc, 0, "bad test TOML %d:%d %s", te.line, te.column,
               te.reason);
  rc = px__auth_new_in(px_gets(doc, "auth"), g_dir, out, err, cap);
  px_val_release(doc);
  return rc;
}

static inline px_auth *auth_of(const char *toml) {
  px_auth *a = NULL;
  char err[512];
  int rc = auth_try(toml, &a, err, sizeof err);
  cr_assert_eq(rc, 0, "config refused: %s", err);
  cr_assert_not_null(a);
  return a;
}

/* Expects the config to be refused with a message containing `needle`. */
static inline void config_bad(const char *toml, const char *needle) {
  px_auth *a = (px_auth *)0x1;
  char err[512] = "";
  int rc = auth_try(toml, &a, err, sizeof err);
  cr_assert_neq(rc, 0, "config accepted: %s", toml);
  cr_assert_null(a);
  cr_assert(strstr(err, needle), "message '%s' lacks '%s'", err, needle);
}

#endif
