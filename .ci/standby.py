"""The read replica for analytics, end to end (issue 17; run by .ci/standby.sh, which starts a
primary and a pg_basebackup standby).

Starts one `wangge serve` on the primary with `--read-database-url` on the standby, then checks:
the analytics (hot spot inputs, assessment rankings) are read on the standby and not on the
primary (table scan counters of each server), a new case is in the case list at once
(read-your-writes), a standby whose replay is paused beyond the lag bound and a stopped standby
send the analytics to the primary (still 200), and the standby is used again once it is back.
Python stdlib only. Exits non-zero when any check failed or did not run.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

BIN = os.environ["WANGGE_BIN"]
PRIMARY = os.environ["STANDBY_PRIMARY_URL"]
READER = os.environ["STANDBY_READ_URL"]
TMP = os.environ["STANDBY_TMP"]
MAX_LAG_SECS = 2
GEODATA = "tests/fixtures/mini"
POINT = (113.62, 34.72)
CHECKS = ["served_by_standby", "read_your_writes", "lag_bound", "standby_stopped", "standby_back"]
RESULTS = {}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


PORT = free_port()
BASE = f"http://127.0.0.1:{PORT}"


def call(method, path, body=None, token=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
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


def psql(url, sql):
    return subprocess.run(["psql", "-tAq", url, "-c", sql], check=True, capture_output=True,
                          text=True).stdout.strip()


# The statements that prove where an analysis ran: the hot spot points (history and cases) and
# the assessment's read of the event log.
HOTSPOT_READ = "SELECT id, lon, lat, category, channel%FROM history_reports%"
LOG_READ = "SELECT id, at, actor_id, actor_name, action, entity_type, entity_id, CASE%"


def reads(url, pattern):
    """Calls of the statements like `pattern` that `url`'s server has finished (pg_stat_statements
    counts each when it ends, a standby its own)."""
    return int(psql(url, "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
                         f"WHERE query LIKE '{pattern}'") or 0)


def wait_for(what, check, limit):
    start = time.monotonic()
    while time.monotonic() - start < limit:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {limit} s")


def replica_state():
    status, body = call("GET", "/healthz")
    assert status == 200, (status, body)
    return body["read_replica"]


_n = [0]


def report(token):
    """A new case: its event changes the points' revision, so the next analysis reads again."""
    _n[0] += 1
    status, body = call("POST", "/api/cases",
                        {"idempotency_key": f"standby-{os.getpid()}-{_n[0]}", "category": "0101",
                         "description": f"只读副本 {_n[0]}", "lon": POINT[0], "lat": POINT[1],
                         "crs": "wgs84"}, token=token)
    assert status == 201, (status, body)
    return body["id"]


def analyse(token):
    status, body = call("GET", "/api/hotspots/aggregate?include=both&unit=street", token=token)
    assert status == 200, (status, body)


def rank(token):
    status, body = call("GET", "/api/assessment/rankings?level=streets", token=token)
    assert status == 200, (status, body)


def analytics_on(url, token):
    """Runs an analysis after a new case; returns how many hot spot reads `url`'s server ran."""
    before = reads(url, HOTSPOT_READ)
    report(token)
    # A standby may not have replayed the new case for a few milliseconds: its revision is then
    # the one cached, and nothing is read until it has.
    start = time.monotonic()
    while True:
        analyse(token)
        n = reads(url, HOTSPOT_READ) - before
        if n or time.monotonic() - start > 3:
            return n
        time.sleep(0.05)


def check_served_by_standby(token):
    state = wait_for("replica in use", lambda: (lambda s: s if s["state"] == "in_use" else None)(
        replica_state()), 10)
    before = {u: (reads(u, HOTSPOT_READ), reads(u, LOG_READ)) for u in (PRIMARY, READER)}
    report(token)
    analyse(token)
    rank(token)
    after = {u: (reads(u, HOTSPOT_READ), reads(u, LOG_READ)) for u in (PRIMARY, READER)}
    d = {u: (after[u][0] - before[u][0], after[u][1] - before[u][1]) for u in after}
    assert d[READER][0] >= 1, f"no hot spot read on the standby: {d}"
    assert d[READER][1] >= 1, f"no event log read on the standby: {d}"
    assert d[PRIMARY] == (0, 0), f"analytics read on the primary too: {d}"
    s = replica_state()
    assert s["reads_on_replica"] >= 2, s
    RESULTS["served_by_standby"] = (
        f"a hot spot analysis and a ranking: on the standby {d[READER][0]} hot spot and "
        f"{d[READER][1]} event log reads, on the primary {d[PRIMARY][0]} and {d[PRIMARY][1]}; "
        f"lag at start {state['lag_ms']} ms")


def check_read_your_writes(token):
    # The standby paused: whatever reads it now is visibly behind.
    psql(READER, "SELECT pg_wal_replay_pause()")
    try:
        for _ in range(20):
            case_id = report(token)
            status, cases = call("GET", "/api/cases?limit=5", token=token)
            assert status == 200, (status, cases)
            assert any(c["id"] == case_id for c in cases), f"case {case_id} missing from the list"
            status, case = call("GET", f"/api/cases/{case_id}", token=token)
            assert status == 200 and case["id"] == case_id, (status, case)
        behind = psql(READER, f"SELECT count(*) FROM cases WHERE id = {case_id}")
        RESULTS["read_your_writes"] = (
            f"20 cases created and listed at once with the standby's replay paused: all listed, all "
            f"readable (the standby had {behind} of the last)")
    finally:
        psql(READER, "SELECT pg_wal_replay_resume()")


def check_lag_bound(token):
    psql(READER, "SELECT pg_wal_replay_pause()")
    try:
        report(token)
        start = time.monotonic()

        def lagging():
            analyse(token)  # analytics asked for: the probe runs
            s = replica_state()
            return s if s["state"] == "lagging" else None

        state = wait_for("replica marked lagging", lagging, 4 * MAX_LAG_SECS + 3)
        marked = time.monotonic() - start
        on_primary = analytics_on(PRIMARY, token)
        assert on_primary >= 1, "the analysis did not read the primary"
    finally:
        psql(READER, "SELECT pg_wal_replay_resume()")

    def in_use():
        analyse(token)
        return replica_state()["state"] == "in_use"

    wait_for("replica in use again", in_use, 10)
    on_standby = analytics_on(READER, token)
    assert on_standby >= 1, "the analysis did not read the standby after the resume"
    RESULTS["lag_bound"] = (
        f"replay paused: marked lagging {marked:.1f} s after the next write (bound {MAX_LAG_SECS} s, "
        f"lag seen {state['lag_ms']} ms); the analyses answered 200 from the primary; on the standby "
        f"again after the resume")


def check_standby_stopped(token):
    subprocess.run(["sh", "-c", os.environ["PG_STANDBY_STOP"]], check=True, capture_output=True)
    # At once, before any probe noticed: the read fails on the standby and is read again on the
    # primary, still 200.
    start = time.monotonic()
    on_primary = analytics_on(PRIMARY, token)
    first = time.monotonic() - start
    assert on_primary >= 1, "the analysis did not read the primary"
    assert replica_state()["state"] == "unreachable", replica_state()
    rank(token)
    status, _ = call("GET", "/api/cases/export?format=csv", token=token)
    assert status == 200, status
    RESULTS["standby_stopped"] = (
        f"standby stopped: the next analysis answered 200 from the primary in {first:.1f} s and "
        f"marked it unreachable; a ranking and an export answered 200 too")


def check_standby_back(token):
    subprocess.run(["sh", "-c", os.environ["PG_STANDBY_START"]], check=True, capture_output=True)
    start = time.monotonic()

    def in_use():
        analyse(token)
        return replica_state()["state"] == "in_use"

    wait_for("replica in use after its restart", in_use, 20)
    back = time.monotonic() - start
    assert analytics_on(READER, token) >= 1, "the analysis did not read the standby"
    RESULTS["standby_back"] = f"standby restarted: in use again {back:.1f} s after its start returned"


def main():
    log = open(os.path.join(TMP, "wangge.log"), "ab")
    env = dict(os.environ, RUST_LOG="info,sqlx=warn,tower_http=warn")
    proc = subprocess.Popen(
        [BIN, "serve", "--bind", f"127.0.0.1:{PORT}", "--database-url", PRIMARY,
         "--read-database-url", READER, "--read-max-lag-secs", str(MAX_LAG_SECS),
         "--geodata", GEODATA, "--demo-weeks", "0", "--photo-dir", os.path.join(TMP, "photos")],
        stdout=log, stderr=log, env=env)
    try:
        t0 = time.monotonic()
        while True:
            assert proc.poll() is None, "wangge exited; see wangge.log"
            try:
                if call("GET", "/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() - t0 < 120, "wangge not healthy within 120 s"
            time.sleep(0.1)
        print(f"wangge healthy after {time.monotonic() - t0:.1f} s", flush=True)
        status, body = call("POST", "/api/auth/login",
                            {"username": "demo_admin", "password": "wangge-demo"})
        assert status == 200, (status, body)
        token = body["token"]
        for name, check in [
            ("served_by_standby", check_served_by_standby),
            ("read_your_writes", check_read_your_writes),
            ("lag_bound", check_lag_bound),
            ("standby_stopped", check_standby_stopped),
            ("standby_back", check_standby_back),
        ]:
            try:
                check(token)
                print(f"ok   {name}: {RESULTS[name]}", flush=True)
            except AssertionError as e:
                RESULTS.pop(name, None)
                print(f"FAIL {name}: {e}", flush=True)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    missing = [c for c in CHECKS if c not in RESULTS]
    if missing:
        print(f"standby: checks failed or not run: {missing} (logs in {TMP})")
        sys.exit(1)
    print("standby: all checks passed")


if __name__ == "__main__":
    main()
