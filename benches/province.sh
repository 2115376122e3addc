#!/usr/bin/env bash
# Province-scale benchmark (issue 17; not a CI step): generates the synthetic province
# (`wangge-generate province`), loads it into a throwaway PostgreSQL through the import paths a
# city uses, and measures it with the release binary. Every step prints one `RESULT name value`
# line; all of them are collected in $WORK/results.txt. Results: docs/scaling.md, "Province scale".
#   bash benches/province.sh                  # the full province: 1,000,000 grids, 20,000,000 reports
#   SCALE=0.1 bash benches/province.sh        # a tenth of it
#   HISTORY_CITIES=3 bash benches/province.sh # load only the first 3 cities' history exports
#   PROVINCE_DB=postgres://…/province STEPS="index serve hotspot" WORK=<the folder of a run>
#     bash benches/province.sh                # measure again on a province already loaded
#     (into an existing database: this script starts and removes no cluster then)
#   STEPS="gen load index serve http tiles hotspot assess inprocess demo" (the default: all)
#   WARM=0: the server without its hot spot warm-up (--no-hotspot-warm): the first Gi* is cold
#   (`inprocess`: KDE over all 20,000,000 reports and Gi* over the 1,000,000 grids in one process,
#   through `cargo bench --bench hotspot`, without loading the whole history into PostgreSQL)
# Needs: root for apt-get (postgresql-15-postgis-3, wrk), /usr/bin/time, curl, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${SCALE:-1}
SEED=${SEED:-1}
HISTORY_CITIES=${HISTORY_CITIES:-17}
STEPS=${STEPS:-"gen load index serve http tiles hotspot assess inprocess demo"}
DURATION=${DURATION:-10s}
# The hot-spot area and neighbour caches, half each: the province's grid-level areas take about
# 0.3 GB, over the default's 64 MB half (see docs/scaling.md).
HOTSPOT_CACHE_BYTES=${HOTSPOT_CACHE_BYTES:-1073741824}
WORK=${WORK:-$(mktemp -d /tmp/wangge-province.XXXXXX)}
OUT="$WORK/results.txt"
BIN=target/release/wangge
GEN=target/release/wangge-generate
PROV="$WORK/province"
PASSWORD=province-bench-1
step() { [[ " $STEPS " == *" $1 "* ]]; }
result() { echo "RESULT $1 $2" | tee -a "$OUT"; }
# Wall seconds and peak RSS (MB) of a /usr/bin/time -v log.
tv_s() { awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$1"; }
tv_mb() { awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$1"; }

. .ci/lib/postgres.sh
cleanup() {
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null
  pg_stop
}
trap cleanup EXIT

if [ ! -x "$BIN" ] || [ ! -x "$GEN" ]; then
  echo "== build (release)"
  cargo build --release --bin wangge-generate -q
  cargo build --release --bin wangge -q
fi
if ! command -v wrk >/dev/null; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; fi
mkdir -p "$WORK"
echo "== work folder $WORK"

if step gen; then
  echo "== generate (scale $SCALE, seed $SEED)"
  /usr/bin/time -v "$GEN" province --seed "$SEED" --scale "$SCALE" --out "$PROV" 2> "$WORK/gen.time"
  grep -E "^(package|history|generated)" "$WORK/gen.time" || true
  result generate_s "$(tv_s "$WORK/gen.time")"
  result generate_peak_rss_mb "$(tv_mb "$WORK/gen.time")"
  result generated_mb "$(du -sm "$PROV" | cut -f1)"
  python3 -c "import json,sys; c=json.load(open(sys.argv[1])); print('RESULT counts', ' '.join(f'{k}={c[k]}' for k in ('cities','districts','streets','communities','grids','frontages','units','reports','points')))" "$PROV/province.json" | tee -a "$OUT"
fi

if [ -n "${PROVINCE_DB:-}" ]; then
  # A database of this script's (or a server of the operator's): measured again, left in place.
  DB=$PROVINCE_DB
else
  pg_install
  pg_start
  psql "$PG_URL" -qc "CREATE DATABASE province"
  DB="${PG_URL%/postgres}/province"
fi
export WANGGE_DATABASE_URL="$DB" RUST_LOG=${RUST_LOG:-warn}
"$BIN" migrate

if step load; then
  echo "== import the city package (units, roads, 5 layers) in one transaction"
  /usr/bin/time -v "$BIN" import city "$PROV/package" --crs wgs84 \
    --max-upload-vertices 50000000 --max-package-vertices 100000000 \
    > "$WORK/import.json" 2> "$WORK/import.time" || { tail -n 30 "$WORK/import.time"; exit 1; }
  grep -E "^\[" "$WORK/import.time" | tail -n 12
  result import_city_s "$(tv_s "$WORK/import.time")"
  result import_city_peak_rss_mb "$(tv_mb "$WORK/import.time")"
  echo "== import the history exports (first $HISTORY_CITIES cities)"
  rows=0; start=$(date +%s.%N); peak=0
  for f in $(ls "$PROV"/history/*.csv | head -n "$HISTORY_CITIES"); do
    /usr/bin/time -v "$BIN" import history "$f" 2> "$WORK/history.time" >/dev/null \
      || { tail -n 20 "$WORK/history.time"; exit 1; }
    rows=$((rows + $(wc -l < "$f") - 1))
    mb=$(tv_mb "$WORK/history.time"); [ "$mb" -gt "$peak" ] && peak=$mb
    echo "   $(basename "$f"): $rows rows so far, $(tv_s "$WORK/history.time") s"
  done
  s=$(python3 -c "import time; print(round(time.time() - $start, 1))")
  result history_rows "$rows"
  result history_import_s "$s"
  result history_rows_per_s "$(python3 -c "print(round($rows / $s))")"
  result history_import_peak_rss_mb "$peak"
  psql "$DB" -qc "VACUUM ANALYZE history_reports"
  result database_mb "$(psql "$DB" -Atc "SELECT pg_database_size(current_database()) / 1048576")"
fi

if step index; then
  echo "== index build and batch assignment (wangge assign over points.csv)"
  /usr/bin/time -v "$BIN" assign "$PROV/points.csv" -o "$WORK/assigned.csv" 2> "$WORK/assign.time"
  tr '\r' '\n' < "$WORK/assign.time" | grep -E "index of data version|assigned [0-9]+ points in" || true
  index_s() { # $1: time log, $2: read|built; seconds
    tr '\r' '\n' < "$1" | sed -nE "s/.*$2 in ([0-9.]+)(m?s).*/\1 \2/p" | awk '{print ($2=="ms") ? $1/1000 : $1}'
  }
  result index_read_s "$(index_s "$WORK/assign.time" read)"
  result index_build_s "$(index_s "$WORK/assign.time" built)"
  result index_tables_mb "$(tr '\r' '\n' < "$WORK/assign.time" | sed -nE 's/.*lookup tables ([0-9.]+) MB.*/\1/p')"
  result index_resident_read_built_mb "$(tr '\r' '\n' < "$WORK/assign.time" | sed -nE 's/.*resident ([0-9]+) MB with the layers read, ([0-9]+) MB with the index.*/\1 \2/p')"
  result assign_cli_peak_rss_mb "$(tv_mb "$WORK/assign.time")"
  result assign_batch_points_per_s "$(tr '\r' '\n' < "$WORK/assign.time" | sed -nE 's/.*\(([0-9]+) points\/s\).*/\1/p')"
fi

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_server() { # $1: database URL; sets SERVER_PID and STARTUP_S (exec to /healthz 200)
  local t0; t0=$(date +%s.%N)
  WANGGE_DATABASE_URL="$1" WANGGE_HOTSPOT_CACHE_BYTES="$HOTSPOT_CACHE_BYTES" \
    WANGGE_NO_HOTSPOT_WARM=$([ "${WARM:-1}" = 1 ] && echo false || echo true) "$BIN" serve --no-demo --bind "127.0.0.1:$PORT" --photo-dir "$WORK/photos" \
    > "$WORK/serve.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 1200); do
    curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 20 "$WORK/serve.log"; exit 1; }
    sleep 0.1
  done
  STARTUP_S=$(python3 -c "import time; print(round(time.time() - $t0, 2))")
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }
rss_mb() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$SERVER_PID/status"; }
points_lua() { # $1: points.csv, $2: lua file that asks /api/assign at those points in turn
  python3 - "$1" > "$2" <<'PY'
import sys
pts = [l.split(",")[1:3] for l in open(sys.argv[1]).read().split("\n")[1:20001] if l]
print("local pts = {" + ",".join("{%s,%s}" % (a, b) for a, b in pts) + "}")
print("local i = 0")
print('request = function() i = i + 1; local p = pts[i % #pts + 1]; return wrk.format("GET", string.format("/api/assign?lon=%s&lat=%s", p[1], p[2])) end')
PY
}
wrk_rps() { awk '/Requests\/sec/ {printf "%.0f", $2}' "$1"; }

if step serve || step http || step tiles || step hotspot || step assess; then
  echo "== start-up from PostgreSQL (exec → /healthz 200)"
  start_server "$DB"
  result serve_startup_s "$STARTUP_S"
  result serve_rss_after_start_mb "$(rss_mb)"
  # Taken when measuring again on a database of an earlier run (PROVINCE_DB): same password.
  printf '%s\n' "$PASSWORD" | "$BIN" user create --username bench_admin --role admin --password-stdin \
    >/dev/null 2>&1 || echo "   (bench_admin exists)"
  TOKEN=$(curl -sf -X POST "http://127.0.0.1:$PORT/api/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"bench_admin\",\"password\":\"$PASSWORD\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
fi

if step http; then
  echo "== HTTP assignment (wrk, 2 threads, 32 connections, $DURATION)"
  points_lua "$PROV/points.csv" "$WORK/points.lua"
  wrk -t2 -c32 -d"$DURATION" -s "$WORK/points.lua" "http://127.0.0.1:$PORT" > "$WORK/wrk_assign.txt"
  result assign_http_rps "$(wrk_rps "$WORK/wrk_assign.txt")"
  result serve_rss_after_assign_mb "$(rss_mb)"
fi

if step tiles; then
  echo "== tiles z12–z16 around 郑州's centre (wrk over every tile of a window, $DURATION each)"
  for z in 12 13 14 15 16; do
    python3 - "$z" > "$WORK/tiles_$z.txt" <<'PY'
import math, sys
z = int(sys.argv[1]); lon, lat = 113.625, 34.747; n = 2 ** z
x = int((lon + 180) / 360 * n); y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
r = {12: 1, 13: 2, 14: 4, 15: 6, 16: 8}[z]
for dx in range(-r, r + 1):
    for dy in range(-r, r + 1):
        print(f"{z},{x+dx},{y+dy}")
PY
    TILES="$WORK/tiles_$z.txt" wrk -t2 -c8 -d"$DURATION" -s benches/http_tiles.lua \
      "http://127.0.0.1:$PORT" > "$WORK/wrk_tiles_$z.txt"
    p50=$(awk '/latency_p50_ms/ {print $2}' "$WORK/wrk_tiles_$z.txt")
    p99=$(awk '/latency_p99_ms/ {print $2}' "$WORK/wrk_tiles_$z.txt")
    result "tiles_z${z}_p50_p99_ms" "$p50 $p99 ($(wrk_rps "$WORK/wrk_tiles_$z.txt") rps, $(awk '/non2xx/ {print $2}' "$WORK/wrk_tiles_$z.txt") non-2xx)"
  done
  result serve_rss_after_tiles_mb "$(rss_mb)"
fi

timed_get() { # $1: name, $2: path; prints the wall time and the status
  local out
  out=$(curl -s -o "$WORK/$1.json" -w '%{http_code} %{time_total}' -H "authorization: Bearer $TOKEN" \
    --max-time "${MAX_TIME:-600}" "http://127.0.0.1:$PORT$2")
  result "$1_s" "${out#* } (HTTP ${out%% *}, $(head -c 200 "$WORK/$1.json" | tr '\n' ' ' | cut -c1-120))"
}

if step hotspot; then
  echo "== hot spots over the whole province's history"
  # PERF=1: a CPU profile of the server during the first (cold) Gi* request, for `perf report`.
  if [ -n "${PERF:-}" ] && command -v perf >/dev/null; then
    perf record -F 499 -g -p "$SERVER_PID" -o "$WORK/gistar.perf" -- sleep 10 >/dev/null 2>&1 &
    sleep 0.5
  fi
  # The server warms the stored points and the default Gi* areas and neighbours after start
  # (unless WARM=0 passes --no-hotspot-warm): how long after /healthz answered it finished.
  if [ "${WARM:-1}" = 1 ]; then
    t0=$(date +%s.%N)
    version=$(curl -sf "http://127.0.0.1:$PORT/healthz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["index_version"])')
    for _ in $(seq 1 1200); do
      curl -sf "http://127.0.0.1:$PORT/metrics" | grep -qx "wangge_hotspot_warm_version $version" && break
      sleep 0.1
    done
    result hotspot_warm_after_healthz_s "$(python3 -c "import time; print(round(time.time() - $t0, 2))")"
  fi
  timed_get gistar_grid "/api/hotspots/gistar?unit=grid&include=history"
  timed_get gistar_grid_cached "/api/hotspots/gistar?unit=grid&include=history"
  timed_get gistar_grid_cached2 "/api/hotspots/gistar?unit=grid&include=history"
  # An intake changes the cases' revision: the next analysis reads and locates the cases alone.
  IFS=, read -r _ lon lat < <(sed -n 2p "$PROV/points.csv")
  for n in 1 2 3; do
    curl -sf -o /dev/null -X POST "http://127.0.0.1:$PORT/api/cases" -H "authorization: Bearer $TOKEN" \
      -H 'content-type: application/json' \
      -d "{\"idempotency_key\":\"province-bench-$(date +%s%N)\",\"category\":\"0101\",\"description\":\"暴露垃圾\",\"lon\":$lon,\"lat\":$lat,\"crs\":\"wgs84\"}" \
      || { echo "the bench case was refused"; exit 1; }
    timed_get "gistar_grid_after_intake$n" "/api/hotspots/gistar?unit=grid&include=both"
  done
  # Whether the areas and neighbours were kept (a value over the cache's budget is refused).
  result hotspot_caches "$(curl -s "http://127.0.0.1:$PORT/metrics" \
    | grep -E '^wangge_cache_(bytes|oversized_total)\{cache="hotspot_(units|weights)"' | tr '\n' ' ')"
  timed_get kde "/api/hotspots/kde?include=history"
  result serve_rss_after_hotspots_mb "$(rss_mb)"
fi

if step assess; then
  echo "== 考评 (assessment) over the province"
  timed_get assessment_rankings_grids "/api/assessment/rankings?level=grids"
  timed_get assessment_rankings_districts "/api/assessment/rankings?level=districts"
fi

if [ -n "${SERVER_PID:-}" ]; then stop_server; fi

if step inprocess; then
  echo "== in process: KDE over every city's history, Gi* over every grid (benches/hotspot.rs)"
  python3 - "$PROV/history" "$WORK/history_points.bin" <<'PY'
import array, glob, sys
out = array.array("d")
for name in sorted(glob.glob(sys.argv[1] + "/*.csv")):
    with open(name) as f:
        next(f)  # id,reported_at,category,lon,lat,channel,closed_at
        for line in f:
            cols = line.split(",", 5)
            out.append(float(cols[3]))
            out.append(float(cols[4]))
with open(sys.argv[2], "wb") as f:
    out.tofile(f)
PY
  cargo bench --bench hotspot --no-run -q
  WANGGE_BENCH_POINTS="$WORK/history_points.bin" WANGGE_BENCH_CITY="$PROV/package" \
    WANGGE_BENCH_RUNS=${RUNS:-3} /usr/bin/time -v cargo bench --bench hotspot -q \
    > "$WORK/inprocess.txt" 2> "$WORK/inprocess.time" || { tail -n 20 "$WORK/inprocess.time"; exit 1; }
  sed -n 's/^RESULT /inprocess_/p' "$WORK/inprocess.txt" | while read -r name value; do result "$name" "$value"; done
  result inprocess_peak_rss_mb "$(tv_mb "$WORK/inprocess.time")"
fi

if step demo; then
  echo "== the demo city, same binary and machine, for comparison"
  psql "$PG_URL" -qc "CREATE DATABASE demo"
  DEMO_DB="${PG_URL%/postgres}/demo"
  WANGGE_DATABASE_URL="$DEMO_DB" "$BIN" init > /dev/null 2>&1
  # Like the province's points, the demo's lie in the city: uniform over the demo's box, kept
  # where the city has a grid (a point outside costs a nearest-grid search instead).
  n=$(sed -n '$=' "$PROV/points.csv" | awk '{print $1-1}')
  python3 benches/points.py "$((n * 2))" 113.4474 34.6049 113.6705 34.8604 > "$WORK/demo_box.csv"
  WANGGE_DATABASE_URL="$DEMO_DB" "$BIN" assign "$WORK/demo_box.csv" -o "$WORK/demo_box_assigned.csv" 2>/dev/null
  python3 - "$WORK/demo_box_assigned.csv" "$n" > "$WORK/demo_points.csv" <<'PY'
import csv, sys
rows = csv.DictReader(open(sys.argv[1]))
print("id,lon,lat")
kept = 0
for r in rows:
    if r["grid"] and kept < int(sys.argv[2]):
        print(f"{kept},{r['lon']},{r['lat']}")
        kept += 1
assert kept == int(sys.argv[2]), f"only {kept} demo points in the city"
PY
  WANGGE_DATABASE_URL="$DEMO_DB" /usr/bin/time -v "$BIN" assign "$WORK/demo_points.csv" -o /dev/null 2> "$WORK/demo_assign.time"
  result demo_index_read_s "$(index_s "$WORK/demo_assign.time" read)"
  result demo_index_build_s "$(index_s "$WORK/demo_assign.time" built)"
  result demo_assign_cli_peak_rss_mb "$(tv_mb "$WORK/demo_assign.time")"
  result demo_assign_batch_points_per_s "$(tr '\r' '\n' < "$WORK/demo_assign.time" | sed -nE 's/.*\(([0-9]+) points\/s\).*/\1/p')"
  start_server "$DEMO_DB"
  result demo_serve_startup_s "$STARTUP_S"
  points_lua "$WORK/demo_points.csv" "$WORK/demo_points.lua"
  wrk -t2 -c32 -d"$DURATION" -s "$WORK/demo_points.lua" "http://127.0.0.1:$PORT" > "$WORK/wrk_demo.txt"
  result demo_assign_http_rps "$(wrk_rps "$WORK/wrk_demo.txt")"
  stop_server
fi

echo "== results ($OUT)"
cat "$OUT"
