"""WebAssembly apps on a real node, driven over HTTP (and the CLI once):
the example apps of examples/wasm/{c,go,assemblyscript} (one protocol,
roles counter, agent and crasher), hand-written WAT guests for the sandbox
and the deploy-time checks (tests/node/wasm/*.wat, built with wabt's
wat2wasm), the compiled-module cache and durable WASM state.

The example modules come from PX_WASM_EXAMPLES (CTest passes
<build>/examples/wasm). Most tests share one node per module (the Go module
takes seconds to compile in a Debug build) that runs with one worker
thread, so a guest that blocks its worker would show as actors that stop
answering."""

import http.server
import os
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import uuid

import pytest

import conftest
from conftest import BIN, WASM_EXAMPLES, Node, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
WAT_DIR = os.path.join(HERE, "wasm")

LANGS = ["c", "go", "assemblyscript"]
APP = {"c": "wasm_c", "go": "wasm_go", "assemblyscript": "wasm_as"}
ID_RE = re.compile(r"^<\d+\.\d+\.\d+>$")


def module_path(lang):
    return os.path.join(WASM_EXAMPLES, f"{lang}_agents.wasm")


# ---- a node whose log is read while it runs ---------------------------------------


class LoggedNode:
    """A Node whose stderr (the node log) is drained by a thread into a
    list, so a chatty guest can never fill the pipe and stall the node, and
    tests can wait for log lines while it runs. It is taken off conftest's
    per-test cleanup list: module-scoped nodes outlive a test."""

    def __init__(self, data_dir, config_text=None):
        self.node = Node(data_dir, config_text=config_text)
        conftest.LIVE.remove(self.node)
        self.lines = []
        self.mu = threading.Lock()
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self):
        for line in self.node.proc.stderr:
            with self.mu:
                self.lines.append(line.rstrip("\n"))

    def log(self):
        with self.mu:
            return "\n".join(self.lines)

    def log_lines(self):
        with self.mu:
            return list(self.lines)

    def __getattr__(self, name):
        return getattr(self.node, name)

    def stop(self, timeout=60):
        """SIGTERM; returns the exit code once the process and its log
        have ended."""
        p = self.node.proc
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            code = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise
        self.reader.join(timeout=10)
        return code

    def kill(self):
        if self.node.proc.poll() is None:
            self.node.proc.kill()
            self.node.proc.wait()


def ask(node_, app_, target_, op_, **payload):
    """Asks NS/TARGET the message OP with the keyword arguments as payload."""
    return node_.post(f"/api/v1/actors/{app_}/{target_}/ask",
                      {"op": op_, **payload})


def ok_payload(r):
    assert r.status == 200, r
    assert r.json["success"] is True, r
    return r.json["payload"]


def err_payload(r):
    """The error value of an ask the actor answered with an error."""
    assert r.status == 500, r
    assert r.json["success"] is False, r
    return r.json["payload"]


def app_ids(n):
    r = n.get("/api/v1/applications")
    assert r.status == 200, r
    return {a["application_id"] for a in r.json["applications"]}


# ---- the local service a service link points at -------------------------------------


class _Service(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/created"):
            code, body = 201, b"made it"
        else:
            code, body = 200, f"pong {self.path}".encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture(scope="module")
def service():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Service)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


# ---- WAT guests -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wat():
    """{name: bytes} of tests/node/wasm/NAME.wat, compiled with wat2wasm."""
    tool = shutil.which("wat2wasm")
    if not tool:
        pytest.skip("wabt's wat2wasm is not installed")
    out = {}
    with tempfile.TemporaryDirectory(prefix="px-wat-") as d:
        for f in sorted(os.listdir(WAT_DIR)):
            if not f.endswith(".wat"):
                continue
            dst = os.path.join(d, f[:-4] + ".wasm")
            subprocess.run([tool, os.path.join(WAT_DIR, f), "-o", dst],
                           check=True, capture_output=True)
            with open(dst, "rb") as fh:
                out[f[:-4]] = fh.read()
    return out


# ---- the shared node -----------------------------------------------------------------

# One worker thread: a guest that held its worker (sleeping, spinning)
# would stop every other actor of the node.
SHARED_NODE_TOML = """\
[node]
workers = 1

[wasm]
max_run_ms = 1000
max_module_bytes = 8388608
"""

MAX_MODULE_BYTES = 8388608


def agents_config(app, service_url):
    return f"""\
version = "1.0.0"
name = "{app}"

[supervisor]
strategy = "one_for_one"
max_restarts = 100
max_restart_window_seconds = 60

[[supervisor.children]]
name = "counter"
actor_type = "counter"
role = "counter"
args = {{ start = 0 }}

[[supervisor.children]]
name = "counter2"
actor_type = "counter2"
role = "counter"
args = {{ start = 10 }}

[[supervisor.children]]
name = "agent"
actor_type = "agent"
role = "agent"
args = {{ name = "alpha" }}

[[supervisor.children]]
name = "beta"
actor_type = "beta"
role = "agent"
args = {{ name = "beta" }}

[[supervisor.children]]
name = "crasher"
actor_type = "crasher"
role = "crasher"
restart = "permanent"

[[service_links]]
name = "web"
base_url = "{service_url}"
timeout_secs = 5
"""


SANDBOX_CONFIG = """\
version = "1.0.0"
name = "sandbox"

[supervisor]
strategy = "one_for_one"
max_restarts = 20
max_restart_window_seconds = 60

[[supervisor.children]]
name = "box"
actor_type = "box"
restart = "permanent"
"""


@pytest.fixture(scope="module")
def shared(service, wat):
    """One node (workers = 1, max_run_ms = 1000) with the three example
    apps deployed as wasm_c, wasm_go and wasm_as, and the WAT sandbox
    guest as "sandbox"."""
    d = tempfile.mkdtemp(prefix="px-wasm-")
    data = os.path.join(d, "data")
    os.mkdir(data)
    n = LoggedNode(data, config_text=SHARED_NODE_TOML)
    try:
        for lang in LANGS:
            r = n.deploy_wasm(APP[lang], module_path(lang),
                              agents_config(APP[lang], service))
            assert r.status == 200, (lang, r)
        r = n.deploy_wasm("sandbox", wat["sandbox"], SANDBOX_CONFIG)
        assert r.status == 200, r
        yield n
        assert n.stop() == 0, n.log()[-3000:]
    finally:
        n.kill()
        shutil.rmtree(d, ignore_errors=True)


lang_param = pytest.mark.parametrize("lang", LANGS)


# ---- 1. counter --------------------------------------------------------------------------


@lang_param
def test_counter_add_get_and_independent_counters(shared, lang):
    app = APP[lang]
    c0 = ok_payload(ask(shared, app, "counter", "get"))["count"]
    c2 = ok_payload(ask(shared, app, "counter2", "get"))["count"]
    assert ok_payload(ask(shared, app, "counter", "add", n=5)) == {"count": c0 + 5}
    assert ok_payload(ask(shared, app, "counter", "add", n=-2)) == {"count": c0 + 3}
    assert ok_payload(ask(shared, app, "counter", "get")) == {"count": c0 + 3}
    # counter2 is another actor of the same role: its own state and its
    # own start argument.
    assert ok_payload(ask(shared, app, "counter2", "get")) == {"count": c2}
    assert ok_payload(ask(shared, app, "counter2", "add", n=1000)) == \
        {"count": c2 + 1000}
    assert ok_payload(ask(shared, app, "counter", "get")) == {"count": c0 + 3}
    assert err_payload(ask(shared, app, "counter", "nosuchop")) == \
        {"error": "unknown_call"}
    assert ok_payload(ask(shared, app, "counter", "get")) == {"count": c0 + 3}


@lang_param
def test_payload_without_required_fields_is_invalid(shared, lang):
    """The protocol's error reply for a payload that lacks the fields a
    message needs is {"error": "invalid"}; the actor answers on."""
    app = APP[lang]
    c0 = ok_payload(ask(shared, app, "counter", "get"))["count"]
    assert err_payload(ask(shared, app, "counter", "add")) == {"error": "invalid"}
    assert err_payload(ask(shared, app, "counter", "add", n="five")) == \
        {"error": "invalid"}
    assert ok_payload(ask(shared, app, "counter", "get")) == {"count": c0}
    for op in ("lookup", "kv_incr", "kv_put", "kv_get", "log", "metric",
               "fetch", "ask_id"):
        assert err_payload(ask(shared, app, "agent", op)) == \
            {"error": "invalid"}, op
    assert ok_payload(ask(shared, app, "agent", "whoami"))["name"] == "alpha"


@lang_param
def test_counter_tell_add_is_seen_by_a_later_get(shared, lang):
    app = APP[lang]
    c0 = ok_payload(ask(shared, app, "counter", "get"))["count"]
    r = shared.post(f"/api/v1/actors/{app}/counter", {"op": "add", "n": 7})
    assert r.status == 202, r
    # The tell is in the mailbox before the 202, so the get comes after it.
    assert ok_payload(ask(shared, app, "counter", "get")) == {"count": c0 + 7}


# ---- 2. agent ----------------------------------------------------------------------------


@lang_param
def test_agent_whoami_registers_in_tuple_space_and_lookup(shared, lang):
    app = APP[lang]
    me = ok_payload(ask(shared, app, "agent", "whoami"))
    assert me["name"] == "alpha"
    assert ID_RE.match(me["id"]), me
    # The id is the actor's own: the HTTP envelope names the same ref.
    r = ask(shared, app, "agent", "whoami")
    assert r.json["actor_id"] == f"{app}/agent@{me['id']}"
    r = shared.post(f"/api/v1/spaces/{app}/default/read",
                    {"template": ["agent", "alpha", None]})
    assert r.status == 200, r
    assert r.json["found"] is True, r
    assert r.json["tuple"] == ["agent", "alpha", me["id"]]
    # Both agents registered, each under its own name.
    beta = ok_payload(ask(shared, app, "beta", "whoami"))
    assert beta["name"] == "beta" and beta["id"] != me["id"]
    r = shared.post(f"/api/v1/spaces/{app}/default/count",
                    {"template": ["agent", None, None]})
    assert r.status == 200 and r.json["count"] == 2, r
    assert ok_payload(ask(shared, app, "agent", "lookup", name="beta")) == \
        {"id": beta["id"]}
    assert ok_payload(ask(shared, app, "beta", "lookup", name="alpha")) == \
        {"id": me["id"]}
    assert err_payload(ask(shared, app, "agent", "lookup", name="nobody")) == \
        {"error": "not_found"}
    # Another app's agent is in another namespace's space.
    other = APP[LANGS[(LANGS.index(lang) + 1) % 3]]
    r = shared.post(f"/api/v1/spaces/{other}/default/read",
                    {"template": ["agent", "alpha", me["id"]]})
    assert r.status == 200 and r.json["found"] is False, r


@lang_param
def test_agent_asks_peer_and_actor_by_id(shared, lang):
    app = APP[lang]
    beta = ok_payload(ask(shared, app, "beta", "whoami"))
    r = ask(shared, app, "agent", "ask_peer", name="beta", type="whoami",
            payload={})
    assert ok_payload(r) == {"reply": {"name": "beta", "id": beta["id"]}}
    # The peer's error comes back as the status name.
    r = ask(shared, app, "agent", "ask_peer", name="beta", type="lookup",
            payload={"name": "nobody"})
    assert err_payload(r) == {"error": "remote"}
    assert err_payload(ask(shared, app, "agent", "ask_peer", name="ghost",
                           type="whoami", payload={})) == {"error": "not_found"}
    # Asking itself would wait forever: the host refuses (ERR_INVALID)
    # and the agent goes on.
    assert err_payload(ask(shared, app, "agent", "ask_peer", name="alpha",
                           type="whoami", payload={})) == {"error": "invalid"}
    assert ok_payload(ask(shared, app, "agent", "whoami"))["name"] == "alpha"
    # ask_id with the counter's ref (the HTTP envelope names it).
    r = ask(shared, app, "counter", "get")
    c = ok_payload(r)["count"]
    cid = r.json["actor_id"].split("@", 1)[1]
    r = ask(shared, app, "agent", "ask_id", id=cid, type="add", payload={"n": 2})
    assert ok_payload(r) == {"reply": {"count": c + 2}}
    assert ok_payload(ask(shared, app, "counter", "get")) == {"count": c + 2}
    # A ref that names no live actor.
    r = ask(shared, app, "agent", "ask_id", id="<1.999999.1>", type="get",
            payload={})
    assert err_payload(r) == {"error": "no_proc"}


NESTED = {
    "ints": [0, 1, -1, 127, 128, -32, -33, 255, 256, -129, 65536, -70000,
             2 ** 31, -(2 ** 31) - 1, 2 ** 40, -(2 ** 40), 2 ** 63 - 1,
             -(2 ** 63)],
    "floats": [3.25, -0.5, 1e-300, 123456.789],
    "strings": ["", "plain", "héllo wörld", "日本語テキスト", "emoji 🎉", "a\"b\\c\n"],
    "flags": [True, False, None],
    "nested": {"a": {"b": {"c": [[], {}, [1, [2, [3]]]]}}, "k": None},
    "long": "x" * 5000,
}


@lang_param
def test_agent_restarted_points_its_tuple_at_the_new_instance(shared, lang):
    """A restarted agent finds its old entry (write_if_absent conflicts)
    and replaces it: lookup names the new instance."""
    app = APP[lang]
    old = ok_payload(ask(shared, app, "beta", "whoami"))["id"]
    r = shared.delete(f"/api/v1/actors/{app}/beta")
    assert r.status == 200, r
    new = wait_until(lambda: (r := ask(shared, app, "beta", "whoami")).status
                     == 200 and r.json["payload"]["id"] != old and
                     r.json["payload"]["id"], what="beta restarted")
    assert ok_payload(ask(shared, app, "agent", "lookup", name="beta")) == \
        {"id": new}
    r = shared.post(f"/api/v1/spaces/{app}/default/read",
                    {"template": ["agent", "beta", None], "all": True})
    assert r.status == 200 and r.json["tuples"] == [["agent", "beta", new]], r
    r = ask(shared, app, "agent", "ask_peer", name="beta", type="whoami",
            payload={})
    assert ok_payload(r) == {"reply": {"name": "beta", "id": new}}


@lang_param
def test_agent_kv_incr_put_get_and_echo(shared, lang):
    app = APP[lang]
    key = f"cnt-{uuid.uuid4().hex[:8]}"
    assert ok_payload(ask(shared, app, "agent", "kv_incr", key=key)) == {"value": 1}
    assert ok_payload(ask(shared, app, "agent", "kv_incr", key=key)) == {"value": 2}
    assert ok_payload(ask(shared, app, "agent", "kv_incr", key=key, by=40)) == \
        {"value": 42}
    assert ok_payload(ask(shared, app, "agent", "kv_incr", key=key, by=-50)) == \
        {"value": -8}
    # The store is the app's: the other agent sees the same key.
    assert ok_payload(ask(shared, app, "beta", "kv_incr", key=key)) == {"value": -7}

    vkey = f"doc-{uuid.uuid4().hex[:8]}"
    assert ok_payload(ask(shared, app, "agent", "kv_put", key=vkey,
                          value=NESTED)) == {"ok": True}
    assert ok_payload(ask(shared, app, "beta", "kv_get", key=vkey)) == \
        {"value": NESTED}
    assert ok_payload(ask(shared, app, "agent", "kv_put", key=vkey,
                          value=[1, "two"])) == {"ok": True}
    assert ok_payload(ask(shared, app, "agent", "kv_get", key=vkey)) == \
        {"value": [1, "two"]}
    assert err_payload(ask(shared, app, "agent", "kv_get",
                           key="missing-" + vkey)) == {"error": "not_found"}

    body = {"op": "echo", "doc": NESTED, "top": -3, "f": 0.125}
    r = shared.post(f"/api/v1/actors/{app}/agent/ask", body)
    assert ok_payload(r) == body


def _timed_ask(node_, app_, target_, op_, **payload):
    t0 = time.monotonic()
    r = ask(node_, app_, target_, op_, **payload)
    return t0, time.monotonic(), r


@lang_param
def test_agent_sleep_does_not_block_the_worker(shared, lang):
    """alpha sleeps 1 s; beta (same app, same single worker thread) keeps
    answering asks all the while. A blocked worker would hold every ask
    sent during the sleep until its end; the bounds below are far from
    that and leave room for a loaded sanitizer run."""
    app = APP[lang]
    out = {}

    def sleeper():
        out["sleep"] = _timed_ask(shared, app, "agent", "sleep", ms=1000)

    t = threading.Thread(target=sleeper)
    t.start()
    quick = []
    while t.is_alive():
        quick.append(_timed_ask(shared, app, "beta", "whoami"))
    t.join()
    s0, s1, sr = out["sleep"]
    assert ok_payload(sr) == {"slept": 1000}
    assert s1 - s0 >= 0.99
    for q0, q1, qr in quick:
        assert ok_payload(qr)["name"] == "beta"
    # asks sent well inside the sleep answered well before it ended
    inside = [(q0, q1) for q0, q1, _ in quick if q0 - s0 > 0.05 and q1 < s1]
    assert inside, "no quick ask overlapped the sleep"
    lat = [q1 - q0 for q0, q1 in inside]
    assert statistics.median(lat) < 0.25, lat
    assert any(s0 + 0.05 < q1 < s0 + 0.5 for _, q1 in inside), inside


@lang_param
def test_agent_info_clock_and_random(shared, lang):
    t0 = time.time() * 1000
    info = ok_payload(ask(shared, APP[lang], "agent", "info"))
    t1 = time.time() * 1000
    assert t0 - 1000 <= info["now_ms"] <= t1 + 1000, (t0, info, t1)
    assert info["random_len"] == 16


@lang_param
def test_agent_log_goes_to_node_log_twice(shared, lang):
    app = APP[lang]
    me = ok_payload(ask(shared, app, "agent", "whoami"))["id"]
    msg = f"wasm-log-{lang}-{uuid.uuid4().hex}"
    assert ok_payload(ask(shared, app, "agent", "log", msg=msg)) == {"ok": True}

    def both():
        hits = [l for l in shared.log_lines() if msg in l]
        return hits if len(hits) >= 2 else None

    hits = wait_until(both, timeout=15, what="both log lines")
    assert len(hits) == 2, hits
    # one from plexspaces.log, tagged with the actor; one from WASI stdout
    assert any(f"agent {me}: {msg}" in h and "stdout" not in h for h in hits), hits
    assert any(f"agent {me} stdout: {msg}" in h for h in hits), hits


def metric_value(n, namespace, name):
    r = n.get("/metrics")
    assert r.status == 200, r
    for line in r.body.splitlines():
        if line.startswith("plexspaces_wasm_app_metric_total{") and \
                f'namespace="{namespace}"' in line and f'name="{name}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return None


@lang_param
def test_agent_metric_is_exported(shared, lang):
    app = APP[lang]
    name = f"jobs_done_{lang}"
    assert metric_value(shared, app, name) is None
    assert ok_payload(ask(shared, app, "agent", "metric", name=name,
                          delta=2.5)) == {"ok": True}
    assert ok_payload(ask(shared, app, "beta", "metric", name=name,
                          delta=1.5)) == {"ok": True}
    assert metric_value(shared, app, name) == 4.0
    # names are [a-z0-9_]{1,64}; deltas are >= 0
    assert err_payload(ask(shared, app, "agent", "metric", name="Bad-Name",
                           delta=1.0)) == {"error": "invalid"}
    assert err_payload(ask(shared, app, "agent", "metric", name=name,
                           delta=-1.0)) == {"error": "invalid"}
    assert metric_value(shared, app, name) == 4.0
    assert metric_value(shared, app, "bad_name") is None


@lang_param
def test_agent_spawns_counters(shared, lang):
    app = APP[lang]
    a = ok_payload(ask(shared, app, "agent", "spawn_counter"))["id"]
    b = ok_payload(ask(shared, app, "agent", "spawn_counter"))["id"]
    assert ID_RE.match(a) and ID_RE.match(b) and a != b
    r = ask(shared, app, "agent", "ask_id", id=a, type="add", payload={"n": 5})
    assert ok_payload(r) == {"reply": {"count": 105}}
    r = ask(shared, app, "agent", "ask_id", id=a, type="add", payload={"n": 1})
    assert ok_payload(r) == {"reply": {"count": 106}}
    r = ask(shared, app, "beta", "ask_id", id=b, type="get", payload={})
    assert ok_payload(r) == {"reply": {"count": 100}}


@lang_param
def test_agent_fetch_through_service_link(shared, lang):
    app = APP[lang]
    r = ask(shared, app, "agent", "fetch", link="web", path="/hello?x=1")
    assert ok_payload(r) == {"status": 200, "body": "pong /hello?x=1"}
    r = ask(shared, app, "beta", "fetch", link="web", path="/created")
    assert ok_payload(r) == {"status": 201, "body": "made it"}
    r = ask(shared, app, "agent", "fetch", link="elsewhere", path="/")
    assert err_payload(r) == {"error": "not_permitted"}


# ---- 3. crasher ---------------------------------------------------------------------------


def ping(n, app):
    r = ask(n, app, "crasher", "ping")
    return r.json["payload"] if r.status == 200 else None


@lang_param
def test_crasher_crash_is_restarted(shared, lang):
    app = APP[lang]
    p = wait_until(lambda: ping(shared, app), what="crasher up")
    assert p["pong"] is True and p["starts"] >= 1
    traps = shared.log().count("[wasm_trap,unreachable]")
    r = ask(shared, app, "crasher", "crash")
    assert r.status == 500, r
    assert r.json["success"] is False
    wait_until(lambda: shared.log().count("[wasm_trap,unreachable]") > traps,
               timeout=15, what="the trap in the log")
    after = wait_until(lambda: (q := ping(shared, app)) and
                       q["starts"] > p["starts"] and q,
                       what="the restarted crasher")
    assert after["pong"] is True
    assert after["starts"] == p["starts"] + 1
    # the rest of the app never noticed
    assert ok_payload(ask(shared, app, "agent", "whoami"))["name"] == "alpha"


@lang_param
def test_crasher_spin_is_preempted_then_trapped(shared, lang):
    """With one worker thread, a guest spinning for max_run_ms (1 s here)
    must yield every time slice: the counter of the same app keeps
    answering meanwhile. Then the spin traps with cpu_limit and the
    supervisor restarts the crasher."""
    app = APP[lang]
    p = wait_until(lambda: ping(shared, app), what="crasher up")
    out = {}

    def spinner():
        out["spin"] = _timed_ask(shared, app, "crasher", "spin")

    t = threading.Thread(target=spinner)
    t.start()
    quick = []
    while t.is_alive():
        quick.append(_timed_ask(shared, app, "counter", "get"))
    t.join()
    s0, s1, sr = out["spin"]
    # the node's log tail says where the time went if this ever fails
    assert sr.status == 500, (sr, s1 - s0, len(quick), shared.log()[-4000:])
    assert sr.json["success"] is False
    # it ran about max_run_ms of CPU, preempted, not cut short
    assert 0.9 <= s1 - s0 < 5, s1 - s0
    for _, _, qr in quick:
        assert qr.status == 200, qr
    inside = [q1 - q0 for q0, q1, _ in quick if q0 - s0 > 0.1 and q1 < s1]
    assert len(inside) >= 3, len(inside)
    assert statistics.median(inside) < 0.1, inside
    wait_until(lambda: re.search(r"crasher <[\d.]+> crashed \(cpu_limit\)",
                                 shared.log()), timeout=15,
               what="the cpu_limit trap in the log")
    after = wait_until(lambda: (q := ping(shared, app)) and
                       q["starts"] > p["starts"] and q,
                       what="the restarted crasher")
    assert after["pong"] is True


@lang_param
def test_crasher_grow_past_memory_limit(shared, lang):
    app = APP[lang]
    wait_until(lambda: ping(shared, app), what="crasher up")
    # Within the limit (64 MiB by default) it works.
    assert ok_payload(ask(shared, app, "crasher", "grow", mb=4)) == {"ok": True}
    r = ask(shared, app, "crasher", "grow", mb=100)
    if r.status == 200:
        assert r.json["payload"] == {"ok": False}, r
    else:
        assert r.status == 500, r
    assert shared.healthy()
    assert ok_payload(ask(shared, app, "counter", "get"))["count"] is not None
    assert ok_payload(ask(shared, app, "agent", "whoami"))["name"] == "alpha"
    p = wait_until(lambda: ping(shared, app), what="crasher answers again")
    assert p["pong"] is True


# ---- 5. the sandbox, with a hand-written guest ----------------------------------------------


def box(n, op):
    return n.post("/api/v1/actors/sandbox/box/ask", {"op": op})


def test_sandbox_log_out_of_bounds_is_err_invalid(shared):
    assert ok_payload(box(shared, "hello")) is True
    # px_handle replies true when plexspaces.log returned -4 (ERR_INVALID)
    assert ok_payload(box(shared, "log_oob")) is True
    assert ok_payload(box(shared, "hello")) is True


def test_sandbox_read_out_of_bounds_traps(shared):
    before = shared.log().count("memory_out_of_bounds")
    r = box(shared, "read_oob")
    assert r.status == 500, r
    wait_until(lambda: shared.log().count("memory_out_of_bounds") > before,
               timeout=15, what="memory_out_of_bounds in the log")
    assert re.search(r"box <[\d.]+> crashed \(memory_out_of_bounds\)",
                     shared.log())
    assert shared.healthy()
    wait_until(lambda: box(shared, "hello").status == 200,
               what="the box restarted")
    assert ok_payload(ask(shared, "wasm_c", "counter", "get"))["count"] is not None


def test_sandbox_wasi_has_no_files(shared):
    # errno 8 = EBADF (fd 3 is not a preopened directory); 76 = ENOTCAPABLE
    errno = ok_payload(box(shared, "path_open"))
    assert errno in (8, 76), errno


def test_sandbox_wasi_stdout_goes_to_the_log(shared):
    assert ok_payload(box(shared, "write_out")) == 0
    wait_until(lambda: re.search(r"box <[\d.]+> stdout: sandbox-stdout-7f3a",
                                 shared.log()),
               timeout=15, what="the guest's stdout line in the log")


def test_sandbox_random_past_its_limit_is_err_resource(shared):
    # px_handle replies true when plexspaces.random of 70000 bytes
    # returned -6 (ERR_RESOURCE)
    assert ok_payload(box(shared, "n_random")) is True


@pytest.mark.parametrize("op,trap", [
    ("zero_div", r"crashed \(integer_divide_by_zero\)"),
    ("stack", r"crashed \(stack_overflow\)"),
    ("exit", r"called proc_exit\(3\)"),
], ids=["integer_divide_by_zero", "stack_overflow", "proc_exit"])
def test_sandbox_traps_crash_only_the_actor(shared, op, trap):
    pat = re.compile(r"box <[\d.]+> " + trap)
    before = len(pat.findall(shared.log()))
    r = box(shared, op)
    assert r.status == 500 and r.json["success"] is False, r
    wait_until(lambda: len(pat.findall(shared.log())) > before, timeout=15,
               what=f"{trap} in the log")
    if op == "exit":
        # the supervisor's line comes after the host's
        wait_until(lambda: "[wasm_exit,3]" in shared.log(), timeout=10,
                   what="the supervisor logging [wasm_exit,3]")
    assert shared.healthy()
    wait_until(lambda: box(shared, "hello").status == 200,
               what="the box restarted")
    assert ok_payload(ask(shared, "wasm_as", "counter", "get"))["count"] is not None


# ---- 4. deploy-time checks --------------------------------------------------------------------


def custom_section(name, size):
    """A custom section (id 0) named NAME with SIZE bytes of payload."""
    def leb(v):
        out = bytearray()
        while True:
            b = v & 0x7F
            v >>= 7
            out.append(b | (0x80 if v else 0))
            if not v:
                return bytes(out)
    body = leb(len(name)) + name.encode() + b"\0" * size
    return b"\0" + leb(len(body)) + body


BAD_MODULES = {
    # id: (bytes from the wat dict, key words of the error)
    "random_bytes": (lambda w: b"MZ" + os.urandom(4094),
                     ["neither an ELF", "WebAssembly module"]),
    "truncated": (lambda w: w["minimal"][: len(w["minimal"]) // 2],
                  ["not valid WebAssembly"]),
    "garbage_after_header": (lambda w: b"\0asm\x01\0\0\0" + b"\xff" * 64,
                             ["not valid WebAssembly"]),
    "component": (lambda w: b"\0asm\x0d\x00\x01\x00" + w["minimal"][8:],
                  ["component", "core modules"]),
    "no_px_handle": (lambda w: w["no_handle"], ["does not export px_handle"]),
    "unknown_import": (lambda w: w["unknown_import"],
                       ["plexspaces.frobnicate", "does not have"]),
    "send_wrong_signature": (lambda w: w["bad_send_sig"],
                             ["plexspaces.send", "wrong type",
                              "(i32, i32) -> i64"]),
    "env_import": (lambda w: w["env_import"],
                   ["env.abort", "wasi_snapshot_preview1"]),
    "abi_version_2": (lambda w: w["abi_v2"], ["ABI 2", "ABI 1"]),
    "oversized": (lambda w: w["minimal"] + custom_section(
        "padding", MAX_MODULE_BYTES + 1000),
        ["max_module_bytes", str(MAX_MODULE_BYTES)]),
    "initialize_traps": (lambda w: w["init_traps"],
                         ["failed to start", "unreachable"]),
}

MINIMAL_CONFIG = """\
version = "1.0.0"
name = "tiny"

[[supervisor.children]]
name = "w"
actor_type = "w"
"""


@pytest.mark.parametrize("case", list(BAD_MODULES))
def test_deploy_rejects_bad_module(shared, wat, case):
    make, words = BAD_MODULES[case]
    app = f"bad_{case}"
    r = shared.deploy_wasm(app, make(wat), MINIMAL_CONFIG)
    assert 400 <= r.status < 500, r
    body = r.json
    assert body["success"] is False, body
    for w in words:
        assert w in body["error"], (w, body["error"])
    assert app not in app_ids(shared)
    assert shared.get(f"/api/v1/applications/{app}").status == 404
    assert shared.post(f"/api/v1/actors/{app}/w/ask", {"op": "x"}).status == 404
    assert shared.healthy()
    assert ok_payload(ask(shared, "wasm_c", "agent", "whoami"))["name"] == "alpha"


def test_minimal_wat_module_deploys(shared, wat):
    """The base the bad modules are made from is itself fine."""
    r = shared.deploy_wasm("tiny", wat["minimal"], MINIMAL_CONFIG)
    assert r.status == 200, r
    r = shared.post("/api/v1/actors/tiny/w/ask", {"op": "anything"})
    assert r.status == 200 and r.json["payload"] is None, r
    assert shared.delete("/api/v1/applications/tiny").status == 200


def test_deploy_takes_lib_or_wasm_not_both(shared, wat):
    data, ctype = conftest.multipart({
        "application_id": "both", "name": "both", "version": "1.0.0",
        "config": MINIMAL_CONFIG, "lib": wat["minimal"],
        "wasm": wat["minimal"]})
    r = shared.request("POST", "/api/v1/applications/deploy", raw=data,
                       content_type=ctype)
    assert r.status == 400 and "not both" in r.json["error"], r
    assert "both" not in app_ids(shared)


# ---- 8. undeploy ---------------------------------------------------------------------------


@lang_param
def test_undeploy_removes_actors(shared, service, lang):
    app = f"tmp_{APP[lang]}"
    r = shared.deploy_wasm(app, module_path(lang), agents_config(app, service))
    assert r.status == 200, r
    assert ok_payload(ask(shared, app, "counter", "add", n=3)) == {"count": 3}
    me = ok_payload(ask(shared, app, "agent", "whoami"))
    assert app in app_ids(shared)
    r = shared.delete(f"/api/v1/applications/{app}")
    assert r.status == 200, r
    assert app not in app_ids(shared)
    for target in ("counter", "agent", "crasher"):
        assert ask(shared, app, target, "get").status == 404
    r = shared.get(f"/api/v1/actors?ns={app}")
    assert r.status == 200 and r.json["actors"] == [], r
    # the actor itself is gone, not just its name: asking it by ref
    # from another app fails
    r = ask(shared, APP[lang], "agent", "ask_id", id=me["id"], type="whoami",
            payload={})
    assert err_payload(r) == {"error": "no_proc"}
    assert shared.delete(f"/api/v1/applications/{app}").status == 404
    # the original app of the same module still runs
    assert ok_payload(ask(shared, APP[lang], "agent", "whoami"))["name"] == "alpha"


@lang_param
def test_undeploy_stops_spawned_actors(shared, service, lang):
    app = f"tmp2_{APP[lang]}"
    r = shared.deploy_wasm(app, module_path(lang), agents_config(app, service))
    assert r.status == 200, r
    sid = ok_payload(ask(shared, app, "agent", "spawn_counter"))["id"]
    # alive, and reachable from another app by its ref
    r = ask(shared, APP[lang], "agent", "ask_id", id=sid, type="get", payload={})
    assert ok_payload(r) == {"reply": {"count": 100}}
    assert shared.delete(f"/api/v1/applications/{app}").status == 200

    def gone():
        r = ask(shared, APP[lang], "agent", "ask_id", id=sid, type="get",
                payload={})
        return r.status == 500 and r.json["payload"] == {"error": "no_proc"}

    wait_until(gone, timeout=2, what="the spawned counter to be gone")


# ---- 6. the compiled-module cache ------------------------------------------------------------


def cli(*args, url):
    e = dict(os.environ)
    for k in ("PLEXSPACES_NODE", "PLEXSPACES_TOKEN", "PLEXSPACES_JWT_SECRET"):
        e.pop(k, None)
    return subprocess.run([BIN, *args, "--node", url], capture_output=True,
                          text=True, env=e, timeout=120)


def test_compiled_module_cache(tmp_data):
    cfg_path = os.path.join(os.path.dirname(tmp_data), "app.toml")
    with open(cfg_path, "w") as f:
        f.write(agents_config("wasm_c", "http://127.0.0.1:1"))
    n = LoggedNode(tmp_data)
    try:
        p = cli("deploy", "--app", "wasm_c", "--wasm", module_path("c"),
                "--config", cfg_path, url=n.url)
        assert p.returncode == 0, (p.stdout, p.stderr)
        assert "deployed wasm_c" in p.stdout and "running" in p.stdout, p.stdout
        assert ok_payload(ask(n, "wasm_c", "counter", "add", n=3)) == {"count": 3}
        assert n.stop() == 0
    finally:
        n.kill()
    assert "compiled in" in n.log()
    cache = os.path.join(tmp_data, "wasm-cache")
    files = [f for f in os.listdir(cache) if f.endswith(".cwasm")]
    assert len(files) == 1, files
    cwasm = os.path.join(cache, files[0])

    # A restart reloads the compiled code.
    n = LoggedNode(tmp_data)
    try:
        assert "wasm_c" in app_ids(n)
        assert ok_payload(ask(n, "wasm_c", "agent", "whoami"))["name"] == "alpha"
        assert ok_payload(ask(n, "wasm_c", "counter", "add", n=2)) == {"count": 2}
        assert n.stop() == 0
    finally:
        n.kill()
    log = n.log()
    assert "compiled code loaded from the cache" in log, log[-3000:]
    assert "compiled in" not in log, log[-3000:]

    # A damaged artifact is noticed and compiled again.
    with open(cwasm, "r+b") as f:
        size = os.path.getsize(cwasm)
        f.seek(size // 2)
        chunk = f.read(64)
        f.seek(size // 2)
        f.write(bytes(b ^ 0xFF for b in chunk))
    with open(cwasm, "rb") as f:
        damaged = f.read()
    n = LoggedNode(tmp_data)
    try:
        assert ok_payload(ask(n, "wasm_c", "counter", "add", n=4)) == {"count": 4}
        assert ok_payload(ask(n, "wasm_c", "agent", "whoami"))["name"] == "alpha"
        assert n.stop() == 0
    finally:
        n.kill()
    log = n.log()
    assert "is damaged" in log and "compiling it again" in log, log[-3000:]
    assert "compiled in" in log
    assert "compiled code loaded from the cache" not in log
    # ... and kept again, intact
    with open(cwasm, "rb") as f:
        assert f.read() != damaged
    n = LoggedNode(tmp_data)
    try:
        assert ok_payload(ask(n, "wasm_c", "counter", "get")) == {"count": 0}
        assert n.stop() == 0
    finally:
        n.kill()
    assert "compiled code loaded from the cache" in n.log()


# ---- 7. durability --------------------------------------------------------------------------


def durable_config(app):
    return f"""\
version = "1.0.0"
name = "{app}"

[supervisor]
strategy = "one_for_one"

[[supervisor.children]]
name = "counter"
actor_type = "counter"
role = "counter"
args = {{ start = 0 }}
facets = [
  {{ type = "durability", config = {{ mode = "state", checkpoint_every = 1 }} }},
]
"""


@pytest.fixture(scope="module")
def durable_restart():
    """Deploys the counter of every language with state durability, adds 7,
    restarts the node and returns {lang: the get reply after the restart}
    (plus the second node's log)."""
    d = tempfile.mkdtemp(prefix="px-wasm-dur-")
    data = os.path.join(d, "data")
    os.mkdir(data)
    try:
        n = LoggedNode(data)
        try:
            for lang in LANGS:
                app = "dur_" + APP[lang]
                r = n.deploy_wasm(app, module_path(lang), durable_config(app))
                assert r.status == 200, (lang, r)
                assert ok_payload(ask(n, app, "counter", "add", n=7)) == {"count": 7}
            assert n.stop() == 0, n.log()[-3000:]
        finally:
            n.kill()
        n = LoggedNode(data)
        try:
            got = {lang: ask(n, "dur_" + APP[lang], "counter", "get")
                   for lang in LANGS}
            assert n.stop() == 0, n.log()[-3000:]
        finally:
            n.kill()
        got["log"] = n.log()
        yield got
    finally:
        shutil.rmtree(d, ignore_errors=True)


@lang_param
def test_durable_state_survives_restart(durable_restart, lang):
    r = durable_restart[lang]
    assert ok_payload(r) == {"count": 7}, durable_restart["log"][-3000:]


@lang_param
def test_durable_state_survives_supervisor_restart(shared, lang):
    """State durability, checkpoint_every = 1: a stopped counter comes back
    from its checkpoint when the supervisor restarts it. (The reply of an
    ask goes out before that message's checkpoint is written, so the get
    after the add is what guarantees the add's checkpoint is stored.)"""
    app = f"dur2_{APP[lang]}"
    r = shared.deploy_wasm(app, module_path(lang), durable_config(app))
    assert r.status == 200, r
    try:
        assert ok_payload(ask(shared, app, "counter", "add", n=7)) == {"count": 7}
        r = ask(shared, app, "counter", "get")
        assert ok_payload(r) == {"count": 7}
        first = r.json["actor_id"]
        assert shared.delete(f"/api/v1/actors/{app}/counter").status == 200
        r = wait_until(lambda: (q := ask(shared, app, "counter", "get")).status
                       == 200 and q.json["actor_id"] != first and q,
                       what="the counter restarted")
        assert ok_payload(r) == {"count": 7}
        assert ok_payload(ask(shared, app, "counter", "add", n=1)) == {"count": 8}
    finally:
        assert shared.delete(f"/api/v1/applications/{app}").status == 200
