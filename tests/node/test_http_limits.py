"""Limits and bad input: body and header size, in-flight cap (503),
per-request deadline, idle connections, garbage on the socket. After each,
the node still answers."""

import socket
import threading
import time

import pytest

from conftest import Node

LIMITS = """
[http]
max_body_bytes = 4096
max_header_bytes = 8192
request_timeout_seconds = 2
idle_timeout_seconds = 1
max_concurrent_requests = 2
"""


@pytest.fixture
def limited(tmp_data):
    n = Node(tmp_data, LIMITS)
    assert n.deploy("shop").status == 200
    yield n
    code, err = n.stop()
    assert code == 0, err


def raw(n, data, read=True):
    host, port = n.url.split("//")[1].split(":")
    s = socket.create_connection((host, int(port)), timeout=10)
    s.sendall(data)
    out = b""
    if read:
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            pass
    s.close()
    return out


def test_body_too_large_is_413(limited):
    r = limited.post("/api/v1/actors/shop/counter/ask", {"op": "get", "pad": "x" * 5000})
    assert r.status == 413, r
    assert "4096" in r.json["error"]
    assert limited.healthy()


def test_header_too_large(limited):
    r = limited.get("/healthz", headers={"X-Big": "y" * 9000})
    assert r.status in (413, 431), r
    assert limited.healthy()


def test_deadline_caps_ask_timeout(limited):
    t0 = time.monotonic()
    r = limited.post("/api/v1/actors/shop/greeter/ask?timeout=100", {"op": "slow", "ms": 5000})
    assert r.status == 504, r
    assert time.monotonic() - t0 < 4.5


def test_in_flight_cap_gives_503(limited):
    results = []

    def slow():
        results.append(limited.post("/api/v1/actors/shop/greeter/ask?timeout=2",
                                    {"op": "slow", "ms": 1500}))

    threads = [threading.Thread(target=slow) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    codes = sorted(r.status for r in results)
    assert 503 in codes, codes
    r503 = [r for r in results if r.status == 503][0]
    assert r503.headers.get("Retry-After") == "1"
    assert "overloaded" in r503.json["error"]
    assert limited.healthy()


def test_idle_connection_is_closed(limited):
    t0 = time.monotonic()
    out = raw(limited, b"")  # connect, say nothing
    assert out == b""
    assert time.monotonic() - t0 < 8


def test_garbage_on_the_socket(limited):
    for junk in [b"\x00\x01\x02\r\n\r\n", b"GET\r\n\r\n", b"NOTHTTP / FOO/9\r\n\r\n",
                 b"POST /api/v1/actors/shop/counter/ask HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                 b"POST /api/v1/actors/shop/counter/ask HTTP/1.1\r\nHost: x\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\nzz\r\n"]:
        raw(limited, junk)
    assert limited.healthy()
    assert limited.post("/api/v1/actors/shop/counter/ask", {"op": "get"}).status == 200
