//! Cases (案卷): creation with an idempotency key, changes guarded by a version, history in the
//! append-only event log.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use sqlx::types::Json;

use super::{Audit, Store, StoreError, StoreResult, append_event, on_pool};
use crate::domain::case::{RequestKind, Status};
use crate::domain::dispatch::ChainLink;

/// A case to create. The row is inserted in its final intake state (for an inspector's report
/// registered at once, already dispatched), and `follow_up` events are appended after
/// `case.created` in the same transaction.
#[derive(Debug, Clone)]
pub struct NewCase {
    /// The client's key, scoped by the caller (`<scope>:<key>`): a retried submit returns the
    /// first case instead of creating a second.
    pub idempotency_key: String,
    /// Digest of the request: a retry must carry the same, or it is refused as a reused key.
    pub request_digest: String,
    /// The case as it is to be stored (`id`, `version` and `reported_at` are set by the store).
    pub case: CaseRecord,
    /// Events after `case.created`: (action, detail).
    pub follow_up: Vec<(String, serde_json::Value)>,
}

/// One step of a change: the action, its note, the case after it and extra detail for the event.
#[derive(Debug, Clone)]
pub struct CaseStep {
    /// Action name (the event is `case.<action>`).
    pub action: String,
    /// A note for the timeline.
    pub note: Option<String>,
    /// The case after this step.
    pub after: CaseRecord,
    /// More for the event (rule, owner chain …).
    pub extra: serde_json::Value,
}

/// A stored case.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CaseRecord {
    /// Id.
    pub id: i64,
    /// Source channel: inspector, citizen, hotline_12345.
    pub source: String,
    /// Category code.
    pub category: String,
    /// The catalogue version the case was opened under (its rules and time limit).
    pub category_version: i64,
    /// Description.
    pub description: String,
    /// WGS84 longitude.
    pub lon: f64,
    /// WGS84 latitude.
    pub lat: f64,
    /// Input CRS.
    pub input_crs: String,
    /// The number of the case in the channel it came from (a 12345 work-order number).
    pub external_ref: Option<String>,
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
    #[schema(value_type = String)]
    pub status: Status,
    /// The unit it is dispatched to.
    pub unit_code: Option<String>,
    /// The dispatch rule that fired.
    pub dispatch_rule: Option<String>,
    /// The owner chain the dispatch decision was made on.
    #[schema(value_type = Option<Vec<Object>>)]
    pub owner_chain: Option<Vec<ChainLink>>,
    /// A unit answering with the main one (railway land: the street office).
    pub co_owner_unit: Option<String>,
    /// `triage`: waiting in the 创文办 triage queue.
    pub queue: Option<String>,
    /// The triage office of the queue.
    pub triage_unit: Option<String>,
    /// 门前三包 escalation steps taken: 0 none, 1 reminder, 2 warning, 3 enforcement.
    pub escalation: i64,
    /// When the next escalation step is due (while the shop has not fixed it).
    pub escalation_due_at: Option<DateTime<Utc>>,
    /// The enforcement unit the ladder ends at.
    pub enforcement_unit: Option<String>,
    /// Merged into this case as a duplicate.
    pub linked_to: Option<i64>,
    /// Reports merged into this case.
    pub linked_count: i64,
    /// Request waiting for approval.
    #[schema(value_type = Option<String>)]
    pub pending_request: Option<RequestKind>,
    /// Status to resume to when parked.
    #[schema(value_type = Option<String>)]
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
    /// When the current step started.
    pub step_started_at: Option<DateTime<Utc>>,
    /// Deadline of the current step.
    pub step_due_at: Option<DateTime<Utc>>,
    /// Deadline of the whole case, report to close.
    pub due_at: Option<DateTime<Utc>>,
    /// When closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Hash of the follow-up token.
    #[serde(skip)]
    pub follow_token_hash: Option<String>,
}

/// Counts a duplicate on the open case it was merged into and logs `case.linked` there, in the
/// caller's transaction; a case closed meanwhile is a conflict (the retry will not find it).
macro_rules! link_into {
    ($exec:expr, $audit:expr, $primary:expr, $duplicate:expr) => {{
        let bumped = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE cases SET linked_count = linked_count + 1, version = version + 1 \
             WHERE id = $1 AND status NOT IN {NOT_OPEN} RETURNING linked_count"
        )))
        .bind($primary)
        .fetch_optional($exec)
        .await?;
        let Some(bumped) = bumped else {
            return Err(StoreError::Conflict(format!(
                "case {} is not open (or does not exist); a report can only be linked to an open case",
                $primary
            )));
        };
        let count: i32 = bumped.try_get("linked_count")?;
        append_event!(
            $exec,
            $audit,
            "case.linked",
            "case",
            $primary.to_string(),
            &serde_json::json!({ "duplicate": $duplicate, "linked_count": count })
        )?;
    }};
}

impl CaseRecord {
    /// A new report at a WGS84 point, before the store gives it an id: collected, no owner yet,
    /// reported now. Callers set what they know with struct update syntax.
    pub fn draft(source: &str, category: &str, lon: f64, lat: f64) -> Self {
        CaseRecord {
            id: 0,
            source: source.into(),
            category: category.into(),
            category_version: 1,
            description: String::new(),
            lon,
            lat,
            input_crs: "wgs84".into(),
            external_ref: None,
            grid_code: None,
            community_code: None,
            street_code: None,
            district_code: None,
            frontage_code: None,
            status: Status::Collected,
            unit_code: None,
            dispatch_rule: None,
            owner_chain: None,
            co_owner_unit: None,
            queue: None,
            triage_unit: None,
            escalation: 0,
            escalation_due_at: None,
            enforcement_unit: None,
            linked_to: None,
            linked_count: 0,
            pending_request: None,
            parked_from: None,
            rework_count: 0,
            wrong_dispatches: 0,
            reported_by: None,
            reported_at: Utc::now(),
            dispatched_at: None,
            deadline_at: None,
            step_started_at: None,
            step_due_at: None,
            due_at: None,
            closed_at: None,
            version: 0,
            follow_token_hash: None,
        }
    }
}

const COLUMNS: &str = "id, source, category, category_version, description, lon, lat, input_crs, external_ref, \
    grid_code, community_code, street_code, district_code, frontage_code, status, unit_code, dispatch_rule, owner_chain, \
    co_owner_unit, queue, triage_unit, escalation, escalation_due_at, enforcement_unit, linked_to, linked_count, \
    pending_request, parked_from, rework_count, wrong_dispatches, reported_by, reported_at, dispatched_at, deadline_at, \
    step_started_at, step_due_at, due_at, closed_at, version, follow_token_hash";

/// Statuses in which a case is finished or folded into another.
const NOT_OPEN: &str = "('closed', 'voided', 'merged')";

fn case_from_row<R: Row>(r: &R) -> StoreResult<CaseRecord>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    i64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    i32: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    f64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    DateTime<Utc>: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    Json<serde_json::Value>: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let status: String = r.try_get("status")?;
    let pending: Option<String> = r.try_get("pending_request")?;
    let parked: Option<String> = r.try_get("parked_from")?;
    let corrupt = |what: &str, v: &str| StoreError::Corrupt(format!("unknown {what} {v:?}"));
    let chain: Option<Json<serde_json::Value>> = r.try_get("owner_chain")?;
    let small = |c: &str| -> StoreResult<i64> { Ok(i64::from(r.try_get::<i32, _>(c)?)) };
    Ok(CaseRecord {
        id: r.try_get("id")?,
        source: r.try_get("source")?,
        category: r.try_get("category")?,
        category_version: small("category_version")?,
        description: r.try_get("description")?,
        lon: r.try_get("lon")?,
        lat: r.try_get("lat")?,
        input_crs: r.try_get("input_crs")?,
        external_ref: r.try_get("external_ref")?,
        grid_code: r.try_get("grid_code")?,
        community_code: r.try_get("community_code")?,
        street_code: r.try_get("street_code")?,
        district_code: r.try_get("district_code")?,
        frontage_code: r.try_get("frontage_code")?,
        status: Status::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        unit_code: r.try_get("unit_code")?,
        dispatch_rule: r.try_get("dispatch_rule")?,
        owner_chain: chain
            .map(|j| serde_json::from_value(j.0))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("owner chain: {e}")))?,
        co_owner_unit: r.try_get("co_owner_unit")?,
        queue: r.try_get("queue")?,
        triage_unit: r.try_get("triage_unit")?,
        escalation: small("escalation")?,
        escalation_due_at: r.try_get("escalation_due_at")?,
        enforcement_unit: r.try_get("enforcement_unit")?,
        linked_to: r.try_get("linked_to")?,
        linked_count: small("linked_count")?,
        pending_request: pending
            .as_deref()
            .map(|p| RequestKind::parse(p).ok_or_else(|| corrupt("request", p)))
            .transpose()?,
        parked_from: parked
            .as_deref()
            .map(|p| Status::parse(p).ok_or_else(|| corrupt("status", p)))
            .transpose()?,
        rework_count: small("rework_count")?,
        wrong_dispatches: small("wrong_dispatches")?,
        reported_by: r.try_get("reported_by")?,
        reported_at: r.try_get("reported_at")?,
        dispatched_at: r.try_get("dispatched_at")?,
        deadline_at: r.try_get("deadline_at")?,
        step_started_at: r.try_get("step_started_at")?,
        step_due_at: r.try_get("step_due_at")?,
        due_at: r.try_get("due_at")?,
        closed_at: r.try_get("closed_at")?,
        version: small("version")?,
        follow_token_hash: r.try_get("follow_token_hash")?,
    })
}

/// Filter of the case list; every given field must hold.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// Only this status.
    pub status: Option<Status>,
    /// Only this grid.
    pub grid_code: Option<String>,
    /// Only this community.
    pub community_code: Option<String>,
    /// Only this street.
    pub street_code: Option<String>,
    /// Only cases dispatched to this unit (or co-owned by it).
    pub unit_code: Option<String>,
    /// Only this category.
    pub category: Option<String>,
    /// Only this source channel.
    pub source: Option<String>,
    /// Only this queue (`triage`).
    pub queue: Option<String>,
    /// WGS84 bbox [west, south, east, north].
    pub bbox: Option<[f64; 4]>,
    /// Reported at or after.
    pub from: Option<DateTime<Utc>>,
    /// Reported before.
    pub to: Option<DateTime<Utc>>,
    /// Only cases open and past a deadline (handling, step or overall) at this instant.
    pub overdue_at: Option<DateTime<Utc>>,
    /// Only ids below this (paging, newest first).
    pub before_id: Option<i64>,
    /// Page size (1–10000).
    pub limit: i64,
}

/// What to write: (column, value) pairs shared by insert and update.
fn bind_state<'q, DB: sqlx::Database>(
    q: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    c: &'q CaseRecord,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i32: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<DateTime<Utc>>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<Json<&'q Vec<ChainLink>>>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let int = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
    q.bind(c.status.as_str())
        .bind(c.unit_code.as_deref())
        .bind(c.dispatch_rule.as_deref())
        .bind(c.owner_chain.as_ref().map(Json))
        .bind(c.co_owner_unit.as_deref())
        .bind(c.queue.as_deref())
        .bind(c.triage_unit.as_deref())
        .bind(int(c.escalation))
        .bind(c.escalation_due_at)
        .bind(c.enforcement_unit.as_deref())
        .bind(c.linked_to)
        .bind(int(c.linked_count))
        .bind(c.pending_request.map(RequestKind::as_str))
        .bind(c.parked_from.map(Status::as_str))
        .bind(int(c.rework_count))
        .bind(int(c.wrong_dispatches))
        .bind(c.dispatched_at)
        .bind(c.deadline_at)
        .bind(c.step_started_at)
        .bind(c.step_due_at)
        .bind(c.due_at)
        .bind(c.closed_at)
}

/// The mutable columns, in `bind_state` order.
const STATE_COLUMNS: [&str; 22] = [
    "status",
    "unit_code",
    "dispatch_rule",
    "owner_chain",
    "co_owner_unit",
    "queue",
    "triage_unit",
    "escalation",
    "escalation_due_at",
    "enforcement_unit",
    "linked_to",
    "linked_count",
    "pending_request",
    "parked_from",
    "rework_count",
    "wrong_dispatches",
    "dispatched_at",
    "deadline_at",
    "step_started_at",
    "step_due_at",
    "due_at",
    "closed_at",
];

fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Creates a case, or returns the one created earlier with the same idempotency key (then the
    /// flag is false). Concurrent retries race on the unique key; exactly one insert wins. A
    /// report merged as a duplicate (`linked_to`) bumps its case's count in the same transaction.
    pub async fn create_case(
        &self,
        new: &NewCase,
        audit: &Audit,
    ) -> StoreResult<(CaseRecord, bool)> {
        let c = &new.case;
        let n = STATE_COLUMNS.len();
        let sql = format!(
            "INSERT INTO cases (idempotency_key, source, category, category_version, description, lon, lat, input_crs, \
             external_ref, grid_code, community_code, street_code, district_code, frontage_code, reported_by, \
             follow_token_hash, reported_at, request_digest, {}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, {}) \
             ON CONFLICT (idempotency_key) DO NOTHING RETURNING {COLUMNS}",
            STATE_COLUMNS.join(", "),
            placeholders(19, n)
        );
        let _turn = self.write_turn().await;
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            let q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(&new.idempotency_key)
                .bind(&c.source)
                .bind(&c.category)
                .bind(i32::try_from(c.category_version).unwrap_or(1))
                .bind(&c.description)
                .bind(c.lon)
                .bind(c.lat)
                .bind(&c.input_crs)
                .bind(c.external_ref.as_deref())
                .bind(c.grid_code.as_deref())
                .bind(c.community_code.as_deref())
                .bind(c.street_code.as_deref())
                .bind(c.district_code.as_deref())
                .bind(c.frontage_code.as_deref())
                .bind(c.reported_by)
                .bind(c.follow_token_hash.as_deref())
                .bind(c.reported_at)
                .bind(&new.request_digest);
            let row = bind_state(q, c).fetch_optional(&mut *tx).await?;
            let Some(row) = row else {
                tx.rollback().await?;
                let existing = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS}, request_digest FROM cases WHERE idempotency_key = $1"
                )))
                .bind(&new.idempotency_key)
                .fetch_one(pool)
                .await?;
                // Cases from before digests were kept (NULL) accept any retry, as they did.
                let digest: Option<String> = existing.try_get("request_digest")?;
                if digest.is_some_and(|d| d != new.request_digest) {
                    return Err(StoreError::KeyReused(format!(
                        "case {} was created with this idempotency key from a different request",
                        existing.try_get::<i64, _>("id")?
                    )));
                }
                return Ok((case_from_row(&existing)?, false));
            };
            let case = case_from_row(&row)?;
            let id = case.id.to_string();
            append_event!(
                &mut *tx,
                audit,
                "case.created",
                "case",
                id.clone(),
                &serde_json::json!({ "after": &case })
            )?;
            for (action, detail) in &new.follow_up {
                append_event!(
                    &mut *tx,
                    audit,
                    format!("case.{action}"),
                    "case",
                    id.clone(),
                    detail
                )?;
            }
            if let Some(primary) = case.linked_to {
                link_into!(&mut *tx, audit, primary, case.id);
            }
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
    /// appends one event per step (each with its before and after), in one transaction. When the
    /// last step merges the case into another (`linked_to` newly set), that case's count goes up.
    pub async fn update_case(
        &self,
        before: &CaseRecord,
        steps: &[CaseStep],
        audit: &Audit,
    ) -> StoreResult<CaseRecord> {
        let Some(last) = steps.last() else {
            return Ok(before.clone());
        };
        let n = STATE_COLUMNS.len();
        let sets = STATE_COLUMNS
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ${}", i + 1))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "UPDATE cases SET {sets}, version = version + 1 WHERE id = ${} AND version = ${} RETURNING {COLUMNS}",
            n + 1,
            n + 2
        );
        let newly_linked = last.after.linked_to.filter(|_| before.linked_to.is_none());
        let _turn = self.write_turn().await;
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            let row = bind_state(sqlx::query(sqlx::AssertSqlSafe(sql.as_str())), &last.after)
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
            let mut prev = before;
            for step in steps {
                let mut detail = serde_json::json!({
                    "from": prev.status.as_str(), "to": step.after.status.as_str(), "note": &step.note,
                    "before": prev, "after": &step.after,
                });
                if let (Some(d), serde_json::Value::Object(extra)) =
                    (detail.as_object_mut(), &step.extra)
                {
                    d.extend(extra.clone());
                }
                append_event!(
                    &mut *tx,
                    audit,
                    format!("case.{}", step.action),
                    "case",
                    case.id.to_string(),
                    &detail
                )?;
                prev = &step.after;
            }
            if let Some(primary) = newly_linked {
                link_into!(&mut *tx, audit, primary, case.id);
            }
            tx.commit().await?;
            Ok(case)
        })
    }

    /// Cases, newest first.
    pub async fn list_cases(&self, f: &CaseFilter) -> StoreResult<Vec<CaseRecord>> {
        let [w, s, e, n] = f.bbox.map_or([None; 4], |b| b.map(Some));
        on_pool!(self, |pool, d| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM cases WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR grid_code = $2) \
                 AND ($3 IS NULL OR unit_code = $3 OR co_owner_unit = $3) AND ($4 IS NULL OR category = $4) \
                 AND ($5 IS NULL OR id < $5) AND ($6 IS NULL OR community_code = $6) AND ($7 IS NULL OR street_code = $7) \
                 AND ($8 IS NULL OR source = $8) AND ($9 IS NULL OR queue = $9) \
                 AND ($10 IS NULL OR lon >= $10) AND ($11 IS NULL OR lat >= $11) AND ($12 IS NULL OR lon <= $12) \
                 AND ($13 IS NULL OR lat <= $13) AND ($14 IS NULL OR reported_at >= $14) AND ($15 IS NULL OR reported_at < $15) \
                 AND ($16 IS NULL OR (status NOT IN ('closed', 'voided', 'merged', 'parked') AND \
                      (deadline_at < $16 OR step_due_at < $16 OR due_at < $16))) \
                 ORDER BY id DESC LIMIT $17"
            )))
            .bind(f.status.map(Status::as_str))
            .bind(f.grid_code.as_deref())
            .bind(f.unit_code.as_deref())
            .bind(f.category.as_deref())
            .bind(f.before_id)
            .bind(f.community_code.as_deref())
            .bind(f.street_code.as_deref())
            .bind(f.source.as_deref())
            .bind(f.queue.as_deref())
            .bind(w)
            .bind(s)
            .bind(e)
            .bind(n)
            .bind(f.from)
            .bind(f.to)
            .bind(f.overdue_at)
            .bind(f.limit.clamp(1, 10_000))
            .fetch_all(pool)
            .await?;
            rows.iter().map(case_from_row).collect()
        })
    }

    /// Open cases of a category reported since `since` inside a WGS84 box: the candidates for a
    /// duplicate (the caller measures the exact distance). Merged reports are never candidates.
    pub async fn open_cases_near(
        &self,
        category: &str,
        bbox: [f64; 4],
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<CaseRecord>> {
        on_pool!(self, |pool, d| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM cases WHERE category = $1 AND status NOT IN {NOT_OPEN} AND reported_at >= $2 \
                 AND lon >= $3 AND lat >= $4 AND lon <= $5 AND lat <= $6 ORDER BY id LIMIT 200"
            )))
            .bind(category)
            .bind(since)
            .bind(bbox[0])
            .bind(bbox[1])
            .bind(bbox[2])
            .bind(bbox[3])
            .fetch_all(pool)
            .await?;
            rows.iter().map(case_from_row).collect()
        })
    }

    /// Cases whose next 门前三包 escalation step is due at `now`.
    pub async fn escalations_due(&self, now: DateTime<Utc>) -> StoreResult<Vec<CaseRecord>> {
        on_pool!(self, |pool, d| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM cases WHERE escalation_due_at <= $1 AND status IN ('dispatched', 'handling') \
                 AND pending_request IS NULL ORDER BY escalation_due_at LIMIT 500"
            )))
            .bind(now)
            .fetch_all(pool)
            .await?;
            rows.iter().map(case_from_row).collect()
        })
    }

    /// The installation's secret called `name` (32 random bytes, hex), created on first use.
    /// Racing first uses agree: the insert that loses reads the winner's.
    pub async fn service_secret(&self, name: &str) -> StoreResult<String> {
        let mut fresh = [0u8; 32];
        rand::fill(&mut fresh);
        let fresh = hex::encode(fresh);
        on_pool!(self, |pool, d| {
            sqlx::query(
                "INSERT INTO service_secrets (name, secret) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(&fresh)
            .execute(pool)
            .await?;
            let secret: String =
                sqlx::query_scalar("SELECT secret FROM service_secrets WHERE name = $1")
                    .bind(name)
                    .fetch_one(pool)
                    .await?;
            Ok(secret)
        })
    }
}
