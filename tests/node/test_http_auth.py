"""JWT authentication, RBAC and tenant isolation over HTTP. Tokens are minted
by PyJWT (an independent implementation), including expired, wrong-algorithm,
alg none, bad-signature and wrong-tenant ones."""

import base64
import hashlib
import hmac
import json
import os
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conftest import SECRET, Node

NOW = lambda: int(time.time())


def claims(tenant="acme", roles=("admin",), **extra):
    c = {"tenant_id": tenant, "sub": "tester", "roles": list(roles),
         "iat": NOW(), "exp": NOW() + 600}
    c.update(extra)
    return c


def hs(c, key=SECRET):
    return jwt.encode(c, key, algorithm="HS256")


def b64(d):
    return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()


@pytest.fixture
def keys(tmp_data):
    d = os.path.dirname(tmp_data)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    pub = lambda k: k.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with open(os.path.join(d, "rsa.pub.pem"), "wb") as f:
        f.write(pub(rsa_key))
    with open(os.path.join(d, "ec.pub.pem"), "wb") as f:
        f.write(pub(ec_key))
    return {"rsa": rsa_key, "ec": ec_key, "dir": d,
            "rsa_pub": pub(rsa_key)}


AUTH_CONFIG = """
[auth]
mode = "jwt"
hs256_secret_env = "PX_TEST_JWT_SECRET"
rs256_public_key = "{dir}/rsa.pub.pem"
es256_public_key = "{dir}/ec.pub.pem"
issuer = "px-tests"
audience = "plexspaces"
leeway_seconds = 5
"""


@pytest.fixture
def secure(tmp_data, keys):
    n = Node(tmp_data, AUTH_CONFIG.format(dir=keys["dir"]),
             env={"PX_TEST_JWT_SECRET": SECRET})
    base = {"iss": "px-tests", "aud": "plexspaces"}
    n.mint = lambda tenant="acme", roles=("admin",), alg="HS256", **kw: (
        hs(claims(tenant, roles, **dict(base, **kw))) if alg == "HS256" else
        jwt.encode(claims(tenant, roles, **dict(base, **kw)),
                   keys["rsa"] if alg == "RS256" else keys["ec"], algorithm=alg))
    n.keys = keys
    for tenant in ("acme", "globex"):
        r = n.deploy("shop", token=n.mint(tenant))
        assert r.status == 200, r
    yield n
    code, err = n.stop()
    assert code == 0, err


def ask(n, token, ns="shop", target="counter", op="get"):
    return n.post(f"/api/v1/actors/{ns}/{target}/ask", {"op": op}, token=token)


def test_every_algorithm_configured_is_accepted(secure):
    for alg in ("HS256", "RS256", "ES256"):
        r = ask(secure, secure.mint(alg=alg))
        assert r.status == 200, (alg, r)


def test_missing_and_malformed_tokens_are_401(secure):
    r = secure.post("/api/v1/actors/shop/counter/ask", {"op": "get"})
    assert r.status == 401 and "missing bearer token" in r.json["error"]
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")
    for bad in ["x", "a.b", "a.b.c", "..", "." * 5000, "x" * 7000]:
        r = ask(secure, bad)
        assert r.status == 401, bad
        assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    r = secure.post("/api/v1/actors/shop/counter/ask", {"op": "get"},
                    headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert r.status == 401


@pytest.mark.parametrize("case", ["expired", "nbf", "iat_future", "issuer",
                                  "audience", "no_exp", "no_tenant", "bad_tenant"])
def test_claims_are_checked(secure, case):
    base = {"iss": "px-tests", "aud": "plexspaces"}
    c = claims(**base)
    if case == "expired":
        c["exp"] = NOW() - 60
    elif case == "nbf":
        c["nbf"] = NOW() + 120
    elif case == "iat_future":
        c["iat"] = NOW() + 120
    elif case == "issuer":
        c["iss"] = "someone-else"
    elif case == "audience":
        c["aud"] = ["other-service"]
    elif case == "no_exp":
        del c["exp"]
    elif case == "no_tenant":
        del c["tenant_id"]
    elif case == "bad_tenant":
        c["tenant_id"] = "../etc"
    r = ask(secure, hs(c))
    assert r.status == 401, (case, r)


def test_alg_none_wrong_alg_and_bad_signature(secure):
    c = claims(iss="px-tests", aud="plexspaces")
    none = b64({"alg": "none", "typ": "JWT"}) + "." + b64(c) + "."
    assert ask(secure, none).status == 401
    # Key confusion: an HS256 token whose secret is the RSA public key.
    # (PyJWT refuses to make it, so it is signed by hand.)
    signing = b64({"alg": "HS256", "typ": "JWT"}) + "." + b64(c)
    mac = hmac.new(secure.keys["rsa_pub"], signing.encode(), hashlib.sha256).digest()
    confused = signing + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    assert ask(secure, confused).status == 401
    # HS384 is not configured.
    assert ask(secure, jwt.encode(c, SECRET, algorithm="HS384")).status == 401
    # A flipped signature byte.
    tok = hs(c)
    head, body, sig = tok.split(".")
    sig = ("A" if sig[0] != "A" else "B") + sig[1:]
    assert ask(secure, f"{head}.{body}.{sig}").status == 401
    # Signed with another secret.
    assert ask(secure, hs(c, key="another-secret-0123456789abcdef0123")).status == 401
    assert secure.healthy()


def test_rbac_roles(secure):
    reader = secure.mint(roles=["reader"])
    assert ask(secure, reader).status == 403
    assert secure.get("/api/v1/applications", token=reader).status == 200
    assert secure.deploy("other", token=reader).status == 403
    dev = secure.mint(roles=["developer"])
    assert ask(secure, dev).status == 200
    assert secure.deploy("other", token=dev).status == 403
    assert secure.delete("/api/v1/applications/shop", token=dev).status == 403
    nobody = secure.mint(roles=[])
    assert ask(secure, nobody).status == 403


def test_tenants_are_isolated(secure):
    """Tenant globex's token must get nothing of tenant acme's resources."""
    acme, globex = secure.mint("acme"), secure.mint("globex")
    # Same namespace and actor type, different tenants: different actors.
    for _ in range(3):
        secure.post("/api/v1/actors/shop/counter/ask", {"op": "inc"}, token=acme)
    a = ask(secure, acme).json["payload"]["value"]
    g = ask(secure, globex).json["payload"]["value"]
    assert a >= 3 and g == 0
    # Virtual actors.
    secure.post("/api/v1/actors/shop/account:alice/ask", {"op": "deposit", "amount": 7}, token=acme)
    r = secure.post("/api/v1/actors/shop/account:alice/ask", {"op": "balance"}, token=globex)
    assert r.json["payload"]["balance"] == 0
    # An app only acme has.
    assert secure.deploy("acmeonly", token=acme).status == 200
    assert ask(secure, globex, ns="acmeonly").status == 404
    assert secure.get("/api/v1/applications/acmeonly", token=globex).status == 404
    assert secure.delete("/api/v1/applications/acmeonly", token=globex).status == 404
    ids = [x["application_id"] for x in
           secure.get("/api/v1/applications", token=globex).json["applications"]]
    assert "acmeonly" not in ids
    assert secure.get("/api/v1/actors?ns=acmeonly", token=globex).json["actors"] == []
    assert secure.post("/api/v1/actors/acmeonly/counter", {"op": "inc"}, token=globex).status == 404
    assert secure.delete("/api/v1/actors/acmeonly/counter", token=globex).status == 404
    assert secure.get("/api/v1/actors/acmeonly/counter?op=get", token=globex).status == 404
    assert secure.post("/api/v1/workflows/acmeonly/order", {"id": "x"}, token=globex).status == 404
    assert ask(secure, acme, ns="acmeonly").status == 200
    # Tuple spaces.
    w = secure.post("/api/v1/spaces/shop/jobs/write", {"tuple": ["job", 1]}, token=acme)
    assert w.status == 200, w
    for op in ("read", "take"):
        r = secure.post(f"/api/v1/spaces/shop/jobs/{op}", {"template": ["job", None]}, token=globex)
        assert r.status == 200 and r.json["found"] is False
    r = secure.post("/api/v1/spaces/shop/jobs/count", {"template": ["job", None]}, token=globex)
    assert r.json["count"] == 0
    # Workflows.
    r = secure.post("/api/v1/workflows/shop/order", {"id": "o-acme", "input": {"sku": "x"}}, token=acme)
    assert r.status == 201, r
    for path in ["/api/v1/workflows/shop/o-acme",
                 "/api/v1/workflows/shop/o-acme/queries/progress"]:
        assert secure.get(path, token=globex).status == 404, path
    assert secure.post("/api/v1/workflows/shop/o-acme/signals/approve", {}, token=globex).status == 404
    assert secure.post("/api/v1/workflows/shop/o-acme/cancel", {}, token=globex).status == 404
    assert secure.get("/api/v1/workflows/shop/o-acme", token=acme).status == 200
    # Journals.
    assert secure.get("/api/v1/journal/shop/wf:o-acme", token=acme).status == 200
    assert secure.get("/api/v1/journal/shop/wf:o-acme", token=globex).status == 404
    # Metrics cover every tenant: node admins (is_admin) only.
    assert secure.get("/metrics", token=globex).status == 403
    assert secure.get("/metrics", token=secure.mint("ops", is_admin=True)).status == 200


def test_probes_need_no_token(secure):
    assert secure.get("/healthz").status == 200
    assert secure.get("/readyz").status == 200


def test_auth_none_refused_off_loopback(tmp_data):
    with pytest.raises(RuntimeError) as e:
        Node(tmp_data, listen="0.0.0.0:0")
    assert "loopback" in str(e.value)


def test_literal_secret_in_config_is_refused(tmp_data):
    with pytest.raises(RuntimeError) as e:
        Node(tmp_data, '[auth]\nmode = "jwt"\nsecret = "' + SECRET + '"\n')
    assert "environment variable" in str(e.value)
