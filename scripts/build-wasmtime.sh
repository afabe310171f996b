#!/usr/bin/env bash
# Builds wasmtime's C API (third_party/wasmtime-capi, from crates.io) once
# and caches it outside the source tree, so that every build directory and
# every CI run on this machine links the same artifact:
#
#   $cache/wasmtime-<version>-<hash>/lib/libwasmtime.a
#   $cache/wasmtime-<version>-<hash>/include/  (wasmtime.h, wasmtime/conf.h..)
#
# <version> is wasmtime-c-api-impl's version in Cargo.lock; <hash> covers
# every input of the build (Cargo.lock, Cargo.toml, build.rs, lib.rs), so a
# feature change gets a new directory too. If the directory is complete the
# script returns at once. Progress goes to stderr; the last line on stdout
# is the artifact directory (CMake's execute_process reads it).
#
# $cache is $PLEXSPACES_CACHE, else /var/cache/plexspaces if writable, else
# ~/.cache/plexspaces. PX_WASMTIME_JOBS caps cargo's jobs (default: nproc).
# The first build takes about 11 minutes on 2 cores; CMake runs this at
# configure time, so only the first configure on a machine pays for it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
crate=$root/third_party/wasmtime-capi
log() { echo "build-wasmtime: $*" >&2; }
die() { log "error: $*"; exit 1; }

# A cache that survives build-dir wipes and is shared by all checkouts on
# the machine; when /var/cache is not writable (not root), the user's cache.
sys_cache=/var/cache/plexspaces
if [ -n "${PLEXSPACES_CACHE:-}" ]; then
  cache=$PLEXSPACES_CACHE
elif mkdir -p "$sys_cache" 2>/dev/null && [ -w "$sys_cache" ]; then
  cache=$sys_cache
else
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/plexspaces
fi
mkdir -p "$cache" || die "cannot create $cache (set PLEXSPACES_CACHE)"

version=$(awk '/^name = "wasmtime-c-api-impl"$/ {
                 getline; gsub(/[^0-9.]/, ""); print; exit }' \
          "$crate/Cargo.lock")
[ -n "$version" ] || die "no wasmtime-c-api-impl in $crate/Cargo.lock"
hash=$(cd "$crate" && cat Cargo.lock Cargo.toml build.rs lib.rs \
       | sha256sum | cut -c1-12)
out=$cache/wasmtime-$version-$hash

complete() {
  [ -f "$out/lib/libwasmtime.a" ] && [ -f "$out/include/wasmtime/conf.h" ]
}

# Fast path, no lock: the directory only appears complete (it is renamed
# into place after the build), so its existence is proof enough.
if complete; then
  echo "$out"
  exit 0
fi

# Only a miss needs the toolchain: a warm cache works without cargo on PATH.
for tool in cargo rustc cmake; do
  # cmake: wasmtime-c-api-impl's build.rs runs `cmake -P` to write conf.h.
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found on PATH.
  wasmtime's C API is built from crates.io with Rust >= 1.95 (rustup) and
  cmake. Install them, or configure with -DPX_WASM=OFF to build without
  WebAssembly actors."
done

# wasmtime 48 needs rustc 1.95 (rust-version in Cargo.toml); Debian's own
# rustc is far older. Say so before cargo fails deep in the build.
rustc_ver=$(rustc --version | awk '{ print $2 }')
case $rustc_ver in
  1.[0-9].*|1.[0-8][0-9].*|1.9[0-4].*)
    die "rustc $rustc_ver is too old: wasmtime 48 needs >= 1.95 (rustup's
  stable toolchain first on PATH), or configure with -DPX_WASM=OFF." ;;
esac

# plain/asan/tsan configures may run at the same time; one builds, the
# others wait here and then find the finished directory.
exec 9>"$cache/wasmtime.lock"
if ! flock -n 9; then
  log "another build of wasmtime is running; waiting for it"
  flock 9
fi
if complete; then
  echo "$out"
  exit 0
fi

log "building wasmtime C API $version (rustc $rustc_ver) into $out"
log "a one-time build of ~200 crates: about 11 minutes on 2 cores"

stage=$out.tmp.$$
rm -rf "$stage"
mkdir -p "$stage/lib"
trap 'rm -rf "$stage"' EXIT

# One target dir for all versions: cargo locks it itself, and a Cargo.lock
# bump then recompiles only the crates that changed.
export CARGO_TARGET_DIR=$cache/wasmtime-target
# Where third_party/wasmtime-capi/build.rs puts the generated headers.
export PX_WASMTIME_INCLUDE_OUT=$stage/include
start=$(date +%s)
# --locked: build exactly the committed Cargo.lock (the hash above names it).
cargo build --release --locked -j "${PX_WASMTIME_JOBS:-$(nproc)}" \
  --manifest-path "$crate/Cargo.toml" >&2 \
  || die "cargo build failed (see above)"
cp "$CARGO_TARGET_DIR/release/libwasmtime.a" "$stage/lib/"
[ -f "$stage/include/wasmtime/conf.h" ] \
  || die "no headers in $stage/include (did wasmtime-capi's build.rs run?)"
log "built in $(( $(date +%s) - start ))s"

# Publish atomically: readers on the fast path never see half a directory.
rm -rf "$out"
mv "$stage" "$out"
trap - EXIT
echo "$out"
