//! Responsible units.

use std::str::FromStr;

use sqlx::Row;

use super::{Audit, Store, StoreError, StoreResult, on_pool};
use crate::domain::unit::{ResponsibleUnit, UnitKind};

/// Upserts units inside the transaction `$tx`; evaluates to the rows written.
macro_rules! upsert_units_in {
    ($tx:ident, $units:expr, $audit:expr) => {{
        let (units, audit): (&[$crate::domain::unit::ResponsibleUnit], &$crate::store::Audit) =
            ($units, $audit);
        let now = chrono::Utc::now();
        let mut written = 0;
        for chunk in units.chunks(1000) {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO responsible_units (code, name, kind, parent_code, created_at) ",
            );
            qb.push_values(chunk, |mut b, u| {
                b.push_bind(&u.code)
                    .push_bind(&u.name)
                    .push_bind(u.kind.as_str())
                    .push_bind(u.parent_code.as_deref())
                    .push_bind(now);
            });
            qb.push(
                " ON CONFLICT (code) DO UPDATE SET name = excluded.name, kind = excluded.kind, \
                 parent_code = excluded.parent_code",
            );
            written += qb.build().execute(&mut *$tx).await?.rows_affected();
        }
        let detail = serde_json::json!({ "count": units.len() });
        $crate::store::append_event!(&mut *$tx, audit, "units.upserted", "unit", "*", &detail)?;
        $crate::store::bump_revision!(&mut *$tx)?;
        written
    }};
}
pub(crate) use upsert_units_in;

impl Store {
    /// Inserts or updates units (by code). Returns how many were written.
    pub async fn upsert_units(&self, units: &[ResponsibleUnit], audit: &Audit) -> StoreResult<u64> {
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            let written = upsert_units_in!(tx, units, audit);
            tx.commit().await?;
            Ok(written)
        })
    }

    /// Lists units, optionally of one kind, ordered by code.
    pub async fn list_units(
        &self,
        kind: Option<UnitKind>,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<ResponsibleUnit>> {
        on_pool!(self, |pool, d| {
            let rows = sqlx::query(
                "SELECT code, name, kind, parent_code FROM responsible_units \
                 WHERE ($1 IS NULL OR kind = $1) ORDER BY code LIMIT $2 OFFSET $3",
            )
            .bind(kind.map(UnitKind::as_str))
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
            rows.iter().map(unit_from_row).collect()
        })
    }

    /// The names of the units among `codes` (unknown codes are left out).
    pub async fn unit_names(
        &self,
        codes: &std::collections::BTreeSet<String>,
    ) -> StoreResult<std::collections::HashMap<String, String>> {
        let mut out = std::collections::HashMap::with_capacity(codes.len());
        let codes: Vec<&String> = codes.iter().collect();
        // Bound parameters, a thousand at a time: well under both databases' limits.
        for chunk in codes.chunks(1000) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT code, name FROM responsible_units WHERE code IN ({})",
                marks.join(",")
            );
            on_pool!(self, |pool, d| {
                let mut q =
                    sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql.as_str()));
                for c in chunk {
                    q = q.bind(*c);
                }
                out.extend(q.fetch_all(pool).await?);
            });
        }
        Ok(out)
    }

    /// The code of every unit: what a `unit_code` or a rule table may name.
    pub async fn unit_codes(&self) -> StoreResult<std::collections::BTreeSet<String>> {
        on_pool!(self, |pool, d| {
            let codes: Vec<String> = sqlx::query_scalar("SELECT code FROM responsible_units")
                .fetch_all(pool)
                .await?;
            Ok(codes.into_iter().collect())
        })
    }

    /// One unit by code.
    pub async fn get_unit(&self, code: &str) -> StoreResult<Option<ResponsibleUnit>> {
        on_pool!(self, |pool, d| {
            let row = sqlx::query(
                "SELECT code, name, kind, parent_code FROM responsible_units WHERE code = $1",
            )
            .bind(code)
            .fetch_optional(pool)
            .await?;
            row.as_ref().map(unit_from_row).transpose()
        })
    }
}

fn unit_from_row<R: Row>(r: &R) -> StoreResult<ResponsibleUnit>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let kind: String = r.try_get("kind")?;
    Ok(ResponsibleUnit {
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        kind: UnitKind::from_str(&kind).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        parent_code: r.try_get("parent_code")?,
    })
}
