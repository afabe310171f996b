/* Public keys for RS256 and ES256, with OpenSSL directly. libjwt takes the
 * key as PEM text and parses it again for every token, which costs about
 * 2-4 ms with OpenSSL 3 (30 times the signature check itself), so the
 * node parses each key once at start-up and verifies with it here. An
 * EVP_PKEY is only read after loading, so threads may share it. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "auth/auth_internal.h"
#include "plexspaces/error.h"

int px__auth_pkey_load(const char *key, const char *path, const char *pem,
                       size_t len, unsigned alg, EVP_PKEY **out, char *err,
                       size_t cap) {
  *out = NULL;
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  EVP_PKEY *pk = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
  BIO_free(bio);
  ERR_clear_error(); /* the queue is per thread: leave it clean */
  const char *why = NULL;
  char buf[96];
  if (!pk) {
    why = strstr(pem, "PRIVATE KEY")
              ? "holds a private key; give the public key (openssl pkey -in "
                "key.pem -pubout)"
              : "is not a PEM public key (-----BEGIN PUBLIC KEY-----)";
  } else if (alg == PX__AUTH_RS256) {
    if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
      why = "is not an RSA key";
    } else if (EVP_PKEY_get_bits(pk) < 2048) {
      snprintf(buf, sizeof buf,
               "is a %d-bit RSA key; at least 2048 bits are needed",
               EVP_PKEY_get_bits(pk));
      why = buf;
    }
  } else {
    char group[64] = "";
    size_t glen = 0;
    if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_EC ||
        EVP_PKEY_get_group_name(pk, group, sizeof group, &glen) != 1 ||
        (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0))
      why = "is not an EC P-256 key (ES256 needs P-256)";
  }
  ERR_clear_error();
  if (why) {
    EVP_PKEY_free(pk);
    if (err && cap) snprintf(err, cap, "auth.%s: %s %s", key, path, why);
    return PX_EINVAL;
  }
  *out = pk;
  return 0;
}

/* JOSE carries an ES256 signature as R||S, 32 bytes each (RFC 7518
 * §3.4); OpenSSL wants DER. Returns the DER length, 0 on failure. */
static int es256_to_der(const unsigned char *sig, unsigned char *der,
                        size_t cap) {
  ECDSA_SIG *s = ECDSA_SIG_new();
  BIGNUM *r = BN_bin2bn(sig, 32, NULL), *sv = BN_bin2bn(sig + 32, 32, NULL);
  int n = 0;
  if (s && r && sv && ECDSA_SIG_set0(s, r, sv) == 1) {
    r = sv = NULL; /* owned by s now */
    int need = i2d_ECDSA_SIG(s, NULL);
    unsigned char *p = der;
    if (need > 0 && (size_t)need <= cap) n = i2d_ECDSA_SIG(s, &p);
  }
  BN_free(r);
  BN_free(sv);
  ECDSA_SIG_free(s);
  return n > 0 ? n : 0;
}

bool px__auth_pkey_verify(EVP_PKEY *pk, unsigned alg, const char *input,
                          size_t len, const unsigned char *sig,
                          size_t siglen) {
  unsigned char der[128];
  if (alg == PX__AUTH_ES256) {
    if (siglen != 64) return false;
    int n = es256_to_der(sig, der, sizeof der);
    if (n == 0) return false;
    sig = der;
    siglen = (size_t)n;
  }
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  bool ok = ctx &&
            EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pk) == 1 &&
            EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)input,
                             len) == 1;
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  return ok;
}
