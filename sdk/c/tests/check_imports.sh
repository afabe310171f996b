#!/bin/sh
# Builds all_imports.c (every wrapper called once) and checks that the
# module imports all 33 host functions with the ABI's signatures.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
${CC:-clang} --target=wasm32-wasi -std=c17 -O2 -mexec-model=reactor \
  -Wall -Wextra -Werror -I"$here/.." -o "$tmp/all.wasm" \
  "$here/all_imports.c" -Wl,--strip-all
python3 "$here/../../../examples/wasm/check_abi.py" --strict "$tmp/all.wasm"
n=$(python3 "$here/../../../examples/wasm/check_abi.py" --list "$tmp/all.wasm" |
    grep -c '^import plexspaces\.')
if [ "$n" -ne 33 ]; then
  echo "expected 33 plexspaces imports, got $n" >&2
  exit 1
fi
