"""Replicas behind HAProxy, end to end (issue 17; run by .ci/replicas.sh, which sets it all up).

Starts two `wangge serve` at the same moment on one empty PostgreSQL database and HAProxy in
front, then checks: racing first start, propagation of edits (p50/p99), idempotency across
replicas, stream resume on the other replica, and a replica SIGKILLed under load. Python stdlib
only. Exits non-zero when any check failed or did not run.
"""

import http.client
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

BIN = os.environ["WANGGE_BIN"]
DB_URL = os.environ["REPLICAS_DB_URL"]
TMP = os.environ["REPLICAS_TMP"]
PUBLISHES = int(os.environ.get("REPLICAS_PUBLISHES", "20"))
# The mini city (two districts): the index rebuild each edit causes takes 8-10 s for the whole
# demo city in a debug build on a busy CI machine, which would measure the build, not the notice.
GEODATA = os.environ.get("REPLICAS_GEODATA", "tests/fixtures/mini")
CHECK_INTER_MS = 500
# The bound for a layer to reach every replica.
LAYER_LIMIT_S = float(os.environ.get("REPLICAS_LAYER_LIMIT_S", "2"))
RESULTS = {}
# How many replicas: 2 in CI, 3 for the documented benchmark (`--bench`).
N = int(os.environ.get("REPLICAS_N", "2"))
CHECKS = ["first_start", "propagation", "layer_propagation", "idempotency", "stream_resume",
          "kill_under_load"]
POINT = (113.62, 34.72)  # 二七区, inside the demo city


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


PORTS = [free_port() for _ in range(N)]
LB = free_port()
PROCS = {}


def start_replica(i):
    log = open(os.path.join(TMP, f"replica{i + 1}.log"), "ab")
    env = dict(os.environ, RUST_LOG="info,sqlx=warn,tower_http=warn")
    PROCS[i] = subprocess.Popen(
        [BIN, "serve", "--bind", f"127.0.0.1:{PORTS[i]}", "--database-url", DB_URL,
         "--geodata", GEODATA, "--demo-weeks", "0", "--photo-dir", os.path.join(TMP, "photos"),
         "--index-poll-secs", "30",
         # Every replica shares this machine's two cores here (in service each has its own); a
         # hot spot warm-up after each of the 50 publishes would only slow the others' reloads.
         "--no-hotspot-warm"],
        stdout=log, stderr=log, env=env)


def call(base, method, path, body=None, token=None, headers=None, timeout=10):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw[:1] in (b"{", b"[") else raw)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw


def base(i):
    return f"http://127.0.0.1:{PORTS[i]}"


LB_BASE = f"http://127.0.0.1:{LB}"


def wait_healthy(url, limit):
    start = time.monotonic()
    while time.monotonic() - start < limit:
        try:
            if call(url, "GET", "/healthz", timeout=2)[0] == 200:
                return time.monotonic() - start
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} not healthy within {limit} s")


def login(url, user):
    status, body = call(url, "POST", "/api/auth/login", {"username": user, "password": "wangge-demo"})
    assert status == 200, (status, body)
    return body["token"]


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, math.ceil(p / 100 * len(values)) - 1))]


def haproxy_conf():
    conf = f"""
global
    stats socket {TMP}/haproxy.sock mode 600 level admin
defaults
    mode http
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    retries 2
    option redispatch
    retry-on conn-failure empty-response response-timeout
frontend fe
    bind 127.0.0.1:{LB}
    default_backend wangge
backend wangge
    balance roundrobin
    option httpchk GET /healthz
    default-server inter {CHECK_INTER_MS}ms fall 2 rise 2
"""
    conf += "".join(f"    server r{i + 1} 127.0.0.1:{PORTS[i]} check\n" for i in range(N))
    path = os.path.join(TMP, "haproxy.cfg")
    with open(path, "w") as f:
        f.write(conf)
    return path


def haproxy_status():
    s = socket.socket(socket.AF_UNIX)
    s.connect(os.path.join(TMP, "haproxy.sock"))
    s.sendall(b"show stat\n")
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    s.close()
    lines = out.decode().splitlines()
    head = lines[0].lstrip("# ").split(",")
    status = {}
    for line in lines[1:]:
        row = dict(zip(head, line.split(",")))
        if row.get("pxname") == "wangge" and row.get("svname", "").startswith("r"):
            status[row["svname"]] = row["status"]
    return status


def psql(sql):
    return subprocess.run(["psql", "-tAq", DB_URL, "-c", sql], check=True, capture_output=True,
                          text=True).stdout.strip()


def report(i, token, key, description):
    return call(base(i) if i is not None else LB_BASE, "POST", "/api/cases",
                {"idempotency_key": key, "category": "0101", "description": description,
                 "lon": POINT[0], "lat": POINT[1], "crs": "wgs84"}, token=token)


def check_first_start(started):
    layers = psql("SELECT string_agg(layer || '=' || n, ' ') FROM "
                  "(SELECT layer, count(*) AS n FROM layer_versions GROUP BY layer) v")
    users = int(psql("SELECT count(*) FROM users"))
    cats = psql("SELECT count(*), max(version) FROM category_versions")
    assert layers and all(p.endswith("=1") for p in layers.split()), layers
    # 8 demo users on the mini city; the whole demo city adds a handler for each of its units.
    assert users >= 8, users
    assert cats.split("|")[1] == "1", cats
    RESULTS["first_start"] = f"all {N} replicas healthy after {started:.1f} s; one city ({layers}), {users} users"


def wait_on_others(what, seen, limit=2.0):
    """Milliseconds until every replica but r1 answers `seen(i)` true, one value per replica."""
    start = time.monotonic()
    waits = []
    pending = set(range(1, N))
    while pending:
        for i in sorted(pending):
            if seen(i):
                waits.append((time.monotonic() - start) * 1000)
                pending.discard(i)
        assert time.monotonic() - start < limit, f"{what} not on r{[i + 1 for i in pending]} within {limit} s"
        if pending:
            time.sleep(0.005)
    return waits


def check_propagation(token):
    status, cats = call(base(0), "GET", "/api/categories")
    category = next(c for c in cats if c["code"] == "0101")
    category.pop("version", None)
    waits = []
    for n in range(PUBLISHES):
        category["name"] = f"暴露垃圾 r{n}"
        status, body = call(base(0), "PUT", "/api/categories/0101", category, token=token, timeout=60)
        assert status in (200, 201), (status, body)

        def seen(i):
            _, cats = call(base(i), "GET", "/api/categories")
            return next(c for c in cats if c["code"] == "0101")["name"] == category["name"]
        waits += wait_on_others(f"edit {n}", seen)
    RESULTS["propagation"] = (f"{PUBLISHES} category edits via r1 seen on the {N - 1} other replica(s): "
                              f"p50 {pct(waits, 50):.0f} ms, p99 {pct(waits, 99):.0f} ms, "
                              f"max {max(waits):.0f} ms")


def check_layer_propagation(token):
    """A district layer published through r1, answered by every other replica's assignment."""
    with open(os.path.join(GEODATA, "district.geojson"), encoding="utf-8") as f:
        layer = json.load(f)
    names = [ft["properties"]["name"] for ft in layer["features"]]
    waits, rebuilt = [], []
    for n in range(PUBLISHES):
        for ft, name in zip(layer["features"], names):
            ft["properties"]["name"] = f"{name}·{n}"
        data = json.dumps(layer, ensure_ascii=False).encode()
        req = urllib.request.Request(base(0) + "/api/import/layers/district", data=data, method="POST")
        req.add_header("content-type", "application/geo+json")
        req.add_header("authorization", f"Bearer {token}")
        with urllib.request.urlopen(req, timeout=120) as r:
            assert r.status == 201, (r.status, r.read()[:300])
        want = f"·{n}"

        def seen(i):
            status, a = call(base(i), "GET", f"/api/assign?lon={POINT[0]}&lat={POINT[1]}")
            return status == 200 and (a.get("district") or {}).get("name", "").endswith(want)
        # From the publish's answer (committed) until each replica answers with the new layer;
        # r1, which took the upload, rebuilds its index like the others.
        t = time.monotonic()
        waits += wait_on_others(f"layer publish {n}", seen, limit=LAYER_LIMIT_S)
        while not seen(0):
            assert time.monotonic() - t < LAYER_LIMIT_S, f"layer publish {n} not on r1"
            time.sleep(0.005)
        rebuilt.append((time.monotonic() - t) * 1000)
    RESULTS["layer_propagation"] = (
        f"{PUBLISHES} district layer publishes via r1 answered by the {N - 1} other replica(s): "
        f"p50 {pct(waits, 50):.0f} ms, p99 {pct(waits, 99):.0f} ms, max {max(waits):.0f} ms "
        f"after the publish was answered (r1 itself: p50 {pct(rebuilt, 50):.0f} ms)")


def check_idempotency(token):
    made = []
    for n in range(5):
        key = f"replicas-idem-{os.getpid()}-{n}"
        answers = [None, None]
        gate = threading.Barrier(2)

        def send(i):
            gate.wait()
            answers[i] = report(i, token, key, f"同一上报 {n}")

        threads = [threading.Thread(target=send, args=(i,)) for i in (0, 1)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        assert all(a[0] in (200, 201) for a in answers), answers
        ids = {a[1]["id"] for a in answers}
        assert len(ids) == 1, answers
        stored = psql(f"SELECT count(*) FROM cases WHERE idempotency_key LIKE '%{key}'")
        assert stored == "1", stored
        made.append(sorted(a[0] for a in answers))
    RESULTS["idempotency"] = f"5 keys sent to r1 and r2 at once: one case each (statuses {made})"


def read_stream(i, token, last_id, want, limit):
    """Reads `event: case` messages from replica i until `want(ids)` or `limit` seconds."""
    conn = http.client.HTTPConnection("127.0.0.1", PORTS[i], timeout=limit)
    headers = {"authorization": f"Bearer {token}", "accept": "text/event-stream"}
    if last_id is not None:
        headers["last-event-id"] = str(last_id)
    conn.request("GET", "/api/cases/stream", headers=headers)
    r = conn.getresponse()
    assert r.status == 200, r.status
    events, cur, start = [], {}, time.monotonic()
    while time.monotonic() - start < limit:
        line = r.fp.readline().decode().rstrip("\n")
        if line.startswith("id:"):
            cur["id"] = int(line[3:].strip())
        elif line.startswith("event:"):
            cur["event"] = line[6:].strip()
        elif line.startswith("data:"):
            cur["data"] = line[5:].strip()
        elif line == "" and cur:
            if cur.get("event") == "case":
                events.append((cur["id"], json.loads(cur["data"])["case_id"]))
            cur = {}
            if want(events):
                break
    conn.close()
    return events


def check_stream_resume(token):
    created = []
    first_batch = []

    def reader():
        first_batch.extend(read_stream(0, token, None, lambda ev: len(ev) >= 3, 20))

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.5)  # the subscription is open before the first case (the stream has no history)
    for n in range(3):
        created.append(report(n % 2, token, f"stream-{os.getpid()}-{n}", f"流 {n}")[1]["id"])
    t.join()
    assert len(first_batch) >= 3, first_batch
    last = first_batch[-1][0]
    # Disconnected: more cases meanwhile, through both replicas.
    for n in range(3, 10):
        created.append(report(n % 2, token, f"stream-{os.getpid()}-{n}", f"流 {n}")[1]["id"])
    rest = read_stream(1, token, last, lambda ev: set(created) <= {c for _, c in first_batch + ev}, 20)
    got = first_batch + rest
    ids = [e for e, _ in got]
    assert ids == sorted(set(ids)), f"events out of order or repeated: {ids}"
    missing = set(created) - {c for _, c in got}
    assert not missing, f"cases missed after resuming on r2: {missing}"
    RESULTS["stream_resume"] = (f"{len(first_batch)} events on r1, resumed on r2 after id {last}: "
                                f"{len(rest)} more, none missed or repeated")


def check_kill_under_load(token):
    stop = threading.Event()
    lock = threading.Lock()
    acked, failures, counts = {}, [], {"intake": 0, "assign": 0, "tiles": 0, "list": 0}
    z, lon, lat = 14, POINT[0], POINT[1]
    x = int((lon + 180) / 360 * 2 ** z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2 ** z)
    paths = {
        "assign": f"/api/assign?lon={lon}&lat={lat}&crs=wgs84",
        "tiles": f"/tiles/street/{z}/{x}/{y}.mvt",
        "list": "/api/cases?limit=20",
    }

    def worker(w):
        n = 0
        while not stop.is_set():
            kind = ["intake", "assign", "tiles", "list"][n % 4]
            n += 1
            try:
                if kind == "intake":
                    desc = f"负载 {w}-{n}"
                    status, body = report(None, token, f"load-{os.getpid()}-{w}-{n}", desc)
                    if status in (200, 201):
                        with lock:
                            acked[body["id"]] = desc
                else:
                    status, _ = call(LB_BASE, "GET", paths[kind], token=token)
                ok = 200 <= status < 300 or status == 204
            except (OSError, http.client.HTTPException) as e:
                status, ok = repr(e), False
            with lock:
                counts[kind] += 1
                if not ok:
                    failures.append((time.monotonic(), kind, status))

    workers = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    load_start = time.monotonic()
    [t.start() for t in workers]
    time.sleep(3)
    killed_at = time.monotonic()
    PROCS[1].send_signal(signal.SIGKILL)
    PROCS[1].wait()
    down_after = None
    while time.monotonic() - killed_at < 10:
        if haproxy_status().get("r2", "").startswith("DOWN"):
            down_after = time.monotonic() - killed_at
            break
        time.sleep(0.05)
    time.sleep(2)
    restarted_at = time.monotonic()
    start_replica(1)
    up_after = None
    while time.monotonic() - restarted_at < 60:
        if haproxy_status().get("r2", "") == "UP":
            up_after = time.monotonic() - restarted_at
            break
        time.sleep(0.1)
    time.sleep(1)
    stop.set()
    [t.join() for t in workers]
    duration = time.monotonic() - load_start
    assert down_after is not None, "HAProxy did not mark r2 down within 10 s"
    # fall 2 × inter, plus one check in flight.
    assert down_after <= 3 * CHECK_INTER_MS / 1000 + 0.5, f"marked down after {down_after:.2f} s"
    assert up_after is not None, "r2 not back up within 60 s of its restart"
    # Every acknowledged case is stored whole: read back through the balancer.
    for case_id, desc in acked.items():
        status, body = call(LB_BASE, "GET", f"/api/cases/{case_id}", token=token)
        assert status == 200 and body["description"] == desc and body["category"] == "0101", (
            case_id, status, body)
    # Only requests in flight when the replica died may fail: within one check interval plus
    # HAProxy's own retry, and never more than the 4 clients had in flight.
    late = [f for f in failures if not (killed_at - 0.1 <= f[0] <= killed_at + down_after + 0.5)]
    assert not late, f"failures outside the kill window: {late[:5]}"
    assert len(failures) <= 4, f"more failures than requests in flight: {failures}"
    total = sum(counts.values())
    RESULTS["kill_under_load"] = (
        f"{total} requests in {duration:.1f} s ({total / duration:.0f}/s; {counts}); r2 SIGKILLed at "
        f"3 s: {len(failures)} failed {[(k, s) for _, k, s in failures]}, {len(acked)} acknowledged "
        f"cases all read back whole; HAProxy marked r2 DOWN after {down_after:.2f} s "
        f"(inter {CHECK_INTER_MS} ms, fall 2), UP {up_after:.1f} s after its restart")


def main():
    haproxy = None
    try:
        t0 = time.monotonic()
        # The racing first start: both processes on the empty database at the same moment.
        for i in range(N):
            start_replica(i)
        for i in range(N):
            wait_healthy(base(i), 150)
        started = time.monotonic() - t0
        for i in range(N):
            assert PROCS[i].poll() is None, f"replica {i + 1} exited"
        haproxy = subprocess.Popen(["haproxy", "-f", haproxy_conf(), "-db"],
                                   stdout=open(os.path.join(TMP, "haproxy.log"), "ab"),
                                   stderr=subprocess.STDOUT)
        wait_healthy(LB_BASE, 10)
        while haproxy_status() != {f"r{i + 1}": "UP" for i in range(N)}:
            time.sleep(0.1)
        admin = login(LB_BASE, "demo_admin")
        inspector = login(LB_BASE, "demo_inspector")
        dispatcher = login(LB_BASE, "demo_dispatcher")
        for name, check in [
            ("first_start", lambda: check_first_start(started)),
            ("propagation", lambda: check_propagation(admin)),
            ("layer_propagation", lambda: check_layer_propagation(admin)),
            ("idempotency", lambda: check_idempotency(inspector)),
            ("stream_resume", lambda: check_stream_resume(dispatcher if False else inspector)),
            ("kill_under_load", lambda: check_kill_under_load(inspector)),
        ]:
            try:
                check()
                print(f"ok   {name}: {RESULTS[name]}", flush=True)
            except AssertionError as e:
                RESULTS.pop(name, None)
                print(f"FAIL {name}: {e}", flush=True)
    finally:
        for p in list(PROCS.values()) + ([haproxy] if haproxy else []):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
    missing = [c for c in CHECKS if c not in RESULTS]
    if missing:
        print(f"replicas: checks failed or not run: {missing} (logs in {TMP})")
        sys.exit(1)
    print("replicas: all checks passed")


if __name__ == "__main__":
    main()
