#!/usr/bin/env bash
# Wangge replicas (2 in CI, 3 with --bench) behind a real HAProxy on one PostgreSQL (issue 17,
# docs/scaling.md): racing first start, category and layer propagation (p50/p99), idempotency
# across replicas, stream resume on the other replica, a replica SIGKILLed under load. The checks
# are in .ci/replicas.py.
#
#   bash .ci/replicas.sh            # CI: 2 replicas, 20 propagation rounds
#   bash .ci/replicas.sh --bench    # the documented benchmark: 3 replicas, 50 rounds
#   WANGGE_BIN=target/release/wangge REPLICAS_GEODATA=geodata bash .ci/replicas.sh --bench
#                                   # ... on the whole demo city
#
# Needs target/debug/wangge built (WANGGE_BIN overrides). Uses the PostgreSQL cluster of $PG_URL
# when set (CI), else starts a throwaway one; either way in a fresh database of its own.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${WANGGE_BIN:-target/debug/wangge}
[ -x "$BIN" ] || { echo "replicas: $BIN is missing; cargo build --bin wangge first" >&2; exit 1; }
PUBLISHES=20
REPLICAS_N=${REPLICAS_N:-2}
if [ "${1:-}" = "--bench" ]; then
  PUBLISHES=50
  REPLICAS_N=3
fi
export REPLICAS_N

if ! command -v haproxy >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null
fi

. .ci/lib/postgres.sh
TMP=$(mktemp -d /tmp/wangge-replicas.XXXXXX)
cleanup() {
  if [ -n "${DB_URL:-}" ]; then
    psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  [ -n "${OWN_PG:-}" ] && pg_stop
  [ -n "${KEEP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
if [ -z "${PG_URL:-}" ]; then
  pg_install
  pg_start
  OWN_PG=1
fi
DB=wangge_replicas_$$
psql -q "$PG_URL" -c "CREATE DATABASE $DB" >/dev/null
DB_URL="${PG_URL%/*}/$DB"

start=$(date +%s)
KEEP=
WANGGE_BIN=$BIN REPLICAS_DB_URL=$DB_URL REPLICAS_TMP=$TMP REPLICAS_PUBLISHES=$PUBLISHES \
  python3 .ci/replicas.py || { KEEP=1; echo "replicas: logs kept in $TMP" >&2; exit 1; }
echo "replicas: done in $(( $(date +%s) - start )) s"
