#!/usr/bin/env bash
# CI: the map page in real headless Chromium against the real wangge binary (tests/browser).
#
# Runs every tests/browser/*.test.mjs. Builds nothing: it uses WANGGE_BIN (default
# target/debug/wangge, built by `cargo test` earlier in .ci/run). Installs Debian's chromium and
# fonts-noto-cjk when missing, runs `npm ci` in tests/browser and the tests with node's built-in
# runner, and fails when a test failed or when no test actually ran. Screenshots are left in
# artifacts/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."

section() { printf '\n==== %s ====\n' "$*"; }

WANGGE_BIN=${WANGGE_BIN:-target/debug/wangge}
if [ ! -x "$WANGGE_BIN" ]; then
  echo "FAIL: wangge binary not found at $WANGGE_BIN (run cargo build or cargo test first, or set WANGGE_BIN)" >&2
  exit 1
fi
export WANGGE_BIN

section "browser test: system packages"
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing+=(fonts-noto-cjk)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
/usr/bin/chromium --version 2>/dev/null || true
node --version

section "browser test: npm ci"
(cd tests/browser && npm ci --no-audit --no-fund)

section "browser test: headless Chromium"
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
status=0
node --test --test-reporter=tap tests/browser/ 2>&1 | tee "$LOG" || status=$?

passed=$(awk '/^# pass /{print $3}' "$LOG" | tail -n 1)
failed=$(awk '/^# fail /{print $3}' "$LOG" | tail -n 1)
if [ "$status" -ne 0 ] || [ "${failed:-1}" != 0 ]; then
  echo "FAIL: browser test failed (exit $status, ${failed:-?} failed)" >&2
  exit 1
fi
if [ -z "$passed" ] || [ "$passed" -eq 0 ]; then
  echo "FAIL: no browser test ran" >&2
  exit 1
fi
echo "browser test: $passed tests passed; screenshots in artifacts/screenshots/"
