"""Apps over HTTP: deploy (multipart), status with the supervision tree,
list, undeploy at run time, bad configs and libraries, persistence."""

import os

from conftest import DEMO_SO, Node


def test_list_and_status(node):
    r = node.get("/api/v1/applications")
    assert r.status == 200, r
    apps = r.json["applications"]
    assert [a["application_id"] for a in apps] == ["shop"]
    r = node.get("/api/v1/applications/shop")
    assert r.status == 200, r
    children = r.json["supervisor"]["children"]
    assert {"counter", "greeter", "flaky"} <= {c["actor_type"] for c in children}
    assert node.get("/api/v1/applications/nope").status == 404


def test_deploy_second_app_and_undeploy(node):
    assert node.deploy("shop2").status == 200
    assert node.post("/api/v1/actors/shop2/counter/ask", {"op": "get"}).status == 200
    r = node.delete("/api/v1/applications/shop2")
    assert r.status == 200, r
    assert node.post("/api/v1/actors/shop2/counter/ask", {"op": "get"}).status == 404
    assert node.delete("/api/v1/applications/shop2").status == 404
    # The first app is untouched.
    assert node.post("/api/v1/actors/shop/counter/ask", {"op": "get"}).status == 200


def test_bad_config_is_rejected_with_line(node):
    bad = '[supervisor]\nstrategy = "one_for_one"\n\n[[supervisor.children]]\nname = "c"\nactor_type = "counter"\nrestart = "sometimes"\n'
    r = node.deploy("bad1", config=bad)
    assert r.status == 400, r
    body = r.json
    assert body["success"] is False
    assert "app-config.toml:7" in body["error"] and "restart" in body["error"]
    r = node.deploy("bad2", config="[supervisor\n")
    assert r.status == 400 and "app-config.toml:1" in r.json["error"]
    r = node.deploy("bad3", config='[[supervisor.children]]\nname = "x"\nactor_type = "nosuch"\n')
    assert r.status == 400 and "nosuch" in r.json["error"]
    ids = [a["application_id"] for a in node.get("/api/v1/applications").json["applications"]]
    assert ids == ["shop"]


def test_bad_library_and_form(node):
    r = node.deploy("badlib", lib=b"\x7fELF-not-really")
    assert r.status == 400, r
    r = node.deploy("badlib2", lib=b"MZ this is not ELF")
    assert r.status == 400, r
    r = node.deploy("../escape")
    assert r.status == 400, r
    # Not multipart at all.
    r = node.post("/api/v1/applications/deploy", {"application_id": "x"})
    assert r.status == 400
    assert node.healthy()


def test_apps_come_back_after_restart(tmp_data):
    n = Node(tmp_data)
    assert n.deploy("keep").status == 200
    n.post("/api/v1/actors/keep/account:zed/ask", {"op": "deposit", "amount": 9})
    assert n.stop()[0] == 0
    n = Node(tmp_data)
    try:
        ids = [a["application_id"] for a in n.get("/api/v1/applications").json["applications"]]
        assert ids == ["keep"]
        r = n.post("/api/v1/actors/keep/account:zed/ask", {"op": "balance"})
        assert r.json["payload"]["balance"] == 9
    finally:
        assert n.stop()[0] == 0


def test_sigterm_checkpoints_durable_state(tmp_data):
    """State-mode durability checkpoints every 1000 messages here, so only
    the shutdown's checkpoint can carry the balance across the restart."""
    from conftest import DEMO_CONFIG
    with open(DEMO_CONFIG) as f:
        config = f.read().replace("checkpoint_every = 1 }", "checkpoint_every = 1000 }")
    assert "checkpoint_every = 1000" in config
    n = Node(tmp_data)
    assert n.deploy("bank", config=config).status == 200
    for _ in range(3):
        n.post("/api/v1/actors/bank/account:carol/ask", {"op": "deposit", "amount": 5})
    assert n.stop()[0] == 0
    n = Node(tmp_data)
    try:
        r = n.post("/api/v1/actors/bank/account:carol/ask", {"op": "balance"})
        assert r.json["payload"]["balance"] == 15, r
    finally:
        assert n.stop()[0] == 0
