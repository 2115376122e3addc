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

section "browser test: the demo city seeded once"
# Every test file starts its own server; a first start seeds the whole demo city (about a minute).
# One seeded store is made here and each server starts on a copy (harness.mjs: WANGGE_TEST_SEED_DB).
SEED_DIR=$(mktemp -d)
LOG=$(mktemp)
trap 'rm -f "$LOG"; rm -rf "$SEED_DIR"; kill "${seed_pid:-0}" 2>/dev/null || true' EXIT
seed_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
WANGGE_DATABASE_URL="sqlite://$SEED_DIR/wangge.db" WANGGE_BIND="127.0.0.1:$seed_port" \
  WANGGE_DEMO_WEEKS=0 RUST_LOG=warn "$WANGGE_BIN" serve >"$SEED_DIR/log" 2>&1 &
seed_pid=$!
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$seed_port/healthz" >/dev/null && break
  kill -0 "$seed_pid" 2>/dev/null || { cat "$SEED_DIR/log"; echo "FAIL: the seeding server exited" >&2; exit 1; }
  sleep 0.5
done
curl -sf "http://127.0.0.1:$seed_port/healthz" >/dev/null || { echo "FAIL: the seeding server did not start" >&2; exit 1; }
kill -TERM "$seed_pid"; wait "$seed_pid" || true
export WANGGE_TEST_SEED_DB="$SEED_DIR/wangge.db"
ls -la "$SEED_DIR"

section "browser test: headless Chromium"
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
