//! Reading the append-only event log forward, for the live case stream: the newest id, and the
//! events after a given id in id order.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, StoreResult, on_pool};

/// One event of the log, without its detail.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEvent {
    /// Sequence number.
    pub id: i64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened, e.g. `case.dispatch`.
    pub action: String,
    /// Kind of the changed thing, e.g. `case`.
    pub entity_type: String,
    /// Id of the changed thing.
    pub entity_id: String,
}

impl Store {
    /// The id of the newest event (0 when the log is empty).
    pub async fn max_event_id(&self) -> StoreResult<i64> {
        on_pool!(self, |pool, d| {
            Ok(
                sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(id) FROM events")
                    .fetch_one(pool)
                    .await?
                    .unwrap_or(0),
            )
        })
    }

    /// The note of each of these cases' newest `case.close` event (what the reporter is told),
    /// for the cases that have one: a page of cases in one query.
    pub async fn closing_notes(
        &self,
        case_ids: &[i64],
    ) -> StoreResult<std::collections::HashMap<i64, String>> {
        let mut out: std::collections::HashMap<i64, (i64, Option<String>)> =
            std::collections::HashMap::new();
        for chunk in case_ids.chunks(super::ID_CHUNK) {
            let quoted: Vec<String> = chunk.iter().map(|id| format!("'{id}'")).collect();
            // No ORDER BY: sorting by id leads SQLite to walk every case event in id order
            // (`events_case_log`, 64 ms over the demo's 31 000 events) instead of looking the
            // cases up (`events_entity`); the newest close per case is picked here.
            let sql = format!(
                "SELECT id, entity_id, detail FROM events WHERE entity_type = 'case' \
                 AND action = 'case.close' AND entity_id IN ({})",
                quoted.join(",")
            );
            on_pool!(self, |pool, d| {
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                    .fetch_all(pool)
                    .await?;
                for r in &rows {
                    let event: i64 = r.try_get("id")?;
                    let id: String = r.try_get("entity_id")?;
                    let detail = r
                        .try_get::<sqlx::types::Json<serde_json::Value>, _>("detail")?
                        .0;
                    let Ok(id) = id.parse::<i64>() else { continue };
                    // A case closed again keeps its newest close's note.
                    if out.get(&id).is_none_or(|(seen, _)| *seen < event) {
                        let note = detail.get("note").and_then(serde_json::Value::as_str);
                        out.insert(id, (event, note.map(str::to_owned)));
                    }
                }
            });
        }
        Ok(out
            .into_iter()
            .filter_map(|(id, (_, note))| Some((id, note?)))
            .collect())
    }

    /// Events with `after < id <= upto` (any `upto` when None), oldest first, at most `limit`;
    /// of one entity type when given. Every entity type counts for the stream's gap detection,
    /// since all share one sequence.
    pub async fn events_after(
        &self,
        after: i64,
        upto: Option<i64>,
        entity_type: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<FeedEvent>> {
        on_pool!(self, |pool, d| {
            let rows = sqlx::query(
                "SELECT id, at, action, entity_type, entity_id FROM events \
                 WHERE id > $1 AND ($2 IS NULL OR id <= $2) AND ($3 IS NULL OR entity_type = $3) \
                 ORDER BY id LIMIT $4",
            )
            .bind(after)
            .bind(upto)
            .bind(entity_type)
            .bind(limit.clamp(1, 10_000))
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(FeedEvent {
                        id: r.try_get("id")?,
                        at: r.try_get("at")?,
                        action: r.try_get("action")?,
                        entity_type: r.try_get("entity_type")?,
                        entity_id: r.try_get("entity_id")?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(Into::into)
        })
    }
}

impl Store {
    /// Case events with `from <= at < to` and `id > after_id`, oldest first (by id), at most
    /// `limit` (1–1000), with their detail: what the Open311 `servicerequestupdates` read
    /// filters down to the public status changes. Uses the `events (at)` order of the log: ids
    /// grow with time, so `id > after_id` pages through one window.
    pub async fn case_events_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<super::EventRecord>> {
        on_pool!(self, |pool, d| {
            let rows = sqlx::query(
                "SELECT id, at, actor_id, actor_name, action, entity_type, entity_id, request_id, detail \
                 FROM events \
                 WHERE entity_type = 'case' AND at >= $1 AND at < $2 AND id > $3 \
                 ORDER BY id LIMIT $4",
            )
            .bind(from)
            .bind(to)
            .bind(after_id)
            .bind(limit.clamp(1, 1000))
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(super::event_from_row)
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(Into::into)
        })
    }
}
