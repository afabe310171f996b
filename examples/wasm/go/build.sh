#!/bin/sh
# Builds the Go example app into one WebAssembly module:
#   examples/wasm/go/build.sh OUT.wasm
# Needs Go >= 1.24 (go on PATH, else /usr/local/go/bin/go); the modules in
# go.sum come from the module cache or the Go module proxy. Quiet unless
# the build fails.
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
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! GOOS=wasip1 GOARCH=wasm "$GO" build -trimpath -buildmode=c-shared \
	-ldflags="-s -w" -o "$out" . >"$log" 2>&1; then
	cat "$log" >&2
	exit 1
fi
