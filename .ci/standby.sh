#!/usr/bin/env bash
# The read replica for analytics (issue 17, docs/scaling.md "Read replica for analytics"): a
# PostgreSQL primary and a streaming standby made by pg_basebackup, one `wangge serve` with
# --read-database-url on the standby. Checks that hot spot and assessment reads are served by the
# standby, that a case list shows a case at once (read-your-writes on the primary), that a standby
# lagging beyond the bound (replay paused) and a stopped standby send the analytics to the primary
# without failing them, and that the standby is used again when it is back. The checks are in
# .ci/standby.py.
#
#   bash .ci/standby.sh
#
# Needs target/debug/wangge built (WANGGE_BIN overrides); never builds. Starts its own primary and
# standby (throwaway, on free ports), whatever $PG_URL says.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${WANGGE_BIN:-target/debug/wangge}
[ -x "$BIN" ] || { echo "standby: $BIN is missing; cargo build --bin wangge first" >&2; exit 1; }

. .ci/lib/postgres.sh
TMP=$(mktemp -d /tmp/wangge-standby.XXXXXX)
KEEP=
cleanup() {
  pg_stop
  [ -n "$KEEP" ] || rm -rf "$TMP"
}
trap cleanup EXIT
# Its own cluster: a standby copies a whole cluster, and CI's holds every suite's databases.
unset PG_URL PG_START PG_STOP PGDIR PG_STANDBY_URL PG_STANDBY_START PG_STANDBY_STOP
start=$(date +%s)
pg_install
# pg_stat_statements counts each statement when it ends, on each server (a standby its own):
# what proves where a read ran. The table statistics would be late: pooled sessions flush them
# only after a while idle.
export PG_OPTS="-c shared_preload_libraries=pg_stat_statements"
pg_start
psql -q "$PG_URL" -c "CREATE DATABASE wangge" >/dev/null
psql -q "${PG_URL%/*}/wangge" -c "CREATE EXTENSION pg_stat_statements" >/dev/null
pg_start_standby
echo "standby: primary $PG_URL, standby $PG_STANDBY_URL ($(( $(date +%s) - start )) s)"

WANGGE_BIN=$BIN STANDBY_PRIMARY_URL="${PG_URL%/*}/wangge" STANDBY_READ_URL="${PG_STANDBY_URL%/*}/wangge" \
  STANDBY_TMP=$TMP python3 .ci/standby.py || { KEEP=1; echo "standby: logs kept in $TMP" >&2; exit 1; }
echo "standby: done in $(( $(date +%s) - start )) s"
