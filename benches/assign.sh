#!/usr/bin/env bash
# Assignment benchmark: wangge against PostGIS and shapely 2 on the same demo city and the same
# points, in one run, plus an HTTP load test on loopback. Prints a table with ratios.
#   bash benches/assign.sh            # 1,000,000 points (PostGIS on the first 100,000)
#   N=200000 PG_N=20000 bash benches/assign.sh
# Needs: root for apt-get (postgresql-15-postgis-3, wrk), python3 with pip (shapely into a venv).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
PG_N=${PG_N:-100000}
WORK=$(mktemp -d /tmp/wangge-bench.XXXXXX)
OUT="$WORK/results.txt"
export CARGO_TERM_COLOR=never
BBOX="113.4474 34.6049 113.6705 34.8604"   # the demo city's extent (WGS84)

. .ci/lib/postgres.sh
cleanup() { [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null; pg_stop; }
trap cleanup EXIT

echo "== build (release)"
cargo build --release --bins -q
BIN=target/release/wangge

echo "== wangge in process (criterion bench)"
cargo bench --bench assign -q 2>&1 | tee "$WORK/criterion.txt" | grep -E "RESULT|time:|thrpt:" || true
grep RESULT "$WORK/criterion.txt" >> "$OUT"

echo "== points: $N"
python3 benches/points.py "$N" $BBOX > "$WORK/points.csv"
head -n $((PG_N + 1)) "$WORK/points.csv" > "$WORK/points_pg.csv"

echo "== PostgreSQL + PostGIS"
if ! command -v wrk >/dev/null; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; fi
pg_install
pg_start
psql "$PG_URL" -qc "CREATE DATABASE bench"
DB="${PG_URL%/postgres}/bench"
RUST_LOG=warn "$BIN" init --database-url "$DB"
psql "$DB" -qc "CREATE TABLE pts (id INT PRIMARY KEY, lon FLOAT8, lat FLOAT8)"
psql "$DB" -qc "\\copy pts FROM '$WORK/points_pg.csv' CSV HEADER"
psql "$DB" -qc "ALTER TABLE pts ADD COLUMN geom geometry(Point, 4326); UPDATE pts SET geom = ST_SetSRID(ST_MakePoint(lon, lat), 4326); ANALYZE pts; ANALYZE jurisdictions"
pg_time() { # seconds of one statement, measured by the server
  psql "$DB" -Atc "EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) $1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Execution Time"]/1000)'
}
# One plain statement each, as an analyst would write it; the GiST indexes on the geometry do the
# work (`valid_to IS NULL` selects the partial index of the current features).
GRID_SQL="SELECT p.id, g.code FROM pts p
  LEFT JOIN jurisdictions g ON g.layer = 'grid' AND g.valid_to IS NULL AND ST_Covers(g.geom, p.geom)"
FOUR_SQL="SELECT p.id, g.code, c.code, s.code, f.code FROM pts p
  LEFT JOIN jurisdictions g ON g.layer = 'grid' AND g.valid_to IS NULL AND ST_Covers(g.geom, p.geom)
  LEFT JOIN jurisdictions c ON c.layer = 'community' AND c.valid_to IS NULL AND ST_Covers(c.geom, p.geom)
  LEFT JOIN jurisdictions s ON s.layer = 'street' AND s.valid_to IS NULL AND ST_Covers(s.geom, p.geom)
  LEFT JOIN LATERAL (SELECT code FROM jurisdictions f WHERE f.layer = 'frontage' AND f.valid_to IS NULL
    AND ST_DWithin(f.geom, p.geom, 0.000164) ORDER BY f.geom <-> p.geom LIMIT 1) f ON true"
psql "$DB" -c "EXPLAIN $FOUR_SQL" | head -n 30
s=$(pg_time "$GRID_SQL"); echo "RESULT postgis_grid_points_per_s $(python3 -c "print(round($PG_N/$s))")" | tee -a "$OUT"
s=$(pg_time "$FOUR_SQL"); echo "RESULT postgis_four_answers_points_per_s $(python3 -c "print(round($PG_N/$s))")" | tee -a "$OUT"

echo "== wangge CLI over the file (CSV in, CSV out, full chain)"
RUST_LOG=warn "$BIN" assign "$WORK/points.csv" -o "$WORK/assigned.csv" --database-url "$DB" 2> "$WORK/cli.txt"
tail -n1 "$WORK/cli.txt"
echo "RESULT wangge_cli_points_per_s $(tail -n1 "$WORK/cli.txt" | grep -Eo '\(([0-9]+) points/s' | grep -Eo '[0-9]+')" | tee -a "$OUT"

echo "== shapely 2"
python3 -m venv "$WORK/venv" && "$WORK/venv/bin/pip" install -q shapely numpy
"$WORK/venv/bin/python" benches/shapely_assign.py geodata "$WORK/points.csv" | tee -a "$OUT"

echo "== HTTP on loopback (wrk, 1 thread, 64 connections, 10 s)"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
RUST_LOG=error WANGGE_DEMO_WEEKS=0 WANGGE_DATABASE_URL="$DB" WANGGE_BIND="127.0.0.1:$PORT" "$BIN" serve > "$WORK/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.5; done
echo "RESULT wangge_rss_mb $(awk '/VmRSS/ {printf "%.0f", $2/1024}' /proc/$SERVER_PID/status)" | tee -a "$OUT"
wrk -t1 -c64 -d10s -s benches/http_assign.lua "http://127.0.0.1:$PORT" | tee "$WORK/wrk.txt"
echo "RESULT http_requests_per_s $(grep Requests/sec "$WORK/wrk.txt" | awk '{printf "%.0f", $2}')" | tee -a "$OUT"

echo
echo "== summary ($(nproc) cores)"
python3 - "$OUT" <<'PY'
import re, sys
r = {}
for line in open(sys.argv[1]):
    m = re.match(r"RESULT (\S+) (.*)", line.strip())
    if m:
        r[m.group(1)] = m.group(2)
f = lambda k: float(r[k].split()[0]) if k in r else float("nan")
batch = f("batch_full_chain_points_per_s")
rows = [
    ("full-chain batch, in process (points/s)", batch, ""),
    ("  vs PostGIS, four answers", batch / f("postgis_four_answers_points_per_s"), "x  (target 200x)"),
    ("  vs shapely 2, four answers", batch / f("shapely_four_answers_points_per_s"), "x  (target 20x)"),
    ("wangge CLI, CSV in and out (points/s)", f("wangge_cli_points_per_s"), ""),
    ("PostGIS grid only (points/s)", f("postgis_grid_points_per_s"), ""),
    ("PostGIS four answers (points/s)", f("postgis_four_answers_points_per_s"), ""),
    ("shapely grid only (points/s)", f("shapely_grid_points_per_s"), ""),
    ("shapely four answers (points/s)", f("shapely_four_answers_points_per_s"), ""),
    ("index build (s)", f("index_build_s"), "(target < 1 s)"),
    ("HTTP GET /api/assign (requests/s)", f("http_requests_per_s"), "(target 30,000)"),
    ("resident memory of the service (MB)", f("wangge_rss_mb"), "(target < 200 MB)"),
]
for name, v, note in rows:
    print(f"{name:45s} {v:>14,.1f} {note}")
print("single-point latency:", r.get("single_point_latency_ns", "?"), "(target p99 < 10,000 ns)")
PY
