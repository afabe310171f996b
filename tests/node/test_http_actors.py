"""Actors over HTTP: ask, tell, stop, list; the reply envelope and the error
statuses of the actor endpoints."""

import json

from conftest import wait_until


def ask(node, target, op, ns="shop", **payload):
    return node.post(f"/api/v1/actors/{ns}/{target}/ask", dict(payload, op=op))


def test_ask_counter_and_envelope(node):
    r = ask(node, "counter", "get")
    assert r.status == 200, r
    env = r.json
    assert set(env) == {"actor_id", "success", "payload", "error_message"}
    assert env["success"] is True and env["error_message"] is None
    start = env["payload"]["value"]
    assert ask(node, "counter", "add", n=5).status == 200
    assert ask(node, "counter", "get").json["payload"]["value"] == start + 5


def test_get_with_query_params_is_an_ask(node):
    r = node.get("/api/v1/actors/shop/greeter?op=hello&name=ada")
    assert r.status == 200, r
    assert r.json["payload"]["greeting"] == "hello, ada"


def test_tell_is_202_and_takes_effect(node):
    before = ask(node, "counter", "get").json["payload"]["value"]
    r = node.post("/api/v1/actors/shop/counter", {"op": "inc"})
    assert r.status == 202, r
    assert r.json["success"] is True
    wait_until(lambda: ask(node, "counter", "get").json["payload"]["value"] == before + 1,
               what="the told increment")
    r = node.request("PUT", "/api/v1/actors/shop/counter", body={"op": "inc"})
    assert r.status == 202, r


def test_virtual_actor_by_key(node):
    r = ask(node, "account:alice", "deposit", amount=30)
    assert r.status == 200, r
    ask(node, "account:alice", "deposit", amount=12)
    assert ask(node, "account:alice", "balance").json["payload"]["balance"] == 42
    # Another key is another actor.
    assert ask(node, "account:bob", "balance").json["payload"]["balance"] == 0


def test_stop_a_supervised_actor_restarts_it(node):
    first = ask(node, "flaky", "ping")
    r = node.delete("/api/v1/actors/shop/flaky")
    assert r.status == 200, r
    # The supervisor restarts it under a new id.
    wait_until(lambda: (lambda x: x.status == 200 and x.json["actor_id"] != first.json["actor_id"])(
        ask(node, "flaky", "ping")), what="flaky restarted")


def test_crash_gives_500_then_supervisor_restarts(node):
    r = ask(node, "flaky", "crash")
    assert r.status == 500, r  # the actor died before answering
    assert r.json["success"] is False
    wait_until(lambda: ask(node, "flaky", "ping").status == 200, what="flaky back")
    assert node.healthy()


def test_unknown_target_namespace_and_op(node):
    r = ask(node, "nosuchtype", "get")
    assert r.status == 404 and "nosuchtype" in r.json["error"]
    r = ask(node, "counter", "get", ns="nosuchns")
    assert r.status == 404
    r = ask(node, "counter", "no such op!")
    assert r.status == 400 and '"op" must be' in r.json["error"]
    r = ask(node, "counter", "x" * 65)
    assert r.status == 400
    # An op the actor does not know is its own error reply: 500.
    r = ask(node, "counter", "frobnicate")
    assert r.status == 500 and "unknown op" in r.json["error_message"]


def test_malformed_bodies_are_400(node):
    for raw in [b"{", b"[1,2", b"\xff\xfe", b'{"op": }']:
        r = node.request("POST", "/api/v1/actors/shop/counter/ask", raw=raw)
        assert r.status == 400, (raw, r)
        assert "malformed JSON" in r.json["error"]
    r = node.post("/api/v1/actors/shop/counter/ask",
                  {"op": "get", "tag": {"$atom": "http_never_seen_atom_3f9"}})
    assert r.status == 400 and "not know" in r.json["error"]
    r = node.post("/api/v1/actors/shop/counter/ask", [1, 2])
    assert r.status == 400 and "JSON object" in r.json["error"]
    r = node.post("/api/v1/actors/shop/counter/ask", {"nop": 1})
    assert r.status == 400 and '"op"' in r.json["error"]
    assert ask(node, "counter", "get").status == 200


def test_ask_timeout_is_504_and_actor_keeps_running(node):
    # greeter's "slow" op answers after the given ms; the ask gives up first.
    r = node.post("/api/v1/actors/shop/greeter/ask?timeout=1", {"op": "slow", "ms": 3000})
    assert r.status == 504, r
    assert r.json["success"] is False and "did not answer" in r.json["error_message"]
    assert ask(node, "greeter", "hello", name="x").status == 200


def test_list_actors(node):
    r = node.get("/api/v1/actors?ns=shop")
    assert r.status == 200, r
    types = {a["actor_type"] for a in r.json["actors"]}
    assert {"counter", "greeter", "flaky"} <= types
    assert all(a["namespace"] == "shop" for a in r.json["actors"])
    assert node.get("/api/v1/actors?ns=other").json["actors"] == []


def test_unknown_route_and_method(node):
    assert node.get("/api/v1/nothing").status == 404
    assert node.get("/").status == 404
    r = node.request("PATCH", "/api/v1/actors/shop/counter", body={"op": "inc"})
    assert r.status == 405
    assert node.get("/api/v1/actors/a/b/c/d/e/f/g/h/i/j/k/l").status == 404
