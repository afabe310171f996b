"""The tuple space over HTTP: write, read, take, count with JSON tuples and
templates (null wildcards, {"$type": ...} formals), leases, write-if-absent,
blocking takes, and template errors."""

import threading

from conftest import Node, wait_until


def sp(node, op, body, space="jobs", ns="shop"):
    return node.post(f"/api/v1/spaces/{ns}/{space}/{op}", body)


def test_write_read_take_count(node):
    assert sp(node, "write", {"tuple": ["job", 1, "resize"]}).status == 200
    assert sp(node, "write", {"tuples": [["job", 2, "crop"], ["job", 3, "blur"]]}).status == 200
    assert sp(node, "count", {"template": ["job", None, None]}).json["count"] == 3
    r = sp(node, "read", {"template": ["job", {"$type": "int"}, "crop"]})
    assert r.json == {"found": True, "tuple": ["job", 2, "crop"]}
    r = sp(node, "take", {"template": ["job", None, None]})
    assert r.json["tuple"] == ["job", 1, "resize"]  # oldest first
    r = sp(node, "read", {"template": ["job", None, None], "all": True})
    assert r.json["tuples"] == [["job", 2, "crop"], ["job", 3, "blur"]]
    r = sp(node, "take", {"template": ["job", None, None], "all": True})
    assert len(r.json["tuples"]) == 2
    r = sp(node, "take", {"template": ["job", None, None]})
    assert r.status == 200 and r.json == {"found": False, "tuple": None}


def test_type_formals_and_ranges(node):
    sp(node, "write", {"tuple": ["t", 5]})
    sp(node, "write", {"tuple": ["t", "five"]})
    sp(node, "write", {"tuple": ["t", 5.5]})
    assert sp(node, "count", {"template": ["t", {"$type": "string"}]}).json["count"] == 1
    assert sp(node, "count", {"template": ["t", {"$type": "double"}]}).json["count"] == 1
    assert sp(node, "count", {"template": ["t", {"$range": [1, 9]}]}).json["count"] == 1


def test_write_if_absent(node):
    body = {"tuple": ["agent", "a1", "planner"], "if_absent": ["agent", "a1", None]}
    assert sp(node, "write", body).status == 200
    r = sp(node, "write", body)
    assert r.status == 409 and "nothing was written" in r.json["error"]
    assert sp(node, "count", {"template": ["agent", "a1", None]}).json["count"] == 1


def test_blocking_take_is_woken_by_a_write(node):
    out = {}

    def taker():
        out["r"] = sp(node, "take", {"template": ["wake", None], "timeout_ms": 20000})

    t = threading.Thread(target=taker)
    t.start()
    # The write may come before or after the take parks: both must end with
    # the taker holding the tuple.
    assert sp(node, "write", {"tuple": ["wake", 1]}).status == 200
    t.join(30)
    assert out["r"].json == {"found": True, "tuple": ["wake", 1]}


def test_lease_expires(node):
    assert sp(node, "write", {"tuple": ["lease", 1], "ttl_ms": 50}).status == 200
    wait_until(lambda: sp(node, "count", {"template": ["lease", None]}).json["count"] == 0,
               what="the lease to expire")


def test_bad_templates_and_tuples_are_400(node):
    cases = [
        ("write", {"tuple": []}),
        ("write", {"tuple": "nope"}),
        ("write", {}),
        ("read", {"template": {"a": 1}}),
        ("read", {"template": ["x", {"$type": "nosuchtype"}]}),
        ("read", {"template": ["x", {"$range": [1]}]}),
        ("take", {"template": ["x"], "timeout_ms": "soon"}),
        ("count", {}),
        ("write", {"tuples": "x"}),
    ]
    for op, body in cases:
        r = sp(node, op, body)
        assert r.status == 400, (op, body, r)
    r = node.request("POST", "/api/v1/spaces/shop/jobs/read", raw=b"[[[")
    assert r.status == 400
    assert node.post("/api/v1/spaces/shop/jobs/scan", {}).status == 404


def test_tuples_survive_a_restart(tmp_data):
    n = Node(tmp_data)
    assert n.post("/api/v1/spaces/ns1/durable/write", {"tuple": ["keep", 1]}).status == 200
    code, err = n.stop()
    assert code == 0, err
    n = Node(tmp_data)
    try:
        r = n.post("/api/v1/spaces/ns1/durable/read", {"template": ["keep", None]})
        assert r.json["tuple"] == ["keep", 1]
    finally:
        assert n.stop()[0] == 0
