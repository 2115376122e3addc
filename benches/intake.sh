#!/usr/bin/env bash
# Case intake benchmark: sustained POST /api/cases with automatic dispatch (an inspector's report
# registered at once), on SQLite (WAL, synchronous=FULL) and on PostgreSQL (fsync on,
# synchronous_commit on): durability as in production. Afterwards the database is counted: every
# acknowledged case must be there.
#   bash benches/intake.sh                 # 20 s per store, 16 connections
#   SECS=10 CONNS=32 bash benches/intake.sh
# Needs: root for apt-get (postgresql-15-postgis-3, wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-20}
CONNS=${CONNS:-16}
WORK=$(mktemp -d /tmp/wangge-intake.XXXXXX)
export CARGO_TERM_COLOR=never

. .ci/lib/postgres.sh
cleanup() { [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null; pg_stop; }
trap cleanup EXIT

echo "== build (release)"
cargo build --release --bins -q
BIN=target/release/wangge
if ! command -v wrk >/dev/null; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; fi

run() { # name database-url
  local name=$1 db=$2 port
  RUST_LOG=warn "$BIN" init --database-url "$db"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  RUST_LOG=error WANGGE_DEMO_WEEKS=0 WANGGE_DATABASE_URL="$db" WANGGE_BIND="127.0.0.1:$port" "$BIN" serve > "$WORK/$name.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 240); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.5; done
  TOKEN=$(curl -sf -X POST -H 'Content-Type: application/json' \
    -d '{"username":"demo_admin","password":"wangge-demo"}' "http://127.0.0.1:$port/api/auth/login" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  TOKEN=$TOKEN wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s benches/http_intake.lua "http://127.0.0.1:$port" | tee "$WORK/$name.wrk"
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
  local rps non2xx p50 p99 acked
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$WORK/$name.wrk")
  non2xx=$(awk '/^refused/ {print $2}' "$WORK/$name.wrk")
  acked=$(awk '/^acknowledged/ {print $2}' "$WORK/$name.wrk")
  echo "$acked" > "$WORK/$name.acked"
  p50=$(awk '/latency_p50_ms/ {print $2}' "$WORK/$name.wrk")
  p99=$(awk '/latency_p99_ms/ {print $2}' "$WORK/$name.wrk")
  echo "RESULT $name cases_per_s=$rps p50_ms=$p50 p99_ms=$p99 refused=$non2xx" | tee -a "$WORK/results.txt"
}

echo "== SQLite"
run sqlite "sqlite://$WORK/bench.db"
sqlite_rows=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from cases').fetchone()[0])" "$WORK/bench.db")

echo "== PostgreSQL + PostGIS (fsync on)"
pg_install
PG_FSYNC=on pg_start
psql "$PG_URL" -qc "CREATE DATABASE bench"
DB="${PG_URL%/postgres}/bench"
run postgres "$DB"
pg_rows=$(psql "$DB" -Atc "select count(*) from cases")

echo
echo "| store | cases/s | p50 ms | p99 ms | cases stored |"
echo "|---|---|---|---|---|"
for name in sqlite postgres; do
  line=$(grep "RESULT $name" "$WORK/results.txt")
  rows=$([ "$name" = sqlite ] && echo "$sqlite_rows" || echo "$pg_rows")
  echo "$line" | awk -v rows="$rows" '{split($3,a,"="); split($4,b,"="); split($5,c,"="); printf "| %s | %s | %s | %s | %s |\n", $2, a[2], b[2], c[2], rows}'
done
for name in sqlite postgres; do
  acked=$(cat "$WORK/$name.acked")
  rows=$([ "$name" = sqlite ] && echo "$sqlite_rows" || echo "$pg_rows")
  if [ "$rows" -lt "$acked" ]; then echo "FAIL: $name acknowledged $acked cases but stored $rows" >&2; exit 1; fi
  echo "$name: $acked acknowledged (201), $rows stored: none lost"
done
