//! Cases (案卷): creation with an idempotency key, changes guarded by a version, history in the
//! append-only event log.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{Audit, Store, StoreError, StoreResult, append_event, on_pool};
use crate::domain::case::{RequestKind, Status};

/// A case to create.
#[derive(Debug, Clone)]
pub struct NewCase {
    /// The client's key: a retried submit returns the first case instead of creating a second.
    pub idempotency_key: String,
    /// inspector, citizen, hotline, video.
    pub source: String,
    /// Category code.
    pub category: String,
    /// What was seen.
    pub description: String,
    /// WGS84 longitude.
    pub lon: f64,
    /// WGS84 latitude.
    pub lat: f64,
    /// The system the point was given in.
    pub input_crs: String,
    /// Grid, community, street, district codes from the engine.
    pub chain: [Option<String>; 4],
    /// The frontage whose strip holds the point.
    pub frontage_code: Option<String>,
    /// Initial status (核实 for public reports, 采集 for an inspector's own).
    pub status: Status,
    /// The reporting user.
    pub reported_by: Option<i64>,
    /// Hash of the reporter's follow-up token.
    pub follow_token_hash: Option<String>,
}

/// A stored case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseRecord {
    /// Id.
    pub id: i64,
    /// Source channel.
    pub source: String,
    /// Category code.
    pub category: String,
    /// Description.
    pub description: String,
    /// WGS84 longitude.
    pub lon: f64,
    /// WGS84 latitude.
    pub lat: f64,
    /// Input CRS.
    pub input_crs: String,
    /// Unit grid.
    pub grid_code: Option<String>,
    /// Community.
    pub community_code: Option<String>,
    /// Street.
    pub street_code: Option<String>,
    /// District.
    pub district_code: Option<String>,
    /// Frontage.
    pub frontage_code: Option<String>,
    /// Status.
    pub status: Status,
    /// The unit it is dispatched to.
    pub unit_code: Option<String>,
    /// Request waiting for approval.
    pub pending_request: Option<RequestKind>,
    /// Status to resume to when parked.
    pub parked_from: Option<Status>,
    /// Failed checks (返工).
    pub rework_count: i64,
    /// Sent back as wrongly dispatched.
    pub wrong_dispatches: i64,
    /// Reporting user.
    pub reported_by: Option<i64>,
    /// When reported.
    pub reported_at: DateTime<Utc>,
    /// When (last) dispatched.
    pub dispatched_at: Option<DateTime<Utc>>,
    /// Deadline of the handling time limit.
    pub deadline_at: Option<DateTime<Utc>>,
    /// When closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Hash of the follow-up token.
    #[serde(skip)]
    pub follow_token_hash: Option<String>,
}

const COLUMNS: &str = "id, source, category, description, lon, lat, input_crs, grid_code, community_code, street_code, \
    district_code, frontage_code, status, unit_code, pending_request, parked_from, rework_count, wrong_dispatches, \
    reported_by, reported_at, dispatched_at, deadline_at, closed_at, version, follow_token_hash";

fn case_from_row<R: Row>(r: &R) -> StoreResult<CaseRecord>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    i64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    i32: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    f64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    DateTime<Utc>: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let status: String = r.try_get("status")?;
    let pending: Option<String> = r.try_get("pending_request")?;
    let parked: Option<String> = r.try_get("parked_from")?;
    let corrupt = |what: &str, v: &str| StoreError::Corrupt(format!("unknown {what} {v:?}"));
    Ok(CaseRecord {
        id: r.try_get("id")?,
        source: r.try_get("source")?,
        category: r.try_get("category")?,
        description: r.try_get("description")?,
        lon: r.try_get("lon")?,
        lat: r.try_get("lat")?,
        input_crs: r.try_get("input_crs")?,
        grid_code: r.try_get("grid_code")?,
        community_code: r.try_get("community_code")?,
        street_code: r.try_get("street_code")?,
        district_code: r.try_get("district_code")?,
        frontage_code: r.try_get("frontage_code")?,
        status: Status::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        unit_code: r.try_get("unit_code")?,
        pending_request: pending
            .as_deref()
            .map(|p| RequestKind::parse(p).ok_or_else(|| corrupt("request", p)))
            .transpose()?,
        parked_from: parked
            .as_deref()
            .map(|p| Status::parse(p).ok_or_else(|| corrupt("status", p)))
            .transpose()?,
        rework_count: i64::from(r.try_get::<i32, _>("rework_count")?),
        wrong_dispatches: i64::from(r.try_get::<i32, _>("wrong_dispatches")?),
        reported_by: r.try_get("reported_by")?,
        reported_at: r.try_get("reported_at")?,
        dispatched_at: r.try_get("dispatched_at")?,
        deadline_at: r.try_get("deadline_at")?,
        closed_at: r.try_get("closed_at")?,
        version: i64::from(r.try_get::<i32, _>("version")?),
        follow_token_hash: r.try_get("follow_token_hash")?,
    })
}

/// Filter of the case list.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// Only this status.
    pub status: Option<Status>,
    /// Only this grid.
    pub grid_code: Option<String>,
    /// Only cases dispatched to this unit.
    pub unit_code: Option<String>,
    /// Only this category.
    pub category: Option<String>,
    /// Only ids below this (paging, newest first).
    pub before_id: Option<i64>,
    /// Page size (1–1000).
    pub limit: i64,
}

impl Store {
    /// Creates a case, or returns the one created earlier with the same idempotency key (then the
    /// flag is false). Concurrent retries race on the unique key; exactly one insert wins.
    pub async fn create_case(
        &self,
        new: &NewCase,
        audit: &Audit,
    ) -> StoreResult<(CaseRecord, bool)> {
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO cases (idempotency_key, source, category, description, lon, lat, input_crs, grid_code, \
                 community_code, street_code, district_code, frontage_code, status, reported_by, follow_token_hash, reported_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
                 ON CONFLICT (idempotency_key) DO NOTHING RETURNING {COLUMNS}"
            )))
            .bind(&new.idempotency_key)
            .bind(&new.source)
            .bind(&new.category)
            .bind(&new.description)
            .bind(new.lon)
            .bind(new.lat)
            .bind(&new.input_crs)
            .bind(new.chain[0].as_deref())
            .bind(new.chain[1].as_deref())
            .bind(new.chain[2].as_deref())
            .bind(new.chain[3].as_deref())
            .bind(new.frontage_code.as_deref())
            .bind(new.status.as_str())
            .bind(new.reported_by)
            .bind(new.follow_token_hash.as_deref())
            .bind(Utc::now())
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                tx.rollback().await?;
                let existing = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM cases WHERE idempotency_key = $1"
                )))
                .bind(&new.idempotency_key)
                .fetch_one(pool)
                .await?;
                return Ok((case_from_row(&existing)?, false));
            };
            let case = case_from_row(&row)?;
            let detail = serde_json::json!({ "after": &case });
            append_event!(
                &mut *tx,
                audit,
                "case.created",
                "case",
                case.id.to_string(),
                &detail
            )?;
            tx.commit().await?;
            Ok((case, true))
        })
    }

    /// One case.
    pub async fn get_case(&self, id: i64) -> StoreResult<Option<CaseRecord>> {
        on_pool!(self, |pool, d| {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM cases WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?;
            row.as_ref().map(case_from_row).transpose()
        })
    }

    /// Writes a changed case if nobody changed it since `before` was read (else `Conflict`), and
    /// appends the event with before and after, in one transaction.
    pub async fn update_case(
        &self,
        before: &CaseRecord,
        after: &CaseRecord,
        action: &str,
        note: Option<&str>,
        audit: &Audit,
    ) -> StoreResult<CaseRecord> {
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE cases SET status = $1, unit_code = $2, pending_request = $3, parked_from = $4, rework_count = $5, \
                 wrong_dispatches = $6, dispatched_at = $7, deadline_at = $8, closed_at = $9, version = version + 1 \
                 WHERE id = $10 AND version = $11 RETURNING {COLUMNS}"
            )))
            .bind(after.status.as_str())
            .bind(after.unit_code.as_deref())
            .bind(after.pending_request.map(RequestKind::as_str))
            .bind(after.parked_from.map(Status::as_str))
            .bind(i32::try_from(after.rework_count).unwrap_or(i32::MAX))
            .bind(i32::try_from(after.wrong_dispatches).unwrap_or(i32::MAX))
            .bind(after.dispatched_at)
            .bind(after.deadline_at)
            .bind(after.closed_at)
            .bind(before.id)
            .bind(i32::try_from(before.version).unwrap_or(i32::MAX))
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                return Err(StoreError::Conflict(format!(
                    "case {} was changed by someone else meanwhile; reload it and try again",
                    before.id
                )));
            };
            let case = case_from_row(&row)?;
            let detail = serde_json::json!({
                "from": before.status.as_str(), "to": case.status.as_str(), "note": note,
                "before": before, "after": &case,
            });
            append_event!(
                &mut *tx,
                audit,
                format!("case.{action}"),
                "case",
                case.id.to_string(),
                &detail
            )?;
            tx.commit().await?;
            Ok(case)
        })
    }

    /// Cases, newest first.
    pub async fn list_cases(&self, f: &CaseFilter) -> StoreResult<Vec<CaseRecord>> {
        on_pool!(self, |pool, d| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM cases WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR grid_code = $2) \
                 AND ($3 IS NULL OR unit_code = $3) AND ($4 IS NULL OR category = $4) AND ($5 IS NULL OR id < $5) \
                 ORDER BY id DESC LIMIT $6"
            )))
            .bind(f.status.map(Status::as_str))
            .bind(f.grid_code.as_deref())
            .bind(f.unit_code.as_deref())
            .bind(f.category.as_deref())
            .bind(f.before_id)
            .bind(f.limit.clamp(1, 1000))
            .fetch_all(pool)
            .await?;
            rows.iter().map(case_from_row).collect()
        })
    }
}
