#!/usr/bin/env bash
# Vector tile benchmark: wangge's grid tiles (in process, from memory) against PostGIS
# ST_AsMVT with the query martin and pg_tileserv run, same tiles, same run. Prints p50/p99 per zoom.
#   bash benches/tiles.sh                 # 3 timed passes over the tile list on each side
#   ROUNDS=1 bash benches/tiles.sh
# Tiles: every tile meeting the city's extent at z12-z14, a fixed sample of 200 at z15 and z16
# (benches/tile_list.py). PostGIS is timed inside the server (clock_timestamp() around each
# statement in a PL/pgSQL loop: no client transfer), wangge around TileSet::tile (no HTTP).
# Needs: root for apt-get (postgresql-15-postgis-3).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
WORK=$(mktemp -d /tmp/wangge-tiles-bench.XXXXXX)
OUT="$WORK/results.txt"
export CARGO_TERM_COLOR=never
BBOX="113.4474 34.6049 113.6705 34.8604"   # the demo city's extent (WGS84)

. .ci/lib/postgres.sh
cleanup() { pg_stop; }
trap cleanup EXIT

echo "== build (release)"
cargo build --release --bins -q
BIN=target/release/wangge

echo "== PostgreSQL + PostGIS"
pg_install
pg_start
psql "$PG_URL" -qc "CREATE DATABASE bench"
DB="${PG_URL%/postgres}/bench"
RUST_LOG=warn "$BIN" init --demo-weeks 0 --database-url "$DB"
python3 benches/tile_list.py $BBOX > "$WORK/tiles.csv"
echo "tiles per zoom: $(cut -d, -f1 "$WORK/tiles.csv" | sort -n | uniq -c | awk '{printf "z%s %s  ", $2, $1}')"
chmod a+rx "$WORK"; chmod a+r "$WORK/tiles.csv"
psql "$DB" -q <<SQL
CREATE TABLE bench_tiles (z INT, x INT, y INT);
\copy bench_tiles FROM '$WORK/tiles.csv' CSV
ANALYZE jurisdictions;
CREATE FUNCTION bench_mvt(rounds INT) RETURNS TABLE (tz INT, ms FLOAT8, bytes INT) AS \$\$
DECLARE t RECORD; t0 TIMESTAMPTZ; b BYTEA;
BEGIN
  FOR r IN 1..rounds LOOP
    FOR t IN SELECT * FROM bench_tiles ORDER BY z, x, y LOOP
      t0 := clock_timestamp();
      SELECT ST_AsMVT(q, 'grid', 4096, 'geom') INTO b FROM (
        SELECT code, name, parent_code, unit_code,
               ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope(t.z, t.x, t.y), 4096, 64, true) AS geom
        FROM jurisdictions
        WHERE layer = 'grid' AND valid_to IS NULL
          AND geom && ST_Transform(ST_TileEnvelope(t.z, t.x, t.y), 4326)) q;
      tz := t.z;
      ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
      bytes := coalesce(length(b), 0);
      RETURN NEXT;
    END LOOP;
  END LOOP;
END \$\$ LANGUAGE plpgsql;
SQL

echo "== PostGIS ST_AsMVT ($ROUNDS passes)"
psql "$DB" -At -F' ' -c "SELECT 'RESULT postgis_z' || tz, round(percentile_disc(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 4),
    round(percentile_disc(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 4), count(*) / $ROUNDS, sum(bytes) / $ROUNDS
  FROM bench_mvt($ROUNDS) GROUP BY tz ORDER BY tz" | tee -a "$OUT"

echo "== wangge TileSet::tile in process ($ROUNDS passes)"
WANGGE_BENCH_DATABASE_URL="$DB" WANGGE_BENCH_TILES="$WORK/tiles.csv" WANGGE_BENCH_ROUNDS="$ROUNDS" \
  cargo bench --profile release --bench tiles -q 2>/dev/null | grep RESULT | tee -a "$OUT"

echo
echo "== summary ($(nproc) cores; milliseconds per grid tile; ratio = PostGIS / wangge)"
python3 - "$OUT" <<'PY'
import re, sys
r = {}
for line in open(sys.argv[1]):
    m = re.match(r"RESULT (\S+) (.*)", line.strip())
    if m:
        r[m.group(1)] = m.group(2).split()
print(f"{'zoom':>4} {'tiles':>6} {'wangge p50':>11} {'p99':>9} {'PostGIS p50':>12} {'p99':>9} {'p50 ratio':>10} {'p99 ratio':>10} {'KB wangge':>10} {'KB PostGIS':>11}")
for z in range(12, 17):
    w, p = r.get(f"wangge_z{z}"), r.get(f"postgis_z{z}")
    if not w or not p:
        continue
    w50, w99, n, wb = float(w[0]), float(w[1]), int(w[2]), int(w[3])
    p50, p99, pb = float(p[0]), float(p[1]), int(float(p[3]))
    print(f"{z:>4} {n:>6} {w50:>11.3f} {w99:>9.3f} {p50:>12.3f} {p99:>9.3f} {p50 / w50:>9.1f}x {p99 / w99:>9.1f}x {wb / n / 1024:>10.1f} {pb / n / 1024:>11.1f}")
print("tile set build (s):", r.get("wangge_tileset_build_s", ["?"])[0])
PY
