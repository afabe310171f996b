#!/bin/sh
# Builds the Go example app into one WebAssembly module:
#   examples/wasm/go/build.sh OUT.wasm
# Needs Go >= 1.24 (go on PATH or /usr/local/go/bin); modules come from
# go.sum (the Go module proxy or the module cache).
set -eu
if [ $# -ne 1 ]; then
	echo "usage: $0 OUT.wasm" >&2
	exit 2
fi
case "$1" in
/*) out="$1" ;;
*) out="$(pwd)/$1" ;;
esac
GO="$(command -v go || echo /usr/local/go/bin/go)"
cd "$(dirname "$0")"
GOOS=wasip1 GOARCH=wasm "$GO" build -trimpath -buildmode=c-shared -ldflags="-s -w" -o "$out" .
