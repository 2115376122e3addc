"""Compares wangge's Gi* z-scores with PySAL esda's G_Local(star=True) on the same units,
neighbours and values (written by the ignored test `write_the_esda_comparison_fixture`).

Exits non-zero unless every z-score of every case agrees to 1e-6, for both weight transforms
(binary "B", ArcGIS's convention, and row-standardised "R", esda's default).
"""
import json
import sys
import warnings

import numpy as np
from esda.getisord import G_Local
from libpysal.weights import W

TOLERANCE = 1e-6


def main(path):
    with open(path) as f:
        cases = json.load(f)["cases"]
    if not cases:
        sys.exit("FAIL: the fixture holds no case")
    compared = 0
    for case in cases:
        n = len(case["ids"])
        neighbours = {i: list(nb) for i, nb in enumerate(case["neighbours"])}
        y = np.asarray(case["y"], dtype=float)
        for transform, key in (("B", "z_binary"), ("R", "z_row")):
            w = W(neighbours, silence_warnings=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                g = G_Local(y, w, transform=transform, star=True, permutations=0)
            ours = np.asarray(case[key], dtype=float)
            diff = np.abs(g.Zs - ours)
            worst = float(np.nanmax(diff))
            if np.isnan(g.Zs).any() != np.isnan(ours).any() or worst > TOLERANCE:
                i = int(np.nanargmax(diff))
                sys.exit(
                    f"FAIL: {case['name']} transform={transform}: max |z_esda - z_wangge| = {worst:.3e} "
                    f"at unit {case['ids'][i]} (esda {g.Zs[i]!r}, wangge {ours[i]!r})"
                )
            print(
                f"{case['name']}, transform={transform}: {n} units, "
                f"mean {np.mean([len(v) for v in neighbours.values()]):.2f} neighbours, "
                f"max |z_esda - z_wangge| = {worst:.2e}"
            )
            compared += n
    print(f"esda agreement: {compared} z-scores equal to {TOLERANCE:g}")


if __name__ == "__main__":
    main(sys.argv[1])
