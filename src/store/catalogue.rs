//! The versioned category catalogue: every edit is a new row; nothing is overwritten, so a case
//! opened under version 1 keeps version 1's time limit after an admin changes it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::types::Json;

use super::{Audit, Store, StoreResult, bump_revision, on_pool};
use crate::domain::catalogue::Category;

/// One version of one category.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryVersion {
    /// The definition.
    #[serde(flatten)]
    pub category: Category,
    /// Version, from 1.
    pub version: i64,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// Who wrote it.
    pub created_by: Option<String>,
}

/// Writes a new version of a category inside the transaction `$tx`; evaluates to it.
macro_rules! put_category_in {
    ($tx:ident, $category:expr, $audit:expr) => {{
        let (category, audit): (&$crate::domain::catalogue::Category, &$crate::store::Audit) =
            ($category, $audit);
        let last: Option<i32> =
            sqlx::query("SELECT MAX(version) AS v FROM category_versions WHERE code = $1")
                .bind(&category.code)
                .fetch_one(&mut *$tx)
                .await?
                .try_get("v")?;
        let version = last.unwrap_or(0) + 1;
        let now = chrono::Utc::now();
        sqlx::query(
            "INSERT INTO category_versions (code, version, definition, created_at, created_by) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&category.code)
        .bind(version)
        .bind(sqlx::types::Json(category))
        .bind(now)
        .bind(audit.actor_name.as_deref())
        .execute(&mut *$tx)
        .await
        .map_err($crate::store::StoreError::from)?;
        $crate::store::append_event!(
            &mut *$tx,
            audit,
            "category.version",
            "category",
            category.code.clone(),
            &serde_json::json!({ "version": version, "after": category })
        )?;
        $crate::store::bump_revision!(&mut *$tx)?;
        $crate::store::CategoryVersion {
            category: category.clone(),
            version: i64::from(version),
            created_at: now,
            created_by: audit.actor_name.clone(),
        }
    }};
}
pub(crate) use put_category_in;

impl Store {
    /// Writes version 1 of every category that has no version yet (first start, new defaults).
    pub async fn seed_categories(&self, categories: &[Category]) -> StoreResult<usize> {
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            let mut added = 0;
            for c in categories {
                let r = sqlx::query(
                    "INSERT INTO category_versions (code, version, definition, created_at, created_by) \
                     VALUES ($1, 1, $2, $3, 'seed') ON CONFLICT (code, version) DO NOTHING",
                )
                .bind(&c.code)
                .bind(Json(c))
                .bind(Utc::now())
                .execute(&mut *tx)
                .await?;
                added += r.rows_affected() as usize;
            }
            if added > 0 {
                bump_revision!(&mut *tx)?;
            }
            tx.commit().await?;
            Ok(added)
        })
    }

    /// Every version of every category, by code then version.
    pub async fn category_versions(&self) -> StoreResult<Vec<CategoryVersion>> {
        on_pool!(self, |pool, d| {
            let rows = sqlx::query(
                "SELECT code, version, definition, created_at, created_by FROM category_versions ORDER BY code, version",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    let def: Json<Category> = r.try_get("definition")?;
                    Ok(CategoryVersion {
                        category: def.0,
                        version: i64::from(r.try_get::<i32, _>("version")?),
                        created_at: r.try_get("created_at")?,
                        created_by: r.try_get("created_by")?,
                    })
                })
                .collect()
        })
    }

    /// Writes a new version of a category (a new code starts at 1).
    pub async fn put_category(
        &self,
        category: &Category,
        audit: &Audit,
    ) -> StoreResult<CategoryVersion> {
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            let v = put_category_in!(tx, category, audit);
            tx.commit().await?;
            Ok(v)
        })
    }
}
