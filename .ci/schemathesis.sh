#!/usr/bin/env bash
# The OpenAPI document against the real binary: schemathesis generates requests from
# /api/openapi.json (valid and invalid ones) and checks every answer: no 5xx, every status
# documented, the documented content type, the documented schema. First on a temporary SQLite
# store with the demo city, then on PostgreSQL when PG_URL names a server (a fresh database is
# created on it). Bounded: --max-examples per operation and a wall-clock budget per store
# (WANGGE_SCHEMATHESIS_SECS, default 130 s: under 3 minutes per store with the start). Fails when no test case ran.
#
# Run: bash .ci/schemathesis.sh            (after `cargo build`; SQLite only)
#      PG_URL=postgres://… bash .ci/schemathesis.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
VENV=${WANGGE_SCHEMATHESIS_VENV:-target/schemathesis-venv}
BUDGET=${WANGGE_SCHEMATHESIS_SECS:-130}
EXAMPLES=${WANGGE_SCHEMATHESIS_EXAMPLES:-25}
BIN=target/debug/wangge

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
"$VENV/bin/schemathesis" --version
[ -x "$BIN" ] || cargo build --bin wangge

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# run_against LABEL DATABASE_URL
run_against() {
  local label=$1 db=$2 dir port pid base token status
  dir=$(mktemp -d)
  port=$(free_port)
  base="http://127.0.0.1:$port"
  # The throttles are tested in tests/api.rs; here they would answer 429 to most of the
  # generated logins and public reports and leave the logic behind them unfuzzed.
  WANGGE_LOGIN_MAX_FAILURES=100000 WANGGE_LOGIN_MAX_FAILURES_PER_ADDRESS=100000 \
    WANGGE_PUBLIC_BURST=100000 WANGGE_PUBLIC_PER_HOUR=100000 \
    WANGGE_FOLLOW_TOKEN_BURST=100000 WANGGE_FOLLOW_TOKEN_PER_HOUR=100000 \
    "$BIN" serve --database-url "$db" --bind "127.0.0.1:$port" --photo-dir "$dir/photos" \
    --demo-weeks 1 --log-format json >"$dir/server.log" 2>&1 &
  pid=$!
  # The first start loads the demo city (and its two-year history) into the empty store, and
  # replays one week of it through the case workflow (cases to fuzz, without the full replay's
  # minute and more).
  for _ in $(seq 1 600); do
    if curl -sf "$base/healthz" >/dev/null; then break; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "FAIL: the service on $label did not start" >&2
      tail -20 "$dir/server.log" >&2
      exit 1
    fi
    sleep 0.5
  done
  token=$(curl -sf -X POST "$base/api/auth/login" -H 'content-type: application/json' \
    -d '{"username":"demo_admin","password":"wangge-demo"}' |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
  # Left out, because they cannot be fuzzed meaningfully with one shared token:
  # - GET /api/cases/stream: server-sent events, an answer that does not end;
  # - POST /api/auth/logout and POST /api/users/{id}/revoke-tokens: they revoke the admin token
  #   every later request runs with (they are covered by tests/api.rs).
  status=0
  timeout --signal=INT --kill-after=20 "$((BUDGET + 40))" \
    "$VENV/bin/schemathesis" run "$base/api/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --exclude-path /api/cases/stream \
    --exclude-path /api/auth/logout \
    --exclude-path '/api/users/{id}/revoke-tokens' \
    --max-examples "$EXAMPLES" \
    --max-time "$BUDGET" \
    --workers 2 \
    --request-timeout 30 \
    --seed 11 \
    --generation-deterministic \
    --no-color \
    --report junit --report-junit-path "$dir/junit.xml" \
    2>&1 | tee "$dir/schemathesis.log" || status=$?
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  local cases
  cases=$(python3 - "$dir/junit.xml" <<'EOF'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    print(0)
    raise SystemExit
print(sum(1 for _ in root.iter("testcase")))
EOF
)
  if [ "$cases" -eq 0 ]; then
    echo "FAIL: schemathesis ran no test case on $label" >&2
    exit 1
  fi
  if [ "$status" -ne 0 ] && python3 - "$dir/junit.xml" <<'JUNIT'
# CPython 3.11's compiler is not thread-safe when hypothesis parses a lambda's source on two
# workers at once ("SystemError: AST constructor recursion depth mismatch"): schemathesis then
# reports a runtime error of its own for one operation, not an answer of ours. Such a run passes
# (with a warning) only when it is the sole kind of error and no check failed.
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
failures = [c for tc in root.iter("testcase") for c in tc if c.tag == "failure"]
errors = [(tc.get("name"), c) for tc in root.iter("testcase") for c in tc if c.tag == "error"]
race = "AST constructor recursion depth mismatch"
if failures or not errors or any(race not in (c.text or "") for _, c in errors):
    raise SystemExit(1)
for name, _ in errors:
    print(f"WARNING: schemathesis crashed on {name} (CPython 3.11 {race}); no check failed", file=sys.stderr)
JUNIT
  then
    status=0
  fi
  if [ "$status" -ne 0 ]; then
    echo "FAIL: schemathesis found contract violations on $label (exit $status); server log: $dir/server.log" >&2
    exit 1
  fi
  echo "schemathesis on $label: $cases operations passed"
  rm -rf "$dir"
}

SQLITE_DIR=$(mktemp -d)
trap 'rm -rf "$SQLITE_DIR"' EXIT
run_against SQLite "sqlite://$SQLITE_DIR/wangge.db"

if [ -n "${PG_URL:-}" ]; then
  name="wangge_schemathesis_$$"
  psql "$PG_URL" -Atqc "CREATE DATABASE $name"
  run_against PostgreSQL "${PG_URL%/*}/$name"
  psql "$PG_URL" -Atqc "DROP DATABASE $name WITH (FORCE)" || true
fi
