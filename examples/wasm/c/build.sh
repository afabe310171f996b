#!/bin/sh
# Builds the C example app (agents.c, three roles) into one WASM module:
#   examples/wasm/c/build.sh OUT.wasm
# Needs clang with the wasm32-wasi target, wasi-libc and the wasm32 builtins
# (Debian: clang, wasi-libc, libclang-rt-14-dev-wasm32). Quiet on success.
set -eu
if [ $# -ne 1 ]; then
  echo "usage: $0 OUT.wasm" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=$1
${CC:-clang} --target=wasm32-wasi -std=c17 -O2 -mexec-model=reactor \
  -Wall -Wextra -Werror \
  -I"$root/sdk/c" \
  -o "$out" "$here/agents.c" \
  -Wl,--strip-all
# The module must match docs/wasm-abi.md: exports and import signatures.
python3 "$here/../check_abi.py" --strict "$out" >/dev/null
