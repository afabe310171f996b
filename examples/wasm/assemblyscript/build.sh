#!/usr/bin/env bash
# Builds the AssemblyScript example app into OUT.wasm:
#   examples/wasm/assemblyscript/build.sh OUT.wasm
# Needs only node and npm: installs the pinned compiler (npm ci) when
# node_modules is missing or older than package-lock.json. Quiet on success.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 OUT.wasm" >&2
  exit 2
fi
out=$1
case $out in
  /*) ;;
  *) out=$PWD/$out ;;
esac
mkdir -p "$(dirname "$out")"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

log=$(mktemp)
trap 'rm -f "$log"' EXIT

if [ ! -x node_modules/.bin/asc ] || [ ! -e node_modules/@plexspaces/sdk-as ] ||
   [ package-lock.json -nt node_modules/.package-lock.json ]; then
  if ! npm ci --no-audit --no-fund >"$log" 2>&1; then
    cat "$log" >&2
    echo "build.sh: npm ci failed" >&2
    exit 1
  fi
fi

# --runtime incremental: managed garbage is collected (px_alloc/px_free use
# the unmanaged heap.alloc/heap.free, so the GC never frees a host buffer).
# --use abort=...: the SDK's abort (node log + unreachable) instead of an
# env.abort import; the node provides no "env" module.
if ! node_modules/.bin/asc assembly/index.ts \
    -O3 --runtime incremental \
    --use abort=~lib/@plexspaces/sdk-as/assembly/abort/pxAbort \
    -o "$out" >"$log" 2>&1; then
  cat "$log" >&2
  echo "build.sh: asc failed" >&2
  exit 1
fi
