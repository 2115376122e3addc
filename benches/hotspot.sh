#!/usr/bin/env bash
# Hot spot benchmark: wangge (release) against numpy/scipy (binned KDE) and libpysal + esda (Gi*)
# on the same 1,000,000 points, in one run, plus the p95 of filtered hot spot requests on the
# demo's two-year history over HTTP. Prints a table with ratios.
#   bash benches/hotspot.sh           N=200000 bash benches/hotspot.sh
# Needs python3 with venv/pip (numpy, scipy, shapely, esda, libpysal into a venv).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
WORK=$(mktemp -d /tmp/wangge-hotspot-bench.XXXXXX)
OUT="$WORK/results.txt"
export CARGO_TERM_COLOR=never
cleanup() { [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null; true; }
trap cleanup EXIT

echo "== venv"
VENV=${WANGGE_BENCH_VENV:-target/hotspot-bench-venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check numpy scipy shapely esda libpysal

echo "== points: $N (the demo history's places, jittered by 30 m, deterministic)"
"$VENV/bin/python" - "$N" "$WORK/points.bin" <<'PY'
import csv, gzip, sys
import numpy as np
n, out = int(sys.argv[1]), sys.argv[2]
with gzip.open("geodata/history.csv.gz", "rt") as f:
    rows = [(float(r["lon"]), float(r["lat"])) for r in csv.DictReader(f)]
base = np.asarray(rows)
rng = np.random.default_rng(20231)
pick = base[rng.integers(0, len(base), n)]
jitter = rng.normal(0.0, 30.0, (n, 2)) / [91_600.0, 110_900.0]
(pick + jitter).astype("<f8").tofile(out)
PY

echo "== wangge (release, in process)"
WANGGE_BENCH_POINTS="$WORK/points.bin" WANGGE_BENCH_COUNTS="$WORK/counts.json" \
  cargo bench --bench hotspot -q 2>/dev/null | tee -a "$OUT"

echo "== numpy/scipy and libpysal/esda"
"$VENV/bin/python" benches/hotspot.py "$WORK/points.bin" "$WORK/counts.json" geodata/grid.geojson.gz | tee -a "$OUT"

echo "== filtered hot spot requests over HTTP (release server, SQLite, demo history)"
cargo build --release --bins -q
BIN=target/release/wangge
DB="sqlite://$WORK/bench.db"
RUST_LOG=warn "$BIN" init --database-url "$DB" > "$WORK/init.log" 2>&1
PORT=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
RUST_LOG=error WANGGE_DEMO_WEEKS=0 WANGGE_DATABASE_URL="$DB" WANGGE_BIND="127.0.0.1:$PORT" "$BIN" serve > "$WORK/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 240); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.5; done
"$VENV/bin/python" - "$PORT" <<'PY' | tee -a "$OUT"
import json, statistics, sys, time, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
req = urllib.request.Request(base + "/api/auth/login", data=json.dumps({"username": "demo_planner", "password": "wangge-demo"}).encode(), headers={"Content-Type": "application/json"})
token = json.load(urllib.request.urlopen(req))["token"]
def get(path):
    r = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"})
    s = time.perf_counter()
    with urllib.request.urlopen(r) as resp:
        resp.read()
    return (time.perf_counter() - s) * 1e3
first = get("/api/hotspots/gistar?limit=1")
print(f"RESULT http_first_request_ms {first:.0f}")
filters = ["category=0101", "category=0201,0202", "from=2025-06-01&to=2025-09-01", "status=closed&category=0103",
           "source=hotline_12345", "street=410103001", "category=0301&from=2026-01-01", "include=history&category=0106",
           "category=0401", "from=2024-11-01&to=2025-11-01&category=0101"]
paths = [f"/api/hotspots/{a}{f}" for f in filters for a in ("gistar?", "kde?", "aggregate?", "gistar?format=geojson&limit=1500&", "zones?")]
times = sorted(get(p) for _ in range(3) for p in paths)
print(f"RESULT http_requests {len(times)}")
print(f"RESULT http_p50_ms {times[len(times) // 2]:.0f}")
print(f"RESULT http_p95_ms {times[int(len(times) * 0.95) - 1]:.0f}")
PY

echo
echo "== summary ($(nproc) cores)"
python3 - "$OUT" <<'PY'
import sys
r = {}
for line in open(sys.argv[1]):
    if line.startswith("RESULT "):
        _, k, v = line.split()
        r[k] = float(v)
print(f"points: {int(r['points']):,}; grids: {int(r['grids']):,}; threads: {int(r['threads'])}")
print("| measure | wangge | reference | ratio |")
print("|---|---|---|---|")
kde = r["wangge_kde_ms"] + r["wangge_project_ms"]
print(f"| KDE, 1000×1000, h 150 m (incl. projection) | {kde:.0f} ms | numpy/scipy {r['numpy_kde_ms']:.0f} ms | {r['numpy_kde_ms'] / kde:.1f}× |")
print(f"| Gi* over all grids incl. queen weights | {r['wangge_gistar_total_ms']:.0f} ms | libpysal {r['libpysal_weights_ms']:.0f} ms + esda {r['esda_gistar_ms']:.0f} ms | {r['py_gistar_total_ms'] / r['wangge_gistar_total_ms']:.0f}× |")
print(f"| filtered hot spot request (Gi* JSON and GeoJSON, KDE, aggregate, zones), p50 / p95 | {r['http_p50_ms']:.0f} / {r['http_p95_ms']:.0f} ms | target p95 < 300 ms | |")
print(f"KDE peaks: wangge {r['wangge_kde_peak_per_km2']:.0f}, numpy {r['numpy_kde_peak_per_km2']:.0f} per km²; Gi* max |Δz| vs esda {r['gistar_max_abs_z_diff']:.1e}")
PY
