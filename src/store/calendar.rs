//! Years of the national holiday table loaded at run time; each load is audited with the year it
//! replaced.

use super::{Audit, Store, StoreError, StoreResult, on_pool};
use crate::domain::calendar::YearTable;

/// Stores one year of the holiday table inside the transaction `$tx` (`$body`: the table as JSON).
macro_rules! put_calendar_year_in {
    ($tx:ident, $table:expr, $body:expr, $audit:expr) => {{
        let (table, body, audit): (&$crate::domain::calendar::YearTable, &str, &$crate::store::Audit) =
            ($table, $body, $audit);
        let before: Option<String> =
            sqlx::query_scalar("SELECT body FROM calendar_years WHERE year = $1")
                .bind(table.year)
                .fetch_optional(&mut *$tx)
                .await?;
        sqlx::query(
            "INSERT INTO calendar_years (year, region, source, body, loaded_at, loaded_by) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (year) DO UPDATE SET region = excluded.region, source = excluded.source, \
             body = excluded.body, loaded_at = excluded.loaded_at, loaded_by = excluded.loaded_by",
        )
        .bind(table.year)
        .bind(&table.region)
        .bind(&table.source)
        .bind(body)
        .bind(chrono::Utc::now())
        .bind(audit.actor_name.as_deref())
        .execute(&mut *$tx)
        .await?;
        let before: Option<serde_json::Value> = before.and_then(|b| serde_json::from_str(&b).ok());
        let detail = serde_json::json!({ "before": before, "after": table });
        $crate::store::append_event!(
            &mut *$tx,
            audit,
            "calendar.year_loaded",
            "calendar_year",
            table.year.to_string(),
            &detail
        )?;
    }};
}
pub(crate) use put_calendar_year_in;

impl Store {
    /// Stores one year of the holiday table, replacing a stored one, with a `calendar.year_loaded`
    /// event holding the table before and after.
    pub async fn put_calendar_year(&self, table: &YearTable, audit: &Audit) -> StoreResult<()> {
        let body = serde_json::to_string(table).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            put_calendar_year_in!(tx, table, &body, audit);
            tx.commit().await?;
            Ok(())
        })
    }

    /// Every stored year of the holiday table, by year.
    pub async fn calendar_years(&self) -> StoreResult<Vec<YearTable>> {
        on_pool!(self, |pool, d| {
            let bodies: Vec<String> =
                sqlx::query_scalar("SELECT body FROM calendar_years ORDER BY year")
                    .fetch_all(pool)
                    .await?;
            bodies
                .iter()
                .map(|b| YearTable::parse(b).map_err(|e| StoreError::Corrupt(e.to_string())))
                .collect()
        })
    }
}
