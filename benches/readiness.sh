#!/usr/bin/env bash
# Readiness dashboard benchmark: the demo city with a round over POINTS assessment points, FAIL
# failed items at each (each a finding with its case), then REQUESTS sequential requests of
# GET /api/inspections/readiness and of GET /api/inspections/points, p50/p99 in ms. Run it once
# per binary to compare, e.g. before and after a change:
#   BIN=/path/to/old/wangge bash benches/readiness.sh
#   bash benches/readiness.sh                       (target/debug/wangge)
# SQLite in a temporary folder; run it alone on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/debug/wangge}
POINTS=${POINTS:-200}
FAIL=${FAIL:-3}
REQUESTS=${REQUESTS:-200}
WORK=$(mktemp -d /tmp/wangge-readiness-bench.XXXXXX)
cleanup() {
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
RUST_LOG=error WANGGE_DEMO_WEEKS=0 WANGGE_DATABASE_URL="sqlite://$WORK/bench.db" WANGGE_BIND="127.0.0.1:$PORT" \
  WANGGE_GEODATA=geodata WANGGE_WEB_DIR=web "$BIN" serve > "$WORK/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 480); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.5; done
python3 - "$PORT" "$POINTS" "$FAIL" "$REQUESTS" <<'PY'
import json, sys, time, urllib.request
port, npoints, nfail, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
base = f"http://127.0.0.1:{port}"
def call(method, path, token=None, body=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base + path, method=method, headers=headers,
                                 data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")
def login(u):
    return call("POST", "/api/auth/login", body={"username": u, "password": "wangge-demo"})["token"]
admin, lead, insp = login("demo_admin"), login("demo_shiftlead"), login("demo_inspector")
me = call("GET", "/api/auth/me", insp)
types = call("GET", "/api/inspections/checklists", admin)["document"]["types"]
points = [p for p in call("GET", "/api/inspections/points", admin) if p["point_type"] in types][:npoints]
rnd = call("POST", "/api/inspections/rounds", lead, {"title": "基准督查", "organiser": "city", "date": "2026-11-30",
           "points": [p["code"] for p in points], "inspectors": [me["id"]]})
s = time.perf_counter()
found = 0
for p in points:
    items = types[p["point_type"]]
    marks = [{"criterion": c["code"], "pass": i >= nfail} | ({} if i >= nfail else {"note": "基准问题"})
             for i, c in enumerate(items)]
    found += len(call("POST", f"/api/inspections/rounds/{rnd['id']}/visits", insp, {"point": p["code"], "marks": marks})["findings"])
print(f"RESULT points {len(points)}")
print(f"RESULT findings {found}")
print(f"RESULT visits_s {time.perf_counter() - s:.1f}")
for path in ["/api/inspections/readiness", "/api/inspections/points"]:
    call("GET", path, admin)
    times = []
    for _ in range(n):
        s = time.perf_counter()
        call("GET", path, admin)
        times.append((time.perf_counter() - s) * 1e3)
    times.sort()
    name = path.rsplit("/", 1)[1]
    print(f"RESULT {name}_p50_ms {times[len(times) // 2]:.2f}")
    print(f"RESULT {name}_p99_ms {times[int(len(times) * 0.99)]:.2f}")
PY
