"""The command-line client against a real node: every command, its human
and --json output, its exit codes (0 ok, 1 a failure reported by the node
or the network, 2 usage) and its error messages. The node is the binary in
PLEXSPACES_BIN (see conftest.py) with the demo app deployed as `shop`."""

import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess

import pytest

from conftest import BIN, DEMO_CONFIG, DEMO_SO, SECRET, Node, wait_until


def run(*args, url=None, token=None, env=None, timeout=60):
    """Runs `plexspaces ARGS --node URL`; the environment never leaks a
    node address or a token from the caller's shell."""
    e = dict(os.environ)
    for k in ("PLEXSPACES_NODE", "PLEXSPACES_TOKEN", "PLEXSPACES_JWT_SECRET"):
        e.pop(k, None)
    if token:
        e["PLEXSPACES_TOKEN"] = token
    e.update(env or {})
    argv = [BIN, *args]
    if url:
        argv += ["--node", url]
    return subprocess.run(argv, capture_output=True, text=True, env=e,
                          timeout=timeout)


def ok(p):
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    return p.stdout


def fails(p, code, *needles):
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    for n in needles:
        assert n in p.stderr, (n, p.stderr)
    return p.stderr


def as_json(p):
    ok(p)
    return json.loads(p.stdout)


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- usage ------------------------------------------------------------------


def test_help_lists_every_command():
    out = ok(run("help"))
    for cmd in ("deploy", "undeploy", "apps", "actors", "ask", "tell",
                "stop", "ts write", "workflow", "journal show", "token",
                "status"):
        assert cmd in out, cmd
    out = ok(run("help", "ask"))
    assert "usage: plexspaces ask NS TARGET OP" in out
    assert "plexspaces ask shop counter add" in out
    assert "usage: plexspaces ts" in ok(run("ts", "--help"))


def test_usage_errors_exit_2():
    p = run("ask", "shop")
    assert p.returncode == 2
    assert "usage: plexspaces ask" in p.stderr and p.stdout == ""
    fails(run("ask", "shop", "counter", "get", "--frob"), 2,
          "unknown option --frob")
    fails(run("ask", "shop", "counter", "get", "--timeout", "soon"), 2,
          "--timeout expects an integer")
    fails(run("ts", "frob", "shop", "s", "[1]"), 2, "unknown operation 'frob'")
    fails(run("workflow", "launch", "shop", "x"), 2,
          "unknown operation 'launch'")
    fails(run("help", "nosuch"), 2, "no command 'nosuch'")
    fails(run("deploy", "--app", "x"), 2, "--config app.toml is required")
    fails(run("apps", "a", "b"), 2, "unexpected argument 'b'")


# ---- reaching the node --------------------------------------------------------


def test_node_down_is_reported():
    url = f"http://127.0.0.1:{closed_port()}"
    err = fails(run("status", url=url), 1, "cannot reach the node at " + url,
                "connection refused", "plexspaces start")
    assert err.startswith("plexspaces status: ")
    fails(run("ask", "shop", "counter", "get", url=url), 1,
          "cannot reach the node")
    # The address also comes from PLEXSPACES_NODE.
    fails(run("apps", env={"PLEXSPACES_NODE": url}), 1,
          "cannot reach the node at " + url)
    # A malformed JSON argument is found before any connection is tried.
    fails(run("ask", "shop", "counter", "add", "{n: 1}", url=url), 2,
          "the JSON argument is not valid JSON")


def test_global_flags_anywhere(node):
    first = as_json(run("--node", node.url, "--json", "status"))
    assert first["tenant"] == "default"
    assert as_json(run("status", "--json", f"--node={node.url}")) == first
    env = {"PLEXSPACES_NODE": node.url.replace("http://", "") + "/"}
    assert "ready:        yes" in ok(run("status", env=env))


# ---- status, apps, actors ---------------------------------------------------


def test_status(node):
    out = ok(run("status", url=node.url))
    assert f"node:         {node.url} (healthy)" in out
    assert "ready:        yes" in out
    assert "tenant:       default" in out
    assert "applications: shop (running)" in out
    st = as_json(run("status", "--json", url=node.url))
    assert st["ready"] is True and st["workers"] >= 1 and st["actors"] >= 4
    assert [a["application_id"] for a in st["applications"]] == ["shop"]


def test_apps_list_and_tree(node):
    lines = ok(run("apps", url=node.url)).splitlines()
    assert lines[0].split() == ["APPLICATION", "NAME", "VERSION", "NAMESPACE",
                                "STATUS"]
    assert lines[1].split() == ["shop", "shop", "1.0.0", "shop", "running"]
    assert len(lines) == 2

    tree = ok(run("apps", "shop", url=node.url))
    assert tree.startswith("shop: running (shop 1.0.0, namespace shop)\n")
    assert "supervisor one_for_one (at most 10 restarts in 60 s)" in tree
    kids = [l for l in tree.splitlines() if l.startswith(("├─", "└─"))]
    names = [k.split()[1] for k in kids]
    # The children in config order (the demo app may grow more).
    assert names[:6] == ["counter", "greeter", "flaky", "agent-1",
                         "account", "order"]
    assert [k[:2] for k in kids] == ["├─"] * (len(kids) - 1) + ["└─"]
    counter = kids[0].split()
    assert counter[2:4] == ["counter", "running"] and counter[-2:] == [
        "restarts", "0"]
    assert "virtual types: account" in tree
    assert "workflow types: order" in tree

    st = as_json(run("apps", "shop", "--json", url=node.url))
    assert st["application_id"] == "shop"
    assert [c["name"] for c in st["supervisor"]["children"]][:3] == [
        "counter", "greeter", "flaky"]

    fails(run("apps", "nosuch", url=node.url), 1, 'no application "nosuch"',
          "HTTP 404")


def test_actors(node):
    out = ok(run("actors", "--ns", "shop", url=node.url)).splitlines()
    assert out[0].split() == ["ACTOR", "TYPE", "NAMESPACE", "APPLICATION",
                              "MAILBOX"]
    types = {l.split()[1] for l in out[1:]}
    assert types >= {"counter", "flaky", "greeter", "registry_agent"}
    # Workflow and virtual types are not live actors.
    assert not types & {"order", "account"}
    listed = as_json(run("actors", "--json", url=node.url))["actors"]
    assert {a["namespace"] for a in listed} == {"shop"}
    assert {a["actor_type"] for a in listed} >= {"counter", "greeter"}
    assert ok(run("actors", "--ns", "elsewhere", url=node.url)) == \
        "no actors in namespace elsewhere\n"


# ---- actors: ask, tell, stop --------------------------------------------------


def test_ask_and_tell_counter(node):
    u = node.url
    assert json.loads(ok(run("ask", "shop", "counter", "get", url=u))) == \
        {"value": 0}
    out = ok(run("tell", "shop", "counter", "inc", url=u))
    assert out.startswith("sent inc to shop/counter@")
    # The tell is in the mailbox before its 202: the next ask sees it.
    assert json.loads(ok(run("ask", "shop", "counter", "add", '{"n": 5}',
                             url=u))) == {"value": 6}
    env = as_json(run("ask", "shop", "counter", "get", "--json",
                      "--timeout", "10", url=u))
    assert env["success"] is True and env["payload"] == {"value": 6}
    assert env["actor_id"].startswith("shop/counter@")
    # "op" comes from the argument even when the JSON names another.
    assert json.loads(ok(run("ask", "shop", "counter", "add",
                             '{"op": "get", "n": 1}', url=u))) == \
        {"value": 7}


def test_ask_plain_and_virtual_actors(node):
    u = node.url
    assert json.loads(ok(run("ask", "shop", "greeter", "hello",
                             '{"name": "ada"}', url=u))) == \
        {"greeting": "hello, ada"}
    ok(run("ask", "shop", "account:alice", "deposit", '{"amount": 10}',
           url=u))
    ok(run("ask", "shop", "account:alice", "deposit", '{"amount": 32}',
           url=u))
    ok(run("ask", "shop", "account:bob", "deposit", '{"amount": 1}', url=u))
    assert json.loads(ok(run("ask", "shop", "account:alice", "balance",
                             url=u))) == {"balance": 42}
    # The durable account's journal, named TYPE:KEY (escaped in the URL).
    journal = ok(run("journal", "show", "shop", "account:alice", url=u))
    last = journal.strip().splitlines()[-1].split()
    assert last[-2:] == ["snapshot", "42"], journal
    fails(run("journal", "show", "shop", "account:nobody", url=u), 1,
          'no journal for "account:nobody"')
    # A GenFSM answers asks from its current state.
    assert json.loads(ok(run("ask", "shop", "turnstile", "coin", url=u))) == \
        {"state": "unlocked"}
    ok(run("tell", "shop", "turnstile", "push", url=u))
    assert json.loads(ok(run("ask", "shop", "turnstile", "state", url=u))) == \
        {"state": "locked"}


def test_ask_failures(node):
    u = node.url
    err = fails(run("ask", "shop", "nosuch", "get", url=u), 1,
                'no actor "nosuch" in namespace "shop"', "HTTP 404")
    assert err.startswith("plexspaces ask: ")
    # --json still prints the node's reply, and still exits 1.
    p = run("ask", "shop", "nosuch", "get", "--json", url=u)
    assert p.returncode == 1
    body = json.loads(p.stdout)
    assert body["status"] == 404 and "nosuch" in body["error"]
    # The actor answers with an error: 500 with its message.
    fails(run("ask", "shop", "greeter", "inc", url=u), 1,
          "the actor answered with an error", "unknown op inc", "HTTP 500")
    # Malformed arguments never reach the node.
    fails(run("ask", "shop", "counter", "add", '{"n": }', url=u), 2,
          "the JSON argument is not valid JSON")
    fails(run("ask", "shop", "counter", "add", "[1, 2]", url=u), 2,
          "the JSON argument must be an object")
    fails(run("ask", "shop", "counter", "get", "--timeout", "0", url=u), 2,
          "--timeout must be at least 1 second")


def test_stop_restarts_a_supervised_actor(node):
    u = node.url
    before = as_json(run("ask", "shop", "flaky", "ping", "--json", url=u))
    out = ok(run("stop", "shop", "flaky", url=u))
    assert out == f"stopped {before['actor_id']}\n"

    def restarted():
        kids = as_json(run("apps", "shop", "--json", url=u))
        flaky = [k for k in kids["supervisor"]["children"]
                 if k["name"] == "flaky"][0]
        return flaky["restarts"] >= 1 and flaky["state"] == "running"

    wait_until(restarted, what="flaky restarted by its supervisor")
    after = as_json(run("ask", "shop", "flaky", "ping", "--json", url=u))
    assert after["payload"] == {"pong": True}
    assert after["actor_id"] != before["actor_id"]
    fails(run("stop", "shop", "nosuch", url=u), 1, 'no actor "nosuch"')


# ---- tuple spaces ------------------------------------------------------------------


def test_tuple_space(node):
    u = node.url
    assert ok(run("ts", "write", "shop", "jobs", '["job", 1, "pending"]',
                  url=u)) == "written\n"
    leased = as_json(run("ts", "write", "shop", "jobs", '["job", 2, "done"]',
                         "--ttl-ms", "600000", "--json", url=u))
    assert leased["success"] is True
    assert ok(run("ts", "count", "shop", "jobs", '["job", null, null]',
                  url=u)) == "2\n"
    got = json.loads(ok(run("ts", "read", "shop", "jobs",
                            '["job", {"$type": "int"}, "done"]', url=u)))
    assert got == ["job", 2, "done"]
    every = ok(run("ts", "read", "shop", "jobs", '["job", null, null]',
                   "--all", url=u)).splitlines()
    assert sorted(json.loads(l)[1] for l in every) == [1, 2]
    assert json.loads(ok(run("ts", "take", "shop", "jobs", '["job", 1, null]',
                             url=u))) == ["job", 1, "pending"]
    # Nothing left to take: exit 1 with a message scripts can test for...
    fails(run("ts", "take", "shop", "jobs", '["job", 1, null]', url=u), 1,
          "no matching tuple")
    fails(run("ts", "read", "shop", "jobs", '["nope"]', "--timeout-ms", "50",
              url=u), 1, "no matching tuple")
    # ...but --json reports the reply as it is.
    assert as_json(run("ts", "take", "shop", "jobs", '["job", 1, null]',
                       "--json", url=u)) == {"found": False, "tuple": None}
    assert ok(run("ts", "count", "shop", "jobs", '["job", null, null]',
                  url=u)) == "1\n"
    # Spaces are per namespace: another one is empty.
    assert ok(run("ts", "count", "other", "jobs", '["job", null, null]',
                  url=u)) == "0\n"
    # The demo's registry agent announced itself at start.
    assert json.loads(ok(run("ts", "read", "shop", "agents",
                             '["agent", "agent-1", null]', url=u))) == \
        ["agent", "agent-1", "planner"]


def test_tuple_space_blocking_take(node):
    u = node.url
    taker = subprocess.Popen(
        [BIN, "ts", "take", "shop", "queue", '["task", null]',
         "--timeout-ms", "20000", "--node", u],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ok(run("ts", "write", "shop", "queue", '["task", "build"]', url=u))
        out, err = taker.communicate(timeout=30)
    finally:
        if taker.poll() is None:
            taker.kill()
            taker.communicate()
    assert taker.returncode == 0, err
    assert json.loads(out) == ["task", "build"]


def test_tuple_space_argument_errors(node):
    u = node.url
    fails(run("ts", "write", "shop", "jobs", '["job", 1', url=u), 2,
          "the tuple is not valid JSON")
    fails(run("ts", "write", "shop", "jobs", '{"job": 1}', url=u), 2,
          "the tuple must be a non-empty JSON array")
    fails(run("ts", "read", "shop", "jobs", "[]", url=u), 2,
          "the template must be a non-empty JSON array")
    fails(run("ts", "read", "shop", "jobs", '["x"]', "--ttl-ms", "5", url=u),
          2, "--ttl-ms does not apply to ts read")
    fails(run("ts", "count", "shop", "jobs", '["x"]', "--all", url=u), 2,
          "--all does not apply to ts count")
    fails(run("ts", "write", "shop", "jobs", '["x"]', "extra", url=u), 2,
          "unexpected argument 'extra'")
    # A template the node refuses: its message, exit 1.
    fails(run("ts", "read", "shop", "jobs", '[{"$type": "nosuchtype"}]',
              url=u), 1, "HTTP 400")


# ---- workflows and journals --------------------------------------------------------


def test_workflow_lifecycle(node):
    u = node.url
    assert ok(run("workflow", "start", "shop", "order", "--id", "o-1",
                  "--input", '{"item": "book"}', url=u)) == \
        "started o-1: running\n"
    fails(run("workflow", "start", "shop", "order", "--id", "o-1", url=u), 1,
          'workflow "o-1" is already running', "HTTP 409")

    def awaiting():
        out = run("workflow", "query", "shop", "o-1", "progress", url=u)
        return out.returncode == 0 and json.loads(out.stdout) == \
            {"stage": "awaiting_approval"}

    wait_until(awaiting, what="the order waiting for approval")
    assert ok(run("workflow", "status", "shop", "o-1", url=u)) == \
        "o-1: running\n"
    assert ok(run("workflow", "signal", "shop", "o-1", "approve", url=u)) == \
        "signalled o-1: approve\n"
    out = ok(run("workflow", "status", "shop", "o-1", "--wait-ms", "20000",
                 url=u))
    assert out == 'o-1: completed\nresult: {"shipped":"parcel for o-1"}\n'
    st = as_json(run("workflow", "status", "shop", "o-1", "--json", url=u))
    assert st == {"workflow_id": "o-1", "status": "completed",
                  "result": {"shipped": "parcel for o-1"}}
    # A finished workflow takes no more signals.
    fails(run("workflow", "signal", "shop", "o-1", "approve", '{"x": 1}',
              url=u), 1, 'no open workflow "o-1"', "HTTP 404")

    # The online journal shows the run, step by step.
    journal = ok(run("journal", "show", "shop", "wf:o-1", url=u))
    assert "journal wf/default/shop/o-1" in journal
    for entry in ("start", '["reserve","reserved"]', '["charge",4200]',
                  "recv", '["ship","parcel for o-1"]'):
        assert entry in journal, entry
    assert ok(run("journal", "show", "--ns", "shop", "wf:o-1", url=u)) == \
        journal
    fails(run("journal", "show", "shop", "wf:nope", url=u), 1,
          'no journal for "wf:nope"', "HTTP 404")
    fails(run("journal", "list", url=u), 2, "journal list --data DIR")


def test_workflow_cancel_and_errors(node):
    u = node.url
    started = as_json(run("workflow", "start", "shop", "order", "--json",
                          url=u))
    wid = started["workflow_id"]
    assert started["status"] == "running" and wid
    assert ok(run("workflow", "cancel", "shop", wid, url=u)) == \
        f"cancelled {wid}\n"
    assert ok(run("workflow", "status", "shop", wid, "--wait-ms", "20000",
                  url=u)) == f"{wid}: cancelled\n"
    fails(run("workflow", "start", "shop", "nosuch", url=u), 1,
          'no workflow type "nosuch" in namespace "shop"', "HTTP 404")
    fails(run("workflow", "status", "shop", "nope", url=u), 1,
          'no workflow "nope"')
    fails(run("workflow", "start", "shop", "order", "--input", "{oops",
              url=u), 2, "--input is not valid JSON")
    fails(run("workflow", "signal", "shop", wid, "approve", "[1,", url=u), 2,
          "the signal's JSON payload is not valid JSON")
    fails(run("workflow", "status", "shop", wid, "--id", "x", url=u), 2,
          "--id does not apply here")
    fails(run("workflow", "start", "shop", "order", "--id", "bad id!",
              url=u), 1, "HTTP 400")


# ---- applications at run time ----------------------------------------------------


def test_deploy_and_undeploy(node):
    u = node.url
    out = ok(run("deploy", "--app", "shop2", "--config", DEMO_CONFIG,
                 "--lib", DEMO_SO, "--name", "demo", "--version", "2.0.0",
                 url=u))
    assert out == "deployed shop2 (demo 2.0.0): running\n"
    apps = as_json(run("apps", "--json", url=u))["applications"]
    assert {(a["application_id"], a["name"], a["version"], a["status"])
            for a in apps} == {("shop", "shop", "1.0.0", "running"),
                               ("shop2", "demo", "2.0.0", "running")}
    # The new namespace has its own counter.
    ok(run("tell", "shop2", "counter", "inc", url=u))
    assert json.loads(ok(run("ask", "shop2", "counter", "get", url=u))) == \
        {"value": 1}
    assert json.loads(ok(run("ask", "shop", "counter", "get", url=u))) == \
        {"value": 0}

    assert ok(run("undeploy", "shop2", url=u)) == "undeployed shop2\n"
    apps = as_json(run("apps", "--json", url=u))["applications"]
    assert [a["application_id"] for a in apps] == ["shop"]
    fails(run("undeploy", "--app", "shop2", url=u), 1,
          'no application "shop2"', "HTTP 404")
    fails(run("ask", "shop2", "counter", "get", url=u), 1, "HTTP 404")


def test_deploy_failures(node):
    u = node.url
    bad = os.path.join(os.path.dirname(DEMO_SO), "bad_no_init.so")
    if os.path.exists(bad):
        p = run("deploy", "--app", "broken", "--config", DEMO_CONFIG,
                "--lib", bad, url=u)
        fails(p, 1, "px_app_init")
        assert "broken" not in ok(run("apps", url=u))
    p = run("deploy", "--app", "broken", "--config", "/nonexistent.toml",
            "--lib", DEMO_SO, url=u)
    fails(p, 2, "cannot read --config /nonexistent.toml")
    fails(run("deploy", "--app", "broken", "--config", DEMO_CONFIG, url=u),
          2, "give exactly one of --lib")
    fails(run("deploy", "--app", "broken", "--config", DEMO_CONFIG, "--lib",
              DEMO_SO, "--wasm", DEMO_SO, url=u), 2,
          "give exactly one of --lib")
    # A config the node cannot parse: its message names the place.
    with open(os.path.join(os.path.dirname(node.data_dir), "bad.toml"),
              "w") as f:
        f.write("name = \n")
    fails(run("deploy", "--app", "broken", "--config", f.name, "--lib",
              DEMO_SO, url=u), 1, "app-config.toml", "HTTP 400")
    p = run("deploy", "--app", "broken", "--config", f.name, "--lib",
            DEMO_SO, "--json", url=u)
    assert p.returncode == 1
    assert json.loads(p.stdout)["success"] is False


# ---- tokens and multi-tenancy ------------------------------------------------------


def b64url(data):
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def test_token_minting_offline():
    fails(run("token", "--tenant", "acme"), 2,
          "environment variable PLEXSPACES_JWT_SECRET is not set")
    fails(run("token", "--tenant", "acme",
              env={"PLEXSPACES_JWT_SECRET": "too-short"}), 2,
          "needs at least 32")
    fails(run("token", env={"PLEXSPACES_JWT_SECRET": SECRET}), 2,
          "--tenant T is required")
    fails(run("token", "--tenant", "no spaces",
              env={"PLEXSPACES_JWT_SECRET": SECRET}), 2, "cannot mint")

    tok = ok(run("token", "--tenant", "acme", "--roles", "reader,developer",
                 "--sub", "ada", "--ttl", "600", "--issuer", "me",
                 "--audience", "them", "--secret-env", "MY_SECRET",
                 env={"MY_SECRET": SECRET})).strip()
    head, body, sig = tok.split(".")
    assert json.loads(b64url(head))["alg"] == "HS256"
    want = hmac.new(SECRET.encode(), f"{head}.{body}".encode(),
                    hashlib.sha256).digest()
    assert b64url(sig) == want
    claims = json.loads(b64url(body))
    assert claims["tenant_id"] == "acme" and claims["sub"] == "ada"
    assert claims["roles"] == ["reader", "developer"]
    assert claims["iss"] == "me" and claims["aud"] == "them"
    assert claims["exp"] - claims["iat"] == 600
    assert "is_admin" not in claims


AUTH_CONFIG = """
[auth]
mode = "jwt"
hs256_secret_env = "PX_CLI_TEST_SECRET"
"""


@pytest.fixture
def auth_node(tmp_data):
    n = Node(tmp_data, config_text=AUTH_CONFIG,
             env={"PX_CLI_TEST_SECRET": SECRET})
    yield n
    code, err = n.stop()
    assert code == 0, err


def test_tokens_against_a_node_with_auth(auth_node):
    u = auth_node.url
    secret = {"PLEXSPACES_JWT_SECRET": SECRET}

    def mint(tenant, roles):
        return ok(run("token", "--tenant", tenant, "--roles", roles,
                      env=secret)).strip()

    fails(run("status", url=u), 1, "missing bearer token", "HTTP 401")
    fails(run("apps", url=u, token="not-a-jwt"), 1, "invalid token",
          "HTTP 401")
    reader, admin = mint("acme", "reader"), mint("acme", "admin")
    assert "tenant:       acme" in ok(run("status", url=u, token=reader))
    # A token read from a file keeps its line break: it is trimmed.
    assert "tenant:       acme" in ok(run("status", url=u,
                                          token=reader + "\n"))
    fails(run("status", url=u, token=reader + " x"), 2,
          "PLEXSPACES_TOKEN contains a space")
    fails(run("deploy", "--app", "shop", "--config", DEMO_CONFIG, "--lib",
              DEMO_SO, url=u, token=reader), 1,
          "do not allow app.deploy", "HTTP 403")
    ok(run("deploy", "--app", "shop", "--config", DEMO_CONFIG, "--lib",
           DEMO_SO, url=u, token=admin))
    assert "shop" in ok(run("apps", url=u, token=reader))
    fails(run("ask", "shop", "counter", "get", url=u, token=reader), 1,
          "HTTP 403")
    # Another tenant sees nothing of acme's.
    other = mint("globex", "admin")
    assert ok(run("apps", url=u, token=other)) == "no applications\n"
    fails(run("ask", "shop", "counter", "get", url=u, token=other), 1,
          'no actor "counter"', "HTTP 404")
    assert json.loads(ok(run("ask", "shop", "counter", "get", url=u,
                             token=admin))) == {"value": 0}
