//! Cases (案卷): creation with an idempotency key, changes guarded by a version, history in the
//! append-only event log.

use chrono::{DateTime, Utc};
use sqlx::Row;

use sqlx::types::Json;

use super::{Audit, Dialect, Store, StoreError, StoreResult, append_event, on_pool};
use crate::domain::case::{Case, RequestKind, Status, clock};
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
    pub case: Case,
    /// Events after `case.created`: (action, detail).
    pub follow_up: Vec<(String, serde_json::Value)>,
    /// The application and private contact of a request that came through Open311.
    pub open311: Option<super::Open311Origin>,
}

/// One step of a change: the action, its note, the case after it and extra detail for the event.
#[derive(Debug, Clone)]
pub struct CaseStep {
    /// Action name (the event is `case.<action>`).
    pub action: String,
    /// A note for the timeline.
    pub note: Option<String>,
    /// The case after this step.
    pub after: Case,
    /// More for the event (rule, owner chain …).
    pub extra: serde_json::Value,
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

const COLUMNS: &str = "id, source, category, category_version, description, lon, lat, input_crs, external_ref, \
    grid_code, community_code, street_code, district_code, frontage_code, status, unit_code, dispatch_rule, owner_chain, \
    co_owner_unit, queue, triage_unit, escalation, escalation_due_at, enforcement_unit, linked_to, linked_count, \
    pending_request, parked_from, rework_count, wrong_dispatches, reported_by, reported_at, dispatched_at, deadline_at, \
    step_started_at, step_due_at, due_at, closed_at, version, follow_token_hash";

/// Statuses in which a case is finished or folded into another.
const NOT_OPEN: &str = "('closed', 'voided', 'merged')";

fn case_from_row<R: Row>(r: &R) -> StoreResult<Case>
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
    Ok(Case {
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
    /// Only cases reported by this user (a volunteer's own list).
    pub reported_by: Option<i64>,
    /// WGS84 bbox [west, south, east, north], edges included.
    pub bbox: Option<[f64; 4]>,
    /// Only cases whose point lies in this WGS84 area (edges included).
    pub polygon: Option<geo::MultiPolygon<f64>>,
    /// Reported at or after.
    pub from: Option<DateTime<Utc>>,
    /// Reported before.
    pub to: Option<DateTime<Utc>>,
    /// Only cases overdue at this instant, as `domain::case::clock::overdue` defines it.
    pub overdue_at: Option<DateTime<Utc>>,
    /// Only ids below this (paging, newest first).
    pub before_id: Option<i64>,
    /// Page size (1–10000).
    pub limit: i64,
}

/// What to write: (column, value) pairs shared by insert and update.
fn bind_state<'q, DB: sqlx::Database>(
    q: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    c: &'q Case,
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
    pub async fn create_case(&self, new: &NewCase, audit: &Audit) -> StoreResult<(Case, bool)> {
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
            if let Some(origin) = &new.open311 {
                super::open311::insert_open311_origin!(&mut *tx, case.id, origin)?;
            }
            tx.commit().await?;
            Ok((case, true))
        })
    }

    /// One case.
    pub async fn get_case(&self, id: i64) -> StoreResult<Option<Case>> {
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

    /// The cases with these ids that exist, in no particular order: a page in one query.
    pub async fn get_cases(&self, ids: &[i64]) -> StoreResult<Vec<Case>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(super::ID_CHUNK) {
            let sql = format!(
                "SELECT {COLUMNS} FROM cases WHERE id IN ({})",
                super::id_list(chunk)
            );
            on_pool!(self, |pool, d| {
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                    .fetch_all(pool)
                    .await?;
                for r in &rows {
                    out.push(case_from_row(r)?);
                }
            });
        }
        Ok(out)
    }

    /// Writes a changed case if nobody changed it since `before` was read (else `Conflict`), and
    /// appends one event per step (each with its before and after), in one transaction. When the
    /// last step merges the case into another (`linked_to` newly set), that case's count goes up.
    pub async fn update_case(
        &self,
        before: &Case,
        steps: &[CaseStep],
        audit: &Audit,
    ) -> StoreResult<Case> {
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

    /// Cases, newest first. The spatial filters use the index of case points: PostGIS's GiST
    /// index on PostgreSQL; on SQLite the `(lon, lat)` index for the box, then the exact
    /// point-in-polygon test here, reading candidates newest first until the page is full.
    pub async fn list_cases(&self, f: &CaseFilter) -> StoreResult<Vec<Case>> {
        let limit = f.limit.clamp(1, 10_000);
        let bbox = match search_box(f) {
            SearchBox::Empty => return Ok(Vec::new()),
            SearchBox::Any => None,
            SearchBox::Within(b) => Some(b),
        };
        on_pool!(self, |pool, d| {
            let exact_here = d == Dialect::Sqlite && f.polygon.is_some();
            let (sql, args) = case_query(f, bbox, d, (!exact_here).then_some(limit));
            let q = bind_args(sqlx::query(sqlx::AssertSqlSafe(sql)), &args);
            let Some(area) = f.polygon.as_ref().filter(|_| exact_here) else {
                let rows = q.fetch_all(pool).await?;
                return rows.iter().map(case_from_row).collect();
            };
            use futures_util::TryStreamExt;
            use geo::Intersects;
            let mut rows = q.fetch(pool);
            let mut out = Vec::new();
            while let Some(row) = rows.try_next().await? {
                let point = geo::Point::new(row.try_get("lon")?, row.try_get("lat")?);
                if area.intersects(&point) {
                    out.push(case_from_row(&row)?);
                    if out.len() as i64 == limit {
                        break;
                    }
                }
            }
            Ok(out)
        })
    }

    /// Open cases of a category reported since `since` inside a WGS84 box: the candidates for a
    /// duplicate (the caller measures the exact distance). Merged reports are never candidates.
    pub async fn open_cases_near(
        &self,
        category: &str,
        bbox: [f64; 4],
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<Case>> {
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
    pub async fn escalations_due(&self, now: DateTime<Utc>) -> StoreResult<Vec<Case>> {
        on_pool!(self, |pool, d| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM cases WHERE escalation_due_at <= $1 AND status IN {} \
                 AND pending_request IS NULL ORDER BY escalation_due_at LIMIT 500",
                sql_statuses(&clock::HANDLING)
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
        self.claim_service_value(name, &hex::encode(fresh)).await
    }

    /// Stores `value` under `name` unless a value is stored already, and returns the stored one:
    /// `value` itself exactly when this call was the first.
    pub async fn claim_service_value(&self, name: &str, fresh: &str) -> StoreResult<String> {
        on_pool!(self, |pool, d| {
            sqlx::query(
                "INSERT INTO service_secrets (name, secret) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(fresh)
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

/// Statuses as an SQL list, `('a', 'b')` (fixed names, never client text).
fn sql_statuses(statuses: &[Status]) -> String {
    let names: Vec<String> = statuses
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    format!("({})", names.join(", "))
}

/// The box a list query searches: the given box, narrowed to the polygon's.
#[derive(Debug, Clone, Copy, PartialEq)]
enum SearchBox {
    /// No spatial filter.
    Any,
    /// Only points in this box, edges included.
    Within([f64; 4]),
    /// The filters exclude every point (boxes that do not meet, an empty polygon).
    Empty,
}

fn search_box(f: &CaseFilter) -> SearchBox {
    use geo::BoundingRect;
    let from_polygon = match &f.polygon {
        Some(area) => match area.bounding_rect() {
            Some(r) => Some([r.min().x, r.min().y, r.max().x, r.max().y]),
            None => return SearchBox::Empty,
        },
        None => None,
    };
    let b = match (f.bbox, from_polygon) {
        (None, None) => return SearchBox::Any,
        (Some(b), None) | (None, Some(b)) => b,
        (Some(a), Some(b)) => [
            a[0].max(b[0]),
            a[1].max(b[1]),
            a[2].min(b[2]),
            a[3].min(b[3]),
        ],
    };
    if b[0] > b[2] || b[1] > b[3] {
        SearchBox::Empty
    } else {
        SearchBox::Within(b)
    }
}

/// A value bound to a list query.
#[derive(Debug, Clone, PartialEq)]
enum Arg<'a> {
    Text(&'a str),
    Int(i64),
    Real(f64),
    Time(DateTime<Utc>),
    Blob(Vec<u8>),
}

/// The list query for a filter: only the filters given become conditions, so that each can
/// use its index (a `$n IS NULL OR …` condition hides the index from the planner). `limit`
/// None: every match, for a caller that reads until it has enough.
fn case_query<'a>(
    f: &'a CaseFilter,
    bbox: Option<[f64; 4]>,
    d: Dialect,
    limit: Option<i64>,
) -> (String, Vec<Arg<'a>>) {
    let mut args: Vec<Arg<'a>> = Vec::new();
    let mut param = |a: Arg<'a>| {
        args.push(a);
        format!("${}", args.len())
    };
    let mut conds: Vec<String> = Vec::new();
    let equal = [
        ("status", f.status.map(Status::as_str)),
        ("grid_code", f.grid_code.as_deref()),
        ("community_code", f.community_code.as_deref()),
        ("street_code", f.street_code.as_deref()),
        ("category", f.category.as_deref()),
        ("source", f.source.as_deref()),
        ("queue", f.queue.as_deref()),
    ];
    for (column, value) in equal {
        if let Some(v) = value {
            conds.push(format!("{column} = {}", param(Arg::Text(v))));
        }
    }
    if let Some(u) = f.unit_code.as_deref() {
        let p = param(Arg::Text(u));
        conds.push(format!("(unit_code = {p} OR co_owner_unit = {p})"));
    }
    if let Some(user) = f.reported_by {
        conds.push(format!("reported_by = {}", param(Arg::Int(user))));
    }
    if let Some(id) = f.before_id {
        conds.push(format!("id < {}", param(Arg::Int(id))));
    }
    if let Some(t) = f.from {
        conds.push(format!("reported_at >= {}", param(Arg::Time(t))));
    }
    if let Some(t) = f.to {
        conds.push(format!("reported_at < {}", param(Arg::Time(t))));
    }
    if let Some(t) = f.overdue_at {
        // `domain::case::clock::overdue`, in SQL.
        let p = param(Arg::Time(t));
        conds.push(format!(
            "status IN {} AND (step_due_at < {p} OR due_at < {p} OR (status IN {} AND deadline_at < {p}))",
            sql_statuses(&clock::RUNNING),
            sql_statuses(&clock::HANDLING)
        ));
    }
    if let Some([w, s, e, n]) = bbox {
        let [w, s, e, n] = [w, s, e, n].map(|x| param(Arg::Real(x)));
        if d == Dialect::Postgres {
            // The GiST index finds the candidates; the exact comparisons below keep the edges
            // exactly where they were (the index's boxes are rounded outward to float4).
            conds.push(format!("geom && ST_MakeEnvelope({w}, {s}, {e}, {n}, 4326)"));
        }
        conds.push(format!(
            "lon >= {w} AND lon <= {e} AND lat >= {s} AND lat <= {n}"
        ));
    }
    if d == Dialect::Postgres
        && let Some(area) = &f.polygon
        && let Ok(wkb) = super::encode_wkb(&geo::Geometry::MultiPolygon(area.clone()))
    {
        conds.push(format!(
            "ST_Intersects(geom, ST_GeomFromWKB({}, 4326))",
            param(Arg::Blob(wkb))
        ));
    }
    let mut sql = format!("SELECT {COLUMNS} FROM cases");
    if !conds.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conds.join(" AND "));
    }
    sql.push_str(" ORDER BY id DESC");
    if let Some(n) = limit {
        sql.push_str(&format!(" LIMIT {}", param(Arg::Int(n))));
    }
    (sql, args)
}

fn bind_args<'q, DB: sqlx::Database>(
    mut q: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    args: &'q [Arg<'q>],
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    f64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q [u8]: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    for a in args {
        q = match a {
            Arg::Text(t) => q.bind(*t),
            Arg::Int(i) => q.bind(*i),
            Arg::Real(x) => q.bind(*x),
            Arg::Time(t) => q.bind(*t),
            Arg::Blob(b) => q.bind(b.as_slice()),
        };
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(w: f64, s: f64, e: f64, n: f64) -> geo::MultiPolygon<f64> {
        geo::MultiPolygon(vec![geo::Polygon::new(
            geo::LineString::from(vec![(w, s), (e, s), (e, n), (w, n), (w, s)]),
            vec![],
        )])
    }

    #[test]
    fn the_search_box_is_the_bbox_narrowed_to_the_polygon_and_empty_when_they_do_not_meet() {
        let mut f = CaseFilter::default();
        assert_eq!(search_box(&f), SearchBox::Any);
        f.bbox = Some([0.0, 0.0, 2.0, 2.0]);
        assert_eq!(search_box(&f), SearchBox::Within([0.0, 0.0, 2.0, 2.0]));
        f.polygon = Some(square(1.0, 1.0, 3.0, 3.0));
        assert_eq!(search_box(&f), SearchBox::Within([1.0, 1.0, 2.0, 2.0]));
        f.polygon = Some(square(5.0, 5.0, 6.0, 6.0));
        assert_eq!(search_box(&f), SearchBox::Empty);
        f.polygon = Some(geo::MultiPolygon(vec![]));
        assert_eq!(search_box(&f), SearchBox::Empty);
    }

    #[test]
    fn only_the_filters_given_become_conditions_each_with_its_own_parameter() {
        let f = CaseFilter {
            unit_code: Some("dept-1".into()),
            before_id: Some(9),
            limit: 5,
            ..Default::default()
        };
        let (sql, args) = case_query(&f, None, Dialect::Sqlite, Some(5));
        assert!(
            sql.ends_with(
                "WHERE (unit_code = $1 OR co_owner_unit = $1) AND id < $2 ORDER BY id DESC LIMIT $3"
            ),
            "{sql}"
        );
        assert_eq!(args, [Arg::Text("dept-1"), Arg::Int(9), Arg::Int(5)]);
        let (sql, _) = case_query(&CaseFilter::default(), None, Dialect::Sqlite, None);
        assert!(sql.ends_with("FROM cases ORDER BY id DESC"), "{sql}");
    }

    #[test]
    fn postgres_finds_spatial_candidates_through_the_gist_index_and_sqlite_through_lon_lat() {
        let f = CaseFilter {
            polygon: Some(square(1.0, 1.0, 3.0, 3.0)),
            ..Default::default()
        };
        let b = Some([1.0, 1.0, 3.0, 3.0]);
        let (pg, args) = case_query(&f, b, Dialect::Postgres, Some(10));
        assert!(
            pg.contains("geom && ST_MakeEnvelope($1, $2, $3, $4, 4326)"),
            "{pg}"
        );
        assert!(
            pg.contains("lon >= $1 AND lon <= $3 AND lat >= $2 AND lat <= $4"),
            "{pg}"
        );
        assert!(
            pg.contains("ST_Intersects(geom, ST_GeomFromWKB($5, 4326))"),
            "{pg}"
        );
        assert_eq!(args.len(), 6);
        let (lite, _) = case_query(&f, b, Dialect::Sqlite, None);
        assert!(!lite.contains("geom"), "{lite}");
        assert!(lite.contains("lon >= $1 AND lon <= $3"), "{lite}");
    }
}
