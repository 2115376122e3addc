//! Historical problem reports, assigned to their owners at import.

use chrono::{DateTime, Utc};

use super::{Audit, Store, StoreError, StoreResult, append_event, on_pool};

/// One historical report, with the owners the engine assigned it to.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryReport {
    /// The source system's id (unique).
    pub id: String,
    /// When it was reported.
    pub reported_at: DateTime<Utc>,
    /// Category code.
    pub category: String,
    /// Channel (inspector, citizen, hotline_12345, video …).
    pub channel: String,
    /// When it was closed, if it was.
    pub closed_at: Option<DateTime<Utc>>,
    /// WGS84 longitude.
    pub lon: f64,
    /// WGS84 latitude.
    pub lat: f64,
    /// Unit grid, community, street, district codes.
    pub chain: [Option<String>; 4],
    /// Nearest frontage whose strip holds the point.
    pub frontage_code: Option<String>,
    /// Urban village zone.
    pub urban_village: Option<String>,
    /// Distance to the railway, when within the widest corridor.
    pub railway_m: Option<f64>,
    /// Back alley zone.
    pub back_alley: Option<String>,
}

const BATCH: usize = 1000;

impl Store {
    /// Inserts historical reports in one transaction. An id that exists already is a `Conflict`
    /// and nothing is written.
    pub async fn insert_history(
        &self,
        rows: &[HistoryReport],
        source: &str,
        audit: &Audit,
    ) -> StoreResult<u64> {
        let now = Utc::now();
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            for chunk in rows.chunks(BATCH) {
                let mut qb = sqlx::QueryBuilder::new(
                    "INSERT INTO history_reports (id, reported_at, category, channel, closed_at, lon, lat, grid_code, \
                     community_code, street_code, district_code, frontage_code, urban_village, railway_m, back_alley, \
                     source, imported_at) ",
                );
                qb.push_values(chunk, |mut b, r| {
                    b.push_bind(r.id.clone())
                        .push_bind(r.reported_at)
                        .push_bind(r.category.clone())
                        .push_bind(r.channel.clone())
                        .push_bind(r.closed_at)
                        .push_bind(r.lon)
                        .push_bind(r.lat)
                        .push_bind(r.chain[0].clone())
                        .push_bind(r.chain[1].clone())
                        .push_bind(r.chain[2].clone())
                        .push_bind(r.chain[3].clone())
                        .push_bind(r.frontage_code.clone())
                        .push_bind(r.urban_village.clone())
                        .push_bind(r.railway_m)
                        .push_bind(r.back_alley.clone())
                        .push_bind(source.to_owned())
                        .push_bind(now);
                });
                qb.build()
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| match StoreError::from(e) {
                        StoreError::Conflict(m) => StoreError::Conflict(format!(
                            "a report id in the import exists already: {m}"
                        )),
                        other => other,
                    })?;
            }
            let detail = serde_json::json!({ "count": rows.len(), "source": source });
            append_event!(
                &mut *tx,
                audit,
                "history.imported",
                "history",
                source,
                &detail
            )?;
            tx.commit().await?;
            Ok(rows.len() as u64)
        })
    }

    /// Number of historical reports.
    pub async fn count_history(&self) -> StoreResult<i64> {
        on_pool!(self, |pool, d| {
            Ok(
                sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM history_reports")
                    .fetch_one(pool)
                    .await?,
            )
        })
    }

    /// Reports per unit grid, most first (for planners and tests).
    pub async fn history_per_grid(&self, limit: i64) -> StoreResult<Vec<(String, i64)>> {
        on_pool!(self, |pool, d| {
            Ok(sqlx::query_as::<_, (String, i64)>(
                "SELECT grid_code, COUNT(*) AS n FROM history_reports WHERE grid_code IS NOT NULL \
                 GROUP BY grid_code ORDER BY n DESC, grid_code LIMIT $1",
            )
            .bind(limit)
            .fetch_all(pool)
            .await?)
        })
    }
}
