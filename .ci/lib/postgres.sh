# Sourced by .ci/run and benches/*.sh: a throwaway PostgreSQL 15 + PostGIS 3 cluster on a free port.
# After pg_start: PG_URL (the server's `postgres` database), PG_START and PG_STOP (shell commands),
# PGDIR. pg_stop removes everything.

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
  PG_START="runuser -u postgres -- $bin/pg_ctl -D $PGDIR/data -l $PGDIR/log -w -o '-p $port -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=${PG_FSYNC:-off}' start"
  PG_STOP="runuser -u postgres -- $bin/pg_ctl -D $PGDIR/data -m fast -w stop"
  sh -c "$PG_START" >/dev/null
  PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
  export PG_URL PG_START PG_STOP PGDIR
}

pg_stop() {
  if [ -n "${PG_STOP:-}" ]; then
    sh -c "$PG_STOP" >/dev/null 2>&1 || true
    rm -rf "$PGDIR"
  fi
}
