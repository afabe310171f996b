"""Workflows over HTTP: start, status (with wait), signal, query, cancel,
and survival across a node restart."""

from conftest import Node


def test_start_signal_query_complete(node):
    r = node.post("/api/v1/workflows/shop/order", {"id": "o-1", "input": {"sku": "book", "qty": 2}})
    assert r.status == 201, r
    assert r.json == {"workflow_id": "o-1", "status": "running"}
    # It waits for the approve signal; the query answers meanwhile.
    q = node.get("/api/v1/workflows/shop/o-1/queries/progress")
    assert q.status == 200, q
    assert node.get("/api/v1/workflows/shop/o-1").json["status"] == "running"
    r = node.post("/api/v1/workflows/shop/o-1/signals/approve", {"by": "ops"})
    assert r.status == 202, r
    r = node.get("/api/v1/workflows/shop/o-1?wait_ms=20000")
    assert r.json["status"] == "completed", r
    assert r.json["result"] is not None
    # Starting the same id again while... it is closed now; status stays.
    assert node.get("/api/v1/workflows/shop/o-1").json["status"] == "completed"


def test_duplicate_start_conflicts_and_cancel(node):
    assert node.post("/api/v1/workflows/shop/order", {"id": "o-2"}).status == 201
    r = node.post("/api/v1/workflows/shop/order", {"id": "o-2"})
    assert r.status == 409, r
    assert node.post("/api/v1/workflows/shop/o-2/cancel", {}).status == 202
    r = node.get("/api/v1/workflows/shop/o-2?wait_ms=20000")
    assert r.json["status"] in ("cancelled", "failed"), r


def test_workflow_errors(node):
    assert node.post("/api/v1/workflows/shop/nosuchtype", {"id": "x"}).status == 404
    assert node.post("/api/v1/workflows/shop/order", {"id": "bad id!"}).status == 400
    assert node.post("/api/v1/workflows/shop/order", {"id": 5}).status == 400
    assert node.get("/api/v1/workflows/shop/nope").status == 404
    assert node.post("/api/v1/workflows/shop/nope/signals/approve", {}).status == 404
    assert node.get("/api/v1/workflows/shop/nope/queries/progress").status == 404
    assert node.post("/api/v1/workflows/shop/nope/cancel", {}).status == 404


def test_workflow_survives_restart(tmp_data):
    n = Node(tmp_data)
    assert n.deploy("shop").status == 200
    assert n.post("/api/v1/workflows/shop/order", {"id": "o-r"}).status == 201
    assert n.stop()[0] == 0
    n = Node(tmp_data)  # the app and the open execution come back
    try:
        assert n.get("/api/v1/workflows/shop/o-r").json["status"] == "running"
        assert n.post("/api/v1/workflows/shop/o-r/signals/approve", {}).status == 202
        r = n.get("/api/v1/workflows/shop/o-r?wait_ms=20000")
        assert r.json["status"] == "completed", r
        j = n.get("/api/v1/journal/shop/wf:o-r")
        assert j.status == 200 and "reserve" in j.body
    finally:
        assert n.stop()[0] == 0
