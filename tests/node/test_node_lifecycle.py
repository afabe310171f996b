"""The node's life: readiness, graceful shutdown with a request in flight,
config errors, metrics (promtool), structured logs."""

import json
import shutil
import signal
import subprocess
import threading

import pytest

from conftest import BIN, Node


def sigterm_during_slow_ask(n, ms, mark, timeout_s):
    """Starts an ask the greeter takes `ms` to answer, waits until it is in
    flight, sends SIGTERM; returns (exit code, stderr, the ask's reply)."""
    assert n.deploy("shop").status == 200
    out = {}

    def slow():
        out["r"] = n.post(f"/api/v1/actors/shop/greeter/ask?timeout={timeout_s}",
                          {"op": "slow", "ms": ms, "mark": mark})

    t = threading.Thread(target=slow)
    t.start()
    # The greeter writes ("slow_started", mark) before it sleeps: once that
    # tuple is readable the request is in flight.
    r = n.post("/api/v1/spaces/shop/events/read",
               {"template": ["slow_started", mark], "timeout_ms": 10000})
    assert r.json["found"] is True, r
    code, err = n.stop(signal.SIGTERM)
    t.join(30)
    return code, err, out["r"]


def test_sigterm_finishes_in_flight_requests(tmp_data):
    code, err, r = sigterm_during_slow_ask(Node(tmp_data), 800, "inflight", 10)
    assert code == 0, err
    assert r.status == 200, r
    assert r.json["payload"] == {"slept": 800}


def test_sigint_exits_zero(tmp_data):
    n = Node(tmp_data)
    assert n.healthy()
    code, err = n.stop(signal.SIGINT)
    assert code == 0, err


def test_bad_node_config_names_file_and_line(tmp_data):
    with pytest.raises(RuntimeError) as e:
        Node(tmp_data, "[http]\nmax_body_bytes = \n")
    assert ".toml:2" in str(e.value)
    with pytest.raises(RuntimeError) as e:
        Node(tmp_data, "[http]\nmax_bodybytes = 5\n")
    assert "http.max_bodybytes" in str(e.value)
    with pytest.raises(RuntimeError) as e:
        Node(tmp_data, '[log]\nformat = "xml"\n')
    assert "log.format" in str(e.value)


def test_second_node_on_same_data_dir_is_refused(tmp_data):
    n = Node(tmp_data)
    try:
        with pytest.raises(RuntimeError) as e:
            Node(tmp_data)
        assert "store" in str(e.value)
    finally:
        assert n.stop()[0] == 0


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_metrics_pass_promtool(node):
    for _ in range(3):
        node.post("/api/v1/actors/shop/counter/ask", {"op": "inc"})
    node.post("/api/v1/spaces/shop/m/write", {"tuple": [1]})
    node.get("/api/v1/nothing")
    r = node.get("/metrics")
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    text = r.body
    p = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                       capture_output=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert 'plexspaces_http_requests_total{' in text
    assert 'code="404"' in text
    assert 'plexspaces_actor_messages_total{' in text and 'namespace="shop"' in text
    assert "plexspaces_http_request_duration_seconds_bucket" in text
    assert "plexspaces_space_operations_total" in text
    assert 'plexspaces_apps_deployed{status="running",tenant="default"} 1' in text
    node.post("/api/v1/actors/shop/account:m1/ask", {"op": "balance"})
    text = node.get("/metrics").body
    assert ('plexspaces_virtual_actors_active{actor_type="account",'
            'namespace="shop",tenant="default"} 1') in text


def test_json_logs_carry_request_id_and_tenant(tmp_data):
    n = Node(tmp_data, '[log]\nlevel = "debug"\nformat = "json"\n')
    r = n.get("/api/v1/nothing")
    rid = r.headers["X-Request-Id"]
    code, err = n.stop()
    assert code == 0
    lines = [json.loads(l) for l in err.splitlines() if l.startswith("{")]
    mine = [l for l in lines if l.get("request_id") == rid]
    assert mine and mine[0]["tenant"] == "default" and mine[0]["level"] in ("debug", "warn")


def test_requests_past_the_grace_period_get_503(tmp_data):
    n = Node(tmp_data, "[shutdown]\ngrace_period_seconds = 1\n")
    code, err, r = sigterm_during_slow_ask(n, 4000, "late", 20)
    assert code == 0, err
    assert r.status == 503, r
    assert "shut down" in r.json["error"]
