//! Points for the hot spot analyses: the two-year history (`history_reports`) and the live cases
//! (`cases`), filtered, as WGS84 lon/lat. A duplicate merged into another case (已合并) and a void
//! report (作废, e.g. not found on site) are not problems of their own and are left out.

use chrono::{DateTime, Utc};

use super::{Store, StoreResult, on_pool};
use crate::hotspot::Report;

/// Which rows to read. Every field narrows; `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PointFilter {
    /// Category codes (any of them).
    pub categories: Vec<String>,
    /// Reported at or after.
    pub from: Option<DateTime<Utc>>,
    /// Reported before.
    pub to: Option<DateTime<Utc>>,
    /// `Some(true)` closed only, `Some(false)` open only.
    pub closed: Option<bool>,
    /// Channel / source (inspector, citizen, hotline_12345, video …).
    pub source: Option<String>,
    /// Street code.
    pub street: Option<String>,
    /// Community code.
    pub community: Option<String>,
    /// Unit grid code.
    pub grid: Option<String>,
    /// Read the history table.
    pub history: bool,
    /// Read the cases table.
    pub cases: bool,
}

type Row = (
    String,
    f64,
    f64,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

impl Store {
    /// Filtered points, history first (ids as stored) then cases (ids `C{id}`), each in time
    /// order. Weight 1.
    pub async fn hotspot_points(&self, f: &PointFilter) -> StoreResult<Vec<Report>> {
        // One text for both tables; `$8`/`$9` switch a table off without a second query shape.
        let cats = if f.categories.is_empty() {
            String::new()
        } else {
            // Category codes are bound one by one; only the placeholders are generated.
            let ph: Vec<String> = (0..f.categories.len())
                .map(|i| format!("${}", i + 10))
                .collect();
            format!(" AND category IN ({})", ph.join(", "))
        };
        let cond = |source_col: &str| {
            format!(
                "($1 IS NULL OR reported_at >= $1) AND ($2 IS NULL OR reported_at < $2) \
                 AND ($3 IS NULL OR (closed_at IS NOT NULL) = $3) AND ($4 IS NULL OR {source_col} = $4) \
                 AND ($5 IS NULL OR street_code = $5) AND ($6 IS NULL OR community_code = $6) \
                 AND ($7 IS NULL OR grid_code = $7){cats}"
            )
        };
        let sql = format!(
            "SELECT id, lon, lat, category, channel, reported_at, closed_at FROM history_reports \
             WHERE $8 AND {} \
             UNION ALL \
             SELECT 'C' || CAST(id AS TEXT), lon, lat, category, source, reported_at, closed_at FROM cases \
             WHERE $9 AND status NOT IN ('merged', 'voided') AND {}",
            cond("channel"),
            cond("source")
        );
        on_pool!(self, |pool, d| {
            let mut q = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql))
                .bind(f.from)
                .bind(f.to)
                .bind(f.closed)
                .bind(f.source.as_deref())
                .bind(f.street.as_deref())
                .bind(f.community.as_deref())
                .bind(f.grid.as_deref())
                .bind(f.history)
                .bind(f.cases);
            for c in &f.categories {
                q = q.bind(c.as_str());
            }
            let rows = q.fetch_all(pool).await?;
            Ok(rows
                .into_iter()
                .map(|(id, lon, lat, category, source, at, closed)| Report {
                    id,
                    lon,
                    lat,
                    weight: 1.0,
                    category: Some(category),
                    reported_at: Some(at),
                    closed_at: closed,
                    source: Some(source),
                })
                .collect())
        })
    }

    /// Numbers that change whenever history or cases change: every history import and every
    /// case change appends to the audit log in the same transaction, so the last id of those
    /// events is a revision (logins and other events do not count). History and cases apart, so
    /// that a case change does not make the history be read again.
    pub async fn point_revisions(&self) -> StoreResult<PointRevisions> {
        on_pool!(self, |pool, d| {
            // Two backward scans of the (entity_type, id) index.
            let (history, cases) = sqlx::query_as::<_, (Option<i64>, Option<i64>)>(
                "SELECT (SELECT MAX(id) FROM events WHERE entity_type = 'history'), \
                        (SELECT MAX(id) FROM events WHERE entity_type = 'case')",
            )
            .fetch_one(pool)
            .await?;
            Ok(PointRevisions {
                history: history.unwrap_or(0),
                cases: cases.unwrap_or(0),
            })
        })
    }

    /// One number that changes whenever history or cases change (see
    /// [`Store::point_revisions`]).
    pub async fn points_revision(&self) -> StoreResult<i64> {
        Ok(self.point_revisions().await?.latest())
    }
}

/// The revisions of the stored points: the last audit event of history imports and of cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PointRevisions {
    /// Last history event id (0 without one).
    pub history: i64,
    /// Last case event id (0 without one).
    pub cases: i64,
}

impl PointRevisions {
    /// The later of the two: changes whenever either does.
    pub fn latest(self) -> i64 {
        self.history.max(self.cases)
    }
}
