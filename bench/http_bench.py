#!/usr/bin/env python3
"""One run of an HTTP benchmark, called by bench/run:

    bench/http_bench.py NAME IMPL BUILD_DIR

NAME is http_ask (an ask to the demo app's counter GenServer through the
node's HTTP API) or http_healthz (GET /healthz); IMPL is plexspaces (the
node from BUILD_DIR) or nginx (a static 200 on the same machine: the
ceiling). wrk drives 64 keep-alive connections on 2 threads for
BENCH_SECONDS (default 10) after a 2 s warm-up. Prints one JSON line:
{"bench", "impl", "value": requests/s, "unit", "p50_ms", "p99_ms", "errors"}.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONNECTIONS = 64


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_http(url, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def start_node(build, tmp):
    exe = os.path.join(build, "plexspaces")
    so = os.path.join(build, "examples", "demo_app.so")
    data = os.path.join(tmp, "data")
    os.mkdir(data)
    port = free_port()
    proc = subprocess.Popen([exe, "start", "--data", data, "--listen",
                             f"127.0.0.1:{port}"], stdout=subprocess.PIPE,
                            stderr=sys.stderr, text=True,
                            env=dict(os.environ, PX_LOG="warn"))
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/readyz")
    rc = subprocess.run([exe, "deploy", "--node", url, "--app", "shop",
                         "--config", os.path.join(ROOT, "examples", "demo_app",
                                                  "app-config.toml"),
                         "--lib", so], stdout=sys.stderr, stderr=sys.stderr)
    if rc.returncode:
        proc.kill()
        raise RuntimeError("deploying the demo app failed")
    return proc, url


def start_nginx(tmp):
    port = free_port()
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""
worker_processes 2;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{port};
    location / {{ default_type application/json; return 200 '{{"status":"ok"}}'; }}
  }}
}}
""")
    proc = subprocess.Popen(["nginx", "-c", conf, "-p", tmp],
                            stdout=sys.stderr, stderr=sys.stderr)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/")
    return proc, url


def wrk(url, path, body, seconds):
    script = None
    args = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
    if body is not None:
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        script.write('wrk.method = "POST"\n'
                     f"wrk.body = {json.dumps(body)}\n"
                     'wrk.headers["Content-Type"] = "application/json"\n')
        script.close()
        args += ["-s", script.name]
    try:
        out = subprocess.run(args + [url + path], capture_output=True,
                             text=True, timeout=seconds + 60).stdout
    finally:
        if script:
            os.unlink(script.name)
    return out


def to_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v


def parse(out):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = to_ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = to_ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    errs = 0
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if m:
        errs += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errs += sum(int(x) for x in m.groups())
    return rps, p50, p99, errs


def main():
    name, impl, build = sys.argv[1], sys.argv[2], sys.argv[3]
    seconds = int(float(os.environ.get("BENCH_SECONDS", "10")))
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory(prefix="px-http-bench-") as tmp:
        if impl == "nginx":
            proc, url = start_nginx(tmp)
            path, body = "/", None
        else:
            proc, url = start_node(build, tmp)
            if name == "http_ask":
                path, body = "/api/v1/actors/shop/counter/ask", '{"op":"get"}'
            else:
                path, body = "/healthz", None
        try:
            wrk(url, path, body, 2)  # warm-up
            rps, p50, p99, errs = parse(wrk(url, path, body, seconds))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(json.dumps({"bench": name, "impl": impl, "value": round(rps, 1),
                      "unit": "req/s", "p50_ms": round(p50, 3),
                      "p99_ms": round(p99, 3), "errors": errs,
                      "connections": CONNECTIONS}))


if __name__ == "__main__":
    main()
