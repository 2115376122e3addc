#!/usr/bin/env bash
# Refreshes web/vendor/ from the versions pinned in web/package.json (and package-lock.json).
#
# The map page loads MapLibre GL JS from wangge itself, never from a CDN, so the few files it needs
# are copied out of node_modules and committed: a fresh machine runs `cargo run` without npm.
#
# To update MapLibre: set the exact version in web/package.json, run this script, check the page
# (the browser test in tests/browser), and commit package.json, package-lock.json and vendor/.
set -euo pipefail
cd "$(dirname "$0")"

if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi

src=node_modules/maplibre-gl
dst=vendor/maplibre-gl
version=$(node -p "require('./$src/package.json').version")
rm -rf "$dst"
mkdir -p "$dst"
# The ES module build and its module worker (found next to maplibre-gl.mjs by import.meta.url),
# the stylesheet and the licence. Source maps are left out to keep the repository small.
cp "$src/dist/maplibre-gl.mjs" "$src/dist/maplibre-gl-worker.mjs" "$src/dist/maplibre-gl.css" "$dst/"
cp "$src/LICENSE.txt" "$dst/LICENSE.txt"
echo "$version" > "$dst/VERSION"
echo "vendored maplibre-gl $version into web/$dst:"
ls -l "$dst"
