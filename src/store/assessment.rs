//! 考评: the case event log read as timelines, the versioned scheme and the published snapshots.
//! Schemes and snapshots are append-only (triggers in both databases).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;
use sqlx::types::Json;

use super::{Audit, Dialect, Store, StoreError, StoreResult, append_event, on_pool};
use crate::domain::assessment::CaseEvent;
use crate::domain::case::Case;

/// One stored version of the scheme.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SchemeVersion {
    /// Version, from 1.
    pub version: i64,
    /// The document.
    pub document: Value,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// Who wrote it.
    pub created_by: Option<String>,
}

/// A snapshot to publish.
#[derive(Debug, Clone)]
pub struct NewSnapshot {
    /// The period's label.
    pub period: String,
    /// The version it is to get (the latest + 1; a concurrent publish of the same is a conflict).
    pub version: i64,
    /// The scheme version the numbers were computed with (0: the built-in default).
    pub scheme_version: i64,
    /// SHA-256 of the inputs.
    pub digest: String,
    /// SHA-256 of the numbers as published.
    pub numbers_digest: String,
    /// The instant the period was read at.
    pub as_of: DateTime<Utc>,
    /// The numbers: scorecards per level.
    pub numbers: Value,
    /// The inputs: case id → its last event id.
    pub inputs: Value,
    /// Against the version before: the cases and units that changed.
    pub diff: Option<Value>,
}

/// A published snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// Id.
    pub id: i64,
    /// The period's label.
    pub period: String,
    /// Version within the period, from 1.
    pub version: i64,
    /// The scheme version.
    pub scheme_version: i64,
    /// SHA-256 of the inputs.
    pub digest: String,
    /// SHA-256 of the numbers.
    pub numbers_digest: String,
    /// The instant the period was read at.
    pub as_of: DateTime<Utc>,
    /// When published.
    pub published_at: DateTime<Utc>,
    /// By whom.
    pub published_by: Option<String>,
    /// The numbers.
    pub numbers: Value,
    /// The inputs.
    pub inputs: Value,
    /// The diff against the version before.
    pub diff: Option<Value>,
}

const SNAPSHOT_COLUMNS: &str = "id, period, version, scheme_version, digest, numbers_digest, as_of, published_at, published_by, numbers, inputs, diff";

fn snapshot_from_row<R: Row>(r: &R) -> StoreResult<Snapshot>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    i64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    i32: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    DateTime<Utc>: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    Json<Value>: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(Snapshot {
        id: r.try_get("id")?,
        period: r.try_get("period")?,
        version: i64::from(r.try_get::<i32, _>("version")?),
        scheme_version: i64::from(r.try_get::<i32, _>("scheme_version")?),
        digest: r.try_get("digest")?,
        numbers_digest: r.try_get("numbers_digest")?,
        as_of: r.try_get("as_of")?,
        published_at: r.try_get("published_at")?,
        published_by: r.try_get("published_by")?,
        numbers: r.try_get::<Json<Value>, _>("numbers")?.0,
        inputs: r.try_get::<Json<Value>, _>("inputs")?.0,
        diff: r.try_get::<Option<Json<Value>>, _>("diff")?.map(|j| j.0),
    })
}

fn small(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

impl Store {
    /// The event log after id `after`, plus the ids `also` (earlier ids not seen before), in id
    /// order: each id with its case event, or `None` for an event of something else (only its id
    /// is read) and for `case.linked` on the primary, which carries no state.
    pub async fn log_since(
        &self,
        after: i64,
        also: &[i64],
    ) -> StoreResult<Vec<(i64, Option<CaseEvent>)>> {
        // Integers only: safe to write into the statement, and no bind-parameter limit.
        let also = if also.is_empty() {
            String::new()
        } else {
            let ids: Vec<String> = also.iter().map(i64::to_string).collect();
            format!(" OR id IN ({})", ids.join(","))
        };
        let sql = format!(
            "SELECT id, at, actor_id, actor_name, action, entity_type, entity_id, \
             CASE WHEN entity_type = 'case' THEN detail END AS detail \
             FROM events WHERE id > $1{also} ORDER BY id"
        );
        on_pool!(self, |pool, d| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(after)
                .fetch_all(pool)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let id: i64 = r.try_get("id")?;
                let entity_type: String = r.try_get("entity_type")?;
                if entity_type != "case" {
                    out.push((id, None));
                    continue;
                }
                let Json(mut detail): Json<Value> = r.try_get("detail")?;
                let Some(after) = detail.get_mut("after").map(Value::take) else {
                    out.push((id, None));
                    continue;
                };
                let action: String = r.try_get("action")?;
                let entity: String = r.try_get("entity_id")?;
                let corrupt = |e: serde_json::Error| {
                    StoreError::Corrupt(format!("event {id} of case {entity}: {e}"))
                };
                let after: Case = serde_json::from_value(after).map_err(corrupt)?;
                let before: Option<Case> = detail
                    .get_mut("before")
                    .map(Value::take)
                    .map(serde_json::from_value)
                    .transpose()
                    .map_err(corrupt)?;
                out.push((
                    id,
                    Some(CaseEvent {
                        id,
                        at: r.try_get("at")?,
                        action: action.strip_prefix("case.").unwrap_or(&action).to_owned(),
                        actor_id: r.try_get("actor_id")?,
                        actor_name: r.try_get("actor_name")?,
                        before,
                        after,
                    }),
                ));
            }
            Ok(out)
        })
    }

    /// The latest scheme version, if an admin wrote one.
    pub async fn assessment_scheme(&self) -> StoreResult<Option<SchemeVersion>> {
        on_pool!(self, |pool, d| {
            let row = sqlx::query(
                "SELECT version, document, created_at, created_by FROM assessment_schemes \
                 ORDER BY version DESC LIMIT 1",
            )
            .fetch_optional(pool)
            .await?;
            row.map(|r| {
                Ok(SchemeVersion {
                    version: i64::from(r.try_get::<i32, _>("version")?),
                    document: r.try_get::<Json<Value>, _>("document")?.0,
                    created_at: r.try_get("created_at")?,
                    created_by: r.try_get("created_by")?,
                })
            })
            .transpose()
        })
    }

    /// Writes the next version of the scheme, with its event.
    pub async fn put_assessment_scheme(
        &self,
        document: &Value,
        audit: &Audit,
    ) -> StoreResult<SchemeVersion> {
        let _turn = self.write_turn().await;
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            let last: Option<i32> = sqlx::query("SELECT MAX(version) AS v FROM assessment_schemes")
                .fetch_one(&mut *tx)
                .await?
                .try_get("v")?;
            let version = last.unwrap_or(0) + 1;
            let now = Utc::now();
            sqlx::query(
                "INSERT INTO assessment_schemes (version, document, created_at, created_by) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(version)
            .bind(Json(document))
            .bind(now)
            .bind(audit.actor_name.as_deref())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
            append_event!(
                &mut *tx,
                audit,
                "assessment.scheme",
                "assessment_scheme",
                version.to_string(),
                &serde_json::json!({ "version": version, "after": document })
            )?;
            tx.commit().await?;
            Ok(SchemeVersion {
                version: i64::from(version),
                document: document.clone(),
                created_at: now,
                created_by: audit.actor_name.clone(),
            })
        })
    }

    /// The snapshots of a period, oldest version first.
    pub async fn snapshots_of(&self, period: &str) -> StoreResult<Vec<Snapshot>> {
        on_pool!(self, |pool, d| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {SNAPSHOT_COLUMNS} FROM assessment_snapshots WHERE period = $1 ORDER BY version"
            )))
            .bind(period)
            .fetch_all(pool)
            .await?;
            rows.iter().map(snapshot_from_row).collect()
        })
    }

    /// One snapshot by id.
    pub async fn snapshot(&self, id: i64) -> StoreResult<Option<Snapshot>> {
        on_pool!(self, |pool, d| {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {SNAPSHOT_COLUMNS} FROM assessment_snapshots WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?
            .as_ref()
            .map(snapshot_from_row)
            .transpose()
        })
    }

    /// The snapshot published last, of any period.
    pub async fn latest_snapshot(&self) -> StoreResult<Option<Snapshot>> {
        on_pool!(self, |pool, d| {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {SNAPSHOT_COLUMNS} FROM assessment_snapshots ORDER BY id DESC LIMIT 1"
            )))
            .fetch_optional(pool)
            .await?
            .as_ref()
            .map(snapshot_from_row)
            .transpose()
        })
    }

    /// The latest snapshot's id and the latest scheme version (0: none stored): what the public
    /// board depends on, read without the snapshot's numbers.
    pub async fn board_key(&self) -> StoreResult<(Option<i64>, i64)> {
        on_pool!(self, |pool, d| {
            let row = sqlx::query(
                "SELECT (SELECT MAX(id) FROM assessment_snapshots) AS snapshot, \
                 (SELECT MAX(version) FROM assessment_schemes) AS scheme",
            )
            .fetch_one(pool)
            .await?;
            let snapshot: Option<i64> = row.try_get("snapshot")?;
            let scheme: Option<i64> = match d {
                Dialect::Sqlite => row.try_get("scheme")?,
                Dialect::Postgres => row.try_get::<Option<i32>, _>("scheme")?.map(i64::from),
            };
            Ok((snapshot, scheme.unwrap_or(0)))
        })
    }

    /// Publishes a snapshot, with its event. Another publish of the same version meanwhile is a
    /// `Conflict`.
    pub async fn insert_snapshot(&self, new: &NewSnapshot, audit: &Audit) -> StoreResult<Snapshot> {
        let _turn = self.write_turn().await;
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            let now = Utc::now();
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO assessment_snapshots (period, version, scheme_version, digest, numbers_digest, \
                 as_of, published_at, published_by, numbers, inputs, diff) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (period, version) DO NOTHING RETURNING {SNAPSHOT_COLUMNS}"
            )))
            .bind(&new.period)
            .bind(small(new.version))
            .bind(small(new.scheme_version))
            .bind(&new.digest)
            .bind(&new.numbers_digest)
            .bind(new.as_of)
            .bind(now)
            .bind(audit.actor_name.as_deref())
            .bind(Json(&new.numbers))
            .bind(Json(&new.inputs))
            .bind(new.diff.as_ref().map(Json))
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                return Err(StoreError::Conflict(format!(
                    "version {} of period {} was published meanwhile; publish again",
                    new.version, new.period
                )));
            };
            let snapshot = snapshot_from_row(&row)?;
            append_event!(
                &mut *tx,
                audit,
                "assessment.publish",
                "assessment_snapshot",
                snapshot.id.to_string(),
                &serde_json::json!({
                    "period": &new.period, "version": new.version, "digest": &new.digest,
                    "scheme_version": new.scheme_version, "diff": &new.diff,
                })
            )?;
            tx.commit().await?;
            Ok(snapshot)
        })
    }
}
