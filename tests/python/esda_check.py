"""Compares wangge's Gi* with PySAL esda's G_Local(star=True) on the cases written by the ignored
test `write_the_esda_comparison_fixture` (tests/hotspots.rs).

- Contiguity cases (the case carries "contiguity" and each area's polygon): libpysal builds its own
  Queen/Rook weights from the polygons (`Queen/Rook.from_iterable` over shapely shapes, ids in
  fixture order). Every area's neighbour set must equal wangge's, and esda then runs on
  libpysal's weights, not wangge's.
- Other cases (distance band, k-ring): esda runs on wangge's neighbour lists.

For each case and both weight transforms (binary "B", ArcGIS's convention, and row-standardised
"R", esda's default) this compares, area by area:
- z: esda's analytical `Zs`, to 1e-6;
- p: wangge's p is two-sided, P(|Z| ≥ |z|) (ArcGIS's); esda's `p_norm` is the one-sided
  `norm.sf(|z|)`, so wangge's p is compared with 2·p_norm, to a relative 1e-9;
- bins: ArcGIS's Gi_Bin (±3 at p < 0.01, ±2 at p < 0.05, ±1 at p < 0.10, signed like z), derived
  here from esda's z and 2·p_norm; equal except where |z| lies within 1e-6 of a threshold's z.

Exits non-zero on the first difference, naming the case, transform and area. The last line starts
with "esda agreement: " (.ci/run greps it).
"""

import json
import sys
import warnings

import numpy as np
import shapely.geometry
from esda.getisord import G_Local
from libpysal.weights import W, Queen, Rook
from scipy import stats

Z_TOLERANCE = 1e-6
P_RELATIVE_TOLERANCE = 1e-9
# Two-sided significance levels of ArcGIS's bins, from the most significant down.
LEVELS = ((0.01, 3), (0.05, 2), (0.10, 1))
THRESHOLDS_Z = [float(stats.norm.isf(alpha / 2)) for alpha, _ in LEVELS]


def fail(message):
    sys.exit(f"FAIL: {message}")


def arcgis_bin(z, p):
    level = next((lvl for alpha, lvl in LEVELS if p < alpha), 0)
    return int(np.sign(z)) * level


def libpysal_weights(case):
    """libpysal's contiguity weights from the case's polygons, checked against wangge's sets."""
    ids = case["ids"]
    if len(set(ids)) != len(ids):
        fail(f"{case['name']}: area codes are not unique")
    shapes = [
        shapely.geometry.shape({"type": "MultiPolygon", "coordinates": c})
        for c in case["polygons"]
    ]
    builder = {"queen": Queen, "rook": Rook}[case["contiguity"]]
    # `ids` names the areas; `id_order` sets the order of the matrix rows (W ignores `ids` for
    # that and would sort the names), which must be the fixture's, as y is.
    w = builder.from_iterable(shapes, ids=ids, id_order=ids, silence_warnings=True)
    differ = []
    multi_ring = 0
    for i, code in enumerate(ids):
        theirs = set(w.neighbors.get(code, []))
        ours = {ids[j] for j in case["neighbours"][i]}
        if theirs != ours:
            differ.append(
                f"{code}: libpysal only {sorted(theirs - ours)}, wangge only {sorted(ours - theirs)}"
            )
            multi_ring += sum(len(part) for part in case["polygons"][i]) > 1
    if differ:
        shown = "\n  ".join(differ[:20])
        # libpysal's Rook chains all rings of a polygon into one vertex list, so it sees an edge
        # from the end of one ring to the start of the next; wangge does not.
        hint = (
            f"\n  ({multi_ring} of them have more than one ring: see docs/hotspots.md on Rook)"
            if multi_ring
            else ""
        )
        fail(
            f"{case['name']}: {len(differ)} of {len(ids)} neighbour sets differ from libpysal's "
            f"{case['contiguity']} weights:\n  {shown}{hint}"
        )
    return w


def compare(case, w, transform, suffix):
    name, ids = case["name"], case["ids"]
    y = np.asarray(case["y"], dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = G_Local(y, w, transform=transform, star=True, permutations=0)
    z_ours = np.asarray(case[f"z_{suffix}"], dtype=float)
    p_ours = np.asarray(case[f"p_{suffix}"], dtype=float)
    bin_ours = np.asarray(case[f"bin_{suffix}"], dtype=int)
    where = f"{name} transform={transform}"

    z_diff = np.abs(g.Zs - z_ours)
    z_worst = float(np.nanmax(z_diff))
    if np.isnan(g.Zs).any() != np.isnan(z_ours).any() or z_worst > Z_TOLERANCE:
        i = int(np.nanargmax(z_diff))
        fail(
            f"{where}: max |z_esda - z_wangge| = {z_worst:.3e} at unit {ids[i]} "
            f"(esda {g.Zs[i]!r}, wangge {z_ours[i]!r})"
        )

    p_esda = 2.0 * g.p_norm
    p_rel = np.abs(p_esda - p_ours) / np.maximum(np.maximum(p_esda, p_ours), 1e-300)
    p_worst = float(np.max(p_rel))
    if p_worst > P_RELATIVE_TOLERANCE:
        i = int(np.argmax(p_rel))
        fail(
            f"{where}: max relative |2·p_norm - p_wangge| = {p_worst:.3e} at unit {ids[i]} "
            f"(z {z_ours[i]!r}: esda 2·p_norm {p_esda[i]!r}, wangge {p_ours[i]!r})"
        )

    bin_esda = np.array([arcgis_bin(z, p) for z, p in zip(g.Zs, p_esda, strict=True)])
    at_threshold = np.array(
        [any(abs(abs(z) - t) <= Z_TOLERANCE for t in THRESHOLDS_Z) for z in g.Zs]
    )
    wrong = np.flatnonzero((bin_esda != bin_ours) & ~at_threshold)
    if wrong.size:
        i = int(wrong[0])
        fail(
            f"{where}: {wrong.size} bins differ, first at unit {ids[i]} "
            f"(z {g.Zs[i]!r}: esda bin {bin_esda[i]}, wangge bin {bin_ours[i]})"
        )
    bins_compared = int((~at_threshold).sum())
    print(
        f"{where}: {len(ids)} units, max |Δz| = {z_worst:.2e}, max relative |Δp| = {p_worst:.2e}, "
        f"{bins_compared} bins equal ({len(ids) - bins_compared} at a threshold), "
        f"hot/cold at 95 %: {int((bin_ours >= 2).sum())}/{int((bin_ours <= -2).sum())}"
    )
    return len(ids), bins_compared


def main(path):
    with open(path) as f:
        cases = json.load(f)["cases"]
    if not cases:
        fail("the fixture holds no case")
    z_count = bins = neighbour_sets = 0
    for case in cases:
        n = len(case["ids"])
        if "contiguity" in case:
            w = libpysal_weights(case)
            neighbour_sets += n
            source = f"libpysal {case['contiguity']}"
        else:
            ids = case["ids"]
            neighbours = {
                code: [ids[j] for j in nb]
                for code, nb in zip(ids, case["neighbours"], strict=True)
            }
            w = W(neighbours, id_order=ids, silence_warnings=True)
            source = "wangge's neighbours"
        if list(w.id_order) != case["ids"]:
            fail(f"{case['name']}: the weights' rows are not in the fixture's order")
        print(f"{case['name']}: weights from {source}, mean {w.mean_neighbors:.2f} neighbours")
        for transform, suffix in (("B", "binary"), ("R", "row")):
            compared, binned = compare(case, w, transform, suffix)
            z_count += compared
            bins += binned
    print(
        f"esda agreement: {z_count} z-scores to {Z_TOLERANCE:g}, {z_count} p-values to a relative "
        f"{P_RELATIVE_TOLERANCE:g}, {bins} bins equal, {neighbour_sets} neighbour sets equal to "
        f"libpysal's, over {len(cases)} cases × 2 transforms"
    )


if __name__ == "__main__":
    main(sys.argv[1])
