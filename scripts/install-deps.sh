#!/usr/bin/env bash
# Installs what the build, the tests and the benchmarks need, and nothing
# that is already there. Safe to run again: apt-get is called only when a
# package is missing. Runs as root on a fresh Debian 12 machine.
set -euo pipefail

# Build and test dependencies of the runtime core.
PKGS=(
  build-essential cmake ninja-build pkg-config
  libmsgpack-dev libjansson-dev libcriterion-dev libsqlite3-dev
  # The node: HTTP server, outbound HTTP, JWT; promtool checks /metrics.
  libmicrohttpd-dev libcurl4-openssl-dev libjwt-dev libssl-dev prometheus
  python3 python3-pip
  # WASM guests (sdk/, examples/wasm): C with clang for wasm32-wasi, wabt's
  # tools to inspect modules. Go and Node come with the machine; the
  # AssemblyScript compiler is an npm devDependency of sdk/assemblyscript.
  clang lld wasi-libc libclang-rt-14-dev-wasm32 wabt
)
# Benchmark baselines (bench/run); installed with PX_BENCH_DEPS=1 or by
# `make bench`, so that `make test` stays lean.
BENCH_PKGS=(erlang-base libcaf-dev redis-server libhiredis-dev wrk nginx-light)

want=("${PKGS[@]}")
if [ "${PX_BENCH_DEPS:-0}" = 1 ]; then want+=("${BENCH_PKGS[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
    || missing+=("$p")
done

if [ "${#missing[@]}" -ne 0 ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The node's integration tests drive it from Python (pytest) and mint their
# tokens with an independent JWT implementation (PyJWT + cryptography).
if ! python3 -c 'import jwt, cryptography, pytest' 2>/dev/null; then
  echo "install-deps: installing PyJWT, cryptography, pytest with pip"
  python3 -m pip install --quiet --disable-pip-version-check \
    PyJWT cryptography pytest 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check \
    --break-system-packages PyJWT cryptography pytest
fi
