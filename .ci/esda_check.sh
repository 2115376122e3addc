#!/usr/bin/env bash
# Gi* equality with PySAL: wangge writes units, neighbours, values and its z-scores; esda's
# G_Local(star=True) recomputes them from the same units and weights; every z must agree to 1e-6.
# Fails loudly when the comparison did not run.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${WANGGE_ESDA_VENV:-target/esda-venv}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check esda libpysal numpy
"$VENV/bin/python" -c "import esda, libpysal; print('esda', esda.__version__, 'libpysal', libpysal.__version__)"
FIXTURE=$(mktemp --suffix=.json)
trap 'rm -f "$FIXTURE"' EXIT
WANGGE_ESDA_FIXTURE="$FIXTURE" cargo test --test hotspots write_the_esda_comparison_fixture -- --ignored --nocapture
if [ ! -s "$FIXTURE" ]; then
  echo "FAIL: wangge did not write the esda fixture" >&2
  exit 1
fi
"$VENV/bin/python" tests/python/esda_check.py "$FIXTURE" | tee "$FIXTURE.log"
grep -q "^esda agreement: " "$FIXTURE.log" || { echo "FAIL: the esda comparison did not run" >&2; exit 1; }
rm -f "$FIXTURE.log"
