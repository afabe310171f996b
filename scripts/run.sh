#!/usr/bin/env bash
# `make run`: starts a node on the embedded SQLite default in ./data (or
# $PLEXSPACES_DATA), deploys the demo app from examples/demo_app as the
# namespace "shop" (first run only: deployed apps persist in the data
# directory), prints ready-to-paste commands, runs one of them, and keeps
# the node in the foreground until Ctrl-C (a graceful shutdown).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BIN=./$BUILD/plexspaces
DATA=${PLEXSPACES_DATA:-./data}
LISTEN=${PLEXSPACES_LISTEN:-127.0.0.1:8080}
URL="http://$LISTEN"
mkdir -p "$DATA"

"$BIN" start --data "$DATA" --listen "$LISTEN" &
NODE=$!
trap 'kill -TERM $NODE 2>/dev/null; wait $NODE' INT TERM

for _ in $(seq 1 200); do
  if "$BIN" status --node "$URL" >/dev/null 2>&1; then break; fi
  if ! kill -0 $NODE 2>/dev/null; then
    echo "make run: the node did not start (is $LISTEN in use? set PLEXSPACES_LISTEN)" >&2
    exit 1
  fi
  sleep 0.05
done

if ! "$BIN" apps --node "$URL" | grep -q '^shop'; then
  "$BIN" deploy --node "$URL" --app shop \
    --config examples/demo_app/app-config.toml --lib "$BUILD/examples/demo_app.so"
fi

HINT=""
if [ "$URL" != "http://127.0.0.1:8080" ]; then
  HINT="  export PLEXSPACES_NODE=$URL          # the CLI's default is 127.0.0.1:8080
"
fi
cat <<MSG

plexspaces node at $URL (data in $DATA). Try:

$HINT
  $BIN apps                                   # deployed apps
  $BIN apps shop                              # its supervision tree
  $BIN ask shop counter add '{"n": 5}'        # ask a GenServer
  $BIN ask shop account:alice deposit '{"amount": 30}'   # a durable virtual actor
  $BIN ts write shop jobs '["job", 1, "resize"]'         # the tuple space
  $BIN ts take shop jobs '["job", null, null]'
  $BIN workflow start shop order --id order-1 --input '{"sku": "book"}'
  $BIN workflow signal shop order-1 approve
  $BIN workflow status shop order-1
  curl -s $URL/api/v1/actors/shop/greeter?op=hello\&name=you
  curl -s $URL/metrics | head

A WebAssembly app (the Go example; C and AssemblyScript are beside it):
  $BIN deploy --app agents --wasm $BUILD/examples/wasm/go_agents.wasm --config examples/wasm/go/app-config.toml
  $BIN ask agents agent whoami '{}'

Running one of them:
  \$ $BIN ask shop counter add '{"n": 5}'
MSG
"$BIN" ask --node "$URL" shop counter add '{"n": 5}'
echo
echo "The node runs until Ctrl-C."
wait $NODE
