#!/usr/bin/env python3
"""Times one inspection round (督查) end to end against a running wangge: a checklist of ITEMS
criteria per point type is stored, a round over POINTS assessment points is created, every point
is submitted (FAILS failed items each, so POINTS × FAILS findings, each a case registered and
dispatched by the rule table), then the 通报 is published and read back as JSON and as XLSX.

The issue's target: the visits and the notice of 200 points × 20 items in under 2 s. Visits go
one after another, as the phones of a round send them, and also CONCURRENCY at once.

    python3 benches/inspection_round.py http://127.0.0.1:PORT [--points 200 --items 20 --fails 2]
"""
import argparse
import json
import statistics
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

CATEGORIES = ["0101", "0102", "0103", "0104", "0106", "0201", "0202", "0203", "0204", "0301",
              "0302", "0303", "0401", "0402", "0501", "0503", "0601", "0602", "0603", "0604"]


def call(base, method, path, token=None, body=None, raw=False):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            payload = r.read()
            return r.status, payload if raw else json.loads(payload or b"null")
    except urllib.error.HTTPError as e:
        sys.exit(f"{method} {path}: {e.code} {e.read()[:300]!r}")


def login(base, username, password="wangge-demo"):
    return call(base, "POST", "/api/auth/login", body={"username": username, "password": password})[1]["token"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("--points", type=int, default=200)
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--fails", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--tag", default="run")
    a = ap.parse_args()
    base = a.base.rstrip("/")
    admin = login(base, "demo_admin")
    lead = login(base, "demo_shiftlead")

    points = call(base, "GET", "/api/inspections/points", admin)[1]
    if len(points) < a.points:
        sys.exit(f"the city has {len(points)} assessment points, fewer than {a.points}")
    chosen = points[: a.points]
    types = sorted({p["point_type"] for p in chosen})
    doc = {"source": "benchmark", "types": {
        t: [{"code": f"C{i:02}", "text": f"测评内容 {i}", "category": CATEGORIES[i % len(CATEGORIES)],
             "deduction": 1, "deadline_hours": 48} for i in range(a.items)] for t in types}}
    call(base, "PUT", "/api/inspections/checklists", admin, doc)
    name = f"bench_{a.tag}_{int(time.time())}"
    call(base, "POST", "/api/users", admin, {"username": name, "display_name": "督查员", "role": "inspector",
                                            "password": "long-enough-pw", "grids": []})
    inspector = login(base, name, "long-enough-pw")
    me = call(base, "GET", "/api/auth/me", inspector)[1]

    def new_round(title):
        return call(base, "POST", "/api/inspections/rounds", lead,
                    {"title": title, "organiser": "city", "date": time.strftime("%Y-%m-%d"),
                     "points": [p["code"] for p in chosen], "inspectors": [me["id"]]})[1]["id"]

    def marks():
        return [{"criterion": f"C{i:02}", "pass": i >= a.fails, **({} if i >= a.fails else {"note": f"问题 {i}"})}
                for i in range(a.items)]

    results = {}
    for mode, workers in (("sequential", 1), (f"concurrent{a.concurrency}", a.concurrency)):
        rid = new_round(f"基准 {a.tag} {mode}")
        latencies = []

        def visit(p):
            t = time.perf_counter()
            status, body = call(base, "POST", f"/api/inspections/rounds/{rid}/visits", inspector,
                                {"point": p["code"], "marks": marks()})
            latencies.append(time.perf_counter() - t)
            assert status == 201 and len(body["findings"]) == a.fails, (status, body)

        start = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(visit, chosen))
        visits_s = time.perf_counter() - start
        t = time.perf_counter()
        notice = call(base, "POST", f"/api/inspections/rounds/{rid}/notice", lead)[1]
        publish_s = time.perf_counter() - t
        t = time.perf_counter()
        _, xlsx = call(base, "GET", f"/api/inspections/rounds/{rid}/notice.xlsx", admin, raw=True)
        xlsx_s = time.perf_counter() - t
        report = call(base, "GET", f"/api/inspections/rounds/{rid}", admin)[1]
        found = report["totals"]["found"]
        assert found == a.points * a.fails, report["totals"]
        latencies.sort()
        results[mode] = {
            "points": a.points, "items": a.items, "findings": found,
            "visits_s": round(visits_s, 3),
            "visit_p50_ms": round(1000 * statistics.median(latencies), 1),
            "visit_p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1),
            "notice_publish_s": round(publish_s, 3), "notice_version": notice.get("version"),
            "notice_xlsx_s": round(xlsx_s, 3), "xlsx_bytes": len(xlsx),
            "total_s": round(visits_s + publish_s + xlsx_s, 3),
        }
        print(f"RESULT {a.tag} {mode} " + " ".join(f"{k}={v}" for k, v in results[mode].items()), flush=True)


if __name__ == "__main__":
    main()
