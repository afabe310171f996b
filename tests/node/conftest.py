"""Integration tests of the node: they start the real `plexspaces` binary on
a free loopback port with a temporary data directory and drive it over HTTP
(and through the CLI). CTest passes the binary and the demo app library in
PLEXSPACES_BIN and PX_DEMO_APP_SO."""

import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid

import pytest

BIN = os.environ.get("PLEXSPACES_BIN", "build/plexspaces")
DEMO_SO = os.environ.get("PX_DEMO_APP_SO", "build/examples/demo_app.so")
WASM_EXAMPLES = os.environ.get("PX_WASM_EXAMPLES", "build/examples/wasm")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO_CONFIG = os.path.join(ROOT, "examples", "demo_app", "app-config.toml")
SECRET = "integration-test-secret-0123456789abcdef"


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"Reply({self.status}, {self.body[:300]!r})"


def multipart(fields):
    """Encodes {name: str|bytes} as multipart/form-data."""
    boundary = uuid.uuid4().hex
    out = bytearray()
    for name, value in fields.items():
        if isinstance(value, str):
            value = value.encode()
        out += f"--{boundary}\r\n".encode()
        if name in ("lib", "wasm", "config"):
            out += (f'Content-Disposition: form-data; name="{name}"; '
                    f'filename="{name}.bin"\r\n'
                    "Content-Type: application/octet-stream\r\n\r\n").encode()
        else:
            out += f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


LIVE = []  # nodes started by the current test


@pytest.fixture(autouse=True)
def no_leftover_nodes():
    """A test that fails half-way must not leave its node running."""
    yield
    while LIVE:
        n = LIVE.pop()
        if n.proc.poll() is None:
            n.proc.kill()
            n.proc.communicate()


class Node:
    """A running node process."""

    def __init__(self, data_dir, config_text=None, env=None, listen="127.0.0.1:0"):
        self.data_dir = data_dir
        args = [BIN, "start", "--data", data_dir, "--listen", listen]
        if config_text is not None:
            path = os.path.join(os.path.dirname(data_dir), f"node-{uuid.uuid4().hex[:6]}.toml")
            with open(path, "w") as f:
                f.write(config_text)
            args += ["--config", path]
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=self.env,
                                     text=True)
        LIVE.append(self)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            err = self.proc.stderr.read()
            self.proc.wait(timeout=30)
            raise RuntimeError(f"node did not start: {line!r} {err!r}")
        self.url = line.split("listening on ")[1].split()[0]
        self.token = None

    def request(self, method, path, body=None, token=None, headers=None,
                raw=None, content_type="application/json", timeout=30):
        data = raw
        if data is None and body is not None:
            data = json.dumps(body).encode()
        hdrs = dict(headers or {})
        if data is not None:
            hdrs.setdefault("Content-Type", content_type)
        tok = token if token is not None else self.token
        if tok:
            hdrs["Authorization"] = f"Bearer {tok}"
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return Reply(r.status, dict(r.headers), r.read().decode())
        except urllib.error.HTTPError as e:
            return Reply(e.code, dict(e.headers), e.read().decode())

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body if body is not None else {}, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def deploy(self, app_id, config=None, lib=None, token=None, name=None):
        if config is None:
            with open(DEMO_CONFIG) as f:
                config = f.read()
        if lib is None:
            with open(DEMO_SO, "rb") as f:
                lib = f.read()
        data, ctype = multipart({"application_id": app_id, "name": name or app_id,
                                 "version": "1.0.0", "config": config, "lib": lib})
        return self.request("POST", "/api/v1/applications/deploy", raw=data,
                            content_type=ctype, token=token, timeout=60)

    def deploy_wasm(self, app_id, wasm, config, token=None, name=None):
        """Deploys a WebAssembly app: the module goes in the form field
        "wasm" (bytes, or the path of a .wasm file). A fresh node compiles
        it: the Go example takes over 80 s in the TSan build, more on a
        loaded machine."""
        if isinstance(wasm, str):
            with open(wasm, "rb") as f:
                wasm = f.read()
        data, ctype = multipart({"application_id": app_id, "name": name or app_id,
                                 "version": "1.0.0", "config": config, "wasm": wasm})
        return self.request("POST", "/api/v1/applications/deploy", raw=data,
                            content_type=ctype, token=token, timeout=300)

    def healthy(self):
        return self.get("/healthz").status == 200

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Stops the node; returns its exit code and stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise
        return self.proc.returncode, err


@pytest.fixture
def tmp_data():
    with tempfile.TemporaryDirectory(prefix="px-node-") as d:
        data = os.path.join(d, "data")
        os.mkdir(data)
        yield data


@pytest.fixture
def node(tmp_data):
    """A node with auth off on loopback and the demo app deployed as 'shop'."""
    n = Node(tmp_data)
    r = n.deploy("shop")
    assert r.status == 200, r
    yield n
    code, err = n.stop()
    assert code == 0, err


def wait_until(pred, timeout=10.0, what="condition"):
    """Polls an observable condition of the system under test (not a sleep
    standing in for synchronisation: the loop ends as soon as it holds)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")
