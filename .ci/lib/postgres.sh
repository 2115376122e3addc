# Sourced by .ci/run and benches/*.sh: a throwaway PostgreSQL 15 + PostGIS 3 cluster on a free port.
# After pg_start: PG_URL (the server's `postgres` database), PG_START and PG_STOP (shell commands),
# PGDIR. PG_OPTS adds server options (`-c name=value …`). pg_start_standby adds a
# streaming-replication standby of it (PG_STANDBY_URL,
# PG_STANDBY_START, PG_STANDBY_STOP). pg_stop removes everything.

pg_install() {
  if ! dpkg -s postgresql-15-postgis-3 >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15-postgis-3 >/dev/null
  fi
}

pg_start() {
  local bin=/usr/lib/postgresql/15/bin port
  PGDIR=$(mktemp -d /tmp/wangge-pg.XXXXXX)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  chown postgres:postgres "$PGDIR"
  runuser -u postgres -- "$bin/initdb" -D "$PGDIR/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  PG_START="runuser -u postgres -- $bin/pg_ctl -D $PGDIR/data -l $PGDIR/log -w -o '-p $port -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=${PG_FSYNC:-off} ${PG_OPTS:-}' start"
  PG_STOP="runuser -u postgres -- $bin/pg_ctl -D $PGDIR/data -m fast -w stop"
  sh -c "$PG_START" >/dev/null
  PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
  export PG_URL PG_START PG_STOP PGDIR
}

# A hot standby of the cluster of pg_start, on a free port of its own: pg_basebackup -R copies
# the cluster and writes primary_conninfo + standby.signal. initdb's defaults already allow it
# (wal_level=replica, max_wal_senders=10, and -A trust puts `replication` lines for local and
# 127.0.0.1 connections into pg_hba.conf).
pg_start_standby() {
  local bin=/usr/lib/postgresql/15/bin port primary_port
  primary_port=${PG_URL##*:}
  primary_port=${primary_port%%/*}
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  runuser -u postgres -- "$bin/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres \
    -D "$PGDIR/standby" -R -X stream -c fast
  PG_STANDBY_START="runuser -u postgres -- $bin/pg_ctl -D $PGDIR/standby -l $PGDIR/standby.log -w -o '-p $port -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=${PG_FSYNC:-off} -c hot_standby=on ${PG_OPTS:-}' start"
  PG_STANDBY_STOP="runuser -u postgres -- $bin/pg_ctl -D $PGDIR/standby -m fast -w stop"
  sh -c "$PG_STANDBY_START" >/dev/null
  PG_STANDBY_URL="postgres://postgres@127.0.0.1:$port/postgres"
  export PG_STANDBY_URL PG_STANDBY_START PG_STANDBY_STOP
}

pg_stop() {
  if [ -n "${PG_STANDBY_STOP:-}" ]; then
    sh -c "$PG_STANDBY_STOP" >/dev/null 2>&1 || true
  fi
  if [ -n "${PG_STOP:-}" ]; then
    sh -c "$PG_STOP" >/dev/null 2>&1 || true
    rm -rf "$PGDIR"
  fi
}
