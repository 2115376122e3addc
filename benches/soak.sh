#!/usr/bin/env bash
# Memory soak: the release binary on SQLite with the demo city and its two-year history under a
# bounded mixed load (assignments, case lists and exports, vector tiles, hot spot analyses with
# parameters that vary all the time, case intake) for DURATION seconds (default 600). RSS is read
# from /proc every 10 s; the script prints the series, the cache gauges of /metrics at the end,
# and the growth over the second half.
#   bash benches/soak.sh                  # 10 minutes
#   DURATION=240 bash benches/soak.sh     # shorter
# Env: MALLOC_ARENA_MAX is passed through (default 2: glibc's per-thread arenas otherwise keep
# freed memory of the blocking pool's threads; see README, Memory).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-600}
WORKERS=${WORKERS:-4}
export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}
WORK=$(mktemp -d /tmp/wangge-soak.XXXXXX)
export CARGO_TERM_COLOR=never
cleanup() { [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null; true; }
trap cleanup EXIT

echo "== build (release)"
cargo build --release --bins -q
BIN=target/release/wangge
DB="sqlite://$WORK/soak.db"
RUST_LOG=warn "$BIN" init --database-url "$DB"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
RUST_LOG=error WANGGE_DEMO_WEEKS=0 WANGGE_DATABASE_URL="$DB" WANGGE_BIND="127.0.0.1:$PORT" "$BIN" serve > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 240); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.5; done

python3 - "$PORT" "$SERVER_PID" "$DURATION" "$WORKERS" <<'PY'
import json, random, sys, threading, time, urllib.request, urllib.error

port, pid, duration, workers = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
base = f"http://127.0.0.1:{port}"

def call(method, path, token=None, body=None, ctype="application/json"):
    req = urllib.request.Request(base + path, method=method, data=body)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except Exception as e:  # connection trouble counts as an error
        return 0, str(e).encode()

def login(user):
    s, b = call("POST", "/api/auth/login", body=json.dumps({"username": user, "password": "wangge-demo"}).encode())
    return json.loads(b)["token"]

planner, dispatcher, admin = login("demo_planner"), login("demo_dispatcher"), login("demo_admin")
lon0, lat0 = 113.63, 34.75

def rss_kb():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

def jitter(d=0.03):
    return lon0 + random.uniform(-d, d), lat0 + random.uniform(-d, d)

def one(rng):
    k = rng.random()
    if k < 0.30:
        lon, lat = jitter()
        return call("GET", f"/api/assign?lon={lon:.6f}&lat={lat:.6f}", dispatcher)
    if k < 0.40:
        return call("GET", f"/api/cases?limit=50&offset={rng.randrange(0, 200)}", dispatcher)
    if k < 0.45:
        return call("GET", "/api/cases/export?format=csv", dispatcher)
    if k < 0.60:
        layer = rng.choice(["grid", "community", "frontage", "cases"])
        x, y = 13_358 + rng.randrange(0, 12), 6_498 + rng.randrange(0, 12)
        return call("GET", f"/api/tiles/{layer}/14/{x}/{y}", dispatcher)
    if k < 0.85:
        which = rng.choice([
            f"gistar?unit=fishnet&size_m={rng.choice([50, 80, 100, 150, 200, 300])}&limit=20",
            f"aggregate?unit=fishnet&size_m={rng.randrange(40, 400)}&limit=20",
            f"kde?bandwidth_m={rng.randrange(100, 1500)}&cell_m={rng.randrange(20, 120)}",
            f"gistar?unit=h3&res={rng.choice([8, 9, 10])}&limit=20",
            f"gistar?weights=band&band_m={rng.randrange(200, 800)}&limit=20",
            f"emerging?unit=community&step=month&limit=20",
            f"zones",
            f"blindspots?limit=20&eps_m={rng.randrange(8, 30)}",
            f"frontages?limit=10",
        ])
        return call("GET", "/api/hotspots/" + which, planner)
    lon, lat = 113.50 + rng.random() * 0.15, 34.65 + rng.random() * 0.17
    body = json.dumps({"lon": lon, "lat": lat, "crs": "wgs84", "category": rng.choice(["0101", "0201", "0401"]),
                       "description": "内存测试上报", "register": True,
                       "idempotency_key": f"soak-{rng.random()}"}).encode()
    return call("POST", "/api/cases", admin, body)

stop = time.time() + duration
counts, lock = {}, threading.Lock()
def worker(seed):
    rng = random.Random(seed)
    while time.time() < stop:
        s, _ = one(rng)
        with lock:
            counts[s] = counts.get(s, 0) + 1

threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(workers)]
for t in threads:
    t.start()
series, t0 = [], time.time()
series.append((0, rss_kb()))
while time.time() < stop:
    time.sleep(min(10, max(0.1, stop - time.time())))
    series.append((round(time.time() - t0), rss_kb()))
for t in threads:
    t.join(timeout=180)
print("t_s,rss_mb")
for t, kb in series:
    print(f"{t},{kb/1024:.1f}")
half = [kb for t, kb in series if t >= duration / 2]
print(f"requests by status: {dict(sorted(counts.items()))}")
print(f"RESULT rss_start_mb={series[0][1]/1024:.1f} rss_end_mb={series[-1][1]/1024:.1f} "
      f"rss_max_mb={max(kb for _, kb in series)/1024:.1f} "
      f"second_half_growth_mb={(half[-1]-half[0])/1024:.1f} "
      f"second_half_range_mb={(max(half)-min(half))/1024:.1f}")
_, m = call("GET", "/metrics")
for line in m.decode().splitlines():
    if line.startswith("wangge_cache_"):
        print(line)
PY
