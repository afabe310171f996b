#!/usr/bin/env bash
# Builds and runs the test suite: plain, then AddressSanitizer +
# UndefinedBehaviorSanitizer, then the runtime tests under ThreadSanitizer.
# `scripts/test.sh asan` runs one flavour only.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc)
flavours=("$@")
[ ${#flavours[@]} -eq 0 ] && flavours=(plain asan tsan)

run_flavour() {
  local name=$1 dir=$2; shift 2
  echo "=== $name build ==="
  cmake -S . -B "$dir" -G Ninja -DPX_WERROR=ON -DPX_BENCH=OFF "$@" >/dev/null
  cmake --build "$dir" -j "$JOBS"
  echo "=== $name tests ==="
  (cd "$dir" && ctest --output-on-failure -j "$JOBS" ${CTEST_ARGS:-})
}

for f in "${flavours[@]}"; do
  case $f in
    plain) run_flavour plain build -DCMAKE_BUILD_TYPE=RelWithDebInfo ;;
    asan)
      ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
      UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        run_flavour asan build-asan -DCMAKE_BUILD_TYPE=Debug -DPX_ASAN=ON ;;
    tsan)
      # The runtime's tests (scheduler, actors, supervision, behaviors)
      # and the node's (its HTTP threads hand requests to actors).
      TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:suppressions=$PWD/tsan.supp} \
      CTEST_ARGS="-L unit|conformance|node" \
        run_flavour tsan build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPX_TSAN=ON ;;
    *) echo "unknown flavour $f" >&2; exit 2 ;;
  esac
done
