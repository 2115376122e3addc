#!/usr/bin/env bash
# Does an analysis on the read replica spare intake on the primary? (issue 17, docs/scaling.md
# "Read replica for analytics".) The demo city on a PostgreSQL primary with a pg_basebackup
# standby; three runs of the same intake load (benches/http_intake.lua through wrk), side by side
# in one run of this script:
#   intake alone;
#   intake while an analysis loop runs with the analytics on the primary (no --read-database-url);
#   intake while the same loop runs with the analytics on the standby (--read-database-url).
# Every intake changes the points' revision, so every analysis reads the whole history and the
# cases again: the heavy read is what moves. Prints req/s and p50/p99 of both.
#
#   bash benches/read_replica.sh                  # 20 s per run, 8 intake connections, 2 analysts
#   SECS=10 CONNS=16 ANALYSTS=4 bash benches/read_replica.sh
#
# Needs target/debug/wangge (WANGGE_BIN overrides: a release binary if you have one), wrk,
# PostgreSQL 15 + PostGIS 3. Everything runs on this machine: the numbers compare the three runs,
# not machines.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-20}
CONNS=${CONNS:-8}
ANALYSTS=${ANALYSTS:-2}
BIN=${WANGGE_BIN:-target/debug/wangge}
[ -x "$BIN" ] || { echo "$BIN is missing; cargo build --bin wangge first" >&2; exit 1; }
WORK=$(mktemp -d /tmp/wangge-readrep.XXXXXX)
if ! command -v wrk >/dev/null; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; fi

. .ci/lib/postgres.sh
cleanup() {
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null
  pg_stop
  rm -rf "$WORK"
}
trap cleanup EXIT
unset PG_URL PG_START PG_STOP PGDIR
pg_install
# Durable, as in production: commits wait for the disk.
PG_FSYNC=on pg_start
psql -q "$PG_URL" -c "CREATE DATABASE bench" >/dev/null
PRIMARY="${PG_URL%/*}/bench"
echo "== first start of the demo city ($BIN)"
t=$(date +%s)
RUST_LOG=warn WANGGE_DEMO_WEEKS=0 "$BIN" init --database-url "$PRIMARY"
echo "   $(( $(date +%s) - t )) s; $(psql "$PRIMARY" -Atc 'SELECT count(*) FROM history_reports') history reports"
PG_FSYNC=on pg_start_standby
READER="${PG_STANDBY_URL%/*}/bench"

run() { # name analysts [extra serve flags...]
  local name=$1 analysts=$2 port
  shift 2
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  RUST_LOG=warn WANGGE_DEMO_WEEKS=0 "$BIN" serve --database-url "$PRIMARY" --bind "127.0.0.1:$port" \
    --photo-dir "$WORK/photos" "$@" > "$WORK/$name.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.5; done
  local token
  token=$(curl -sf -X POST -H 'Content-Type: application/json' \
    -d '{"username":"demo_admin","password":"wangge-demo"}' "http://127.0.0.1:$port/api/auth/login" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  # Warm: the index, the first read of the points.
  curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/hotspots/aggregate?unit=street" >/dev/null
  local analyst=
  if [ "$analysts" -gt 0 ]; then
    python3 - "$port" "$token" "$analysts" "$SECS" > "$WORK/$name.analyses" <<'EOF' &
import sys, threading, time, urllib.request
port, token, n, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
lat, lock, stop = [], threading.Lock(), time.monotonic() + secs
def loop():
    while time.monotonic() < stop:
        t = time.monotonic()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/hotspots/aggregate?unit=grid&limit=50",
                                     headers={"authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=120) as r:
            r.read()
        with lock:
            lat.append(time.monotonic() - t)
ts = [threading.Thread(target=loop) for _ in range(n)]
[t.start() for t in ts]
[t.join() for t in ts]
lat.sort()
print(f"analyses {len(lat)} p50_ms {lat[len(lat) // 2] * 1000:.0f} p99_ms {lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000:.0f}")
EOF
    analyst=$!
  fi
  TOKEN=$token wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s benches/http_intake.lua "http://127.0.0.1:$port" > "$WORK/$name.wrk"
  [ -n "$analyst" ] && wait "$analyst"
  local replica
  replica=$(curl -sf "http://127.0.0.1:$port/healthz" | python3 -c "import json,sys; r=json.load(sys.stdin).get('read_replica'); print('-' if r is None else '%s, %d reads there, %d on the primary' % (r['state'], r['reads_on_replica'], r['reads_on_primary']))")
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
  local rps p50 p99 analyses
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$WORK/$name.wrk")
  p50=$(awk '/latency_p50_ms/ {print $2}' "$WORK/$name.wrk")
  p99=$(awk '/latency_p99_ms/ {print $2}' "$WORK/$name.wrk")
  analyses=$(cat "$WORK/$name.analyses" 2>/dev/null || echo "-")
  printf '| %s | %s | %s | %s | %s | %s |\n' "$name" "$rps" "$p50" "$p99" "${analyses:--}" "$replica" | tee -a "$WORK/results.md"
}

echo "== $SECS s per run, $CONNS intake connections, $ANALYSTS analysts; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| run | intake req/s | intake p50 ms | intake p99 ms | analyses | read replica |" | tee "$WORK/results.md"
echo "|---|---|---|---|---|---|" | tee -a "$WORK/results.md"
run "intake alone" 0
run "intake + analyses on the primary" "$ANALYSTS"
run "intake + analyses on the standby" "$ANALYSTS" --read-database-url "$READER"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
