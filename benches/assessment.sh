#!/usr/bin/env bash
# 考评 benchmark: the demo city with WEEKS weeks of its history replayed through the case workflow
# (share SHARE of the reports), on SQLite and on PostgreSQL + PostGIS, in one run:
#   - in process (benches/assessment.rs): the cold load of the event log, scoring every unit of
#     every level for one week, 52 weekly rankings of every level, and on PostgreSQL the same
#     week's handling-unit and area indicators by a plain SQL GROUP BY (the ratio to beat);
#   - over HTTP (release server): the public 红黑榜 (GET /api/public/board) from a published
#     snapshot, sequential requests, p50/p99.
# Prints a table. Run it alone on the machine.
#   bash benches/assessment.sh            WEEKS=4 SHARE=0.5 bash benches/assessment.sh
#   CLONES=5 bash benches/assessment.sh    (five times the demo's case volume, SQLite only)
# Needs: root for apt-get (postgresql-15-postgis-3) unless PostgreSQL + PostGIS are installed.
set -euo pipefail
cd "$(dirname "$0")/.."
WEEKS=${WEEKS:-8}
# CLONES=K: K times the demo's cases and events (benches/assessment_clone.py), SQLite only; the
# in-process figures then, not the board.
CLONES=${CLONES:-1}
SHARE=${SHARE:-1.0}
BOARD_REQUESTS=${BOARD_REQUESTS:-2000}
WORK=$(mktemp -d /tmp/wangge-assessment-bench.XXXXXX)
OUT="$WORK/results.txt"
export CARGO_TERM_COLOR=never
. .ci/lib/postgres.sh
cleanup() {
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null
  pg_stop 2>/dev/null || true
}
trap cleanup EXIT

echo "== build (release)"
cargo build --release --bins -q
cargo bench --bench assessment --no-run -q 2>/dev/null
BIN=target/release/wangge

echo "== PostgreSQL + PostGIS"
pg_install
pg_start
psql "$PG_URL" -qc "CREATE DATABASE bench" >/dev/null
PG_BENCH="${PG_URL%/*}/bench"

# The demo's last week with cases: the history ends on 2026-10-31 (a Saturday, Beijing time).
BENCH_WEEK=2026-W43
declare -A URLS=([sqlite]="sqlite://$WORK/bench.db" [postgres]="$PG_BENCH")

STORES="sqlite postgres"
[ "$CLONES" -gt 1 ] && STORES=sqlite
for db in $STORES; do
  url=${URLS[$db]}
  echo "== $db: the demo city, then $WEEKS weeks × $SHARE of the reports replayed"
  RUST_LOG=warn "$BIN" init --database-url "$url" --demo-weeks 0 > "$WORK/init-$db.log" 2>&1
  start=$(date +%s.%N)
  RUST_LOG=warn "$BIN" demo cases --database-url "$url" --weeks "$WEEKS" --share "$SHARE" > "$WORK/replay-$db.log" 2>&1
  echo "RESULT replay_s $(echo "$(date +%s.%N) - $start" | bc)" | tee "$WORK/$db.txt"
  if [ "$CLONES" -gt 1 ]; then
    echo "== $db: the cases and their events cloned to $CLONES times the volume"
    python3 benches/assessment_clone.py "$WORK/bench.db" "$CLONES" | tail -n 1 | tee -a "$WORK/$db.txt"
  fi
  echo "== $db: in process"
  WANGGE_BENCH_DATABASE_URL="$url" WANGGE_BENCH_WEEK="$BENCH_WEEK" \
    cargo bench --bench assessment -q 2>/dev/null | tee -a "$WORK/$db.txt"
done

[ "$CLONES" -gt 1 ] && { cat "$WORK/sqlite.txt"; exit 0; }

echo "== the public board over HTTP (release server, PostgreSQL)"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
RUST_LOG=error WANGGE_DATABASE_URL="$PG_BENCH" WANGGE_BIND="127.0.0.1:$PORT" "$BIN" serve > "$WORK/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 240); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.5; done
python3 - "$PORT" "$BENCH_WEEK" "$BOARD_REQUESTS" <<'PY' | tee "$WORK/board.txt"
import json, sys, time, urllib.request
port, week, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
base = f"http://127.0.0.1:{port}"
def call(method, path, token=None, body=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base + path, method=method, headers=headers,
                                 data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(req) as r:
        return r.read()
token = json.loads(call("POST", "/api/auth/login", body={"username": "demo_admin", "password": "wangge-demo"}))["token"]
s = time.perf_counter()
published = json.loads(call("POST", f"/api/assessment/publish?period={week}", token))
print(f"RESULT publish_ms {(time.perf_counter() - s) * 1e3:.1f}")
print(f"RESULT snapshot_version {published['snapshot']['version']}")
times = []
for _ in range(n):
    s = time.perf_counter()
    body = call("GET", "/api/public/board")
    times.append((time.perf_counter() - s) * 1e3)
board = json.loads(body)
assert board["period"] == week, board["period"]
times.sort()
print(f"RESULT board_bytes {len(body)}")
print(f"RESULT board_p50_ms {times[len(times) // 2]:.2f}")
print(f"RESULT board_p99_ms {times[int(len(times) * 0.99)]:.2f}")
PY

python3 - "$WORK" <<'PY' | tee "$OUT"
import sys, pathlib
w = pathlib.Path(sys.argv[1])
def read(name):
    return {l.split()[1]: float(l.split()[2]) for l in (w / name).read_text().splitlines() if l.startswith("RESULT")}
s, p, b = read("sqlite.txt"), read("postgres.txt"), read("board.txt")
print("| figure | SQLite | PostgreSQL |")
print("|---|---|---|")
for k, label in [("replay_s", "replay (s)"), ("load_ms", "first read of the event log (ms)"),
                 ("cases_counted", "cases counted in the week"), ("scorecards", "scorecards in the week"),
                 ("week_ms", "one week, every unit of every level, scored afresh (ms, median of 21)"),
                 ("week_cached_ms", "the same week again, as the service answers it (ms, median of 21)"),
                 ("year_ms", "52 weekly rankings of every level (ms)")]:
    print(f"| {label} | {s.get(k, float('nan')):g} | {p.get(k, float('nan')):g} |")
print(f"| plain SQL GROUP BY of the week (ms, median of 21) | | {p['sql_week_ms']:g} |")
print(f"| ratio SQL / wangge week (PostgreSQL) | | {p['sql_week_ms'] / p['week_ms']:.2f} |")
print(f"| public board p50 / p99 (ms, {b['board_bytes']:g} bytes) | | {b['board_p50_ms']:g} / {b['board_p99_ms']:g} |")
PY
echo "results in $OUT"
