"""Clones the replayed demo cases and their events K-1 times (new case ids, the same instants), so
each week and the whole event log hold K times the demo's volume: a bigger city's 考评 on the demo
city's map. SQLite only. Used by benches/assessment.sh (CLONES=K).
    python3 benches/assessment_clone.py bench.db 5"""
import sqlite3, sys
db = sqlite3.connect(sys.argv[1]); K = int(sys.argv[2])
maxc = db.execute("select max(id) from cases").fetchone()[0]
maxe = db.execute("select max(id) from events").fetchone()[0]
cols = [r[1] for r in db.execute("pragma table_info(cases)")]
def col(c, k, off):
    return {"id": f"id + {off}", "idempotency_key": f"idempotency_key || '-x{k}'",
            "follow_token_hash": "NULL"}.get(c, c)
for k in range(1, K):
    off = k * 10_000_000
    db.execute(f"insert into cases ({','.join(cols)}) select {','.join(col(c, k, off) for c in cols)} from cases where id <= {maxc}")
    # Dense ids after the last: a missing id would be taken for an uncommitted transaction.
    last = db.execute("select max(id) from events").fetchone()[0]
    db.execute(f"""insert into events (id, at, actor_id, actor_name, action, entity_type, entity_id, request_id, detail)
      select {last} + row_number() over (order by id), at, actor_id, actor_name, action, entity_type,
             CAST(CAST(entity_id AS INTEGER) + {off} AS TEXT), request_id,
             CASE WHEN json_type(detail, '$.before') = 'object'
               THEN json_set(detail, '$.after.id', json_extract(detail, '$.after.id') + {off},
                                     '$.before.id', json_extract(detail, '$.before.id') + {off})
               WHEN json_type(detail, '$.after') = 'object'
               THEN json_set(detail, '$.after.id', json_extract(detail, '$.after.id') + {off})
               ELSE detail END
      from events where entity_type = 'case' and id <= {maxe}""")
    db.commit()
    print(k, flush=True)
print("cases", db.execute("select count(*) from cases").fetchone()[0],
      "case events", db.execute("select count(*) from events where entity_type='case'").fetchone()[0])
