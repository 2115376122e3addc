#!/usr/bin/env bash
# One inspection round (督查) of 200 points × 20 items, submitted and its 通报 published, timed
# end to end over HTTP on SQLite and on PostgreSQL (durable settings as in production).
#   bash benches/inspection_round.sh
#   POINTS=200 ITEMS=20 FAILS=2 bash benches/inspection_round.sh
# Needs: root for apt-get (postgresql-15-postgis-3). Run it alone on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=$(mktemp -d /tmp/wangge-round.XXXXXX)
export CARGO_TERM_COLOR=never
. .ci/lib/postgres.sh
cleanup() { [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null; pg_stop; rm -rf "$WORK"; }
trap cleanup EXIT

# WANGGE_BIN: a release binary built already (the build is skipped).
if [ -z "${WANGGE_BIN:-}" ]; then
  echo "== build (release)"
  cargo build --release --bins -q
fi
BIN=${WANGGE_BIN:-target/release/wangge}

run() { # name database-url
  local name=$1 db=$2 port
  RUST_LOG=warn "$BIN" init --database-url "$db" >/dev/null
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  RUST_LOG=error WANGGE_DEMO_WEEKS=0 WANGGE_DATABASE_URL="$db" WANGGE_BIND="127.0.0.1:$port" "$BIN" serve > "$WORK/$name.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 240); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.5; done
  python3 benches/inspection_round.py "http://127.0.0.1:$port" --tag "$name" \
    --points "${POINTS:-200}" --items "${ITEMS:-20}" --fails "${FAILS:-2}"
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
}

echo "== SQLite"
run sqlite "sqlite://$WORK/bench.db"
echo "== PostgreSQL 15 + PostGIS"
pg_install
PG_FSYNC=on pg_start
run postgres "$PG_URL"
