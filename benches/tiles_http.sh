#!/usr/bin/env bash
# Vector tiles over HTTP: wangge's /tiles/grid/{z}/{x}/{y}.mvt against martin serving the same
# ST_AsMVT query (a function source on the same PostGIS database), with martin's default cache and
# with its cache off — every server alone, one after the other, in one run.
#   bash benches/tiles_http.sh               # 10 s warm-up (discarded) + 15 s per zoom and server
#   WARM=3 SECS=5 bash benches/tiles_http.sh # a quick look
#   ONLY_COMPARE=1 bash benches/tiles_http.sh # only the feature comparison, no load
# Tiles: every tile over the demo city at z12 and z14, and 2,000 at z16 (benches/tile_list.py).
# Load: wrk, 1 thread, 32 connections, Accept-Encoding: gzip (as MapLibre in a browser sends).
# WANGGE_BIN=/path/to/wangge uses a release binary built before.
# martin is built from crates.io once (version 1.14.0, the last this toolchain compiles) into
# target/martin-install; MARTIN=/path/to/martin uses another binary.
# Needs: root for apt-get (postgresql-15-postgis-3, wrk). Run it alone on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
WARM=${WARM:-10}
SECS=${SECS:-15}
CONNS=${CONNS:-32}
MARTIN=${MARTIN:-target/martin-install/bin/martin}
WORK=$(mktemp -d /tmp/wangge-tiles-http.XXXXXX)
OUT="$WORK/results.txt"
export CARGO_TERM_COLOR=never
BBOX="113.4474 34.6049 113.6705 34.8604"   # the demo city's extent (WGS84)

. .ci/lib/postgres.sh
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; pg_stop; }
trap cleanup EXIT

echo "== build (release) and martin"
if [ -n "${WANGGE_BIN:-}" ]; then
  BIN=$WANGGE_BIN   # a binary built earlier, e.g. to keep the build off the measured machine time
else
  cargo build --release --bins -q
  BIN=target/release/wangge
fi
if [ ! -x "$MARTIN" ]; then
  cargo install martin --version 1.14.0 --locked --no-default-features --features postgres \
    --root target/martin-install --target-dir target/martin-build -q
fi
"$MARTIN" --version
if ! command -v wrk >/dev/null; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; fi

echo "== PostgreSQL + PostGIS with the demo city"
pg_install
pg_start
psql "$PG_URL" -qc "CREATE DATABASE bench"
DB="${PG_URL%/postgres}/bench"
RUST_LOG=warn "$BIN" init --demo-weeks 0 --database-url "$DB"
# martin's function source: the same four properties, extent 4096, buffer 64, clipped.
psql "$DB" -q <<'SQL'
CREATE FUNCTION public.grid_tiles(z integer, x integer, y integer) RETURNS bytea AS $$
  SELECT ST_AsMVT(q, 'grid', 4096, 'geom') FROM (
    SELECT code, name, parent_code, unit_code,
           ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope(z, x, y), 4096, 64, true) AS geom
    FROM jurisdictions
    WHERE layer = 'grid' AND valid_to IS NULL
      AND geom && ST_Transform(ST_TileEnvelope(z, x, y, margin => 64.0 / 4096), 4326)) q
  WHERE q.geom IS NOT NULL
$$ LANGUAGE sql STABLE PARALLEL SAFE;
ANALYZE jurisdictions;
SQL
python3 benches/tile_list.py $BBOX > "$WORK/all.csv"
for z in 12 14; do grep "^$z," "$WORK/all.csv" > "$WORK/z$z.csv"; done
python3 - "$BBOX" > "$WORK/z16.csv" <<'PY'
import math, random, sys
w, s, e, n = map(float, sys.argv[1].split())
def tile(z, lon, lat):
    k = 2 ** z; r = math.radians(lat)
    return int((lon + 180) / 360 * k), int((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * k)
(x0, y0), (x1, y1) = tile(16, w, n), tile(16, e, s)
all16 = [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
for x, y in sorted(random.Random(16).sample(all16, 2000)):
    print(f"16,{x},{y}")
PY
echo "tiles: z12 $(wc -l < "$WORK/z12.csv"), z14 $(wc -l < "$WORK/z14.csv"), z16 $(wc -l < "$WORK/z16.csv")"

# Unpinned by default; the pinned runs below put wrk on core 1 and the server on core 0.
WRK_PIN=(env)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 240); do curl -s -o /dev/null "$1" && return 0; sleep 0.5; done; echo "FAIL: $1 never answered" >&2; exit 1; }

load() { # name url-prefix suffix
  local name=$1 prefix=$2 suffix=$3 z
  for z in 12 14 16; do
    TILES="$WORK/z$z.csv" PREFIX="$prefix" SUFFIX="$suffix" \
      "${WRK_PIN[@]}" wrk -t1 -c"$CONNS" -d"${WARM}s" -s benches/http_tiles.lua "http://127.0.0.1:$PORT" > /dev/null
    TILES="$WORK/z$z.csv" PREFIX="$prefix" SUFFIX="$suffix" \
      "${WRK_PIN[@]}" wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -s benches/http_tiles.lua "http://127.0.0.1:$PORT" > "$WORK/$name-z$z.wrk"
    awk -v n="$name" -v z="$z" '
      /Requests\/sec/ {rps=$2} /^latency_p50_ms/ {p50=$2} /^latency_p99_ms/ {p99=$2}
      /^requests/ {req=$2} /^bytes/ {b=$2} /^non2xx/ {bad=$2}
      END {printf "RESULT %s z%s %.0f %.2f %.2f %.0f %d\n", n, z, rps, p50, p99, (req ? b / req : 0), bad}' \
      "$WORK/$name-z$z.wrk" | tee -a "$OUT"
  done
}

echo "== the same features? every benchmark tile from wangge and from martin (cache off), by grid code"
# The z16 tile the first measurement found disagreeing (issue 19) is checked too.
{ cat "$WORK/z12.csv" "$WORK/z14.csv" "$WORK/z16.csv"; echo "16,53445,26032"; } > "$WORK/compare.csv"
PORT_W=$(free_port); PORT_M=$(free_port)
RUST_LOG=error WANGGE_DEMO_WEEKS=0 WANGGE_DATABASE_URL="$DB" WANGGE_BIND="127.0.0.1:$PORT_W" "$BIN" serve > "$WORK/wangge-compare.log" 2>&1 &
PIDS+=($!)
RUST_LOG=error "$MARTIN" --listen-addresses "127.0.0.1:$PORT_M" --cache-size 0 "$DB" > "$WORK/martin-compare.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$PORT_W/healthz"
wait_http "http://127.0.0.1:$PORT_M/catalog"
python3 benches/mvt_compare.py "$WORK/compare.csv" "http://127.0.0.1:$PORT_W/tiles/grid|.mvt" \
  "http://127.0.0.1:$PORT_M/grid_tiles" | tee "$WORK/compare.txt"
kill "${PIDS[-1]}" "${PIDS[-2]}"; wait "${PIDS[-1]}" "${PIDS[-2]}" 2>/dev/null || true
[ -n "${ONLY_COMPARE:-}" ] && exit 0

# Each server with its default number of worker threads (one per core), then with one: on a
# 2-core machine the load generator needs a core too, and three busy threads on two cores make
# every server's tail the scheduler's time slice.
for workers in default 1 pinned; do
  echo "== wangge (tile cache $(( ${WANGGE_TILE_CACHE_BYTES:-67108864} / 1048576 )) MiB, worker threads: $workers)"
  PORT=$(free_port)
  env_workers=(env); [ "$workers" = 1 ] && env_workers=(env TOKIO_WORKER_THREADS=1)
  [ "$workers" = pinned ] && env_workers=(taskset -c 0 env TOKIO_WORKER_THREADS=1) && WRK_PIN=(taskset -c 1)
  "${env_workers[@]}" RUST_LOG=error WANGGE_DEMO_WEEKS=0 WANGGE_DATABASE_URL="$DB" WANGGE_BIND="127.0.0.1:$PORT" "$BIN" serve > "$WORK/wangge.log" 2>&1 &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$PORT/healthz"
  echo "RSS before load: $(ps -o rss= -p "${PIDS[-1]}") KiB"
  load "wangge$([ "$workers" = 1 ] && echo _w1)$([ "$workers" = pinned ] && echo _pin)" /tiles/grid .mvt
  echo "RSS after load: $(ps -o rss= -p "${PIDS[-1]}") KiB; tile cache: $(curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^wangge_cache_bytes\{cache="tiles"\}' | awk '{print $2}') bytes"
  kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
  WRK_PIN=(env)
done

for cache in default default_w1 pinned off; do
  echo "== martin, cache $cache"
  PORT=$(free_port)
  args=(--listen-addresses "127.0.0.1:$PORT")
  [ "$cache" = off ] && args+=(--cache-size 0)
  [ "$cache" = default_w1 ] && args+=(--workers 1)
  pin=(env); [ "$cache" = pinned ] && args+=(--workers 1) && pin=(taskset -c 0) && WRK_PIN=(taskset -c 1)
  RUST_LOG=error "${pin[@]}" "$MARTIN" "${args[@]}" "$DB" > "$WORK/martin-$cache.log" 2>&1 &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$PORT/catalog"
  load "martin_$cache" /grid_tiles ""
  kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
  WRK_PIN=(env)
done

echo
echo "== $(nproc) cores; wrk 1 thread, $CONNS connections, ${SECS} s per zoom after ${WARM} s warm-up; Accept-Encoding: gzip"
grep AGREE "$WORK/compare.txt" || true
python3 - "$OUT" <<'PY'
import sys
r = {}
for line in open(sys.argv[1]):
    p = line.split()
    if p and p[0] == "RESULT":
        r[(p[1], p[2])] = p[3:]
print("| zoom | wangge req/s (p50 / p99 ms, bytes) | martin, default cache | martin, cache off | wangge / martin cached | wangge / martin uncached | wangge, 1 worker thread | martin cached, 1 worker | wangge pinned | martin cached pinned | pinned ratio |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for z in ("z12", "z14", "z16"):
    cells, rps = [], {}
    for n in ("wangge", "martin_default", "martin_off"):
        v = r.get((n, z))
        if v:
            rps[n] = float(v[0])
            cells.append(f"{float(v[0]):,.0f} ({v[1]} / {v[2]}, {int(float(v[3])):,} B{', ' + v[4] + ' non-2xx' if v[4] != '0' else ''})")
        else:
            cells.append("-")
    ratio = lambda o: f"{rps['wangge'] / rps[o]:.2f}" if rps.get(o) and rps.get('wangge') else "-"
    extra = []
    for n in ("wangge_w1", "martin_default_w1", "wangge_pin", "martin_pinned"):
        v = r.get((n, z))
        if v:
            rps[n] = float(v[0])
        extra.append(f"{float(v[0]):,.0f} ({v[1]} / {v[2]})" if v else "-")
    pinned = f"{rps['wangge_pin'] / rps['martin_pinned']:.2f}" if rps.get('wangge_pin') and rps.get('martin_pinned') else "-"
    print(f"| {z} | " + " | ".join(cells) + f" | {ratio('martin_default')} | {ratio('martin_off')} | " + " | ".join(extra) + f" | {pinned} |")
PY
