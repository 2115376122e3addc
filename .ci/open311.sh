#!/usr/bin/env bash
# CI: an independent Open311 GeoReport v2 client (tests/python/open311_client.py, Python
# standard library only, written from the spec) against the real wangge binary.
#
# Builds nothing: uses WANGGE_BIN (default target/debug/wangge). Starts it on a free port with a
# temporary SQLite database (the demo city, no replayed weeks), logs in as the demo admin, issues
# an api key through POST /api/open311/keys, runs the client, and fails when the client failed or
# did not run to its end (its last line is checked).
set -euo pipefail
cd "$(dirname "$0")/.."

WANGGE_BIN=${WANGGE_BIN:-target/debug/wangge}
if [ ! -x "$WANGGE_BIN" ]; then
  echo "FAIL: wangge binary not found at $WANGGE_BIN (run cargo build first, or set WANGGE_BIN)" >&2
  exit 1
fi

DIR=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; wait "${pid:-0}" 2>/dev/null || true; rm -rf "$DIR"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
WANGGE_DATABASE_URL="sqlite://$DIR/wangge.db" WANGGE_BIND="127.0.0.1:$port" \
  WANGGE_DEMO_WEEKS=0 RUST_LOG=warn "$WANGGE_BIN" serve >"$DIR/log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  curl -sf "$base/healthz" >/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$DIR/log"; echo "FAIL: wangge exited while starting" >&2; exit 1; }
  sleep 0.5
done
curl -sf "$base/healthz" >/dev/null || { cat "$DIR/log"; echo "FAIL: wangge did not start" >&2; exit 1; }

token=$(curl -sf -X POST "$base/api/auth/login" -H 'Content-Type: application/json' \
  -d '{"username":"demo_admin","password":"wangge-demo"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
key=$(curl -sf -X POST "$base/api/open311/keys" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"name":"CI Open311 client","per_minute":600}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')

# A point on 纱厂八街 in 中原区, inside the demo city's grids (WGS84).
out=$(python3 tests/python/open311_client.py --base "$base/open311/v2" --api-key "$key" \
  --lat 34.7637684 --long 113.6227500) || { echo "$out"; tail -20 "$DIR/log"; echo "FAIL: the Open311 client failed" >&2; exit 1; }
echo "$out"
case "$out" in
  *"OPEN311 CLIENT OK"*) ;;
  *) echo "FAIL: the Open311 client did not run to its end" >&2; exit 1 ;;
esac
