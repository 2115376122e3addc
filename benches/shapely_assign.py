#!/usr/bin/env python3
"""shapely 2 reference for the assignment benchmark: the same demo city (geodata/), the same
points, the same four answers — grid, community, street (STRtree + prepared polygons,
`intersects`, i.e. covers for points) and the nearest frontage within 15 m — on one thread.

Usage: shapely_assign.py GEODATA_DIR POINTS_CSV
Prints `RESULT shapely_grid_points_per_s …` and `RESULT shapely_four_answers_points_per_s …`.
"""
import csv
import gzip
import json
import sys
import time

import numpy as np
import shapely


def load(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        fc = json.load(f)
    geoms = shapely.from_geojson([json.dumps(feat["geometry"]) for feat in fc["features"]])
    codes = np.array([feat["properties"]["code"] for feat in fc["features"]])
    return geoms, codes


def main():
    geodata, points_csv = sys.argv[1], sys.argv[2]
    layers = {name: load(f"{geodata}/{file}") for name, file in [
        ("grid", "grid.geojson.gz"), ("community", "community.geojson"),
        ("street", "street.geojson"), ("frontage", "frontage.geojson.gz")]}
    xs, ys = [], []
    with open(points_csv) as f:
        for row in csv.DictReader(f):
            xs.append(float(row["lon"]))
            ys.append(float(row["lat"]))
    pts = shapely.points(np.array(xs), np.array(ys))
    n = len(pts)

    trees = {}
    t = time.perf_counter()
    for name, (geoms, _) in layers.items():
        shapely.prepare(geoms)
        trees[name] = shapely.STRtree(geoms)
    print(f"RESULT shapely_build_s {time.perf_counter() - t:.3f}")

    t = time.perf_counter()
    pairs = trees["grid"].query(pts, predicate="intersects")
    grid_s = time.perf_counter() - t
    print(f"RESULT shapely_grid_points_per_s {n / grid_s:.0f} ({pairs.shape[1]} point-grid pairs)")

    t = time.perf_counter()
    answers = {}
    for name in ("grid", "community", "street"):
        answers[name] = trees[name].query(pts, predicate="intersects")
    # 15 m in degrees of longitude at 34.7° N (frontage strips are at most 15 m deep).
    answers["frontage"] = trees["frontage"].query_nearest(pts, max_distance=15.0 / 91_600.0, all_matches=False)
    four_s = time.perf_counter() - t
    print(f"RESULT shapely_four_answers_points_per_s {n / four_s:.0f}")


if __name__ == "__main__":
    main()
