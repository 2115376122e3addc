#!/usr/bin/env bash
# Open311 bbox benchmark: GET /open311/v2/requests.json?bbox=… over the demo city's live cases
# (the first start replays WEEKS weeks of its history through the case workflow), sequential
# requests from one client, p50/p99/max. The target is p99 < 20 ms (issue 18).
#
# Each request asks a random box of SIDE degrees (default 0.01°, about 1 km) centred on a random
# live case, over the default 90-day window, page_size 50 (the default): what a map client does.
# Run it alone on the machine, against a release build:
#   cargo build --release --bins && bash benches/open311_bbox.sh
#   WANGGE_BIN=target/debug/wangge REQUESTS=200 bash benches/open311_bbox.sh   # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
WANGGE_BIN=${WANGGE_BIN:-target/release/wangge}
WEEKS=${WEEKS:-6}
REQUESTS=${REQUESTS:-1000}
SIDE=${SIDE:-0.01}
[ -x "$WANGGE_BIN" ] || { echo "no binary at $WANGGE_BIN (cargo build --release --bins)" >&2; exit 1; }

# SEED_DB=path: start on a copy of a store seeded before (the replay need not run alone; the
# timed part should). KEEP_DB=path: leave a copy of the seeded store there for the next run.
SEED_DB=${SEED_DB:-}
KEEP_DB=${KEEP_DB:-}
DIR=$(mktemp -d /tmp/wangge-open311-bench.XXXXXX)
[ -n "$SEED_DB" ] && cp "$SEED_DB" "$DIR/wangge.db"
trap 'kill "${pid:-0}" 2>/dev/null || true; wait "${pid:-0}" 2>/dev/null || true; rm -rf "$DIR"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "== first start: the demo city with $WEEKS weeks replayed (a minute or more)"
WANGGE_DATABASE_URL="sqlite://$DIR/wangge.db" WANGGE_BIND="127.0.0.1:$port" \
  WANGGE_DEMO_WEEKS="$WEEKS" RUST_LOG=warn "$WANGGE_BIN" serve >"$DIR/log" 2>&1 &
pid=$!
for _ in $(seq 1 3600); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$DIR/log"; echo "the server exited" >&2; exit 1; }
  sleep 0.5
done

if [ -n "$KEEP_DB" ]; then
  sqlite3 "$DIR/wangge.db" ".backup '$KEEP_DB'" 2>/dev/null || python3 -c "import sqlite3,sys; s=sqlite3.connect(sys.argv[1]); d=sqlite3.connect(sys.argv[2]); s.backup(d)" "$DIR/wangge.db" "$KEEP_DB"
  echo "seeded store kept at $KEEP_DB"
fi

python3 - "$port" "$REQUESTS" "$SIDE" <<'PY'
import json, random, statistics, sys, time, urllib.request
port, n, side = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
base = f"http://127.0.0.1:{port}/open311/v2"
def get(path):
    with urllib.request.urlopen(base + path, timeout=30) as r:
        return json.loads(r.read())
# Live cases to centre the boxes on: the newest 5 pages of the whole default window.
centres = []
for page in range(1, 6):
    centres += [(float(c["long"]), float(c["lat"])) for c in get(f"/requests.json?page_size=200&page={page}")]
if not centres:
    sys.exit("no live cases: was the history replayed (WEEKS > 0)?")
random.seed(18)
for _ in range(20):  # warm-up
    lon, lat = random.choice(centres)
    get(f"/requests.json?bbox={lon-side/2},{lat-side/2},{lon+side/2},{lat+side/2}")
times, sizes = [], []
for _ in range(n):
    lon, lat = random.choice(centres)
    q = f"/requests.json?bbox={lon-side/2},{lat-side/2},{lon+side/2},{lat+side/2}"
    t = time.perf_counter()
    body = get(q)
    times.append((time.perf_counter() - t) * 1000)
    sizes.append(len(body))
times.sort()
p = lambda q: times[min(len(times) - 1, int(q * len(times)))]
print(f"live cases sampled: {len(centres)}; requests: {n}; box side {side}°; mean answer {statistics.mean(sizes):.1f} requests")
print(f"p50 {p(0.50):.1f} ms  p90 {p(0.90):.1f} ms  p99 {p(0.99):.1f} ms  max {times[-1]:.1f} ms  (target p99 < 20 ms)")
PY
