//! Versions of the dispatch rule table (派遣规则) loaded at run time; the highest is in force.
//! Each load is audited with the version it replaced.

use chrono::{DateTime, Utc};

use super::{Audit, Store, StoreError, StoreResult, on_pool};
use crate::domain::dispatch::RuleTable;

/// A stored version of the rule table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredRules {
    /// 1, 2, … in the order of loading.
    pub version: i64,
    /// The table.
    pub table: RuleTable,
    /// When it was loaded.
    pub loaded_at: DateTime<Utc>,
    /// Who loaded it.
    pub loaded_by: Option<String>,
}

/// Stores `$table` as the next version inside the transaction `$tx`, with a
/// `dispatch.rules_loaded` event naming the version before and after; yields the new version.
macro_rules! put_dispatch_rules_in {
    ($tx:ident, $table:expr, $audit:expr) => {{
        let (table, audit): (&$crate::domain::dispatch::RuleTable, &$crate::store::Audit) =
            ($table, $audit);
        let body = serde_json::to_string(table)
            .map_err(|e| $crate::store::StoreError::Corrupt(e.to_string()))?;
        let before: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM dispatch_rule_versions")
                .fetch_one(&mut *$tx)
                .await?;
        let version = before.unwrap_or(0) + 1;
        sqlx::query(
            "INSERT INTO dispatch_rule_versions (version, source, body, loaded_at, loaded_by) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(version)
        .bind(table.source.as_deref())
        .bind(&body)
        .bind(chrono::Utc::now())
        .bind(audit.actor_name.as_deref())
        .execute(&mut *$tx)
        .await?;
        let detail = serde_json::json!({
            "before": before,
            "version": version,
            "rules": table.rules.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        });
        $crate::store::append_event!(
            &mut *$tx,
            audit,
            "dispatch.rules_loaded",
            "dispatch_rules",
            version.to_string(),
            &detail
        )?;
        version
    }};
}
pub(crate) use put_dispatch_rules_in;

impl Store {
    /// Stores a rule table as the next version; the service that stored it puts it in force at
    /// once, other replicas on PostgreSQL on the change notice it sends.
    pub async fn put_dispatch_rules(&self, table: &RuleTable, audit: &Audit) -> StoreResult<i64> {
        on_pool!(self, |pool, d| {
            let mut tx = pool.begin().await?;
            let version = put_dispatch_rules_in!(tx, table, audit);
            tx.commit().await?;
            Ok(version)
        })
    }

    /// The rule table in force, if an admin or a city package ever stored one.
    pub async fn dispatch_rules(&self) -> StoreResult<Option<StoredRules>> {
        on_pool!(self, |pool, d| {
            let row: Option<(i64, String, DateTime<Utc>, Option<String>)> = sqlx::query_as(
                "SELECT version, body, loaded_at, loaded_by FROM dispatch_rule_versions \
                 ORDER BY version DESC LIMIT 1",
            )
            .fetch_optional(pool)
            .await?;
            row.map(|(version, body, loaded_at, loaded_by)| {
                Ok(StoredRules {
                    version,
                    table: RuleTable::from_json(&body).map_err(|e| {
                        StoreError::Corrupt(format!("dispatch rules v{version}: {e}"))
                    })?,
                    loaded_at,
                    loaded_by,
                })
            })
            .transpose()
        })
    }
}
