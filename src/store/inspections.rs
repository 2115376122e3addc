//! 督查 and 测评点位: checklist versions, rounds, visits, findings with their cases, re-inspections
//! and frozen notices (通报). The service (`crate::inspections`) decides; this module only reads
//! and writes, each change in one transaction with its audit event.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{Audit, Store, StoreError, StoreResult, append_event, on_pool};

/// A stored version of the checklists.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChecklistVersion {
    /// 1, 2, … (0 is the built-in document, never stored).
    pub version: i64,
    /// The JSON document.
    pub document: String,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// By whom.
    pub created_by: Option<String>,
}

/// A round to create.
#[derive(Debug, Clone)]
pub struct NewRound {
    /// Title, e.g. 2026年第9期市级督查.
    pub title: String,
    /// `city`, `district`, `undercover` or `volunteers`.
    pub organiser: String,
    /// The day, `YYYY-MM-DD`.
    pub round_date: String,
    /// The checklist version the round marks against.
    pub checklist_version: i64,
    /// Point codes to visit.
    pub points: Vec<String>,
    /// User ids of its inspectors.
    pub inspectors: Vec<i64>,
}

/// A stored round.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredRound {
    /// Id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Organiser.
    pub organiser: String,
    /// The day.
    pub round_date: String,
    /// Checklist version (0: built-in).
    pub checklist_version: i64,
    /// Point codes to visit.
    pub points: Vec<String>,
    /// Inspectors' user ids.
    pub inspectors: Vec<i64>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// By.
    pub created_by: Option<String>,
}

/// A visit as submitted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredVisit {
    /// Round.
    pub round_id: i64,
    /// Point.
    pub point_code: String,
    /// Who.
    pub inspector_id: Option<i64>,
    /// When.
    pub visited_at: DateTime<Utc>,
    /// SHA-256 of the marks: a resubmission must repeat it.
    pub digest: String,
    /// The marks, JSON.
    pub marks: String,
}

/// A finding to record with its visit.
#[derive(Debug, Clone)]
pub struct NewFinding {
    /// Criterion code.
    pub criterion: String,
    /// Case category.
    pub category: String,
    /// What was wrong.
    pub note: String,
    /// Deduction, points.
    pub deduction: f64,
    /// Rectify by.
    pub deadline: DateTime<Utc>,
    /// Its case.
    pub case_id: i64,
}

/// A stored finding with the status of its current case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredFinding {
    /// Id.
    pub id: i64,
    /// Round.
    pub round_id: i64,
    /// Point.
    pub point_code: String,
    /// Criterion code.
    pub criterion: String,
    /// Case category.
    pub category: String,
    /// What was wrong.
    pub note: String,
    /// Deduction, points.
    pub deduction: f64,
    /// Rectify by (the latest deadline after a failed re-inspection).
    pub deadline: DateTime<Utc>,
    /// The current case (the newest after a failed re-inspection).
    pub case_id: i64,
    /// The current case's status.
    pub case_status: String,
    /// The current case's unit (dispatched to).
    pub case_unit: Option<String>,
    /// When a re-inspection passed it.
    pub passed_at: Option<DateTime<Utc>>,
    /// Re-inspections so far.
    pub rechecks: i64,
    /// Found.
    pub created_at: DateTime<Utc>,
}

/// A re-inspection to record.
#[derive(Debug, Clone)]
pub struct NewRecheck {
    /// The finding.
    pub finding_id: i64,
    /// Passed.
    pub pass: bool,
    /// Note.
    pub note: Option<String>,
    /// The (closed) case re-inspected.
    pub case_id: i64,
    /// On failure: the new case and its deadline.
    pub reopened: Option<(i64, DateTime<Utc>)>,
    /// Who.
    pub inspector_id: Option<i64>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A published notice.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredNotice {
    /// Id.
    pub id: i64,
    /// Round.
    pub round_id: i64,
    /// Version within the round, from 1.
    pub version: i64,
    /// The frozen document.
    pub document: serde_json::Value,
    /// Published.
    pub published_at: DateTime<Utc>,
    /// By.
    pub published_by: Option<String>,
}

/// A visit row without its round: point, inspector, when, digest, marks.
type VisitRow = (String, Option<i64>, DateTime<Utc>, String, String);
/// A notice row without its round: id, version, document, when, by whom.
type NoticeRow = (i64, i64, String, DateTime<Utc>, Option<String>);

const ROUND_COLUMNS: &str = "id, title, organiser, round_date, checklist_version, points, inspectors, created_at, created_by";

fn round_from_row<R: Row>(r: &R) -> StoreResult<StoredRound>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> DateTime<Utc>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let id: i64 = r.try_get("id")?;
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("round {id}: {e}"));
    Ok(StoredRound {
        id,
        title: r.try_get("title")?,
        organiser: r.try_get("organiser")?,
        round_date: r.try_get("round_date")?,
        checklist_version: r.try_get("checklist_version")?,
        points: serde_json::from_str(&r.try_get::<String, _>("points")?).map_err(corrupt)?,
        inspectors: serde_json::from_str(&r.try_get::<String, _>("inspectors")?)
            .map_err(corrupt)?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
    })
}

/// How far below the newest event id [`Store::readiness_revision`] counts rows: a transaction
/// that holds an event id while this many later ones commit is beyond it.
pub const RECENT_EVENTS: i64 = 4096;

const FINDING_SELECT: &str = "SELECT f.id, f.round_id, f.point_code, f.criterion, f.category, f.note, \
     f.deduction, f.deadline, f.case_id, c.status AS case_status, c.unit_code AS case_unit, \
     f.passed_at, f.created_at, \
     (SELECT COUNT(*) FROM inspection_rechecks r WHERE r.finding_id = f.id) AS rechecks \
     FROM inspection_findings f JOIN cases c ON c.id = f.case_id";

fn finding_from_row<R: Row>(r: &R) -> StoreResult<StoredFinding>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> f64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> DateTime<Utc>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<DateTime<Utc>>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(StoredFinding {
        id: r.try_get("id")?,
        round_id: r.try_get("round_id")?,
        point_code: r.try_get("point_code")?,
        criterion: r.try_get("criterion")?,
        category: r.try_get("category")?,
        note: r.try_get("note")?,
        deduction: r.try_get("deduction")?,
        deadline: r.try_get("deadline")?,
        case_id: r.try_get("case_id")?,
        case_status: r.try_get("case_status")?,
        case_unit: r.try_get("case_unit")?,
        passed_at: r.try_get("passed_at")?,
        rechecks: r.try_get("rechecks")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    /// The newest stored checklists, if an admin ever stored one.
    pub async fn latest_checklists(&self) -> StoreResult<Option<ChecklistVersion>> {
        self.checklists_where("ORDER BY version DESC LIMIT 1", None)
            .await
    }

    /// One stored version of the checklists.
    pub async fn checklists_version(&self, version: i64) -> StoreResult<Option<ChecklistVersion>> {
        self.checklists_where("WHERE version = $1", Some(version))
            .await
    }

    async fn checklists_where(
        &self,
        clause: &'static str,
        version: Option<i64>,
    ) -> StoreResult<Option<ChecklistVersion>> {
        on_pool!(self, |pool, d| {
            let sql = format!(
                "SELECT version, document, created_at, created_by FROM checklist_versions {clause}"
            );
            let mut q = sqlx::query_as::<_, (i64, String, DateTime<Utc>, Option<String>)>(
                sqlx::AssertSqlSafe(sql),
            );
            if let Some(v) = version {
                q = q.bind(v);
            }
            Ok(q.fetch_optional(pool)
                .await?
                .map(
                    |(version, document, created_at, created_by)| ChecklistVersion {
                        version,
                        document,
                        created_at,
                        created_by,
                    },
                ))
        })
    }

    /// Stores checklists as the next version.
    pub async fn put_checklists(&self, document: &str, audit: &Audit) -> StoreResult<i64> {
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            let before: Option<i64> =
                sqlx::query_scalar("SELECT MAX(version) FROM checklist_versions")
                    .fetch_one(&mut *tx)
                    .await?;
            let version = before.unwrap_or(0) + 1;
            sqlx::query(
                "INSERT INTO checklist_versions (version, document, created_at, created_by) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(version)
            .bind(document)
            .bind(audit.at.unwrap_or_else(Utc::now))
            .bind(audit.actor_name.as_deref())
            .execute(&mut *tx)
            .await?;
            append_event!(
                &mut *tx,
                audit,
                "inspection.checklists_stored",
                "checklists",
                version.to_string(),
                &serde_json::json!({ "before": before, "version": version })
            )?;
            tx.commit().await?;
            Ok(version)
        })
    }

    /// Creates a round.
    pub async fn create_round(&self, r: &NewRound, audit: &Audit) -> StoreResult<StoredRound> {
        let points = serde_json::to_string(&r.points).expect("strings serialise");
        let inspectors = serde_json::to_string(&r.inspectors).expect("ids serialise");
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO inspection_rounds (title, organiser, round_date, checklist_version, \
                 points, inspectors, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 RETURNING {ROUND_COLUMNS}"
            )))
            .bind(&r.title)
            .bind(&r.organiser)
            .bind(&r.round_date)
            .bind(r.checklist_version)
            .bind(&points)
            .bind(&inspectors)
            .bind(audit.at.unwrap_or_else(Utc::now))
            .bind(audit.actor_name.as_deref())
            .fetch_one(&mut *tx)
            .await?;
            let round = round_from_row(&row)?;
            append_event!(
                &mut *tx,
                audit,
                "inspection.round_created",
                "inspection_round",
                round.id.to_string(),
                &serde_json::json!({ "title": r.title, "organiser": r.organiser,
                    "points": r.points.len(), "inspectors": r.inspectors })
            )?;
            tx.commit().await?;
            Ok(round)
        })
    }

    /// One round.
    pub async fn round(&self, id: i64) -> StoreResult<Option<StoredRound>> {
        on_pool!(self, |pool, d| {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {ROUND_COLUMNS} FROM inspection_rounds WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?;
            row.as_ref().map(round_from_row).transpose()
        })
    }

    /// The newest rounds first, at most `limit`.
    pub async fn rounds(&self, limit: i64) -> StoreResult<Vec<StoredRound>> {
        on_pool!(self, |pool, d| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {ROUND_COLUMNS} FROM inspection_rounds ORDER BY id DESC LIMIT $1"
            )))
            .bind(limit)
            .fetch_all(pool)
            .await?;
            rows.iter().map(round_from_row).collect()
        })
    }

    /// The visit of a point in a round, if it was submitted.
    pub async fn visit(&self, round_id: i64, point: &str) -> StoreResult<Option<StoredVisit>> {
        Ok(self.visits(round_id, Some(point)).await?.pop())
    }

    /// Every point visited by any round, with its number of visits.
    pub async fn visited_points(&self) -> StoreResult<Vec<(String, i64)>> {
        on_pool!(self, |pool, d| {
            Ok(sqlx::query_as(
                "SELECT point_code, COUNT(*) FROM inspection_visits GROUP BY point_code",
            )
            .fetch_all(pool)
            .await?)
        })
    }

    /// A cheap revision of everything the points' readiness is computed from: the newest audit
    /// event id, and how many events lie in the last [`RECENT_EVENTS`] ids below it. Every write
    /// that changes a finding's state appends an event in its own transaction (a visit, a
    /// re-inspection, a case step, new checklists), so the revision changes with it. The count
    /// catches PostgreSQL's late commits: a transaction that took a lower id commits after a
    /// higher one was read, leaving the maximum unchanged but adding a row under it.
    pub async fn readiness_revision(&self) -> StoreResult<(i64, i64)> {
        on_pool!(self, |pool, d| {
            let (max,): (Option<i64>,) = sqlx::query_as("SELECT MAX(id) FROM events")
                .fetch_one(pool)
                .await?;
            let max = max.unwrap_or(0);
            let (recent,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM events WHERE id > $1")
                .bind(max - RECENT_EVENTS)
                .fetch_one(pool)
                .await?;
            Ok((max, recent))
        })
    }

    /// The points of a round that were visited.
    pub async fn round_visits(&self, round_id: i64) -> StoreResult<Vec<StoredVisit>> {
        self.visits(round_id, None).await
    }

    /// The visits of a round, of one point or of all, by point code.
    async fn visits(&self, round_id: i64, point: Option<&str>) -> StoreResult<Vec<StoredVisit>> {
        on_pool!(self, |pool, d| {
            let rows: Vec<VisitRow> = sqlx::query_as(
                "SELECT point_code, inspector_id, visited_at, digest, marks FROM inspection_visits \
                 WHERE round_id = $1 AND ($2 IS NULL OR point_code = $2) ORDER BY point_code",
            )
            .bind(round_id)
            .bind(point)
            .fetch_all(pool)
            .await?;
            Ok(rows
                .into_iter()
                .map(
                    |(point_code, inspector_id, visited_at, digest, marks)| StoredVisit {
                        round_id,
                        point_code,
                        inspector_id,
                        visited_at,
                        digest,
                        marks,
                    },
                )
                .collect())
        })
    }

    /// Records a visit and its findings (their cases already exist) in one transaction. A
    /// finding already recorded (a resubmission after a lost answer) is kept as it is. False
    /// when the visit was recorded before.
    pub async fn record_visit(
        &self,
        visit: &StoredVisit,
        findings: &[NewFinding],
        audit: &Audit,
    ) -> StoreResult<bool> {
        let now = audit.at.unwrap_or_else(Utc::now);
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            for f in findings {
                sqlx::query(
                    "INSERT INTO inspection_findings (round_id, point_code, criterion, category, \
                     note, deduction, deadline, case_id, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (round_id, point_code, criterion) DO NOTHING",
                )
                .bind(visit.round_id)
                .bind(&visit.point_code)
                .bind(&f.criterion)
                .bind(&f.category)
                .bind(&f.note)
                .bind(f.deduction)
                .bind(f.deadline)
                .bind(f.case_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            let inserted = sqlx::query(
                "INSERT INTO inspection_visits (round_id, point_code, inspector_id, visited_at, \
                 digest, marks) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (round_id, point_code) DO NOTHING",
            )
            .bind(visit.round_id)
            .bind(&visit.point_code)
            .bind(visit.inspector_id)
            .bind(visit.visited_at)
            .bind(&visit.digest)
            .bind(&visit.marks)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if inserted {
                append_event!(
                    &mut *tx,
                    audit,
                    "inspection.visit_recorded",
                    "inspection_round",
                    visit.round_id.to_string(),
                    &serde_json::json!({ "point": visit.point_code,
                        "findings": findings.iter().map(|f| f.case_id).collect::<Vec<_>>() })
                )?;
            }
            tx.commit().await?;
            Ok(inserted)
        })
    }

    /// Findings of a round (or of every round with `None`), optionally of one point, oldest first.
    pub async fn findings(
        &self,
        round_id: Option<i64>,
        point: Option<&str>,
    ) -> StoreResult<Vec<StoredFinding>> {
        on_pool!(self, |pool, d| {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "{FINDING_SELECT} WHERE ($1 IS NULL OR f.round_id = $1) \
                 AND ($2 IS NULL OR f.point_code = $2) ORDER BY f.id"
            )))
            .bind(round_id)
            .bind(point)
            .fetch_all(pool)
            .await?;
            rows.iter().map(finding_from_row).collect()
        })
    }

    /// One finding.
    pub async fn finding(&self, id: i64) -> StoreResult<Option<StoredFinding>> {
        on_pool!(self, |pool, d| {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "{FINDING_SELECT} WHERE f.id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?;
            row.as_ref().map(finding_from_row).transpose()
        })
    }

    /// Every case an inspection round filed — a finding's first case and each case a failed
    /// 复查 reopened it with — with its criterion's deduction: the 考评's 督查扣分.
    pub async fn inspection_deductions(&self) -> StoreResult<BTreeMap<i64, f64>> {
        on_pool!(self, |pool, d| {
            let rows: Vec<(i64, f64)> = sqlx::query_as(
                "SELECT case_id, deduction FROM inspection_findings \
                 UNION SELECT r.case_id, f.deduction FROM inspection_rechecks r \
                 JOIN inspection_findings f ON f.id = r.finding_id",
            )
            .fetch_all(pool)
            .await?;
            Ok(rows.into_iter().collect())
        })
    }

    /// A finding's latest re-inspection: passed, its note, and the case it opened on failure.
    pub async fn last_recheck(
        &self,
        finding_id: i64,
    ) -> StoreResult<Option<(bool, Option<String>, Option<i64>)>> {
        on_pool!(self, |pool, d| {
            let row: Option<(bool, Option<String>, Option<i64>)> = sqlx::query_as(
                "SELECT pass, note, new_case_id FROM inspection_rechecks \
                 WHERE finding_id = $1 ORDER BY id DESC LIMIT 1",
            )
            .bind(finding_id)
            .fetch_optional(pool)
            .await?;
            Ok(row)
        })
    }

    /// Records a re-inspection of a finding's closed case: passed, or reopened with a new case
    /// and deadline. A second record for the same case (a retry) changes nothing; false then.
    pub async fn record_recheck(&self, r: &NewRecheck, audit: &Audit) -> StoreResult<bool> {
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO inspection_rechecks (finding_id, pass, note, case_id, new_case_id, \
                 inspector_id, at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (finding_id, case_id) DO NOTHING",
            )
            .bind(r.finding_id)
            .bind(r.pass)
            .bind(r.note.as_deref())
            .bind(r.case_id)
            .bind(r.reopened.map(|(id, _)| id))
            .bind(r.inspector_id)
            .bind(r.at)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if inserted {
                match r.reopened {
                    None => {
                        sqlx::query(
                            "UPDATE inspection_findings SET passed_at = $1 WHERE id = $2 AND case_id = $3",
                        )
                        .bind(r.at)
                        .bind(r.finding_id)
                        .bind(r.case_id)
                        .execute(&mut *tx)
                        .await?
                    }
                    Some((case_id, deadline)) => {
                        sqlx::query(
                            "UPDATE inspection_findings SET case_id = $1, deadline = $2 \
                             WHERE id = $3 AND case_id = $4",
                        )
                        .bind(case_id)
                        .bind(deadline)
                        .bind(r.finding_id)
                        .bind(r.case_id)
                        .execute(&mut *tx)
                        .await?
                    }
                };
                append_event!(
                    &mut *tx,
                    audit,
                    "inspection.rechecked",
                    "inspection_finding",
                    r.finding_id.to_string(),
                    &serde_json::json!({ "pass": r.pass, "case_id": r.case_id,
                        "new_case_id": r.reopened.map(|(id, _)| id), "note": r.note })
                )?;
            }
            tx.commit().await?;
            Ok(inserted)
        })
    }

    /// Publishes a round's notice as its next version.
    pub async fn publish_notice(
        &self,
        round_id: i64,
        document: &str,
        audit: &Audit,
    ) -> StoreResult<StoredNotice> {
        let at = audit.at.unwrap_or_else(Utc::now);
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            let before: Option<i64> = sqlx::query_scalar(
                "SELECT MAX(version) FROM inspection_notices WHERE round_id = $1",
            )
            .bind(round_id)
            .fetch_one(&mut *tx)
            .await?;
            let version = before.unwrap_or(0) + 1;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO inspection_notices (round_id, version, document, published_at, \
                 published_by) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(round_id)
            .bind(version)
            .bind(document)
            .bind(at)
            .bind(audit.actor_name.as_deref())
            .fetch_one(&mut *tx)
            .await?;
            append_event!(
                &mut *tx,
                audit,
                "inspection.notice_published",
                "inspection_round",
                round_id.to_string(),
                &serde_json::json!({ "notice": id, "version": version })
            )?;
            tx.commit().await?;
            Ok(StoredNotice {
                id,
                round_id,
                version,
                document: serde_json::from_str(document)
                    .map_err(|e| StoreError::Corrupt(format!("notice document: {e}")))?,
                published_at: at,
                published_by: audit.actor_name.clone(),
            })
        })
    }

    /// A round's notice: one version, or the latest with `None`.
    pub async fn notice(
        &self,
        round_id: i64,
        version: Option<i64>,
    ) -> StoreResult<Option<StoredNotice>> {
        on_pool!(self, |pool, d| {
            let row: Option<NoticeRow> = sqlx::query_as(
                "SELECT id, version, document, published_at, published_by FROM inspection_notices \
                 WHERE round_id = $1 AND ($2 IS NULL OR version = $2) ORDER BY version DESC LIMIT 1",
            )
            .bind(round_id)
            .bind(version)
            .fetch_optional(pool)
            .await?;
            row.map(|(id, version, document, published_at, published_by)| {
                Ok(StoredNotice {
                    id,
                    round_id,
                    version,
                    document: serde_json::from_str(&document).map_err(|e| {
                        StoreError::Corrupt(format!("notice {id} of round {round_id}: {e}"))
                    })?,
                    published_at,
                    published_by,
                })
            })
            .transpose()
        })
    }
}
