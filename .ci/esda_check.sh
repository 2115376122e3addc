#!/usr/bin/env bash
# Gi* equality with PySAL: wangge writes units, outlines, neighbours, values and its z, p and bins;
# libpysal rebuilds the Queen/Rook neighbours from the outlines (every set must equal wangge's) and
# esda's G_Local(star=True) recomputes z, p and bins (tests/python/esda_check.py says how each is
# compared). The PySAL stack is pinned in tests/python/requirements-esda.txt.
# Fails loudly when the comparison did not run.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${WANGGE_ESDA_VENV:-target/esda-venv}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/python/requirements-esda.txt
"$VENV/bin/python" -c "import esda, libpysal, numpy, scipy, shapely; print('esda', esda.__version__, 'libpysal', libpysal.__version__, 'numpy', numpy.__version__, 'scipy', scipy.__version__, 'shapely', shapely.__version__)"
FIXTURE=$(mktemp --suffix=.json)
trap 'rm -f "$FIXTURE" "$FIXTURE.log"' EXIT
WANGGE_ESDA_FIXTURE="$FIXTURE" cargo test --test suite hotspots::write_the_esda_comparison_fixture -- --ignored --nocapture
if [ ! -s "$FIXTURE" ]; then
  echo "FAIL: wangge did not write the esda fixture" >&2
  exit 1
fi
"$VENV/bin/python" tests/python/esda_check.py "$FIXTURE" | tee "$FIXTURE.log"
grep -q "^esda agreement: " "$FIXTURE.log" || { echo "FAIL: the esda comparison did not run" >&2; exit 1; }
