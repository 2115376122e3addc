"""The Python references of benches/hotspot.sh, on the same points and counts as wangge:
numpy/scipy binned quartic KDE onto 1000 x 1000 cells, and libpysal Queen weights + esda Gi*
over every demo grid. Prints `RESULT name value` lines.

usage: hotspot.py POINTS.bin COUNTS.json GRID.geojson.gz
"""
import gzip
import json
import statistics
import sys
import time
import warnings

import numpy as np
from scipy.signal import fftconvolve


def median_ms(runs, f):
    t = []
    out = None
    for _ in range(runs):
        s = time.perf_counter()
        out = f()
        t.append((time.perf_counter() - s) * 1e3)
    return statistics.median(t), out


def kde(lon, lat, h=150.0, size=1000):
    # Local equirectangular metres (as cheap as a projection gets), square cells over the extent.
    lat0 = np.radians(lat.mean())
    x = (lon - lon.mean()) * 111_320.0 * np.cos(lat0)
    y = (lat - lat.mean()) * 110_574.0
    w0, e0, s0, n0 = x.min() - h, x.max() + h, y.min() - h, y.max() + h
    c = max((e0 - w0) / size, (n0 - s0) / size)
    hist, _, _ = np.histogram2d(y, x, bins=size, range=[[s0, s0 + c * size], [w0, w0 + c * size]])
    r = int(h // c)
    off = np.arange(-r, r + 1) * c
    d2 = off[None, :] ** 2 + off[:, None] ** 2
    k = np.where(d2 < h * h, 3.0 / (np.pi * h * h) * (1 - d2 / (h * h)) ** 2, 0.0) * 1e6
    return fftconvolve(hist, k, mode="same")


def main(points_path, counts_path, grid_path):
    pts = np.fromfile(points_path, dtype="<f8").reshape(-1, 2)
    lon, lat = pts[:, 0].copy(), pts[:, 1].copy()
    print(f"RESULT py_points {len(lon)}")
    ms, surface = median_ms(5, lambda: kde(lon, lat))
    print(f"RESULT numpy_kde_ms {ms:.1f}")
    print(f"RESULT numpy_kde_peak_per_km2 {surface.max():.0f}")

    from esda.getisord import G_Local
    from libpysal.weights import Queen
    from shapely.geometry import shape

    with open(counts_path) as f:
        counts = json.load(f)
    with gzip.open(grid_path, "rt") as f:
        feats = json.load(f)["features"]
    by_code = {ft["properties"]["code"]: ft["geometry"] for ft in feats}
    shapes = [shape(by_code[c]) for c in counts["codes"]]
    y = np.asarray(counts["y"], dtype=float)

    def weights():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Queen.from_iterable(shapes)

    wms, w = median_ms(3, weights)

    def gi():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return G_Local(y, w, transform="B", star=True, permutations=0)

    gms, g = median_ms(3, gi)
    print(f"RESULT libpysal_weights_ms {wms:.1f}")
    print(f"RESULT esda_gistar_ms {gms:.1f}")
    print(f"RESULT py_gistar_total_ms {wms + gms:.1f}")
    print(f"RESULT gistar_max_abs_z_diff {float(np.max(np.abs(g.Zs - np.asarray(counts['z'])))):.2e}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
